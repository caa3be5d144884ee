/* WebSocket as a protocol on a connection, both roles: frames in (parse, unmask in place,
 * validate, reassemble, deliver views), frames out (coalesced; masked in the client role),
 * pings, the closing handshake, idle and close timers, backpressure. A wr_ws handed to the
 * user is its connection (wr_conn); the connection's protocol state is a wr_ws_state.
 *
 * The server puts wr__ws_upgrade on a WebSocket route as its upgrade hook: the handshake
 * answer (accept key, 101, subprotocol, on_open) is made here, and HTTP knows no WebSocket. */
#ifndef WR_LIB_WS_H
#define WR_LIB_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "http_req.h"
#include "inbox.h"
#include "ws_stats.h"
#include "utf8.h"
#include "ws_codec.h"

typedef struct wr_ws_config {
	uint64_t max_message_bytes;   /* 0: WR_WS_DEFAULT_MAX_MSG */
	unsigned max_message_frames;  /* frames a message may come in (1009 past it); 0 or -1u:
	                                 any */
	unsigned ping_interval_ms;    /* ping after this much silence; -1u: never */
	unsigned close_timeout_ms;    /* our close frame waits this long for the peer's */
} wr_ws_config;

/* What a WebSocket route or client connection runs with; outlives its connections. */
typedef struct wr_ws_route {
	wr_ws_handlers h;       /* h.deflate: what the route accepts, or the client offers */
	wr_ws_config cfg;
	/* Optional: a send left more than the drain mark queued (on_drain will follow). Its
	 * result is the send's: a fiber route waits here for the drain. */
	int (*on_pressure)(wr_conn *c, void *user);
	/* Server routes with metrics on: one per reactor (stats.h), indexed by the reactor's
	 * index; NULL otherwise (clients). Owned by the server. */
	wr_route_stats *stats;
} wr_ws_route;

/* What only some connections need, allocated on first need: the reassembly buffer of a
 * message that came in pieces, storage for a control frame split across reads, the chosen
 * subprotocol. */
typedef struct wr_ws_extra {
	wr_buf msg;
	size_t charged;        /* msg's capacity as counted against the memory budget */
	wr_utf8 frag_utf8;     /* a text message sent in fragments: UTF-8 state across them */
	uint8_t ctrl[WR_WS_CTRL_MAX];
	uint64_t stream_off;   /* a message streamed in pieces (stream_large): bytes given */
	bool streaming;
	uint8_t protocol_len;
	char protocol[47];
} wr_ws_extra;

/* A connection's WebSocket state (from the reactor's pool). */
typedef struct wr_ws_state {
	wr_ws_parser parser;
	const wr_ws_route *rt;
	void *data;            /* user's per-connection pointer */
	wr_ws_extra *x;
	struct wr_ws_pmd *pmd; /* permessage-deflate, when negotiated (ws_deflate.h) */
	struct wr_ws_subs *subs; /* pub/sub subscriptions, on the first (pubsub.c) */
	int error;             /* client: -errno or HTTP status behind a failed connection */
	uint16_t flags;
	uint16_t size;         /* of the state as allocated (the client role's is larger) */
} wr_ws_state;

/* The client role adds its masking-key generator, its own copy of the route (a client
 * connection has no server to outlive it) and a slot for the handshake's state. */
typedef struct wr_ws_client_state {
	wr_ws_state ws;
	uint64_t rng;
	void *hs;
	wr_ws_route rt;
} wr_ws_client_state;

/* The upgrade hook of WebSocket routes (router.h wr_http_upgrade_fn); user is the route's
 * wr_ws_route. */
bool wr__ws_upgrade(wr_conn *c, wr_req *req, uint8_t *rest, size_t n, void *user);

/* Client role: a state for c (made its ps; the caller sets its handshake protocol) with a
 * copy of rt, seeded for masking keys and nonces. NULL on -ENOMEM. on_close is owed from here on. */
wr_ws_client_state *wr__ws_client_new(wr_conn *c, const wr_ws_route *rt, uint64_t seed);
/* The handshake succeeded: speak WebSocket on c (with permessage-deflate as agreed in *pmd,
 * unless NULL), call on_open, then parse rest[0..n). */
void wr__ws_client_open(wr_conn *c, wr_str protocol, const struct wr_pmd_params *pmd,
                        uint8_t *rest, size_t n);
/* The handshake failed (err: -errno, or the HTTP status of a non-101 answer): on_close once
 * with 1006 and why; wr_ws_error gives err. */
void wr__ws_report_failure(wr_conn *c, int err, const char *why);
/* Release c's WebSocket state (a handshake protocol's free). */
void wr__ws_state_free(wr_conn *c);

/* Posts from other threads (wr_server_send, wr_loop_send; the core's inbox carries them):
 * the checks made before queuing (0 or -EINVAL), and the delivery on the reactor. */
enum { WR_WS_POST_SEND = 1, WR_WS_POST_CLOSE };
int wr__ws_post_check(wr_opcode op, const void *data, size_t len);
int wr__ws_close_check(int code, const char *reason, size_t reason_len);
void wr__ws_on_post(wr_conn *c, const wr_inbox_msg *m);
/* The handle of c: its reactor's index, generation and slot. */
wr_handle wr__ws_handle(const wr_conn *c);

/* Shared reassembly (server, async and blocking clients): add a DATA event's piece to msg,
 * presizing from the announced length up to 1 MiB (a peer announcing huge frames and then
 * trickling gets no memory for free). 1 when the message is complete in msg, 0 when more is
 * to come, -ENOMEM. */
int wr__ws_gather(wr_buf *msg, const wr_ws_event *ev);

#endif
