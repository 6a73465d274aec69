# 012_concurrent.pl: the ledger proof: writes during copy, replay and swap are all in the rebuilt table, exactly once.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
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

# Runs pg_rebuild under the ledger load, holding it at each of @$stops
# ([ phase, pause point ], in the order the run meets them; hold_run: whatever
# the time the test takes there, the run is still at that point).  At each,
# the test checks the recorded phase, moves the phase's range of keys (at the
# phase's first stop), and waits until the application has committed more
# writes.  Returns the run's output, the ledger rows written while it was held
# in each phase, and the digests of the moves.
sub rebuild_under_load
{
	my ($label, $moves, $stops, $env, @args) = @_;
	my $load = start_ledger_load($node, table => 'accounts', clients => 4, rate => 200);
	# (a pause that $env sets stays as it is)
	my @points = grep { !exists $env->{"PGR_TEST_SLEEP_$_"} } map { $_->[1] } @$stops;
	my $h = start_rebuild($node, { env => { hold_env(@points), %$env } },
		'-t', 'accounts', @args);
	my (%moved, %writes, @seen);
	my $ledger_rows = sub { $node->safe_psql('postgres', 'SELECT count(*) FROM ledger') };
	for my $stop (@$stops)
	{
		my ($phase, $point) = @$stop;
		ok(hold_run($h, $point), "$label: the run is held at $point") or last;
		my $before = $ledger_rows->();
		is($node->safe_psql('postgres', 'SELECT phase FROM "' . state_schema($node) . '".runs'),
			$phase, "$label: held at $point, the run is in the $phase phase");
		push @seen, $phase;
		$moved{$phase} = move_keys(@{ $moves->{$phase} })
		  if $moves->{$phase} && !defined $moved{$phase};
		wait_for_transactions($load, 5);
		$writes{$phase} += $ledger_rows->() - $before;
		release_run($h);
	}
	my ($rc, $out, $err) = finish_rebuild($h);
	# The test pauses announce themselves; anything else is a diagnostic.
	$err =~ s/^pg_rebuild: test: pausing at \S+\n//mg;
	# Some more writes on the rebuilt table before stopping.
	wait_for_transactions($load, 20);
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
		writes => \%writes,
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
# 1. A plain rebuild, in many small copy chunks, held in every phase while
#    the application writes.
# ------------------------------------------------------------------------
my $oid = $node->safe_psql('postgres', q{SELECT 'accounts'::regclass::oid});
my %moves1 = (copy => [ 1, 300 ], replay => [ 301, 600 ], swap => [ 601, 900 ]);
# Held after the first chunk (the copy is under way), after the first replay
# batch, before the swap, between the swap's last replay before its lock and
# the lock (the writes committed there are applied under the lock), and after
# the swap.
my @stops = (
	[ copy => 'COPY_CHUNK' ],
	[ replay => 'REPLAY_BATCH' ],
	[ swap => 'BEFORE_SWAP' ],
	[ swap => 'SWAP_PREREAD' ],
	[ swapped => 'FINISH' ]);
my $run = rebuild_under_load(
	'plain', \%moves1, \@stops,
	{
		PGR_TEST_COPY_CHUNK_BLOCKS => 8,
		# before every lock attempt, not only the first (held): should the
		# lock be refused, writes land before the next attempt too
		PGR_TEST_SLEEP_SWAP_PREREAD => 1500,
		PGR_TEST_SLEEP_BEFORE_SWAP_COMMIT => 300,
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
# Away from the keys just above the first run's moves: the load's writers pick the first key at or above
# a random number, so once 1 .. 900 are gone they take the lowest keys left, more the longer it ran.
my %moves2 = (copy => [ 20001, 20300 ], replay => [ 20301, 20600 ], swap => [ 20601, 20900 ]);
$run = rebuild_under_load(
	'set-not-null', \%moves2,
	[ [ copy => 'COPY_CHUNK' ], [ replay => 'REPLAY_BATCH' ], [ swap => 'BEFORE_SWAP' ] ],
	{ PGR_TEST_COPY_CHUNK_BLOCKS => 8 },
	'--set-not-null', 'note', '--method', 'rebuild', '-j', '2');
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
