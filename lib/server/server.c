/* The server: configuration defaults, routes, reactor threads, start/stop, cross-thread posts.
 * It wires the layers together: each accepted connection gets its transport (TLS when
 * configured) and HTTP; WebSocket routes carry the WebSocket layer's upgrade hook. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "reactor.h"
#include "router.h"
#include "server_int.h"
#include "tls.h"
#include "fiber_http.h"
#include "fiber_ws.h"
#include "pubsub.h"
#include "ws.h"

#define MAX_WS_ROUTES 64

/* One reactor thread and what it serves with. */
typedef struct srv_reactor {
	wr_server *srv;
	unsigned idx;
	int cpu;
	int listen_fd;
	pthread_t thread;
	wr_reactor *r;
	wr_http_ctx *http;
	int start_rc;
	bool posts_open;          /* accepts wr_server_run_on; guarded by the server's post lock */
	/* Handles (wr_server_send/close), without a lock: a sender counts itself in, then
	 * checks open; the reactor closes, then waits for the count to fall to zero before its
	 * inbox may go. */
	atomic_bool handles_open;
	atomic_uint senders;
} srv_reactor;

struct wr_server {
	wr_server_config cfg;     /* defaults filled in */
	wr_router *router;
	struct wr_tls_ctx *tls;
	unsigned nreactors;
	srv_reactor *rs;
	bool started;
	bool joined;
	atomic_bool stop_requested;
	uint16_t port;
	int run_rc;
	/* Posting from any thread goes through one poster, under a lock (not a hot path). */
	pthread_mutex_t post_lock;
	wr_poster *poster;
	pthread_mutex_t start_lock;
	pthread_cond_t start_cond;
	unsigned started_count;
	wr_ws_route *ws_routes[MAX_WS_ROUTES];
	char *ws_paths[MAX_WS_ROUTES];
	unsigned nws_routes;
	/* metrics (wring/stats.h): made at start for the reactors launched then, kept until
	 * the server is freed, so that a snapshot after a stop still reads them */
	wr_reactor_stats *stats;
	unsigned nstats;          /* reactors they were made for */
	/* HTTP handler routes in registration order (stable: the router's copies point at
	 * their stats), and the requests no route took */
	wr_http_route_rec **http_routes;
	unsigned nhttp_routes;
	wr_http_route_stats *http_unmatched;
	wr_fiber_http_route *http_fibers[MAX_WS_ROUTES];
	unsigned nhttp_fibers;
	wr_pubsub *pubsub;        /* topics across the reactors */
	wr_budget budget;         /* memory_budget, shared by the reactors (core budget.h) */
};

/* The receive rings are memory of the server's too, touched as bursts arrive and not
 * counted per connection: their full size is set aside from the budget, so that what the
 * connections may hold plus the rings stays within it. The connections keep at least half
 * of it whatever the rings' size. */
static size_t budget_for_conns(const wr_server_config *c)
{
	size_t rings = (size_t)c->threads * c->recv_buf_count * c->recv_buf_size;
	return c->memory_budget / 2 > rings ? c->memory_budget - rings : c->memory_budget / 2;
}

/* What a plaintext client gets on the TLS port instead of a bare reset. */
static const char plain_on_tls[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                                   "Content-Length: 35\r\nConnection: close\r\n\r\n"
                                   "This port speaks HTTPS, not HTTP.\r\n";

/* Per-connection output: the hard limit holds two of the largest messages (an echo of one on
 * top of a queue at its high mark); the high mark, where receiving pauses, sits between
 * uWebSockets' 64 KiB maxBackpressure and what 1 MiB messages need to stream without
 * stalls (README, "Fair under attack"). */
#define WR_DEFAULT_SEND_HIGH (1u << 20)

/* Fill in defaults; -EINVAL for a config that cannot work. */
static int config_defaults(wr_server_config *c)
{
	if (c->threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->threads = n > 0 ? (unsigned)n : 1;
	}
	if (c->threads > 1024)
		return -EINVAL;
	if (!c->max_conns)
		c->max_conns = 65536;
	if (!c->recv_buf_count)
		c->recv_buf_count = 1024;
	if (!c->recv_buf_size)
		c->recv_buf_size = 16384;
	if ((c->recv_buf_count & (c->recv_buf_count - 1)) || c->recv_buf_count > 32768 ||
	    c->recv_buf_size < 256 || c->recv_buf_size > (1u << 24))
		return -EINVAL;
	if (!c->max_header_bytes)
		c->max_header_bytes = 8192;
	if (!c->max_body_bytes)
		c->max_body_bytes = 1u << 20;
	if (!c->max_message_bytes)
		c->max_message_bytes = WR_WS_DEFAULT_MAX_MSG;
	if (!c->max_message_frames)
		c->max_message_frames = WR_WS_DEFAULT_MAX_FRAMES;
	if (!c->max_send_buffer) {
		size_t two = 2 * (size_t)c->max_message_bytes;
		c->max_send_buffer = two < (1u << 20) ? 1u << 20 : two > (1u << 30) ? 1u << 30 : two;
	}
	if (!c->send_high_mark)
		c->send_high_mark = c->max_send_buffer < WR_DEFAULT_SEND_HIGH ? c->max_send_buffer
		                                                               : WR_DEFAULT_SEND_HIGH;
	if (!c->send_low_mark || c->send_low_mark >= c->send_high_mark)
		c->send_low_mark = c->send_high_mark / 4;
	if (!c->send_timeout_ms)
		c->send_timeout_ms = 10000;
	if (!c->memory_budget) {
		/* An eighth of the machine's memory, and never under 64 MiB. */
		long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
		size_t phys = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : (size_t)1 << 32;
		c->memory_budget = phys / 8 > (64u << 20) ? phys / 8 : 64u << 20;
	}
	if (!c->handshake_timeout_ms)
		c->handshake_timeout_ms = 10000;
	if (!c->idle_timeout_ms)
		c->idle_timeout_ms = 60000;
	if (!c->ping_interval_ms)
		c->ping_interval_ms = 30000;
	if (!c->close_timeout_ms)
		c->close_timeout_ms = 5000;
	if (c->send_timeout_ms > 86400000u)
		c->send_timeout_ms = 86400000u;
	if (!c->backlog)
		c->backlog = 4096;
	if (!c->metrics_sample)
		c->metrics_sample = 64;
	/* Off unless asked for: it measured no better here (README, "The life of a loop turn"). */
	if (c->settle_us == (unsigned)-1)
		c->settle_us = 0;
	if (c->settle_us > 1000)
		c->settle_us = 1000;
	if (c->metrics_sample > (1u << 20))
		c->metrics_sample = 1u << 20;
	/* A day is "forever" for a timer wheel of 100 ms ticks, and keeps tick arithmetic far from
	 * wrapping; ping_interval_ms == -1 keeps its meaning (never ping). */
	const unsigned day = 86400000u;
	unsigned *t[] = { &c->handshake_timeout_ms, &c->idle_timeout_ms, &c->close_timeout_ms };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (*t[i] > day)
			*t[i] = day;
	if (c->ping_interval_ms > day && c->ping_interval_ms != (unsigned)-1)
		c->ping_interval_ms = day;
	return 0;
}

wr_server *wr_server_new(const wr_server_config *cfg, int *out_err)
{
	int rc;
	wr_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		rc = -ENOMEM;
		goto err_alloc;
	}
	if (cfg)
		srv->cfg = *cfg;
	/* The caller's TLS block is borrowed only until return: srv->tls holds what it built. */
	srv->cfg.tls = NULL;
	rc = config_defaults(&srv->cfg);
	if (rc < 0)
		goto err_cfg;
	srv->router = wr__router_new();
	if (!srv->router) {
		rc = -ENOMEM;
		goto err_cfg;
	}
	if (cfg && cfg->tls) {
		/* TLS is told what this server speaks over it and what to say to plaintext. */
		const wr_tls_opts opts = { .alpn = "http/1.1", .plain_reply = plain_on_tls,
		                           .plain_reply_len = sizeof(plain_on_tls) - 1 };
		rc = wr__tls_ctx_new(cfg->tls, true, &opts, &srv->tls);
		if (rc < 0)
			goto err_tls;
	}
	rc = wr__poster_new(&srv->poster);
	if (rc < 0)
		goto err_poster;
	srv->pubsub = wr__pubsub_new(&(wr_pubsub_config){
		.reactors = srv->cfg.threads,
		.max_subscriptions = srv->cfg.max_subscriptions,
		.send_mark = srv->cfg.topic_send_mark,
	});
	if (!srv->pubsub) {
		rc = -ENOMEM;
		goto err_pubsub;
	}
	pthread_mutex_init(&srv->post_lock, NULL);
	pthread_mutex_init(&srv->start_lock, NULL);
	pthread_cond_init(&srv->start_cond, NULL);
	atomic_init(&srv->stop_requested, false);
	srv->nreactors = srv->cfg.threads;
	wr__budget_init(&srv->budget, budget_for_conns(&srv->cfg), srv->cfg.threads);
	return srv;

err_pubsub:
	wr__poster_free(srv->poster);
err_poster:
	wr__tls_ctx_free(srv->tls);
err_tls:
	wr__router_free(srv->router);
err_cfg:
	free(srv);
err_alloc:
	if (out_err)
		*out_err = rc;
	return NULL;
}

static void free_http_rec(wr_http_route_rec *rec)
{
	free(rec->pattern);
	free(rec->method);
	free(rec);
}

static int add_route(wr_server *srv, const char *method, const char *pattern, const wr_route *rt)
{
	if (!srv || !pattern)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	return wr__router_add(srv->router, method, pattern, rt);
}

/* A new metrics record for an HTTP route (pattern, method), kept by the server once the
 * route is registered (keep_http_rec); its stats are made at start. */
static wr_http_route_rec *new_http_rec(wr_server *srv, const char *method, const char *pattern)
{
	wr_http_route_rec **v = realloc(srv->http_routes,
	                                (srv->nhttp_routes + 1) * sizeof(*srv->http_routes));
	if (!v)
		return NULL;
	srv->http_routes = v;
	wr_http_route_rec *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return NULL;
	rec->pattern = strdup(pattern);
	rec->method = strdup(method ? method : "");
	if (!rec->pattern || !rec->method) {
		free_http_rec(rec);
		return NULL;
	}
	return rec;
}

int wr_server_route(wr_server *srv, const char *method, const char *pattern, wr_http_handler fn,
                    void *user)
{
	if (!fn)
		return -EINVAL;
	if (!srv || !pattern)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	wr_http_route_rec *rec = new_http_rec(srv, method, pattern);
	if (!rec)
		return -ENOMEM;
	wr_route rt = { .kind = WR_ROUTE_HTTP, .fn.http = fn, .user = user, .stats = &rec->stats };
	int rc = add_route(srv, method, pattern, &rt);
	if (rc < 0) {
		free_http_rec(rec);
		return rc;
	}
	srv->http_routes[srv->nhttp_routes++] = rec;
	return 0;
}

int wr_server_get(wr_server *s, const char *p, wr_http_handler fn, void *u) { return wr_server_route(s, "GET", p, fn, u); }
int wr_server_post(wr_server *s, const char *p, wr_http_handler fn, void *u) { return wr_server_route(s, "POST", p, fn, u); }
int wr_server_put(wr_server *s, const char *p, wr_http_handler fn, void *u) { return wr_server_route(s, "PUT", p, fn, u); }
int wr_server_delete(wr_server *s, const char *p, wr_http_handler fn, void *u) { return wr_server_route(s, "DELETE", p, fn, u); }

/* The route is registered: keep it and its path (a metrics label). */
static int keep_ws_route(wr_server *srv, const char *path, wr_ws_route *wr)
{
	srv->ws_paths[srv->nws_routes] = strdup(path);
	srv->ws_routes[srv->nws_routes++] = wr;
	return srv->ws_paths[srv->nws_routes - 1] ? 0 : -ENOMEM;
}

int wr_server_websocket(wr_server *srv, const char *path, const wr_ws_handlers *h)
{
	if (!srv || !h || !path)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	if (srv->nws_routes == MAX_WS_ROUTES)
		return -ENOSPC;
	wr_ws_route *wr = malloc(sizeof(*wr));
	if (!wr)
		return -ENOMEM;
	*wr = (wr_ws_route){
		.h = *h,
		.cfg = { .max_message_bytes = srv->cfg.max_message_bytes,
		         .max_message_frames = srv->cfg.max_message_frames,
		         .ping_interval_ms = srv->cfg.ping_interval_ms,
		         .close_timeout_ms = srv->cfg.close_timeout_ms },
	};
	/* HTTP hands the upgraded connection to the WebSocket layer's hook. */
	wr_route rt = { .kind = WR_ROUTE_UPGRADE, .fn.upgrade = wr__ws_upgrade, .user = wr };
	int rc = add_route(srv, "GET", path, &rt);
	if (rc < 0) {
		free(wr);
		return rc;
	}
	return keep_ws_route(srv, path, wr);
}

int wr_server_websocket_fiber(wr_server *srv, const char *path, const wr_ws_fiber *f)
{
	if (!srv || !f || !f->handler || !path)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	if (srv->nws_routes == MAX_WS_ROUTES)
		return -ENOSPC;
	/* One allocation: the WebSocket route, then the fiber route its callbacks point to. */
	wr_ws_route *wr = malloc(sizeof(*wr) + sizeof(wr_fiber_route));
	if (!wr)
		return -ENOMEM;
	wr_fiber_route *fr = (wr_fiber_route *)(wr + 1);
	*fr = (wr_fiber_route){ .f = *f, .stack_size = srv->cfg.fiber_stack_bytes };
	*wr = (wr_ws_route){
		.cfg = { .max_message_bytes = srv->cfg.max_message_bytes,
		         .max_message_frames = srv->cfg.max_message_frames,
		         .ping_interval_ms = srv->cfg.ping_interval_ms,
		         .close_timeout_ms = srv->cfg.close_timeout_ms },
		.on_pressure = wr__fiber_ws_pressure,
	};
	wr__fiber_ws_handlers(fr, &wr->h);
	wr->h.deflate = f->deflate;
	wr_route rt = { .kind = WR_ROUTE_UPGRADE, .fn.upgrade = wr__ws_upgrade, .user = wr };
	int rc = add_route(srv, "GET", path, &rt);
	if (rc < 0) {
		free(wr);
		return rc;
	}
	return keep_ws_route(srv, path, wr);
}

int wr_server_route_fiber(wr_server *srv, const char *method, const char *pattern,
                          const wr_http_fiber *f)
{
	if (!srv || !f || !f->handler || !pattern)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	if (srv->nhttp_fibers == MAX_WS_ROUTES)
		return -ENOSPC;
	wr_fiber_http_route *fr = malloc(sizeof(*fr));
	/* Counted like any HTTP route (the fiber layer counts: HTTP hands it the request). */
	wr_http_route_rec *rec = fr ? new_http_rec(srv, method, pattern) : NULL;
	if (!rec) {
		free(fr);
		return -ENOMEM;
	}
	*fr = (wr_fiber_http_route){ .f = *f, .stack_size = srv->cfg.fiber_stack_bytes,
	                             .idle_ms = srv->cfg.idle_timeout_ms, .stats = &rec->stats };
	/* HTTP hands the connection over as soon as the head is in. */
	wr_route rt = { .kind = WR_ROUTE_STREAM, .fn.upgrade = wr__fiber_http_take, .user = fr };
	int rc = add_route(srv, method, pattern, &rt);
	if (rc < 0) {
		free_http_rec(rec);
		free(fr);
		return rc;
	}
	srv->http_routes[srv->nhttp_routes++] = rec;
	srv->http_fibers[srv->nhttp_fibers++] = fr;
	return 0;
}

/* ---- handles: any thread ---- */

/* On the owning reactor: a post whose connection is still the one named. */
static void on_post(wr_conn *c, const wr_inbox_msg *m, void *user)
{
	wr__ws_on_post(c, m);
}

static int post(wr_server *srv, wr_handle h, uint8_t kind, uint8_t op, uint16_t code,
                const void *data, size_t len)
{
	unsigned idx = (unsigned)(h.v >> 56);
	if (!srv || !srv->rs || idx >= srv->nreactors)
		return -EINVAL;
	srv_reactor *sr = &srv->rs[idx];
	atomic_fetch_add(&sr->senders, 1);
	int rc = -ESHUTDOWN;
	if (atomic_load(&sr->handles_open))
		rc = wr__inbox_post(&sr->r->inbox, h.v & 0x00ffffffffffffffull, kind, op, code, data,
		                    len);
	atomic_fetch_sub(&sr->senders, 1);
	return rc;
}

int wr_server_send(wr_server *srv, wr_handle h, const void *data, size_t len, wr_opcode op)
{
	if (wr__ws_post_check(op, data, len) < 0)
		return -EINVAL;
	return post(srv, h, WR_WS_POST_SEND, (uint8_t)op, 0, data, len);
}

int wr_server_close(wr_server *srv, wr_handle h, int code, const char *reason)
{
	size_t rl = reason ? strlen(reason) : 0;
	if (wr__ws_close_check(code, reason, rl) < 0)
		return -EINVAL;
	/* The reason travels NUL-terminated. */
	return post(srv, h, WR_WS_POST_CLOSE, 0, (uint16_t)code, reason, rl ? rl + 1 : 0);
}

/* ---- pub/sub ---- */

static void on_reactor_post(wr_reactor *r, const wr_inbox_msg *m, void *user)
{
	wr__pubsub_on_post(r, m);
}

int wr_server_topic(wr_server *srv, const char *pattern, const wr_topic_config *cfg)
{
	if (!srv)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	return wr__pubsub_policy(srv->pubsub, pattern, cfg);
}

int wr_server_publish(wr_server *srv, const char *topic, const void *data, size_t len,
                      wr_opcode op)
{
	return srv ? wr__pubsub_publish(srv->pubsub, topic, NULL, data, len, op) : -EINVAL;
}

int wr_server_publish_keyed(wr_server *srv, const char *topic, const char *key,
                            const void *data, size_t len, wr_opcode op)
{
	return srv ? wr__pubsub_publish(srv->pubsub, topic, key, data, len, op) : -EINVAL;
}

void wr_server_pubsub_stats(const wr_server *srv, wr_pubsub_stats *out)
{
	wr__pubsub_stats(srv ? srv->pubsub : NULL, out);
}

/* Every accepted connection: its transport, then HTTP. */
static void on_accept(wr_conn *c, void *user)
{
	srv_reactor *sr = user;
	int rc = 0;
	if (sr->srv->tls)
		rc = wr__conn_set_transport(c, &wr__tls_transport, sr->srv->tls, NULL);
	if (rc == 0)
		rc = wr__http_attach(c, sr->http);
	if (rc < 0)
		wr__conn_abort(c, rc, "connection setup failed");
}

/* The reactor and HTTP context of one thread, made on that thread (SINGLE_ISSUER binds the
 * ring to its creator). */
static int reactor_setup(srv_reactor *sr)
{
	const wr_server_config *cfg = &sr->srv->cfg;
	const wr_http_config hc = {
		.router = sr->srv->router,
		.max_header_bytes = cfg->max_header_bytes,
		.max_body_bytes = cfg->max_body_bytes,
		.handshake_timeout_ms = cfg->handshake_timeout_ms,
		.idle_timeout_ms = cfg->idle_timeout_ms,
		.unmatched_stats = sr->srv->http_unmatched,
	};
	sr->http = wr__http_ctx_new(&hc);
	if (!sr->http)
		return -ENOMEM;
	const wr_reactor_config rc = {
		.idx = sr->idx,
		.max_conns = cfg->max_conns,
		.recv_buf_count = cfg->recv_buf_count,
		.recv_buf_size = cfg->recv_buf_size,
		.max_send_buffer = cfg->max_send_buffer,
		.send_zc_threshold = cfg->send_zc_threshold,
		.recv_bundles = cfg->recv_bundles,
		.send_high = cfg->send_high_mark,
		.send_low = cfg->send_low_mark,
		.send_timeout_ms = cfg->send_timeout_ms,
		.budget = &sr->srv->budget,
		.linger_ms = cfg->close_timeout_ms < 2000 ? cfg->close_timeout_ms : 2000,
		.stop_ms = cfg->close_timeout_ms,
		.on_accept = on_accept,
		.on_post = on_post,
		.on_reactor_post = on_reactor_post,
		.user = sr,
		.stats = sr->srv->stats ? &sr->srv->stats[sr->idx] : NULL,
		.rx_timestamps = cfg->kernel_timestamps && !cfg->metrics_off,
		.settle_us = cfg->settle_us,
	};
	int r = wr__reactor_new(&rc, &sr->r);
	if (r < 0)
		return r;
	r = wr__pubsub_attach(sr->srv->pubsub, sr->idx, sr->r);
	if (r < 0)
		return r;
	wr__reactor_set_listener(sr->r, sr->listen_fd);
	sr->listen_fd = -1;
	return 0;
}

static void *reactor_main(void *arg)
{
	srv_reactor *sr = arg;
	wr_server *srv = sr->srv;
	if (sr->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(sr->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set); /* best effort */
	}
	int rc = reactor_setup(sr);
	if (rc == 0) {
		/* Open to posts before the starter returns: wr_server_run_on works at once. */
		pthread_mutex_lock(&srv->post_lock);
		sr->posts_open = true;
		pthread_mutex_unlock(&srv->post_lock);
		atomic_store(&sr->handles_open, true);
	}
	pthread_mutex_lock(&srv->start_lock);
	sr->start_rc = rc;
	srv->started_count++;
	pthread_cond_broadcast(&srv->start_cond);
	pthread_mutex_unlock(&srv->start_lock);
	if (rc == 0) {
		if (atomic_load(&srv->stop_requested))
			wr__reactor_begin_stop(sr->r);
		rc = wr__reactor_run(sr->r);
		pthread_mutex_lock(&srv->post_lock);
		sr->posts_open = false;
		pthread_mutex_unlock(&srv->post_lock);
		atomic_store(&sr->handles_open, false);
		while (atomic_load(&sr->senders))
			sched_yield();
		wr__pubsub_close(srv->pubsub, sr->idx);
		wr__reactor_drain_posts(sr->r);
		if (rc < 0)
			srv->run_rc = rc;
	}
	/* The reactor itself stays until the server is freed: wr_server_stop may still write
	 * to its wake descriptor. */
	if (srv->tls)
		wr__tls_thread_done();
	return NULL;
}

/* Stats for n reactors, and for every WebSocket route on each (routes are fixed by now). */
static int metrics_setup(wr_server *srv, unsigned n)
{
	srv->stats = wr__reactor_stats_new(n);
	if (!srv->stats)
		return -ENOMEM;
	srv->nstats = n;
	for (unsigned i = 0; i < srv->nws_routes; i++) {
		srv->ws_routes[i]->stats = wr__route_stats_new(n, srv->cfg.metrics_sample);
		if (!srv->ws_routes[i]->stats)
			return -ENOMEM; /* freed with the server */
	}
	for (unsigned i = 0; i < srv->nhttp_routes; i++) {
		srv->http_routes[i]->stats = wr__http_route_stats_new(n, srv->cfg.metrics_sample);
		if (!srv->http_routes[i]->stats)
			return -ENOMEM;
	}
	srv->http_unmatched = wr__http_route_stats_new(n, srv->cfg.metrics_sample);
	return srv->http_unmatched ? 0 : -ENOMEM;
}

int wr_server_start(wr_server *srv, const char *host, uint16_t port)
{
	if (!srv)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	srv->started = true;
	unsigned n = srv->nreactors;
	int rc = 0;
	srv->rs = calloc(n, sizeof(*srv->rs));
	if (!srv->rs)
		return -ENOMEM;
	if (!srv->cfg.metrics_off) {
		rc = metrics_setup(srv, n);
		if (rc < 0) {
			free(srv->rs);
			srv->rs = NULL;
			return rc;
		}
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	for (unsigned i = 0; i < n; i++)
		srv->rs[i] = (srv_reactor){ .srv = srv, .idx = i, .listen_fd = -1,
		                            .cpu = ncpu > 0 ? (int)(i % (unsigned)ncpu) : -1 };
	/* Listeners are bound here so an ephemeral port is known before the threads start. */
	for (unsigned i = 0; i < n; i++) {
		rc = wr__listen(host ? host : "0.0.0.0", port, srv->cfg.backlog, &srv->rs[i].listen_fd,
		                &port);
		if (rc < 0)
			goto err_listen;
	}
	srv->port = port;
	unsigned launched = 0;
	for (; launched < n; launched++) {
		rc = -pthread_create(&srv->rs[launched].thread, NULL, reactor_main, &srv->rs[launched]);
		if (rc < 0)
			break;
	}
	pthread_mutex_lock(&srv->start_lock);
	while (srv->started_count < launched)
		pthread_cond_wait(&srv->start_cond, &srv->start_lock);
	pthread_mutex_unlock(&srv->start_lock);
	for (unsigned i = 0; i < launched; i++)
		if (srv->rs[i].start_rc < 0 && rc >= 0)
			rc = srv->rs[i].start_rc;
	/* Threads that never started leave their listeners to close. */
	for (unsigned i = launched; i < n; i++) {
		close(srv->rs[i].listen_fd);
		srv->rs[i].listen_fd = -1;
	}
	srv->nreactors = launched;
	if (rc < 0) {
		wr_server_stop(srv);
		wr_server_wait(srv);
		return rc;
	}
	return 0;

err_listen:
	for (unsigned i = 0; i < n; i++)
		if (srv->rs[i].listen_fd >= 0)
			close(srv->rs[i].listen_fd);
	free(srv->rs);
	srv->rs = NULL;
	return rc;
}

int wr_server_wait(wr_server *srv)
{
	if (!srv || !srv->rs || srv->joined)
		return srv && srv->run_rc ? srv->run_rc : 0;
	for (unsigned i = 0; i < srv->nreactors; i++) {
		srv_reactor *sr = &srv->rs[i];
		pthread_join(sr->thread, NULL);
		if (sr->listen_fd >= 0)
			close(sr->listen_fd); /* its reactor could not be made */
		sr->listen_fd = -1;
	}
	srv->joined = true;
	for (unsigned i = 0; i < srv->nreactors; i++) {
		wr__reactor_free(srv->rs[i].r);
		srv->rs[i].r = NULL;
		wr__pubsub_detach(srv->pubsub, i);
		wr__http_ctx_free(srv->rs[i].http);
		srv->rs[i].http = NULL;
	}
	return srv->run_rc;
}

int wr_server_listen(wr_server *srv, const char *host, uint16_t port)
{
	int rc = wr_server_start(srv, host, port);
	if (rc < 0)
		return rc;
	return wr_server_wait(srv);
}

uint16_t wr_server_port(const wr_server *srv) { return srv->port; }

/* ---- for metrics.c ---- */

unsigned wr__server_stats(const wr_server *srv, const wr_reactor_stats **out)
{
	*out = srv->stats;
	return srv->stats ? srv->nstats : 0;
}

unsigned wr__server_ws_routes(const wr_server *srv) { return srv->nws_routes; }

const wr_ws_route *wr__server_ws_route(const wr_server *srv, unsigned i, const char **out_path)
{
	*out_path = srv->ws_paths[i];
	return srv->ws_routes[i];
}
unsigned wr__server_http_routes(const wr_server *srv) { return srv->nhttp_routes; }

const wr_http_route_rec *wr__server_http_route(const wr_server *srv, unsigned i)
{
	return srv->http_routes[i];
}

const wr_http_route_stats *wr__server_http_unmatched(const wr_server *srv)
{
	return srv->http_unmatched;
}

unsigned wr_server_threads(const wr_server *srv) { return srv->nreactors; }

void wr_server_stop(wr_server *srv)
{
	if (!srv)
		return;
	atomic_store(&srv->stop_requested, true);
	if (!srv->rs || srv->joined)
		return;
	/* Async-signal-safe: only reads of fields fixed before the threads started, and an
	 * eventfd write. A reactor that is not running (yet) sees stop_requested instead. */
	for (unsigned i = 0; i < srv->nreactors; i++)
		if (srv->rs[i].start_rc == 0 && srv->rs[i].r)
			wr__reactor_wake(srv->rs[i].r);
}

int wr_server_run_on(wr_server *srv, unsigned idx, void (*fn)(void *arg), void *arg)
{
	if (!srv || !fn || idx >= srv->nreactors || !srv->rs)
		return -EINVAL;
	if (atomic_load(&srv->stop_requested) || srv->joined)
		return -ESHUTDOWN;
	pthread_mutex_lock(&srv->post_lock);
	srv_reactor *sr = &srv->rs[idx];
	int rc = sr->posts_open ? wr__poster_send(srv->poster, sr->r, fn, arg) : -ESHUTDOWN;
	pthread_mutex_unlock(&srv->post_lock);
	return rc;
}

void wr_server_free(wr_server *srv)
{
	if (!srv)
		return;
	wr_server_stop(srv);
	wr_server_wait(srv);
	free(srv->rs);
	for (unsigned i = 0; i < srv->nws_routes; i++) {
		wr__route_stats_free(srv->ws_routes[i]->stats, srv->nstats);
		free(srv->ws_routes[i]);
		free(srv->ws_paths[i]);
	}
	for (unsigned i = 0; i < srv->nhttp_routes; i++) {
		wr__http_route_stats_free(srv->http_routes[i]->stats, srv->nstats);
		free_http_rec(srv->http_routes[i]);
	}
	free(srv->http_routes);
	wr__http_route_stats_free(srv->http_unmatched, srv->nstats);
	wr__reactor_stats_free(srv->stats, srv->nstats);
	for (unsigned i = 0; i < srv->nhttp_fibers; i++)
		free(srv->http_fibers[i]);
	wr__router_free(srv->router);
	wr__tls_ctx_free(srv->tls);
	wr__poster_free(srv->poster);
	wr__pubsub_free(srv->pubsub);
	pthread_mutex_destroy(&srv->post_lock);
	pthread_mutex_destroy(&srv->start_lock);
	pthread_cond_destroy(&srv->start_cond);
	free(srv);
}
