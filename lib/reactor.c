/* The reactor loop: submit-and-wait once per turn, walk a batch of completions, dispatch on the
 * operation, run timers, flush output, free closed connections. */
#include "reactor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ud.h"

#define REAP_BATCH 256

uint64_t wr__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t wr_now_ns(void) { return wr__now_ns(); }

int wr__reactor_init(wr_reactor *r, const wr_shared *sh, unsigned idx, int cpu)
{
	/* The flush scratch (msgs, iovs) needs no zeroing; what follows it does. */
	memset(r, 0, offsetof(wr_reactor, msgs));
	memset(&r->scratch, 0, sizeof(*r) - offsetof(wr_reactor, scratch));
	r->idx = idx;
	r->cpu = cpu;
	r->sh = sh;
	r->listen_fd = -1;
	wr_list_init(&r->all);
	wr_list_init(&r->flush);
	wr_list_init(&r->closed);
	wr_list_init(&r->rearm);
	for (unsigned i = 0; i < WR_WHEEL_SLOTS; i++)
		wr_list_init(&r->wheel[i]);
	atomic_init(&r->stop, false);

	const wr_server_config *cfg = &sh->cfg;
	wr_ring_config rc = {
		.entries = 4096,
		.buf_count = cfg->recv_buf_count,
		.buf_size = cfg->recv_buf_size,
		.single_issuer = true,
	};
	int rc2 = wr__ring_new(&rc, &r->ring);
	if (rc2 < 0)
		return rc2;
	r->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (r->wake_fd < 0) {
		rc2 = -errno;
		goto err_wake;
	}
	r->nconns_max = cfg->max_conns;
	/* calloc of a large array maps zero pages lazily: only slots in use cost memory. */
	r->conns = calloc(r->nconns_max, sizeof(wr_conn));
	r->free_idx = malloc(sizeof(uint32_t) * r->nconns_max);
	if (!r->conns || !r->free_idx) {
		rc2 = -ENOMEM;
		goto err_slab;
	}
	for (uint32_t i = 0; i < r->nconns_max; i++)
		r->free_idx[i] = r->nconns_max - 1 - i; /* pop from the end: low indices first */
	r->nfree = r->nconns_max;
	r->now_ns = wr__now_ns();
	r->next_tick_ns = r->now_ns + WR_TICK_MS * 1000000ull;
	r->tick = 1;
	wr__ring_read_wake(r);
	return 0;

err_slab:
	free(r->conns);
	free(r->free_idx);
	close(r->wake_fd);
err_wake:
	wr__ring_free(r->ring);
	r->ring = NULL;
	return rc2;
}

void wr__reactor_finish(wr_reactor *r)
{
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	r->listen_fd = -1;
	while (r->seg_pool) {
		wr_seg *s = r->seg_pool;
		r->seg_pool = s->next;
		free(s);
	}
	while (r->ext_pool) {
		wr_seg *s = r->ext_pool;
		r->ext_pool = s->next;
		free(s);
	}
	for (wr_every *e = r->every, *n; e; e = n) {
		n = e->next;
		free(e);
	}
	r->every = NULL;
	wr__buf_free(&r->scratch);
	wr__buf_free(&r->body);
	free(r->conns);
	free(r->free_idx);
	r->conns = NULL;
	r->free_idx = NULL;
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	r->wake_fd = -1;
	wr__ring_free(r->ring);
	r->ring = NULL;
}

void wr__ring_read_wake(wr_reactor *r)
{
	wr__ring_read(r->ring, r->wake_fd, &r->wake_buf, sizeof(r->wake_buf), wr_ud(WR_OPK_WAKE, 0, 0));
}

void wr__reactor_wake(wr_reactor *r)
{
	uint64_t one = 1;
	atomic_store(&r->stop, true);
	/* write(2) on an eventfd is async-signal-safe: wr_server_stop may run in a handler. */
	ssize_t n = write(r->wake_fd, &one, sizeof(one));
	(void)n;
}

int wr__reactor_listen(wr_reactor *r, const char *host, uint16_t port, uint16_t *out_port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	int rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc != 0)
		return rc == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto err_socket;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, r->sh->cfg.backlog) < 0) {
		rc = -errno;
		goto err_bind;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                           : ((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(ai);
	r->listen_fd = fd;
	return 0;

err_bind:
	close(fd);
err_socket:
	freeaddrinfo(ai);
	return rc;
}

static void accept_arm(wr_reactor *r)
{
	if (r->listen_fd < 0 || r->accept_armed || r->stopping)
		return;
	wr__ring_accept_multishot(r->ring, r->listen_fd, wr_ud(WR_OPK_ACCEPT, 0, 0));
	r->accept_armed = true;
}

/* ---- timers: a wheel of tick slots; arming and cancelling are list operations ---- */

void wr__timer_arm(wr_conn *c, uint32_t after_ms)
{
	wr_reactor *r = c->r;
	if (c->flags & WR_CF_TIMER)
		wr_list_remove(&c->timer_link);
	uint32_t t = wr__ms_to_ticks(after_ms);
	c->deadline = r->tick + (t ? t : 1);
	wr_list_insert_tail(&r->wheel[c->deadline % WR_WHEEL_SLOTS], &c->timer_link);
	c->flags |= WR_CF_TIMER;
}

void wr__timer_cancel(wr_conn *c)
{
	if (c->flags & WR_CF_TIMER) {
		wr_list_remove(&c->timer_link);
		c->flags &= ~WR_CF_TIMER;
	}
}

static void timer_fire(wr_conn *c)
{
	c->flags &= ~WR_CF_TIMER;
	switch (c->state) {
	case WR_CONN_HTTP:
		wr__http_on_timer(c);
		break;
	case WR_CONN_WS:
	case WR_CONN_CONNECTING:
	case WR_CONN_CLIENT_HS:
		wr__ws_on_timer(c);
		break;
	case WR_CONN_LINGER:
		wr__conn_close_hard(c);
		break;
	default:
		break;
	}
}

static void update_date(wr_reactor *r)
{
	time_t now = time(NULL);
	if ((uint64_t)now == r->date_sec)
		return;
	r->date_sec = (uint64_t)now;
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(r->date, sizeof(r->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

static void run_timers(wr_reactor *r)
{
	r->now_ns = wr__now_ns();
	while (r->now_ns >= r->next_tick_ns) {
		r->next_tick_ns += WR_TICK_MS * 1000000ull;
		r->tick++;
		/* A firing timer runs callbacks that may arm, move or cancel any other timer, this
		 * slot's included: take the slot's entries aside and pop them one at a time, so no
		 * iterator is left pointing at a node that moved. Re-arming never targets the
		 * current tick, so nothing put back into the slot is due now. */
		wr_list *slot = &r->wheel[r->tick % WR_WHEEL_SLOTS], due;
		wr_list_move_all(&due, slot);
		while (!wr_list_empty(&due)) {
			wr_conn *c = wr_container_of(due.next, wr_conn, timer_link);
			wr_list_remove(&c->timer_link);
			if ((int32_t)(c->deadline - r->tick) > 0) {
				wr_list_insert_tail(slot, &c->timer_link); /* a later lap */
				continue;
			}
			timer_fire(c);
		}
		if (r->accept_backoff) {
			r->accept_backoff = false;
			accept_arm(r);
		}
		update_date(r);
	}
	for (wr_every *e = r->every; e; e = e->next) {
		if (r->now_ns >= e->next_ns) {
			e->next_ns += e->period_ns;
			if (e->next_ns <= r->now_ns)
				e->next_ns = r->now_ns + e->period_ns;
			e->fn(r->sh->loop, e->user);
		}
	}
}

static int64_t wait_timeout(const wr_reactor *r)
{
	uint64_t next = r->next_tick_ns;
	for (const wr_every *e = r->every; e; e = e->next)
		if (e->next_ns < next)
			next = e->next_ns;
	/* The clock was read by this turn's timer pass; only the flush has run since. */
	uint64_t now = r->now_ns;
	return next > now ? (int64_t)(next - now) : 0;
}

/* ---- completions ---- */

static void handle_accept(wr_reactor *r, const wr_cqe *cqe)
{
	if (!wr__cqe_more(cqe))
		r->accept_armed = false;
	if (cqe->res < 0) {
		if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOMEM ||
		    cqe->res == -ENOBUFS) {
			/* Out of descriptors or memory: keep serving what we have, retry next tick. */
			wr__log("reactor %u: accept: %s", r->idx, wr_strerror(cqe->res));
			r->accept_backoff = true;
		} else if (cqe->res != -ECANCELED && !r->stopping) {
			wr__log("reactor %u: accept: %s", r->idx, wr_strerror(cqe->res));
			r->accept_backoff = true;
		}
		return;
	}
	int fd = cqe->res;
	if (r->stopping) {
		close(fd);
		return;
	}
	wr_conn *c = wr__conn_new(r, fd);
	if (!c) {
		r->stats_refused++;
		close(fd);
		return;
	}
	r->stats_accepted++;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = WR_CONN_HTTP;
	wr__timer_arm(c, r->sh->cfg.handshake_timeout_ms);
	if (r->sh->tls) {
		int rc = wr__tls_accept(c);
		if (rc < 0) {
			wr__conn_close_hard(c);
			return;
		}
	}
	wr__conn_recv_arm(c);
}

static wr_conn *conn_of(wr_reactor *r, uint64_t ud)
{
	uint32_t idx = wr_ud_idx(ud);
	if (idx >= r->nconns_max)
		return NULL;
	wr_conn *c = &r->conns[idx];
	if ((c->gen & WR_UD_GEN_MASK) != wr_ud_gen(ud) || c->state == WR_CONN_FREE)
		return NULL;
	return c;
}

/* Deliver received bytes to the layer the connection is in; TLS decrypts first. */
void wr__conn_deliver(wr_conn *c, uint8_t *p, size_t n)
{
	switch (c->state) {
	case WR_CONN_HTTP:
		wr__http_on_data(c, p, n);
		break;
	case WR_CONN_WS:
		wr__ws_on_data(c, p, n);
		break;
	case WR_CONN_CLIENT_HS:
		wr__client_on_data(c, p, n);
		break;
	default: /* lingering or closed: discard */
		break;
	}
}

static void handle_recv(wr_reactor *r, wr_conn *c, const wr_cqe *cqe)
{
	bool more = wr__cqe_more(cqe);
	if (!more) {
		c->flags &= ~WR_CF_RECV_ARMED;
		c->inflight--;
	}
	if (cqe->res > 0) {
		unsigned bid = wr__cqe_buf_id(cqe);
		uint8_t *p = wr__ring_buf(r->ring, bid);
		c->last_active = r->tick;
		if (c->state != WR_CONN_CLOSED) {
			if (c->tls)
				wr__tls_on_data(c, p, (size_t)cqe->res);
			else
				wr__conn_deliver(c, p, (size_t)cqe->res);
		}
		/* The view handed to callbacks ended with them: the buffer goes straight back. */
		wr__ring_buf_recycle(r->ring, bid);
		if (!more && c->state != WR_CONN_CLOSED)
			wr__conn_recv_arm(c);
		return;
	}
	if (wr__cqe_has_buf(cqe))
		wr__ring_buf_recycle(r->ring, wr__cqe_buf_id(cqe));
	if (cqe->res == -ENOBUFS) {
		/* The buffer ring ran dry: nothing was lost; re-arm once buffers have come back. */
		if (c->state != WR_CONN_CLOSED) {
			c->flags |= WR_CF_NEED_REARM;
			wr__conn_flush_queue(c); /* the flush pass re-arms, after this turn's recycling */
		}
		return;
	}
	if (cqe->res == -ECANCELED || c->state == WR_CONN_CLOSED)
		return;
	/* EOF or error. */
	if (c->state == WR_CONN_WS || c->state == WR_CONN_CLIENT_HS || c->state == WR_CONN_CONNECTING)
		wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, cqe->res == 0 ? "connection closed" : wr_strerror(cqe->res));
	wr__conn_close_hard(c);
}

static void handle_wake(wr_reactor *r, const wr_cqe *cqe)
{
	(void)cqe;
	if (atomic_load(&r->stop) && !r->stopping)
		wr__reactor_begin_stop(r);
	/* Always re-armed: a wr_loop is run again after a stop, and its next wr_loop_stop must
	 * be seen. A read still pending when the ring is freed is simply cancelled. */
	wr__ring_read_wake(r);
}

static void dispatch(wr_reactor *r, const wr_cqe *cqe)
{
	enum wr_op op = wr_ud_op(cqe->ud);
	switch (op) {
	case WR_OPK_ACCEPT:
		handle_accept(r, cqe);
		return;
	case WR_OPK_WAKE:
		handle_wake(r, cqe);
		return;
	case WR_OPK_POST: {
		wr_post *p = wr_ud_get_ptr(cqe->ud);
		p->fn(p->arg);
		free(p);
		return;
	}
	case WR_OPK_RECV:
	case WR_OPK_SEND:
	case WR_OPK_CANCEL:
	case WR_OPK_CONNECT:
		break;
	default:
		return;
	}
	wr_conn *c = conn_of(r, cqe->ud);
	if (!c)
		return; /* stale: the connection was freed and its slot reused */
	switch (op) {
	case WR_OPK_RECV:
		handle_recv(r, c, cqe);
		break;
	case WR_OPK_SEND:
		c->inflight--;
		wr__conn_on_sent(c, cqe->res);
		break;
	case WR_OPK_CANCEL:
		c->inflight--;
		break;
	default: /* WR_OPK_CONNECT */
		c->inflight--;
		wr__client_on_connect(c, cqe->res);
		break;
	}
	/* A closed connection whose last request just completed can now be freed. */
	if (c->state == WR_CONN_CLOSED && c->inflight == 0 && !wr_list_linked(&c->flush_link))
		wr_list_insert_tail(&r->closed, &c->flush_link);
}

void wr__reactor_begin_stop(wr_reactor *r)
{
	r->stopping = true;
	r->stop_deadline_ns = wr__now_ns() + (uint64_t)r->sh->cfg.close_timeout_ms * 1000000ull;
	if (r->listen_fd >= 0) {
		/* Closing the listener ends the multishot accept; queued handshakes are reset. */
		wr__ring_cancel_fd(r->ring, r->listen_fd, wr_ud(WR_OP_NONE, 0, 0));
	}
	wr_list *pos, *tmp;
	wr_list_for_each_safe(pos, tmp, &r->all) {
		wr_conn *c = wr_container_of(pos, wr_conn, all_link);
		switch (c->state) {
		case WR_CONN_WS:
			wr__ws_shutdown(c, WR_CLOSE_GOING_AWAY, "server shutdown");
			break;
		case WR_CONN_HTTP:
			/* A request being received is dropped; a response being sent is finished. */
			if (c->out_bytes)
				wr__conn_close_soft(c);
			else
				wr__conn_close_hard(c);
			break;
		case WR_CONN_CONNECTING:
		case WR_CONN_CLIENT_HS:
			wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, "loop stopped");
			wr__conn_close_hard(c);
			break;
		default:
			break;
		}
	}
}

static bool stop_done(wr_reactor *r)
{
	if (!r->stopping)
		return false;
	if (r->live == 0 && !r->accept_armed)
		return true;
	if (wr__now_ns() >= r->stop_deadline_ns) {
		/* Peers that never answered our close: cut them off. */
		wr_list *pos, *tmp;
		wr_list_for_each_safe(pos, tmp, &r->all) {
			wr_conn *c = wr_container_of(pos, wr_conn, all_link);
			if (c->state != WR_CONN_CLOSED) {
				if (c->state == WR_CONN_WS)
					wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, "close timeout");
				wr__conn_close_hard(c);
			}
		}
		r->stop_deadline_ns = UINT64_MAX;
	}
	return false;
}

void wr__reactor_drain_posts(wr_reactor *r)
{
	wr_cqe cqes[REAP_BATCH];
	unsigned n;
	wr__ring_submit_wait(r->ring, 0);
	while ((n = wr__ring_reap(r->ring, cqes, REAP_BATCH)) > 0)
		for (unsigned i = 0; i < n; i++)
			if (wr_ud_op(cqes[i].ud) == WR_OPK_POST) {
				wr_post *p = wr_ud_get_ptr(cqes[i].ud);
				p->fn(p->arg);
				free(p);
			}
}

int wr__reactor_run(wr_reactor *r)
{
	wr_cqe cqes[REAP_BATCH];
	update_date(r);
	accept_arm(r);
	for (;;) {
		wr__reactor_flush(r);
		int rc = wr__ring_submit_wait(r->ring, wait_timeout(r));
		if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			wr__log("reactor %u: submit: %s", r->idx, wr_strerror(rc));
			return rc;
		}
		unsigned n;
		while ((n = wr__ring_reap(r->ring, cqes, REAP_BATCH)) > 0)
			for (unsigned i = 0; i < n; i++)
				dispatch(r, &cqes[i]);
		run_timers(r);
		wr__conn_free_closed(r);
		if (stop_done(r))
			break;
	}
	/* Drain what is still in flight (the wake read, cancellations) before the ring goes. */
	wr__reactor_flush(r);
	wr__ring_submit(r->ring);
	return 0;
}
