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
			SELECT g, (g * 7919) % 1000 FROM generate_series(1, $rows) g;
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
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (1)
	{
		$h->pump_nb if $h->pumpable;
		if (!$h->pumpable)
		{
			my $err = PostgreSQL::Test::Utils::slurp_file("$dir/stderr");
			croak "ledger load ended at start:\n$stdout\n$err";
		}
		my $ready = $node->safe_psql(
			$dbname, qq{
			SELECT (SELECT count(*) FROM pg_catalog.pg_stat_activity
					WHERE application_name = 'ledger_load') >= $clients
				AND (SELECT count(*) FROM $ledger) > $ledger_rows});
		last if $ready eq 't';
		croak "ledger load did not start within $PostgreSQL::Test::Utils::timeout_default s"
		  if time() > $deadline;
		Time::HiRes::sleep(0.1);
	}
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
updates that rewrite every remaining row without changing it, then a plain
VACUUM (unless C<vacuum> => 0) so that the dead space is free but still part
of the heap.  Returns the heap size in bytes.

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
	$node->safe_psql($dbname, "VACUUM $table")
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

Waits for a run started by start_rebuild and returns
C<($exit_code, $stdout, $stderr)> as run_rebuild does (-1 on timeout).

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

=item wait_for_run_phase($node, $phase, %opts)

Waits until a run recorded in a state schema's C<runs> is in phase
C<$phase> (install, copy, index, replay, swap, swapped).  Options: C<handle>
(from start_rebuild: give up when that run ended), C<dbname>, C<timeout>
(seconds, default 60).  Returns whether the phase was seen.

=back

=cut

sub wait_for_run_phase
{
	my ($node, $phase, %opts) = @_;
	my $deadline = Time::HiRes::time() + ($opts{timeout} // 60);
	while (Time::HiRes::time() < $deadline)
	{
		my $runs = runs_sql($node, %opts);
		my ($rc, $out) = $node->psql($opts{dbname} // 'postgres',
			"SELECT count(*) FROM $runs r WHERE phase = '$phase'");
		return 1 if $rc == 0 && $out > 0;
		return 0 if $opts{handle} && !rebuild_running($opts{handle});
		Time::HiRes::sleep(0.05);
	}
	diag("wait_for_run_phase: no run reached phase $phase within "
		  . ($opts{timeout} // 60) . ' s');
	return 0;
}

push @EXPORT, qw(start_rebuild finish_rebuild rebuild_running run_leftovers
  wait_for_run_phase state_schemas state_schema runs_sql);

1;
