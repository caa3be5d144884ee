/* The seed's "request info" example: a WebSocket echo that wants an Authorization header.
 *   /ws         the seed's pattern: accept the upgrade, look at the header in on_open and,
 *               if it is missing, close at once with 1008 "unauthorized".
 *   /ws-strict  the better pattern: refuse in on_upgrade with 401 and WWW-Authenticate, so
 *               an unauthorised client never gets a WebSocket at all.
 * Usage: auth_server [port] (default 8080). Any non-empty Authorization value is accepted:
 * checking it is the application's business. */
#include <stdio.h>
#include <stdlib.h>
#include <wring.h>

#include "serve.h"

static bool authorized(const wr_req *req)
{
	return wr_req_header(req, "Authorization").len > 0;
}

static void on_open(wr_ws *ws, const wr_req *req, void *user)
{
	if (!authorized(req))
		wr_ws_close(ws, WR_CLOSE_POLICY_VIOLATION, "unauthorized");
}

static int on_upgrade(const wr_req *req, wr_upgrade *up, void *user)
{
	if (authorized(req))
		return 0;
	wr_upgrade_header(up, "WWW-Authenticate", "Bearer realm=\"wring\"");
	return 401;
}

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	wr_server *srv = example_server_new(NULL);
	if (!srv)
		return 1;
	wr_server_websocket(srv, "/ws", &(wr_ws_handlers){
		.on_open = on_open,
		.on_message = on_message,
	});
	wr_server_websocket(srv, "/ws-strict", &(wr_ws_handlers){
		.on_upgrade = on_upgrade,
		.on_message = on_message,
	});
	return example_serve(srv, port, "");
}
