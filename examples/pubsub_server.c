/* Pub/sub: WebSocket clients of /sub?topic=NAME (repeatable; "prices.*" patterns too) receive
 * every message published on those topics; every message a client of /pub?topic=NAME sends
 * is published on NAME (with &key=K: conflated by K under the conflate policy). GET / serves
 * a page with a live ticker, fed by a thread of this program publishing on "ticker" (not a
 * reactor: any thread may publish). GET /stats answers the pub/sub counts as JSON.
 *
 * Usage: pubsub_server [PORT]   (default 8080)
 * Environment: WR_THREADS reactors (default one per CPU); WR_TICKER_MS the ticker's period
 * (default 250, 0: no ticker); WR_POLICY drop|conflate|close and WR_LIMIT, the policy of
 * every topic (default drop, 1024); WR_DEFLATE=1 or shared accepts permessage-deflate. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <wring.h>

#include "serve.h"

static wr_server *srv;
static atomic_bool stopping;

static const char page[] =
	"<!doctype html><meta charset=utf-8><title>wring ticker</title>\n"
	"<style>body{font:16px monospace;margin:2em}#px{font-size:3em}</style>\n"
	"<h1>ticker</h1><div id=px>-</div><pre id=log></pre>\n<script>\n"
	"const px = document.getElementById('px'), log = document.getElementById('log');\n"
	"const ws = new WebSocket(`ws://${location.host}/sub?topic=ticker`);\n"
	"let n = 0;\n"
	"ws.onmessage = e => {\n"
	"  const m = JSON.parse(e.data);\n"
	"  px.textContent = m.symbol + ' ' + m.price.toFixed(2);\n"
	"  window.wrTicks = ++n;\n"
	"  log.textContent = `${n} ticks, last at ${new Date(m.t / 1e6).toISOString()}`;\n"
	"};\n"
	"ws.onclose = e => { log.textContent += `\\nclosed ${e.code}`; };\n"
	"</script>\n";

static void index_page(wr_req *req, wr_res *res, void *user)
{
	wr_res_header(res, "Content-Type", "text/html; charset=utf-8");
	wr_res_body(res, page, sizeof(page) - 1);
}

static void stats_page(wr_req *req, wr_res *res, void *user)
{
	wr_pubsub_stats st;
	wr_server_pubsub_stats(srv, &st);
	char b[512];
	int n = snprintf(b, sizeof(b),
	                 "{\"published\":%llu,\"delivered\":%llu,\"dropped\":%llu,\"conflated\":%llu,"
	                 "\"closed\":%llu,\"unrouted\":%llu,\"subscriptions\":%llu,\"waiting\":%llu,"
	                 "\"compressed\":%llu}\n",
	                 (unsigned long long)st.published, (unsigned long long)st.delivered,
	                 (unsigned long long)st.dropped, (unsigned long long)st.conflated,
	                 (unsigned long long)st.closed, (unsigned long long)st.unrouted,
	                 (unsigned long long)st.subscriptions, (unsigned long long)st.waiting,
	                 (unsigned long long)st.compressed);
	wr_res_header(res, "Content-Type", "application/json");
	wr_res_body(res, b, (size_t)n);
}

/* The next value of `name` in a query string (a=1&b=2), %-decoded into out; the rest of the
 * query after it in *q. false when there is none. */
static bool next_param(wr_str *q, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	while (q->len) {
		const char *amp = memchr(q->data, '&', q->len);
		size_t pl = amp ? (size_t)(amp - q->data) : q->len;
		const char *p = q->data;
		q->data += amp ? pl + 1 : pl;
		q->len -= amp ? pl + 1 : pl;
		if (pl <= nl || memcmp(p, name, nl) != 0 || p[nl] != '=')
			continue;
		size_t o = 0;
		for (size_t i = nl + 1; i < pl && o + 1 < cap; i++) {
			unsigned v;
			if (p[i] == '%' && i + 2 < pl + 1 && sscanf(p + i + 1, "%2x", &v) == 1) {
				out[o++] = (char)v;
				i += 2;
			} else {
				out[o++] = p[i] == '+' ? ' ' : p[i];
			}
		}
		out[o] = 0;
		return true;
	}
	return false;
}

static void sub_open(wr_ws *ws, const wr_req *req, void *user)
{
	wr_str q = wr_req_query(req);
	char topic[256];
	int n = 0;
	while (next_param(&q, "topic", topic, sizeof(topic))) {
		int rc = wr_ws_subscribe(ws, topic);
		if (rc < 0) {
			wr_ws_close(ws, WR_CLOSE_POLICY_VIOLATION, wr_strerror(rc));
			return;
		}
		n++;
	}
	if (!n)
		wr_ws_close(ws, WR_CLOSE_POLICY_VIOLATION, "no topic");
}

/* A publisher connection's topic and key, from its handshake. */
typedef struct pub_conn {
	char topic[256];
	char key[256];
	bool keyed;
} pub_conn;

static void pub_open(wr_ws *ws, const wr_req *req, void *user)
{
	pub_conn *p = calloc(1, sizeof(*p));
	wr_str q = wr_req_query(req), q2 = q;
	if (!p || !next_param(&q, "topic", p->topic, sizeof(p->topic))) {
		free(p);
		wr_ws_close(ws, WR_CLOSE_POLICY_VIOLATION, "no topic");
		return;
	}
	p->keyed = next_param(&q2, "key", p->key, sizeof(p->key));
	wr_ws_set_data(ws, p);
}

static void pub_message(wr_ws *ws, wr_msg msg, void *user)
{
	pub_conn *p = wr_ws_data(ws);
	if (!p)
		return;
	int rc = wr_server_publish_keyed(srv, p->topic, p->keyed ? p->key : NULL, msg.data,
	                                 msg.len, msg.opcode);
	if (rc < 0 && rc != -EAGAIN)
		wr_ws_close(ws, WR_CLOSE_POLICY_VIOLATION, wr_strerror(rc));
}

static void pub_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	free(wr_ws_data(ws));
	wr_ws_set_data(ws, NULL);
}

/* The ticker: a plain thread, publishing as any thread may. */
static void *ticker(void *arg)
{
	unsigned ms = *(unsigned *)arg;
	double price = 100.0;
	unsigned seed = 1;
	while (!atomic_load(&stopping)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		price += ((double)(rand_r(&seed) % 200) - 99.5) / 100.0;
		char m[128];
		int n = snprintf(m, sizeof(m), "{\"symbol\":\"WRNG\",\"price\":%.2f,\"t\":%lld}", price,
		                 (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec);
		wr_server_publish(srv, "ticker", m, (size_t)n, WR_OP_TEXT);
		usleep(ms * 1000u);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	const char *threads = getenv("WR_THREADS"), *tick = getenv("WR_TICKER_MS");
	const char *pol = getenv("WR_POLICY"), *lim = getenv("WR_LIMIT"), *defl = getenv("WR_DEFLATE");
	wr_server_config cfg = { .threads = threads ? (unsigned)atoi(threads) : 0 };
	/* Fan-out to thousands of subscribers needs as many descriptors: the soft limit (often
	 * 1024) up to the hard one. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	srv = example_server_new(&cfg);
	if (!srv)
		return 1;
	wr_topic_config tc = {
		.policy = !pol || !strcmp(pol, "drop") ? WR_TOPIC_DROP_OLDEST
		          : !strcmp(pol, "conflate")   ? WR_TOPIC_CONFLATE
		                                       : WR_TOPIC_CLOSE,
		.limit = lim ? (unsigned)atoi(lim) : 0,
	};
	wr_server_topic(srv, "*", &tc);
	wr_deflate_config dc = { .enable = defl && strcmp(defl, "0") != 0,
	                         .shared = defl && !strcmp(defl, "shared") };
	wr_server_get(srv, "/", index_page, NULL);
	wr_server_get(srv, "/stats", stats_page, NULL);
	wr_server_websocket(srv, "/sub", &(wr_ws_handlers){ .on_open = sub_open, .deflate = dc });
	wr_server_websocket(srv, "/pub", &(wr_ws_handlers){ .on_open = pub_open,
	                                                     .on_message = pub_message,
	                                                     .on_close = pub_close,
	                                                     .deflate = dc });
	if (example_start(srv, port) < 0)
		return 1;
	printf("pubsub_server on port %u, %u reactors\n", wr_server_port(srv), wr_server_threads(srv));
	fflush(stdout);
	unsigned ms = tick ? (unsigned)atoi(tick) : 250;
	pthread_t th;
	bool have_ticker = ms && pthread_create(&th, NULL, ticker, &ms) == 0;
	int rc = wr_server_wait(srv);
	atomic_store(&stopping, true);
	if (have_ticker)
		pthread_join(th, NULL);
	wr_server_free(srv);
	return rc < 0 ? 1 : 0;
}
