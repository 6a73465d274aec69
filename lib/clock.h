/*
 * clock.h: the monotonic clock that every duration is measured on, and a
 * sleep that an interrupt or the wait hook ends early.
 */
#ifndef PGR_CLOCK_H
#define PGR_CLOCK_H

#include <stdbool.h>

/* Monotonic clock in seconds. */
double pgr_now(void);

/*
 * Sleeps for ms milliseconds unless interrupted (pgr_interrupted), calling
 * the wait hook (see conn_set_wait_hook) about every 100 ms; returns early
 * when the hook says stop.
 */
void   pgr_sleep_ms(double ms);

/*
 * Whether deadline (a pgr_now() value; 0: none) has passed.  A test build
 * also says yes once the file PGR_TEST_DEADLINE_PASSED names exists, so
 * that a test makes the deadline pass at a point of its choosing.
 */
bool   pgr_deadline_passed(double deadline);

#endif /* PGR_CLOCK_H */
