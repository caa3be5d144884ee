/* Every SIMD variant against the scalar references, as a plain TAP program (no Criterion, so
 * that it runs whole under qemu-user: Criterion re-executes its workers natively):
 *  - cross-built for aarch64 and run under qemu-aarch64, for NEON (tests/neon/run.sh);
 *  - built for x86-64 with the SIMDe copies and run under qemu-x86_64 with CPU models that
 *    lack AVX-512 or AVX2 (tests/simd_cpus.sh): the run a machine without those features
 *    would do, with the dispatcher's choice checked too.
 * Same inputs as test_simd/test_utf8/test_http_scan in brief: every length 0..257, every
 * alignment, every key phase; valid, random and adversarial UTF-8, whole and split at every
 * point; the HTTP scanner on every length and alignment, every byte value at every position,
 * long inputs, page ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http_scan.h"
#include "simd.h"
#include "simd_copies.h"
#include "utf8.h"

static int n_test, n_fail;

static void report(int ok, const char *what)
{
	n_test++;
	if (!ok)
		n_fail++;
	printf("%s %d - %s\n", ok ? "ok" : "not ok", n_test, what);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static const char *label; /* the copy under test, for messages */

static int check_unmask(wr_unmask_fn fn)
{
	static uint8_t a[257 + 64 + 16], b[257 + 64 + 16];
	for (size_t len = 0; len <= 257; len++)
		for (size_t al = 0; al < 64; al++)
			for (unsigned ph = 0; ph < 4; ph++) {
				uint8_t key[4] = { (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd() };
				for (size_t i = 0; i < sizeof(a); i++)
					a[i] = b[i] = (uint8_t)rnd();
				wr__unmask_bytewise(a + al, len, key, ph);
				fn(b + al, len, key, ph);
				if (memcmp(a, b, sizeof(a)) != 0) {
					printf("# unmask %s differs: len %zu align %zu phase %u\n", label, len, al, ph);
					return 0;
				}
			}
	/* Long buffers, cut anywhere, phase carried across the cut. */
	size_t big = 1 << 20;
	uint8_t *x = malloc(big), *y = malloc(big);
	for (int round = 0; round < 20; round++) {
		uint8_t key[4] = { (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd() };
		size_t len = rnd() % big, cut = len ? rnd() % len : 0;
		for (size_t i = 0; i < len; i++)
			x[i] = y[i] = (uint8_t)rnd();
		wr__unmask_bytewise(x, len, key, 0);
		fn(y, cut, key, 0);
		fn(y + cut, len - cut, key, (unsigned)cut & 3);
		if (memcmp(x, y, len) != 0) {
			printf("# unmask %s differs on %zu bytes cut at %zu\n", label, len, cut);
			free(x);
			free(y);
			return 0;
		}
	}
	free(x);
	free(y);
	return 1;
}

static int verdict(wr_utf8_fn fn, const uint8_t *p, size_t n, size_t split)
{
	wr_utf8 s;
	wr__utf8_init(&s);
	if (fn(&s, p, split) < 0 || fn(&s, p + split, n - split) < 0)
		return -1;
	return wr__utf8_finish(&s) < 0 ? -1 : 0;
}

/* Same verdict as the scalar reference, whole and split at every point. */
static wr_utf8_fn utf8_fn; /* the copy under test */

static int same(const uint8_t *p, size_t n)
{
	int want = verdict(wr__utf8_feed_scalar, p, n, 0);
	for (size_t split = 0; split <= n; split++)
		if (verdict(utf8_fn, p, n, split) != want) {
			printf("# utf8 %s differs (want %d) on %zu bytes split at %zu\n", label, want, n,
				split);
			return 0;
		}
	return 1;
}

static size_t put_cp(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) { o[0] = (uint8_t)cp; return 1; }
	if (cp < 0x800) { o[0] = (uint8_t)(0xc0 | cp >> 6); o[1] = (uint8_t)(0x80 | (cp & 63)); return 2; }
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12); o[1] = (uint8_t)(0x80 | ((cp >> 6) & 63));
		o[2] = (uint8_t)(0x80 | (cp & 63)); return 3;
	}
	o[0] = (uint8_t)(0xf0 | cp >> 18); o[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
	o[2] = (uint8_t)(0x80 | ((cp >> 6) & 63)); o[3] = (uint8_t)(0x80 | (cp & 63)); return 4;
}

static uint32_t rnd_cp(void)
{
	for (;;) {
		uint32_t cp;
		switch (rnd() % 4) {
		case 0: cp = rnd() % 0x80; break;
		case 1: cp = 0x80 + rnd() % (0x800 - 0x80); break;
		case 2: cp = 0x800 + rnd() % (0x10000 - 0x800); break;
		default: cp = 0x10000 + rnd() % (0x110000 - 0x10000); break;
		}
		if (cp < 0xd800 || cp > 0xdfff)
			return cp;
	}
}

static int check_utf8_valid_and_corrupted(void)
{
	uint8_t buf[400];
	for (int round = 0; round < 300; round++) {
		size_t n = 0;
		while (n < 300)
			n += put_cp(buf + n, rnd_cp());
		if (!same(buf, n))
			return 0;
		/* One corrupted byte at a random place: the verdicts must still agree. */
		buf[rnd() % n] = (uint8_t)rnd();
		if (!same(buf, n))
			return 0;
	}
	return 1;
}

static int check_utf8_adversarial(void)
{
	static const char *const cases[] = {
		"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xf0\x80\x80\xaf",
		"\xf0\x8f\xbf\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
		"\xff", "\xfe", "\x80", "\xbf", "\xe2\x82", "\xf0\x9f\x98", "\xf0\x9f\x98\x80",
		"\xf4\x8f\xbf\xbf", "\xef\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80", "\xc2\x80",
	};
	uint8_t buf[128];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t cl = strlen(cases[i]);
		/* Alone, and inside ASCII at every position of a 64-byte window. */
		if (!same((const uint8_t *)cases[i], cl))
			return 0;
		for (size_t at = 0; at + cl <= 64; at++) {
			memset(buf, 'a', 64);
			memcpy(buf + at, cases[i], cl);
			if (!same(buf, 64))
				return 0;
		}
	}
	/* Random bytes of every length up to 257. */
	for (size_t n = 0; n <= 257; n++) {
		for (size_t i = 0; i < n; i++)
			buf[i % sizeof(buf)] = (uint8_t)rnd();
		uint8_t *p = malloc(n + 1);
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(rnd() % 3 ? rnd() % 0x80 : rnd());
		int ok = same(p, n);
		free(p);
		if (!ok)
			return 0;
	}
	return 1;
}

/* The HTTP scanner: NEON and scalar give the same prefix length for both byte classes. */
static int scan_same(wr_http_scan_fn fn, wr_http_scan_fn ref, const char *p, size_t n,
                     const char *cls)
{
	size_t got = fn(p, n), want = ref(p, n);
	if (got != want) {
		printf("# http_scan %s %s differs: len %zu got %zu want %zu\n", cls, label, n, got,
			want);
		return 0;
	}
	return 1;
}

static void fill_printable(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t r = rnd();
		p[i] = (char)(r % 4 == 0 ? 0x80 + (r >> 8) % 0x80 : 0x21 + (r >> 8) % 0x5e);
	}
}

/* One class (c: 0 value, 1 target) through one copy. */
static int check_http_scan(int c, wr_http_scan_fn fn)
{
	static const char *const names[2] = { "value", "target" };
	static char a[64 + 257 + 64];
	{
		wr_http_scan_fn ref = c ? wr__http_scan_target_scalar : wr__http_scan_value_scalar;
		for (size_t len = 0; len <= 257; len++)
			for (size_t al = 0; al < 64; al++) {
				memset(a, 0, sizeof(a));
				fill_printable(a + al, len);
				if (!scan_same(fn, ref, a + al, len, names[c]))
					return 0;
				/* each control byte and DEL, HTAB and SP at a random position */
				if (len) {
					size_t pos = rnd() % len;
					char save = a[al + pos];
					for (unsigned b = 0; b <= 0x20; b++) {
						a[al + pos] = (char)b;
						if (!scan_same(fn, ref, a + al, len, names[c]))
							return 0;
					}
					a[al + pos] = 0x7f;
					if (!scan_same(fn, ref, a + al, len, names[c]))
						return 0;
					a[al + pos] = save;
				}
				for (size_t i = 0; i < len; i++)
					a[al + i] = (char)rnd();
				if (!scan_same(fn, ref, a + al, len, names[c]))
					return 0;
			}
		/* all 256 byte values at every position of inputs up to 257 bytes */
		static const size_t lens[] = { 16, 17, 31, 64, 65, 129, 257 };
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			size_t len = lens[li], al = rnd() % 64;
			fill_printable(a + al, len);
			for (size_t pos = 0; pos < len; pos++) {
				char save = a[al + pos];
				for (unsigned b = 0; b < 256; b++) {
					a[al + pos] = (char)b;
					if (!scan_same(fn, ref, a + al, len, names[c]))
						return 0;
				}
				a[al + pos] = save;
			}
		}
		/* long input, one bad byte anywhere */
		size_t big = (1u << 16) + 77;
		char *x = malloc(big);
		fill_printable(x, big);
		int ok = scan_same(fn, ref, x, big, names[c]);
		for (int round = 0; ok && round < 100; round++) {
			size_t pos = rnd() % big;
			char save = x[pos];
			x[pos] = (char)(rnd() % 0x20);
			ok = scan_same(fn, ref, x, big, names[c]);
			x[pos] = save;
		}
		free(x);
		if (!ok)
			return 0;
		/* inputs ending at an unmapped page: an over-read faults */
		long pg = sysconf(_SC_PAGESIZE);
		char *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED || mprotect(map + pg, (size_t)pg, PROT_NONE) != 0)
			return 0;
		char *end = map + pg;
		fill_printable(map, (size_t)pg);
		for (size_t len = 0; len <= 520; len++)
			if (fn(end - len, len) != len) {
				printf("# http_scan %s %s: len %zu at a page end\n", names[c], label, len);
				munmap(map, (size_t)pg * 2);
				return 0;
			}
		munmap(map, (size_t)pg * 2);
	}
	return 1;
}

static const char *mode(const struct tv_copy *c)
{
	return c->emulated ? "emulated (SIMDe)" : "native";
}

int main(int argc, char **argv)
{
	/* argv[1], when given, names the variant this CPU must pick: the dispatcher is checked
	 * against the emulated CPU's features. */
	const char *want = argc > 1 ? argv[1] : NULL;
	if (want) {
		char what[96];
		snprintf(what, sizeof(what), "the dispatcher picks %s on this CPU", want);
		report(strcmp(wr__simd_name(wr__simd_active()), want) == 0, what);
		if (strcmp(wr__simd_name(wr__simd_active()), want) != 0)
			printf("# it picked %s\n", wr__simd_name(wr__simd_active()));
	}

	struct tv_copy cp[TV_MAX_COPIES];
	char what[160];
	size_t n = tv_copies(TV_UNMASK, cp);
	for (size_t i = 0; i < n; i++) {
		label = cp[i].label;
		snprintf(what, sizeof(what), "unmask %s: %s, equals the byte loop (len 0..257 x align "
			"0..63 x phase, 1 MiB cuts)", wr__simd_name(cp[i].v), mode(&cp[i]));
		report(check_unmask(cp[i].fn.unmask), what);
	}
	/* The scalar UTF-8 and scanner copies are the references themselves: skipped. */
	n = tv_copies(TV_UTF8, cp);
	for (size_t i = 1; i < n; i++) {
		label = cp[i].label;
		utf8_fn = cp[i].fn.utf8;
		snprintf(what, sizeof(what), "utf8 %s: %s, equals scalar on valid, corrupted and "
			"adversarial text, every split", wr__simd_name(cp[i].v), mode(&cp[i]));
		report(check_utf8_valid_and_corrupted() && check_utf8_adversarial(), what);
	}
	for (int c = 0; c < 2; c++) {
		n = tv_copies(c ? TV_SCAN_TARGET : TV_SCAN_VALUE, cp);
		for (size_t i = 1; i < n; i++) {
			label = cp[i].label;
			snprintf(what, sizeof(what), "%s %s: %s, equals scalar (len 0..257 x align 0..63, "
				"all bytes at every position, page end)", tv_kernel_name(c ? TV_SCAN_TARGET :
				TV_SCAN_VALUE), wr__simd_name(cp[i].v), mode(&cp[i]));
			report(check_http_scan(c, cp[i].fn.scan), what);
		}
	}
	printf("1..%d\n", n_test);
	return n_fail ? 1 : 0;
}
