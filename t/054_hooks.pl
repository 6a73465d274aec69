# 054_hooks.pl: --hook: each event reaches the hook with its JSON and its environment, a before-swap hook postpones the swap, a hanging hook is killed, failure runs it too.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use PgRebuildTest;
use PgRebuildFault;

my $node = new_node('hooks', log_statement => 'none');
# A name a shell would act on if it ever reached a command line.
my $name = q{we"ird $(touch INJECTED) name};
(my $quoted = $name) =~ s/"/""/g;
$quoted = qq{"$quoted"};
$node->safe_psql(
	'postgres', qq{
	CREATE TABLE $quoted (id int PRIMARY KEY, code text NOT NULL);
	INSERT INTO $quoted SELECT g, 'c' || g FROM generate_series(1, 20000) g;
});
bloat_table($node, $quoted, delete => 0.5);

my $dir = PostgreSQL::Test::Utils::tempdir();

sub write_script
{
	my ($file, $text) = @_;
	open my $fh, '>', "$dir/$file" or die "$dir/$file: $!";
	print $fh $text;
	close $fh;
	return "sh $dir/$file";
}

# Appends one record per call: the environment it was given, then its stdin
# (read as a shell reads a line: it must end with a newline, and be the only one).
my $record = write_script('record.sh', <<"EOF");
{
	printf 'EVENT=%s\\n' "\$PGR_EVENT"
	printf 'TABLE=%s\\n' "\$PGR_TABLE"
	printf 'SCHEMA=%s\\n' "\$PGR_SCHEMA"
	printf 'TABLE_NAME=%s\\n' "\$PGR_TABLE_NAME"
	printf 'RUN_ID=%s\\n' "\$PGR_RUN_ID"
	printf 'PHASE=%s\\n' "\$PGR_PHASE"
	printf 'EXIT_CODE=%s\\n' "\${PGR_EXIT_CODE-unset}"
	if IFS= read -r line; then ended=yes; else ended=no; fi
	printf 'JSON=%s\\nLINE_ENDED=%s\\n' "\$line" "\$ended"
	printf 'REST=%s\\n' "\$(cat)"
	printf 'END\\n'
} >> "\$HOOK_LOG"
EOF

# Refuses the swap until the file "go" exists; fails after the swap.
my $gate = write_script('gate.sh', <<"EOF");
case "\$PGR_EVENT" in
before-swap)
	if [ -e '$dir/go' ]; then exit 0; fi
	echo "not yet: no go file"
	exit 3 ;;
after-swap)
	echo "after-swap says no"
	exit 4 ;;
esac
exit 0
EOF

# Hangs at before-copy, deaf to SIGTERM, with a child in its process group.
my $hang = write_script('hang.sh', <<"EOF");
if [ "\$PGR_EVENT" = before-copy ]; then
	trap '' TERM
	sleep 600 &
	echo \$! > '$dir/hang.pids'
	echo \$\$ >> '$dir/hang.pids'
	wait
fi
exit 0
EOF

# The records a hook log holds, in order: { env..., json => decoded }.
sub records
{
	my ($log) = @_;
	my @recs;
	open my $fh, '<', $log or return ();
	local $/;
	my $text = <$fh>;
	close $fh;
	for my $block (split /^END\n/m, $text)
	{
		my %r;
		for my $line (split /\n/, $block)
		{
			next unless $line =~ /^([A-Z_]+)=(.*)$/;
			$r{$1} = $2;
		}
		next unless %r;
		$r{json} = eval { JSON::PP->new->decode($r{JSON}) };
		push @recs, \%r;
	}
	return @recs;
}

# ------------------------------------------------------------------------
# 1. A whole run: every event in order, each with valid JSON and the table
#    in the environment; the gate postpones the swap until the test lets
#    it go, the replay goes on meanwhile; a failing after-swap hook is a
#    warning and the run goes on.
# ------------------------------------------------------------------------
my $log = "$dir/run1.log";
my $oid = $node->safe_psql('postgres', "SELECT '$quoted'::regclass::oid");
my $h = start_rebuild($node, { env => { HOOK_LOG => $log } },
	'-t', $quoted, '--hook', $record, '--hook', $gate);
ok(wait_for_output($h, qr/^swap: postponed by the before-swap hook "\Q$gate\E", which exited with code 3; replaying, and asking it again every 1 s for at most --wait-timeout 60 s$/m),
	'the refusing hook postpones the swap, named with its exit code');
like($h->{stdout} . $h->{stderr}, qr/detail: Its output ended with: not yet: no go file/, 'its output is shown');
is($node->safe_psql('postgres', "SELECT '$quoted'::regclass::oid"), $oid, 'nothing is swapped while the hook refuses');
$node->safe_psql('postgres', "INSERT INTO $quoted SELECT g, 'late' || g FROM generate_series(100001, 102000) g");
my $md5 = table_md5($node, $quoted);
ok(wait_for(
		'the gate to be asked again after the writes',
		sub { (grep { $_->{EVENT} eq 'before-swap' } records($log)) >= 2 },
		stop_if => sub { rebuild_running($h) ? undef : 'the run ended' }),
	'the hook is asked again while the swap waits');
open my $go, '>', "$dir/go" or die;
close $go;
my ($rc, $out, $err) = finish_rebuild($h);
is($rc, 0, 'the hook lets the swap go: exit 0');
like($out, qr/^swap: the before-swap hooks exited 0: going on\n(?:.*\n)*?phase swap /m, 'the swap follows the hook\'s consent');
like($err, qr/warning: the after-swap hook "\Q$gate\E" exited with code 4; the run goes on\n.*detail: Its output ended with: after-swap says no/,
	'a failing after-swap hook is a warning, and the run goes on');
isnt($node->safe_psql('postgres', "SELECT '$quoted'::regclass::oid"), $oid, 'the table was swapped');
is(table_md5($node, $quoted), $md5, 'the writes made while the hook refused are in the rebuilt table');
nothing_left($node, 'nothing left after the run');

my @recs = records($log);
my @order;
for my $r (@recs)
{
	push @order, $r->{EVENT} unless @order && $order[-1] eq $r->{EVENT};
}
is_deeply(\@order, [qw(before-copy before-swap after-swap)], 'the events fire in order, failure not at all');
is((grep { !$_->{json} } @recs), 0, 'every event reaches the hook as a JSON object on its stdin');
is((grep { $_->{LINE_ENDED} ne 'yes' || $_->{REST} ne '' } @recs), 0, 'the object is one line, with its newline');
my $qname = qq{"public".$quoted};
is((grep { $_->{TABLE} ne $qname || $_->{json}{table} ne $qname } @recs), 0, 'PGR_TABLE and the JSON name the table, quoted');
is((grep { $_->{TABLE_NAME} ne $name || $_->{SCHEMA} ne 'public' } @recs), 0, 'PGR_TABLE_NAME and PGR_SCHEMA are the raw names');
is((grep { $_->{RUN_ID} !~ /^\d+$/ } @recs), 0, 'PGR_RUN_ID is the run\'s id');
is((grep { $_->{EXIT_CODE} ne 'unset' } @recs), 0, 'PGR_EXIT_CODE only at failure');
my ($copy) = grep { $_->{EVENT} eq 'before-copy' } @recs;
is_deeply([ $copy->{PHASE}, $copy->{json}{event}, $copy->{json}{phase}, $copy->{json}{schema} ],
	[ 'copy', 'phase_start', 'copy', 1 ], 'before-copy: the copy\'s phase_start event');
my @swaps = grep { $_->{EVENT} eq 'before-swap' } @recs;
is_deeply([ map { $_->{json}{attempt} } @swaps ], [ 1 .. scalar @swaps ], 'before-swap: a swap_ready event per ask, counted');
is((grep { $_->{json}{event} ne 'swap_ready' || $_->{PHASE} ne 'swap' } @swaps), 0, 'before-swap: swap_ready, phase swap');
my ($after) = grep { $_->{EVENT} eq 'after-swap' } @recs;
is_deeply([ $after->{json}{event}, $after->{json}{phase} ], [ 'phase_end', 'swap' ], 'after-swap: the swap\'s phase_end event');
like($after->{json}{note}, qr/ACCESS EXCLUSIVE held/, 'after-swap: with the lock figures');
ok(!-e 'INJECTED' && !-e "$dir/INJECTED", 'the table name ran nothing');

# ------------------------------------------------------------------------
# 2. A hook that hangs, deaf to SIGTERM: killed with its process group
#    after --hook-timeout, named, and the run goes on (JSON output, which
#    the hook's output does not enter).
# ------------------------------------------------------------------------
($rc, $out, $err) = run_rebuild($node, '-t', $quoted, '--hook', $hang, '--hook-timeout', '1',
	'--log-format', 'json', '-v');
is($rc, 0, 'a hanging hook does not stop the run: exit 0');
my @ev = map { JSON::PP->new->decode($_) } split /\n/, $out;
is($err, '', 'nothing on stderr with --log-format=json');
my ($warn) = grep { $_->{event} eq 'warning' && $_->{message} =~ /hook/ } @ev;
like($warn->{message},
	qr/^the before-copy hook "\Q$hang\E" did not finish within --hook-timeout 1 s: its process group was sent SIGTERM, then SIGKILL 2 s later; the run goes on$/,
	'the hanging hook is named, with how it was ended');
my ($hev) = grep { $_->{event} eq 'hook' && $_->{hook} eq 'before-copy' } @ev;
ok($hev && $hev->{timed_out} && !defined $hev->{exit_code} && $hev->{duration_s} >= 3,
	'the hook event: timed out, ended after the timeout and the grace');
my @pids = do { open my $fh, '<', "$dir/hang.pids" or die; map { chomp; $_ } <$fh> };
is(scalar @pids, 2, 'the hook and its child had started');
sub gone
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return 1;
	my $stat = <$fh>;
	return $stat =~ /^\d+ \(.*\) Z /;
}
is((grep { !gone($_) } @pids), 0, 'the hook and its child are both ended');
ok((grep { $_->{event} eq 'swap_ready' } @ev) == 1, 'the swap_ready event is in the log once');
is($ev[-1]{event}, 'run_end', 'run_end is still the last event');

# ------------------------------------------------------------------------
# 3. Failure: a before-swap hook that never consents makes the run give up
#    after --wait-timeout (nothing swapped, nothing left), and the failure
#    event gets the run_end object; so does a run that fails at preflight.
# ------------------------------------------------------------------------
unlink "$dir/go";
$log = "$dir/run3.log";
$oid = $node->safe_psql('postgres', "SELECT '$quoted'::regclass::oid");
($rc, $out, $err) = run_rebuild($node, { env => { HOOK_LOG => $log } },
	'-t', $quoted, '--hook', $gate, '--hook', $record, '-T', '2');
is($rc, 1, 'a hook that keeps refusing: exit 1');
like($err, qr/error: the before-swap hook "\Q$gate\E" postponed the swap for --wait-timeout 2 s: nothing was swapped\n.*hint: Make the hook exit 0 when the swap may go, or give a longer --wait-timeout\./,
	'it says why, and what to do');
is($node->safe_psql('postgres', "SELECT '$quoted'::regclass::oid"), $oid, 'the table was not swapped');
nothing_left($node, 'nothing left after giving up');
@recs = records($log);
is_deeply([ map { $_->{EVENT} } @recs ], [qw(before-copy failure)], 'the refusing gate stops the round: the later hook sees before-copy and failure only');
my $fail = $recs[-1];
is_deeply([ $fail->{json}{event}, $fail->{json}{exit_code}, $fail->{json}{rebuilt} ? 1 : 0, $fail->{json}{failed_phase} ],
	[ 'run_end', 1, 0, 'swap' ], 'failure: the run_end event, with the phase that failed');
is_deeply([ $fail->{EXIT_CODE}, $fail->{PHASE} ], [ '1', 'swap' ], 'failure: PGR_EXIT_CODE and PGR_PHASE');

$log = "$dir/run4.log";
($rc, $out, $err) = run_rebuild($node, { env => { HOOK_LOG => $log } }, '-t', 'no_such_table', '--hook', $record);
is($rc, 1, 'a missing table: exit 1');
@recs = records($log);
is_deeply([ map { [ $_->{EVENT}, $_->{PHASE}, $_->{TABLE}, $_->{RUN_ID}, $_->{json}{event} ] } @recs ],
	[ [ 'failure', 'preflight', 'no_such_table', '', 'run_end' ] ], 'failure at preflight: the table as given, no run id');

($rc, $out, $err) = run_rebuild($node, { env => { HOOK_LOG => "$dir/run5.log" } }, '-t', $quoted, '--hook', $record, '--dry-run');
is($rc, 0, '--dry-run: exit 0');
ok(!-e "$dir/run5.log", '--dry-run runs no hook');

# ------------------------------------------------------------------------
# 4. Usage errors.
# ------------------------------------------------------------------------
for my $case (
	[ [ '--hook-timeout', '5' ], qr/--hook-timeout is given without --hook/ ],
	[ [ '--hook', 'true', '--hook-timeout', '5', '--hook-timeout', '6' ], qr/--hook-timeout is given twice \("5", then "6"\)/ ],
	[ [ '--hook', 'true', '--hook-timeout', '0' ], qr/invalid value "0" for --hook-timeout/ ],
	[ [ '--hook', ' ' ], qr/--hook needs a command/ ])
{
	($rc, $out, $err) = run_rebuild($node, '-t', 'x', @{ $case->[0] });
	is($rc, 2, "@{ $case->[0] }: exit 2");
	like($err, $case->[1], "@{ $case->[0] }: says why");
}
($rc, $out, $err) = run_rebuild($node, '--status', '--hook', 'true');
is($rc, 2, '--hook with --status: exit 2');

done_testing();
