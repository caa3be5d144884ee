/* Metrics out of a server: the snapshot (wr_server_stats) summed over the reactors' own
 * counters without a lock, its Prometheus text exposition (wr_stats_text), and the built-in
 * handler that serves it (wr_server_metrics). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "tls.h"

#define L WR_STAT_LOAD

/* The snapshot and the histograms it owns, in one block with it. */
typedef struct snapshot {
	wr_stats st;
	wr_hist *hists[4];        /* loop_turn, send_complete; then 2 per route in routes_h */
	wr_hist **routes_h;
	wr_hist **http_h;         /* 1 per HTTP route */
} snapshot;

static wr_hist *small_hist(void)
{
	return wr_hist_new(WR_HIST_SMALL_SUB_BITS, WR_HIST_SMALL_MAX_BITS);
}

static void hist_view(wr_stats_hist *v, const wr_hist *h)
{
	*v = (wr_stats_hist){ .count = h->total, .sum_ns = (uint64_t)h->sum, .max_ns = h->max,
	                      .h = h };
}

uint64_t wr_stats_percentile(const wr_stats_hist *h, double p)
{
	return h && h->h ? wr_hist_percentile(h->h, p) : 0;
}

void wr_stats_free(wr_stats *st)
{
	if (!st)
		return;
	snapshot *s = (snapshot *)st;
	free(s->hists[0]);
	free(s->hists[1]);
	for (size_t i = 0; s->routes_h && i < 2 * st->nroutes; i++)
		free(s->routes_h[i]);
	free(s->routes_h);
	for (size_t i = 0; s->http_h && i < st->nhttp_routes; i++)
		free(s->http_h[i]);
	free(s->http_h);
	free(st->http_routes);
	free(st->routes);
	free(s);
}

/* The counter slots the layers took in the reactor's stats (core stats.h): each layer picks
 * its own without seeing the others, so they are checked here, where all are seen. Distinct
 * slots' bits add up to their union, without a carry; a slot out of range takes bit 31. */
#define TAKEN(F) F(WR_TLS_COUNT_FULL) F(WR_TLS_COUNT_RESUMED) F(WR_WS_COUNT_PUBSUB_DROPS) \
                 F(WR_WS_COUNT_PUBSUB_CONFLATIONS)
#define SLOT(k) ((k) < WR_STATS_COUNTERS ? 1u << (k) : 1u << 31)
#define PLUS_SLOT(k) + SLOT(k)
#define OR_SLOT(k) | SLOT(k)
_Static_assert(WR_STATS_COUNTERS < 31 && (0 TAKEN(PLUS_SLOT)) == (0 TAKEN(OR_SLOT)) &&
               !((0 TAKEN(OR_SLOT)) & 1u << 31),
               "counter slots: two layers took the same one, or one is out of range");

static void add_reactor(wr_stats *t, const wr_reactor_stats *r)
{
	/* freed read before accepted: a connection is never seen gone without its accept */
	uint64_t freed = L(r->freed), accepted = L(r->accepted);
	t->accepted += accepted;
	t->connections_open += accepted > freed ? accepted - freed : 0;
	for (unsigned k = 0; k < WR_STATS_REFUSALS; k++)
		t->refused[k] += L(r->refused[k]);
	t->socket_bytes_in += L(r->bytes_in);
	t->socket_bytes_out += L(r->bytes_out);
	t->cutoffs += L(r->cutoffs);
	t->tls_full += L(r->counter[WR_TLS_COUNT_FULL]);
	t->tls_resumed += L(r->counter[WR_TLS_COUNT_RESUMED]);
	t->send_zc += L(r->send_zc);
	t->send_zc_copied += L(r->send_zc_copied);
	for (unsigned k = 0; k < WR_STATS_PARSE_ERRORS; k++)
		t->parse_errors[k] += L(r->parse_errors[k]);
	t->pubsub_drops += L(r->counter[WR_WS_COUNT_PUBSUB_DROPS]);
	t->pubsub_conflations += L(r->counter[WR_WS_COUNT_PUBSUB_CONFLATIONS]);
	t->send_queued_bytes += L(r->send_queued);
	t->pool_bytes += L(r->pool_bytes);
	t->memory_used_bytes += L(r->mem_used);
	t->recv_buffers_kernel += L(r->rbufs_kernel);
	t->recv_buffers_total += L(r->rbufs_total);
}

static void add_route(wr_stats_route *t, const wr_route_stats *r)
{
	for (unsigned k = 0; k < WR_STATS_MSG_TYPES; k++) {
		t->messages_in[k] += L(r->msgs_in[k]);
		t->bytes_in[k] += L(r->bytes_in[k]);
		t->messages_out[k] += L(r->msgs_out[k]);
		t->bytes_out[k] += L(r->bytes_out[k]);
	}
	uint64_t closed = 0;
	for (unsigned k = 0; k < WR_STATS_CLOSE_SLOTS; k++) {
		uint64_t n = L(r->closes[k]);
		t->closes[k] += n;
		closed += n;
	}
	t->cutoffs += L(r->cutoffs);
	/* opens read after the closes: a close is never counted without its open */
	uint64_t opens = L(r->opens);
	t->connections_open += opens > closed ? opens - closed : 0;
}

/* One HTTP route's stats on n reactors (NULL: none) into t and its histogram h. */
static void add_http_route(wr_stats_http_route *t, wr_hist *h, const wr_http_route_stats *rs,
                           unsigned n)
{
	for (unsigned i = 0; rs && i < n; i++) {
		t->requests += L(rs[i].requests);
		for (unsigned k = 0; k < WR_STATS_STATUS_CLASSES; k++)
			t->responses[k] += L(rs[i].responses[k]);
		wr_hist_add(h, rs[i].handler);
	}
	hist_view(&t->handler, h);
}

/* The HTTP routes, then the requests no route took. */
static int http_routes(wr_server *srv, snapshot *s, unsigned n)
{
	wr_stats *st = &s->st;
	size_t nr = wr__server_http_routes(srv);
	st->http_routes = calloc(nr + 1, sizeof(*st->http_routes));
	s->http_h = calloc(nr + 1, sizeof(wr_hist *));
	if (!st->http_routes || !s->http_h)
		return -ENOMEM;
	for (size_t k = 0; k <= nr; k++) {
		wr_stats_http_route *t = &st->http_routes[k];
		s->http_h[k] = small_hist();
		if (!s->http_h[k])
			return -ENOMEM;
		st->nhttp_routes = k + 1; /* what wr_stats_free frees */
		const wr_http_route_stats *rs;
		if (k < nr) {
			const wr_http_route_rec *rec = wr__server_http_route(srv, (unsigned)k);
			t->path = rec->pattern;
			t->method = rec->method;
			rs = rec->stats;
		} else {
			t->path = t->method = "";
			rs = wr__server_http_unmatched(srv);
		}
		add_http_route(t, s->http_h[k], rs, n);
	}
	return 0;
}

int wr_server_stats(wr_server *srv, wr_stats **out)
{
	const wr_reactor_stats *rs;
	unsigned n = srv ? wr__server_stats(srv, &rs) : 0;
	if (!n)
		return -EINVAL;
	snapshot *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	wr_stats *st = &s->st;
	st->reactors = n;
	st->nroutes = wr__server_ws_routes(srv);
	s->hists[0] = small_hist();
	s->hists[1] = small_hist();
	st->routes = calloc(st->nroutes ? st->nroutes : 1, sizeof(*st->routes));
	s->routes_h = calloc(2 * st->nroutes + 1, sizeof(wr_hist *));
	if (!s->hists[0] || !s->hists[1] || !st->routes || !s->routes_h)
		goto err;
	for (unsigned i = 0; i < n; i++) {
		add_reactor(st, &rs[i]);
		wr_hist_add(s->hists[0], rs[i].turn);
		wr_hist_add(s->hists[1], rs[i].send_complete);
	}
	hist_view(&st->loop_turn, s->hists[0]);
	hist_view(&st->send_complete, s->hists[1]);
	for (size_t k = 0; k < st->nroutes; k++) {
		wr_stats_route *t = &st->routes[k];
		const wr_ws_route *rt = wr__server_ws_route(srv, (unsigned)k, &t->path);
		wr_hist *hh = s->routes_h[2 * k] = small_hist();
		wr_hist *hr = s->routes_h[2 * k + 1] = small_hist();
		if (!hh || !hr)
			goto err;
		for (unsigned i = 0; rt->stats && i < n; i++) {
			add_route(t, &rt->stats[i]);
			wr_hist_add(hh, rt->stats[i].handler);
			wr_hist_add(hr, rt->stats[i].receive);
		}
		hist_view(&t->handler, hh);
		hist_view(&t->receive, hr);
	}
	if (http_routes(srv, s, n) < 0)
		goto err;
	*out = st;
	return 0;
err:
	wr_stats_free(st);
	return -ENOMEM;
}

/* ---- the Prometheus text format (exposition format 0.0.4) ---- */

typedef struct out {
	char *p;
	size_t len, cap;
	bool failed;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
	if (o->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap * 2 + (size_t)n;
		char *q = realloc(o->p, cap);
		if (!q) {
			o->failed = true;
			return;
		}
		o->p = q;
		o->cap = cap;
	}
}

static void family(out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. The result lives in buf. */
static const char *esc(const char *v, char *buf, size_t cap)
{
	size_t j = 0;
	for (; *v && j + 3 < cap; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n') {
			buf[j++] = '\\';
			buf[j++] = *v == '\n' ? 'n' : *v;
		} else {
			buf[j++] = *v;
		}
	}
	buf[j] = 0;
	return buf;
}

static const char *const type_names[WR_STATS_MSG_TYPES] = { "text", "binary", "ping", "pong",
                                                            "close" };
static const char *const refusal_names[WR_STATS_REFUSALS] = { "limit", "handshake", "tls",
                                                              "emfile" };
static const char *const perr_names[WR_STATS_PARSE_ERRORS] = {
	"http_malformed", "http_too_large", "ws_protocol", "ws_invalid_data", "ws_too_big" };

/* Bucket bounds in seconds, 1-2.5-5 from 1 us to 10 s. A bucket counts the values whose
 * histogram slot lies wholly at or below the bound: exact to the slot (6.25%). */
static const double bounds[] = { 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
                                 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1,
                                 2.5, 5, 10 };

/* One histogram's series; labels is "" or `name="value",` pieces. */
static void hist_series(out *o, const char *name, const char *labels, const wr_stats_hist *v)
{
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
		put(o, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bounds[i],
		    (unsigned long long)wr_hist_count_le(v->h, (uint64_t)(bounds[i] * 1e9 + 0.5)));
	put(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)v->count);
	size_t ll = strlen(labels);
	/* _sum and _count carry the labels without the trailing comma */
	put(o, "%s_sum%s%.*s%s %.9f\n", name, ll ? "{" : "", ll ? (int)ll - 1 : 0, labels,
	    ll ? "}" : "", (double)v->sum_ns / 1e9);
	put(o, "%s_count%s%.*s%s %llu\n", name, ll ? "{" : "", ll ? (int)ll - 1 : 0, labels,
	    ll ? "}" : "", (unsigned long long)v->count);
}

static void counter1(out *o, const char *name, const char *help, uint64_t v)
{
	family(o, name, "counter", help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge1(out *o, const char *name, const char *help, uint64_t v)
{
	family(o, name, "gauge", help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

/* A per-route counter by message type. */
static void by_type(out *o, const wr_stats *st, const char *name, const char *help,
                    size_t field)
{
	family(o, name, "counter", help);
	char lb[256];
	for (size_t r = 0; r < st->nroutes; r++) {
		const uint64_t *a = (const uint64_t *)((const char *)&st->routes[r] + field);
		esc(st->routes[r].path, lb, sizeof(lb));
		for (unsigned t = 0; t < WR_STATS_MSG_TYPES; t++)
			put(o, "%s{route=\"%s\",type=\"%s\"} %llu\n", name, lb, type_names[t],
			    (unsigned long long)a[t]);
	}
}

static void close_label(unsigned slot, char *buf, size_t cap)
{
	if (slot < 16)
		snprintf(buf, cap, "%u", 1000 + slot);
	else
		snprintf(buf, cap, "%s", slot == 16 ? "3xxx" : slot == 17 ? "4xxx" : "other");
}

/* `route="...",method="...",` of an HTTP route, in buf. */
static void http_labels(const wr_stats_http_route *h, char *buf, size_t cap)
{
	char p[256], m[64];
	snprintf(buf, cap, "route=\"%s\",method=\"%s\",", esc(h->path, p, sizeof(p)),
	         esc(h->method, m, sizeof(m)));
}

char *wr_stats_text(const wr_stats *st, size_t *out_len)
{
	out o = { .cap = 16384 };
	o.p = malloc(o.cap);
	if (!o.p)
		return NULL;
	o.p[0] = 0;
	char lb[256], lab[400];

	counter1(&o, "wring_connections_accepted_total", "Connections accepted.", st->accepted);
	family(&o, "wring_connections_refused_total", "counter",
	       "Connections refused or dropped before being served, by cause.");
	for (unsigned k = 0; k < WR_STATS_REFUSALS; k++)
		put(&o, "wring_connections_refused_total{cause=\"%s\"} %llu\n", refusal_names[k],
		    (unsigned long long)st->refused[k]);
	gauge1(&o, "wring_connections_open", "Open connections.",
	       st->connections_open);
	counter1(&o, "wring_socket_received_bytes_total", "Bytes received from sockets.",
	         st->socket_bytes_in);
	counter1(&o, "wring_socket_sent_bytes_total", "Bytes sent to sockets.",
	         st->socket_bytes_out);

	family(&o, "wring_backpressure_cutoffs_total", "counter",
	       "Slow consumers closed past max_send_buffer.");
	uint64_t ws_cut = 0;
	for (size_t r = 0; r < st->nroutes; r++) {
		ws_cut += st->routes[r].cutoffs;
		put(&o, "wring_backpressure_cutoffs_total{route=\"%s\"} %llu\n",
		    esc(st->routes[r].path, lb, sizeof(lb)), (unsigned long long)st->routes[r].cutoffs);
	}
	/* The rest are HTTP connections (the route is not known by then). */
	put(&o, "wring_backpressure_cutoffs_total{route=\"\"} %llu\n",
	    (unsigned long long)(st->cutoffs > ws_cut ? st->cutoffs - ws_cut : 0));

	family(&o, "wring_tls_handshakes_total", "counter", "TLS handshakes completed, by kind.");
	put(&o, "wring_tls_handshakes_total{kind=\"full\"} %llu\n", (unsigned long long)st->tls_full);
	put(&o, "wring_tls_handshakes_total{kind=\"resumed\"} %llu\n",
	    (unsigned long long)st->tls_resumed);
	family(&o, "wring_send_zc_total", "counter",
	       "Zero-copy sends, and those the kernel reported it copied anyway.");
	put(&o, "wring_send_zc_total{result=\"sent\"} %llu\n", (unsigned long long)st->send_zc);
	put(&o, "wring_send_zc_total{result=\"copied\"} %llu\n",
	    (unsigned long long)st->send_zc_copied);
	family(&o, "wring_parse_errors_total", "counter", "Bad input from peers, by kind.");
	for (unsigned k = 0; k < WR_STATS_PARSE_ERRORS; k++)
		put(&o, "wring_parse_errors_total{kind=\"%s\"} %llu\n", perr_names[k],
		    (unsigned long long)st->parse_errors[k]);
	counter1(&o, "wring_pubsub_drops_total", "Pub/sub messages dropped for slow subscribers.",
	         st->pubsub_drops);
	counter1(&o, "wring_pubsub_conflations_total",
	         "Pub/sub messages replaced by a newer one before they were sent.",
	         st->pubsub_conflations);
	gauge1(&o, "wring_send_queued_bytes", "Output queued and not yet sent.",
	       st->send_queued_bytes);
	gauge1(&o, "wring_pool_bytes", "Protocol and transport state memory in use.",
	       st->pool_bytes);
	gauge1(&o, "wring_memory_used_bytes",
	       "What the memory budget counts: queued output, reassembly and inflate buffers.",
	       st->memory_used_bytes);
	gauge1(&o, "wring_recv_buffers_kernel", "Provided receive buffers lent to the kernel.",
	       st->recv_buffers_kernel);
	gauge1(&o, "wring_recv_buffers_capacity", "Provided receive buffers in all.",
	       st->recv_buffers_total);

	family(&o, "wring_loop_turn_seconds", "histogram",
	       "Busy time of a reactor loop turn (completions dispatched).");
	hist_series(&o, "wring_loop_turn_seconds", "", &st->loop_turn);
	family(&o, "wring_send_completion_seconds", "histogram",
	       "Time from a send's submission to its completion.");
	hist_series(&o, "wring_send_completion_seconds", "", &st->send_complete);

	by_type(&o, st, "wring_messages_received_total",
	        "WebSocket messages (and control frames) received, by route and type.",
	        offsetof(wr_stats_route, messages_in));
	by_type(&o, st, "wring_messages_sent_total",
	        "WebSocket messages (and control frames) sent, by route and type.",
	        offsetof(wr_stats_route, messages_out));
	by_type(&o, st, "wring_message_received_bytes_total",
	        "WebSocket payload bytes received (after inflation), by route and type.",
	        offsetof(wr_stats_route, bytes_in));
	by_type(&o, st, "wring_message_sent_bytes_total",
	        "WebSocket payload bytes sent (before compression), by route and type.",
	        offsetof(wr_stats_route, bytes_out));
	family(&o, "wring_closes_total", "counter",
	       "WebSocket connections closed, by route and close code (1006: dropped).");
	for (size_t r = 0; r < st->nroutes; r++) {
		esc(st->routes[r].path, lb, sizeof(lb));
		for (unsigned k = 0; k < WR_STATS_CLOSE_SLOTS; k++) {
			char code[8];
			close_label(k, code, sizeof(code));
			put(&o, "wring_closes_total{route=\"%s\",code=\"%s\"} %llu\n", lb, code,
			    (unsigned long long)st->routes[r].closes[k]);
		}
	}
	family(&o, "wring_websocket_connections_open", "gauge", "Open WebSocket connections, by route.");
	for (size_t r = 0; r < st->nroutes; r++)
		put(&o, "wring_websocket_connections_open{route=\"%s\"} %llu\n",
		    esc(st->routes[r].path, lb, sizeof(lb)),
		    (unsigned long long)st->routes[r].connections_open);
	family(&o, "wring_handler_seconds", "histogram", "Time in on_message, by route.");
	for (size_t r = 0; r < st->nroutes; r++) {
		snprintf(lab, sizeof(lab), "route=\"%s\",", esc(st->routes[r].path, lb, sizeof(lb)));
		hist_series(&o, "wring_handler_seconds", lab, &st->routes[r].handler);
	}
	family(&o, "wring_receive_to_handler_seconds", "histogram",
	       "Time from a message's receive completion to its handler, by route.");
	for (size_t r = 0; r < st->nroutes; r++) {
		snprintf(lab, sizeof(lab), "route=\"%s\",", esc(st->routes[r].path, lb, sizeof(lb)));
		hist_series(&o, "wring_receive_to_handler_seconds", lab, &st->routes[r].receive);
	}

	/* HTTP routes are labelled by pattern (bounded, unlike paths) and method; route ""
	 * stands for the requests no route took. */
	family(&o, "wring_http_requests_total", "counter",
	       "HTTP requests, by route pattern and method (route \"\": no route matched).");
	for (size_t r = 0; r < st->nhttp_routes; r++) {
		const wr_stats_http_route *h = &st->http_routes[r];
		http_labels(h, lab, sizeof(lab));
		put(&o, "wring_http_requests_total{%.*s} %llu\n", (int)strlen(lab) - 1, lab,
		    (unsigned long long)h->requests);
	}
	family(&o, "wring_http_responses_total", "counter",
	       "HTTP responses, by route pattern, method and status class.");
	for (size_t r = 0; r < st->nhttp_routes; r++) {
		const wr_stats_http_route *h = &st->http_routes[r];
		http_labels(h, lab, sizeof(lab));
		for (unsigned k = 0; k < WR_STATS_STATUS_CLASSES; k++)
			put(&o, "wring_http_responses_total{%scode=\"%uxx\"} %llu\n", lab, k + 1,
			    (unsigned long long)h->responses[k]);
	}
	family(&o, "wring_http_handler_seconds", "histogram",
	       "Time in HTTP handlers, by route pattern and method.");
	for (size_t r = 0; r < st->nhttp_routes; r++) {
		http_labels(&st->http_routes[r], lab, sizeof(lab));
		hist_series(&o, "wring_http_handler_seconds", lab, &st->http_routes[r].handler);
	}
	if (o.failed) {
		free(o.p);
		return NULL;
	}
	if (out_len)
		*out_len = o.len;
	return o.p;
}

/* ---- the built-in handler ---- */

static void metrics_handler(wr_req *req, wr_res *res, void *user)
{
	wr_stats *st;
	char *text = NULL;
	size_t len = 0;
	int rc = wr_server_stats(user, &st);
	if (rc == 0) {
		text = wr_stats_text(st, &len);
		wr_stats_free(st);
	}
	if (!text) {
		wr_res_status(res, rc == -EINVAL ? 404 : 503);
		wr_res_text(res, rc == -EINVAL ? "metrics are off\n" : "out of memory\n");
		return;
	}
	wr_res_header(res, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	wr_res_body(res, text, len);
	free(text);
}

int wr_server_metrics(wr_server *srv, const char *path)
{
	return wr_server_get(srv, path, metrics_handler, srv);
}
