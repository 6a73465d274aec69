/*
 * clock.h: the monotonic clock that every duration is measured on, and a
 * sleep that an interrupt or the wait hook ends early.
 */
#ifndef PGR_CLOCK_H
#define PGR_CLOCK_H

/* Monotonic clock in seconds. */
double pgr_now(void);

/*
 * Sleeps for ms milliseconds unless interrupted (pgr_interrupted), calling
 * the wait hook (see conn_set_wait_hook) about every 100 ms; returns early
 * when the hook says stop.
 */
void   pgr_sleep_ms(double ms);

#endif /* PGR_CLOCK_H */
