/* wring: ws:// and wss:// URLs (RFC 6455 §3) — the parser and name resolution the clients use,
 * public so that a program (ws-bench, a proxy, a test) splits and resolves a URL exactly as
 * wr_client_connect and wr_loop_connect will, resolves once, and passes the address on
 * (wr_client_options.addr). */
#ifndef WRING_URL_H
#define WRING_URL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sockaddr_storage; /* <sys/socket.h> */

typedef struct wr_url {
	bool tls;          /* wss */
	bool ipv6;         /* host was a bracketed literal; host excludes the brackets */
	wr_str host;
	uint16_t port;     /* explicit, else 80 / 443 */
	bool port_explicit;
	wr_str resource;   /* path and query, "/" when the URL has none */
} wr_url;

/* Split url into scheme, host, port and resource. url is borrowed: *out_url's views point into
 * it and are valid as long as url is. Returns 0, or -EINVAL for: another scheme, an empty or
 * malformed host, a bad port (0, > 65535, non-digits), a fragment, userinfo, whitespace or
 * control characters, over 8 KiB. *out_url is untouched on failure. */
WR_API int wr_url_parse(const char *url, wr_url *out_url);

/* Resolve u's host (a name, or a numeric IPv4/IPv6 address without a lookup) and port to the
 * address the clients connect to: the first one getaddrinfo(3) gives. u is borrowed until
 * return. Returns 0, -EINVAL (host over 255 bytes), -EHOSTUNREACH (name not resolved),
 * -ENOMEM or -errno; *out_addr and *out_len untouched on failure. */
WR_API int wr_url_resolve(const wr_url *u, struct sockaddr_storage *out_addr,
                          unsigned *out_len);

#ifdef __cplusplus
}
#endif
#endif
