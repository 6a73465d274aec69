# PgRebuildFault.pm: helpers for pg_rebuild's fault-injection and robustness
# tests (t/020..t/024), on top of PgRebuildTest.

=pod

=head1 NAME

PgRebuildFault - strike a background pg_rebuild run at a test pause point,
and check what it left

=head1 SYNOPSIS

  use PgRebuildTest;
  use PgRebuildFault;

  my $h = start_rebuild($node, { env => pause_env(REPLAY_BATCH => 60000) },
      '-t', 'target');
  ok(wait_for_output($h, qr/pausing at REPLAY_BATCH/), 'paused');   # PgRebuildTest
  my ($rc) = kill_rebuild($h);             # SIGKILL: 137
  wait_tool_gone($node);
  my $runs = status_json($node, '-t', 'target');
  nothing_left($node, 'all gone') after a --cleanup

=head1 FUNCTIONS

=over

=cut

package PgRebuildFault;

use strict;
use warnings;

use Carp;
use Exporter 'import';
use IPC::Run;
use JSON::PP ();
use Time::HiRes ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;

our @EXPORT = qw(
  pause_env
  wait_env
  release_wait
  kill_rebuild
  tool_backends
  terminate_tool_backends
  wait_tool_gone
  table_oid
  status_json
  ledger_balanced_now
  app_writes
  nothing_left
  relation_exists
  table_triggers
  start_psql_bg
  finish_psql_bg
  elapsed_since
);

=pod

=item pause_env(POINT => ms, ...)

The environment (a hash reference for start_rebuild's C<env>) that makes the
tool pause at each POINT for that many milliseconds
(C<PGR_TEST_SLEEP_POINT>); C<CHUNK_BLOCKS> => N sets
C<PGR_TEST_COPY_CHUNK_BLOCKS>.

=cut

sub pause_env
{
	my (%p) = @_;
	my %env;
	while (my ($k, $v) = each %p)
	{
		if ($k eq 'CHUNK_BLOCKS') { $env{PGR_TEST_COPY_CHUNK_BLOCKS} = $v; }
		else { $env{"PGR_TEST_SLEEP_$k"} = $v; }
	}
	return \%env;
}

=pod

=item wait_env($node, POINT, ...)

The environment (a hash reference for start_rebuild's C<env>) that makes the
tool stop at each POINT until the test lets it go on with release_wait
(C<PGR_TEST_WAIT_POINT>: it waits for a file to appear), and the file
names, one per point: C<($env, \%files)>.  The tool prints the same
"pausing at POINT" marker as with pause_env.  Unlike a pause of so many
milliseconds (or hold_run, which stops the process), the tool itself waits
and its guard goes on working; nothing depends on how fast the machine is.

=item release_wait($file)

Lets a run stopped by wait_env go on.

=cut

my $hold_counter = 0;

sub wait_env
{
	my ($node, @points) = @_;
	my (%env, %files);
	for my $p (@points)
	{
		$hold_counter++;
		my $f = $node->basedir . "/release_${p}_$hold_counter";
		unlink $f;
		$env{"PGR_TEST_WAIT_$p"} = $f;
		$files{$p} = $f;
	}
	return (\%env, \%files);
}

sub release_wait
{
	my ($file) = @_;
	open my $fh, '>', $file or croak "cannot create $file: $!";
	close $fh;
	return;
}

=item kill_rebuild($handle, $signal)

Sends C<$signal> (default KILL) to a background run (held or not) and
waits for it: returns finish_rebuild's C<($exit_code, $stdout, $stderr)>
(137 for KILL).

=cut

sub kill_rebuild
{
	my ($handle, $signal) = @_;
	$handle->{harness}->signal($signal // 'KILL');
	# a held (stopped) run gets the signal once it goes on
	return finish_rebuild($handle);
}

=pod

=item tool_backends($node, %opts)

The pids of the server sessions of pg_rebuild (application_name
C<pg_rebuild>), in C<dbname> (default postgres).

=item terminate_tool_backends($node)

pg_terminate_backend on each of them; returns how many were signalled.

=item wait_tool_gone($node)

Waits until no session of pg_rebuild is left (its advisory lock and its
other locks are then released).  Returns whether that happened.

=cut

sub tool_backends
{
	my ($node, %opts) = @_;
	my $out = $node->safe_psql($opts{dbname} // 'postgres',
		q{SELECT pid FROM pg_catalog.pg_stat_activity WHERE application_name = 'pg_rebuild' ORDER BY pid});
	return grep { $_ ne '' } split /\n/, $out;
}

sub terminate_tool_backends
{
	my ($node, %opts) = @_;
	return $node->safe_psql($opts{dbname} // 'postgres',
		q{SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))
		  FROM pg_catalog.pg_stat_activity WHERE application_name = 'pg_rebuild'});
}

sub wait_tool_gone
{
	my ($node, %opts) = @_;
	return wait_for_query($node, "pg_rebuild's sessions to end",
		q{SELECT count(*) = 0 FROM pg_catalog.pg_stat_activity WHERE application_name = 'pg_rebuild'},
		%opts);
}

=pod

=item table_oid($node, $table, %opts)

The OID of a table (by name), or '' if there is none.

=item relation_exists($node, $name, %opts)

Whether a relation of that (SQL text) name exists.

=item table_triggers($node, $table, %opts)

The names of the triggers on a table, sorted, joined by commas.

=cut

sub table_oid
{
	my ($node, $table, %opts) = @_;
	return $node->safe_psql($opts{dbname} // 'postgres',
		"SELECT pg_catalog.to_regclass('$table')::pg_catalog.oid");
}

sub relation_exists
{
	my ($node, $name, %opts) = @_;
	return $node->safe_psql($opts{dbname} // 'postgres',
		"SELECT pg_catalog.to_regclass('$name') IS NOT NULL") eq 't';
}

sub table_triggers
{
	my ($node, $table, %opts) = @_;
	return $node->safe_psql($opts{dbname} // 'postgres',
		"SELECT coalesce(string_agg(tgname, ',' ORDER BY tgname), '') FROM pg_catalog.pg_trigger WHERE tgrelid = pg_catalog.to_regclass('$table')"
	);
}

=pod

=item status_json($node, @args)

Runs C<pg_rebuild --status --json @args> and returns C<($exit_code, $runs)>
where C<$runs> is the decoded array (undef if the output is not JSON).

=cut

sub status_json
{
	my ($node, @args) = @_;
	my ($rc, $out, $err) = run_rebuild($node, '--status', '--json', @args);
	my $runs = eval { JSON::PP::decode_json($out) };
	return ($rc, $runs, $err);
}

=pod

=item ledger_balanced_now($node, $load, $name)

One test, usable while the load runs: in one snapshot (one statement), the
target's count(*) and sum(val) moved by exactly what the ledger recorded
since start_ledger_load.

=cut

sub ledger_balanced_now
{
	my ($node, $load, $name) = @_;
	my ($t, $l) = ($load->{table}, $load->{ledger});
	my $row = $node->safe_psql(
		$load->{dbname}, qq{
		SELECT (SELECT count(*) FROM $t) - $load->{base_count},
			   (SELECT coalesce(sum(val), 0) FROM $t) - $load->{base_sum},
			   (SELECT coalesce(sum(delta_count), 0) FROM $l) - $load->{ledger_count},
			   (SELECT coalesce(sum(delta_sum), 0) FROM $l) - $load->{ledger_sum}});
	my ($dc, $ds, $lc, $ls) = split /\|/, $row;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return is_deeply({ delta_count => $dc, delta_sum => $ds },
		{ delta_count => $lc, delta_sum => $ls }, $name);
}

=pod

=item app_writes($node, %opts)

What an application does, one autocommit statement at a time (so it cannot
deadlock with the load): an INSERT, an UPDATE of val, an UPDATE of the key
and a DELETE on C<table> (default ledger_target), each recording in
C<ledger> (default ledger) what it changed, as the ledger load does.
Returns C<($ok, $stderr)>: C<$ok> when every statement succeeded.

=cut

sub app_writes
{
	my ($node, %opts) = @_;
	my $t = $opts{table} // 'ledger_target';
	my $l = $opts{ledger} // 'ledger';
	my ($rc, $out, $err) = $node->psql(
		$opts{dbname} // 'postgres', qq{
		WITH i AS (INSERT INTO $t (id, val) VALUES (nextval('${l}_ids'), 77) RETURNING val)
			INSERT INTO $l SELECT count(*), coalesce(sum(val), 0) FROM i;
		WITH u AS (UPDATE $t SET val = val + 5 WHERE id = (SELECT min(id) FROM $t) RETURNING 1)
			INSERT INTO $l SELECT 0, count(*) * 5 FROM u HAVING count(*) > 0;
		WITH k AS (UPDATE $t SET id = nextval('${l}_ids'), val = val + 3
				   WHERE id = (SELECT min(id) FROM $t WHERE id > 100) RETURNING 1)
			INSERT INTO $l SELECT 0, count(*) * 3 FROM k HAVING count(*) > 0;
		WITH x AS (DELETE FROM $t WHERE id = (SELECT min(id) FROM $t WHERE id > 200) RETURNING val)
			INSERT INTO $l SELECT -count(*), -coalesce(sum(val), 0) FROM x HAVING count(*) > 0;
	}, on_error_stop => 1);
	return ($rc == 0 && $err !~ /ERROR/, $err);
}

=pod

=item nothing_left($node, $name, %opts)

One test: run_leftovers is empty (no shadow, old or log table, capture
function, pgrebuild_* trigger, run record).

=cut

sub nothing_left
{
	my ($node, $name, %opts) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return is_deeply([ run_leftovers($node, %opts) ], [], $name);
}

=pod

=item start_psql_bg($node, $sql, %opts)

Runs C<$sql> through psql in the background (e.g. a DDL that will wait for a
lock); returns a handle for finish_psql_bg.  Options: C<dbname>, C<user>,
C<appname> (application_name, default C<pgr_test_bg>).

=item finish_psql_bg($handle)

Waits for it; returns C<($rc, $stdout, $stderr, $seconds)>.

=cut

sub start_psql_bg
{
	my ($node, $sql, %opts) = @_;
	my $connstr = $node->connstr($opts{dbname} // 'postgres');
	$connstr .= " user=$opts{user}" if defined $opts{user};
	$connstr .= ' application_name=' . ($opts{appname} // 'pgr_test_bg');
	my %bg = (stdout => '', stderr => '', started => Time::HiRes::time());
	$bg{timer} = IPC::Run::timeout($opts{timeout} // 180);
	$bg{harness} = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-c', $sql ],
		'<', \undef, '>', \$bg{stdout}, '2>', \$bg{stderr}, $bg{timer});
	return \%bg;
}

sub finish_psql_bg
{
	my ($bg) = @_;
	my $rc;
	if (eval { $bg->{harness}->finish; 1 })
	{
		$rc = $bg->{harness}->full_result(0) >> 8;
	}
	else
	{
		$bg->{harness}->kill_kill;
		$rc = -1;
	}
	return ($rc, $bg->{stdout}, $bg->{stderr},
		Time::HiRes::time() - $bg->{started});
}

=pod

=item elapsed_since($t0)

Seconds since the epoch time C<$t0>.

=back

=cut

sub elapsed_since
{
	return Time::HiRes::time() - $_[0];
}

1;
