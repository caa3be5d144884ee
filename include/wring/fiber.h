/* wring: sequential handlers on fibers — the seed's `while (ws.read(msg)) ws.send(msg);`
 * without a thread per connection.
 *
 * A fiber WebSocket route runs its handler on a fiber of the connection's reactor: a small
 * stack of its own (WR_FIBER_DEFAULT_STACK, 64 KiB, or wr_server_config.fiber_stack_bytes;
 * mapped with a guard page below it, so an overflow dies with SIGSEGV rather than corrupting
 * memory), taken from the reactor's pool. A call that would wait (wr_ws_read, a send past the
 * backpressure mark, wr_fiber_sleep) suspends the fiber and lets the reactor serve every other
 * connection meanwhile; the handler never blocks the thread.
 *
 * Choose this style for conversations (read, decide, answer, read again) and when porting
 * thread-per-connection code; choose callbacks (wr_ws_handlers) for the highest message rate
 * per core and for fan-out, where a message needs no context beyond the connection's. */
#ifndef WRING_FIBER_H
#define WRING_FIBER_H

#include "common.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WR_FIBER_DEFAULT_STACK (64u * 1024u)

typedef struct wr_ws_fiber {
	/* Optional, as in wr_ws_handlers: refuse the upgrade with an HTTP status before the 101. */
	int (*on_upgrade)(const wr_req *req, wr_upgrade *up, void *user);
	/* The connection's whole life, after the 101. req is borrowed until the handler first
	 * waits; ws until the handler returns. When it returns the connection closes with 1000,
	 * or with the code of a wr_ws_close the handler made itself. Once the connection has
	 * closed, every call that would wait returns at once (read 0, sends -EPIPE, sleep
	 * -ECANCELED): the handler should then return. */
	void (*handler)(wr_ws *ws, const wr_req *req, void *user);
	void *user;                   /* passed to both; must outlive the server */
	unsigned drain_timeout_ms;    /* a send past the mark waits this long for the peer to
	                                 read; then the send fails with -ETIMEDOUT and the
	                                 connection closes with 1008. 0: 30000 */
	wr_deflate_config deflate;    /* permessage-deflate, as in wr_ws_handlers: wr_ws_read
	                                 gives the inflated message */
	size_t max_unread_bytes;      /* messages that came while the handler was not reading
	                                 are kept (copied) in order; past this many bytes of
	                                 them the connection stops receiving until the handler
	                                 has read half of them: TCP then holds the peer back,
	                                 nothing is dropped or closed. 0: 1 MiB. One message is
	                                 always taken whole (up to max_message_bytes) */
	bool stream_large;            /* as in wr_ws_handlers: a message over max_message_bytes
	                                 is read in pieces (msg.more, msg.offset) */
} wr_ws_fiber;

/* Register a fiber WebSocket route; f is copied. 0, -EINVAL, -EBUSY, -ENOSPC, -ENOMEM.
 * A fiber route uses the connection's data slot itself (wr_ws_data is not the user's). */
WR_API int wr_server_websocket_fiber(wr_server *srv, const char *path, const wr_ws_fiber *f);

/* From the fiber that reads ws (its route's handler, or the fiber that opened it with
 * wr_fiber_connect): wait for the next text or binary message (pings and pongs are answered
 * and skipped). Returns 1 with *out_msg, a view borrowed until the next wr_ws_read (or
 * wr_ws_read_any) or the handler's return, sleeps and drain waits included; 0 once the
 * connection has closed and every message was read (out_msg untouched); -EPERM when not
 * called from ws's fiber; -ENOMEM. With stream_large, a message over the limit comes in
 * pieces (msg.more, msg.offset). */
WR_API int wr_ws_read(wr_ws *ws, wr_msg *out_msg);

/* wr_ws_read over several connections the running fiber reads (its own and those it opened
 * with wr_fiber_connect; at most 16): waits until one has a message or has closed. Returns 1
 * with *out_idx (the index in set) and *out_msg, a view borrowed until the next read; 0 with
 * *out_idx when that connection has closed (its messages all read); -ECANCELED when the
 * fiber's own connection closed and none of set has anything left; -EPERM when one of set is
 * not the running fiber's; -EINVAL. When several have messages, they take turns. */
WR_API int wr_ws_read_any(wr_ws *const *set, unsigned n, unsigned *out_idx, wr_msg *out_msg);

/* From the fiber that reads ws: how it closed, once a read has said so: the peer's close
 * code (1005 when it gave none), 1006 when the connection dropped, or our own code when we
 * closed or failed it; 0 while open; -EPERM off its fiber. A relay passes it on. */
WR_API int wr_ws_close_code(const wr_ws *ws);

/* From a fiber (of a WebSocket or an HTTP route): open a client connection to url
 * (ws:// or wss://) on the fiber's own reactor, as wr_loop_connect does, and wait for its
 * handshake. The connection is this fiber's alone: read it with wr_ws_read or
 * wr_ws_read_any, send with the wr_ws_send family (a send past the mark waits for the drain,
 * as on the fiber's own connection), close with wr_ws_close. It stays valid (a closed one
 * reads 0 and refuses sends with -EPIPE) until wr_fiber_ws_free or the handler's return,
 * which frees what is left. url and opts are borrowed until return (opts as for
 * wr_loop_connect; NULL: defaults). Returns NULL with *out_err: code as wr_client_connect
 * (-EINVAL bad URL, -ECONNREFUSED, -ETIMEDOUT, -EPROTO, -ENOTSUP, -EHOSTUNREACH, -ECANCELED
 * when the fiber's own connection closed meanwhile, -EPERM off a fiber, -ENOMEM) and
 * http_status the status of a refusal. */
struct wr_client_options;
struct wr_client_err;
WR_API wr_ws *wr_fiber_connect(const char *url, const struct wr_client_options *opts,
                               struct wr_client_err *out_err);
/* Run fn(arg) on a new fiber of an async client's loop (client.h): sequential clients
 * (wr_fiber_connect, wr_ws_read, wr_fiber_sleep), many on one thread, none blocking it.
 * Call it from the loop's own thread: before wr_loop_run or from its callbacks and fibers
 * (not thread-safe). A fiber started before the loop runs waits for it. Fibers should end
 * before wr_loop_free (their connections then read 0). 0 or -ENOMEM. */
struct wr_loop;
WR_API int wr_loop_spawn(struct wr_loop *loop, void (*fn)(void *arg), void *arg);

/* Close (1000, when still open; the closing handshake finishes on its own) and free a
 * connection from wr_fiber_connect. From its fiber; ws is invalid afterwards. */
WR_API void wr_fiber_ws_free(wr_ws *ws);

/* ---- sequential HTTP handlers ---- */

typedef struct wr_http_fiber {
	/* The whole request, on a fiber of the connection's reactor, dispatched as soon as the
	 * head is in: the body is read with wr_req_read as it arrives. req and res are
	 * borrowed until return (and so are the views wr_req_* give). The response is what
	 * the wr_res_* calls made: with no wr_res_write, one answer with Content-Length when
	 * the handler returns; after one, a chunked stream (close-delimited for HTTP/1.0)
	 * ended when the handler returns. The connection is kept alive for the next request
	 * only when the body was read to its end and nothing failed. */
	void (*handler)(wr_req *req, wr_res *res, void *user);
	void *user;                  /* must outlive the server */
	unsigned drain_timeout_ms;   /* a write past 64 KiB queued waits this long for the client
	                                to read, then fails with -ETIMEDOUT (the connection is
	                                dropped); 0: 30000 */
	unsigned read_timeout_ms;    /* wr_req_read waits this long for body bytes; 0: the
	                                server's idle_timeout_ms */
} wr_http_fiber;

/* Register a sequential HTTP route (method and pattern as wr_server_route; f is copied).
 * Its body is not limited by max_body_bytes (nothing gathers it): the handler reads it in
 * pieces, in bounded memory. 0, -EINVAL, -EBUSY, -ENOSPC, -ENOMEM. */
WR_API int wr_server_route_fiber(wr_server *srv, const char *method, const char *pattern,
                                 const wr_http_fiber *f);

/* From a fiber route's handler: the next piece of the request body, as it arrives, whatever
 * the framing (Content-Length or chunked, decoded). Returns 1 with *out_piece, a view
 * borrowed until the next call or the handler's return; 0 at the end of the body (at once
 * for a request without one); -ECONNRESET when the client went away; -EBADMSG for a
 * malformed chunked body (answer 400 if you like: the connection closes after the answer);
 * -ETIMEDOUT when read_timeout_ms passed without a byte; -EPERM off a fiber route's handler.
 * An "Expect: 100-continue" is answered by the first call. */
WR_API int wr_req_read(wr_req *req, wr_str *out_piece);
/* From a fiber route's handler: send data (borrowed until return) as the next part of a
 * streamed answer. The first call sends the status and headers set so far (and what
 * wr_res_body gathered) with Transfer-Encoding: chunked; later wr_res_header calls fail
 * with -EALREADY and wr_res_status calls are ignored. Past 64 KiB queued it waits for the client to
 * read. Returns 0; -EPIPE once the client has gone; -ETIMEDOUT (drain_timeout_ms);
 * -EPERM off a fiber route's handler; -ENOMEM. A HEAD request sends no body: writes return 0. */
WR_API int wr_res_write(wr_res *res, const void *data, size_t len);

/* From a fiber: let the reactor run for ms milliseconds (100 ms ticks are not involved: the
 * reactor's wait is cut to the first sleeper). 0; -ECANCELED at once once the fiber's
 * connection has closed; -EPERM off a fiber. */
WR_API int wr_fiber_sleep(unsigned ms);

#ifdef __cplusplus
}
#endif
#endif
