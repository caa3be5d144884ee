/* libFuzzer: every copy of every UTF-8 validator (native where this CPU runs it, and the SIMDe
 * copy of each x86 variant) against the scalar DFA on arbitrary bytes, whole and fed in two
 * pieces at a fuzzer-chosen split. Random bytes mostly test short and invalid input;
 * fuzz_utf8_struct builds the long valid texts. Input: split byte, then the text. */
#include "utf8_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t n = size - 1, split = data[0] % (n + 1);
	u8d_check("fuzz_utf8", data + 1, n, &split, 1);
	return 0;
}
