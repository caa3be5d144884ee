/* WebSocket on a connection, receiving side and lifecycle: parse, unmask in place, validate,
 * reassemble, deliver views; control frames, the closing handshake, idle pings and timers;
 * reporting on_close exactly once. Sending is in ws_send.c, the server handshake in
 * ws_upgrade.c. */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "rand.h"
#include "reactor.h"
#include "pubsub.h"
#include "ws_deflate.h"
#include "ws_int.h"

static const wr_proto ws_proto;

wr_ws_extra *wr__ws_extra(wr_conn *c, wr_ws_state *s)
{
	if (!s->x)
		s->x = wr__conn_state_new(c, sizeof(*s->x));
	return s->x;
}

void wr__ws_set_protocol(wr_conn *c, wr_ws_state *s, wr_str protocol)
{
	if (!protocol.len || protocol.len >= sizeof(s->x->protocol) || !wr__ws_extra(c, s))
		return;
	memcpy(s->x->protocol, protocol.data, protocol.len);
	s->x->protocol_len = (uint8_t)protocol.len;
}

static void arm_idle(wr_conn *c, wr_ws_state *s)
{
	unsigned iv = s->rt->cfg.ping_interval_ms;
	if (iv != (unsigned)-1)
		wr__timer_arm(c, iv);
	else
		wr__timer_cancel(c);
}

void wr__ws_start(wr_conn *c, wr_ws_state *s)
{
	s->flags |= WS_OPEN | WS_OWED;
	/* Streaming routes take messages past the limit in pieces: the parser then only stops
	 * what it cannot count. */
	wr__ws_parser_init(&s->parser, s->flags & WS_CLIENT ? WR_WS_CLIENT : WR_WS_SERVER,
	                   s->rt->h.stream_large ? WR_WS_MAX_MSG : s->rt->cfg.max_message_bytes);
	s->parser.deflate = s->pmd != NULL;
	if (!s->rt->h.stream_large && s->rt->cfg.max_message_frames != -1u)
		s->parser.max_frames = s->rt->cfg.max_message_frames;
	wr__conn_set_proto(c, &ws_proto, s);
	arm_idle(c, s);
}

static void report_close(wr_conn *c, wr_ws_state *s, int code, wr_str reason)
{
	if (!(s->flags & WS_OWED) || (s->flags & WS_REPORTED))
		return;
	s->flags |= WS_REPORTED;
	wr_route_stats *st = ws_stats(c, s);
	if (st)
		WR_STAT_ADD(st->closes[wr_stats_close_slot(code)], 1);
	if (s->rt->h.on_close)
		s->rt->h.on_close((wr_ws *)c, code, reason, s->rt->h.user);
}

void wr__ws_report(wr_conn *c, wr_ws_state *s, int code, const char *why)
{
	report_close(c, s, code, (wr_str){ why, why ? strlen(why) : 0 });
}

/* Send a close frame (once). */
static void send_close(wr_conn *c, wr_ws_state *s, int code, const char *reason, size_t rlen)
{
	if (s->flags & WS_CLOSE_SENT)
		return;
	uint8_t pl[WR_WS_CTRL_MAX];
	size_t n = wr__ws_close_payload(pl, code, reason, rlen);
	s->flags |= WS_CLOSE_SENT;
	if (wr__ws_queue_frame(c, s, WR_OP_CLOSE, pl, n) == 0)
		ws_count_out(c, s, WR_OP_CLOSE, 1, n);
}

/* Bad input from the peer, by the close code it gets. */
static void count_bad_input(wr_conn *c, int code)
{
	wr_reactor_stats *st = c->r->stats;
	if (!st || (code != WR_CLOSE_PROTOCOL_ERROR && code != WR_CLOSE_INVALID_DATA &&
	            code != WR_CLOSE_TOO_BIG))
		return;
	WR_STAT_ADD(st->parse_errors[code == WR_CLOSE_PROTOCOL_ERROR ? WR_STATS_WS_PROTOCOL
	                             : code == WR_CLOSE_INVALID_DATA ? WR_STATS_WS_INVALID_DATA
	                                                             : WR_STATS_WS_TOO_BIG], 1);
}

/* The message buffer's memory, as the reactor's budget counts it. */
static void msg_charge(wr_conn *c, wr_ws_extra *x)
{
	if (x->msg.cap != x->charged) {
		wr__conn_mem_charge(c, (ssize_t)x->msg.cap - (ssize_t)x->charged);
		x->charged = x->msg.cap;
	}
}

/* A message is over: its buffer keeps at most a small message's room (a burst of large
 * ones leaves no memory behind on every connection that had one). */
static void msg_done(wr_conn *c, wr_ws_extra *x)
{
	x->msg.len = 0;
	wr__buf_trim(&x->msg, WR_WS_MSG_KEEP);
	msg_charge(c, x);
}

/* Cut off (RFC 6455 §7.4.1 1008, or the budget's code): our close frame goes ahead of what
 * is queued and not yet in flight (wr__conn_cut), then the connection closes; a peer that
 * does not read even that is dropped at the close timeout. */
static void cut(wr_conn *c, wr_ws_state *s, int code, int err, const char *why)
{
	if (s->flags & WS_CLOSE_SENT) { /* our close frame is queued already: no second one */
		wr__ws_report(c, s, code, why);
		wr__conn_abort(c, err, why);
		return;
	}
	uint8_t frame[2 + WR_WS_CTRL_MAX + 12];
	uint8_t pl[WR_WS_CTRL_MAX], key[4] = { 0 };
	size_t n = wr__ws_close_payload(pl, code, why, strlen(why));
	bool client = s->flags & WS_CLIENT;
	size_t hl = wr__ws_frame_header(frame, true, WR_OP_CLOSE, n, client ? key : NULL);
	memcpy(frame + hl, pl, n); /* a zero key: masking leaves the payload as it is */
	s->flags |= WS_CLOSE_SENT;
	wr_route_stats *st = ws_stats(c, s);
	if (st)
		WR_STAT_ADD(st->cutoffs, 1);
	if (c->r->stats)
		WR_STAT_ADD(c->r->stats->cutoffs, 1);
	wr__ws_report(c, s, code, why);
	wr__timer_arm(c, s->rt->cfg.close_timeout_ms);
	wr__conn_cut(c, err, why, frame, hl + n);
}

void wr__ws_cut(wr_conn *c, int code, int err, const char *why)
{
	cut(c, ws_state(c), code, err, why);
}

static void ws_on_overload(wr_conn *c, int err, const char *why)
{
	cut(c, ws_state(c), WR_CLOSE_POLICY_VIOLATION, err, why);
}

/* Fail the connection (RFC 6455 §7.1.7): close frame with the code, then close. */
static void fail(wr_conn *c, wr_ws_state *s, int code, const char *why)
{
	send_close(c, s, code, why, strlen(why));
	wr__ws_report(c, s, code, why);
	wr__conn_close(c, why);
}

void wr__ws_shutdown(wr_conn *c, wr_ws_state *s, int code, const char *reason)
{
	if (s->flags & WS_CLOSE_SENT)
		return;
	send_close(c, s, code, reason, strlen(reason));
	wr__timer_arm(c, s->rt->cfg.close_timeout_ms);
}

static void deliver(wr_conn *c, wr_ws_state *s, wr_opcode op, const uint8_t *p, size_t n)
{
	const wr_ws_handlers *h = &s->rt->h;
	wr_route_stats *st = ws_stats(c, s);
	if (!st) {
		if (h->on_message)
			h->on_message((wr_ws *)c, (wr_msg){ .data = p, .len = n, .opcode = op }, h->user);
		return;
	}
	wr__stats_count(st->msgs_in, st->bytes_in, op, 1, n);
	if (!h->on_message)
		return;
	if (!wr__sampler_hit(&st->sample)) {
		h->on_message((wr_ws *)c, (wr_msg){ .data = p, .len = n, .opcode = op }, h->user);
		return;
	}
	/* Two clock reads for a message timed (one costs several times what the rest of the
	 * metrics do together: hence sampling); the receipt is the kernel's timestamp of
	 * the receive that completed the message, or the turn's wake time. */
	uint64_t t0 = wr__now_ns(), rx = wr__reactor_rx_ns(c->r);
	wr_hist_record(st->receive, t0 > rx ? t0 - rx : 0);
	h->on_message((wr_ws *)c, (wr_msg){ .data = p, .len = n, .opcode = op }, h->user);
	wr_hist_record(st->handler, wr__now_ns() - t0);
}

/* The route's message limit (the parser's is lifted on streaming routes). */
static uint64_t msg_limit(const wr_ws_state *s)
{
	uint64_t m = s->rt->cfg.max_message_bytes;
	return !m ? WR_WS_DEFAULT_MAX_MSG : m > WR_WS_MAX_MSG ? WR_WS_MAX_MSG : m;
}

/* One piece of a message streamed past the limit. */
static void deliver_piece(wr_conn *c, wr_ws_state *s, wr_ws_extra *x, wr_opcode op,
                          const uint8_t *p, size_t n, bool more)
{
	const wr_ws_handlers *h = &s->rt->h;
	uint64_t off = x->stream_off;
	x->stream_off += n;
	x->streaming = more;
	ws_count_in(c, s, op, !more, n); /* a streamed message counts once, at its last piece */
	if (h->on_message)
		h->on_message((wr_ws *)c,
		              (wr_msg){ .data = p ? p : (const uint8_t *)"", .len = n, .opcode = op,
		                        .more = more, .offset = off },
		              h->user);
}

/* A piece of a message that came in several: gathered, or on a streaming route past the
 * limit handed on as it is. in_place: the piece was received straight into the message
 * buffer, right after what was gathered (a direct receive). false when the connection was
 * failed. */
static bool on_piece(wr_conn *c, wr_ws_state *s, const wr_ws_event *ev, bool in_place)
{
	wr_ws_extra *x = wr__ws_extra(c, s);
	if (!x) {
		fail(c, s, WR_CLOSE_INTERNAL_ERROR, "out of memory");
		return false;
	}
	if (ev->msg_start)
		x->streaming = false;
	if (!x->streaming && s->rt->h.stream_large && ev->msg_len_hint > msg_limit(s)) {
		/* Too large to gather: what was gathered goes first, then every piece as it
		 * comes. */
		x->stream_off = 0;
		x->streaming = true;
		if (!ev->msg_start && x->msg.len)
			deliver_piece(c, s, x, ev->opcode, x->msg.data, x->msg.len, true);
		if (!in_place)
			msg_done(c, x);
		if (!wr__conn_is_open(c))
			return false;
	}
	if (x->streaming) {
		deliver_piece(c, s, x, ev->opcode, ev->data, ev->len, !ev->msg_end);
		if (in_place) { /* the buffer held only this piece: the next one goes there too */
			x->msg.len = 0;
			if (ev->msg_end)
				msg_done(c, x);
		}
		return true;
	}
	int rc = 0;
	if (in_place) {
		x->msg.len += ev->len;
		rc = ev->msg_end;
	} else {
		rc = wr__ws_gather(&x->msg, ev);
	}
	msg_charge(c, x);
	if (rc < 0) {
		fail(c, s, WR_CLOSE_TOO_BIG, "out of memory");
		return false;
	}
	if (rc > 0) {
		deliver(c, s, ev->opcode, x->msg.data, x->msg.len);
		msg_done(c, x);
	}
	return true;
}

static void on_control(wr_conn *c, wr_ws_state *s, const wr_ws_event *ev)
{
	const wr_ws_handlers *h = &s->rt->h;
	ws_count_in(c, s, ev->opcode, 1, ev->len);
	switch (ev->opcode) {
	case WR_OP_PING:
		if (!(s->flags & WS_CLOSE_SENT) &&
		    wr__ws_queue_frame(c, s, WR_OP_PONG, ev->data, ev->len) == 0)
			ws_count_out(c, s, WR_OP_PONG, 1, ev->len);
		if (h->on_ping)
			h->on_ping((wr_ws *)c, (wr_msg){ .data = ev->data, .len = ev->len, .opcode = WR_OP_PING }, h->user);
		break;
	case WR_OP_PONG:
		if (h->on_pong)
			h->on_pong((wr_ws *)c, (wr_msg){ .data = ev->data, .len = ev->len, .opcode = WR_OP_PONG }, h->user);
		break;
	case WR_OP_CLOSE:
		s->flags |= WS_CLOSE_RCVD;
		if (!(s->flags & WS_CLOSE_SENT)) {
			/* Echo the peer's code (none if it sent none), as RFC 6455 §5.5.1 suggests. */
			int code = ev->close_code == WR_CLOSE_NO_STATUS ? 0 : ev->close_code;
			send_close(c, s, code, NULL, 0);
		}
		report_close(c, s, ev->close_code, ev->close_reason);
		/* The server closes TCP first (§7.1.1); a client waits for it, within the linger. */
		wr__conn_close(c, "closing handshake done");
		break;
	default:
		break;
	}
}

int wr__ws_gather(wr_buf *msg, const wr_ws_event *ev)
{
	if (ev->msg_start) {
		msg->len = 0;
		uint64_t want = ev->msg_len_hint < (1u << 20) ? ev->msg_len_hint : (1u << 20);
		if (want > msg->cap && wr__buf_reserve(msg, (size_t)want) < 0)
			return -ENOMEM;
	}
	if (wr__buf_append(msg, ev->data, ev->len) < 0)
		return -ENOMEM;
	return ev->msg_end ? 1 : 0;
}

/* A piece of a compressed message: inflated into the message buffer, delivered at its end.
 * false when the connection was failed. */
static bool deliver_inflated(wr_conn *c, wr_ws_state *s, const wr_ws_event *ev)
{
	wr_ws_extra *x = wr__ws_extra(c, s);
	int rc = x ? wr__ws_pmd_recv(c, s, ev, &x->msg, (size_t)msg_limit(s))
	           : WR_CLOSE_INTERNAL_ERROR;
	if (rc > 1) {
		msg_done(c, x);
		count_bad_input(c, rc);
		fail(c, s, rc, rc == WR_CLOSE_TOO_BIG ? "message over the size limit"
		               : rc == WR_CLOSE_INVALID_DATA ? "invalid compressed message"
		                                             : "out of memory");
		return false;
	}
	msg_charge(c, x);
	if (rc == 1) {
		deliver(c, s, ev->opcode, x->msg.data ? x->msg.data : (const uint8_t *)"", x->msg.len);
		msg_done(c, x);
	}
	return true;
}

/* A message that must be held (reassembled or inflated) begins: refused when holding it
 * would cross the server's memory budget — 1009 when it could never fit, 1013 (try again
 * later) when it does not fit now. false when the connection was failed. */
static bool admit_len(wr_conn *c, wr_ws_state *s, uint64_t len)
{
	int rc = wr__conn_mem_check(c, (size_t)len);
	if (rc == 0)
		return true;
	if (rc == -EMSGSIZE)
		fail(c, s, WR_CLOSE_TOO_BIG, "message larger than the server's memory budget");
	else
		fail(c, s, WR_CLOSE_TRY_AGAIN, "server memory budget reached");
	return false;
}

static bool admit(wr_conn *c, wr_ws_state *s, const wr_ws_event *ev)
{
	if (!ev->msg_start || (ev->msg_end && !ev->compressed))
		return true;
	return admit_len(c, s, ev->msg_len_hint);
}

/* ---- large payloads: the rest of a frame received straight into the message buffer ----
 * Once a frame announces more payload than the receive in hand held, the rest is received
 * with one sized receive per step into the message buffer, right after what was gathered,
 * and unmasked and checked there (wr__conn_want_direct), instead of passing through provided
 * buffers and being copied. Below DIRECT_MIN provided buffers do as well. A step is the
 * connection's receive share per turn (at least DIRECT_MIN): the buffer grows by at most a
 * step beyond what the peer has sent, so announcing a huge frame and then trickling gets
 * no memory for free. Compressed messages keep the inflate path; TLS the ring path. */
#define DIRECT_MIN (16u * 1024u)
/* What a frame header costs, in bytes of payload, in the loop turn's fair shares: the core
 * counts bytes, and a receive full of 7-byte frames (1-byte fragments) is far more work per
 * byte than a large frame. Measured: the parser alone takes ~14 ns a frame; under the
 * battery's fragment flood the server spent ~30 ns of CPU per 7-byte frame (2.4 s for
 * 520 MiB); a 64 KiB echo costs it ~0.4 ns a byte, receiving and sending (README). So a
 * frame counts as 128 bytes. A small message pays a little more than its size (a 16-byte
 * echo counts 150), far inside an occasional sender's exemption (2 KiB a turn). */
#define WS_FRAME_COST 128u

static bool direct_wanted(const wr_conn *c, const wr_ws_state *s)
{
	return wr__conn_is_open(c) && !(s->flags & (WS_CLOSE_SENT | WS_CLOSE_RCVD)) &&
	       !s->parser.compressed && wr__ws_parse_data_left(&s->parser) >= DIRECT_MIN;
}

static uint8_t *ws_direct_target(wr_conn *c, size_t *out_n)
{
	wr_ws_state *s = ws_state(c);
	if (!direct_wanted(c, s))
		return NULL;
	wr_ws_extra *x = wr__ws_extra(c, s);
	if (!x)
		return NULL; /* the ring path reports the shortage */
	if (!s->parser.msg_begun)
		x->msg.len = 0; /* no piece of this message was seen: it starts here */
	size_t step = c->r->cfg.conn_turn_bytes > DIRECT_MIN ? c->r->cfg.conn_turn_bytes : DIRECT_MIN;
	size_t left = wr__ws_parse_data_left(&s->parser);
	size_t n = left < step ? left : step;
	/* Never past the frame's end: a 9 MiB message takes 9 MiB, not 16, against the budget. */
	if (wr__buf_reserve_upto(&x->msg, n, x->msg.len + left) < 0)
		return NULL;
	msg_charge(c, x);
	*out_n = n;
	return x->msg.data + x->msg.len;
}

static void ws_on_direct(wr_conn *c, size_t n)
{
	wr_ws_state *s = ws_state(c);
	wr_ws_extra *x = s->x;
	uint8_t *p = x->msg.data + x->msg.len;
	s->flags &= ~WS_PING_SENT;
	/* The bytes are all payload of the current frame: the parser unmasks them in place
	 * (in cache-sized steps), checks UTF-8 (1007 as soon as a bad byte is in) and says
	 * whether the message ends here. */
	wr_ws_event ev;
	size_t used = wr__ws_parse(&s->parser, p, n, &ev);
	if (ev.type == WR_WS_EV_ERROR) {
		count_bad_input(c, ev.close_code);
		fail(c, s, ev.close_code, ev.error ? ev.error : "protocol error");
		return;
	}
	if (used != n || ev.type != WR_WS_EV_DATA || ev.data != p) {
		fail(c, s, WR_CLOSE_INTERNAL_ERROR, "direct receive out of step");
		return;
	}
	if (s->flags & WS_CLOSE_SENT)
		return; /* closing: data is no longer delivered */
	on_piece(c, s, &ev, true);
}

/* After a receive: go on directly when a frame still announces a large rest. Back to
 * provided buffers (the multishot receive) only after a receive that had no large message
 * in it: a stream of large messages stays in direct mode between them, since the switch
 * costs a cancel (and, on loopback, the rest of a 64 KiB message is often in provided
 * buffers already by the time its header is parsed). A message that starts with its
 * header alone is admitted here, before a byte of buffer is reserved for it. false when the
 * connection was failed. */
static bool direct_update(wr_conn *c, wr_ws_state *s, bool large_seen)
{
	bool on = direct_wanted(c, s);
	if (on && !s->parser.msg_begun && !admit_len(c, s, wr__ws_parse_data_left(&s->parser)))
		return false;
	if (on || !large_seen || !wr__conn_is_open(c))
		wr__conn_want_direct(c, on);
	return true;
}

static void ws_on_data(wr_conn *c, uint8_t *p, size_t n)
{
	wr_ws_state *s = ws_state(c);
	bool large_seen = false;
	uint32_t frames = s->parser.frames;
	s->flags &= ~WS_PING_SENT;
	while (n && wr__conn_is_open(c) && !(s->flags & WS_CLOSE_RCVD)) {
		wr_ws_event ev;
		size_t used = wr__ws_parse(&s->parser, p, n, &ev);
		p += used;
		n -= used;
		switch (ev.type) {
		case WR_WS_EV_NONE:
			break;
		case WR_WS_EV_DATA: {
			large_seen |= ev.msg_len_hint >= DIRECT_MIN;
			if (s->flags & WS_CLOSE_SENT)
				break; /* closing: data is no longer delivered */
			if (!admit(c, s, &ev))
				return;
			if (ev.compressed) {
				if (!deliver_inflated(c, s, &ev))
					return;
				break;
			}
			if (ev.msg_start && ev.msg_end) {
				deliver(c, s, ev.opcode, ev.data, ev.len); /* zero-copy: a view of the ring buffer */
				break;
			}
			if (!on_piece(c, s, &ev, false))
				return;
			break;
		}
		case WR_WS_EV_NEED_CTRL: {
			wr_ws_extra *x = wr__ws_extra(c, s);
			if (!x) {
				fail(c, s, WR_CLOSE_INTERNAL_ERROR, "out of memory");
				return;
			}
			s->parser.ctrl = x->ctrl;
			break;
		}
		case WR_WS_EV_CONTROL:
			on_control(c, s, &ev);
			break;
		case WR_WS_EV_ERROR:
			count_bad_input(c, ev.close_code);
			fail(c, s, ev.close_code, ev.error ? ev.error : "protocol error");
			return;
		}
	}
	wr__conn_turn_charge(c, (size_t)(uint32_t)(s->parser.frames - frames) * WS_FRAME_COST);
	direct_update(c, s, large_seen);
}

static void ws_on_timer(wr_conn *c)
{
	wr_ws_state *s = ws_state(c);
	if (s->flags & WS_CLOSE_SENT) {
		wr__conn_abort(c, -ETIMEDOUT, "close timeout");
		return;
	}
	unsigned iv = s->rt->cfg.ping_interval_ms;
	if (c->flags & WR_CF_PAUSED) {
		/* We hold the peer back (a fiber not reading): its silence is ours, and its pong
		 * could not be read anyway. The check resumes with receiving. */
		s->flags &= ~WS_PING_SENT;
		wr__timer_arm(c, iv);
		return;
	}
	uint32_t ticks = wr__ms_to_ticks(iv);
	uint32_t idle = wr__conn_idle_ticks(c);
	if (idle < ticks && !(s->flags & WS_PING_SENT)) {
		wr__timer_arm(c, (ticks - idle) * WR_TICK_MS);
		return;
	}
	if (s->flags & WS_PING_SENT) {
		wr__conn_abort(c, -ETIMEDOUT, "ping timeout");
		return;
	}
	if (wr__ws_queue_frame(c, s, WR_OP_PING, NULL, 0) == 0)
		ws_count_out(c, s, WR_OP_PING, 1, 0);
	s->flags |= WS_PING_SENT;
	wr__timer_arm(c, iv);
}

static void ws_on_writable(wr_conn *c)
{
	wr_ws_state *s = ws_state(c);
	wr__pubsub_writable(c, s);
	if (s->subs && wr__conn_is_open(c) && (c->flags & WR_CF_WRITABLE_WANTED))
		return; /* publications still wait: the drain is not there yet */
	if (s->rt->h.on_drain && !(s->flags & WS_CLOSE_SENT))
		s->rt->h.on_drain((wr_ws *)c, s->rt->h.user);
}

static void ws_on_gone(wr_conn *c, int err, const char *why)
{
	wr__ws_report(c, ws_state(c), WR_CLOSE_ABNORMAL, why);
	wr__pubsub_conn_gone(c, ws_state(c));
}

static void ws_on_shutdown(wr_conn *c)
{
	wr__ws_shutdown(c, ws_state(c), WR_CLOSE_GOING_AWAY, "server shutdown");
}

void wr__ws_state_free(wr_conn *c)
{
	wr_ws_state *s = ws_state(c);
	if (!s)
		return;
	wr__ws_pmd_free(c, s);
	wr__pubsub_conn_free(c, s);
	if (s->x) {
		wr__buf_free(&s->x->msg);
		msg_charge(c, s->x);
		wr__conn_state_free(c, s->x, sizeof(*s->x));
	}
	wr__conn_state_free(c, s, s->size);
	c->ps = NULL;
}

static const wr_proto ws_proto = {
	.name = "websocket",
	.on_data = ws_on_data,
	.on_timer = ws_on_timer,
	.on_writable = ws_on_writable,
	.on_gone = ws_on_gone,
	.on_overload = ws_on_overload,
	.on_shutdown = ws_on_shutdown,
	.free = wr__ws_state_free,
	.direct_target = ws_direct_target,
	.on_direct = ws_on_direct,
};

/* ---- the client role ---- */

wr_ws_client_state *wr__ws_client_new(wr_conn *c, const wr_ws_route *rt, uint64_t seed)
{
	wr_ws_client_state *cs = wr__conn_state_new(c, sizeof(*cs));
	if (!cs)
		return NULL;
	cs->rt = *rt;
	cs->ws.rt = &cs->rt;
	cs->ws.size = sizeof(*cs);
	cs->ws.flags = WS_CLIENT | WS_OWED;
	cs->rng = seed | 1;
	c->ps = cs;
	return cs;
}

void wr__ws_client_open(wr_conn *c, wr_str protocol, const struct wr_pmd_params *pmd,
                        uint8_t *rest, size_t n)
{
	wr_ws_state *s = ws_state(c);
	if (pmd && wr__ws_pmd_start(c, s, pmd, &s->rt->h.deflate) < 0) {
		wr__ws_report_failure(c, -ENOMEM, "out of memory");
		wr__conn_abort(c, -ENOMEM, "out of memory");
		return;
	}
	wr__ws_set_protocol(c, s, protocol);
	wr__ws_start(c, s);
	if (s->rt->h.on_open)
		s->rt->h.on_open((wr_ws *)c, NULL, s->rt->h.user);
	if (n && wr__conn_is_open(c))
		wr__conn_deliver(c, rest, n);
}

void wr__ws_report_failure(wr_conn *c, int err, const char *why)
{
	wr_ws_state *s = ws_state(c);
	if (!s->error)
		s->error = err;
	wr__ws_report(c, s, WR_CLOSE_ABNORMAL, why);
}
