/* HTTP/1.1 message heads (RFC 9112): request heads for the server, response heads for the
 * client, and chunked body decoding. No I/O, no allocation: views into the caller's buffer.
 *
 * Error codes map to the status a server answers with (wr__http_status_for):
 *   -EBADMSG 400, -EMSGSIZE 431 (head longer than max), -EFBIG 413, -ENOSYS 501 (unknown
 *   transfer coding), -EPROTONOSUPPORT 505 (version other than 1.0/1.1). */
#ifndef WR_LIB_HTTP_PARSE_H
#define WR_LIB_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "wring/common.h"

#define WR_HTTP_MAX_HEADERS 64

typedef struct wr_http_header {
	wr_str name;
	wr_str value; /* leading/trailing whitespace removed */
} wr_http_header;

typedef struct wr_http_req_head {
	wr_str method;
	wr_str target;   /* as sent: origin-form "/p?q", or "*" / absolute-form */
	wr_str path;     /* target up to '?' */
	wr_str query;    /* after '?', len 0 if none */
	int version;     /* 10 or 11 */
	size_t nheaders;
	wr_http_header headers[WR_HTTP_MAX_HEADERS];
	/* Derived from the headers while parsing: */
	int64_t content_length; /* -1 when absent */
	bool chunked;           /* Transfer-Encoding ends in chunked */
	bool keep_alive;        /* after Connection and version rules */
	bool conn_upgrade;      /* Connection has the "upgrade" token */
	bool expect_continue;
	wr_str host;
} wr_http_req_head;

typedef struct wr_http_resp_head {
	int version;
	int status;
	wr_str reason;
	size_t nheaders;
	wr_http_header headers[WR_HTTP_MAX_HEADERS];
	int64_t content_length;
	bool chunked;
} wr_http_resp_head;

/* Parse a request head from buf[0..len). prev_len is the length already seen by an earlier
 * call that returned -EAGAIN (0 the first time), so the end-of-head search resumes where it
 * left off. max_head bounds the head (-EMSGSIZE past it, even before it is complete).
 * Returns the head's length in bytes (> 0) with *out filled, -EAGAIN, or an error above. */
int wr__http_parse_request(const char *buf, size_t len, size_t prev_len, size_t max_head,
                           wr_http_req_head *out);
/* Same for a response head (client side); errors: -EAGAIN, -EBADMSG, -EMSGSIZE. */
int wr__http_parse_response(const char *buf, size_t len, size_t prev_len, size_t max_head,
                            wr_http_resp_head *out);

/* Case-insensitive lookup; the first match or {NULL, 0}. */
wr_str wr__http_find(const wr_http_header *h, size_t n, const char *name);
/* Does a comma-separated header value contain token (case-insensitive)? */
bool wr__http_has_token(wr_str value, const char *token);
/* Status for a parse error code; 400 for anything unknown. */
int wr__http_status_for(int err);
/* Reason phrase for a status ("Not Found"); "Unknown" if not known. */
const char *wr__http_reason(int status);

/* Chunked transfer coding decoder (RFC 9112 §7.1), resumable at every byte. */
typedef struct wr_chunked {
	int state;
	uint64_t remaining; /* bytes left in the current chunk */
	uint64_t total;     /* decoded so far */
	uint64_t max;       /* -EFBIG past it; 0 = no limit */
	unsigned ext_len;   /* guards against endless extensions/trailers */
	unsigned digits;    /* hex digits of the current size line */
} wr_chunked;

void wr__chunked_init(wr_chunked *d, uint64_t max);
/* Consume in[0..len): decoded body bytes are written to out (out may equal in: the output
 * never runs ahead of the input). *out_consumed / *out_len tell how much was read/written.
 * Returns 1 once the last chunk and trailers are complete (*out_consumed stops there), 0 if
 * more input is needed, -EBADMSG or -EFBIG. */
int wr__chunked_decode(wr_chunked *d, const char *in, size_t len, size_t *out_consumed,
                       char *out, size_t *out_len);

#endif
