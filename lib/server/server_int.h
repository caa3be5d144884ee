/* Inside the server layer: what metrics.c reads of a server (server.c owns it). */
#ifndef WR_LIB_SERVER_INT_H
#define WR_LIB_SERVER_INT_H

#include "http_stats.h"
#include "ws_stats.h"
#include "ws.h"
#include "wring/server.h"

/* The per-reactor stats (one per reactor launched, in *out) and how many; 0 and NULL with
 * metrics off or before the server started. */
unsigned wr__server_stats(const wr_server *srv, const wr_reactor_stats **out);
unsigned wr__server_ws_routes(const wr_server *srv);
/* WebSocket route i (registration order) and its path. */
const wr_ws_route *wr__server_ws_route(const wr_server *srv, unsigned i, const char **out_path);

/* An HTTP handler route: its pattern and method ("" for any), both metrics labels, and its
 * stats (one per reactor, made at start; NULL with metrics off). */
typedef struct wr_http_route_rec {
	char *pattern, *method;
	wr_http_route_stats *stats;
} wr_http_route_rec;

unsigned wr__server_http_routes(const wr_server *srv);
const wr_http_route_rec *wr__server_http_route(const wr_server *srv, unsigned i);
/* The stats of the requests no route took (NULL with metrics off). */
const wr_http_route_stats *wr__server_http_unmatched(const wr_server *srv);

#endif
