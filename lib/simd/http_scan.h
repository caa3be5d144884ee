/* HTTP scanner: the character-class runs of RFC 9110/9112 that the head parser checks, with a
 * scalar reference and SIMD variants behind one dispatch point (simd.c picks the variant once).
 * Each function returns the length of the longest prefix of p[0..n) made only of bytes of its
 * class, so p[result] (when result < n) is the first byte that is not. No byte at or past
 * p + n is ever read, at any alignment. The per-variant entry points are exposed so tests can
 * check each one against the scalar reference. */
#ifndef WR_LIB_HTTP_SCAN_H
#define WR_LIB_HTTP_SCAN_H

#include <stddef.h>
#include "simd.h"

/* field-value bytes (RFC 9110 §5.5): HTAB, SP, VCHAR and obs-text, i.e. HTAB or 0x20..0xff
 * except DEL. The first byte outside is a CR, an LF, another CTL or DEL. */
static inline bool wr__http_is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* request-target bytes as the request line takes them: 0x21..0xff except DEL (no SP, no CTL,
 * no HTAB). The scan stops at the SP before the version or at the first bad byte. */
static inline bool wr__http_is_target_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

typedef size_t (*wr_http_scan_fn)(const char *p, size_t n);

size_t wr__http_scan_value(const char *p, size_t n);
size_t wr__http_scan_target(const char *p, size_t n);
/* NULL when v is not supported here. */
wr_http_scan_fn wr__http_scan_value_impl(enum wr_simd v);
wr_http_scan_fn wr__http_scan_target_impl(enum wr_simd v);

/* Per-variant entry points, defined in http_scan*.c; those of a variant not compiled for this
 * architecture do not exist, so go through the _impl() functions. */
size_t wr__http_scan_value_scalar(const char *p, size_t n);
size_t wr__http_scan_value_sse2(const char *p, size_t n);
size_t wr__http_scan_value_avx2(const char *p, size_t n);
size_t wr__http_scan_value_avx512(const char *p, size_t n);
size_t wr__http_scan_value_neon(const char *p, size_t n);
size_t wr__http_scan_target_scalar(const char *p, size_t n);
size_t wr__http_scan_target_sse2(const char *p, size_t n);
size_t wr__http_scan_target_avx2(const char *p, size_t n);
size_t wr__http_scan_target_avx512(const char *p, size_t n);
size_t wr__http_scan_target_neon(const char *p, size_t n);

#endif
