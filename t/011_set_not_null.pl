# 011_set_not_null.pl: --set-not-null makes columns NOT NULL, and refuses up front, with a count, when NULLs exist.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;

my $node = new_node('set_not_null', log_statement => 'none');

sub attnotnull
{
	my ($table, $column) = @_;
	return $node->safe_psql('postgres',
		"SELECT attnotnull FROM pg_attribute WHERE attrelid = '$table'::regclass AND attname = '$column'"
	);
}

sub table_oid
{
	my ($table) = @_;
	return $node->safe_psql('postgres', "SELECT '$table'::regclass::oid");
}

sub triggers_on
{
	my ($table) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_trigger WHERE tgrelid = '$table'::regclass");
}

# A refusal: exit 1, the messages, and the table exactly as it was.
sub refused
{
	my ($table, $args, $messages, $name) = @_;
	my $md5 = table_md5($node, $table);
	my $oid = table_oid($table);
	my %nn = map { $_ => attnotnull($table, $_) } qw(note email);
	my ($rc, $out, $err) = run_rebuild($node, '-t', $table, @$args);
	is($rc, 1, "$name: exit 1");
	like($err, $_, "$name: stderr matches $_") for @$messages;
	like($err, qr/^pg_rebuild: detail: Nothing was changed/m,
		"$name: stderr says nothing was changed");
	unlike($out, qr/^phase install/m, "$name: refused before installing anything");
	is(table_md5($node, $table), $md5, "$name: same rows");
	is(table_oid($table), $oid, "$name: same table (OID)");
	is_deeply({ map { $_ => attnotnull($table, $_) } qw(note email) },
		\%nn, "$name: NOT NULL flags unchanged");
	is(triggers_on($table), 0, "$name: no trigger on the table");
	is_deeply([ run_leftovers($node) ], [], "$name: no per-run object left");
	return ($rc, $out, $err);
}

$node->safe_psql(
	'postgres', q{
	CREATE TABLE contacts (
		id int PRIMARY KEY,
		name text NOT NULL,
		note text,
		email text DEFAULT 'nobody@example.com');
	INSERT INTO contacts
		SELECT g, 'name ' || g, 'note ' || g, 'c' || g || '@example.com'
		FROM generate_series(1, 20000) g;
});
bloat_table($node, 'contacts', delete => 0.5);

# ------------------------------------------------------------------------
# No NULLs: the column becomes NOT NULL, the rows stay.
# ------------------------------------------------------------------------
my $md5 = table_md5($node, 'contacts');
my $oid = table_oid('contacts');
is(attnotnull('contacts', 'note'), 'f', 'note allows NULL before');
my ($rc, $out, $err) =
  run_rebuild($node, '-t', 'contacts', '--set-not-null', 'note');
is($rc, 0, '--set-not-null note: exit 0');
is($err, '', '--set-not-null note: nothing on stderr');
like($out, qr/^  changes: NOT NULL on "note"$/m,
	'--set-not-null note: the intro names the change');
like($out, qr/^  method: rebuild \(--method=auto: NOT NULL is the only change, and a rebuild would reclaim about /m,
	'--set-not-null note: a bloated table is rebuilt, and the output says why');
is(attnotnull('contacts', 'note'), 't', 'note is NOT NULL now');
is(attnotnull('contacts', 'email'), 'f', 'email still allows NULL');
is(table_md5($node, 'contacts'), $md5, 'same rows');
isnt(table_oid('contacts'), $oid, 'the table is a new relation');
my ($prc, $pout, $perr) = $node->psql('postgres',
	"INSERT INTO contacts (id, name, note) VALUES (0, 'x', NULL)");
like($perr, qr/null value in column "note" of relation "contacts" violates not-null constraint/,
	'a NULL in note is refused by the rebuilt table');
is_deeply([ run_leftovers($node) ], [], 'nothing left behind');

# Asking again for a column that is NOT NULL already is harmless.
($rc, $out, $err) =
  run_rebuild($node, '-t', 'contacts', '--set-not-null', 'note');
is($rc, 0, '--set-not-null on a NOT NULL column: exit 0');
is(attnotnull('contacts', 'note'), 't', 'note is still NOT NULL');

# ------------------------------------------------------------------------
# NULLs present: refused up front, with the count.
# ------------------------------------------------------------------------
$node->safe_psql('postgres',
	'UPDATE contacts SET email = NULL WHERE id IN (SELECT id FROM contacts ORDER BY id LIMIT 3)');
refused(
	'contacts',
	[ '--set-not-null', 'email' ],
	[
		qr/^pg_rebuild: error: column "email" of "public"\."contacts" holds 3 NULL values: it cannot be made NOT NULL$/m
	],
	'3 NULLs in email');

$node->safe_psql('postgres',
	'UPDATE contacts SET email = DEFAULT WHERE id IN (SELECT id FROM contacts WHERE email IS NULL ORDER BY id LIMIT 2)');
refused(
	'contacts',
	[ '--set-not-null', 'email' ],
	[ qr/holds 1 NULL value: it cannot be made NOT NULL$/m ],
	'1 NULL in email');

# Several columns with NULLs: each is named with its own count.
$node->safe_psql('postgres',
	'ALTER TABLE contacts ADD COLUMN phone text; UPDATE contacts SET phone = id::text WHERE id % 10 <> 0');
my $phone_nulls = $node->safe_psql('postgres',
	'SELECT count(*) FROM contacts WHERE phone IS NULL');
(my $phone_fmt = $phone_nulls) =~ s/(\d)(?=(\d{3})+$)/$1,/g;
($rc, $out, $err) = refused(
	'contacts',
	[ '--set-not-null', 'email', '--set-not-null', 'phone', '--set-not-null', 'note' ],
	[
		qr/column "email" of "public"\."contacts" holds 1 NULL value/,
		qr/column "phone" of "public"\."contacts" holds \Q$phone_fmt\E NULL values/
	],
	'NULLs in two of three columns');
unlike($err, qr/column "note" of .* holds/, 'the column without NULLs is not named');

# ------------------------------------------------------------------------
# Unknown column.
# ------------------------------------------------------------------------
refused(
	'contacts',
	[ '--set-not-null', 'nosuch' ],
	[
		qr/^pg_rebuild: error: column "nosuch" of table "public"\."contacts" does not exist/m
	],
	'unknown column');
refused(
	'contacts',
	[ '--set-not-null', '"Note"' ],
	[ qr/column "Note" of table "public"\."contacts" does not exist/ ],
	'quoted "Note" is case-sensitive');

# The same column twice is a usage error.
($rc, $out, $err) = run_rebuild($node, '-t', 'contacts',
	'--set-not-null', 'note', '--set-not-null', 'NOTE');
is($rc, 2, 'a column given twice: exit 2');
like($err, qr/column "note" is given twice to --set-not-null/,
	'a column given twice: said so');

# ------------------------------------------------------------------------
# Two columns at once, both without NULLs.
# ------------------------------------------------------------------------
$node->safe_psql('postgres',
	q{UPDATE contacts SET email = DEFAULT WHERE email IS NULL;
	  UPDATE contacts SET phone = '-' WHERE phone IS NULL});
$md5 = table_md5($node, 'contacts');
($rc, $out, $err) = run_rebuild($node, '-t', 'contacts',
	'--set-not-null', 'email', '--set-not-null', 'phone');
is($rc, 0, 'two columns: exit 0');
like($out, qr/^  changes: NOT NULL on "email"; NOT NULL on "phone"$/m,
	'two columns: the intro names both');
is(attnotnull('contacts', 'email'), 't', 'email is NOT NULL now');
is(attnotnull('contacts', 'phone'), 't', 'phone is NOT NULL now');
is(attnotnull('contacts', 'note'), 't', 'note stayed NOT NULL');
is($node->safe_psql('postgres',
		q{SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef
		  WHERE adrelid = 'contacts'::regclass AND adnum = (SELECT attnum FROM pg_attribute
			WHERE attrelid = 'contacts'::regclass AND attname = 'email')}),
	q{'nobody@example.com'::text}, 'the default of email is kept');
is(table_md5($node, 'contacts'), $md5, 'two columns: same rows');
is_deeply([ run_leftovers($node) ], [], 'two columns: nothing left behind');

# ------------------------------------------------------------------------
# The application writes a NULL during the run: the run aborts cleanly and
# names the column and the row: before the copy reads the table, during the
# replay, and just before the swap (the last changes are applied under the
# swap's lock).
# ------------------------------------------------------------------------
for my $case (
	[ 'copy', 'COPY_START' ],
	[ 'replay', 'REPLAY_BATCH' ],
	[ 'swap', 'BEFORE_SWAP' ])
{
	my ($phase, $point) = @$case;
	$node->safe_psql('postgres', q{UPDATE contacts SET note = 'n' || id WHERE note IS NULL});
	# note is NOT NULL since the first run: make it nullable again.
	$node->safe_psql('postgres', 'ALTER TABLE contacts ALTER COLUMN note DROP NOT NULL');
	my $oid_before = table_oid('contacts');
	my $victim = $node->safe_psql('postgres',
		'SELECT id FROM contacts ORDER BY id DESC LIMIT 1');
	my $h = start_rebuild($node, { env => { "PGR_TEST_SLEEP_$point" => 2000 } },
		'-t', 'contacts', '--set-not-null', 'note', '--method', 'rebuild');
	ok(hold_run($h, $point), "NULL during $phase: the run is held at $point");
	ok(wait_for_run_phase($node, $phase, handle => $h),
		"NULL during $phase: ... in the $phase phase");
	$node->safe_psql('postgres',
		"UPDATE contacts SET note = NULL WHERE id = $victim");
	my $md5_now = table_md5($node, 'contacts');
	my ($rc, $out, $err) = finish_rebuild($h);
	is($rc, 1, "NULL during $phase: exit 1");
	like(
		$err,
		qr/^pg_rebuild: error: the application wrote NULL into column "note" of "public"\."contacts" during the run, so --set-not-null "note" cannot be applied$/m,
		"NULL during $phase: the column is named");
	like($err, qr/^pg_rebuild: detail: The row with key \(id\)=\($victim\) holds NULL in "note" now\.$/m,
		"NULL during $phase: the row is named by its key");
	like($err, qr/^pg_rebuild: detail: Nothing was changed/m,
		"NULL during $phase: nothing was changed");
	is(table_md5($node, 'contacts'), $md5_now,
		"NULL during $phase: the table holds what the application wrote");
	is(table_oid('contacts'), $oid_before, "NULL during $phase: same table (OID)");
	is(attnotnull('contacts', 'note'), 'f', "NULL during $phase: note still allows NULL");
	is(triggers_on('contacts'), 0, "NULL during $phase: no trigger left on the table");
	is_deeply([ run_leftovers($node) ], [], "NULL during $phase: no per-run object left");
}

done_testing();
