# 044_preflight.pl: what preflight checks before anything is created.  Every name the run will need and the
# right to create in the table's schema; the table's run lock taken before it is described, so that a run
# started while another one swaps or finishes is always told that another run is active; the tablespace
# named whatever default_tablespace says; a read-only server refused up front, once, with a hint; and, for a
# role that may not see other roles' sessions, a blocker report that says what it cannot see.
use strict;
use warnings;

use File::Path qw(mkpath);
use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('preflight', log_statement => 'none');
$node->safe_psql(
	'postgres', q{
	CREATE ROLE owner LOGIN;
	CREATE ROLE other LOGIN;
	GRANT CREATE ON DATABASE postgres TO owner;
	GRANT CREATE, USAGE ON SCHEMA public TO owner;
	GRANT USAGE ON SCHEMA public TO other;
});
my ($rc, $out, $err);

# Every state schema and pgrebuild_* object in the database: nothing may appear after a refusal.
my $catalog_sql = q{
	SELECT coalesce(string_agg(x, ',' ORDER BY x), '') FROM (
		SELECT nspname::text AS x FROM pg_namespace WHERE nspname LIKE 'pgrebuild%'
		UNION ALL SELECT relname::text FROM pg_class WHERE relname LIKE 'pgrebuild%' OR relname LIKE 'log\_%'
		UNION ALL SELECT proname::text FROM pg_proc WHERE proname LIKE 'capture\_%') s};

# ------------------------------------------------------------------------
# Finding 10: every name the run will need is checked before anything is created.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	SET ROLE owner;
	CREATE TABLE public.named (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
	INSERT INTO public.named (v) SELECT 'v' || g FROM generate_series(1, 1000) g;
});
my $oid = table_oid($node, 'public.named');
my $ix = $node->safe_psql('postgres', q{SELECT 'public.named_pkey'::regclass::oid});
my $catalog = $node->safe_psql('postgres', $catalog_sql);
is($catalog, '', 'no pg_rebuild object in the database yet');
for my $case (
	[ "relation public.pgrebuild_i$ix", "CREATE TABLE public.pgrebuild_i$ix (a int)", "DROP TABLE public.pgrebuild_i$ix" ],
	[ "relation public.pgrebuild_old_i$ix", "CREATE TABLE public.pgrebuild_old_i$ix (a int)", "DROP TABLE public.pgrebuild_old_i$ix" ],
	[ "relation public.pgrebuild_seq_${oid}_1", "CREATE SEQUENCE public.pgrebuild_seq_${oid}_1", "DROP SEQUENCE public.pgrebuild_seq_${oid}_1" ],
	[ "relation public.pgrebuild_oldseq_${oid}_1", "CREATE TABLE public.pgrebuild_oldseq_${oid}_1 (a int)", "DROP TABLE public.pgrebuild_oldseq_${oid}_1" ],
	[ "type public.pgrebuild_new_$oid", "CREATE TYPE public.pgrebuild_new_$oid AS (a int)", "DROP TYPE public.pgrebuild_new_$oid" ],
	[ "relation public.pgrebuild_old_$oid", "CREATE VIEW public.pgrebuild_old_$oid AS SELECT 1 AS a", "DROP VIEW public.pgrebuild_old_$oid" ],
	[
		'trigger pgrebuild_capture on table public.named is a leftover of a pg_rebuild run that has no record: check it, then drop it',
		q{CREATE FUNCTION public.noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
		  CREATE TRIGGER pgrebuild_capture AFTER INSERT ON public.named FOR EACH ROW EXECUTE FUNCTION public.noop()},
		'DROP TRIGGER pgrebuild_capture ON public.named; DROP FUNCTION public.noop()',
		qr/^pg_rebuild: error: "public"\."named" cannot be rebuilt: 1 thing around it would not survive the swap$/m
	])
{
	my ($what, $make, $drop, $error) = @$case;
	$node->safe_psql('postgres', "SET ROLE owner; $make");
	my $before = $node->safe_psql('postgres', $catalog_sql);
	($rc, $out, $err) = run_rebuild($node, '-U', 'owner', '-t', 'public.named');
	is($rc, 1, "$what in the way: exit 1");
	like($err, $error // qr/^pg_rebuild: error: "public"\."named" cannot be rebuilt: \d+ things? (?:is|are) in the way of what the run creates$/m,
		"$what in the way: refused at preflight");
	like($err, qr/^pg_rebuild: detail: \Q$what\E$/m, "$what in the way: it is named");
	like($err, qr/^pg_rebuild: detail: Nothing was changed\.$/m, "$what in the way: nothing was changed");
	unlike($out, qr/^phase install/m, "$what in the way: no phase after preflight ran");
	is($node->safe_psql('postgres', $catalog_sql), $before, "$what in the way: nothing was created (no state schema, log table, function)");
	$node->safe_psql('postgres', "SET ROLE owner; $drop");
}

# The right to create in the table's schema (the shadow is built there).
$node->safe_psql(
	'postgres', q{
	CREATE SCHEMA locked;
	GRANT USAGE ON SCHEMA locked TO owner;
	CREATE TABLE locked.t (id int PRIMARY KEY, v text);
	ALTER TABLE locked.t OWNER TO owner;
	INSERT INTO locked.t SELECT g, 'v' FROM generate_series(1, 100) g;
});
($rc, $out, $err) = run_rebuild($node, '-U', 'owner', '-t', 'locked.t');
is($rc, 1, 'no CREATE on the table\'s schema: exit 1');
like($err, qr/^pg_rebuild: detail: no CREATE right on schema locked, where the new table is built$/m,
	'no CREATE on the table\'s schema: said at preflight');
is($node->safe_psql('postgres', $catalog_sql), '', 'no CREATE on the table\'s schema: nothing was created');
$node->safe_psql('postgres', 'GRANT CREATE ON SCHEMA locked TO owner');
($rc, $out, $err) = run_rebuild($node, '-U', 'owner', '-t', 'locked.t');
is($rc, 0, 'with CREATE granted, the owner rebuilds it');

# A role that may create no schema in the database, and has no state schema yet: refused up front, with
# the GRANT or the CREATE SCHEMA that fixes it.
$node->safe_psql(
	'postgres', q{
	CREATE ROLE nocreate LOGIN;
	GRANT USAGE, CREATE ON SCHEMA public TO nocreate;
	SET ROLE nocreate;
	CREATE TABLE public.nc (id int PRIMARY KEY);
	INSERT INTO public.nc SELECT generate_series(1, 100);
});
my $nc_state = state_schema($node, 'nocreate');
($rc, $out, $err) = run_rebuild($node, '-U', 'nocreate', '-t', 'public.nc');
is($rc, 1, 'a role without CREATE on the database and no state schema: exit 1');
like($err, qr/^pg_rebuild: error: role nocreate may not create schemas in database postgres, and pg_rebuild keeps the runs of nocreate in a schema of its own, \Q$nc_state\E, which does not exist yet$/m,
	'... says why');
like($err, qr/^pg_rebuild: hint: .*GRANT CREATE ON DATABASE "postgres" TO "nocreate", or CREATE SCHEMA "\Q$nc_state\E" AUTHORIZATION "nocreate"\.$/m,
	'... and what fixes it');
# An administrator's run creates it for the role, owned by the role; then the role runs alone.
($rc, $out, $err) = run_rebuild($node, '-t', 'public.nc');
is($rc, 0, 'a superuser rebuilds the table of nocreate');
is($node->safe_psql('postgres', "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = '$nc_state'"),
	'nocreate', '... and made the state schema of nocreate, owned by nocreate');
($rc, $out, $err) = run_rebuild($node, '-U', 'nocreate', '-t', 'public.nc');
is($rc, 0, 'from then on nocreate rebuilds its table itself');

# ------------------------------------------------------------------------
# Finding 6: the tablespace is named, whatever default_tablespace says.
# ------------------------------------------------------------------------
my $tsdir = $node->basedir . '/ts1';
mkpath($tsdir);
$node->safe_psql('postgres', "CREATE TABLESPACE ts1 LOCATION '$tsdir'; GRANT CREATE ON TABLESPACE ts1 TO owner");
$node->safe_psql('postgres', 'ALTER ROLE owner IN DATABASE postgres SET default_tablespace = ts1');
$node->safe_psql(
	'postgres', q{
	SET ROLE owner;
	SET default_tablespace = '';
	CREATE TABLE public.spaced (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text);
	CREATE INDEX spaced_v ON public.spaced (v);
	INSERT INTO public.spaced (v) SELECT 'v' || g FROM generate_series(1, 2000) g;
});
my $where_sql = q{SELECT string_agg(c.relname || '=' || coalesce(t.spcname, 'default'), ',' ORDER BY c.relname)
	FROM pg_class c LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
	WHERE c.relname IN ('spaced', 'spaced_pkey', 'spaced_v')};
is($node->safe_psql('postgres', $where_sql), 'spaced=default,spaced_pkey=default,spaced_v=default',
	'the table and its indexes are in the database\'s default tablespace');
my ($env, $files) = wait_env($node, 'REPLAY_BATCH');
my $h = start_rebuild($node, { env => $env }, '-U', 'owner', '-t', 'public.spaced');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at REPLAY_BATCH$/m), 'a run of owner, whose default_tablespace is ts1');
my $soid = table_oid($node, 'public.spaced');
my $owner_state = state_schema($node, 'owner');
is($node->safe_psql('postgres',
		"SELECT string_agg(relname || '=' || reltablespace, ',' ORDER BY relname) FROM pg_class WHERE relname IN ('pgrebuild_new_$soid', 'log_$soid')"),
	"log_$soid=0,pgrebuild_new_$soid=0", 'the shadow and the log table are in the default tablespace, not ts1');
release_wait($files->{REPLAY_BATCH});
($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'the rebuild succeeded');
is($node->safe_psql('postgres', $where_sql), 'spaced=default,spaced_pkey=default,spaced_v=default',
	'the rebuilt table and its indexes stayed in the default tablespace');
$node->safe_psql('postgres', 'ALTER ROLE owner IN DATABASE postgres RESET default_tablespace');

# ------------------------------------------------------------------------
# Finding 8: a second run started while the first one replays, waits for the swap lock, swaps or finishes
# is told, every time, that another run is active.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE public.busy (id int PRIMARY KEY, v text NOT NULL);
	INSERT INTO public.busy SELECT g, 'v' || g FROM generate_series(1, 20000) g;
	CREATE INDEX busy_v ON public.busy (v);
});
for my $point (qw(REPLAY_BATCH SWAP_PREREAD BEFORE_SWAP_COMMIT FINISH))
{
	($env, $files) = wait_env($node, $point);
	my $first = start_rebuild($node, { env => $env }, '-t', 'public.busy');
	ok(wait_for_output($first, qr/^pg_rebuild: test: pausing at $point$/m), "$point: the first run is there");
	($rc, $out, $err) = run_rebuild($node, '-t', 'public.busy');
	is($rc, 1, "$point: a second run exits 1");
	like($err, qr/^pg_rebuild: error: another pg_rebuild run is active on "public"\."busy"$/m,
		"$point: it says another run is active");
	unlike($err, qr/replay key|pgrebuild_old|could not open relation/, "$point: and nothing else");
	release_wait($files->{$point});
	my ($frc) = finish_rebuild($first);
	is($frc, 0, "$point: the first run finishes");
}
# As in the finding: second runs started one after another while a first run goes through the replay, the
# swap and the finish: each says another run is active, until the first has ended.
# The race starts once the first run is past its install, so that it holds the table's advisory lock:
# before that, a second run may legitimately be the one that gets there first.
($env, $files) = wait_env($node, 'AFTER_INSTALL');
my $first = start_rebuild($node, { env => $env }, '-t', 'public.busy');
ok(wait_for_output($first, qr/^pg_rebuild: test: pausing at AFTER_INSTALL$/m),
	'the first run is past its install (it holds the table)');
release_wait($files->{AFTER_INSTALL});
my (%said, @other);
while (1)
{
	my $running = rebuild_running($first);
	($rc, $out, $err) = run_rebuild($node, '-q', '-t', 'public.busy');
	if ($rc == 1 && $err =~ /^pg_rebuild: error: another pg_rebuild run is active on "public"\."busy"$/m)
	{
		$said{active}++;
	}
	elsif ($rc == 0 && !$running)
	{
		$said{rebuilt}++;
		last;
	}
	elsif ($rc == 0)
	{
		$said{rebuilt_meanwhile}++;    # the first one ended while this one started
		last;
	}
	else
	{
		push @other, "exit $rc: $err";
		last;
	}
}
my ($frc, $fout, $ferr) = finish_rebuild($first);
is($frc, 0, 'the first run, raced by second runs, finishes') or diag("first run's stderr: $ferr");
is_deeply(\@other, [], 'every second run said another run was active, or rebuilt once the first had ended');
note('second runs: ' . join(', ', map { "$_ $said{$_}" } sort keys %said));
nothing_left($node, 'nothing is left');

# ------------------------------------------------------------------------
# Finding 11: the blocker report of a role that may not see other roles' sessions.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', 'GRANT SELECT ON public.named TO other');
my $blocker = $node->background_psql('postgres', extra_params => [ '-U', 'other' ]);
$blocker->query_safe('BEGIN; SELECT count(*) FROM public.named');
my $bpid = $blocker->query_safe('SELECT pg_backend_pid()');
($rc, $out, $err) = run_rebuild($node, '-U', 'owner', '-t', 'public.named', '-T', '1');
is($rc, 3, 'the swap could not get its lock within -T 1: exit 3 (its triggers could not be dropped either)');
like($out, qr/^swap: attempt \d+ waiting for a lock on "public"\."named" .*: blocked by pid $bpid holding AccessShareLock, a session of role other: how long its transaction has been open, and its query, are not visible to role owner \(members of pg_read_all_stats see them\)$/m,
	'the blocker is named with its role, and what owner may not see is said so');
unlike($out, qr/transaction open 0\.0 s|insufficient privilege/, 'no made-up age, no "<insufficient privilege>"');
$blocker->query_safe('COMMIT');
$blocker->quit;
($rc) = run_rebuild($node, '-U', 'owner', '--cleanup');
is($rc, 0, 'the blocker gone, --cleanup removes what the run left');

# ... and the default_transaction_read_only of a provider's maintenance mode.
$node->safe_psql('postgres', 'ALTER ROLE owner SET default_transaction_read_only = on');
$catalog = $node->safe_psql('postgres', $catalog_sql);
($rc, $out, $err) = run_rebuild($node, '-U', 'owner', '-t', 'public.named');
is($rc, 1, 'read-only transactions only: exit 1');
like($err, qr/^pg_rebuild: error: the server accepts only read-only transactions from this session: default_transaction_read_only is on, set for the role$/m,
	'read-only: it says so, and where it is set');
my @nothing = $err =~ /Nothing was changed/g;
is(scalar @nothing, 1, 'read-only: "Nothing was changed" once');
like($err, qr/^pg_rebuild: hint: Run again when the maintenance is over\. .*PGOPTIONS='-c default_transaction_read_only=off'/m,
	'read-only: with a hint');
is($node->safe_psql('postgres', $catalog_sql), $catalog, 'read-only: nothing was created');
($rc, $out, $err) = run_rebuild($node, '-U', 'owner', '--cleanup');
is($rc, 1, 'read-only: --cleanup is refused up front too');
like($err, qr/default_transaction_read_only is on/, 'read-only: --cleanup says why');
($rc, $out, $err) = run_rebuild($node, '-U', 'owner', '--status');
is($rc, 0, 'read-only: --status works (it writes nothing)');
($rc, $out, $err) = run_rebuild($node, { env => { PGOPTIONS => '-c default_transaction_read_only=off' } },
	'-U', 'owner', '-t', 'public.named');
is($rc, 0, 'read-only as the role\'s own setting: PGOPTIONS overrides it, as the hint says');
$node->safe_psql('postgres', 'ALTER ROLE owner RESET default_transaction_read_only');

$node->stop;
done_testing();
