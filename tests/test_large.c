/* Large payloads: once a frame header announces more than the receive in hand, the rest is
 * received straight into the message buffer and unmasked there; an echo sends that buffer as
 * it is. These tests feed frames in hand-cut pieces over a raw socket — split headers, a rest
 * in many pieces, every mask rotation at the switch, fragments, frames after a large one in
 * the same write, bad UTF-8 after the switch, the message limit, the memory budget (1009 and
 * 1013 for a header that came alone), a peer that announces a huge frame and trickles, a slow
 * sender that the idle ping must not take for idle, closes and stops while a sized receive
 * is in flight — and check every byte that comes back;
 * then the paths that must not take the direct receive (TLS, permessage-deflate) and a fiber
 * reading large messages with wr_ws_read. Run under ASan too: the message buffer handed to
 * the send queue must live until its send ends. */
/* Built twice: test_large with receive bundles off, test_large_bundles with them forced on
 * (-DWR_TEST_BUNDLES=1): every case, the close and cut-off paths among them, runs both ways. */
#ifndef WR_TEST_BUNDLES
#define WR_TEST_BUNDLES 0
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "live.h"
#include "wring/client.h"
#include "wring/fiber.h"
#if WR_HAVE_TLS
#include "wring/tls.h"
#define LIVE_CERT_ENV "WR_LARGE_CERTS"
#define LIVE_CERT_PREFIX "wring-large"
#include "live_cert.h"
#endif

static atomic_int n_close, last_close, n_msg;

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	atomic_fetch_add(&n_msg, 1);
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static void on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	last_close = code;
	atomic_fetch_add(&n_close, 1);
}

static const wr_ws_handlers handlers = { .on_message = on_message, .on_close = on_close };
static wr_server *srv;

static uint16_t start(void)
{
	n_close = last_close = n_msg = 0;
	int err;
	/* Small receive buffers, so that a frame's rest is often more than is in hand. */
	srv = wr_server_new(&(wr_server_config){ .recv_bundles = WR_TEST_BUNDLES, .threads = 1, .recv_buf_size = 4096 }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &handlers), 0);
	return live_start(srv);
}

static void stop(void)
{
	wr_server_free(srv);
	srv = NULL;
}

static int ws_open(uint16_t port)
{
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	return fd;
}

/* A masked client frame in wire bytes; *out_n its length. */
static uint8_t *frame(bool fin, int op, const uint8_t *p, size_t n, uint32_t key, size_t *out_n)
{
	uint8_t mask[4];
	memcpy(mask, &key, 4);
	uint8_t *f = malloc(n + 14);
	size_t hl = live_ws_frame_header(f, fin, op, n, mask);
	for (size_t i = 0; i < n; i++)
		f[hl + i] = p[i] ^ mask[i & 3];
	*out_n = hl + n;
	return f;
}

/* Send p[0..n) in the given cuts (the last one repeats), pausing between pieces so each
 * arrives on its own. */
static void send_cut(int fd, const uint8_t *p, size_t n, const size_t *cuts, size_t ncuts)
{
	size_t off = 0, i = 0;
	while (off < n) {
		size_t k = cuts[i < ncuts ? i : ncuts - 1];
		i++;
		if (k > n - off)
			k = n - off;
		cr_assert_eq(live_send(fd, p + off, k), 0);
		off += k;
		usleep(2000);
	}
}

static void expect_echo(int fd, int op_want, const uint8_t *p, size_t n)
{
	uint8_t *got = malloc(n + 1);
	int op = 0, fin = 0;
	ssize_t k = live_ws_recv(fd, &op, &fin, got, n + 1);
	cr_assert_eq(k, (ssize_t)n, "echo of %zu bytes: got %zd (opcode %d, %02x %02x)", n, k, op, got[0], got[1]);
	cr_assert_eq(op, op_want);
	cr_assert(fin);
	cr_assert(memcmp(got, p, n) == 0, "echo differs");
	free(got);
}

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

/* Valid UTF-8 of n bytes with 2-, 3- and 4-byte characters everywhere (so some straddle the
 * switch to the direct receive). */
static uint8_t *utf8_text(size_t n)
{
	static const char *const chars[] = { "a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
	uint8_t *p = malloc(n);
	size_t i = 0;
	for (unsigned k = 0; i < n; k++) {
		const char *c = chars[k % 4];
		size_t l = strlen(c);
		if (l > n - i)
			c = "a", l = 1;
		memcpy(p + i, c, l);
		i += l;
	}
	return p;
}

Test(large, split_header_then_the_rest_in_many_pieces)
{
	uint16_t port = start();
	int fd = ws_open(port);
	size_t n = 300000, fl;
	uint8_t *p = pattern(n, 1);
	uint8_t *f = frame(true, 2, p, n, 0x11223344u, &fl);
	/* 1 byte of header, the rest of it with a little payload, then uneven pieces. */
	const size_t cuts[] = { 1, 5, 1000, 7, 30000, 1, 4099, 65536, 12345 };
	send_cut(fd, f, fl, cuts, sizeof(cuts) / sizeof(cuts[0]));
	expect_echo(fd, 2, p, n);
	/* The connection goes on with small and large messages after the direct receives. */
	live_ws_send(fd, 1, 1, "hi", 2);
	expect_echo(fd, 1, (const uint8_t *)"hi", 2);
	free(f);
	f = frame(true, 2, p, 70000, 0xdeadbeefu, &fl);
	cr_assert_eq(live_send(fd, f, fl), 0);
	expect_echo(fd, 2, p, 70000);
	free(f);
	free(p);
	close(fd);
	stop();
}

Test(large, every_mask_rotation_at_the_switch_text_checked)
{
	uint16_t port = start();
	int fd = ws_open(port);
	size_t n = 100003, fl;
	uint8_t *p = utf8_text(n);
	for (size_t first = 0; first < 8; first++) {
		uint8_t *f = frame(true, 1, p, n, 0x01020304u * (uint32_t)(first + 1), &fl);
		size_t hl = fl - n;
		const size_t cuts[] = { hl + first, 20000, 3, 50000 };
		send_cut(fd, f, fl, cuts, 4);
		expect_echo(fd, 1, p, n);
		free(f);
	}
	free(p);
	close(fd);
	stop();
}

Test(large, fragments_and_frames_back_to_back)
{
	uint16_t port = start();
	int fd = ws_open(port);
	size_t n = 60000, l1, l2, l3;
	uint8_t *p = pattern(3 * n, 7);
	uint8_t *a = frame(false, 2, p, n, 0xa1a2a3a4u, &l1);
	uint8_t *b = frame(false, 0, p + n, n, 0xb1b2b3b4u, &l2);
	uint8_t *c = frame(true, 0, p + 2 * n, n, 0xc1c2c3c4u, &l3);
	/* A ping between fragments, then the rest in one write: frames follow the direct part. */
	const size_t cuts[] = { 2000, 10000 };
	send_cut(fd, a, l1, cuts, 2);
	live_ws_send(fd, 1, 9, "p", 1);
	uint8_t *all = malloc(l2 + l3);
	memcpy(all, b, l2);
	memcpy(all + l2, c, l3);
	cr_assert_eq(live_send(fd, all, l2 + l3), 0);
	uint8_t got[4];
	int op = 0, fin = 0;
	cr_assert_eq(live_ws_recv(fd, &op, &fin, got, sizeof(got)), 1);
	cr_assert_eq(op, 10); /* pong */
	expect_echo(fd, 2, p, 3 * n);
	/* Two whole large messages in one write. */
	memcpy(all, c, l3);
	memcpy(all + l3, c, l3);
	all[0] = 0x82, all[l3] = 0x82; /* FIN + binary: each a message of its own */
	cr_assert_eq(live_send(fd, all, 2 * l3), 0);
	expect_echo(fd, 2, p + 2 * n, n);
	expect_echo(fd, 2, p + 2 * n, n);
	free(all);
	free(a);
	free(b);
	free(c);
	free(p);
	close(fd);
	stop();
}

Test(large, bad_utf8_after_the_switch_closes_1007)
{
	uint16_t port = start();
	int fd = ws_open(port);
	size_t n = 100000, fl;
	uint8_t *p = utf8_text(n);
	p[80000] = 0xff;
	uint8_t *f = frame(true, 1, p, n, 0x55667788u, &fl);
	const size_t cuts[] = { 1000, 30000 };
	send_cut(fd, f, fl, cuts, 2);
	uint8_t buf[256];
	int op = 0, fin = 0;
	ssize_t k = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert_eq(op, 8);
	cr_assert_geq(k, 2);
	cr_assert_eq(buf[0] << 8 | buf[1], 1007);
	free(f);
	free(p);
	close(fd);
	stop();
}

Test(large, close_and_stop_while_a_sized_receive_is_in_flight)
{
	uint16_t port = start();
	int fds0 = live_fd_count();
	/* The peer goes away half way through a 1 MiB frame. */
	size_t n = 1u << 20, fl;
	uint8_t *p = pattern(n, 3);
	uint8_t *f = frame(true, 2, p, n, 0x01010101u, &fl);
	int fd = ws_open(port);
	cr_assert_eq(live_send(fd, f, 200000), 0);
	usleep(50000);
	close(fd);
	for (int i = 0; i < 200 && atomic_load(&n_close) < 1; i++)
		usleep(5000);
	cr_assert_eq(atomic_load(&n_close), 1);
	cr_assert_eq(last_close, WR_CLOSE_ABNORMAL);
	/* A reset in the middle: the same. */
	fd = ws_open(port);
	cr_assert_eq(live_send(fd, f, 100000), 0);
	usleep(20000);
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	for (int i = 0; i < 200 && atomic_load(&n_close) < 2; i++)
		usleep(5000);
	cr_assert_eq(atomic_load(&n_close), 2);
	/* The server is still fine, and stops cleanly with a sized receive in flight. */
	fd = ws_open(port);
	cr_assert_eq(live_send(fd, f, fl), 0);
	expect_echo(fd, 2, p, n);
	cr_assert_eq(live_send(fd, f, 300000), 0);
	usleep(50000);
	stop();
	close(fd);
	cr_assert_leq(live_fd_count(), fds0 + 1);
	free(f);
	free(p);
}

Test(large, message_limit_still_applies)
{
	int err;
	srv = wr_server_new(&(wr_server_config){ .recv_bundles = WR_TEST_BUNDLES, .threads = 1, .max_message_bytes = 100000 }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &handlers), 0);
	uint16_t port = live_start(srv);
	int fd = ws_open(port);
	size_t n = 60000, l1, l2;
	uint8_t *p = pattern(n, 9);
	uint8_t *a = frame(false, 2, p, n, 1, &l1);
	uint8_t *b = frame(true, 0, p, n, 2, &l2);
	cr_assert_eq(live_send(fd, a, l1), 0);
	cr_assert_eq(live_send(fd, b, l2), 0);
	uint8_t buf[256];
	int op = 0, fin = 0;
	ssize_t k = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert_eq(op, 8);
	cr_assert_geq(k, 2);
	cr_assert_eq(buf[0] << 8 | buf[1], 1009);
	free(a);
	free(b);
	free(p);
	close(fd);
	stop();
}

Test(large, frames_after_a_large_one_in_the_same_write)
{
	uint16_t port = start();
	int fd = ws_open(port);
	size_t n = 200000, fl, sl, tl;
	uint8_t *p = pattern(n, 11);
	uint8_t *f = frame(true, 2, p, n, 0x0badf00du, &fl);
	uint8_t *s1 = frame(true, 1, (const uint8_t *)"small one", 9, 0x12345678u, &sl);
	uint8_t *s2 = frame(true, 2, p, 20000, 0x9abcdef0u, &tl);
	uint8_t *all = malloc(fl + sl + tl + 8);
	memcpy(all, f, fl);
	memcpy(all + fl, s1, sl);
	memcpy(all + fl + sl, s2, tl);
	size_t al = fl + sl + tl;
	/* A ping (masked, empty) ends the write. */
	all[al++] = 0x89, all[al++] = 0x80, all[al++] = 1, all[al++] = 2, all[al++] = 3, all[al++] = 4;
	/* The header and a little payload first, so that the rest goes direct; the frames
	 * after it come with the large frame's tail. */
	const size_t cuts[] = { 3000, al };
	send_cut(fd, all, al, cuts, 2);
	expect_echo(fd, 2, p, n);
	expect_echo(fd, 1, (const uint8_t *)"small one", 9);
	expect_echo(fd, 2, p, 20000);
	uint8_t got[8];
	int op = 0, fin = 0;
	cr_assert_eq(live_ws_recv(fd, &op, &fin, got, sizeof(got)), 0);
	cr_assert_eq(op, 10);
	cr_assert_eq(atomic_load(&n_msg), 3);
	free(all);
	free(s2);
	free(s1);
	free(f);
	free(p);
	close(fd);
	stop();
}

static int expect_close(int fd)
{
	uint8_t buf[256];
	int op = 0, fin = 0;
	ssize_t k = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert_eq(op, 8, "a close frame, not opcode %d", op);
	cr_assert_geq(k, 2);
	return buf[0] << 8 | buf[1];
}

/* A header that comes alone announces a message: it is admitted or refused by the memory
 * budget before any buffer is reserved for it (1009: larger than the whole budget, 1013:
 * does not fit now). */
Test(large, budget_refuses_a_header_that_came_alone)
{
	int err;
	n_close = 0;
	/* a small ring: the rings' size is set aside from the budget first */
	srv = wr_server_new(&(wr_server_config){ .recv_bundles = WR_TEST_BUNDLES, .threads = 1, .recv_buf_size = 4096,
	                                         .recv_buf_count = 16, .memory_budget = 5u << 20 }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &handlers), 0);
	uint16_t port = live_start(srv);
	uint8_t hdr[14];
	uint8_t key[4] = { 1, 2, 3, 4 };
	int fd = ws_open(port);
	size_t hl = live_ws_frame_header(hdr, true, 2, 6u << 20, key);
	cr_assert_eq(live_send(fd, hdr, hl), 0);
	cr_assert_eq(expect_close(fd), 1009);
	close(fd);
	/* One connection holds 3 MiB of a message it has not finished (under 3/4 of the
	 * budget, so it is not held back)... */
	size_t n = 3u << 20, fl;
	uint8_t *p = pattern(n, 5);
	uint8_t *f = frame(true, 2, p, n, 0x31415926u, &fl);
	int a = ws_open(port);
	cr_assert_eq(live_send(a, f, fl - 1000), 0);
	usleep(200000);
	/* ...so another's 2.5 MiB does not fit now. */
	int b = ws_open(port);
	hl = live_ws_frame_header(hdr, true, 2, 5u << 19, key);
	cr_assert_eq(live_send(b, hdr, hl), 0);
	cr_assert_eq(expect_close(b), 1013);
	close(b);
	/* The first one finishes and gets its echo. */
	cr_assert_eq(live_send(a, f + fl - 1000, 1000), 0);
	expect_echo(a, 2, p, n);
	close(a);
	free(f);
	free(p);
	stop();
}

/* A peer announcing a 12 MiB frame and sending it a few KiB at a time holds about what it
 * sent (the receive steps), not the 12 MiB: a second connection's 9 MiB message still fits
 * in a 16 MiB budget and is echoed whole. */
Test(large, a_trickling_huge_frame_gets_no_memory_for_free, .timeout = 60)
{
	int err;
	n_close = 0;
	/* a small ring: the rings' size is set aside from the budget first */
	srv = wr_server_new(&(wr_server_config){ .recv_bundles = WR_TEST_BUNDLES, .threads = 1, .recv_buf_size = 4096,
	                                         .recv_buf_count = 16, .memory_budget = 16u << 20,
	                                         .max_message_bytes = 32u << 20 }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &handlers), 0);
	uint16_t port = live_start(srv);
	size_t big = 12u << 20, fl;
	uint8_t *p = pattern(big, 21);
	uint8_t *f = frame(true, 2, p, big, 0x27182818u, &fl);
	int a = ws_open(port);
	size_t sent = 0;
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(live_send(a, f + sent, 5000), 0);
		sent += 5000;
		usleep(5000);
	}
	size_t n = 9u << 20, bl;
	uint8_t *bf = frame(true, 2, p, n, 0x16180339u, &bl);
	int b = ws_open(port);
	cr_assert_eq(live_send(b, bf, bl), 0);
	expect_echo(b, 2, p, n);
	cr_assert_eq(atomic_load(&n_close), 0);
	close(b);
	close(a);
	free(bf);
	free(f);
	free(p);
	stop();
}

/* Idle pings and a frame's rest received directly: the sized receive reports nothing until
 * its target is full, yet a sender that is slow but live must not look idle. */
#define IDLE_MS 300

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The rest of f after its first `head` bytes, in 1000-byte pieces every 60 ms, with a pause of
 * pause_ms after the piece at half way. */
static void trickle(int fd, const uint8_t *f, size_t fl, size_t head, unsigned pause_ms)
{
	cr_assert_eq(live_send(fd, f, head), 0);
	for (size_t off = head; off < fl; off += 1000) {
		usleep(60000);
		if (pause_ms && off >= fl / 2 && off < fl / 2 + 1000)
			usleep(pause_ms * 1000);
		cr_assert_eq(live_send(fd, f + off, fl - off < 1000 ? fl - off : 1000), 0);
	}
}

/* The echo of p[0..n) after any number of pings (the peer cannot answer one in the middle of
 * a frame); returns how many pings came first. */
static int echo_after_pings(int fd, const uint8_t *p, size_t n)
{
	uint8_t *got = malloc(n + 1);
	int op = 0, fin = 0, pings = 0;
	ssize_t k;
	while ((k = live_ws_recv(fd, &op, &fin, got, n + 1)) >= 0 && op == 9)
		pings++;
	cr_assert_eq(k, (ssize_t)n, "echo of %zu bytes: got %zd (opcode %d)", n, k, op);
	cr_assert_eq(op, 2);
	cr_assert(memcmp(got, p, n) == 0, "echo differs");
	free(got);
	return pings;
}

/* Every piece comes well within the ping interval, the whole frame over several of them:
 * no ping, no close, and the echo byte for byte (the pieces the idle checks took out of the
 * sized receive in between included). A pause of 1.5 intervals half way may draw a ping but
 * no close. A peer that stops half way is pinged, then closed after another interval. */
Test(large, a_slow_sender_is_not_idle_a_stalled_one_is, .timeout = 60)
{
	int err;
	n_close = last_close = n_msg = 0;
	srv = wr_server_new(&(wr_server_config){ .threads = 1, .recv_buf_size = 4096,
	                                         .ping_interval_ms = IDLE_MS }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &handlers), 0);
	uint16_t port = live_start(srv);
	size_t n = 40000, fl;
	uint8_t *p = pattern(n, 31);
	uint8_t *f = frame(true, 2, p, n, 0x0f1e2d3cu, &fl);

	int fd = ws_open(port);
	uint64_t t0 = now_ms();
	trickle(fd, f, fl, 2000, 0);
	cr_assert_gt(now_ms() - t0, 4 * IDLE_MS, "the frame must take several intervals");
	cr_assert_eq(echo_after_pings(fd, p, n), 0, "a live sender was pinged as idle");
	trickle(fd, f, fl, 2000, IDLE_MS * 3 / 2);
	cr_assert_leq(echo_after_pings(fd, p, n), 1);
	/* Still open and in step. */
	live_ws_send(fd, 1, 2, p, 100);
	expect_echo(fd, 2, p, 100);
	cr_assert_eq(atomic_load(&n_close), 0);
	close(fd); /* silent from here on, it would be pinged and closed too */
	for (int i = 0; i < 200 && atomic_load(&n_close) < 1; i++)
		usleep(5000);
	cr_assert_eq(atomic_load(&n_close), 1);

	int b = ws_open(port);
	cr_assert_eq(live_send(b, f, 2000), 0);
	t0 = now_ms();
	uint8_t buf[64];
	int op = 0, fin = 0;
	cr_assert_eq(live_ws_recv(b, &op, &fin, buf, sizeof(buf)), 0);
	cr_assert_eq(op, 9, "a ping, not opcode %d", op);
	cr_assert(live_wait_eof(b, 3000), "a stalled sender kept open");
	cr_assert_geq(now_ms() - t0, 2 * IDLE_MS - 100);
	for (int i = 0; i < 200 && atomic_load(&n_close) < 2; i++)
		usleep(5000);
	cr_assert_eq(atomic_load(&n_close), 2);
	cr_assert_eq(last_close, WR_CLOSE_ABNORMAL);
	close(b);
	free(f);
	free(p);
	stop();
}

/* stream_large: a frame over the limit is received directly in steps, each handed on as a
 * piece; the pieces put together are the message. */
static uint8_t *streamed;
static atomic_size_t streamed_len;
static atomic_int streamed_end, streamed_bad;

static void on_piece(wr_ws *ws, wr_msg msg, void *user)
{
	size_t off = (size_t)msg.offset;
	if (off != atomic_load(&streamed_len) || off + msg.len > (2u << 20)) {
		atomic_store(&streamed_bad, 1);
		return;
	}
	memcpy(streamed + off, msg.data, msg.len);
	atomic_store(&streamed_len, off + msg.len);
	if (!msg.more)
		atomic_fetch_add(&streamed_end, 1);
}

Test(large, streamed_pieces_of_a_frame_over_the_limit)
{
	int err;
	streamed = malloc(2u << 20);
	streamed_len = 0;
	streamed_end = streamed_bad = 0;
	srv = wr_server_new(&(wr_server_config){ .recv_bundles = WR_TEST_BUNDLES, .threads = 1, .recv_buf_size = 4096,
	                                         .max_message_bytes = 64u * 1024u }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = on_piece,
	                                                              .stream_large = true }), 0);
	uint16_t port = live_start(srv);
	int fd = ws_open(port);
	size_t n = (1u << 20) + 12345, fl;
	uint8_t *p = pattern(n, 13);
	uint8_t *f = frame(true, 2, p, n, 0xfeedfaceu, &fl);
	const size_t cuts[] = { 2, 9, 70000, 1, 300000 };
	send_cut(fd, f, fl, cuts, 5);
	for (int i = 0; i < 400 && !atomic_load(&streamed_end); i++)
		usleep(5000);
	cr_assert_eq(atomic_load(&streamed_bad), 0);
	cr_assert_eq(atomic_load(&streamed_end), 1);
	cr_assert_eq(atomic_load(&streamed_len), n);
	cr_assert(memcmp(streamed, p, n) == 0, "streamed pieces differ");
	close(fd);
	stop();
	free(f);
	free(p);
	free(streamed);
}

/* A fiber reads large messages (split every way) with wr_ws_read and echoes them. */
static void fiber_echo(wr_ws *ws, const wr_req *req, void *user)
{
	wr_msg m;
	while (wr_ws_read(ws, &m) > 0)
		wr_ws_send(ws, m.data, m.len, m.opcode);
}

Test(large, fiber_reads_large_messages)
{
	int err;
	srv = wr_server_new(&(wr_server_config){ .recv_bundles = WR_TEST_BUNDLES, .threads = 1, .recv_buf_size = 4096 }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/ws", &(wr_ws_fiber){ .handler = fiber_echo }), 0);
	uint16_t port = live_start(srv);
	int fd = ws_open(port);
	size_t sizes[] = { 70000, 1u << 20, 16385, 300001 };
	for (unsigned i = 0; i < 4; i++) {
		size_t fl;
		uint8_t *p = i == 1 ? utf8_text(sizes[i]) : pattern(sizes[i], 40 + i);
		uint8_t *f = frame(true, i == 1 ? 1 : 2, p, sizes[i], 0x10203040u + i, &fl);
		const size_t cuts[] = { 1 + i, 4000, 65536 + i };
		send_cut(fd, f, fl, cuts, 3);
		expect_echo(fd, i == 1 ? 1 : 2, p, sizes[i]);
		free(f);
		free(p);
	}
	close(fd);
	stop();
}

/* Paths that keep the provided buffers: a compressed message is inflated (not received
 * directly), and TLS decrypts before the frames are seen. Both still echo large messages
 * byte for byte, with our client (whose receive takes the direct path too on plain TCP). */
static void client_echo(const char *url, const wr_client_options *o, bool deflate)
{
	wr_client_err err;
	wr_client *cl = wr_client_connect(url, o, &err);
	cr_assert_not_null(cl, "connect %s: %d", url, err.code);
	cr_assert_eq(wr_client_deflate(cl), deflate);
	size_t sizes[] = { 100000, 1u << 20 };
	for (unsigned i = 0; i < 2; i++) {
		uint8_t *p = pattern(sizes[i], 60 + i);
		if (i == 1) /* half compressible */
			memset(p, 'z', sizes[i] / 2);
		cr_assert_eq(wr_client_send(cl, p, sizes[i], WR_OP_BINARY), 0);
		wr_msg m;
		cr_assert_gt(wr_client_read(cl, &m), 0);
		cr_assert_eq(m.len, sizes[i]);
		cr_assert(memcmp(m.data, p, sizes[i]) == 0, "echo differs");
		free(p);
	}
	wr_client_close(cl, 0, NULL);
	wr_client_free(cl);
}

Test(large, deflate_keeps_the_inflate_path)
{
	int err;
	srv = wr_server_new(&(wr_server_config){ .recv_bundles = WR_TEST_BUNDLES, .threads = 1, .recv_buf_size = 4096 }, &err);
	cr_assert_not_null(srv);
	wr_ws_handlers h = handlers;
	h.deflate = (wr_deflate_config){ .enable = true };
	cr_assert_eq(wr_server_websocket(srv, "/ws", &h), 0);
	uint16_t port = live_start(srv);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/ws", port);
	client_echo(url, &(wr_client_options){ .read_timeout_ms = 10000,
	                                       .deflate = { .enable = true } }, true);
	client_echo(url, &(wr_client_options){ .read_timeout_ms = 10000 }, false);
	stop();
}

#if WR_HAVE_TLS
Test(large, tls_keeps_the_ring_path)
{
	int err;
	wr_tls_config stls = { .cert_file = live_cert_file(0, "cert.pem"),
	                       .key_file = live_cert_file(1, "key.pem") };
	srv = wr_server_new(&(wr_server_config){ .recv_bundles = WR_TEST_BUNDLES, .threads = 1, .recv_buf_size = 4096,
	                                         .tls = &stls }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &handlers), 0);
	uint16_t port = live_start(srv);
	char url[64], ca[512];
	snprintf(url, sizeof(url), "wss://localhost:%u/ws", port);
	snprintf(ca, sizeof(ca), "%s", live_cert_file(0, "cert.pem"));
	wr_tls_config ctls = { .ca_file = ca };
	client_echo(url, &(wr_client_options){ .read_timeout_ms = 10000, .tls = &ctls }, false);
	stop();
}
#endif

/* Caller's buffers sent zero-copy, several in one send: the segments the kernel may still
 * read are held until the notification, and their done callbacks then run in send order.
 * Sent from on_open, so that they go out with the handshake's answer in the connection's
 * first send (loopback copies, and its first notification turns zero-copy off). */
enum { ZC_BUFS = 8, ZC_LEN = 5000 };
static uint8_t *zc_bufs[ZC_BUFS];
static atomic_int zc_order[ZC_BUFS], zc_n, zc_bad;

static void zc_done(const void *data, int status, void *user)
{
	int i = (int)(intptr_t)user;
	if (status != 0 || data != zc_bufs[i])
		atomic_store(&zc_bad, 1);
	int k = atomic_fetch_add(&zc_n, 1);
	if (k < ZC_BUFS)
		atomic_store(&zc_order[k], i);
}

static void zc_burst(wr_ws *ws, const wr_req *req, void *user)
{
	for (int i = 0; i < ZC_BUFS; i++)
		if (wr_ws_send_zc(ws, zc_bufs[i], ZC_LEN, WR_OP_BINARY, zc_done, (void *)(intptr_t)i))
			atomic_store(&zc_bad, 1);
}

Test(large, zero_copy_done_callbacks_run_in_send_order)
{
	int err;
	zc_n = zc_bad = 0;
	for (int i = 0; i < ZC_BUFS; i++)
		zc_bufs[i] = pattern(ZC_LEN, 90 + (unsigned)i);
	srv = wr_server_new(&(wr_server_config){ .threads = 1, .send_zc_threshold = 1 }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_open = zc_burst }), 0);
	uint16_t port = live_start(srv);
	for (int round = 0; round < 3; round++) {
		zc_n = 0;
		for (int i = 0; i < ZC_BUFS; i++)
			zc_order[i] = -1;
		int fd = ws_open(port);
		for (int i = 0; i < ZC_BUFS; i++)
			expect_echo(fd, 2, zc_bufs[i], ZC_LEN);
		for (int i = 0; i < 400 && atomic_load(&zc_n) < ZC_BUFS; i++)
			usleep(5000);
		cr_assert_eq(atomic_load(&zc_n), ZC_BUFS);
		cr_assert_eq(atomic_load(&zc_bad), 0);
		for (int i = 0; i < ZC_BUFS; i++)
			cr_assert_eq(atomic_load(&zc_order[i]), i, "the %dth done callback was buffer %d",
			             i, atomic_load(&zc_order[i]));
		close(fd);
	}
	stop();
	for (int i = 0; i < ZC_BUFS; i++)
		free(zc_bufs[i]);
}

/* Zero-copy sends (a threshold of 1 byte: every send of a connection goes SEND_ZC until the
 * kernel says it copied, which loopback does at the first notification; sends already in
 * flight by then, several per connection with 1 MiB echoes cut in per-turn pieces, keep
 * their memory until theirs): echoes come back byte for byte, peers that close or reset
 * with echoes in flight leave nothing behind (ASan), and the server goes on. */
Test(large, zero_copy_sends_hold_their_memory_until_the_notification, .timeout = 120)
{
	int err;
	n_close = 0;
	srv = wr_server_new(&(wr_server_config){ .recv_bundles = WR_TEST_BUNDLES, .threads = 1, .recv_buf_size = 4096,
	                                         .send_zc_threshold = 1 }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &handlers), 0);
	uint16_t port = live_start(srv);
	size_t n = (1u << 20) + 333, fl;
	uint8_t *p = pattern(n, 77);
	uint8_t *f = frame(true, 2, p, n, 0x5a5a1234u, &fl);
	enum { CONNS = 6 };
	int fds[CONNS];
	for (int i = 0; i < CONNS; i++)
		fds[i] = ws_open(port);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < CONNS; i++)
			cr_assert_eq(live_send(fds[i], f, fl), 0);
		for (int i = 0; i < CONNS; i++)
			expect_echo(fds[i], 2, p, n);
	}
	for (int i = 0; i < CONNS; i++)
		close(fds[i]);
	/* Peers that go away while their echo is being sent: half close, half reset. */
	for (int i = 0; i < CONNS; i++) {
		int fd = ws_open(port);
		cr_assert_eq(live_send(fd, f, fl), 0);
		usleep(20000);
		if (i & 1) {
			struct linger lg = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(fd);
	}
	for (int i = 0; i < 400 && atomic_load(&n_close) < 2 * CONNS; i++)
		usleep(5000);
	cr_assert_eq(atomic_load(&n_close), 2 * CONNS);
	int fd = ws_open(port);
	cr_assert_eq(live_send(fd, f, fl), 0);
	expect_echo(fd, 2, p, n);
	close(fd);
	/* The zero-copy path was taken, and loopback said it copied (then plain sends). */
	wr_stats *st = NULL;
	cr_assert_eq(wr_server_stats(srv, &st), 0);
	cr_assert_geq(st->send_zc, 2 * CONNS + 1, "zero-copy sends: %llu",
	              (unsigned long long)st->send_zc);
	cr_assert_geq(st->send_zc_copied, 1);
	cr_assert_leq(st->send_zc_copied, st->send_zc);
	wr_stats_free(st);
	free(f);
	free(p);
	stop();
}
