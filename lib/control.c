/* control.c: --pause, --resume, --postpone-swap, --release-swap, through the run's record. */
#include "control.h"

#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "ident.h"
#include "log.h"
#include "run.h"
#include "state.h"

static const struct
{
	const char *option;
	const char *column;
	bool		value;
	const char *effect;
} actions[] = {
	[CONTROL_PAUSE] = {"--pause", "paused", true, "it pauses after its current chunk or batch"},
	[CONTROL_RESUME] = {"--resume", "paused", false, "it goes on at its next look (within a second)"},
	[CONTROL_POSTPONE_SWAP] = {"--postpone-swap", "swap_postponed", true,
							   "it will keep replaying before its swap until --release-swap"},
	[CONTROL_RELEASE_SWAP] = {"--release-swap", "swap_postponed", false, "it may swap"},
};

const char *
control_option(ControlAction a)
{
	return a > CONTROL_NONE && a <= CONTROL_RELEASE_SWAP ? actions[a].option : "?";
}

bool
control_read(Conn *c, const char *state_schema, long long run_id, bool *paused, bool *swap_postponed)
{
	char	 *q = ident_quote(state_schema);
	char	 *spec = pgr_psprintf("SELECT paused, swap_postponed FROM %s.runs WHERE run_id OPERATOR(pg_catalog.=) %%int8",
								  q);
	PGresult *res = conn_queryf(c, spec, (PGint8) run_id);

	free(spec);
	free(q);
	if (res == NULL)
		return false;
	*paused = PQntuples(res) > 0 && res_bool(res, 0, 0);
	*swap_postponed = PQntuples(res) > 0 && res_bool(res, 0, 1);
	PQclear(res);
	return true;
}

/* The owner of table oid, and the state schema its runs are recorded in. */
static bool
find_state(Conn *c, unsigned int oid, StateSchema *s, bool *found)
{
	PGresult *res = conn_queryf(c, "SELECT relowner FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) %oid",
								oid);
	char	 *name;
	bool	  ok;

	if (res == NULL)
		return false;
	name = state_schema_name(PQntuples(res) > 0 ? res_oid(res, 0, 0) : 0);
	PQclear(res);
	ok = state_find_schema(c, name, s, found);
	free(name);
	return ok;
}

/* In the owner's state schema, checked under ROW EXCLUSIVE: sets the flag; *runs gets the runs changed. */
static bool
set_flag(Conn *c, const StateSchema *s, unsigned int oid, ControlAction a, int *runs)
{
	StrVec	  problems;
	char	 *q = ident_quote(s->name);
	char	 *spec;
	PGresult *res = NULL;
	bool	  ok;

	sv_init(&problems);
	ok = conn_set_role(c, s->owner_name) && conn_command(c, "BEGIN") &&
		state_lock_and_check(c, s, "ROW EXCLUSIVE", &problems);
	if (ok)
	{
		spec = pgr_psprintf("UPDATE %s.runs SET %s = %s WHERE relid OPERATOR(pg_catalog.=) %%oid RETURNING run_id",
							q, actions[a].column, actions[a].value ? "true" : "false");
		res = conn_queryf(c, spec, oid);
		free(spec);
		ok = res != NULL && conn_command(c, "COMMIT");
	}
	*runs = res ? PQntuples(res) : 0;
	PQclear(res);
	for (size_t i = 0; i < problems.n; i++)
		log_detail("%s", problems.items[i]);
	if (!ok && problems.n == 0)
		conn_report(c, "could not write the run's record");
	else if (!ok)
		log_error("the state schema %s cannot be trusted: the run's record was not written", q);
	sv_free(&problems);
	free(q);
	conn_best_effort(c, "ROLLBACK");
	return ok;
}

int
control_main(ConnParams *params, const char *schema, const char *table, ControlAction a)
{
	Conn	   *c = conn_open(params, "main");
	char	   *found_schema = NULL;
	long long	oid;
	StateSchema s;
	bool		found = false;
	int			runs = 0;
	int			code = PGR_EXIT_FAILED;

	if (c == NULL)
		return PGR_EXIT_FAILED;
	memset(&s, 0, sizeof(s));
	oid = catalog_resolve_table(c, schema, table, &found_schema);
	if (oid == 0)
		log_error("%s: table \"%s\" does not exist: nothing was changed", control_option(a), table);
	else if (oid > 0 && find_state(c, (unsigned int) oid, &s, &found) && !found)
		log_error("%s: no run of table \"%s\" is recorded (its owner has no pg_rebuild state schema): nothing "
				  "was changed",
				  control_option(a), table);
	else if (oid > 0 && found && !s.can_act)
	{
		log_error("%s: this role may not act as %s, the owner of table \"%s\", whose state schema holds the "
				  "run's record: nothing was changed",
				  control_option(a), s.owner_name, table);
		log_hint("Connect as the table's owner or a member of its role.");
	}
	else if (oid > 0 && found && set_flag(c, &s, (unsigned int) oid, a, &runs))
	{
		if (runs == 0)
			log_error("%s: no run of table \"%s\" is recorded: nothing was changed (pg_rebuild --status lists "
					  "the runs)",
					  control_option(a), table);
		else
		{
			log_info("%s: done on the run of table \"%s\": %s", control_option(a), table, actions[a].effect);
			code = PGR_EXIT_OK;
		}
	}
	if (found)
		state_schema_free(&s);
	free(found_schema);
	conn_close(c);
	return code;
}
