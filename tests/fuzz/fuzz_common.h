/* Shared by the structure-aware differential fuzzers (fuzz_utf8_struct, fuzz_unmask,
 * fuzz_http_scan, fuzz_utf8): the input is read as a recipe -- lengths, positions, keys --
 * rather than used as the data itself, because random bytes almost never build what the SIMD
 * kernels get wrong (long valid text, a bad byte just past a block edge, an odd alignment).
 *
 * Recipe encoding (tests/fuzz/make_corpus.py writes seeds in it):
 *  - fz_byte(): the next input byte; once the input is used up, bytes of a generator seeded
 *    from the whole input, so that a short recipe still describes a long text and every
 *    input is replayed identically.
 *  - fz_near_edge(max): two bytes sel, k. edge = FZ_EDGES[sel & 7]; for edge 0 a third byte
 *    follows and the value is (k << 8 | third) % (max + 1), anywhere; otherwise the value is
 *    (k % (max / edge + 1)) * edge + (sel >> 3) - 16, clamped to 0..max: a multiple of a
 *    block size give or take 16 bytes. */
#ifndef WR_TESTS_FUZZ_COMMON_H
#define WR_TESTS_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd_copies.h"

/* The widths the kernels step by: 16 (SSE2), 32 (AVX2), 64 (AVX-512, and SSE2 4x16 rounds),
 * 128 (AVX-512 UTF-8 and AVX2 scanner rounds), 256 (AVX-512 scanner rounds); 0 = anywhere. */
static const size_t FZ_EDGES[8] = { 16, 32, 64, 128, 256, 16, 64, 0 };

struct fz_recipe {
	const uint8_t *p;
	size_t n;
	uint64_t rng;
};

static inline struct fz_recipe fz_recipe(const uint8_t *data, size_t size)
{
	/* FNV-1a over the input: any change to the recipe changes the generated tail too */
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ull;
	return (struct fz_recipe){ .p = data, .n = size, .rng = h | 1 };
}

static inline uint8_t fz_byte(struct fz_recipe *r)
{
	if (r->n) {
		r->n--;
		return *r->p++;
	}
	r->rng ^= r->rng >> 12; /* xorshift64* */
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (uint8_t)((r->rng * 0x2545f4914f6cdd1dull) >> 56);
}

static inline size_t fz_near_edge(struct fz_recipe *r, size_t max)
{
	uint8_t sel = fz_byte(r), k = fz_byte(r);
	size_t edge = FZ_EDGES[sel & 7];
	if (edge == 0)
		return ((size_t)k << 8 | fz_byte(r)) % (max + 1);
	long v = (long)((k % (max / edge + 1)) * edge) + (long)(sel >> 3) - 16;
	if (v < 0)
		return 0;
	return (size_t)v > max ? max : (size_t)v;
}

/* Up to FZ_MAX_CUTS sorted cut points in 0..len: 1 + (byte % FZ_MAX_CUTS) of them, each
 * fz_near_edge(len). Equal cuts make empty pieces, which the kernels must accept too. */
#define FZ_MAX_CUTS 5
static inline size_t fz_cuts(struct fz_recipe *r, size_t len, size_t cuts[FZ_MAX_CUTS])
{
	size_t n = 1 + fz_byte(r) % FZ_MAX_CUTS;
	for (size_t i = 0; i < n; i++) {
		size_t c = fz_near_edge(r, len), j = i;
		for (; j > 0 && cuts[j - 1] > c; j--) /* insertion sort: at most five */
			cuts[j] = cuts[j - 1];
		cuts[j] = c;
	}
	return n;
}

/* p[0..n) copied into a buffer of exactly n bytes, so that ASan reports any read past it. */
static inline uint8_t *fz_exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		abort();
	if (n)
		memcpy(b, p, n);
	return b;
}

/* Every copy of a kernel but the scalar one (simd_copies.h: native where this CPU runs the
 * variant, plus the SIMDe copy of every x86 variant), listed once per process. Always both
 * copies (WR_SIMD_EMU=missing would drop the emulated one where the native one runs: the two
 * are compiled differently, so they can differ), and the fuzzers do not feed the unit tests'
 * per-variant report. */
static inline const struct tv_copy *fz_copies(enum tv_kernel k, size_t *n)
{
	static struct tv_copy copies[TV_KERNELS][TV_MAX_COPIES];
	static size_t count[TV_KERNELS];
	static bool listed[TV_KERNELS];
	if (!listed[k]) {
		unsetenv("WR_SIMD_EMU");
		unsetenv("WR_SIMD_REPORT");
		struct tv_copy all[TV_MAX_COPIES];
		size_t m = tv_copies(k, all);
		for (size_t i = 0; i < m; i++)
			if (all[i].v != WR_SIMD_SCALAR || all[i].emulated)
				copies[k][count[k]++] = all[i];
		listed[k] = true;
	}
	*n = count[k];
	return copies[k];
}

/* "3 pieces, cuts at 127 128, length 255" or "whole, length 255", for failure messages. */
static inline void fz_print_cuts(const size_t *cuts, size_t ncuts, size_t len)
{
	if (!ncuts) {
		fprintf(stderr, "  whole, length %zu\n", len);
		return;
	}
	fprintf(stderr, "  %zu pieces, cuts at", ncuts + 1);
	for (size_t i = 0; i < ncuts; i++)
		fprintf(stderr, " %zu", cuts[i]);
	fprintf(stderr, ", length %zu\n", len);
}

#endif
