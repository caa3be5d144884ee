/* HTTP hello: GET / and GET /hello/:name. Usage: [WR_THREADS=n] hello [port] (default 8080). */
#include <stdio.h>
#include <stdlib.h>
#include <wring.h>

#include "serve.h"

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
	/* WR_THREADS: reactors to run (default: one per CPU), for bench/http_bench.sh. */
	const char *env = getenv("WR_THREADS");
	wr_server_config cfg = { .threads = env ? (unsigned)atoi(env) : 0 };
	wr_server *srv = example_server_new(&cfg);
	if (!srv)
		return 1;
	wr_server_get(srv, "/", root, NULL);
	wr_server_get(srv, "/hello/:name", hello, NULL);
	return example_serve(srv, port, "");
}
