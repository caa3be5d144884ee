/* Masking keys and handshake nonces: xorshift64* seeded from getrandom(2). RFC 6455 §10.3 asks
 * for keys a script in a browser's origin cannot predict, not for cryptographic strength; this
 * costs a few cycles per frame. The state lives with its owner (connection, client): no
 * shared generator. */
#ifndef WR_LIB_RAND_H
#define WR_LIB_RAND_H

#include <stdint.h>
#include <sys/random.h>

#include "clock.h"

static inline uint64_t wr__rand_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* A non-zero seed from the kernel (the clock and salt only if getrandom fails). */
static inline uint64_t wr__rand_seed(uint64_t salt)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof(s), 0) != sizeof(s))
		s = wr__now_ns() * 0x9E3779B97F4A7C15ull ^ salt;
	return s | 1; /* xorshift state must not be 0 */
}

#endif
