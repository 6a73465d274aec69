# 025_finish.pl: after the swap committed, what the finish cannot remove at
# once: removed on another try (exit 0, said plainly, no error line), or named
# with the --cleanup command to run (exit 3, an error that says the table is
# rebuilt).  A session holding ACCESS SHARE on the referenced table keeps the
# old table from being dropped (DROP TABLE needs ACCESS EXCLUSIVE on the
# tables its foreign keys reference), and nothing else of the run.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('finish', log_statement => 'none');
$node->safe_psql(
	'postgres', q{
	CREATE TABLE parent (id int PRIMARY KEY);
	INSERT INTO parent SELECT g FROM generate_series(1, 100) g;
	CREATE TABLE child (id int PRIMARY KEY, pid int NOT NULL REFERENCES parent, v text);
	INSERT INTO child SELECT g, g % 100 + 1, md5(g::text) FROM generate_series(1, 20000) g;
});

# ------------------------------------------------------------------------
# The first try fails, the second succeeds: the run succeeded.
# ------------------------------------------------------------------------
bloat_table($node, 'child', delete => 0.5);
my $md5 = table_md5($node, 'child');
my $oid = table_oid($node, 'child');
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE parent IN ACCESS SHARE MODE');
my $h = start_rebuild($node, '-t', 'child', '-T', '5');
ok( wait_for_output(
		$h, qr/^pg_rebuild: warning: could not remove a leftover object: canceling statement due to lock timeout$/m),
	'another try: the finish could not drop the old table while parent is locked');
$locker->query_safe('COMMIT');
my ($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'another try: exit 0 (rebuilt, nothing left)');
unlike($err, qr/error:/, 'another try: no error line');
like($err, qr/^pg_rebuild: detail: The object is the old table "public"\."pgrebuild_old_$oid"; pg_rebuild tries again\.$/m,
	'another try: the warning names the object and says it will be tried again');
like($out, qr/^the swap had committed: "public"\."child" is rebuilt; removing what is left of this run, once more$/m,
	'another try: says the table is rebuilt and what it does');
like($out, qr/^phase finish .*every object of the run removed, on another try$/m,
	'another try: the finish line says it succeeded');
my ($heap_after) = $out =~ /^rebuilt "public"\."child": .*; heap \S+ \S+ -> (\S+ \S+);/m;
ok(defined $heap_after && $heap_after ne '0 B', 'another try: the summary has the new size (' . ($heap_after // 'none') . ')');
isnt(table_oid($node, 'child'), $oid, 'another try: the table was rebuilt');
is(table_md5($node, 'child'), $md5, 'another try: same rows');
nothing_left($node, 'another try: nothing left');
is($node->safe_psql('postgres', q{SELECT convalidated FROM pg_constraint WHERE conname = 'child_pid_fkey'}),
	't', 'another try: the foreign key is validated');

# ------------------------------------------------------------------------
# Both tries fail: exit 3, the table is rebuilt, the --cleanup command.
# ------------------------------------------------------------------------
bloat_table($node, 'child', delete => 0.2);
$md5 = table_md5($node, 'child');
$oid = table_oid($node, 'child');
$locker->query_safe('BEGIN; LOCK TABLE parent IN ACCESS SHARE MODE');
($rc, $out, $err) = run_rebuild($node, '-t', 'child', '-T', '1');
is($rc, 3, 'both tries fail: exit 3');
like($err, qr/^pg_rebuild: error: "public"\."child" is rebuilt, but some objects of this run could not be removed$/m,
	'both tries fail: the error says the table is rebuilt');
like($err, qr/^pg_rebuild: error: could not remove a leftover object: canceling statement due to lock timeout$/m,
	'both tries fail: the last try names why');
like($err, qr/^pg_rebuild: hint: Run: pg_rebuild --cleanup .* -t '"public"\."child"'$/m,
	'both tries fail: the --cleanup command to run');
unlike($out, qr/^rebuilt "public"/m, 'both tries fail: no summary of a success');
isnt(table_oid($node, 'child'), $oid, 'both tries fail: the table is the rebuilt one');
is(table_md5($node, 'child'), $md5, 'both tries fail: same rows');
$locker->query_safe('COMMIT');
$locker->quit;

# --cleanup --dry-run: lists what it would remove, removes nothing, and
# exits 3 as --status does when a dead run's objects remain.
my @left = run_leftovers($node);
($rc, $out, $err) = run_rebuild($node, '--cleanup', '--dry-run');
is($rc, 3, '--cleanup --dry-run: exit 3, leftovers remain');
like($out, qr/^run \d+ on "public"\."child" \(role [^)]+\) is dead \(phase swapped, started .*\); would remove:\n(?:  .*\n)*  old public\.pgrebuild_old_$oid$/m,
	'--cleanup --dry-run: lists the old table');
like($out, qr/^dry run: nothing was removed; 1 dead run to clean up \(run again without --dry-run\)$/m,
	'--cleanup --dry-run: says nothing was removed');
is_deeply([ run_leftovers($node) ], \@left, '--cleanup --dry-run: nothing was removed indeed');

($rc, $out, $err) = run_rebuild($node, '--cleanup');
is($rc, 0, 'both tries fail: --cleanup removes the rest');
like($out, qr/removed old table "public"\."pgrebuild_old_$oid"/, 'both tries fail: --cleanup drops the old table');
nothing_left($node, 'both tries fail: nothing left after --cleanup');
($rc, $out, $err) = run_rebuild($node, '--cleanup', '--dry-run');
is($rc, 0, '--cleanup --dry-run with nothing to clean up: exit 0');
like($out, qr/^nothing to clean up: no pg_rebuild run is recorded$/m, '--cleanup --dry-run: says so');

done_testing();
