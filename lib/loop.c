/* The async client: a reactor run by the caller's thread, with many WebSocket client
 * connections on it — connect, opening handshake, then the same session code as the server. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "log.h"
#include "rand.h"
#include "reactor.h"
#include "ud.h"
#include "url.h"

/* Client TLS contexts, one per distinct wr_tls_config seen by wr_loop_connect: loading a
 * trust store is far too slow to repeat per connection. */
typedef struct tls_entry {
	struct tls_entry *next;
	struct wr_tls_ctx *ctx;
	char *cert_file, *key_file, *ca_file;
	int min_version;
	bool insecure, resume;
} tls_entry;

struct wr_loop {
	wr_shared sh;
	wr_reactor *r;
	tls_entry *tls;
};

/* What one client connection needs until it is open; owned by the connection. */
struct wr_client_spec {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	wr_ws_handlers h;
	char *request;          /* the upgrade request up to the key header */
	size_t request_len;
	char **protocols;       /* NULL-terminated copies */
	char accept[29];        /* expected Sec-WebSocket-Accept */
	unsigned handshake_ms;
	char *sni;              /* wss: host name sent and verified; NULL for ws */
	struct wr_tls_ctx *tls; /* wss: borrowed from the loop (or the blocking client) */
};

wr_loop *wr_loop_new(const wr_loop_config *cfg, int *out_err)
{
	int rc;
	wr_loop *l = calloc(1, sizeof(*l));
	if (!l) {
		rc = -ENOMEM;
		goto err_alloc;
	}
	l->sh.cfg.threads = 1;
	if (cfg) {
		l->sh.cfg.max_conns = cfg->max_conns;
		l->sh.cfg.recv_buf_count = cfg->recv_buf_count;
		l->sh.cfg.recv_buf_size = cfg->recv_buf_size;
	}
	rc = wr__config_defaults(&l->sh.cfg);
	if (rc < 0)
		goto err_cfg;
	l->sh.cfg.ping_interval_ms = (unsigned)-1; /* clients answer pings; they do not send them */
	l->sh.loop = l;
	l->r = aligned_alloc(64, (sizeof(wr_reactor) + 63) & ~(size_t)63);
	if (!l->r) {
		rc = -ENOMEM;
		goto err_cfg;
	}
	/* wr__reactor_init clears only the fields before the flush scratch: start from zero, as
	 * the server does (scratch, body and rng live past it). */
	memset(l->r, 0, sizeof(*l->r));
	if (cfg && cfg->pin && cfg->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cfg->cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	rc = wr__reactor_init(l->r, &l->sh, 0, cfg ? cfg->cpu : -1);
	if (rc < 0)
		goto err_reactor;
	return l;

err_reactor:
	free(l->r);
err_cfg:
	free(l);
err_alloc:
	if (out_err)
		*out_err = rc;
	return NULL;
}

int wr_loop_run(wr_loop *loop)
{
	loop->r->stopping = false;
	atomic_store(&loop->r->stop, false);
	return wr__reactor_run(loop->r);
}

void wr_loop_stop(wr_loop *loop)
{
	wr__reactor_wake(loop->r);
}

void wr__client_spec_free(struct wr_client_spec *s)
{
	if (!s)
		return;
	free(s->request);
	free(s->sni);
	wr__client_protocols_free(s->protocols);
	free(s);
}

void wr_loop_free(wr_loop *loop)
{
	if (!loop)
		return;
	wr_reactor *r = loop->r;
	wr_list *pos, *tmp;
	wr_list_for_each_safe(pos, tmp, &r->all) {
		wr_conn *c = wr_container_of(pos, wr_conn, all_link);
		wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, "loop freed");
		wr__conn_close_hard(c);
		c->inflight = 0; /* the ring goes away with its requests */
		/* Whether it waited for a completion, sat on the flush list or was already on the
		 * closed list: free it now. */
		if (wr_list_linked(&c->flush_link))
			wr_list_remove(&c->flush_link);
		wr_list_insert_tail(&r->closed, &c->flush_link);
	}
	wr__conn_free_closed(r);
	wr__reactor_finish(r);
	free(r);
	if (loop->tls)
		wr__tls_thread_done();
	for (tls_entry *e = loop->tls, *n; e; e = n) {
		n = e->next;
		wr__tls_ctx_free(e->ctx);
		free(e->cert_file);
		free(e->key_file);
		free(e->ca_file);
		free(e);
	}
	free(loop);
}

int wr_loop_every(wr_loop *loop, unsigned ms, void (*fn)(wr_loop *, void *), void *user)
{
	if (!ms || !fn)
		return -EINVAL;
	wr_every *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->period_ns = (uint64_t)ms * 1000000ull;
	e->next_ns = wr__now_ns() + e->period_ns;
	e->fn = fn;
	e->user = user;
	e->next = loop->r->every;
	loop->r->every = e;
	return 0;
}

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

/* The upgrade request for u up to (not including) the key line, into *out (appended), and
 * NULL-terminated copies of the offered subprotocols into *out_protocols (NULL when none).
 * Validates extra headers (a colon, no CR/LF) and protocol tokens: -EINVAL. */
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

/* Build what every connection to this URL shares. */
int wr__client_spec_new(const char *url, const wr_client_options *o, const wr_ws_handlers *h,
                        struct wr_client_spec **out, wr_url *out_url)
{
	wr_url u;
	int rc = wr__url_parse(url, &u);
	if (rc < 0)
		return rc;
	if (u.tls && !WR_TLS_BUILT)
		return -ENOTSUP;
	struct wr_client_spec *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (h)
		s->h = *h;
	s->handshake_ms = o && o->handshake_timeout_ms ? o->handshake_timeout_ms : 10000;
	char host[256], port[8];
	if (u.host.len >= sizeof(host)) {
		rc = -EINVAL;
		goto err;
	}
	memcpy(host, u.host.data, u.host.len);
	host[u.host.len] = 0;
	if (u.tls && !(s->sni = strdup(host))) {
		rc = -ENOMEM;
		goto err;
	}
	snprintf(port, sizeof(port), "%u", u.port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai;
	int gai = getaddrinfo(host, port, &hints, &ai);
	if (gai != 0) {
		rc = gai == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
		goto err;
	}
	memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
	s->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);

	wr_buf b = { 0 };
	rc = wr__client_request(&u, o, &b, &s->protocols);
	if (rc < 0) {
		wr__buf_free(&b);
		goto err;
	}
	s->request = (char *)b.data;
	s->request_len = b.len;
	*out = s;
	if (out_url)
		*out_url = u;
	return 0;
err:
	wr__client_spec_free(s);
	return rc;
}

/* "Sec-WebSocket-Key: <24>\r\n\r\n" appended to the shared request; fills the expected accept. */
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

/* Each connection gets its own generator, seeded from the reactor's (itself from getrandom):
 * one connection's keys say nothing about another's. */
static uint64_t seed(wr_reactor *r)
{
	if (!r->rng)
		r->rng = wr__rand_seed((uintptr_t)r);
	return wr__rand_next(&r->rng) | 1;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static char *dup_opt(const char *s, bool *ok)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*ok = false;
	return d;
}

/* The loop's context for this configuration, built on first use. */
static int loop_tls_ctx(wr_loop *loop, const wr_tls_config *cfg, struct wr_tls_ctx **out)
{
	static const wr_tls_config defaults = { 0 };
	if (!cfg)
		cfg = &defaults;
	for (tls_entry *e = loop->tls; e; e = e->next)
		if (same_str(e->cert_file, cfg->cert_file) && same_str(e->key_file, cfg->key_file) &&
		    same_str(e->ca_file, cfg->ca_file) && e->min_version == cfg->min_version &&
		    e->insecure == cfg->insecure && e->resume == cfg->resume) {
			*out = e->ctx;
			return 0;
		}
	tls_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	bool ok = true;
	e->cert_file = dup_opt(cfg->cert_file, &ok);
	e->key_file = dup_opt(cfg->key_file, &ok);
	e->ca_file = dup_opt(cfg->ca_file, &ok);
	e->min_version = cfg->min_version;
	e->insecure = cfg->insecure;
	e->resume = cfg->resume;
	int rc = ok ? wr__tls_ctx_new(cfg, false, &e->ctx) : -ENOMEM;
	if (rc < 0) {
		free(e->cert_file);
		free(e->key_file);
		free(e->ca_file);
		free(e);
		return rc;
	}
	e->next = loop->tls;
	loop->tls = e;
	*out = e->ctx;
	return 0;
}

int wr_loop_connect(wr_loop *loop, const char *url, const wr_client_options *opts,
                    const wr_ws_handlers *h)
{
	if (!loop || !url || !h)
		return -EINVAL;
	struct wr_client_spec *s;
	int rc = wr__client_spec_new(url, opts, h, &s, NULL);
	if (rc < 0)
		return rc;
	if (s->sni) {
		rc = loop_tls_ctx(loop, opts ? opts->tls : NULL, &s->tls);
		if (rc < 0)
			goto err;
	}
	wr_reactor *r = loop->r;
	int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto err;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	wr_conn *c = wr__conn_new(r, fd);
	if (!c) {
		close(fd);
		rc = -EMFILE;
		goto err;
	}
	c->client = s;
	c->state = WR_CONN_CONNECTING;
	c->flags |= WR_CF_CLIENT | WR_CF_OPENED; /* on_close is owed from here on */
	c->ws.h = &s->h;
	c->rng = seed(r);
	if (opts && opts->max_message_bytes)
		c->ws.parser.max_msg = opts->max_message_bytes; /* re-applied at start */
	wr__ring_connect(r->ring, fd, (struct sockaddr *)&s->addr, s->addrlen,
	                 wr_ud(WR_OPK_CONNECT, c->gen, c->idx));
	c->inflight++;
	wr__timer_arm(c, opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000);
	return 0;
err:
	wr__client_spec_free(s);
	return rc;
}

static void client_fail(wr_conn *c, int err, const char *why)
{
	c->ws.error = err;
	wr__ws_on_gone(c, WR_CLOSE_ABNORMAL, why);
	wr__conn_close_hard(c);
}

void wr__client_on_connect(wr_conn *c, int res)
{
	if (c->state != WR_CONN_CONNECTING)
		return;
	if (res < 0) {
		client_fail(c, res, wr_strerror(res));
		return;
	}
	struct wr_client_spec *s = c->client;
	c->state = WR_CONN_CLIENT_HS;
	if (s->tls) {
		/* The ClientHello goes out now; the upgrade request below waits, as plaintext, for
		 * the handshake to finish. The handshake timer covers both. */
		int rc = wr__tls_connect(c, s->tls, s->sni);
		if (rc < 0) {
			client_fail(c, rc, "TLS setup failed");
			return;
		}
	}
	char key_line[64];
	size_t kl = wr__client_key(&c->rng, key_line, s->accept);
	uint8_t *p = wr__conn_write_reserve(c, s->request_len + kl);
	if (!p) {
		client_fail(c, -ENOMEM, "out of memory");
		return;
	}
	memcpy(p, s->request, s->request_len);
	memcpy(p + s->request_len, key_line, kl);
	wr__timer_arm(c, s->handshake_ms);
	wr__conn_recv_arm(c);
}

void wr__client_on_data(wr_conn *c, uint8_t *p, size_t n)
{
	struct wr_client_spec *s = c->client;
	size_t seen = c->in.len; /* already searched for the end of the head */
	if (wr__buf_append(&c->in, p, n) < 0) {
		client_fail(c, -ENOMEM, "out of memory");
		return;
	}
	wr_http_resp_head h;
	int hl = wr__http_parse_response((const char *)c->in.data, c->in.len, seen, 16384, &h);
	if (hl == -EAGAIN)
		return;
	if (hl < 0) {
		client_fail(c, -EPROTO, "malformed handshake answer");
		return;
	}
	if (h.status != 101) {
		client_fail(c, h.status, "server refused the upgrade");
		return;
	}
	wr_str proto;
	if (wr__ws_check_response(&h, s->accept, (const char *const *)s->protocols, &proto) < 0) {
		client_fail(c, -EPROTO, "invalid handshake answer");
		return;
	}
	if (proto.len && proto.len < sizeof(c->ws.protocol)) {
		memcpy(c->ws.protocol, proto.data, proto.len);
		c->ws.protocol_len = (uint8_t)proto.len;
	}
	uint64_t max = c->ws.parser.max_msg;
	wr__ws_start(c, &s->h, NULL, true);
	if (max)
		c->ws.parser.max_msg = max;
	wr_buf rest = c->in;
	c->in = (wr_buf){ 0 };
	if (s->h.on_open)
		s->h.on_open((wr_ws *)c, NULL, s->h.user);
	if (c->state == WR_CONN_WS && rest.len > (size_t)hl)
		wr__ws_on_data(c, rest.data + hl, rest.len - (size_t)hl);
	wr__buf_free(&rest);
}
