#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int wr__buf_reserve(wr_buf *b, size_t more)
{
	return wr__buf_reserve_upto(b, more, SIZE_MAX);
}

int wr__buf_reserve_upto(wr_buf *b, size_t more, size_t most)
{
	if (b->cap - b->len >= more)
		return 0;
	if (more > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < more)
		cap *= 2;
	if (cap > most)
		cap = most > b->len + more ? most : b->len + more;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int wr__buf_append(wr_buf *b, const void *p, size_t n)
{
	int rc = wr__buf_reserve(b, n);
	if (rc < 0)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void wr__buf_consume(wr_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void wr__buf_free(wr_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void wr__buf_trim(wr_buf *b, size_t keep)
{
	if (b->len == 0 && b->cap > keep)
		wr__buf_free(b);
}
