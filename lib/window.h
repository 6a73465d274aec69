/*
 * window.h: --swap-window HH:MM-HH:MM, the time of day (the session's
 * TimeZone on the server: the server's own unless PGTZ says otherwise) in
 * which the swap may happen.  Before it opens the run keeps replaying; once
 * it has opened, the swap must happen before it closes, or the run gives
 * up (exit 1, nothing left).
 */
#ifndef PGR_WINDOW_H
#define PGR_WINDOW_H

#include <stdbool.h>

typedef struct SwapWindow
{
	bool set;
	int	 start_s;  /* seconds after midnight */
	int	 end_s;	   /* may be before start_s: the window spans midnight */
	char text[16]; /* as given, "02:00-04:00" */
} SwapWindow;

/* Parses "HH:MM-HH:MM" (start and end different); false when it is not one. */
bool			   window_parse(const char *s, SwapWindow *w);

/* Whether the time of day now_s (seconds after midnight) is inside w. */
bool			   window_inside(const SwapWindow *w, double now_s);
/* Seconds from now_s until w opens (0 when inside), and until it closes (0 when outside). */
double			   window_until_open(const SwapWindow *w, double now_s);
double			   window_until_close(const SwapWindow *w, double now_s);

typedef struct Run Run;

/*
 * At the swap: waits, replaying, until the window is open, the swap is not
 * postponed and the run not paused (pg_rebuild --postpone-swap, --pause:
 * the run's record), saying what it waits for; returns how many seconds
 * the window stays open in *open_for.  False (logged) on failure or
 * interruption.
 */
bool			   window_wait(Run *r, double *open_for) __attribute__((warn_unused_result));

/* The time of day on the server, in seconds after midnight; -1 (error kept) on failure. */
double			   window_server_time(Run *r);

#endif /* PGR_WINDOW_H */
