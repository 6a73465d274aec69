/* progress.c: phase timing and human-readable figures. */
#include "progress.h"

#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "clock.h"
#include "log.h"

void
phase_clock_init(PhaseClock *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->run_started = pgr_now();
}

void
phase_begin(PhaseClock *pc, Phase p)
{
	pc->started[p] = pgr_now();
}

void
phase_end(PhaseClock *pc, Phase p, const char *note)
{
	char		d[32];

	pc->seconds[p] += pgr_now() - pc->started[p];
	log_info("phase %-9s %10s%s%s", phase_name(p), format_duration(pc->seconds[p], d, sizeof(d)),
			 note && *note ? "  " : "", note ? note : "");
}

const char *
format_bytes(long long bytes, char *buf, size_t len)
{
	static const char *const units[] = {"kB", "MB", "GB", "TB"};
	double		v = (double) bytes;
	int			u = -1;

	if (bytes < 1024)
	{
		snprintf(buf, len, "%lld B", bytes);
		return buf;
	}
	while (v >= 1024 && u < 3)
	{
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

const char *
format_duration(double s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 10)
		snprintf(buf, len, "%.2f s", s);
	else if (s < 60)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 3600)
		snprintf(buf, len, "%d min %02d s", (int) (s / 60), (int) s % 60);
	else
		snprintf(buf, len, "%d h %02d min", (int) (s / 3600), ((int) s % 3600) / 60);
	return buf;
}

const char *
format_count(long long n, char *buf, size_t len)
{
	char		digits[32];
	int			nd;
	size_t		o = 0;
	bool		neg = n < 0;

	snprintf(digits, sizeof(digits), "%lld", neg ? -n : n);
	nd = (int) strlen(digits);
	if (neg && o + 1 < len)
		buf[o++] = '-';
	for (int i = 0; i < nd && o + 1 < len; i++)
	{
		if (i > 0 && (nd - i) % 3 == 0 && o + 1 < len)
			buf[o++] = ',';
		if (o + 1 < len)
			buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}
