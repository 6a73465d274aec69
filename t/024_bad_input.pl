# 024_bad_input.pl: bad input of every kind: the right exit code, a message saying what is wrong (and what to do),
# the table unchanged and nothing left behind.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('bad', log_statement => 'none', init => { allows_streaming => 1 });
$node->safe_psql(
	'postgres', q{
	CREATE TABLE t (id bigint PRIMARY KEY, val bigint NOT NULL, c text, d int);
	INSERT INTO t SELECT g, g % 100, 'c' || g, CASE WHEN g % 10 = 0 THEN NULL ELSE g END
		FROM generate_series(1, 5000) g;
	CREATE TABLE base2 (id int PRIMARY KEY);
	CREATE VIEW v AS SELECT * FROM base2;
	CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x;
	CREATE FOREIGN DATA WRAPPER dummy;
	CREATE SERVER s FOREIGN DATA WRAPPER dummy;
	CREATE FOREIGN TABLE ft (a int) SERVER s;
	CREATE TABLE parted (id int PRIMARY KEY) PARTITION BY RANGE (id);
	CREATE TABLE part1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
	CREATE TABLE nokey (a int, b int);
	INSERT INTO nokey VALUES (1, 1), (2, 2);
	CREATE TABLE withnulls (id int PRIMARY KEY, c text);
	INSERT INTO withnulls VALUES (1, 'a'), (2, NULL), (3, NULL), (4, 'd');
	CREATE SEQUENCE seq1;
	CREATE TYPE tt AS (a int);
	CREATE TABLE typed OF tt (PRIMARY KEY (a));
	CREATE TABLE inv (id int PRIMARY KEY, u int);
	INSERT INTO inv VALUES (1, 1), (2, 1);
	CREATE TABLE busy (id int PRIMARY KEY, v text);
	INSERT INTO busy SELECT g, 'v' FROM generate_series(1, 1000) g;
	CREATE ROLE stranger LOGIN;
});
# A failed CREATE INDEX CONCURRENTLY leaves an invalid index.
$node->psql('postgres', 'CREATE UNIQUE INDEX CONCURRENTLY inv_u ON inv (u)');
is($node->safe_psql('postgres', q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'inv_u'::regclass}),
	'f', 'setup: inv_u is an invalid index');

# Another session's temporary table, seen from here as pg_temp_N.tmp.
my $tempsess = $node->background_psql('postgres');
$tempsess->query_safe('CREATE TEMP TABLE tmp (id int PRIMARY KEY); INSERT INTO tmp VALUES (1)');
my $tmpschema = $node->safe_psql('postgres',
	q{SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'tmp' AND c.relpersistence = 't'});
like($tmpschema, qr/^pg_temp_\d+$/, "setup: the temporary table is in $tmpschema");

# Everything about the database that a refused run must not change.
sub snapshot
{
	return $node->safe_psql(
		'postgres', q{
		SELECT string_agg(c.oid::regclass::text || ':' || c.oid || ':' || c.relfilenode, ',' ORDER BY c.oid)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public'}) . '/' . table_md5($node, 't');
}
my $snapshot = snapshot();
my $cases = 0;

# One bad input: exit code, message (what is wrong, and what to do), nothing
# changed, nothing left.
sub bad_input
{
	my ($name, $args, $exit, $what, %o) = @_;
	$cases++;
	my @opts = $o{opts} ? ($o{opts}) : ();
	my $t0 = Time::HiRes::time();
	my ($rc, $out, $err) = run_rebuild($node, @opts, @$args);
	my $took = elapsed_since($t0);
	is($rc, $exit, "$name: exit $exit");
	like($err, $what, "$name: says what is wrong");
	like($err, $o{hint}, "$name: says what to do") if $o{hint};
	if ($exit == 2)
	{
		like($err, qr/Try "pg_rebuild --help" for more information/,
			"$name: points at --help");
	}
	elsif ($exit == 1)
	{
		like($err, qr/Nothing was changed/, "$name: says nothing was changed");
	}
	cmp_ok($took, '<', $o{max_seconds} // 10, "$name: fails at once (" . sprintf('%.1f', $took) . ' s)');
	is(snapshot(), $snapshot, "$name: no table changed (OIDs, files, rows)");
	nothing_left($node, "$name: nothing left");
	return ($rc, $out, $err);
}

my $connstr = $node->connstr('postgres');

# ------------------------------------------------------------------------
# What does not exist
# ------------------------------------------------------------------------
bad_input(
	'unknown database',
	[ '-d', $node->connstr('nosuchdb'), '-t', 't' ],
	1, qr/could not connect to the database: .*database "nosuchdb" does not exist/,
	hint => qr/hint: Check -d/);
bad_input(
	'unknown table', [ '-t', 'nosuch' ],
	1, qr/error: table "nosuch" does not exist in any schema of the search_path/,
	hint => qr/hint: Check the name and the database/);
bad_input('unknown schema', [ '-t', 'nosuchschema.t' ],
	1, qr/error: table "nosuchschema"\."t" does not exist/);
bad_input(
	'unknown column (--set-not-null)',
	[ '-t', 't', '--set-not-null', 'nosuch' ],
	1, qr/error: column "nosuch" of table "public"\."t" does not exist \(given to --set-not-null\)/,
	hint => qr/case-sensitive/);
bad_input(
	'unknown column (--order-by)',
	[ '-t', 't', '--order-by', 'nosuch' ],
	1, qr/error: --order-by "nosuch" is not an ORDER BY list of "public"\."t" that the server accepts: column "nosuch" does not exist/,
	hint => qr/hint: Write it as after ORDER BY in a SELECT on the table/);

# ------------------------------------------------------------------------
# Not an ordinary table
# ------------------------------------------------------------------------
bad_input('a view', [ '-t', 'v' ],
	1, qr/error: "public"\."v" is a view: pg_rebuild rebuilds ordinary tables only/);
bad_input(
	'a materialized view', [ '-t', 'mv' ],
	1, qr/error: "public"\."mv" is a materialized view \(use REFRESH MATERIALIZED VIEW CONCURRENTLY\)/);
bad_input('a foreign table', [ '-t', 'ft' ],
	1, qr/error: "public"\."ft" is a foreign table: pg_rebuild rebuilds ordinary tables only/);
bad_input(
	"another session's temporary table", [ '-t', "$tmpschema.tmp" ],
	1, qr/error: "$tmpschema"\."tmp" is a temporary table: other sessions cannot see it/);
bad_input(
	'a partitioned table', [ '-t', 'parted' ],
	1, qr/error: "public"\."parted" is a partitioned table \(rebuild its partitions one by one instead\)/);
bad_input('a partition', [ '-t', 'part1' ],
	1, qr/error: "public"\."part1" is a partition/);
bad_input('an index', [ '-t', 't_pkey' ],
	1, qr/error: "public"\."t_pkey" is an index \(use REINDEX CONCURRENTLY\)/);
bad_input('a sequence', [ '-t', 'seq1' ], 1, qr/error: "public"\."seq1" is a sequence/);
bad_input('a typed table', [ '-t', 'typed' ],
	1, qr/error: "public"\."typed" is a typed table/);

# ------------------------------------------------------------------------
# A table that cannot be rebuilt as asked
# ------------------------------------------------------------------------
bad_input(
	'no replay key', [ '-t', 'nokey' ],
	1, qr/error: "public"\."nokey" has no replay key/,
	hint => qr/hint: Add a primary key/);
bad_input(
	'an invalid index', [ '-t', 'inv' ],
	1, qr/error: index "public"\."inv_u" of "public"\."inv" is invalid/,
	hint => qr/REINDEX INDEX CONCURRENTLY "public"\."inv_u"/);
bad_input(
	'NULLs present (--set-not-null)',
	[ '-t', 'withnulls', '--set-not-null', 'c' ],
	1, qr/error: column "c" of "public"\."withnulls" holds 2 NULL values: it cannot be made NOT NULL/,
	hint => qr/hint: Update those rows/);
bad_input(
	'NULLs in the second of two --set-not-null columns',
	[ '-t', 't', '--set-not-null', 'c', '--set-not-null', 'd' ],
	1, qr/error: column "d" of "public"\."t" holds 500 NULL values/);
bad_input(
	'a role that does not own the table',
	[ '-d', "$connstr user=stranger", '-t', 't' ],
	1, qr/error: must be the owner of table "public"\."t" to rebuild it \(its owner is \S+, you are stranger\)/,
	hint => qr/hint: Connect as \S+, or as a member of role/);

# ------------------------------------------------------------------------
# Bad usage (exit 2): options, values, combinations
# ------------------------------------------------------------------------
bad_input('duplicate --set-not-null', [ '-t', 't', '--set-not-null', 'c', '--set-not-null', 'c' ],
	2, qr/error: column "c" is given twice to --set-not-null/);
bad_input('--cleanup with --set-not-null', [ '--cleanup', '--set-not-null', 'c' ],
	2, qr/error: --cleanup cannot be combined with --set-not-null/);
bad_input('--cleanup with --status', [ '--cleanup', '--status' ],
	2, qr/error: --cleanup and --status cannot be used together/);
bad_input('--status with --dry-run', [ '--status', '-n' ],
	2, qr/error: --status changes nothing: --dry-run does not apply/);
bad_input('-q with -v', [ '-t', 't', '-q', '-v' ],
	2, qr/error: --quiet and --verbose cannot be used together/);
bad_input('--json without --status', [ '-t', 't', '--json' ],
	2, qr/error: --json goes with --status/);
for my $v ('-1', 'abc', '1e999', '', '5s')
{
	bad_input("--wait-timeout '$v'", [ '-t', 't', '--wait-timeout', $v ],
		2, qr/error: invalid value "\Q$v\E" for --wait-timeout: expected a number of seconds, 0 or more/);
}
bad_input('--retry-timeout -3', [ '-t', 't', '--retry-timeout', '-3' ],
	2, qr/error: invalid value "-3" for --retry-timeout/);
for my $v ('0', '-2', 'soon')
{
	bad_input("--catchup-timeout '$v'", [ '-t', 't', '--catchup-timeout', $v ],
		2, qr/error: invalid value "\Q$v\E" for --catchup-timeout: expected a number of seconds above 0/);
}
for my $v ('0', '1.5', '-100', 'fast', '600001')
{
	bad_input("--lock-timeout '$v'", [ '-t', 't', '--lock-timeout', $v ],
		2, qr/error: invalid value "\Q$v\E" for --lock-timeout: expected milliseconds from 1 to 600000/);
}
for my $v ('0', '-1', 'two', '65', '2.5')
{
	bad_input("--jobs '$v'", [ '-t', 't', '-j', $v ],
		2, qr/error: invalid value "\Q$v\E" for --jobs: expected a whole number from 1 to 64/);
}
# --order-by is SQL: the server checks it as one ORDER BY list (exit 1, in
# its words), before anything is created.
for my $v ('id; DROP TABLE t', 'pg_sleep(10)', 'id NULLS sideways', 'id COLLATE "C"', 'id,', 'id LIMIT 1')
{
	bad_input("--order-by carrying SQL: '$v'", [ '-t', 't', '--order-by', $v ],
		1, qr/error: --order-by "\Q$v\E" is not an ORDER BY list of "public"\."t" that the server accepts: /);
}
# An option given twice where one value counts: refused, neither table touched.
bad_input('a change with two tables', [ '-t', 't', '-t', 'busy', '--set-not-null', 'c' ],
	2, qr/error: --set-not-null, --alter, --method, --order-by and --no-order change one table's columns: give them with exactly one -t TABLE/);
bad_input('-j twice', [ '-t', 't', '-j', '2', '-j', '4' ],
	2, qr/error: -j\/--jobs is given twice \("2", then "4"\)/);
bad_input('no table', [], 2, qr/error: no table given: use -t TABLE/);
bad_input('an empty table name', [ '-t', '' ], 2, qr/error: invalid table name "": /);
bad_input('too many dotted parts', [ '-t', 'a.b.c' ],
	2, qr/error: invalid table name "a\.b\.c": too many dotted parts/);
bad_input('an unknown option', [ '-t', 't', '--frobnicate' ],
	2, qr/error: unrecognized option "--frobnicate"/);
bad_input('an extra argument', [ '-t', 't', 'extra' ],
	2, qr/error: too many command-line arguments \(first is "extra"\)/);
bad_input('a missing value', [ '-t' ], 2, qr/error: option "-t" requires a value/);

# ------------------------------------------------------------------------
# Names that try to inject SQL are names, nothing more.
# ------------------------------------------------------------------------
bad_input(
	'a name that tries to inject SQL (unquoted)',
	[ '-t', 'x"; DROP TABLE t; --' ],
	2, qr/error: invalid table name "x"; DROP TABLE t; --": unexpected text after the name/);
bad_input(
	'a name that tries to inject SQL (quoted)',
	[ '-t', '"x""; DROP TABLE t; --"' ],
	1, qr/error: table "x""; DROP TABLE t; --" does not exist/);
bad_input(
	'a column name that tries to inject SQL',
	[ '-t', 't', '--set-not-null', 'c" IS NULL; DROP TABLE t; --' ],
	2, qr/error: invalid column name "c" IS NULL; DROP TABLE t; --" for --set-not-null/);
bad_input(
	'a quoted column name that tries to inject SQL',
	[ '-t', 't', '--set-not-null', '"c"" IS NULL; DROP TABLE t; --"' ],
	1, qr/error: column "c"" IS NULL; DROP TABLE t; --" of table "public"\."t" does not exist/);
# A table really named like that is rebuilt like any other.
{
	my $weird = q{x"; DROP TABLE t; --};
	(my $q = $weird) =~ s/"/""/g;
	$node->safe_psql('postgres',
		qq{CREATE TABLE "$q" (id int PRIMARY KEY, v text); INSERT INTO "$q" SELECT g, 'w' FROM generate_series(1, 100) g});
	my ($rc, $out, $err) = run_rebuild($node, '-q', '-t', qq{"$q"});
	is($rc, 0, 'a table named like an injection is rebuilt');
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM "$q"}), 100, '... with its rows');
	is($node->safe_psql('postgres', q{SELECT to_regclass('public.t') IS NOT NULL}),
		't', '... and table t still exists');
	nothing_left($node, '... leaving nothing');
	$node->safe_psql('postgres', qq{DROP TABLE "$q"});
	$snapshot = snapshot();
}

# ------------------------------------------------------------------------
# Where the server is not one to rebuild on
# ------------------------------------------------------------------------
{
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	bad_input(
		'an unreachable host (--retry-timeout 1)',
		[ '-d', "host=127.0.0.1 port=$port dbname=postgres", '--retry-timeout', '1', '-t', 't' ],
		1, qr/error: could not connect to the database: .*127\.0\.0\.1/,
		hint => qr/hint: Check -d\/-h\/-p\/-U/,
		max_seconds => 8);
	bad_input(
		'an invalid port in the connection string',
		[ '-d', "$connstr port=notaport", '--retry-timeout', '4', '-t', 't' ],
		1, qr/error: invalid port "notaport": expected a number/,
		max_seconds => 3);
	bad_input(
		'a malformed connection string',
		[ '-d', "host=127.0.0.1 dbname", '-t', 't' ],
		1, qr/error: could not connect to the database: missing "=" after "dbname" in connection info string/);
}

my $standby = new_standby($node, 'standby');
$node->wait_for_catchup($standby);
{
	my $oid = $standby->safe_psql('postgres', q{SELECT 't'::regclass::oid});
	my ($rc, $out, $err) = run_rebuild($node, '-d', $standby->connstr('postgres'), '-t', 't');
	$cases++;
	is($rc, 1, 'a standby: exit 1');
	like($err, qr/error: connected to a read-only standby: run against the primary/,
		'a standby: says what is wrong');
	like($err, qr/hint: Point -h\/-p \(or the connection string\) at the primary server/,
		'a standby: says what to do');
	like($err, qr/Nothing was changed/, 'a standby: says nothing was changed');
	is($standby->safe_psql('postgres', q{SELECT 't'::regclass::oid}), $oid, 'a standby: same table');
	nothing_left($standby, 'a standby: nothing created there');
	is(snapshot(), $snapshot, 'a standby: nothing changed on the primary');
}
$standby->stop;

# ------------------------------------------------------------------------
# A table being rebuilt already: the second run is refused.
# ------------------------------------------------------------------------
{
	my $h = start_rebuild($node, { env => { hold_env('AFTER_INSTALL') } }, '-t', 'busy');
	ok(hold_run($h, 'AFTER_INSTALL'), 'busy: the first run is under way (held after its install)');
	my $t0 = Time::HiRes::time();
	my ($rc, $out, $err) = run_rebuild($node, '-t', 'busy');
	$cases++;
	is($rc, 1, 'a table being rebuilt already: exit 1');
	like($err, qr/error: another pg_rebuild run is active on "public"\."busy"/,
		'a table being rebuilt already: says so');
	like($err, qr/It is held by pid \d+, user /, 'a table being rebuilt already: names the other run');
	like($err, qr/hint: Wait for it to finish/, 'a table being rebuilt already: says what to do');
	cmp_ok(elapsed_since($t0), '<', 2.5, 'a table being rebuilt already: at once');
	($rc) = finish_rebuild($h);
	is($rc, 0, 'busy: the first run finishes');
	nothing_left($node, 'busy: nothing left');
	$snapshot = snapshot();
}

# ------------------------------------------------------------------------
# An empty connection string is no connection string: libpq's defaults
# apply (PGHOST, PGPORT, PGDATABASE...), as with psql -d ''.
# ------------------------------------------------------------------------
{
	$cases++;
	my $oid = table_oid($node, 'busy');
	my ($rc, $out, $err) =
	  run_rebuild($node, { env => { PGDATABASE => 'postgres' } }, '-d', '', '-t', 'busy');
	is($rc, 0, "-d '': libpq's defaults apply: the run works");
	like($out, qr/in database postgres:/, "-d '': it used PGDATABASE");
	isnt(table_oid($node, 'busy'), $oid, "-d '': the table was rebuilt");
	($rc, $out, $err) = run_rebuild($node,
		{ env => { PGDATABASE => 'nosuchdb2' } }, '-d', '', '-t', 'busy');
	is($rc, 1, "-d '' with PGDATABASE naming a missing database: exit 1");
	like($err, qr/database "nosuchdb2" does not exist/, "-d '': ... naming it");
	nothing_left($node, "-d '': nothing left");
	$snapshot = snapshot();
}

# ------------------------------------------------------------------------
# Tiny timeouts set by the database and the role: the tool sets its own,
# from its sessions' very first statement on.
# ------------------------------------------------------------------------
{
	$cases++;
	my $user = $node->safe_psql('postgres', 'SELECT current_user');
	my @tables = map { "tt$_" } 1 .. 4;
	$node->safe_psql('postgres', 'CREATE DATABASE tiny');
	$node->safe_psql('tiny',
		join('', map { qq{
		CREATE TABLE $_ (id bigint PRIMARY KEY, v text NOT NULL);
		INSERT INTO $_ SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;} } @tables)
		  . qq{
		ALTER DATABASE tiny SET statement_timeout = '1ms';
		ALTER DATABASE tiny SET lock_timeout = '1ms';
		ALTER ROLE "$user" IN DATABASE tiny SET idle_in_transaction_session_timeout = '10ms';
		ALTER ROLE "$user" IN DATABASE tiny SET lock_timeout = '1ms';
	});
	my ($prc, $pout, $perr) =
	  $node->psql('tiny', q{SELECT count(*) FROM tt1 a, tt1 b WHERE a.id = b.id});
	like($perr, qr/canceling statement due to statement timeout/,
		'tiny timeouts: a plain session there is canceled after 1 ms');
	# the test's own sessions in that database override them
	local $ENV{PGOPTIONS} =
	  '-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0';
	my %oid = map { $_ => table_oid($node, $_, dbname => 'tiny') } @tables;
	my %md5 = map { $_ => table_md5($node, $_, 'id', dbname => 'tiny') } @tables;
	# Four runs at once, six sessions each (-j 4), twice: on a busy server a
	# session's first statement easily takes more than 1 ms.
	for my $round (1 .. 2)
	{
		my @h = map {
			start_rebuild($node, { dbname => 'tiny', env => { PGOPTIONS => undef } },
				'-t', $_, '--set-not-null', 'v', '-j', '4')
		} @tables;
		for my $i (0 .. $#tables)
		{
			my ($rc, $out, $err) = finish_rebuild($h[$i]);
			is($rc, 0, "tiny timeouts: round $round, $tables[$i] rebuilt");
			unlike($err, qr/statement timeout|lock timeout/,
				"tiny timeouts: round $round, $tables[$i]: no timeout met");
		}
	}
	for my $t (@tables)
	{
		isnt(table_oid($node, $t, dbname => 'tiny'), $oid{$t}, "tiny timeouts: $t is new");
		is(table_md5($node, $t, 'id', dbname => 'tiny'), $md5{$t}, "tiny timeouts: $t has the same rows");
	}
	nothing_left($node, 'tiny timeouts: nothing left', dbname => 'tiny');
	$snapshot = snapshot();
}

cmp_ok($cases, '>=', 25, "$cases bad inputs tried");
$tempsess->quit;
$node->stop;
done_testing();
