/* The seed's WSS echo server in the sequential style: the same loop as fiber_echo_server, on
 * TLS. Usage: fiber_wss_echo_server [port] [cert.pem] [key.pem] (defaults 8443, cert.pem,
 * key.pem; examples/make-cert.sh makes a self-signed pair). */
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
	int err;
	srv = wr_server_new(&(wr_server_config){ .tls = &tls }, &err);
	if (!srv) {
		fprintf(stderr, "wr_server_new: %s (%s, %s)\n", wr_strerror(err), tls.cert_file,
		        tls.key_file);
		return 1;
	}
	wr_server_websocket_fiber(srv, "/ws", &(wr_ws_fiber){ .handler = echo });
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	err = wr_server_start(srv, "0.0.0.0", (uint16_t)port);
	if (err < 0) {
		fprintf(stderr, "listen: %s\n", wr_strerror(err));
		wr_server_free(srv);
		return 1;
	}
	printf("Listening on port %u (wss)...\n", wr_server_port(srv));
	fflush(stdout);
	err = wr_server_wait(srv);
	wr_server_free(srv);
	return err < 0 ? 1 : 0;
}
