#include "pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64u * 1024u)

#if defined(__SANITIZE_ADDRESS__)
#define POOL_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_BYPASS 1
#endif
#endif

#ifndef POOL_BYPASS
static size_t class_of(size_t size)
{
	return (size + 7) / 8 - 1;
}
#endif

static void *pool_get(wr_pool *p, size_t size)
{
#ifdef POOL_BYPASS
	(void)p;
	return calloc(1, size);
#else
	if (size > WR_POOL_MAX)
		return calloc(1, size);
	size_t k = class_of(size), sz = (k + 1) * 8;
	void *o = p->free[k];
	if (o) {
		p->free[k] = *(void **)o;
		memset(o, 0, sz);
		return o;
	}
	if ((size_t)(p->end - p->bump) < sz) {
		/* Chunks come from calloc: a fresh one is zero and untouched until carved. */
		char *c = calloc(1, CHUNK);
		if (!c)
			return NULL;
		*(void **)c = p->chunks;
		p->chunks = c;
		p->bump = c + 16;
		p->end = c + CHUNK;
	}
	o = p->bump;
	p->bump += sz;
	return o;
#endif
}

void *wr__pool_get(wr_pool *p, size_t size)
{
	void *o = pool_get(p, size);
	if (o)
		p->in_use += size;
	return o;
}

void wr__pool_put(wr_pool *p, void *obj, size_t size)
{
	if (!obj)
		return;
	p->in_use -= size;
#ifdef POOL_BYPASS
	(void)p;
	(void)size;
	free(obj);
#else
	if (size > WR_POOL_MAX) {
		free(obj);
		return;
	}
	size_t k = class_of(size);
	*(void **)obj = p->free[k];
	p->free[k] = obj;
#endif
}

void wr__pool_finish(wr_pool *p)
{
	for (void *c = p->chunks, *n; c; c = n) {
		n = *(void **)c;
		free(c);
	}
	memset(p, 0, sizeof(*p));
}
