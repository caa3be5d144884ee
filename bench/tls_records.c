/* What one TLS record pair and one idle session cost inside wolfSSL, without sockets or a
 * reactor: a client and a server session joined by two in-memory pipes, driven the way
 * lib/tls.c drives them (the server reads until wolfSSL has nothing left, then answers with one
 * write). Valgrind cannot follow wring's io_uring loop, so this is where callgrind counts
 * instructions:
 *
 *   valgrind --tool=callgrind --toggle-collect=server_turn build/bench/tls_records N SIZE
 *
 * gives the server's instructions for N record pairs (divide by N). Without valgrind it prints
 * ns per record pair for each side, and the heap wolfSSL holds for one established server
 * session (counted through wolfSSL_SetAllocators: the bytes, not what the allocator rounds to).
 *
 *   tls_records [pairs [size [cert.pem key.pem]]]   (default 200000 16; an EC key pair is
 *                                                   made with openssl when none is given)
 * WR_TLS_READS=until-empty (default) | until-want-read: the server's read loop, as wring's is
 * now or as it was (one more wolfSSL_read per turn, answered WANT_READ). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* ---- heap accounting: what wolfSSL holds, by its own requests ---- */

static long live_bytes, peak_bytes, allocs;

static void *count_malloc(size_t n)
{
	size_t *p = malloc(n + 16);
	if (!p)
		return NULL;
	*p = n;
	live_bytes += (long)n;
	allocs++;
	if (live_bytes > peak_bytes)
		peak_bytes = live_bytes;
	return (char *)p + 16;
}

static void count_free(void *q)
{
	if (!q)
		return;
	size_t *p = (size_t *)((char *)q - 16);
	live_bytes -= (long)*p;
	free(p);
}

static void *count_realloc(void *q, size_t n)
{
	if (!q)
		return count_malloc(n);
	size_t *p = (size_t *)((char *)q - 16);
	size_t old = *p;
	size_t *r = realloc(p, n + 16);
	if (!r)
		return NULL;
	*r = n;
	live_bytes += (long)n - (long)old;
	allocs++;
	if (live_bytes > peak_bytes)
		peak_bytes = live_bytes;
	return (char *)r + 16;
}

/* ---- two pipes ---- */

typedef struct pipe_buf {
	uint8_t data[1 << 18];
	size_t head, tail;
} pipe_buf;

static pipe_buf to_server, to_client;

typedef struct end {
	pipe_buf *in, *out;
} end;

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	end *e = ctx;
	size_t have = e->in->tail - e->in->head;
	if (!have)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t k = (size_t)sz < have ? (size_t)sz : have;
	memcpy(buf, e->in->data + e->in->head, k);
	e->in->head += k;
	if (e->in->head == e->in->tail)
		e->in->head = e->in->tail = 0;
	return (int)k;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	end *e = ctx;
	if (e->out->tail + (size_t)sz > sizeof(e->out->data))
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	memcpy(e->out->data + e->out->tail, buf, (size_t)sz);
	e->out->tail += (size_t)sz;
	return sz;
}

static end server_end = { &to_server, &to_client }, client_end = { &to_client, &to_server };
static uint8_t plain[16384];
static bool until_want_read;

static WOLFSSL *session(WOLFSSL_CTX *ctx, end *e)
{
	WOLFSSL *ssl = wolfSSL_new(ctx);
	if (!ssl) {
		fprintf(stderr, "wolfSSL_new failed\n");
		exit(1);
	}
	wolfSSL_SetIOReadCtx(ssl, e);
	wolfSSL_SetIOWriteCtx(ssl, e);
	return ssl;
}

/* The server's part of one turn, as lib/tls.c does it: read what arrived, echo it. */
__attribute__((noinline)) void server_turn(WOLFSSL *ssl);
__attribute__((noinline)) void server_turn(WOLFSSL *ssl)
{
	size_t got = 0;
	for (;;) {
		int r = wolfSSL_read(ssl, plain + got, (int)(sizeof(plain) - got));
		if (r <= 0) {
			int e = wolfSSL_get_error(ssl, r);
			if (e != WOLFSSL_ERROR_WANT_READ) {
				fprintf(stderr, "server read: %d\n", e);
				exit(1);
			}
			break;
		}
		got += (size_t)r;
		if (!until_want_read && to_server.head == to_server.tail && !wolfSSL_pending(ssl))
			break;
	}
	if (got && wolfSSL_write(ssl, plain, (int)got) != (int)got) {
		fprintf(stderr, "server write failed\n");
		exit(1);
	}
}

__attribute__((noinline)) void client_turn(WOLFSSL *ssl, const uint8_t *msg, size_t n);
__attribute__((noinline)) void client_turn(WOLFSSL *ssl, const uint8_t *msg, size_t n)
{
	static uint8_t back[1 << 17];
	size_t got = 0;
	while (got < n) {
		int r = wolfSSL_read(ssl, back + got, (int)(n - got));
		if (r <= 0) {
			fprintf(stderr, "client read: %d\n", wolfSSL_get_error(ssl, r));
			exit(1);
		}
		got += (size_t)r;
	}
	if (memcmp(back, msg, n) != 0) {
		fprintf(stderr, "echo mismatch\n");
		exit(1);
	}
}

/* Handshake in memory; the handshake's hashes and arrays freed, as lib/tls.c does. */
static int handshake(WOLFSSL *srv, WOLFSSL *cli)
{
	/* Whatever an earlier pair left unread (its session ticket) is not for this one. */
	to_server.head = to_server.tail = to_client.head = to_client.tail = 0;
	bool s_done = false, c_done = false;
	for (int i = 0; i < 100 && !(s_done && c_done); i++) {
		if (!c_done)
			c_done = wolfSSL_connect(cli) == WOLFSSL_SUCCESS;
		if (!s_done)
			s_done = wolfSSL_accept(srv) == WOLFSSL_SUCCESS;
	}
	if (!s_done || !c_done) {
		fprintf(stderr, "handshake failed\n");
		return -1;
	}
	wolfSSL_FreeHandshakeResources(srv);
	wolfSSL_FreeHandshakeResources(cli);
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 200000;
	size_t size = argc > 2 ? (size_t)atol(argv[2]) : 16;
	const char *crt = argc > 4 ? argv[3] : NULL, *key = argc > 4 ? argv[4] : NULL;
	char dir[] = "/tmp/wring-tls-records.XXXXXX", crt_path[64], key_path[64];
	if (!crt) {
		if (!mkdtemp(dir))
			return 1;
		snprintf(crt_path, sizeof(crt_path), "%s/c.pem", dir);
		snprintf(key_path, sizeof(key_path), "%s/k.pem", dir);
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		         "-nodes -days 1 -subj /CN=localhost -keyout %s -out %s >/dev/null 2>&1", key_path, crt_path);
		if (system(cmd) != 0)
			return 1;
		crt = crt_path;
		key = key_path;
	}
	const char *mode = getenv("WR_TLS_READS");
	until_want_read = mode && !strcmp(mode, "until-want-read");
	if (size < 1 || size > sizeof(plain))
		return 2;

	wolfSSL_SetAllocators(count_malloc, count_free, count_realloc);
	wolfSSL_Init();
	WOLFSSL_CTX *sctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	WOLFSSL_CTX *cctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (!sctx || !cctx ||
	    wolfSSL_CTX_use_certificate_chain_file(sctx, crt) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(sctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "context set-up failed\n");
		return 1;
	}
	wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_NONE, NULL);
	const char *ciphers = getenv("WR_TLS_CIPHERS");
	if (ciphers && (wolfSSL_CTX_set_cipher_list(sctx, ciphers) != WOLFSSL_SUCCESS ||
	                wolfSSL_CTX_set_cipher_list(cctx, ciphers) != WOLFSSL_SUCCESS)) {
		fprintf(stderr, "cipher list refused: %s\n", ciphers);
		return 1;
	}
	for (WOLFSSL_CTX *c = sctx; c; c = c == sctx ? cctx : NULL) {
		wolfSSL_CTX_SetIORecv(c, io_recv);
		wolfSSL_CTX_SetIOSend(c, io_send);
	}
	/* A first few pairs of sessions fill what wolfSSL creates once per process or thread
	 * (the ECC fixed-point cache, the ticket key, the session cache): not per-connection. */
	uint8_t *msg = malloc(size);
	for (size_t i = 0; i < size; i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	WOLFSSL *srv = NULL, *cli = NULL;
	enum { WARM = 40, KEEP = 64 };
	static WOLFSSL *kept[KEEP];
	long base = 0;
	for (int i = 0; i < WARM + KEEP; i++) {
		if (i == WARM)
			base = live_bytes;
		srv = session(sctx, &server_end);
		cli = session(cctx, &client_end);
		if (handshake(srv, cli) < 0)
			return 1;
		/* One pair: the session ticket arrives with the client's first read. */
		wolfSSL_write(cli, msg, (int)size);
		server_turn(srv);
		client_turn(cli, msg, size);
		wolfSSL_free(cli);
		if (i < WARM)
			wolfSSL_free(srv);
		else
			kept[i - WARM] = srv;
	}
	/* Established, idle server sessions: what each one holds. */
	long srv_heap = (live_bytes - base) / KEEP;
	for (int i = 0; i < KEEP; i++)
		wolfSSL_free(kept[i]);
	cli = session(cctx, &client_end);
	srv = session(sctx, &server_end);
	if (handshake(srv, cli) < 0)
		return 1;
	double t_srv = 0, t_cli = 0;
	long allocs0 = allocs;
	for (long i = 0; i < pairs; i++) {
		double t0 = now_ns();
		if (wolfSSL_write(cli, msg, (int)size) != (int)size) {
			fprintf(stderr, "client write failed\n");
			return 1;
		}
		double t1 = now_ns();
		server_turn(srv);
		double t2 = now_ns();
		client_turn(cli, msg, size);
		double t3 = now_ns();
		t_srv += t2 - t1;
		t_cli += (t1 - t0) + (t3 - t2);
	}
	printf("wolfSSL %s, %s, %zu B records, %ld pairs, server reads %s\n", wolfSSL_lib_version(),
	       wolfSSL_get_cipher_name(srv), size, pairs, until_want_read ? "until WANT_READ" : "until empty");
	printf("  server   %8.0f ns per record pair (read one, write one)\n", t_srv / pairs);
	printf("  client   %8.0f ns per record pair\n", t_cli / pairs);
	printf("  heap     %.2f allocations per record pair (both sides)\n", (double)(allocs - allocs0) / pairs);
	printf("  session  %ld B of wolfSSL heap per established, idle server session (mean of %d)\n",
	       srv_heap, KEEP);
	free(msg);
	wolfSSL_free(cli);
	wolfSSL_free(srv);
	wolfSSL_CTX_free(sctx);
	wolfSSL_CTX_free(cctx);
	wolfSSL_Cleanup();
	if (crt == crt_path) {
		unlink(crt_path);
		unlink(key_path);
		rmdir(dir);
	}
	return 0;
}
