# 031_alter.pl: --alter under the ledger write load, one supported subcommand
# at a time: pg_dump --schema-only after the run is exactly what PostgreSQL's
# own ALTER TABLE gives on a copy of the schema, the rows are the same
# (through the USING expression where given), and the ledger balances.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('alter', log_statement => 'none');
my $ts_dir = PostgreSQL::Test::Utils::tempdir_short();
$node->safe_psql('postgres', qq{
	SET client_min_messages = warning;
	CREATE ROLE reader;
	CREATE TABLESPACE fast LOCATION '$ts_dir';
});

# The schema "app": t (id int primary key, the load's val, stable columns the
# load never touches, keyed by code), two tables referencing t.id, and a
# chain of views with options, grants and comments.  snap keeps the stable
# columns as they were.
my $schema_sql = q{
	SET client_min_messages = warning;
	DROP SCHEMA IF EXISTS app CASCADE;
	DROP TABLE IF EXISTS public.snap;
	CREATE SCHEMA app;
	GRANT USAGE ON SCHEMA app TO reader;
	CREATE TABLE app.t (
		id int PRIMARY KEY,
		val bigint NOT NULL,
		code int UNIQUE,
		payload text,
		kind text DEFAULT 'a',
		legacy text,
		n int,
		note text DEFAULT 'app',
		body text
	);
	INSERT INTO app.t SELECT g, g % 100, g, '{"k": ' || g || '}', CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END,
		'old ' || g, g, 'note ' || g, repeat('x', 50) FROM generate_series(1, 8000) g;
	CREATE INDEX t_n ON app.t (n);
	CREATE TABLE app.fk1 (id serial PRIMARY KEY, t_id int REFERENCES app.t ON DELETE CASCADE ON UPDATE CASCADE);
	CREATE TABLE app.fk2 (id serial PRIMARY KEY, t_id int REFERENCES app.t ON DELETE CASCADE ON UPDATE CASCADE);
	INSERT INTO app.fk1 (t_id) SELECT g FROM generate_series(1, 8000, 7) g;
	INSERT INTO app.fk2 (t_id) SELECT g FROM generate_series(1, 8000, 11) g;
	CREATE VIEW app.v1 WITH (security_barrier) AS SELECT id, val, kind FROM app.t WHERE kind = 'a';
	CREATE VIEW app.v2 AS SELECT id * 2 AS d, kind FROM app.v1;
	CREATE VIEW app.v_kind AS SELECT kind, count(*) AS c FROM app.t GROUP BY kind;
	GRANT SELECT ON app.v1 TO reader;
	GRANT SELECT (d) ON app.v2 TO reader;
	COMMENT ON VIEW app.v1 IS 'kind a';
	COMMENT ON COLUMN app.v2.d IS 'doubled';
	CREATE TABLE public.snap AS SELECT code, payload, kind, legacy, n, note, body FROM app.t;
	ANALYZE;
};

# pg_dump of the client refuses a newer server: the schema is then compared
# through the catalog description (schema_description), rebuilt in the
# other database from the same SQL instead of restored from a dump.
my $can_dump = client_serves($node, 'pg_dump');
note(sprintf('pg_dump %d refuses PostgreSQL %d: schemas are compared by their catalog description',
		program_major('pg_dump'), server_major($node)))
  unless $can_dump;
my @dump_base = ('pg_dump', '--schema-only', '-n', 'app');
sub dump_of
{
	my ($db) = @_;
	my ($out, $err);
	return schema_description($node, ['app'], dbname => $db) unless $can_dump;
	IPC::Run::run([ @dump_base, '-d', $node->connstr($db) ], '>', \$out, '2>', \$err)
	  or die "pg_dump failed: $err";
	$out =~ s/^\\(un)?restrict .*$//mg;
	return $out;
}

# What PostgreSQL's own ALTER TABLE makes of the schema: a copy restored in
# another database, changed there with $ref_sql, dumped.
sub expected_dump
{
	my ($before, $ref_sql) = @_;
	$node->safe_psql('postgres', 'DROP DATABASE IF EXISTS ref');
	$node->safe_psql('postgres', 'CREATE DATABASE ref');
	my ($out, $err);
	if (!$can_dump)
	{
		$node->safe_psql('ref', $schema_sql);
	}
	else
	{
		IPC::Run::run([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('ref') ],
			'<', \$before, '>', \$out, '2>', \$err)
		  or die "restoring the schema failed: $err";
	}
	$node->safe_psql('ref', $ref_sql);
	return dump_of('ref');
}

sub show_diff
{
	my ($got, $want) = @_;
	my %g = map { $_ => 1 } split /\n/, $got;
	my %w = map { $_ => 1 } split /\n/, $want;
	diag(join("\n", (map { "expected: $_" } grep { !$g{$_} } split /\n/, $want),
			(map { "got:      $_" } grep { !$w{$_} } split /\n/, $got)));
}

sub oid_of { $node->safe_psql('postgres', "SELECT 'app.t'::regclass::oid") }

# One supported change under the ledger load.  $ref_sql changes the copy of
# the schema as a DBA would with plain DDL; $after is the stable columns as
# they must read after the run, as SQL over snap s; $method optional.
sub alter_case
{
	my (%c) = @_;
	my $name = $c{name};
	$node->safe_psql('postgres', $schema_sql);
	my $before = dump_of('postgres');
	my $expected = expected_dump($before, $c{ref_sql});
	my $oid = oid_of();
	my $load = start_ledger_load($node, table => 'app.t', clients => 3, rate => 150);
	my $scans_sql = q{SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'app.t'::regclass};
	my $scans = $node->safe_psql('postgres', $scans_sql);
	my ($rc, $out, $err) = run_rebuild($node, '-t', 'app.t', @{ $c{args} });
	# pg_rebuild's sessions have ended: their statistics are in
	my $scanned = $node->safe_psql('postgres', $scans_sql) - $scans;
	my $stats = stop_ledger_load($load);
	is($rc, 0, "$name: exit 0") or diag($err);
	cmp_ok($stats->{transactions}, '>', 0, "$name: the application wrote during the run");
	check_ledger($node, $load, "$name: the ledger balances (count and sum of val)");
	my $got = dump_of('postgres');
	is($got, $expected, "$name: pg_dump --schema-only is what ALTER TABLE gives, and nothing else")
	  or show_diff($got, $expected);
	my $cols = $c{cols} // 'payload, kind, legacy, n, note, body';
	my $want = $c{after} // $cols;
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM (SELECT code, ROW($cols)::text AS r FROM app.t) x JOIN public.snap s USING (code)
		WHERE x.r IS DISTINCT FROM (SELECT ROW($want)::text FROM (SELECT s.*) s2)}), '0',
		"$name: every row that was there holds the same data" . ($c{after} ? ' (through the change)' : ''));
	is($node->safe_psql('postgres',
			'SELECT count(*) FROM app.t WHERE code IS NOT NULL AND code NOT IN (SELECT code FROM public.snap)'),
		'0', "$name: no row invented");
	if ($c{in_place})
	{
		is(oid_of(), $oid, "$name: changed in place (same OID)");
		# the NULL count and VALIDATE scan the table; SET NOT NULL must not
		is($scanned, 2, "$name: two scans of the table (the NULL count, VALIDATE), none by SET NOT NULL");
	}
	else
	{
		isnt(oid_of(), $oid, "$name: a new table");
	}
	is($node->safe_psql('postgres', 'SELECT count(*) FROM app.v2') > 0 ? 1 : 0, 1, "$name: the views read the table");
	is_deeply([ run_leftovers($node) ], [], "$name: nothing left behind");
	$c{check}->($out, $err) if $c{check};
	return ($rc, $out, $err);
}

# The views as a DBA re-creates them around a type change of id.
my $views_again = q{
	CREATE VIEW app.v1 WITH (security_barrier) AS SELECT id, val, kind FROM app.t WHERE kind = 'a';
	CREATE VIEW app.v2 AS SELECT id * 2 AS d, kind FROM app.v1;
	GRANT SELECT ON app.v1 TO reader;
	GRANT SELECT (d) ON app.v2 TO reader;
	COMMENT ON VIEW app.v1 IS 'kind a';
	COMMENT ON COLUMN app.v2.d IS 'doubled';
};

alter_case(
	name => 'int to bigint of the primary key, referenced by two foreign keys, read by a view chain',
	args => [ '--alter', 'ALTER COLUMN id TYPE bigint' ],
	ref_sql => "BEGIN; DROP VIEW app.v2, app.v1; ALTER TABLE app.t ALTER COLUMN id TYPE bigint; $views_again COMMIT",
	check => sub {
		my ($out, $err) = @_;
		like($out, qr/^foreign key "fk1_t_id_fkey" of app\.fk1 references a column whose type changes: it goes on working/m,
			'key type: the foreign keys on it are named');
		like($out, qr/^foreign key "fk2_t_id_fkey" of app\.fk2 references a column whose type changes/m,
			'key type: both of them');
		is($node->safe_psql('postgres', q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
			WHERE attrelid = 'app.v2'::regclass AND attname = 'd'}), 'bigint', 'key type: the view on the view follows');
		is($node->safe_psql('postgres', q{SET ROLE reader; SELECT count(*) > 0 FROM app.v1}), 't',
			'key type: the grant on the view was made again');
		my ($r, $o, $e) = $node->psql('postgres', 'INSERT INTO app.fk1 (t_id) VALUES (-5)');
		like($e, qr/violates foreign key constraint "fk1_t_id_fkey"/, 'key type: the foreign key still rejects an orphan');
		is($node->safe_psql('postgres', q{SELECT string_agg(convalidated::text, ',') FROM pg_constraint
			WHERE conname IN ('fk1_t_id_fkey', 'fk2_t_id_fkey')}), 'true,true', 'key type: validated again');
		$node->safe_psql('postgres', 'INSERT INTO app.t (id, val) VALUES (3000000000, 1)');
		pass('key type: a bigint key is accepted');
	});

alter_case(
	name => 'text to jsonb USING',
	args => [ '--alter', 'ALTER COLUMN payload TYPE jsonb USING payload::jsonb' ],
	ref_sql => 'ALTER TABLE app.t ALTER COLUMN payload TYPE jsonb USING payload::jsonb',
	after => 'payload::jsonb, kind, legacy, n, note, body');

alter_case(
	name => 'SET NOT NULL (rebuild)',
	args => [ '--alter', 'ALTER COLUMN note SET NOT NULL', '--method', 'rebuild' ],
	ref_sql => 'ALTER TABLE app.t ALTER COLUMN note SET NOT NULL');

alter_case(
	name => 'ADD CONSTRAINT CHECK',
	args => [ '--alter', q{ADD CONSTRAINT kind_known CHECK (kind IN ('a', 'b'))} ],
	ref_sql => q{ALTER TABLE app.t ADD CONSTRAINT kind_known CHECK (kind IN ('a', 'b'))});

alter_case(
	name => 'DROP COLUMN',
	args => [ '--alter', 'DROP COLUMN legacy' ],
	ref_sql => 'ALTER TABLE app.t DROP COLUMN legacy',
	cols => 'payload, kind, n, note, body');

alter_case(
	name => 'SET DEFAULT',
	args => [ '--alter', q{ALTER COLUMN kind SET DEFAULT 'z'} ],
	ref_sql => q{ALTER TABLE app.t ALTER COLUMN kind SET DEFAULT 'z'});

alter_case(
	name => 'SET storage parameters',
	args => [ '--alter', 'SET (fillfactor = 70)', '--alter', 'RESET (autovacuum_enabled)' ],
	ref_sql => 'ALTER TABLE app.t SET (fillfactor = 70)');

alter_case(
	name => 'SET TABLESPACE',
	args => [ '--alter', 'SET TABLESPACE fast' ],
	ref_sql => 'ALTER TABLE app.t SET TABLESPACE fast',
	check => sub {
		is($node->safe_psql('postgres', q{SELECT spcname FROM pg_class c JOIN pg_tablespace s ON s.oid = c.reltablespace
			WHERE c.oid = 'app.t'::regclass}), 'fast', 'the table is in the new tablespace');
	});

alter_case(
	name => 'SET STORAGE and SET COMPRESSION',
	args => [ '--alter', 'ALTER COLUMN body SET STORAGE EXTERNAL, ALTER COLUMN note SET COMPRESSION pglz' ],
	ref_sql => 'ALTER TABLE app.t ALTER COLUMN body SET STORAGE EXTERNAL, ALTER COLUMN note SET COMPRESSION pglz');

alter_case(
	name => 'NOT NULL in place (--set-not-null --method in-place)',
	args => [ '--set-not-null', 'note', '--method', 'in-place' ],
	ref_sql => 'ALTER TABLE app.t ALTER COLUMN note SET NOT NULL',
	in_place => 1,
	check => sub {
		my ($out) = @_;
		like($out, qr/^  method: in place \(asked with --method=in-place\)$/m, 'in place: the method is said');
		like($out, qr/^phase validate /m, 'in place: validated');
		like($out, qr/^phase set not null .*ACCESS EXCLUSIVE held \d+ ms/m, 'in place: the lock time is reported');
		unlike($out, qr/^phase copy/m, 'in place: no copy');
		is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgrebuild%'}), '0',
			'in place: its CHECK constraints are gone');
	});

# auto: a compact table, NOT NULL only: in place, and said why.
$node->safe_psql('postgres', $schema_sql);
my ($rc, $out, $err) = run_rebuild($node, '-t', 'app.t', '--alter', 'ALTER COLUMN note SET NOT NULL');
is($rc, 0, 'auto on a compact table: exit 0');
like($out, qr/^  method: in place \(--method=auto: NOT NULL is the only change, and a rebuild would reclaim about .* \(\d+%; estimated/m,
	'auto on a compact table: in place, and why');

# ------------------------------------------------------------------------
# --dry-run shows each change as the server read it, and every statement's lock.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', $schema_sql);
($rc, $out, $err) = run_rebuild($node, '-t', 'app.t', '--dry-run',
	'--alter', 'ALTER COLUMN id TYPE bigint, ALTER COLUMN payload TYPE jsonb USING payload::jsonb -- json',
	'--alter', q{ADD CONSTRAINT kind_known CHECK (kind <> ''), DROP COLUMN legacy});
is($rc, 0, 'dry run: exit 0') or diag($err);
like($out, qr/^--   ALTER COLUMN id TYPE bigint: type of "id": integer -> bigint$/m, 'dry run: the key type change');
like($out, qr/^--   ALTER COLUMN payload TYPE jsonb USING payload::jsonb -- json: type of "payload": text -> jsonb, computed by the USING expression$/m,
	'dry run: the USING change');
like($out, qr/^--   ADD CONSTRAINT kind_known CHECK \(kind <> ''\): adds constraint "kind_known" CHECK \(\(kind <> ''::text\)\)$/m,
	'dry run: the CHECK');
like($out, qr/^--   DROP COLUMN legacy: drops column "legacy"$/m, 'dry run: the drop');
like($out, qr/^DROP VIEW app\.v2;\n\n-- \[swap\] lock: ACCESS EXCLUSIVE on the view, under lock_timeout\nDROP VIEW app\.v1;$/m,
	'dry run: the view chain is dropped, the view on top first');
like($out, qr/^CREATE VIEW app\.v1 WITH \(security_barrier='true'\) AS/m, 'dry run: and created again with its options');
my $locks = () = $out =~ /^-- \[\w[\w ]*\] lock: /mg;
cmp_ok($locks, '>=', 20, "dry run: every statement comes with its lock ($locks)");
is_deeply([ run_leftovers($node) ], [], 'dry run: nothing left behind');
is($node->safe_psql('postgres', q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 'app.t'::regclass AND attname = 'id'}), 'integer', 'dry run: nothing changed');

# ------------------------------------------------------------------------
# A row the USING expression fails on, written during the run: named by key.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', $schema_sql);
my $oid = oid_of();
# The run's copy waits for a lock the test holds on the shadow table (so its
# snapshot is taken before the bad row exists); the test writes the row, then
# lets the copy go: the replay meets it.
my $shadow = 'app.pgrebuild_new_' . $oid;
my $h = start_rebuild($node, { env => pause_env(COPY_START => 5000, COPY_START_TIMES => 1) },
	'-t', 'app.t', '--alter', 'ALTER COLUMN payload TYPE jsonb USING payload::jsonb');
ok(wait_for_output($h, qr/pausing at COPY_START/), 'USING fails on a row written during the run: the shadow exists');
my $locker = $node->background_psql('postgres');
$locker->query_safe("BEGIN; LOCK TABLE $shadow IN ACCESS EXCLUSIVE MODE");
ok($node->poll_query_until('postgres', qq{
	SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE NOT l.granted AND l.relation = '$shadow'::regclass AND a.application_name = 'pg_rebuild')}),
	'USING fails during the run: the copy waits for the shadow');
$node->safe_psql('postgres', q{UPDATE app.t SET payload = 'not json' WHERE id = 4242});
$locker->query_safe('COMMIT');
$locker->quit;
($rc, $out, $err) = finish_rebuild($h);
is($rc, 1, 'USING fails during the run: exit 1');
like($err, qr/^pg_rebuild: error: the changes of --alter cannot be applied to the row with key \(id\)=\(4242\) of "app"\."t": invalid input syntax for type json$/m,
	'USING fails during the run: the key is named, with the error');
like($err, qr/^pg_rebuild: detail: The row was written by the application during the run\.$/m,
	'USING fails during the run: said to be written during the run');
like($err, qr/^pg_rebuild: detail: Nothing was changed/m, 'USING fails during the run: nothing was changed');
is(oid_of(), $oid, 'USING fails during the run: same table');
is_deeply([ run_leftovers($node) ], [], 'USING fails during the run: nothing left behind');

# A row there before the run: refused by the copy, named too.
($rc, $out, $err) = run_rebuild($node, '-t', 'app.t', '--alter', 'ALTER COLUMN payload TYPE jsonb USING payload::jsonb');
is($rc, 1, 'USING fails on an old row: exit 1');
like($err, qr/row with key \(id\)=\(4242\) of "app"\."t": invalid input syntax for type json.*\n.*The row was in the table before the run\./,
	'USING fails on an old row: named, and said to be old');

# ------------------------------------------------------------------------
# Refusals, one by one: exit 1, the subcommand named, nothing changed.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', $schema_sql);
$node->safe_psql('postgres', q{
	CREATE INDEX t_lower_note ON app.t (lower(note));
	CREATE POLICY p_kind ON app.t USING (kind <> 'secret');
	CREATE PUBLICATION pub_t FOR TABLE app.t (id, val, n);
	CREATE VIEW app.v_n AS SELECT n + 1 AS m FROM app.t;
});
my $catalog_sql = q{SELECT (SELECT count(*) FROM pg_class) || '/' || (SELECT count(*) FROM pg_constraint)
	|| '/' || (SELECT count(*) FROM pg_trigger) || '/' || (SELECT max(oid) FROM pg_class)::text};
sub refused
{
	my ($name, $args, @messages) = @_;
	my $md5 = table_md5($node, 'app.t', 'id');
	my $oid = oid_of();
	my $dump = dump_of('postgres');
	my ($rc, $out, $err) = run_rebuild($node, '-t', 'app.t', @$args);
	is($rc, 1, "$name: exit 1");
	like($err, $_, "$name: stderr matches $_") for @messages;
	like($err, qr/^pg_rebuild: detail: Nothing was changed/m, "$name: nothing was changed");
	unlike($out, qr/^phase (install|add check)/m, "$name: refused before anything was created");
	is(table_md5($node, 'app.t', 'id'), $md5, "$name: same rows");
	is(oid_of(), $oid, "$name: same table");
	is(dump_of('postgres'), $dump, "$name: same schema");
	is_deeply([ run_leftovers($node) ], [], "$name: no per-run object left");
}

refused('ADD COLUMN', [ '--alter', 'ADD COLUMN extra int' ],
	qr/^pg_rebuild: error: --alter subcommand 'ADD COLUMN extra int' is not supported: it adds a column \("extra"\)$/m,
	qr/^pg_rebuild: hint: Supported: ALTER COLUMN c TYPE t/m);
refused('RENAME COLUMN', [ '--alter', 'RENAME COLUMN note TO remark' ],
	qr/subcommand 'RENAME COLUMN note TO remark' is not supported: it renames column "note" to "remark"/);
refused('DROP NOT NULL', [ '--alter', 'ALTER COLUMN val DROP NOT NULL' ],
	qr/subcommand 'ALTER COLUMN val DROP NOT NULL' is not supported: it drops NOT NULL from column "val"/);
refused('ADD CONSTRAINT UNIQUE', [ '--alter', 'ADD CONSTRAINT u_n UNIQUE (n)' ],
	qr/is not supported: it adds constraint "u_n", which is not a CHECK constraint/);
refused('SET UNLOGGED', [ '--alter', 'SET UNLOGGED' ], qr/'SET UNLOGGED' is not supported: it changes LOGGED \/ UNLOGGED/);
refused('SET STATISTICS', [ '--alter', 'ALTER COLUMN n SET STATISTICS 500' ],
	qr/'ALTER COLUMN n SET STATISTICS 500' is not supported: it changes the statistics of column "n"/);
refused('the second subcommand of one --alter', [ '--alter', q{ALTER COLUMN kind SET DEFAULT 'q', ALTER COLUMN n TYPE bigint, ENABLE ROW LEVEL SECURITY} ],
	qr/subcommand 'ENABLE ROW LEVEL SECURITY' is not supported: it changes the table's row level security/);
refused('a USING that changes no type', [ '--alter', 'ALTER COLUMN n TYPE int USING n + 1' ],
	qr/its USING clause changes the data but not the column's type/);
refused('a column changed twice', [ '--alter', 'ALTER COLUMN n TYPE bigint', '--alter', 'ALTER COLUMN n TYPE numeric' ],
	qr/column "n" is changed by another subcommand too/);
refused('a drop of an indexed column', [ '--alter', 'DROP COLUMN n' ],
	qr/subcommand 'DROP COLUMN n' is not supported: it drops index "t_n" along with the column: drop it first if that is meant/);
refused('a drop of a column in an index expression', [ '--alter', 'DROP COLUMN note' ],
	qr/subcommand 'DROP COLUMN note' is not supported: it drops index "t_lower_note" along with the column/);
refused('a drop of a column used by views and a policy', [ '--alter', 'DROP COLUMN kind' ],
	qr/^pg_rebuild: error: "app"\."t" cannot be rebuilt with --alter: \d+ objects use a column it drops$/m,
	qr/^pg_rebuild: detail: column "kind" is used by policy p_kind on table app\.t$/m,
	qr/^pg_rebuild: detail: column "kind" is used by rule _RETURN on view app\.v1$/m,
	qr/^pg_rebuild: detail: column "kind" is used by rule _RETURN on view app\.v_kind$/m);
refused('a drop of a column in a publication column list', [ '--alter', 'DROP COLUMN val' ],
	qr/^pg_rebuild: detail: column "val" is used by publication of table app\.t in publication pub_t$/m);
refused('a text that is not subcommands', [ '--alter', 'DROP COLUMN legacy; DROP TABLE app.fk1' ],
	qr/--alter 'DROP COLUMN legacy; DROP TABLE app\.fk1' cannot be read: it holds a semicolon/);
refused('a subcommand the server rejects', [ '--alter', 'ALTER COLUMN n TYPE no_such_type' ],
	qr/^pg_rebuild: error: the server refused --alter 'ALTER COLUMN n TYPE no_such_type': type "no_such_type" does not exist$/m);
refused('a type with no assignment cast', [ '--alter', 'ALTER COLUMN payload TYPE jsonb' ],
	qr/the server refused --alter 'ALTER COLUMN payload TYPE jsonb': column "payload" cannot be cast automatically to type jsonb/);
refused('a view the new type does not allow', [ '--alter', 'ALTER COLUMN n TYPE text' ],
	qr/^pg_rebuild: error: view app\.v_n reads a column whose type changes, and cannot be created again on the new types: operator does not exist: text \+ integer$/m);
refused('--method=in-place with more than NOT NULL', [ '--alter', 'ALTER COLUMN n TYPE bigint', '--method', 'in-place' ],
	qr/--method=in-place makes columns NOT NULL and nothing else/);
($rc, $out, $err) = run_rebuild($node, '-t', 'app.t', '--method', 'in-place', '--method', 'rebuild');
is($rc, 2, '--method twice: exit 2');
like($err, qr/--method is given twice/, '--method twice: said so');
($rc, $out, $err) = run_rebuild($node, '-t', 'app.t', '--method', 'sideways');
is($rc, 2, 'an unknown --method: exit 2');

# ------------------------------------------------------------------------
# In place, a session in the way of the CHECK's brief lock: named while the
# run retries, then the run gives up after --wait-timeout, nothing changed.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', $schema_sql);
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('BEGIN');
$blocker->query_safe('SELECT count(*) FROM app.t');
my $bpid = $blocker->query_safe('SELECT pg_backend_pid()');
($rc, $out, $err) = run_rebuild($node, '-t', 'app.t', '--set-not-null', 'note', '--method', 'in-place', '-T', '2');
is($rc, 1, 'in place, blocked: exit 1');
like($out, qr/^add check: attempt \d+ waiting for a lock on "app"\."t" .*blocked by pid $bpid holding AccessShareLock/m,
	'in place, blocked: the blocker is named');
like($err, qr/^pg_rebuild: error: could not lock "app"\."t" to add the CHECK constraints within --wait-timeout/m,
	'in place, blocked: it gives up after --wait-timeout');
like($err, qr/^pg_rebuild: detail: Nothing was changed/m, 'in place, blocked: nothing was changed');
$blocker->query_safe('COMMIT');
$blocker->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgrebuild\_nn\_%'}), '0',
	'in place, blocked: no CHECK left');
is_deeply([ run_leftovers($node) ], [], 'in place, blocked: nothing left behind');

# ------------------------------------------------------------------------
# A killed in-place run leaves its recorded CHECK constraint; --cleanup
# removes it; the application's writes go on meanwhile.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', $schema_sql);
$h = start_rebuild($node, { env => pause_env(INPLACE_VALIDATE => 600000) },
	'-t', 'app.t', '--set-not-null', 'note', '--method', 'in-place');
ok(wait_for_output($h, qr/pausing at INPLACE_VALIDATE/), 'killed in place: the CHECK was added');
($rc) = kill_rebuild($h, 'KILL');
is($rc, 137, 'killed in place: killed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgrebuild\_nn\_%'}), '1',
	'killed in place: its CHECK constraint is left');
my ($r2, $o2, $e2) = $node->psql('postgres', q{INSERT INTO app.t (id, val, note) VALUES (-1, 1, NULL)});
like($e2, qr/violates check constraint "pgrebuild_nn_/, 'killed in place: the CHECK keeps NULLs out meanwhile');
$node->safe_psql('postgres', q{INSERT INTO app.t (id, val, note) VALUES (-1, 1, 'x')});
($rc, $out, $err) = run_rebuild($node, '--cleanup', '-t', 'app.t');
is($rc, 0, 'killed in place: --cleanup exit 0') or diag($err);
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgrebuild\_nn\_%'}), '0',
	'killed in place: --cleanup dropped the CHECK');
is_deeply([ run_leftovers($node) ], [], 'killed in place: nothing left behind');
is($node->safe_psql('postgres', q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'app.t'::regclass AND attname = 'note'}),
	'f', 'killed in place: note is as it was');

done_testing();
