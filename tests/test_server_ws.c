/* WebSocket server rules live on loopback, driven by a raw socket client: upgrade hook and
 * refusals, on_open with the request, echo, pings, closing handshake both ways, timeouts,
 * backpressure, zero-copy send, limits, stop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live.h"

static atomic_int n_open, n_close, last_close, n_ping, n_drain, zc_done, send_rc, n_msg;
static char last_reason[128];
static char seen_auth[64];
static void *seen_data;
static wr_ws *open_ws[16];
static int n_open_ws;

static void reset(void)
{
	n_open_ws = 0;
	n_open = n_close = last_close = n_ping = n_drain = zc_done = send_rc = n_msg = 0;
	last_reason[0] = seen_auth[0] = 0;
	seen_data = NULL;
}

static int on_upgrade(const wr_req *req, wr_upgrade *up, void *user)
{
	wr_str auth = wr_req_header(req, "authorization");
	wr_str path = wr_req_path(req);
	if (path.len == 7 && !memcmp(path.data, "/strict", 7) && !auth.data) {
		wr_upgrade_header(up, "WWW-Authenticate", "Bearer");
		return 401;
	}
	if (path.len == 7 && !memcmp(path.data, "/badhdr", 7)) {
		/* A header that cannot be sent: the answer must not be a 101 that hides it. */
		cr_assert_eq(wr_upgrade_header(up, "X-Ok", "fine"), 0);
		cr_assert_eq(wr_upgrade_header(up, "Bad Name", "v"), -EINVAL);
		return 0;
	}
	if (wr_req_header(req, "sec-websocket-protocol").data)
		cr_assert_eq(wr_upgrade_protocol(up, "chat"), 0);
	cr_assert_eq(wr_upgrade_protocol(up, "not-offered"), -EINVAL);
	wr_upgrade_set_data(up, (void *)0x1234);
	return 0;
}

static void on_open(wr_ws *ws, const wr_req *req, void *user)
{
	atomic_fetch_add(&n_open, 1);
	if (n_open_ws < 16)
		open_ws[n_open_ws++] = ws;
	seen_data = wr_ws_data(ws);
	wr_str auth = wr_req_header(req, "Authorization");
	snprintf(seen_auth, sizeof(seen_auth), "%.*s", (int)auth.len, auth.data ? auth.data : "");
	wr_str path = wr_req_path(req);
	if (path.len == 5 && !memcmp(path.data, "/auth", 5) && !auth.data)
		wr_ws_close(ws, WR_CLOSE_POLICY_VIOLATION, "unauthorized"); /* the seed's pattern */
	if (path.len == 6 && !memcmp(path.data, "/flood", 6)) {
		static char big[200000];
		wr_ws_send(ws, big, sizeof(big), WR_OP_BINARY);
	}
}

static void zc_complete(const void *data, int status, void *user)
{
	if (status == 0)
		atomic_fetch_add(&zc_done, 1);
	free((void *)data);
}

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	atomic_fetch_add(&n_msg, 1);
	if (msg.len == 5 && !memcmp(msg.data, "close", 5)) {
		cr_assert_eq(wr_ws_close(ws, 1005, ""), -EINVAL); /* reserved: never sent */
		cr_assert_eq(wr_ws_close(ws, 4321, "bye"), 0);
		cr_assert_eq(wr_ws_send(ws, "x", 1, WR_OP_TEXT), -EPIPE);
		return;
	}
	if (msg.len == 5 && !memcmp(msg.data, "flood", 5)) {
		/* A consumer that never reads: the limit must cut it off. */
		static char chunk[16384];
		int rc = 0;
		for (int i = 0; i < 1000 && rc == 0; i++)
			rc = wr_ws_send(ws, chunk, sizeof(chunk), WR_OP_BINARY);
		send_rc = rc;
		return;
	}
	if (msg.len == 2 && !memcmp(msg.data, "zc", 2)) {
		size_t n = 100000;
		char *p = malloc(n);
		memset(p, 'q', n);
		cr_assert_eq(wr_ws_send_zc(ws, p, n, WR_OP_BINARY, zc_complete, NULL), 0);
		return;
	}
	if (msg.len == 5 && !memcmp(msg.data, "bcast", 5)) {
		/* Encoded once, sent to every open connection; large and small frames. */
		static char payload[10000];
		memset(payload, 'b', sizeof(payload));
		wr_frame *big = wr_frame_new(payload, sizeof(payload), WR_OP_BINARY);
		wr_frame *small = wr_frame_new("tiny", 4, WR_OP_TEXT);
		cr_assert_null(wr_frame_new("x", 1, WR_OP_CLOSE));
		for (int i = 0; i < n_open_ws; i++) {
			cr_assert_eq(wr_ws_send_frame(open_ws[i], big), 0);
			cr_assert_eq(wr_ws_send_frame(open_ws[i], small), 0);
		}
		wr_frame_unref(big); /* the queued sends hold their own references */
		wr_frame_unref(small);
		return;
	}
	if (msg.len == 4 && !memcmp(msg.data, "args", 4)) {
		char big[200] = { 0 };
		int a = wr_ws_send(ws, big, sizeof(big), WR_OP_PING);
		int b = wr_ws_send(ws, big, 2, WR_OP_CLOSE);
		int c = wr_ws_send(ws, big, 2, (wr_opcode)3);
		char r[16];
		snprintf(r, sizeof(r), "%d %d %d", a == -EINVAL, b == -EINVAL, c == -EINVAL);
		wr_ws_send(ws, r, strlen(r), WR_OP_TEXT);
		return;
	}
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static void on_ping(wr_ws *ws, wr_msg msg, void *user) { atomic_fetch_add(&n_ping, 1); }
static void on_drain(wr_ws *ws, void *user) { atomic_fetch_add(&n_drain, 1); }

static void on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	for (int i = 0; i < n_open_ws; i++)
		if (open_ws[i] == ws)
			open_ws[i] = open_ws[--n_open_ws];
	snprintf(last_reason, sizeof(last_reason), "%.*s", (int)reason.len, reason.data ? reason.data : "");
	last_close = code;
	atomic_fetch_add(&n_close, 1);
}

static const wr_ws_handlers handlers = {
	.on_upgrade = on_upgrade, .on_open = on_open, .on_message = on_message,
	.on_ping = on_ping, .on_drain = on_drain, .on_close = on_close,
};

static wr_server *srv;

static uint16_t start(const wr_server_config *cfg)
{
	reset();
	int err;
	srv = wr_server_new(cfg ? cfg : &(wr_server_config){ .threads = 1 }, &err);
	cr_assert_not_null(srv);
	const char *paths[] = { "/ws", "/auth", "/strict", "/flood", "/badhdr" };
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq(wr_server_websocket(srv, paths[i], &handlers), 0);
	return live_start(srv);
}

static void stop(void)
{
	wr_server_free(srv);
	srv = NULL;
}

static void wait_for(atomic_int *v, int want, int ms)
{
	for (int i = 0; i < ms / 5 && atomic_load(v) < want; i++)
		usleep(5000);
	cr_assert_geq(atomic_load(v), want, "waited %d ms for %d, have %d", ms, want, atomic_load(v));
}

static int ws_open(uint16_t port, const char *path)
{
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, path), 0, "handshake on %s", path);
	return fd;
}

/* Expect a close frame with this code, then EOF. */
static void expect_close(int fd, int code)
{
	char buf[256];
	int op = 0, fin = 0;
	ssize_t n;
	do
		n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	while (n >= 0 && op != 8);
	cr_assert_eq(op, 8, "no close frame");
	cr_assert_geq(n, 2);
	int got = ((uint8_t)buf[0] << 8) | (uint8_t)buf[1];
	cr_assert_eq(got, code, "close code %d, want %d", got, code);
}

Test(ws, echo_text_binary_and_frames_after_the_upgrade)
{
	uint16_t port = start(NULL);
	int fd = live_connect(port);
	/* Handshake and a first frame in one write. */
	static const char req[] = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	                  "Authorization: Bearer t\r\n\r\n\x81\x82\x00\x00\x00\x00hi";
	live_send(fd, req, sizeof(req) - 1);
	char head[1024];
	live_recv_until(fd, head, sizeof(head), "\r\n\r\n");
	cr_assert(strstr(head, "HTTP/1.1 101 Switching Protocols\r\n"), "%s", head);
	cr_assert(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "%s", head);
	char buf[70000];
	int op, fin;
	ssize_t n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	if (n < 0) { /* the frame may have arrived with the head */
		char *f = strstr(head, "\r\n\r\n") + 4;
		cr_assert(f[0] == (char)0x81 && f[1] == 2 && !memcmp(f + 2, "hi", 2));
	} else {
		cr_assert(n == 2 && op == 1 && !memcmp(buf, "hi", 2));
	}
	cr_assert_eq(seen_data, (void *)0x1234);
	cr_assert_str_eq(seen_auth, "Bearer t");
	for (size_t len = 0; len <= 66000; len = len ? len * 4 : 1) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)i;
		live_ws_send(fd, 1, 2, buf, len);
		static char got[70000];
		n = live_ws_recv(fd, &op, &fin, got, sizeof(got));
		cr_assert_eq(n, (ssize_t)len, "len %zu op %d", len, op);
		cr_assert(op == 2 && fin && !memcmp(got, buf, len), "binary %zu", len);
	}
	live_ws_send(fd, 1, 1, "h\xc3\xa9llo", 6);
	n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert(n == 6 && op == 1 && !memcmp(buf, "h\xc3\xa9llo", 6));
	/* Fragmented, with a ping in between. */
	live_ws_send(fd, 0, 1, "ab", 2);
	live_ws_send(fd, 1, 9, "p", 1);
	live_ws_send(fd, 1, 0, "cd", 2);
	n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert(n == 1 && op == 10 && buf[0] == 'p', "pong with the ping's payload");
	n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert(n == 4 && op == 1 && !memcmp(buf, "abcd", 4));
	wait_for(&n_ping, 1, 1000);
	/* Our close: echoed, then the server closes TCP, on_close sees our code. */
	live_ws_send(fd, 1, 8, "\x0f\xa0" "done", 6);
	expect_close(fd, 4000);
	cr_assert(live_wait_eof(fd, 2000));
	wait_for(&n_close, 1, 1000);
	cr_assert_eq(last_close, 4000);
	cr_assert_str_eq(last_reason, "done");
	close(fd);
	stop();
}

Test(ws, upgrade_refusals_and_subprotocol)
{
	uint16_t port = start(NULL);
	char buf[2048];
	int fd = live_connect(port);
	live_send_str(fd, "GET /strict HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strstr(buf, "HTTP/1.1 401 ") && strstr(buf, "WWW-Authenticate: Bearer\r\n"), "%s", buf);
	close(fd);
	cr_assert_eq(n_open, 0);

	fd = live_connect(port);
	live_send_str(fd, "GET /badhdr HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strstr(buf, "HTTP/1.1 500 ") && !strstr(buf, "X-Ok"),
	          "a failed wr_upgrade_header must not pass silently: %s", buf);
	close(fd);
	cr_assert_eq(n_open, 0);

	fd = live_connect(port);
	live_send_str(fd, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
	live_recv_all(fd, buf, sizeof(buf));
	cr_assert(strstr(buf, "HTTP/1.1 426 ") && strstr(buf, "Sec-WebSocket-Version: 13\r\n"), "%s", buf);
	close(fd);

	fd = live_connect(port);
	live_send_str(fd, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n");
	live_recv_all(fd, buf, sizeof(buf));
	cr_assert(strstr(buf, "HTTP/1.1 400 "), "short key: %s", buf);
	close(fd);

	fd = live_connect(port);
	live_send_str(fd, "POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strstr(buf, "HTTP/1.1 405 "), "%s", buf);
	close(fd);

	fd = live_connect(port);
	live_send_str(fd, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	                  "Sec-WebSocket-Protocol: superchat, chat\r\n\r\n");
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strstr(buf, "101 ") && strstr(buf, "Sec-WebSocket-Protocol: chat\r\n"), "%s", buf);
	close(fd);
	stop();
}

Test(ws, seed_auth_pattern_closes_with_policy_violation)
{
	uint16_t port = start(NULL);
	int fd = ws_open(port, "/auth");
	char buf[256];
	int op, fin;
	ssize_t n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert_eq(op, 8);
	cr_assert_eq(n, 14);
	cr_assert(buf[0] == 0x03 && buf[1] == (char)0xf0 && !memcmp(buf + 2, "unauthorized", 12));
	live_ws_send(fd, 1, 8, buf, 2); /* answer the close */
	cr_assert(live_wait_eof(fd, 2000));
	wait_for(&n_close, 1, 1000);
	cr_assert_eq(last_close, 1008);
	close(fd);
	stop();
}

Test(ws, protocol_violations_fail_the_connection)
{
	uint16_t port = start(&(wr_server_config){ .threads = 1, .max_message_bytes = 1000 });
	int side = ws_open(port, "/ws");
	struct { const char *what; const char *bytes; size_t n; int code; } cases[] = {
		{ "unmasked", "\x81\x02hi", 4, 1002 },
		{ "rsv1", "\xc1\x80\0\0\0\0", 6, 1002 },
		{ "opcode 3", "\x83\x80\0\0\0\0", 6, 1002 },
		{ "big ping", "\x89\xfe\x00\x7e\0\0\0\0", 8, 1002 },
		{ "continuation first", "\x80\x80\0\0\0\0", 6, 1002 },
		{ "bad utf8", "\x81\x82\0\0\0\0\xc0\xaf", 8, 1007 },
		{ "too big", "\x82\xfe\x04\x00\0\0\0\0", 8, 1009 },
		{ "close code 1005", "\x88\x82\0\0\0\0\x03\xed", 8, 1002 },
		{ "close 1 byte", "\x88\x81\0\0\0\0\x03", 7, 1002 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = ws_open(port, "/ws");
		live_send(fd, cases[i].bytes, cases[i].n);
		expect_close(fd, cases[i].code);
		cr_assert(live_wait_eof(fd, 2000), "%s: TCP not closed", cases[i].what);
		close(fd);
		/* The side connection still echoes. */
		live_ws_send(side, 1, 1, "ok", 2);
		char buf[16];
		int op, fin;
		cr_assert_eq(live_ws_recv(side, &op, &fin, buf, sizeof(buf)), 2, "after %s", cases[i].what);
	}
	close(side);
	stop();
}

Test(ws, server_close_and_peer_that_never_answers)
{
	uint16_t port = start(&(wr_server_config){ .threads = 1, .close_timeout_ms = 300 });
	int fd = ws_open(port, "/ws");
	live_ws_send(fd, 1, 1, "close", 5);
	expect_close(fd, 4321);
	/* We never answer: the server cuts us off after close_timeout_ms. */
	cr_assert(live_wait_eof(fd, 3000), "not cut off");
	wait_for(&n_close, 1, 1000);
	cr_assert_eq(last_close, 1006);
	close(fd);
	stop();
}

Test(ws, idle_ping_then_timeout)
{
	uint16_t port = start(&(wr_server_config){ .threads = 1, .ping_interval_ms = 200 });
	int fd = ws_open(port, "/ws");
	char buf[64];
	int op = 0, fin;
	ssize_t n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert(n == 0 && op == 9, "expected a ping after 200 ms idle");
	/* No pong: closed after another interval. */
	cr_assert(live_wait_eof(fd, 3000), "silent peer kept open");
	wait_for(&n_close, 1, 1000);
	cr_assert_eq(last_close, 1006);
	cr_assert_str_eq(last_reason, "ping timeout");
	close(fd);
	stop();
}

Test(ws, slow_consumer_is_cut_off_and_drain_fires)
{
	uint16_t port = start(&(wr_server_config){ .threads = 1, .max_send_buffer = 256 * 1024 });
	int fd = ws_open(port, "/ws");
	live_ws_send(fd, 1, 1, "flood", 5); /* 16 MB at once, far past the limit */
	wait_for(&n_close, 1, 3000);
	cr_assert_eq(send_rc, -ENOBUFS);
	cr_assert_eq(last_close, 1008);
	close(fd);

	/* 200 KB queued in on_open (under the limit, over the drain mark), read by us: on_drain
	 * fires once it is out. */
	fd = ws_open(port, "/flood");
	static char big[1 << 20];
	int op, fin;
	ssize_t n = live_ws_recv(fd, &op, &fin, big, sizeof(big));
	cr_assert_eq(n, 200000);
	wait_for(&n_drain, 1, 2000);
	close(fd);
	stop();
}

Test(ws, zero_copy_send_and_argument_checks)
{
	uint16_t port = start(NULL);
	int fd = ws_open(port, "/ws");
	live_ws_send(fd, 1, 1, "zc", 2);
	static char buf[100000];
	int op, fin;
	ssize_t n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert_eq(n, 100000);
	cr_assert(buf[0] == 'q' && buf[99999] == 'q');
	wait_for(&zc_done, 1, 1000);
	live_ws_send(fd, 1, 1, "args", 4);
	n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert(n == 5 && !memcmp(buf, "1 1 1", 5), "%.*s", (int)n, buf);
	close(fd);
	stop();
}

Test(ws, stop_sends_going_away)
{
	uint16_t port = start(NULL);
	int fd = ws_open(port, "/ws");
	int before_close = n_close;
	wr_server_stop(srv);
	expect_close(fd, 1001);
	live_ws_send(fd, 1, 8, "\x03\xe9", 2);
	cr_assert_eq(wr_server_wait(srv), 0);
	cr_assert_eq(n_close, before_close + 1);
	close(fd);
	stop();
}

Test(ws, broadcast_frame_encoded_once)
{
	uint16_t port = start(NULL);
	int fds[3];
	for (int i = 0; i < 3; i++)
		fds[i] = ws_open(port, "/ws");
	wait_for(&n_open, 3, 1000);
	live_ws_send(fds[1], 1, 1, "bcast", 5);
	for (int i = 0; i < 3; i++) {
		static char buf[10000];
		int op, fin;
		ssize_t n = live_ws_recv(fds[i], &op, &fin, buf, sizeof(buf));
		cr_assert(n == 10000 && op == 2 && buf[0] == 'b' && buf[9999] == 'b', "connection %d", i);
		n = live_ws_recv(fds[i], &op, &fin, buf, sizeof(buf));
		cr_assert(n == 4 && op == 1 && !memcmp(buf, "tiny", 4), "connection %d", i);
		close(fds[i]);
	}
	stop();
}
