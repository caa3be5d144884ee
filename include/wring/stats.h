/* wring: server metrics — counters, gauges and latency histograms, kept per reactor (and per
 * route) by the reactor's own thread with plain increments, and summed when read, without a
 * lock. Read them as a snapshot (wr_server_stats) or as Prometheus text (wr_stats_text, or the
 * built-in handler wr_server_metrics). Metrics are on unless wr_server_config.metrics_off.
 *
 * A snapshot is not a consistent cut: each counter is read once while the reactors go on, so
 * two counters may disagree by what happened while it was taken. Each is exact by itself
 * (never torn, never lost). */
#ifndef WRING_STATS_H
#define WRING_STATS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Message types, for counters by type. */
typedef enum wr_stats_msg_type {
	WR_STATS_TEXT, WR_STATS_BINARY, WR_STATS_PING, WR_STATS_PONG, WR_STATS_CLOSE,
	WR_STATS_MSG_TYPES
} wr_stats_msg_type;

/* Why an accepted connection was refused or dropped before it could be served. */
typedef enum wr_stats_refusal {
	WR_STATS_REFUSED_LIMIT,      /* max_conns reached (the connection is closed at once) */
	WR_STATS_REFUSED_HANDSHAKE,  /* HTTP/WebSocket handshake failed: bad upgrade, refused by
	                                on_upgrade, handshake timeout */
	WR_STATS_REFUSED_TLS,        /* TLS handshake failed */
	WR_STATS_REFUSED_EMFILE,     /* accept failed: out of descriptors (EMFILE/ENFILE) */
	WR_STATS_REFUSALS
} wr_stats_refusal;

/* Bad input by kind: each is a connection failed or a request answered with an error. */
typedef enum wr_stats_parse_error {
	WR_STATS_HTTP_MALFORMED,     /* 400 */
	WR_STATS_HTTP_TOO_LARGE,     /* 431 or 413: header or body over its limit */
	WR_STATS_WS_PROTOCOL,        /* close 1002: frame rules */
	WR_STATS_WS_INVALID_DATA,    /* close 1007: text not UTF-8, a bad compressed message */
	WR_STATS_WS_TOO_BIG,         /* close 1009: message over max_message_bytes */
	WR_STATS_PARSE_ERRORS
} wr_stats_parse_error;

/* Close codes counted one by one (1000..1015), then in ranges. */
#define WR_STATS_CLOSE_SLOTS 19u
/* The slot of a close code: 1000..1015 -> 0..15, 3000-3999 -> 16, 4000-4999 -> 17, else 18. */
static inline unsigned wr_stats_close_slot(int code)
{
	if (code >= 1000 && code <= 1015)
		return (unsigned)(code - 1000);
	return code >= 3000 && code <= 3999 ? 16u : code >= 4000 && code <= 4999 ? 17u : 18u;
}

/* A latency histogram of the snapshot (log-linear buckets: values within 6.25%). */
typedef struct wr_stats_hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t max_ns;
	const struct wr_hist *h;     /* the buckets; owned by the snapshot */
} wr_stats_hist;

/* Value (ns) at percentile p (0..100) of h; 0 when empty. */
WR_API uint64_t wr_stats_percentile(const wr_stats_hist *h, double p);

/* One WebSocket route, summed over the reactors. */
typedef struct wr_stats_route {
	const char *path;            /* owned by the server */
	uint64_t messages_in[WR_STATS_MSG_TYPES], bytes_in[WR_STATS_MSG_TYPES];
	uint64_t messages_out[WR_STATS_MSG_TYPES], bytes_out[WR_STATS_MSG_TYPES];
	uint64_t closes[WR_STATS_CLOSE_SLOTS];  /* on_close codes, by wr_stats_close_slot */
	uint64_t cutoffs;            /* slow consumers closed past max_send_buffer (1008) */
	uint64_t connections_open;
	/* Sampled: one message in wr_server_config.metrics_sample (64) on average is timed, so
	 * their count is about messages / metrics_sample. */
	wr_stats_hist handler;       /* on_message: time in the handler */
	wr_stats_hist receive;       /* receipt to handler: from the wait that returned the
	                                receive completion (kernel_timestamps: the kernel's
	                                receive timestamp) to on_message */
} wr_stats_route;

/* Responses counted by status class: 1xx..5xx, slot status / 100 - 1. */
#define WR_STATS_STATUS_CLASSES 5u

/* One HTTP handler route (wr_server_route and the like: a pattern and a method), summed over
 * the reactors. Fiber and WebSocket routes are not among them. */
typedef struct wr_stats_http_route {
	const char *path;            /* the registered pattern, "" for the requests no route
	                                took (answered 404 or 405); owned by the server */
	const char *method;          /* as registered: "GET", ...; "" for any method */
	uint64_t requests;           /* HEAD requests count under their GET route */
	uint64_t responses[WR_STATS_STATUS_CLASSES];  /* by status class */
	/* Sampled as wr_stats_route.handler (one request in metrics_sample): time in the
	 * handler */
	wr_stats_hist handler;
} wr_stats_http_route;

typedef struct wr_stats {
	unsigned reactors;
	/* connections */
	uint64_t accepted;
	uint64_t refused[WR_STATS_REFUSALS];
	uint64_t connections_open;   /* gauge: accepted and not yet freed */
	/* traffic, at the socket (TLS records included) */
	uint64_t socket_bytes_in, socket_bytes_out;
	uint64_t cutoffs;            /* backpressure: WebSocket (also in the routes) and HTTP */
	uint64_t tls_full, tls_resumed;
	/* zero-copy sends (send_zc_threshold), and their notifications that said the kernel
	   copied anyway (always on loopback; then the connection sends plainly) */
	uint64_t send_zc, send_zc_copied;
	uint64_t parse_errors[WR_STATS_PARSE_ERRORS];
	/* pub/sub: counted by the pub/sub layer through its hook (0 without one) */
	uint64_t pubsub_drops, pubsub_conflations;
	/* gauges: the first exact, the others as of each reactor's last 100 ms tick */
	uint64_t send_queued_bytes;  /* output queued and not yet sent */
	uint64_t pool_bytes;         /* protocol and transport states in use */
	uint64_t memory_used_bytes;  /* what memory_budget counts (wring/server.h), summed */
	uint64_t recv_buffers_kernel;/* provided receive buffers lent to the kernel */
	uint64_t recv_buffers_total;
	/* histograms */
	wr_stats_hist loop_turn;     /* busy time of each reactor loop turn */
	wr_stats_hist send_complete; /* a send's submission to its completion */
	size_t nroutes;
	wr_stats_route *routes;      /* owned by the snapshot */
	size_t nhttp_routes;         /* the routes in registration order, then route "" */
	wr_stats_http_route *http_routes;  /* owned by the snapshot */
} wr_stats;

typedef struct wr_server wr_server;

/* Take a snapshot of srv's metrics (any thread, lock-free; while the server runs or after
 * it stopped, not concurrently with wr_server_free). Returns 0 with *out (free with
 * wr_stats_free), -EINVAL (no server, not started yet, or metrics_off), -ENOMEM. */
WR_API int wr_server_stats(wr_server *srv, wr_stats **out);
WR_API void wr_stats_free(wr_stats *st);

/* The snapshot in the Prometheus text exposition format (0.0.4), names prefixed wring_.
 * Returns a NUL-terminated string the caller frees with free(), its length in *out_len
 * (optional); NULL on -ENOMEM. */
WR_API char *wr_stats_text(const wr_stats *st, size_t *out_len);

/* Serve the Prometheus text on GET path (copied), from a built-in handler. Register before
 * wr_server_listen. Returns as wr_server_get. */
WR_API int wr_server_metrics(wr_server *srv, const char *path);

#ifdef __cplusplus
}
#endif
#endif
