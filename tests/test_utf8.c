/* UTF-8 validation: the scalar DFA against an independent decoder-style oracle that also says
 * where a prefix first turns invalid, then every variant this CPU runs against the same
 * oracle: whole buffers, every split point, byte-at-a-time, and a bad byte at every position. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "simd_copies.h"
#include "utf8.h"

static void list_copies(void);
TestSuite(utf8, .init = list_copies);

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* The oracle: index of the first byte at which p's prefix can no longer be valid UTF-8, or len
 * if none; *complete says whether the text ends between characters. Written as a decoder
 * (length from the lead, range of the second byte from Table 3-7) rather than a DFA so that
 * it does not share the reference's structure. */
static size_t first_bad(const uint8_t *p, size_t len, bool *complete)
{
	size_t i = 0;
	while (i < len) {
		uint8_t b = p[i];
		size_t n;
		uint8_t lo = 0x80, hi = 0xbf;
		if (b < 0x80) {
			i++;
			continue;
		} else if (b >= 0xc2 && b <= 0xdf) {
			n = 2;
		} else if (b >= 0xe0 && b <= 0xef) {
			n = 3;
			if (b == 0xe0)
				lo = 0xa0;
			if (b == 0xed)
				hi = 0x9f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			n = 4;
			if (b == 0xf0)
				lo = 0x90;
			if (b == 0xf4)
				hi = 0x8f;
		} else {
			return i;
		}
		for (size_t j = 1; j < n; j++) {
			if (i + j >= len) {
				*complete = false;
				return len;
			}
			uint8_t c = p[i + j];
			if (c < (j == 1 ? lo : 0x80) || c > (j == 1 ? hi : 0xbf))
				return i + j;
		}
		i += n;
	}
	*complete = true;
	return len;
}

static size_t put_cp(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* Valid text of about len bytes (exactly len, padded with ASCII); width_mask picks which
 * widths (bit w-1 for w bytes) appear. */
static size_t gen_valid(uint8_t *o, size_t len, unsigned width_mask)
{
	static const uint32_t lo[4] = { 0, 0x80, 0x800, 0x10000 };
	static const uint32_t hi[4] = { 0x7f, 0x7ff, 0xffff, 0x10ffff };
	size_t n = 0;
	while (n + 4 <= len) {
		unsigned w;
		do
			w = (unsigned)(rnd() % 4);
		while (!(width_mask & (1u << w)));
		uint32_t cp;
		do
			cp = lo[w] + (uint32_t)(rnd() % (hi[w] - lo[w] + 1));
		while (cp >= 0xd800 && cp <= 0xdfff);
		n += put_cp(o + n, cp);
	}
	while (n < len)
		o[n++] = (uint8_t)('a' + rnd() % 26);
	return n;
}

/* Every runnable copy of every variant (simd_copies.h): native and SIMDe-emulated. */
static struct tv_copy copies[TV_MAX_COPIES];
static size_t ncopies;

static void list_copies(void)
{
	ncopies = tv_copies(TV_UTF8, copies);
}

/* One input through one copy, checked against the oracle: whole, then split at cut (when
 * cut <= len). The verdict must come from the call holding the first bad byte. */
static void check_one(const struct tv_copy *c, const uint8_t *p, size_t len, size_t cut)
{
	wr_utf8_fn feed = c->fn.utf8;
	bool complete = false;
	size_t bad = first_bad(p, len, &complete);
	wr_utf8 s;

	wr__utf8_init(&s);
	int r = feed(&s, p, len);
	cr_assert_eq(r, bad < len ? -EILSEQ : 0, "%s: len %zu first bad %zu: got %d",
		c->label, len, bad, r);
	if (r == 0)
		cr_assert_eq(wr__utf8_finish(&s), complete ? 0 : -EILSEQ, "%s: finish, len %zu",
			c->label, len);

	if (cut > len)
		return;
	wr__utf8_init(&s);
	r = feed(&s, p, cut);
	cr_assert_eq(r, bad < cut ? -EILSEQ : 0, "%s: len %zu cut %zu first bad %zu: first call %d",
		c->label, len, cut, bad, r);
	if (r)
		return;
	r = feed(&s, p + cut, len - cut);
	cr_assert_eq(r, bad < len ? -EILSEQ : 0, "%s: len %zu cut %zu first bad %zu: second call %d",
		c->label, len, cut, bad, r);
	if (r == 0)
		cr_assert_eq(wr__utf8_finish(&s), complete ? 0 : -EILSEQ);
}

/* Every copy on p, whole and split at every point. */
static void check_all_splits(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < ncopies; i++)
		for (size_t cut = 0; cut <= len; cut++)
			check_one(&copies[i], p, len, cut);
}

/* Every copy on p, whole only. */
static void check_whole(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < ncopies; i++)
		check_one(&copies[i], p, len, (size_t)-1);
}

/* seq embedded after pre ASCII bytes and before post ones, so that SIMD variants meet it at
 * every lane and across block boundaries. */
static void check_embedded(const uint8_t *seq, size_t n, bool splits)
{
	static const size_t pres[] = { 0, 1, 13, 15, 16, 29, 31, 32, 61, 63, 64, 127 };
	uint8_t buf[128 + 32 + 80]; /* longest pre + longest case + post */
	for (size_t i = 0; i < sizeof(pres) / sizeof(pres[0]); i++) {
		for (size_t post = 0; post <= 70; post += (post < 4 ? 1 : 33)) {
			size_t pre = pres[i];
			memset(buf, 'x', pre);
			memcpy(buf + pre, seq, n);
			memset(buf + pre + n, 'y', post);
			if (splits)
				check_all_splits(buf, pre + n + post);
			else
				check_whole(buf, pre + n + post);
		}
	}
}

/* Native copies exist exactly for the variants this CPU runs, and every x86 variant has an
 * emulated copy whatever the CPU. */
Test(utf8, variants)
{
	for (int v = 0; v < WR_SIMD_COUNT; v++) {
		struct tv_copy c[2];
		size_t n = tv_variant_copies(TV_UTF8, (enum wr_simd)v, c);
		bool native = n > 0 && !c[0].emulated;
		cr_expect_eq(native, wr__simd_supported((enum wr_simd)v), "%s",
			wr__simd_name((enum wr_simd)v));
#if defined(__x86_64__)
		if (v == WR_SIMD_SSE2 || v == WR_SIMD_AVX2 || v == WR_SIMD_AVX512) {
			const char *e = getenv("WR_SIMD_EMU");
			bool all = !e || strcmp(e, "missing") != 0;
			cr_expect(n > 0, "%s neither native nor emulated", wr__simd_name((enum wr_simd)v));
			cr_expect(!all || (n > 0 && c[n - 1].emulated), "%s has no emulated copy",
				wr__simd_name((enum wr_simd)v));
		}
#endif
	}
	cr_expect_not_null(wr__utf8_impl(WR_SIMD_SCALAR));
}

Test(utf8, basic)
{
	cr_expect(wr__utf8_valid((const uint8_t *)"", 0));
	cr_expect(wr__utf8_valid((const uint8_t *)"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 16));
	cr_expect_not(wr__utf8_valid((const uint8_t *)"\xc3", 1));
	cr_expect_not(wr__utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));
	/* RFC 6455 / Autobahn 6.4.x style: the error must surface at the bad byte, not at the end */
	wr_utf8 s;
	wr__utf8_init(&s);
	cr_expect_eq(wr__utf8_feed(&s, (const uint8_t *)"\xce\xba\xe1\xbd\xb9\xcf\x83", 7), 0);
	cr_expect_eq(wr__utf8_feed(&s, (const uint8_t *)"\xce\xbc\xce\xb5\xf4\x90\x80\x80", 6 + 2),
		-EILSEQ);
}

Test(utf8, oracle_sanity)
{
	/* The oracle itself, on the textbook cases, so a shared mistake cannot hide. */
	bool c;
	cr_expect_eq(first_bad((const uint8_t *)"\xe0\x80", 2, &c), 1);
	cr_expect_eq(first_bad((const uint8_t *)"\xed\xa0", 2, &c), 1);
	cr_expect_eq(first_bad((const uint8_t *)"\xf4\x90", 2, &c), 1);
	cr_expect_eq(first_bad((const uint8_t *)"a\xf5", 2, &c), 1);
	cr_expect_eq(first_bad((const uint8_t *)"\xc0", 1, &c), 0);
	cr_expect_eq(first_bad((const uint8_t *)"\xc1\xbf", 2, &c), 0);
	cr_expect_eq(first_bad((const uint8_t *)"ab\x80", 3, &c), 2);
	cr_expect_eq(first_bad((const uint8_t *)"\xf0\x90\x80", 3, &c), 3);
	cr_expect_not(c);
}

Test(utf8, all_two_byte_sequences)
{
	for (unsigned a = 0x80; a < 0x100; a++) {
		for (unsigned b = 0; b < 0x100; b++) {
			uint8_t seq[2] = { (uint8_t)a, (uint8_t)b };
			uint8_t buf[40];
			memset(buf, 'z', sizeof(buf));
			/* at the start, mid-vector and straddling the 16- and 32-byte marks */
			check_whole(seq, 2);
			memcpy(buf + 15, seq, 2);
			check_whole(buf, sizeof(buf));
			memset(buf, 'z', sizeof(buf));
			memcpy(buf + 31, seq, 2);
			check_whole(buf, sizeof(buf));
		}
	}
}

Test(utf8, all_three_byte_sequences)
{
	for (unsigned a = 0xc0; a < 0x100; a++) {
		for (unsigned b = 0x80; b < 0xc0; b++) {
			for (unsigned c = 0; c < 0x100; c++) {
				uint8_t buf[36];
				memset(buf, 'z', sizeof(buf));
				buf[30] = (uint8_t)a;
				buf[31] = (uint8_t)b;
				buf[32] = (uint8_t)c;
				check_whole(buf, sizeof(buf));
			}
		}
	}
}

Test(utf8, four_byte_forms)
{
	static const uint8_t seconds[] = { 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0 };
	static const uint8_t thirds[] = { 0x7f, 0x80, 0xbf, 0xc0 };
	for (unsigned a = 0xf0; a < 0x100; a++)
		for (size_t b = 0; b < sizeof(seconds); b++)
			for (size_t c = 0; c < sizeof(thirds); c++)
				for (unsigned d = 0; d < 0x100; d++) {
					uint8_t seq[4] = { (uint8_t)a, seconds[b], thirds[c], (uint8_t)d };
					uint8_t buf[40];
					memset(buf, 'z', sizeof(buf));
					check_whole(seq, 4);
					memcpy(buf + 29, seq, 4);
					check_whole(buf, sizeof(buf));
				}
}

Test(utf8, adversarial)
{
	static const struct {
		const char *s;
		size_t n;
	} cases[] = {
#define C(lit) { lit, sizeof(lit) - 1 }
		/* overlongs of every width, at their edges */
		C("\xc0\x80"), C("\xc0\xaf"), C("\xc1\xbf"), C("\xe0\x80\x80"), C("\xe0\x9f\xbf"),
		C("\xf0\x80\x80\x80"), C("\xf0\x8f\xbf\xbf"), C("\xf8\x88\x80\x80\x80"),
		C("\xfc\x84\x80\x80\x80\x80"),
		/* smallest non-overlong forms */
		C("\xc2\x80"), C("\xe0\xa0\x80"), C("\xf0\x90\x80\x80"),
		/* surrogates and their neighbours */
		C("\xed\x9f\xbf"), C("\xed\xa0\x80"), C("\xed\xad\xbf"), C("\xed\xae\x80"),
		C("\xed\xbf\xbf"), C("\xee\x80\x80"), C("\xed\xa0\x80\xed\xb0\x80"),
		/* the top of the code space and past it */
		C("\xef\xbf\xbf"), C("\xf4\x8f\xbf\xbf"), C("\xf4\x90\x80\x80"),
		C("\xf7\xbf\xbf\xbf"), C("\xf5\x80\x80\x80"), C("\xff"), C("\xfe"), C("\xf5"),
		/* stray and missing continuations */
		C("\x80"), C("\xbf"), C("a\x80\x80"), C("\xc2\x80\x80"), C("\xe2\x82"), C("\xe2\x82" "a"),
		C("\xf0\x9f\x98"), C("\xf0\x9f\x98" "a"), C("\xc2\xc2\x80"), C("\xe2\xe2\x82\xac"),
		/* the Autobahn 6.x "invalid after valid" pattern */
		C("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited"),
#undef C
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_embedded((const uint8_t *)cases[i].s, cases[i].n, true);

	/* every surrogate D800..DFFF */
	for (uint32_t cp = 0xd800; cp <= 0xdfff; cp++) {
		uint8_t seq[3] = { 0xed, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)),
			(uint8_t)(0x80 | (cp & 0x3f)) };
		check_embedded(seq, 3, false);
	}
}

Test(utf8, truncation_at_every_position)
{
	uint8_t buf[300];
	for (int round = 0; round < 8; round++) {
		gen_valid(buf, sizeof(buf), 0xe);
		for (size_t len = 0; len <= sizeof(buf); len++)
			check_all_splits(buf, len);
	}
}

Test(utf8, random_valid_text)
{
	uint8_t buf[4096];
	for (unsigned mask = 1; mask < 16; mask++) {
		for (int round = 0; round < 20; round++) {
			size_t len = rnd() % sizeof(buf);
			gen_valid(buf, len, mask);
			bool c;
			cr_assert_eq(first_bad(buf, len, &c), len);
			cr_assert(c);
			cr_assert(wr__utf8_valid(buf, len));
			for (size_t i = 0; i < ncopies; i++)
				for (int k = 0; k < 8; k++)
					check_one(&copies[i], buf, len, rnd() % (len + 1));
		}
	}
}

Test(utf8, random_bytes)
{
	uint8_t buf[512];
	for (int round = 0; round < 20000; round++) {
		size_t len = rnd() % 80;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd();
		/* mostly-valid inputs are the interesting ones: mix in valid text with a few flips */
		if (round & 1) {
			len = rnd() % sizeof(buf);
			gen_valid(buf, len, (unsigned)(1 + rnd() % 15));
			for (int f = (int)(rnd() % 3); f >= 0; f--)
				if (len)
					buf[rnd() % len] = (uint8_t)rnd();
		}
		for (size_t i = 0; i < ncopies; i++)
			check_one(&copies[i], buf, len, rnd() % (len + 1));
	}
}

Test(utf8, bad_byte_at_every_position)
{
	static const uint8_t bad[] = { 0x80, 0xbf, 0xc0, 0xc1, 0xe0, 0xed, 0xf4, 0xf5, 0xff };
	uint8_t text[300], buf[300];
	gen_valid(text, sizeof(text), 0xf);
	for (size_t pos = 0; pos < sizeof(buf); pos++) {
		for (size_t b = 0; b < sizeof(bad); b++) {
			memcpy(buf, text, sizeof(buf));
			buf[pos] = bad[b];
			for (size_t i = 0; i < ncopies; i++) {
				check_one(&copies[i], buf, sizeof(buf), pos);
				check_one(&copies[i], buf, sizeof(buf), pos + 1);
				check_one(&copies[i], buf, sizeof(buf), rnd() % sizeof(buf));
			}
		}
	}
}

/* Byte-at-a-time and in random small pieces: the error comes from exactly the piece holding
 * the first bad byte, and finish() sees an open character at the end. */
Test(utf8, chunked_feeding)
{
	uint8_t buf[700];
	for (int round = 0; round < 300; round++) {
		size_t len = rnd() % sizeof(buf);
		gen_valid(buf, len, (unsigned)(1 + rnd() % 15));
		if (round % 3 == 0 && len)
			buf[rnd() % len] = (uint8_t)rnd();
		if (round % 5 == 0 && len)
			len -= rnd() % (len < 3 ? len : 3);
		bool complete = false;
		size_t badpos = first_bad(buf, len, &complete);
		for (size_t i = 0; i < ncopies; i++) {
			wr_utf8_fn feed = copies[i].fn.utf8;
			wr_utf8 s;
			wr__utf8_init(&s);
			size_t at = 0;
			int r = 0;
			while (at < len) {
				size_t n = round & 1 ? 1 : 1 + rnd() % 70;
				if (n > len - at)
					n = len - at;
				r = feed(&s, buf + at, n);
				bool holds_bad = badpos >= at && badpos < at + n;
				cr_assert_eq(r, holds_bad ? -EILSEQ : 0, "%s: piece %zu+%zu, bad at %zu",
					copies[i].label, at, n, badpos);
				at += n;
				if (r)
					break;
			}
			if (r == 0) {
				cr_assert_eq(wr__utf8_finish(&s), complete ? 0 : -EILSEQ);
				cr_assert(s.npend <= 3);
				cr_assert_eq(s.npend == 0, complete);
			}
		}
	}
}

Test(utf8, pending_bytes_kept)
{
	const uint8_t euro[] = { 0xe2, 0x82, 0xac };
	wr_utf8 s;
	wr__utf8_init(&s);
	cr_assert_eq(wr__utf8_feed(&s, (const uint8_t *)"ab", 2), 0);
	cr_assert_eq(wr__utf8_feed(&s, euro, 1), 0);
	cr_assert_eq(s.npend, 1);
	cr_assert_eq(wr__utf8_feed(&s, euro + 1, 1), 0);
	cr_assert_eq(s.npend, 2);
	cr_assert_arr_eq(s.pend, euro, 2);
	cr_assert_eq(wr__utf8_finish(&s), -EILSEQ);
	cr_assert_eq(wr__utf8_feed(&s, euro + 2, 1), 0);
	cr_assert_eq(s.npend, 0);
	cr_assert_eq(wr__utf8_finish(&s), 0);
}

/* Inputs that end exactly at an unmapped page: no variant may read past the end. */
Test(utf8, guard_page)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	uint8_t *end = map + pg;
	for (size_t len = 0; len <= 300; len++) {
		gen_valid(end - len, len, (unsigned)(1 + len % 15));
		if (len % 3 == 0 && len)
			end[-1] = 0xe2; /* an open character right at the edge */
		for (size_t cut = 0; cut <= len; cut += 1 + len / 8)
			for (size_t i = 0; i < ncopies; i++)
				check_one(&copies[i], end - len, len, cut);
	}
	munmap(map, (size_t)pg * 2);
}
