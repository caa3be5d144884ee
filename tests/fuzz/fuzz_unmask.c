/* libFuzzer, structure-aware: every copy of every unmasking variant (native and SIMDe, see
 * fuzz_common.h) against the byte-at-a-time loop, for a length near a block edge, any
 * alignment, any key and phase (issue 10). The AVX2 and AVX-512 kernels peel an unaligned
 * head and rotate the key by it, run 4-vector rounds, then finish with narrower steps: each
 * of those seams is a length or an alignment, which random payload bytes never aim at.
 *
 * Each copy unmasks the range whole and then in pieces with the phase carried from one piece
 * to the next, as the frame parser does across receives, in two layouts: inside a buffer with
 * guard bytes on both sides that must stay untouched (stray writes), and at the very end of an
 * allocation of exact size (ASan reports reads past it).
 *
 * Recipe, in the order read (fuzz_common.h): length fz_near_edge(MAX_LEN), alignment offset
 * byte % 64, the 4 key bytes, the phase byte (passed whole: only its low 2 bits count), cuts
 * fz_cuts(length), then the payload bytes. */
#include "fuzz_common.h"
#include "simd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LEN 4096
#define GUARD 64 /* on each side, and the alignment offsets go up to 63 */
#define GUARD_BYTE 0xa5

struct job {
	const uint8_t *payload, *want; /* input, and what the bytewise loop made of it */
	size_t len, off;
	uint8_t key[4];
	unsigned phase;
	const size_t *cuts;
	size_t ncuts;
};

static void fail(const struct job *j, const char *label, const char *layout, bool split,
	const char *what, size_t at)
{
	fprintf(stderr, "fuzz_unmask: %s, %s layout, %s: %s at byte %zu; length %zu, offset %zu, "
		"key %02x%02x%02x%02x, phase %u\n", label, layout, split ? "in pieces" : "whole",
		what, at, j->len, j->off, j->key[0], j->key[1], j->key[2], j->key[3], j->phase);
	if (split)
		fz_print_cuts(j->cuts, j->ncuts, j->len);
	abort();
}

/* Unmasks p[0..len) with fn, whole or in the job's pieces. */
static void run(wr_unmask_fn fn, const struct job *j, uint8_t *p, bool split)
{
	if (!split) {
		fn(p, j->len, j->key, j->phase);
		return;
	}
	size_t from = 0;
	for (size_t i = 0; i <= j->ncuts; i++) {
		size_t to = i < j->ncuts ? j->cuts[i] : j->len;
		fn(p + from, to - from, j->key, (j->phase + (unsigned)from) & 3);
		from = to;
	}
}

/* buf[0..size) holds the payload at off, guard bytes everywhere else. */
static void check(const struct tv_copy *c, const struct job *j, const char *layout,
	uint8_t *buf, size_t size, bool split)
{
	memset(buf, GUARD_BYTE, size);
	memcpy(buf + j->off, j->payload, j->len);
	run(c->fn.unmask, j, buf + j->off, split);
	for (size_t i = 0; i < j->len; i++)
		if (buf[j->off + i] != j->want[i])
			fail(j, c->label, layout, split, "wrong byte", i);
	for (size_t i = 0; i < size; i++)
		if ((i < j->off || i >= j->off + j->len) && buf[i] != GUARD_BYTE)
			fail(j, c->label, layout, split, "guard byte changed", i);
}

static void check_copy(const struct tv_copy *c, const struct job *j)
{
	/* guarded: GUARD bytes after the range, and before it at least GUARD more at an
	 * offset that sets the range's alignment */
	struct job g = *j;
	g.off = GUARD + j->off;
	size_t gsize = g.off + j->len + GUARD;
	void *guarded;
	if (posix_memalign(&guarded, 64, gsize))
		abort();
	check(c, &g, "guarded", guarded, gsize, false);
	check(c, &g, "guarded", guarded, gsize, true);
	free(guarded);

	uint8_t *exact = malloc(j->off + j->len ? j->off + j->len : 1);
	if (!exact)
		abort();
	check(c, j, "exact-end", exact, j->off + j->len, false);
	check(c, j, "exact-end", exact, j->off + j->len, true);
	free(exact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t payload[MAX_LEN], want[MAX_LEN];
	struct fz_recipe r = fz_recipe(data, size);
	size_t cuts[FZ_MAX_CUTS];
	struct job j = { .payload = payload, .want = want, .cuts = cuts };
	j.len = fz_near_edge(&r, MAX_LEN);
	j.off = fz_byte(&r) % 64;
	for (int i = 0; i < 4; i++)
		j.key[i] = fz_byte(&r);
	j.phase = fz_byte(&r);
	j.ncuts = fz_cuts(&r, j.len, cuts);
	for (size_t i = 0; i < j.len; i++)
		payload[i] = fz_byte(&r);
	memcpy(want, payload, j.len);
	wr__unmask_bytewise(want, j.len, j.key, j.phase);

	size_t n;
	const struct tv_copy *c = fz_copies(TV_UNMASK, &n);
	struct tv_copy scalar = { .v = WR_SIMD_SCALAR, .fn.unmask = wr__unmask_scalar,
		.label = "scalar" };
	check_copy(&scalar, &j);
	for (size_t i = 0; i < n; i++)
		check_copy(&c[i], &j);
	return 0;
}
