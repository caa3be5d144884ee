/* Fiber WebSocket routes, as the server wires them: a route's user is a wr_fiber_route, its
 * callbacks and backpressure hook come from here. */
#ifndef WR_LIB_FIBER_WS_H
#define WR_LIB_FIBER_WS_H

#include <stddef.h>

#include "conn.h"
#include "wring/fiber.h"

typedef struct wr_fiber_route {
	wr_ws_fiber f;
	size_t stack_size;
} wr_fiber_route;

/* Fill h with the callbacks that run rt's handler on fibers (h->user = rt). */
void wr__fiber_ws_handlers(wr_fiber_route *rt, wr_ws_handlers *h);
/* The route's on_pressure (ws.h): wait for the drain when called from the connection's
 * own fiber. */
int wr__fiber_ws_pressure(wr_conn *c, void *user);

#endif
