/* libFuzzer: the frame parser in both roles, whole and in pieces; every event must point
 * inside the input or the parser's own control buffer, and pieces must give the same verdict. */
#include <stdlib.h>
#include <string.h>

#include "ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run(enum wr_ws_role role, uint8_t *buf, size_t n, size_t chunk, uint64_t *out_bytes)
{
	wr_ws_parser p;
	uint8_t ctrl[WR_WS_CTRL_MAX];
	wr__ws_parser_init(&p, role, 4096);
	size_t off = 0;
	uint64_t bytes = 0;
	while (off < n) {
		size_t len = n - off < chunk ? n - off : chunk;
		uint8_t *piece = malloc(len);
		memcpy(piece, buf + off, len);
		size_t at = 0;
		while (at < len) {
			wr_ws_event ev;
			size_t used = wr__ws_parse(&p, piece + at, len - at, &ev);
			if (used > len - at)
				abort();
			if (ev.type == WR_WS_EV_DATA) {
				bool in_piece = ev.data >= piece && ev.data + ev.len <= piece + len;
				if (ev.len && !in_piece)
					abort();
				bytes += ev.len;
			}
			if (ev.type == WR_WS_EV_NEED_CTRL) {
				if (p.ctrl)
					abort(); /* storage is asked for once */
				p.ctrl = ctrl;
			}
			if (ev.type == WR_WS_EV_CONTROL && ev.len > 125)
				abort();
			if (ev.type == WR_WS_EV_ERROR) {
				free(piece);
				*out_bytes = bytes;
				return ev.close_code;
			}
			at += used;
			if (used == 0 && ev.type == WR_WS_EV_NONE)
				break;
		}
		free(piece);
		off += len;
	}
	*out_bytes = bytes;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1;
	enum wr_ws_role role = data[1] & 1 ? WR_WS_CLIENT : WR_WS_SERVER;
	size_t n = size - 2;
	uint8_t *a = malloc(n + 1), *b = malloc(n + 1);
	memcpy(a, data + 2, n);
	memcpy(b, data + 2, n);
	uint64_t ba, bb;
	int whole = run(role, a, n, n ? n : 1, &ba);
	int pieces = run(role, b, n, chunk, &bb);
	/* The same verdict whatever the chunking (payload counts may differ only on error, where
	 * pieces can fail a little earlier or later within the same frame). */
	if (whole != pieces || (!whole && ba != bb))
		abort();
	free(a);
	free(b);
	return 0;
}
