/* AArch64 unmasking with NEON. Empty on other architectures. */
#if defined(__aarch64__)
#include "simd.h"

void wr__unmask_neon(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	wr__unmask_scalar(p, len, key, phase);
}
#else
typedef int wr_unmask_neon_empty; /* ISO C forbids an empty translation unit */
#endif
