/* The seed's WSS echo server (cpp-httplib's SSLServer("cert.pem", "key.pem")): /ws over TLS
 * echoes text as text and binary as binary; GET /health answers over HTTPS.
 * Usage: wss_echo_server [port [cert.pem [key.pem]]] (default 8443 cert.pem key.pem).
 * examples/make-cert.sh makes a self-signed pair for localhost. */
#include <stdio.h>
#include <stdlib.h>
#include <wring.h>

#include "serve.h"

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static void health(wr_req *req, wr_res *res, void *user)
{
	wr_res_text(res, "ok\n");
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
	wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = on_message });
	wr_server_get(srv, "/health", health, NULL);
	char tls_line[160];
	wr_tls_describe(tls_line, sizeof(tls_line));
	printf("TLS: %s\n", tls_line);
	return example_serve(srv, port, " (wss)");
}
