/* Regression tests from the core review: each one failed (crash, hang, leak or unbounded
 * growth) before its fix. Loopback only; every wait is bounded. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live.h"

/* ---- timer wheel: a timer callback that re-arms or cancels another connection's timer ---- */

#define NPEERS 8
static wr_ws *peers[NPEERS]; /* reactor thread only (threads = 1) */
static atomic_int n_closed;

static void partner_open(wr_ws *ws, const wr_req *req, void *user)
{
	for (int i = 0; i < NPEERS; i++)
		if (!peers[i]) {
			peers[i] = ws;
			break;
		}
}

/* A game server: when one player drops (here: ping timeout), close the others' sessions. */
static void partner_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	atomic_fetch_add(&n_closed, 1);
	for (int i = 0; i < NPEERS; i++)
		if (peers[i] == ws)
			peers[i] = NULL;
	for (int i = 0; i < NPEERS; i++)
		if (peers[i])
			wr_ws_close(peers[i], WR_CLOSE_GOING_AWAY, "partner left");
}

Test(review, timer_callback_rearms_other_timer_in_same_slot, .timeout = 30)
{
	atomic_store(&n_closed, 0);
	memset(peers, 0, sizeof(peers));
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1, .ping_interval_ms = 300,
	                                                    .close_timeout_ms = 1000 }, NULL);
	wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_open = partner_open,
	                                                   .on_close = partner_close });
	uint16_t port = live_start(srv);
	int fds[NPEERS];
	for (int i = 0; i < NPEERS; i++)
		fds[i] = live_connect(port);
	/* Handshakes back to back: the idle timers land in the same wheel slot. */
	for (int i = 0; i < NPEERS; i++)
		cr_assert_eq(live_ws_handshake(fds[i], "/ws"), 0);
	/* Nobody answers pings: one ping timeout closes the others (1001), whose close timeout
	 * then ends them. Every socket must see EOF. */
	for (int i = 0; i < NPEERS; i++) {
		cr_assert(live_wait_eof(fds[i], 8000), "peer %d never closed", i);
		close(fds[i]);
	}
	for (int i = 0; i < 100 && atomic_load(&n_closed) < NPEERS; i++)
		usleep(20000);
	cr_assert_eq(atomic_load(&n_closed), NPEERS);
	wr_server_free(srv);
}

/* ---- wr_loop: run, stop, run again ---- */

static void stop_soon(wr_loop *loop, void *user)
{
	(*(int *)user)++;
	wr_loop_stop(loop);
}

Test(review, loop_runs_again_after_stop, .timeout = 10)
{
	int err, ticks = 0;
	wr_loop *loop = wr_loop_new(NULL, &err);
	cr_assert_not_null(loop);
	cr_assert_eq(wr_loop_every(loop, 20, stop_soon, &ticks), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(ticks, 1);
	/* The second stop must be seen too (it was lost: the wake read was not re-armed). */
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_geq(ticks, 2);
	wr_loop_free(loop);
}

/* ---- wr_loop_free with a connection still connecting ---- */

static atomic_int loop_closed;
static void count_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	atomic_fetch_add(&loop_closed, 1);
}

Test(review, loop_free_releases_pending_connections, .timeout = 10)
{
	atomic_store(&loop_closed, 0);
	int before = live_fd_count();
	int err;
	wr_loop *loop = wr_loop_new(NULL, &err);
	cr_assert_not_null(loop);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(wr_loop_connect(loop, "ws://127.0.0.1:9/ws", NULL,
		                             &(wr_ws_handlers){ .on_close = count_close }), 0);
	wr_loop_free(loop);
	cr_assert_eq(atomic_load(&loop_closed), 4);
	cr_assert_eq(live_fd_count(), before, "descriptors leaked: %d", live_fd_count() - before);
}

/* ---- HTTP: a peer that sends and never reads must not grow server memory without bound ---- */

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static char big_body[32768];
static void h_big(wr_req *req, wr_res *res, void *user) { wr_res_body(res, big_body, sizeof(big_body)); }

static wr_server *http_server(uint16_t *port)
{
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1,
	                                                    .max_send_buffer = 1u << 20 }, NULL);
	cr_assert_not_null(srv);
	wr_server_get(srv, "/big", h_big, NULL);
	*port = live_start(srv);
	return srv;
}

/* Push `total` bytes of `unit` repeated; stops early if the server closed. */
static size_t push(int fd, const char *unit, size_t total)
{
	size_t ul = strlen(unit), sent = 0;
	char *blk = malloc(64 * 1024);
	size_t per = (64 * 1024) / ul;
	for (size_t i = 0; i < per; i++)
		memcpy(blk + i * ul, unit, ul);
	while (sent < total) {
		if (live_send(fd, blk, per * ul) < 0)
			break;
		sent += per * ul;
	}
	free(blk);
	return sent;
}

Test(review, http_pipelining_without_reading_is_bounded, .timeout = 60)
{
	uint16_t port;
	wr_server *srv = http_server(&port);
	long before = rss_kb();
	int fd = live_connect(port);
	/* 4 MiB of requests, each answered with 32 KiB: 4 GiB of answers if nothing holds back. */
	push(fd, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n", 4u << 20);
	usleep(200000);
	long grown = rss_kb() - before;
	cr_assert_lt(grown, 64 * 1024, "server memory grew by %ld KiB for one connection", grown);
	close(fd);
	wr_server_free(srv);
}

Test(review, http_input_after_connection_close_is_bounded, .timeout = 60)
{
	uint16_t port;
	wr_server *srv = http_server(&port);
	long before = rss_kb();
	int fd = live_connect(port);
	/* Enough answers that the flush cannot finish while we do not read, then garbage. */
	push(fd, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n", 30 * 16);
	cr_assert_eq(live_send_str(fd, "GET /big HTTP/1.1\r\nConnection: close\r\n\r\n"), 0);
	push(fd, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 256u << 20);
	usleep(200000);
	long grown = rss_kb() - before;
	cr_assert_lt(grown, 64 * 1024, "server memory grew by %ld KiB for one connection", grown);
	close(fd);
	wr_server_free(srv);
}

/* ---- zero-copy: the completion comes once, with an error, when the connection closes with
 * the send parked (that it waits for the kernel is checked on the core itself: test_core) ---- */

static atomic_int zc_calls, zc_status;
static uint8_t *zc_buf;
#define ZC_LEN (8u << 20)

static void zc_done_cb(const void *data, int status, void *user)
{
	atomic_store(&zc_status, status);
	atomic_fetch_add(&zc_calls, 1);
	memset((void *)data, 'Z', ZC_LEN);
}

static void zc_on_message(wr_ws *ws, wr_msg msg, void *user)
{
	if (msg.len == 2 && !memcmp(msg.data, "zc", 2))
		wr_ws_send_zc(ws, zc_buf, ZC_LEN, WR_OP_BINARY, zc_done_cb, ws);
	else if (msg.len == 3 && !memcmp(msg.data, "big", 3)) {
		static uint8_t more[ZC_LEN];
		wr_ws_send(ws, more, sizeof(more), WR_OP_BINARY); /* past the limit: closed */
	}
}

Test(review, zc_completion_waits_for_the_kernel_on_close, .timeout = 30)
{
	atomic_store(&zc_calls, 0);
	zc_buf = malloc(ZC_LEN);
	memset(zc_buf, 'a', ZC_LEN);
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1,
	                                                    .max_send_buffer = 12u << 20 }, NULL);
	wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = zc_on_message });
	uint16_t port = live_start(srv);
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	cr_assert_eq(live_ws_send(fd, 1, 2, "zc", 2), 0);
	usleep(200000); /* the server's send is now parked on a full socket */
	cr_assert_eq(live_ws_send(fd, 1, 2, "big", 3), 0);
	for (int i = 0; i < 100 && !atomic_load(&zc_calls); i++)
		usleep(20000);
	close(fd);
	wr_server_free(srv);
	cr_assert_eq(atomic_load(&zc_calls), 1);
	cr_assert_lt(atomic_load(&zc_status), 0);
	free(zc_buf);
}

/* ---- timeouts near UINT32_MAX ms ("never", in practice) must not wrap to one tick ---- */

Test(review, huge_timeout_does_not_wrap, .timeout = 30)
{
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1,
	                                                    .handshake_timeout_ms = UINT32_MAX,
	                                                    .idle_timeout_ms = UINT32_MAX }, NULL);
	wr_server_get(srv, "/big", h_big, NULL);
	uint16_t port = live_start(srv);
	int fd = live_connect(port);
	cr_assert_eq(live_send_str(fd, "GET /big HTTP/1.1\r\n"), 0); /* an unfinished head */
	cr_assert_eq(live_wait_eof(fd, 600), 0, "closed by a timeout of ~49 days after <1 s");
	close(fd);
	wr_server_free(srv);
}
