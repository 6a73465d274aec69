# 014_refusals.pl: what pg_rebuild refuses up front (exit 1, a message, nothing changed), and what it accepts.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
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
	[ qr/^pg_rebuild: error: --order-by "n, nosuch DESC" is not an ORDER BY list of "public"\."plain" that the server accepts: column "nosuch" does not exist$/m ]);
refused('a view', undef, [ '-t', 'plain_view' ],
	[ qr/^pg_rebuild: error: "public"\."plain_view" is a view: pg_rebuild rebuilds ordinary tables only$/m ]);
refused('a materialized view', undef, [ '-t', 'plain_mv' ],
	[ qr/"public"\."plain_mv" is a materialized view/ ]);
refused('a sequence', undef, [ '-t', 'plain_seq' ], [ qr/"public"\."plain_seq" is a sequence/ ]);
refused('a partitioned table', undef, [ '-t', 'parted' ], [ qr/"public"\."parted" is a partitioned table/ ]);
refused('a partition', 'parted_1', [], [ qr/"public"\."parted_1" is a partition/ ]);

# ------------------------------------------------------------------------
# Dependents the swap carries over: after the rebuild each one is there,
# bound to the new table, and works.
# ------------------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE ROLE app_reader');

# Rebuilds $table (created by $setup) and checks, before and after, the
# text returned by $same_sql (a description of the dependents that must not
# change); returns the run's output for further checks.
sub carried_over
{
	my ($name, $table, $setup, $same_sql) = @_;
	$node->safe_psql(
		'postgres', qq{
		CREATE TABLE $table (id int PRIMARY KEY, ref int NOT NULL, v text);
		INSERT INTO $table SELECT g, g, 'v' || g FROM generate_series(1, 2000) g;
		$setup});
	$node->safe_psql('postgres', "DELETE FROM $table WHERE id % 3 = 0");
	my $md5 = table_md5($node, $table);
	my $oid = table_oid($table);
	my $before = $node->safe_psql('postgres', $same_sql);
	my ($rc, $out, $err) = run_rebuild($node, '-t', $table);
	is($rc, 0, "$name: exit 0");
	is($err, '', "$name: nothing on stderr");
	isnt(table_oid($table), $oid, "$name: a new table");
	is(table_md5($node, $table), $md5, "$name: same rows");
	is($node->safe_psql('postgres', $same_sql), $before, "$name: carried over unchanged");
	is( $node->safe_psql(
			'postgres', qq{
			SELECT count(*) FROM pg_depend WHERE refclassid = 'pg_class'::regclass AND refobjid = $oid}),
		0, "$name: nothing depends on the old table's OID");
	is_deeply([ run_leftovers($node) ], [], "$name: nothing left behind");
	return ($rc, $out, $err);
}

carried_over(
	'a view, a view on the view, with options and grants',
	'dep_view',
	q{CREATE VIEW dep_view_v WITH (security_barrier) AS SELECT id, v FROM dep_view WHERE id > 10;
	  CREATE VIEW dep_view_vv AS SELECT count(*) AS n FROM dep_view_v;
	  GRANT SELECT ON dep_view_v TO app_reader;},
	q{SELECT string_agg(format('%s %s %s %s', c.oid, c.reloptions, c.relacl, pg_get_viewdef(c.oid)), E'\n' ORDER BY c.relname)
	  FROM pg_class c WHERE c.relname IN ('dep_view_v', 'dep_view_vv')});
$node->safe_psql('postgres', q{INSERT INTO dep_view VALUES (100000, 1, 'new')});
is($node->safe_psql('postgres', q{SELECT v FROM dep_view_v WHERE id = 100000}),
	'new', 'the view reads the rebuilt table');
is($node->safe_psql('postgres', q{SELECT n FROM dep_view_vv}),
	$node->safe_psql('postgres', q{SELECT count(*) FROM dep_view WHERE id > 10}),
	'the view on the view too');

$node->safe_psql('postgres', 'CREATE TABLE dep_fk (id int PRIMARY KEY)');
carried_over(
	'foreign keys to and from the table',
	'dep_fk_mid',
	q{INSERT INTO dep_fk SELECT generate_series(1, 3000);
	  ALTER TABLE dep_fk_mid ADD CONSTRAINT dep_fk_mid_ref_fkey FOREIGN KEY (ref) REFERENCES dep_fk (id);
	  CREATE TABLE dep_fk_child (id int PRIMARY KEY, mid int REFERENCES dep_fk_mid (id) ON DELETE CASCADE);
	  INSERT INTO dep_fk_child SELECT g, g FROM generate_series(1, 2000) g WHERE g % 3 <> 0;},
	q{SELECT string_agg(format('%s %s %s %s', conname, conrelid::regclass, confrelid::regclass, pg_get_constraintdef(oid)), E'\n' ORDER BY conname)
	  FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace});
is( $node->safe_psql(
		'postgres', q{SELECT string_agg(conname || ' ' || convalidated, ',' ORDER BY conname) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace}),
	'dep_fk_child_mid_fkey true,dep_fk_mid_ref_fkey true',
	'the foreign keys are validated again');
my ($frc, $fout, $ferr) = $node->psql('postgres', 'INSERT INTO dep_fk_child VALUES (-1, 999999)');
like($ferr, qr/violates foreign key constraint "dep_fk_child_mid_fkey"/, 'the incoming foreign key is enforced');
($frc, $fout, $ferr) = $node->psql('postgres', 'INSERT INTO dep_fk_mid VALUES (-1, 999999, NULL)');
like($ferr, qr/violates foreign key constraint "dep_fk_mid_ref_fkey"/, 'the outgoing foreign key is enforced');
$node->safe_psql('postgres', 'DELETE FROM dep_fk_mid WHERE id = 1');
is($node->safe_psql('postgres', 'SELECT count(*) FROM dep_fk_child WHERE mid = 1'),
	0, 'ON DELETE CASCADE acts from the rebuilt table');
is($node->safe_psql('postgres', 'DELETE FROM dep_fk WHERE id = 2999 RETURNING id'),
	2999, 'a referenced row no longer used by the table can be deleted');

carried_over(
	'user triggers, one disabled',
	'dep_trg',
	q{CREATE FUNCTION dep_trg_f() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.v := upper(NEW.v); RETURN NEW; END';
	  CREATE TRIGGER dep_trg_upper BEFORE INSERT OR UPDATE ON dep_trg FOR EACH ROW EXECUTE FUNCTION dep_trg_f();
	  CREATE TRIGGER dep_trg_off BEFORE INSERT ON dep_trg FOR EACH ROW EXECUTE FUNCTION dep_trg_f();
	  ALTER TABLE dep_trg DISABLE TRIGGER dep_trg_off;
	  COMMENT ON TRIGGER dep_trg_upper ON dep_trg IS 'shouts';},
	q{SELECT string_agg(format('%s %s %s', tgenabled, pg_get_triggerdef(oid), obj_description(oid, 'pg_trigger')), E'\n' ORDER BY tgname)
	  FROM pg_trigger WHERE tgrelid = 'dep_trg'::regclass});
is($node->safe_psql('postgres', q{INSERT INTO dep_trg VALUES (-1, 1, 'quiet') RETURNING v}),
	'QUIET', 'the trigger fires on the rebuilt table');

carried_over(
	'row level security and its policies',
	'dep_pol',
	q{ALTER TABLE dep_pol ENABLE ROW LEVEL SECURITY;
	  CREATE POLICY dep_pol_even ON dep_pol FOR SELECT TO app_reader USING (id % 2 = 0);
	  CREATE POLICY dep_pol_ins ON dep_pol FOR INSERT WITH CHECK (ref > 0);
	  GRANT SELECT ON dep_pol TO app_reader;},
	q{SELECT (SELECT relrowsecurity || ' ' || relforcerowsecurity FROM pg_class WHERE oid = 'dep_pol'::regclass) || E'\n' ||
	  (SELECT string_agg(format('%s %s %s %s %s', policyname, cmd, roles, qual, with_check), E'\n' ORDER BY policyname)
	   FROM pg_policies WHERE tablename = 'dep_pol')});
is($node->safe_psql('postgres', q{SET ROLE app_reader; SELECT count(*) FROM dep_pol}),
	$node->safe_psql('postgres', q{SELECT count(*) FROM dep_pol WHERE id % 2 = 0}),
	'the policy filters the rows of the rebuilt table');

# A publication of the table, and (15 and later) one with a column list and
# a row filter.
for my $pub (
	[ 'publication membership', 'dep_pub_all', '', 0, undef ],
	[ 'publication membership with a column list and a row filter',
		'dep_pub', ' (id, v) WHERE (id > 10)', 150000, 'publication column lists and row filters' ])
{
	my ($name, $table, $what, $since, $feature) = @$pub;
	SKIP:
	{
		my $why = $since && need_version($node, $since, $feature);
		skip $why, 7 if $why;
		carried_over($name, $table, "CREATE PUBLICATION ${table}_p FOR TABLE $table$what;",
			qq{SELECT string_agg(format('%s %s %s', pubname, to_jsonb(pt)->>'attnames', to_jsonb(pt)->>'rowfilter'), E'\n' ORDER BY pubname)
			   FROM pg_publication_tables pt WHERE tablename = '$table'});
		$node->safe_psql('postgres', "DROP PUBLICATION ${table}_p");
	}
}

carried_over(
	'extended statistics',
	'dep_stx',
	q{CREATE STATISTICS dep_stx_s (ndistinct, dependencies) ON id, ref FROM dep_stx;},
	q{SELECT string_agg(format('%s %s', stxname, pg_get_statisticsobjdef(oid)), E'\n' ORDER BY stxname)
	  FROM pg_statistic_ext WHERE stxrelid = 'dep_stx'::regclass});

carried_over(
	'a rule on the table',
	'dep_rule',
	q{CREATE TABLE dep_rule_log (id int);
	  CREATE RULE dep_rule_r AS ON DELETE TO dep_rule DO ALSO INSERT INTO dep_rule_log VALUES (OLD.id);},
	q{SELECT string_agg(format('%s %s', rulename, definition), E'\n' ORDER BY rulename)
	  FROM pg_rules WHERE tablename = 'dep_rule'});
$node->safe_psql('postgres', 'DELETE FROM dep_rule WHERE id = 1');
is($node->safe_psql('postgres', 'SELECT count(*) FROM dep_rule_log WHERE id = 1'),
	1, 'the rule fires on the rebuilt table');

SKIP:
{
	my $why = need_version($node, 140000, 'SQL-standard function bodies (BEGIN ATOMIC)');
	skip $why, 8 if $why;
	carried_over(
		'a function with a SQL-standard body',
		'dep_fn',
		q{CREATE FUNCTION dep_fn_count() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM dep_fn; END;},
		q{SELECT pg_get_functiondef('dep_fn_count'::regproc)});
	$node->safe_psql('postgres', q{INSERT INTO dep_fn VALUES (-1, 1, 'x')});
	is($node->safe_psql('postgres', 'SELECT dep_fn_count()'),
		$node->safe_psql('postgres', 'SELECT count(*) FROM dep_fn'),
		'the function reads the rebuilt table');
}

$node->safe_psql('postgres', 'CREATE TABLE dep_par (id int, ref int NOT NULL, v text)');
carried_over(
	'a child of an inheritance parent',
	'dep_kid',
	q{ALTER TABLE dep_kid INHERIT dep_par; INSERT INTO dep_par VALUES (0, 0, 'parent row');},
	q{SELECT string_agg(inhrelid::regclass || ' ' || inhparent::regclass, ',') FROM pg_inherits});
is($node->safe_psql('postgres', 'SELECT count(*) FROM dep_par'),
	$node->safe_psql('postgres', 'SELECT count(*) + 1 FROM dep_kid'),
	'the parent sees the rows of the rebuilt child, and keeps its own');

# ------------------------------------------------------------------------
# Dependents that cannot be carried over: refused.
# ------------------------------------------------------------------------
sub dependent_refused
{
	my ($name, $setup, $table, $details) = @_;
	$node->safe_psql(
		'postgres', qq{
		CREATE TABLE $table (id int PRIMARY KEY, ref int, v text);
		INSERT INTO $table SELECT g, g, 'v' || g FROM generate_series(1, 2000) g;
		$setup});
	my $n = scalar @$details;
	refused(
		$name, $table, [],
		[
			qr/^pg_rebuild: error: "public"\."$table" cannot be rebuilt: $n things? around it would not survive the swap$/m,
			@$details
		]);
	return;
}
dependent_refused(
	'an inheritance child',
	'CREATE TABLE dep_inh_child () INHERITS (dep_inh)',
	'dep_inh',
	[ qr/^pg_rebuild: detail: table public\.dep_inh_child inherits from the table \(tables with inheritance children are refused\)$/m ]);
dependent_refused(
	'a materialized view',
	'CREATE MATERIALIZED VIEW dep_mv_m AS SELECT count(*) FROM dep_mv',
	'dep_mv',
	[ qr/^pg_rebuild: detail: materialized view public\.dep_mv_m depends on the table \(a materialized view cannot be re-pointed/m ]);
dependent_refused(
	'a user of the row type',
	'CREATE TABLE dep_rt_user (x dep_rt)',
	'dep_rt',
	[ qr/^pg_rebuild: detail: column x of table public\.dep_rt_user uses the table's row type/m ]);
dependent_refused(
	'a FOR ALL TABLES publication',
	'CREATE PUBLICATION dep_all_p FOR ALL TABLES',
	'dep_all',
	[ qr/^pg_rebuild: detail: publication dep_all_p is FOR ALL TABLES: it would publish the shadow and log tables$/m ]);
$node->safe_psql('postgres', 'DROP PUBLICATION dep_all_p');

# Several: one detail line for each.
$node->safe_psql(
	'postgres', q{
	CREATE TABLE many (id int PRIMARY KEY, v text);
	CREATE MATERIALIZED VIEW many_m1 AS SELECT id FROM many;
	CREATE MATERIALIZED VIEW many_m2 AS SELECT v FROM many;
	CREATE TABLE many_kid () INHERITS (many);
});
($rc, $out, $err) = refused('three dependents', 'many', [],
	[ qr/cannot be rebuilt: 3 things around it would not survive the swap/ ]);
like($err, qr/^pg_rebuild: detail: materialized view public\.many_m1 /m, 'three dependents: the first is named');
like($err, qr/^pg_rebuild: detail: materialized view public\.many_m2 /m, 'three dependents: the second is named');
like($err, qr/^pg_rebuild: detail: table public\.many_kid inherits/m, 'three dependents: the third is named');

# A dependent the run's role cannot act as the owner of.
$node->safe_psql('appdb', q{GRANT SELECT ON owned TO stranger; GRANT CREATE ON SCHEMA public TO stranger});
$node->safe_psql('appdb', q{SET ROLE stranger; CREATE VIEW strangers_view AS SELECT id FROM owned});
refused(
	'a view owned by another role',
	'owned',
	[ '-U', 'member' ],
	[
		qr/^pg_rebuild: error: "public"\."owned" cannot be rebuilt: 1 thing around it would not survive the swap$/m,
		qr/^pg_rebuild: detail: view public\.strangers_view is owned by stranger, and the run's role is not a member of that role, so it cannot be re-created$/m
	],
	dbname => 'appdb');
$node->safe_psql('appdb', 'DROP VIEW strangers_view');

# FORCE ROW LEVEL SECURITY: the owner's copy would miss rows.
$node->safe_psql('appdb', 'ALTER TABLE owned ENABLE ROW LEVEL SECURITY; ALTER TABLE owned FORCE ROW LEVEL SECURITY');
refused(
	'FORCE ROW LEVEL SECURITY',
	'owned',
	[ '-U', 'member' ],
	[ qr/^pg_rebuild: error: "public"\."owned" has FORCE ROW LEVEL SECURITY and the run's role does not bypass row level security$/m ],
	dbname => 'appdb');
# When the bypass check itself fails (here the role may not read the
# rolbypassrls column of pg_roles, as on a hardened server; the other columns
# stay readable), the user gets its error, not the FORCE refusal.
$node->safe_psql('appdb', q{REVOKE SELECT ON pg_catalog.pg_roles FROM PUBLIC;
	GRANT SELECT (oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
		rolconnlimit, rolvaliduntil, rolconfig) ON pg_catalog.pg_roles TO PUBLIC});
my (undef, undef, $force_err) = refused(
	'FORCE ROW LEVEL SECURITY, the bypass check fails',
	'owned',
	[ '-U', 'member' ],
	[ qr/^pg_rebuild: error: could not check whether the run's role bypasses row level security: permission denied for view pg_roles$/m ],
	dbname => 'appdb');
unlike($force_err, qr/does not bypass/, 'FORCE ROW LEVEL SECURITY, the bypass check fails: no refusal in its place');
$node->safe_psql('appdb', 'GRANT SELECT ON pg_catalog.pg_roles TO PUBLIC');
$node->safe_psql('appdb', 'ALTER TABLE owned NO FORCE ROW LEVEL SECURITY; ALTER TABLE owned DISABLE ROW LEVEL SECURITY');

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
my $first = start_rebuild($node, { env => { hold_env('COPY_START') } }, '-t', 'busy');
ok(hold_run($first, 'COPY_START'), 'a first run is held as its copy starts');
my $first_pid = $node->safe_psql('postgres', 'SELECT backend_pid FROM "' . state_schema($node) . '".runs');
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
my $standby = new_standby($node, 'standby');
# The table is in the backup: no need to wait for the standby to catch up.
wait_for_query($standby, 'the standby to accept connections, in recovery, with the table',
	q{SELECT pg_is_in_recovery() AND to_regclass('replicated') IS NOT NULL})
  or die 'the standby did not come up';
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
