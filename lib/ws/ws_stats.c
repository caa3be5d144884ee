/* Allocation of a WebSocket route's per-reactor stats (ws_stats.h). */
#include <stdlib.h>
#include <string.h>

#include "ws_stats.h"

wr_route_stats *wr__route_stats_new(unsigned reactors, unsigned sample_every)
{
	wr_route_stats *rs = aligned_alloc(64, sizeof(*rs) * reactors);
	if (!rs)
		return NULL;
	memset(rs, 0, sizeof(*rs) * reactors);
	for (unsigned i = 0; i < reactors; i++) {
		rs[i].handler = wr__stats_small_hist();
		rs[i].receive = wr__stats_small_hist();
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
