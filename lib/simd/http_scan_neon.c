/* AArch64 HTTP scanner with NEON (always present on AArch64). Empty on other architectures.
 * Same scheme as http_scan_x86.c: a byte is bad when it is <= lim and not the allowed control,
 * or when it is DEL; whole 16-byte vectors, then one vector ending at p + n (overlapping bytes
 * known good), so nothing past p + n is read. NEON has no movemask: narrowing the 0x00/0xff
 * lanes by a 4-bit shift gives a 64-bit word with one nibble per byte, and the count of
 * trailing zeros over 4 is the offset of the first bad byte (AArch64 here is little-endian). */
#if defined(__aarch64__)
#include <arm_neon.h>
#include "http_scan.h"

static inline uint8x16_t bad16(uint8x16_t v, uint8_t lim, uint8_t allow)
{
	uint8x16_t ctl = vbicq_u8(vcleq_u8(v, vdupq_n_u8(lim)), vceqq_u8(v, vdupq_n_u8(allow)));
	return vorrq_u8(ctl, vceqq_u8(v, vdupq_n_u8(0x7f)));
}

static inline uint64_t nibbles(uint8x16_t bad)
{
	return vget_lane_u64(vreinterpret_u64_u8(vshrn_n_u16(vreinterpretq_u16_u8(bad), 4)), 0);
}

static inline size_t scan_neon(const char *p, size_t n, uint8_t lim, uint8_t allow,
                               size_t (*tail)(const char *, size_t))
{
	if (n < 16)
		return tail(p, n);
	const uint8_t *u = (const uint8_t *)p;
	size_t i = 0;
	for (; i + 64 <= n; i += 64) {
		uint8x16x4_t v = vld1q_u8_x4(u + i);
		uint8x16_t a = bad16(v.val[0], lim, allow), b = bad16(v.val[1], lim, allow);
		uint8x16_t c = bad16(v.val[2], lim, allow), d = bad16(v.val[3], lim, allow);
		if (vmaxvq_u8(vorrq_u8(vorrq_u8(a, b), vorrq_u8(c, d)))) {
			uint64_t m;
			if ((m = nibbles(a)))
				return i + (size_t)(__builtin_ctzll(m) >> 2);
			if ((m = nibbles(b)))
				return i + 16 + (size_t)(__builtin_ctzll(m) >> 2);
			if ((m = nibbles(c)))
				return i + 32 + (size_t)(__builtin_ctzll(m) >> 2);
			return i + 48 + (size_t)(__builtin_ctzll(nibbles(d)) >> 2);
		}
	}
	for (; i + 16 <= n; i += 16) {
		uint64_t m = nibbles(bad16(vld1q_u8(u + i), lim, allow));
		if (m)
			return i + (size_t)(__builtin_ctzll(m) >> 2);
	}
	if (i < n) {
		uint64_t m = nibbles(bad16(vld1q_u8(u + n - 16), lim, allow));
		if (m)
			return n - 16 + (size_t)(__builtin_ctzll(m) >> 2);
	}
	return n;
}

size_t wr__http_scan_value_neon(const char *p, size_t n)
{
	return scan_neon(p, n, 0x1f, '\t', wr__http_scan_value_scalar);
}

size_t wr__http_scan_target_neon(const char *p, size_t n)
{
	return scan_neon(p, n, 0x20, 0x7f, wr__http_scan_target_scalar);
}
#else
typedef int wr_http_scan_neon_empty; /* ISO C forbids an empty translation unit */
#endif
