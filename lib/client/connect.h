/* Outgoing WebSocket connections on a reactor (connect.c): what wr_loop_connect does, for any
 * reactor, the async client's loop or a server reactor whose fibers connect. */
#ifndef WR_LIB_CONNECT_H
#define WR_LIB_CONNECT_H

#include "conn.h"
#include "reactor.h"
#include "wring/client.h"

typedef struct wr_connector wr_connector;

/* What one reactor's connections share (resolver, TLS contexts, key seed); NULL on -ENOMEM.
 * Reactor thread only, as its connections. */
wr_connector *wr__connector_new(wr_reactor *r);
/* Stop the resolver (answers on their way are dropped); then drain the reactor's posts. */
void wr__connector_stop(wr_connector *k);
/* After the reactor's connections are gone. Accepts NULL. */
void wr__connector_free(wr_connector *k);

/* The reactor of an async client's loop (client.h). */
wr_reactor *wr__loop_reactor(wr_loop *loop);

/* For callers that need more than wr_loop_connect's contract. */
typedef struct wr_connect_extra {
	void *data;                  /* the connection's wr_ws_data, set before anything is reported */
	wr_conn **out_conn;          /* the connection, once made */
	int (*on_pressure)(wr_conn *c, void *user); /* the route's backpressure hook (ws.h) */
} wr_connect_extra;

/* wr_loop_connect on k's reactor (see wring/client.h); extra may be NULL. */
int wr__connector_connect(wr_connector *k, const char *url, const wr_client_options *opts,
                          const wr_ws_handlers *h, const wr_connect_extra *extra);

#endif
