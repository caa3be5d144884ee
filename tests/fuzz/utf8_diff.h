/* The UTF-8 differential check shared by fuzz_utf8 (random bytes) and fuzz_utf8_struct (built
 * texts): every copy of every variant, fed the text whole and then in pieces, must give the
 * verdict the scalar DFA gives, and give it in the same call: the contract is to fail in the
 * piece holding the first bad byte (utf8.h), so a kernel that fails a piece too late or too
 * early is as wrong as one that accepts bad text. Each piece sits in a buffer of its exact
 * size, so that ASan reports a kernel reading past its piece. */
#ifndef WR_TESTS_FUZZ_UTF8_DIFF_H
#define WR_TESTS_FUZZ_UTF8_DIFF_H

#include "fuzz_common.h"
#include "utf8.h"

/* A feed's outcome over npieces pieces: the index of the piece whose call failed, npieces if
 * every call passed but finish() found a character left open, npieces + 1 if valid. */
static inline size_t u8d_expected(const uint8_t *p, size_t len, const size_t *cuts,
	size_t ncuts)
{
	uint32_t state = 0;
	size_t done;
	if (wr__utf8_dfa(&state, p, len, false, &done))
		return state ? ncuts + 1 : ncuts + 2; /* state 0: between characters (utf8.h) */
	size_t bad = done - 1, piece = 0; /* done counts the bad byte */
	while (piece < ncuts && cuts[piece] <= bad)
		piece++;
	return piece;
}

static inline size_t u8d_feed(wr_utf8_fn feed, const uint8_t *p, size_t len,
	const size_t *cuts, size_t ncuts)
{
	wr_utf8 s;
	wr__utf8_init(&s);
	size_t from = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;
		uint8_t *piece = fz_exact_copy(p + from, to - from);
		int r = feed(&s, piece, to - from);
		free(piece);
		if (r)
			return i;
		from = to;
	}
	return wr__utf8_finish(&s) ? ncuts + 1 : ncuts + 2;
}

static inline void u8d_fail(const char *fuzzer, const char *label, const uint8_t *p,
	size_t len, const size_t *cuts, size_t ncuts, size_t got, size_t want)
{
	fprintf(stderr, "%s: %s disagrees with the scalar DFA: outcome %zu, want %zu "
		"(piece index, %zu = open at the end, %zu = valid)\n", fuzzer, label, got, want,
		ncuts + 1, ncuts + 2);
	fz_print_cuts(cuts, ncuts, len);
	fprintf(stderr, "  text:");
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n   ", p[i]);
	fprintf(stderr, "\n");
	abort();
}

/* The scalar feed and every other copy, whole and in the given pieces. */
static inline void u8d_check(const char *fuzzer, const uint8_t *p, size_t len,
	const size_t *cuts, size_t ncuts)
{
	size_t whole = u8d_expected(p, len, NULL, 0), split = u8d_expected(p, len, cuts, ncuts);
	size_t n;
	const struct tv_copy *c = fz_copies(TV_UTF8, &n);
	for (size_t i = 0; i <= n; i++) {
		wr_utf8_fn feed = i < n ? c[i].fn.utf8 : wr__utf8_feed_scalar;
		const char *label = i < n ? c[i].label : "scalar";
		size_t got = u8d_feed(feed, p, len, NULL, 0);
		if (got != whole)
			u8d_fail(fuzzer, label, p, len, NULL, 0, got, whole);
		got = u8d_feed(feed, p, len, cuts, ncuts);
		if (got != split)
			u8d_fail(fuzzer, label, p, len, cuts, ncuts, got, split);
	}
}

#endif
