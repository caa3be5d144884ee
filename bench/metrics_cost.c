/* The metrics work one echoed WebSocket message costs on the server's hot path, measured in
 * a loop with the library's own inline functions (lib/core/stats.h, hist.h), against the same
 * loop without them: the reactor's socket byte counters and send-queue gauge, the route's
 * message and byte counters in and out, the sampling decision, and for a sampled message its
 * two clock reads and two histogram records, and the send completion's histogram record (one
 * receive and one send per message: the worst case, no batching). Noise from a shared machine
 * that swamps a few percent in an A/B of whole servers hardly touches this.
 *
 * Usage: metrics_cost [SERVER_NS_PER_MSG]: given the server's CPU time per message without
 * metrics (bench/metrics_bench.sh measures it), also prints the cost as a fraction of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ws_stats.h"

#define N 4000000u
#define REPS 7

static void handler(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }
static void (*volatile on_message)(void *) = handler;

static wr_reactor_stats *rst;
static wr_route_stats *route;

static double loop(bool metrics)
{
	uint64_t t0 = wr__now_ns(), queued = 0;
	for (uint32_t i = 0; i < N; i++) {
		size_t len = 16 + (i & 7);
		if (!metrics) {
			on_message(&len);
			continue;
		}
		WR_STAT_ADD(rst->bytes_in, len + 6);                 /* recv completion */
		WR_STAT_ADD(route->msgs_in[WR_STATS_BINARY], 1);     /* deliver */
		WR_STAT_ADD(route->bytes_in[WR_STATS_BINARY], len);
		if (wr__sampler_hit(&route->sample)) {
			uint64_t a = wr__now_ns();
			wr_hist_record(route->receive, a - t0);
			on_message(&len);
			wr_hist_record(route->handler, wr__now_ns() - a);
		} else {
			on_message(&len);
		}
		WR_STAT_ADD(route->msgs_out[WR_STATS_BINARY], 1);    /* the echo */
		WR_STAT_ADD(route->bytes_out[WR_STATS_BINARY], len);
		WR_STAT_ADD(rst->send_queued, len + 2);              /* queued, then sent */
		WR_STAT_ADD(rst->send_queued, -(uint64_t)(len + 2));
		WR_STAT_ADD(rst->bytes_out, len + 2);                /* send completion */
		if (wr__sampler_hit(&rst->send_sample))
			wr_hist_record(rst->send_complete, (uint32_t)(i * 2654435761u) & 0xfffff);
		queued += len;
	}
	__asm__ volatile("" : : "r"(queued));
	return (double)(wr__now_ns() - t0) / N;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median over REPS of (with - without), ns per message. */
static double cost(unsigned sample)
{
	wr__route_stats_free(route, 1);
	route = wr__route_stats_new(1, sample);
	if (!route)
		exit(1);
	double d[REPS];
	for (int r = 0; r < REPS; r++) {
		double with = loop(true), without = loop(false);
		d[r] = with - without;
	}
	qsort(d, REPS, sizeof(d[0]), cmp);
	return d[REPS / 2];
}

int main(int argc, char **argv)
{
	double server = argc > 1 ? atof(argv[1]) : 0;
	rst = wr__reactor_stats_new(1);
	if (!rst)
		return 1;
	uint64_t a = wr__now_ns();
	for (int i = 0; i < 1000000; i++)
		wr__now_ns();
	double clock_ns = (double)(wr__now_ns() - a) / 1e6;
	double c64 = cost(64), c1 = cost(1), cnone = cost(1u << 20);
	printf("clock read (CLOCK_MONOTONIC): %.1f ns\n", clock_ns);
	printf("metrics per message: %.1f ns timing 1 in 64 (default), %.1f ns timing every "
	       "message, %.1f ns counting only\n", c64, c1, cnone);
	if (server > 0)
		printf("against %.0f ns of server CPU per message without metrics: %.2f%% (1 in 64), "
		       "%.2f%% (every message)\n", server, 100 * c64 / server, 100 * c1 / server);
	wr__route_stats_free(route, 1);
	wr__reactor_stats_free(rst, 1);
	return 0;
}
