/* HTTP hello: GET / and GET /hello/:name. Usage: [WR_THREADS=n] hello [port] (default 8080). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <wring.h>

static wr_server *srv;

static void on_signal(int sig)
{
	(void)sig;
	wr_server_stop(srv); /* async-signal-safe */
}

static void root(wr_req *req, wr_res *res, void *user)
{
	wr_res_text(res, "Hello, World!\n");
}

static void hello(wr_req *req, wr_res *res, void *user)
{
	wr_str name = wr_req_param(req, "name");
	char body[300];
	snprintf(body, sizeof(body), "Hello, %.*s!\n", (int)(name.len > 256 ? 256 : name.len), name.data);
	wr_res_text(res, body);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	int err;
	/* WR_THREADS: reactors to run (default: one per CPU), for bench/http_bench.sh. */
	const char *env = getenv("WR_THREADS");
	wr_server_config cfg = { .threads = env ? (unsigned)atoi(env) : 0 };
	srv = wr_server_new(&cfg, &err);
	if (!srv) {
		fprintf(stderr, "wr_server_new: %s\n", wr_strerror(err));
		return 1;
	}
	wr_server_get(srv, "/", root, NULL);
	wr_server_get(srv, "/hello/:name", hello, NULL);
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
