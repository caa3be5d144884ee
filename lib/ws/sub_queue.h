/* A subscriber's queue of unsent publications: what pub/sub holds back for one connection
 * while its output is above the mark, in publication order, and what the slow-subscriber
 * policies act on (drop a subscription's oldest, take out the entry with the same key).
 *
 * A ring of (pointer, subscription) entries. Taking an entry out of the middle leaves a hole
 * (NULL) that pops skip; holes are squeezed out when they outnumber live entries, so a
 * conflated key updated a million times costs a bounded queue, not a million holes. The
 * queue never owns what its pointers point to: removals hand them back. Reactor thread only;
 * allocates only to grow (the slow path: a subscriber that does not keep up). */
#ifndef WR_LIB_SUB_QUEUE_H
#define WR_LIB_SUB_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct wr_subq_item {
	void *p;          /* NULL: a hole */
	uint32_t sub;     /* the subscription it came through */
} wr_subq_item;

typedef struct wr_subq {
	wr_subq_item *a;
	uint32_t cap;     /* a power of 2, or 0 */
	uint32_t head;
	uint32_t len;     /* entries from head, holes included */
	uint32_t live;
} wr_subq;

/* Append (p non-NULL). 0 or -ENOMEM. */
int wr__subq_push(wr_subq *q, void *p, uint32_t sub);
/* The oldest live entry, taken out; false when empty. */
bool wr__subq_pop(wr_subq *q, wr_subq_item *out);
/* Take out the oldest live entry of subscription sub: its pointer, or NULL. */
void *wr__subq_drop_oldest(wr_subq *q, uint32_t sub);
/* Take out the newest live entry for which same(p, ctx) holds: its pointer (*out_sub its
 * subscription), or NULL. */
void *wr__subq_take_if(wr_subq *q, bool (*same)(const void *p, const void *ctx),
                       const void *ctx, uint32_t *out_sub);
/* Take out every entry of subscription sub, handing each pointer to release. */
void wr__subq_remove_sub(wr_subq *q, uint32_t sub, void (*release)(void *p));
/* Hand every pointer to release (may be NULL) and free the ring. */
void wr__subq_finish(wr_subq *q, void (*release)(void *p));

#endif
