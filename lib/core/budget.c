/* The shared memory budget's reservations (budget.h). */
#include "budget.h"

/* A reservation unit small enough that the reactors' slack (two chunks each) stays a small
 * part of the budget, large enough that an echo of ordinary messages crosses it rarely. */
#define CHUNK_MAX ((size_t)1 << 20)
#define CHUNK_MIN ((size_t)4096)

void wr__budget_init(wr_budget *b, size_t limit, unsigned reactors)
{
	if (!reactors)
		reactors = 1;
	size_t chunk = limit / ((size_t)reactors * 32);
	b->chunk = chunk > CHUNK_MAX ? CHUNK_MAX : chunk < CHUNK_MIN ? CHUNK_MIN : chunk;
	b->limit = limit;
	b->reactors = reactors;
	atomic_init(&b->reserved, 0);
}

void wr__budget_settle(wr_budget *b, size_t used, size_t *held)
{
	size_t want = (used + b->chunk - 1) / b->chunk * b->chunk + b->chunk;
	if (want > *held)
		atomic_fetch_add_explicit(&b->reserved, want - *held, memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(&b->reserved, *held - want, memory_order_relaxed);
	*held = want;
}

void wr__budget_release(wr_budget *b, size_t *held)
{
	atomic_fetch_sub_explicit(&b->reserved, *held, memory_order_relaxed);
	*held = 0;
}
