/* ws:// and wss:// URLs (RFC 6455 §3): views into the caller's string. */
#ifndef WR_LIB_URL_H
#define WR_LIB_URL_H

#include <stdbool.h>
#include <stdint.h>
#include "wring/url.h"

/* wr_url is public (include/wring/url.h): wr_url_parse wraps the parser below. */

/* Returns 0, or -EINVAL for: another scheme, empty or malformed host, bad port (0, > 65535,
 * non-digits), a fragment, userinfo, whitespace or control characters, over 8 KiB. */
int wr__url_parse(const char *url, wr_url *out);
/* The host as a C string (brackets of an IPv6 literal left out), for the resolver, SNI and
 * the certificate check: 0, or -EINVAL when it does not fit. */
int wr__url_host(const wr_url *u, char out[256]);

struct sockaddr;
/* Bind socket fd to a client's source address before connect (url_public.c), the port left
 * to connect time (IP_BIND_ADDRESS_NO_PORT). Returns 0 or -errno. */
int wr__bind_source(int fd, const struct sockaddr *addr, unsigned len);

#endif
