/* A connection, as the core knows it: a socket, a send queue, a timer, and two tables that
 * say what to do with it. The transport (plain TCP or TLS) turns socket bytes into plaintext
 * and back; the protocol (HTTP, WebSocket, a client handshake, ...) gives the plaintext a
 * meaning. The reactor and this layer call nothing but these tables: a new protocol or
 * transport is a new table, not a new branch in the loop.
 *
 * Protocol and transport each own their state (ps, ts) and size it themselves, usually from
 * the reactor's pool (wr__conn_state_new): an idle connection carries only what its current
 * protocol needs. */
#ifndef WR_LIB_CONN_H
#define WR_LIB_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wring/common.h"
#include "list.h"

typedef struct wr_conn wr_conn;
typedef struct wr_reactor wr_reactor;

/* What a connection speaks. Every entry may be NULL when the protocol has nothing to do. */
typedef struct wr_proto {
	const char *name;
	/* Plaintext arrived: p[0..n) may be rewritten in place (unmasking) and is valid until
	 * return. */
	void (*on_data)(wr_conn *c, uint8_t *p, size_t n);
	/* The timer set with wr__timer_arm fired. */
	void (*on_timer)(wr_conn *c);
	/* The send queue emptied after wr__conn_want_writable was asked for. */
	void (*on_writable)(wr_conn *c);
	/* An outgoing TCP connect finished: 0, or -errno (the connection is then closed by the
	 * protocol, usually through wr__conn_abort). */
	void (*on_connect)(wr_conn *c, int res);
	/* The connection is going away, reported exactly once, whoever closes it: err is 0 for
	 * a close the protocol asked for itself or a clean end of stream, else -errno, with
	 * `why` a short static text. No output can be queued from here. */
	void (*on_gone)(wr_conn *c, int err, const char *why);
	/* The connection is cut off for holding too much: its queue stayed over the high mark
	 * for the send timeout, or it holds the most when the reactor is over its memory
	 * budget. Tell the peer if the protocol can (wr__conn_cut, a WebSocket 1008), then
	 * close. NULL: the connection is aborted. */
	void (*on_overload)(wr_conn *c, int err, const char *why);
	/* The reactor is stopping: finish gracefully (a WebSocket close 1001) or close. */
	void (*on_shutdown)(wr_conn *c);
	/* Release ps; the connection's slot is about to be reused. */
	void (*free)(wr_conn *c);
	/* Direct receive (wr__conn_want_direct): where the next bytes of the stream should land,
	 * at most *out_n of them; NULL when the protocol has nothing to receive there now (the
	 * next bytes then come through a provided buffer, to on_data). The memory must stay
	 * put until on_direct, or until the connection is freed (a closed connection's receive
	 * may still be in flight). */
	uint8_t *(*direct_target)(wr_conn *c, size_t *out_n);
	/* n bytes (1..what direct_target offered) landed at the target; called only on an open
	 * connection. */
	void (*on_direct)(wr_conn *c, size_t n);
} wr_proto;

/* How the bytes travel: plain TCP or TLS. */
typedef struct wr_transport {
	const char *name;
	/* Begin on a connection: ctx is the transport's shared context (a TLS context),
	 * peer_name the name a client checks (NULL on a server). 0 or -errno. */
	int (*start)(wr_conn *c, void *ctx, const char *peer_name);
	/* Bytes arrived from the socket; plaintext goes on through wr__conn_deliver. p is
	 * writable and valid until return. */
	void (*on_bytes)(wr_conn *c, uint8_t *p, size_t n);
	/* At least min, at most max contiguous bytes of output at the tail of the queue, counted
	 * as queued; *out_n tells how many. NULL on -ENOMEM. */
	uint8_t *(*reserve)(wr_conn *c, size_t min, size_t max, size_t *out_n);
	/* Queue a copy of p[0..n): 0 or -ENOMEM. */
	int (*write)(wr_conn *c, const void *p, size_t n);
	/* Once per loop turn before the send (TLS: encrypt what was written this turn). */
	void (*flush)(wr_conn *c);
	/* The connection will close once its output is out (TLS: queue close_notify). */
	void (*shutdown)(wr_conn *c);
	/* Release ts. */
	void (*free)(wr_conn *c);
	/* The transport rewrites the bytes (encryption): a zero-copy send copies instead. */
	bool rewrites;
	/* Did this connection's session resume an earlier one (TLS)? NULL: never. */
	bool (*resumed)(const wr_conn *c);
} wr_transport;

/* One piece of a connection's output: our own bytes (owned) or the caller's (zero-copy). */
typedef struct wr_seg {
	struct wr_seg *next;
	uint8_t *data;
	size_t len;       /* bytes queued in data */
	size_t off;       /* bytes already sent */
	size_t cap;       /* owned: capacity of data */
	wr_send_done done;/* external: called when sent or dropped */
	void *user;
	uint32_t unit_at; /* where the first unit (a frame) queued in it begins: a cut-off may
	                     drop from there (WR_SEG_NO_UNIT: none begins in it) */
	bool owned;
	uint8_t pool;     /* owned: which free list it returns to (WR_SEG_POOL_*) */
	uint8_t mem[];    /* owned data lives here */
} wr_seg;

enum { WR_SEG_POOL_NONE, WR_SEG_POOL_STD, WR_SEG_POOL_SMALL };
#define WR_SEG_NO_UNIT UINT32_MAX

enum wr_conn_state {
	WR_CONN_FREE,
	WR_CONN_OPEN,
	WR_CONN_LINGER,      /* our last bytes are flushed, write side shut: draining the peer */
	WR_CONN_CLOSED,      /* waiting for in-flight requests before freeing */
};

enum wr_conn_flag {
	WR_CF_RECV_ARMED = 1u << 0,
	WR_CF_SENDING = 1u << 1,
	WR_CF_FLUSH_QUEUED = 1u << 2,
	WR_CF_CLOSE_AFTER_FLUSH = 1u << 3, /* then linger; input is no longer delivered */
	WR_CF_NEED_REARM = 1u << 4,        /* multishot recv ended with ENOBUFS */
	WR_CF_TIMER = 1u << 5,
	WR_CF_GONE = 1u << 6,              /* on_gone was called */
	WR_CF_WRITABLE_WANTED = 1u << 7,
	/* Receiving is paused (the multishot receive cancelled, not re-armed) while any of
	 * these holds: */
	WR_CF_PAUSE_OUT = 1u << 8,         /* the send queue passed the high mark */
	WR_CF_PAUSE_TURN = 1u << 9,        /* too much received, set aside for later turns */
	WR_CF_PAUSE_BUDGET = 1u << 10,     /* the reactor is near its memory budget */
	WR_CF_RECV_CANCEL = 1u << 11,      /* a cancel of the receive is in flight */
	WR_CF_UNIT = 1u << 12,             /* the next byte queued begins a unit (a frame) */
	WR_CF_BUSY = 1u << 13,             /* took bytes in the turn before this one too */
	WR_CF_PAUSE_PROTO = 1u << 14,       /* the protocol asked for no more input for now */
	WR_CF_DIRECT = 1u << 15,           /* direct mode: single receives, the protocol's target
	                                      first (wr__conn_want_direct) */
	WR_CF_RECV_DIRECT = 1u << 16,      /* the armed receive is a sized one into the target */
	WR_CF_NO_ZC = 1u << 17,            /* the kernel copied a zero-copy send: plain sends */
	WR_CF_TIMER_HELD = 1u << 18,       /* the timer came due with a direct receive pending:
	                                      it fires once that receive has reported */
};
#define WR_CF_PAUSED (WR_CF_PAUSE_OUT | WR_CF_PAUSE_TURN | WR_CF_PAUSE_BUDGET | WR_CF_PAUSE_PROTO)

struct wr_conn {
	const wr_proto *proto;
	const wr_transport *tr;
	void *ps;                 /* protocol state */
	void *ts;                 /* transport state (NULL for plain TCP) */
	wr_reactor *r;
	wr_seg *out_head, *out_tail;
	wr_list timer_link;
	wr_list flush_link;       /* pending flush, or the closed list */
	uint32_t gen : 24;        /* bumped at each reuse of the slot; user_data carries it */
	uint32_t state : 8;
	uint32_t out_bytes;       /* queued and not yet acknowledged by a send completion (a
	                             queue never holds 4 GiB: writes past it fail) */
	int fd;
	uint32_t deadline;        /* tick at which the timer fires; valid with WR_CF_TIMER */
	uint32_t last_active;     /* tick of the last received bytes */
	uint32_t flags;
	uint16_t inflight;        /* requests in the ring that name this connection */
	/* Fairness and memory (reactor.h): bytes taken in during the turn turn_stamp, receive
	 * completions set aside for later turns, the tick the queue passed its high mark, bytes
	 * the protocol holds besides the queue (reassembly, inflated messages), the segments
	 * the send in flight reads. */
	uint32_t turn_bytes;
	uint16_t turn_stamp;
	uint16_t deferred;
	uint32_t paused_since;
	uint32_t mem_extra;
	uint8_t sending_segs;
	uint16_t zc_notifs;       /* zero-copy sends whose notification is still to come */
	/* Segments sent while a notification is pending: the kernel may still read them, so
	 * they are released (and their done callbacks run) only once none is pending. A ring in
	 * send order, held by its newest: the tail's next is the oldest. */
	wr_seg *zc_held;
	uint32_t send_ns;         /* the turn time of the send in flight, mod 2^32 ns (metrics) */
};

/* The connection's slot in its reactor's slab. */
uint32_t wr__conn_idx(const wr_conn *c);

extern const wr_transport wr__plain_transport;

/* A new open connection on fd (owned from here on), speaking nothing yet and with the plain
 * transport; NULL when the slab is full. */
wr_conn *wr__conn_new(wr_reactor *r, int fd);
/* Switch protocol: from now on c's plaintext goes to proto, with ps as its state. The old
 * protocol's state is not freed: the old protocol hands over and frees its own. */
void wr__conn_set_proto(wr_conn *c, const wr_proto *proto, void *ps);
/* Carry c's bytes through tr from now on: tr->start(c, ctx, peer_name). 0 or -errno (the
 * transport's state, if any, goes with the connection). */
int wr__conn_set_transport(wr_conn *c, const wr_transport *tr, void *ctx, const char *peer_name);
/* Give c another socket (a client trying the next address): the old one is closed. No request
 * may be in flight on it. */
void wr__conn_replace_fd(wr_conn *c, int fd);
/* A reference that survives the slot's reuse: wr__conn_from_ref gives c back, or NULL once
 * it was freed (or closed). */
uint64_t wr__conn_ref(const wr_conn *c);
wr_conn *wr__conn_from_ref(wr_reactor *r, uint64_t ref);
/* Start receiving (multishot); the reactor re-arms it as needed from then on. */
void wr__conn_recv_arm(wr_conn *c);
/* Direct receive: the protocol expects a large piece (a frame's payload) next, and wants it in
 * its own memory rather than through provided buffers and a copy. In direct mode every
 * receive is a single one (no multishot to cancel when the next large piece shows): a sized
 * receive at proto->direct_target when it offers one, else one provided buffer to on_data.
 * Leaving the mode (on false) goes back to the multishot receive. 0, or -ENOTSUP when the
 * transport rewrites the bytes (TLS) or receives carry timestamps: receiving stays as it
 * is. Pauses, shares and closing apply as to any receive; a direct one in flight is not
 * cancelled for them (it is bounded by what the target offered), only to settle it before a
 * timer judges the connection (wr__conn_direct_settle). */
int wr__conn_want_direct(wr_conn *c, bool on);
/* A direct receive reports nothing until its target is full, so a slow but live sender looks
 * idle while one is pending. If one is: cancel it (a cancelled MSG_WAITALL receive reports
 * the bytes it already took, which count as received and go to on_direct; the receive then
 * goes on from there) and hold the timer until it has reported (true). false: nothing
 * pending, fire the timer now. */
bool wr__conn_direct_settle(wr_conn *c);
/* Work the protocol found in what it was given beyond its bytes (the WebSocket layer's frame
 * headers): n more bytes against the connection's share of this loop turn and the turn's
 * own count, as if received. Called from the protocol's on_data. */
void wr__conn_turn_charge(wr_conn *c, size_t n);
/* Backpressure inward: stop receiving (the armed receive is cancelled; bytes already on their
 * way are still delivered, so a protocol that pauses must still take a few buffers' worth),
 * or start again. TCP's own window then holds the peer back. */
void wr__conn_recv_pause(wr_conn *c, bool pause);
/* Keep c's slot from being reused while something outside the reactor's requests (a fiber
 * holding a wr_ws) still names it: counted as a request in flight. A closed connection is
 * freed once the last hold is released. */
void wr__conn_hold(wr_conn *c);
void wr__conn_unhold(wr_conn *c);
/* Begin an outgoing TCP connect; the protocol's on_connect gets the result. */
void wr__conn_connect(wr_conn *c, const void *sa, unsigned salen);
/* Hand plaintext to the protocol (called by transports). */
static inline void wr__conn_deliver(wr_conn *c, uint8_t *p, size_t n)
{
	if (c->proto->on_data)
		c->proto->on_data(c, p, n);
}
/* Is the connection still open for input (not closing, lingering or closed)? */
static inline bool wr__conn_is_open(const wr_conn *c)
{
	return c->state == WR_CONN_OPEN && !(c->flags & WR_CF_CLOSE_AFTER_FLUSH);
}

/* Per-reactor state memory for protocols and transports (zeroed; NULL on -ENOMEM). */
void *wr__conn_state_new(wr_conn *c, size_t size);
void wr__conn_state_free(wr_conn *c, void *p, size_t size);

/* ---- output (through the transport) ---- */

/* Queue a copy of p. 0 or -ENOMEM. */
static inline int wr__conn_write(wr_conn *c, const void *p, size_t n)
{
	return c->tr->write(c, p, n);
}
/* Reserve exactly n contiguous bytes at the tail and return them (NULL on -ENOMEM). */
static inline uint8_t *wr__conn_reserve(wr_conn *c, size_t n)
{
	size_t got;
	return c->tr->reserve(c, n, n, &got);
}
/* Between 1 and max contiguous bytes at the tail (as many as fit without a new allocation
 * when some do), *out_n telling how many: for copying a large payload piece by piece. */
static inline uint8_t *wr__conn_reserve_some(wr_conn *c, size_t max, size_t *out_n)
{
	return c->tr->reserve(c, 1, max, out_n);
}
/* Queue hdr (copied) then the caller's p without copying; done runs once the kernel is done
 * with p (or with a negative status if the connection closed first). A transport that
 * rewrites bytes copies p and calls done at once. Nothing is queued on failure. */
int wr__conn_write_ext(wr_conn *c, const void *hdr, size_t hl, const void *p, size_t n,
                       wr_send_done done, void *user);
/* Is more queued than the reactor's max_send_buffer? */
bool wr__conn_over_limit(const wr_conn *c);
/* The next bytes queued begin a unit that the peer can read on its own (a WebSocket frame):
 * a cut-off keeps what is already in flight up to the next unit, then queues its last words
 * (wr__conn_cut). Plain transport only: a transport that rewrites bytes has its own units. */
static inline void wr__conn_unit_begin(wr_conn *c)
{
	if (!c->tr->rewrites)
		c->flags |= WR_CF_UNIT;
}
/* Memory the protocol holds for c besides the send queue (a reassembly or inflate buffer):
 * delta bytes more (or fewer), counted against the reactor's memory budget. */
void wr__conn_mem_charge(wr_conn *c, ssize_t delta);
/* Would n more bytes held for c cross the server's memory budget? 0 when they fit,
 * -EMSGSIZE when n alone is more than the budget, -ENOMEM when they do not fit now (for a
 * connection that would then hold more than 64 KiB, at 15/16 of the budget already). */
int wr__conn_mem_check(const wr_conn *c, size_t n);
/* Call the protocol's on_writable once the queue has emptied. */
static inline void wr__conn_want_writable(wr_conn *c)
{
	c->flags |= WR_CF_WRITABLE_WANTED;
}

/* ---- the raw send queue, below the transport (plain TCP writes here; TLS its records) ---- */

uint8_t *wr__conn_raw_reserve(wr_conn *c, size_t min, size_t max, size_t *out_n);
int wr__conn_raw_write(wr_conn *c, const void *p, size_t n);
/* Put the connection on this turn's flush list. */
void wr__conn_flush_queue(wr_conn *c);
/* Take it off again (a transport that just flushed it). */
void wr__conn_flush_dequeue(wr_conn *c);

/* ---- closing ---- */

/* Close after the queued output is sent, then linger. Reports on_gone(0, why) first. */
void wr__conn_close(wr_conn *c, const char *why);
/* Cut off: report on_gone(err, why); drop the queued output that is not in flight, except
 * the rest of a unit already begun (wr__conn_unit_begin), queue last[0..n) (a close frame)
 * ahead of what was dropped, and close once that is out. A transport that rewrites bytes,
 * or no last words: as wr__conn_abort. */
void wr__conn_cut(wr_conn *c, int err, const char *why, const void *last, size_t n);
/* Close now: report on_gone(err, why), cancel in-flight requests, drop output. */
void wr__conn_abort(wr_conn *c, int err, const char *why);
/* A failure: as abort, but output already queued still goes out first (an alert, an error
 * answer) when there is some. */
void wr__conn_fail(wr_conn *c, int err, const char *why);

/* ---- used by the reactor ---- */

void wr__conn_on_sent(wr_conn *c, int res);
/* A zero-copy send's notification: copied tells whether the kernel copied after all. */
void wr__conn_on_zc_notif(wr_conn *c, bool copied);
void wr__conn_recv_update(wr_conn *c);
void wr__conn_overload(wr_conn *c, int err, const char *why);
void wr__conn_trim(wr_reactor *r);
void wr__conn_on_bytes(wr_conn *c, uint8_t *p, size_t n);
/* A direct receive completed with res (bytes at the target, or -errno / 0 for the end). */
void wr__conn_on_direct(wr_conn *c, int res);
void wr__conn_flush_all(wr_reactor *r);
void wr__conn_free_closed(wr_reactor *r);
void wr__conn_release_all(wr_reactor *r);

#endif
