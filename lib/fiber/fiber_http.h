/* Sequential HTTP routes (wr_http_fiber), as the server wires them: a stream route
 * (router.h WR_ROUTE_STREAM) whose hook is wr__fiber_http_take and whose user is a
 * wr_fiber_http_route. */
#ifndef WR_LIB_FIBER_HTTP_H
#define WR_LIB_FIBER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "http_stats.h"
#include "wring/fiber.h"

typedef struct wr_fiber_http_route {
	wr_http_fiber f;
	size_t stack_size;
	unsigned idle_ms;         /* read_timeout_ms when the route gives none */
	wr_http_route_stats **stats; /* the route's metrics, one per reactor (*stats NULL: off) */
} wr_fiber_http_route;

/* The route's hook (router.h wr_http_upgrade_fn): take c for the request's whole exchange,
 * on a fiber; HTTP gets c back (wr__http_resume) when the answer is done and the connection
 * may be kept. */
bool wr__fiber_http_take(wr_conn *c, wr_req *req, uint8_t *rest, size_t n, void *user);

#endif
