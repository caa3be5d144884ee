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
};

struct wr_res {
	int status;
	wr_buf *headers;  /* "Name: value\r\n" lines (reactor scratch) */
	wr_buf *body;     /* reactor scratch */
	bool has_type;
	int error;        /* first failure of a builder call */
};

/* Append "Name: value\r\n" to b: 0, -EINVAL (a name that is not a token, a line break in the
 * value) or -ENOMEM. */
int wr__http_header_add(wr_buf *b, const char *name, const char *value);

#endif
