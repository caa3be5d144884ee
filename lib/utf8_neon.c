/* AArch64 UTF-8 validation with NEON. Empty on other architectures. */
#if defined(__aarch64__)
#include "utf8.h"

int wr__utf8_feed_neon(wr_utf8 *s, const uint8_t *p, size_t len)
{
	return wr__utf8_feed_scalar(s, p, len);
}
#else
typedef int wr_utf8_neon_empty; /* ISO C forbids an empty translation unit */
#endif
