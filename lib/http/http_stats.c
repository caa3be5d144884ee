/* Allocation of an HTTP route's per-reactor stats (http_stats.h). */
#include <stdlib.h>
#include <string.h>

#include "http_stats.h"

wr_http_route_stats *wr__http_route_stats_new(unsigned reactors, unsigned sample_every)
{
	wr_http_route_stats *rs = aligned_alloc(64, sizeof(*rs) * reactors);
	if (!rs)
		return NULL;
	memset(rs, 0, sizeof(*rs) * reactors);
	for (unsigned i = 0; i < reactors; i++) {
		rs[i].handler = wr__stats_small_hist();
		wr__sampler_init(&rs[i].sample, sample_every, 0xbf58476d1ce4e5b9ull * (i + 1));
		if (!rs[i].handler) {
			wr__http_route_stats_free(rs, reactors);
			return NULL;
		}
	}
	return rs;
}

void wr__http_route_stats_free(wr_http_route_stats *rs, unsigned reactors)
{
	if (!rs)
		return;
	for (unsigned i = 0; i < reactors; i++)
		free(rs[i].handler);
	free(rs);
}
