/* The Prometheus text exposition (wr_stats_text) of a snapshot made by hand: every line
 * parses as the format says, each family is declared once before its samples, counters and
 * labels carry the values given, label values are escaped, and histogram buckets are
 * cumulative, agree with the values recorded and end with +Inf = _count. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "wring/stats.h"

static wr_hist *hist_of(const uint64_t *v, size_t n)
{
	wr_hist *h = wr_hist_new(WR_HIST_SMALL_SUB_BITS, WR_HIST_SMALL_MAX_BITS);
	cr_assert_not_null(h);
	for (size_t i = 0; i < n; i++)
		wr_hist_record(h, v[i]);
	return h;
}

static void view(wr_stats_hist *o, const wr_hist *h)
{
	*o = (wr_stats_hist){ .count = h->total, .sum_ns = (uint64_t)h->sum, .max_ns = h->max,
	                      .h = h };
}

/* The value of the sample line that starts with `series ` (name and labels), or NAN. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return NAN;
}

/* A metric name: [a-zA-Z_:][a-zA-Z0-9_:]*; returns its length. */
static size_t name_len(const char *p)
{
	size_t i = 0;
	while (isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == ':')
		i++;
	return isdigit((unsigned char)p[0]) ? 0 : i;
}

/* One sample line: name, optional {k="v",...} with escapes, a space, a float, end. */
static bool sample_line_ok(const char *l, size_t len)
{
	size_t i = name_len(l);
	if (!i)
		return false;
	if (l[i] == '{') {
		i++;
		while (l[i] != '}') {
			size_t k = name_len(l + i);
			if (!k || l[i + k] != '=' || l[i + k + 1] != '"')
				return false;
			i += k + 2;
			while (l[i] != '"') {
				if (i >= len)
					return false;
				if (l[i] == '\\') {
					if (l[i + 1] != '\\' && l[i + 1] != '"' && l[i + 1] != 'n')
						return false;
					i++;
				}
				i++;
			}
			i++;
			if (l[i] == ',')
				i++;
			else if (l[i] != '}')
				return false;
		}
		i++;
	}
	if (l[i] != ' ')
		return false;
	char *end;
	strtod(l + i + 1, &end);
	return end == l + len && end > l + i + 1;
}

static wr_stats st;
static wr_stats_route routes[2];
static wr_stats_http_route http[2];
static wr_hist *hs[8];
static const uint64_t handler_ns[] = { 500, 700, 3000, 40000, 2000000, 2000000 };

static void make(void)
{
	memset(&st, 0, sizeof(st));
	memset(routes, 0, sizeof(routes));
	st.reactors = 2;
	st.accepted = 12;
	st.refused[WR_STATS_REFUSED_TLS] = 3;
	st.connections_open = 7;
	st.cutoffs = 5;
	st.tls_resumed = 4;
	st.parse_errors[WR_STATS_WS_INVALID_DATA] = 6;
	st.pubsub_drops = 8;
	routes[0].path = "/ws";
	routes[0].messages_in[WR_STATS_TEXT] = 100;
	routes[0].messages_out[WR_STATS_BINARY] = 99;
	routes[0].closes[wr_stats_close_slot(1006)] = 2;
	routes[0].closes[wr_stats_close_slot(4321)] = 1;
	routes[0].cutoffs = 2;
	routes[1].path = "/we\"ird\\path\n";
	hs[0] = hist_of(handler_ns, 6);
	hs[1] = hist_of(NULL, 0);
	hs[2] = hist_of(handler_ns, 2);
	hs[3] = hist_of(NULL, 0);
	hs[4] = hist_of(handler_ns + 4, 2);
	hs[5] = hist_of(handler_ns, 1);
	view(&routes[0].handler, hs[0]);
	view(&routes[0].receive, hs[1]);
	view(&routes[1].handler, hs[2]);
	view(&routes[1].receive, hs[3]);
	view(&st.loop_turn, hs[4]);
	view(&st.send_complete, hs[5]);
	st.nroutes = 2;
	st.routes = routes;
	memset(http, 0, sizeof(http));
	http[0].path = "/items/:id";
	http[0].method = "POST";
	http[0].requests = 9;
	http[0].responses[1] = 7;
	http[0].responses[4] = 2;
	hs[6] = hist_of(handler_ns, 3);
	view(&http[0].handler, hs[6]);
	http[1].path = http[1].method = "";   /* no route matched */
	http[1].requests = 4;
	http[1].responses[3] = 4;
	hs[7] = hist_of(NULL, 0);
	view(&http[1].handler, hs[7]);
	st.nhttp_routes = 2;
	st.http_routes = http;
}

static void unmake(void)
{
	for (int i = 0; i < 8; i++)
		free(hs[i]);
}

TestSuite(metrics_text, .init = make, .fini = unmake);

Test(metrics_text, every_line_parses_and_families_come_first)
{
	size_t len = 0;
	char *t = wr_stats_text(&st, &len);
	cr_assert_not_null(t);
	cr_assert_eq(strlen(t), len);
	cr_assert_eq(t[len - 1], '\n');
	char typed[64][64];
	int ntyped = 0;
	for (char *l = t; *l;) {
		char *e = strchr(l, '\n');
		cr_assert_not_null(e);
		size_t ll = (size_t)(e - l);
		if (!strncmp(l, "# TYPE ", 7)) {
			char name[64], type[16];
			cr_assert_eq(sscanf(l, "# TYPE %63s %15s", name, type), 2);
			cr_assert(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
			          !strcmp(type, "histogram"), "%s", type);
			for (int i = 0; i < ntyped; i++)
				cr_assert_str_neq(typed[i], name, "family %s declared twice", name);
			cr_assert_lt(ntyped, 64);
			strcpy(typed[ntyped++], name);
			cr_assert(!strncmp(name, "wring_", 6), "%s", name);
			if (!strcmp(type, "counter"))
				cr_assert(strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total"),
				          "counter %s", name);
		} else if (!strncmp(l, "# HELP ", 7)) {
			cr_assert_gt(ll, 8);
		} else {
			cr_assert(sample_line_ok(l, ll), "bad line: %.*s", (int)ll, l);
			/* the sample belongs to the family declared last */
			cr_assert_gt(ntyped, 0);
			const char *fam = typed[ntyped - 1];
			cr_assert(!strncmp(l, fam, strlen(fam)), "%.*s after # TYPE %s", (int)ll, l, fam);
		}
		l = e + 1;
	}
	cr_assert_geq(ntyped, 20);
	free(t);
}

Test(metrics_text, values_and_labels)
{
	char *t = wr_stats_text(&st, NULL);
	cr_assert_not_null(t);
	cr_assert_eq(sample(t, "wring_connections_accepted_total"), 12);
	cr_assert_eq(sample(t, "wring_connections_refused_total{cause=\"tls\"}"), 3);
	cr_assert_eq(sample(t, "wring_connections_refused_total{cause=\"limit\"}"), 0);
	cr_assert_eq(sample(t, "wring_connections_open"), 7);
	cr_assert_eq(sample(t, "wring_tls_handshakes_total{kind=\"resumed\"}"), 4);
	cr_assert_eq(sample(t, "wring_parse_errors_total{kind=\"ws_invalid_data\"}"), 6);
	cr_assert_eq(sample(t, "wring_pubsub_drops_total"), 8);
	cr_assert_eq(sample(t, "wring_messages_received_total{route=\"/ws\",type=\"text\"}"), 100);
	cr_assert_eq(sample(t, "wring_messages_sent_total{route=\"/ws\",type=\"binary\"}"), 99);
	cr_assert_eq(sample(t, "wring_closes_total{route=\"/ws\",code=\"1006\"}"), 2);
	cr_assert_eq(sample(t, "wring_closes_total{route=\"/ws\",code=\"4xxx\"}"), 1);
	/* cut-offs: 2 on /ws, the other 3 were HTTP connections (route "") */
	cr_assert_eq(sample(t, "wring_backpressure_cutoffs_total{route=\"/ws\"}"), 2);
	cr_assert_eq(sample(t, "wring_backpressure_cutoffs_total{route=\"\"}"), 3);
	/* HTTP routes by pattern and method, responses by status class; route "": no match */
	cr_assert_eq(sample(t, "wring_http_requests_total{route=\"/items/:id\",method=\"POST\"}"), 9);
	cr_assert_eq(sample(t, "wring_http_requests_total{route=\"\",method=\"\"}"), 4);
	cr_assert_eq(sample(t, "wring_http_responses_total{route=\"/items/:id\",method=\"POST\",code=\"2xx\"}"), 7);
	cr_assert_eq(sample(t, "wring_http_responses_total{route=\"/items/:id\",method=\"POST\",code=\"5xx\"}"), 2);
	cr_assert_eq(sample(t, "wring_http_responses_total{route=\"/items/:id\",method=\"POST\",code=\"1xx\"}"), 0);
	cr_assert_eq(sample(t, "wring_http_responses_total{route=\"\",method=\"\",code=\"4xx\"}"), 4);
	cr_assert_eq(sample(t, "wring_http_handler_seconds_bucket{route=\"/items/:id\",method=\"POST\",le=\"5e-06\"}"), 3);
	cr_assert_eq(sample(t, "wring_http_handler_seconds_count{route=\"/items/:id\",method=\"POST\"}"), 3);
	cr_assert_float_eq(sample(t, "wring_http_handler_seconds_sum{route=\"/items/:id\",method=\"POST\"}"), 4.2e-6, 1e-12);
	cr_assert_eq(sample(t, "wring_http_handler_seconds_bucket{route=\"\",method=\"\",le=\"+Inf\"}"), 0);
	/* the odd path, escaped */
	cr_assert_eq(sample(t, "wring_messages_received_total{route=\"/we\\\"ird\\\\path\\n\",type=\"text\"}"), 0);
	free(t);
}

/* Buckets: cumulative, what was recorded at or below each bound (the values here sit well
 * inside their bounds, so slot precision does not matter), +Inf = _count, _sum in seconds. */
Test(metrics_text, histogram_buckets)
{
	char *t = wr_stats_text(&st, NULL);
	cr_assert_not_null(t);
	const char *pre = "wring_handler_seconds_bucket{route=\"/ws\",le=\"";
	static const char *les[] = { "1e-06", "2.5e-06", "5e-06", "1e-05", "5e-05", "0.001",
	                             "0.0025", "0.005", "10", "+Inf" };
	static const double want[] = { 2, 2, 3, 3, 4, 4, 6, 6, 6, 6 };
	double prev = 0;
	for (unsigned i = 0; i < sizeof(les) / sizeof(les[0]); i++) {
		char series[128];
		snprintf(series, sizeof(series), "%s%s\"}", pre, les[i]);
		double v = sample(t, series);
		cr_assert_eq(v, want[i], "%s: %g", series, v);
		cr_assert_geq(v, prev);
		prev = v;
	}
	cr_assert_eq(sample(t, "wring_handler_seconds_count{route=\"/ws\"}"), 6);
	cr_assert_float_eq(sample(t, "wring_handler_seconds_sum{route=\"/ws\"}"), 0.0040442, 1e-9);
	/* an empty histogram is still complete */
	cr_assert_eq(sample(t, "wring_receive_to_handler_seconds_bucket{route=\"/ws\",le=\"+Inf\"}"), 0);
	cr_assert_eq(sample(t, "wring_receive_to_handler_seconds_count{route=\"/ws\"}"), 0);
	/* label-less histograms */
	cr_assert_eq(sample(t, "wring_loop_turn_seconds_bucket{le=\"0.001\"}"), 0);
	cr_assert_eq(sample(t, "wring_loop_turn_seconds_bucket{le=\"0.0025\"}"), 2);
	cr_assert_eq(sample(t, "wring_loop_turn_seconds_count"), 2);
	cr_assert_float_eq(sample(t, "wring_loop_turn_seconds_sum"), 0.004, 1e-9);
	free(t);
}
