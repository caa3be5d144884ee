/* HTTP/1.1 message heads (RFC 9112 §2-§6): request heads for the server, response heads for the
 * client. No I/O, no allocation; every field is a view into the caller's buffer.
 *
 * Shape: first find the end of the head (resuming at prev_len, bounded by max_head), then parse
 * the complete head line by line. A head is only ever parsed once it is whole, so the line parser
 * never has to stop in the middle of a token, and it never looks past the blank line.
 *
 * Strictness is deliberate: anything that two implementations could read differently (bare CR,
 * obs-fold, whitespace before the colon, conflicting lengths, Transfer-Encoding with
 * Content-Length) is refused, because that disagreement is what request smuggling is made of. */
#include <errno.h>
#include <string.h>

#include "http_parse.h"
#include "http_scan.h"

/* Field values (field-vchar / SP / HTAB, RFC 9110 §5.5: everything but CTLs, HTAB allowed, and
 * DEL; obs-text 0x80-0xff is accepted as opaque bytes), reason phrases and request targets are
 * checked by the SIMD scanner (http_scan.h), which has the byte classes.
 *
 * tchar (RFC 9110 §5.6.2). */
static inline bool is_tchar(unsigned char c)
{
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return true;
	if (c >= '0' && c <= '9')
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	default:
		return false;
	}
}

static inline bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static inline unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* Case-insensitive compare of s against a lowercase literal of length n. */
static bool eq_lit(const char *s, size_t slen, const char *lit, size_t n)
{
	if (slen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

#define EQ_LIT(p, n, lit) eq_lit((p), (n), lit, sizeof(lit) - 1)

static wr_str trim_ows(const char *p, const char *e)
{
	while (p < e && is_ows(*p))
		p++;
	while (e > p && is_ows(e[-1]))
		e--;
	return (wr_str){p, (size_t)(e - p)};
}

/* --- end of head --------------------------------------------------------------------------- */

/* Locate the head in buf[0..len). *out_start skips leading empty lines (requests only, RFC 9112
 * §2.2); *out_end is one past the blank line. The search for the blank line resumes a few bytes
 * before prev_len: a terminator that straddled the old end ("\n" then "\r\n") is still found. */
static int find_head(const char *buf, size_t len, size_t prev_len, size_t max_head,
                     bool skip_empty, size_t *out_start, size_t *out_end)
{
	size_t lim = len < max_head ? len : max_head;
	size_t s = 0;

	if (skip_empty) {
		while (s < lim) {
			if (buf[s] == '\n') {
				s++;
			} else if (buf[s] == '\r') {
				if (s + 1 >= lim)
					break;
				if (buf[s + 1] != '\n')
					return -EBADMSG;
				s += 2;
			} else {
				break;
			}
		}
	}

	/* Refuse a start that can never become a head (a TLS ClientHello on the plain port, a
	 * binary probe) at once, instead of waiting for max_head or the timeout. Only a short
	 * prefix is looked at, so calling again with more input costs little. */
	if (skip_empty) {
		if (s < lim && buf[s] == ' ')
			return -EBADMSG;
		/* A CR at s is an empty line still waiting for its LF. */
		size_t stop = s + 16 < lim ? s + 16 : lim;
		for (size_t i = s; i < stop && buf[s] != '\r' && buf[i] != ' '; i++)
			if (!is_tchar((unsigned char)buf[i]))
				return -EBADMSG;
	} else {
		static const char proto[] = "HTTP/";
		for (size_t i = 0; i < lim && i < sizeof(proto) - 1; i++)
			if (buf[i] != proto[i])
				return -EBADMSG;
	}

	size_t from = prev_len > 3 ? prev_len - 3 : 0;
	if (from < s)
		from = s;
	while (from < lim) {
		const char *nl = memchr(buf + from, '\n', lim - from);
		if (!nl)
			break;
		size_t i = (size_t)(nl - buf);
		if (i == s) /* a line cannot start with LF here: only when skip_empty is off */
			return -EBADMSG;
		if (i + 1 >= lim)
			break;
		if (buf[i + 1] == '\n') {
			*out_start = s;
			*out_end = i + 2;
			return 0;
		}
		if (buf[i + 1] == '\r') {
			if (i + 2 >= lim)
				break;
			if (buf[i + 2] != '\n')
				return -EBADMSG; /* bare CR at the start of a line */
			*out_start = s;
			*out_end = i + 3;
			return 0;
		}
		from = i + 1;
	}
	return len >= max_head ? -EMSGSIZE : -EAGAIN;
}

/* The line starting at p; the head is complete, so an LF is known to come before end.
 * Returns the end of the line's content (a CR before the LF is not content); *next is the
 * start of the following line. A CR anywhere else stays in the content and is refused there
 * as a control character. */
static const char *line_end(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	*next = nl + 1;
	if (nl > p && nl[-1] == '\r')
		nl--;
	return nl;
}

/* "HTTP/1.0" or "HTTP/1.1" -> 10/11; another HTTP/d.d -> -EPROTONOSUPPORT; else -EBADMSG. */
static int parse_version(const char *p, size_t n)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.')
		return -EBADMSG;
	if (p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
		return -EBADMSG;
	if (p[5] == '1' && (p[7] == '0' || p[7] == '1'))
		return 10 + (p[7] - '0');
	return -EPROTONOSUPPORT;
}

/* --- headers and what is derived from them ------------------------------------------------ */

struct derived {
	int64_t content_length; /* -1 until a Content-Length is seen */
	unsigned ncl;           /* Content-Length fields */
	unsigned nte;           /* Transfer-Encoding fields */
	unsigned ncodings;      /* codings listed over all of them */
	unsigned nchunked;      /* how many of those are "chunked" */
	bool last_chunked;      /* the final coding is chunked */
	bool unknown_coding;
	unsigned nhost;
	wr_str host;
	bool conn_close, conn_keep_alive, conn_upgrade;
	bool expect_continue;
};

/* Content-Length = 1*DIGIT; a list of identical values ("5, 5", RFC 9110 §8.6) is taken as
 * one; any disagreement, with itself or an earlier field, is an error. */
static int on_content_length(struct derived *d, wr_str v)
{
	const char *p = v.data, *e = v.data + v.len;

	if (v.len == 0)
		return -EBADMSG;
	for (;;) {
		while (p < e && is_ows(*p))
			p++;
		if (p == e || *p < '0' || *p > '9')
			return -EBADMSG;
		int64_t n = 0;
		while (p < e && *p >= '0' && *p <= '9') {
			int digit = *p++ - '0';
			if (n > (INT64_MAX - digit) / 10)
				return -EBADMSG;
			n = n * 10 + digit;
		}
		while (p < e && is_ows(*p))
			p++;
		if (d->content_length >= 0 && d->content_length != n)
			return -EBADMSG;
		d->content_length = n;
		if (p == e)
			break;
		if (*p++ != ',')
			return -EBADMSG;
	}
	d->ncl++;
	return 0;
}

/* Transfer-Encoding: a list of codings, applied in order. Codings with parameters are not
 * accepted (none of the ones we know take any). */
static int on_transfer_encoding(struct derived *d, wr_str v)
{
	const char *p = v.data, *e = v.data + v.len;

	d->nte++;
	while (p < e) {
		const char *c = p;
		while (p < e && *p != ',')
			p++;
		wr_str t = trim_ows(c, p);
		if (p < e)
			p++; /* the comma */
		if (t.len == 0)
			continue; /* empty list elements are allowed (RFC 9110 §5.6.1) */
		for (size_t i = 0; i < t.len; i++)
			if (!is_tchar((unsigned char)t.data[i]))
				return -EBADMSG;
		d->ncodings++;
		d->last_chunked = false;
		if (EQ_LIT(t.data, t.len, "chunked")) {
			d->nchunked++;
			d->last_chunked = true;
		} else if (!EQ_LIT(t.data, t.len, "gzip") && !EQ_LIT(t.data, t.len, "x-gzip") &&
		           !EQ_LIT(t.data, t.len, "deflate") && !EQ_LIT(t.data, t.len, "compress") &&
		           !EQ_LIT(t.data, t.len, "x-compress")) {
			d->unknown_coding = true;
		}
	}
	return 0;
}

/* Host = uri-host [ ":" port ]: refuse bytes that could not be part of one, so that a value
 * later pasted into a URL or a log cannot smuggle a path, userinfo or whitespace. */
static int on_host(struct derived *d, wr_str v)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.data[i];
		if ((lower(c) >= 'a' && lower(c) <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (!strchr("-._~%!$&'()*+,;=:[]", c) || c == '\0')
			return -EBADMSG;
	}
	d->nhost++;
	d->host = v;
	return 0;
}

static int on_header(struct derived *d, wr_str name, wr_str value)
{
	switch (name.len) {
	case 4:
		if (EQ_LIT(name.data, name.len, "host"))
			return on_host(d, value);
		break;
	case 6:
		if (EQ_LIT(name.data, name.len, "expect") &&
		    wr__http_has_token(value, "100-continue"))
			d->expect_continue = true;
		break;
	case 10:
		if (EQ_LIT(name.data, name.len, "connection")) {
			if (wr__http_has_token(value, "close"))
				d->conn_close = true;
			if (wr__http_has_token(value, "keep-alive"))
				d->conn_keep_alive = true;
			if (wr__http_has_token(value, "upgrade"))
				d->conn_upgrade = true;
		}
		break;
	case 14:
		if (EQ_LIT(name.data, name.len, "content-length"))
			return on_content_length(d, value);
		break;
	case 17:
		if (EQ_LIT(name.data, name.len, "transfer-encoding"))
			return on_transfer_encoding(d, value);
		break;
	default:
		break;
	}
	return 0;
}

/* Header lines from p up to the blank line that ends the head at end. */
static int parse_headers(const char *p, const char *end, wr_http_header *hdrs, size_t *out_n,
                         struct derived *d)
{
	size_t n = 0;

	for (;;) {
		const char *next;
		const char *e = line_end(p, end, &next);
		if (e == p)
			break; /* the blank line */
		/* A line starting with whitespace is obs-fold (or garbage before the first field):
		 * RFC 9112 §5.2 lets a server reject it, and joining lines is a smuggling vector. */
		const char *q = p;
		while (q < e && is_tchar((unsigned char)*q))
			q++;
		if (q == p || q == e || *q != ':')
			return -EBADMSG; /* empty name, no colon, or whitespace before it */
		wr_str name = {p, (size_t)(q - p)};
		size_t vlen = (size_t)(e - (q + 1));
		if (wr__http_scan_value(q + 1, vlen) != vlen)
			return -EBADMSG;
		wr_str value = trim_ows(q + 1, e);
		if (n == WR_HTTP_MAX_HEADERS)
			return -EMSGSIZE;
		hdrs[n].name = name;
		hdrs[n].value = value;
		n++;
		int rc = on_header(d, name, value);
		if (rc < 0)
			return rc;
		p = next;
	}
	*out_n = n;
	return 0;
}

static void derived_init(struct derived *d)
{
	memset(d, 0, sizeof(*d));
	d->content_length = -1;
}

/* 0 means no limit; the length is returned as an int, so never more than INT32_MAX. */
static size_t head_limit(size_t max_head)
{
	return max_head == 0 || max_head > (size_t)INT32_MAX ? (size_t)INT32_MAX : max_head;
}

/* --- requests ----------------------------------------------------------------------------- */

int wr__http_parse_request(const char *buf, size_t len, size_t prev_len, size_t max_head,
                           wr_http_req_head *out)
{
	size_t start, end;
	int rc;

	rc = find_head(buf, len, prev_len, head_limit(max_head), true, &start, &end);
	if (rc < 0)
		return rc;

	/* Parse into a local copy: *out is untouched unless the whole head is good. */
	wr_http_req_head h;
	struct derived d;
	const char *p = buf + start, *hend = buf + end, *next;
	const char *e = line_end(p, hend, &next);

	/* request-line = method SP request-target SP HTTP-version */
	const char *q = p;
	while (q < e && is_tchar((unsigned char)*q))
		q++;
	if (q == p || q == e || *q != ' ')
		return -EBADMSG;
	h.method = (wr_str){p, (size_t)(q - p)};
	const char *t = ++q;
	q += wr__http_scan_target(q, (size_t)(e - q));
	if (q == t || q == e || *q != ' ')
		return -EBADMSG;
	h.target = (wr_str){t, (size_t)(q - t)};
	q++;
	rc = parse_version(q, (size_t)(e - q));
	if (rc < 0)
		return rc;
	h.version = rc;

	const char *qm = memchr(h.target.data, '?', h.target.len);
	if (qm) {
		h.path = (wr_str){h.target.data, (size_t)(qm - h.target.data)};
		h.query = (wr_str){qm + 1, (size_t)(h.target.data + h.target.len - qm - 1)};
	} else {
		h.path = h.target;
		h.query = (wr_str){h.target.data + h.target.len, 0};
	}

	derived_init(&d);
	rc = parse_headers(next, hend, h.headers, &h.nheaders, &d);
	if (rc < 0)
		return rc;

	/* Message body length (RFC 9112 §6.1, §6.3): refuse every ambiguous combination. */
	if (d.nte > 0) {
		if (h.version == 10 || d.ncl > 0 || d.ncodings == 0 || d.nchunked > 1)
			return -EBADMSG;
		if (d.unknown_coding)
			return -ENOSYS;
		if (!d.last_chunked)
			return -EBADMSG;
	}
	/* Host (RFC 9112 §3.2): exactly one in HTTP/1.1, at most one in HTTP/1.0. */
	if (d.nhost > 1 || (h.version == 11 && d.nhost == 0))
		return -EBADMSG;

	h.content_length = d.content_length;
	h.chunked = d.nte > 0;
	if (h.version == 11)
		h.keep_alive = !d.conn_close;
	else
		h.keep_alive = d.conn_keep_alive && !d.conn_close;
	h.conn_upgrade = d.conn_upgrade;
	h.expect_continue = d.expect_continue;
	h.host = d.nhost ? d.host : (wr_str){NULL, 0};

	size_t fixed = offsetof(wr_http_req_head, headers);
	memcpy(out, &h, fixed);
	memcpy(out->headers, h.headers, h.nheaders * sizeof(h.headers[0]));
	out->content_length = h.content_length;
	out->chunked = h.chunked;
	out->keep_alive = h.keep_alive;
	out->conn_upgrade = h.conn_upgrade;
	out->expect_continue = h.expect_continue;
	out->host = h.host;
	return (int)end;
}

/* --- responses ---------------------------------------------------------------------------- */

int wr__http_parse_response(const char *buf, size_t len, size_t prev_len, size_t max_head,
                            wr_http_resp_head *out)
{
	size_t start, end;
	int rc;

	rc = find_head(buf, len, prev_len, head_limit(max_head), false, &start, &end);
	if (rc < 0)
		return rc;

	wr_http_resp_head h;
	struct derived d;
	const char *p = buf + start, *hend = buf + end, *next;
	const char *e = line_end(p, hend, &next);

	/* status-line = HTTP-version SP status-code SP [ reason-phrase ]; the second SP is
	 * tolerated when missing along with the reason. */
	if (e - p < 12 || p[8] != ' ')
		return -EBADMSG;
	rc = parse_version(p, 8);
	if (rc < 0)
		return -EBADMSG;
	h.version = rc;
	const char *s = p + 9;
	if (s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
		return -EBADMSG;
	h.status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	s += 3;
	if (s == e) {
		h.reason = (wr_str){s, 0};
	} else {
		if (*s != ' ')
			return -EBADMSG;
		s++;
		if (wr__http_scan_value(s, (size_t)(e - s)) != (size_t)(e - s))
			return -EBADMSG;
		h.reason = (wr_str){s, (size_t)(e - s)};
	}

	derived_init(&d);
	rc = parse_headers(next, hend, h.headers, &h.nheaders, &d);
	if (rc == -EMSGSIZE)
		return rc;
	if (rc < 0)
		return -EBADMSG;
	/* Transfer-Encoding overrides Content-Length, but a message with both is a sign of
	 * smuggling or response splitting (RFC 9112 §6.3): refuse it. Without chunked last, the
	 * body runs to the close, which the caller sees as chunked false and length -1. */
	if (d.nte > 0 && (d.ncl > 0 || d.ncodings == 0 || d.nchunked > 1))
		return -EBADMSG;
	h.chunked = d.nte > 0 && d.last_chunked;
	h.content_length = d.nte > 0 ? -1 : d.content_length;

	memcpy(out, &h, offsetof(wr_http_resp_head, headers));
	memcpy(out->headers, h.headers, h.nheaders * sizeof(h.headers[0]));
	out->content_length = h.content_length;
	out->chunked = h.chunked;
	return (int)end;
}

/* --- helpers ------------------------------------------------------------------------------ */

wr_str wr__http_find(const wr_http_header *h, size_t n, const char *name)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i < n; i++) {
		if (h[i].name.len != nlen)
			continue;
		size_t j = 0;
		while (j < nlen && lower((unsigned char)h[i].name.data[j]) ==
		                   lower((unsigned char)name[j]))
			j++;
		if (j == nlen)
			return h[i].value;
	}
	return (wr_str){NULL, 0};
}

bool wr__http_has_token(wr_str value, const char *token)
{
	size_t tlen = strlen(token);
	const char *p = value.data, *e = value.data + value.len;

	if (!p)
		return false;
	while (p < e) {
		const char *c = p;
		while (p < e && *p != ',')
			p++;
		wr_str t = trim_ows(c, p);
		if (p < e)
			p++;
		if (t.len != tlen)
			continue;
		size_t j = 0;
		while (j < tlen && lower((unsigned char)t.data[j]) == lower((unsigned char)token[j]))
			j++;
		if (j == tlen)
			return true;
	}
	return false;
}

int wr__http_status_for(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return 431;
	case -EFBIG:
		return 413;
	case -ENOSYS:
		return 501;
	case -EPROTONOSUPPORT:
		return 505;
	case -EBADMSG:
	default:
		return 400;
	}
}

const char *wr__http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
