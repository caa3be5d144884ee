/* A bounded multi-producer multi-consumer queue of pointers (Vyukov's array queue: a sequence
 * number per cell, one compare-and-swap per side), lock-free and allocation-free once made.
 * The reactor's inbox carries posts on two of them; the pub/sub frame pool keeps its free
 * blocks on one. Any thread. */
#ifndef WR_LIB_MPQ_H
#define WR_LIB_MPQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wr_mpq_cell {
	atomic_size_t seq;
	void *p;
} wr_mpq_cell;

typedef struct wr_mpq {
	wr_mpq_cell *cells;
	size_t mask;
	_Alignas(64) atomic_size_t head;   /* dequeue position */
	_Alignas(64) atomic_size_t tail;   /* enqueue position */
} wr_mpq;

/* n cells (a power of 2). A push may find its cell still held by a pop that has claimed it
 * but not yet released it, and then reports full: give a queue that must never refuse a
 * push twice the cells it will hold. 0 or -ENOMEM. */
int wr__mpq_init(wr_mpq *q, size_t n);
void wr__mpq_finish(wr_mpq *q);
/* false when full. */
bool wr__mpq_push(wr_mpq *q, void *p);
/* NULL when empty. */
void *wr__mpq_pop(wr_mpq *q);

#endif
