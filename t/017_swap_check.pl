# 017_swap_check.pl: the swap reads the catalog before its lock and, under the
# lock, checks in one round trip that nothing changed; a change made just
# before the lock, or earlier in the run, stops the swap with the table as it was.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('swap_check', log_statement => 'none');

$node->safe_psql(
	'postgres', q{
	CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);
	INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 20000) g;
	CREATE VIEW t_view AS SELECT id, v FROM t WHERE id % 2 = 0;
});
bloat_table($node, 't', delete => 0.5);

# Runs a rebuild held at $point, runs $ddl while it is there, and returns
# the exit code, stdout and stderr.
sub rebuild_with_ddl_at
{
	my ($point, $ddl) = @_;
	my $h = start_rebuild($node, { env => { hold_env($point) } }, '-t', 't', '-v');
	ok(hold_run($h, $point), "$point: the run is held there");
	$node->safe_psql('postgres', $ddl);
	return finish_rebuild($h);
}

my $changed_re = qr/^pg_rebuild: error: the objects around "public"\."t" \(views, triggers, foreign keys, policies, \.\.\.\) changed while it was being rebuilt$/m;
my $recheck_re = qr/^the catalog changed between the read before the lock and the lock: reading it again$/m;

# ------------------------------------------------------------------------
# 1. A function that names the table is created after the swap read the
#    catalog and before it has its lock: the check under the lock sees it,
#    reads everything again under the lock, and stops.
# ------------------------------------------------------------------------
my $oid = table_oid($node, 't');
my $md5 = table_md5($node, 't');
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
my $view_rows = $node->safe_psql('postgres', 'SELECT count(*) FROM t_view');
my ($rc, $out, $err) = rebuild_with_ddl_at('SWAP_PREREAD',
	q{CREATE FUNCTION count_t() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT count(*) FROM t); END $$});
is($rc, 1, 'change before the lock: exit 1');
like($out, $recheck_re, 'change before the lock: noticed by the check under the lock');
like($err, $changed_re, 'change before the lock: said what changed');
like($err, qr/^pg_rebuild: detail: Nothing was swapped: the table is unchanged\.$/m,
	'change before the lock: said nothing was swapped');
is(table_oid($node, 't'), $oid, 'change before the lock: the table is the original');
is(table_md5($node, 't'), $md5, 'change before the lock: same rows');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t_view'), $view_rows, 'change before the lock: the view works');
is($node->safe_psql('postgres', 'SELECT count_t()'), $rows, 'change before the lock: the new function works');
is_deeply([ run_leftovers($node) ], [], 'change before the lock: nothing left behind');

# The same run with the function in place from the start swaps.
($rc, $out, $err) = run_rebuild($node, '-t', 't', '-v');
is($rc, 0, 'function there from the start: exit 0');
unlike($out, $recheck_re, 'nothing changed: the check under the lock was enough');
isnt(table_oid($node, 't'), $oid, 'function there from the start: the table was rebuilt');
is(table_md5($node, 't'), $md5, 'function there from the start: same rows');
is($node->safe_psql('postgres', 'SELECT count_t()'), $rows, 'function there from the start: it works');
is_deeply([ run_leftovers($node) ], [], 'function there from the start: nothing left behind');

# ------------------------------------------------------------------------
# 2. A view on the table created during the copy: the read before the lock
#    sees it; the swap stops before it takes any lock.
# ------------------------------------------------------------------------
$oid = table_oid($node, 't');
($rc, $out, $err) = rebuild_with_ddl_at('COPY_START', q{CREATE VIEW t_view2 AS SELECT id FROM t});
is($rc, 1, 'change during the copy: exit 1');
like($err, $changed_re, 'change during the copy: said what changed');
unlike($out, $recheck_re, 'change during the copy: seen before the lock');
unlike($out, qr/^phase swap /m, 'change during the copy: the swap did not happen');
is(table_oid($node, 't'), $oid, 'change during the copy: the table is the original');
is(table_md5($node, 't'), $md5, 'change during the copy: same rows');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t_view2'), $rows, 'change during the copy: the new view works');
is_deeply([ run_leftovers($node) ], [], 'change during the copy: nothing left behind');

# ------------------------------------------------------------------------
# 3. Lock refused several times (a reader holds ACCESS SHARE for a while):
#    each attempt reads and records again (and drops the statements it
#    prepared for the one before); once the reader is gone the swap is made.
# ------------------------------------------------------------------------
my $reader = $node->background_psql('postgres');
$reader->query_safe('BEGIN; SELECT count(*) FROM t');
my $h = start_rebuild($node, '-t', 't', '--lock-timeout', '50', '-v');
ok(wait_for_output($h, qr/^swap: attempt (?:[2-9]|\d\d+) waiting/m), 'lock refused: attempts are retried');
$reader->query_safe('COMMIT');
$reader->quit;
($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'lock refused, then granted: exit 0');
is(table_md5($node, 't'), $md5, 'lock refused, then granted: same rows');
is_deeply([ run_leftovers($node) ], [], 'lock refused, then granted: nothing left behind');

# ------------------------------------------------------------------------
# 4. Under a write load the table grows between the read and the lock: its
#    size is not part of the recorded reads, so the check under the lock
#    still finds nothing changed and does not read everything again.
# ------------------------------------------------------------------------
create_ledger_tables($node, table => 'busy', rows => 20000);
my $load = start_ledger_load($node, table => 'busy', clients => 4, rate => 300);
# (held between the swap's last replay before the lock and the lock while the
# application commits: those writes are applied under the lock; should the
# lock be refused, the next attempt pauses there too; --max-lock-time is
# generous, as what it bounds is t/043's business: on a slow machine the
# changes of each pause may exceed the default's budget at every attempt,
# and the run would give the lock back until --wait-timeout)
$h = start_rebuild($node, { env => { PGR_TEST_SLEEP_SWAP_PREREAD => 1500 } },
	'-t', 'busy', '-v', '--max-lock-time', '10000');
ok(hold_run($h, 'SWAP_PREREAD'), 'under load: the run is held before its swap lock');
ok(wait_for_transactions($load, 5), 'under load: the application commits meanwhile');
($rc, $out, $err) = finish_rebuild($h);
my $stats = stop_ledger_load($load);
is($rc, 0, 'under load: exit 0');
like($out, qr/^phase swap .* [1-9][\d,]* changes applied under the lock \(at most \d+ for --max-lock-time \d+ ms\)$/m,
	'under load: writes landed between the read and the lock');
unlike($out, $recheck_re, 'under load: the check under the lock found the catalog unchanged');
check_ledger($node, $load, 'under load: the table matches the ledger exactly');
is_deeply([ run_leftovers($node) ], [], 'under load: nothing left behind');

done_testing();
