/* The log-linear histogram (hist.h). Readers of a histogram another thread records into load
 * each field once, relaxed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

#define LOAD(lv) __atomic_load_n(&(lv), __ATOMIC_RELAXED)

static double load_d(const double *p)
{
	double d;
	__atomic_load(p, &d, __ATOMIC_RELAXED);
	return d;
}

void wr_hist_init(wr_hist *h, unsigned sub_bits, unsigned max_bits)
{
	h->sub_bits = (uint8_t)sub_bits;
	h->max_bits = (uint8_t)max_bits;
	h->len = WR_HIST_LEN(sub_bits, max_bits);
	wr_hist_reset(h);
}

wr_hist *wr_hist_new(unsigned sub_bits, unsigned max_bits)
{
	if (sub_bits < 2 || sub_bits > max_bits || max_bits > 63)
		return NULL;
	wr_hist *h = malloc(wr_hist_size(sub_bits, max_bits));
	if (h)
		wr_hist_init(h, sub_bits, max_bits);
	return h;
}

void wr_hist_reset(wr_hist *h)
{
	memset(h->counts, 0, (size_t)h->len * sizeof(uint64_t));
	h->total = 0;
	h->min = UINT64_MAX;
	h->max = 0;
	h->sum = h->sum_sq = 0.0;
}

int wr_hist_add(wr_hist *dst, const wr_hist *src)
{
	if (dst->sub_bits != src->sub_bits || dst->max_bits != src->max_bits)
		return -EINVAL;
	uint64_t total = 0;
	for (unsigned i = 0; i < dst->len; i++) {
		uint64_t c = LOAD(src->counts[i]);
		dst->counts[i] += c;
		total += c;
	}
	if (!total)
		return 0;
	/* The slots are the truth: a live source's total may lag them. */
	dst->total += total;
	dst->sum += load_d(&src->sum);
	dst->sum_sq += load_d(&src->sum_sq);
	uint64_t mn = LOAD(src->min), mx = LOAD(src->max);
	if (mn < dst->min)
		dst->min = mn;
	if (mx > dst->max)
		dst->max = mx;
	return 0;
}

/* Bucket of slot idx: slots below 2*half are bucket 0, then half slots per bucket. */
uint64_t wr_hist_high(unsigned idx, unsigned sub_bits)
{
	unsigned half = 1u << (sub_bits - 1);
	unsigned b = idx < 2 * half ? 0 : idx / half - 1;
	uint64_t low = (uint64_t)(idx - b * half) << b;
	return low + (1ull << b) - 1;
}

/* The reported value of a slot: its highest equivalent, clamped to the exact extremes. */
static uint64_t slot_value(const wr_hist *h, unsigned idx)
{
	uint64_t v = wr_hist_high(idx, h->sub_bits);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}

uint64_t wr_hist_percentile(const wr_hist *h, double p)
{
	if (!h->total)
		return 0;
	if (p >= 100.0)
		return h->max;
	double want = ceil(p / 100.0 * (double)h->total);
	uint64_t need = want < 1 ? 1 : (uint64_t)want;
	uint64_t seen = 0;
	for (unsigned i = 0; i < h->len; i++) {
		seen += h->counts[i];
		if (seen >= need)
			return slot_value(h, i);
	}
	return h->max;
}

uint64_t wr_hist_count_le(const wr_hist *h, uint64_t v)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < h->len && wr_hist_high(i, h->sub_bits) <= v; i++)
		n += h->counts[i];
	return n;
}

double wr_hist_mean(const wr_hist *h)
{
	return h->total ? h->sum / (double)h->total : 0.0;
}

double wr_hist_stddev(const wr_hist *h)
{
	if (h->total < 2)
		return 0.0;
	double m = wr_hist_mean(h);
	double var = h->sum_sq / (double)h->total - m * m;
	return var > 0 ? sqrt(var) : 0.0;
}

/* The percentile ladder: step through percentiles in steps that shrink as they near 100%,
 * ticks_per_half steps for each halving of the distance left (0, 10, ..., 50, 55, ..., 75,
 * 77.5, ... for 5), reporting the value reached at each. */
void wr_hist_ladder(const wr_hist *h, unsigned ticks_per_half,
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
		while (seen < need && i + 1 < h->len)
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
