# 041_attacks.pl: another role's objects never become the caller's action.  An application role that may
# create schemas plants code where pg_rebuild keeps its state (a run_alive that makes it superuser, a trigger
# on the runs table, a squatted state schema) and forges run records that name other roles' objects; a
# superuser's --status, --cleanup and rebuilds, and the owner's rebuilds, must run none of it and drop none
# of those objects.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('attacks', log_statement => 'none');
my $admin = $node->safe_psql('postgres', 'SELECT current_user');

# owner: owns the application's tables; app: the application's role, which may create schemas in the
# database (it owns it on many managed services) and is the attacker.
$node->safe_psql(
	'postgres', q{
	CREATE ROLE owner LOGIN;
	CREATE ROLE app LOGIN;
	GRANT CREATE ON DATABASE postgres TO owner, app;
	GRANT CREATE ON SCHEMA public TO owner, app;
	CREATE SEQUENCE public.evil_calls;
	GRANT USAGE, SELECT, UPDATE ON SEQUENCE public.evil_calls TO PUBLIC;
	SET ROLE owner;
	CREATE TABLE public.orders (id bigint PRIMARY KEY, val bigint NOT NULL);
	INSERT INTO public.orders SELECT g, g FROM generate_series(1, 5000) g;
	CREATE TABLE public.precious (id int PRIMARY KEY, v text);
	INSERT INTO public.precious SELECT g, 'keep ' || g FROM generate_series(1, 100) g;
	CREATE FUNCTION public.audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
	CREATE TRIGGER audit BEFORE INSERT ON public.precious FOR EACH ROW EXECUTE FUNCTION public.audit_fn();
	RESET ROLE;
	SET ROLE app;
	CREATE TABLE public.app_items (id int PRIMARY KEY, v text);
	INSERT INTO public.app_items SELECT g, 'i' || g FROM generate_series(1, 1000) g;
	-- The payload: counts its calls (before anything else, so a call that fails later still counts),
	-- then tries to take back the session user's rights and make app a superuser.
	CREATE FUNCTION public.evil() RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_catalog.nextval('public.evil_calls');
		RESET ROLE;
		ALTER ROLE app SUPERUSER;
		RETURN true;
	END $$;
	CREATE FUNCTION public.evil_trg() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM public.evil();
		RETURN NEW;
	END $$;
	GRANT EXECUTE ON FUNCTION public.evil(), public.evil_trg() TO PUBLIC;
});

# What app does, in app's own sessions (app as the session user: nothing to RESET ROLE to).
sub as_app
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', 'app' ]);
}

sub evil_calls
{
	return $node->safe_psql('postgres',
		'SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.evil_calls');
}

sub app_is_superuser
{
	return $node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'app'});
}

# The payload works: a superuser session that runs it (as app, after SET ROLE) makes app superuser.
$node->safe_psql('postgres', 'SET ROLE app; SELECT public.evil(); RESET ROLE; ALTER ROLE app NOSUPERUSER;');
is(evil_calls(), 1, 'the payload runs when called');
$node->safe_psql('postgres', q{SELECT setval('public.evil_calls', 1, false)});
is(evil_calls(), 0, 'the call counter is back at 0');
is(app_is_superuser(), 'f', 'app is not a superuser');

my $owner_state = state_schema($node, 'owner');
my $admin_state = state_schema($node, $admin);
my $app_state = state_schema($node, 'app');

# ------------------------------------------------------------------------
# Finding 1: app creates the schemas pg_rebuild would use before anyone runs it: the shared "pgrebuild" of
# earlier releases with a run_alive that escalates and a trigger on its runs table, and the schemas named
# for owner and for the administrator (squatted), with the same trap.
# ------------------------------------------------------------------------
my $trap = sub {
	my ($schema) = @_;
	return qq{
	CREATE SCHEMA "$schema";
	CREATE TABLE "$schema".meta (version integer NOT NULL);
	INSERT INTO "$schema".meta VALUES (1);
	CREATE TABLE "$schema".runs (run_id bigint PRIMARY KEY, relid oid NOT NULL, schema_name text NOT NULL,
		table_name text NOT NULL, lock_key bigint NOT NULL, phase text NOT NULL, pid integer NOT NULL DEFAULT 0,
		client text, started timestamptz NOT NULL DEFAULT now(), updated timestamptz NOT NULL DEFAULT now(),
		backend_pid integer NOT NULL DEFAULT 0, client_pid integer, client_host text, client_addr text);
	CREATE TABLE "$schema".run_objects (run_id bigint NOT NULL, kind text NOT NULL, object_oid oid,
		schema_name text NOT NULL, object_name text NOT NULL, table_oid oid, table_schema text, table_name text);
	CREATE FUNCTION "$schema".run_alive(bigint) RETURNS boolean LANGUAGE sql AS \$\$ SELECT public.evil() \$\$;
	INSERT INTO "$schema".runs (run_id, relid, schema_name, table_name, lock_key, phase)
		VALUES (1, 'public.precious'::regclass, 'public', 'precious', 1, 'replay');
	INSERT INTO "$schema".run_objects (run_id, kind, object_oid, schema_name, object_name)
		VALUES (1, 'shadow', 'public.precious'::regclass, 'public', 'precious');
	CREATE TRIGGER trap BEFORE INSERT OR UPDATE OR DELETE ON "$schema".runs
		FOR EACH ROW EXECUTE FUNCTION public.evil_trg();
	CREATE TRIGGER trap BEFORE INSERT OR UPDATE OR DELETE ON "$schema".run_objects
		FOR EACH ROW EXECUTE FUNCTION public.evil_trg();
	GRANT USAGE, CREATE ON SCHEMA "$schema" TO PUBLIC;
	GRANT ALL ON ALL TABLES IN SCHEMA "$schema" TO PUBLIC;
	};
};
as_app($trap->('pgrebuild') . $trap->($owner_state) . $trap->($admin_state));
is(evil_calls(), 0, 'planting the traps ran nothing');
is( $node->safe_psql('postgres',
		"SELECT string_agg(nspname || '=' || pg_get_userbyid(nspowner), ',' ORDER BY nspname) FROM pg_namespace WHERE nspname LIKE 'pgrebuild%'"),
	"pgrebuild=app,$admin_state=app,$owner_state=app",
	'app squats the shared schema and the schemas named for owner and for the administrator');

my ($rc, $out, $err) = run_rebuild($node, '--status');
is($rc, 1, 'a superuser\'s --status: exit 1 (state it could not vouch for)');
like($err, qr/^pg_rebuild: error: pg_rebuild does not trust schema "pgrebuild" \(owner app\)/m,
	'... it does not trust the shared schema app made');
like($err, qr/^pg_rebuild: detail: table pgrebuild\.runs has trigger trap$/m, '... names the trigger on its runs table');
like($err, qr/^pg_rebuild: detail: schema pgrebuild grants CREATE to PUBLIC$/m, '... and what it grants');
like($err, qr/^pg_rebuild: error: pg_rebuild does not trust schema "\Q$owner_state\E" \(owner app\)/m,
	'... nor the schema app made in owner\'s name');
like($err, qr/^pg_rebuild: detail: schema \Q$owner_state\E is named for the role with OID \d+ but is owned by role app$/m,
	'... saying it is named for another role');
like($err, qr/^pg_rebuild: detail: Nothing in it was read or changed\.$/m, '... and that nothing in it was used');
is(evil_calls(), 0, '--status called nothing of app\'s');
is(app_is_superuser(), 'f', '... and app is still not a superuser');

($rc, $out, $err) = run_rebuild($node, '--status', '--json');
is($rc, 1, '--status --json: exit 1 too');
is($out, "[]\n", '... listing no run of the untrusted schemas');

($rc, $out, $err) = run_rebuild($node, '--cleanup');
is($rc, 1, 'a superuser\'s --cleanup: exit 1');
like($err, qr/does not trust schema "pgrebuild"/, '... it does not trust the shared schema');
is(evil_calls(), 0, '--cleanup called nothing of app\'s');
is(app_is_superuser(), 'f', '... and app is still not a superuser');
ok(relation_exists($node, 'public.precious'), '... and the table the trap recorded still exists');

# Rebuilds: the owner's own run, and a superuser's run of owner's table, meet the squatted schema.
for my $who ([ 'owner', [ '-U', 'owner' ] ], [ 'the superuser', [] ])
{
	my ($name, $args) = @$who;
	my $oid = table_oid($node, 'public.orders');
	($rc, $out, $err) = run_rebuild($node, @$args, '-t', 'public.orders');
	is($rc, 1, "$name rebuilding owner's table next to a squatted state schema: exit 1");
	like($err, qr/does not trust schema "\Q$owner_state\E" \(owner app\)/, '... it does not trust it');
	like($err, qr/Nothing was changed\./, '... and says nothing was changed');
	like($err, qr/^pg_rebuild: hint: .*DROP SCHEMA "\Q$owner_state\E" CASCADE/m, '... and what to do');
	is(table_oid($node, 'public.orders'), $oid, '... the table is untouched');
	is(evil_calls(), 0, '... nothing of app\'s ran');
	is(app_is_superuser(), 'f', '... app is still not a superuser');
}

# The administrator removes the squatted schemas; from then on pg_rebuild works, and the shared
# "pgrebuild" schema is never used for a new run.
$node->safe_psql('postgres', qq{DROP SCHEMA "$owner_state" CASCADE; DROP SCHEMA "$admin_state" CASCADE});
$node->safe_psql('postgres', q{SELECT setval('public.evil_calls', 1, false)});
($rc, $out, $err) = run_rebuild($node, '-U', 'owner', '-t', 'public.orders');
is($rc, 0, 'once the squatted schema is gone, owner rebuilds its table');
($rc, $out, $err) = run_rebuild($node, '-t', 'public.orders');
is($rc, 0, 'and so does the superuser, acting as owner');
like($err, qr/^pg_rebuild: warning: acting as role owner, the table's owner, from a session of superuser/m,
	'... warned that it runs as owner from a superuser session');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgrebuild.runs}), 1,
	'the shared schema was not written to');
is($node->safe_psql('postgres', "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = '$owner_state'"),
	'owner', "owner's runs are kept in $owner_state, owned by owner");
is(evil_calls(), 0, 'no rebuild ran anything of app\'s');
is(app_is_superuser(), 'f', 'app is still not a superuser');

# ------------------------------------------------------------------------
# Finding 1, second form: app's own, legitimate state schema, in which app then plants a trigger (app may:
# it owns it).  A superuser's --status and --cleanup read app's runs as app, only after checking the schema
# under a lock; the trap is found, not fired.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', 'DROP SCHEMA pgrebuild CASCADE');
($rc, $out, $err) = run_rebuild($node, '-U', 'app', '-t', 'public.app_items');
is($rc, 0, 'app rebuilds its own table: it has a state schema of its own');
as_app(
	qq{
	CREATE TRIGGER trap BEFORE INSERT OR UPDATE OR DELETE ON "$app_state".runs
		FOR EACH ROW EXECUTE FUNCTION public.evil_trg();
	CREATE RULE trap AS ON DELETE TO "$app_state".run_objects DO ALSO SELECT public.evil();
});
($rc, $out, $err) = run_rebuild($node, '--status');
is($rc, 1, '--status with a trap in app\'s own schema: exit 1');
like($err, qr/^pg_rebuild: detail: table \Q$app_state\E\.runs has trigger trap$/m, '... the trigger is named');
like($err, qr/^pg_rebuild: detail: table \Q$app_state\E\.run_objects has rule trap$/m, '... the rule too');
($rc, $out, $err) = run_rebuild($node, '--cleanup');
is($rc, 1, '--cleanup: exit 1');
is(evil_calls(), 0, 'the planted trigger and rule never fired');
is(app_is_superuser(), 'f', 'app is still not a superuser');
($rc, $out, $err) = run_rebuild($node, '-U', 'owner', '--status');
is($rc, 0, 'owner\'s --status is not concerned: app\'s schema is not its to read');
like($err, qr/^pg_rebuild: warning: the runs of role app \(schema \Q$app_state\E\) were not looked at: role owner may not act as app$/m,
	'... it says whose runs it did not look at');
like($err, qr/^pg_rebuild: hint: Run pg_rebuild --status as "app", or as a member of it \(GRANT "app" TO "owner"\), or as a superuser\.$/m,
	'... and which role or GRANT would let it');
as_app(qq{DROP TRIGGER trap ON "$app_state".runs; DROP RULE trap ON "$app_state".run_objects});

# ------------------------------------------------------------------------
# Finding 2: forged records.  app writes, in its own state schema, a dead run whose objects are owner's
# table, trigger and function, and tables that look like a run's but are not proven one's.  A superuser's
# nightly --cleanup removes none of them.
# ------------------------------------------------------------------------
my $precious = table_oid($node, 'public.precious');
$node->safe_psql('postgres', "CREATE TABLE public.pgrebuild_new_$precious (a int)",    # owner's, named like a shadow
	extra_params => [ '-U', 'owner' ]);
as_app(
	qq{
	CREATE TABLE public.pgrebuild_old_$precious (a int);   -- app's, named like a run's, but unmarked
	INSERT INTO "$app_state".runs (relid, schema_name, table_name, phase)
		VALUES ($precious, 'public', 'precious', 'replay');
	INSERT INTO "$app_state".run_objects
	SELECT r.run_id, o.kind, o.oid, o.sch, o.nm, o.toid, o.tsch, o.tnm
	FROM (SELECT max(run_id) AS run_id FROM "$app_state".runs) r,
	(VALUES ('shadow', 'public.precious'::regclass::oid, 'public', 'precious', NULL::oid, NULL, NULL),
	        ('trigger', (SELECT oid FROM pg_trigger WHERE tgname = 'audit'), 'public', 'audit',
	         'public.precious'::regclass::oid, 'public', 'precious'),
	        ('function', 'public.audit_fn()'::regprocedure::oid, 'public', 'audit_fn', NULL, NULL, NULL),
	        ('shadow', 'public.pgrebuild_new_$precious'::regclass::oid, 'public', 'pgrebuild_new_$precious',
	         NULL, NULL, NULL),
	        ('old', 'public.pgrebuild_old_$precious'::regclass::oid, 'public', 'pgrebuild_old_$precious',
	         NULL, NULL, NULL)) o(kind, oid, sch, nm, toid, tsch, tnm);
});
my $md5 = table_md5($node, 'public.precious');
($rc, $out, $err) = run_rebuild($node, '--cleanup');
is($rc, 3, 'a superuser\'s --cleanup of the forged run: exit 3 (the run\'s record stays)');
like($out, qr/^run \d+ on "public"\."precious" \(role app\) is dead/m, '... it took the run as app\'s');
like($err, qr/left alone: shadow table "public"\."precious" \(OID $precious\), recorded by run \d+ in \Q$app_state\E: its name is not the one pg_rebuild gives a shadow table/,
	'... owner\'s table is left alone: not the name of a shadow');
like($err, qr/left alone: trigger audit on "public"\."precious" .*its name is not/, '... so is owner\'s trigger');
like($err, qr/left alone: function "public"\."audit_fn" .*its name is not/, '... and owner\'s function');
like($err, qr/left alone: shadow table "public"\."pgrebuild_new_$precious" .*it is owned by role owner, not by role app/,
	'... a shadow-like table of owner\'s is left alone: another owner');
like($err, qr/left alone: old table "public"\."pgrebuild_old_$precious" .*(?:not the run's original table|does not carry pg_rebuild's mark)/,
	'... app\'s own look-alike too: not the run\'s, unmarked');
unlike($out, qr/^\s+removed /m, '... nothing is reported removed');
is(table_md5($node, 'public.precious'), $md5, 'precious still holds every row');
is(table_triggers($node, 'public.precious'), 'audit', 'its trigger is still there');
ok(relation_exists($node, "public.pgrebuild_new_$precious") && relation_exists($node, "public.pgrebuild_old_$precious"),
	'the look-alikes are still there');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_proc WHERE proname = 'audit_fn'}), 1,
	'the function is still there');
is(app_is_superuser(), 'f', 'app is still not a superuser');
is(evil_calls(), 0, 'nothing of app\'s ran');

# The shared schema of earlier releases, owned by owner and granted to app (as the earlier release told
# users to do for a second role): app forges a record naming precious.  Not trusted, nothing removed.
as_app(qq{DELETE FROM "$app_state".runs});
$node->safe_psql(
	'postgres', qq{
	SET ROLE owner;
	CREATE SCHEMA pgrebuild;
	CREATE TABLE pgrebuild.meta (version integer NOT NULL);
	INSERT INTO pgrebuild.meta VALUES (1);
	CREATE TABLE pgrebuild.runs (run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, relid oid NOT NULL,
		schema_name text NOT NULL, table_name text NOT NULL, lock_key bigint NOT NULL, phase text NOT NULL,
		pid integer NOT NULL DEFAULT pg_catalog.pg_backend_pid(), client text,
		started timestamptz NOT NULL DEFAULT pg_catalog.now(), updated timestamptz NOT NULL DEFAULT pg_catalog.now());
	CREATE TABLE pgrebuild.run_objects (run_id bigint NOT NULL REFERENCES pgrebuild.runs ON DELETE CASCADE,
		kind text NOT NULL, schema_name text NOT NULL, object_name text NOT NULL, table_schema text,
		table_name text, PRIMARY KEY (run_id, kind, schema_name, object_name));
	GRANT USAGE, CREATE ON SCHEMA pgrebuild TO app;
	GRANT ALL ON ALL TABLES IN SCHEMA pgrebuild TO app;
});
as_app(
	qq{
	INSERT INTO pgrebuild.runs (relid, schema_name, table_name, lock_key, phase)
		VALUES ($precious, 'public', 'precious', 1, 'replay');
	INSERT INTO pgrebuild.run_objects SELECT max(run_id), 'shadow', 'public', 'precious', NULL, NULL FROM pgrebuild.runs;
});
($rc, $out, $err) = run_rebuild($node, '--cleanup');
is($rc, 1, 'the shared schema granted to app: --cleanup exits 1');
like($err, qr/does not trust schema "pgrebuild" \(owner owner\)/, '... it does not trust it');
like($err, qr/^pg_rebuild: detail: pgrebuild\.run_objects grants INSERT to app$/m, '... because app may write it');
is(table_md5($node, 'public.precious'), $md5, 'precious still holds every row');
is(app_is_superuser(), 'f', 'app is still not a superuser');
is(evil_calls(), 0, 'nothing of app\'s ran');

# ------------------------------------------------------------------------
# Default privileges by which owner's new tables are granted to app (a common setup): what pg_rebuild
# creates in owner's state schema is granted to nobody all the same, and owner's runs go on.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', qq{
	DROP SCHEMA pgrebuild CASCADE;
	DROP SCHEMA "$owner_state" CASCADE;
	ALTER DEFAULT PRIVILEGES FOR ROLE owner GRANT SELECT, INSERT, UPDATE, DELETE, TRIGGER ON TABLES TO app;
	ALTER DEFAULT PRIVILEGES FOR ROLE owner GRANT ALL ON SEQUENCES TO app;
});
my ($env, $files) = wait_env($node, 'REPLAY_BATCH');
my $h = start_rebuild($node, { env => $env }, '-U', 'owner', '-t', 'public.orders');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at REPLAY_BATCH$/m), 'a run of owner under those default privileges');
my $orders = table_oid($node, 'public.orders');
is( $node->safe_psql(
		'postgres', qq{
		SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c
		WHERE c.relnamespace = '"$owner_state"'::regnamespace
		  AND (has_table_privilege('app', c.oid, 'INSERT') OR has_table_privilege('app', c.oid, 'UPDATE')
		       OR has_table_privilege('app', c.oid, 'TRIGGER')
		       OR (c.relkind = 'S' AND has_sequence_privilege('app', c.oid, 'UPDATE')))}),
	'', 'app may write nothing in owner\'s state schema: runs, run_objects, meta, the log table and their sequences');
ok(relation_exists($node, "$owner_state.log_$orders"), '... the log table included');
release_wait($files->{REPLAY_BATCH});
($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'the run finishes');
($rc, $out, $err) = run_rebuild($node, '-U', 'owner', '-t', 'public.orders');
is($rc, 0, 'and the next one trusts the state schema');
($rc, $out, $err) = run_rebuild($node, '--status');
is($err, '', 'the administrator\'s --status trusts it too');

$node->stop;
done_testing();
