/* Client-side TLS resumption: one remembered session per client context and host, offered
 * to the next connection to that host. A context belongs to one loop (one thread): no lock. */
#ifndef WR_LIB_TLS_RESUME_H
#define WR_LIB_TLS_RESUME_H

#include "wr_config.h"

#if WR_HAVE_TLS
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

struct wr_tls_resume;

/* A store with nothing in it, or NULL without memory. */
struct wr_tls_resume *wr__tls_resume_new(void);
/* Frees the store and the session it holds. Accepts NULL. */
void wr__tls_resume_free(struct wr_tls_resume *r);
/* A new client session to host (borrowed until return): ask for tickets, and offer the
 * session remembered for host if there is one. */
void wr__tls_resume_offer(struct wr_tls_resume *r, WOLFSSL *ssl, const char *host);
/* An established session is being freed: remember it for host, replacing the last one. */
void wr__tls_resume_keep(struct wr_tls_resume *r, WOLFSSL *ssl, const char *host);
#endif

#endif
