/* ws:// and wss:// URL parsing: valid forms with every field checked, malformed ones refused
 * (and *out left alone), and a byte-wise sweep that must never crash. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"
#include "tmem.h"

static bool str_is(wr_str s, const char *lit)
{
	return s.data && s.len == strlen(lit) && memcmp(s.data, lit, s.len) == 0;
}

#define ASSERT_STR(s, lit)                                                                     \
	cr_assert(str_is((s), (lit)), "expected \"%s\", got \"%.*s\"", (lit), (int)(s).len,      \
	          (s).data ? (s).data : "(null)")

struct good {
	const char *url;
	bool tls, ipv6, port_explicit;
	const char *host;
	unsigned port;
	const char *resource;
};

static const struct good goods[] = {
	{"ws://example.com", false, false, false, "example.com", 80, "/"},
	{"ws://example.com/", false, false, false, "example.com", 80, "/"},
	{"wss://example.com", true, false, false, "example.com", 443, "/"},
	{"ws://example.com:8080/chat", false, false, true, "example.com", 8080, "/chat"},
	{"wss://example.com:443/", true, false, true, "example.com", 443, "/"},
	{"ws://h/a/b?x=1&y=%20z", false, false, false, "h", 80, "/a/b?x=1&y=%20z"},
	{"ws://h/?", false, false, false, "h", 80, "/?"},
	{"WS://Example.COM/Path", false, false, false, "Example.COM", 80, "/Path"},
	{"WsS://h:1", true, false, true, "h", 1, "/"},
	{"ws://h:65535", false, false, true, "h", 65535, "/"},
	{"ws://127.0.0.1:9001/echo", false, false, true, "127.0.0.1", 9001, "/echo"},
	{"ws://[::1]:8080/x", false, true, true, "::1", 8080, "/x"},
	{"wss://[::1]", true, true, false, "::1", 443, "/"},
	{"ws://[2001:db8::1]/", false, true, false, "2001:db8::1", 80, "/"},
	{"ws://[::ffff:192.0.2.1]:80", false, true, true, "::ffff:192.0.2.1", 80, "/"},
	{"ws://my-host_1.example~x/a:b@c;d=e", false, false, false, "my-host_1.example~x", 80,
	 "/a:b@c;d=e"},
	{"ws://h:00080/", false, false, true, "h", 80, "/"},
	{"ws://h//double", false, false, false, "h", 80, "//double"},
};

Test(url, valid)
{
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		wr_url u;
		int rc = wr__url_parse(g->url, &u);
		cr_assert_eq(rc, 0, "%s: %d", g->url, rc);
		cr_assert_eq(u.tls, g->tls, "%s", g->url);
		cr_assert_eq(u.ipv6, g->ipv6, "%s", g->url);
		cr_assert_eq(u.port_explicit, g->port_explicit, "%s", g->url);
		ASSERT_STR(u.host, g->host);
		cr_assert_eq(u.port, g->port, "%s", g->url);
		ASSERT_STR(u.resource, g->resource);
	}
}

Test(url, views_into_the_string)
{
	const char *s = "ws://host:1/r?q";
	wr_url u;
	cr_assert_eq(wr__url_parse(s, &u), 0);
	cr_assert_eq(u.host.data, s + 5);
	cr_assert_eq(u.resource.data, s + 11);
}

static const char *const bads[] = {
	"",
	"ws",
	"ws:",
	"ws:/",
	"ws://",
	"ws:///path",
	"wss://",
	"http://example.com/",
	"https://example.com/",
	"wsx://h/",
	"w://h/",
	"ws:/h/",
	"ws:h",
	" ws://h/",
	"ws://h/ ",
	"ws://h /",
	"ws://h/a b",
	"ws://h/a\tb",
	"ws://h/a\r\nHost: evil",
	"ws://h/\x7f",
	"ws://h/caf\xc3\xa9",
	"ws://h/#frag",
	"ws://h#frag",
	"ws://h/a?b#c",
	"ws://user@h/",
	"ws://user:pass@h/",
	"ws://@h/",
	"ws://h:/",
	"ws://h:",
	"ws://h:0/",
	"ws://h:65536/",
	"ws://h:99999/",
	"ws://h:123456/",
	"ws://h:-1/",
	"ws://h:8o/",
	"ws://h:80:80/",
	"ws://h: 80/",
	"ws://:80/",
	"ws://[::1/",
	"ws://[::1]x/",
	"ws://[::1]:/",
	"ws://[]/",
	"ws://[::1]]/",
	"ws://[zz::1]/",
	"ws://[::1%25eth0]/",
	"ws://[1.2.3.4]/",
	"ws://::1/",
	"ws://h]/",
	"ws://h[/",
	"ws://h?q",
	"ws://h/%",
	"ws://h/%2",
	"ws://h/%zz",
	"ws://h%/",
	"ws://ex ample.com/",
	"ws://h\\x/",
	"ws://h/a\\b",
	"ws://h/<script>",
	"ws://h/\"",
	"ws://h,i/",
	"ws://h!/",
};

Test(url, malformed)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		wr_url u, before;
		memset(&u, 0x5a, sizeof(u));
		memcpy(&before, &u, sizeof(u));
		/* Exact-size copy: a read past the NUL is an ASan error. */
		char *copy = tstrdup(bads[i]);
		int rc = wr__url_parse(copy, &u);
		cr_assert_eq(rc, -EINVAL, "\"%s\" accepted", bads[i]);
		cr_assert_eq(memcmp(&u, &before, sizeof(u)), 0, "\"%s\": out changed", bads[i]);
		tfree(copy);
	}
	cr_assert_geq(sizeof(bads) / sizeof(bads[0]), 25);
}

Test(url, null_arguments)
{
	wr_url u;
	cr_assert_eq(wr__url_parse(NULL, &u), -EINVAL);
	cr_assert_eq(wr__url_parse("ws://h/", NULL), -EINVAL);
}

Test(url, length_limit)
{
	size_t n = 8192;
	char *s = tmalloc(n + 2);
	memcpy(s, "ws://h/", 7);
	memset(s + 7, 'a', n + 1 - 7);
	s[n] = '\0';
	wr_url u;
	cr_assert_eq(wr__url_parse(s, &u), 0, "8 KiB exactly");
	cr_assert_eq(u.resource.len, n - 6);
	s[n] = 'a';
	s[n + 1] = '\0';
	cr_assert_eq(wr__url_parse(s, &u), -EINVAL, "over 8 KiB");
	tfree(s);
}

/* Every byte value at every position of a few URLs, and every truncation: whatever comes out,
 * it never crashes, and an accepted URL's views stay inside the string. */
Test(url, never_crash)
{
	static const char *const seeds[] = {
		"ws://[::1]:8080/a?b=c",
		"wss://example.com:443/path/x?q",
		"ws://h",
	};
	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		size_t n = strlen(seeds[s]);
		char *buf = tmalloc(n + 1);
		for (size_t pos = 0; pos < n; pos++) {
			for (int c = 1; c < 256; c++) {
				memcpy(buf, seeds[s], n + 1);
				buf[pos] = (char)c;
				wr_url u;
				if (wr__url_parse(buf, &u) == 0) {
					cr_assert_geq(u.host.data, buf);
					cr_assert_leq(u.host.data + u.host.len, buf + n);
					cr_assert_neq(u.port, 0);
					cr_assert_gt(u.resource.len, 0);
					cr_assert_eq(u.resource.data[0], '/');
				}
			}
		}
		for (size_t k = 0; k <= n; k++) {
			char *t = tstrndup(seeds[s], k);
			wr_url u;
			(void)wr__url_parse(t, &u);
			tfree(t);
		}
		tfree(buf);
	}
}
