# 012_concurrent.pl: the ledger proof: writes during copy, replay and swap are all in the rebuilt table, exactly once.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use PgRebuildTest;

my $node = new_node('concurrent', log_statement => 'none');
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');

create_ledger_tables($node,
	table => 'accounts',
	rows => 60000,
	columns => q{note text DEFAULT 'n'});
bloat_table($node, 'accounts', delete => 0.5);

# A first rebuild without load creates the role's state schema, so that the
# monitor below can read its runs table from the start.
my ($rc, $out, $err) = run_rebuild($node, '-q', '-t', 'accounts');
is($rc, 0, 'a rebuild without load works');
bloat_table($node, 'accounts', delete => 0.3);

# Moves the rows with ids in [$lo, $hi] to negative ids (a primary key
# update, also adding 1 to val, recorded in the ledger).  The load only ever
# picks positive ids, so these rows are final once moved.  SKIP LOCKED: this
# session never waits for a writer, so it cannot deadlock with them.
# Returns how many rows moved and a digest of them as they were committed.
sub move_keys
{
	my ($lo, $hi) = @_;
	return $node->safe_psql(
		'postgres', qq{
		WITH m AS (SELECT id FROM accounts WHERE id BETWEEN $lo AND $hi ORDER BY id FOR UPDATE SKIP LOCKED),
			 u AS (UPDATE accounts a SET id = -a.id, val = a.val + 1 FROM m WHERE a.id = m.id
				   RETURNING a.id, a.val, a.note),
			 l AS (INSERT INTO ledger (delta_count, delta_sum) SELECT 0, count(*) FROM u)
		SELECT count(*) || ' rows, md5 ' || md5(coalesce(string_agg(id || ':' || val || ':' || coalesce(note, '~'), ',' ORDER BY id), ''))
		FROM u});
}

# The same digest, of the rows now at the moved (negative) keys.
sub moved_rows
{
	my ($lo, $hi) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT count(*) || ' rows, md5 ' || md5(coalesce(string_agg(id || ':' || val || ':' || coalesce(note, '~'), ',' ORDER BY id), ''))
		   FROM accounts WHERE id BETWEEN -$hi AND -$lo});
}

# The rows moved in each phase are in the rebuilt table exactly as moved.
sub check_moves
{
	my ($run, $moves, $label) = @_;
	for my $phase (qw(copy replay swap))
	{
		my ($n) = ($run->{moved}{$phase} // '0') =~ /^(\d+)/;
		cmp_ok($n, '>', 0, "$label: primary keys were updated during the $phase phase ($n rows)");
		is(moved_rows(@{ $moves->{$phase} }), $run->{moved}{$phase},
			"$label: the rows moved during the $phase phase are in the table as committed");
		is( $node->safe_psql('postgres',
				"SELECT count(*) FROM accounts WHERE id BETWEEN $moves->{$phase}[0] AND $moves->{$phase}[1]"),
			0, "$label: no row is left at the old keys of the $phase phase");
	}
	return;
}

# Runs pg_rebuild under the ledger load while watching the run's phase; in
# each of copy, replay and swap, moves a range of keys.  Returns the run's
# output and, per phase, the ledger rows written while it was seen.
sub rebuild_under_load
{
	my ($label, $moves, $env, @args) = @_;
	my $load = start_ledger_load($node, table => 'accounts', clients => 4, rate => 200);
	my $mon = $node->background_psql('postgres');
	my $h = start_rebuild($node, { env => $env }, '-t', 'accounts', @args);
	my $state = state_schema($node);
	my (%first, %last, %since, @seen);
	my %moved;
	while (rebuild_running($h))
	{
		my ($phase, $n) = split /\|/,
		  $mon->query_safe(
			qq{SELECT coalesce((SELECT min(phase) FROM "$state".runs), 'none'), (SELECT count(*) FROM ledger)}
		  );
		if (!exists $first{$phase})
		{
			$first{$phase} = $n;
			$since{$phase} = Time::HiRes::time();
			push @seen, $phase;
		}
		# Well inside the phase (the copy's snapshot is taken by then).
		$moved{$phase} = move_keys(@{ $moves->{$phase} })
		  if $moves->{$phase}
		  && !defined $moved{$phase}
		  && Time::HiRes::time() - $since{$phase} > 0.3;
		$last{$phase} = $n;
		Time::HiRes::sleep(0.05);
	}
	my ($rc, $out, $err) = finish_rebuild($h);
	# The test pauses announce themselves; anything else is a diagnostic.
	$err =~ s/^pg_rebuild: test: pausing at \S+\n//mg;
	# Some more writes on the rebuilt table before stopping.
	sleep 1;
	$mon->quit;
	my $stats = stop_ledger_load($load);
	note "$label: phases seen: @seen";
	return {
		rc => $rc,
		out => $out,
		err => $err,
		load => $load,
		stats => $stats,
		seen => \@seen,
		moved => \%moved,
		writes => { map { $_ => $last{$_} - $first{$_} } keys %first },
	};
}

# The rebuilt table, checked row by row and against its primary key.
sub check_table
{
	my ($label) = @_;
	is( $node->safe_psql(
			'postgres', q{
			SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;
			SELECT count(*) - count(DISTINCT id) FROM accounts}),
		0,
		"$label: every id is in the table once (heap scan)");
	is( $node->safe_psql(
			'postgres', q{
			SET enable_seqscan = off; SET enable_bitmapscan = off;
			SELECT (SELECT count(*) FROM accounts WHERE id > 0) + (SELECT count(*) FROM accounts WHERE id < 0)}),
		$node->safe_psql(
			'postgres', q{
			SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;
			SELECT count(*) FROM accounts}),
		"$label: the primary key index finds as many rows as the heap holds");
	my ($rc, $out, $err) = $node->psql('postgres',
		q{SELECT bt_index_parent_check('accounts_pkey', true)});
	is($rc, 0, "$label: amcheck: the primary key index holds every heap tuple")
	  or diag($err);
	is_deeply([ run_leftovers($node) ], [], "$label: no per-run object left");
	return;
}

sub writes_in
{
	my ($run, $phase, $label) = @_;
	my $n = $run->{writes}{$phase};
	ok(defined $n && $n > 0,
		"$label: the application wrote during the $phase phase ("
		  . ($n // 'phase not seen') . ' ledger rows)');
	return;
}

# ------------------------------------------------------------------------
# 1. A plain rebuild, in many small copy chunks, slowed down so that every
#    phase overlaps the writes.
# ------------------------------------------------------------------------
my $oid = $node->safe_psql('postgres', q{SELECT 'accounts'::regclass::oid});
my %moves1 = (copy => [ 1, 300 ], replay => [ 301, 600 ], swap => [ 601, 900 ]);
my $run = rebuild_under_load(
	'plain', \%moves1,
	{
		PGR_TEST_COPY_CHUNK_BLOCKS => 8,
		PGR_TEST_SLEEP_COPY_CHUNK => 60,
		PGR_TEST_SLEEP_REPLAY_BATCH => 400,
		PGR_TEST_SLEEP_BEFORE_SWAP => 1500,
		# between the last replay before the lock and the lock: writes
		# land there, so the swap has entries to apply under its lock
		PGR_TEST_SLEEP_SWAP_PREREAD => 300,
		PGR_TEST_SLEEP_BEFORE_SWAP_COMMIT => 300,
		PGR_TEST_SLEEP_FINISH => 800,
	});
is($run->{rc}, 0, 'plain: rebuilt under load, exit 0');
is($run->{err}, '', 'plain: nothing on stderr');
check_ledger($node, $run->{load}, 'plain: the table matches the ledger exactly');
my ($chunks) = $run->{out} =~ /^phase copy .* rows in (\d+) chunks?$/m;
cmp_ok($chunks // 0, '>', 10, 'plain: the copy ran in many chunks');
writes_in($run, $_, 'plain') for qw(copy replay swap swapped);
my ($replayed) = $run->{out} =~ /^phase replay .*?([\d,]+) changes applied$/m;
$replayed =~ s/,//g if defined $replayed;
cmp_ok($replayed // 0, '>', 0, 'plain: the replay applied changes');
my ($under_lock, $budget) =
  $run->{out} =~ /^phase swap .*ACCESS EXCLUSIVE held \d+ ms, \d+ attempts?, ([\d,]+) changes applied under the lock \(at most (\d+) for --max-lock-time \d+ ms\)$/m;
$under_lock =~ s/,//g if defined $under_lock;
cmp_ok($under_lock // 0, '>', 0,
	'plain: the swap applied the last changes under the lock');
cmp_ok($under_lock // 0, '<=', $budget // -1,
	'plain: no more than --max-lock-time allows at the measured rate');
check_moves($run, \%moves1, 'plain');
isnt($node->safe_psql('postgres', q{SELECT 'accounts'::regclass::oid}),
	$oid, 'plain: the table is a new relation');
check_table('plain');
my $moved = moved_rows(1, 900);

# ------------------------------------------------------------------------
# 2. --set-not-null with two copy workers, under the same load.
# ------------------------------------------------------------------------
$oid = $node->safe_psql('postgres', q{SELECT 'accounts'::regclass::oid});
my %moves2 = (copy => [ 901, 1200 ], replay => [ 1201, 1500 ], swap => [ 1501, 1800 ]);
$run = rebuild_under_load(
	'set-not-null', \%moves2,
	{
		PGR_TEST_COPY_CHUNK_BLOCKS => 8,
		PGR_TEST_SLEEP_COPY_CHUNK => 100,
		PGR_TEST_SLEEP_REPLAY_BATCH => 300,
		PGR_TEST_SLEEP_BEFORE_SWAP => 1000,
		PGR_TEST_SLEEP_FINISH => 500,
	},
	'--set-not-null', 'note', '-j', '2');
is($run->{rc}, 0, 'set-not-null: rebuilt under load, exit 0');
is($run->{err}, '', 'set-not-null: nothing on stderr');
check_ledger($node, $run->{load},
	'set-not-null: the table matches the ledger exactly');
writes_in($run, $_, 'set-not-null') for qw(copy replay swap);
is($node->safe_psql('postgres',
		q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'note'}),
	't', 'set-not-null: note is NOT NULL now');
is($node->safe_psql('postgres', 'SELECT count(*) FROM accounts WHERE note IS NULL'),
	0, 'set-not-null: no NULL in note');
isnt($node->safe_psql('postgres', q{SELECT 'accounts'::regclass::oid}),
	$oid, 'set-not-null: the table is a new relation');
check_table('set-not-null');
check_moves($run, \%moves2, 'set-not-null');
is(moved_rows(1, 900), $moved,
	'set-not-null: the rows moved during the first run are still exactly there');

done_testing();
