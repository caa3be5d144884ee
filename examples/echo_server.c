/* The seed's echo server: /ws echoes text as text and binary as binary.
 * Usage: echo_server [port] (default 8080). Also answers GET / with a page that uses it. */
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

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode); /* same type back */
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
	wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = on_message });
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
