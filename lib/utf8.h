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

#endif
