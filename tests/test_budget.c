/* The server-wide memory budget's reservations (lib/core/budget.h): a reactor's reservation
 * covers its use and moves only a chunk at a time; every reactor's view of the total is never
 * under the true sum and at most two chunks per other reactor over it, also while reactors on
 * other threads charge and settle at the same time; a reactor that goes gives all back. Also
 * run under TSan (budget_tap, suite tsan). */
#ifdef WR_TAP_SHIM
#include "tap_shim.h"
#else
#include <criterion/criterion.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "budget.h"

/* One reactor's side, as reactor.h drives it. */
typedef struct side {
	wr_budget *b;
	size_t used, held;
	unsigned settles;
} side;

static void charge(side *s, long d)
{
	s->used += (size_t)d;
	if (wr__budget_unsettled(s->b, s->used, s->held)) {
		wr__budget_settle(s->b, s->used, &s->held);
		s->settles++;
	}
}

Test(budget, chunks_and_hysteresis)
{
	wr_budget b;
	wr__budget_init(&b, (size_t)64 << 20, 2);
	cr_assert_eq(b.chunk, (size_t)1 << 20);  /* 64 MiB / (2 x 32) */
	side s = { .b = &b };
	charge(&s, 100);
	cr_assert_eq(s.held, (size_t)2 << 20, "held %zu", s.held); /* one chunk above the use */
	cr_assert_eq(atomic_load(&b.reserved), s.held);
	/* Small charges and frees inside the reservation do not touch the shared counter. */
	for (int i = 0; i < 10000; i++) {
		charge(&s, 16);
		charge(&s, -16);
	}
	cr_assert_eq(s.settles, 1);
	/* Growing past it takes more; falling two chunks under gives back. */
	charge(&s, (long)(5u << 20));
	cr_assert_geq(s.held, s.used);
	cr_assert_leq(s.held, s.used + 2 * b.chunk);
	charge(&s, -(long)(5u << 20));
	cr_assert_eq(s.held, (size_t)2 << 20);
	cr_assert_eq(atomic_load(&b.reserved), s.held);
	wr__budget_release(&b, &s.held);
	cr_assert_eq(atomic_load(&b.reserved), 0);
	cr_assert_eq(s.held, 0);
	/* Small budgets and many reactors: the chunk has a floor. */
	wr__budget_init(&b, 1u << 20, 1024);
	cr_assert_eq(b.chunk, 4096);
}

Test(budget, view_bounds_single_thread)
{
	wr_budget b;
	wr__budget_init(&b, (size_t)8 << 20, 3);
	side s[3] = { { .b = &b }, { .b = &b }, { .b = &b } };
	uint64_t x = 88172645463325252ull;
	for (int step = 0; step < 200000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		side *me = &s[x % 3];
		long d = (long)(x >> 8) % 200000 - 100000;
		if (d < 0 && (size_t)-d > me->used)
			d = -(long)me->used;
		charge(me, d);
		size_t sum = s[0].used + s[1].used + s[2].used;
		for (int k = 0; k < 3; k++) {
			size_t view = wr__budget_used(&b, s[k].used, s[k].held);
			cr_assert_geq(view, sum, "step %d: reactor %d sees %zu of %zu", step, k, view, sum);
			cr_assert_leq(view, sum + 2 * 2 * b.chunk);
		}
	}
}

/* Threads charging at once: the shared counter ends equal to the reservations, and every
 * view seen along the way was at least the thread's own use (the others' are not observable
 * exactly from here, their reservations are). */
struct run {
	side s;
	atomic_bool *go;
	int bad;
};

static void *hammer(void *arg)
{
	struct run *r = arg;
	while (!atomic_load(r->go))
		;
	uint64_t x = (uint64_t)(uintptr_t)arg | 1;
	for (int i = 0; i < 300000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		long d = (long)(x >> 8) % 50000 - 25000;
		if (d < 0 && (size_t)-d > r->s.used)
			d = -(long)r->s.used;
		charge(&r->s, d);
		if (r->s.held < r->s.used ||
		    wr__budget_used(r->s.b, r->s.used, r->s.held) < r->s.used)
			r->bad++;
	}
	return NULL;
}

Test(budget, concurrent_reactors)
{
	wr_budget b;
	wr__budget_init(&b, (size_t)16 << 20, 4);
	atomic_bool go = false;
	struct run r[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		r[i] = (struct run){ .s = { .b = &b }, .go = &go };
		cr_assert_eq(pthread_create(&t[i], NULL, hammer, &r[i]), 0);
	}
	atomic_store(&go, true);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	size_t held = 0;
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(r[i].bad, 0);
		held += r[i].s.held;
	}
	cr_assert_eq(atomic_load(&b.reserved), held);
	for (int i = 0; i < 4; i++)
		wr__budget_release(&b, &r[i].s.held);
	cr_assert_eq(atomic_load(&b.reserved), 0);
}
