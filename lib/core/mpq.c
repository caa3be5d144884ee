/* The bounded lock-free queue (mpq.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "mpq.h"

int wr__mpq_init(wr_mpq *q, size_t n)
{
	q->cells = calloc(n, sizeof(*q->cells));
	if (!q->cells)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		atomic_init(&q->cells[i].seq, i);
	q->mask = n - 1;
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	return 0;
}

void wr__mpq_finish(wr_mpq *q)
{
	free(q->cells);
	q->cells = NULL;
}

bool wr__mpq_push(wr_mpq *q, void *p)
{
	size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
	for (;;) {
		wr_mpq_cell *c = &q->cells[pos & q->mask];
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t d = (intptr_t)seq - (intptr_t)pos;
		if (d == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
			                                          memory_order_relaxed, memory_order_relaxed)) {
				c->p = p;
				atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
				return true;
			}
		} else if (d < 0) {
			return false; /* full */
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
}

void *wr__mpq_pop(wr_mpq *q)
{
	size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	for (;;) {
		wr_mpq_cell *c = &q->cells[pos & q->mask];
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t d = (intptr_t)seq - (intptr_t)(pos + 1);
		if (d == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
			                                          memory_order_relaxed, memory_order_relaxed)) {
				void *p = c->p;
				atomic_store_explicit(&c->seq, pos + q->mask + 1, memory_order_release);
				return p;
			}
		} else if (d < 0) {
			return NULL; /* empty */
		} else {
			pos = atomic_load_explicit(&q->head, memory_order_relaxed);
		}
	}
}
