/* A WebSocket proxy in the sequential style: per incoming connection on /ws, a fiber opens a
 * client connection to the upstream server on its own reactor (wr_fiber_connect, no thread)
 * and relays both ways, message by message, whichever side speaks (wr_ws_read_any). A send
 * to a slow side waits for it to drain, so neither side can flood the other through the
 * proxy; either side's close ends the relay and closes the other.
 * Usage: fiber_proxy [port] [upstream] (defaults 8081, ws://127.0.0.1:8080/ws). The
 * upstream's refusal (say 401) is passed on to the client as a close 1014 with the reason. */
#include <stdio.h>
#include <stdlib.h>
#include <wring.h>

#include "serve.h"

static const char *upstream = "ws://127.0.0.1:8080/ws";

static void relay(wr_ws *ws, const wr_req *req, void *user)
{
	wr_client_err err;
	wr_ws *up = wr_fiber_connect(upstream, NULL, &err);
	if (!up) {
		char why[96];
		snprintf(why, sizeof(why), "upstream: %s (HTTP %d)", wr_strerror(err.code),
		         err.http_status);
		wr_ws_close(ws, 1014, why); /* 1014: bad gateway */
		return;
	}
	wr_ws *both[2] = { ws, up };
	unsigned from;
	wr_msg msg;
	int rc;
	while ((rc = wr_ws_read_any(both, 2, &from, &msg)) > 0)
		if (wr_ws_send(both[1 - from], msg.data, msg.len, msg.opcode) < 0)
			break;
	if (rc == 0) {
		/* One side closed: the other is told the same code (1005 "none" and 1006 "dropped"
		 * cannot be sent: 1000 and 1001 stand for them). */
		int code = wr_ws_close_code(both[from]);
		code = code == 1005 ? 1000 : code == 1006 ? 1001 : code;
		if (wr_ws_close(both[1 - from], code, "") < 0)
			wr_ws_close(both[1 - from], 1000, "");
	}
	wr_fiber_ws_free(up); /* closes it with 1000 if still open; returning closes ws */
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8081;
	if (argc > 2)
		upstream = argv[2];
	wr_server *srv = example_server_new(NULL);
	if (!srv)
		return 1;
	/* Each side negotiates permessage-deflate on its own: the client with us (accepted when
	 * offered), we with the upstream (not offered: a relay on loopback gains nothing). */
	wr_server_websocket_fiber(srv, "/ws", &(wr_ws_fiber){ .handler = relay,
		.deflate = { .enable = true } });
	char note[300];
	snprintf(note, sizeof(note), ", relaying to %s", upstream);
	return example_serve(srv, port, note);
}
