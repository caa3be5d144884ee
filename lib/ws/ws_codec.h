/* RFC 6455 framing: an incremental frame parser that enforces every framing rule and unmasks
 * in place, frame header and close payload encoders, close-code rules, the accept key, and the
 * opening-handshake checks of both sides. No I/O, no allocation. */
#ifndef WR_LIB_WS_CODEC_H
#define WR_LIB_WS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "wring/common.h"
#include "utf8.h"
#include "http_parse.h"

enum wr_ws_role { WR_WS_SERVER, WR_WS_CLIENT }; /* server: peer frames must be masked */

/* Message size limit when none is given (wr_server_config, wr_client_options), and the
 * largest one can give (the parser counts in 32 bits). */
#define WR_WS_DEFAULT_MAX_MSG ((uint64_t)16 << 20)
#define WR_WS_MAX_MSG ((uint64_t)UINT32_MAX)
/* Frames one message may come in when none is given (wr_server_config.max_message_frames,
 * wr_client_options): a 16 MiB message in fragments of 256 B on average. */
#define WR_WS_DEFAULT_MAX_FRAMES 65536u
/* Control frame payloads are at most this long (§5.5). */
#define WR_WS_CTRL_MAX 125u

enum wr_ws_ev_type {
	WR_WS_EV_NONE,    /* all input consumed, nothing to report: feed more */
	WR_WS_EV_DATA,    /* a piece of a text/binary message payload, unmasked in place */
	WR_WS_EV_CONTROL, /* a whole ping/pong/close frame */
	WR_WS_EV_ERROR,   /* the peer broke the protocol: fail the connection with close_code */
	WR_WS_EV_NEED_CTRL, /* a control frame's payload is split across calls and p->ctrl is
	                       NULL: point it at WR_WS_CTRL_MAX bytes that stay valid until the
	                       frame's CONTROL event, then call again with the rest */
};

typedef struct wr_ws_event {
	enum wr_ws_ev_type type;
	wr_opcode opcode;      /* DATA: the message's opcode (text/binary); CONTROL: the frame's */
	const uint8_t *data;   /* DATA: inside the caller's buffer; CONTROL: inside the buffer or the
	                          parser's own copy when the frame was split. Valid until the next
	                          call. */
	size_t len;
	bool msg_start;        /* DATA: first piece of the message */
	bool msg_end;          /* DATA: last piece (FIN frame's payload fully seen) */
	uint64_t msg_len_hint; /* DATA: message bytes known so far, this frame's announced rest
	                          included (to presize buffers) */
	int close_code;        /* CONTROL close: code received (1005 if none); ERROR: code to send */
	wr_str close_reason;   /* CONTROL close: reason (validated UTF-8) */
	const char *error;     /* ERROR: short static description for logs and on_close reasons */
	bool compressed;       /* DATA: the message had RSV1 (permessage-deflate): data is
	                          compressed, and its text is checked only once inflated */
} wr_ws_event;

typedef struct wr_ws_parser {
	uint8_t *ctrl;         /* lent storage for a split control payload (WR_WS_EV_NEED_CTRL) */
	uint32_t frame_left;   /* payload bytes of the current frame still to come */
	uint32_t msg_len;      /* bytes of the message so far */
	uint32_t max_msg;
	uint32_t msg_frames;   /* frames of the message so far */
	uint32_t max_frames;   /* frames a message may come in (close 1009 past it); 0: any */
	uint32_t frames;       /* frame headers taken in, all kinds (wraps): what the caller
	                          charges for them */
	wr_utf8 utf8;
	uint8_t hdr[14];       /* a header split across calls */
	uint8_t hdr_len, hdr_need;
	uint8_t mask[4];
	uint8_t opcode;        /* current frame */
	uint8_t msg_opcode;    /* message in progress (0: none) */
	uint8_t ctrl_len;
	uint8_t mask_phase;    /* key rotation of the next payload byte */
	uint8_t err;           /* why it failed (the state stays failed) */
	uint8_t role : 1;
	uint8_t state : 2;
	uint8_t fin : 1;
	uint8_t masked : 1;
	uint8_t msg_begun : 1; /* a DATA event with msg_start went out for the message */
	uint8_t deflate : 1;   /* permessage-deflate negotiated: RSV1 marks a compressed message */
	uint8_t compressed : 1; /* the message in progress is compressed */
	uint16_t err_code;     /* close code once failed */
} wr_ws_parser;

/* max_msg: message size limit (close 1009 past it); 0 = WR_WS_DEFAULT_MAX_MSG, at most
 * WR_WS_MAX_MSG (larger values are taken as it). ctrl is NULL
 * after init: set it once to storage of your own if lending it on demand is not worth it. */
void wr__ws_parser_init(wr_ws_parser *p, enum wr_ws_role role, uint64_t max_msg);
/* Consume from buf[0..len) (payload bytes are unmasked in place) until one event is ready.
 * Data frames of one message that follow each other whole in buf (no control frame between)
 * are joined into one DATA event: their payloads are moved together over the frame headers
 * in between, so a message that arrives whole gives one event with msg_start && msg_end.
 * An empty
 * non-final frame gives no event; an empty final one gives an empty DATA with msg_end.
 * Returns bytes consumed (0..len) and fills *ev; call again with the rest. After
 * WR_WS_EV_ERROR the parser stays failed. Rules: 64-bit length with MSB set, unmasked client
 * frame / masked server frame, RSV bits (RSV1 is allowed on the first frame of a data
 * message once p->deflate is set), reserved opcodes, control > 125 or fragmented,
 * continuation without a message, new message inside a fragmented one: 1002; message over
 * max_msg, or in more than max_frames frames (when set): 1009; invalid UTF-8 in text (as soon as seen) or close reason: 1007; bad close code
 * or a 1-byte close payload: 1002. */
size_t wr__ws_parse(wr_ws_parser *p, uint8_t *buf, size_t len, wr_ws_event *ev);
/* Payload bytes of the current text/binary/continuation frame still to come (0 outside one):
 * what a caller may receive elsewhere and then pass to wr__ws_parse as one piece, which is
 * then all payload (one DATA event at buf, or an error). */
uint32_t wr__ws_parse_data_left(const wr_ws_parser *p);

/* Frame header into out (2..14 bytes); mask NULL for unmasked (server) frames. */
size_t wr__ws_frame_header(uint8_t out[14], bool fin, wr_opcode op, uint64_t len,
                           const uint8_t *mask);
/* Close payload: 2-byte code + reason (truncated to 123 bytes at a UTF-8 boundary). code 0
 * writes an empty payload. Returns its length. */
size_t wr__ws_close_payload(uint8_t out[125], int code, const char *reason, size_t reason_len);
/* May a peer send this code in a close frame (RFC 6455 §7.4, IANA registry)? 1000-1003,
 * 1007-1011, 1012-1014, 3000-4999. */
bool wr__ws_close_code_valid(int code);
/* May the API user send it (same set)? */
#define wr__ws_close_code_sendable wr__ws_close_code_valid

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)), 28 chars + NUL. */
void wr__ws_accept_key(const char *key, size_t key_len, char out[29]);

/* Server side (§4.2.1): 0 if the request is a valid upgrade (then *out_key is the key),
 * 426 for a missing/other Sec-WebSocket-Version (answer with "Sec-WebSocket-Version: 13"),
 * 400 for any other defect (method not GET, HTTP/1.0, no Upgrade: websocket, Connection
 * without the upgrade token, key not 16 bytes of base64, no Host). */
int wr__ws_check_upgrade(const wr_http_req_head *h, wr_str *out_key);
/* Client side (§4.1): 0 if the answer accepts (status 101, Upgrade/Connection tokens, accept
 * key equal to expected_accept, subprotocol absent or one of those offered — NULL-terminated
 * list; *out_protocol is it or {NULL, 0}), else -EPROTO. Extensions: with deflate NULL (none
 * offered) any is a failure; else the answer is checked against that offer
 * (wr__pmd_client_check) and 1 is returned, with *out_pmd, when permessage-deflate was
 * accepted. */
struct wr_pmd_params;
int wr__ws_check_response(const wr_http_resp_head *h, const char *expected_accept,
                          const char *const *offered, const wr_deflate_config *deflate,
                          wr_str *out_protocol, struct wr_pmd_params *out_pmd);

#endif
