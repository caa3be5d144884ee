/* "No malloc per publish in the steady state", counted: this program replaces malloc, calloc
 * and realloc for the whole process (the library's reactor threads included) with counting
 * wrappers around glibc's own, warms the path up, then publishes from a thread that is no
 * reactor to subscribers on two reactors (in batches of 100: a burst of more publications
 * than a reactor's inbox has nodes, 1024, takes heap nodes for the excess, by design) and
 * 500 at once from a reactor's handler, and requires that not one allocation happened
 * anywhere while those publications went from the publisher to every subscriber's socket;
 * then the same, one publication at a time, to 1,200 subscribers on one reactor (more than
 * the output segments' default free list holds). Built without sanitizers only: ASan and TSan replace malloc
 * themselves, and under ASan the frame pool is off on purpose. */
#include "tap_shim.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "live.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t k);
extern void *__libc_realloc(void *p, size_t n);

static atomic_bool counting;
static atomic_long allocs;

void *malloc(size_t n)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t k)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_calloc(n, k);
}

void *realloc(void *p, size_t n)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_realloc(p, n);
}

static wr_server *srv;
static atomic_uint reactors_seen;

static void sub_open(wr_ws *ws, const wr_req *req, void *user)
{
	wr_ws_subscribe(ws, "feed");
	wr_ws_send_text(ws, "ready");
	atomic_fetch_or(&reactors_seen, 1u << wr_ws_reactor(ws));
}

/* A /pub client's message "N": its handler publishes N messages on "feed". */
static void pub_message(wr_ws *ws, wr_msg msg, void *user)
{
	int n = atoi((const char *)msg.data);
	for (int i = 0; i < n; i++)
		wr_ws_publish(ws, "feed", "from-a-handler..", 16, WR_OP_BINARY);
}

#define NSUB 8
#define MAXSUB 48
static int nfds;

/* Read n 16-byte binary messages on every subscriber. */
static void drain(int *fds, int n)
{
	for (int s = 0; s < nfds; s++)
		for (int i = 0; i < n; i++) {
			char buf[64];
			int op, fin;
			cr_assert_eq(live_ws_recv(fds[s], &op, &fin, buf, sizeof(buf)), 16);
		}
}

static void publish(int n)
{
	for (int i = 0; i < n; i++) {
		int rc;
		while ((rc = wr_server_publish(srv, "feed", "0123456789abcdef", 16, WR_OP_BINARY)) ==
		       -EAGAIN)
			usleep(100);
		cr_assert_eq(rc, 0);
	}
}

Test(pubsub_alloc, steady_state_publishes_allocate_nothing)
{
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = 2, .ping_interval_ms = -1u }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/sub", &(wr_ws_handlers){ .on_open = sub_open }), 0);
	cr_assert_eq(wr_server_websocket(srv, "/pub", &(wr_ws_handlers){ .on_message = pub_message }), 0);
	uint16_t port = live_start(srv);
	int fds[MAXSUB];
	nfds = 0;
	/* At least NSUB, and both reactors must have some (connections land by the kernel's
	 * hash). */
	while (nfds < MAXSUB && (nfds < NSUB || atomic_load(&reactors_seen) != 3)) {
		int fd = live_connect(port);
		cr_assert_eq(live_ws_handshake(fd, "/sub"), 0);
		char buf[16];
		int op, fin;
		cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 5);
		fds[nfds++] = fd;
	}
	cr_assert_eq(atomic_load(&reactors_seen), 3);
	int pub = live_connect(port);
	cr_assert_eq(live_ws_handshake(pub, "/pub"), 0);
	/* Warm up: pools, segments, the sender's ring, the inbox nodes. */
	for (int round = 0; round < 3; round++) {
		publish(2000);
		drain(fds, 2000);
		cr_assert_eq(live_ws_send(pub, 1, WR_OP_TEXT, "500", 3), 0);
		drain(fds, 500);
	}
	long n = 0;
	atomic_store(&allocs, 0);
	atomic_store(&counting, true);
	for (int k = 0; k < 20; k++) {
		publish(100);
		drain(fds, 100);
	}
	atomic_store(&counting, false);
	long nthread = atomic_load(&allocs);
	/* The handler's burst, triggered by a frame made here without an allocation (masked
	 * with the key 0, which leaves the payload as it is). */
	static const uint8_t trigger[] = { 0x81, 0x83, 0, 0, 0, 0, '5', '0', '0' };
	atomic_store(&allocs, 0);
	atomic_store(&counting, true);
	cr_assert_eq(send(pub, trigger, sizeof(trigger), 0), (ssize_t)sizeof(trigger));
	drain(fds, 500);
	atomic_store(&counting, false);
	long nhandler = atomic_load(&allocs);
	printf("# from a thread (20 x 100): %ld, from a handler (500 in one callback): %ld\n",
	       nthread, nhandler);
	n = nthread + nhandler;
	printf("# allocations while 2,500 publications reached %d subscribers: %ld\n", nfds, n);
	cr_assert_eq(n, 0);
	wr_pubsub_stats st;
	wr_server_pubsub_stats(srv, &st);
	cr_assert_eq(st.dropped + st.unrouted, 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(pub);
	wr_server_free(srv);
}

/* A broadcast to more connections than a reactor's free lists keep by default (1,024 small
 * output segments): one message per subscriber queues one small segment on each, and the
 * periodic broadcast must find them on the free list again, not in malloc (and the heap's
 * growth, sbrk and page faults, that came with it every message). */
#define WIDE 1200

Test(pubsub_alloc, broadcast_to_more_connections_than_the_default_free_list)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * WIDE + 256 && rl.rlim_max >= 2 * WIDE + 256) {
		rl.rlim_cur = 2 * WIDE + 256;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	cr_assert_geq(rl.rlim_cur, 2 * WIDE + 256, "RLIMIT_NOFILE too low: %lu", (unsigned long)rl.rlim_cur);
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = 1, .ping_interval_ms = -1u }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/sub", &(wr_ws_handlers){ .on_open = sub_open }), 0);
	uint16_t port = live_start(srv);
	static int fds[WIDE];
	for (nfds = 0; nfds < WIDE; nfds++) {
		int fd = live_connect(port);
		cr_assert_geq(fd, 0);
		cr_assert_eq(live_ws_handshake(fd, "/sub"), 0);
		char buf[16];
		int op, fin;
		cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 5);
		fds[nfds] = fd;
	}
	/* Warm up, then one message at a time, each read by every subscriber before the next:
	 * the segments go back to the free list between broadcasts. */
	for (int k = 0; k < 5; k++) {
		publish(1);
		drain(fds, 1);
	}
	atomic_store(&allocs, 0);
	atomic_store(&counting, true);
	for (int k = 0; k < 20; k++) {
		publish(1);
		drain(fds, 1);
	}
	atomic_store(&counting, false);
	long n = atomic_load(&allocs);
	printf("# allocations while 20 publications, one at a time, reached %d subscribers: %ld\n",
	       nfds, n);
	cr_assert_eq(n, 0);
	wr_pubsub_stats st;
	wr_server_pubsub_stats(srv, &st);
	cr_assert_eq(st.delivered, 25u * WIDE);
	cr_assert_eq(st.dropped + st.unrouted, 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	wr_server_free(srv);
}
