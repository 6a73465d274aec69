/*
 * record.h: recordings, a series of catalog reads kept with what they
 * returned, to be checked again later in one round trip.
 *
 * From conn_record_start to conn_record_stop, every conn_queryf and
 * conn_execf on c is kept, its statement, its parameters and an exact image
 * of its result.  conn_record_check later runs them all again in one round
 * trip (libpq pipeline mode; one by one with an older libpq) and sets *same
 * when every one of them returned exactly what it returned the first time.
 * While recording, statements whose parameter types are known are prepared
 * (named pgr_rec_<n>) with generic plans (plan_cache_mode is
 * force_generic_plan from start to stop, and during the check, with SET
 * LOCAL: c must be in a transaction block), so the check runs no planner.
 * Statements that read the catalog one after the other, each taking its
 * parameters from the results before, are then known to give the same
 * answers as a fresh read: the swap reads the catalog before it takes its
 * lock, and under the lock only checks that nothing changed.
 */
#ifndef PGR_RECORD_H
#define PGR_RECORD_H

#include <stdbool.h>

#include "conn.h"

/*
 * conn_record_start and conn_record_stop return false on a failure (error
 * recorded in c; stop still hands the recording over, and the caller owns
 * it: conn_record_free).  conn_record_check returns false on a failure
 * (error recorded in c); *same is false when the recording cannot vouch (a
 * statement failed while it was recorded).
 */
bool conn_record_start(Conn *c) __attribute__((warn_unused_result));
bool conn_record_stop(Conn *c, ConnRecording **out) __attribute__((warn_unused_result));
bool conn_record_check(Conn *c, const ConnRecording *r, bool *same)
	__attribute__((warn_unused_result));

/*
 * Reads that must not be recorded (sizes, which change with every write):
 * between conn_record_suspend and conn_record_resume(c, what it returned).
 * The recording stays c's throughout.
 */
ConnRecording *conn_record_suspend(Conn *c);
void		   conn_record_resume(Conn *c, ConnRecording *r);

/* Frees r and deallocates its prepared statements on c (c may be NULL). */
void		   conn_record_free(Conn *c, ConnRecording *r);

#endif /* PGR_RECORD_H */
