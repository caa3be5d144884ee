/* Route table: exact paths and ":name" segments, per method. Built before the server starts,
 * read-only (and so shared by every reactor) afterwards. */
#ifndef WR_LIB_ROUTER_H
#define WR_LIB_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wring/server.h"

#define WR_MAX_PARAMS 8

struct wr_conn;

/* An upgrade route's hook: the request asked to switch protocols. req is borrowed until
 * return; rest[0..n) are the bytes that followed the request, writable and valid until
 * return. Returns true when the hook took the connection (it set its own protocol and gave
 * it rest), false when it answered with HTTP itself (wr__http_respond, wr__http_refuse) and
 * HTTP goes on with rest. */
typedef bool (*wr_http_upgrade_fn)(struct wr_conn *c, wr_req *req, uint8_t *rest, size_t n,
                                   void *user);

/* A stream route's hook has the same shape as an upgrade hook, and takes the connection as
 * soon as the request head is in (the body not read: rest is its start and whatever follows),
 * or at dispatch for a request without a body. */
enum wr_route_kind { WR_ROUTE_HTTP, WR_ROUTE_UPGRADE, WR_ROUTE_STREAM };

/* What a route leads to; copied by wr__router_add. */
typedef struct wr_route {
	enum wr_route_kind kind;
	union {
		wr_http_handler http;
		wr_http_upgrade_fn upgrade;
	} fn;
	void *user;      /* passed to fn; owned by the caller */
	/* WR_ROUTE_HTTP: where the server keeps the route's per-reactor stats (set at start,
	 * after the router copied this; NULL with metrics off), or NULL: not counted. */
	struct wr_http_route_stats *const *stats;
} wr_route;

typedef struct wr_route_params {
	size_t n;
	wr_str name[WR_MAX_PARAMS];
	wr_str value[WR_MAX_PARAMS]; /* views into the matched path */
} wr_route_params;

typedef struct wr_router wr_router;

wr_router *wr__router_new(void);
void wr__router_free(wr_router *r);
/* method: "GET", ... or NULL for any. pattern must start with '/'; ":name" takes a whole
 * segment; at most WR_MAX_PARAMS. Returns 0, -EINVAL (bad pattern), -EEXIST, -ENOMEM. */
int wr__router_add(wr_router *r, const char *method, const char *pattern, const wr_route *route);
/* Exact segments win over ":name" ones. HEAD falls back to GET routes. Returns 0 with
 * *out_route and *out_params set, -ENOENT (no path matches: 404) or -EPERM (path matches, the
 * method does not: 405). */
int wr__router_match(const wr_router *r, wr_str method, wr_str path, const wr_route **out_route,
                     wr_route_params *out_params);
/* Has any route the WR_ROUTE_STREAM kind? (HTTP then looks a route up before a body.) */
bool wr__router_has_stream(const wr_router *r);
/* "GET, HEAD, POST" for the Allow header of a 405; returns its length (NUL-terminated,
 * truncated to cap). */
size_t wr__router_allow(const wr_router *r, wr_str path, char *buf, size_t cap);

#endif
