/* Fibers on a reactor: a stack, a saved stack pointer and a function. A fiber runs on its
 * reactor's thread and only between the reactor's own callbacks: it is started or woken from
 * a callback (wr__fiber_run), runs until it waits (wr__fiber_wait) or ends, and the callback
 * then goes on. Nothing is preemptive, nothing is shared with other threads: a fiber needs no
 * lock, and whatever a reactor callback may touch, a fiber may touch.
 *
 * Each reactor has one scheduler (wr_sched, made on first use, kept in the reactor's ext
 * slot): its stack pool, its list of fibers ready to run, and its sleepers with one timer. */
#ifndef WR_LIB_FIBER_H
#define WR_LIB_FIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "reactor.h"

#define WR_FIBER_DEFAULT_STACK (64u * 1024u)

typedef struct wr_sched wr_sched;
typedef struct wr_fiber wr_fiber;

struct wr_fiber {
	void *sp;                 /* saved stack pointer while not running */
	uint8_t *stack;           /* usable memory (the guard page lies just below) */
	wr_sched *sched;
	void (*fn)(void *arg);
	void *arg;
	/* Called on the reactor's stack once fn has returned and the stack is back in the pool. */
	void (*on_exit)(wr_fiber *f);
	wr_list link;             /* on the ready list, or the sleepers */
	wr_list conns;            /* the connections it reads (fiber_ws.h wr_fconn) */
	unsigned rr;              /* the one of them a read answered from last */
	uint64_t wake_ns;         /* sleeping: when the timer ends the wait */
	int wake_res;             /* what wr__fiber_wait returns */
	bool waiting, done;
	bool cancelled;           /* from now on every wait returns -ECANCELED at once */
};

/* The context switch (switch_<arch>.S): save the callee-saved registers on the current stack,
 * store its pointer in *save_sp, continue on to_sp. */
void wr__fiber_switch(void **save_sp, void *to_sp);
/* A stack pointer that, switched to, calls fn(arg) on the stack ending at top. */
void *wr__fiber_ctx_make(uint8_t *top, void (*fn)(void *), void *arg);

/* ---- stacks: mmap'd with a PROT_NONE guard page below, cached per reactor ---- */

typedef struct wr_stack_pool {
	size_t size;              /* usable bytes, a multiple of the page size */
	size_t page;
	void **free;
	unsigned nfree, cap;
} wr_stack_pool;

void wr__stack_pool_init(wr_stack_pool *p, size_t size, unsigned keep);
void wr__stack_pool_finish(wr_stack_pool *p);
/* The lowest usable byte of a stack of p->size bytes; NULL on -ENOMEM. */
uint8_t *wr__stack_get(wr_stack_pool *p);
void wr__stack_put(wr_stack_pool *p, uint8_t *stack);

/* ---- the scheduler ---- */

/* r's scheduler, made on first call with stacks of stack_size bytes (0: the default; later
 * calls keep the first size). NULL on -ENOMEM. */
wr_sched *wr__sched_get(wr_reactor *r, size_t stack_size);
/* The fiber running on this thread, or NULL on the reactor's own stack. */
wr_fiber *wr__fiber_current(void);
/* Start f (caller's memory, which must outlive it) running fn(arg): it runs at once when
 * called from the reactor's stack, else as soon as the running fiber waits. 0 or -ENOMEM. */
int wr__fiber_start(wr_sched *s, wr_fiber *f, void (*fn)(void *), void *arg,
                    void (*on_exit)(wr_fiber *f));
/* Wake a waiting fiber with res (its wr__fiber_wait returns it), as wr__fiber_start runs. */
void wr__fiber_wake(wr_fiber *f, int res);
/* The running fiber waits until woken, or until deadline_ns (UINT64_MAX: none), when it gets
 * -ETIMEDOUT. -ECANCELED at once for a cancelled fiber, -EPERM off a fiber. */
int wr__fiber_wait(uint64_t deadline_ns);
/* Cancel f: its current wait (if any) and every later one return -ECANCELED. */
void wr__fiber_cancel(wr_fiber *f);
/* The reactor's connector for fibers' client connections (client/connect.h), made on first
 * use and freed with the scheduler; NULL on -ENOMEM. */
struct wr_connector *wr__sched_connector(wr_sched *s);
/* The reactor's clock, for deadlines. */
uint64_t wr__sched_now_ns(const wr_sched *s);

#endif
