# PgRebuildTest.pm: helpers for pg_rebuild's TAP tests on PostgreSQL::Test::Cluster.

=pod

=head1 NAME

PgRebuildTest - throwaway clusters, a ledger-checked write load, and table
fingerprints for pg_rebuild's tests

=head1 SYNOPSIS

  use PostgreSQL::Test::Utils;
  use Test::More;
  use PgRebuildTest;

  my $node = new_node('main');
  create_ledger_tables($node, table => 'orders', rows => 10000);
  my $load = start_ledger_load($node, table => 'orders');
  my ($rc, $out, $err) = run_rebuild($node, '-t', 'orders');
  is($rc, 0, 'rebuilt under load');
  my $stats = stop_ledger_load($load);    # one test: no failed transactions
  check_ledger($node, $load, 'no change lost or invented');
  done_testing();

=head1 ENVIRONMENT

t/run-prove.sh sets C<PG_REBUILD> (the binary under test), C<PATH> (the
build directory, then C<pg_config --bindir>), C<PG_REGRESS>, C<PERL5LIB> and
C<TESTDIR>.

=cut

package PgRebuildTest;

use strict;
use warnings;

use Carp;
use Exporter 'import';
use File::Path qw(mkpath);
use IPC::Run;
use Time::HiRes ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(
  new_node
  run_rebuild
  create_ledger_tables
  start_ledger_load
  stop_ledger_load
  check_ledger
  ledger_totals
  table_totals
  table_md5
  bloat_table
  heap_size
  max_latency_ms
);

# The suite needs a binary configured with --enable-test-hooks: the pauses
# it asks for (PGR_TEST_SLEEP_<POINT>) make phases overlap with concurrent
# writes, and without them those tests would pass without testing anything.
# Asked once per test file, before any cluster starts: a connection attempt
# to nowhere, which a test build announces with its pause marker.
sub _require_test_hooks
{
	my @cmd = (
		$ENV{PG_REBUILD}, '-t', 'probe', '-w', '--retry-timeout=0',
		'-d', 'host=/nonexistent/pg_rebuild-probe port=1 dbname=probe');
	my ($out, $err) = ('', '');
	local $ENV{PGR_TEST_SLEEP_CONNECT} = 1;
	eval {
		IPC::Run::run(\@cmd, '<', \'', '>', \$out, '2>', \$err,
			IPC::Run::timeout(60));
	};
	return if $err =~ /^pg_rebuild: test: pausing at CONNECT$/m;
	BAIL_OUT("$ENV{PG_REBUILD} was built without the test pauses the tests "
		  . "need: configure with --enable-test-hooks (./dev.sh does), "
		  . "then run make check again");
}
_require_test_hooks() if defined $ENV{PG_REBUILD};

=pod

=head1 FUNCTIONS

=over

=item new_node($name, %opts)

Creates, configures and starts a cluster, and returns it.  Settings favour
speed (fsync off, no synchronous commit, few checkpoints) and room for a
write load plus pg_rebuild's connections (max_connections = 50).  Options:

  autovacuum    => 0|1     default 0; when 1, naptime is 1s so it really runs
  log_statement => 'none'  default: Cluster's 'all' (issues_sql_like needs it)
  conf          => text or [lines] appended to postgresql.conf
  init          => { ... } passed to $node->init (e.g. allows_streaming => 1)
  start         => 0       only init, do not start

=cut

sub new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });

	my $autovacuum = $opts{autovacuum} ? 'on' : 'off';
	my @conf = (
		'max_connections = 50',
		'synchronous_commit = off',
		'full_page_writes = off',
		'checkpoint_timeout = 30min',
		'max_wal_size = 1GB',
		'log_lock_waits = on',
		"autovacuum = $autovacuum",
		($opts{autovacuum} ? ('autovacuum_naptime = 1s') : ()),
		(defined $opts{log_statement}
			? ("log_statement = '$opts{log_statement}'")
			: ()));
	if (defined $opts{conf})
	{
		push @conf,
		  ref $opts{conf} eq 'ARRAY' ? @{ $opts{conf} } : ($opts{conf});
	}
	$node->append_conf('postgresql.conf', join("\n", @conf) . "\n");
	$node->start unless defined $opts{start} && !$opts{start};
	return $node;
}

=pod

=item run_rebuild($node, [\%opts,] @args)

Runs C<$ENV{PG_REBUILD}> with C<-d> set to the node's connection string
(database C<postgres>) followed by C<@args>, and returns
C<($exit_code, $stdout, $stderr)>.  The exit code is 128 + N for a death by
signal N and -1 on timeout (the program is then killed).  PGHOST and PGPORT
also point at the node.  Options, in a hash reference before the arguments:

  dbname  => 'other'      database for -d (also: a bare 'dbname=other' argument)
  timeout => 300          seconds
  env     => { ... }      extra environment (undef deletes a variable)
  program => [cmd...]     run this instead of $ENV{PG_REBUILD}
  stdin   => 'text'       standard input (default: empty)

No C<-d> is added when C<@args> already has C<-d>/C<--dbname>.

=cut

sub run_rebuild
{
	my ($node, @args) = @_;
	my %opts = ref $args[0] eq 'HASH' ? %{ shift @args } : ();

	my $dbname = $opts{dbname} // 'postgres';
	my @rest;
	my $has_d = 0;
	for (my $i = 0; $i < @args; $i++)
	{
		my $a = $args[$i];
		if ($a eq '-d' || $a eq '--dbname')
		{
			$has_d = 1;
			push @rest, $a;
			push @rest, $args[++$i] if $i + 1 < @args;
		}
		elsif ($a =~ /^(?:-d.|--dbname=)/)
		{
			$has_d = 1;
			push @rest, $a;
		}
		elsif ($a =~ /^dbname=(\S+)$/)
		{
			$dbname = $1;
		}
		else
		{
			push @rest, $a;
		}
	}

	my @program =
	  defined $opts{program} ? @{ $opts{program} } : ($ENV{PG_REBUILD});
	croak 'PG_REBUILD is not set (run the tests with make check)'
	  unless defined $program[0];
	my @cmd =
	  (@program, ($has_d ? () : ('-d', $node->connstr($dbname))), @rest);

	local %ENV = (%ENV, PGHOST => $node->host, PGPORT => $node->port);
	while (my ($k, $v) = each %{ $opts{env} // {} })
	{
		if (defined $v) { $ENV{$k} = $v; }
		else { delete $ENV{$k}; }
	}

	my $timeout = $opts{timeout} // 300;
	my ($stdin, $stdout, $stderr) = ($opts{stdin} // '', '', '');
	print "# Running: " . join(' ', @cmd) . "\n";
	my $timer = IPC::Run::timeout($timeout);
	my $h = IPC::Run::start(\@cmd, '<', \$stdin, '>', \$stdout, '2>',
		\$stderr, $timer);
	my $rc;
	if (eval { $h->finish; 1 })
	{
		my $status = $h->full_result(0);
		$rc = ($status & 127) ? 128 + ($status & 127) : $status >> 8;
	}
	else
	{
		$h->kill_kill;
		$stderr .= "\n[run_rebuild: timed out after $timeout s: $@]\n";
		$rc = -1;
	}
	print "# exit code: $rc\n# stdout:\n$stdout\n# stderr:\n$stderr\n";
	return ($rc, $stdout, $stderr);
}

=pod

=item create_ledger_tables($node, %opts)

Creates the target table C<table> (C<id bigint PRIMARY KEY, val bigint NOT
NULL>, plus C<columns>, which must have defaults or allow NULL), fills it with
C<rows> rows (ids 1..rows), and creates what start_ledger_load needs: the
ledger C<ledger(delta_count bigint, delta_sum bigint)>, the id sequence
C<${ledger}_ids> and the stop flag table C<${ledger}_ctl>.  Options and
defaults: table => 'ledger_target', rows => 10000, ledger => 'ledger',
columns => '', dbname => 'postgres'.  Names are SQL text: quote them yourself;
C<ledger> must be a plain (optionally schema-qualified) identifier.

=cut

sub create_ledger_tables
{
	my ($node, %opts) = @_;
	my $table = $opts{table} // 'ledger_target';
	my $rows = $opts{rows} // 10000;
	my $columns = $opts{columns} ? ", $opts{columns}" : '';

	$node->safe_psql(
		$opts{dbname} // 'postgres', qq{
		CREATE TABLE $table (id bigint PRIMARY KEY, val bigint NOT NULL$columns);
		INSERT INTO $table (id, val)
			SELECT g, (g * 7919) % 1000 FROM generate_series(1::bigint, $rows) g;
		ANALYZE $table;
	});
	_ensure_ledger_objects($node, $opts{dbname} // 'postgres',
		$table, $opts{ledger} // 'ledger');
	return;
}

# Creates the ledger, its id sequence and stop flag if missing, and moves the
# sequence past the target's largest id.
sub _ensure_ledger_objects
{
	my ($node, $dbname, $table, $ledger) = @_;
	$node->safe_psql(
		$dbname, qq{
		SET client_min_messages = warning;
		CREATE TABLE IF NOT EXISTS $ledger (delta_count bigint NOT NULL, delta_sum bigint NOT NULL);
		CREATE SEQUENCE IF NOT EXISTS ${ledger}_ids;
		CREATE TABLE IF NOT EXISTS ${ledger}_ctl (stop boolean NOT NULL);
		DELETE FROM ${ledger}_ctl;
		INSERT INTO ${ledger}_ctl VALUES (false);
		SELECT setval('${ledger}_ids', greatest(max(id), 1))
			FROM $table HAVING max(id) > (SELECT last_value FROM ${ledger}_ids);
	});
	return;
}

=pod

=item start_ledger_load($node, %opts)

Starts C<clients> concurrent writers (pgbench, one connection each) against
C<table>, which needs C<id bigint> (unique) and C<val bigint> columns.  Each
transaction inserts a row (a new id from C<${ledger}_ids>), adds to C<val> of
one existing row, moves another to a new id (a primary key update, also
changing C<val>), deletes a third, and records in C<ledger> exactly what
changed (C<RETURNING> counts, so a row that vanished meanwhile records
nothing).  Hence, whatever happens to the table in between:

  count(*)/sum(val) of table now - at start = sum of the ledger rows added

Deadlocks between writers are retried by pgbench (C<--max-tries>); every other
error ends that writer and is reported by stop_ledger_load.  The load runs
until stop_ledger_load (or C<max_seconds>).  The sessions have
application_name C<ledger_load> and C<log_statement = none>.

Options and defaults: table => 'ledger_target', ledger => 'ledger',
clients => 4, rate => 200 (transactions per second over all clients, 0 for
as fast as possible), max_seconds => 3600, max_tries => 20,
allow_errors => 0 (see stop_ledger_load), dbname => 'postgres'.

Returns a handle for stop_ledger_load and check_ledger, once every writer is
connected and the first transactions have committed.

=cut

my $load_counter = 0;

sub start_ledger_load
{
	my ($node, %opts) = @_;
	my $table = $opts{table} // 'ledger_target';
	my $ledger = $opts{ledger} // 'ledger';
	my $dbname = $opts{dbname} // 'postgres';
	my $clients = $opts{clients} // 4;
	my $rate = $opts{rate} // 200;
	my $max_seconds = $opts{max_seconds} // 3600;
	my $max_tries = $opts{max_tries} // 20;

	_ensure_ledger_objects($node, $dbname, $table, $ledger);
	my ($base_count, $base_sum) = table_totals($node, $table, dbname => $dbname);
	my ($ledger_rows, $ledger_count, $ledger_sum) = split /\|/,
	  $node->safe_psql($dbname,
		"SELECT count(*), coalesce(sum(delta_count), 0), coalesce(sum(delta_sum), 0) FROM $ledger"
	  );

	$load_counter++;
	my $dir = $node->basedir . "/ledger_load_$load_counter";
	mkpath($dir);
	my $script = "$dir/script.sql";
	PostgreSQL::Test::Utils::append_to_file($script,
		_ledger_script($table, $ledger));

	my @cmd = (
		'pgbench', '-n',
		'-c', $clients,
		'-j', 1,
		'-T', $max_seconds,
		"--max-tries=$max_tries",
		'-l', "--log-prefix=$dir/txn",
		($rate ? ('-R', $rate) : ()),
		'-f', $script,
		'-h', $node->host,
		'-p', $node->port,
		$dbname);
	print "# Starting ledger load: " . join(' ', @cmd) . "\n";

	my $stdout = '';
	my $timer = IPC::Run::timeout($max_seconds + 600);
	my $h;
	{
		local %ENV = (
			%ENV,
			PGAPPNAME => 'ledger_load',
			PGOPTIONS => '-c log_statement=none');
		# stdout (the final summary) through a pipe, so that pumpable()
		# tells whether pgbench still runs; stderr (one line per error) to a
		# file, so a flood of errors cannot block it.
		$h = IPC::Run::start(\@cmd, '<', \undef, '>', \$stdout,
			'2>', "$dir/stderr", $timer);
	}

	my $handle = {
		node => $node,
		dbname => $dbname,
		table => $table,
		ledger => $ledger,
		clients => $clients,
		dir => $dir,
		harness => $h,
		timer => $timer,
		stdout => \$stdout,
		allow_errors => $opts{allow_errors} // 0,
		base_count => $base_count,
		base_sum => $base_sum,
		ledger_rows => $ledger_rows,
		ledger_count => $ledger_count,
		ledger_sum => $ledger_sum,
		started_at => Time::HiRes::time(),
	};

	# Wait until every writer is connected and some transactions committed.
	wait_for_query(
		$node,
		"the ledger load's $clients writers to connect and commit",
		qq{SELECT (SELECT count(*) FROM pg_catalog.pg_stat_activity
				   WHERE application_name = 'ledger_load') >= $clients
			   AND (SELECT count(*) FROM $ledger) > $ledger_rows},
		dbname => $dbname,
		stop_if => sub {
			$h->pump_nb if $h->pumpable;
			return $h->pumpable ? undef : 'pgbench ended';
		})
	  or croak "the ledger load did not start:\n$stdout\n"
	  . PostgreSQL::Test::Utils::slurp_file("$dir/stderr");
	return $handle;
}

# The pgbench script of one writer transaction.  The first statement reads the
# id range and the stop flag outside the transaction; when asked to stop, a
# writer ends itself with a recognisable error (pgbench cannot end a client
# early otherwise).
sub _ledger_script
{
	my ($t, $l) = @_;
	my $pick = "(SELECT id FROM $t WHERE id >= :p%d ORDER BY id LIMIT 1)";
	my ($p1, $p2, $p3) = map { sprintf($pick, $_) } 1 .. 3;
	return <<"EOF";
SELECT last_value AS maxid, (SELECT stop FROM ${l}_ctl LIMIT 1) AS stop FROM ${l}_ids \\gset
\\if :stop
SELECT 'ledger load stopped'::int;
\\endif
\\set p1 random(1, :maxid)
\\set p2 random(1, :maxid)
\\set p3 random(1, :maxid)
\\set v random(-1000, 1000)
\\set d1 random(-100, 100)
\\set d2 random(-100, 100)
BEGIN;
WITH i AS (INSERT INTO $t (id, val) VALUES (nextval('${l}_ids'), :v) RETURNING val) INSERT INTO $l SELECT count(*), coalesce(sum(val), 0) FROM i;
WITH u AS (UPDATE $t SET val = val + (:d1) WHERE id = $p1 RETURNING 1) INSERT INTO $l SELECT 0, count(*) * (:d1) FROM u HAVING count(*) > 0;
WITH k AS (UPDATE $t SET id = nextval('${l}_ids'), val = val + (:d2) WHERE id = $p2 RETURNING 1) INSERT INTO $l SELECT 0, count(*) * (:d2) FROM k HAVING count(*) > 0;
WITH x AS (DELETE FROM $t WHERE id = $p3 RETURNING val) INSERT INTO $l SELECT -count(*), -coalesce(sum(val), 0) FROM x HAVING count(*) > 0;
COMMIT;
EOF
}

=pod

=item stop_ledger_load($handle, %opts)

Asks the writers to stop, waits for pgbench (C<timeout>, default 180 s, then
kills it), and returns a hash reference:

  transactions     committed transactions
  failed           transactions that failed after all retries (pgbench)
  retried          transactions that needed a retry (deadlocks)
  errors           [ error lines: aborted writers, bad exit, early end ]
  error_count      failed + scalar(@errors)
  max_latency_ms, avg_latency_ms, p99_latency_ms
  latencies        [ [completed_at (epoch s), latency_ms], ... ] in order
  seconds          how long the load ran
  stdout, stderr   pgbench's output

Latency is per transaction, from its scheduled start (so a stall also delays
the transactions queued behind it) to its commit.  Unless the load was
started with C<allow_errors>, this emits one test: C<error_count> is 0.

=cut

sub stop_ledger_load
{
	my ($handle, %opts) = @_;
	my $node = $handle->{node};
	my $h = $handle->{harness};
	my $dir = $handle->{dir};
	my $timeout = $opts{timeout} // 180;
	my @errors;

	$node->safe_psql($handle->{dbname},
		"UPDATE $handle->{ledger}_ctl SET stop = true");
	$handle->{timer}->start($timeout);
	my $status;
	if (eval { $h->finish; 1 })
	{
		$status = $h->full_result(0) >> 8;
	}
	else
	{
		$h->kill_kill;
		push @errors, "pgbench did not stop within $timeout s: $@";
		$status = -1;
	}
	my $seconds = Time::HiRes::time() - $handle->{started_at};
	my $stdout = ${ $handle->{stdout} };
	my $stderr = PostgreSQL::Test::Utils::slurp_file("$dir/stderr");

	# Exit status 2 is expected: every writer ended itself when asked to.
	my $stopped = 0;
	for my $line (split /\n/, $stderr)
	{
		if ($line =~ /aborted in command .*ledger load stopped/)
		{
			$stopped++;
		}
		elsif ($line =~ /^pgbench: (?:error|fatal|warning)/
			&& $line !~ /Run was aborted; the above results are incomplete/)
		{
			push @errors, $line;
		}
	}
	push @errors, "pgbench exit status $status" unless $status == 2;
	push @errors,
	  "only $stopped of $handle->{clients} writers ran until asked to stop"
	  if $stopped != $handle->{clients};

	my %stats = (
		transactions => _summary($stdout, qr/number of transactions actually processed: (\d+)/),
		failed => _summary($stdout, qr/number of failed transactions: (\d+)/),
		retried => _summary($stdout, qr/number of transactions retried: (\d+)/),
		seconds => $seconds,
		stdout => $stdout,
		stderr => $stderr,
		errors => \@errors,
		_read_latencies($dir));
	$stats{error_count} = $stats{failed} + scalar(@errors);

	print "# ledger load: $stats{transactions} transactions, "
	  . "$stats{failed} failed, $stats{retried} retried, "
	  . sprintf('max latency %.1f ms', $stats{max_latency_ms})
	  . " in ${seconds}s\n";
	unless ($handle->{allow_errors})
	{
		is($stats{error_count}, 0, 'ledger load: no failed transactions')
		  or diag(join("\n", @errors, "pgbench stdout:", $stdout));
	}
	$handle->{stats} = \%stats;
	return \%stats;
}

sub _summary
{
	my ($text, $re) = @_;
	return $text =~ $re ? $1 + 0 : 0;
}

# Reads pgbench's per-transaction logs: "client txn time_us script epoch us ...".
sub _read_latencies
{
	my ($dir) = @_;
	my @lat;
	opendir(my $dh, $dir) or croak "cannot open $dir: $!";
	for my $f (sort grep { /^txn\./ } readdir $dh)
	{
		open my $fh, '<', "$dir/$f" or croak "cannot open $dir/$f: $!";
		while (my $line = <$fh>)
		{
			my @f = split ' ', $line;
			next unless @f >= 6 && $f[2] =~ /^\d+$/;
			push @lat, [ $f[4] + $f[5] / 1e6, $f[2] / 1000.0 ];
		}
		close $fh;
	}
	closedir $dh;
	@lat = sort { $a->[0] <=> $b->[0] } @lat;
	my @ms = sort { $a <=> $b } map { $_->[1] } @lat;
	my $sum = 0;
	$sum += $_ for @ms;
	return (
		latencies => \@lat,
		max_latency_ms => @ms ? $ms[-1] : 0,
		avg_latency_ms => @ms ? $sum / @ms : 0,
		p99_latency_ms => @ms ? $ms[ int(0.99 * $#ms) ] : 0);
}

=pod

=item max_latency_ms($stats, $from, $to)

The largest latency of the transactions that completed between the epoch
times C<$from> and C<$to> (e.g. C<Time::HiRes::time()> around a swap), or of
all when both are undef.

=cut

sub max_latency_ms
{
	my ($stats, $from, $to) = @_;
	my $max = 0;
	for my $l (@{ $stats->{latencies} })
	{
		next if defined $from && $l->[0] < $from;
		next if defined $to && $l->[0] > $to;
		$max = $l->[1] if $l->[1] > $max;
	}
	return $max;
}

=pod

=item check_ledger($node, $handle, $name)

One test: the target's count(*) and sum(val) changed by exactly what the ledger
recorded since start_ledger_load.  Call it after stop_ledger_load (and after
the rebuild).  Returns whether it passed.

=cut

sub check_ledger
{
	my ($node, $handle, $name) = @_;
	my ($count, $sum) =
	  table_totals($node, $handle->{table}, dbname => $handle->{dbname});
	my ($lcount, $lsum) =
	  ledger_totals($node, $handle->{ledger}, dbname => $handle->{dbname});
	my $got = {
		delta_count => $count - $handle->{base_count},
		delta_sum => $sum - $handle->{base_sum}
	};
	my $expected = {
		delta_count => $lcount - $handle->{ledger_count},
		delta_sum => $lsum - $handle->{ledger_sum}
	};
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return is_deeply($got, $expected,
		$name // "table $handle->{table} matches ledger $handle->{ledger}");
}

=pod

=item ledger_totals($node, $ledger, %opts)

Returns (sum(delta_count), sum(delta_sum)) of the ledger.

=item table_totals($node, $table, %opts)

Returns (count(*), sum(val)) of a table; C<column> => 'other' sums another
column; C<dbname> as elsewhere.

=cut

sub ledger_totals
{
	my ($node, $ledger, %opts) = @_;
	return split /\|/,
	  $node->safe_psql($opts{dbname} // 'postgres',
		"SELECT coalesce(sum(delta_count), 0), coalesce(sum(delta_sum), 0) FROM $ledger"
	  );
}

sub table_totals
{
	my ($node, $table, %opts) = @_;
	my $column = $opts{column} // 'val';
	return split /\|/,
	  $node->safe_psql($opts{dbname} // 'postgres',
		"SELECT count(*), coalesce(sum($column), 0) FROM $table");
}

=pod

=item table_md5($node, $table, $keycols, %opts)

md5 of every row's text form, in the order of C<$keycols> (SQL text, e.g.
C<'id'> or C<'a, b'>); by default the primary key's columns, or the whole row
when there is none.  Equal md5s mean equal contents and column order.

=cut

sub table_md5
{
	my ($node, $table, $keycols, %opts) = @_;
	my $dbname = $opts{dbname} // 'postgres';
	if (!defined $keycols)
	{
		$keycols = $node->safe_psql(
			$dbname, qq{
			SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', '
										 ORDER BY k.ord)
			FROM pg_catalog.pg_index i,
				 unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord),
				 pg_catalog.pg_attribute a
			WHERE i.indrelid = '$table'::pg_catalog.regclass AND i.indisprimary
			  AND a.attrelid = i.indrelid AND a.attnum = k.attnum});
		$keycols = 'r::text' if $keycols eq '';
	}
	return $node->safe_psql($dbname,
		"SELECT pg_catalog.md5(coalesce(pg_catalog.string_agg(r::text, E'\\n' ORDER BY $keycols), '')) FROM $table r"
	);
}

=pod

=item bloat_table($node, $table, %opts)

Bloats a table the way an application does: deletes a random C<delete>
fraction of its rows (default 0.75; spread over the whole heap, so VACUUM
cannot truncate it), then runs C<update_passes> (default 0) full-table
updates that rewrite every remaining row without changing it, then a
VACUUM (ANALYZE) as autovacuum would leave it (unless C<vacuum> => 0), so
that the dead space is free but still part of the heap and the statistics
that the space estimate reads are there.  Returns the heap size in bytes.

=cut

sub bloat_table
{
	my ($node, $table, %opts) = @_;
	my $dbname = $opts{dbname} // 'postgres';
	my $fraction = $opts{delete} // 0.75;
	my $passes = $opts{update_passes} // 0;

	if ($fraction > 0)
	{
		$node->safe_psql($dbname,
			"SELECT pg_catalog.setseed(0.5); DELETE FROM $table WHERE pg_catalog.random() < $fraction"
		);
	}
	if ($passes > 0)
	{
		my $col = $node->safe_psql(
			$dbname, qq{
			SELECT pg_catalog.quote_ident(attname) FROM pg_catalog.pg_attribute
			WHERE attrelid = '$table'::pg_catalog.regclass AND attnum > 0
			  AND NOT attisdropped AND attgenerated = '' AND attidentity <> 'a'
			ORDER BY attnum LIMIT 1});
		croak "no updatable column in $table" if $col eq '';
		$node->safe_psql($dbname, "UPDATE $table SET $col = $col")
		  for 1 .. $passes;
	}
	$node->safe_psql($dbname, "VACUUM (ANALYZE) $table")
	  unless defined $opts{vacuum} && !$opts{vacuum};
	return heap_size($node, $table, dbname => $dbname);
}

=pod

=item heap_size($node, $table, %opts)

pg_relation_size of the table's main fork, in bytes.

=back

=cut

sub heap_size
{
	my ($node, $table, %opts) = @_;
	return $node->safe_psql($opts{dbname} // 'postgres',
		"SELECT pg_catalog.pg_relation_size('$table'::pg_catalog.regclass)");
}

1;

# ------------------------------------------------------------------------
# Added for the feature tests (t/010..016): a run in the background, and
# the per-run objects a run may leave behind.
# ------------------------------------------------------------------------

=pod

=head1 MORE FUNCTIONS

=over

=item start_rebuild($node, [\%opts,] @args)

Like run_rebuild, but returns at once: the run goes on in the background
(while the test holds a lock, writes, or watches pg_stat_activity) until
finish_rebuild.  Same options and arguments as run_rebuild.

=item finish_rebuild($handle)

Waits for a run started by start_rebuild (letting it go on first if
hold_run held it) and returns C<($exit_code, $stdout, $stderr)> as
run_rebuild does (-1 on timeout).

=item rebuild_running($handle)

Whether the background run has not ended yet.

=cut

sub _rebuild_command
{
	my ($node, $opts, @args) = @_;
	my $dbname = $opts->{dbname} // 'postgres';
	my (@rest, $has_d);
	for (my $i = 0; $i < @args; $i++)
	{
		my $a = $args[$i];
		if ($a eq '-d' || $a eq '--dbname')
		{
			$has_d = 1;
			push @rest, $a;
			push @rest, $args[++$i] if $i + 1 < @args;
		}
		elsif ($a =~ /^(?:-d.|--dbname=)/)
		{
			$has_d = 1;
			push @rest, $a;
		}
		elsif ($a =~ /^dbname=(\S+)$/)
		{
			$dbname = $1;
		}
		else
		{
			push @rest, $a;
		}
	}
	my @program =
	  defined $opts->{program} ? @{ $opts->{program} } : ($ENV{PG_REBUILD});
	croak 'PG_REBUILD is not set (run the tests with make check)'
	  unless defined $program[0];
	return [ @program, ($has_d ? () : ('-d', $node->connstr($dbname))),
		@rest ];
}

sub start_rebuild
{
	my ($node, @args) = @_;
	my %opts = ref $args[0] eq 'HASH' ? %{ shift @args } : ();
	my $cmd = _rebuild_command($node, \%opts, @args);

	local %ENV = (%ENV, PGHOST => $node->host, PGPORT => $node->port);
	while (my ($k, $v) = each %{ $opts{env} // {} })
	{
		if (defined $v) { $ENV{$k} = $v; }
		else { delete $ENV{$k}; }
	}
	my $handle = {
		stdin => $opts{stdin} // '',
		stdout => '',
		stderr => '',
		started_at => Time::HiRes::time(),
	};
	$handle->{timer} = IPC::Run::timeout($opts{timeout} // 300);
	print "# Starting in the background: " . join(' ', @$cmd) . "\n";
	$handle->{harness} = IPC::Run::start(
		$cmd, '<', \$handle->{stdin}, '>', \$handle->{stdout},
		'2>', \$handle->{stderr}, $handle->{timer});
	return $handle;
}

sub rebuild_running
{
	my ($handle) = @_;
	my $h = $handle->{harness};
	$h->pump_nb if $h->pumpable;
	return $h->pumpable ? 1 : 0;
}

sub finish_rebuild
{
	my ($handle) = @_;
	my $h = $handle->{harness};
	release_run($handle);
	my $rc;
	if (eval { $h->finish; 1 })
	{
		my $status = $h->full_result(0);
		$rc = ($status & 127) ? 128 + ($status & 127) : $status >> 8;
	}
	else
	{
		$h->kill_kill;
		$handle->{stderr} .= "\n[finish_rebuild: timed out: $@]\n";
		$rc = -1;
	}
	$handle->{seconds} = Time::HiRes::time() - $handle->{started_at};
	print "# exit code: $rc after "
	  . sprintf('%.1f', $handle->{seconds})
	  . " s\n# stdout:\n$handle->{stdout}\n# stderr:\n$handle->{stderr}\n";
	return ($rc, $handle->{stdout}, $handle->{stderr});
}

=pod

=item state_schemas($node, %opts)

The names of pg_rebuild's state schemas in the database, sorted: each
role's C<pgrebuild_E<lt>role OIDE<gt>>, and the shared C<pgrebuild> of format 1
(earlier releases) if there is one.  C<dbname> as elsewhere.

=item state_schema($node, $role, %opts)

The name of the state schema of role C<$role> (default: the role the test
connects as, the bootstrap superuser), whether it exists or not.

=item runs_sql($node, %opts)

SQL text of a subquery over every state schema's C<runs> table, with a
first column C<state_schema> followed by C<run_id, relid, schema_name,
table_name, phase>: C<SELECT ... FROM ${\ runs_sql($node)} r>.  An empty
relation when there is no state schema.

=cut

my $state_schema_re = q{(n.nspname = 'pgrebuild' OR n.nspname ~ '^pgrebuild_[0-9]+$')};

sub state_schemas
{
	my ($node, %opts) = @_;
	my $out = $node->safe_psql($opts{dbname} // 'postgres',
		"SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE $state_schema_re ORDER BY 1");
	return grep { $_ ne '' } split /\n/, $out;
}

sub state_schema
{
	my ($node, $role, %opts) = @_;
	my $who = defined $role ? "'$role'" : 'current_user';
	return $node->safe_psql($opts{dbname} // 'postgres',
		"SELECT 'pgrebuild_' || oid FROM pg_catalog.pg_roles WHERE rolname = $who");
}

sub runs_sql
{
	my ($node, %opts) = @_;
	my @parts;
	for my $s (state_schemas($node, %opts))
	{
		my $has = $node->safe_psql($opts{dbname} // 'postgres',
			"SELECT pg_catalog.to_regclass('\"$s\".runs') IS NOT NULL");
		push @parts,
		  qq{SELECT '$s'::text AS state_schema, run_id, relid, schema_name, table_name, phase FROM "$s".runs}
		  if $has eq 't';
	}
	push @parts,
	  q{SELECT NULL::text, NULL::bigint, NULL::oid, NULL::text, NULL::text, NULL::text WHERE false}
	  unless @parts;
	return '(' . join(' UNION ALL ', @parts) . ')';
}

=pod

=item run_leftovers($node, %opts)

The per-run objects that exist in the database, one description each
(sorted): relations named C<pgrebuild_*> outside the state schemas (shadow,
old table, their indexes and sequences), log tables and capture functions
in the state schemas, C<pgrebuild_*> triggers, and the rows of every state
schema's C<runs> and C<run_objects>.  An empty list means a run left nothing
behind.  The tool's own kept objects (the schemas, meta, runs, run_objects,
their indexes and sequences, truncate_guard, and format 1's run_alive) are
not leftovers.  C<dbname> as elsewhere.

=back

=cut

sub run_leftovers
{
	my ($node, %opts) = @_;
	my $dbname = $opts{dbname} // 'postgres';
	my $sql = qq{
		SELECT 'relation ' || c.oid::pg_catalog.regclass::text
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE (NOT $state_schema_re AND c.relname LIKE 'pgrebuild\\_%')
		   OR ($state_schema_re AND c.relname NOT IN ('meta', 'runs', 'run_objects')
		       AND c.relname NOT LIKE 'runs\\_%' AND c.relname NOT LIKE 'run\\_objects\\_%'
		       AND c.relname NOT LIKE 'meta\\_%')
		UNION ALL
		SELECT 'function ' || p.oid::pg_catalog.regprocedure::text
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
		WHERE $state_schema_re AND p.proname NOT IN ('run_alive', 'truncate_guard')
		UNION ALL
		SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::pg_catalog.regclass::text
		FROM pg_catalog.pg_trigger t WHERE t.tgname LIKE 'pgrebuild\\_%'};
	for my $s (state_schemas($node, %opts))
	{
		my $has = $node->safe_psql($dbname,
			"SELECT pg_catalog.to_regclass('\"$s\".runs') IS NOT NULL AND pg_catalog.to_regclass('\"$s\".run_objects') IS NOT NULL"
		);
		next unless $has eq 't';
		$sql .= qq{
		UNION ALL
		SELECT 'run ' || r.run_id || ' (' || r.schema_name || '.' || r.table_name || ', phase ' || r.phase || ')'
		FROM "$s".runs r
		UNION ALL
		SELECT 'run object ' || o.run_id || ' ' || o.kind || ' ' || o.schema_name || '.' || o.object_name
		FROM "$s".run_objects o};
	}
	my $out = $node->safe_psql($dbname, "SELECT * FROM ($sql) x ORDER BY 1");
	return sort grep { $_ ne '' } split /\n/, $out;
}

=pod

=over

=item wait_for($what, $check, %opts)

Calls C<$check> until it returns true, and returns true then.  Waiting is
for something the tool or the server does (a line printed, a row in a
catalog view, a recorded phase), never for time to pass: C<$what> says what
that is.  The wait is noted in the test's log, said on the console (diag)
when it lasts more than 10 s and every 30 s after, and bounded: after
C<timeout> seconds (default C<$PostgreSQL::Test::Utils::timeout_default>,
i.e. PG_TEST_TIMEOUT_DEFAULT or 180) it gives up, says so, and returns
false.  C<stop_if> => sub returning a reason (or a false value): give up at
once when it returns one (e.g. the run being waited on has ended).
C<interval> (seconds between checks, default 0.05).

=cut

sub wait_for
{
	my ($what, $check, %opts) = @_;
	my $timeout = $opts{timeout} // $PostgreSQL::Test::Utils::timeout_default;
	my $start = Time::HiRes::time();
	my $next_word = $start + 10;
	note("waiting for $what (at most $timeout s)");
	while (1)
	{
		return 1 if $check->();
		my $why = $opts{stop_if} ? $opts{stop_if}->() : undef;
		my $now = Time::HiRes::time();
		if ($why)
		{
			diag(sprintf('stopped waiting for %s after %.1f s: %s', $what, $now - $start, $why));
			return 0;
		}
		if ($now - $start > $timeout)
		{
			diag(sprintf('gave up waiting for %s after %.0f s', $what, $now - $start));
			return 0;
		}
		if ($now >= $next_word)
		{
			diag(sprintf('still waiting for %s (%.0f s so far, at most %s s)', $what, $now - $start, $timeout));
			$next_word = $now + 30;
		}
		Time::HiRes::sleep($opts{interval} // 0.05);
	}
}

=pod

=item wait_for_query($node, $what, $sql, %opts)

wait_for until C<$sql> returns C<t> (an error, e.g. while the server
restarts, counts as not yet).  Options: those of wait_for, and C<dbname>.

=cut

sub wait_for_query
{
	my ($node, $what, $sql, %opts) = @_;
	my $dbname = delete $opts{dbname} // 'postgres';
	return wait_for(
		$what,
		sub {
			my ($rc, $out) = $node->psql($dbname, $sql);
			return $rc == 0 && $out eq 't';
		},
		%opts);
}

=pod

=item wait_for_output($handle, $regex, %opts)

Pumps a run started by start_rebuild until its stdout or stderr matches
C<$regex> (C<count> => N waits for the Nth match), through wait_for (its
C<timeout> defaults to 60 s here).  Returns true when it matched, false when
the run ended or the time ran out first (both said).

=cut

sub wait_for_output
{
	my ($handle, $re, %opts) = @_;
	my $count = delete $opts{count} // 1;
	my $h = $handle->{harness};
	return wait_for(
		"pg_rebuild to print /$re/" . ($count > 1 ? " ($count times)" : ''),
		sub {
			$h->pump_nb if $h->pumpable;
			my $n = 0;
			$n++ while $handle->{stderr} =~ /$re/g;
			$n++ while $handle->{stdout} =~ /$re/g;
			return $n >= $count;
		},
		stop_if => sub { $h->pumpable ? undef : 'the run ended' },
		timeout => 60,
		interval => 0.02,
		%opts);
}

=pod

=item hold_run($handle, $point, %opts)

Holds a background run in one of its test pauses: waits (wait_for_output)
until the run says it pauses at C<$point> (the C<count>th time, default 1),
then stops the process (SIGSTOP), so that it stays at that point whatever
the test does meanwhile and however slow the machine is: the test's own
steps need not fit in the pause, only this reaction to the pause's first
line.  release_run (or finish_rebuild, kill_rebuild) lets it go on.
Returns whether the run was held.  A run held at the guard's moments does
not cancel waiting DDL meanwhile: do not hold a run when the test needs it.

=item release_run($handle)

Lets a held run go on (SIGCONT).

=item hold_env(@points)

The environment (for start_rebuild's C<env>) that makes a run pause once,
for 1.5 s, at each of C<@points> (C<PGR_TEST_SLEEP_I<POINT>> and
C<PGR_TEST_SLEEP_I<POINT>_TIMES>): time enough for hold_run to stop it
there, even on a busy machine, and no pause after.

=cut

sub hold_env
{
	return map { ("PGR_TEST_SLEEP_$_" => 1500, "PGR_TEST_SLEEP_${_}_TIMES" => 1) } @_;
}

my @held;

sub hold_run
{
	my ($handle, $point, %opts) = @_;
	return 0
	  unless wait_for_output($handle, qr/^pg_rebuild: test: pausing at \Q$point\E$/m, %opts);
	$handle->{harness}->signal('STOP');
	$handle->{held} = $point;
	push @held, $handle;
	note("the run is held in its pause at $point (SIGSTOP)");
	return 1;
}

sub release_run
{
	my ($handle) = @_;
	return unless $handle->{held};
	$handle->{harness}->signal('CONT');
	note("the run held at $handle->{held} goes on (SIGCONT)");
	delete $handle->{held};
	return;
}

# A test that died while it held a run must not leave a stopped process.
END
{
	for my $handle (grep { $_->{held} } @held)
	{
		eval { $handle->{harness}->signal('CONT'); $handle->{harness}->kill_kill; };
	}
}

=pod

=item wait_for_run_phase($node, $phase, %opts)

Waits (wait_for) until a run recorded in a state schema's C<runs> is in phase
C<$phase> (install, copy, index, replay, swap, swapped).  Options: those of
wait_for (C<timeout> defaults to 60 s here), C<handle> (from start_rebuild:
give up when that run ended), C<dbname>.  Returns whether the phase was
seen.  The run may have left the phase by the time this returns: to act
while it is there, hold it at a pause point (hold_run).

=item wait_for_transactions($load, $n, %opts)

Waits (wait_for) until the ledger load (start_ledger_load) has committed at
least C<$n> more write transactions than when this was called, counted by
their rows in its ledger.  Options: those of wait_for.

=back

=cut

sub wait_for_run_phase
{
	my ($node, $phase, %opts) = @_;
	my $handle = delete $opts{handle};
	my $dbname = $opts{dbname} // 'postgres';
	return wait_for(
		"a run to be in phase $phase",
		sub {
			# the state schemas again each time: the run may create its own meanwhile
			my $runs = runs_sql($node, dbname => $dbname);
			my ($rc, $out) = $node->psql($dbname, "SELECT count(*) > 0 FROM $runs r WHERE phase = '$phase'");
			return $rc == 0 && $out eq 't';
		},
		timeout => 60,
		($handle ? (stop_if => sub { rebuild_running($handle) ? undef : 'the run ended' }) : ()),
		%opts);
}

sub wait_for_transactions
{
	my ($load, $n, %opts) = @_;
	my $node = $load->{node};
	# one ledger row with delta_count 1 per transaction: its insert
	my $count = "SELECT count(*) FROM $load->{ledger} WHERE delta_count > 0";
	my $from = $node->safe_psql($load->{dbname}, $count);
	return wait_for_query(
		$node,
		"the ledger load to commit $n more transactions",
		"SELECT ($count) >= $from + $n",
		dbname => $load->{dbname},
		%opts);
}

push @EXPORT, qw(start_rebuild finish_rebuild rebuild_running run_leftovers
  wait_for wait_for_query wait_for_output hold_run release_run hold_env
  wait_for_run_phase wait_for_transactions state_schemas state_schema runs_sql);

# ------------------------------------------------------------------------
# Servers of other major versions (t/pg-versions.sh): what a test may ask of
# the server, a standby and a schema comparison that work on every version.
# ------------------------------------------------------------------------

=pod

=head1 SERVERS OF OTHER VERSIONS

t/run-prove.sh can put the server programs of another major version first on
C<PATH> (C<PG_SERVER_BINDIR>); the client programs (psql, pgbench, pg_dump,
pg_basebackup) stay those of C<PG_BINDIR>.

=over

=item server_version_num($node)

The server's C<server_version_num> (e.g. 180004).

=item server_major($node)

Its major version (e.g. 18).

=item need_version($node, $min_version_num, $what)

For a TAP skip when the server lacks a feature: undef when the server is
C<$min_version_num> or newer, else the reason, naming the server's version
and the feature (C<"PostgreSQL 13 has no security_invoker views (added in
15)">).  Use only for a feature that the version does not have:

  SKIP: {
      my $why = need_version($node, 150000, 'security_invoker views');
      skip $why, 2 if $why;
      ...
  }

=item program_major($program)

The major version of a client program on C<PATH> (from C<--version>).

=item client_serves($node, $program)

Whether the client program C<$program> (pg_dump, pg_basebackup) of
C<PG_BINDIR> works with the node's server: they refuse servers of a newer
major version than their own.

=cut

sub server_version_num
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SHOW server_version_num') + 0;
}

sub server_major
{
	my ($node) = @_;
	return int(server_version_num($node) / 10000);
}

sub need_version
{
	my ($node, $min, $what) = @_;
	my $have = server_version_num($node);
	return undef if $have >= $min;
	return sprintf('PostgreSQL %d has no %s (added in %d)',
		int($have / 10000), $what, int($min / 10000));
}

sub program_major
{
	my ($program) = @_;
	my $out = '';
	IPC::Run::run([ $program, '--version' ], '>', \$out, '2>', \$out)
	  or croak "$program --version failed: $out";
	$out =~ /\(PostgreSQL\) (\d+)/
	  or croak "cannot read the version of $program from: $out";
	return $1 + 0;
}

sub client_serves
{
	my ($node, $program) = @_;
	return program_major($program) >= server_major($node);
}

=pod

=item new_standby($primary, $name)

Creates and starts a streaming standby of C<$primary> (which must have been
initialised with C<allows_streaming>) and returns it.  The base backup is
taken with pg_basebackup when the client's pg_basebackup serves the
primary's version; otherwise (a newer server) with a copy of the data
directory while the primary is stopped for a moment.

=cut

sub new_standby
{
	my ($primary, $name) = @_;
	my $backup = "${name}_backup";
	if (client_serves($primary, 'pg_basebackup'))
	{
		$primary->backup($backup);
	}
	else
	{
		print "# pg_basebackup "
		  . program_major('pg_basebackup')
		  . " refuses PostgreSQL "
		  . server_major($primary)
		  . ": copying the stopped primary's data directory instead\n";
		$primary->stop;
		$primary->backup_fs_cold($backup);
		$primary->start;
	}
	my $standby = PostgreSQL::Test::Cluster->new($name);
	$standby->init_from_backup($primary, $backup, has_streaming => 1);
	$standby->start;
	return $standby;
}

=pod

=item schema_description($node, \@schemas, %opts)

A description of everything in the schemas, read from the catalog with the
server's own deparsing functions, one line per object, sorted: the schemas
themselves; relations (kind, persistence, access method, tablespace, owner,
options and TOAST options, row level security, replica identity, privileges,
parents, partitioning, comment); their columns by position (type,
collation, NOT NULL, default, identity, generated, storage, compression,
statistics target, options, privileges, inheritance, comment); view
definitions; sequences (parameters and OWNED BY, not their values);
constraints of tables and domains (definition, validated, deferrable, NO
INHERIT, inheritance, enforced, index, comment; on PostgreSQL 18 the NOT NULL
constraints too); indexes (definition, flags, tablespace, options,
statistics targets, comment); user triggers (definition, enabled state,
comment); rules; policies; functions (definition, owner, privileges,
comment); extended statistics; types; and the publications that list the
schemas' tables (with column lists and row filters where the version has
them).  OIDs and values (sequence positions, statistics) are not part of
it, so the same schema gives the same text before and after a table is
replaced by an equal one.  It works on every supported version (columns
that only some versions have are read through C<to_jsonb>), where pg_dump
of the client refuses newer servers.  C<dbname> as elsewhere.

=item description_changes($before, $after)

The lines only in one of two descriptions, prefixed C<-> (before) and C<+>
(after), for a diagnostic.

=cut

# Sorted, comma-separated elements of an array expression, or '-'.  (Give
# privileges as coalesce(acl, acldefault(...)): a NULL acl means the default
# privileges, and a GRANT then REVOKE leaves the same privileges spelt out.)
sub _sorted_list
{
	my ($array) = @_;
	return "coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest($array) x), '-')";
}

# The same for storage parameters and column options, without those whose
# names start with pg_: the server reserves them for itself (pg_rebuild does
# not copy them either; some servers give every column one).
sub _options_list
{
	my ($array) = @_;
	return "coalesce((SELECT string_agg(x, ',' ORDER BY x) FROM unnest($array) x WHERE x NOT LIKE 'pg\\_%'), '-')";
}

sub _comment
{
	my ($oid, $catalog) = @_;
	return "coalesce(obj_description($oid, '$catalog'), '-')";
}

# A deparsed definition on one line.
sub _one_line
{
	my ($expr) = @_;
	return "regexp_replace($expr, '\\s+', ' ', 'g')";
}

sub schema_description
{
	my ($node, $schemas, %opts) = @_;
	my $list = join(', ', map { my $s = $_; $s =~ s/'/''/g; "'$s'" } @$schemas);
	my $relacl = _sorted_list(
		q{coalesce(r.relacl, acldefault((CASE WHEN r.relkind = 'S' THEN 's' ELSE 'r' END)::"char", r.relowner))});
	my $sql = qq{
SET search_path = pg_catalog;
WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname = ANY (ARRAY[$list]::text[])),
rel AS (SELECT c.*, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname
        FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c'))
SELECT line FROM (
SELECT 'schema ' || quote_ident(n.nspname) || ': owner=' || pg_get_userbyid(n.nspowner)
  || ' acl=' || @{[ _sorted_list(q{coalesce(n.nspacl, acldefault('n', n.nspowner))}) ]} || ' comment=' || @{[ _comment('n.oid', 'pg_namespace') ]} AS line
FROM pg_namespace n JOIN ns USING (oid)
UNION ALL
SELECT 'relation ' || r.qname || ': kind=' || r.relkind::text || ' persistence=' || r.relpersistence::text
  || ' am=' || coalesce((SELECT amname FROM pg_am WHERE oid = r.relam), '-')
  || ' tablespace=' || coalesce((SELECT spcname FROM pg_tablespace WHERE oid = r.reltablespace), '-')
  || ' owner=' || pg_get_userbyid(r.relowner)
  || ' options=' || @{[ _options_list('r.reloptions') ]}
  || ' toast_options=' || @{[ _options_list('(SELECT t.reloptions FROM pg_class t WHERE t.oid = r.reltoastrelid)') ]}
  || ' rls=' || r.relrowsecurity || ' force_rls=' || r.relforcerowsecurity || ' replident=' || r.relreplident::text
  || ' acl=' || $relacl
  || ' parents=' || coalesce((SELECT string_agg(i.inhparent::regclass::text, ',' ORDER BY i.inhseqno) FROM pg_inherits i WHERE i.inhrelid = r.oid), '-')
  || ' partkey=' || coalesce(pg_get_partkeydef(r.oid), '-')
  || ' partbound=' || coalesce(pg_get_expr(r.relpartbound, r.oid), '-')
  || ' comment=' || @{[ _comment('r.oid', 'pg_class') ]}
FROM rel r
UNION ALL
SELECT 'view ' || r.qname || ': ' || @{[ _one_line('pg_get_viewdef(r.oid)') ]}
FROM rel r WHERE r.relkind IN ('v', 'm')
UNION ALL
SELECT 'column ' || r.qname || '.' || quote_ident(a.attname)
  || ': position=' || row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum)
  || ' type=' || format_type(a.atttypid, a.atttypmod)
  || ' collation=' || coalesce(nullif(a.attcollation, 0)::regcollation::text, '-')
  || ' notnull=' || a.attnotnull
  || ' default=' || coalesce((SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum), '-')
  || ' identity=' || coalesce(nullif(a.attidentity::text, ''), '-')
  || ' generated=' || coalesce(nullif(a.attgenerated::text, ''), '-')
  || ' storage=' || a.attstorage::text
  || ' compression=' || coalesce(nullif(to_jsonb(a) ->> 'attcompression', ''), '-')
  || ' stattarget=' || coalesce(to_jsonb(a) ->> 'attstattarget', 'null')
  || ' options=' || @{[ _options_list('a.attoptions') ]}
  || ' fdwoptions=' || @{[ _sorted_list('a.attfdwoptions') ]}
  || ' acl=' || @{[ _sorted_list('a.attacl') ]}
  || ' local=' || a.attislocal || ' inhcount=' || a.attinhcount
  || ' comment=' || coalesce(col_description(a.attrelid, a.attnum), '-')
FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
UNION ALL
SELECT 'sequence ' || r.qname || ': type=' || format_type(s.seqtypid, NULL)
  || ' start=' || s.seqstart || ' increment=' || s.seqincrement || ' min=' || s.seqmin
  || ' max=' || s.seqmax || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
  || ' owned_by=' || coalesce((SELECT string_agg(d.refobjid::regclass::text || '.' || quote_ident(a.attname) || ' (' || d.deptype::text || ')', ',')
       FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
       WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
         AND d.deptype IN ('a', 'i')), '-')
FROM rel r JOIN pg_sequence s ON s.seqrelid = r.oid
UNION ALL
SELECT 'constraint ' || coalesce(r.qname, c.contypid::regtype::text) || '.' || quote_ident(c.conname)
  || ': type=' || c.contype::text || ' def=' || @{[ _one_line('pg_get_constraintdef(c.oid)') ]}
  || ' validated=' || c.convalidated || ' deferrable=' || c.condeferrable || ' deferred=' || c.condeferred
  || ' noinherit=' || c.connoinherit || ' local=' || c.conislocal || ' inhcount=' || c.coninhcount
  || ' enforced=' || coalesce(to_jsonb(c) ->> 'conenforced', '-')
  || ' index=' || coalesce(nullif(c.conindid, 0)::regclass::text, '-')
  || ' comment=' || @{[ _comment('c.oid', 'pg_constraint') ]}
FROM pg_constraint c
LEFT JOIN rel r ON r.oid = c.conrelid
LEFT JOIN pg_type t ON t.oid = c.contypid
WHERE r.oid IS NOT NULL OR t.typnamespace IN (SELECT oid FROM ns)
UNION ALL
SELECT 'index ' || quote_ident(n.nspname) || '.' || quote_ident(ic.relname) || ': def=' || pg_get_indexdef(i.indexrelid)
  || ' primary=' || i.indisprimary || ' unique=' || i.indisunique || ' valid=' || i.indisvalid
  || ' ready=' || i.indisready || ' clustered=' || i.indisclustered || ' replident=' || i.indisreplident
  || ' tablespace=' || coalesce((SELECT spcname FROM pg_tablespace WHERE oid = ic.reltablespace), '-')
  || ' options=' || @{[ _options_list('ic.reloptions') ]}
  || ' stattargets=' || coalesce((SELECT string_agg(coalesce(to_jsonb(ia) ->> 'attstattarget', 'null'), ',' ORDER BY ia.attnum)
       FROM pg_attribute ia WHERE ia.attrelid = i.indexrelid), '-')
  || ' comment=' || @{[ _comment('i.indexrelid', 'pg_class') ]}
FROM rel r JOIN pg_index i ON i.indrelid = r.oid JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
UNION ALL
SELECT 'trigger ' || r.qname || '.' || quote_ident(t.tgname) || ': def=' || pg_get_triggerdef(t.oid)
  || ' enabled=' || t.tgenabled::text || ' comment=' || @{[ _comment('t.oid', 'pg_trigger') ]}
FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
UNION ALL
SELECT 'rule ' || r.qname || '.' || quote_ident(ru.rulename) || ': def=' || @{[ _one_line('pg_get_ruledef(ru.oid)') ]}
  || ' enabled=' || ru.ev_enabled::text || ' comment=' || @{[ _comment('ru.oid', 'pg_rewrite') ]}
FROM rel r JOIN pg_rewrite ru ON ru.ev_class = r.oid AND ru.rulename <> '_RETURN'
UNION ALL
SELECT 'policy ' || r.qname || '.' || quote_ident(p.polname) || ': cmd=' || p.polcmd::text || ' permissive=' || p.polpermissive
  || ' roles=' || (SELECT string_agg(CASE WHEN x = 0 THEN 'public' ELSE pg_get_userbyid(x)::text END, ',' ORDER BY 1) FROM unnest(p.polroles) x)
  || ' using=' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-')
  || ' check=' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-')
  || ' comment=' || @{[ _comment('p.oid', 'pg_policy') ]}
FROM rel r JOIN pg_policy p ON p.polrelid = r.oid
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text || ': kind=' || p.prokind::text || ' owner=' || pg_get_userbyid(p.proowner)
  || ' acl=' || @{[ _sorted_list(q{coalesce(p.proacl, acldefault('f', p.proowner))}) ]}
  || ' def=' || CASE WHEN p.prokind IN ('f', 'p') THEN @{[ _one_line('pg_get_functiondef(p.oid)') ]} ELSE '-' END
  || ' comment=' || @{[ _comment('p.oid', 'pg_proc') ]}
FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
UNION ALL
SELECT 'statistics ' || quote_ident(n.nspname) || '.' || quote_ident(s.stxname) || ': def=' || pg_get_statisticsobjdef(s.oid)
  || ' owner=' || pg_get_userbyid(s.stxowner)
  || ' stattarget=' || coalesce(to_jsonb(s) ->> 'stxstattarget', 'null')
  || ' comment=' || @{[ _comment('s.oid', 'pg_statistic_ext') ]}
FROM pg_statistic_ext s JOIN ns n ON n.oid = s.stxnamespace
UNION ALL
SELECT 'type ' || t.oid::regtype::text || ': kind=' || t.typtype::text || ' owner=' || pg_get_userbyid(t.typowner)
  || ' base=' || CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) ELSE '-' END
  || ' notnull=' || t.typnotnull || ' default=' || coalesce(t.typdefault, '-')
  || ' labels=' || coalesce((SELECT string_agg(e.enumlabel::text, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '-')
  || ' acl=' || @{[ _sorted_list(q{coalesce(t.typacl, acldefault('T', t.typowner))}) ]} || ' comment=' || @{[ _comment('t.oid', 'pg_type') ]}
FROM pg_type t JOIN ns n ON n.oid = t.typnamespace
WHERE t.typrelid = 0 AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
UNION ALL
SELECT 'publication ' || quote_ident(pt.pubname) || ' table ' || quote_ident(pt.schemaname) || '.' || quote_ident(pt.tablename)
  || ': columns=' || coalesce(to_jsonb(pt) ->> 'attnames', '-') || ' where=' || coalesce(to_jsonb(pt) ->> 'rowfilter', '-')
FROM pg_publication_tables pt JOIN ns n ON n.nspname = pt.schemaname
) d ORDER BY line COLLATE "C"};
	return $node->safe_psql($opts{dbname} // 'postgres', $sql);
}

sub description_changes
{
	my ($before, $after) = @_;
	my %b = map { $_ => 1 } split /\n/, $before;
	my %a = map { $_ => 1 } split /\n/, $after;
	return (
		(map { "- $_" } grep { !$a{$_} } split /\n/, $before),
		(map { "+ $_" } grep { !$b{$_} } split /\n/, $after));
}

=pod

=back

=cut

push @EXPORT, qw(server_version_num server_major need_version program_major
  client_serves new_standby schema_description description_changes);

1;
