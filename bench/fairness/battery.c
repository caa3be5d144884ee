/* battery: the rest of the hostile battery of bench/fairness (flood.c has the floods), on raw
 * sockets. Each scenario attacks an echo server on 127.0.0.1 and checks the reaction the RFCs
 * prescribe on every connection; everything is bounded in connections, count and seconds.
 *
 *   battery SCENARIO PORT CONNS SECS
 *
 *   slowloris   CONNS connections trickle a request head, a byte every 200 ms: each must be
 *               closed by the server (its handshake timeout) before SECS
 *   bighead     request heads of 64 KiB, CONNS at a time, again and again for SECS: 431
 *   garbage-pre random bytes instead of a request: 400 (or a close without an answer)
 *   garbage-post random bytes after the handshake: a Close frame with 1002 (1007 or 1009 when
 *               the bytes happened to make a text frame or a huge length), then the close
 *   violations  one RFC 6455 violation per connection, cycling through 12 kinds, each with
 *               the code §5 / §7.4 prescribes (1002, or 1007 for bad UTF-8)
 *   absurd      declared lengths no server can hold: a frame of 2^62 and of 2^40 bytes (1009)
 *               and a POST with Content-Length 99999999999999 (413)
 *   fragments   CONNS connections each open a message and send 1-byte continuation frames
 *               for SECS: none may be closed with anything but 1009 (message too big)
 *   fragmsgs    CONNS connections send messages of 4,000 1-byte fragments each (under the
 *               server's limit on frames per message, 65536), again and again for SECS,
 *               reading and dropping the echoes: none may be closed
 *   churn       CONNS cycles of connect, handshake, close (alternately with a Close frame and
 *               a bare close), 8 at a time: every handshake must succeed
 *   halfopen    CONNS connections do the handshake then shut their sending side: the server
 *               must close each (its Close frame or EOF) before SECS; and as many TCP
 *               connections that never send: closed by the handshake timeout before SECS
 *
 * It prints one line, "battery SCENARIO: PASS|FAIL ..." with what was seen, and exits 0 on
 * PASS, 1 on FAIL, 2 on bad arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

static int port;

static int tcp(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

static const char upgrade[] = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";

/* A WebSocket connection: the 101 read byte by byte, so that nothing after it is taken. */
static int ws_open(void)
{
	int fd = tcp();
	if (fd < 0)
		return -1;
	if (!send_all(fd, upgrade, sizeof(upgrade) - 1))
		goto fail;
	char head[1024];
	size_t n = 0;
	while (n < sizeof(head) - 1) {
		if (read(fd, head + n, 1) != 1)
			goto fail;
		n++;
		if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4))
			break;
	}
	head[n] = 0;
	if (strncmp(head, "HTTP/1.1 101", 12) != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* A client frame header: b0 is FIN/RSV/opcode as sent, len as declared, masked with a zero
 * key unless unmasked (the payload then goes as it is). */
static size_t hdr(uint8_t *out, uint8_t b0, uint64_t len, bool masked)
{
	size_t h = 0;
	uint8_t m = masked ? 0x80 : 0;
	out[h++] = b0;
	if (len < 126) {
		out[h++] = m | (uint8_t)len;
	} else if (len < 65536) {
		out[h++] = m | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = m | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)(len >> (8 * i));
	}
	if (masked) {
		memset(out + h, 0, 4);
		h += 4;
	}
	return h;
}

/* Read server frames until a Close frame (its code, 1005 when it has none) or the end of the
 * stream (0) or the time runs out (-1). */
static int close_code(int fd, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	static uint8_t buf[1 << 16];
	size_t have = 0;
	for (;;) {
		int left = (int)(end - now_ms());
		if (left <= 0)
			return -1;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, left) <= 0)
			continue;
		ssize_t r = read(fd, buf + have, sizeof(buf) - have);
		if (r <= 0)
			return r == 0 || errno == ECONNRESET ? 0 : -1;
		have += (size_t)r;
		for (;;) { /* whole frames at the front */
			if (have < 2)
				break;
			uint64_t len = buf[1] & 0x7f;
			size_t h = 2;
			if (len == 126) {
				if (have < 4)
					break;
				len = (uint64_t)buf[2] << 8 | buf[3];
				h = 4;
			} else if (len == 127) {
				if (have < 10)
					break;
				len = 0;
				for (int i = 0; i < 8; i++)
					len = len << 8 | buf[2 + i];
				h = 10;
			}
			if ((buf[0] & 0x0f) == 8) {
				if (have < h + (len >= 2 ? 2 : len))
					break;
				return len >= 2 ? buf[h] << 8 | buf[h + 1] : 1005;
			}
			if (h + len > have) {
				if (h + len > sizeof(buf)) /* a big data frame: not what we wait for */
					have = 0;
				break;
			}
			memmove(buf, buf + h + len, have - h - len);
			have -= h + len;
		}
	}
}

/* The HTTP status of the answer, 0 when the server closed without one, -1 on timeout. */
static int http_status(int fd)
{
	char b[256];
	ssize_t n = read(fd, b, sizeof(b) - 1);
	if (n < 0)
		return errno == ECONNRESET ? 0 : -1;
	if (n == 0)
		return 0;
	b[n] = 0;
	int st = 0;
	return sscanf(b, "HTTP/1.1 %d", &st) == 1 ? st : -2;
}

/* Did the server close fd (EOF or reset, anything it sent before ignored) within ms? */
static bool closed_by_server(int fd, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	char b[4096];
	for (;;) {
		int left = (int)(end - now_ms());
		if (left <= 0)
			return false;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, left) <= 0)
			continue;
		ssize_t r = read(fd, b, sizeof(b));
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return true;
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return false;
	}
}

static int slowloris(unsigned conns, unsigned secs)
{
	int *fd = calloc(conns, sizeof(*fd));
	uint64_t end = now_ms() + secs * 1000u;
	unsigned open = 0, closed = 0;
	for (unsigned i = 0; i < conns; i++) {
		fd[i] = tcp();
		if (fd[i] >= 0) {
			open++;
			fcntl(fd[i], F_SETFL, O_NONBLOCK);
		}
	}
	static const char trickle[] = "GET /ws HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	size_t pos = 0;
	while (closed < open && now_ms() < end) {
		for (unsigned i = 0; i < conns; i++) {
			if (fd[i] < 0)
				continue;
			char c = pos < sizeof(trickle) - 1 ? trickle[pos] : 'a';
			ssize_t w = send(fd[i], &c, 1, MSG_NOSIGNAL);
			char b[512];
			ssize_t r = read(fd[i], b, sizeof(b));
			if ((w < 0 && errno != EAGAIN) || r == 0 || (r < 0 && errno == ECONNRESET)) {
				close(fd[i]);
				fd[i] = -1;
				closed++;
			}
		}
		pos++;
		usleep(200 * 1000);
	}
	for (unsigned i = 0; i < conns; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	free(fd);
	bool ok = open == conns && closed == open;
	printf("battery slowloris: %s: %u of %u trickling connections closed by the server in %u s\n",
	       ok ? "PASS" : "FAIL", closed, open, secs);
	return ok ? 0 : 1;
}

/* Requests that must each get one status, over and over for secs. */
static int one_status(const char *name, const void *req, size_t len, int want, int alt,
                      unsigned conns, unsigned secs)
{
	uint64_t end = now_ms() + secs * 1000u;
	unsigned n = 0, good = 0, answered = 0, other = 0;
	int seen_other = 0;
	while (now_ms() < end) {
		int fd[64];
		unsigned k = conns < 64 ? conns : 64;
		for (unsigned i = 0; i < k; i++) {
			fd[i] = tcp();
			if (fd[i] >= 0)
				send_all(fd[i], req, len);
		}
		for (unsigned i = 0; i < k; i++) {
			n++;
			int st = fd[i] >= 0 ? http_status(fd[i]) : -3;
			answered += st == want;
			if (st == want || (alt >= 0 && st == alt))
				good++;
			else
				other++, seen_other = st;
			if (fd[i] >= 0)
				close(fd[i]);
		}
	}
	bool ok = n && good == n;
	printf("battery %s: %s: %u of %u requests answered %d", name, ok ? "PASS" : "FAIL", answered,
	       n, want);
	if (alt == 0)
		printf(", %u closed before we read an answer", good - answered);
	if (other)
		printf(" (%u others, e.g. %d)", other, seen_other);
	printf("\n");
	return ok ? 0 : 1;
}

static int bighead(unsigned conns, unsigned secs)
{
	size_t cap = 70 * 1024, n = 0;
	char *req = malloc(cap);
	n += (size_t)sprintf(req, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n");
	for (int i = 0; n < 64 * 1024; i++)
		n += (size_t)sprintf(req + n, "X-Pad-%05d: %0100d\r\n", i, 0);
	n += (size_t)sprintf(req + n, "\r\n");
	/* The server may answer before it read all of it: then the close can reset what we
	 * still send, which is a close without an answer from here. */
	int rc = one_status("bighead", req, n, 431, 0, conns, secs);
	free(req);
	return rc;
}

static int garbage_pre(unsigned conns, unsigned secs)
{
	static uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rnd();
	junk[0] = 0x16; /* not a method's first byte (a TLS record, as a confused client sends) */
	return one_status("garbage-pre", junk, sizeof(junk), 400, 0, conns, secs);
}

/* 1 when connection i's close code is one of allowed (0-ended); else 0, and the code is
 * noted in bad (as far as it goes). */
static unsigned tally(int code, const int *allowed, unsigned i, char *bad, size_t size, size_t *bl)
{
	for (const int *a = allowed; *a; a++)
		if (code == *a)
			return 1;
	if (*bl < 200)
		*bl += (size_t)snprintf(bad + *bl, size - *bl, " #%u:%d", i, code);
	return 0;
}

/* ws connections, one payload each, the Close code checked against an allowed set. */
static int per_conn(const char *name, unsigned conns, unsigned secs,
                    size_t (*make)(unsigned i, uint8_t *out, const int **allowed))
{
	uint64_t end = now_ms() + secs * 1000u;
	unsigned n = 0, good = 0;
	static uint8_t out[1 << 16];
	char bad[256] = "";
	size_t bl = 0;
	for (unsigned i = 0; i < conns && now_ms() < end; i++) {
		int fd = ws_open();
		n++;
		if (fd < 0) {
			bl += (size_t)snprintf(bad + bl, sizeof(bad) - bl, bl < 200 ? " #%u:no-101" : "", i);
			continue;
		}
		const int *allowed;
		size_t len = make(i, out, &allowed);
		send_all(fd, out, len);
		int code = close_code(fd, 5000);
		good += tally(code, allowed, i, bad, sizeof(bad), &bl);
		close(fd);
	}
	bool ok = n == conns && good == n;
	printf("battery %s: %s: %u of %u connections closed with the prescribed code%s%s\n", name,
	       ok ? "PASS" : "FAIL", good, n, bl ? "; not:" : "", bad);
	return ok ? 0 : 1;
}

static const int c1002[] = { 1002, 0 };
static const int c1007[] = { 1007, 0 };
static const int c1009[] = { 1009, 0 };
static const int cgarbage[] = { 1002, 1007, 1009, 0 };

/* Random bytes after the handshake, 4 KiB and then more until the server closes: a random
 * header may declare a payload the server rightly waits for (up to the 16 MiB message limit),
 * so up to 20 MiB are sent. */
static int garbage_post(unsigned conns, unsigned secs)
{
	uint64_t end = now_ms() + secs * 1000u;
	unsigned n = 0, good = 0;
	static uint8_t junk[1 << 16];
	char bad[256] = "";
	size_t bl = 0;
	for (unsigned i = 0; i < conns && now_ms() < end; i++) {
		int fd = ws_open();
		n++;
		if (fd < 0)
			continue;
		int code = -1;
		for (size_t sent = 0, chunk = 4096; sent < (20u << 20) && code == -1; sent += chunk) {
			for (size_t k = 0; k < chunk; k++)
				junk[k] = (uint8_t)rnd();
			if (!send_all(fd, junk, chunk)) {
				code = close_code(fd, 2000);
				break;
			}
			code = close_code(fd, sent ? 20 : 500);
			chunk = sizeof(junk);
		}
		good += tally(code, cgarbage, i, bad, sizeof(bad), &bl);
		close(fd);
	}
	bool ok = n == conns && good == n;
	printf("battery garbage-post: %s: %u of %u connections closed with 1002/1007/1009%s%s\n",
	       ok ? "PASS" : "FAIL", good, n, bl ? "; not:" : "", bad);
	return ok ? 0 : 1;
}

/* One violation per connection (RFC 6455 §5.1-5.6, §7.4.1, §8.1). */
static size_t make_violation(unsigned i, uint8_t *out, const int **allowed)
{
	size_t h;
	*allowed = c1002;
	switch (i % 12) {
	case 0: /* a client frame without a mask (§5.1) */
		h = hdr(out, 0x82, 4, false);
		memcpy(out + h, "abcd", 4);
		return h + 4;
	case 1: /* reserved data opcode 0x3 (§5.2) */
		return hdr(out, 0x83, 0, true);
	case 2: /* reserved control opcode 0xB */
		return hdr(out, 0x8b, 0, true);
	case 3: /* RSV1 without a negotiated extension */
		return hdr(out, 0xc2, 0, true);
	case 4: /* a control frame with more than 125 bytes (§5.5) */
		h = hdr(out, 0x89, 126, true);
		memset(out + h, 'p', 126);
		return h + 126;
	case 5: /* a fragmented control frame */
		return hdr(out, 0x09, 0, true);
	case 6: /* a continuation with no message begun (§5.4) */
		return hdr(out, 0x80, 0, true);
	case 7: /* a new data frame inside a fragmented message */
		h = hdr(out, 0x02, 1, true);
		out[h++] = 'a';
		return h + hdr(out + h, 0x82, 0, true);
	case 8: /* a Close frame with a 1-byte body (§5.5.1) */
		h = hdr(out, 0x88, 1, true);
		out[h] = 3;
		return h + 1;
	case 9: /* a Close with a code that must not be sent (1005, §7.4.1) */
		h = hdr(out, 0x88, 2, true);
		out[h] = 1005 >> 8, out[h + 1] = 1005 & 0xff;
		return h + 2;
	case 10: /* a 64-bit length with its most significant bit set (§5.2) */
		out[0] = 0x82, out[1] = 0x80 | 127;
		memset(out + 2, 0xff, 8);
		memset(out + 10, 0, 4);
		return 14;
	default: /* invalid UTF-8 in a text frame (§8.1): 1007 */
		*allowed = c1007;
		h = hdr(out, 0x81, 4, true);
		memcpy(out + h, "a\xc0\xaf" "b", 4);
		return h + 4;
	}
}

static size_t make_absurd(unsigned i, uint8_t *out, const int **allowed)
{
	*allowed = c1009;
	return hdr(out, 0x82, i % 2 ? (uint64_t)1 << 40 : (uint64_t)1 << 62, true);
}

static int absurd(unsigned conns, unsigned secs)
{
	int rc = per_conn("absurd", conns, secs, make_absurd);
	static const char post[] = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                           "Content-Length: 99999999999999\r\n\r\n";
	rc |= one_status("absurd-content-length", post, sizeof(post) - 1, 413, -1, conns, 1);
	return rc;
}

/* Closes the connections still open and frees their array. */
static void close_all(int *fd, unsigned conns)
{
	for (unsigned i = 0; i < conns; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	free(fd);
}

static int fragments(unsigned conns, unsigned secs)
{
	int *fd = calloc(conns, sizeof(*fd));
	unsigned open = 0, bad = 0, c1009n = 0;
	uint64_t sent = 0;
	for (unsigned i = 0; i < conns; i++) {
		fd[i] = ws_open();
		if (fd[i] < 0)
			continue;
		open++;
		uint8_t f[8];
		size_t h = hdr(f, 0x02, 1, true);
		f[h++] = 'x';
		send_all(fd[i], f, h);
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
	}
	/* A batch of 1-byte continuation frames, again and again. */
	static uint8_t batch[7 * 512];
	for (size_t k = 0; k < 512; k++) {
		size_t h = hdr(batch + 7 * k, 0x00, 1, true);
		batch[7 * k + h] = 'x';
	}
	uint64_t end = now_ms() + secs * 1000u;
	size_t *off = calloc(conns, sizeof(*off));
	while (now_ms() < end) {
		unsigned live = 0;
		for (unsigned i = 0; i < conns; i++) {
			if (fd[i] < 0)
				continue;
			live++;
			ssize_t w = send(fd[i], batch + off[i], sizeof(batch) - off[i], MSG_NOSIGNAL);
			if (w > 0) {
				off[i] = (off[i] + (size_t)w) % sizeof(batch);
				sent += (uint64_t)w;
			}
			char b[64];
			ssize_t r = read(fd[i], b, sizeof(b));
			if ((w < 0 && errno != EAGAIN) || r == 0 || (r > 0)) {
				/* the server spoke (its Close) or closed: which code? */
				fcntl(fd[i], F_SETFL, 0);
				int code = r > 0 && (b[0] & 0x0f) == 8 && r >= 4 ? (uint8_t)b[2] << 8 | (uint8_t)b[3]
				         : close_code(fd[i], 2000);
				if (code == 1009)
					c1009n++;
				else
					bad++;
				close(fd[i]);
				fd[i] = -1;
			}
		}
		if (!live)
			break;
		usleep(1000);
	}
	close_all(fd, conns);
	free(off);
	bool ok = open == conns && bad == 0;
	printf("battery fragments: %s: %u connections, %.1f MiB of 1-byte fragments, %u closed with "
	       "1009, %u otherwise\n", ok ? "PASS" : "FAIL", open, (double)sent / (1 << 20), c1009n, bad);
	return ok ? 0 : 1;
}

/* Fragmented messages that each end before the frames-per-message limit: only the turn's
 * fair shares (a frame counts as much as 128 bytes) keep them from crowding others out. */
static int fragmsgs(unsigned conns, unsigned secs)
{
	enum { FRAMES = 4000 };
	static uint8_t msg[FRAMES * 7];
	size_t len = 0;
	for (unsigned k = 0; k < FRAMES; k++) {
		len += hdr(msg + len, (uint8_t)((k == FRAMES - 1 ? 0x80 : 0) | (k ? 0x00 : 0x02)), 1, true);
		msg[len++] = 'x';
	}
	int *fd = calloc(conns, sizeof(*fd));
	size_t *off = calloc(conns, sizeof(*off));
	unsigned open = 0, closed = 0;
	uint64_t sent = 0, echoed = 0;
	for (unsigned i = 0; i < conns; i++) {
		fd[i] = ws_open();
		if (fd[i] < 0)
			continue;
		open++;
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
	}
	uint64_t end = now_ms() + secs * 1000u;
	while (now_ms() < end) {
		unsigned live = 0;
		for (unsigned i = 0; i < conns; i++) {
			if (fd[i] < 0)
				continue;
			live++;
			ssize_t w = send(fd[i], msg + off[i], len - off[i], MSG_NOSIGNAL);
			if (w > 0) {
				off[i] = (off[i] + (size_t)w) % len;
				sent += (uint64_t)w;
			}
			static uint8_t sink[64 * 1024];
			ssize_t r;
			while ((r = read(fd[i], sink, sizeof(sink))) > 0)
				echoed += (uint64_t)r;
			if ((w < 0 && errno != EAGAIN) || r == 0 || (r < 0 && errno != EAGAIN)) {
				closed++;
				close(fd[i]);
				fd[i] = -1;
			}
		}
		if (!live)
			break;
		usleep(1000);
	}
	close_all(fd, conns);
	free(off);
	bool ok = open == conns && closed == 0 && echoed > 0;
	printf("battery fragmsgs: %s: %u connections, %.1f MiB of 1-byte fragments in messages of "
	       "%u, %.1f MiB echoed, %u closed\n", ok ? "PASS" : "FAIL", open, (double)sent / (1 << 20),
	       FRAMES, (double)echoed / (1 << 20), closed);
	return ok ? 0 : 1;
}

static int churn(unsigned cycles, unsigned secs)
{
	uint64_t end = now_ms() + secs * 1000u;
	unsigned done = 0, failed = 0;
	while (done < cycles && now_ms() < end) {
		int fd[8];
		unsigned k = cycles - done < 8 ? cycles - done : 8;
		for (unsigned i = 0; i < k; i++)
			fd[i] = ws_open();
		for (unsigned i = 0; i < k; i++, done++) {
			if (fd[i] < 0) {
				failed++;
				continue;
			}
			if ((done + i) % 2) {
				uint8_t f[8];
				size_t h = hdr(f, 0x88, 2, true);
				f[h] = 1000 >> 8, f[h + 1] = 1000 & 0xff;
				send_all(fd[i], f, h + 2);
			}
			close(fd[i]);
		}
	}
	bool ok = done == cycles && failed == 0;
	printf("battery churn: %s: %u of %u connect/handshake/close cycles, %u handshakes failed\n",
	       ok ? "PASS" : "FAIL", done, cycles, failed);
	return ok ? 0 : 1;
}

static int halfopen(unsigned conns, unsigned secs)
{
	int *ws = calloc(conns, sizeof(*ws)), *mute = calloc(conns, sizeof(*mute));
	unsigned n = 0, closed_ws = 0, closed_mute = 0;
	for (unsigned i = 0; i < conns; i++) {
		ws[i] = ws_open();
		mute[i] = tcp();
		if (ws[i] >= 0 && mute[i] >= 0)
			n++;
		if (ws[i] >= 0)
			shutdown(ws[i], SHUT_WR);
	}
	uint64_t end = now_ms() + secs * 1000u;
	for (unsigned i = 0; i < conns; i++) {
		int left = (int)(end - now_ms());
		if (ws[i] >= 0 && closed_by_server(ws[i], left > 0 ? left : 1))
			closed_ws++;
	}
	for (unsigned i = 0; i < conns; i++) {
		int left = (int)(end - now_ms());
		if (mute[i] >= 0 && closed_by_server(mute[i], left > 0 ? left : 1))
			closed_mute++;
	}
	for (unsigned i = 0; i < conns; i++) {
		if (ws[i] >= 0)
			close(ws[i]);
		if (mute[i] >= 0)
			close(mute[i]);
	}
	free(ws);
	free(mute);
	bool ok = n == conns && closed_ws == conns && closed_mute == conns;
	printf("battery halfopen: %s: %u of %u half-closed WebSockets and %u of %u silent TCP "
	       "connections closed by the server in %u s\n", ok ? "PASS" : "FAIL", closed_ws, conns,
	       closed_mute, conns, secs);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: battery slowloris|bighead|garbage-pre|garbage-post|violations|"
		                "absurd|fragments|fragmsgs|churn|halfopen PORT CONNS SECS\n");
		return 2;
	}
	const char *s = argv[1];
	port = atoi(argv[2]);
	unsigned conns = (unsigned)atoi(argv[3]), secs = (unsigned)atoi(argv[4]);
	if (port <= 0 || !conns || conns > 100000 || !secs || secs > 600) {
		fprintf(stderr, "battery: bad arguments\n");
		return 2;
	}
	rng ^= (uint64_t)getpid() << 17;
	if (!strcmp(s, "slowloris"))
		return slowloris(conns, secs);
	if (!strcmp(s, "bighead"))
		return bighead(conns, secs);
	if (!strcmp(s, "garbage-pre"))
		return garbage_pre(conns, secs);
	if (!strcmp(s, "garbage-post"))
		return garbage_post(conns, secs);
	if (!strcmp(s, "violations"))
		return per_conn("violations", conns, secs, make_violation);
	if (!strcmp(s, "absurd"))
		return absurd(conns, secs);
	if (!strcmp(s, "fragments"))
		return fragments(conns, secs);
	if (!strcmp(s, "fragmsgs"))
		return fragmsgs(conns, secs);
	if (!strcmp(s, "churn"))
		return churn(conns, secs);
	if (!strcmp(s, "halfopen"))
		return halfopen(conns, secs);
	fprintf(stderr, "battery: unknown scenario %s\n", s);
	return 2;
}
