/* One ws-bench thread: a wr_loop with its share of the connections, the ramp that opens them
 * (at most --ramp connecting, at most --open-rate a second), and the modes — closed-loop
 * ping-pong (K in flight), open-loop constant rate (echoed, or --no-echo: replies counted and
 * timed by the timestamp they copy back), connect cycles, idle hold. Every echo is checked
 * byte for byte against what was sent (payload.c). Once traffic runs nothing here allocates
 * on the message path: the tick allocates the next second of the series ahead of time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wring.h>

#include "wsb.h"

#define DRAIN_NS 2000000000ull        /* after the end: wait this long for echoes in flight */
#define NOECHO_GRACE_NS 300000000ull  /* --no-echo: replies still counted this long after */
#define RATE_INFLIGHT_CAP 4096u       /* open loop: a connection holds back past this... */
#define RATE_BUFFERED_CAP (8u << 20)  /* ...or this much unsent output */
#define FILE_RATE_FIFO 256u           /* a payload file carries no timestamp: send times kept */
#define CONNECT_GIVE_UP 32u           /* failures with no success before giving up */

enum phase { P_RAMP, P_RUN, P_DRAIN, P_STOPPED };
enum cstate { C_IDLE, C_CONNECTING, C_OPEN, C_CLOSING, C_DEAD };

typedef struct drv drv;

typedef struct bconn {
	drv *d;
	wr_ws *ws;
	uint64_t id;             /* global connection number, in the top bits of every seq */
	uint8_t state;
	uint32_t inflight;
	uint64_t send_seq, recv_seq;
	uint64_t connect_ns;
	uint64_t *fifo;          /* payload file: send times of the messages in flight */
	bool pub;                /* --fanout: a publisher (else a subscriber, or any other mode) */
	uint64_t *next;          /* --fanout subscriber: the next seq expected per publisher */
} bconn;

struct drv {
	wsb_thread *t;
	const wsb_opts *o;
	wr_loop *loop;
	bconn *conns;
	unsigned n;
	unsigned *idle;          /* stack of connections waiting to (re)connect */
	unsigned nidle;
	unsigned connecting, ramp, open;
	bool ramped;
	enum phase phase;
	uint64_t start_ns, warm_end_ns, end_ns, drain_until;
	int64_t off;             /* wall-clock ns = wr_now_ns() + off */
	uint64_t inflight;       /* messages, all connections */
	uint8_t *scratch;
	uint64_t *fifo;          /* n * fifo_mask+1 send times (payload file only) */
	uint64_t *next;          /* --fanout: n * publishers expected seqs */
	unsigned npub;           /* --fanout: publishers among this thread's connections */
	uint64_t fifo_mask;
	unsigned inflight_cap;   /* rate mode, per connection */
	/* rate mode: the thread's schedule, message j due at start + j * interval */
	double interval_ns;
	uint64_t rate_j, rate_next_ns;
	unsigned rr;
	/* --open-rate: the next connect may start at next_open_ns */
	double open_interval_ns;
	uint64_t next_open_ns, first_connect_ns;
	uint64_t last_publish;
	wr_hist *interval;      /* latencies since the last publish (live p99) */
	wr_client_options *copts; /* one per source address */
	wr_tls_config tls;
};

/* Live counters have one writer (this thread): a plain load and store, no locked add. */
static inline void bump(_Atomic uint64_t *a, uint64_t n)
{
	atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static inline bool in_window(const drv *d, uint64_t t)
{
	return t >= d->warm_end_ns && t < d->end_ns;
}

/* The series entry of the second t falls in; NULL outside the window. The tick allocates
 * each second's entry ahead of time; a thread starved of CPU past that allocates it here. */
static wsb_sec *sec_at(drv *d, uint64_t t)
{
	if (!in_window(d, t))
		return NULL;
	return wsb_series_at(&d->t->series, (unsigned)((t - d->warm_end_ns) / 1000000000ull));
}

/* ---- errors ---- */

static void note_error(drv *d, uint64_t *counter, int code, const char *what, wr_str why)
{
	(*counter)++;
	bump(&d->t->live.errors, 1);
	wsb_sec *e = sec_at(d, wr_now_ns());
	if (e)
		e->errors++;
	wsb_result *r = &d->t->res;
	if (r->first_reason[0])
		return;
	r->first_error = code;
	snprintf(r->first_reason, sizeof(r->first_reason), "%s%s%.*s", what, why.len ? ": " : "",
	         (int)(why.len > 60 ? 60 : why.len), why.data ? why.data : "");
}

/* ---- connections ---- */

static void on_open(wr_ws *ws, const wr_req *req, void *user);
static void on_message(wr_ws *ws, wr_msg msg, void *user);
static void on_close(wr_ws *ws, int code, wr_str reason, void *user);
static void on_drain(wr_ws *ws, void *user);

/* Idempotent; also before wr_loop_run, which then returns at once. */
static void stop_loop(drv *d)
{
	d->phase = P_STOPPED;
	if (d->loop)
		wr_loop_stop(d->loop);
}

static void mark_ramped(drv *d)
{
	if (d->ramped)
		return;
	d->ramped = true;
	if (d->first_connect_ns)
		d->t->res.ramp_s = (double)(wr_now_ns() - d->first_connect_ns) / 1e9;
	atomic_fetch_add(&d->t->sh->ramped, 1);
}

static void pump(drv *d)
{
	uint64_t now = wr_now_ns();
	while (d->nidle && d->connecting < d->ramp && d->phase != P_DRAIN && d->phase != P_STOPPED) {
		if (d->o->mode == WSB_CONNECT && d->phase != P_RUN)
			break;
		if (d->open_interval_ns > 0) {
			if (!d->next_open_ns)
				d->next_open_ns = now;
			if (now < d->next_open_ns)
				break;
			/* on schedule, but never more than one interval of catching up */
			d->next_open_ns += (uint64_t)d->open_interval_ns;
			if (d->next_open_ns + (uint64_t)d->open_interval_ns < now)
				d->next_open_ns = now - (uint64_t)d->open_interval_ns;
		}
		bconn *c = &d->conns[d->idle[--d->nidle]];
		wr_ws_handlers h = { .on_open = on_open, .on_message = on_message,
		                     .on_close = on_close, .on_drain = on_drain, .user = c };
		c->state = C_CONNECTING;
		c->connect_ns = now;
		c->inflight = 0;
		c->recv_seq = c->send_seq;
		if (!d->first_connect_ns)
			d->first_connect_ns = now;
		d->connecting++;
		atomic_fetch_add_explicit(&d->t->live.pending, 1, memory_order_relaxed);
		unsigned nb = d->o->nbinds ? d->o->nbinds : 1;
		int rc = wr_loop_connect(d->loop, c->pub ? d->o->pub_url : d->o->url,
		                         &d->copts[c->id % nb], &h);
		if (rc < 0) {
			/* Only options or resources can fail here: nothing later would do better. */
			d->connecting--;
			atomic_fetch_sub_explicit(&d->t->live.pending, 1, memory_order_relaxed);
			c->state = C_DEAD;
			const char *m = wr_strerror(rc);
			note_error(d, &d->t->res.connect_fail, rc, "connect", (wr_str){ m, strlen(m) });
			atomic_store(&d->t->sh->abort, true);
			stop_loop(d);
			return;
		}
	}
	if (d->nidle == 0 && d->connecting == 0 && d->o->mode != WSB_CONNECT)
		mark_ramped(d);
}

/* Send the connection's next message, stamped ts (intended send time, wr_now_ns clock); it
 * counts as sent in the second it really goes out, now. */
static void send_one(drv *d, bconn *c, uint64_t ts, uint64_t now)
{
	uint64_t seq = c->id << 40 | c->send_seq;
	size_t len = wsb_payload_fill(d->o, d->scratch, seq, ts + (uint64_t)d->off);
	int rc = wr_ws_send(c->ws, d->scratch, len, d->o->text ? WR_OP_TEXT : WR_OP_BINARY);
	if (rc < 0)
		return; /* the connection is closing: on_close counts it */
	if (d->fifo)
		c->fifo[c->send_seq & d->fifo_mask] = ts;
	c->send_seq++;
	if (!d->o->no_echo) {
		c->inflight++;
		d->inflight++;
	}
	d->t->res.sent_total++;
	wsb_sec *e = sec_at(d, now);
	if (e) {
		d->t->res.sent++;
		e->sent++;
	}
}

static void kick(drv *d, bconn *c, uint64_t now)
{
	if (d->o->mode != WSB_PINGPONG)
		return;
	for (unsigned i = 0; i < d->o->pipeline && c->state == C_OPEN; i++)
		send_one(d, c, now, now);
}

/* Open loop: send what is due, each with its intended time as the timestamp. A connection
 * that cannot take more holds the schedule back; the lateness shows in the latencies. */
static void rate_pump(drv *d, uint64_t now)
{
	uint64_t limit = now < d->end_ns ? now : d->end_ns;
	while (d->rate_next_ns <= limit) {
		bconn *c = NULL;
		/* --fanout: only publishers send, and they are this thread's first connections */
		unsigned span = d->o->pub_url ? d->npub : d->n;
		for (unsigned tries = 0; tries < span; tries++) {
			bconn *x = &d->conns[d->rr];
			d->rr = d->rr + 1 >= span ? 0 : d->rr + 1;
			if (x->state == C_OPEN && (x->pub || !d->o->pub_url)) {
				c = x;
				break;
			}
		}
		if (!c)
			return; /* nothing open: counted as behind at the end */
		if (c->inflight >= d->inflight_cap || wr_ws_buffered(c->ws) > RATE_BUFFERED_CAP)
			return;
		send_one(d, c, d->rate_next_ns, now);
		d->rate_j++;
		d->rate_next_ns = d->start_ns + (uint64_t)((double)d->rate_j * d->interval_ns);
	}
}

static void on_open(wr_ws *ws, const wr_req *req, void *user)
{
	bconn *c = user;
	drv *d = c->d;
	uint64_t now = wr_now_ns();
	wsb_result *r = &d->t->res;
	c->ws = ws;
	c->state = C_OPEN;
	d->connecting--;
	d->open++;
	atomic_fetch_sub_explicit(&d->t->live.pending, 1, memory_order_relaxed);
	bump(&d->t->live.opens, 1);
	if (!r->opens) {
		wr_str p = wr_ws_protocol(ws);
		snprintf(r->protocol, sizeof(r->protocol), "%.*s", (int)p.len, p.data ? p.data : "");
	}
	r->opens++;
	if (d->o->mode == WSB_CONNECT) {
		wsb_sec *e = sec_at(d, now);
		if (in_window(d, now)) {
			r->handshakes++;
			r->resumed += wr_ws_tls_resumed(ws);
			wr_hist_record(r->hist, now - c->connect_ns);
		}
		if (e) {
			e->msgs++;
			wsb_sec_latency(e, now - c->connect_ns);
		}
		wr_hist_record(d->interval, now - c->connect_ns);
		c->state = C_CLOSING;
		wr_ws_close(ws, WR_CLOSE_NORMAL, NULL);
	} else if (d->phase == P_RUN) {
		kick(d, c, now);
	}
	pump(d);
}

/* A reply was timed: into the window's figures if it was sent and came back inside it. */
static void timed(drv *d, uint64_t sent, uint64_t now)
{
	wsb_result *r = &d->t->res;
	uint64_t lat = now - sent;
	if (sent >= d->warm_end_ns && now < d->end_ns) {
		wr_hist_record(r->hist, lat);
		wsb_sec *e = sec_at(d, now);
		if (e)
			wsb_sec_latency(e, lat);
	}
	wr_hist_record(d->interval, lat);
}

static void counted(drv *d, uint64_t now, size_t len)
{
	wsb_result *r = &d->t->res;
	r->recv_total++;
	wsb_sec *e = sec_at(d, now);
	if (e) {
		r->msgs++;
		r->bytes += len;
		e->msgs++;
		e->bytes += len;
	}
	bump(&d->t->live.msgs, 1);
	bump(&d->t->live.bytes, len);
}

/* --no-echo: whatever arrives counts; a copied-back timestamp times it. */
static void on_reply(drv *d, wr_msg msg, uint64_t now)
{
	uint64_t ts;
	counted(d, now, msg.len);
	/* a timestamp from before this run started, or from the future, is not ours */
	if (wsb_reply_ts(d->o, msg.data, msg.len, &ts) == 0 && ts >= d->start_ns + (uint64_t)d->off &&
	    ts <= now + (uint64_t)d->off)
		timed(d, ts - (uint64_t)d->off, now);
	else if (in_window(d, now))
		d->t->res.no_ts++;
	if (d->phase == P_RUN && now < d->end_ns)
		rate_pump(d, now);
}

/* --fanout: a subscriber checks each publisher's sequence: a jump is messages it never got
 * (dropped or conflated by the server), a step back is an order broken. */
static void fanout_seq(drv *d, bconn *c, wr_msg msg)
{
	uint64_t seq;
	if (wsb_reply_seq(d->o, msg.data, msg.len, &seq) < 0)
		return;
	uint64_t p = seq >> 40, k = seq & ((1ull << 40) - 1);
	if (p >= d->o->publishers)
		return;
	if (k < c->next[p]) {
		note_error(d, &d->t->res.reorders, 0, "a publisher's message came after a later one",
		           (wr_str){ 0 });
		return;
	}
	d->t->res.gaps += k - c->next[p];
	c->next[p] = k + 1;
}

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	bconn *c = user;
	drv *d = c->d;
	wsb_result *r = &d->t->res;
	uint64_t now = wr_now_ns();
	if (d->o->pub_url) {
		if (c->pub)
			return; /* a publisher gets nothing back, and ignores it if it does */
		fanout_seq(d, c, msg);
	}
	if (d->o->no_echo) {
		on_reply(d, msg, now);
		return;
	}
	if (!c->inflight) {
		note_error(d, &r->mismatches, 0, "unexpected message", (wr_str){ 0 });
		return;
	}
	c->inflight--;
	d->inflight--;
	uint64_t ts, want = c->id << 40 | c->recv_seq;
	uint64_t sent = d->fifo ? c->fifo[c->recv_seq & d->fifo_mask] : 0;
	c->recv_seq++;
	wr_opcode op = d->o->text ? WR_OP_TEXT : WR_OP_BINARY;
	if (msg.opcode != op || wsb_payload_check(d->o, msg.data, msg.len, want, &ts) < 0 ||
	    (!d->fifo && (ts < (uint64_t)d->off || ts - (uint64_t)d->off > now))) {
		r->recv_total++;
		note_error(d, &r->mismatches, 0, "echo differs from the message sent", (wr_str){ 0 });
	} else {
		counted(d, now, msg.len);
		timed(d, d->fifo ? sent : ts - (uint64_t)d->off, now);
	}
	if (d->phase == P_RUN && now < d->end_ns) {
		if (d->o->mode == WSB_PINGPONG)
			send_one(d, c, now, now);
		else if (d->o->mode == WSB_RATE)
			rate_pump(d, now);
	} else if (d->phase == P_DRAIN && d->inflight == 0) {
		stop_loop(d);
	}
}

/* Open loop held back by a full send queue: carry on as soon as it empties, not at the next
 * tick — when behind schedule, waiting for the timer would idle a load generator that has
 * work (and hide that it cannot keep up). */
static void on_drain(wr_ws *ws, void *user)
{
	bconn *c = user;
	drv *d = c->d;
	uint64_t now = wr_now_ns();
	if (d->o->mode == WSB_RATE && d->phase == P_RUN && now < d->end_ns)
		rate_pump(d, now);
}

static bool drained(const drv *d)
{
	if (d->o->mode == WSB_CONNECT)
		return d->connecting == 0 && d->open == 0;
	return !d->o->no_echo && d->inflight == 0;
}

static void on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	bconn *c = user;
	drv *d = c->d;
	wsb_result *r = &d->t->res;
	bool ending = d->phase >= P_DRAIN;
	bool again = d->o->mode == WSB_CONNECT; /* back on the idle stack */
	if (c->state == C_CONNECTING) {
		d->connecting--;
		atomic_fetch_sub_explicit(&d->t->live.pending, 1, memory_order_relaxed);
		int err = wr_ws_error(ws);
		if (!ending) {
			if (err > 0) {
				char what[64];
				snprintf(what, sizeof(what), "server answered HTTP %d instead of 101", err);
				note_error(d, &r->http_refused, err, what, (wr_str){ 0 });
			} else {
				note_error(d, &r->connect_fail, err, "connect", reason);
			}
		}
		/* a failed connect is retried only once the ramp is over: it must end */
		again = again || (d->o->reconnect && d->phase == P_RUN);
	} else if (c->state == C_OPEN || c->state == C_CLOSING) {
		d->open--;
		if (c->state == C_OPEN && !ending) {
			if (d->o->reconnect && (code == WR_CLOSE_NORMAL || code == WR_CLOSE_GOING_AWAY)) {
				r->reconnects++;
			} else {
				char what[64];
				snprintf(what, sizeof(what), "connection closed by the server (%d)", code);
				note_error(d, &r->closes, code, what, reason);
			}
			again = again || d->o->reconnect;
		}
		if (c->inflight) {
			d->inflight -= c->inflight;
			if (d->phase != P_STOPPED) { /* once stopped, the drain already counted them */
				r->unanswered += c->inflight;
				bump(&d->t->live.errors, c->inflight);
			}
			c->inflight = 0;
		}
	}
	c->state = again ? C_IDLE : C_DEAD;
	c->ws = NULL;
	if (again && !ending) {
		d->idle[d->nidle++] = (unsigned)(c - d->conns);
		if (r->opens == 0 && r->connect_fail + r->http_refused >= CONNECT_GIVE_UP) {
			atomic_store(&d->t->sh->abort, true);
			stop_loop(d);
			return;
		}
	}
	pump(d);
	if (d->phase == P_DRAIN && drained(d))
		stop_loop(d);
}

/* ---- the thread's clock: start, phases, rate schedule, live figures ---- */

static void go(drv *d, uint64_t start)
{
	wsb_shared *sh = d->t->sh;
	d->start_ns = start;
	d->warm_end_ns = sh->warm_end_ns;
	d->end_ns = sh->end_ns;
	d->phase = P_RUN;
	d->last_publish = start;
	if (d->o->mode == WSB_RATE) {
		double share = d->o->pub_url ? d->o->rate * d->npub / d->o->publishers
		                             : d->o->rate * d->n / d->o->conns;
		d->interval_ns = share > 0 ? 1e9 / share : 1e18; /* a thread of subscribers only */
		/* threads start out of phase with each other so their sends interleave */
		d->rate_j = 0;
		if (d->interval_ns < 1e17)
			d->start_ns += (uint64_t)(d->interval_ns * d->t->idx / d->o->threads);
		d->rate_next_ns = d->o->pub_url && !d->npub ? UINT64_MAX : d->start_ns;
	}
	wsb_series_at(&d->t->series, 0);
	uint64_t now = wr_now_ns();
	for (unsigned i = 0; i < d->n; i++)
		if (d->conns[i].state == C_OPEN)
			kick(d, &d->conns[i], now);
	pump(d);
}

static void end_run(drv *d, uint64_t now)
{
	if (d->o->mode == WSB_RATE && d->rate_next_ns < d->end_ns && d->interval_ns < 1e17)
		d->t->res.behind = (uint64_t)((double)(d->end_ns - d->rate_next_ns) / d->interval_ns) + 1;
	d->phase = P_DRAIN;
	d->drain_until = now + (d->o->no_echo ? NOECHO_GRACE_NS : DRAIN_NS);
	if (drained(d))
		stop_loop(d);
}

static void tick(wr_loop *loop, void *user)
{
	drv *d = user;
	wsb_shared *sh = d->t->sh;
	uint64_t now = wr_now_ns();
	if (atomic_load_explicit(&sh->abort, memory_order_relaxed)) {
		stop_loop(d);
		return;
	}
	if (d->nidle)
		pump(d); /* --open-rate: the next connects may be due */
	if (d->phase == P_RAMP) {
		uint64_t s = atomic_load_explicit(&sh->start_ns, memory_order_acquire);
		if (s && now >= s)
			go(d, s);
		return;
	}
	if (d->phase == P_RUN) {
		if (d->o->mode == WSB_RATE)
			rate_pump(d, now);
		if (now >= d->warm_end_ns) /* the next second's series entry, before it is needed */
			wsb_series_at(&d->t->series, (unsigned)((now - d->warm_end_ns) / 1000000000ull) + 1);
		else
			wsb_series_at(&d->t->series, 0);
		if (now - d->last_publish >= 250000000ull) {
			wsb_interval_publish(sh, d->interval);
			d->last_publish = now;
		}
		if (now >= d->end_ns)
			end_run(d, now);
		return;
	}
	if (d->phase == P_DRAIN && (drained(d) || now >= d->drain_until)) {
		if (d->inflight) {
			/* one note for the first reason, the rest counted in bulk */
			note_error(d, &d->t->res.unanswered, 0, "echoes still missing 2 s after the end",
			           (wr_str){ 0 });
			d->t->res.unanswered += d->inflight - 1;
			bump(&d->t->live.errors, d->inflight - 1);
		}
		stop_loop(d);
	}
}

static void drv_free(drv *d)
{
	free(d->copts);
	free(d->fifo);
	free(d->next);
	free(d->interval);
	free(d->scratch);
	free(d->idle);
	free(d->conns);
	free(d);
}

static int drv_setup(drv *d, wsb_thread *t)
{
	const wsb_opts *o = t->o;
	d->t = t;
	d->o = o;
	d->off = t->sh->wall_offset;
	d->n = t->nconns;
	d->ramp = o->ramp / o->threads ? o->ramp / o->threads : 1;
	if (o->open_rate > 0)
		d->open_interval_ns = 1e9 / (o->open_rate * d->n / o->conns);
	d->inflight_cap = RATE_INFLIGHT_CAP;
	d->conns = calloc(d->n, sizeof(bconn));
	d->idle = calloc(d->n, sizeof(unsigned));
	d->scratch = malloc(o->max_size ? o->max_size : 1);
	d->interval = wsb_hist_new();
	t->res.hist = wsb_hist_new();
	unsigned nb = o->nbinds ? o->nbinds : 1;
	d->copts = calloc(nb, sizeof(wr_client_options));
	if (!d->conns || !d->idle || !d->scratch || !d->interval || !t->res.hist || !d->copts ||
	    wsb_series_init(&t->series, o->duration_s) < 0)
		return -ENOMEM;
	if (o->payload == WSB_PAY_FILE && (o->mode == WSB_PINGPONG || o->mode == WSB_RATE) &&
	    !o->no_echo) {
		unsigned want = o->mode == WSB_RATE ? FILE_RATE_FIFO : o->pipeline, cap = 1;
		while (cap < want)
			cap <<= 1;
		d->fifo_mask = cap - 1;
		if (o->mode == WSB_RATE)
			d->inflight_cap = cap;
		d->fifo = malloc((size_t)d->n * cap * sizeof(uint64_t));
		if (!d->fifo)
			return -ENOMEM;
	}
	if (o->pub_url) {
		d->next = calloc((size_t)d->n * o->publishers, sizeof(uint64_t));
		if (!d->next)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < d->n; i++) {
		d->conns[i] = (bconn){ .d = d, .id = t->first_conn + i };
		if (o->pub_url) {
			d->conns[i].pub = d->conns[i].id < o->publishers;
			d->npub += d->conns[i].pub;
			d->conns[i].next = d->next + (size_t)i * o->publishers;
		}
		if (d->fifo)
			d->conns[i].fifo = d->fifo + (size_t)i * (d->fifo_mask + 1);
		d->idle[d->n - 1 - i] = i; /* pop from the end: lowest first */
	}
	d->nidle = d->n;
	d->tls = (wr_tls_config){ .ca_file = o->ca_file, .insecure = o->insecure, .resume = o->resume,
	                          .cert_file = o->cert_file, .key_file = o->key_file };
	for (unsigned i = 0; i < nb; i++) {
		d->copts[i] = (wr_client_options){
			.connect_timeout_ms = 10000, .handshake_timeout_ms = 10000,
			.tls = o->tls ? &d->tls : NULL, .headers = o->headers, .protocols = o->protocols,
			.addr = (const struct sockaddr *)&o->addr, .addr_len = o->addr_len,
			.server_name = o->sni, .deflate = { .enable = o->deflate },
		};
		if (o->nbinds) {
			d->copts[i].bind_addr = (const struct sockaddr *)&o->binds[i];
			d->copts[i].bind_addr_len = o->bind_len;
		}
		if (o->max_size + 1024 > (16u << 20))
			d->copts[i].max_message_bytes = o->max_size + 1024;
	}
	return 0;
}

void *wsb_thread_main(void *arg)
{
	wsb_thread *t = arg;
	const wsb_opts *o = t->o;
	atomic_store(&t->live.tid, (int)gettid());
	drv *d = calloc(1, sizeof(*d));
	int err = d ? drv_setup(d, t) : -ENOMEM;
	if (err < 0)
		goto err_setup;
	wr_loop_config cfg = { .max_conns = d->n * (o->mode == WSB_CONNECT ? 4 : 1) + 64, .cpu = -1 };
	d->loop = wr_loop_new(&cfg, &err);
	if (!d->loop)
		goto err_setup;
	wr_loop_every(d->loop, o->mode == WSB_RATE ? 1 : 2, tick, d);
	if (o->mode == WSB_CONNECT)
		mark_ramped(d);
	else
		pump(d);
	if (d->phase != P_STOPPED) /* wr_loop_run forgets a stop that came before it */
		t->rc = wr_loop_run(d->loop);
	if (d->phase == P_RUN || d->phase == P_DRAIN)
		wsb_interval_publish(t->sh, d->interval);
	d->phase = P_STOPPED;
	wr_loop_free(d->loop);
	drv_free(d);
	atomic_fetch_add(&t->sh->done, 1);
	return NULL;

err_setup:
	if (d)
		drv_free(d);
	t->rc = err ? err : -ENOMEM;
	snprintf(t->res.first_reason, sizeof(t->res.first_reason), "thread setup: %s",
	         wr_strerror(t->rc));
	if (!t->res.first_error)
		t->res.first_error = t->rc;
	t->res.connect_fail++;
	atomic_store(&t->sh->abort, true);
	atomic_fetch_add(&t->sh->ramped, 1);
	atomic_fetch_add(&t->sh->done, 1);
	return NULL;
}
