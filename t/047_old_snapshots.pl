# 047_old_snapshots.pl: a REPEATABLE READ transaction whose snapshot predates the rebuilt rows would see the
# rebuilt table empty if it first reads it after the swap.  The swap waits for such transactions (naming them),
# refuses after --wait-timeout, and goes on over them only with --allow-old-snapshots.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('old_snapshots', log_statement => 'none');
$node->safe_psql(
	'postgres', q{
	CREATE TABLE acc (id int PRIMARY KEY, val int NOT NULL);
	INSERT INTO acc SELECT g, g FROM generate_series(1, 5000) g;
	CREATE TABLE other (id int);
	INSERT INTO other VALUES (1);
});

# A session with a REPEATABLE READ snapshot taken on the other table: it has not touched acc, so it holds no
# lock on it, and the swap's lock does not wait for it.
sub old_reader
{
	my ($name) = @_;
	my $s = $node->background_psql('postgres');
	$s->query_safe("SET application_name = '$name'");
	$s->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
	$s->query_safe('SELECT count(*) FROM other');
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	chomp $pid;
	return ($s, $pid);
}

# ------------------------------------------------------------------------
# 1. Refused: the old transaction is still open after --wait-timeout.
# ------------------------------------------------------------------------
my $oid = table_oid($node, 'acc');
my ($s, $pid) = old_reader('old_report');
my ($rc, $out, $err) = run_rebuild($node, '-t', 'acc', '-T', '2');
is($rc, 1, 'refused: exit 1');
like($err,
	qr/^pg_rebuild: error: refusing to swap: 1 transaction that began before the rebuilt rows were written is still open after --wait-timeout \(2 s\)$/m,
	'refused: the error says what and why');
like($err, qr/old snapshot: pid $pid \(application_name "old_report", transaction \d+ s old, idle in transaction, xmin \d+ transactions old\)/,
	'refused: it names the transaction (pid, application_name, age)');
like($err, qr/--allow-old-snapshots/, 'refused: the hint names the option that accepts it');
like($err, qr/Nothing was changed/, 'refused: it says nothing was changed');
is(table_oid($node, 'acc'), $oid, 'refused: the table is the same relation');
is_deeply([ run_leftovers($node) ], [], 'refused: no per-run object left');
is($s->query_safe('SELECT count(*) FROM acc'), 5000, 'refused: the old transaction reads every row');
$s->query_safe('COMMIT');

# ------------------------------------------------------------------------
# 1b. A transaction that read the table already holds a lock on it: the
#     swap's lock waits for it (and names it as a blocker); it is not one of
#     the old snapshots.
# ------------------------------------------------------------------------
($s, $pid) = old_reader('old_report');
$s->query_safe('SELECT count(*) FROM acc');
($rc, $out, $err) = run_rebuild($node, '-t', 'acc', '-T', '2');
# (its lock keeps the failure path from dropping the capture triggers too: they are disabled, left for --cleanup)
is($rc, 3, 'lock holder: the swap gave up, exit 3');
like($out . $err, qr/blocked by pid $pid holding AccessShareLock/, 'lock holder: named as what blocks the lock');
like($err, qr/could not get ACCESS EXCLUSIVE on "public"\."acc" within --wait-timeout/,
	'lock holder: the swap waited for its lock');
unlike($err, qr/refusing to swap/, 'lock holder: not counted among the old snapshots');
is(table_oid($node, 'acc'), $oid, 'lock holder: the table is the same relation');
$s->query_safe('COMMIT');
$s->quit;
($rc, $out, $err) = run_rebuild($node, '--cleanup', '-t', 'acc');
is($rc, 0, 'lock holder: --cleanup removes what the run left') or diag($err);
is_deeply([ run_leftovers($node) ], [], 'lock holder: no per-run object left');

# ------------------------------------------------------------------------
# 2. Waited for: the run names the transaction and swaps once it ends.
# ------------------------------------------------------------------------
($s, $pid) = old_reader('old_report');
my $h = start_rebuild($node, '-t', 'acc', '-T', '300');
ok( wait_for_output(
		$h, qr/^swap: waiting for: pid $pid \(application_name "old_report", transaction \d+ s old/m),
	'waited: the run names the transaction it waits for');
ok(rebuild_running($h), 'waited: the run is still waiting');
$s->query_safe('COMMIT');
($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'waited: once the transaction ended, the run swapped');
isnt(table_oid($node, 'acc'), $oid, 'waited: the table is a new relation');
is($node->safe_psql('postgres', 'SELECT count(*) FROM acc'), 5000, 'waited: every row is there');
$s->quit;

# ------------------------------------------------------------------------
# 3. A snapshot taken after the shadow was made whole is not waited for.
# ------------------------------------------------------------------------
my ($env, $files) = wait_env($node, 'REPLAY_BATCH');
$h = start_rebuild($node, { env => $env }, '-t', 'acc', '-T', '300');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at REPLAY_BATCH$/m), 'recent: the run is in its replay');
($s, $pid) = old_reader('recent_report');
release_wait($files->{REPLAY_BATCH});
($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'recent: the run swapped');
unlike($out . $err, qr/waiting for: pid $pid/, 'recent: without waiting for the transaction');
is($s->query_safe('SELECT count(*) FROM acc'), 5000, 'recent: that transaction reads every row after the swap');
$s->query_safe('COMMIT');
$s->quit;

# ------------------------------------------------------------------------
# 4. Accepted with --allow-old-snapshots: what it means.  The old
#    transaction's snapshot predates every row of the new table, so it
#    counts none of them.
# ------------------------------------------------------------------------
($s, $pid) = old_reader('old_report');
($rc, $out, $err) = run_rebuild($node, '-t', 'acc', '-T', '300', '--allow-old-snapshots');
is($rc, 0, 'accepted: the run swapped');
like($err, qr/^pg_rebuild: warning: 1 transaction began before the rebuilt rows were written: if it reads the table only after the swap, it sees it empty or in part \(--allow-old-snapshots\)$/m,
	'accepted: it warns');
like($err, qr/old snapshot: pid $pid \(application_name "old_report"/, 'accepted: it names the transaction');
is($s->query_safe('SELECT count(*) FROM acc'), 0,
	'accepted: the old transaction, reading the table after the swap, counts 0 rows');
$s->query_safe('COMMIT');
is($s->query_safe('SELECT count(*) FROM acc'), 5000, 'accepted: its next transaction counts every row');
$s->quit;

done_testing();
