/* RFC 6455 frame header and close payload encoders, and the close-code rules (§7.4 and the
 * IANA "WebSocket Close Code Number Registry"). */
#include <string.h>

#include "ws_codec.h"

size_t wr__ws_frame_header(uint8_t out[14], bool fin, wr_opcode op, uint64_t len,
                           const uint8_t *mask)
{
	size_t n = 2;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | (op & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)len;
	} else if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] = 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	if (mask != NULL) {
		out[1] |= 0x80;
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

size_t wr__ws_close_payload(uint8_t out[125], int code, const char *reason, size_t reason_len)
{
	if (code == 0)
		return 0;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	if (reason == NULL)
		reason_len = 0;
	if (reason_len > 123) {
		/* Cut before the character that would straddle the limit: back up over
		 * continuation bytes (10xxxxxx) to the lead byte of that character. */
		reason_len = 123;
		while (reason_len > 0 && ((uint8_t)reason[reason_len] & 0xc0) == 0x80)
			reason_len--;
	}
	if (reason_len > 0)
		memcpy(out + 2, reason, reason_len);
	return 2 + reason_len;
}

bool wr__ws_close_code_valid(int code)
{
	if (code >= 3000 && code <= 4999)
		return true; /* libraries/frameworks (3000-3999) and private use (4000-4999) */
	if (code >= 1000 && code <= 1003)
		return true;
	/* 1004 reserved, 1005/1006 are reported locally only, 1015 is for TLS failures and
	 * must never be sent. */
	return code >= 1007 && code <= 1014;
}
