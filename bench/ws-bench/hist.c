/* The latency histogram: log-linear buckets in the manner of HdrHistogram, written here.
 *
 * A value v lands in "bucket" b = (index of v's top bit) - 10, or 0 for small values, and
 * within it in slot v >> b. Every bucket but the first thus spans one power of two in 1024
 * equal steps, so a value is known to within 1/1024 of itself (3 significant digits), and the
 * counts array is fixed: 29 half-buckets of 1024 slots cover 0..2^38 ns. Recording is a shift,
 * a count-leading-zeros and an increment; merging is adding the arrays. */
#include <math.h>
#include <string.h>

#include "wsb.h"

void wsb_hist_reset(wsb_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void wsb_hist_add(wsb_hist *dst, const wsb_hist *src)
{
	if (!src->total)
		return;
	for (unsigned i = 0; i < WSB_HIST_LEN; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->sum += src->sum;
	dst->sum_sq += src->sum_sq;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

/* Bucket of slot idx: slots below 2*half are bucket 0, then half slots per bucket. */
uint64_t wsb_hidx_high(unsigned idx, unsigned sub_bits)
{
	unsigned half = 1u << (sub_bits - 1);
	unsigned b = idx < 2 * half ? 0 : idx / half - 1;
	uint64_t low = (uint64_t)(idx - b * half) << b;
	return low + (1ull << b) - 1;
}

/* The reported value of a slot: its highest equivalent, clamped to the exact extremes. */
static uint64_t slot_value(const wsb_hist *h, unsigned idx)
{
	uint64_t v = wsb_hidx_high(idx, WSB_HIST_SUB_BITS);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}

uint64_t wsb_hist_percentile(const wsb_hist *h, double p)
{
	if (!h->total)
		return 0;
	if (p >= 100.0)
		return h->max;
	double want = ceil(p / 100.0 * (double)h->total);
	uint64_t need = want < 1 ? 1 : (uint64_t)want;
	uint64_t seen = 0;
	for (unsigned i = 0; i < WSB_HIST_LEN; i++) {
		seen += h->counts[i];
		if (seen >= need)
			return slot_value(h, i);
	}
	return h->max;
}

double wsb_hist_mean(const wsb_hist *h)
{
	return h->total ? h->sum / (double)h->total : 0.0;
}

double wsb_hist_stddev(const wsb_hist *h)
{
	if (h->total < 2)
		return 0.0;
	double m = wsb_hist_mean(h);
	double var = h->sum_sq / (double)h->total - m * m;
	return var > 0 ? sqrt(var) : 0.0;
}

/* The percentile ladder: step through percentiles in steps that shrink as they near 100%,
 * ticks_per_half steps for each halving of the distance left (0, 10, ..., 50, 55, ..., 75,
 * 77.5, ... for 5), reporting the value reached at each. */
void wsb_hist_ladder(const wsb_hist *h, unsigned ticks_per_half,
                     void (*fn)(uint64_t value, double pct, uint64_t count, void *user), void *user)
{
	if (!h->total)
		return;
	double level = 0.0; /* percent */
	unsigned i = 0;
	uint64_t seen = h->counts[0];
	for (;;) {
		double want = ceil(level / 100.0 * (double)h->total);
		uint64_t need = want < 1 ? 1 : (uint64_t)want;
		while (seen < need && i + 1 < WSB_HIST_LEN)
			seen += h->counts[++i];
		fn(slot_value(h, i), level / 100.0, seen, user);
		if (seen >= h->total) {
			fn(h->max, 1.0, h->total, user);
			return;
		}
		double halvings = floor(log2(100.0 / (100.0 - level))) + 1.0;
		double ticks = (double)ticks_per_half * pow(2.0, halvings);
		level += 100.0 / ticks;
	}
}
