/* Sequential HTTP routes: the connection is taken from HTTP as soon as a request's head is in
 * and given to a handler on a fiber, which reads the body in pieces as it arrives
 * (wr_req_read: Content-Length or chunked, decoded) and answers whole or as a chunked stream
 * (wr_res_write, waiting for the drain past the mark). Bytes that arrive while the handler is
 * busy are kept in a short list of copies; past 64 KiB of them the connection stops
 * receiving until the handler reads (TCP holds the client back): memory stays bounded
 * whatever the body's size. When the handler returns, the answer is finished and the
 * connection goes back to HTTP (keep-alive, with what came after the body) or is closed.
 *
 * The record lives until both the handler has returned and the connection no longer speaks
 * through it (given back to HTTP, or freed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fiber.h"
#include "fiber_http.h"
#include "fiber_ws.h"
#include "http.h"
#include "http_parse.h"
#include "http_req.h"
#include "reactor.h"

#define WRITE_MARK (64u * 1024u)   /* queued answer bytes past which a write waits */
#define MAX_HELD (64u * 1024u)     /* unread request bytes past which receiving pauses */

/* Received bytes not consumed yet; off is where the next decoding starts. */
typedef struct chunk {
	struct chunk *next;
	size_t len, off;
	uint8_t data[];
} chunk;

typedef struct fhttp {
	wr_fiber f;
	wr_conn *c;
	wr_http_ctx *ctx;
	const wr_fiber_http_route *rt;
	wr_http_route_stats *st;  /* the route's metrics on this reactor (NULL: off) */
	char *raw;                /* the request head, copied: req's views point here */
	wr_http_req_head head;
	wr_route_params params;
	wr_req req;
	wr_res res;
	wr_buf hdrs, body;        /* the answer's headers and gathered body */
	wr_chunked dec;           /* a chunked request body */
	uint64_t left;            /* Content-Length: body bytes still to come */
	chunk *in_head, *in_tail;
	chunk *given;             /* holds the last piece's bytes: freed at the next read */
	size_t held;
	int body_err;             /* a malformed body: every read returns it */
	int gone_err;             /* what reads return once the client has gone */
	uint8_t refs;             /* the handler running + the connection speaking through it */
	bool chunked_in, body_done, reading, draining, paused, gone, continue_sent;
	bool head_sent, chunked_out, until_close, head_only, write_failed;
	bool in_data, ended, finished;
} fhttp;

static const wr_proto fhttp_proto;

static void put(fhttp *x)
{
	if (--x->refs)
		return;
	for (chunk *ch = x->in_head, *n; ch; ch = n) {
		n = ch->next;
		free(ch);
	}
	free(x->given);
	free(x->raw);
	wr__buf_free(&x->hdrs);
	wr__buf_free(&x->body);
	free(x);
}

/* One piece of body from buf[0..len): *used bytes consumed, *piece the decoded bytes (in
 * place, inside buf). 0 or -EBADMSG. */
static int take(fhttp *x, uint8_t *buf, size_t len, size_t *used, wr_str *piece)
{
	if (x->chunked_in) {
		size_t outl;
		int rc = wr__chunked_decode(&x->dec, (const char *)buf, len, used, (char *)buf, &outl);
		if (rc < 0)
			return -EBADMSG;
		*piece = (wr_str){ (const char *)buf, outl };
		if (rc == 1)
			x->body_done = true;
		return 0;
	}
	size_t k = len < x->left ? len : (size_t)x->left;
	*used = k;
	*piece = (wr_str){ (const char *)buf, k };
	x->left -= k;
	if (!x->left)
		x->body_done = true;
	return 0;
}

static void pause_in(fhttp *x, bool pause)
{
	if (x->paused != pause && !x->gone) {
		x->paused = pause;
		wr__conn_recv_pause(x->c, pause);
	}
}

static void fh_on_data(wr_conn *c, uint8_t *p, size_t n)
{
	fhttp *x = c->ps;
	chunk *ch = malloc(sizeof(*ch) + n);
	if (!ch) {
		wr__conn_abort(c, -ENOMEM, "out of memory");
		return;
	}
	ch->next = NULL;
	ch->len = n;
	ch->off = 0;
	memcpy(ch->data, p, n);
	if (x->in_tail)
		x->in_tail->next = ch;
	else
		x->in_head = ch;
	x->in_tail = ch;
	x->held += n;
	if (x->held > MAX_HELD)
		pause_in(x, true);
	if (x->reading) {
		x->reading = false;
		wr__fiber_wake(&x->f, 0);
	}
}

/* Write p[0..n) as is. */
static int out(fhttp *x, const void *p, size_t n)
{
	int rc = wr__conn_write(x->c, p, n);
	if (rc < 0) {
		x->write_failed = true;
		wr__conn_abort(x->c, rc, "out of memory");
	}
	return rc;
}

static int send_head(fhttp *x, int64_t len, bool close)
{
	wr_res *res = &x->res;
	if (!res->has_type && (x->body.len || len == WR_HTTP_CHUNKED || len == WR_HTTP_UNTIL_CLOSE))
		wr__http_header_add(&x->hdrs, "Content-Type", "application/octet-stream");
	x->head_sent = res->sealed = true;
	wr__stats_http_status(x->st, res->status);
	int rc = wr__http_write_head(x->c, x->ctx, res->status, &x->hdrs, len, close);
	if (rc < 0) {
		x->write_failed = true;
		wr__conn_abort(x->c, rc, "out of memory");
	}
	return rc;
}

/* The queue is past the mark: wait for the client to read it. */
static int wait_drain(fhttp *x)
{
	unsigned ms = x->rt->f.drain_timeout_ms ? x->rt->f.drain_timeout_ms : 30000;
	x->draining = true;
	wr__conn_want_writable(x->c);
	int rc = wr__fiber_wait(wr__sched_now_ns(x->f.sched) + (uint64_t)ms * 1000000u);
	x->draining = false;
	if (rc == -ETIMEDOUT) {
		x->write_failed = true;
		wr__conn_abort(x->c, -ETIMEDOUT, "client does not read");
		return -ETIMEDOUT;
	}
	return x->gone ? -EPIPE : 0;
}

static int write_chunk(fhttp *x, const void *data, size_t len)
{
	if (x->chunked_out) {
		char line[24];
		int n = snprintf(line, sizeof(line), "%zx\r\n", len);
		if (out(x, line, (size_t)n) < 0 || out(x, data, len) < 0 || out(x, "\r\n", 2) < 0)
			return -ENOMEM;
		return 0;
	}
	return out(x, data, len);
}

int wr_res_write(wr_res *res, const void *data, size_t len)
{
	fhttp *x = res ? res->stream : NULL;
	if (!x || wr__fiber_current() != &x->f)
		return -EPERM;
	if (x->gone || x->write_failed)
		return -EPIPE;
	if (!x->head_sent) {
		/* HTTP/1.0 has no chunked coding: the body then ends with the connection. */
		x->chunked_out = x->head.version >= 11;
		x->until_close = !x->chunked_out;
		if (send_head(x, x->chunked_out ? WR_HTTP_CHUNKED : WR_HTTP_UNTIL_CLOSE,
		              x->until_close || !x->head.keep_alive) < 0)
			return -ENOMEM;
		if (x->body.len && !x->head_only && write_chunk(x, x->body.data, x->body.len) < 0)
			return -ENOMEM;
	}
	if (x->head_only || !len)
		return 0;
	if (write_chunk(x, data, len) < 0)
		return -ENOMEM;
	if (wr__conn_over_limit(x->c)) {
		x->write_failed = true;
		wr__conn_abort(x->c, -ENOBUFS, "send buffer limit exceeded");
		return -ENOBUFS;
	}
	return x->c->out_bytes > WRITE_MARK ? wait_drain(x) : 0;
}

int wr_req_read(wr_req *req, wr_str *out_piece)
{
	fhttp *x = req ? req->stream : NULL;
	if (!x || wr__fiber_current() != &x->f)
		return -EPERM;
	free(x->given);
	x->given = NULL;
	for (;;) {
		if (x->body_err)
			return x->body_err;
		while (x->in_head && !x->body_done) {
			chunk *ch = x->in_head;
			wr_str piece;
			size_t used;
			int rc = take(x, ch->data + ch->off, ch->len - ch->off, &used, &piece);
			ch->off += used;
			if (rc < 0)
				return x->body_err = rc;
			bool whole = ch->off == ch->len;
			if (whole) {
				x->in_head = ch->next;
				if (!x->in_head)
					x->in_tail = NULL;
				x->held -= ch->len;
			}
			if (x->paused && x->held <= MAX_HELD / 2)
				pause_in(x, false);
			if (piece.len) {
				if (whole)
					x->given = ch; /* the piece lives in it */
				*out_piece = piece;
				return 1;
			}
			if (whole)
				free(ch);
		}
		if (x->body_done)
			return 0;
		if (x->gone)
			return x->gone_err;
		if (x->head.expect_continue && !x->continue_sent && !x->head_sent) {
			x->continue_sent = true;
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			if (out(x, cont, sizeof(cont) - 1) < 0)
				return -ENOMEM;
		}
		unsigned ms = x->rt->f.read_timeout_ms ? x->rt->f.read_timeout_ms : x->rt->idle_ms;
		x->reading = true;
		int rc = wr__fiber_wait(wr__sched_now_ns(x->f.sched) + (uint64_t)ms * 1000000u);
		x->reading = false;
		if (rc == -ECANCELED)
			return x->gone ? x->gone_err : -ECANCELED;
		if (rc < 0)
			return rc; /* -ETIMEDOUT */
	}
}

/* The handler has returned: end the answer, then give the connection back or close it. */
static void finish(fhttp *x)
{
	x->finished = true;
	wr_conn *c = x->c;
	if (x->gone || x->write_failed)
		return;
	bool keep = x->head.keep_alive && x->body_done && !x->body_err && !x->until_close;
	if (!x->head_sent) {
		wr_res *res = &x->res;
		if (res->error) {
			/* A builder call failed: what the handler meant cannot be sent. */
			res->status = 500;
			x->hdrs.len = x->body.len = 0;
			wr__buf_append(&x->body, "500 Internal Server Error\n", 26);
			keep = false;
		}
		if (send_head(x, (int64_t)x->body.len, !keep) < 0)
			return;
		if (x->body.len && !x->head_only && out(x, x->body.data, x->body.len) < 0)
			return;
	} else if (x->chunked_out && !x->head_only && out(x, "0\r\n\r\n", 5) < 0) {
		return;
	}
	if (!keep) {
		wr__conn_close(c, "request done");
		return;
	}
	/* Back to HTTP, with whatever came after the body (the next requests). */
	chunk *rest = x->in_head;
	x->in_head = x->in_tail = NULL;
	if (x->paused)
		wr__conn_recv_pause(c, false);
	if (wr__http_resume(c, x->ctx) < 0) {
		wr__conn_abort(c, -ENOMEM, "out of memory");
	} else {
		put(x); /* the connection no longer speaks through x */
		x = NULL;
	}
	for (chunk *ch = rest, *n; ch; ch = n) {
		n = ch->next;
		if (wr__conn_is_open(c) && ch->off < ch->len)
			wr__conn_deliver(c, ch->data + ch->off, ch->len - ch->off);
		free(ch);
	}
}

static void fiber_body(void *arg)
{
	fhttp *x = arg;
	if (x->st && wr__sampler_hit(&x->st->sample)) {
		/* A sequential handler's time is its whole run, waits for the body and the
		 * client included: what the request cost in wall time, as for a callback. */
		uint64_t t0 = wr__now_ns();
		x->rt->f.handler(&x->req, &x->res, x->rt->f.user);
		wr_hist_record(x->st->handler, wr__now_ns() - t0);
	} else {
		x->rt->f.handler(&x->req, &x->res, x->rt->f.user);
	}
	wr__fiber_conns_end(&x->f);
}

static void fiber_exited(wr_fiber *f)
{
	fhttp *x = wr_container_of(f, fhttp, f);
	x->ended = true;
	/* Finishing hands the connection on: never from inside our own on_data. */
	if (!x->in_data)
		finish(x);
	put(x);
}

static void fh_on_writable(wr_conn *c)
{
	fhttp *x = c->ps;
	if (x->draining) {
		x->draining = false;
		wr__fiber_wake(&x->f, 0);
	}
}

static void fh_on_gone(wr_conn *c, int err, const char *why)
{
	fhttp *x = c->ps;
	x->gone = true;
	x->gone_err = err < 0 && err != -ECANCELED ? err : -ECONNRESET;
	if (!x->f.done)
		wr__fiber_cancel(&x->f);
}

static void fh_on_shutdown(wr_conn *c)
{
	fhttp *x = c->ps;
	if (x->head_sent)
		wr__conn_close(c, "server stopping");
	else
		wr__conn_abort(c, -ESHUTDOWN, "server stopping");
}

static void fh_free(wr_conn *c)
{
	put(c->ps);
	c->ps = NULL;
}

static const wr_proto fhttp_proto = {
	.name = "http (sequential handler)",
	.on_data = fh_on_data,
	.on_writable = fh_on_writable,
	.on_gone = fh_on_gone,
	.on_shutdown = fh_on_shutdown,
	.free = fh_free,
};

/* A copy of the request the handler can keep for its whole run (HTTP's parsed head is the
 * reactor's scratch, reused by the next request of any connection). */
static int copy_request(fhttp *x, const wr_req *req, const uint8_t *rest)
{
	const char *start = req->head->method.data;
	size_t hl = (size_t)((const char *)rest - start);
	x->raw = malloc(hl);
	if (!x->raw)
		return -ENOMEM;
	memcpy(x->raw, start, hl);
	if (wr__http_parse_request(x->raw, hl, 0, hl, &x->head) != (int)hl)
		return -EBADMSG;
	x->params = *req->params;
	for (size_t i = 0; i < x->params.n; i++)
		x->params.value[i].data = x->raw + (x->params.value[i].data - start);
	x->req = (wr_req){ .head = &x->head, .params = &x->params, .stream = x };
	x->res = (wr_res){ .status = 200, .headers = &x->hdrs, .body = &x->body, .stream = x };
	return 0;
}

bool wr__fiber_http_take(wr_conn *c, wr_req *req, uint8_t *rest, size_t n, void *user)
{
	const wr_fiber_http_route *rt = user;
	wr_http_route_stats *st = rt->stats && *rt->stats ? *rt->stats + wr__reactor_idx(c->r) : NULL;
	if (st)
		WR_STAT_ADD(st->requests, 1);
	wr_sched *s = wr__sched_get(c->r, rt->stack_size);
	fhttp *x = s ? calloc(1, sizeof(*x)) : NULL;
	if (!x || copy_request(x, req, rest) < 0) {
		if (x)
			put((x->refs = 1, x));
		wr__http_refuse(c, 503, NULL);
		wr__stats_http_status(st, 503);
		return false;
	}
	x->st = st;
	x->c = c;
	x->rt = rt;
	x->ctx = wr__http_ctx_of(c);
	x->head_only = x->head.method.len == 4 && !memcmp(x->head.method.data, "HEAD", 4);
	if (x->head.chunked) {
		x->chunked_in = true;
		wr__chunked_init(&x->dec, 0);
	} else {
		x->left = x->head.content_length > 0 ? (uint64_t)x->head.content_length : 0;
		x->body_done = x->left == 0;
	}
	wr__conn_set_proto(c, &fhttp_proto, x);
	/* Our waits have their own deadlines; HTTP's head timer is not ours. */
	wr__timer_cancel(c);
	x->in_data = true;
	if (n)
		fh_on_data(c, rest, n);
	x->refs = 2;
	if (wr__fiber_start(s, &x->f, fiber_body, x, fiber_exited) < 0) {
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
		                           "Connection: close\r\n\r\n";
		x->refs = 1;
		x->gone = true; /* nothing more is sent through x */
		wr__conn_write(c, busy, sizeof(busy) - 1);
		wr__conn_close(c, "no fiber stack");
		return true;
	}
	x->in_data = false;
	if (x->ended && !x->finished)
		finish(x);
	return true;
}
