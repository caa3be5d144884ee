/* Pub/sub topic names and patterns: what is valid, what matches, and the hash every index
 * uses. Pure functions (a codec): no I/O, no allocation.
 *
 * A name is 1..WR_TOPIC_MAX bytes, none of them NUL or '*'. A pattern is a name, or a prefix
 * ending in '.' followed by '*' ("prices.*": every name that begins with "prices." and goes on,
 * at any depth, "prices.eu.btc" included, "prices" not), or "*" alone (every name). */
#ifndef WR_LIB_TOPIC_H
#define WR_LIB_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WR_TOPIC_MAX 255u

enum { WR_TOPIC_EXACT = 0, WR_TOPIC_WILD = 1 };

/* WR_TOPIC_EXACT for a name, WR_TOPIC_WILD for a wildcard pattern (only when patterns are
 * allowed), -EINVAL otherwise. */
int wr__topic_check(const char *s, size_t n, bool patterns);
/* Does name t[0..tn) match pattern p[0..pn) (both valid)? */
bool wr__topic_match(const char *p, size_t pn, const char *t, size_t tn);

/* FNV-1a, 64 bits: hash(a then b) == step(step(seed, a), b), so the index can hash every
 * "prefix.*" of a name in one pass over it. */
#define WR_TOPIC_SEED 0xcbf29ce484222325ull
static inline uint64_t wr__topic_hash_step(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}
static inline uint64_t wr__topic_hash(const void *p, size_t n)
{
	return wr__topic_hash_step(WR_TOPIC_SEED, p, n);
}

#endif
