/* Metrics live, through the public API only: a server on loopback driven by raw sockets, its
 * snapshot (wr_server_stats) and its Prometheus text (GET on the built-in handler) checked
 * against the traffic sent: messages and bytes by type, closes by code, refusals, bad input
 * by kind, backpressure cut-offs, handler histograms, HTTP routes; and metrics off. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "live.h"
#include "wring/fiber.h"

/* Until fd has bytes to read (2 s at most). A blocking recv here, while the server's reactor
 * sleeps in a handler, sometimes returns EINTR with no signal delivered (seen with and without
 * kernel timestamps; io_uring's task-work notification, it seems): wait with poll, retried. */
static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	for (int i = 0; i < 200 && poll(&p, 1, 10) <= 0; i++)
		;
}

static void echo(wr_ws *ws, wr_msg msg, void *user)
{
	if (msg.len == 4 && !memcmp(msg.data, "slow", 4))
		usleep(20000); /* shows in the handler histogram */
	if (msg.len == 5 && !memcmp(msg.data, "stall", 5))
		usleep(100000);
	if (msg.len == 5 && !memcmp(msg.data, "flood", 5)) {
		/* never read by the peer: past max_send_buffer, a cut-off */
		static char big[65536];
		for (int i = 0; i < 64 && wr_ws_send(ws, big, sizeof(big), WR_OP_BINARY) == 0; i++)
			;
		return;
	}
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static int refuse_some(const wr_req *req, wr_upgrade *up, void *user)
{
	return wr_req_header(req, "x-refuse").data ? 403 : 0;
}

static wr_server *new_server(bool off)
{
	wr_server_config cfg = { .threads = 2, .metrics_off = off, .max_message_bytes = 1000,
	                         .max_send_buffer = 256 * 1024, .metrics_sample = 1 };
	wr_server *srv = wr_server_new(&cfg, NULL);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = echo,
	                                                                 .on_upgrade = refuse_some }),
	             0);
	cr_assert_eq(wr_server_websocket(srv, "/other", &(wr_ws_handlers){ .on_message = echo }), 0);
	cr_assert_eq(wr_server_metrics(srv, "/metrics"), 0);
	return srv;
}

static wr_stats *snap(wr_server *srv)
{
	wr_stats *st = NULL;
	cr_assert_eq(wr_server_stats(srv, &st), 0);
	cr_assert_not_null(st);
	return st;
}

static const wr_stats_route *route(const wr_stats *st, const char *path)
{
	for (size_t i = 0; i < st->nroutes; i++)
		if (!strcmp(st->routes[i].path, path))
			return &st->routes[i];
	cr_assert_fail("no route %s", path);
	return NULL;
}

/* Until the snapshot says cond (counters land as the reactors go: a few ms at most). */
#define WAIT_FOR(srv, st, cond)                                                        \
	do {                                                                           \
		for (int i_ = 0; i_ < 200; i_++) {                                     \
			st = snap(srv);                                                \
			if (cond)                                                      \
				break;                                                 \
			wr_stats_free(st);                                             \
			st = NULL;                                                     \
			usleep(10000);                                                 \
		}                                                                      \
		if (!st)                                                               \
			st = snap(srv);                                                \
	} while (0)

Test(metrics, messages_closes_and_histograms_match_the_traffic)
{
	wr_server *srv = new_server(false);
	uint16_t port = live_start(srv);
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	char buf[256];
	int op, fin;
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(live_ws_send(fd, 1, 1, "hello", 5), 0);
		cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 5);
	}
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(live_ws_send(fd, 1, 2, "\x01\x02\x03", 3), 0);
		cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 3);
	}
	cr_assert_eq(live_ws_send(fd, 1, 1, "slow", 4), 0);
	wait_readable(fd);
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 4);
	cr_assert_eq(live_ws_send(fd, 1, 9, "pi", 2), 0);         /* ping: the pong is ours */
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 2);
	cr_assert_eq(op, 10);
	wr_stats *open_now = snap(srv);
	cr_assert_eq(open_now->connections_open, 1);
	cr_assert_eq(route(open_now, "/ws")->connections_open, 1);
	wr_stats_free(open_now);
	cr_assert_eq(live_ws_send(fd, 1, 8, "\x0f\xa0", 2), 0);   /* close 4000 */
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 2);
	close(fd);

	wr_stats *st;
	WAIT_FOR(srv, st, route(st, "/ws")->closes[wr_stats_close_slot(4000)] == 1 &&
	                  st->connections_open == 0);
	const wr_stats_route *r = route(st, "/ws");
	cr_assert_eq(st->connections_open, 0);
	cr_assert_eq(st->reactors, 2);
	cr_assert_geq(st->accepted, 1);
	cr_assert_eq(r->messages_in[WR_STATS_TEXT], 11);
	cr_assert_eq(r->bytes_in[WR_STATS_TEXT], 54);
	cr_assert_eq(r->messages_in[WR_STATS_BINARY], 3);
	cr_assert_eq(r->bytes_in[WR_STATS_BINARY], 9);
	cr_assert_eq(r->messages_in[WR_STATS_PING], 1);
	cr_assert_eq(r->messages_in[WR_STATS_CLOSE], 1);
	cr_assert_eq(r->messages_out[WR_STATS_TEXT], 11);
	cr_assert_eq(r->messages_out[WR_STATS_BINARY], 3);
	cr_assert_eq(r->messages_out[WR_STATS_PONG], 1);
	cr_assert_eq(r->messages_out[WR_STATS_CLOSE], 1);
	cr_assert_eq(r->closes[wr_stats_close_slot(4000)], 1);
	cr_assert_eq(r->connections_open, 0);
	/* every message went through the handler once; the slow one shows at the top */
	cr_assert_eq(r->handler.count, 14);
	cr_assert_eq(r->receive.count, 14);
	cr_assert_geq(r->handler.max_ns, 20000000u);
	cr_assert_geq(wr_stats_percentile(&r->handler, 100), 20000000u);
	cr_assert_lt(wr_stats_percentile(&r->handler, 50), 20000000u);
	cr_assert_geq(r->handler.sum_ns, 20000000u);
	/* the other route saw nothing */
	cr_assert_eq(route(st, "/other")->messages_in[WR_STATS_TEXT], 0);
	cr_assert_gt(st->loop_turn.count, 0);
	cr_assert_gt(st->send_complete.count, 0);
	cr_assert_geq(st->socket_bytes_in, 14u * 6 + 54 + 9);
	wr_stats_free(st);
	wr_server_free(srv);
}

/* Handshakes refused (by the hook, malformed), bad frames and oversize messages, each counted
 * by kind, and the close codes the peers got. */
Test(metrics, refusals_and_bad_input_by_kind)
{
	wr_server *srv = new_server(false);
	uint16_t port = live_start(srv);
	char buf[2048];
	/* refused by on_upgrade (403) */
	int fd = live_connect(port);
	live_send_str(fd, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	                  "X-Refuse: 1\r\n\r\n");
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strstr(buf, " 403 "), "%s", buf);
	close(fd);
	/* an upgrade without a key (400) */
	fd = live_connect(port);
	live_send_str(fd, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n");
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strstr(buf, " 400 "), "%s", buf);
	close(fd);
	/* malformed HTTP (400) */
	fd = live_connect(port);
	live_send_str(fd, "GET / HTTP/1.1\r\nBad Header\r\n\r\n");
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strstr(buf, " 400 "), "%s", buf);
	close(fd);
	/* a header block over max_header_bytes (431) */
	fd = live_connect(port);
	char big[12000];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
	live_send(fd, big, sizeof(big));
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strstr(buf, " 431 "), "%s", buf);
	close(fd);
	int op, fin;
	/* a reserved opcode: 1002 */
	fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/other"), 0);
	live_ws_send(fd, 1, 3, "x", 1);
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)) >= 2, 1);
	close(fd);
	/* text that is not UTF-8: 1007 */
	fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/other"), 0);
	live_ws_send(fd, 1, 1, "\xff\xfe", 2);
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)) >= 2, 1);
	close(fd);
	/* over max_message_bytes (1000): 1009 */
	fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/other"), 0);
	live_ws_send(fd, 1, 2, big, 1001);
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)) >= 2, 1);
	close(fd);

	wr_stats *st;
	/* Each count lands when its reactor gets there: wait for the last of each kind. */
	WAIT_FOR(srv, st, st->parse_errors[WR_STATS_WS_TOO_BIG] == 1 &&
	                  route(st, "/other")->closes[wr_stats_close_slot(1009)] == 1 &&
	                  route(st, "/other")->closes[wr_stats_close_slot(1007)] == 1 &&
	                  route(st, "/other")->closes[wr_stats_close_slot(1002)] == 1);
	cr_assert_eq(st->refused[WR_STATS_REFUSED_HANDSHAKE], 2);
	cr_assert_eq(st->parse_errors[WR_STATS_HTTP_MALFORMED], 1);
	cr_assert_eq(st->parse_errors[WR_STATS_HTTP_TOO_LARGE], 1);
	cr_assert_eq(st->parse_errors[WR_STATS_WS_PROTOCOL], 1);
	cr_assert_eq(st->parse_errors[WR_STATS_WS_INVALID_DATA], 1);
	cr_assert_eq(st->parse_errors[WR_STATS_WS_TOO_BIG], 1);
	const wr_stats_route *o = route(st, "/other");
	cr_assert_eq(o->closes[wr_stats_close_slot(1002)], 1);
	cr_assert_eq(o->closes[wr_stats_close_slot(1007)], 1);
	cr_assert_eq(o->closes[wr_stats_close_slot(1009)], 1);
	cr_assert_eq(st->refused[WR_STATS_REFUSED_LIMIT], 0);
	wr_stats_free(st);
	wr_server_free(srv);
}

/* A peer that never reads is cut off past max_send_buffer: counted on the route and in all. */
Test(metrics, backpressure_cutoff_counted)
{
	wr_server *srv = new_server(false);
	uint16_t port = live_start(srv);
	int fd = live_connect(port);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	cr_assert_eq(live_ws_send(fd, 1, 1, "flood", 5), 0);
	wr_stats *st;
	/* The route's count, the reactor's and the close land one after the other: a snapshot
	 * may fall between them. */
	WAIT_FOR(srv, st, route(st, "/ws")->cutoffs == 1 && st->cutoffs == 1 &&
	                  route(st, "/ws")->closes[wr_stats_close_slot(1008)] == 1);
	cr_assert_eq(route(st, "/ws")->cutoffs, 1);
	cr_assert_eq(st->cutoffs, 1);
	cr_assert_eq(route(st, "/ws")->closes[wr_stats_close_slot(1008)], 1);
	wr_stats_free(st);
	close(fd);
	wr_server_free(srv);
}

/* The built-in handler serves the text format, with the names the issue asks for. */
Test(metrics, handler_serves_prometheus_text)
{
	wr_server *srv = new_server(false);
	uint16_t port = live_start(srv);
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	char buf[256];
	int op, fin;
	cr_assert_eq(live_ws_send(fd, 1, 1, "hey", 3), 0);
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 3);
	int h = live_connect(port);
	live_send_str(h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	static char page[1 << 18];
	ssize_t n = live_recv_all(h, page, sizeof(page));
	close(h);
	cr_assert_gt(n, 0);
	cr_assert(strstr(page, "HTTP/1.1 200"), "%.200s", page);
	cr_assert(strstr(page, "Content-Type: text/plain; version=0.0.4"));
	cr_assert(strstr(page, "\nwring_messages_received_total{route=\"/ws\",type=\"text\"} 1\n"));
	cr_assert(strstr(page, "\nwring_messages_sent_total{route=\"/ws\",type=\"text\"} 1\n"));
	cr_assert(strstr(page, "\n# TYPE wring_handler_seconds histogram\n"));
	cr_assert(strstr(page, "\nwring_handler_seconds_count{route=\"/ws\"} 1\n"));
	cr_assert(strstr(page, "\nwring_handler_seconds_bucket{route=\"/ws\",le=\"+Inf\"} 1\n"));
	cr_assert(strstr(page, "\n# TYPE wring_connections_open gauge\n"));
	cr_assert(strstr(page, "\nwring_connections_accepted_total "));
	close(fd);
	wr_server_free(srv);
}

static void hello(wr_req *req, wr_res *res, void *user)
{
	wr_res_text(res, "hi\n");
}

static void create(wr_req *req, wr_res *res, void *user)
{
	wr_res_status(res, 201);
	wr_res_text(res, "made\n");
}

/* One request on its own connection; its answer must start with `status`. Returns the
 * answer (static). */
static const char *http_once(uint16_t port, const char *method, const char *path,
                             const char *status)
{
	static char page[1 << 18];
	char req[256];
	snprintf(req, sizeof(req),
	         "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	         method, path);
	int h = live_connect(port);
	live_send_str(h, req);
	ssize_t n = live_recv_all(h, page, sizeof(page));
	close(h);
	cr_assert_gt(n, 0);
	cr_assert(!strncmp(page, status, strlen(status)), "%s %s: %.100s", method, path, page);
	return page;
}

static const wr_stats_http_route *http_route(const wr_stats *st, const char *path,
                                             const char *method)
{
	for (size_t i = 0; i < st->nhttp_routes; i++)
		if (!strcmp(st->http_routes[i].path, path) && !strcmp(st->http_routes[i].method, method))
			return &st->http_routes[i];
	cr_assert_fail("no HTTP route %s %s", method, path);
	return NULL;
}

/* HTTP routes by pattern and method: requests, responses by class, the handler histogram
 * (every request timed at metrics_sample 1); requests no route took under route "". */
Test(metrics, http_routes_counted_by_pattern_method_and_class)
{
	wr_server *srv = new_server(false);
	cr_assert_eq(wr_server_get(srv, "/hello", hello, NULL), 0);
	cr_assert_eq(wr_server_post(srv, "/items/:id", create, NULL), 0);
	uint16_t port = live_start(srv);
	enum { N = 5 };
	for (int i = 0; i < N; i++) {
		char path[32];
		snprintf(path, sizeof(path), "/items/%d", i); /* one pattern, many paths */
		http_once(port, "GET", "/hello", "HTTP/1.1 200");
		http_once(port, "POST", path, "HTTP/1.1 201");
	}
	http_once(port, "GET", "/nope", "HTTP/1.1 404");
	http_once(port, "DELETE", "/hello", "HTTP/1.1 405");

	wr_stats *st;
	WAIT_FOR(srv, st, http_route(st, "", "")->responses[3] == 2);
	/* the routes in registration order, then route "" */
	cr_assert_eq(st->nhttp_routes, 4);
	cr_assert_str_eq(st->http_routes[0].path, "/metrics");
	cr_assert_str_eq(st->http_routes[3].path, "");
	const wr_stats_http_route *g = http_route(st, "/hello", "GET");
	const wr_stats_http_route *p = http_route(st, "/items/:id", "POST");
	const wr_stats_http_route *u = http_route(st, "", "");
	cr_assert_eq(g->requests, N);
	cr_assert_eq(g->responses[1], N);
	cr_assert_eq(g->handler.count, N);
	cr_assert_eq(p->requests, N);
	cr_assert_eq(p->responses[1], N);
	cr_assert_eq(p->handler.count, N);
	cr_assert_eq(u->requests, 2);
	cr_assert_eq(u->responses[3], 2);
	cr_assert_eq(u->handler.count, 0); /* no handler ran */
	for (unsigned k = 0; k < WR_STATS_STATUS_CLASSES; k++)
		if (k != 1)
			cr_assert_eq(g->responses[k] + p->responses[k], 0);
	wr_stats_free(st);

	/* The text, served: this very request counted, its answer not yet. */
	const char *page = http_once(port, "GET", "/metrics", "HTTP/1.1 200");
	cr_assert(strstr(page, "\n# TYPE wring_http_requests_total counter\n"));
	cr_assert(strstr(page, "\nwring_http_requests_total{route=\"/hello\",method=\"GET\"} 5\n"));
	cr_assert(strstr(page,
	                 "\nwring_http_requests_total{route=\"/items/:id\",method=\"POST\"} 5\n"));
	cr_assert(strstr(page, "\nwring_http_requests_total{route=\"\",method=\"\"} 2\n"));
	cr_assert(strstr(page, "\nwring_http_requests_total{route=\"/metrics\",method=\"GET\"} 1\n"));
	cr_assert(strstr(page, "\n# TYPE wring_http_responses_total counter\n"));
	cr_assert(strstr(page, "\nwring_http_responses_total{route=\"/items/:id\",method=\"POST\","
	                       "code=\"2xx\"} 5\n"));
	cr_assert(strstr(page, "\nwring_http_responses_total{route=\"\",method=\"\",code=\"4xx\"} 2\n"));
	cr_assert(strstr(page, "\nwring_http_responses_total{route=\"/hello\",method=\"GET\","
	                       "code=\"5xx\"} 0\n"));
	cr_assert(strstr(page, "\n# TYPE wring_http_handler_seconds histogram\n"));
	cr_assert(strstr(page, "\nwring_http_handler_seconds_bucket{route=\"/hello\",method=\"GET\","
	                       "le=\"+Inf\"} 5\n"));
	cr_assert(strstr(page, "\nwring_http_handler_seconds_count{route=\"/hello\",method=\"GET\"} 5\n"));
	cr_assert(strstr(page, "\nwring_http_handler_seconds_sum{route=\"/hello\",method=\"GET\"} "));
	/* each family once */
	const char *first = strstr(page, "# TYPE wring_http_requests_total");
	cr_assert_null(strstr(first + 1, "# TYPE wring_http_requests_total"));
	wr_server_free(srv);
}

/* A sequential handler: reads the body to its end, answers with the status it names. */
static void fiber_upload(wr_req *req, wr_res *res, void *user)
{
	size_t n = 0;
	wr_str piece;
	int rc;
	while ((rc = wr_req_read(req, &piece)) > 0)
		n += piece.len;
	wr_res_status(res, rc < 0 ? 400 : n == 4 ? 201 : 422);
	wr_res_text(res, "ok\n");
}

/* Fiber (sequential) HTTP routes are counted like callback routes: requests, responses by
 * class, and the handler's whole run timed. */
Test(metrics, fiber_http_routes_counted)
{
	wr_server *srv = new_server(false);
	wr_http_fiber f = { .handler = fiber_upload };
	cr_assert_eq(wr_server_route_fiber(srv, "POST", "/up/:name", &f), 0);
	uint16_t port = live_start(srv);
	char page[4096];
	for (int i = 0; i < 3; i++) {
		int h = live_connect(port);
		live_send_str(h, i < 2 ? "POST /up/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
		                         "Connection: close\r\n\r\nabcd"
		                       : "POST /up/b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
		                         "Connection: close\r\n\r\nab");
		ssize_t n = live_recv_all(h, page, sizeof(page) - 1);
		close(h);
		cr_assert_gt(n, 0);
		page[n] = 0;
		cr_assert(!strncmp(page, i < 2 ? "HTTP/1.1 201" : "HTTP/1.1 422", 12), "%.80s", page);
	}
	wr_stats *st;
	WAIT_FOR(srv, st, http_route(st, "/up/:name", "POST")->handler.count == 3);
	const wr_stats_http_route *u = http_route(st, "/up/:name", "POST");
	cr_assert_eq(u->requests, 3);
	cr_assert_eq(u->responses[1], 2);
	cr_assert_eq(u->responses[3], 1);
	cr_assert_eq(u->handler.count, 3);
	cr_assert_eq(http_route(st, "", "")->requests, 0);
	wr_stats_free(st);
	const char *text = http_once(port, "GET", "/metrics", "HTTP/1.1 200");
	cr_assert(strstr(text, "\nwring_http_requests_total{route=\"/up/:name\",method=\"POST\"} 3\n"),
	          "%s", text);
	wr_server_free(srv);
}

/* Metrics off: no snapshot, and the handler says so (404); traffic still flows. */
Test(metrics, off_means_off)
{
	wr_server *srv = new_server(true);
	uint16_t port = live_start(srv);
	wr_stats *st = NULL;
	cr_assert_eq(wr_server_stats(srv, &st), -EINVAL);
	cr_assert_null(st);
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	char buf[64];
	int op, fin;
	cr_assert_eq(live_ws_send(fd, 1, 1, "hey", 3), 0);
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 3);
	close(fd);
	int h = live_connect(port);
	live_send_str(h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	live_recv_until(h, buf, sizeof(buf), "\r\n\r\n");
	cr_assert(strstr(buf, " 404 "), "%s", buf);
	close(h);
	/* HTTP routes and unmatched requests cost nothing either (no stats to write) */
	http_once(port, "GET", "/nope", "HTTP/1.1 404");
	cr_assert_eq(wr_server_stats(NULL, &st), -EINVAL);
	wr_server_free(srv);
}

/* Sampling (1 in 16 on average here; the default is 64): every message counted, about 1 in
 * 16 timed, at random gaps. */
Test(metrics, sampled_timing_counts_every_message)
{
	wr_server_config cfg = { .threads = 1, .metrics_sample = 16 };
	wr_server *srv = wr_server_new(&cfg, NULL);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = echo }), 0);
	uint16_t port = live_start(srv);
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	char buf[64];
	int op, fin;
	for (int i = 0; i < 3200; i++) {
		cr_assert_eq(live_ws_send(fd, 1, 2, "abcd", 4), 0);
		cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 4);
	}
	wr_stats *st = snap(srv);
	const wr_stats_route *r = route(st, "/ws");
	cr_assert_eq(r->messages_in[WR_STATS_BINARY], 3200);
	/* 200 expected; a binomial-like spread of a few percent, so 150..250 is generous */
	cr_assert(r->handler.count >= 150 && r->handler.count <= 250, "%llu timed",
	          (unsigned long long)r->handler.count);
	cr_assert_eq(r->receive.count, r->handler.count);
	wr_stats_free(st);
	close(fd);
	wr_server_free(srv);
}

/* Kernel receive timestamps: a message that arrives while the reactor sits in a slow handler
 * waited there, and the receipt histogram shows it only when it starts at the kernel's
 * timestamp (with the loop's wake-up as its start, the wait is invisible). Echo and the end
 * of stream still work through recvmsg. */
static uint64_t receive_max_after_a_stall(bool kernel_ts)
{
	wr_server_config cfg = { .threads = 1, .metrics_sample = 1, .kernel_timestamps = kernel_ts };
	wr_server *srv = wr_server_new(&cfg, NULL);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = echo }), 0);
	uint16_t port = live_start(srv);
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	char buf[64];
	int op, fin;
	cr_assert_eq(live_ws_send(fd, 1, 1, "stall", 5), 0); /* 100 ms in the handler */
	usleep(5000);
	cr_assert_eq(live_ws_send(fd, 1, 1, "next", 4), 0); /* arrives during it */
	usleep(150000);
	wait_readable(fd);
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 5);
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "next", 4), 0);
	close(fd); /* end of stream: the server must see it (1006) */
	wr_stats *st;
	WAIT_FOR(srv, st, route(st, "/ws")->closes[wr_stats_close_slot(1006)] == 1);
	const wr_stats_route *r = route(st, "/ws");
	cr_assert_eq(r->closes[wr_stats_close_slot(1006)], 1);
	cr_assert_eq(r->receive.count, 2);
	uint64_t mx = r->receive.max_ns;
	cr_assert_lt(mx, 1000000000u);
	wr_stats_free(st);
	wr_server_free(srv);
	return mx;
}

Test(metrics, kernel_receive_timestamps_show_the_wait)
{
	/* The second message waits about 95 ms (less whatever delays the sender's 5 ms sleep
	 * on a loaded machine); woken with its completion, the loop hands it over at once. */
	uint64_t with = receive_max_after_a_stall(true);
	uint64_t without = receive_max_after_a_stall(false);
	cr_assert_geq(with, 50000000u, "kernel timestamps: %llu ns", (unsigned long long)with);
	cr_assert_lt(without, 20000000u, "wake-up: %llu ns", (unsigned long long)without);
}
