/* A reactor: one thread, one ring, one buffer ring, one connection slab, one timer wheel.
 * Everything here is touched only by the reactor's own thread, except `wake_fd` and the
 * atomic `stop` flag. Connections (wr_conn, which is also the public wr_ws) live in the slab
 * and are freed only when no request for them is in flight. */
#ifndef WR_LIB_REACTOR_H
#define WR_LIB_REACTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "wring/server.h"
#include "wring/client.h"
#include "buf.h"
#include "list.h"
#include "ring.h"
#include "router.h"
#include "ws_codec.h"
#include "tls.h"

#define WR_TICK_MS 100u
#define WR_WHEEL_SLOTS 1024u   /* ~102 s horizon; longer deadlines wait for another lap */
#define WR_SEG_SIZE 16384u     /* standard output segment (pooled) */
#define WR_FLUSH_BATCH 256u
#define WR_IOV_PER_SEND 64u    /* 1 MiB of standard segments per sendmsg */

typedef struct wr_reactor wr_reactor;
typedef struct wr_conn wr_conn;
struct wr_tls_conn;

/* One piece of a connection's output: our own bytes (owned) or the caller's (zero-copy). */
typedef struct wr_seg {
	struct wr_seg *next;
	uint8_t *data;
	size_t len;       /* bytes queued in data */
	size_t off;       /* bytes already sent */
	size_t cap;       /* owned: capacity of data */
	wr_send_done done;/* external: called when sent or dropped */
	void *user;
	bool owned;
	bool pooled;
	uint8_t mem[];    /* owned data lives here */
} wr_seg;

enum wr_conn_state {
	WR_CONN_FREE,
	WR_CONN_CONNECTING,  /* client: TCP connect in flight */
	WR_CONN_CLIENT_HS,   /* client: upgrade request sent, waiting for the 101 */
	WR_CONN_HTTP,
	WR_CONN_WS,
	WR_CONN_LINGER,      /* our last bytes are flushed, write side shut: draining the peer */
	WR_CONN_CLOSED,      /* waiting for in-flight requests before freeing */
};

enum wr_conn_flag {
	WR_CF_RECV_ARMED = 1u << 0,
	WR_CF_SENDING = 1u << 1,
	WR_CF_FLUSH_QUEUED = 1u << 2,
	WR_CF_CLOSE_AFTER_FLUSH = 1u << 3, /* then linger */
	WR_CF_CLOSE_SENT = 1u << 4,        /* WebSocket close frame queued by us */
	WR_CF_CLOSE_RCVD = 1u << 5,
	WR_CF_CLIENT = 1u << 6,            /* client role: mask frames */
	WR_CF_PING_SENT = 1u << 7,
	WR_CF_DRAIN_WANTED = 1u << 8,
	WR_CF_RECV_DISCARD = 1u << 9,      /* bad request answered: ignore further input */
	WR_CF_NEED_REARM = 1u << 10,       /* multishot recv ended with ENOBUFS */
	WR_CF_OPENED = 1u << 11,           /* on_open was called: on_close is owed */
	WR_CF_TIMER = 1u << 12,
	WR_CF_IN_CALLBACK = 1u << 13,
	WR_CF_CLOSE_REPORTED = 1u << 14,
};

typedef struct wr_http_state {
	uint32_t head_len;    /* 0: head not yet complete; else parsed, its body awaited */
	uint32_t scanned;     /* bytes of `in` already scanned for the end of the head */
	uint64_t body_need;   /* Content-Length of the awaited body */
	bool chunked;
	bool expect_continue;
	bool continue_sent;
	size_t raw_pos;       /* chunked: next undecoded byte in `in` */
	size_t dec_end;       /* chunked: end of the decoded body in `in` */
	wr_chunked dec;
} wr_http_state;

typedef struct wr_ws_state {
	wr_ws_parser parser;
	const wr_ws_handlers *h;
	void *data;            /* user's per-connection pointer */
	wr_buf msg;            /* reassembly of messages spread over buffers or fragments */
	uint8_t msg_opcode;
	uint16_t close_code;   /* code we report in on_close */
	uint8_t protocol_len;
	char protocol[47];
	uint32_t close_deadline;
	int error;             /* -errno / HTTP status behind a failed client connection */
} wr_ws_state;

struct wr_conn {
	uint32_t idx;
	uint32_t gen;
	int fd;
	uint8_t state;
	uint16_t flags;
	uint16_t inflight;        /* requests in the ring that name this connection */
	uint32_t deadline;        /* tick at which the timer fires; valid with WR_CF_TIMER */
	uint32_t last_active;     /* tick of the last received bytes */
	wr_reactor *r;
	wr_list timer_link;
	wr_list flush_link;       /* pending flush, or the closed list */
	wr_list all_link;
	wr_seg *out_head, *out_tail;
	size_t out_bytes;         /* queued and not yet acknowledged by a send completion */
	wr_buf in;                /* a request head or body spread over receive buffers */
	struct wr_tls_conn *tls;
	union {
		wr_http_state http;
		struct {
			uint32_t pad;
		} none;
	};
	wr_ws_state ws;           /* valid in WR_CONN_WS / client states */
	uint64_t rng;             /* client role: masking-key generator state */
	struct wr_client_spec *client; /* client role: what to connect to */
};

/* Configuration shared (read-only) by the reactors of one server or one loop. */
typedef struct wr_shared {
	wr_server_config cfg;    /* defaults filled in */
	wr_router *router;
	struct wr_tls_ctx *tls;
	wr_server *srv;          /* NULL for a client loop */
	wr_loop *loop;
} wr_shared;

/* Work posted to a reactor from any thread (wr_server_run_on), carried by a MSG_RING CQE. */
typedef struct wr_post {
	void (*fn)(void *arg);
	void *arg;
} wr_post;

typedef struct wr_every {
	struct wr_every *next;
	uint64_t period_ns, next_ns;
	void (*fn)(wr_loop *loop, void *user);
	void *user;
} wr_every;

struct wr_reactor {
	unsigned idx;
	int cpu;
	const wr_shared *sh;
	wr_ring *ring;
	int listen_fd;
	bool accept_armed;
	bool accept_backoff;     /* EMFILE/ENFILE: re-arm at the next tick */
	int wake_fd;             /* eventfd: wr_server_stop / wr_loop_stop */
	uint64_t wake_buf;
	atomic_bool stop;
	bool stopping;
	uint64_t stop_deadline_ns;
	pthread_t thread;
	int start_rc;            /* result of setup, read by the starter */
	bool posts_open;         /* accepts wr_server_run_on; guarded by the server's post lock */
	/* connections */
	wr_conn *conns;
	uint32_t nconns_max;
	uint32_t *free_idx;
	uint32_t nfree;
	uint32_t live;
	wr_list all;
	wr_list flush;           /* connections with output to send this turn */
	wr_list closed;          /* connections to free at the end of the turn */
	wr_list rearm;           /* connections whose recv must be re-armed */
	/* time */
	uint64_t now_ns;
	uint32_t tick;
	uint64_t next_tick_ns;
	wr_list wheel[WR_WHEEL_SLOTS];
	char date[40];           /* "Date: ..." line, refreshed every second */
	uint64_t date_sec;
	wr_every *every;
	/* output segment pool */
	wr_seg *seg_pool;
	unsigned seg_pool_n;
	wr_seg *ext_pool;        /* headers of zero-copy segments */
	unsigned ext_pool_n;
	/* flush scratch: the kernel copies msghdr/iovec at submit */
	struct msghdr msgs[WR_FLUSH_BATCH];
	struct iovec iovs[WR_FLUSH_BATCH][WR_IOV_PER_SEND];
	/* request/response scratch, reused by every request of this reactor */
	wr_buf scratch;
	wr_buf body;
	wr_http_req_head head;
	uint64_t rng;
	uint64_t stats_accepted, stats_refused;
};

/* reactor.c */
int wr__reactor_init(wr_reactor *r, const wr_shared *sh, unsigned idx, int cpu);
void wr__reactor_finish(wr_reactor *r);
int wr__reactor_listen(wr_reactor *r, const char *host, uint16_t port, uint16_t *out_port);
int wr__reactor_run(wr_reactor *r);
void wr__reactor_wake(wr_reactor *r);
void wr__reactor_begin_stop(wr_reactor *r);
/* After the loop ended: run posts that were already in flight. */
void wr__reactor_drain_posts(wr_reactor *r);
void wr__ring_read_wake(wr_reactor *r);
void wr__conn_deliver(wr_conn *c, uint8_t *p, size_t n);
uint64_t wr__now_ns(void);
void wr__timer_arm(wr_conn *c, uint32_t after_ms);
void wr__timer_cancel(wr_conn *c);

/* conn.c */
wr_conn *wr__conn_new(wr_reactor *r, int fd);
void wr__conn_free_closed(wr_reactor *r);
/* Queue a copy of p (coalesced into the tail segment). 0 or -ENOMEM/-ENOBUFS. */
int wr__conn_write(wr_conn *c, const void *p, size_t n);
/* Reserve n contiguous bytes at the tail and return them (NULL on -ENOMEM). */
uint8_t *wr__conn_write_reserve(wr_conn *c, size_t n);
int wr__conn_write_raw(wr_conn *c, const void *p, size_t n);
/* Queue hdr (copied) then the caller's p without copying; done runs once the kernel is done
 * with p (or with a negative status if the connection closed first). Nothing is queued on
 * failure. */
int wr__conn_write_ext(wr_conn *c, const void *hdr, size_t hl, const void *p, size_t n,
                       wr_send_done done, void *user);
int wr__conn_write_masked(wr_conn *c, const void *p, size_t n, const uint8_t key[4]);
void wr__conn_flush_queue(wr_conn *c);
void wr__reactor_flush(wr_reactor *r);
void wr__conn_on_sent(wr_conn *c, int res);
/* Close after the queued output is sent (then linger). */
void wr__conn_close_soft(wr_conn *c);
/* Close now: cancel in-flight requests, drop output. */
void wr__conn_close_hard(wr_conn *c);
void wr__conn_recv_arm(wr_conn *c);
bool wr__conn_over_limit(const wr_conn *c);

/* http_session.c */
void wr__http_on_data(wr_conn *c, uint8_t *p, size_t n);
void wr__http_on_timer(wr_conn *c);

/* ws_session.c */
void wr__ws_start(wr_conn *c, const wr_ws_handlers *h, void *data, bool client);
void wr__ws_on_data(wr_conn *c, uint8_t *p, size_t n);
void wr__ws_on_timer(wr_conn *c);
void wr__ws_on_drain(wr_conn *c);
/* The connection is going away (EOF, error, stop): report on_close once. */
void wr__ws_on_gone(wr_conn *c, int code, const char *reason);
void wr__ws_shutdown(wr_conn *c, int code, const char *reason);

/* loop.c (client side) */
void wr__client_on_connect(wr_conn *c, int res);
void wr__client_on_data(wr_conn *c, uint8_t *p, size_t n);
void wr__client_spec_free(struct wr_client_spec *s);
struct wr_url;
int wr__client_spec_new(const char *url, const wr_client_options *o, const wr_ws_handlers *h,
                        struct wr_client_spec **out, struct wr_url *out_url);
size_t wr__client_key(uint64_t *rng, char key_line[64], char accept[29]);
int wr__client_request(const struct wr_url *u, const wr_client_options *o, wr_buf *out,
                       char ***out_protocols);
void wr__client_protocols_free(char **protos);

/* server.c: fill in defaults; -EINVAL for a config that cannot work. */
int wr__config_defaults(wr_server_config *c);

/* Rounded up; in 64 bits, as ms near UINT32_MAX ("never") must not wrap to zero ticks. */
static inline uint32_t wr__ms_to_ticks(uint32_t ms)
{
	return (uint32_t)(((uint64_t)ms + WR_TICK_MS - 1) / WR_TICK_MS);
}

#endif
