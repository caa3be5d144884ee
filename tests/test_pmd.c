/* permessage-deflate below the connection: negotiation (RFC 7692 §5, §7.1) in both roles,
 * and the zlib streams: round trips, the 00 00 ff ff tail, bounded inflate, UTF-8 on the
 * inflated bytes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "deflate.h"
#include "deflate_codec.h"

static const wr_deflate_config on = { .enable = true };

static int accept1(const char *offer, const wr_deflate_config *cfg, wr_pmd_params *p, char *line)
{
	wr_str v = { offer, strlen(offer) };
	size_t n = 0;
	int rc = wr__pmd_server_accept(&v, 1, cfg, p, line, &n);
	if (rc > 0)
		line[n] = 0;
	return rc;
}

Test(pmd, server_accepts_plain_offer)
{
	wr_pmd_params p;
	char line[WR_PMD_LINE_MAX + 1];
	cr_assert_eq(accept1("permessage-deflate", &on, &p, line), 1);
	cr_assert_str_eq(line, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
	cr_assert_eq(p.server_bits, 15);
	cr_assert_eq(p.client_bits, 15);
	cr_assert(!p.server_nct && !p.client_nct);
}

Test(pmd, server_every_parameter)
{
	wr_pmd_params p;
	char line[WR_PMD_LINE_MAX + 1];
	cr_assert_eq(accept1("permessage-deflate; client_max_window_bits", &on, &p, line), 1);
	cr_assert_str_eq(line, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
	cr_assert_eq(accept1("permessage-deflate; client_max_window_bits=10; server_max_window_bits=12;"
	                     " server_no_context_takeover; client_no_context_takeover", &on, &p, line), 1);
	cr_assert_str_eq(line, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover;"
	                       " client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10\r\n");
	cr_assert_eq(p.server_bits, 12);
	cr_assert_eq(p.client_bits, 10);
	cr_assert(p.server_nct && p.client_nct);
	/* Quoted values are tokens too (§7.1). */
	cr_assert_eq(accept1("permessage-deflate; server_max_window_bits=\"9\"", &on, &p, line), 1);
	cr_assert_eq(p.server_bits, 9);
	/* 8: accepted, and we never compress towards it. */
	cr_assert_eq(accept1("permessage-deflate; server_max_window_bits=8", &on, &p, line), 1);
	cr_assert_eq(p.server_bits, 8);
	/* Our own limits go into the answer. */
	wr_deflate_config lim = { .enable = true, .server_max_window_bits = 10,
	                          .client_max_window_bits = 11, .shared = true };
	cr_assert_eq(accept1("permessage-deflate; client_max_window_bits", &lim, &p, line), 1);
	cr_assert_str_eq(line, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover;"
	                       " server_max_window_bits=10; client_max_window_bits=11\r\n");
	cr_assert_eq(p.client_bits, 11);
	/* The client did not offer client_max_window_bits: we cannot ask it to limit. */
	cr_assert_eq(accept1("permessage-deflate", &lim, &p, line), 1);
	cr_assert_eq(p.client_bits, 15);
	cr_assert_null(strstr(line, "client_max_window_bits"));
}

Test(pmd, server_declines_malformed_and_picks_the_next_offer)
{
	static const char *const bad[] = {
		"permessage-deflate; foo",
		"permessage-deflate; server_max_window_bits",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; server_max_window_bits=7",
		"permessage-deflate; server_max_window_bits=010",
		"permessage-deflate; client_max_window_bits=abc",
		"permessage-deflate; server_no_context_takeover=1",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"permessage-deflate; client_max_window_bits; client_max_window_bits=9",
		"permessage-deflate;",
		"x-webkit-deflate-frame",
	};
	wr_pmd_params p;
	char line[WR_PMD_LINE_MAX + 1];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(accept1(bad[i], &on, &p, line), 0, "%s", bad[i]);
	cr_assert_eq(accept1("permessage-deflate; bogus, permessage-deflate; server_max_window_bits=10,"
	                     " permessage-deflate", &on, &p, line), 1);
	cr_assert_eq(p.server_bits, 10);
	/* Split over headers, other extensions around it. */
	wr_str v[2] = { { "foo, bar; x=1", 13 }, { "permessage-deflate; client_no_context_takeover", 46 } };
	size_t n;
	cr_assert_eq(wr__pmd_server_accept(v, 2, &on, &p, line, &n), 1);
	cr_assert(p.client_nct);
	/* Off: nothing accepted is decided by the caller; the codec needs enable only to answer. */
}

static int check1(const char *answer, const wr_deflate_config *cfg, wr_pmd_params *p)
{
	wr_str v = { answer, strlen(answer) };
	return wr__pmd_client_check(&v, 1, cfg, p);
}

Test(pmd, client_offer_and_answers)
{
	char line[WR_PMD_LINE_MAX];
	size_t n = wr__pmd_client_offer(&on, line);
	cr_assert_eq(n, strlen("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
	wr_deflate_config all = { .enable = true, .server_no_context_takeover = true,
	                          .client_no_context_takeover = true, .server_max_window_bits = 10,
	                          .client_max_window_bits = 12 };
	n = wr__pmd_client_offer(&all, line);
	line[n] = 0;
	cr_assert_str_eq(line, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover;"
	                       " client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12\r\n");

	wr_pmd_params p;
	cr_assert_eq(check1("permessage-deflate", &on, &p), 1);
	cr_assert_eq(p.server_bits, 15);
	cr_assert_eq(check1("permessage-deflate; server_max_window_bits=9; client_max_window_bits=10;"
	                    " client_no_context_takeover", &on, &p), 1);
	cr_assert_eq(p.server_bits, 9);
	cr_assert_eq(p.client_bits, 10);
	cr_assert(p.client_nct);
	cr_assert_eq(check1("permessage-deflate; server_no_context_takeover; server_max_window_bits=10;"
	                    " client_max_window_bits=12", &all, &p), 1);
	/* Failures (§5.1, §7.1). */
	static const char *const bad[] = {
		"permessage-deflate; client_max_window_bits",      /* a value is required back */
		"permessage-deflate; foo",
		"permessage-deflate, permessage-deflate",
		"x-other",
		"permessage-deflate; server_max_window_bits=16",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(check1(bad[i], &on, &p), -EPROTO, "%s", bad[i]);
	cr_assert_eq(check1("permessage-deflate; server_no_context_takeover; server_max_window_bits=11;"
	                    " client_max_window_bits=12", &all, &p), -EPROTO); /* over our 10 */
	cr_assert_eq(check1("permessage-deflate; server_max_window_bits=10", &all, &p), -EPROTO);
	cr_assert_eq(check1("permessage-deflate; server_max_window_bits=10;"
	                    " client_max_window_bits=13; server_no_context_takeover", &all, &p), -EPROTO);
	wr_deflate_config off = { 0 };
	cr_assert_eq(check1("permessage-deflate", &off, &p), -EPROTO);
	cr_assert_eq(check1("", &on, &p), 0);
}

/* ---- streams ---- */

static const wr_zparams zp15 = { 15, 6, 8, false };

Test(pmd, round_trip_with_context_and_the_tail)
{
	wr_zstream *d = wr__z_new(true, &zp15), *i = wr__z_new(false, &zp15);
	const char *msg = "{\"id\":1,\"name\":\"hello\",\"tags\":[\"a\",\"b\",\"c\"],\"text\":\"hello hello hello\"}";
	size_t first = 0;
	for (int k = 0; k < 3; k++) {
		wr_buf z = { 0 }, out = { 0 };
		cr_assert_eq(wr__z_compress(d, msg, strlen(msg), &z), 0);
		cr_assert(z.len < 4 || memcmp(z.data + z.len - 4, "\0\0\xff\xff", 4) != 0);
		if (k == 0)
			first = z.len;
		else
			cr_assert_lt(z.len, first, "context takeover shrinks a repeat");
		wr_utf8 u;
		wr__utf8_init(&u);
		cr_assert_eq(wr__z_inflate(i, z.data, z.len, true, &out, 1 << 20, &u), 0);
		cr_assert_eq(out.len, strlen(msg));
		cr_assert_eq(memcmp(out.data, msg, out.len), 0);
		wr__buf_free(&z);
		wr__buf_free(&out);
	}
	cr_assert_gt(wr__z_bytes(d), 1000);
	wr__z_free(d);
	wr__z_free(i);
}

Test(pmd, rfc7692_examples)
{
	/* §7.2.3.1: "Hello" compressed, and the same as two pieces; §7.2.3.3: no compression. */
	static const uint8_t hello[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
	static const uint8_t stored[] = { 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00 };
	wr_zstream *i = wr__z_new(false, &zp15);
	wr_buf out = { 0 };
	cr_assert_eq(wr__z_inflate(i, hello, 3, false, &out, 100, NULL), 0);
	cr_assert_eq(wr__z_inflate(i, hello + 3, 4, true, &out, 100, NULL), 0);
	cr_assert_eq(out.len, 5);
	cr_assert_eq(memcmp(out.data, "Hello", 5), 0);
	out.len = 0;
	cr_assert_eq(wr__z_inflate(i, stored, sizeof(stored), true, &out, 100, NULL), 0);
	cr_assert_eq(memcmp(out.data, "Hello", 5), 0);
	/* §7.2.3.2: with context, the second "Hello" refers back to the first. */
	static const uint8_t again[] = { 0xf2, 0x00, 0x11, 0x00, 0x00 };
	out.len = 0;
	cr_assert_eq(wr__z_inflate(i, again, sizeof(again), true, &out, 100, NULL), 0);
	cr_assert_eq(out.len, 5);
	/* Garbage is refused. */
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff };
	out.len = 0;
	cr_assert_eq(wr__z_inflate(i, junk, sizeof(junk), true, &out, 100, NULL), -EBADMSG);
	wr__buf_free(&out);
	wr__z_free(i);
}

Test(pmd, bomb_stops_at_the_limit)
{
	size_t big = 64u << 20;
	uint8_t *zeros = calloc(1, big);
	wr_zstream *d = wr__z_new(true, &(wr_zparams){ 15, 9, 9, true });
	wr_buf z = { 0 }, out = { 0 };
	cr_assert_eq(wr__z_compress(d, zeros, big, &z), 0);
	free(zeros);
	cr_assert_lt(z.len, 128u << 10);
	wr_zstream *i = wr__z_new(false, &zp15);
	cr_assert_eq(wr__z_inflate(i, z.data, z.len, true, &out, 1u << 20, NULL), -EMSGSIZE);
	cr_assert_leq(out.cap, (1u << 20) + 1, "the buffer never passes the limit: %zu", out.cap);
	/* The stream is reset after a failure and works again. */
	out.len = 0;
	wr_buf small = { 0 };
	cr_assert_eq(wr__z_compress(d, "abc", 3, &small), 0);
	cr_assert_eq(wr__z_inflate(i, small.data, small.len, true, &out, 100, NULL), 0);
	cr_assert_eq(out.len, 3);
	wr__buf_free(&z);
	wr__buf_free(&small);
	wr__buf_free(&out);
	wr__z_free(d);
	wr__z_free(i);
}

Test(pmd, utf8_checked_on_inflated_bytes)
{
	wr_zstream *d = wr__z_new(true, &(wr_zparams){ 15, 6, 8, true });
	wr_zstream *i = wr__z_new(false, &zp15);
	wr_buf z = { 0 }, out = { 0 };
	cr_assert_eq(wr__z_compress(d, "ok \xff bad", 8, &z), 0);
	wr_utf8 u;
	wr__utf8_init(&u);
	cr_assert_eq(wr__z_inflate(i, z.data, z.len, true, &out, 100, &u), -EILSEQ);
	z.len = out.len = 0;
	cr_assert_eq(wr__z_compress(d, "cut \xc3", 5, &z), 0);
	wr__utf8_init(&u);
	cr_assert_eq(wr__z_inflate(i, z.data, z.len, true, &out, 100, &u), -EILSEQ);
	wr__buf_free(&z);
	wr__buf_free(&out);
	wr__z_free(d);
	wr__z_free(i);
}
