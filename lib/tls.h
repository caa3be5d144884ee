/* TLS behind a small table of operations (wolfSSL with in-memory I/O callbacks): ciphertext in
 * from the receive ring, ciphertext out into the connection's send queue. Without the tls
 * feature these return -ENOTSUP. */
#ifndef WR_LIB_TLS_H
#define WR_LIB_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "wring/common.h"
#include "wr_config.h"

#define WR_TLS_BUILT WR_HAVE_TLS

struct wr_conn;
struct wr_tls_ctx;

int wr__tls_ctx_new(const wr_tls_config *cfg, bool server, struct wr_tls_ctx **out);
void wr__tls_ctx_free(struct wr_tls_ctx *ctx);
/* Server side: start a handshake on an accepted connection. */
int wr__tls_accept(struct wr_conn *c);
/* Client side: start a handshake (sni: host name to send and verify, may be NULL). */
int wr__tls_connect(struct wr_conn *c, struct wr_tls_ctx *ctx, const char *sni);
/* Ciphertext arrived: decrypt and deliver plaintext with wr__conn_deliver. */
void wr__tls_on_data(struct wr_conn *c, const uint8_t *p, size_t n);
/* Queue a copy of plaintext p; it is encrypted at this turn's flush. 0 or -ENOMEM/-ENOTSUP. */
int wr__tls_write(struct wr_conn *c, const uint8_t *p, size_t n);
/* Reserve n bytes of plaintext to fill now (NULL on -ENOMEM); same turn-end encryption. */
uint8_t *wr__tls_reserve(struct wr_conn *c, size_t n);
/* Encrypt buffered plaintext into the send queue (once per turn). */
void wr__tls_flush(struct wr_conn *c);
/* A thread that ran handshakes is done: release wolfSSL's per-thread caches (the ECC
 * fixed-point cache of this build). Safe without TLS and on threads that did none. */
void wr__tls_thread_done(void);
/* Free the connection's TLS state (accepts a connection without any). */
void wr__tls_conn_free(struct wr_conn *c);

/* The blocking client: one TLS session over its non-blocking socket, no reactor. The
 * handshake (certificate and host checks as wr__tls_ctx_new's client side) runs here,
 * waiting with poll(2) up to timeout_ms: 0, -ETIMEDOUT, -EKEYREJECTED, -EPROTO, -errno.
 * cfg and sni are borrowed until return. */
struct wr_tls_sock;
int wr__tls_sock_new(const wr_tls_config *cfg, int fd, const char *sni, unsigned timeout_ms,
                     struct wr_tls_sock **out);
/* Bytes moved, 0 at EOF (read), -EAGAIN when the socket must be polled (POLLIN for read,
 * POLLOUT for write; retry with the same arguments), or -errno. */
ssize_t wr__tls_sock_read(struct wr_tls_sock *s, void *p, size_t n);
ssize_t wr__tls_sock_write(struct wr_tls_sock *s, const void *p, size_t n);
/* Send close_notify if the socket takes it, then free (not the fd). Accepts NULL. */
void wr__tls_sock_free(struct wr_tls_sock *s);

#endif
