# 053_swap_window.pl: --swap-window: the run replays until the window opens, swaps inside it, gives up cleanly when it closes first.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('swap_window', log_statement => 'none');
$node->safe_psql(
	'postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL);
	INSERT INTO items SELECT g, 'c' || g FROM generate_series(1, 20000) g;
});
bloat_table($node, 'items', delete => 0.5);

# The run sees the server's clock at HH:MM:SS when it first looks at it
# (PGR_TEST_CLOCK_START_S), and the clock runs on from there.
sub clock_at
{
	my ($h, $m, $s) = @_;
	return { PGR_TEST_CLOCK_START_S => $h * 3600 + $m * 60 + $s };
}

# ------------------------------------------------------------------------
# 1. The window opens 3 s after the run reaches the swap: it says it
#    waits, replays what the application writes meanwhile, and swaps once
#    the window is open.
# ------------------------------------------------------------------------
my ($env, $files) = wait_env($node, 'SWAP_WAIT');
my $h = start_rebuild($node, { env => { %{ clock_at(9, 59, 57) }, %$env } },
	'-t', 'items', '--swap-window', '10:00-10:01');
ok(wait_for_output($h, qr/^swap: waiting for the swap window 10:00-10:01 \(server time\), which opens in 3\.\d+ s; replaying meanwhile$/m),
	'before the window: the run says it waits, and for how long');
ok(wait_for_output($h, qr/pausing at SWAP_WAIT/), 'the run waits outside the window');
$node->safe_psql('postgres',
	q{INSERT INTO items SELECT g, 'late' || g FROM generate_series(100001, 103000) g; DELETE FROM items WHERE id <= 100});
my $md5 = table_md5($node, 'items');
release_wait($files->{SWAP_WAIT});
my ($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'the run swaps inside the window: exit 0');
like($out, qr/^swap: the swap window is open\n(?:.*\n)*?phase swap /ms, 'the swap follows the opening of the window');
is(table_md5($node, 'items'), $md5, 'the writes made while it waited are in the rebuilt table');
nothing_left($node, 'nothing left after the swap');

# ------------------------------------------------------------------------
# 2. The window closes 3 s after the run reaches the swap, and a session
#    keeps the lock from it: the run gives up, exit 1, nothing left.
# ------------------------------------------------------------------------
$md5 = table_md5($node, 'items');
my $oid = $node->safe_psql('postgres', q{SELECT 'items'::regclass::oid});
my $bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN; LOCK TABLE items IN ACCESS SHARE MODE');
$h = start_rebuild($node, { env => clock_at(10, 0, 57) }, '-t', 'items', '--swap-window', '10:00-10:01', '-T', '60');
ok(wait_for_output($h, qr/closed before the swap could take its lock/), 'the window closes: the run says so');
$bg->query_safe('COMMIT');
$bg->quit;
($rc, $out, $err) = finish_rebuild($h);
is($rc, 1, 'the window closed without a swap: exit 1');
like($err, qr/detail: The swap window 10:00-10:01 \(server time\) closed before the swap could take its lock: nothing was swapped\./,
	'the detail names the window');
is($node->safe_psql('postgres', q{SELECT 'items'::regclass::oid}), $oid, 'the table was not swapped');
is(table_md5($node, 'items'), $md5, 'the table is unchanged');
nothing_left($node, 'nothing left after giving up');

# ------------------------------------------------------------------------
# 3. Bad windows are usage errors.
# ------------------------------------------------------------------------
for my $bad ('25:00-26:00', '10:00-10:00', '10:00', '1:00-2:00', '10:00-11:00x')
{
	($rc, $out, $err) = run_rebuild($node, '-t', 'items', '--swap-window', $bad);
	is($rc, 2, "--swap-window '$bad': exit 2");
	like($err, qr/invalid value "\Q$bad\E" for --swap-window: expected HH:MM-HH:MM/, "--swap-window '$bad': says what it expects");
}
($rc, $out, $err) = run_rebuild($node, '-t', 'items', '--swap-window', '01:00-02:00', '--method', 'in-place',
	'--set-not-null', 'code');
is($rc, 2, '--swap-window with --method=in-place: exit 2');
like($err, qr/--method=in-place has no swap/, '--swap-window with --method=in-place: says why');

done_testing();
