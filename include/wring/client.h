/* wring: WebSocket clients — a blocking one (cpp-httplib's WebSocketClient) and an async one
 * that runs many connections on a reactor (wr_loop), with the server's callbacks. */
#ifndef WRING_CLIENT_H
#define WRING_CLIENT_H

#include "common.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wr_client wr_client;
typedef struct wr_loop wr_loop;
struct sockaddr; /* <sys/socket.h> */

typedef struct wr_client_options {
	const char *const *headers;   /* extra handshake headers, "Name: value", NULL-terminated */
	const char *const *protocols; /* subprotocols offered, NULL-terminated */
	size_t max_message_bytes;     /* default 16 MiB (at most 4 GiB - 1); larger messages fail
	                                 with close 1009 */
	unsigned max_message_frames;  /* frames (fragments) one message may come in, default
	                                 65536 (as the server's); more fail with close 1009;
	                                 -1u: any */
	unsigned connect_timeout_ms;  /* default 10000 */
	unsigned handshake_timeout_ms;/* default 10000 */
	unsigned close_timeout_ms;    /* default 5000 */
	unsigned read_timeout_ms;     /* blocking read; 0 = wait forever */
	unsigned ping_interval_ms;    /* ping after this much silence from the server, and fail
	                                 the connection (-ETIMEDOUT, close 1006) when nothing, not
	                                 even the pong, comes within as long again; 0 = never.
	                                 The blocking client pings from inside wr_client_read. */
	const wr_tls_config *tls;     /* wss:// settings; NULL = verify against the system store */
	/* Connect to this address instead of resolving the URL's host, which still goes in the Host
	 * header and (wss) the SNI and certificate check: resolve once with wr_url_resolve, connect
	 * many times. Borrowed until return; addr_len is its size. NULL: resolve the host. */
	const struct sockaddr *addr;
	unsigned addr_len;
	/* Source address to bind before connecting, port 0 (chosen at connect time, so that one
	 * source address serves many servers): spreading connections over several source
	 * addresses opens more to one server than one address has ports for. Borrowed until
	 * return. NULL: the kernel's choice. */
	const struct sockaddr *bind_addr;
	unsigned bind_addr_len;
	/* wss: the name sent as SNI and looked for in the certificate; NULL: the URL's host.
	 * Borrowed until return. */
	const char *server_name;
	wr_deflate_config deflate;    /* offer permessage-deflate (both clients; the deflate field
	                                 of wr_ws_handlers is for server routes) */
} wr_client_options;

/* Why a connect failed: code is a negative errno (-EINVAL bad URL, -ECONNREFUSED,
 * -ETIMEDOUT, -EPROTO bad handshake answer, -ENOTSUP wss without TLS, -EHOSTUNREACH name
 * not resolved, -ECONNRESET closed before the answer, ...) and http_status
 * the status line of a non-101 answer (0 when none came). */
typedef struct wr_client_err {
	int code;
	int http_status;
} wr_client_err;

/* Connect to ws://host[:port]/path?query or wss://... and run the opening handshake.
 * url and opts are borrowed until return. Returns NULL and fills *out_err on failure. */
WR_API wr_client *wr_client_connect(const char *url, const wr_client_options *opts,
                                    wr_client_err *out_err);
/* Send a message; every frame is masked with a fresh random key. data is borrowed until
 * return. Returns 0, -EINVAL (text that is not UTF-8, a control payload over 125 bytes, a
 * close opcode), -EPIPE once closed, -ETIMEDOUT (a stall past read_timeout_ms) or -errno. */
WR_API int wr_client_send(wr_client *c, const void *data, size_t len, wr_opcode op);
WR_API int wr_client_send_text(wr_client *c, const char *text);
WR_API int wr_client_send_binary(wr_client *c, const void *data, size_t len);
WR_API int wr_client_ping(wr_client *c, const void *data, size_t len);
/* One message in several frames, as wr_ws_send_fragment: op the same for every piece, fin on
 * the last; pings may go between; text checked for UTF-8 across the pieces. -EINVAL for a
 * changed opcode or bad UTF-8, -EBUSY from whole-message sends while one is unfinished. */
WR_API int wr_client_send_fragment(wr_client *c, const void *data, size_t len, wr_opcode op,
                                   bool fin);
/* Wait for the next message. Returns WR_OP_TEXT or WR_OP_BINARY with *out_msg set (valid
 * until the next call on c), 0 when the connection closed (see wr_client_close_code), or
 * -errno (-ETIMEDOUT with read_timeout_ms; -EPROTO/-EILSEQ/-EMSGSIZE when the server broke
 * the protocol, after which the connection is failed). Pings are answered inside. */
WR_API int wr_client_read(wr_client *c, wr_msg *out_msg);
/* Closing handshake bounded by close_timeout_ms: code 1000-4999 (not 1004-1006, 1015) or 0
 * for 1000; reason <= 123 bytes of UTF-8, borrowed until return (-EINVAL otherwise). Returns
 * 0 (also when already closed), -ETIMEDOUT when the peer did not answer, or -errno. The
 * handle stays allocated until wr_client_free. */
WR_API int wr_client_close(wr_client *c, int code, const char *reason);
/* Peer's close code (1005 none given, 1006 dropped) and reason, once closed. */
WR_API int wr_client_close_code(const wr_client *c);
WR_API wr_str wr_client_close_reason(const wr_client *c);
WR_API wr_str wr_client_protocol(const wr_client *c);
/* Was permessage-deflate negotiated (the server accepted opts->deflate)? */
WR_API bool wr_client_deflate(const wr_client *c);
/* Close the socket (without handshake if not closed) and free. Accepts NULL. */
WR_API void wr_client_free(wr_client *c);

/* ---- async client: one reactor, run by the caller's thread ---- */

typedef struct wr_loop_config {
	unsigned max_conns;        /* default 65536 */
	unsigned recv_buf_count;   /* default 1024 */
	unsigned recv_buf_size;    /* default 16384 */
	int cpu;                   /* with pin: the CPU the loop runs on */
	bool pin;                  /* pin the thread running wr_loop_run to cpu while it runs (its
	                              own affinity is given back when run returns) */
} wr_loop_config;

WR_API wr_loop *wr_loop_new(const wr_loop_config *cfg, int *out_err);
/* Runs until wr_loop_stop(); returns 0 or -errno. */
WR_API int wr_loop_run(wr_loop *loop);
/* Thread-safe and async-signal-safe. A stop asked for while the loop is not running ends
 * its next wr_loop_run at once (after one turn). */
WR_API void wr_loop_stop(wr_loop *loop);
/* Closes every connection (on_close is called) and frees. Not from inside the loop. */
WR_API void wr_loop_free(wr_loop *loop);
/* Start a connection without blocking (a host name is resolved on a helper thread, never the
 * loop's; an address is used at once, and every address of a name is tried in turn);
 * h->on_open(ws, NULL, user) once upgraded; on failure
 * or later close, h->on_close(ws, code, reason, user) with code 1006 and the reason naming
 * the error (wr_ws_error() gives it as -errno). url, opts and h are copied/borrowed until
 * return (h itself is copied). Returns 0 or -errno (bad URL, wss without TLS). */
WR_API int wr_loop_connect(wr_loop *loop, const char *url, const wr_client_options *opts,
                           const wr_ws_handlers *h);
/* -errno behind a 1006 close, or the HTTP status as a positive number when the server
 * answered without 101; 0 otherwise. Valid inside on_close. */
WR_API int wr_ws_error(const wr_ws *ws);
/* A repeating timer on the loop: fn every `ms` milliseconds (resolution 1 ms). Returns 0. */
WR_API int wr_loop_every(wr_loop *loop, unsigned ms, void (*fn)(wr_loop *loop, void *user),
                         void *user);
/* Thread-safe and lock-free, as wr_server_send / wr_server_close (server.h): send to, or
 * close, the loop's connection that h (wr_ws_handle, taken on the loop) names. -ESTALE once
 * it has closed; -EINVAL for a handle of another loop or server. Not concurrently with
 * wr_loop_free. */
WR_API int wr_loop_send(wr_loop *loop, wr_handle h, const void *data, size_t len, wr_opcode op);
WR_API int wr_loop_close(wr_loop *loop, wr_handle h, int code, const char *reason);
/* Monotonic nanoseconds, as the loop sees them. */
WR_API uint64_t wr_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
