/* WebSocket frame parser: every case is fed whole, split in two at every offset, in 1-byte
 * chops and (when short) split in three at every pair of offsets. Each chunk is copied into
 * its own exactly-sized heap buffer, so ASan sees any read past it, and event data is copied
 * out before the next call (it is only valid until then). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_codec.h"
#include "tmem.h"

/* ---- wire builder (independent of the library's encoder) ---- */

struct wire {
	uint8_t *b;
	size_t len, cap;
	unsigned nmask; /* varies the masking key from frame to frame */
};

static void w_reserve(struct wire *w, size_t n)
{
	if (w->len + n <= w->cap)
		return;
	w->cap = (w->len + n) * 2 + 64;
	w->b = trealloc(w->b, w->cap);
	cr_assert_not_null(w->b);
}

static void w_raw(struct wire *w, const void *p, size_t n)
{
	w_reserve(w, n);
	if (n)
		memcpy(w->b + w->len, p, n);
	w->len += n;
}

enum { ENC_AUTO, ENC_16, ENC_64 };

/* One frame: rsv is OR-ed into byte 0 (0x40/0x20/0x10), enc forces a length encoding. */
static void w_frame_x(struct wire *w, uint8_t rsv, bool fin, int op, const void *payload,
                      size_t n, bool masked, int enc)
{
	uint8_t h[14];
	size_t hl = 2;
	h[0] = (uint8_t)((fin ? 0x80 : 0) | rsv | (op & 0x0f));
	if (enc == ENC_AUTO)
		enc = n < 126 ? ENC_AUTO : n <= 0xffff ? ENC_16 : ENC_64;
	if (enc == ENC_AUTO) {
		h[1] = (uint8_t)n;
	} else if (enc == ENC_16) {
		h[1] = 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	uint8_t key[4] = {(uint8_t)(0x37 ^ w->nmask), 0xfa, (uint8_t)(0x21 + 7 * w->nmask), 0x3d};
	w->nmask++;
	if (masked) {
		h[1] |= 0x80;
		memcpy(h + hl, key, 4);
		hl += 4;
	}
	w_raw(w, h, hl);
	w_reserve(w, n);
	const uint8_t *p = payload;
	for (size_t i = 0; i < n; i++)
		w->b[w->len + i] = masked ? (uint8_t)(p[i] ^ key[i & 3]) : p[i];
	w->len += n;
}

static void w_frame(struct wire *w, bool fin, int op, const void *p, size_t n, bool masked)
{
	w_frame_x(w, 0, fin, op, p, n, masked, ENC_AUTO);
}

/* Client frames (masked): what a server parser receives. */
static void cf(struct wire *w, bool fin, int op, const char *s)
{
	w_frame(w, fin, op, s, strlen(s), true);
}

/* ---- event log ---- */

enum { K_MSG, K_CTRL, K_ERR };

struct item {
	int kind;
	int opcode;
	uint8_t *data;
	size_t len;
	int close_code;
	uint8_t *reason;
	size_t reason_len;
};

struct log {
	struct item it[64];
	size_t n;
	/* message being assembled */
	bool in_msg;
	int msg_op;
	uint8_t *cur;
	size_t cur_len, cur_cap;
	size_t data_events; /* DATA events for the message being assembled */
	size_t last_msg_events;
};

static uint8_t *dup_bytes(const void *p, size_t n)
{
	uint8_t *d = tmalloc(n ? n : 1);
	cr_assert_not_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static void log_free(struct log *l)
{
	for (size_t i = 0; i < l->n; i++) {
		tfree(l->it[i].data);
		tfree(l->it[i].reason);
	}
	tfree(l->cur);
	memset(l, 0, sizeof(*l));
}

static struct item *log_add(struct log *l, int kind)
{
	cr_assert_lt(l->n, 64);
	struct item *it = &l->it[l->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	return it;
}

static void ex_msg(struct log *l, int op, const void *p, size_t n)
{
	struct item *it = log_add(l, K_MSG);
	it->opcode = op;
	it->data = dup_bytes(p, n);
	it->len = n;
}

static void ex_text(struct log *l, const char *s)
{
	ex_msg(l, WR_OP_TEXT, s, strlen(s));
}

static void ex_ctrl(struct log *l, int op, const void *p, size_t n, int close_code,
                    const char *reason)
{
	struct item *it = log_add(l, K_CTRL);
	it->opcode = op;
	it->data = dup_bytes(p, n);
	it->len = n;
	it->close_code = close_code;
	if (reason) {
		it->reason_len = strlen(reason);
		it->reason = dup_bytes(reason, it->reason_len);
	}
}

static void ex_err(struct log *l, int code)
{
	log_add(l, K_ERR)->close_code = code;
}

/* Record one event; returns false once the parser failed. what names the split for messages. */
static bool log_event(struct log *l, const wr_ws_event *ev, const uint8_t *chunk, size_t clen,
                      const char *what)
{
	switch (ev->type) {
	case WR_WS_EV_NONE:
		return true;
	case WR_WS_EV_DATA: {
		cr_assert(ev->opcode == WR_OP_TEXT || ev->opcode == WR_OP_BINARY, "%s: opcode %d",
		          what, ev->opcode);
		cr_assert(ev->len == 0 || (ev->data >= chunk && ev->data + ev->len <= chunk + clen),
		          "%s: DATA outside the buffer", what);
		if (!l->in_msg) {
			cr_assert(ev->msg_start, "%s: first piece without msg_start", what);
			l->in_msg = true;
			l->msg_op = ev->opcode;
			l->cur_len = 0;
			l->data_events = 0;
		} else {
			cr_assert(!ev->msg_start, "%s: msg_start inside a message", what);
			cr_assert_eq(ev->opcode, l->msg_op, "%s: opcode changed mid-message", what);
		}
		cr_assert(ev->len > 0 || ev->msg_end, "%s: empty DATA that does not end", what);
		l->data_events++;
		if (l->cur_len + ev->len > l->cur_cap) {
			l->cur_cap = (l->cur_len + ev->len) * 2 + 16;
			l->cur = trealloc(l->cur, l->cur_cap);
		}
		if (ev->len)
			memcpy(l->cur + l->cur_len, ev->data, ev->len);
		l->cur_len += ev->len;
		if (ev->msg_end) {
			ex_msg(l, l->msg_op, l->cur, l->cur_len);
			l->in_msg = false;
			l->last_msg_events = l->data_events;
		}
		return true;
	}
	case WR_WS_EV_CONTROL: {
		cr_assert(ev->len <= 125);
		char reason[126] = {0};
		if (ev->close_reason.len)
			memcpy(reason, ev->close_reason.data, ev->close_reason.len);
		ex_ctrl(l, ev->opcode, ev->data, ev->len, ev->opcode == WR_OP_CLOSE ? ev->close_code : 0,
		        ev->opcode == WR_OP_CLOSE ? reason : NULL);
		return true;
	}
	case WR_WS_EV_ERROR:
		cr_assert_not_null(ev->error);
		ex_err(l, ev->close_code);
		return false;
	case WR_WS_EV_NEED_CTRL:
		break;
	}
	cr_assert_fail("%s: bad event type %d", what, ev->type);
	return false;
}

struct tcase {
	const char *name;
	struct wire w;
	struct log want;
	enum wr_ws_role role;
	uint64_t max_msg;
	unsigned max_frames;
};

/* Feed the wire cut at cuts[0..ncuts) (ascending, inside (0, len)); returns the log. */
static void run(const struct tcase *tc, const size_t *cuts, size_t ncuts, struct log *got,
                const char *what)
{
	wr_ws_parser p;
	uint8_t ctrl[WR_WS_CTRL_MAX];
	wr__ws_parser_init(&p, tc->role, tc->max_msg);
	p.max_frames = tc->max_frames;
	memset(got, 0, sizeof(*got));
	size_t start = 0;
	for (size_t c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : tc->w.len;
		size_t clen = end - start;
		uint8_t *chunk = tmalloc(clen ? clen : 1);
		memcpy(chunk, tc->w.b + start, clen);
		size_t off = 0;
		while (off < clen) {
			wr_ws_event ev;
			size_t n = wr__ws_parse(&p, chunk + off, clen - off, &ev);
			cr_assert_leq(n, clen - off, "%s: consumed more than given", what);
			if (ev.type == WR_WS_EV_NONE)
				cr_assert_eq(n, clen - off, "%s: NONE before the end of input", what);
			if (ev.type == WR_WS_EV_NEED_CTRL) {
				/* Storage is lent only when a control frame is split, once. */
				cr_assert_null(p.ctrl, "%s: storage asked for twice", what);
				p.ctrl = ctrl;
				off += n;
				continue;
			}
			if (!log_event(got, &ev, chunk, clen, what)) {
				/* Stays failed, with the same code. */
				wr_ws_event ev2;
				uint8_t junk[4] = {0x81, 0x80, 0, 0};
				wr__ws_parse(&p, junk, sizeof(junk), &ev2);
				cr_assert_eq(ev2.type, WR_WS_EV_ERROR, "%s: not failed after error", what);
				cr_assert_eq(ev2.close_code, ev.close_code);
				tfree(chunk);
				return;
			}
			off += n;
		}
		tfree(chunk);
		start = end;
	}
}

static void compare(const struct log *want, const struct log *got, const char *what)
{
	cr_assert_eq(got->n, want->n, "%s: %zu events, want %zu", what, got->n, want->n);
	for (size_t i = 0; i < want->n; i++) {
		const struct item *a = &want->it[i], *b = &got->it[i];
		cr_assert_eq(b->kind, a->kind, "%s: item %zu kind %d, want %d", what, i, b->kind,
		             a->kind);
		cr_assert_eq(b->close_code, a->close_code, "%s: item %zu close code %d, want %d", what,
		             i, b->close_code, a->close_code);
		if (a->kind == K_ERR)
			continue;
		cr_assert_eq(b->opcode, a->opcode, "%s: item %zu opcode", what, i);
		cr_assert_eq(b->len, a->len, "%s: item %zu len %zu, want %zu", what, i, b->len, a->len);
		cr_assert(a->len == 0 || memcmp(a->data, b->data, a->len) == 0,
		          "%s: item %zu bytes differ", what, i);
		cr_assert_eq(b->reason_len, a->reason_len, "%s: item %zu reason len", what, i);
		cr_assert(a->reason_len == 0 || memcmp(a->reason, b->reason, a->reason_len) == 0,
		          "%s: item %zu reason differs", what, i);
	}
}

static void run_check(const struct tcase *tc, const size_t *cuts, size_t ncuts, const char *what)
{
	struct log got;
	run(tc, cuts, ncuts, &got, what);
	compare(&tc->want, &got, what);
	log_free(&got);
}

/* Split offsets tried for a wire of length n: all of them when short; for long wires all
 * within 40 bytes of either end (every header) and a stride through the middle. */
static bool try_offset(size_t k, size_t n)
{
	if (n <= 4096)
		return true;
	return k < 40 || k + 40 > n || k % 509 == 0;
}

static void check_all(struct tcase *tc)
{
	char what[128];
	size_t n = tc->w.len;

	snprintf(what, sizeof(what), "%s whole", tc->name);
	run_check(tc, NULL, 0, what);

	for (size_t k = 1; k < n; k++) {
		if (!try_offset(k, n))
			continue;
		snprintf(what, sizeof(what), "%s split at %zu", tc->name, k);
		run_check(tc, &k, 1, what);
	}

	size_t *chops = tcalloc(n + 1, sizeof(*chops));
	for (size_t k = 1; k < n; k++)
		chops[k - 1] = k;
	snprintf(what, sizeof(what), "%s 1-byte chops", tc->name);
	run_check(tc, chops, n ? n - 1 : 0, what);
	tfree(chops);

	if (n <= 160) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = i + 1; j < n; j++) {
				size_t cuts[2] = {i, j};
				snprintf(what, sizeof(what), "%s split at %zu,%zu", tc->name, i, j);
				run_check(tc, cuts, 2, what);
			}
	}
}

static void tc_init(struct tcase *tc, const char *name, enum wr_ws_role role)
{
	memset(tc, 0, sizeof(*tc));
	tc->name = name;
	tc->role = role;
}

static void tc_free(struct tcase *tc)
{
	tfree(tc->w.b);
	log_free(&tc->want);
}

static void check_and_free(struct tcase *tc)
{
	check_all(tc);
	tc_free(tc);
}

/* ---- valid traffic ---- */

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *p = tmalloc(n ? n : 1);
	uint32_t x = 2463534242u ^ seed;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

Test(ws_parse, binary_every_length_encoding)
{
	static const size_t lens[] = {0, 1, 2, 3, 4, 5, 125, 126, 127, 128, 65535, 65536, 100000};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct tcase tc;
		char name[64];
		snprintf(name, sizeof(name), "binary len %zu", lens[i]);
		tc_init(&tc, name, WR_WS_SERVER);
		uint8_t *p = pattern(lens[i], (unsigned)i);
		w_frame(&tc.w, true, WR_OP_BINARY, p, lens[i], true);
		ex_msg(&tc.want, WR_OP_BINARY, p, lens[i]);
		tfree(p);
		check_and_free(&tc);
	}
}

Test(ws_parse, text_every_length_encoding)
{
	static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 100000};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct tcase tc;
		char name[64];
		snprintf(name, sizeof(name), "text len %zu", lens[i]);
		tc_init(&tc, name, WR_WS_SERVER);
		/* Multibyte text: a 3-byte euro sign every few bytes, ASCII filling up. */
		uint8_t *p = tmalloc(lens[i] + 1);
		for (size_t k = 0; k < lens[i];) {
			if (k + 3 <= lens[i] && k % 7 == 2) {
				memcpy(p + k, "\xe2\x82\xac", 3);
				k += 3;
			} else {
				p[k] = (uint8_t)('a' + k % 26);
				k++;
			}
		}
		w_frame(&tc.w, true, WR_OP_TEXT, p, lens[i], true);
		ex_msg(&tc.want, WR_OP_TEXT, p, lens[i]);
		tfree(p);
		check_and_free(&tc);
	}
}

Test(ws_parse, non_minimal_length_encodings)
{
	struct tcase tc;
	tc_init(&tc, "non-minimal", WR_WS_SERVER);
	w_frame_x(&tc.w, 0, true, WR_OP_TEXT, "hello", 5, true, ENC_16);
	w_frame_x(&tc.w, 0, true, WR_OP_BINARY, "abc", 3, true, ENC_64);
	w_frame_x(&tc.w, 0, true, WR_OP_BINARY, "", 0, true, ENC_64);
	ex_text(&tc.want, "hello");
	ex_msg(&tc.want, WR_OP_BINARY, "abc", 3);
	ex_msg(&tc.want, WR_OP_BINARY, "", 0);
	check_and_free(&tc);
}

Test(ws_parse, fragmented_text_multibyte_split_with_controls)
{
	struct tcase tc;
	tc_init(&tc, "fragmented text", WR_WS_SERVER);
	/* "héllo wörld €𝄞" with é, € and 𝄞 each split across frames. */
	cf(&tc.w, false, WR_OP_TEXT, "h\xc3");
	cf(&tc.w, true, WR_OP_PING, "p1");
	cf(&tc.w, false, WR_OP_CONT, "\xa9llo w\xc3\xb6rld \xe2\x82");
	cf(&tc.w, true, WR_OP_PONG, "");
	cf(&tc.w, false, WR_OP_CONT, "\xac\xf0\x9d");
	cf(&tc.w, false, WR_OP_CONT, "");
	cf(&tc.w, true, WR_OP_CONT, "\x84\x9e");
	cf(&tc.w, true, WR_OP_PING, "after");
	ex_ctrl(&tc.want, WR_OP_PING, "p1", 2, 0, NULL);
	ex_ctrl(&tc.want, WR_OP_PONG, "", 0, 0, NULL);
	ex_text(&tc.want, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac\xf0\x9d\x84\x9e");
	ex_ctrl(&tc.want, WR_OP_PING, "after", 5, 0, NULL);
	check_and_free(&tc);
}

Test(ws_parse, fragmented_binary_and_empty_fragments)
{
	struct tcase tc;
	tc_init(&tc, "fragments", WR_WS_SERVER);
	cf(&tc.w, false, WR_OP_BINARY, "ab");
	cf(&tc.w, false, WR_OP_CONT, "");
	cf(&tc.w, true, WR_OP_CONT, "");
	cf(&tc.w, false, WR_OP_TEXT, "");
	cf(&tc.w, true, WR_OP_CONT, "");
	cf(&tc.w, false, WR_OP_TEXT, "");
	cf(&tc.w, false, WR_OP_CONT, "x");
	cf(&tc.w, true, WR_OP_CONT, "yz");
	cf(&tc.w, true, WR_OP_TEXT, "");
	cf(&tc.w, true, WR_OP_BINARY, "last");
	ex_msg(&tc.want, WR_OP_BINARY, "ab", 2);
	ex_text(&tc.want, "");
	ex_text(&tc.want, "xyz");
	ex_text(&tc.want, "");
	ex_msg(&tc.want, WR_OP_BINARY, "last", 4);
	check_and_free(&tc);
}

Test(ws_parse, large_fragmented_message)
{
	struct tcase tc;
	tc_init(&tc, "large fragmented", WR_WS_SERVER);
	size_t n = 70000;
	uint8_t *p = pattern(n, 9);
	w_frame(&tc.w, false, WR_OP_BINARY, p, 126, true);
	w_frame(&tc.w, true, WR_OP_PING, "x", 1, true);
	w_frame(&tc.w, false, WR_OP_CONT, p + 126, 65536, true);
	w_frame(&tc.w, true, WR_OP_CONT, p + 126 + 65536, n - 126 - 65536, true);
	ex_ctrl(&tc.want, WR_OP_PING, "x", 1, 0, NULL);
	ex_msg(&tc.want, WR_OP_BINARY, p, n);
	tfree(p);
	check_and_free(&tc);
}

Test(ws_parse, close_frames)
{
	struct tcase tc;
	tc_init(&tc, "close with reason", WR_WS_SERVER);
	cf(&tc.w, true, WR_OP_CLOSE, "\x03\xe8" "bye \xc3\xa9");
	ex_ctrl(&tc.want, WR_OP_CLOSE, "\x03\xe8" "bye \xc3\xa9", 8, 1000, "bye \xc3\xa9");
	check_and_free(&tc);

	tc_init(&tc, "close code only", WR_WS_SERVER);
	cf(&tc.w, true, WR_OP_CLOSE, "\x0f\xa0"); /* 4000 */
	ex_ctrl(&tc.want, WR_OP_CLOSE, "\x0f\xa0", 2, 4000, "");
	check_and_free(&tc);

	tc_init(&tc, "close empty", WR_WS_SERVER);
	cf(&tc.w, true, WR_OP_CLOSE, "");
	ex_ctrl(&tc.want, WR_OP_CLOSE, "", 0, 1005, NULL);
	check_and_free(&tc);

	/* A close between fragments of a message. */
	tc_init(&tc, "close mid-message", WR_WS_SERVER);
	cf(&tc.w, false, WR_OP_TEXT, "abc");
	cf(&tc.w, true, WR_OP_CLOSE, "\x03\xe9");
	ex_ctrl(&tc.want, WR_OP_CLOSE, "\x03\xe9", 2, 1001, "");
	check_and_free(&tc);

	/* Longest control payload: 123 bytes of reason. */
	tc_init(&tc, "close 125", WR_WS_SERVER);
	char big[126];
	big[0] = 0x03;
	big[1] = (char)0xf3; /* 1011 */
	memset(big + 2, 'r', 123);
	big[125] = 0;
	w_frame(&tc.w, true, WR_OP_CLOSE, big, 125, true);
	ex_ctrl(&tc.want, WR_OP_CLOSE, big, 125, 1011, big + 2);
	check_and_free(&tc);
}

Test(ws_parse, client_role_unmasked_frames)
{
	struct tcase tc;
	tc_init(&tc, "client", WR_WS_CLIENT);
	uint8_t *p = pattern(300, 3);
	w_frame(&tc.w, false, WR_OP_BINARY, p, 200, false);
	w_frame(&tc.w, true, WR_OP_PING, "hi", 2, false);
	w_frame(&tc.w, true, WR_OP_CONT, p + 200, 100, false);
	w_frame(&tc.w, true, WR_OP_TEXT, "ok", 2, false);
	ex_ctrl(&tc.want, WR_OP_PING, "hi", 2, 0, NULL);
	ex_msg(&tc.want, WR_OP_BINARY, p, 300);
	ex_text(&tc.want, "ok");
	tfree(p);
	check_and_free(&tc);
}

/* A message whose frames all arrive in one buffer is one DATA event, start and end. */
Test(ws_parse, whole_message_one_event)
{
	struct wire w = {0};
	cf(&w, false, WR_OP_TEXT, "hel");
	cf(&w, false, WR_OP_CONT, "");
	cf(&w, false, WR_OP_CONT, "lo ");
	cf(&w, true, WR_OP_CONT, "w\xc3\xb6rld");
	cf(&w, true, WR_OP_BINARY, "single");
	wr_ws_parser p;
	wr_ws_event ev;
	wr__ws_parser_init(&p, WR_WS_SERVER, 0);
	size_t n = wr__ws_parse(&p, w.b, w.len, &ev);
	cr_assert_eq(ev.type, WR_WS_EV_DATA);
	cr_assert(ev.msg_start && ev.msg_end);
	cr_assert_eq(ev.opcode, WR_OP_TEXT);
	cr_assert_eq(ev.len, 12);
	cr_assert(memcmp(ev.data, "hello w\xc3\xb6rld", 12) == 0);
	size_t m = wr__ws_parse(&p, w.b + n, w.len - n, &ev);
	cr_assert_eq(n + m, w.len);
	cr_assert_eq(ev.type, WR_WS_EV_DATA);
	cr_assert(ev.msg_start && ev.msg_end);
	cr_assert_eq(ev.opcode, WR_OP_BINARY);
	cr_assert_eq(ev.len, 6);
	cr_assert_eq(ev.msg_len_hint, 6);
	cr_assert(memcmp(ev.data, "single", 6) == 0);
	/* Nothing left: NONE. */
	m = wr__ws_parse(&p, w.b + w.len, 0, &ev);
	cr_assert_eq(m, 0);
	cr_assert_eq(ev.type, WR_WS_EV_NONE);
	tfree(w.b);
}

/* A control frame between fragments ends the joined piece: data, control, data. */
Test(ws_parse, control_splits_joined_piece)
{
	struct wire w = {0};
	cf(&w, false, WR_OP_BINARY, "ab");
	cf(&w, true, WR_OP_PING, "");
	cf(&w, true, WR_OP_CONT, "cd");
	wr_ws_parser p;
	wr_ws_event ev;
	wr__ws_parser_init(&p, WR_WS_SERVER, 0);
	size_t off = wr__ws_parse(&p, w.b, w.len, &ev);
	cr_assert_eq(ev.type, WR_WS_EV_DATA);
	cr_assert(ev.msg_start && !ev.msg_end);
	cr_assert_eq(ev.len, 2);
	off += wr__ws_parse(&p, w.b + off, w.len - off, &ev);
	cr_assert_eq(ev.type, WR_WS_EV_CONTROL);
	cr_assert_eq(ev.opcode, WR_OP_PING);
	off += wr__ws_parse(&p, w.b + off, w.len - off, &ev);
	cr_assert_eq(ev.type, WR_WS_EV_DATA);
	cr_assert(!ev.msg_start && ev.msg_end);
	cr_assert(memcmp(ev.data, "cd", 2) == 0);
	cr_assert_eq(off, w.len);
	tfree(w.b);
}

/* ---- violations: each gives its close code wherever the input is split ---- */

static void violation(const char *name, enum wr_ws_role role, uint64_t max_msg,
                      void (*build)(struct tcase *), int code)
{
	struct tcase tc;
	tc_init(&tc, name, role);
	tc.max_msg = max_msg;
	build(&tc);
	ex_err(&tc.want, code);
	check_and_free(&tc);
}

static void b_rsv1(struct tcase *tc) { w_frame_x(&tc->w, 0x40, true, WR_OP_TEXT, "a", 1, true, 0); }
static void b_rsv2(struct tcase *tc) { w_frame_x(&tc->w, 0x20, true, WR_OP_BINARY, "a", 1, true, 0); }
static void b_rsv3(struct tcase *tc) { w_frame_x(&tc->w, 0x10, true, WR_OP_PING, "", 0, true, 0); }
static void b_rsv_cont(struct tcase *tc)
{
	cf(&tc->w, false, WR_OP_TEXT, "ab");
	w_frame_x(&tc->w, 0x40, true, WR_OP_CONT, "c", 1, true, 0);
}
static void b_cont_alone(struct tcase *tc) { cf(&tc->w, true, WR_OP_CONT, "x"); }
static void b_cont_after_end(struct tcase *tc)
{
	cf(&tc->w, true, WR_OP_TEXT, "x");
	ex_text(&tc->want, "x");
	cf(&tc->w, true, WR_OP_CONT, "y");
}
static void b_text_in_text(struct tcase *tc)
{
	cf(&tc->w, false, WR_OP_TEXT, "x");
	cf(&tc->w, true, WR_OP_TEXT, "y");
}
static void b_bin_in_text(struct tcase *tc)
{
	cf(&tc->w, false, WR_OP_TEXT, "x");
	cf(&tc->w, true, WR_OP_PING, "");
	ex_ctrl(&tc->want, WR_OP_PING, "", 0, 0, NULL);
	cf(&tc->w, true, WR_OP_BINARY, "y");
}
static void b_ping_126(struct tcase *tc)
{
	char p[126];
	memset(p, 'p', sizeof(p));
	w_frame(&tc->w, true, WR_OP_PING, p, sizeof(p), true);
}
static void b_ping_ext16_small(struct tcase *tc)
{
	/* 16-bit length encoding on a control frame: the 7-bit field says 126 > 125. */
	w_frame_x(&tc->w, 0, true, WR_OP_PING, "abc", 3, true, ENC_16);
}
static void b_ping_nofin(struct tcase *tc) { cf(&tc->w, false, WR_OP_PING, "a"); }
static void b_close_nofin(struct tcase *tc) { cf(&tc->w, false, WR_OP_CLOSE, "\x03\xe8"); }
static void b_len_msb(struct tcase *tc)
{
	static const uint8_t h[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 0, 0};
	w_raw(&tc->w, h, sizeof(h));
}
static void b_unmasked(struct tcase *tc) { w_frame(&tc->w, true, WR_OP_TEXT, "hi", 2, false); }
static void b_masked(struct tcase *tc) { w_frame(&tc->w, true, WR_OP_TEXT, "hi", 2, true); }
static void b_unmasked_ping(struct tcase *tc) { w_frame(&tc->w, true, WR_OP_PING, "", 0, false); }
static void b_close_1(struct tcase *tc) { cf(&tc->w, true, WR_OP_CLOSE, "\x03"); }
static void b_close_reason_bad(struct tcase *tc)
{
	cf(&tc->w, true, WR_OP_CLOSE, "\x03\xe8" "ok\xc3\x28");
}
static void b_close_reason_trunc(struct tcase *tc)
{
	cf(&tc->w, true, WR_OP_CLOSE, "\x03\xe8" "ok\xe2\x82");
}
static void b_text_bad(struct tcase *tc) { cf(&tc->w, true, WR_OP_TEXT, "abc\xff" "def"); }
static void b_text_overlong(struct tcase *tc) { cf(&tc->w, true, WR_OP_TEXT, "\xc0\xaf"); }
static void b_text_surrogate(struct tcase *tc) { cf(&tc->w, true, WR_OP_TEXT, "a\xed\xa0\x80"); }
static void b_text_truncated(struct tcase *tc) { cf(&tc->w, true, WR_OP_TEXT, "ab\xe2\x82"); }
static void b_text_truncated_frag(struct tcase *tc)
{
	cf(&tc->w, false, WR_OP_TEXT, "ab\xf0\x9f");
	cf(&tc->w, true, WR_OP_CONT, "\x98");
}
static void b_text_bad_second_frag(struct tcase *tc)
{
	cf(&tc->w, false, WR_OP_TEXT, "ab\xe2");
	cf(&tc->w, true, WR_OP_CONT, "\x28\xa1");
}
static void b_too_big(struct tcase *tc)
{
	uint8_t p[101] = {0};
	w_frame(&tc->w, true, WR_OP_BINARY, p, sizeof(p), true);
}
static void b_too_big_frag(struct tcase *tc)
{
	uint8_t p[60] = {0};
	w_frame(&tc->w, false, WR_OP_BINARY, p, 60, true);
	w_frame(&tc->w, true, WR_OP_PING, "", 0, true);
	ex_ctrl(&tc->want, WR_OP_PING, "", 0, 0, NULL);
	w_frame(&tc->w, true, WR_OP_CONT, p, 41, true);
}

Test(ws_parse, violations)
{
	violation("rsv1", WR_WS_SERVER, 0, b_rsv1, 1002);
	violation("rsv2", WR_WS_SERVER, 0, b_rsv2, 1002);
	violation("rsv3", WR_WS_SERVER, 0, b_rsv3, 1002);
	violation("rsv on continuation", WR_WS_SERVER, 0, b_rsv_cont, 1002);
	violation("continuation alone", WR_WS_SERVER, 0, b_cont_alone, 1002);
	violation("continuation after end", WR_WS_SERVER, 0, b_cont_after_end, 1002);
	violation("text inside text", WR_WS_SERVER, 0, b_text_in_text, 1002);
	violation("binary inside text", WR_WS_SERVER, 0, b_bin_in_text, 1002);
	violation("ping 126", WR_WS_SERVER, 0, b_ping_126, 1002);
	violation("ping 16-bit length", WR_WS_SERVER, 0, b_ping_ext16_small, 1002);
	violation("ping without FIN", WR_WS_SERVER, 0, b_ping_nofin, 1002);
	violation("close without FIN", WR_WS_SERVER, 0, b_close_nofin, 1002);
	violation("64-bit length MSB", WR_WS_SERVER, 0, b_len_msb, 1002);
	violation("64-bit length MSB (client)", WR_WS_CLIENT, 0, b_len_msb, 1002);
	violation("server gets unmasked", WR_WS_SERVER, 0, b_unmasked, 1002);
	violation("server gets unmasked ping", WR_WS_SERVER, 0, b_unmasked_ping, 1002);
	violation("client gets masked", WR_WS_CLIENT, 0, b_masked, 1002);
	violation("close 1 byte", WR_WS_SERVER, 0, b_close_1, 1002);
	violation("close reason bad", WR_WS_SERVER, 0, b_close_reason_bad, 1007);
	violation("close reason truncated", WR_WS_SERVER, 0, b_close_reason_trunc, 1007);
	violation("text bad byte", WR_WS_SERVER, 0, b_text_bad, 1007);
	violation("text overlong", WR_WS_SERVER, 0, b_text_overlong, 1007);
	violation("text surrogate", WR_WS_SERVER, 0, b_text_surrogate, 1007);
	violation("text truncated", WR_WS_SERVER, 0, b_text_truncated, 1007);
	violation("text truncated fragmented", WR_WS_SERVER, 0, b_text_truncated_frag, 1007);
	violation("text bad in second fragment", WR_WS_SERVER, 0, b_text_bad_second_frag, 1007);
	violation("too big", WR_WS_SERVER, 100, b_too_big, 1009);
	violation("too big fragmented", WR_WS_SERVER, 100, b_too_big_frag, 1009);
}

Test(ws_parse, reserved_opcodes)
{
	static const int ops[] = {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct tcase tc;
		char name[32];
		snprintf(name, sizeof(name), "opcode %d", ops[i]);
		tc_init(&tc, name, WR_WS_SERVER);
		w_frame(&tc.w, true, ops[i], "abc", 3, true);
		ex_err(&tc.want, 1002);
		check_and_free(&tc);
		/* Also in the middle of a fragmented message. */
		tc_init(&tc, name, WR_WS_SERVER);
		cf(&tc.w, false, WR_OP_BINARY, "abc");
		w_frame(&tc.w, false, ops[i], "d", 1, true);
		ex_err(&tc.want, 1002);
		check_and_free(&tc);
	}
}

Test(ws_parse, bad_close_codes)
{
	static const int codes[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct tcase tc;
		char name[32];
		snprintf(name, sizeof(name), "close code %d", codes[i]);
		tc_init(&tc, name, WR_WS_SERVER);
		uint8_t pl[4] = {(uint8_t)(codes[i] >> 8), (uint8_t)codes[i], 'o', 'k'};
		w_frame(&tc.w, true, WR_OP_CLOSE, pl, 4, true);
		ex_err(&tc.want, 1002);
		check_and_free(&tc);
	}
	static const int good[] = {1000, 1001, 1002, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tcase tc;
		tc_init(&tc, "good close code", WR_WS_SERVER);
		uint8_t pl[2] = {(uint8_t)(good[i] >> 8), (uint8_t)good[i]};
		w_frame(&tc.w, true, WR_OP_CLOSE, pl, 2, true);
		ex_ctrl(&tc.want, WR_OP_CLOSE, pl, 2, good[i], "");
		check_and_free(&tc);
	}
}

/* The size limit holds at header time: no payload byte needs to arrive. */
Test(ws_parse, too_big_before_payload)
{
	struct wire w = {0};
	uint8_t h[14];
	static const uint8_t mask[4] = {1, 2, 3, 4};
	size_t hl = wr__ws_frame_header(h, true, WR_OP_BINARY, 1001, mask);
	w_raw(&w, h, hl);
	wr_ws_parser p;
	wr_ws_event ev;
	wr__ws_parser_init(&p, WR_WS_SERVER, 1000);
	wr__ws_parse(&p, w.b, w.len, &ev);
	cr_assert_eq(ev.type, WR_WS_EV_ERROR);
	cr_assert_eq(ev.close_code, 1009);

	/* Exactly at the limit is fine. */
	wr__ws_parser_init(&p, WR_WS_SERVER, 1000);
	hl = wr__ws_frame_header(h, true, WR_OP_BINARY, 1000, mask);
	size_t n = wr__ws_parse(&p, h, hl, &ev);
	cr_assert_eq(n, hl);
	cr_assert_eq(ev.type, WR_WS_EV_NONE);

	/* A huge 64-bit length against the default limit (16 MiB). */
	wr__ws_parser_init(&p, WR_WS_SERVER, 0);
	hl = wr__ws_frame_header(h, false, WR_OP_TEXT, (uint64_t)1 << 40, mask);
	wr__ws_parse(&p, h, hl, &ev);
	cr_assert_eq(ev.type, WR_WS_EV_ERROR);
	cr_assert_eq(ev.close_code, 1009);
	tfree(w.b);
}

/* Invalid UTF-8 fails in the first fragment, before the message (or even the frame) ends. */
Test(ws_parse, utf8_fail_fast)
{
	struct wire w = {0};
	uint8_t p[1000];
	memset(p, 'a', sizeof(p));
	p[10] = 0xff;
	w_frame(&w, false, WR_OP_TEXT, p, sizeof(p), true);
	/* Only the header and 20 payload bytes have arrived; at every split of those. */
	size_t hl = w.len - sizeof(p);
	for (size_t k = 0; k <= hl + 20; k++) {
		wr_ws_parser ps;
		wr_ws_event ev;
		uint8_t buf[64];
		memcpy(buf, w.b, hl + 20);
		wr__ws_parser_init(&ps, WR_WS_SERVER, 0);
		size_t off = 0;
		bool failed = false;
		size_t ends[2] = {k, hl + 20};
		for (int c = 0; c < 2 && !failed; c++) {
			while (off < ends[c]) {
				off += wr__ws_parse(&ps, buf + off, ends[c] - off, &ev);
				if (ev.type == WR_WS_EV_ERROR) {
					cr_assert_eq(ev.close_code, 1007);
					failed = true;
					break;
				}
				cr_assert_neq(ev.type, WR_WS_EV_CONTROL);
			}
		}
		cr_assert(failed, "split %zu: invalid UTF-8 not caught early", k);
	}
	/* Also in a non-final frame that is complete: the message never ends. */
	struct tcase tc;
	tc_init(&tc, "bad first fragment", WR_WS_SERVER);
	cf(&tc.w, false, WR_OP_TEXT, "ok\xf5" "more");
	ex_err(&tc.want, 1007);
	check_and_free(&tc);
	tfree(w.b);
}

/* Binary messages are not UTF-8 checked. */
Test(ws_parse, binary_not_validated)
{
	struct tcase tc;
	tc_init(&tc, "binary ff", WR_WS_SERVER);
	w_frame(&tc.w, true, WR_OP_BINARY, "\xff\xfe\xc0", 3, true);
	ex_msg(&tc.want, WR_OP_BINARY, "\xff\xfe\xc0", 3);
	check_and_free(&tc);
}

/* The library encoder agrees with the test's own. */
Test(ws_parse, frame_header_encoder)
{
	static const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 100000,
	                                (uint64_t)1 << 32, ((uint64_t)1 << 63) - 1};
	static const uint8_t mask[4] = {0xa1, 0xb2, 0xc3, 0xd4};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (int m = 0; m < 2; m++) {
			uint8_t h[14];
			size_t n = wr__ws_frame_header(h, i & 1, WR_OP_BINARY, lens[i], m ? mask : NULL);
			size_t want = 2 + (lens[i] < 126 ? 0 : lens[i] <= 0xffff ? 2 : 8) + (m ? 4 : 0);
			cr_assert_eq(n, want);
			cr_assert_eq(h[0], (uint8_t)((i & 1 ? 0x80 : 0) | WR_OP_BINARY));
			cr_assert_eq((h[1] & 0x80) != 0, m != 0);
			uint64_t got = h[1] & 0x7f;
			size_t at = 2;
			if (got == 126) {
				got = (uint64_t)h[2] << 8 | h[3];
				at = 4;
			} else if (got == 127) {
				got = 0;
				for (int k = 0; k < 8; k++)
					got = got << 8 | h[2 + k];
				at = 10;
			}
			cr_assert_eq(got, lens[i]);
			if (m)
				cr_assert(memcmp(h + at, mask, 4) == 0);
		}
	}
	uint8_t h[14];
	cr_assert_eq(wr__ws_frame_header(h, true, WR_OP_CLOSE, 2, NULL), 2);
	cr_assert_eq(h[0], 0x88);
	cr_assert_eq(h[1], 2);
}

/* A zero-length input never consumes nor reports anything. */
Test(ws_parse, empty_input)
{
	wr_ws_parser p;
	wr_ws_event ev;
	uint8_t b[1];
	wr__ws_parser_init(&p, WR_WS_SERVER, 0);
	cr_assert_eq(wr__ws_parse(&p, b, 0, &ev), 0);
	cr_assert_eq(ev.type, WR_WS_EV_NONE);
}

Test(ws_parse, frames_per_message_limit)
{
	/* Three frames with a ping between them: the limit, whole (control frames do not
	 * count); then the same message in four frames: 1009 at the fourth header. */
	struct tcase tc;
	tc_init(&tc, "3 frames, limit 3", WR_WS_SERVER);
	tc.max_frames = 3;
	w_frame(&tc.w, false, WR_OP_BINARY, "ab", 2, true);
	w_frame(&tc.w, false, WR_OP_CONT, "cd", 2, true);
	w_frame(&tc.w, true, WR_OP_PING, "p", 1, true);
	w_frame(&tc.w, true, WR_OP_CONT, "ef", 2, true);
	ex_ctrl(&tc.want, WR_OP_PING, "p", 1, 0, NULL);
	ex_msg(&tc.want, WR_OP_BINARY, "abcdef", 6);
	/* A new message counts from one again. */
	w_frame(&tc.w, false, WR_OP_TEXT, "x", 1, true);
	w_frame(&tc.w, false, WR_OP_CONT, "y", 1, true);
	w_frame(&tc.w, true, WR_OP_CONT, "z", 1, true);
	ex_text(&tc.want, "xyz");
	check_and_free(&tc);

	tc_init(&tc, "4 frames, limit 3", WR_WS_SERVER);
	tc.max_frames = 3;
	w_frame(&tc.w, false, WR_OP_BINARY, "ab", 2, true);
	w_frame(&tc.w, false, WR_OP_CONT, "cd", 2, true);
	w_frame(&tc.w, false, WR_OP_CONT, "ef", 2, true);
	w_frame(&tc.w, true, WR_OP_CONT, "gh", 2, true);
	ex_err(&tc.want, WR_CLOSE_TOO_BIG);
	check_and_free(&tc);

	/* The header count the caller charges for: every frame, control frames too. */
	wr_ws_parser p;
	wr__ws_parser_init(&p, WR_WS_SERVER, 0);
	struct wire w = { 0 };
	w_frame(&w, false, WR_OP_BINARY, "a", 1, true);
	w_frame(&w, true, WR_OP_PING, "", 0, true);
	w_frame(&w, true, WR_OP_CONT, "b", 1, true);
	size_t off = 0;
	while (off < w.len) {
		wr_ws_event ev;
		off += wr__ws_parse(&p, w.b + off, w.len - off, &ev);
	}
	cr_assert_eq(p.frames, 3);
	tfree(w.b);
}
