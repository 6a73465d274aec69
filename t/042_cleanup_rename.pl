# 042_cleanup_rename.pl: --cleanup finds a dead run's objects by the OIDs it recorded, so renaming the table
# does not defeat it; it never removes the log table or the capture function while a trigger can still write
# into them, so a leftover trigger never makes an application write fail; and when a writer keeps it from
# dropping the trigger, it says that the trigger still logs.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('cleanup_rename', log_statement => 'none');
create_ledger_tables($node, table => 'target', rows => 20000);
my ($rc, $out, $err);

# ------------------------------------------------------------------------
# A run killed while it waits for the swap; then the table is renamed.
# ------------------------------------------------------------------------
my $oid = table_oid($node, 'target');
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('BEGIN; LOCK TABLE target IN ACCESS SHARE MODE');
my $h = start_rebuild($node, '-t', 'target', '-T', '300');
ok(wait_for_output($h, qr/^swap: attempt \d+ waiting for a lock on "public"\."target" .*blocked by pid \d+ holding AccessShareLock/m),
	'the run waits for the swap lock behind the test session');
($rc) = kill_rebuild($h, 'KILL');
is($rc, 137, 'the run was killed while waiting for the swap');
$blocker->query_safe('COMMIT');
$blocker->quit;
ok(wait_tool_gone($node), 'no session of the run is left');

$node->safe_psql('postgres', 'ALTER TABLE target RENAME TO target_renamed');
is(table_triggers($node, 'target_renamed'), 'pgrebuild_capture,pgrebuild_truncate',
	'the renamed table still has the capture and truncate triggers');
my ($ok, $werr) = app_writes($node, table => 'target_renamed');
ok($ok, 'the application writes to the renamed table: the leftover trigger logs, nothing fails') or diag $werr;

my ($src, $runs) = status_json($node);
is($src, 3, '--status: the dead run (exit 3)');
like(join("\n", @{ $runs->[0]{objects} // [] }), qr/^trigger pgrebuild_capture on public\.target_renamed$/m,
	'--status names the trigger on the table as it is named now');

($rc, $out, $err) = run_rebuild($node, '--cleanup', '-t', 'target_renamed');
is($rc, 0, '--cleanup -t with the new name: exit 0');
like($out, qr/^  removed trigger pgrebuild_capture on "public"\."target_renamed"$/m,
	'it removed the capture trigger from the renamed table');
like($out, qr/^  removed log table /m, 'it removed the log table');
like($out, qr/^  removed function /m, 'and the capture function');
is($err, '', 'nothing on stderr');
is(table_triggers($node, 'target_renamed'), '', 'no trigger is left on the renamed table');
($ok, $werr) = app_writes($node, table => 'target_renamed');
ok($ok, 'the application writes to the renamed table after the cleanup') or diag $werr;
nothing_left($node, 'nothing of the run is left');
is(table_oid($node, 'target_renamed'), $oid, 'the table is the original one');
($rc) = run_rebuild($node, '--cleanup');
is($rc, 0, 'a second --cleanup: exit 0, nothing to do');
$node->safe_psql('postgres', 'ALTER TABLE target_renamed RENAME TO target');

# ------------------------------------------------------------------------
# A writer keeps its transaction open: the trigger can be neither dropped nor disabled.  The function and
# the log table stay with it, the application keeps writing, and the message says the trigger still logs.
# ------------------------------------------------------------------------
my ($env, $files) = wait_env($node, 'REPLAY_BATCH');
$h = start_rebuild($node, { env => $env }, '-t', 'target');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at REPLAY_BATCH$/m), 'a second run is replaying');
($rc) = kill_rebuild($h, 'KILL');
is($rc, 137, 'and is killed');
ok(wait_tool_gone($node), 'no session of the run is left');

my $writer = $node->background_psql('postgres');
$writer->query_safe('BEGIN; UPDATE target SET val = val WHERE id = (SELECT min(id) FROM target)');
($rc, $out, $err) = run_rebuild($node, '--cleanup', '-T', '1', '--lock-timeout', '50');
is($rc, 3, '--cleanup behind an open writer: exit 3');
like($err, qr/^pg_rebuild: error: could not remove a leftover object: .*lock timeout/m,
	'it could not drop the trigger (lock timeout)');
like($err, qr/^pg_rebuild: detail: The trigger pgrebuild_capture on "public"\."target" could not be disabled either \(a transaction that wrote to the table is still open\): it stays enabled, so every write to "public"\."target" also writes the row's key into the run's log table/m,
	'it says that the capture trigger stays enabled and logs');
my $state = state_schema($node);
my $toid = table_oid($node, 'target');
ok(relation_exists($node, "$state.log_$toid"), 'the log table stays, since the trigger writes into it');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_proc WHERE proname = 'capture_$toid'"), 1,
	'so does the capture function');
is($node->safe_psql('postgres', "SELECT tgenabled FROM pg_trigger WHERE tgname = 'pgrebuild_capture'"), 'A',
	'the trigger is still enabled');
$writer->query_safe('COMMIT');
my $logged = $node->safe_psql('postgres', "SELECT count(*) FROM $state.log_$toid");
($ok, $werr) = app_writes($node, table => 'target');
ok($ok, 'the application keeps writing through the leftover trigger') or diag $werr;
cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM $state.log_$toid"), '>', $logged,
	'... which logs into the log table that was kept');

($rc, $out, $err) = run_rebuild($node, '--cleanup');
is($rc, 0, 'once the writer is done, --cleanup: exit 0');
like($out, qr/removed trigger pgrebuild_capture on "public"\."target"/, 'the trigger is removed');
nothing_left($node, 'nothing of the run is left');

# The run's own failure path (interrupted while a writer is open): exit 3, and the same words.
($env, $files) = wait_env($node, 'REPLAY_BATCH');
$h = start_rebuild($node, { env => $env }, '-t', 'target', '-T', '1', '--lock-timeout', '50');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at REPLAY_BATCH$/m), 'a third run is replaying');
$writer->query_safe('BEGIN; UPDATE target SET val = val WHERE id = (SELECT min(id) FROM target)');
($rc, $out, $err) = kill_rebuild($h, 'INT');
is($rc, 3, 'interrupted behind an open writer: exit 3');
like($err, qr/could not be disabled either .*it stays enabled, so every write to "public"\."target" also writes the row's key into the run's log table/,
	'it says that the capture trigger stays enabled and logs');
like($err, qr/^pg_rebuild: hint: Run: pg_rebuild --cleanup .*-t '"public"\."target"'$/m, 'and names the --cleanup command');
$writer->query_safe('COMMIT');
$writer->quit;
($ok, $werr) = app_writes($node, table => 'target');
ok($ok, 'the application writes through the leftover trigger') or diag $werr;
($rc) = run_rebuild($node, '--cleanup');
is($rc, 0, '--cleanup afterwards: exit 0');
nothing_left($node, 'nothing of the run is left');

$node->stop;
done_testing();
