/* Address resolution (one policy) and the helper thread that keeps DNS off reactor threads. */
#include "addr.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "reactor.h"

static int gai_errno(int gai)
{
	switch (gai) {
	case EAI_SYSTEM:
		return errno ? -errno : -EIO;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_AGAIN:
		return -EAGAIN;
	default:
		return -EHOSTUNREACH;
	}
}

static int resolve(const char *host, uint16_t port, int flags, struct addrinfo **out)
{
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICSERV | flags };
	int gai = getaddrinfo(host, ps, &hints, out);
	if (gai == EAI_BADFLAGS || (gai == EAI_NONAME && (flags & AI_ADDRCONFIG))) {
		/* AI_ADDRCONFIG hides loopback on a host without another configured address. */
		hints.ai_flags &= ~AI_ADDRCONFIG;
		gai = getaddrinfo(host, ps, &hints, out);
	}
	if (gai == EAI_NONAME && (flags & AI_NUMERICHOST))
		return -EAGAIN;
	return gai ? gai_errno(gai) : 0;
}

int wr__addr_resolve(const char *host, uint16_t port, bool passive, struct addrinfo **out)
{
	return resolve(host, port, passive ? AI_PASSIVE : AI_ADDRCONFIG, out);
}

int wr__addr_resolve_numeric(const char *host, uint16_t port, struct addrinfo **out)
{
	return resolve(host, port, AI_NUMERICHOST, out);
}

/* ---- the helper thread ---- */

typedef struct request {
	struct request *next;
	wr_resolver *rs;
	char *host;
	uint16_t port;
	int res;
	struct addrinfo *ai;
	wr_resolve_done done;
	void *user;
} request;

struct wr_resolver {
	wr_reactor *r;
	wr_poster *poster;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool quit;
	request *todo, **todo_tail;
	request *stuck;          /* answers that could not be posted: cancelled at free */
};

static void request_free(request *q)
{
	if (q->ai)
		freeaddrinfo(q->ai);
	free(q->host);
	free(q);
}

/* On the reactor's thread. */
static void deliver(void *arg)
{
	request *q = arg;
	struct addrinfo *ai = q->ai;
	q->ai = NULL;
	q->done(q->res, q->res < 0 ? NULL : ai, q->user);
	if (q->res < 0 && ai)
		freeaddrinfo(ai);
	request_free(q);
}

static void *resolver_main(void *arg)
{
	wr_resolver *rs = arg;
	pthread_mutex_lock(&rs->lock);
	for (;;) {
		while (!rs->todo && !rs->quit)
			pthread_cond_wait(&rs->cond, &rs->lock);
		if (rs->quit)
			break;
		request *q = rs->todo;
		rs->todo = q->next;
		if (!rs->todo)
			rs->todo_tail = &rs->todo;
		pthread_mutex_unlock(&rs->lock);
		q->res = wr__addr_resolve(q->host, q->port, false, &q->ai);
		int rc = wr__poster_send(rs->poster, rs->r, deliver, q);
		pthread_mutex_lock(&rs->lock);
		if (rc < 0) {
			wr__log("resolver: cannot post an answer: %s", wr_strerror(rc));
			q->next = rs->stuck;
			rs->stuck = q;
		}
	}
	pthread_mutex_unlock(&rs->lock);
	return NULL;
}

int wr__resolver_new(wr_reactor *r, wr_resolver **out)
{
	wr_resolver *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	int rc = wr__poster_new(&rs->poster);
	if (rc < 0) {
		free(rs);
		return rc;
	}
	rs->r = r;
	rs->todo_tail = &rs->todo;
	pthread_mutex_init(&rs->lock, NULL);
	pthread_cond_init(&rs->cond, NULL);
	*out = rs;
	return 0;
}

int wr__resolver_start(wr_resolver *rs, const char *host, uint16_t port, wr_resolve_done done,
                       void *user)
{
	request *q = calloc(1, sizeof(*q));
	if (!q || !(q->host = strdup(host))) {
		free(q);
		return -ENOMEM;
	}
	q->rs = rs;
	q->port = port;
	q->done = done;
	q->user = user;
	pthread_mutex_lock(&rs->lock);
	int rc = 0;
	if (!rs->started) {
		rc = -pthread_create(&rs->thread, NULL, resolver_main, rs);
		rs->started = rc == 0;
	}
	if (rc == 0) {
		*rs->todo_tail = q;
		rs->todo_tail = &q->next;
		pthread_cond_signal(&rs->cond);
	}
	pthread_mutex_unlock(&rs->lock);
	if (rc < 0)
		request_free(q);
	return rc;
}

static void cancel_all(request *q)
{
	while (q) {
		request *n = q->next;
		q->res = -ECANCELED;
		deliver(q);
		q = n;
	}
}

void wr__resolver_free(wr_resolver *rs)
{
	if (!rs)
		return;
	pthread_mutex_lock(&rs->lock);
	rs->quit = true;
	pthread_cond_signal(&rs->cond);
	pthread_mutex_unlock(&rs->lock);
	if (rs->started)
		pthread_join(rs->thread, NULL);
	cancel_all(rs->todo);
	cancel_all(rs->stuck);
	wr__poster_free(rs->poster);
	pthread_mutex_destroy(&rs->lock);
	pthread_cond_destroy(&rs->cond);
	free(rs);
}
