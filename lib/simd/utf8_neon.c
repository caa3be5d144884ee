/* AArch64 UTF-8 validation with NEON: the same lookup method as the AVX2 kernel (see
 * utf8_x86.c for how it works and the meaning of the bits), on 16-byte vectors. Empty on
 * other architectures. */
#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>
#include "utf8.h"

#define TOO_SHORT   0x01
#define TOO_LONG    0x02
#define OVERLONG_3  0x04
#define TOO_LARGE   0x08
#define SURROGATE   0x10
#define OVERLONG_2  0x20
#define BIT6        0x40
#define TWO_CONTS   0x80
#define CARRY       (TOO_SHORT | TOO_LONG | TWO_CONTS)

static const uint8_t prev_high_tbl[16] = {
	TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
	TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
	TOO_SHORT | OVERLONG_2,
	TOO_SHORT,
	TOO_SHORT | OVERLONG_3 | SURROGATE,
	TOO_SHORT | TOO_LARGE | BIT6,
};
static const uint8_t prev_low_tbl[16] = {
	CARRY | OVERLONG_2 | OVERLONG_3 | BIT6,
	CARRY | OVERLONG_2,
	CARRY, CARRY,
	CARRY | TOO_LARGE,
	CARRY | TOO_LARGE | BIT6, CARRY | TOO_LARGE | BIT6, CARRY | TOO_LARGE | BIT6,
	CARRY | TOO_LARGE | BIT6, CARRY | TOO_LARGE | BIT6, CARRY | TOO_LARGE | BIT6,
	CARRY | TOO_LARGE | BIT6, CARRY | TOO_LARGE | BIT6,
	CARRY | TOO_LARGE | BIT6 | SURROGATE,
	CARRY | TOO_LARGE | BIT6, CARRY | TOO_LARGE | BIT6,
};
static const uint8_t cur_high_tbl[16] = {
	TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
	TOO_LONG | TWO_CONTS | OVERLONG_2 | OVERLONG_3 | BIT6,
	TOO_LONG | TWO_CONTS | OVERLONG_2 | OVERLONG_3 | TOO_LARGE,
	TOO_LONG | TWO_CONTS | OVERLONG_2 | TOO_LARGE | SURROGATE,
	TOO_LONG | TWO_CONTS | OVERLONG_2 | TOO_LARGE | SURROGATE,
	TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
};
static const uint8_t incomplete_max[16] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xf0 - 1, 0xe0 - 1, 0xc0 - 1,
};

struct neon_tables {
	uint8x16_t prev_high, prev_low, cur_high, max;
};

static inline uint8x16_t neon_check(const struct neon_tables *t, uint8x16_t cur, uint8x16_t prev)
{
	uint8x16_t p1 = vextq_u8(prev, cur, 15);
	uint8x16_t sc = vandq_u8(vandq_u8(vqtbl1q_u8(t->prev_high, vshrq_n_u8(p1, 4)),
		vqtbl1q_u8(t->prev_low, vandq_u8(p1, vdupq_n_u8(0x0f)))),
		vqtbl1q_u8(t->cur_high, vshrq_n_u8(cur, 4)));
	uint8x16_t p2 = vextq_u8(prev, cur, 14);
	uint8x16_t p3 = vextq_u8(prev, cur, 13);
	uint8x16_t must = vorrq_u8(vqsubq_u8(p2, vdupq_n_u8(0xe0 - 0x80)),
		vqsubq_u8(p3, vdupq_n_u8(0xf0 - 0x80)));
	must = vandq_u8(must, vdupq_n_u8(0x80));
	return veorq_u8(sc, must);
}

/* 64 bytes after *prev: errors; updates *prev and the open-tail mask *inc. */
static inline uint8x16_t neon_step(const struct neon_tables *t, uint8x16x4_t v, uint8x16_t *prev,
	uint8x16_t *inc)
{
	uint8x16_t any = vorrq_u8(vorrq_u8(v.val[0], v.val[1]), vorrq_u8(v.val[2], v.val[3]));
	uint8x16_t err;
	if (vmaxvq_u8(any) < 0x80) {
		err = *inc;
		*inc = vdupq_n_u8(0);
	} else {
		err = vorrq_u8(vorrq_u8(neon_check(t, v.val[0], *prev), neon_check(t, v.val[1], v.val[0])),
			vorrq_u8(neon_check(t, v.val[2], v.val[1]), neon_check(t, v.val[3], v.val[2])));
		*inc = vqsubq_u8(v.val[3], t->max);
	}
	*prev = v.val[3];
	return err;
}

static bool neon_valid(const uint8_t *p, size_t len)
{
	const struct neon_tables t = {
		vld1q_u8(prev_high_tbl), vld1q_u8(prev_low_tbl), vld1q_u8(cur_high_tbl),
		vld1q_u8(incomplete_max),
	};
	uint8x16_t prev = vdupq_n_u8(0), inc = vdupq_n_u8(0);
	size_t i = 0;
	for (; i + 64 <= len; i += 64) {
		if (vmaxvq_u8(neon_step(&t, vld1q_u8_x4(p + i), &prev, &inc)))
			return false;
	}
	/* the rest, NUL-padded: an open character at the end meets a NUL (see utf8_x86.c) */
	uint8_t tail[64] = { 0 };
	memcpy(tail, p + i, len - i);
	return vmaxvq_u8(neon_step(&t, vld1q_u8_x4(tail), &prev, &inc)) == 0;
}

int wr__utf8_feed_neon(wr_utf8 *s, const uint8_t *p, size_t len)
{
	return wr__utf8_feed_blocks(s, p, len, neon_valid);
}
#else
typedef int wr_utf8_neon_empty; /* ISO C forbids an empty translation unit */
#endif
