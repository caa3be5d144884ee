/* TLS: HTTPS and WSS on the server, wss:// on the async client, certificate and hostname
 * verification, minimum versions, and bad TLS input closing only the connection that sent it.
 * Certificates are made once per run with the openssl tool, in a temporary directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "live.h"

#if !WR_HAVE_TLS

Test(tls, not_built_gives_enotsup)
{
	wr_tls_config tls = { .cert_file = "cert.pem", .key_file = "key.pem" };
	int err = 0;
	wr_server *srv = wr_server_new(&(wr_server_config){ .tls = &tls }, &err);
	cr_assert_null(srv);
	cr_assert_eq(err, -ENOTSUP);
	wr_loop *loop = wr_loop_new(NULL, &err);
	cr_assert_not_null(loop);
	wr_ws_handlers h = { 0 };
	cr_assert_eq(wr_loop_connect(loop, "wss://127.0.0.1:1/ws", NULL, &h), -ENOTSUP);
	wr_loop_free(loop);
}

#else

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* ---- certificates, made once per run (the runner's hooks; workers inherit the env) ---- */

#define CERT_ENV "WR_TEST_TLS_DIR"

static int make_cert(const char *dir, const char *name, const char *cn, const char *san)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
	         "-subj /CN=%s -addext subjectAltName=%s -addext basicConstraints=critical,CA:TRUE "
	         "-keyout %s/%s.key -out %s/%s.pem >/dev/null 2>&1",
	         cn, san, dir, name, dir, name);
	return system(cmd);
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	char tmpl[] = "/tmp/wring-test-tls.XXXXXX";
	if (!mkdtemp(tmpl))
		return;
	/* A failure shows up as a missing file in cert(), with its name. */
	make_cert(tmpl, "localhost", "localhost", "DNS:localhost,IP:127.0.0.1");
	make_cert(tmpl, "other", "other.test", "DNS:other.test");
	make_cert(tmpl, "client", "client", "DNS:client");
	make_cert(tmpl, "v6", "v6.test", "DNS:v6.test,IP:::1");
	setenv(CERT_ENV, tmpl, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	const char *d = getenv(CERT_ENV);
	if (d && !strncmp(d, "/tmp/wring-test-tls.", 20)) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", d);
	}
}

/* Path of a generated file: "localhost.pem", "other.key", ... (one static buffer per slot). */
static const char *cert(int slot, const char *file)
{
	static char paths[8][512];
	const char *d = getenv(CERT_ENV);
	cr_assert_not_null(d, "certificates were not generated (is openssl installed?)");
	snprintf(paths[slot], sizeof(paths[slot]), "%s/%s", d, file);
	cr_assert_eq(access(paths[slot], R_OK), 0, "missing %s", paths[slot]);
	return paths[slot];
}

/* ---- the server under test: /ws echoes, /health answers ---- */

static void echo(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static void health(wr_req *req, wr_res *res, void *user)
{
	wr_res_text(res, "ok\n");
}

static wr_server *tls_server(const wr_tls_config *tls, const char *host, unsigned hs_ms,
                             uint16_t *out_port)
{
	int err = 0;
	wr_server_config cfg = { .threads = 1, .tls = tls, .handshake_timeout_ms = hs_ms };
	wr_server *srv = wr_server_new(&cfg, &err);
	cr_assert_not_null(srv, "wr_server_new: %s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = echo }), 0);
	cr_assert_eq(wr_server_get(srv, "/health", health, NULL), 0);
	int rc = wr_server_start(srv, host, 0);
	cr_assert_eq(rc, 0, "start: %s", wr_strerror(rc));
	*out_port = wr_server_port(srv);
	return srv;
}

static const wr_tls_config *localhost_tls(void)
{
	static wr_tls_config t;
	t = (wr_tls_config){ .cert_file = cert(0, "localhost.pem"), .key_file = cert(1, "localhost.key") };
	return &t;
}

/* ---- our async client: a text and a 100 kB binary echo, then a clean close ---- */

#define BIG 100000

typedef struct cl_result {
	int opened, echoed, close_code, error;
	bool done;
	uint64_t deadline;
	wr_loop *loop;
	uint8_t big[BIG];
} cl_result;

static void cl_open(wr_ws *ws, const wr_req *req, void *user)
{
	cl_result *r = user;
	r->opened = 1;
	wr_ws_send_text(ws, "hello over tls");
	wr_ws_send(ws, r->big, BIG, WR_OP_BINARY);
}

static void cl_message(wr_ws *ws, wr_msg msg, void *user)
{
	cl_result *r = user;
	if (r->echoed == 0 && msg.opcode == WR_OP_TEXT && msg.len == 14 && !memcmp(msg.data, "hello over tls", 14))
		r->echoed++;
	else if (r->echoed == 1 && msg.opcode == WR_OP_BINARY && msg.len == BIG && !memcmp(msg.data, r->big, BIG))
		r->echoed++;
	if (r->echoed == 2)
		wr_ws_close(ws, WR_CLOSE_NORMAL, "bye");
}

static void cl_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	cl_result *r = user;
	r->close_code = code;
	r->error = wr_ws_error(ws);
	r->done = true;
	wr_loop_stop(r->loop);
}

static void cl_tick(wr_loop *loop, void *user)
{
	cl_result *r = user;
	if (wr_now_ns() > r->deadline)
		wr_loop_stop(loop);
}

static cl_result *run_client(const char *url, const wr_tls_config *tls)
{
	cl_result *r = calloc(1, sizeof(*r));
	cr_assert_not_null(r);
	for (size_t i = 0; i < BIG; i++)
		r->big[i] = (uint8_t)(i * 7 + (i >> 9));
	int err;
	r->loop = wr_loop_new(&(wr_loop_config){ .cpu = -1 }, &err);
	cr_assert_not_null(r->loop, "wr_loop_new: %s", wr_strerror(err));
	r->deadline = wr_now_ns() + 10ull * 1000000000ull;
	wr_loop_every(r->loop, 50, cl_tick, r);
	wr_ws_handlers h = { .on_open = cl_open, .on_message = cl_message, .on_close = cl_close, .user = r };
	int rc = wr_loop_connect(r->loop, url, &(wr_client_options){ .tls = tls }, &h);
	cr_assert_eq(rc, 0, "connect: %s", wr_strerror(rc));
	wr_loop_run(r->loop);
	cr_assert(r->done, "client did not finish in time");
	wr_loop_free(r->loop);
	return r;
}

/* ---- a raw wolfSSL client over a blocking socket (the test's own peer) ---- */

static WOLFSSL_CTX *raw_ctx(WOLFSSL_METHOD *m, const char *ca, const char *crt, const char *key)
{
	wolfSSL_Init();
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(m);
	cr_assert_not_null(ctx);
	if (ca) {
		cr_assert_eq(wolfSSL_CTX_load_verify_locations(ctx, ca, NULL), WOLFSSL_SUCCESS);
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	} else {
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	}
	if (crt) {
		cr_assert_eq(wolfSSL_CTX_use_certificate_file(ctx, crt, WOLFSSL_FILETYPE_PEM), WOLFSSL_SUCCESS);
		cr_assert_eq(wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM), WOLFSSL_SUCCESS);
	}
	return ctx;
}

typedef struct raw_conn {
	int fd;
	WOLFSSL *ssl;
} raw_conn;

/* Handshake over a fresh socket: 0, or the wolfSSL error (socket closed, ssl freed). */
static int raw_connect(WOLFSSL_CTX *ctx, uint16_t port, raw_conn *out)
{
	out->fd = live_connect(port);
	out->ssl = wolfSSL_new(ctx);
	cr_assert_not_null(out->ssl);
	char alpn[] = "http/1.1";
	wolfSSL_UseALPN(out->ssl, alpn, sizeof(alpn) - 1, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
	wolfSSL_set_fd(out->ssl, out->fd);
	int rc = wolfSSL_connect(out->ssl);
	if (rc != WOLFSSL_SUCCESS) {
		int e = wolfSSL_get_error(out->ssl, rc);
		wolfSSL_free(out->ssl);
		close(out->fd);
		out->ssl = NULL;
		out->fd = -1;
		return e ? e : -1;
	}
	return 0;
}

static void raw_close(raw_conn *c)
{
	if (c->ssl)
		wolfSSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

static int raw_send(raw_conn *c, const void *p, size_t n)
{
	return wolfSSL_write(c->ssl, p, (int)n) == (int)n ? 0 : -1;
}

static ssize_t raw_recv_n(raw_conn *c, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		int k = wolfSSL_read(c->ssl, (char *)p + got, (int)(n - got));
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* Read an HTTP head byte by byte (so nothing after it is swallowed). */
static ssize_t raw_recv_head(raw_conn *c, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		if (raw_recv_n(c, buf + n, 1) != 1)
			break;
		buf[++n] = 0;
		if (n >= 4 && !memcmp(buf + n - 4, "\r\n\r\n", 4))
			break;
	}
	buf[n] = 0;
	return (ssize_t)n;
}

static void raw_ws_open(raw_conn *c)
{
	const char *req = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
	                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n";
	cr_assert_eq(raw_send(c, req, strlen(req)), 0);
	char head[1024];
	raw_recv_head(c, head, sizeof(head));
	cr_assert(!strncmp(head, "HTTP/1.1 101", 12), "upgrade answer: %s", head);
}

/* One short masked text frame out, its echo back. */
static void raw_ws_echo(raw_conn *c, const char *msg)
{
	size_t n = strlen(msg);
	cr_assert_lt(n, 126);
	uint8_t f[6 + 125];
	f[0] = 0x81;
	f[1] = (uint8_t)(0x80 | n);
	memcpy(f + 2, "\x01\x02\x03\x04", 4);
	for (size_t i = 0; i < n; i++)
		f[6 + i] = (uint8_t)msg[i] ^ f[2 + (i & 3)];
	cr_assert_eq(raw_send(c, f, 6 + n), 0);
	uint8_t h[2], p[125];
	cr_assert_eq(raw_recv_n(c, h, 2), 2, "echo header");
	cr_assert_eq(h[0], 0x81);
	cr_assert_eq(h[1], n);
	cr_assert_eq(raw_recv_n(c, p, n), (ssize_t)n);
	cr_assert_eq(memcmp(p, msg, n), 0);
}

static void raw_get_health(raw_conn *c)
{
	const char *req = "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";
	cr_assert_eq(raw_send(c, req, strlen(req)), 0);
	char head[1024], body[4] = { 0 };
	raw_recv_head(c, head, sizeof(head));
	cr_assert(!strncmp(head, "HTTP/1.1 200", 12), "answer: %s", head);
	cr_assert_eq(raw_recv_n(c, body, 3), 3);
	cr_assert_str_eq(body, "ok\n");
}

/* A real ClientHello, captured from wolfSSL through memory callbacks. */
static uint8_t hello_buf[4096];
static size_t hello_len;

static int cap_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	if (hello_len + (size_t)sz <= sizeof(hello_buf)) {
		memcpy(hello_buf + hello_len, buf, (size_t)sz);
		hello_len += (size_t)sz;
	}
	return sz;
}

static int cap_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	return WOLFSSL_CBIO_ERR_WANT_READ;
}

static void capture_client_hello(void)
{
	WOLFSSL_CTX *ctx = raw_ctx(wolfSSLv23_client_method(), NULL, NULL, NULL);
	wolfSSL_CTX_SetIOSend(ctx, cap_send);
	wolfSSL_CTX_SetIORecv(ctx, cap_recv);
	WOLFSSL *ssl = wolfSSL_new(ctx);
	hello_len = 0;
	wolfSSL_connect(ssl);
	wolfSSL_free(ssl);
	wolfSSL_CTX_free(ctx);
	cr_assert_gt(hello_len, 50);
	cr_assert_eq(hello_buf[0], 0x16);
}

/* ---- WSS with our client ---- */

Test(tls, wss_echo_verified_with_ca)
{
	uint16_t port;
	wr_server *srv = tls_server(localhost_tls(), "localhost", 0, &port);
	char url[128];
	snprintf(url, sizeof(url), "wss://localhost:%u/ws", port);
	cl_result *r = run_client(url, &(wr_tls_config){ .ca_file = cert(2, "localhost.pem") });
	cr_expect_eq(r->opened, 1);
	cr_expect_eq(r->echoed, 2, "text and 100 kB binary echoed");
	cr_expect_eq(r->close_code, WR_CLOSE_NORMAL);
	free(r);
	wr_server_free(srv);
}

Test(tls, wss_ip_address_checked_against_san)
{
	uint16_t port;
	wr_server *srv = tls_server(localhost_tls(), "127.0.0.1", 0, &port);
	char url[128];
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u/ws", port);
	cl_result *r = run_client(url, &(wr_tls_config){ .ca_file = cert(2, "localhost.pem") });
	cr_expect_eq(r->echoed, 2);
	free(r);
	wr_server_free(srv);
}

/* An IPv6 literal is checked too, in either wolfSSL build (Debian's through its OpenSSL
 * compatibility layer, the local one through its iPAddress text): named -> accepted, not named
 * (the localhost certificate has only 127.0.0.1) -> refused. */
Test(tls, wss_ipv6_address_checked_against_san)
{
	wr_tls_config v6 = { .cert_file = cert(0, "v6.pem"), .key_file = cert(1, "v6.key") };
	uint16_t port;
	wr_server *srv = tls_server(&v6, "::1", 0, &port);
	char url[128];
	snprintf(url, sizeof(url), "wss://[::1]:%u/ws", port);
	cl_result *r = run_client(url, &(wr_tls_config){ .ca_file = cert(2, "v6.pem") });
	cr_expect_eq(r->echoed, 2, "error %d (%s)", r->error, wr_strerror(r->error));
	free(r);
	wr_server_free(srv);

	srv = tls_server(localhost_tls(), "::1", 0, &port);
	snprintf(url, sizeof(url), "wss://[::1]:%u/ws", port);
	r = run_client(url, &(wr_tls_config){ .ca_file = cert(2, "localhost.pem") });
	cr_expect_eq(r->opened, 0, "an address the certificate does not name");
	cr_expect_eq(r->error, -EKEYREJECTED, "error %d (%s)", r->error, wr_strerror(r->error));
	free(r);
	wr_server_free(srv);
}

Test(tls, verify_refuses_self_signed_without_ca)
{
	uint16_t port;
	wr_server *srv = tls_server(localhost_tls(), "localhost", 0, &port);
	char url[128];
	snprintf(url, sizeof(url), "wss://localhost:%u/ws", port);
	cl_result *r = run_client(url, NULL); /* the system store */
	cr_expect_eq(r->opened, 0);
	cr_expect_eq(r->close_code, WR_CLOSE_ABNORMAL);
	cr_expect_eq(r->error, -EKEYREJECTED, "error %d (%s)", r->error, wr_strerror(r->error));
	free(r);
	/* The server is fine afterwards. */
	r = run_client(url, &(wr_tls_config){ .ca_file = cert(2, "localhost.pem") });
	cr_expect_eq(r->echoed, 2);
	free(r);
	wr_server_free(srv);
}

Test(tls, hostname_mismatch_refused)
{
	wr_tls_config other = { .cert_file = cert(0, "other.pem"), .key_file = cert(1, "other.key") };
	uint16_t port;
	wr_server *srv = tls_server(&other, "localhost", 0, &port);
	char url[128];
	snprintf(url, sizeof(url), "wss://localhost:%u/ws", port);
	cl_result *r = run_client(url, &(wr_tls_config){ .ca_file = cert(2, "other.pem") });
	cr_expect_eq(r->opened, 0);
	cr_expect_eq(r->error, -EKEYREJECTED, "error %d (%s)", r->error, wr_strerror(r->error));
	free(r);
	wr_server_free(srv);

	srv = tls_server(&other, "127.0.0.1", 0, &port);
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u/ws", port);
	r = run_client(url, &(wr_tls_config){ .ca_file = cert(2, "other.pem") });
	cr_expect_eq(r->opened, 0, "an address the certificate does not name");
	cr_expect_eq(r->error, -EKEYREJECTED);
	free(r);
	wr_server_free(srv);
}

Test(tls, insecure_accepts)
{
	wr_tls_config other = { .cert_file = cert(0, "other.pem"), .key_file = cert(1, "other.key") };
	uint16_t port;
	wr_server *srv = tls_server(&other, "localhost", 0, &port);
	char url[128];
	snprintf(url, sizeof(url), "wss://localhost:%u/ws", port);
	cl_result *r = run_client(url, &(wr_tls_config){ .insecure = true });
	cr_expect_eq(r->echoed, 2);
	cr_expect_eq(r->close_code, WR_CLOSE_NORMAL);
	free(r);
	wr_server_free(srv);
}

/* ---- HTTPS with a raw wolfSSL client ---- */

Test(tls, https_get_and_alpn)
{
	uint16_t port;
	wr_server *srv = tls_server(localhost_tls(), "localhost", 0, &port);
	WOLFSSL_CTX *ctx = raw_ctx(wolfSSLv23_client_method(), cert(2, "localhost.pem"), NULL, NULL);
	raw_conn c;
	cr_assert_eq(raw_connect(ctx, port, &c), 0);
	char *proto = NULL;
	unsigned short plen = 0;
	cr_expect_eq(wolfSSL_ALPN_GetProtocol(c.ssl, &proto, &plen), WOLFSSL_SUCCESS);
	cr_expect(plen == 8 && proto && !memcmp(proto, "http/1.1", 8), "ALPN http/1.1");
	raw_get_health(&c);
	raw_get_health(&c); /* keep-alive */
	raw_close(&c);
	wolfSSL_CTX_free(ctx);
	wr_server_free(srv);
}

Test(tls, tls12_client_on_default_server)
{
	uint16_t port;
	wr_server *srv = tls_server(localhost_tls(), "localhost", 0, &port);
	WOLFSSL_CTX *ctx = raw_ctx(wolfTLSv1_2_client_method(), cert(2, "localhost.pem"), NULL, NULL);
	raw_conn c;
	cr_assert_eq(raw_connect(ctx, port, &c), 0);
	cr_expect_str_eq(wolfSSL_get_version(c.ssl), "TLSv1.2");
	raw_ws_open(&c);
	raw_ws_echo(&c, "tls 1.2 frame");
	raw_close(&c);
	wolfSSL_CTX_free(ctx);
	wr_server_free(srv);
}

Test(tls, min_version_13)
{
	int fds = live_fd_count();
	wr_tls_config t = *localhost_tls();
	t.min_version = 13;
	uint16_t port;
	wr_server *srv = tls_server(&t, "localhost", 0, &port);
	WOLFSSL_CTX *c13 = raw_ctx(wolfTLSv1_3_client_method(), cert(2, "localhost.pem"), NULL, NULL);
	WOLFSSL_CTX *c12 = raw_ctx(wolfTLSv1_2_client_method(), cert(2, "localhost.pem"), NULL, NULL);
	raw_conn good, bad;
	cr_assert_eq(raw_connect(c13, port, &good), 0);
	cr_expect_str_eq(wolfSSL_get_version(good.ssl), "TLSv1.3");
	raw_ws_open(&good);
	raw_ws_echo(&good, "before");
	cr_expect_neq(raw_connect(c12, port, &bad), 0, "a 1.2-only client is refused");
	raw_ws_echo(&good, "after");
	raw_close(&good);
	wolfSSL_CTX_free(c13);
	wolfSSL_CTX_free(c12);
	wr_server_free(srv);
	cr_expect_eq(live_fd_count(), fds, "no fd leak");
}

Test(tls, client_certificate_required)
{
	wr_tls_config t = *localhost_tls();
	t.ca_file = cert(2, "client.pem");
	t.verify_peer = true;
	uint16_t port;
	wr_server *srv = tls_server(&t, "localhost", 0, &port);
	WOLFSSL_CTX *with = raw_ctx(wolfSSLv23_client_method(), cert(3, "localhost.pem"),
	                            cert(4, "client.pem"), cert(5, "client.key"));
	WOLFSSL_CTX *without = raw_ctx(wolfSSLv23_client_method(), cert(3, "localhost.pem"), NULL, NULL);
	raw_conn c;
	cr_assert_eq(raw_connect(with, port, &c), 0);
	raw_get_health(&c);
	raw_close(&c);
	/* Without a certificate: refused at the handshake (1.2) or right after it (1.3). */
	if (raw_connect(without, port, &c) == 0) {
		const char *req = "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";
		raw_send(&c, req, strlen(req));
		char buf[16];
		cr_expect_leq(raw_recv_n(&c, buf, sizeof(buf)), 0, "no answer without a certificate");
		raw_close(&c);
	}
	wolfSSL_CTX_free(with);
	wolfSSL_CTX_free(without);
	wr_server_free(srv);
}

Test(tls, config_errors)
{
	int err = 0;
	wr_tls_config missing = { .cert_file = "/nonexistent/cert.pem", .key_file = "/nonexistent/key.pem" };
	cr_expect_null(wr_server_new(&(wr_server_config){ .tls = &missing }, &err));
	cr_expect_eq(err, -ENOENT);
	wr_tls_config swapped = { .cert_file = cert(0, "localhost.key"), .key_file = cert(1, "localhost.pem") };
	cr_expect_null(wr_server_new(&(wr_server_config){ .tls = &swapped }, &err));
	cr_expect_eq(err, -EBADMSG);
	/* (A key that does not match the certificate is not caught here: wolfSSL 5.5.4's
	 * wolfSSL_CTX_check_private_key passes mismatched EC keys; handshakes then fail.) */
	wr_tls_config badver = *localhost_tls();
	badver.min_version = 11;
	cr_expect_null(wr_server_new(&(wr_server_config){ .tls = &badver }, &err));
	cr_expect_eq(err, -EINVAL);
	wr_tls_config nokey = { .cert_file = cert(0, "localhost.pem") };
	cr_expect_null(wr_server_new(&(wr_server_config){ .tls = &nokey }, &err));
	cr_expect_eq(err, -EINVAL);
}

/* ---- bad TLS input: only the offending connection goes; a good one keeps working ---- */

typedef struct bad_env {
	int fds;
	wr_server *srv;
	uint16_t port;
	WOLFSSL_CTX *ctx;
	raw_conn good;
} bad_env;

static void bad_begin(bad_env *e, unsigned hs_ms)
{
	e->fds = live_fd_count();
	e->srv = tls_server(localhost_tls(), "localhost", hs_ms, &e->port);
	e->ctx = raw_ctx(wolfSSLv23_client_method(), cert(2, "localhost.pem"), NULL, NULL);
	cr_assert_eq(raw_connect(e->ctx, e->port, &e->good), 0);
	raw_ws_open(&e->good);
	raw_ws_echo(&e->good, "before");
}

static void bad_end(bad_env *e)
{
	raw_ws_echo(&e->good, "after");
	/* And a brand-new connection still completes a handshake. */
	raw_conn fresh;
	cr_expect_eq(raw_connect(e->ctx, e->port, &fresh), 0);
	if (fresh.ssl) {
		raw_get_health(&fresh);
		raw_close(&fresh);
	}
	raw_close(&e->good);
	wolfSSL_CTX_free(e->ctx);
	wr_server_free(e->srv);
	cr_expect_eq(live_fd_count(), e->fds, "no fd leak");
}

Test(tls, garbage_bytes)
{
	bad_env e;
	bad_begin(&e, 0);
	int fd = live_connect(e.port);
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(0x80 + i * 13);
	live_send(fd, junk, sizeof(junk));
	cr_expect(live_wait_eof(fd, 3000), "garbage: server closes");
	close(fd);
	/* A TLS record header announcing an absurd length. */
	fd = live_connect(e.port);
	live_send(fd, "\x16\x03\x01\xff\xff\x01\x02\x03", 8);
	live_send(fd, junk, sizeof(junk));
	cr_expect(live_wait_eof(fd, 3000), "oversized record: server closes");
	close(fd);
	bad_end(&e);
}

Test(tls, truncated_client_hello_then_close)
{
	capture_client_hello();
	bad_env e;
	bad_begin(&e, 0);
	for (int k = 0; k < 5; k++) {
		int fd = live_connect(e.port);
		live_send(fd, hello_buf, hello_len / 2 + (size_t)k);
		close(fd);
	}
	usleep(200 * 1000);
	bad_end(&e);
}

Test(tls, plain_http_to_tls_port)
{
	bad_env e;
	bad_begin(&e, 0);
	int fd = live_connect(e.port);
	live_send_str(fd, "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
	char buf[512];
	live_recv_all(fd, buf, sizeof(buf));
	cr_expect(!strncmp(buf, "HTTP/1.1 400", 12), "a readable refusal: %s", buf);
	cr_expect(strstr(buf, "HTTPS") != NULL);
	close(fd);
	bad_end(&e);
}

Test(tls, stalled_handshake_times_out)
{
	capture_client_hello();
	bad_env e;
	bad_begin(&e, 500);
	int fd = live_connect(e.port);
	live_send(fd, hello_buf, hello_len / 2);
	uint64_t t0 = wr_now_ns();
	cr_expect(live_wait_eof(fd, 5000), "handshake timeout closes the stalled client");
	uint64_t ms = (wr_now_ns() - t0) / 1000000u;
	cr_expect(ms >= 300 && ms < 3000, "closed after %llu ms", (unsigned long long)ms);
	close(fd);
	/* A client that connects and says nothing at all. */
	fd = live_connect(e.port);
	cr_expect(live_wait_eof(fd, 5000), "silent client closed too");
	close(fd);
	/* The good connection was active all along; it is unaffected. */
	bad_end(&e);
}

Test(tls, many_small_frames_coalesce)
{
	uint16_t port;
	wr_server *srv = tls_server(localhost_tls(), "localhost", 0, &port);
	WOLFSSL_CTX *ctx = raw_ctx(wolfSSLv23_client_method(), cert(2, "localhost.pem"), NULL, NULL);
	raw_conn c;
	cr_assert_eq(raw_connect(ctx, port, &c), 0);
	raw_ws_open(&c);
	/* 200 frames in one write: their 200 echoes are sent back in a few records. */
	uint8_t out[200 * 10];
	for (int i = 0; i < 200; i++) {
		uint8_t *f = out + i * 10;
		f[0] = 0x82;
		f[1] = 0x84;
		memset(f + 2, 0, 4);
		memcpy(f + 6, &i, 4);
	}
	cr_assert_eq(raw_send(&c, out, sizeof(out)), 0);
	for (int i = 0; i < 200; i++) {
		uint8_t f[6];
		cr_assert_eq(raw_recv_n(&c, f, 6), 6);
		int v;
		memcpy(&v, f + 2, 4);
		cr_assert_eq(v, i);
	}
	raw_close(&c);
	wolfSSL_CTX_free(ctx);
	wr_server_free(srv);
}

/* ---- the blocking client over wss:// ---- */

Test(tls, blocking_client_wss_echo)
{
	int fds = live_fd_count();
	uint16_t port;
	wr_server *srv = tls_server(localhost_tls(), "localhost", 0, &port);
	char url[128];
	snprintf(url, sizeof(url), "wss://localhost:%u/ws", port);
	wr_client_err err;
	wr_client_options o = { .tls = &(wr_tls_config){ .ca_file = cert(2, "localhost.pem") },
	                        .read_timeout_ms = 5000 };
	wr_client *c = wr_client_connect(url, &o, &err);
	cr_assert_not_null(c, "connect: %s", wr_strerror(err.code));
	cr_assert_eq(wr_client_send_text(c, "Hello, WebSocket!"), 0);
	wr_msg m;
	cr_assert_eq(wr_client_read(c, &m), WR_OP_TEXT);
	cr_expect(m.len == 17 && !memcmp(m.data, "Hello, WebSocket!", 17));
	static uint8_t big[300000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i ^ (i >> 8));
	cr_assert_eq(wr_client_send_binary(c, big, sizeof(big)), 0);
	cr_assert_eq(wr_client_read(c, &m), WR_OP_BINARY);
	cr_expect(m.len == sizeof(big) && !memcmp(m.data, big, sizeof(big)), "300 kB echoed");
	cr_expect_eq(wr_client_close(c, WR_CLOSE_NORMAL, "bye"), 0);
	cr_expect_eq(wr_client_close_code(c), WR_CLOSE_NORMAL);
	wr_client_free(c);
	wr_server_free(srv);
	cr_expect_eq(live_fd_count(), fds, "no fd leak");
}

Test(tls, blocking_client_verification)
{
	int fds = live_fd_count();
	wr_tls_config other = { .cert_file = cert(0, "other.pem"), .key_file = cert(1, "other.key") };
	uint16_t port;
	wr_server *srv = tls_server(localhost_tls(), "localhost", 0, &port);
	wr_server *srv2 = tls_server(&other, "localhost", 0, &(uint16_t){ 0 });
	uint16_t port2 = wr_server_port(srv2);
	char url[128], url2[128];
	snprintf(url, sizeof(url), "wss://localhost:%u/ws", port);
	snprintf(url2, sizeof(url2), "wss://localhost:%u/ws", port2);
	wr_client_err err;
	cr_expect_null(wr_client_connect(url, NULL, &err), "system store: self-signed refused");
	cr_expect_eq(err.code, -EKEYREJECTED, "%s", wr_strerror(err.code));
	wr_client_options o = { .tls = &(wr_tls_config){ .ca_file = cert(2, "other.pem") } };
	cr_expect_null(wr_client_connect(url2, &o, &err), "hostname mismatch refused");
	cr_expect_eq(err.code, -EKEYREJECTED, "%s", wr_strerror(err.code));
	o.tls = &(wr_tls_config){ .insecure = true };
	wr_client *c = wr_client_connect(url2, &o, &err);
	cr_expect_not_null(c, "insecure: %s", wr_strerror(err.code));
	wr_client_free(c);
	wr_server_free(srv);
	wr_server_free(srv2);
	cr_expect_eq(live_fd_count(), fds, "no fd leak");
}

Test(tls, blocking_client_handshake_timeout)
{
	/* A listener that never accepts: TCP connects (backlog), TLS never answers. */
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(ls, 4), 0);
	socklen_t sl = sizeof(sa);
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	char url[128];
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u/ws", ntohs(sa.sin_port));
	int fds = live_fd_count();
	wr_client_err err;
	wr_client_options o = { .handshake_timeout_ms = 300, .tls = &(wr_tls_config){ .insecure = true } };
	uint64_t t0 = wr_now_ns();
	cr_expect_null(wr_client_connect(url, &o, &err));
	cr_expect_eq(err.code, -ETIMEDOUT, "%s", wr_strerror(err.code));
	cr_expect_lt((wr_now_ns() - t0) / 1000000u, 2000u);
	cr_expect_eq(live_fd_count(), fds, "no fd leak");
	close(ls);
}

#endif
