/* How the x86 SIMD variants are compiled. Each *_x86.c file is built twice from the same
 * source:
 *  - natively, into libwring: <immintrin.h>, per-function target attributes, and the run-time
 *    choice in simd.c;
 *  - with WR_SIMD_EMULATE, against SIMDe's portable implementations of the same intrinsics
 *    (native aliases), into a test-only library whose entry points end in _emu. That copy runs
 *    on any CPU, so every variant is checked against the scalar reference on every machine,
 *    including the AVX-512 kernels on a CPU without AVX-512 (simd_emu.h).
 * Only the three kinds of difference live here: which header supplies the intrinsics, whether
 * a function carries a target attribute, and what the entry points are called. */
#ifndef WR_LIB_SIMD_X86_H
#define WR_LIB_SIMD_X86_H

#ifdef WR_SIMD_EMULATE
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include "simd_emu.h"
#include "simd_emu_shim.h"
/* Emulated code runs on the baseline ISA: no target attributes. */
#define WR_TARGET(isa)
#define WR_X86(name) name##_emu
#else
#include <immintrin.h>
#define WR_TARGET(isa) __attribute__((target(isa)))
#define WR_X86(name) name
#endif

#define WR_TARGET_SSE2 WR_TARGET("sse2")
#define WR_TARGET_AVX2 WR_TARGET("avx2")
#define WR_TARGET_AVX512 WR_TARGET("avx512f,avx512bw")

#endif
