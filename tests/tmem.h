/* Test memory that a failing case still frees. A Criterion assertion leaves the test function
 * on the spot, so a buffer freed at its end leaks when the case fails, and under ASan the
 * failure then comes buried under leak reports. tmalloc() remembers each block and frees them
 * all when the test process exits, passing or not; tfree() gives one back early. Header-only:
 * each test program has its own list. */
#ifndef WR_TESTS_TMEM_H
#define WR_TESTS_TMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tmem_block {
	struct tmem_block *next;
	size_t size;
	max_align_t data[];
};

static struct tmem_block *tmem_head;

static void tmem_free_all(void)
{
	while (tmem_head) {
		struct tmem_block *b = tmem_head;
		tmem_head = b->next;
		free(b);
	}
}

/* Never NULL: an allocation failure aborts the test process. */
static inline void *tmalloc(size_t n)
{
	static bool registered;
	if (!registered) {
		atexit(tmem_free_all);
		registered = true;
	}
	struct tmem_block *b = malloc(sizeof(*b) + (n ? n : 1));
	if (!b)
		abort();
	b->next = tmem_head;
	b->size = n;
	tmem_head = b;
	return b->data;
}

static inline void *tmemdup(const void *p, size_t n)
{
	void *q = tmalloc(n);
	if (n)
		memcpy(q, p, n);
	return q;
}

static inline void *tcalloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		abort();
	void *p = tmalloc(n * size);
	memset(p, 0, n * size);
	return p;
}

static inline char *tstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = tmalloc(len + 1);
	memcpy(d, s, len);
	d[len] = 0;
	return d;
}

static inline char *tstrdup(const char *s)
{
	return tstrndup(s, SIZE_MAX);
}

static inline void tfree(void *p);

/* Like realloc: a NULL p allocates; the old contents are kept up to the smaller size. */
static inline void *trealloc(void *p, size_t n)
{
	void *q = tmalloc(n);
	if (p) {
		size_t old = ((struct tmem_block *)((char *)p - offsetof(struct tmem_block, data)))->size;
		memcpy(q, p, old < n ? old : n);
		tfree(p);
	}
	return q;
}

static inline void tfree(void *p)
{
	if (!p)
		return;
	for (struct tmem_block **b = &tmem_head; *b; b = &(*b)->next) {
		if ((void *)(*b)->data == p) {
			struct tmem_block *dead = *b;
			*b = dead->next;
			free(dead);
			return;
		}
	}
	abort(); /* not ours: a bug in the test */
}

#endif
