# 045_standby_takeover.pl: --status and --cleanup refuse a standby up front (it cannot tell a live run from
# a dead one); a server that refuses connections while it recovers is said to be recovering; and a run whose
# finish was taken over by another session (a --cleanup) after its connection was lost says what became of
# the table, with the exit code that says it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('primary', log_statement => 'none', init => { allows_streaming => 1 });
create_ledger_tables($node, table => 'target', rows => 20000);
my ($rc, $out, $err);

# ------------------------------------------------------------------------
# Finding 7: a run alive on the primary, looked at from a standby.
# ------------------------------------------------------------------------
($rc) = run_rebuild($node, '-q', '-t', 'target');
is($rc, 0, 'a first rebuild creates the state schema');
# (new_standby: pg_basebackup of the client programs refuses a newer server)
my $standby = new_standby($node, 'standby');

my ($env, $files) = wait_env($node, 'REPLAY_BATCH');
my $h = start_rebuild($node, { env => $env }, '-t', 'target');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at REPLAY_BATCH$/m), 'a run is alive on the primary');
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM ' . runs_sql($standby) . ' r'), 1,
	'the standby has the run\'s record');

($rc, $out, $err) = run_rebuild($standby, '--status');
is($rc, 1, '--status on the standby: exit 1');
like($err, qr/^pg_rebuild: error: connected to a standby: pg_rebuild --status must run against the primary$/m,
	'--status on the standby: says so');
like($err, qr/^pg_rebuild: detail: A standby does not see the sessions of the primary, so it cannot tell a live run from a dead one/m,
	'--status on the standby: says why');
like($err, qr/^pg_rebuild: hint: Point -h\/-p .* at the primary server\.$/m, '--status on the standby: points at the primary');
unlike($out, qr/DEAD/, '--status on the standby: no run is called dead');

my $log_offset = -s $standby->logfile;
($rc, $out, $err) = run_rebuild($standby, '--cleanup');
is($rc, 1, '--cleanup on the standby: exit 1');
like($err, qr/^pg_rebuild: error: connected to a standby: pg_rebuild --cleanup must run against the primary$/m,
	'--cleanup on the standby: says so');
unlike(slurp_file($standby->logfile, $log_offset), qr/read-only transaction/,
	'--cleanup on the standby: tried to remove nothing');
is(table_triggers($node, 'target'), 'pgrebuild_capture,pgrebuild_truncate', 'the live run\'s triggers are untouched');

release_wait($files->{REPLAY_BATCH});
($rc) = finish_rebuild($h);
is($rc, 0, 'the run on the primary finishes');
($rc, $out, $err) = run_rebuild($node, '--status');
is($rc, 0, '--status on the primary: exit 0');

# ------------------------------------------------------------------------
# Finding 11: a server that is running but refuses connections (a standby without hot_standby, as a
# recovering server does): the message says so, not "check -d/-h/-p/-U".
# ------------------------------------------------------------------------
$standby->stop;
$standby->append_conf('postgresql.conf', 'hot_standby = off');
$standby->start;
($rc, $out, $err) = run_rebuild($standby, '--retry-timeout', '1', '-t', 'target');
is($rc, 1, 'a server that refuses connections: exit 1');
like($err, qr/^pg_rebuild: detail: The server is running but does not accept connections: it is starting up, recovering from a crash, shutting down, or a standby without hot_standby\. Nothing was changed by this connection attempt\.$/m,
	'it says the server is running but not accepting connections');
like($err, qr/^pg_rebuild: hint: Run again once the server accepts connections .*--retry-timeout \(1 s\)/m,
	'it says to run again once it does');
unlike($err, qr/pgpass/, 'it does not send the user to check the connection options');
$standby->stop;

# ------------------------------------------------------------------------
# Finding 9: the run loses its connections after the swap committed, and another session holds the
# table's lock (as a --cleanup does) when it comes back.
# ------------------------------------------------------------------------
my $oid = table_oid($node, 'target');
my $key = $node->safe_psql('postgres', "SELECT (x'70677262'::bigint << 32) | $oid");
($env, $files) = wait_env($node, 'FINISH');
$h = start_rebuild($node, { env => $env }, '-t', 'target');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at FINISH$/m), 'the run swapped and is about to finish');
isnt(table_oid($node, 'target'), $oid, 'the swap committed');
cmp_ok(terminate_tool_backends($node), '>=', 1, 'its sessions are terminated');
ok(wait_tool_gone($node), 'they are gone');
my $other = $node->background_psql('postgres');
is($other->query_safe("SELECT pg_try_advisory_lock($key)"), 't', 'another session takes the table\'s pg_rebuild lock');
my $other_pid = $other->query_safe('SELECT pg_backend_pid()');
release_wait($files->{FINISH});
($rc, $out, $err) = finish_rebuild($h);
is($rc, 3, 'taken over after the swap: exit 3 (rebuilt, the other session still removing what is left)');
like($err, qr/^pg_rebuild: error: after reconnecting, the table's pg_rebuild lock is held by pid $other_pid\b.*: this run stops$/m,
	'it names the session that took over');
like($err, qr/^pg_rebuild: detail: The swap had committed: "public"\."target" is rebuilt\. The rest of the run \(removing the old table and the run's objects\) was taken over by pid $other_pid\b/m,
	'it says the table was rebuilt');
like($err, qr/^pg_rebuild: detail: That session is still removing this run's objects\.$/m, 'and who is removing the rest');
unlike($err, qr/Nothing was changed/, 'it does not say that nothing was changed');
$other->query_safe("SELECT pg_advisory_unlock($key)");
$other->quit;
($rc, $out, $err) = run_rebuild($node, '--cleanup');
is($rc, 0, '--cleanup finishes the run\'s work');
like($out, qr/its swap had committed: "public"\."target" is the rebuilt table; finishing its work/, '... as the finish of a rebuilt table');
nothing_left($node, 'nothing is left');

# The same, but the --cleanup has finished everything by the time the run comes back: exit 0.
$oid = table_oid($node, 'target');
($env, $files) = wait_env($node, 'FINISH');
$h = start_rebuild($node, { env => $env }, '-t', 'target');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at FINISH$/m), 'a second run swapped and is about to finish');
cmp_ok(terminate_tool_backends($node), '>=', 1, 'its sessions are terminated');
ok(wait_tool_gone($node), 'they are gone');
($rc, $out, $err) = run_rebuild($node, '--cleanup');
is($rc, 0, 'a --cleanup finishes its work meanwhile');
release_wait($files->{FINISH});
($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'the run, back, finds its work done: exit 0');
like($out, qr/^reconnected: the finish of this run was already done \(by a --cleanup meanwhile, or by this run just before it lost the connection\): "public"\."target" is rebuilt$/m,
	'it says the table is rebuilt and the finish was done by another session');
unlike($err, qr/Nothing was changed/, 'it does not say that nothing was changed');
isnt(table_oid($node, 'target'), $oid, 'the table is the rebuilt one');
nothing_left($node, 'nothing is left');

# Taken over before the swap: the table was not changed; exit 3 while the other session removes the rest.
$oid = table_oid($node, 'target');
$key = $node->safe_psql('postgres', "SELECT (x'70677262'::bigint << 32) | $oid");
($env, $files) = wait_env($node, 'REPLAY_BATCH');
$h = start_rebuild($node, { env => $env }, '-t', 'target');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at REPLAY_BATCH$/m), 'a third run is replaying');
cmp_ok(terminate_tool_backends($node), '>=', 1, 'its sessions are terminated');
ok(wait_tool_gone($node), 'they are gone');
$other = $node->background_psql('postgres');
is($other->query_safe("SELECT pg_try_advisory_lock($key)"), 't', 'another session takes the table\'s lock');
release_wait($files->{REPLAY_BATCH});
($rc, $out, $err) = finish_rebuild($h);
is($rc, 3, 'taken over before the swap: exit 3');
like($err, qr/^pg_rebuild: detail: "public"\."target" was not changed: the run had not swapped\. It was taken over by pid \d+/m,
	'it says the table was not changed');
is(table_oid($node, 'target'), $oid, 'the table is the original one');
$other->query_safe("SELECT pg_advisory_unlock($key)");
$other->quit;
($rc) = run_rebuild($node, '--cleanup');
is($rc, 0, '--cleanup removes the rest');
nothing_left($node, 'nothing is left');

$node->stop;
done_testing();
