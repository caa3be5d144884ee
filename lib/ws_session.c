/* WebSocket on a connection, both roles: frames in (parse, unmask in place, validate,
 * reassemble, deliver views), frames out (coalesced; masked in the client role), pings, the
 * closing handshake, idle and close timers, backpressure. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rand.h"
#include "reactor.h"
#include "simd.h"
#include "utf8.h"

#define DRAIN_MARK (64u * 1024u)

static const wr_server_config *cfg_of(const wr_conn *c) { return &c->r->sh->cfg; }

static uint32_t next_key(wr_conn *c)
{
	return (uint32_t)(wr__rand_next(&c->rng) >> 32);
}

static void arm_idle(wr_conn *c)
{
	unsigned iv = cfg_of(c)->ping_interval_ms;
	if (iv != (unsigned)-1)
		wr__timer_arm(c, iv);
	else
		wr__timer_cancel(c);
}

void wr__ws_start(wr_conn *c, const wr_ws_handlers *h, void *data, bool client)
{
	c->state = WR_CONN_WS;
	c->ws.h = h;
	c->ws.data = data;
	if (client)
		c->flags |= WR_CF_CLIENT;
	wr__ws_parser_init(&c->ws.parser, client ? WR_WS_CLIENT : WR_WS_SERVER,
	                   cfg_of(c)->max_message_bytes);
	arm_idle(c);
}

/* Queue one frame: header and payload, masked in the client role. */
static int queue_frame(wr_conn *c, wr_opcode op, const void *data, size_t len)
{
	uint8_t hdr[14], key[4];
	bool client = c->flags & WR_CF_CLIENT;
	if (client) {
		uint32_t k = next_key(c);
		memcpy(key, &k, 4);
	}
	size_t hl = wr__ws_frame_header(hdr, true, op, len, client ? key : NULL);
	if (hl + len > WR_SEG_SIZE && !c->tls) {
		/* Large: a chain of pooled segments. Running out of memory half way leaves half a
		 * frame queued, so the connection cannot go on: it is dropped. */
		int rc = wr__conn_write_raw(c, hdr, hl);
		if (rc == 0)
			rc = client ? wr__conn_write_masked(c, data, len, key) : wr__conn_write_raw(c, data, len);
		if (rc < 0) {
			wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, "out of memory");
			wr__conn_close_hard(c);
		}
		return rc;
	}
	uint8_t *p = wr__conn_write_reserve(c, hl + len);
	if (!p)
		return -ENOMEM;
	memcpy(p, hdr, hl);
	if (len)
		memcpy(p + hl, data, len);
	if (client && len)
		wr__unmask(p + hl, len, key, 0);
	return 0;
}

static void report_close(wr_conn *c, int code, wr_str reason)
{
	if (!(c->flags & WR_CF_OPENED) || (c->flags & WR_CF_CLOSE_REPORTED))
		return;
	c->flags |= WR_CF_CLOSE_REPORTED;
	c->ws.close_code = (uint16_t)code;
	if (c->ws.h && c->ws.h->on_close)
		c->ws.h->on_close((wr_ws *)c, code, reason, c->ws.h->user);
}

void wr__ws_on_gone(wr_conn *c, int code, const char *reason)
{
	report_close(c, code, (wr_str){ reason, reason ? strlen(reason) : 0 });
}

/* Send a close frame (once), then close TCP once it is out. */
static void send_close(wr_conn *c, int code, const char *reason, size_t rlen)
{
	if (c->flags & WR_CF_CLOSE_SENT)
		return;
	uint8_t pl[125];
	size_t n = wr__ws_close_payload(pl, code, reason, rlen);
	queue_frame(c, WR_OP_CLOSE, pl, n);
	c->flags |= WR_CF_CLOSE_SENT;
}

/* Fail the connection (RFC 6455 §7.1.7): close frame with the code, then close. */
static void fail(wr_conn *c, int code, const char *why)
{
	send_close(c, code, why, strlen(why));
	wr__ws_on_gone(c, code, why);
	wr__conn_close_soft(c);
}

void wr__ws_shutdown(wr_conn *c, int code, const char *reason)
{
	if (c->flags & WR_CF_CLOSE_SENT)
		return;
	send_close(c, code, reason, strlen(reason));
	wr__timer_arm(c, cfg_of(c)->close_timeout_ms);
}

static void deliver(wr_conn *c, wr_opcode op, const uint8_t *p, size_t n)
{
	const wr_ws_handlers *h = c->ws.h;
	if (h->on_message)
		h->on_message((wr_ws *)c, (wr_msg){ p, n, op }, h->user);
}

static void on_control(wr_conn *c, const wr_ws_event *ev)
{
	const wr_ws_handlers *h = c->ws.h;
	switch (ev->opcode) {
	case WR_OP_PING:
		if (!(c->flags & WR_CF_CLOSE_SENT))
			queue_frame(c, WR_OP_PONG, ev->data, ev->len);
		if (h->on_ping)
			h->on_ping((wr_ws *)c, (wr_msg){ ev->data, ev->len, WR_OP_PING }, h->user);
		break;
	case WR_OP_PONG:
		if (h->on_pong)
			h->on_pong((wr_ws *)c, (wr_msg){ ev->data, ev->len, WR_OP_PONG }, h->user);
		break;
	case WR_OP_CLOSE:
		c->flags |= WR_CF_CLOSE_RCVD;
		if (!(c->flags & WR_CF_CLOSE_SENT)) {
			/* Echo the peer's code (none if it sent none), as RFC 6455 §5.5.1 suggests. */
			int code = ev->close_code == WR_CLOSE_NO_STATUS ? 0 : ev->close_code;
			send_close(c, code, NULL, 0);
		}
		report_close(c, ev->close_code, ev->close_reason);
		/* The server closes TCP first (§7.1.1); a client waits for it, within the linger. */
		wr__conn_close_soft(c);
		break;
	default:
		break;
	}
}

void wr__ws_on_data(wr_conn *c, uint8_t *p, size_t n)
{
	c->flags &= ~WR_CF_PING_SENT;
	wr_ws_state *ws = &c->ws;
	while (n && c->state == WR_CONN_WS && !(c->flags & WR_CF_CLOSE_RCVD)) {
		wr_ws_event ev;
		size_t used = wr__ws_parse(&ws->parser, p, n, &ev);
		p += used;
		n -= used;
		switch (ev.type) {
		case WR_WS_EV_NONE:
			break;
		case WR_WS_EV_DATA:
			if (c->flags & WR_CF_CLOSE_SENT)
				break; /* closing: data is no longer delivered */
			if (ev.msg_start && ev.msg_end) {
				deliver(c, ev.opcode, ev.data, ev.len); /* zero-copy: a view of the ring buffer */
				break;
			}
			if (ev.msg_start) {
				ws->msg.len = 0;
				/* Presize from the declared length, but only up to 1 MiB: a peer that
				 * announces 16 MiB frames on many connections and then trickles must not
				 * get that memory for free. */
				uint64_t want = ev.msg_len_hint < (1u << 20) ? ev.msg_len_hint : (1u << 20);
				if (want && wr__buf_reserve(&ws->msg, want) < 0) {
					fail(c, WR_CLOSE_TOO_BIG, "out of memory");
					return;
				}
			}
			if (wr__buf_append(&ws->msg, ev.data, ev.len) < 0) {
				fail(c, WR_CLOSE_TOO_BIG, "out of memory");
				return;
			}
			if (ev.msg_end) {
				deliver(c, ev.opcode, ws->msg.data, ws->msg.len);
				ws->msg.len = 0;
				wr__buf_trim(&ws->msg, 1u << 20);
			}
			break;
		case WR_WS_EV_CONTROL:
			on_control(c, &ev);
			break;
		case WR_WS_EV_ERROR:
			fail(c, ev.close_code, ev.error ? ev.error : "protocol error");
			return;
		}
	}
}

void wr__ws_on_timer(wr_conn *c)
{
	wr_reactor *r = c->r;
	if (c->state != WR_CONN_WS) {
		/* Client still connecting or waiting for the 101. */
		c->ws.error = -ETIMEDOUT;
		wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, "handshake timeout");
		wr__conn_close_hard(c);
		return;
	}
	if (c->flags & WR_CF_CLOSE_SENT) {
		wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, "close timeout");
		wr__conn_close_hard(c);
		return;
	}
	unsigned iv = cfg_of(c)->ping_interval_ms;
	uint32_t ticks = wr__ms_to_ticks(iv);
	uint32_t idle = r->tick - c->last_active;
	if (idle < ticks && !(c->flags & WR_CF_PING_SENT)) {
		wr__timer_arm(c, (ticks - idle) * WR_TICK_MS);
		return;
	}
	if (c->flags & WR_CF_PING_SENT) {
		wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, "ping timeout");
		wr__conn_close_hard(c);
		return;
	}
	queue_frame(c, WR_OP_PING, NULL, 0);
	c->flags |= WR_CF_PING_SENT;
	wr__timer_arm(c, iv);
}

void wr__ws_on_drain(wr_conn *c)
{
	if (c->ws.h && c->ws.h->on_drain && !(c->flags & WR_CF_CLOSE_SENT))
		c->ws.h->on_drain((wr_ws *)c, c->ws.h->user);
}

/* ---- public API ---- */

static int check_send(wr_conn *c, wr_opcode op, size_t len)
{
	if (c->state != WR_CONN_WS || (c->flags & WR_CF_CLOSE_SENT))
		return -EPIPE;
	switch (op) {
	case WR_OP_TEXT:
	case WR_OP_BINARY:
		return 0;
	case WR_OP_PING:
	case WR_OP_PONG:
		return len <= 125 ? 0 : -EINVAL;
	default:
		return -EINVAL; /* close goes through wr_ws_close */
	}
}

static int after_queue(wr_conn *c)
{
	if (wr__conn_over_limit(c)) {
		/* A consumer that does not read: cut it off rather than grow without bound. */
		wr__ws_on_gone(c, WR_CLOSE_POLICY_VIOLATION, "send buffer limit exceeded");
		wr__conn_close_hard(c);
		return -ENOBUFS;
	}
	if (c->out_bytes > DRAIN_MARK)
		c->flags |= WR_CF_DRAIN_WANTED;
	return 0;
}

int wr_ws_send(wr_ws *ws, const void *data, size_t len, wr_opcode op)
{
	wr_conn *c = (wr_conn *)ws;
	int rc = check_send(c, op, len);
	if (rc < 0)
		return rc;
	rc = queue_frame(c, op, data, len);
	if (rc < 0)
		return rc;
	return after_queue(c);
}

int wr_ws_send_text(wr_ws *ws, const char *text)
{
	return wr_ws_send(ws, text, strlen(text), WR_OP_TEXT);
}

/* Should a send "without copy" copy after all? Masking (client) or encryption (TLS) rewrite
 * the bytes anyway, and a small frame coalesces into the output buffer for less than a
 * separate segment costs. */
static bool copy_instead(const wr_conn *c, size_t len)
{
	return (c->flags & WR_CF_CLIENT) || c->tls || len < 4096;
}

int wr_ws_send_zc(wr_ws *ws, const void *data, size_t len, wr_opcode op, wr_send_done done,
                  void *user)
{
	wr_conn *c = (wr_conn *)ws;
	int rc = check_send(c, op, len);
	if (rc < 0)
		return rc;
	if (copy_instead(c, len)) {
		rc = queue_frame(c, op, data, len);
		if (rc < 0)
			return rc;
		if (done)
			done(data, 0, user);
		return after_queue(c);
	}
	uint8_t hdr[14];
	size_t hl = wr__ws_frame_header(hdr, true, op, len, NULL);
	rc = wr__conn_write_ext(c, hdr, hl, data, len, done, user);
	if (rc < 0)
		return rc;
	return after_queue(c);
}

int wr_ws_close(wr_ws *ws, int code, const char *reason)
{
	wr_conn *c = (wr_conn *)ws;
	if (c->state != WR_CONN_WS)
		return -EPIPE;
	if (c->flags & WR_CF_CLOSE_SENT)
		return -EALREADY;
	size_t rl = reason ? strlen(reason) : 0;
	if (!wr__ws_close_code_sendable(code) || rl > 123 ||
	    (rl && !wr__utf8_valid((const uint8_t *)reason, rl)))
		return -EINVAL;
	wr__ws_shutdown(c, code, reason ? reason : "");
	return 0;
}

size_t wr_ws_buffered(const wr_ws *ws) { return ((const wr_conn *)ws)->out_bytes; }
void *wr_ws_data(const wr_ws *ws) { return ((const wr_conn *)ws)->ws.data; }
void wr_ws_set_data(wr_ws *ws, void *data) { ((wr_conn *)ws)->ws.data = data; }
unsigned wr_ws_reactor(const wr_ws *ws) { return ((const wr_conn *)ws)->r->idx; }
int wr_ws_error(const wr_ws *ws) { return ((const wr_conn *)ws)->ws.error; }

wr_str wr_ws_protocol(const wr_ws *ws)
{
	const wr_conn *c = (const wr_conn *)ws;
	return (wr_str){ c->ws.protocol_len ? c->ws.protocol : NULL, c->ws.protocol_len };
}

/* ---- shared frames (broadcast) ---- */

struct wr_frame {
	atomic_uint refs;
	wr_opcode op;
	size_t hdr_len;
	size_t len;        /* payload bytes */
	uint8_t bytes[];   /* header then payload */
};

wr_frame *wr_frame_new(const void *data, size_t len, wr_opcode op)
{
	if (op != WR_OP_TEXT && op != WR_OP_BINARY && !((op == WR_OP_PING || op == WR_OP_PONG) && len <= 125))
		return NULL;
	wr_frame *f = malloc(sizeof(*f) + 14 + len);
	if (!f)
		return NULL;
	atomic_init(&f->refs, 1);
	f->op = op;
	f->len = len;
	f->hdr_len = wr__ws_frame_header(f->bytes, true, op, len, NULL);
	if (len)
		memcpy(f->bytes + f->hdr_len, data, len);
	return f;
}

void wr_frame_ref(wr_frame *f) { atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed); }

void wr_frame_unref(wr_frame *f)
{
	if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
		free(f);
}

static void frame_sent(const void *data, int status, void *user) { wr_frame_unref(user); }

int wr_ws_send_frame(wr_ws *ws, wr_frame *f)
{
	wr_conn *c = (wr_conn *)ws;
	int rc = check_send(c, f->op, f->len);
	if (rc < 0)
		return rc;
	if (copy_instead(c, f->len)) {
		rc = queue_frame(c, f->op, f->bytes + f->hdr_len, f->len);
	} else {
		wr_frame_ref(f);
		rc = wr__conn_write_ext(c, NULL, 0, f->bytes, f->hdr_len + f->len, frame_sent, f);
		if (rc < 0)
			wr_frame_unref(f);
	}
	if (rc < 0)
		return rc;
	return after_queue(c);
}
