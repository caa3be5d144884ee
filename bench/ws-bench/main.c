/* ws-bench: a WebSocket load generator on wring's async client. The main thread starts one
 * worker (one wr_loop) per -t, waits for the connection ramp, sets the clock (warm-up, window),
 * prints a live line per second, samples CPU and memory at the window's edges, then merges the
 * workers' results and reports. */
#include <errno.h>
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

void wsb_interval_publish(wsb_shared *sh, wsb_hist *h)
{
	pthread_mutex_lock(sh->mtx);
	wsb_hist_add(sh->interval, h);
	pthread_mutex_unlock(sh->mtx);
	wsb_hist_reset(h);
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

typedef struct live_prev {
	uint64_t msgs, bytes, opens;
	uint64_t at;
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

/* One live line: rates since the previous one, p99 of what the workers published. */
static void live_line(const wsb_opts *o, wsb_shared *sh, wsb_thread *t, live_prev *p,
                      uint64_t t0)
{
	uint64_t msgs, bytes, errors, opens, now = wr_now_ns();
	unsigned pending;
	live_sum(t, o->threads, &msgs, &bytes, &errors, &opens, &pending);
	pthread_mutex_lock(sh->mtx);
	uint64_t p99 = wsb_hist_percentile(sh->interval, 99);
	wsb_hist_reset(sh->interval);
	pthread_mutex_unlock(sh->mtx);
	double dt = (double)(now - p->at) / 1e9;
	if (!o->quiet && dt > 0)
		wsb_report_live(o, (double)(now - t0) / 1e9, msgs - p->msgs, bytes - p->bytes, dt, p99,
		                errors, opens - p->opens);
	*p = (live_prev){ msgs, bytes, opens, now };
}

int main(int argc, char **argv)
{
	wsb_opts o;
	int rc = wsb_opts_parse(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 2;
	wsb_raise_nofile(o.conns * (o.mode == WSB_CONNECT ? 3 : 1) + 64 * o.threads + 64);
	if (o.server_pid && wsb_proc_cpu_s(o.server_pid) < 0) {
		fprintf(stderr, "ws-bench: --server-pid %d: cannot read /proc/%d/stat\n", o.server_pid,
		        o.server_pid);
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	wsb_report rep = { .o = &o, .cpu = { .server_s = -1, .rss_before_kb = -1, .rss_after_kb = -1 } };
	if (o.mode == WSB_IDLE && o.server_pid)
		rep.cpu.rss_before_kb = wsb_proc_rss_kb(o.server_pid);

	pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
	wsb_shared sh = { .mtx = &mtx, .interval = malloc(sizeof(wsb_hist)) };
	wsb_thread *th = calloc(o.threads, sizeof(*th));
	pthread_t *tid = calloc(o.threads, sizeof(*tid));
	if (!sh.interval || !th || !tid) {
		fprintf(stderr, "ws-bench: out of memory\n");
		return 2;
	}
	wsb_hist_reset(sh.interval);
	unsigned given = 0;
	for (unsigned i = 0; i < o.threads; i++) {
		th[i] = (wsb_thread){ .idx = i, .o = &o, .sh = &sh, .first_conn = given,
		                      .nconns = o.conns / o.threads + (i < o.conns % o.threads) };
		given += th[i].nconns;
		if ((rc = pthread_create(&tid[i], NULL, wsb_thread_main, &th[i])) != 0) {
			fprintf(stderr, "ws-bench: pthread_create: %s\n", strerror(rc));
			atomic_store(&sh.abort, true);
			for (unsigned j = 0; j < i; j++)
				pthread_join(tid[j], NULL);
			return 2;
		}
	}

	/* The ramp: connections open at most --ramp at a time, then traffic starts together. */
	uint64_t t0 = wr_now_ns(), next_line = t0 + 1000000000ull;
	live_prev prev = { .at = t0 };
	while (atomic_load(&sh.ramped) < o.threads && !atomic_load(&sh.abort) && !interrupted) {
		sleep_until(wr_now_ns() + 10000000ull);
		if (wr_now_ns() >= next_line) {
			uint64_t m, b, e, op;
			unsigned pend;
			live_sum(th, o.threads, &m, &b, &e, &op, &pend);
			if (!o.quiet)
				fprintf(stderr, "[ramp] %llu of %u connections open, %u connecting, %llu errors\n",
				        (unsigned long long)op, o.conns, pend, (unsigned long long)e);
			next_line += 1000000000ull;
		}
	}
	uint64_t opened = 0;
	for (unsigned i = 0; i < o.threads; i++)
		opened += atomic_load(&th[i].live.opens);
	bool nothing = o.mode != WSB_CONNECT && opened == 0;
	if (nothing || interrupted)
		atomic_store(&sh.abort, true);

	uint64_t start = wr_now_ns() + 2000000ull;
	sh.warm_end_ns = start + (uint64_t)(o.warmup_s * 1e9);
	sh.end_ns = sh.warm_end_ns + (uint64_t)(o.duration_s * 1e9);
	atomic_store_explicit(&sh.start_ns, start, memory_order_release);

	double self0 = 0, srv0 = -1;
	bool in_window = false;
	prev = (live_prev){ .at = start };
	live_sum(th, o.threads, &prev.msgs, &prev.bytes, &(uint64_t){ 0 }, &prev.opens,
	         &(unsigned){ 0 });
	next_line = start + 1000000000ull;
	while (!atomic_load(&sh.abort) && !interrupted) {
		uint64_t now = wr_now_ns();
		if (!in_window && now >= sh.warm_end_ns) {
			in_window = true;
			self0 = wsb_self_cpu_s();
			if (o.server_pid)
				srv0 = wsb_proc_cpu_s(o.server_pid);
		}
		if (now >= sh.end_ns)
			break;
		if (now >= next_line) {
			live_line(&o, &sh, th, &prev, start);
			next_line += 1000000000ull;
		}
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
		if (o.server_pid && srv0 >= 0) {
			double s1 = wsb_proc_cpu_s(o.server_pid);
			rep.cpu.server_s = s1 >= 0 ? s1 - srv0 : -1;
		}
	}
	if (o.mode == WSB_IDLE && o.server_pid)
		rep.cpu.rss_after_kb = wsb_proc_rss_kb(o.server_pid);
	if (interrupted)
		atomic_store(&sh.abort, true);
	for (unsigned i = 0; i < o.threads; i++)
		pthread_join(tid[i], NULL);

	/* Merge; the window is what really elapsed if the run was cut short. */
	wsb_result *t = &rep.total;
	wsb_hist_reset(&t->hist);
	for (unsigned i = 0; i < o.threads; i++) {
		const wsb_result *x = &th[i].res;
		t->sent_total += x->sent_total;
		t->recv_total += x->recv_total;
		t->msgs += x->msgs;
		t->bytes += x->bytes;
		t->handshakes += x->handshakes;
		t->resumed += x->resumed;
		t->opens += x->opens;
		t->connect_fail += x->connect_fail;
		t->http_refused += x->http_refused;
		t->mismatches += x->mismatches;
		t->closes += x->closes;
		t->unanswered += x->unanswered;
		t->behind += x->behind;
		if (!t->first_reason[0] && x->first_reason[0]) {
			t->first_error = x->first_error;
			memcpy(t->first_reason, x->first_reason, sizeof(t->first_reason));
		}
		wsb_hist_add(&t->hist, &x->hist);
	}
	rep.open_at_end = (unsigned)(t->opens - t->closes);
	rep.window_s = in_window ? (double)((stop < sh.end_ns ? stop : sh.end_ns) - sh.warm_end_ns) / 1e9
	                         : o.duration_s;
	if (rep.window_s <= 0)
		rep.window_s = 1e-9;

	int status = 0;
	if (nothing || (o.mode == WSB_CONNECT && t->opens == 0)) {
		fprintf(stderr, "ws-bench: %s: no connection could be opened: %s\n", o.host_port,
		        t->first_reason[0] ? t->first_reason : "interrupted");
		status = 2;
	} else if (wsb_report_errors(t)) {
		status = 1;
	}
	if (o.json)
		wsb_report_json(stdout, &rep);
	wsb_report_table(o.json ? stderr : stdout, &rep);
	if (o.hgrm_path && wsb_report_hgrm(o.hgrm_path, &t->hist) < 0) {
		fprintf(stderr, "ws-bench: %s: %s\n", o.hgrm_path, strerror(errno));
		status = status ? status : 2;
	}
	if (o.plot_path && wsb_report_svg(o.plot_path, &rep) < 0) {
		fprintf(stderr, "ws-bench: %s: %s\n", o.plot_path, strerror(errno));
		status = status ? status : 2;
	}
	if (status == 1)
		fprintf(stderr, "ws-bench: %llu errors; first: %s\n",
		        (unsigned long long)wsb_report_errors(t), t->first_reason);
	free(sh.interval);
	free(th);
	free(tid);
	return status;
}
