/* Base64 (RFC 4648 §4, padded). */
#ifndef WR_LIB_BASE64_H
#define WR_LIB_BASE64_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
/* Writes 4*ceil(len/3) chars plus a NUL into out; returns the chars written (without NUL). */
size_t wr__base64_encode(const uint8_t *in, size_t len, char *out);
/* Strict decode (padding required, no whitespace): bytes written, -EBADMSG on any defect,
 * -ENOSPC if cap is too small. */
ssize_t wr__base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);
#endif
