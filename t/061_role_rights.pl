# 061_role_rights.pl: who may rebuild a table, as the rights of roles changed
# in PostgreSQL 16 and 17.  A role with the MAINTAIN privilege (17) but not
# the table's ownership is refused, and told that MAINTAIN does not cover
# renaming and dropping the table; a member of the owner's role whose
# membership was granted WITH SET FALSE (16) cannot SET ROLE to the owner,
# and is refused before anything is created; with SET TRUE it rebuilds.
# Each part is skipped, naming the version, where the server lacks it.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;

my $node = new_node('role_rights');

$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE ROLE app_owner LOGIN;
	CREATE ROLE janitor LOGIN;
	CREATE ROLE helper LOGIN;
	CREATE ROLE deputy LOGIN;
	GRANT CREATE ON DATABASE postgres TO app_owner;
	GRANT CREATE ON SCHEMA public TO app_owner;
	CREATE TABLE public.jobs (id int PRIMARY KEY, v text);
	INSERT INTO public.jobs SELECT g, 'v' || g FROM generate_series(1, 3000) g;
	ALTER TABLE public.jobs OWNER TO app_owner;
});

sub table_state
{
	return $node->safe_psql('postgres', q{
		SELECT c.oid || ' ' || (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid)
			|| ' ' || (SELECT count(*) FROM public.jobs)
		FROM pg_class c WHERE c.oid = 'public.jobs'::regclass});
}

# A refusal as ROLE: exit 1, the messages, and the table as it was.
sub refused
{
	my ($name, $role, @messages) = @_;
	my $before = table_state();
	my ($rc, $out, $err) = run_rebuild($node, '-U', $role, '-t', 'public.jobs');
	is($rc, 1, "$name: exit 1");
	like($err, $_, "$name: stderr matches $_") for @messages;
	like($err, qr/^pg_rebuild: detail: Nothing was changed\.$/m, "$name: stderr says nothing was changed");
	is(table_state(), $before, "$name: same table (OID, no trigger, same rows)");
	is_deeply([ run_leftovers($node) ], [], "$name: no per-run object left");
}

SKIP:
{
	my $why = need_version($node, 170000, 'MAINTAIN privilege');
	skip $why, 6 if $why;
	$node->safe_psql('postgres', 'GRANT MAINTAIN ON public.jobs TO janitor');
	# MAINTAIN itself works: the role may CLUSTER and VACUUM the table
	$node->safe_psql('postgres', 'SET ROLE janitor; VACUUM public.jobs; ANALYZE public.jobs');
	refused('MAINTAIN without ownership', 'janitor',
		qr/^pg_rebuild: error: must be the owner of table "public"\."jobs" to rebuild it \(its owner is app_owner, you are janitor\)$/m,
		qr/^pg_rebuild: detail: You hold the MAINTAIN privilege on it, .*but not renaming or dropping the table, which the swap does\.$/m);
}

SKIP:
{
	my $why = need_version($node, 160000, 'GRANT ... WITH SET FALSE (role membership without SET ROLE)');
	skip $why, 8 if $why;
	$node->safe_psql('postgres', 'GRANT app_owner TO helper WITH INHERIT TRUE, SET FALSE');
	refused('member WITH SET FALSE', 'helper',
		qr/^pg_rebuild: error: must be the owner of table "public"\."jobs" to rebuild it \(its owner is app_owner, you are helper\)$/m,
		qr/^pg_rebuild: hint: Connect as "app_owner", or as a member of role "app_owner" that may SET ROLE to it/m);
	$node->safe_psql('postgres', 'GRANT app_owner TO deputy WITH INHERIT FALSE, SET TRUE');
	my $before = $node->safe_psql('postgres', "SELECT 'public.jobs'::regclass::oid");
	my ($rc, $out, $err) = run_rebuild($node, '-U', 'deputy', '-t', 'public.jobs');
	is($rc, 0, 'member WITH SET TRUE (and INHERIT FALSE): rebuilt, exit 0') or diag($err);
	isnt($node->safe_psql('postgres', "SELECT 'public.jobs'::regclass::oid"), $before,
		'member WITH SET TRUE: the table was replaced');
}

done_testing();
