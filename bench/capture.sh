#!/bin/bash
# bench/capture.sh: what capturing changes costs the application.
#
#   bench/capture.sh [--rows N] [--seconds S] [--repeat K] [--quick]
#
# Throughput (pgbench, 4 clients) of single-row INSERT, UPDATE and DELETE
# transactions and of 1000-row INSERT and UPDATE statements on the benchmark
# table, with:
#   none       no trigger
#   row        pg_rebuild's capture: the log table, the function and the AFTER
#              ... FOR EACH ROW trigger exactly as `pg_rebuild --dry-run` prints
#              them (PL/pgSQL, SECURITY DEFINER, SET search_path)
#   row-plain  the same function without SECURITY DEFINER and SET search_path
#              (what those two clauses cost)
#   statement  AFTER ... FOR EACH STATEMENT triggers with transition tables
#              (REFERENCING OLD TABLE / NEW TABLE), one per event, logging the
#              same keys into the same log table with one INSERT ... SELECT
#              (SECURITY DEFINER and SET search_path, like the row function)
# each K times in round-robin order, with synchronous_commit on (durable
# commits: what an application sees) and off (the trigger's CPU cost, not
# hidden behind the WAL flush).  Prints the median tps of each and its ratio
# to "none".
#
# Options:
#   --rows N      table size (default 1000000)
#   --seconds S   length of each measurement (default 8)
#   --repeat K    measurements of each (default 3)
#   --quick       100000 rows, 3 s, K=1
#   --keep        keep the work directory
#
# Environment: as bench/run.sh (PG_CONFIG, PG_REBUILD, BENCH_USER, TMPDIR).

BENCH_NAME=capture.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

ROWS=1000000
SECONDS_EACH=8
REPEAT=3
ARGS=("$@")
while [ $# -gt 0 ]; do
	case $1 in
		--rows) ROWS=${2:?}; shift ;;
		--seconds) SECONDS_EACH=${2:?}; shift ;;
		--repeat) REPEAT=${2:?}; shift ;;
		--quick) ROWS=100000; SECONDS_EACH=3; REPEAT=1 ;;
		--keep) BENCH_KEEP=1 ;;
		-h|--help) bench_help "${BASH_SOURCE[0]}"; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done

bench_begin "${BASH_SOURCE[0]}" 0 "${ARGS[@]}"

DB=capture
q postgres -c "CREATE DATABASE $DB"
say "building the table: $ROWS rows"
bench_create_table "$DB" "$ROWS"
q "$DB" <<SQL
CREATE SEQUENCE bench_del MAXVALUE $ROWS CYCLE;
CREATE SEQUENCE bench_del1000 INCREMENT 1000 MAXVALUE $((ROWS - 999)) CYCLE;
SQL

# pg_rebuild's own capture objects, from its plan
"$PG_REBUILD" -d "$DB" -t bench_t --dry-run >"$BENCH_WORK/plan.sql" 2>"$BENCH_WORK/plan.err" ||
	die "pg_rebuild --dry-run failed: $(cat "$BENCH_WORK/plan.err")"
perl -e '
	local $/; my $plan = <STDIN>; my %s;
	for my $st (split /;\n\n/, $plan) {
		$st =~ s/^(?:--[^\n]*\n|\n)+//;
		$s{log} = $st if $st =~ /^CREATE (UNLOGGED )?TABLE "[^"]*"\."log_\d+"/;
		$s{func} = $st if $st =~ /^CREATE FUNCTION "[^"]*"\."capture_\d+"\(\)/;
		$s{trig} = $st if $st =~ /^CREATE TRIGGER pgrebuild_capture /;
	}
	die "capture objects not found in the plan\n" unless 3 == grep { defined } @s{qw(log func trig)};
	open(my $o, ">", "$ARGV[0]/cap_log.sql"); print $o "$s{log};\n";
	open($o, ">", "$ARGV[0]/cap_func.sql"); print $o "$s{func};\n";
	open($o, ">", "$ARGV[0]/cap_trig.sql"); print $o "$s{trig};\n";
	my ($log) = $s{log} =~ /^CREATE (?:UNLOGGED )?TABLE ("[^"]*"\."[^"]*")/;
	my ($func) = $s{func} =~ /^CREATE FUNCTION ("[^"]*"\."[^"]*")\(\)/;
	open($o, ">", "$ARGV[0]/cap_names"); print $o "$log $func\n";' "$BENCH_WORK" <"$BENCH_WORK/plan.sql" ||
	die "could not read the capture objects from pg_rebuild --dry-run"
read -r LOG FUNC <"$BENCH_WORK/cap_names"
SCHEMA=${LOG%%.*}
q "$DB" -c "CREATE SCHEMA $SCHEMA" -f "$BENCH_WORK/cap_log.sql" -f "$BENCH_WORK/cap_func.sql"
# the same body without SECURITY DEFINER / SET search_path
sed -e 's/ SECURITY DEFINER//' -e 's/ SET search_path = pg_catalog, pg_temp//' \
	-e "s/CREATE FUNCTION \([^(]*\)\"()/CREATE FUNCTION \1_plain\"()/" "$BENCH_WORK/cap_func.sql" >"$BENCH_WORK/cap_func_plain.sql"
q "$DB" -f "$BENCH_WORK/cap_func_plain.sql"
q "$DB" <<SQL
CREATE FUNCTION $SCHEMA.capture_statement() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS \$f\$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO $LOG (id) SELECT n.id FROM newrows n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO $LOG (id) SELECT o.id FROM oldrows o;
    ELSE
        -- the old key of every row, and the new key where it changed
        INSERT INTO $LOG (id) SELECT o.id FROM oldrows o UNION SELECT n.id FROM newrows n;
    END IF;
    RETURN NULL;
END
\$f\$;
SQL
echo "capture objects (from pg_rebuild --dry-run):" >"$BENCH_WORK/objects.txt"
cat "$BENCH_WORK/cap_log.sql" "$BENCH_WORK/cap_func.sql" "$BENCH_WORK/cap_trig.sql" >>"$BENCH_WORK/objects.txt"

set_variant()
{
	q "$DB" <<SQL
SET client_min_messages = warning;
DROP TRIGGER IF EXISTS pgrebuild_capture ON bench_t;
DROP TRIGGER IF EXISTS cap_ins ON bench_t;
DROP TRIGGER IF EXISTS cap_upd ON bench_t;
DROP TRIGGER IF EXISTS cap_del ON bench_t;
SQL
	case $1 in
		none) ;;
		row) q "$DB" -f "$BENCH_WORK/cap_trig.sql" -c "ALTER TABLE bench_t ENABLE ALWAYS TRIGGER pgrebuild_capture" ;;
		row-plain) sed 's/capture_\([0-9]*\)"()/capture_\1_plain"()/' "$BENCH_WORK/cap_trig.sql" | q "$DB"
			q "$DB" -c "ALTER TABLE bench_t ENABLE ALWAYS TRIGGER pgrebuild_capture" ;;
		statement) q "$DB" <<SQL
CREATE TRIGGER cap_ins AFTER INSERT ON bench_t REFERENCING NEW TABLE AS newrows
    FOR EACH STATEMENT EXECUTE FUNCTION $SCHEMA.capture_statement();
CREATE TRIGGER cap_upd AFTER UPDATE ON bench_t REFERENCING OLD TABLE AS oldrows NEW TABLE AS newrows
    FOR EACH STATEMENT EXECUTE FUNCTION $SCHEMA.capture_statement();
CREATE TRIGGER cap_del AFTER DELETE ON bench_t REFERENCING OLD TABLE AS oldrows
    FOR EACH STATEMENT EXECUTE FUNCTION $SCHEMA.capture_statement();
ALTER TABLE bench_t ENABLE ALWAYS TRIGGER cap_ins, ENABLE ALWAYS TRIGGER cap_upd, ENABLE ALWAYS TRIGGER cap_del;
SQL
			;;
	esac
}

# the workloads: one pgbench script each
W=$BENCH_WORK
cat >"$W/insert-1.pgb" <<'PGB'
\set av random(1, 1048575)
INSERT INTO bench_t (id, a, b, ts, s, n) VALUES (nextval('bench_t_newid'), :av, :av % 131072, now(), md5(:av::text) || 'appinsrt', 'app');
PGB
cat >"$W/update-1.pgb" <<'PGB'
\set k random(1, :nrows)
UPDATE bench_t SET a = a + 1, ts = now() WHERE id = :k;
PGB
cat >"$W/delete-1.pgb" <<'PGB'
DELETE FROM bench_t WHERE id = (SELECT nextval('bench_del'));
PGB
cat >"$W/insert-1000.pgb" <<'PGB'
INSERT INTO bench_t (id, a, b, ts, s, n) SELECT nextval('bench_t_newid'), g, g % 131072, now(), md5(g::text) || 'appinsrt', 'app' FROM generate_series(1, 1000) g;
PGB
cat >"$W/update-1000.pgb" <<'PGB'
\set k random(1, :nrows - 999)
UPDATE bench_t SET a = a + 1, ts = now() WHERE id BETWEEN :k AND :k + 999;
PGB
WORKLOADS=(insert-1 update-1 delete-1 insert-1000 update-1000)
VARIANTS=(none row row-plain statement)

# After each measurement: the deleted rows back, the inserted ones gone, the
# log empty, dead rows vacuumed: every measurement starts from the same table.
reset_table()
{
	q "$DB" <<SQL
DELETE FROM bench_t WHERE id > $ROWS;
INSERT INTO bench_t (id, a, b, ts, s, n)
SELECT i, (pg_catalog.hashint8(i) & 1048575)::bigint, (pg_catalog.hashint8(i + 7) & 131071)::int,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', md5(i::text) || lpad(i::text, 8, '0'), 'note ' || i
FROM generate_series(1, $ROWS) AS i WHERE NOT EXISTS (SELECT FROM bench_t t WHERE t.id = i);
TRUNCATE $LOG;
SQL
	q "$DB" -c "VACUUM bench_t" -c "CHECKPOINT"
}

TSV=$BENCH_WORK/capture.tsv
printf 'commit\tworkload\tvariant\trep\ttps\tlog_rows\n' >"$TSV"
START=$(now)
nv=${#VARIANTS[@]}
for commit in on off; do
	for ((rep = 1; rep <= REPEAT; rep++)); do
		for w in "${WORKLOADS[@]}"; do
			for ((i = 0; i < nv; i++)); do
				v=${VARIANTS[$(((i + rep - 1) % nv))]}
				set_variant "$v"
				PGOPTIONS="-c synchronous_commit=$commit" bgwait "$PGBENCH" -n -c 4 -j 2 -M prepared -T "$SECONDS_EACH" \
					-D nrows="$ROWS" -f "$W/$w.pgb" "$DB" >"$W/pgbench.out" 2>&1 ||
					die "pgbench failed: $(tail -5 "$W/pgbench.out")"
				tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$W/pgbench.out")
				logged=$(qv "$DB" "SELECT count(*) FROM $LOG")
				printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$commit" "$w" "$v" "$rep" "$tps" "$logged" >>"$TSV"
				say "$(printf 'synchronous_commit=%-3s %-12s %-10s run %d: %8.1f tps, %s keys logged' "$commit" "$w" "$v" "$rep" "$tps" "$logged")"
				reset_table
			done
		done
	done
done

ELAPSED=$(perl -e 'printf "%.0f", ($ARGV[1] - $ARGV[0]) / 60' "$START" "$(now)")
echo "pg_rebuild capture cost: bench/capture.sh ${ARGS[*]}"
echo
machine_description
echo
echo "table:      bench_t as in bench/run.sh, $ROWS rows (3 indexes), reset after every measurement"
echo "load:       pgbench -c 4 -j 2 -M prepared, ${SECONDS_EACH} s per measurement, $REPEAT measurements each, round-robin; ${ELAPSED} min in all"
echo "workloads:  insert-1 / update-1 / delete-1: one row per transaction (by primary key);"
echo "            insert-1000 / update-1000: one statement writing 1000 rows per transaction"
echo "variants:   none; row = pg_rebuild's capture trigger as generated; row-plain = same without SECURITY DEFINER"
echo "            and SET search_path; statement = statement triggers with transition tables, INSERT ... SELECT"
perl "$BENCH_STATS" capture "$TSV"
echo
echo "cost per txn: how much longer a transaction takes than without a trigger (1/tps against none)."
echo
cat "$BENCH_WORK/objects.txt"
