/* Every runnable copy of every SIMD variant of a kernel, for the differential tests: the
 * native variant where this CPU runs it, and the SIMDe-compiled copy of each x86 variant on
 * any CPU (lib/simd_emu.h). A variant that neither runs natively nor has an emulated copy
 * here is "not run"; tests/run turns that into a failure for x86 variants.
 *
 * With WR_SIMD_EMU=missing, an emulated copy is listed only when the native one cannot run (the
 * sanitizer build does this, for time). With WR_SIMD_REPORT set to a file, each listing appends "kernel variant mode" lines to it,
 * from which tests/run prints the per-kernel, per-variant table. */
#ifndef WR_TESTS_SIMD_COPIES_H
#define WR_TESTS_SIMD_COPIES_H

#include <stdbool.h>
#include "http_scan.h"
#include "simd.h"
#include "utf8.h"

enum tv_kernel { TV_UNMASK, TV_UTF8, TV_SCAN_VALUE, TV_SCAN_TARGET, TV_KERNELS };

union tv_fn {
	wr_unmask_fn unmask;
	wr_utf8_fn utf8;
	wr_http_scan_fn scan;
};

struct tv_copy {
	enum wr_simd v;
	bool emulated;
	union tv_fn fn;
	char label[24]; /* "avx512" or "avx512/emu", for failure messages */
};

#define TV_MAX_COPIES (2 * WR_SIMD_COUNT)

/* Fills out[] with the copies of kernel k, the scalar reference first, and returns how many. */
size_t tv_copies(enum tv_kernel k, struct tv_copy out[TV_MAX_COPIES]);
/* The copies of one variant only (native and/or emulated); 0 when it cannot run here. */
size_t tv_variant_copies(enum tv_kernel k, enum wr_simd v, struct tv_copy out[2]);
const char *tv_kernel_name(enum tv_kernel k);

#endif
