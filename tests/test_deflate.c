/* permessage-deflate end to end through the public API: our server with our clients (every
 * parameter), a route without it, the shared-compressor mode, a broadcast frame compressed
 * once, and a 1 MiB frame that inflates to 1 GiB costing at most the message limit. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include "live.h"

static atomic_int n_open, n_close, last_close, n_deflate;
static wr_ws *opened[8];
static atomic_int n_opened;

static void on_open(wr_ws *ws, const wr_req *req, void *user)
{
	int k = atomic_fetch_add(&n_open, 1);
	if (k < 8)
		opened[k] = ws;
	if (wr_ws_deflate(ws))
		atomic_fetch_add(&n_deflate, 1);
	atomic_store(&n_opened, k + 1);
}

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static void on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	atomic_store(&last_close, code);
	atomic_fetch_add(&n_close, 1);
}

static wr_server *srv;
static atomic_int n_fiber_deflate;

/* A sequential handler: what it reads has been inflated by the WebSocket layer. */
static void fiber_echo(wr_ws *ws, const wr_req *req, void *user)
{
	if (wr_ws_deflate(ws))
		atomic_fetch_add(&n_fiber_deflate, 1);
	wr_msg m;
	while (wr_ws_read(ws, &m) > 0)
		if (wr_ws_send(ws, m.data, m.len, m.opcode) < 0)
			break;
}

static uint16_t start(size_t max_msg)
{
	atomic_store(&n_open, 0);
	atomic_store(&n_close, 0);
	atomic_store(&n_deflate, 0);
	atomic_store(&last_close, 0);
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = 1, .max_message_bytes = max_msg }, &err);
	cr_assert_not_null(srv);
	wr_ws_handlers h = { .on_open = on_open, .on_message = on_message, .on_close = on_close };
	cr_assert_eq(wr_server_websocket(srv, "/plain", &h), 0);
	h.deflate = (wr_deflate_config){ .enable = true };
	cr_assert_eq(wr_server_websocket(srv, "/z", &h), 0);
	h.deflate = (wr_deflate_config){ .enable = true, .shared = true, .threshold = 16 };
	cr_assert_eq(wr_server_websocket(srv, "/shared", &h), 0);
	cr_assert_eq(wr_server_websocket_fiber(srv, "/fiber", &(wr_ws_fiber){ .handler = fiber_echo,
		.deflate = { .enable = true } }), 0);
	return live_start(srv);
}

/* JSON-like text of about n bytes, varied enough to be a real test of the codec. */
static char *json(size_t n, unsigned seed)
{
	char *s = malloc(n + 128);
	size_t k = 0;
	while (k < n)
		k += (size_t)sprintf(s + k, "{\"id\":%u,\"user\":\"u%u\",\"price\":%u.%02u,\"ok\":true},",
		                     seed, seed * 7 % 1000, seed % 997, seed % 100), seed = seed * 1103515245u + 12345u;
	s[n] = 0;
	return s;
}

static void echo_with(uint16_t port, const char *path, const wr_deflate_config *d, bool expect)
{
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u%s", port, path);
	wr_client_err err;
	wr_client_options o = { .read_timeout_ms = 5000, .deflate = *d };
	wr_client *c = wr_client_connect(url, &o, &err);
	cr_assert_not_null(c, "connect %s: %d", url, err.code);
	cr_assert_eq(wr_client_deflate(c), expect, "%s negotiated", path);
	static const size_t sizes[] = { 10, 1024, 70000, 300000, 1024, 5 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *m = json(sizes[i], (unsigned)i + 1);
		cr_assert_eq(wr_client_send_text(c, m), 0);
		wr_msg r;
		cr_assert_eq(wr_client_read(c, &r), WR_OP_TEXT, "message %zu", i);
		cr_assert_eq(r.len, sizes[i]);
		cr_assert_eq(memcmp(r.data, m, r.len), 0, "message %zu echoed", i);
		free(m);
	}
	uint8_t bin[4096];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 31 + (i >> 7));
	cr_assert_eq(wr_client_send_binary(c, bin, sizeof(bin)), 0);
	wr_msg r;
	cr_assert_eq(wr_client_read(c, &r), WR_OP_BINARY);
	cr_assert_eq(r.len, sizeof(bin));
	cr_assert_eq(memcmp(r.data, bin, sizeof(bin)), 0);
	cr_assert_eq(wr_client_close(c, 1000, ""), 0);
	wr_client_free(c);
}

Test(deflate, our_client_every_parameter)
{
	uint16_t port = start(0);
	const wr_deflate_config cfgs[] = {
		{ .enable = true },
		{ .enable = true, .server_no_context_takeover = true },
		{ .enable = true, .client_no_context_takeover = true },
		{ .enable = true, .server_max_window_bits = 9 },
		{ .enable = true, .server_max_window_bits = 12, .client_max_window_bits = 10 },
		{ .enable = true, .client_max_window_bits = 9, .server_no_context_takeover = true,
		  .client_no_context_takeover = true },
		{ .enable = true, .shared = true, .level = 1, .mem_level = 4, .threshold = 1 },
	};
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		echo_with(port, "/z", &cfgs[i], true);
		echo_with(port, "/shared", &cfgs[i], true);
	}
	echo_with(port, "/plain", &cfgs[0], false);
	echo_with(port, "/z", &(wr_deflate_config){ 0 }, false);
	for (int i = 0; i < 200 && atomic_load(&n_close) < atomic_load(&n_open); i++)
		usleep(5000);
	cr_assert_eq(atomic_load(&n_deflate), 14);
	wr_server_free(srv);
}

/* Fiber handlers read inflated messages, and what they send is compressed on the way out. */
Test(deflate, fiber_handler_reads_inflated_messages)
{
	uint16_t port = start(0);
	atomic_store(&n_fiber_deflate, 0);
	echo_with(port, "/fiber", &(wr_deflate_config){ .enable = true }, true);
	echo_with(port, "/fiber", &(wr_deflate_config){ .enable = true,
		.server_no_context_takeover = true, .client_max_window_bits = 9 }, true);
	echo_with(port, "/fiber", &(wr_deflate_config){ 0 }, false);
	for (int i = 0; i < 200 && atomic_load(&n_fiber_deflate) < 2; i++)
		usleep(5000);
	cr_assert_eq(atomic_load(&n_fiber_deflate), 2);
	wr_server_free(srv);
}

/* ---- the async client ---- */

static atomic_int a_got;
static char *a_msg;

static void a_open(wr_ws *ws, const wr_req *req, void *user)
{
	cr_assert(wr_ws_deflate(ws));
	wr_ws_send(ws, a_msg, strlen(a_msg), WR_OP_TEXT);
}

static void a_message(wr_ws *ws, wr_msg msg, void *user)
{
	cr_assert_eq(msg.len, strlen(a_msg));
	cr_assert_eq(memcmp(msg.data, a_msg, msg.len), 0);
	if (atomic_fetch_add(&a_got, 1) + 1 < 6)
		wr_ws_send(ws, a_msg, strlen(a_msg), WR_OP_TEXT);
	else
		wr_ws_close(ws, 1000, "");
}

static void a_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	wr_loop_stop(user);
}

Test(deflate, async_client)
{
	uint16_t port = start(0);
	a_msg = json(50000, 9);
	wr_loop *loop = wr_loop_new(NULL, NULL);
	cr_assert_not_null(loop);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/z", port);
	wr_ws_handlers h = { .on_open = a_open, .on_message = a_message, .on_close = a_close,
	                     .user = loop };
	wr_client_options o = { .deflate = { .enable = true, .client_max_window_bits = 11 } };
	cr_assert_eq(wr_loop_connect(loop, url, &o, &h), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(atomic_load(&a_got), 6);
	wr_loop_free(loop);
	free(a_msg);
	wr_server_free(srv);
}

/* ---- broadcast ---- */

static wr_frame *bframe;
static atomic_int b_sent, b_variant;

static void broadcast(void *arg)
{
	int n = atomic_load(&n_open);
	for (int i = 0; i < n; i++)
		if (wr_ws_send_frame(opened[i], bframe) == 0)
			atomic_fetch_add(&b_sent, 1);
	atomic_store(&b_variant, wr_frame_has_deflate(bframe, 15) ? 1 : 0);
}

Test(deflate, broadcast_frame_compressed_once)
{
	uint16_t port = start(0);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/z", port);
	wr_client *c[4];
	for (int i = 0; i < 4; i++) {
		/* Three with deflate (context takeover kept on the first, to check that a shared
		 * frame does not confuse a stream with context), one without. */
		wr_client_options o = { .read_timeout_ms = 5000, .deflate = { .enable = i < 3 } };
		c[i] = wr_client_connect(url, &o, NULL);
		cr_assert_not_null(c[i]);
	}
	for (int i = 0; i < 200 && atomic_load(&n_opened) < 4; i++)
		usleep(5000);
	char *m = json(20000, 3);
	bframe = wr_frame_new(m, strlen(m), WR_OP_TEXT);
	cr_assert_eq(wr_server_run_on(srv, 0, broadcast, NULL), 0);
	for (int i = 0; i < 4; i++) {
		wr_msg r;
		cr_assert_eq(wr_client_read(c[i], &r), WR_OP_TEXT, "receiver %d", i);
		cr_assert_eq(r.len, strlen(m));
		cr_assert_eq(memcmp(r.data, m, r.len), 0);
	}
	cr_assert_eq(atomic_load(&b_sent), 4);
	cr_assert_eq(atomic_load(&b_variant), 1);
	/* After the shared frame, each connection's own stream still round-trips. */
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(wr_client_send_text(c[i], m), 0);
		wr_msg r;
		cr_assert_eq(wr_client_read(c[i], &r), WR_OP_TEXT);
		cr_assert_eq(memcmp(r.data, m, r.len), 0);
		cr_assert_eq(wr_client_send_text(c[i], m), 0);
		cr_assert_eq(wr_client_read(c[i], &r), WR_OP_TEXT);
		cr_assert_eq(memcmp(r.data, m, r.len), 0);
		wr_client_free(c[i]);
	}
	wr_frame_unref(bframe);
	free(m);
	wr_server_free(srv);
}

/* ---- hand-made traffic: bombs and protocol errors ---- */

static int raw_open(uint16_t port, const char *path, const char *ext)
{
	int fd = live_connect(port);
	char req[512];
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	         "Sec-WebSocket-Version: 13\r\n%s\r\n", path, ext);
	cr_assert_eq(live_send_str(fd, req), 0);
	char buf[1024];
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strstr(buf, " 101 "), "%s", buf);
	return fd;
}

/* Send one masked frame with the given first byte (FIN, RSV, opcode). */
static void send_raw(int fd, uint8_t b0, const uint8_t *p, size_t n)
{
	uint8_t hdr[14], key[4] = { 1, 2, 3, 4 };
	size_t hl = live_ws_frame_header(hdr, true, b0 & 0x0f, n, key);
	hdr[0] = b0;
	uint8_t *m = malloc(hl + n + 1);
	memcpy(m, hdr, hl);
	for (size_t i = 0; i < n; i++)
		m[hl + i] = p[i] ^ key[i & 3];
	live_send(fd, m, hl + n);
	free(m);
}

static void expect_close(int fd, int code)
{
	char buf[256];
	int op = 0, fin = 0;
	ssize_t n;
	do
		n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	while (n >= 0 && op != 8);
	cr_assert_eq(op, 8, "no close frame");
	int got = ((uint8_t)buf[0] << 8) | (uint8_t)buf[1];
	cr_assert_eq(got, code, "close code %d, want %d", got, code);
}

/* Under AddressSanitizer freed blocks stay resident in its quarantine (each doubling of the
 * message buffer leaves the old one there): the bound is looser, still far below 1 GiB. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_FACTOR 4
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_FACTOR 4
#endif
#endif
#ifndef RSS_FACTOR
#define RSS_FACTOR 1
#endif

static long maxrss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Raw deflate of n zero bytes, sync-flushed, tail removed. */
static uint8_t *zeros_bomb(size_t n, size_t *out_len)
{
	z_stream s = { 0 };
	cr_assert_eq(deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_RLE), Z_OK);
	size_t cap = n / 500 + 4096;
	uint8_t *out = malloc(cap);
	static uint8_t chunk[1 << 20];
	s.next_out = out;
	s.avail_out = (uInt)cap;
	for (size_t done = 0; done < n; done += sizeof(chunk)) {
		s.next_in = chunk;
		s.avail_in = sizeof(chunk);
		cr_assert_eq(deflate(&s, done + sizeof(chunk) >= n ? Z_SYNC_FLUSH : Z_NO_FLUSH), Z_OK);
		cr_assert_eq(s.avail_in, 0);
	}
	*out_len = cap - s.avail_out - 4;
	deflateEnd(&s);
	return out;
}

Test(deflate, bomb_costs_at_most_the_limit)
{
	size_t limit = 8u << 20;
	uint16_t port = start(limit);
	size_t zl;
	uint8_t *bomb = zeros_bomb((size_t)1 << 30, &zl);
	cr_assert_leq(zl, (size_t)1100 << 10, "1 GiB of zeros in about 1 MiB: %zu", zl);
	cr_assert_geq(zl, (size_t)900 << 10);
	/* Warm up: a connection and a small compressed message, so the comparison below counts
	 * only what the bomb costs. */
	int fd = raw_open(port, "/z", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
	size_t sl;
	uint8_t *small = zeros_bomb(1 << 20, &sl);
	send_raw(fd, 0xc2, small, sl);
	static char rbuf[1 << 21];
	int op, fin;
	cr_assert_eq(live_ws_recv(fd, &op, &fin, rbuf, sizeof(rbuf)) >= 0, true);
	long before = maxrss_kib();
	send_raw(fd, 0xc2, bomb, zl);  /* FIN, RSV1, binary */
	expect_close(fd, 1009);
	long after = maxrss_kib();
	fprintf(stderr, "bomb: %zu compressed bytes for 1 GiB; peak RSS %ld -> %ld KiB (limit %zu KiB)\n",
	        zl, before, after, limit >> 10);
	cr_assert_leq((size_t)(after - before), (limit >> 10) * RSS_FACTOR + 4096,
	              "peak RSS grew %ld KiB for a %zu KiB limit", after - before, limit >> 10);
	close(fd);
	free(bomb);
	free(small);
	wr_server_free(srv);
}

Test(deflate, rsv_rules_and_bad_data)
{
	uint16_t port = start(0);
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t hello[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
	/* Without the extension RSV1 is a protocol error. */
	int fd = raw_open(port, "/plain", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
	send_raw(fd, 0xc1, hello, sizeof(hello));
	expect_close(fd, 1002);
	close(fd);
	/* With it: "Hello" comes back (uncompressed: below the threshold). */
	fd = raw_open(port, "/z", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
	send_raw(fd, 0xc1, hello, sizeof(hello));
	char buf[64];
	int op, fin;
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 5);
	cr_assert_eq(memcmp(buf, "Hello", 5), 0);
	/* RSV1 on a continuation frame: 1002. */
	send_raw(fd, 0x41, hello, 3);
	send_raw(fd, 0xc0, hello + 3, 4);
	expect_close(fd, 1002);
	close(fd);
	/* RSV1 on a ping: 1002. */
	fd = raw_open(port, "/z", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
	send_raw(fd, 0xc9, hello, sizeof(hello));
	expect_close(fd, 1002);
	close(fd);
	/* Undecodable data: 1007. */
	fd = raw_open(port, "/z", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
	send_raw(fd, 0xc2, junk, sizeof(junk));
	expect_close(fd, 1007);
	close(fd);
	/* Inflated text that is not UTF-8: 1007. */
	static const uint8_t bad_utf8[] = { 0xfa, 0x0f, 0x00 }; /* raw deflate of "\xff" */
	fd = raw_open(port, "/z", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
	send_raw(fd, 0xc1, bad_utf8, sizeof(bad_utf8));
	expect_close(fd, 1007);
	close(fd);
	wr_server_free(srv);
}
