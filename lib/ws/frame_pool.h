/* The blocks publications are framed into (ws_frame_int.h): a server-wide free list of
 * fixed-size blocks on a lock-free queue (mpq.h), so that a publish from any thread and the
 * last unref on any reactor meet without a lock, and a small publish allocates nothing once
 * the pool has warmed up. Larger frames, and every frame under AddressSanitizer (so that a
 * use after the last unref is seen), are their own malloc. */
#ifndef WR_LIB_FRAME_POOL_H
#define WR_LIB_FRAME_POOL_H

#include <stdatomic.h>
#include <stddef.h>

#include "mpq.h"
#include "ws_frame_int.h"

#define WR_FRAME_BLOCK 1024u    /* frame, header, payload, topic and key */
#define WR_FRAME_KEEP 4096u     /* free blocks kept (a power of 2; the queue has twice) */

struct wr_frame_pool {
	wr_mpq free;
	atomic_uint kept;
};

/* 0 or -ENOMEM. */
int wr__frame_pool_init(struct wr_frame_pool *p);
/* Frees the blocks kept; every frame must have come back. */
void wr__frame_pool_finish(struct wr_frame_pool *p);
/* Room for a frame of `need` bytes in all, with f->pool set to where it returns (NULL:
 * malloc'd, freed by the last unref). Any thread. NULL on -ENOMEM. */
wr_frame *wr__frame_pool_get(struct wr_frame_pool *p, size_t need);

#endif
