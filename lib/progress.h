/*
 * progress.h: timing of phases and the human formatting of sizes, rates and
 * durations used in phase lines, progress lines and the summary.
 */
#ifndef PGR_PROGRESS_H
#define PGR_PROGRESS_H

#include <stddef.h>

#include "phases.h"


typedef struct PhaseClock
{
	double		started[PHASE_COUNT];
	double		seconds[PHASE_COUNT];
	double		run_started;
} PhaseClock;

void		phase_clock_init(PhaseClock *pc);
void		phase_begin(PhaseClock *pc, Phase p);
/* Ends the phase and prints "phase NAME  1.23 s  <note>" (unless quiet). */
void		phase_end(PhaseClock *pc, Phase p, const char *note);

/* "512 B", "8.0 kB", "1.5 MB", "2.25 GB" into buf. */
const char *format_bytes(long long bytes, char *buf, size_t len);
/* "0.45 s", "12.3 s", "4 min 05 s", "2 h 03 min" into buf. */
const char *format_duration(double seconds, char *buf, size_t len);
/* "1,234,567" into buf. */
const char *format_count(long long n, char *buf, size_t len);

#endif							/* PGR_PROGRESS_H */
