#!/bin/bash
# bench/replay.sh: how fast pg_rebuild's replay applies captured changes, and
# the highest write rate at which a rebuild still catches up and swaps.
#
#   bench/replay.sh [--rows N] [--rates R1,R2,...] [--limit SECS] [--quick]
#
# Part 1, batch size: the replay statements exactly as `pg_rebuild --dry-run`
# prints them (delete the logged keys from the shadow, re-insert them from the
# table, trim the log; one REPEATABLE READ transaction per batch, hash and
# merge joins off, as the tool runs them), applied to a log of 200,000 entries
# on random keys, in batches of 1,000 to 100,000 entries: entries applied per
# second for each batch size.
#
# Part 2, sustained rate: pg_rebuild --jobs 2 on the bloated table of
# bench/run.sh while pgbench (4 clients) updates 10 random rows per
# transaction, throttled with -R to each rate in turn (row writes per
# second; "max" = unthrottled), plus a ledger row per transaction.  A rate
# passes when pg_rebuild swaps within --limit seconds and the ledger
# balances.  The log's backlog is sampled every second.
#
# Options:
#   --rows N        table size (default 1000000)
#   --rates LIST    row writes per second (default 1000,2000,4000,8000,16000,max)
#   --limit SECS    a rebuild still running after this did not catch up (default 300)
#   --batches LIST  batch sizes for part 1 (default 1000,5000,20000,50000,100000)
#   --repeat K      measurements of each batch size (default 3)
#   --only-batches / --only-rates
#   --quick         100000 rows, rates 1000,max, batches 1000,20000, K=1, limit 60
#   --keep          keep the work directory
#
# Environment: as bench/run.sh (PG_CONFIG, PG_REBUILD, BENCH_USER, TMPDIR).

BENCH_NAME=replay.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

ROWS=1000000
RATES=1000,2000,4000,8000,16000,max
LIMIT=300
BATCHES=1000,5000,20000,50000,100000
REPEAT=3
LOG_ENTRIES=200000
DO_BATCHES=1
DO_RATES=1
ARGS=("$@")
while [ $# -gt 0 ]; do
	case $1 in
		--rows) ROWS=${2:?}; shift ;;
		--rates) RATES=${2:?}; shift ;;
		--limit) LIMIT=${2:?}; shift ;;
		--batches) BATCHES=${2:?}; shift ;;
		--repeat) REPEAT=${2:?}; shift ;;
		--only-batches) DO_RATES=0 ;;
		--only-rates) DO_BATCHES=0 ;;
		--quick) ROWS=100000; RATES=1000,max; BATCHES=1000,20000; REPEAT=1; LIMIT=60; LOG_ENTRIES=50000 ;;
		--keep) BENCH_KEEP=1 ;;
		-h|--help) bench_help "${BASH_SOURCE[0]}"; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done

bench_begin "${BASH_SOURCE[0]}" 0 "${ARGS[@]}"
sampler_setup
START=$(now)

say "building the table: $ROWS rows"
q postgres -c "CREATE DATABASE bench_tpl"
bench_create_table bench_tpl "$ROWS"

OUT=$BENCH_WORK/report.txt
: >"$OUT"

# ---------------------------------------------------------------------------
# Part 1: batch sizes
# ---------------------------------------------------------------------------
batch_part()
{
	local db=replay_batches
	q postgres -c "CREATE DATABASE $db TEMPLATE bench_tpl STRATEGY FILE_COPY"
	"$PG_REBUILD" -d "$db" -t bench_t --dry-run >"$BENCH_WORK/plan.sql" 2>"$BENCH_WORK/plan.err" ||
		die "pg_rebuild --dry-run failed: $(cat "$BENCH_WORK/plan.err")"
	# the log table's DDL, the shadow's name, and the three replay statements
	perl -e '
		local $/; my $plan = <STDIN>; my $d = $ARGV[0];
		my ($log) = $plan =~ /^(CREATE (?:UNLOGGED )?TABLE "[^"]*"\."log_\d+" .*?);$/m or die "no log table\n";
		my ($rep) = $plan =~ /^-- \[replay\] lock: ROW EXCLUSIVE[^\n]*\n(DELETE FROM .*?;\nINSERT INTO .*?;\nDELETE FROM .*?;)\n/ms or die "no replay statements\n";
		my @st = split /;\n/, $rep; $st[2] =~ s/;$//;
		my ($shadow) = $st[0] =~ /^DELETE FROM ("[^"]*"\."[^"]*") s /;
		my ($logq) = $log =~ /TABLE ("[^"]*"\."[^"]*")/;
		my ($logid) = $st[2] =~ /WHERE ("[^"]*") <= \$1/;
		s/\$1/:upto/g for @st;
		open(my $o, ">", "$d/replay_log.sql"); print $o "$log;\n";
		open($o, ">", "$d/replay_names"); print $o "$shadow $logq $logid\n";
		open($o, ">", "$d/replay_batch.sql");
		print $o "BEGIN ISOLATION LEVEL REPEATABLE READ;\n",
		  "SELECT coalesce(max(b.i), 0) AS upto FROM (SELECT $logid AS i FROM $logq ORDER BY 1 LIMIT :batch) b \\gset\n",
		  "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off;\n",
		  "$st[0];\n$st[1];\n$st[2];\nCOMMIT;\n";' "$BENCH_WORK" <"$BENCH_WORK/plan.sql" ||
		die "could not read the replay statements from pg_rebuild --dry-run"
	local shadow logq logid
	read -r shadow logq logid <"$BENCH_WORK/replay_names"
	q "$db" -c "CREATE SCHEMA ${logq%%.*}" -f "$BENCH_WORK/replay_log.sql" \
		-c "CREATE TABLE $shadow (LIKE bench_t INCLUDING ALL)" -c "INSERT INTO $shadow SELECT * FROM bench_t" \
		-c "VACUUM ANALYZE $shadow"
	{
		echo "Part 1: replay batch size ($LOG_ENTRIES log entries on random keys of a $ROWS-row table, applied in"
		echo "batches by the statements of pg_rebuild --dry-run; median of $REPEAT; jit=on as on the server)"
		echo
		cat "$BENCH_WORK/replay_batch.sql" | sed 's/^/    /'
		echo
	} >>"$OUT"
	local sizes tsv=$BENCH_WORK/batches.tsv
	IFS=, read -r -a sizes <<<"$BATCHES"
	: >"$tsv"
	local rep i n=${#sizes[@]}
	for ((rep = 1; rep <= REPEAT; rep++)); do
		for ((i = 0; i < n; i++)); do
			local b=${sizes[$(((i + rep - 1) % n))]}
			local nb=$(((LOG_ENTRIES + b - 1) / b))
			q "$db" -c "TRUNCATE $logq RESTART IDENTITY" \
				-c "INSERT INTO $logq (id) SELECT 1 + (pg_catalog.hashint8(g + $rep * 7919) & 1073741823) % $ROWS FROM generate_series(1, $LOG_ENTRIES) g" \
				-c "VACUUM $shadow" -c "CHECKPOINT"
			local script=$BENCH_WORK/batches.$b.sql
			{
				echo "\\set batch $b"
				for ((k = 0; k < nb; k++)); do cat "$BENCH_WORK/replay_batch.sql"; done
			} >"$script"
			local t0 t1
			t0=$(now)
			q "$db" -f "$script" >/dev/null || die "the replay statements failed"
			t1=$(now)
			local left
			left=$(qv "$db" "SELECT count(*) FROM $logq")
			[ "$left" = 0 ] || die "the batches left $left log entries"
			local rate
			rate=$(perl -e 'printf "%.0f", $ARGV[0] / ($ARGV[2] - $ARGV[1])' "$LOG_ENTRIES" "$t0" "$t1")
			say "batch $b, run $rep: $nb batches, $(perl -e 'printf "%.2f", $ARGV[1] - $ARGV[0]' "$t0" "$t1") s, $rate entries/s"
			printf '%s\t%s\t%s\n' "$b" "$rep" "$(perl -e 'printf "%.3f", $ARGV[1] - $ARGV[0]' "$t0" "$t1")" >>"$tsv"
		done
	done
	perl -e '
		my (%t, @o);
		while (<STDIN>) { chomp; my ($b, $r, $s) = split /\t/; push @o, $b unless $t{$b}; push @{$t{$b}}, $s }
		sub med { my @a = sort { $a <=> $b } @_; my $n = @a; $n % 2 ? $a[($n-1)/2] : ($a[$n/2-1] + $a[$n/2]) / 2 }
		printf "%12s  %20s  %12s  %14s\n", "batch size", "time (s)", "entries/s", "ms per batch";
		printf "%12s  %20s  %12s  %14s\n", "-" x 10, "-" x 16, "-" x 10, "-" x 12;
		for my $bs (sort { $a <=> $b } @o) { my $m = med(@{$t{$bs}}); my $nb = int(($ARGV[0] + $bs - 1) / $bs);
			my @s = sort { $a <=> $b } @{$t{$bs}};
			printf "%12s  %20s  %12s  %14.0f\n", $bs, sprintf("%.2f (%.2f-%.2f)", $m, $s[0], $s[-1]), sprintf("%.0f", $ARGV[0] / $m), 1000 * $m / $nb }' \
		"$LOG_ENTRIES" <"$tsv" >>"$OUT"
	echo >>"$OUT"
	q postgres -c "DROP DATABASE $db"
}

# ---------------------------------------------------------------------------
# Part 2: sustained write rates
# ---------------------------------------------------------------------------
write_bulk_script()
{
	cat >"$1" <<'PGB'
WITH u AS (UPDATE bench_t SET a = a + 1, ts = now() WHERE id IN (SELECT 1 + (random() * (:nrows - 1))::bigint FROM generate_series(1, 10)) RETURNING 1) INSERT INTO bench_ledger (dcount, dsum_a, dsum_id) SELECT 0, count(*), 0 FROM u;
PGB
}

rate_part()
{
	say "bloating the table as in bench/run.sh"
	bench_bloat bench_tpl
	q postgres -c "CHECKPOINT"
	write_bulk_script "$BENCH_WORK/bulk.pgb"
	local rates r tsv=$BENCH_WORK/rates.tsv
	IFS=, read -r -a rates <<<"$RATES"
	: >"$tsv"
	local oid
	for r in "${rates[@]}"; do
		local dir=$BENCH_WORK/rate-$r
		mkdir -p "$dir"
		q postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_run WITH (FORCE)" \
			-c "CREATE DATABASE bench_run TEMPLATE bench_tpl STRATEGY FILE_COPY"
		oid=$(qv bench_run "SELECT 'bench_t'::regclass::oid")
		# the run keeps its log in the state schema of the table's owner (pgrebuild_<role OID>)
		local state
		state=$(qv bench_run "SELECT 'pgrebuild_' || relowner FROM pg_class WHERE oid = 'bench_t'::regclass")
		local before
		before=$(table_totals bench_run)
		q postgres -c "CHECKPOINT"
		local rarg=()
		[ "$r" != max ] && rarg=(-R "$(perl -e 'printf "%.1f", $ARGV[0] / 10' "$r")")
		"$PGBENCH" -n -c 4 -j 2 -M prepared -T 100000 -D nrows="$ROWS" -f "$BENCH_WORK/bulk.pgb" "${rarg[@]}" \
			-l --log-prefix="$dir/load" bench_run >"$dir/load.out" 2>&1 &
		local lpid=$!
		bench_track "$lpid"
		bgwait sleep 5
		# backlog sampler: the log's id span, every second
		(
			while :; do
				v=$("$PSQL" -X -A -t -d bench_run -c "SELECT coalesce(max(log_id) - min(log_id) + 1, 0) FROM $state.log_$oid" 2>/dev/null)
				[ -n "$v" ] && echo "$EPOCHREALTIME $v"
				sleep 1
			done
		) >"$dir/backlog" &
		local bpid=$!
		bench_track "$bpid"
		local t0 t1 rc
		t0=$(now)
		bgwait timeout -s TERM "$LIMIT" "$PG_REBUILD" -d bench_run -t bench_t --jobs 2 >"$dir/out" 2>&1
		rc=$?
		t1=$(now)
		sleep 2
		kill -TERM "$bpid" 2>/dev/null; wait "$bpid" 2>/dev/null; bench_untrack "$bpid"
		bg_stop "$lpid"
		local after ledger ok
		after=$(table_totals bench_run)
		ledger=$(ledger_totals bench_run)
		ok=$(perl -e 'my @b = split " ", $ARGV[0]; my @a = split " ", $ARGV[1]; my @l = split " ", $ARGV[2];
			print(($a[0] - $b[0] == $l[1] && $a[1] - $b[1] == $l[2] && $a[2] - $b[2] == $l[3]) ? "OK" : "FAIL")' \
			"$before" "$after" "$ledger")
		local tx btps rtps
		tx=$(perl "$BENCH_STATS" txlog "$t0" "$t1" 5 "$dir"/load.[0-9]*)
		read -r btps rtps _ <<<"$tx"
		local ph maxbl lastbl
		ph=$(perl "$BENCH_STATS" rebuildout "$dir/out" 2>/dev/null || echo "- - - - - - - - -")
		maxbl=$(sort -k2 -n "$dir/backlog" | tail -1 | cut -d' ' -f2)
		lastbl=$(tail -1 "$dir/backlog" | cut -d' ' -f2)
		local applied
		# the changes applied by the reconcile and by the replay
		applied=$(sed -n 's/^phase \(reconcile\|replay\) .* \([0-9,]*\) changes applied.*/\2/p' "$dir/out" | tr -d , |
			awk '{ n += $1 } END { if (NR) print n }')
		local res=caught-up
		[ "$rc" = 0 ] || res="no (exit $rc)"
		[ "$rc" = 124 ] && res="no: still replaying after $LIMIT s"
		local wall
		wall=$(perl -e 'printf "%.1f", $ARGV[1] - $ARGV[0]' "$t0" "$t1")
		local line
		line=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$r" "$(perl -e 'printf "%.0f", $ARGV[0] * 10' "$btps")" \
			"$(perl -e 'printf "%.0f", $ARGV[0] * 10' "$rtps")" "$res" "$wall" "$ph" "${applied:--}" "${maxbl:--}" "${lastbl:--}" "$ok")
		echo "$line" >>"$tsv"
		say "rate $r: $(echo "$line" | tr '\t' ' ')"
		[ "$rc" = 0 ] || sed 's/^/    /' "$dir/out" | tail -5 >&2
		if [ "$rc" != 0 ]; then
			"$PG_REBUILD" -d bench_run --cleanup >/dev/null 2>&1
		fi
	done
	{
		echo "Part 2: sustained write rate (pg_rebuild --jobs 2, $ROWS rows bloated as in bench/run.sh; pgbench -c 4,"
		echo "10 random rows updated per transaction + a ledger row; limit $LIMIT s per rebuild)"
		echo
		perl -e '
			my @h = ("target rows/s", "before", "during", "result", "wall", "copy", "reconcile", "index", "replay", "swap", "AE held", "applied", "max backlog", "ledger");
			my @rows;
			while (<STDIN>) { chomp; my @f = split /\t/; my @p = split / /, $f[5];
				push @rows, [$f[0], $f[1], $f[2], $f[3], "$f[4] s", map({ $_ eq "-" ? "-" : "$_ s" } @p[3..7]), ($p[0] eq "-" ? "-" : "$p[0] ms"), $f[6], $f[7], $f[9]]; }
			my %w; for my $r (\@h, @rows) { for my $i (0..$#$r) { $w{$i} = length $r->[$i] if length $r->[$i] > ($w{$i} // 0) } }
			my $l = sub { my $r = shift; join("  ", map { $_ == 3 ? sprintf("%-*s", $w{$_}, $r->[$_]) : sprintf("%*s", $w{$_}, $r->[$_]) } 0..$#$r) . "\n" };
			print $l->(\@h); print join("  ", map { "-" x $w{$_} } 0..$#h), "\n"; print $l->($_) for @rows;' <"$tsv"
		echo
		echo "before / during: row writes per second achieved in the 5 s before pg_rebuild started / while it ran"
		echo "(pgbench -l; 10 rows per transaction).  max backlog: the largest log id span sampled each second."
	} >>"$OUT"
}

[ "$DO_BATCHES" = 1 ] && batch_part
[ "$DO_RATES" = 1 ] && rate_part

ELAPSED=$(perl -e 'printf "%.0f", ($ARGV[1] - $ARGV[0]) / 60' "$START" "$(now)")
echo "pg_rebuild replay: bench/replay.sh ${ARGS[*]}  (${ELAPSED} min)"
echo
machine_description
echo
cat "$OUT"
