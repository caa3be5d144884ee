/* A reactor's inbox: work for one connection sent from any thread (a message to send, a
 * close), without a lock and without an allocation per post in the steady state.
 *
 * Two bounded lock-free queues of preallocated nodes (Vyukov's array queue: a sequence number
 * per cell, one atomic add per side): `free` hands nodes to senders, `in` carries them to the
 * reactor. The sender copies the payload into the node (inline up to WR_INBOX_INLINE bytes),
 * queues it, and wakes the reactor with IORING_OP_MSG_RING from a ring of its own thread,
 * only when no wake-up is pending already. The reactor drains the queue on that completion and
 * gives the nodes back. A node past the pool, or a payload past the inline room, is allocated:
 * the steady state of small messages is not.
 *
 * The connection is named by (slot, generation); `live` publishes each slot's generation while
 * it is open, so a sender learns of a stale handle at once (-ESTALE), and the reactor checks
 * again on delivery (a connection that closed in between never gets another's message). */
#ifndef WR_LIB_INBOX_H
#define WR_LIB_INBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpq.h"

#define WR_INBOX_NODES 1024u   /* per reactor (power of 2) */
#define WR_INBOX_INLINE 480u
#define WR_LIVE_CLOSED 0x80000000u
/* The target of a post for the reactor itself rather than one of its connections. */
#define WR_INBOX_REACTOR UINT64_MAX

typedef struct wr_inbox_msg {
	uint64_t ref;          /* wr__conn_ref of the target */
	uint8_t kind;          /* the poster's own meaning (send, close) */
	uint8_t op;
	uint16_t code;
	uint32_t len;
	uint8_t *data;         /* inline, or heap (heap_data) */
	void *ptr;             /* a post of a pointer (wr__inbox_post_ptr): the poster's object */
	bool heap_node, heap_data;
	uint8_t inl[WR_INBOX_INLINE];
} wr_inbox_msg;

typedef struct wr_inbox {
	wr_mpq in, free;
	wr_inbox_msg *nodes;
	_Alignas(64) atomic_bool wake_pending;
	int ring_fd;           /* the reactor's ring, target of MSG_RING */
	_Atomic uint32_t *live;/* per slot: generation while open, WR_LIVE_CLOSED after */
	unsigned slots;
} wr_inbox;

int wr__inbox_init(wr_inbox *ib, int ring_fd, unsigned slots);
/* Frees every node still queued. */
void wr__inbox_finish(wr_inbox *ib);
/* Any thread: is (slot, gen) of ref open now? */
bool wr__inbox_is_live(const wr_inbox *ib, uint64_t ref);
/* Reactor thread: publish a slot's state. */
void wr__inbox_publish(wr_inbox *ib, uint32_t slot, uint32_t gen, bool open);
/* Any thread: queue a post for ref with a copy of data[0..len), and wake the reactor.
 * 0, -ESTALE (ref is not open), -ENOMEM, or -errno of the wake (the post is then delivered
 * with the next one). */
int wr__inbox_post(wr_inbox *ib, uint64_t ref, uint8_t kind, uint8_t op, uint16_t code,
                   const void *data, size_t len);
/* Any thread: queue a pointer for the reactor itself (ref WR_INBOX_REACTOR; nothing copied,
 * no liveness check: the receiver takes over what ptr holds). The wake-up goes out through
 * `via` when given, a ring of the calling thread that submits at its own pace (a reactor
 * posting to another submits it with its next turn: one MSG_RING per target per turn), else
 * at once through the thread's own small ring. 1 when this post sent the wake-up, 0 when one
 * was pending already (or failed: the post then goes with the next one's), -EAGAIN (full) or
 * -ENOMEM (ptr is then still the caller's). */
struct wr_ring;
int wr__inbox_post_ptr(wr_inbox *ib, uint8_t kind, void *ptr, struct wr_ring *via);
/* Reactor thread: the wake-up arrived; take every queued post (NULL when empty)... */
void wr__inbox_woken(wr_inbox *ib);
wr_inbox_msg *wr__inbox_take(wr_inbox *ib);
/* ...and give each back once handled. */
void wr__inbox_done(wr_inbox *ib, wr_inbox_msg *m);

#endif
