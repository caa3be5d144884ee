/* A wring echo server that counts the messages it receives and prints the count when it is
 * stopped (SIGTERM/SIGINT): the reference ws-bench's own figures are checked against.
 * Usage: count_server PORT [threads]. Prints "Listening on port N" once accepting, and
 * "messages N" on stop. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <wring.h>

static wr_server *srv;
/* One counter per reactor, each touched by its own thread only; padded apart. */
static struct {
	_Alignas(64) _Atomic unsigned long long n;
} counts[256];

static void on_signal(int sig)
{
	(void)sig;
	wr_server_stop(srv);
}

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	unsigned r = wr_ws_reactor(ws) & 255;
	atomic_store_explicit(&counts[r].n, atomic_load_explicit(&counts[r].n, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = threads }, &err);
	if (!srv) {
		fprintf(stderr, "wr_server_new: %s\n", wr_strerror(err));
		return 1;
	}
	wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = on_message });
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	err = wr_server_start(srv, "127.0.0.1", (uint16_t)port);
	if (err < 0) {
		fprintf(stderr, "listen: %s\n", wr_strerror(err));
		wr_server_free(srv);
		return 1;
	}
	printf("Listening on port %u\n", wr_server_port(srv));
	fflush(stdout);
	err = wr_server_wait(srv);
	unsigned long long total = 0;
	for (unsigned i = 0; i < 256; i++)
		total += atomic_load(&counts[i].n);
	printf("messages %llu\n", total);
	fflush(stdout);
	wr_server_free(srv);
	return err < 0 ? 1 : 0;
}
