/* backoff.c: capped exponential backoff with decorrelated jitter. */
#include "backoff.h"

void
backoff_init(Backoff *b, double base_ms, double cap_ms, uint64_t seed)
{
	if (base_ms < 1)
		base_ms = 1;
	if (cap_ms < base_ms)
		cap_ms = base_ms;
	b->base_ms = base_ms;
	b->cap_ms = cap_ms;
	b->prev_ms = base_ms;
	b->state = seed ? seed : 0x9E3779B97F4A7C15ULL;
	b->attempts = 0;
}

double
backoff_random(Backoff *b)
{
	/* xorshift64* */
	uint64_t x = b->state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->state = x;
	return (double) ((x * 0x2545F4914F6CDD1DULL) >> 11) / (double) (1ULL << 53);
}

double
backoff_next(Backoff *b)
{
	double hi = b->prev_ms * 3;
	double wait;

	if (hi < b->base_ms)
		hi = b->base_ms;
	wait = b->base_ms + backoff_random(b) * (hi - b->base_ms);
	if (wait > b->cap_ms)
		wait = b->cap_ms;
	b->prev_ms = wait;
	b->attempts++;
	return wait;
}

double
backoff_clamp(double wait_ms, double remaining_ms)
{
	if (remaining_ms <= 0)
		return 0;
	if (wait_ms > remaining_ms)
		return remaining_ms;
	return wait_ms < 0 ? 0 : wait_ms;
}
