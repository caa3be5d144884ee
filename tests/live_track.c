/* The registry behind live.h's failure-path cleanup: what a live test made and did not free
 * is freed when the test process exits. Threads of a test may create and free too, hence the
 * lock; this is test code, not a hot path. */
#define WR_LIVE_IMPL
#include "live.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

enum kind { SERVER, CLIENT, LOOP };

struct entry {
	struct entry *next;
	enum kind kind;
	void *p;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *head;
static bool registered;

/* Clients first (they may talk to the servers), then loops, then servers. */
static void free_kind(enum kind k)
{
	for (;;) {
		pthread_mutex_lock(&lock);
		struct entry **e = &head;
		while (*e && (*e)->kind != k)
			e = &(*e)->next;
		struct entry *dead = *e;
		if (dead)
			*e = dead->next;
		pthread_mutex_unlock(&lock);
		if (!dead)
			return;
		if (k == SERVER)
			wr_server_free(dead->p);
		else if (k == CLIENT)
			wr_client_free(dead->p);
		else
			wr_loop_free(dead->p);
		free(dead);
	}
}

/* Runs before LeakSanitizer's own exit check, which was registered earlier. */
static void free_left_behind(void)
{
	free_kind(CLIENT);
	free_kind(LOOP);
	free_kind(SERVER);
}

static void *track(enum kind k, void *p)
{
	if (!p)
		return p;
	struct entry *e = malloc(sizeof(*e));
	if (!e)
		abort();
	*e = (struct entry){ .kind = k, .p = p };
	pthread_mutex_lock(&lock);
	if (!registered) {
		atexit(free_left_behind);
		registered = true;
	}
	e->next = head;
	head = e;
	pthread_mutex_unlock(&lock);
	return p;
}

/* Forget p (nothing happens when it was never tracked). */
static void untrack(void *p)
{
	pthread_mutex_lock(&lock);
	for (struct entry **e = &head; *e; e = &(*e)->next) {
		if ((*e)->p == p) {
			struct entry *dead = *e;
			*e = dead->next;
			free(dead);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

wr_server *live_track_server(wr_server *s) { return track(SERVER, s); }
wr_client *live_track_client(wr_client *c) { return track(CLIENT, c); }
wr_loop *live_track_loop(wr_loop *l) { return track(LOOP, l); }

void live_server_free(wr_server *s)
{
	untrack(s);
	wr_server_free(s);
}

void live_client_free(wr_client *c)
{
	untrack(c);
	wr_client_free(c);
}

void live_loop_free(wr_loop *l)
{
	untrack(l);
	wr_loop_free(l);
}
