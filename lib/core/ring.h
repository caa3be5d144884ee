/* The ring layer: the only file that speaks liburing. A reactor owns one wr_ring: an io_uring
 * (SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN when the kernel has them) and one provided-buffer
 * ring for receives. Submission helpers never fail silently: when the SQ is full they submit
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
} wr_ring_config;

/* Returns 0 with *out set, or -errno (-ENOSYS/-EINVAL: kernel too old for provided-buffer
 * rings or multishot). */
int wr__ring_new(const wr_ring_config *cfg, wr_ring **out);
void wr__ring_free(wr_ring *r);
int wr__ring_fd(const wr_ring *r);

void wr__ring_accept_multishot(wr_ring *r, int fd, uint64_t ud);
void wr__ring_recv_multishot(wr_ring *r, int fd, uint64_t ud);
void wr__ring_send(wr_ring *r, int fd, const void *p, size_t len, uint64_t ud);
void wr__ring_sendmsg(wr_ring *r, int fd, const struct msghdr *msg, uint64_t ud);
void wr__ring_connect(wr_ring *r, int fd, const struct sockaddr *sa, socklen_t len, uint64_t ud);
void wr__ring_read(wr_ring *r, int fd, void *p, size_t len, uint64_t ud);
void wr__ring_cancel_fd(wr_ring *r, int fd, uint64_t ud);
/* Post a CQE {ud=payload, res=res} to another ring (IORING_OP_MSG_RING). */
void wr__ring_msg(wr_ring *r, int target_fd, uint64_t payload, int32_t res, uint64_t ud);

/* Submit what is queued and wait for at least one completion or timeout_ns (< 0: forever,
 * 0: do not wait). Returns >= 0 or -errno (-ETIME/-EINTR are normal). */
int wr__ring_submit_wait(wr_ring *r, int64_t timeout_ns);
int wr__ring_submit(wr_ring *r);
/* Copy up to max completions out and advance the CQ once. */
unsigned wr__ring_reap(wr_ring *r, wr_cqe *out, unsigned max);

static inline bool wr__cqe_more(const wr_cqe *c) { return c->flags & (1U << 1); /* F_MORE */ }
static inline bool wr__cqe_has_buf(const wr_cqe *c) { return c->flags & (1U << 0); /* F_BUFFER */ }
static inline unsigned wr__cqe_buf_id(const wr_cqe *c) { return c->flags >> 16; }

uint8_t *wr__ring_buf(wr_ring *r, unsigned bid);
/* Give a receive buffer back to the kernel. */
void wr__ring_buf_recycle(wr_ring *r, unsigned bid);

#endif
