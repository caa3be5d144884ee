/* Connections: the slab, the plain transport, the send queue and its once-per-turn flush, and
 * deferred, completion-aware closing. The protocol and the transport are reached only through
 * their tables. */
#include "reactor.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "ud.h"

#define SEG_POOL_MAX 256u
/* What the free lists keep once a burst is over (the rest goes back to the OS). */
#define SEG_POOL_KEEP 32u
#define TRIM_EVERY_TICKS 10u
#define TRIM_MIN_BYTES (4u << 20)

/* A connection before its protocol is set speaks nothing: input is dropped. */
static const wr_proto no_proto = { .name = "none" };

wr_conn *wr__conn_new(wr_reactor *r, int fd)
{
	if (r->nfree == 0)
		return NULL;
	uint32_t idx = r->free_idx[--r->nfree];
	wr_conn *c = &r->conns[idx];
	uint32_t gen = c->gen;
	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->fd = fd;
	c->r = r;
	c->proto = &no_proto;
	c->tr = &wr__plain_transport;
	c->state = WR_CONN_OPEN;
	wr_list_init(&c->timer_link);
	wr_list_init(&c->flush_link);
	c->last_active = r->tick;
	if (idx >= r->high)
		r->high = idx + 1;
	r->live++;
	wr__inbox_publish(&r->inbox, idx, c->gen, true);
	return c;
}

void wr__conn_set_proto(wr_conn *c, const wr_proto *proto, void *ps)
{
	c->proto = proto;
	c->ps = ps;
}

int wr__conn_set_transport(wr_conn *c, const wr_transport *tr, void *ctx, const char *peer_name)
{
	c->tr = tr;
	return tr->start ? tr->start(c, ctx, peer_name) : 0;
}

void wr__conn_replace_fd(wr_conn *c, int fd)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = fd;
}

uint64_t wr__conn_ref(const wr_conn *c)
{
	return (uint64_t)c->gen << 32 | wr__conn_idx(c);
}

wr_conn *wr__conn_from_ref(wr_reactor *r, uint64_t ref)
{
	uint32_t idx = (uint32_t)ref;
	if (idx >= r->high)
		return NULL;
	wr_conn *c = &r->conns[idx];
	return c->gen == (uint32_t)(ref >> 32) && c->state == WR_CONN_OPEN ? c : NULL;
}

void *wr__conn_state_new(wr_conn *c, size_t size)
{
	return wr__pool_get(&c->r->pool, size);
}

void wr__conn_state_free(wr_conn *c, void *p, size_t size)
{
	wr__pool_put(&c->r->pool, p, size);
}

uint32_t wr__conn_idx(const wr_conn *c)
{
	return (uint32_t)(c - c->r->conns);
}

static uint64_t ud_of(const wr_conn *c, enum wr_op op)
{
	return wr_ud(op, c->gen, wr__conn_idx(c));
}

void wr__conn_recv_arm(wr_conn *c)
{
	if ((c->flags & WR_CF_RECV_ARMED) || ((c->flags & WR_CF_PAUSED) && c->state == WR_CONN_OPEN))
		return;
	c->flags |= WR_CF_RECV_ARMED;
	c->inflight++;
	if (!(c->flags & WR_CF_DIRECT) || !wr__conn_is_open(c)) {
		wr__ring_recv_multishot(c->r->ring, c->fd, (uint32_t)c->r->cfg.conn_turn_bytes,
		                        ud_of(c, WR_OPK_RECV));
		return;
	}
	size_t n = 0;
	uint8_t *p = c->proto->direct_target(c, &n);
	if (p && n) {
		c->flags |= WR_CF_RECV_DIRECT;
		wr__ring_recv_into(c->r->ring, c->fd, p, n, ud_of(c, WR_OPK_RECV_INTO));
	} else {
		wr__ring_recv_once(c->r->ring, c->fd, ud_of(c, WR_OPK_RECV));
	}
}

int wr__conn_want_direct(wr_conn *c, bool on)
{
	if (on == !!(c->flags & WR_CF_DIRECT))
		return 0;
	if (on && (c->tr->rewrites || !c->proto->direct_target || c->r->cfg.rx_timestamps))
		return -ENOTSUP;
	c->flags ^= WR_CF_DIRECT;
	/* Entering the mode: the multishot receive would go on taking the stream into
	 * provided buffers; it is cancelled (what it already took still comes to on_data) and
	 * its last completion arms the next receive, a direct one. Leaving it: the single
	 * receive in flight ends by itself, and the next one armed is a multishot again. */
	if (on && (c->flags & (WR_CF_RECV_ARMED | WR_CF_RECV_CANCEL | WR_CF_RECV_DIRECT)) ==
	                  WR_CF_RECV_ARMED) {
		wr__ring_cancel_ud(c->r->ring, ud_of(c, WR_OPK_RECV), ud_of(c, WR_OPK_CANCEL));
		c->inflight++;
		c->flags |= WR_CF_RECV_CANCEL;
	}
	return 0;
}

bool wr__conn_direct_settle(wr_conn *c)
{
	if (!(c->flags & WR_CF_RECV_DIRECT))
		return false;
	if (!(c->flags & WR_CF_RECV_CANCEL)) {
		wr__ring_cancel_ud(c->r->ring, ud_of(c, WR_OPK_RECV_INTO), ud_of(c, WR_OPK_CANCEL));
		c->inflight++;
		c->flags |= WR_CF_RECV_CANCEL;
	}
	c->flags |= WR_CF_TIMER_HELD;
	return true;
}

void wr__conn_on_direct(wr_conn *c, int res)
{
	c->flags &= ~(WR_CF_RECV_ARMED | WR_CF_RECV_DIRECT | WR_CF_RECV_CANCEL);
	c->inflight--;
	if (c->state == WR_CONN_CLOSED)
		return;
	if (res > 0) {
		/* A closing connection only drains: the bytes are not the protocol's any more. */
		if (wr__conn_is_open(c))
			c->proto->on_direct(c, (size_t)res);
		if (c->state != WR_CONN_CLOSED)
			wr__conn_recv_arm(c);
		return;
	}
	if (res == -EINTR || res == -EAGAIN || res == -ECANCELED) {
		wr__conn_recv_arm(c);
		return;
	}
	wr__conn_abort(c, res, res == 0 ? "connection closed" : wr_strerror(res));
}

/* A multishot receive cannot be told to hold off: pausing cancels it, and the completion of
 * the cancelled receive re-arms it (reactor.c) once nothing holds it paused any more. */
void wr__conn_recv_update(wr_conn *c)
{
	if (c->state != WR_CONN_OPEN)
		return;
	if (!(c->flags & WR_CF_PAUSED)) {
		wr__conn_recv_arm(c);
		return;
	}
	/* A direct receive is not cancelled: it takes no more than its target offered. */
	if ((c->flags & (WR_CF_RECV_ARMED | WR_CF_RECV_CANCEL | WR_CF_RECV_DIRECT)) ==
	    WR_CF_RECV_ARMED) {
		wr__ring_cancel_ud(c->r->ring, ud_of(c, WR_OPK_RECV), ud_of(c, WR_OPK_CANCEL));
		c->inflight++;
		c->flags |= WR_CF_RECV_CANCEL;
	}
}

/* The connection no longer receives for itself (closing, lingering, freed): its pauses stop
 * counting. */
static void pause_clear(wr_conn *c)
{
	if (c->flags & WR_CF_PAUSE_OUT)
		c->r->n_paused_out--;
	if (c->flags & WR_CF_PAUSE_BUDGET)
		c->r->n_paused_budget--;
	c->flags &= ~WR_CF_PAUSED;
}

/* Inward backpressure: past the high mark the peer is not read from until the queue is back
 * under the low mark. */
static void out_grew(wr_conn *c)
{
	wr_reactor *r = c->r;
	if (c->out_bytes > r->cfg.send_high && r->cfg.send_high && !(c->flags & WR_CF_PAUSE_OUT) &&
	    wr__conn_is_open(c)) {
		c->flags |= WR_CF_PAUSE_OUT;
		c->paused_since = r->tick;
		r->n_paused_out++;
		wr__conn_recv_update(c);
	}
}

static void out_shrank(wr_conn *c)
{
	if ((c->flags & WR_CF_PAUSE_OUT) && c->out_bytes <= c->r->cfg.send_low) {
		c->flags &= ~WR_CF_PAUSE_OUT;
		c->r->n_paused_out--;
		wr__conn_recv_update(c);
	}
}

void wr__conn_mem_charge(wr_conn *c, ssize_t delta)
{
	c->mem_extra += (uint32_t)delta;
	wr__reactor_mem_add(c->r, delta);
}

/* A connection holding this little, with what it asks for, is not what fills the budget: the
 * last sixteenth of it is kept for such (a canary's echo must not be refused because a flood
 * filled the budget). */
#define SMALL_HOLD ((size_t)64 * 1024)

int wr__conn_mem_check(const wr_conn *c, size_t n)
{
	const wr_budget *b = c->r->cfg.budget;
	if (!b)
		return 0;
	if (n > b->limit)
		return -EMSGSIZE;
	size_t lim = b->limit;
	if ((size_t)c->out_bytes + c->mem_extra + n > SMALL_HOLD)
		lim -= lim / 16;
	return wr__reactor_mem_total(c->r) + n > lim ? -ENOMEM : 0;
}

void wr__conn_overload(wr_conn *c, int err, const char *why)
{
	if (c->proto->on_overload)
		c->proto->on_overload(c, err, why);
	else
		wr__conn_abort(c, err, why);
}

/* The protocol's own pause (a fiber that does not read): one more reason among the
 * others that wr__conn_recv_update weighs. */
void wr__conn_recv_pause(wr_conn *c, bool pause)
{
	if (pause == !!(c->flags & WR_CF_PAUSE_PROTO))
		return;
	c->flags ^= WR_CF_PAUSE_PROTO;
	wr__conn_recv_update(c);
}

void wr__conn_hold(wr_conn *c)
{
	c->inflight++;
}

void wr__conn_unhold(wr_conn *c)
{
	if (--c->inflight == 0 && c->state == WR_CONN_CLOSED && !wr_list_linked(&c->flush_link))
		wr_list_insert_tail(&c->r->closed, &c->flush_link);
}

void wr__conn_connect(wr_conn *c, const void *sa, unsigned salen)
{
	wr__ring_connect(c->r->ring, c->fd, sa, salen, ud_of(c, WR_OPK_CONNECT));
	c->inflight++;
}

void wr__conn_on_bytes(wr_conn *c, uint8_t *p, size_t n)
{
	/* A closing connection only drains: its protocol has said its last word. */
	if (wr__conn_is_open(c))
		c->tr->on_bytes(c, p, n);
}

/* ---- output segments ---- */

#define SMALL_CAP (WR_SEG_SMALL - sizeof(wr_seg))

/* A segment for at least min bytes: a small one when the whole write (max) fits in it and the
 * queue was empty (a typical answer or echo: 16 KiB would be touched for a hundred bytes),
 * else a standard one, else one sized for an exact large reservation. */
static wr_seg *seg_new(wr_reactor *r, size_t min, size_t max, bool queue_empty)
{
	wr_seg *s;
	if (queue_empty && max <= SMALL_CAP) {
		if (r->small_pool) {
			s = r->small_pool;
			r->small_pool = s->next;
			r->small_pool_n--;
		} else if (!(s = malloc(WR_SEG_SMALL))) {
			return NULL;
		}
		s->cap = SMALL_CAP;
		s->pool = WR_SEG_POOL_SMALL;
		if (++r->small_out > r->small_peak)
			r->small_peak = r->small_out;
	} else if (min <= WR_SEG_SIZE) {
		if (r->seg_pool) {
			s = r->seg_pool;
			r->seg_pool = s->next;
			r->seg_pool_n--;
		} else if (!(s = malloc(sizeof(*s) + WR_SEG_SIZE))) {
			return NULL;
		}
		s->cap = WR_SEG_SIZE;
		s->pool = WR_SEG_POOL_STD;
	} else {
		s = malloc(sizeof(*s) + min);
		if (!s)
			return NULL;
		s->cap = min;
		s->pool = WR_SEG_POOL_NONE;
	}
	s->next = NULL;
	s->data = s->mem;
	s->len = s->off = 0;
	s->done = NULL;
	s->user = NULL;
	s->owned = true;
	s->unit_at = WR_SEG_NO_UNIT;
	return s;
}

/* Headers of zero-copy segments come from a per-reactor free list: no malloc per send. */
static wr_seg *ext_new(wr_reactor *r)
{
	wr_seg *s = r->ext_pool;
	if (s) {
		r->ext_pool = s->next;
		r->ext_pool_n--;
		return s;
	}
	return malloc(sizeof(*s));
}

static void ext_release(wr_reactor *r, wr_seg *s)
{
	if (r->ext_pool_n < SEG_POOL_MAX * 4) {
		s->next = r->ext_pool;
		r->ext_pool = s;
		r->ext_pool_n++;
		return;
	}
	free(s);
}

/* How many free small segments to keep: at least floor, and as many as were out at once
 * lately (small_peak). */
static unsigned small_keep(const wr_reactor *r, unsigned floor)
{
	return r->small_peak > floor ? r->small_peak : floor;
}

static void seg_release(wr_reactor *r, wr_seg *s, int status)
{
	if (!s->owned) {
		wr_send_done done = s->done;
		const void *data = s->data;
		void *user = s->user;
		ext_release(r, s);
		if (done)
			done(data, status, user);
		return;
	}
	if (s->pool == WR_SEG_POOL_STD && r->seg_pool_n < SEG_POOL_MAX) {
		s->next = r->seg_pool;
		r->seg_pool = s;
		r->seg_pool_n++;
		return;
	}
	if (s->pool == WR_SEG_POOL_SMALL)
		r->small_out--;
	if (s->pool == WR_SEG_POOL_SMALL && r->small_pool_n < small_keep(r, SEG_POOL_MAX * 4)) {
		s->next = r->small_pool;
		r->small_pool = s;
		r->small_pool_n++;
		return;
	}
	free(s);
}

static void seg_push(wr_conn *c, wr_seg *s)
{
	if (c->out_tail)
		c->out_tail->next = s;
	else
		c->out_head = s;
	c->out_tail = s;
}

bool wr__conn_over_limit(const wr_conn *c)
{
	return c->out_bytes > c->r->cfg.max_send_buffer;
}

uint8_t *wr__conn_raw_reserve(wr_conn *c, size_t min, size_t max, size_t *out_n)
{
	if (max > UINT32_MAX - c->out_bytes)
		return NULL; /* no queue grows to 4 GiB (max_send_buffer is far below) */
	wr_seg *t = c->out_tail;
	if (!t || !t->owned || t->cap - t->len < min) {
		/* A large exact reservation gets a segment of its own; anything else a standard
		 * one (a large payload is then a chain of them, sent with one sendmsg). */
		t = seg_new(c->r, min, max, !t);
		if (!t)
			return NULL;
		seg_push(c, t);
	}
	if ((c->flags & WR_CF_UNIT) && t->unit_at == WR_SEG_NO_UNIT)
		t->unit_at = (uint32_t)t->len;
	c->flags &= ~WR_CF_UNIT;
	size_t n = t->cap - t->len;
	if (n > max)
		n = max;
	uint8_t *p = t->data + t->len;
	t->len += n;
	wr__conn_out_add(c, (int64_t)n);
	*out_n = n;
	out_grew(c);
	wr__conn_flush_queue(c);
	return p;
}

int wr__conn_raw_write(wr_conn *c, const void *p, size_t n)
{
	const uint8_t *src = p;
	while (n) {
		size_t k;
		uint8_t *d = wr__conn_raw_reserve(c, 1, n, &k);
		if (!d)
			return -ENOMEM;
		memcpy(d, src, k);
		src += k;
		n -= k;
	}
	return 0;
}

int wr__conn_write_ext(wr_conn *c, const void *hdr, size_t hl, const void *p, size_t n,
                       wr_send_done done, void *user)
{
	if (c->tr->rewrites) {
		/* The transport copies anyway (encryption): the caller's buffer is free once
		 * copied. */
		int rc = hl ? c->tr->write(c, hdr, hl) : 0;
		if (rc == 0)
			rc = c->tr->write(c, p, n);
		if (rc == 0 && done)
			done(p, 0, user);
		return rc;
	}
	/* Everything that can fail comes first: a header never goes out without its payload. */
	if (n > UINT32_MAX - hl - c->out_bytes)
		return -ENOBUFS;
	wr_seg *s = ext_new(c->r);
	if (!s)
		return -ENOMEM;
	bool unit = hl == 0 && (c->flags & WR_CF_UNIT) != 0;
	if (hl) {
		size_t got;
		uint8_t *h = wr__conn_raw_reserve(c, hl, hl, &got);
		if (!h) {
			ext_release(c->r, s);
			return -ENOMEM;
		}
		memcpy(h, hdr, hl);
	}
	*s = (wr_seg){ .data = (uint8_t *)p, .len = n, .cap = n, .done = done, .user = user,
	               .unit_at = unit ? 0 : WR_SEG_NO_UNIT };
	c->flags &= ~WR_CF_UNIT;
	seg_push(c, s);
	wr__conn_out_add(c, (int64_t)n);
	out_grew(c);
	wr__conn_flush_queue(c);
	return 0;
}

void wr__conn_flush_queue(wr_conn *c)
{
	if (!(c->flags & WR_CF_FLUSH_QUEUED) && c->state != WR_CONN_CLOSED) {
		c->flags |= WR_CF_FLUSH_QUEUED;
		wr_list_insert_tail(&c->r->flush, &c->flush_link);
	}
}

void wr__conn_flush_dequeue(wr_conn *c)
{
	if (c->flags & WR_CF_FLUSH_QUEUED) {
		wr_list_remove(&c->flush_link);
		c->flags &= ~WR_CF_FLUSH_QUEUED;
	}
}

/* ---- the plain transport: bytes are plaintext, output is the raw queue ---- */

static int plain_start(wr_conn *c, void *ctx, const char *peer_name) { return 0; }

const wr_transport wr__plain_transport = {
	.name = "tcp",
	.start = plain_start,
	.on_bytes = wr__conn_deliver,
	.reserve = wr__conn_raw_reserve,
	.write = wr__conn_raw_write,
};

/* ---- flushing ---- */

static void drop_output(wr_conn *c, int status)
{
	wr_seg *s = c->out_head;
	while (s) {
		wr_seg *n = s->next;
		seg_release(c->r, s, status);
		s = n;
	}
	c->out_head = c->out_tail = NULL;
	wr__conn_out_add(c, -(int64_t)c->out_bytes);
	out_shrank(c);
}

/* Lingering close: our bytes are out; shut the write side and drain the peer until it closes
 * (or the linger time), so that a reset does not destroy what we sent. */
static void linger(wr_conn *c)
{
	c->state = WR_CONN_LINGER;
	pause_clear(c);
	shutdown(c->fd, SHUT_WR);
	wr__timer_arm(c, c->r->cfg.linger_ms);
	wr__conn_recv_arm(c);
}

/* One send (or sendmsg over several segments) per connection per turn, of at most
 * WR_SEND_TURN_BYTES: the kernel copies what it takes inside the turn's submit, and a peer
 * with room for megabytes would otherwise make that submit long. Returns the bytes
 * submitted. */
static size_t flush_one(wr_reactor *r, wr_conn *c, unsigned slot)
{
	if (c->flags & WR_CF_NEED_REARM) {
		c->flags &= ~WR_CF_NEED_REARM;
		if (c->state != WR_CONN_CLOSED)
			wr__conn_recv_arm(c);
	}
	if (c->tr->flush && c->state != WR_CONN_CLOSED)
		c->tr->flush(c);
	if ((c->flags & WR_CF_SENDING) || c->state == WR_CONN_CLOSED)
		return 0;
	if (!c->out_head) {
		if ((c->flags & WR_CF_CLOSE_AFTER_FLUSH) && c->state != WR_CONN_LINGER)
			linger(c);
		return 0;
	}
	wr_seg *s = c->out_head;
	size_t total = 0;
	bool waited = false; /* a caller's buffer whose completion callback someone waits for */
	struct msghdr *m = NULL;
	if (!s->next || s->len - s->off >= 65536) {
		total = s->len - s->off < WR_SEND_TURN_BYTES ? s->len - s->off : WR_SEND_TURN_BYTES;
		waited = s->done != NULL;
		c->sending_segs = 1;
	} else {
		struct iovec *iov = r->iovs[slot];
		unsigned n = 0;
		for (wr_seg *t = s; t && n < WR_IOV_PER_SEND && total < WR_SEND_TURN_BYTES;
		     t = t->next, n++) {
			iov[n].iov_base = t->data + t->off;
			iov[n].iov_len = t->len - t->off;
			total += iov[n].iov_len;
			waited |= t->done != NULL;
		}
		m = &r->msgs[slot];
		*m = (struct msghdr){ .msg_iov = iov, .msg_iovlen = n };
		c->sending_segs = (uint8_t)n;
	}
	/* Zero-copy for a large send on a connection where the kernel has not shown it copies
	 * anyway; with a transport that rewrites the bytes the copy is made already. */
	size_t zc_min = r->cfg.send_zc_threshold;
	bool zc = zc_min && total >= zc_min && !(c->flags & WR_CF_NO_ZC) && !c->tr->rewrites;
	uint64_t ud = ud_of(c, zc ? WR_OPK_SEND_ZC : WR_OPK_SEND);
	if (m)
		wr__ring_sendmsg(r->ring, c->fd, m, zc, ud);
	else
		wr__ring_send(r->ring, c->fd, s->data + s->off, total, zc, ud);
	/* Only our own segments' release waits for this send's completion (the whole queue
	 * went, plainly: no more output behind it, no drain callback, no close, no caller's
	 * completion callback): the turn's wait may go on past it (turn(), cfg.settle_us). */
	if (!zc && total == c->out_bytes && !waited &&
	    !(c->flags & (WR_CF_WRITABLE_WANTED | WR_CF_CLOSE_AFTER_FLUSH)))
		r->quiet_sends++;
	else
		r->loud_sends = true;
	if (zc) {
		c->zc_notifs++; /* until its first completion says none follows */
		if (r->stats)
			WR_STAT_ADD(r->stats->send_zc, 1);
	}
	c->flags |= WR_CF_SENDING;
	c->send_ns = (uint32_t)r->now_ns;
	c->inflight++;
	return total;
}

/* Once the turn has submitted WR_FLUSH_TURN_BYTES, connections with more than a segment
 * queued wait for the next turn (in order, first then); small answers always go. */
void wr__conn_flush_all(wr_reactor *r)
{
	unsigned slot = 0;
	size_t sent = 0;
	r->quiet_sends = 0;
	r->loud_sends = false;
	wr_list later;
	wr_list_init(&later);
	while (!wr_list_empty(&r->flush)) {
		wr_conn *c = wr_container_of(r->flush.next, wr_conn, flush_link);
		wr_list_remove(&c->flush_link);
		if (sent >= WR_FLUSH_TURN_BYTES && c->out_bytes > WR_SEG_SIZE &&
		    c->state == WR_CONN_OPEN && !(c->flags & WR_CF_SENDING)) {
			wr_list_insert_tail(&later, &c->flush_link); /* still FLUSH_QUEUED */
			continue;
		}
		c->flags &= ~WR_CF_FLUSH_QUEUED;
		if (slot == WR_FLUSH_BATCH) {
			/* The kernel has copied the msghdrs once submitted: the scratch is free again. */
			wr__ring_submit(r->ring);
			slot = 0;
		}
		sent += flush_one(r, c, slot++);
		/* The transport's flush may have queued the connection again: this pass already
		 * sent what it queued. */
		wr__conn_flush_dequeue(c);
		if (c->state == WR_CONN_CLOSED && c->inflight == 0 && !wr_list_linked(&c->flush_link))
			wr_list_insert_tail(&r->closed, &c->flush_link);
	}
	wr_list_move_all(&r->flush, &later);
}

void wr__conn_on_sent(wr_conn *c, int res)
{
	c->flags &= ~WR_CF_SENDING;
	if (c->state == WR_CONN_CLOSED)
		return;
	if (res < 0) {
		if (res == -EAGAIN || res == -EINTR) {
			wr__conn_flush_queue(c);
			return;
		}
		wr__conn_abort(c, res, wr_strerror(res));
		return;
	}
	size_t left = (size_t)res;
	wr__conn_out_add(c, -(int64_t)left);
	wr_reactor_stats *st = c->r->stats;
	if (st) {
		WR_STAT_ADD(st->bytes_out, left);
		/* Both ends are turn times already read: no clock read here. */
		if (wr__sampler_hit(&st->send_sample))
			wr_hist_record(st->send_complete, (uint32_t)c->r->now_ns - c->send_ns);
	}
	while (left && c->out_head) {
		wr_seg *s = c->out_head;
		size_t k = s->len - s->off;
		if (k > left) {
			s->off += left;
			break;
		}
		left -= k;
		c->out_head = s->next;
		if (!c->out_head)
			c->out_tail = NULL;
		if (c->zc_notifs) {
			wr_seg *tail = c->zc_held; /* a ring: the tail's next is the head */
			s->next = tail ? tail->next : s;
			if (tail)
				tail->next = s;
			c->zc_held = s;
		} else {
			seg_release(c->r, s, 0);
		}
	}
	out_shrank(c);
	if (c->out_head || (c->flags & WR_CF_CLOSE_AFTER_FLUSH))
		wr__conn_flush_queue(c);
	if (!c->out_head && (c->flags & WR_CF_WRITABLE_WANTED) && wr__conn_is_open(c)) {
		c->flags &= ~WR_CF_WRITABLE_WANTED;
		if (c->proto->on_writable)
			c->proto->on_writable(c);
	}
}

/* Released oldest first, so done callbacks run in send order. */
static void zc_release(wr_conn *c, int status)
{
	wr_seg *tail = c->zc_held, *s = tail ? tail->next : NULL;
	c->zc_held = NULL;
	if (tail)
		tail->next = NULL;
	while (s) {
		wr_seg *n = s->next;
		seg_release(c->r, s, status);
		s = n;
	}
}

void wr__conn_on_zc_notif(wr_conn *c, bool copied)
{
	if (copied) {
		c->flags |= WR_CF_NO_ZC;
		if (c->r->stats)
			WR_STAT_ADD(c->r->stats->send_zc_copied, 1);
	}
	if (c->zc_notifs && --c->zc_notifs == 0)
		zc_release(c, 0);
}

/* ---- closing ---- */

static void report_gone(wr_conn *c, int err, const char *why)
{
	if (c->flags & WR_CF_GONE)
		return;
	c->flags |= WR_CF_GONE;
	/* Handles held by other threads go stale from here on (inbox.h). */
	wr__inbox_publish(&c->r->inbox, wr__conn_idx(c), c->gen, false);
	if (c->proto->on_gone)
		c->proto->on_gone(c, err, why);
}

void wr__conn_close(wr_conn *c, const char *why)
{
	if (c->state != WR_CONN_OPEN || (c->flags & WR_CF_CLOSE_AFTER_FLUSH))
		return;
	c->flags |= WR_CF_CLOSE_AFTER_FLUSH;
	report_gone(c, 0, why);
	if (c->state != WR_CONN_OPEN)
		return; /* on_gone closed it harder */
	if (c->tr->shutdown)
		c->tr->shutdown(c);
	wr__conn_flush_queue(c);
}

void wr__conn_cut(wr_conn *c, int err, const char *why, const void *last, size_t n)
{
	if (c->state != WR_CONN_OPEN || (c->flags & WR_CF_CLOSE_AFTER_FLUSH))
		return;
	if (c->tr->rewrites || !last) {
		wr__conn_abort(c, err, why);
		return;
	}
	report_gone(c, err, why);
	if (c->state != WR_CONN_OPEN)
		return;
	/* Keep what the kernel may be reading (the send in flight), then up to the first unit
	 * that begins after it: the peer must be able to read up to our last words. Only the
	 * first unit of a segment is known; one that began before what is already sent of the
	 * segment keeps the whole segment. */
	unsigned keep = (c->flags & WR_CF_SENDING) ? c->sending_segs : 0;
	wr_seg *prev = NULL, *s = c->out_head;
	for (unsigned i = 0; s && i < keep; i++) {
		prev = s;
		s = s->next;
	}
	while (s && (s->unit_at == WR_SEG_NO_UNIT || s->unit_at < s->off)) {
		prev = s;
		s = s->next;
	}
	if (s && s->unit_at > s->off) { /* the segment ends with the first units to drop */
		size_t k = s->len - s->unit_at;
		s->len = s->unit_at;
		wr__conn_out_add(c, -(int64_t)k);
		prev = s;
		s = s->next;
	}
	if (prev)
		prev->next = NULL;
	else
		c->out_head = NULL;
	c->out_tail = prev;
	while (s) {
		wr_seg *nx = s->next;
		wr__conn_out_add(c, -(int64_t)(s->len - s->off));
		seg_release(c->r, s, -ECANCELED);
		s = nx;
	}
	pause_clear(c);
	if (wr__conn_raw_write(c, last, n) < 0) {
		wr__conn_abort(c, err, why);
		return;
	}
	wr__conn_close(c, why);
}

void wr__conn_abort(wr_conn *c, int err, const char *why)
{
	if (c->state == WR_CONN_CLOSED || c->state == WR_CONN_FREE)
		return;
	report_gone(c, err, why);
	if (c->state == WR_CONN_CLOSED)
		return;
	wr_reactor *r = c->r;
	c->state = WR_CONN_CLOSED;
	pause_clear(c);
	wr__timer_cancel(c);
	wr__conn_flush_dequeue(c);
	if (c->inflight)
		wr__ring_cancel_fd(r->ring, c->fd, ud_of(c, WR_OPK_CANCEL)), c->inflight++;
	/* A send in flight still reads the queued segments (and the caller's zero-copy buffers,
	 * whose completions would tell the caller to reuse them): they go when the connection is
	 * freed, after that send has completed. */
	if (!(c->flags & WR_CF_SENDING))
		drop_output(c, -EPIPE);
	if (c->inflight == 0)
		wr_list_insert_tail(&r->closed, &c->flush_link);
}

void wr__conn_fail(wr_conn *c, int err, const char *why)
{
	/* out_bytes, not out_head: a transport may hold output not yet in the queue (TLS
	 * plaintext waiting for this turn's encryption). */
	if (c->out_bytes && c->state == WR_CONN_OPEN) {
		report_gone(c, err, why);
		wr__conn_close(c, why);
	} else {
		wr__conn_abort(c, err, why);
	}
}

static void conn_free(wr_reactor *r, wr_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->zc_notifs = 0; /* nothing is in flight any more */
	zc_release(c, 0);
	drop_output(c, -EPIPE);
	pause_clear(c);
	if (c->tr->free)
		c->tr->free(c);
	if (c->proto->free)
		c->proto->free(c);
	wr__reactor_mem_add(r, -(int64_t)c->mem_extra); /* what the protocol did not give back */
	c->mem_extra = 0;
	c->ps = c->ts = NULL;
	c->state = WR_CONN_FREE;
	c->gen++;
	if (r->stats)
		WR_STAT_ADD(r->stats->freed, 1);
	r->free_idx[r->nfree++] = wr__conn_idx(c);
	r->live--;
}

/* After a burst: the free lists keep a few segments, the rest goes back to the allocator, and
 * the allocator gives its free pages back to the OS (glibc keeps them otherwise: the heap
 * top only shrinks from the end). */
void wr__conn_trim(wr_reactor *r)
{
	wr__ring_trim(r->ring);
	while (r->seg_pool_n > SEG_POOL_KEEP) {
		wr_seg *s = r->seg_pool;
		r->seg_pool = s->next;
		r->seg_pool_n--;
		r->mem_freed += WR_SEG_SIZE;
		free(s);
	}
	/* A periodic broadcast keeps its segments; a burst that does not come back lets them go
	 * within a few trims (the peak halves per trim). */
	while (r->small_pool_n > small_keep(r, SEG_POOL_KEEP * 4)) {
		wr_seg *s = r->small_pool;
		r->small_pool = s->next;
		r->small_pool_n--;
		free(s);
	}
	r->small_peak = r->small_peak / 2 > r->small_out ? r->small_peak / 2 : r->small_out;
	while (r->ext_pool_n > SEG_POOL_KEEP * 4) {
		wr_seg *s = r->ext_pool;
		r->ext_pool = s->next;
		r->ext_pool_n--;
		free(s);
	}
	/* Only once a burst has mostly gone (at least half of the high-water mark freed):
	 * malloc_trim walks the whole heap (3-11 ms for a 100 MiB one), a pause the turn can
	 * afford then, and under steady load the fall stays far below what is held. Not "all
	 * gone": a burst cut off in steps leaves some connections holding a little, and what the
	 * others freed must still go back. What was freed is measured by the fall of what the
	 * budget counts, whoever freed it (a protocol, or a send queue releasing buffers it was
	 * handed), plus what the pools gave back. */
	size_t freed = r->mem_freed + (r->mem_high - r->mem_used);
	if (freed >= TRIM_MIN_BYTES && r->mem_used <= freed &&
	    r->tick - r->trim_tick >= TRIM_EVERY_TICKS) {
#ifdef __GLIBC__
		malloc_trim(0);
#endif
		r->mem_freed = 0;
		r->mem_high = r->mem_used;
		r->trim_tick = r->tick;
	}
}

/* End of turn: connections with nothing in flight go back to the slab. */
void wr__conn_free_closed(wr_reactor *r)
{
	while (!wr_list_empty(&r->closed)) {
		wr_conn *c = wr_container_of(r->closed.next, wr_conn, flush_link);
		wr_list_remove(&c->flush_link);
		if (c->inflight) /* a late request was queued: wait for it */
			continue;
		conn_free(r, c);
	}
}

/* The reactor goes away with its ring (and every request in it): close and free every
 * connection now, reporting on_gone to those not closed yet. */
void wr__conn_release_all(wr_reactor *r)
{
	for (uint32_t i = 0; i < r->high; i++) {
		wr_conn *c = &r->conns[i];
		if (c->state == WR_CONN_FREE)
			continue;
		wr__conn_abort(c, -ECANCELED, "loop freed");
		c->inflight = 0;
		c->flags &= ~WR_CF_SENDING;
		if (wr_list_linked(&c->flush_link))
			wr_list_remove(&c->flush_link);
		conn_free(r, c);
	}
	wr_list_init(&r->closed);
	wr_list_init(&r->flush);
}
