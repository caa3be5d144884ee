/* The async client: a reactor run by the caller's thread with many WebSocket client
 * connections on it (connect.c makes them). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connect.h"
#include "log.h"
#include "reactor.h"
#include "ws.h"

typedef struct every {
	struct every *next;
	wr_loop *loop;
	void (*fn)(wr_loop *loop, void *user);
	void *user;
} every;

struct wr_loop {
	wr_reactor *r;
	wr_connector *k;
	every *every;
	bool pin;
	int cpu;
};

/* ---- the loop ---- */

uint64_t wr_now_ns(void) { return wr__now_ns(); }

static void on_post(wr_conn *c, const wr_inbox_msg *m, void *user)
{
	wr__ws_on_post(c, m);
}

int wr_loop_send(wr_loop *loop, wr_handle h, const void *data, size_t len, wr_opcode op)
{
	if (!loop || (h.v >> 56) || wr__ws_post_check(op, data, len) < 0)
		return -EINVAL;
	return wr__inbox_post(&loop->r->inbox, h.v, WR_WS_POST_SEND, (uint8_t)op, 0, data, len);
}

int wr_loop_close(wr_loop *loop, wr_handle h, int code, const char *reason)
{
	size_t rl = reason ? strlen(reason) : 0;
	if (!loop || (h.v >> 56) || wr__ws_close_check(code, reason, rl) < 0)
		return -EINVAL;
	return wr__inbox_post(&loop->r->inbox, h.v, WR_WS_POST_CLOSE, 0, (uint16_t)code, reason,
	                      rl ? rl + 1 : 0);
}

wr_loop *wr_loop_new(const wr_loop_config *cfg, int *out_err)
{
	static const wr_loop_config defaults = { .cpu = -1 };
	if (!cfg)
		cfg = &defaults;
	int rc;
	wr_reactor_config rc_cfg = {
		.max_conns = cfg->max_conns ? cfg->max_conns : 65536,
		.recv_buf_count = cfg->recv_buf_count ? cfg->recv_buf_count : 1024,
		.recv_buf_size = cfg->recv_buf_size ? cfg->recv_buf_size : 16384,
		.max_send_buffer = 64u << 20,
		.linger_ms = 2000,
		.stop_ms = 5000,
		.on_post = on_post,
	};
	wr_loop *l = calloc(1, sizeof(*l));
	if (!l) {
		rc = -ENOMEM;
		goto err_alloc;
	}
	rc = -EINVAL;
	if ((rc_cfg.recv_buf_count & (rc_cfg.recv_buf_count - 1)) || rc_cfg.recv_buf_count > 32768 ||
	    rc_cfg.recv_buf_size < 256 || rc_cfg.recv_buf_size > (1u << 24))
		goto err_cfg;
	l->pin = cfg->pin && cfg->cpu >= 0;
	l->cpu = cfg->cpu;
	rc = wr__reactor_new(&rc_cfg, &l->r);
	if (rc < 0)
		goto err_cfg;
	l->k = wr__connector_new(l->r);
	if (!l->k) {
		rc = -ENOMEM;
		goto err_connector;
	}
	return l;

err_connector:
	wr__reactor_free(l->r);
err_cfg:
	free(l);
err_alloc:
	if (out_err)
		*out_err = rc;
	return NULL;
}

int wr_loop_run(wr_loop *loop)
{
	/* Pinning is for the thread that runs the loop, while it runs: the caller's own
	 * affinity is given back afterwards. */
	cpu_set_t old;
	bool pinned = false;
	if (loop->pin && pthread_getaffinity_np(pthread_self(), sizeof(old), &old) == 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(loop->cpu, &set);
		pinned = pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
	}
	wr__reactor_reset_stop(loop->r);
	int rc = wr__reactor_run(loop->r);
	if (pinned)
		pthread_setaffinity_np(pthread_self(), sizeof(old), &old);
	return rc;
}

void wr_loop_stop(wr_loop *loop)
{
	wr__reactor_wake(loop->r);
}

void wr_loop_free(wr_loop *loop)
{
	if (!loop)
		return;
	/* Answers still on their way are cancelled (their connections fail), those already
	 * posted run; then every connection left is closed with on_close. */
	wr__connector_stop(loop->k);
	wr__reactor_drain_posts(loop->r);
	wr__reactor_free(loop->r);
	wr__connector_free(loop->k);
	for (every *e = loop->every, *n; e; e = n) {
		n = e->next;
		free(e);
	}
	free(loop);
}

static void every_fire(void *user)
{
	every *e = user;
	e->fn(e->loop, e->user);
}

int wr_loop_every(wr_loop *loop, unsigned ms, void (*fn)(wr_loop *, void *), void *user)
{
	if (!ms || !fn)
		return -EINVAL;
	every *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*e = (every){ .next = loop->every, .loop = loop, .fn = fn, .user = user };
	int rc = wr__reactor_every(loop->r, ms, every_fire, e);
	if (rc < 0) {
		free(e);
		return rc;
	}
	loop->every = e;
	return 0;
}

wr_reactor *wr__loop_reactor(wr_loop *loop) { return loop->r; }

int wr_loop_connect(wr_loop *loop, const char *url, const wr_client_options *opts,
                    const wr_ws_handlers *h)
{
	if (!loop)
		return -EINVAL;
	return wr__connector_connect(loop->k, url, opts, h, NULL);
}
