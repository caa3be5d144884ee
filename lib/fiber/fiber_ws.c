/* Fiber WebSocket routes: the sequential handler (wr_ws_fiber) driven by the WebSocket
 * layer's ordinary callbacks. on_open starts the fiber; on_message hands the view straight to
 * a fiber waiting in wr_ws_read (and runs it while the view is valid), or keeps a copy when
 * the fiber is busy elsewhere; on_drain ends a wait for backpressure; on_close cancels every
 * wait, so the handler runs to its end before the connection is freed.
 *
 * A connection's record lives until both the handler has returned and on_close has come. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fiber.h"
#include "fiber_ws.h"
#include "pool.h"
#include "wring/fiber.h"

/* A message that came while the fiber was not reading: copied, read later in order. */
typedef struct held_msg {
	struct held_msg *next;
	size_t len;
	wr_opcode op;
	uint8_t data[];
} held_msg;

typedef struct fws {
	wr_fiber f;
	wr_reactor *r;
	wr_ws *ws;
	const wr_fiber_route *rt;
	const wr_req *req;        /* the handshake request, until the handler first waits */
	held_msg *head, *tail;    /* copies not read yet */
	held_msg *given;          /* the copy the last read returned: freed at the next */
	wr_msg msg;               /* handed over by on_message to a reading fiber */
	uint8_t refs;             /* the handler running + the connection until on_close */
	bool reading, draining, closed;
} fws;

/* A wr_ws is its connection (ws.h): the reactor comes from there. */
static wr_reactor *ws_reactor(wr_ws *ws) { return ((wr_conn *)ws)->r; }

static void put(fws *x)
{
	if (--x->refs)
		return;
	for (held_msg *m = x->head, *n; m; m = n) {
		n = m->next;
		free(m);
	}
	free(x->given);
	wr__pool_put(&x->r->pool, x, sizeof(*x));
}

/* The fiber of ws, when it is the one running; else NULL. */
static fws *own_fiber(wr_ws *ws)
{
	wr_fiber *f = wr__fiber_current();
	fws *x = f ? wr_container_of(f, fws, f) : NULL;
	return x && x->ws == ws ? x : NULL;
}

static void fiber_body(void *arg)
{
	fws *x = arg;
	const wr_ws_fiber *h = &x->rt->f;
	h->handler(x->ws, x->req, h->user);
	x->req = NULL;
	/* A close the handler made keeps its code (this one then gets -EALREADY). */
	if (!x->closed)
		wr_ws_close(x->ws, WR_CLOSE_NORMAL, "");
}

static void fiber_exited(wr_fiber *f) { put(wr_container_of(f, fws, f)); }

static int f_on_upgrade(const wr_req *req, wr_upgrade *up, void *user)
{
	const wr_fiber_route *rt = user;
	return rt->f.on_upgrade(req, up, rt->f.user);
}

static void f_on_open(wr_ws *ws, const wr_req *req, void *user)
{
	const wr_fiber_route *rt = user;
	wr_reactor *r = ws_reactor(ws);
	wr_sched *s = wr__sched_get(r, rt->stack_size);
	fws *x = s ? wr__pool_get(&r->pool, sizeof(*x)) : NULL;
	if (!x) {
		wr_ws_close(ws, WR_CLOSE_TRY_AGAIN, "out of memory");
		return;
	}
	x->r = r;
	x->ws = ws;
	x->rt = rt;
	x->req = req;
	x->refs = 2;
	wr_ws_set_data(ws, x);
	if (wr__fiber_start(s, &x->f, fiber_body, x, fiber_exited) < 0) {
		wr_ws_set_data(ws, NULL);
		wr__pool_put(&r->pool, x, sizeof(*x));
		wr_ws_close(ws, WR_CLOSE_TRY_AGAIN, "no fiber stack");
	}
}

static void f_on_message(wr_ws *ws, wr_msg msg, void *user)
{
	fws *x = wr_ws_data(ws);
	if (!x || x->f.done)
		return;
	if (x->reading && !wr__fiber_current()) {
		/* Zero copy: the fiber reads the view now, while it is valid. */
		x->reading = false;
		x->msg = msg;
		wr__fiber_wake(&x->f, 1);
		return;
	}
	held_msg *m = malloc(sizeof(*m) + msg.len);
	if (!m) {
		wr_ws_close(ws, WR_CLOSE_INTERNAL_ERROR, "out of memory");
		return;
	}
	*m = (held_msg){ .len = msg.len, .op = msg.opcode };
	if (msg.len)
		memcpy(m->data, msg.data, msg.len);
	if (x->tail)
		x->tail->next = m;
	else
		x->head = m;
	x->tail = m;
	if (x->reading) {
		x->reading = false;
		wr__fiber_wake(&x->f, 0); /* reads the copy */
	}
}

static void f_on_drain(wr_ws *ws, void *user)
{
	fws *x = wr_ws_data(ws);
	if (x && x->draining) {
		x->draining = false;
		wr__fiber_wake(&x->f, 0);
	}
}

static void f_on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	fws *x = wr_ws_data(ws);
	if (!x)
		return;
	x->closed = true;
	/* Every wait ends now and every later one returns at once: the handler finishes while
	 * ws is still valid. */
	if (!x->f.done)
		wr__fiber_cancel(&x->f);
	wr_ws_set_data(ws, NULL);
	put(x);
}

void wr__fiber_ws_handlers(wr_fiber_route *rt, wr_ws_handlers *h)
{
	*h = (wr_ws_handlers){
		.on_upgrade = rt->f.on_upgrade ? f_on_upgrade : NULL,
		.on_open = f_on_open,
		.on_message = f_on_message,
		.on_drain = f_on_drain,
		.on_close = f_on_close,
		.user = rt,
	};
}

int wr__fiber_ws_pressure(wr_conn *c, void *user)
{
	const wr_fiber_route *rt = user;
	fws *x = own_fiber((wr_ws *)c);
	if (!x || x->closed)
		return 0; /* a send from elsewhere (a callback, another fiber): no one to pause */
	unsigned ms = rt->f.drain_timeout_ms ? rt->f.drain_timeout_ms : 30000;
	x->draining = true;
	x->req = NULL;
	int rc = wr__fiber_wait(wr__sched_now_ns(x->f.sched) + (uint64_t)ms * 1000000u);
	x->draining = false;
	if (rc == -ETIMEDOUT) {
		wr_ws_close(x->ws, WR_CLOSE_POLICY_VIOLATION, "peer does not read");
		return -ETIMEDOUT;
	}
	return rc == -ECANCELED ? -EPIPE : 0;
}

int wr_ws_read(wr_ws *ws, wr_msg *out_msg)
{
	fws *x = own_fiber(ws);
	if (!x)
		return -EPERM;
	free(x->given);
	x->given = NULL;
	x->req = NULL;
	if (!x->head) {
		if (x->closed)
			return 0;
		x->reading = true;
		int rc = wr__fiber_wait(UINT64_MAX);
		x->reading = false;
		if (rc == 1) {
			*out_msg = x->msg;
			return 1;
		}
		if (!x->head)
			return rc == -ECANCELED ? 0 : rc;
	}
	held_msg *m = x->head;
	x->head = m->next;
	if (!x->head)
		x->tail = NULL;
	x->given = m;
	*out_msg = (wr_msg){ m->data, m->len, m->op };
	return 1;
}

int wr_fiber_sleep(unsigned ms)
{
	wr_fiber *f = wr__fiber_current();
	if (!f)
		return -EPERM;
	int rc = wr__fiber_wait(wr__sched_now_ns(f->sched) + (uint64_t)ms * 1000000u);
	return rc == -ETIMEDOUT ? 0 : rc;
}
