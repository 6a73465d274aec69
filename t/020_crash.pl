# 020_crash.pl: a run killed (SIGKILL) or cut off (pg_terminate_backend) at each stage, under a write load:
# the application never fails, --status shows the dead run, --cleanup removes (or finishes) it, no row is lost.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('crash', log_statement => 'none');
create_ledger_tables($node, table => 'target', rows => 20000);
$node->safe_psql(
	'postgres', q{
	CREATE TABLE other (id int PRIMARY KEY, v text NOT NULL);
	INSERT INTO other SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
});

# A first run installs the tool's schema.
my ($rc, $out, $err) = run_rebuild($node, '-q', '-t', 'target');
is($rc, 0, 'a first rebuild works');

# What a run killed at each pause point leaves: its phase in pgrebuild.runs
# and the kinds of objects recorded.
my @before_swap = qw(function log shadow trigger trigger);
my %stage = (
	AFTER_INSTALL => { phase => 'install', kinds => [qw(function log trigger trigger)] },
	COPY_CHUNK => {
		phase => 'copy',
		kinds => \@before_swap,
		env => { CHUNK_BLOCKS => 20 },
	},
	REPLAY_BATCH => { phase => 'replay', kinds => \@before_swap },
	BEFORE_SWAP => {
		phase => 'swap',
		kinds => \@before_swap,
		blocker => 1,
		kill_pause => 1    # only a marker: the strike is during the swap wait
	},
	BEFORE_SWAP_COMMIT => { phase => 'swap', kinds => \@before_swap },
	FINISH => { phase => 'swapped', kinds => [qw(function log old)], swapped => 1 },);

my %removed_word = (
	trigger => 'trigger',
	function => 'function',
	log => 'log table',
	shadow => 'shadow table',
	old => 'old table');

# Whether the object described by --status ("kind schema.name [on s.t]") exists.
sub object_exists
{
	my ($desc) = @_;
	my ($kind, $name, $table) = $desc =~ /^(\S+) (\S+)(?: on (\S+))?$/
	  or return 0;
	if ($kind eq 'trigger')
	{
		my ($tg) = $name =~ /([^.]+)$/;
		return scalar(grep { $_ eq $tg } split /,/,
			table_triggers($node, $table));
	}
	if ($kind eq 'function')
	{
		return $node->safe_psql('postgres',
			"SELECT to_regprocedure('$name()') IS NOT NULL") eq 't';
	}
	return relation_exists($node, $name);
}

# One crash: start a run under the ledger load, wait for it to pause at
# $point, then SIGKILL it ('kill') or terminate its sessions ('terminate',
# with the run held at $point meanwhile, so that it finds them gone there);
# check what is left, clean up, rebuild again, and check the ledger.  For a
# strike while the swap waits (blocker), a session holding ACCESS SHARE is
# in place before the run starts, so the swap cannot get past it.
sub crash_case
{
	my ($point, $variant) = @_;
	my $st = $stage{$point};
	my $label =
	  "$point, " . ($variant eq 'kill' ? 'SIGKILL' : 'pg_terminate_backend');
	my $oid = table_oid($node, 'target');
	my $load =
	  start_ledger_load($node, table => 'target', clients => 4, rate => 200);

	my $blocker;
	if ($st->{blocker})
	{
		$blocker = $node->background_psql('postgres');
		$blocker->query_safe('BEGIN; LOCK TABLE target IN ACCESS SHARE MODE');
	}
	# After the strike the run goes on without pausing again: at the load's
	# rate, a replay paused after every batch could not catch up.
	my $pause = $variant eq 'kill' ? ($st->{kill_pause} // 300000) : 1500;
	my $h = start_rebuild($node,
		{ env => pause_env($point => $pause, "${point}_TIMES" => 1, %{ $st->{env} // {} }) },
		'-t', 'target', '-T', '120');
	my $tool_pid = $h->{harness}{KIDS}[0]{PID};
	if ($variant eq 'kill' || $st->{blocker})
	{
		ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at \Q$point\E$/m),
			"$label: the run reached $point under the load");
	}
	else
	{
		ok(hold_run($h, $point), "$label: the run is held at $point under the load");
	}

	if ($st->{blocker})
	{
		ok( wait_for_output(
				$h,
				qr/^swap: attempt \d+ waiting for a lock on "public"\."target" .*blocked by pid \d+ holding AccessShareLock/m
			),
			"$label: the run waits for the swap lock behind the test session");
	}

	my $outcome;
	if ($variant eq 'kill')
	{
		($rc, $out, $err) = kill_rebuild($h, 'KILL');
		is($rc, 137, "$label: the run was killed");
		$outcome = 'dead';
	}
	else
	{
		cmp_ok(terminate_tool_backends($node), '>=', 1,
			"$label: its sessions were terminated");
		release_run($h);
		if ($blocker)
		{
			$blocker->query_safe('COMMIT');
			$blocker->quit;
			undef $blocker;
		}
		($rc, $out, $err) = finish_rebuild($h);
		ok($rc == 0 || $rc == 1 || $rc == 3,
			"$label: the run ended with exit 0, 1 or 3 (got $rc)");
		$outcome =
			$rc == 0 ? 'rebuilt'
		  : $rc == 1 ? 'failed'
		  : 'dead';
		note "$label: the run's outcome after losing its sessions: exit $rc ($outcome)";
		if ($rc == 0)
		{
			like($out, qr/^reconnected: going on with the \w+ phase$/m,
				"$label: it reconnected and went on");
		}
		elsif ($rc == 1)
		{
			like($err, qr/Nothing was changed/,
				"$label: exit 1 says nothing was changed");
		}
		else
		{
			like($err, qr/pg_rebuild --cleanup/,
				"$label: exit 3 names the --cleanup command");
		}
	}
	if ($blocker)
	{
		$blocker->query_safe('COMMIT');
		$blocker->quit;
	}
	ok(wait_tool_gone($node), "$label: no session of the run is left");

	# The application goes on writing, whatever the run left behind.
	my ($ok, $werr) = app_writes($node, table => 'target');
	ok($ok, "$label: INSERT, UPDATE, key UPDATE and DELETE work after the crash")
	  or diag $werr;
	ledger_balanced_now($node, $load,
		"$label: the table matches the ledger after the crash");

	my ($src, $runs) = status_json($node, '-t', 'target');
	if ($outcome eq 'dead')
	{
		is($src, 3, "$label: --status exits 3");
		is(ref $runs eq 'ARRAY' ? scalar @$runs : -1, 1,
			"$label: --status --json lists one run");
		my $run = ref $runs eq 'ARRAY' && $runs->[0] ? $runs->[0] : {};
		ok(!$run->{alive}, "$label: the run is DEAD");
		is($run->{phase}, $st->{phase}, "$label: its phase is $st->{phase}");
		my @objects = @{ $run->{objects} // [] };
		is_deeply([ sort map { /^(\S+)/ } @objects ],
			$st->{kinds}, "$label: --status lists the run's objects")
		  or diag explain \@objects;
		is(scalar(grep { object_exists($_) } @objects),
			scalar @objects, "$label: each listed object exists");

		my ($trc, $tout) = run_rebuild($node, '--status', '-t', 'target');
		is($trc, 3, "$label: --status (text) exits 3");
		like(
			$tout,
			qr/^run \d+  table "public"\."target"  phase \Q$st->{phase}\E  started .* DEAD \(was pg_rebuild pid \d+ on host \S+, server pid \d+, role \S+\): run pg_rebuild --cleanup -d 'postgres' -h '[^']+' -p '\d+' -U '[^']+' -t '"public"\."target"'$/m,
			"$label: --status says DEAD, the phase and the command to run");
		if ($variant eq 'kill')
		{
			like($tout, qr/DEAD \(was pg_rebuild pid $tool_pid on host /,
				"$label: --status names the killed pg_rebuild's own pid as \"was pid\"");
			is($run->{client_pid}, $tool_pid, "$label: --status --json has the client's pid");
		}

		if ($st->{swapped})
		{
			isnt(table_oid($node, 'target'), $oid,
				"$label: the swap had committed: target is the new table");
			is(table_triggers($node, 'target'), '',
				"$label: the new table has no capture trigger");
		}
		else
		{
			is(table_oid($node, 'target'), $oid,
				"$label: target is still the original table");
			is(table_triggers($node, 'target'),
				'pgrebuild_capture,pgrebuild_truncate',
				"$label: the capture and truncate triggers are still there");
		}

		# A new run is refused until the leftovers are cleaned up.
		my ($nrc, $nout, $nerr) = run_rebuild($node, '-t', 'target');
		is($nrc, 1, "$label: a new run before --cleanup exits 1");
		like($nerr, qr/a previous pg_rebuild run on "public"\."target" did not finish and left objects behind/,
			"$label: ... saying a previous run left objects behind");
		like($nerr, qr/^pg_rebuild: hint: Run: pg_rebuild --cleanup .*-t '"public"\."target"'$/m,
			"$label: ... and naming the --cleanup command");

		my ($crc, $cout, $cerr) =
		  run_rebuild($node, '--cleanup', '-t', 'target');
		is($crc, 0, "$label: --cleanup -t target exits 0");
		my @removed = $cout =~ /^\s+removed (.*)$/mg;
		is(scalar @removed, scalar @objects,
			"$label: --cleanup reports one 'removed' line per object");
		my $missing = 0;
		for my $o (@objects)
		{
			my ($kind, $name) = $o =~ /^(\S+) (\S+)/;
			my ($bare) = $name =~ /([^.]+)$/;
			my $word = $removed_word{$kind};
			$missing++
			  unless grep { (my $r = $_) =~ s/"//g; $r =~ /^\Q$word\E (?:\S+\.)?\Q$bare\E\b/ }
			  @removed;
		}
		is($missing, 0, "$label: each object is named as removed")
		  or diag explain { objects => \@objects, removed => \@removed };
		like($cout, qr/cleaned up 1 dead run/,
			"$label: --cleanup counts the run");
		like($cout, qr/its swap had committed: "public"\."target" is the rebuilt table; finishing its work/,
			"$label: --cleanup finishes the committed swap's work")
		  if $st->{swapped};
		isnt(table_oid($node, 'target'), $oid,
			"$label: after --cleanup, target is still the rebuilt table")
		  if $st->{swapped};
		is(table_oid($node, 'target'), $oid,
			"$label: after --cleanup, target is still the original table")
		  unless $st->{swapped};
	}
	else
	{
		is($src, 0, "$label: --status exits 0: no dead run");
		is_deeply($runs, [], "$label: --status --json lists no run");
		if ($outcome eq 'rebuilt')
		{
			isnt(table_oid($node, 'target'), $oid,
				"$label: exit 0: target is the rebuilt table");
		}
		else
		{
			is(table_oid($node, 'target'), $oid,
				"$label: exit 1: target is the original table");
		}
	}
	nothing_left($node, "$label: nothing of the run is left");
	is(table_triggers($node, 'target'), '',
		"$label: no pgrebuild trigger on the table");
	ledger_balanced_now($node, $load,
		"$label: the table matches the ledger after the cleanup");

	($rc, $out, $err) = run_rebuild($node, '-q', '-t', 'target');
	is($rc, 0, "$label: a new rebuild succeeds");
	stop_ledger_load($load);
	check_ledger($node, $load, "$label: every committed write is in the table exactly once");
	nothing_left($node, "$label: nothing left after the new rebuild");
	return;
}

for my $point (
	qw(AFTER_INSTALL COPY_CHUNK REPLAY_BATCH BEFORE_SWAP BEFORE_SWAP_COMMIT FINISH))
{
	crash_case($point, 'kill');
	crash_case($point, 'terminate');
}

# ------------------------------------------------------------------------
# Killed before the install committed: nothing was recorded, nothing is left.
# ------------------------------------------------------------------------
{
	my $oid = table_oid($node, 'target');
	my $h = start_rebuild($node,
		{ env => pause_env(BEFORE_INSTALL_COMMIT => 300000) },
		'-t', 'target');
	ok( wait_for_output(
			$h, qr/^pg_rebuild: test: pausing at BEFORE_INSTALL_COMMIT$/m),
		'BEFORE_INSTALL_COMMIT: the run paused inside the install transaction');
	($rc) = kill_rebuild($h, 'KILL');
	is($rc, 137, 'BEFORE_INSTALL_COMMIT: killed');
	ok(wait_tool_gone($node), 'BEFORE_INSTALL_COMMIT: its sessions are gone');
	my ($src, $runs) = status_json($node);
	is($src, 0, 'BEFORE_INSTALL_COMMIT: --status exits 0');
	is_deeply($runs, [], 'BEFORE_INSTALL_COMMIT: the install rolled back: no run recorded');
	nothing_left($node, 'BEFORE_INSTALL_COMMIT: nothing left');
	is(table_oid($node, 'target'), $oid, 'BEFORE_INSTALL_COMMIT: table unchanged');
}

# ------------------------------------------------------------------------
# Two tables crashed: TRUNCATE works on a table whose run is dead, and
# --cleanup without -t cleans every dead run.
# ------------------------------------------------------------------------
{
	my $oid_t = table_oid($node, 'target');
	my $oid_o = table_oid($node, 'other');
	my $h1 = start_rebuild($node, { env => pause_env(AFTER_INSTALL => 300000) },
		'-t', 'target');
	ok(wait_for_output($h1, qr/pausing at AFTER_INSTALL/),
		'two tables: the run on target paused');
	my $h2 = start_rebuild($node,
		{ env => pause_env(COPY_CHUNK => 300000, CHUNK_BLOCKS => 5) },
		'-t', 'other');
	ok(wait_for_output($h2, qr/pausing at COPY_CHUNK/),
		'two tables: the run on other paused in its copy');

	# While the run is alive (and before its holder locks the table) the
	# truncate guard refuses a TRUNCATE.
	my ($trc, $tout, $terr) = $node->psql('postgres', 'TRUNCATE target');
	isnt($trc, 0, 'two tables: TRUNCATE is refused while the run is alive');
	like($terr, qr/TRUNCATE of table public\.target is not allowed while pg_rebuild rebuilds it/,
		'two tables: ... by the truncate guard');

	($rc) = kill_rebuild($h1, 'KILL');
	is($rc, 137, 'two tables: run on target killed');
	($rc) = kill_rebuild($h2, 'KILL');
	is($rc, 137, 'two tables: run on other killed');
	ok(wait_tool_gone($node), 'two tables: their sessions are gone');

	($trc, $tout, $terr) =
	  $node->psql('postgres', 'TRUNCATE other; INSERT INTO other VALUES (1, $$after$$)');
	is($trc, 0, 'two tables: TRUNCATE works once the run is dead')
	  or diag $terr;
	is($node->safe_psql('postgres', 'SELECT count(*) FROM other'),
		1, 'two tables: the table was truncated');

	my ($src, $runs) = status_json($node);
	is($src, 3, 'two tables: --status exits 3');
	is_deeply(
		[ sort map { "$_->{table} $_->{phase} " . ($_->{alive} ? 'alive' : 'dead') } @{ $runs // [] } ],
		[ 'other copy dead', 'target install dead' ],
		'two tables: --status lists both dead runs');

	my ($crc, $cout) = run_rebuild($node, '--cleanup');
	is($crc, 0, 'two tables: --cleanup without -t exits 0');
	like($cout, qr/cleaned up 2 dead runs/, 'two tables: it cleaned both runs');
	like($cout, qr/removed shadow table "public"\."pgrebuild_new_$oid_o"/,
		"two tables: it removed other's shadow");
	like($cout, qr/removed trigger pgrebuild_capture on "public"\."target"/,
		"two tables: it removed target's trigger");
	nothing_left($node, 'two tables: nothing left');
	($src, $runs) = status_json($node);
	is($src, 0, 'two tables: --status exits 0 afterwards');
	is(table_oid($node, 'target'), $oid_t, 'two tables: target unchanged');
	is(table_oid($node, 'other'), $oid_o, 'two tables: other unchanged');
	($crc, $cout) = run_rebuild($node, '--cleanup');
	is($crc, 0, 'two tables: a second --cleanup exits 0');
	like($cout, qr/nothing to clean up/, 'two tables: ... with nothing to do');

	($rc) = run_rebuild($node, '-q', '-t', 'other');
	is($rc, 0, 'two tables: other can be rebuilt again');
	nothing_left($node, 'two tables: nothing left after that');
}

# ------------------------------------------------------------------------
# A signal (SIGTERM) is not a crash: the run stops and removes its objects.
# ------------------------------------------------------------------------
{
	my $oid = table_oid($node, 'target');
	my $load = start_ledger_load($node, table => 'target', clients => 2, rate => 100);
	my $h = start_rebuild($node, { env => pause_env(REPLAY_BATCH => 300000) },
		'-t', 'target');
	ok(wait_for_output($h, qr/pausing at REPLAY_BATCH/),
		'SIGTERM: the run paused in the replay');
	my $t0 = Time::HiRes::time();
	($rc, $out, $err) = kill_rebuild($h, 'TERM');
	is($rc, 1, 'SIGTERM: exit 1');
	cmp_ok(elapsed_since($t0), '<', 30, 'SIGTERM: the run stopped promptly');
	like($err, qr/Nothing was changed/, 'SIGTERM: it says nothing was changed');
	ok(wait_tool_gone($node), 'SIGTERM: its sessions are gone');
	nothing_left($node, 'SIGTERM: nothing left');
	is(table_oid($node, 'target'), $oid, 'SIGTERM: table unchanged');
	stop_ledger_load($load);
	check_ledger($node, $load, 'SIGTERM: ledger balances');
}

# SIGINT while the run waits for the swap lock: it stops waiting at once and
# removes its objects (the blocker is never disturbed).  The blocker holds
# its lock from before the run, and ends its transaction right after the
# signal: dropping the trigger needs ACCESS EXCLUSIVE too (t/022 covers a
# blocker that stays).
{
	my $oid = table_oid($node, 'target');
	my $blocker = $node->background_psql('postgres');
	$blocker->query_safe('BEGIN; LOCK TABLE target IN ACCESS SHARE MODE');
	my $h = start_rebuild($node, { env => pause_env(BEFORE_SWAP => 1) },
		'-t', 'target', '-T', '120');
	ok(wait_for_output($h, qr/pausing at BEFORE_SWAP/), 'SIGINT: the run reached the swap');
	ok(wait_for_output($h, qr/^swap: attempt \d+ waiting for a lock/m),
		'SIGINT: the run waits for the swap lock');
	my $t0 = Time::HiRes::time();
	$h->{harness}->signal('INT');
	is($blocker->query_safe('SELECT 1'), '1', 'SIGINT: the blocking session was not disturbed');
	$blocker->query_safe('COMMIT');
	$blocker->quit;
	($rc, $out, $err) = finish_rebuild($h);
	my $took = elapsed_since($t0);
	is($rc, 1, 'SIGINT: exit 1');
	like($err, qr/interrupted while waiting for the swap lock/, 'SIGINT: says it was interrupted');
	like($err, qr/Nothing was changed/, 'SIGINT: says nothing was changed');
	cmp_ok($took, '<', 15, "SIGINT: it stopped promptly (${took}s)");
	ok(wait_tool_gone($node), 'SIGINT: its sessions are gone');
	nothing_left($node, 'SIGINT: nothing left');
	is(table_oid($node, 'target'), $oid, 'SIGINT: table unchanged');
}

$node->stop;
done_testing();
