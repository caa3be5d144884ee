/* flood: the hostile clients of bench/fairness, on raw sockets so that they behave as an
 * attacker does rather than as a polite client. Every mode is bounded in count and in time.
 *
 *   flood noread   PORT CONNS MSGS SIZE SECS   each connection sends MSGS binary messages of
 *                                              SIZE bytes and never reads (a tiny receive
 *                                              window), until all is sent, the server cuts it
 *                                              off, or SECS pass
 *   flood ping     PORT CONNS MSGS SIZE SECS   pings of SIZE (<= 125) bytes, never reading
 *   flood pipeline PORT CONNS MSGS SIZE SECS   small messages as fast as the socket takes
 *                                              them, the echoes read and thrown away
 *
 * It prints one line: how many connections were cut off by the server, how many of those
 * received a Close frame and its code (read after the cut-off, from what the socket kept). */
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

enum mode { M_NOREAD, M_PING, M_PIPELINE };

typedef struct flow {
	int fd;
	uint64_t msgs_left;
	size_t off;        /* into the current frame */
	bool done, cut;
	int close_code;    /* from the server's Close frame, 0 when none seen */
} flow;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int dial(int port, bool small_window)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (small_window) {
		int w = 4096; /* before connect: the window the server may fill stays small */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &w, sizeof(w));
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	static const char req[] = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
	                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                          "Sec-WebSocket-Version: 13\r\n\r\n";
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		goto fail;
	/* The 101 head, byte by byte so that nothing after it is taken. */
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
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
fail:
	close(fd);
	return -1;
}

/* One masked client frame (mask 0: the payload goes as it is). */
static size_t frame(uint8_t *out, uint8_t op, size_t len)
{
	size_t h = 0;
	out[h++] = 0x80 | op;
	if (len < 126) {
		out[h++] = 0x80 | (uint8_t)len;
	} else if (len < 65536) {
		out[h++] = 0x80 | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)(len >> (8 * i));
	}
	memset(out + h, 0, 4);
	return h + 4;
}

/* After the cut-off: read what the socket kept and find a Close frame in it. */
static int close_code_after(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	static uint8_t buf[1 << 16];
	size_t have = 0, skip = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - have);
		if (r <= 0)
			return 0;
		have += (size_t)r;
		/* Walk whole frames; skip payloads that run past what we hold. */
		size_t p = 0;
		for (;;) {
			if (skip) {
				size_t k = have - p < skip ? have - p : skip;
				p += k;
				skip -= k;
				if (skip)
					break;
			}
			if (have - p < 2)
				break;
			uint8_t op = buf[p] & 0x0f;
			uint64_t len = buf[p + 1] & 0x7f;
			size_t h = 2;
			if (len == 126) {
				if (have - p < 4)
					break;
				len = (uint64_t)buf[p + 2] << 8 | buf[p + 3];
				h = 4;
			} else if (len == 127) {
				if (have - p < 10)
					break;
				len = 0;
				for (int i = 0; i < 8; i++)
					len = len << 8 | buf[p + 2 + i];
				h = 10;
			}
			if (op == 0x8) {
				if (have - p < h + 2)
					break;
				return buf[p + h] << 8 | buf[p + h + 1];
			}
			p += h;
			skip = (size_t)len;
		}
		memmove(buf, buf + p, have - p);
		have -= p;
	}
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: flood noread|ping|pipeline PORT CONNS MSGS SIZE SECS\n");
		return 2;
	}
	enum mode m = !strcmp(argv[1], "noread") ? M_NOREAD : !strcmp(argv[1], "ping") ? M_PING
	            : !strcmp(argv[1], "pipeline") ? M_PIPELINE : (enum mode)-1;
	int port = atoi(argv[2]);
	unsigned conns = (unsigned)atoi(argv[3]);
	uint64_t msgs = strtoull(argv[4], NULL, 10);
	size_t size = strtoull(argv[5], NULL, 10);
	uint64_t end = now_ms() + (uint64_t)atoi(argv[6]) * 1000u;
	if ((int)m < 0 || !conns || conns > 10000 || (m == M_PING && size > 125)) {
		fprintf(stderr, "flood: bad arguments\n");
		return 2;
	}
	uint8_t op = m == M_PING ? 0x9 : 0x2;
	/* One frame's bytes, sent again and again: for small frames a batch of them, so that a
	 * write carries many. */
	size_t batch = size < 4096 ? 4096 / (size + 14) : 1;
	size_t fl = 0;
	uint8_t *fr = malloc((size + 14) * batch);
	for (size_t i = 0; i < batch; i++) {
		fl += frame(fr + fl, op, size);
		memset(fr + fl, 'x', size);
		fl += size;
	}
	flow *f = calloc(conns, sizeof(*f));
	struct pollfd *pfd = calloc(conns, sizeof(*pfd));
	unsigned opened = 0;
	for (unsigned i = 0; i < conns; i++) {
		f[i].fd = dial(port, m != M_PIPELINE);
		f[i].msgs_left = (msgs + batch - 1) / batch; /* in batches */
		if (f[i].fd < 0)
			f[i].done = true;
		else
			opened++;
	}
	static uint8_t sink[1 << 16];
	unsigned live = opened;
	while (live && now_ms() < end) {
		for (unsigned i = 0; i < conns; i++) {
			pfd[i].fd = f[i].done ? -1 : f[i].fd;
			pfd[i].events = POLLOUT | (m == M_PIPELINE ? POLLIN : 0);
		}
		if (poll(pfd, conns, 100) < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; i < conns; i++) {
			flow *x = &f[i];
			if (x->done)
				continue;
			if (pfd[i].revents & POLLIN)
				while (read(x->fd, sink, sizeof(sink)) > 0)
					;
			if (!(pfd[i].revents & (POLLOUT | POLLERR | POLLHUP)))
				continue;
			ssize_t w = send(x->fd, fr + x->off, fl - x->off, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (w <= 0) {
				x->done = x->cut = true;
				live--;
				continue;
			}
			x->off += (size_t)w;
			if (x->off == fl) {
				x->off = 0;
				if (--x->msgs_left == 0) {
					x->done = true;
					live--;
				}
			}
		}
	}
	unsigned cut = 0, with_close = 0, code = 0;
	for (unsigned i = 0; i < conns; i++) {
		if (f[i].fd < 0)
			continue;
		if (f[i].cut) {
			cut++;
			int cc = close_code_after(f[i].fd);
			if (cc) {
				with_close++;
				code = (unsigned)cc;
			}
		}
		close(f[i].fd);
	}
	printf("flood %s: opened %u of %u, cut off %u, Close frame seen by %u (code %u)\n", argv[1],
	       opened, conns, cut, with_close, code);
	free(f);
	free(pfd);
	free(fr);
	return 0;
}
