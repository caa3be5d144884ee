/* permessage-deflate negotiation (RFC 7692 §5, §7.1). Header values are walked in place:
 * elements split at commas outside quoted strings, parameters at semicolons. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "deflate_codec.h"

static const char pmd_name[] = "permessage-deflate";

static bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

static void trim(const char **p, size_t *n)
{
	while (*n && is_ows(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n && is_ows((*p)[*n - 1]))
		(*n)--;
}

/* RFC 7230 tchar. */
static bool is_tchar(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_token(const char *p, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar(p[i]))
			return false;
	return true;
}

/* Length of s[0..n) up to the first sep outside a quoted string (n when none). */
static size_t span_to(const char *s, size_t n, char sep)
{
	bool q = false;
	for (size_t i = 0; i < n; i++) {
		if (q && s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '"')
			q = !q;
		else if (!q && s[i] == sep)
			return i;
	}
	return n;
}

/* Window bits: "8".."15", as a token or inside quotes; 0 when not. */
static uint8_t parse_bits(const char *v, size_t n)
{
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n == 1 && (v[0] == '8' || v[0] == '9'))
		return (uint8_t)(v[0] - '0');
	if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
		return (uint8_t)(10 + v[1] - '0');
	return 0;
}

static bool name_is(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(p, want, n) == 0;
}

int wr__pmd_parse_params(const char *p, size_t n, wr_pmd_offer *out)
{
	wr_pmd_offer o = { 0 };
	bool seen_snct = false, seen_cnct = false;

	trim(&p, &n);
	if (n && *p != ';')
		return -EBADMSG;
	while (n) {
		p++, n--; /* the ';' */
		size_t k = span_to(p, n, ';');
		const char *prm = p;
		size_t pl = k;
		p += k;
		n -= k;
		trim(&prm, &pl);
		size_t eq = span_to(prm, pl, '=');
		const char *name = prm, *val = NULL;
		size_t nl = eq, vl = 0;
		if (eq < pl) {
			val = prm + eq + 1;
			vl = pl - eq - 1;
			trim(&val, &vl);
			trim(&name, &nl);
			if (!vl)
				return -EBADMSG;
		}
		if (!is_token(name, nl))
			return -EBADMSG;
		if (name_is(name, nl, "server_no_context_takeover")) {
			if (seen_snct || val)
				return -EBADMSG;
			seen_snct = o.server_nct = true;
		} else if (name_is(name, nl, "client_no_context_takeover")) {
			if (seen_cnct || val)
				return -EBADMSG;
			seen_cnct = o.client_nct = true;
		} else if (name_is(name, nl, "server_max_window_bits")) {
			/* A value is required here (§7.1.2.1). */
			if (o.server_bits || !val || !(o.server_bits = parse_bits(val, vl)))
				return -EBADMSG;
		} else if (name_is(name, nl, "client_max_window_bits")) {
			if (o.client_bits)
				return -EBADMSG;
			o.client_bits = val ? parse_bits(val, vl) : WR_PMD_BITS_NOVALUE;
			if (!o.client_bits)
				return -EBADMSG;
		} else {
			return -EBADMSG;
		}
	}
	*out = o;
	return 0;
}

wr_deflate_config wr__pmd_config(const wr_deflate_config *cfg)
{
	wr_deflate_config c = *cfg;
	if (c.server_max_window_bits < WR_PMD_MIN_DEFLATE_BITS || c.server_max_window_bits > 15)
		c.server_max_window_bits = 15;
	if (c.client_max_window_bits < WR_PMD_MIN_DEFLATE_BITS || c.client_max_window_bits > 15)
		c.client_max_window_bits = 15;
	if (c.mem_level < 1 || c.mem_level > 9)
		c.mem_level = 8;
	if (c.level < 1 || c.level > 9)
		c.level = 6;
	if (!c.threshold)
		c.threshold = 64;
	return c;
}

/* Walks the elements of several header values. */
typedef struct cursor {
	const wr_str *v;
	size_t nv, i, pos;
} cursor;

/* Next element: its name and the parameter text after it. false at the end. */
static bool next_element(cursor *cu, const char **name, size_t *nl, const char **prm, size_t *pl)
{
	while (cu->i < cu->nv) {
		const char *s = cu->v[cu->i].data + cu->pos;
		size_t left = cu->v[cu->i].len - cu->pos;
		if (!cu->v[cu->i].data || !left) {
			cu->i++;
			cu->pos = 0;
			continue;
		}
		size_t k = span_to(s, left, ',');
		cu->pos += k < left ? k + 1 : k;
		const char *e = s;
		size_t el = k;
		trim(&e, &el);
		if (!el)
			continue; /* empty list elements are allowed (RFC 7230 §7) */
		size_t semi = span_to(e, el, ';');
		*name = e;
		*nl = semi;
		trim(name, nl);
		*prm = e + semi;
		*pl = el - semi;
		return true;
	}
	return false;
}

int wr__pmd_server_accept(const wr_str *values, size_t n, const wr_deflate_config *cfg_in,
                          wr_pmd_params *out, char out_line[WR_PMD_LINE_MAX], size_t *out_len)
{
	wr_deflate_config cfg = wr__pmd_config(cfg_in);
	cursor cu = { values, n, 0, 0 };
	const char *name, *prm;
	size_t nl, pl;

	while (next_element(&cu, &name, &nl, &prm, &pl)) {
		wr_pmd_offer o;
		if (!name_is(name, nl, pmd_name) || wr__pmd_parse_params(prm, pl, &o) < 0)
			continue; /* another extension, or a malformed offer: declined */
		wr_pmd_params r = { .server_bits = cfg.server_max_window_bits,
		                    .client_bits = 15,
		                    .server_nct = o.server_nct || cfg.server_no_context_takeover || cfg.shared,
		                    .client_nct = o.client_nct || cfg.client_no_context_takeover };
		if (o.server_bits && o.server_bits < r.server_bits)
			r.server_bits = o.server_bits; /* 8 is accepted: we then send uncompressed */
		bool say_sbits = o.server_bits || r.server_bits < 15;
		bool say_cbits = false;
		if (o.client_bits) {
			/* The client can limit its window: ask for ours, at most its own value. */
			uint8_t cb = o.client_bits == WR_PMD_BITS_NOVALUE ? 15 : o.client_bits;
			r.client_bits = cfg.client_max_window_bits < cb ? cfg.client_max_window_bits : cb;
			say_cbits = r.client_bits < 15 || o.client_bits != WR_PMD_BITS_NOVALUE;
		}
		int k = snprintf(out_line, WR_PMD_LINE_MAX, "Sec-WebSocket-Extensions: %s%s%s",
		                 pmd_name, r.server_nct ? "; server_no_context_takeover" : "",
		                 r.client_nct ? "; client_no_context_takeover" : "");
		if (say_sbits)
			k += snprintf(out_line + k, WR_PMD_LINE_MAX - (size_t)k,
			              "; server_max_window_bits=%u", r.server_bits);
		if (say_cbits)
			k += snprintf(out_line + k, WR_PMD_LINE_MAX - (size_t)k,
			              "; client_max_window_bits=%u", r.client_bits);
		k += snprintf(out_line + k, WR_PMD_LINE_MAX - (size_t)k, "\r\n");
		*out = r;
		*out_len = (size_t)k;
		return 1;
	}
	return 0;
}

size_t wr__pmd_client_offer(const wr_deflate_config *cfg_in, char out[WR_PMD_LINE_MAX])
{
	wr_deflate_config cfg = wr__pmd_config(cfg_in);
	bool own_nct = cfg.client_no_context_takeover || cfg.shared;
	int k = snprintf(out, WR_PMD_LINE_MAX, "Sec-WebSocket-Extensions: %s%s%s", pmd_name,
	                 cfg.server_no_context_takeover ? "; server_no_context_takeover" : "",
	                 own_nct ? "; client_no_context_takeover" : "");
	if (cfg.server_max_window_bits < 15)
		k += snprintf(out + k, WR_PMD_LINE_MAX - (size_t)k, "; server_max_window_bits=%u",
		              cfg.server_max_window_bits);
	/* Always offered: it tells the server we can limit our window if it asks. */
	if (cfg.client_max_window_bits < 15)
		k += snprintf(out + k, WR_PMD_LINE_MAX - (size_t)k, "; client_max_window_bits=%u",
		              cfg.client_max_window_bits);
	else
		k += snprintf(out + k, WR_PMD_LINE_MAX - (size_t)k, "; client_max_window_bits");
	k += snprintf(out + k, WR_PMD_LINE_MAX - (size_t)k, "\r\n");
	return (size_t)k;
}

int wr__pmd_client_check(const wr_str *values, size_t n, const wr_deflate_config *cfg_in,
                         wr_pmd_params *out)
{
	wr_deflate_config cfg = wr__pmd_config(cfg_in);
	cursor cu = { values, n, 0, 0 };
	const char *name, *prm;
	size_t nl, pl;
	int found = 0;
	wr_pmd_offer o;

	while (next_element(&cu, &name, &nl, &prm, &pl)) {
		/* Only what we offered may come back, and only once (RFC 6455 §9.1). */
		if (!cfg.enable || !name_is(name, nl, pmd_name) || found)
			return -EPROTO;
		if (wr__pmd_parse_params(prm, pl, &o) < 0)
			return -EPROTO;
		found = 1;
	}
	if (!found)
		return 0;
	/* We offered client_max_window_bits: a value at most ours may come back (§7.1.2.2). */
	if (o.client_bits == WR_PMD_BITS_NOVALUE ||
	    (o.client_bits && o.client_bits > cfg.client_max_window_bits))
		return -EPROTO;
	/* server_max_window_bits: at most what we asked for, when we asked (§7.1.2.1). */
	if (o.server_bits && o.server_bits > cfg.server_max_window_bits)
		return -EPROTO;
	/* Accepting an offer accepts all of it: a limit we asked for is echoed. */
	if (cfg.server_max_window_bits < 15 && !o.server_bits)
		return -EPROTO;
	/* We asked the server not to keep context: it must agree (§7.1.1.1). */
	if (cfg.server_no_context_takeover && !o.server_nct)
		return -EPROTO;
	*out = (wr_pmd_params){
		.server_bits = o.server_bits ? o.server_bits : 15,
		.client_bits = o.client_bits ? o.client_bits : cfg.client_max_window_bits,
		.server_nct = o.server_nct,
		.client_nct = o.client_nct || cfg.client_no_context_takeover || cfg.shared,
	};
	return 1;
}
