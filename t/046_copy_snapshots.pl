# 046_copy_snapshots.pl: the copy holds no snapshot from chunk to chunk (VACUUM of another table removes
# rows deleted after the copy started), and the reconcile makes a shadow that holds two versions of one key
# consistent before any unique index is built.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('copy_snapshots', log_statement => 'none');
if (my $why = need_version($node, 140000, 'TID range scans (the copy is one statement)'))
{
	plan skip_all => $why;
}

# Rows of about 250 bytes: some 30 to a page, so a chunk of a few blocks holds a hundred rows or so.
$node->safe_psql(
	'postgres', q{
	CREATE TABLE big (id bigint PRIMARY KEY, code int NOT NULL UNIQUE, pad text NOT NULL);
	INSERT INTO big SELECT g, g, repeat('p', 230) FROM generate_series(1, 20000) g;
	CREATE TABLE other (id int PRIMARY KEY, pad text);
	INSERT INTO other SELECT g, repeat('o', 100) FROM generate_series(1, 2000) g;
	VACUUM ANALYZE big, other;
});
my $blocks = $node->safe_psql('postgres', q{SELECT pg_relation_size('big') / 8192});
cmp_ok($blocks, '>', 400, "the table has many blocks ($blocks)");

# How many dead rows one VACUUM of "other" removed, from its VERBOSE report (PostgreSQL 15 and later:
# "tuples: N removed"; 14: "found N removable").
sub vacuum_other
{
	my ($rc, $out, $err) = $node->psql('postgres', 'VACUUM (VERBOSE) other');
	is($rc, 0, 'VACUUM of the other table ran') or diag($err);
	my ($removed) = $err =~ /tuples: (\d+) removed/;
	($removed) = $err =~ /found (\d+) removable/ unless defined $removed;
	my ($kept) = $err =~ /(\d+) are dead but not yet removable/;
	($kept) = $err =~ /(\d+) dead row versions cannot be removed yet/ unless defined $kept;
	return ($removed // -1, $kept // -1);
}

# ------------------------------------------------------------------------
# 1. The measure can fail: a snapshot held by a transaction keeps VACUUM
#    from removing the rows deleted after it.
# ------------------------------------------------------------------------
my $old = $node->background_psql('postgres');
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$old->query_safe('SELECT count(*) FROM other');
$node->safe_psql('postgres', 'DELETE FROM other WHERE id <= 500');
my ($removed, $kept) = vacuum_other();
is($removed, 0, 'control: with a snapshot held, VACUUM removes none of the deleted rows');
is($kept, 500, 'control: it reports them dead but not yet removable');
$old->query_safe('COMMIT');
$old->quit;
($removed, $kept) = vacuum_other();
is($removed, 500, 'control: once the snapshot is gone, VACUUM removes them');

# ------------------------------------------------------------------------
# 2. During the copy, between two chunks: no connection of pg_rebuild holds
#    a snapshot or a transaction id, and VACUUM removes rows deleted after
#    the copy started.
# ------------------------------------------------------------------------
my $md5_before = table_md5($node, 'big');
my ($env, $files) = wait_env($node, 'COPY_CHUNK');
my $h = start_rebuild($node, { env => { %$env, PGR_TEST_COPY_CHUNK_BLOCKS => 16 } }, '-t', 'big');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at COPY_CHUNK$/m), 'the run is between two chunks of its copy');
is($node->safe_psql('postgres', q{SELECT phase FROM "} . state_schema($node) . q{".runs}),
	'copy', 'the run is in its copy');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_rebuild'}),
	'>=', 2, 'pg_rebuild has its connections open (main, holder, worker)');
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'pg_rebuild' AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)}),
	0,
	'no connection of pg_rebuild holds a snapshot or a transaction id between chunks');
$node->safe_psql('postgres', 'DELETE FROM other WHERE id > 1500');
($removed, $kept) = vacuum_other();
is($removed, 500, 'during the copy, VACUUM of another table removes the rows deleted after the copy started');
is($kept, 0, 'and leaves none dead behind');
release_wait($files->{COPY_CHUNK});
my ($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'the run finishes');
my ($chunks) = $out =~ /^phase copy .* rows in (\d+) chunks$/m;
cmp_ok($chunks // 0, '>', 20, 'the copy ran in many chunks');
like($out, qr/^phase reconcile .* 0 changes applied; the shadow is the table at one snapshot$/m,
	'without writes, the reconcile applies nothing');
is(table_md5($node, 'big'), $md5_before, 'the table holds the same rows');

# ------------------------------------------------------------------------
# 3. Writes between chunks leave the shadow with two versions of one key
#    and one unique value twice; the reconcile removes them before the
#    unique indexes are built, and the table is exact.
# ------------------------------------------------------------------------
my $oid = table_oid($node, 'big');
($env, $files) = wait_env($node, 'COPY_CHUNK', 'RECONCILE');
$h = start_rebuild($node, { env => { %$env, PGR_TEST_COPY_CHUNK_BLOCKS => 16 } }, '-t', 'big');
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at COPY_CHUNK$/m), 'held after the first chunk');
my ($first, $late) = split /\|/, $node->safe_psql(
	'postgres', q{
	SELECT min(id) FILTER (WHERE ctid < '(16,0)'), max(id) FILTER (WHERE ctid >= '(200,0)') FROM big});
# The pages are full (no room for a row of the same size): a new version goes to the end of the table, into
# a chunk not copied yet, or (once pruning made room) to a page copied already.
$node->safe_psql(
	'postgres', qq{
	UPDATE big SET pad = repeat('m', 230) WHERE id = $first;
	BEGIN;
	UPDATE big SET code = -code WHERE id = $first + 1;
	UPDATE big SET code = $first + 1 WHERE id = $late;
	COMMIT;
	UPDATE big SET id = -id WHERE id = $first + 2;
	DELETE FROM big WHERE id = $first + 3;
	INSERT INTO big VALUES (1000000, 1000000, 'new');
});
release_wait($files->{COPY_CHUNK});
ok(wait_for_output($h, qr/^pg_rebuild: test: pausing at RECONCILE$/m), 'held after the copy, before the reconcile');
my $shadow = qq{"public"."pgrebuild_new_$oid"};
my ($dup_ids, $dup_codes) = split /\|/, $node->safe_psql('postgres',
	qq{SELECT count(*) - count(DISTINCT id), count(*) - count(DISTINCT code) FROM $shadow});
ok($dup_ids >= 1 && $dup_codes >= 1,
	"after the copy the shadow holds a key twice ($dup_ids) and a unique value twice ($dup_codes)")
  or diag($node->safe_psql('postgres', qq{SELECT ctid, id, code, left(pad, 3) FROM $shadow
	WHERE id IN (SELECT id FROM $shadow GROUP BY 1 HAVING count(*) > 1)
	   OR code IN (SELECT code FROM $shadow GROUP BY 1 HAVING count(*) > 1)
	   OR abs(id) BETWEEN $first AND $first + 3 OR id = $late}));
is($node->safe_psql('postgres', qq{SELECT count(*) FROM $shadow WHERE id IN ($first + 2, $first + 3)}),
	2, 'and rows updated away or deleted after they were copied');
is( $node->safe_psql(
		'postgres', qq{SELECT count(*) FROM pg_index WHERE indrelid = '$shadow'::regclass AND indisunique}),
	0, 'no unique index is on the shadow yet');
my $md5_source = table_md5($node, 'big');
release_wait($files->{RECONCILE});
($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'the run finishes');
like($out, qr/^phase reconcile .* [1-9]\d* changes applied; the shadow is the table at one snapshot$/m,
	'the reconcile applied the logged changes');
my @phases = $out =~ /^phase (\S+) /mg;
is_deeply(\@phases, [qw(preflight install copy reconcile index replay swap finish)],
	'the reconcile comes after the copy and before the index builds');
is(table_md5($node, 'big'), $md5_source, 'the rebuilt table holds exactly the rows of the table');
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM pg_index WHERE indrelid = 'big'::regclass AND indisunique AND indisvalid}),
	2, 'both unique indexes are on the rebuilt table, valid');
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM pg_class WHERE relname ~ '^pgrebuild_k'}),
	0, 'the reconcile index is gone');

done_testing();
