/*
 * backoff.h: exponential backoff with decorrelated jitter, pure arithmetic.
 *
 * Each wait is drawn uniformly from [base, 3 * previous wait], capped, so
 * that many clients retrying against the same lock spread out instead of
 * arriving in waves.  The random source is a small seeded generator so tests
 * can replay a sequence.
 */
#ifndef PGR_BACKOFF_H
#define PGR_BACKOFF_H

#include <stdint.h>

typedef struct Backoff
{
	double	 base_ms;  /* smallest wait */
	double	 cap_ms;   /* largest wait */
	double	 prev_ms;  /* previous wait (base before the first) */
	uint64_t state;	   /* generator state, never 0 */
	int		 attempts; /* waits handed out so far */
} Backoff;

void   backoff_init(Backoff *b, double base_ms, double cap_ms, uint64_t seed);
/* The next wait in milliseconds, within [base_ms, cap_ms]. */
double backoff_next(Backoff *b);
/*
 * The wait to actually sleep given the time left before a deadline: never
 * more than what remains, never negative.
 */
double backoff_clamp(double wait_ms, double remaining_ms);
/* A uniform double in [0, 1) from the generator. */
double backoff_random(Backoff *b);

#endif /* PGR_BACKOFF_H */
