/* The HTTP/1.1 server live on loopback: routing, bodies, keep-alive, pipelining, many
 * connections, every rejection while others are served, timeouts, ENOBUFS, stop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live.h"

static void h_root(wr_req *req, wr_res *res, void *user) { wr_res_text(res, "root\n"); }

static void h_hello(wr_req *req, wr_res *res, void *user)
{
	char b[128];
	wr_str n = wr_req_param(req, "name");
	wr_str q = wr_req_query(req);
	snprintf(b, sizeof(b), "hello %.*s q=%.*s", (int)n.len, n.data, (int)q.len, q.data ? q.data : "");
	wr_res_text(res, b);
}

static void h_echo(wr_req *req, wr_res *res, void *user)
{
	wr_str b = wr_req_body(req);
	wr_str ct = wr_req_header(req, "CONTENT-type");
	if (ct.data) {
		char v[128];
		snprintf(v, sizeof(v), "%.*s", (int)ct.len, ct.data);
		wr_res_header(res, "X-Echo-Type", v);
	}
	wr_res_status(res, 201);
	wr_res_body(res, b.data, b.len);
}

static void h_seq(wr_req *req, wr_res *res, void *user)
{
	wr_str q = wr_req_query(req);
	wr_res_body(res, q.data, q.len);
}

static void h_any(wr_req *req, wr_res *res, void *user)
{
	wr_str m = wr_req_method(req);
	wr_res_body(res, m.data, m.len);
}

static wr_server *make(const wr_server_config *cfg)
{
	int err = 0;
	wr_server *s = wr_server_new(cfg ? cfg : &(wr_server_config){ .threads = 2 }, &err);
	cr_assert_not_null(s, "wr_server_new: %s", wr_strerror(err));
	cr_assert_eq(wr_server_get(s, "/", h_root, NULL), 0);
	cr_assert_eq(wr_server_get(s, "/hello/:name", h_hello, NULL), 0);
	cr_assert_eq(wr_server_post(s, "/echo", h_echo, NULL), 0);
	cr_assert_eq(wr_server_put(s, "/echo", h_echo, NULL), 0);
	cr_assert_eq(wr_server_get(s, "/seq", h_seq, NULL), 0);
	cr_assert_eq(wr_server_route(s, NULL, "/any", h_any, NULL), 0);
	return s;
}

/* One request, whole answer (Connection: close so EOF ends it). */
static char *roundtrip(uint16_t port, const char *req)
{
	static char buf[1 << 16];
	int fd = live_connect(port);
	cr_assert_eq(live_send_str(fd, req), 0);
	live_recv_all(fd, buf, sizeof(buf));
	close(fd);
	return buf;
}

Test(http, routes_params_and_methods)
{
	wr_server *s = make(NULL);
	uint16_t port = live_start(s);
	char *r = roundtrip(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", r);
	cr_assert(strstr(r, "Content-Length: 5\r\n") && strstr(r, "\r\n\r\nroot\n"), "%s", r);
	cr_assert(strstr(r, "\r\nDate: ") && strstr(r, " GMT\r\n"), "%s", r);

	r = roundtrip(port, "GET /hello/wring?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	cr_assert(strstr(r, "\r\n\r\nhello wring q=x=1"), "%s", r);

	r = roundtrip(port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 404 ", 13) == 0, "%s", r);

	r = roundtrip(port, "DELETE /hello/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 405 ", 13) == 0, "%s", r);
	cr_assert(strstr(r, "\r\nAllow: GET, HEAD\r\n"), "%s", r);

	r = roundtrip(port, "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", r);
	cr_assert(strstr(r, "Content-Length: 5\r\n"), "%s", r);
	cr_assert(strstr(r, "\r\n\r\n")[4] == 0, "HEAD answered with a body: %s", r);

	r = roundtrip(port, "PATCH /any HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	cr_assert(strstr(r, "\r\n\r\nPATCH"), "%s", r);
	wr_server_free(s);
}

Test(http, bodies_content_length_chunked_and_expect)
{
	wr_server *s = make(NULL);
	uint16_t port = live_start(s);
	char *r = roundtrip(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: a/b\r\n"
	                          "Content-Length: 11\r\nConnection: close\r\n\r\nhello world");
	cr_assert(strncmp(r, "HTTP/1.1 201 Created\r\n", 22) == 0, "%s", r);
	cr_assert(strstr(r, "X-Echo-Type: a/b\r\n") && strstr(r, "\r\n\r\nhello world"), "%s", r);

	r = roundtrip(port, "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	                    "Connection: close\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n");
	cr_assert(strstr(r, "Content-Length: 11\r\n") && strstr(r, "\r\n\r\nhello world"), "%s", r);

	/* Expect: 100-continue gets the interim answer before the body is sent. */
	int fd = live_connect(port);
	char buf[4096];
	live_send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0, "%s", buf);
	live_send_str(fd, "abc");
	live_recv_until(fd, buf, sizeof(buf), "abc");
	cr_assert(strstr(buf, "201 Created") && strstr(buf, "\r\n\r\nabc"), "%s", buf);
	close(fd);

	/* A body split over many small writes. */
	fd = live_connect(port);
	live_send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n");
	char *big = malloc(20000);
	memset(big, 'z', 20000);
	for (int i = 0; i < 20000; i += 1000) {
		live_send(fd, big + i, 1000);
		usleep(1000);
	}
	char *resp = malloc(40000);
	live_recv_until(fd, resp, 40000, "zzzzzzzzzz");
	ssize_t n = live_recv_n(fd, resp + strlen(resp), 0);
	(void)n;
	cr_assert(strstr(resp, "Content-Length: 20000\r\n"), "%.200s", resp);
	close(fd);
	free(big);
	free(resp);
	wr_server_free(s);
}

Test(http, keep_alive_and_100_pipelined_in_one_write)
{
	wr_server *s = make(NULL);
	uint16_t port = live_start(s);
	int fd = live_connect(port);
	char buf[8192];
	for (int i = 0; i < 3; i++) {
		live_send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
		ssize_t n = live_recv_until(fd, buf, sizeof(buf), "root\n");
		cr_assert_gt(n, 0);
		cr_assert(strstr(buf, "root\n"), "request %d on the same connection: %s", i, buf);
		cr_assert_null(strstr(buf, "Connection: close"));
	}
	/* 100 requests in one write: 100 answers in order. */
	size_t cap = 100 * 64, len = 0;
	char *req = malloc(cap);
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(req + len, cap - len, "GET /seq?%03d HTTP/1.1\r\nHost: x\r\n\r\n", i);
	cr_assert_eq(live_send(fd, req, len), 0);
	size_t rcap = 1 << 20;
	char *resp = malloc(rcap);
	live_recv_until(fd, resp, rcap, "\r\n\r\n099");
	const char *p = resp;
	for (int i = 0; i < 100; i++) {
		char want[16];
		snprintf(want, sizeof(want), "\r\n\r\n%03d", i);
		const char *q = strstr(p, want);
		cr_assert_not_null(q, "answer %d missing or out of order", i);
		p = q + 1;
	}
	free(req);
	free(resp);
	close(fd);
	wr_server_free(s);
}

Test(http, http10_and_connection_close)
{
	wr_server *s = make(NULL);
	uint16_t port = live_start(s);
	int fd = live_connect(port);
	char buf[4096];
	live_send_str(fd, "GET / HTTP/1.0\r\n\r\n");
	live_recv_all(fd, buf, sizeof(buf)); /* returns at EOF: the server closed */
	cr_assert(strstr(buf, "root\n") && strstr(buf, "Connection: close"), "%s", buf);
	close(fd);
	fd = live_connect(port);
	live_send_str(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	live_recv_until(fd, buf, sizeof(buf), "root\n");
	live_send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	live_recv_all(fd, buf, sizeof(buf));
	cr_assert(strstr(buf, "root\n"), "HTTP/1.0 keep-alive then close: %s", buf);
	close(fd);
	wr_server_free(s);
}

static void expect_status(uint16_t port, int good_fd, const char *req, size_t len, int status)
{
	char buf[8192], want[32];
	int fd = live_connect(port);
	live_send(fd, req, len);
	live_recv_all(fd, buf, sizeof(buf)); /* the server closes after a rejection */
	snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
	cr_assert(strncmp(buf, want, strlen(want)) == 0, "want %d for %.60s..., got: %.80s", status, req, buf);
	cr_assert(strstr(buf, "Connection: close"), "%s", buf);
	close(fd);
	/* The good connection is still served. */
	live_send_str(good_fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	live_recv_until(good_fd, buf, sizeof(buf), "root\n");
	cr_assert(strstr(buf, "root\n"), "good connection broken after %.40s: %s", req, buf);
}

#define BAD(port, good, s, st) expect_status(port, good, s, sizeof(s) - 1, st)

Test(http, malformed_requests_rejected_others_served)
{
	wr_server *s = make(&(wr_server_config){ .threads = 1, .max_body_bytes = 1000 });
	uint16_t port = live_start(s);
	int good = live_connect(port);
	BAD(port, good, "GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400);
	BAD(port, good, "GE T / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	BAD(port, good, "GET / HTTP/1.1\r\n\r\n", 400);                     /* no Host */
	BAD(port, good, "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400);
	BAD(port, good, "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	BAD(port, good, "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n", 501);
	BAD(port, good, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
	BAD(port, good, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400);
	BAD(port, good, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400);
	BAD(port, good, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413);
	BAD(port, good, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	                "800\r\n", 413); /* chunk past max_body */
	BAD(port, good, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400);
	/* Header section past max_header_bytes (8 KiB): 431, even before it ends. */
	char *huge = malloc(12000);
	int n = snprintf(huge, 12000, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(huge + n, 'a', 10000);
	expect_status(port, good, huge, (size_t)n + 10000, 431);
	free(huge);
	/* Binary garbage. */
	expect_status(port, good, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, 400);
	close(good);
	wr_server_free(s);
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	cr_assert_geq(rl.rlim_cur, want, "RLIMIT_NOFILE too low: %lu", (unsigned long)rl.rlim_cur);
}

Test(http, thousand_concurrent_connections)
{
	raise_nofile(4096);
	wr_server *s = make(NULL);
	uint16_t port = live_start(s);
	enum { N = 1000 };
	static int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = live_connect(port);
	for (int i = 0; i < N; i++) {
		char req[64];
		snprintf(req, sizeof(req), "GET /seq?%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		cr_assert_eq(live_send_str(fds[i], req), 0);
	}
	for (int i = 0; i < N; i++) {
		char buf[512], want[32];
		snprintf(want, sizeof(want), "\r\n\r\n%d", i);
		live_recv_until(fds[i], buf, sizeof(buf), want);
		cr_assert(strstr(buf, want), "connection %d: %s", i, buf);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
	wr_server_free(s);
}

Test(http, tiny_buffer_ring_enobufs_loses_nothing)
{
	/* Two 256-byte receive buffers for 20 connections sending 8 KiB bodies at once: the ring
	 * runs dry again and again; every byte must still arrive. */
	wr_server *s = make(&(wr_server_config){ .threads = 1, .recv_buf_count = 2, .recv_buf_size = 256 });
	uint16_t port = live_start(s);
	enum { N = 20, B = 8192 };
	int fds[N];
	char *body = malloc(B);
	for (int i = 0; i < B; i++)
		body[i] = (char)('a' + i % 26);
	char head[128];
	int hl = snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", B);
	for (int i = 0; i < N; i++) {
		fds[i] = live_connect(port);
		live_send(fds[i], head, (size_t)hl);
	}
	for (int i = 0; i < N; i++)
		cr_assert_eq(live_send(fds[i], body, B), 0);
	char *resp = malloc(B + 1024);
	for (int i = 0; i < N; i++) {
		ssize_t n = live_recv_until(fds[i], resp, B + 1024, "\r\n\r\n");
		char *end = strstr(resp, "\r\n\r\n");
		cr_assert_not_null(end, "connection %d: no answer", i);
		size_t have = (size_t)n - (size_t)(end + 4 - resp);
		live_recv_n(fds[i], resp + n, B - have);
		cr_assert(memcmp(end + 4, body, B) == 0, "connection %d: body corrupted", i);
		close(fds[i]);
	}
	free(resp);
	free(body);
	wr_server_free(s);
}

Test(http, idle_and_incomplete_requests_time_out)
{
	wr_server *s = make(&(wr_server_config){ .threads = 1, .idle_timeout_ms = 300,
	                                          .handshake_timeout_ms = 300 });
	uint16_t port = live_start(s);
	int idle = live_connect(port);
	int partial = live_connect(port);
	live_send_str(partial, "GET / HTTP/1.1\r\nHo");
	cr_assert(live_wait_eof(idle, 3000), "idle connection not closed");
	cr_assert(live_wait_eof(partial, 3000), "incomplete request not timed out");
	close(idle);
	close(partial);
	wr_server_free(s);
}

static atomic_int ran_on;
static void on_reactor(void *arg) { atomic_fetch_add(&ran_on, 1 + (int)(intptr_t)arg); }

Test(http, run_on_posts_to_each_reactor)
{
	wr_server *s = make(NULL);
	live_start(s);
	for (unsigned i = 0; i < wr_server_threads(s); i++)
		cr_assert_eq(wr_server_run_on(s, i, on_reactor, (void *)(intptr_t)i), 0);
	cr_assert_eq(wr_server_run_on(s, 99, on_reactor, NULL), -EINVAL);
	for (int i = 0; i < 200 && atomic_load(&ran_on) != 3; i++)
		usleep(10000);
	cr_assert_eq(atomic_load(&ran_on), 3); /* 1 + 2 for reactors 0 and 1 */
	wr_server_free(s);
}

static void *stopper(void *arg)
{
	usleep(200000);
	wr_server_stop(arg);
	return NULL;
}

Test(http, stop_with_connections_open_leaves_nothing)
{
	int before = live_fd_count();
	wr_server *s = make(NULL);
	uint16_t port = live_start(s);
	int a = live_connect(port), b = live_connect(port), c = live_connect(port);
	live_send_str(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	char buf[1024];
	live_recv_until(b, buf, sizeof(buf), "root\n");
	live_send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab");
	pthread_t t;
	pthread_create(&t, NULL, stopper, s);
	cr_assert_eq(wr_server_wait(s), 0);
	pthread_join(t, NULL);
	cr_assert(live_wait_eof(a, 2000) && live_wait_eof(b, 2000) && live_wait_eof(c, 2000));
	close(a);
	close(b);
	close(c);
	wr_server_free(s);
	cr_assert_eq(live_fd_count(), before, "descriptors leaked");
	cr_assert_eq(wr_server_run_on(NULL, 0, on_reactor, NULL), -EINVAL);
}

Test(http, bad_config_is_an_error)
{
	int err = 0;
	cr_assert_null(wr_server_new(&(wr_server_config){ .recv_buf_count = 3 }, &err));
	cr_assert_eq(err, -EINVAL);
	wr_server *s = make(NULL);
	cr_assert_eq(wr_server_get(s, "no-slash", h_root, NULL), -EINVAL);
	live_start(s);
	cr_assert_eq(wr_server_get(s, "/late", h_root, NULL), -EBUSY);
	wr_server_free(s);
	cr_assert_str_neq(wr_strerror(-EINVAL), "");
}

static atomic_int emfile_seen;
static void log_sink(const char *msg, void *user)
{
	if (strstr(msg, "accept") && strstr(msg, wr_strerror(-EMFILE)))
		atomic_fetch_add(&emfile_seen, 1);
}

Test(http, emfile_on_accept_keeps_serving_and_recovers)
{
	wr_set_log(log_sink, NULL);
	/* io_uring's accept takes the descriptor limit when it is armed: lower it first. */
	struct rlimit old, low;
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)live_fd_count() + 24;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	wr_server *s = make(&(wr_server_config){ .threads = 1 });
	uint16_t port = live_start(s);
	int good = live_connect(port);
	char buf[4096];
	live_send_str(good, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	live_recv_until(good, buf, sizeof(buf), "root\n");
	/* Clients in a child process, so that only the server runs out of descriptors. */
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		setrlimit(RLIMIT_NOFILE, &old);
		enum { N = 40 };
		int fds[N], answered = 0;
		for (int i = 0; i < N; i++) {
			fds[i] = live_connect(port);
			live_send_str(fds[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
		}
		usleep(300000); /* hold them all open: the server hits EMFILE meanwhile */
		for (int i = 0; i < N; i++) {
			char b[1024];
			live_send_str(fds[i], "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
			live_recv_all(fds[i], b, sizeof(b));
			answered += strstr(b, "root\n") != NULL;
			close(fds[i]); /* frees a server descriptor: the next one gets accepted */
		}
		if (answered != N)
			fprintf(stderr, "answered %d of %d\n", answered, N);
		_exit(answered == N ? 0 : 1);
	}
	usleep(150000);
	live_send_str(good, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	live_recv_until(good, buf, sizeof(buf), "root\n");
	cr_assert(strstr(buf, "root\n"), "existing connection not served during EMFILE");
	int st = 0;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "not every connection was answered after recovery");
	cr_assert_gt(atomic_load(&emfile_seen), 0, "the server never hit EMFILE: the test proves nothing");
	setrlimit(RLIMIT_NOFILE, &old);
	close(good);
	wr_server_free(s);
}
