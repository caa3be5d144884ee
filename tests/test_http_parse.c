/* HTTP/1.1 head parser and chunked decoder: every field, every refusal with the status it maps
 * to, every split point (each prefix in its own exact-size allocation, so ASan sees any read
 * past the end), and buffers that end at a guard page. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http_parse.h"
#include "tmem.h"

#define MAX_HEAD 8192

static bool str_eq(wr_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.data && s.len == n && memcmp(s.data, lit, n) == 0;
}

#define ASSERT_STR(s, lit)                                                                     \
	cr_assert(str_eq((s), (lit)), "expected \"%s\", got \"%.*s\"", (lit), (int)(s).len,      \
	          (s).data ? (s).data : "(null)")

static int parse_req_n(const char *s, size_t n, wr_http_req_head *h)
{
	return wr__http_parse_request(s, n, 0, MAX_HEAD, h);
}

static int parse_req(const char *s, wr_http_req_head *h)
{
	return parse_req_n(s, strlen(s), h);
}

/* --- fields ------------------------------------------------------------------------------- */

Test(http_request, simple_get)
{
	const char *r = "GET /chat?room=1&x=2 HTTP/1.1\r\n"
	                "Host: example.com:8080\r\n"
	                "User-Agent:  test/1.0 \t\r\n"
	                "Accept: */*\r\n"
	                "\r\n";
	wr_http_req_head h;
	int rc = parse_req(r, &h);
	cr_assert_eq(rc, (int)strlen(r));
	ASSERT_STR(h.method, "GET");
	ASSERT_STR(h.target, "/chat?room=1&x=2");
	ASSERT_STR(h.path, "/chat");
	ASSERT_STR(h.query, "room=1&x=2");
	cr_assert_eq(h.version, 11);
	cr_assert_eq(h.nheaders, 3);
	ASSERT_STR(h.headers[0].name, "Host");
	ASSERT_STR(h.headers[0].value, "example.com:8080");
	ASSERT_STR(h.headers[1].name, "User-Agent");
	ASSERT_STR(h.headers[1].value, "test/1.0");
	ASSERT_STR(h.headers[2].value, "*/*");
	cr_assert_eq(h.content_length, -1);
	cr_assert(!h.chunked);
	cr_assert(h.keep_alive);
	cr_assert(!h.conn_upgrade);
	cr_assert(!h.expect_continue);
	ASSERT_STR(h.host, "example.com:8080");
}

Test(http_request, no_query)
{
	wr_http_req_head h;
	cr_assert_gt(parse_req("GET /a/b HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
	ASSERT_STR(h.path, "/a/b");
	cr_assert_eq(h.query.len, 0);
	cr_assert_gt(parse_req("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
	ASSERT_STR(h.path, "/a");
	cr_assert_eq(h.query.len, 0);
}

Test(http_request, upgrade_request)
{
	const char *r = "GET /ws HTTP/1.1\r\n"
	                "Host: server.example.com\r\n"
	                "Upgrade: websocket\r\n"
	                "Connection: keep-alive, Upgrade\r\n"
	                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                "Sec-WebSocket-Version: 13\r\n"
	                "\r\n";
	wr_http_req_head h;
	cr_assert_eq(parse_req(r, &h), (int)strlen(r));
	cr_assert(h.conn_upgrade);
	cr_assert(h.keep_alive);
	ASSERT_STR(wr__http_find(h.headers, h.nheaders, "sec-websocket-key"),
	           "dGhlIHNhbXBsZSBub25jZQ==");
	ASSERT_STR(wr__http_find(h.headers, h.nheaders, "UPGRADE"), "websocket");
	cr_assert_null(wr__http_find(h.headers, h.nheaders, "Origin").data);
}

Test(http_request, body_headers)
{
	wr_http_req_head h;
	const char *r = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n"
	                "Expect: 100-continue\r\n\r\nhello world!";
	cr_assert_eq(parse_req(r, &h), (int)(strlen(r) - 12));
	cr_assert_eq(h.content_length, 12);
	cr_assert(h.expect_continue);
	cr_assert(!h.chunked);

	r = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
	cr_assert_gt(parse_req(r, &h), 0);
	cr_assert(h.chunked);
	cr_assert_eq(h.content_length, -1);

	r = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	    "Transfer-Encoding: Chunked\r\n\r\n";
	cr_assert_gt(parse_req(r, &h), 0, "codings over several fields combine");
	cr_assert(h.chunked);

	r = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
	cr_assert_gt(parse_req(r, &h), 0);
	cr_assert_eq(h.content_length, 0);

	r = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n";
	cr_assert_gt(parse_req(r, &h), 0);
	cr_assert_eq(h.content_length, INT64_MAX);
}

Test(http_request, identical_content_lengths)
{
	wr_http_req_head h;
	cr_assert_gt(parse_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	                       "Content-Length: 5\r\n\r\n", &h), 0);
	cr_assert_eq(h.content_length, 5);
	cr_assert_gt(parse_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 , 5,5\r\n\r\n",
	                       &h), 0);
	cr_assert_eq(h.content_length, 5);
}

Test(http_request, keep_alive_rules)
{
	wr_http_req_head h;
	cr_assert_gt(parse_req("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
	cr_assert(h.keep_alive);
	cr_assert_gt(parse_req("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n", &h), 0);
	cr_assert(!h.keep_alive);
	cr_assert_gt(parse_req("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\n"
	                       "Connection: close\r\n\r\n", &h), 0);
	cr_assert(!h.keep_alive);
	cr_assert_gt(parse_req("GET / HTTP/1.0\r\n\r\n", &h), 0);
	cr_assert_eq(h.version, 10);
	cr_assert(!h.keep_alive);
	cr_assert_null(h.host.data);
	cr_assert_gt(parse_req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h), 0);
	cr_assert(h.keep_alive);
	cr_assert_gt(parse_req("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &h), 0);
	cr_assert(!h.keep_alive);
	cr_assert_gt(parse_req("GET / HTTP/1.0\r\nHost: a\r\n\r\n", &h), 0);
	ASSERT_STR(h.host, "a");
}

Test(http_request, values_trimmed_and_opaque)
{
	wr_http_req_head h;
	const char *r = "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Ws: \t \r\n"
	                "X-Tab:\tin\tside\t\r\nX-Obs: caf\xc3\xa9\r\n\r\n";
	cr_assert_gt(parse_req(r, &h), 0);
	cr_assert_eq(h.nheaders, 5);
	cr_assert_eq(h.headers[1].value.len, 0);
	cr_assert_eq(h.headers[2].value.len, 0);
	ASSERT_STR(h.headers[3].value, "in\tside");
	ASSERT_STR(h.headers[4].value, "caf\xc3\xa9");
}

Test(http_request, target_forms)
{
	wr_http_req_head h;
	cr_assert_gt(parse_req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
	ASSERT_STR(h.target, "*");
	ASSERT_STR(h.path, "*");
	cr_assert_gt(parse_req("GET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
	ASSERT_STR(h.target, "http://a/b?c");
	cr_assert_gt(parse_req("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", &h), 0);
	ASSERT_STR(h.target, "a:443");
	cr_assert_gt(parse_req("M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
	ASSERT_STR(h.method, "M-SEARCH");
}

Test(http_request, bare_lf_and_leading_empty_lines)
{
	wr_http_req_head h;
	const char *r = "GET /lf HTTP/1.1\nHost: a\nX: y\n\n";
	cr_assert_eq(parse_req(r, &h), (int)strlen(r));
	ASSERT_STR(h.path, "/lf");
	ASSERT_STR(h.headers[1].value, "y");

	r = "\r\n\r\n\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
	cr_assert_eq(parse_req(r, &h), (int)strlen(r), "leading empty lines count as consumed");
	ASSERT_STR(h.method, "GET");
	ASSERT_STR(h.path, "/x");

	cr_assert_eq(parse_req("\r\n", &h), -EAGAIN);
	cr_assert_eq(parse_req("\r", &h), -EAGAIN);
}

Test(http_request, exactly_max_headers)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 1; i < WR_HTTP_MAX_HEADERS; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%d: %d\r\n", i, i);
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	wr_http_req_head h;
	cr_assert_eq(parse_req(buf, &h), n);
	cr_assert_eq(h.nheaders, WR_HTTP_MAX_HEADERS);
	ASSERT_STR(h.headers[63].name, "X-63");
	ASSERT_STR(h.headers[63].value, "63");
}

Test(http_request, out_untouched_on_failure)
{
	wr_http_req_head h, before;
	memset(&h, 0xa5, sizeof(h));
	memcpy(&before, &h, sizeof(h));
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nHost: a\r\n", &h), -EAGAIN);
	cr_assert_eq(memcmp(&h, &before, sizeof(h)), 0);
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nHost : a\r\n\r\n", &h), -EBADMSG);
	cr_assert_eq(memcmp(&h, &before, sizeof(h)), 0);
}

Test(http_request, prev_len_resumes_without_rescanning)
{
	/* Claiming that everything up to the end was already seen (and found incomplete) means
	 * the terminator far behind is not looked at again. */
	const char *r = "GET / HTTP/1.1\r\nHost: a\r\n\r\nbody bytes here";
	size_t n = strlen(r);
	wr_http_req_head h;
	cr_assert_eq(wr__http_parse_request(r, n, n, MAX_HEAD, &h), -EAGAIN);
	cr_assert_eq(wr__http_parse_request(r, n, 0, MAX_HEAD, &h), (int)(n - 15));
	/* A terminator straddling the old end is still found. */
	size_t head = n - 15;
	for (size_t prev = head - 3; prev < head; prev++)
		cr_assert_eq(wr__http_parse_request(r, n, prev, MAX_HEAD, &h), (int)head);
}

/* --- refusals ----------------------------------------------------------------------------- */

struct bad {
	const char *req;
	size_t len; /* 0: strlen */
	int err;
	int status;
};

#define H "Host: a\r\n"
static const struct bad bad_requests[] = {
	/* request line */
	{"GET  / HTTP/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET /  HTTP/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{" GET / HTTP/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"G(T / HTTP/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET\t/ HTTP/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"/ HTTP/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET /a b HTTP/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET /\x01 HTTP/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET /\x7f HTTP/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET /\0 HTTP/1.1\r\n" H "\r\n", sizeof("GET /\0 HTTP/1.1\r\n" H "\r\n") - 1, -EBADMSG, 400},
	{"GET / HTTP/1.1 \r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET / http/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.x\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/11\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.10\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET /\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\rHost: a\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\r\n" H "\r\n", 0, -EBADMSG, 400},
	{"\rGET / HTTP/1.1\r\n" H "\r\n", 0, -EBADMSG, 400},
	/* versions */
	{"GET / HTTP/2.0\r\n" H "\r\n", 0, -EPROTONOSUPPORT, 505},
	{"GET / HTTP/1.2\r\n" H "\r\n", 0, -EPROTONOSUPPORT, 505},
	{"GET / HTTP/0.9\r\n" H "\r\n", 0, -EPROTONOSUPPORT, 505},
	{"GET / HTTP/3.0\r\n" H "\r\n", 0, -EPROTONOSUPPORT, 505},
	/* header syntax */
	{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "X: b\r\n  folded\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "X: b\r\n\tfolded\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H ": empty\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "NoColon\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "Ba(d: x\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "X\x80: x\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n", sizeof("GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n") - 1, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "X: a\x01" "b\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "X: a\x1b[0m\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "X: a\r\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "\rX: a\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\n" H "X: a\r\n\r\r\n", 0, -EBADMSG, 400},
	/* Content-Length */
	{"POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: 5,\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: ,5\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: abc\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: 5a\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: 0x5\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: 1 2\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: 9223372036854775808\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999999\r\n\r\n", 0, -EBADMSG,
	 400},
	/* Transfer-Encoding */
	{"POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
	 -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0,
	 -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: ,\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;q=1\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: \"chunked\"\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, -EBADMSG, 400},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: foo, chunked\r\n\r\n", 0, -ENOSYS, 501},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity, chunked\r\n\r\n", 0, -ENOSYS, 501},
	{"POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunkedx\r\n\r\n", 0, -ENOSYS, 501},
	/* Host */
	{"GET / HTTP/1.1\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\nX: y\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, -EBADMSG, 400},
	{"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 0, -EBADMSG, 400},
};
#undef H

Test(http_request, refusals)
{
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		const struct bad *b = &bad_requests[i];
		size_t n = b->len ? b->len : strlen(b->req);
		/* Exact-size copy: a read past the end is an ASan error. */
		char *copy = tmalloc(n);
		memcpy(copy, b->req, n);
		wr_http_req_head h;
		int rc = parse_req_n(copy, n, &h);
		cr_assert_eq(rc, b->err, "case %zu (%.*s): got %d, want %d", i, (int)n, b->req, rc,
		             b->err);
		cr_assert_eq(wr__http_status_for(rc), b->status, "case %zu", i);
		tfree(copy);
	}
}

Test(http_request, too_many_headers)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < WR_HTTP_MAX_HEADERS; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%d: %d\r\n", i, i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	wr_http_req_head h;
	int rc = parse_req(buf, &h);
	cr_assert_eq(rc, -EMSGSIZE);
	cr_assert_eq(wr__http_status_for(rc), 431);
}

Test(http_request, head_too_long)
{
	const char *r = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789012345678901234567890\r\n\r\n";
	size_t n = strlen(r);
	wr_http_req_head h;
	cr_assert_eq(wr__http_parse_request(r, n, 0, n, &h), (int)n, "exactly max_head is fine");
	cr_assert_eq(wr__http_parse_request(r, n, 0, n - 1, &h), -EMSGSIZE);
	cr_assert_eq(wr__http_parse_request(r, n, 0, 20, &h), -EMSGSIZE);
	/* Incomplete but already over the limit. */
	cr_assert_eq(wr__http_parse_request(r, 30, 0, 20, &h), -EMSGSIZE);
	cr_assert_eq(wr__http_parse_request(r, 20, 0, 20, &h), -EMSGSIZE);
	cr_assert_eq(wr__http_parse_request(r, 19, 0, 20, &h), -EAGAIN);
	/* Endless empty lines count too. */
	char junk[64];
	memset(junk, '\n', sizeof(junk));
	cr_assert_eq(wr__http_parse_request(junk, sizeof(junk), 0, 32, &h), -EMSGSIZE);
	cr_assert_eq(wr__http_status_for(-EMSGSIZE), 431);
}

/* --- every split point -------------------------------------------------------------------- */

static size_t off(wr_str s, const char *base)
{
	return s.data ? (size_t)(s.data - base) : (size_t)-1;
}

static void assert_same_head(const wr_http_req_head *a, const char *abase,
                             const wr_http_req_head *b, const char *bbase)
{
#define SAME(f) cr_assert(a->f.len == b->f.len && off(a->f, abase) == off(b->f, bbase), #f)
	SAME(method);
	SAME(target);
	SAME(path);
	SAME(query);
	SAME(host);
	cr_assert_eq(a->version, b->version);
	cr_assert_eq(a->nheaders, b->nheaders);
	for (size_t i = 0; i < a->nheaders; i++) {
		SAME(headers[i].name);
		SAME(headers[i].value);
	}
	cr_assert_eq(a->content_length, b->content_length);
	cr_assert_eq(a->chunked, b->chunked);
	cr_assert_eq(a->keep_alive, b->keep_alive);
	cr_assert_eq(a->conn_upgrade, b->conn_upgrade);
	cr_assert_eq(a->expect_continue, b->expect_continue);
#undef SAME
}

static const char *const good_requests[] = {
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
	"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
	"Sec-WebSocket-Version: 13\r\n\r\n",
	"POST /submit HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
	"Expect: 100-continue\r\n\r\nhello world",
	"PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	/* pipelined: a second request after the first head */
	"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /lf HTTP/1.0\nConnection: keep-alive\nX:  y \n\nrest",
	"\r\n\r\nGET /after-crlf HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\n"
	"H: 8\r\nI: 9\r\nJ: 10\r\nK: 11\r\nL: 12\r\nM: 13\r\nN: 14\r\nO: 15\r\nP: 16\r\n"
	"Q: 17\r\nR: 18\r\nS: 19\r\nT: 20\r\nU: 21\r\nV: 22\r\nW: 23\r\nX: 24\r\nY: 25\r\n"
	"Cookie: a=b; c=d; e=f\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n",
};

/* Parse the message at every prefix length, as a receive loop would (prev_len = the length at
 * the previous -EAGAIN), each prefix in its own exact-size buffer. */
static void check_every_split(const char *req, size_t n)
{
	wr_http_req_head whole, part;
	int want = wr__http_parse_request(req, n, 0, MAX_HEAD, &whole);
	cr_assert_gt(want, 0, "%s", req);

	size_t prev = 0;
	for (size_t k = 1; k <= n; k++) {
		char *buf = tmalloc(k);
		memcpy(buf, req, k);
		int rc = wr__http_parse_request(buf, k, prev, MAX_HEAD, &part);
		if (k < (size_t)want) {
			cr_assert_eq(rc, -EAGAIN, "prefix %zu of %d: %d", k, want, rc);
			prev = k;
		} else {
			cr_assert_eq(rc, want, "prefix %zu: %d, want %d", k, rc, want);
			assert_same_head(&part, buf, &whole, req);
			/* And from scratch, without the resume hint. */
			cr_assert_eq(wr__http_parse_request(buf, k, 0, MAX_HEAD, &part), want);
		}
		tfree(buf);
	}
}

Test(http_request, every_split_point)
{
	for (size_t i = 0; i < sizeof(good_requests) / sizeof(good_requests[0]); i++)
		check_every_split(good_requests[i], strlen(good_requests[i]));
}

Test(http_request, every_split_point_max_headers)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "GET /many HTTP/1.1\r\nHost: a\r\n");
	for (int i = 1; i < WR_HTTP_MAX_HEADERS; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-Header-%d:\t value %d \r\n", i, i);
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	check_every_split(buf, (size_t)n);
}

/* Refusals come out the same at every split point too: -EAGAIN until the head is whole (or
 * a bare CR is seen), never a different error. */
Test(http_request, refusals_every_split_point)
{
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		const struct bad *b = &bad_requests[i];
		size_t n = b->len ? b->len : strlen(b->req), prev = 0;
		for (size_t k = 1; k <= n; k++) {
			char *buf = tmalloc(k);
			memcpy(buf, b->req, k);
			wr_http_req_head h;
			int rc = wr__http_parse_request(buf, k, prev, MAX_HEAD, &h);
			tfree(buf);
			if (rc == -EAGAIN) {
				cr_assert_lt(k, n, "case %zu still incomplete when whole", i);
				prev = k;
				continue;
			}
			cr_assert_eq(rc, b->err, "case %zu prefix %zu: %d", i, k, rc);
			break;
		}
	}
}

/* --- guard page ---------------------------------------------------------------------------- */

struct guard {
	char *map;
	size_t page;
};

static char *guard_place(struct guard *g, const char *data, size_t n)
{
	g->page = (size_t)sysconf(_SC_PAGESIZE);
	g->map = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(g->map, MAP_FAILED);
	cr_assert_eq(mprotect(g->map + g->page, g->page, PROT_NONE), 0);
	cr_assert_leq(n, g->page);
	char *p = g->map + g->page - n;
	memcpy(p, data, n);
	return p;
}

static void guard_free(struct guard *g)
{
	munmap(g->map, 2 * g->page);
}

Test(http_request, guard_page)
{
	for (size_t i = 0; i < sizeof(good_requests) / sizeof(good_requests[0]); i++) {
		const char *r = good_requests[i];
		size_t n = strlen(r);
		wr_http_req_head h;
		int want = wr__http_parse_request(r, n, 0, MAX_HEAD, &h);
		/* Only the head, ending right at the guard, then every prefix of it. */
		for (size_t k = 1; k <= (size_t)want; k++) {
			struct guard g;
			char *p = guard_place(&g, r, k);
			int rc = wr__http_parse_request(p, k, k > 1 ? k - 1 : 0, MAX_HEAD, &h);
			cr_assert_eq(rc, k == (size_t)want ? want : -EAGAIN);
			guard_free(&g);
		}
	}
	/* Incomplete heads that end in CR, LF, or in the middle of a field. */
	const char *tails[] = {"GET / HTTP/1.1\r", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost",
	                       "GET / HTTP/1.1\r\nHost: a\r\n\r", "\r", "\r\n"};
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		struct guard g;
		wr_http_req_head h;
		char *p = guard_place(&g, tails[i], strlen(tails[i]));
		cr_assert_eq(wr__http_parse_request(p, strlen(tails[i]), 0, MAX_HEAD, &h), -EAGAIN);
		guard_free(&g);
	}
	/* Refusals at the guard. */
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		const struct bad *b = &bad_requests[i];
		size_t n = b->len ? b->len : strlen(b->req);
		struct guard g;
		wr_http_req_head h;
		char *p = guard_place(&g, b->req, n);
		cr_assert_eq(wr__http_parse_request(p, n, 0, MAX_HEAD, &h), b->err, "case %zu", i);
		guard_free(&g);
	}
}

/* --- helpers ------------------------------------------------------------------------------ */

Test(http_helpers, has_token)
{
	wr_str v = {"keep-alive, Upgrade ,\tfoo", 25};
	cr_assert(wr__http_has_token(v, "upgrade"));
	cr_assert(wr__http_has_token(v, "KEEP-ALIVE"));
	cr_assert(wr__http_has_token(v, "foo"));
	cr_assert(!wr__http_has_token(v, "keep"));
	cr_assert(!wr__http_has_token(v, "alive"));
	cr_assert(!wr__http_has_token((wr_str){NULL, 0}, "x"));
	cr_assert(!wr__http_has_token((wr_str){"upgrades", 8}, "upgrade"));
	cr_assert(wr__http_has_token((wr_str){",,close,", 8}, "close"));
}

Test(http_helpers, status_and_reason)
{
	cr_assert_eq(wr__http_status_for(-EBADMSG), 400);
	cr_assert_eq(wr__http_status_for(-EMSGSIZE), 431);
	cr_assert_eq(wr__http_status_for(-EFBIG), 413);
	cr_assert_eq(wr__http_status_for(-ENOSYS), 501);
	cr_assert_eq(wr__http_status_for(-EPROTONOSUPPORT), 505);
	cr_assert_eq(wr__http_status_for(-EIO), 400);
	cr_assert_str_eq(wr__http_reason(404), "Not Found");
	cr_assert_str_eq(wr__http_reason(101), "Switching Protocols");
	cr_assert_str_eq(wr__http_reason(431), "Request Header Fields Too Large");
	cr_assert_str_eq(wr__http_reason(799), "Unknown");
}

/* --- responses ---------------------------------------------------------------------------- */

Test(http_response, switching_protocols)
{
	const char *r = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	                "\r\n\x81\x05hello";
	wr_http_resp_head h;
	int rc = wr__http_parse_response(r, strlen(r), 0, MAX_HEAD, &h);
	cr_assert_eq(rc, (int)strlen(r) - 7);
	cr_assert_eq(h.version, 11);
	cr_assert_eq(h.status, 101);
	ASSERT_STR(h.reason, "Switching Protocols");
	cr_assert_eq(h.nheaders, 3);
	ASSERT_STR(wr__http_find(h.headers, h.nheaders, "sec-websocket-accept"),
	           "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	cr_assert_eq(h.content_length, -1);
	cr_assert(!h.chunked);
}

Test(http_response, variants)
{
	wr_http_resp_head h;
	const char *r = "HTTP/1.0 200 \r\nContent-Length: 3\r\n\r\nabc";
	cr_assert_gt(wr__http_parse_response(r, strlen(r), 0, MAX_HEAD, &h), 0);
	cr_assert_eq(h.version, 10);
	cr_assert_eq(h.status, 200);
	cr_assert_eq(h.reason.len, 0);
	cr_assert_eq(h.content_length, 3);

	r = "HTTP/1.1 204\r\n\r\n";
	cr_assert_eq(wr__http_parse_response(r, strlen(r), 0, MAX_HEAD, &h), (int)strlen(r));
	cr_assert_eq(h.status, 204);
	cr_assert_eq(h.reason.len, 0);
	cr_assert_eq(h.nheaders, 0);

	r = "HTTP/1.1 404 Not  Found, really\r\nTransfer-Encoding: chunked\r\n\r\n";
	cr_assert_gt(wr__http_parse_response(r, strlen(r), 0, MAX_HEAD, &h), 0);
	ASSERT_STR(h.reason, "Not  Found, really");
	cr_assert(h.chunked);
	cr_assert_eq(h.content_length, -1);

	r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
	cr_assert_gt(wr__http_parse_response(r, strlen(r), 0, MAX_HEAD, &h), 0);
	cr_assert(!h.chunked, "body runs to the close");
	cr_assert_eq(h.content_length, -1);

	r = "HTTP/1.1 200 OK\nContent-Length: 1\n\n";
	cr_assert_eq(wr__http_parse_response(r, strlen(r), 0, MAX_HEAD, &h), (int)strlen(r));
	cr_assert_eq(h.content_length, 1);
}

Test(http_response, refusals)
{
	static const char *const bad[] = {
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.2 200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: y\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
		"\r\nHTTP/1.1 200 OK\r\n\r\n",
		"\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\rX: 1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wr_http_resp_head h;
		size_t n = strlen(bad[i]);
		char *copy = tmalloc(n);
		memcpy(copy, bad[i], n);
		int rc = wr__http_parse_response(copy, n, 0, MAX_HEAD, &h);
		cr_assert_eq(rc, -EBADMSG, "case %zu: %d", i, rc);
		tfree(copy);
	}
}

Test(http_response, limits)
{
	wr_http_resp_head h;
	const char *r = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
	cr_assert_eq(wr__http_parse_response(r, strlen(r), 0, 10, &h), -EMSGSIZE);
	cr_assert_eq(wr__http_parse_response(r, 10, 0, 10, &h), -EMSGSIZE);
	cr_assert_eq(wr__http_parse_response(r, 9, 0, 10, &h), -EAGAIN);

	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= WR_HTTP_MAX_HEADERS; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%d: %d\r\n", i, i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	cr_assert_eq(wr__http_parse_response(buf, strlen(buf), 0, MAX_HEAD, &h), -EMSGSIZE);
}

Test(http_response, every_split_point_and_guard)
{
	const char *r = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                "Connection: Upgrade\r\nSec-WebSocket-Accept: abc=\r\n\r\n\x81\x00";
	size_t n = strlen(r);
	wr_http_resp_head whole, part;
	int want = wr__http_parse_response(r, n, 0, MAX_HEAD, &whole);
	cr_assert_gt(want, 0);
	size_t prev = 0;
	for (size_t k = 1; k <= n; k++) {
		struct guard g;
		char *p = guard_place(&g, r, k);
		int rc = wr__http_parse_response(p, k, prev, MAX_HEAD, &part);
		if (k < (size_t)want) {
			cr_assert_eq(rc, -EAGAIN, "prefix %zu", k);
			prev = k;
		} else {
			cr_assert_eq(rc, want);
			cr_assert_eq(part.status, 101);
			cr_assert_eq(part.nheaders, whole.nheaders);
			cr_assert_eq(off(part.reason, p), off(whole.reason, r));
			for (size_t i = 0; i < part.nheaders; i++) {
				cr_assert_eq(off(part.headers[i].name, p), off(whole.headers[i].name, r));
				cr_assert_eq(off(part.headers[i].value, p), off(whole.headers[i].value, r));
				cr_assert_eq(part.headers[i].value.len, whole.headers[i].value.len);
			}
		}
		guard_free(&g);
	}
}

/* --- chunked ------------------------------------------------------------------------------ */

struct chunk_case {
	const char *in;
	size_t in_len;
	const char *body;     /* expected output */
	size_t body_len;
	size_t consumed;      /* 0: all of in */
};

/* Lengths from sizeof: some cases hold NUL bytes. */
#define C(in, body, consumed) {in, sizeof(in) - 1, body, sizeof(body) - 1, consumed}
static const struct chunk_case good_chunks[] = {
	C("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0),
	C("1\r\na\r\n0\r\n\r\n", "a", 0),
	C("0\r\n\r\n", "", 0),
	C("000\r\n\r\n", "", 0),
	C("A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0),
	C("a\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0),
	C("0005\r\nhello\r\n0\r\n\r\n", "hello", 0),
	C("5;ext=1;other=\"q s\"\r\nhello\r\n0;last\r\n\r\n", "hello", 0),
	C("5 ;x\r\nhello\r\n0\t; y\r\n\r\n", "hello", 0),
	C("3\r\nabc\r\n0\r\nTrailer-One: 1\r\nX-Checksum:\tabc \r\n\r\n", "abc", 0),
	C("4\r\n\r\n\0\xff\r\n0\r\n\r\n", "\r\n\0\xff", 0), /* data is opaque */
	C("2\r\nab\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "ab", 12),
	C("10\r\n0123456789abcdef\r\n1\r\n!\r\n0\r\n\r\n", "0123456789abcdef!", 0),
};
#undef C

static void check_chunk_whole(const struct chunk_case *c, bool in_place)
{
	size_t n = c->in_len;
	char *in = tmalloc(n);
	memcpy(in, c->in, n);
	char *out = in_place ? in : tmalloc(n);
	wr_chunked d;
	size_t used = 99, got = 99;
	wr__chunked_init(&d, 0);
	cr_assert_eq(wr__chunked_decode(&d, in, n, &used, out, &got), 1, "%s", c->in);
	cr_assert_eq(used, c->consumed ? c->consumed : n);
	cr_assert_eq(got, c->body_len);
	cr_assert_eq(memcmp(out, c->body, got), 0);
	cr_assert_eq(d.total, got);
	/* Finished: further input is left alone. */
	cr_assert_eq(wr__chunked_decode(&d, "xyz", 3, &used, out, &got), 1);
	cr_assert_eq(used, 0);
	cr_assert_eq(got, 0);
	if (!in_place)
		tfree(out);
	tfree(in);
}

Test(http_chunked, whole)
{
	for (size_t i = 0; i < sizeof(good_chunks) / sizeof(good_chunks[0]); i++) {
		check_chunk_whole(&good_chunks[i], false);
		check_chunk_whole(&good_chunks[i], true);
	}
}

/* Two pieces split at k, each in an exact-size buffer; then in place in one buffer, the second
 * call writing behind where it reads; then one byte at a time. */
static void check_chunk_splits(const struct chunk_case *c)
{
	size_t n = c->in_len, blen = c->body_len;
	size_t want_used = c->consumed ? c->consumed : n;
	const char *want = c->body;

	for (size_t k = 0; k <= n; k++) {
		wr_chunked d;
		wr__chunked_init(&d, 0);
		char body[256];
		size_t blen_got = 0, used, got;

		char *a = tmalloc(k ? k : 1);
		memcpy(a, c->in, k);
		int rc = wr__chunked_decode(&d, a, k, &used, body, &got);
		cr_assert_geq(rc, 0);
		blen_got += got;
		size_t total_used = used;
		if (rc == 0) {
			cr_assert_eq(used, k, "needs more: all input taken");
			size_t rest = n - k;
			char *b = tmalloc(rest ? rest : 1);
			memcpy(b, c->in + k, rest);
			rc = wr__chunked_decode(&d, b, rest, &used, body + blen_got, &got);
			blen_got += got;
			total_used += used;
			tfree(b);
		}
		tfree(a);
		cr_assert_eq(rc, 1, "split %zu of %s", k, c->in);
		cr_assert_eq(total_used, want_used);
		cr_assert_eq(blen_got, blen);
		cr_assert_eq(memcmp(body, want, blen), 0, "split %zu", k);

		/* In place. */
		char *buf = tmalloc(n);
		memcpy(buf, c->in, n);
		wr__chunked_init(&d, 0);
		size_t o = 0;
		rc = wr__chunked_decode(&d, buf, k, &used, buf, &got);
		cr_assert_geq(rc, 0);
		o = got;
		total_used = used;
		if (rc == 0) {
			rc = wr__chunked_decode(&d, buf + used, n - used, &used, buf + o, &got);
			o += got;
			total_used += used;
		}
		cr_assert_eq(rc, 1);
		cr_assert_eq(total_used, want_used);
		cr_assert_eq(o, blen);
		cr_assert_eq(memcmp(buf, want, blen), 0, "in place, split %zu", k);
		tfree(buf);
	}

	/* Byte by byte. */
	wr_chunked d;
	wr__chunked_init(&d, 0);
	char body[256];
	size_t o = 0, i = 0;
	int rc = 0;
	for (; i < n && rc == 0; i++) {
		size_t used, got;
		rc = wr__chunked_decode(&d, c->in + i, 1, &used, body + o, &got);
		cr_assert_geq(rc, 0);
		cr_assert_eq(used, 1);
		o += got;
	}
	cr_assert_eq(rc, 1);
	cr_assert_eq(i, want_used);
	cr_assert_eq(o, blen);
	cr_assert_eq(memcmp(body, want, blen), 0);
}

Test(http_chunked, every_split_point)
{
	for (size_t i = 0; i < sizeof(good_chunks) / sizeof(good_chunks[0]); i++)
		check_chunk_splits(&good_chunks[i]);
}

Test(http_chunked, guard_page)
{
	for (size_t i = 0; i < sizeof(good_chunks) / sizeof(good_chunks[0]); i++) {
		const struct chunk_case *c = &good_chunks[i];
		size_t n = c->in_len;
		for (size_t k = 1; k <= n; k++) {
			struct guard g;
			char *p = guard_place(&g, c->in, k);
			char out[256];
			size_t used, got;
			wr_chunked d;
			wr__chunked_init(&d, 0);
			int rc = wr__chunked_decode(&d, p, k, &used, out, &got);
			cr_assert_geq(rc, 0);
			cr_assert_leq(used, k);
			guard_free(&g);
		}
	}
}

static int chunk_bad(const char *in, size_t n, uint64_t max)
{
	wr_chunked d;
	size_t used, got;
	char *copy = tmalloc(n ? n : 1);
	memcpy(copy, in, n);
	char *out = tmalloc(n ? n : 1);
	wr__chunked_init(&d, max);
	int rc = wr__chunked_decode(&d, copy, n, &used, out, &got);
	/* The error sticks. */
	if (rc < 0)
		cr_assert_lt(wr__chunked_decode(&d, "0\r\n\r\n", 5, &used, out, &got), 0);
	tfree(out);
	tfree(copy);
	return rc;
}

Test(http_chunked, refusals)
{
	static const char *const bad[] = {
		"\r\n",
		"g\r\n",
		"-5\r\n",
		"+5\r\n",
		"0x5\r\nhello\r\n0\r\n\r\n",
		" 5\r\n",
		"5 \r\nhello\r\n0\r\n\r\n",
		"5\nhello\r\n0\r\n\r\n",
		"5\r\rhello\r\n0\r\n\r\n",
		"5\r\nhelloX\r\n0\r\n\r\n",
		"5\r\nhello\n0\r\n\r\n",
		"5\r\nhello\r\r\n0\r\n\r\n",
		"5\r\nhello\r\n0\n\n",
		"5\r\nhello\r\n0\r\n\n",
		"5\r\nhello\r\n0\r\n\r\r",
		"5;a\x01" "b\r\nhello\r\n0\r\n\r\n",
		"5;a\nb\r\nhello\r\n0\r\n\r\n",
		"00000000000000005\r\nhello\r\n0\r\n\r\n", /* 17 digits */
		"8000000000000000\r\n",                     /* 2^63 */
		"ffffffffffffffff\r\n",
		"0\r\n folded: x\r\n\r\n",
		"0\r\nX : y\r\n\r\n",
		"0\r\nX: a\x01\r\n\r\n",
		"0\r\nX: y\n\r\n",
		"0\r\n: y\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(chunk_bad(bad[i], strlen(bad[i]), 0), -EBADMSG, "case %zu: %s", i, bad[i]);

	/* 7fffffffffffffff is the largest size taken. */
	wr_chunked d;
	size_t used, got;
	char out[32];
	wr__chunked_init(&d, 0);
	cr_assert_eq(wr__chunked_decode(&d, "7fffffffffffffff\r\nab", 20, &used, out, &got), 0);
	cr_assert_eq(got, 2);
	cr_assert_eq(d.remaining, (uint64_t)INT64_MAX - 2);
}

Test(http_chunked, bounded_extensions_and_trailers)
{
	static char buf[40000];
	size_t n = (size_t)sprintf(buf, "1;x=");
	memset(buf + n, 'a', 5000);
	n += 5000;
	n += (size_t)sprintf(buf + n, "\r\nz\r\n0\r\n\r\n");
	cr_assert_eq(chunk_bad(buf, n, 0), -EBADMSG);

	n = (size_t)sprintf(buf, "0\r\n");
	for (int i = 0; i < 1000; i++)
		n += (size_t)sprintf(buf + n, "X-Trailer-%d: value\r\n", i);
	n += (size_t)sprintf(buf + n, "\r\n");
	cr_assert_eq(chunk_bad(buf, n, 0), -EBADMSG);

	/* Endless whitespace before ';' is bounded too. */
	n = (size_t)sprintf(buf, "1");
	memset(buf + n, ' ', 5000);
	n += 5000;
	cr_assert_eq(chunk_bad(buf, n, 0), -EBADMSG);
}

Test(http_chunked, max_total)
{
	const char *in = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
	cr_assert_eq(chunk_bad(in, strlen(in), 11), 1, "exactly at the limit");
	cr_assert_eq(chunk_bad(in, strlen(in), 10), -EFBIG);
	cr_assert_eq(chunk_bad(in, strlen(in), 4), -EFBIG);
	cr_assert_eq(wr__http_status_for(-EFBIG), 413);
	/* Refused as soon as the size line is read, before any of that data arrives. */
	wr_chunked d;
	size_t used, got;
	char out[16];
	wr__chunked_init(&d, 1000);
	cr_assert_eq(wr__chunked_decode(&d, "3e9\r\n", 5, &used, out, &got), -EFBIG);
}

Test(http_request, garbage_refused_early)
{
	wr_http_req_head h;
	/* The start of a TLS ClientHello: no need to wait for the rest. */
	cr_assert_eq(parse_req_n("\x16\x03\x01\x02\x00\x01", 6, &h), -EBADMSG);
	cr_assert_eq(parse_req_n("GE\x01", 3, &h), -EBADMSG);
	cr_assert_eq(parse_req_n(" ", 1, &h), -EBADMSG);
	cr_assert_eq(parse_req_n("\r\n ", 3, &h), -EBADMSG);
	cr_assert_eq(parse_req_n("GET", 3, &h), -EAGAIN);
	cr_assert_eq(parse_req_n("GET /\x01", 6, &h), -EAGAIN, "only the method is checked early");

	wr_http_resp_head rh;
	cr_assert_eq(wr__http_parse_response("HTTX", 4, 0, MAX_HEAD, &rh), -EBADMSG);
	cr_assert_eq(wr__http_parse_response("HTT", 3, 0, MAX_HEAD, &rh), -EAGAIN);
	cr_assert_eq(wr__http_parse_response("<html>", 6, 0, MAX_HEAD, &rh), -EBADMSG);
}

/* Mutations of valid requests: one byte at each position replaced by each of a set of awkward
 * values. Whatever the verdict, feeding the bytes a prefix at a time must reach the same one
 * (resumption never changes the answer), and nothing reads outside the buffer. */
Test(http_request, mutations_agree_at_every_split)
{
	static const char vals[] = {'\0', '\r', '\n', ' ', '\t', ':', ',', 0x7f, (char)0x80, 'a', '0'};
	static const char *const seeds[] = {
		"GET /a?b HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
		"\r\nGET / HTTP/1.0\nX: y\n\n",
	};
	char buf[256];
	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		size_t n = strlen(seeds[s]);
		for (size_t pos = 0; pos < n; pos++) {
			for (size_t v = 0; v < sizeof(vals); v++) {
				memcpy(buf, seeds[s], n);
				buf[pos] = vals[v];
				wr_http_req_head whole, part;
				int want = wr__http_parse_request(buf, n, 0, MAX_HEAD, &whole);
				size_t prev = 0;
				int rc = -EAGAIN;
				for (size_t k = 1; k <= n; k++) {
					rc = wr__http_parse_request(buf, k, prev, MAX_HEAD, &part);
					if (rc != -EAGAIN)
						break;
					prev = k;
				}
				cr_assert_eq(rc, want, "seed %zu pos %zu val %#x: %d vs %d", s, pos,
				             (unsigned char)vals[v], rc, want);
				if (rc > 0)
					assert_same_head(&part, buf, &whole, buf);
			}
		}
	}
}

/* Same for the chunked decoder: whole and byte by byte agree on verdict, consumption, output. */
Test(http_chunked, mutations_agree_byte_by_byte)
{
	static const char vals[] = {'\0', '\r', '\n', ' ', ';', ':', 'f', '0', 'g', 0x7f};
	static const char seed[] = "5;e=1\r\nhello\r\n1\r\n!\r\n0\r\nT: v\r\n\r\n";
	size_t n = sizeof(seed) - 1;
	char in[64], out1[64], out2[64];
	for (size_t pos = 0; pos < n; pos++) {
		for (size_t v = 0; v < sizeof(vals); v++) {
			memcpy(in, seed, n);
			in[pos] = vals[v];
			wr_chunked d1, d2;
			size_t used1 = 0, got1 = 0, used2 = 0, got2 = 0, u, g;
			wr__chunked_init(&d1, 0);
			wr__chunked_init(&d2, 0);
			int rc1 = wr__chunked_decode(&d1, in, n, &used1, out1, &got1);
			int rc2 = 0;
			for (size_t i = 0; i < n && rc2 == 0; i++) {
				rc2 = wr__chunked_decode(&d2, in + i, 1, &u, out2 + got2, &g);
				if (rc2 >= 0) {
					used2 += u;
					got2 += g;
				}
			}
			cr_assert_eq(rc1, rc2, "pos %zu val %#x", pos, (unsigned char)vals[v]);
			if (rc1 >= 0) {
				cr_assert_eq(used1, used2);
				cr_assert_eq(got1, got2);
				cr_assert_eq(memcmp(out1, out2, got1), 0);
			}
		}
	}
}
