/* The JSON reader behind `ws-bench merge` (RFC 8259): recursive descent, nesting bounded,
 * strings unescaped to UTF-8, numbers kept as text. Enough for the reports json_out.c
 * writes, and strict enough to say where another file goes wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define MAX_DEPTH 64

typedef struct parser {
	const char *start, *p, *end;
	char *err;
	size_t errlen;
	bool failed;
} parser;

static void fail(parser *ps, const char *what)
{
	if (!ps->failed)
		snprintf(ps->err, ps->errlen, "%s at byte %zu", what, (size_t)(ps->p - ps->start));
	ps->failed = true;
}

static void ws(parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static wsb_json *node(parser *ps, enum wsb_json_type t)
{
	wsb_json *j = calloc(1, sizeof(*j));
	if (!j)
		fail(ps, "out of memory");
	else
		j->type = t;
	return j;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (unsigned)((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* At the opening quote; returns the unescaped string (never longer than its source). */
static char *string(parser *ps)
{
	const char *s = ++ps->p;
	while (ps->p < ps->end && *ps->p != '"')
		ps->p += *ps->p == '\\' && ps->p + 1 < ps->end ? 2 : 1;
	if (ps->p >= ps->end) {
		fail(ps, "unterminated string");
		return NULL;
	}
	const char *e = ps->p++;
	char *out = malloc((size_t)(e - s) + 1), *o = out;
	if (!out) {
		fail(ps, "out of memory");
		return NULL;
	}
	for (const char *q = s; q < e; q++) {
		if ((unsigned char)*q < 0x20) {
			free(out);
			fail(ps, "control character in a string");
			return NULL;
		}
		if (*q != '\\') {
			*o++ = *q;
			continue;
		}
		q++;
		switch (*q) {
		case '"': case '\\': case '/': *o++ = *q; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (e - q < 5 || hex4(q + 1, &cp) < 0) {
				free(out);
				fail(ps, "bad \\u escape");
				return NULL;
			}
			q += 4;
			if (cp >= 0xD800 && cp < 0xDC00 && e - q >= 7 && q[1] == '\\' && q[2] == 'u' &&
			    hex4(q + 3, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				q += 6;
			}
			o += put_utf8(o, cp);
			break;
		}
		default:
			free(out);
			fail(ps, "bad escape");
			return NULL;
		}
	}
	*o = 0;
	return out;
}

static wsb_json *value(parser *ps, int depth);

static wsb_json *list(parser *ps, int depth, bool obj)
{
	wsb_json *j = node(ps, obj ? WSB_J_OBJ : WSB_J_ARR), **tail;
	if (!j)
		return NULL;
	tail = &j->child;
	ps->p++;
	ws(ps);
	if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
		ps->p++;
		return j;
	}
	for (;;) {
		char *key = NULL;
		ws(ps);
		if (obj) {
			if (ps->p >= ps->end || *ps->p != '"') {
				fail(ps, "expected a member name");
				break;
			}
			key = string(ps);
			ws(ps);
			if (!key || ps->p >= ps->end || *ps->p != ':') {
				free(key);
				fail(ps, "expected ':'");
				break;
			}
			ps->p++;
		}
		wsb_json *v = value(ps, depth + 1);
		if (!v) {
			free(key);
			break;
		}
		v->key = key;
		*tail = v;
		tail = &v->next;
		ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
			ps->p++;
			return j;
		}
		fail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		break;
	}
	wsb_json_free(j);
	return NULL;
}

static wsb_json *value(parser *ps, int depth)
{
	ws(ps);
	if (depth > MAX_DEPTH) {
		fail(ps, "nested too deep");
		return NULL;
	}
	if (ps->p >= ps->end) {
		fail(ps, "unexpected end");
		return NULL;
	}
	static const struct { const char *w; enum wsb_json_type t; bool b; } words[] = {
		{ "null", WSB_J_NULL, false }, { "true", WSB_J_BOOL, true }, { "false", WSB_J_BOOL, false },
	};
	for (unsigned i = 0; i < 3; i++) {
		size_t n = strlen(words[i].w);
		if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, words[i].w, n)) {
			ps->p += n;
			wsb_json *j = node(ps, words[i].t);
			if (j)
				j->b = words[i].b;
			return j;
		}
	}
	char c = *ps->p;
	if (c == '{' || c == '[')
		return list(ps, depth, c == '{');
	if (c == '"') {
		char *s = string(ps);
		wsb_json *j = s ? node(ps, WSB_J_STR) : NULL;
		if (j)
			j->text = s;
		else
			free(s);
		return j;
	}
	const char *s = ps->p;
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	while (ps->p < ps->end && strchr("0123456789.eE+-", *ps->p))
		ps->p++;
	if (ps->p == s || (ps->p == s + 1 && *s == '-')) {
		fail(ps, "unexpected character");
		return NULL;
	}
	wsb_json *j = node(ps, WSB_J_NUM);
	if (j && !(j->text = strndup(s, (size_t)(ps->p - s)))) {
		free(j);
		fail(ps, "out of memory");
		return NULL;
	}
	return j;
}

wsb_json *wsb_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	parser ps = { .start = text, .p = text, .end = text + len, .err = err, .errlen = errlen };
	wsb_json *j = value(&ps, 0);
	ws(&ps);
	if (j && ps.p != ps.end) {
		fail(&ps, "text after the document");
		wsb_json_free(j);
		return NULL;
	}
	return j;
}

void wsb_json_free(wsb_json *j)
{
	while (j) {
		wsb_json *next = j->next;
		wsb_json_free(j->child);
		free(j->key);
		free(j->text);
		free(j);
		j = next;
	}
}

const wsb_json *wsb_json_get(const wsb_json *j, const char *key)
{
	if (!j || j->type != WSB_J_OBJ)
		return NULL;
	for (const wsb_json *c = j->child; c; c = c->next)
		if (!strcmp(c->key, key))
			return c;
	return NULL;
}

double wsb_json_num(const wsb_json *j, double def)
{
	return j && j->type == WSB_J_NUM ? strtod(j->text, NULL) : def;
}

uint64_t wsb_json_u64(const wsb_json *j, uint64_t def)
{
	if (!j || j->type != WSB_J_NUM || j->text[0] == '-')
		return def;
	char *e;
	unsigned long long v = strtoull(j->text, &e, 10);
	return *e ? (uint64_t)strtod(j->text, NULL) : (uint64_t)v;
}

const char *wsb_json_str(const wsb_json *j, const char *def)
{
	return j && j->type == WSB_J_STR ? j->text : def;
}

bool wsb_json_bool(const wsb_json *j, bool def)
{
	return j && j->type == WSB_J_BOOL ? j->b : def;
}
