#!/usr/bin/perl
# bench/stats.pl: the arithmetic of the benchmark scripts (bench/*.sh).
#
#   stats.pl locks T0 T1              stdin: "t ae_held ae_wait wb_held" samples
#   stats.pl txlog T0 T1 BASE FILE... pgbench -l logs -> throughput and latency
#   stats.pl rebuildout FILE          pg_rebuild's output -> AE ms and phase times
#   stats.pl median X...              the median
#   stats.pl report TSV               the summary tables of bench/run.sh
#   stats.pl capture TSV              the summary of bench/capture.sh
use strict;
use warnings;
use POSIX qw(floor);

sub median
{
	my @v = sort { $a <=> $b } grep { defined $_ && $_ ne '' && $_ ne '-' } @_;
	return undef unless @v;
	my $n = @v;
	return $n % 2 ? $v[ ($n - 1) / 2 ] : ($v[ $n / 2 - 1 ] + $v[ $n / 2 ]) / 2;
}

sub pct
{
	my ($p, @v) = @_;
	@v = sort { $a <=> $b } @v;
	return undef unless @v;
	my $i = int(($p / 100) * @v + 0.999999) - 1;
	$i = 0 if $i < 0;
	$i = $#v if $i > $#v;
	return $v[$i];
}

my $mode = shift @ARGV // die "usage: stats.pl MODE ...\n";

# --- lock samples: the longest continuous span of each flag in [T0, T1] ----
# A span's length is estimated as the mean of its lower bound (first to last
# sample that saw the lock) and its upper bound (last sample before that did
# not see it, to the first after that did not): the error is at most one
# sampling interval.
if ($mode eq 'locks')
{
	my ($t0, $t1) = @ARGV;
	my @s;
	while (<STDIN>)
	{
		chomp;
		my @f = split /\s+/;
		next unless @f >= 4;
		push @s, [@f];
	}
	my @out;
	for my $col (1, 2, 3)
	{
		my $best = 0;
		my $i = 0;
		while ($i < @s)
		{
			if ($s[$i][$col] && $s[$i][0] >= $t0 - 1 && $s[$i][0] <= $t1)
			{
				my $j = $i;
				$j++ while $j + 1 < @s && $s[ $j + 1 ][$col];
				my $first = $s[$i][0];
				my $last = $s[$j][0];
				my $before = $i > 0 ? $s[ $i - 1 ][0] : $first;
				my $after = $j + 1 < @s ? $s[ $j + 1 ][0] : $last;
				my $est = (($last - $first) + ($after - $before)) / 2 * 1000;
				$best = $est if $est > $best;
				$i = $j + 1;
			}
			else
			{
				$i++;
			}
		}
		push @out, sprintf('%.0f', $best);
	}
	my @gaps;
	for my $i (1 .. $#s)
	{
		push @gaps, $s[$i][0] - $s[ $i - 1 ][0] if $s[$i][0] >= $t0 && $s[$i][0] <= $t1;
	}
	my $m = median(@gaps);
	push @out, defined $m ? sprintf('%.1f', $m * 1000) : '-';
	print join(' ', @out), "\n";
	exit 0;
}

# --- pgbench transaction logs ------------------------------------------------
# Line: client_id transaction_no time(us) script_no time_epoch time_us [...]
# Baseline: transactions ending in [T0 - BASE, T0); during: ending in [T0, T1).
# Latency: every transaction that overlaps [T0, T1] (ended after T0, began
# before T1), so one that waited behind the contender's lock counts.
if ($mode eq 'txlog')
{
	my ($t0, $t1, $base, @files) = @ARGV;
	my ($nb, $nr) = (0, 0);
	my @lat;
	my @blat;
	my $failed = 0;
	my $last = 0;
	for my $f (@files)
	{
		open(my $fh, '<', $f) or next;
		while (<$fh>)
		{
			# pgbench was stopped by a signal: its last line may be cut short
			next unless /\n\z/;
			my @x = split ' ';
			next unless @x >= 6;
			if ($x[2] !~ /^\d+$/)
			{
				$failed++ if $x[2] eq 'failed';
				next;
			}
			my $end = $x[4] + $x[5] / 1e6;
			my $lat = $x[2] / 1000.0;
			$last = $end if $end > $last;
			$nb++, push(@blat, $lat) if $end >= $t0 - $base && $end < $t0;
			$nr++ if $end >= $t0 && $end < $t1;
			push @lat, $lat if $end >= $t0 && $end - $lat / 1000.0 < $t1;
		}
		close $fh;
	}
	my $btps = $base > 0 ? $nb / $base : 0;
	my $rtps = ($t1 > $t0) ? $nr / ($t1 - $t0) : 0;
	my $p = $btps > 0 ? 100 * $rtps / $btps : 0;
	my $worst = @lat ? (sort { $b <=> $a } @lat)[0] : 0;
	my $p99 = pct(99, @lat) // 0;
	my $bworst = @blat ? (sort { $b <=> $a } @blat)[0] : 0;
	my $bp99 = pct(99, @blat) // 0;
	# the log must reach past the end of the run, or the figures are incomplete
	printf "%.1f %.1f %.1f %.1f %.1f %d %.1f %.1f %d %s\n", $btps, $rtps, $p, $worst, $p99, scalar(@lat), $bworst, $bp99,
	  $failed, $last >= $t1 ? 'complete' : 'INCOMPLETE';
	exit 0;
}

# pg_rebuild's phases, in their order (lib/phases.c)
our @PHASES = qw(preflight install copy reconcile index replay swap finish);

# --- pgbench logs split by pg_rebuild's phases ----------------------------------
# stats.pl txphases T0 "DURATIONS OF @PHASES" FILE...
# The phases follow each other from T0 with the durations pg_rebuild printed
# (rounded to 3 digits: the boundaries are good to about 1%).  Prints, per
# phase, the worst latency of the transactions that overlapped it.
if ($mode eq 'txphases')
{
	my ($t0, $durs, @files) = @ARGV;
	my @d = split ' ', $durs;
	my @names = @PHASES;
	my @b = ($t0);
	for my $x (@d) { push @b, $b[-1] + ($x eq '-' ? 0 : $x) }
	my @worst = (0) x @names;
	for my $f (@files)
	{
		open(my $fh, '<', $f) or next;
		while (<$fh>)
		{
			next unless /\n\z/;
			my @x = split ' ';
			next unless @x >= 6 && $x[2] =~ /^\d+$/;
			my $end = $x[4] + $x[5] / 1e6;
			my $lat = $x[2] / 1000.0;
			my $start = $end - $lat / 1000.0;
			for my $i (0 .. $#names)
			{
				$worst[$i] = $lat if $end >= $b[$i] && $start < $b[ $i + 1 ] && $lat > $worst[$i];
			}
		}
		close $fh;
	}
	print join(' ', map { sprintf('%.0f', $_) } @worst), "\n";
	exit 0;
}

# --- pg_rebuild's output ------------------------------------------------------
sub dur
{
	my $s = shift;
	return $1 + 0 if $s =~ /^([\d.]+) s$/;
	return $1 * 60 + $2 if $s =~ /^(\d+) min (\d+) s$/;
	return $1 * 3600 + $2 * 60 if $s =~ /^(\d+) h (\d+) min$/;
	return '-';
}

if ($mode eq 'rebuildout')
{
	my ($file) = @ARGV;
	my %ph;
	my $ae = '-';
	open(my $fh, '<', $file) or die "$file: $!\n";
	while (<$fh>)
	{
		$ae = $1 if /ACCESS EXCLUSIVE held (\d+) ms/;
		$ph{$1} = dur($2) if /^phase (\w+)\s+(.+? s|\d+ h \d+ min)(\s\s|$)/;
	}
	print join(' ', $ae, map { $ph{$_} // '-' } @PHASES), "\n";
	exit 0;
}

if ($mode eq 'median')
{
	my $m = median(@ARGV);
	print defined $m ? "$m\n" : "-\n";
	exit 0;
}

# --- the tables of bench/run.sh -------------------------------------------------
sub fmt_s
{
	my $v = shift;
	return '-' unless defined $v;
	return sprintf($v < 10 ? '%.2f s' : '%.1f s', $v);
}

sub fmt_ms
{
	my $v = shift;
	return '-' unless defined $v && $v ne '-';
	return sprintf($v < 10 ? '%.1f ms' : '%.0f ms', $v);
}

sub fmt_mb
{
	my $kb = shift;
	return '-' unless defined $kb && $kb ne '-' && $kb > 0;
	return sprintf('%.1f MB', $kb / 1024);
}

sub minmax
{
	my @v = sort { $a <=> $b } grep { defined $_ && $_ ne '-' } @_;
	return (undef, undef) unless @v;
	return ($v[0], $v[-1]);
}

sub table
{
	my ($head, $rows) = @_;
	my @w = map { length } @$head;
	for my $r (@$rows)
	{
		for my $i (0 .. $#$r)
		{
			$w[$i] = length($r->[$i]) if length($r->[$i]) > $w[$i];
		}
	}
	my $line = sub {
		my $r = shift;
		my @c;
		for my $i (0 .. $#$r)
		{
			push @c, $i == 0 ? sprintf('%-*s', $w[$i], $r->[$i]) : sprintf('%*s', $w[$i], $r->[$i]);
		}
		return join('  ', @c) . "\n";
	};
	my $out = $line->($head);
	$out .= join('  ', map { '-' x $_ } @w) . "\n";
	$out .= $line->($_) for @$rows;
	return $out;
}

if ($mode eq 'report')
{
	my ($tsv) = @ARGV;
	open(my $fh, '<', $tsv) or die "$tsv: $!\n";
	my $hdr = <$fh>;
	chomp $hdr;
	my @cols = split /\t/, $hdr;
	my (%runs, @order);
	while (<$fh>)
	{
		chomp;
		my @f = split /\t/;
		my %r;
		@r{@cols} = @f;
		my $k = "$r{cond}\t$r{contender}";
		push @order, $r{contender} unless grep { $_ eq $r{contender} } @order;
		push @{ $runs{$k} }, \%r;
	}
	close $fh;
	for my $cond ('noload', 'load')
	{
		next unless grep { /^$cond\t/ } keys %runs;
		my $repack = $runs{"$cond\tpg_repack"};
		my $repack_wall = $repack ? median(map { $_->{wall_s} } grep { $_->{exit} == 0 } @$repack) : undef;
		my @rows;
		for my $c (@order)
		{
			my $rs = $runs{"$cond\t$c"} or next;
			my @ok = grep { $_->{exit} == 0 } @$rs;
			my $wall = median(map { $_->{wall_s} } @ok);
			my ($wmin, $wmax) = minmax(map { $_->{wall_s} } @ok);
			my $ratio = (defined $wall && $repack_wall) ? sprintf('%.2f', $wall / $repack_wall) : '-';
			my @ae = map { $_->{ae_ms} } @ok;
			my $ae = median(@ae);
			my (undef, $aemax) = minmax(@ae);
			my (undef, $rss) = minmax(map { $_->{rss_kb} } @ok);
			my $ae_src = (@ok && $ok[0]{ae_src} eq 'sampled') ? '~' : '';
			my @r = (
				$c,
				(defined $wall ? fmt_s($wall) . sprintf(' (%s-%s)', map { sprintf('%.1f', $_) } $wmin, $wmax) : '-'),
				$ratio,
			);
			if ($cond eq 'load')
			{
				my $tp = median(map { $_->{tput_pct} } @ok);
				my ($tpmin, $tpmax) = minmax(map { $_->{tput_pct} } @ok);
				my $worst = median(map { $_->{worst_ms} } @ok);
				my (undef, $wmaxl) = minmax(map { $_->{worst_ms} } @ok);
				my $p99 = median(map { $_->{p99_ms} } @ok);
				my $btps = median(map { $_->{base_tps} } @ok);
				my $nled = grep { $_->{ledger} eq 'OK' } @$rs;
				push @r,
				  (defined $tp ? sprintf('%.0f%% (%.0f-%.0f)', $tp, $tpmin, $tpmax) : '-'),
				  (defined $btps ? sprintf('%.0f', $btps) : '-'),
				  (defined $worst ? fmt_ms($worst) . ' (' . fmt_ms($wmaxl) . ')' : '-'),
				  fmt_ms($p99);
				push @r, $ae_src . fmt_ms($ae) . (defined $aemax ? ' (' . fmt_ms($aemax) . ')' : ''), fmt_mb($rss),
				  sprintf('%s %d/%d', $nled == @$rs ? 'OK' : 'FAIL', $nled, scalar(@$rs));
			}
			else
			{
				push @r, $ae_src . fmt_ms($ae) . (defined $aemax ? ' (' . fmt_ms($aemax) . ')' : ''), fmt_mb($rss);
			}
			my $nfail = @$rs - @ok;
			$r[0] .= " [$nfail failed]" if $nfail;
			push @rows, \@r;
		}
		if ($cond eq 'noload')
		{
			print "\nWithout load (median of the runs; range in brackets; AE = ACCESS EXCLUSIVE, median (max))\n\n";
			print table([ 'contender', 'wall time', 'x pg_repack', 'AE held', 'peak RSS' ], \@rows);
		}
		else
		{
			print "\nUnder the write load (pgbench, 4 clients; median of the runs; range or max in brackets)\n\n";
			print table(
				[
					'contender', 'wall time', 'x pg_repack', 'app throughput', 'base tps', 'worst latency (max)',
					'p99 latency', 'AE held', 'peak RSS', 'ledger'
				],
				\@rows
			);
		}
	}
	# --- pg_rebuild under load: where the worst latency happened ---
	my @prow;
	for my $c (@order)
	{
		next unless $c =~ /^pg_rebuild/;
		my $rs = $runs{"load\t$c"} or next;
		my @ok = grep { $_->{exit} == 0 && defined $_->{worst_by_phase} && $_->{worst_by_phase} ne '-' } @$rs;
		next unless @ok;
		my @m;
		for my $r (@ok)
		{
			my @w = split /,/, $r->{worst_by_phase};
			for my $i (0 .. $#w) { $m[$i] = $w[$i] if !defined $m[$i] || $w[$i] > $m[$i] }
		}
		push @prow, [ $c, map { fmt_ms($_) } @m ];
	}
	if (@prow)
	{
		print "\npg_rebuild under load: worst application latency by phase (max over the runs; a transaction counts\n"
		  . "in every phase it overlapped; phase boundaries from pg_rebuild's own phase times)\n\n";
		print table([ 'contender', 'preflight', 'install', 'copy', 'index', 'replay', 'swap', 'finish' ], \@prow);
	}

	# --- the targets of the issue, checked against these figures ---
	my $get = sub {
		my ($cond, $c, $f, $how) = @_;
		my $rs = $runs{"$cond\t$c"} or return undef;
		my @v = map { $_->{$f} } grep { $_->{exit} == 0 } @$rs;
		return undef unless @v;
		return $how eq 'max' ? (minmax(@v))[1] : median(@v);
	};
	my @t;
	my $chk = sub {
		my ($what, $val, $op, $lim, $fmt) = @_;
		return push @t, [ $what, 'not measured', '' ] unless defined $val && defined $lim;
		my $ok = $op eq '<=' ? $val <= $lim : $val >= $lim;
		push @t, [ $what, sprintf($fmt, $val, $lim), $ok ? 'met' : 'NOT met' ];
	};
	my $rp = $get->('noload', 'pg_repack', 'wall_s', 'median');
	my $vf = $get->('noload', 'VACUUM FULL', 'wall_s', 'median');
	my $j1 = $get->('noload', 'pg_rebuild --jobs 1', 'wall_s', 'median');
	my $j2 = $get->('noload', 'pg_rebuild --jobs 2', 'wall_s', 'median');
	$chk->('no load: --jobs 1 <= 1.0 x pg_repack', ($j1 && $rp) ? $j1 / $rp : undef, '<=', 1.0, '%.2f x (target %.1f x)');
	$chk->('no load: --jobs 2 <= 0.8 x pg_repack', ($j2 && $rp) ? $j2 / $rp : undef, '<=', 0.8, '%.2f x (target %.1f x)');
	$chk->('no load: --jobs 2 <= 1.2 x VACUUM FULL', ($j2 && $vf) ? $j2 / $vf : undef, '<=', 1.2, '%.2f x (target %.1f x)');
	my $rtp = $get->('load', 'pg_repack', 'tput_pct', 'median');
	for my $c ('pg_rebuild --jobs 1', 'pg_rebuild --jobs 2', 'pg_rebuild --set-not-null')
	{
		next unless $runs{"load\t$c"};
		$chk->("load: $c throughput >= pg_repack's", $get->('load', $c, 'tput_pct', 'median'), '>=', $rtp,
			'%.0f%% (pg_repack %.0f%%)');
		$chk->("load: $c worst latency <= 100 ms", $get->('load', $c, 'worst_ms', 'max'), '<=', 100,
			'%.0f ms, worst run (target %d ms)');
		$chk->("load: $c ACCESS EXCLUSIVE <= 50 ms", $get->('load', $c, 'ae_ms', 'max'), '<=', 50,
			'%.0f ms, longest run (target %d ms)');
		my $rs = $runs{"load\t$c"};
		my $nled = grep { $_->{ledger} eq 'OK' } @$rs;
		$chk->("load: $c ledger balances in every run", $nled, '>=', scalar(@$rs), '%d of %d runs');
	}
	my $rss;
	for my $k (grep { /\tpg_rebuild/ } keys %runs)
	{
		for my $r (@{ $runs{$k} })
		{
			$rss = $r->{rss_kb} / 1024 if $r->{rss_kb} ne '-' && (!defined $rss || $r->{rss_kb} / 1024 > $rss);
		}
	}
	$chk->('pg_rebuild peak RSS <= 16 MB (this table size)', $rss, '<=', 16, '%.1f MB, largest run (target %d MB)');
	print "\nTargets of the issue, against these figures\n\n";
	print table([ 'target', 'measured', 'verdict' ], \@t);

	print "\nAE held: pg_rebuild's own measurement (LOCK granted to COMMIT); ~ = sampled from pg_locks every ~5 ms\n"
	  . "(longest continuous span seen during the run; error up to one sampling interval).\n"
	  . "Peak RSS: the client process (/usr/bin/time %M); '-' for plain SQL run through psql (the work is in the server).\n";
	exit 0;
}

# --- bench/capture.sh ---------------------------------------------------------
if ($mode eq 'capture')
{
	my ($tsv) = @ARGV;
	open(my $fh, '<', $tsv) or die "$tsv: $!\n";
	<$fh>;
	my (%tps, @work, @var, %seen);
	while (<$fh>)
	{
		chomp;
		my ($commit, $work, $var, $rep, $tps) = split /\t/;
		my $k = "$commit\t$work";
		push @work, $k unless $seen{$k}++;
		push @var, $var unless $seen{"v\t$var"}++;
		push @{ $tps{"$k\t$var"} }, $tps;
	}
	for my $k (@work)
	{
		my ($commit, $work) = split /\t/, $k;
		my $base = median(@{ $tps{"$k\tnone"} || [] });
		my @rows;
		for my $v (@var)
		{
			my $t = $tps{"$k\t$v"} or next;
			my $m = median(@$t);
			my ($lo, $hi) = minmax(@$t);
			push @rows,
			  [
				$v, sprintf('%.0f (%.0f-%.0f)', $m, $lo, $hi),
				$base ? sprintf('%.0f%%', 100 * $m / $base) : '-',
				$base ? sprintf('%+.0f%%', 100 * ($base / $m - 1)) : '-'
			  ];
		}
		print "\n$work, synchronous_commit=$commit\n";
		print table([ 'capture', 'tps median (range)', 'tps vs none', 'cost per txn' ], \@rows);
	}
	exit 0;
}

die "stats.pl: unknown mode $mode\n";
