/* wring: the server — reactors, HTTP routes and WebSocket routes.
 *
 * A wr_server owns `threads` reactors (one pinned thread and io_uring each). Routes are
 * registered before wr_server_listen() and are read-only afterwards. Every callback runs on the
 * reactor thread that owns the connection; handlers must not block. A wr_ws is touched only from
 * its own reactor's thread (its callbacks, or work posted there with wr_server_run_on and
 * wr_ws_reactor): nothing here takes a lock. */
#ifndef WRING_SERVER_H
#define WRING_SERVER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wr_server wr_server;
typedef struct wr_req wr_req;         /* a parsed request, borrowed until the callback returns */
typedef struct wr_res wr_res;         /* the response being built, borrowed until the callback returns */
typedef struct wr_ws wr_ws;           /* a WebSocket connection, valid until on_close returns */
typedef struct wr_upgrade wr_upgrade; /* the pending 101 answer, borrowed during on_upgrade */

/* Zero means the default for every field. */
typedef struct wr_server_config {
	unsigned threads;             /* reactors; 0 = one per online CPU */
	unsigned max_conns;           /* per reactor; default 65536 */
	unsigned recv_buf_count;      /* provided receive buffers per reactor (power of 2); 1024 */
	unsigned recv_buf_size;       /* bytes per receive buffer; 16384 */
	unsigned max_header_bytes;    /* request line + headers; 8192, past it 431 */
	size_t max_body_bytes;        /* request body; 1 MiB, past it 413 */
	size_t max_message_bytes;     /* WebSocket message; 16 MiB, past it close 1009; values
	                                 over 4 GiB - 1 are taken as 4 GiB - 1 */
	unsigned max_message_frames;  /* WebSocket: frames (fragments) one message may come in;
	                                 65536, past it close 1009; -1u: any. Not applied on
	                                 stream_large routes (their messages have no size to
	                                 share out); every frame also counts as 128 bytes in
	                                 the fair shares of a loop turn (README) */
	size_t max_send_buffer;       /* bytes queued per connection past which a send cuts the
	                                 connection off: a WebSocket gets a 1008 Close frame ahead
	                                 of its queue, HTTP is dropped; twice max_message_bytes
	                                 (32 MiB), between 1 MiB and 1 GiB */
	size_t send_high_mark;        /* a connection whose queue passes it is not read from
	                                 (inward backpressure) ...; 1 MiB (at most max_send_buffer) */
	size_t send_low_mark;         /* ... until its queue is back under this; high / 4 */
	unsigned send_timeout_ms;     /* a queue over the high mark this long: cut off as above;
	                                 10000 */
	bool recv_bundles;            /* receive bundles (kernel 6.10+; without them, or with
	                                 kernel_timestamps, receives go on as before): one
	                                 receive completion for all the buffers it filled.
	                                 Off by default (README, "The kernel path") */
	size_t send_zc_threshold;     /* a send of at least this many bytes goes zero-copy
	                                 (io_uring SEND_ZC), its memory held until the kernel's
	                                 notification; a connection whose notification says the
	                                 kernel copied anyway (loopback does) sends plainly from
	                                 then on. Plain TCP only. 0 (default): never — the
	                                 notification of a send to a peer that stops reading
	                                 does not come until TCP gives up, and the connection's
	                                 slot and memory wait for it (README) */
	size_t memory_budget;         /* the whole server's receive rings, queued output,
	                                 reassembly and inflate buffers: one budget for all the
	                                 reactors (any of them may use most of it). The rings'
	                                 size (threads x recv_buf_count x recv_buf_size) is set
	                                 aside first (at most half). Near it (3/4) the
	                                 connections holding the most stop being read; a new
	                                 message that would cross it is refused (close 1013, or
	                                 1009 when it is larger than the budget), a send gets
	                                 -ENOMEM (the last 1/16 is kept for connections holding
	                                 under 64 KiB); past it the biggest holders are cut off
	                                 (1008). Default: physical memory / 8, at least 64 MiB */
	unsigned handshake_timeout_ms;/* first request / TLS handshake; 10000 */
	unsigned idle_timeout_ms;     /* HTTP keep-alive idle; WebSocket idle is ping-checked; 60000 */
	unsigned ping_interval_ms;    /* WebSocket: ping after this much silence; 30000; -1u: never */
	unsigned close_timeout_ms;    /* WebSocket closing handshake; 5000 */
	int backlog;                  /* listen(2) backlog; 4096 */
	const wr_tls_config *tls;     /* NULL: plain TCP; else HTTPS/WSS (needs the tls feature) */
	size_t fiber_stack_bytes;     /* stack of a fiber handler (wring/fiber.h), rounded up to
	                                 pages, plus a guard page; 64 KiB */
	bool metrics_off;             /* no counters, gauges or histograms (wring/stats.h); what
	                                 they cost is measured by bench/metrics_bench.sh */
	unsigned metrics_sample;      /* time one message in this many (on average, at random)
	                                 for the handler and receipt histograms; every message is
	                                 counted whatever this is. 64; 1: time every message */
	bool kernel_timestamps;       /* the receipt histogram starts at the kernel's software
	                                 receive timestamp (SO_TIMESTAMPING, taken through
	                                 io_uring's multishot recvmsg) instead of the loop's
	                                 wake-up; costs CPU per receive (bench/metrics_bench.sh) */
	unsigned max_subscriptions;   /* pub/sub (wring/pubsub.h): per connection; 64 */
	size_t topic_send_mark;       /* pub/sub: past this many bytes queued on a subscriber's
	                                 connection, publications wait unsent in its queue, where
	                                 the topic's policy applies; 64 KiB */
	unsigned settle_us;           /* a loop turn whose sends all took their connection's
	                                 whole queue (nothing waits for their completion) waits
	                                 for one completion more than them, up to this long
	                                 before it takes what has come: with one message in
	                                 flight per connection, an echo and the next message cost
	                                 one wake-up instead of two (kernel 6.12+, else off;
	                                 README, "The life of a loop turn": it measured no
	                                 better here). 0 (default) or -1u: never; at most 1000 */
} wr_server_config;

/* Create a server. cfg is borrowed until the call returns (NULL: all defaults). Returns NULL
 * and sets *out_err (if non-NULL) on failure: -EINVAL bad config, -ENOTSUP TLS not built in,
 * -ENOENT/-EBADMSG unreadable certificate or key. */
WR_API wr_server *wr_server_new(const wr_server_config *cfg, int *out_err);

/* Stop (if running) and free. Accepts NULL. Must not be called from a reactor thread. */
WR_API void wr_server_free(wr_server *srv);

/* ---- HTTP ---- */

typedef void (*wr_http_handler)(wr_req *req, wr_res *res, void *user);

/* Register a route. method is "GET", "POST", ... or NULL for any method; pattern is an exact
 * path with optional ":name" segments ("/hello/:name"). Both strings are copied. Returns 0,
 * -EINVAL for a bad pattern, -EBUSY once the server listens. */
WR_API int wr_server_route(wr_server *srv, const char *method, const char *pattern,
                           wr_http_handler fn, void *user);
WR_API int wr_server_get(wr_server *srv, const char *pattern, wr_http_handler fn, void *user);
WR_API int wr_server_post(wr_server *srv, const char *pattern, wr_http_handler fn, void *user);
WR_API int wr_server_put(wr_server *srv, const char *pattern, wr_http_handler fn, void *user);
WR_API int wr_server_delete(wr_server *srv, const char *pattern, wr_http_handler fn, void *user);

/* Request view. Returned wr_str point into the connection's buffers: borrowed until the
 * callback returns. */
WR_API wr_str wr_req_method(const wr_req *req);
WR_API wr_str wr_req_path(const wr_req *req);   /* without the query */
WR_API wr_str wr_req_query(const wr_req *req);  /* after '?', without it; len 0 if none */
WR_API wr_str wr_req_body(const wr_req *req);
WR_API int wr_req_version(const wr_req *req);   /* 10 or 11 */
/* Case-insensitive header lookup; the first match; {NULL, 0} if absent. name is borrowed. */
WR_API wr_str wr_req_header(const wr_req *req, const char *name);
WR_API size_t wr_req_header_count(const wr_req *req);
/* i-th header; returns 0 or -ERANGE. out_name/out_value untouched on failure. */
WR_API int wr_req_header_at(const wr_req *req, size_t i, wr_str *out_name, wr_str *out_value);
/* Value of a ":name" path segment; {NULL, 0} if the route has none of that name. */
WR_API wr_str wr_req_param(const wr_req *req, const char *name);

/* Response. Default status 200 and an empty body. Strings are copied. */
WR_API void wr_res_status(wr_res *res, int status);
WR_API int wr_res_header(wr_res *res, const char *name, const char *value);
WR_API int wr_res_body(wr_res *res, const void *data, size_t len);
WR_API int wr_res_text(wr_res *res, const char *text); /* body + text/plain content type */

/* ---- WebSocket ---- */

typedef struct wr_ws_handlers {
	/* Before the 101: see the whole request; return 0 to accept or an HTTP status (>= 400) to
	 * refuse (headers added with wr_upgrade_header go into that answer). Optional. */
	int (*on_upgrade)(const wr_req *req, wr_upgrade *up, void *user);
	/* After the 101 was queued; req is the handshake request (borrowed until return). */
	void (*on_open)(wr_ws *ws, const wr_req *req, void *user);
	/* A whole text or binary message; msg.data is borrowed until return. */
	void (*on_message)(wr_ws *ws, wr_msg msg, void *user);
	/* Optional: a ping arrived (the pong is sent by wring) / a pong arrived. */
	void (*on_ping)(wr_ws *ws, wr_msg msg, void *user);
	void (*on_pong)(wr_ws *ws, wr_msg msg, void *user);
	/* Optional: the send queue has emptied after holding more than 64 KiB (see
	 * wr_ws_buffered): the moment to send more. */
	void (*on_drain)(wr_ws *ws, void *user);
	/* Always called once after on_open: code is the peer's close code, or 1006 when the
	 * connection dropped, or our own code when we failed it; reason is borrowed. */
	void (*on_close)(wr_ws *ws, int code, wr_str reason, void *user);
	void *user; /* passed to every callback; must outlive the server */
	/* permessage-deflate for this server route; zero: refused. (Clients take theirs from
	 * wr_client_options.) */
	wr_deflate_config deflate;
	/* Uploads: a message larger than max_message_bytes is not refused (1009) but handed to
	 * on_message in pieces as they arrive (msg.more set on every piece but the last,
	 * msg.offset where the piece begins), each a view like a whole message, so memory stays
	 * bounded whatever the size (up to 4 GiB - 1). Messages up to the limit still come
	 * whole. Text is checked for UTF-8 as it arrives: a bad byte fails the connection (1007)
	 * before the piece that holds it is delivered; a piece may end inside a character. A
	 * compressed message (permessage-deflate) is still limited to max_message_bytes. Works
	 * for server routes and the async client (wr_loop_connect). */
	bool stream_large;
} wr_ws_handlers;

/* Register a WebSocket route; h is copied. Returns 0, -EINVAL, -EBUSY. */
WR_API int wr_server_websocket(wr_server *srv, const char *path, const wr_ws_handlers *h);

/* During on_upgrade: add a header to the answer (101 or refusal); choose a subprotocol
 * (must be one the client offered); attach per-connection data, read with wr_ws_data(). */
WR_API int wr_upgrade_header(wr_upgrade *up, const char *name, const char *value);
WR_API int wr_upgrade_protocol(wr_upgrade *up, const char *protocol);
WR_API void wr_upgrade_set_data(wr_upgrade *up, void *data);

/* Send one message (text, binary, ping, pong). data is borrowed until return: it is copied
 * into the output buffer and flushed once per loop turn. Returns 0; -EINVAL (bad opcode,
 * control > 125 bytes, text that is not UTF-8: checked, as the blocking client does); -EPIPE
 * after close; -ENOBUFS when past max_send_buffer (the connection is then cut off: a 1008
 * Close frame goes ahead of its queue); -ENOMEM when the message would cross the server's
 * memory_budget (not queued; the connection stays).
 * On a fiber route, from the connection's handler, a send that leaves more than 64 KiB queued
 * waits for the drain (wring/fiber.h): -ETIMEDOUT when it does not come in time. */
WR_API int wr_ws_send(wr_ws *ws, const void *data, size_t len, wr_opcode op);
WR_API int wr_ws_send_text(wr_ws *ws, const char *text);
/* One message in several frames (server and async client): op is WR_OP_TEXT or WR_OP_BINARY
 * for every piece, fin true on the last. Pings, pongs and the close may go between the pieces;
 * a text message is checked for UTF-8 across the pieces (a piece may end inside a character,
 * the last may not). data is borrowed until return. Returns as wr_ws_send, and -EINVAL for
 * another opcode than the message began with or bad UTF-8 (the piece is not sent); while a
 * fragmented message is unfinished, whole-message sends get -EBUSY. */
WR_API int wr_ws_send_fragment(wr_ws *ws, const void *data, size_t len, wr_opcode op, bool fin);
/* The blocking client's names, for the same things: binary message; ping (<= 125 bytes). */
WR_API int wr_ws_send_binary(wr_ws *ws, const void *data, size_t len);
WR_API int wr_ws_ping(wr_ws *ws, const void *data, size_t len);
/* Send without copying: data must stay valid until the completion callback, which runs on
 * this reactor with status 0 once the kernel is done with it, or a negative code if the
 * connection closed first. */
WR_API int wr_ws_send_zc(wr_ws *ws, const void *data, size_t len, wr_opcode op,
                         wr_send_done done, void *user);
/* A frame encoded once and sent to many connections (broadcast): server frames are unmasked,
 * so the bytes are the same for every receiver. Reference-counted (atomically: usable from
 * every reactor). data is copied by wr_frame_new; NULL on -ENOMEM/-EINVAL (bad opcode). */
typedef struct wr_frame wr_frame;
WR_API wr_frame *wr_frame_new(const void *data, size_t len, wr_opcode op);
WR_API void wr_frame_ref(wr_frame *f);
WR_API void wr_frame_unref(wr_frame *f);
/* Queue a shared frame without copying it (small frames are copied: cheaper than a reference).
 * Takes its own reference, released once the kernel is done with the bytes. Returns as
 * wr_ws_send. A client connection (which must mask) copies and masks it. */
WR_API int wr_ws_send_frame(wr_ws *ws, wr_frame *f);
/* To a connection with permessage-deflate, a data frame at or above its threshold goes out
 * compressed: the compressed bytes are made once per window size (the first send that needs
 * them) and shared by every receiver with that window, like the frame itself. Does f hold
 * the variant for window_bits (9..15) yet? For tests and statistics. */
WR_API bool wr_frame_has_deflate(const wr_frame *f, unsigned window_bits);

/* Start the closing handshake (code 1000-4999 except the reserved ones, or 0 for 1000 with no
 * reason; reason <= 123 bytes of UTF-8, borrowed until return). Further sends fail with
 * -EPIPE. Returns 0, also when already closing or closed (as wr_client_close), or -EINVAL. */
WR_API int wr_ws_close(wr_ws *ws, int code, const char *reason);
WR_API size_t wr_ws_buffered(const wr_ws *ws);
WR_API void *wr_ws_data(const wr_ws *ws);
WR_API void wr_ws_set_data(wr_ws *ws, void *data);
WR_API wr_str wr_ws_protocol(const wr_ws *ws);
/* Was permessage-deflate negotiated on ws? */
WR_API bool wr_ws_deflate(const wr_ws *ws);
/* Index of the reactor that owns ws (0-based). */
WR_API unsigned wr_ws_reactor(const wr_ws *ws);

/* ---- handles: sending from any thread ---- */

/* A wr_ws pointer is a slot that is reused once the connection is gone: another thread must
 * not keep one. A handle names the connection for good (reactor, slot, generation): once the
 * connection has closed it is stale, and using it gets -ESTALE, never another peer. */
typedef struct wr_handle {
	uint64_t v;
} wr_handle;

/* On ws's reactor (a callback or its fiber): ws's handle, a value to copy anywhere. */
WR_API wr_handle wr_ws_handle(const wr_ws *ws);

/* Thread-safe and lock-free: queue a message for the connection h names, on its reactor
 * (data is copied before return; up to 480 bytes into a preallocated node, larger payloads
 * allocate), and wake that reactor with IORING_OP_MSG_RING when no wake-up is pending. It is
 * sent from there as wr_ws_send would, in the order of the calls from one thread. Returns 0;
 * -ESTALE when the connection has closed (one that closes before delivery drops it); -EINVAL
 * (bad opcode, control over 125 bytes, text not UTF-8); -ESHUTDOWN once the server stops;
 * -EAGAIN when 2048 posts already wait for that reactor; -ENOMEM. Not concurrently with
 * wr_server_free. */
WR_API int wr_server_send(wr_server *srv, wr_handle h, const void *data, size_t len,
                          wr_opcode op);
/* Thread-safe and lock-free, as wr_server_send: start the closing handshake as wr_ws_close
 * (code 0 is 1000; reason borrowed until return). */
WR_API int wr_server_close(wr_server *srv, wr_handle h, int code, const char *reason);

/* ---- running ---- */

/* Bind host:port on every reactor (SO_REUSEPORT) and serve until wr_server_stop(). Port 0
 * picks an ephemeral port (see wr_server_port). Blocks; returns 0 after a stop, or -errno. */
WR_API int wr_server_listen(wr_server *srv, const char *host, uint16_t port);
/* Like listen but returns once every reactor is accepting; wr_server_wait() joins. */
WR_API int wr_server_start(wr_server *srv, const char *host, uint16_t port);
WR_API int wr_server_wait(wr_server *srv);
WR_API uint16_t wr_server_port(const wr_server *srv);
WR_API unsigned wr_server_threads(const wr_server *srv);
/* Thread-safe and async-signal-safe: stop accepting, finish responses in flight, close
 * connections (WebSocket: 1001), then let listen/wait return. */
WR_API void wr_server_stop(wr_server *srv);
/* Thread-safe: run fn(arg) on reactor `idx` (IORING_OP_MSG_RING). Returns 0, -EINVAL, -ESHUTDOWN. */
WR_API int wr_server_run_on(wr_server *srv, unsigned idx, void (*fn)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif
