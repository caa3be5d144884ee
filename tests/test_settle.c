/* The settling wait (wr_server_config.settle_us; lib/core/reactor.c turn()) live, with it on
 * and long (1 ms), so that most turns of a one-in-flight client end in it: an idle
 * connection's pings are sent and its pongs taken while a second connection keeps the
 * reactor busy with ping-pong (the case that lost idle pings when the wait was unbounded),
 * the idle-ping timer fires on time while quiet sends are outstanding, and pipelined echoes
 * (many in flight, sends that are not quiet) all come back in order. Each case also runs
 * with the wait off, as the control. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "live.h"

static atomic_int n_close, n_pong;
static char last_reason[128];

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static void on_pong(wr_ws *ws, wr_msg msg, void *user) { atomic_fetch_add(&n_pong, 1); }

static void on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	snprintf(last_reason, sizeof(last_reason), "%.*s", (int)reason.len,
	         reason.data ? reason.data : "");
	atomic_fetch_add(&n_close, 1);
}

static const wr_ws_handlers handlers = {
	.on_message = on_message, .on_pong = on_pong, .on_close = on_close,
};

static wr_server *srv;

static uint16_t start(unsigned settle_us, unsigned ping_ms)
{
	n_close = n_pong = 0;
	last_reason[0] = 0;
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = 1, .ping_interval_ms = ping_ms,
	                                         .settle_us = settle_us },
	                    &err);
	cr_assert_not_null(srv, "wr_server_new: %d", err);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &handlers), 0);
	return live_start(srv);
}

static int ws_open(uint16_t port)
{
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	return fd;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A second connection in ping-pong, one message in flight, until told to stop (bounded: 20 s
 * at most); counts its checked echoes, and a wrong or missing one. */
struct load {
	int fd;
	pthread_t th;
	atomic_bool stop;
	atomic_int echoes, bad;
};

static void *load_run(void *arg)
{
	struct load *l = arg;
	int64_t end = now_ms() + 20000;
	for (unsigned i = 0; !atomic_load(&l->stop) && now_ms() < end; i++) {
		char out[16], in[32];
		int len = snprintf(out, sizeof(out), "m%u", i), op = 0, fin = 0;
		if (live_ws_send(l->fd, 1, 2, out, (size_t)len) < 0) {
			atomic_fetch_add(&l->bad, 1);
			break;
		}
		ssize_t n = live_ws_recv(l->fd, &op, &fin, in, sizeof(in));
		if (n != len || op != 2 || memcmp(in, out, (size_t)len)) {
			atomic_fetch_add(&l->bad, 1);
			break;
		}
		atomic_fetch_add(&l->echoes, 1);
	}
	return NULL;
}

static void load_start(struct load *l)
{
	cr_assert_eq(pthread_create(&l->th, NULL, load_run, l), 0);
}

/* Stops the busy connection; none of its echoes may have been wrong or missing. */
static void load_stop(struct load *l)
{
	atomic_store(&l->stop, true);
	pthread_join(l->th, NULL);
	cr_assert_eq(atomic_load(&l->bad), 0, "the busy connection lost an echo");
}

/* Five rounds of idle ping and pong on one connection while another keeps the reactor busy:
 * every ping arrives, every pong is taken (on_pong), the idle one is never closed. */
static void idle_pings_under_load(unsigned settle_us)
{
	/* 400 ms: a pong this test thread sends late on a loaded machine must not look lost. */
	uint16_t port = start(settle_us, 400);
	int idle = ws_open(port);
	struct load l = { .fd = ws_open(port) };
	load_start(&l);
	for (int round = 0; round < 5; round++) {
		char buf[64];
		int op = 0, fin = 0;
		ssize_t n = live_ws_recv(idle, &op, &fin, buf, sizeof(buf));
		cr_assert(n >= 0 && op == 9, "round %d: no ping (n %zd, op %d, closes %d: %s)", round, n,
		          op, atomic_load(&n_close), last_reason);
		cr_assert_eq(live_ws_send(idle, 1, 10, buf, (size_t)n), 0);
		/* The pong is taken before the next ping is due (a lost one closes the connection
		 * with "ping timeout" one interval later). */
		for (int i = 0; i < 300 && atomic_load(&n_pong) <= round; i++)
			usleep(1000);
		cr_assert_gt(atomic_load(&n_pong), round, "round %d: pong not taken within 300 ms",
		             round);
	}
	load_stop(&l);
	cr_assert_gt(atomic_load(&l.echoes), 100, "the busy connection hardly ran: %d",
	             atomic_load(&l.echoes));
	cr_assert_eq(atomic_load(&n_close), 0, "closed: %s", last_reason);
	close(l.fd);
	close(idle);
	wr_server_free(srv);
}

Test(settle, idle_pings_answered_under_load) { idle_pings_under_load(1000); }
Test(settle, idle_pings_answered_under_load_wait_off) { idle_pings_under_load((unsigned)-1); }

/* One echo (a quiet send: the turn then waits for one completion more, which never comes),
 * then silence: the idle-ping timer still fires on time, the 200 ms interval within a 100 ms
 * tick either way (activity is stamped in ticks) and some slack, and a silent peer is closed
 * one interval later. Three connections in turn. */
static void timer_on_time(unsigned settle_us)
{
	uint16_t port = start(settle_us, 200);
	for (int k = 0; k < 3; k++) {
		int fd = ws_open(port);
		char buf[64];
		int op = 0, fin = 0;
		cr_assert_eq(live_ws_send(fd, 1, 1, "hello", 5), 0);
		cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 5);
		int64_t t0 = now_ms();
		ssize_t n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
		int64_t dt = now_ms() - t0;
		cr_assert(n >= 0 && op == 9, "no ping (n %zd op %d)", n, op);
		cr_assert(dt >= 90 && dt <= 500, "ping after %lld ms, not 100-400", (long long)dt);
		t0 = now_ms();
		cr_assert(live_wait_eof(fd, 3000), "silent peer kept open");
		dt = now_ms() - t0;
		cr_assert(dt >= 100 && dt <= 600, "closed %lld ms after the ping", (long long)dt);
		close(fd);
	}
	for (int i = 0; i < 200 && atomic_load(&n_close) < 3; i++)
		usleep(5000);
	cr_assert_eq(atomic_load(&n_close), 3);
	cr_assert_str_eq(last_reason, "ping timeout");
	wr_server_free(srv);
}

Test(settle, timers_fire_on_time) { timer_on_time(1000); }
Test(settle, timers_fire_on_time_wait_off) { timer_on_time((unsigned)-1); }

/* Pipelined: 64 messages written at once, 50 rounds, echoed whole and in order, while a
 * second connection keeps one in flight. */
static void pipelined(unsigned settle_us)
{
	uint16_t port = start(settle_us, 200);
	int fd = ws_open(port);
	struct load l = { .fd = ws_open(port) };
	load_start(&l);
	for (unsigned round = 0; round < 50; round++) {
		for (unsigned i = 0; i < 64; i++) {
			char out[32];
			int len = snprintf(out, sizeof(out), "r%u-%u", round, i);
			cr_assert_eq(live_ws_send(fd, 1, 1, out, (size_t)len), 0);
		}
		for (unsigned i = 0; i < 64; i++) {
			char want[32], in[64];
			int len = snprintf(want, sizeof(want), "r%u-%u", round, i), op = 0, fin = 0;
			ssize_t n = live_ws_recv(fd, &op, &fin, in, sizeof(in));
			cr_assert(n == len && op == 1 && !memcmp(in, want, (size_t)len),
			          "round %u message %u: got %zd bytes op %d", round, i, n, op);
		}
	}
	load_stop(&l);
	cr_assert_eq(atomic_load(&n_close), 0, "closed: %s", last_reason);
	close(l.fd);
	close(fd);
	wr_server_free(srv);
}

Test(settle, pipelined_echoes_in_order) { pipelined(1000); }
Test(settle, pipelined_echoes_in_order_wait_off) { pipelined((unsigned)-1); }
