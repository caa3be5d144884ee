/* RFC 6455 §4 opening handshake: the accept key and the checks each side makes of the other's
 * head. The HTTP parser has already split the head into trimmed name/value views. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "sha1.h"
#include "deflate_codec.h"
#include "ws_codec.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* A valid key is 24 characters; anything longer than this is cut (never reached through
 * wr__ws_check_upgrade, which only passes 24-character keys). */
#define MAX_KEY 128

void wr__ws_accept_key(const char *key, size_t key_len, char out[29])
{
	uint8_t buf[MAX_KEY + sizeof(ws_guid)];
	uint8_t digest[20];

	if (key_len > MAX_KEY)
		key_len = MAX_KEY;
	memcpy(buf, key, key_len);
	memcpy(buf + key_len, ws_guid, sizeof(ws_guid) - 1);
	wr__sha1(buf, key_len + sizeof(ws_guid) - 1, digest);
	wr__base64_encode(digest, sizeof(digest), out);
}

static bool name_is(wr_str name, const char *want)
{
	size_t n = strlen(want);
	return name.len == n && strncasecmp(name.data, want, n) == 0;
}

static bool str_is(wr_str s, const char *want)
{
	size_t n = strlen(want);
	return s.data != NULL && s.len == n && memcmp(s.data, want, n) == 0;
}

/* Does any header called name carry token in its comma-separated list? Headers may repeat
 * (RFC 9110 §5.3), so all of them count. */
static bool any_has_token(const wr_http_header *h, size_t n, const char *name, const char *token)
{
	for (size_t i = 0; i < n; i++)
		if (name_is(h[i].name, name) && wr__http_has_token(h[i].value, token))
			return true;
	return false;
}

/* How many headers are called name; *out_first is the first one's value. */
static size_t count_headers(const wr_http_header *h, size_t n, const char *name, wr_str *out_first)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++) {
		if (!name_is(h[i].name, name))
			continue;
		if (count++ == 0)
			*out_first = h[i].value;
	}
	return count;
}

int wr__ws_check_upgrade(const wr_http_req_head *h, wr_str *out_key)
{
	wr_str key = {NULL, 0};
	wr_str version = {NULL, 0};
	wr_str host = {NULL, 0};
	uint8_t raw[24];

	if (!str_is(h->method, "GET") || h->version != 11)
		return 400;
	if (h->host.data == NULL && count_headers(h->headers, h->nheaders, "Host", &host) == 0)
		return 400;
	if (!any_has_token(h->headers, h->nheaders, "Upgrade", "websocket"))
		return 400;
	if (!h->conn_upgrade && !any_has_token(h->headers, h->nheaders, "Connection", "upgrade"))
		return 400;
	if (count_headers(h->headers, h->nheaders, "Sec-WebSocket-Key", &key) != 1 ||
	    key.data == NULL)
		return 400;
	if (wr__base64_decode(key.data, key.len, raw, sizeof(raw)) != 16)
		return 400;
	/* Only version 13 exists; the answer to anything else is 426 naming it (§4.2.2). */
	if (count_headers(h->headers, h->nheaders, "Sec-WebSocket-Version", &version) != 1 ||
	    !str_is(version, "13"))
		return 426;
	*out_key = key;
	return 0;
}

int wr__ws_check_response(const wr_http_resp_head *h, const char *expected_accept,
                          const char *const *offered, const wr_deflate_config *deflate,
                          wr_str *out_protocol, struct wr_pmd_params *out_pmd)
{
	wr_str exts[8];
	size_t next = 0;
	wr_pmd_params pmd;
	int negotiated = 0;
	wr_str accept = {NULL, 0};
	wr_str proto = {NULL, 0};
	size_t nproto;

	if (h->status != 101 || h->version != 11)
		return -EPROTO;
	if (!any_has_token(h->headers, h->nheaders, "Upgrade", "websocket") ||
	    !any_has_token(h->headers, h->nheaders, "Connection", "upgrade"))
		return -EPROTO;
	if (count_headers(h->headers, h->nheaders, "Sec-WebSocket-Accept", &accept) != 1 ||
	    !str_is(accept, expected_accept))
		return -EPROTO;
	/* An extension we did not offer is a failure (§4.1 item 5). */
	for (size_t i = 0; i < h->nheaders; i++) {
		if (!name_is(h->headers[i].name, "Sec-WebSocket-Extensions"))
			continue;
		if (!deflate || next == 8)
			return -EPROTO;
		exts[next++] = h->headers[i].value;
	}
	if (next) {
		negotiated = wr__pmd_client_check(exts, next, deflate, &pmd);
		if (negotiated < 0)
			return -EPROTO;
	}
	nproto = count_headers(h->headers, h->nheaders, "Sec-WebSocket-Protocol", &proto);
	if (nproto > 1)
		return -EPROTO;
	if (nproto == 1) {
		bool found = false;
		for (size_t i = 0; offered != NULL && offered[i] != NULL && !found; i++)
			found = str_is(proto, offered[i]);
		if (!found)
			return -EPROTO;
	} else {
		proto = (wr_str){NULL, 0};
	}
	*out_protocol = proto;
	if (negotiated)
		*out_pmd = pmd;
	return negotiated;
}
