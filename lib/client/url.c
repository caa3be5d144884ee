/* ws:// and wss:// URLs (RFC 6455 §3, RFC 3986 syntax): scheme, host, optional port, then the
 * resource (path and query) sent in the request line. Views into the caller's string.
 *
 * Deliberately narrow: what a WebSocket client needs and nothing a server could be tricked by.
 * No userinfo (it would end up nowhere, or in a log), no fragment (RFC 6455 forbids it), no
 * bytes that would need escaping in a request line. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "url.h"

#define URL_MAX 8192

static inline bool is_alnum(unsigned char c)
{
	return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9');
}

static inline bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* reg-name: unreserved and percent-escapes. Sub-delims are valid in RFC 3986 but name no DNS
 * host and only help an attacker split a host, so they are refused. */
static bool host_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* path-abempty [ "?" query ]: pchar, '/', '?'; nothing that needs quoting on the wire (no
 * whitespace, CTLs, non-ASCII, '#', or the characters RFC 3986 excludes). */
static bool resource_char(unsigned char c)
{
	return is_alnum(c) || (c != 0 && strchr("-._~!$&'()*+,;=:@/?", c) != NULL);
}

/* Every byte in the class, or part of a well-formed percent-escape. */
static bool chars_ok(const char *p, size_t n, bool (*allowed)(unsigned char))
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (allowed(c))
			continue;
		if (c == '%' && i + 2 < n && is_hex((unsigned char)p[i + 1]) &&
		    is_hex((unsigned char)p[i + 2])) {
			i += 2;
			continue;
		}
		return false;
	}
	return true;
}

static bool host_ok(const char *p, size_t n) { return n > 0 && chars_ok(p, n, host_char); }
static bool resource_ok(const char *p, size_t n) { return chars_ok(p, n, resource_char); }

int wr__url_parse(const char *url, wr_url *out)
{
	wr_url u = {0};

	if (!url || !out)
		return -EINVAL;
	size_t len = strnlen(url, URL_MAX + 1);
	if (len > URL_MAX)
		return -EINVAL;

	const char *p = url, *end = url + len;
	if (len >= 6 && strncasecmp(p, "wss://", 6) == 0) {
		u.tls = true;
		p += 6;
	} else if (len >= 5 && strncasecmp(p, "ws://", 5) == 0) {
		p += 5;
	} else {
		return -EINVAL;
	}

	/* authority = host [ ":" port ], up to the path or query. */
	const char *auth = p;
	while (p < end && *p != '/' && *p != '?' && *p != '#')
		p++;
	const char *auth_end = p;
	if (auth == auth_end || memchr(auth, '@', (size_t)(auth_end - auth)))
		return -EINVAL;

	const char *colon;
	if (*auth == '[') {
		const char *rb = memchr(auth, ']', (size_t)(auth_end - auth));
		if (!rb)
			return -EINVAL;
		size_t hl = (size_t)(rb - auth - 1);
		char tmp[INET6_ADDRSTRLEN + 1];
		struct in6_addr a;
		if (hl == 0 || hl >= sizeof(tmp))
			return -EINVAL;
		memcpy(tmp, auth + 1, hl);
		tmp[hl] = '\0';
		if (inet_pton(AF_INET6, tmp, &a) != 1)
			return -EINVAL; /* also refuses zone identifiers */
		u.ipv6 = true;
		u.host = (wr_str){auth + 1, hl};
		colon = rb + 1;
		if (colon != auth_end && *colon != ':')
			return -EINVAL;
	} else {
		colon = memchr(auth, ':', (size_t)(auth_end - auth));
		const char *hend = colon ? colon : auth_end;
		if (!host_ok(auth, (size_t)(hend - auth)))
			return -EINVAL;
		u.host = (wr_str){auth, (size_t)(hend - auth)};
		if (!colon)
			colon = auth_end;
	}

	u.port = u.tls ? 443 : 80;
	if (colon != auth_end) {
		const char *d = colon + 1;
		unsigned v = 0;
		if (d == auth_end || auth_end - d > 5)
			return -EINVAL;
		for (; d < auth_end; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			v = v * 10 + (unsigned)(*d - '0');
		}
		if (v == 0 || v > 65535)
			return -EINVAL;
		u.port = (uint16_t)v;
		u.port_explicit = true;
	}

	/* Resource: "/" when absent. A bare query ("ws://h?q") has no view that starts with '/',
	 * and the fragment is forbidden outright: both are refused. */
	if (p == end) {
		u.resource = (wr_str){"/", 1};
	} else {
		if (*p != '/' || !resource_ok(p, (size_t)(end - p)))
			return -EINVAL;
		u.resource = (wr_str){p, (size_t)(end - p)};
	}

	*out = u;
	return 0;
}

int wr__url_host(const wr_url *u, char out[256])
{
	if (u->host.len >= 256)
		return -EINVAL;
	memcpy(out, u->host.data, u->host.len);
	out[u->host.len] = 0;
	return 0;
}
