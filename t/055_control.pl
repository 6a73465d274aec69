# 055_control.pl: --pause/--resume and --postpone-swap/--release-swap steer a live run through its record.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('control', log_statement => 'none');
$node->safe_psql(
	'postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL);
	INSERT INTO items SELECT g, 'c' || g FROM generate_series(1, 20000) g;
	CREATE TABLE other (id int PRIMARY KEY);
});
bloat_table($node, 'items', delete => 0.5);
my $oid = $node->safe_psql('postgres', q{SELECT 'items'::regclass::oid});

sub steer
{
	my ($option, $expect_rc, $expect_out, $name) = @_;
	my ($rc, $out, $err) = run_rebuild($node, $option, '-t', 'items');
	is($rc, $expect_rc, "$name: exit $expect_rc");
	like($out . $err, $expect_out, "$name: says so");
	return;
}

# ------------------------------------------------------------------------
# 1. A run held in its replay is paused from outside: it says so and stays
#    paused (its record says so) until --resume.  Its swap is postponed
#    and released the same way; it keeps replaying what the application
#    writes meanwhile.
# ------------------------------------------------------------------------
my ($rc0, $out0, $err0);
my ($env, $files) = wait_env($node, 'REPLAY_BATCH');
my $h = start_rebuild($node, { env => { %$env, PGR_TEST_SLEEP_PAUSED => 1, PGR_TEST_SLEEP_SWAP_WAIT => 1 } },
	'-t', 'items');
ok(wait_for_output($h, qr/pausing at REPLAY_BATCH/), 'the run reaches its replay');
steer('--pause', 0, qr/--pause: done on the run of table "items": it pauses after its current chunk or batch/,
	'--pause');
steer('--postpone-swap', 0, qr/--postpone-swap: done on the run of table "items"/, '--postpone-swap');
my $state = $node->safe_psql('postgres', "SELECT 'pgrebuild_' || relowner FROM pg_class WHERE oid = $oid");
is($node->safe_psql('postgres', "SELECT paused, swap_postponed FROM $state.runs WHERE relid = $oid"),
	't|t', 'the run\'s record says paused and postponed');
($rc0, $out0, $err0) = run_rebuild($node, '--status', '-t', 'items');
like($out0, qr/^run \d+  table "public"\."items"  phase replay \(paused: --resume\) \(swap postponed: --release-swap\)  .* alive/m,
	'--status shows the run paused and its swap postponed');
release_wait($files->{REPLAY_BATCH});
ok(wait_for_output($h, qr/^replay: paused by pg_rebuild --pause; pg_rebuild --resume lets it go on$/m),
	'the run says it is paused');
ok(wait_for_output($h, qr/pausing at PAUSED/, count => 2), 'and stays paused while it looks again');
$node->safe_psql('postgres', q{INSERT INTO items SELECT g, 'new' || g FROM generate_series(200001, 203000) g});
steer('--resume', 0, qr/--resume: done/, '--resume');
ok(wait_for_output($h, qr/^replay: going on after .* paused \(pg_rebuild --resume\)$/m), 'the run goes on');
ok(wait_for_output($h, qr/^swap: postponed by pg_rebuild --postpone-swap; replaying until pg_rebuild --release-swap$/m),
	'the swap waits for --release-swap');
ok(wait_for_output($h, qr/pausing at SWAP_WAIT/, count => 2), 'and keeps waiting');
is($node->safe_psql('postgres', q{SELECT 'items'::regclass::oid}), $oid, 'nothing was swapped meanwhile');
$node->safe_psql('postgres', q{UPDATE items SET code = 'changed' WHERE id % 7 = 0; DELETE FROM items WHERE id < 50});
my $md5 = table_md5($node, 'items');
steer('--release-swap', 0, qr/--release-swap: done on the run of table "items": it may swap/, '--release-swap');
my ($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'the run swaps once released: exit 0');
isnt($node->safe_psql('postgres', q{SELECT 'items'::regclass::oid}), $oid, 'the table was swapped');
is(table_md5($node, 'items'), $md5, 'with every write made while it was paused or postponed');
nothing_left($node, 'nothing left');

# ------------------------------------------------------------------------
# 2. No run, no table, bad usage.
# ------------------------------------------------------------------------
steer('--pause', 1, qr/--pause: no run of table "items" is recorded: nothing was changed/, 'no run');
($rc, $out, $err) = run_rebuild($node, '--pause', '-t', 'nosuch');
is($rc, 1, 'no table: exit 1');
like($err, qr/--pause: table "nosuch" does not exist: nothing was changed/, 'no table: says so');
($rc, $out, $err) = run_rebuild($node, '--pause');
is($rc, 2, 'no -t: exit 2');
like($err, qr/--pause steers the run of one table: give it with -t TABLE/, 'no -t: says what to give');
($rc, $out, $err) = run_rebuild($node, '--pause', '--resume', '-t', 'items');
is($rc, 2, '--pause --resume: exit 2');
like($err, qr/--pause and --resume cannot be used together/, '--pause --resume: says so');
($rc, $out, $err) = run_rebuild($node, '--release-swap', '-t', 'items', '--max-rate', '10');
is($rc, 2, '--release-swap with a rebuild option: exit 2');

# ------------------------------------------------------------------------
# 3. A state schema of format 2 (an earlier pg_rebuild) is upgraded in
#    place by the next run, and --status reads it before that.
# ------------------------------------------------------------------------
$node->safe_psql('postgres',
	"ALTER TABLE $state.runs DROP COLUMN paused, DROP COLUMN swap_postponed; UPDATE $state.meta SET version = 2");
($rc, $out, $err) = run_rebuild($node, '--status');
is($rc, 0, 'format 2: --status reads it');
($rc, $out, $err) = run_rebuild($node, '-t', 'other');
is($rc, 0, 'format 2: a run on it succeeds');
is($node->safe_psql('postgres', "SELECT version FROM $state.meta"), '3', 'format 2: upgraded to format 3');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_attribute WHERE attrelid = '$state.runs'::regclass AND attname IN ('paused', 'swap_postponed')"),
	'2', 'format 2: the runs table has the new columns');

done_testing();
