/* Intrusive doubly linked lists and container_of: one node per membership, no allocation. */
#ifndef WR_LIB_LIST_H
#define WR_LIB_LIST_H

#include <stddef.h>
#include <stdbool.h>

#define wr_container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

typedef struct wr_list {
	struct wr_list *prev, *next;
} wr_list;

static inline void wr_list_init(wr_list *l) { l->prev = l->next = l; }
static inline bool wr_list_empty(const wr_list *l) { return l->next == l; }
/* A node that was initialised or removed with wr_list_remove is "unlinked". */
static inline bool wr_list_linked(const wr_list *n) { return n->next != n && n->next != NULL; }

static inline void wr_list_insert_tail(wr_list *head, wr_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void wr_list_remove(wr_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

/* Move every node of src to dst (whose old contents are forgotten); src is left empty. */
static inline void wr_list_move_all(wr_list *dst, wr_list *src)
{
	if (wr_list_empty(src)) {
		wr_list_init(dst);
		return;
	}
	dst->next = src->next;
	dst->prev = src->prev;
	dst->next->prev = dst;
	dst->prev->next = dst;
	wr_list_init(src);
}

#define wr_list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
