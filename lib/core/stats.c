/* Allocation of per-route, per-reactor stats (stats.h). */
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static wr_hist *small_hist(void)
{
	return wr_hist_new(WR_HIST_SMALL_SUB_BITS, WR_HIST_SMALL_MAX_BITS);
}

wr_reactor_stats *wr__reactor_stats_new(unsigned reactors)
{
	wr_reactor_stats *st = aligned_alloc(64, sizeof(*st) * reactors);
	if (!st)
		return NULL;
	memset(st, 0, sizeof(*st) * reactors);
	for (unsigned i = 0; i < reactors; i++) {
		st[i].send_complete = small_hist();
		st[i].turn = small_hist();
		wr__sampler_init(&st[i].send_sample, 16, 0xd1b54a32d192ed03ull * (i + 1));
		if (!st[i].send_complete || !st[i].turn) {
			wr__reactor_stats_free(st, reactors);
			return NULL;
		}
	}
	return st;
}

void wr__reactor_stats_free(wr_reactor_stats *st, unsigned reactors)
{
	if (!st)
		return;
	for (unsigned i = 0; i < reactors; i++) {
		free(st[i].send_complete);
		free(st[i].turn);
	}
	free(st);
}

wr_route_stats *wr__route_stats_new(unsigned reactors, unsigned sample_every)
{
	wr_route_stats *rs = aligned_alloc(64, sizeof(*rs) * reactors);
	if (!rs)
		return NULL;
	memset(rs, 0, sizeof(*rs) * reactors);
	for (unsigned i = 0; i < reactors; i++) {
		rs[i].handler = small_hist();
		rs[i].receive = small_hist();
		wr__sampler_init(&rs[i].sample, sample_every, 0x9e3779b97f4a7c15ull * (i + 1));
		if (!rs[i].handler || !rs[i].receive) {
			wr__route_stats_free(rs, reactors);
			return NULL;
		}
	}
	return rs;
}

void wr__route_stats_free(wr_route_stats *rs, unsigned reactors)
{
	if (!rs)
		return;
	for (unsigned i = 0; i < reactors; i++) {
		free(rs[i].handler);
		free(rs[i].receive);
	}
	free(rs);
}

wr_http_route_stats *wr__http_route_stats_new(unsigned reactors, unsigned sample_every)
{
	wr_http_route_stats *rs = aligned_alloc(64, sizeof(*rs) * reactors);
	if (!rs)
		return NULL;
	memset(rs, 0, sizeof(*rs) * reactors);
	for (unsigned i = 0; i < reactors; i++) {
		rs[i].handler = small_hist();
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
