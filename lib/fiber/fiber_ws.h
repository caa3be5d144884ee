/* Fiber WebSocket connections: what a fiber reads from. A wr_fconn is the fiber side of one
 * WebSocket connection, on the server (a fiber route's own connection) or a client
 * connection the fiber opened (wr_fiber_connect). The WebSocket layer's callbacks feed it:
 * a message goes straight to its fiber when that fiber waits in a read (zero copy), else it
 * is kept as a copy; past max_unread bytes of copies the connection stops receiving until
 * the fiber has read them (TCP holds the peer back), so a fiber that sleeps costs bounded
 * memory. The server wires routes through wr__fiber_ws_handlers. */
#ifndef WR_LIB_FIBER_WS_H
#define WR_LIB_FIBER_WS_H

#include <stddef.h>

#include "buf.h"
#include "conn.h"
#include "fiber.h"
#include "wring/fiber.h"

typedef struct wr_fiber_route {
	wr_ws_fiber f;
	size_t stack_size;
} wr_fiber_route;

/* A message that came while the fiber was not reading: copied, read later in order. */
typedef struct wr_held_msg {
	struct wr_held_msg *next;
	wr_msg m;                 /* m.data points at data */
	uint8_t data[];
} wr_held_msg;

struct wr_fread;

typedef struct wr_fconn {
	wr_ws *ws;
	wr_fiber *owner;          /* the one fiber that reads it */
	struct wr_fread *rd;      /* the owner's read, while it waits on this connection */
	wr_held_msg *head, *tail; /* copies not read yet */
	wr_held_msg *given;       /* the copy the last read returned: freed at the next */
	wr_buf cur;               /* the message handed straight to a waiting read */
	size_t held_bytes;
	size_t max_unread;        /* past it, receiving pauses */
	unsigned drain_ms;
	wr_list link;             /* on owner->conns */
	/* A client connection (wr_fiber_connect) is freed by this once both its fiber and its
	 * connection are done with it; NULL for a route's own connection. */
	void (*release)(struct wr_fconn *fc);
	int open_rc;              /* client: 1 open, < 0 the failure, 0 while connecting */
	uint16_t close_code;      /* as on_close reported it */
	uint8_t refs;
	bool draining, closed, paused;
} wr_fconn;

/* Fill h with the callbacks that run rt's handler on fibers (h->user = rt). */
void wr__fiber_ws_handlers(wr_fiber_route *rt, wr_ws_handlers *h);
/* The route's on_pressure (ws.h): wait for the drain when called from the connection's
 * own fiber. */
int wr__fiber_ws_pressure(wr_conn *c, void *user);

/* For fiber_client.c: the callbacks a fiber's client connection shares with routes. */
void wr__fconn_on_message(wr_ws *ws, wr_msg msg, void *user);
void wr__fconn_on_drain(wr_ws *ws, void *user);
/* The connection is gone: every wait on it ends; held copies stay readable. */
void wr__fconn_closed(wr_fconn *fc);
/* Free the held copies. */
void wr__fconn_finish(wr_fconn *fc);
/* The fiber's handler has returned: it reads none of its connections any more (client
 * connections it opened are closed and released). */
void wr__fiber_conns_end(wr_fiber *f);
/* The running fiber's connection ws, or NULL. */
wr_fconn *wr__fconn_own(wr_ws *ws);

#endif
