# 019_order.pl: the order the rows are stored in: --order-by takes an ORDER BY
# list as PostgreSQL does (expressions, COLLATE, USING, NULLS FIRST/LAST),
# checked by the server before anything is created, and nothing but one
# ORDER BY list gets through; by default the order of the index marked for
# CLUSTER, as CLUSTER does; --no-order; an ordered copy with -j 2 says it runs
# on one connection; and no write of the application is lost or doubled.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('order', log_statement => 'none');
$node->safe_psql(
	'postgres', q{
	CREATE TABLE o (id int PRIMARY KEY, name text, k int, tag varchar(20) NOT NULL);
	INSERT INTO o
		SELECT g,
			   CASE WHEN g % 50 = 0 THEN NULL
					WHEN g % 3 = 0 THEN 'Name ' || (g * 7919) % 1000 ELSE 'name ' || (g * 104729) % 1000 END,
			   CASE WHEN g % 97 = 0 THEN NULL ELSE (g * 31) % 500 END,
			   'tag' || (g * 13) % 100
		FROM generate_series(1, 20000) g;
	CREATE FUNCTION public.rev(text) RETURNS text IMMUTABLE LANGUAGE sql AS 'SELECT pg_catalog.reverse($1)';
});
bloat_table($node, 'o', delete => 0.3);
my $md5 = table_md5($node, 'o');

# The values of $expr, in the order the rows are stored (ctid), are those
# of ORDER BY $order.  Only $expr is compared, so rows that tie on the order
# may come either way.
sub stored_in_order
{
	my ($table, $expr, $order) = @_;
	return $node->safe_psql(
		'postgres', qq{
		SELECT (SELECT array_agg($expr ORDER BY ctid) FROM $table)
			 IS NOT DISTINCT FROM (SELECT array_agg($expr ORDER BY $order) FROM $table)});
}

sub ctid_sequence
{
	my ($table) = @_;
	return $node->safe_psql('postgres', "SELECT md5(array_agg(id ORDER BY ctid)::text) FROM $table");
}

# ------------------------------------------------------------------------
# ORDER BY lists as PostgreSQL writes them.
# ------------------------------------------------------------------------
for my $case (
	[ 'an expression, COLLATE and NULLS FIRST', 'lower(name) COLLATE "C" DESC NULLS FIRST, id', 'id' ],
	[ 'USING an operator', 'k USING > NULLS LAST, id', 'id' ],
	[ 'a schema-qualified function of the user', 'public.rev(name), k DESC, id', 'id' ],
	[ 'a scalar subquery', '(SELECT 1), tag DESC, id', 'id' ])
{
	my ($name, $list, $tiebreak) = @$case;
	is(stored_in_order('o', 'id', $list), 'f', "$name: the rows are not in that order before");
	my ($rc, $out, $err) = run_rebuild($node, '-t', 'o', '-o', $list);
	is($rc, 0, "$name: exit 0");
	like($out, qr/^  rows: stored in the order of \Q$list\E \(--order-by\)$/m, "$name: the intro says the order");
	like($out, qr/^phase copy .* rows, in order, in one statement$/m, "$name: the copy was one ordered statement");
	is(stored_in_order('o', 'id', $list), 't', "$name: the rows are stored in that order (ctid order)");
	is(table_md5($node, 'o'), $md5, "$name: same rows");
	nothing_left($node, "$name: nothing left");
}

# ------------------------------------------------------------------------
# The server checks the list before anything is created, and nothing but
# one ORDER BY list gets through: not a LIMIT that would copy part of the
# rows, not a second statement, not a comment or a quote that would hide
# what follows, not a parenthesis that closes the check's own.
# ------------------------------------------------------------------------
my $catalog_sql = q{SELECT (SELECT count(*) FROM pg_class) || '/' || (SELECT count(*) FROM pg_proc)
	|| '/' || (SELECT count(*) FROM pg_trigger)};
my $catalog = $node->safe_psql('postgres', $catalog_sql);
my $oid = $node->safe_psql('postgres', q{SELECT 'o'::regclass::oid});
my $escape = 'id) AS x FROM public.o WHERE false UNION SELECT pg_catalog.array_agg(NULL::pg_catalog.int4 ORDER BY id';
for my $case (
	[ 'id LIMIT 10', qr/syntax error at or near "LIMIT"/ ],
	[ 'id OFFSET 10', qr/syntax error at or near "OFFSET"/ ],
	[ 'id FETCH FIRST 1 ROWS ONLY', qr/syntax error at or near "FETCH"/ ],
	[ 'id FOR UPDATE', qr/syntax error at or near "FOR"/ ],
	[ 'id ON CONFLICT DO NOTHING', qr/syntax error at or near "ON"/ ],
	[ 'id RETURNING *', qr/syntax error at or near "RETURNING"/ ],
	[ 'id; DROP TABLE o', qr/syntax error at or near ";"/ ],
	[ 'id --', qr/syntax error at end of input/ ],
	[ 'id /*', qr/unterminated \/\* comment/ ],
	[ q{id, 'x}, qr/unterminated quoted string/ ],
	[ $escape, qr/syntax error at or near "\)"/ ],
	[ 'row_number() OVER ()', qr/window function calls/ ],
	[ 'generate_series(1, 2)', qr/set-returning function/ ],
	[ 'count(*)', qr/aggregate function calls cannot be nested/ ],
	[ '99', qr/ORDER BY position 99 is not in select list/ ],
	[ 'nosuch', qr/column "nosuch" does not exist/ ],
	[ 'rev(name)', qr/function rev\(text\) does not exist/ ])
{
	my ($list, $why) = @$case;
	my ($rc, $out, $err) = run_rebuild($node, '-t', 'o', '-o', $list);
	is($rc, 1, "-o '$list': refused, exit 1");
	like($err, qr/error: --order-by "\Q$list\E" is not an ORDER BY list of "public"\."o" that the server accepts: .*$why/,
		"-o '$list': says why, in the server's words");
	like($err, qr/Nothing was changed/, "-o '$list': says nothing was changed");
	like($err, qr/hint: Write it as after ORDER BY in a SELECT on the table.*qualify your own functions/s,
		"-o '$list': says what is accepted");
	is($node->safe_psql('postgres', $catalog_sql), $catalog, "-o '$list': nothing was created");
	is($node->safe_psql('postgres', q{SELECT 'o'::regclass::oid}), $oid, "-o '$list': same table");
	is(table_md5($node, 'o'), $md5, "-o '$list': every row still there");
}
nothing_left($node, 'refused lists: nothing left');

# ------------------------------------------------------------------------
# By default, the order of the index marked for CLUSTER, as CLUSTER keeps
# it (here with a non-default operator class, DESC and NULLS LAST); the
# same as PostgreSQL's own CLUSTER on a copy of the table.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE INDEX o_tag ON o (tag text_pattern_ops DESC NULLS LAST, k);
	ALTER TABLE o CLUSTER ON o_tag;
	CREATE TABLE o_clustered AS SELECT * FROM o;
	CREATE INDEX o_clustered_tag ON o_clustered (tag text_pattern_ops DESC NULLS LAST, k);
	CLUSTER o_clustered USING o_clustered_tag;
});
bloat_table($node, 'o', delete => 0, update_passes => 1);
my $cluster_order = 'tag USING OPERATOR(pg_catalog.~>~) NULLS LAST, k';
is(stored_in_order('o', '(tag, k)', $cluster_order), 'f', 'CLUSTER index: the rows are not in its order before');
my ($rc, $out, $err) = run_rebuild($node, '-t', 'o');
is($rc, 0, 'CLUSTER index: exit 0');
like($out,
	qr/^  rows: stored in the order of the CLUSTER index o_tag \(\Q$cluster_order\E\), as CLUSTER would; --no-order keeps them as they come$/m,
	'CLUSTER index: the intro says the rows follow it');
is(stored_in_order('o', '(tag, k)', $cluster_order), 't', 'CLUSTER index: the rows are stored in its order');
is( $node->safe_psql('postgres', 'SELECT array_agg((tag, k) ORDER BY ctid)::text FROM o'),
	$node->safe_psql('postgres', 'SELECT array_agg((tag, k) ORDER BY ctid)::text FROM o_clustered'),
	'CLUSTER index: the same order as PostgreSQL\'s CLUSTER gives');
is($node->safe_psql('postgres', q{SELECT indisclustered FROM pg_index WHERE indexrelid = 'o_tag'::regclass}),
	't', 'CLUSTER index: still marked for CLUSTER');
is(table_md5($node, 'o'), $md5, 'CLUSTER index: same rows');

($rc, $out, $err) = run_rebuild($node, '-t', 'o', '--dry-run');
is($rc, 0, 'CLUSTER index, --dry-run: exit 0');
like($out, qr/ FROM ONLY "public"\."o" ORDER BY \Q$cluster_order\E;$/m, 'CLUSTER index, --dry-run: the copy has its order');
like($out, qr/^-- \[copy\] .*the rows are stored in the order of the CLUSTER index o_tag/m,
	'CLUSTER index, --dry-run: the plan says so');

# --no-order: the rows stay in the order they come in (the copy reads the
# heap in block order on one connection).
bloat_table($node, 'o', delete => 0, update_passes => 1);
my $sequence = ctid_sequence('o');
($rc, $out, $err) = run_rebuild($node, '-t', 'o', '--no-order');
is($rc, 0, '--no-order: exit 0');
like($out, qr/^  rows: stored as they come \(--no-order: the CLUSTER index o_tag is not followed\)$/m,
	'--no-order: the intro says so');
like($out, qr/^phase copy .* rows in \d+ chunks?$/m, '--no-order: copied in block ranges');
is(ctid_sequence('o'), $sequence, '--no-order: the rows are in the order they were');
is(table_md5($node, 'o'), $md5, '--no-order: same rows');

# -o with -j 2: one ordered statement on one connection, and said so.
($rc, $out, $err) = run_rebuild($node, '-t', 'o', '-o', 'k, id', '-j', '2');
is($rc, 0, '-o with -j 2: exit 0');
like($out, qr/^  copy: one ordered statement on one connection .*; --jobs 2 applies to the index builds$/m,
	'-o with -j 2: the intro says the copy runs on one connection');
like($out, qr/^phase copy .* rows, in order, in one statement$/m, '-o with -j 2: one statement');
is(stored_in_order('o', 'id', 'k, id'), 't', '-o with -j 2: the rows are in order');
($rc, $out, $err) = run_rebuild($node, '-t', 'o', '-o', 'k, id', '-j', '2', '--dry-run');
like($out, qr/^-- \[copy\] lock: ACCESS SHARE on the table; one statement on one connection, one snapshot for the whole copy: .*--jobs applies to the index builds\)$/m,
	'-o with -j 2, --dry-run: the plan says the copy runs on one connection');

# A gist index marked for CLUSTER has no ORDER BY: as they come, and said.
$node->safe_psql(
	'postgres', q{
	CREATE TABLE g (id int PRIMARY KEY, p point);
	INSERT INTO g SELECT i, point(i % 100, i / 100) FROM generate_series(1, 2000) i;
	CREATE INDEX g_p ON g USING gist (p);
	CLUSTER g USING g_p;
});
($rc, $out, $err) = run_rebuild($node, '-t', 'g');
is($rc, 0, 'gist CLUSTER index: exit 0');
like($out, qr/^  rows: stored as they come: the CLUSTER index g_p is a gist index, whose order no ORDER BY list can express; give one with --order-by$/m,
	'gist CLUSTER index: the intro says why the rows are not ordered');
is($node->safe_psql('postgres', q{SELECT indisclustered FROM pg_index WHERE indexrelid = 'g_p'::regclass}),
	't', 'gist CLUSTER index: still marked');
nothing_left($node, 'ordered runs: nothing left');

# ------------------------------------------------------------------------
# Under the ledger load: the ordered copy (one statement) loses and doubles
# nothing written meanwhile, by the CLUSTER index and by --order-by.
# ------------------------------------------------------------------------
create_ledger_tables($node, table => 'acc', rows => 40000);
$node->safe_psql('postgres', 'CREATE INDEX acc_val ON acc (val DESC, id); ALTER TABLE acc CLUSTER ON acc_val');
bloat_table($node, 'acc', delete => 0.3);
for my $args ([], [ '-o', 'val % 7, id DESC' ])
{
	my $name = @$args ? '--order-by' : 'the CLUSTER index';
	my $load = start_ledger_load($node, table => 'acc', clients => 4, rate => 300);
	($rc, $out, $err) = run_rebuild($node, '-t', 'acc', @$args);
	stop_ledger_load($load);
	is($rc, 0, "under load, $name: exit 0");
	check_ledger($node, $load, "under load, $name: no change lost or invented");
	is($node->safe_psql('postgres', 'SELECT count(*) = count(DISTINCT id) FROM acc'), 't',
		"under load, $name: no key twice");
}
nothing_left($node, 'under load: nothing left');

done_testing();
