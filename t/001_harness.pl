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
		q{SELECT phase <> 'install' FROM pgrebuild.runs}, timeout => 3),
	'hold_run: the run stays in its phase past its pause, and wait_for gives up after its timeout');
ok(rebuild_running($h), 'hold_run: the run is still there');
release_run($h);
($rc) = finish_rebuild($h);
is($rc, 0, 'release_run: the run goes on and succeeds');

done_testing();
