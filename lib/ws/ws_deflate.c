/* permessage-deflate on a connection. zlib state costs ~300 KiB per deflater at full window
 * and memLevel 8, ~44 KiB per inflater: streams are made on first use, sized by the
 * negotiated windows, and in the shared mode one deflater per reactor (and one inflater for
 * peers that keep no context) serves every connection. */
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "reactor.h"
#include "ws_deflate.h"
#include "ws_int.h"

#define SHARED_TX 4 /* distinct (bits, level, memLevel) kept per reactor */

/* What a reactor's connections share; touched only by its thread. */
typedef struct pmd_shared {
	wr_zstream *tx[SHARED_TX];
	wr_zstream *rx;      /* for whole messages of peers that keep no context */
	wr_buf scratch;      /* compressed bytes on their way into a frame */
} pmd_shared;

static void shared_free(void *p)
{
	pmd_shared *sh = p;
	for (int i = 0; i < SHARED_TX; i++)
		wr__z_free(sh->tx[i]);
	wr__z_free(sh->rx);
	wr__buf_free(&sh->scratch);
	free(sh);
}

static pmd_shared *shared_of(wr_conn *c)
{
	wr_reactor *r = c->r;
	if (!r->proto_shared) {
		pmd_shared *sh = calloc(1, sizeof(*sh));
		if (!sh)
			return NULL;
		r->proto_shared = sh;
		r->proto_shared_free = shared_free;
	}
	return r->proto_shared;
}

int wr__ws_pmd_start(wr_conn *c, wr_ws_state *s, const wr_pmd_params *p,
                     const wr_deflate_config *cfg_in)
{
	wr_deflate_config cfg = wr__pmd_config(cfg_in);
	wr_ws_pmd *pm = wr__conn_state_new(c, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	bool client = s->flags & WS_CLIENT;
	wr_zparams server = { p->server_bits, cfg.level, cfg.mem_level, p->server_nct };
	wr_zparams client_side = { p->client_bits, cfg.level, cfg.mem_level, p->client_nct };
	*pm = (wr_ws_pmd){
		.tx = client ? client_side : server,
		.rx = client ? server : client_side,
		.shared = cfg.shared,
		.threshold = cfg.threshold > UINT32_MAX ? UINT32_MAX : (uint32_t)cfg.threshold,
	};
	if (pm->shared)
		pm->tx.nct = true; /* negotiated so: a shared stream keeps nobody's context */
	s->pmd = pm;
	return 0;
}

void wr__ws_pmd_free(wr_conn *c, wr_ws_state *s)
{
	wr_ws_pmd *pm = s->pmd;
	if (!pm)
		return;
	wr__z_free(pm->txz);
	wr__z_free(pm->rxz);
	wr__conn_state_free(c, pm, sizeof(*pm));
	s->pmd = NULL;
}

size_t wr__ws_pmd_bytes(const wr_ws_state *s)
{
	return s->pmd ? sizeof(*s->pmd) + wr__z_bytes(s->pmd->txz) + wr__z_bytes(s->pmd->rxz) : 0;
}

static int close_code_for(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return WR_CLOSE_TOO_BIG;
	case -ENOMEM:
		return WR_CLOSE_INTERNAL_ERROR;
	default: /* -EILSEQ: not UTF-8; -EBADMSG: not deflate */
		return WR_CLOSE_INVALID_DATA;
	}
}

int wr__ws_pmd_recv(wr_conn *c, wr_ws_state *s, const wr_ws_event *ev, wr_buf *msg, size_t max)
{
	wr_ws_pmd *pm = s->pmd;
	wr_zstream *z;
	/* A whole message from a peer that keeps no context needs no stream of its own. */
	pmd_shared *sh = ev->msg_start && ev->msg_end && pm->rx.nct ? shared_of(c) : NULL;
	if (sh) {
		if (!sh->rx)
			sh->rx = wr__z_new(false, &(wr_zparams){ 15, 0, 0, true });
		z = sh->rx;
	} else {
		if (!pm->rxz)
			pm->rxz = wr__z_new(false, &pm->rx);
		z = pm->rxz;
	}
	if (!z)
		return WR_CLOSE_INTERNAL_ERROR;
	if (ev->msg_start) {
		msg->len = 0;
		wr__utf8_init(&s->parser.utf8); /* the parser left it to us for compressed text */
	}
	int rc = wr__z_inflate(z, ev->data, ev->len, ev->msg_end, msg, max,
	                       ev->opcode == WR_OP_TEXT ? &s->parser.utf8 : NULL);
	if (rc < 0) {
		wr__log("permessage-deflate: inflate: %s", wr_strerror(rc));
		return close_code_for(rc);
	}
	return ev->msg_end ? 1 : 0;
}

static wr_zstream *tx_stream(wr_conn *c, wr_ws_pmd *pm, pmd_shared *sh)
{
	if (!pm->shared) {
		if (!pm->txz)
			pm->txz = wr__z_new(true, &pm->tx);
		return pm->txz;
	}
	for (int i = 0; i < SHARED_TX; i++)
		if (sh->tx[i] && wr__z_matches(sh->tx[i], &pm->tx))
			return sh->tx[i];
	int slot = 0;
	while (slot < SHARED_TX - 1 && sh->tx[slot])
		slot++;
	wr__z_free(sh->tx[slot]);
	sh->tx[slot] = wr__z_new(true, &pm->tx);
	return sh->tx[slot];
}

int wr__ws_pmd_send(wr_conn *c, wr_ws_state *s, wr_opcode op, const void *data, size_t len)
{
	wr_ws_pmd *pm = s->pmd;
	if (len < pm->threshold || pm->tx.bits < WR_PMD_MIN_DEFLATE_BITS)
		return 0;
	pmd_shared *sh = shared_of(c);
	if (!sh)
		return -ENOMEM;
	wr_zstream *z = tx_stream(c, pm, sh);
	if (!z)
		return -ENOMEM;
	sh->scratch.len = 0;
	int rc = wr__z_compress(z, data, len, &sh->scratch);
	if (rc < 0)
		return rc == -EIO ? -ENOMEM : rc;
	rc = wr__ws_queue_frame_bits(c, s, op, true, true, sh->scratch.data, sh->scratch.len);
	sh->scratch.len = 0;
	wr__buf_trim(&sh->scratch, 256u << 10);
	return rc < 0 ? rc : 1;
}

bool wr__ws_pmd_frame_params(wr_conn *c, wr_ws_state *s, size_t len, wr_zparams *out)
{
	wr_ws_pmd *pm = s->pmd;
	if (!pm || len < pm->threshold || pm->tx.bits < WR_PMD_MIN_DEFLATE_BITS)
		return false;
	/* The peer's window will hold the frame's bytes, ours not: our next back-reference
	 * would point at the wrong bytes, so our stream starts afresh. */
	if (pm->txz && !pm->tx.nct)
		wr__z_reset(pm->txz);
	*out = pm->tx;
	return true;
}
