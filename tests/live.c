#include "live.h"

#include <arpa/inet.h>
#ifdef WR_TAP_SHIM
#include "tap_shim.h"
#else
#include <criterion/criterion.h>
#endif
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

uint16_t live_start(wr_server *srv)
{
	cr_assert_not_null(srv);
	int rc = wr_server_start(srv, "127.0.0.1", 0);
	cr_assert_eq(rc, 0, "wr_server_start: %s", wr_strerror(rc));
	uint16_t port = wr_server_port(srv);
	cr_assert_neq(port, 0);
	return port;
}

int live_connect(uint16_t port)
{
	return live_connect_window(port, 0, 5);
}

/* A blocking connect (0 or an errno). A blocking call with a timeout in a test thread
 * sometimes fails with EINTR although no signal was sent to the process and the thread ran no
 * io_uring task work (both traced: signal:signal_generate, io_uring:io_uring_task_work_run);
 * seen under CPU contention, about once in 100 runs of pubsub_tap. The attempt goes on in the
 * kernel: wait for it and take its result. */
static int connect_finish(int fd, const struct sockaddr *sa, socklen_t len, int timeout_s)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINTR)
		return errno;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int rc;
	do
		rc = poll(&p, 1, timeout_s * 1000);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		return rc ? errno : ETIMEDOUT;
	int err = 0;
	socklen_t l = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		return errno;
	return err;
}

int live_connect_window(uint16_t port, int rcvbuf, int timeout_s)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	if (rcvbuf) /* before connect: the window is negotiated at the handshake */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct timeval tv = { .tv_sec = timeout_s };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int err = connect_finish(fd, (struct sockaddr *)&sa, sizeof(sa), timeout_s);
	cr_assert_eq(err, 0, "connect: %s", strerror(err)); /* the errno, also in tap_shim.h's report */
	return fd;
}

int live_send(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

int live_send_str(int fd, const char *s) { return live_send(fd, s, strlen(s)); }

/* recv, again after the same spurious EINTR as connect_finish's; a peer that went away
 * still gives 0 or the timeout. */
ssize_t live_recv(int fd, void *p, size_t n)
{
	ssize_t k;
	do
		k = recv(fd, p, n, 0);
	while (k < 0 && errno == EINTR);
	return k;
}

ssize_t live_recv_until(int fd, char *buf, size_t cap, const char *needle)
{
	size_t n = 0;
	buf[0] = 0;
	while (n + 1 < cap) {
		ssize_t k = live_recv(fd, buf + n, cap - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		buf[n] = 0;
		if (needle && strstr(buf, needle))
			break;
	}
	return (ssize_t)n;
}

ssize_t live_recv_n(int fd, void *buf, size_t want)
{
	size_t n = 0;
	while (n < want) {
		ssize_t k = live_recv(fd, (char *)buf + n, want - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	return (ssize_t)n;
}

ssize_t live_recv_all(int fd, char *buf, size_t cap)
{
	return live_recv_until(fd, buf, cap, NULL);
}

int live_wait_eof(int fd, int ms)
{
	char tmp[4096];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	for (;;) {
		int rc = poll(&p, 1, ms);
		if (rc <= 0)
			return 0;
		ssize_t k = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN))
			return 1;
	}
}

int live_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the DIR's own fd */
}

int live_ws_handshake(int fd, const char *path)
{
	char req[512];
	snprintf(req, sizeof(req),
	         "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	         path);
	if (live_send_str(fd, req) < 0)
		return -1;
	/* Read byte by byte up to the end of the head so no frame bytes are swallowed. */
	char head[2048];
	size_t n = 0;
	while (n + 1 < sizeof(head)) {
		if (live_recv(fd, head + n, 1) != 1)
			return -1;
		n++;
		head[n] = 0;
		if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4))
			break;
	}
	if (strncmp(head, "HTTP/1.1 101", 12) != 0)
		return -1;
	return strstr(head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") ? 0 : -1;
}

int live_ws_send(int fd, int fin, int opcode, const void *p, size_t n)
{
	uint8_t *f = malloc(n + 14);
	size_t h = 0;
	f[h++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (n < 126) {
		f[h++] = (uint8_t)(0x80 | n);
	} else if (n < 65536) {
		f[h++] = 0x80 | 126;
		f[h++] = (uint8_t)(n >> 8);
		f[h++] = (uint8_t)n;
	} else {
		f[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			f[h++] = (uint8_t)((uint64_t)n >> (8 * i));
	}
	uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
	memcpy(f + h, key, 4);
	h += 4;
	for (size_t i = 0; i < n; i++)
		f[h + i] = ((const uint8_t *)p)[i] ^ key[i & 3];
	int rc = live_send(fd, f, h + n);
	free(f);
	return rc;
}

ssize_t live_ws_recv(int fd, int *opcode, int *fin, void *buf, size_t cap)
{
	uint8_t h[10];
	if (live_recv_n(fd, h, 2) != 2)
		return -1;
	*fin = h[0] >> 7;
	*opcode = h[0] & 0x0f;
	uint64_t len = h[1] & 0x7f;
	if (h[1] & 0x80)
		return -1; /* servers never mask */
	if (len == 126) {
		if (live_recv_n(fd, h, 2) != 2)
			return -1;
		len = ((uint64_t)h[0] << 8) | h[1];
	} else if (len == 127) {
		if (live_recv_n(fd, h, 8) != 8)
			return -1;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = (len << 8) | h[i];
	}
	if (len > cap)
		return -1;
	if (live_recv_n(fd, buf, (size_t)len) != (ssize_t)len)
		return -1;
	return (ssize_t)len;
}
