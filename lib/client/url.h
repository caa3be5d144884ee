/* ws:// and wss:// URLs (RFC 6455 §3): views into the caller's string. */
#ifndef WR_LIB_URL_H
#define WR_LIB_URL_H

#include <stdbool.h>
#include <stdint.h>
#include "wring/common.h"

typedef struct wr_url {
	bool tls;          /* wss */
	bool ipv6;         /* host was a bracketed literal; host excludes the brackets */
	wr_str host;
	uint16_t port;     /* explicit, else 80 / 443 */
	bool port_explicit;
	wr_str resource;   /* path and query, "/" when the URL has none */
} wr_url;

/* Returns 0, or -EINVAL for: another scheme, empty or malformed host, bad port (0, > 65535,
 * non-digits), a fragment, userinfo, whitespace or control characters, over 8 KiB. */
int wr__url_parse(const char *url, wr_url *out);
/* The host as a C string (brackets of an IPv6 literal left out), for the resolver, SNI and
 * the certificate check: 0, or -EINVAL when it does not fit. */
int wr__url_host(const wr_url *u, char out[256]);

#endif
