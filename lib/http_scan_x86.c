/* x86-64 HTTP scanner: SSE2, AVX2 and AVX-512BW builds with per-function target attributes,
 * chosen at run time (simd.c).
 *
 * Both classes are "no control byte, no DEL", differing only in where the controls end and
 * whether HTAB is let through: value = HTAB or 0x20..0xff but 0x7f; target = 0x21..0xff but
 * 0x7f. So a byte is bad when it is <= lim (unsigned; SSE2 has no unsigned compare, but
 * min(c, lim) == c is one) and not the allowed control, or when it is DEL. Each kernel makes a
 * bitmask of bad bytes; the count of trailing zeros is the offset of the first.
 *
 * Loads never go past p + n: whole vectors while they fit, then one vector ending exactly at
 * p + n, overlapping bytes already known good (so its first bad byte is the first overall);
 * inputs shorter than one vector go to the narrower variant, and SSE2 to the byte loop.
 * AVX-512 covers the tail with a byte-masked load instead (masked-off bytes are not read). */
#if defined(__x86_64__) || defined(WR_SIMD_EMULATE)
#include "simd_x86.h"
#include "http_scan.h"

#define VALUE_LIM 0x1f   /* controls 0x00..0x1f ... */
#define VALUE_ALLOW '\t' /* ... except HTAB */
#define TARGET_LIM 0x20  /* controls and SP */
#define TARGET_ALLOW 0x7f /* nothing let through: DEL is not <= lim, and is refused below */

/* --- SSE2 ---------------------------------------------------------------------------------- */

WR_TARGET_SSE2 __attribute__((always_inline))
static inline __m128i badv16(__m128i v, __m128i lim, __m128i allow, __m128i del)
{
	__m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, lim), v);
	return _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, allow), ctl),
		_mm_cmpeq_epi8(v, del));
}

WR_TARGET_SSE2 __attribute__((always_inline))
static inline unsigned bad16(__m128i v, __m128i lim, __m128i allow, __m128i del)
{
	return (unsigned)_mm_movemask_epi8(badv16(v, lim, allow, del));
}

WR_TARGET_SSE2 __attribute__((always_inline))
static inline size_t scan_sse2(const char *p, size_t n, char limc, char allowc,
                               size_t (*tail)(const char *, size_t))
{
	if (n < 16)
		return tail(p, n);
	const __m128i lim = _mm_set1_epi8(limc), allow = _mm_set1_epi8(allowc),
		del = _mm_set1_epi8(0x7f);
	size_t i = 0;
	/* 64 bytes a round with one movemask for all four vectors: which vector holds the first
	 * bad byte is only worked out when there is one (the 16-byte loop below finds it). */
	for (; i + 64 <= n; i += 64) {
		__m128i a = badv16(_mm_loadu_si128((const __m128i *)(p + i)), lim, allow, del);
		__m128i b = badv16(_mm_loadu_si128((const __m128i *)(p + i + 16)), lim, allow, del);
		__m128i c = badv16(_mm_loadu_si128((const __m128i *)(p + i + 32)), lim, allow, del);
		__m128i d = badv16(_mm_loadu_si128((const __m128i *)(p + i + 48)), lim, allow, del);
		if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))))
			break;
	}
	for (; i + 16 <= n; i += 16) {
		unsigned m = bad16(_mm_loadu_si128((const __m128i *)(p + i)), lim, allow, del);
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
	if (i < n) {
		unsigned m = bad16(_mm_loadu_si128((const __m128i *)(p + n - 16)), lim, allow, del);
		if (m)
			return n - 16 + (size_t)__builtin_ctz(m);
	}
	return n;
}

WR_TARGET_SSE2
size_t WR_X86(wr__http_scan_value_sse2)(const char *p, size_t n)
{
	return scan_sse2(p, n, VALUE_LIM, VALUE_ALLOW, wr__http_scan_value_scalar);
}

WR_TARGET_SSE2
size_t WR_X86(wr__http_scan_target_sse2)(const char *p, size_t n)
{
	return scan_sse2(p, n, TARGET_LIM, TARGET_ALLOW, wr__http_scan_target_scalar);
}

/* --- AVX2 ---------------------------------------------------------------------------------- */

WR_TARGET_AVX2 __attribute__((always_inline))
static inline __m256i badv32(__m256i v, __m256i lim, __m256i allow, __m256i del)
{
	__m256i ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, lim), v);
	return _mm256_or_si256(_mm256_andnot_si256(_mm256_cmpeq_epi8(v, allow), ctl),
		_mm256_cmpeq_epi8(v, del));
}

WR_TARGET_AVX2 __attribute__((always_inline))
static inline uint32_t bad32(__m256i v, __m256i lim, __m256i allow, __m256i del)
{
	return (uint32_t)_mm256_movemask_epi8(badv32(v, lim, allow, del));
}

WR_TARGET_AVX2 __attribute__((always_inline))
static inline size_t scan_avx2(const char *p, size_t n, char limc, char allowc,
                               size_t (*narrow)(const char *, size_t))
{
	if (n < 32)
		return narrow(p, n);
	const __m256i lim = _mm256_set1_epi8(limc), allow = _mm256_set1_epi8(allowc),
		del = _mm256_set1_epi8(0x7f);
	size_t i = 0;
	/* 128 bytes a round, one test for all four vectors; the 32-byte loop finds the byte */
	for (; i + 128 <= n; i += 128) {
		__m256i a = badv32(_mm256_loadu_si256((const __m256i *)(p + i)), lim, allow, del);
		__m256i b = badv32(_mm256_loadu_si256((const __m256i *)(p + i + 32)), lim, allow, del);
		__m256i c = badv32(_mm256_loadu_si256((const __m256i *)(p + i + 64)), lim, allow, del);
		__m256i d = badv32(_mm256_loadu_si256((const __m256i *)(p + i + 96)), lim, allow, del);
		__m256i any = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
		if (!_mm256_testz_si256(any, any))
			break;
	}
	for (; i + 32 <= n; i += 32) {
		uint32_t m = bad32(_mm256_loadu_si256((const __m256i *)(p + i)), lim, allow, del);
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
	if (i < n) {
		uint32_t m = bad32(_mm256_loadu_si256((const __m256i *)(p + n - 32)), lim, allow, del);
		if (m)
			return n - 32 + (size_t)__builtin_ctz(m);
	}
	return n;
}

WR_TARGET_AVX2
size_t WR_X86(wr__http_scan_value_avx2)(const char *p, size_t n)
{
	return scan_avx2(p, n, VALUE_LIM, VALUE_ALLOW, WR_X86(wr__http_scan_value_sse2));
}

WR_TARGET_AVX2
size_t WR_X86(wr__http_scan_target_avx2)(const char *p, size_t n)
{
	return scan_avx2(p, n, TARGET_LIM, TARGET_ALLOW, WR_X86(wr__http_scan_target_sse2));
}

/* --- AVX-512BW ----------------------------------------------------------------------------- */

WR_TARGET_AVX512 __attribute__((always_inline))
static inline uint64_t bad64(__m512i v, __m512i lim, __m512i allow, __m512i del)
{
	return (_mm512_cmple_epu8_mask(v, lim) & ~_mm512_cmpeq_epi8_mask(v, allow)) |
		_mm512_cmpeq_epi8_mask(v, del);
}

WR_TARGET_AVX512 __attribute__((always_inline))
static inline size_t scan_avx512(const char *p, size_t n, char limc, char allowc)
{
	const __m512i lim = _mm512_set1_epi8(limc), allow = _mm512_set1_epi8(allowc),
		del = _mm512_set1_epi8(0x7f);
	size_t i = 0;
	for (; i + 256 <= n; i += 256) {
		uint64_t a = bad64(_mm512_loadu_si512((const void *)(p + i)), lim, allow, del);
		uint64_t b = bad64(_mm512_loadu_si512((const void *)(p + i + 64)), lim, allow, del);
		uint64_t c = bad64(_mm512_loadu_si512((const void *)(p + i + 128)), lim, allow, del);
		uint64_t d = bad64(_mm512_loadu_si512((const void *)(p + i + 192)), lim, allow, del);
		if (a | b | c | d) {
			if (a)
				return i + (size_t)__builtin_ctzll(a);
			if (b)
				return i + 64 + (size_t)__builtin_ctzll(b);
			if (c)
				return i + 128 + (size_t)__builtin_ctzll(c);
			return i + 192 + (size_t)__builtin_ctzll(d);
		}
	}
	for (; i + 64 <= n; i += 64) {
		uint64_t m = bad64(_mm512_loadu_si512((const void *)(p + i)), lim, allow, del);
		if (m)
			return i + (size_t)__builtin_ctzll(m);
	}
	if (i < n) {
		/* under 64 bytes left; the masked-off lanes load as 0, a bad byte, so mask them */
		__mmask64 k = (__mmask64)((1ull << (n - i)) - 1);
		uint64_t m = bad64(_mm512_maskz_loadu_epi8(k, p + i), lim, allow, del) & k;
		if (m)
			return i + (size_t)__builtin_ctzll(m);
	}
	return n;
}

WR_TARGET_AVX512
size_t WR_X86(wr__http_scan_value_avx512)(const char *p, size_t n)
{
	return scan_avx512(p, n, VALUE_LIM, VALUE_ALLOW);
}

WR_TARGET_AVX512
size_t WR_X86(wr__http_scan_target_avx512)(const char *p, size_t n)
{
	return scan_avx512(p, n, TARGET_LIM, TARGET_ALLOW);
}
#else
typedef int wr_http_scan_x86_empty; /* ISO C forbids an empty translation unit */
#endif
