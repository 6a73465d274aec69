/* test_hooks.c: the test build's pauses and settings, read from PGR_TEST_* variables. */
#include "test_hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cancel.h"
#include "clock.h"

void
pgr_test_pause(const char *point)
{
	static struct
	{
		char point[64];
		int	 count;
	} seen[32];
	char		name[128];
	const char *v;
	const char *wait_for;
	const char *times;
	int			k;

	snprintf(name, sizeof(name), "PGR_TEST_WAIT_%s", point);
	wait_for = getenv(name);
	snprintf(name, sizeof(name), "PGR_TEST_SLEEP_%s", point);
	v = getenv(name);
	if ((v == NULL || *v == '\0') && (wait_for == NULL || *wait_for == '\0'))
		return;
	/* PGR_TEST_SLEEP_<POINT>_TIMES=n: only the first n times */
	snprintf(name, sizeof(name), "PGR_TEST_SLEEP_%s_TIMES", point);
	times = getenv(name);
	for (k = 0; k < 32 && seen[k].point[0] && strcmp(seen[k].point, point) != 0; k++)
		;
	if (k < 32)
	{
		if (seen[k].point[0] == '\0')
			snprintf(seen[k].point, sizeof(seen[k].point), "%s", point);
		if (times && *times && seen[k].count >= atoi(times))
			return;
		seen[k].count++;
	}
	/* a marker the tests wait for before they strike */
	fprintf(stderr, "pg_rebuild: test: pausing at %s\n", point);
	fflush(stderr);
	if (wait_for && *wait_for)
	{
		/* PGR_TEST_WAIT_<POINT>=file: until the test creates the file (an event, not a time) */
		while (access(wait_for, F_OK) != 0 && !pgr_interrupted)
			pgr_sleep_ms(20);
		return;
	}
	pgr_sleep_ms(atof(v));
}

long long
pgr_test_setting(const char *name)
{
	char		var[128];
	const char *v;

	snprintf(var, sizeof(var), "PGR_TEST_%s", name);
	v = getenv(var);
	return v ? atoll(v) : 0;
}

bool
pgr_test_flag(const char *name)
{
	char		var[128];
	const char *v;

	snprintf(var, sizeof(var), "PGR_TEST_%s", name);
	v = getenv(var);
	return v != NULL && access(v, F_OK) == 0;
}
