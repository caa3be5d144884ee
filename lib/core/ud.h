/* Packing of io_uring user_data: [op:8][generation:24][connection index:32]. A completion whose
 * generation no longer matches its slot belongs to a connection that was freed and reused: it
 * is detected and dropped, never dereferenced. OP_POST carries a heap pointer instead. */
#ifndef WR_LIB_UD_H
#define WR_LIB_UD_H

#include <stdint.h>

enum wr_op {
	WR_OP_NONE,
	WR_OPK_ACCEPT,
	WR_OPK_RECV,
	WR_OPK_SEND,
	WR_OPK_CANCEL,
	WR_OPK_CONNECT,
	WR_OPK_WAKE,     /* eventfd read: stop requests */
	WR_OPK_POST,     /* MSG_RING from another thread: payload is a wr_post pointer */
	WR_OPK_MSG_SENT, /* our side of a MSG_RING */
	WR_OPK_INBOX,    /* MSG_RING from a sender: the reactor's inbox has posts (inbox.h) */
	WR_OPK_RECV_INTO,/* a sized receive into the protocol's memory (wr__conn_want_direct) */
	WR_OPK_SEND_ZC,  /* a zero-copy send: its completion, then its notification */
};

#define WR_UD_GEN_MASK 0xffffffu

static inline uint64_t wr_ud(enum wr_op op, uint32_t gen, uint32_t idx)
{
	return ((uint64_t)op << 56) | ((uint64_t)(gen & WR_UD_GEN_MASK) << 32) | idx;
}
static inline enum wr_op wr_ud_op(uint64_t ud) { return (enum wr_op)(ud >> 56); }
static inline uint32_t wr_ud_gen(uint64_t ud) { return (uint32_t)(ud >> 32) & WR_UD_GEN_MASK; }
static inline uint32_t wr_ud_idx(uint64_t ud) { return (uint32_t)ud; }
/* Pointers are 48-bit on the platforms we run on. */
static inline uint64_t wr_ud_ptr(enum wr_op op, const void *p)
{
	return ((uint64_t)op << 56) | ((uintptr_t)p & 0x00ffffffffffffffull);
}
static inline void *wr_ud_get_ptr(uint64_t ud) { return (void *)(uintptr_t)(ud & 0x00ffffffffffffffull); }

#endif
