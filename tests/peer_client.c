/* Drives the blocking client against another implementation's echo server (interop scripts).
 *
 * Usage: peer_client [-p protocol] [-H "Name: value"]... URL OP...
 *   t:N        send N bytes of ASCII text, expect the same text back
 *   u:N        send N copies of a 10-byte UTF-8 string (2-, 3- and 4-byte characters)
 *   b:N        send N bytes of binary, expect the same back
 *   ping       ping (the pong must pass silently), then a small echo
 *   recv:TEXT  expect a text message equal to TEXT
 *   close:C    close with code C; the peer must echo C
 *   closed:C[:REASON]  expect the peer to close with C (and REASON)
 *   proto:P    the negotiated subprotocol must be P ("" for none)
 *   deflate:0|1  permessage-deflate was (1) or was not (0) negotiated
 * -z SETTING offers permessage-deflate: "on", "nct" (no context takeover both ways), or
 *            "bits:N" (both max window bits N)
 * Exits 0 when every step passed, 1 (with a message on stderr) otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wring.h>

#define MAX_HEADERS 8

static int fail(const char *step, const char *what)
{
	fprintf(stderr, "peer_client: %s: %s\n", step, what);
	return 1;
}

static int echo(wr_client *c, const char *step, const uint8_t *p, size_t n, wr_opcode op)
{
	int rc = wr_client_send(c, p, n, op);
	if (rc < 0)
		return fail(step, wr_strerror(rc));
	wr_msg m;
	rc = wr_client_read(c, &m);
	if (rc < 0)
		return fail(step, wr_strerror(rc));
	if (rc == 0) {
		fprintf(stderr, "peer_client: %s: closed with %d\n", step, wr_client_close_code(c));
		return 1;
	}
	if (rc != (int)op)
		return fail(step, "echo came back with another opcode");
	if (m.len != n) {
		fprintf(stderr, "peer_client: %s: sent %zu bytes, got %zu\n", step, n, m.len);
		return 1;
	}
	if (n && memcmp(m.data, p, n) != 0)
		return fail(step, "echo differs");
	return 0;
}

static int run_op(wr_client *c, const char *op, uint8_t *buf, size_t cap)
{
	char kind[16] = "";
	const char *arg = strchr(op, ':');
	size_t kl = arg ? (size_t)(arg - op) : strlen(op);
	if (kl >= sizeof(kind))
		return fail(op, "unknown step");
	memcpy(kind, op, kl);
	arg = arg ? arg + 1 : "";

	if (!strcmp(kind, "t") || !strcmp(kind, "b") || !strcmp(kind, "u")) {
		size_t n = strtoull(arg, NULL, 10);
		static const char u8[] = "h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
		if (kind[0] == 'u')
			n *= 10;
		if (n > cap)
			return fail(op, "too large");
		for (size_t i = 0; i < n; i++)
			buf[i] = kind[0] == 't' ? (uint8_t)('a' + i % 26)
			       : kind[0] == 'u' ? (uint8_t)u8[i % 10]
			                        : (uint8_t)(i * 31 + (i >> 8));
		return echo(c, op, buf, n, kind[0] == 'b' ? WR_OP_BINARY : WR_OP_TEXT);
	}
	if (!strcmp(kind, "ping")) {
		int rc = wr_client_ping(c, "are you there", 13);
		if (rc < 0)
			return fail(op, wr_strerror(rc));
		return echo(c, op, (const uint8_t *)"after ping", 10, WR_OP_TEXT);
	}
	if (!strcmp(kind, "recv")) {
		wr_msg m;
		int rc = wr_client_read(c, &m);
		if (rc != WR_OP_TEXT)
			return fail(op, rc < 0 ? wr_strerror(rc) : "no text message");
		if (m.len != strlen(arg) || memcmp(m.data, arg, m.len) != 0) {
			fprintf(stderr, "peer_client: %s: got '%.*s'\n", op, (int)m.len, m.data);
			return 1;
		}
		return 0;
	}
	if (!strcmp(kind, "close")) {
		int code = atoi(arg);
		int rc = wr_client_close(c, code, "client closing");
		if (rc < 0)
			return fail(op, wr_strerror(rc));
		if (wr_client_close_code(c) != code) {
			fprintf(stderr, "peer_client: %s: peer answered %d\n", op,
			        wr_client_close_code(c));
			return 1;
		}
		return 0;
	}
	if (!strcmp(kind, "closed")) {
		wr_msg m;
		int rc = wr_client_read(c, &m);
		if (rc != 0)
			return fail(op, rc < 0 ? wr_strerror(rc) : "a message instead of the close");
		const char *reason = strchr(arg, ':');
		int code = atoi(arg);
		wr_str r = wr_client_close_reason(c);
		if (wr_client_close_code(c) != code ||
		    (reason && (r.len != strlen(reason + 1) || memcmp(r.data, reason + 1, r.len)))) {
			fprintf(stderr, "peer_client: %s: closed with %d '%.*s'\n", op,
			        wr_client_close_code(c), (int)r.len, r.data ? r.data : "");
			return 1;
		}
		return 0;
	}
	if (!strcmp(kind, "deflate")) {
		if (wr_client_deflate(c) != (atoi(arg) != 0))
			return fail(op, wr_client_deflate(c) ? "negotiated" : "not negotiated");
		return 0;
	}
	if (!strcmp(kind, "proto")) {
		wr_str p = wr_client_protocol(c);
		if (p.len != strlen(arg) || (p.len && memcmp(p.data, arg, p.len))) {
			fprintf(stderr, "peer_client: %s: negotiated '%.*s'\n", op, (int)p.len,
			        p.data ? p.data : "");
			return 1;
		}
		return 0;
	}
	return fail(op, "unknown step");
}

int main(int argc, char **argv)
{
	const char *headers[MAX_HEADERS + 1] = { NULL };
	const char *protocols[2] = { NULL, NULL };
	size_t nh = 0;
	const char *zopt = NULL;
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "-H") && nh < MAX_HEADERS)
			headers[nh++] = argv[i + 1];
		else if (!strcmp(argv[i], "-p"))
			protocols[0] = argv[i + 1];
		else if (!strcmp(argv[i], "-z"))
			zopt = argv[i + 1];
		else
			return fail(argv[i], "unknown option");
	}
	if (i >= argc)
		return fail("usage", "peer_client [-p proto] [-H header]... URL OP...");
	const char *url = argv[i++];
	wr_client_options o = {
		.headers = headers,
		.protocols = protocols,
		.max_message_bytes = 32u << 20,
		.read_timeout_ms = 20000,
		.connect_timeout_ms = 5000,
		.handshake_timeout_ms = 5000,
	};
	if (zopt) {
		bool nct = !strcmp(zopt, "nct");
		uint8_t bits = !strncmp(zopt, "bits:", 5) ? (uint8_t)atoi(zopt + 5) : 0;
		o.deflate = (wr_deflate_config){ .enable = true, .server_no_context_takeover = nct,
		                                 .client_no_context_takeover = nct,
		                                 .server_max_window_bits = bits,
		                                 .client_max_window_bits = bits, .threshold = 1 };
	}
	wr_client_err err;
	wr_client *c = wr_client_connect(url, &o, &err);
	if (!c) {
		fprintf(stderr, "peer_client: connect %s: %s (HTTP %d)\n", url, wr_strerror(err.code),
		        err.http_status);
		return 1;
	}
	size_t cap = 17u << 20;
	uint8_t *buf = malloc(cap);
	int rc = buf ? 0 : fail("setup", "out of memory");
	for (; i < argc && rc == 0; i++)
		rc = run_op(c, argv[i], buf, cap);
	free(buf);
	wr_client_free(c);
	return rc;
}
