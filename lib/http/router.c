/* Route table: a trie with one level per path segment. Each node has exact children and at most
 * one ":param" child; the routes themselves (method, target, parameter names) hang off the node
 * where their pattern ends, so "/u/:id" and "/u/:name" are the same node and different methods
 * may name the parameter differently.
 *
 * Matching walks the trie depth first, exact child before param child, and takes the first node
 * that both ends the path and has a route for the method. Each trie node sits at one depth, so
 * it is visited at most once per lookup: the cost is bounded by the size of the table, not by
 * the path. Memory is allocated in add/new and released in free only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

struct entry {
	char *method;                    /* NULL: any method */
	size_t nparams;
	char *names[WR_MAX_PARAMS];      /* parameter names, in path order */
	wr_route route;
};

struct node {
	char *seg;                       /* exact segment text (NUL-terminated), NULL for param */
	size_t seg_len;
	struct node **kids;
	size_t nkids;
	struct node *param;
	struct entry *entries;
	size_t nentries;
};

struct wr_router {
	struct node root; /* stands before the first '/' */
	unsigned nstream; /* WR_ROUTE_STREAM routes */
};

static void node_finish(struct node *n)
{
	for (size_t i = 0; i < n->nkids; i++) {
		node_finish(n->kids[i]);
		free(n->kids[i]);
	}
	free(n->kids);
	if (n->param) {
		node_finish(n->param);
		free(n->param);
	}
	for (size_t i = 0; i < n->nentries; i++) {
		free(n->entries[i].method);
		for (size_t j = 0; j < n->entries[i].nparams; j++)
			free(n->entries[i].names[j]);
	}
	free(n->entries);
	free(n->seg);
}

wr_router *wr__router_new(void)
{
	return calloc(1, sizeof(wr_router));
}

void wr__router_free(wr_router *r)
{
	if (!r)
		return;
	node_finish(&r->root);
	free(r);
}

static bool is_tchar(unsigned char c)
{
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return true;
	if (c >= '0' && c <= '9')
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_name_char(unsigned char c)
{
	return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Bytes a pattern may hold: printable ASCII without those that end a path. */
static bool is_path_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '?' && c != '#';
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Validate a whole pattern before touching the trie, so that a bad one changes nothing. */
static int check_pattern(const char *pattern)
{
	const char *names[WR_MAX_PARAMS];
	size_t lens[WR_MAX_PARAMS];
	size_t nparams = 0;

	if (!pattern || pattern[0] != '/')
		return -EINVAL;
	const char *p = pattern + 1;
	for (;;) {
		const char *s = p;
		while (*p && *p != '/') {
			if (!is_path_char((unsigned char)*p))
				return -EINVAL;
			p++;
		}
		if (*s == ':') {
			size_t n = (size_t)(p - s - 1);
			if (n == 0 || nparams == WR_MAX_PARAMS)
				return -EINVAL;
			for (size_t i = 0; i < n; i++)
				if (!is_name_char((unsigned char)s[1 + i]))
					return -EINVAL;
			for (size_t i = 0; i < nparams; i++)
				if (lens[i] == n && memcmp(names[i], s + 1, n) == 0)
					return -EINVAL;
			names[nparams] = s + 1;
			lens[nparams] = n;
			nparams++;
		}
		if (!*p)
			return 0;
		p++;
	}
}

/* The child for one pattern segment, created if missing. */
static struct node *child_get(struct node *n, const char *s, size_t len)
{
	if (len > 0 && s[0] == ':') {
		if (!n->param)
			n->param = calloc(1, sizeof(struct node));
		return n->param;
	}
	for (size_t i = 0; i < n->nkids; i++)
		if (n->kids[i]->seg_len == len && memcmp(n->kids[i]->seg, s, len) == 0)
			return n->kids[i];

	struct node **kids = realloc(n->kids, (n->nkids + 1) * sizeof(*kids));
	if (!kids)
		return NULL;
	n->kids = kids;
	struct node *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->seg = dup_n(s, len);
	if (!k->seg) {
		free(k);
		return NULL;
	}
	k->seg_len = len;
	n->kids[n->nkids++] = k;
	return k;
}

static bool method_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int wr__router_add(wr_router *r, const char *method, const char *pattern, const wr_route *route)
{
	if (!r || !route)
		return -EINVAL;
	if (method) {
		if (!*method)
			return -EINVAL;
		for (const char *m = method; *m; m++)
			if (!is_tchar((unsigned char)*m))
				return -EINVAL;
	}
	int rc = check_pattern(pattern);
	if (rc < 0)
		return rc;

	/* Walk and extend the trie. Nodes created before a later failure stay: they are empty,
	 * match nothing (no entries), and are freed with the router. */
	struct node *n = &r->root;
	struct entry e = {0};
	const char *params[WR_MAX_PARAMS]; /* each at its ':' in pattern */
	const char *p = pattern + 1;
	for (;;) {
		const char *s = p;
		while (*p && *p != '/')
			p++;
		n = child_get(n, s, (size_t)(p - s));
		if (!n)
			return -ENOMEM;
		if (*s == ':')
			params[e.nparams++] = s; /* copied below, once nothing can clash */
		if (!*p)
			break;
		p++;
	}
	for (size_t i = 0; i < n->nentries; i++)
		if (method_eq(n->entries[i].method, method))
			return -EEXIST;

	struct entry *entries = realloc(n->entries, (n->nentries + 1) * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	n->entries = entries;
	e.route = *route;
	if (method && !(e.method = dup_n(method, strlen(method))))
		return -ENOMEM;
	for (size_t i = 0; i < e.nparams; i++) {
		const char *s = params[i] + 1;
		e.names[i] = dup_n(s, strcspn(s, "/"));
		if (!e.names[i]) {
			for (size_t j = 0; j < i; j++)
				free(e.names[j]);
			free(e.method);
			return -ENOMEM;
		}
	}
	n->entries[n->nentries++] = e;
	if (route->kind == WR_ROUTE_STREAM)
		r->nstream++;
	return 0;
}

bool wr__router_has_stream(const wr_router *r) { return r->nstream != 0; }

static bool str_is(wr_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(s.data, lit, n) == 0;
}

/* The route at node n for method, or NULL. An exact method wins over "any"; HEAD falls back to
 * GET (a HEAD is a GET without the body), then to "any". */
static const struct entry *node_route(const struct node *n, wr_str method)
{
	const struct entry *any = NULL, *get = NULL;

	for (size_t i = 0; i < n->nentries; i++) {
		const struct entry *e = &n->entries[i];
		if (!e->method)
			any = e;
		else if (strlen(e->method) == method.len &&
		         memcmp(e->method, method.data, method.len) == 0)
			return e;
		else if (strcmp(e->method, "GET") == 0)
			get = e;
	}
	if (get && str_is(method, "HEAD"))
		return get;
	return any;
}

struct walk {
	wr_str method;
	const char *end;          /* end of the path */
	wr_str values[WR_MAX_PARAMS];
	size_t nvalues;
	bool path_found;          /* some node ended the path, whatever its methods */
	/* match: */
	const struct entry *hit;
	/* allow list: when set, every node that ends the path is reported instead */
	void (*visit)(const struct node *n, void *arg);
	void *arg;
};

static bool walk(struct walk *w, const struct node *n, const char *p);

/* k matched the segment ending at p: the path ends at k, or the walk goes on below it. */
static bool descend(struct walk *w, const struct node *k, const char *p, bool last)
{
	if (!last)
		return walk(w, k, p + 1);
	if (k->nentries) {
		w->path_found = true;
		if (w->visit)
			w->visit(k, w->arg);
		else if ((w->hit = node_route(k, w->method)))
			return true;
	}
	return false;
}

/* Match the segment starting at p (just after a '/') against n's children. */
static bool walk(struct walk *w, const struct node *n, const char *p)
{
	const char *s = p;
	while (p < w->end && *p != '/')
		p++;
	size_t len = (size_t)(p - s);
	bool last = p == w->end;

	for (size_t i = 0; i < n->nkids; i++) {
		const struct node *k = n->kids[i];
		if (k->seg_len != len || memcmp(k->seg, s, len) != 0)
			continue;
		if (descend(w, k, p, last))
			return true;
		break; /* exact segments are unique among siblings */
	}

	const struct node *k = n->param;
	if (!k || len == 0)
		return false; /* an empty segment never binds a parameter */
	w->values[w->nvalues++] = (wr_str){s, len};
	if (descend(w, k, p, last))
		return true;
	w->nvalues--;
	return false;
}

int wr__router_match(const wr_router *r, wr_str method, wr_str path, const wr_route **out_route,
                     wr_route_params *out_params)
{
	struct walk w = {.method = method};

	if (!r || !path.data || path.len == 0 || path.data[0] != '/')
		return -ENOENT;
	w.end = path.data + path.len;
	if (!walk(&w, &r->root, path.data + 1))
		return w.path_found ? -EPERM : -ENOENT;

	*out_route = &w.hit->route;
	if (out_params) {
		/* Only as many parameters as the route names: a deeper param node can only be reached
		 * through the segments bound so far, so the counts agree. */
		out_params->n = w.hit->nparams;
		for (size_t i = 0; i < w.hit->nparams; i++) {
			out_params->name[i] = (wr_str){w.hit->names[i], strlen(w.hit->names[i])};
			out_params->value[i] = w.values[i];
		}
	}
	return 0;
}

/* Methods listed in an Allow header, well-known ones first in a fixed order. */
static const char *const known_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};
#define NKNOWN (sizeof(known_methods) / sizeof(known_methods[0]))
#define ALLOW_OTHERS_MAX 16

struct allow {
	bool known[NKNOWN];
	const char *others[ALLOW_OTHERS_MAX];
	size_t nothers;
};

static void allow_add(struct allow *a, const char *m)
{
	for (size_t i = 0; i < NKNOWN; i++) {
		if (strcmp(known_methods[i], m) == 0) {
			a->known[i] = true;
			return;
		}
	}
	for (size_t i = 0; i < a->nothers; i++)
		if (strcmp(a->others[i], m) == 0)
			return;
	if (a->nothers < ALLOW_OTHERS_MAX)
		a->others[a->nothers++] = m;
}

static void allow_visit(const struct node *n, void *arg)
{
	struct allow *a = arg;

	for (size_t i = 0; i < n->nentries; i++) {
		const char *m = n->entries[i].method;
		if (!m) {
			/* Any method: list the standard ones the server can answer. */
			for (size_t k = 0; k < NKNOWN; k++)
				if (strcmp(known_methods[k], "CONNECT") != 0 &&
				    strcmp(known_methods[k], "TRACE") != 0)
					a->known[k] = true;
			continue;
		}
		allow_add(a, m);
		if (strcmp(m, "GET") == 0)
			allow_add(a, "HEAD");
	}
}

/* Append ", m" (or "m" first) if it fits whole; a method is never cut in half. */
static size_t put_method(char *buf, size_t cap, size_t len, const char *m)
{
	size_t mlen = strlen(m), sep = len ? 2 : 0;

	if (len + sep + mlen + 1 > cap)
		return len;
	if (sep)
		memcpy(buf + len, ", ", 2);
	memcpy(buf + len + sep, m, mlen);
	len += sep + mlen;
	buf[len] = '\0';
	return len;
}

size_t wr__router_allow(const wr_router *r, wr_str path, char *buf, size_t cap)
{
	struct allow a = {0};
	struct walk w = {.visit = allow_visit, .arg = &a};
	size_t len = 0;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	if (!r || !path.data || path.len == 0 || path.data[0] != '/')
		return 0;
	w.end = path.data + path.len;
	walk(&w, &r->root, path.data + 1);
	for (size_t i = 0; i < NKNOWN; i++)
		if (a.known[i])
			len = put_method(buf, cap, len, known_methods[i]);
	for (size_t i = 0; i < a.nothers; i++)
		len = put_method(buf, cap, len, a.others[i]);
	return len;
}
