/* ws-bench: what its parts share — options, payloads, the latency histograms, the per-second
 * series, per-thread results and the report. */
#ifndef WSB_H
#define WSB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "hist.h"   /* lib/core: the library's histogram */

/* ---- options (options.c) ---- */

enum wsb_mode {
	WSB_PINGPONG,   /* closed loop: K (default 1) messages in flight per connection */
	WSB_RATE,       /* open loop at a constant total rate, latency from the intended send time */
	WSB_CONNECT,    /* connect-upgrade-close cycles */
	WSB_IDLE,       /* open connections and hold them */
};

enum wsb_payload_kind {
	WSB_PAY_GEN,      /* generated: sequence number, timestamp, then a pattern from both */
	WSB_PAY_FILE,     /* a file's bytes, the same every message */
	WSB_PAY_TEMPLATE, /* a file with {seq} and {ts} filled per message */
};

enum wsb_size_kind { WSB_SIZE_FIXED, WSB_SIZE_RANGE, WSB_SIZE_LIST };

/* A template, split at its fields: lit[0] field[0] lit[1] field[1] ... lit[nfields]. */
#define WSB_TPL_MAX_FIELDS 32
enum wsb_field { WSB_F_SEQ, WSB_F_TS };
typedef struct wsb_template {
	const uint8_t *lit[WSB_TPL_MAX_FIELDS + 1];
	size_t lit_len[WSB_TPL_MAX_FIELDS + 1];
	enum wsb_field field[WSB_TPL_MAX_FIELDS];
	unsigned nfields;
	int ts_field;             /* index of the first {ts}, -1 if none */
} wsb_template;

typedef struct wsb_opts {
	const char *url;          /* as given: its host goes in Host and SNI */
	char host_port[300];      /* for messages */
	struct sockaddr_storage addr; /* the host, resolved once */
	unsigned addr_len;
	unsigned threads;
	unsigned conns;
	double duration_s;
	double warmup_s;
	bool text;
	bool deflate;             /* offer permessage-deflate */
	enum wsb_mode mode;
	unsigned pipeline;
	double rate;              /* messages per second, all connections together */
	unsigned ramp;            /* connects in flight at most, all threads together */
	double open_rate;         /* connections opened per second at most, 0: no limit */
	bool reconnect;           /* reopen connections the server closes: hold N open */
	bool no_echo;             /* replies are not echoes: count them, latency from a copied ts */
	/* --fanout: pub/sub. Connections 0..publishers-1 go to pub_url and send at --rate (all
	 * together); the other `subscribers` (-c) go to url and only receive. */
	const char *pub_url;
	unsigned publishers;
	unsigned subscribers;
	const char *stats_path;   /* --stats-path: the server's JSON counts, read before and after */
	int server_pid;           /* 0: none */
	bool json;
	const char *hgrm_path;
	const char *plot_path;
	const char *out_path;     /* report + full histograms, for `ws-bench merge` */
	double start_at;          /* unix time traffic starts; 0: once connected */
	bool quiet;               /* no live line */
	/* handshake */
	const char **headers;     /* "Name: value", NULL-terminated (Origin included) */
	char *origin_line;        /* "Origin: ...", allocated, also in headers */
	const char **protocols;   /* offered subprotocols, NULL-terminated; NULL: none */
	bool tls;                 /* wss:// */
	const char *ca_file;      /* --ca: trust anchors for wss:// (default: the system store) */
	bool insecure;            /* --insecure: no certificate checks */
	bool epoll;               /* --epoll: the epoll client (epoll.c), WebSocket by hand */
	bool raw;                 /* --raw: the epoll client over plain TCP, a frame's bytes echoed */
	bool resume;              /* --resume: wss:// sessions resumed from tickets */
	const char *cert_file, *key_file; /* client certificate (mutual TLS) */
	const char *sni;          /* server name for SNI and the certificate check */
	/* source addresses, connection i on binds[i % nbinds] */
	struct sockaddr_storage *binds;
	unsigned nbinds;
	unsigned bind_len;
	/* payload */
	enum wsb_payload_kind payload;
	const char *size_spec;    /* as given, for the report */
	enum wsb_size_kind size_kind;
	size_t size, size_hi;     /* fixed size, or the range lo..hi */
	size_t *sizes;            /* WSB_SIZE_LIST */
	unsigned nsizes;
	size_t max_size;          /* the largest message any of the above makes */
	uint8_t *file_data;       /* WSB_PAY_FILE, or the template's text */
	size_t file_len;
	const char *payload_path;
	wsb_template tpl;
} wsb_opts;

/* Fills *o from argv; prints the problem and returns -1 on bad usage, 1 after --help. */
int wsb_opts_parse(int argc, char **argv, wsb_opts *o);
void wsb_opts_free(wsb_opts *o);
const char *wsb_mode_name(enum wsb_mode m);
int wsb_mode_from_name(const char *s);
int wsb_parse_size(const char *s, size_t *out);

/* ---- payloads (payload.c) ---- */

#define WSB_HDR_BIN 16u   /* generated binary: seq, ts (little-endian u64 each) */
#define WSB_HDR_TEXT 22u  /* generated text: the same, 11 characters of 6 bits each */

/* Loads --payload / --template / -s @FILE; prints the problem and returns -1. */
int wsb_payload_load(wsb_opts *o);
/* Message number seq (the connection in its top bits) sent at ts (wall-clock ns): written to
 * buf (o->max_size bytes); returns its length. */
size_t wsb_payload_fill(const wsb_opts *o, uint8_t *buf, uint64_t seq, uint64_t ts);
/* An echo: 0 when p is exactly message want_seq, with its timestamp in *out_ts (0 when the
 * payload carries none: a file); -1 otherwise. */
int wsb_payload_check(const wsb_opts *o, const uint8_t *p, size_t len, uint64_t want_seq,
                      uint64_t *out_ts);
/* A reply that is not an echo (--no-echo): the send timestamp it copied back, found where the
 * message carried it (the first bytes of a generated message; after the text before {ts} in a
 * template). 0 and *out_ts, or -1 when there is none. */
int wsb_reply_ts(const wsb_opts *o, const uint8_t *p, size_t len, uint64_t *out_ts);
/* A generated message's sequence number (the sender in its top bits): 0, or -1. */
int wsb_reply_seq(const wsb_opts *o, const uint8_t *p, size_t len, uint64_t *out_seq);

/* ---- histograms: the library's log-linear histogram (lib/core/hist.h), fixed memory ---- */

/* The full shape: 2048 sub-buckets (< 0.1% error), values up to 2^38 ns (~275 s). */
#define WSB_HIST_SUB_BITS 11u
#define WSB_HIST_HALF (1u << (WSB_HIST_SUB_BITS - 1))
#define WSB_HIST_MAX_BITS 38u
#define WSB_HIST_LEN WR_HIST_LEN(WSB_HIST_SUB_BITS, WSB_HIST_MAX_BITS)

static inline wr_hist *wsb_hist_new(void)
{
	return wr_hist_new(WSB_HIST_SUB_BITS, WSB_HIST_MAX_BITS);
}
static inline unsigned wsb_hidx(uint64_t v, unsigned sub_bits)
{
	return wr_hist_idx(v, sub_bits, WSB_HIST_MAX_BITS);
}

/* ---- the per-second series (series.c): one entry per second of the window ---- */

#define WSB_SEC_SUB_BITS 6u   /* 32 steps per power of two: within 3%, 4 KiB a second */
#define WSB_SEC_LEN ((WSB_HIST_MAX_BITS - WSB_SEC_SUB_BITS + 2u) << (WSB_SEC_SUB_BITS - 1))

typedef struct wsb_sec {
	uint64_t msgs, bytes, sent, errors;
	uint64_t total;               /* latencies recorded */
	uint32_t counts[WSB_SEC_LEN];
} wsb_sec;

typedef struct wsb_series {
	wsb_sec **sec;                /* NULL until something happened in that second */
	unsigned n;
} wsb_series;

int wsb_series_init(wsb_series *s, double duration_s);
void wsb_series_free(wsb_series *s);
/* The entry for second i, allocated on first use; NULL past the end or out of memory. */
wsb_sec *wsb_series_at(wsb_series *s, unsigned i);
static inline void wsb_sec_latency(wsb_sec *e, uint64_t v)
{
	e->counts[wsb_hidx(v, WSB_SEC_SUB_BITS)]++;
	e->total++;
}
int wsb_series_add(wsb_series *dst, const wsb_series *src);
uint64_t wsb_sec_percentile(const wsb_sec *e, double p);

/* ---- one thread's results (driver.c); the live counters are read by the main thread ---- */

typedef struct wsb_live {
	_Atomic uint64_t msgs;     /* replies received (all phases) */
	_Atomic uint64_t bytes;
	_Atomic uint64_t errors;
	_Atomic uint64_t opens;    /* handshakes completed */
	_Atomic unsigned pending;  /* connects not yet answered (ramp) */
	_Atomic int tid;           /* the thread's id, for its scheduler figures */
} wsb_live;

typedef struct wsb_result {
	uint64_t sent_total;       /* every message sent, warm-up included */
	uint64_t recv_total;       /* every reply received, warm-up included */
	uint64_t sent;             /* messages sent inside the measured window */
	uint64_t msgs;             /* replies received inside the measured window */
	uint64_t bytes;            /* their payload bytes */
	uint64_t no_ts;            /* --no-echo: replies without a timestamp to time */
	uint64_t handshakes;       /* opens inside the window (connect mode) */
	uint64_t resumed;          /* of those, TLS sessions resumed */
	uint64_t opens;            /* all opens */
	uint64_t reconnects;       /* --reconnect: clean server closes, reopened */
	uint64_t connect_fail;     /* refused, timed out, ... */
	uint64_t http_refused;     /* answered without 101 */
	uint64_t mismatches;       /* echo differs from what was sent */
	uint64_t closes;           /* closed by the server or dropped before the end */
	uint64_t unanswered;       /* still in flight when the drain time ran out */
	uint64_t behind;           /* rate mode: scheduled sends never made */
	uint64_t gaps;             /* fan-out: a publisher's messages a subscriber never got */
	uint64_t reorders;         /* fan-out: a publisher's message after a later one */
	int first_error;           /* -errno or HTTP status of the first failure */
	char first_reason[96];
	char protocol[64];         /* the subprotocol the server chose (first connection) */
	double ramp_s;             /* first connect to the last connection open */
	wr_hist *hist;            /* latency in ns (handshake latency in connect mode); owned,
	                            * NULL in a result that only carries counts */
} wsb_result;

typedef struct wsb_shared wsb_shared;

typedef struct wsb_thread {
	unsigned idx;
	const wsb_opts *o;
	wsb_shared *sh;
	unsigned first_conn, nconns;
	wsb_live live;
	wsb_result res;
	wsb_series series;
	int rc;
	void *priv;                /* the driver's state */
} wsb_thread;

/* What the main thread and the workers share; times in wr_now_ns() nanoseconds. */
struct wsb_shared {
	_Atomic uint64_t start_ns;     /* 0 until every connection is up: traffic starts here */
	uint64_t warm_end_ns, end_ns;  /* valid once start_ns is set */
	int64_t wall_offset;           /* wall-clock ns = wr_now_ns() + wall_offset */
	_Atomic bool abort;            /* end now (fatal error, signal) */
	_Atomic unsigned done;         /* workers whose loop returned */
	_Atomic unsigned ramped;       /* workers whose connections are all up or failed */
	/* live p99: workers fold their interval histogram in once a second */
	void *mtx;
	wr_hist *interval;
};

void *wsb_thread_main(void *arg);
/* --epoll and --raw (epoll.c): one recv and one send per message per connection. */
void *wsb_epoll_thread_main(void *arg);
void wsb_interval_publish(wsb_shared *sh, wr_hist *h);

/* ---- report (report.c, json_out.c, svg.c) ---- */

typedef struct wsb_cpu {
	double self_s;             /* ws-bench user+sys seconds in the window */
	double server_s;           /* server utime+stime in the window; < 0: unknown */
	long rss_before_kb, rss_after_kb; /* idle mode, server VmRSS; < 0: unknown */
} wsb_cpu;

/* One ws-bench thread's share of the window: on a CPU, and on a CPU or waiting for one. */
typedef struct wsb_thread_load {
	unsigned conns;
	uint64_t msgs;
	double cpu, busy;          /* fractions of the window; busy < 0: unknown */
} wsb_thread_load;

#define WSB_SATURATED 0.90     /* a thread this busy is the bottleneck, not the server */

typedef struct wsb_report {
	const wsb_opts *o;
	wsb_result total;          /* merged */
	double window_s;           /* measured time */
	wsb_cpu cpu;
	unsigned open_at_end;
	double start_unix;         /* wall clock when traffic started (warm-up began) */
	double window_unix;        /* wall clock when the window began */
	wsb_thread_load *load;     /* per thread */
	unsigned nload;
	wsb_series series;
	unsigned agents;           /* runs merged into this report (1 for a run) */
	/* --stats-path: the server's pub/sub counts over the window; < 0: not read */
	double srv_dropped, srv_conflated, srv_delivered;
} wsb_report;

void wsb_report_live(const wsb_opts *o, double t, uint64_t msgs, uint64_t bytes, double dt,
                     uint64_t p99_ns, uint64_t errors, uint64_t opens, double busy);
void wsb_report_table(FILE *f, const wsb_report *r);
/* full: also the whole histogram and each second's histogram (--out, merge input). */
int wsb_report_json(FILE *f, const wsb_report *r, bool full);
int wsb_report_hgrm(const char *path, const wr_hist *h);
int wsb_report_svg(const char *path, const wsb_report *r);
uint64_t wsb_report_errors(const wsb_result *t);
void wsb_result_add(wsb_result *dst, const wsb_result *src);
/* Everything the options ask for: --json or the table on stdout, --out, --hgrm, --plot.
 * Returns status, or 2 if it was 0 and a file could not be written. */
int wsb_report_write(const wsb_report *r, int status);
double wsb_report_max_busy(const wsb_report *r);
const char *wsb_fmt_ns(char *buf, size_t n, double ns);

/* ---- merge (merge.c): `ws-bench merge A.json B.json ...` ---- */

int wsb_merge_main(int argc, char **argv);

/* ---- /proc readings (procstat.c) ---- */

double wsb_proc_cpu_s(int pid);       /* utime+stime seconds; < 0 on error */
long wsb_proc_rss_kb(int pid);        /* VmRSS; < 0 on error */
double wsb_self_cpu_s(void);
/* A thread's time on a CPU and waiting for one (ns, /proc/self/task/TID/schedstat); -1 if the
 * kernel does not keep them. */
int wsb_thread_sched(int tid, uint64_t *out_run_ns, uint64_t *out_wait_ns);
void wsb_raise_nofile(unsigned need);

/* ---- blocking setup calls (blocking.c) ---- */

/* connect(2) on a blocking socket, finished after EINTR: 0 or -errno. */
int wsb_connect(int fd, const struct sockaddr *addr, socklen_t len, int timeout_ms);
/* recv(2) with flags 0, again after EINTR. */
ssize_t wsb_recv(int fd, void *p, size_t n);

#endif
