# 023_security.pl: the table's owner (no superuser) rebuilds it; an application role with plain DML rights keeps
# writing through the capture trigger; hostile objects on search_path are never called; nothing is granted to
# PUBLIC; a password given in the connection string never shows in any output.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node(
	'security',
	log_statement => 'none',
	start => 0,
	conf => [ "listen_addresses = '127.0.0.1'", "password_encryption = 'scram-sha-256'" ]);
# Local socket: trust (the test's own sessions); TCP: passwords.
PostgreSQL::Test::Utils::append_to_file($node->data_dir . '/pg_hba.conf.new', <<'EOF');
local all all trust
host all all 127.0.0.1/32 scram-sha-256
EOF
rename($node->data_dir . '/pg_hba.conf.new', $node->data_dir . '/pg_hba.conf')
  or die "cannot replace pg_hba.conf: $!";
$node->start;
my $port = $node->port;

my $secret = 'S3cret-pw';
$node->safe_psql(
	'postgres', qq{
	CREATE ROLE owner LOGIN PASSWORD '$secret';
	CREATE ROLE app LOGIN PASSWORD 'app-pw';
	-- the owner may create schemas (pg_rebuild keeps its state in one)
	GRANT CREATE ON DATABASE postgres TO owner;
	CREATE SCHEMA shop AUTHORIZATION owner;
	SET ROLE owner;
	CREATE TABLE shop.orders (id bigint PRIMARY KEY, val bigint NOT NULL, note text);
	INSERT INTO shop.orders SELECT g, g % 1000, 'n' || g FROM generate_series(1, 10000) g;
	GRANT USAGE ON SCHEMA shop TO app;
	GRANT SELECT, INSERT, UPDATE, DELETE ON shop.orders TO app;
	CREATE TABLE shop.nokey (a int, b int);
	RESET ROLE;
	-- the expected contents, maintained alongside by the test itself
	CREATE TABLE expected AS SELECT * FROM shop.orders;
});
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'owner'}),
	'f', 'the owner is not a superuser');

# Hostile objects: each records its calls in a sequence (which a rollback
# does not undo), and comes first on the search_path of both roles.
my @evil_funcs = (
	[ 'lower(text)', 'text', 'pg_catalog.lower($1)' ],
	[ 'quote_ident(text)', 'text', 'pg_catalog.quote_ident($1)' ],
	[ 'to_regclass(text)', 'regclass', 'pg_catalog.to_regclass($1)' ],
	[ 'current_setting(text)', 'text', 'pg_catalog.current_setting($1)' ],
	[ 'pg_backend_pid()', 'integer', 'pg_catalog.pg_backend_pid()' ],
	[ 'pg_try_advisory_lock(bigint)', 'boolean', 'pg_catalog.pg_try_advisory_lock($1)' ],
	[ 'pg_relation_size(regclass)', 'bigint', 'pg_catalog.pg_relation_size($1)' ],
	[ 'pg_is_in_recovery()', 'boolean', 'pg_catalog.pg_is_in_recovery()' ],
	[ 'now()', 'timestamptz', 'pg_catalog.now()' ],
	[ 'left(text, integer)', 'text', 'pg_catalog.left($1, $2)' ],
	[ 'host(inet)', 'text', 'pg_catalog.host($1)' ],
	[ 'eq_int8(bigint, bigint)', 'boolean', '$1 OPERATOR(pg_catalog.=) $2' ],
	[ 'eq_text(text, text)', 'boolean', '$1 OPERATOR(pg_catalog.=) $2' ],
	[ 'eq_oid(oid, oid)', 'boolean', '$1 OPERATOR(pg_catalog.=) $2' ],);
my $evil_sql = q{
	CREATE SCHEMA evil;
	GRANT USAGE ON SCHEMA evil TO PUBLIC;
	CREATE SEQUENCE evil.calls;
	GRANT USAGE, SELECT, UPDATE ON SEQUENCE evil.calls TO PUBLIC;
};
for my $f (@evil_funcs)
{
	my ($sig, $ret, $body) = @$f;
	$evil_sql .= qq{
	CREATE FUNCTION evil.$sig RETURNS $ret LANGUAGE plpgsql AS \$f\$
	BEGIN
		PERFORM pg_catalog.nextval('evil.calls');
		RETURN $body;
	END \$f\$;};
}
$evil_sql .= q{
	CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.eq_int8);
	CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.eq_text);
	CREATE OPERATOR evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = evil.eq_oid);
	ALTER ROLE app SET search_path = evil, shop, public, pg_catalog;
	ALTER ROLE owner SET search_path = evil, shop, public, pg_catalog;
};
$node->safe_psql('postgres', $evil_sql);

sub evil_calls
{
	return $node->safe_psql('postgres',
		'SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM evil.calls');
}

# The trap works: a session of either role that resolves names through its
# search_path calls the hostile objects.
$node->psql('postgres', 'SELECT 1::bigint = 2::bigint', extra_params => [ '-U', 'app' ]);
$node->psql('postgres', q{SELECT lower('X')}, extra_params => [ '-U', 'owner' ]);
cmp_ok(evil_calls(), '>=', 2, 'the hostile operator and function are reachable by app and owner');

# The application: app's own statements, without operators that the
# hostile schema overrides (int4 literals against bigint use
# pg_catalog's cross-type operators), mirrored into the expected table.
my $next_id = 100001;
sub app_change
{
	my ($tag) = @_;
	my ($a, $b, $c, $d) = ($next_id, $next_id + 1, $next_id + 2, $next_id + 3);
	$next_id += 10;
	my $k = 5 + ($next_id % 997);
	my @stmts = (
		"INSERT INTO shop.orders (id, val, note) VALUES ($a, 1, '$tag'), ($b, 2, '$tag')",
		"UPDATE shop.orders SET val = val + 7, note = '$tag' WHERE id = $k",
		"UPDATE shop.orders SET id = $c WHERE id = " . ($k + 1),
		"DELETE FROM shop.orders WHERE id = " . ($k + 2),);
	my ($rc, $out, $err) = $node->psql('postgres', join(";\n", @stmts),
		extra_params => [ '-U', 'app' ]);
	(my $mirror = join(";\n", @stmts)) =~ s/shop\.orders/expected/g;
	$node->safe_psql('postgres', $mirror);
	return ($rc == 0 && $err eq '', $err);
}

my $oid = table_oid($node, 'shop.orders');
my $conn = "host=127.0.0.1 port=$port user=owner password=$secret dbname=postgres";
my $calls0 = evil_calls();

# ------------------------------------------------------------------------
# The owner's run, held in the replay while app writes and the test reads the
# privileges of the run's objects.
# ------------------------------------------------------------------------
my $h = start_rebuild($node, { env => { hold_env('REPLAY_BATCH') } },
	'-d', $conn, '-v', '-t', 'shop.orders');
ok(hold_run($h, 'REPLAY_BATCH'), 'the owner\'s run is under way (held in the replay)');
my ($ok, $werr) = app_change('during');
ok($ok, "app writes to the table during the run (no rights on the owner's state schema needed)")
  or diag $werr;

my $state = state_schema($node, 'owner');
my $log = "$state.log_$oid";
my $shadow = "shop.pgrebuild_new_$oid";
ok(relation_exists($node, $log), "the run's log table $log exists");
my $privs = 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER';
for my $who ('app', 'public')
{
	for my $rel ("$state.runs", "$state.run_objects", "$state.meta", $log, $shadow)
	{
		is( $node->safe_psql('postgres',
				"SELECT has_table_privilege('$who', '$rel', '$privs')"),
			'f', "$who has no privilege on $rel");
	}
	is( $node->safe_psql('postgres',
			"SELECT has_schema_privilege('$who', '$state', 'USAGE') OR has_schema_privilege('$who', '$state', 'CREATE')"),
		'f', "$who has no privilege on schema $state");
	is( $node->safe_psql('postgres',
			"SELECT has_function_privilege('$who', '$state.capture_$oid()', 'EXECUTE')"),
		'f', "$who may not execute the capture function");
}
is( $node->safe_psql('postgres',
		qq{SELECT prosecdef AND proconfig::text LIKE '%search_path=pg_catalog, pg_temp%'
		   FROM pg_proc WHERE oid = '$state.capture_$oid()'::regprocedure}),
	't', 'the capture function is SECURITY DEFINER with a safe search_path');
is( $node->safe_psql('postgres',
		qq{SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
		   aclexplode(c.relacl) a WHERE n.nspname = '$state' AND a.grantee = 0}),
	0, "nothing in schema $state is granted to PUBLIC");
is( $node->safe_psql('postgres', "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = '$state'"),
	'owner', "the state schema $state belongs to the table's owner");

my ($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'the owner (not a superuser) rebuilt the table');
isnt(table_oid($node, 'shop.orders'), $oid, 'the table is new');
is(table_md5($node, 'shop.orders', 'id'), table_md5($node, 'expected', 'id'),
	"app's writes during the run are all in the rebuilt table");
is(evil_calls(), $calls0,
	'no hostile function or operator was called (trigger nor tool)');
is( $node->safe_psql('postgres', q{SELECT has_table_privilege('app', 'shop.orders', 'INSERT,UPDATE,DELETE,SELECT')}),
	't', "app keeps its rights on the rebuilt table");
($ok, $werr) = app_change('after');
ok($ok, 'app writes to the rebuilt table') or diag $werr;
unlike("$out$err", qr/\Q$secret\E/, 'the password is not in the output of a run (-v)');
nothing_left($node, 'nothing left');

# -U owner on the command line, over TCP with the password from PGPASSWORD.
($rc, $out, $err) = run_rebuild($node, { env => { PGPASSWORD => $secret } },
	'-h', '127.0.0.1', '-p', $port, '-U', 'owner', '-d', 'postgres', '-t', 'shop.orders');
is($rc, 0, '-U owner (-h/-p, PGPASSWORD) rebuilds the table');
unlike("$out$err", qr/\Q$secret\E/, '... without the password in its output');
is(evil_calls(), $calls0, '... and without a hostile call');

# With --echo, every statement is shown: still no password, no hostile call.
($rc, $out, $err) = run_rebuild($node, '-d', $conn, '-e', '-t', 'shop.orders');
is($rc, 0, 'a run with --echo works');
unlike("$out$err", qr/\Q$secret\E/, 'the password is not in the --echo output');
is(evil_calls(), $calls0, 'still no hostile call');

# ------------------------------------------------------------------------
# The password is in no output of a failing run.
# ------------------------------------------------------------------------
($rc, $out, $err) = run_rebuild($node, '-d', $conn, '-t', 'shop.nokey');
is($rc, 1, 'a refused run (no replay key) exits 1');
unlike("$out$err", qr/\Q$secret\E/, '... without the password in its output');

($rc, $out, $err) = run_rebuild($node, '-d', $conn, '-t', 'shop.nosuch');
is($rc, 1, 'a run on a missing table exits 1');
unlike("$out$err", qr/\Q$secret\E/, '... without the password in its output');

my $wrong = 'Wr0ng-pw-xyz';
($rc, $out, $err) = run_rebuild($node,
	'-d', "host=127.0.0.1 port=$port user=owner password=$wrong dbname=postgres",
	'-t', 'shop.orders');
is($rc, 1, 'a wrong password: exit 1');
like($err, qr/password authentication failed for user "owner"/, '... saying authentication failed');
unlike("$out$err", qr/\Q$wrong\E/, '... without the password in its output');

for my $bad (
	"host=127.0.0.1 port=$port user=owner password=$secret dbname=postgres sslmode=bogus",
	"host=127.0.0.1 port=$port user=owner password=$secret dbname",
	"postgresql://owner:$secret\@127.0.0.1:notaport/postgres",
	"postgresql://owner:$secret\@127.0.0.1:$port/nosuchdb")
{
	# (--retry-timeout 1: an invalid port is retried, see t/024_bad_input.pl)
	($rc, $out, $err) = run_rebuild($node, '-d', $bad, '--retry-timeout', '1', '-t', 'shop.orders');
	is($rc, 1, "a bad connection string exits 1");
	unlike("$out$err", qr/\Q$secret\E/, "... without the password in its output ($err)");
}

# Exit 3: the run loses its sessions and cannot log in again; the --cleanup
# command it prints names the database, host, port and user, never the password.
$h = start_rebuild($node, { env => { hold_env('REPLAY_BATCH') } },
	'-d', $conn, '--retry-timeout', '1', '-t', 'shop.orders');
ok(hold_run($h, 'REPLAY_BATCH'), 'exit 3: the run is under way (held in the replay)');
$node->safe_psql('postgres', 'ALTER ROLE owner NOLOGIN');
terminate_tool_backends($node);
($rc, $out, $err) = finish_rebuild($h);    # (lets it go on)
$node->safe_psql('postgres', 'ALTER ROLE owner LOGIN');
is($rc, 3, 'exit 3: the run could not reconnect to clean up');
my ($cmd) = $err =~ /^pg_rebuild: hint: Run: (pg_rebuild --cleanup .*)$/m;
ok(defined $cmd, 'exit 3: it prints the --cleanup command');
unlike("$out$err", qr/\Q$secret\E/, 'exit 3: the password is nowhere in its output');
like($cmd // '', qr/-d 'postgres' -h '127\.0\.0\.1' -p '$port' -U 'owner' -t '"shop"\."orders"'/,
	'exit 3: the command names the database, host, port, user and table');
($rc, $out, $err) = run_rebuild($node, '--status', '-d', $conn);
is($rc, 3, 'exit 3: --status shows the dead run');
unlike("$out$err", qr/\Q$secret\E/, 'exit 3: no password in --status');
my ($status_cmd) = $out =~ /: run (pg_rebuild --cleanup .*)$/m;
is($status_cmd, $cmd, 'exit 3: --status gives the same --cleanup command, with the connection options');
# The printed command works as printed (the password comes from PGPASSWORD).
my @args = ($cmd // '') =~ /'[^']*'|\S+/g;
s/^'(.*)'$/$1/ for @args;
shift @args;    # pg_rebuild
($rc, $out, $err) = run_rebuild($node, { env => { PGPASSWORD => $secret } }, @args);
is($rc, 0, 'exit 3: the printed --cleanup command works');
unlike("$out$err", qr/\Q$secret\E/, 'exit 3: no password in the --cleanup output');
nothing_left($node, 'exit 3: nothing left after the cleanup');
# --cleanup: an existence check that fails (here the role may not read
# pg_trigger, as on a hardened server) is reported as itself, never read as
# "nothing to drop", which ended in "current transaction is aborted" and hid
# the cause.
$h = start_rebuild($node, { env => pause_env(AFTER_INSTALL => 300000) }, '-d', $conn, '-t', 'shop.orders');
ok(wait_for_output($h, qr/pausing at AFTER_INSTALL/), 'a failed existence check: a run installed its triggers');
($rc) = kill_rebuild($h, 'KILL');
ok(wait_tool_gone($node), 'a failed existence check: the run was killed');
$node->safe_psql('postgres', 'REVOKE SELECT ON pg_catalog.pg_trigger FROM PUBLIC');
($rc, $out, $err) = run_rebuild($node, '--cleanup', '-d', $conn);
$node->safe_psql('postgres', 'GRANT SELECT ON pg_catalog.pg_trigger TO PUBLIC');
# (the state schema's own check reads pg_trigger first: the run's state is
# not used at all, and the failure says so)
is($rc, 1, 'a failed existence check: --cleanup exits 1, it could not do its work');
like($err, qr/^pg_rebuild: error: could not lock and check state schema \S+ \(owner owner\): permission denied for table pg_trigger$/m,
	'a failed existence check: the failure is named as it is');
like($err, qr/^pg_rebuild: detail: Nothing in it was read or changed\.$/m,
	'a failed existence check: it says nothing was changed');
unlike($out, qr/nothing to clean up/, 'a failed existence check: it does not claim there is nothing to clean up');
unlike($err, qr/current transaction is aborted|25P02/, 'a failed existence check: no aborted transaction in its place');
is(table_triggers($node, 'shop.orders'), 'pgrebuild_capture,pgrebuild_truncate',
	'a failed existence check: the triggers are still there, as said');
($rc, $out, $err) = run_rebuild($node, '--cleanup', '-d', $conn);
is($rc, 0, 'a failed existence check: once pg_trigger is readable, --cleanup removes everything');
nothing_left($node, 'a failed existence check: nothing left');

is(evil_calls(), $calls0, 'no hostile call in any of these runs');

$node->stop;
done_testing();
