/* An HTTP route's metrics on each reactor (or those of the requests no route took): the
 * HTTP layer's own part of the metrics (core stats.h has the reactor-wide part). */
#ifndef WR_LIB_HTTP_STATS_H
#define WR_LIB_HTTP_STATS_H

#include "stats.h"

/* One HTTP route (or the requests that matched none) on one reactor, aligned as above. */
typedef struct wr_http_route_stats {
	uint64_t requests;
	uint64_t responses[5];                 /* by status class, 1xx..5xx */
	wr_hist *handler;                      /* small shape, ns */
	wr_sampler sample;                     /* requests timed */
} __attribute__((aligned(64))) wr_http_route_stats;

/* HTTP route stats for each of `reactors`, as wr__route_stats_new. */
wr_http_route_stats *wr__http_route_stats_new(unsigned reactors, unsigned sample_every);
void wr__http_route_stats_free(wr_http_route_stats *rs, unsigned reactors);

/* A response of this status went out on route stats st (NULL: metrics off). */
static inline void wr__stats_http_status(wr_http_route_stats *st, int status)
{
	if (st && status >= 100 && status <= 599)
		WR_STAT_ADD(st->responses[status / 100 - 1], 1);
}

#endif
