/* A WSS client on the async loop: connects, sends "Hello, WebSocket!", prints the echo and
 * closes. Usage: wss_echo_client [URL] [--insecure | --ca FILE]
 * (default wss://localhost:8443/ws, verified against the system store). */
#include <stdio.h>
#include <string.h>
#include <wring.h>

static int status = 1;

static void on_open(wr_ws *ws, const wr_req *req, void *user)
{
	wr_ws_send_text(ws, "Hello, WebSocket!");
}

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	printf("%.*s\n", (int)msg.len, (const char *)msg.data);
	status = 0;
	wr_ws_close(ws, WR_CLOSE_NORMAL, "");
}

static void on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	int err = wr_ws_error(ws);
	if (status)
		fprintf(stderr, "closed: %d %.*s%s%s\n", code, (int)reason.len,
		        reason.data ? reason.data : "", err < 0 ? ": " : "", err < 0 ? wr_strerror(err) : "");
	wr_loop_stop(user);
}

int main(int argc, char **argv)
{
	const char *url = "wss://localhost:8443/ws";
	wr_tls_config tls = { 0 };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--insecure"))
			tls.insecure = true;
		else if (!strcmp(argv[i], "--ca") && i + 1 < argc)
			tls.ca_file = argv[++i];
		else
			url = argv[i];
	}
	/* The banner goes to stderr: stdout carries only the echoed message. */
	char tls_line[160];
	wr_tls_describe(tls_line, sizeof(tls_line));
	fprintf(stderr, "TLS: %s\n", tls_line);
	int err;
	wr_loop *loop = wr_loop_new(NULL, &err);
	if (!loop) {
		fprintf(stderr, "wr_loop_new: %s\n", wr_strerror(err));
		return 1;
	}
	wr_ws_handlers h = { .on_open = on_open, .on_message = on_message, .on_close = on_close,
	                     .user = loop };
	err = wr_loop_connect(loop, url, &(wr_client_options){ .tls = &tls }, &h);
	if (err < 0) {
		fprintf(stderr, "connect %s: %s\n", url, wr_strerror(err));
		wr_loop_free(loop);
		return 1;
	}
	wr_loop_run(loop);
	wr_loop_free(loop);
	return status;
}
