/* A switch pair (into a fiber and back) with wring's own switch (lib/fiber/switch_*.S) and
 * with boost.context's fcontext (jump_fcontext, C linkage in libboost_context), on the same
 * machine, same loop. Prints ns per pair for each. Usage: fiber_switch_bench [pairs] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fiber.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *main_sp, *fib_sp;

static void wr_body(void *arg)
{
	for (;;)
		wr__fiber_switch(&fib_sp, main_sp);
}

#ifdef HAVE_FCONTEXT
/* boost/context/detail/fcontext.hpp, declared here for C. */
typedef void *fcontext_t;
typedef struct { fcontext_t fctx; void *data; } transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

static void fc_body(transfer_t t)
{
	for (;;)
		t = jump_fcontext(t.fctx, NULL);
}
#endif

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 20000000;
	wr_stack_pool pool;
	wr__stack_pool_init(&pool, 64 * 1024, 2);
	uint8_t *st = wr__stack_get(&pool);
	fib_sp = wr__fiber_ctx_make(st + pool.size, wr_body, NULL);
	for (int round = 0; round < 3; round++) {
		uint64_t t0 = now_ns();
		for (long i = 0; i < pairs; i++)
			wr__fiber_switch(&main_sp, fib_sp);
		double wr_ns = (double)(now_ns() - t0) / (double)pairs;
#ifdef HAVE_FCONTEXT
		uint8_t *st2 = wr__stack_get(&pool);
		fcontext_t fc = make_fcontext(st2 + pool.size, pool.size, fc_body);
		t0 = now_ns();
		for (long i = 0; i < pairs; i++)
			fc = jump_fcontext(fc, NULL).fctx;
		double fc_ns = (double)(now_ns() - t0) / (double)pairs;
		printf("switch pair: wring asm %.2f ns, boost fcontext %.2f ns\n", wr_ns, fc_ns);
#else
		printf("switch pair: wring asm %.2f ns (fcontext not found)\n", wr_ns);
#endif
	}
	return 0;
}
