/* Fibers waiting on more than their own connection, live on loopback: a fiber that sleeps
 * while its peer floods it holds the peer back instead of buffering without bound; messages
 * over max_message_bytes streamed in pieces (stream_large) to callback and fiber routes, from
 * one huge frame and from many fragments, with UTF-8 failing fast across the pieces; a fiber
 * that connects to another WebSocket server on its own reactor (wr_fiber_connect) and relays
 * both ways with wr_ws_read_any; and what a failed connect tells. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "live.h"
#if WR_HAVE_TLS
#define LIVE_CERT_ENV "WR_FIBER_IO_CERTS"
#define LIVE_CERT_PREFIX "wring-fiber-io"
#include "live_cert.h"
#endif

#define LIMIT (64u * 1024u)          /* max_message_bytes of the streaming server */
#define FLOOD_MSG (64u * 1024u)
#define FLOOD_N 2048u                /* 128 MiB: more than any kernel buffering here */

static atomic_int n_exit;
static atomic_llong seen_end;        /* stream: highest offset + len delivered */
static atomic_int proxy_port;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wait_exits(int n)
{
	for (int i = 0; i < 500 && atomic_load(&n_exit) < n; i++)
		usleep(10000);
	cr_assert_eq(atomic_load(&n_exit), n);
}

static int ws_open(uint16_t port, const char *path)
{
	int fd = live_connect(port);
	cr_assert_geq(fd, 0);
	cr_assert_eq(live_ws_handshake(fd, path), 0);
	return fd;
}

static void expect_text(int fd, const char *want)
{
	char buf[512];
	int op, fin;
	ssize_t n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf) - 1);
	cr_assert_geq(n, 0, "no answer, wanted \"%s\"", want);
	buf[n] = 0;
	cr_assert_eq(op, WR_OP_TEXT, "opcode %d: %s", op, buf);
	cr_assert_str_eq(buf, want);
}

static int close_code(int fd)
{
	char buf[256];
	int op, fin;
	for (;;) {
		ssize_t n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
		if (n < 0)
			return -1;
		if (op == WR_OP_CLOSE)
			return n < 2 ? 1005 : ((uint8_t)buf[0] << 8) | (uint8_t)buf[1];
	}
}

/* ---- a sleeping fiber holds a flooding peer back ---- */

/* Sleeps 1.5 s, then reads FLOOD_N messages checking their order, and tells. */
static void napper(wr_ws *ws, const wr_req *req, void *user)
{
	wr_fiber_sleep(1500);
	wr_msg m;
	uint32_t n = 0;
	bool ordered = true;
	while (n < FLOOD_N && wr_ws_read(ws, &m) > 0) {
		uint32_t seq;
		memcpy(&seq, m.data, 4);
		ordered = ordered && seq == n && m.len == FLOOD_MSG;
		n++;
	}
	char t[64];
	snprintf(t, sizeof(t), "read %u %s", n, ordered ? "in order" : "out of order");
	wr_ws_send_text(ws, t);
	atomic_fetch_add(&n_exit, 1);
}

/* Frame i of the flood, masked as live_ws_send masks. */
static size_t flood_frame(uint8_t *f, uint32_t i)
{
	static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
	size_t h = 0;
	f[h++] = 0x80 | WR_OP_BINARY;
	f[h++] = 0x80 | 127;
	for (int k = 7; k >= 0; k--)
		f[h++] = (uint8_t)((uint64_t)FLOOD_MSG >> (8 * k));
	memcpy(f + h, key, 4);
	h += 4;
	memset(f + h, 0xab, FLOOD_MSG);
	memcpy(f + h, &i, 4);
	for (size_t k = 0; k < FLOOD_MSG; k++)
		f[h + k] ^= key[k & 3];
	return h + FLOOD_MSG;
}

/* Send the flood without blocking; returns the bytes the kernel took by `until` (ms). */
static uint64_t flood(int fd, uint32_t *next, uint8_t *f, size_t *flen, size_t *foff,
                      uint64_t until)
{
	uint64_t sent = 0;
	while (*next < FLOOD_N && now_ms() < until) {
		if (*foff == *flen) {
			*flen = flood_frame(f, *next);
			*foff = 0;
		}
		ssize_t k = send(fd, f + *foff, *flen - *foff, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0) {
			cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "send: %s", strerror(errno));
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			poll(&p, 1, 20);
			continue;
		}
		sent += (uint64_t)k;
		*foff += (size_t)k;
		if (*foff == *flen)
			(*next)++;
	}
	return sent;
}

Test(fiber_io, a_sleeping_fiber_holds_a_flooding_peer_back)
{
	int err;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1 }, &err);
	cr_assert(srv, "%s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket_fiber(srv, "/nap", &(wr_ws_fiber){
		.handler = napper, .max_unread_bytes = 256 * 1024 }), 0);
	uint16_t port = live_start(srv);
	n_exit = 0;
	int fd = ws_open(port, "/nap");
	uint8_t *f = malloc(FLOOD_MSG + 14);
	size_t flen = 0, foff = 0;
	uint32_t next = 0;
	/* While the handler sleeps, the server must stop taking bytes: kernel buffers (up to
	 * 32 MiB of receive window here) and 256 KiB of copies, not the whole 128 MiB. */
	uint64_t t0 = now_ms();
	uint64_t early = flood(fd, &next, f, &flen, &foff, t0 + 1000);
	cr_assert_lt(early, 64ull << 20, "%llu bytes taken while the handler slept",
	             (unsigned long long)early);
	/* Once it reads, everything goes through, in order, nothing lost. */
	flood(fd, &next, f, &flen, &foff, t0 + 60000);
	cr_assert_eq(next, FLOOD_N);
	expect_text(fd, "read 2048 in order");
	free(f);
	close(fd);
	wait_exits(1);
	wr_server_free(srv);
}

/* ---- streamed receive ---- */

/* A piece's bytes must be the pattern at its offset: byte k of a binary message is k % 251;
 * text is 'a' + k % 26. */
static bool piece_ok(wr_msg m)
{
	for (size_t i = 0; i < m.len; i++) {
		uint64_t k = m.offset + i;
		uint8_t want = m.opcode == WR_OP_TEXT ? (uint8_t)('a' + k % 26) : (uint8_t)(k % 251);
		if (m.data[i] != want)
			return false;
	}
	return true;
}

typedef struct tally {
	uint64_t bytes;
	unsigned pieces;
	bool ok;
} tally;

/* Count one piece; true when it ended a message. */
static bool count_piece(tally *t, wr_msg m)
{
	if (m.offset != t->bytes || !piece_ok(m))
		t->ok = false;
	t->bytes += m.len;
	t->pieces++;
	long long end = (long long)(m.offset + m.len);
	if (end > atomic_load(&seen_end))
		atomic_store(&seen_end, end);
	return !m.more;
}

static void report(wr_ws *ws, tally *t)
{
	char s[96];
	snprintf(s, sizeof(s), "%s %llu bytes in %s", t->ok ? "ok" : "BAD",
	         (unsigned long long)t->bytes, t->pieces > 1 ? "pieces" : "one piece");
	wr_ws_send_text(ws, s);
	*t = (tally){ .ok = true };
}

static void cb_open(wr_ws *ws, const wr_req *req, void *user)
{
	tally *t = calloc(1, sizeof(*t));
	t->ok = true;
	wr_ws_set_data(ws, t);
}

static void cb_piece(wr_ws *ws, wr_msg m, void *user)
{
	tally *t = wr_ws_data(ws);
	if (count_piece(t, m))
		report(ws, t);
}

static void cb_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	free(wr_ws_data(ws));
	atomic_fetch_add(&n_exit, 1);
}

static void fiber_pieces(wr_ws *ws, const wr_req *req, void *user)
{
	tally t = { .ok = true };
	wr_msg m;
	while (wr_ws_read(ws, &m) > 0)
		if (count_piece(&t, m))
			report(ws, &t);
	atomic_fetch_add(&n_exit, 1);
}

static wr_server *stream_server(uint16_t *port)
{
	int err;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1,
		.max_message_bytes = LIMIT }, &err);
	cr_assert(srv, "%s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket(srv, "/cb", &(wr_ws_handlers){ .on_open = cb_open,
		.on_message = cb_piece, .on_close = cb_close, .stream_large = true }), 0);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/fiber", &(wr_ws_fiber){
		.handler = fiber_pieces, .stream_large = true }), 0);
	cr_assert_eq(wr_server_websocket(srv, "/plain", &(wr_ws_handlers){ .on_open = cb_open,
		.on_message = cb_piece, .on_close = cb_close }), 0);
	*port = live_start(srv);
	n_exit = 0;
	seen_end = 0;
	return srv;
}

static uint8_t *pattern(size_t n, wr_opcode op)
{
	uint8_t *p = malloc(n ? n : 1);
	for (size_t k = 0; k < n; k++)
		p[k] = op == WR_OP_TEXT ? (uint8_t)('a' + k % 26) : (uint8_t)(k % 251);
	return p;
}

static void stream_cases(const char *path)
{
	uint16_t port;
	wr_server *srv = stream_server(&port);
	int fd = ws_open(port, path);
	/* Under the limit: whole, as ever. */
	uint8_t *small = pattern(1000, WR_OP_BINARY);
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_BINARY, small, 1000), 0);
	expect_text(fd, "ok 1000 bytes in one piece");
	/* One 3 MiB frame: in pieces as it arrives. */
	size_t big = 3u << 20;
	uint8_t *b = pattern(big, WR_OP_BINARY);
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_BINARY, b, big), 0);
	expect_text(fd, "ok 3145728 bytes in pieces");
	/* 20 fragments of 50 KiB of text: gathered up to the limit, then streamed. */
	uint8_t *t = pattern(20 * 51200, WR_OP_TEXT);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(live_ws_send(fd, i == 19, i ? WR_OP_CONT : WR_OP_TEXT, t + i * 51200,
		                          51200), 0);
	expect_text(fd, "ok 1024000 bytes in pieces");
	/* A ping between fragments is answered; the message still comes right. */
	cr_assert_eq(live_ws_send(fd, 0, WR_OP_BINARY, b, 100000), 0);
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_PING, "p", 1), 0);
	char pong[8];
	int op, fin;
	cr_assert_eq(live_ws_recv(fd, &op, &fin, pong, sizeof(pong)), 1);
	cr_assert_eq(op, WR_OP_PONG);
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_CONT, b + 100000, 100000), 0);
	expect_text(fd, "ok 200000 bytes in pieces");
	/* UTF-8 fails fast across pieces: four 100 KiB fragments, a bad byte in the third.
	 * The connection closes 1007 and nothing from the fourth was delivered. */
	atomic_store(&seen_end, 0);
	size_t bad_at = 2 * 102400 + 777;
	t = realloc(t, 4 * 102400);
	for (size_t k = 0; k < 4 * 102400; k++)
		t[k] = (uint8_t)('a' + k % 26);
	t[bad_at] = 0xff;
	for (int i = 0; i < 4; i++)
		live_ws_send(fd, i == 3, i ? WR_OP_CONT : WR_OP_TEXT, t + i * 102400, 102400);
	cr_assert_eq(close_code(fd), 1007);
	cr_assert_leq(atomic_load(&seen_end), (long long)bad_at, "delivered up to %lld",
	              (long long)atomic_load(&seen_end));
	cr_assert_gt(atomic_load(&seen_end), 0);
	close(fd);
	wait_exits(1);
	free(small);
	free(b);
	free(t);
	wr_server_free(srv);
}

Test(fiber_io, callback_route_streams_messages_over_the_limit)
{
	stream_cases("/cb");
}

Test(fiber_io, fiber_route_reads_messages_over_the_limit_in_pieces)
{
	stream_cases("/fiber");
}

Test(fiber_io, without_the_option_a_message_over_the_limit_closes_1009)
{
	uint16_t port;
	wr_server *srv = stream_server(&port);
	int fd = ws_open(port, "/plain");
	uint8_t *b = pattern(LIMIT + 1, WR_OP_BINARY);
	live_ws_send(fd, 1, WR_OP_BINARY, b, LIMIT + 1);
	cr_assert_eq(close_code(fd), 1009);
	close(fd);
	free(b);
	wait_exits(1);
	wr_server_free(srv);
}

/* ---- a fiber's own client connections ---- */

static void echo_cb(wr_ws *ws, wr_msg m, void *user)
{
	wr_ws_send(ws, m.data, m.len, m.opcode);
}

/* Relays between its client and ws://127.0.0.1:<proxy_port>/echo, both ways. */
static void relay(wr_ws *ws, const wr_req *req, void *user)
{
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/%s", atomic_load(&proxy_port),
	         (const char *)user);
	wr_client_err err;
	wr_ws *up = wr_fiber_connect(url, NULL, &err);
	if (!up) {
		char t[64];
		snprintf(t, sizeof(t), "connect %d %d", err.code, err.http_status);
		wr_ws_send_text(ws, t);
		atomic_fetch_add(&n_exit, 1);
		return;
	}
	wr_ws *set[2] = { ws, up };
	unsigned i;
	wr_msg m;
	int rc;
	while ((rc = wr_ws_read_any(set, 2, &i, &m)) > 0)
		if (wr_ws_send(set[1 - i], m.data, m.len, m.opcode) < 0)
			break;
	if (rc == 0 && i == 1) /* the upstream's close code is passed on */
		wr_ws_close(ws, wr_ws_close_code(up), "passed on");
	/* Either side's end ends the relay; the upstream goes with the handler. */
	atomic_fetch_add(&n_exit, 1);
}

static void greet_then_close(wr_ws *ws, const wr_req *req, void *user)
{
	wr_ws_send_text(ws, "from upstream");
	wr_ws_close(ws, 4002, "upstream done");
}

static void off_fiber_connect(wr_ws *ws, wr_msg m, void *user)
{
	wr_client_err err = { 0 };
	wr_ws *up = wr_fiber_connect("ws://127.0.0.1:1/", NULL, &err);
	char t[32];
	snprintf(t, sizeof(t), "%s %d", up ? "made" : "refused", err.code);
	wr_ws_send_text(ws, t);
}

static wr_server *proxy_server(uint16_t *port)
{
	int err;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 2 }, &err);
	cr_assert(srv, "%s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket(srv, "/echo", &(wr_ws_handlers){ .on_message = echo_cb }), 0);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/greet", &(wr_ws_fiber){
		.handler = greet_then_close }), 0);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/proxy", &(wr_ws_fiber){
		.handler = relay, .user = "echo" }), 0);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/proxy-greet", &(wr_ws_fiber){
		.handler = relay, .user = "greet" }), 0);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/proxy-404", &(wr_ws_fiber){
		.handler = relay, .user = "nowhere" }), 0);
	cr_assert_eq(wr_server_websocket(srv, "/cb", &(wr_ws_handlers){
		.on_message = off_fiber_connect }), 0);
	*port = live_start(srv);
	atomic_store(&proxy_port, *port);
	n_exit = 0;
	return srv;
}

Test(fiber_io, a_fiber_connects_upstream_and_relays_both_ways)
{
	uint16_t port;
	wr_server *srv = proxy_server(&port);
	int fds[8];
	for (int i = 0; i < 8; i++)
		fds[i] = ws_open(port, "/proxy");
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < 8; i++) {
			char t[32];
			snprintf(t, sizeof(t), "msg %d/%d", i, round);
			cr_assert_eq(live_ws_send(fds[i], 1, WR_OP_TEXT, t, strlen(t)), 0);
			expect_text(fds[i], t);
		}
	/* A large binary message goes through the relay whole, both ways. */
	uint8_t *b = pattern(1u << 20, WR_OP_BINARY);
	cr_assert_eq(live_ws_send(fds[0], 1, WR_OP_BINARY, b, 1u << 20), 0);
	uint8_t *got = malloc(1u << 20);
	int op, fin;
	cr_assert_eq(live_ws_recv(fds[0], &op, &fin, got, 1u << 20), (ssize_t)(1u << 20));
	cr_assert_eq(op, WR_OP_BINARY);
	cr_assert(!memcmp(got, b, 1u << 20));
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(live_ws_send(fds[i], 1, WR_OP_CLOSE, "\x03\xe8", 2), 0);
		cr_assert_eq(close_code(fds[i]), 1000);
		close(fds[i]);
	}
	wait_exits(8);
	free(b);
	free(got);
	wr_server_free(srv);
}

Test(fiber_io, the_upstream_closing_ends_the_relay)
{
	uint16_t port;
	wr_server *srv = proxy_server(&port);
	int fd = ws_open(port, "/proxy-greet");
	expect_text(fd, "from upstream");
	/* read_any reports the upstream's close (4002); the relay passes its code on. */
	cr_assert_eq(close_code(fd), 4002);
	close(fd);
	wait_exits(1);
	wr_server_free(srv);
}

Test(fiber_io, a_failed_connect_says_why)
{
	uint16_t port;
	wr_server *srv = proxy_server(&port);
	int fd = ws_open(port, "/proxy-404");
	expect_text(fd, "connect -71 404"); /* -EPROTO, HTTP 404 */
	close(fd);
	fd = ws_open(port, "/cb");
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_TEXT, "go", 2), 0);
	expect_text(fd, "refused -1"); /* -EPERM: not on a fiber */
	cr_assert_eq(wr_ws_close_code(NULL), -EPERM);
	close(fd);
	wr_server_free(srv);
}

/* ---- sequential clients on an async client's loop ---- */

static wr_loop *spawn_loop;
static atomic_int spawn_ok, spawn_left;

static void conversation(void *arg)
{
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/echo", atomic_load(&proxy_port));
	wr_client_err err;
	wr_ws *ws = wr_fiber_connect(url, NULL, &err);
	bool ok = ws != NULL;
	for (int i = 0; ok && i < 10; i++) {
		char t[32];
		snprintf(t, sizeof(t), "%d:%d", (int)(intptr_t)arg, i);
		wr_msg m;
		ok = wr_ws_send_text(ws, t) == 0 && wr_ws_read(ws, &m) == 1 &&
		     m.len == strlen(t) && !memcmp(m.data, t, m.len);
		if (ok && i == 4)
			ok = wr_fiber_sleep(5) == 0; /* the loop keeps serving the others */
	}
	if (ws) {
		wr_ws_close(ws, WR_CLOSE_NORMAL, "");
		wr_msg m;
		ok = ok && wr_ws_read(ws, &m) == 0; /* the close ends the reads */
		wr_fiber_ws_free(ws);
	}
	if (ok)
		atomic_fetch_add(&spawn_ok, 1);
	if (atomic_fetch_sub(&spawn_left, 1) == 1)
		wr_loop_stop(spawn_loop);
}

Test(fiber_io, sequential_clients_on_a_loop)
{
	uint16_t port;
	wr_server *srv = proxy_server(&port);
	int err;
	spawn_loop = wr_loop_new(NULL, &err);
	cr_assert(spawn_loop, "%s", wr_strerror(err));
	spawn_ok = 0;
	spawn_left = 30;
	for (int i = 0; i < 30; i++)
		cr_assert_eq(wr_loop_spawn(spawn_loop, conversation, (void *)(intptr_t)i), 0);
	cr_assert_eq(wr_loop_run(spawn_loop), 0);
	cr_assert_eq(atomic_load(&spawn_ok), 30);
	wr_loop_free(spawn_loop);
	wr_server_free(srv);
}

/* ---- the async client streams too ---- */

static tally client_tally;
static atomic_int client_done;

static void big_sender(wr_ws *ws, const wr_req *req, void *user)
{
	uint8_t *b = pattern(3u << 20, WR_OP_BINARY);
	wr_ws_send(ws, b, 3u << 20, WR_OP_BINARY);
	free(b);
	wr_msg m;
	wr_ws_read(ws, &m); /* until the client closes */
}

static void client_piece(wr_ws *ws, wr_msg m, void *user)
{
	if (count_piece(&client_tally, m))
		wr_ws_close(ws, WR_CLOSE_NORMAL, "");
}

static void client_closed(wr_ws *ws, int code, wr_str reason, void *user)
{
	atomic_store(&client_done, 1);
	wr_loop_stop(user);
}

Test(fiber_io, the_async_client_streams_messages_over_its_limit)
{
	int err;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1 }, &err);
	cr_assert(srv, "%s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket_fiber(srv, "/big", &(wr_ws_fiber){ .handler = big_sender }), 0);
	uint16_t port = live_start(srv);
	wr_loop *loop = wr_loop_new(NULL, &err);
	cr_assert(loop);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/big", port);
	client_tally = (tally){ .ok = true };
	client_done = 0;
	cr_assert_eq(wr_loop_connect(loop, url, &(wr_client_options){ .max_message_bytes = LIMIT },
		&(wr_ws_handlers){ .on_message = client_piece, .on_close = client_closed, .user = loop,
		                   .stream_large = true }), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert(atomic_load(&client_done));
	cr_assert(client_tally.ok);
	cr_assert_eq(client_tally.bytes, 3u << 20);
	cr_assert_gt(client_tally.pieces, 1);
	wr_loop_free(loop);
	wr_server_free(srv);
}

#if WR_HAVE_TLS
/* ---- wss upstream ---- */

static char wss_url[96];
static wr_tls_config wss_ctls;

static void relay_wss(wr_ws *ws, const wr_req *req, void *user)
{
	wr_client_err err;
	wr_ws *up = wr_fiber_connect(wss_url, &(wr_client_options){ .tls = &wss_ctls }, &err);
	if (!up) {
		char t[64];
		snprintf(t, sizeof(t), "connect %d %d", err.code, err.http_status);
		wr_ws_send_text(ws, t);
		return;
	}
	wr_ws *set[2] = { ws, up };
	unsigned i;
	wr_msg m;
	while (wr_ws_read_any(set, 2, &i, &m) > 0)
		if (wr_ws_send(set[1 - i], m.data, m.len, m.opcode) < 0)
			break;
	atomic_fetch_add(&n_exit, 1);
}

Test(fiber_io, a_fiber_relays_to_a_wss_upstream)
{
	int err;
	wr_tls_config stls = { .cert_file = live_cert_file(0, "cert.pem"),
	                       .key_file = live_cert_file(1, "key.pem") };
	wr_server *up = wr_server_new(&(wr_server_config){ .threads = 1, .tls = &stls }, &err);
	cr_assert(up, "%s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket(up, "/echo", &(wr_ws_handlers){ .on_message = echo_cb }), 0);
	uint16_t up_port = live_start(up);
	snprintf(wss_url, sizeof(wss_url), "wss://localhost:%u/echo", up_port);
	static char ca[512];
	snprintf(ca, sizeof(ca), "%s", live_cert_file(0, "cert.pem"));
	wss_ctls = (wr_tls_config){ .ca_file = ca };
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1 }, &err);
	cr_assert(srv, "%s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket_fiber(srv, "/p", &(wr_ws_fiber){ .handler = relay_wss }), 0);
	uint16_t port = live_start(srv);
	n_exit = 0;
	int fd = ws_open(port, "/p");
	for (int i = 0; i < 10; i++) {
		char t[32];
		snprintf(t, sizeof(t), "over tls %d", i);
		cr_assert_eq(live_ws_send(fd, 1, WR_OP_TEXT, t, strlen(t)), 0);
		expect_text(fd, t);
	}
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_CLOSE, "\x03\xe8", 2), 0);
	cr_assert_eq(close_code(fd), 1000);
	close(fd);
	wait_exits(1);
	wr_server_free(srv);
	wr_server_free(up);
}
#endif
