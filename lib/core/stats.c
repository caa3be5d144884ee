/* Allocation of the reactors' stats (stats.h). */
#include <stdlib.h>
#include <string.h>

#include "stats.h"

wr_reactor_stats *wr__reactor_stats_new(unsigned reactors)
{
	wr_reactor_stats *st = aligned_alloc(64, sizeof(*st) * reactors);
	if (!st)
		return NULL;
	memset(st, 0, sizeof(*st) * reactors);
	for (unsigned i = 0; i < reactors; i++) {
		st[i].send_complete = wr__stats_small_hist();
		st[i].turn = wr__stats_small_hist();
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
