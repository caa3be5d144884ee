/* The reactor's metrics: counters and gauges its thread keeps with plain increments, and that
 * any thread may read (wr_server_stats sums them over the reactors) without a lock. The
 * writer's increment is a relaxed atomic store of what it read plainly (on x86-64 and
 * aarch64 the same load, add and store as `x++`), the readers' a relaxed atomic load: no
 * lock, no read-modify-write, and no data race.
 *
 * A reactor made with metrics off has no stats (r->stats NULL): every site checks that one
 * pointer. Per-route figures are the protocols' own (ws_stats.h, http_stats.h): they live
 * with the route, one per reactor, each on its own cache lines.
 *
 * The core knows no protocol, and neither do its counters: a layer above that counts per
 * reactor (a kind of handshake, a message dropped) takes slots of `counter`, named in its
 * own header; the server's metrics, which see every layer, map the slots to exported names
 * and check that no two layers took the same one. refused and parse_errors are indexed by
 * the public kinds (wring/stats.h). */
#ifndef WR_LIB_STATS_H
#define WR_LIB_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "wring/stats.h"
#include "hist.h"

#define WR_STAT_ADD(lv, n) __atomic_store_n(&(lv), (lv) + (n), __ATOMIC_RELAXED)
#define WR_STAT_SET(lv, v) __atomic_store_n(&(lv), (v), __ATOMIC_RELAXED)
#define WR_STAT_LOAD(lv) __atomic_load_n(&(lv), __ATOMIC_RELAXED)

/* Counter slots for the layers above (wr_reactor_stats.counter). */
#define WR_STATS_COUNTERS 8u

/* Sampling, a thread's own: events until the next one measured, drawn uniformly from
 * 1..2*every-1 (mean `every`), so that no periodic pattern in the traffic aliases with it. */
typedef struct wr_sampler {
	uint32_t left, every;
	uint64_t rng;
} wr_sampler;

static inline void wr__sampler_init(wr_sampler *s, unsigned every, uint64_t seed)
{
	*s = (wr_sampler){ .left = 1, .every = every ? every : 1, .rng = seed | 1 };
}

/* Measure this one? Counts down; draws the next gap when it reaches zero. */
static inline bool wr__sampler_hit(wr_sampler *s)
{
	if (--s->left)
		return false;
	uint64_t x = s->rng;
	x ^= x << 13, x ^= x >> 7, x ^= x << 17;
	s->rng = x;
	s->left = s->every == 1 ? 1 : 1 + (uint32_t)(x % (2u * s->every - 1));
	return true;
}

typedef struct wr_reactor_stats {
	uint64_t accepted, freed;              /* open = accepted - freed */
	uint64_t refused[WR_STATS_REFUSALS];
	uint64_t bytes_in, bytes_out;          /* at the socket */
	uint64_t cutoffs;
	uint64_t send_zc, send_zc_copied;      /* zero-copy sends; notifications that say copied */
	uint64_t parse_errors[WR_STATS_PARSE_ERRORS];
	uint64_t counter[WR_STATS_COUNTERS];   /* the layers above's, by slot */
	uint64_t send_queued;                  /* kept exact; the rest below at each tick */
	uint64_t pool_bytes, rbufs_kernel, rbufs_total;
	uint64_t mem_used;                     /* what the memory budget counts */
	wr_hist *send_complete;                /* small shape, ns; one send in 16 */
	wr_hist *turn;                         /* the reactor's turn_hist */
	wr_sampler send_sample;
} __attribute__((aligned(64))) wr_reactor_stats;

/* A histogram of the small shape the server keeps (hist.h); NULL on -ENOMEM. */
static inline wr_hist *wr__stats_small_hist(void)
{
	return wr_hist_new(WR_HIST_SMALL_SUB_BITS, WR_HIST_SMALL_MAX_BITS);
}

/* Stats for n reactors, with their histograms; NULL on -ENOMEM. */
wr_reactor_stats *wr__reactor_stats_new(unsigned reactors);
void wr__reactor_stats_free(wr_reactor_stats *st, unsigned reactors);

#endif
