# 052_throttle.pl: --max-replica-lag pauses the copy and the replay while a real standby lags, and says why; --max-rate.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('throttle', log_statement => 'none', init => { allows_streaming => 1 });
$node->safe_psql(
	'postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL);
	INSERT INTO items SELECT g, 'c' || g FROM generate_series(1, 20000) g;
	CREATE TABLE filler (id int, pad text);
});
bloat_table($node, 'items', delete => 0.5);
my $standby = new_standby($node, 'standby');
$node->wait_for_catchup('standby');
my $md5 = table_md5($node, 'items');
my $oid = $node->safe_psql('postgres', q{SELECT 'items'::regclass::oid});

# Makes the standby fall behind: its replay stops, and the primary writes
# about 1 MB of WAL.
sub standby_behind
{
	$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
	$node->safe_psql('postgres',
		q{INSERT INTO filler SELECT g, repeat('x', 100) FROM generate_series(1, 8000) g});
}

sub events
{
	my ($text) = @_;
	return map { JSON::PP->new->decode($_) } grep { /^\{/ } split /\n/, $text;
}

# ------------------------------------------------------------------------
# 1. The standby is behind from the start: the copy pauses after its first
#    chunk, says why, and goes on once the standby replays again; the same
#    in the replay.
# ------------------------------------------------------------------------
standby_behind();
my ($env, $files) = wait_env($node, 'REPLAY_BATCH');
my $h = start_rebuild($node, { env => { %$env, PGR_TEST_COPY_CHUNK_BLOCKS => 16, PGR_TEST_SLEEP_THROTTLE_RECHECK => 1 } },
	'-t', 'items', '--log-format=json', '--max-replica-lag', '64kB');
ok(wait_for_output($h, qr/"event":"throttle".*"state":"paused"/), 'copy: the run pauses for the standby');
my ($paused) = grep { $_->{event} eq 'throttle' } events($h->{stdout});
is($paused->{phase}, 'copy', 'copy: paused in the copy');
is($paused->{reason}, 'replica_lag', 'copy: because of a standby');
like($paused->{source}, qr/^standby/, 'copy: names the standby (its application_name)');
cmp_ok($paused->{lag_bytes}, '>', 65536, 'copy: which is further behind than the limit');
like($paused->{message}, qr/^copy: paused: standby standby.* behind, more than --max-replica-lag 64\.0 kB/,
	'copy: the message says paused and why');
# The copy really stops: after two more checks of the lag the shadow holds
# what the first chunk copied, no more.
ok(wait_for_output($h, qr/pausing at THROTTLE_RECHECK/, count => 2), 'copy: the run checks the lag again');
my ($first) = grep { $_->{event} eq 'progress' } events($h->{stdout});
is($node->safe_psql('postgres', "SELECT count(*) FROM pgrebuild_new_$oid"), $first->{done},
	'copy: while paused, the shadow holds only the first chunk\'s rows (' . $first->{done} . ')');
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
ok(wait_for_output($h, qr/"state":"resumed"/), 'copy: goes on once the standby has replayed');
my @ev = events($h->{stdout});
my ($i_paused) = grep { $ev[$_]{event} eq 'throttle' && $ev[$_]{state} eq 'paused' } 0 .. $#ev;
my ($i_resumed) = grep { $ev[$_]{event} eq 'throttle' && $ev[$_]{state} eq 'resumed' } 0 .. $#ev;
is((grep { $_->{event} eq 'progress' } @ev[ $i_paused .. $i_resumed ]), 0,
	'copy: no chunk was copied while paused');
cmp_ok($ev[$i_resumed]{paused_s}, '>', 0, 'copy: the resumed event says how long it paused');

ok(wait_for_output($h, qr/pausing at REPLAY_BATCH/), 'replay: the run reaches the replay');
standby_behind();
release_wait($files->{REPLAY_BATCH});
ok(wait_for_output($h, qr/"phase":"replay","state":"paused"/), 'replay: the replay pauses for the standby');
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
my ($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'the run ends: exit 0');
@ev = events($out);
# (the run's own WAL may make the standby fall behind again for a moment)
my @pauses = grep { $_->{event} eq 'throttle' && $_->{state} eq 'paused' } @ev;
is(scalar(grep { $_->{event} eq 'throttle' && $_->{state} eq 'resumed' } @ev), scalar(@pauses),
	'every pause ended (' . scalar(@pauses) . ')');
ok((grep { $_->{phase} eq 'replay' } @pauses), 'a pause was in the replay');
is(table_md5($node, 'items'), $md5, 'the table holds the same rows');
$node->wait_for_catchup('standby');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM items'),
	$node->safe_psql('postgres', 'SELECT count(*) FROM items'), 'the standby has the rebuilt table');

# ------------------------------------------------------------------------
# 2. Without lag, no pause; --max-rate keeps the copy to its pace.
# ------------------------------------------------------------------------
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
($rc, $out, $err) = run_rebuild($node, '-t', 'items', '--log-format=json', '--max-replica-lag', '64MB',
	'--max-rate', '4000');
is($rc, 0, 'rate: exit 0');
@ev = events($out);
is((grep { $_->{event} eq 'throttle' } @ev), 0, 'rate: no pause when the standby keeps up');
my ($copy) = grep { $_->{event} eq 'phase_end' && $_->{phase} eq 'copy' } @ev;
cmp_ok($copy->{duration_s}, '>=', 0.8 * $rows / 4000,
	sprintf('rate: %d rows at 4000 a second take at least %.1f s (%.1f s)', $rows, 0.8 * $rows / 4000,
		$copy->{duration_s}));

# ------------------------------------------------------------------------
# 3. Bad values are usage errors.
# ------------------------------------------------------------------------
for my $bad ('10', '5 parsecs', '-1s', '0MB')
{
	($rc, $out, $err) = run_rebuild($node, '-t', 'items', '--max-replica-lag', $bad);
	is($rc, 2, "--max-replica-lag '$bad': exit 2");
	like($err, qr/invalid value "\Q$bad\E" for --max-replica-lag: expected a duration with its unit/,
		"--max-replica-lag '$bad': says what it expects");
}
($rc, $out, $err) = run_rebuild($node, '-t', 'items', '--max-rate', '0');
is($rc, 2, '--max-rate 0: exit 2');
($rc, $out, $err) = run_rebuild($node, '-t', 'items', '--max-rate', '10', '--max-rate', '20');
is($rc, 2, '--max-rate twice: exit 2');

done_testing();
