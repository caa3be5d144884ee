/* A WebSocket route's metrics on each reactor, and the pub/sub layer's counts in the
 * reactor's stats: the WebSocket layer's own part of the metrics (core stats.h has the
 * reactor-wide part and the increment that readers may read without a lock). */
#ifndef WR_LIB_WS_STATS_H
#define WR_LIB_WS_STATS_H

#include "stats.h"

/* One route on one reactor. Aligned so that two reactors never write one cache line. */
typedef struct wr_route_stats {
	uint64_t msgs_in[WR_STATS_MSG_TYPES], bytes_in[WR_STATS_MSG_TYPES];
	uint64_t msgs_out[WR_STATS_MSG_TYPES], bytes_out[WR_STATS_MSG_TYPES];
	uint64_t closes[WR_STATS_CLOSE_SLOTS];
	uint64_t opens, cutoffs;
	wr_hist *handler, *receive;            /* small shape, ns */
	wr_sampler sample;                     /* messages timed */
} __attribute__((aligned(64))) wr_route_stats;

/* The message type of an opcode (data or control). */
static inline unsigned wr__stats_type(unsigned opcode)
{
	switch (opcode) {
	case 0x1: return WR_STATS_TEXT;
	case 0x2: return WR_STATS_BINARY;
	case 0x8: return WR_STATS_CLOSE;
	case 0x9: return WR_STATS_PING;
	default: return WR_STATS_PONG;
	}
}

/* n messages (0 for a piece that does not end one) of opcode op, with len payload bytes, into
 * one direction's arrays (msgs_in/bytes_in or msgs_out/bytes_out). */
static inline void wr__stats_count(uint64_t *msgs, uint64_t *bytes, unsigned op, unsigned n,
                                   size_t len)
{
	unsigned t = wr__stats_type(op);
	WR_STAT_ADD(msgs[t], n);
	WR_STAT_ADD(bytes[t], len);
}

/* Route stats for each of `reactors`, with their histograms (wr__route_stats_free); one
 * message in sample_every (>= 1) timed. NULL on -ENOMEM. */
wr_route_stats *wr__route_stats_new(unsigned reactors, unsigned sample_every);
void wr__route_stats_free(wr_route_stats *rs, unsigned reactors);

/* The pub/sub layer's counter slots in the reactor's stats (core stats.h), and its hook:
 * messages dropped for a slow subscriber, and messages replaced by a newer one before they
 * went out (conflated), on the reactor whose stats st are (NULL: metrics off). Exported as
 * wring_pubsub_drops_total and wring_pubsub_conflations_total. */
enum { WR_WS_COUNT_PUBSUB_DROPS = 2, WR_WS_COUNT_PUBSUB_CONFLATIONS = 3 };

static inline void wr__stats_pubsub(wr_reactor_stats *st, uint64_t drops, uint64_t conflations)
{
	if (st) {
		WR_STAT_ADD(st->counter[WR_WS_COUNT_PUBSUB_DROPS], drops);
		WR_STAT_ADD(st->counter[WR_WS_COUNT_PUBSUB_CONFLATIONS], conflations);
	}
}

#endif
