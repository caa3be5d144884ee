/* For the emulated build only (simd_x86.h), written from Intel's definitions:
 * - the three AVX-512 intrinsics that the x86 kernels use and SIMDe 0.7.4 (Debian 12) lacks.
 *   The masked load reads only the bytes its mask selects, like the instruction, so a
 *   guard-page test means the same under emulation as on the CPU;
 * - _mm_testz_si128 and _mm256_testz_si256, which SIMDe 0.7.4 gets wrong without SSE4.1: it
 *   answers 1 ("all zero") as soon as one 64-bit half of a AND b is zero. Found when the
 *   emulated AVX2 UTF-8 kernel, checked beside the native one on an AVX2 CPU, accepted F0 7F. */
#ifndef WR_LIB_SIMD_EMU_SHIM_H
#define WR_LIB_SIMD_EMU_SHIM_H

#include <stdint.h>
#include <string.h>

/* Named by <immintrin.h>, not by SIMDe's aliases. */
typedef simde__mmask64 __mmask64;

static inline int wr_emu_testz(const void *a, const void *b, size_t n)
{
	uint64_t x[4], y[4], acc = 0;
	memcpy(x, a, n);
	memcpy(y, b, n);
	for (size_t i = 0; i < n / 8; i++)
		acc |= x[i] & y[i];
	return acc == 0;
}
static inline int wr_emu_mm_testz_si128(simde__m128i a, simde__m128i b)
{
	return wr_emu_testz(&a, &b, 16);
}
static inline int wr_emu_mm256_testz_si256(simde__m256i a, simde__m256i b)
{
	return wr_emu_testz(&a, &b, 32);
}
#undef _mm_testz_si128
#define _mm_testz_si128(a, b) wr_emu_mm_testz_si128((a), (b))
#undef _mm256_testz_si256
#define _mm256_testz_si256(a, b) wr_emu_mm256_testz_si256((a), (b))

#ifndef _mm512_alignr_epi8
/* Per 128-bit lane: the 32 bytes [b lane, a lane] shifted right by imm bytes, low 16 kept. */
static inline simde__m512i wr_emu_mm512_alignr_epi8(simde__m512i a, simde__m512i b, int imm)
{
	uint8_t x[64], y[64], r[64];
	memcpy(x, &a, 64);
	memcpy(y, &b, 64);
	for (int lane = 0; lane < 64; lane += 16) {
		for (int j = 0; j < 16; j++) {
			int k = j + imm;
			r[lane + j] = k < 16 ? y[lane + k] : k < 32 ? x[lane + k - 16] : 0;
		}
	}
	simde__m512i out;
	memcpy(&out, r, 64);
	return out;
}
#define _mm512_alignr_epi8(a, b, imm) wr_emu_mm512_alignr_epi8((a), (b), (imm))
#endif

#ifndef _mm512_maskz_loadu_epi8
static inline simde__m512i wr_emu_mm512_maskz_loadu_epi8(uint64_t k, const void *p)
{
	uint8_t r[64];
	const uint8_t *s = p;
	for (int i = 0; i < 64; i++)
		r[i] = (k >> i & 1) ? s[i] : 0;
	simde__m512i out;
	memcpy(&out, r, 64);
	return out;
}
#define _mm512_maskz_loadu_epi8(k, p) wr_emu_mm512_maskz_loadu_epi8((k), (p))
#endif

#ifndef _mm512_mask_storeu_epi8
static inline void wr_emu_mm512_mask_storeu_epi8(void *p, uint64_t k, simde__m512i a)
{
	uint8_t v[64], *d = p;
	memcpy(v, &a, 64);
	for (int i = 0; i < 64; i++)
		if (k >> i & 1)
			d[i] = v[i];
}
#define _mm512_mask_storeu_epi8(p, k, a) wr_emu_mm512_mask_storeu_epi8((p), (k), (a))
#endif

#endif
