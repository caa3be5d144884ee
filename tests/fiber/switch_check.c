/* The context switch on its own, for any architecture it is built for (natively in the unit
 * suite, for aarch64 under qemu-user by run-aarch64.sh): values in callee-saved integer and
 * floating-point registers survive switches both ways, a new fiber starts with the stack
 * aligned as the ABI wants (printf of a double uses aligned vector stores on x86-64), and a
 * guarded stack is usable to its end. Prints TAP. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fiber.h"

static void *main_sp, *fib_sp;
static volatile long shared;

static void body(void *arg)
{
	/* Locals kept across switches live in callee-saved registers at -O2. */
	long a = (long)(intptr_t)arg, b = a * 3, c = a * 5, d = a * 7;
	double x = 1.5, y = 2.25;
	for (int i = 0; i < 1000; i++) {
		shared = a + b + c + d + i;
		x += 0.5;
		y *= 1.0;
		wr__fiber_switch(&fib_sp, main_sp);
	}
	char buf[64];
	snprintf(buf, sizeof(buf), "%.2f %.2f %ld", x, y, a + b + c + d);
	shared = strcmp(buf, "501.50 2.25 16000") == 0 ? -1 : -2;
	wr__fiber_switch(&fib_sp, main_sp);
}

int main(void)
{
	wr_stack_pool pool;
	wr__stack_pool_init(&pool, 64 * 1024, 4);
	uint8_t *stack = wr__stack_get(&pool);
	int n = 0, ok = 1;
	printf("%s %d - guarded stack mapped\n", stack ? "ok" : "not ok", ++n);
	if (!stack)
		return 1;
	memset(stack, 0xa5, pool.size); /* usable to its last byte */
	fib_sp = wr__fiber_ctx_make(stack + pool.size, body, (void *)(intptr_t)1000);
	long m1 = 11, m2 = 22, m3 = 33;
	double mx = 0.125;
	for (int i = 0; i < 1000; i++) {
		wr__fiber_switch(&main_sp, fib_sp);
		if (shared != 16000 + i)
			ok = 0;
		m1 += 1; m2 += 2; m3 += 3; mx *= 1.0;
	}
	printf("%s %d - values cross 2000 switches\n", ok ? "ok" : "not ok", ++n);
	wr__fiber_switch(&main_sp, fib_sp);
	printf("%s %d - fiber's callee-saved registers and aligned calls\n",
	       shared == -1 ? "ok" : "not ok", ++n);
	printf("%s %d - caller's callee-saved registers\n",
	       m1 == 1011 && m2 == 2022 && m3 == 3033 && mx == 0.125 ? "ok" : "not ok", ++n);
	wr__stack_put(&pool, stack);
	wr__stack_pool_finish(&pool);
	printf("1..%d\n", n);
	return 0;
}
