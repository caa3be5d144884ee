/* One ws-bench thread: a wr_loop with its share of the connections, the ramp that opens them,
 * and the four modes — closed-loop ping-pong (K in flight), open-loop constant rate, connect
 * cycles, idle hold. Messages carry their own sequence number and send time; every echo is
 * checked byte for byte against what was sent. Nothing here allocates once traffic runs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wring.h>

#include "wsb.h"

#define DRAIN_NS 2000000000ull        /* after the end: wait this long for echoes in flight */
#define RATE_INFLIGHT_CAP 4096u       /* open loop: a connection holds back past this... */
#define RATE_BUFFERED_CAP (8u << 20)  /* ...or this much unsent output */
#define CONNECT_GIVE_UP 32u           /* connect mode: failures with no success before giving up */
#define GOLD 0x9E3779B97F4A7C15ull

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
	uint64_t inflight;       /* messages, all connections */
	uint8_t *scratch;
	size_t hlen;             /* header bytes in a message */
	/* rate mode: the thread's schedule, message j due at start + j * interval */
	double interval_ns;
	uint64_t rate_j, rate_next_ns;
	unsigned rr;
	uint64_t last_publish;
	wsb_hist *interval;      /* latencies since the last publish (live p99) */
	wr_client_options copts;
	wr_tls_config tls;
};

/* ---- payload: header (seq, timestamp) and a pattern derived from both ---- */

static uint64_t pattern_seed(uint64_t seq, uint64_t ts)
{
	uint64_t x = seq * GOLD ^ ts;
	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 29;
	return x;
}

static inline uint64_t pattern_word(uint64_t w0, size_t k, bool text)
{
	uint64_t w = w0 + (uint64_t)k * GOLD;
	/* text: every byte in 0x40..0x7f, plain ASCII and so valid UTF-8 */
	return text ? (w & 0x3F3F3F3F3F3F3F3Full) | 0x4040404040404040ull : w;
}

static void put_u64_text(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 11; i++)
		p[i] = (uint8_t)('0' + ((v >> (6 * i)) & 63));
}

static bool get_u64_text(const uint8_t *p, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 11; i++) {
		unsigned c = (unsigned)p[i] - '0';
		if (c > 63 || (i == 10 && c > 15))
			return false;
		v |= (uint64_t)c << (6 * i);
	}
	*out = v;
	return true;
}

static void payload_fill(uint8_t *p, size_t len, size_t hlen, bool text, uint64_t seq, uint64_t ts)
{
	if (text) {
		put_u64_text(p, seq);
		put_u64_text(p + 11, ts);
	} else {
		memcpy(p, &seq, 8);
		memcpy(p + 8, &ts, 8);
	}
	uint64_t w0 = pattern_seed(seq, ts);
	size_t k = 0, off = hlen;
	for (; off + 8 <= len; off += 8, k++) {
		uint64_t w = pattern_word(w0, k, text);
		memcpy(p + off, &w, 8);
	}
	if (off < len) {
		uint64_t w = pattern_word(w0, k, text);
		memcpy(p + off, &w, len - off);
	}
}

/* 0 when p is exactly what payload_fill wrote for its own header; the header in *out. */
static int payload_check(const uint8_t *p, size_t len, size_t want_len, size_t hlen, bool text,
                         uint64_t *out_seq, uint64_t *out_ts)
{
	if (len != want_len || len < hlen)
		return -1;
	uint64_t seq, ts;
	if (text) {
		if (!get_u64_text(p, &seq) || !get_u64_text(p + 11, &ts))
			return -1;
	} else {
		memcpy(&seq, p, 8);
		memcpy(&ts, p + 8, 8);
	}
	uint64_t w0 = pattern_seed(seq, ts);
	size_t k = 0, off = hlen;
	for (; off + 8 <= len; off += 8, k++) {
		uint64_t w = pattern_word(w0, k, text), got;
		memcpy(&got, p + off, 8);
		if (got != w)
			return -1;
	}
	if (off < len) {
		uint64_t w = pattern_word(w0, k, text);
		if (memcmp(p + off, &w, len - off))
			return -1;
	}
	*out_seq = seq;
	*out_ts = ts;
	return 0;
}

/* Live counters have one writer (this thread): a plain load and store, no locked add. */
static inline void bump(_Atomic uint64_t *a, uint64_t n)
{
	atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

/* ---- errors ---- */

static void note_error(drv *d, uint64_t *counter, int code, const char *what, wr_str why)
{
	(*counter)++;
	bump(&d->t->live.errors, 1);
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

static void stop_loop(drv *d)
{
	if (d->phase == P_STOPPED)
		return;
	d->phase = P_STOPPED;
	wr_loop_stop(d->loop);
}

static void pump(drv *d)
{
	while (d->nidle && d->connecting < d->ramp && d->phase != P_DRAIN && d->phase != P_STOPPED) {
		if (d->o->mode == WSB_CONNECT && d->phase != P_RUN)
			break;
		bconn *c = &d->conns[d->idle[--d->nidle]];
		wr_ws_handlers h = { .on_open = on_open, .on_message = on_message,
		                     .on_close = on_close, .user = c };
		c->state = C_CONNECTING;
		c->connect_ns = wr_now_ns();
		c->inflight = 0;
		d->connecting++;
		atomic_fetch_add_explicit(&d->t->live.pending, 1, memory_order_relaxed);
		int rc = wr_loop_connect(d->loop, d->o->connect_url, &d->copts, &h);
		if (rc < 0) {
			/* Only the URL or resources can fail here: nothing later would do better. */
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
	if (!d->ramped && d->nidle == 0 && d->connecting == 0 && d->o->mode != WSB_CONNECT) {
		d->ramped = true;
		atomic_fetch_add(&d->t->sh->ramped, 1);
	}
}

static void send_one(drv *d, bconn *c, uint64_t ts)
{
	uint64_t seq = c->id << 40 | c->send_seq;
	payload_fill(d->scratch, d->o->size, d->hlen, d->o->text, seq, ts);
	int rc = wr_ws_send(c->ws, d->scratch, d->o->size, d->o->text ? WR_OP_TEXT : WR_OP_BINARY);
	if (rc < 0)
		return; /* the connection is closing: on_close counts it */
	c->send_seq++;
	c->inflight++;
	d->inflight++;
	d->t->res.sent_total++;
}

static void kick(drv *d, bconn *c, uint64_t now)
{
	if (d->o->mode != WSB_PINGPONG)
		return;
	for (unsigned i = 0; i < d->o->pipeline && c->state == C_OPEN; i++)
		send_one(d, c, now);
}

/* Open loop: send what is due, each with its intended time as the timestamp. A connection
 * that cannot take more holds the schedule back; the lateness shows in the latencies. */
static void rate_pump(drv *d, uint64_t now)
{
	uint64_t limit = now < d->end_ns ? now : d->end_ns;
	while (d->rate_next_ns <= limit) {
		bconn *c = NULL;
		for (unsigned tries = 0; tries < d->n; tries++) {
			bconn *x = &d->conns[d->rr];
			d->rr = d->rr + 1 == d->n ? 0 : d->rr + 1;
			if (x->state == C_OPEN) {
				c = x;
				break;
			}
		}
		if (!c)
			return; /* nothing open: counted as behind at the end */
		if (c->inflight >= RATE_INFLIGHT_CAP || wr_ws_buffered(c->ws) > RATE_BUFFERED_CAP)
			return;
		send_one(d, c, d->rate_next_ns);
		d->rate_j++;
		d->rate_next_ns = d->start_ns + (uint64_t)((double)d->rate_j * d->interval_ns);
	}
}

static void on_open(wr_ws *ws, const wr_req *req, void *user)
{
	bconn *c = user;
	drv *d = c->d;
	uint64_t now = wr_now_ns();
	c->ws = ws;
	c->state = C_OPEN;
	d->connecting--;
	d->open++;
	atomic_fetch_sub_explicit(&d->t->live.pending, 1, memory_order_relaxed);
	bump(&d->t->live.opens, 1);
	d->t->res.opens++;
	if (d->o->mode == WSB_CONNECT) {
		if (now >= d->warm_end_ns && now < d->end_ns) {
			d->t->res.handshakes++;
			d->t->res.resumed += wr_ws_tls_resumed(ws);
			wsb_hist_record(&d->t->res.hist, now - c->connect_ns);
		}
		wsb_hist_record(d->interval, now - c->connect_ns);
		c->state = C_CLOSING;
		wr_ws_close(ws, WR_CLOSE_NORMAL, NULL);
	} else if (d->phase == P_RUN) {
		kick(d, c, now);
	}
	pump(d);
}

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	bconn *c = user;
	drv *d = c->d;
	wsb_result *r = &d->t->res;
	uint64_t now = wr_now_ns();
	if (!c->inflight) {
		note_error(d, &r->mismatches, 0, "unexpected message", (wr_str){ 0 });
		return;
	}
	c->inflight--;
	d->inflight--;
	r->recv_total++;
	uint64_t seq, ts;
	uint64_t want = c->id << 40 | c->recv_seq++;
	wr_opcode op = d->o->text ? WR_OP_TEXT : WR_OP_BINARY;
	if (msg.opcode != op ||
	    payload_check(msg.data, msg.len, d->o->size, d->hlen, d->o->text, &seq, &ts) < 0 ||
	    seq != want || ts > now) {
		note_error(d, &r->mismatches, 0, "echo differs from the message sent", (wr_str){ 0 });
	} else {
		uint64_t lat = now - ts;
		if (ts >= d->warm_end_ns && now < d->end_ns) {
			wsb_hist_record(&r->hist, lat);
			r->msgs++;
			r->bytes += msg.len;
		}
		wsb_hist_record(d->interval, lat);
	}
	bump(&d->t->live.msgs, 1);
	bump(&d->t->live.bytes, msg.len);
	if (d->phase == P_RUN && now < d->end_ns) {
		if (d->o->mode == WSB_PINGPONG)
			send_one(d, c, now);
		else if (d->o->mode == WSB_RATE)
			rate_pump(d, now);
	} else if (d->phase == P_DRAIN && d->inflight == 0) {
		stop_loop(d);
	}
}

static void on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	bconn *c = user;
	drv *d = c->d;
	wsb_result *r = &d->t->res;
	bool ending = d->phase >= P_DRAIN;
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
		c->state = d->o->mode == WSB_CONNECT ? C_IDLE : C_DEAD;
	} else if (c->state == C_OPEN || c->state == C_CLOSING) {
		d->open--;
		if (c->state == C_OPEN && !ending) {
			char what[64];
			snprintf(what, sizeof(what), "connection closed by the server (%d)", code);
			note_error(d, &r->closes, code, what, reason);
		}
		if (c->inflight) {
			d->inflight -= c->inflight;
			if (d->phase != P_STOPPED) { /* once stopped, the drain already counted them */
				r->unanswered += c->inflight;
				bump(&d->t->live.errors, c->inflight);
			}
			c->inflight = 0;
		}
		c->state = d->o->mode == WSB_CONNECT ? C_IDLE : C_DEAD;
	}
	c->ws = NULL;
	if (d->o->mode == WSB_CONNECT && c->state == C_IDLE && !ending) {
		d->idle[d->nidle++] = (unsigned)(c - d->conns);
		if (r->opens == 0 && r->connect_fail + r->http_refused >= CONNECT_GIVE_UP) {
			atomic_store(&d->t->sh->abort, true);
			stop_loop(d);
			return;
		}
	}
	pump(d);
	if (d->phase == P_DRAIN && d->inflight == 0)
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
		double share = d->o->rate * d->n / d->o->conns;
		d->interval_ns = 1e9 / share;
		/* threads start out of phase with each other so their sends interleave */
		d->rate_j = 0;
		d->start_ns += (uint64_t)(d->interval_ns * d->t->idx / d->o->threads);
		d->rate_next_ns = d->start_ns;
	}
	uint64_t now = wr_now_ns();
	for (unsigned i = 0; i < d->n; i++)
		if (d->conns[i].state == C_OPEN)
			kick(d, &d->conns[i], now);
	pump(d);
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
	if (d->phase == P_RAMP) {
		uint64_t s = atomic_load_explicit(&sh->start_ns, memory_order_acquire);
		if (s && now >= s)
			go(d, s);
		return;
	}
	if (d->phase == P_RUN) {
		if (d->o->mode == WSB_RATE)
			rate_pump(d, now);
		if (now - d->last_publish >= 250000000ull) {
			wsb_interval_publish(sh, d->interval);
			d->last_publish = now;
		}
		if (now >= d->end_ns) {
			if (d->o->mode == WSB_RATE && d->rate_next_ns < d->end_ns)
				d->t->res.behind = (uint64_t)((double)(d->end_ns - d->rate_next_ns) / d->interval_ns) + 1;
			d->phase = P_DRAIN;
			d->drain_until = now + DRAIN_NS;
			if (d->inflight == 0)
				stop_loop(d);
		}
		return;
	}
	if (d->phase == P_DRAIN && (d->inflight == 0 || now >= d->drain_until)) {
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

void *wsb_thread_main(void *arg)
{
	wsb_thread *t = arg;
	const wsb_opts *o = t->o;
	drv *d = calloc(1, sizeof(*d));
	int err = 0;
	if (!d)
		goto err_drv;
	d->t = t;
	d->o = o;
	d->n = t->nconns;
	d->hlen = o->text ? 22 : 16;
	d->ramp = o->ramp / o->threads ? o->ramp / o->threads : 1;
	d->conns = calloc(d->n, sizeof(bconn));
	d->idle = calloc(d->n, sizeof(unsigned));
	d->scratch = malloc(o->size ? o->size : 1);
	d->interval = malloc(sizeof(wsb_hist));
	if (!d->conns || !d->idle || !d->scratch || !d->interval)
		goto err_mem;
	wsb_hist_reset(d->interval);
	wsb_hist_reset(&t->res.hist);
	for (unsigned i = 0; i < d->n; i++) {
		d->conns[i] = (bconn){ .d = d, .id = t->first_conn + i };
		d->idle[d->n - 1 - i] = i; /* pop from the end: lowest first */
	}
	d->nidle = d->n;
	d->tls = (wr_tls_config){ .ca_file = o->ca_file, .insecure = o->insecure, .resume = o->resume };
	d->copts = (wr_client_options){ .connect_timeout_ms = 10000, .handshake_timeout_ms = 10000,
	                                .tls = o->tls ? &d->tls : NULL };
	if (o->size + 1024 > (16u << 20))
		d->copts.max_message_bytes = o->size + 1024;
	wr_loop_config cfg = { .max_conns = d->n * (o->mode == WSB_CONNECT ? 4 : 1) + 64, .cpu = -1 };
	d->loop = wr_loop_new(&cfg, &err);
	if (!d->loop)
		goto err_mem;
	wr_loop_every(d->loop, o->mode == WSB_RATE ? 1 : 2, tick, d);
	if (o->mode == WSB_CONNECT) {
		d->ramped = true;
		atomic_fetch_add(&t->sh->ramped, 1);
	} else {
		pump(d);
	}
	t->rc = wr_loop_run(d->loop);
	if (d->phase == P_RUN || d->phase == P_DRAIN)
		wsb_interval_publish(t->sh, d->interval);
	d->phase = P_STOPPED;
	wr_loop_free(d->loop);
	free(d->interval);
	free(d->scratch);
	free(d->idle);
	free(d->conns);
	free(d);
	atomic_fetch_add(&t->sh->done, 1);
	return NULL;

err_mem:
	free(d->interval);
	free(d->scratch);
	free(d->idle);
	free(d->conns);
	free(d);
err_drv:
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
