/* What ws-bench sends, and how it recognises what comes back.
 *
 * Generated messages (the default) carry their own sequence number and send time, then a
 * pattern derived from both, so an echo is checked byte for byte with no state kept per
 * message; the size of message seq is a function of seq (fixed, uniform in a range, or drawn
 * from a file of sizes), so the receiver knows it too. A template is the user's text with
 * {seq} and {ts} filled in decimal: an echo is checked literal by literal and field by field.
 * A payload file is sent as it is; its echo is compared with it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wsb.h"

#define GOLD 0x9E3779B97F4A7C15ull

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 29;
	x *= 0x94D049BB133111EBull;
	return x ^ (x >> 32);
}

/* ---- generated ---- */

static size_t gen_size(const wsb_opts *o, uint64_t seq)
{
	switch (o->size_kind) {
	case WSB_SIZE_RANGE: return o->size + mix(seq ^ GOLD) % (o->size_hi - o->size + 1);
	case WSB_SIZE_LIST: return o->sizes[mix(seq ^ GOLD) % o->nsizes];
	case WSB_SIZE_FIXED: break;
	}
	return o->size;
}

static inline uint64_t pattern_word(uint64_t w0, size_t k, bool text)
{
	uint64_t w = w0 + (uint64_t)k * GOLD;
	/* text: every byte in 0x40..0x7f, plain ASCII and so valid UTF-8 */
	return text ? (w & 0x3F3F3F3F3F3F3F3Full) | 0x4040404040404040ull : w;
}

static void put_u64_text(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 11; i++)
		p[i] = (uint8_t)('0' + ((v >> (6 * i)) & 63));
}

static bool get_u64_text(const uint8_t *p, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 11; i++) {
		unsigned c = (unsigned)p[i] - '0';
		if (c > 63 || (i == 10 && c > 15))
			return false;
		v |= (uint64_t)c << (6 * i);
	}
	*out = v;
	return true;
}

static size_t gen_fill(const wsb_opts *o, uint8_t *p, uint64_t seq, uint64_t ts)
{
	size_t len = gen_size(o, seq), hlen = o->text ? WSB_HDR_TEXT : WSB_HDR_BIN;
	if (o->text) {
		put_u64_text(p, seq);
		put_u64_text(p + 11, ts);
	} else {
		memcpy(p, &seq, 8);
		memcpy(p + 8, &ts, 8);
	}
	uint64_t w0 = mix(seq * GOLD ^ ts);
	size_t k = 0, off = hlen;
	for (; off + 8 <= len; off += 8, k++) {
		uint64_t w = pattern_word(w0, k, o->text);
		memcpy(p + off, &w, 8);
	}
	if (off < len) {
		uint64_t w = pattern_word(w0, k, o->text);
		memcpy(p + off, &w, len - off);
	}
	return len;
}

static bool gen_header(const wsb_opts *o, const uint8_t *p, size_t len, uint64_t *seq,
                       uint64_t *ts)
{
	if (o->text)
		return len >= WSB_HDR_TEXT && get_u64_text(p, seq) && get_u64_text(p + 11, ts);
	if (len < WSB_HDR_BIN)
		return false;
	memcpy(seq, p, 8);
	memcpy(ts, p + 8, 8);
	return true;
}

static int gen_check(const wsb_opts *o, const uint8_t *p, size_t len, uint64_t want_seq,
                     uint64_t *out_ts)
{
	uint64_t seq, ts;
	size_t hlen = o->text ? WSB_HDR_TEXT : WSB_HDR_BIN;
	if (len != gen_size(o, want_seq) || !gen_header(o, p, len, &seq, &ts) || seq != want_seq)
		return -1;
	uint64_t w0 = mix(seq * GOLD ^ ts);
	size_t k = 0, off = hlen;
	for (; off + 8 <= len; off += 8, k++) {
		uint64_t w = pattern_word(w0, k, o->text), got;
		memcpy(&got, p + off, 8);
		if (got != w)
			return -1;
	}
	if (off < len) {
		uint64_t w = pattern_word(w0, k, o->text);
		if (memcmp(p + off, &w, len - off))
			return -1;
	}
	*out_ts = ts;
	return 0;
}

/* ---- templates ---- */

static size_t put_dec(uint8_t *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)tmp[n - 1 - i];
	return n;
}

/* Digits at p (at most 20, none past end): their value and count, or 0 when there are none. */
static size_t get_dec(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;
	while (p + n < end && n < 20 && p[n] >= '0' && p[n] <= '9') {
		uint64_t d = (uint64_t)(p[n] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
		n++;
	}
	*out = v;
	return n;
}

static size_t tpl_fill(const wsb_template *t, uint8_t *p, uint64_t seq, uint64_t ts)
{
	size_t off = 0;
	for (unsigned i = 0;; i++) {
		memcpy(p + off, t->lit[i], t->lit_len[i]);
		off += t->lit_len[i];
		if (i == t->nfields)
			return off;
		off += put_dec(p + off, t->field[i] == WSB_F_SEQ ? seq : ts);
	}
}

static int tpl_check(const wsb_template *t, const uint8_t *p, size_t len, uint64_t want_seq,
                     uint64_t *out_ts)
{
	const uint8_t *q = p, *end = p + len;
	uint64_t ts = 0;
	bool have_ts = false;
	for (unsigned i = 0;; i++) {
		if ((size_t)(end - q) < t->lit_len[i] || memcmp(q, t->lit[i], t->lit_len[i]))
			return -1;
		q += t->lit_len[i];
		if (i == t->nfields)
			break;
		uint64_t v;
		size_t n = get_dec(q, end, &v);
		if (!n)
			return -1;
		q += n;
		if (t->field[i] == WSB_F_SEQ && v != want_seq)
			return -1;
		if (t->field[i] == WSB_F_TS) {
			if (have_ts && v != ts)
				return -1;
			ts = v;
			have_ts = true;
		}
	}
	if (q != end)
		return -1;
	*out_ts = ts;
	return 0;
}

/* Split the template text at {seq} and {ts}. A field followed by a digit or by another field
 * could not be read back, and is refused. */
static int tpl_parse(wsb_template *t, const uint8_t *s, size_t len)
{
	static const struct { const char *name; enum wsb_field f; } names[] = {
		{ "{seq}", WSB_F_SEQ }, { "{ts}", WSB_F_TS },
	};
	memset(t, 0, sizeof(*t));
	t->ts_field = -1;
	const uint8_t *lit = s, *p = s, *end = s + len;
	while (p < end) {
		unsigned k = 0;
		size_t nl = 0;
		for (; k < 2; k++) {
			nl = strlen(names[k].name);
			if ((size_t)(end - p) >= nl && !memcmp(p, names[k].name, nl))
				break;
		}
		if (k == 2) {
			p++;
			continue;
		}
		if (t->nfields == WSB_TPL_MAX_FIELDS)
			return -1;
		t->lit[t->nfields] = lit;
		t->lit_len[t->nfields] = (size_t)(p - lit);
		if (names[k].f == WSB_F_TS && t->ts_field < 0)
			t->ts_field = (int)t->nfields;
		t->field[t->nfields++] = names[k].f;
		p += nl;
		if (p < end && *p >= '0' && *p <= '9')
			return -1;
		lit = p;
	}
	t->lit[t->nfields] = lit;
	t->lit_len[t->nfields] = (size_t)(end - lit);
	for (unsigned i = 1; i < t->nfields; i++)
		if (!t->lit_len[i])
			return -1; /* two fields side by side: where would one end? */
	return 0;
}

/* ---- loading ---- */

static int read_file(const char *path, uint8_t **out, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);
	while (b) {
		n += fread(b + n, 1, cap - n, f);
		if (n < cap)
			break;
		uint8_t *nb = cap >= (256u << 20) ? NULL : realloc(b, cap * 2);
		if (!nb) {
			free(b);
			b = NULL;
			break;
		}
		b = nb;
		cap *= 2;
	}
	int err = ferror(f) ? -EIO : b ? 0 : -EFBIG;
	fclose(f);
	if (err) {
		free(b);
		return err;
	}
	*out = b;
	*out_len = n;
	return 0;
}

/* "N" fixed, "LO-HI" uniform, "@FILE" one size a line (blank lines and # comments skipped). */
static int load_sizes(wsb_opts *o)
{
	const char *s = o->size_spec;
	const char *dash = strchr(s, '-');
	if (*s == '@') {
		uint8_t *text;
		size_t len;
		int rc = read_file(s + 1, &text, &len);
		if (rc < 0) {
			fprintf(stderr, "ws-bench: -s %s: %s\n", s, strerror(-rc));
			return -1;
		}
		char *str = realloc(text, len + 1);
		if (!str) {
			free(text);
			return -1;
		}
		str[len] = 0;
		unsigned cap = 0;
		for (char *save, *line = strtok_r(str, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			line[strcspn(line, "#\r")] = 0;
			char *b = line + strspn(line, " \t");
			b[strcspn(b, " \t")] = 0;
			if (!*b)
				continue;
			size_t v;
			if (wsb_parse_size(b, &v) < 0) {
				fprintf(stderr, "ws-bench: -s %s: not a size: %s\n", s, b);
				free(str);
				return -1;
			}
			if (o->nsizes == cap) {
				cap = cap ? cap * 2 : 64;
				size_t *ns = realloc(o->sizes, cap * sizeof(size_t));
				if (!ns) {
					free(str);
					return -1;
				}
				o->sizes = ns;
			}
			o->sizes[o->nsizes++] = v;
		}
		free(str);
		if (!o->nsizes) {
			fprintf(stderr, "ws-bench: -s %s: no sizes in the file\n", s);
			return -1;
		}
		o->size_kind = WSB_SIZE_LIST;
		o->size = o->max_size = o->sizes[0];
		for (unsigned i = 0; i < o->nsizes; i++) {
			if (o->sizes[i] < o->size)
				o->size = o->sizes[i];
			if (o->sizes[i] > o->max_size)
				o->max_size = o->sizes[i];
		}
		return 0;
	}
	if (dash) {
		char lo[32];
		if ((size_t)(dash - s) >= sizeof(lo))
			return -1;
		memcpy(lo, s, (size_t)(dash - s));
		lo[dash - s] = 0;
		if (wsb_parse_size(lo, &o->size) < 0 || wsb_parse_size(dash + 1, &o->size_hi) < 0 ||
		    o->size_hi < o->size) {
			fprintf(stderr, "ws-bench: -s %s: expected LO-HI with LO <= HI\n", s);
			return -1;
		}
		o->size_kind = WSB_SIZE_RANGE;
		o->max_size = o->size_hi;
		return 0;
	}
	if (wsb_parse_size(s, &o->size) < 0) {
		fprintf(stderr, "ws-bench: -s %s: bytes (16, 4k, 1m), LO-HI or @FILE\n", s);
		return -1;
	}
	o->size_kind = WSB_SIZE_FIXED;
	o->max_size = o->size;
	return 0;
}

int wsb_payload_load(wsb_opts *o)
{
	if (o->payload != WSB_PAY_GEN) {
		int rc = read_file(o->payload_path, &o->file_data, &o->file_len);
		if (rc < 0) {
			fprintf(stderr, "ws-bench: %s: %s\n", o->payload_path, strerror(-rc));
			return -1;
		}
		if (o->payload == WSB_PAY_FILE) {
			o->size = o->max_size = o->file_len;
			return 0;
		}
		if (tpl_parse(&o->tpl, o->file_data, o->file_len) < 0) {
			fprintf(stderr, "ws-bench: --template %s: at most %u fields, and none followed by "
			        "a digit or another field (it could not be read back)\n", o->payload_path,
			        WSB_TPL_MAX_FIELDS);
			return -1;
		}
		size_t n = 0;
		for (unsigned i = 0; i <= o->tpl.nfields; i++)
			n += o->tpl.lit_len[i];
		o->size = n;
		o->max_size = n + 20u * o->tpl.nfields;
		return 0;
	}
	if (load_sizes(o) < 0)
		return -1;
	size_t min = o->text ? WSB_HDR_TEXT : WSB_HDR_BIN;
	if (o->size < min && o->mode != WSB_CONNECT && o->mode != WSB_IDLE) {
		fprintf(stderr, "ws-bench: -s %s: %s messages carry a sequence number and a timestamp "
		        "and need at least %zu bytes\n", o->size_spec, o->text ? "text" : "binary", min);
		return -1;
	}
	if (o->max_size > (256u << 20)) {
		fprintf(stderr, "ws-bench: -s %s: at most 256m\n", o->size_spec);
		return -1;
	}
	return 0;
}

size_t wsb_payload_fill(const wsb_opts *o, uint8_t *buf, uint64_t seq, uint64_t ts)
{
	switch (o->payload) {
	case WSB_PAY_FILE:
		memcpy(buf, o->file_data, o->file_len);
		return o->file_len;
	case WSB_PAY_TEMPLATE:
		return tpl_fill(&o->tpl, buf, seq, ts);
	case WSB_PAY_GEN:
		break;
	}
	return gen_fill(o, buf, seq, ts);
}

int wsb_payload_check(const wsb_opts *o, const uint8_t *p, size_t len, uint64_t want_seq,
                      uint64_t *out_ts)
{
	switch (o->payload) {
	case WSB_PAY_FILE:
		if (len != o->file_len || memcmp(p, o->file_data, len))
			return -1;
		*out_ts = 0;
		return 0;
	case WSB_PAY_TEMPLATE:
		return tpl_check(&o->tpl, p, len, want_seq, out_ts);
	case WSB_PAY_GEN:
		break;
	}
	return gen_check(o, p, len, want_seq, out_ts);
}

int wsb_reply_ts(const wsb_opts *o, const uint8_t *p, size_t len, uint64_t *out_ts)
{
	uint64_t seq;
	switch (o->payload) {
	case WSB_PAY_FILE:
		return -1;
	case WSB_PAY_TEMPLATE: {
		if (o->tpl.ts_field < 0)
			return -1;
		const uint8_t *lit = o->tpl.lit[o->tpl.ts_field], *end = p + len, *q = p;
		size_t ll = o->tpl.lit_len[o->tpl.ts_field];
		if (ll) {
			q = memmem(p, len, lit, ll);
			if (!q)
				return -1;
			q += ll;
		}
		return get_dec(q, end, out_ts) ? 0 : -1;
	}
	case WSB_PAY_GEN:
		break;
	}
	return gen_header(o, p, len, &seq, out_ts) ? 0 : -1;
}

int wsb_reply_seq(const wsb_opts *o, const uint8_t *p, size_t len, uint64_t *out_seq)
{
	uint64_t ts;
	if (o->payload != WSB_PAY_GEN)
		return -1;
	return gen_header(o, p, len, out_seq, &ts) ? 0 : -1;
}
