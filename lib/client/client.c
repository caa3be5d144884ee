/* The blocking client (cpp-httplib's WebSocketClient): one connection on a plain socket,
 * poll(2) for every timeout, no reactor. Bytes go through a small transport table so that
 * TLS can slot in under the WebSocket layer; the framing is the shared codec (wr__ws_parse,
 * wr__ws_frame_header, wr__ws_gather), the upgrade request the async client's
 * (wr__client_request), and the address policy the core's (wr__addr_resolve). */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "clock.h"
#include "rand.h"
#include "request.h"
#include "simd.h"
#include "tls.h"
#include "url.h"
#include "utf8.h"
#include "deflate.h"
#include "ws.h"
#include "ws_codec.h"

#define IN_SIZE (64u << 10)    /* receive buffer: the parser consumes everything it is given */
#define OUT_CHUNK (64u << 10)  /* payload bytes masked per write */
#define MAX_HEAD 16384u        /* handshake answer head */

enum client_state {
	CS_OPEN,
	CS_CLOSING, /* our close frame is out; waiting for the peer's */
	CS_CLOSED,  /* closing handshake done, failed or dropped: the transport is shut */
};

/* The byte stream under the WebSocket layer. read/write never block: they return bytes
 * moved, 0 at EOF (read), -EAGAIN when poll(2) on fd must wait, or -errno. */
struct transport {
	ssize_t (*read)(wr_client *c, void *p, size_t n);
	ssize_t (*write)(wr_client *c, const void *p, size_t n);
	void (*close)(wr_client *c);
	void *ctx; /* TLS session */
};

struct wr_client {
	int fd;
	struct transport t;
	enum client_state state;
	uint64_t rng;
	wr_ws_parser parser;
	uint8_t ctrl[WR_WS_CTRL_MAX]; /* lent to the parser for split control frames */
	unsigned close_ms, read_ms;
	int fail_err;              /* error returned again once the connection failed */
	int close_code;            /* peer's close code once closed; 0 while open */
	size_t close_reason_len;
	char close_reason[124];
	size_t protocol_len;
	char protocol[128];
	uint8_t *in;               /* IN_SIZE bytes; in[in_pos..in_len) not yet parsed */
	size_t in_pos, in_len;
	wr_buf msg;                /* reassembly of a message that came in pieces */
	uint8_t *out;              /* 14 + OUT_CHUNK bytes: header and masked payload */
	wr_opcode frag_op;         /* a message sent in fragments is unfinished (0: none) */
	unsigned ping_ms;          /* ping after this much silence, fail after as much again */
	uint64_t last_rx_ms;       /* when bytes last came (ms, the one clock) */
	bool ping_sent;
	atomic_bool busy;          /* a call is running: a second thread gets -EBUSY */
	wr_utf8 frag_utf8;         /* its UTF-8 state across the pieces (text) */
	/* permessage-deflate, when the server accepted our offer */
	wr_deflate_config dcfg;    /* what we offered (defaults filled in) */
	bool pmd;
	wr_zparams tx, rx;
	wr_zstream *txz, *rxz;     /* made on first use */
	wr_buf zout;               /* a compressed message on its way out */
};

/* 0 means no deadline. */
static uint64_t deadline_in(unsigned ms)
{
	return wr__deadline_ms(ms);
}

/* Wait for events on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		int ms = -1;
		if (deadline) {
			uint64_t now = wr__now_ms();
			if (now >= deadline)
				return -ETIMEDOUT;
			ms = deadline - now > 60000 ? 60000 : (int)(deadline - now);
		}
		struct pollfd p = { .fd = fd, .events = events };
		int rc = poll(&p, 1, ms);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

/* ---- plain TCP transport ---- */

static ssize_t tcp_read(wr_client *c, void *p, size_t n)
{
	for (;;) {
		ssize_t k = recv(c->fd, p, n, 0);
		if (k >= 0)
			return k;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static ssize_t tcp_write(wr_client *c, const void *p, size_t n)
{
	for (;;) {
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
		if (k >= 0)
			return k;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static void tcp_close(wr_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static const struct transport tcp_transport = {
	.read = tcp_read,
	.write = tcp_write,
	.close = tcp_close,
};

/* ---- TLS transport (wss://): the session reads and writes the socket itself ---- */

static ssize_t tls_read(wr_client *c, void *p, size_t n) { return wr__tls_sock_read(c->t.ctx, p, n); }
static ssize_t tls_write(wr_client *c, const void *p, size_t n) { return wr__tls_sock_write(c->t.ctx, p, n); }

static void tls_close(wr_client *c)
{
	wr__tls_sock_free(c->t.ctx);
	c->t.ctx = NULL;
	tcp_close(c);
}

static const struct transport tls_transport = {
	.read = tls_read,
	.write = tls_write,
	.close = tls_close,
};

/* The TLS handshake on the connected socket; SNI and the certificate check use the URL host. */
static int tls_start(wr_client *c, const wr_url *u, const wr_client_options *opts)
{
	char host[256];
	int rc = wr__url_host(u, host);
	if (rc < 0)
		return rc;
	if (opts && opts->server_name &&
	    snprintf(host, sizeof(host), "%s", opts->server_name) >= (int)sizeof(host))
		return -EINVAL;
	static const wr_tls_opts tls_opts = { .alpn = "http/1.1" };
	struct wr_tls_sock *s;
	rc = wr__tls_sock_new(opts ? opts->tls : NULL, &tls_opts, c->fd, host,
	                          opts && opts->handshake_timeout_ms ? opts->handshake_timeout_ms : 10000, &s);
	if (rc < 0)
		return rc;
	c->t = tls_transport;
	c->t.ctx = s;
	return 0;
}

/* ---- byte I/O with deadlines ---- */

static int write_all(wr_client *c, const void *p, size_t n, uint64_t deadline)
{
	const uint8_t *b = p;
	while (n) {
		if (c->fd < 0)
			return -EPIPE;
		ssize_t k = c->t.write(c, b, n);
		if (k == -EAGAIN) {
			int rc = wait_fd(c->fd, POLLOUT, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		if (k < 0)
			return (int)k;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Some bytes (> 0), 0 at EOF, -ETIMEDOUT or -errno. */
static ssize_t read_some(wr_client *c, void *p, size_t n, uint64_t deadline)
{
	for (;;) {
		if (c->fd < 0)
			return 0;
		ssize_t k = c->t.read(c, p, n);
		if (k != -EAGAIN)
			return k;
		int rc = wait_fd(c->fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
}

static void transport_close(wr_client *c)
{
	if (c->fd >= 0)
		c->t.close(c);
}

/* ---- frames ---- */

/* One masked frame with a fresh key, FIN and RSV1 (a compressed message) as given; the payload
 * is masked in OUT_CHUNK pieces. */
static int send_frame_bits(wr_client *c, wr_opcode op, bool fin, bool rsv1, const void *data,
                           size_t len, uint64_t deadline)
{
	uint8_t key[4];
	uint64_t r = wr__rand_next(&c->rng);
	memcpy(key, &r, 4);
	size_t h = wr__ws_frame_header(c->out, fin, op, len, key);
	if (rsv1)
		c->out[0] |= 0x40;
	const uint8_t *src = data;
	size_t done = 0;
	do {
		size_t n = len - done < OUT_CHUNK ? len - done : OUT_CHUNK;
		if (n)
			memcpy(c->out + h, src + done, n);
		wr__unmask(c->out + h, n, key, (unsigned)(done & 3));
		int rc = write_all(c, c->out, h + n, deadline);
		if (rc < 0)
			return rc;
		done += n;
		h = 0;
	} while (done < len);
	return 0;
}

static int send_frame(wr_client *c, wr_opcode op, const void *data, size_t len,
                      uint64_t deadline)
{
	return send_frame_bits(c, op, true, false, data, len, deadline);
}

/* A data message, compressed when permessage-deflate is on and it is long enough. */
static int send_message(wr_client *c, wr_opcode op, const void *data, size_t len,
                        uint64_t deadline)
{
	if (!c->pmd || (op & 0x8) || len < c->dcfg.threshold || c->tx.bits < WR_PMD_MIN_DEFLATE_BITS)
		return send_frame(c, op, data, len, deadline);
	if (!c->txz && !(c->txz = wr__z_new(true, &c->tx)))
		return -ENOMEM;
	c->zout.len = 0;
	int rc = wr__z_compress(c->txz, data, len, &c->zout);
	if (rc < 0)
		return -ENOMEM;
	rc = send_frame_bits(c, op, true, true, c->zout.data, c->zout.len, deadline);
	c->zout.len = 0;
	wr__buf_trim(&c->zout, 256u << 10);
	return rc;
}

/* A piece of a compressed message into c->msg: 1 complete, 0 more to come, or the close
 * code to fail with. */
static int inflate_piece(wr_client *c, const wr_ws_event *ev)
{
	if (!c->rxz && !(c->rxz = wr__z_new(false, &c->rx)))
		return WR_CLOSE_INTERNAL_ERROR;
	if (ev->msg_start) {
		c->msg.len = 0;
		wr__utf8_init(&c->parser.utf8);
	}
	int rc = wr__z_inflate(c->rxz, ev->data, ev->len, ev->msg_end, &c->msg, c->parser.max_msg,
	                       ev->opcode == WR_OP_TEXT ? &c->parser.utf8 : NULL);
	if (rc < 0)
		return rc == -EMSGSIZE ? WR_CLOSE_TOO_BIG
		     : rc == -ENOMEM   ? WR_CLOSE_INTERNAL_ERROR : WR_CLOSE_INVALID_DATA;
	return ev->msg_end ? 1 : 0;
}

static int send_close(wr_client *c, int code, const char *reason, size_t reason_len,
                      uint64_t deadline)
{
	uint8_t payload[125];
	size_t n = wr__ws_close_payload(payload, code, reason, reason_len);
	return send_frame(c, WR_OP_CLOSE, payload, n, deadline);
}

/* After our close went out and the peer's came in (or we gave up): the server closes TCP
 * first (§7.1.1), so wait for its EOF until the deadline, then close our side. Reading
 * until EOF also keeps unread bytes from turning our close into a reset. */
static void finish(wr_client *c, uint64_t deadline)
{
	if (c->fd >= 0) {
		shutdown(c->fd, SHUT_WR);
		for (;;) {
			ssize_t k = read_some(c, c->in, IN_SIZE, deadline);
			if (k <= 0)
				break;
		}
	}
	transport_close(c);
	c->in_pos = c->in_len = 0;
	c->state = CS_CLOSED;
}

static void set_close(wr_client *c, int code, wr_str reason)
{
	c->close_code = code;
	c->close_reason_len = reason.len < sizeof(c->close_reason) ? reason.len
	                                                          : sizeof(c->close_reason) - 1;
	if (c->close_reason_len)
		memcpy(c->close_reason, reason.data, c->close_reason_len);
	c->close_reason[c->close_reason_len] = 0;
}

/* The peer broke the protocol: send our close code, shut down, remember the error. */
static int fail_conn(wr_client *c, int code, const char *why)
{
	int err = code == WR_CLOSE_INVALID_DATA ? -EILSEQ
	        : code == WR_CLOSE_TOO_BIG      ? -EMSGSIZE
	                                        : -EPROTO;
	uint64_t deadline = deadline_in(c->close_ms);
	if (c->state == CS_OPEN)
		send_close(c, code, why, why ? strlen(why) : 0, deadline);
	finish(c, deadline);
	set_close(c, code, (wr_str){ why, why ? strlen(why) : 0 });
	c->fail_err = err;
	return err;
}

static int out_of_memory(wr_client *c)
{
	fail_conn(c, WR_CLOSE_INTERNAL_ERROR, "out of memory");
	return c->fail_err = -ENOMEM;
}

/* TCP went away without a closing handshake. */
static void dropped(wr_client *c)
{
	transport_close(c);
	c->state = CS_CLOSED;
	set_close(c, WR_CLOSE_ABNORMAL, (wr_str){ "connection dropped", 18 });
}

/* Feed the parser with what is buffered and act on one event. Returns 1 when *out_msg holds
 * a message, 0 when the peer's close was handled (or the input ran out: see *out_need),
 * or -errno once the connection failed. */
static int pump(wr_client *c, wr_msg *out_msg, bool *out_need, bool discard)
{
	*out_need = false;
	while (c->in_pos < c->in_len) {
		wr_ws_event ev;
		size_t n = wr__ws_parse(&c->parser, c->in + c->in_pos, c->in_len - c->in_pos, &ev);
		c->in_pos += n;
		switch (ev.type) {
		case WR_WS_EV_NONE:
			break;
		case WR_WS_EV_DATA:
			if (discard)
				break;
			if (ev.compressed) {
				int z = inflate_piece(c, &ev);
				if (z > 1)
					return fail_conn(c, z, z == WR_CLOSE_TOO_BIG ? "message over the size limit"
					                                             : "invalid compressed message");
				if (z == 1) {
					out_msg->data = c->msg.data ? c->msg.data : (const uint8_t *)"";
					out_msg->len = c->msg.len;
					out_msg->opcode = ev.opcode;
					out_msg->more = false;
					out_msg->offset = 0;
					c->msg.len = 0;
					return 1;
				}
				break;
			}
			if (ev.msg_start && ev.msg_end) {
				/* Whole in the receive buffer: hand out the view. */
				out_msg->data = ev.len ? ev.data : (const uint8_t *)"";
				out_msg->len = ev.len;
				out_msg->opcode = ev.opcode;
				out_msg->more = false;
				out_msg->offset = 0;
				return 1;
			}
			int whole = wr__ws_gather(&c->msg, &ev);
			if (whole < 0)
				return out_of_memory(c);
			if (whole > 0) {
				out_msg->data = c->msg.data ? c->msg.data : (const uint8_t *)"";
				out_msg->len = c->msg.len;
				out_msg->opcode = ev.opcode;
				out_msg->more = false;
				out_msg->offset = 0;
				c->msg.len = 0; /* the bytes stay until the next call appends */
				return 1;
			}
			break;
		case WR_WS_EV_NEED_CTRL: /* never: the parser has c->ctrl from the start */
			break;
		case WR_WS_EV_CONTROL:
			if (ev.opcode == WR_OP_PING) {
				if (c->state == CS_OPEN) {
					int rc = send_frame(c, WR_OP_PONG, ev.data, ev.len,
					                    deadline_in(c->close_ms));
					if (rc < 0) {
						dropped(c);
						return 0;
					}
				}
				break;
			}
			if (ev.opcode != WR_OP_CLOSE)
				break; /* pongs pass silently */
			set_close(c, ev.close_code, ev.close_reason);
			uint64_t deadline = deadline_in(c->close_ms);
			if (c->state == CS_OPEN) {
				/* Echo the code (§5.5.1); an empty close is answered empty. */
				int code = ev.close_code == WR_CLOSE_NO_STATUS ? 0 : ev.close_code;
				send_close(c, code, NULL, 0, deadline);
			}
			finish(c, deadline);
			return 0;
		case WR_WS_EV_ERROR:
			c->in_pos = c->in_len;
			return fail_conn(c, ev.close_code, ev.error);
		}
	}
	c->in_pos = c->in_len = 0;
	*out_need = true;
	return 0;
}

/* ---- connect and handshake ---- */

static int connect_one(const struct addrinfo *ai, const wr_client_options *o, uint64_t deadline,
                       int *out_fd)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = o && o->bind_addr ? wr__bind_source(fd, o->bind_addr, o->bind_addr_len) : 0;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno == EINPROGRESS) {
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc == 0) {
			int err = 0;
			socklen_t len = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			rc = -err;
		}
	} else if (rc < 0) {
		rc = -errno;
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out_fd = fd;
	return 0;
}

/* Try every address of host:port in turn until one connects (only o->addr when given). */
static int tcp_connect(const wr_url *u, const wr_client_options *o, unsigned timeout_ms,
                       int *out_fd)
{
	if (o && o->addr) {
		if (o->addr_len < sizeof(sa_family_t))
			return -EINVAL;
		struct addrinfo given = { .ai_family = o->addr->sa_family, .ai_socktype = SOCK_STREAM,
		                          .ai_addr = (struct sockaddr *)o->addr,
		                          .ai_addrlen = o->addr_len };
		return connect_one(&given, o, deadline_in(timeout_ms), out_fd);
	}
	char host[256];
	int rc = wr__url_host(u, host);
	if (rc < 0)
		return rc;
	struct addrinfo *res;
	rc = wr__addr_resolve(host, u->port, false, &res);
	if (rc < 0)
		return rc;
	uint64_t deadline = deadline_in(timeout_ms);
	rc = -EHOSTUNREACH;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		rc = connect_one(ai, o, deadline, out_fd);
		if (rc == 0 || rc == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

/* Send the upgrade request and check the answer (§4.1). Bytes after the head stay in c->in. */
static int handshake(wr_client *c, wr_buf *req, char **protos, unsigned timeout_ms,
                     int *out_status)
{
	char key_line[64], accept[29];
	size_t kl = wr__client_key(&c->rng, key_line, accept);
	int rc = wr__buf_append(req, key_line, kl);
	if (rc < 0)
		return rc;
	uint64_t deadline = deadline_in(timeout_ms);
	rc = write_all(c, req->data, req->len, deadline);
	if (rc < 0)
		return rc;
	wr_http_resp_head h;
	int hl = -EAGAIN;
	while (hl == -EAGAIN) {
		size_t prev = c->in_len;
		ssize_t k = read_some(c, c->in + c->in_len, IN_SIZE - c->in_len, deadline);
		if (k == 0)
			return -ECONNRESET;
		if (k < 0)
			return (int)k;
		c->in_len += (size_t)k;
		hl = wr__http_parse_response((const char *)c->in, c->in_len, prev, MAX_HEAD, &h);
	}
	if (hl < 0)
		return -EPROTO;
	if (h.status != 101) {
		*out_status = h.status;
		return -EPROTO;
	}
	wr_str proto;
	wr_pmd_params pmd;
	rc = wr__ws_check_response(&h, accept, (const char *const *)protos,
	                           c->dcfg.enable ? &c->dcfg : NULL, &proto, &pmd);
	if (rc < 0)
		return rc;
	if (rc > 0) {
		/* We are the client: we compress with the client's window, it with the server's. */
		c->pmd = true;
		c->parser.deflate = 1;
		c->tx = (wr_zparams){ pmd.client_bits, c->dcfg.level, c->dcfg.mem_level,
		                      pmd.client_nct };
		c->rx = (wr_zparams){ pmd.server_bits, c->dcfg.level, c->dcfg.mem_level,
		                      pmd.server_nct };
	}
	if (proto.len >= sizeof(c->protocol))
		return -EPROTO;
	if (proto.len)
		memcpy(c->protocol, proto.data, proto.len);
	c->protocol_len = proto.len;
	c->in_pos = (size_t)hl;
	return 0;
}

wr_client *wr_client_connect(const char *url, const wr_client_options *opts,
                             wr_client_err *out_err)
{
	wr_client_err err = { 0, 0 };
	wr_url u;
	wr_client *c = NULL;
	wr_buf req = { 0 };
	char **protos = NULL;

	if (!url) {
		err.code = -EINVAL;
		goto err_args;
	}
	err.code = wr__url_parse(url, &u);
	if (err.code < 0)
		goto err_args;
	if (u.tls && !WR_TLS_BUILT) {
		err.code = -ENOTSUP;
		goto err_args;
	}
	/* Options are checked before any traffic. */
	err.code = wr__client_request(&u, opts, &req, &protos);
	if (err.code < 0)
		goto err_request;
	c = calloc(1, sizeof(*c));
	if (!c) {
		err.code = -ENOMEM;
		goto err_request;
	}
	c->fd = -1;
	c->t = tcp_transport;
	c->in = malloc(IN_SIZE);
	c->out = malloc(14 + OUT_CHUNK);
	if (!c->in || !c->out) {
		err.code = -ENOMEM;
		goto err_alloc;
	}
	c->rng = wr__rand_seed((uintptr_t)c);
	c->close_ms = opts && opts->close_timeout_ms ? opts->close_timeout_ms : 5000;
	c->read_ms = opts ? opts->read_timeout_ms : 0;
	c->ping_ms = opts ? opts->ping_interval_ms : 0;
	c->last_rx_ms = wr__now_ms();
	wr__ws_parser_init(&c->parser, WR_WS_CLIENT, opts ? opts->max_message_bytes : 0);
	c->parser.ctrl = c->ctrl;
	c->parser.max_frames = wr__client_max_frames(opts);
	if (opts && opts->deflate.enable)
		c->dcfg = wr__pmd_config(&opts->deflate);
	err.code = tcp_connect(&u, opts, opts && opts->connect_timeout_ms ? opts->connect_timeout_ms
	                                                            : 10000, &c->fd);
	if (err.code < 0)
		goto err_alloc;
	if (u.tls) {
		err.code = tls_start(c, &u, opts);
		if (err.code < 0)
			goto err_alloc;
	}
	err.code = handshake(c, &req, protos, opts && opts->handshake_timeout_ms
	                                      ? opts->handshake_timeout_ms : 10000,
	                     &err.http_status);
	if (err.code < 0)
		goto err_alloc;
	c->state = CS_OPEN;
	wr__buf_free(&req);
	wr__client_protocols_free(protos);
	if (out_err)
		*out_err = err;
	return c;

err_alloc:
	wr_client_free(c);
err_request:
	wr__buf_free(&req);
	wr__client_protocols_free(protos);
err_args:
	if (out_err)
		*out_err = err;
	return NULL;
}

/* ---- messages ---- */

static int client_send_one(wr_client *c, const void *data, size_t len, wr_opcode op)
{
	if (!c || (!data && len))
		return -EINVAL;
	switch (op) {
	case WR_OP_TEXT:
		if (c->frag_op)
			return -EBUSY; /* a message sent in fragments is not finished */
		if (len && !wr__utf8_valid(data, len))
			return -EINVAL;
		break;
	case WR_OP_BINARY:
		if (c->frag_op)
			return -EBUSY;
		break;
	case WR_OP_PING:
	case WR_OP_PONG:
		if (len > 125)
			return -EINVAL;
		break;
	default:
		return -EINVAL; /* closing goes through wr_client_close */
	}
	if (c->state != CS_OPEN)
		return -EPIPE;
	/* A peer that stops reading stalls us for at most read_timeout_ms (when set). */
	int rc = send_message(c, op, data, len, deadline_in(c->read_ms));
	if (rc == -EPIPE || rc == -ECONNRESET)
		dropped(c);
	return rc;
}

static int client_send_fragment_one(wr_client *c, const void *data, size_t len, wr_opcode op, bool fin)
{
	if (!c || (!data && len) || (op != WR_OP_TEXT && op != WR_OP_BINARY))
		return -EINVAL;
	if (c->frag_op && c->frag_op != op)
		return -EINVAL;
	if (c->state != CS_OPEN)
		return -EPIPE;
	wr_utf8 u = c->frag_utf8;
	if (op == WR_OP_TEXT) {
		if (!c->frag_op)
			wr__utf8_init(&u);
		if ((len && wr__utf8_feed(&u, data, len) < 0) || (fin && wr__utf8_finish(&u) < 0))
			return -EINVAL;
	}
	int rc = send_frame_bits(c, c->frag_op ? WR_OP_CONT : op, fin, false, data, len,
	                        deadline_in(c->read_ms));
	if (rc == -EPIPE || rc == -ECONNRESET)
		dropped(c);
	if (rc < 0)
		return rc;
	c->frag_utf8 = u;
	c->frag_op = fin ? 0 : op;
	return 0;
}

/* One call at a time: the parser, the send buffer and the key generator are the client's own,
 * and an automatic pong inside a read shares them with a send. A second thread that comes in
 * meanwhile is refused with -EBUSY rather than racing. */
static int client_read(wr_client *c, wr_msg *out_msg);
static int client_close_one(wr_client *c, int code, const char *reason);

static bool enter(wr_client *c)
{
	return !atomic_exchange_explicit(&c->busy, true, memory_order_acquire);
}

static void leave(wr_client *c)
{
	atomic_store_explicit(&c->busy, false, memory_order_release);
}

int wr_client_send(wr_client *c, const void *data, size_t len, wr_opcode op)
{
	if (!c)
		return -EINVAL;
	if (!enter(c))
		return -EBUSY;
	int rc = client_send_one(c, data, len, op);
	leave(c);
	return rc;
}

int wr_client_send_fragment(wr_client *c, const void *data, size_t len, wr_opcode op, bool fin)
{
	if (!c)
		return -EINVAL;
	if (!enter(c))
		return -EBUSY;
	int rc = client_send_fragment_one(c, data, len, op, fin);
	leave(c);
	return rc;
}

int wr_client_close(wr_client *c, int code, const char *reason)
{
	if (!c)
		return -EINVAL;
	if (!enter(c))
		return -EBUSY;
	int rc = client_close_one(c, code, reason);
	leave(c);
	return rc;
}

int wr_client_read(wr_client *c, wr_msg *out_msg)
{
	if (!c || !out_msg)
		return -EINVAL;
	if (!enter(c))
		return -EBUSY;
	int rc = client_read(c, out_msg);
	leave(c);
	return rc;
}

int wr_client_send_text(wr_client *c, const char *text)
{
	if (!text)
		return -EINVAL;
	return wr_client_send(c, text, strlen(text), WR_OP_TEXT);
}

int wr_client_send_binary(wr_client *c, const void *data, size_t len)
{
	return wr_client_send(c, data, len, WR_OP_BINARY);
}

int wr_client_ping(wr_client *c, const void *data, size_t len)
{
	return wr_client_send(c, data, len, WR_OP_PING);
}

static int client_read(wr_client *c, wr_msg *out_msg)
{
	uint64_t deadline = deadline_in(c->read_ms);
	for (;;) {
		if (c->fail_err)
			return c->fail_err;
		if (c->state != CS_OPEN)
			return 0;
		bool need;
		wr_msg m;
		int rc = pump(c, &m, &need, false);
		if (rc > 0) {
			*out_msg = m;
			return m.opcode;
		}
		if (rc < 0 || !need)
			continue; /* reported at the top */
		/* Idle: a ping after ping_ms of silence, and the connection fails when nothing (the
		 * pong or anything else) comes within as long again. */
		uint64_t wait_until = deadline;
		if (c->ping_ms) {
			uint64_t pd = c->last_rx_ms + (uint64_t)c->ping_ms * (c->ping_sent ? 2 : 1);
			if (!wait_until || pd < wait_until)
				wait_until = pd;
		}
		ssize_t k = read_some(c, c->in, IN_SIZE, wait_until);
		if (k == -ETIMEDOUT) {
			if (!c->ping_ms || (deadline && wr__now_ms() >= deadline))
				return -ETIMEDOUT; /* the connection stays usable */
			if (!c->ping_sent) {
				c->ping_sent = true;
				rc = send_frame(c, WR_OP_PING, NULL, 0, deadline_in(c->read_ms));
				if (rc < 0)
					dropped(c);
				continue;
			}
			dropped(c);
			c->fail_err = -ETIMEDOUT; /* no pong in time */
			continue;
		}
		if (k <= 0) {
			dropped(c);
			continue;
		}
		c->last_rx_ms = wr__now_ms();
		c->ping_sent = false;
		c->in_pos = 0;
		c->in_len = (size_t)k;
	}
}

static int client_close_one(wr_client *c, int code, const char *reason)
{
	if (!c)
		return -EINVAL;
	size_t rlen = reason ? strlen(reason) : 0;
	if (code == 0 && rlen)
		return -EINVAL;
	if (code && !wr__ws_close_code_sendable(code))
		return -EINVAL;
	if (rlen > 123 || !wr__utf8_valid((const uint8_t *)reason, rlen))
		return -EINVAL;
	if (c->state != CS_OPEN)
		return 0;
	uint64_t deadline = deadline_in(c->close_ms);
	int rc = send_close(c, code ? code : WR_CLOSE_NORMAL, reason, rlen, deadline);
	if (rc < 0) {
		dropped(c);
		return rc;
	}
	c->state = CS_CLOSING;
	/* Wait for the peer's close, dropping any data still on its way. */
	while (c->state == CS_CLOSING) {
		bool need;
		wr_msg m;
		rc = pump(c, &m, &need, true);
		if (rc < 0)
			return rc;
		if (!need)
			continue;
		ssize_t k = read_some(c, c->in, IN_SIZE, deadline);
		if (k == -ETIMEDOUT) {
			dropped(c);
			return -ETIMEDOUT;
		}
		if (k <= 0) {
			dropped(c);
			break;
		}
		c->in_pos = 0;
		c->in_len = (size_t)k;
	}
	return 0;
}

int wr_client_close_code(const wr_client *c)
{
	return c ? c->close_code : 0;
}

wr_str wr_client_close_reason(const wr_client *c)
{
	if (!c || !c->close_code)
		return (wr_str){ NULL, 0 };
	return (wr_str){ c->close_reason, c->close_reason_len };
}

wr_str wr_client_protocol(const wr_client *c)
{
	if (!c || !c->protocol_len)
		return (wr_str){ NULL, 0 };
	return (wr_str){ c->protocol, c->protocol_len };
}

void wr_client_free(wr_client *c)
{
	if (!c)
		return;
	transport_close(c);
	wr__buf_free(&c->msg);
	wr__buf_free(&c->zout);
	wr__z_free(c->txz);
	wr__z_free(c->rxz);
	free(c->in);
	free(c->out);
	free(c);
}

bool wr_client_deflate(const wr_client *c) { return c && c->pmd; }
