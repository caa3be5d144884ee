/* A raw io_uring TCP echo: no WebSocket framing, no parsing. It does the least an echo over
 * io_uring can do per byte and per message, so that it is the limit row in bench/compare for
 * the bytes ws-bench --raw sends:
 *   - one multishot receive per connection into a provided buffer ring (no re-arm per message,
 *     no buffer per idle connection), buffers big enough for a 64 KiB message in one piece;
 *   - each completion's bytes sent back from the buffer they arrived in (no copy), one send per
 *     completion, or one sendmsg over all of a connection's buffers waiting while a send was in
 *     flight (one send in flight per connection keeps the bytes in order); the buffer goes back
 *     to the ring once its send completed;
 *   - every request of a turn submitted with the wait for the next completions: one
 *     io_uring_enter per loop turn, SINGLE_ISSUER | DEFER_TASKRUN where the kernel has them.
 * One thread (one ring) by default, as one wring reactor; -t N runs N, each with its own ring
 * and SO_REUSEPORT listener.
 * Usage: raw_echo [-t THREADS] PORT. Prints "Listening on port N" once accepting;
 * SIGTERM/SIGINT stop it (exit 0, connections closed, memory freed). */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64u * 1024)   /* a 64 KiB frame's payload in one buffer when it came so */
#define BUF_COUNT 1024u         /* 64 MiB of address space; only buffers in use are touched */
#define BGID 7
#define MAX_IOV 64
#define MAX_CONNS 65536

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };

typedef struct conn {
	int fd;
	uint32_t idx;
	int32_t head, tail;     /* buffers waiting to go back (bid list through next[]), -1: none */
	uint32_t head_off;      /* bytes of the head buffer already sent */
	uint32_t niov;          /* buffers in the send in flight; 0: none */
	bool recv_armed, closing;
	struct iovec iov[MAX_IOV];
	struct msghdr mh;
} conn;

typedef struct worker {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	int32_t next[BUF_COUNT];    /* per buffer: the next one queued on the same connection */
	uint32_t len[BUF_COUNT];    /* per buffer: bytes received into it */
	unsigned returned;          /* buffers added to the ring this turn, not yet published */
	conn **conns;               /* by slot, slot in the user_data */
	uint32_t *free_slots, nfree;
	uint32_t *starved, nstarved; /* connections whose receive ended with ENOBUFS */
	int lfd;
	unsigned port;
	bool ready_ring;            /* the ring exists: teardown releases it */
	int failed;
	pthread_t tid;
} worker;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct io_uring_sqe *sqe_get(worker *w)
{
	struct io_uring_sqe *s;
	while (!(s = io_uring_get_sqe(&w->ring)))
		io_uring_submit(&w->ring);
	return s;
}

/* user_data: the operation in the low byte, the connection's slot above it. */
static uint64_t ud(unsigned op, uint32_t slot) { return (uint64_t)slot << 8 | op; }

static void arm_accept(worker *w)
{
	struct io_uring_sqe *s = sqe_get(w);
	io_uring_prep_multishot_accept(s, w->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(s, ud(OP_ACCEPT, 0));
}

static void arm_recv(worker *w, conn *c)
{
	struct io_uring_sqe *s = sqe_get(w);
	io_uring_prep_recv_multishot(s, c->fd, NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = BGID;
	io_uring_sqe_set_data64(s, ud(OP_RECV, c->idx));
	c->recv_armed = true;
}

static void give_back(worker *w, unsigned bid)
{
	io_uring_buf_ring_add(w->br, w->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
	                      io_uring_buf_ring_mask(BUF_COUNT), (int)w->returned++);
}

/* Send what the connection holds: from one buffer a plain send, from several one sendmsg. */
static void post_send(worker *w, conn *c)
{
	struct io_uring_sqe *s = sqe_get(w);
	uint8_t *p = w->bufs + (size_t)c->head * BUF_SIZE + c->head_off;
	if (w->next[c->head] < 0) {
		c->niov = 1;
		io_uring_prep_send(s, c->fd, p, w->len[c->head] - c->head_off, MSG_NOSIGNAL | MSG_WAITALL);
	} else {
		unsigned n = 0;
		for (int32_t b = c->head; b >= 0 && n < MAX_IOV; b = w->next[b], n++) {
			c->iov[n].iov_base = b == c->head ? p : w->bufs + (size_t)b * BUF_SIZE;
			c->iov[n].iov_len = b == c->head ? w->len[b] - c->head_off : w->len[b];
		}
		c->niov = n;
		c->mh = (struct msghdr){ .msg_iov = c->iov, .msg_iovlen = n };
		io_uring_prep_sendmsg(s, c->fd, &c->mh, MSG_NOSIGNAL | MSG_WAITALL);
	}
	io_uring_sqe_set_data64(s, ud(OP_SEND, c->idx));
}

static void conn_free(worker *w, conn *c)
{
	for (int32_t b = c->head; b >= 0; b = w->next[b])
		give_back(w, (unsigned)b);
	close(c->fd);
	w->conns[c->idx] = NULL;
	w->free_slots[w->nfree++] = c->idx;
	free(c);
}

/* The connection ends once the kernel holds nothing of it: no receive armed, no send. */
static void conn_end(worker *w, conn *c)
{
	c->closing = true;
	if (!c->recv_armed && !c->niov)
		conn_free(w, c);
	else
		shutdown(c->fd, SHUT_RDWR); /* completes what is armed */
}

static void on_accept(worker *w, int res, unsigned flags)
{
	if (!(flags & IORING_CQE_F_MORE) && !stop)
		arm_accept(w);
	if (res < 0)
		return;
	conn *c = w->nfree ? malloc(sizeof(*c)) : NULL;
	if (!c) {
		close(res);
		return;
	}
	*c = (conn){ .fd = res, .idx = w->free_slots[--w->nfree], .head = -1, .tail = -1 };
	w->conns[c->idx] = c;
	int one = 1;
	setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	arm_recv(w, c);
}

static void on_recv(worker *w, conn *c, int res, unsigned flags)
{
	if (!(flags & IORING_CQE_F_MORE))
		c->recv_armed = false;
	if (res <= 0) {
		if (res == -ENOBUFS && !c->closing) {
			w->starved[w->nstarved++] = c->idx; /* re-armed once buffers came back */
			return;
		}
		conn_end(w, c);
		return;
	}
	unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
	w->len[bid] = (uint32_t)res;
	w->next[bid] = -1;
	if (c->closing) {
		give_back(w, bid);
		conn_end(w, c);
		return;
	}
	if (c->tail >= 0)
		w->next[c->tail] = (int32_t)bid;
	else
		c->head = (int32_t)bid, c->head_off = 0;
	c->tail = (int32_t)bid;
	if (!c->niov)
		post_send(w, c);
	if (!c->recv_armed)
		arm_recv(w, c);
}

static void on_send(worker *w, conn *c, int res)
{
	c->niov = 0;
	if (res < 0 || c->closing) {
		conn_end(w, c);
		return;
	}
	size_t left = (size_t)res;
	while (c->head >= 0 && left >= w->len[c->head] - c->head_off) {
		left -= w->len[c->head] - c->head_off;
		int32_t b = c->head;
		c->head = w->next[b];
		c->head_off = 0;
		give_back(w, (unsigned)b);
	}
	if (c->head < 0)
		c->tail = -1;
	else
		c->head_off += (uint32_t)left;
	if (c->head >= 0)
		post_send(w, c);
}

static int setup(worker *w)
{
	w->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(w->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(w->lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)w->port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (w->lfd < 0 || bind(w->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(w->lfd, 4096) < 0) {
		perror("raw_echo: bind/listen");
		return -1;
	}
	/* The ring set-up wring uses where the kernel has it, so the comparison is like for like. */
	const unsigned tries[] = { IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	                           IORING_SETUP_COOP_TASKRUN, 0 };
	int rc = -EINVAL;
	for (unsigned i = 0; i < 3 && rc == -EINVAL; i++) {
		struct io_uring_params p = { .flags = tries[i] | IORING_SETUP_CQSIZE, .cq_entries = 16384 };
		rc = io_uring_queue_init_params(4096, &w->ring, &p);
	}
	if (rc < 0) {
		fprintf(stderr, "raw_echo: io_uring: %s\n", strerror(-rc));
		return -1;
	}
	w->ready_ring = true;
	size_t br_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
	w->br = mmap(NULL, br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->bufs = mmap(NULL, (size_t)BUF_COUNT * BUF_SIZE, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->conns = calloc(MAX_CONNS, sizeof(*w->conns));
	w->free_slots = malloc(MAX_CONNS * sizeof(*w->free_slots));
	w->starved = malloc(MAX_CONNS * sizeof(*w->starved));
	if (w->br == MAP_FAILED || w->bufs == MAP_FAILED || !w->conns || !w->free_slots || !w->starved) {
		fprintf(stderr, "raw_echo: out of memory\n");
		return -1;
	}
	/* liburing 2.3 has no io_uring_setup_buf_ring: the ring memory is mapped here. */
	struct io_uring_buf_reg reg = { .ring_addr = (uintptr_t)w->br, .ring_entries = BUF_COUNT,
	                                .bgid = BGID };
	if ((rc = io_uring_register_buf_ring(&w->ring, &reg, 0)) < 0) {
		fprintf(stderr, "raw_echo: provided buffer ring: %s\n", strerror(-rc));
		return -1;
	}
	io_uring_buf_ring_init(w->br);
	for (unsigned i = 0; i < BUF_COUNT; i++)
		give_back(w, i);
	io_uring_buf_ring_advance(w->br, (int)w->returned);
	w->returned = 0;
	for (uint32_t i = 0; i < MAX_CONNS; i++)
		w->free_slots[i] = MAX_CONNS - 1 - i;
	w->nfree = MAX_CONNS;
	arm_accept(w);
	return 0;
}

static void *run(void *arg)
{
	worker *w = arg;
	while (!stop) {
		struct io_uring_cqe *cqe;
		/* the timeout only bounds how late a stop is seen (one enter with EXT_ARG) */
		struct __kernel_timespec ts = { .tv_sec = 1 };
		int rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
		if (rc < 0 && rc != -ETIME && rc != -EINTR) {
			fprintf(stderr, "raw_echo: io_uring_enter: %s\n", strerror(-rc));
			break;
		}
		unsigned head, n = 0;
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			n++;
			unsigned op = (unsigned)(cqe->user_data & 0xff);
			if (op == OP_ACCEPT) {
				on_accept(w, cqe->res, cqe->flags);
				continue;
			}
			conn *c = w->conns[cqe->user_data >> 8];
			if (!c)
				continue;
			if (op == OP_RECV)
				on_recv(w, c, cqe->res, cqe->flags);
			else
				on_send(w, c, cqe->res);
		}
		io_uring_cq_advance(&w->ring, n);
		if (w->returned) {
			io_uring_buf_ring_advance(w->br, (int)w->returned);
			w->returned = 0;
			while (w->nstarved) {
				conn *c = w->conns[w->starved[--w->nstarved]];
				if (c && !c->recv_armed && !c->closing)
					arm_recv(w, c);
			}
		}
	}
	return NULL;
}

static pthread_barrier_t ready;

/* The ring is made in the thread that uses it: SINGLE_ISSUER and DEFER_TASKRUN tie it there. */
static void *thread_main(void *arg)
{
	worker *w = arg;
	w->failed = setup(w) < 0;
	pthread_barrier_wait(&ready);
	if (!w->failed)
		run(w);
	return NULL;
}

static void teardown(worker *w)
{
	for (uint32_t i = 0; w->conns && i < MAX_CONNS; i++)
		if (w->conns[i]) {
			close(w->conns[i]->fd);
			free(w->conns[i]);
		}
	if (w->ready_ring)
		io_uring_queue_exit(&w->ring);
	if (w->bufs && w->bufs != MAP_FAILED)
		munmap(w->bufs, (size_t)BUF_COUNT * BUF_SIZE);
	if (w->br && w->br != MAP_FAILED)
		munmap(w->br, BUF_COUNT * sizeof(struct io_uring_buf));
	free(w->conns);
	free(w->free_slots);
	free(w->starved);
	if (w->lfd >= 0)
		close(w->lfd);
}

int main(int argc, char **argv)
{
	unsigned nthreads = 1;
	int opt;
	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't' || (nthreads = (unsigned)atoi(optarg)) < 1 || nthreads > 64) {
			fprintf(stderr, "usage: raw_echo [-t THREADS] PORT\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: raw_echo [-t THREADS] PORT\n");
		return 2;
	}
	unsigned port = (unsigned)atoi(argv[optind]);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: the wait returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	worker *w = calloc(nthreads, sizeof(*w));
	if (!w)
		return 1;
	pthread_barrier_init(&ready, NULL, nthreads + 1);
	unsigned started = 0;
	for (; started < nthreads; started++) {
		w[started].port = port;
		if (pthread_create(&w[started].tid, NULL, thread_main, &w[started]) != 0)
			break;
	}
	if (started < nthreads) {
		fprintf(stderr, "raw_echo: pthread_create failed\n");
		return 1; /* the process ends: the kernel closes the rings and sockets */
	}
	pthread_barrier_wait(&ready);
	int status = 0;
	for (unsigned i = 0; i < nthreads; i++)
		status |= w[i].failed;
	if (status)
		stop = 1;
	else {
		printf("Listening on port %u\n", port);
		fflush(stdout);
	}
	/* Wait for SIGTERM/SIGINT here, then interrupt each worker's wait so it sees the stop. */
	sigset_t none;
	sigemptyset(&none);
	while (!stop)
		sigsuspend(&none);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_kill(w[i].tid, SIGTERM);
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		teardown(&w[i]);
	}
	pthread_barrier_destroy(&ready);
	free(w);
	return status;
}
