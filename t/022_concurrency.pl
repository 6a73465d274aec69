# 022_concurrency.pl: what other sessions do during a run: a second run, DDL, TRUNCATE, an application NULL,
# long transactions (--wait-timeout, --kill-blockers), a write load the replay cannot follow (--catchup-timeout).
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('concurrency', log_statement => 'none');
create_ledger_tables($node, table => 'target', rows => 20000);
$node->safe_psql(
	'postgres', q{
	CREATE TABLE second (id int PRIMARY KEY, v text NOT NULL);
	INSERT INTO second SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
	CREATE TABLE nn (id bigint PRIMARY KEY, c text, d int);
	INSERT INTO nn SELECT g, 'c' || g, g FROM generate_series(1, 5000) g;
	CREATE TABLE side (id int PRIMARY KEY);
	INSERT INTO side VALUES (1), (2);
});
my ($rc, $out, $err) = run_rebuild($node, '-q', '-t', 'target');
is($rc, 0, 'a first rebuild works (installs the schema)');

# The pid holding the run's advisory lock on a table.
sub lock_holder
{
	my ($table) = @_;
	return $node->safe_psql(
		'postgres', qq{
		SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = 1885827682
		  AND objid = '$table'::regclass::oid AND objsubid = 1});
}

# ------------------------------------------------------------------------
# Two runs on one table: the second is refused at once, naming the first.
# ------------------------------------------------------------------------
{
	my $h1 = start_rebuild($node, { env => pause_env(AFTER_INSTALL => 2000) },
		'-t', 'target');
	ok(hold_run($h1, 'AFTER_INSTALL'), 'two runs: the first run is under way (held after its install)');
	my $pid1 = lock_holder('target');
	like($pid1, qr/^\d+$/, 'two runs: the first run holds the table\'s advisory lock');
	my $t0 = Time::HiRes::time();
	($rc, $out, $err) = run_rebuild($node, '-t', 'target');
	my $took = elapsed_since($t0);
	is($rc, 1, 'two runs: the second run exits 1');
	cmp_ok($took, '<', 3, "two runs: ... at once (${took}s)");
	like($err, qr/^pg_rebuild: error: another pg_rebuild run is active on "public"\."target"$/m,
		'two runs: it says another run is active');
	like(
		$err,
		qr/It is held by pid $pid1, user \S+, from local socket, application pg_rebuild, connected since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/,
		'two runs: it names the first run: pid, user, host, since when');
	like($err, qr/Nothing was changed/, 'two runs: it changed nothing');
	like($err, qr/--status/, 'two runs: it points at --status');
	($rc, $out, $err) = finish_rebuild($h1);
	is($rc, 0, 'two runs: the first run finishes undisturbed');
	nothing_left($node, 'two runs: nothing left');
}

# ------------------------------------------------------------------------
# --cleanup while a run is alive leaves it alone; the run goes on.
# ------------------------------------------------------------------------
{
	my $oid = table_oid($node, 'target');
	my $load = start_ledger_load($node, table => 'target', clients => 2, rate => 100);
	my $h = start_rebuild($node,
		{ env => pause_env(REPLAY_BATCH => 2000, REPLAY_BATCH_TIMES => 1) }, '-t', 'target');
	ok(hold_run($h, 'REPLAY_BATCH'), 'live run: under way (held in the replay)');
	my ($crc, $cout) = run_rebuild($node, '--cleanup', '-t', 'target');
	is($crc, 0, 'live run: --cleanup exits 0');
	like($cout, qr/^run \d+ on "public"\."target" is alive \(pid \d+, phase replay\): not touched$/m,
		'live run: --cleanup says the run is alive and leaves it');
	my ($src, $runs) = status_json($node, '-t', 'target');
	is($src, 0, 'live run: --status exits 0');
	ok(ref $runs eq 'ARRAY' && @$runs == 1 && $runs->[0]{alive}, 'live run: --status shows it alive');
	is(table_triggers($node, 'target'), 'pgrebuild_capture,pgrebuild_truncate',
		'live run: its triggers are still there');
	release_run($h);
	my ($rc2) = finish_rebuild($h);
	is($rc2, 0, 'live run: the run succeeds');
	isnt(table_oid($node, 'target'), $oid, 'live run: the table was rebuilt');
	stop_ledger_load($load);
	check_ledger($node, $load, 'live run: ledger balances');
	nothing_left($node, 'live run: nothing left');
}

# ------------------------------------------------------------------------
# Two different tables rebuilt at the same time, under a load on one.
# ------------------------------------------------------------------------
{
	my %oid = map { $_ => table_oid($node, $_) } qw(target second);
	my $md5 = table_md5($node, 'second');
	my $load = start_ledger_load($node, table => 'target', clients => 2, rate => 100);
	my $ha = start_rebuild($node, { env => pause_env(AFTER_INSTALL => 2000) },
		'-t', 'target');
	my $hb = start_rebuild($node, { env => pause_env(AFTER_INSTALL => 2000) },
		'-t', 'second');
	ok(hold_run($ha, 'AFTER_INSTALL') && hold_run($hb, 'AFTER_INSTALL'),
		'two tables: both runs are under way (held after their install)');
	my ($src, $runs) = status_json($node);
	is_deeply(
		[ sort map { "$_->{table} " . ($_->{alive} ? 'alive' : 'dead') } @{ $runs // [] } ],
		[ 'second alive', 'target alive' ],
		'two tables: --status shows both runs alive at once');
	is($src, 0, 'two tables: --status exits 0 (none dead)');
	my ($rca) = finish_rebuild($ha);
	my ($rcb) = finish_rebuild($hb);
	is($rca, 0, 'two tables: the run on target succeeds');
	is($rcb, 0, 'two tables: the run on second succeeds');
	isnt(table_oid($node, $_), $oid{$_}, "two tables: $_ was rebuilt")
	  for qw(target second);
	is(table_md5($node, 'second'), $md5, 'two tables: second has the same rows');
	stop_ledger_load($load);
	check_ledger($node, $load, 'two tables: target matches the ledger');
	nothing_left($node, 'two tables: nothing left');
}

# ------------------------------------------------------------------------
# DDL from another session during a run: it waits behind the run's SHARE
# UPDATE EXCLUSIVE, pg_rebuild cancels it (the application must not queue
# behind it) and says so, and the run succeeds.  The run pauses 2 s in the
# replay, standing for any long step of the main connection (a large replay
# batch, the ANALYZE of the shadow): the DDL, sent when the pause begins,
# must be canceled all the same, not only when the main connection is free
# again.  A reader keeps the swap from its lock until the test is done, so
# the run (and its lock) is still there however late the DDL arrives; the
# test waits for pg_rebuild's own warning, never for the DDL's brief wait.
# The server logs every lock wait longer than deadlock_timeout (1 s,
# log_lock_waits): none from the DDL means it was canceled within 1 s.
# ------------------------------------------------------------------------
my @ddl = (
	{
		name => 'ALTER TABLE ADD COLUMN',
		sql => 'ALTER TABLE target ADD COLUMN extra integer',
		mode => 'AccessExclusiveLock',
		gone => q{SELECT count(*) = 0 FROM pg_attribute WHERE attrelid = 'target'::regclass AND attname = 'extra'},
	},
	{
		name => 'CREATE INDEX',
		sql => 'CREATE INDEX target_val_idx ON target (val)',
		mode => 'ShareLock',
		gone => q{SELECT to_regclass('target_val_idx') IS NULL},
	},
	{
		name => 'VACUUM FULL',
		sql => 'VACUUM FULL target',
		mode => 'AccessExclusiveLock',
		gone => q{SELECT true},
	},
	{
		name => 'TRUNCATE',
		sql => 'TRUNCATE target',
		mode => 'AccessExclusiveLock',
		gone => q{SELECT count(*) = 20000 FROM target},
	},);
$node->safe_psql('postgres',
	'TRUNCATE target; INSERT INTO target SELECT g, g FROM generate_series(1, 20000) g');
for my $d (@ddl)
{
	my $label = "DDL $d->{name}";
	my $oid = table_oid($node, 'target');
	my $md5 = table_md5($node, 'target');
	my $reader = $node->background_psql('postgres');
	my $reader_pid = $reader->query_safe('SELECT pg_backend_pid()');
	$reader->query_safe('BEGIN; SELECT count(*) FROM target');
	my $log_offset = -s $node->logfile;
	my $h = start_rebuild($node, { env => pause_env(REPLAY_BATCH => 2000, REPLAY_BATCH_TIMES => 1) },
		'-t', 'target', '-T', '600');
	ok(wait_for_output($h, qr/pausing at REPLAY_BATCH/),
		"$label: the run pauses in the replay");
	my $bg = start_psql_bg($node, $d->{sql});
	ok( wait_for_output(
			$h,
			qr/^pg_rebuild: warning: pid \d+ \(user \S+\) waited for $d->{mode} on "public"\."target" behind pg_rebuild's lock, .*canceled its statement: \Q$d->{sql}\E$/m
		),
		"$label: the run warns that the DDL waited behind its lock, and cancels it");
	my ($ddl_pid) = $h->{stderr} =~ /^pg_rebuild: warning: pid (\d+) .*canceled its statement: \Q$d->{sql}\E$/m;
	my ($drc, $dout, $derr) = finish_psql_bg($bg);
	isnt($drc, 0, "$label: the DDL failed");
	like($derr, qr/canceling statement due to user request/,
		"$label: ... canceled");
	my $waits = PostgreSQL::Test::Utils::slurp_file($node->logfile, $log_offset);
	unlike($waits, qr/process \Q${\($ddl_pid \/\/ 'none')}\E still waiting for/,
		"$label: the DDL was canceled within deadlock_timeout (1 s): the server logged no long lock wait of it");
	# The application, while the run goes on: a read, then a write.
	my ($arc, $aout, $aerr) = $node->psql('postgres',
		'SELECT count(*) FROM target WHERE id = 1; UPDATE target SET val = val WHERE id = 2');
	is($arc, 0, "$label: the application's read and write succeed") or diag($aerr);
	ok(wait_for_output($h, qr/^swap: attempt \d+ waiting for a lock on "public"\."target" .*blocked by pid $reader_pid /m),
		"$label: the run's swap waits for the reader");
	$reader->query_safe('COMMIT');
	$reader->quit;
	($rc, $out, $err) = finish_rebuild($h);
	is($rc, 0, "$label: the run succeeds");
	is($node->safe_psql('postgres', $d->{gone}),
		't', "$label: the DDL had no effect");
	is(table_md5($node, 'target'), $md5, "$label: same rows");
	isnt(table_oid($node, 'target'), $oid, "$label: the table was rebuilt");
	nothing_left($node, "$label: nothing left");
}

# ------------------------------------------------------------------------
# TRUNCATE after the install, before the holder has its lock: the truncate
# guard refuses it; the run goes on.
# ------------------------------------------------------------------------
{
	my $md5 = table_md5($node, 'target');
	my $h = start_rebuild($node, { env => pause_env(AFTER_INSTALL => 2000) },
		'-t', 'target');
	ok(hold_run($h, 'AFTER_INSTALL'), 'TRUNCATE at install: the run is held after its install');
	is( $node->safe_psql(
			'postgres',
			q{SELECT count(*) FROM pg_locks WHERE relation = 'target'::regclass AND mode = 'ShareUpdateExclusiveLock'}),
		0,
		'TRUNCATE at install: ... before its holder locks the table');
	my ($trc, $tout, $terr) = $node->psql('postgres', 'TRUNCATE target');
	isnt($trc, 0, 'TRUNCATE at install: TRUNCATE fails');
	like(
		$terr,
		qr/ERROR:  TRUNCATE of table public\.target is not allowed while pg_rebuild rebuilds it/,
		'TRUNCATE at install: refused by the truncate guard, with its message');
	like($terr, qr/Nothing was truncated/, 'TRUNCATE at install: ... which says nothing was truncated');
	release_run($h);
	($rc) = finish_rebuild($h);
	is($rc, 0, 'TRUNCATE at install: the run succeeds');
	is(table_md5($node, 'target'), $md5, 'TRUNCATE at install: all rows are there');
	nothing_left($node, 'TRUNCATE at install: nothing left');
}

# ------------------------------------------------------------------------
# The application writes NULL into the --set-not-null column during the run
# (during the copy; during the replay): exit 1, the column and the key are
# named, the table is unchanged (but for the application's write), nothing
# is left.
# ------------------------------------------------------------------------
for my $case (
	[ 'NULL during the copy', 'AFTER_INSTALL', 42 ],
	[ 'NULL during the replay', 'REPLAY_BATCH', 4242 ])
{
	my ($label, $point, $key) = @$case;
	my $oid = table_oid($node, 'nn');
	my $h = start_rebuild($node, { env => pause_env($point => 2000) },
		'-t', 'nn', '--set-not-null', 'c', '--method', 'rebuild');
	ok(hold_run($h, $point), "$label: the run is held at $point");
	$node->safe_psql('postgres', "UPDATE nn SET c = NULL WHERE id = $key");
	my $md5 = table_md5($node, 'nn');
	($rc, $out, $err) = finish_rebuild($h);
	is($rc, 1, "$label: exit 1");
	like(
		$err,
		qr/^pg_rebuild: error: the application wrote NULL into column "c" of "public"\."nn" during the run, so --set-not-null "c" cannot be applied$/m,
		"$label: the error names the column");
	like($err, qr/The row with key \("?id"?\)=\($key\) holds NULL in "c" now\./,
		"$label: ... and the row's key");
	like($err, qr/Nothing was changed/, "$label: ... and says nothing was changed");
	is(table_oid($node, 'nn'), $oid, "$label: same table");
	is(table_md5($node, 'nn'), $md5, "$label: same rows");
	is( $node->safe_psql('postgres',
			q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'nn'::regclass AND attname = 'c'}),
		'f',
		"$label: the column is still nullable");
	nothing_left($node, "$label: nothing left");
	$node->safe_psql('postgres', "UPDATE nn SET c = 'back' WHERE id = $key");
}

# ------------------------------------------------------------------------
# Long transactions.
# ------------------------------------------------------------------------
# A transaction that read the table before the run and stays open: the
# preflight names it; with -T 3 the swap gives up after about 3 s and the
# table is left as it was.  Dropping the capture trigger needs ACCESS
# EXCLUSIVE too, which the same reader blocks: after a bounded try the run
# disables its triggers (SHARE ROW EXCLUSIVE, which a reader does not block),
# exits 3 and names the --cleanup command, which removes everything once the
# reader is gone.
{
	my $oid = table_oid($node, 'target');
	my $reader = $node->background_psql('postgres');
	$reader->query_safe('BEGIN; SELECT count(*) FROM target');
	my $pid = $reader->query_safe('SELECT pg_backend_pid()');
	# the preflight names transactions open for more than 1 s (by the server's clock)
	wait_for_query($node, "the reader's transaction to be open for more than 1 s",
		"SELECT xact_start < clock_timestamp() - interval '1.1 s' FROM pg_stat_activity WHERE pid = $pid");
	my $t0 = Time::HiRes::time();
	($rc, $out, $err) = run_rebuild($node, '-t', 'target', '-T', '3');
	my $took = elapsed_since($t0);
	is($rc, 3, 'long transaction, -T 3: exit 3 (the reader also blocks the removal of the trigger)');
	like(
		$err,
		qr/^pg_rebuild: warning: pid $pid has had a transaction open for [\d.]+ s holding AccessShareLock on "public"\."target"/m,
		'long transaction: the preflight warns, naming it');
	like($err, qr/could not get ACCESS EXCLUSIVE on "public"\."target" within --wait-timeout \(3 s/,
		'long transaction: the swap gave up within --wait-timeout');
	like($out, qr/swap: attempt \d+ .*blocked by pid $pid holding AccessShareLock/,
		'long transaction: the swap attempts name the blocker');
	like($err, qr/The table "public"\."target" was not changed, but some of this run's objects remain/,
		'long transaction: it says the table was not changed');
	like($err, qr/was disabled meanwhile: it no longer fires/,
		'long transaction: the leftover trigger was disabled');
	like($err, qr/^pg_rebuild: hint: Run: pg_rebuild --cleanup .*-t '"public"\."target"'$/m,
		'long transaction: it names the --cleanup command');
	ok($took >= 3 && $took < 25, "long transaction: gave up in bounded time (${took}s)");
	is(table_oid($node, 'target'), $oid, 'long transaction: table unchanged');
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM pg_trigger WHERE tgrelid = 'target'::regclass AND tgenabled <> 'D'"
			  . " AND tgname LIKE 'pgrebuild%'"),
		'0', 'long transaction: no pg_rebuild trigger fires any more');
	is($reader->query_safe('SELECT 1'), '1', 'long transaction: the reader was not disturbed');
	$reader->query_safe('COMMIT');
	$reader->quit;
	($rc, $out, $err) = run_rebuild($node, '--cleanup', '-t', 'target');
	is($rc, 0, 'long transaction: --cleanup after the reader is gone: exit 0');
	like($out, qr/removed trigger pgrebuild_capture/, 'long transaction: --cleanup removed the trigger');
	nothing_left($node, 'long transaction: nothing left after --cleanup');
}

# --kill-blockers: the session holding a lock on the table is canceled, then
# terminated; a session with an open transaction on another table only is
# never signalled.
{
	my $oid = table_oid($node, 'target');
	my $reader = $node->background_psql('postgres', on_error_stop => 0);
	$reader->query_safe('BEGIN; SELECT count(*) FROM target');
	my $pid = $reader->query_safe('SELECT pg_backend_pid()');
	my $other = $node->background_psql('postgres');
	$other->query_safe('BEGIN; SELECT count(*) FROM side');
	my $opid = $other->query_safe('SELECT pg_backend_pid()');
	my $oxact = $node->safe_psql('postgres',
		"SELECT xact_start FROM pg_stat_activity WHERE pid = $opid");
	($rc, $out, $err) =
	  run_rebuild($node, '-t', 'target', '-T', '2', '--kill-blockers');
	is($rc, 0, '--kill-blockers: the run succeeds');
	like($err, qr/^pg_rebuild: warning: --kill-blockers: canceled the statement of pid $pid \(holding \w+ on "public"\."target"\)/m,
		'--kill-blockers: it canceled the blocker first, naming its pid');
	like($err, qr/^pg_rebuild: warning: --kill-blockers: terminated pid $pid \(holding \w+ on "public"\."target"\)/m,
		'--kill-blockers: then terminated it, naming its pid');
	unlike($err, qr/pid $opid\b/, '--kill-blockers: the other session is never named');
	isnt(table_oid($node, 'target'), $oid, '--kill-blockers: the table was rebuilt');
	is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid"),
		0, '--kill-blockers: the blocker is gone');
	is( $node->safe_psql(
			'postgres', "SELECT state || ' ' || (xact_start = '$oxact') FROM pg_stat_activity WHERE pid = $opid"),
		'idle in transaction true',
		'--kill-blockers: the other session is alive, its transaction still open');
	is($other->query_safe('SELECT count(*) FROM side'), '2',
		'--kill-blockers: the other session still works');
	$other->query_safe('COMMIT');
	$other->quit;
	$reader->{run}->kill_kill;    # its session is gone
	nothing_left($node, '--kill-blockers: nothing left');
}

# ------------------------------------------------------------------------
# --catchup-timeout: writes faster than the replay applies them (each batch
# made slow by a pause): the run stops with the rates, nothing changed.  The
# ledger load (unthrottled) runs meanwhile, and a bulk writer rewrites 15,000
# rows of its own (negative ids, which the load never picks) every second,
# so that more is captured per batch than one batch applies.
# ------------------------------------------------------------------------
{
	$node->safe_psql('postgres',
		'INSERT INTO target SELECT -g, 0 FROM generate_series(1, 15000) g');
	my $oid = table_oid($node, 'target');
	my $load = start_ledger_load($node, table => 'target', clients => 4, rate => 0);
	my $bulk = start_psql_bg($node, q{
		DO $$BEGIN
			FOR i IN 1 .. 120 LOOP
				UPDATE target SET val = val WHERE id < 0;
				COMMIT;
				PERFORM pg_sleep(0.5);
			END LOOP;
		END$$}, appname => 'pgr_test_bulk');
	my $t0 = Time::HiRes::time();
	($rc, $out, $err) = run_rebuild($node,
		{ env => pause_env(REPLAY_BATCH => 2000), timeout => 180 },
		'-t', 'target', '--catchup-timeout', '2');
	my $took = elapsed_since($t0);
	$node->safe_psql('postgres',
		q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgr_test_bulk'});
	finish_psql_bg($bulk);
	is($rc, 1, '--catchup-timeout: exit 1');
	like(
		$err,
		qr/^pg_rebuild: error: the replay is not catching up with the application's writes: the backlog \(about \d{1,3}(?:,\d{3})* changes\) has not shrunk for 2 s \(--catchup-timeout\)$/m,
		'--catchup-timeout: it says the replay is not catching up');
	like($err, qr/Changes were captured at \d{1,3}(?:,\d{3})* per second and applied at \d{1,3}(?:,\d{3})* per second\./,
		'--catchup-timeout: it gives the capture and apply rates, with thousands separators');
	like($err, qr/Nothing was changed/, '--catchup-timeout: nothing was changed');
	cmp_ok($took, '<', 60, "--catchup-timeout: it stopped in time (${took}s)");
	is(table_oid($node, 'target'), $oid, '--catchup-timeout: table unchanged');
	nothing_left($node, '--catchup-timeout: nothing left');
	stop_ledger_load($load);
	check_ledger($node, $load, '--catchup-timeout: ledger balances');
}

$node->stop;
done_testing();
