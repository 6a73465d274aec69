# 013_lock_wait.pl: lock waits at install and swap: retries with a bounded wait, names the blocker, and cleans up.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Text::ParseWords qw(shellwords);
use Time::HiRes ();
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('lock_wait', log_statement => 'none');

$node->safe_psql(
	'postgres', q{
	CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);
	INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 20000) g;
});
bloat_table($node, 't', delete => 0.5);

# A session that holds a lock on t in an open transaction.
sub blocker
{
	my ($sql) = @_;
	my $s = $node->background_psql('postgres');
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_safe("BEGIN; $sql");
	return ($s, $pid);
}

sub attempts_reported
{
	my ($out) = @_;
	my @n = $out =~ /^swap: attempt (\d+) waiting for a lock on "public"\."t"/mg;
	return @n ? $n[-1] : 0;
}

# ------------------------------------------------------------------------
# 1. The swap cannot get ACCESS EXCLUSIVE within -T 3: the run gives up
#    after about 3 s, names the blocker, and removes its objects (once the
#    blocker is gone: dropping the capture trigger needs the same lock).
# ------------------------------------------------------------------------
my $md5 = table_md5($node, 't');
my $oid = table_oid($node, 't');
my ($bg, $pid) = blocker('LOCK TABLE t IN ACCESS SHARE MODE');
my $started = Time::HiRes::time();
my $h = start_rebuild($node, '-t', 't', '-T', '3', '--lock-timeout', '100');
ok(wait_for_output($h, qr/could not get ACCESS EXCLUSIVE/),
	'swap timeout: the run gives up on the swap lock');
my $gave_up = Time::HiRes::time() - $started;
$bg->query_safe('COMMIT');
my ($rc, $out, $err) = finish_rebuild($h);
my $elapsed = Time::HiRes::time() - $started;
is($rc, 1, 'swap timeout: exit 1');
cmp_ok($gave_up, '>=', 2.5, sprintf('swap timeout: it kept trying for -T 3 (%.1f s)', $gave_up));
cmp_ok($elapsed, '<', 30, sprintf('swap timeout: it did not wait much longer (%.1f s in all)', $elapsed));
like($out, qr/^swap: attempt 1 waiting for a lock on "public"\."t" .*: blocked by pid $pid holding AccessShareLock/m,
	'swap timeout: stdout names the blocking session by pid and lock');
like(
	$err,
	qr/^pg_rebuild: error: could not get ACCESS EXCLUSIVE on "public"\."t" within --wait-timeout \(3 s, (\d+) attempts of 100 ms\)$/m,
	'swap timeout: stderr says why, with the attempts');
my ($attempts) = $err =~ /\((?:\d+) s, (\d+) attempts of/;
cmp_ok($attempts // 0, '>', 1, 'swap timeout: the lock was retried');
cmp_ok(attempts_reported($out), '>', 1, 'swap timeout: later attempts are reported too');
like($err, qr/^pg_rebuild: detail: Nothing was changed: "public"\."t" is as it was, and every object of this run was removed\.$/m,
	'swap timeout: stderr says nothing was changed');
unlike($out, qr/^phase swap/m, 'swap timeout: no swap reported done');
is(table_md5($node, 't'), $md5, 'swap timeout: same rows');
is(table_oid($node, 't'), $oid, 'swap timeout: same table (OID)');
is_deeply([ run_leftovers($node) ], [], 'swap timeout: no per-run object left');
is($node->safe_psql('postgres', q{INSERT INTO t VALUES (0, 'after') RETURNING id}),
	0, 'swap timeout: the table takes writes');
$bg->quit;

# Nothing in the way any more: the same command succeeds.
$md5 = table_md5($node, 't');
($rc, $out, $err) = run_rebuild($node, '-t', 't', '-T', '3', '--lock-timeout', '100');
is($rc, 0, 'without the blocker: exit 0');
like($out, qr/^phase swap .*ACCESS EXCLUSIVE held \d+ ms, 1 attempt,/m,
	'without the blocker: one attempt');
is(table_md5($node, 't'), $md5, 'without the blocker: same rows');
isnt(table_oid($node, 't'), $oid, 'without the blocker: a new table');

# ------------------------------------------------------------------------
# 2. A lock held only briefly: the run waits it out and succeeds after
#    more than one attempt.
# ------------------------------------------------------------------------
$md5 = table_md5($node, 't');
$oid = table_oid($node, 't');
($bg, $pid) = blocker('SELECT count(*) FROM t');
$h = start_rebuild($node, '-t', 't', '-T', '60', '--lock-timeout', '100');
ok(wait_for_output($h, qr/^swap: attempt 1 waiting/m),
	'brief lock: the swap waits for the reader');
ok(wait_for_output($h, qr/^swap: attempt (?:[2-9]|\d\d+) waiting/m),
	'brief lock: ... and tries again');
$bg->query_safe('COMMIT');
($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'brief lock: exit 0');
like($out, qr/blocked by pid $pid holding AccessShareLock, transaction open [\d.]+ s, idle in transaction: SELECT count\(\*\) FROM t/,
	'brief lock: stdout names the reader, its lock, state and query');
my ($n) = $out =~ /^phase swap .*ACCESS EXCLUSIVE held \d+ ms, (\d+) attempts?,/m;
cmp_ok($n // 0, '>', 1, "brief lock: the swap took more than one attempt (" . ($n // '?') . ")");
is(table_md5($node, 't'), $md5, 'brief lock: same rows');
isnt(table_oid($node, 't'), $oid, 'brief lock: a new table');
is_deeply([ run_leftovers($node) ], [], 'brief lock: nothing left behind');
$bg->quit;

# ------------------------------------------------------------------------
# 3. A writer's open transaction blocks the install (SHARE ROW EXCLUSIVE):
#    the run gives up before it created anything.
# ------------------------------------------------------------------------
($bg, $pid) = blocker(q{UPDATE t SET v = v WHERE id = 0});
$md5 = $node->safe_psql('postgres', 'SELECT md5(string_agg(t::text, \',\' ORDER BY id)) FROM t');
$oid = table_oid($node, 't');
$started = Time::HiRes::time();
($rc, $out, $err) = run_rebuild($node, '-t', 't', '-T', '2', '--lock-timeout', '100');
$elapsed = Time::HiRes::time() - $started;
is($rc, 1, 'install timeout: exit 1');
cmp_ok($elapsed, '>=', 1.5, sprintf('install timeout: it kept trying for -T 2 (%.1f s)', $elapsed));
like($out, qr/^install: attempt \d+ waiting for a lock on "public"\."t" .*: blocked by pid $pid holding RowExclusiveLock/m,
	'install timeout: stdout names the writer');
like($err, qr/^pg_rebuild: error: could not lock "public"\."t" to install the capture trigger within --wait-timeout \(2 s\)$/m,
	'install timeout: stderr says why');
like($err, qr/^pg_rebuild: detail: Nothing was changed/m, 'install timeout: nothing was changed');
is_deeply([ run_leftovers($node) ], [], 'install timeout: nothing left behind, blocker still there');
is(table_oid($node, 't'), $oid, 'install timeout: same table (OID)');
$bg->query_safe('COMMIT');
$bg->quit;
is($node->safe_psql('postgres', 'SELECT md5(string_agg(t::text, \',\' ORDER BY id)) FROM t'),
	$md5, 'install timeout: same rows');

# ------------------------------------------------------------------------
# 4. The blocker outlives the run: the capture trigger cannot be dropped
#    either.  The run must say so (exit 3), name the --cleanup command, and
#    leave only recorded objects that never break writes; --cleanup removes
#    them once the blocker is gone.
# ------------------------------------------------------------------------
$md5 = table_md5($node, 't');
$oid = table_oid($node, 't');
($bg, $pid) = blocker('LOCK TABLE t IN ACCESS SHARE MODE');
$started = Time::HiRes::time();
($rc, $out, $err) = run_rebuild($node, '-t', 't', '-T', '2', '--lock-timeout', '100');
$elapsed = Time::HiRes::time() - $started;
is($rc, 3, 'blocker outlives the run: exit 3 (leftovers)');
cmp_ok($elapsed, '<', 30, sprintf('blocker outlives the run: it ended after %.1f s', $elapsed));
like($err, qr/could not get ACCESS EXCLUSIVE on "public"\."t" within --wait-timeout/,
	'blocker outlives the run: stderr says the swap lock was not granted');
like($err, qr/^pg_rebuild: detail: The table "public"\."t" was not changed, but some of this run's objects remain\.$/m,
	'blocker outlives the run: stderr says the table was not changed and objects remain');
like($err, qr/^pg_rebuild: hint: Run: pg_rebuild --cleanup .*-t '"public"\."t"'$/m,
	'blocker outlives the run: stderr names the --cleanup command');
my ($cleanup) = $err =~ /^pg_rebuild: hint: Run: pg_rebuild (--cleanup .*)$/m;
my @left = run_leftovers($node);
ok((grep { /^trigger pgrebuild_capture on t$/ } @left),
	'blocker outlives the run: the capture trigger is left, and recorded')
  or diag(explain \@left);
ok((grep { /^run \d+ \(public\.t, phase swap\)$/ } @left),
	'blocker outlives the run: the run is recorded');
is($node->safe_psql('postgres', q{INSERT INTO t VALUES (-1, 'leftover trigger') RETURNING id}),
	-1, 'blocker outlives the run: writes still work with the leftover trigger');
$bg->query_safe('COMMIT');
$bg->quit;

# --status shows the dead run.
($rc, $out, $err) = run_rebuild($node, '--status');
is($rc, 3, '--status with a dead run: exit 3');
like($out, qr/^run \d+  table "public"\."t"  phase swap  .*DEAD/m, '--status: the run is shown dead');

# A new run sees the dead run's objects and points to --cleanup.
($rc, $out, $err) = run_rebuild($node, '-t', 't');
is($rc, 1, 'leftovers of a dead run: a new run exits 1');
like($err, qr/^pg_rebuild: error: a previous pg_rebuild run on "public"\."t" did not finish and left objects behind$/m,
	'leftovers of a dead run: said so');
like($err, qr/^pg_rebuild: detail: run \d+ \(phase swap, started .*\): .*pgrebuild_capture/m,
	'leftovers of a dead run: the objects are listed');
like($err, qr/^pg_rebuild: hint: Run: pg_rebuild --cleanup .*-t '"public"\."t"'$/m,
	'leftovers of a dead run: the --cleanup command is named');
is_deeply([ run_leftovers($node) ], \@left, 'leftovers of a dead run: the new run added nothing');

# The printed command, as a user would paste it: it must reach the same
# server without the environment the run had (here the server is on a
# socket directory given with -d host=...).
($rc, $out, $err) = run_rebuild($node, { env => { PGHOST => undef, PGPORT => undef } },
	shellwords($cleanup // '--cleanup'), '--retry-timeout', '0');
is($rc, 0, '--cleanup: the printed command works as printed');
($rc, $out, $err) = run_rebuild($node, '--cleanup', '-t', 't') if $rc != 0;
is($rc, 0, '--cleanup: exit 0');
like($out, qr/cleaned up 1 dead run/, '--cleanup: one dead run cleaned');
is_deeply([ run_leftovers($node) ], [], '--cleanup: nothing left behind');
($rc, $out, $err) = run_rebuild($node, '--status');
is($rc, 0, '--status after --cleanup: exit 0');
like($out, qr/^no pg_rebuild run in database postgres$/m, '--status after --cleanup: no run');
is(table_oid($node, 't'), $oid, '--cleanup: same table (OID)');
$node->safe_psql('postgres', 'DELETE FROM t WHERE id = -1');
is(table_md5($node, 't'), $md5, '--cleanup: same rows');

done_testing();
