/* The seed's "request info" example in the sequential style: an echo that wants an
 * Authorization header.
 *   /ws         the seed's pattern: the handler looks at the header first and, if it is
 *               missing, closes at once with 1008 "unauthorized"; else it echoes.
 *   /ws-strict  the better pattern: refuse in on_upgrade with 401 and WWW-Authenticate, so
 *               an unauthorised client never gets a WebSocket at all.
 * Usage: fiber_auth_server [port] (default 8080). Any non-empty Authorization value is
 * accepted: checking it is the application's business. */
#include <stdio.h>
#include <stdlib.h>
#include <wring.h>

#include "serve.h"

static bool authorized(const wr_req *req)
{
	return wr_req_header(req, "Authorization").len > 0;
}

static void echo(wr_ws *ws)
{
	wr_msg msg;
	while (wr_ws_read(ws, &msg) > 0)
		if (wr_ws_send(ws, msg.data, msg.len, msg.opcode) < 0)
			break;
}

static void seed_pattern(wr_ws *ws, const wr_req *req, void *user)
{
	/* req is the handshake request, readable until the first wait. */
	if (!authorized(req)) {
		wr_ws_close(ws, WR_CLOSE_POLICY_VIOLATION, "unauthorized");
		return;
	}
	echo(ws);
}

static int refuse_unauthorized(const wr_req *req, wr_upgrade *up, void *user)
{
	if (authorized(req))
		return 0;
	wr_upgrade_header(up, "WWW-Authenticate", "Bearer realm=\"wring\"");
	return 401;
}

static void strict(wr_ws *ws, const wr_req *req, void *user)
{
	echo(ws);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	wr_server *srv = example_server_new(NULL);
	if (!srv)
		return 1;
	wr_server_websocket_fiber(srv, "/ws", &(wr_ws_fiber){ .handler = seed_pattern });
	wr_server_websocket_fiber(srv, "/ws-strict", &(wr_ws_fiber){
		.on_upgrade = refuse_unauthorized, .handler = strict });
	return example_serve(srv, port, "");
}
