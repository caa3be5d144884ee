/* The log-linear histogram (lib/core/hist.h) that ws-bench and the server share: slots hold
 * what they claim, within the shape's precision; percentiles, merging and `le` counts agree
 * with values counted by hand. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "hist.h"

static const unsigned shapes[][2] = { { 11, 38 }, { WR_HIST_SMALL_SUB_BITS, WR_HIST_SMALL_MAX_BITS },
                                      { 2, 20 } };

/* Every value lands in a slot whose range holds it, and slots are ordered: a slot's highest
 * value is below the next slot's lowest. Walks values around every power of two. */
Test(hist, slots_hold_their_values)
{
	for (unsigned s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		unsigned sub = shapes[s][0], maxb = shapes[s][1];
		unsigned len = WR_HIST_LEN(sub, maxb);
		for (unsigned bit = 0; bit < maxb; bit++) {
			for (int d = -3; d <= 3; d++) {
				int64_t sv = (int64_t)(1ull << bit) + d;
				if (sv < 0)
					continue;
				uint64_t v = (uint64_t)sv;
				if (v >= (1ull << maxb))
					continue;
				unsigned i = wr_hist_idx(v, sub, maxb);
				cr_assert_lt(i, len, "v %llu shape %u/%u", (unsigned long long)v, sub, maxb);
				cr_assert_geq(wr_hist_high(i, sub), v);
				if (i > 0)
					cr_assert_lt(wr_hist_high(i - 1, sub), v, "v %llu slot %u",
					             (unsigned long long)v, i);
				/* precision: the slot is no wider than v / 2^(sub-1) (exact below 2^sub) */
				uint64_t lo = i ? wr_hist_high(i - 1, sub) + 1 : 0;
				uint64_t width = wr_hist_high(i, sub) - lo + 1;
				cr_assert_leq(width, v >> (sub - 1) > 1 ? v >> (sub - 1) : 1,
				              "v %llu width %llu", (unsigned long long)v,
				              (unsigned long long)width);
			}
		}
		/* the last slot ends at 2^max_bits - 1, and bigger values are clamped into it */
		cr_assert_eq(wr_hist_high(len - 1, sub), (1ull << maxb) - 1);
		cr_assert_eq(wr_hist_idx(UINT64_MAX, sub, maxb), len - 1);
	}
}

Test(hist, shape_sizes)
{
	cr_assert_eq(WR_HIST_LEN(11, 38), 29u * 1024u);   /* ws-bench's, as before the move */
	cr_assert_eq(WR_HIST_LEN(WR_HIST_SMALL_SUB_BITS, WR_HIST_SMALL_MAX_BITS), 35u * 16u);
	cr_assert_lt(wr_hist_size(WR_HIST_SMALL_SUB_BITS, WR_HIST_SMALL_MAX_BITS), 4608u);
	cr_assert_null(wr_hist_new(1, 38));
	cr_assert_null(wr_hist_new(12, 11));
	cr_assert_null(wr_hist_new(5, 64));
}

/* 1..1000 recorded once each: percentiles land within the slot precision of the exact ones,
 * the extremes are exact, and mean and deviation are the arithmetic ones. */
Test(hist, percentiles_of_a_known_set)
{
	wr_hist *h = wr_hist_new(WR_HIST_SMALL_SUB_BITS, WR_HIST_SMALL_MAX_BITS);
	cr_assert_not_null(h);
	cr_assert_eq(wr_hist_percentile(h, 50), 0);
	for (uint64_t v = 1; v <= 1000; v++)
		wr_hist_record(h, v * 1000);
	cr_assert_eq(h->total, 1000);
	cr_assert_eq(h->min, 1000);
	cr_assert_eq(h->max, 1000000);
	cr_assert_eq(wr_hist_percentile(h, 100), 1000000);
	cr_assert_eq(wr_hist_percentile(h, 0), wr_hist_high(wr_hist_idx(1000, 5, 38), 5));
	const double ps[] = { 50, 90, 99, 99.9 };
	for (unsigned i = 0; i < 4; i++) {
		double exact = ps[i] * 10.0 * 1000.0;
		double got = (double)wr_hist_percentile(h, ps[i]);
		cr_assert(got >= exact && got <= exact * (1.0 + 1.0 / 16.0) + 1,
		          "p%g: %g for %g", ps[i], got, exact);
	}
	cr_assert_float_eq(wr_hist_mean(h), 500500.0, 1e-6);
	cr_assert_float_eq(wr_hist_stddev(h), 288674.9902572, 1e-3); /* population: sqrt((n^2-1)/12) * 1000 */
	wr_hist_reset(h);
	cr_assert_eq(h->total, 0);
	cr_assert_eq(h->min, UINT64_MAX);
	cr_assert_eq(wr_hist_count_le(h, UINT64_MAX), 0);
	free(h);
}

/* Merging two halves gives what recording everything in one does; shapes must agree. */
Test(hist, add_is_recording_both)
{
	wr_hist *a = wr_hist_new(5, 38), *b = wr_hist_new(5, 38), *all = wr_hist_new(5, 38);
	wr_hist *other = wr_hist_new(11, 38);
	cr_assert(a && b && all && other);
	uint64_t x = 88172645463325252ull;
	for (unsigned i = 0; i < 10000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t v = x % 50000000u;
		wr_hist_record(i & 1 ? a : b, v);
		wr_hist_record(all, v);
	}
	cr_assert_eq(wr_hist_add(a, b), 0);
	cr_assert_eq(a->total, all->total);
	cr_assert_eq(a->min, all->min);
	cr_assert_eq(a->max, all->max);
	for (unsigned i = 0; i < a->len; i++)
		cr_assert_eq(a->counts[i], all->counts[i], "slot %u", i);
	cr_assert_float_eq(a->sum, all->sum, 1.0);
	uint64_t before = other->total;
	cr_assert_eq(wr_hist_add(other, a), -EINVAL);
	cr_assert_eq(other->total, before);
	free(a), free(b), free(all), free(other);
}

/* count_le is the cumulative count of a Prometheus bucket: exact at slot boundaries, and
 * never counting a value above le. */
Test(hist, count_le_at_slot_boundaries)
{
	wr_hist *h = wr_hist_new(5, 38);
	cr_assert_not_null(h);
	const uint64_t vals[] = { 0, 5, 31, 32, 33, 999, 1000, 1023, 1024, 1u << 20, 123456789 };
	unsigned n = sizeof(vals) / sizeof(vals[0]);
	for (unsigned i = 0; i < n; i++)
		wr_hist_record(h, vals[i]);
	for (unsigned i = 0; i < n; i++) {
		/* the top of the value's slot: everything at most that, by hand */
		uint64_t le = wr_hist_high(wr_hist_idx(vals[i], 5, 38), 5), want = 0;
		for (unsigned k = 0; k < n; k++)
			want += vals[k] <= le;
		cr_assert_eq(wr_hist_count_le(h, le), want, "le %llu", (unsigned long long)le);
		/* just below the slot: the value is not counted */
		if (vals[i]) {
			uint64_t below = i ? wr_hist_high(wr_hist_idx(vals[i], 5, 38) - 1, 5) : 0;
			uint64_t w2 = 0;
			for (unsigned k = 0; k < n; k++)
				w2 += vals[k] <= below;
			cr_assert_eq(wr_hist_count_le(h, below), w2, "le %llu", (unsigned long long)below);
		}
	}
	cr_assert_eq(wr_hist_count_le(h, UINT64_MAX), n);
	free(h);
}

/* Caller memory of wr_hist_size bytes is a histogram like an allocated one. */
Test(hist, init_in_caller_memory)
{
	union { wr_hist h; uint64_t raw[(sizeof(wr_hist) + WR_HIST_LEN(3, 10) * 8) / 8]; } mem;
	cr_assert_eq(sizeof(mem), wr_hist_size(3, 10));
	wr_hist_init(&mem.h, 3, 10);
	cr_assert_eq(mem.h.len, WR_HIST_LEN(3, 10));
	wr_hist_record(&mem.h, 5000); /* above 2^10 - 1: clamped into the last slot */
	cr_assert_eq(mem.h.counts[mem.h.len - 1], 1);
	cr_assert_eq(mem.h.max, 5000);
	cr_assert_eq(wr_hist_percentile(&mem.h, 50), 5000); /* clamped to the exact extremes */
}
