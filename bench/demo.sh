#!/usr/bin/env bash
# demo.sh: pg_rebuild at work on a throwaway local cluster.
#
#   bash bench/demo.sh [PATH_TO_pg_rebuild]      (./dev.sh demo builds and runs it)
#
# Creates a cluster in a temporary directory (PostgreSQL found through
# pg_config), a bloated table "orders" whose column customer_id is nullable but
# holds no NULL, starts an application-like write load (pgbench, 4 clients,
# insert + update + delete transactions that also keep a ledger), runs
#   pg_rebuild -t orders --set-not-null customer_id
# in the middle of it, and prints the table before and after, the load's
# figures, and whether every committed write is there exactly once.
# It exits 0 only when pg_rebuild exited 0, the application saw no error and
# the ledger balances.  On failure it keeps the server log and the load's
# output (not the cluster) and says where.
# Environment: DEMO_ROWS (default 500000), DEMO_LOAD_SECONDS (default 20),
# DEMO_RATE (transactions per second of the load, default 400).
set -euo pipefail

pg_rebuild=${1:-pg_rebuild}
rows=${DEMO_ROWS:-500000}
load_seconds=${DEMO_LOAD_SECONDS:-20}
rate=${DEMO_RATE:-400}

[ "$(id -u)" != 0 ] || { echo "demo.sh: run it as an unprivileged user (initdb refuses root); ./dev.sh demo does that" >&2; exit 1; }
bindir=$(pg_config --bindir)
work=$(mktemp -d "${TMPDIR:-/tmp}/pg_rebuild-demo.XXXXXX")
port=$(( 20000 + RANDOM % 20000 ))
export PGHOST=$work PGPORT=$port PGDATABASE=demo PGUSER=$(id -un)
unset PGPASSWORD PGSERVICE PGOPTIONS

# On success everything goes; on failure the logs stay for a look.
cleanup()
{
	local rc=$?
	[ -z "${load_pid:-}" ] || kill "$load_pid" 2>/dev/null || true
	"$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
	if [ "$rc" = 0 ]; then
		rm -rf "$work"
	else
		rm -rf "$work/data"
		echo "demo.sh: failed (exit $rc); the server log and the load's output are kept in $work (server.log, load.out); remove them with: rm -rf '$work'" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section()
{
	printf '\n=== %s\n' "$*"
}

section "a throwaway cluster in $work (port $port)"
"$bindir/initdb" -D "$work/data" -A trust -U "$PGUSER" >/dev/null
cat >> "$work/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
shared_buffers = 256MB
max_wal_size = 2GB
EOF
"$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
"$bindir/createdb" demo

section "a bloated table: $rows orders, then a third of them updated and a third deleted"
"$bindir/psql" -q -X -v ON_ERROR_STOP=1 <<EOF
CREATE TABLE orders (
    id          bigserial PRIMARY KEY,
    customer_id bigint,                 -- nullable, but holds no NULL
    amount      bigint NOT NULL,
    status      text NOT NULL DEFAULT 'new',
    created     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer ON orders (customer_id);
COMMENT ON TABLE orders IS 'demo orders';
-- bigint: g * 7919 passes the int range once g passes 271,181
INSERT INTO orders (customer_id, amount)
    SELECT g % 5000 + 1, (g * 7919) % 1000 FROM generate_series(1::bigint, $rows) g;
UPDATE orders SET status = 'paid' WHERE id % 3 = 0;
DELETE FROM orders WHERE id % 3 = 1;
VACUUM orders;
CREATE TABLE ledger (delta_count bigint NOT NULL, delta_sum bigint NOT NULL);
EOF

show_table()
{
	"$bindir/psql" -X -q -c "\\d orders" -c "SELECT count(*) AS rows, sum(amount) AS sum_amount,
		pg_size_pretty(pg_relation_size('orders')) AS heap,
		pg_size_pretty(pg_total_relation_size('orders')) AS total FROM orders"
}
section "before"
show_table
read -r count0 sum0 < <("$bindir/psql" -X -At -F ' ' -c "SELECT count(*), coalesce(sum(amount), 0) FROM orders")

# The application: each transaction inserts an order, changes the amount of
# one, moves one to a new id (a primary key update) and deletes one, and records
# in the ledger exactly what it changed.
cat > "$work/app.sql" <<'EOF'
\set k random(1, 2000000)
\set v random(1, 1000)
BEGIN;
WITH i AS (INSERT INTO orders (customer_id, amount) VALUES (:v, :v) RETURNING amount)
  INSERT INTO ledger SELECT count(*), coalesce(sum(amount), 0) FROM i;
WITH u AS (UPDATE orders SET amount = amount + 1 WHERE id = :k RETURNING 1)
  INSERT INTO ledger SELECT 0, count(*) FROM u;
WITH m AS (UPDATE orders SET id = nextval('orders_id_seq') WHERE id = :k + 1 RETURNING 1)
  SELECT count(*) FROM m;
WITH d AS (DELETE FROM orders WHERE id = :k + 2 RETURNING amount)
  INSERT INTO ledger SELECT -count(*), -coalesce(sum(amount), 0) FROM d;
COMMIT;
EOF

section "the application writes ($rate transactions/s, 4 clients, ${load_seconds} s); pg_rebuild runs in the middle"
# (--max-tries: two clients may deadlock on the same rows; pgbench retries them)
"$bindir/pgbench" -n -c 4 -j 2 -T "$load_seconds" -R "$rate" --max-tries=10 -f "$work/app.sql" demo > "$work/load.out" 2>&1 &
load_pid=$!
sleep 3
echo "\$ pg_rebuild -t orders --set-not-null customer_id"
rc=0
"$pg_rebuild" -t orders --set-not-null customer_id || rc=$?
echo "(pg_rebuild exit status: $rc)"
load_rc=0
wait "$load_pid" || load_rc=$?
load_pid=

section "the application's view of it (pgbench)"
grep -E 'processed|failed|latency average|latency stddev|rate limit schedule lag|tps' "$work/load.out" || cat "$work/load.out"
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/load.out")

section "after"
show_table

section "every committed write is there exactly once?"
"$bindir/psql" -X -q -v ON_ERROR_STOP=1 <<EOF
SELECT (SELECT count(*) FROM orders) - $count0 AS rows_changed_in_table,
       (SELECT coalesce(sum(delta_count), 0) FROM ledger) AS rows_changed_by_ledger,
       (SELECT coalesce(sum(amount), 0) FROM orders) - $sum0 AS sum_changed_in_table,
       (SELECT coalesce(sum(delta_sum), 0) FROM ledger) AS sum_changed_by_ledger;
EOF
balanced=$("$bindir/psql" -X -At -v ON_ERROR_STOP=1 -c "
SELECT (SELECT count(*) FROM orders) - $count0 = (SELECT coalesce(sum(delta_count), 0) FROM ledger)
   AND (SELECT coalesce(sum(amount), 0) FROM orders) - $sum0 = (SELECT coalesce(sum(delta_sum), 0) FROM ledger)")

section "verdict"
verdict=0
if [ "$balanced" = t ]; then
	echo "yes: the ledger balances"
else
	echo "NO: the ledger does not balance: a committed write was lost or doubled"
	verdict=1
fi
if [ "$rc" != 0 ]; then
	echo "NO: pg_rebuild exited $rc (its messages are above)"
	verdict=1
fi
if [ "$load_rc" != 0 ] || [ "${failed:-0}" != 0 ]; then
	echo "NO: the application saw errors: pgbench exited $load_rc with ${failed:-an unknown number of} failed transactions (its output: $work/load.out)"
	verdict=1
fi
[ "$verdict" != 0 ] || echo "yes: the table was rebuilt under the load, and the application saw no error"
exit "$verdict"
