/* WebSocket sending and the public wr_ws_* API: frames are coalesced into the connection's
 * output (masked on the way in the client role), large payloads can go out from the caller's
 * buffer, shared frames are encoded once for many receivers. */
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rand.h"
#include "reactor.h"
#include "simd.h"
#include "utf8.h"
#include "wring/client.h"
#include "wring/tls.h"
#include "pubsub.h"
#include "ws_deflate.h"
#include "ws_frame_int.h"
#include "ws_int.h"

#define DRAIN_MARK (64u * 1024u)

static uint32_t next_key(wr_ws_state *s)
{
	wr_ws_client_state *cs = (wr_ws_client_state *)s;
	return (uint32_t)(wr__rand_next(&cs->rng) >> 32);
}

int wr__ws_queue_frame(wr_conn *c, wr_ws_state *s, wr_opcode op, const void *data, size_t len)
{
	return wr__ws_queue_frame_bits(c, s, op, true, false, data, len);
}

int wr__ws_queue_frame_bits(wr_conn *c, wr_ws_state *s, wr_opcode op, bool fin, bool rsv1,
                            const void *data, size_t len)
{
	uint8_t hdr[14], key[4];
	bool client = s->flags & WS_CLIENT;
	if (client) {
		uint32_t k = next_key(s);
		memcpy(key, &k, 4);
	}
	size_t hl = wr__ws_frame_header(hdr, fin, op, len, client ? key : NULL);
	if (rsv1)
		hdr[0] |= 0x40;
	wr__conn_unit_begin(c);
	if (hl + len <= WR_SEG_SIZE) {
		uint8_t *p = wr__conn_reserve(c, hl + len);
		if (!p)
			return -ENOMEM;
		memcpy(p, hdr, hl);
		if (len)
			memcpy(p + hl, data, len);
		if (client && len)
			wr__unmask(p + hl, len, key, 0);
		return 0;
	}
	/* Large: the header, then the payload piece by piece into whatever room the output has
	 * (a chain of standard segments, no allocation sized by the message), masked on the way
	 * in the client role. Running out of memory half way leaves half a frame queued: the
	 * connection cannot go on. */
	int rc = wr__conn_write(c, hdr, hl);
	const uint8_t *src = data;
	unsigned phase = 0;
	while (rc == 0 && len) {
		size_t k;
		uint8_t *d = wr__conn_reserve_some(c, len, &k);
		if (!d) {
			rc = -ENOMEM;
			break;
		}
		memcpy(d, src, k);
		if (client) {
			wr__unmask(d, k, key, phase);
			phase = (phase + (unsigned)k) & 3;
		}
		src += k;
		len -= k;
	}
	if (rc < 0)
		wr__conn_abort(c, -ENOMEM, "out of memory");
	return rc;
}

static int check_send(const wr_conn *c, const wr_ws_state *s, wr_opcode op, const void *data,
                      size_t len)
{
	if (!(s->flags & WS_OPEN) || (s->flags & WS_CLOSE_SENT) || !wr__conn_is_open(c))
		return -EPIPE;
	/* The server's memory budget is spent: the message is refused, the connection kept. */
	if (!(op & 0x8) && wr__conn_mem_check(c, len) < 0)
		return -ENOMEM;
	switch (op) {
	case WR_OP_TEXT:
		if (s->flags & WS_FRAG)
			return -EBUSY; /* a message sent in fragments is not finished */
		/* As the blocking client does: a peer must fail a connection on bad UTF-8 (1007),
		 * so refusing it here keeps the connection. */
		return !len || wr__utf8_valid(data, len) ? 0 : -EINVAL;
	case WR_OP_BINARY:
		return s->flags & WS_FRAG ? -EBUSY : 0;
	case WR_OP_PING:
	case WR_OP_PONG:
		return len <= WR_WS_CTRL_MAX ? 0 : -EINVAL;
	default:
		return -EINVAL; /* close goes through wr_ws_close */
	}
}

static int after_queue(wr_conn *c)
{
	if (wr__conn_over_limit(c)) {
		/* A consumer that does not read: cut it off rather than grow without bound. */
		wr__ws_cut(c, WR_CLOSE_POLICY_VIOLATION, -ENOBUFS, "send buffer limit exceeded");
		return -ENOBUFS;
	}
	if (c->out_bytes > DRAIN_MARK) {
		wr__conn_want_writable(c);
		const wr_ws_route *rt = ws_state(c)->rt;
		if (rt->on_pressure)
			return rt->on_pressure(c, rt->h.user);
	}
	return 0;
}

static bool copy_instead(const wr_conn *c, const wr_ws_state *s, size_t len);

/* The send is done with a message buffer: it becomes the connection's message buffer again
 * when that has none (the usual echo: no allocation and no page faults per message), else it
 * goes. Runs before the connection's state is freed (conn.c drops output before the
 * protocol's free), so user, the WebSocket state, is still there. */
static void msg_buffer_sent(const void *data, int status, void *user)
{
	wr_ws_state *s = user;
	wr_ws_extra *x = s->x;
	if (x && !x->msg.data) {
		x->msg = (wr_buf){ .data = (uint8_t *)data, .cap = malloc_usable_size((void *)data) };
		return;
	}
	free((void *)data);
}

/* The echo path: a handler sending back the message it was handed from the message buffer
 * (one that came in pieces, or by direct receive) sends that buffer as it is, no copy: the
 * send queue takes it over, and it comes back once sent. Not when the queue would pass its
 * limit (the connection is then cut off, and the view the handler holds must stay valid
 * until it returns), nor for what a copy serves better (copy_instead): false, and the
 * caller queues a copy. */
static bool is_msg_buffer(const wr_conn *c, const wr_ws_state *s, const void *data,
                          size_t len, wr_opcode op)
{
	const wr_ws_extra *x = s->x;
	return x && x->msg.data && data == x->msg.data && len == x->msg.len && !s->pmd &&
	       (op == WR_OP_TEXT || op == WR_OP_BINARY) && !(c->flags & WR_CF_RECV_DIRECT) &&
	       !copy_instead(c, s, len) && c->out_bytes + len + 14 <= c->r->cfg.max_send_buffer;
}

/* The buffer moves from the protocol's memory to the send queue: counted once, as queued
 * output. */
static int send_msg_buffer(wr_conn *c, wr_ws_state *s, const void *data, size_t len,
                           wr_opcode op)
{
	wr_ws_extra *x = s->x;
	uint8_t hdr[14];
	size_t hl = wr__ws_frame_header(hdr, true, op, len, NULL);
	int rc = wr__conn_write_ext(c, hdr, hl, data, len, msg_buffer_sent, s);
	if (rc < 0)
		return rc;
	wr__conn_mem_charge(c, -(ssize_t)x->charged);
	x->charged = 0;
	x->msg = (wr_buf){ 0 }; /* the next message gets another (or this one back) */
	return 0;
}

int wr_ws_send(wr_ws *ws, const void *data, size_t len, wr_opcode op)
{
	wr_conn *c = ws_conn(ws);
	wr_ws_state *s = ws_state(c);
	/* The message the handler was given, sent back: its text was checked on the way in,
	 * and its memory is held already. */
	if (is_msg_buffer(c, s, data, len, op) && (s->flags & WS_OPEN) &&
	    !(s->flags & (WS_CLOSE_SENT | WS_FRAG)) && wr__conn_is_open(c)) {
		int rc = send_msg_buffer(c, s, data, len, op);
		if (rc < 0)
			return rc;
		ws_count_out(c, s, op, 1, len);
		return after_queue(c);
	}
	int rc = check_send(c, s, op, data, len);
	if (rc < 0)
		return rc;
	rc = s->pmd && !(op & 0x8) ? wr__ws_pmd_send(c, s, op, data, len) : 0;
	if (rc == 0)
		rc = wr__ws_queue_frame(c, s, op, data, len);
	if (rc < 0)
		return rc;
	ws_count_out(c, s, op, 1, len);
	return after_queue(c);
}

int wr_ws_send_text(wr_ws *ws, const char *text)
{
	return wr_ws_send(ws, text, strlen(text), WR_OP_TEXT);
}

int wr_ws_send_binary(wr_ws *ws, const void *data, size_t len)
{
	return wr_ws_send(ws, data, len, WR_OP_BINARY);
}

int wr_ws_ping(wr_ws *ws, const void *data, size_t len)
{
	return wr_ws_send(ws, data, len, WR_OP_PING);
}

int wr_ws_send_fragment(wr_ws *ws, const void *data, size_t len, wr_opcode op, bool fin)
{
	wr_conn *c = ws_conn(ws);
	wr_ws_state *s = ws_state(c);
	if (op != WR_OP_TEXT && op != WR_OP_BINARY)
		return -EINVAL;
	if (!(s->flags & WS_OPEN) || (s->flags & WS_CLOSE_SENT) || !wr__conn_is_open(c))
		return -EPIPE;
	unsigned cur = s->flags & WS_FRAG;
	unsigned want = op == WR_OP_TEXT ? WS_FRAG_TEXT : WS_FRAG_BINARY;
	if (cur && cur != want)
		return -EINVAL; /* the message began with the other opcode */
	if (op == WR_OP_TEXT) {
		/* Fail-fast across the pieces: a piece may end inside a character, the message
		 * may not. Checked on a copy, so a refused piece leaves the state as it was. */
		wr_ws_extra *x = wr__ws_extra(c, s);
		if (!x)
			return -ENOMEM;
		wr_utf8 u;
		if (cur)
			u = x->frag_utf8;
		else
			wr__utf8_init(&u);
		if ((len && wr__utf8_feed(&u, data, len) < 0) || (fin && wr__utf8_finish(&u) < 0))
			return -EINVAL;
		x->frag_utf8 = u;
	}
	int rc = wr__ws_queue_frame_bits(c, s, cur ? WR_OP_CONT : op, fin, false, data, len);
	if (rc < 0)
		return rc;
	s->flags = (uint16_t)((s->flags & ~WS_FRAG) | (fin ? 0 : want));
	ws_count_out(c, s, op, fin, len); /* a fragmented message counts once, at its last frame */
	return after_queue(c);
}

/* Should a send "without copy" copy after all? Masking (client) or the transport (TLS)
 * rewrite the bytes anyway, and a small frame coalesces into the output buffer for less than
 * a separate segment costs. */
static bool copy_instead(const wr_conn *c, const wr_ws_state *s, size_t len)
{
	return (s->flags & WS_CLIENT) || c->tr->rewrites || len < 4096;
}

int wr_ws_send_zc(wr_ws *ws, const void *data, size_t len, wr_opcode op, wr_send_done done,
                  void *user)
{
	wr_conn *c = ws_conn(ws);
	wr_ws_state *s = ws_state(c);
	int rc = check_send(c, s, op, data, len);
	if (rc < 0)
		return rc;
	ws_count_out(c, s, op, 1, len); /* what follows either queues it or fails the connection */
	/* A message to compress is read once by zlib: no reason to keep the caller's buffer. */
	if (s->pmd && !(op & 0x8) && (rc = wr__ws_pmd_send(c, s, op, data, len)) != 0) {
		if (rc < 0)
			return rc;
		if (done)
			done(data, 0, user);
		return after_queue(c);
	}
	if (copy_instead(c, s, len)) {
		rc = wr__ws_queue_frame(c, s, op, data, len);
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

int wr__ws_close_check(int code, const char *reason, size_t rl)
{
	/* As the blocking client: 0 means 1000 (a reason needs a code). */
	if ((code == 0 && rl) || (code && !wr__ws_close_code_sendable(code)) || rl > 123 ||
	    (rl && !wr__utf8_valid((const uint8_t *)reason, rl)))
		return -EINVAL;
	return 0;
}

int wr_ws_close(wr_ws *ws, int code, const char *reason)
{
	wr_conn *c = ws_conn(ws);
	wr_ws_state *s = ws_state(c);
	size_t rl = reason ? strlen(reason) : 0;
	if (wr__ws_close_check(code, reason, rl) < 0)
		return -EINVAL;
	/* Closing twice, or after the peer closed, is not an error: the connection is closing
	 * or closed, which is what was asked (the blocking client answers the same). */
	if (!(s->flags & WS_OPEN) || !wr__conn_is_open(c) || (s->flags & WS_CLOSE_SENT))
		return 0;
	wr__ws_shutdown(c, s, code ? code : WR_CLOSE_NORMAL, reason ? reason : "");
	return 0;
}

int wr__ws_post_check(wr_opcode op, const void *data, size_t len)
{
	if (!data && len)
		return -EINVAL;
	switch (op) {
	case WR_OP_TEXT:
		return !len || wr__utf8_valid(data, len) ? 0 : -EINVAL;
	case WR_OP_BINARY:
		return 0;
	case WR_OP_PING:
	case WR_OP_PONG:
		return len <= WR_WS_CTRL_MAX ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

void wr__ws_on_post(wr_conn *c, const wr_inbox_msg *m)
{
	wr_ws *ws = (wr_ws *)c; /* handles are only made from a wr_ws */
	if (m->kind == WR_WS_POST_SEND)
		wr_ws_send(ws, m->data, m->len, (wr_opcode)m->op);
	else
		wr_ws_close(ws, m->code, m->len ? (const char *)m->data : NULL);
}

wr_handle wr__ws_handle(const wr_conn *c)
{
	return (wr_handle){ (uint64_t)wr__reactor_idx(c->r) << 56 | wr__conn_ref(c) };
}

wr_handle wr_ws_handle(const wr_ws *ws) { return wr__ws_handle(ws_conn(ws)); }

size_t wr_ws_buffered(const wr_ws *ws) { return ws_conn(ws)->out_bytes; }
void *wr_ws_data(const wr_ws *ws) { return ws_state(ws_conn(ws))->data; }
void wr_ws_set_data(wr_ws *ws, void *data) { ws_state(ws_conn(ws))->data = data; }
unsigned wr_ws_reactor(const wr_ws *ws) { return wr__reactor_idx(ws_conn(ws)->r); }
int wr_ws_error(const wr_ws *ws) { return ws_state(ws_conn(ws))->error; }
bool wr_ws_deflate(const wr_ws *ws) { return ws_state(ws_conn(ws))->pmd != NULL; }

wr_str wr_ws_protocol(const wr_ws *ws)
{
	const wr_ws_extra *x = ws_state(ws_conn(ws))->x;
	return x && x->protocol_len ? (wr_str){ x->protocol, x->protocol_len } : (wr_str){ NULL, 0 };
}

/* ---- shared frames (broadcast) ---- */

wr_frame *wr_frame_new(const void *data, size_t len, wr_opcode op)
{
	if (op != WR_OP_TEXT && op != WR_OP_BINARY &&
	    !((op == WR_OP_PING || op == WR_OP_PONG) && len <= WR_WS_CTRL_MAX))
		return NULL;
	wr_frame *f = malloc(sizeof(*f) + 14 + len);
	if (!f)
		return NULL;
	wr__frame_init(f, data, len, op);
	f->pool = NULL;
	return f;
}

void wr__frame_init(wr_frame *f, const void *data, size_t len, wr_opcode op)
{
	atomic_init(&f->refs, 1);
	for (int i = 0; i < WR_ZVARIANTS; i++)
		atomic_init(&f->z[i], NULL);
	f->op = op;
	f->len = len;
	f->hdr_len = wr__ws_frame_header(f->bytes, true, op, len, NULL);
	if (len)
		memcpy(f->bytes + f->hdr_len, data, len);
	f->topic = f->key = NULL;
	f->topic_len = f->key_len = 0;
	f->topic_hash = f->key_hash = 0;
	f->policy = 0;
	f->limit = 0;
}

void wr_frame_ref(wr_frame *f) { atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed); }

void wr_frame_unref(wr_frame *f)
{
	if (!f || atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (int i = 0; i < WR_ZVARIANTS; i++) {
		free(atomic_load_explicit(&f->z[i], memory_order_relaxed));
		atomic_store_explicit(&f->z[i], NULL, memory_order_relaxed);
	}
	if (f->pool)
		wr__frame_pool_put(f->pool, f);
	else
		free(f);
}

/* f's compressed bytes for zp's window, made once (receivers on other reactors may race to
 * make it: the first one stored wins, the others free theirs). NULL on -ENOMEM. */
static wr_zvariant *frame_variant(wr_conn *c, wr_frame *f, const wr_zparams *zp)
{
	_Atomic(wr_zvariant *) *slot = &f->z[zp->bits - WR_PMD_MIN_DEFLATE_BITS];
	wr_zvariant *v = atomic_load_explicit(slot, memory_order_acquire);
	if (v)
		return v;
	wr_zstream *z = wr__z_new(true, &(wr_zparams){ zp->bits, zp->level, zp->mem_level, true });
	wr_buf out = { 0 };
	int rc = z ? wr__z_compress(z, f->bytes + f->hdr_len, f->len, &out) : -ENOMEM;
	wr__z_free(z);
	v = rc == 0 ? malloc(sizeof(*v) + 14 + out.len) : NULL;
	if (v) {
		v->len = out.len;
		v->hdr_len = wr__ws_frame_header(v->bytes, true, f->op, out.len, NULL);
		v->bytes[0] |= 0x40; /* RSV1: compressed */
		memcpy(v->bytes + v->hdr_len, out.data, out.len);
		wr_zvariant *none = NULL;
		if (!atomic_compare_exchange_strong_explicit(slot, &none, v, memory_order_acq_rel,
		                                             memory_order_acquire)) {
			free(v);
			v = none;
		} else if (f->topic) {
			wr__pubsub_count_compressed(c);
		}
	}
	wr__buf_free(&out);
	return v;
}

bool wr_frame_has_deflate(const wr_frame *f, unsigned window_bits)
{
	if (window_bits < WR_PMD_MIN_DEFLATE_BITS || window_bits > 15)
		return false;
	return atomic_load(&((wr_frame *)f)->z[window_bits - WR_PMD_MIN_DEFLATE_BITS]) != NULL;
}

static void frame_sent(const void *data, int status, void *user) { wr_frame_unref(user); }

int wr_ws_send_frame(wr_ws *ws, wr_frame *f)
{
	wr_conn *c = ws_conn(ws);
	wr_ws_state *s = ws_state(c);
	/* A publication's text was checked once, by the publisher: not again per subscriber
	 * (binary takes the same path without the UTF-8 check). */
	wr_opcode check_op = f->topic && f->op == WR_OP_TEXT ? WR_OP_BINARY : f->op;
	int rc = check_send(c, s, check_op, f->bytes + f->hdr_len, f->len);
	if (rc < 0)
		return rc;
	wr_zparams zp;
	wr_zvariant *v = !(f->op & 0x8) && wr__ws_pmd_frame_params(c, s, f->len, &zp)
	              ? frame_variant(c, f, &zp) : NULL;
	if (v) {
		if (copy_instead(c, s, v->len)) {
			rc = wr__ws_queue_frame_bits(c, s, f->op, true, true, v->bytes + v->hdr_len, v->len);
		} else {
			wr_frame_ref(f);
			rc = wr__conn_write_ext(c, NULL, 0, v->bytes, v->hdr_len + v->len, frame_sent, f);
			if (rc < 0)
				wr_frame_unref(f);
		}
	} else if (copy_instead(c, s, f->len)) {
		rc = wr__ws_queue_frame(c, s, f->op, f->bytes + f->hdr_len, f->len);
	} else {
		wr_frame_ref(f);
		rc = wr__conn_write_ext(c, NULL, 0, f->bytes, f->hdr_len + f->len, frame_sent, f);
		if (rc < 0)
			wr_frame_unref(f);
	}
	if (rc < 0)
		return rc;
	ws_count_out(c, s, f->op, 1, f->len);
	return after_queue(c);
}

bool wr_ws_tls_resumed(const wr_ws *ws)
{
	const wr_conn *c = ws_conn(ws);
	return c->tr && c->tr->resumed && c->tr->resumed(c);
}
