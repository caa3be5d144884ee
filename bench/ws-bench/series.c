/* The per-second series: for each second of the measured window, the replies, bytes, sends
 * and errors counted in it and a coarse latency histogram (32 steps per power of two, so p50
 * and p99 within 3%). Kept as histograms rather than percentiles so that threads and agents
 * merge exactly: second i of two runs started together (--start-at) is the same second. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wsb.h"

int wsb_series_init(wsb_series *s, double duration_s)
{
	double n = ceil(duration_s);
	s->n = n < 1 ? 1 : n > 1e7 ? 10000000u : (unsigned)n;
	s->sec = calloc(s->n, sizeof(*s->sec));
	return s->sec ? 0 : -1;
}

void wsb_series_free(wsb_series *s)
{
	if (!s->sec)
		return;
	for (unsigned i = 0; i < s->n; i++)
		free(s->sec[i]);
	free(s->sec);
	s->sec = NULL;
	s->n = 0;
}

wsb_sec *wsb_series_at(wsb_series *s, unsigned i)
{
	if (i >= s->n)
		return NULL;
	if (!s->sec[i])
		s->sec[i] = calloc(1, sizeof(wsb_sec));
	return s->sec[i];
}

int wsb_series_add(wsb_series *dst, const wsb_series *src)
{
	if (src->n > dst->n) {
		wsb_sec **p = realloc(dst->sec, src->n * sizeof(*p));
		if (!p)
			return -1;
		memset(p + dst->n, 0, (src->n - dst->n) * sizeof(*p));
		dst->sec = p;
		dst->n = src->n;
	}
	for (unsigned i = 0; i < src->n; i++) {
		const wsb_sec *e = src->sec[i];
		if (!e)
			continue;
		wsb_sec *d = wsb_series_at(dst, i);
		if (!d)
			return -1;
		d->msgs += e->msgs;
		d->bytes += e->bytes;
		d->sent += e->sent;
		d->errors += e->errors;
		d->total += e->total;
		for (unsigned k = 0; k < WSB_SEC_LEN; k++)
			d->counts[k] += e->counts[k];
	}
	return 0;
}

uint64_t wsb_sec_percentile(const wsb_sec *e, double p)
{
	if (!e || !e->total)
		return 0;
	double want = ceil(p / 100.0 * (double)e->total);
	uint64_t need = want < 1 ? 1 : (uint64_t)want, seen = 0;
	for (unsigned i = 0; i < WSB_SEC_LEN; i++) {
		seen += e->counts[i];
		if (seen >= need)
			return wr_hist_high(i, WSB_SEC_SUB_BITS);
	}
	return wr_hist_high(WSB_SEC_LEN - 1, WSB_SEC_SUB_BITS);
}
