# 048_keep_old.pl: --keep-old keeps the old table after the swap, under the
# run's recorded name, with the rows it had; its foreign keys are dropped so
# it holds the application back in nothing; it is recorded as the run's, and
# pg_rebuild --cleanup drops it.  The dry-run plan leaves its drop out.
# --archive-old writes the old table's rows into a gzip file that gzip -t
# accepts and the documented recipe loads back with identical rows; a
# corrupted archive is refused; an unwritable path is refused before
# anything is created; an archive failing midway keeps the old table.
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
like($out, qr/^-- \[finish\] --keep-old: the old table "public"\."\Q$kept\E" stays/m,
	'dry run with --keep-old: the plan says the old table stays');
($rc, $out, $err) = run_rebuild($node, '-t', 'child', '--dry-run', '--archive-old=/nonexistent-dir/x.gz');
is($rc, 1, 'dry run with an unwritable --archive-old: refused as a run would be');

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
# --archive-old: a gzip file with a header naming the table and its
# columns, whose rows load back (documented recipe) into an empty copy.
# ------------------------------------------------------------------------
my $dir = PostgreSQL::Test::Utils::tempdir();
chmod 0777, $dir;
my $file = "$dir/child.gz";
$md5 = table_md5($node, 'child');
$oid = table_oid($node, 'child');
($rc, $out, $err) = run_rebuild($node, '-t', 'child', '--dry-run', "--archive-old=$file");
is($rc, 0, '--archive-old --dry-run: exit 0');
like($out, qr/^COPY "public"\."pgrebuild_old_$oid" TO STDOUT;$/m, '--archive-old --dry-run: the plan shows the archive');
ok(!-e $file && !-e "$file.partial", '--archive-old --dry-run: no file written');
($rc, $out, $err) = run_rebuild($node, '-t', 'child', "--archive-old=$file");
is($rc, 0, '--archive-old: exit 0') or diag($err);
my $nrows = $node->safe_psql('postgres', 'SELECT count(*) FROM child');
like($out, qr/^archived the old table's $nrows rows into \Q$file\E$/m, '--archive-old: says how many rows went where');
ok(!relation_exists($node, "public.pgrebuild_old_$oid"), '--archive-old: the old table is dropped once archived');
nothing_left($node, '--archive-old: nothing left');
ok(!-e "$file.partial", '--archive-old: no partial file left');
is(system('gzip', '-t', $file), 0, '--archive-old: gzip -t accepts the file');
my $text = `gzip -dc '$file'`;
my @lines = split /\n/, $text;
is($lines[0], '-- pg_rebuild archive, format 1', 'archive: the first line names the format');
is($lines[1], '-- table: "public"."child"', 'archive: the header names the table');
like($text, qr/^-- copy format: text\n-- column: "id" integer\n-- column: "pid" integer\n-- column: "v" text\n-- column: "b" bytea\n/m,
	'archive: the header names the columns and their types');
like($text, qr/^COPY "public"\."child" \("id", "pid", "v", "b"\) FROM STDIN;$/m, 'archive: the COPY line');
is($lines[-1], "-- rows: $nrows", 'archive: the trailer counts the rows');
is($lines[-2], '\\.', 'archive: the data ends with \\.');

# Load it back into an empty copy: the recipe of docs/archive-format.md.
$node->safe_psql('postgres', 'CREATE TABLE restored (LIKE child)');
my $connstr = $node->connstr('postgres');
my $load = "gzip -t '$file' && gzip -dc '$file' | sed '0,/^COPY /s/^COPY [^(]*(/COPY public.restored (/' | "
  . "psql -X -q -1 -v ON_ERROR_STOP=1 '$connstr'";
is(system('sh', '-c', $load), 0, 'archive: the recipe loads it');
is(table_md5($node, 'restored', 'id'), $md5, 'archive: the loaded rows are identical (NULLs, tabs, newlines, backslashes, bytea, unicode)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM restored WHERE v IS NULL AND pid IS NULL AND b IS NULL'),
	'1', 'archive: NULLs came back as NULLs');

# A corrupted archive is detected before anything is loaded.
$node->safe_psql('postgres', 'TRUNCATE restored');
{
	open my $fh, '+<:raw', $file or die "open $file: $!";
	my $size = -s $file;
	seek $fh, int($size / 2), 0;
	read $fh, my $byte, 1;
	seek $fh, int($size / 2), 0;
	print $fh chr(ord($byte) ^ 0xff);
	close $fh;
}
isnt(system('sh', '-c', "$load 2>/dev/null"), 0, 'corrupted archive: the recipe fails (gzip -t, CRC-32)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM restored'), '0', 'corrupted archive: nothing was loaded');

# An archive path that cannot be written is refused before anything is created.
$oid = table_oid($node, 'child');
($rc, $out, $err) = run_rebuild($node, '-t', 'child', "--archive-old=$dir/no/such/dir/x.gz");
is($rc, 1, 'unwritable archive path: exit 1');
like($err, qr/^pg_rebuild: error: cannot write the archive of the old table to \Q$dir\E\/no\/such\/dir\/x\.gz: directory "[^"]+" does not exist$/m,
	'unwritable archive path: says why');
like($err, qr/^pg_rebuild: detail: Nothing was changed/m, 'unwritable archive path: says nothing was changed');
is(table_oid($node, 'child'), $oid, 'unwritable archive path: the table was not rebuilt');
nothing_left($node, 'unwritable archive path: nothing created');
($rc, $out, $err) = run_rebuild($node, '-t', 'child', "--archive-old=$file");
is($rc, 1, 'existing archive file: exit 1');
like($err, qr/exists already/, 'existing archive file: refused, never overwritten');
($rc, $out, $err) = run_rebuild($node, '-t', 'child', '--archive-old=a.gz', '--archive-old=b.gz');
is($rc, 2, '--archive-old twice: exit 2');

# An archive failing midway keeps the old table: the partial file is
# removed while the run writes it, so that its rename fails.
my $file2 = "$dir/child2.gz";
$md5 = table_md5($node, 'child');
$oid = table_oid($node, 'child');
my ($wenv, $wfiles) = wait_env($node, 'ARCHIVE');
my $h = start_rebuild($node, { env => $wenv }, '-t', 'child', "--archive-old=$file2");
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at ARCHIVE$/m), 'midway: the run is writing the archive');
ok(unlink("$file2.partial"), 'midway: the partial file is removed under it');
release_wait($wfiles->{ARCHIVE});
($rc, $out, $err) = finish_rebuild($h);
is($rc, 3, 'midway: exit 3');
like($err, qr/^pg_rebuild: error: could not archive the old table "public"\."pgrebuild_old_$oid" into \Q$file2\E: could not rename/m,
	'midway: the error says the archive failed and why');
like($err, qr/The old table was kept, with its rows, and no archive file was left: nothing that could not be archived was dropped\./,
	'midway: says the old table was kept');
ok(!-e $file2, 'midway: no archive file');
is(table_md5($node, "public.pgrebuild_old_$oid", 'id'), $md5, 'midway: the old table is kept with its rows');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_constraint WHERE conrelid = $oid AND contype = 'f'"),
	'0', 'midway: the kept table has no foreign key left');
($rc, $out, $err) = run_rebuild($node, '--cleanup');
is($rc, 0, 'midway: --cleanup exit 0') or diag($err);
ok(!relation_exists($node, "public.pgrebuild_old_$oid"), 'midway: --cleanup drops the kept table');
nothing_left($node, 'midway: nothing left after --cleanup');

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
