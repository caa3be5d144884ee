/* permessage-deflate under attack: the first byte picks a setting, the next ones are read
 * as an extension offer and answer (up to a NUL), the rest is a stream of server frames
 * with RSV1 allowed. Compressed messages are inflated in bounded steps under a 64 KiB limit
 * with UTF-8 checked on text; every verdict must come without a crash, a leak, or an output
 * buffer past the limit plus one byte. */
#include <stdlib.h>
#include <string.h>

#include "deflate.h"
#include "deflate_codec.h"
#include "ws_codec.h"

#define LIMIT (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	data++, size--;
	const uint8_t *nul = memchr(data, 0, size);
	size_t hl = nul ? (size_t)(nul - data) : size;
	wr_str v = { (const char *)data, hl };
	wr_deflate_config cfg = { .enable = true, .server_no_context_takeover = sel & 1,
	                          .client_no_context_takeover = sel & 2,
	                          .server_max_window_bits = (uint8_t)(8 + (sel >> 4 & 7)) };
	wr_pmd_params p;
	char line[WR_PMD_LINE_MAX];
	size_t n;
	if (wr__pmd_server_accept(&v, 1, &cfg, &p, line, &n) > 0 && (n >= sizeof(line) || p.server_bits < 8))
		abort();
	wr__pmd_client_check(&v, 1, &cfg, &p);
	wr__pmd_parse_params(v.data, v.len, &(wr_pmd_offer){ 0 });
	if (!nul)
		return 0;
	data += hl + 1;
	size -= hl + 1;

	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	wr_ws_parser ps;
	wr__ws_parser_init(&ps, WR_WS_CLIENT, 1u << 20);
	ps.deflate = 1;
	uint8_t ctrl[WR_WS_CTRL_MAX];
	ps.ctrl = ctrl;
	wr_zstream *z = wr__z_new(false, &(wr_zparams){ (uint8_t)(8 + (sel >> 4 & 7)), 6, 8, sel & 4 });
	wr_buf msg = { 0 };
	wr_utf8 u;
	size_t pos = 0;
	while (z && pos < size) {
		wr_ws_event ev;
		size_t used = wr__ws_parse(&ps, buf + pos, size - pos, &ev);
		pos += used;
		if (ev.type == WR_WS_EV_ERROR)
			break;
		if (ev.type == WR_WS_EV_DATA && ev.compressed) {
			if (ev.msg_start) {
				msg.len = 0;
				wr__utf8_init(&u);
			}
			int rc = wr__z_inflate(z, ev.data, ev.len, ev.msg_end, &msg, LIMIT,
			                       ev.opcode == WR_OP_TEXT ? &u : NULL);
			if (msg.cap > LIMIT + 1 && msg.cap > 4096)
				abort(); /* grown past the limit: what a bomb must never get */
			if (rc < 0)
				break;
		}
		if (!used && ev.type == WR_WS_EV_NONE)
			break;
	}
	wr__buf_free(&msg);
	wr__z_free(z);
	free(buf);
	return 0;
}
