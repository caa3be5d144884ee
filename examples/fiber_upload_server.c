/* Sequential HTTP: uploads read in pieces as they arrive, downloads streamed as they are made.
 *   POST /upload            a fiber reads the body piece by piece (Content-Length or chunked,
 *                           any size: memory stays bounded) and answers its length and
 *                           FNV-1a hash
 *   GET  /download/:mib     streams :mib MiB (chunked), waiting for the client to read
 *   POST /upload-buffered   the callback style for comparison: the body arrives whole in
 *                           wr_req_body, up to max_body_bytes (WR_MAX_BODY bytes, default
 *                           1 MiB; past it 413)
 * Usage: fiber_upload_server [port] (default 8080). WR_THREADS sets the reactors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wring.h>

#include "serve.h"

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return h;
}

static void answer(wr_res *res, uint64_t len, uint64_t hash)
{
	char t[96];
	snprintf(t, sizeof(t), "%llu bytes, fnv1a %016llx\n", (unsigned long long)len,
	         (unsigned long long)hash);
	wr_res_text(res, t);
}

static void upload(wr_req *req, wr_res *res, void *user)
{
	wr_str piece;
	int rc;
	uint64_t len = 0, hash = 0xcbf29ce484222325ull;
	while ((rc = wr_req_read(req, &piece)) > 0) {
		hash = fnv1a(hash, piece.data, piece.len);
		len += piece.len;
	}
	if (rc < 0) {
		/* The client is gone (nothing to answer) or sent a malformed body. */
		wr_res_status(res, 400);
		wr_res_text(res, wr_strerror(rc));
		return;
	}
	answer(res, len, hash);
}

static void download(wr_req *req, wr_res *res, void *user)
{
	static char block[65536];
	memset(block, 'w', sizeof(block));
	wr_str p = wr_req_param(req, "mib");
	long mib = strtol(p.data, NULL, 10); /* the segment ends at '/', '?' or the head's CR */
	wr_res_header(res, "Content-Type", "application/octet-stream");
	for (long i = 0; i < mib * 16; i++)
		if (wr_res_write(res, block, sizeof(block)) < 0)
			return; /* the client went away */
}

static void upload_buffered(wr_req *req, wr_res *res, void *user)
{
	wr_str b = wr_req_body(req);
	answer(res, b.len, fnv1a(0xcbf29ce484222325ull, b.data, b.len));
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	const char *threads = getenv("WR_THREADS"), *max_body = getenv("WR_MAX_BODY");
	wr_server_config cfg = { .threads = threads ? (unsigned)atoi(threads) : 0,
	                         .max_body_bytes = max_body ? strtoull(max_body, NULL, 10) : 0 };
	wr_server *srv = example_server_new(&cfg);
	if (!srv)
		return 1;
	wr_server_route_fiber(srv, "POST", "/upload", &(wr_http_fiber){ .handler = upload });
	wr_server_route_fiber(srv, "GET", "/download/:mib", &(wr_http_fiber){ .handler = download });
	wr_server_post(srv, "/upload-buffered", upload_buffered, NULL);
	return example_serve(srv, port, "");
}
