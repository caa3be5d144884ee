/* Base64 (RFC 4648 §4) with padding. Decoding is strict: the handshake key is the only input
 * and a peer that sends anything but canonical base64 is broken, so whitespace, missing or
 * misplaced padding and non-zero pad bits (§3.5) are all rejected. */
#include <errno.h>
#include "base64.h"

static const char alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t wr__base64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* The 6-bit value of c, or -1. */
static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t wr__base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	if (len % 4 != 0)
		return -EBADMSG;
	if (len == 0)
		return 0;
	size_t pad = in[len - 1] == '=' ? (in[len - 2] == '=' ? 2 : 1) : 0;
	size_t need = len / 4 * 3 - pad;

	/* Validate everything before writing: out is untouched on failure. */
	for (size_t i = 0; i < len - pad; i++)
		if (sextet(in[i]) < 0)
			return -EBADMSG;
	if (pad) {
		int last = sextet(in[len - pad - 1]);
		if ((pad == 1 && (last & 0x3)) || (pad == 2 && (last & 0xf)))
			return -EBADMSG;
	}
	if (need > cap)
		return -ENOSPC;

	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = 0;
		for (int j = 0; j < 4; j++) {
			char c = in[i + j];
			v = v << 6 | (c == '=' ? 0 : (uint32_t)sextet(c));
		}
		out[o++] = (uint8_t)(v >> 16);
		if (o < need)
			out[o++] = (uint8_t)(v >> 8);
		if (o < need)
			out[o++] = (uint8_t)v;
	}
	return (ssize_t)need;
}
