# 021_restart.pl: the server restarts (pg_ctl restart -m fast) during the copy, the replay and the swap wait:
# the run reconnects and finishes; a server that stays away, or never answers, makes it fail cleanly and in time.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('restart', log_statement => 'none');
create_ledger_tables($node, table => 'target', rows => 20000);
my ($rc, $out, $err) = run_rebuild($node, '-q', '-t', 'target');
is($rc, 0, 'a first rebuild works (installs the schema)');

# One restart: start the run under a load, hold it at $point (or, with
# blocker, let it wait for the swap lock behind a session that holds ACCESS
# SHARE from before the run), restart the server (fast mode: every session
# is terminated, committed work is kept), let the run go on, then check that
# it reconnected and finished, and that the ledger balances.  The load
# running during the restart loses its connections (its writers abort:
# allow_errors); a second load runs after it.
sub restart_case
{
	my ($label, $point, $env, $phase, %o) = @_;
	my $oid = table_oid($node, 'target');
	my $load1 = start_ledger_load(
		$node,
		table => 'target',
		clients => 4,
		rate => 200,
		allow_errors => 1);
	my $blocker;
	if ($o{blocker})
	{
		$blocker = $node->background_psql('postgres');
		$blocker->query_safe('BEGIN; LOCK TABLE target IN ACCESS SHARE MODE');
	}
	my $h = start_rebuild($node, { env => $env }, '-t', 'target', '-T', '120');
	if ($blocker)
	{
		ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at \Q$point\E$/m),
			"$label: the run reached $point");
		ok( wait_for_output(
				$h, qr/^swap: attempt \d+ waiting for a lock on "public"\."target"/m),
			"$label: the run waits for the swap lock");
	}
	else
	{
		ok(hold_run($h, $point), "$label: the run is held at $point");
	}

	$node->restart;
	release_run($h);
	my $load2 =
	  start_ledger_load($node, table => 'target', clients => 4, rate => 200);
	($rc, $out, $err) = finish_rebuild($h);
	if ($blocker)
	{
		$blocker->quit;    # its session died with the restart
	}
	is($rc, 0, "$label: the run reconnected and finished (exit 0)");
	like($err, qr/^pg_rebuild: warning: lost a connection during the \w+ phase: reconnecting/m,
		"$label: it said it lost a connection and reconnects");
	like($out, qr/^reconnected: going on with the \Q$phase\E phase$/m,
		"$label: it went on with the $phase phase");
	ok(wait_tool_gone($node), "$label: its sessions are gone");

	stop_ledger_load($load2);
	my $s1 = stop_ledger_load($load1);
	cmp_ok($s1->{transactions}, '>', 0,
		"$label: the load committed before the restart");
	if ($rc == 3)
	{
		# leftovers: clean them so the ledger check and later cases make sense
		run_rebuild($node, '--cleanup', '-t', 'target');
	}
	check_ledger($node, $load1,
		"$label: every committed write is in the table exactly once");
	nothing_left($node, "$label: nothing of the run is left");
	my ($src, $runs) = status_json($node);
	is($src, 0, "$label: --status shows no dead run");
	if ($rc == 0)
	{
		isnt(table_oid($node, 'target'), $oid, "$label: the table was rebuilt");
	}
	else
	{
		is(table_oid($node, 'target'), $oid,
			"$label: the run failed: the table is the original one");
	}
	return;
}

restart_case(
	'restart during the copy', 'COPY_CHUNK',
	{ hold_env('COPY_CHUNK'), PGR_TEST_COPY_CHUNK_BLOCKS => 20 }, 'copy');
# (one pause only: a pause per batch would let the load outrun the replay)
restart_case('restart during the replay',
	'REPLAY_BATCH', { hold_env('REPLAY_BATCH') }, 'replay');
restart_case(
	'restart during the swap wait', 'BEFORE_SWAP',
	pause_env(BEFORE_SWAP => 1), 'swap', blocker => 1);

# ------------------------------------------------------------------------
# The server stops during the replay and stays away longer than
# --retry-timeout: the run gives up, says what is left and how to clean it;
# once the server is back, --cleanup removes it.
# ------------------------------------------------------------------------
{
	my $oid = table_oid($node, 'target');
	my $load = start_ledger_load($node, table => 'target', clients => 2, rate => 100,
		allow_errors => 1);
	my $h = start_rebuild($node, { env => { hold_env('REPLAY_BATCH') } },
		'-t', 'target', '--retry-timeout', '2');
	ok(hold_run($h, 'REPLAY_BATCH'), 'server away: the run is held in the replay');
	$node->stop('fast');
	my $t0 = Time::HiRes::time();
	($rc, $out, $err) = finish_rebuild($h);    # (lets it go on)
	my $took = elapsed_since($t0);
	is($rc, 3, 'server away: exit 3 (leftovers)');
	cmp_ok($took, '<', 30, "server away: it gave up in time (${took}s)");
	like($err, qr/could not connect to the database/,
		'server away: it says it could not connect');
	like($err, qr/retrying in [\d.]+ s/, 'server away: it retried first');
	like($err, qr/^pg_rebuild: hint: Run: pg_rebuild --cleanup .*-t '"public"\."target"'$/m,
		'server away: it names the --cleanup command');
	my $port = $node->port;
	like($err, qr/^pg_rebuild: hint: Run: pg_rebuild --cleanup -d 'postgres' .*-p '$port' .*-t /m,
		'server away: the --cleanup command names the database and port of the run');
	$node->start;
	my ($src, $runs) = status_json($node, '-t', 'target');
	is($src, 3, 'server away: --status shows the dead run');
	my ($crc, $cout) = run_rebuild($node, '--cleanup', '-t', 'target');
	is($crc, 0, 'server away: --cleanup exits 0');
	like($cout, qr/removed log table/, 'server away: --cleanup removed the log table');
	nothing_left($node, 'server away: nothing left after --cleanup');
	is(table_oid($node, 'target'), $oid, 'server away: table unchanged');
	stop_ledger_load($load);
	check_ledger($node, $load, 'server away: ledger balances');
}

# ------------------------------------------------------------------------
# Nobody listens: --retry-timeout bounds the wait; 0 means one attempt.
# ------------------------------------------------------------------------
{
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $connstr = "host=127.0.0.1 port=$port dbname=postgres";
	my $t0 = Time::HiRes::time();
	($rc, $out, $err) = run_rebuild($node, '-d', $connstr, '--retry-timeout',
		'2', '-t', 'target');
	my $took = elapsed_since($t0);
	is($rc, 1, 'closed port, --retry-timeout 2: exit 1');
	ok($took >= 1.5 && $took <= 15,
		"closed port, --retry-timeout 2: gave up after about 2 s (${took}s)");
	like($err, qr/could not connect to the database \(.*?\): retrying in [\d.]+ s/s,
		'closed port: it reports each retry');
	like($err, qr/^pg_rebuild: error: could not connect to the database: .*127\.0\.0\.1.*$port/m,
		'closed port: the error names the host and port');
	like($err, qr/Nothing was changed/, 'closed port: says nothing was changed');
	like($err, qr/hint: Check -d\/-h\/-p\/-U/, 'closed port: says what to check');

	$t0 = Time::HiRes::time();
	($rc, $out, $err) = run_rebuild($node, '-d', $connstr, '--retry-timeout',
		'0', '-t', 'target');
	$took = elapsed_since($t0);
	is($rc, 1, 'closed port, --retry-timeout 0: exit 1');
	cmp_ok($took, '<', 1.5, "closed port, --retry-timeout 0: at once (${took}s)");
	unlike($err, qr/retrying in/, 'closed port, --retry-timeout 0: no retry');
	like($err, qr/could not connect to the database/,
		'closed port, --retry-timeout 0: clear message');
}

$node->stop;
done_testing();
