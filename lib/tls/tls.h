/* TLS as a transport (conn.h): wolfSSL with in-memory I/O callbacks, ciphertext in from the
 * receive ring, ciphertext out into the connection's send queue. TLS knows no protocol above
 * it: whoever creates a context tells it the ALPN protocols to offer or accept and what to
 * answer a peer that speaks plaintext to a TLS port. Without the tls feature the functions
 * return -ENOTSUP. */
#ifndef WR_LIB_TLS_H
#define WR_LIB_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "wring/common.h"
#include "wr_config.h"
#include "conn.h"

#define WR_TLS_BUILT WR_HAVE_TLS

struct wr_tls_ctx;

/* Handshakes by kind, in the reactor's counter slots (core stats.h; the server's metrics
 * export them as wring_tls_handshakes_total). */
enum { WR_TLS_COUNT_FULL = 0, WR_TLS_COUNT_RESUMED = 1 };

/* What the layer above tells TLS. Strings are copied by wr__tls_ctx_new. */
typedef struct wr_tls_opts {
	const char *alpn;        /* protocols, comma-separated ("http/1.1"); NULL: no ALPN */
	const char *plain_reply; /* server: sent to a peer whose first byte is plaintext (an
	                            ASCII capital), then the connection closes; NULL: just close */
	size_t plain_reply_len;
} wr_tls_opts;

/* A context shared (read-only) by every reactor of a server or loop. opts may be NULL. */
int wr__tls_ctx_new(const wr_tls_config *cfg, bool server, const wr_tls_opts *opts,
                    struct wr_tls_ctx **out);
void wr__tls_ctx_free(struct wr_tls_ctx *ctx);

/* The transport: start(c, ctx, peer_name) begins a server session (peer_name NULL; the
 * WOLFSSL object waits for the first bytes) or a client one (peer_name: the name sent as SNI
 * and checked in the certificate; the ClientHello goes out at once). Writes are gathered and
 * encrypted once per loop turn, so small frames share records. */
extern const wr_transport wr__tls_transport;

/* A thread that ran handshakes is done: release wolfSSL's per-thread caches (the ECC
 * fixed-point cache of this build). Safe without TLS and on threads that did none. */
void wr__tls_thread_done(void);

/* The blocking client: one TLS session over its non-blocking socket, no reactor. The
 * handshake (certificate and host checks as wr__tls_ctx_new's client side) runs here,
 * waiting with poll(2) up to timeout_ms: 0, -ETIMEDOUT, -EKEYREJECTED, -EPROTO, -errno.
 * cfg, opts and sni are borrowed until return. */
struct wr_tls_sock;
int wr__tls_sock_new(const wr_tls_config *cfg, const wr_tls_opts *opts, int fd, const char *sni,
                     unsigned timeout_ms, struct wr_tls_sock **out);
/* Bytes moved, 0 at EOF (read), -EAGAIN when the socket must be polled (POLLIN for read,
 * POLLOUT for write; retry with the same arguments), or -errno. */
ssize_t wr__tls_sock_read(struct wr_tls_sock *s, void *p, size_t n);
ssize_t wr__tls_sock_write(struct wr_tls_sock *s, const void *p, size_t n);
/* Send close_notify if the socket takes it, then free (not the fd). Accepts NULL. */
void wr__tls_sock_free(struct wr_tls_sock *s);

#endif
