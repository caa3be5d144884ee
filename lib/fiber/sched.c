/* The per-reactor fiber scheduler: start, wait, wake, sleep, cancel. Every switch goes from
 * the reactor's stack to a fiber and back (never fiber to fiber), so a fiber that wakes
 * another only queues it; the queue runs as soon as the waker waits. */
#include <errno.h>
#include <stdlib.h>

#include "connect.h"
#include "fiber.h"

#if defined(__SANITIZE_ADDRESS__)
#define WR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WR_ASAN 1
#endif
#endif
#ifdef WR_ASAN
#include <sanitizer/common_interface_defs.h>
/* ASan must be told about every stack switch, or it takes the other stack for an overflow. */
#define asan_start(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define asan_finish(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define asan_start(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define asan_finish(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

struct wr_sched {
	wr_reactor *r;
	void *main_sp;            /* the reactor's stack while a fiber runs */
	const void *main_bottom;  /* for ASan */
	size_t main_size;
	wr_list ready;
	wr_list sleepers;         /* sorted by wake_ns */
	wr_every *timer;          /* armed for the first sleeper */
	wr_stack_pool pool;
	wr_connector *connector;  /* fibers' client connections (made on first use) */
};

/* The fiber running on this thread. Thread-local rather than per reactor because the public
 * calls that need it (wr_fiber_sleep) take no reactor: one reactor per thread makes the two
 * the same. */
static _Thread_local wr_fiber *current;

wr_fiber *wr__fiber_current(void) { return current; }
uint64_t wr__sched_now_ns(const wr_sched *s) { return wr__reactor_now_ns(s->r); }

wr_connector *wr__sched_connector(wr_sched *s)
{
	if (!s->connector)
		s->connector = wr__connector_new(s->r);
	return s->connector;
}

static void sched_free(void *p)
{
	wr_sched *s = p;
	wr__connector_free(s->connector);
	wr__stack_pool_finish(&s->pool);
	free(s);
}

static void on_timer(void *user);

wr_sched *wr__sched_get(wr_reactor *r, size_t stack_size)
{
	if (r->ext)
		return r->ext;
	wr_sched *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->timer = wr__reactor_timer_new(r, on_timer, s);
	if (!s->timer) {
		free(s);
		return NULL;
	}
	s->r = r;
	wr_list_init(&s->ready);
	wr_list_init(&s->sleepers);
	wr__stack_pool_init(&s->pool, stack_size ? stack_size : WR_FIBER_DEFAULT_STACK, 1024);
	r->ext = s;
	r->ext_free = sched_free;
	return s;
}

/* Off the reactor's stack into f until it waits or ends. */
static void switch_in(wr_sched *s, wr_fiber *f)
{
	void *fake = NULL;
	current = f;
	asan_start(&fake, f->stack, s->pool.size);
	wr__fiber_switch(&s->main_sp, f->sp);
	asan_finish(fake, NULL, NULL);
	current = NULL;
	if (f->done) {
		wr__stack_put(&s->pool, f->stack);
		f->stack = NULL;
		if (f->on_exit)
			f->on_exit(f);
	}
}

/* From f back to the reactor's stack (for good when f has ended). */
static void switch_out(wr_sched *s, wr_fiber *f)
{
	void *fake = NULL;
	asan_start(f->done ? NULL : &fake, s->main_bottom, s->main_size);
	wr__fiber_switch(&f->sp, s->main_sp);
	asan_finish(fake, &s->main_bottom, &s->main_size);
}

static void run(wr_fiber *f)
{
	wr_sched *s = f->sched;
	if (current) {
		if (!wr_list_linked(&f->link))
			wr_list_insert_tail(&s->ready, &f->link);
		return;
	}
	switch_in(s, f);
	while (!wr_list_empty(&s->ready)) {
		wr_fiber *g = wr_container_of(s->ready.next, wr_fiber, link);
		wr_list_remove(&g->link);
		switch_in(s, g);
	}
}

static void fiber_main(void *arg)
{
	wr_fiber *f = arg;
	asan_finish(NULL, &f->sched->main_bottom, &f->sched->main_size);
	f->fn(f->arg);
	f->done = true;
	switch_out(f->sched, f);
	__builtin_unreachable();
}

int wr__fiber_start(wr_sched *s, wr_fiber *f, void (*fn)(void *), void *arg,
                    void (*on_exit)(wr_fiber *f))
{
	uint8_t *stack = wr__stack_get(&s->pool);
	if (!stack)
		return -ENOMEM;
	*f = (wr_fiber){ .stack = stack, .sched = s, .fn = fn, .arg = arg, .on_exit = on_exit };
	wr_list_init(&f->link);
	wr_list_init(&f->conns);
	f->sp = wr__fiber_ctx_make(stack + s->pool.size, fiber_main, f);
	run(f);
	return 0;
}

static void arm_timer(wr_sched *s)
{
	wr__reactor_timer_set(s->timer, wr_list_empty(&s->sleepers) ? UINT64_MAX :
	                      wr_container_of(s->sleepers.next, wr_fiber, link)->wake_ns);
}

void wr__fiber_wake(wr_fiber *f, int res)
{
	if (!f->waiting)
		return;
	f->waiting = false;
	f->wake_res = res;
	if (wr_list_linked(&f->link)) {
		wr_list_remove(&f->link);
		arm_timer(f->sched);
	}
	run(f);
}

static void on_timer(void *user)
{
	wr_sched *s = user;
	uint64_t now = wr__reactor_now_ns(s->r);
	while (!wr_list_empty(&s->sleepers)) {
		wr_fiber *f = wr_container_of(s->sleepers.next, wr_fiber, link);
		if (f->wake_ns > now)
			break;
		wr__fiber_wake(f, -ETIMEDOUT);
	}
	arm_timer(s);
}

int wr__fiber_wait(uint64_t deadline_ns)
{
	wr_fiber *f = current;
	if (!f)
		return -EPERM;
	if (f->cancelled)
		return -ECANCELED;
	wr_sched *s = f->sched;
	f->waiting = true;
	if (deadline_ns != UINT64_MAX) {
		/* Sorted insert from the back: most waits share one timeout, so the newest is
		 * usually the latest. */
		f->wake_ns = deadline_ns;
		wr_list *pos = s->sleepers.prev;
		while (pos != &s->sleepers && wr_container_of(pos, wr_fiber, link)->wake_ns > deadline_ns)
			pos = pos->prev;
		wr_list_insert_tail(pos->next, &f->link);
		arm_timer(s);
	}
	switch_out(s, f);
	return f->wake_res;
}

void wr__fiber_cancel(wr_fiber *f)
{
	f->cancelled = true;
	wr__fiber_wake(f, -ECANCELED);
}
