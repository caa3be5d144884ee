/* A subscriber's queue of unsent publications (sub_queue.h). */
#include <errno.h>
#include <stdlib.h>

#include "sub_queue.h"

static wr_subq_item *at(const wr_subq *q, uint32_t i) { return &q->a[(q->head + i) & (q->cap - 1)]; }

/* Move the live entries to the front of a ring of cap entries (holes left behind). */
static int relayout(wr_subq *q, uint32_t cap)
{
	wr_subq_item *a = malloc(sizeof(*a) * cap);
	if (!a)
		return -ENOMEM;
	uint32_t n = 0;
	for (uint32_t i = 0; i < q->len; i++)
		if (at(q, i)->p)
			a[n++] = *at(q, i);
	free(q->a);
	q->a = a;
	q->cap = cap;
	q->head = 0;
	q->len = n;
	return 0;
}

int wr__subq_push(wr_subq *q, void *p, uint32_t sub)
{
	if (q->len == q->cap) {
		/* Full: squeeze the holes out when they are the larger part, else grow. */
		uint32_t cap = q->cap ? q->cap : 8;
		if (q->live >= q->len / 2 && q->cap) {
			if (q->cap > UINT32_MAX / 2)
				return -ENOMEM;
			cap = q->cap * 2;
		}
		if (relayout(q, cap) < 0)
			return -ENOMEM;
	}
	*at(q, q->len) = (wr_subq_item){ p, sub };
	q->len++;
	q->live++;
	return 0;
}

/* Holes at the head are gone for good. */
static void trim_head(wr_subq *q)
{
	while (q->len && !at(q, 0)->p) {
		q->head = (q->head + 1) & (q->cap - 1);
		q->len--;
	}
}

bool wr__subq_pop(wr_subq *q, wr_subq_item *out)
{
	trim_head(q);
	if (!q->len)
		return false;
	*out = *at(q, 0);
	q->head = (q->head + 1) & (q->cap - 1);
	q->len--;
	q->live--;
	trim_head(q);
	return true;
}

static void *take(wr_subq *q, uint32_t i)
{
	wr_subq_item *e = at(q, i);
	void *p = e->p;
	e->p = NULL;
	q->live--;
	trim_head(q);
	while (q->len && !at(q, q->len - 1)->p)
		q->len--; /* holes at the tail too */
	return p;
}

void *wr__subq_drop_oldest(wr_subq *q, uint32_t sub)
{
	for (uint32_t i = 0; i < q->len; i++) {
		wr_subq_item *e = at(q, i);
		if (e->p && e->sub == sub)
			return take(q, i);
	}
	return NULL;
}

void *wr__subq_take_if(wr_subq *q, bool (*same)(const void *p, const void *ctx),
                       const void *ctx, uint32_t *out_sub)
{
	for (uint32_t i = q->len; i-- > 0;) {
		wr_subq_item *e = at(q, i);
		if (e->p && same(e->p, ctx)) {
			*out_sub = e->sub;
			return take(q, i);
		}
	}
	return NULL;
}

void wr__subq_remove_sub(wr_subq *q, uint32_t sub, void (*release)(void *p))
{
	for (uint32_t i = 0; i < q->len; i++) {
		wr_subq_item *e = at(q, i);
		if (e->p && e->sub == sub) {
			release(e->p);
			e->p = NULL;
			q->live--;
		}
	}
	trim_head(q);
	while (q->len && !at(q, q->len - 1)->p)
		q->len--;
}

void wr__subq_finish(wr_subq *q, void (*release)(void *p))
{
	for (uint32_t i = 0; i < q->len; i++)
		if (at(q, i)->p && release)
			release(at(q, i)->p);
	free(q->a);
	*q = (wr_subq){ 0 };
}
