/* The seed's echo server in the seed's own style: a loop that reads and sends back, on a fiber
 * of the connection's reactor (no thread per connection).
 *   /ws        echoes text as text and binary as binary
 *   /ws-auth   the auth example: refuses without an Authorization header (401), then greets
 *              and echoes
 *   /ws-slow   a conversation with a pause: waits 100 ms before each answer
 * Usage: fiber_echo_server [port] (default 8080). WR_THREADS sets the reactors; WR_DEFLATE
 * as for echo_server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wring.h>

#include "serve.h"

static void echo(wr_ws *ws, const wr_req *req, void *user)
{
	wr_msg msg;
	while (wr_ws_read(ws, &msg) > 0)
		if (wr_ws_send(ws, msg.data, msg.len, msg.opcode) < 0)
			break;
}

static int need_auth(const wr_req *req, wr_upgrade *up, void *user)
{
	if (wr_req_header(req, "Authorization").len > 0)
		return 0;
	wr_upgrade_header(up, "WWW-Authenticate", "Bearer realm=\"wring\"");
	return 401;
}

static void greet_then_echo(wr_ws *ws, const wr_req *req, void *user)
{
	wr_ws_send_text(ws, "welcome"); /* req is readable here, before the first read */
	echo(ws, req, user);
}

static void slow_echo(wr_ws *ws, const wr_req *req, void *user)
{
	wr_msg msg;
	while (wr_ws_read(ws, &msg) > 0) {
		/* The view is good until the next read, sleep included. */
		if (wr_fiber_sleep(100) < 0 || wr_ws_send(ws, msg.data, msg.len, msg.opcode) < 0)
			break;
	}
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	const char *threads = getenv("WR_THREADS");
	wr_server_config cfg = { .threads = threads ? (unsigned)atoi(threads) : 0 };
	wr_server *srv = example_server_new(&cfg);
	if (!srv)
		return 1;
	/* permessage-deflate as in echo_server: accepted when offered; WR_DEFLATE=0 refuses it,
	 * WR_DEFLATE=shared uses one compressor per reactor. */
	const char *dfl = getenv("WR_DEFLATE");
	wr_deflate_config deflate = { .enable = !dfl || strcmp(dfl, "0") != 0,
	                              .shared = dfl && strcmp(dfl, "shared") == 0 };
	wr_server_websocket_fiber(srv, "/ws", &(wr_ws_fiber){ .handler = echo, .deflate = deflate });
	wr_server_websocket_fiber(srv, "/ws-auth", &(wr_ws_fiber){ .on_upgrade = need_auth,
	                                                          .handler = greet_then_echo });
	wr_server_websocket_fiber(srv, "/ws-slow", &(wr_ws_fiber){ .handler = slow_echo });
	return example_serve(srv, port, "");
}
