/* Fiber WebSocket routes and reads: the sequential handler (wr_ws_fiber) driven by the
 * WebSocket layer's ordinary callbacks. on_open starts the fiber; on_message hands the message
 * to the fiber when it waits in a read (one copy into a reused buffer, and the fiber runs at
 * once), or keeps a copy in order when the fiber is busy elsewhere (pausing receive past
 * max_unread); on_drain ends a wait for backpressure; on_close cancels every wait, so the
 * handler runs to its end before the connection is freed. Reads work the same on client
 * connections a fiber opened (fiber_client.c).
 *
 * A route's record lives until both the handler has returned and on_close has come. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fiber.h"
#include "fiber_ws.h"
#include "pool.h"
#include "wring/fiber.h"

#define MAX_READ_SET 16u
#define DEFAULT_MAX_UNREAD (1u << 20)

/* A fiber waiting in a read, on one connection or several. */
typedef struct wr_fread {
	wr_fconn *const *set;
	unsigned n;
	unsigned idx;             /* which one the message (or the close) came from */
	wr_msg msg;               /* handed over by on_message */
} wr_fread;

typedef struct fws {
	wr_fiber f;
	wr_fconn fc;
	wr_reactor *r;
	const wr_fiber_route *rt;
	const wr_req *req;        /* the handshake request, until the handler first waits */
} fws;

/* A wr_ws is its connection (ws.h): the reactor comes from there. */
static wr_reactor *ws_reactor(wr_ws *ws) { return ((wr_conn *)ws)->r; }

void wr__fconn_finish(wr_fconn *fc)
{
	for (wr_held_msg *m = fc->head, *n; m; m = n) {
		n = m->next;
		free(m);
	}
	fc->head = fc->tail = NULL;
	free(fc->given);
	fc->given = NULL;
	wr__buf_free(&fc->cur);
}

static void fws_put(fws *x)
{
	if (--x->fc.refs)
		return;
	wr__fconn_finish(&x->fc);
	wr__pool_put(&x->r->pool, x, sizeof(*x));
}

wr_fconn *wr__fconn_own(wr_ws *ws)
{
	wr_fiber *f = wr__fiber_current();
	if (!f || !ws)
		return NULL;
	wr_list *l, *t;
	wr_list_for_each_safe(l, t, &f->conns) {
		wr_fconn *fc = wr_container_of(l, wr_fconn, link);
		if (fc->ws == ws)
			return fc;
	}
	return NULL;
}

/* End the owner's read: it no longer waits on any of its set. */
static wr_fread *take_reader(wr_fconn *fc)
{
	wr_fread *rd = fc->rd;
	if (rd)
		for (unsigned i = 0; i < rd->n; i++) {
			rd->set[i]->rd = NULL;
			if (rd->set[i] == fc)
				rd->idx = i;
		}
	return rd;
}

void wr__fconn_on_message(wr_ws *ws, wr_msg msg, void *user)
{
	wr_fconn *fc = wr_ws_data(ws);
	if (!fc || !fc->owner || fc->closed)
		return; /* the handler has returned: nobody reads any more */
	if (fc->rd && !wr__fiber_current()) {
		/* The fiber runs now, but its view must outlive this callback (it may sleep or
		 * wait for a drain before its next read, and the receive buffer goes back when we
		 * return): one copy into the connection's reused buffer, no allocation. */
		fc->cur.len = 0;
		if (wr__buf_append(&fc->cur, msg.data, msg.len) < 0) {
			wr_ws_close(ws, WR_CLOSE_INTERNAL_ERROR, "out of memory");
			return;
		}
		wr_fread *rd = take_reader(fc);
		rd->msg = msg;
		rd->msg.data = fc->cur.data ? fc->cur.data : (const uint8_t *)"";
		wr__fiber_wake(fc->owner, 1);
		return;
	}
	wr_held_msg *m = malloc(sizeof(*m) + msg.len);
	if (!m) {
		wr_ws_close(ws, WR_CLOSE_INTERNAL_ERROR, "out of memory");
		return;
	}
	m->next = NULL;
	m->m = msg;
	m->m.data = m->data;
	if (msg.len)
		memcpy(m->data, msg.data, msg.len);
	if (fc->tail)
		fc->tail->next = m;
	else
		fc->head = m;
	fc->tail = m;
	fc->held_bytes += sizeof(*m) + msg.len;
	if (fc->held_bytes > fc->max_unread && !fc->paused) {
		/* The fiber is not keeping up: stop taking bytes from this peer until it has read
		 * (TCP's window then holds the peer back), rather than hold them without bound. */
		fc->paused = true;
		wr__conn_recv_pause((wr_conn *)ws, true);
	}
	if (fc->rd) {
		take_reader(fc);
		wr__fiber_wake(fc->owner, 0); /* reads the copy */
	}
}

void wr__fconn_on_drain(wr_ws *ws, void *user)
{
	wr_fconn *fc = wr_ws_data(ws);
	if (fc && fc->draining && fc->owner) {
		fc->draining = false;
		wr__fiber_wake(fc->owner, 0);
	}
}

void wr__fconn_closed(wr_fconn *fc)
{
	fc->closed = true;
	if (!fc->owner)
		return;
	if (fc->rd) {
		take_reader(fc);
		wr__fiber_wake(fc->owner, 0);
	} else if (fc->draining) {
		fc->draining = false;
		wr__fiber_wake(fc->owner, -EPIPE);
	}
}

void wr__fiber_conns_end(wr_fiber *f)
{
	while (!wr_list_empty(&f->conns)) {
		wr_fconn *fc = wr_container_of(f->conns.next, wr_fconn, link);
		wr_list_remove(&fc->link);
		fc->owner = NULL;
		if (fc->release)
			fc->release(fc);
	}
}

static void fiber_body(void *arg)
{
	fws *x = arg;
	const wr_ws_fiber *h = &x->rt->f;
	wr_list_insert_tail(&x->f.conns, &x->fc.link);
	h->handler(x->fc.ws, x->req, h->user);
	x->req = NULL;
	wr__fiber_conns_end(&x->f);
	/* A close the handler made keeps its code (this one then does nothing). */
	if (!x->fc.closed)
		wr_ws_close(x->fc.ws, WR_CLOSE_NORMAL, "");
}

static void fiber_exited(wr_fiber *f) { fws_put(wr_container_of(f, fws, f)); }

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
	x->rt = rt;
	x->req = req;
	x->fc = (wr_fconn){
		.ws = ws,
		.owner = &x->f,
		.max_unread = rt->f.max_unread_bytes ? rt->f.max_unread_bytes : DEFAULT_MAX_UNREAD,
		.drain_ms = rt->f.drain_timeout_ms ? rt->f.drain_timeout_ms : 30000,
		.refs = 2,
	};
	wr_list_init(&x->fc.link);
	wr_ws_set_data(ws, &x->fc);
	if (wr__fiber_start(s, &x->f, fiber_body, x, fiber_exited) < 0) {
		wr_ws_set_data(ws, NULL);
		wr__pool_put(&r->pool, x, sizeof(*x));
		wr_ws_close(ws, WR_CLOSE_TRY_AGAIN, "no fiber stack");
	}
}

static void f_on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	wr_fconn *fc = wr_ws_data(ws);
	if (!fc)
		return;
	fws *x = wr_container_of(fc, fws, fc);
	fc->close_code = (uint16_t)code;
	/* Every wait ends now and every later one returns at once: the handler finishes while
	 * ws is still valid. */
	wr__fconn_closed(fc);
	if (!x->f.done)
		wr__fiber_cancel(&x->f);
	wr_ws_set_data(ws, NULL);
	fws_put(x);
}

void wr__fiber_ws_handlers(wr_fiber_route *rt, wr_ws_handlers *h)
{
	*h = (wr_ws_handlers){
		.on_upgrade = rt->f.on_upgrade ? f_on_upgrade : NULL,
		.on_open = f_on_open,
		.on_message = wr__fconn_on_message,
		.on_drain = wr__fconn_on_drain,
		.on_close = f_on_close,
		.user = rt,
		.stream_large = rt->f.stream_large,
	};
}

int wr__fiber_ws_pressure(wr_conn *c, void *user)
{
	wr_fconn *fc = wr__fconn_own((wr_ws *)c);
	if (!fc || fc->closed)
		return 0; /* a send from elsewhere (a callback, another fiber): no one to pause */
	fc->draining = true;
	wr_fiber *f = fc->owner;
	int rc = wr__fiber_wait(wr__sched_now_ns(f->sched) + (uint64_t)fc->drain_ms * 1000000u);
	fc->draining = false;
	if (rc == -ETIMEDOUT) {
		wr_ws_close(fc->ws, WR_CLOSE_POLICY_VIOLATION, "peer does not read");
		return -ETIMEDOUT;
	}
	return rc == -ECANCELED || rc == -EPIPE || fc->closed ? -EPIPE : 0;
}

/* The oldest copy of fc, as the read's result. */
static void pop_held(wr_fconn *fc, wr_msg *out_msg)
{
	wr_held_msg *m = fc->head;
	fc->head = m->next;
	if (!fc->head)
		fc->tail = NULL;
	fc->held_bytes -= sizeof(*m) + m->m.len;
	fc->given = m;
	*out_msg = m->m;
	if (fc->paused && !fc->closed && fc->held_bytes <= fc->max_unread / 2) {
		fc->paused = false;
		wr__conn_recv_pause((wr_conn *)fc->ws, false);
	}
}

int wr_ws_read_any(wr_ws *const *set, unsigned n, unsigned *out_idx, wr_msg *out_msg)
{
	if (!set || !n || n > MAX_READ_SET)
		return -EINVAL;
	wr_fconn *fcs[MAX_READ_SET];
	for (unsigned i = 0; i < n; i++)
		if (!(fcs[i] = wr__fconn_own(set[i])))
			return -EPERM;
	for (unsigned i = 0; i < n; i++) {
		free(fcs[i]->given);
		fcs[i]->given = NULL;
		wr__buf_trim(&fcs[i]->cur, 1u << 20);
	}
	wr_fiber *f = fcs[0]->owner;
	for (;;) {
		/* Copies first, taking turns from the one after the last answer. */
		for (unsigned k = 0; k < n; k++) {
			unsigned i = (f->rr + 1 + k) % n;
			if (fcs[i]->head) {
				pop_held(fcs[i], out_msg);
				f->rr = i;
				*out_idx = i;
				return 1;
			}
		}
		for (unsigned i = 0; i < n; i++)
			if (fcs[i]->closed) {
				*out_idx = i;
				return 0;
			}
		wr_fread rd = { .set = fcs, .n = n };
		for (unsigned i = 0; i < n; i++)
			fcs[i]->rd = &rd;
		int rc = wr__fiber_wait(UINT64_MAX);
		for (unsigned i = 0; i < n; i++)
			fcs[i]->rd = NULL;
		if (rc == 1) {
			f->rr = rd.idx;
			*out_idx = rd.idx;
			*out_msg = rd.msg;
			return 1;
		}
		if (rc == -ECANCELED) {
			/* The fiber's own connection has closed. Whatever is left here is still
			 * told; else the caller is told to finish. */
			for (unsigned i = 0; i < n; i++)
				if (fcs[i]->head || fcs[i]->closed)
					goto again;
			return -ECANCELED;
		}
		if (rc < 0)
			return rc;
again:;
	}
}

int wr_ws_read(wr_ws *ws, wr_msg *out_msg)
{
	unsigned idx;
	int rc = wr_ws_read_any(&ws, 1, &idx, out_msg);
	return rc == -ECANCELED ? 0 : rc;
}

int wr_ws_close_code(const wr_ws *ws)
{
	wr_fconn *fc = wr__fconn_own((wr_ws *)ws);
	if (!fc)
		return -EPERM;
	return fc->closed ? fc->close_code : 0;
}

int wr_fiber_sleep(unsigned ms)
{
	wr_fiber *f = wr__fiber_current();
	if (!f)
		return -EPERM;
	int rc = wr__fiber_wait(wr__sched_now_ns(f->sched) + (uint64_t)ms * 1000000u);
	return rc == -ETIMEDOUT ? 0 : rc;
}
