/* The setup's blocking socket calls (the epoll driver's connect and upgrade, the stats fetch),
 * finished after EINTR. A blocking call with a timeout sometimes fails with EINTR under CPU
 * contention although no signal was sent (seen in the tests, tests/live.c); a load generator
 * must not count that as a failed connection. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "wsb.h"

int wsb_connect(int fd, const struct sockaddr *addr, socklen_t len, int timeout_ms)
{
	if (connect(fd, addr, len) == 0)
		return 0;
	if (errno != EINTR)
		return -errno;
	/* The attempt goes on in the kernel: wait for it and take its result. */
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int rc;
	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		return rc ? -errno : -ETIMEDOUT;
	int err = 0;
	socklen_t l = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		return -errno;
	return -err;
}

ssize_t wsb_recv(int fd, void *p, size_t n)
{
	ssize_t k;
	do
		k = recv(fd, p, n, 0);
	while (k < 0 && errno == EINTR);
	return k;
}
