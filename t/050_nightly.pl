# 050_nightly.pl: many tables in one command (--schema, several -t, the
# exclusions), only those worth it (--min-bloat, --min-size), one run after
# the other, under a write load with the ledger exact: those that cannot be
# rebuilt are skipped with the reason, one that fails midway is left as it
# was and the next goes on (or the command stops, --stop-on-error), the
# summary and the --report JSON say what happened to each, and the exit code
# is 0, 1 or 3 as documented.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('nightly', log_statement => 'none');

# Ten tables in schema app, of different sizes and bloat:
#   victim   the biggest gain: it is taken first, and made to fail midway
#   orders   the ledger's target, written to all along
#   mid, small   bloated
#   compact, tiny   no dead space: under --min-bloat
#   nokey    bloated, no primary key: cannot be rebuilt
#   parted, parted_1   a partitioned table and its partition: cannot be rebuilt
#   other_owner   a table of another role (the test connects as a superuser,
#                 who may rebuild it: it is chosen, and compact)
$node->safe_psql(
	'postgres', q{
	CREATE SCHEMA app;
	CREATE TABLE app.victim (id int PRIMARY KEY, v text NOT NULL);
	INSERT INTO app.victim SELECT g, repeat('v', 60) FROM generate_series(1, 40000) g;
	CREATE TABLE app.mid (id int PRIMARY KEY, v text NOT NULL);
	INSERT INTO app.mid SELECT g, repeat('m', 60) FROM generate_series(1, 15000) g;
	CREATE TABLE app.small (id int PRIMARY KEY, v text NOT NULL);
	INSERT INTO app.small SELECT g, repeat('s', 60) FROM generate_series(1, 4000) g;
	CREATE TABLE app.compact (id int PRIMARY KEY, v text NOT NULL);
	INSERT INTO app.compact SELECT g, repeat('c', 60) FROM generate_series(1, 8000) g;
	CREATE TABLE app.tiny (id int PRIMARY KEY);
	INSERT INTO app.tiny SELECT generate_series(1, 10);
	CREATE TABLE app.nokey (id int, v text);
	INSERT INTO app.nokey SELECT g, repeat('n', 60) FROM generate_series(1, 6000) g;
	CREATE TABLE app.parted (id int PRIMARY KEY) PARTITION BY RANGE (id);
	CREATE TABLE app.parted_1 PARTITION OF app.parted FOR VALUES FROM (0) TO (100000);
	INSERT INTO app.parted SELECT generate_series(1, 6000);
	CREATE ROLE someone_else;
	CREATE TABLE app.other_owner (id int PRIMARY KEY);
	ALTER TABLE app.other_owner OWNER TO someone_else;
	CREATE ROLE app_reader;
	ANALYZE app.compact, app.tiny;
});
create_ledger_tables($node, table => 'app.orders', rows => 12000);
bloat_table($node, $_, delete => 0.7) for qw(app.victim app.orders app.mid app.small app.nokey app.parted_1);
$node->safe_psql('postgres', 'ANALYZE app.parted');

# The names the summary and the report use.
my @bloated = qw(victim mid orders small);

sub oids
{
	my %o = map { split /\|/ } split /\n/, $node->safe_psql('postgres',
		q{SELECT c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		  WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p')});
	return \%o;
}

sub read_json
{
	my ($file) = @_;
	open my $fh, '<', $file or return undef;
	local $/;
	my $text = <$fh>;
	close $fh;
	return eval { JSON::PP->new->decode($text) };
}

sub by_table
{
	my ($report) = @_;
	return { map { ($_->{table} => $_) } @{ $report->{tables} // [] } };
}

# ------------------------------------------------------------------------
# 1. --dry-run: one line per table, biggest expected gain first, chosen or
#    skipped and why; then the plan of the first.  Nothing is changed.
# ------------------------------------------------------------------------
my $before = oids();
my $dry_report = $node->basedir . '/dry.json';
my ($rc, $out, $err) = run_rebuild($node, '--schema', 'app', '--min-bloat', '20', '--dry-run',
	'--report', $dry_report);
is($rc, 0, 'dry run of a selection: exit 0');
like($out, qr/^selection \(dry run: nothing was changed\): 10 tables in database postgres:$/m,
	'dry run: the ten tables of app');
my @chosen = $out =~ /^  chosen +"app"\."(\w+)"/mg;
is_deeply(\@chosen, \@bloated, 'dry run: the bloated tables chosen, biggest expected gain first');
like($out, qr/^  chosen +"app"\."victim"  size [\d.]+ [kM]B  expected back [\d.]+ [kM]B \(\d+%, estimated from the statistics\)$/m,
	'dry run: size, expected reclaim and how it was measured');
like($out, qr/^  skipped +"app"\."compact"  size .*expected to give back \d+%, under --min-bloat 20%$/m,
	'dry run: a compact table skipped, saying why');
like($out, qr/^  skipped +"app"\."nokey"  .*cannot be rebuilt: .*has no replay key/m,
	'dry run: a table without a key skipped with preflight\'s reason');
like($out, qr/^  skipped +"app"\."parted_1"  .*cannot be rebuilt: .*is a partition/m,
	'dry run: a partition skipped with the reason');
like($out, qr/^  skipped +"app"\."parted"  /m, 'dry run: the partitioned table skipped');
like($out, qr/^totals: 4 chosen, 6 skipped, 0 failed$/m, 'dry run: totals');
like($out, qr/^-- pg_rebuild plan for "app"\."victim" \(dry run: nothing was changed\)$/m,
	'dry run: then the plan of the first');
unlike($out, qr/plan for "app"\."(?:orders|mid|small)"/, 'dry run: only the first one\'s plan');
unlike($err, qr/error/, 'dry run: the refused tables are no error');
is_deeply(oids(), $before, 'dry run: nothing changed');
is_deeply([ run_leftovers($node) ], [], 'dry run: nothing left behind');
my $dry = read_json($dry_report);
ok($dry, 'dry run: the report is JSON');
is($dry->{format}, 1, 'dry run report: format 1');
is($dry->{dry_run}, JSON::PP::true, 'dry run report: says it is a dry run');
is_deeply([ map { $_->{table} } grep { $_->{result} eq 'chosen' } @{ $dry->{tables} } ], \@bloated,
	'dry run report: the chosen tables in order');
is(by_table($dry)->{compact}{result}, 'skipped', 'dry run report: compact skipped');
cmp_ok(by_table($dry)->{victim}{expected_reclaim}, '>', 0, 'dry run report: an expected reclaim');

# ------------------------------------------------------------------------
# 2. The nightly run under a write load: the first table fails midway (a
#    GRANT made while it runs: the swap's check stops it, the table as it
#    was), the others are rebuilt one after the other, the ledger is exact.
# ------------------------------------------------------------------------
my $report_file = $node->basedir . '/night.json';
my $load = start_ledger_load($node, table => 'app.orders', clients => 2, rate => 100);
my $h = start_rebuild($node, { env => { hold_env('AFTER_INSTALL') } },
	'--schema', 'app', '--min-bloat', '20', '--report', $report_file);
ok(hold_run($h, 'AFTER_INSTALL'), 'the first table\'s run is held after its install');
like($h->{stdout}, qr/^rebuilding table "app"\."victim"/m, 'the first is the biggest expected gain');
$node->safe_psql('postgres', 'GRANT SELECT ON app.victim TO app_reader');
($rc, $out, $err) = finish_rebuild($h);
wait_for_transactions($load, 20);
stop_ledger_load($load);
check_ledger($node, $load, 'nightly run under load: the ledger is exact');

is($rc, 1, 'a table failed and left nothing: exit 1');
like($err, qr/^pg_rebuild: error: the definition of "app"\."victim" changed while it was being rebuilt$/m,
	'the failure is said as for one table');
my $after = oids();
is($after->{victim}, $before->{victim}, 'the failed table is the original');
isnt($after->{$_}, $before->{$_}, "$_ rebuilt") for qw(orders mid small);
is($after->{$_}, $before->{$_}, "$_ left alone") for qw(compact tiny nokey parted parted_1);
is_deeply([ run_leftovers($node) ], [], 'nothing left behind');

# One run after the other: each table's intro, then its end, before the next's intro.
my @events = $out =~ /^(rebuilding table "app"\."\w+"|rebuilt "app"\."\w+")/mg;
is_deeply(\@events,
	[ 'rebuilding table "app"."victim"', map { ("rebuilding table \"app\".\"$_\"", "rebuilt \"app\".\"$_\"") } qw(mid orders small) ],
	'one table at a time, in the chosen order');
like($out, qr/^  failed +"app"\."victim"  size .*failed; the table is as it was/m, 'summary: the failed table');
like($out, qr/^  rebuilt +"app"\."$_"  [\d.]+ [kM]B -> [\d.]+ [kM]B  reclaimed [\d.]+ [kM]B  [\d.]+ s  ACCESS EXCLUSIVE \d+ ms$/m,
	"summary: $_ with sizes, reclaimed, time and lock") for qw(orders mid small);
like($out, qr/^  skipped +"app"\."nokey"  .*cannot be rebuilt/m, 'summary: the table without a key');
like($out, qr/^totals: 3 rebuilt, 6 skipped, 0 deferred, 1 failed, 0 not started; reclaimed [\d.]+ [kM]B; .* in all; ACCESS EXCLUSIVE \d+ ms in all, \d+ ms at most$/m,
	'summary: the totals');

my $night = read_json($report_file);
ok($night, 'the report is JSON');
my $t = by_table($night);
is($night->{exit_code}, 1, 'report: the exit code');
is($t->{victim}{result}, 'failed', 'report: victim failed');
is($t->{$_}{result}, 'rebuilt', "report: $_ rebuilt") for qw(orders mid small);
cmp_ok($t->{mid}{size_after}, '<', $t->{mid}{size_before}, 'report: mid is smaller');
is($t->{mid}{reclaimed}, $t->{mid}{size_before} - $t->{mid}{size_after}, 'report: reclaimed is the difference');
ok(defined $t->{mid}{lock_held_ms} && defined $t->{mid}{seconds}, 'report: lock held and time');
like($t->{nokey}{reason}, qr/cannot be rebuilt/, 'report: why nokey was skipped');
is($night->{totals}{rebuilt}, 3, 'report: totals');
# The estimate against the real outcome: within a quarter of the table's size
# (docs/architecture.md gives its error; the bench in docs/performance.md
# compares them at 10, 30 and 60% bloat).
for my $n (qw(orders mid small))
{
	my $e = $t->{$n};
	cmp_ok(abs($e->{expected_reclaim} - $e->{reclaimed}), '<=', 0.25 * $e->{size_before},
		"$n: expected reclaim $e->{expected_reclaim} close to the real $e->{reclaimed}");
}

# ------------------------------------------------------------------------
# 3. --stop-on-error: the first failure stops the command; what was not
#    started is said.  A -t naming no table fails that entry only.
# ------------------------------------------------------------------------
bloat_table($node, $_, delete => 0.5) for qw(app.mid app.small);
$h = start_rebuild($node, { env => { hold_env('AFTER_INSTALL') } },
	'-t', 'app.victim', '-t', 'app.mid', '-t', 'app.small', '--stop-on-error');
ok(hold_run($h, 'AFTER_INSTALL'), '--stop-on-error: the first run is held');
$node->safe_psql('postgres', 'REVOKE SELECT ON app.victim FROM app_reader');
($rc, $out, $err) = finish_rebuild($h);
is($rc, 1, '--stop-on-error: exit 1');
like($out, qr/^  not-started +"app"\."mid"  .*a table before it failed \(--stop-on-error\)$/m,
	'--stop-on-error: the next table is not started, saying why');
like($out, qr/^totals: 0 rebuilt, 0 skipped, 0 deferred, 1 failed, 2 not started;/m, '--stop-on-error: totals');
is_deeply(oids(), $after, '--stop-on-error: no table changed');

($rc, $out, $err) = run_rebuild($node, '-t', 'app.nope', '-t', 'app.mid', '-t', 'app.mid');
is($rc, 1, 'a -t naming no table: exit 1');
like($out, qr/^  failed +app\.nope  no such table/m, 'a -t naming no table: said in the summary');
like($out, qr/^  rebuilt +"app"\."mid"/m, 'a -t naming no table: the next is rebuilt');
like($out, qr/^summary: 2 tables/m, 'a table named twice is rebuilt once');

# ------------------------------------------------------------------------
# 4. Exclusions and thresholds; every table skipped by choice is exit 0.
# ------------------------------------------------------------------------
($rc, $out, $err) = run_rebuild($node, '--schema', 'app', '--exclude-table', 'app.victim', '--exclude-table',
	'app.gone', '--min-size', '1TB');
is($rc, 0, 'every table skipped by choice: exit 0');
like($out, qr/^summary: 9 tables in database postgres \(1 more excluded\):$/m, 'the excluded table is counted');
unlike($out, qr/"app"\."victim"/, 'the excluded table is not listed');
like($out, qr/^  skipped +"app"\."orders"  .*smaller than --min-size 1\.00 TB$/m, '--min-size: said why');
like($err, qr/^pg_rebuild: warning: --exclude-table app\.gone names no table: nothing is excluded by it$/m,
	'an exclusion naming no table is said');
($rc, $out, $err) = run_rebuild($node, '--all', '-N', 'app', '-N', 'public');
is($rc, 0, '--all with every schema excluded: exit 0');
like($out, qr/^summary: 0 tables in database postgres \(\d+ more excluded\):$/m, '--all -N: nothing chosen, said');

# ------------------------------------------------------------------------
# 5. The deadline: the run under way when it passes stops before its swap
#    (the table as it was, nothing left), the tables after it are deferred,
#    and that is no failure.  The test build lets the test say when the
#    deadline passes (PGR_TEST_DEADLINE_PASSED names a file the test makes
#    while the run is held just before its swap's lock).
# ------------------------------------------------------------------------
bloat_table($node, $_, delete => 0.5) for qw(app.orders app.mid);
$before = oids();
my $passed = $node->basedir . '/deadline_passed';
my $deadline_report = $node->basedir . '/deadline.json';
$h = start_rebuild($node, { env => { hold_env('SWAP_PREREAD'), PGR_TEST_DEADLINE_PASSED => $passed } },
	'--schema', 'app', '--min-bloat', '20', '--max-duration', '2h', '--report', $deadline_report);
ok(hold_run($h, 'SWAP_PREREAD'), 'deadline: the first run is held before its swap');
like($h->{stdout}, qr/^deadline \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in 2 h 00 min\): a table is started only when/m,
	'deadline: said at the start');
release_wait($passed);
($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'deadline: deferred tables are no failure (exit 0)');
like($err, qr/^pg_rebuild: error: the deadline of the command \(--deadline, --max-duration\) passed before the swap of "app"\."victim"$/m,
	'deadline: the run under way stops before its swap, saying so');
like($out, qr/^  deferred +"app"\."victim"  .*reached the deadline before its swap: stopped, the table is as it was/m,
	'deadline: the table under way is deferred');
like($out, qr/^  deferred +"app"\."orders"  .*not started: the deadline has passed$/m, 'deadline: the next ones are deferred');
like($out, qr/^totals: 0 rebuilt, \d+ skipped, [2-9] deferred, 0 failed, 0 not started;/m, 'deadline: totals');
is_deeply(oids(), $before, 'deadline: no table changed');
is_deeply([ run_leftovers($node) ], [], 'deadline: nothing left behind');
my $dl = read_json($deadline_report);
is(by_table($dl)->{victim}{result}, 'deferred', 'deadline report: deferred');
cmp_ok($dl->{totals}{deferred}, '>=', 2, 'deadline report: counted');

# ------------------------------------------------------------------------
# 6. --measure=exact: pgstattuple, or a clear error when it is not there.
# ------------------------------------------------------------------------
($rc, $out, $err) = run_rebuild($node, '--schema', 'app', '--measure', 'exact', '--dry-run');
is($rc, 1, '--measure=exact without pgstattuple: exit 1');
like($err, qr/^pg_rebuild: error: --measure=exact needs the pgstattuple extension, which is not installed in database postgres$/m,
	'--measure=exact without pgstattuple: said so');
like($err, qr/^pg_rebuild: hint: Run CREATE EXTENSION pgstattuple/m, '--measure=exact without pgstattuple: what to do');
$node->safe_psql('postgres', 'CREATE EXTENSION pgstattuple');
($rc, $out, $err) = run_rebuild($node, '--schema', 'app', '--measure', 'exact', '--min-bloat', '20', '--dry-run');
is($rc, 0, '--measure=exact: exit 0');
like($out, qr/^  chosen +"app"\."victim"  size .*expected back [\d.]+ [kM]B \(\d+%, measured with pgstattuple_approx and pgstatindex\)$/m,
	'--measure=exact: measured, and said how');
like($out, qr/^  skipped +"app"\."compact"  .*under --min-bloat 20%$/m, '--measure=exact: the compact table skipped');

done_testing();
