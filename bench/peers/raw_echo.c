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
 * The kernel-path switches (issue 16: measured one by one against this baseline by
 * bench/kernel_path.sh; none is on by default):
 *   -F  registered (direct) descriptors: multishot accept into a sparse file table, receives
 *       and sends with IOSQE_FIXED_FILE, shutdown and close through the ring (close_direct);
 *       TCP_NODELAY is set on the listener, and accepted sockets inherit it;
 *   -R  registered buffers: the whole receive-buffer area is one registered buffer, and a
 *       send from one buffer is IORING_OP_SEND with IORING_RECVSEND_FIXED_BUF;
 *   -Z  the same send as SEND_ZC from the registered buffer (send_zc_fixed), -z as SEND_ZC
 *       from unregistered memory: the buffer goes back after the kernel's notification;
 *   -B  receive bundles: a multishot receive may fill several provided buffers at once
 *       (IORING_RECVSEND_BUNDLE), one completion for all of them;
 *   -S  send bundles: each connection's buffers to echo go into a provided-buffer ring of its
 *       own, and one send (IOSQE_BUFFER_SELECT | BUNDLE) takes whatever waits there;
 *   -b SIZE  receive buffer size (default 65536), e.g. to see bundles where a message spans
 *       several buffers.
 * A switch the kernel refuses ends the program at start-up with the reason (exit 1).
 * Usage: raw_echo [-t THREADS] [-FRZzBS] [-b SIZE] PORT. Prints "Listening on port N" once
 * accepting; SIGTERM/SIGINT stop it (exit 0, connections closed, memory freed). */
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_AREA (64u << 20)    /* address space for receive buffers; only those in use are touched */
#define MAX_BUFS 32768u
#define BGID 7
#define SEND_BGID0 16           /* -S: connection slot i sends from buffer group SEND_BGID0 + i */
#define MAX_IOV 64
#define MAX_CONNS 65536

/* Newer than liburing 2.3's headers (kernel 6.10). */
#define RECVSEND_BUNDLE (1u << 4)
#define FEAT_RECVSEND_BUNDLE (1u << 14)

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_NONE };
enum { SEND_PLAIN, SEND_FIXED, SEND_ZC_FIXED, SEND_ZC };

/* Set once by main before any thread starts, read-only after. */
static struct {
	bool fixed_files, recv_bundle, send_bundle;
	unsigned send_mode;
	unsigned buf_size, buf_count;
} opt = { .buf_size = 64u * 1024 };
#define BUF_SIZE opt.buf_size
#define BUF_COUNT opt.buf_count

typedef struct conn {
	int fd;
	uint32_t idx;
	int32_t head, tail;     /* buffers waiting to go back (bid list through next[]), -1: none */
	uint32_t head_off;      /* bytes of the head buffer already sent */
	uint32_t niov;          /* buffers in the send in flight; 0: none */
	bool recv_armed, closing;
	bool zc_notif;          /* -z/-Z: the send's buffers wait for the kernel's notification */
	bool head_taken;        /* -S: the head buffer left the send ring, partly sent */
	uint32_t zc_sent;       /* -z/-Z: bytes the send in flight reported, applied at the notif */
	struct io_uring_buf_ring *sbr; /* -S: this connection's send ring */
	uint32_t sb_added;      /* -S: buffers added to it (its tail) */
	uint32_t sb_queued;     /* -S: buffers in it not yet taken by a send */
	struct iovec iov[MAX_IOV];
	struct msghdr mh;
} conn;

typedef struct worker {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	int32_t next[MAX_BUFS];     /* per buffer: the next one queued on the same connection */
	uint32_t len[MAX_BUFS];     /* per buffer: bytes received into it */
	uint16_t order[MAX_BUFS];   /* the ring's entries by position: which buffer is where */
	uint32_t pub;               /* ring positions published to the kernel (its tail) */
	uint32_t khead;             /* ring positions the kernel has taken (its head) */
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

/* A request on a connection's socket: the fd, or its slot in the registered file table. */
static void on_sock(struct io_uring_sqe *s)
{
	if (opt.fixed_files)
		s->flags |= IOSQE_FIXED_FILE;
}

/* user_data: the operation in the low byte, the connection's slot above it. */
static uint64_t ud(unsigned op, uint32_t slot) { return (uint64_t)slot << 8 | op; }

static void arm_accept(worker *w)
{
	struct io_uring_sqe *s = sqe_get(w);
	if (opt.fixed_files)
		io_uring_prep_multishot_accept_direct(s, w->lfd, NULL, NULL, 0);
	else
		io_uring_prep_multishot_accept(s, w->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(s, ud(OP_ACCEPT, 0));
}

static void arm_recv(worker *w, conn *c)
{
	struct io_uring_sqe *s = sqe_get(w);
	io_uring_prep_recv_multishot(s, c->fd, NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = BGID;
	if (opt.recv_bundle)
		s->ioprio |= RECVSEND_BUNDLE;
	on_sock(s);
	io_uring_sqe_set_data64(s, ud(OP_RECV, c->idx));
	c->recv_armed = true;
}

static void give_back(worker *w, unsigned bid)
{
	w->order[(w->pub + w->returned) & (BUF_COUNT - 1)] = (uint16_t)bid;
	io_uring_buf_ring_add(w->br, w->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
	                      io_uring_buf_ring_mask(BUF_COUNT), (int)w->returned++);
}

static void publish(worker *w)
{
	io_uring_buf_ring_advance(w->br, (int)w->returned);
	w->pub += w->returned;
	w->returned = 0;
}

/* -S: one send takes every buffer waiting in the connection's send ring. */
static void post_send_bundle(worker *w, conn *c, struct io_uring_sqe *s)
{
	/* no MSG_WAITALL: a short send ends the bundle with what it sent, and the rest of its
	 * last buffer goes out as a plain send */
	io_uring_prep_send(s, c->fd, NULL, 0, MSG_NOSIGNAL);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = (uint16_t)(SEND_BGID0 + c->idx);
	s->ioprio |= RECVSEND_BUNDLE;
	c->niov = c->sb_queued;
	(void)w;
}

/* Send what the connection holds: from one buffer a plain send, from several one sendmsg. */
static void post_send(worker *w, conn *c)
{
	struct io_uring_sqe *s = sqe_get(w);
	uint8_t *p = w->bufs + (size_t)c->head * BUF_SIZE + c->head_off;
	if (opt.send_bundle && !c->head_taken) {
		post_send_bundle(w, c, s);
	} else if (w->next[c->head] < 0 || opt.send_bundle) {
		/* -S: only the rest of a partly sent head goes out this way (it left the send ring) */
		size_t n = w->len[c->head] - c->head_off;
		c->niov = 1;
		switch (opt.send_mode) {
		case SEND_PLAIN:
			io_uring_prep_send(s, c->fd, p, n, MSG_NOSIGNAL | MSG_WAITALL);
			break;
		case SEND_FIXED:
			io_uring_prep_send(s, c->fd, p, n, MSG_NOSIGNAL | MSG_WAITALL);
			s->ioprio |= IORING_RECVSEND_FIXED_BUF;
			s->buf_index = 0;
			break;
		case SEND_ZC_FIXED:
			io_uring_prep_send_zc_fixed(s, c->fd, p, n, MSG_NOSIGNAL | MSG_WAITALL, 0, 0);
			break;
		default:
			io_uring_prep_send_zc(s, c->fd, p, n, MSG_NOSIGNAL | MSG_WAITALL, 0);
			break;
		}
	} else {
		unsigned n = 0;
		for (int32_t b = c->head; b >= 0 && n < MAX_IOV; b = w->next[b], n++) {
			c->iov[n].iov_base = b == c->head ? p : w->bufs + (size_t)b * BUF_SIZE;
			c->iov[n].iov_len = b == c->head ? w->len[b] - c->head_off : w->len[b];
		}
		c->niov = n;
		c->mh = (struct msghdr){ .msg_iov = c->iov, .msg_iovlen = n };
		io_uring_prep_sendmsg(s, c->fd, &c->mh, MSG_NOSIGNAL | MSG_WAITALL);
		/* the registered-buffer switches change the one-buffer send; a vectored send with
		 * registered buffers exists only as SENDMSG_ZC (6.15+) and is not tried here */
	}
	on_sock(s); /* after the prep helper, which clears the flags */
	io_uring_sqe_set_data64(s, ud(OP_SEND, c->idx));
}

static void sock_op_close(worker *w, conn *c)
{
	if (opt.fixed_files) {
		struct io_uring_sqe *s = sqe_get(w);
		io_uring_prep_close_direct(s, (unsigned)c->fd);
		io_uring_sqe_set_data64(s, ud(OP_NONE, 0));
	} else {
		close(c->fd);
	}
}

static void conn_free(worker *w, conn *c)
{
	for (int32_t b = c->head; b >= 0; b = w->next[b])
		give_back(w, (unsigned)b);
	sock_op_close(w, c);
	if (c->sbr) {
		io_uring_unregister_buf_ring(&w->ring, (int)(SEND_BGID0 + c->idx));
		munmap(c->sbr, (size_t)BUF_COUNT * sizeof(struct io_uring_buf));
	}
	w->conns[c->idx] = NULL;
	w->free_slots[w->nfree++] = c->idx;
	free(c);
}

/* The connection ends once the kernel holds nothing of it: no receive armed, no send. */
static void conn_end(worker *w, conn *c)
{
	c->closing = true;
	if (!c->recv_armed && !c->niov && !c->zc_notif) {
		conn_free(w, c);
	} else if (opt.fixed_files) { /* completes what is armed */
		struct io_uring_sqe *s = sqe_get(w);
		io_uring_prep_shutdown(s, c->fd, SHUT_RDWR);
		s->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(s, ud(OP_NONE, 0));
	} else {
		shutdown(c->fd, SHUT_RDWR);
	}
}

/* -S: the connection's own provided-buffer ring, which its sends take from. */
static int send_ring_new(worker *w, conn *c)
{
	size_t bytes = (size_t)BUF_COUNT * sizeof(struct io_uring_buf);
	void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	struct io_uring_buf_reg reg = { .ring_addr = (uintptr_t)mem, .ring_entries = BUF_COUNT,
	                                .bgid = (uint16_t)(SEND_BGID0 + c->idx) };
	int rc = io_uring_register_buf_ring(&w->ring, &reg, 0);
	if (rc < 0) {
		munmap(mem, bytes);
		return rc;
	}
	c->sbr = mem;
	io_uring_buf_ring_init(c->sbr);
	return 0;
}

static void on_accept(worker *w, int res, unsigned flags)
{
	if (!(flags & IORING_CQE_F_MORE) && !stop)
		arm_accept(w);
	if (res < 0)
		return;
	conn *c = w->nfree ? malloc(sizeof(*c)) : NULL;
	if (!c) {
		conn tmp = { .fd = res };
		sock_op_close(w, &tmp);
		return;
	}
	*c = (conn){ .fd = res, .idx = w->free_slots[--w->nfree], .head = -1, .tail = -1 };
	w->conns[c->idx] = c;
	if (opt.send_bundle) {
		int rc = c->idx < 65536 - SEND_BGID0 ? send_ring_new(w, c) : -ENOSPC;
		if (rc < 0) {
			fprintf(stderr, "raw_echo: -S: send ring: %s\n", strerror(-rc));
			c->closing = true;
			conn_free(w, c);
			return;
		}
	}
	if (!opt.fixed_files) { /* a direct descriptor inherited it from the listener */
		int one = 1;
		setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
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
	/* The kernel takes buffers in ring order, each filled before the next: a bundle's bytes
	 * are in the buffers at its head position on, the last one partly. */
	if (w->order[w->khead & (BUF_COUNT - 1)] != bid) {
		fprintf(stderr, "raw_echo: receive completion in buffer %u, ring head holds %u\n", bid,
		        w->order[w->khead & (BUF_COUNT - 1)]);
		abort();
	}
	for (uint32_t left = (uint32_t)res; left; w->khead++) {
		bid = w->order[w->khead & (BUF_COUNT - 1)];
		w->len[bid] = left < BUF_SIZE ? left : BUF_SIZE;
		left -= w->len[bid];
		w->next[bid] = -1;
		if (c->closing) {
			give_back(w, bid);
			continue;
		}
		if (c->tail >= 0)
			w->next[c->tail] = (int32_t)bid;
		else
			c->head = (int32_t)bid, c->head_off = 0;
		c->tail = (int32_t)bid;
		if (opt.send_bundle) {
			io_uring_buf_ring_add(c->sbr, w->bufs + (size_t)bid * BUF_SIZE, w->len[bid],
			                      (unsigned short)bid, io_uring_buf_ring_mask(BUF_COUNT), 0);
			io_uring_buf_ring_advance(c->sbr, 1);
			c->sb_added++;
			c->sb_queued++;
		}
	}
	if (c->closing) {
		conn_end(w, c);
		return;
	}
	if (!c->niov && !c->zc_notif)
		post_send(w, c);
	if (!c->recv_armed)
		arm_recv(w, c);
}

static void on_send(worker *w, conn *c, int res, unsigned flags)
{
	bool zc = opt.send_mode == SEND_ZC_FIXED || opt.send_mode == SEND_ZC;
	if (zc && (flags & IORING_CQE_F_NOTIF)) { /* the kernel is done with the memory */
		c->zc_notif = false;
		res = (int)c->zc_sent;
	} else if (zc && (flags & IORING_CQE_F_MORE)) { /* a notification follows */
		c->zc_notif = true;
		c->zc_sent = res < 0 ? 0 : (uint32_t)res;
		c->niov = 0;
		if (res < 0)
			conn_end(w, c);
		return;
	}
	bool bundle = opt.send_bundle && !c->head_taken;
	/* -S: a bundle send that found more buffers goes on, posting a completion per round */
	bool more = !zc && (flags & IORING_CQE_F_MORE);
	if (!more)
		c->niov = 0;
	if (res < 0 || (c->closing && !more)) {
		conn_end(w, c);
		return;
	}
	size_t left = (size_t)res;
	if (bundle) { /* the buffers it took left the send ring, the last maybe partly sent */
		unsigned taken = 0;
		size_t sum = 0;
		for (int32_t b = c->head; b >= 0 && sum < left; b = w->next[b], taken++)
			sum += w->len[b] - (b == c->head ? c->head_off : 0);
		c->sb_queued -= taken;
		c->head_taken = sum > left;
	} else if (opt.send_bundle) {
		c->head_taken = false; /* the rest of the head: sent whole (MSG_WAITALL) or failed */
	}
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
	if (!more && c->head >= 0 && (!opt.send_bundle || c->head_taken || c->sb_queued))
		post_send(w, c);
}

/* -R: does this kernel take IORING_RECVSEND_FIXED_BUF on a plain (copying) send? One byte
 * over a socket pair, before any connection. */
static int probe_send_fixed(worker *w)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	struct io_uring_sqe *s = sqe_get(w);
	io_uring_prep_send(s, sv[0], w->bufs, 1, MSG_NOSIGNAL);
	s->ioprio |= IORING_RECVSEND_FIXED_BUF;
	s->buf_index = 0;
	io_uring_sqe_set_data64(s, ud(OP_NONE, 0));
	struct io_uring_cqe *cqe;
	int rc = io_uring_submit_and_wait(&w->ring, 1);
	if (rc >= 0 && (rc = io_uring_peek_cqe(&w->ring, &cqe)) == 0) {
		rc = cqe->res < 0 ? cqe->res : 0;
		io_uring_cqe_seen(&w->ring, cqe);
	}
	close(sv[0]);
	close(sv[1]);
	return rc;
}

static int setup(worker *w)
{
	w->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(w->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(w->lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* accepted sockets inherit it: a direct descriptor (-F) cannot take a setsockopt */
	setsockopt(w->lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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
	publish(w);
	if ((opt.recv_bundle || opt.send_bundle) && !(w->ring.features & FEAT_RECVSEND_BUNDLE)) {
		fprintf(stderr, "raw_echo: -B/-S: this kernel has no send/receive bundles\n");
		return -1;
	}
	if (opt.fixed_files) {
		/* the table's size is bounded by RLIMIT_NOFILE */
		struct rlimit rl;
		unsigned nr = MAX_CONNS;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < nr)
			nr = (unsigned)rl.rlim_cur;
		if ((rc = io_uring_register_files_sparse(&w->ring, nr)) < 0) {
			fprintf(stderr, "raw_echo: -F: registered file table: %s\n", strerror(-rc));
			return -1;
		}
	}
	if (opt.send_mode == SEND_FIXED || opt.send_mode == SEND_ZC_FIXED) {
		/* one registered buffer over the whole area: pins it (every page faulted in) */
		struct iovec iov = { .iov_base = w->bufs, .iov_len = (size_t)BUF_COUNT * BUF_SIZE };
		if ((rc = io_uring_register_buffers(&w->ring, &iov, 1)) < 0) {
			fprintf(stderr, "raw_echo: -R/-Z: registered buffer: %s\n", strerror(-rc));
			return -1;
		}
		if (opt.send_mode == SEND_FIXED && (rc = probe_send_fixed(w)) < 0) {
			fprintf(stderr, "raw_echo: -R: a send from a registered buffer: %s\n", strerror(-rc));
			return -1;
		}
	}
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
			if (op == OP_NONE) /* a shutdown or close_direct (-F) */
				continue;
			conn *c = w->conns[cqe->user_data >> 8];
			if (!c)
				continue;
			if (op == OP_RECV)
				on_recv(w, c, cqe->res, cqe->flags);
			else
				on_send(w, c, cqe->res, cqe->flags);
			if (cqe->res == -EINVAL && op == OP_SEND && !w->failed) {
				fprintf(stderr, "raw_echo: the kernel refused a send (EINVAL): switch not supported?\n");
				w->failed = 1;
			}
		}
		io_uring_cq_advance(&w->ring, n);
		if (w->returned) {
			publish(w);
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
			if (!opt.fixed_files) /* direct ones go with the ring */
				close(w->conns[i]->fd);
			if (w->conns[i]->sbr)
				munmap(w->conns[i]->sbr, (size_t)BUF_COUNT * sizeof(struct io_uring_buf));
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
	int o;
	const char *usage = "usage: raw_echo [-t THREADS] [-FRZzBS] [-b SIZE] PORT\n";
	while ((o = getopt(argc, argv, "t:FRZzBSb:")) != -1) {
		switch (o) {
		case 't':
			if ((nthreads = (unsigned)atoi(optarg)) < 1 || nthreads > 64)
				o = '?';
			break;
		case 'F': opt.fixed_files = true; break;
		case 'R': opt.send_mode = SEND_FIXED; break;
		case 'Z': opt.send_mode = SEND_ZC_FIXED; break;
		case 'z': opt.send_mode = SEND_ZC; break;
		case 'B': opt.recv_bundle = true; break;
		case 'S': opt.send_bundle = true; break;
		case 'b':
			opt.buf_size = (unsigned)atoi(optarg);
			if (opt.buf_size < 64 || opt.buf_size > (1u << 20))
				o = '?';
			break;
		default: break;
		}
		if (o == '?') {
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	opt.buf_count = MAX_BUFS; /* a power of two, as many as fit the area */
	while (opt.buf_count > 64 && (size_t)opt.buf_count * opt.buf_size > BUF_AREA)
		opt.buf_count /= 2;
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
		status |= w[i].failed;
		teardown(&w[i]);
	}
	pthread_barrier_destroy(&ready);
	free(w);
	return status;
}
