/* The JSON report (--json), and with full set (--out) the whole latency histogram and each
 * second's histogram, sparse ([slot, count] pairs): what `ws-bench merge` needs to combine runs
 * exactly. merge.c reads this format back; the two change together ("format" below). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wsb.h"

#define FORMAT 1

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

static void num_or_null(FILE *f, const char *key, bool known, double v, const char *sep)
{
	if (known)
		fprintf(f, "\"%s\": %.17g%s", key, v, sep);
	else
		fprintf(f, "\"%s\": null%s", key, sep);
}

static const double pcts[] = { 50, 90, 99, 99.9, 99.99 };
static const char *const pct_keys[] = { "p50", "p90", "p99", "p99_9", "p99_99" };

static uint64_t work_units(const wsb_report *r)
{
	return r->o->mode == WSB_CONNECT ? r->total.handshakes : r->total.msgs;
}

static void head(FILE *f, const wsb_report *r)
{
	const wsb_opts *o = r->o;
	fprintf(f, "{\n  \"format\": %d, \"agents\": %u,\n  \"url\": ", FORMAT, r->agents);
	json_str(f, o->url);
	fprintf(f, ",\n  \"mode\": \"%s\", \"threads\": %u, \"connections\": %u, \"size\": %zu, "
	        "\"size_spec\": ", wsb_mode_name(o->mode), o->threads, o->conns, o->size);
	json_str(f, o->size_spec);
	fprintf(f, ", \"max_size\": %zu,\n  \"type\": \"%s\", \"payload\": \"%s\", \"pipeline\": %u, "
	        "\"rate_target\": %.17g, \"no_echo\": %s,\n", o->max_size, o->text ? "text" : "binary",
	        o->payload == WSB_PAY_FILE ? "file" : o->payload == WSB_PAY_TEMPLATE ? "template"
	                                                                          : "generated",
	        o->pipeline, o->rate, o->no_echo ? "true" : "false");
	fprintf(f, "  \"duration_s\": %.17g, \"warmup_s\": %.17g, \"window_s\": %.17g,\n",
	        o->duration_s, o->warmup_s, r->window_s);
	fprintf(f, "  \"start_unix\": %.6f, \"window_start_unix\": %.6f,\n", r->start_unix,
	        r->window_unix);
}

static void totals(FILE *f, const wsb_report *r)
{
	const wsb_result *t = &r->total;
	fprintf(f, "  \"messages\": %llu, \"rate\": %.17g, \"bytes\": %llu, \"mb_per_s\": %.17g,\n",
	        (unsigned long long)t->msgs, (double)t->msgs / r->window_s,
	        (unsigned long long)t->bytes, (double)t->bytes / r->window_s / 1e6);
	fprintf(f, "  \"sent\": %llu, \"sent_rate\": %.17g, \"sent_total\": %llu, "
	        "\"received_total\": %llu, \"behind\": %llu, \"no_timestamp\": %llu,\n",
	        (unsigned long long)t->sent, (double)t->sent / r->window_s,
	        (unsigned long long)t->sent_total, (unsigned long long)t->recv_total,
	        (unsigned long long)t->behind, (unsigned long long)t->no_ts);
	if (r->o->pub_url)
		fprintf(f, "  \"fanout\": {\"publishers\": %u, \"subscribers\": %u, "
		        "\"deliveries_per_s\": %.17g, \"gaps\": %llu, \"reorders\": %llu, "
		        "\"server_delivered\": %.17g, \"server_dropped\": %.17g, "
		        "\"server_conflated\": %.17g},\n",
		        r->o->publishers, r->o->subscribers, (double)t->msgs / r->window_s,
		        (unsigned long long)t->gaps, (unsigned long long)t->reorders, r->srv_delivered,
		        r->srv_dropped, r->srv_conflated);
	fprintf(f, "  \"opens\": %llu, \"open_at_end\": %u, \"reconnects\": %llu, \"handshakes\": %llu, "
	        "\"handshakes_per_s\": %.17g, \"resumed\": %llu, \"ramp_s\": %.6f,\n  \"protocol\": ",
	        (unsigned long long)t->opens, r->open_at_end, (unsigned long long)t->reconnects,
	        (unsigned long long)t->handshakes, (double)t->handshakes / r->window_s,
	        (unsigned long long)t->resumed, t->ramp_s);
	json_str(f, t->protocol);
	fprintf(f, ",\n");
}

static void latency(FILE *f, const wr_hist *h)
{
	fprintf(f, "  \"latency_ns\": {\"count\": %llu", (unsigned long long)h->total);
	if (h->total) {
		fprintf(f, ", \"min\": %llu, \"mean\": %.1f, \"stddev\": %.1f",
		        (unsigned long long)h->min, wr_hist_mean(h), wr_hist_stddev(h));
		for (unsigned i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
			fprintf(f, ", \"%s\": %llu", pct_keys[i],
			        (unsigned long long)wr_hist_percentile(h, pcts[i]));
		fprintf(f, ", \"max\": %llu", (unsigned long long)h->max);
	}
	fprintf(f, "},\n");
}

static void errors(FILE *f, const wsb_result *t)
{
	fprintf(f, "  \"errors\": {\"total\": %llu, \"mismatches\": %llu, \"closes\": %llu, "
	        "\"connect_failures\": %llu, \"http_refused\": %llu, \"unanswered\": %llu, \"first\": ",
	        (unsigned long long)wsb_report_errors(t), (unsigned long long)t->mismatches,
	        (unsigned long long)t->closes, (unsigned long long)t->connect_fail,
	        (unsigned long long)t->http_refused, (unsigned long long)t->unanswered);
	json_str(f, t->first_reason);
	fprintf(f, ", \"first_code\": %d},\n", t->first_error);
}

static void cpu(FILE *f, const wsb_report *r)
{
	const wsb_opts *o = r->o;
	const wsb_result *t = &r->total;
	uint64_t u = work_units(r);
	fprintf(f, "  \"cpu\": {\"per\": \"%s\", ", o->mode == WSB_CONNECT ? "handshake" : "message");
	num_or_null(f, "self_s", true, r->cpu.self_s, ", ");
	num_or_null(f, "self_ns_per", u > 0, u ? r->cpu.self_s * 1e9 / (double)u : 0, ", ");
	num_or_null(f, "server_s", r->cpu.server_s >= 0, r->cpu.server_s, ", ");
	num_or_null(f, "server_ns_per", r->cpu.server_s >= 0 && u > 0,
	            u ? r->cpu.server_s * 1e9 / (double)u : 0, "},\n");
	double busy = wsb_report_max_busy(r);
	fprintf(f, "  \"client\": {\"max_busy\": %.4f, \"saturated\": %s, \"threads\": [", busy,
	        busy >= WSB_SATURATED ? "true" : "false");
	for (unsigned i = 0; i < r->nload; i++) {
		const wsb_thread_load *l = &r->load[i];
		fprintf(f, "%s{\"connections\": %u, \"messages\": %llu, \"cpu\": %.4f, ", i ? ", " : "",
		        l->conns, (unsigned long long)l->msgs, l->cpu);
		num_or_null(f, "busy", l->busy >= 0, l->busy, "}");
	}
	fprintf(f, "]},\n");
	bool rss = r->cpu.rss_before_kb >= 0 && r->cpu.rss_after_kb >= 0;
	fprintf(f, "  \"server_rss\": {");
	num_or_null(f, "before_kb", rss, (double)r->cpu.rss_before_kb, ", ");
	num_or_null(f, "after_kb", rss, (double)r->cpu.rss_after_kb, ", ");
	num_or_null(f, "bytes_per_conn", rss && t->opens,
	            t->opens ? (double)(r->cpu.rss_after_kb - r->cpu.rss_before_kb) * 1024.0 /
	                       (double)t->opens : 0, "},\n");
}

static void sparse_u64(FILE *f, const uint64_t *c, unsigned n)
{
	bool first = true;
	fputc('[', f);
	for (unsigned i = 0; i < n; i++)
		if (c[i]) {
			fprintf(f, "%s[%u,%llu]", first ? "" : ",", i, (unsigned long long)c[i]);
			first = false;
		}
	fputc(']', f);
}

static void sparse_u32(FILE *f, const uint32_t *c, unsigned n)
{
	bool first = true;
	fputc('[', f);
	for (unsigned i = 0; i < n; i++)
		if (c[i]) {
			fprintf(f, "%s[%u,%u]", first ? "" : ",", i, c[i]);
			first = false;
		}
	fputc(']', f);
}

/* One entry per second of the window; a last, partial second's rate is over its length. */
static void series(FILE *f, const wsb_report *r, bool full)
{
	static const wsb_sec none;
	fprintf(f, "  \"series\": [");
	for (unsigned i = 0; i < r->series.n; i++) {
		const wsb_sec *e = r->series.sec[i] ? r->series.sec[i] : &none;
		double len = r->window_s - i < 1.0 ? r->window_s - i : 1.0;
		if (len <= 0)
			break;
		fprintf(f, "%s\n    {\"t\": %u, \"messages\": %llu, \"rate\": %.17g, \"sent\": %llu, "
		        "\"bytes\": %llu, \"errors\": %llu, \"timed\": %llu, \"p50_ns\": %llu, "
		        "\"p99_ns\": %llu", i ? "," : "", i, (unsigned long long)e->msgs,
		        (double)e->msgs / len, (unsigned long long)e->sent, (unsigned long long)e->bytes,
		        (unsigned long long)e->errors, (unsigned long long)e->total,
		        (unsigned long long)wsb_sec_percentile(e, 50),
		        (unsigned long long)wsb_sec_percentile(e, 99));
		if (full) {
			fprintf(f, ", \"hist\": ");
			sparse_u32(f, e->counts, WSB_SEC_LEN);
		}
		fputc('}', f);
	}
	fprintf(f, "\n  ]");
}

static void histogram(FILE *f, const wr_hist *h)
{
	fprintf(f, ",\n  \"histogram\": {\"sub_bits\": %u, \"max_bits\": %u, \"series_sub_bits\": %u, "
	        "\"count\": %llu, \"min\": %llu, \"max\": %llu, \"sum\": %.17g, \"sum_sq\": %.17g,\n"
	        "    \"buckets\": ", WSB_HIST_SUB_BITS, WSB_HIST_MAX_BITS, WSB_SEC_SUB_BITS,
	        (unsigned long long)h->total, (unsigned long long)(h->total ? h->min : 0),
	        (unsigned long long)h->max, h->sum, h->sum_sq);
	sparse_u64(f, h->counts, WSB_HIST_LEN);
	fprintf(f, "}");
}

int wsb_report_json(FILE *f, const wsb_report *r, bool full)
{
	head(f, r);
	totals(f, r);
	latency(f, r->total.hist);
	errors(f, &r->total);
	cpu(f, r);
	series(f, r, full);
	if (full)
		histogram(f, r->total.hist);
	fprintf(f, "\n}\n");
	return ferror(f) ? -1 : 0;
}
