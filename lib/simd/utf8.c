/* UTF-8 validation: the scalar DFA reference, the streaming frame shared with the SIMD block
 * validators (utf8_x86.c, utf8_neon.c), and the dispatch point.
 *
 * The DFA follows RFC 3629 §4 (Unicode Table 3-7 "well-formed byte sequences"): each state
 * names exactly which bytes may come next, so it rejects at the first byte that makes the
 * prefix impossible (E0 80, ED A0, F4 90, C0, F5, a stray continuation...). */
#include <errno.h>
#include <string.h>
#include "utf8.h"

enum {
	ACCEPT = 0,
	CONT1,  /* one more 80..BF */
	CONT2,  /* two more */
	CONT3,  /* three more */
	AFTER_E0, /* A0..BF, then one (no overlong 3-byte forms) */
	AFTER_ED, /* 80..9F, then one (no surrogates) */
	AFTER_F0, /* 90..BF, then two (no overlong 4-byte forms) */
	AFTER_F4, /* 80..8F, then two (nothing past U+10FFFF) */
	REJECT,
	NSTATES = REJECT,
};

enum {
	C_ASCII, C_80_8F, C_90_9F, C_A0_BF, C_BAD, C_C2_DF, C_E0, C_E1_EF, C_ED, C_F0, C_F1_F3,
	C_F4, NCLASSES,
};

static const uint8_t byte_class[256] = {
	[0x00 ... 0x7f] = C_ASCII,
	[0x80 ... 0x8f] = C_80_8F,
	[0x90 ... 0x9f] = C_90_9F,
	[0xa0 ... 0xbf] = C_A0_BF,
	[0xc0 ... 0xc1] = C_BAD,
	[0xc2 ... 0xdf] = C_C2_DF,
	[0xe0] = C_E0,
	[0xe1 ... 0xec] = C_E1_EF,
	[0xed] = C_ED,
	[0xee ... 0xef] = C_E1_EF,
	[0xf0] = C_F0,
	[0xf1 ... 0xf3] = C_F1_F3,
	[0xf4] = C_F4,
	[0xf5 ... 0xff] = C_BAD,
};

/* Unlisted transitions are 0 = ACCEPT in C, so store state+1 and subtract: 0 means REJECT. */
#define T(s) ((s) + 1)
static const uint8_t transition[NSTATES][NCLASSES] = {
	[ACCEPT] = {
		[C_ASCII] = T(ACCEPT), [C_C2_DF] = T(CONT1), [C_E0] = T(AFTER_E0),
		[C_E1_EF] = T(CONT2), [C_ED] = T(AFTER_ED), [C_F0] = T(AFTER_F0),
		[C_F1_F3] = T(CONT3), [C_F4] = T(AFTER_F4),
	},
	[CONT1] = { [C_80_8F] = T(ACCEPT), [C_90_9F] = T(ACCEPT), [C_A0_BF] = T(ACCEPT) },
	[CONT2] = { [C_80_8F] = T(CONT1), [C_90_9F] = T(CONT1), [C_A0_BF] = T(CONT1) },
	[CONT3] = { [C_80_8F] = T(CONT2), [C_90_9F] = T(CONT2), [C_A0_BF] = T(CONT2) },
	[AFTER_E0] = { [C_A0_BF] = T(CONT1) },
	[AFTER_ED] = { [C_80_8F] = T(CONT1), [C_90_9F] = T(CONT1) },
	[AFTER_F0] = { [C_90_9F] = T(CONT2), [C_A0_BF] = T(CONT2) },
	[AFTER_F4] = { [C_80_8F] = T(CONT2) },
};
#undef T

bool wr__utf8_dfa(uint32_t *state, const uint8_t *p, size_t len, bool stop_at_boundary,
	size_t *done)
{
	uint32_t st = *state;
	size_t i = 0;
	while (i < len) {
		uint32_t next = transition[st][byte_class[p[i++]]];
		if (next == 0) {
			*done = i;
			return false;
		}
		st = next - 1;
		if (st == ACCEPT && stop_at_boundary)
			break;
	}
	*state = st;
	*done = i;
	return true;
}

void wr__utf8_init(wr_utf8 *s)
{
	memset(s, 0, sizeof(*s));
}

/* Keep the bytes of the character still open at the end of p[0..len) in s->pend. Only called
 * on a valid prefix, so the open character is at most 3 bytes and starts at the last lead
 * byte, or, when the chunk holds no lead byte, continues what pend already holds. */
static void save_pending(wr_utf8 *s, const uint8_t *p, size_t len)
{
	if (s->state == ACCEPT) {
		s->npend = 0;
		return;
	}
	size_t back = len < 3 ? len : 3;
	for (size_t k = 1; k <= back; k++) {
		if (p[len - k] >= 0xc0) {
			memcpy(s->pend, p + len - k, k);
			s->npend = (uint8_t)k;
			return;
		}
	}
	for (size_t i = 0; i < len && s->npend < sizeof(s->pend); i++)
		s->pend[s->npend++] = p[i];
}

int wr__utf8_feed_scalar(wr_utf8 *s, const uint8_t *p, size_t len)
{
	size_t done;
	if (!wr__utf8_dfa(&s->state, p, len, false, &done))
		return -EILSEQ;
	save_pending(s, p, len);
	return 0;
}

/* Where the last, possibly incomplete, character of p[0..len) starts if it is incomplete: at
 * a lead byte that needs more bytes than remain. len when the text ends on a boundary (as far
 * as lead bytes tell; the block validator checks the rest). */
static size_t open_tail(const uint8_t *p, size_t len)
{
	if (len >= 1 && p[len - 1] >= 0xc0)
		return len - 1;
	if (len >= 2 && p[len - 2] >= 0xe0)
		return len - 2;
	if (len >= 3 && p[len - 3] >= 0xf0)
		return len - 3;
	return len;
}

int wr__utf8_feed_blocks(wr_utf8 *s, const uint8_t *p, size_t len, wr_utf8_block_fn fn)
{
	size_t i = 0;
	if (s->state != ACCEPT) {
		if (!wr__utf8_dfa(&s->state, p, len, true, &i))
			return -EILSEQ;
	}
	/* A lead byte always starts a character in valid text, so cutting at one splits the input
	 * into whole characters for fn and a tail for the DFA without changing the verdict. */
	size_t body = i + open_tail(p + i, len - i);
	if (body > i && !fn(p + i, body - i))
		return -EILSEQ;
	size_t done;
	if (!wr__utf8_dfa(&s->state, p + body, len - body, false, &done))
		return -EILSEQ;
	save_pending(s, p, len);
	return 0;
}

wr_utf8_fn wr__utf8_impl(enum wr_simd v)
{
	if (!wr__simd_supported(v))
		return NULL;
	switch (v) {
	case WR_SIMD_SCALAR:
		return wr__utf8_feed_scalar;
#if defined(__x86_64__)
	case WR_SIMD_SSE2:
		return wr__utf8_feed_sse2;
	case WR_SIMD_AVX2:
		return wr__utf8_feed_avx2;
	case WR_SIMD_AVX512:
		return wr__utf8_feed_avx512;
#endif
#if defined(__aarch64__)
	case WR_SIMD_NEON:
		return wr__utf8_feed_neon;
#endif
	default:
		return NULL;
	}
}

int wr__utf8_feed(wr_utf8 *s, const uint8_t *p, size_t len)
{
	/* Below a couple of vectors the DFA is as fast and skips the dispatch. */
	if (len < 32)
		return wr__utf8_feed_scalar(s, p, len);
	return wr__utf8_impl(wr__simd_active())(s, p, len);
}

int wr__utf8_finish(const wr_utf8 *s)
{
	return s->state == ACCEPT ? 0 : -EILSEQ;
}

bool wr__utf8_valid(const uint8_t *p, size_t len)
{
	wr_utf8 s;
	wr__utf8_init(&s);
	return wr__utf8_feed(&s, p, len) == 0 && wr__utf8_finish(&s) == 0;
}
