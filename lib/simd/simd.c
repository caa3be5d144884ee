/* SIMD variant selection: what the CPU supports, capped by WR_SIMD, decided once per process.
 * The decision is the only state here; it is written once under pthread_once and read-only
 * afterwards, so every thread sees the same variant. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "simd.h"

static const char *const simd_names[WR_SIMD_COUNT] = {
	[WR_SIMD_SCALAR] = "scalar",
	[WR_SIMD_SSE2] = "sse2",
	[WR_SIMD_AVX2] = "avx2",
	[WR_SIMD_AVX512] = "avx512",
	[WR_SIMD_NEON] = "neon",
};

static struct {
	pthread_once_t once;
	bool supported[WR_SIMD_COUNT];
	enum wr_simd active;
} simd = { .once = PTHREAD_ONCE_INIT };

static void detect(void)
{
	simd.supported[WR_SIMD_SCALAR] = true;
#if defined(__x86_64__)
	/* libgcc's cpu model also checks XCR0, so AVX state is known to be enabled by the OS. */
	__builtin_cpu_init();
	simd.supported[WR_SIMD_SSE2] = __builtin_cpu_supports("sse2");
	simd.supported[WR_SIMD_AVX2] = __builtin_cpu_supports("avx2");
	simd.supported[WR_SIMD_AVX512] = __builtin_cpu_supports("avx512f") &&
		__builtin_cpu_supports("avx512bw");
#elif defined(__aarch64__)
	simd.supported[WR_SIMD_NEON] = true; /* mandatory in AArch64 */
#endif
}

static void pick(void)
{
	detect();

	/* WR_SIMD caps the choice: variants are ordered by preference, so the cap is an index. An
	 * unknown value is ignored rather than failing: this is a tuning knob, not configuration. */
	int cap = WR_SIMD_COUNT - 1;
	const char *env = getenv("WR_SIMD");
	if (env) {
		for (int v = 0; v < WR_SIMD_COUNT; v++)
			if (strcmp(env, simd_names[v]) == 0)
				cap = v;
	}
	simd.active = WR_SIMD_SCALAR;
	for (int v = 0; v <= cap; v++)
		if (simd.supported[v])
			simd.active = (enum wr_simd)v;
}

static void simd_init(void)
{
	pthread_once(&simd.once, pick);
}

bool wr__simd_supported(enum wr_simd v)
{
	if ((unsigned)v >= WR_SIMD_COUNT)
		return false;
	simd_init();
	return simd.supported[v];
}

enum wr_simd wr__simd_active(void)
{
	simd_init();
	return simd.active;
}

const char *wr__simd_name(enum wr_simd v)
{
	if ((unsigned)v >= WR_SIMD_COUNT)
		return "unknown";
	return simd_names[v];
}
