/* Inside the WebSocket layer: a shared frame (wr_frame) as ws_send.c encodes it and pub/sub
 * carries it. A frame made by a publish also holds its topic, key and policy, in the same
 * block, and comes from the server's frame pool (frame_pool.h), to which its last unref returns
 * it: a publish of a small message allocates nothing in the steady state. */
#ifndef WR_LIB_WS_FRAME_INT_H
#define WR_LIB_WS_FRAME_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "wring/server.h"

/* A permessage-deflate variant of a shared frame: header (RSV1 set) and compressed payload,
 * made by the first receiver that needs it and kept for the others. */
typedef struct wr_zvariant {
	size_t hdr_len, len;
	uint8_t bytes[];
} wr_zvariant;

/* One variant per window size (9..15 bits): the bytes depend on nothing else a receiver
 * negotiated (a smaller window than the peer allows is always readable). */
#define WR_ZVARIANTS 7

struct wr_frame_pool;

struct wr_frame {
	atomic_uint refs;
	wr_opcode op;
	size_t hdr_len;
	size_t len;        /* payload bytes */
	_Atomic(wr_zvariant *) z[WR_ZVARIANTS];
	struct wr_frame_pool *pool; /* where the block returns; NULL: malloc'd */
	/* A publication's topic and conflation key (after the payload in bytes[]), hashed
	 * (topic.h), and its topic's policy, resolved once by the publisher. */
	const char *topic, *key;
	uint64_t topic_hash, key_hash;
	uint16_t topic_len, key_len;
	uint8_t policy;
	uint32_t limit;
	uint8_t bytes[];   /* header then payload (then topic and key) */
};

/* Encode f's header and copy data in (bytes[] must have room for 14 + len). */
void wr__frame_init(wr_frame *f, const void *data, size_t len, wr_opcode op);
/* The pool's side of the last unref (frame_pool.c). */
void wr__frame_pool_put(struct wr_frame_pool *p, wr_frame *f);

#endif
