#include "ring.h"

#include <assert.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wr_config.h"

#define BGID 0 /* each reactor has its own ring, so one group id per ring suffices */
#define FIRST_TARGET 16u

/* Newer than liburing 2.3's headers (kernel 6.12): buffers consumed piece by piece. */
#define PBUF_RING_INC 2u            /* io_uring_buf_reg.flags (the "pad" field in 2.3) */
#define CQE_F_BUF_MORE (1u << 4)    /* the buffer has room left and stays the kernel's */
/* Newer than liburing 2.3's headers (kernel 6.2): a zero-copy send's notification says whether
 * the kernel copied after all (loopback always does). */
#define SEND_ZC_REPORT_USAGE (1u << 3)      /* sqe->ioprio of SEND_ZC / SENDMSG_ZC */
#define NOTIF_USAGE_ZC_COPIED (1u << 31)    /* in the notification's res */
/* Newer than liburing 2.3's headers (kernel 6.12): a wait for several completions that, once
 * min_wait_usec (io_uring_getevents_arg's "pad" in 2.3) has passed, returns with whatever
 * has come, if anything has (wr__ring_submit_settle). */
#define FEAT_MIN_TIMEOUT (1u << 15)
/* Newer than liburing 2.3's headers (kernel 6.10): one receive fills several buffers. */
#define RECVSEND_BUNDLE (1u << 4)           /* sqe->ioprio of RECV */
#define FEAT_RECVSEND_BUNDLE (1u << 14)
#define SPLIT_MAX 1024u                     /* the kernel's cap on a bundle's buffers (UIO_MAXIOV) */

/* Receive buffers are handed to the kernel a few at a time, most recently used first, and
 * (where the kernel can) consumed incrementally, many small receives packed into one buffer:
 * the memory a reactor touches follows what it receives at once, not the ring's size. */
struct wr_ring {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	uint8_t *bufs;
	unsigned buf_count, buf_size, buf_mask;
	bool inc;             /* incremental consumption */
	uint32_t *used;       /* inc: bytes of each buffer already received into */
	/* Receives set aside for a later turn (the reactor's fair share) still point into their
	 * buffer: it goes back only when the last of them is processed. With incremental
	 * consumption one buffer holds several receives, of several connections. */
	uint16_t *hold;
	uint8_t *ended;       /* the kernel is done with the buffer; it waits for its holds */
	uint8_t *cold;        /* its pages were given back to the OS (wr__ring_trim) */
	uint8_t *stacked;     /* on our stack (else the kernel's, or held) */
	uint16_t *stack;      /* buffers that are ours, the most recently used on top */
	bool rx_ts;           /* multishot recvmsg with timestamps */
	struct msghdr rx_msg; /* its layout: no name, room for one SCM_TIMESTAMPING */
	unsigned nstack;
	unsigned out;         /* buffers in the kernel's ring (given, not yet given back) */
	unsigned target;      /* how many to keep there; doubles when it runs dry */
	bool no_recv_limit;   /* the kernel refused a byte limit on a multishot receive */
	bool defer_taskrun;   /* receives complete only inside this thread's submit */
	bool min_wait;        /* wr__ring_submit_settle can bound its extra wait (6.12+) */
	/* Receive bundles: a completion's bytes run from its buffer on through the buffers that
	 * followed it in the kernel's ring, so the ring's order is kept (order[], by position)
	 * with the kernel's head (khead: positions it has used up), and a completion is split
	 * into one per buffer (split[]) before anyone sees it. */
	bool bundle;
	uint16_t *order;
	uint32_t add_pos, khead;
	wr_cqe *split;
	uint64_t bundled;     /* completions that filled more than one buffer */
	long page;
};

static int register_buf_ring(wr_ring *r, void *mem, bool inc)
{
	struct io_uring_buf_reg reg = {
		.ring_addr = (uintptr_t)mem,
		.ring_entries = r->buf_count,
		.bgid = BGID,
	};
	if (inc)
		reg.pad = PBUF_RING_INC;
	return io_uring_register_buf_ring(&r->ring, &reg, 0);
}

/* Give the kernel buffers from the top of the stack until it holds target of them. */
static void refill(wr_ring *r)
{
	unsigned n = 0;
	while (r->out < r->target && r->nstack) {
		unsigned bid = r->stack[--r->nstack];
		r->stacked[bid] = 0;
		io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * r->buf_size, r->buf_size, bid,
		                      r->buf_mask, (int)n++);
		if (r->order)
			r->order[r->add_pos++ & r->buf_mask] = (uint16_t)bid;
		r->out++;
	}
	if (n)
		io_uring_buf_ring_advance(r->br, (int)n);
}

/* The buffers' bookkeeping arrays (free(NULL) for those never allocated). */
static void free_books(wr_ring *r)
{
	free(r->stack);
	free(r->used);
	free(r->hold);
	free(r->ended);
	free(r->cold);
	free(r->stacked);
	free(r->order);
	free(r->split);
}

/* liburing 2.3 lacks io_uring_setup_buf_ring: map the ring memory and register it here. */
static int setup_buf_ring(wr_ring *r)
{
	r->br_bytes = (size_t)r->buf_count * sizeof(struct io_uring_buf);
	void *mem = mmap(NULL, r->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	r->br = mem;
	r->stack = malloc(sizeof(*r->stack) * r->buf_count);
	r->used = calloc(r->buf_count, sizeof(*r->used));
	r->hold = calloc(r->buf_count, sizeof(*r->hold));
	r->ended = calloc(r->buf_count, sizeof(*r->ended));
	r->cold = calloc(r->buf_count, sizeof(*r->cold));
	r->stacked = calloc(r->buf_count, sizeof(*r->stacked));
	if (r->bundle) {
		r->order = calloc(r->buf_count, sizeof(*r->order));
		r->split = calloc(r->buf_count < SPLIT_MAX ? r->buf_count : SPLIT_MAX, sizeof(*r->split));
	}
	if (!r->stack || !r->used || !r->hold || !r->ended || !r->cold || !r->stacked ||
	    (r->bundle && (!r->order || !r->split))) {
		munmap(mem, r->br_bytes);
		r->br = NULL;
		return -ENOMEM;
	}
	/* Kernels before 6.12 refuse the flag: whole buffers per receive there (and always with
	 * recvmsg, whose header and control data head each buffer). */
	int rc = r->rx_ts ? -EINVAL : register_buf_ring(r, mem, true);
	r->inc = rc == 0;
	if (rc == -EINVAL)
		rc = register_buf_ring(r, mem, false);
	if (rc < 0) {
		munmap(mem, r->br_bytes);
		r->br = NULL;
		return rc;
	}
	io_uring_buf_ring_init(r->br);
	for (unsigned i = 0; i < r->buf_count; i++) {
		r->stack[i] = (uint16_t)(r->buf_count - 1 - i); /* buffer 0 on top */
		r->stacked[i] = 1;
	}
	r->nstack = r->buf_count;
	r->target = r->buf_count < FIRST_TARGET ? r->buf_count : FIRST_TARGET;
	refill(r);
	return 0;
}

/* wr__ring_submit_settle publishes the SQ tail itself, as liburing 2.3's submit does: that
 * relies on the SQ index array mapping each slot to itself, which liburing sets up once (since
 * 2.2). Checked, not assumed: a liburing that fills it per submit leaves the feature off. */
static bool sq_array_is_identity(const wr_ring *r)
{
	const struct io_uring_sq *sq = &r->ring.sq;
	if (!sq->array || (r->ring.flags & IORING_SETUP_SQPOLL))
		return false;
	for (unsigned i = 0; i < *sq->kring_entries; i++)
		if (sq->array[i] != i)
			return false;
	return true;
}

int wr__ring_new(const wr_ring_config *cfg, wr_ring **out)
{
	if ((cfg->buf_count & (cfg->buf_count - 1)) || cfg->buf_count > 32768 ||
	    (cfg->buf_count && cfg->buf_size < 64))
		return -EINVAL;
	wr_ring *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->page = sysconf(_SC_PAGESIZE);
	r->buf_count = cfg->buf_count;
	r->buf_size = cfg->buf_size;
	r->buf_mask = cfg->buf_count ? io_uring_buf_ring_mask(cfg->buf_count) : 0;
	r->rx_ts = cfg->rx_timestamps;
	r->rx_msg.msg_controllen = CMSG_SPACE(sizeof(struct scm_timestamping));

	/* Newest flags first; each older kernel rejects with -EINVAL and we drop a flag. */
	const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int rc = -EINVAL;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		unsigned f = tries[i];
		if (!cfg->single_issuer)
			f &= ~(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
		struct io_uring_params p = { .flags = f | IORING_SETUP_CQSIZE,
		                             .cq_entries = cfg->entries * 4 };
		rc = io_uring_queue_init_params(cfg->entries, &r->ring, &p);
		if (rc == 0) {
			r->defer_taskrun = (f & IORING_SETUP_DEFER_TASKRUN) != 0;
			/* recvmsg (timestamps) takes no bundles */
			r->bundle = cfg->recv_bundle && !cfg->rx_timestamps &&
			            (r->ring.features & FEAT_RECVSEND_BUNDLE);
			break;
		}
		if (rc != -EINVAL)
			break;
	}
	if (rc < 0)
		goto err_ring;
	r->min_wait = (r->ring.features & FEAT_MIN_TIMEOUT) && (r->ring.features & IORING_FEAT_EXT_ARG) &&
	              sq_array_is_identity(r);

	if (!r->buf_count) { /* a ring that only sends (MSG_RING posting) */
		*out = r;
		return 0;
	}
	r->bufs = mmap(NULL, (size_t)r->buf_count * r->buf_size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->bufs == MAP_FAILED) {
		rc = -errno;
		r->bufs = NULL;
		goto err_bufs;
	}
	rc = setup_buf_ring(r);
	if (rc < 0)
		goto err_br;
	*out = r;
	return 0;

err_br:
	free_books(r); /* what setup_buf_ring allocated before it failed */
	munmap(r->bufs, (size_t)r->buf_count * r->buf_size);
err_bufs:
	io_uring_queue_exit(&r->ring);
err_ring:
	free(r);
	return rc;
}

void wr__ring_free(wr_ring *r)
{
	if (!r)
		return;
	io_uring_queue_exit(&r->ring);
	if (r->br)
		munmap(r->br, r->br_bytes);
	if (r->bufs)
		munmap(r->bufs, (size_t)r->buf_count * r->buf_size);
	free_books(r);
	free(r);
}

int wr__ring_fd(const wr_ring *r) { return r->ring.ring_fd; }

/* Never NULL: a full SQ is submitted to make room. */
static struct io_uring_sqe *get_sqe(wr_ring *r)
{
	struct io_uring_sqe *sqe;
	while (!(sqe = io_uring_get_sqe(&r->ring)))
		io_uring_submit(&r->ring);
	return sqe;
}

void wr__ring_accept_multishot(wr_ring *r, int fd, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud);
}

void wr__ring_recv_multishot(wr_ring *r, int fd, uint32_t limit, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	if (r->rx_ts)
		io_uring_prep_recvmsg_multishot(sqe, fd, &r->rx_msg, 0);
	else
		io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	if (r->bundle)
		sqe->ioprio |= RECVSEND_BUNDLE;
	/* Kernel 6.17: sqe->optlen, which is file_index in liburing 2.3's sqe, caps the bytes
	 * of one multishot receive; older kernels refuse it (-EINVAL) and go without. */
	if (!r->no_recv_limit)
		sqe->file_index = limit;
	io_uring_sqe_set_data64(sqe, ud);
}

void wr__ring_recv_once(wr_ring *r, int fd, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	io_uring_prep_recv(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	/* no bundle: this receive is there to take one buffer before a direct receive takes the
	 * rest of a large frame; a bundle would pull that rest through the ring and a copy */
	io_uring_sqe_set_data64(sqe, ud);
}

void wr__ring_recv_into(wr_ring *r, int fd, void *p, size_t len, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	/* The length field is 32 bits: a larger rest is asked for in several receives. */
	io_uring_prep_recv(sqe, fd, p, len > 0x7fffffffu ? 0x7fffffffu : len, MSG_WAITALL);
	io_uring_sqe_set_data64(sqe, ud);
}

bool wr__ring_recv_limit_refused(wr_ring *r)
{
	if (r->no_recv_limit)
		return false;
	r->no_recv_limit = true;
	return true;
}

void wr__ring_send(wr_ring *r, int fd, const void *p, size_t len, bool zc, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	if (zc)
		io_uring_prep_send_zc(sqe, fd, p, len, MSG_NOSIGNAL, SEND_ZC_REPORT_USAGE);
	else
		io_uring_prep_send(sqe, fd, p, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud);
}

void wr__ring_sendmsg(wr_ring *r, int fd, const struct msghdr *msg, bool zc, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	if (zc) {
		io_uring_prep_sendmsg_zc(sqe, fd, msg, MSG_NOSIGNAL);
		sqe->ioprio |= SEND_ZC_REPORT_USAGE;
	} else {
		io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
	}
	io_uring_sqe_set_data64(sqe, ud);
}

bool wr__cqe_notif(const wr_cqe *c)
{
	return c->flags & IORING_CQE_F_NOTIF;
}

bool wr__cqe_zc_copied(const wr_cqe *c)
{
	return (uint32_t)c->res & NOTIF_USAGE_ZC_COPIED;
}

void wr__ring_connect(wr_ring *r, int fd, const struct sockaddr *sa, socklen_t len, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	io_uring_prep_connect(sqe, fd, sa, len);
	io_uring_sqe_set_data64(sqe, ud);
}

void wr__ring_read(wr_ring *r, int fd, void *p, size_t len, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	io_uring_prep_read(sqe, fd, p, (unsigned)len, 0);
	io_uring_sqe_set_data64(sqe, ud);
}

void wr__ring_cancel_fd(wr_ring *r, int fd, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, ud);
}

void wr__ring_cancel_ud(wr_ring *r, uint64_t target, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	io_uring_prep_cancel64(sqe, target, 0);
	io_uring_sqe_set_data64(sqe, ud);
}

void wr__ring_msg(wr_ring *r, int target_fd, uint64_t payload, int32_t res, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	io_uring_prep_msg_ring(sqe, target_fd, (unsigned)res, payload, 0);
	io_uring_sqe_set_data64(sqe, ud);
}

int wr__ring_submit(wr_ring *r)
{
	return io_uring_submit(&r->ring);
}

int wr__ring_submit_wait(wr_ring *r, int64_t timeout_ns)
{
	if (r->br)
		refill(r);
	if (timeout_ns < 0)
		return io_uring_submit_and_wait(&r->ring, 1);
	if (timeout_ns == 0)
		return io_uring_submit_and_get_events(&r->ring);
	struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000,
	                                .tv_nsec = timeout_ns % 1000000000 };
	struct io_uring_cqe *cqe;
	return io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
}

bool wr__ring_can_settle(const wr_ring *r)
{
	return r->min_wait;
}

int wr__ring_submit_settle(wr_ring *r, int64_t timeout_ns, unsigned want, unsigned min_us)
{
	if (!r->min_wait || want <= 1 || !min_us || timeout_ns <= 0)
		return wr__ring_submit_wait(r, timeout_ns);
	if (r->br)
		refill(r);
	/* liburing 2.3 has no min-wait submit: publish the SQ tail as its submit does, and enter
	 * once, submitting and waiting. */
	struct io_uring_sq *sq = &r->ring.sq;
	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		__atomic_store_n(sq->ktail, sq->sqe_tail, __ATOMIC_RELEASE);
	}
	unsigned n = sq->sqe_tail - __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
	struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000,
	                                .tv_nsec = timeout_ns % 1000000000 };
	struct io_uring_getevents_arg arg = { .ts = (uint64_t)(uintptr_t)&ts, .pad = min_us };
	long rc = syscall(__NR_io_uring_enter, r->ring.ring_fd, n, want,
	                  IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
	return rc < 0 ? -errno : (int)rc;
}

unsigned wr__ring_reap(wr_ring *r, wr_cqe *out, unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&r->ring, head, cqe) {
		if (n == max)
			break;
		out[n].ud = cqe->user_data;
		out[n].res = cqe->res;
		out[n].flags = cqe->flags;
		n++;
	}
	io_uring_cq_advance(&r->ring, n);
	return n;
}

/* A recvmsg completion: io_uring_recvmsg_out, the control data, then the payload. */
static uint8_t *recvmsg_data(wr_ring *r, uint8_t *p, const wr_cqe *cqe, size_t *out_len,
                             uint64_t *out_rx_ns)
{
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(p, cqe->res, &r->rx_msg);
	if (!o) {
		*out_len = 0;
		return p;
	}
	for (struct cmsghdr *cm = io_uring_recvmsg_cmsg_firsthdr(o, &r->rx_msg); cm;
	     cm = io_uring_recvmsg_cmsg_nexthdr(o, &r->rx_msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPING &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct scm_timestamping))) {
			struct scm_timestamping ts;
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			*out_rx_ns = (uint64_t)ts.ts[0].tv_sec * 1000000000ull + (uint64_t)ts.ts[0].tv_nsec;
		}
	}
	*out_len = io_uring_recvmsg_payload_length(o, cqe->res, &r->rx_msg);
	return io_uring_recvmsg_payload(o, &r->rx_msg);
}

uint8_t *wr__ring_recv_data(wr_ring *r, const wr_cqe *cqe, size_t *out_len, uint64_t *out_rx_ns)
{
	unsigned bid = cqe->flags >> 16;
	uint8_t *p = r->bufs + (size_t)bid * r->buf_size;
	*out_rx_ns = 0;
	if (r->rx_ts)
		return recvmsg_data(r, p, cqe, out_len, out_rx_ns);
	if (r->inc) {
		p += r->used[bid];
		r->used[bid] += (uint32_t)cqe->res;
	}
	*out_len = (size_t)cqe->res;
	return p;
}

const wr_cqe *wr__ring_recv_split(wr_ring *r, const wr_cqe *cqe, unsigned *out_n)
{
	*out_n = 1;
	if (!r->bundle || cqe->res <= 0 || !(cqe->flags & IORING_CQE_F_BUFFER))
		return cqe;
	/* The first buffer takes what room it had left (all of it without incremental
	 * consumption), each next one from its start; all but the last are used up, the last
	 * too unless the kernel says it goes on filling it. */
	uint32_t left = (uint32_t)cqe->res, pos = r->khead;
	unsigned n = 0, max = r->buf_count < SPLIT_MAX ? r->buf_count : SPLIT_MAX;
	/* the completion's buffer is the one at the kernel's head, or the order was lost */
	assert(r->order[pos & r->buf_mask] == cqe->flags >> 16);
	for (; left && n < max; n++) {
		unsigned bid = r->order[pos & r->buf_mask];
		uint32_t room = r->buf_size - (n == 0 && r->inc ? r->used[bid] : 0);
		uint32_t take = left < room ? left : room;
		left -= take;
		uint32_t fl = (uint32_t)bid << 16 | IORING_CQE_F_BUFFER;
		fl |= left ? (1u << 1) /* F_MORE: not the request's last */
		           : cqe->flags & ((1u << 1) | CQE_F_BUF_MORE);
		r->split[n] = (wr_cqe){ .ud = cqe->ud, .res = (int32_t)take, .flags = fl };
		if (left || !r->inc || !(cqe->flags & CQE_F_BUF_MORE))
			pos++;
	}
	r->khead = pos;
	r->bundled += n > 1;
	*out_n = n;
	return r->split;
}

uint64_t wr__ring_bundled(const wr_ring *r) { return r->bundled; }

static void buf_back(wr_ring *r, unsigned bid)
{
	r->used[bid] = 0;
	r->ended[bid] = 0;
	r->cold[bid] = 0; /* it was written to */
	r->stacked[bid] = 1;
	r->stack[r->nstack++] = (uint16_t)bid;
	r->out--;
}

void wr__ring_recv_done(wr_ring *r, const wr_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_BUFFER) || (cqe->flags & CQE_F_BUF_MORE))
		return; /* no buffer, or one the kernel goes on filling */
	unsigned bid = cqe->flags >> 16;
	if (r->hold[bid])
		r->ended[bid] = 1;
	else
		buf_back(r, bid);
}

void wr__ring_recv_hold(wr_ring *r, const wr_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_BUFFER)
		r->hold[cqe->flags >> 16]++;
}

void wr__ring_recv_release(wr_ring *r, const wr_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	unsigned bid = cqe->flags >> 16;
	r->hold[bid]--;
	if (!(cqe->flags & CQE_F_BUF_MORE))
		r->ended[bid] = 1;
	if (!r->hold[bid] && r->ended[bid])
		buf_back(r, bid);
}

static void buf_cold(wr_ring *r, unsigned bid)
{
	if (r->cold[bid])
		return;
	uintptr_t from = (uintptr_t)(r->bufs + (size_t)bid * r->buf_size);
	uintptr_t to = from + r->buf_size, pg = (uintptr_t)r->page;
	from = (from + pg - 1) & ~(pg - 1); /* whole pages of this buffer only */
	to &= ~(pg - 1);
	if (to > from)
		madvise((void *)from, to - from, MADV_DONTNEED);
	r->cold[bid] = 1;
}

void wr__ring_trim(wr_ring *r)
{
	if (!r->br)
		return;
	/* A burst that ran the ring dry raised the target; what the kernel holds comes back as
	 * it is used, and only the first-target's worth goes out again. */
	r->target = r->buf_count < FIRST_TARGET ? r->buf_count : FIRST_TARGET;
	/* The bottom of the stack is what was used longest ago: its pages go back to the OS (the
	 * next use faults in zeroed pages). The top stays warm. */
	for (unsigned i = 0; i + 2 * FIRST_TARGET < r->nstack; i++)
		buf_cold(r, r->stack[i]);
	/* After a burst that grew the target, most of what the kernel holds was written to once
	 * and waits, resident, for the next burst. Between turns nothing writes to it (with
	 * DEFER_TASKRUN receives run in this thread's submit only): the pages of those with
	 * nothing in them (not the one being filled, not one held) go back too. */
	if (r->defer_taskrun && r->out > 2 * FIRST_TARGET)
		for (unsigned bid = 0; bid < r->buf_count; bid++)
			if (!r->stacked[bid] && !r->hold[bid] && !r->used[bid] && !r->ended[bid])
				buf_cold(r, bid);
}

void wr__ring_buf_use(const wr_ring *r, unsigned *out_kernel, unsigned *out_total)
{
	*out_kernel = r->out;
	*out_total = r->buf_count;
}

void wr__ring_bufs_short(wr_ring *r)
{
	if (r->target < r->buf_count)
		r->target = r->target * 2 < r->buf_count ? r->target * 2 : r->buf_count;
}
