/* TLS through wolfSSL. Until the TLS layer lands, a TLS configuration gives -ENOTSUP. */
#include <errno.h>

#include "reactor.h"
#include "tls.h"

int wr__tls_ctx_new(const wr_tls_config *cfg, bool server, struct wr_tls_ctx **out) { return -ENOTSUP; }
void wr__tls_ctx_free(struct wr_tls_ctx *ctx) {}
int wr__tls_accept(struct wr_conn *c) { return -ENOTSUP; }
int wr__tls_connect(struct wr_conn *c, struct wr_tls_ctx *ctx, const char *sni) { return -ENOTSUP; }
void wr__tls_on_data(struct wr_conn *c, const uint8_t *p, size_t n) {}
int wr__tls_write(struct wr_conn *c, const uint8_t *p, size_t n) { return -ENOTSUP; }
void wr__tls_flush(struct wr_conn *c) {}
void wr__tls_conn_free(struct wr_conn *c) {}
