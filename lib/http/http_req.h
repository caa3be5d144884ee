/* The request and response objects handed to HTTP handlers and upgrade hooks. */
#ifndef WR_LIB_HTTP_REQ_H
#define WR_LIB_HTTP_REQ_H

#include "buf.h"
#include "http_parse.h"
#include "router.h"

struct wr_req {
	const wr_http_req_head *head;
	wr_str body;
	const wr_route_params *params;
	void *stream;     /* a sequential route's request (lib/fiber): its body is read there */
};

struct wr_res {
	int status;
	wr_buf *headers;  /* "Name: value\r\n" lines (reactor scratch) */
	wr_buf *body;     /* reactor scratch */
	bool has_type;
	bool sealed;      /* the head went out (a streamed answer): no more status or headers */
	int error;        /* first failure of a builder call */
	void *stream;     /* a sequential route's answer (lib/fiber) */
};

/* Append "Name: value\r\n" to b: 0, -EINVAL (a name that is not a token, a line break in the
 * value) or -ENOMEM. */
int wr__http_header_add(wr_buf *b, const char *name, const char *value);

#endif
