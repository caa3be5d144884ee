/* The runner of tap_shim.h: every registered test in order, TAP on stdout. */
#include <stdio.h>
#include <stdlib.h>

#include "tap_shim.h"

#define MAX_TESTS 32
struct tap_test {
	const char *name;
	void (*fn)(void);
};
static struct tap_test tests[MAX_TESTS];
static int ntests, current;

void tap_register(const char *name, void (*fn)(void))
{
	if (ntests < MAX_TESTS)
		tests[ntests++] = (struct tap_test){ name, fn };
}

void tap_fail(const char *file, int line, const char *what)
{
	printf("not ok %d - %s\n# %s:%d: %s\n1..%d\n", current + 1, tests[current].name, file,
	       line, what, ntests);
	fflush(stdout);
	exit(1);
}

int main(void)
{
	for (current = 0; current < ntests; current++) {
		tests[current].fn();
		printf("ok %d - %s\n", current + 1, tests[current].name);
		fflush(stdout);
	}
	printf("1..%d\n", ntests);
	return 0;
}
