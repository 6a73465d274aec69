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
	int			current;		/* the Phase begun last, -1 before the first */
} PhaseClock;

void phase_clock_init(PhaseClock *pc);
void phase_begin(PhaseClock *pc, Phase p);
/* Ends the phase and prints "phase NAME  1.23 s  <note>" (unless quiet). */
void phase_end(PhaseClock *pc, Phase p, const char *note);
/* The same, returning the JSON object of the phase_start or phase_end event (newly allocated), for a hook. */
char *phase_begin_json(PhaseClock *pc, Phase p);
char *phase_end_json(PhaseClock *pc, Phase p, const char *note);

/*
 * One progress event of a phase (the live line on a terminal, a "progress"
 * JSON event).  A figure below 0 is unknown.
 */
typedef struct ProgressFigures
{
	Phase		phase;
	const char *unit; /* what done counts: "rows", "changes", "blocks", ... */
	long long	done;
	long long	total;
	double		percent;
	double		rate;	 /* units per second */
	double		eta_s;	 /* seconds to the end of the phase */
	long long	backlog; /* the replay's changes waiting */
	const char *step;	 /* what the phase does now (an index build's phase); NULL */
} ProgressFigures;

void		progress_report(const ProgressFigures *f);
/* Seconds left when fraction_done of the work took elapsed seconds; -1 unknown. */
double		progress_eta(double elapsed, double fraction_done);

/* "512 B", "8.0 kB", "1.5 MB", "2.25 GB" into buf. */
const char *format_bytes(long long bytes, char *buf, size_t len);
/* "0.45 s", "12.3 s", "4 min 05 s", "2 h 03 min" into buf. */
const char *format_duration(double seconds, char *buf, size_t len);
/* "1,234,567" into buf. */
const char *format_count(long long n, char *buf, size_t len);

#endif							/* PGR_PROGRESS_H */
