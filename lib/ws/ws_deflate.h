/* permessage-deflate on a WebSocket connection (both roles): what was negotiated, the
 * connection's zlib streams (made on first use) or the reactor's shared ones, inflating a
 * received message and compressing a sent one. */
#ifndef WR_LIB_WS_DEFLATE_CONN_H
#define WR_LIB_WS_DEFLATE_CONN_H

#include "deflate.h"
#include "ws.h"

typedef struct wr_ws_pmd {
	wr_zparams tx;         /* how we compress */
	wr_zparams rx;         /* how the peer compresses */
	bool shared;           /* our compressor is the reactor's (tx.nct is then set) */
	uint32_t threshold;    /* shorter messages go uncompressed */
	wr_zstream *txz, *rxz; /* own streams, on first use */
} wr_ws_pmd;

/* Turn permessage-deflate on for c with what was agreed; role from s. 0 or -ENOMEM. */
int wr__ws_pmd_start(wr_conn *c, wr_ws_state *s, const wr_pmd_params *p,
                     const wr_deflate_config *cfg);
void wr__ws_pmd_free(wr_conn *c, wr_ws_state *s);
/* A DATA event of a compressed message: inflate into msg (reset at the message's start).
 * 1 when the message is complete in msg, 0 when more is to come, or the close code to
 * fail with (1009 past max, 1007 bad text or undecodable data, 1011 out of memory). */
int wr__ws_pmd_recv(wr_conn *c, wr_ws_state *s, const wr_ws_event *ev, wr_buf *msg, size_t max);
/* Send a data message compressed when it is worth it: 1 when queued compressed, 0 when the
 * caller should send it as it is (below the threshold, or a window zlib cannot honour),
 * -ENOMEM. */
int wr__ws_pmd_send(wr_conn *c, wr_ws_state *s, wr_opcode op, const void *data, size_t len);
/* The parameters a pre-compressed (broadcast) frame must have for c: false when c sends f
 * uncompressed. Bytes sent around c's own compressor make it forget its context. */
bool wr__ws_pmd_frame_params(wr_conn *c, wr_ws_state *s, size_t len, wr_zparams *out);
/* Bytes zlib holds for c (0 when it holds none). */
size_t wr__ws_pmd_bytes(const wr_ws_state *s);

#endif
