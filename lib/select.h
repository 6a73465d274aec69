/*
 * select.h: the tables a command chooses (several -t, --schema, --all, the
 * exclusions), what each would give back, and which are worth a rebuild
 * (--min-bloat, --min-size, --min-reclaim), biggest expected gain first.
 *
 * Reading (select_read) is apart from the choice (select_choose), which is
 * pure and unit-tested.  Nothing here rebuilds: the program makes one Run
 * per chosen table (run.h), one after the other.
 */
#ifndef PGR_SELECT_H
#define PGR_SELECT_H

#include <stdbool.h>

#include "conn.h"
#include "estimate.h"
#include "str.h"

/* What the command line asks for. */
typedef struct SelectRequest
{
	const StrVec *tables;		   /* -t as given (parsed by ident_parse_qualified) */
	const StrVec *schemas;		   /* --schema: schema names */
	bool		  all;			   /* --all */
	const StrVec *exclude_tables;  /* --exclude-table as given */
	const StrVec *exclude_schemas; /* --exclude-schema: schema names */
	const char	 *exact_schema;	   /* --measure=exact: where pgstattuple is (exact.h); NULL: the estimate */
} SelectRequest;

/* The thresholds a table must reach to be chosen; 0: no threshold. */
typedef struct SelectFilter
{
	double	  min_bloat;   /* percent of heap and indexes expected back */
	long long min_size;	   /* heap and indexes now, bytes */
	long long min_reclaim; /* bytes expected back */
} SelectFilter;

typedef enum CandidateState
{
	CAND_CHOSEN,  /* to be rebuilt */
	CAND_SKIPPED, /* left alone by choice (a threshold) or because it cannot be rebuilt */
	CAND_MISSING  /* named with -t but not found: a failure */
} CandidateState;

typedef struct Candidate
{
	char		  *arg;	   /* -t as given, or NULL when found through --schema or --all */
	unsigned int   oid;	   /* 0 when missing */
	char		  *schema; /* as found (NULL when missing) */
	char		  *name;
	char		  *qname;	 /* "schema"."name", or the argument as given when missing */
	bool		   measured; /* size was read */
	bool		   exact;	 /* measured with pgstattuple (exact.h), not estimated */
	SizeEstimate   size;	 /* heap, indexes, and what a rebuild should leave */
	CandidateState state;
	char		  *why; /* newly allocated: why skipped or missing; NULL when chosen */
} Candidate;

typedef struct Selection
{
	Candidate *items;
	int		   n;
	int		   excluded; /* tables --exclude-table or --exclude-schema kept out */
	char	  *dbname;	 /* the database they are in */
} Selection;

/*
 * Reads on c the tables req chooses, each once (the first -t that names it,
 * or in schema and name order), and measures each (estimate.h).  A -t that
 * names no table is a CAND_MISSING candidate, not an error.  False (logged)
 * on a query failure.  Free with select_free, whatever it returned.
 */
bool	  select_read(Conn *c, const SelectRequest *req, Selection *out) __attribute__((warn_unused_result));

/*
 * Marks CAND_SKIPPED, with the reason, each chosen candidate under a
 * threshold of f, and orders them: chosen first, biggest expected gain
 * first (then size, then name); the others after, in the order they had.
 */
void	  select_choose(Selection *sel, const SelectFilter *f);

/* Expected reclaim in bytes (0 when not known), and in percent of heap and indexes (TOAST apart). */
long long candidate_reclaim(const Candidate *c);
double	  candidate_bloat_percent(const Candidate *c);
/* Heap and indexes now (the TOAST table counted too). */
long long candidate_size(const Candidate *c);

/*
 * Seconds a table of size bytes is expected to take, at the rate of the
 * tables done so far (bytes_done in seconds_done); -1 when there is no rate
 * yet (nothing done).  Pure.
 */
double	  select_expected_seconds(long long size, long long bytes_done, double seconds_done);

void	  select_free(Selection *sel);

#endif /* PGR_SELECT_H */
