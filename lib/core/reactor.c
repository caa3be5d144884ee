/* The reactor loop: submit-and-wait once per turn, walk a batch of completions, dispatch on the
 * operation, run timers, flush output, free closed connections. What a connection means is
 * its protocol's business (conn.h): the loop calls tables, never a protocol by name. */
#include "reactor.h"

#include <arpa/inet.h>
#include <linux/net_tstamp.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "ud.h"

#define REAP_BATCH 256
/* A connection with this many receives set aside stops receiving until they are taken. */
#define DEFER_PAUSE 1u

static void read_wake(wr_reactor *r)
{
	wr__ring_read(r->ring, r->wake_fd, &r->wake_buf, sizeof(r->wake_buf), wr_ud(WR_OPK_WAKE, 0, 0));
}

/* Kernel receive timestamps are CLOCK_REALTIME: the offset to the one clock, taken at each
 * tick (a clock step shows for at most a tick). */
static void take_real_offset(wr_reactor *r)
{
	if (!r->cfg.rx_timestamps)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	r->real_offset = (int64_t)((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) -
	                 (int64_t)wr__now_ns();
}

/* The gauges, published once a tick: what they sum is the reactor's own to read. */
static void publish_gauges(wr_reactor *r)
{
	wr_reactor_stats *st = r->stats;
	WR_STAT_SET(st->pool_bytes, r->pool.in_use);
	WR_STAT_SET(st->mem_used, r->mem_used);
	unsigned kernel, total;
	wr__ring_buf_use(r->ring, &kernel, &total);
	WR_STAT_SET(st->rbufs_kernel, kernel);
	WR_STAT_SET(st->rbufs_total, total);
}

int wr__reactor_new(const wr_reactor_config *cfg, wr_reactor **out)
{
	int rc;
	/* The flush scratch (msgs, iovs) needs no zeroing: malloc, then clear what precedes it. */
	wr_reactor *r = aligned_alloc(64, (sizeof(wr_reactor) + 63) & ~(size_t)63);
	if (!r)
		return -ENOMEM;
	memset(r, 0, offsetof(wr_reactor, msgs));
	r->cfg = *cfg;
	if (!r->cfg.conn_turn_bytes)
		r->cfg.conn_turn_bytes = WR_CONN_TURN_BYTES;
	if (!r->cfg.turn_bytes)
		r->cfg.turn_bytes = WR_TURN_BYTES;
	r->listen_fd = -1;
	r->wake_fd = -1;
	wr_list_init(&r->flush);
	wr_list_init(&r->closed);
	for (unsigned i = 0; i < WR_WHEEL_SLOTS; i++)
		wr_list_init(&r->wheel[i]);
	atomic_init(&r->stop, false);

	wr_ring_config rc_cfg = {
		.entries = 4096,
		.buf_count = cfg->recv_buf_count,
		.buf_size = cfg->recv_buf_size,
		.single_issuer = true,
		.rx_timestamps = cfg->rx_timestamps,
		.recv_bundle = cfg->recv_bundles,
	};
	rc = wr__ring_new(&rc_cfg, &r->ring);
	if (rc < 0)
		goto err_ring;
	r->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (r->wake_fd < 0) {
		rc = -errno;
		goto err_wake;
	}
	/* calloc of a large array maps zero pages lazily: only slots in use cost memory. */
	r->conns = calloc(cfg->max_conns, sizeof(wr_conn));
	r->free_idx = malloc(sizeof(uint32_t) * cfg->max_conns);
	r->stats = cfg->stats;
	r->turn_hist = r->stats ? r->stats->turn
	                        : wr_hist_new(WR_HIST_SMALL_SUB_BITS, WR_HIST_SMALL_MAX_BITS);
	if (!r->conns || !r->free_idx || !r->turn_hist) {
		rc = -ENOMEM;
		goto err_slab;
	}
	for (uint32_t i = 0; i < cfg->max_conns; i++)
		r->free_idx[i] = cfg->max_conns - 1 - i; /* pop from the end: low indices first */
	rc = wr__inbox_init(&r->inbox, wr__ring_fd(r->ring), cfg->max_conns);
	if (rc < 0)
		goto err_slab;
	r->nfree = cfg->max_conns;
	r->now_ns = wr__now_ns();
	r->next_tick_ns = r->now_ns + WR_TICK_MS * 1000000ull;
	take_real_offset(r);
	r->tick = 1;
	read_wake(r);
	*out = r;
	return 0;

err_slab:
	wr__inbox_finish(&r->inbox);
	free(r->conns);
	free(r->free_idx);
	if (!r->stats)
		free(r->turn_hist);
	close(r->wake_fd);
err_wake:
	wr__ring_free(r->ring);
err_ring:
	free(r);
	return rc;
}

void wr__reactor_free(wr_reactor *r)
{
	if (!r)
		return;
	wr__conn_release_all(r);
	if (r->cfg.budget) /* whatever is still counted leaves with the reactor */
		wr__budget_release(r->cfg.budget, &r->mem_held);
	if (r->proto_shared_free)
		r->proto_shared_free(r->proto_shared);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	while (r->seg_pool) {
		wr_seg *s = r->seg_pool;
		r->seg_pool = s->next;
		free(s);
	}
	while (r->small_pool) {
		wr_seg *s = r->small_pool;
		r->small_pool = s->next;
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
	if (r->ext_free)
		r->ext_free(r->ext);
	free(r->dq);
	wr__inbox_finish(&r->inbox);
	wr__pool_finish(&r->pool);
	free(r->conns);
	free(r->free_idx);
	if (!r->stats)
		free(r->turn_hist);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	wr__ring_free(r->ring);
	free(r);
}

void wr__reactor_set_listener(wr_reactor *r, int fd)
{
	r->listen_fd = fd;
}

void wr__reactor_wake(wr_reactor *r)
{
	uint64_t one = 1;
	atomic_store(&r->stop, true);
	/* write(2) on an eventfd is async-signal-safe: wr_server_stop may run in a handler. */
	ssize_t n = write(r->wake_fd, &one, sizeof(one));
	(void)n;
}

int wr__reactor_every(wr_reactor *r, unsigned ms, void (*fn)(void *user), void *user)
{
	wr_every *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->period_ns = (uint64_t)ms * 1000000ull;
	e->next_ns = wr__now_ns() + e->period_ns;
	e->fn = fn;
	e->user = user;
	e->next = r->every;
	r->every = e;
	return 0;
}

wr_every *wr__reactor_timer_new(wr_reactor *r, void (*fn)(void *user), void *user)
{
	wr_every *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->next_ns = UINT64_MAX; /* period 0: one-shot */
	e->fn = fn;
	e->user = user;
	e->next = r->every;
	r->every = e;
	return e;
}

int wr__listen(const char *host, uint16_t port, int backlog, int *out_fd, uint16_t *out_port)
{
	struct addrinfo *ai;
	int rc = wr__addr_resolve(host, port, true, &ai);
	if (rc < 0)
		return rc;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto err_socket;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
		rc = -errno;
		goto err_bind;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                           : ((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(ai);
	*out_fd = fd;
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

static void timer_run(wr_conn *c)
{
	if (c->state == WR_CONN_LINGER)
		wr__conn_abort(c, 0, "linger timeout"); /* the peer never closed: enough */
	else if (c->state == WR_CONN_OPEN && c->proto->on_timer)
		c->proto->on_timer(c);
}

static void timer_fire(wr_conn *c)
{
	c->flags &= ~WR_CF_TIMER;
	/* The protocol judges the connection (idle?) only once a pending direct receive has
	 * reported what it took. */
	if (c->state == WR_CONN_OPEN && c->proto->on_timer && wr__conn_direct_settle(c))
		return;
	timer_run(c);
}

static void check_stalls(wr_reactor *r);
static void budget_check(wr_reactor *r);

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
		if (r->n_paused_out)
			check_stalls(r);
		if (r->tick % 10 == 0)
			wr__conn_trim(r);
		if (r->stats)
			publish_gauges(r);
		take_real_offset(r);
	}
	for (wr_every *e = r->every; e; e = e->next) {
		if (r->now_ns >= e->next_ns) {
			if (!e->period_ns) {
				e->next_ns = UINT64_MAX; /* one-shot: fn may arm it again */
				e->fn(e->user);
				continue;
			}
			e->next_ns += e->period_ns;
			if (e->next_ns <= r->now_ns)
				e->next_ns = r->now_ns + e->period_ns;
			e->fn(e->user);
		}
	}
}

static int64_t wait_timeout(const wr_reactor *r)
{
	if (r->dq_n || !wr_list_empty(&r->flush) || r->inbox_more)
		return 0; /* receives set aside, sends or posts held back: next turn, no waiting */
	uint64_t next = r->next_tick_ns;
	for (const wr_every *e = r->every; e; e = e->next)
		if (e->next_ns < next)
			next = e->next_ns;
	/* The clock was read by this turn's timer pass; only the flush has run since. */
	uint64_t now = r->now_ns;
	return next > now ? (int64_t)(next - now) : 0;
}

/* ---- completions ---- */

/* At most one queue's worth of posts per turn: threads that post as fast as the reactor
 * takes would otherwise keep it here for good, with every connection's completions waiting
 * (bounded work per turn). What is left is taken next turn, which then does not sleep. */
static void handle_inbox(wr_reactor *r)
{
	wr__inbox_woken(&r->inbox);
	r->inbox_more = false;
	wr_inbox_msg *m;
	for (unsigned n = 0;; n++) {
		if (n == 2 * WR_INBOX_NODES) {
			r->inbox_more = true;
			break;
		}
		if (!(m = wr__inbox_take(&r->inbox)))
			break;
		if (m->ref == WR_INBOX_REACTOR) {
			if (r->cfg.on_reactor_post)
				r->cfg.on_reactor_post(r, m, r->cfg.user);
			wr__inbox_done(&r->inbox, m);
			continue;
		}
		wr_conn *c = wr__conn_from_ref(r, m->ref);
		if (c && !(c->flags & WR_CF_GONE) && r->cfg.on_post)
			r->cfg.on_post(c, m, r->cfg.user);
		wr__inbox_done(&r->inbox, m);
	}
}

static void handle_accept(wr_reactor *r, const wr_cqe *cqe)
{
	if (!wr__cqe_more(cqe))
		r->accept_armed = false;
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED || !r->stopping) {
			/* Out of descriptors or memory, or a listener error: keep serving what we
			 * have, retry next tick. */
			wr__log("reactor %u: accept: %s", r->cfg.idx, wr_strerror(cqe->res));
			r->accept_backoff = !r->stopping;
			if (r->stats && (cqe->res == -EMFILE || cqe->res == -ENFILE))
				WR_STAT_ADD(r->stats->refused[WR_STATS_REFUSED_EMFILE], 1);
		}
		return;
	}
	int fd = cqe->res;
	wr_conn *c = r->stopping ? NULL : wr__conn_new(r, fd);
	if (!c) {
		if (r->stats && !r->stopping)
			WR_STAT_ADD(r->stats->refused[WR_STATS_REFUSED_LIMIT], 1);
		close(fd);
		return;
	}
	if (r->stats)
		WR_STAT_ADD(r->stats->accepted, 1);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (r->cfg.rx_timestamps) {
		int f = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &f, sizeof(f)); /* best effort */
	}
	r->cfg.on_accept(c, r->cfg.user);
	if (c->state == WR_CONN_OPEN)
		wr__conn_recv_arm(c);
}

static wr_conn *conn_of(wr_reactor *r, uint64_t ud)
{
	uint32_t idx = wr_ud_idx(ud);
	if (idx >= r->cfg.max_conns)
		return NULL;
	wr_conn *c = &r->conns[idx];
	if (c->gen != wr_ud_gen(ud) || c->state == WR_CONN_FREE)
		return NULL;
	return c;
}

/* ---- fair shares: a connection takes in conn_turn_bytes per turn, and once the turn has
 * taken turn_bytes in all, a connection that had some waits; the rest of its receives are
 * set aside, in order, for the next turn. A connection that sent nothing yet this turn always
 * gets its first receive: one heavy peer delays another by a share, not by its backlog. */

/* Has the turn done its work: turn_bytes taken in, or WR_TURN_NS spent taking them (what a
 * byte costs varies with the machine and the handler; the clock is read only once some
 * connection has had bytes this turn). */
static bool turn_full(wr_reactor *r)
{
	if (!r->turn_full && (r->turn_bytes >= r->cfg.turn_bytes ||
	                      wr__now_ns() - r->turn_start_ns >= WR_TURN_NS))
		r->turn_full = true;
	return r->turn_full;
}

/* first: c's receive is new (not one set aside). A connection that had little this turn and
 * the turn before (WR_CONN_SMALL_TURN) gets its receive whatever the turn has done: an
 * occasional sender (the canary among floods) is served in the turn its bytes arrive, while
 * one that sends more every turn waits for the turn's room like the rest. "Little" and not
 * "nothing": a canary whose echo came late sends its next messages back to back, and had
 * it then lost its exemption it would wait behind the floods from then on (measured under a
 * pipelined flood on a loaded machine: canary p50 385-480 ms with "nothing", 27-168 ms with
 * 2 KiB). What the exemption lets past the turn's cap is bounded by 2 KiB a connection. */
static bool over_share(wr_reactor *r, wr_conn *c, bool first)
{
	if (c->turn_stamp != r->turn_no) {
		bool busy = c->turn_bytes > WR_CONN_SMALL_TURN &&
		            c->turn_stamp == (uint16_t)(r->turn_no - 1);
		c->flags = ((c->flags & ~WR_CF_BUSY) | (busy ? WR_CF_BUSY : 0));
		c->turn_stamp = r->turn_no;
		c->turn_bytes = 0;
	}
	if (c->turn_bytes >= r->cfg.conn_turn_bytes)
		return true;
	bool exempt = first && c->turn_bytes <= WR_CONN_SMALL_TURN && !(c->flags & WR_CF_BUSY);
	return !exempt && r->turn_bytes != 0 && turn_full(r);
}

static void take(wr_reactor *r, wr_conn *c, uint8_t *p, size_t n, uint64_t rx)
{
	c->turn_bytes += (uint32_t)n;
	r->turn_bytes += n;
	c->last_active = r->tick;
	r->rx_ns = rx ? (uint64_t)((int64_t)rx - r->real_offset) : 0;
	wr__conn_on_bytes(c, p, n);
	r->rx_ns = 0;
}

/* Only inside take (the connection's count is this turn's); saturates rather than wraps. */
void wr__conn_turn_charge(wr_conn *c, size_t n)
{
	wr_reactor *r = c->r;
	if (c->turn_stamp != r->turn_no)
		return;
	c->turn_bytes = n >= UINT32_MAX - c->turn_bytes ? UINT32_MAX : c->turn_bytes + (uint32_t)n;
	r->turn_bytes += n;
}

static void defer(wr_reactor *r, wr_conn *c, const wr_cqe *cqe, uint8_t *p, size_t n,
                  uint64_t rx)
{
	if (r->dq_n == r->dq_cap) {
		unsigned cap = r->dq_cap ? r->dq_cap * 2 : 256;
		wr_deferred *q = realloc(r->dq, cap * sizeof(*q));
		if (!q) { /* no room to wait in: take the bytes now */
			take(r, c, p, n, rx);
			wr__ring_recv_done(r->ring, cqe);
			return;
		}
		r->dq = q;
		r->dq_cap = cap;
	}
	r->dq[r->dq_n++] = (wr_deferred){ .ud = cqe->ud, .p = p, .n = n, .rx = rx, .cqe = *cqe };
	wr__ring_recv_hold(r->ring, cqe);
	if (++c->deferred >= DEFER_PAUSE && !(c->flags & WR_CF_PAUSE_TURN)) {
		c->flags |= WR_CF_PAUSE_TURN;
		wr__conn_recv_update(c);
	}
}

static wr_conn *conn_of(wr_reactor *r, uint64_t ud);

/* The turn's first work: what earlier turns set aside, oldest first, within the shares. */
static void run_deferred(wr_reactor *r)
{
	unsigned keep = 0;
	for (unsigned i = 0; i < r->dq_n; i++) {
		wr_deferred d = r->dq[i];
		wr_conn *c = conn_of(r, d.ud);
		if (c && c->state != WR_CONN_CLOSED && over_share(r, c, false)) {
			r->dq[keep++] = d;
			continue;
		}
		if (c) { /* else stale: the slot was freed, and maybe reused */
			c->deferred--;
			if (c->state != WR_CONN_CLOSED)
				take(r, c, d.p, d.n, d.rx);
			if (!c->deferred && (c->flags & WR_CF_PAUSE_TURN)) {
				c->flags &= ~WR_CF_PAUSE_TURN;
				wr__conn_recv_update(c);
			}
		}
		wr__ring_recv_release(r->ring, &d.cqe);
	}
	r->dq_n = keep;
}

/* ---- inward backpressure that did not help, and the memory budget ---- */

static void check_stalls(wr_reactor *r)
{
	uint32_t lim = wr__ms_to_ticks(r->cfg.send_timeout_ms);
	for (uint32_t i = 0; i < r->high && r->n_paused_out; i++) {
		wr_conn *c = &r->conns[i];
		if (!(c->flags & WR_CF_PAUSE_OUT) || r->tick - c->paused_since < lim)
			continue;
		if (wr__conn_is_open(c))
			wr__conn_overload(c, -ENOBUFS, "send queue stalled over its high mark");
		else
			wr__conn_abort(c, -ETIMEDOUT, "send queue stalled while closing");
	}
}

static size_t held(const wr_conn *c)
{
	return (size_t)c->out_bytes + c->mem_extra;
}

/* Does r hold at least its share of the server's total (allowing for the slack in the others'
 * reservations, so that the reactor holding the most always does)? */
static bool holds_share(const wr_reactor *r, size_t total)
{
	const wr_budget *b = r->cfg.budget;
	return (r->mem_used + 2 * b->chunk) * b->reactors >= total;
}

/* The budget is the whole server's (budget.h): each reactor weighs the server's total and
 * acts on its own connections. Near it (3/4), connections holding more than the reactor's
 * average stop receiving; past it, or near it for longer than the send timeout (paused
 * holders of half-received messages cannot finish them), the biggest holders are cut off
 * until the server is back under, by each reactor that holds at least its share (so the one
 * with the flood cuts, not the others); under half of it, the paused ones receive again. */
static void budget_check(wr_reactor *r)
{
	const wr_budget *bud = r->cfg.budget;
	size_t b = bud->limit;
	if (r->n_paused_budget && wr__reactor_mem_total(r) <= b / 2) {
		for (uint32_t i = 0; i < r->high && r->n_paused_budget; i++) {
			wr_conn *c = &r->conns[i];
			if (c->flags & WR_CF_PAUSE_BUDGET) {
				c->flags &= ~WR_CF_PAUSE_BUDGET;
				r->n_paused_budget--;
				wr__conn_recv_update(c);
			}
		}
	}
	size_t total = wr__reactor_mem_total(r);
	if (total <= b - b / 4 || !holds_share(r, total)) {
		r->budget_since = 0;
		return;
	}
	if (!r->budget_since)
		r->budget_since = r->tick;
	size_t hard = b;
	if (r->tick - r->budget_since >= wr__ms_to_ticks(r->cfg.send_timeout_ms)) {
		hard = b - b / 4;
		r->budget_since = r->tick;
	}
	size_t avg = r->mem_used / (r->live ? r->live : 1);
	for (uint32_t i = 0; i < r->high; i++) {
		wr_conn *c = &r->conns[i];
		if (wr__conn_is_open(c) && !(c->flags & WR_CF_PAUSE_BUDGET) && held(c) > avg) {
			c->flags |= WR_CF_PAUSE_BUDGET;
			r->n_paused_budget++;
			wr__conn_recv_update(c);
		}
	}
	for (unsigned tries = 0; tries < 16; tries++) {
		total = wr__reactor_mem_total(r);
		if (total <= hard || !holds_share(r, total))
			break;
		wr_conn *big = NULL;
		for (uint32_t i = 0; i < r->high; i++) {
			wr_conn *c = &r->conns[i];
			if (wr__conn_is_open(c) && held(c) && (!big || held(c) > held(big)))
				big = c;
		}
		if (!big)
			break;
		wr__conn_overload(big, -ENOMEM, "server memory budget exceeded");
	}
}

static void handle_recv(wr_reactor *r, wr_conn *c, const wr_cqe *cqe)
{
	bool more = wr__cqe_more(cqe);
	if (!more) {
		c->flags &= ~(WR_CF_RECV_ARMED | WR_CF_RECV_CANCEL);
		c->inflight--;
	}
	size_t len = 0;
	uint64_t rx = 0;
	uint8_t *p = cqe->res > 0 ? wr__ring_recv_data(r->ring, cqe, &len, &rx) : NULL;
	if (len) {
		if (r->stats)
			WR_STAT_ADD(r->stats->bytes_in, len);
		if (c->deferred || over_share(r, c, true)) {
			defer(r, c, cqe, p, len, rx);
		} else {
			take(r, c, p, len, rx);
			/* The view handed to callbacks ended with them: the buffer goes straight
			 * back. */
			wr__ring_recv_done(r->ring, cqe);
		}
		if (!more && c->state != WR_CONN_CLOSED)
			wr__conn_recv_arm(c);
		return;
	}
	wr__ring_recv_done(r->ring, cqe);
	int res = cqe->res > 0 ? 0 : cqe->res; /* a recvmsg with no payload: end of stream */
	if (res == 0 && more)
		return;
	if (res == -ENOBUFS) {
		/* The buffer ring ran dry: nothing was lost; re-arm once buffers have come back,
		 * and keep more of them there from now on. */
		wr__ring_bufs_short(r->ring);
		if (c->state != WR_CONN_CLOSED) {
			c->flags |= WR_CF_NEED_REARM;
			wr__conn_flush_queue(c); /* the flush pass re-arms, after this turn's recycling */
		}
		return;
	}
	if (c->state == WR_CONN_CLOSED)
		return;
	if (cqe->res == -EINVAL && wr__ring_recv_limit_refused(r->ring)) {
		wr__conn_recv_arm(c); /* without the limit: shares are kept by deferral alone */
		return;
	}
	if (cqe->res == -ECANCELED) {
		/* Paused, or resumed again before the cancel landed. */
		wr__conn_recv_arm(c);
		return;
	}
	/* End of stream or error. */
	wr__conn_abort(c, res, res == 0 ? "connection closed" : wr_strerror(res));
}

/* Bytes received straight into the protocol's memory count against the shares as any: the
 * next receive of the connection is armed only at this turn's submit, so one direct
 * completion per turn, of at most what the target offered, is what it takes. */
static void handle_direct(wr_reactor *r, wr_conn *c, const wr_cqe *cqe)
{
	if (cqe->res > 0 && c->state != WR_CONN_CLOSED) {
		size_t n = (size_t)cqe->res;
		if (r->stats)
			WR_STAT_ADD(r->stats->bytes_in, n);
		(void)over_share(r, c, true); /* starts the connection's count for this turn */
		c->turn_bytes += (uint32_t)n;
		r->turn_bytes += n;
		c->last_active = r->tick;
	}
	wr__conn_on_direct(c, cqe->res);
	/* A timer held for this receive's report (wr__conn_direct_settle) runs now, unless it
	 * was armed anew meanwhile; the next direct receive, armed already, is not cancelled
	 * again for it. */
	if (c->flags & WR_CF_TIMER_HELD) {
		c->flags &= ~WR_CF_TIMER_HELD;
		if (!(c->flags & WR_CF_TIMER))
			timer_run(c);
	}
}

static void run_post(uint64_t ud)
{
	wr_post *p = wr_ud_get_ptr(ud);
	p->fn(p->arg);
	free(p);
}

static void handle_wake(wr_reactor *r)
{
	/* The stop is taken as it is acted on: one asked for while the loop was not running, or
	 * while it was already stopping, ends the next run of a client loop at once. */
	if (!r->stopping && atomic_exchange(&r->stop, false))
		wr__reactor_begin_stop(r);
	/* Always re-armed: a client loop is run again after a stop, and its next stop must be
	 * seen. A read still pending when the ring is freed is simply cancelled. */
	read_wake(r);
}

static void dispatch(wr_reactor *r, const wr_cqe *cqe)
{
	enum wr_op op = wr_ud_op(cqe->ud);
	switch (op) {
	case WR_OPK_ACCEPT:
		handle_accept(r, cqe);
		return;
	case WR_OPK_WAKE:
		handle_wake(r);
		return;
	case WR_OPK_POST:
		run_post(cqe->ud);
		return;
	case WR_OPK_INBOX:
		handle_inbox(r);
		return;
	case WR_OPK_RECV:
	case WR_OPK_RECV_INTO:
	case WR_OPK_SEND_ZC:
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
	case WR_OPK_RECV: {
		/* a bundle, one completion per buffer: each is a receive as any */
		unsigned n;
		const wr_cqe *part = wr__ring_recv_split(r->ring, cqe, &n);
		for (unsigned i = 0; i < n; i++)
			handle_recv(r, c, &part[i]);
		break;
	}
	case WR_OPK_RECV_INTO:
		handle_direct(r, c, cqe);
		break;
	case WR_OPK_SEND:
		c->inflight--;
		wr__conn_on_sent(c, cqe->res);
		break;
	case WR_OPK_SEND_ZC:
		/* One request, two completions: it stays in flight until its notification,
		 * which may come after the connection closed (its memory is held till then). */
		if (wr__cqe_notif(cqe)) {
			c->inflight--;
			wr__conn_on_zc_notif(c, wr__cqe_zc_copied(cqe));
			break;
		}
		if (!wr__cqe_more(cqe)) { /* no notification follows (the send failed) */
			c->inflight--;
			wr__conn_on_zc_notif(c, false);
		}
		wr__conn_on_sent(c, cqe->res);
		break;
	case WR_OPK_CANCEL:
		c->inflight--;
		break;
	default: /* WR_OPK_CONNECT */
		c->inflight--;
		if (c->state == WR_CONN_OPEN && c->proto->on_connect)
			c->proto->on_connect(c, cqe->res);
		break;
	}
	/* A closed connection whose last request just completed can now be freed. */
	if (c->state == WR_CONN_CLOSED && c->inflight == 0 && !wr_list_linked(&c->flush_link))
		wr_list_insert_tail(&r->closed, &c->flush_link);
}

void wr__reactor_reset_stop(wr_reactor *r)
{
	r->stopping = false; /* a stop not yet taken (r->stop) stays for this run */
}

void wr__reactor_begin_stop(wr_reactor *r)
{
	r->stopping = true;
	r->stop_deadline_ns = wr__now_ns() + (uint64_t)r->cfg.stop_ms * 1000000ull;
	if (r->listen_fd >= 0) {
		/* Ends the multishot accept; queued handshakes are reset when the listener closes. */
		wr__ring_cancel_fd(r->ring, r->listen_fd, wr_ud(WR_OP_NONE, 0, 0));
	}
	for (uint32_t i = 0; i < r->high; i++) {
		wr_conn *c = &r->conns[i];
		if (c->state != WR_CONN_OPEN || (c->flags & WR_CF_CLOSE_AFTER_FLUSH))
			continue;
		if (c->proto->on_shutdown)
			c->proto->on_shutdown(c);
		else
			wr__conn_abort(c, -ESHUTDOWN, "stopped");
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
		for (uint32_t i = 0; i < r->high; i++) {
			wr_conn *c = &r->conns[i];
			if (c->state == WR_CONN_OPEN || c->state == WR_CONN_LINGER)
				wr__conn_abort(c, -ETIMEDOUT, "close timeout");
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
			if (wr_ud_op(cqes[i].ud) == WR_OPK_POST)
				run_post(cqes[i].ud);
			else if (wr_ud_op(cqes[i].ud) == WR_OPK_INBOX)
				handle_inbox(r);
	/* Posts whose wake-up has not arrived (or never will: the poster's ring went first)
	 * still hold what they carry. */
	do
		handle_inbox(r);
	while (r->inbox_more);
}

/* One turn: flush, submit and wait (at most until the next timer tick), completions, timers,
 * closed connections freed. */
static int turn(wr_reactor *r, wr_cqe *cqes)
{
	wr__conn_flush_all(r);
	/* A send to a socket with room completes inside the submit, and a wait for one
	 * completion would end at once with it alone: the answer to it, the next message, would
	 * take a second wake-up. When every send of the turn is quiet (conn.c), the wait counts
	 * them and waits for one completion more, but never past settle_us with something to
	 * take, nor past the next timer (wait_timeout). */
	int64_t to = wait_timeout(r);
	int rc = r->quiet_sends && !r->loud_sends
	             ? wr__ring_submit_settle(r->ring, to, r->quiet_sends + 1, r->cfg.settle_us)
	             : wr__ring_submit_wait(r->ring, to);
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
		wr__log("reactor %u: submit: %s", r->cfg.idx, wr_strerror(rc));
		return rc;
	}
	/* One clock read more per turn: handlers see the time they were woken at, and the
	 * timers' read below closes the turn's busy time. */
	uint64_t woke = wr__now_ns();
	r->now_ns = woke;
	r->turn_no++;
	r->turn_bytes = 0;
	r->turn_full = false;
	r->turn_start_ns = woke;
	if (r->dq_n)
		run_deferred(r);
	if (r->inbox_more)
		handle_inbox(r);
	unsigned n;
	while ((n = wr__ring_reap(r->ring, cqes, REAP_BATCH)) > 0)
		for (unsigned i = 0; i < n; i++)
			dispatch(r, &cqes[i]);
	run_timers(r);
	wr_hist_record(r->turn_hist, r->now_ns - woke);
	if (r->cfg.budget && (r->n_paused_budget ||
	                      wr__reactor_mem_total(r) > r->cfg.budget->limit / 4 * 3))
		budget_check(r);
	wr__conn_free_closed(r);
	return 0;
}

/* Which reactor this thread runs: a post from it can ride its ring (wr__reactor_post_ptr). */
static _Thread_local wr_reactor *current;

wr_reactor *wr__reactor_current(void) { return current; }

int wr__reactor_post_ptr(wr_reactor *r, uint8_t kind, void *ptr)
{
	wr_reactor *me = current;
	return wr__inbox_post_ptr(&r->inbox, kind, ptr, me && me != r ? me->ring : NULL);
}

int wr__reactor_turn(wr_reactor *r)
{
	wr_cqe cqes[REAP_BATCH];
	accept_arm(r);
	wr_reactor *was = current;
	current = r;
	int rc = turn(r, cqes);
	current = was;
	return rc;
}

int wr__reactor_run(wr_reactor *r)
{
	wr_cqe cqes[REAP_BATCH];
	accept_arm(r);
	wr_reactor *was = current;
	current = r;
	for (;;) {
		int rc = turn(r, cqes);
		if (rc < 0) {
			current = was;
			return rc;
		}
		if (stop_done(r))
			break;
	}
	current = was;
	/* Drain what is still in flight (the wake read, cancellations) before the ring goes. */
	wr__conn_flush_all(r);
	wr__ring_submit(r->ring);
	return 0;
}

/* ---- posting from other threads ---- */

struct wr_poster {
	pthread_mutex_t lock;
	wr_ring *ring;
};

int wr__poster_new(wr_poster **out)
{
	wr_poster *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	wr_ring_config pc = { .entries = 64, .buf_count = 0, .single_issuer = false };
	int rc = wr__ring_new(&pc, &p->ring);
	if (rc < 0) {
		free(p);
		return rc;
	}
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

void wr__poster_free(wr_poster *p)
{
	if (!p)
		return;
	wr__ring_free(p->ring);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int wr__poster_send(wr_poster *p, wr_reactor *r, void (*fn)(void *arg), void *arg)
{
	wr_post *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	pthread_mutex_lock(&p->lock);
	/* One post at a time under the lock: the completion we wait for is this one's. */
	wr__ring_msg(p->ring, wr__ring_fd(r->ring), wr_ud_ptr(WR_OPK_POST, m), 0,
	             wr_ud_ptr(WR_OPK_MSG_SENT, m));
	int rc = wr__ring_submit_wait(p->ring, -1);
	wr_cqe cqe;
	if (rc >= 0 && wr__ring_reap(p->ring, &cqe, 1) == 1)
		rc = cqe.res;
	else if (rc >= 0)
		rc = -EIO;
	pthread_mutex_unlock(&p->lock);
	if (rc < 0) {
		free(m); /* not delivered: the reactor will never see it */
		return rc;
	}
	return 0;
}
