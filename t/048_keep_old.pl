# 048_keep_old.pl: --keep-old keeps the old table after the swap, under the
# run's recorded name, with the rows it had; its foreign keys are dropped so
# it holds the application back in nothing; it is recorded as the run's, and
# pg_rebuild --cleanup drops it.  The dry-run plan leaves its drop out.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('keep_old', log_statement => 'none');
$node->safe_psql(
	'postgres', q{
	CREATE TABLE parent (id int PRIMARY KEY);
	INSERT INTO parent SELECT g FROM generate_series(1, 100) g;
	CREATE TABLE child (id int PRIMARY KEY, pid int REFERENCES parent, v text, b bytea);
	INSERT INTO child SELECT g, g % 100 + 1, md5(g::text), decode(md5(g::text), 'hex')
	FROM generate_series(1, 5000) g;
	INSERT INTO child VALUES (5001, NULL, NULL, NULL),
		(5002, 1, E'tab\there\nnewline\\\\backslash', '\x00ff'::bytea),
		(5003, 2, 'unicode: żółw 猫 🐢', ''::bytea);
});
bloat_table($node, 'child', delete => 0.3);

my $md5 = table_md5($node, 'child');
my $oid = table_oid($node, 'child');
my $kept = "pgrebuild_old_$oid";

# ------------------------------------------------------------------------
# --dry-run: the plan does not drop the old table.
# ------------------------------------------------------------------------
my ($rc, $out, $err) = run_rebuild($node, '-t', 'child', '--dry-run');
is($rc, 0, 'dry run: exit 0');
like($out, qr/DROP TABLE IF EXISTS "public"\."\Q$kept\E" RESTRICT/, 'dry run without --keep-old: the plan drops the old table');
($rc, $out, $err) = run_rebuild($node, '-t', 'child', '--dry-run', '--keep-old');
is($rc, 0, 'dry run with --keep-old: exit 0');
unlike($out, qr/DROP TABLE IF EXISTS "public"\."\Q$kept\E"/, 'dry run with --keep-old: the plan keeps the old table');

# ------------------------------------------------------------------------
# Usage errors.
# ------------------------------------------------------------------------
($rc, $out, $err) = run_rebuild($node, '-t', 'child', '--keep-old', '--keep-old');
is($rc, 2, '--keep-old twice: exit 2');
like($err, qr/--keep-old is given twice/, '--keep-old twice: says so');
($rc, $out, $err) = run_rebuild($node, '-t', 'child', '--keep-old', '--method=in-place', '--set-not-null', 'v');
is($rc, 2, '--keep-old with --method=in-place: exit 2');
like($err, qr/--keep-old cannot be combined with --method=in-place: an in-place run leaves no old table/,
	'--keep-old with --method=in-place: says why');
($rc, $out, $err) = run_rebuild($node, '--cleanup', '--keep-old');
is($rc, 2, '--cleanup with --keep-old: exit 2');

# ------------------------------------------------------------------------
# The run keeps the old table, says where, and it has the old rows.
# ------------------------------------------------------------------------
($rc, $out, $err) = run_rebuild($node, '-t', 'child', '--keep-old');
is($rc, 0, '--keep-old: exit 0') or diag($err);
like(
	$out,
	qr/^kept the old table as "public"\."\Q$kept\E" \(its rows as they were at the swap\); "pg_rebuild --cleanup" drops it$/m,
	'--keep-old: the output names the kept table and how it goes');
isnt(table_oid($node, 'child'), $oid, '--keep-old: the table was rebuilt');
is(table_md5($node, 'child'), $md5, '--keep-old: the rebuilt table has the same rows');
is(table_oid($node, "public.$kept"), $oid, '--keep-old: the kept table is the old table (same OID)');
is(table_md5($node, "public.$kept", 'id'), $md5, '--keep-old: the kept table has the rows from before the rebuild');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_constraint WHERE conrelid = $oid AND contype = 'f'"),
	'0', '--keep-old: the kept table has no foreign key left');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_trigger WHERE tgrelid = $oid"),
	'0', '--keep-old: no trigger on the kept table');

# The application is not held back by it: a parent row that an old row
# references can be deleted once no row of the rebuilt table does.
$node->safe_psql('postgres', 'DELETE FROM child WHERE pid = 7; DELETE FROM parent WHERE id = 7');
is($node->safe_psql('postgres', 'SELECT count(*) FROM parent WHERE id = 7'),
	'0', '--keep-old: a parent row referenced only by kept rows can be deleted');
ok($node->safe_psql('postgres', "SELECT count(*) FROM public.$kept WHERE pid = 7") > 0,
	'--keep-old: ... and the kept table still has its rows');

# Only the kept table is left, recorded as the run's.
my @left = run_leftovers($node);
ok((grep { $_ eq "relation $kept" } @left), '--keep-old: the kept table is left');
is_deeply([ grep { !/^(?:relation pgrebuild_old_(?:$oid|i\d+)|run \d+ \(public\.child, phase swapped\)|run object \d+ old public\.\Q$kept\E)$/ } @left ], [],
	'--keep-old: nothing else is left than the kept table, its indexes and the record of it') or diag(join "\n", @left);
($rc, $out, $err) = run_rebuild($node, '--cleanup', '--dry-run');
is($rc, 3, '--cleanup --dry-run: exit 3, the kept table is recorded');
like($out, qr/^  old public\.\Q$kept\E$/m, '--cleanup --dry-run: names the kept table');
ok(relation_exists($node, "public.$kept"), '--cleanup --dry-run: the kept table is still there');

# A second rebuild of the same table (a new OID) with --keep-old keeps its
# own old table beside the first.
my $oid2 = table_oid($node, 'child');
my $md5_2 = table_md5($node, 'child');
($rc, $out, $err) = run_rebuild($node, '-t', 'child', '--keep-old');
is($rc, 0, 'second --keep-old: exit 0') or diag($err);
is(table_md5($node, "public.pgrebuild_old_$oid2", 'id'), $md5_2, 'second --keep-old: its own kept table');
ok(relation_exists($node, "public.$kept"), 'second --keep-old: the first kept table is still there');

# --cleanup drops both, and nothing else is left.
($rc, $out, $err) = run_rebuild($node, '--cleanup');
is($rc, 0, '--cleanup: exit 0') or diag($err);
ok(!relation_exists($node, "public.$kept"), '--cleanup: the first kept table is dropped');
ok(!relation_exists($node, "public.pgrebuild_old_$oid2"), '--cleanup: the second kept table is dropped');
nothing_left($node, '--cleanup: nothing left');
is(table_md5($node, 'child'), $md5_2, '--cleanup: the table is untouched');

# ------------------------------------------------------------------------
# Without --keep-old nothing is kept.
# ------------------------------------------------------------------------
$oid = table_oid($node, 'child');
($rc, $out, $err) = run_rebuild($node, '-t', 'child');
is($rc, 0, 'without --keep-old: exit 0');
unlike($out, qr/kept the old table/, 'without --keep-old: nothing said of a kept table');
ok(!relation_exists($node, "public.pgrebuild_old_$oid"), 'without --keep-old: the old table is dropped');
nothing_left($node, 'without --keep-old: nothing left');

done_testing();
