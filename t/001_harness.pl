# 001_harness.pl: the test harness itself: ledger load balances, helpers work, binary runs.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;

# The binary under test exists and answers --version (3 tests).
ok(defined $ENV{PG_REBUILD} && -x $ENV{PG_REBUILD},
	'PG_REBUILD names an executable');
program_version_ok($ENV{PG_REBUILD});

my $node = new_node('harness');
create_ledger_tables($node, table => 'target', rows => 5000);

my $md5_before = table_md5($node, 'target');
like($md5_before, qr/^[0-9a-f]{32}$/, 'table_md5 gives an md5');
is(table_md5($node, 'target', 'id'), $md5_before,
	'table_md5 defaults to the primary key order');
is_deeply([ table_totals($node, 'target') ],
	[ 5000, $node->safe_psql('postgres', 'SELECT sum(val) FROM target') ],
	'table_totals gives count and sum');

# Nothing but the load touches the table: the ledger must balance exactly.
my $load = start_ledger_load($node, table => 'target', clients => 4);
ok(wait_for_transactions($load, 150), 'the load commits transactions (150 seen in the ledger)');
my $stats = stop_ledger_load($load);
cmp_ok($stats->{transactions}, '>', 100, 'ledger load committed transactions');
cmp_ok(scalar @{ $stats->{latencies} }, '==', $stats->{transactions},
	'one latency per committed transaction');
cmp_ok($stats->{max_latency_ms}, '>', 0, 'max latency measured');
check_ledger($node, $load, 'ledger balances after the load alone');
isnt(table_md5($node, 'target'), $md5_before, 'the load changed the table');
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ledger_load'}
	),
	0,
	'writers are gone after stop');

# The load's change kinds all happened: inserts, key moves and deletes.
my ($max_id) = $node->safe_psql('postgres', 'SELECT max(id) FROM target');
cmp_ok($max_id, '>', 5000, 'new ids were inserted or moved in');
cmp_ok(
	$node->safe_psql(
		'postgres', 'SELECT count(*) FROM ledger WHERE delta_count < 0'),
	'>', 0,
	'deletes were recorded');

# A second load on the same objects starts again and balances too.
$load = start_ledger_load($node, table => 'target', clients => 2, rate => 0);
ok(wait_for_transactions($load, 100), 'the second load commits transactions');
stop_ledger_load($load);
check_ledger($node, $load, 'ledger balances after a second, unthrottled load');

# bloat_table leaves a heap as large but mostly empty.
my $size_before = heap_size($node, 'target');
my $rows_before = $node->safe_psql('postgres', 'SELECT count(*) FROM target');
my $size = bloat_table($node, 'target');
cmp_ok($size, '>=', $size_before, 'bloat_table keeps the heap size');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM target'),
	'<', $rows_before / 2, 'bloat_table deleted most rows');

# run_rebuild passes -d with the node's connection string, and reports exit
# code, stdout and stderr (checked with a stand-in program).
my @echo = ($^X, '-e',
	'print join("|", @ARGV), "\n"; print STDERR "oops\n"; exit 3', '--');
my ($rc, $out, $err) = run_rebuild($node, { program => \@echo }, '-t', 'target');
is($rc, 3, 'run_rebuild returns the exit code');
like($out, qr/^-d\|.*port=\d+.*dbname='postgres'\|-t\|target$/,
	'run_rebuild passes -d CONNSTR first');
is($err, "oops\n", 'run_rebuild returns stderr');
($rc, $out) =
  run_rebuild($node, { program => \@echo }, 'dbname=template1', '-v');
like($out, qr/dbname='template1'\|-v$/, 'run_rebuild takes dbname=');
($rc, $out) = run_rebuild($node, { program => \@echo }, '-d', 'x', '-v');
is($out, "-d|x|-v\n", 'run_rebuild keeps an explicit -d');
($rc, $out, $err) = run_rebuild($node,
	{ program => [ $^X, '-e', 'sleep 30' ], timeout => 1 });
is($rc, -1, 'run_rebuild times out');

# hold_run holds a run in its pause whatever the test does meanwhile (the
# pause lasts 1 s; the hold, until release_run), and wait_for gives up,
# saying so, when what it waits for does not happen.
my $h = start_rebuild($node, { env => { PGR_TEST_SLEEP_AFTER_INSTALL => 1000 } }, '-t', 'target');
ok(hold_run($h, 'AFTER_INSTALL'), 'hold_run: the run reached its pause');
ok(!wait_for_query($node, 'the held run to change its phase',
		'SELECT phase <> \'install\' FROM "' . state_schema($node) . '".runs', timeout => 3),
	'hold_run: the run stays in its phase past its pause, and wait_for gives up after its timeout');
ok(rebuild_running($h), 'hold_run: the run is still there');
release_run($h);
($rc) = finish_rebuild($h);
is($rc, 0, 'release_run: the run goes on and succeeds');

# schema_description sees each kind of change to a schema, and nothing but
# changes (not the rows, nor a sequence's position).
$node->safe_psql(
	'postgres', q{
	CREATE SCHEMA d;
	CREATE TABLE d.t (id serial PRIMARY KEY, v text CONSTRAINT v_short CHECK (length(v) < 10), w int);
	CREATE INDEX t_w ON d.t (w);
	CREATE VIEW d.tv AS SELECT id, v FROM d.t;
	CREATE FUNCTION d.trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
	CREATE TRIGGER t_trg BEFORE INSERT ON d.t FOR EACH ROW EXECUTE FUNCTION d.trg();
});
my $desc = schema_description($node, ['d']);
like($desc, qr/^relation d\.t: kind=r /m, 'schema_description describes the relations');
like($desc, qr/^column d\.t\.w: position=3 type=integer /m, 'and their columns');
$node->safe_psql('postgres',
	q{INSERT INTO d.t (v, w) SELECT 'x', g FROM generate_series(1, 100) g; DELETE FROM d.t WHERE w < 50});
is(schema_description($node, ['d']), $desc, 'schema_description: rows and sequence values are not part of it');
for my $change (
	[ 'a constraint name', 'ALTER TABLE d.t RENAME CONSTRAINT v_short TO v_shorter',
		'ALTER TABLE d.t RENAME CONSTRAINT v_shorter TO v_short' ],
	[ 'a NOT NULL', 'ALTER TABLE d.t ALTER w SET NOT NULL', 'ALTER TABLE d.t ALTER w DROP NOT NULL' ],
	[ 'a trigger disabled', 'ALTER TABLE d.t DISABLE TRIGGER t_trg', 'ALTER TABLE d.t ENABLE TRIGGER t_trg' ],
	[ 'a grant', 'GRANT SELECT ON d.t TO PUBLIC', 'REVOKE SELECT ON d.t FROM PUBLIC' ],
	[ 'a column grant', 'GRANT UPDATE (w) ON d.t TO PUBLIC', 'REVOKE UPDATE (w) ON d.t FROM PUBLIC' ],
	[ 'a storage parameter', 'ALTER TABLE d.t SET (fillfactor = 50)', 'ALTER TABLE d.t RESET (fillfactor)' ],
	[ 'a column comment', q{COMMENT ON COLUMN d.t.v IS 'text'}, 'COMMENT ON COLUMN d.t.v IS NULL' ],
	[ 'a statistics target', 'ALTER TABLE d.t ALTER v SET STATISTICS 10', 'ALTER TABLE d.t ALTER v SET STATISTICS -1' ],
	[ 'a column storage', 'ALTER TABLE d.t ALTER v SET STORAGE MAIN', 'ALTER TABLE d.t ALTER v SET STORAGE EXTENDED' ],
	[ 'a default', 'ALTER TABLE d.t ALTER w SET DEFAULT 7', 'ALTER TABLE d.t ALTER w DROP DEFAULT' ],
	[ 'the CLUSTER mark', 'ALTER TABLE d.t CLUSTER ON t_w', 'ALTER TABLE d.t SET WITHOUT CLUSTER' ],
	[ 'an index option', 'ALTER INDEX d.t_w SET (fillfactor = 70)', 'ALTER INDEX d.t_w RESET (fillfactor)' ],
	[ 'a view option', 'ALTER VIEW d.tv SET (security_barrier = true)', 'ALTER VIEW d.tv RESET (security_barrier)' ],
	[ 'a policy', 'CREATE POLICY p ON d.t USING (w > 0)', 'DROP POLICY p ON d.t' ],
	[ 'row level security', 'ALTER TABLE d.t ENABLE ROW LEVEL SECURITY', 'ALTER TABLE d.t DISABLE ROW LEVEL SECURITY' ],
	[ 'a replica identity', 'ALTER TABLE d.t REPLICA IDENTITY FULL', 'ALTER TABLE d.t REPLICA IDENTITY DEFAULT' ],
	[ 'a sequence parameter', 'ALTER SEQUENCE d.t_id_seq INCREMENT 2', 'ALTER SEQUENCE d.t_id_seq INCREMENT 1' ],
	[ 'UNLOGGED', 'ALTER TABLE d.t SET UNLOGGED', 'ALTER TABLE d.t SET LOGGED' ],
	[ 'a publication', 'CREATE PUBLICATION pub FOR TABLE d.t', 'DROP PUBLICATION pub' ])
{
	my ($what, $do, $undo) = @$change;
	$node->safe_psql('postgres', $do);
	isnt(schema_description($node, ['d']), $desc, "schema_description shows $what");
	$node->safe_psql('postgres', $undo);
	is(schema_description($node, ['d']), $desc, "schema_description: $what undone")
	  or diag(join("\n", description_changes($desc, schema_description($node, ['d']))));
}

# need_version names the server's version and the feature.
my $major = server_major($node);
is(need_version($node, $major * 10000, 'anything'), undef, 'need_version: the server has its own version');
is(need_version($node, ($major + 1) * 10000, 'a future feature'),
	"PostgreSQL $major has no a future feature (added in " . ($major + 1) . ')',
	'need_version: the reason names the version');

done_testing();
