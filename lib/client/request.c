/* The client's upgrade request and key, for both clients. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "rand.h"
#include "request.h"
#include "deflate_codec.h"
#include "ws_codec.h"

static bool header_line_ok(const char *s)
{
	const char *colon = strchr(s, ':');
	if (!colon || colon == s)
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '\r' || *p == '\n')
			return false;
	return true;
}

int wr__client_request(const wr_url *u, const wr_client_options *o, wr_buf *out,
                       char ***out_protocols)
{
	char port[8];
	char **protos = NULL;
	bool default_port = u->port == (u->tls ? 443 : 80);
	int rc;

	snprintf(port, sizeof(port), "%u", u->port);
	/* Appended piece by piece: the resource may be up to the URL limit (8 KiB). */
	rc = wr__buf_append(out, "GET ", 4);
	if (rc == 0)
		rc = wr__buf_append(out, u->resource.data, u->resource.len);
	if (rc == 0)
		rc = wr__buf_append(out, " HTTP/1.1\r\nHost: ", 17);
	if (rc == 0 && u->ipv6)
		rc = wr__buf_append(out, "[", 1);
	if (rc == 0)
		rc = wr__buf_append(out, u->host.data, u->host.len);
	if (rc == 0 && u->ipv6)
		rc = wr__buf_append(out, "]", 1);
	if (rc == 0 && !default_port)
		rc = wr__buf_append(out, ":", 1) ?: wr__buf_append(out, port, strlen(port));
	static const char fixed[] = "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                            "Sec-WebSocket-Version: 13\r\n";
	if (rc == 0)
		rc = wr__buf_append(out, fixed, sizeof(fixed) - 1);
	if (o && o->headers)
		for (const char *const *hp = o->headers; *hp && rc == 0; hp++) {
			if (!header_line_ok(*hp)) {
				rc = -EINVAL;
				break;
			}
			rc = wr__buf_append(out, *hp, strlen(*hp));
			if (rc == 0)
				rc = wr__buf_append(out, "\r\n", 2);
		}
	if (o && o->deflate.enable && rc == 0) {
		char line[WR_PMD_LINE_MAX];
		size_t n = wr__pmd_client_offer(&o->deflate, line);
		rc = wr__buf_append(out, line, n);
	}
	if (o && o->protocols && o->protocols[0] && rc == 0) {
		size_t np = 0;
		while (o->protocols[np])
			np++;
		protos = calloc(np + 1, sizeof(char *));
		rc = protos ? wr__buf_append(out, "Sec-WebSocket-Protocol: ", 24) : -ENOMEM;
		for (size_t i = 0; i < np && rc == 0; i++) {
			const char *p = o->protocols[i];
			if (!*p || strpbrk(p, " ,\r\n\t")) {
				rc = -EINVAL;
				break;
			}
			protos[i] = strdup(p);
			if (!protos[i])
				rc = -ENOMEM;
			else
				rc = wr__buf_append(out, i ? ", " : "", i ? 2 : 0) ?: wr__buf_append(out, p, strlen(p));
		}
		if (rc == 0)
			rc = wr__buf_append(out, "\r\n", 2);
	}
	if (rc < 0) {
		wr__client_protocols_free(protos);
		return rc;
	}
	*out_protocols = protos;
	return 0;
}

void wr__client_protocols_free(char **protos)
{
	if (!protos)
		return;
	for (char **p = protos; *p; p++)
		free(*p);
	free(protos);
}

size_t wr__client_key(uint64_t *rng, char key_line[64], char accept[29])
{
	uint8_t raw[16];
	for (int i = 0; i < 2; i++) {
		uint64_t x = wr__rand_next(rng);
		memcpy(raw + 8 * i, &x, 8);
	}
	char key[25];
	wr__base64_encode(raw, 16, key);
	wr__ws_accept_key(key, 24, accept);
	return (size_t)snprintf(key_line, 64, "Sec-WebSocket-Key: %s\r\n\r\n", key);
}
