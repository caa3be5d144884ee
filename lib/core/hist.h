/* The latency histogram: log-linear buckets in the manner of HdrHistogram, written here, shared
 * by the library (per-reactor loop-turn and per-route histograms) and ws-bench, so that the
 * figures of the two are comparable slot for slot.
 *
 * A value v lands in bucket b = (index of v's top bit) - (sub_bits - 1), or 0 for small
 * values, at slot b * half + (v >> b) with half = 2^(sub_bits - 1): every bucket but the first
 * spans one power of two in `half` equal steps, so a value is known to within 1/half of
 * itself. The shape (sub_bits, max_bits) fixes the memory: ws-bench's 11/38 is 29 x 1024 slots
 * (~237 KB, 3 significant digits); the server's small shape 5/38 is 35 x 16 slots (~4.4 KB,
 * within 6.25%). Values above 2^max_bits - 1 are clamped into the last slot (min/max/sum stay
 * exact). Recording is a shift, a count-leading-zeros and an increment; merging two
 * histograms of one shape is adding the arrays.
 *
 * Ownership: a wr_hist is one block (wr_hist_new, or caller memory of wr_hist_size bytes given
 * to wr_hist_init); nothing inside points elsewhere.
 *
 * Threads: one thread records (the reactor's). Its stores are relaxed atomic stores of what it
 * read plainly, so that any other thread may read a histogram while it is being recorded into
 * (wr_hist_add with a live source) without a lock and without a data race; such a read is not
 * a consistent cut (total may lag the slots by the values in flight), which monitoring
 * tolerates. */
#ifndef WR_LIB_HIST_H
#define WR_LIB_HIST_H

#include <stddef.h>
#include <stdint.h>

/* Slots of a shape. */
#define WR_HIST_LEN(sub_bits, max_bits) (((max_bits) - (sub_bits) + 2u) << ((sub_bits) - 1u))
/* The server's fixed small shape (per reactor, per route). */
#define WR_HIST_SMALL_SUB_BITS 5u
#define WR_HIST_SMALL_MAX_BITS 38u   /* ns: ~275 s */

typedef struct wr_hist {
	uint64_t total;
	uint64_t min, max;        /* exact; min is UINT64_MAX while empty */
	double sum, sum_sq;       /* for mean and deviation */
	uint32_t len;             /* slots */
	uint8_t sub_bits, max_bits;
	uint64_t counts[];        /* len slots */
} wr_hist;

/* Bytes of a histogram of this shape (for caller memory). */
static inline size_t wr_hist_size(unsigned sub_bits, unsigned max_bits)
{
	return sizeof(wr_hist) + (size_t)WR_HIST_LEN(sub_bits, max_bits) * sizeof(uint64_t);
}

/* The slot of v in a histogram of this shape. */
static inline unsigned wr_hist_idx(uint64_t v, unsigned sub_bits, unsigned max_bits)
{
	const uint64_t limit = (1ull << max_bits) - 1;
	if (v > limit)
		v = limit;
	unsigned top = 63u - (unsigned)__builtin_clzll(v | 1);   /* highest set bit */
	unsigned b = top >= sub_bits ? top - (sub_bits - 1) : 0;
	return (b << (sub_bits - 1)) + (unsigned)(v >> b);
}
/* The highest value that lands in slot idx (of any max_bits). */
uint64_t wr_hist_high(unsigned idx, unsigned sub_bits);

/* A new, empty histogram; NULL when out of memory or for a shape outside 2 <= sub_bits <=
 * max_bits <= 63. Free with free(). */
wr_hist *wr_hist_new(unsigned sub_bits, unsigned max_bits);
/* Make h (wr_hist_size(sub_bits, max_bits) bytes of caller memory) an empty histogram. */
void wr_hist_init(wr_hist *h, unsigned sub_bits, unsigned max_bits);
/* Empty it, keeping its shape. */
void wr_hist_reset(wr_hist *h);
/* dst += src, which may be being recorded into by another thread. -EINVAL when the shapes
 * differ (dst untouched), else 0. */
int wr_hist_add(wr_hist *dst, const wr_hist *src);
/* Value at percentile p (0..100): the highest value equivalent to the slot reached, clamped
 * to the exact min and max; 0 when empty. */
uint64_t wr_hist_percentile(const wr_hist *h, double p);
double wr_hist_mean(const wr_hist *h);
double wr_hist_stddev(const wr_hist *h);
/* How many values recorded are at most v, to slot precision: the slots whose highest
 * equivalent value is <= v (a Prometheus `le` bucket). */
uint64_t wr_hist_count_le(const wr_hist *h, uint64_t v);
/* Walk the percentile ladder HdrHistogram prints (ticks_per_half per halving of the distance
 * to 100%); fn gets (value, percentile 0..1, count so far) per step, the last with 1.0. */
void wr_hist_ladder(const wr_hist *h, unsigned ticks_per_half,
                    void (*fn)(uint64_t value, double pct, uint64_t count, void *user), void *user);

/* The recording thread only: see "Threads" above. */
#define WR_HIST_BUMP(lv, v) __atomic_store_n(&(lv), (v), __ATOMIC_RELAXED)

static inline void wr_hist_record(wr_hist *h, uint64_t v)
{
	unsigned i = wr_hist_idx(v, h->sub_bits, h->max_bits);
	WR_HIST_BUMP(h->counts[i], h->counts[i] + 1);
	WR_HIST_BUMP(h->total, h->total + 1);
	if (v < h->min)
		WR_HIST_BUMP(h->min, v);
	if (v > h->max)
		WR_HIST_BUMP(h->max, v);
	double d = (double)v, s = h->sum + d, q = h->sum_sq + d * d;
	__atomic_store(&h->sum, &s, __ATOMIC_RELAXED);
	__atomic_store(&h->sum_sq, &q, __ATOMIC_RELAXED);
}

#endif
