/* ws-bench's epoll client (--epoll, --raw): plain sockets and one epoll set per thread, the
 * pattern of an epoll load generator such as uWebSockets' load_test — per message one recv
 * when the socket is readable (level-triggered) and one send of the next message, nothing
 * batched across connections. It drives:
 *   --epoll  a WebSocket server: the upgrade is written and checked by hand, then every message
 *            is one masked client frame of -s bytes and the echo must be the server's unmasked
 *            frame of the same payload;
 *   --raw    a plain TCP echo (bench/peers/raw_echo): every message is the bytes that client
 *            frame takes on the wire (header, mask key, payload), expected back as they are.
 * Both compare every echoed byte. Ping-pong with --pipeline K, and --rate (open loop, latency
 * from the intended send time); the clock, counters and report are the io_uring driver's
 * (wsb_shared, wsb_result, the series). The payload is the same for every message of a
 * thread, so the check is a memcmp and there is no per-message sequence to parse. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <wring.h>

#include "wsb.h"

#define DRAIN_NS 2000000000ull
#define RATE_CAP 4096u          /* open loop: messages in flight per connection at most */
#define COPIES_MIN 64u          /* owed messages go out in one send from this many copies */

typedef struct econn {
	int fd;
	bool dead, want_out;
	unsigned to_send;          /* messages owed, not yet written whole */
	size_t sent;               /* bytes of the first owed message already written */
	unsigned inflight;         /* written or owed, echo not yet whole */
	size_t got;                /* bytes of the oldest echo so far */
	unsigned head;             /* the oldest in the send-time fifo */
	uint64_t *t_sent;          /* fifo of send times (intended ones in rate mode) */
} econn;

typedef struct edrv {
	wsb_thread *t;
	const wsb_opts *o;
	int ep;
	econn *c;
	unsigned n, fifo;          /* connections; fifo entries per connection */
	uint8_t *out;              /* copies of the message as sent */
	uint8_t *want;             /* the echo expected (raw: the same bytes) */
	size_t out_len, want_len;
	unsigned copies;
	uint8_t *in;
	size_t in_size;
	uint64_t inflight;
	bool sending;
	wr_hist *interval;
	/* rate mode: message j due at start + j * interval, to the connections in turn */
	double interval_ns;
	uint64_t start_ns, rate_j, rate_next_ns;
	unsigned rr;
} edrv;

static bool in_window(const wsb_shared *sh, uint64_t t)
{
	return t >= sh->warm_end_ns && t < sh->end_ns;
}

static wsb_sec *sec_at(edrv *d, uint64_t t)
{
	const wsb_shared *sh = d->t->sh;
	if (!in_window(sh, t))
		return NULL;
	return wsb_series_at(&d->t->series, (unsigned)((t - sh->warm_end_ns) / 1000000000ull));
}

static void note(edrv *d, econn *c, uint64_t *counter, int err, const char *why)
{
	wsb_result *r = &d->t->res;
	if (counter)
		(*counter)++;
	if (!r->first_reason[0]) {
		r->first_error = err;
		snprintf(r->first_reason, sizeof(r->first_reason), "%s", why);
	}
	atomic_fetch_add(&d->t->live.errors, 1);
	wsb_sec *e = sec_at(d, wr_now_ns());
	if (e)
		e->errors++;
	if (c && !c->dead) {
		c->dead = true;
		d->inflight -= c->inflight;
		if (c->inflight && counter != &r->unanswered)
			r->unanswered += c->inflight;
		c->inflight = c->to_send = 0;
		epoll_ctl(d->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
}

/* ---- the bytes: a masked client frame (--epoll, --raw) and the server's echo of it ---- */

static size_t frame_header(uint8_t *h, uint8_t op, size_t n, bool masked)
{
	size_t k = 2;
	h[0] = (uint8_t)(0x80 | op);
	uint8_t m = masked ? 0x80 : 0;
	if (n < 126) {
		h[1] = (uint8_t)(m | n);
	} else if (n < 65536) {
		h[1] = m | 126;
		h[2] = (uint8_t)(n >> 8), h[3] = (uint8_t)n;
		k = 4;
	} else {
		h[1] = m | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)(n >> (56 - 8 * i));
		k = 10;
	}
	return k;
}

static int make_messages(edrv *d)
{
	const wsb_opts *o = d->o;
	size_t n = o->size;
	uint8_t op = o->text ? 0x1 : 0x2;
	uint8_t *pay = malloc(n ? n : 1);
	d->want = malloc(n + 14); /* a masked header at most: the raw echo of the frame */
	uint8_t one[14];
	size_t h = frame_header(one, op, n, true);
	d->out_len = h + 4 + n;
	d->copies = o->mode == WSB_PINGPONG && o->pipeline > COPIES_MIN ? o->pipeline : COPIES_MIN;
	d->out = malloc(d->out_len * d->copies);
	if (!pay || !d->want || !d->out) {
		free(pay);
		return -ENOMEM;
	}
	uint64_t x = 0x9E3779B97F4A7C15ull ^ (d->t->idx + 1);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		pay[i] = o->text ? (uint8_t)(' ' + x % 95) : (uint8_t)x; /* text: printable ASCII */
	}
	uint8_t key[4] = { (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24), (uint8_t)(x >> 32) };
	memcpy(d->out, one, h);
	memcpy(d->out + h, key, 4);
	for (size_t i = 0; i < n; i++)
		d->out[h + 4 + i] = pay[i] ^ key[i & 3];
	for (unsigned k = 1; k < d->copies; k++)
		memcpy(d->out + k * d->out_len, d->out, d->out_len);
	if (o->raw) {
		memcpy(d->want, d->out, d->out_len);
		d->want_len = d->out_len;
	} else {
		size_t sh = frame_header(d->want, op, n, false);
		memcpy(d->want + sh, pay, n);
		d->want_len = sh + n;
	}
	free(pay);
	return 0;
}

/* ---- connecting: TCP, and for --epoll the upgrade, blocking (before the clock starts) ---- */

static const char *url_path(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	return p ? p : "/";
}

static int upgrade(edrv *d, int fd)
{
	/* The RFC 6455 example key: the accept value it must come back with is known. */
	char req[1024];
	int n = snprintf(req, sizeof(req),
	                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	                 url_path(d->o->url), d->o->host_port);
	if (n <= 0 || (size_t)n >= sizeof(req) || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return -EIO;
	char resp[4096];
	size_t got = 0;
	while (got < sizeof(resp) - 1) {
		/* byte by byte up to the blank line: nothing of what follows may be taken here */
		ssize_t k = wsb_recv(fd, resp + got, 1);
		if (k <= 0)
			return k ? -errno : -ECONNRESET;
		got++;
		if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4))
			break;
	}
	resp[got] = 0;
	if (strncmp(resp, "HTTP/1.1 101", 12) != 0)
		return -EPROTO;
	if (!strstr(resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") ||
	    strcasestr(resp, "Sec-WebSocket-Extensions"))
		return -EPROTO;
	return 0;
}

static int open_conn(edrv *d, econn *c)
{
	const wsb_opts *o = d->o;
	int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int rc = 0;
	unsigned conn_no = (unsigned)(c - d->c) + d->t->first_conn;
	if (o->nbinds &&
	    bind(fd, (const struct sockaddr *)&o->binds[conn_no % o->nbinds], o->bind_len) < 0)
		rc = -errno;
	if (!rc)
		rc = wsb_connect(fd, (const struct sockaddr *)&o->addr, o->addr_len, 10000);
	if (!rc && !o->raw)
		rc = upgrade(d, fd);
	if (!rc && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		rc = -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	if (!rc && epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		rc = -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	c->fd = fd;
	return 0;
}

/* ---- traffic ---- */

static void want_out(edrv *d, econn *c, bool on)
{
	if (c->want_out == on)
		return;
	c->want_out = on;
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
	epoll_ctl(d->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Everything owed goes out in one send (from the copies); EPOLLOUT only while some is left. */
static void flush(edrv *d, econn *c, uint64_t now)
{
	while (!c->dead && c->to_send) {
		unsigned k = c->to_send < d->copies ? c->to_send : d->copies;
		size_t len = k * d->out_len - c->sent;
		ssize_t w = send(c->fd, d->out + c->sent, len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			note(d, c, &d->t->res.closes, -errno, "send failed");
			return;
		}
		c->sent += (size_t)w;
		wsb_sec *e = sec_at(d, now);
		for (; c->sent >= d->out_len; c->sent -= d->out_len) {
			c->to_send--;
			d->t->res.sent_total++;
			if (e) {
				d->t->res.sent++;
				e->sent++;
			}
		}
		if ((size_t)w < len)
			break; /* short: the socket is full */
	}
	if (!c->dead)
		want_out(d, c, c->to_send > 0);
}

static void owe(edrv *d, econn *c, uint64_t at)
{
	c->t_sent[(c->head + c->inflight) % d->fifo] = at;
	c->inflight++;
	c->to_send++;
	d->inflight++;
}

static void echoed(edrv *d, econn *c, uint64_t now)
{
	wsb_result *r = &d->t->res;
	uint64_t sent = c->t_sent[c->head];
	c->head = (c->head + 1) % d->fifo;
	c->inflight--;
	d->inflight--;
	r->recv_total++;
	uint64_t lat = now - sent;
	wsb_sec *e = sec_at(d, now);
	if (e) {
		r->msgs++;
		r->bytes += d->o->size;
		e->msgs++;
		e->bytes += d->o->size;
	}
	if (sent >= d->t->sh->warm_end_ns && now < d->t->sh->end_ns) {
		wr_hist_record(r->hist, lat);
		if (e)
			wsb_sec_latency(e, lat);
	}
	wr_hist_record(d->interval, lat);
	atomic_fetch_add_explicit(&d->t->live.msgs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->t->live.bytes, d->o->size, memory_order_relaxed);
	if (d->sending && d->o->mode == WSB_PINGPONG)
		owe(d, c, now);
}

/* One recv per readiness (level-triggered: what is left reports again), more only while it
 * fills the buffer. */
static void readable(edrv *d, econn *c, uint64_t now)
{
	for (;;) {
		ssize_t k = recv(c->fd, d->in, d->in_size, 0);
		if (k <= 0) {
			if (k < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			note(d, c, &d->t->res.closes, k ? -errno : -ECONNRESET,
			     k ? "recv failed" : "connection closed by the server");
			return;
		}
		for (size_t off = 0; off < (size_t)k;) {
			size_t m = d->want_len - c->got;
			if (m > (size_t)k - off)
				m = (size_t)k - off;
			if (!c->inflight || memcmp(d->in + off, d->want + c->got, m) != 0) {
				note(d, c, &d->t->res.mismatches, 0,
				     c->inflight ? "echo differs from the message sent" : "unexpected bytes");
				return;
			}
			off += m;
			c->got += m;
			if (c->got == d->want_len) {
				c->got = 0;
				echoed(d, c, now);
			}
		}
		if ((size_t)k < d->in_size)
			return;
	}
}

/* Open loop: owe what is due, each stamped with its intended time; a connection at its cap
 * holds the schedule back, and the lateness shows in the latencies. */
static void rate_due(edrv *d, uint64_t now)
{
	uint64_t limit = now < d->t->sh->end_ns ? now : d->t->sh->end_ns;
	while (d->rate_next_ns <= limit) {
		econn *c = NULL;
		for (unsigned tries = 0; tries < d->n && !c; tries++) {
			econn *x = &d->c[d->rr];
			d->rr = d->rr + 1 >= d->n ? 0 : d->rr + 1;
			if (!x->dead)
				c = x;
		}
		if (!c || c->inflight >= RATE_CAP)
			return;
		owe(d, c, d->rate_next_ns);
		if (c->to_send == 1)
			flush(d, c, now);
		d->rate_j++;
		d->rate_next_ns = d->start_ns + (uint64_t)((double)d->rate_j * d->interval_ns);
	}
}

static void run(edrv *d)
{
	wsb_shared *sh = d->t->sh;
	struct epoll_event evs[512];
	uint64_t s;
	while (!(s = atomic_load_explicit(&sh->start_ns, memory_order_acquire)) &&
	       !atomic_load(&sh->abort)) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&sh->abort))
		return;
	while (wr_now_ns() < s)
		;
	d->sending = true;
	d->start_ns = s;
	uint64_t now = wr_now_ns(), last_publish = now;
	wsb_series_at(&d->t->series, 0);
	if (d->o->mode == WSB_RATE) {
		d->interval_ns = 1e9 / (d->o->rate * d->n / d->o->conns);
		d->start_ns += (uint64_t)(d->interval_ns * d->t->idx / d->o->threads);
		d->rate_next_ns = d->start_ns;
	} else {
		for (unsigned i = 0; i < d->n; i++) {
			for (unsigned k = 0; k < d->o->pipeline && !d->c[i].dead; k++)
				owe(d, &d->c[i], now);
			flush(d, &d->c[i], now);
		}
	}
	for (;;) {
		if (atomic_load_explicit(&sh->abort, memory_order_relaxed))
			break;
		struct timespec to = { 0, 10000000 };
		if (d->sending && d->o->mode == WSB_RATE) {
			now = wr_now_ns();
			uint64_t wait = d->rate_next_ns > now ? d->rate_next_ns - now : 0;
			if (wait < 10000000)
				to.tv_nsec = (long)wait;
		}
		int k = epoll_pwait2(d->ep, evs, 512, &to, NULL);
		now = wr_now_ns();
		for (int i = 0; i < k; i++) {
			econn *c = evs[i].data.ptr;
			if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				readable(d, c, now);
			if (!c->dead && c->to_send)
				flush(d, c, now);
		}
		if (d->sending && d->o->mode == WSB_RATE)
			rate_due(d, now);
		if (now - last_publish >= 250000000ull) {
			wsb_interval_publish(sh, d->interval);
			last_publish = now;
			if (now >= sh->warm_end_ns) /* the next second's entry, before it is needed */
				wsb_series_at(&d->t->series,
				              (unsigned)((now - sh->warm_end_ns) / 1000000000ull) + 1);
		}
		if (now >= sh->end_ns) {
			if (d->sending && d->o->mode == WSB_RATE && d->rate_next_ns < sh->end_ns)
				d->t->res.behind = (uint64_t)((double)(sh->end_ns - d->rate_next_ns) /
				                              d->interval_ns) + 1;
			d->sending = false;
			if (!d->inflight)
				break;
			if (now >= sh->end_ns + DRAIN_NS) {
				d->t->res.unanswered += d->inflight - 1;
				note(d, NULL, &d->t->res.unanswered, 0, "echoes still missing 2 s after the end");
				break;
			}
		}
	}
	wsb_interval_publish(sh, d->interval);
}

void *wsb_epoll_thread_main(void *arg)
{
	wsb_thread *t = arg;
	const wsb_opts *o = t->o;
	atomic_store(&t->live.tid, (int)gettid());
	edrv d = { .t = t, .o = o, .n = t->nconns, .ep = epoll_create1(EPOLL_CLOEXEC) };
	d.fifo = o->mode == WSB_RATE ? RATE_CAP : o->pipeline;
	d.c = calloc(d.n, sizeof(*d.c));
	uint64_t *ts = calloc((size_t)d.n * d.fifo, sizeof(uint64_t));
	d.interval = wsb_hist_new();
	t->res.hist = wsb_hist_new();
	int rc = d.ep < 0 || !d.c || !ts || !d.interval || !t->res.hist ||
	         wsb_series_init(&t->series, o->duration_s) < 0 ? -ENOMEM : make_messages(&d);
	if (rc == 0) {
		d.in_size = d.want_len > 65536 ? d.want_len : 65536;
		if (!(d.in = malloc(d.in_size)))
			rc = -ENOMEM;
	}
	if (rc < 0) {
		note(&d, NULL, &t->res.connect_fail, rc, "thread setup: out of memory");
		atomic_store(&t->sh->abort, true);
		atomic_fetch_add(&t->sh->ramped, 1);
		goto out;
	}
	for (unsigned i = 0; i < d.n; i++) {
		d.c[i] = (econn){ .fd = -1, .t_sent = ts + (size_t)i * d.fifo };
		if (atomic_load(&t->sh->abort) || (rc = open_conn(&d, &d.c[i])) < 0) {
			for (unsigned j = i; j < d.n; j++)
				d.c[j].dead = true;
			if (rc < 0) {
				char why[96];
				snprintf(why, sizeof(why), "connect%s: %s", o->raw ? "" : " and upgrade",
				         rc == -EPROTO ? "no valid 101 answer" : strerror(-rc));
				note(&d, NULL, &t->res.connect_fail, rc, why);
			}
			break;
		}
		t->res.opens++;
		atomic_fetch_add(&t->live.opens, 1);
	}
	atomic_fetch_add(&t->sh->ramped, 1);
	run(&d);
	for (unsigned i = 0; i < d.n; i++)
		if (!d.c[i].dead && d.c[i].fd >= 0)
			close(d.c[i].fd);
out:
	if (d.ep >= 0)
		close(d.ep);
	free(ts);
	free(d.interval);
	free(d.in);
	free(d.out);
	free(d.want);
	free(d.c);
	atomic_fetch_add(&t->sh->done, 1);
	return NULL;
}
