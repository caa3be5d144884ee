/* libFuzzer: every UTF-8 validator this CPU runs against the scalar reference, whole and fed in
 * two pieces at a fuzzer-chosen split. */
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int verdict(wr_utf8_fn fn, const uint8_t *p, size_t n, size_t split)
{
	wr_utf8 s;
	wr__utf8_init(&s);
	if (fn(&s, p, split) < 0 || fn(&s, p + split, n - split) < 0)
		return -1;
	return wr__utf8_finish(&s) < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t n = size - 1, split = data[0] % (n + 1);
	uint8_t *p = malloc(n ? n : 1);
	memcpy(p, data + 1, n);
	int ref = verdict(wr__utf8_impl(WR_SIMD_SCALAR), p, n, 0);
	for (int v = 0; v < WR_SIMD_COUNT; v++) {
		wr_utf8_fn fn = wr__utf8_impl((enum wr_simd)v);
		if (!fn)
			continue;
		if (verdict(fn, p, n, 0) != ref || verdict(fn, p, n, split) != ref)
			abort();
	}
	free(p);
	return 0;
}
