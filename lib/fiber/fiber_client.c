/* A fiber's own client connections (wr_fiber_connect): made by the client layer's connector on
 * the fiber's reactor, read and written by that fiber alone, sequentially, with the same
 * wr_fconn as a route's connection. The connection's slot is held (wr__conn_hold) for as long
 * as the fiber keeps the wr_ws, so a pointer the fiber still has never names another peer:
 * after the close it reads 0 and refuses sends.
 *
 * The record lives until both the fiber has let go (wr_fiber_ws_free, or its handler's end)
 * and the connection has reported on_close. */
#include <errno.h>
#include <stdlib.h>

#include "connect.h"
#include "fiber.h"
#include "fiber_ws.h"
#include "wring/client.h"
#include "wring/fiber.h"

#define CLIENT_MAX_UNREAD (1u << 20)

typedef struct fcli {
	wr_fconn fc;
	wr_conn *c;
	uint32_t gen;             /* c's, when made: the slot is ours while held */
	bool connecting;          /* the fiber waits for the handshake */
} fcli;

static void fcli_put(fcli *x)
{
	if (--x->fc.refs)
		return;
	wr__fconn_finish(&x->fc);
	free(x);
}

/* The fiber lets go: close what is still open, release the slot. */
static void fcli_release(wr_fconn *fc)
{
	fcli *x = wr_container_of(fc, fcli, fc);
	wr_conn *c = x->c;
	bool ours = c->state != WR_CONN_FREE && c->gen == x->gen;
	if (ours && !fc->closed) {
		if (fc->open_rc == 1)
			wr_ws_close(fc->ws, WR_CLOSE_NORMAL, "");
		else
			wr__conn_abort(c, -ECANCELED, "connecting fiber gone");
	}
	if (ours)
		wr__conn_unhold(c);
	fcli_put(x);
}

static void c_on_open(wr_ws *ws, const wr_req *req, void *user)
{
	wr_fconn *fc = wr_ws_data(ws);
	fcli *x = wr_container_of(fc, fcli, fc);
	fc->open_rc = 1;
	if (x->connecting && fc->owner)
		wr__fiber_wake(fc->owner, 0);
}

static void c_on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	wr_fconn *fc = wr_ws_data(ws);
	if (!fc)
		return;
	fcli *x = wr_container_of(fc, fcli, fc);
	if (fc->open_rc == 0) {
		int err = wr_ws_error(ws);
		fc->open_rc = err ? err : -ECONNRESET;
		fc->closed = true;
		if (x->connecting && fc->owner)
			wr__fiber_wake(fc->owner, 0);
	} else {
		fc->close_code = (uint16_t)code;
		wr__fconn_closed(fc);
	}
	wr_ws_set_data(ws, NULL);
	fcli_put(x);
}

static const wr_ws_handlers client_handlers = {
	.on_open = c_on_open,
	.on_message = wr__fconn_on_message,
	.on_drain = wr__fconn_on_drain,
	.on_close = c_on_close,
};

static wr_ws *failed(struct wr_client_err *out_err, int rc)
{
	if (out_err)
		*out_err = (wr_client_err){ .code = rc < 0 ? rc : -EPROTO,
		                            .http_status = rc > 0 ? rc : 0 };
	return NULL;
}

wr_ws *wr_fiber_connect(const char *url, const struct wr_client_options *opts,
                        struct wr_client_err *out_err)
{
	wr_fiber *f = wr__fiber_current();
	if (!f)
		return failed(out_err, -EPERM);
	if (f->cancelled)
		return failed(out_err, -ECANCELED);
	wr_connector *k = wr__sched_connector(f->sched);
	fcli *x = k ? calloc(1, sizeof(*x)) : NULL;
	if (!x)
		return failed(out_err, -ENOMEM);
	x->fc = (wr_fconn){ .owner = f, .max_unread = CLIENT_MAX_UNREAD, .drain_ms = 30000,
	                    .refs = 2, .release = fcli_release };
	wr_list_init(&x->fc.link);
	const wr_connect_extra ex = { .data = &x->fc, .out_conn = &x->c,
	                              .on_pressure = wr__fiber_ws_pressure };
	int rc = wr__connector_connect(k, url, opts, &client_handlers, &ex);
	if (rc < 0 || !x->c) {
		/* Nothing was made that could report to x. */
		free(x);
		return failed(out_err, rc < 0 ? rc : -ENOMEM);
	}
	x->gen = x->c->gen;
	x->fc.ws = (wr_ws *)x->c;
	wr__conn_hold(x->c);
	wr_list_insert_tail(&f->conns, &x->fc.link);
	/* The handshake's own timers (connect, handshake) bound this wait. */
	while (x->fc.open_rc == 0) {
		x->connecting = true;
		int w = wr__fiber_wait(UINT64_MAX);
		x->connecting = false;
		if (w == -ECANCELED && x->fc.open_rc == 0) {
			rc = -ECANCELED;
			break;
		}
	}
	if (x->fc.open_rc == 1 && rc == 0)
		return x->fc.ws;
	if (rc == 0)
		rc = x->fc.open_rc;
	wr_list_remove(&x->fc.link);
	x->fc.owner = NULL;
	fcli_release(&x->fc);
	return failed(out_err, rc);
}

void wr_fiber_ws_free(wr_ws *ws)
{
	wr_fconn *fc = wr__fconn_own(ws);
	if (!fc || !fc->release)
		return; /* not a connection this fiber opened */
	wr_list_remove(&fc->link);
	fc->owner = NULL;
	fc->release(fc);
}

/* ---- fibers of an async client's loop ---- */

typedef struct spawned {
	wr_fiber f;
	void (*fn)(void *arg);
	void *arg;
} spawned;

static void spawned_body(void *p)
{
	spawned *x = p;
	x->fn(x->arg);
	wr__fiber_conns_end(&x->f);
}

static void spawned_exited(wr_fiber *f) { free(wr_container_of(f, spawned, f)); }

int wr_loop_spawn(struct wr_loop *loop, void (*fn)(void *arg), void *arg)
{
	if (!loop || !fn)
		return -EINVAL;
	wr_sched *s = wr__sched_get(wr__loop_reactor(loop), 0);
	spawned *x = s ? malloc(sizeof(*x)) : NULL;
	if (!x)
		return -ENOMEM;
	x->fn = fn;
	x->arg = arg;
	int rc = wr__fiber_start(s, &x->f, spawned_body, x, spawned_exited);
	if (rc < 0)
		free(x);
	return rc;
}
