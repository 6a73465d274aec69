/* tap.h: a tiny header-only TAP emitter for the C unit tests, run by prove. */
#ifndef PGR_TAP_H
#define PGR_TAP_H

/*
 * Usage, in a test's only translation unit:
 *
 *     #include "tap.h"
 *
 *     int
 *     main(void)
 *     {
 *         tap_plan(2);                      (optional: done_testing() prints
 *                                            the plan when none was given)
 *         ok(1 + 1 == 2, "addition");
 *         is_str(quote("a b"), "\"a b\"", "quotes %s", "a b");
 *         return done_testing();
 *     }
 *
 * Descriptions are printf formats.  ok(), is_int() and is_str() return whether
 * the check passed; a failure prints where it happened and, for is_*, what was
 * got and expected, on stderr as TAP diagnostics.  done_testing() returns the
 * process exit status: 0 when at least one test ran, every test passed and
 * the count matched the plan, else 1.  State is per translation unit: include
 * this from one file.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define TAP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TAP_PRINTF(fmt, args)
#endif

/* Printf-style descriptions are checked by the compiler. */
static inline bool tap_result(bool pass, const char *file, int line, const char *fmt, va_list ap)
	TAP_PRINTF(4, 0);
static inline void diag(const char *fmt, ...) TAP_PRINTF(1, 2);
static inline void note(const char *fmt, ...) TAP_PRINTF(1, 2);
static inline bool tap_ok_at(const char *file, int line, bool pass, const char *fmt, ...)
	TAP_PRINTF(4, 5);
static inline bool tap_is_int_at(const char *file, int line, long long got, long long expected,
								 const char *fmt, ...) TAP_PRINTF(5, 6);
static inline bool tap_is_str_at(const char *file, int line, const char *got, const char *expected,
								 const char *fmt, ...) TAP_PRINTF(5, 6);

struct tap_state
{
	int planned; /* -1 until tap_plan() */
	int run;
	int failed;
};

static inline struct tap_state *
tap_state(void)
{
	static struct tap_state state = {.planned = -1};

	return &state;
}

/* Prints "1..n"; call at most once, before or instead of done_testing(). */
static inline void
tap_plan(int n)
{
	tap_state()->planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

/* Plans no tests and exits successfully: prove reports the file as skipped. */
static inline void
tap_skip_all(const char *reason)
{
	printf("1..0 # SKIP %s\n", reason);
	fflush(stdout);
	exit(0);
}

/* A "# ..." line on stderr, which prove shows. */
static inline void
diag(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("# ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* A "# ..." line on stdout, which prove shows only in verbose mode. */
static inline void
note(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Prints one result line; '#' and newlines in the description are escaped. */
static inline bool
tap_result(bool pass, const char *file, int line, const char *fmt, va_list ap)
{
	struct tap_state *st = tap_state();
	char			  desc[512];

	vsnprintf(desc, sizeof(desc), fmt, ap);
	st->run++;
	if (!pass)
		st->failed++;
	printf("%sok %d - ", pass ? "" : "not ", st->run);
	for (const char *p = desc; *p; p++)
	{
		if (*p == '#')
			fputs("\\#", stdout);
		else if (*p == '\n' || *p == '\r')
			fputc(' ', stdout);
		else
			fputc(*p, stdout);
	}
	fputc('\n', stdout);
	fflush(stdout);
	if (!pass)
		diag("  Failed test '%s'\n#   at %s line %d.", desc, file, line);
	return pass;
}

static inline bool
tap_ok_at(const char *file, int line, bool pass, const char *fmt, ...)
{
	va_list ap;
	bool	result;

	va_start(ap, fmt);
	result = tap_result(pass, file, line, fmt, ap);
	va_end(ap);
	return result;
}

static inline bool
tap_is_int_at(const char *file, int line, long long got, long long expected, const char *fmt, ...)
{
	va_list ap;
	bool	result;

	va_start(ap, fmt);
	result = tap_result(got == expected, file, line, fmt, ap);
	va_end(ap);
	if (!result)
		diag("         got: %lld\n#     expected: %lld", got, expected);
	return result;
}

static inline bool
tap_is_str_at(const char *file, int line, const char *got, const char *expected, const char *fmt,
			  ...)
{
	va_list ap;
	bool	pass;
	bool	result;

	if (got == NULL || expected == NULL)
		pass = (got == expected);
	else
		pass = (strcmp(got, expected) == 0);
	va_start(ap, fmt);
	result = tap_result(pass, file, line, fmt, ap);
	va_end(ap);
	if (!result)
		diag("         got: %s%s%s\n#     expected: %s%s%s", got ? "'" : "", got ? got : "NULL",
			 got ? "'" : "", expected ? "'" : "", expected ? expected : "NULL",
			 expected ? "'" : "");
	return result;
}

/* Passes when COND is true. */
#define ok(cond, ...) tap_ok_at(__FILE__, __LINE__, (cond) ? true : false, __VA_ARGS__)
/* Passes when two integers (compared as long long) are equal. */
#define is_int(got, expected, ...) \
	tap_is_int_at(__FILE__, __LINE__, (long long) (got), (long long) (expected), __VA_ARGS__)
/* Passes when two strings are equal, or both NULL. */
#define is_str(got, expected, ...) tap_is_str_at(__FILE__, __LINE__, (got), (expected), __VA_ARGS__)

/*
 * Ends the test: prints the plan if none was given, reports a count that
 * differs from the plan, and returns the exit status for main().
 */
static inline int
done_testing(void)
{
	struct tap_state *st = tap_state();

	if (st->planned < 0)
	{
		printf("1..%d\n", st->run);
		st->planned = st->run;
	}
	fflush(stdout);
	if (st->run == 0)
	{
		diag("No tests run!");
		return 1;
	}
	if (st->run != st->planned)
		diag("Looks like you planned %d tests but ran %d.", st->planned, st->run);
	if (st->failed > 0)
		diag("Looks like you failed %d test%s of %d.", st->failed, st->failed == 1 ? "" : "s",
			 st->run);
	return (st->failed == 0 && st->run == st->planned) ? 0 : 1;
}

#endif /* PGR_TAP_H */
