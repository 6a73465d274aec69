#!/bin/bash
# bench/estimate.sh: the space pg_rebuild expects a rebuild to give back,
# against what the rebuild really gave back, on the benchmark table bloated
# to 10%, 30% and 60%.
#
#   bench/estimate.sh [--rows N] [--bloat LIST] [--keep]
#
# For each bloat level: the table of bench/run.sh (N rows, three indexes),
# that fraction of its rows deleted at random, then VACUUM ANALYZE (as
# autovacuum would leave it: the space free but still part of the files);
# then `pg_rebuild --dry-run --measure=exact` (pgstattuple, when the server
# has it) and `pg_rebuild -t bench_t --report FILE`, whose report holds the
# estimate from the statistics (expected_reclaim) and the real outcome
# (size_before, size_after, reclaimed).  Prints one line per level: sizes,
# expected and real reclaim, the error in percent of the table's size.
#
# Options:
#   --rows N       table size (default 1000000)
#   --bloat LIST   percentages of rows deleted (default 10,30,60)
#   --keep         keep the work directory
#
# Environment: as bench/run.sh (PG_CONFIG, PG_REBUILD, BENCH_USER, TMPDIR).

BENCH_NAME=estimate.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

ROWS=1000000
BLOAT=10,30,60
while [ $# -gt 0 ]; do
	case $1 in
		--rows) ROWS=$2; shift 2 ;;
		--bloat) BLOAT=$2; shift 2 ;;
		--keep) BENCH_KEEP=1; shift ;;
		-h|--help) bench_help "${BASH_SOURCE[0]}"; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
	esac
done

bench_begin "${BASH_SOURCE[0]}" 0 "$@"
machine_description
have_exact=$(qv postgres "SELECT count(*) FROM pg_available_extensions WHERE name = 'pgstattuple'")
[ "$have_exact" = 1 ] && q postgres -c 'CREATE EXTENSION pgstattuple'

# The value of a field of the bench_t entry of a report.
field() { perl -MJSON::PP -e 'local $/; my $r = decode_json(<STDIN>); my ($t) = grep { $_->{table} eq "bench_t" } @{$r->{tables}}; print $t->{$ARGV[0]} // "null"' "$2" <"$1"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

printf '%-6s %12s %14s %14s %14s %12s %12s\n' bloat 'size MB' 'estimate MB' 'exact MB' 'real MB' 'est. err %' 'exact err %'
IFS=, read -ra levels <<<"$BLOAT"
for pct in "${levels[@]}"; do
	q postgres -c 'SET client_min_messages = warning; DROP TABLE IF EXISTS bench_t, bench_ledger; DROP SEQUENCE IF EXISTS bench_t_newid'
	bench_create_table postgres "$ROWS"
	q postgres -c "SELECT setseed(0.5); DELETE FROM bench_t WHERE random() < $pct / 100.0" -c 'VACUUM ANALYZE bench_t' >/dev/null
	exact=null
	if [ "$have_exact" = 1 ]; then
		"$PG_REBUILD" -q -d postgres -t bench_t --dry-run --measure exact --report "$BENCH_WORK/exact.json" >/dev/null ||
			die "pg_rebuild --measure=exact failed"
		exact=$(field "$BENCH_WORK/exact.json" expected_reclaim)
	fi
	"$PG_REBUILD" -q -d postgres -t bench_t --report "$BENCH_WORK/real.json" || die "pg_rebuild failed at $pct%"
	size=$(field "$BENCH_WORK/real.json" size_before)
	est=$(field "$BENCH_WORK/real.json" expected_reclaim)
	real=$(field "$BENCH_WORK/real.json" reclaimed)
	err() { [ "$1" = null ] && { echo -; return; }; awk -v e="$1" -v r="$real" -v s="$size" 'BEGIN { printf "%+.1f", 100 * (e - r) / s }'; }
	printf '%-6s %12s %14s %14s %14s %12s %12s\n' "$pct%" "$(mb "$size")" "$(mb "$est")" \
		"$([ "$exact" = null ] && echo - || mb "$exact")" "$(mb "$real")" "$(err "$est")" "$(err "$exact")"
done
