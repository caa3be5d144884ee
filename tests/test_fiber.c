/* Fiber WebSocket routes live on loopback: the sequential echo, messages that come while the
 * handler sleeps, the end of the handler closing with 1000 or its own code, the peer's close
 * ending the read, the backpressure wait and its timeout, wr_ws_read off a fiber, and a stack
 * overflow that must hit the guard page. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live.h"

static atomic_int n_exit, last_send_rc, off_fiber_rc;

static void echo(wr_ws *ws, const wr_req *req, void *user)
{
	wr_msg msg;
	while (wr_ws_read(ws, &msg) > 0)
		if (wr_ws_send(ws, msg.data, msg.len, msg.opcode) < 0)
			break;
	atomic_fetch_add(&n_exit, 1);
}

static void slow(wr_ws *ws, const wr_req *req, void *user)
{
	wr_msg msg;
	while (wr_ws_read(ws, &msg) > 0) {
		wr_fiber_sleep(50);
		wr_ws_send(ws, msg.data, msg.len, msg.opcode);
	}
	atomic_fetch_add(&n_exit, 1);
}

/* Reads one message, answers, returns: the close is 1000, or 4001 when asked. */
static void one_shot(wr_ws *ws, const wr_req *req, void *user)
{
	wr_msg msg;
	if (wr_ws_read(ws, &msg) > 0 && msg.len == 4 && !memcmp(msg.data, "4001", 4))
		wr_ws_close(ws, 4001, "own code");
	atomic_fetch_add(&n_exit, 1);
}

/* Floods a peer that does not read. */
static void flood(wr_ws *ws, const wr_req *req, void *user)
{
	static uint8_t chunk[65536];
	int rc = 0;
	for (int i = 0; i < 100000 && rc == 0; i++)
		rc = wr_ws_send(ws, chunk, sizeof(chunk), WR_OP_BINARY);
	atomic_store(&last_send_rc, rc);
	atomic_fetch_add(&n_exit, 1);
}

static void cb_message(wr_ws *ws, wr_msg msg, void *user)
{
	wr_msg m;
	atomic_store(&off_fiber_rc, wr_ws_read(ws, &m));
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static wr_server *start(wr_server_config *cfg, uint16_t *port)
{
	int err;
	wr_server *srv = wr_server_new(cfg, &err);
	cr_assert(srv, "%s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket_fiber(srv, "/echo", &(wr_ws_fiber){ .handler = echo }), 0);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/slow", &(wr_ws_fiber){ .handler = slow }), 0);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/once", &(wr_ws_fiber){ .handler = one_shot }), 0);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/flood", &(wr_ws_fiber){
		.handler = flood, .drain_timeout_ms = 300 }), 0);
	cr_assert_eq(wr_server_websocket(srv, "/cb", &(wr_ws_handlers){ .on_message = cb_message }), 0);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/x", &(wr_ws_fiber){ 0 }), -EINVAL);
	*port = live_start(srv);
	n_exit = last_send_rc = off_fiber_rc = 0;
	return srv;
}

static int ws_open(uint16_t port, const char *path)
{
	int fd = live_connect(port);
	cr_assert_geq(fd, 0);
	cr_assert_eq(live_ws_handshake(fd, path), 0);
	return fd;
}

static void expect(int fd, int op, const void *p, size_t n)
{
	char buf[70000];
	int rop, fin;
	ssize_t got = live_ws_recv(fd, &rop, &fin, buf, sizeof(buf));
	cr_assert_eq(got, (ssize_t)n);
	cr_assert_eq(rop, op);
	cr_assert(fin);
	cr_assert(!memcmp(buf, p, n));
}

static int close_code(int fd)
{
	char buf[256];
	int op, fin;
	ssize_t n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	if (n < 2 || op != WR_OP_CLOSE)
		return -1;
	return ((uint8_t)buf[0] << 8) | (uint8_t)buf[1];
}

static void wait_exits(int n)
{
	for (int i = 0; i < 300 && atomic_load(&n_exit) < n; i++)
		usleep(10000);
	cr_assert_eq(atomic_load(&n_exit), n);
}

Test(fiber, sequential_echo_text_and_binary_many_connections)
{
	uint16_t port;
	wr_server *srv = start(&(wr_server_config){ .threads = 2 }, &port);
	int fds[20];
	for (int i = 0; i < 20; i++)
		fds[i] = ws_open(port, "/echo");
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 20; i++) {
			char t[32];
			int n = snprintf(t, sizeof(t), "hello %d/%d", i, round);
			cr_assert_eq(live_ws_send(fds[i], 1, WR_OP_TEXT, t, (size_t)n), 0);
			uint8_t b[3] = { 0, (uint8_t)i, 0xff };
			cr_assert_eq(live_ws_send(fds[i], 1, WR_OP_BINARY, b, 3), 0);
		}
		for (int i = 0; i < 20; i++) {
			char t[32];
			int n = snprintf(t, sizeof(t), "hello %d/%d", i, round);
			expect(fds[i], WR_OP_TEXT, t, (size_t)n);
			uint8_t b[3] = { 0, (uint8_t)i, 0xff };
			expect(fds[i], WR_OP_BINARY, b, 3);
		}
	}
	/* The peer's close ends wr_ws_read with 0: every handler returns. */
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(live_ws_send(fds[i], 1, WR_OP_CLOSE, "\x03\xe8", 2), 0);
		cr_assert_eq(close_code(fds[i]), 1000);
		close(fds[i]);
	}
	wait_exits(20);
	wr_server_free(srv);
}

Test(fiber, messages_while_sleeping_are_kept_in_order)
{
	uint16_t port;
	wr_server *srv = start(&(wr_server_config){ .threads = 1 }, &port);
	int fd = ws_open(port, "/slow");
	for (int i = 0; i < 5; i++) {
		char t[2] = { (char)('a' + i), 0 };
		cr_assert_eq(live_ws_send(fd, 1, WR_OP_TEXT, t, 1), 0);
	}
	for (int i = 0; i < 5; i++) {
		char t[2] = { (char)('a' + i), 0 };
		expect(fd, WR_OP_TEXT, t, 1);
	}
	/* A drop while the handler sleeps: the sleep ends, the handler returns. */
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_TEXT, "z", 1), 0);
	usleep(10000);
	close(fd);
	wait_exits(1);
	wr_server_free(srv);
}

Test(fiber, handler_return_closes_with_1000_or_its_own_code)
{
	uint16_t port;
	wr_server *srv = start(&(wr_server_config){ .threads = 1 }, &port);
	int fd = ws_open(port, "/once");
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_TEXT, "hi", 2), 0);
	cr_assert_eq(close_code(fd), 1000);
	close(fd);
	fd = ws_open(port, "/once");
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_TEXT, "4001", 4), 0);
	cr_assert_eq(close_code(fd), 4001);
	close(fd);
	wait_exits(2);
	wr_server_free(srv);
}

Test(fiber, send_past_the_mark_waits_for_drain_then_times_out)
{
	uint16_t port;
	wr_server *srv = start(&(wr_server_config){ .threads = 1 }, &port);
	int fd = ws_open(port, "/flood");
	/* Never read: the handler waits for the drain, then gives up after 300 ms. */
	wait_exits(1);
	cr_assert_eq(atomic_load(&last_send_rc), -ETIMEDOUT);
	close(fd);
	wr_server_free(srv);
}

Test(fiber, read_off_a_fiber_is_refused)
{
	uint16_t port;
	wr_server *srv = start(&(wr_server_config){ .threads = 1 }, &port);
	int fd = ws_open(port, "/cb");
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_TEXT, "x", 1), 0);
	expect(fd, WR_OP_TEXT, "x", 1);
	cr_assert_eq(atomic_load(&off_fiber_rc), -EPERM);
	cr_assert_eq(wr_ws_read(NULL, &(wr_msg){ 0 }), -EPERM);
	cr_assert_eq(wr_fiber_sleep(1), -EPERM);
	close(fd);
	wr_server_free(srv);
}

/* ---- overflow: the guard page, not silent corruption ---- */

#define OVERFLOW_STACK (64u * 1024u)
static uintptr_t stack_top;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	/* The fault address is in the page below the fiber's usable stack: the guard. */
	uintptr_t a = (uintptr_t)si->si_addr;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t low = stack_top - OVERFLOW_STACK - 2 * page;
	_exit(a >= low && a < stack_top - OVERFLOW_STACK + page ? 42 : 43);
}

static int recurse(volatile char *prev, int n)
{
	volatile char pad[512];
	pad[0] = (char)n;
	if (n > 1000000 || !prev)
		return pad[0];
	return recurse(pad, n + 1) + pad[0];
}

static void overflow(wr_ws *ws, const wr_req *req, void *user)
{
	volatile char here;
	stack_top = (uintptr_t)&here;
	static char alt[65536];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) };
	sigaltstack(&ss, NULL);
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK };
	sigaction(SIGSEGV, &sa, NULL);
	recurse(&here, 0);
}

Test(fiber, stack_overflow_hits_the_guard_page, .exit_code = 42)
{
	int err;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1,
		.fiber_stack_bytes = OVERFLOW_STACK }, &err);
	cr_assert(srv);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/deep", &(wr_ws_fiber){ .handler = overflow }), 0);
	uint16_t port = live_start(srv);
	int fd = ws_open(port, "/deep");
	sleep(5); /* the reactor thread dies with SIGSEGV and ends this process */
	close(fd);
	exit(44);
}

/* ---- the server's wr_ws named and behaving as the blocking client ---- */

static atomic_int sym_ok;

static void symmetric(wr_ws *ws, const wr_req *req, void *user)
{
	int ok = wr_ws_send(ws, "\xff", 1, WR_OP_TEXT) == -EINVAL &&   /* UTF-8 checked */
	         wr_ws_send_binary(ws, "\xff", 1) == 0 &&
	         wr_ws_ping(ws, "p", 1) == 0 &&
	         wr_ws_close(ws, 0, "reason") == -EINVAL &&           /* 0 takes no reason */
	         wr_ws_close(ws, 0, NULL) == 0 &&                     /* 0 is 1000 */
	         wr_ws_close(ws, 4000, NULL) == 0 &&                  /* again: 0 */
	         wr_ws_send_binary(ws, "x", 1) == -EPIPE;
	atomic_store(&sym_ok, ok ? 1 : -1);
}

static atomic_int frag_ok;

static void fragments(wr_ws *ws, const wr_req *req, void *user)
{
	int ok = wr_ws_send_fragment(ws, "h\xc3", 2, WR_OP_TEXT, false) == 0 &&
	         wr_ws_ping(ws, "p", 1) == 0 &&                                  /* between */
	         wr_ws_send_binary(ws, "x", 1) == -EBUSY &&                      /* new message */
	         wr_ws_send_fragment(ws, "x", 1, WR_OP_BINARY, false) == -EINVAL && /* other op */
	         wr_ws_send_fragment(ws, "\xff", 1, WR_OP_TEXT, false) == -EINVAL &&
	         wr_ws_send_fragment(ws, "\xa9l", 2, WR_OP_TEXT, false) == 0 &&
	         wr_ws_send_fragment(ws, "l\xc3", 2, WR_OP_TEXT, true) == -EINVAL &&
	         wr_ws_send_fragment(ws, "lo", 2, WR_OP_TEXT, true) == 0 &&
	         wr_ws_send_text(ws, "after") == 0;
	atomic_store(&frag_ok, ok ? 1 : -1);
}

static void expect_frame(int fd, int op, int fin, const void *p, size_t n)
{
	char buf[256];
	int rop, rfin;
	ssize_t got = live_ws_recv(fd, &rop, &rfin, buf, sizeof(buf));
	cr_assert_eq(got, (ssize_t)n);
	cr_assert_eq(rop, op);
	cr_assert_eq(!!rfin, fin);
	cr_assert(!memcmp(buf, p, n));
}

Test(fiber, fragmented_send_with_a_ping_between_and_misuse)
{
	int err;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1 }, &err);
	cr_assert(srv);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/f", &(wr_ws_fiber){ .handler = fragments }), 0);
	uint16_t port = live_start(srv);
	int fd = ws_open(port, "/f");
	expect_frame(fd, WR_OP_TEXT, 0, "h\xc3", 2);
	expect_frame(fd, WR_OP_PING, 1, "p", 1);
	expect_frame(fd, WR_OP_CONT, 0, "\xa9l", 2);
	expect_frame(fd, WR_OP_CONT, 1, "lo", 2);
	expect_frame(fd, WR_OP_TEXT, 1, "after", 5);
	cr_assert_eq(close_code(fd), 1000);
	cr_assert_eq(atomic_load(&frag_ok), 1);
	close(fd);
	wr_server_free(srv);
}

Test(fiber, server_send_and_close_behave_as_the_client)
{
	int err;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1 }, &err);
	cr_assert(srv);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/s", &(wr_ws_fiber){ .handler = symmetric }), 0);
	uint16_t port = live_start(srv);
	int fd = ws_open(port, "/s");
	expect(fd, WR_OP_BINARY, "\xff", 1);
	expect(fd, WR_OP_PING, "p", 1);
	cr_assert_eq(close_code(fd), 1000);
	cr_assert_eq(atomic_load(&sym_ok), 1);
	close(fd);
	wr_server_free(srv);
}
