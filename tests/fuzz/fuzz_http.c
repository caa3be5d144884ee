/* libFuzzer: request and response heads and chunked bodies, whole and resumed at a split. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static wr_http_req_head h, h2;
	static wr_http_resp_head r;
	if (size < 1)
		return 0;
	size_t split = data[0] % (size + 1);
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	/* Exact-size copy so that ASan sees any read past the input. */
	char *buf = malloc(n ? n : 1);
	memcpy(buf, p, n);
	int whole = wr__http_parse_request(buf, n, 0, 8192, &h);
	if (split > n)
		split = n;
	int part = wr__http_parse_request(buf, split, 0, 8192, &h2);
	if (part == -EAGAIN) {
		int resumed = wr__http_parse_request(buf, n, split, 8192, &h2);
		if (resumed != whole && !(whole < 0 && resumed < 0))
			abort(); /* resuming must not change a verdict */
	}
	if (whole > 0) {
		if ((size_t)whole > n || h.method.data < buf || h.path.data + h.path.len > buf + n)
			abort();
		wr_chunked d;
		wr__chunked_init(&d, 1 << 20);
		size_t used, outl;
		char *body = malloc(n - (size_t)whole + 1);
		memcpy(body, buf + whole, n - (size_t)whole);
		int rc = wr__chunked_decode(&d, body, n - (size_t)whole, &used, body, &outl);
		if (rc >= 0 && (used > n - (size_t)whole || outl > used))
			abort(); /* on failure the outputs are untouched, by contract */
		free(body);
	}
	wr__http_parse_response(buf, n, 0, 8192, &r);
	free(buf);
	return 0;
}
