/*
 * test_hooks.h: pauses and settings that let the tests make a phase last
 * long enough for concurrent writes to overlap it.
 *
 * They exist only in a test build (./configure --enable-test-hooks, which
 * defines PGR_TEST_HOOKS); in any other build the calls compile to nothing
 * and no PGR_TEST_* variable is read.
 */
#ifndef PGR_TEST_HOOKS_H
#define PGR_TEST_HOOKS_H

#include <stdbool.h>

#ifdef PGR_TEST_HOOKS

/*
 * When the environment variable PGR_TEST_SLEEP_<POINT> holds a number of
 * milliseconds, sleeps that long at the named point, after printing
 * "pg_rebuild: test: pausing at <POINT>" on stderr (a marker the tests wait
 * for).  With PGR_TEST_SLEEP_<POINT>_TIMES=n, only the first n times.  With
 * PGR_TEST_WAIT_<POINT>=FILE it waits instead until FILE exists, so that a
 * test acts on the paused run and then lets it go on (no time window).
 */
void	  pgr_test_pause(const char *point);

/* The value of PGR_TEST_<NAME> as a number; 0 when unset or not a number. */
long long pgr_test_setting(const char *name);

/* True when PGR_TEST_<NAME> names a file that exists (an event a test makes). */
bool	  pgr_test_flag(const char *name);

#else

#define pgr_test_pause(point)  ((void) 0)
#define pgr_test_setting(name) 0LL
#define pgr_test_flag(name)	   false

#endif /* PGR_TEST_HOOKS */

#endif /* PGR_TEST_HOOKS_H */
