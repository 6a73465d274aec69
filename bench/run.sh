#!/bin/bash
# bench/run.sh: pg_rebuild against pg_repack, VACUUM FULL, CLUSTER and
# ALTER TABLE ... SET NOT NULL, on one machine, on the same data, in one run.
#
#   bench/run.sh [--rows N] [--repeat K] [--no-load] [--quick] [options]
#
# It creates a throwaway cluster in a temporary directory, builds the table
# (id bigint primary key, 5 more columns, 2 secondary indexes), bloats it once
# the same deterministic way and keeps that bloated database as a template:
# every contender runs on a fresh file copy of it (CREATE DATABASE ... TEMPLATE
# ... STRATEGY FILE_COPY), so each starts from byte-identical data.  Each
# contender runs K times, in round-robin order, without load and under a
# write load (pgbench, 4 clients, insert + update + delete + a ledger row per
# transaction).  It prints, per contender: the median wall time and its ratio
# to pg_repack; the application's throughput during the run as a percentage
# of its throughput in the seconds just before; the worst and p99 latency of
# the application's transactions that overlapped the run; how long ACCESS
# EXCLUSIVE was held; the client's peak RSS; and whether the ledger balanced.
#
# Options:
#   --rows N          table size (default 5000000)
#   --repeat K        runs per contender and condition (default 3)
#   --no-load         only the runs without load
#   --load-only       only the runs under load
#   --quick           a small smoke run: 200000 rows, K=1, short baselines
#   --baseline SECS   seconds of load measured before each contender (default 10)
#   --contenders L    comma-separated subset/order of: rebuild1, rebuild2,
#                     repack, vacuumfull, cluster, alter_notnull,
#                     rebuild_notnull, repack2 (pg_repack --jobs 2; not in the default set),
#                     inplace_notnull (pg_rebuild --set-not-null --method in-place),
#                     rebuild_throttled (pg_rebuild --max-rate, see --max-rate; not in
#                     the default set);
#                     with --schema alter also alter_bigint (DROP VIEW, ALTER TABLE ...
#                     TYPE bigint, CREATE VIEW, in one transaction) and rebuild_bigint
#                     (pg_rebuild --alter 'ALTER COLUMN id TYPE bigint' --jobs 2)
#   --schema alter    the table's id is integer, two tables reference it with foreign
#                     keys and a view reads it; the load runs with pgbench -M simple
#                     (a prepared RETURNING id would fail after the type change);
#                     default contenders: alter_bigint,rebuild_bigint,alter_notnull,
#                     rebuild_notnull,inplace_notnull
#   --memory [SIZES]  only measure peak RSS of pg_rebuild (and pg_repack) at
#                     these table sizes (default 1000000,5000000,20000000)
#   --max-rate N      rows a second for rebuild_throttled (default 50000)
#   --keep            keep the work directory (server log, pgbench logs, raw TSV)
#
# Environment: PG_CONFIG, PG_REBUILD, PG_REPACK, BENCH_USER, TMPDIR (see
# bench/lib.sh).  Started as root it re-runs itself as an unprivileged user.

BENCH_NAME=run.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

ROWS=5000000
REPEAT=3
DO_NOLOAD=1
DO_LOAD=1
BASELINE=10
WARMUP=3
TAIL=3
CONTENDERS=rebuild1,rebuild2,repack,vacuumfull,cluster,alter_notnull,rebuild_notnull
MEMORY=0
MAX_RATE=50000
MEMORY_SIZES=1000000,5000000,20000000
SCHEMA=plain
CONTENDERS_GIVEN=0
ARGS=("$@")

usage() { bench_help "${BASH_SOURCE[0]}"; }

while [ $# -gt 0 ]; do
	case $1 in
		--rows) ROWS=${2:?}; shift ;;
		--rows=*) ROWS=${1#*=} ;;
		--repeat) REPEAT=${2:?}; shift ;;
		--repeat=*) REPEAT=${1#*=} ;;
		--no-load) DO_LOAD=0 ;;
		--load-only) DO_NOLOAD=0 ;;
		--quick) ROWS=200000; REPEAT=1; BASELINE=4; WARMUP=2; TAIL=2 ;;
		--baseline) BASELINE=${2:?}; shift ;;
		--max-rate) MAX_RATE=${2:?}; shift ;;
		--contenders) CONTENDERS=${2:?}; CONTENDERS_GIVEN=1; shift ;;
		--contenders=*) CONTENDERS=${1#*=}; CONTENDERS_GIVEN=1 ;;
		--schema) SCHEMA=${2:?}; shift ;;
		--schema=*) SCHEMA=${1#*=} ;;
		--memory) MEMORY=1
			if [ $# -gt 1 ] && [[ $2 =~ ^[0-9,]+$ ]]; then MEMORY_SIZES=$2; shift; fi ;;
		--keep) BENCH_KEEP=1 ;;
		-h|--help) usage; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[[ $ROWS =~ ^[0-9]+$ ]] && [ "$ROWS" -ge 1000 ] || die "--rows must be a number >= 1000"
[[ $REPEAT =~ ^[0-9]+$ ]] && [ "$REPEAT" -ge 1 ] || die "--repeat must be a number >= 1"
case $SCHEMA in
	plain) ID_TYPE=bigint; LOAD_ARGS=() ;;
	alter) ID_TYPE=integer; LOAD_ARGS=(-M simple)
		[ "$CONTENDERS_GIVEN" = 1 ] || CONTENDERS=alter_bigint,rebuild_bigint,alter_notnull,rebuild_notnull,inplace_notnull ;;
	*) die "--schema must be plain or alter" ;;
esac

bench_drop_root "${BASH_SOURCE[0]}" "${ARGS[@]}"
bench_find_tools 1 1
bench_install_traps

declare -A LABEL=(
	[rebuild1]="pg_rebuild --jobs 1"
	[rebuild2]="pg_rebuild --jobs 2"
	[rebuild_throttled]="pg_rebuild --max-rate"
	[repack]="pg_repack"
	[repack2]="pg_repack --jobs 2"
	[vacuumfull]="VACUUM FULL"
	[cluster]="CLUSTER"
	[alter_notnull]="ALTER TABLE SET NOT NULL"
	[rebuild_notnull]="pg_rebuild --set-not-null"
	[inplace_notnull]="pg_rebuild NOT NULL in place"
	[alter_bigint]="ALTER TABLE TYPE bigint"
	[rebuild_bigint]="pg_rebuild --alter TYPE bigint"
)
IFS=, read -r -a CLIST <<<"$CONTENDERS"
for c in "${CLIST[@]}"; do
	[ -n "${LABEL[$c]:-}" ] || die "unknown contender $c"
	case $c in repack*) [ -n "$PG_REPACK" ] || die "pg_repack is not installed: drop it from --contenders" ;; esac
done

# ---------------------------------------------------------------------------
# One contender, one run.  Sets RUN_RC, RUN_T0, RUN_T1 and writes $out/$rss.
# ---------------------------------------------------------------------------

timed()
{
	# timed RSSFILE OUTFILE cmd... : GNU time for the client's peak RSS
	local rssf=$1 outf=$2
	shift 2
	if [ -n "$TIME_BIN" ]; then
		bgwait "$TIME_BIN" -f %M -o "$rssf" "$@" >"$outf" 2>&1
	else
		bgwait "$@" >"$outf" 2>&1
	fi
}

run_contender()
{
	local c=$1 db=$2 outf=$3 rssf=$4
	local conn=(-h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$db")
	: >"$rssf"
	RUN_T0=$(now)
	case $c in
		rebuild1) timed "$rssf" "$outf" "$PG_REBUILD" "${conn[@]}" -t bench_t --jobs 1 ;;
		rebuild2) timed "$rssf" "$outf" "$PG_REBUILD" "${conn[@]}" -t bench_t --jobs 2 ;;
		rebuild_throttled) timed "$rssf" "$outf" "$PG_REBUILD" "${conn[@]}" -t bench_t --jobs 1 --max-rate "$MAX_RATE" ;;
		rebuild_notnull) timed "$rssf" "$outf" "$PG_REBUILD" "${conn[@]}" -t bench_t --jobs 2 --set-not-null n --method rebuild ;;
		inplace_notnull) timed "$rssf" "$outf" "$PG_REBUILD" "${conn[@]}" -t bench_t --set-not-null n --method in-place ;;
		rebuild_bigint) timed "$rssf" "$outf" "$PG_REBUILD" "${conn[@]}" -t bench_t --jobs 2 --alter 'ALTER COLUMN id TYPE bigint' ;;
		alter_bigint) bgwait "$PSQL" -X -q -v ON_ERROR_STOP=1 "${conn[@]}" -c "BEGIN; DROP VIEW bench_v; ALTER TABLE bench_t ALTER COLUMN id TYPE bigint; CREATE VIEW bench_v AS SELECT id, a, b FROM bench_t WHERE b < 1000; COMMIT" >"$outf" 2>&1 ;;
		repack) timed "$rssf" "$outf" "$PG_REPACK" "${conn[@]}" -t bench_t ;;
		repack2) timed "$rssf" "$outf" "$PG_REPACK" "${conn[@]}" -t bench_t --jobs 2 ;;
		vacuumfull) bgwait "$PSQL" -X -q -v ON_ERROR_STOP=1 "${conn[@]}" -c "VACUUM FULL bench_t" >"$outf" 2>&1 ;;
		cluster) bgwait "$PSQL" -X -q -v ON_ERROR_STOP=1 "${conn[@]}" -c "CLUSTER bench_t USING bench_t_pkey" >"$outf" 2>&1 ;;
		alter_notnull) bgwait "$PSQL" -X -q -v ON_ERROR_STOP=1 "${conn[@]}" -c "ALTER TABLE bench_t ALTER COLUMN n SET NOT NULL" >"$outf" 2>&1 ;;
	esac
	RUN_RC=$?
	RUN_T1=$(now)
}

RESULTS=
RUN_NO=0

# run_one REP COND CONTENDER
run_one()
{
	local rep=$1 cond=$2 c=$3
	RUN_NO=$((RUN_NO + 1))
	local dir=$BENCH_WORK/runs/$RUN_NO-$cond-$c
	mkdir -p "$dir"
	# the machine's 1-minute load average before the run starts (other users' work shows here)
	LOADAVG=$(cut -d' ' -f1 /proc/loadavg)
	q postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_run WITH (FORCE)" -c "CREATE DATABASE bench_run TEMPLATE bench_tpl STRATEGY FILE_COPY" ||
		die "could not copy the template database"
	local before after ledger
	before=$(table_totals bench_run)
	q postgres -c "CHECKPOINT"
	sampler_start "$RUN_NO" bench_run
	if [ "$cond" = load ]; then
		load_start bench_run "$ROWS" "$dir/load" "${LOAD_ARGS[@]}"
		bgwait sleep "$((WARMUP + BASELINE))"
		kill -0 "$LOAD_PID" 2>/dev/null || die "the load (pgbench) died: $(tail -5 "$dir/load.out")"
	else
		sleep 1
	fi
	run_contender "$c" bench_run "$dir/out" "$dir/rss"
	if [ "$cond" = load ]; then
		bgwait sleep "$TAIL"
		bg_stop "$LOAD_PID"
	fi
	sleep 0.3
	bg_stop "$SAMPLER_PID"

	after=$(table_totals bench_run)
	ledger=$(ledger_totals bench_run)
	local ledger_ok
	ledger_ok=$(perl -e 'my @b = split " ", $ARGV[0]; my @a = split " ", $ARGV[1]; my @l = split " ", $ARGV[2];
		print(($a[0] - $b[0] == $l[1] && $a[1] - $b[1] == $l[2] && $a[2] - $b[2] == $l[3]) ? "OK" : "FAIL")' \
		"$before" "$after" "$ledger")
	echo "before $before; after $after; ledger (txns, count, sum a, sum id) $ledger -> $ledger_ok" >"$dir/ledger"

	local wall ae ae_src locks aew wb sint rss tx ph heap_after
	wall=$(perl -e 'printf "%.3f", $ARGV[1] - $ARGV[0]' "$RUN_T0" "$RUN_T1")
	locks=$(sampler_result "$RUN_NO" "$RUN_T0" "$RUN_T1")
	read -r ae aew wb sint <<<"$locks"
	ae_src=sampled
	ph="- - - - - - - -"
	case $c in
		rebuild*|inplace*)
			ph=$(perl "$BENCH_STATS" rebuildout "$dir/out")
			local own=${ph%% *}
			if [ "$own" != - ]; then ae=$own; ae_src=tool; fi ;;
	esac
	rss=$(tail -1 "$dir/rss" 2>/dev/null)
	case $c in vacuumfull|cluster|alter_notnull|alter_bigint) rss=- ;; esac
	[[ $rss =~ ^[0-9]+$ ]] || rss=-
	echo "$RUN_T0 $RUN_T1" >"$dir/times"
	local wbp=-
	if [ "$cond" = load ]; then
		tx=$(perl "$BENCH_STATS" txlog "$RUN_T0" "$RUN_T1" "$BASELINE" "$dir"/load.[0-9]*)
		case $c in rebuild*)
			[ "$RUN_RC" = 0 ] && wbp=$(perl "$BENCH_STATS" txphases "$RUN_T0" "${ph#* }" "$dir"/load.[0-9]* | tr ' ' ,) ;;
		esac
	else
		tx="- - - - - - - - - -"
	fi
	local btps rtps tpct worst p99 nlat bworst bp99 nfailed txcomplete
	read -r btps rtps tpct worst p99 nlat bworst bp99 nfailed txcomplete <<<"$tx"
	heap_after=$(qv bench_run "SELECT pg_relation_size('bench_t')")
	local phs
	read -r _ p_pre p_inst p_copy p_rec p_idx p_rep p_swap p_fin <<<"$ph"
	printf '%s\n' "$rep	$cond	${LABEL[$c]}	$RUN_RC	$wall	$ae	$ae_src	$aew	$wb	$sint	$rss	$btps	$rtps	$tpct	$worst	$p99	$bworst	$bp99	$ledger_ok	$heap_after	$p_copy	$p_rec	$p_idx	$p_rep	$p_swap	$p_fin	$wbp" >>"$RESULTS"
	local msg
	msg=$(printf '%-3s %-7s %-26s load avg %-5s rc=%s wall %6.2f s  AE %s ms (%s)  sampled AE-wait %s ms, write-blocking %s ms  RSS %s kB' \
		"$rep" "$cond" "${LABEL[$c]}" "$LOADAVG" "$RUN_RC" "$wall" "$ae" "$ae_src" "$aew" "$wb" "$rss")
	[ "$cond" = load ] && msg+=$(printf '  tput %s%% of %s tps  worst %s ms  p99 %s ms  (baseline worst %s ms, p99 %s ms)  ledger %s' "$tpct" "$btps" "$worst" "$p99" "$bworst" "$bp99" "$ledger_ok")
	[ "$cond" = load ] && [ "$txcomplete" != complete ] && msg+="  (pgbench log INCOMPLETE)"
	[ "$cond" = load ] && [ "$nfailed" != 0 ] && msg+="  ($nfailed failed transactions)"
	[ "$cond" = noload ] && [ "$ledger_ok" != OK ] && msg+="  ROWS CHANGED: $ledger_ok"
	case $c in rebuild*) msg+="  [copy $p_copy s, reconcile $p_rec s, index $p_idx s, replay $p_rep s, swap $p_swap s, finish $p_fin s]" ;; esac
	[ "$wbp" != - ] && msg+="  [worst latency by phase, ms: $wbp]"
	say "$msg"
	echo "$msg" >>"$BENCH_WORK/runs.log"
	if [ "$RUN_RC" != 0 ]; then
		say "  failed; its output:"
		sed 's/^/    /' "$dir/out" | tail -15 >&2
	fi
}

# ---------------------------------------------------------------------------
# --memory: peak RSS of the tools at several table sizes
# ---------------------------------------------------------------------------

memory_mode()
{
	local sizes rows
	IFS=, read -r -a sizes <<<"$MEMORY_SIZES"
	local out=$BENCH_WORK/memory.tsv
	: >"$out"
	for rows in "${sizes[@]}"; do
		say "memory: building $rows rows"
		q postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_run WITH (FORCE)" -c "DROP DATABASE IF EXISTS bench_tpl"
		q postgres -c "CREATE DATABASE bench_tpl"
		[ -n "$PG_REPACK" ] && q bench_tpl -c "CREATE EXTENSION pg_repack"
		bench_create_table bench_tpl "$rows"
		bench_bloat bench_tpl
		local sz
		sz=$(table_sizes bench_tpl)
		local c
		for c in rebuild1 rebuild2 repack; do
			[ "$c" = repack ] && [ -z "$PG_REPACK" ] && continue
			q postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_run WITH (FORCE)" -c "CREATE DATABASE bench_run TEMPLATE bench_tpl STRATEGY FILE_COPY"
			q postgres -c "CHECKPOINT"
			local d=$BENCH_WORK/mem-$rows-$c
			run_contender "$c" bench_run "$d.out" "$d.rss"
			local wall rss
			wall=$(perl -e 'printf "%.1f", $ARGV[1] - $ARGV[0]' "$RUN_T0" "$RUN_T1")
			rss=$(tail -1 "$d.rss" 2>/dev/null)
			[[ $rss =~ ^[0-9]+$ ]] || rss=-
			say "memory: $rows rows, ${LABEL[$c]}: rc=$RUN_RC, $wall s, peak RSS $rss kB"
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rows" "$sz" "${LABEL[$c]}" "$RUN_RC" "$wall" "$rss" >>"$out"
		done
	done
	echo
	echo "Peak RSS of the client process (/usr/bin/time %M), one run per size, table bloated as in the main benchmark"
	echo
	perl -e '
		my @rows; my %w;
		while (<STDIN>) { chomp; my ($n, $sz, $c, $rc, $wall, $rss) = split /\t/; my ($h, $t) = split / /, $sz;
			push @rows, [$n, sprintf("%.0f MB / %.0f MB", $h / 1048576, $t / 1048576), $c, $rc == 0 ? "ok" : "exit $rc", "$wall s", $rss eq "-" ? "-" : sprintf("%.1f MB", $rss / 1024)]; }
		my @h = ("rows", "heap / total before", "tool", "result", "wall time", "peak RSS");
		my @all = (\@h, @rows);
		for my $r (@all) { for my $i (0..$#$r) { $w{$i} = length $r->[$i] if length $r->[$i] > ($w{$i} // 0) } }
		my $l = sub { my $r = shift; join("  ", map { $_ == 0 ? sprintf("%-*s", $w{$_}, $r->[$_]) : sprintf("%*s", $w{$_}, $r->[$_]) } 0..$#$r) . "\n" };
		print $l->(\@h); print join("  ", map { "-" x $w{$_} } 0..$#h), "\n"; print $l->($_) for @rows;' <"$out"
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

START=$(now)
bench_cluster_start
sampler_setup

if [ "$MEMORY" = 1 ]; then
	echo "pg_rebuild benchmark, --memory mode (bench/run.sh ${ARGS[*]})"
	machine_description
	memory_mode
	exit 0
fi

say "building the table: $ROWS rows"
q postgres -c "CREATE DATABASE bench_tpl"
[ -n "$PG_REPACK" ] && q bench_tpl -c "CREATE EXTENSION pg_repack"
bench_create_table bench_tpl "$ROWS" "$ID_TYPE"
[ "$SCHEMA" = alter ] && bench_add_dependents bench_tpl
read -r HEAP0 TOTAL0 <<<"$(table_sizes bench_tpl)"
say "bloating it"
bench_bloat bench_tpl
read -r HEAP1 TOTAL1 <<<"$(table_sizes bench_tpl)"
q postgres -c "CHECKPOINT"
say "table: heap $(human_bytes "$HEAP0") compact -> $(human_bytes "$HEAP1") bloated; total with indexes $(human_bytes "$TOTAL0") -> $(human_bytes "$TOTAL1")"

RESULTS=$BENCH_WORK/results.tsv
printf 'rep\tcond\tcontender\texit\twall_s\tae_ms\tae_src\taewait_ms\twb_ms\tsample_ms\trss_kb\tbase_tps\trun_tps\ttput_pct\tworst_ms\tp99_ms\tbase_worst_ms\tbase_p99_ms\tledger\theap_after\tcopy_s\treconcile_s\tindex_s\treplay_s\tswap_s\tfinish_s\tworst_by_phase\n' >"$RESULTS"

CONDS=()
[ "$DO_NOLOAD" = 1 ] && CONDS+=(noload)
[ "$DO_LOAD" = 1 ] && CONDS+=(load)
n=${#CLIST[@]}
for ((rep = 1; rep <= REPEAT; rep++)); do
	for cond in "${CONDS[@]}"; do
		# round-robin, starting one further each repetition
		for ((i = 0; i < n; i++)); do
			run_one "$rep" "$cond" "${CLIST[$(((i + rep - 1) % n))]}"
		done
	done
done

ELAPSED=$(perl -e 'printf "%.0f", ($ARGV[1] - $ARGV[0]) / 60' "$START" "$(now)")
echo "pg_rebuild benchmark: bench/run.sh ${ARGS[*]}"
echo
machine_description
echo
[ "$SCHEMA" = alter ] && echo "schema:     --schema alter: id integer; bench_ref1 and bench_ref2 (100,000 rows each) reference it with foreign keys; view bench_v reads it; load with pgbench -M simple"
echo "table:      bench_t, $ROWS rows: id $ID_TYPE primary key, a bigint, b int, ts timestamptz, s text (40 bytes),"
echo "            n text (nullable, no NULLs); indexes on b and on ts. Heap $(human_bytes "$HEAP0") compact,"
echo "            $(human_bytes "$HEAP1") after the bloat (a third of the rows updated, a tenth deleted and re-inserted,"
echo "            plain VACUUM); total with indexes $(human_bytes "$TOTAL0") -> $(human_bytes "$TOTAL1")."
echo "            Every run starts from a file copy of that bloated database (CREATE DATABASE ... STRATEGY FILE_COPY)."
echo "runs:       $REPEAT per contender and condition, round-robin; ${ELAPSED} min in all"
[ "$DO_LOAD" = 1 ] && {
	echo "load:       pgbench -c 4 -j 2 -M prepared, each transaction: INSERT one row, UPDATE one random row, DELETE one"
	echo "            random row, INSERT the ledger row; ${WARMUP} s warm-up, then ${BASELINE} s baseline just before the contender"
	echo "            starts; throughput = transactions committed during the run / its duration, vs the baseline;"
	echo "            latency over the transactions that overlapped the run (pgbench -l, every transaction)"
}
perl "$BENCH_STATS" report "$RESULTS"
echo
echo "pg_rebuild phases (median seconds over all runs of each row):"
perl -e '
	use strict; my (%v, @k);
	my $h = <STDIN>; chomp $h; my @c = split /\t/, $h;
	while (<STDIN>) { chomp; my %r; @r{@c} = split /\t/; next unless $r{contender} =~ /^pg_rebuild/ && $r{exit} == 0;
		my $k = "$r{cond}\t$r{contender}"; push @k, $k unless $v{$k};
		push @{$v{$k}{$_}}, $r{$_} for qw(copy_s reconcile_s index_s replay_s swap_s finish_s wall_s); }
	sub med { my @a = sort { $a <=> $b } grep { $_ ne "-" } @_; return "-" unless @a; my $n = @a; $n % 2 ? $a[($n-1)/2] : ($a[$n/2-1] + $a[$n/2]) / 2 }
	printf "  %-7s %-26s %7s %7s %7s %7s %7s %7s %7s\n", "", "", "copy", "reconcile", "index", "replay", "swap", "finish", "wall";
	for my $k (@k) { my ($cond, $c) = split /\t/, $k;
		printf "  %-7s %-26s %7s %7s %7s %7s %7s %7s %7s\n", $cond, $c, map { my $m = med(@{$v{$k}{$_}}); $m eq "-" ? "-" : sprintf("%.2f", $m) } qw(copy_s reconcile_s index_s replay_s swap_s finish_s wall_s); }' <"$RESULTS"
echo
echo "every run (also in the work directory with --keep):"
sed 's/^/  /' "$BENCH_WORK/runs.log"
