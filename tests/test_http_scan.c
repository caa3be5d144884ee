/* HTTP scanner: every variant this CPU can run against the scalar reference, for both byte
 * classes (field value, request target): every length 0..257 at every alignment 0..63, each
 * forbidden byte at every position, all 256 byte values at every position of a window, random
 * bytes, and inputs that end (or start) at an unmapped page. The scalar reference itself is
 * checked against the class definitions written out here once more. Each variant runs
 * natively where this CPU can, and as its SIMDe-emulated copy on every CPU (simd_copies.h). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "http_scan.h"
#include "simd_copies.h"
#include "tmem.h"

enum cls { VALUE, TARGET };

static const char *const cls_names[2] = { "value", "target" };

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* The classes spelled out independently of http_scan.h. */
static bool allowed(enum cls c, unsigned char b)
{
	if (b == 0x7f)
		return false;
	if (c == VALUE)
		return b == 0x09 || b >= 0x20;
	return b >= 0x21;
}

static size_t reference(enum cls c, const char *p, size_t n)
{
	return c == VALUE ? wr__http_scan_value_scalar(p, n) : wr__http_scan_target_scalar(p, n);
}

/* Random allowed bytes: mostly printable ASCII, some obs-text, and HTAB/SP where allowed. */
static void fill_allowed(enum cls c, char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char b;
		do {
			uint64_t r = rnd();
			switch (r % 4) {
			case 0: b = (unsigned char)(0x80 + (r >> 8) % 0x80); break;
			case 1: b = (r >> 8) & 1 ? '\t' : ' '; break;
			default: b = (unsigned char)(0x21 + (r >> 8) % 0x5e); break;
			}
		} while (!allowed(c, b));
		p[i] = (char)b;
	}
}

/* The bytes that must stop a scan of this class below 0x80. */
static size_t forbidden(enum cls c, unsigned char out[40])
{
	size_t k = 0;
	for (unsigned b = 0; b < 0x80; b++)
		if (!allowed(c, (unsigned char)b))
			out[k++] = (unsigned char)b;
	return k;
}

Test(http_scan, reference_matches_class)
{
	char buf[300];
	for (int c = VALUE; c <= TARGET; c++) {
		for (unsigned b = 0; b < 256; b++) {
			buf[0] = (char)b;
			cr_assert_eq(reference((enum cls)c, buf, 1), allowed((enum cls)c, (unsigned char)b),
				"%s byte 0x%02x", cls_names[c], b);
		}
		unsigned char bad[40];
		size_t nbad = forbidden((enum cls)c, bad);
		cr_assert_eq(nbad, c == VALUE ? 32u : 34u);
		for (size_t len = 0; len <= 257; len++) {
			fill_allowed((enum cls)c, buf, len);
			cr_assert_eq(reference((enum cls)c, buf, len), len);
			for (size_t pos = 0; pos < len; pos++) {
				char save = buf[pos];
				buf[pos] = (char)bad[(pos + len) % nbad];
				cr_assert_eq(reference((enum cls)c, buf, len), pos);
				buf[pos] = save;
			}
		}
	}
}

Test(http_scan, impl_null_iff_unsupported)
{
	for (int v = 0; v < WR_SIMD_COUNT; v++) {
		bool sup = wr__simd_supported((enum wr_simd)v);
		cr_expect_eq(wr__http_scan_value_impl((enum wr_simd)v) != NULL, sup, "%s",
			wr__simd_name((enum wr_simd)v));
		cr_expect_eq(wr__http_scan_target_impl((enum wr_simd)v) != NULL, sup, "%s",
			wr__simd_name((enum wr_simd)v));
	}
	cr_expect_null(wr__http_scan_value_impl(WR_SIMD_COUNT));
	fprintf(stderr, "# active variant: %s\n", wr__simd_name(wr__simd_active()));
}

#define PAD 64
static char a[PAD + 257 + PAD];

static void expect_same(enum cls c, const char *label, wr_http_scan_fn fn, const char *p,
                        size_t n, const char *what, size_t x, size_t y)
{
	size_t want = reference(c, p, n), got = fn(p, n);
	cr_assert_eq(got, want, "%s %s %s: len %zu, %zu/%zu: got %zu want %zu", cls_names[c],
		label, what, n, x, y, got, want);
}

static void check_copy(enum cls c, const struct tv_copy *cp)
{
	wr_http_scan_fn fn = cp->fn.scan;
	const char *label = cp->label;
	unsigned char bad[40];
	size_t nbad = forbidden(c, bad);

	/* Every length at every alignment: all allowed, then one forbidden byte in a random
	 * place, then fully random bytes (mostly stopping early), surrounded by forbidden bytes
	 * that a scan reading past the end would stop at. */
	for (size_t len = 0; len <= 257; len++) {
		for (size_t off = 0; off < 64; off++) {
			memset(a, 0, sizeof(a));
			fill_allowed(c, a + off, len);
			expect_same(c, label, fn, a + off, len, "allowed", off, 0);
			cr_assert_eq(fn(a + off, len), len);
			if (len) {
				size_t pos = rnd() % len;
				a[off + pos] = (char)bad[rnd() % nbad];
				expect_same(c, label, fn, a + off, len, "one bad", off, pos);
			}
			for (size_t i = 0; i < len; i++)
				a[off + i] = (char)rnd();
			expect_same(c, label, fn, a + off, len, "random", off, 0);
		}
	}

	/* Each forbidden byte (CTLs but HTAB, DEL; for targets HTAB and SP too) at every
	 * position of every length, alignment varying with the length; a second bad byte later
	 * must not matter. */
	for (size_t len = 1; len <= 257; len++) {
		size_t off = len % 64;
		fill_allowed(c, a + off, len);
		for (size_t pos = 0; pos < len; pos++) {
			for (size_t k = 0; k < nbad; k++) {
				char save = a[off + pos];
				a[off + pos] = (char)bad[k];
				cr_assert_eq(fn(a + off, len), pos, "%s %s: byte 0x%02x at %zu of %zu",
					cls_names[c], label, bad[k], pos, len);
				if (pos + 1 < len) {
					char save2 = a[off + len - 1];
					a[off + len - 1] = (char)bad[(k + 1) % nbad];
					cr_assert_eq(fn(a + off, len), pos);
					a[off + len - 1] = save2;
				}
				a[off + pos] = save;
			}
		}
	}

	/* All 256 byte values at every position of a 64-byte window, at every alignment; and
	 * of windows in longer inputs, where the unrolled loops and the overlapping tail run. */
	for (size_t off = 0; off < 64; off++) {
		fill_allowed(c, a + off, 64);
		for (size_t pos = 0; pos < 64; pos++) {
			char save = a[off + pos];
			for (unsigned b = 0; b < 256; b++) {
				a[off + pos] = (char)b;
				size_t want = allowed(c, (unsigned char)b) ? 64 : pos;
				cr_assert_eq(fn(a + off, 64), want, "%s %s: byte 0x%02x at %zu, align %zu",
					cls_names[c], label, b, pos, off);
			}
			a[off + pos] = save;
		}
	}
	static const size_t lens[] = { 65, 100, 127, 128, 129, 200, 255, 256, 257 };
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t len = lens[li], off = rnd() % 64;
		fill_allowed(c, a + off, len);
		for (size_t pos = 0; pos < len; pos++) {
			char save = a[off + pos];
			for (unsigned b = 0; b < 256; b++) {
				a[off + pos] = (char)b;
				size_t want = allowed(c, (unsigned char)b) ? len : pos;
				cr_assert_eq(fn(a + off, len), want, "%s %s: byte 0x%02x at %zu of %zu",
					cls_names[c], label, b, pos, len);
			}
			a[off + pos] = save;
		}
	}

	/* Long inputs, the bad byte far in or absent. */
	size_t big = (1u << 16) + 77;
	char *x = tmalloc(big);
	fill_allowed(c, x, big);
	cr_assert_eq(fn(x, big), big);
	for (int round = 0; round < 200; round++) {
		size_t pos = rnd() % big;
		char save = x[pos];
		x[pos] = (char)bad[rnd() % nbad];
		cr_assert_eq(fn(x, big), pos);
		x[pos] = save;
	}
	tfree(x);

	/* Inputs ending exactly at an unmapped page, and starting right after one: nothing
	 * outside p[0..n) may be read (a fault kills the test; ASan would report it too). */
	long pg = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, (size_t)pg * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		-1, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map, (size_t)pg, PROT_NONE), 0);
	cr_assert_eq(mprotect(map + 2 * pg, (size_t)pg, PROT_NONE), 0);
	char *lo = map + pg, *end = map + 2 * pg;
	fill_allowed(c, lo, (size_t)pg);
	for (size_t len = 0; len <= 520; len++) {
		cr_assert_eq(fn(end - len, len), len, "%s %s: len %zu at page end", cls_names[c],
			label, len);
		cr_assert_eq(fn(lo, len), len, "%s %s: len %zu at page start", cls_names[c],
			label, len);
		if (len) {
			char save = end[-1];
			end[-1] = (char)bad[len % nbad];
			cr_assert_eq(fn(end - len, len), len - 1);
			end[-1] = save;
		}
	}
	munmap(map, (size_t)pg * 3);
}

/* Every copy of variant v for class c: native and emulated. An x86 variant with no copy is a
 * failure; NEON runs under qemu-user (tests/neon). */
static void check_variant(enum cls c, enum wr_simd v)
{
	struct tv_copy cp[2];
	size_t n = tv_variant_copies(c == VALUE ? TV_SCAN_VALUE : TV_SCAN_TARGET, v, cp);
	cr_assert_gt(n, 0, "http_scan %s %s: neither native nor emulated here", cls_names[c],
		wr__simd_name(v));
	cr_assert_eq(!cp[0].emulated, wr__simd_supported(v));
	for (size_t i = 0; i < n; i++)
		check_copy(c, &cp[i]);
}

Test(http_scan, value_scalar) { check_variant(VALUE, WR_SIMD_SCALAR); }
Test(http_scan, target_scalar) { check_variant(TARGET, WR_SIMD_SCALAR); }
#if defined(__x86_64__) || defined(__aarch64__)
/* The x86 variants run everywhere SIMDe builds them: natively or emulated. */
Test(http_scan, value_sse2) { check_variant(VALUE, WR_SIMD_SSE2); }
Test(http_scan, value_avx2) { check_variant(VALUE, WR_SIMD_AVX2); }
Test(http_scan, value_avx512) { check_variant(VALUE, WR_SIMD_AVX512); }
Test(http_scan, target_sse2) { check_variant(TARGET, WR_SIMD_SSE2); }
Test(http_scan, target_avx2) { check_variant(TARGET, WR_SIMD_AVX2); }
Test(http_scan, target_avx512) { check_variant(TARGET, WR_SIMD_AVX512); }
#endif
#if defined(__aarch64__)
Test(http_scan, value_neon) { check_variant(VALUE, WR_SIMD_NEON); }
Test(http_scan, target_neon) { check_variant(TARGET, WR_SIMD_NEON); }
#endif

/* The dispatch point (short inputs take the byte loop, longer ones the active variant). */
Test(http_scan, dispatcher)
{
	for (size_t len = 0; len <= 257; len++) {
		size_t off = len % 64;
		for (int c = VALUE; c <= TARGET; c++) {
			fill_allowed((enum cls)c, a + off, len);
			if (len && rnd() % 2)
				a[off + rnd() % len] = (char)(rnd() % 0x20);
			size_t want = reference((enum cls)c, a + off, len);
			size_t got = c == VALUE ? wr__http_scan_value(a + off, len) :
				wr__http_scan_target(a + off, len);
			cr_assert_eq(got, want, "%s len %zu", cls_names[c], len);
		}
	}
}
