/* The seed's "request info" example: a WebSocket echo that wants an Authorization header.
 *   /ws         the seed's pattern: accept the upgrade, look at the header in on_open and,
 *               if it is missing, close at once with 1008 "unauthorized".
 *   /ws-strict  the better pattern: refuse in on_upgrade with 401 and WWW-Authenticate, so
 *               an unauthorised client never gets a WebSocket at all.
 * Usage: auth_server [port] (default 8080). Any non-empty Authorization value is accepted:
 * checking it is the application's business. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <wring.h>

static wr_server *srv;

static void on_signal(int sig)
{
	(void)sig;
	wr_server_stop(srv);
}

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
	int err;
	srv = wr_server_new(NULL, &err);
	if (!srv) {
		fprintf(stderr, "wr_server_new: %s\n", wr_strerror(err));
		return 1;
	}
	wr_server_websocket(srv, "/ws", &(wr_ws_handlers){
		.on_open = on_open,
		.on_message = on_message,
	});
	wr_server_websocket(srv, "/ws-strict", &(wr_ws_handlers){
		.on_upgrade = on_upgrade,
		.on_message = on_message,
	});
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	err = wr_server_start(srv, "0.0.0.0", (uint16_t)port);
	if (err < 0) {
		fprintf(stderr, "listen: %s\n", wr_strerror(err));
		wr_server_free(srv);
		return 1;
	}
	printf("Listening on port %u...\n", wr_server_port(srv));
	fflush(stdout);
	err = wr_server_wait(srv);
	wr_server_free(srv);
	return err < 0 ? 1 : 0;
}
