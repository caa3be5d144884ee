/* Router: exact and ":name" segments, precedence, 404 against 405, the Allow list, HEAD. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "router.h"

static wr_str S(const char *s)
{
	return (wr_str){s, strlen(s)};
}

/* Routes are told apart by their user pointer: a small integer tag. */
static wr_route R(int tag)
{
	return (wr_route){.kind = WR_ROUTE_HTTP, .fn.http = NULL, .user = (void *)(intptr_t)tag};
}

static int tag_of(const wr_route *r)
{
	return (int)(intptr_t)r->user;
}

static wr_router *r;

static void setup(void)
{
	r = wr__router_new();
	cr_assert_not_null(r);
}

static void teardown(void)
{
	wr__router_free(r);
}

static void add(const char *method, const char *pattern, int tag)
{
	wr_route rt = R(tag);
	int rc = wr__router_add(r, method, pattern, &rt);
	cr_assert_eq(rc, 0, "add %s %s: %d", method ? method : "*", pattern, rc);
}

/* Returns the tag, or the error. */
static int match(const char *method, const char *path, wr_route_params *p)
{
	const wr_route *rt = NULL;
	wr_route_params tmp;
	int rc = wr__router_match(r, S(method), S(path), &rt, p ? p : &tmp);
	if (rc < 0)
		return rc;
	cr_assert_not_null(rt);
	return tag_of(rt);
}

static bool str_is(wr_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.data, lit, s.len) == 0;
}

TestSuite(router, .init = setup, .fini = teardown);

Test(router, exact_paths)
{
	add("GET", "/", 1);
	add("GET", "/a", 2);
	add("GET", "/a/", 3);
	add("GET", "/a/b", 4);
	add("POST", "/a/b", 5);
	cr_assert_eq(match("GET", "/", NULL), 1);
	cr_assert_eq(match("GET", "/a", NULL), 2);
	cr_assert_eq(match("GET", "/a/", NULL), 3, "trailing slash is its own path");
	cr_assert_eq(match("GET", "/a/b", NULL), 4);
	cr_assert_eq(match("POST", "/a/b", NULL), 5);
	cr_assert_eq(match("GET", "/a/b/", NULL), -ENOENT);
	cr_assert_eq(match("GET", "/b", NULL), -ENOENT);
	cr_assert_eq(match("GET", "/ab", NULL), -ENOENT);
	cr_assert_eq(match("GET", "//", NULL), -ENOENT);
	cr_assert_eq(match("GET", "", NULL), -ENOENT);
	cr_assert_eq(match("GET", "a", NULL), -ENOENT);
	cr_assert_eq(match("get", "/a", NULL), -EPERM, "methods are case-sensitive");
}

Test(router, params)
{
	add("GET", "/users/:id", 1);
	add("GET", "/users/:id/posts/:post", 2);
	add("GET", "/files/:name/raw", 3);
	wr_route_params p;
	cr_assert_eq(match("GET", "/users/42", &p), 1);
	cr_assert_eq(p.n, 1);
	cr_assert(str_is(p.name[0], "id"));
	cr_assert(str_is(p.value[0], "42"));

	cr_assert_eq(match("GET", "/users/alice/posts/7", &p), 2);
	cr_assert_eq(p.n, 2);
	cr_assert(str_is(p.name[0], "id"));
	cr_assert(str_is(p.value[0], "alice"));
	cr_assert(str_is(p.name[1], "post"));
	cr_assert(str_is(p.value[1], "7"));

	cr_assert_eq(match("GET", "/files/a.txt/raw", &p), 3);
	cr_assert(str_is(p.value[0], "a.txt"));

	cr_assert_eq(match("GET", "/users/", &p), -ENOENT, "an empty segment binds no param");
	cr_assert_eq(match("GET", "/users//posts/7", &p), -ENOENT);
	cr_assert_eq(match("GET", "/users/42/", &p), -ENOENT);
	cr_assert_eq(match("GET", "/users/42/posts", &p), -ENOENT);
	cr_assert_eq(match("GET", "/files/x", &p), -ENOENT);
}

Test(router, params_are_views_into_path)
{
	add("GET", "/a/:x/:y", 1);
	const char path[] = "/a/hello%20world/:literal";
	wr_route_params p;
	cr_assert_eq(match("GET", path, &p), 1);
	cr_assert_eq(p.value[0].data, path + 3);
	cr_assert_eq(p.value[0].len, 13);
	cr_assert(str_is(p.value[1], ":literal"));
}

Test(router, exact_wins_over_param)
{
	add("GET", "/users/:id", 1);
	add("GET", "/users/me", 2);
	add("GET", "/:any/me", 3);
	cr_assert_eq(match("GET", "/users/me", NULL), 2);
	cr_assert_eq(match("GET", "/users/you", NULL), 1);
	cr_assert_eq(match("GET", "/other/me", NULL), 3);
}

Test(router, backtracks_when_exact_branch_fails)
{
	add("GET", "/a/b/c", 1);
	add("GET", "/a/:x/d", 2);
	wr_route_params p;
	cr_assert_eq(match("GET", "/a/b/c", &p), 1);
	cr_assert_eq(p.n, 0);
	cr_assert_eq(match("GET", "/a/b/d", &p), 2);
	cr_assert_eq(p.n, 1);
	cr_assert(str_is(p.value[0], "b"));
}

Test(router, method_falls_through_to_param_route)
{
	add("GET", "/u/me", 1);
	add("DELETE", "/u/:id", 2);
	wr_route_params p;
	cr_assert_eq(match("GET", "/u/me", &p), 1);
	cr_assert_eq(match("DELETE", "/u/me", &p), 2);
	cr_assert(str_is(p.value[0], "me"));
	cr_assert_eq(match("PUT", "/u/me", &p), -EPERM);
}

Test(router, param_names_per_route)
{
	add("GET", "/u/:id", 1);
	add("PUT", "/u/:name", 2);
	wr_route_params p;
	cr_assert_eq(match("GET", "/u/x", &p), 1);
	cr_assert(str_is(p.name[0], "id"));
	cr_assert_eq(match("PUT", "/u/x", &p), 2);
	cr_assert(str_is(p.name[0], "name"));
}

Test(router, not_found_vs_not_allowed)
{
	add("GET", "/items", 1);
	add("POST", "/items", 2);
	add("DELETE", "/items/:id", 3);
	cr_assert_eq(match("PUT", "/items", NULL), -EPERM);
	cr_assert_eq(match("GET", "/items/1", NULL), -EPERM);
	cr_assert_eq(match("GET", "/nothing", NULL), -ENOENT);
	cr_assert_eq(match("GET", "/items/1/x", NULL), -ENOENT);
	/* A prefix of a route is not a route. */
	add("GET", "/deep/a/b", 4);
	cr_assert_eq(match("GET", "/deep/a", NULL), -ENOENT);
	cr_assert_eq(match("GET", "/deep", NULL), -ENOENT);
}

Test(router, head_and_any)
{
	add("GET", "/g", 1);
	add("HEAD", "/h", 2);
	add("GET", "/both", 3);
	add("HEAD", "/both", 4);
	add(NULL, "/any", 5);
	add("POST", "/any", 6);
	add("GET", "/ga", 7);
	add(NULL, "/ga", 8);
	cr_assert_eq(match("HEAD", "/g", NULL), 1, "HEAD falls back to GET");
	cr_assert_eq(match("GET", "/h", NULL), -EPERM);
	cr_assert_eq(match("HEAD", "/both", NULL), 4);
	cr_assert_eq(match("GET", "/both", NULL), 3);
	cr_assert_eq(match("DELETE", "/any", NULL), 5);
	cr_assert_eq(match("POST", "/any", NULL), 6, "a method wins over any");
	cr_assert_eq(match("HEAD", "/ga", NULL), 7, "HEAD prefers GET over any");
	cr_assert_eq(match("PATCH", "/ga", NULL), 8);
}

Test(router, allow_list)
{
	char buf[128];
	add("GET", "/r", 1);
	add("POST", "/r", 2);
	add("DELETE", "/r/:id", 3);
	add("PUT", "/r/:id", 4);
	add("PURGE", "/r/:id", 5);
	add("PUT", "/r/special", 6);
	add("OPTIONS", "/o", 7);

	size_t n = wr__router_allow(r, S("/r"), buf, sizeof(buf));
	cr_assert_str_eq(buf, "GET, HEAD, POST");
	cr_assert_eq(n, strlen(buf));

	n = wr__router_allow(r, S("/r/7"), buf, sizeof(buf));
	cr_assert_str_eq(buf, "PUT, DELETE, PURGE");

	/* Both the exact and the param node serve /r/special. */
	wr__router_allow(r, S("/r/special"), buf, sizeof(buf));
	cr_assert_str_eq(buf, "PUT, DELETE, PURGE");

	wr__router_allow(r, S("/o"), buf, sizeof(buf));
	cr_assert_str_eq(buf, "OPTIONS");

	n = wr__router_allow(r, S("/none"), buf, sizeof(buf));
	cr_assert_eq(n, 0);
	cr_assert_str_eq(buf, "");

	/* Truncation keeps whole methods and the NUL. */
	n = wr__router_allow(r, S("/r"), buf, 10);
	cr_assert_str_eq(buf, "GET, HEAD");
	cr_assert_eq(n, 9);
	n = wr__router_allow(r, S("/r"), buf, 9);
	cr_assert_str_eq(buf, "GET");
	n = wr__router_allow(r, S("/r"), buf, 3);
	cr_assert_str_eq(buf, "");
	cr_assert_eq(wr__router_allow(r, S("/r"), buf, 0), 0);
}

Test(router, allow_list_any)
{
	char buf[128];
	add(NULL, "/x", 1);
	wr__router_allow(r, S("/x"), buf, sizeof(buf));
	cr_assert(strstr(buf, "GET") && strstr(buf, "POST") && strstr(buf, "HEAD"));
}

static bool hook(struct wr_conn *c, wr_req *req, uint8_t *rest, size_t n, void *user)
{
	return false;
}

Test(router, upgrade_routes)
{
	static const int handlers = 0;
	wr_route ws = {.kind = WR_ROUTE_UPGRADE, .fn.upgrade = hook, .user = (void *)&handlers};
	cr_assert_eq(wr__router_add(r, "GET", "/ws/:room", &ws), 0);
	const wr_route *got;
	wr_route_params p;
	cr_assert_eq(wr__router_match(r, S("GET"), S("/ws/lobby"), &got, &p), 0);
	cr_assert_eq(got->kind, WR_ROUTE_UPGRADE);
	cr_assert_eq(got->fn.upgrade, hook);
	cr_assert_eq(got->user, &handlers);
	cr_assert(str_is(p.value[0], "lobby"));
}

Test(router, add_errors)
{
	wr_route rt = R(1);
	cr_assert_eq(wr__router_add(r, "GET", "", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", NULL, &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "a/b", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/a/:", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/a/:/b", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/a/:x-y", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/:x/:x", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/a b", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/a?b", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/a#b", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/a\tb", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GE T", "/a", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "", "/a", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/a", NULL), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/:a/:b/:c/:d/:e/:f/:g/:h/:i", &rt), -EINVAL);
	cr_assert_eq(wr__router_add(r, "GET", "/:a/:b/:c/:d/:e/:f/:g/:h", &rt), 0);
	wr_route_params p;
	const wr_route *got;
	cr_assert_eq(wr__router_match(r, S("GET"), S("/1/2/3/4/5/6/7/8"), &got, &p), 0);
	cr_assert_eq(p.n, 8);
	cr_assert(str_is(p.name[7], "h"));
	cr_assert(str_is(p.value[7], "8"));

	cr_assert_eq(wr__router_add(r, "GET", "/dup", &rt), 0);
	cr_assert_eq(wr__router_add(r, "GET", "/dup", &rt), -EEXIST);
	cr_assert_eq(wr__router_add(r, "POST", "/dup", &rt), 0);
	cr_assert_eq(wr__router_add(r, NULL, "/dup", &rt), 0);
	cr_assert_eq(wr__router_add(r, NULL, "/dup", &rt), -EEXIST);
	cr_assert_eq(wr__router_add(r, "GET", "/p/:id", &rt), 0);
	cr_assert_eq(wr__router_add(r, "GET", "/p/:other", &rt), -EEXIST);
	/* A colon inside a segment is literal. */
	cr_assert_eq(wr__router_add(r, "GET", "/t/a:b", &rt), 0);
	cr_assert_eq(wr__router_match(r, S("GET"), S("/t/a:b"), &got, &p), 0);
	cr_assert_eq(p.n, 0);
	/* A failed add leaves the table as it was. */
	cr_assert_eq(wr__router_match(r, S("GET"), S("/a"), &got, &p), -ENOENT);
}

Test(router, route_is_copied)
{
	wr_route rt = R(5);
	cr_assert_eq(wr__router_add(r, "GET", "/c", &rt), 0);
	rt.user = (void *)6;
	cr_assert_eq(match("GET", "/c", NULL), 5);
}

Test(router, many_routes)
{
	char pat[64];
	for (int i = 0; i < 300; i++) {
		snprintf(pat, sizeof(pat), "/api/v%d/:res/%d", i % 3, i);
		add(i % 2 ? "POST" : "GET", pat, i + 1);
	}
	for (int i = 0; i < 300; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/api/v%d/thing/%d", i % 3, i);
		cr_assert_eq(match(i % 2 ? "POST" : "GET", path, NULL), i + 1);
		cr_assert_eq(match(i % 2 ? "GET" : "POST", path, NULL), -EPERM);
	}
	cr_assert_eq(match("GET", "/api/v3/thing/0", NULL), -ENOENT);
}

Test(router_null, free_null_and_empty)
{
	wr__router_free(NULL);
	wr_router *e = wr__router_new();
	const wr_route *got;
	wr_route_params p;
	cr_assert_eq(wr__router_match(e, S("GET"), S("/"), &got, &p), -ENOENT);
	char buf[8];
	cr_assert_eq(wr__router_allow(e, S("/"), buf, sizeof(buf)), 0);
	wr__router_free(e);
}
