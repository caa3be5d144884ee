/* A reactor: one thread, one ring, one buffer ring, one connection slab, one timer wheel.
 * Everything here is touched only by the reactor's own thread, except `wake_fd`, the atomic
 * `stop` flag and posts (which arrive through the ring). The reactor knows no protocol: it
 * accepts, receives, sends, runs timers and closes, and for everything else calls the
 * connection's transport and protocol tables (conn.h). */
#ifndef WR_LIB_REACTOR_H
#define WR_LIB_REACTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "budget.h"
#include "clock.h"
#include "conn.h"
#include "hist.h"
#include "stats.h"
#include "inbox.h"
#include "list.h"
#include "pool.h"
#include "ring.h"

#define WR_TICK_MS 100u
#define WR_WHEEL_SLOTS 1024u   /* ~102 s horizon; longer deadlines wait for another lap */
#define WR_SEG_SIZE 16384u     /* standard output segment (pooled) */
#define WR_SEG_SMALL 512u      /* a small one, header included: an answer or a few frames */
#define WR_FLUSH_BATCH 256u
#define WR_IOV_PER_SEND 64u    /* 1 MiB of standard segments per sendmsg */
#define WR_CONN_TURN_BYTES (64u * 1024u)
#define WR_TURN_BYTES (1024u * 1024u)
#define WR_TURN_NS 2000000u    /* a turn's time for taking in bytes */
#define WR_CONN_SMALL_TURN 2048u /* at most this in a turn: an occasional sender (over_share) */
#define WR_SEND_TURN_BYTES (256u * 1024u)  /* one connection's send per turn */
#define WR_FLUSH_TURN_BYTES (1024u * 1024u) /* all sends of a turn, small ones apart */

/* A receive completion set aside for a later turn (the connection had its share). */
typedef struct wr_deferred {
	uint64_t ud;
	uint8_t *p;
	size_t n;       /* payload length: not cqe.res when a recvmsg header precedes it */
	uint64_t rx;    /* kernel receive stamp (realtime ns), 0 without one */
	wr_cqe cqe;
} wr_deferred;

/* What a reactor is told by the layer that creates it (server or client loop). */
typedef struct wr_reactor_config {
	unsigned idx;              /* for logs and wr_ws_reactor */
	unsigned max_conns;
	unsigned recv_buf_count;   /* power of 2 */
	unsigned recv_buf_size;
	size_t max_send_buffer;    /* past it wr__conn_over_limit is true */
	/* A send of at least this many bytes goes zero-copy (SEND_ZC), its memory held until
	 * the kernel's notification; a connection whose notification says the kernel copied
	 * anyway (loopback) sends plainly from then on. 0: never. */
	size_t send_zc_threshold;
	/* Inward backpressure: a queue past send_high stops the connection's receiving until
	 * it is back under send_low; one that stays past send_high for send_timeout_ms is cut
	 * off (the protocol's on_overload). send_high 0: never paused. */
	size_t send_high, send_low;
	unsigned send_timeout_ms;
	/* The memory budget for queued output and protocol buffers that this reactor shares
	 * with the server's others (budget.h; borrowed, outlives the reactor). NULL: unbounded. */
	wr_budget *budget;
	/* Fair share per loop turn: bytes a connection takes in before its further receives
	 * wait for the next turn, and the turn's total past which every connection that
	 * already had some waits. 0: the defaults (WR_CONN_TURN_BYTES, WR_TURN_BYTES). */
	size_t conn_turn_bytes, turn_bytes;
	unsigned linger_ms;        /* a closing connection drains the peer this long at most */
	unsigned stop_ms;          /* a stop waits this long for connections to finish */
	/* An accepted connection (listener set): set up its transport and protocol. The
	 * connection is open with the plain transport; receiving starts after return. */
	void (*on_accept)(wr_conn *c, void *user);
	/* A post from the inbox for an open connection c (a stale one is dropped). */
	void (*on_post)(wr_conn *c, const wr_inbox_msg *m, void *user);
	/* A post for the reactor itself (wr__reactor_post_ptr): m->ptr is the receiver's. */
	void (*on_reactor_post)(wr_reactor *r, const wr_inbox_msg *m, void *user);
	void *user;                /* for on_accept, on_post and wr__reactor_user */
	/* Metrics kept by the reactor's thread (stats.h), owned by the caller so that they
	 * outlive the reactor; the loop-turn histogram is then stats->turn. NULL: none. */
	wr_reactor_stats *stats;
	/* Take the kernel's software receive timestamp of every receive (SO_TIMESTAMPING,
	 * multishot recvmsg): wr__reactor_rx_ns gives it to the protocols. */
	bool rx_timestamps;
	/* A turn whose sends are all ones nothing waits for (quiet: the whole queue went) waits
	 * for one completion more than them, for up to this long before it takes what has come
	 * (wr__ring_submit_settle): with one message in flight per connection, the answer's
	 * send and the next message then cost one wake-up, not two. 0: off. */
	unsigned settle_us;
	bool recv_bundles;       /* ask the ring for receive bundles (wr_ring_config) */
} wr_reactor_config;

/* Work posted to a reactor from any thread, carried by a MSG_RING completion. */
typedef struct wr_post {
	void (*fn)(void *arg);
	void *arg;
} wr_post;

typedef struct wr_every {
	struct wr_every *next;
	uint64_t period_ns, next_ns;
	void (*fn)(void *user);
	void *user;
} wr_every;

struct wr_reactor {
	wr_reactor_config cfg;
	wr_ring *ring;
	int listen_fd;
	bool accept_armed;
	bool accept_backoff;     /* EMFILE/ENFILE: re-arm at the next tick */
	int wake_fd;             /* eventfd: stop requests */
	uint64_t wake_buf;
	atomic_bool stop;
	bool stopping;
	uint64_t stop_deadline_ns;
	/* connections */
	wr_conn *conns;
	uint32_t *free_idx;
	uint32_t nfree;
	uint32_t live;
	uint32_t high;           /* slots [0, high) have been used: the walk for a stop */
	wr_list flush;           /* connections with output to send this turn */
	wr_list closed;          /* connections to free at the end of the turn */
	/* This turn's flush: sends whose completion nothing waits for, and whether there was
	 * any other (then the turn's wait returns at its first completion, as always). */
	unsigned quiet_sends;
	bool loud_sends;
	/* fairness: the turn's number and bytes, receives waiting for a later turn */
	uint16_t turn_no;
	bool turn_full;
	bool inbox_more;         /* posts left for the next turn (handle_inbox) */
	size_t turn_bytes;
	uint64_t turn_start_ns;
	wr_deferred *dq;
	unsigned dq_n, dq_cap;
	/* memory: bytes held (queues and protocol buffers), connections paused for their
	 * queue or for the budget, when memory was last handed back */
	size_t mem_used;         /* exact */
	size_t mem_held;         /* reserved from cfg.budget: mem_used and a little more */
	uint32_t n_paused_out, n_paused_budget;
	uint32_t budget_since;   /* tick the reactor went over 3/4 of its budget (0: under) */
	size_t mem_high;         /* the most mem_used was since the last malloc_trim */
	size_t mem_freed;        /* bytes freed since then that mem_used does not count (pools) */
	uint32_t trim_tick;
	/* time */
	uint64_t now_ns;         /* when this turn's wait returned */
	uint64_t rx_ns;          /* rx_timestamps: the receive being handled, on the one clock */
	int64_t real_offset;     /* rx_timestamps: CLOCK_REALTIME - the one clock, at the tick */
	/* How long each loop turn kept the reactor busy: from its wait returning to its timers
	 * being due (the completions dispatched), ns, small shape. Read from any thread
	 * (hist.h); cfg.stats->turn when given, else the reactor's own. */
	wr_hist *turn_hist;
	wr_reactor_stats *stats; /* cfg.stats */
	uint32_t tick;
	uint64_t next_tick_ns;
	wr_list wheel[WR_WHEEL_SLOTS];
	wr_every *every;
	/* A slot for one upper layer's per-reactor state (the fiber scheduler): the core only
	 * frees it, with the function given, when the reactor goes. */
	void *ext;
	void (*ext_free)(void *ext);
	wr_inbox inbox;          /* posts for connections from any thread */
	/* The WebSocket layer's topic index (pub/sub), set and freed by whoever made it. */
	void *topics;
	/* memory */
	wr_pool pool;            /* protocol and transport states */
	wr_seg *seg_pool;
	unsigned seg_pool_n;
	wr_seg *small_pool;
	unsigned small_pool_n;
	/* Small segments out (queued on connections), and the most out at once lately: a
	 * broadcast to N connections takes N of them per message, so the free list keeps up to
	 * that many between broadcasts (halved per trim while less is used) instead of freeing
	 * them to the allocator after each one and growing the heap again for the next. */
	unsigned small_out, small_peak;
	wr_seg *ext_pool;        /* headers of zero-copy segments */
	unsigned ext_pool_n;
	/* What a protocol shares among the reactor's connections (the WebSocket layer's
	 * compressor), made on its first need and freed with the reactor. */
	void *proto_shared;
	void (*proto_shared_free)(void *shared);
	/* flush scratch: the kernel copies msghdr/iovec at submit */
	struct msghdr msgs[WR_FLUSH_BATCH];
	struct iovec iovs[WR_FLUSH_BATCH][WR_IOV_PER_SEND];
};

/* Create a reactor (its ring is bound to the calling thread). 0 or -errno. cfg is copied. */
int wr__reactor_new(const wr_reactor_config *cfg, wr_reactor **out);
/* Closes every connection still there (reporting on_gone), then frees. Accepts NULL. */
void wr__reactor_free(wr_reactor *r);
/* Accept on fd (a listening socket, owned from here on) once running. */
void wr__reactor_set_listener(wr_reactor *r, int fd);
/* Run until a stop has finished. 0 or -errno. Can be run again after it returned. */
int wr__reactor_run(wr_reactor *r);
/* One loop turn (waiting at most until the next timer tick): for a caller that drives the
 * loop itself. 0 or -errno. */
int wr__reactor_turn(wr_reactor *r);
/* Thread-safe and async-signal-safe: ask the reactor to stop. */
void wr__reactor_wake(wr_reactor *r);
void wr__reactor_begin_stop(wr_reactor *r);
/* A reactor whose run ended after a stop can run again (client loops). */
void wr__reactor_reset_stop(wr_reactor *r);
/* After the loop ended: run posts that were already in flight. */
void wr__reactor_drain_posts(wr_reactor *r);
/* A repeating timer: fn(user) every period (1 ms resolution). 0 or -ENOMEM. */
int wr__reactor_every(wr_reactor *r, unsigned ms, void (*fn)(void *user), void *user);
/* A one-shot timer, disarmed at first: wr__reactor_timer_set arms it for an absolute time on
 * the one clock (UINT64_MAX disarms); it fires once, then stays disarmed. Freed with the
 * reactor. NULL on -ENOMEM. */
wr_every *wr__reactor_timer_new(wr_reactor *r, void (*fn)(void *user), void *user);
static inline void wr__reactor_timer_set(wr_every *e, uint64_t at_ns) { e->next_ns = at_ns; }
static inline void *wr__reactor_user(const wr_reactor *r) { return r->cfg.user; }
static inline unsigned wr__reactor_idx(const wr_reactor *r) { return r->cfg.idx; }
/* The time this loop turn's wait returned, from the one clock (clock.h). */
static inline uint64_t wr__reactor_now_ns(const wr_reactor *r) { return r->now_ns; }
/* When the bytes being handled were received: the kernel's timestamp with rx_timestamps (on
 * the one clock), else the time this turn's wait returned with their completion. */
static inline uint64_t wr__reactor_rx_ns(const wr_reactor *r)
{
	return r->rx_ns ? r->rx_ns : r->now_ns;
}

/* The reactor running on the calling thread (inside wr__reactor_run or _turn), or NULL. */
wr_reactor *wr__reactor_current(void);
/* Any thread: post ptr to r itself (its on_reactor_post gets it). From a reactor's own thread
 * the wake-up is queued on that reactor's ring and leaves with its next submit: whatever it
 * posts to r during one turn costs one MSG_RING at most. 1 when this post woke r, 0 when a
 * wake-up was pending, or -errno (then ptr is still the caller's). */
int wr__reactor_post_ptr(wr_reactor *r, uint8_t kind, void *ptr);

/* A listening socket for host:port (SO_REUSEPORT, so every reactor can have its own).
 * 0 with *out_fd and *out_port (the bound port, for port 0) or -errno. */
int wr__listen(const char *host, uint16_t port, int backlog, int *out_fd, uint16_t *out_port);

/* Posting from other threads: a small ring of their own (MSG_RING needs a ring to send
 * from), used under a lock. */
typedef struct wr_poster wr_poster;
int wr__poster_new(wr_poster **out);
void wr__poster_free(wr_poster *p);
/* Run fn(arg) on r's thread. 0 or -errno (the post is then not delivered). */
int wr__poster_send(wr_poster *p, wr_reactor *r, void (*fn)(void *arg), void *arg);

/* The reactor holds d bytes more (or fewer) that the memory budget counts; the shared
 * counter moves only when the reactor's reservation must (budget.h). */
static inline void wr__reactor_mem_add(wr_reactor *r, int64_t d)
{
	r->mem_used += (size_t)d;
	if (r->mem_used > r->mem_high)
		r->mem_high = r->mem_used;
	if (r->cfg.budget && wr__budget_unsettled(r->cfg.budget, r->mem_used, r->mem_held))
		wr__budget_settle(r->cfg.budget, r->mem_used, &r->mem_held);
}

/* The whole server's memory as this reactor sees it (never under the true sum); 0 without
 * a budget. */
static inline size_t wr__reactor_mem_total(const wr_reactor *r)
{
	return r->cfg.budget ? wr__budget_used(r->cfg.budget, r->mem_used, r->mem_held) : 0;
}

/* Queued output of c grows (d > 0) or shrinks: c->out_bytes and the reactor's gauge. */
static inline void wr__conn_out_add(wr_conn *c, int64_t d)
{
	c->out_bytes += (uint32_t)d;
	wr__reactor_mem_add(c->r, d); /* the memory budget counts queued output */
	if (c->r->stats)
		WR_STAT_ADD(c->r->stats->send_queued, (uint64_t)d);
}

/* ---- timers: a wheel of 100 ms ticks ---- */
void wr__timer_arm(wr_conn *c, uint32_t after_ms);
void wr__timer_cancel(wr_conn *c);
/* Ticks since c last received bytes. */
static inline uint32_t wr__conn_idle_ticks(const wr_conn *c) { return c->r->tick - c->last_active; }

/* Rounded up; in 64 bits, as ms near UINT32_MAX ("never") must not wrap to zero ticks. */
static inline uint32_t wr__ms_to_ticks(uint32_t ms)
{
	return (uint32_t)(((uint64_t)ms + WR_TICK_MS - 1) / WR_TICK_MS);
}

#endif
