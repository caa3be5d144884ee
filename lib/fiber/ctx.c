/* A new fiber's first frame, laid out so that wr__fiber_switch "returns" into
 * wr__fiber_entry, which calls fn(arg) with the stack aligned as the ABI wants at a call. */
#include <stdint.h>
#include <string.h>

#include "fiber.h"

void wr__fiber_entry(void);

void *wr__fiber_ctx_make(uint8_t *top, void (*fn)(void *), void *arg)
{
	uintptr_t a = (uintptr_t)top & ~(uintptr_t)15;
#if defined(__x86_64__)
	/* Popped in this order: r15 r14 r13 r12 rbx rbp, then ret. After the ret rsp is `a`,
	 * 16-aligned, so the call in wr__fiber_entry meets the ABI. */
	a -= 16;
	uint64_t *f = (uint64_t *)(a - 7 * 8);
	memset(f, 0, 7 * 8);
	f[2] = (uint64_t)(uintptr_t)fn;   /* r13 */
	f[3] = (uint64_t)(uintptr_t)arg;  /* r12 */
	f[6] = (uint64_t)(uintptr_t)wr__fiber_entry;
	return f;
#elif defined(__aarch64__)
	/* The 160-byte frame of switch_aarch64.S: x19 x20 ... x29 x30 d8 ... d15. */
	uint64_t *f = (uint64_t *)(a - 160);
	memset(f, 0, 160);
	f[0] = (uint64_t)(uintptr_t)arg;  /* x19 */
	f[1] = (uint64_t)(uintptr_t)fn;   /* x20 */
	f[11] = (uint64_t)(uintptr_t)wr__fiber_entry; /* x30 */
	return f;
#else
#error "fibers need a context switch for this architecture (lib/fiber/switch_*.S)"
#endif
}
