/* The runner of tap_shim.h: every registered test in order, TAP on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void tap_fail_eq(const char *file, int line, const char *what, long long a, long long b)
{
	char why[512];
	snprintf(why, sizeof(why), "%s (%lld, %lld)", what, a, b);
	tap_fail(file, line, why);
}

int main(void)
{
	/* TAP_ONLY=name runs the tests whose name contains it (the others are reported skipped):
	 * for repeating one test under load. */
	const char *only = getenv("TAP_ONLY");
	for (current = 0; current < ntests; current++) {
		if (only && *only && !strstr(tests[current].name, only)) {
			printf("ok %d - %s # SKIP not in TAP_ONLY\n", current + 1, tests[current].name);
			continue;
		}
		tests[current].fn();
		printf("ok %d - %s\n", current + 1, tests[current].name);
		fflush(stdout);
	}
	printf("1..%d\n", ntests);
	return 0;
}
