/* Sequential HTTP routes live on loopback: request bodies read in pieces as they arrive
 * (Content-Length beyond max_body_bytes, chunked split everywhere, 100-continue), malformed
 * chunked bodies and clients that go away reaching the handler as negative codes, streamed
 * chunked answers (and close-delimited ones for HTTP/1.0), the drain wait and its timeout,
 * bounded memory while the handler does not read, and the connection going back to HTTP for
 * the next (pipelined) request. */
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

static atomic_int n_exit, last_rc;

static void wait_exits(int n)
{
	for (int i = 0; i < 500 && atomic_load(&n_exit) < n; i++)
		usleep(10000);
	cr_assert_eq(atomic_load(&n_exit), n);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- handlers ---- */

/* Reads the whole body and tells its length, piece count and a checksum. */
static void upload(wr_req *req, wr_res *res, void *user)
{
	wr_str p;
	int rc;
	uint64_t len = 0;
	uint32_t sum = 0;
	unsigned pieces = 0;
	if (user)
		wr_fiber_sleep(1000);
	while ((rc = wr_req_read(req, &p)) > 0) {
		for (size_t i = 0; i < p.len; i++)
			sum = sum * 31 + (uint8_t)p.data[i];
		len += p.len;
		pieces++;
	}
	atomic_store(&last_rc, rc);
	if (rc == -EBADMSG) {
		wr_res_status(res, 400);
		wr_res_text(res, "bad body\n");
	} else if (rc == 0) {
		char t[96];
		snprintf(t, sizeof(t), "len=%llu sum=%u pieces=%s", (unsigned long long)len, sum,
		         pieces > 1 ? "many" : pieces ? "one" : "none");
		wr_res_text(res, t);
	}
	atomic_fetch_add(&n_exit, 1);
}

/* 200 lines, streamed. */
static void lines(wr_req *req, wr_res *res, void *user)
{
	wr_res_header(res, "Content-Type", "text/plain");
	int rc = 0;
	for (int i = 0; i < 200 && rc == 0; i++) {
		char t[32];
		int n = snprintf(t, sizeof(t), "line %d\n", i);
		rc = wr_res_write(res, t, (size_t)n);
	}
	atomic_store(&last_rc, rc);
	atomic_fetch_add(&n_exit, 1);
}

/* 32 MiB in 64 KiB writes: past the mark, each waits for the client. */
static void big(wr_req *req, wr_res *res, void *user)
{
	static uint8_t block[65536];
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i % 251);
	int rc = 0;
	for (int i = 0; i < 512 && rc == 0; i++)
		rc = wr_res_write(res, block, sizeof(block));
	atomic_store(&last_rc, rc);
	atomic_fetch_add(&n_exit, 1);
}

/* Echoes the body back as it comes, streamed. */
static void echo_body(wr_req *req, wr_res *res, void *user)
{
	wr_str p;
	int rc;
	wr_res_write(res, NULL, 0); /* the head now: an empty body is still a chunked one */
	while ((rc = wr_req_read(req, &p)) > 0)
		if (wr_res_write(res, p.data, p.len) < 0)
			break;
	atomic_store(&last_rc, rc);
	atomic_fetch_add(&n_exit, 1);
}

static void hello(wr_req *req, wr_res *res, void *user)
{
	wr_res_text(res, "hello\n");
}

static void param(wr_req *req, wr_res *res, void *user)
{
	wr_fiber_sleep(10); /* the views stay good across waits */
	wr_str v = wr_req_param(req, "name");
	wr_str h = wr_req_header(req, "X-Tag");
	char t[128];
	snprintf(t, sizeof(t), "%.*s/%.*s/%d", (int)v.len, v.data, (int)h.len, h.data,
	         wr_req_read(req, &(wr_str){ 0 }));
	wr_res_text(res, t);
	atomic_fetch_add(&n_exit, 1);
}

static wr_server *start(uint16_t *port)
{
	int err;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1 }, &err);
	cr_assert(srv, "%s", wr_strerror(err));
	cr_assert_eq(wr_server_route_fiber(srv, "POST", "/upload", &(wr_http_fiber){ .handler = upload }), 0);
	cr_assert_eq(wr_server_route_fiber(srv, "POST", "/nap", &(wr_http_fiber){ .handler = upload,
		.user = "nap" }), 0);
	cr_assert_eq(wr_server_route_fiber(srv, "POST", "/slow-body", &(wr_http_fiber){
		.handler = upload, .read_timeout_ms = 300 }), 0);
	cr_assert_eq(wr_server_route_fiber(srv, "GET", "/lines", &(wr_http_fiber){ .handler = lines }), 0);
	cr_assert_eq(wr_server_route_fiber(srv, "GET", "/big", &(wr_http_fiber){ .handler = big }), 0);
	cr_assert_eq(wr_server_route_fiber(srv, "GET", "/big-impatient", &(wr_http_fiber){
		.handler = big, .drain_timeout_ms = 300 }), 0);
	cr_assert_eq(wr_server_route_fiber(srv, "POST", "/echo", &(wr_http_fiber){ .handler = echo_body }), 0);
	cr_assert_eq(wr_server_route_fiber(srv, NULL, "/p/:name", &(wr_http_fiber){ .handler = param }), 0);
	cr_assert_eq(wr_server_get(srv, "/hello", hello, NULL), 0);
	cr_assert_eq(wr_server_route_fiber(srv, "GET", "/x", &(wr_http_fiber){ 0 }), -EINVAL);
	*port = live_start(srv);
	n_exit = last_rc = 0;
	return srv;
}

/* ---- a small HTTP/1.1 client ---- */

typedef struct resp {
	int status;
	bool chunked, close;
	char head[2048];
	uint8_t *body;
	size_t len;
} resp;

static ssize_t recv_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		if (live_recv(fd, buf + n, 1) != 1)
			return -1;
		n++;
		if (n >= 2 && buf[n - 2] == '\r' && buf[n - 1] == '\n')
			break;
	}
	buf[n] = 0;
	return (ssize_t)n;
}

/* Read one answer (whatever its framing); false on a broken one. A 100 Continue is skipped
 * and reported through *saw_continue when given. */
static bool read_resp(int fd, resp *r, bool *saw_continue)
{
	memset(r, 0, sizeof(*r));
	for (;;) {
		size_t n = 0;
		long long clen = -1;
		r->head[0] = 0;
		for (;;) {
			char line[1024];
			if (recv_line(fd, line, sizeof(line)) < 0)
				return false;
			if (n + strlen(line) < sizeof(r->head)) {
				strcpy(r->head + n, line);
				n += strlen(line);
			}
			if (!strcmp(line, "\r\n"))
				break;
			if (!strncasecmp(line, "Content-Length:", 15))
				clen = atoll(line + 15);
			if (!strncasecmp(line, "Transfer-Encoding: chunked", 26))
				r->chunked = true;
			if (!strncasecmp(line, "Connection: close", 17))
				r->close = true;
		}
		if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
			return false;
		if (r->status == 100) {
			if (saw_continue)
				*saw_continue = true;
			continue;
		}
		if (r->chunked) {
			size_t cap = 1 << 16;
			r->body = malloc(cap);
			for (;;) {
				char line[64];
				if (recv_line(fd, line, sizeof(line)) < 0)
					return false;
				size_t k = strtoul(line, NULL, 16);
				if (k == 0) {
					recv_line(fd, line, sizeof(line));
					return !strcmp(line, "\r\n");
				}
				while (r->len + k > cap)
					r->body = realloc(r->body, cap *= 2);
				if (live_recv_n(fd, r->body + r->len, k) != (ssize_t)k)
					return false;
				r->len += k;
				if (recv_line(fd, line, sizeof(line)) < 0 || strcmp(line, "\r\n"))
					return false;
			}
		}
		if (clen < 0) {
			/* Until the connection closes. */
			size_t cap = 1 << 16;
			r->body = malloc(cap);
			ssize_t k;
			while ((k = live_recv(fd, r->body + r->len, cap - r->len)) > 0)
				if ((r->len += (size_t)k) == cap)
					r->body = realloc(r->body, cap *= 2);
			return true;
		}
		r->body = malloc((size_t)clen + 1);
		r->len = (size_t)clen;
		if (live_recv_n(fd, r->body, r->len) != (ssize_t)r->len)
			return false;
		r->body[r->len] = 0;
		return true;
	}
}

static void expect_body(int fd, int status, const char *body)
{
	resp r;
	cr_assert(read_resp(fd, &r, NULL), "no answer");
	cr_assert_eq(r.status, status, "%s", r.head);
	cr_assert_eq(r.len, strlen(body), "%.*s", (int)r.len, r.body);
	cr_assert(!memcmp(r.body, body, r.len), "%.*s", (int)r.len, r.body);
	free(r.body);
}

static uint32_t checksum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum = sum * 31 + p[i];
	return sum;
}

static uint8_t *pattern(size_t n)
{
	uint8_t *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + (i >> 9));
	return p;
}

/* ---- tests ---- */

Test(fiber_http, a_body_over_max_body_bytes_is_read_in_pieces_then_keep_alive)
{
	uint16_t port;
	wr_server *srv = start(&port);
	int fd = live_connect(port);
	size_t n = 3u << 20; /* three times max_body_bytes */
	uint8_t *b = pattern(n);
	char head[256];
	snprintf(head, sizeof(head), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
	cr_assert_eq(live_send_str(fd, head), 0);
	cr_assert_eq(live_send(fd, b, n), 0);
	char want[96];
	snprintf(want, sizeof(want), "len=%zu sum=%u pieces=many", n, checksum(b, n));
	expect_body(fd, 200, want);
	/* The same connection serves the next request, a callback route. */
	cr_assert_eq(live_send_str(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	expect_body(fd, 200, "hello\n");
	/* And a request without a body on a fiber route: read gives 0 at once. */
	cr_assert_eq(live_send_str(fd, "GET /p/alice HTTP/1.1\r\nHost: x\r\nX-Tag: t1\r\n\r\n"), 0);
	expect_body(fd, 200, "alice/t1/0");
	close(fd);
	wait_exits(2);
	free(b);
	wr_server_free(srv);
}

Test(fiber_http, a_chunked_body_split_everywhere_is_decoded)
{
	uint16_t port;
	wr_server *srv = start(&port);
	int fd = live_connect(port);
	cr_assert_eq(live_send_str(fd, "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
	/* 300 chunks of growing size, sent a few bytes at a time at first. */
	size_t total = 0;
	uint8_t *all = malloc(300 * 300);
	for (int i = 1; i <= 300; i++) {
		uint8_t *p = pattern((size_t)i);
		char line[32];
		int k = snprintf(line, sizeof(line), "%x;ext=1\r\n", i);
		if (i < 10) {
			for (int j = 0; j < k; j++)
				cr_assert_eq(live_send(fd, line + j, 1), 0);
		} else {
			cr_assert_eq(live_send(fd, line, (size_t)k), 0);
		}
		cr_assert_eq(live_send(fd, p, (size_t)i), 0);
		cr_assert_eq(live_send(fd, "\r\n", 2), 0);
		memcpy(all + total, p, (size_t)i);
		total += (size_t)i;
		free(p);
	}
	cr_assert_eq(live_send_str(fd, "0\r\nX-Trailer: 1\r\n\r\n"), 0);
	char want[96];
	snprintf(want, sizeof(want), "len=%zu sum=%u pieces=many", total, checksum(all, total));
	expect_body(fd, 200, want);
	close(fd);
	wait_exits(1);
	free(all);
	wr_server_free(srv);
}

Test(fiber_http, a_malformed_chunked_body_reaches_the_handler_then_the_connection_closes)
{
	uint16_t port;
	wr_server *srv = start(&port);
	int fd = live_connect(port);
	cr_assert_eq(live_send_str(fd, "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	                               "5\r\nhello\r\nzz\r\n"), 0);
	resp r;
	cr_assert(read_resp(fd, &r, NULL));
	cr_assert_eq(r.status, 400);
	cr_assert(r.close, "%s", r.head);
	free(r.body);
	cr_assert(live_wait_eof(fd, 2000));
	wait_exits(1);
	cr_assert_eq(atomic_load(&last_rc), -EBADMSG);
	close(fd);
	wr_server_free(srv);
}

Test(fiber_http, a_client_gone_mid_body_is_an_error_for_the_handler)
{
	uint16_t port;
	wr_server *srv = start(&port);
	int fd = live_connect(port);
	cr_assert_eq(live_send_str(fd, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
	                               "only a little"), 0);
	usleep(50000);
	close(fd);
	wait_exits(1);
	cr_assert_eq(atomic_load(&last_rc), -ECONNRESET);
	/* A stalled body times out instead. */
	fd = live_connect(port);
	cr_assert_eq(live_send_str(fd, "POST /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"), 0);
	wait_exits(2);
	cr_assert_eq(atomic_load(&last_rc), -ETIMEDOUT);
	cr_assert(live_wait_eof(fd, 2000), "a body never finished: no keep-alive");
	close(fd);
	wr_server_free(srv);
}

Test(fiber_http, expect_100_continue_is_answered_by_the_first_read)
{
	uint16_t port;
	wr_server *srv = start(&port);
	int fd = live_connect(port);
	cr_assert_eq(live_send_str(fd, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	                               "Expect: 100-continue\r\n\r\n"), 0);
	char line[64];
	cr_assert_gt(recv_line(fd, line, sizeof(line)), 0);
	cr_assert_str_eq(line, "HTTP/1.1 100 Continue\r\n");
	recv_line(fd, line, sizeof(line));
	cr_assert_eq(live_send_str(fd, "hello"), 0);
	char want[64];
	snprintf(want, sizeof(want), "len=5 sum=%u pieces=one", checksum((const uint8_t *)"hello", 5));
	expect_body(fd, 200, want);
	close(fd);
	wr_server_free(srv);
}

Test(fiber_http, a_streamed_answer_is_chunked_and_keeps_the_connection)
{
	uint16_t port;
	wr_server *srv = start(&port);
	int fd = live_connect(port);
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(live_send_str(fd, "GET /lines HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
		resp r;
		cr_assert(read_resp(fd, &r, NULL));
		cr_assert_eq(r.status, 200);
		cr_assert(r.chunked, "%s", r.head);
		cr_assert(strstr(r.head, "Content-Type: text/plain\r\n"), "%s", r.head);
		char want[4096];
		size_t n = 0;
		for (int i = 0; i < 200; i++)
			n += (size_t)snprintf(want + n, sizeof(want) - n, "line %d\n", i);
		cr_assert_eq(r.len, n);
		cr_assert(!memcmp(r.body, want, n));
		free(r.body);
	}
	/* HTTP/1.0 has no chunked coding: the answer ends with the connection. */
	cr_assert_eq(live_send_str(fd, "GET /lines HTTP/1.0\r\nHost: x\r\n\r\n"), 0);
	resp r;
	cr_assert(read_resp(fd, &r, NULL));
	cr_assert(!r.chunked && r.close, "%s", r.head);
	cr_assert_eq(r.len, 1690u); /* "line 0\n" ... "line 199\n" */
	free(r.body);
	close(fd);
	wait_exits(3);
	wr_server_free(srv);
}

Test(fiber_http, pipelined_requests_go_through_a_fiber_route_in_order)
{
	uint16_t port;
	wr_server *srv = start(&port);
	int fd = live_connect(port);
	cr_assert_eq(live_send_str(fd,
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
		"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 0);
	resp r;
	cr_assert(read_resp(fd, &r, NULL));
	cr_assert(r.chunked && r.len == 11 && !memcmp(r.body, "hello world", 11));
	free(r.body);
	expect_body(fd, 200, "hello\n");
	cr_assert(read_resp(fd, &r, NULL));
	cr_assert(r.chunked && r.len == 3 && !memcmp(r.body, "abc", 3));
	free(r.body);
	expect_body(fd, 200, "hello\n");
	cr_assert(live_wait_eof(fd, 2000));
	close(fd);
	wait_exits(2);
	wr_server_free(srv);
}

Test(fiber_http, a_large_streamed_answer_waits_for_the_client)
{
	uint16_t port;
	wr_server *srv = start(&port);
	int fd = live_connect(port);
	cr_assert_eq(live_send_str(fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	usleep(300000); /* the handler is now waiting for the drain */
	cr_assert_eq(atomic_load(&n_exit), 0);
	resp r;
	cr_assert(read_resp(fd, &r, NULL));
	cr_assert_eq(r.len, 32u << 20);
	for (size_t i = 0; i < r.len; i += 4099)
		cr_assert_eq(r.body[i], (uint8_t)((i % 65536) % 251));
	free(r.body);
	wait_exits(1);
	cr_assert_eq(atomic_load(&last_rc), 0);
	/* A client that never reads: the write gives up after drain_timeout_ms. */
	int fd2 = live_connect(port);
	cr_assert_eq(live_send_str(fd2, "GET /big-impatient HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	wait_exits(2);
	cr_assert_eq(atomic_load(&last_rc), -ETIMEDOUT);
	close(fd2);
	close(fd);
	wr_server_free(srv);
}

Test(fiber_http, a_handler_that_does_not_read_holds_the_client_back)
{
	uint16_t port;
	wr_server *srv = start(&port);
	int fd = live_connect(port);
	size_t n = 128u << 20;
	char head[256];
	snprintf(head, sizeof(head), "POST /nap HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
	cr_assert_eq(live_send_str(fd, head), 0);
	static uint8_t block[1 << 16];
	memset(block, 'q', sizeof(block));
	size_t sent = 0;
	uint64_t t0 = now_ms(), early = 0;
	bool measured = false;
	while (sent < n && now_ms() < t0 + 60000) {
		if (!measured && now_ms() >= t0 + 800) {
			early = sent;
			measured = true;
		}
		size_t k = n - sent < sizeof(block) ? n - sent : sizeof(block);
		ssize_t w = send(fd, block, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "%s", strerror(errno));
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			poll(&p, 1, 20);
			continue;
		}
		sent += (size_t)w;
	}
	cr_assert(measured && early < (64u << 20), "%zu bytes taken while the handler slept",
	          (size_t)early);
	cr_assert_eq(sent, n);
	uint32_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum = sum * 31 + 'q';
	char want[96];
	snprintf(want, sizeof(want), "len=%zu sum=%u pieces=many", n, sum);
	expect_body(fd, 200, want);
	close(fd);
	wait_exits(1);
	wr_server_free(srv);
}

Test(fiber_http, calls_off_a_fiber_route_are_refused)
{
	cr_assert_eq(wr_req_read(NULL, &(wr_str){ 0 }), -EPERM);
	cr_assert_eq(wr_res_write(NULL, "x", 1), -EPERM);
}
