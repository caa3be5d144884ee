/* The public face of the URL codec (include/wring/url.h), and where a client connection goes
 * to and comes from. The parser itself stays a pure codec (url.c); resolution is here because
 * it does I/O (getaddrinfo may ask DNS), through the clients' own policy (core/addr.c), so a
 * program that resolves once and passes wr_client_options.addr gets the address the library
 * would have tried first. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "url.h"

int wr_url_parse(const char *url, wr_url *out_url)
{
	return wr__url_parse(url, out_url);
}

int wr_url_resolve(const wr_url *u, struct sockaddr_storage *out_addr, unsigned *out_len)
{
	if (!u || !out_addr || !out_len || !u->host.data)
		return -EINVAL;
	char host[256];
	int rc = wr__url_host(u, host);
	if (rc < 0)
		return rc;
	/* The clients' own policy (core/addr.c), so the address is the first they would try. */
	struct addrinfo *ai;
	rc = wr__addr_resolve(host, u->port, false, &ai);
	if (rc < 0)
		return rc;
	if (ai->ai_addrlen > sizeof(*out_addr)) {
		freeaddrinfo(ai);
		return -EINVAL;
	}
	memcpy(out_addr, ai->ai_addr, ai->ai_addrlen);
	*out_len = (unsigned)ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int wr__bind_source(int fd, const struct sockaddr *addr, unsigned len)
{
	if (len < sizeof(sa_family_t) || len > sizeof(struct sockaddr_storage))
		return -EINVAL;
	/* Without this, bind() picks the port at once, from the ports free for every destination;
	 * at connect time the kernel can reuse a port for another destination. */
	int one = 1;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	return bind(fd, addr, len) < 0 ? -errno : 0;
}
