/* TLS through wolfSSL, as a transport (conn.h).
 *
 * wolfSSL never touches the socket. Ciphertext the ring received is lent to wolfSSL for the
 * duration of on_bytes through the receive callback (which answers WANT_READ once it is used
 * up); ciphertext wolfSSL produces goes straight into the connection's raw send queue through
 * the send callback. Plaintext written by the protocol is gathered per connection and
 * encrypted once per loop turn in the transport's flush, so small frames share records. The
 * only process-wide state is wolfSSL's own, initialised once. */
#include <errno.h>

#include "buf.h"
#include "clock.h"
#include "reactor.h"
#include "tls.h"

#if !WR_HAVE_TLS

int wr__tls_ctx_new(const wr_tls_config *cfg, bool server, const wr_tls_opts *opts,
                    struct wr_tls_ctx **out) { return -ENOTSUP; }
void wr__tls_ctx_free(struct wr_tls_ctx *ctx) {}
static int no_start(wr_conn *c, void *ctx, const char *peer_name) { return -ENOTSUP; }
const wr_transport wr__tls_transport = { .name = "tls", .start = no_start };
void wr__tls_thread_done(void) {}
int wr__tls_sock_new(const wr_tls_config *cfg, const wr_tls_opts *opts, int fd, const char *sni,
                     unsigned timeout_ms, struct wr_tls_sock **out) { return -ENOTSUP; }
ssize_t wr__tls_sock_read(struct wr_tls_sock *s, void *p, size_t n) { return -ENOTSUP; }
ssize_t wr__tls_sock_write(struct wr_tls_sock *s, const void *p, size_t n) { return -ENOTSUP; }
void wr__tls_sock_free(struct wr_tls_sock *s) {}

#else

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
	char *alpn;             /* as told by the layer above; NULL: none */
	char *plain_reply;
	size_t plain_reply_len;
	struct wr_tls_resume *resume; /* client with wr_tls_config.resume: the last session */
};

/* A connection's TLS state (from the reactor's pool). */
typedef struct tls_conn {
	WOLFSSL *ssl;
	struct wr_tls_ctx *ctx;
	const uint8_t *in;      /* ciphertext lent by on_bytes */
	size_t in_len;
	wr_buf plain;           /* plaintext waiting for this turn's encryption */
	bool server;
	bool established;
	bool failed;            /* handshake or record error: input is ignored from now on */
	bool shutdown_wanted;   /* close_notify after the pending plaintext */
	bool shutdown_sent;
	bool seen_input;
	struct wr_tls_resume *resume; /* the context's, when it keeps sessions */
	char *host;             /* what the session is kept under (with resume) */
} tls_conn;

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
	tls_conn *t = c->ts;
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
	if (wr__conn_raw_write(c, buf, (size_t)sz) < 0)
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

static int copy_opts(struct wr_tls_ctx *t, const wr_tls_opts *o)
{
	if (!o)
		return 0;
	if (o->alpn && !(t->alpn = strdup(o->alpn)))
		return -ENOMEM;
	if (o->plain_reply && o->plain_reply_len) {
		t->plain_reply = malloc(o->plain_reply_len);
		if (!t->plain_reply)
			return -ENOMEM;
		memcpy(t->plain_reply, o->plain_reply, o->plain_reply_len);
		t->plain_reply_len = o->plain_reply_len;
	}
	return 0;
}

int wr__tls_ctx_new(const wr_tls_config *cfg, bool server, const wr_tls_opts *opts,
                    struct wr_tls_ctx **out)
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
	rc = copy_opts(t, opts);
	if (rc < 0)
		goto err_ctx;
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
	free(t->alpn);
	free(t->plain_reply);
	free(t);
	return rc;
}

void wr__tls_ctx_free(struct wr_tls_ctx *ctx)
{
	if (!ctx)
		return;
	wr__tls_resume_free(ctx->resume);
	wolfSSL_CTX_free(ctx->ctx);
	free(ctx->alpn);
	free(ctx->plain_reply);
	free(ctx);
}

/* ---- connections ---- */

/* Both the reactor's and the blocking client's sessions: I/O context and the ALPN list the
 * context was told. */
static void set_io_ctx(WOLFSSL *ssl, void *io, const struct wr_tls_ctx *ctx)
{
	wolfSSL_SetIOReadCtx(ssl, io);
	wolfSSL_SetIOWriteCtx(ssl, io);
#ifdef HAVE_ALPN
	if (ctx->alpn) {
		/* wolfSSL_UseALPN takes a mutable list: give it a copy. */
		char list[256];
		size_t n = strlen(ctx->alpn);
		if (n < sizeof(list)) {
			memcpy(list, ctx->alpn, n + 1);
			wolfSSL_UseALPN(ssl, list, (unsigned)n, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
		}
	}
#endif
}

static int ssl_new(wr_conn *c)
{
	tls_conn *t = c->ts;
	t->ssl = wolfSSL_new(t->ctx->ctx);
	if (!t->ssl)
		return -ENOMEM;
	set_io_ctx(t->ssl, c, t->ctx);
	return 0;
}

/* Client: the name to send (SNI) and to find in the certificate (name or address). */
static int set_peer_name(WOLFSSL *ssl, const char *sni)
{
	if (!sni || !*sni)
		return 0;
	unsigned char ip[16];
	bool v4 = inet_pton(AF_INET, sni, ip) == 1;
	if (v4 || inet_pton(AF_INET6, sni, ip) == 1) {
		/* RFC 6066: no SNI for an address; the certificate must name the address. */
#if defined(OPENSSL_ALL) || defined(WOLFSSL_IP_ALT_NAME)
		/* wolfSSL's name check compares the certificate's iPAddress entries as it writes
		 * them out (asn.c): a dotted quad, or eight groups of four hexadecimal digits. The
		 * address is written the same way; the compatibility layer's X509_VERIFY_PARAM
		 * writes "::1" for ::1 and never matched an IPv6 entry, and the local build has no
		 * compatibility layer (it costs every session a peer X.509, tests/build-wolfssl). */
		char text[40];
		if (v4) {
			snprintf(text, sizeof(text), "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
		} else {
			for (int i = 0; i < 8; i++)
				snprintf(text + 5 * i, sizeof(text) - 5 * (size_t)i, "%02X%02X%s",
				         ip[2 * i], ip[2 * i + 1], i < 7 ? ":" : "");
		}
		return wolfSSL_check_domain_name(ssl, text) == WOLFSSL_SUCCESS ? 0 : -ENOMEM;
#else
		return -ENOTSUP; /* this wolfSSL cannot check an address: refuse, never skip it */
#endif
	}
	if (wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, sni, (unsigned short)strlen(sni)) != WOLFSSL_SUCCESS ||
	    wolfSSL_check_domain_name(ssl, sni) != WOLFSSL_SUCCESS)
		return -ENOMEM;
	return 0;
}

static int tls_start(wr_conn *c, void *ctx, const char *peer_name)
{
	struct wr_tls_ctx *x = ctx;
	tls_conn *t = wr__conn_state_new(c, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ctx = x;
	t->server = x->server;
	c->ts = t;
	/* A server's WOLFSSL (several KiB) waits for the first bytes: a silent connection costs
	 * only this small record until the handshake timer closes it. */
	if (t->server)
		return 0;
	int rc = ssl_new(c);
	if (rc == 0)
		rc = set_peer_name(t->ssl, peer_name);
	if (rc < 0)
		return rc; /* the state is freed with the connection */
	if (x->resume) {
		if (!(t->host = strdup(peer_name ? peer_name : "")))
			return -ENOMEM;
		t->resume = x->resume;
		wr__tls_resume_offer(t->resume, t->ssl, t->host);
	}
	/* Sends the ClientHello through io_send; the answer arrives through on_bytes. */
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

/* The peer broke TLS (or failed our checks): the protocol hears it as a dropped connection
 * with the cause, a queued alert still goes out, whatever else arrives is ignored. */
static void fail(wr_conn *c, int e)
{
	tls_conn *t = c->ts;
	t->failed = true;
	if (!t->established && c->r->stats)
		WR_STAT_ADD(c->r->stats->refused[WR_STATS_REFUSED_TLS], 1);
	bool cert = is_cert_error(e);
	const char *why = wolfSSL_ERR_reason_error_string((unsigned long)e);
	wr__log("tls: connection %u: %s (%d)", wr__conn_idx(c), why ? why : "?", e);
	wr__conn_fail(c, cert ? -EKEYREJECTED : -EPROTO,
	              cert ? "TLS certificate rejected" : "TLS error");
}

/* Plaintext on the TLS port: the answer we were told to give instead of a bare reset. */
static void answer_plain(wr_conn *c)
{
	tls_conn *t = c->ts;
	t->failed = true;
	if (c->r->stats)
		WR_STAT_ADD(c->r->stats->refused[WR_STATS_REFUSED_TLS], 1);
	if (t->ctx->plain_reply)
		wr__conn_raw_write(c, t->ctx->plain_reply, t->ctx->plain_reply_len);
	wr__conn_fail(c, -EPROTO, "plaintext on the TLS port");
}

/* close_notify: as end of stream, except that a response already queued still goes out. */
static void peer_closed(wr_conn *c)
{
	wr__conn_fail(c, 0, "connection closed");
}

static void tls_on_bytes(wr_conn *c, uint8_t *p, size_t n)
{
	tls_conn *t = c->ts;
	if (t->failed)
		return;
	if (t->server && !t->seen_input && n && p[0] >= 'A' && p[0] <= 'Z') {
		answer_plain(c); /* a TLS record starts with 0x14..0x17 */
		return;
	}
	t->seen_input = true;
	if (!t->ssl && ssl_new(c) < 0) {
		t->failed = true;
		wr__conn_abort(c, -ENOMEM, "out of memory");
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
		if (c->r->stats) {
			if (wolfSSL_session_reused(t->ssl))
				WR_STAT_ADD(c->r->stats->counter[WR_TLS_COUNT_RESUMED], 1);
			else
				WR_STAT_ADD(c->r->stats->counter[WR_TLS_COUNT_FULL], 1);
		}
		/* Handshake hashes and arrays are dead weight on a long-lived connection. */
		wolfSSL_FreeHandshakeResources(t->ssl);
		wr__log("tls: connection %u: %s established", wr__conn_idx(c), wolfSSL_get_version(t->ssl));
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
			if (!wr__conn_is_open(c))
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

static uint8_t *tls_reserve(wr_conn *c, size_t min, size_t max, size_t *out_n)
{
	tls_conn *t = c->ts;
	if (max > UINT32_MAX - c->out_bytes || wr__buf_reserve(&t->plain, max) < 0)
		return NULL;
	uint8_t *d = t->plain.data + t->plain.len;
	t->plain.len += max;
	/* Counted as queued output, so backpressure sees it before it is encrypted. */
	wr__conn_out_add(c, (int64_t)max);
	*out_n = max;
	wr__conn_flush_queue(c);
	return d;
}

static int tls_write(wr_conn *c, const void *p, size_t n)
{
	size_t got;
	uint8_t *d = tls_reserve(c, n, n, &got);
	if (!d)
		return -ENOMEM;
	memcpy(d, p, n);
	return 0;
}

static void tls_flush(wr_conn *c)
{
	tls_conn *t = c->ts;
	if (!t->established || t->failed)
		return;
	if (t->plain.len) {
		size_t n = t->plain.len, off = 0;
		wr__conn_out_add(c, -(int64_t)n); /* the ciphertext is counted by the raw queue instead */
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
			wr__log("tls: connection %u: write failed (%d)", wr__conn_idx(c), e);
			wr__conn_abort(c, -EPROTO, "TLS error");
			return;
		}
	}
	if (t->shutdown_wanted && !t->shutdown_sent) {
		t->shutdown_sent = true;
		wolfSSL_shutdown(t->ssl); /* close_notify, then the lingering close */
	}
}

static void tls_shutdown(wr_conn *c)
{
	tls_conn *t = c->ts;
	t->shutdown_wanted = true;
}

static bool tls_resumed(const wr_conn *c)
{
	const tls_conn *t = c->ts;
	return t && t->ssl && t->established && wolfSSL_session_reused(t->ssl);
}

static void tls_free(wr_conn *c)
{
	tls_conn *t = c->ts;
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
	wr__conn_state_free(c, t, sizeof(*t));
	c->ts = NULL;
}

const wr_transport wr__tls_transport = {
	.name = "tls",
	.start = tls_start,
	.on_bytes = tls_on_bytes,
	.reserve = tls_reserve,
	.write = tls_write,
	.flush = tls_flush,
	.shutdown = tls_shutdown,
	.free = tls_free,
	.rewrites = true,
	.resumed = tls_resumed,
};

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

int wr__tls_sock_new(const wr_tls_config *cfg, const wr_tls_opts *opts, int fd, const char *sni,
                     unsigned timeout_ms, struct wr_tls_sock **out)
{
	int rc;
	struct wr_tls_sock *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	rc = wr__tls_ctx_new(cfg, false, opts, &s->ctx);
	if (rc < 0)
		goto err;
	s->ssl = wolfSSL_new(s->ctx->ctx);
	if (!s->ssl) {
		rc = -ENOMEM;
		goto err;
	}
	wolfSSL_SSLSetIORecv(s->ssl, sock_recv);
	wolfSSL_SSLSetIOSend(s->ssl, sock_send);
	set_io_ctx(s->ssl, s, s->ctx);
	rc = set_peer_name(s->ssl, sni);
	if (rc < 0)
		goto err;
	uint64_t deadline = wr__now_ms() + (timeout_ms ? timeout_ms : 10000);
	for (;;) {
		int r = wolfSSL_connect(s->ssl);
		if (r == WOLFSSL_SUCCESS)
			break;
		int e = wolfSSL_get_error(s->ssl, r);
		if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) {
			rc = is_cert_error(e) ? -EKEYREJECTED : -EPROTO;
			goto err;
		}
		uint64_t now = wr__now_ms();
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
