/* HTTP/1.1 on a connection: gather the head (and body) of each request, route it, answer in
 * request order; keep-alive, pipelining, HTTP/1.0, error answers, and handing the connection
 * to an upgrade route's hook. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "http_req.h"
#include "log.h"
#include "http_stats.h"
#include "reactor.h"

struct wr_http_ctx {
	wr_http_config cfg;
	wr_buf scratch;          /* answer headers */
	wr_buf body;             /* answer body */
	wr_http_req_head head;   /* 3 KiB: one per reactor, not per connection */
	uint64_t date_sec;       /* second (of the reactor's clock) the Date line was made */
	char date[40];           /* "Date: ...\r\n" */
};

/* A chunked body being decoded (only then allocated). */
typedef struct chunked_state {
	size_t raw_pos;       /* next undecoded byte */
	size_t dec_end;       /* end of the decoded body */
	wr_chunked dec;
} chunked_state;

/* A connection's HTTP state; from the reactor's pool, freed when the connection goes or is
 * handed to another protocol. Small: an idle keep-alive connection carries only this. */
typedef struct http_state {
	wr_http_ctx *ctx;
	wr_buf in;            /* a request head or body spread over receive buffers */
	chunked_state *ch;    /* a chunked body in progress */
	uint64_t body_need;   /* Content-Length of the awaited body */
	uint32_t head_len;    /* 0: head not yet complete; else parsed, its body awaited */
	uint32_t scanned;     /* bytes of `in` already scanned for the end of the head */
	bool chunked;
	bool expect_continue;
	bool continue_sent;
	bool discard;         /* answered for the last time: input is dropped */
	bool upgraded;        /* handed to an upgrade hook: the state is no longer c's */
} http_state;

static const wr_proto http_proto;

wr_http_ctx *wr__http_ctx_new(const wr_http_config *cfg)
{
	wr_http_ctx *x = calloc(1, sizeof(*x));
	if (x)
		x->cfg = *cfg;
	return x;
}

void wr__http_ctx_free(wr_http_ctx *x)
{
	if (!x)
		return;
	wr__buf_free(&x->scratch);
	wr__buf_free(&x->body);
	free(x);
}

int wr__http_attach(wr_conn *c, wr_http_ctx *ctx)
{
	http_state *hs = wr__conn_state_new(c, sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	hs->ctx = ctx;
	wr__conn_set_proto(c, &http_proto, hs);
	wr__timer_arm(c, ctx->cfg.handshake_timeout_ms);
	return 0;
}

static http_state *state_of(wr_conn *c) { return c->ps; }

/* The Date line, made again when the reactor's clock has moved on by a second. */
static const char *date_line(wr_conn *c, wr_http_ctx *x)
{
	uint64_t sec = wr__reactor_now_ns(c->r) / 1000000000u;
	if (sec != x->date_sec || !x->date[0]) {
		x->date_sec = sec;
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(x->date, sizeof(x->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
	}
	return x->date;
}

wr_buf *wr__http_scratch(wr_conn *c)
{
	wr_buf *b = &state_of(c)->ctx->scratch;
	b->len = 0;
	return b;
}

wr_http_ctx *wr__http_ctx_of(wr_conn *c) { return state_of(c)->ctx; }

int wr__http_resume(wr_conn *c, wr_http_ctx *ctx)
{
	int rc = wr__http_attach(c, ctx);
	if (rc == 0)
		wr__timer_arm(c, ctx->cfg.idle_timeout_ms);
	return rc;
}

static bool status_has_body(int status) { return !(status < 200 || status == 204 || status == 304); }

/* Reserve an answer's head (status line, Date, framing, Connection: close, the headers, the
 * blank line) plus extra bytes after it in c's output, filled but for the extra. len as
 * wr__http_write_head. NULL when out of memory. */
static uint8_t *put_head(wr_conn *c, wr_http_ctx *ctx, int status, const wr_buf *hdrs,
                         int64_t len, bool close, size_t extra)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n%s", status, wr__http_reason(status),
	                 date_line(c, ctx));
	if (status_has_body(status) && len >= 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Content-Length: %lld\r\n",
		              (long long)len);
	else if (status_has_body(status) && len == WR_HTTP_CHUNKED)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Transfer-Encoding: chunked\r\n");
	if (close)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Connection: close\r\n");
	size_t hl = hdrs ? hdrs->len : 0;
	uint8_t *p = wr__conn_reserve(c, (size_t)n + hl + 2 + extra);
	if (!p)
		return NULL;
	memcpy(p, line, (size_t)n);
	p += n;
	if (hl) {
		memcpy(p, hdrs->data, hl);
		p += hl;
	}
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

int wr__http_write_head(wr_conn *c, wr_http_ctx *ctx, int status, const wr_buf *hdrs,
                        int64_t len, bool close)
{
	return put_head(c, ctx, status, hdrs, len, close, 0) ? 0 : -ENOMEM;
}

int wr__http_respond(wr_conn *c, int status, const wr_buf *hdrs, const void *body, size_t blen,
                     bool head_only, bool close)
{
	size_t extra = head_only || !status_has_body(status) ? 0 : blen;
	uint8_t *p = put_head(c, state_of(c)->ctx, status, hdrs, (int64_t)blen, close, extra);
	if (!p)
		return -ENOMEM;
	if (extra)
		memcpy(p, body, extra);
	return 0;
}

void wr__http_refuse(wr_conn *c, int status, const char *extra_header)
{
	http_state *hs = state_of(c);
	wr_buf *h = wr__http_scratch(c);
	if (extra_header)
		wr__buf_append(h, extra_header, strlen(extra_header));
	static const char ct[] = "Content-Type: text/plain; charset=utf-8\r\n";
	wr__buf_append(h, ct, sizeof(ct) - 1);
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, wr__http_reason(status));
	wr__http_respond(c, status, h, body, (size_t)n, false, true);
	hs->discard = true;
	wr__buf_free(&hs->in);
	wr__conn_close(c, "request refused");
}

/* Bad input counted by kind, then answered with its status. */
static void refuse_input(wr_conn *c, int status)
{
	if (c->r->stats)
		WR_STAT_ADD(c->r->stats->parse_errors[status == 400 ? WR_STATS_HTTP_MALFORMED
		                                                      : WR_STATS_HTTP_TOO_LARGE], 1);
	wr__http_refuse(c, status, NULL);
}

/* Route and answer one complete request; rest[0..rest_len) is what follows it. */
static void dispatch(wr_conn *c, const wr_http_req_head *h, wr_str body, uint8_t *rest,
                     size_t rest_len)
{
	http_state *hs = state_of(c);
	wr_http_ctx *x = hs->ctx;
	const wr_route *rt;
	wr_route_params params;
	wr_req req = { .head = h, .body = body, .params = &params };
	bool head = h->method.len == 4 && !memcmp(h->method.data, "HEAD", 4);
	int rc = wr__router_match(x->cfg.router, h->method, h->path, &rt, &params);
	/* This request's stats (NULL: metrics off, or a route not counted here): upgrade and
	 * stream routes answer on their own, and are counted by their protocol if at all. */
	wr_http_route_stats *st = NULL;
	if (rc < 0)
		st = x->cfg.unmatched_stats;
	else if (rt->kind == WR_ROUTE_HTTP && rt->stats)
		st = *rt->stats;
	if (st) {
		st += wr__reactor_idx(c->r);
		WR_STAT_ADD(st->requests, 1);
	}
	if (rc == -EPERM) {
		char allow[128], hdr[160];
		wr__router_allow(x->cfg.router, h->path, allow, sizeof(allow));
		snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
		wr_buf *hb = wr__http_scratch(c);
		wr__buf_append(hb, hdr, strlen(hdr));
		static const char msg[] = "405 Method Not Allowed\n";
		wr__http_respond(c, 405, hb, msg, sizeof(msg) - 1, false, !h->keep_alive);
		wr__stats_http_status(st, 405);
		goto done;
	}
	if (rc < 0) {
		static const char msg[] = "404 Not Found\n";
		wr__http_respond(c, 404, NULL, msg, sizeof(msg) - 1, head, !h->keep_alive);
		wr__stats_http_status(st, 404);
		goto done;
	}
	if (rt->kind == WR_ROUTE_UPGRADE || rt->kind == WR_ROUTE_STREAM) {
		if (rt->fn.upgrade(c, &req, rest, rest_len, rt->user)) {
			hs->upgraded = true; /* c speaks another protocol now */
			return;
		}
		goto done;
	}
	wr_buf *hb = wr__http_scratch(c);
	x->body.len = 0;
	wr_res res = { .status = 200, .headers = hb, .body = &x->body };
	if (st && wr__sampler_hit(&st->sample)) {
		/* timed like WebSocket messages: two clock reads, on a sample only */
		uint64_t t0 = wr__now_ns();
		rt->fn.http(&req, &res, rt->user);
		wr_hist_record(st->handler, wr__now_ns() - t0);
	} else {
		rt->fn.http(&req, &res, rt->user);
	}
	if (res.error) {
		wr__stats_http_status(st, 500);
		wr__log("handler for %.*s failed: %s", (int)h->path.len, h->path.data,
		        wr_strerror(res.error));
		static const char msg[] = "500 Internal Server Error\n";
		wr__http_respond(c, 500, NULL, msg, sizeof(msg) - 1, false, true);
		wr__conn_close(c, "handler failed");
		return;
	}
	wr__http_respond(c, res.status, hb, x->body.data, x->body.len, head, !h->keep_alive);
	wr__stats_http_status(st, res.status);
	wr__buf_trim(&x->body, 1 << 20);
done:
	if (!h->keep_alive)
		wr__conn_close(c, "request done");
}

static bool is_closing(const wr_conn *c, const http_state *hs)
{
	return hs->discard || hs->upgraded || !wr__conn_is_open(c);
}

/* "100 Continue" once per request, when the client asked and the body is still to come. */
static void send_continue(wr_conn *c, http_state *hs)
{
	if (hs->expect_continue && !hs->continue_sent) {
		wr__conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		hs->continue_sent = true;
	}
}

/* A request with a body, for a stream route: its hook takes the connection now, before the
 * body (which it reads as it comes, unbounded by max_body_bytes). */
static bool stream_taken(wr_conn *c, http_state *hs, const wr_http_req_head *h, uint8_t *rest,
                         size_t n)
{
	const wr_route *rt;
	wr_route_params params;
	if (wr__router_match(hs->ctx->cfg.router, h->method, h->path, &rt, &params) < 0 ||
	    rt->kind != WR_ROUTE_STREAM)
		return false;
	wr_req req = { .head = h, .params = &params };
	/* A hook that could not take it has answered (and closes) itself. */
	if (rt->fn.upgrade(c, &req, rest, n, rt->user))
		hs->upgraded = true;
	return true;
}

/* Parse and serve requests from p[0..n); returns bytes consumed. Whatever is left is an
 * incomplete request that the caller keeps in hs->in. A head is parsed once when it completes;
 * while its body arrives only the body is looked at, and the head is parsed again (for fresh
 * views into the now complete buffer) just before dispatch. */
static size_t serve(wr_conn *c, http_state *hs, uint8_t *p, size_t n, bool from_in)
{
	const wr_http_config *cfg = &hs->ctx->cfg;
	wr_http_req_head *hp = &hs->ctx->head;
	size_t off = 0;
	while (off < n && !is_closing(c, hs)) {
		if (wr__conn_over_limit(c)) {
			/* Pipelining while never reading the answers: cut the peer off rather than
			 * queue answers without bound (one answer, however large, always goes out). */
			if (c->r->stats)
				WR_STAT_ADD(c->r->stats->cutoffs, 1);
			wr__conn_abort(c, -ENOBUFS, "answers not read");
			return n;
		}
		size_t avail = n - off;
		bool head_was_parsed = hs->head_len != 0;
		if (!head_was_parsed) {
			int hl = wr__http_parse_request((const char *)p + off, avail,
			                                from_in ? hs->scanned : 0, cfg->max_header_bytes, hp);
			if (hl == -EAGAIN) {
				hs->scanned = (uint32_t)avail;
				return off;
			}
			if (hl < 0) {
				refuse_input(c, wr__http_status_for(hl));
				return n;
			}
			hs->scanned = 0;
			if ((hp->content_length > 0 || hp->chunked) &&
			    wr__router_has_stream(cfg->router) &&
			    stream_taken(c, hs, hp, p + off + hl, avail - (size_t)hl))
				return n;
			if (hp->content_length > 0 && (uint64_t)hp->content_length > cfg->max_body_bytes) {
				refuse_input(c, 413);
				return n;
			}
			hs->head_len = (uint32_t)hl;
			hs->chunked = hp->chunked;
			hs->expect_continue = hp->expect_continue;
			hs->body_need = hp->content_length > 0 ? (uint64_t)hp->content_length : 0;
			if (hs->chunked) {
				hs->ch = wr__conn_state_new(c, sizeof(*hs->ch));
				if (!hs->ch) {
					wr__conn_abort(c, -ENOMEM, "out of memory");
					return n;
				}
				hs->ch->raw_pos = hs->ch->dec_end = (size_t)hl;
				wr__chunked_init(&hs->ch->dec, cfg->max_body_bytes);
			}
		}
		size_t hl = hs->head_len, used_total;
		wr_str body;
		if (hs->chunked) {
			/* Decoded in place (the receive buffer or hs->in): output never passes input. */
			size_t used, outl;
			chunked_state *ch = hs->ch;
			int dr = wr__chunked_decode(&ch->dec, (const char *)p + off + ch->raw_pos,
			                            avail - ch->raw_pos, &used,
			                            (char *)p + off + ch->dec_end, &outl);
			if (dr < 0) {
				refuse_input(c, dr == -EFBIG ? 413 : 400);
				return n;
			}
			ch->raw_pos += used;
			ch->dec_end += outl;
			if (dr == 0) {
				send_continue(c, hs);
				return off;
			}
			body = (wr_str){ (const char *)p + off + hl, ch->dec_end - hl };
			used_total = ch->raw_pos;
			wr__conn_state_free(c, ch, sizeof(*ch));
			hs->ch = NULL;
		} else {
			if ((uint64_t)hl + hs->body_need > avail) {
				send_continue(c, hs);
				return off;
			}
			body = (wr_str){ (const char *)p + off + hl, (size_t)hs->body_need };
			used_total = hl + (size_t)hs->body_need;
		}
		/* The decoded body overwrote nothing of the head: parsing it again is safe. */
		if (head_was_parsed)
			wr__http_parse_request((const char *)p + off, hl, 0, cfg->max_header_bytes, hp);
		hs->head_len = hs->scanned = 0;
		hs->body_need = 0;
		hs->chunked = hs->expect_continue = hs->continue_sent = false;
		off += used_total;
		dispatch(c, hp, body, p + off, n - off);
	}
	return off;
}

/* After the hook took the connection: HTTP's state is ours alone to free. */
static void handed_over(wr_conn *c, http_state *hs)
{
	wr__buf_free(&hs->in);
	wr__conn_state_free(c, hs->ch, sizeof(*hs->ch));
	wr__conn_state_free(c, hs, sizeof(*hs));
}

/* An incomplete request head is buffered (serve() leaves scanned > 0 only then). */
static bool head_pending(const http_state *hs)
{
	return hs->in.len > 0 && hs->scanned > 0;
}

static void http_on_data(wr_conn *c, uint8_t *p, size_t n)
{
	http_state *hs = state_of(c);
	if (is_closing(c, hs))
		return; /* answered for the last time: whatever follows is dropped, not buffered */
	bool was_head_pending = head_pending(hs);
	if (hs->in.len == 0) {
		size_t used = serve(c, hs, p, n, false);
		if (hs->upgraded) {
			handed_over(c, hs);
			return;
		}
		if (used < n && !is_closing(c, hs) && wr__buf_append(&hs->in, p + used, n - used) < 0)
			wr__conn_abort(c, -ENOMEM, "out of memory");
	} else {
		if (wr__buf_append(&hs->in, p, n) < 0) {
			wr__conn_abort(c, -ENOMEM, "out of memory");
			return;
		}
		size_t used = serve(c, hs, hs->in.data, hs->in.len, true);
		if (hs->upgraded) {
			handed_over(c, hs);
			return;
		}
		if (is_closing(c, hs)) {
			wr__buf_free(&hs->in);
			return;
		}
		wr__buf_consume(&hs->in, used);
		wr__buf_trim(&hs->in, 64 * 1024);
	}
	if (is_closing(c, hs))
		return;
	/* Between requests, or a body arriving: progress extends the idle deadline. A head gets
	 * handshake_timeout_ms from its first byte, and trickling more bytes does not extend it
	 * (slowloris). */
	if (!head_pending(hs))
		wr__timer_arm(c, hs->ctx->cfg.idle_timeout_ms);
	else if (!was_head_pending)
		wr__timer_arm(c, hs->ctx->cfg.handshake_timeout_ms);
}

static void http_on_timer(wr_conn *c)
{
	/* Idle keep-alive or a request that never completed (slowloris): just close. A
	 * request head that never completed is a refused handshake. */
	http_state *hs = state_of(c);
	if (c->r->stats && head_pending(hs))
		WR_STAT_ADD(c->r->stats->refused[WR_STATS_REFUSED_HANDSHAKE], 1);
	wr__conn_abort(c, -ETIMEDOUT, "idle");
}

static void http_on_shutdown(wr_conn *c)
{
	/* A request being received is dropped; an answer being sent is finished. */
	if (c->out_bytes)
		wr__conn_close(c, "server stopping");
	else
		wr__conn_abort(c, -ESHUTDOWN, "server stopping");
}

static void http_free(wr_conn *c)
{
	handed_over(c, state_of(c));
}

static const wr_proto http_proto = {
	.name = "http",
	.on_data = http_on_data,
	.on_timer = http_on_timer,
	.on_shutdown = http_on_shutdown,
	.free = http_free,
};
