/* Outgoing WebSocket connections on a reactor, for the async client's loop and for fibers
 * (wr_fiber_connect): each connection starts with the handshake protocol below (resolve,
 * connect trying every address, TLS if wss, the upgrade request, the answer's checks) and is
 * then handed to the WebSocket layer's client role. A connector keeps what connections to
 * many hosts share on one reactor: the resolver thread, TLS contexts, the seed of masking
 * keys. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "connect.h"
#include "http_parse.h"
#include "log.h"
#include "rand.h"
#include "reactor.h"
#include "request.h"
#include "tls.h"
#include "url.h"
#include "deflate_codec.h"
#include "ws.h"

#define MAX_HEAD 16384u   /* handshake answer head */

/* Client TLS contexts, one per distinct wr_tls_config seen by a connector: loading a
 * trust store is far too slow to repeat per connection. */
typedef struct tls_entry {
	struct tls_entry *next;
	struct wr_tls_ctx *ctx;
	char *cert_file, *key_file, *ca_file;
	int min_version;
	bool insecure, resume;
} tls_entry;

struct wr_connector {
	wr_reactor *r;
	wr_resolver *resolver;   /* created on the first host name */
	tls_entry *tls;
	uint64_t rng;            /* seeds each connection's own generator */
};

/* What one connection needs until it is open; owned by the connection (its WebSocket
 * state's hs slot) and freed when the handshake ends either way. */
typedef struct handshake {
	char *request;          /* the upgrade request up to the key header */
	size_t request_len;
	char **protocols;       /* NULL-terminated copies */
	char accept[29];        /* expected Sec-WebSocket-Accept */
	unsigned handshake_ms;
	char *sni;              /* wss: host name sent and verified; NULL for ws */
	struct wr_tls_ctx *tls; /* wss: the loop's */
	struct addrinfo *ai;    /* every address of the host... */
	struct addrinfo *next;  /* ...and the next one to try */
	struct sockaddr_storage bind_addr; /* source address (options' bind_addr), or family 0 */
	unsigned bind_len;
	wr_buf in;              /* the answer, until its head is complete */
} handshake;

static const wr_proto hs_proto;

static handshake *hs_of(wr_conn *c)
{
	return ((wr_ws_client_state *)c->ps)->hs;
}

static void hs_free(handshake *hs)
{
	if (!hs)
		return;
	free(hs->request);
	free(hs->sni);
	wr__client_protocols_free(hs->protocols);
	if (hs->ai)
		freeaddrinfo(hs->ai);
	wr__buf_free(&hs->in);
	free(hs);
}

/* ---- the connector ---- */

wr_connector *wr__connector_new(wr_reactor *r)
{
	wr_connector *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->r = r;
	k->rng = wr__rand_seed((uintptr_t)k);
	return k;
}

void wr__connector_stop(wr_connector *k)
{
	if (!k)
		return;
	wr__resolver_free(k->resolver);
	k->resolver = NULL;
}

void wr__connector_free(wr_connector *k)
{
	if (!k)
		return;
	wr__connector_stop(k);
	if (k->tls)
		wr__tls_thread_done();
	for (tls_entry *e = k->tls, *n; e; e = n) {
		n = e->next;
		wr__tls_ctx_free(e->ctx);
		free(e->cert_file);
		free(e->key_file);
		free(e->ca_file);
		free(e);
	}
	free(k);
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

/* The connector's context for this configuration, built on first use. */
static int loop_tls_ctx(wr_connector *k, const wr_tls_config *cfg, struct wr_tls_ctx **out)
{
	static const wr_tls_config defaults = { 0 };
	if (!cfg)
		cfg = &defaults;
	for (tls_entry *e = k->tls; e; e = e->next)
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
	static const wr_tls_opts opts = { .alpn = "http/1.1" };
	int rc = ok ? wr__tls_ctx_new(cfg, false, &opts, &e->ctx) : -ENOMEM;
	if (rc < 0) {
		free(e->cert_file);
		free(e->key_file);
		free(e->ca_file);
		free(e);
		return rc;
	}
	e->next = k->tls;
	k->tls = e;
	*out = e->ctx;
	return 0;
}

/* ---- one connection's handshake ---- */

/* Stop the handshake: on_close(1006, why) with wr_ws_error() = err (-errno, or the HTTP status
 * of a refusal), and close. */
static void hs_fail(wr_conn *c, int err, const char *why)
{
	wr__ws_report_failure(c, err, why);
	wr__conn_abort(c, err < 0 ? err : -EPROTO, why);
}

static int new_socket(const struct addrinfo *ai, const handshake *hs)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (hs->bind_len) {
		int rc = wr__bind_source(fd, (const struct sockaddr *)&hs->bind_addr, hs->bind_len);
		if (rc < 0) {
			close(fd);
			return rc;
		}
	}
	return fd;
}

/* Connect to the next address of the host; false when none is left. */
static bool connect_next(wr_conn *c, handshake *hs, int *out_err)
{
	while (hs->next) {
		struct addrinfo *ai = hs->next;
		hs->next = ai->ai_next;
		int fd = new_socket(ai, hs);
		if (fd < 0) {
			*out_err = fd;
			continue;
		}
		wr__conn_replace_fd(c, fd);
		wr__conn_connect(c, ai->ai_addr, ai->ai_addrlen);
		return true;
	}
	return false;
}

static void start_connect(wr_conn *c, handshake *hs, struct addrinfo *ai)
{
	hs->ai = hs->next = ai;
	int err = -EHOSTUNREACH;
	if (!connect_next(c, hs, &err))
		hs_fail(c, err, wr_strerror(err));
}

typedef struct resolving {
	wr_connector *k;
	uint64_t ref;
} resolving;

static void resolved(int res, struct addrinfo *ai, void *user)
{
	resolving *q = user;
	wr_conn *c = wr__conn_from_ref(q->k->r, q->ref);
	free(q);
	if (!c || c->proto != &hs_proto) {
		if (ai)
			freeaddrinfo(ai);
		return; /* the connection timed out or the loop went meanwhile */
	}
	if (res < 0)
		hs_fail(c, res, res == -EHOSTUNREACH ? "host name not resolved" : wr_strerror(res));
	else
		start_connect(c, hs_of(c), ai);
}

static void hs_on_connect(wr_conn *c, int res)
{
	handshake *hs = hs_of(c);
	if (res < 0) {
		int err = res;
		if (!connect_next(c, hs, &err))
			hs_fail(c, err, wr_strerror(err));
		return;
	}
	freeaddrinfo(hs->ai);
	hs->ai = hs->next = NULL;
	if (hs->tls) {
		/* The ClientHello goes out now; the upgrade request below waits, as plaintext, for
		 * the handshake to finish. The handshake timer covers both. */
		int rc = wr__conn_set_transport(c, &wr__tls_transport, hs->tls, hs->sni);
		if (rc < 0) {
			hs_fail(c, rc, "TLS setup failed");
			return;
		}
	}
	char key_line[64];
	size_t kl = wr__client_key(&((wr_ws_client_state *)c->ps)->rng, key_line, hs->accept);
	uint8_t *p = wr__conn_reserve(c, hs->request_len + kl);
	if (!p) {
		hs_fail(c, -ENOMEM, "out of memory");
		return;
	}
	memcpy(p, hs->request, hs->request_len);
	memcpy(p + hs->request_len, key_line, kl);
	wr__timer_arm(c, hs->handshake_ms);
	wr__conn_recv_arm(c);
}

static void hs_on_data(wr_conn *c, uint8_t *p, size_t n)
{
	handshake *hs = hs_of(c);
	size_t seen = hs->in.len; /* already searched for the end of the head */
	if (wr__buf_append(&hs->in, p, n) < 0) {
		hs_fail(c, -ENOMEM, "out of memory");
		return;
	}
	wr_http_resp_head h;
	int hl = wr__http_parse_response((const char *)hs->in.data, hs->in.len, seen, MAX_HEAD, &h);
	if (hl == -EAGAIN)
		return;
	if (hl < 0) {
		hs_fail(c, -EPROTO, "malformed handshake answer");
		return;
	}
	if (h.status != 101) {
		hs_fail(c, h.status, "server refused the upgrade");
		return;
	}
	wr_str proto;
	wr_ws_client_state *cs = c->ps;
	wr_pmd_params pmd;
	int rc = wr__ws_check_response(&h, hs->accept, (const char *const *)hs->protocols,
	                               cs->rt.h.deflate.enable ? &cs->rt.h.deflate : NULL, &proto,
	                               &pmd);
	if (rc < 0) {
		hs_fail(c, -EPROTO, "invalid handshake answer");
		return;
	}
	/* The handshake's record goes; the answer's bytes (the subprotocol, frames that came
	 * with it) live until the WebSocket layer has taken them. */
	wr_buf in = hs->in;
	hs->in = (wr_buf){ 0 };
	hs_free(hs);
	((wr_ws_client_state *)c->ps)->hs = NULL;
	wr__ws_client_open(c, proto, rc > 0 ? &pmd : NULL, in.data + hl, in.len - (size_t)hl);
	wr__buf_free(&in);
}

static void hs_on_timer(wr_conn *c)
{
	hs_fail(c, -ETIMEDOUT, "handshake timeout");
}

static void hs_on_gone(wr_conn *c, int err, const char *why)
{
	/* Dropped before the answer (end of stream, a send or TLS failure). */
	wr__ws_report_failure(c, err < 0 ? err : -ECONNRESET, why);
}

static void hs_on_shutdown(wr_conn *c)
{
	hs_fail(c, -ECANCELED, "loop stopped");
}

static void hs_proto_free(wr_conn *c)
{
	hs_free(hs_of(c));
	wr__ws_state_free(c);
}

static const wr_proto hs_proto = {
	.name = "websocket client handshake",
	.on_data = hs_on_data,
	.on_timer = hs_on_timer,
	.on_connect = hs_on_connect,
	.on_gone = hs_on_gone,
	.on_shutdown = hs_on_shutdown,
	.free = hs_proto_free,
};

/* What the connection needs until it is open, from the URL and options. */
static int hs_new(wr_connector *k, const wr_url *u, const wr_client_options *o, handshake **out)
{
	handshake *hs = calloc(1, sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	hs->handshake_ms = o && o->handshake_timeout_ms ? o->handshake_timeout_ms : 10000;
	int rc = 0;
	if (o && o->bind_addr) {
		if (o->bind_addr_len < sizeof(sa_family_t) || o->bind_addr_len > sizeof(hs->bind_addr))
			rc = -EINVAL;
		else
			memcpy(&hs->bind_addr, o->bind_addr, hs->bind_len = o->bind_addr_len);
	}
	if (rc == 0 && u->tls) {
		char host[256];
		rc = wr__url_host(u, host);
		if (rc == 0 && !(hs->sni = strdup(o && o->server_name ? o->server_name : host)))
			rc = -ENOMEM;
		if (rc == 0)
			rc = loop_tls_ctx(k, o ? o->tls : NULL, &hs->tls);
	}
	wr_buf b = { 0 };
	if (rc == 0)
		rc = wr__client_request(u, o, &b, &hs->protocols);
	hs->request = (char *)b.data;
	hs->request_len = b.len;
	if (rc < 0) {
		hs_free(hs);
		return rc;
	}
	*out = hs;
	return 0;
}

/* The options' address as an addrinfo list of one, from the resolver's own numeric path so
 * that it is freed like any other answer. */
static int given_addr(const wr_client_options *o, struct addrinfo **out)
{
	char host[INET6_ADDRSTRLEN + 1], port[8];
	if (o->addr_len < sizeof(sa_family_t) ||
	    getnameinfo(o->addr, o->addr_len, host, sizeof(host), port, sizeof(port),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -EINVAL;
	return wr__addr_resolve_numeric(host, (uint16_t)atoi(port), out);
}

int wr__connector_connect(wr_connector *k, const char *url, const wr_client_options *opts,
                          const wr_ws_handlers *h, const wr_connect_extra *extra)
{
	if (!k || !url || !h)
		return -EINVAL;
	wr_url u;
	int rc = wr__url_parse(url, &u);
	if (rc < 0)
		return rc;
	if (u.tls && !WR_TLS_BUILT)
		return -ENOTSUP;
	char host[256];
	rc = wr__url_host(&u, host);
	if (rc < 0)
		return rc;
	handshake *hs;
	rc = hs_new(k, &u, opts, &hs);
	if (rc < 0)
		return rc;
	/* A numeric host is resolved here; a name on the resolver's thread, never this one. An
	 * address given in the options is the only one tried. */
	struct addrinfo *ai = NULL;
	int nrc = opts && opts->addr ? given_addr(opts, &ai) :
		wr__addr_resolve_numeric(host, u.port, &ai);
	if (nrc < 0 && nrc != -EAGAIN) {
		hs_free(hs);
		return nrc;
	}
	if (nrc == -EAGAIN && !k->resolver && (rc = wr__resolver_new(k->r, &k->resolver)) < 0)
		goto err_hs;
	/* With the address known, a socket that cannot be made is the caller's error now. */
	int fd = ai ? new_socket(ai, hs) : -1;
	if (ai && fd < 0) {
		rc = fd;
		goto err_hs;
	}
	wr_conn *c = wr__conn_new(k->r, fd);
	if (!c) {
		if (fd >= 0)
			close(fd);
		rc = -EMFILE;
		goto err_hs;
	}
	wr_ws_route rt = {
		.h = *h,
		/* The route copy carries the client's offer, for checking the answer and after. */
		.cfg = { .max_message_bytes = opts ? opts->max_message_bytes : 0,
		         .max_message_frames = wr__client_max_frames(opts),
		         /* as the server: a ping after this much silence, a failure after as much
		          * again; by default clients only answer pings */
		         .ping_interval_ms = opts && opts->ping_interval_ms ? opts->ping_interval_ms
		                                                           : (unsigned)-1,
		         .close_timeout_ms = opts && opts->close_timeout_ms ? opts->close_timeout_ms : 5000 },
	};
	rt.h.deflate = opts ? opts->deflate : (wr_deflate_config){ 0 };
	if (extra)
		rt.on_pressure = extra->on_pressure;
	wr_ws_client_state *cs = wr__ws_client_new(c, &rt, wr__rand_next(&k->rng));
	if (!cs) {
		wr__conn_abort(c, -ENOMEM, "out of memory");
		rc = -ENOMEM;
		goto err_hs;
	}
	cs->hs = hs;
	if (extra) {
		/* Before anything can be reported: a failure below already calls on_close. */
		cs->ws.data = extra->data;
		if (extra->out_conn)
			*extra->out_conn = c;
	}
	wr__conn_set_proto(c, &hs_proto, cs);
	wr__timer_arm(c, opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000);
	if (ai) {
		hs->ai = ai;
		hs->next = ai->ai_next;
		wr__conn_connect(c, ai->ai_addr, ai->ai_addrlen);
		return 0;
	}
	resolving *q = malloc(sizeof(*q));
	rc = -ENOMEM;
	if (q) {
		*q = (resolving){ .k = k, .ref = wr__conn_ref(c) };
		rc = wr__resolver_start(k->resolver, host, u.port, resolved, q);
	}
	if (rc < 0) {
		free(q);
		hs_fail(c, rc, wr_strerror(rc));
	}
	return 0; /* from here on, failures are reported through on_close */

err_hs:
	if (ai)
		freeaddrinfo(ai);
	hs_free(hs);
	return rc;
}
