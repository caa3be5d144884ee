/* The seed's echo client in the sequential style, on fibers: N conversations (connect, send
 * "Hello, WebSocket!", read the echo, close), each written as straight-line code, all on one
 * thread and one io_uring (wr_loop_spawn), none blocking the others. With N = 1 it prints
 * what examples/echo_client prints.
 * Usage: fiber_echo_client [url] [n] (defaults ws://localhost:8080/ws, 1). Exits 0 when every
 * conversation got its echo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wring.h>

static wr_loop *loop;
static const char *url = "ws://localhost:8080/ws";
static int total, pending, failed;

static void conversation(void *arg)
{
	(void)arg;
	wr_client_err err;
	wr_ws *ws = wr_fiber_connect(url, NULL, &err);
	if (!ws) {
		fprintf(stderr, "%s: %s", url, wr_strerror(err.code));
		if (err.http_status)
			fprintf(stderr, " (HTTP %d)", err.http_status);
		fprintf(stderr, "\n");
		failed++;
	} else {
		static const char hello[] = "Hello, WebSocket!";
		wr_msg msg;
		if (wr_ws_send_text(ws, hello) == 0 && wr_ws_read(ws, &msg) > 0 &&
		    msg.len == strlen(hello) && !memcmp(msg.data, hello, msg.len)) {
			if (total == 1)
				printf("%.*s\n", (int)msg.len, (const char *)msg.data);
		} else {
			failed++;
		}
		wr_fiber_ws_free(ws); /* close 1000 */
	}
	if (--pending == 0)
		wr_loop_stop(loop);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		url = argv[1];
	int n = argc > 2 ? atoi(argv[2]) : 1;
	if (n < 1)
		n = 1;
	int err;
	loop = wr_loop_new(NULL, &err);
	if (!loop) {
		fprintf(stderr, "wr_loop_new: %s\n", wr_strerror(err));
		return 1;
	}
	total = pending = n;
	for (int i = 0; i < n; i++)
		if (wr_loop_spawn(loop, conversation, NULL) < 0) {
			failed++;
			pending--;
		}
	if (pending)
		wr_loop_run(loop);
	wr_loop_free(loop);
	if (n > 1)
		printf("%d of %d conversations echoed\n", n - failed, n);
	return failed ? 1 : 0;
}
