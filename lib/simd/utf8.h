/* Incremental UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF),
 * failing as soon as a prefix can no longer be valid, across any chunking of the input. */
#ifndef WR_LIB_UTF8_H
#define WR_LIB_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "simd.h"

typedef struct wr_utf8 {
	uint8_t pend[3];   /* bytes of a sequence split at the previous chunk's end */
	uint8_t npend;
	uint32_t state;    /* scalar DFA state; 0 = between characters */
} wr_utf8;

void wr__utf8_init(wr_utf8 *s);
/* Feed the next chunk: 0 if everything so far is valid or a valid prefix, -EILSEQ as soon as
 * it is not (the state is then undefined). */
typedef int (*wr_utf8_fn)(wr_utf8 *s, const uint8_t *p, size_t len);
int wr__utf8_feed(wr_utf8 *s, const uint8_t *p, size_t len);
wr_utf8_fn wr__utf8_impl(enum wr_simd v);
/* 0 if the input ended between characters, -EILSEQ if inside one. */
int wr__utf8_finish(const wr_utf8 *s);
/* Whole-buffer check through the dispatcher. */
bool wr__utf8_valid(const uint8_t *p, size_t len);

/* Per-variant feed functions (go through wr__utf8_impl(): those not compiled for this
 * architecture do not exist). */
int wr__utf8_feed_scalar(wr_utf8 *s, const uint8_t *p, size_t len);
int wr__utf8_feed_sse2(wr_utf8 *s, const uint8_t *p, size_t len);
int wr__utf8_feed_avx2(wr_utf8 *s, const uint8_t *p, size_t len);
int wr__utf8_feed_avx512(wr_utf8 *s, const uint8_t *p, size_t len);
int wr__utf8_feed_neon(wr_utf8 *s, const uint8_t *p, size_t len);

/* Shared by the variants. The DFA state after p[0..len) from *state; false (with *state
 * undefined) as soon as a byte makes the prefix invalid; *done counts the bytes consumed,
 * stopping early at the first character boundary when stop_at_boundary. */
bool wr__utf8_dfa(uint32_t *state, const uint8_t *p, size_t len, bool stop_at_boundary,
	size_t *done);
/* A block validator: is p[0..len) complete, valid UTF-8 on its own? */
typedef bool (*wr_utf8_block_fn)(const uint8_t *p, size_t len);
/* The streaming frame around a block validator: finishes a character left open by the previous
 * chunk with the DFA, hands the whole characters to fn, and runs the DFA over a trailing
 * incomplete character so that it fails as soon as it cannot be completed. */
int wr__utf8_feed_blocks(wr_utf8 *s, const uint8_t *p, size_t len, wr_utf8_block_fn fn);

#endif
