/* permessage-deflate's compression (RFC 7692 §7.2) on zlib raw deflate streams: a message
 * compressed with a sync flush and its 00 00 ff ff tail removed; a message inflated with the
 * tail put back, in bounded steps, never past a size limit, its text checked as it appears.
 * zlib state exists only once a stream is first used; memory zlib holds is counted. */
#ifndef WR_LIB_WS_DEFLATE_H
#define WR_LIB_WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "deflate_codec.h"
#include "utf8.h"

typedef struct wr_zstream wr_zstream; /* a zlib stream and its accounting */

/* How one connection's side compresses or decompresses. */
typedef struct wr_zparams {
	uint8_t bits;      /* window: 8..15 (8 cannot be compressed for: see deflate_codec.h) */
	uint8_t level;
	uint8_t mem_level;
	bool nct;          /* reset after every message */
} wr_zparams;

/* A deflater or inflater, allocated now (zlib's own state comes with it). NULL on -ENOMEM. */
wr_zstream *wr__z_new(bool deflater, const wr_zparams *zp);
void wr__z_free(wr_zstream *z);
/* Bytes zlib holds for z (its state and window), for the figures in the README. */
size_t wr__z_bytes(const wr_zstream *z);
/* Does z compress with these parameters (a shared stream is reused only then)? */
bool wr__z_matches(const wr_zstream *z, const wr_zparams *zp);
/* Forget the context (no context takeover, or bytes sent around the stream). */
void wr__z_reset(wr_zstream *z);

/* Compress in[0..n) as one message, appended to out without the 00 00 ff ff tail.
 * 0, -ENOMEM or -EIO (zlib failed). The stream is reset after when its params say nct. */
int wr__z_compress(wr_zstream *z, const void *in, size_t n, wr_buf *out);

/* Inflate a piece of a compressed message, appending to out; end: this is the last piece
 * (the tail is fed, and a nct stream reset). out grows by doubling, capped at max + 1
 * bytes, and inflating stops as soon as out->len passes max: then -EMSGSIZE. utf8 non-NULL: the new bytes are
 * checked as they come (-EILSEQ at the first bad one; at end an unfinished character too).
 * -EBADMSG for data zlib cannot decode, -ENOMEM. */
int wr__z_inflate(wr_zstream *z, const uint8_t *in, size_t n, bool end, wr_buf *out,
                  size_t max, wr_utf8 *utf8);

#endif
