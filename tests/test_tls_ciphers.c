/* TLS cipher preference by CPU and wr_tls_info(): the suite lists, what the linked wolfSSL
 * says about itself, the suite a wring server picks whatever the client's order, the suite a
 * wring client asks for first, and WR_TLS_ASM=none turning the assembly off for real (the
 * handshake then runs ChaCha20-Poly1305 in C). Criterion runs each test in a fresh process, so
 * a test may set WR_TLS_ASM before wring first looks at it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "live.h"
#include "tls_ciphers.h"

#define AES13 "TLS13-AES128-GCM-SHA256"
#define CHACHA13 "TLS13-CHACHA20-POLY1305-SHA256"

Test(tls_ciphers, list_leads_with_the_cpus_cipher)
{
	const char *a = wr__tls_cipher_list(true), *c = wr__tls_cipher_list(false);
	cr_expect(!strncmp(a, AES13 ":", strlen(AES13) + 1), "%s", a);
	cr_expect(!strncmp(c, CHACHA13 ":", strlen(CHACHA13) + 1), "%s", c);
	cr_expect_str_eq(wr__tls_cipher13(true), AES13);
	cr_expect_str_eq(wr__tls_cipher13(false), CHACHA13);
	/* Same set either way, AEAD with forward secrecy only; TLS 1.2's first pick matches. */
	const char *all[] = { AES13, CHACHA13, "TLS13-AES256-GCM-SHA384",
	                      "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
	                      "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
	                      "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384" };
	size_t total = 0;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		cr_expect_not_null(strstr(a, all[i]), "%s in %s", all[i], a);
		cr_expect_not_null(strstr(c, all[i]), "%s in %s", all[i], c);
		total += strlen(all[i]) + 1;
	}
	cr_expect_eq(strlen(a) + 1, total, "nothing else in %s", a);
	cr_expect_eq(strlen(c) + 1, total, "nothing else in %s", c);
	cr_expect(strstr(a, "ECDHE-ECDSA-AES128") < strstr(a, "ECDHE-ECDSA-CHACHA20"));
	cr_expect(strstr(c, "ECDHE-ECDSA-CHACHA20") < strstr(c, "ECDHE-ECDSA-AES128"));
}

#if !WR_HAVE_TLS

Test(tls_info, not_built)
{
	wr_tls_lib l = wr_tls_info();
	cr_expect(!l.built && !l.aesni && !l.avx2);
	cr_expect_str_eq(l.build, "none");
}

#else

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* What the CPU offers that the linked wolfSSL was built to use. */
static bool expect_aesni(void)
{
#if defined(WOLFSSL_AESNI) && defined(__x86_64__)
	return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#else
	return false;
#endif
}

static bool expect_avx2(void)
{
#if defined(USE_INTEL_SPEEDUP) && defined(__x86_64__)
	return expect_aesni() && __builtin_cpu_supports("avx2");
#else
	return false;
#endif
}

Test(tls_info, reports_the_linked_library_and_cpu)
{
	unsetenv("WR_TLS_ASM");
	wr_tls_lib l = wr_tls_info();
	cr_assert(l.built);
	cr_expect_str_eq(l.name, "wolfSSL");
	cr_expect_str_eq(l.version, LIBWOLFSSL_VERSION_STRING);
	cr_expect_str_eq(l.build, WR_WOLFSSL_BUILD);
	cr_expect_eq(l.aesni, expect_aesni());
	cr_expect_eq(l.avx2, expect_avx2());
	cr_expect_str_eq(l.cipher13, l.aesni ? AES13 : CHACHA13);
#if defined(WOLFSSL_AESNI)
	/* The local build is the one with assembly; Debian's has none. */
	cr_expect_str_eq(l.build, "local");
#endif
	char line[200];
	int n = wr_tls_describe(line, sizeof(line));
	cr_expect(n > 0 && (size_t)n < sizeof(line));
	cr_expect_not_null(strstr(line, l.version), "%s", line);
	cr_expect_not_null(strstr(line, l.aesni ? "AES-NI on" : "AES-NI off"), "%s", line);
	cr_expect_not_null(strstr(line, l.cipher13), "%s", line);
	char tiny[8];
	cr_expect_eq(wr_tls_describe(tiny, sizeof(tiny)), n, "the length needed, as snprintf");
	cr_expect_eq(strlen(tiny), sizeof(tiny) - 1);
}

Test(tls_info, asm_cap_none)
{
	setenv("WR_TLS_ASM", "none", 1);
	wr_tls_lib l = wr_tls_info();
	cr_expect(!l.aesni && !l.avx2);
	cr_expect_str_eq(l.cipher13, CHACHA13);
}

/* ---- certificates, made once per run (the runner's hooks; workers inherit the env) ---- */

#define LIVE_CERT_ENV "WR_TEST_TLS_CIPHERS_DIR"
#define LIVE_CERT_PREFIX "wring-test-ciphers"
#include "live_cert.h"

static void echo(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static wr_server *server(uint16_t *out_port)
{
	static wr_tls_config tls;
	tls = (wr_tls_config){ .cert_file = live_cert_file(0, "cert.pem"), .key_file = live_cert_file(1, "key.pem") };
	int err = 0;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1, .tls = &tls }, &err);
	cr_assert_not_null(srv, "wr_server_new: %s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = echo }), 0);
	*out_port = live_start(srv);
	return srv;
}

/* The test's own wolfSSL client offering `list` in that order; returns the suite agreed. The
 * name is copied out before the session is freed. */
static void handshake(uint16_t port, WOLFSSL_METHOD *m, const char *list, char *out, size_t cap)
{
	wolfSSL_Init();
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(m);
	cr_assert_not_null(ctx);
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	cr_assert_eq(wolfSSL_CTX_set_cipher_list(ctx, list), WOLFSSL_SUCCESS, "%s", list);
	int fd = live_connect(port);
	WOLFSSL *ssl = wolfSSL_new(ctx);
	wolfSSL_set_fd(ssl, fd);
	int rc = wolfSSL_connect(ssl);
	cr_assert_eq(rc, WOLFSSL_SUCCESS, "handshake: %d", wolfSSL_get_error(ssl, rc));
	const char *name = wolfSSL_get_cipher_name(ssl);
	snprintf(out, cap, "%s", name ? name : "?");
	/* One echo through the agreed cipher, both ways (the WebSocket upgrade and a frame). */
	const char req[] = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
	                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                   "Sec-WebSocket-Version: 13\r\n\r\n";
	cr_assert_eq(wolfSSL_write(ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
	char head[512];
	int got = 0;
	while (got < (int)sizeof(head) - 1) {
		int k = wolfSSL_read(ssl, head + got, 1);
		cr_assert_gt(k, 0, "upgrade answer");
		got += k;
		if (got >= 4 && !memcmp(head + got - 4, "\r\n\r\n", 4))
			break;
	}
	head[got] = 0;
	cr_assert(!strncmp(head, "HTTP/1.1 101", 12), "%s", head);
	const uint8_t frame[] = { 0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2 };
	cr_assert_eq(wolfSSL_write(ssl, frame, sizeof(frame)), (int)sizeof(frame));
	uint8_t back[4];
	got = 0;
	while (got < 4) {
		int k = wolfSSL_read(ssl, back + got, 4 - got);
		cr_assert_gt(k, 0, "echo");
		got += k;
	}
	cr_expect(back[0] == 0x81 && back[1] == 2 && back[2] == 'h' && back[3] == 'i');
	wolfSSL_free(ssl);
	close(fd);
	wolfSSL_CTX_free(ctx);
}

#define ORDER_AES13 AES13 ":" CHACHA13
#define ORDER_CHACHA13 CHACHA13 ":" AES13
#define ORDER_AES12 "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305"
#define ORDER_CHACHA12 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"

/* Whatever order the client offers, the server's CPU decides. */
static void server_decides(void)
{
	wr_tls_lib l = wr_tls_info();
	uint16_t port;
	wr_server *srv = server(&port);
	char got[64];
	handshake(port, wolfTLSv1_3_client_method(), ORDER_AES13, got, sizeof(got));
	cr_expect_str_eq(got, l.cipher13);
	handshake(port, wolfTLSv1_3_client_method(), ORDER_CHACHA13, got, sizeof(got));
	cr_expect_str_eq(got, l.cipher13);
	const char *want12 = l.aesni ? "ECDHE-ECDSA-AES128-GCM-SHA256" : "ECDHE-ECDSA-CHACHA20-POLY1305";
	handshake(port, wolfTLSv1_2_client_method(), ORDER_AES12, got, sizeof(got));
	cr_expect_str_eq(got, want12);
	handshake(port, wolfTLSv1_2_client_method(), ORDER_CHACHA12, got, sizeof(got));
	cr_expect_str_eq(got, want12);
	wr_server_free(srv);
}

Test(tls_ciphers, server_picks_by_its_cpu)
{
	unsetenv("WR_TLS_ASM");
	cr_expect_eq(wr_tls_info().aesni, expect_aesni());
	server_decides();
}

Test(tls_ciphers, server_without_assembly_picks_chacha)
{
	setenv("WR_TLS_ASM", "none", 1);
	cr_assert(!wr_tls_info().aesni);
	server_decides(); /* ChaCha20-Poly1305 in C, both TLS versions, an echo through each */
}

/* ---- a wring client's first offer: a wolfSSL server that follows the client's order ---- */

typedef struct peer {
	int lfd;
	WOLFSSL_CTX *ctx;
	char cipher[64];
} peer;

static void *peer_accept(void *arg)
{
	peer *p = arg;
	int fd = accept(p->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	WOLFSSL *ssl = wolfSSL_new(p->ctx);
	wolfSSL_set_fd(ssl, fd);
	if (wolfSSL_accept(ssl) == WOLFSSL_SUCCESS) {
		const char *n = wolfSSL_get_cipher_name(ssl);
		snprintf(p->cipher, sizeof(p->cipher), "%s", n ? n : "?");
	}
	wolfSSL_free(ssl); /* no HTTP answer: the client's upgrade then fails, as expected */
	close(fd);
	return NULL;
}

static void client_offers(const char *want)
{
	wolfSSL_Init();
	peer p = { .ctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method()) };
	cr_assert_not_null(p.ctx);
	cr_assert_eq(wolfSSL_CTX_use_certificate_file(p.ctx, live_cert_file(0, "cert.pem"), WOLFSSL_FILETYPE_PEM), WOLFSSL_SUCCESS);
	cr_assert_eq(wolfSSL_CTX_use_PrivateKey_file(p.ctx, live_cert_file(1, "key.pem"), WOLFSSL_FILETYPE_PEM), WOLFSSL_SUCCESS);
	cr_assert_eq(wolfSSL_CTX_UseClientSuites(p.ctx), 0);
	p.lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	cr_assert_eq(bind(p.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(p.lfd, 4), 0);
	cr_assert_eq(getsockname(p.lfd, (struct sockaddr *)&a, &al), 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, peer_accept, &p), 0);
	char url[64];
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u/ws", ntohs(a.sin_port));
	wr_tls_config tls = { .insecure = true };
	wr_client_options o = { .tls = &tls, .handshake_timeout_ms = 5000 };
	wr_client_err err = { 0 };
	wr_client *c = wr_client_connect(url, &o, &err);
	cr_expect_null(c, "no upgrade answer was sent");
	wr_client_free(c);
	pthread_join(th, NULL);
	close(p.lfd);
	wolfSSL_CTX_free(p.ctx);
	cr_expect_str_eq(p.cipher, want);
}

Test(tls_ciphers, client_offers_its_cpus_cipher_first)
{
	unsetenv("WR_TLS_ASM");
	client_offers(wr_tls_info().cipher13);
}

Test(tls_ciphers, client_without_assembly_offers_chacha_first)
{
	setenv("WR_TLS_ASM", "none", 1);
	client_offers(CHACHA13);
}

#endif
