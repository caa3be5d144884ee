/* The few Criterion macros the handle test uses, for a build where Criterion cannot run:
 * under ThreadSanitizer its inter-process arena fails to map ("Could not initialize
 * inheritable arena"). Tests run in order in one process and print TAP; a failed assertion
 * ends the process. */
#ifndef WR_TESTS_TAP_SHIM_H
#define WR_TESTS_TAP_SHIM_H

#include <stdio.h>
#include <stdlib.h>

void tap_register(const char *name, void (*fn)(void));
void tap_fail(const char *file, int line, const char *what);
/* The same, with the two sides of a failed equality (as integers: the shim's tests compare
 * counts, return codes and pointers). */
void tap_fail_eq(const char *file, int line, const char *what, long long a, long long b);

#define cr_assert(cond, ...) \
	do { \
		if (!(cond)) \
			tap_fail(__FILE__, __LINE__, #cond); \
	} while (0)
#define cr_assert_eq(a, b, ...) \
	do { \
		long long a_ = (long long)(a), b_ = (long long)(b); \
		if (a_ != b_) \
			tap_fail_eq(__FILE__, __LINE__, #a " == " #b, a_, b_); \
	} while (0)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b))
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b))
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b))
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b))
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b))
#define cr_assert_not_null(a, ...) cr_assert((a) != NULL)

#define Test(suite, name, ...) \
	static void suite##_##name(void); \
	__attribute__((constructor)) static void reg_##suite##_##name(void) \
	{ \
		tap_register(#suite "::" #name, suite##_##name); \
	} \
	static void suite##_##name(void)

#endif
