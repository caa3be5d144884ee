/* The seed's WSS echo server in the sequential style: the same loop as fiber_echo_server, on
 * TLS. Usage: fiber_wss_echo_server [port] [cert.pem] [key.pem] (defaults 8443, cert.pem,
 * key.pem; examples/make-cert.sh makes a self-signed pair). */
#include <stdio.h>
#include <stdlib.h>
#include <wring.h>

#include "serve.h"

static void echo(wr_ws *ws, const wr_req *req, void *user)
{
	wr_msg msg;
	while (wr_ws_read(ws, &msg) > 0)
		if (wr_ws_send(ws, msg.data, msg.len, msg.opcode) < 0)
			break;
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8443;
	wr_tls_config tls = {
		.cert_file = argc > 2 ? argv[2] : "cert.pem",
		.key_file = argc > 3 ? argv[3] : "key.pem",
	};
	wr_server *srv = example_server_new(&(wr_server_config){ .tls = &tls });
	if (!srv)
		return 1;
	wr_server_websocket_fiber(srv, "/ws", &(wr_ws_fiber){ .handler = echo });
	return example_serve(srv, port, " (wss)");
}
