/* AArch64 unmasking with NEON (always present on AArch64). Empty on other architectures.
 * The key is broadcast pre-rotated to the phase; 16 is a multiple of 4, so the phase is the
 * same at every vector boundary. */
#if defined(__aarch64__)
#include <arm_neon.h>
#include "simd.h"

void wr__unmask_neon(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase)
{
	const uint8x16_t k = vreinterpretq_u8_u32(vdupq_n_u32(wr__unmask_key32(key, phase)));

	size_t i = 0;
	for (; i + 64 <= len; i += 64) {
		uint8x16x4_t v = vld1q_u8_x4(p + i);
		v.val[0] = veorq_u8(v.val[0], k);
		v.val[1] = veorq_u8(v.val[1], k);
		v.val[2] = veorq_u8(v.val[2], k);
		v.val[3] = veorq_u8(v.val[3], k);
		vst1q_u8_x4(p + i, v);
	}
	for (; i + 16 <= len; i += 16)
		vst1q_u8(p + i, veorq_u8(vld1q_u8(p + i), k));
	wr__unmask_scalar(p + i, len - i, key, phase);
}
#else
typedef int wr_unmask_neon_empty; /* ISO C forbids an empty translation unit */
#endif
