/* TLS through wolfSSL, behind the small table of operations in tls.h.
 *
 * wolfSSL never touches the socket. Ciphertext the ring received is lent to wolfSSL for the
 * duration of wr__tls_on_data through the receive callback (which answers WANT_READ once it
 * is used up); ciphertext wolfSSL produces goes straight into the connection's send queue
 * through the send callback. Plaintext written by the sessions is gathered per connection and
 * encrypted once per loop turn in wr__tls_flush, so small frames share records. The only
 * process-wide state is wolfSSL's own, initialised once. */
#include <errno.h>

#include "reactor.h"
#include "tls.h"

#if !WR_HAVE_TLS

int wr__tls_ctx_new(const wr_tls_config *cfg, bool server, struct wr_tls_ctx **out) { return -ENOTSUP; }
void wr__tls_ctx_free(struct wr_tls_ctx *ctx) {}
int wr__tls_accept(struct wr_conn *c) { return -ENOTSUP; }
int wr__tls_connect(struct wr_conn *c, struct wr_tls_ctx *ctx, const char *sni) { return -ENOTSUP; }
void wr__tls_on_data(struct wr_conn *c, const uint8_t *p, size_t n) {}
int wr__tls_write(struct wr_conn *c, const uint8_t *p, size_t n) { return -ENOTSUP; }
uint8_t *wr__tls_reserve(struct wr_conn *c, size_t n) { return NULL; }
void wr__tls_flush(struct wr_conn *c) {}
void wr__tls_conn_free(struct wr_conn *c) {}
void wr__tls_thread_done(void) {}
int wr__tls_sock_new(const wr_tls_config *cfg, int fd, const char *sni, unsigned timeout_ms,
                     struct wr_tls_sock **out) { return -ENOTSUP; }
ssize_t wr__tls_sock_read(struct wr_tls_sock *s, void *p, size_t n) { return -ENOTSUP; }
ssize_t wr__tls_sock_write(struct wr_tls_sock *s, const void *p, size_t n) { return -ENOTSUP; }
void wr__tls_sock_free(struct wr_tls_sock *s) {}
bool wr_ws_tls_resumed(const wr_ws *ws) { return false; }

#else

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "log.h"
#include "tls_ciphers.h"
#include "tls_resume.h"
#include "wring/tls.h"

#define PLAIN_SCRATCH 16384u    /* one record's worth of plaintext per delivery */
#define WRITE_CHUNK (1u << 20)

#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

struct wr_tls_ctx {
	WOLFSSL_CTX *ctx;
	bool server;
	struct wr_tls_resume *resume; /* client with wr_tls_config.resume: the last session */
};

struct wr_tls_conn {
	WOLFSSL *ssl;
	const uint8_t *in;      /* ciphertext lent by wr__tls_on_data */
	size_t in_len;
	wr_buf plain;           /* plaintext waiting for this turn's encryption */
	bool server;
	bool established;
	bool failed;            /* handshake or record error: input is ignored from now on */
	bool shutdown_sent;
	bool seen_input;
	bool peer_closed;       /* close_notify received: input is ignored */
	struct wr_tls_resume *resume; /* the context's, when it keeps sessions */
	char *host;             /* what the session is kept under (with resume) */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void global_init(void)
{
	wr_tls_info(); /* CPU features and their cap, settled before wolfSSL first reads them */
	init_rc = wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -ENOMEM;
}

/* ---- I/O callbacks: memory only ---- */

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	wr_conn *c = ctx;
	struct wr_tls_conn *t = c->tls;
	if (!t->in_len)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t k = (size_t)sz < t->in_len ? (size_t)sz : t->in_len;
	memcpy(buf, t->in, k);
	t->in += k;
	t->in_len -= k;
	return (int)k;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	wr_conn *c = ctx;
	if (c->state == WR_CONN_CLOSED)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (wr__conn_write_raw(c, buf, (size_t)sz) < 0)
		return WOLFSSL_CBIO_ERR_GENERAL;
	return sz;
}

/* ---- contexts (shared read-only by every reactor of a server or loop) ---- */

static int readable(const char *path)
{
	return access(path, R_OK) == 0 ? 0 : -errno;
}

static int load_trust(WOLFSSL_CTX *ctx, const char *ca_file)
{
	if (ca_file) {
		int rc = readable(ca_file);
		if (rc < 0)
			return rc;
		return wolfSSL_CTX_load_verify_locations(ctx, ca_file, NULL) == WOLFSSL_SUCCESS ? 0 : -EBADMSG;
	}
#ifdef WOLFSSL_SYS_CA_CERTS
	if (wolfSSL_CTX_load_system_CA_certs(ctx) == WOLFSSL_SUCCESS)
		return 0;
#endif
	if (readable(SYSTEM_CA_FILE) < 0)
		return -ENOENT;
	return wolfSSL_CTX_load_verify_locations(ctx, SYSTEM_CA_FILE, NULL) == WOLFSSL_SUCCESS ? 0 : -EBADMSG;
}

static int load_identity(WOLFSSL_CTX *ctx, const wr_tls_config *cfg)
{
	if (!cfg->cert_file != !cfg->key_file)
		return -EINVAL;
	if (!cfg->cert_file)
		return 0;
	int rc = readable(cfg->cert_file);
	if (rc == 0)
		rc = readable(cfg->key_file);
	if (rc < 0)
		return rc;
	if (wolfSSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS)
		return -EBADMSG;
	return 0;
}

int wr__tls_ctx_new(const wr_tls_config *cfg, bool server, struct wr_tls_ctx **out)
{
	static const wr_tls_config defaults = { 0 };
	if (!cfg)
		cfg = &defaults;
	int minv;
	switch (cfg->min_version) {
	case 0:
	case 12:
		minv = WOLFSSL_TLSV1_2;
		break;
	case 13:
		minv = WOLFSSL_TLSV1_3;
		break;
	default:
		return -EINVAL;
	}
	if (server && !cfg->cert_file)
		return -EINVAL;
	pthread_once(&init_once, global_init);
	if (init_rc < 0)
		return init_rc;
	int rc;
	struct wr_tls_ctx *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->server = server;
	t->ctx = wolfSSL_CTX_new(server ? wolfSSLv23_server_method() : wolfSSLv23_client_method());
	if (!t->ctx) {
		rc = -ENOMEM;
		goto err_ctx;
	}
	if (wolfSSL_CTX_SetMinVersion(t->ctx, minv) != WOLFSSL_SUCCESS) {
		rc = -ENOTSUP;
		goto err_cfg;
	}
	if (wolfSSL_CTX_set_cipher_list(t->ctx, wr__tls_cipher_list(wr_tls_info().aesni)) != WOLFSSL_SUCCESS) {
		rc = -ENOTSUP;
		goto err_cfg;
	}
	wolfSSL_CTX_SetIORecv(t->ctx, io_recv);
	wolfSSL_CTX_SetIOSend(t->ctx, io_send);
	rc = load_identity(t->ctx, cfg);
	if (rc < 0)
		goto err_cfg;
	if (server) {
		if (cfg->verify_peer) {
			rc = load_trust(t->ctx, cfg->ca_file);
			if (rc < 0)
				goto err_cfg;
			wolfSSL_CTX_set_verify(t->ctx, WOLFSSL_VERIFY_PEER |
			                       WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		} else {
			wolfSSL_CTX_set_verify(t->ctx, WOLFSSL_VERIFY_NONE, NULL);
		}
#ifdef HAVE_SESSION_TICKET
		/* Resumption without server-side state: wolfSSL's built-in ticket key. */
		wolfSSL_CTX_UseSessionTicket(t->ctx);
#endif
	} else if (cfg->insecure) {
		wolfSSL_CTX_set_verify(t->ctx, WOLFSSL_VERIFY_NONE, NULL);
	} else {
		rc = load_trust(t->ctx, cfg->ca_file);
		if (rc < 0)
			goto err_cfg;
		wolfSSL_CTX_set_verify(t->ctx, WOLFSSL_VERIFY_PEER, NULL);
	}
	if (!server && cfg->resume && !(t->resume = wr__tls_resume_new())) {
		rc = -ENOMEM;
		goto err_cfg;
	}
	*out = t;
	return 0;

err_cfg:
	wolfSSL_CTX_free(t->ctx);
err_ctx:
	free(t);
	return rc;
}

void wr__tls_ctx_free(struct wr_tls_ctx *ctx)
{
	if (!ctx)
		return;
	wr__tls_resume_free(ctx->resume);
	wolfSSL_CTX_free(ctx->ctx);
	free(ctx);
}

/* ---- connections ---- */

/* Both the reactor's and the blocking client's sessions: I/O context and ALPN http/1.1. */
static void set_io_ctx(WOLFSSL *ssl, void *io)
{
	wolfSSL_SetIOReadCtx(ssl, io);
	wolfSSL_SetIOWriteCtx(ssl, io);
#ifdef HAVE_ALPN
	char alpn[] = "http/1.1";
	wolfSSL_UseALPN(ssl, alpn, sizeof(alpn) - 1, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
#endif
}

static int ssl_new(wr_conn *c, struct wr_tls_ctx *ctx)
{
	struct wr_tls_conn *t = c->tls;
	t->ssl = wolfSSL_new(ctx->ctx);
	if (!t->ssl)
		return -ENOMEM;
	set_io_ctx(t->ssl, c);
	return 0;
}

/* Client: the name to send (SNI) and to find in the certificate (name or address). */
static int set_peer_name(WOLFSSL *ssl, const char *sni)
{
	if (!sni || !*sni)
		return 0;
	unsigned char ip[16];
	if (inet_pton(AF_INET, sni, ip) == 1 || inet_pton(AF_INET6, sni, ip) == 1) {
		/* RFC 6066: no SNI for an address; the certificate must name the address. */
		WOLFSSL_X509_VERIFY_PARAM *vp = wolfSSL_get0_param(ssl);
		if (!vp || wolfSSL_X509_VERIFY_PARAM_set1_ip_asc(vp, sni) != WOLFSSL_SUCCESS)
			return -ENOMEM;
		return 0;
	}
	if (wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, sni, (unsigned short)strlen(sni)) != WOLFSSL_SUCCESS ||
	    wolfSSL_check_domain_name(ssl, sni) != WOLFSSL_SUCCESS)
		return -ENOMEM;
	return 0;
}

static int conn_new(wr_conn *c, bool server)
{
	struct wr_tls_conn *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->server = server;
	c->tls = t;
	return 0;
}

int wr__tls_accept(wr_conn *c)
{
	/* The WOLFSSL (several KiB) waits for the first bytes: a silent connection costs only
	 * this small record until the handshake timer closes it. */
	return conn_new(c, true);
}

int wr__tls_connect(wr_conn *c, struct wr_tls_ctx *ctx, const char *sni)
{
	int rc = conn_new(c, false);
	if (rc == 0)
		rc = ssl_new(c, ctx);
	if (rc < 0)
		return rc; /* c->tls is freed with the connection */
	struct wr_tls_conn *t = c->tls;
	rc = set_peer_name(t->ssl, sni);
	if (rc < 0)
		return rc;
	if (ctx->resume) {
		if (!(t->host = strdup(sni ? sni : "")))
			return -ENOMEM;
		t->resume = ctx->resume;
		wr__tls_resume_offer(t->resume, t->ssl, t->host);
	}
	/* Sends the ClientHello through io_send; the answer arrives through wr__tls_on_data. */
	int r = wolfSSL_connect(t->ssl);
	if (r != WOLFSSL_SUCCESS) {
		int e = wolfSSL_get_error(t->ssl, r);
		if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE)
			return -EPROTO;
	}
	return 0;
}

static bool is_cert_error(int e)
{
	switch (e) {
	case DOMAIN_NAME_MISMATCH:
	case IPADDR_MISMATCH:
	case VERIFY_CERT_ERROR:
	case NO_PEER_CERT:
	case ASN_NO_SIGNER_E:
	case ASN_AFTER_DATE_E:
	case ASN_BEFORE_DATE_E:
	case ASN_SIG_CONFIRM_E:
	case ASN_SELF_SIGNED_E:
	case ASN_PATHLEN_INV_E:
		return true;
	default:
		return false;
	}
}

/* The peer broke TLS (or failed our checks): report it as the session would report a dropped
 * connection, let a queued alert go out, and ignore whatever else arrives. */
static void fail(wr_conn *c, int e)
{
	struct wr_tls_conn *t = c->tls;
	t->failed = true;
	int code = is_cert_error(e) ? -EKEYREJECTED : -EPROTO;
	const char *why = wolfSSL_ERR_reason_error_string((unsigned long)e);
	wr__log("tls: connection %u: %s (%d)", c->idx, why ? why : "?", e);
	if (c->state == WR_CONN_WS || c->state == WR_CONN_CLIENT_HS || c->state == WR_CONN_CONNECTING) {
		if (c->state != WR_CONN_WS)
			c->ws.error = code;
		wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, code == -EKEYREJECTED ?
		               "TLS certificate rejected" : "TLS error");
	}
	c->flags |= WR_CF_RECV_DISCARD;
	if (c->out_head)
		wr__conn_close_soft(c);
	else
		wr__conn_close_hard(c);
}

/* Plain HTTP on the TLS port: a readable answer instead of a bare reset. */
static void answer_plain_http(wr_conn *c)
{
	static const char msg[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
	                          "Content-Length: 35\r\nConnection: close\r\n\r\n"
	                          "This port speaks HTTPS, not HTTP.\r\n";
	c->tls->failed = true;
	c->flags |= WR_CF_RECV_DISCARD;
	wr__conn_write_raw(c, msg, sizeof(msg) - 1);
	wr__conn_close_soft(c);
}

/* close_notify: as EOF, except that a response already queued still goes out. */
static void peer_closed(wr_conn *c)
{
	c->tls->failed = true;
	c->flags |= WR_CF_RECV_DISCARD;
	if (c->state == WR_CONN_WS || c->state == WR_CONN_CLIENT_HS) {
		wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, "connection closed");
		wr__conn_close_hard(c);
	} else if (c->out_bytes) {
		c->tls->failed = false; /* let the flush encrypt what is pending */
		c->tls->peer_closed = true;
		wr__conn_close_soft(c);
	} else {
		wr__conn_close_hard(c);
	}
}

static bool gone(const wr_conn *c)
{
	return c->state == WR_CONN_CLOSED || c->state == WR_CONN_LINGER;
}

void wr__tls_on_data(wr_conn *c, const uint8_t *p, size_t n)
{
	struct wr_tls_conn *t = c->tls;
	if (t->failed || t->peer_closed || gone(c))
		return;
	if (t->server && !t->seen_input && n && p[0] >= 'A' && p[0] <= 'Z') {
		answer_plain_http(c); /* a TLS record starts with 0x14..0x17 */
		return;
	}
	t->seen_input = true;
	if (!t->ssl && ssl_new(c, c->r->sh->tls) < 0) {
		t->failed = true;
		wr__conn_close_hard(c);
		return;
	}
	t->in = p;
	t->in_len = n;
	if (!t->established) {
		int r = t->server ? wolfSSL_accept(t->ssl) : wolfSSL_connect(t->ssl);
		if (r != WOLFSSL_SUCCESS) {
			int e = wolfSSL_get_error(t->ssl, r);
			if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE)
				fail(c, e);
			goto out;
		}
		t->established = true;
		/* Handshake hashes and arrays are dead weight on a long-lived connection. */
		wolfSSL_FreeHandshakeResources(t->ssl);
		wr__log("tls: connection %u: %s established", c->idx, wolfSSL_get_version(t->ssl));
		if (t->plain.len)
			wr__conn_flush_queue(c); /* the client's upgrade request waited for this */
	}
	uint8_t plain[PLAIN_SCRATCH];
	for (;;) {
		size_t got = 0;
		int e = 0;
		while (got < sizeof(plain)) {
			int r = wolfSSL_read(t->ssl, plain + got, (int)(sizeof(plain) - got));
			if (r <= 0) {
				e = wolfSSL_get_error(t->ssl, r);
				if (!e)
					e = WOLFSSL_FATAL_ERROR; /* no progress and no reason: never spin */
				break;
			}
			got += (size_t)r;
			/* wolfSSL takes from io_recv only the record it works on: with the input used up
			 * and nothing decrypted left over, one more read could only answer WANT_READ
			 * (about a quarter of a small record pair's cost, measured in bench/tls_records). */
			if (!t->in_len && !wolfSSL_pending(t->ssl)) {
				e = WOLFSSL_ERROR_WANT_READ;
				break;
			}
		}
		if (got) {
			wr__conn_deliver(c, plain, got);
			if (gone(c))
				break;
		}
		if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
			break;
		if (e == WOLFSSL_ERROR_ZERO_RETURN) {
			peer_closed(c);
			break;
		}
		if (e) {
			fail(c, e);
			break;
		}
	}
out:
	/* The receive buffer goes back to the ring after this call: never keep the pointer. */
	t->in = NULL;
	t->in_len = 0;
}

int wr__tls_write(wr_conn *c, const uint8_t *p, size_t n)
{
	uint8_t *d = wr__tls_reserve(c, n);
	if (!d)
		return -ENOMEM;
	memcpy(d, p, n);
	return 0;
}

uint8_t *wr__tls_reserve(wr_conn *c, size_t n)
{
	struct wr_tls_conn *t = c->tls;
	if (wr__buf_reserve(&t->plain, n) < 0)
		return NULL;
	uint8_t *d = t->plain.data + t->plain.len;
	t->plain.len += n;
	/* Counted as queued output, so backpressure sees it before it is encrypted. */
	c->out_bytes += n;
	wr__conn_flush_queue(c);
	return d;
}

void wr__tls_flush(wr_conn *c)
{
	struct wr_tls_conn *t = c->tls;
	if (!t->established || t->failed || c->state == WR_CONN_CLOSED)
		return;
	if (t->plain.len) {
		size_t n = t->plain.len, off = 0;
		c->out_bytes -= n; /* the ciphertext is counted by wr__conn_write_raw instead */
		t->plain.len = 0;
		/* wolfSSL cuts records at 16 KiB; io_send never blocks, so each call writes all it
		 * is given (in bounded pieces: wolfSSL_write takes an int). */
		int r = 0, k = 0;
		while (off < n) {
			k = n - off < WRITE_CHUNK ? (int)(n - off) : (int)WRITE_CHUNK;
			r = wolfSSL_write(t->ssl, t->plain.data + off, k);
			if (r != k)
				break;
			off += (size_t)k;
		}
		wr__buf_trim(&t->plain, 65536);
		if (off < n) {
			int e = wolfSSL_get_error(t->ssl, r);
			t->failed = true;
			wr__log("tls: connection %u: write failed (%d)", c->idx, e);
			if (c->state == WR_CONN_WS)
				wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, "TLS error");
			wr__conn_close_hard(c);
			return;
		}
	}
	if ((c->flags & WR_CF_CLOSE_AFTER_FLUSH) && !t->shutdown_sent) {
		t->shutdown_sent = true;
		wolfSSL_shutdown(t->ssl); /* close_notify, then the lingering close */
	}
	/* This pass sends what was just queued: no second visit to the flush list. */
	if (c->flags & WR_CF_FLUSH_QUEUED) {
		wr_list_remove(&c->flush_link);
		wr_list_init(&c->flush_link);
		c->flags &= ~WR_CF_FLUSH_QUEUED;
	}
}

void wr__tls_conn_free(wr_conn *c)
{
	struct wr_tls_conn *t = c->tls;
	if (!t)
		return;
	/* A session that ended in close_notify is good for resuming; one that ended in a TLS
	 * error is not (RFC 5246 §7.2.2). */
	if (t->ssl && t->resume && t->established &&
	    (!t->failed || (wolfSSL_get_shutdown(t->ssl) & WOLFSSL_RECEIVED_SHUTDOWN)))
		wr__tls_resume_keep(t->resume, t->ssl, t->host);
	if (t->ssl)
		wolfSSL_free(t->ssl);
	wr__buf_free(&t->plain);
	free(t->host);
	free(t);
	c->tls = NULL;
}

bool wr_ws_tls_resumed(const wr_ws *ws)
{
	const struct wr_tls_conn *t = ((const wr_conn *)ws)->tls;
	return t && t->ssl && t->established && wolfSSL_session_reused(t->ssl);
}

void wr__tls_thread_done(void)
{
#if defined(FP_ECC) && defined(HAVE_ECC)
	/* wolfSSL keeps the fixed-point ECC cache in thread-local storage: only this thread can
	 * free it. */
	if (init_rc == 0 && pthread_once(&init_once, global_init) == 0)
		wc_ecc_fp_free();
#endif
}

/* ---- the blocking client: the session reads and writes its socket through callbacks ---- */

struct wr_tls_sock {
	struct wr_tls_ctx *ctx;
	WOLFSSL *ssl;
	int fd;
};

static int sock_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct wr_tls_sock *s = ctx;
	for (;;) {
		ssize_t k = recv(s->fd, buf, (size_t)sz, 0);
		if (k > 0)
			return (int)k;
		if (k == 0)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return WOLFSSL_CBIO_ERR_WANT_READ;
		return errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST : WOLFSSL_CBIO_ERR_GENERAL;
	}
}

static int sock_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct wr_tls_sock *s = ctx;
	for (;;) {
		ssize_t k = send(s->fd, buf, (size_t)sz, MSG_NOSIGNAL);
		if (k >= 0)
			return (int)k;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return WOLFSSL_CBIO_ERR_WANT_WRITE;
		return errno == EPIPE ? WOLFSSL_CBIO_ERR_CONN_CLOSE
		     : errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST : WOLFSSL_CBIO_ERR_GENERAL;
	}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int wr__tls_sock_new(const wr_tls_config *cfg, int fd, const char *sni, unsigned timeout_ms,
                     struct wr_tls_sock **out)
{
	int rc;
	struct wr_tls_sock *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	rc = wr__tls_ctx_new(cfg, false, &s->ctx);
	if (rc < 0)
		goto err;
	s->ssl = wolfSSL_new(s->ctx->ctx);
	if (!s->ssl) {
		rc = -ENOMEM;
		goto err;
	}
	wolfSSL_SSLSetIORecv(s->ssl, sock_recv);
	wolfSSL_SSLSetIOSend(s->ssl, sock_send);
	set_io_ctx(s->ssl, s);
	rc = set_peer_name(s->ssl, sni);
	if (rc < 0)
		goto err;
	uint64_t deadline = mono_ms() + (timeout_ms ? timeout_ms : 10000);
	for (;;) {
		int r = wolfSSL_connect(s->ssl);
		if (r == WOLFSSL_SUCCESS)
			break;
		int e = wolfSSL_get_error(s->ssl, r);
		if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) {
			rc = is_cert_error(e) ? -EKEYREJECTED : -EPROTO;
			goto err;
		}
		uint64_t now = mono_ms();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			goto err;
		}
		struct pollfd p = { .fd = fd, .events = e == WOLFSSL_ERROR_WANT_READ ? POLLIN : POLLOUT };
		if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR) {
			rc = -errno;
			goto err;
		}
	}
	*out = s;
	return 0;
err:
	if (s->ssl)
		wolfSSL_free(s->ssl);
	wr__tls_ctx_free(s->ctx);
	free(s);
	wr__tls_thread_done();
	return rc;
}

static ssize_t sock_result(struct wr_tls_sock *s, int r)
{
	int e = wolfSSL_get_error(s->ssl, r);
	switch (e) {
	case WOLFSSL_ERROR_WANT_READ:
	case WOLFSSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case WOLFSSL_ERROR_ZERO_RETURN:
	case SOCKET_PEER_CLOSED_E:
		return 0;
	case SOCKET_ERROR_E:
		return -ECONNRESET;
	default:
		return -EPROTO;
	}
}

ssize_t wr__tls_sock_read(struct wr_tls_sock *s, void *p, size_t n)
{
	int r = wolfSSL_read(s->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
	return r > 0 ? r : sock_result(s, r);
}

ssize_t wr__tls_sock_write(struct wr_tls_sock *s, const void *p, size_t n)
{
	int r = wolfSSL_write(s->ssl, p, n > WRITE_CHUNK ? (int)WRITE_CHUNK : (int)n);
	return r > 0 ? r : sock_result(s, r);
}

void wr__tls_sock_free(struct wr_tls_sock *s)
{
	if (!s)
		return;
	wolfSSL_shutdown(s->ssl); /* best effort: the socket may be shut or full */
	wolfSSL_free(s->ssl);
	wr__tls_ctx_free(s->ctx);
	free(s);
	wr__tls_thread_done();
}

#endif
