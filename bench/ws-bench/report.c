/* ws-bench's output: the live line, the final table, JSON, the HdrHistogram percentile text
 * format (.hgrm) and an SVG plot of latency by percentile. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wsb.h"

uint64_t wsb_report_errors(const wsb_result *t)
{
	return t->mismatches + t->closes + t->connect_fail + t->http_refused + t->unanswered;
}

/* "35.1us", "1.20ms": three significant digits in a unit that suits the value. */
static const char *fmt_ns(char *buf, size_t n, double ns)
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
                     uint64_t p99_ns, uint64_t errors, uint64_t opens)
{
	char p99[32];
	const char *what = o->mode == WSB_CONNECT ? "handshakes/s" : "msgs/s";
	double rate = (double)(o->mode == WSB_CONNECT ? opens : msgs) / dt;
	fprintf(stderr, "[%5.1fs] %12.0f %s %9.2f MB/s  p99 %8s  errors %llu\n", t, rate, what,
	        (double)bytes / dt / 1e6, p99_ns ? fmt_ns(p99, sizeof(p99), (double)p99_ns) : "-",
	        (unsigned long long)errors);
}

static const double pcts[] = { 50, 90, 99, 99.9, 99.99 };
static const char *const pct_names[] = { "p50", "p90", "p99", "p99.9", "p99.99" };

/* What the CPU figures are divided by: messages, or handshakes in connect mode. */
static uint64_t work_units(const wsb_report *r)
{
	return r->o->mode == WSB_CONNECT ? r->total.handshakes : r->total.msgs;
}

void wsb_report_table(FILE *f, const wsb_report *r)
{
	const wsb_opts *o = r->o;
	const wsb_result *t = &r->total;
	char b[32];
	fprintf(f, "ws-bench %s: %s", o->url, wsb_mode_name(o->mode));
	if (o->mode == WSB_PINGPONG)
		fprintf(f, " (%u in flight per connection)", o->pipeline);
	if (o->mode == WSB_RATE)
		fprintf(f, " (%.0f msgs/s target)", o->rate);
	fprintf(f, ", %u connections, %u thread%s, %zu B %s\n", o->conns, o->threads,
	        o->threads == 1 ? "" : "s", o->size, o->text ? "text" : "binary");
	fprintf(f, "  window      %.2f s after %.2f s warm-up; %llu connections opened\n", r->window_s,
	        o->warmup_s, (unsigned long long)t->opens);
	if (o->mode == WSB_PINGPONG || o->mode == WSB_RATE) {
		fprintf(f, "  messages    %llu  =  %.0f msgs/s, %.2f MB/s payload each way\n",
		        (unsigned long long)t->msgs, (double)t->msgs / r->window_s,
		        (double)t->bytes / r->window_s / 1e6);
		fprintf(f, "  all phases  %llu sent, %llu echoed\n", (unsigned long long)t->sent_total,
		        (unsigned long long)t->recv_total);
		if (o->mode == WSB_RATE && t->behind)
			fprintf(f, "  behind      %llu scheduled messages never sent\n",
			        (unsigned long long)t->behind);
	} else if (o->mode == WSB_CONNECT) {
		fprintf(f, "  handshakes  %llu  =  %.0f handshakes/s", (unsigned long long)t->handshakes,
		        (double)t->handshakes / r->window_s);
		if (o->tls)
			fprintf(f, " (TLS: %llu full, %llu resumed)",
			        (unsigned long long)(t->handshakes - t->resumed), (unsigned long long)t->resumed);
		fprintf(f, "\n");
	} else {
		fprintf(f, "  held        %u connections open at the end\n", r->open_at_end);
	}
	if (t->hist.total) {
		fprintf(f, "  %-11s", o->mode == WSB_CONNECT ? "handshake" : "latency");
		for (unsigned i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
			fprintf(f, " %s %s", pct_names[i],
			        fmt_ns(b, sizeof(b), (double)wsb_hist_percentile(&t->hist, pcts[i])));
		fprintf(f, " max %s", fmt_ns(b, sizeof(b), (double)t->hist.max));
		fprintf(f, " (mean %s)\n", fmt_ns(b, sizeof(b), wsb_hist_mean(&t->hist)));
	}
	uint64_t units = work_units(r);
	if (units) {
		fprintf(f, "  cpu/%s   ws-bench %s", o->mode == WSB_CONNECT ? "hs " : "msg",
		        fmt_ns(b, sizeof(b), r->cpu.self_s * 1e9 / (double)units));
		if (r->cpu.server_s >= 0)
			fprintf(f, ", server %s", fmt_ns(b, sizeof(b), r->cpu.server_s * 1e9 / (double)units));
		fprintf(f, "\n");
	}
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

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_num_or_null(FILE *f, const char *key, bool known, double v, const char *sep)
{
	if (known)
		fprintf(f, "\"%s\": %.6g%s", key, v, sep);
	else
		fprintf(f, "\"%s\": null%s", key, sep);
}

int wsb_report_json(FILE *f, const wsb_report *r)
{
	const wsb_opts *o = r->o;
	const wsb_result *t = &r->total;
	const wsb_hist *h = &t->hist;
	unsigned long long u = 0;
	fprintf(f, "{\n  \"url\": ");
	json_str(f, o->url);
	fprintf(f, ",\n  \"mode\": \"%s\", \"threads\": %u, \"connections\": %u, \"size\": %zu, "
	        "\"type\": \"%s\", \"pipeline\": %u, \"rate_target\": %.6g,\n", wsb_mode_name(o->mode),
	        o->threads, o->conns, o->size, o->text ? "text" : "binary", o->pipeline, o->rate);
	fprintf(f, "  \"duration_s\": %.6g, \"warmup_s\": %.6g, \"window_s\": %.6g,\n", o->duration_s,
	        o->warmup_s, r->window_s);
	fprintf(f, "  \"messages\": %llu, \"rate\": %.6g, \"bytes\": %llu, \"mb_per_s\": %.6g,\n",
	        (unsigned long long)t->msgs, (double)t->msgs / r->window_s,
	        (unsigned long long)t->bytes, (double)t->bytes / r->window_s / 1e6);
	fprintf(f, "  \"sent_total\": %llu, \"received_total\": %llu, \"behind\": %llu,\n",
	        (unsigned long long)t->sent_total, (unsigned long long)t->recv_total,
	        (unsigned long long)t->behind);
	fprintf(f, "  \"opens\": %llu, \"open_at_end\": %u, \"handshakes\": %llu, "
	        "\"handshakes_per_s\": %.6g, \"resumed\": %llu,\n", (unsigned long long)t->opens,
	        r->open_at_end, (unsigned long long)t->handshakes, (double)t->handshakes / r->window_s,
	        (unsigned long long)t->resumed);
	fprintf(f, "  \"latency_ns\": {\"count\": %llu", (unsigned long long)h->total);
	if (h->total) {
		fprintf(f, ", \"min\": %llu, \"mean\": %.1f, \"stddev\": %.1f",
		        (unsigned long long)h->min, wsb_hist_mean(h), wsb_hist_stddev(h));
		for (unsigned i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
			char k[16];
			snprintf(k, sizeof(k), "%s", pct_names[i]);
			for (char *p = k; *p; p++)
				if (*p == '.')
					*p = '_';
			fprintf(f, ", \"%s\": %llu", k, (unsigned long long)wsb_hist_percentile(h, pcts[i]));
		}
		fprintf(f, ", \"max\": %llu", (unsigned long long)h->max);
	}
	fprintf(f, "},\n");
	fprintf(f, "  \"errors\": {\"total\": %llu, \"mismatches\": %llu, \"closes\": %llu, "
	        "\"connect_failures\": %llu, \"http_refused\": %llu, \"unanswered\": %llu, \"first\": ",
	        (unsigned long long)wsb_report_errors(t), (unsigned long long)t->mismatches,
	        (unsigned long long)t->closes, (unsigned long long)t->connect_fail,
	        (unsigned long long)t->http_refused, (unsigned long long)t->unanswered);
	json_str(f, t->first_reason);
	fprintf(f, ", \"first_code\": %d},\n", t->first_error);
	u = work_units(r);
	fprintf(f, "  \"cpu\": {\"per\": \"%s\", ", o->mode == WSB_CONNECT ? "handshake" : "message");
	json_num_or_null(f, "self_s", true, r->cpu.self_s, ", ");
	json_num_or_null(f, "self_ns_per", u > 0, u ? r->cpu.self_s * 1e9 / (double)u : 0, ", ");
	json_num_or_null(f, "server_s", r->cpu.server_s >= 0, r->cpu.server_s, ", ");
	json_num_or_null(f, "server_ns_per", r->cpu.server_s >= 0 && u > 0,
	                 u ? r->cpu.server_s * 1e9 / (double)u : 0, "},\n");
	bool rss = r->cpu.rss_before_kb >= 0 && r->cpu.rss_after_kb >= 0;
	fprintf(f, "  \"server_rss\": {");
	json_num_or_null(f, "before_kb", rss, (double)r->cpu.rss_before_kb, ", ");
	json_num_or_null(f, "after_kb", rss, (double)r->cpu.rss_after_kb, ", ");
	json_num_or_null(f, "bytes_per_conn", rss && t->opens,
	                 t->opens ? (double)(r->cpu.rss_after_kb - r->cpu.rss_before_kb) * 1024.0 /
	                                (double)t->opens : 0, "}\n}\n");
	return ferror(f) ? -1 : 0;
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

int wsb_report_hgrm(const char *path, const wsb_hist *h)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
	wsb_hist_ladder(h, 5, hgrm_line, f);
	fprintf(f, "#[Mean    = %12.6f, StdDeviation   = %12.6f]\n", wsb_hist_mean(h) / 1e6,
	        wsb_hist_stddev(h) / 1e6);
	fprintf(f, "#[Max     = %12.6f, Total count    = %12llu]\n", (double)h->max / 1e6,
	        (unsigned long long)h->total);
	fprintf(f, "#[Buckets = %12u, SubBuckets     = %12u]\n",
	        WSB_HIST_MAX_BITS - WSB_HIST_SUB_BITS + 1, 2 * WSB_HIST_HALF);
	return fclose(f) ? -1 : 0;
}

/* ---- SVG: latency (linear y) against percentile on a log scale of 1/(1-p) ---- */

#define SVG_W 860.0
#define SVG_H 500.0
#define PAD_L 80.0
#define PAD_R 30.0
#define PAD_T 50.0
#define PAD_B 60.0

typedef struct svg_pts {
	double x[4096], y[4096];
	unsigned n;
	double xmax;
} svg_pts;

static void svg_point(uint64_t v, double pct, uint64_t count, void *user)
{
	svg_pts *p = user;
	if (p->n == sizeof(p->x) / sizeof(p->x[0]))
		return;
	/* the last point (100%) sits at the right edge, where 1/(1-p) is the sample count */
	double x = pct < 1.0 ? log10(1.0 / (1.0 - pct)) : p->xmax;
	if (x > p->xmax)
		x = p->xmax;
	p->x[p->n] = x;
	p->y[p->n] = (double)v;
	p->n++;
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

int wsb_report_svg(const char *path, const wsb_report *r)
{
	const wsb_hist *h = &r->total.hist;
	static svg_pts pts;
	pts.n = 0;
	pts.xmax = h->total > 1 ? ceil(log10((double)h->total)) : 1.0;
	if (pts.xmax < 2)
		pts.xmax = 2;
	wsb_hist_ladder(h, 5, svg_point, &pts);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	double ymax = h->max ? (double)h->max * 1.05 : 1.0;
	double unit = ymax >= 2e6 ? 1e6 : 1e3;
	const char *uname = unit == 1e6 ? "ms" : "us";
	double pw = SVG_W - PAD_L - PAD_R, ph = SVG_H - PAD_T - PAD_B;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
	        "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
	        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", SVG_W, SVG_H, SVG_W, SVG_H);
	fprintf(f, "<text x=\"%.0f\" y=\"24\" font-size=\"15\">Latency by percentile: ", PAD_L);
	xml_text(f, r->o->url);
	fprintf(f, " (%s, %u conns, %zu B)</text>\n", wsb_mode_name(r->o->mode), r->o->conns,
	        r->o->size);
	/* y grid: 5 steps */
	for (int i = 0; i <= 5; i++) {
		double v = ymax * i / 5, y = PAD_T + ph - ph * i / 5;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
		        PAD_L, y, PAD_L + pw, y);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", PAD_L - 6,
		        y + 4, v / unit);
	}
	/* x grid: one line per nine, 0%, 90%, 99%, ... */
	for (int i = 0; i <= (int)pts.xmax; i++) {
		double x = PAD_L + pw * i / pts.xmax;
		char label[32];
		if (i == 0)
			snprintf(label, sizeof(label), "0%%");
		else
			snprintf(label, sizeof(label), "%.*f%%", i > 2 ? i - 2 : 0, 100.0 - 100.0 / pow(10, i));
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
		        x, PAD_T, x, PAD_T + ph);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x,
		        PAD_T + ph + 18, label);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">Percentile</text>\n",
	        PAD_L + pw / 2, SVG_H - 14);
	fprintf(f, "<text transform=\"translate(20 %.1f) rotate(-90)\" text-anchor=\"middle\">"
	        "Latency (%s)</text>\n", PAD_T + ph / 2, uname);
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
	        "stroke=\"#444\"/>\n", PAD_L, PAD_T, pw, ph);
	fprintf(f, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
	for (unsigned i = 0; i < pts.n; i++)
		fprintf(f, "%.1f,%.1f ", PAD_L + pw * pts.x[i] / pts.xmax,
		        PAD_T + ph - ph * pts.y[i] / ymax);
	fprintf(f, "\"/>\n</svg>\n");
	return fclose(f) ? -1 : 0;
}
