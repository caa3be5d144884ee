/* ws-bench's human output — the live line and the final table — the HdrHistogram percentile
 * text format (.hgrm), and the one place that writes whatever the options ask for (JSON in
 * json_out.c, SVG in svg.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wsb.h"

uint64_t wsb_report_errors(const wsb_result *t)
{
	return t->mismatches + t->closes + t->connect_fail + t->http_refused + t->unanswered +
	       t->reorders;
}

void wsb_result_add(wsb_result *t, const wsb_result *x)
{
	t->sent_total += x->sent_total;
	t->recv_total += x->recv_total;
	t->sent += x->sent;
	t->msgs += x->msgs;
	t->bytes += x->bytes;
	t->no_ts += x->no_ts;
	t->gaps += x->gaps;
	t->reorders += x->reorders;
	t->handshakes += x->handshakes;
	t->resumed += x->resumed;
	t->opens += x->opens;
	t->reconnects += x->reconnects;
	t->connect_fail += x->connect_fail;
	t->http_refused += x->http_refused;
	t->mismatches += x->mismatches;
	t->closes += x->closes;
	t->unanswered += x->unanswered;
	t->behind += x->behind;
	if (x->ramp_s > t->ramp_s)
		t->ramp_s = x->ramp_s; /* ramps run side by side: the slowest one */
	if (!t->first_reason[0] && x->first_reason[0]) {
		t->first_error = x->first_error;
		memcpy(t->first_reason, x->first_reason, sizeof(t->first_reason));
	}
	if (!t->protocol[0])
		memcpy(t->protocol, x->protocol, sizeof(t->protocol));
	if (x->hist)
		wr_hist_add(t->hist, x->hist);
}

double wsb_report_max_busy(const wsb_report *r)
{
	double m = 0;
	for (unsigned i = 0; i < r->nload; i++) {
		double v = r->load[i].busy >= 0 ? r->load[i].busy : r->load[i].cpu;
		if (v > m)
			m = v;
	}
	return m;
}

/* "35.1us", "1.20ms": three significant digits in a unit that suits the value. */
const char *wsb_fmt_ns(char *buf, size_t n, double ns)
{
	if (ns < 1e3)
		snprintf(buf, n, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, n, "%.*fus", ns < 1e4 ? 2 : ns < 1e5 ? 1 : 0, ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, n, "%.*fms", ns < 1e7 ? 2 : ns < 1e8 ? 1 : 0, ns / 1e6);
	else
		snprintf(buf, n, "%.2fs", ns / 1e9);
	return buf;
}

void wsb_report_live(const wsb_opts *o, double t, uint64_t msgs, uint64_t bytes, double dt,
                     uint64_t p99_ns, uint64_t errors, uint64_t opens, double busy)
{
	char p99[32];
	const char *what = o->mode == WSB_CONNECT ? "handshakes/s" : "msgs/s";
	double rate = (double)(o->mode == WSB_CONNECT ? opens : msgs) / dt;
	fprintf(stderr, "[%5.1fs] %12.0f %s %9.2f MB/s  p99 %8s  errors %llu", t, rate, what,
	        (double)bytes / dt / 1e6, p99_ns ? wsb_fmt_ns(p99, sizeof(p99), (double)p99_ns) : "-",
	        (unsigned long long)errors);
	if (busy >= WSB_SATURATED)
		fprintf(stderr, "  ws-bench busy %.0f%%", busy * 100);
	fputc('\n', stderr);
}

static const double pcts[] = { 50, 90, 99, 99.9, 99.99 };
static const char *const pct_names[] = { "p50", "p90", "p99", "p99.9", "p99.99" };

/* What the CPU figures are divided by: messages, or handshakes in connect mode. */
static uint64_t work_units(const wsb_report *r)
{
	return r->o->mode == WSB_CONNECT ? r->total.handshakes : r->total.msgs;
}

static const char *payload_name(const wsb_opts *o)
{
	return o->payload == WSB_PAY_FILE ? "file" : o->payload == WSB_PAY_TEMPLATE ? "template"
	                                                                           : "generated";
}

static void table_head(FILE *f, const wsb_report *r)
{
	const wsb_opts *o = r->o;
	fprintf(f, "ws-bench %s: %s", o->url, wsb_mode_name(o->mode));
	if (o->mode == WSB_PINGPONG)
		fprintf(f, " (%u in flight per connection)", o->pipeline);
	if (o->mode == WSB_RATE)
		fprintf(f, " (%.0f msgs/s target%s)", o->rate, o->no_echo ? ", replies not echoes" : "");
	fprintf(f, ", %u connections, %u thread%s, ", o->conns, o->threads, o->threads == 1 ? "" : "s");
	if (o->payload == WSB_PAY_GEN)
		fprintf(f, "%s B %s\n", o->size_spec, o->text ? "text" : "binary");
	else
		fprintf(f, "%s %s (%zu B) %s\n", payload_name(o), o->payload_path ? o->payload_path : "",
		        o->size, o->text ? "text" : "binary");
	if (r->agents > 1)
		fprintf(f, "  agents      %u runs merged\n", r->agents);
	fprintf(f, "  window      %.2f s after %.2f s warm-up; %llu connections opened", r->window_s,
	        o->warmup_s, (unsigned long long)r->total.opens);
	if (r->total.ramp_s > 0 && o->mode != WSB_CONNECT)
		fprintf(f, " (ramp %.2f s)", r->total.ramp_s);
	fputc('\n', f);
	if (r->total.protocol[0])
		fprintf(f, "  protocol    %s\n", r->total.protocol);
}

static void table_load(FILE *f, const wsb_report *r)
{
	double busy = wsb_report_max_busy(r);
	unsigned worst = 0;
	for (unsigned i = 0; i < r->nload; i++) {
		double v = r->load[i].busy >= 0 ? r->load[i].busy : r->load[i].cpu;
		if (v >= busy)
			worst = i;
	}
	if (!r->nload)
		return;
	fprintf(f, "  ws-bench    busiest thread %.0f%% busy (%.0f%% on a CPU)\n", busy * 100,
	        r->load[worst].cpu * 100);
	if (busy >= WSB_SATURATED)
		fprintf(f, "  BOTTLENECK  ws-bench thread %u was %.0f%% busy: these figures measure "
		        "ws-bench, not the server (add -t, cores or machines)\n", worst, busy * 100);
}

void wsb_report_table(FILE *f, const wsb_report *r)
{
	const wsb_opts *o = r->o;
	const wsb_result *t = &r->total;
	char b[32];
	table_head(f, r);
	if (o->mode == WSB_PINGPONG || o->mode == WSB_RATE) {
		fprintf(f, "  messages    %llu  =  %.0f msgs/s, %.2f MB/s payload %s\n",
		        (unsigned long long)t->msgs, (double)t->msgs / r->window_s,
		        (double)t->bytes / r->window_s / 1e6, o->no_echo ? "received" : "each way");
		if (o->mode == WSB_RATE)
			fprintf(f, "  sent        %llu  =  %.0f msgs/s delivered\n",
			        (unsigned long long)t->sent, (double)t->sent / r->window_s);
		fprintf(f, "  all phases  %llu sent, %llu %s\n", (unsigned long long)t->sent_total,
		        (unsigned long long)t->recv_total, o->no_echo ? "received" : "echoed");
		if (o->no_echo && t->no_ts)
			fprintf(f, "  untimed     %llu replies carried no timestamp of ours\n",
			        (unsigned long long)t->no_ts);
		if (o->pub_url) {
			double per = t->sent ? (double)t->msgs / (double)t->sent : 0;
			fprintf(f, "  fan-out     %u publishers -> %u subscribers: %.0f deliveries/s, %.1f per "
			        "publish; %llu missing (gaps), %llu out of order\n", o->publishers,
			        o->subscribers, (double)t->msgs / r->window_s, per,
			        (unsigned long long)t->gaps, (unsigned long long)t->reorders);
			if (r->srv_dropped >= 0)
				fprintf(f, "  server      %.0f delivered, %.0f dropped, %.0f conflated (%s)\n",
				        r->srv_delivered, r->srv_dropped, r->srv_conflated, o->stats_path);
		}
		if (o->mode == WSB_RATE && t->behind)
			fprintf(f, "  behind      %llu scheduled messages never sent\n",
			        (unsigned long long)t->behind);
	} else if (o->mode == WSB_CONNECT) {
		fprintf(f, "  handshakes  %llu  =  %.0f handshakes/s\n", (unsigned long long)t->handshakes,
		        (double)t->handshakes / r->window_s);
		if (t->resumed)
			fprintf(f, "  resumed     %llu of them resumed a TLS session\n",
			        (unsigned long long)t->resumed);
	} else {
		fprintf(f, "  held        %u connections open at the end\n", r->open_at_end);
	}
	if (t->reconnects)
		fprintf(f, "  reconnects  %llu connections closed by the server and reopened\n",
		        (unsigned long long)t->reconnects);
	if (t->hist->total) {
		fprintf(f, "  %-11s", o->mode == WSB_CONNECT ? "handshake" : "latency");
		for (unsigned i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
			fprintf(f, " %s %s", pct_names[i],
			        wsb_fmt_ns(b, sizeof(b), (double)wr_hist_percentile(t->hist, pcts[i])));
		fprintf(f, " max %s", wsb_fmt_ns(b, sizeof(b), (double)t->hist->max));
		fprintf(f, " (mean %s)\n", wsb_fmt_ns(b, sizeof(b), wr_hist_mean(t->hist)));
	}
	uint64_t units = work_units(r);
	if (units) {
		fprintf(f, "  cpu/%s   ws-bench %s", o->mode == WSB_CONNECT ? "hs " : "msg",
		        wsb_fmt_ns(b, sizeof(b), r->cpu.self_s * 1e9 / (double)units));
		if (r->cpu.server_s >= 0)
			fprintf(f, ", server %s",
			        wsb_fmt_ns(b, sizeof(b), r->cpu.server_s * 1e9 / (double)units));
		fprintf(f, "\n");
	}
	table_load(f, r);
	if (r->cpu.rss_before_kb >= 0 && r->cpu.rss_after_kb >= 0 && t->opens)
		fprintf(f, "  server RSS  %ld kB -> %ld kB: %.0f bytes per connection\n",
		        r->cpu.rss_before_kb, r->cpu.rss_after_kb,
		        (double)(r->cpu.rss_after_kb - r->cpu.rss_before_kb) * 1024.0 / (double)t->opens);
	uint64_t e = wsb_report_errors(t);
	fprintf(f, "  errors      %llu", (unsigned long long)e);
	if (e)
		fprintf(f, " (mismatches %llu, closed %llu, connect failed %llu, non-101 %llu, "
		        "unanswered %llu); first: %s", (unsigned long long)t->mismatches,
		        (unsigned long long)t->closes, (unsigned long long)t->connect_fail,
		        (unsigned long long)t->http_refused, (unsigned long long)t->unanswered,
		        t->first_reason);
	fprintf(f, "\n");
}

/* ---- .hgrm: HdrHistogram's percentile distribution text, values in milliseconds ---- */

static void hgrm_line(uint64_t v, double pct, uint64_t count, void *user)
{
	FILE *f = user;
	if (pct < 1.0)
		fprintf(f, "%12.6f %2.12f %10llu %14.2f\n", (double)v / 1e6, pct,
		        (unsigned long long)count, 1.0 / (1.0 - pct));
	else
		fprintf(f, "%12.6f %2.12f %10llu\n", (double)v / 1e6, pct, (unsigned long long)count);
}

int wsb_report_hgrm(const char *path, const wr_hist *h)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
	wr_hist_ladder(h, 5, hgrm_line, f);
	fprintf(f, "#[Mean    = %12.6f, StdDeviation   = %12.6f]\n", wr_hist_mean(h) / 1e6,
	        wr_hist_stddev(h) / 1e6);
	fprintf(f, "#[Max     = %12.6f, Total count    = %12llu]\n", (double)h->max / 1e6,
	        (unsigned long long)h->total);
	fprintf(f, "#[Buckets = %12u, SubBuckets     = %12u]\n",
	        WSB_HIST_MAX_BITS - WSB_HIST_SUB_BITS + 1, 2 * WSB_HIST_HALF);
	return fclose(f) ? -1 : 0;
}

/* ---- everything asked for ---- */

static int write_json_file(const char *path, const wsb_report *r)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int rc = wsb_report_json(f, r, true);
	return fclose(f) || rc < 0 ? -1 : 0;
}

int wsb_report_write(const wsb_report *r, int status)
{
	const wsb_opts *o = r->o;
	struct { const char *path; int (*fn)(const char *, const wsb_report *); } files[] = {
		{ o->out_path, write_json_file },
		{ o->plot_path, wsb_report_svg },
	};
	if (o->json)
		wsb_report_json(stdout, r, false);
	wsb_report_table(o->json ? stderr : stdout, r);
	fflush(stdout);
	for (unsigned i = 0; i < 2; i++) {
		if (files[i].path && files[i].fn(files[i].path, r) < 0) {
			fprintf(stderr, "ws-bench: %s: %s\n", files[i].path, strerror(errno));
			status = status ? status : 2;
		}
	}
	if (o->hgrm_path && wsb_report_hgrm(o->hgrm_path, r->total.hist) < 0) {
		fprintf(stderr, "ws-bench: %s: %s\n", o->hgrm_path, strerror(errno));
		status = status ? status : 2;
	}
	return status;
}
