# 051_events.pl: --log-format=json: every line of a run is a JSON object of the documented schema (docs/events.md).
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;

my $node = new_node('events', log_statement => 'none');

$node->safe_psql(
	'postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL, qty int NOT NULL DEFAULT 0);
	CREATE INDEX items_qty ON items (qty);
	INSERT INTO items SELECT g, 'c' || g, g % 100 FROM generate_series(1, 40000) g;
});
bloat_table($node, 'items', delete => 0.5);
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');

# Every field each event type must carry, and its kind: s string, n number
# (integer or not), b boolean, ?x x or null.
my %schema = (
	phase_start => { phase => 's' },
	phase_end   => { phase => 's', duration_s => 'n', note => '?s' },
	progress    => {
		phase => 's', unit => 's', done => 'n', total => '?n',
		percent => '?n', rate_per_s => '?n', eta_s => '?n'
	},
	lock_wait => {
		phase => 's', attempt => 'n', waited_s => 'n', blocker_pid => 'n',
		blocker_mode => 's', blocker_role => 's', blocker_xact_age_s => '?n'
	},
	summary => {
		rows => 'n', changes => 'n', heap_bytes_before => 'n', heap_bytes_after => 'n',
		total_bytes_before => 'n', total_bytes_after => 'n', duration_s => 'n',
		lock_held_ms => 'n', lock_attempts => 'n'
	},
	run_end => {
		exit_code => 'n', rebuilt => 'b', interrupted => 'b', duration_s => 'n',
		rows => 'n', changes => 'n', lock_held_ms => 'n', lock_attempts => 'n'
	},
	error   => { message => 's', sqlstate => '?s' },
	warning => { message => 's' },
	detail  => { message => 's' },
	hint    => { message => 's' },
	info    => { message => 's' },
	verbose => { message => 's' });

sub kind_ok
{
	my ($v, $kind) = @_;
	return 1 if $kind =~ /^\?/ && !defined $v;
	$kind =~ s/^\?//;
	return 0 unless defined $v;
	return JSON::PP::is_bool($v) if $kind eq 'b';
	return !ref $v && $v =~ /^-?\d+(?:\.\d+)?$/ if $kind eq 'n';
	return !ref $v;
}

# Parses every line of $out; checks the common fields and each type's
# fields; returns the events.
sub events_of
{
	my ($out, $label) = @_;
	my @events;
	my @bad;
	my $json = JSON::PP->new;
	for my $line (split /\n/, $out)
	{
		my $e = eval { $json->decode($line) };
		if (!$e || ref $e ne 'HASH')
		{
			push @bad, "not a JSON object: $line";
			next;
		}
		push @bad, "schema is not 1: $line" unless ($e->{schema} // '') eq '1';
		push @bad, "bad time: $line"
		  unless ($e->{time} // '') =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
		my $fields = $schema{ $e->{event} // '' };
		if (!$fields)
		{
			push @bad, "unknown event type: $line";
			next;
		}
		for my $k (sort keys %$fields)
		{
			push @bad, "field $k is not $fields->{$k}: $line"
			  unless exists $e->{$k} || $fields->{$k} =~ /^\?/
			  and kind_ok($e->{$k}, $fields->{$k});
		}
		push @events, $e;
	}
	is_deeply(\@bad, [], "$label: every line is a JSON event of the schema");
	return @events;
}

# ------------------------------------------------------------------------
# 1. A whole run: phases with durations, progress with rates and ETAs (the
#    index phase from pg_stat_progress_create_index), the summary.
# ------------------------------------------------------------------------
my ($rc, $out, $err) = run_rebuild(
	$node,
	{ env => { PGR_TEST_COPY_CHUNK_BLOCKS => 16, PGR_TEST_INDEX_PROGRESS_MS => 1 } },
	'-t', 'items', '--log-format=json', '-v');
is($rc, 0, 'run: exit 0');
unlike($err, qr/\S/, 'run: nothing on stderr');
my @ev = events_of($out, 'run');
cmp_ok(scalar @ev, '>', 10, 'run: many events (' . scalar(@ev) . ')');
is((grep { ($_->{table} // '') !~ /^(?:items|"public"\."items")$/ } @ev), 0, 'run: every event names the table');
is((grep { $_->{event} =~ /^(?:phase_end|summary|run_end)$/ && $_->{table} ne '"public"."items"' } @ev),
	0, 'run: as preflight found it from the end of preflight on');

my @started = map { $_->{phase} } grep { $_->{event} eq 'phase_start' } @ev;
my @ended = map { $_->{phase} } grep { $_->{event} eq 'phase_end' } @ev;
is_deeply(\@started, [qw(preflight install copy reconcile index replay swap finish)], 'run: each phase starts, in order');
is_deeply(\@ended, [qw(preflight install copy reconcile index replay swap finish)], 'run: each phase ends, in order');
my ($copy_end) = grep { $_->{event} eq 'phase_end' && $_->{phase} eq 'copy' } @ev;
cmp_ok($copy_end->{duration_s}, '>', 0, 'run: the copy took some time');

my @copy = grep { $_->{event} eq 'progress' && $_->{phase} eq 'copy' } @ev;
ok(@copy >= 1, 'run: copy progress (' . scalar(@copy) . ' events)');
is($copy[-1]{unit}, 'rows', 'copy progress counts rows');
ok((grep { defined $_->{eta_s} && defined $_->{rate_per_s} } @copy), 'copy progress has a rate and an ETA');
ok($copy[-1]{done} > 0 && $copy[-1]{done} <= $rows, "copy progress: rows done within the table's $rows");

my @index = grep { $_->{event} eq 'progress' && $_->{phase} eq 'index' } @ev;
ok(@index >= 1, 'run: index progress from pg_stat_progress_create_index');
is($index[0]{total}, 2, 'index progress: out of the 2 indexes');
is($index[0]{unit}, 'indexes', 'index progress counts indexes');

my ($summary) = grep { $_->{event} eq 'summary' } @ev;
ok($summary, 'run: a summary event');
is($summary->{rows}, $rows, 'summary: the rows copied');
cmp_ok($summary->{heap_bytes_after}, '<', $summary->{heap_bytes_before}, 'summary: the heap shrank');
my ($end) = grep { $_->{event} eq 'run_end' } @ev;
is($end->{exit_code}, 0, 'run_end: exit code 0');
ok($end->{rebuilt}, 'run_end: rebuilt');
is($ev[-1]{event}, 'run_end', 'run: run_end is the last event');

# ------------------------------------------------------------------------
# 2. A swap that cannot get its lock: lock waits name the blocker; the
#    error and its detail and hint are events too.
# ------------------------------------------------------------------------
my $bg = $node->background_psql('postgres');
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_safe('BEGIN; LOCK TABLE items IN ACCESS SHARE MODE');
my $h = start_rebuild($node, '-t', 'items', '--log-format=json', '-T', '1', '--lock-timeout', '50');
ok(wait_for_output($h, qr/"event":"hint"/), 'lock: the run gives up on the swap lock');
$bg->query_safe('COMMIT');
$bg->quit;
($rc, $out, $err) = finish_rebuild($h);
is($rc, 1, 'lock: exit 1');
@ev = events_of($out, 'lock');
my @waits = grep { $_->{event} eq 'lock_wait' } @ev;
ok(@waits >= 1, 'lock: lock_wait events');
is($waits[0]{phase}, 'swap', 'lock_wait: in the swap');
is($waits[0]{blocker_pid}, $pid, 'lock_wait: names the blocking pid');
is($waits[0]{blocker_mode}, 'AccessShareLock', 'lock_wait: and its lock');
my ($error) = grep { $_->{event} eq 'error' } @ev;
like($error->{message}, qr/could not get ACCESS EXCLUSIVE/, 'lock: the error event');
is($ev[-1]{event}, 'run_end', 'lock: run_end is the last event');
is($ev[-1]{exit_code}, 1, 'lock: run_end says exit 1');

# ------------------------------------------------------------------------
# 3. An error of the server carries its SQLSTATE.
# ------------------------------------------------------------------------
($rc, $out, $err) = run_rebuild($node, '-t', 'items', '--log-format=json', '--order-by', 'no_such_column');
is($rc, 1, 'sqlstate: exit 1');
@ev = events_of($out, 'sqlstate');
($error) = grep { $_->{event} eq 'error' } @ev;
is($error->{sqlstate}, '42703', 'sqlstate: the error event has the server\'s SQLSTATE (undefined column)');

# Text stays text.
($rc, $out, $err) = run_rebuild($node, '-t', 'items');
is($rc, 0, 'text: exit 0');
like($out, qr/^phase copy /m, 'text: phase lines as before');
unlike($out, qr/^\{/m, 'text: no JSON');

done_testing();
