/* x86-64 unmasking: SSE2, AVX2 and AVX-512 builds, compiled with per-function target
 * attributes so the rest of the library stays baseline x86-64 and the choice is made at run
 * time (simd.c).
 *
 * The key is broadcast pre-rotated to the phase, so a vector XOR covers any number of whole
 * key periods; every vector width is a multiple of 4, so the phase is the same at every
 * vector boundary. AVX2 and AVX-512 first advance to an aligned address (stores that split
 * cache lines halve their throughput); the skipped head shifts the phase, hence the key. */
#if defined(__x86_64__) || defined(WR_SIMD_EMULATE)
#include "simd_x86.h"
#include "simd.h"

static int32_t rotated_key(const uint8_t key[4], unsigned phase)
{
	return (int32_t)wr__unmask_key32(key, phase);
}

WR_TARGET_SSE2
void WR_X86(wr__unmask_sse2)(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	const __m128i k = _mm_set1_epi32(rotated_key(key, phase));
	size_t i = 0;
	for (; i + 64 <= len; i += 64) {
		__m128i a = _mm_loadu_si128((const __m128i *)(p + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(p + i + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(p + i + 32));
		__m128i d = _mm_loadu_si128((const __m128i *)(p + i + 48));
		_mm_storeu_si128((__m128i *)(p + i), _mm_xor_si128(a, k));
		_mm_storeu_si128((__m128i *)(p + i + 16), _mm_xor_si128(b, k));
		_mm_storeu_si128((__m128i *)(p + i + 32), _mm_xor_si128(c, k));
		_mm_storeu_si128((__m128i *)(p + i + 48), _mm_xor_si128(d, k));
	}
	for (; i + 16 <= len; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(p + i));
		_mm_storeu_si128((__m128i *)(p + i), _mm_xor_si128(a, k));
	}
	if (i < len)
		wr__unmask_scalar(p + i, len - i, key, phase); /* i % 4 == 0: same phase */
}

WR_TARGET_AVX2
void WR_X86(wr__unmask_avx2)(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	/* Short payloads: the alignment prologue and the 256-bit setup cost more than they save
	 * (measured: 64 B ran at half the SSE2 speed). */
	size_t head = (size_t)(-(uintptr_t)p & 31);
	if (len < head + 128) {
		WR_X86(wr__unmask_sse2)(p, len, key, phase);
		return;
	}
	if (head) {
		wr__unmask_scalar(p, head, key, phase);
		p += head;
		len -= head;
		phase = (phase + (unsigned)head) & 3;
	}

	const __m256i k = _mm256_set1_epi32(rotated_key(key, phase));
	size_t i = 0;
	for (; i + 128 <= len; i += 128) {
		__m256i a = _mm256_load_si256((const __m256i *)(p + i));
		__m256i b = _mm256_load_si256((const __m256i *)(p + i + 32));
		__m256i c = _mm256_load_si256((const __m256i *)(p + i + 64));
		__m256i d = _mm256_load_si256((const __m256i *)(p + i + 96));
		_mm256_store_si256((__m256i *)(p + i), _mm256_xor_si256(a, k));
		_mm256_store_si256((__m256i *)(p + i + 32), _mm256_xor_si256(b, k));
		_mm256_store_si256((__m256i *)(p + i + 64), _mm256_xor_si256(c, k));
		_mm256_store_si256((__m256i *)(p + i + 96), _mm256_xor_si256(d, k));
	}
	for (; i + 32 <= len; i += 32) {
		__m256i a = _mm256_load_si256((const __m256i *)(p + i));
		_mm256_store_si256((__m256i *)(p + i), _mm256_xor_si256(a, k));
	}
	/* under 32 bytes left: one 16-byte step, then words */
	if (i + 16 <= len) {
		__m128i a = _mm_load_si128((const __m128i *)(p + i));
		_mm_store_si128((__m128i *)(p + i), _mm_xor_si128(a, _mm256_castsi256_si128(k)));
		i += 16;
	}
	if (i < len)
		wr__unmask_scalar(p + i, len - i, key, phase);
}

WR_TARGET_AVX512
void WR_X86(wr__unmask_avx512)(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	/* Head (up to the first 64-byte boundary) and tail with byte-masked loads and stores:
	 * masked-off bytes are neither read (faults suppressed) nor written. */
	size_t head = (size_t)(-(uintptr_t)p & 63);
	if (head > len)
		head = len;
	if (head) {
		__mmask64 m = (__mmask64)((1ull << head) - 1);
		__m512i k0 = _mm512_set1_epi32(rotated_key(key, phase));
		__m512i v = _mm512_maskz_loadu_epi8(m, p);
		_mm512_mask_storeu_epi8(p, m, _mm512_xor_si512(v, k0));
		p += head;
		len -= head;
		phase = (phase + (unsigned)head) & 3;
	}

	const __m512i k = _mm512_set1_epi32(rotated_key(key, phase));
	size_t i = 0;
	for (; i + 256 <= len; i += 256) {
		__m512i a = _mm512_load_si512((const void *)(p + i));
		__m512i b = _mm512_load_si512((const void *)(p + i + 64));
		__m512i c = _mm512_load_si512((const void *)(p + i + 128));
		__m512i d = _mm512_load_si512((const void *)(p + i + 192));
		_mm512_store_si512((void *)(p + i), _mm512_xor_si512(a, k));
		_mm512_store_si512((void *)(p + i + 64), _mm512_xor_si512(b, k));
		_mm512_store_si512((void *)(p + i + 128), _mm512_xor_si512(c, k));
		_mm512_store_si512((void *)(p + i + 192), _mm512_xor_si512(d, k));
	}
	for (; i + 64 <= len; i += 64) {
		__m512i a = _mm512_load_si512((const void *)(p + i));
		_mm512_store_si512((void *)(p + i), _mm512_xor_si512(a, k));
	}
	if (i < len) {
		__mmask64 m = (__mmask64)((1ull << (len - i)) - 1);
		__m512i a = _mm512_maskz_loadu_epi8(m, p + i);
		_mm512_mask_storeu_epi8(p + i, m, _mm512_xor_si512(a, k));
	}
}
#else
typedef int wr_unmask_x86_empty; /* ISO C forbids an empty translation unit */
#endif
