/* clock.c: the monotonic clock, and a sleep that interrupts and the wait hook cut short. */
#include "clock.h"

#include <time.h>

#include "cancel.h"
#include "test_hooks.h"

double
pgr_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
pgr_sleep_ms(double ms)
{
	double until = pgr_now() + ms / 1000.0;

	while (!pgr_interrupted)
	{
		double			left = until - pgr_now();
		struct timespec ts;

		if (left <= 0)
			break;
		if (!cancel_call_wait_hook())
			break;
		if (left > 0.1)
			left = 0.1;
		ts.tv_sec = (time_t) left;
		ts.tv_nsec = (long) ((left - (double) ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

bool
pgr_deadline_passed(double deadline)
{
	return deadline > 0 && (pgr_now() >= deadline || pgr_test_flag("DEADLINE_PASSED"));
}
