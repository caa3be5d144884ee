/* HTTP/1.1 on a connection: gather the head (and body) of each request, route it, answer in
 * request order; keep-alive, pipelining, HTTP/1.0, error answers, and the WebSocket upgrade. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http_req.h"
#include "log.h"
#include "reactor.h"

static const wr_server_config *cfg_of(const wr_conn *c) { return &c->r->sh->cfg; }

/* Queue status line, our headers, the handler's headers and the body. */
static int write_response(wr_conn *c, int status, const wr_buf *hdrs, const uint8_t *body,
                          size_t blen, bool head_only, bool close)
{
	char line[256];
	bool no_body = status < 200 || status == 204 || status == 304;
	int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n%s", status, wr__http_reason(status),
	                 c->r->date);
	if (!no_body)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Content-Length: %zu\r\n", blen);
	if (close)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Connection: close\r\n");
	size_t total = (size_t)n + (hdrs ? hdrs->len : 0) + 2 + (head_only || no_body ? 0 : blen);
	uint8_t *p = wr__conn_write_reserve(c, total);
	if (!p)
		return -ENOMEM;
	memcpy(p, line, (size_t)n);
	p += n;
	if (hdrs && hdrs->len) {
		memcpy(p, hdrs->data, hdrs->len);
		p += hdrs->len;
	}
	*p++ = '\r';
	*p++ = '\n';
	if (!(head_only || no_body) && blen)
		memcpy(p, body, blen);
	return 0;
}

/* Refuse a request and close after the answer: the stream cannot be trusted past it. */
static void fail(wr_conn *c, int status, const char *extra_header)
{
	wr_buf *h = &c->r->scratch;
	h->len = 0;
	if (extra_header)
		wr__buf_append(h, extra_header, strlen(extra_header));
	static const char ct[] = "Content-Type: text/plain; charset=utf-8\r\n";
	wr__buf_append(h, ct, sizeof(ct) - 1);
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, wr__http_reason(status));
	write_response(c, status, h, (const uint8_t *)body, (size_t)n, false, true);
	c->flags |= WR_CF_RECV_DISCARD;
	wr__buf_free(&c->in);
	wr__conn_close_soft(c);
}

static void upgrade(wr_conn *c, const wr_route *rt, wr_req *req)
{
	const wr_http_req_head *h = req->head;
	wr_str key;
	int st = wr__ws_check_upgrade(h, &key);
	if (st == 426) {
		fail(c, 426, "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n");
		return;
	}
	if (st != 0) {
		fail(c, 400, NULL);
		return;
	}
	const wr_ws_handlers *wh = rt->ws;
	wr_buf *hb = &c->r->scratch;
	hb->len = 0;
	wr_upgrade up = { .headers = hb,
	                  .offered = wr__http_find(h->headers, h->nheaders, "sec-websocket-protocol") };
	if (wh->on_upgrade) {
		int refuse = wh->on_upgrade(req, &up, wh->user);
		if (refuse) {
			if (refuse < 400 || refuse > 599)
				refuse = 403;
			static const char ct[] = "Content-Type: text/plain; charset=utf-8\r\n";
			wr__buf_append(hb, ct, sizeof(ct) - 1);
			char body[64];
			int n = snprintf(body, sizeof(body), "%d %s\n", refuse, wr__http_reason(refuse));
			write_response(c, refuse, hb, (const uint8_t *)body, (size_t)n, false, !h->keep_alive);
			if (!h->keep_alive)
				wr__conn_close_soft(c);
			return;
		}
	}
	char accept[29];
	wr__ws_accept_key(key.data, key.len, accept);
	char line[256];
	int n = snprintf(line, sizeof(line),
	                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", accept);
	if (up.protocol)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Sec-WebSocket-Protocol: %s\r\n",
		              up.protocol);
	size_t total = (size_t)n + hb->len + 2;
	uint8_t *p = wr__conn_write_reserve(c, total);
	if (!p) {
		wr__conn_close_hard(c);
		return;
	}
	memcpy(p, line, (size_t)n);
	if (hb->len)
		memcpy(p + n, hb->data, hb->len);
	memcpy(p + n + hb->len, "\r\n", 2);
	if (up.protocol) {
		size_t pl = strlen(up.protocol);
		memcpy(c->ws.protocol, up.protocol, pl);
		c->ws.protocol_len = (uint8_t)pl;
	}
	wr__ws_start(c, wh, up.data, false);
	c->flags |= WR_CF_OPENED;
	if (wh->on_open)
		wh->on_open((wr_ws *)c, req, wh->user);
}

/* Route and answer one complete request. */
static void dispatch(wr_conn *c, const wr_http_req_head *h, wr_str body)
{
	wr_reactor *r = c->r;
	const wr_route *rt;
	wr_route_params params;
	wr_req req = { .head = h, .body = body, .params = &params };
	int rc = wr__router_match(r->sh->router, h->method, h->path, &rt, &params);
	if (rc == -EPERM) {
		char allow[128], hdr[160];
		wr__router_allow(r->sh->router, h->path, allow, sizeof(allow));
		snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
		wr_buf *hb = &r->scratch;
		hb->len = 0;
		wr__buf_append(hb, hdr, strlen(hdr));
		static const char msg[] = "405 Method Not Allowed\n";
		write_response(c, 405, hb, (const uint8_t *)msg, sizeof(msg) - 1, false, !h->keep_alive);
		goto done;
	}
	if (rc < 0) {
		static const char msg[] = "404 Not Found\n";
		bool head = h->method.len == 4 && !memcmp(h->method.data, "HEAD", 4);
		write_response(c, 404, NULL, (const uint8_t *)msg, sizeof(msg) - 1, head, !h->keep_alive);
		goto done;
	}
	if (rt->kind == WR_ROUTE_WS) {
		upgrade(c, rt, &req);
		return;
	}
	wr_buf *body_scratch = &r->body;
	wr_buf *hb = &r->scratch;
	hb->len = 0;
	body_scratch->len = 0;
	wr_res res = { .status = 200, .headers = hb, .body = body_scratch };
	((wr_http_handler)rt->fn)(&req, &res, rt->user);
	if (res.error) {
		wr__log("handler for %.*s failed: %s", (int)h->path.len, h->path.data,
		        wr_strerror(res.error));
		hb->len = 0;
		static const char msg[] = "500 Internal Server Error\n";
		write_response(c, 500, NULL, (const uint8_t *)msg, sizeof(msg) - 1, false, true);
		wr__conn_close_soft(c);
		return;
	}
	bool head = h->method.len == 4 && !memcmp(h->method.data, "HEAD", 4);
	write_response(c, res.status, hb, body_scratch->data, body_scratch->len, head, !h->keep_alive);
	wr__buf_trim(body_scratch, 1 << 20);
done:
	if (!h->keep_alive)
		wr__conn_close_soft(c);
}

static bool is_closing(const wr_conn *c)
{
	return (c->flags & (WR_CF_CLOSE_AFTER_FLUSH | WR_CF_RECV_DISCARD)) || c->state != WR_CONN_HTTP;
}

/* "100 Continue" once per request, when the client asked and the body is still to come. */
static void send_continue(wr_conn *c)
{
	wr_http_state *hs = &c->http;
	if (hs->expect_continue && !hs->continue_sent) {
		wr__conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		hs->continue_sent = true;
	}
}

/* Parse and serve requests from p[0..n); returns bytes consumed. Whatever is left is an
 * incomplete request that the caller keeps in c->in. A head is parsed once when it completes;
 * while its body arrives only the body is looked at, and the head is parsed again (for fresh
 * views into the now complete buffer) just before dispatch. */
static size_t serve(wr_conn *c, uint8_t *p, size_t n, bool from_in)
{
	const wr_server_config *cfg = cfg_of(c);
	wr_http_req_head *hp = &c->r->head; /* 3 KiB: too big for each connection */
	size_t off = 0;
	while (off < n && !is_closing(c)) {
		wr_http_state *hs = &c->http;
		if (wr__conn_over_limit(c)) {
			/* Pipelining while never reading the answers: cut the peer off rather than
			 * queue answers without bound (one answer, however large, always goes out). */
			wr__conn_close_hard(c);
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
				fail(c, wr__http_status_for(hl), NULL);
				return n;
			}
			hs->scanned = 0;
			if (hp->content_length > 0 && (uint64_t)hp->content_length > cfg->max_body_bytes) {
				fail(c, 413, NULL);
				return n;
			}
			hs->head_len = (uint32_t)hl;
			hs->chunked = hp->chunked;
			hs->expect_continue = hp->expect_continue;
			hs->body_need = hp->content_length > 0 ? (uint64_t)hp->content_length : 0;
			if (hs->chunked) {
				hs->raw_pos = hs->dec_end = (size_t)hl;
				wr__chunked_init(&hs->dec, cfg->max_body_bytes);
			}
		}
		size_t hl = hs->head_len, used_total;
		wr_str body;
		if (hs->chunked) {
			/* Decoded in place (the receive buffer or c->in): output never passes input. */
			size_t used, outl;
			int dr = wr__chunked_decode(&hs->dec, (const char *)p + off + hs->raw_pos,
			                            avail - hs->raw_pos, &used,
			                            (char *)p + off + hs->dec_end, &outl);
			if (dr < 0) {
				fail(c, dr == -EFBIG ? 413 : 400, NULL);
				return n;
			}
			hs->raw_pos += used;
			hs->dec_end += outl;
			if (dr == 0) {
				send_continue(c);
				return off;
			}
			body = (wr_str){ (const char *)p + off + hl, hs->dec_end - hl };
			used_total = hs->raw_pos;
		} else {
			if ((uint64_t)hl + hs->body_need > avail) {
				send_continue(c);
				return off;
			}
			body = (wr_str){ (const char *)p + off + hl, (size_t)hs->body_need };
			used_total = hl + (size_t)hs->body_need;
		}
		/* The decoded body overwrote nothing of the head: parsing it again is safe. */
		if (head_was_parsed)
			wr__http_parse_request((const char *)p + off, hl, 0, cfg->max_header_bytes, hp);
		memset(hs, 0, sizeof(*hs));
		dispatch(c, hp, body);
		off += used_total;
	}
	return off;
}

/* An incomplete request head is buffered (serve() leaves scanned > 0 only then). */
static bool head_pending(const wr_conn *c)
{
	return c->in.len > 0 && c->http.scanned > 0;
}

void wr__http_on_data(wr_conn *c, uint8_t *p, size_t n)
{
	if (is_closing(c))
		return; /* answered for the last time: whatever follows is dropped, not buffered */
	bool was_head_pending = head_pending(c);
	if (c->in.len == 0) {
		size_t used = serve(c, p, n, false);
		if (used < n && !is_closing(c)) {
			if (wr__buf_append(&c->in, p + used, n - used) < 0)
				wr__conn_close_hard(c);
		} else if (used < n && c->state == WR_CONN_WS) {
			wr__ws_on_data(c, p + used, n - used);
		}
		goto arm;
	}
	if (wr__buf_append(&c->in, p, n) < 0) {
		wr__conn_close_hard(c);
		return;
	}
	size_t used = serve(c, c->in.data, c->in.len, true);
	if (c->state == WR_CONN_WS && used < c->in.len) {
		/* Frames that followed the upgrade request in the same bytes. */
		wr_buf rest = c->in;
		c->in = (wr_buf){ 0 };
		wr__ws_on_data(c, rest.data + used, rest.len - used);
		wr__buf_free(&rest);
		return;
	}
	if (is_closing(c)) {
		wr__buf_free(&c->in);
		return;
	}
	wr__buf_consume(&c->in, used);
	wr__buf_trim(&c->in, 64 * 1024);
arm:
	if (c->state != WR_CONN_HTTP || (c->flags & WR_CF_CLOSE_AFTER_FLUSH))
		return;
	/* Between requests, or a body arriving: progress extends the idle deadline. A head gets
	 * handshake_timeout_ms from its first byte, and trickling more bytes does not extend it
	 * (slowloris). */
	if (!head_pending(c))
		wr__timer_arm(c, cfg_of(c)->idle_timeout_ms);
	else if (!was_head_pending)
		wr__timer_arm(c, cfg_of(c)->handshake_timeout_ms);
}

void wr__http_on_timer(wr_conn *c)
{
	/* Idle keep-alive or a request that never completed (slowloris): just close. */
	wr__conn_close_hard(c);
}
