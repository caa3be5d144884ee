/* The ring layer: the only file that speaks liburing. A reactor owns one wr_ring: an io_uring
 * (SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN when the kernel has them) and one provided-buffer
 * ring for receives (handed to the kernel a few at a time, most recently used first, consumed
 * incrementally where the kernel can). Submission helpers never fail silently: when the SQ is full they submit
 * and retry. */
#ifndef WR_LIB_RING_H
#define WR_LIB_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct wr_ring wr_ring;

typedef struct wr_cqe {
	uint64_t ud;
	int32_t res;
	uint32_t flags;
} wr_cqe;

typedef struct wr_ring_config {
	unsigned entries;    /* SQ size */
	unsigned buf_count;  /* provided buffers (power of 2, <= 32768) */
	unsigned buf_size;
	bool single_issuer;  /* only the creating/first submitting thread submits */
	/* Receive with multishot recvmsg, each completion carrying the kernel's software receive
	 * timestamp (the caller sets SO_TIMESTAMPING on the sockets); buffers are then used
	 * whole, not incrementally. */
	bool rx_timestamps;
	/* Receive bundles where the kernel has them (6.10+; not with rx_timestamps): one
	 * completion for all the buffers one receive filled, split by wr__ring_recv_split. */
	bool recv_bundle;
} wr_ring_config;

/* Returns 0 with *out set, or -errno (-ENOSYS/-EINVAL: kernel too old for provided-buffer
 * rings or multishot). */
int wr__ring_new(const wr_ring_config *cfg, wr_ring **out);
void wr__ring_free(wr_ring *r);
int wr__ring_fd(const wr_ring *r);

void wr__ring_accept_multishot(wr_ring *r, int fd, uint64_t ud);
/* A multishot receive that ends (no F_MORE) after limit bytes where the kernel can (0: no
 * limit): a connection cannot take more than that before it is armed again. */
void wr__ring_recv_multishot(wr_ring *r, int fd, uint32_t limit, uint64_t ud);
/* One receive into one provided buffer (no multishot): a connection that expects its next
 * bytes to go elsewhere soon (a direct receive) takes them this way, since a multishot
 * receive would have to be cancelled first. Completes like a multishot's last one. */
void wr__ring_recv_once(wr_ring *r, int fd, uint64_t ud);
/* One sized receive into p (not from the buffer ring), completing once len bytes are there
 * (MSG_WAITALL) or the stream ended or failed: a large payload's rest, received where it is
 * wanted instead of through provided buffers and a copy. */
void wr__ring_recv_into(wr_ring *r, int fd, void *p, size_t len, uint64_t ud);
/* A receive failed with -EINVAL: true when that was the limit (the ring stops asking for it,
 * and the receive should be armed again), false when it was something else. */
bool wr__ring_recv_limit_refused(wr_ring *r);
/* A send of p[0..len), or of msg's iovecs, zc: zero-copy (SEND_ZC / SENDMSG_ZC): a first
 * completion with the bytes sent (F_MORE set when a notification follows), then a
 * notification (wr__cqe_notif) once the kernel no longer reads the memory: only then may it
 * be reused. The notification tells whether the kernel copied after all (wr__cqe_zc_copied:
 * always on loopback). */
void wr__ring_send(wr_ring *r, int fd, const void *p, size_t len, bool zc, uint64_t ud);
void wr__ring_sendmsg(wr_ring *r, int fd, const struct msghdr *msg, bool zc, uint64_t ud);
bool wr__cqe_notif(const wr_cqe *c);
bool wr__cqe_zc_copied(const wr_cqe *c);
void wr__ring_connect(wr_ring *r, int fd, const struct sockaddr *sa, socklen_t len, uint64_t ud);
void wr__ring_read(wr_ring *r, int fd, void *p, size_t len, uint64_t ud);
void wr__ring_cancel_fd(wr_ring *r, int fd, uint64_t ud);
/* Cancel the one request whose user_data is target (a multishot receive to pause). */
void wr__ring_cancel_ud(wr_ring *r, uint64_t target, uint64_t ud);
/* Post a CQE {ud=payload, res=res} to another ring (IORING_OP_MSG_RING). */
void wr__ring_msg(wr_ring *r, int target_fd, uint64_t payload, int32_t res, uint64_t ud);

/* Submit what is queued and wait for at least one completion or timeout_ns (< 0: forever,
 * 0: do not wait). Returns >= 0 or -errno (-ETIME/-EINTR are normal). */
int wr__ring_submit_wait(wr_ring *r, int64_t timeout_ns);
int wr__ring_submit(wr_ring *r);
/* The same, but waiting for want completions where the kernel can bound that (6.12+,
 * IORING_FEAT_MIN_TIMEOUT): once min_us has passed, the wait returns with whatever completions
 * there are, if any, and otherwise goes on for the first one, at most timeout_ns in all.
 * A turn whose sends complete inside the submit (a socket with room) counts them in want, so
 * that its wait goes on for what they answer instead of returning at once with only them:
 * the wait ends at want completions, at min_us with what has come, or at timeout_ns with
 * nothing, whichever is first. Where the kernel cannot (wr__ring_can_settle false), or
 * with want <= 1, min_us 0 or timeout_ns <= 0: wr__ring_submit_wait. */
int wr__ring_submit_settle(wr_ring *r, int64_t timeout_ns, unsigned want, unsigned min_us);
bool wr__ring_can_settle(const wr_ring *r);
/* Copy up to max completions out and advance the CQ once. */
unsigned wr__ring_reap(wr_ring *r, wr_cqe *out, unsigned max);

static inline bool wr__cqe_more(const wr_cqe *c) { return c->flags & (1U << 1); /* F_MORE */ }
/* Where the bytes of a receive completion (res > 0, from the buffer ring) are, and how many
 * (*out_len: 0 for a recvmsg's end of stream); *out_rx_ns: the kernel's receive timestamp,
 * CLOCK_REALTIME ns, or 0 without one. */
uint8_t *wr__ring_recv_data(wr_ring *r, const wr_cqe *cqe, size_t *out_len, uint64_t *out_rx_ns);
/* A receive completion as one completion per buffer it filled, in order (*out_n of them;
 * without bundles, or for one buffer, cqe itself): each is then handled as a receive
 * completion of its own. All but the last carry F_MORE. The array lives until the next call. */
const wr_cqe *wr__ring_recv_split(wr_ring *r, const wr_cqe *cqe, unsigned *out_n);
/* Receive completions that filled more than one buffer, so far (0 without bundles). */
uint64_t wr__ring_bundled(const wr_ring *r);
/* Done with a receive completion (any res): its buffer, if it has one, goes back to the
 * free stack once the kernel is done with it too. */
void wr__ring_recv_done(wr_ring *r, const wr_cqe *cqe);
/* A receive completion set aside for a later turn: its bytes stay where they are until
 * wr__ring_recv_release (instead of wr__ring_recv_done) once they were processed. */
void wr__ring_recv_hold(wr_ring *r, const wr_cqe *cqe);
void wr__ring_recv_release(wr_ring *r, const wr_cqe *cqe);
/* After a burst: the target of buffers handed out goes back to its first value, and the
 * pages of buffers unused the longest go back to the OS. */
void wr__ring_trim(wr_ring *r);
/* A receive found the ring empty (ENOBUFS): keep more buffers in it from now on. */
void wr__ring_bufs_short(wr_ring *r);
/* Provided receive buffers lent to the kernel now, and in all. */
void wr__ring_buf_use(const wr_ring *r, unsigned *out_kernel, unsigned *out_total);

#endif
