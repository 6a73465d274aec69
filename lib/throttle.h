/*
 * throttle.h: how hard a run may go: --max-rate (rows or changes a second
 * for the copy and the replay) and --max-replica-lag (no chunk or batch
 * while a standby of pg_stat_replication, or an active logical slot of
 * pg_replication_slots, is further behind).  Both are applied between
 * chunks of the copy and batches of the replay, never inside the swap's
 * transaction; a pause is an event ("throttle") that says why.
 */
#ifndef PGR_THROTTLE_H
#define PGR_THROTTLE_H

#include <stdbool.h>

#include "conn.h"
#include "phases.h"

/* The limits, from the command line (0: none). */
typedef struct ThrottleLimits
{
	double	  max_rate;		 /* units a second */
	double	  max_lag_s;	 /* replay lag of a standby */
	long long max_lag_bytes; /* WAL not yet replayed by a standby or confirmed by a logical slot */
} ThrottleLimits;

/* The state of one phase's throttling (on the caller's stack). */
typedef struct Throttle
{
	const ThrottleLimits *limits;
	Phase				  phase;
	const char			 *unit; /* "rows", "changes" */
	double				  started;
	long long			  units;	/* done since started */
	double				  paused_s; /* all the time spent paused for lag */
	/* where the run's record is, to read --pause (NULL: not read) */
	Conn				 *state_conn;
	const char			 *state_schema;
	long long			  run_id;
} Throttle;

/* Starts throttling a phase; says the --max-rate limit when there is one. */
void throttle_begin(Throttle *th, const ThrottleLimits *limits, Phase phase, const char *unit, Conn *state_conn,
					const char *state_schema, long long run_id);

/*
 * While the run's record says paused (pg_rebuild --pause), waits, saying so
 * once and again when it goes on.  False (logged) on failure.
 */
bool throttle_wait_paused(Throttle *th) __attribute__((warn_unused_result));

/*
 * After a chunk or batch of n units: waits while the run is paused
 * (throttle_wait_paused), sleeps as long as --max-rate asks,
 * then, with --max-replica-lag, checks the lag on c and pauses (saying so
 * and why, and again when it goes on) until it is within the limit.  False
 * (logged) when the lag cannot be read or the run was interrupted while
 * paused.  The sleeps call the wait hook (the guard keeps working).
 */
bool throttle_after(Throttle *th, Conn *c, long long n) __attribute__((warn_unused_result));

/*
 * Parses a --max-replica-lag value: a duration ("30s", "500ms", "2min",
 * "1h") into *seconds, or a size ("64MB", "512kB", "1GB", "4096B") into
 * *bytes; the other is set to 0.  False when it is neither.
 */
bool throttle_parse_lag(const char *s, double *seconds, long long *bytes);

#endif /* PGR_THROTTLE_H */
