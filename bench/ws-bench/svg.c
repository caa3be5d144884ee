/* --plot: one self-contained SVG with two charts. Above, latency (linear y) against percentile
 * on a log scale of 1/(1-p), the way HdrHistogram plots are read; below, the window second by
 * second: messages per second (left axis) and p50 and p99 latency (right axis), with a mark
 * above each second that had errors. */
#include <math.h>
#include <stdio.h>

#include "wsb.h"

#define SVG_W 860.0
#define SVG_H 860.0
#define PAD_L 80.0
#define PAD_R 80.0
#define TOP_T 50.0      /* percentile chart */
#define TOP_H 340.0
#define BOT_T 510.0     /* series chart */
#define BOT_H 270.0

#define C_CURVE "#1f77b4"
#define C_RATE "#2ca02c"
#define C_P50 "#ff7f0e"
#define C_P99 "#d62728"
#define C_ERR "#9467bd"

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

static void line(FILE *f, double x1, double y1, double x2, double y2, const char *color)
{
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", x1, y1,
	        x2, y2, color);
}

static void text(FILE *f, double x, double y, const char *anchor, const char *color,
                 const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">%s</text>\n", x, y,
	        anchor, color, s);
}

/* A latency axis unit that suits ymax (ns). */
static double unit_for(double ymax, const char **name)
{
	*name = ymax >= 2e6 ? "ms" : "us";
	return ymax >= 2e6 ? 1e6 : 1e3;
}

static void percentile_chart(FILE *f, const wr_hist *h)
{
	static svg_pts pts;
	double pw = SVG_W - PAD_L - PAD_R, ph = TOP_H;
	pts.n = 0;
	pts.xmax = h->total > 1 ? ceil(log10((double)h->total)) : 1.0;
	if (pts.xmax < 2)
		pts.xmax = 2;
	wr_hist_ladder(h, 5, svg_point, &pts);
	double ymax = h->max ? (double)h->max * 1.05 : 1.0;
	const char *uname;
	double unit = unit_for(ymax, &uname);
	char label[64];
	for (int i = 0; i <= 5; i++) {
		double y = TOP_T + ph - ph * i / 5;
		line(f, PAD_L, y, PAD_L + pw, y, "#ddd");
		snprintf(label, sizeof(label), "%.3g", ymax * i / 5 / unit);
		text(f, PAD_L - 6, y + 4, "end", "black", label);
	}
	/* x grid: one line per nine, 0%, 90%, 99%, ... */
	for (int i = 0; i <= (int)pts.xmax; i++) {
		double x = PAD_L + pw * i / pts.xmax;
		if (i == 0)
			snprintf(label, sizeof(label), "0%%");
		else
			snprintf(label, sizeof(label), "%.*f%%", i > 2 ? i - 2 : 0, 100.0 - 100.0 / pow(10, i));
		line(f, x, TOP_T, x, TOP_T + ph, "#ddd");
		text(f, x, TOP_T + ph + 18, "middle", "black", label);
	}
	text(f, PAD_L + pw / 2, TOP_T + ph + 38, "middle", "black", "Percentile");
	fprintf(f, "<text transform=\"translate(20 %.1f) rotate(-90)\" text-anchor=\"middle\">"
	        "Latency (%s)</text>\n", TOP_T + ph / 2, uname);
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
	        "stroke=\"#444\"/>\n", PAD_L, TOP_T, pw, ph);
	fprintf(f, "<polyline fill=\"none\" stroke=\"" C_CURVE "\" stroke-width=\"3\" points=\"");
	for (unsigned i = 0; i < pts.n; i++)
		fprintf(f, "%.1f,%.1f ", PAD_L + pw * pts.x[i] / pts.xmax, TOP_T + ph - ph * pts.y[i] / ymax);
	fprintf(f, "\"/>\n");
}

static void series_line(FILE *f, const wsb_report *r, unsigned n, double vmax, int what)
{
	static const char *const colors[] = { C_RATE, C_P50, C_P99 };
	double pw = SVG_W - PAD_L - PAD_R;
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"3\" points=\"", colors[what]);
	for (unsigned i = 0; i < n; i++) {
		const wsb_sec *e = r->series.sec[i];
		double len = r->window_s - i < 1.0 ? r->window_s - i : 1.0, v;
		if (what == 0)
			v = e ? (double)e->msgs / len : 0;
		else if (!e || !e->total)
			continue; /* nothing timed that second: no point rather than a false zero */
		else
			v = (double)wsb_sec_percentile(e, what == 1 ? 50 : 99);
		fprintf(f, "%.1f,%.1f ", PAD_L + pw * (i + 0.5) / n, BOT_T + BOT_H - BOT_H * v / vmax);
	}
	fprintf(f, "\"/>\n");
}

static void series_chart(FILE *f, const wsb_report *r)
{
	double pw = SVG_W - PAD_L - PAD_R;
	unsigned n = r->series.n;
	while (n > 1 && r->window_s <= n - 1)
		n--;
	double rmax = 1, lmax = 1;
	for (unsigned i = 0; i < n; i++) {
		const wsb_sec *e = r->series.sec[i];
		if (!e)
			continue;
		double len = r->window_s - i < 1.0 ? r->window_s - i : 1.0;
		if ((double)e->msgs / len > rmax)
			rmax = (double)e->msgs / len;
		double p99 = (double)wsb_sec_percentile(e, 99);
		if (p99 > lmax)
			lmax = p99;
	}
	rmax *= 1.1;
	lmax *= 1.1;
	const char *uname;
	double unit = unit_for(lmax, &uname);
	char label[64];
	text(f, PAD_L, BOT_T - 14, "start", "black", "Per second of the window:");
	text(f, PAD_L + 190, BOT_T - 14, "start", C_RATE,
	     r->o->mode == WSB_CONNECT ? "handshakes/s" : "msgs/s");
	text(f, PAD_L + 290, BOT_T - 14, "start", C_P50, "p50");
	text(f, PAD_L + 330, BOT_T - 14, "start", C_P99, "p99");
	text(f, PAD_L + 370, BOT_T - 14, "start", C_ERR, "errors");
	for (int i = 0; i <= 5; i++) {
		double y = BOT_T + BOT_H - BOT_H * i / 5;
		line(f, PAD_L, y, PAD_L + pw, y, "#ddd");
		snprintf(label, sizeof(label), "%.3g", rmax * i / 5);
		text(f, PAD_L - 6, y + 4, "end", C_RATE, label);
		snprintf(label, sizeof(label), "%.3g", lmax * i / 5 / unit);
		text(f, PAD_L + pw + 6, y + 4, "start", C_P99, label);
	}
	unsigned step = n > 20 ? (n + 19) / 20 : 1;
	for (unsigned i = 0; i <= n; i += step) {
		double x = PAD_L + pw * i / n;
		line(f, x, BOT_T, x, BOT_T + BOT_H, "#eee");
		snprintf(label, sizeof(label), "%us", i);
		text(f, x, BOT_T + BOT_H + 18, "middle", "black", label);
	}
	fprintf(f, "<text transform=\"translate(20 %.1f) rotate(-90)\" text-anchor=\"middle\" "
	        "fill=\"" C_RATE "\">%s</text>\n", BOT_T + BOT_H / 2,
	        r->o->mode == WSB_CONNECT ? "Handshakes per second" : "Messages per second");
	fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(90)\" text-anchor=\"middle\" "
	        "fill=\"" C_P99 "\">Latency (%s)</text>\n", SVG_W - 20, BOT_T + BOT_H / 2, uname);
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
	        "stroke=\"#444\"/>\n", PAD_L, BOT_T, pw, BOT_H);
	for (unsigned i = 0; i < n; i++) {
		const wsb_sec *e = r->series.sec[i];
		if (e && e->errors)
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"8\" fill=\"" C_ERR
			        "\"><title>%llu errors</title></rect>\n", PAD_L + pw * i / n + 1, BOT_T + 2,
			        pw / n - 2, (unsigned long long)e->errors);
	}
	series_line(f, r, n, rmax, 0);
	series_line(f, r, n, lmax, 1);
	series_line(f, r, n, lmax, 2);
}

int wsb_report_svg(const char *path, const wsb_report *r)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
	        "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
	        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", SVG_W, SVG_H, SVG_W, SVG_H);
	fprintf(f, "<text x=\"%.0f\" y=\"24\" font-size=\"15\">Latency by percentile: ", PAD_L);
	xml_text(f, r->o->url);
	fprintf(f, " (%s, %u conns", wsb_mode_name(r->o->mode), r->o->conns);
	if (r->agents > 1)
		fprintf(f, ", %u agents", r->agents);
	fprintf(f, ")</text>\n");
	percentile_chart(f, r->total.hist);
	series_chart(f, r);
	fprintf(f, "</svg>\n");
	return fclose(f) ? -1 : 0;
}
