/* A memory budget shared by several reactors (the server's), with no lock and almost no
 * shared write on the hot path. Each reactor counts its own bytes exactly (mem_used) and
 * holds a reservation from the shared counter, taken and given back a chunk at a time: a
 * charge touches the shared counter only when it crosses a chunk boundary with some
 * hysteresis (wr__budget_settle), so most charges stay in the reactor.
 *
 * A reactor's view of the whole server's use is the others' reservations plus its own exact
 * use: never less than the true sum (a reservation is never below its reactor's use once the
 * charge that raised the use has settled), at most two chunks per other reactor more. A
 * reactor near the budget therefore sees it a little early, never late; two reactors that
 * each admit a message in the same instant can together cross it by those messages.
 *
 * Ownership: the caller (the server) makes it before its reactors and frees it after they
 * are gone; reactors borrow it. The counter is the only field written after wr__budget_init,
 * by any of the reactors' threads. */
#ifndef WR_LIB_BUDGET_H
#define WR_LIB_BUDGET_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct wr_budget {
	_Atomic size_t reserved;   /* the reactors' reservations, summed */
	size_t limit;              /* bytes, the whole server's */
	size_t chunk;              /* the unit of a reservation */
	unsigned reactors;         /* sharing it */
} wr_budget;

/* limit bytes shared by reactors (>= 1); limit 0 is not a budget (do not make one). */
void wr__budget_init(wr_budget *b, size_t limit, unsigned reactors);

/* used: the reactor's exact bytes; *held: its reservation, moved (on the shared counter)
 * to the nearest chunk above used plus one chunk, when used passed it or fell two chunks
 * under it. */
void wr__budget_settle(wr_budget *b, size_t used, size_t *held);

/* A reactor that goes: its reservation back (*held becomes 0). */
void wr__budget_release(wr_budget *b, size_t *held);

/* Should a reactor using `used` and holding `held` settle? (the hot path's one test) */
static inline int wr__budget_unsettled(const wr_budget *b, size_t used, size_t held)
{
	return used > held || used + 2 * b->chunk < held;
}

/* The whole server's use as a reactor sees it (see above). */
static inline size_t wr__budget_used(wr_budget *b, size_t used, size_t held)
{
	return atomic_load_explicit(&b->reserved, memory_order_relaxed) - held + used;
}

#endif
