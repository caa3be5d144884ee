/* Inside the WebSocket layer: what ws_conn.c, ws_send.c and ws_upgrade.c share. */
#ifndef WR_LIB_WS_INT_H
#define WR_LIB_WS_INT_H

#include "reactor.h"
#include "ws.h"

enum ws_flag {
	WS_OPEN = 1u << 0,       /* speaking WebSocket (the handshake is done) */
	WS_CLIENT = 1u << 1,     /* client role: frames are masked */
	WS_CLOSE_SENT = 1u << 2, /* our close frame is queued: no more sends */
	WS_CLOSE_RCVD = 1u << 3,
	WS_PING_SENT = 1u << 4,
	WS_OWED = 1u << 5,       /* on_close is owed (after on_open; a client from its start) */
	WS_REPORTED = 1u << 6,   /* on_close was called */
	WS_FRAG_TEXT = 1u << 7,  /* a text message sent in fragments is not finished */
	WS_FRAG_BINARY = 1u << 8,
};
#define WS_FRAG (WS_FRAG_TEXT | WS_FRAG_BINARY)

static inline wr_conn *ws_conn(const wr_ws *ws) { return (wr_conn *)ws; }
static inline wr_ws_state *ws_state(const wr_conn *c) { return c->ps; }

/* c's route stats on its reactor, NULL with metrics off or in the client role. */
static inline wr_route_stats *ws_stats(const wr_conn *c, const wr_ws_state *s)
{
	return s->rt->stats ? &s->rt->stats[wr__reactor_idx(c->r)] : NULL;
}
/* n messages or control frames (0: a fragment that does not end one) of this opcode and
 * payload length came in, or went out. */
static inline void ws_count_in(const wr_conn *c, const wr_ws_state *s, unsigned op, unsigned n,
                               size_t len)
{
	wr_route_stats *st = ws_stats(c, s);
	if (st)
		wr__stats_count(st->msgs_in, st->bytes_in, op, n, len);
}

static inline void ws_count_out(const wr_conn *c, const wr_ws_state *s, unsigned op,
                                unsigned n, size_t len)
{
	wr_route_stats *st = ws_stats(c, s);
	if (st)
		wr__stats_count(st->msgs_out, st->bytes_out, op, n, len);
}

/* Speak WebSocket on c with state s from now on (parser, idle timer, protocol table). */
void wr__ws_start(wr_conn *c, wr_ws_state *s);
/* Queue one frame (masked in the client role). 0 or -ENOMEM (a large frame that could not be
 * queued whole has then dropped the connection). */
int wr__ws_queue_frame(wr_conn *c, wr_ws_state *s, wr_opcode op, const void *data, size_t len);
/* The same with FIN (clear for a fragment) and RSV1 (a compressed message's first frame)
 * as given. */
int wr__ws_queue_frame_bits(wr_conn *c, wr_ws_state *s, wr_opcode op, bool fin, bool rsv1,
                            const void *data, size_t len);
/* A message buffer keeps this much room after a message (more goes back to the allocator). */
#define WR_WS_MSG_KEEP (64u * 1024u)
/* Cut c off with code: a close frame ahead of the queue, then close (wr__conn_cut). */
void wr__ws_cut(wr_conn *c, int code, int err, const char *why);
/* Send our close frame (once) and wait for the peer's, within the close timeout. */
void wr__ws_shutdown(wr_conn *c, wr_ws_state *s, int code, const char *reason);
/* on_close(code, why) unless already reported (or not owed yet). */
void wr__ws_report(wr_conn *c, wr_ws_state *s, int code, const char *why);
/* The extra record, allocated on first need (NULL on -ENOMEM). */
wr_ws_extra *wr__ws_extra(wr_conn *c, wr_ws_state *s);
void wr__ws_set_protocol(wr_conn *c, wr_ws_state *s, wr_str protocol);

#endif
