/* The publication frame pool (frame_pool.h). */
#include <errno.h>
#include <stdlib.h>

#include "frame_pool.h"

#if defined(__SANITIZE_ADDRESS__)
#define POOL_ON 0
#else
#define POOL_ON 1
#endif

int wr__frame_pool_init(struct wr_frame_pool *p)
{
	atomic_init(&p->kept, 0);
	return wr__mpq_init(&p->free, 2 * WR_FRAME_KEEP);
}

void wr__frame_pool_finish(struct wr_frame_pool *p)
{
	if (!p->free.cells)
		return;
	void *f;
	while ((f = wr__mpq_pop(&p->free)))
		free(f);
	wr__mpq_finish(&p->free);
}

void wr__frame_pool_put(struct wr_frame_pool *p, wr_frame *f)
{
	if (atomic_load_explicit(&p->kept, memory_order_relaxed) < WR_FRAME_KEEP &&
	    wr__mpq_push(&p->free, f)) {
		atomic_fetch_add_explicit(&p->kept, 1, memory_order_relaxed);
		return;
	}
	free(f);
}

wr_frame *wr__frame_pool_get(struct wr_frame_pool *p, size_t need)
{
	wr_frame *f;
	if (POOL_ON && need <= WR_FRAME_BLOCK) {
		f = wr__mpq_pop(&p->free);
		if (f) {
			atomic_fetch_sub_explicit(&p->kept, 1, memory_order_relaxed);
			return f;
		}
		f = malloc(WR_FRAME_BLOCK); /* warming up */
		if (f)
			f->pool = p;
		return f;
	}
	f = malloc(need);
	if (f)
		f->pool = NULL;
	return f;
}
