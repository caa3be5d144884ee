/* Connections: the slab, the send queue and its once-per-turn flush, and deferred,
 * completion-aware closing. */
#include "reactor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"
#include "ud.h"

#define SEG_POOL_MAX 256u

wr_conn *wr__conn_new(wr_reactor *r, int fd)
{
	if (r->nfree == 0)
		return NULL;
	uint32_t idx = r->free_idx[--r->nfree];
	wr_conn *c = &r->conns[idx];
	uint32_t gen = c->gen;
	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->gen = gen;
	c->fd = fd;
	c->r = r;
	wr_list_init(&c->timer_link);
	wr_list_init(&c->flush_link);
	wr_list_insert_tail(&r->all, &c->all_link);
	c->last_active = r->tick;
	r->live++;
	return c;
}

static uint64_t ud_of(const wr_conn *c, enum wr_op op)
{
	return wr_ud(op, c->gen, c->idx);
}

void wr__conn_recv_arm(wr_conn *c)
{
	if (c->flags & WR_CF_RECV_ARMED)
		return;
	wr__ring_recv_multishot(c->r->ring, c->fd, ud_of(c, WR_OPK_RECV));
	c->flags |= WR_CF_RECV_ARMED;
	c->inflight++;
}

/* ---- output segments ---- */

static wr_seg *seg_new(wr_reactor *r, size_t need)
{
	wr_seg *s;
	if (need <= WR_SEG_SIZE) {
		if (r->seg_pool) {
			s = r->seg_pool;
			r->seg_pool = s->next;
			r->seg_pool_n--;
		} else {
			s = malloc(sizeof(*s) + WR_SEG_SIZE);
			if (!s)
				return NULL;
		}
		s->cap = WR_SEG_SIZE;
		s->pooled = true;
	} else {
		s = malloc(sizeof(*s) + need);
		if (!s)
			return NULL;
		s->cap = need;
		s->pooled = false;
	}
	s->next = NULL;
	s->data = s->mem;
	s->len = s->off = 0;
	s->done = NULL;
	s->user = NULL;
	s->owned = true;
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
	if (s->pooled && r->seg_pool_n < SEG_POOL_MAX) {
		s->next = r->seg_pool;
		r->seg_pool = s;
		r->seg_pool_n++;
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
	return c->out_bytes > c->r->sh->cfg.max_send_buffer;
}

uint8_t *wr__conn_write_reserve(wr_conn *c, size_t n)
{
	if (c->tls)
		return wr__tls_reserve(c, n);
	wr_seg *t = c->out_tail;
	if (!t || !t->owned || t->cap - t->len < n) {
		t = seg_new(c->r, n);
		if (!t)
			return NULL;
		seg_push(c, t);
	}
	uint8_t *p = t->data + t->len;
	t->len += n;
	c->out_bytes += n;
	wr__conn_flush_queue(c);
	return p;
}

int wr__conn_write(wr_conn *c, const void *p, size_t n)
{
	if (c->tls)
		return wr__tls_write(c, p, n);
	return wr__conn_write_raw(c, p, n);
}

/* Fill the tail segment, then as many pooled segments as needed (a large payload is a chain
 * of standard segments, sent with one sendmsg: no allocation sized by the message). With a
 * key, the copy is masked on the way (client frames), phase carried across segments. */
static int write_chain(wr_conn *c, const uint8_t *src, size_t n, const uint8_t *key)
{
	unsigned phase = 0;
	while (n) {
		wr_seg *t = c->out_tail;
		if (!t || !t->owned || t->cap == t->len) {
			t = seg_new(c->r, WR_SEG_SIZE);
			if (!t)
				return -ENOMEM;
			seg_push(c, t);
		}
		size_t k = t->cap - t->len;
		if (k > n)
			k = n;
		memcpy(t->data + t->len, src, k);
		if (key) {
			wr__unmask(t->data + t->len, k, key, phase);
			phase = (phase + (unsigned)k) & 3;
		}
		t->len += k;
		src += k;
		n -= k;
		c->out_bytes += k;
	}
	wr__conn_flush_queue(c);
	return 0;
}

int wr__conn_write_raw(wr_conn *c, const void *p, size_t n)
{
	return write_chain(c, p, n, NULL);
}

int wr__conn_write_masked(wr_conn *c, const void *p, size_t n, const uint8_t key[4])
{
	return write_chain(c, p, n, key);
}

int wr__conn_write_ext(wr_conn *c, const void *hdr, size_t hl, const void *p, size_t n,
                       wr_send_done done, void *user)
{
	if (c->tls) {
		/* Encryption copies anyway: the caller's buffer is free once copied. */
		int rc = hl ? wr__tls_write(c, hdr, hl) : 0;
		if (rc == 0)
			rc = wr__tls_write(c, p, n);
		if (rc == 0 && done)
			done(p, 0, user);
		return rc;
	}
	/* Everything that can fail comes first: a header never goes out without its payload. */
	wr_seg *s = ext_new(c->r);
	if (!s)
		return -ENOMEM;
	if (hl) {
		uint8_t *h = wr__conn_write_reserve(c, hl);
		if (!h) {
			ext_release(c->r, s);
			return -ENOMEM;
		}
		memcpy(h, hdr, hl);
	}
	*s = (wr_seg){ .data = (uint8_t *)p, .len = n, .cap = n, .done = done, .user = user };
	seg_push(c, s);
	c->out_bytes += n;
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

static void drop_output(wr_conn *c, int status)
{
	wr_seg *s = c->out_head;
	while (s) {
		wr_seg *n = s->next;
		seg_release(c->r, s, status);
		s = n;
	}
	c->out_head = c->out_tail = NULL;
	c->out_bytes = 0;
}

/* Lingering close: our bytes are out; shut the write side and drain the peer until it closes
 * (or the close timeout), so that a reset does not destroy what we sent. */
static void linger(wr_conn *c)
{
	c->state = WR_CONN_LINGER;
	shutdown(c->fd, SHUT_WR);
	wr__timer_arm(c, c->r->sh->cfg.close_timeout_ms < 2000 ? c->r->sh->cfg.close_timeout_ms : 2000);
	wr__conn_recv_arm(c);
}

/* One send (or sendmsg over several segments) per connection per turn. */
static void flush_one(wr_reactor *r, wr_conn *c, unsigned slot)
{
	if (c->flags & WR_CF_NEED_REARM) {
		c->flags &= ~WR_CF_NEED_REARM;
		if (c->state != WR_CONN_CLOSED)
			wr__conn_recv_arm(c);
	}
	if (c->tls)
		wr__tls_flush(c);
	if ((c->flags & WR_CF_SENDING) || c->state == WR_CONN_CLOSED)
		return;
	if (!c->out_head) {
		if ((c->flags & WR_CF_CLOSE_AFTER_FLUSH) && c->state != WR_CONN_LINGER)
			linger(c);
		return;
	}
	wr_seg *s = c->out_head;
	if (!s->next || s->len - s->off >= 65536) {
		wr__ring_send(r->ring, c->fd, s->data + s->off, s->len - s->off, ud_of(c, WR_OPK_SEND));
	} else {
		struct msghdr *m = &r->msgs[slot];
		struct iovec *iov = r->iovs[slot];
		unsigned n = 0;
		for (; s && n < WR_IOV_PER_SEND; s = s->next, n++) {
			iov[n].iov_base = s->data + s->off;
			iov[n].iov_len = s->len - s->off;
		}
		*m = (struct msghdr){ .msg_iov = iov, .msg_iovlen = n };
		wr__ring_sendmsg(r->ring, c->fd, m, ud_of(c, WR_OPK_SEND));
	}
	c->flags |= WR_CF_SENDING;
	c->inflight++;
}

void wr__reactor_flush(wr_reactor *r)
{
	unsigned slot = 0;
	while (!wr_list_empty(&r->flush)) {
		wr_conn *c = wr_container_of(r->flush.next, wr_conn, flush_link);
		wr_list_remove(&c->flush_link);
		c->flags &= ~WR_CF_FLUSH_QUEUED;
		if (slot == WR_FLUSH_BATCH) {
			/* The kernel has copied the msghdrs once submitted: the scratch is free again. */
			wr__ring_submit(r->ring);
			slot = 0;
		}
		flush_one(r, c, slot++);
		if (c->state == WR_CONN_CLOSED && c->inflight == 0 && !wr_list_linked(&c->flush_link))
			wr_list_insert_tail(&r->closed, &c->flush_link);
	}
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
		if (c->state == WR_CONN_WS || c->state == WR_CONN_CLIENT_HS || c->state == WR_CONN_CONNECTING) {
			if (c->state != WR_CONN_WS)
				c->ws.error = res;
			wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, wr_strerror(res));
		}
		wr__conn_close_hard(c);
		return;
	}
	size_t left = (size_t)res;
	c->out_bytes -= left;
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
		seg_release(c->r, s, 0);
	}
	/* A drained zero-length owned tail is reused in place rather than released. */
	if (c->out_head || (c->flags & WR_CF_CLOSE_AFTER_FLUSH))
		wr__conn_flush_queue(c);
	if (!c->out_head && (c->flags & WR_CF_DRAIN_WANTED) && c->state == WR_CONN_WS) {
		c->flags &= ~WR_CF_DRAIN_WANTED;
		wr__ws_on_drain(c);
	}
}

void wr__conn_close_soft(wr_conn *c)
{
	if (c->state == WR_CONN_CLOSED || c->state == WR_CONN_LINGER)
		return;
	c->flags |= WR_CF_CLOSE_AFTER_FLUSH;
	wr__conn_flush_queue(c);
}

void wr__conn_close_hard(wr_conn *c)
{
	if (c->state == WR_CONN_CLOSED)
		return;
	wr_reactor *r = c->r;
	c->state = WR_CONN_CLOSED;
	wr__timer_cancel(c);
	if (c->inflight)
		wr__ring_cancel_fd(r->ring, c->fd, ud_of(c, WR_OPK_CANCEL)), c->inflight++;
	/* A send in flight still reads the queued segments (and the caller's zero-copy buffers,
	 * whose completions would tell the caller to reuse them): they go when the connection is
	 * freed, after that send has completed. */
	if (!(c->flags & WR_CF_SENDING))
		drop_output(c, -EPIPE);
	if (!wr_list_linked(&c->flush_link)) {
		if (c->inflight == 0)
			wr_list_insert_tail(&r->closed, &c->flush_link);
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
		if (c->tls)
			wr__tls_conn_free(c);
		close(c->fd);
		drop_output(c, -EPIPE);
		wr__buf_free(&c->in);
		wr__buf_free(&c->ws.msg);
		wr__client_spec_free(c->client);
		c->client = NULL;
		wr_list_remove(&c->all_link);
		c->state = WR_CONN_FREE;
		c->gen++;
		r->free_idx[r->nfree++] = c->idx;
		r->live--;
	}
}
