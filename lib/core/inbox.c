/* The reactor's lock-free inbox (inbox.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "inbox.h"
#include "ring.h"
#include "ud.h"

/* ---- the sender's ring: MSG_RING needs a ring to send from, one per sending thread ---- */

static pthread_key_t ring_key;
static pthread_once_t ring_once = PTHREAD_ONCE_INIT;
static _Thread_local wr_ring *my_ring;

static void ring_dtor(void *p) { wr__ring_free(p); }
static void ring_key_make(void) { pthread_key_create(&ring_key, ring_dtor); }

static wr_ring *sender_ring(void)
{
	if (my_ring)
		return my_ring;
	pthread_once(&ring_once, ring_key_make);
	wr_ring_config pc = { .entries = 16, .buf_count = 0, .single_issuer = false };
	if (wr__ring_new(&pc, &my_ring) < 0)
		return NULL;
	pthread_setspecific(ring_key, my_ring); /* freed when the thread ends */
	return my_ring;
}

static int wake(wr_inbox *ib, wr_ring *via)
{
	if (via) {
		wr__ring_msg(via, ib->ring_fd, wr_ud(WR_OPK_INBOX, 0, 0), 0, wr_ud(WR_OPK_MSG_SENT, 0, 0));
		return 0;
	}
	wr_ring *ring = sender_ring();
	if (!ring)
		return -ENOMEM;
	wr__ring_msg(ring, ib->ring_fd, wr_ud(WR_OPK_INBOX, 0, 0), 0, wr_ud(WR_OPK_MSG_SENT, 0, 0));
	int rc = wr__ring_submit(ring);
	/* Reap our own completions (their results only matter as errors: a target ring gone is
	 * a stopped reactor, whose inbox is freed with it). */
	wr_cqe cqe[8];
	while (wr__ring_reap(ring, cqe, 8) > 0)
		;
	return rc < 0 ? rc : 0;
}

/* ---- the inbox ---- */

int wr__inbox_init(wr_inbox *ib, int ring_fd, unsigned slots)
{
	memset(ib, 0, sizeof(*ib));
	ib->ring_fd = ring_fd;
	ib->slots = slots;
	ib->live = calloc(slots, sizeof(*ib->live));
	ib->nodes = calloc(WR_INBOX_NODES, sizeof(*ib->nodes));
	/* Twice the nodes: a push can find its cell still held by a pop that has claimed it but
	 * not yet released it, and must not take that for a full queue (the free list would then
	 * lose a node). */
	if (!ib->live || !ib->nodes || wr__mpq_init(&ib->in, 2 * WR_INBOX_NODES) < 0 ||
	    wr__mpq_init(&ib->free, 2 * WR_INBOX_NODES) < 0) {
		wr__inbox_finish(ib);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < slots; i++)
		atomic_init(&ib->live[i], WR_LIVE_CLOSED);
	for (unsigned i = 0; i < WR_INBOX_NODES; i++)
		wr__mpq_push(&ib->free, &ib->nodes[i]);
	atomic_init(&ib->wake_pending, false);
	return 0;
}

static void node_release(wr_inbox_msg *m)
{
	if (m->heap_data)
		free(m->data);
	if (m->heap_node)
		free(m);
}

void wr__inbox_finish(wr_inbox *ib)
{
	if (ib->in.cells) {
		wr_inbox_msg *m;
		while ((m = wr__mpq_pop(&ib->in)))
			node_release(m);
	}
	wr__mpq_finish(&ib->in);
	wr__mpq_finish(&ib->free);
	free(ib->nodes);
	free(ib->live);
	memset(ib, 0, sizeof(*ib));
}

bool wr__inbox_is_live(const wr_inbox *ib, uint64_t ref)
{
	uint32_t slot = (uint32_t)ref;
	return slot < ib->slots &&
	       atomic_load_explicit(&ib->live[slot], memory_order_acquire) == (uint32_t)(ref >> 32);
}

void wr__inbox_publish(wr_inbox *ib, uint32_t slot, uint32_t gen, bool open)
{
	if (ib->live && slot < ib->slots)
		atomic_store_explicit(&ib->live[slot], open ? gen : WR_LIVE_CLOSED, memory_order_release);
}

static wr_inbox_msg *take_node(wr_inbox *ib)
{
	wr_inbox_msg *m = wr__mpq_pop(&ib->free);
	if (m) {
		m->heap_node = false;
		return m;
	}
	m = malloc(sizeof(*m)); /* more posts in flight than the pool: rare */
	if (m)
		m->heap_node = true;
	return m;
}

static int enqueue(wr_inbox *ib, wr_inbox_msg *m)
{
	if (!wr__mpq_push(&ib->in, m)) {
		/* Every cell is taken, by heap nodes beyond the pool: the reactor is far behind. */
		wr__inbox_done(ib, m);
		return -EAGAIN;
	}
	if (!atomic_exchange(&ib->wake_pending, true)) {
		int rc = wake(ib, NULL);
		if (rc < 0)
			atomic_store(&ib->wake_pending, false); /* the next post tries again */
		return rc;
	}
	return 0;
}

int wr__inbox_post(wr_inbox *ib, uint64_t ref, uint8_t kind, uint8_t op, uint16_t code,
                   const void *data, size_t len)
{
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	if (!wr__inbox_is_live(ib, ref))
		return -ESTALE;
	wr_inbox_msg *m = take_node(ib);
	if (!m)
		return -ENOMEM;
	m->ref = ref;
	m->kind = kind;
	m->op = op;
	m->code = code;
	m->len = (uint32_t)len;
	m->ptr = NULL;
	m->heap_data = len > WR_INBOX_INLINE;
	m->data = m->heap_data ? malloc(len) : m->inl;
	if (!m->data) {
		m->heap_data = false;
		wr__inbox_done(ib, m);
		return -ENOMEM;
	}
	if (len)
		memcpy(m->data, data, len);
	return enqueue(ib, m);
}

int wr__inbox_post_ptr(wr_inbox *ib, uint8_t kind, void *ptr, wr_ring *via)
{
	wr_inbox_msg *m = take_node(ib);
	if (!m)
		return -ENOMEM;
	m->ref = WR_INBOX_REACTOR;
	m->kind = kind;
	m->op = 0;
	m->code = 0;
	m->len = 0;
	m->heap_data = false;
	m->data = m->inl;
	m->ptr = ptr;
	if (!wr__mpq_push(&ib->in, m)) {
		wr__inbox_done(ib, m);
		return -EAGAIN; /* ptr is still the caller's */
	}
	/* Queued: from here on ptr is the reactor's, whatever the wake-up does. */
	if (atomic_exchange(&ib->wake_pending, true))
		return 0;
	if (wake(ib, via) < 0) {
		atomic_store(&ib->wake_pending, false); /* the next post tries again */
		return 0;
	}
	return 1;
}

void wr__inbox_woken(wr_inbox *ib)
{
	/* Cleared before draining: a post queued after the drain sees false and wakes again. */
	atomic_store(&ib->wake_pending, false);
}

wr_inbox_msg *wr__inbox_take(wr_inbox *ib) { return wr__mpq_pop(&ib->in); }

void wr__inbox_done(wr_inbox *ib, wr_inbox_msg *m)
{
	if (m->heap_data) {
		free(m->data);
		m->heap_data = false;
	}
	if (m->heap_node)
		free(m);
	else
		wr__mpq_push(&ib->free, m); /* room for every pool node, and as many again */
}
