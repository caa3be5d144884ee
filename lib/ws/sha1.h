/* SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept: not for security. */
#ifndef WR_LIB_SHA1_H
#define WR_LIB_SHA1_H
#include <stddef.h>
#include <stdint.h>
void wr__sha1(const void *data, size_t len, uint8_t out[20]);
#endif
