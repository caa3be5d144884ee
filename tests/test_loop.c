/* The async client (wr_loop) against our server: echo, many connections on one loop,
 * failures reported through on_close/wr_ws_error, timers and stopping. A wr_loop is created
 * and run on the test's own thread (io_uring SINGLE_ISSUER). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "live.h"

static uint64_t ms_now(void) { return wr_now_ns() / 1000000u; }

static void on_echo(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static void on_open_refuse(wr_ws *ws, const wr_req *req, void *user)
{
	wr_ws_close(ws, WR_CLOSE_POLICY_VIOLATION, "unauthorized");
}

/* One binary message in 20 frames of a byte each. */
static void on_open_fragments(wr_ws *ws, const wr_req *req, void *user)
{
	for (int i = 0; i < 20; i++) {
		uint8_t b = (uint8_t)i;
		wr_ws_send_fragment(ws, &b, 1, WR_OP_BINARY, i == 19);
	}
}

static wr_server *srv;
static uint16_t srv_port;

static void start_server(void)
{
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = 2 }, &err);
	cr_assert_not_null(srv, "wr_server_new: %s", wr_strerror(err));
	wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = on_echo });
	wr_server_websocket(srv, "/refuse", &(wr_ws_handlers){ .on_open = on_open_refuse });
	wr_server_websocket(srv, "/fragments", &(wr_ws_handlers){ .on_open = on_open_fragments });
	srv_port = live_start(srv);
}

static void stop_server(void)
{
	wr_server_free(srv);
	srv = NULL;
}

TestSuite(loop, .init = start_server, .fini = stop_server, .timeout = 120);

/* Per-test state shared by the callbacks (all run on the test thread). */
struct run {
	wr_loop *loop;
	unsigned want;         /* connections expected to close */
	unsigned opened, messages, closed, bad;
	unsigned per_conn;     /* messages each connection exchanges before closing */
	int last_code;
	int last_error;
	char last_reason[128];
	uint64_t give_up_ms;   /* watchdog */
	unsigned ticks;
};

struct conn_state {
	unsigned sent;
	unsigned got;
};

static void send_next(wr_ws *ws, struct conn_state *cs)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "message %u from %p", cs->sent, (void *)cs);
	cs->sent++;
	wr_ws_send(ws, msg, (size_t)n, WR_OP_TEXT);
}

static void c_open(wr_ws *ws, const wr_req *req, void *user)
{
	struct run *r = user;
	r->opened++;
	struct conn_state *cs = calloc(1, sizeof(*cs));
	wr_ws_set_data(ws, cs);
	send_next(ws, cs);
}

static void c_open_quiet(wr_ws *ws, const wr_req *req, void *user)
{
	((struct run *)user)->opened++;
}

static void c_message(wr_ws *ws, wr_msg msg, void *user)
{
	struct run *r = user;
	struct conn_state *cs = wr_ws_data(ws);
	char want[64];
	int n = snprintf(want, sizeof(want), "message %u from %p", cs->got, (void *)cs);
	if (msg.opcode != WR_OP_TEXT || msg.len != (size_t)n || memcmp(msg.data, want, msg.len))
		r->bad++;
	cs->got++;
	r->messages++;
	if (cs->got < r->per_conn)
		send_next(ws, cs);
	else
		wr_ws_close(ws, WR_CLOSE_NORMAL, "done");
}

static void c_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	struct run *r = user;
	free(wr_ws_data(ws));
	wr_ws_set_data(ws, NULL);
	r->closed++;
	r->last_code = code;
	r->last_error = wr_ws_error(ws);
	snprintf(r->last_reason, sizeof(r->last_reason), "%.*s", (int)reason.len,
	         reason.data ? reason.data : "");
	if (r->closed == r->want)
		wr_loop_stop(r->loop);
}

static void watchdog(wr_loop *loop, void *user)
{
	struct run *r = user;
	r->ticks++;
	if (ms_now() > r->give_up_ms)
		wr_loop_stop(loop);
}

static wr_loop *new_loop(struct run *r, unsigned watchdog_ms)
{
	int err = 0;
	wr_loop *loop = wr_loop_new(NULL, &err);
	cr_assert_not_null(loop, "wr_loop_new: %s", wr_strerror(err));
	r->loop = loop;
	r->give_up_ms = ms_now() + watchdog_ms;
	cr_assert_eq(wr_loop_every(loop, 50, watchdog, r), 0);
	return loop;
}

static const wr_ws_handlers *handlers(struct run *r)
{
	static wr_ws_handlers h;
	h = (wr_ws_handlers){ .on_open = c_open, .on_message = c_message, .on_close = c_close,
	                      .user = r };
	return &h;
}

Test(loop, echo_one)
{
	struct run r = { .want = 1, .per_conn = 5 };
	wr_loop *loop = new_loop(&r, 10000);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/ws", srv_port);
	cr_assert_eq(wr_loop_connect(loop, url, NULL, handlers(&r)), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(r.opened, 1);
	cr_assert_eq(r.messages, 5);
	cr_assert_eq(r.bad, 0);
	cr_assert_eq(r.closed, 1);
	cr_assert_eq(r.last_code, WR_CLOSE_NORMAL, "closed with %d (%s)", r.last_code,
	             r.last_reason);
	cr_assert_eq(r.last_error, 0);
	wr_loop_free(loop);
}

/* A host name is resolved off the loop's thread; the answer comes back to the loop. */
Test(loop, names_resolve_off_the_loop)
{
	struct run r = { .want = 2, .per_conn = 2 };
	wr_loop *loop = new_loop(&r, 10000);
	char url[64];
	snprintf(url, sizeof(url), "ws://localhost:%u/ws", srv_port);
	cr_assert_eq(wr_loop_connect(loop, url, NULL, handlers(&r)), 0);
	cr_assert_eq(wr_loop_connect(loop, "ws://no-such-host.invalid/ws", NULL, handlers(&r)), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(r.opened, 1);
	cr_assert_eq(r.messages, 2);
	cr_assert_eq(r.closed, 2);
	wr_loop_free(loop);
}

/* wr_loop_free with a resolution still on its way: the connection fails, nothing leaks. */
Test(loop, free_while_resolving)
{
	struct run r = { .want = 1 };
	wr_loop *loop = new_loop(&r, 10000);
	cr_assert_eq(wr_loop_connect(loop, "ws://localhost:9/ws", NULL, handlers(&r)), 0);
	wr_loop_free(loop);
	cr_assert_eq(r.closed, 1);
}

Test(loop, thousand_connections, .timeout = 120)
{
	enum { N = 1000 };
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	/* Client and server sockets live in this one process: 2 per connection. */
	if (rl.rlim_cur < 2 * N + 256) {
		rl.rlim_cur = rl.rlim_max < 4 * N ? rl.rlim_max : 4 * N;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 2 * N + 256)
			cr_skip_test("RLIMIT_NOFILE too small (%llu)", (unsigned long long)rl.rlim_cur);
	}
	int fds_before = live_fd_count();
	struct run r = { .want = N, .per_conn = 3 };
	wr_loop *loop = new_loop(&r, 60000);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/ws", srv_port);
	for (int i = 0; i < N; i++)
		cr_assert_eq(wr_loop_connect(loop, url, NULL, handlers(&r)), 0, "connect %d", i);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(r.opened, N);
	cr_assert_eq(r.messages, 3 * N);
	cr_assert_eq(r.bad, 0);
	cr_assert_eq(r.closed, N, "closed %u of %u", r.closed, N);
	wr_loop_free(loop);
	/* Client sockets are gone (the server may still be closing its side). */
	for (int i = 0; i < 100 && live_fd_count() > fds_before; i++)
		usleep(20000);
	cr_assert_leq(live_fd_count(), fds_before);
}

Test(loop, refused)
{
	/* A port that was free a moment ago. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	struct run r = { .want = 1, .per_conn = 1 };
	wr_loop *loop = new_loop(&r, 10000);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/ws", ntohs(sa.sin_port));
	cr_assert_eq(wr_loop_connect(loop, url, NULL, handlers(&r)), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(r.opened, 0);
	cr_assert_eq(r.closed, 1);
	cr_assert_eq(r.last_code, WR_CLOSE_ABNORMAL);
	cr_assert_eq(r.last_error, -ECONNREFUSED, "error %d", r.last_error);
	wr_loop_free(loop);
}

Test(loop, non_101_answer)
{
	struct run r = { .want = 1, .per_conn = 1 };
	wr_loop *loop = new_loop(&r, 10000);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/nowhere", srv_port);
	cr_assert_eq(wr_loop_connect(loop, url, NULL, handlers(&r)), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(r.opened, 0);
	cr_assert_eq(r.closed, 1);
	cr_assert_eq(r.last_code, WR_CLOSE_ABNORMAL);
	cr_assert_eq(r.last_error, 404, "error %d", r.last_error);
	wr_loop_free(loop);
}

Test(loop, bad_urls)
{
	struct run r = { .want = 1 };
	wr_loop *loop = new_loop(&r, 10000);
	cr_assert_eq(wr_loop_connect(loop, "http://x/", NULL, handlers(&r)), -EINVAL);
	cr_assert_eq(wr_loop_connect(loop, "ws://", NULL, handlers(&r)), -EINVAL);
	cr_assert_eq(wr_loop_connect(loop, NULL, NULL, handlers(&r)), -EINVAL);
	const char *bad[] = { "X-No-Colon", NULL };
	cr_assert_eq(wr_loop_connect(loop, "ws://127.0.0.1:1/", &(wr_client_options){
	                                     .headers = bad }, handlers(&r)), -EINVAL);
	/* A resource longer than any fixed request-line buffer. */
	char url[4200];
	int n = snprintf(url, sizeof(url), "ws://127.0.0.1:%u/", srv_port);
	memset(url + n, 'a', sizeof(url) - (size_t)n - 1);
	url[sizeof(url) - 1] = 0;
	cr_assert_eq(wr_loop_connect(loop, url, NULL, handlers(&r)), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(r.closed, 1);
	cr_assert_eq(r.last_error, 404, "long path: %d", r.last_error);
	wr_loop_free(loop);
}

static void tick(wr_loop *loop, void *user)
{
	unsigned *n = user;
	if (++*n == 10)
		wr_loop_stop(loop);
}

Test(loop, every_ticks)
{
	struct run r = { 0 };
	wr_loop *loop = new_loop(&r, 10000);
	unsigned n = 0;
	cr_assert_eq(wr_loop_every(loop, 0, tick, &n), -EINVAL);
	uint64_t t0 = ms_now();
	cr_assert_eq(wr_loop_every(loop, 20, tick, &n), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	uint64_t dt = ms_now() - t0;
	cr_assert_eq(n, 10);
	cr_assert_geq(dt, 190, "10 ticks of 20 ms took %llu ms", (unsigned long long)dt);
	cr_assert_lt(dt, 2000, "10 ticks of 20 ms took %llu ms", (unsigned long long)dt);
	wr_loop_free(loop);
}

static void *stopper(void *arg)
{
	usleep(100000);
	wr_loop_stop(arg);
	return NULL;
}

Test(loop, stop_from_another_thread)
{
	struct run r = { 0 };
	wr_loop *loop = new_loop(&r, 10000);
	/* An idle connection that stays open: the stop must still end the run. */
	struct run idle = { .want = 2, .per_conn = 1000000 };
	idle.loop = loop;
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/ws", srv_port);
	cr_assert_eq(wr_loop_connect(loop, url, NULL, handlers(&idle)), 0);
	pthread_t th;
	uint64_t t0 = ms_now();
	cr_assert_eq(pthread_create(&th, NULL, stopper, loop), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	pthread_join(th, NULL);
	uint64_t dt = ms_now() - t0;
	cr_assert_geq(dt, 90);
	cr_assert_lt(dt, 5000, "stop took %llu ms", (unsigned long long)dt);
	cr_assert_lt(r.ticks, 100, "the watchdog did not do it");
	wr_loop_free(loop);
	cr_assert_eq(idle.closed, 1, "on_close once for the open connection");
}

/* A stop asked for before the run (from another thread that got there first) is not lost:
 * the run ends at once instead of running until something else stops it; the loop runs
 * again afterwards, and stops again. */
Test(loop, stop_before_run)
{
	struct run r = { 0 };
	wr_loop *loop = new_loop(&r, 10000);
	unsigned n = 0;
	cr_assert_eq(wr_loop_every(loop, 20, tick, &n), 0);
	wr_loop_stop(loop);
	uint64_t t0 = ms_now();
	cr_assert_eq(wr_loop_run(loop), 0);
	uint64_t dt = ms_now() - t0;
	cr_assert_lt(dt, 1000, "the run took %llu ms after an earlier stop", (unsigned long long)dt);
	cr_assert_lt(n, 10, "the ticker, not the stop, ended the run");
	n = 0;
	t0 = ms_now();
	cr_assert_eq(wr_loop_run(loop), 0); /* the stop was used up: the ticker ends this one */
	cr_assert_eq(n, 10);
	cr_assert_geq(ms_now() - t0, 150);
	wr_loop_free(loop);
}

Test(loop, server_closes_with_reason)
{
	struct run r = { .want = 1, .per_conn = 1 };
	wr_loop *loop = new_loop(&r, 10000);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/refuse", srv_port);
	cr_assert_eq(wr_loop_connect(loop, url, NULL, handlers(&r)), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(r.opened, 1);
	cr_assert_eq(r.closed, 1);
	cr_assert_eq(r.last_code, WR_CLOSE_POLICY_VIOLATION);
	cr_assert_str_eq(r.last_reason, "unauthorized");
	wr_loop_free(loop);
}

static void c_message_frames(wr_ws *ws, wr_msg msg, void *user)
{
	struct run *r = user;
	r->messages++;
	for (size_t i = 0; i < msg.len; i++)
		if (msg.data[i] != (uint8_t)i)
			r->bad++;
	if (msg.opcode != WR_OP_BINARY || msg.len != 20)
		r->bad++;
	wr_ws_close(ws, WR_CLOSE_NORMAL, "done");
}

/* The server sends a message in 20 frames; the client's max_message_frames takes it or
 * fails the connection with 1009. */
static void frames_case(unsigned max_frames, int code_want, unsigned messages_want)
{
	struct run r = { .want = 1 };
	wr_loop *loop = new_loop(&r, 10000);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/fragments", srv_port);
	wr_ws_handlers h = { .on_open = c_open_quiet, .on_message = c_message_frames,
	                     .on_close = c_close, .user = &r };
	cr_assert_eq(wr_loop_connect(loop, url, &(wr_client_options){ .max_message_frames = max_frames },
	                             &h), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(r.closed, 1);
	cr_assert_eq(r.messages, messages_want);
	cr_assert_eq(r.bad, 0);
	cr_assert_eq(r.last_code, code_want, "closed with %d (%s)", r.last_code, r.last_reason);
	wr_loop_free(loop);
}

Test(loop, message_in_too_many_frames)
{
	frames_case(20, WR_CLOSE_NORMAL, 1);
	frames_case(19, 1009, 0);
}

Test(loop, handshake_timeout)
{
	/* Listening but never accepting: TCP connects (backlog), no answer ever comes. */
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 4), 0);
	socklen_t len = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &len);
	struct run r = { .want = 1, .per_conn = 1 };
	wr_loop *loop = new_loop(&r, 10000);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/ws", ntohs(sa.sin_port));
	uint64_t t0 = ms_now();
	cr_assert_eq(wr_loop_connect(loop, url, &(wr_client_options){ .handshake_timeout_ms = 300 },
	                             handlers(&r)), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	uint64_t dt = ms_now() - t0;
	cr_assert_eq(r.closed, 1);
	cr_assert_eq(r.last_code, WR_CLOSE_ABNORMAL);
	cr_assert_eq(r.last_error, -ETIMEDOUT, "error %d", r.last_error);
	cr_assert_geq(dt, 250);
	cr_assert_lt(dt, 2000, "took %llu ms", (unsigned long long)dt);
	wr_loop_free(loop);
	close(lfd);
}

/* Large messages both ways: the client role's masking and the reassembly of big frames. */
struct big {
	wr_loop *loop;
	uint8_t *buf;
	size_t sizes[4];
	unsigned i, ok, closed;
	int code;
};

static void big_send(wr_ws *ws, struct big *b)
{
	size_t n = b->sizes[b->i];
	for (size_t k = 0; k < n; k++)
		b->buf[k] = (uint8_t)(k * 13 + b->i);
	wr_ws_send(ws, b->buf, n, WR_OP_BINARY);
}

static void big_open(wr_ws *ws, const wr_req *req, void *user) { big_send(ws, user); }

static void big_message(wr_ws *ws, wr_msg msg, void *user)
{
	struct big *b = user;
	if (msg.len == b->sizes[b->i] && !memcmp(msg.data, b->buf, msg.len))
		b->ok++;
	if (++b->i < 4)
		big_send(ws, b);
	else
		wr_ws_close(ws, 4000, NULL);
}

static void big_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	struct big *b = user;
	b->closed++;
	b->code = code;
	wr_loop_stop(b->loop);
}

Test(loop, large_messages)
{
	struct run r = { 0 };
	wr_loop *loop = new_loop(&r, 20000);
	struct big b = { .loop = loop, .sizes = { 65536, 1u << 20, 0, 16u << 20 } };
	b.buf = malloc(16u << 20);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/ws", srv_port);
	wr_ws_handlers h = { .on_open = big_open, .on_message = big_message,
	                     .on_close = big_close, .user = &b };
	cr_assert_eq(wr_loop_connect(loop, url, NULL, &h), 0);
	cr_assert_eq(wr_loop_run(loop), 0);
	cr_assert_eq(b.ok, 4, "%u of 4 echoes intact", b.ok);
	cr_assert_eq(b.closed, 1);
	cr_assert_eq(b.code, 4000);
	wr_loop_free(loop);
	free(b.buf);
}

/* ---- posts to the loop's connections from another thread, by handle ---- */

static wr_loop *post_loop;
static _Atomic uint64_t post_handle;
static atomic_bool post_have;
static atomic_int post_got, post_close_code, post_stale_rc;

static void p_open(wr_ws *ws, const wr_req *req, void *user)
{
	atomic_store(&post_handle, wr_ws_handle(ws).v);
	atomic_store(&post_have, true);
}

static void p_message(wr_ws *ws, wr_msg msg, void *user)
{
	if (msg.len == 6 && !memcmp(msg.data, "posted", 6))
		atomic_fetch_add(&post_got, 1);
}

static void p_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	atomic_store(&post_close_code, code);
	wr_loop_stop(post_loop);
}

static void *poster(void *arg)
{
	while (!atomic_load(&post_have))
		usleep(1000);
	wr_handle h = { atomic_load(&post_handle) };
	for (int i = 0; i < 100; i++)
		cr_assert_eq(wr_loop_send(post_loop, h, "posted", 6, WR_OP_TEXT), 0);
	while (atomic_load(&post_got) < 100)
		usleep(1000);
	cr_assert_eq(wr_loop_close(post_loop, h, 4000, "by handle"), 0);
	while (!atomic_load(&post_close_code))
		usleep(1000);
	usleep(50000);
	atomic_store(&post_stale_rc, wr_loop_send(post_loop, h, "late", 4, WR_OP_TEXT));
	return NULL;
}

Test(loop, send_and_close_by_handle_from_another_thread)
{
	int err;
	post_loop = wr_loop_new(NULL, &err);
	cr_assert(post_loop);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/ws", srv_port);
	cr_assert_eq(wr_loop_connect(post_loop, url, NULL, &(wr_ws_handlers){
		.on_open = p_open, .on_message = p_message, .on_close = p_close }), 0);
	pthread_t th;
	pthread_create(&th, NULL, poster, NULL);
	cr_assert_eq(wr_loop_run(post_loop), 0);
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&post_got), 100);
	cr_assert_eq(atomic_load(&post_close_code), 4000); /* the server echoes our code */
	cr_assert_eq(atomic_load(&post_stale_rc), -ESTALE);
	cr_assert_eq(wr_loop_send(post_loop, (wr_handle){ 1ull << 56 }, "x", 1, WR_OP_TEXT), -EINVAL);
	wr_loop_free(post_loop);
}
