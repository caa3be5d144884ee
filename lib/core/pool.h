/* Per-reactor recycling of small objects (protocol and transport states): one free list per
 * 8-byte size class, carved from 64 KiB chunks, so an object costs its own size and nothing
 * more (no allocator header, no rounding to a power of two), and a chunk's memory is touched
 * only as objects are first handed out. Objects come back zeroed. Under AddressSanitizer
 * every object is its own malloc, so use-after-free stays visible. Reactor thread only. */
#ifndef WR_LIB_POOL_H
#define WR_LIB_POOL_H

#include <stddef.h>

#define WR_POOL_MAX 512u                 /* larger objects go to malloc */
#define WR_POOL_CLASSES (WR_POOL_MAX / 8u)

typedef struct wr_pool {
	void *free[WR_POOL_CLASSES];     /* recycled objects, linked through their first word */
	char *bump, *end;                /* the unused rest of the newest chunk */
	void *chunks;                    /* every chunk, linked through its first word */
	size_t in_use;                   /* bytes handed out and not given back (a gauge) */
} wr_pool;

/* size bytes, zeroed; NULL on -ENOMEM. */
void *wr__pool_get(wr_pool *p, size_t size);
/* Give back an object of this size (NULL is ignored). */
void wr__pool_put(wr_pool *p, void *obj, size_t size);
/* Release every chunk (objects still out become invalid). */
void wr__pool_finish(wr_pool *p);

#endif
