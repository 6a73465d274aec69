/*
 * cancel.h: interrupts: SIGINT/SIGTERM, cancel requests for running
 * statements, and the wait hook that may cancel them.
 *
 * A signal must stop a long copy or index build at once, and the caller's
 * error path must still clean up: the handler only sets pgr_interrupted and
 * sends a cancel request to every registered connection; the statement then
 * fails, and the code that ran it decides what to undo.
 */
#ifndef PGR_CANCEL_H
#define PGR_CANCEL_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>

/* Set by SIGINT / SIGTERM (see conn_install_signal_handlers). */
extern volatile sig_atomic_t pgr_interrupted;

/*
 * Installs SIGINT and SIGTERM handlers that set pgr_interrupted and send a
 * cancel request to every open connection, so a long copy or index build
 * stops at once and the caller's error path can clean up.  SIGPIPE is
 * ignored (a server gone away is an error to report, not a death).
 */
void						 conn_install_signal_handlers(void);

/*
 * The registry of connections the signal handler cancels.  cancel_register
 * keeps a cancel object for pg and returns its slot, or -1 when the
 * registry is full (the connection then works, but a signal does not cancel
 * what runs on it).  cancel_unregister frees the slot's object; -1 is
 * ignored.  The registry owns the cancel objects; pg stays the caller's.
 */
int							 cancel_register(PGconn *pg);
void						 cancel_unregister(int slot);

/* Sends a cancel request for whatever runs on pg now; failures are ignored. */
void						 cancel_request(PGconn *pg);

/*
 * A function called about every 200 ms while a statement runs long or
 * pg_rebuild sleeps (the guard's check, so that a DDL statement queued
 * behind our lock is noticed whatever we are doing).  When it returns false,
 * the running statement is canceled and the sleep ends.  It is never called
 * from within itself.  NULL to remove.  arg stays the caller's.
 */
void						 conn_set_wait_hook(bool (*hook)(void *arg), void *arg);

/*
 * Calls the wait hook (for code that waits: the query layer, the sleep);
 * true to go on waiting, false to stop.  True when there is no hook or
 * when the hook is running already.
 */
bool						 cancel_call_wait_hook(void);

#endif /* PGR_CANCEL_H */
