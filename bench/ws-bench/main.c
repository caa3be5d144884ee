/* ws-bench: a WebSocket load generator on wring's async client. The main thread starts one
 * worker (one wr_loop) per -t, waits for the connection ramp, sets the clock (at --start-at
 * when given, so that agents on several machines start together), prints a live line per
 * second, samples CPU and memory at the window's edges — its own threads' too, to say when
 * ws-bench rather than the server is the bottleneck — then merges the workers' results and
 * reports. `ws-bench merge` (merge.c) combines the reports of several runs. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wring.h>

#include "wsb.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

void wsb_interval_publish(wsb_shared *sh, wr_hist *h)
{
	pthread_mutex_lock(sh->mtx);
	wr_hist_add(sh->interval, h);
	pthread_mutex_unlock(sh->mtx);
	wr_hist_reset(h);
}

static void sleep_until(uint64_t ns)
{
	uint64_t now = wr_now_ns();
	if (ns <= now)
		return;
	uint64_t d = ns - now;
	struct timespec ts = { (time_t)(d / 1000000000ull), (long)(d % 1000000000ull) };
	nanosleep(&ts, NULL);
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the workers' load: time on a CPU, and on a CPU or waiting for one ---- */

typedef struct tsample {
	uint64_t run, wait;
	bool sched;                /* from schedstat; else run from the thread's CPU clock */
} tsample;

typedef struct workers {
	wsb_thread *th;
	pthread_t *tid;
	unsigned n;
} workers;

static void sample(const workers *w, tsample *out)
{
	for (unsigned i = 0; i < w->n; i++) {
		tsample s = { 0 };
		int tid = atomic_load(&w->th[i].live.tid);
		if (tid > 0 && wsb_thread_sched(tid, &s.run, &s.wait) == 0) {
			s.sched = true;
		} else {
			clockid_t cid;
			struct timespec ts;
			if (pthread_getcpuclockid(w->tid[i], &cid) == 0 && clock_gettime(cid, &ts) == 0)
				s.run = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		}
		out[i] = s;
	}
}

static wsb_thread_load load_of(const tsample *a, const tsample *b, double dt_ns)
{
	wsb_thread_load l = { .busy = -1 };
	if (dt_ns <= 0)
		return l;
	/* the readings and the clock are not taken at the same instant: a hair over 1 is 1 */
	l.cpu = fmin((double)(b->run - a->run) / dt_ns, 1.0);
	if (a->sched && b->sched)
		l.busy = fmin((double)(b->run - a->run + b->wait - a->wait) / dt_ns, 1.0);
	return l;
}

static double max_busy(const tsample *a, const tsample *b, unsigned n, double dt_ns)
{
	double m = 0;
	for (unsigned i = 0; i < n; i++) {
		wsb_thread_load l = load_of(&a[i], &b[i], dt_ns);
		double v = l.busy >= 0 ? l.busy : l.cpu;
		if (v > m)
			m = v;
	}
	return m;
}

/* ---- live line ---- */

typedef struct live_prev {
	uint64_t msgs, bytes, opens;
	uint64_t at;
	tsample *load;
} live_prev;

static void live_sum(const wsb_thread *t, unsigned n, uint64_t *msgs, uint64_t *bytes,
                     uint64_t *errors, uint64_t *opens, unsigned *pending)
{
	*msgs = *bytes = *errors = *opens = 0;
	*pending = 0;
	for (unsigned i = 0; i < n; i++) {
		*msgs += atomic_load_explicit(&t[i].live.msgs, memory_order_relaxed);
		*bytes += atomic_load_explicit(&t[i].live.bytes, memory_order_relaxed);
		*errors += atomic_load_explicit(&t[i].live.errors, memory_order_relaxed);
		*opens += atomic_load_explicit(&t[i].live.opens, memory_order_relaxed);
		*pending += atomic_load_explicit(&t[i].live.pending, memory_order_relaxed);
	}
}

/* One live line: rates since the previous one, p99 of what the workers published, and how
 * busy the busiest ws-bench thread was. */
static void live_line(const wsb_opts *o, wsb_shared *sh, const workers *w, live_prev *p,
                      uint64_t t0, tsample *scratch)
{
	uint64_t msgs, bytes, errors, opens, now = wr_now_ns();
	unsigned pending;
	live_sum(w->th, w->n, &msgs, &bytes, &errors, &opens, &pending);
	pthread_mutex_lock(sh->mtx);
	uint64_t p99 = wr_hist_percentile(sh->interval, 99);
	wr_hist_reset(sh->interval);
	pthread_mutex_unlock(sh->mtx);
	sample(w, scratch);
	double dt = (double)(now - p->at) / 1e9;
	if (!o->quiet && dt > 0)
		wsb_report_live(o, (double)(now - t0) / 1e9, msgs - p->msgs, bytes - p->bytes, dt, p99,
		                errors, opens - p->opens, max_busy(p->load, scratch, w->n, dt * 1e9));
	memcpy(p->load, scratch, w->n * sizeof(tsample));
	p->msgs = msgs;
	p->bytes = bytes;
	p->opens = opens;
	p->at = now;
}

/* --stats-path: one plain HTTP GET to the server (its address, resolved once) and the
 * "delivered", "dropped" and "conflated" numbers of the JSON it answers. false when it
 * cannot be read. */
static bool fetch_stats(const wsb_opts *o, double out[3])
{
	int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char req[512], buf[4096];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
	                 o->stats_path, o->host_port);
	size_t got = 0;
	if (wsb_connect(fd, (const struct sockaddr *)&o->addr, o->addr_len, 2000) == 0 &&
	    write(fd, req, (size_t)n) == n) {
		ssize_t k;
		while (got + 1 < sizeof(buf) && (k = wsb_recv(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)k;
	}
	close(fd);
	buf[got] = 0;
	const char *names[3] = { "\"delivered\":", "\"dropped\":", "\"conflated\":" };
	for (int i = 0; i < 3; i++) {
		const char *p = strstr(buf, names[i]);
		if (!p)
			return false;
		out[i] = strtod(p + strlen(names[i]), NULL);
	}
	return true;
}

/* When traffic starts: once connected, or at --start-at if that is later. */
static uint64_t start_time(const wsb_opts *o, int64_t off)
{
	uint64_t now = wr_now_ns(), start = now + 2000000ull;
	if (o->start_at > 0) {
		int64_t at = (int64_t)(o->start_at * 1e9) - off;
		if (at > (int64_t)start)
			start = (uint64_t)at;
		else if (!o->quiet || o->json)
			fprintf(stderr, "ws-bench: connected %.3f s after --start-at: starting now\n",
			        (double)((int64_t)now - at) / 1e9);
	}
	return start;
}

static int run(wsb_opts *o)
{
	wsb_raise_nofile(o->conns * (o->mode == WSB_CONNECT ? 3 : 1) + 64 * o->threads + 64);
	if (o->server_pid && wsb_proc_cpu_s(o->server_pid) < 0) {
		fprintf(stderr, "ws-bench: --server-pid %d: cannot read /proc/%d/stat\n", o->server_pid,
		        o->server_pid);
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	double st0[3] = { 0 }, st1[3];
	bool have_st0 = false;
	wsb_report rep = { .o = o, .agents = 1, .srv_dropped = -1, .srv_conflated = -1,
	                   .srv_delivered = -1,
	                   .cpu = { .server_s = -1, .rss_before_kb = -1, .rss_after_kb = -1 } };
	if (o->mode == WSB_IDLE && o->server_pid)
		rep.cpu.rss_before_kb = wsb_proc_rss_kb(o->server_pid);

	pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
	wsb_shared sh = { .mtx = &mtx, .interval = wsb_hist_new() };
	sh.wall_offset = wall_ns() - (int64_t)wr_now_ns();
	workers w = { .th = calloc(o->threads, sizeof(wsb_thread)),
	              .tid = calloc(o->threads, sizeof(pthread_t)), .n = o->threads };
	tsample *s0 = calloc(o->threads, sizeof(tsample)), *s1 = calloc(o->threads, sizeof(tsample));
	live_prev prev = { .load = calloc(o->threads, sizeof(tsample)) };
	rep.load = calloc(o->threads, sizeof(wsb_thread_load));
	rep.nload = o->threads;
	if (!sh.interval || !w.th || !w.tid || !s0 || !s1 || !prev.load || !rep.load) {
		fprintf(stderr, "ws-bench: out of memory\n");
		return 2;
	}
	unsigned given = 0;
	int rc;
	for (unsigned i = 0; i < o->threads; i++) {
		w.th[i] = (wsb_thread){ .idx = i, .o = o, .sh = &sh, .first_conn = given,
		                        .nconns = o->conns / o->threads + (i < o->conns % o->threads) };
		given += w.th[i].nconns;
		if ((rc = pthread_create(&w.tid[i], NULL, o->epoll ? wsb_epoll_thread_main : wsb_thread_main,
		                          &w.th[i])) != 0) {
			fprintf(stderr, "ws-bench: pthread_create: %s\n", strerror(rc));
			atomic_store(&sh.abort, true);
			for (unsigned j = 0; j < i; j++)
				pthread_join(w.tid[j], NULL);
			return 2;
		}
	}

	/* The ramp: connections open at most --ramp at a time, then traffic starts together. */
	uint64_t t0 = wr_now_ns(), next_line = t0 + 1000000000ull;
	while (atomic_load(&sh.ramped) < o->threads && !atomic_load(&sh.abort) && !interrupted) {
		sleep_until(wr_now_ns() + 10000000ull);
		if (wr_now_ns() >= next_line) {
			uint64_t m, b, e, op;
			unsigned pend;
			live_sum(w.th, o->threads, &m, &b, &e, &op, &pend);
			if (!o->quiet)
				fprintf(stderr, "[ramp] %llu of %u connections open, %u connecting, %llu errors\n",
				        (unsigned long long)op, o->conns, pend, (unsigned long long)e);
			next_line += 1000000000ull;
		}
	}
	uint64_t opened = 0;
	for (unsigned i = 0; i < o->threads; i++)
		opened += atomic_load(&w.th[i].live.opens);
	bool nothing = o->mode != WSB_CONNECT && opened == 0;
	if (nothing || interrupted)
		atomic_store(&sh.abort, true);

	uint64_t start = start_time(o, sh.wall_offset);
	sh.warm_end_ns = start + (uint64_t)(o->warmup_s * 1e9);
	sh.end_ns = sh.warm_end_ns + (uint64_t)(o->duration_s * 1e9);
	rep.start_unix = (double)((int64_t)start + sh.wall_offset) / 1e9;
	rep.window_unix = (double)((int64_t)sh.warm_end_ns + sh.wall_offset) / 1e9;
	while (wr_now_ns() + 60000000ull < start && !interrupted) /* --start-at: wait, awake */
		sleep_until(wr_now_ns() + 50000000ull);
	atomic_store_explicit(&sh.start_ns, start, memory_order_release);

	double self0 = 0, srv0 = -1;
	uint64_t win0 = 0;
	bool in_window = false;
	prev.at = start;
	sample(&w, prev.load);
	live_sum(w.th, o->threads, &prev.msgs, &prev.bytes, &(uint64_t){ 0 }, &prev.opens,
	         &(unsigned){ 0 });
	next_line = start + 1000000000ull;
	while (!atomic_load(&sh.abort) && !interrupted) {
		uint64_t now = wr_now_ns();
		if (!in_window && now >= sh.warm_end_ns) {
			in_window = true;
			self0 = wsb_self_cpu_s();
			sample(&w, s0);
			win0 = wr_now_ns();
			if (o->server_pid)
				srv0 = wsb_proc_cpu_s(o->server_pid);
			if (o->stats_path)
				have_st0 = fetch_stats(o, st0);
		}
		if (now >= next_line) { /* the last line, at the end, too */
			live_line(o, &sh, &w, &prev, start, s1);
			next_line += 1000000000ull;
		}
		if (now >= sh.end_ns)
			break;
		uint64_t wake = next_line < sh.end_ns ? next_line : sh.end_ns;
		if (!in_window && sh.warm_end_ns < wake)
			wake = sh.warm_end_ns;
		if (wake > now + 50000000ull)
			wake = now + 50000000ull; /* notice an abort or a signal */
		sleep_until(wake);
	}
	uint64_t stop = wr_now_ns();
	if (in_window) {
		rep.cpu.self_s = wsb_self_cpu_s() - self0;
		sample(&w, s1);
		for (unsigned i = 0; i < o->threads; i++)
			rep.load[i] = load_of(&s0[i], &s1[i], (double)(wr_now_ns() - win0));
		if (o->server_pid && srv0 >= 0) {
			double x = wsb_proc_cpu_s(o->server_pid);
			rep.cpu.server_s = x >= 0 ? x - srv0 : -1;
		}
	}
	if (o->mode == WSB_IDLE && o->server_pid)
		rep.cpu.rss_after_kb = wsb_proc_rss_kb(o->server_pid);
	if (have_st0 && fetch_stats(o, st1)) {
		rep.srv_delivered = st1[0] - st0[0];
		rep.srv_dropped = st1[1] - st0[1];
		rep.srv_conflated = st1[2] - st0[2];
	}
	if (interrupted)
		atomic_store(&sh.abort, true);
	for (unsigned i = 0; i < o->threads; i++)
		pthread_join(w.tid[i], NULL);

	/* Merge; the window is what really elapsed if the run was cut short. */
	wsb_result *t = &rep.total;
	t->hist = wsb_hist_new();
	if (!t->hist) {
		fprintf(stderr, "ws-bench: out of memory\n");
		return 2;
	}
	wsb_series_init(&rep.series, o->duration_s);
	for (unsigned i = 0; i < o->threads; i++) {
		wsb_result_add(t, &w.th[i].res);
		free(w.th[i].res.hist);
		wsb_series_add(&rep.series, &w.th[i].series);
		wsb_series_free(&w.th[i].series);
		rep.load[i].conns = w.th[i].nconns;
		rep.load[i].msgs = w.th[i].res.msgs;
	}
	rep.open_at_end = (unsigned)(t->opens - t->closes - t->reconnects);
	rep.window_s = in_window ? (double)((stop < sh.end_ns ? stop : sh.end_ns) - sh.warm_end_ns) / 1e9
	                         : o->duration_s;
	if (rep.window_s <= 0)
		rep.window_s = 1e-9;

	int status = 0;
	if (nothing || (o->mode == WSB_CONNECT && t->opens == 0)) {
		fprintf(stderr, "ws-bench: %s: no connection could be opened: %s\n", o->host_port,
		        t->first_reason[0] ? t->first_reason : "interrupted");
		status = 2;
	} else if (wsb_report_errors(t)) {
		status = 1;
	}
	status = wsb_report_write(&rep, status);
	if (status == 1)
		fprintf(stderr, "ws-bench: %llu errors; first: %s\n",
		        (unsigned long long)wsb_report_errors(t), t->first_reason);
	wsb_series_free(&rep.series);
	free(rep.load);
	free(prev.load);
	free(s0);
	free(s1);
	free(t->hist);
	free(sh.interval);
	free(w.th);
	free(w.tid);
	return status;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "merge"))
		return wsb_merge_main(argc - 1, argv + 1);
	wsb_opts o;
	int rc = wsb_opts_parse(argc, argv, &o);
	if (rc) {
		wsb_opts_free(&o);
		return rc > 0 ? 0 : 2;
	}
	rc = run(&o);
	wsb_opts_free(&o);
	return rc;
}
