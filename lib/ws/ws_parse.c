/* RFC 6455 §5 incremental frame parser. Header bytes that arrive split are staged in hdr[];
 * payload is unmasked in place and handed out as views into the caller's buffer, so the
 * steady state copies nothing (control frames split across reads are the exception: they are
 * gathered, at most 125 bytes, into storage the caller lends only then). Every rule is checked as early as the bytes that
 * decide it are seen: opcode, RSV and mask rules after the first two header bytes, the length
 * rules once the extended length is in, UTF-8 as each payload piece is unmasked. */
#include <errno.h>
#include <string.h>

#include "ws_codec.h"

/* Payload is unmasked and validated this much at a time (well inside L1/L2). */
#define DATA_STEP (16u * 1024u)

enum {
	ST_HDR,    /* gathering a frame header */
	ST_DATA,   /* text/binary/continuation payload */
	ST_CTRL,   /* ping/pong/close payload */
	ST_FAILED, /* protocol error seen: every call reports it again */
};

/* Why the parser failed, reported with the close code; the parser keeps only the index. */
enum {
	ERR_RSV, /* RSV bit set without a negotiated extension */
	ERR_CONT, /* continuation frame without a message in progress */
	ERR_NESTED, /* new message inside a fragmented message */
	ERR_CTRL_FRAGMENTED, /* fragmented control frame */
	ERR_CTRL_LONG, /* control frame payload over 125 bytes */
	ERR_OPCODE, /* reserved opcode */
	ERR_UNMASKED, /* unmasked frame from a client */
	ERR_MASKED, /* masked frame from a server */
	ERR_LEN64, /* 64-bit payload length with the top bit set */
	ERR_TOO_BIG, /* message over the size limit */
	ERR_TOO_MANY_FRAMES, /* message in more frames than the limit */
	ERR_CLOSE_SHORT, /* 1-byte close payload */
	ERR_CLOSE_CODE, /* invalid close code */
	ERR_CLOSE_UTF8, /* close reason is not UTF-8 */
	ERR_TEXT_UTF8, /* text is not UTF-8 */
	ERR_TEXT_END, /* text ends inside a character */
	ERR_STATE, /* parser in a bad state */
};

static const char *const err_text[] = {
	"RSV bit set without a negotiated extension",
	"continuation frame without a message in progress",
	"new message inside a fragmented message",
	"fragmented control frame",
	"control frame payload over 125 bytes",
	"reserved opcode",
	"unmasked frame from a client",
	"masked frame from a server",
	"64-bit payload length with the top bit set",
	"message over the size limit",
	"message in too many fragments",
	"1-byte close payload",
	"invalid close code",
	"close reason is not UTF-8",
	"text is not UTF-8",
	"text ends inside a character",
	"parser in a bad state",
};

/* A decoded frame header, not yet applied to the parser. */
struct frame {
	uint8_t opcode;
	bool fin;
	bool masked;
	uint8_t mask[4];
	uint64_t len;
};

struct err {
	uint16_t code;
	uint8_t msg;
};

void wr__ws_parser_init(wr_ws_parser *p, enum wr_ws_role role, uint64_t max_msg)
{
	memset(p, 0, sizeof(*p));
	p->role = (uint8_t)role;
	p->state = ST_HDR;
	p->max_msg = (uint32_t)(!max_msg ? WR_WS_DEFAULT_MAX_MSG
	                        : max_msg > WR_WS_MAX_MSG ? WR_WS_MAX_MSG : max_msg);
}

static bool is_control(uint8_t op)
{
	return (op & 0x8) != 0;
}

/* Total header size announced by its first two bytes. */
static uint8_t hdr_size(uint8_t b1)
{
	uint8_t n = 2;
	uint8_t len7 = b1 & 0x7f;
	if (len7 == 126)
		n += 2;
	else if (len7 == 127)
		n += 8;
	if (b1 & 0x80)
		n += 4;
	return n;
}

/* Rules decided by the first two bytes alone. Does not touch the parser. */
static bool check_first(const wr_ws_parser *p, uint8_t b0, uint8_t b1, struct err *e)
{
	uint8_t op = b0 & 0x0f;
	bool fin = (b0 & 0x80) != 0;
	bool masked = (b1 & 0x80) != 0;

	e->code = WR_CLOSE_PROTOCOL_ERROR;
	/* RSV1 is permessage-deflate's "compressed" bit, on a message's first frame only
	 * (RFC 7692 §6): never on a continuation or control frame. */
	if ((b0 & 0x30) || ((b0 & 0x40) && (!p->deflate || (op != WR_OP_TEXT && op != WR_OP_BINARY)))) {
		e->msg = ERR_RSV;
		return false;
	}
	switch (op) {
	case WR_OP_CONT:
		if (p->msg_opcode == 0) {
			e->msg = ERR_CONT;
			return false;
		}
		break;
	case WR_OP_TEXT:
	case WR_OP_BINARY:
		if (p->msg_opcode != 0) {
			e->msg = ERR_NESTED;
			return false;
		}
		break;
	case WR_OP_CLOSE:
	case WR_OP_PING:
	case WR_OP_PONG:
		if (!fin) {
			e->msg = ERR_CTRL_FRAGMENTED;
			return false;
		}
		if ((b1 & 0x7f) > 125) {
			e->msg = ERR_CTRL_LONG;
			return false;
		}
		break;
	default:
		e->msg = ERR_OPCODE;
		return false;
	}
	if (p->role == WR_WS_SERVER && !masked) {
		e->msg = ERR_UNMASKED;
		return false;
	}
	if (p->role == WR_WS_CLIENT && masked) {
		e->msg = ERR_MASKED;
		return false;
	}
	return true;
}

/* Decode a complete header h[0..hdr_size(h[1])) whose first two bytes passed check_first. */
static bool decode_rest(const wr_ws_parser *p, const uint8_t *h, struct frame *f, struct err *e)
{
	const uint8_t *q = h + 2;
	uint64_t len = h[1] & 0x7f;

	if (len == 126) {
		len = (uint64_t)q[0] << 8 | q[1];
		q += 2;
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | q[i];
		q += 8;
		if (len >> 63) {
			e->code = WR_CLOSE_PROTOCOL_ERROR;
			e->msg = ERR_LEN64;
			return false;
		}
	}
	f->opcode = h[0] & 0x0f;
	f->fin = (h[0] & 0x80) != 0;
	f->masked = (h[1] & 0x80) != 0;
	if (f->masked)
		memcpy(f->mask, q, 4);
	f->len = len;
	/* Refuse an oversized message before any of its payload is buffered. msg_len never
	 * exceeds the limit, so the subtraction cannot wrap. A compressed message is limited
	 * once inflated; on the wire it may be a little larger than that (incompressible data
	 * grows by 5 bytes per stored block), so it gets 1/64 more room here. */
	if (!is_control(f->opcode)) {
		bool compressed = f->opcode == WR_OP_CONT ? p->compressed : (h[0] & 0x40) != 0;
		uint64_t max = compressed ? (uint64_t)p->max_msg + (p->max_msg >> 6) + 64 : p->max_msg;
		if (max > UINT32_MAX)
			max = UINT32_MAX;
		uint64_t so_far = f->opcode == WR_OP_CONT ? p->msg_len : 0;
		if (len > max - so_far) {
			e->code = WR_CLOSE_TOO_BIG;
			e->msg = ERR_TOO_BIG;
			return false;
		}
		/* Each frame is work of its own (a header to decode and check, a piece to move):
		 * a message in tiny fragments costs many times what its bytes do. */
		if (f->opcode == WR_OP_CONT && p->max_frames && p->msg_frames >= p->max_frames) {
			e->code = WR_CLOSE_TOO_BIG;
			e->msg = ERR_TOO_MANY_FRAMES;
			return false;
		}
	}
	return true;
}

static void apply(wr_ws_parser *p, const struct frame *f, uint8_t b0)
{
	p->opcode = f->opcode;
	p->fin = f->fin;
	p->masked = f->masked;
	memcpy(p->mask, f->mask, 4);
	p->frame_left = (uint32_t)f->len; /* checked against max_msg (or 125) already */
	p->mask_phase = 0;
	p->hdr_len = 0;
	p->hdr_need = 0;
	p->frames++;
	if (is_control(f->opcode)) {
		p->ctrl_len = 0;
		p->state = ST_CTRL;
		return;
	}
	p->msg_frames++;
	if (f->opcode != WR_OP_CONT) {
		p->msg_opcode = f->opcode;
		p->msg_frames = 1;
		p->msg_len = 0;
		p->msg_begun = false;
		p->compressed = (b0 & 0x40) != 0;
		if (f->opcode == WR_OP_TEXT)
			wr__utf8_init(&p->utf8);
	}
	p->state = ST_DATA;
}

static size_t fail(wr_ws_parser *p, wr_ws_event *ev, uint16_t code, uint8_t msg, size_t ret)
{
	p->state = ST_FAILED;
	p->err_code = code;
	p->err = msg;
	ev->type = WR_WS_EV_ERROR;
	ev->close_code = code;
	ev->error = err_text[msg];
	return ret;
}

static size_t fail_err(wr_ws_parser *p, wr_ws_event *ev, const struct err *e, size_t ret)
{
	return fail(p, ev, e->code, e->msg, ret);
}

/* Validate a complete control payload and fill the CONTROL event. */
static size_t control_event(wr_ws_parser *p, const uint8_t *data, size_t len, wr_ws_event *ev,
                            size_t ret)
{
	ev->type = WR_WS_EV_CONTROL;
	ev->opcode = (wr_opcode)p->opcode;
	ev->data = data;
	ev->len = len;
	p->state = ST_HDR;
	if (p->opcode != WR_OP_CLOSE)
		return ret;
	if (len == 0) {
		ev->close_code = WR_CLOSE_NO_STATUS;
		return ret;
	}
	if (len == 1)
		return fail(p, ev, WR_CLOSE_PROTOCOL_ERROR, ERR_CLOSE_SHORT, ret);
	int code = data[0] << 8 | data[1];
	if (!wr__ws_close_code_valid(code))
		return fail(p, ev, WR_CLOSE_PROTOCOL_ERROR, ERR_CLOSE_CODE, ret);
	if (!wr__utf8_valid(data + 2, len - 2))
		return fail(p, ev, WR_CLOSE_INVALID_DATA, ERR_CLOSE_UTF8, ret);
	ev->close_code = code;
	ev->close_reason.data = (const char *)data + 2;
	ev->close_reason.len = len - 2;
	return ret;
}

uint32_t wr__ws_parse_data_left(const wr_ws_parser *p)
{
	return p->state == ST_DATA ? p->frame_left : 0;
}

size_t wr__ws_parse(wr_ws_parser *p, uint8_t *buf, size_t len, wr_ws_event *ev)
{
	size_t pos = 0;
	/* Pending DATA event: out[0..out_len) holds unmasked payload, possibly joined from
	 * several frames of the message whose headers lay in between. */
	uint8_t *out = NULL;
	size_t out_len = 0;
	bool out_start = false;
	struct frame f;
	struct err e;

	memset(ev, 0, sizeof(*ev));
	ev->type = WR_WS_EV_NONE;
	if (p->state == ST_FAILED)
		return fail(p, ev, p->err_code, p->err, 0);

	for (;;) {
		size_t avail = len - pos;

		switch (p->state) {
		case ST_HDR: {
			if (avail == 0)
				goto emit;
			if (p->hdr_len == 0 && avail >= 2 && avail >= hdr_size(buf[pos + 1])) {
				/* Whole header in the buffer: decode it in place. */
				const uint8_t *h = buf + pos;
				if (out != NULL) {
					/* Joining: only a valid continuation of this message;
					 * anything else is left for the next call, which
					 * reports it in order. */
					if ((h[0] & 0x0f) != WR_OP_CONT || !check_first(p, h[0], h[1], &e) ||
					    !decode_rest(p, h, &f, &e))
						goto emit;
				} else {
					if (!check_first(p, h[0], h[1], &e))
						return fail_err(p, ev, &e, pos);
					if (!decode_rest(p, h, &f, &e))
						return fail_err(p, ev, &e, pos);
				}
				pos += hdr_size(h[1]);
				apply(p, &f, h[0]);
				break;
			}
			if (out != NULL)
				goto emit;
			/* Staged path: the header straddles calls. */
			if (p->hdr_len < 2) {
				size_t n = 2 - p->hdr_len;
				if (n > avail)
					n = avail;
				memcpy(p->hdr + p->hdr_len, buf + pos, n);
				p->hdr_len += (uint8_t)n;
				pos += n;
				if (p->hdr_len < 2)
					goto emit;
				if (!check_first(p, p->hdr[0], p->hdr[1], &e))
					return fail_err(p, ev, &e, pos);
				p->hdr_need = hdr_size(p->hdr[1]);
				avail = len - pos;
			}
			size_t n = (size_t)(p->hdr_need - p->hdr_len);
			if (n > avail)
				n = avail;
			memcpy(p->hdr + p->hdr_len, buf + pos, n);
			p->hdr_len += (uint8_t)n;
			pos += n;
			if (p->hdr_len < p->hdr_need)
				goto emit;
			if (!decode_rest(p, p->hdr, &f, &e))
				return fail_err(p, ev, &e, pos);
			apply(p, &f, p->hdr[0]);
			break;
		}

		case ST_DATA: {
			size_t n = p->frame_left < avail ? (size_t)p->frame_left : avail;
			uint8_t *src = buf + pos;
			if (out == NULL) {
				out = src;
				out_len = 0;
				out_start = !p->msg_begun;
			}
			/* In cache-sized steps: a large payload (a direct receive's chunk) is
			 * unmasked, moved and validated while it is still in the cache, not read
			 * from memory once per pass. */
			for (size_t done = 0; done < n;) {
				size_t k = n - done < DATA_STEP ? n - done : DATA_STEP;
				if (p->masked) {
					wr__unmask(src + done, k, p->mask, p->mask_phase);
					p->mask_phase = (uint8_t)((p->mask_phase + k) & 3);
				}
				if (out + out_len != src + done)
					memmove(out + out_len, src + done, k);
				if (p->msg_opcode == WR_OP_TEXT && !p->compressed &&
				    wr__utf8_feed(&p->utf8, out + out_len, k) < 0)
					return fail(p, ev, WR_CLOSE_INVALID_DATA, ERR_TEXT_UTF8,
					            pos + done + k);
				out_len += k;
				done += k;
			}
			pos += n;
			p->frame_left -= (uint32_t)n;
			p->msg_len += (uint32_t)n;
			if (p->frame_left > 0)
				goto emit; /* buffer exhausted mid-frame */
			p->state = ST_HDR;
			if (!p->fin) {
				if (out_len == 0)
					out = NULL; /* empty non-final frame: nothing to tell */
				break;
			}
			/* Final frame complete: the message ends here. */
			if (p->msg_opcode == WR_OP_TEXT && !p->compressed &&
			    wr__utf8_finish(&p->utf8) < 0)
				return fail(p, ev, WR_CLOSE_INVALID_DATA, ERR_TEXT_END, pos);
			ev->type = WR_WS_EV_DATA;
			ev->opcode = (wr_opcode)p->msg_opcode;
			ev->data = out;
			ev->len = out_len;
			ev->msg_start = out_start;
			ev->msg_end = true;
			ev->msg_len_hint = p->msg_len;
			ev->compressed = p->compressed;
			p->msg_opcode = 0;
			p->msg_begun = false;
			p->msg_len = 0;
			return pos;
		}

		case ST_CTRL: {
			/* Only reached with no DATA pending: joining stops at control headers. */
			if (p->ctrl_len == 0 && p->frame_left <= avail) {
				uint8_t *src = buf + pos;
				size_t n = (size_t)p->frame_left;
				if (p->masked)
					wr__unmask(src, n, p->mask, 0);
				p->frame_left = 0;
				return control_event(p, src, n, ev, pos + n);
			}
			if (!p->ctrl) {
				/* Split: the caller lends storage, then calls again from here. */
				ev->type = WR_WS_EV_NEED_CTRL;
				return pos;
			}
			size_t n = p->frame_left < avail ? (size_t)p->frame_left : avail;
			memcpy(p->ctrl + p->ctrl_len, buf + pos, n);
			p->ctrl_len += (uint8_t)n;
			p->frame_left -= n;
			pos += n;
			if (p->frame_left > 0)
				goto emit;
			if (p->masked)
				wr__unmask(p->ctrl, p->ctrl_len, p->mask, 0);
			return control_event(p, p->ctrl, p->ctrl_len, ev, pos);
		}

		default:
			return fail(p, ev, WR_CLOSE_INTERNAL_ERROR, ERR_STATE, pos);
		}
	}

emit:
	if (out != NULL && out_len > 0) {
		ev->type = WR_WS_EV_DATA;
		ev->opcode = (wr_opcode)p->msg_opcode;
		ev->data = out;
		ev->len = out_len;
		ev->msg_start = out_start;
		ev->msg_end = false;
		ev->msg_len_hint = (uint64_t)p->msg_len + p->frame_left;
		ev->compressed = p->compressed;
		p->msg_begun = true;
	}
	return pos;
}
