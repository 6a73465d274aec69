/*
 * test_hooks.h: pauses that let the tests make a phase last long enough for
 * concurrent writes to overlap it.
 */
#ifndef PGR_TEST_HOOKS_H
#define PGR_TEST_HOOKS_H

/*
 * When the environment variable PGR_TEST_SLEEP_<POINT> holds a number of
 * milliseconds, sleeps that long at the named point, after printing
 * "pg_rebuild: test: pausing at <POINT>" on stderr (a marker the tests wait
 * for).  With PGR_TEST_SLEEP_<POINT>_TIMES=n, only the first n times.
 */
void		pgr_test_pause(const char *point);

#endif							/* PGR_TEST_HOOKS_H */
