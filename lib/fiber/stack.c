/* Fiber stacks: each its own mapping with a PROT_NONE guard page below the usable part (stacks
 * grow down), so that an overflow faults with SIGSEGV instead of writing over a neighbour.
 * Mapped with MAP_NORESERVE: an idle fiber costs only the pages it touched. Freed stacks are
 * kept (up to `keep`) for the next fiber: no system call per connection in the steady state. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fiber.h"

void wr__stack_pool_init(wr_stack_pool *p, size_t size, unsigned keep)
{
	p->page = (size_t)sysconf(_SC_PAGESIZE);
	p->size = (size + p->page - 1) / p->page * p->page;
	if (p->size < 4 * p->page)
		p->size = 4 * p->page;
	p->free = NULL;
	p->nfree = 0;
	p->cap = keep;
}

void wr__stack_pool_finish(wr_stack_pool *p)
{
	while (p->nfree)
		munmap(p->free[--p->nfree] - p->page, p->size + p->page);
	free(p->free);
	p->free = NULL;
}

uint8_t *wr__stack_get(wr_stack_pool *p)
{
	if (p->nfree)
		return p->free[--p->nfree];
	uint8_t *m = mmap(NULL, p->size + p->page, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m, p->page, PROT_NONE) < 0) {
		munmap(m, p->size + p->page);
		return NULL;
	}
	return m + p->page;
}

void wr__stack_put(wr_stack_pool *p, uint8_t *stack)
{
	if (!p->free && p->cap)
		p->free = malloc(p->cap * sizeof(*p->free));
	if (p->free && p->nfree < p->cap) {
		p->free[p->nfree++] = stack;
		return;
	}
	munmap(stack - p->page, p->size + p->page);
}
