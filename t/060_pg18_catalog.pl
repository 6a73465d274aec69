# 060_pg18_catalog.pl: what PostgreSQL 18 adds to a table's definition goes
# through the rebuild and the swap: named NOT NULL constraints keep their
# names (NO INHERIT and NOT VALID too), a new NOT NULL is named as ALTER TABLE
# ... SET NOT NULL names it, virtual generated columns stay virtual and are
# neither copied nor replayed, NOT ENFORCED CHECK and foreign keys stay not
# enforced, temporal (WITHOUT OVERLAPS) keys and PERIOD foreign keys are
# carried over, and a table whose only key is temporal is refused by name.
# Each part is skipped, naming the version, on a server without the feature.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;

my $node = new_node('pg18_catalog');

my $no18 = need_version($node, 180000,
	'named NOT NULL constraints, virtual generated columns, NOT ENFORCED or temporal keys');
if ($no18)
{
	# The skip names the server's version and what it lacks.
	note("skipped: $no18");
	plan skip_all => $no18;
}

sub constraints
{
	my ($db, $table) = @_;
	return $node->safe_psql($db, qq{
		SELECT string_agg(conname || ' ' || contype::text || ' ' || pg_get_constraintdef(oid)
			|| ' valid=' || convalidated || ' enforced=' || conenforced, E'\n' ORDER BY conname)
		FROM pg_constraint WHERE conrelid = '$table'::regclass});
}

# ------------------------------------------------------------------------
# NOT NULL constraints: names, NO INHERIT, NOT VALID, and new ones named as
# ALTER TABLE would name them (in the same schema, as a reference database
# shows: a name already taken in the schema gets a number).
# ------------------------------------------------------------------------
my $nn_sql = q{
	SET client_min_messages = warning;
	CREATE SCHEMA app;
	CREATE TABLE app.taken (x int CONSTRAINT nn_e_not_null CHECK (x > 0));
	CREATE TABLE app.nn (
		id int PRIMARY KEY,
		a int CONSTRAINT a_named NOT NULL,
		b int NOT NULL,
		c int CONSTRAINT c_local NOT NULL NO INHERIT,
		d int,
		e int,
		f int,
		g int);
	ALTER TABLE app.nn ADD CONSTRAINT d_later NOT NULL d NOT VALID;
	COMMENT ON CONSTRAINT a_named ON app.nn IS 'named by hand';
};
$node->safe_psql('postgres', 'CREATE DATABASE reference');
$node->safe_psql($_, $nn_sql) for qw(postgres reference);
# d holds a NULL that the NOT VALID constraint lets stay (inserted before it)
$node->safe_psql('postgres', q{
	ALTER TABLE app.nn DROP CONSTRAINT d_later;
	INSERT INTO app.nn SELECT g, g, g, g, CASE WHEN g = 7 THEN NULL ELSE g END, g, g, g
		FROM generate_series(1, 2000) g;
	ALTER TABLE app.nn ADD CONSTRAINT d_later NOT NULL d NOT VALID;
	COMMENT ON CONSTRAINT a_named ON app.nn IS 'named by hand';
});
$node->safe_psql('reference', q{
	ALTER TABLE app.nn ALTER COLUMN e SET NOT NULL;
	ALTER TABLE app.nn ALTER COLUMN f SET NOT NULL;
	ALTER TABLE app.nn ADD CONSTRAINT g_given NOT NULL g;
});
my $reference = schema_description($node, ['app'], dbname => 'reference');
like(constraints('reference', 'app.nn'), qr/^nn_e_not_null1 n NOT NULL e /m,
	'reference: ALTER TABLE names a NOT NULL table_column_not_null, numbered when the schema has the name');

my ($rc, $out, $err) = run_rebuild($node, '-t', 'app.nn', '--method=rebuild', '--set-not-null', 'e');
is($rc, 0, 'NOT NULL constraints: --set-not-null e: exit 0') or diag($err);
($rc, $out, $err) = run_rebuild($node, '-t', 'app.nn', '--method=rebuild', '--alter',
	'ALTER COLUMN f SET NOT NULL, ADD CONSTRAINT g_given NOT NULL g');
is($rc, 0, 'NOT NULL constraints: --alter SET NOT NULL on f, ADD CONSTRAINT ... NOT NULL on g: exit 0')
  or diag($err);
is(constraints('postgres', 'app.nn'), constraints('reference', 'app.nn'),
	'NOT NULL constraints: names, NO INHERIT, NOT VALID, a given name, and the new ones as ALTER TABLE names them');
is(schema_description($node, ['app']), $reference,
	'NOT NULL constraints: the catalog description is what ALTER TABLE gives')
  or diag(join("\n", description_changes($reference, schema_description($node, ['app']))));
is($node->safe_psql('postgres', 'SELECT id FROM app.nn WHERE d IS NULL'), '7',
	'NOT NULL constraints: the row that a NOT VALID NOT NULL lets hold NULL is still there');

# ------------------------------------------------------------------------
# Virtual generated columns: not copied, not replayed, still virtual.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE TABLE app.vg (id int PRIMARY KEY, a int NOT NULL,
		v int GENERATED ALWAYS AS (a * 2),
		s int GENERATED ALWAYS AS (a * 3) STORED);
	INSERT INTO app.vg (id, a) SELECT g, g FROM generate_series(1, 1000) g;
});
my $vg_before = schema_description($node, ['app']);
($rc, $out, $err) = run_rebuild($node, '-t', 'app.vg', '--dry-run');
is($rc, 0, 'virtual generated column: --dry-run exit 0');
my @copies = grep { /^\s*INSERT INTO .*SELECT/ } split /\n/, $out;
ok(@copies > 0, 'virtual generated column: the plan has a copy statement');
ok(!(grep { /"v"|"s"/ } @copies),
	'virtual generated column: the copy (and replay) statements name neither generated column')
  or diag(join("\n", @copies));
like($out, qr/GENERATED ALWAYS AS \(\(?a \* 2\)?\) VIRTUAL/,
	'virtual generated column: the shadow declares it VIRTUAL');
($rc, $out, $err) = run_rebuild($node, '-t', 'app.vg');
is($rc, 0, 'virtual generated column: exit 0') or diag($err);
is($node->safe_psql('postgres',
	q{SELECT attgenerated FROM pg_attribute WHERE attrelid = 'app.vg'::regclass AND attname IN ('v', 's') ORDER BY attname}),
	"s\nv", 'virtual generated column: stays virtual, the stored one stays stored');
is($node->safe_psql('postgres', 'SELECT count(*) FROM app.vg WHERE v = a * 2 AND s = a * 3'),
	'1000', 'virtual generated column: values computed as before');
is(schema_description($node, ['app']), $vg_before, 'virtual generated column: catalog description unchanged')
  or diag(join("\n", description_changes($vg_before, schema_description($node, ['app']))));

# ------------------------------------------------------------------------
# NOT ENFORCED CHECK and foreign keys (from and to the table): rows that
# break them stay, and they stay not enforced.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE TABLE app.parent (id int PRIMARY KEY);
	INSERT INTO app.parent VALUES (1);
	CREATE TABLE app.ne (id int PRIMARY KEY, x int, p int,
		CONSTRAINT x_positive CHECK (x > 0) NOT ENFORCED,
		CONSTRAINT ne_p_fkey FOREIGN KEY (p) REFERENCES app.parent NOT ENFORCED);
	INSERT INTO app.ne SELECT g, CASE WHEN g = 5 THEN -5 ELSE g END, CASE WHEN g = 6 THEN 99 ELSE 1 END
		FROM generate_series(1, 500) g;
	CREATE TABLE app.ne_child (id int PRIMARY KEY,
		ne_id int CONSTRAINT to_ne REFERENCES app.ne NOT ENFORCED);
	INSERT INTO app.ne_child VALUES (1, 12345);
});
my $ne_before = schema_description($node, ['app']);
my $ne_cons = constraints('postgres', 'app.ne');
($rc, $out, $err) = run_rebuild($node, '-t', 'app.ne');
is($rc, 0, 'NOT ENFORCED: exit 0') or diag($err);
is(constraints('postgres', 'app.ne'), $ne_cons, 'NOT ENFORCED: the constraints of the table stay not enforced');
like(constraints('postgres', 'app.ne_child'), qr/^to_ne f .* NOT ENFORCED valid=false enforced=false$/m,
	'NOT ENFORCED: a foreign key to the table stays not enforced');
is($node->safe_psql('postgres', 'SELECT count(*) FROM app.ne WHERE x < 0 OR p = 99'), '2',
	'NOT ENFORCED: the rows that break them are still there');
is(schema_description($node, ['app']), $ne_before, 'NOT ENFORCED: catalog description unchanged')
  or diag(join("\n", description_changes($ne_before, schema_description($node, ['app']))));

# ------------------------------------------------------------------------
# Temporal keys: a WITHOUT OVERLAPS UNIQUE and PRIMARY KEY-like constraint
# and a PERIOD foreign key, beside a plain key that the replay uses.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE TABLE app.rooms (id int PRIMARY KEY, room int4range NOT NULL, during tstzrange NOT NULL,
		CONSTRAINT rooms_booked UNIQUE (room, during WITHOUT OVERLAPS));
	INSERT INTO app.rooms SELECT g, int4range(g, g + 1), tstzrange('2026-01-01', '2026-02-01')
		FROM generate_series(1, 300) g;
	CREATE TABLE app.bookings (id int PRIMARY KEY, room int4range, during tstzrange,
		CONSTRAINT bookings_room FOREIGN KEY (room, PERIOD during) REFERENCES app.rooms (room, PERIOD during));
	INSERT INTO app.bookings VALUES (1, int4range(5, 6), tstzrange('2026-01-02', '2026-01-03'));
	CREATE TABLE app.stays (id int PRIMARY KEY, room int4range NOT NULL, during tstzrange NOT NULL,
		CONSTRAINT stays_room FOREIGN KEY (room, PERIOD during) REFERENCES app.rooms (room, PERIOD during));
	INSERT INTO app.stays VALUES (1, int4range(7, 8), tstzrange('2026-01-05', '2026-01-06'));
});
my $tk_before = schema_description($node, ['app']);
($rc, $out, $err) = run_rebuild($node, '-t', 'app.rooms');
is($rc, 0, 'temporal keys: a table with a WITHOUT OVERLAPS key is rebuilt: exit 0') or diag($err);
($rc, $out, $err) = run_rebuild($node, '-t', 'app.stays');
is($rc, 0, 'temporal keys: a table with a PERIOD foreign key is rebuilt: exit 0') or diag($err);
is(schema_description($node, ['app']), $tk_before, 'temporal keys: catalog description unchanged')
  or diag(join("\n", description_changes($tk_before, schema_description($node, ['app']))));
my ($ok, $stderr);
$ok = $node->psql('postgres',
	q{INSERT INTO app.rooms VALUES (1000, int4range(5, 6), tstzrange('2026-01-15', '2026-03-01'))},
	stderr => \$stderr);
isnt($ok, 0, 'temporal keys: an overlapping row is still refused after the swap');
like($stderr, qr/rooms_booked/, 'temporal keys: by the constraint of its name');
$ok = $node->psql('postgres',
	q{INSERT INTO app.stays VALUES (2, int4range(7, 8), tstzrange('2026-03-05', '2026-03-06'))},
	stderr => \$stderr);
isnt($ok, 0, 'temporal keys: a PERIOD foreign key still refuses a row outside the referenced periods');

# A table whose only key is temporal has no replay key: refused, naming it.
$node->safe_psql('postgres', q{
	CREATE TABLE app.slots (room int4range, during tstzrange,
		CONSTRAINT slots_pkey PRIMARY KEY (room, during WITHOUT OVERLAPS));
	INSERT INTO app.slots VALUES (int4range(1, 2), tstzrange('2026-01-01', '2026-01-02'));
});
($rc, $out, $err) = run_rebuild($node, '-t', 'app.slots');
is($rc, 1, 'temporal key only: refused, exit 1');
like($err, qr/"slots_pkey".*WITHOUT OVERLAPS|WITHOUT OVERLAPS.*"slots_pkey"/s,
	'temporal key only: the refusal names the temporal key and why it cannot be the replay key');
like($err, qr/^pg_rebuild: detail: Nothing was changed/m, 'temporal key only: nothing was changed');

# A unique index on a column whose NOT NULL is NOT VALID is no replay key
# (the column may hold NULLs): with no other key, the table is refused.
$node->safe_psql('postgres', q{
	CREATE TABLE app.loose (u int, w text);
	CREATE UNIQUE INDEX loose_u ON app.loose (u);
	INSERT INTO app.loose VALUES (1, 'a'), (NULL, 'b');
	ALTER TABLE app.loose ADD CONSTRAINT loose_u_nn NOT NULL u NOT VALID;
});
($rc, $out, $err) = run_rebuild($node, '-t', 'app.loose');
is($rc, 1, 'NOT VALID NOT NULL on the only unique column: refused, exit 1');
like($err, qr/^pg_rebuild: error: "app"\."loose" has no replay key/m,
	'NOT VALID NOT NULL on the only unique column: it is no replay key');

done_testing();
