/* Pub/sub below the connection: topic names and patterns (what is valid, what matches, the
 * hash the index uses to find "prefix.*" while walking a name), and a subscriber's queue of
 * unsent publications with what the slow-subscriber policies do to it (drop a subscription's
 * oldest, take out the entry with the same key, squeeze out holes). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sub_queue.h"
#include "topic.h"

static int check(const char *s, bool pat) { return wr__topic_check(s, strlen(s), pat); }
static bool match(const char *p, const char *t)
{
	return wr__topic_match(p, strlen(p), t, strlen(t));
}

Test(topic, names_and_patterns)
{
	cr_assert_eq(check("prices", false), WR_TOPIC_EXACT);
	cr_assert_eq(check("prices.eu.btc", false), WR_TOPIC_EXACT);
	cr_assert_eq(check("prices.*", true), WR_TOPIC_WILD);
	cr_assert_eq(check("*", true), WR_TOPIC_WILD);
	cr_assert_eq(check("prices.*", false), -EINVAL);  /* publish takes names only */
	cr_assert_eq(check("", true), -EINVAL);
	cr_assert_eq(check("prices*", true), -EINVAL);    /* '*' only after a final '.' */
	cr_assert_eq(check("pri*ces", true), -EINVAL);
	cr_assert_eq(check("a.*.b", true), -EINVAL);
	cr_assert_eq(check("*.x", true), -EINVAL);
	cr_assert_eq(wr__topic_check("a\0b", 3, true), -EINVAL);
	char big[300];
	memset(big, 'x', sizeof(big));
	cr_assert_eq(wr__topic_check(big, 255, false), WR_TOPIC_EXACT);
	cr_assert_eq(wr__topic_check(big, 256, false), -EINVAL);
	cr_assert_eq(wr__topic_check(NULL, 0, true), -EINVAL);
}

Test(topic, matching)
{
	cr_assert(match("prices", "prices"));
	cr_assert(!match("prices", "prices.btc"));
	cr_assert(!match("prices", "price"));
	cr_assert(match("prices.*", "prices.btc"));
	cr_assert(match("prices.*", "prices.eu.btc"));    /* any depth */
	cr_assert(!match("prices.*", "prices."));         /* something must follow */
	cr_assert(!match("prices.*", "prices"));
	cr_assert(!match("prices.*", "pricesXbtc"));
	cr_assert(!match("prices.*", "news.prices.btc"));
	cr_assert(match("*", "anything"));
	cr_assert(match("*", "a.b.c"));
}

Test(topic, hash_steps_compose)
{
	/* The index hashes "prices.*" by stepping the name's hash at the '.' with "*". */
	const char *name = "prices.eu.btc";
	uint64_t h = wr__topic_hash_step(WR_TOPIC_SEED, name, 7); /* "prices." */
	cr_assert_eq(wr__topic_hash_step(h, "*", 1), wr__topic_hash("prices.*", 8));
	cr_assert_eq(wr__topic_hash_step(wr__topic_hash("ab", 2), "c", 1), wr__topic_hash("abc", 3));
	cr_assert_neq(wr__topic_hash("ab", 2), wr__topic_hash("ba", 2));
}

/* ---- the subscriber's queue ---- */

static int released[64];
static int nreleased;
static void rel(void *p) { released[nreleased++] = (int)(intptr_t)p; }
static void *P(int i) { return (void *)(intptr_t)i; }
static bool same(const void *p, const void *ctx) { return (intptr_t)p % 10 == (intptr_t)ctx % 10; }

static int drain(wr_subq *q, int *out)
{
	int n = 0;
	wr_subq_item it;
	while (wr__subq_pop(q, &it))
		out[n++] = (int)(intptr_t)it.p;
	return n;
}

Test(sub_queue, fifo_and_growth)
{
	wr_subq q = { 0 };
	for (int i = 1; i <= 40; i++)
		cr_assert_eq(wr__subq_push(&q, P(i), 0), 0);
	cr_assert_eq(q.live, 40);
	int out[64];
	cr_assert_eq(drain(&q, out), 40);
	for (int i = 0; i < 40; i++)
		cr_assert_eq(out[i], i + 1);
	/* wrap around the ring */
	for (int r = 0; r < 5; r++) {
		for (int i = 0; i < 7; i++)
			wr__subq_push(&q, P(100 * r + i + 1), 0);
		cr_assert_eq(drain(&q, out), 7);
		cr_assert_eq(out[6], 100 * r + 7);
	}
	wr__subq_finish(&q, NULL);
}

Test(sub_queue, drop_oldest_of_one_subscription)
{
	wr_subq q = { 0 };
	wr__subq_push(&q, P(1), 0);
	wr__subq_push(&q, P(2), 1);
	wr__subq_push(&q, P(3), 1);
	wr__subq_push(&q, P(4), 0);
	cr_assert_eq(wr__subq_drop_oldest(&q, 1), P(2));
	cr_assert_eq(wr__subq_drop_oldest(&q, 0), P(1));
	cr_assert_eq(wr__subq_drop_oldest(&q, 7), NULL);
	int out[8];
	cr_assert_eq(drain(&q, out), 2);
	cr_assert_eq(out[0], 3);
	cr_assert_eq(out[1], 4);
	wr__subq_finish(&q, NULL);
}

Test(sub_queue, conflate_takes_the_same_key_and_keeps_order)
{
	/* keys are p % 10: 11 and 21 share a key */
	wr_subq q = { 0 };
	wr__subq_push(&q, P(11), 0);
	wr__subq_push(&q, P(12), 0);
	uint32_t sub = 9;
	cr_assert_eq(wr__subq_take_if(&q, same, P(21), &sub), P(11));
	cr_assert_eq(sub, 0);
	wr__subq_push(&q, P(21), 0);
	cr_assert_eq(wr__subq_take_if(&q, same, P(33), &sub), NULL);
	int out[8];
	cr_assert_eq(drain(&q, out), 2);
	cr_assert_eq(out[0], 12);  /* the newer value goes to the back: publisher order holds */
	cr_assert_eq(out[1], 21);
	wr__subq_finish(&q, NULL);
}

Test(sub_queue, holes_stay_bounded)
{
	/* One key updated 100,000 times while nothing is sent: one live entry, and the ring
	 * does not grow with the updates. */
	wr_subq q = { 0 };
	wr__subq_push(&q, P(5), 0);
	wr__subq_push(&q, P(7), 0);
	uint32_t sub;
	for (int i = 1; i <= 100000; i++) {
		void *old = wr__subq_take_if(&q, same, P(10 * i + 5), &sub);
		cr_assert_not_null(old);
		cr_assert_eq(wr__subq_push(&q, P(10 * i + 5), 0), 0);
	}
	cr_assert_eq(q.live, 2);
	cr_assert_leq(q.cap, 16);
	int out[8];
	cr_assert_eq(drain(&q, out), 2);
	cr_assert_eq(out[0], 7);
	cr_assert_eq(out[1], 1000005);
	wr__subq_finish(&q, NULL);
}

Test(sub_queue, remove_sub_and_finish_release)
{
	wr_subq q = { 0 };
	nreleased = 0;
	for (int i = 0; i < 6; i++)
		wr__subq_push(&q, P(i + 1), (uint32_t)(i % 2));
	wr__subq_remove_sub(&q, 1, rel);
	cr_assert_eq(nreleased, 3);
	cr_assert_eq(released[0], 2);
	cr_assert_eq(q.live, 3);
	wr__subq_finish(&q, rel);
	cr_assert_eq(nreleased, 6);
	cr_assert_eq(q.cap, 0);
}
