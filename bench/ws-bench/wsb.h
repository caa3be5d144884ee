/* ws-bench: what its parts share — options, the latency histogram, per-thread results. */
#ifndef WSB_H
#define WSB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- options (options.c) ---- */

enum wsb_mode {
	WSB_PINGPONG,   /* closed loop: K (default 1) messages in flight per connection */
	WSB_RATE,       /* open loop at a constant total rate, latency from the intended send time */
	WSB_CONNECT,    /* connect-upgrade-close cycles */
	WSB_IDLE,       /* open connections and hold them */
};

typedef struct wsb_opts {
	const char *url;          /* as given */
	char connect_url[512];    /* host resolved to a numeric address once */
	char host_port[300];      /* for messages */
	unsigned threads;
	unsigned conns;
	double duration_s;
	double warmup_s;
	size_t size;
	bool text;
	enum wsb_mode mode;
	unsigned pipeline;
	double rate;              /* messages per second, all connections together */
	unsigned ramp;            /* connects in flight at most, all threads together */
	int server_pid;           /* 0: none */
	bool json;
	const char *hgrm_path;
	const char *plot_path;
	bool quiet;               /* no live line */
	bool tls;                 /* wss:// */
	const char *ca_file;      /* --ca: trust anchors for wss:// (default: the system store) */
	bool insecure;            /* --insecure: no certificate checks */
	bool resume;              /* --resume: offer the last session's ticket (wss://) */
} wsb_opts;

/* Fills *o from argv; prints the problem and returns -1 on bad usage, 1 after --help. */
int wsb_opts_parse(int argc, char **argv, wsb_opts *o);
const char *wsb_mode_name(enum wsb_mode m);

/* ---- histogram (hist.c): log-linear buckets, 3 significant digits, fixed memory ---- */

#define WSB_HIST_SUB_BITS 11u                      /* 2048 sub-buckets: < 0.1% error */
#define WSB_HIST_HALF (1u << (WSB_HIST_SUB_BITS - 1))
#define WSB_HIST_MAX_BITS 38u                      /* values up to 2^38 ns (~275 s) */
#define WSB_HIST_LEN ((WSB_HIST_MAX_BITS - WSB_HIST_SUB_BITS + 2u) * WSB_HIST_HALF)

typedef struct wsb_hist {
	uint64_t total;
	uint64_t min, max;        /* exact */
	double sum, sum_sq;       /* for mean and deviation */
	uint64_t counts[WSB_HIST_LEN];
} wsb_hist;

void wsb_hist_reset(wsb_hist *h);
static inline unsigned wsb_hist_index(uint64_t v);
void wsb_hist_add(wsb_hist *dst, const wsb_hist *src);
/* Value at percentile p (0..100): the highest value equivalent to the bucket reached. */
uint64_t wsb_hist_percentile(const wsb_hist *h, double p);
uint64_t wsb_hist_bucket_high(unsigned idx);
double wsb_hist_mean(const wsb_hist *h);
double wsb_hist_stddev(const wsb_hist *h);
/* Walk the percentile ladder HdrHistogram prints (ticks_per_half per halving of the distance
 * to 100%); fn gets (value, percentile 0..1, count so far) per step, the last with 1.0. */
void wsb_hist_ladder(const wsb_hist *h, unsigned ticks_per_half,
                     void (*fn)(uint64_t value, double pct, uint64_t count, void *user), void *user);

static inline unsigned wsb_hist_index(uint64_t v)
{
	const uint64_t limit = (1ull << WSB_HIST_MAX_BITS) - 1;
	if (v > limit)
		v = limit;
	unsigned top = 63u - (unsigned)__builtin_clzll(v | 1);   /* highest set bit */
	unsigned b = top >= WSB_HIST_SUB_BITS ? top - (WSB_HIST_SUB_BITS - 1) : 0;
	return b * WSB_HIST_HALF + (unsigned)(v >> b);
}

static inline void wsb_hist_record(wsb_hist *h, uint64_t v)
{
	h->counts[wsb_hist_index(v)]++;
	h->total++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	double d = (double)v;
	h->sum += d;
	h->sum_sq += d * d;
}

/* ---- one thread's results (driver.c); the live counters are read by the main thread ---- */

typedef struct wsb_live {
	_Atomic uint64_t msgs;     /* echoes received (all phases) */
	_Atomic uint64_t bytes;
	_Atomic uint64_t errors;
	_Atomic uint64_t opens;    /* handshakes completed */
	_Atomic unsigned pending;  /* connects not yet answered (ramp) */
} wsb_live;

typedef struct wsb_result {
	uint64_t sent_total;       /* every message sent, warm-up included */
	uint64_t recv_total;       /* every echo received, warm-up included */
	uint64_t msgs;             /* echoes received inside the measured window */
	uint64_t bytes;            /* their payload bytes */
	uint64_t handshakes;       /* opens inside the window (connect mode) */
	uint64_t resumed;          /* of those, TLS handshakes that resumed a session */
	uint64_t opens;            /* all opens */
	uint64_t connect_fail;     /* refused, timed out, ... */
	uint64_t http_refused;     /* answered without 101 */
	uint64_t mismatches;       /* echo differs from what was sent */
	uint64_t closes;           /* closed by the server or dropped before the end */
	uint64_t unanswered;       /* still in flight when the drain time ran out */
	uint64_t behind;           /* rate mode: scheduled sends never made */
	int first_error;           /* -errno or HTTP status of the first failure */
	char first_reason[96];
	wsb_hist hist;             /* latency in ns (handshake latency in connect mode) */
} wsb_result;

typedef struct wsb_shared wsb_shared;

typedef struct wsb_thread {
	unsigned idx;
	const wsb_opts *o;
	wsb_shared *sh;
	unsigned first_conn, nconns;
	wsb_live live;
	wsb_result res;
	int rc;
	void *priv;                /* the driver's state */
} wsb_thread;

/* What the main thread and the workers share; times in wr_now_ns() nanoseconds. */
struct wsb_shared {
	_Atomic uint64_t start_ns;     /* 0 until every connection is up: traffic starts here */
	uint64_t warm_end_ns, end_ns;  /* valid once start_ns is set */
	_Atomic bool abort;            /* end now (fatal error, signal) */
	_Atomic unsigned done;         /* workers whose loop returned */
	_Atomic unsigned ramped;       /* workers whose connections are all up or failed */
	/* live p99: workers fold their interval histogram in once a second */
	void *mtx;
	wsb_hist *interval;
};

void *wsb_thread_main(void *arg);
void wsb_interval_publish(wsb_shared *sh, wsb_hist *h);

/* ---- report (report.c) ---- */

typedef struct wsb_cpu {
	double self_s;             /* ws-bench user+sys seconds in the window */
	double server_s;           /* server utime+stime in the window; < 0: unknown */
	long rss_before_kb, rss_after_kb; /* idle mode, server VmRSS; < 0: unknown */
} wsb_cpu;

typedef struct wsb_report {
	const wsb_opts *o;
	wsb_result total;          /* merged */
	double window_s;           /* measured time */
	wsb_cpu cpu;
	unsigned open_at_end;
} wsb_report;

void wsb_report_live(const wsb_opts *o, double t, uint64_t msgs, uint64_t bytes, double dt,
                     uint64_t p99_ns, uint64_t errors, uint64_t opens);
void wsb_report_table(FILE *f, const wsb_report *r);
int wsb_report_json(FILE *f, const wsb_report *r);
int wsb_report_hgrm(const char *path, const wsb_hist *h);
int wsb_report_svg(const char *path, const wsb_report *r);
uint64_t wsb_report_errors(const wsb_result *t);

/* ---- /proc readings (procstat.c) ---- */

double wsb_proc_cpu_s(int pid);       /* utime+stime seconds; < 0 on error */
long wsb_proc_rss_kb(int pid);        /* VmRSS; < 0 on error */
double wsb_self_cpu_s(void);
void wsb_raise_nofile(unsigned need);

#endif
