# 015_names.pl: names with quotes, spaces, upper case and non-ASCII letters; names that look like SQL.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;

my $node = new_node('names', log_statement => 'none');

# This file is UTF-8 and read as bytes (no "use utf8"): names, SQL,
# arguments and output are all UTF-8 byte strings, compared as such.
sub sql { return $node->safe_psql('postgres', $_[0]); }
sub rebuild { return run_rebuild($node, @_); }

# The table as SQL text: "Sales ""EU"""."Ordres Été".
my $qt = q{"Sales ""EU"""."Ordres Été"};

sub md5_of { return sql(qq{SELECT md5(string_agg(t::text, E'\\n' ORDER BY "Id")) FROM $qt t}) }
sub oid_of { return sql(qq{SELECT '$qt'::regclass::oid}) }
sub notnull
{
	my ($col) = @_;
	(my $lit = $col) =~ s/'/''/g;
	return sql(qq{SELECT attnotnull FROM pg_attribute WHERE attrelid = '$qt'::regclass AND attname = '$lit'});
}

sql(
	qq{
	CREATE SCHEMA "Sales ""EU""";
	CREATE TABLE $qt (
		"Id" int PRIMARY KEY,
		"Prix €" numeric(10,2) NOT NULL,
		"note ""x""" text,
		"Größe" int DEFAULT 42,
		"select" text DEFAULT 'from');
	CREATE INDEX "Index Prix €" ON $qt ("Prix €");
	CREATE INDEX "lower(note ""x"")" ON $qt (lower("note ""x"""));
	COMMENT ON TABLE $qt IS 'Commandes d''Été';
	COMMENT ON COLUMN $qt."Prix €" IS 'en €';
	INSERT INTO $qt SELECT g, (g * 37 % 1000) / 10.0, 'n°' || g, g % 7, 'where' FROM generate_series(1, 20000) g;
	DELETE FROM $qt WHERE "Id" % 3 <> 0;
	VACUUM $qt;
});
my $indexdefs_sql = qq{SELECT string_agg(pg_get_indexdef(indexrelid), E'\\n' ORDER BY indexrelid::regclass::text)
	FROM pg_index WHERE indrelid = '$qt'::regclass};
my $indexdefs = sql($indexdefs_sql);

# ------------------------------------------------------------------------
# -t in quoted form.
# ------------------------------------------------------------------------
my $md5 = md5_of();
my $oid = oid_of();
my ($rc, $out, $err) = rebuild('-t', $qt);
is($rc, 0, 'quoted schema and table: exit 0');
is($err, '', 'quoted schema and table: nothing on stderr');
like($out, qr/^rebuilt "Sales ""EU"""\."Ordres Été": /m,
	'the summary names the table quoted, as SQL would');
is(md5_of(), $md5, 'quoted names: same rows');
isnt(oid_of(), $oid, 'quoted names: a new table');
is(sql($indexdefs_sql), $indexdefs, 'quoted names: same index names and definitions');
is(sql(qq{SELECT obj_description('$qt'::regclass, 'pg_class') || ' / ' || col_description('$qt'::regclass, 2)}),
	q{Commandes d'Été / en €}, 'quoted names: comments kept');
is_deeply([ run_leftovers($node) ], [], 'quoted names: nothing left behind');

# ------------------------------------------------------------------------
# --set-not-null on a quoted column, --order-by on a quoted column, -j 2.
# ------------------------------------------------------------------------
is(notnull('note "x"'), 'f', 'note "x" allows NULL before');
($rc, $out, $err) = rebuild('-t', $qt, '--set-not-null', '"note ""x"""',
	'--set-not-null', 'Größe');
isnt($rc, 0, 'an unquoted column name is folded: Größe is not "Größe"');
like($err, qr/column "größe" of table "Sales ""EU"""\."Ordres Été" does not exist/,
	'the folded name is the one reported');

($rc, $out, $err) = rebuild('-t', $qt, '--set-not-null', '"note ""x"""',
	'--set-not-null', '"Größe"', '--order-by', '"Prix €" DESC, "Id"', '-j', '2');
is($rc, 0, 'quoted --set-not-null and --order-by: exit 0');
like($out, qr/^  changes: NOT NULL on "note ""x"""; NOT NULL on "Größe"\n  rows: stored in the order of "Prix €" DESC, "Id" \(--order-by\)$/m,
	'the intro names the changes with quoted names');
is(notnull('note "x"'), 't', 'note "x" is NOT NULL now');
is(notnull('Größe'), 't', 'Größe is NOT NULL now');
is(notnull('select'), 'f', 'select still allows NULL');
is(md5_of(), $md5, 'quoted changes: same rows');
is( sql(qq{SELECT (SELECT array_agg("Id" ORDER BY ctid) FROM $qt) = (SELECT array_agg("Id" ORDER BY "Prix €" DESC, "Id") FROM $qt)}),
	't', 'rows are stored in the order of "Prix €" DESC, "Id"');
is_deeply([ run_leftovers($node) ], [], 'quoted changes: nothing left behind');

# ------------------------------------------------------------------------
# Writes during the run go through the capture trigger and the reconcile with
# the quoted names: insert, update, key update, delete.
# ------------------------------------------------------------------------
my $h = start_rebuild($node,
	{ env => { PGR_TEST_COPY_CHUNK_BLOCKS => 10, hold_env('COPY_CHUNK') } }, '-t', $qt);
ok(hold_run($h, 'COPY_CHUNK'), 'concurrent writes: the run is held after its first copy chunk');
sql(
	qq{
	BEGIN;
	INSERT INTO $qt VALUES (-1, 1.5, 'nouveau', 1, 'x');
	UPDATE $qt SET "Prix €" = "Prix €" + 1, "select" = 'upd' WHERE "Id" = 3;
	UPDATE $qt SET "Id" = -6 WHERE "Id" = 6;
	DELETE FROM $qt WHERE "Id" = 9;
	COMMIT;
});
$md5 = md5_of();
($rc, $out, $err) = finish_rebuild($h);    # (lets it go on)
is($rc, 0, 'concurrent writes: exit 0');
# (writes made during the copy are applied by the reconcile, before the unique indexes)
like($out, qr/^phase reconcile .* [1-9][\d,]* changes applied; /m,
	'concurrent writes: the reconcile applied them');
is(md5_of(), $md5, 'concurrent writes: the rebuilt table holds them');

# ------------------------------------------------------------------------
# A key column named like the log's own id column, in a mixed-case table.
# ------------------------------------------------------------------------
sql(
	q{
	CREATE TABLE "LogLike" (log_id bigint PRIMARY KEY, "log_id_" text);
	INSERT INTO "LogLike" SELECT g, 'x' || g FROM generate_series(1, 3000) g;
});
my $h2 = start_rebuild($node,
	{ env => { PGR_TEST_COPY_CHUNK_BLOCKS => 4, hold_env('COPY_CHUNK') } }, '-t', '"LogLike"');
ok(hold_run($h2, 'COPY_CHUNK'), 'log_id key: the run is held after its first copy chunk');
sql(q{UPDATE "LogLike" SET log_id = -log_id WHERE log_id <= 10; DELETE FROM "LogLike" WHERE log_id = 20});
my $md5_ll = sql(q{SELECT md5(string_agg(t::text, ',' ORDER BY log_id)) FROM "LogLike" t});
($rc, $out, $err) = finish_rebuild($h2);
is($rc, 0, 'a key column named log_id: exit 0');
is(sql(q{SELECT md5(string_agg(t::text, ',' ORDER BY log_id)) FROM "LogLike" t}),
	$md5_ll, 'a key column named log_id: same rows, writes included');
($rc, $out, $err) = rebuild('-t', 'LogLike');
is($rc, 1, 'unquoted LogLike folds to loglike: exit 1');
like($err, qr/table "loglike" does not exist/, 'unquoted LogLike: the folded name is reported');

# ------------------------------------------------------------------------
# Names that look like SQL.
# ------------------------------------------------------------------------
sql(
	q{
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;
	CREATE TABLE "x""; DROP TABLE t; --" (id int PRIMARY KEY, "v'); DROP TABLE t; --" text);
	INSERT INTO "x""; DROP TABLE t; --" SELECT g, 'w' || g FROM generate_series(1, 1000) g;
});
my $md5_t = sql(q{SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM t});
my $classes = sql(q{SELECT count(*) FROM pg_class});

# Not a valid name: a usage error, before connecting.
for my $bad (q{x"; DROP TABLE t; --}, q{t; DROP TABLE t}, q{t' OR '1'='1}, q{public.t.x}, q{""}, q{"t})
{
	($rc, $out, $err) = rebuild('-t', $bad);
	is($rc, 2, "-t '$bad': exit 2");
	like($err, qr/^pg_rebuild: error: invalid table name /m, "-t '$bad': said to be an invalid name");
	like($err, qr/Try "pg_rebuild --help"/, "-t '$bad': points to --help");
}
($rc, $out, $err) = rebuild('-t', 't', '--set-not-null', q{v"; DROP TABLE t; --});
is($rc, 2, 'a column name that is not a name: exit 2');
($rc, $out, $err) = rebuild('-t', 't', '--order-by', q{v; DROP TABLE t});
is($rc, 1, 'an --order-by that is more than an ORDER BY list: refused by the server check, exit 1');
like($err, qr/--order-by "v; DROP TABLE t" is not an ORDER BY list of "public"\."t" that the server accepts: syntax error at or near ";"/,
	'an --order-by that is more than an ORDER BY list: said so');
is(sql(q{SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM t}), $md5_t, 'table t is untouched');
is(sql(q{SELECT count(*) FROM pg_class}), $classes, 'nothing was created or dropped');

# A valid quoted name that holds SQL: rebuilt as a name, nothing else runs.
my $evil = q{"x""; DROP TABLE t; --"};
my $md5_evil = sql(qq{SELECT md5(string_agg(e::text, ',' ORDER BY id)) FROM $evil e});
($rc, $out, $err) = rebuild('-t', $evil, '--set-not-null', q{"v'); DROP TABLE t; --"}, '-o', q{"v'); DROP TABLE t; --" DESC});
is($rc, 0, 'a table and a column whose names hold SQL: exit 0');
is(sql(qq{SELECT md5(string_agg(e::text, ',' ORDER BY id)) FROM $evil e}), $md5_evil,
	'the table whose name holds SQL is rebuilt with the same rows');
is(sql(q{SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM t}), $md5_t, 'table t is still there, untouched');
is_deeply([ run_leftovers($node) ], [], 'names that hold SQL: nothing left behind');

done_testing();
