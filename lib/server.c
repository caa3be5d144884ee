/* The server: configuration defaults, routes, reactor threads, start/stop, cross-thread posts. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reactor.h"
#include "ud.h"

struct wr_server {
	wr_shared sh;
	unsigned nreactors;
	wr_reactor **reactors;
	bool started;
	bool joined;
	atomic_bool stop_requested;
	uint16_t port;
	int run_rc;
	/* Posting from any thread goes through this small ring, under a lock (not a hot path). */
	pthread_mutex_t post_lock;
	wr_ring *post_ring;
	pthread_mutex_t start_lock;
	pthread_cond_t start_cond;
	unsigned started_count;
	wr_ws_handlers *ws_routes[64];
	unsigned nws_routes;
};

int wr__config_defaults(wr_server_config *c)
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
		c->max_message_bytes = 16u << 20;
	if (!c->max_send_buffer)
		c->max_send_buffer = 64u << 20;
	if (!c->handshake_timeout_ms)
		c->handshake_timeout_ms = 10000;
	if (!c->idle_timeout_ms)
		c->idle_timeout_ms = 60000;
	if (!c->ping_interval_ms)
		c->ping_interval_ms = 30000;
	if (!c->close_timeout_ms)
		c->close_timeout_ms = 5000;
	if (!c->backlog)
		c->backlog = 4096;
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
		srv->sh.cfg = *cfg;
	/* The caller's TLS block is borrowed only until return: sh.tls holds what it built. */
	srv->sh.cfg.tls = NULL;
	rc = wr__config_defaults(&srv->sh.cfg);
	if (rc < 0)
		goto err_cfg;
	srv->sh.srv = srv;
	srv->sh.router = wr__router_new();
	if (!srv->sh.router) {
		rc = -ENOMEM;
		goto err_cfg;
	}
	if (cfg && cfg->tls) {
		rc = wr__tls_ctx_new(cfg->tls, true, &srv->sh.tls);
		if (rc < 0)
			goto err_tls;
	}
	pthread_mutex_init(&srv->post_lock, NULL);
	pthread_mutex_init(&srv->start_lock, NULL);
	pthread_cond_init(&srv->start_cond, NULL);
	atomic_init(&srv->stop_requested, false);
	srv->nreactors = srv->sh.cfg.threads;
	return srv;

err_tls:
	wr__router_free(srv->sh.router);
err_cfg:
	free(srv);
err_alloc:
	if (out_err)
		*out_err = rc;
	return NULL;
}

static int add_route(wr_server *srv, const char *method, const char *pattern, const wr_route *rt)
{
	if (!srv || !pattern)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	return wr__router_add(srv->sh.router, method, pattern, rt);
}

int wr_server_route(wr_server *srv, const char *method, const char *pattern, wr_http_handler fn,
                    void *user)
{
	if (!fn)
		return -EINVAL;
	wr_route rt = { .kind = WR_ROUTE_HTTP, .fn = (void *)fn, .user = user };
	return add_route(srv, method, pattern, &rt);
}

int wr_server_get(wr_server *s, const char *p, wr_http_handler fn, void *u) { return wr_server_route(s, "GET", p, fn, u); }
int wr_server_post(wr_server *s, const char *p, wr_http_handler fn, void *u) { return wr_server_route(s, "POST", p, fn, u); }
int wr_server_put(wr_server *s, const char *p, wr_http_handler fn, void *u) { return wr_server_route(s, "PUT", p, fn, u); }
int wr_server_delete(wr_server *s, const char *p, wr_http_handler fn, void *u) { return wr_server_route(s, "DELETE", p, fn, u); }

int wr_server_websocket(wr_server *srv, const char *path, const wr_ws_handlers *h)
{
	if (!srv || !h || !path)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	if (srv->nws_routes == sizeof(srv->ws_routes) / sizeof(srv->ws_routes[0]))
		return -ENOSPC;
	wr_ws_handlers *copy = malloc(sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	*copy = *h;
	wr_route rt = { .kind = WR_ROUTE_WS, .ws = copy };
	int rc = add_route(srv, "GET", path, &rt);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	srv->ws_routes[srv->nws_routes++] = copy;
	return 0;
}

typedef struct start_arg {
	wr_server *srv;
	wr_reactor *r;
	int listen_fd;
} start_arg;

static void *reactor_main(void *arg)
{
	wr_reactor *r = arg;
	wr_server *srv = r->sh->srv;
	if (r->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(r->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set); /* best effort */
	}
	int fd = r->listen_fd;
	pthread_t self = r->thread;
	/* The ring is created here: SINGLE_ISSUER binds it to the creating thread. */
	int rc = wr__reactor_init(r, r->sh, r->idx, r->cpu);
	r->listen_fd = fd;
	r->thread = self;
	if (rc == 0) {
		/* Open to posts before the starter returns: wr_server_run_on works at once. */
		pthread_mutex_lock(&srv->post_lock);
		r->posts_open = true;
		pthread_mutex_unlock(&srv->post_lock);
	}
	pthread_mutex_lock(&srv->start_lock);
	r->start_rc = rc;
	srv->started_count++;
	pthread_cond_broadcast(&srv->start_cond);
	pthread_mutex_unlock(&srv->start_lock);
	if (rc < 0)
		return NULL;
	if (atomic_load(&srv->stop_requested))
		wr__reactor_begin_stop(r);
	rc = wr__reactor_run(r);
	pthread_mutex_lock(&srv->post_lock);
	r->posts_open = false;
	pthread_mutex_unlock(&srv->post_lock);
	wr__reactor_drain_posts(r);
	if (rc < 0)
		srv->run_rc = rc;
	wr__reactor_finish(r);
	if (r->sh->tls)
		wr__tls_thread_done();
	return NULL;
}

static void close_listeners(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int wr_server_start(wr_server *srv, const char *host, uint16_t port)
{
	if (!srv)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	srv->started = true;
	unsigned n = srv->nreactors;
	int rc;
	srv->reactors = calloc(n, sizeof(*srv->reactors));
	int *fds = malloc(sizeof(int) * n);
	if (!srv->reactors || !fds) {
		rc = -ENOMEM;
		goto err_alloc;
	}
	for (unsigned i = 0; i < n; i++)
		fds[i] = -1;
	/* Listeners are bound here so an ephemeral port is known before the threads start. */
	for (unsigned i = 0; i < n; i++) {
		wr_reactor tmp = { .sh = &srv->sh };
		rc = wr__reactor_listen(&tmp, host ? host : "0.0.0.0", port, &port);
		if (rc < 0)
			goto err_listen;
		fds[i] = tmp.listen_fd;
	}
	srv->port = port;
	wr_ring_config pc = { .entries = 64, .buf_count = 0, .single_issuer = false };
	rc = wr__ring_new(&pc, &srv->post_ring);
	if (rc < 0)
		goto err_listen;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned launched = 0;
	for (unsigned i = 0; i < n; i++) {
		wr_reactor *r = aligned_alloc(64, (sizeof(wr_reactor) + 63) & ~(size_t)63);
		if (!r) {
			rc = -ENOMEM;
			break;
		}
		memset(r, 0, sizeof(*r));
		r->idx = i;
		r->cpu = ncpu > 0 ? (int)(i % (unsigned)ncpu) : -1;
		r->sh = &srv->sh;
		r->listen_fd = fds[i];
		fds[i] = -1;
		srv->reactors[i] = r;
		rc = -pthread_create(&r->thread, NULL, reactor_main, r);
		if (rc < 0) {
			close(r->listen_fd);
			free(r);
			srv->reactors[i] = NULL;
			break;
		}
		launched++;
	}
	pthread_mutex_lock(&srv->start_lock);
	while (srv->started_count < launched)
		pthread_cond_wait(&srv->start_cond, &srv->start_lock);
	pthread_mutex_unlock(&srv->start_lock);
	for (unsigned i = 0; i < launched; i++)
		if (srv->reactors[i]->start_rc < 0 && rc >= 0)
			rc = srv->reactors[i]->start_rc;
	free(fds);
	if (rc < 0) {
		wr_server_stop(srv);
		wr_server_wait(srv);
		return rc;
	}
	return 0;

err_listen:
	close_listeners(fds, n);
err_alloc:
	free(fds);
	free(srv->reactors);
	srv->reactors = NULL;
	return rc;
}

int wr_server_wait(wr_server *srv)
{
	if (!srv || !srv->reactors || srv->joined)
		return srv && srv->run_rc ? srv->run_rc : 0;
	for (unsigned i = 0; i < srv->nreactors; i++) {
		wr_reactor *r = srv->reactors[i];
		if (!r)
			continue;
		pthread_join(r->thread, NULL);
		if (r->start_rc < 0 && r->listen_fd >= 0)
			close(r->listen_fd);
	}
	srv->joined = true;
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
unsigned wr_server_threads(const wr_server *srv) { return srv->nreactors; }

void wr_server_stop(wr_server *srv)
{
	if (!srv)
		return;
	atomic_store(&srv->stop_requested, true);
	if (!srv->reactors || srv->joined)
		return;
	for (unsigned i = 0; i < srv->nreactors; i++)
		if (srv->reactors[i] && srv->reactors[i]->start_rc == 0)
			wr__reactor_wake(srv->reactors[i]);
}

int wr_server_run_on(wr_server *srv, unsigned idx, void (*fn)(void *arg), void *arg)
{
	if (!srv || !fn || idx >= srv->nreactors || !srv->reactors || !srv->reactors[idx])
		return -EINVAL;
	if (atomic_load(&srv->stop_requested) || srv->joined)
		return -ESHUTDOWN;
	wr_post *p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&srv->post_lock);
	wr_reactor *r = srv->reactors[idx];
	int rc = -ESHUTDOWN;
	if (r->posts_open) {
		/* One post at a time under the lock: the completion we wait for is this one's. */
		wr__ring_msg(srv->post_ring, wr__ring_fd(r->ring), wr_ud_ptr(WR_OPK_POST, p), 0,
		             wr_ud_ptr(WR_OPK_MSG_SENT, p));
		rc = wr__ring_submit_wait(srv->post_ring, -1);
		wr_cqe cqe;
		if (rc >= 0 && wr__ring_reap(srv->post_ring, &cqe, 1) == 1)
			rc = cqe.res;
		else if (rc >= 0)
			rc = -EIO;
	}
	pthread_mutex_unlock(&srv->post_lock);
	if (rc < 0) {
		free(p); /* not delivered: the reactor will never see it */
		return rc;
	}
	return 0;
}

void wr_server_free(wr_server *srv)
{
	if (!srv)
		return;
	wr_server_stop(srv);
	wr_server_wait(srv);
	if (srv->reactors)
		for (unsigned i = 0; i < srv->nreactors; i++)
			free(srv->reactors[i]);
	free(srv->reactors);
	for (unsigned i = 0; i < srv->nws_routes; i++)
		free(srv->ws_routes[i]);
	wr__router_free(srv->sh.router);
	wr__tls_ctx_free(srv->sh.tls);
	wr__ring_free(srv->post_ring);
	pthread_mutex_destroy(&srv->post_lock);
	pthread_mutex_destroy(&srv->start_lock);
	pthread_cond_destroy(&srv->start_cond);
	free(srv);
}
