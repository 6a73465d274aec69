/* test_backoff.c: backoff arithmetic stays within its bounds and grows. */
#include "backoff.h"
#include "tap.h"

int
main(void)
{
	Backoff b;
	Backoff b2;
	bool	in_bounds = true;
	bool	same = true;
	double	first = 0;
	double	max_seen = 0;

	backoff_init(&b, 50, 2000, 42);
	backoff_init(&b2, 50, 2000, 42);
	for (int i = 0; i < 1000; i++)
	{
		double w = backoff_next(&b);

		if (i == 0)
			first = w;
		if (w < 50 || w > 2000)
			in_bounds = false;
		if (w > max_seen)
			max_seen = w;
		if (w != backoff_next(&b2))
			same = false;
	}
	ok(in_bounds, "every wait is within [base, cap]");
	ok(first <= 150, "the first wait is at most 3 x base (%.1f)", first);
	ok(max_seen > 1000, "waits grow towards the cap (max %.1f)", max_seen);
	ok(same, "same seed, same sequence");
	is_int(b.attempts, 1000, "attempts are counted");

	backoff_init(&b, 50, 2000, 7);
	{
		bool differs = false;

		for (int i = 0; i < 20; i++)
			if (backoff_next(&b) != backoff_next(&b2))
				differs = true;
		ok(differs, "another seed gives another sequence (jitter)");
	}

	ok(backoff_clamp(500, 200) == 200, "a wait is cut to the time left");
	ok(backoff_clamp(100, 200) == 100, "a short wait is kept");
	ok(backoff_clamp(100, -5) == 0, "no wait past the deadline");

	backoff_init(&b, 0, 0, 0);
	ok(b.base_ms >= 1 && b.cap_ms >= b.base_ms, "degenerate settings are made sane");
	{
		double r = backoff_random(&b);

		ok(r >= 0 && r < 1, "random in [0, 1)");
	}
	return done_testing();
}
