/* The server side of the opening handshake (RFC 6455 §4.2), as the upgrade hook of WebSocket
 * routes: check the request, let on_upgrade refuse or add headers, answer 101 with the accept
 * key and the chosen subprotocol, then switch the connection to WebSocket and hand it the
 * bytes that followed the request. And the public wr_upgrade_* API used inside on_upgrade. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "http_req.h"
#include "log.h"
#include "ws_deflate.h"
#include "ws_int.h"

struct wr_upgrade {
	wr_buf *headers;
	const char *protocol;
	void *data;
	wr_str offered;   /* Sec-WebSocket-Protocol of the request */
	int error;        /* first failure of wr_upgrade_header */
};

static void count_refused(wr_conn *c)
{
	if (c->r->stats)
		WR_STAT_ADD(c->r->stats->refused[WR_STATS_REFUSED_HANDSHAKE], 1);
}

/* An answer other than 101: the hook's status, or 500 when its headers could not be added. */
static void refuse(wr_conn *c, const wr_http_req_head *h, int status, wr_buf *hb)
{
	count_refused(c);
	if (status < 400 || status > 599)
		status = 403;
	static const char ct[] = "Content-Type: text/plain; charset=utf-8\r\n";
	wr__buf_append(hb, ct, sizeof(ct) - 1);
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, wr__http_reason(status));
	/* HTTP goes on after a refusal, and closes when the request did not keep alive. */
	wr__http_respond(c, status, hb, body, (size_t)n, false, !h->keep_alive);
}

/* Headers read for extension offers; more are ignored (a browser sends one). */
#define MAX_EXT_HEADERS 8

/* The permessage-deflate offers of h, if the route wants the extension: 1 with the answer
 * line when one is accepted. */
static int negotiate_deflate(const wr_ws_route *rt, const wr_http_req_head *h,
                             wr_pmd_params *out, char line[WR_PMD_LINE_MAX], size_t *out_len)
{
	wr_str v[MAX_EXT_HEADERS];
	size_t nv = 0;
	if (!rt->h.deflate.enable)
		return 0;
	for (size_t i = 0; i < h->nheaders && nv < MAX_EXT_HEADERS; i++)
		if (h->headers[i].name.len == 24 &&
		    strncasecmp(h->headers[i].name.data, "Sec-WebSocket-Extensions", 24) == 0)
			v[nv++] = h->headers[i].value;
	return wr__pmd_server_accept(v, nv, &rt->h.deflate, out, line, out_len);
}

bool wr__ws_upgrade(wr_conn *c, wr_req *req, uint8_t *rest, size_t n, void *user)
{
	const wr_ws_route *rt = user;
	const wr_http_req_head *h = req->head;
	wr_str key;
	int st = wr__ws_check_upgrade(h, &key);
	if (st != 0)
		count_refused(c);
	if (st == 426) {
		wr__http_refuse(c, 426, "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n");
		return false;
	}
	if (st != 0) {
		wr__http_refuse(c, 400, NULL);
		return false;
	}
	wr_buf *hb = wr__http_scratch(c);
	wr_upgrade up = { .headers = hb,
	                  .offered = wr__http_find(h->headers, h->nheaders, "sec-websocket-protocol") };
	if (rt->h.on_upgrade) {
		int status = rt->h.on_upgrade(req, &up, rt->h.user);
		if (!status && up.error) {
			/* A header the hook asked for could not be added: answering 101 without it
			 * would hide the failure. */
			wr__log("on_upgrade for %.*s: wr_upgrade_header failed: %s", (int)h->path.len,
			        h->path.data, wr_strerror(up.error));
			hb->len = 0;
			status = 500;
		}
		if (status) {
			refuse(c, h, status, hb);
			return false;
		}
	}
	wr_ws_state *s = wr__conn_state_new(c, sizeof(*s));
	if (!s) {
		wr__conn_abort(c, -ENOMEM, "out of memory");
		return false;
	}
	s->rt = rt;
	s->size = sizeof(*s);
	s->data = up.data;
	wr_pmd_params pp;
	char ext[WR_PMD_LINE_MAX];
	size_t ext_len = 0;
	if (negotiate_deflate(rt, h, &pp, ext, &ext_len) > 0 &&
	    wr__ws_pmd_start(c, s, &pp, &rt->h.deflate) < 0) {
		wr__conn_state_free(c, s, sizeof(*s));
		wr__conn_abort(c, -ENOMEM, "out of memory");
		return false;
	}
	char accept[29];
	wr__ws_accept_key(key.data, key.len, accept);
	char line[256 + WR_PMD_LINE_MAX];
	int ln = snprintf(line, sizeof(line),
	                  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", accept);
	if (up.protocol)
		ln += snprintf(line + ln, sizeof(line) - (size_t)ln, "Sec-WebSocket-Protocol: %s\r\n",
		               up.protocol);
	if (s->pmd) {
		memcpy(line + ln, ext, ext_len);
		ln += (int)ext_len;
	}
	uint8_t *p = wr__conn_reserve(c, (size_t)ln + hb->len + 2);
	if (!p) {
		wr__ws_pmd_free(c, s);
		wr__conn_state_free(c, s, sizeof(*s));
		wr__conn_abort(c, -ENOMEM, "out of memory");
		return false;
	}
	memcpy(p, line, (size_t)ln);
	if (hb->len)
		memcpy(p + ln, hb->data, hb->len);
	memcpy(p + ln + hb->len, "\r\n", 2);
	if (up.protocol)
		wr__ws_set_protocol(c, s, (wr_str){ up.protocol, strlen(up.protocol) });
	/* From here on c speaks WebSocket: HTTP's state is no longer c's (it frees its own). */
	wr__ws_start(c, s);
	wr_route_stats *rs = ws_stats(c, s);
	if (rs)
		WR_STAT_ADD(rs->opens, 1);
	if (rt->h.on_open)
		rt->h.on_open((wr_ws *)c, req, rt->h.user);
	if (n && wr__conn_is_open(c))
		wr__conn_deliver(c, rest, n);
	return true;
}

int wr_upgrade_header(wr_upgrade *up, const char *name, const char *value)
{
	int rc = wr__http_header_add(up->headers, name, value);
	if (rc < 0 && !up->error)
		up->error = rc;
	return rc;
}

int wr_upgrade_protocol(wr_upgrade *up, const char *protocol)
{
	/* Only a protocol the client offered may be chosen (RFC 6455 §4.2.2). */
	wr_str want = { protocol, strlen(protocol) };
	if (!want.len || want.len > 46 || !up->offered.data || !wr__http_has_token(up->offered, protocol))
		return -EINVAL;
	up->protocol = protocol;
	return 0;
}

void wr_upgrade_set_data(wr_upgrade *up, void *data) { up->data = data; }
