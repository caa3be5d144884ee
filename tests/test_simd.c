/* Unmasking: every variant against the plain byte loop, over every length 0..257 at every
 * alignment 0..63 and phase 0..3, plus long buffers: natively where this CPU runs the variant,
 * and the SIMDe-emulated copy of each x86 variant on every CPU (simd_copies.h). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "simd.h"
#include "simd_copies.h"
#include "tmem.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible, good enough for test data */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void fill_random(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rnd();
}

Test(simd, names_and_detection)
{
	cr_expect(wr__simd_supported(WR_SIMD_SCALAR));
	cr_expect_not(wr__simd_supported(WR_SIMD_COUNT));
	cr_expect(wr__simd_supported(wr__simd_active()));
	cr_expect_str_eq(wr__simd_name(WR_SIMD_AVX2), "avx2");
	cr_expect_str_eq(wr__simd_name(WR_SIMD_COUNT), "unknown");
	for (int v = 0; v < WR_SIMD_COUNT; v++)
		cr_expect_eq(wr__unmask_impl((enum wr_simd)v) != NULL,
			wr__simd_supported((enum wr_simd)v));
	/* The active variant is the best supported one when WR_SIMD is unset. */
	if (!getenv("WR_SIMD")) {
		for (int v = wr__simd_active() + 1; v < WR_SIMD_COUNT; v++)
			cr_expect_not(wr__simd_supported((enum wr_simd)v), "%s supported but %s active",
				wr__simd_name((enum wr_simd)v), wr__simd_name(wr__simd_active()));
	}
	fprintf(stderr, "# active variant: %s\n", wr__simd_name(wr__simd_active()));
}

/* Criterion runs each test in its own process, so the choice is still to be made here. */
Test(simd, env_caps_choice)
{
	setenv("WR_SIMD", "scalar", 1);
	cr_expect_eq(wr__simd_active(), WR_SIMD_SCALAR);
}

Test(simd, env_cap_sse2)
{
	setenv("WR_SIMD", "sse2", 1);
	enum wr_simd want = wr__simd_supported(WR_SIMD_SSE2) ? WR_SIMD_SSE2 : WR_SIMD_SCALAR;
	cr_expect_eq(wr__simd_active(), want);
}

Test(simd, scalar_matches_bytewise)
{
	uint8_t a[512], b[512];
	for (size_t len = 0; len <= 257; len++) {
		for (unsigned off = 0; off < 64; off++) {
			for (unsigned phase = 0; phase < 4; phase++) {
				uint8_t key[4];
				fill_random(key, 4);
				fill_random(a, sizeof(a));
				memcpy(b, a, sizeof(a));
				wr__unmask_bytewise(a + off, len, key, phase);
				wr__unmask_scalar(b + off, len, key, phase);
				cr_assert_arr_eq(a, b, sizeof(a), "len %zu off %u phase %u", len, off,
					phase);
			}
		}
	}
}

static void check_copy(const struct tv_copy *c)
{
	wr_unmask_fn fn = c->fn.unmask;
	/* Guard bytes on both sides: writing outside the range shows up as a mismatch. */
	uint8_t a[64 + 257 + 64], b[sizeof(a)];
	for (size_t len = 0; len <= 257; len++) {
		for (unsigned off = 0; off < 64; off++) {
			for (unsigned phase = 0; phase < 4; phase++) {
				uint8_t key[4];
				fill_random(key, 4);
				fill_random(a, sizeof(a));
				memcpy(b, a, sizeof(a));
				wr__unmask_bytewise(a + off, len, key, phase);
				fn(b + off, len, key, phase);
				cr_assert_arr_eq(a, b, sizeof(a), "%s: len %zu off %u phase %u",
					c->label, len, off, phase);
			}
		}
	}

	/* Long buffers, odd lengths and offsets, and phases carried across split calls as the
	 * frame parser does when a payload arrives in pieces. */
	size_t max = (1u << 20) + 64;
	uint8_t *x = tmalloc(max), *y = tmalloc(max);
	static const size_t lens[] = { 1000, 4096, 65535, 65536, 65537, 300001, 1u << 20 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i], off = rnd() % 64;
		unsigned phase = (unsigned)(rnd() & 3);
		uint8_t key[4];
		fill_random(key, 4);
		fill_random(x, max);
		memcpy(y, x, max);
		wr__unmask_bytewise(x + off, len, key, phase);
		size_t cut = rnd() % len;
		fn(y + off, cut, key, phase);
		fn(y + off + cut, len - cut, key, (unsigned)(phase + cut) & 3);
		cr_assert_arr_eq(x, y, max, "%s: len %zu cut %zu", c->label, len, cut);
	}
}

/* Every copy of variant v: native and emulated. An x86 variant with no copy is a failure:
 * its emulated copy must exist on every machine. NEON runs under qemu-user (tests/neon). */
static void check_variant(enum wr_simd v)
{
	struct tv_copy c[2];
	size_t n = tv_variant_copies(TV_UNMASK, v, c);
	cr_assert_gt(n, 0, "unmask %s: neither native nor emulated here", wr__simd_name(v));
	cr_assert_eq(!c[0].emulated, wr__simd_supported(v));
	for (size_t i = 0; i < n; i++)
		check_copy(&c[i]);
}

Test(simd, unmask_scalar) { check_variant(WR_SIMD_SCALAR); }
#if defined(__x86_64__) || defined(__aarch64__)
/* The x86 variants run everywhere SIMDe builds them: natively or emulated. */
Test(simd, unmask_sse2) { check_variant(WR_SIMD_SSE2); }
Test(simd, unmask_avx2) { check_variant(WR_SIMD_AVX2); }
Test(simd, unmask_avx512) { check_variant(WR_SIMD_AVX512); }
#endif
#if defined(__aarch64__)
Test(simd, unmask_neon) { check_variant(WR_SIMD_NEON); }
#endif

Test(simd, unmask_dispatcher)
{
	uint8_t a[2048], b[2048];
	for (size_t len = 0; len < 2000; len += 7) {
		unsigned phase = (unsigned)(len & 3), off = (unsigned)(len % 29);
		uint8_t key[4];
		fill_random(key, 4);
		fill_random(a, sizeof(a));
		memcpy(b, a, sizeof(a));
		wr__unmask_bytewise(a + off, len, key, phase);
		wr__unmask(b + off, len, key, phase);
		cr_assert_arr_eq(a, b, sizeof(a), "len %zu", len);
	}
}

/* Buffers that end exactly at an unmapped page: no variant may touch bytes past the end. */
Test(simd, unmask_guard_page)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	uint8_t *end = map + pg, ref[600];
	struct tv_copy copies[TV_MAX_COPIES];
	size_t ncopies = tv_copies(TV_UNMASK, copies);
	for (size_t v = 0; v < ncopies; v++) {
		wr_unmask_fn fn = copies[v].fn.unmask;
		for (size_t len = 0; len <= 520; len++) {
			uint8_t key[4];
			unsigned phase = (unsigned)(len & 3);
			fill_random(key, 4);
			fill_random(end - len, len);
			memcpy(ref, end - len, len);
			wr__unmask_bytewise(ref, len, key, phase);
			fn(end - len, len, key, phase);
			cr_assert_arr_eq(end - len, ref, len, "%s len %zu", copies[v].label, len);
		}
	}
	munmap(map, (size_t)pg * 2);
}
