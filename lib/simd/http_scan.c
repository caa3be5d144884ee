/* HTTP scanner: the scalar reference and the dispatch point. The SIMD variants live in
 * http_scan_x86.c and http_scan_neon.c and are tested against the scalar functions here on the
 * same inputs (tests/test_http_scan.c, tests/neon/neon_check.c). */
#include <stdatomic.h>
#include "http_scan.h"

/* The reference: one byte at a time, straight from the class definitions in http_scan.h. */
size_t wr__http_scan_value_scalar(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && wr__http_is_value_char((unsigned char)p[i]))
		i++;
	return i;
}

size_t wr__http_scan_target_scalar(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && wr__http_is_target_char((unsigned char)p[i]))
		i++;
	return i;
}

wr_http_scan_fn wr__http_scan_value_impl(enum wr_simd v)
{
	if (!wr__simd_supported(v))
		return NULL;
	switch (v) {
	case WR_SIMD_SCALAR:
		return wr__http_scan_value_scalar;
#if defined(__x86_64__)
	case WR_SIMD_SSE2:
		return wr__http_scan_value_sse2;
	case WR_SIMD_AVX2:
		return wr__http_scan_value_avx2;
	case WR_SIMD_AVX512:
		return wr__http_scan_value_avx512;
#endif
#if defined(__aarch64__)
	case WR_SIMD_NEON:
		return wr__http_scan_value_neon;
#endif
	default:
		return NULL;
	}
}

wr_http_scan_fn wr__http_scan_target_impl(enum wr_simd v)
{
	if (!wr__simd_supported(v))
		return NULL;
	switch (v) {
	case WR_SIMD_SCALAR:
		return wr__http_scan_target_scalar;
#if defined(__x86_64__)
	case WR_SIMD_SSE2:
		return wr__http_scan_target_sse2;
	case WR_SIMD_AVX2:
		return wr__http_scan_target_avx2;
	case WR_SIMD_AVX512:
		return wr__http_scan_target_avx512;
#endif
#if defined(__aarch64__)
	case WR_SIMD_NEON:
		return wr__http_scan_target_neon;
#endif
	default:
		return NULL;
	}
}

/* The variant's function, looked up once: a head has a dozen fields, and asking simd.c
 * (pthread_once twice) for each of them showed in profiles. Every thread computes the same
 * pointer, and it points to code, not data, so a relaxed atomic is all the sharing needs. */
static _Atomic(wr_http_scan_fn) value_fn, target_fn;

static wr_http_scan_fn resolve(_Atomic(wr_http_scan_fn) *slot,
                               wr_http_scan_fn (*impl)(enum wr_simd))
{
	wr_http_scan_fn fn = atomic_load_explicit(slot, memory_order_relaxed);
	if (!fn) {
		fn = impl(wr__simd_active());
		atomic_store_explicit(slot, fn, memory_order_relaxed);
	}
	return fn;
}

/* Most header values and targets are short: under one 16-byte vector the byte loop is as
 * fast as any variant and skips the dispatch. */
size_t wr__http_scan_value(const char *p, size_t n)
{
	if (n < 16)
		return wr__http_scan_value_scalar(p, n);
	return resolve(&value_fn, wr__http_scan_value_impl)(p, n);
}

size_t wr__http_scan_target(const char *p, size_t n)
{
	if (n < 16)
		return wr__http_scan_target_scalar(p, n);
	return resolve(&target_fn, wr__http_scan_target_impl)(p, n);
}
