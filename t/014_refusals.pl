# 014_refusals.pl: what pg_rebuild refuses up front (exit 1, a message, nothing changed), and what it accepts.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use PgRebuildTest;

my $node = new_node('primary', log_statement => 'none', init => { allows_streaming => 1 });

sub table_oid
{
	my ($table, $db) = @_;
	return $node->safe_psql($db // 'postgres', "SELECT to_regclass('$table')::oid");
}

# Runs pg_rebuild on a table that it must refuse: exit 1, the messages on
# stderr, "Nothing was changed", and the table, its triggers and the
# database exactly as they were.
sub refused
{
	my ($name, $table, $args, $messages, %opts) = @_;
	my $db = $opts{dbname} // 'postgres';
	my $md5 = defined $table ? table_md5($node, $table, $opts{key}, dbname => $db) : '';
	my $oid = defined $table ? table_oid($table, $db) : '';
	my $catalog_sql = q{SELECT (SELECT count(*) FROM pg_class) || '/' || (SELECT count(*) FROM pg_trigger)
		|| '/' || (SELECT count(*) FROM pg_proc)};
	my $catalog = $node->safe_psql($db, $catalog_sql);
	my ($rc, $out, $err) = run_rebuild($node, { %{ $opts{run} // {} }, dbname => $db },
		(defined $table ? ('-t', $table) : ()), @$args);
	is($rc, 1, "$name: exit 1");
	like($err, $_, "$name: stderr matches $_") for @$messages;
	like($err, qr/^pg_rebuild: detail: Nothing was changed\.$/m, "$name: stderr says nothing was changed");
	unlike($out, qr/^phase install/m, "$name: refused before installing anything");
	if (defined $table)
	{
		is(table_md5($node, $table, $opts{key}, dbname => $db), $md5, "$name: same rows");
		is(table_oid($table, $db), $oid, "$name: same table (OID)");
	}
	is($node->safe_psql($db, $catalog_sql), $catalog,
		"$name: no relation, trigger or function was created");
	is_deeply([ run_leftovers($node, dbname => $db) ], [], "$name: no per-run object left");
	return ($rc, $out, $err);
}

# ------------------------------------------------------------------------
# No replay key.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE nokey (a int, b text);
	INSERT INTO nokey SELECT g, 'b' || g FROM generate_series(1, 1000) g;
	CREATE TABLE nullable_unique (a int, b text);
	CREATE UNIQUE INDEX nullable_unique_a ON nullable_unique (a);
	INSERT INTO nullable_unique SELECT g, 'b' || g FROM generate_series(1, 1000) g;
	CREATE TABLE partial_unique (a int NOT NULL, b text);
	CREATE UNIQUE INDEX partial_unique_a ON partial_unique (a) WHERE a > 0;
	INSERT INTO partial_unique SELECT g, 'b' || g FROM generate_series(1, 1000) g;
	CREATE TABLE expr_unique (a int NOT NULL, b text);
	CREATE UNIQUE INDEX expr_unique_a ON expr_unique ((a + 0));
	INSERT INTO expr_unique SELECT g, 'b' || g FROM generate_series(1, 1000) g;
});
for my $t (qw(nokey nullable_unique partial_unique expr_unique))
{
	refused(
		"$t: no replay key",
		$t, [],
		[
			qr/^pg_rebuild: error: "public"\."$t" has no replay key: pg_rebuild needs a primary key, or a unique index/m,
			qr/^pg_rebuild: hint: Add a primary key/m
		],
		key => 'a');
}

# A unique index on NOT NULL columns is a good replay key.
$node->safe_psql(
	'postgres', q{
	CREATE TABLE unique_key (a int NOT NULL, b int NOT NULL, c text);
	CREATE UNIQUE INDEX unique_key_ab ON unique_key (a, b);
	INSERT INTO unique_key SELECT g % 100, g / 100, 'c' || g FROM generate_series(1, 5000) g;
});
my $md5 = table_md5($node, 'unique_key', 'a, b');
my ($rc, $out, $err) = run_rebuild($node, '-t', 'unique_key');
is($rc, 0, 'a unique index on NOT NULL columns as replay key: exit 0');
like($out, qr/replay key: unique_key_ab \(unique index\)/,
	'the intro names the unique index as replay key');
is(table_md5($node, 'unique_key', 'a, b'), $md5, 'unique index key: same rows');

# ------------------------------------------------------------------------
# Ownership: a stranger is refused, a member of the owner's role is not.
# Everything in a database owned by the table's owner, so that the owner
# may create the tool's schema there.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE ROLE app_owner;
	CREATE ROLE stranger LOGIN;
	CREATE ROLE member LOGIN;
	CREATE ROLE reader;
	GRANT app_owner TO member;
	CREATE DATABASE appdb OWNER app_owner;
});
$node->safe_psql(
	'appdb', q{
	CREATE TABLE owned (id int PRIMARY KEY, v text);
	INSERT INTO owned SELECT g, 'v' || g FROM generate_series(1, 5000) g;
	ALTER TABLE owned OWNER TO app_owner;
	GRANT SELECT ON owned TO reader;
	GRANT SELECT ON owned TO stranger;
	DELETE FROM owned WHERE id % 2 = 0;
});
refused(
	'not the owner',
	'owned',
	[ '-U', 'stranger' ],
	[
		qr/^pg_rebuild: error: must be the owner of table "public"\."owned" to rebuild it \(its owner is app_owner, you are stranger\)$/m,
		qr/^pg_rebuild: hint: Connect as "app_owner", or as a member of role "app_owner"/m
	],
	dbname => 'appdb');

$md5 = table_md5($node, 'owned', undef, dbname => 'appdb');
my $oid = table_oid('owned', 'appdb');
($rc, $out, $err) = run_rebuild($node, 'dbname=appdb', '-U', 'member', '-t', 'owned');
is($rc, 0, 'a member of the owner role: exit 0');
is($err, '', 'a member of the owner role: nothing on stderr');
is(table_md5($node, 'owned', undef, dbname => 'appdb'), $md5, 'a member of the owner role: same rows');
isnt(table_oid('owned', 'appdb'), $oid, 'a member of the owner role: a new table');
is($node->safe_psql('appdb', q{SELECT relowner::regrole FROM pg_class WHERE oid = 'owned'::regclass}),
	'app_owner', 'the rebuilt table still belongs to the owner role');
is( $node->safe_psql(
		'appdb', q{SELECT has_table_privilege('reader', 'owned', 'SELECT'), has_table_privilege('stranger', 'owned', 'SELECT'),
			has_table_privilege('stranger', 'owned', 'INSERT')}),
	't|t|f', 'the grants of the table are carried over, and no more');
is_deeply([ run_leftovers($node, dbname => 'appdb') ], [], 'a member of the owner role: nothing left behind');

# ------------------------------------------------------------------------
# Unknown table or column; not a table.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE plain (id int PRIMARY KEY, note text, n int);
	INSERT INTO plain SELECT g, 'n' || g, g FROM generate_series(1, 2000) g;
	CREATE VIEW plain_view AS SELECT 1 AS x;
	CREATE MATERIALIZED VIEW plain_mv AS SELECT 1 AS x;
	CREATE SEQUENCE plain_seq;
	CREATE TABLE parted (id int PRIMARY KEY) PARTITION BY RANGE (id);
	CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
});
refused('unknown table', undef, [ '-t', 'nosuch' ],
	[ qr/^pg_rebuild: error: table "nosuch" does not exist in any schema of the search_path$/m ]);
refused('unknown schema-qualified table', undef, [ '-t', 'public.nosuch' ],
	[ qr/^pg_rebuild: error: table "public"\."nosuch" does not exist$/m ]);
refused('unknown table in an unknown schema', undef, [ '-t', 'nowhere.plain' ],
	[ qr/^pg_rebuild: error: table "nowhere"\."plain" does not exist$/m ]);
refused('unknown column for --set-not-null', 'plain', [ '--set-not-null', 'nosuch' ],
	[ qr/^pg_rebuild: error: column "nosuch" of table "public"\."plain" does not exist \(given to --set-not-null\)$/m ]);
refused('unknown column for --order-by', 'plain', [ '--order-by', 'n, nosuch DESC' ],
	[ qr/^pg_rebuild: error: column "nosuch" of table "public"\."plain" does not exist \(given to --order-by\)$/m ]);
refused('a view', undef, [ '-t', 'plain_view' ],
	[ qr/^pg_rebuild: error: "public"\."plain_view" is a view: pg_rebuild rebuilds ordinary tables only$/m ]);
refused('a materialized view', undef, [ '-t', 'plain_mv' ],
	[ qr/"public"\."plain_mv" is a materialized view/ ]);
refused('a sequence', undef, [ '-t', 'plain_seq' ], [ qr/"public"\."plain_seq" is a sequence/ ]);
refused('a partitioned table', undef, [ '-t', 'parted' ], [ qr/"public"\."parted" is a partitioned table/ ]);
refused('a partition', 'parted_1', [], [ qr/"public"\."parted_1" is a partition/ ]);

# ------------------------------------------------------------------------
# Dependents that a rename swap would leave on the old table.
# ------------------------------------------------------------------------
sub dependent_refused
{
	my ($name, $setup, $table, $detail) = @_;
	$node->safe_psql(
		'postgres', qq{
		CREATE TABLE $table (id int PRIMARY KEY, ref int, v text);
		INSERT INTO $table SELECT g, g, 'v' || g FROM generate_series(1, 2000) g;
		$setup});
	refused(
		$name, $table, [],
		[
			qr/^pg_rebuild: error: "public"\."$table" cannot be rebuilt by this version: 1 thing around it would not survive the swap$/m,
			$detail
		]);
	return;
}
dependent_refused('a dependent view', 'CREATE VIEW dep_view_v AS SELECT id, v FROM dep_view',
	'dep_view', qr/^pg_rebuild: detail: view public\.dep_view_v depends on the table/m);
dependent_refused(
	'a foreign key from another table',
	'CREATE TABLE dep_fk_child (id int PRIMARY KEY, parent int REFERENCES dep_fk (id))',
	'dep_fk',
	qr/^pg_rebuild: detail: constraint dep_fk_child_parent_fkey on table public\.dep_fk_child \(foreign keys to or from the table are not carried over by this version\)$/m);
$node->safe_psql('postgres', 'CREATE TABLE dep_fk_parent (id int PRIMARY KEY)');
$node->safe_psql('postgres', 'INSERT INTO dep_fk_parent SELECT generate_series(1, 2000)');
dependent_refused(
	'a foreign key to another table',
	'ALTER TABLE dep_fk_out ADD FOREIGN KEY (ref) REFERENCES dep_fk_parent (id)',
	'dep_fk_out',
	qr/^pg_rebuild: detail: constraint dep_fk_out_ref_fkey on table public\.dep_fk_out \(foreign keys/m);
dependent_refused(
	'a user trigger',
	q{CREATE FUNCTION dep_trg_f() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
	  CREATE TRIGGER dep_trg_t BEFORE INSERT ON dep_trg FOR EACH ROW EXECUTE FUNCTION dep_trg_f()},
	'dep_trg',
	qr/^pg_rebuild: detail: trigger dep_trg_t on table public\.dep_trg \(user triggers are not carried over by this version/m);
dependent_refused(
	'a row level security policy',
	'CREATE POLICY dep_pol_p ON dep_pol USING (id > 0)',
	'dep_pol',
	qr/^pg_rebuild: detail: policy dep_pol_p on table public\.dep_pol \(row level security policies are not carried over by this version\)$/m);
dependent_refused(
	'publication membership',
	'CREATE PUBLICATION dep_pub_p FOR TABLE dep_pub',
	'dep_pub',
	qr/^pg_rebuild: detail: publication of table public\.dep_pub in publication dep_pub_p \(publication membership is not carried over by this version\)$/m);
$node->safe_psql('postgres', 'DROP PUBLICATION dep_pub_p');
dependent_refused(
	'extended statistics',
	'CREATE STATISTICS dep_stx_s ON id, ref FROM dep_stx',
	'dep_stx',
	qr/^pg_rebuild: detail: statistics object public\.dep_stx_s \(extended statistics are not carried over/m);
dependent_refused(
	'an inheritance child',
	'CREATE TABLE dep_inh_child () INHERITS (dep_inh)',
	'dep_inh',
	qr/^pg_rebuild: detail: table public\.dep_inh_child inherits from the table/m);

# Several dependents: one detail line for each.
$node->safe_psql(
	'postgres', q{
	CREATE TABLE many (id int PRIMARY KEY, v text);
	CREATE VIEW many_v1 AS SELECT id FROM many;
	CREATE VIEW many_v2 AS SELECT v FROM many;
	CREATE POLICY many_p ON many USING (true);
});
($rc, $out, $err) = refused('three dependents', 'many', [],
	[ qr/cannot be rebuilt by this version: 3 things around it would not survive the swap/ ]);
like($err, qr/^pg_rebuild: detail: view public\.many_v1 depends on the table/m, 'three dependents: the first view is named');
like($err, qr/^pg_rebuild: detail: view public\.many_v2 depends on the table/m, 'three dependents: the second view is named');
like($err, qr/^pg_rebuild: detail: policy many_p on table public\.many/m, 'three dependents: the policy is named');

# ------------------------------------------------------------------------
# An invalid index (a failed CREATE UNIQUE INDEX CONCURRENTLY).
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE invalid_ix (id int PRIMARY KEY, v int);
	INSERT INTO invalid_ix SELECT g, g % 10 FROM generate_series(1, 1000) g;
});
my ($ixrc, $ixout, $ixerr) = $node->psql('postgres',
	'CREATE UNIQUE INDEX CONCURRENTLY invalid_ix_v ON invalid_ix (v)');
like($ixerr, qr/could not create unique index/, 'the concurrent index build failed');
is($node->safe_psql('postgres', q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'invalid_ix_v'::regclass}),
	'f', 'and left an invalid index');
refused(
	'an invalid index',
	'invalid_ix', [],
	[
		qr/^pg_rebuild: error: index "public"\."invalid_ix_v" of "public"\."invalid_ix" is invalid \(a failed CREATE INDEX CONCURRENTLY\?\)$/m,
		qr/^pg_rebuild: hint: Rebuild it with REINDEX INDEX CONCURRENTLY "public"\."invalid_ix_v", or drop it/m
	]);

# ------------------------------------------------------------------------
# Another run is active on the table.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE busy (id int PRIMARY KEY, v text);
	INSERT INTO busy SELECT g, 'v' || g FROM generate_series(1, 5000) g;
});
$md5 = table_md5($node, 'busy');
my $first = start_rebuild($node, { env => { PGR_TEST_SLEEP_COPY_START => 3000 } }, '-t', 'busy');
ok(wait_for_run_phase($node, 'copy', handle => $first), 'a first run is copying');
my $first_pid = $node->safe_psql('postgres', q{SELECT pid FROM pgrebuild.runs});
($rc, $out, $err) = run_rebuild($node, '-t', 'busy');
is($rc, 1, 'another run active: exit 1');
like($err, qr/^pg_rebuild: error: another pg_rebuild run is active on "public"\."busy"$/m,
	'another run active: said so');
like($err, qr/^pg_rebuild: detail: It is held by .*\b$first_pid\b.*Nothing was changed\.$/m,
	'another run active: the other run is named by its pid, nothing was changed');
unlike($out, qr/^phase install/m, 'another run active: refused before installing anything');
my ($rc1) = finish_rebuild($first);
is($rc1, 0, 'the first run finishes undisturbed');
is(table_md5($node, 'busy'), $md5, 'the first run kept the rows');
is_deeply([ run_leftovers($node) ], [], 'two runs: nothing left behind');

# ------------------------------------------------------------------------
# A streaming standby: read-only, refused with a pointer to the primary.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE replicated (id int PRIMARY KEY, v text);
	INSERT INTO replicated SELECT g, 'v' || g FROM generate_series(1, 2000) g;
});
$node->backup('standby_backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'standby_backup', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby, 'replay', $node->lsn('insert'));
my $md5_primary = table_md5($node, 'replicated');
my $oid_primary = table_oid('replicated');
($rc, $out, $err) = run_rebuild($standby, '-t', 'replicated');
is($rc, 1, 'standby: exit 1');
like($err, qr/^pg_rebuild: error: connected to a read-only standby: run against the primary$/m,
	'standby: said so');
like($err, qr/^pg_rebuild: detail: Nothing was changed\.$/m, 'standby: nothing was changed');
like($err, qr/^pg_rebuild: hint: Point -h\/-p .* at the primary server\.$/m, 'standby: hint to the primary');
is($out, '', 'standby: nothing on stdout');
is(table_md5($node, 'replicated'), $md5_primary, 'standby: the primary has the same rows');
is(table_oid('replicated'), $oid_primary, 'standby: the primary has the same table');
is(table_md5($standby, 'replicated'), $md5_primary, 'standby: the standby has the same rows');
$standby->stop;

done_testing();
