/* Opening handshake checks (both sides), the accept key, close payloads and close codes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"
#include "ws_codec.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

Test(ws_handshake, accept_key_rfc_example)
{
	char out[29];
	memset(out, 'x', sizeof(out));
	wr__ws_accept_key(KEY, strlen(KEY), out);
	cr_assert_str_eq(out, ACCEPT);
}

Test(ws_handshake, accept_key_other)
{
	/* Computed independently: printf '%s' 'x3JJHMbDL1EzLkh9GBhXDw==258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
	 * | openssl sha1 -binary | base64 */
	char out[29];
	wr__ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out);
	cr_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

/* ---- server side: the upgrade request ---- */

static int check_raw(const char *req, wr_str *key)
{
	static wr_http_req_head h;
	int n = wr__http_parse_request(req, strlen(req), 0, 8192, &h);
	cr_assert_gt(n, 0, "request did not parse (%d):\n%s", n, req);
	*key = (wr_str){NULL, 0};
	return wr__ws_check_upgrade(&h, key);
}

/* A request from a template: each %s is one optional header line (with its CRLF). */
static char *build(char *buf, size_t cap, const char *method, const char *version,
                   const char *host, const char *upgrade, const char *connection, const char *key,
                   const char *ws_version)
{
	snprintf(buf, cap, "%s /chat HTTP/%s\r\n%s%s%s%s%sOrigin: http://example.com\r\n\r\n",
	         method, version, host, upgrade, connection, key, ws_version);
	return buf;
}

#define HOST "Host: server.example.com\r\n"
#define UPG "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define SKEY "Sec-WebSocket-Key: " KEY "\r\n"
#define VER "Sec-WebSocket-Version: 13\r\n"

Test(ws_handshake, upgrade_valid)
{
	char b[1024];
	wr_str key;
	cr_assert_eq(check_raw(build(b, sizeof(b), "GET", "1.1", HOST, UPG, CONN, SKEY, VER), &key), 0);
	cr_assert_eq(key.len, 24);
	cr_assert(memcmp(key.data, KEY, 24) == 0);

	/* Token lists and case. */
	static const char *const upgrades[] = {
		"Upgrade: WebSocket\r\n",
		"Upgrade: websocket, foo\r\n",
		"upgrade: foo/2, WEBSOCKET\r\n",
	};
	static const char *const conns[] = {
		"Connection: keep-alive, Upgrade\r\n",
		"connection: upgrade\r\n",
		"Connection: UPGRADE , close\r\n",
		"Connection: keep-alive\r\nConnection: Upgrade\r\n",
	};
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 4; j++) {
			build(b, sizeof(b), "GET", "1.1", HOST, upgrades[i], conns[j], SKEY, VER);
			cr_assert_eq(check_raw(b, &key), 0, "%s", b);
			cr_assert_eq(key.len, 24);
		}
	cr_assert_eq(check_raw(build(b, sizeof(b), "GET", "1.1", HOST, UPG, CONN,
	                             "sec-websocket-key:   " KEY "  \r\n",
	                             "sec-websocket-version: 13\r\n"), &key), 0);
	cr_assert_eq(key.len, 24);
}

Test(ws_handshake, upgrade_defects)
{
	char b[1024];
	wr_str key;
	struct {
		const char *what;
		const char *method, *version, *host, *upgrade, *conn, *key, *ver;
		int want;
	} cases[] = {
		{"POST", "POST", "1.1", HOST, UPG, CONN, SKEY, VER, 400},
		{"lowercase get", "get", "1.1", HOST, UPG, CONN, SKEY, VER, 400},
		{"HEAD", "HEAD", "1.1", HOST, UPG, CONN, SKEY, VER, 400},
		{"HTTP/1.0", "GET", "1.0", HOST, UPG, CONN, SKEY, VER, 400},
		{"no Upgrade", "GET", "1.1", HOST, "", CONN, SKEY, VER, 400},
		{"Upgrade h2c", "GET", "1.1", HOST, "Upgrade: h2c\r\n", CONN, SKEY, VER, 400},
		{"Upgrade websockets", "GET", "1.1", HOST, "Upgrade: websockets\r\n", CONN, SKEY, VER, 400},
		{"no Connection", "GET", "1.1", HOST, UPG, "", SKEY, VER, 400},
		{"Connection keep-alive", "GET", "1.1", HOST, UPG, "Connection: keep-alive\r\n", SKEY,
		 VER, 400},
		{"Connection upgraded", "GET", "1.1", HOST, UPG, "Connection: upgraded\r\n", SKEY, VER,
		 400},
		{"no key", "GET", "1.1", HOST, UPG, CONN, "", VER, 400},
		{"empty key", "GET", "1.1", HOST, UPG, CONN, "Sec-WebSocket-Key: \r\n", VER, 400},
		{"key 15 bytes", "GET", "1.1", HOST, UPG, CONN,
		 "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n", VER, 400},
		{"key 17 bytes", "GET", "1.1", HOST, UPG, CONN,
		 "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n", VER, 400},
		{"key 18 bytes", "GET", "1.1", HOST, UPG, CONN,
		 "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\n", VER, 400},
		{"key unpadded", "GET", "1.1", HOST, UPG, CONN,
		 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n", VER, 400},
		{"key bad char", "GET", "1.1", HOST, UPG, CONN,
		 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ*==\r\n", VER, 400},
		{"key twice", "GET", "1.1", HOST, UPG, CONN, SKEY SKEY, VER, 400},
		{"no version", "GET", "1.1", HOST, UPG, CONN, SKEY, "", 426},
		{"version 8", "GET", "1.1", HOST, UPG, CONN, SKEY, "Sec-WebSocket-Version: 8\r\n", 426},
		{"version 14", "GET", "1.1", HOST, UPG, CONN, SKEY, "Sec-WebSocket-Version: 14\r\n", 426},
		{"version 013", "GET", "1.1", HOST, UPG, CONN, SKEY, "Sec-WebSocket-Version: 013\r\n",
		 426},
		{"version list", "GET", "1.1", HOST, UPG, CONN, SKEY,
		 "Sec-WebSocket-Version: 13, 8\r\n", 426},
		{"version empty", "GET", "1.1", HOST, UPG, CONN, SKEY, "Sec-WebSocket-Version:\r\n", 426},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		build(b, sizeof(b), cases[i].method, cases[i].version, cases[i].host, cases[i].upgrade,
		      cases[i].conn, cases[i].key, cases[i].ver);
		key = (wr_str){"untouched", 9};
		int r = check_raw(b, &key);
		cr_assert_eq(r, cases[i].want, "%s: got %d, want %d", cases[i].what, r, cases[i].want);
	}
}

/* The HTTP parser already refuses a 1.1 request without Host: build that head by hand. */
Test(ws_handshake, upgrade_no_host)
{
	static wr_http_req_head h;
	memset(&h, 0, sizeof(h));
	h.method = (wr_str){"GET", 3};
	h.target = h.path = (wr_str){"/", 1};
	h.version = 11;
	h.content_length = -1;
	h.conn_upgrade = true;
	h.headers[0] = (wr_http_header){{"Upgrade", 7}, {"websocket", 9}};
	h.headers[1] = (wr_http_header){{"Connection", 10}, {"Upgrade", 7}};
	h.headers[2] = (wr_http_header){{"Sec-WebSocket-Key", 17}, {KEY, 24}};
	h.headers[3] = (wr_http_header){{"Sec-WebSocket-Version", 21}, {"13", 2}};
	h.nheaders = 4;
	wr_str key = {NULL, 0};
	cr_assert_eq(wr__ws_check_upgrade(&h, &key), 400);
	cr_assert_null(key.data);

	h.headers[4] = (wr_http_header){{"Host", 4}, {"a.example", 9}};
	h.nheaders = 5;
	h.host = h.headers[4].value;
	cr_assert_eq(wr__ws_check_upgrade(&h, &key), 0);
	cr_assert_eq(key.len, 24);

	/* Hand-built without the derived conn_upgrade flag: the header itself counts. */
	h.conn_upgrade = false;
	cr_assert_eq(wr__ws_check_upgrade(&h, &key), 0);
	h.headers[1].value = (wr_str){"close", 5};
	cr_assert_eq(wr__ws_check_upgrade(&h, &key), 400);
}

/* ---- client side: the server's answer ---- */

static int check_resp(const char *resp, const char *const *offered, wr_str *proto)
{
	static wr_http_resp_head h;
	int n = wr__http_parse_response(resp, strlen(resp), 0, 8192, &h);
	cr_assert_gt(n, 0, "response did not parse (%d):\n%s", n, resp);
	*proto = (wr_str){"untouched", 9};
	return wr__ws_check_response(&h, ACCEPT, offered, NULL, proto, NULL);
}

#define R101 "HTTP/1.1 101 Switching Protocols\r\n"
#define RUPG "Upgrade: websocket\r\n"
#define RCONN "Connection: Upgrade\r\n"
#define RACC "Sec-WebSocket-Accept: " ACCEPT "\r\n"

Test(ws_handshake, response_valid)
{
	wr_str proto;
	cr_assert_eq(check_resp(R101 RUPG RCONN RACC "\r\n", NULL, &proto), 0);
	cr_assert_null(proto.data);
	cr_assert_eq(proto.len, 0);

	static const char *const offered[] = {"chat", "superchat", NULL};
	cr_assert_eq(check_resp(R101 RUPG RCONN RACC "\r\n", offered, &proto), 0);
	cr_assert_null(proto.data);
	cr_assert_eq(check_resp(R101 "upgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
	                        "sec-websocket-accept: " ACCEPT "\r\n"
	                        "Sec-WebSocket-Protocol: superchat\r\n\r\n", offered, &proto), 0);
	cr_assert_eq(proto.len, 9);
	cr_assert(memcmp(proto.data, "superchat", 9) == 0);
}

Test(ws_handshake, response_defects)
{
	static const char *const offered[] = {"chat", NULL};
	static const char *const none[] = {NULL};
	struct {
		const char *what;
		const char *resp;
		const char *const *offered;
	} cases[] = {
		{"200", "HTTP/1.1 200 OK\r\n" RUPG RCONN RACC "Content-Length: 0\r\n\r\n", NULL},
		{"HTTP/1.0 101", "HTTP/1.0 101 Switching Protocols\r\n" RUPG RCONN RACC "\r\n", NULL},
		{"no Upgrade", R101 RCONN RACC "\r\n", NULL},
		{"Upgrade h2c", R101 "Upgrade: h2c\r\n" RCONN RACC "\r\n", NULL},
		{"no Connection", R101 RUPG RACC "\r\n", NULL},
		{"Connection close", R101 RUPG "Connection: close\r\n" RACC "\r\n", NULL},
		{"no accept", R101 RUPG RCONN "\r\n", NULL},
		{"wrong accept", R101 RUPG RCONN
		 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOA=\r\n\r\n", NULL},
		{"accept case", R101 RUPG RCONN
		 "Sec-WebSocket-Accept: S3PPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", NULL},
		{"accept prefix", R101 RUPG RCONN
		 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n", NULL},
		{"accept twice", R101 RUPG RCONN RACC RACC "\r\n", NULL},
		{"protocol not offered (none)", R101 RUPG RCONN RACC
		 "Sec-WebSocket-Protocol: chat\r\n\r\n", NULL},
		{"protocol not offered (empty list)", R101 RUPG RCONN RACC
		 "Sec-WebSocket-Protocol: chat\r\n\r\n", none},
		{"protocol other", R101 RUPG RCONN RACC "Sec-WebSocket-Protocol: superchat\r\n\r\n",
		 offered},
		{"protocol list", R101 RUPG RCONN RACC "Sec-WebSocket-Protocol: chat, chat\r\n\r\n",
		 offered},
		{"protocol twice", R101 RUPG RCONN RACC
		 "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n", offered},
		{"extension", R101 RUPG RCONN RACC
		 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wr_str proto;
		int r = check_resp(cases[i].resp, cases[i].offered, &proto);
		cr_assert_eq(r, -EPROTO, "%s: got %d", cases[i].what, r);
		cr_assert_eq(proto.len, 9, "%s: out_protocol touched on failure", cases[i].what);
	}
}

/* ---- close payloads ---- */

Test(ws_handshake, close_payload)
{
	uint8_t out[125];
	cr_assert_eq(wr__ws_close_payload(out, 0, "ignored", 7), 0);
	cr_assert_eq(wr__ws_close_payload(out, 1000, NULL, 0), 2);
	cr_assert(memcmp(out, "\x03\xe8", 2) == 0);
	cr_assert_eq(wr__ws_close_payload(out, 4321, "bye", 3), 5);
	cr_assert(memcmp(out, "\x10\xe1" "bye", 5) == 0);

	char r[300];
	memset(r, 'a', sizeof(r));
	cr_assert_eq(wr__ws_close_payload(out, 1001, r, 123), 125);
	cr_assert_eq(wr__ws_close_payload(out, 1001, r, 124), 125);
	cr_assert_eq(wr__ws_close_payload(out, 1001, r, sizeof(r)), 125);
	cr_assert(memcmp(out + 2, r, 123) == 0);
}

/* Truncation never splits a character, for every character width and every alignment. */
Test(ws_handshake, close_payload_utf8_boundary)
{
	static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e"};
	for (size_t c = 0; c < 3; c++) {
		size_t w = strlen(chars[c]);
		for (size_t lead = 0; lead < 4; lead++) {
			char r[200];
			size_t n = 0;
			for (size_t i = 0; i < lead; i++)
				r[n++] = 'x';
			while (n + w <= sizeof(r)) {
				memcpy(r + n, chars[c], w);
				n += w;
			}
			uint8_t out[125];
			size_t len = wr__ws_close_payload(out, 1000, r, n);
			/* The longest prefix of whole characters within 123 bytes. */
			size_t want = lead + (123 - lead) / w * w;
			cr_assert_eq(len, 2 + want, "width %zu lead %zu: %zu, want %zu", w, lead, len,
			             2 + want);
			cr_assert(wr__utf8_valid(out + 2, len - 2));
			cr_assert(memcmp(out + 2, r, want) == 0);
		}
	}
}

/* ---- close code table ---- */

static bool expect_valid(int c)
{
	if (c >= 1000 && c <= 1003)
		return true;
	if (c >= 1007 && c <= 1014)
		return true;
	return c >= 3000 && c <= 4999;
}

Test(ws_handshake, close_code_table)
{
	for (int c = -5; c <= 5100; c++)
		cr_assert_eq(wr__ws_close_code_valid(c), expect_valid(c), "code %d", c);
	static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!wr__ws_close_code_valid(bad[i]), "code %d", bad[i]);
	static const int good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
	                           1013, 1014, 3000, 3999, 4000, 4999};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(wr__ws_close_code_valid(good[i]), "code %d", good[i]);
	cr_assert(wr__ws_close_code_sendable(1000));
	cr_assert(!wr__ws_close_code_sendable(1005));
}
