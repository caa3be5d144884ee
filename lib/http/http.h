/* HTTP/1.1 as a protocol on a connection (server side): requests in, answers out in request
 * order, keep-alive, pipelining, error answers. A route that asks for a protocol switch
 * (router.h, WR_ROUTE_UPGRADE) gets the connection through its hook: HTTP knows nothing of
 * what it is upgraded to. */
#ifndef WR_LIB_HTTP_H
#define WR_LIB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "router.h"

/* What HTTP is told by the server; read-only once serving. */
typedef struct wr_http_config {
	const wr_router *router;
	unsigned max_header_bytes;
	size_t max_body_bytes;
	unsigned handshake_timeout_ms; /* first byte of a head to its end */
	unsigned idle_timeout_ms;      /* between requests */
	/* per-reactor stats of the requests no route took (404, 405); NULL: not counted */
	struct wr_http_route_stats *unmatched_stats;
} wr_http_config;

/* Per-reactor scratch (answer headers and body, the parsed head, the Date line). */
typedef struct wr_http_ctx wr_http_ctx;

wr_http_ctx *wr__http_ctx_new(const wr_http_config *cfg);
void wr__http_ctx_free(wr_http_ctx *ctx);

/* Speak HTTP on c from now on (a new server connection). 0 or -ENOMEM. */
int wr__http_attach(wr_conn *c, wr_http_ctx *ctx);

/* For upgrade hooks, while they run. The reactor's scratch buffer for answer headers
 * (emptied). */
wr_buf *wr__http_scratch(wr_conn *c);
/* Queue an answer: status line, Date, Content-Length (unless the status has no body), our
 * "Connection: close" when close, hdrs ("Name: value\r\n" lines, may be NULL) and the body
 * (not for HEAD). 0 or -ENOMEM. */
int wr__http_respond(wr_conn *c, int status, const wr_buf *hdrs, const void *body, size_t blen,
                     bool head_only, bool close);
/* For stream hooks (router.h WR_ROUTE_STREAM), while they run: c's HTTP context, to give
 * the connection back with later. */
wr_http_ctx *wr__http_ctx_of(wr_conn *c);
/* Speak HTTP on c again, after the owner of a stream route has answered: keep-alive, ready
 * for the next request (feed what came after the last one with wr__conn_deliver). 0 or
 * -ENOMEM. */
int wr__http_resume(wr_conn *c, wr_http_ctx *ctx);
/* An answer's head on c, whatever speaks on it: status line, Date, then Content-Length: len
 * (len >= 0), Transfer-Encoding: chunked (WR_HTTP_CHUNKED) or no framing at all
 * (WR_HTTP_UNTIL_CLOSE: the body ends with the connection), "Connection: close" when close,
 * hdrs, the blank line. 0 or -ENOMEM. */
#define WR_HTTP_CHUNKED (-1)
#define WR_HTTP_UNTIL_CLOSE (-2)
int wr__http_write_head(wr_conn *c, wr_http_ctx *ctx, int status, const wr_buf *hdrs,
                        int64_t len, bool close);
/* Refuse the request with a short text answer and close once it is out: the stream cannot be
 * trusted past it. extra_header: "Name: value\r\n" lines or NULL. */
void wr__http_refuse(wr_conn *c, int status, const char *extra_header);

#endif
