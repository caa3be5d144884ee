/* `ws-bench merge A.json B.json ...`: the reports of runs made side by side (several agents,
 * each with --out) combined into one, as if one run had made all of their traffic. Counts are
 * added; latency percentiles come from the added histograms — never from averaging each
 * run's percentiles, which is wrong for every percentile but the mean; the per-second series
 * is added second by second (second i of every run together: start agents with --start-at).
 * The result is printed as a run's report is (--json in the same format, --out again
 * mergeable, --hgrm, --plot). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "wsb.h"

typedef struct input {
	const char *path;
	char *text;
	wsb_json *root;
} input;

static int load(input *in)
{
	FILE *f = fopen(in->path, "rb");
	if (!f) {
		fprintf(stderr, "ws-bench merge: %s: %s\n", in->path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	while (b) {
		n += fread(b + n, 1, cap - n, f);
		if (n < cap)
			break;
		char *nb = realloc(b, cap *= 2);
		if (!nb)
			free(b);
		b = nb;
	}
	fclose(f);
	if (!b) {
		fprintf(stderr, "ws-bench merge: %s: out of memory\n", in->path);
		return -1;
	}
	char err[96] = "";
	in->text = b;
	in->root = wsb_json_parse(b, n, err, sizeof(err));
	if (!in->root) {
		fprintf(stderr, "ws-bench merge: %s: not JSON: %s\n", in->path, err);
		return -1;
	}
	const wsb_json *h = wsb_json_get(in->root, "histogram");
	if (wsb_json_u64(wsb_json_get(in->root, "format"), 0) != 1 || !h) {
		fprintf(stderr, "ws-bench merge: %s: not a ws-bench --out report (with the full "
		        "histogram; --json leaves it out)\n", in->path);
		return -1;
	}
	if (wsb_json_u64(wsb_json_get(h, "sub_bits"), 0) != WSB_HIST_SUB_BITS ||
	    wsb_json_u64(wsb_json_get(h, "max_bits"), 0) != WSB_HIST_MAX_BITS ||
	    wsb_json_u64(wsb_json_get(h, "series_sub_bits"), 0) != WSB_SEC_SUB_BITS) {
		fprintf(stderr, "ws-bench merge: %s: histogram of another shape (another ws-bench "
		        "version)\n", in->path);
		return -1;
	}
	return 0;
}

#define U(obj, key) wsb_json_u64(wsb_json_get((obj), (key)), 0)
#define D(obj, key) wsb_json_num(wsb_json_get((obj), (key)), 0)
#define S(obj, key) wsb_json_str(wsb_json_get((obj), (key)), "")

/* [[slot, count], ...] into counts (n slots); the sum of the counts, or -1 if malformed. */
static int64_t add_sparse(const wsb_json *arr, uint64_t *c64, uint32_t *c32, unsigned n)
{
	uint64_t sum = 0;
	if (!arr || arr->type != WSB_J_ARR)
		return -1;
	for (const wsb_json *p = arr->child; p; p = p->next) {
		const wsb_json *i = p->child, *c = i ? i->next : NULL;
		if (!c || i->type != WSB_J_NUM || c->type != WSB_J_NUM)
			return -1;
		uint64_t idx = wsb_json_u64(i, UINT64_MAX), cnt = wsb_json_u64(c, 0);
		if (idx >= n)
			return -1;
		if (c64)
			c64[idx] += cnt;
		else
			c32[idx] += (uint32_t)cnt;
		sum += cnt;
	}
	return (int64_t)sum;
}

static int add_hist(wr_hist *h, const wsb_json *j)
{
	uint64_t count = U(j, "count");
	int64_t got = add_sparse(wsb_json_get(j, "buckets"), h->counts, NULL, WSB_HIST_LEN);
	if (got < 0 || (uint64_t)got != count)
		return -1;
	if (!count)
		return 0;
	uint64_t mn = U(j, "min"), mx = U(j, "max");
	if (mn < h->min)
		h->min = mn;
	if (mx > h->max)
		h->max = mx;
	h->total += count;
	h->sum += D(j, "sum");
	h->sum_sq += D(j, "sum_sq");
	return 0;
}

static int add_series(wsb_series *s, const wsb_json *arr)
{
	if (!arr || arr->type != WSB_J_ARR)
		return -1;
	for (const wsb_json *e = arr->child; e; e = e->next) {
		uint64_t t = U(e, "t");
		if (t >= 10000000)
			return -1;
		if (t >= s->n) {
			wsb_series grow = { 0 };
			if (wsb_series_init(&grow, (double)t + 1) < 0 || wsb_series_add(s, &grow) < 0) {
				wsb_series_free(&grow);
				return -1;
			}
			wsb_series_free(&grow);
		}
		wsb_sec *d = wsb_series_at(s, (unsigned)t);
		if (!d)
			return -1;
		d->msgs += U(e, "messages");
		d->sent += U(e, "sent");
		d->bytes += U(e, "bytes");
		d->errors += U(e, "errors");
		int64_t got = add_sparse(wsb_json_get(e, "hist"), NULL, d->counts, WSB_SEC_LEN);
		if (got < 0 || (uint64_t)got != U(e, "timed"))
			return -1;
		d->total += (uint64_t)got;
	}
	return 0;
}

static void add_result(wsb_result *t, const wsb_json *j)
{
	const wsb_json *e = wsb_json_get(j, "errors");
	wsb_result x = {
		.sent_total = U(j, "sent_total"), .recv_total = U(j, "received_total"),
		.sent = U(j, "sent"), .msgs = U(j, "messages"), .bytes = U(j, "bytes"),
		.no_ts = U(j, "no_timestamp"), .handshakes = U(j, "handshakes"), .resumed = U(j, "resumed"), .opens = U(j, "opens"),
		.reconnects = U(j, "reconnects"), .behind = U(j, "behind"), .ramp_s = D(j, "ramp_s"),
		.connect_fail = U(e, "connect_failures"), .http_refused = U(e, "http_refused"),
		.mismatches = U(e, "mismatches"), .closes = U(e, "closes"),
		.unanswered = U(e, "unanswered"),
		.first_error = (int)D(e, "first_code"),
	};
	snprintf(x.first_reason, sizeof(x.first_reason), "%s", S(e, "first"));
	snprintf(x.protocol, sizeof(x.protocol), "%s", S(j, "protocol"));
	/* x.hist stays NULL: the histogram is added on its own, from its buckets */
	wsb_result_add(t, &x);
}

static int add_load(wsb_report *r, const wsb_json *j)
{
	const wsb_json *th = wsb_json_get(wsb_json_get(j, "client"), "threads");
	for (const wsb_json *e = th ? th->child : NULL; e; e = e->next) {
		wsb_thread_load *nl = realloc(r->load, (r->nload + 1) * sizeof(*nl));
		if (!nl)
			return -1;
		r->load = nl;
		const wsb_json *b = wsb_json_get(e, "busy");
		r->load[r->nload++] = (wsb_thread_load){
			.conns = (unsigned)U(e, "connections"), .msgs = U(e, "messages"),
			.cpu = D(e, "cpu"), .busy = b && b->type == WSB_J_NUM ? wsb_json_num(b, 0) : -1,
		};
	}
	return 0;
}

/* What the runs were: the same URL, mode and message, or the merge says so. */
static int add_opts(wsb_opts *o, const wsb_json *j, bool first, const char *path)
{
	int mode = wsb_mode_from_name(S(j, "mode"));
	if (mode < 0) {
		fprintf(stderr, "ws-bench merge: %s: unknown mode \"%s\"\n", path, S(j, "mode"));
		return -1;
	}
	if (!first && (enum wsb_mode)mode != o->mode) {
		fprintf(stderr, "ws-bench merge: %s: a %s run does not merge with %s runs\n", path,
		        S(j, "mode"), wsb_mode_name(o->mode));
		return -1;
	}
	size_t size = U(j, "size"), max_size = U(j, "max_size");
	if (first) {
		o->url = S(j, "url");
		o->mode = (enum wsb_mode)mode;
		o->size_spec = S(j, "size_spec");
		o->text = !strcmp(S(j, "type"), "text");
		o->payload = !strcmp(S(j, "payload"), "file") ? WSB_PAY_FILE
		           : !strcmp(S(j, "payload"), "template") ? WSB_PAY_TEMPLATE : WSB_PAY_GEN;
		o->pipeline = (unsigned)U(j, "pipeline");
		o->no_echo = wsb_json_bool(wsb_json_get(j, "no_echo"), false);
		o->size = size;
	}
	if (strcmp(o->url, S(j, "url")))
		o->url = "(several URLs)";
	if (strcmp(o->size_spec, S(j, "size_spec")))
		o->size_spec = "(mixed)";
	if (size < o->size)
		o->size = size;
	if (max_size > o->max_size)
		o->max_size = max_size;
	o->threads += (unsigned)U(j, "threads");
	o->conns += (unsigned)U(j, "connections");
	o->rate += D(j, "rate_target");
	if (D(j, "duration_s") > o->duration_s)
		o->duration_s = D(j, "duration_s");
	if (D(j, "warmup_s") > o->warmup_s)
		o->warmup_s = D(j, "warmup_s");
	return 0;
}

static int add_run(wsb_report *r, wsb_opts *o, const input *in, bool first)
{
	const wsb_json *j = in->root;
	if (add_opts(o, j, first, in->path) < 0)
		return -1;
	add_result(&r->total, j);
	if (add_hist(r->total.hist, wsb_json_get(j, "histogram")) < 0 ||
	    add_series(&r->series, wsb_json_get(j, "series")) < 0) {
		fprintf(stderr, "ws-bench merge: %s: histogram or series counts do not add up\n",
		        in->path);
		return -1;
	}
	if (add_load(r, j) < 0)
		return -1;
	r->agents += (unsigned)U(j, "agents");
	r->open_at_end += (unsigned)U(j, "open_at_end");
	double w = D(j, "window_s"), su = D(j, "start_unix"), wu = D(j, "window_start_unix");
	if (w > r->window_s)
		r->window_s = w; /* side by side: the longest window, not the sum */
	if (first || su < r->start_unix)
		r->start_unix = su;
	if (first || wu < r->window_unix)
		r->window_unix = wu;
	const wsb_json *cpu = wsb_json_get(j, "cpu"), *rss = wsb_json_get(j, "server_rss");
	r->cpu.self_s += D(cpu, "self_s");
	/* agents beside the server read the same process: its figure is the largest, not a sum */
	const wsb_json *srv = wsb_json_get(cpu, "server_s");
	if (srv && srv->type == WSB_J_NUM && wsb_json_num(srv, 0) > r->cpu.server_s)
		r->cpu.server_s = wsb_json_num(srv, 0);
	const wsb_json *b = wsb_json_get(rss, "before_kb"), *a = wsb_json_get(rss, "after_kb");
	if (b && a && b->type == WSB_J_NUM && a->type == WSB_J_NUM) {
		long bk = (long)wsb_json_num(b, 0), ak = (long)wsb_json_num(a, 0);
		if (r->cpu.rss_before_kb < 0 || bk < r->cpu.rss_before_kb)
			r->cpu.rss_before_kb = bk;
		if (ak > r->cpu.rss_after_kb)
			r->cpu.rss_after_kb = ak;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ws-bench merge [--json] [--out FILE] [--hgrm FILE] [--plot FILE.svg] "
	        "A.json B.json ...\n"
	        "  Combines the --out reports of runs made side by side (one per agent) into one:\n"
	        "  counts added, percentiles from the added histograms. Exit 1 if the runs had "
	        "errors.\n");
}

int wsb_merge_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "out", required_argument, NULL, 'o' },
		{ "hgrm", required_argument, NULL, 'g' },
		{ "plot", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	wsb_opts o = { .size_spec = "" };
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'j': o.json = true; break;
		case 'o': o.out_path = optarg; break;
		case 'g': o.hgrm_path = optarg; break;
		case 'p': o.plot_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	unsigned n = (unsigned)(argc - optind);
	if (n == 0) {
		usage(stderr);
		return 2;
	}
	input *in = calloc(n, sizeof(*in));
	wsb_report r = { .o = &o, .cpu = { .server_s = -1, .rss_before_kb = -1, .rss_after_kb = -1 } };
	r.total.hist = wsb_hist_new();
	int status = in && r.total.hist ? 0 : 2;
	for (unsigned i = 0; i < n && !status; i++) {
		in[i].path = argv[optind + i];
		if (load(&in[i]) < 0 || add_run(&r, &o, &in[i], i == 0) < 0)
			status = 2;
	}
	if (!status) {
		if (r.window_s <= 0)
			r.window_s = 1e-9;
		status = wsb_report_write(&r, wsb_report_errors(&r.total) ? 1 : 0);
	}
	for (unsigned i = 0; in && i < n; i++) {
		wsb_json_free(in[i].root);
		free(in[i].text);
	}
	free(in);
	free(r.load);
	wsb_series_free(&r.series);
	return status;
}
