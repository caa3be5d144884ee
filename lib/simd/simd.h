/* SIMD dispatch: unmasking and UTF-8 validation have a scalar reference and SIMD variants,
 * one chosen once (on first use) from the CPU's features. WR_SIMD=scalar|sse2|avx2|avx512|neon
 * in the environment caps the choice (for tests and benchmarks). The per-variant entry points
 * are exposed so tests can check each one against the scalar reference. */
#ifndef WR_LIB_SIMD_H
#define WR_LIB_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum wr_simd {
	WR_SIMD_SCALAR,
	WR_SIMD_SSE2,
	WR_SIMD_AVX2,
	WR_SIMD_AVX512,
	WR_SIMD_NEON,
	WR_SIMD_COUNT,
};

/* Is this variant compiled in and runnable on this CPU? */
bool wr__simd_supported(enum wr_simd v);
/* The variant the dispatchers use (best supported, capped by WR_SIMD). */
enum wr_simd wr__simd_active(void);
const char *wr__simd_name(enum wr_simd v);

/* XOR p[0..len) with the 4-byte masking key, p[0] taking key[phase & 3]; in place.
 * Any alignment. The phase of the byte after the range is (phase + len) & 3. */
typedef void (*wr_unmask_fn)(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);
void wr__unmask(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);
/* NULL when v is not supported here. */
wr_unmask_fn wr__unmask_impl(enum wr_simd v);
/* The plain one-byte-at-a-time loop: the baseline the benchmark compares against. */
void wr__unmask_bytewise(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);

/* The key as a 32-bit word whose bytes in memory order start at key[phase & 3]: broadcast it
 * to fill a word or a vector. Built in registers: assembling it through a byte array on the
 * stack costs a store-forwarding stall per call, which shows on short payloads. */
static inline uint32_t wr__unmask_key32(const uint8_t key[4], unsigned phase)
{
	uint32_t k = (uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16 |
		(uint32_t)key[3] << 24; /* little-endian view of the bytes */
	unsigned r = (phase & 3) * 8;
	k = r ? (k >> r | k << (32 - r)) : k;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	k = __builtin_bswap32(k);
#endif
	return k;
}

/* Per-variant entry points, defined in unmask*.c; those of a variant not compiled for this
 * architecture do not exist, so go through wr__unmask_impl(). */
void wr__unmask_scalar(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);
void wr__unmask_sse2(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);
void wr__unmask_avx2(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);
void wr__unmask_avx512(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);
void wr__unmask_neon(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);

#endif
