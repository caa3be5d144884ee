/* The blocking client against our server, and against hand-written hostile servers on raw
 * sockets (each in a thread, answering the handshake and sending crafted frames). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "live.h"

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- our server ---- */

static atomic_int g_close_code;
static char g_close_reason[128];
static char g_auth[128];
static atomic_int g_auth_seen;

static void on_echo(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static void on_record_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	snprintf(g_close_reason, sizeof(g_close_reason), "%.*s", (int)reason.len,
	         reason.data ? reason.data : "");
	atomic_store(&g_close_code, code);
}

static void on_open_auth(wr_ws *ws, const wr_req *req, void *user)
{
	wr_str a = wr_req_header(req, "Authorization");
	if (!a.data) {
		wr_ws_close(ws, WR_CLOSE_POLICY_VIOLATION, "unauthorized");
		return;
	}
	snprintf(g_auth, sizeof(g_auth), "%.*s", (int)a.len, a.data);
	atomic_store(&g_auth_seen, 1);
}

static int on_upgrade_proto(const wr_req *req, wr_upgrade *up, void *user)
{
	wr_str p = wr_req_header(req, "Sec-WebSocket-Protocol");
	if (p.data && memmem(p.data, p.len, "chat", 4))
		wr_upgrade_protocol(up, "chat");
	return 0;
}

static char g_host[128];

static void on_open_host(wr_ws *ws, const wr_req *req, void *user)
{
	wr_str h = wr_req_header(req, "Host");
	snprintf(g_host, sizeof(g_host), "%.*s", (int)h.len, h.data ? h.data : "");
}

static wr_server *srv;
static uint16_t srv_port;

static void start_server(void)
{
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = 1 }, &err);
	cr_assert_not_null(srv, "wr_server_new: %s", wr_strerror(err));
	wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = on_echo,
	                                                   .on_close = on_record_close });
	wr_server_websocket(srv, "/auth", &(wr_ws_handlers){ .on_open = on_open_auth,
	                                                     .on_message = on_echo });
	wr_server_websocket(srv, "/proto", &(wr_ws_handlers){ .on_upgrade = on_upgrade_proto,
	                                                      .on_message = on_echo });
	wr_server_websocket(srv, "/host", &(wr_ws_handlers){ .on_open = on_open_host,
	                                                     .on_message = on_echo });
	srv_port = live_start(srv);
}

static void stop_server(void)
{
	wr_server_free(srv);
	srv = NULL;
}

static wr_client *connect_path(const char *path, const wr_client_options *o)
{
	char url[128];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u%s", srv_port, path);
	wr_client_err err = { 0, 0 };
	wr_client *c = wr_client_connect(url, o, &err);
	cr_assert_not_null(c, "connect %s: %s (%d)", url, wr_strerror(err.code), err.http_status);
	return c;
}

TestSuite(client, .init = start_server, .fini = stop_server, .timeout = 60);

static void echo_sizes(wr_opcode op)
{
	static const size_t sizes[] = { 0, 1, 125, 126, 65535, 65536, 16u << 20 };
	wr_client *c = connect_path("/ws", NULL);
	uint8_t *buf = malloc(16u << 20);
	cr_assert_not_null(buf);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		for (size_t k = 0; k < n; k++)
			buf[k] = op == WR_OP_TEXT ? (uint8_t)('a' + k % 26) : (uint8_t)(k * 7 + i);
		int rc = wr_client_send(c, buf, n, op);
		cr_assert_eq(rc, 0, "send %zu: %s", n, wr_strerror(rc));
		wr_msg m;
		rc = wr_client_read(c, &m);
		cr_assert_eq(rc, (int)op, "read %zu: %d %s", n, rc, wr_strerror(rc));
		cr_assert_eq(m.len, n, "size %zu came back as %zu", n, m.len);
		cr_assert(n == 0 || memcmp(m.data, buf, n) == 0, "payload of %zu differs", n);
	}
	cr_assert_eq(wr_client_close(c, WR_CLOSE_NORMAL, "bye"), 0);
	cr_assert_eq(wr_client_close_code(c), WR_CLOSE_NORMAL);
	wr_client_free(c);
	free(buf);
}

Test(client, echo_text_sizes) { echo_sizes(WR_OP_TEXT); }
Test(client, echo_binary_sizes) { echo_sizes(WR_OP_BINARY); }

Test(client, client_close_code_reaches_server)
{
	wr_client *c = connect_path("/ws", NULL);
	cr_assert_eq(wr_client_close(c, 4001, "x"), 0);
	for (int i = 0; i < 200 && !atomic_load(&g_close_code); i++)
		usleep(10000);
	cr_assert_eq(atomic_load(&g_close_code), 4001);
	cr_assert_str_eq(g_close_reason, "x");
	cr_assert_eq(wr_client_close_code(c), 4001, "the server echoes the code");
	/* Closed: sends fail, reads report the close, a second close is a no-op. */
	cr_assert_eq(wr_client_send_text(c, "late"), -EPIPE);
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), 0);
	cr_assert_eq(wr_client_close(c, 1000, NULL), 0);
	wr_client_free(c);
}

Test(client, server_close_from_on_open)
{
	wr_client *c = connect_path("/auth", NULL);
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), 0);
	cr_assert_eq(wr_client_close_code(c), WR_CLOSE_POLICY_VIOLATION);
	wr_str r = wr_client_close_reason(c);
	cr_assert_eq(r.len, 12);
	cr_assert(memcmp(r.data, "unauthorized", 12) == 0);
	wr_client_free(c);
}

Test(client, extra_header_seen_by_server)
{
	const char *hdrs[] = { "Authorization: Bearer t0k3n", "X-Other: 1", NULL };
	wr_client *c = connect_path("/auth", &(wr_client_options){ .headers = hdrs });
	cr_assert_eq(wr_client_send_text(c, "hi"), 0);
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), WR_OP_TEXT);
	cr_assert_eq(m.len, 2);
	cr_assert_eq(atomic_load(&g_auth_seen), 1);
	cr_assert_str_eq(g_auth, "Bearer t0k3n");
	wr_client_close(c, 1000, NULL);
	wr_client_free(c);
}

Test(client, bad_extra_headers)
{
	const char *const bad[][2] = { { "NoColon", NULL }, { "A: b\r\nEvil: 1", NULL },
	                               { ": empty name", NULL }, { "A: b\n", NULL } };
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/ws", srv_port);
	int before = live_fd_count();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wr_client_err err;
		wr_client *c = wr_client_connect(url, &(wr_client_options){ .headers = bad[i] }, &err);
		cr_assert_null(c);
		cr_assert_eq(err.code, -EINVAL, "header %zu: %d", i, err.code);
	}
	cr_assert_eq(live_fd_count(), before);
}

Test(client, subprotocol)
{
	const char *protos[] = { "superchat", "chat", NULL };
	wr_client *c = connect_path("/proto", &(wr_client_options){ .protocols = protos });
	wr_str p = wr_client_protocol(c);
	cr_assert_eq(p.len, 4);
	cr_assert(memcmp(p.data, "chat", 4) == 0);
	wr_client_free(c);

	const char *none[] = { "other", NULL };
	c = connect_path("/proto", &(wr_client_options){ .protocols = none });
	cr_assert_eq(wr_client_protocol(c).len, 0);
	cr_assert_null(wr_client_protocol(c).data);
	wr_client_free(c);
}

Test(client, ping_and_read_timeout)
{
	wr_client *c = connect_path("/ws", &(wr_client_options){ .read_timeout_ms = 200 });
	wr_msg m;
	uint64_t t0 = ms_now();
	cr_assert_eq(wr_client_read(c, &m), -ETIMEDOUT);
	cr_assert_lt(ms_now() - t0, 2000);
	/* The pong is passed silently; the connection is still usable after a timeout. */
	cr_assert_eq(wr_client_ping(c, "p", 1), 0);
	cr_assert_eq(wr_client_send_binary(c, "\x01\x02", 2), 0);
	cr_assert_eq(wr_client_read(c, &m), WR_OP_BINARY);
	cr_assert_eq(m.len, 2);
	cr_assert_eq(wr_client_ping(c, NULL, 126), -EINVAL);
	char big[126] = { 0 };
	cr_assert_eq(wr_client_ping(c, big, sizeof(big)), -EINVAL);
	cr_assert_eq(wr_client_send(c, "\xff", 1, WR_OP_TEXT), -EINVAL, "text must be UTF-8");
	cr_assert_eq(wr_client_send(c, "x", 1, WR_OP_CLOSE), -EINVAL);
	cr_assert_eq(wr_client_close(c, 1005, NULL), -EINVAL);
	cr_assert_eq(wr_client_close(c, 999, NULL), -EINVAL);
	cr_assert_eq(wr_client_close(c, 1000, "\xff"), -EINVAL);
	wr_client_close(c, 1000, NULL);
	wr_client_free(c);
}

Test(client, fragmented_send_with_a_ping_between_and_misuse)
{
	wr_client *c = connect_path("/ws", NULL);
	/* "h\xc3\xa9llo" cut inside the two-byte character, a ping between the pieces */
	cr_assert_eq(wr_client_send_fragment(c, "h\xc3", 2, WR_OP_TEXT, false), 0);
	cr_assert_eq(wr_client_ping(c, "p", 1), 0);
	cr_assert_eq(wr_client_send_text(c, "new"), -EBUSY);
	cr_assert_eq(wr_client_send_fragment(c, "x", 1, WR_OP_BINARY, false), -EINVAL);
	cr_assert_eq(wr_client_send_fragment(c, "\xff", 1, WR_OP_TEXT, false), -EINVAL);
	cr_assert_eq(wr_client_send_fragment(c, "\xa9l", 2, WR_OP_TEXT, false), 0);
	cr_assert_eq(wr_client_send_fragment(c, "l\xc3", 2, WR_OP_TEXT, true), -EINVAL); /* cut */
	cr_assert_eq(wr_client_send_fragment(c, "lo", 2, WR_OP_TEXT, true), 0);
	wr_msg m;
	int rc = wr_client_read(c, &m);
	cr_assert_gt(rc, 0, "read: %d %s", rc, wr_strerror(rc));
	cr_assert_eq(m.opcode, WR_OP_TEXT);
	cr_assert_eq(m.len, 6);
	cr_assert(!memcmp(m.data, "h\xc3\xa9llo", 6));
	/* binary, then whole messages again */
	cr_assert_eq(wr_client_send_fragment(c, "ab", 2, WR_OP_BINARY, false), 0);
	cr_assert_eq(wr_client_send_fragment(c, "cd", 2, WR_OP_BINARY, true), 0);
	rc = wr_client_read(c, &m);
	cr_assert_gt(rc, 0, "read: %d %s", rc, wr_strerror(rc));
	cr_assert_eq(m.opcode, WR_OP_BINARY);
	cr_assert(m.len == 4 && !memcmp(m.data, "abcd", 4));
	cr_assert_eq(wr_client_send_text(c, "whole"), 0);
	cr_assert_gt(wr_client_read(c, &m), 0);
	cr_assert(m.len == 5 && !memcmp(m.data, "whole", 5));
	cr_assert_eq(wr_client_close(c, 0, NULL), 0);
	cr_assert_eq(wr_client_close(c, 0, NULL), 0);
	wr_client_free(c);
}

Test(client, urls)
{
	static const char *bad[] = {
		"",        "http://127.0.0.1/",  "ws://",          "ws://:80/",
		"ws://h:0/", "ws://h:99999/",    "ws://h:8x/",     "ws://ho st/",
		"ws://[::1/", "ws://h/#frag",    "ws://u@h/",      "ws:/h/",
		"ws://h/\r\n", "WS:/",            "ws://h:/",       "wss://",
	};
	int before = live_fd_count();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wr_client_err err = { 1, 1 };
		cr_assert_null(wr_client_connect(bad[i], NULL, &err), "%s", bad[i]);
		cr_assert_eq(err.code, -EINVAL, "'%s': %s", bad[i], wr_strerror(err.code));
		cr_assert_eq(err.http_status, 0);
	}
	wr_client_err err;
	cr_assert_null(wr_client_connect(NULL, NULL, &err));
	cr_assert_eq(err.code, -EINVAL);
	cr_assert_null(wr_client_connect("wss://127.0.0.1:1/ws", NULL, &err));
	cr_assert_eq(err.code, WR_HAVE_TLS ? -ECONNREFUSED : -ENOTSUP, "%s", wr_strerror(err.code));
	cr_assert_eq(live_fd_count(), before);
	wr_client_free(NULL);
}

/* The public URL API splits and resolves as the clients do; *out is untouched on failure. */
Test(client, public_url_parse_and_resolve)
{
	wr_url u;
	cr_assert_eq(wr_url_parse("wss://Example.org:8443/chat?room=1", &u), 0);
	cr_assert(u.tls && !u.ipv6 && u.port == 8443 && u.port_explicit);
	cr_assert_eq(u.host.len, 11);
	cr_assert(memcmp(u.host.data, "Example.org", 11) == 0);
	cr_assert_eq(u.resource.len, 12);
	cr_assert(memcmp(u.resource.data, "/chat?room=1", 12) == 0);
	wr_url keep = { .port = 7 };
	cr_assert_eq(wr_url_parse("http://h/", &keep), -EINVAL);
	cr_assert_eq(wr_url_parse("ws://h/#f", &keep), -EINVAL);
	cr_assert_eq(keep.port, 7);

	struct sockaddr_storage ss;
	unsigned len = 0;
	cr_assert_eq(wr_url_parse("ws://127.0.0.1:9/", &u), 0);
	cr_assert_eq(wr_url_resolve(&u, &ss, &len), 0);
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(len, sizeof(struct sockaddr_in));
	cr_assert_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9);
	cr_assert_eq(wr_url_parse("ws://[::1]/", &u), 0);
	cr_assert_eq(wr_url_resolve(&u, &ss, &len), 0);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 80);
	cr_assert_eq(wr_url_resolve(NULL, &ss, &len), -EINVAL);
}

/* A given address is connected to without a lookup (the name below resolves nowhere); the
 * URL's host still goes in the Host header. */
Test(client, given_address_keeps_host_header)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(srv_port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char url[96];
	snprintf(url, sizeof(url), "ws://deployment.invalid:%u/host", srv_port);
	wr_client_options o = { .addr = (struct sockaddr *)&sa, .addr_len = sizeof(sa) };
	wr_client_err err = { 0, 0 };
	wr_client *c = wr_client_connect(url, &o, &err);
	cr_assert_not_null(c, "%s", wr_strerror(err.code));
	cr_assert_eq(wr_client_send_text(c, "hi"), 0);
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), WR_OP_TEXT);
	char want[64];
	snprintf(want, sizeof(want), "deployment.invalid:%u", srv_port);
	cr_assert_str_eq(g_host, want);
	wr_client_close(c, 1000, NULL);
	wr_client_free(c);
}

/* The source address is bound before connecting: a loopback alias works, an address this
 * machine does not have fails with -EADDRNOTAVAIL before any traffic. */
Test(client, bind_source_address)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
	wr_client *c = connect_path("/ws", &(wr_client_options){
		.bind_addr = (struct sockaddr *)&src, .bind_addr_len = sizeof(src) });
	cr_assert_eq(wr_client_send_text(c, "from .2"), 0);
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), WR_OP_TEXT);
	wr_client_close(c, 1000, NULL);
	wr_client_free(c);

	inet_pton(AF_INET, "192.0.2.1", &src.sin_addr); /* TEST-NET-1: never local */
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/ws", srv_port);
	wr_client_err err = { 0, 0 };
	cr_assert_null(wr_client_connect(url, &(wr_client_options){
		.bind_addr = (struct sockaddr *)&src, .bind_addr_len = sizeof(src) }, &err));
	cr_assert_eq(err.code, -EADDRNOTAVAIL, "%s", wr_strerror(err.code));
}

/* ---- hostile servers on raw sockets ---- */

struct fake;
typedef void (*fake_script)(struct fake *f, int fd);

struct fake {
	int lfd;
	uint16_t port;
	pthread_t th;
	fake_script script;
	int close_code; /* the close code the client sent (-1: none seen) */
	char extra[256];
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	if (poll(&p, 1, 10000) == 1) {
		int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			struct timeval tv = { .tv_sec = 5 };
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			f->script(f, fd);
			close(fd);
		}
	}
	return NULL;
}

static void fake_start(struct fake *f, fake_script script)
{
	memset(f, 0, sizeof(*f));
	f->close_code = -1;
	f->script = script;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(f->lfd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(f->lfd, 4), 0);
	socklen_t len = sizeof(sa);
	getsockname(f->lfd, (struct sockaddr *)&sa, &len);
	f->port = ntohs(sa.sin_port);
	cr_assert_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_join(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
}

static wr_client *fake_connect(struct fake *f, const wr_client_options *o, wr_client_err *err)
{
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/chat?x=1", f->port);
	return wr_client_connect(url, o, err);
}

/* Read the request head; answer with `status` ("101 Switching Protocols" if NULL), the
 * right accept key unless bad_key, Upgrade unless no_upgrade, plus extra header lines. */
static void fake_answer(int fd, const char *status, bool bad_key, bool no_upgrade,
                        const char *extra)
{
	char req[4096];
	live_recv_until(fd, req, sizeof(req), "\r\n\r\n");
	char *k = strcasestr(req, "Sec-WebSocket-Key: ");
	char accept[29] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	if (k && !bad_key) {
		k += 19;
		live_ws_accept_key(k, strcspn(k, "\r\n"), accept);
	}
	char resp[1024];
	snprintf(resp, sizeof(resp),
	         "HTTP/1.1 %s\r\n%sConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
	         status ? status : "101 Switching Protocols",
	         no_upgrade ? "" : "Upgrade: websocket\r\n", accept, extra ? extra : "");
	live_send_str(fd, resp);
}

static void fake_frame(int fd, bool fin, int op, const void *p, size_t n, bool masked)
{
	uint8_t h[14];
	uint8_t key[4] = { 1, 2, 3, 4 };
	size_t hl = live_ws_frame_header(h, fin, op, n, masked ? key : NULL);
	uint8_t *f = malloc(hl + n + 1);
	memcpy(f, h, hl);
	for (size_t i = 0; i < n; i++)
		f[hl + i] = ((const uint8_t *)p)[i] ^ (masked ? key[i & 3] : 0);
	live_send(fd, f, hl + n);
	free(f);
}

/* Read client frames (masked) until a close; its code, 1005 for an empty one, -1 on EOF. */
static int fake_read_close(int fd, uint8_t *pong, size_t *pong_len)
{
	for (int frames = 0; frames < 100; frames++) {
		uint8_t h[14];
		if (live_recv_n(fd, h, 2) != 2)
			return -1;
		int op = h[0] & 0x0f;
		uint64_t len = h[1] & 0x7f;
		if (!(h[1] & 0x80))
			return -2; /* client frames must be masked */
		if (len == 126) {
			live_recv_n(fd, h, 2);
			len = (uint64_t)h[0] << 8 | h[1];
		} else if (len == 127) {
			return -3;
		}
		uint8_t key[4], p[65536];
		live_recv_n(fd, key, 4);
		if (len > sizeof(p) || live_recv_n(fd, p, (size_t)len) != (ssize_t)len)
			return -1;
		for (size_t i = 0; i < len; i++)
			p[i] ^= key[i & 3];
		if (op == WR_OP_PONG && pong) {
			memcpy(pong, p, len);
			*pong_len = len;
		}
		if (op == WR_OP_CLOSE)
			return len >= 2 ? p[0] << 8 | p[1] : 1005;
	}
	return -1;
}

/* After the client's close (or failure): answer close and drop. */
static void fake_finish(struct fake *f, int fd, bool reply)
{
	f->close_code = fake_read_close(fd, NULL, NULL);
	if (reply && f->close_code > 0) {
		uint8_t cp[2] = { (uint8_t)(f->close_code >> 8), (uint8_t)f->close_code };
		fake_frame(fd, true, WR_OP_CLOSE, cp, 2, false);
	}
}

static void s_fragmented(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	fake_frame(fd, false, WR_OP_TEXT, "Hel", 3, false);
	fake_frame(fd, true, WR_OP_PING, "pp", 2, false);
	fake_frame(fd, false, WR_OP_CONT, "lo", 2, false);
	fake_frame(fd, false, WR_OP_CONT, "", 0, false);
	fake_frame(fd, true, WR_OP_PONG, "unsolicited", 11, false);
	fake_frame(fd, true, WR_OP_CONT, " \xc3\xa9!", 4, false);
	/* Then a fragmented binary message fed one byte at a time. */
	uint8_t all[256];
	size_t n = 0;
	n += live_ws_frame_header(all + n, false, WR_OP_BINARY, 3, NULL);
	memcpy(all + n, "\x00\x01\x02", 3);
	n += 3;
	n += live_ws_frame_header(all + n, true, WR_OP_CONT, 130, NULL);
	for (int i = 0; i < 130; i++)
		all[n++] = (uint8_t)i;
	for (size_t i = 0; i < n; i++) {
		live_send(fd, all + i, 1);
		if (i % 16 == 0)
			usleep(1000);
	}
	uint8_t pong[125];
	size_t pong_len = 0;
	/* The client now sends the pong, then (after reading both) its close. */
	f->close_code = fake_read_close(fd, pong, &pong_len);
	snprintf(f->extra, sizeof(f->extra), "%.*s", (int)pong_len, (char *)pong);
	uint8_t cp[2] = { 0x03, 0xe8 };
	fake_frame(fd, true, WR_OP_CLOSE, cp, 2, false);
	live_wait_eof(fd, 2000);
}

Test(client_hostile, fragmented_with_controls, .timeout = 30)
{
	int before = live_fd_count();
	struct fake f;
	fake_start(&f, s_fragmented);
	wr_client_err err;
	wr_client *c = fake_connect(&f, NULL, &err);
	cr_assert_not_null(c, "%s", wr_strerror(err.code));
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), WR_OP_TEXT);
	cr_assert_eq(m.len, 9);
	cr_assert(memcmp(m.data, "Hello \xc3\xa9!", 9) == 0);
	cr_assert_eq(wr_client_read(c, &m), WR_OP_BINARY);
	cr_assert_eq(m.len, 133);
	cr_assert(memcmp(m.data, "\x00\x01\x02\x00\x01", 5) == 0);
	cr_assert_eq(m.data[132], 129);
	cr_assert_eq(wr_client_close(c, 4002, NULL), 0);
	cr_assert_eq(wr_client_close_code(c), 1000);
	wr_client_free(c);
	fake_join(&f);
	cr_assert_eq(f.close_code, 4002);
	cr_assert_str_eq(f.extra, "pp");
	cr_assert_eq(live_fd_count(), before);
}

static void s_bad_key(struct fake *f, int fd) { fake_answer(fd, NULL, true, false, NULL); }
static void s_403(struct fake *f, int fd)
{
	fake_answer(fd, "403 Forbidden", false, false, "Content-Length: 0\r\n");
}
static void s_no_upgrade(struct fake *f, int fd) { fake_answer(fd, NULL, false, true, NULL); }
static void s_unoffered_proto(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, "Sec-WebSocket-Protocol: evil\r\n");
}
static void s_extension(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
}
static void s_garbage(struct fake *f, int fd)
{
	char req[4096];
	live_recv_until(fd, req, sizeof(req), "\r\n\r\n");
	live_send_str(fd, "SSH-2.0-OpenSSH\r\n\r\n");
}
static void s_eof_in_head(struct fake *f, int fd)
{
	char req[4096];
	live_recv_until(fd, req, sizeof(req), "\r\n\r\n");
	live_send_str(fd, "HTTP/1.1 101 Switching");
}
static void s_silent(struct fake *f, int fd) { live_wait_eof(fd, 5000); }

static void expect_connect_fails(fake_script s, int code, int status, const wr_client_options *o)
{
	int before = live_fd_count();
	struct fake f;
	fake_start(&f, s);
	wr_client_err err = { 0, -1 };
	wr_client *c = fake_connect(&f, o, &err);
	cr_assert_null(c);
	cr_assert_eq(err.code, code, "got %d %s", err.code, wr_strerror(err.code));
	cr_assert_eq(err.http_status, status);
	fake_join(&f);
	cr_assert_eq(live_fd_count(), before);
}

Test(client_hostile, wrong_accept_key) { expect_connect_fails(s_bad_key, -EPROTO, 0, NULL); }
Test(client_hostile, non_101_status) { expect_connect_fails(s_403, -EPROTO, 403, NULL); }
Test(client_hostile, no_upgrade_header) { expect_connect_fails(s_no_upgrade, -EPROTO, 0, NULL); }
Test(client_hostile, unoffered_protocol)
{
	expect_connect_fails(s_unoffered_proto, -EPROTO, 0, NULL);
}
Test(client_hostile, unasked_extension) { expect_connect_fails(s_extension, -EPROTO, 0, NULL); }
Test(client_hostile, not_http) { expect_connect_fails(s_garbage, -EPROTO, 0, NULL); }
Test(client_hostile, eof_in_head) { expect_connect_fails(s_eof_in_head, -ECONNRESET, 0, NULL); }

Test(client_hostile, handshake_timeout, .timeout = 30)
{
	uint64_t t0 = ms_now();
	expect_connect_fails(s_silent, -ETIMEDOUT, 0,
	                     &(wr_client_options){ .handshake_timeout_ms = 300 });
	uint64_t dt = ms_now() - t0;
	cr_assert_geq(dt, 250);
	cr_assert_lt(dt, 3000, "took %llu ms", (unsigned long long)dt);
}

Test(client_hostile, connection_refused)
{
	/* A port that was just free: bind, read it, close. */
	struct fake f;
	fake_start(&f, s_silent);
	uint16_t port = f.port;
	shutdown(f.lfd, SHUT_RDWR); /* wakes the thread's poll: nothing to accept */
	fake_join(&f);
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/", port);
	wr_client_err err;
	int before = live_fd_count();
	cr_assert_null(wr_client_connect(url, NULL, &err));
	cr_assert_eq(err.code, -ECONNREFUSED, "%s", wr_strerror(err.code));
	cr_assert_eq(live_fd_count(), before);
}

/* After the handshake, one crafted frame; then read what the client sends back. */
static void s_masked(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	fake_frame(fd, true, WR_OP_TEXT, "hi", 2, true);
	fake_finish(f, fd, false);
}
static void s_bad_utf8(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	fake_frame(fd, false, WR_OP_TEXT, "ok", 2, false);
	fake_frame(fd, true, WR_OP_CONT, "\xc3\x28", 2, false);
	fake_finish(f, fd, false);
}
static void s_oversized(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	uint8_t h[14];
	size_t n = live_ws_frame_header(h, true, WR_OP_BINARY, 2000, NULL);
	live_send(fd, h, n); /* the payload never needs to come */
	fake_finish(f, fd, false);
}
static void s_oversized_fragments(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	static uint8_t p[600];
	fake_frame(fd, false, WR_OP_BINARY, p, sizeof(p), false);
	fake_frame(fd, true, WR_OP_CONT, p, sizeof(p), false);
	fake_finish(f, fd, false);
}
static void s_reserved_op(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	fake_frame(fd, true, 0x3, "x", 1, false);
	fake_finish(f, fd, false);
}
static void s_bad_close_code(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	fake_frame(fd, true, WR_OP_CLOSE, "\x03\xed", 2, false); /* 1005 may not be sent */
	fake_finish(f, fd, false);
}

static void expect_read_fails(fake_script s, int rc_want, int code_want)
{
	int before = live_fd_count();
	struct fake f;
	fake_start(&f, s);
	wr_client_err err;
	wr_client *c = fake_connect(&f, &(wr_client_options){ .max_message_bytes = 1000,
	                                                      .close_timeout_ms = 2000 }, &err);
	cr_assert_not_null(c, "%s", wr_strerror(err.code));
	wr_msg m;
	uint64_t t0 = ms_now();
	int rc = wr_client_read(c, &m);
	cr_assert_eq(rc, rc_want, "read: %d %s", rc, wr_strerror(rc));
	cr_assert_lt(ms_now() - t0, 3000);
	cr_assert_eq(wr_client_close_code(c), code_want);
	cr_assert_eq(wr_client_read(c, &m), rc_want, "stays failed");
	cr_assert_eq(wr_client_send_text(c, "x"), -EPIPE);
	wr_client_free(c);
	fake_join(&f);
	cr_assert_eq(f.close_code, code_want, "server saw close %d", f.close_code);
	cr_assert_eq(live_fd_count(), before);
}

Test(client_hostile, masked_frame) { expect_read_fails(s_masked, -EPROTO, 1002); }
Test(client_hostile, invalid_utf8) { expect_read_fails(s_bad_utf8, -EILSEQ, 1007); }
Test(client_hostile, oversized_frame) { expect_read_fails(s_oversized, -EMSGSIZE, 1009); }
Test(client_hostile, oversized_message)
{
	expect_read_fails(s_oversized_fragments, -EMSGSIZE, 1009);
}
Test(client_hostile, reserved_opcode) { expect_read_fails(s_reserved_op, -EPROTO, 1002); }
Test(client_hostile, bad_close_code) { expect_read_fails(s_bad_close_code, -EPROTO, 1002); }

/* One binary message of g_frames frames of a byte each: a message in many tiny fragments
 * costs per frame, so clients hold servers to a frames-per-message limit as the server
 * holds its clients (tests/test_fair.c). */
static unsigned g_frames;
static void s_many_frames(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	size_t n = 0, cap = (size_t)g_frames * 3;
	uint8_t *all = malloc(cap);
	for (unsigned i = 0; i < g_frames; i++) {
		n += live_ws_frame_header(all + n, i + 1 == g_frames, i ? WR_OP_CONT : WR_OP_BINARY, 1,
		                          NULL);
		all[n++] = (uint8_t)i;
	}
	live_send(fd, all, n); /* the client may stop reading past its limit */
	free(all);
	fake_finish(f, fd, true);
}

/* g_frames frames against the client's max_message_frames (0: the default): the message
 * whole, or -EMSGSIZE and close 1009 (after the last frame allowed). */
static void expect_frames(unsigned frames, unsigned max_frames, bool taken)
{
	int before = live_fd_count();
	g_frames = frames;
	struct fake f;
	fake_start(&f, s_many_frames);
	wr_client_err err;
	wr_client *c = fake_connect(&f, &(wr_client_options){ .max_message_frames = max_frames,
	                                                      .close_timeout_ms = 2000 }, &err);
	cr_assert_not_null(c, "%s", wr_strerror(err.code));
	wr_msg m;
	int rc = wr_client_read(c, &m);
	if (taken) {
		cr_assert_eq(rc, WR_OP_BINARY, "read: %d %s", rc, wr_strerror(rc));
		cr_assert_eq(m.len, frames);
		for (unsigned i = 0; i < frames; i++)
			cr_assert_eq(m.data[i], (uint8_t)i);
		cr_assert_eq(wr_client_close(c, 0, NULL), 0);
		cr_assert_eq(wr_client_close_code(c), 1000);
	} else {
		cr_assert_eq(rc, -EMSGSIZE, "read: %d %s", rc, wr_strerror(rc));
		cr_assert_eq(wr_client_close_code(c), 1009);
	}
	wr_client_free(c);
	fake_join(&f);
	cr_assert_eq(f.close_code, taken ? 1000 : 1009, "server saw close %d", f.close_code);
	cr_assert_eq(live_fd_count(), before);
}

Test(client_hostile, message_in_too_many_frames)
{
	expect_frames(10, 10, true);
	expect_frames(11, 10, false);
	expect_frames(65536, 0, true);   /* the default, as the server's */
	expect_frames(65537, 0, false);
	expect_frames(65537, -1u, true); /* any */
}

static void s_mid_frame(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	uint8_t h[14];
	size_t n = live_ws_frame_header(h, true, WR_OP_BINARY, 100, NULL);
	live_send(fd, h, n);
	live_send(fd, "0123456789", 10);
}
static void s_close_no_code(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	fake_frame(fd, true, WR_OP_TEXT, "last", 4, false);
	fake_frame(fd, true, WR_OP_CLOSE, "", 0, false);
	f->close_code = fake_read_close(fd, NULL, NULL);
}

Test(client_hostile, dropped_mid_frame)
{
	int before = live_fd_count();
	struct fake f;
	fake_start(&f, s_mid_frame);
	wr_client_err err;
	wr_client *c = fake_connect(&f, NULL, &err);
	cr_assert_not_null(c);
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), 0);
	cr_assert_eq(wr_client_close_code(c), WR_CLOSE_ABNORMAL);
	cr_assert_eq(wr_client_close(c, 1000, NULL), 0);
	wr_client_free(c);
	fake_join(&f);
	cr_assert_eq(live_fd_count(), before);
}

Test(client_hostile, close_without_code)
{
	struct fake f;
	fake_start(&f, s_close_no_code);
	wr_client_err err;
	wr_client *c = fake_connect(&f, NULL, &err);
	cr_assert_not_null(c);
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), WR_OP_TEXT);
	cr_assert_eq(wr_client_read(c, &m), 0);
	cr_assert_eq(wr_client_close_code(c), WR_CLOSE_NO_STATUS);
	cr_assert_eq(wr_client_close_reason(c).len, 0);
	wr_client_free(c);
	fake_join(&f);
	cr_assert_eq(f.close_code, 1005, "an empty close is answered empty");
}

static void s_ipv6(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	fake_frame(fd, true, WR_OP_TEXT, "v6", 2, false);
	fake_finish(f, fd, true);
}

Test(client_hostile, ipv6_literal)
{
	int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (lfd >= 0)
			close(lfd);
		cr_skip_test("no IPv6 loopback");
	}
	listen(lfd, 4);
	socklen_t len = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &len);
	struct fake f = { .lfd = lfd, .port = ntohs(sa.sin6_port), .script = s_ipv6,
	                  .close_code = -1 };
	cr_assert_eq(pthread_create(&f.th, NULL, fake_main, &f), 0);
	char url[64];
	snprintf(url, sizeof(url), "ws://[::1]:%u/v6", f.port);
	wr_client_err err;
	wr_client *c = wr_client_connect(url, NULL, &err);
	cr_assert_not_null(c, "%s", wr_strerror(err.code));
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), WR_OP_TEXT);
	cr_assert_eq(wr_client_close(c, 1000, NULL), 0);
	cr_assert_eq(wr_client_close_code(c), 1000);
	wr_client_free(c);
	fake_join(&f);
}

/* ---- idle pings, and one call at a time ---- */

/* Answers the handshake, then reads everything and answers nothing: no pong ever. */
static void s_no_pong(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, NULL);
	char buf[256];
	while (live_recv(fd, buf, sizeof(buf)) > 0)
		;
}

Test(client_hostile, no_pong_fails_the_connection, .timeout = 30)
{
	struct fake f;
	fake_start(&f, s_no_pong);
	wr_client_err err;
	wr_client *c = fake_connect(&f, &(wr_client_options){ .ping_interval_ms = 200 }, &err);
	cr_assert_not_null(c, "%s", wr_strerror(err.code));
	uint64_t t0 = ms_now();
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), -ETIMEDOUT);
	uint64_t took = ms_now() - t0;
	cr_assert(took >= 350 && took < 2000, "failed after %llu ms", (unsigned long long)took);
	cr_assert_eq(wr_client_close_code(c), WR_CLOSE_ABNORMAL);
	wr_client_free(c);
	fake_join(&f);
}

Test(client, idle_ping_is_answered_and_keeps_the_connection)
{
	wr_client *c = connect_path("/ws", &(wr_client_options){ .ping_interval_ms = 100,
	                                                         .read_timeout_ms = 700 });
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), -ETIMEDOUT); /* pongs came: still open */
	cr_assert_eq(wr_client_send_text(c, "still"), 0);
	cr_assert_gt(wr_client_read(c, &m), 0);
	cr_assert(m.len == 5 && !memcmp(m.data, "still", 5));
	wr_client_close(c, 0, NULL);
	wr_client_free(c);
}

static void *blocked_reader(void *arg)
{
	wr_msg m;
	return (void *)(intptr_t)wr_client_read(arg, &m);
}

Test(client, a_second_thread_is_refused_with_ebusy)
{
	wr_client *c = connect_path("/ws", &(wr_client_options){ .read_timeout_ms = 600 });
	pthread_t th;
	pthread_create(&th, NULL, blocked_reader, c);
	usleep(200000);
	cr_assert_eq(wr_client_send_text(c, "x"), -EBUSY);
	void *rc;
	pthread_join(th, &rc);
	cr_assert_eq((int)(intptr_t)rc, -ETIMEDOUT);
	cr_assert_eq(wr_client_send_text(c, "x"), 0); /* free again */
	wr_client_close(c, 0, NULL);
	wr_client_free(c);
}

/* ---- permessage-deflate answers (RFC 7692 §5.1: the client fails a bad one) ---- */

static const wr_client_options offer_deflate = { .deflate = { .enable = true,
                                                              .server_max_window_bits = 12 } };

static void s_pmd_unknown(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false,
	            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; x=1\r\n");
}
static void s_pmd_cbits_novalue(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, "Sec-WebSocket-Extensions: permessage-deflate; "
	            "server_max_window_bits=12; client_max_window_bits\r\n");
}
static void s_pmd_twice(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, "Sec-WebSocket-Extensions: permessage-deflate; "
	            "server_max_window_bits=12\r\nSec-WebSocket-Extensions: permessage-deflate\r\n");
}
static void s_pmd_bits_over(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false,
	            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=13\r\n");
}
static void s_pmd_other(struct fake *f, int fd)
{
	fake_answer(fd, NULL, false, false, "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n");
}

Test(client_hostile, bad_deflate_answers)
{
	fake_script bad[] = { s_pmd_unknown, s_pmd_cbits_novalue, s_pmd_twice, s_pmd_bits_over,
	                      s_pmd_other };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_connect_fails(bad[i], -EPROTO, 0, &offer_deflate);
}

/* RFC 7692 §7.2.3.1 and .2: "Hello" compressed, then again referring back to the first. */
static void s_pmd_hello(struct fake *f, int fd)
{
	static const uint8_t hello[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
	static const uint8_t again[] = { 0xf2, 0x00, 0x11, 0x00, 0x00 };
	fake_answer(fd, NULL, false, false,
	            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n");
	uint8_t fr[16] = { 0xc1, sizeof(hello) };
	memcpy(fr + 2, hello, sizeof(hello));
	live_send(fd, fr, 2 + sizeof(hello));
	fr[1] = sizeof(again);
	memcpy(fr + 2, again, sizeof(again));
	live_send(fd, fr, 2 + sizeof(again));
	fake_finish(f, fd, true);
}

Test(client_hostile, deflate_messages_from_the_rfc)
{
	struct fake f;
	fake_start(&f, s_pmd_hello);
	wr_client_options o = offer_deflate;
	o.read_timeout_ms = 5000;
	wr_client *c = fake_connect(&f, &o, NULL);
	cr_assert_not_null(c);
	cr_assert(wr_client_deflate(c));
	for (int i = 0; i < 2; i++) {
		wr_msg m;
		cr_assert_eq(wr_client_read(c, &m), WR_OP_TEXT);
		cr_assert_eq(m.len, 5);
		cr_assert_eq(memcmp(m.data, "Hello", 5), 0);
	}
	wr_client_close(c, 1000, "");
	wr_client_free(c);
	fake_join(&f);
}
