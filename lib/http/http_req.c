/* Request views and response builders: the public wr_req_* / wr_res_* API. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http_req.h"
#include "wring/server.h"

wr_str wr_req_method(const wr_req *req) { return req->head->method; }
wr_str wr_req_path(const wr_req *req) { return req->head->path; }
wr_str wr_req_query(const wr_req *req) { return req->head->query; }
wr_str wr_req_body(const wr_req *req) { return req->body; }
int wr_req_version(const wr_req *req) { return req->head->version; }
size_t wr_req_header_count(const wr_req *req) { return req->head->nheaders; }

wr_str wr_req_header(const wr_req *req, const char *name)
{
	return wr__http_find(req->head->headers, req->head->nheaders, name);
}

int wr_req_header_at(const wr_req *req, size_t i, wr_str *out_name, wr_str *out_value)
{
	if (i >= req->head->nheaders)
		return -ERANGE;
	*out_name = req->head->headers[i].name;
	*out_value = req->head->headers[i].value;
	return 0;
}

wr_str wr_req_param(const wr_req *req, const char *name)
{
	size_t n = strlen(name);
	if (req->params)
		for (size_t i = 0; i < req->params->n; i++)
			if (req->params->name[i].len == n && memcmp(req->params->name[i].data, name, n) == 0)
				return req->params->value[i];
	return (wr_str){ NULL, 0 };
}

/* Header names and values must not smuggle a line break into the response. */
static bool header_ok(const char *name, const char *value)
{
	if (!*name)
		return false;
	for (const char *p = name; *p; p++)
		if (*p <= ' ' || *p == ':' || *p == 127)
			return false;
	for (const char *p = value; *p; p++)
		if (*p == '\r' || *p == '\n' || *p == 0)
			return false;
	return true;
}

int wr__http_header_add(wr_buf *b, const char *name, const char *value)
{
	if (!header_ok(name, value))
		return -EINVAL;
	size_t nl = strlen(name), vl = strlen(value);
	int rc = wr__buf_reserve(b, nl + vl + 4);
	if (rc < 0)
		return rc;
	memcpy(b->data + b->len, name, nl);
	b->len += nl;
	b->data[b->len++] = ':';
	b->data[b->len++] = ' ';
	memcpy(b->data + b->len, value, vl);
	b->len += vl;
	b->data[b->len++] = '\r';
	b->data[b->len++] = '\n';
	return 0;
}

void wr_res_status(wr_res *res, int status)
{
	if (res->sealed)
		return;
	if (status >= 100 && status <= 999)
		res->status = status;
	else
		res->error = -EINVAL;
}

int wr_res_header(wr_res *res, const char *name, const char *value)
{
	if (res->sealed)
		return -EALREADY;
	/* Framing is ours: a handler cannot set a conflicting length or coding. */
	if (!strcasecmp(name, "content-length") || !strcasecmp(name, "transfer-encoding"))
		return -EPERM;
	if (!strcasecmp(name, "content-type"))
		res->has_type = true;
	int rc = wr__http_header_add(res->headers, name, value);
	if (rc < 0 && !res->error)
		res->error = rc;
	return rc;
}

int wr_res_body(wr_res *res, const void *data, size_t len)
{
	res->body->len = 0;
	int rc = wr__buf_append(res->body, data, len);
	if (rc < 0 && !res->error)
		res->error = rc;
	return rc;
}

int wr_res_text(wr_res *res, const char *text)
{
	if (!res->has_type) {
		int rc = wr_res_header(res, "Content-Type", "text/plain; charset=utf-8");
		if (rc < 0)
			return rc;
	}
	return wr_res_body(res, text, strlen(text));
}
