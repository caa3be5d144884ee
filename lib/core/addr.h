/* Address resolution, one policy for everything that connects or listens: getaddrinfo with
 * AI_ADDRCONFIG (no IPv6 answers on a host without IPv6), retried without it when that hides
 * every answer (loopback on a host with no other route); numeric hosts never touch the
 * resolver. A client tries the answers in order until one connects.
 *
 * getaddrinfo blocks on DNS: a reactor thread must never call wr__addr_resolve with a name.
 * wr__addr_resolve_async runs it on a helper thread and posts the answer back. */
#ifndef WR_LIB_ADDR_H
#define WR_LIB_ADDR_H

#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct wr_reactor wr_reactor;

/* host NULL: any address (passive). 0 with *out (freeaddrinfo it) or -errno
 * (-EHOSTUNREACH: the name does not resolve). Blocks on DNS for a name. */
int wr__addr_resolve(const char *host, uint16_t port, bool passive, struct addrinfo **out);
/* Resolve a numeric host without blocking: 0, -EAGAIN when host is a name, or -errno. */
int wr__addr_resolve_numeric(const char *host, uint16_t port, struct addrinfo **out);

/* Resolve host on a helper thread and call done(res, ai, user) on r's thread (ai: freeaddrinfo
 * it; NULL when res < 0). Returns 0, or -errno (done is then never called). The helper
 * thread belongs to r's resolver (wr__resolver_*), created on first use. */
typedef struct wr_resolver wr_resolver;
typedef void (*wr_resolve_done)(int res, struct addrinfo *ai, void *user);
int wr__resolver_new(wr_reactor *r, wr_resolver **out);
int wr__resolver_start(wr_resolver *rs, const char *host, uint16_t port, wr_resolve_done done,
                       void *user);
/* Stop the thread; answers not delivered yet are dropped (their done is never called).
 * Run on r's thread, after which the caller drains r's posts. Accepts NULL. */
void wr__resolver_free(wr_resolver *rs);

#endif
