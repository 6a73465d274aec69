# 026_intro.pl: what pg_rebuild says up front and while it works: how many
# rows (a table never analyzed too), how much space the rebuild should give
# back and how that was estimated (compared with what it gave back, on a
# bloated and on a compact table), progress figures with thousands
# separators, and --verbose without the skip notices of its own IF EXISTS
# statements but with every other notice.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('intro', log_statement => 'none');

# The estimate's exact figures (printed with --verbose).
sub estimate_of
{
	my ($out) = @_;
	my @v = $out =~ /^estimate: heap (\d+) -> (\d+) bytes, indexes (\d+) -> (\d+) bytes/m;
	return @v;
}

# The heap and the indexes (main forks), as the estimate counts them.
sub sizes
{
	my ($table) = @_;
	return split /\|/, $node->safe_psql('postgres',
		qq{SELECT pg_relation_size('$table'),
				  (SELECT coalesce(sum(pg_relation_size(indexrelid)), 0) FROM pg_index WHERE indrelid = '$table'::regclass)});
}

# |estimated - real| as a fraction of real.
sub error_of
{
	my ($estimated, $real) = @_;
	return abs($estimated - $real) / ($real > 0 ? $real : 1);
}

# ------------------------------------------------------------------------
# The space to give back, estimated up front, against what the rebuild gave
# back.  Tolerances (docs/architecture.md, "Estimating the space a rebuild
# gives back"): the heap within 10% (the padding of variable-width rows is
# taken as 4 bytes on average, up to 7, on rows of about 70 bytes; pg_stats'
# widths come from a sample), the indexes within 15% (exact for the
# primary key's fixed-width entries; the deduplicated index is modelled
# from n_distinct, to a few pages).
# ------------------------------------------------------------------------
for my $case ([ 'bloated', 60000, 0.7 ], [ 'compact', 30000, 0 ])
{
	my ($name, $rows, $delete) = @$case;
	my $t = "space_$name";
	$node->safe_psql(
		'postgres', qq{
		CREATE TABLE $t (id bigint PRIMARY KEY, grp int NOT NULL, note text, created timestamptz NOT NULL DEFAULT now());
		CREATE INDEX ${t}_grp ON $t (grp);
		INSERT INTO $t (id, grp, note)
			SELECT g, g % 50, CASE WHEN g % 10 = 0 THEN NULL ELSE md5(g::text) END FROM generate_series(1, $rows) g;
	});
	bloat_table($node, $t, delete => $delete) if $delete > 0;
	$node->safe_psql('postgres', "VACUUM ANALYZE $t");
	my ($heap0, $idx0) = sizes($t);
	my ($rc, $out, $err) = run_rebuild($node, '-v', '-t', $t);
	is($rc, 0, "$name: rebuilt");
	my ($e_heap0, $e_heap1, $e_idx0, $e_idx1) = estimate_of($out);
	ok(defined $e_idx1, "$name: the estimate's figures are printed with --verbose");
	next unless defined $e_idx1;
	is($e_heap0 + $e_idx0, $heap0 + $idx0, "$name: the estimate starts from the sizes of now");
	my ($heap1, $idx1) = sizes($t);
	my ($real, $est) = ($heap0 + $idx0 - $heap1 - $idx1, $e_heap0 + $e_idx0 - $e_heap1 - $e_idx1);
	note("$name: heap $heap0 -> $heap1 (estimated $e_heap1), indexes $idx0 -> $idx1 (estimated $e_idx1); "
		  . "gave back $real, estimated $est");
	cmp_ok(error_of($e_heap1, $heap1), '<=', 0.10, "$name: the rebuilt heap's size within 10% of the estimate");
	cmp_ok(error_of($e_idx1, $idx1), '<=', 0.15, "$name: the rebuilt indexes' size within 15% of the estimate");
	cmp_ok(abs($est - $real), '<=', 0.10 * ($heap0 + $idx0),
		"$name: the space given back within 10% of the table's size of the estimate");
	like($out, qr/^  space: expected to give back (?:little: )?about \S+ \S+ of \S+ \S+.*; heap \S+ \S+ -> \S+ \S+, indexes \S+ \S+ -> \S+ \S+; estimated from [\d,]+ live rows \(pg_stat_all_tables\) of about \d+ bytes \(pg_stats\), fillfactor 100$/m,
		"$name: the intro says how much and how it was estimated");
	if ($delete > 0)
	{
		unlike($out, qr/^  space: expected to give back little/m, "$name: not little");
		cmp_ok($real, '>', ($heap0 + $idx0) / 2, "$name: it did give back more than half");
	}
	else
	{
		like($out, qr/^  space: expected to give back little: /m, "$name: little, and said so");
		cmp_ok($real, '<', ($heap0 + $idx0) / 10, "$name: it did give back little");
	}
}

# ------------------------------------------------------------------------
# Never analyzed: the rows are counted from the statistics of writes (or
# estimated from the size when there are none), and there is no estimate
# of the space, with the reason.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE fresh (id int PRIMARY KEY, doc text);
	INSERT INTO fresh SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
});
my ($rc, $out, $err) = run_rebuild($node, '-t', 'fresh', '--dry-run');
is($rc, 0, 'never analyzed: the plan is printed');
like($out, qr/^-- space: no estimate of the space the rebuild gives back: column doc has no statistics \(the table was never analyzed, or the column was added since\): ANALYZE the table for an estimate$/m,
	'never analyzed: no estimate of the space, and why');
($rc, $out, $err) = run_rebuild($node, '-t', 'fresh');
is($rc, 0, 'never analyzed: rebuilt');
like($out, qr/^rebuilding table "public"\."fresh" in database postgres: about 5,000 rows, /m,
	'never analyzed: the rows counted from the statistics of writes');
$node->safe_psql('postgres', 'DROP TABLE fresh');
$node->safe_psql(
	'postgres', q{
	CREATE TABLE fresh (id int PRIMARY KEY, doc text);
	INSERT INTO fresh SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
});
$node->safe_psql('postgres', 'SELECT pg_stat_reset()');
($rc, $out, $err) = run_rebuild($node, '-t', 'fresh');
is($rc, 0, 'no statistics at all: rebuilt');
my ($guess) = $out =~ /^rebuilding table "public"\."fresh" in database postgres: about ([\d,]+) rows \(estimated from its size: never vacuumed or analyzed\), /m;
ok(defined $guess, 'no statistics at all: the rows estimated from the size, and said so');
$guess =~ s/,//g if defined $guess;
cmp_ok($guess // 0, '>=', 2500, "no statistics at all: $guess rows is of the right size (5,000)");
cmp_ok($guess // 0, '<=', 10000, 'no statistics at all: not more than twice the truth');

# ------------------------------------------------------------------------
# --verbose: the server's notices, but not the skip notices of the tool's
# own IF EXISTS statements.  An event trigger raises a notice on every DDL
# statement, the DROP TABLE IF EXISTS of the shadow (which does not exist)
# included: that one is shown, its "does not exist, skipping" is not.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION ddl_notice() RETURNS event_trigger LANGUAGE plpgsql AS
		$$BEGIN RAISE NOTICE 'ddl seen: %', tg_tag; END$$;
	CREATE EVENT TRIGGER ddl_notice ON ddl_command_start EXECUTE FUNCTION ddl_notice();
});
($rc, $out, $err) = run_rebuild($node, '-v', '-t', 'space_compact');
is($rc, 0, '--verbose: rebuilt');
like($out, qr/^server: NOTICE:  ddl seen: DROP TABLE$/m, '--verbose: the notice raised on the shadow\'s DROP is shown');
like($out, qr/^server: NOTICE:  ddl seen: CREATE TABLE$/m, '--verbose: and the others');
unlike("$out$err", qr/does not exist, skipping/, '--verbose: no skip notice of the tool\'s own IF EXISTS');
$node->safe_psql('postgres', 'DROP EVENT TRIGGER ddl_notice');

# ------------------------------------------------------------------------
# The progress line on a terminal: rates with thousands separators.
# ------------------------------------------------------------------------
{
	my $pty = '';
	my @cmd = ($ENV{PG_REBUILD}, '-d', $node->connstr('postgres'), '-t', 'space_bloated');
	local %ENV = (%ENV, PGR_TEST_COPY_CHUNK_BLOCKS => 4, PGR_TEST_SLEEP_COPY_CHUNK => 20);
	my $ok = IPC::Run::run(\@cmd, '<', \'', '>pty>', \$pty, IPC::Run::timeout(300));
	ok($ok, 'on a terminal: rebuilt');
	my @rates = $pty =~ /copy: +\d+%  [\d,]+ rows  ([\d,]+) rows\/s/g;
	cmp_ok(scalar(@rates), '>', 2, 'on a terminal: the copy shows its progress (' . scalar(@rates) . ' lines)');
	ok((grep { /^\d{1,3}(?:,\d{3})+$/ } @rates), 'on a terminal: rates of thousands have separators');
	is_deeply([ grep { !/^\d{1,3}(?:,\d{3})*$/ } @rates ], [], 'on a terminal: every rate is written so');
}
nothing_left($node, 'nothing left');

done_testing();
