/* WebSocket payload unmasking (RFC 6455 §5.3): the scalar reference and the dispatch point.
 * The SIMD variants live in unmask_x86.c and unmask_neon.c and are tested against
 * wr__unmask_scalar on the same inputs. */
#include <string.h>
#include "simd.h"

void wr__unmask_bytewise(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	for (size_t i = 0; i < len; i++)
		p[i] ^= key[(phase + i) & 3];
}

/* Eight bytes at a time with the key rotated to the phase. memcpy makes the loads and stores
 * alignment- and aliasing-safe and compiles to plain moves. */
void wr__unmask_scalar(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	uint32_t k4 = wr__unmask_key32(key, phase);
	uint64_t k = (uint64_t)k4 << 32 | k4;

	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, sizeof(w));
		w ^= k;
		memcpy(p + i, &w, sizeof(w));
	}
	/* i is a multiple of 4: the tail starts at the same phase */
	if (i + 4 <= len) {
		uint32_t w;
		memcpy(&w, p + i, sizeof(w));
		w ^= k4;
		memcpy(p + i, &w, sizeof(w));
		i += 4;
	}
	for (; i < len; i++)
		p[i] ^= key[(phase + i) & 3];
}

wr_unmask_fn wr__unmask_impl(enum wr_simd v)
{
	if (!wr__simd_supported(v))
		return NULL;
	switch (v) {
	case WR_SIMD_SCALAR:
		return wr__unmask_scalar;
#if defined(__x86_64__)
	case WR_SIMD_SSE2:
		return wr__unmask_sse2;
	case WR_SIMD_AVX2:
		return wr__unmask_avx2;
	case WR_SIMD_AVX512:
		return wr__unmask_avx512;
#endif
#if defined(__aarch64__)
	case WR_SIMD_NEON:
		return wr__unmask_neon;
#endif
	default:
		return NULL;
	}
}

void wr__unmask(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	/* Short payloads (pings, small text) are not worth a dispatch. */
	if (len < 16) {
		wr__unmask_bytewise(p, len, key, phase);
		return;
	}
	wr__unmask_impl(wr__simd_active())(p, len, key, phase);
}
