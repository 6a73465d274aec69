# 010_rebuild.pl: a bloated table is rebuilt: same rows, definition and names, smaller heap, nothing left behind.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;

my $node = new_node('rebuild', log_statement => 'none');

# Everything about a table that a rebuild must keep, as text to compare.
sub definition
{
	my ($table) = @_;
	my %d;
	$d{columns} = $node->safe_psql(
		'postgres', qq{
		SELECT string_agg(format('%s %s collation=%s notnull=%s default=%s identity=%s generated=%s stats=%s storage=%s acl=%s comment=%s',
				a.attname, format_type(a.atttypid, a.atttypmod), a.attcollation::regcollation, a.attnotnull,
				pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated, a.attstattarget,
				a.attstorage, a.attacl, col_description(a.attrelid, a.attnum)), E'\n' ORDER BY a.attnum)
		FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
		WHERE a.attrelid = '$table'::regclass AND a.attnum > 0 AND NOT a.attisdropped});
	$d{indexes} = $node->safe_psql(
		'postgres', qq{
		SELECT string_agg(format('%s valid=%s primary=%s unique=%s clustered=%s: %s', c.relname, i.indisvalid,
				i.indisprimary, i.indisunique, i.indisclustered, pg_get_indexdef(i.indexrelid)), E'\n' ORDER BY c.relname)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = '$table'::regclass});
	$d{constraints} = $node->safe_psql(
		'postgres', qq{
		SELECT string_agg(format('%s %s validated=%s deferrable=%s index=%s: %s', conname, contype,
				convalidated, condeferrable, conindid::regclass, pg_get_constraintdef(oid)),
				E'\n' ORDER BY conname)
		FROM pg_constraint WHERE conrelid = '$table'::regclass});
	$d{table} = $node->safe_psql(
		'postgres', qq{
		SELECT format('%s.%s owner=%s kind=%s persistence=%s options=%s acl=%s replident=%s comment=%s',
				relnamespace::regnamespace, relname, relowner::regrole, relkind, relpersistence,
				reloptions, relacl, relreplident, obj_description(oid, 'pg_class'))
		FROM pg_class WHERE oid = '$table'::regclass});
	return \%d;
}

sub table_oid
{
	my ($table) = @_;
	return $node->safe_psql('postgres', "SELECT '$table'::regclass::oid");
}

# The ctid order of a table is the order of the given ORDER BY.
sub stored_in_order
{
	my ($table, $order_by) = @_;
	return $node->safe_psql(
		'postgres', qq{
		SELECT (SELECT array_agg(id ORDER BY ctid) FROM $table)
			 = (SELECT array_agg(id ORDER BY $order_by) FROM $table)});
}

# ------------------------------------------------------------------------
# A bloated table with the usual parts: serial key, defaults, CHECK (one
# NOT VALID), UNIQUE constraint, partial and expression indexes, comments,
# a dropped column.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE items (
		id serial PRIMARY KEY,
		code text NOT NULL,
		gone int,
		qty integer NOT NULL DEFAULT 0,
		note text DEFAULT 'none yet',
		price numeric(10,2),
		total numeric GENERATED ALWAYS AS (qty * price) STORED,
		label text COLLATE "C",
		CONSTRAINT qty_nonneg CHECK (qty >= 0),
		CONSTRAINT items_code_key UNIQUE (code)
	) WITH (fillfactor = 80);
	ALTER TABLE items ALTER COLUMN note SET STATISTICS 500;
	ALTER TABLE items ALTER COLUMN label SET STORAGE MAIN;
	CREATE ROLE item_reader;
	GRANT SELECT ON items TO item_reader;
	GRANT UPDATE (note) ON items TO item_reader;
	ALTER TABLE items DROP COLUMN gone;
	ALTER TABLE items ADD CONSTRAINT note_short CHECK (length(note) < 200) NOT VALID;
	CREATE INDEX items_note_partial ON items (note) WHERE qty > 50;
	CREATE INDEX items_lower_code ON items (lower(code));
	CREATE UNIQUE INDEX items_price_qty ON items (price, qty);
	ALTER TABLE items CLUSTER ON items_lower_code;
	COMMENT ON TABLE items IS 'stock items';
	COMMENT ON COLUMN items.code IS 'article code';
	COMMENT ON COLUMN items.note IS 'free text, may be ''quoted''';
	INSERT INTO items (code, qty, note, price, label)
		SELECT 'A-' || g, g % 100, CASE WHEN g % 3 = 0 THEN repeat('n', g % 50) END, g / 7.0, 'L' || g
		FROM generate_series(1, 40000) g;
	INSERT INTO items (code) VALUES ('defaulted');
});
my $bloated = bloat_table($node, 'items', delete => 0.75, update_passes => 1);

# A row with the largest id, deleted: the sequence is ahead of max(id).
my $last_id = $node->safe_psql('postgres',
	"INSERT INTO items (code) VALUES ('to be deleted') RETURNING id");
$node->safe_psql('postgres', "DELETE FROM items WHERE id = $last_id");

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
my $md5 = table_md5($node, 'items');
my $def = definition('items');
my $oid = table_oid('items');
cmp_ok($rows, '>', 5000, "the table has rows ($rows) after bloating");

my ($rc, $out, $err) = run_rebuild($node, '-t', 'items');
is($rc, 0, 'rebuild exits 0');
is($err, '', 'nothing on stderr');

# What the user sees: an intro, one line per phase in order, a summary.
like($out, qr/^rebuilding table "public"\."items" in database postgres: /m,
	'stdout starts with the table and the database');
my @phases = $out =~ /^phase (\S+) /mg;
is_deeply(\@phases,
	[qw(preflight install copy reconcile index replay swap finish)],
	'one line per phase, in order');
like($out, qr/^phase swap .*ACCESS EXCLUSIVE held \d+ ms, 1 attempt,/m,
	'the swap line says how long ACCESS EXCLUSIVE was held');
(my $rows_fmt = $rows) =~ s/(\d)(?=(\d{3})+$)/$1,/g;
like($out, qr/^phase copy .* \Q$rows_fmt\E rows, in order, in one statement$/m,
	'the copy line counts the rows copied');
like($out, qr/^  rows: stored in the order of the CLUSTER index items_lower_code \(lower\(code\) COLLATE pg_catalog."default"\), as CLUSTER would/m,
	'the rows follow the index marked for CLUSTER, and the intro says so');
like(
	$out,
	qr/^rebuilt "public"\."items": \Q$rows_fmt\E rows; heap \S+ \S+ -> \S+ \S+; total \S+ \S+ -> \S+ \S+; .*; ACCESS EXCLUSIVE held \d+ ms at the swap$/m,
	'the summary line gives rows, sizes and the lock time');

# The table: same rows, same definition, a new and smaller heap.
is(table_md5($node, 'items'), $md5, 'same rows, same values, same order of columns');
my $after = definition('items');
is($after->{columns}, $def->{columns},
	'same columns: types, collations, NOT NULL, defaults, generated, statistics, storage, privileges, comments');
is($after->{indexes}, $def->{indexes},
	'same indexes: names and definitions (partial, expression, unique), CLUSTER ON');
is($after->{constraints}, $def->{constraints},
	'same constraints: names, definitions, NOT VALID kept NOT VALID');
is($after->{table}, $def->{table},
	'same schema, name, owner, options, privileges and table comment');
isnt(table_oid('items'), $oid, 'the table is a new relation (new OID)');
my $heap = heap_size($node, 'items');
cmp_ok($heap, '<', $bloated / 2, "heap shrank: $bloated -> $heap bytes");
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM pg_index
		WHERE indrelid = 'items'::regclass AND (NOT indisvalid OR NOT indisready)}),
	0,
	'every index of the new table is valid and ready');

# The serial sequence goes on past every id ever handed out.
is($node->safe_psql('postgres', q{SELECT pg_get_serial_sequence('items', 'id')}),
	'public.items_id_seq', 'the serial column still owns its sequence');
my $new_id = $node->safe_psql('postgres',
	"INSERT INTO items (code) VALUES ('after') RETURNING id");
cmp_ok($new_id, '>', $last_id,
	"an insert without id gets $new_id, after the last id handed out ($last_id)");
is($node->safe_psql('postgres',
		"SELECT qty || '|' || note FROM items WHERE id = $new_id"),
	'0|none yet', 'the defaults apply on the rebuilt table');
my $some_code = $node->safe_psql('postgres', 'SELECT code FROM items LIMIT 1');
my ($dup_rc, $dup_out, $dup_err) = $node->psql('postgres',
	"INSERT INTO items (code) VALUES ('$some_code')");
like($dup_err, qr/duplicate key value violates unique constraint "items_code_key"/,
	'the unique constraint is enforced on the rebuilt table');
($dup_rc, $dup_out, $dup_err) = $node->psql('postgres',
	"INSERT INTO items (code, qty) VALUES ('negative', -1)");
like($dup_err, qr/violates check constraint "qty_nonneg"/,
	'the CHECK constraint is enforced on the rebuilt table');
is_deeply([ run_leftovers($node) ], [], 'no per-run object is left');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ' . runs_sql($node) . ' r'),
	0, 'no run is recorded any more');
is_deeply([ state_schemas($node) ], [ state_schema($node) ],
	'the runs of the role are kept in its own state schema, pgrebuild_<role OID>');

# ------------------------------------------------------------------------
# -q prints nothing; -e prints the SQL.
# ------------------------------------------------------------------------
$md5 = table_md5($node, 'items');
($rc, $out, $err) = run_rebuild($node, '-q', '-t', 'items');
is($rc, 0, '-q: exit 0');
is($out, '', '-q: nothing on stdout');
is($err, '', '-q: nothing on stderr');
is(table_md5($node, 'items'), $md5, '-q: same rows');

($rc, $out, $err) = run_rebuild($node, '-e', '-t', 'items');
is($rc, 0, '-e: exit 0');
like($out, qr/LOCK TABLE "public"\."items" IN ACCESS EXCLUSIVE MODE/,
	'-e: the SQL is printed, the swap lock included');
like($out, qr/^ALTER TABLE "public"\."pgrebuild_new_\d+" RENAME TO "items";$/m,
	'-e: the rename of the swap is printed');
like($out, qr/^rebuilt "public"\."items": /m, '-e: the summary is still printed');
is(table_md5($node, 'items'), $md5, '-e: same rows');

# ------------------------------------------------------------------------
# Identity columns: BY DEFAULT and ALWAYS; the sequence continues, with its
# name and options.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE ident (
		id bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 100 INCREMENT BY 5) PRIMARY KEY,
		v text NOT NULL);
	INSERT INTO ident (v) SELECT 'v' || g FROM generate_series(1, 5000) g;
	CREATE TABLE ident_always (
		id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		v text);
	INSERT INTO ident_always (v) SELECT 'w' || g FROM generate_series(1, 3000) g;
});
bloat_table($node, $_, delete => 0.5) for qw(ident ident_always);
my %last;
for my $t (qw(ident ident_always))
{
	$last{$t} =
	  $node->safe_psql('postgres', "INSERT INTO $t (v) VALUES ('x') RETURNING id");
	$node->safe_psql('postgres', "DELETE FROM $t WHERE id = $last{$t}");
}
my %seq_before = map {
	$_ => $node->safe_psql(
		'postgres', qq{
		SELECT format('%s %s start=%s increment=%s', s.schemaname, s.sequencename, s.start_value, s.increment_by)
		FROM pg_sequences s
		WHERE format('%I.%I', s.schemaname, s.sequencename) = pg_get_serial_sequence('$_', 'id')})
} qw(ident ident_always);
for my $t (qw(ident ident_always))
{
	my $md5_t = table_md5($node, $t);
	my $def_t = definition($t);
	my $oid_t = table_oid($t);
	($rc, $out, $err) = run_rebuild($node, '-t', $t);
	is($rc, 0, "$t: rebuild exits 0");
	isnt(table_oid($t), $oid_t, "$t: the table is a new relation");
	is(table_md5($node, $t), $md5_t, "$t: same rows");
	is(definition($t)->{columns}, $def_t->{columns},
		"$t: same columns, identity kind included");
	is( $node->safe_psql(
			'postgres', qq{
		SELECT format('%s %s start=%s increment=%s', s.schemaname, s.sequencename, s.start_value, s.increment_by)
		FROM pg_sequences s
		WHERE format('%I.%I', s.schemaname, s.sequencename) = pg_get_serial_sequence('$t', 'id')}),
		$seq_before{$t},
		"$t: the identity sequence keeps its name and options");
	my $id = $node->safe_psql('postgres',
		"INSERT INTO $t (v) VALUES ('after') RETURNING id");
	cmp_ok($id, '>', $last{$t},
		"$t: the next identity value ($id) follows the last one handed out ($last{$t})");
}
is($node->safe_psql('postgres', q{SELECT (SELECT max(id) FROM ident) % 5}),
	0, 'ident: INCREMENT BY 5 still applies');
($rc, $out, $err) =
  $node->psql('postgres', "INSERT INTO ident_always (id, v) VALUES (1, 'x')");
# (PostgreSQL 13 words it "cannot insert into column")
like($err, qr/cannot insert (?:a non-DEFAULT value )?into column "id"/,
	'ident_always: still GENERATED ALWAYS');
is_deeply([ run_leftovers($node) ], [], 'identity tables: nothing left behind');

# ------------------------------------------------------------------------
# --order-by stores the rows in that order.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE ordered (id int PRIMARY KEY, k int, payload text);
	INSERT INTO ordered
		SELECT g, CASE WHEN g % 97 = 0 THEN NULL ELSE (g * 7919) % 1000 END, md5(g::text)
		FROM generate_series(1, 20000) g;
});
bloat_table($node, 'ordered', delete => 0.3);
is(stored_in_order('ordered', 'k DESC NULLS LAST, id'),
	'f', '--order-by: the rows are not in that order before');
$md5 = table_md5($node, 'ordered');
($rc, $out, $err) =
  run_rebuild($node, '-t', 'ordered', '--order-by', 'k DESC NULLS LAST, id');
is($rc, 0, '--order-by: exit 0');
like($out, qr/^  rows: stored in the order of k DESC NULLS LAST, id \(--order-by\)$/m,
	'--order-by: the intro names the order');
is(stored_in_order('ordered', 'k DESC NULLS LAST, id'),
	't', '--order-by: the rows are stored in that order (ctid order)');
is(table_md5($node, 'ordered'), $md5, '--order-by: same rows');
($rc, $out, $err) = run_rebuild($node, '-t', 'ordered', '-o', 'payload');
is($rc, 0, '-o: exit 0');
is(stored_in_order('ordered', 'payload'), 't',
	'-o: a second rebuild stores them in another order');
is(table_md5($node, 'ordered'), $md5, '-o: same rows');

# ------------------------------------------------------------------------
# -j 2: several copy chunks on two connections, same contents.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE par (id bigint PRIMARY KEY, a int NOT NULL, b text, doc text);
	CREATE INDEX par_a ON par (a);
	CREATE INDEX par_b ON par (b);
	INSERT INTO par SELECT g, g % 1000, 'row ' || g FROM generate_series(1, 30000) g;
	-- some values large enough to live in the TOAST table
	UPDATE par SET doc = (SELECT string_agg(md5(id::text || x), '') FROM generate_series(1, 300) x)
	WHERE id % 500 = 0;
});
cmp_ok($node->safe_psql('postgres', q{SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'par'}),
	'>', 0, 'par has TOASTed values');
bloat_table($node, 'par', delete => 0.6);
$md5 = table_md5($node, 'par');
$def = definition('par');
($rc, $out, $err) = run_rebuild($node,
	{ env => { PGR_TEST_COPY_CHUNK_BLOCKS => 4 } },
	'-t', 'par', '-j', '2');
is($rc, 0, '-j 2: exit 0');
like($out, qr/jobs 2/, '-j 2: the intro says 2 jobs');
my ($chunks) = $out =~ /^phase copy .* rows in (\d+) chunks?$/m;
cmp_ok($chunks // 0, '>', 2, '-j 2: the copy ran in several chunks');
is(table_md5($node, 'par'), $md5, '-j 2: same rows');
is(definition('par')->{indexes}, $def->{indexes}, '-j 2: same indexes');
is( $node->safe_psql(
		'postgres', 'SELECT count(*) = count(DISTINCT id) FROM par'),
	't', '-j 2: no row copied twice');
is_deeply([ run_leftovers($node) ], [], '-j 2: nothing left behind');

done_testing();
