# 040_roles.pl: several roles use pg_rebuild in one database, in every order: an administrator (a superuser)
# and two table owners.  Each role keeps its runs in its own state schema; each can run, see and clean up its
# own runs, whoever came first; --status and --cleanup say whose runs they could not look at and what would
# let them; a member of an owner's role sees that owner's runs.  A database that holds the shared schema of
# an earlier release: its dead run is listed, refused as a leftover, and cleaned up, and the schema removed.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('roles', log_statement => 'none');
my $admin = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql(
	'postgres', q{
	CREATE ROLE o1 LOGIN;
	CREATE ROLE o2 LOGIN;
	CREATE ROLE m1 LOGIN IN ROLE o1;   -- a member of o1 (a team's login role)
});
my %table = (o1 => 'public.t1', o2 => 'public.t2', $admin => 'public.ta');
my ($rc, $out, $err);

sub as
{
	my ($role) = @_;
	return $role eq $admin ? () : ('-U', $role);
}

# Every order of the administrator and the two owners, each in a database of its own.
my @orders = ([ $admin, 'o1', 'o2' ], [ $admin, 'o2', 'o1' ], [ 'o1', $admin, 'o2' ],
	[ 'o1', 'o2', $admin ], [ 'o2', $admin, 'o1' ], [ 'o2', 'o1', $admin ]);
my $n = 0;
for my $order (@orders)
{
	$n++;
	my $db = "roles$n";
	my $label = join(' then ', map { $_ eq $admin ? 'admin' : $_ } @$order);
	$node->safe_psql('postgres', "CREATE DATABASE $db; GRANT CREATE ON DATABASE $db TO o1, o2");
	$node->safe_psql(
		$db, q{
		GRANT CREATE, USAGE ON SCHEMA public TO o1, o2;
		CREATE TABLE public.ta (id int PRIMARY KEY, v text);
		INSERT INTO public.ta SELECT g, 'a' || g FROM generate_series(1, 2000) g;
		SET ROLE o1;
		CREATE TABLE public.t1 (id int PRIMARY KEY, v text);
		INSERT INTO public.t1 SELECT g, 'o1 ' || g FROM generate_series(1, 2000) g;
		RESET ROLE;
		SET ROLE o2;
		CREATE TABLE public.t2 (id int PRIMARY KEY, v text);
		INSERT INTO public.t2 SELECT g, 'o2 ' || g FROM generate_series(1, 2000) g;
	});
	my @failures;
	for my $role (@$order)
	{
		my @t = ($table{$role});
		push @t, $table{o1} if $role eq $admin;    # the administrator also rebuilds a table of o1
		for my $t (@t)
		{
			my $oid = table_oid($node, $t, dbname => $db);
			($rc, $out, $err) = run_rebuild($node, as($role), "dbname=$db", '-t', $t);
			push @failures, "$role rebuilding $t: exit $rc: $err" if $rc != 0;
			push @failures, "$role rebuilding $t: the table was not replaced"
			  if table_oid($node, $t, dbname => $db) eq $oid;
		}
		($rc, $out, $err) = run_rebuild($node, as($role), "dbname=$db", '--status');
		push @failures, "$role --status: exit $rc: $err" if $rc != 0;
		($rc, $out, $err) = run_rebuild($node, as($role), "dbname=$db", '--cleanup');
		push @failures, "$role --cleanup: exit $rc: $err" if $rc != 0;
	}
	is_deeply(\@failures, [], "$label: every role rebuilds, lists and cleans up, whoever came first");
	my %owner = map { split /=/ } grep { $_ ne '' } split /\n/,
	  $node->safe_psql($db, q{SELECT nspname || '=' || pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname LIKE 'pgrebuild%'});
	is_deeply(\%owner,
		{ map { state_schema($node, $_) => $_ } ($admin, 'o1', 'o2') },
		"$label: three state schemas, each owned by the role it is named for (the administrator's run on o1's table used o1's)");
	nothing_left($node, "$label: nothing is left", dbname => $db);
}

# ------------------------------------------------------------------------
# Dead runs of two owners: each role sees and cleans its own; what it may not read, it names.
# ------------------------------------------------------------------------
my $db = "roles$n";
my %dead;
for my $role (qw(o1 o2))
{
	my ($env) = wait_env($node, 'REPLAY_BATCH');
	my $h = start_rebuild($node, { env => $env }, '-U', $role, "dbname=$db", '-t', $table{$role});
	ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at REPLAY_BATCH$/m), "a run of $role is replaying");
	($rc) = kill_rebuild($h, 'KILL');
	is($rc, 137, "... and is killed");
}
ok(wait_tool_gone($node, dbname => $db), 'no session of those runs is left');
my $s1 = state_schema($node, 'o1');
my $s2 = state_schema($node, 'o2');

($rc, $out, $err) = run_rebuild($node, '-U', 'o1', "dbname=$db", '--status');
is($rc, 3, 'o1\'s --status: its dead run (exit 3)');
like($out, qr/^run \d+  table "public"\."t1"  phase replay  .* DEAD \(was pg_rebuild pid \d+ on host \S+, server pid \d+, role o1\)/m,
	'o1 sees its own dead run, with the pg_rebuild process that ran it');
unlike($out, qr/"public"\."t2"/, 'o1 does not see o2\'s run');
like($err, qr/^pg_rebuild: warning: the runs of role o2 \(schema \Q$s2\E, which holds the log table of a recorded run\) were not looked at: role o1 may not act as o2$/m,
	'o1 is told whose runs it did not look at');
like($err, qr/^pg_rebuild: hint: Run pg_rebuild --status as "o2", or as a member of it \(GRANT "o2" TO "o1"\), or as a superuser\.$/m,
	'... and what would let it');

($rc, $out, $err) = run_rebuild($node, '-U', 'm1', "dbname=$db", '--status', '--json');
is($rc, 3, 'm1, a member of o1: --status sees o1\'s dead run');
like($out, qr/"table": "t1".*"role": "o1", "state_schema": "\Q$s1\E", "format": 2, "alive": false/,
	'... as a run of role o1, in o1\'s schema');

($rc, $out, $err) = run_rebuild($node, '-U', 'o1', "dbname=$db", '--cleanup', '-t', 'public.t2');
is($rc, 1, 'o1 --cleanup -t of o2\'s table: exit 1');
like($err, qr/^pg_rebuild: error: the runs of table public\.t2 may be recorded in a state schema that role o1 may not read \(see above\)$/m,
	'... it says it could not look where that table\'s runs are');
is(table_triggers($node, 'public.t2', dbname => $db), 'pgrebuild_capture,pgrebuild_truncate', '... and touched nothing');

($rc, $out, $err) = run_rebuild($node, '-U', 'o1', "dbname=$db", '--cleanup');
is($rc, 0, 'o1 --cleanup: cleans its own run (exit 0)');
like($out, qr/removed trigger pgrebuild_capture on "public"\."t1"/, '... o1\'s run');
like($err, qr/the runs of role o2 .* were not looked at/, '... and says it did not look at o2\'s');
is(table_triggers($node, 'public.t2', dbname => $db), 'pgrebuild_capture,pgrebuild_truncate', 'o2\'s run is untouched');

($rc, $out, $err) = run_rebuild($node, "dbname=$db", '--status');
is($rc, 3, 'the administrator\'s --status sees o2\'s dead run (exit 3)');
like($out, qr/"public"\."t2" .*DEAD .*role o2\)/, '... as o2\'s');
is($err, '', '... and may read every role\'s runs (nothing unseen)');
($rc, $out, $err) = run_rebuild($node, '-U', 'o2', "dbname=$db", '--cleanup');
is($rc, 0, 'o2 cleans its own run');
nothing_left($node, 'nothing is left', dbname => $db);

# ------------------------------------------------------------------------
# The shared schema of an earlier release (format 1), owned by o1, with a dead run of o1's table.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE legacy; GRANT CREATE ON DATABASE legacy TO o1');
$node->safe_psql(
	'legacy', q{
	GRANT CREATE, USAGE ON SCHEMA public TO o1;
	SET ROLE o1;
	CREATE TABLE public.old_t (id bigint PRIMARY KEY, val bigint NOT NULL);
	INSERT INTO public.old_t SELECT g, g FROM generate_series(1, 3000) g;
});
my $old = table_oid($node, 'public.old_t', dbname => 'legacy');
my $key = $node->safe_psql('legacy', "SELECT (x'70677262'::bigint << 32) | $old");
# What the earlier release created: its schema, and the objects of a run killed during its replay.
$node->safe_psql(
	'legacy', qq{
	SET ROLE o1;
	CREATE SCHEMA pgrebuild;
	CREATE TABLE pgrebuild.meta (version integer NOT NULL);
	CREATE TABLE pgrebuild.runs (run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, relid oid NOT NULL,
		schema_name text NOT NULL, table_name text NOT NULL, lock_key bigint NOT NULL, phase text NOT NULL,
		pid integer NOT NULL DEFAULT pg_catalog.pg_backend_pid(), client text,
		started timestamptz NOT NULL DEFAULT pg_catalog.now(), updated timestamptz NOT NULL DEFAULT pg_catalog.now());
	CREATE TABLE pgrebuild.run_objects (run_id bigint NOT NULL REFERENCES pgrebuild.runs ON DELETE CASCADE,
		kind text NOT NULL CHECK (kind IN ('trigger', 'function', 'log', 'shadow', 'old', 'validate')),
		schema_name text NOT NULL, object_name text NOT NULL, table_schema text, table_name text,
		PRIMARY KEY (run_id, kind, schema_name, object_name));
	CREATE FUNCTION pgrebuild.run_alive(lock_key bigint) RETURNS boolean LANGUAGE sql STABLE
		SET search_path = pg_catalog, pg_temp AS \$\$ SELECT false \$\$;
	CREATE FUNCTION pgrebuild.truncate_guard() RETURNS trigger LANGUAGE plpgsql
		SET search_path = pg_catalog, pg_temp AS \$\$ BEGIN RETURN NULL; END \$\$;
	REVOKE ALL ON ALL TABLES IN SCHEMA pgrebuild FROM PUBLIC;
	REVOKE ALL ON FUNCTION pgrebuild.run_alive(bigint) FROM PUBLIC;
	INSERT INTO pgrebuild.meta VALUES (1);
	INSERT INTO pgrebuild.runs (relid, schema_name, table_name, lock_key, phase, client)
		VALUES ($old, 'public', 'old_t', $key, 'replay', 'local socket');
	CREATE TABLE pgrebuild.log_$old (log_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id bigint NOT NULL);
	CREATE FUNCTION pgrebuild.capture_$old() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
		SET search_path = pg_catalog, pg_temp AS \$\$
	BEGIN
		IF TG_OP = 'INSERT' THEN
			INSERT INTO pgrebuild.log_$old (id) VALUES (NEW.id);
		ELSE
			INSERT INTO pgrebuild.log_$old (id) VALUES (OLD.id);
			IF TG_OP = 'UPDATE' AND NOT (NEW.id OPERATOR(pg_catalog.=) OLD.id) THEN
				INSERT INTO pgrebuild.log_$old (id) VALUES (NEW.id);
			END IF;
		END IF;
		RETURN NULL;
	END \$\$;
	REVOKE ALL ON FUNCTION pgrebuild.capture_$old() FROM PUBLIC;
	CREATE TRIGGER pgrebuild_capture AFTER INSERT OR UPDATE OR DELETE ON public.old_t
		FOR EACH ROW EXECUTE FUNCTION pgrebuild.capture_$old();
	ALTER TABLE public.old_t ENABLE ALWAYS TRIGGER pgrebuild_capture;
	CREATE TRIGGER pgrebuild_truncate BEFORE TRUNCATE ON public.old_t
		FOR EACH STATEMENT EXECUTE FUNCTION pgrebuild.truncate_guard('$key');
	ALTER TABLE public.old_t ENABLE ALWAYS TRIGGER pgrebuild_truncate;
	CREATE TABLE public.pgrebuild_new_$old (LIKE public.old_t);
	INSERT INTO pgrebuild.run_objects
	SELECT r.run_id, o.kind, o.sch, o.nm, o.tsch, o.tnm FROM pgrebuild.runs r,
	(VALUES ('log', 'pgrebuild', 'log_$old', NULL, NULL), ('function', 'pgrebuild', 'capture_$old', NULL, NULL),
	        ('trigger', 'public', 'pgrebuild_capture', 'public', 'old_t'),
	        ('trigger', 'public', 'pgrebuild_truncate', 'public', 'old_t'),
	        ('shadow', 'public', 'pgrebuild_new_$old', NULL, NULL)) o(kind, sch, nm, tsch, tnm);
});
$node->safe_psql('legacy', 'INSERT INTO public.old_t VALUES (100000, 1)');
is($node->safe_psql('legacy', "SELECT count(*) FROM pgrebuild.log_$old"), 1,
	'the earlier release\'s leftover trigger logs the application\'s writes');

($rc, $out, $err) = run_rebuild($node, '-U', 'o1', 'dbname=legacy', '--status');
is($rc, 3, 'the earlier release\'s dead run: --status exit 3');
like($out, qr/^run \d+  table "public"\."old_t"  phase replay  .* DEAD \(was server pid \d+, role o1, recorded by an earlier pg_rebuild\)/m,
	'... listed as recorded by an earlier pg_rebuild');
like($out, qr/^    trigger pgrebuild_capture on public\.old_t$/m, '... with its objects');
($rc, $out, $err) = run_rebuild($node, '-U', 'o1', 'dbname=legacy', '--status', '--json');
like($out, qr/"state_schema": "pgrebuild", "format": 1, "alive": false/, '... format 1 in --json');

($rc, $out, $err) = run_rebuild($node, '-U', 'o1', 'dbname=legacy', '-t', 'public.old_t');
is($rc, 1, 'a rebuild of that table: refused');
like($err, qr/a previous pg_rebuild run on "public"\."old_t" did not finish and left objects behind/,
	'... because of the earlier release\'s leftovers');
like($err, qr/^pg_rebuild: hint: Run: pg_rebuild --cleanup /m, '... naming the --cleanup command');

($rc, $out, $err) = run_rebuild($node, '-U', 'o1', 'dbname=legacy', '--cleanup');
is($rc, 0, '--cleanup by o1, who owns the schema: exit 0');
like($out, qr/^  removed trigger pgrebuild_capture on "public"\."old_t"$/m, '... removes the trigger');
like($out, qr/^  removed shadow table "public"\."pgrebuild_new_$old"$/m, '... and the shadow');
like($out, qr/^removed schema "pgrebuild", the shared state of an earlier pg_rebuild \(format 1\)/m,
	'... and then the shared schema, now empty of runs');
is($node->safe_psql('legacy', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'pgrebuild'}), 0, 'the schema is gone');
nothing_left($node, 'nothing of the earlier run is left', dbname => 'legacy');
$node->safe_psql('legacy', 'INSERT INTO public.old_t VALUES (100001, 1)');
($rc, $out, $err) = run_rebuild($node, '-U', 'o1', 'dbname=legacy', '-t', 'public.old_t');
is($rc, 0, 'o1 rebuilds the table afterwards');
is($node->safe_psql('legacy', 'SELECT count(*) FROM public.old_t'), 3002, '... with every row');

$node->stop;
done_testing();
