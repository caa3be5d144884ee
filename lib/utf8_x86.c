/* x86-64 UTF-8 validation.
 *
 * SSE2 has no byte shuffle, so it only skips ASCII 32 bytes at a time and leaves the rest to
 * the DFA. AVX2 and AVX-512 validate whole vectors with the lookup method of Keiser and
 * Lemire ("Validating UTF-8 in less than one instruction per byte", 2021): every error that a
 * pair of adjacent bytes can show is a bit, three 16-entry tables indexed by the high nibble
 * of the previous byte, its low nibble and the high nibble of the current byte each give the
 * errors their nibble is compatible with, and the AND of the three is the set of errors that
 * actually happened. What pairs cannot see -- the third and fourth byte of a long sequence --
 * is a "must be a continuation" mask from the bytes two and three back, checked against the
 * "continuation after continuation" bit. The streaming frame (wr__utf8_feed_blocks) hands the
 * kernels whole characters only, so a kernel treats its input as a complete text. */
#if defined(__x86_64__) || defined(WR_SIMD_EMULATE)
#include <errno.h>
#include <string.h>
#include "simd_x86.h"
#include "utf8.h"

/* Error bits of a (previous byte, current byte) pair. */
#define TOO_SHORT   0x01 /* lead byte followed by a lead byte or ASCII */
#define TOO_LONG    0x02 /* ASCII followed by a continuation */
#define OVERLONG_3  0x04 /* E0 80..9F */
#define TOO_LARGE   0x08 /* F4 90..BF, or F5..FF followed by 90..BF */
#define SURROGATE   0x10 /* ED A0..BF */
#define OVERLONG_2  0x20 /* C0..C1 followed by a continuation */
#define BIT6        0x40 /* F0 80..8F (overlong 4-byte), or F5..FF followed by 80..8F */
#define TWO_CONTS   0x80 /* continuation after continuation: fine only inside a 3/4-byte form */
#define CARRY       (TOO_SHORT | TOO_LONG | TWO_CONTS) /* decided by the high nibbles alone */

/* One table entry: the error bits as the char that the setr intrinsics take. Entries with
 * TWO_CONTS (bit 7) are ints over 127; the explicit conversion is the one the call would make
 * anyway, and keeps clang's -Wconstant-conversion quiet. */
#define E8(bits) ((char)(bits))
/* By the high nibble of the previous byte. */
#define PREV_HIGH \
	E8(TOO_LONG), E8(TOO_LONG), E8(TOO_LONG), E8(TOO_LONG), \
	E8(TOO_LONG), E8(TOO_LONG), E8(TOO_LONG), E8(TOO_LONG), \
	E8(TWO_CONTS), E8(TWO_CONTS), E8(TWO_CONTS), E8(TWO_CONTS), \
	E8(TOO_SHORT | OVERLONG_2), \
	E8(TOO_SHORT), \
	E8(TOO_SHORT | OVERLONG_3 | SURROGATE), \
	E8(TOO_SHORT | TOO_LARGE | BIT6)
/* By the low nibble of the previous byte. */
#define PREV_LOW \
	E8(CARRY | OVERLONG_2 | OVERLONG_3 | BIT6),   /* C0, E0, F0 */ \
	E8(CARRY | OVERLONG_2),                       /* C1 */ \
	E8(CARRY), E8(CARRY), \
	E8(CARRY | TOO_LARGE),                        /* F4 */ \
	E8(CARRY | TOO_LARGE | BIT6), E8(CARRY | TOO_LARGE | BIT6), E8(CARRY | TOO_LARGE | BIT6), \
	E8(CARRY | TOO_LARGE | BIT6), E8(CARRY | TOO_LARGE | BIT6), E8(CARRY | TOO_LARGE | BIT6), \
	E8(CARRY | TOO_LARGE | BIT6), E8(CARRY | TOO_LARGE | BIT6), \
	E8(CARRY | TOO_LARGE | BIT6 | SURROGATE),     /* ED */ \
	E8(CARRY | TOO_LARGE | BIT6), E8(CARRY | TOO_LARGE | BIT6)
/* By the high nibble of the current byte. */
#define CUR_HIGH \
	E8(TOO_SHORT), E8(TOO_SHORT), E8(TOO_SHORT), E8(TOO_SHORT), \
	E8(TOO_SHORT), E8(TOO_SHORT), E8(TOO_SHORT), E8(TOO_SHORT), \
	E8(TOO_LONG | TWO_CONTS | OVERLONG_2 | OVERLONG_3 | BIT6),          /* 80..8F */ \
	E8(TOO_LONG | TWO_CONTS | OVERLONG_2 | OVERLONG_3 | TOO_LARGE),     /* 90..9F */ \
	E8(TOO_LONG | TWO_CONTS | OVERLONG_2 | TOO_LARGE | SURROGATE),      /* A0..AF */ \
	E8(TOO_LONG | TWO_CONTS | OVERLONG_2 | TOO_LARGE | SURROGATE),      /* B0..BF */ \
	E8(TOO_SHORT), E8(TOO_SHORT), E8(TOO_SHORT), E8(TOO_SHORT)

/* ---- SSE2: skip ASCII, DFA for the rest ---- */

WR_TARGET_SSE2
int WR_X86(wr__utf8_feed_sse2)(wr_utf8 *s, const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		if (s->state == 0) {
			while (i + 32 <= len) {
				__m128i a = _mm_loadu_si128((const __m128i *)(p + i));
				__m128i b = _mm_loadu_si128((const __m128i *)(p + i + 16));
				if (_mm_movemask_epi8(_mm_or_si128(a, b)))
					break;
				i += 32;
			}
		}
		/* A stretch for the DFA: the next 32 bytes, or the tail. Feeding the DFA in pieces
		 * keeps state and pending bytes exactly as chunked input would. */
		size_t n = len - i < 32 ? len - i : 32;
		if (wr__utf8_feed_scalar(s, p + i, n))
			return -EILSEQ;
		i += n;
	}
	return 0;
}

/* ---- AVX2 ---- */

#define AVX2 WR_TARGET_AVX2
/* The tables expand to 16 arguments each only once they are arguments of a macro of ours:
 * under SIMDe, _mm256_setr_epi8 is itself a macro that counts its arguments before expanding
 * them. */
#define SETR_EPI8_X2(...) _mm256_setr_epi8(__VA_ARGS__)

/* The 32 bytes ending n bytes before the end of cur, taking the first n from prev: the
 * previous byte (n = 1), two back, three back, for every lane. */
AVX2 static inline __m256i avx2_prev(__m256i cur, __m256i prev, int n)
{
	/* [prev high half, cur low half], so that alignr can reach across the 128-bit lanes */
	__m256i mid = _mm256_permute2x128_si256(prev, cur, 0x21);
	switch (n) {
	case 1:
		return _mm256_alignr_epi8(cur, mid, 15);
	case 2:
		return _mm256_alignr_epi8(cur, mid, 14);
	default:
		return _mm256_alignr_epi8(cur, mid, 13);
	}
}

/* Non-zero bytes where cur (following prev) breaks a rule. */
AVX2 static inline __m256i avx2_check(__m256i cur, __m256i prev)
{
	const __m256i prev_high = SETR_EPI8_X2(PREV_HIGH, PREV_HIGH);
	const __m256i prev_low = SETR_EPI8_X2(PREV_LOW, PREV_LOW);
	const __m256i cur_high = SETR_EPI8_X2(CUR_HIGH, CUR_HIGH);
	const __m256i nib = _mm256_set1_epi8(0x0f);

	__m256i p1 = avx2_prev(cur, prev, 1);
	__m256i sc = _mm256_and_si256(
		_mm256_and_si256(
			_mm256_shuffle_epi8(prev_high, _mm256_and_si256(_mm256_srli_epi16(p1, 4), nib)),
			_mm256_shuffle_epi8(prev_low, _mm256_and_si256(p1, nib))),
		_mm256_shuffle_epi8(cur_high, _mm256_and_si256(_mm256_srli_epi16(cur, 4), nib)));

	/* third byte of E0..FF sequences, fourth of F0..FF: must be continuations, i.e. exactly
	 * the places where TWO_CONTS is expected */
	__m256i p2 = avx2_prev(cur, prev, 2);
	__m256i p3 = avx2_prev(cur, prev, 3);
	__m256i must = _mm256_or_si256(_mm256_subs_epu8(p2, _mm256_set1_epi8(0xe0 - 0x80)),
		_mm256_subs_epu8(p3, _mm256_set1_epi8((char)(0xf0 - 0x80))));
	must = _mm256_and_si256(must, _mm256_set1_epi8((char)0x80));
	return _mm256_xor_si256(sc, must);
}

/* Non-zero when v ends inside a character (a lead byte too close to the end). */
AVX2 static inline __m256i avx2_incomplete(__m256i v)
{
	const __m256i max = _mm256_setr_epi8(
		-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
		-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
		(char)(0xf0 - 1), (char)(0xe0 - 1), (char)(0xc0 - 1));
	return _mm256_subs_epu8(v, max);
}

/* 64 bytes at a, b after prev; updates prev and the incomplete-tail mask, returns errors. */
AVX2 static inline __m256i avx2_step(__m256i a, __m256i b, __m256i *prev, __m256i *inc)
{
	__m256i err;
	if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) {
		/* all ASCII: wrong only if the previous block left a character open */
		err = *inc;
		*inc = _mm256_setzero_si256();
	} else {
		err = _mm256_or_si256(avx2_check(a, *prev), avx2_check(b, a));
		*inc = avx2_incomplete(b);
	}
	*prev = b;
	return err;
}

AVX2 static bool avx2_valid(const uint8_t *p, size_t len)
{
	__m256i prev = _mm256_setzero_si256(), inc = _mm256_setzero_si256();
	size_t i = 0;
	for (; i + 64 <= len; i += 64) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(p + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)(p + i + 32));
		__m256i err = avx2_step(a, b, &prev, &inc);
		if (!_mm256_testz_si256(err, err))
			return false;
	}
	if (i == len) /* only the last block's tail is left to check */
		return _mm256_testz_si256(inc, inc);
	if (len >= 96) {
		/* The last 64 bytes again, overlapping what was checked, with the 32 before them as
		 * context: no copy. An open character at the very end is caught by the tail mask. */
		__m256i a = _mm256_loadu_si256((const __m256i *)(p + len - 64));
		__m256i b = _mm256_loadu_si256((const __m256i *)(p + len - 32));
		if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0)
			return true; /* it also covers the previous block's tail */
		__m256i pv = _mm256_loadu_si256((const __m256i *)(p + len - 96));
		__m256i err = _mm256_or_si256(_mm256_or_si256(avx2_check(a, pv), avx2_check(b, a)),
			avx2_incomplete(b));
		return _mm256_testz_si256(err, err);
	}
	/* Short input, padded with NULs: a character cut by the end meets a NUL and is reported
	 * as TOO_SHORT or as a missing continuation. */
	uint8_t tail[64] = { 0 };
	memcpy(tail, p + i, len - i);
	__m256i a = _mm256_loadu_si256((const __m256i *)tail);
	__m256i b = _mm256_loadu_si256((const __m256i *)(tail + 32));
	__m256i err = avx2_step(a, b, &prev, &inc);
	return _mm256_testz_si256(err, err);
}

int WR_X86(wr__utf8_feed_avx2)(wr_utf8 *s, const uint8_t *p, size_t len)
{
	return wr__utf8_feed_blocks(s, p, len, avx2_valid);
}

/* ---- AVX-512 (F + BW) ---- */

#define AVX512 WR_TARGET_AVX512

AVX512 static inline __m512i avx512_prev(__m512i cur, __m512i prev, int n)
{
	/* 128-bit lanes [prev lane 3, cur lanes 0..2], so that alignr reaches across lanes */
	const __m512i idx = _mm512_setr_epi64(14, 15, 0, 1, 2, 3, 4, 5);
	__m512i mid = _mm512_permutex2var_epi64(cur, idx, prev);
	switch (n) {
	case 1:
		return _mm512_alignr_epi8(cur, mid, 15);
	case 2:
		return _mm512_alignr_epi8(cur, mid, 14);
	default:
		return _mm512_alignr_epi8(cur, mid, 13);
	}
}

AVX512 static inline __m512i avx512_check(__m512i cur, __m512i prev)
{
	const __m512i prev_high = _mm512_broadcast_i32x4(_mm_setr_epi8(PREV_HIGH));
	const __m512i prev_low = _mm512_broadcast_i32x4(_mm_setr_epi8(PREV_LOW));
	const __m512i cur_high = _mm512_broadcast_i32x4(_mm_setr_epi8(CUR_HIGH));
	const __m512i nib = _mm512_set1_epi8(0x0f);

	__m512i p1 = avx512_prev(cur, prev, 1);
	__m512i sc = _mm512_and_si512(
		_mm512_and_si512(
			_mm512_shuffle_epi8(prev_high, _mm512_and_si512(_mm512_srli_epi16(p1, 4), nib)),
			_mm512_shuffle_epi8(prev_low, _mm512_and_si512(p1, nib))),
		_mm512_shuffle_epi8(cur_high, _mm512_and_si512(_mm512_srli_epi16(cur, 4), nib)));

	__m512i p2 = avx512_prev(cur, prev, 2);
	__m512i p3 = avx512_prev(cur, prev, 3);
	__m512i must = _mm512_or_si512(_mm512_subs_epu8(p2, _mm512_set1_epi8(0xe0 - 0x80)),
		_mm512_subs_epu8(p3, _mm512_set1_epi8((char)(0xf0 - 0x80))));
	must = _mm512_and_si512(must, _mm512_set1_epi8((char)0x80));
	return _mm512_xor_si512(sc, must);
}

AVX512 static inline __m512i avx512_incomplete(__m512i v)
{
	/* all 0xff except the last three bytes: 0xef, 0xdf, 0xbf from the top down */
	const __m512i max = _mm512_set_epi64((long long)0xbfdfefffffffffffull, -1, -1, -1, -1, -1,
		-1, -1);
	return _mm512_subs_epu8(v, max);
}

AVX512 static inline __m512i avx512_step(__m512i v, __m512i *prev, __m512i *inc)
{
	__m512i err;
	if (_mm512_movepi8_mask(v) == 0) {
		err = *inc;
		*inc = _mm512_setzero_si512();
	} else {
		err = avx512_check(v, *prev);
		*inc = avx512_incomplete(v);
	}
	*prev = v;
	return err;
}

AVX512 static bool avx512_valid(const uint8_t *p, size_t len)
{
	__m512i prev = _mm512_setzero_si512(), inc = _mm512_setzero_si512();
	size_t i = 0;
	for (; i + 128 <= len; i += 128) {
		__m512i a = _mm512_loadu_si512((const void *)(p + i));
		__m512i b = _mm512_loadu_si512((const void *)(p + i + 64));
		__m512i err;
		if (_mm512_movepi8_mask(_mm512_or_si512(a, b)) == 0) {
			err = inc;
			inc = _mm512_setzero_si512();
			prev = b;
		} else {
			/* Two statements, not two arguments: both steps update prev and inc, and the
			 * order in which a call's arguments are evaluated is unspecified. */
			__m512i ea = avx512_step(a, &prev, &inc);
			__m512i eb = avx512_step(b, &prev, &inc);
			err = _mm512_or_si512(ea, eb);
		}
		if (_mm512_test_epi8_mask(err, err))
			return false;
	}
	for (; i + 64 <= len; i += 64) {
		__m512i err = avx512_step(_mm512_loadu_si512((const void *)(p + i)), &prev, &inc);
		if (_mm512_test_epi8_mask(err, err))
			return false;
	}
	/* The rest through a zero-masked load: NUL padding, as in the AVX2 kernel. */
	__mmask64 m = (__mmask64)((1ull << (len - i)) - 1);
	__m512i err = avx512_step(_mm512_maskz_loadu_epi8(m, p + i), &prev, &inc);
	return _mm512_test_epi8_mask(err, err) == 0;
}

int WR_X86(wr__utf8_feed_avx512)(wr_utf8 *s, const uint8_t *p, size_t len)
{
	return wr__utf8_feed_blocks(s, p, len, avx512_valid);
}
#else
typedef int wr_utf8_x86_empty; /* ISO C forbids an empty translation unit */
#endif
