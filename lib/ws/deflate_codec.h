/* permessage-deflate negotiation (RFC 7692 §5, §7.1): reading offers and answers from
 * Sec-WebSocket-Extensions values, choosing among offers, writing the offer and the answer.
 * Pure functions: no I/O, no allocation, no zlib. */
#ifndef WR_LIB_WS_DEFLATE_CODEC_H
#define WR_LIB_WS_DEFLATE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wring/common.h"

/* Room for any offer or answer we write, header name and CRLF included. */
#define WR_PMD_LINE_MAX 160u
/* Below this zlib cannot honour a window (a raw deflate stream asked for 8 bits gets 9):
 * a side limited to 8 bits decompresses fine but we never compress towards it. */
#define WR_PMD_MIN_DEFLATE_BITS 9

/* What a connection agreed on. The "bits" are the window each side compresses with (the
 * other side's decompressor needs at least that); nct: that side resets after each
 * message. */
typedef struct wr_pmd_params {
	uint8_t server_bits;
	uint8_t client_bits;
	bool server_nct;
	bool client_nct;
} wr_pmd_params;

/* One permessage-deflate element's parameters, as read. */
typedef struct wr_pmd_offer {
	bool server_nct;
	bool client_nct;
	uint8_t server_bits;  /* 0: absent */
	uint8_t client_bits;  /* 0: absent; WR_PMD_BITS_NOVALUE: present without a value */
} wr_pmd_offer;
#define WR_PMD_BITS_NOVALUE 0xff

/* Parse the parameters of one element (the text after "permessage-deflate", from its first
 * ';' or empty). 0, or -EBADMSG for an unknown parameter, a repeated one, a value where none
 * belongs or a window-bits value that is not 8..15 (token or quoted string; no leading
 * zero). */
int wr__pmd_parse_params(const char *p, size_t n, wr_pmd_offer *out);

/* Server (§5.1, §7.1): the first permessage-deflate element of the values[0..n) that is
 * well formed and that cfg can honour is accepted; malformed or unacceptable ones are
 * declined (skipped), other extensions are ignored. On acceptance returns 1, fills *out and
 * writes "Sec-WebSocket-Extensions: ...\r\n" to out_line (returned length in *out_len);
 * returns 0 when nothing is accepted. cfg is used with defaults filled in. */
int wr__pmd_server_accept(const wr_str *values, size_t n, const wr_deflate_config *cfg,
                          wr_pmd_params *out, char out_line[WR_PMD_LINE_MAX], size_t *out_len);

/* Client: the offer header line for cfg ("Sec-WebSocket-Extensions: ...\r\n"); its length. */
size_t wr__pmd_client_offer(const wr_deflate_config *cfg, char out[WR_PMD_LINE_MAX]);

/* Client (§5.1 end, §7.1): check the answer's extension values against what cfg offered.
 * 1 with *out when permessage-deflate was accepted, 0 when no extension was named, -EPROTO
 * when the connection must fail: an extension not offered, permessage-deflate twice, a
 * malformed parameter, client_max_window_bits we did not offer or server_max_window_bits
 * above what we asked. */
int wr__pmd_client_check(const wr_str *values, size_t n, const wr_deflate_config *cfg,
                         wr_pmd_params *out);

/* cfg's values with the defaults filled in (window bits 15, memLevel 8, level 6, threshold
 * 64; bits outside 9..15 taken as 15). */
wr_deflate_config wr__pmd_config(const wr_deflate_config *cfg);

#endif
