# 018_run_object.pl: a run is an object: several tables rebuilt one after the
# other in one process, through the engine's API, each unaffected by the one
# before (its changes, its failure, its connections, its lock).
use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;

my $helper = dirname($ENV{PG_REBUILD}) . '/t/helpers/run_tables';
ok(-x $helper, 'the helper program that drives the engine is built');

my $node = new_node('run_object');
$node->safe_psql('postgres', q{
	CREATE TABLE a (id int PRIMARY KEY, x int, note text);
	INSERT INTO a SELECT g, g, 'a' || g FROM generate_series(1, 3000) g;
	CREATE TABLE b (id int PRIMARY KEY, x int, note text);
	INSERT INTO b SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g END, 'b' || g FROM generate_series(1, 2000) g;
	CREATE TABLE nokey (x int);
	INSERT INTO nokey SELECT g FROM generate_series(1, 10) g;
});
my $connstr = $node->connstr('postgres');

sub oid_of { $node->safe_psql('postgres', "SELECT '$_[0]'::regclass::oid") }
sub notnull_of
{
	$node->safe_psql('postgres',
		"SELECT attnotnull FROM pg_attribute WHERE attrelid = '$_[0]'::regclass AND attname = '$_[1]'");
}

# Two tables, the first with a change: the change stays with its table.
my ($oid_a, $oid_b) = (oid_of('a'), oid_of('b'));
my ($md5_a, $md5_b) = (table_md5($node, 'a'), table_md5($node, 'b'));
my ($stdout, $stderr);
my $ok = IPC::Run::run([ $helper, $connstr, '--set-not-null=a.x', 'a', 'b' ], '>', \$stdout, '2>', \$stderr);
ok($ok, 'two tables in one process: exit 0') or diag($stderr);
like($stdout, qr/^table a: exit 0 rebuilt yes rows 3000 interrupted no$/m, 'the first table was rebuilt');
like($stdout, qr/^table b: exit 0 rebuilt yes rows 2000 interrupted no$/m,
	'the second table was rebuilt, with its own figures');
isnt(oid_of('a'), $oid_a, 'a is a new table');
isnt(oid_of('b'), $oid_b, 'b is a new table');
is(table_md5($node, 'a'), $md5_a, 'a holds the same rows');
is(table_md5($node, 'b'), $md5_b, 'b holds the same rows');
is(notnull_of('a', 'x'), 't', 'a.x became NOT NULL, as asked');
is(notnull_of('b', 'x'), 'f', 'b.x did not: the first run\'s change stayed with its table');
is_deeply([ run_leftovers($node) ], [], 'nothing left behind by either run');

# A first run that fails (refused: no replay key) does not stop or taint the next.
$oid_b = oid_of('b');
$ok = IPC::Run::run([ $helper, $connstr, 'nokey', 'b' ], '>', \$stdout, '2>', \$stderr);
ok(!$ok, 'a failed table makes the process exit non-zero');
like($stdout, qr/^table nokey: exit 1 rebuilt no rows 0 interrupted no$/m, 'the first table was refused');
like($stderr, qr/"public"\."nokey" has no replay key/, 'with its reason');
like($stdout, qr/^table b: exit 0 rebuilt yes rows 2000 interrupted no$/m, 'the second table was rebuilt after it');
isnt(oid_of('b'), $oid_b, 'b is a new table again');

# A first run that fails after preflight, at its lock: a session holds a lock
# that makes the capture trigger's install wait past --wait-timeout.
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('BEGIN; LOCK TABLE a IN ROW EXCLUSIVE MODE;');
$oid_a = oid_of('a');
$oid_b = oid_of('b');
my $timer = IPC::Run::timer($PostgreSQL::Test::Utils::timeout_default);
my $h = IPC::Run::start([ $helper, $connstr, 'a', 'b' ], '>', \$stdout, '2>', \$stderr, $timer);
# The blocker is released only once the run on a has reported its result:
# that run cannot have succeeded, whatever the machine's speed.
note('waiting for the run on a to give up on its lock (--wait-timeout 10 s)');
$h->pump until $stdout =~ /^table a: /m || $timer->is_expired;
$blocker->quit;
$h->finish;
like($stdout, qr/^table a: exit 1 rebuilt no rows 0 interrupted no$/m,
	'the first table failed at its install (the lock wait timed out)');
like($stdout, qr/^table b: exit 0 rebuilt yes rows 2000 interrupted no$/m,
	'the second table was rebuilt after a failed run in the same process');
is(oid_of('a'), $oid_a, 'a is untouched');
isnt(oid_of('b'), $oid_b, 'b is a new table');
is_deeply([ run_leftovers($node) ], [], 'the failed run left nothing, and the second neither');

$node->stop;
done_testing();
