/* A growable byte buffer with a read offset: used for the few places where bytes must be
 * gathered (a request head split over receive buffers, a fragmented message). Grows
 * geometrically; allocation happens only when a connection first needs gathering. */
#ifndef WR_LIB_BUF_H
#define WR_LIB_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct wr_buf {
	uint8_t *data;
	size_t len; /* bytes in use, from data[0] */
	size_t cap;
} wr_buf;

/* Make room for `more` bytes past len; returns 0 or -ENOMEM (buffer unchanged). */
int wr__buf_reserve(wr_buf *b, size_t more);
/* As wr__buf_reserve, but the doubling stops at most bytes in all (a message whose size is
 * known takes that, not the next power of two); never less than len + more. */
int wr__buf_reserve_upto(wr_buf *b, size_t more, size_t most);
int wr__buf_append(wr_buf *b, const void *p, size_t n);
/* Drop the first n bytes. */
void wr__buf_consume(wr_buf *b, size_t n);
void wr__buf_free(wr_buf *b);
/* Release the memory when empty and larger than keep. */
void wr__buf_trim(wr_buf *b, size_t keep);

#endif
