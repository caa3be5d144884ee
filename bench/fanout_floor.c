/* fanout_floor: the physical limit of a fan-out on this machine, with no WebSocket at all.
 *
 * N loopback TCP connections. A sender thread (pinned to CPU 0, one io_uring, as a wring
 * reactor sets it up) writes one 18-byte message (a 2-byte frame header and 16 bytes: the
 * publish number and its send time) to each of the N sockets, every send of a publish
 * prepared and handed over in as few submits as the ring holds. A receiver thread (pinned to
 * CPU 1, its own process as ws-bench is, plain epoll + read: as light a reader as there is) reads them and notes when each
 * arrived. One publish at a time: the next goes out GAP after the last receiver has the
 * previous one, so nothing queues and the figures are delivery, not waiting.
 *
 * Reported per N: the time until the last receiver has a publish (p50/p99/max over the
 * publishes), the single delivery's latency (p50/p99, what ws-bench's histogram holds), the
 * sender's CPU per send (user and kernel: the send, the loopback and the receiver's wake-up
 * all run there), the receiver's CPU per message, and the highest publish rate the sender
 * could sustain (1 / its busy time per publish).
 *
 *   fanout_floor [-n N[,N...]] [-p PUBLISHES] [-g GAP_US] [--json]
 *
 * Loopback only; every loop is bounded by the publish count and a 10 s stall limit. */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG_LEN 18
#define SQ_ENTRIES 4096u
#define STALL_NS 10000000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* user and system CPU time of the calling thread, in ns: the total from the thread's CPU
 * clock (exact), split as getrusage's tick-sampled figures split it */
static void thread_cpu(uint64_t *out_user, uint64_t *out_sys)
{
	struct rusage ru;
	struct timespec ts;
	getrusage(RUSAGE_THREAD, &ru);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	double u = (double)ru.ru_utime.tv_sec * 1e9 + (double)ru.ru_utime.tv_usec * 1e3;
	double sy = (double)ru.ru_stime.tv_sec * 1e9 + (double)ru.ru_stime.tv_usec * 1e3;
	double total = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
	*out_user = u + sy > 0 ? (uint64_t)(total * u / (u + sy)) : 0;
	*out_sys = (uint64_t)total - *out_user;
}

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET((unsigned)cpu % (unsigned)sysconf(_SC_NPROCESSORS_ONLN), &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

typedef struct run {
	unsigned n, publishes;
	uint64_t gap_ns;
	int *tx, *rx;                 /* the server side (sends), the client side (reads) */
	/* publish k: sent at sent[k]; its last copy arrived at last[k] */
	uint64_t *last;
	uint64_t *one;                /* every delivery's latency, publishes * n */
	uint64_t none;
	_Atomic uint64_t done;        /* publishes the receiver has whole */
	_Atomic bool failed;
	_Atomic bool ready;           /* the reader waits on every socket */
	uint64_t busy_ns;             /* sender: from the first prep to the last completion */
	uint64_t tx_user, tx_sys, rx_user, rx_sys;
	uint64_t submits;
} run;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, uint64_t n, double p)
{
	if (!n)
		return 0;
	uint64_t i = (uint64_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return sorted[i < n ? i : n - 1];
}

/* ---- the receiver: epoll over the client sockets ---- */

static void *receiver(void *arg)
{
	run *R = arg;
	pin(1);
	int ep = epoll_create1(0);
	if (ep < 0)
		goto fail;
	for (unsigned i = 0; i < R->n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, R->rx[i], &ev) < 0)
			goto fail;
	}
	uint32_t *got = calloc(R->publishes, sizeof(*got));
	struct epoll_event *evs = malloc(1024 * sizeof(*evs));
	if (!got || !evs)
		goto fail;
	uint64_t u0, s0, u1, s1;
	thread_cpu(&u0, &s0);
	atomic_store(&R->ready, true);
	uint64_t complete = 0, last_progress = now_ns();
	while (complete < R->publishes && !atomic_load(&R->failed)) {
		int k = epoll_wait(ep, evs, 1024, 100);
		uint64_t t = now_ns();
		if (k <= 0) {
			if (t - last_progress > STALL_NS)
				break;
			continue;
		}
		last_progress = t;
		for (int e = 0; e < k; e++) {
			uint8_t b[MSG_LEN * 16];
			ssize_t r = read(R->rx[evs[e].data.u32], b, sizeof(b));
			for (ssize_t off = 0; off + MSG_LEN <= r; off += MSG_LEN) {
				uint64_t seq, ts;
				memcpy(&seq, b + off + 2, 8);
				memcpy(&ts, b + off + 10, 8);
				if (seq >= R->publishes)
					continue;
				R->one[R->none++] = t - ts;
				if (++got[seq] == R->n) {
					R->last[seq] = t - ts;
					complete++;
					atomic_store_explicit(&R->done, complete, memory_order_release);
				}
			}
		}
	}
	thread_cpu(&u1, &s1);
	R->rx_user = u1 - u0;
	R->rx_sys = s1 - s0;
	free(got);
	free(evs);
	close(ep);
	if (complete < R->publishes)
		atomic_store(&R->failed, true);
	return NULL;
fail:
	atomic_store(&R->failed, true);
	return NULL;
}

/* ---- the sender: io_uring sends, as many per submit as the ring takes ---- */

static int ring_setup(struct io_uring *ring)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
	                                      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE,
	                             .cq_entries = 4 * SQ_ENTRIES };
	int rc = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
	if (rc < 0) {
		p = (struct io_uring_params){ .flags = IORING_SETUP_CQSIZE, .cq_entries = 4 * SQ_ENTRIES };
		rc = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
	}
	return rc;
}

static int reap(struct io_uring *ring, unsigned *pending)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int err = 0;
	io_uring_for_each_cqe(ring, head, cqe) {
		if (cqe->res != MSG_LEN)
			err = cqe->res < 0 ? cqe->res : -EIO;
		seen++;
	}
	io_uring_cq_advance(ring, seen);
	*pending -= seen;
	return err;
}

static int sender(run *R)
{
	pin(0);
	struct io_uring ring;
	int rc = ring_setup(&ring);
	if (rc < 0)
		return rc;
	uint8_t msg[MSG_LEN] = { 0x82, 16 };
	uint64_t busy = 0;
	for (uint64_t k = 0; k < R->publishes && !atomic_load(&R->failed); k++) {
		/* CPU counted over the sends only, not the wait for the reader */
		uint64_t u0, s0, u1, s1;
		thread_cpu(&u0, &s0);
		uint64_t t0 = now_ns();
		memcpy(msg + 2, &k, 8);
		memcpy(msg + 10, &t0, 8);
		unsigned pending = 0;
		for (unsigned i = 0; i < R->n; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			if (!sqe) {
				rc = io_uring_submit(&ring);
				R->submits++;
				if (rc < 0)
					goto out;
				if ((rc = reap(&ring, &pending)) < 0)
					goto out;
				sqe = io_uring_get_sqe(&ring);
			}
			io_uring_prep_send(sqe, R->tx[i], msg, MSG_LEN, MSG_NOSIGNAL);
			pending++;
		}
		while (pending) {
			rc = io_uring_submit_and_wait(&ring, 1);
			R->submits++;
			if (rc < 0 && rc != -EINTR)
				goto out;
			if ((rc = reap(&ring, &pending)) < 0)
				goto out;
		}
		busy += now_ns() - t0;
		thread_cpu(&u1, &s1);
		R->tx_user += u1 - u0;
		R->tx_sys += s1 - s0;
		/* the next publish once the last receiver has this one, and a gap */
		uint64_t wait0 = now_ns();
		while (atomic_load_explicit(&R->done, memory_order_acquire) < k + 1) {
			if (atomic_load(&R->failed) || now_ns() - wait0 > STALL_NS) {
				rc = -ETIMEDOUT;
				goto out;
			}
			struct timespec ts = { 0, 20000 };
			nanosleep(&ts, NULL);
		}
		uint64_t until = now_ns() + R->gap_ns;
		while (now_ns() < until) {
			struct timespec ts = { 0, (long)(until - now_ns()) };
			nanosleep(&ts, NULL);
		}
	}
	rc = 0;
out:
	R->busy_ns = busy;
	io_uring_queue_exit(&ring);
	return rc;
}

/* ---- the connections: the reader is its own process (as ws-bench is), so that each side
 * holds N descriptors ---- */

static void *shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void reader_process(run *R, const struct sockaddr_in *a)
{
	int one = 1;
	for (unsigned i = 0; i < R->n; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, (const struct sockaddr *)a, sizeof(*a)) < 0) {
			atomic_store(&R->failed, true);
			_exit(1);
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		R->rx[i] = c;
	}
	receiver(R);
	_exit(0);
}

static int one_run(unsigned n, unsigned publishes, uint64_t gap_ns, bool json, bool first)
{
	run *R = shared(sizeof(run));
	if (!R)
		return -ENOMEM;
	*R = (run){ .n = n, .publishes = publishes, .gap_ns = gap_ns };
	R->tx = calloc(n, sizeof(int));
	R->rx = calloc(n, sizeof(int));
	R->last = shared(publishes * sizeof(uint64_t));
	R->one = shared((size_t)publishes * n * sizeof(uint64_t));
	atomic_init(&R->done, 0);
	atomic_init(&R->failed, false);
	pid_t child = -1;
	unsigned accepted = 0;
	int rc = -ENOMEM, one = 1;
	if (!R->tx || !R->rx || !R->last || !R->one)
		goto out;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
		rc = -errno;
		goto out;
	}
	fflush(stdout);
	child = fork();
	if (child == 0)
		reader_process(R, &a);
	if (child < 0) {
		rc = -errno;
		close(lfd);
		goto out;
	}
	for (; accepted < n; accepted++) {
		int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0) {
			rc = -errno;
			close(lfd);
			goto out;
		}
		/* as a wring server sets it */
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		R->tx[accepted] = s;
	}
	close(lfd);
	/* the reader has registered every socket once it is waiting: it says so */
	for (uint64_t t0 = now_ns(); !atomic_load(&R->ready) && !atomic_load(&R->failed);) {
		if (now_ns() - t0 > STALL_NS) {
			rc = -ETIMEDOUT;
			goto out;
		}
		usleep(1000);
	}
	rc = sender(R);
	if (rc < 0)
		atomic_store(&R->failed, true);
	int st;
	waitpid(child, &st, 0);
	child = -1;
	if (rc < 0 || atomic_load(&R->failed)) {
		fprintf(stderr, "fanout_floor: N=%u: %s\n", n, rc < 0 ? strerror(-rc) : "receiver stalled");
		rc = rc < 0 ? rc : -EIO;
		goto out;
	}
	qsort(R->last, publishes, sizeof(uint64_t), cmp_u64);
	qsort(R->one, R->none, sizeof(uint64_t), cmp_u64);
	double sends = (double)n * publishes;
	double per_pub_us = (double)R->busy_ns / publishes / 1e3;
	if (json) {
		printf("%s{\"n\": %u, \"publishes\": %u, \"last_us\": {\"p50\": %.1f, \"p99\": %.1f, "
		       "\"max\": %.1f}, \"one_us\": {\"p50\": %.1f, \"p99\": %.1f}, \"tx_user_ns_per_send\": "
		       "%.0f, \"tx_sys_ns_per_send\": %.0f, \"rx_ns_per_msg\": %.0f, \"tx_busy_us_per_publish\": "
		       "%.1f, \"max_publishes_per_s\": %.1f}",
		       first ? "" : ",\n", n, publishes, pct(R->last, publishes, 50) / 1e3,
		       pct(R->last, publishes, 99) / 1e3, R->last[publishes - 1] / 1e3,
		       pct(R->one, R->none, 50) / 1e3, pct(R->one, R->none, 99) / 1e3, R->tx_user / sends,
		       R->tx_sys / sends, (R->rx_user + R->rx_sys) / sends, per_pub_us, 1e6 / per_pub_us);
	} else {
		printf("%7u %6u | %9.1f %9.1f %9.1f | %9.1f %9.1f | %6.0f %6.0f | %7.0f | %10.1f %9.1f\n", n,
		       publishes, pct(R->last, publishes, 50) / 1e3, pct(R->last, publishes, 99) / 1e3,
		       R->last[publishes - 1] / 1e3, pct(R->one, R->none, 50) / 1e3,
		       pct(R->one, R->none, 99) / 1e3, R->tx_user / sends, R->tx_sys / sends,
		       (R->rx_user + R->rx_sys) / sends, per_pub_us, 1e6 / per_pub_us);
	}
	fflush(stdout);
	rc = 0;
out:
	if (child > 0) {
		atomic_store(&R->failed, true);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	for (unsigned i = 0; R->tx && i < accepted; i++)
		close(R->tx[i]);
	free(R->tx);
	free(R->rx);
	if (R->last)
		munmap(R->last, publishes * sizeof(uint64_t));
	if (R->one)
		munmap(R->one, (size_t)publishes * n * sizeof(uint64_t));
	munmap(R, sizeof(run));
	return rc;
}

int main(int argc, char **argv)
{
	unsigned ns[16] = { 100, 1000, 10000 }, nn = 3, publishes = 200;
	double gap_us = 2000;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			nn = 0;
			for (char *s = argv[++i], *e; *s && nn < 16; s = *e ? e + 1 : e) {
				ns[nn] = (unsigned)strtoul(s, &e, 10);
				if (e == s || !ns[nn])
					goto usage;
				nn++;
			}
		} else if (!strcmp(argv[i], "-p") && i + 1 < argc) {
			publishes = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "-g") && i + 1 < argc) {
			gap_us = strtod(argv[++i], NULL);
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			goto usage;
		}
	}
	if (!publishes || gap_us < 0)
		goto usage;
	unsigned most = 0;
	for (unsigned i = 0; i < nn; i++)
		most = ns[i] > most ? ns[i] : most;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < most + 64ull) {
		fprintf(stderr, "fanout_floor: %u connections need %u descriptors; the limit is %llu\n",
		        most, most + 64, (unsigned long long)rl.rlim_cur);
		return 1;
	}
	if (json)
		printf("[\n");
	else
		printf("loopback TCP fan-out floor: io_uring sender on CPU 0, epoll reader on CPU 1, "
		       "18 B per send, one publish at a time, %.0f us apart\n"
		       "      N  pubs |   last p50  last p99  last max | one p50   one p99 | tx usr tx sys | rx /msg "
		       "| tx us/pub  max pub/s\n"
		       "              |        us        us        us |      us        us | ns/send ns/send |  ns     |\n",
		       gap_us);
	int status = 0;
	for (unsigned i = 0; i < nn; i++)
		if (one_run(ns[i], publishes, (uint64_t)(gap_us * 1e3), json, i == 0) < 0)
			status = 1;
	if (json)
		printf("\n]\n");
	return status;
usage:
	fprintf(stderr, "usage: fanout_floor [-n N[,N...]] [-p PUBLISHES] [-g GAP_US] [--json]\n");
	return 2;
}
