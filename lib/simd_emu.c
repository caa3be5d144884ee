/* Lookup of the SIMDe-compiled x86 variants (simd_emu.h); test-only library. */
#include "simd_emu.h"

wr_unmask_fn wr__unmask_emu_impl(enum wr_simd v)
{
	switch (v) {
	case WR_SIMD_SSE2:
		return wr__unmask_sse2_emu;
	case WR_SIMD_AVX2:
		return wr__unmask_avx2_emu;
	case WR_SIMD_AVX512:
		return wr__unmask_avx512_emu;
	default:
		return NULL;
	}
}

wr_utf8_fn wr__utf8_emu_impl(enum wr_simd v)
{
	switch (v) {
	case WR_SIMD_SSE2:
		return wr__utf8_feed_sse2_emu;
	case WR_SIMD_AVX2:
		return wr__utf8_feed_avx2_emu;
	case WR_SIMD_AVX512:
		return wr__utf8_feed_avx512_emu;
	default:
		return NULL;
	}
}

wr_http_scan_fn wr__http_scan_value_emu_impl(enum wr_simd v)
{
	switch (v) {
	case WR_SIMD_SSE2:
		return wr__http_scan_value_sse2_emu;
	case WR_SIMD_AVX2:
		return wr__http_scan_value_avx2_emu;
	case WR_SIMD_AVX512:
		return wr__http_scan_value_avx512_emu;
	default:
		return NULL;
	}
}

wr_http_scan_fn wr__http_scan_target_emu_impl(enum wr_simd v)
{
	switch (v) {
	case WR_SIMD_SSE2:
		return wr__http_scan_target_sse2_emu;
	case WR_SIMD_AVX2:
		return wr__http_scan_target_avx2_emu;
	case WR_SIMD_AVX512:
		return wr__http_scan_target_avx512_emu;
	default:
		return NULL;
	}
}
