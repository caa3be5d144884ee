/* The x86 variants compiled a second time against SIMDe (simd_x86.h), for the tests and the
 * fuzzers only: they are not part of libwring. They run on any CPU, at emulation speed, and
 * give the same results as the native variants by construction -- same source, same
 * intrinsics -- so checking them against the scalar reference checks the kernels' logic on a
 * machine that cannot run them natively. */
#ifndef WR_LIB_SIMD_EMU_H
#define WR_LIB_SIMD_EMU_H

#include "http_scan.h"
#include "simd.h"
#include "utf8.h"

/* The emulated copy of an x86 variant (SSE2, AVX2, AVX-512); NULL for the others. */
wr_unmask_fn wr__unmask_emu_impl(enum wr_simd v);
wr_utf8_fn wr__utf8_emu_impl(enum wr_simd v);
wr_http_scan_fn wr__http_scan_value_emu_impl(enum wr_simd v);
wr_http_scan_fn wr__http_scan_target_emu_impl(enum wr_simd v);

void wr__unmask_sse2_emu(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);
void wr__unmask_avx2_emu(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);
void wr__unmask_avx512_emu(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase);
int wr__utf8_feed_sse2_emu(wr_utf8 *s, const uint8_t *p, size_t len);
int wr__utf8_feed_avx2_emu(wr_utf8 *s, const uint8_t *p, size_t len);
int wr__utf8_feed_avx512_emu(wr_utf8 *s, const uint8_t *p, size_t len);
size_t wr__http_scan_value_sse2_emu(const char *p, size_t n);
size_t wr__http_scan_value_avx2_emu(const char *p, size_t n);
size_t wr__http_scan_value_avx512_emu(const char *p, size_t n);
size_t wr__http_scan_target_sse2_emu(const char *p, size_t n);
size_t wr__http_scan_target_avx2_emu(const char *p, size_t n);
size_t wr__http_scan_target_avx512_emu(const char *p, size_t n);

#endif
