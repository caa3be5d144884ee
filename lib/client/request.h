/* The client's opening handshake request (RFC 6455 §4.1), shared by the blocking and the
 * async client. */
#ifndef WR_LIB_CLIENT_REQUEST_H
#define WR_LIB_CLIENT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "url.h"
#include "wring/client.h"
#include "ws_codec.h"

/* The upgrade request for u up to (not including) the key line, appended to *out, and
 * NULL-terminated copies of the offered subprotocols into *out_protocols (NULL when none).
 * Validates extra headers (a colon, no CR/LF) and protocol tokens: -EINVAL. */
int wr__client_request(const wr_url *u, const wr_client_options *o, wr_buf *out,
                       char ***out_protocols);
void wr__client_protocols_free(char **protos);
/* The frames one message may come in, as the options ask and the parser counts (0: any). */
static inline uint32_t wr__client_max_frames(const wr_client_options *o)
{
	unsigned n = o ? o->max_message_frames : 0;
	return n == -1u ? 0 : n ? n : WR_WS_DEFAULT_MAX_FRAMES;
}
/* "Sec-WebSocket-Key: <24>\r\n\r\n" with a fresh nonce from rng; fills the expected accept.
 * Returns the line's length. */
size_t wr__client_key(uint64_t *rng, char key_line[64], char accept[29]);

#endif
