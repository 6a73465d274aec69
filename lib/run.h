/*
 * run.h: one run of pg_rebuild on one table, as an object.
 *
 * A Run holds everything about one rebuild: what was asked, its
 * connections, what preflight read and planned, its record in the database,
 * and its figures.  Nothing about a run lives outside it, so a program can
 * rebuild several tables one after another in one process: make a Run,
 * prepare it (rebuild.h), execute it, read its result, free it, and make the
 * next one.
 *
 * The phase functions (install.h, copy.h, index.h, replay.h, swap.h,
 * cleanup.h) take the Run; this file has what they share: the connections,
 * the guard, and the failure path.
 */
#ifndef PGR_RUN_H
#define PGR_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "changes.h"
#include "conn.h"
#include "connect.h"
#include "copy.h"
#include "dependents.h"
#include "estimate.h"
#include "guard.h"
#include "hook.h"
#include "phases.h"
#include "plan.h"
#include "progress.h"
#include "replay.h"
#include "state.h"
#include "swap.h"
#include "throttle.h"
#include "window.h"

/* Exit codes (see the man page). */
#define PGR_EXIT_OK			0	/* rebuilt (or: nothing to do) */
#define PGR_EXIT_FAILED		1	/* failed; the table is unchanged, nothing left behind */
#define PGR_EXIT_USAGE		2	/* bad command line */
#define PGR_EXIT_LEFTOVERS	3	/* failed and objects remain: run --cleanup */

/* The default budget of ACCESS EXCLUSIVE at the swap (--max-lock-time), in ms. */
#define PGR_DEFAULT_MAX_LOCK_MS 200

/* Reconnections allowed in one run (each bounded by --retry-timeout). */
#define PGR_MAX_RECOVERIES 5

/* How a run behaves; shared by the runs of one command. */
typedef struct RunSettings
{
	int			jobs;			/* connections for the copy and the index builds */
	double		wait_timeout_s; /* total time to keep trying for a lock */
	int			lock_timeout_ms;	/* one lock attempt */
	double		retry_timeout_s;	/* total time to retry a lost connection */
	bool		kill_blockers;	/* after wait_timeout_s, cancel then terminate the swap's blockers */
	bool		allow_old_snapshots;	/* swap even when transactions hold a snapshot older than the
										 * shadow's rows (they would see the table empty or in part) */
	double		catchup_timeout_s;	/* a replay backlog that does not shrink for this long stops the run */
	int			max_lock_ms;	/* the longest ACCESS EXCLUSIVE the swap may expect to hold */
	/*
	 * pgr_now() after which the swap takes no lock (--deadline,
	 * --max-duration): the run stops instead, the table as it was; 0: none.
	 */
	double		swap_deadline;
	ThrottleLimits throttle;	/* how hard the copy and the replay may go */
	SwapWindow	swap_window;	/* when the swap may happen (--swap-window) */
	HookSettings hooks;			/* --hook commands and --hook-timeout */
	bool		keep_old;		/* the finish keeps the old table (recorded: --cleanup drops it) */
	const char *archive_old;	/* the finish archives the old table's rows into this file first */
} RunSettings;

/* What a run did, for the summary and the caller. */
typedef struct RunResult
{
	int			exit_code;		/* PGR_EXIT_* */
	bool		rebuilt;		/* the swap committed */
	bool		interrupted;	/* stopped by SIGINT or SIGTERM: the caller stops too */
	/*
	 * Preflight refused the table for what it is (its kind, no replay key,
	 * something around it the swap cannot carry): a selection lists it as
	 * skipped rather than failed.  Nothing was changed.
	 */
	bool		refused;
	long long	rows;			/* copied */
	long long	changes;		/* captured changes applied */
	long long	heap_before;
	long long	heap_after;
	long long	total_before;
	long long	total_after;
	double		seconds;		/* wall time of the whole run */
	double		lock_held_ms;	/* ACCESS EXCLUSIVE at the swap */
	int			lock_attempts;
} RunResult;

struct Run
{
	/* What was asked.  Owned by the caller, kept alive until run_free. */
	const RunSettings *s;
	ConnParams *params;			/* shared by the runs of a command (the password is asked once) */
	const char *want_schema;	/* as given; NULL: found through the search_path */
	const char *want_name;
	const ChangeSet *changes;	/* what was asked; from preflight on, own_changes */
	ChangeSet  *own_changes;	/* this run's copy, with what the server made of --alter */

	/* Its connections (see run_open_workers, run_ensure_guard). */
	Conn	   *main;
	Conn	  **workers;
	int			nworkers;
	Conn	   *holder;			/* holds SHARE UPDATE EXCLUSIVE from install to swap */
	Guard		guard;
	int			recoveries;		/* reconnections after a lost connection */

	/* What preflight read, checked and planned: NULL until then. */
	TableDesc  *t;
	Dependents *deps;
	Plan	   *plan;
	DepPlan    *dplan;
	PlanInput	plan_input;
	uint64_t	fingerprint;	/* of t at preflight */
	uint64_t	dep_fingerprint;	/* of deps at preflight */
	const char *role;			/* the table's owner, to SET ROLE to, or NULL */
	char	   *role_name;		/* owned copy behind role */
	char	   *db_tablespace;	/* the database's default tablespace (named for the shadow) */
	unsigned int role_oid;		/* the role the run acts as (the table's owner) */
	char	   *session_role;	/* the role it connected as (session_user) */
	SizeEstimate size;			/* its rows, and the space the rebuild should give back */
	RunMode		mode;			/* a rebuild, or NOT NULL in place (--method) */
	char	   *method_note;	/* why this mode, for the intro and --dry-run; NULL when not chosen */

	/* Its state in the database. */
	StateSchema state;			/* the acting role's state schema (found or made at install) */
	bool		state_untrusted;	/* the install found it unsound (logged) */
	const char *tool_schema;	/* its name (state.name, or what preflight will create) */
	char	   *tool_schema_name;	/* owned copy behind tool_schema */
	long long	lock_key;		/* the table's advisory lock */
	bool		locked;
	/*
	 * The advisory lock of the table that replaces it (the shadow's OID),
	 * taken before the swap, so that a run started on the rebuilt table
	 * while this one finishes is told another run is active.
	 */
	long long	new_lock_key;
	bool		new_locked;
	long long	run_id;			/* 0 until the run is recorded */
	bool		swapped;
	bool		keep_old;		/* the finish keeps the old table (--keep-old, its foreign keys dropped) */
	bool		archive_failed; /* --archive-old failed: the old table was kept (exit 3) */
	/*
	 * After a lost connection, another session (a --cleanup) held the
	 * table's lock or had removed the run's record: the run's objects are
	 * that session's to remove.
	 */
	bool		taken_over;
	char	   *taken_over_by;	/* who held the lock, for messages */

	/* Its hooks. */
	bool		copy_hook_done;	/* before-copy ran (once a run, even when a reconnection copies again) */
	int			failed_phase;	/* the Phase the run was in when it failed, -1 */

	/* Figures. */
	PhaseClock	clock;
	CopyResult	copy;
	SwapResult	swap;
	long long	replayed;
	ReplayRate	rate;			/* how fast the replay applies entries (for the swap's lock budget) */
	/*
	 * When the shadow became the table at one snapshot (the end of the
	 * reconcile): the first transaction id not yet assigned then, and the
	 * server's clock.  A snapshot older than that may see the shadow's rows
	 * in part or not at all (swap.h, old snapshots).  Empty until then.
	 */
	char		whole_xid[24];
	char		whole_at[64];
	RunResult	result;
};

/*
 * A new run of table (schema may be NULL) with these settings and changes,
 * connecting with params.  Connects to nothing yet.  Free with run_free.
 */
Run		   *run_new(const RunSettings *s, ConnParams *params, const char *schema, const char *table,
					const ChangeSet *changes);
/* Closes its connections (releasing its table lock) and frees it. */
void		run_free(Run *r);

/* Opens a connection that acts as the table's owner; NULL (logged) on failure. */
Conn	   *run_open_as_owner(Run *r, const char *label);
/* Opens the --jobs worker connections; false (logged) on failure. */
bool		run_open_workers(Run *r) __attribute__((warn_unused_result));
void		run_close_workers(Run *r);
void		run_close_holder(Run *r);
/*
 * Makes sure the holder connection keeps SHARE UPDATE EXCLUSIVE on the
 * table (again, after a lost connection).  False (logged) on failure.
 */
bool		run_ensure_guard(Run *r) __attribute__((warn_unused_result));
/* The guard's check, as a wait hook or a pool's tick (arg is the Run). */
bool		run_tick(void *arg);

/* Records in the runs table that the run is in phase p (and that it is alive). */
bool		run_record_phase(Run *r, Phase p) __attribute__((warn_unused_result));

/*
 * The start of phase p: its clock, the holder's lock made sure of, the
 * phase recorded.  False (reported) on failure.
 */
bool		run_enter_phase(Run *r, Phase p) __attribute__((warn_unused_result));

/*
 * Runs l in one transaction under --lock-timeout, retried with backoff up
 * to --wait-timeout (statements that lock other tables, such as adding a
 * foreign key, must never make the application queue behind them).  False
 * (reported as "could not <what>") on failure.
 */
bool		run_with_lock_retries(Run *r, const StmtList *l, const char *what) __attribute__((warn_unused_result));

/*
 * Reports the failure of what on connection failed (which may be NULL):
 * an application NULL in a new NOT NULL column is named with its key, a lost
 * connection that the run will retry is a warning, a signal is said to be
 * one, the rest is the server's error.
 */
void		run_report_failure(Run *r, Conn *failed, const char *what);

/*
 * Called on any failure: before the swap committed, removes this run's
 * objects and says the table is as it was (exit 1, or 3 when some remain);
 * after, tries once more to remove what is left: all gone is a success
 * (exit 0, the finish's line says so), otherwise it is an error naming the
 * --cleanup command (exit 3).  Sets and returns r->result.exit_code.
 */
int			run_fail(Run *r);

/*
 * Runs the --hook commands for ev with json (the event's object) on their
 * standard input and the run in their environment: PGR_EVENT, PGR_TABLE
 * (quoted, qualified), PGR_SCHEMA, PGR_TABLE_NAME, PGR_RUN_ID, PGR_PHASE,
 * and PGR_EXIT_CODE at failure.  See hooks_fire for the return and
 * *refusal.
 */
bool		run_hooks(Run *r, HookEvent ev, const char *json, HookResult *refusal, const char **refused_by);

/* Reads the sizes of the rebuilt table into r->result. */
void		run_read_sizes(Run *r);

/* Logs the hint "Run: pg_rebuild --cleanup ..." with this run's connection options. */
void		run_print_cleanup_hint(const Run *r);

/*
 * " -d 'db' -h 'host' -p 'port' -U 'user'", shell-quoted, for a command the
 * user can paste: where c is connected, or (c gone or NULL) what params
 * say.  Never the password.  Newly allocated.
 */
char	   *run_connection_args(const Conn *c, const ConnParams *params);

#endif							/* PGR_RUN_H */
