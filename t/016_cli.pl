# 016_cli.pl: the command line: help, version, usage errors, --dry-run, connection forms, passwords, application_name.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Text::ParseWords qw(shellwords);
use PgRebuildTest;

my $node = new_node(
	'cli',
	log_statement => 'none',
	conf => [ q{listen_addresses = '127.0.0.1'}, q{password_encryption = 'scram-sha-256'} ]);
my $port = $node->port;

# ------------------------------------------------------------------------
# --help, --version: exit 0, on stdout, without connecting.
# ------------------------------------------------------------------------
for my $help ('--help', '-?')
{
	my ($rc, $out, $err) = run_rebuild($node, $help);
	is($rc, 0, "$help: exit 0");
	is($err, '', "$help: nothing on stderr");
	like($out, qr/^Usage:$/m, "$help: prints the usage");
	for my $opt (
		qw(-t --table --set-not-null -o --order-by -j --jobs -n --dry-run -T --wait-timeout
		--lock-timeout --cleanup -e --echo -v --verbose -q --quiet -V --version -? --help
		-d --dbname -h --host -p --port -U --username -w --no-password -W --password
		--status --json --kill-blockers --allow-old-snapshots --retry-timeout --catchup-timeout --no-order --alter --method --keep-old --archive-old))
	{
		like($out, qr/(?:^|[\s,])\Q$opt\E(?:[\s=,]|$)/m, "$help mentions $opt");
	}
	like($out, qr/Exit status: 0 rebuilt, nothing left behind; 1 failed.*2 bad usage; 3 leftovers remain.*--cleanup: 0 nothing\s+dead left, 3 some left \(with --dry-run: dead runs to clean up\)/s,
		"$help: explains the exit codes");
}
for my $version ('--version', '-V')
{
	my ($rc, $out, $err) = run_rebuild($node, $version);
	is($rc, 0, "$version: exit 0");
	is($out, "pg_rebuild 0.1.0\n", "$version: prints the name and version");
	is($err, '', "$version: nothing on stderr");
}

# ------------------------------------------------------------------------
# Usage errors: exit 2, one error and a pointer to --help, nothing on stdout.
# ------------------------------------------------------------------------
my @usage = (
	[ [ '--bogus', '-t', 'x' ], qr/unrecognized option "--bogus"/, 'an unknown long option' ],
	[ [ '-x', '-t', 'x' ], qr/invalid option -- 'x'/, 'an unknown short option' ],
	[ [], qr/no table given: use -t TABLE/, 'no -t' ],
	[ [ '-t' ], qr/option "-t" requires a value/, '-t without a value' ],
	[ [ '-t', 'x', 'extra' ], qr/too many command-line arguments \(first is "extra"\)/, 'an extra argument' ],
	[ [ '-t', 'x', '-j', '0' ], qr/invalid value "0" for --jobs/, '-j 0' ],
	[ [ '-t', 'x', '-j', 'two' ], qr/invalid value "two" for --jobs/, '-j two' ],
	[ [ '-t', 'x', '-T', '-1' ], qr/invalid value "-1" for --wait-timeout/, '-T -1' ],
	[ [ '-t', 'x', '--lock-timeout', '0' ], qr/invalid value "0" for --lock-timeout/, '--lock-timeout 0' ],
	[ [ '-t', 'x', '-q', '-v' ], qr/--quiet and --verbose cannot be used together/, '-q with -v' ],
	[ [ '-t', 'x', '-o', '  ' ], qr/--order-by needs an ORDER BY list/, '-o with blanks only' ],
	[ [ '-t', 'x', '-o', 'a', '--no-order' ], qr/--order-by and --no-order cannot be used together/, '-o with --no-order' ],
	[ [ '-t', 'x', '-w', '-W' ], qr/-w\/--no-password and -W\/--password cannot be used together/, '-w with -W' ],
	[ [ '--status', '--no-order' ], qr/--status cannot be combined with .*--no-order/, '--status with --no-order' ],
	[ [ '--cleanup', '--set-not-null', 'a' ], qr/--cleanup cannot be combined with --set-not-null/, '--cleanup with --set-not-null' ],
	[ [ '--cleanup', '--status' ], qr/--cleanup and --status cannot be used together/, '--cleanup with --status' ],
	[ [ '-t', 'x', '--json' ], qr/--json goes with --status/, '--json without --status' ],
	[ [ '-t', 'x', '--catchup-timeout', '0' ], qr/invalid value "0" for --catchup-timeout/, '--catchup-timeout 0' ],
	[ [ '-t', 'x', '--retry-timeout', 'soon' ], qr/invalid value "soon" for --retry-timeout/, '--retry-timeout soon' ],
);
# Every option that takes one value, given twice: a usage error naming it
# and both values, never one of them dropped.  (-t, --schema and the
# exclusions take many: t/050_nightly.pl.)
for my $twice (
	[ '-o', 'a', '--order-by', 'b' ],
	[ '--min-bloat', '10', '--min-bloat=20' ],
	[ '--report', 'a.json', '--report', 'b.json' ],
	[ '-j', '2', '--jobs=3' ],
	[ '-T', '1', '--wait-timeout', '2' ],
	[ '--lock-timeout', '100', '--lock-timeout=200' ],
	[ '--retry-timeout', '1', '--retry-timeout', '2' ],
	[ '--catchup-timeout', '1', '--catchup-timeout', '2' ],
	[ '-h', 'localhost', '-h', '127.0.0.1' ],
	[ '-p', '5432', '--port=5433' ],
	[ '-U', 'me', '--username', 'you' ])
{
	my ($first_opt, @rest) = @$twice;
	my ($v1) = $twice->[1];
	my ($v2) = $twice->[-1] =~ /^--[a-z-]+=(.*)$/ ? $1 : $twice->[-1];
	my %long = (
		'-t' => 'table', '-o' => 'order-by', '-j' => 'jobs', '-T' => 'wait-timeout',
		'-d' => 'dbname', '-h' => 'host', '-p' => 'port', '-U' => 'username');
	my $name = $first_opt =~ /^--(.*)/ ? "--$1" : "$first_opt/--$long{$first_opt}";
	my @args = @$twice;
	unshift @args, '-t', 'x' unless $first_opt eq '-t';
	push @usage, [ \@args, qr/\Q$name is given twice ("$v1", then "$v2")\E/, "$name given twice" ];
}
# -d twice: said, but its values are not echoed (a connection string may
# hold a password).
push @usage,
  [ [ '-t', 'x', '-d', 'postgres', '-d', 'host=h password=secret456' ],
	qr/-d\/--dbname is given twice: it takes one database name, connection string or URI; give it once/,
	'-d given twice' ];
for my $u (@usage)
{
	my ($args, $re, $name) = @$u;
	my ($rc, $out, $err) = run_rebuild($node, @$args);
	is($rc, 2, "$name: exit 2");
	like($err, qr/^pg_rebuild: error: .*$re/m, "$name: says what is wrong");
	like($err, qr/^pg_rebuild: hint: Try "pg_rebuild --help" for more information\.$/m,
		"$name: points to --help");
	is($out, '', "$name: nothing on stdout");
	unlike($err, qr/secret456/, "$name: no password echoed");
}

# ------------------------------------------------------------------------
# --dry-run: the whole plan with the lock of each statement; nothing changes.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	CREATE TABLE items (id serial PRIMARY KEY, code text NOT NULL UNIQUE, note text);
	CREATE INDEX items_note ON items (note);
	INSERT INTO items (code, note) SELECT 'c' || g, 'n' || g FROM generate_series(1, 5000) g;
	DELETE FROM items WHERE id % 3 = 0;
});
my $catalog_sql = q{SELECT (SELECT count(*) FROM pg_class) || '/' || (SELECT count(*) FROM pg_proc)
	|| '/' || (SELECT count(*) FROM pg_trigger) || '/' || (SELECT count(*) FROM pg_namespace)};
my $catalog = $node->safe_psql('postgres', $catalog_sql);
my $md5 = table_md5($node, 'items');
my $oid = $node->safe_psql('postgres', q{SELECT 'items'::regclass::oid});
my ($rc, $out, $err) = run_rebuild($node, '-t', 'items', '--dry-run',
	'--set-not-null', 'note', '-o', 'code DESC');
is($rc, 0, '--dry-run: exit 0');
is($err, '', '--dry-run: nothing on stderr');
like($out, qr/^-- pg_rebuild plan for "public"\."items" \(dry run: nothing was changed\)$/m,
	'--dry-run: says it is a plan');
for my $phase (qw(preflight install copy reconcile index replay swap finish))
{
	like($out, qr/^-- \[$phase\] /m, "--dry-run: has the $phase phase");
}
like($out, qr/^-- \[install\] lock: SHARE ROW EXCLUSIVE on the table, under lock_timeout\nCREATE TRIGGER pgrebuild_capture /m,
	'--dry-run: the capture trigger with its lock');
like($out, qr/^-- lock: ACCESS EXCLUSIVE on the table \(held until COMMIT\)\nLOCK TABLE "public"\."items" IN ACCESS EXCLUSIVE MODE;$/m,
	'--dry-run: LOCK TABLE with its lock');
like($out, qr/^SET LOCAL lock_timeout = '100ms';$/m, '--dry-run: the swap runs under lock_timeout');
like($out, qr/^-- \[swap\] lock: ACCESS EXCLUSIVE on the table \(held\)\nALTER TABLE "public"\."items" RENAME TO "pgrebuild_old_\d+";$/m,
	'--dry-run: the rename of the swap');
# (on 18 the NOT NULL is a named constraint, named as ALTER TABLE ... SET NOT NULL names it)
like($out, qr/^CREATE TABLE "public"\."pgrebuild_new_\d+" \(\n(?:.*\n)*?    "note" text (?:CONSTRAINT "items_note_not_null" )?NOT NULL\n/m,
	'--dry-run: the shadow table has the requested NOT NULL');
like($out, qr/^INSERT INTO "public"\."pgrebuild_new_\d+" .* FROM ONLY "public"\."items" ORDER BY code DESC;$/m,
	'--dry-run: the copy has the requested order');

# Every statement is in a block that says which lock it takes (transaction
# control aside).
my @unlocked;
for my $block (split /\n\s*\n/, $out)
{
	my @lines = split /\n/, $block;
	my @sql = grep { !/^--/ && !/^(?:BEGIN|COMMIT|SET LOCAL lock_timeout = '\d+ms');$/ } @lines;
	next unless @sql;
	push @unlocked, $block unless grep { /^-- .*\block\b/ } @lines;
}
is_deeply(\@unlocked, [], '--dry-run: every statement comes with its lock');

is($node->safe_psql('postgres', $catalog_sql), $catalog,
	'--dry-run: no relation, function, trigger or schema was created');
is_deeply([ state_schemas($node) ], [], '--dry-run: no state schema was created');
is(table_md5($node, 'items'), $md5, '--dry-run: same rows');
is($node->safe_psql('postgres', q{SELECT 'items'::regclass::oid}), $oid, '--dry-run: same table (OID)');
is($node->safe_psql('postgres',
		q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'note'}),
	'f', '--dry-run: note still allows NULL');

# A dry run is a real preflight: it refuses what a run would refuse.
$node->safe_psql('postgres', 'UPDATE items SET note = NULL WHERE id = 1');
($rc, $out, $err) = run_rebuild($node, '-t', 'items', '--dry-run', '--set-not-null', 'note');
is($rc, 1, '--dry-run with NULLs: exit 1');
like($err, qr/column "note" of "public"\."items" holds 1 NULL value/, '--dry-run with NULLs: said so');
$node->safe_psql('postgres', q{UPDATE items SET note = 'n1' WHERE id = 1});

# ------------------------------------------------------------------------
# -d as a connection string and as a URI; host and port options.
# ------------------------------------------------------------------------
$md5 = table_md5($node, 'items');
my $socket = $node->host;
for my $case (
	[ 'a connection string (socket)', [ '-d', "host=$socket port=$port dbname=postgres" ] ],
	[ 'a connection string (TCP)', [ '-d', "host=127.0.0.1 port=$port dbname=postgres" ] ],
	[ 'a URI', [ '-d', "postgresql://127.0.0.1:$port/postgres" ] ],
	[ 'a URI with a socket', [ '-d', "postgresql:///postgres?host=$socket&port=$port" ] ],
	[ '-h -p and a database name', [ '-h', '127.0.0.1', '-p', $port, '-d', 'postgres' ] ])
{
	my ($name, $conn) = @$case;
	($rc, $out, $err) = run_rebuild($node, { env => { PGDATABASE => 'postgres' } }, @$conn, '-t', 'items');
	is($rc, 0, "-d $name: exit 0");
	like($out, qr/^rebuilt "public"\."items": /m, "-d $name: rebuilt");
}
is(table_md5($node, 'items'), $md5, 'after five rebuilds: same rows');
($rc, $out, $err) = run_rebuild($node, '-d', "host=127.0.0.1 port=$port dbname=nosuchdb", '-t', 'items');
is($rc, 1, 'an unknown database: exit 1');
like($err, qr/^pg_rebuild: error: could not connect to the database: .*database "nosuchdb" does not exist/m,
	'an unknown database: the server message is shown');

# ------------------------------------------------------------------------
# Passwords: never printed, whatever happens.
# ------------------------------------------------------------------------
my $hba = $node->data_dir . '/pg_hba.conf';
my $hba_text = slurp_file($hba);
open(my $fh, '>', $hba) or die "cannot write $hba: $!";
print $fh "host all pwuser 127.0.0.1/32 scram-sha-256\n$hba_text";
close $fh;
$node->reload;
$node->safe_psql('postgres', q{CREATE ROLE pwuser LOGIN PASSWORD 'secret123'; CREATE DATABASE pwdb OWNER pwuser});
$node->safe_psql(
	'pwdb', q{
	CREATE TABLE pw_items (id int PRIMARY KEY, v text);
	INSERT INTO pw_items SELECT g, 'v' || g FROM generate_series(1, 3000) g;
	ALTER TABLE pw_items OWNER TO pwuser;
});
my $pw_conn = "host=127.0.0.1 port=$port dbname=pwdb user=pwuser";
my $pw_md5 = table_md5($node, 'pw_items', undef, dbname => 'pwdb');

sub no_secret
{
	my ($name, $out, $err, $secret) = @_;
	$secret //= 'secret123';
	unlike($out, qr/\Q$secret\E/, "$name: the password is not on stdout");
	unlike($err, qr/\Q$secret\E/, "$name: the password is not on stderr");
	return;
}

($rc, $out, $err) = run_rebuild($node, { env => { PGPASSWORD => undef } },
	'-w', '-d', $pw_conn, '-t', 'pw_items');
is($rc, 1, 'password auth without a password and -w: exit 1');
like($err, qr/could not connect to the database: .*(?:no password supplied|password authentication failed)/,
	'password auth without a password: said so');

($rc, $out, $err) = run_rebuild($node, { env => { PGPASSWORD => undef } },
	'-v', '-e', '-d', "$pw_conn password=secret123", '-t', 'pw_items');
is($rc, 0, 'password in the connection string: exit 0');
no_secret('password in the connection string, -v -e', $out, $err);

($rc, $out, $err) = run_rebuild($node, { env => { PGPASSWORD => undef } },
	'-v', '-d', "postgresql://pwuser:secret123\@127.0.0.1:$port/pwdb", '-t', 'pw_items');
is($rc, 0, 'password in a URI: exit 0');
no_secret('password in a URI', $out, $err);

($rc, $out, $err) = run_rebuild($node, { env => { PGPASSWORD => undef } },
	'-v', '-d', "$pw_conn password=secret123", '-t', 'no_such_table');
is($rc, 1, 'password in the connection string, unknown table: exit 1');
like($err, qr/table "no_such_table" does not exist/, 'unknown table: said so');
no_secret('password in the connection string, unknown table', $out, $err);

($rc, $out, $err) = run_rebuild($node, { env => { PGPASSWORD => undef } },
	'-d', "$pw_conn password=wrongsecret456", '-t', 'pw_items');
is($rc, 1, 'a wrong password: exit 1');
like($err, qr/password authentication failed for user "pwuser"/, 'a wrong password: said so');
no_secret('a wrong password', $out, $err, 'wrongsecret456');

($rc, $out, $err) = run_rebuild($node, { env => { PGPASSWORD => 'secret123' } },
	'-w', '-d', $pw_conn, '-t', 'pw_items');
is($rc, 0, 'PGPASSWORD: exit 0');
no_secret('PGPASSWORD', $out, $err);
is(table_md5($node, 'pw_items', undef, dbname => 'pwdb'), $pw_md5, 'password runs: same rows');

# A run that leaves objects behind prints the --cleanup command to run:
# with the connection's host, port and user, without its password.
my $bg = $node->background_psql('pwdb');
$bg->query_safe('BEGIN; LOCK TABLE pw_items IN ACCESS SHARE MODE');
($rc, $out, $err) = run_rebuild($node, { env => { PGPASSWORD => undef } },
	'-d', "$pw_conn password=secret123", '-t', 'pw_items', '-T', '1');
is($rc, 3, 'password in the connection string, leftovers: exit 3');
no_secret('password in the connection string, leftovers', $out, $err);
my ($cleanup) = $err =~ /^pg_rebuild: hint: Run: pg_rebuild (--cleanup .*)$/m;
ok(defined $cleanup, 'leftovers: the --cleanup command is given');
$cleanup //= '';
# values are shell-quoted, so the command can be pasted as it is
like($cleanup, qr/-d 'pwdb'/, 'the --cleanup command names the database');
like($cleanup, qr/-h '127\.0\.0\.1'/, 'the --cleanup command names the host');
like($cleanup, qr/-p '$port'/, 'the --cleanup command names the port');
like($cleanup, qr/-U 'pwuser'/, 'the --cleanup command names the user');
$bg->query_safe('COMMIT');
$bg->quit;
($rc, $out, $err) = run_rebuild($node, { env => { PGPASSWORD => 'secret123' } }, shellwords($cleanup));
is($rc, 0, 'the printed --cleanup command works (password from PGPASSWORD)');
is_deeply([ run_leftovers($node, dbname => 'pwdb') ], [], 'after --cleanup: nothing left behind');
is(table_md5($node, 'pw_items', undef, dbname => 'pwdb'), $pw_md5, 'after --cleanup: same rows');

# ------------------------------------------------------------------------
# application_name: every session of the tool says pg_rebuild.
# ------------------------------------------------------------------------
# (sessions named pg_rebuild, client sessions but this one)
sub sessions
{
	return split /\|/, $node->safe_psql('postgres',
		q{SELECT count(*) FILTER (WHERE application_name = 'pg_rebuild'), count(*)
		  FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()});
}
my $h = start_rebuild($node,
	{ env => { hold_env('COPY_START', 'BEFORE_SWAP'), PGAPPNAME => 'not_this' } },
	'-t', 'items', '-j', '2');
# (the copy workers are connected before the copy starts)
ok(hold_run($h, 'COPY_START'), 'application_name: the run is held as its copy starts');
my ($named, $all) = sessions();
cmp_ok($named, '>=', 3, "application_name: $named sessions named pg_rebuild while copying with -j 2");
is($all, $named, 'application_name: every session of the run is named pg_rebuild');
release_run($h);
ok(hold_run($h, 'BEFORE_SWAP'), 'application_name: the run is held before the swap');
($named, $all) = sessions();
cmp_ok($named, '>=', 1, "application_name: $named sessions named pg_rebuild before the swap");
is($all, $named, 'application_name: still every session of the run');
($rc, $out, $err) = finish_rebuild($h);    # (lets it go on)
is($rc, 0, 'application_name: the run succeeds');

done_testing();
