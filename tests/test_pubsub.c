/* Pub/sub over real sockets: subscribers on several reactors get one publisher's messages in
 * order, from foreign threads and from handlers; wildcards and a connection matched twice;
 * the limits; the slow-subscriber policies (drop oldest, conflate by key, close 1008) with
 * their counts; subscriptions gone after close and at stop; a fiber route; permessage-deflate
 * subscribers sharing one compression per window size. Also built without Criterion
 * (tap_shim.h) for the ThreadSanitizer build (tests/run, suite tsan). */
#ifdef WR_TAP_SHIM
#include "tap_shim.h"
#else
#include <criterion/criterion.h>
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "live.h"

static wr_server *srv;
static atomic_uint reactors_seen;   /* bit per reactor that had a subscriber */
static atomic_int last_close;
static atomic_int subscribed;       /* subscribers whose on_open has run */

/* /sub?t=a,b,c subscribes to a, b and c; the first message it gets is the result of each. */
static void sub_open(wr_ws *ws, const wr_req *req, void *user)
{
	wr_str q = wr_req_query(req);
	char topics[512] = { 0 }, res[256] = "subs";
	if (q.len > 2 && q.len < sizeof(topics) + 2 && !memcmp(q.data, "t=", 2))
		memcpy(topics, q.data + 2, q.len - 2);
	char *save = NULL;
	for (char *t = strtok_r(topics, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t l = strlen(res);
		snprintf(res + l, sizeof(res) - l, " %d", wr_ws_subscribe(ws, t));
	}
	wr_ws_send_text(ws, res);
	atomic_fetch_or(&reactors_seen, 1u << wr_ws_reactor(ws));
	atomic_fetch_add(&subscribed, 1);
}

static void sub_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	atomic_store(&last_close, code);
}

/* Commands from a /ctl client, run in its handler (so on a reactor, within one callback):
 *   burst TOPIC N SIZE KEYS   publish N messages "seq=I" padded to SIZE, keyed I % KEYS
 *   pub TOPIC TEXT            wr_ws_publish
 *   unsub TOPIC / sub TOPIC   on this connection
 * each answered "ok RC". */
static void ctl_message(wr_ws *ws, wr_msg msg, void *user)
{
	char cmd[256], topic[256], text[256];
	int n = 0, size = 0, keys = 0, rc = 0;
	snprintf(cmd, sizeof(cmd), "%.*s", (int)msg.len, (const char *)msg.data);
	if (sscanf(cmd, "burst %255s %d %d %d", topic, &n, &size, &keys) == 4) {
		char *p = calloc(1, (size_t)size + 32);
		for (int i = 0; i < n && rc == 0; i++) {
			int l = snprintf(p, 32, "seq=%d;", i);
			memset(p + l, 'x', (size_t)(size > l ? size - l : 0));
			char key[16];
			snprintf(key, sizeof(key), "k%d", keys ? i % keys : 0);
			rc = wr_server_publish_keyed(srv, topic, keys ? key : NULL, p,
			                             (size_t)(size > l ? size : l), WR_OP_TEXT);
		}
		free(p);
	} else if (sscanf(cmd, "pub %255s %255s", topic, text) == 2) {
		rc = wr_ws_publish(ws, topic, text, strlen(text), WR_OP_TEXT);
	} else if (sscanf(cmd, "say %d", &n) == 1 && n > 0 && n < 4000) {
		char *p = malloc((size_t)n);
		for (int i = 0; i < n; i++)
			p[i] = "own message, compressed on the connection's stream "[i % 51];
		rc = wr_ws_send(ws, p, (size_t)n, WR_OP_TEXT);
		free(p);
	} else if (sscanf(cmd, "unsub %255s", topic) == 1) {
		rc = wr_ws_unsubscribe(ws, topic);
	} else if (sscanf(cmd, "sub %255s", topic) == 1) {
		rc = wr_ws_subscribe(ws, topic);
	} else {
		rc = -EINVAL;
	}
	char ans[32];
	snprintf(ans, sizeof(ans), "ok %d", rc);
	wr_ws_send_text(ws, ans);
}

static wr_server *make_server(unsigned threads, unsigned max_subs)
{
	int err;
	wr_server *s = wr_server_new(&(wr_server_config){ .threads = threads, .close_timeout_ms = 1000,
	                                                  .max_subscriptions = max_subs }, &err);
	cr_assert(s, "%s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket(s, "/sub", &(wr_ws_handlers){ .on_open = sub_open,
	                                                                .on_close = sub_close }), 0);
	cr_assert_eq(wr_server_websocket(s, "/ctl", &(wr_ws_handlers){ .on_message = ctl_message }), 0);
	atomic_store(&reactors_seen, 0);
	atomic_store(&last_close, 0);
	atomic_store(&subscribed, 0);
	return s;
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Read one text message into buf (NUL-terminated); its opcode, or -1. */
static int recv_msg(int fd, char *buf, size_t cap)
{
	int op, fin;
	ssize_t n = live_ws_recv(fd, &op, &fin, buf, cap - 1);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return op;
}

/* A subscriber of the given topics; checks the subscribe results against want. */
static int subscriber(uint16_t port, const char *topics, const char *want)
{
	int fd = live_connect(port);
	cr_assert_geq(fd, 0);
	char path[600];
	snprintf(path, sizeof(path), "/sub?t=%s", topics);
	cr_assert_eq(live_ws_handshake(fd, path), 0);
	char buf[256];
	cr_assert_eq(recv_msg(fd, buf, sizeof(buf)), WR_OP_TEXT);
	cr_assert(strcmp(buf, want) == 0, "subscribe answered '%s', not '%s'", buf, want);
	return fd;
}

static int ctl(uint16_t port)
{
	int fd = live_connect(port);
	cr_assert_geq(fd, 0);
	cr_assert_eq(live_ws_handshake(fd, "/ctl"), 0);
	return fd;
}

/* Send a command and wait for its "ok RC" (publications may come first on a subscriber). */
static int command(int fd, const char *cmd)
{
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_TEXT, cmd, strlen(cmd)), 0);
	char buf[256];
	while (recv_msg(fd, buf, sizeof(buf)) == WR_OP_TEXT)
		if (!strncmp(buf, "ok ", 3))
			return atoi(buf + 3);
	cr_assert(0, "no answer to %s", cmd);
	return -1;
}

static wr_pubsub_stats stats_when(bool (*ok)(const wr_pubsub_stats *))
{
	wr_pubsub_stats st;
	for (int i = 0; i < 400; i++) {
		wr_server_pubsub_stats(srv, &st);
		if (ok(&st))
			break;
		usleep(5000);
	}
	return st;
}

/* ---- order per publisher, across reactors, from threads and handlers ---- */

#define NSUB 8
#define PER_PUB 400

static void *publisher(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < PER_PUB; i++) {
		char m[32];
		int n = snprintf(m, sizeof(m), "P%ld:%d", id, i);
		int rc;
		while ((rc = wr_server_publish(srv, "orders.eu", m, (size_t)n, WR_OP_TEXT)) == -EAGAIN)
			usleep(100);
		if (rc != 0)
			return (void *)(intptr_t)rc;
	}
	return NULL;
}

/* The server's metrics (wring/stats.h) count the same drops and conflations. */
static void metrics_agree(uint64_t drops, uint64_t conflations)
{
	wr_stats *m = NULL;
	cr_assert_eq(wr_server_stats(srv, &m), 0);
	cr_assert_eq(m->pubsub_drops, drops, "metrics drops %lu", (unsigned long)m->pubsub_drops);
	cr_assert_eq(m->pubsub_conflations, conflations, "metrics conflations %lu",
	             (unsigned long)m->pubsub_conflations);
	wr_stats_free(m);
}

Test(pubsub, order_per_publisher_across_reactors_threads_and_handlers, .timeout = 60)
{
	srv = make_server(2, 0);
	uint16_t port = live_start(srv);
	int fds[NSUB];
	for (int i = 0; i < NSUB; i++)
		fds[i] = subscriber(port, i % 2 ? "orders.eu" : "orders.*", "subs 0");
	for (int i = 0; i < 40 && atomic_load(&reactors_seen) != 3; i++) {
		/* The kernel spreads connections over the reactors' listeners by hash: more until
		 * both have subscribers. */
		cr_assert_lt(i, 39, "every subscriber landed on one reactor");
		close(subscriber(port, "orders.eu", "subs 0"));
	}
	int c = ctl(port);
	pthread_t th[3];
	for (long i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, publisher, (void *)i);
	/* The fourth publisher is a handler (on whichever reactor /ctl landed). */
	for (int i = 0; i < PER_PUB; i++) {
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "pub orders.eu P3:%d", i);
		cr_assert_eq(live_ws_send(c, 1, WR_OP_TEXT, cmd, strlen(cmd)), 0);
	}
	for (int i = 0; i < 3; i++) {
		void *rc;
		pthread_join(th[i], &rc);
		cr_assert_eq((intptr_t)rc, 0, "publish returned %d", (int)(intptr_t)rc);
	}
	for (int s = 0; s < NSUB; s++) {
		int next[4] = { 0 };
		set_timeout(fds[s], 5000);
		for (int got = 0; got < 4 * PER_PUB; got++) {
			char buf[64];
			cr_assert_eq(recv_msg(fds[s], buf, sizeof(buf)), WR_OP_TEXT, "subscriber %d: %d", s, got);
			int p, k;
			cr_assert_eq(sscanf(buf, "P%d:%d", &p, &k), 2, "'%s'", buf);
			cr_assert(p >= 0 && p < 4);
			cr_assert_eq(k, next[p], "subscriber %d: publisher %d sent %d, expected %d", s, p, k,
			             next[p]);
			next[p]++;
		}
		close(fds[s]);
	}
	wr_pubsub_stats st;
	wr_server_pubsub_stats(srv, &st);
	cr_assert_eq(st.published, 4 * PER_PUB);
	cr_assert_geq(st.delivered, NSUB * 4 * PER_PUB);
	cr_assert_eq(st.dropped + st.conflated + st.closed + st.unrouted, 0);
	close(c);
	wr_server_free(srv);
}

/* ---- names, wildcards, limits ---- */

Test(pubsub, wildcards_once_per_connection_and_limits, .timeout = 30)
{
	srv = make_server(2, 3);
	cr_assert_eq(wr_server_publish(srv, "x", "a", 1, WR_OP_TEXT), -ESHUTDOWN); /* not started */
	uint16_t port = live_start(srv);
	/* 4th subscription over max 3; a repeat is one subscription; bad names refused. */
	int a = subscriber(port, "prices.*,prices.btc,prices.btc,x,news", "subs 0 0 0 0 -28");
	int b = subscriber(port, "prices.btc,prices*,pri*ces,news", "subs 0 -22 -22 0");
	cr_assert_eq(wr_server_publish(srv, "prices.*", "x", 1, WR_OP_TEXT), -EINVAL);
	cr_assert_eq(wr_server_publish(srv, "", "x", 1, WR_OP_TEXT), -EINVAL);
	cr_assert_eq(wr_server_publish(srv, "t", "\xff", 1, WR_OP_TEXT), -EINVAL);
	cr_assert_eq(wr_server_publish(srv, "t", "x", 1, WR_OP_PING), -EINVAL);
	const char *seq[] = { "prices.btc", "prices.eu.eth", "prices", "news", "other" };
	for (int i = 0; i < 5; i++)
		cr_assert_eq(wr_server_publish(srv, seq[i], seq[i], strlen(seq[i]), WR_OP_TEXT), 0);
	cr_assert_eq(wr_server_publish(srv, "end", "end", 3, WR_OP_BINARY), 0);
	/* a: prices.* and prices.btc (once for prices.btc), prices.eu.eth; not news (refused). */
	char buf[64];
	set_timeout(a, 2000);
	cr_assert_eq(recv_msg(a, buf, sizeof(buf)), WR_OP_TEXT);
	cr_assert(!strcmp(buf, "prices.btc"), "%s", buf);
	cr_assert_eq(recv_msg(a, buf, sizeof(buf)), WR_OP_TEXT);
	cr_assert(!strcmp(buf, "prices.eu.eth"), "%s", buf);
	set_timeout(a, 300);
	cr_assert_eq(recv_msg(a, buf, sizeof(buf)), -1, "a got '%s'", buf);
	/* b: prices.btc then news. */
	set_timeout(b, 2000);
	cr_assert_eq(recv_msg(b, buf, sizeof(buf)), WR_OP_TEXT);
	cr_assert(!strcmp(buf, "prices.btc"), "%s", buf);
	cr_assert_eq(recv_msg(b, buf, sizeof(buf)), WR_OP_TEXT);
	cr_assert(!strcmp(buf, "news"), "%s", buf);
	/* Unsubscribe and subscribe from the connection's own handler (/ctl). */
	int c = ctl(port);
	cr_assert_eq(command(c, "unsub none"), -ENOENT);
	cr_assert_eq(command(c, "sub end"), 0);
	cr_assert_eq(command(c, "sub end"), 0);
	cr_assert_eq(command(c, "unsub end"), 0);
	cr_assert_eq(command(c, "unsub end"), -ENOENT);
	close(a);
	close(b);
	close(c);
	wr_server_free(srv);
}

/* ---- slow subscribers ---- */

static bool subs_zero(const wr_pubsub_stats *s) { return s->subscriptions == 0; }
static bool closed_one(const wr_pubsub_stats *s) { return s->closed == 1; }

/* Read data messages until a close frame or nothing: their seq= numbers into seqs. */
static int read_seqs(int fd, int *seqs, int max, int *close_code)
{
	static char buf[70000];
	int n = 0, op;
	*close_code = 0;
	set_timeout(fd, 2000);
	while ((op = recv_msg(fd, buf, sizeof(buf))) >= 0) {
		if (op == WR_OP_CLOSE) {
			*close_code = ((uint8_t)buf[0] << 8) | (uint8_t)buf[1];
			break;
		}
		if (n < max && sscanf(buf, "seq=%d;", &seqs[n]) == 1)
			n++;
		set_timeout(fd, 300);
	}
	return n;
}

Test(pubsub, drop_oldest_keeps_the_newest_and_counts, .timeout = 30)
{
	srv = make_server(1, 0);
	cr_assert_eq(wr_server_topic(srv, "d.*", &(wr_topic_config){ WR_TOPIC_DROP_OLDEST, 3 }), 0);
	uint16_t port = live_start(srv);
	cr_assert_eq(wr_server_topic(srv, "x", &(wr_topic_config){ 0 }), -EBUSY);
	int s = subscriber(port, "d.x", "subs 0");
	int c = ctl(port);
	/* In one callback: two 32 KiB messages fill the output past the 64 KiB mark, the other
	 * 18 wait, and only the newest 3 may: 15 dropped. */
	cr_assert_eq(command(c, "burst d.x 20 32768 0"), 0);
	int seqs[32], code;
	int n = read_seqs(s, seqs, 32, &code);
	cr_assert_eq(n, 5, "got %d", n);
	int want[] = { 0, 1, 17, 18, 19 };
	for (int i = 0; i < 5; i++)
		cr_assert_eq(seqs[i], want[i], "message %d is seq %d", i, seqs[i]);
	wr_pubsub_stats st;
	wr_server_pubsub_stats(srv, &st);
	cr_assert_eq(st.dropped, 15);
	cr_assert_eq(st.delivered, 5);
	cr_assert_eq(st.waiting, 0);
	metrics_agree(15, 0);
	close(s);
	close(c);
	st = stats_when(subs_zero);
	cr_assert_eq(st.subscriptions, 0);
	wr_server_free(srv);
}

Test(pubsub, conflate_keeps_the_latest_per_key, .timeout = 30)
{
	srv = make_server(1, 0);
	cr_assert_eq(wr_server_topic(srv, "q.x", &(wr_topic_config){ WR_TOPIC_CONFLATE, 100 }), 0);
	uint16_t port = live_start(srv);
	int s = subscriber(port, "q.x", "subs 0");
	int c = ctl(port);
	/* Keys i % 3: 0 and 1 go out, 2..29 wait and conflate to the latest of each key. */
	cr_assert_eq(command(c, "burst q.x 30 40000 3"), 0);
	int seqs[40], code;
	int n = read_seqs(s, seqs, 40, &code);
	cr_assert_eq(n, 5, "got %d", n);
	/* 0 (40 KB) leaves room under the 64 KiB mark, 1 passes it; 2..29 wait and only the
	 * newest of each key is left: 27, 28, 29, in publication order. */
	int want[] = { 0, 1, 27, 28, 29 };
	for (int i = 0; i < 5; i++)
		cr_assert_eq(seqs[i], want[i], "message %d is seq %d", i, seqs[i]);
	wr_pubsub_stats st;
	wr_server_pubsub_stats(srv, &st);
	cr_assert_eq(st.conflated, 25);
	cr_assert_eq(st.dropped, 0);
	metrics_agree(0, 25);
	close(s);
	close(c);
	wr_server_free(srv);
}

Test(pubsub, close_policy_sends_1008, .timeout = 30)
{
	srv = make_server(1, 0);
	cr_assert_eq(wr_server_topic(srv, "c.x", &(wr_topic_config){ WR_TOPIC_CLOSE, 4 }), 0);
	uint16_t port = live_start(srv);
	int s = subscriber(port, "c.x", "subs 0");
	int other = subscriber(port, "c.y", "subs 0");
	int c = ctl(port);
	cr_assert_eq(command(c, "burst c.x 20 32768 0"), 0);
	int seqs[32], code;
	int n = read_seqs(s, seqs, 32, &code);
	cr_assert_eq(code, 1008, "close code %d after %d messages", code, n);
	cr_assert_eq(n, 2); /* what was queued before the wait began */
	wr_pubsub_stats st = stats_when(closed_one);
	cr_assert_eq(st.closed, 1);
	cr_assert_eq(atomic_load(&last_close), 1008);
	/* The other subscriber is unharmed. */
	cr_assert_eq(command(c, "pub c.y still-here"), 0);
	char buf[64];
	set_timeout(other, 2000);
	cr_assert_eq(recv_msg(other, buf, sizeof(buf)), WR_OP_TEXT);
	cr_assert(!strcmp(buf, "still-here"), "%s", buf);
	close(s);
	close(other);
	close(c);
	wr_server_free(srv);
}

/* ---- cleanup ---- */

Test(pubsub, subscriptions_leave_on_close_and_stop_frees_waiting, .timeout = 30)
{
	srv = make_server(2, 0);
	uint16_t port = live_start(srv);
	int fds[40];
	for (int i = 0; i < 40; i++)
		fds[i] = subscriber(port, "a,b.*,c", "subs 0 0 0");
	wr_pubsub_stats st;
	wr_server_pubsub_stats(srv, &st);
	cr_assert_eq(st.subscriptions, 120);
	for (int i = 0; i < 20; i++)
		close(fds[i]);
	for (int k = 0; k < 400; k++) {
		wr_server_pubsub_stats(srv, &st);
		if (st.subscriptions == 60)
			break;
		usleep(5000);
	}
	cr_assert_eq(st.subscriptions, 60);
	/* The rest stop reading while a burst waits for them: the server stops with messages
	 * queued and waiting (ASan checks that all of it is freed). */
	int c = ctl(port);
	cr_assert_eq(command(c, "burst b.z 40 30000 0"), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(wr_server_publish(srv, "a", "late", 4, WR_OP_TEXT), 0);
	wr_server_free(srv);
	for (int i = 20; i < 40; i++)
		close(fds[i]);
	close(c);
}

/* ---- the posts to other reactors: one MSG_RING per publishing turn ---- */

Test(pubsub, a_handlers_burst_wakes_each_other_reactor_once, .timeout = 30)
{
	srv = make_server(2, 0);
	uint16_t port = live_start(srv);
	int fds[40], n = 0;
	while (n < 40 && (n < 2 || atomic_load(&reactors_seen) != 3)) {
		fds[n] = subscriber(port, "w", "subs 0");
		n++;
	}
	cr_assert_eq(atomic_load(&reactors_seen), 3);
	int c = ctl(port);
	wr_pubsub_stats a, b;
	wr_server_pubsub_stats(srv, &a);
	/* 300 publications in one callback: all posted to the one other reactor, woken once. */
	cr_assert_eq(command(c, "burst w 300 16 0"), 0);
	for (int k = 0; k < 400; k++) {
		wr_server_pubsub_stats(srv, &b);
		if (b.delivered - a.delivered == (uint64_t)n * 300)
			break;
		usleep(5000);
	}
	cr_assert_eq(b.delivered - a.delivered, (uint64_t)n * 300);
	cr_assert_eq(b.posts - a.posts, 300);
	cr_assert_eq(b.wakeups - a.wakeups, 1, "%llu wake-ups", (unsigned long long)(b.wakeups - a.wakeups));
	/* From a thread: a post to each reactor per publish, wake-ups at most as many. */
	for (int i = 0; i < 100; i++)
		cr_assert_eq(wr_server_publish(srv, "w", "0123456789abcdef", 16, WR_OP_TEXT), 0);
	wr_pubsub_stats d;
	wr_server_pubsub_stats(srv, &d);
	cr_assert_eq(d.posts - b.posts, 200);
	cr_assert(d.wakeups - b.wakeups >= 2 && d.wakeups - b.wakeups <= 200);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(c);
	wr_server_free(srv);
}

/* ---- a fiber route subscribes and reads ---- */

static void fiber_sub(wr_ws *ws, const wr_req *req, void *user)
{
	cr_assert_eq(wr_ws_subscribe(ws, "fib"), 0);
	wr_ws_send_text(ws, "ready");
	wr_msg m;
	while (wr_ws_read(ws, &m) > 0) {
		if (m.len == 5 && !memcmp(m.data, "leave", 5)) {
			int rc = wr_ws_unsubscribe(ws, "fib");
			wr_ws_send_text(ws, rc == 0 ? "left" : "not left");
		}
	}
}

Test(pubsub, fiber_route_subscribes, .timeout = 30)
{
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = 2 }, &err);
	cr_assert(srv);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/f", &(wr_ws_fiber){ .handler = fiber_sub }), 0);
	uint16_t port = live_start(srv);
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/f"), 0);
	char buf[64];
	cr_assert_eq(recv_msg(fd, buf, sizeof(buf)), WR_OP_TEXT);
	cr_assert(!strcmp(buf, "ready"));
	cr_assert_eq(wr_server_publish(srv, "fib", "one", 3, WR_OP_TEXT), 0);
	cr_assert_eq(recv_msg(fd, buf, sizeof(buf)), WR_OP_TEXT);
	cr_assert(!strcmp(buf, "one"), "%s", buf);
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_TEXT, "leave", 5), 0);
	cr_assert_eq(recv_msg(fd, buf, sizeof(buf)), WR_OP_TEXT);
	cr_assert(!strcmp(buf, "left"), "%s", buf);
	cr_assert_eq(wr_server_publish(srv, "fib", "two", 3, WR_OP_TEXT), 0);
	set_timeout(fd, 300);
	cr_assert_eq(recv_msg(fd, buf, sizeof(buf)), -1, "got '%s' after leaving", buf);
	close(fd);
	wr_server_free(srv);
}

#ifndef WR_TAP_SHIM
/* ---- permessage-deflate subscribers (issue 14): one compression per window size ---- */

static void *read_one(void *arg)
{
	wr_client *cl = arg;
	wr_msg m;
	static _Thread_local char copy[8192];
	if (wr_client_read(cl, &m) <= 0 || m.len >= sizeof(copy))
		return NULL;
	memcpy(copy, m.data, m.len);
	copy[m.len] = 0;
	return strdup(copy);
}

Test(pubsub, deflate_subscribers_share_the_compression, .timeout = 30)
{
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = 2 }, &err);
	cr_assert(srv);
	wr_deflate_config dc = { .enable = true };
	cr_assert_eq(wr_server_websocket(srv, "/sub", &(wr_ws_handlers){ .on_open = sub_open,
	                                                                  .on_message = ctl_message,
	                                                                  .deflate = dc }), 0);
	uint16_t port = live_start(srv);
	char url[128];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/sub?t=feed", port);
	/* Context takeover both ways, no context takeover, and a 10-bit server window. */
	wr_deflate_config offers[] = {
		{ .enable = true },
		{ .enable = true, .server_no_context_takeover = true, .client_no_context_takeover = true },
		{ .enable = true, .server_max_window_bits = 10 },
	};
	enum { N = 6 };
	wr_client *cl[N];
	for (int i = 0; i < N; i++) {
		wr_client_err ce;
		cl[i] = wr_client_connect(url, &(wr_client_options){ .deflate = offers[i % 3],
		                                                    .read_timeout_ms = 3000 }, &ce);
		cr_assert(cl[i], "connect: %s", wr_strerror(ce.code));
		cr_assert(wr_client_deflate(cl[i]));
		char *r = read_one(cl[i]);
		cr_assert(r && !strcmp(r, "subs 0"), "%s", r ? r : "(none)");
		free(r);
	}
	char big[2048];
	for (int round = 0; round < 3; round++) {
		/* The context-takeover peers get a message of their own compressed with their
		 * connection's stream between publications: the server's stream must forget what
		 * the shared frames went around it, and the peer must read all of it. */
		for (int i = 0; i < N; i++) {
			char cmd[32];
			snprintf(cmd, sizeof(cmd), "say %d", 300 + round);
			cr_assert_eq(wr_client_send_text(cl[i], cmd), 0);
			char *r = read_one(cl[i]);
			cr_assert(r && strlen(r) == (size_t)(300 + round) && !strncmp(r, "own message", 11),
			          "client %d: %s", i, r ? r : "(none)");
			free(r);
			r = read_one(cl[i]);
			cr_assert(r && !strcmp(r, "ok 0"), "%s", r ? r : "(none)");
			free(r);
		}
		for (size_t k = 0; k < sizeof(big) - 1; k++)
			big[k] = "abcdefgh {\"price\": 1.25} "[(k + (size_t)round) % 25];
		big[sizeof(big) - 1] = 0;
		cr_assert_eq(wr_server_publish(srv, "feed", big, strlen(big), WR_OP_TEXT), 0);
		for (int i = 0; i < N; i++) {
			char *r = read_one(cl[i]);
			cr_assert(r && !strcmp(r, big), "client %d round %d: wrong message", i, round);
			free(r);
		}
	}
	wr_pubsub_stats st;
	wr_server_pubsub_stats(srv, &st);
	/* 15-bit peers (four) share one compression, 10-bit ones (two) another, per publish;
	 * a reactor that has no peer of a window does not make it. */
	cr_assert_geq(st.compressed, 3 * 2, "compressed %llu", (unsigned long long)st.compressed);
	cr_assert_leq(st.compressed, 3 * 2);
	for (int i = 0; i < N; i++)
		wr_client_free(cl[i]);
	wr_server_free(srv);
}
#endif
