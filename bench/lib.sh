# bench/lib.sh: shared by bench/run.sh, bench/capture.sh and bench/replay.sh.
#
# A throwaway PostgreSQL cluster in a temporary directory, the benchmark
# table, the application load (pgbench), the lock sampler, and cleanup that
# runs even on Ctrl-C.  Sourced, not run.  Needs bash 4.4+, perl, and the
# PostgreSQL server binaries that `pg_config --bindir` names.
#
# Environment (all optional):
#   PG_CONFIG     pg_config to ask for the server binaries (default: pg_config)
#   PG_REBUILD    the pg_rebuild binary (default: pg_rebuild in PATH, or
#                 ../pg_rebuild next to this directory)
#   PG_REPACK     the pg_repack client (default: pg_repack in the bindir or PATH)
#   BENCH_USER    when started as root, run everything as this user (default:
#                 postgres if it exists, else nobody); initdb refuses root
#   BENCH_SHARED_BUFFERS  override shared_buffers (default: 1GB, or RAM/4 if smaller)
#   TMPDIR        where the cluster's temporary directory goes (default: /tmp)

set -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_STATS="$BENCH_DIR/stats.pl"

say() { printf '%s\n' "$*" >&2; }
die() { printf '%s: error: %s\n' "${BENCH_NAME:-bench}" "$*" >&2; exit 2; }
now() { printf '%s' "$EPOCHREALTIME"; }

# ---------------------------------------------------------------------------
# Root: re-run this script as an unprivileged user (initdb refuses root).
# ---------------------------------------------------------------------------

# bench_help SCRIPT: prints the comment block at the top of SCRIPT (its --help).
bench_help() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$1"; }

# bench_begin SCRIPT NEED_REPACK ARGS...: re-runs SCRIPT as an unprivileged
# user when started as root, finds the tools (pg_repack too when NEED_REPACK
# is 1), installs the cleanup traps and starts the throwaway cluster.
bench_begin()
{
	local script=$1 need_repack=$2
	shift 2
	bench_drop_root "$script" "$@"
	bench_find_tools 1 "$need_repack"
	bench_install_traps
	bench_cluster_start
}

# usage: bench_drop_root SCRIPT ARGS...   (execs; returns only when not root)
bench_drop_root()
{
	local script=$1
	shift
	[ "$(id -u)" = 0 ] || return 0
	local u=${BENCH_USER:-}
	if [ -z "$u" ]; then
		for cand in postgres nobody; do
			if id -u "$cand" >/dev/null 2>&1; then u=$cand; break; fi
		done
	fi
	[ -n "$u" ] || die "running as root and no unprivileged user found: set BENCH_USER"
	command -v runuser >/dev/null 2>&1 || die "running as root and runuser(1) is missing: run as an ordinary user"
	# the binaries must be given as absolute paths: the other user has another PATH and HOME
	local rb
	rb=$(find_pg_rebuild) || true
	[ -n "$rb" ] && export PG_REBUILD=$rb
	runuser -u "$u" -- test -r "$script" ||
		die "user $u cannot read $script: set BENCH_USER to a user who can, or copy bench/ somewhere readable"
	if [ -n "$rb" ] && ! runuser -u "$u" -- test -x "$rb"; then
		die "user $u cannot run $rb: set BENCH_USER or PG_REBUILD"
	fi
	say "running as root: re-running as user $u (BENCH_USER to choose another)"
	exec runuser -u "$u" -- env HOME="${TMPDIR:-/tmp}" BENCH_AS_USER="$u" bash "$script" "$@"
}

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------

find_pg_rebuild()
{
	local c
	if [ -n "${PG_REBUILD:-}" ]; then
		c=$PG_REBUILD
		[ -x "$c" ] || c=$(command -v "$c" 2>/dev/null) || return 1
	elif c=$(command -v pg_rebuild 2>/dev/null); then
		:
	elif [ -x "$BENCH_DIR/../pg_rebuild" ]; then
		c=$BENCH_DIR/../pg_rebuild
	else
		return 1
	fi
	readlink -f "$c"
}

# Sets PG_BINDIR, PSQL, PGBENCH, INITDB, PG_CTL, PG_VERSION_STR; optional ones:
# PG_REBUILD (need_rebuild=1 makes it required), PG_REPACK, TIME_BIN.
bench_find_tools()
{
	local need_rebuild=${1:-1} need_repack=${2:-0}
	local pgc=${PG_CONFIG:-pg_config}
	command -v "$pgc" >/dev/null 2>&1 || die "pg_config not found (install libpq-dev / postgresql-server-dev, or set PG_CONFIG)"
	PG_BINDIR=$("$pgc" --bindir)
	for t in initdb pg_ctl postgres psql pgbench; do
		[ -x "$PG_BINDIR/$t" ] || die "$PG_BINDIR/$t not found: install the PostgreSQL server package matching $("$pgc" --version)"
	done
	INITDB=$PG_BINDIR/initdb
	PG_CTL=$PG_BINDIR/pg_ctl
	PSQL=$PG_BINDIR/psql
	PGBENCH=$PG_BINDIR/pgbench
	PG_VERSION_STR=$("$PG_BINDIR/postgres" --version)
	command -v perl >/dev/null 2>&1 || die "perl is needed for the statistics"
	if PG_REBUILD=$(find_pg_rebuild); then
		:
	elif [ "$need_rebuild" = 1 ]; then
		die "pg_rebuild not found: build it and set PG_REBUILD=/path/to/pg_rebuild (or put it in PATH)"
	else
		PG_REBUILD=
	fi
	PG_REPACK=${PG_REPACK:-}
	if [ -z "$PG_REPACK" ]; then
		if [ -x "$PG_BINDIR/pg_repack" ]; then PG_REPACK=$PG_BINDIR/pg_repack
		else PG_REPACK=$(command -v pg_repack 2>/dev/null) || PG_REPACK=; fi
	fi
	if [ "$need_repack" = 1 ] && [ -z "$PG_REPACK" ]; then
		say "warning: pg_repack not found (Debian: apt-get install postgresql-${PG_VERSION_STR##* }-repack, major version only): its rows are skipped"
	fi
	TIME_BIN=
	if [ -x /usr/bin/time ] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
		TIME_BIN=/usr/bin/time
	else
		say "warning: GNU time (/usr/bin/time, Debian package 'time') is missing: peak memory is not measured"
	fi
}

# ---------------------------------------------------------------------------
# Processes and cleanup.  Every process we start is recorded by pid; on exit
# (normal, error, Ctrl-C, TERM, HUP) those still running and their children
# get SIGTERM (then SIGKILL after 15 s), the cluster is stopped and its
# directory removed.
#
# Long commands run through bgwait (in the background, then `wait`): a
# non-interactive bash runs its INT trap only after a foreground child ends,
# and not at all when that child (pg_rebuild, psql) handles SIGINT itself and
# exits normally; `wait` returns at once on a trapped signal.
# ---------------------------------------------------------------------------

BENCH_PIDS=()
BENCH_WORK=
BENCH_KEEP=0
BENCH_CLUSTER_UP=0

bench_track() { BENCH_PIDS+=("$1"); }

bench_untrack()
{
	local p keep=()
	for p in "${BENCH_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	BENCH_PIDS=("${keep[@]}")
}

# bgwait CMD...: runs CMD (stdin included) and returns its exit status, interruptibly.
bgwait()
{
	"$@" <&0 &
	local p=$!
	bench_track "$p"
	wait "$p"
	local rc=$?
	bench_untrack "$p"
	return $rc
}

bench_stop_processes()
{
	local p c all=() i alive
	for p in "${BENCH_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || continue
		# children first (pg_rebuild under /usr/bin/time, psql/sleep under a loop)
		for c in $(pgrep -P "$p" 2>/dev/null); do all+=("$c"); done
		all+=("$p")
	done
	[ ${#all[@]} -gt 0 ] || return 0
	kill -TERM "${all[@]}" 2>/dev/null
	for ((i = 0; i < 150; i++)); do
		alive=0
		for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	[ $alive = 1 ] && kill -KILL "${all[@]}" 2>/dev/null
	for p in "${BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	BENCH_PIDS=()
}

bench_cleanup()
{
	local rc=$?
	trap '' INT TERM HUP
	trap - EXIT
	bench_stop_processes
	if [ "$BENCH_CLUSTER_UP" = 1 ]; then
		"$PG_CTL" -D "$BENCH_WORK/data" -m immediate -w stop >/dev/null 2>&1
		BENCH_CLUSTER_UP=0
	fi
	if [ -n "$BENCH_WORK" ] && [ -d "$BENCH_WORK" ]; then
		if [ "$BENCH_KEEP" = 1 ]; then
			say "kept the work directory (logs, raw figures): $BENCH_WORK"
		else
			rm -rf "$BENCH_WORK"
		fi
	fi
	exit "$rc"
}

bench_on_signal()
{
	say "interrupted: stopping background processes and the cluster"
	exit 130
}

bench_install_traps()
{
	trap bench_cleanup EXIT
	trap bench_on_signal INT TERM HUP
}

# ---------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------

free_port()
{
	local p tries=0
	while [ $tries -lt 200 ]; do
		p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
		tries=$((tries + 1))
		# not listening on TCP, no socket file in the usual places
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
			[ ! -e "/tmp/.s.PGSQL.$p" ] && [ ! -e "/var/run/postgresql/.s.PGSQL.$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

mem_total_kb() { awk '/^MemTotal:/ {print $2}' /proc/meminfo; }

# bench_cluster_start [extra postgresql.conf lines...]
# Sets BENCH_WORK, PGHOST, PGPORT, PGUSER, PGDATABASE (exported).
bench_cluster_start()
{
	BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/pg_rebuild_bench.XXXXXX") || die "mktemp failed"
	chmod 700 "$BENCH_WORK"
	local port
	port=$(free_port) || die "no free port found"
	"$INITDB" -D "$BENCH_WORK/data" -U bench --auth=trust -E UTF8 --locale=C.UTF-8 >"$BENCH_WORK/initdb.log" 2>&1 ||
		"$INITDB" -D "$BENCH_WORK/data" -U bench --auth=trust -E UTF8 --no-locale >"$BENCH_WORK/initdb.log" 2>&1 ||
		die "initdb failed: $(tail -5 "$BENCH_WORK/initdb.log")"
	local mem_kb sb
	mem_kb=$(mem_total_kb)
	if [ -n "${BENCH_SHARED_BUFFERS:-}" ]; then
		sb=$BENCH_SHARED_BUFFERS
	elif [ "$mem_kb" -ge 4194304 ]; then
		sb=1GB
	else
		sb=$((mem_kb / 4 / 1024))MB
	fi
	BENCH_SETTINGS=(
		"listen_addresses = ''"
		"port = $port"
		"unix_socket_directories = '$BENCH_WORK'"
		"max_connections = 50"
		"shared_buffers = $sb"
		"maintenance_work_mem = 256MB"
		"work_mem = 16MB"
		"max_wal_size = 4GB"
		"min_wal_size = 1GB"
		"checkpoint_timeout = 30min"
		"checkpoint_completion_target = 0.9"
		"wal_level = replica"
		"fsync = on"
		"synchronous_commit = on"
		"full_page_writes = on"
		"wal_compression = off"
		"autovacuum = on"
		"jit = on"
		"max_parallel_maintenance_workers = 2"
		"logging_collector = off"
		"log_autovacuum_min_duration = 0"
		"log_lock_waits = on"
		"log_checkpoints = on"
		"log_min_duration_statement = 1000"
		"log_line_prefix = '%m [%p] %a: '"
	)
	local extra
	for extra in "$@"; do BENCH_SETTINGS+=("$extra"); done
	printf '%s\n' "${BENCH_SETTINGS[@]}" >>"$BENCH_WORK/data/postgresql.conf"
	export PGHOST=$BENCH_WORK PGPORT=$port PGUSER=bench PGDATABASE=postgres
	unset PGSERVICE PGOPTIONS PGPASSWORD PGHOSTADDR PGSSLMODE
	"$PG_CTL" -D "$BENCH_WORK/data" -l "$BENCH_WORK/server.log" -w -t 120 start >/dev/null ||
		die "the cluster did not start: $(tail -5 "$BENCH_WORK/server.log")"
	BENCH_CLUSTER_UP=1
	say "cluster: $BENCH_WORK/data, socket $BENCH_WORK port $port, shared_buffers $sb"
}

# psql with the settings every call needs: q DB [psql args...]
q() { local db=$1; shift; bgwait "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
# one value: qv DB SQL
qv() { bgwait "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

machine_description()
{
	local cpu
	cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	echo "machine:    $(nproc) CPUs ($cpu), $(( $(mem_total_kb) / 1024 / 1024 )) GB RAM, $(uname -sr)"
	[ -r /etc/debian_version ] && echo "os:         Debian $(cat /etc/debian_version)"
	echo "postgresql: $(qv postgres 'SELECT version()')"
	echo "settings:   $(qv postgres "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers','maintenance_work_mem','work_mem','max_wal_size','checkpoint_timeout','wal_level','fsync','synchronous_commit','full_page_writes','autovacuum','jit','max_parallel_maintenance_workers','max_worker_processes')")"
	echo "            (shared_buffers in 8 kB pages; the same cluster and settings for every contender)"
	[ -n "${PG_REBUILD:-}" ] && echo "pg_rebuild: $("$PG_REBUILD" --version 2>/dev/null | head -1) ($PG_REBUILD)"
	[ -n "${PG_REPACK:-}" ] && echo "pg_repack:  $("$PG_REPACK" --version 2>/dev/null | head -1)"
	echo "pgbench:    $("$PGBENCH" --version)"
}

# ---------------------------------------------------------------------------
# The benchmark table, its ledger, the bloat
# ---------------------------------------------------------------------------

# bench_create_table DB ROWS [ID_TYPE] : 6 columns, primary key (bigint, or
# ID_TYPE) and 2 secondary indexes
# (about 96 bytes a row on disk when compact), the ledger, the id sequence for
# the application's inserts.
bench_create_table()
{
	local db=$1 rows=$2 idtype=${3:-bigint}
	q "$db" <<SQL
CREATE TABLE bench_t (
    id      $idtype PRIMARY KEY,
    a       bigint NOT NULL,          -- an amount: the ledger sums it
    b       integer NOT NULL,         -- a customer id (indexed)
    ts      timestamptz NOT NULL,     -- a time (indexed)
    s       text NOT NULL,            -- 40 bytes of payload
    n       text                      -- nullable, holds no NULL: the NOT NULL job
);
INSERT INTO bench_t (id, a, b, ts, s, n)
SELECT i,
       (pg_catalog.hashint8(i) & 1048575)::bigint,
       (pg_catalog.hashint8(i + 7) & 131071)::int,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second',
       md5(i::text) || lpad(i::text, 8, '0'),
       'note ' || i
FROM generate_series(1, $rows) AS i;
CREATE INDEX bench_t_b_idx ON bench_t (b);
CREATE INDEX bench_t_ts_idx ON bench_t (ts);
-- The application's inserts take ids above the initial rows.
CREATE SEQUENCE bench_t_newid START $((rows + 1));
-- One row per application transaction: what it changed in bench_t.
CREATE TABLE bench_ledger (
    dcount  bigint NOT NULL,   -- rows added minus rows removed
    dsum_a  bigint NOT NULL,   -- change of sum(a)
    dsum_id bigint NOT NULL    -- change of sum(id)
);
VACUUM ANALYZE bench_t;
SQL
}

# bench_add_dependents DB : what makes a key's type change hard: two tables
# whose foreign keys reference bench_t's id (100,000 rows each, ON DELETE
# CASCADE, so the load's deletes go through) and a view that reads id.
bench_add_dependents()
{
	q "$1" <<'SQL'
CREATE TABLE bench_ref1 (rid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    t_id integer NOT NULL REFERENCES bench_t ON DELETE CASCADE);
CREATE TABLE bench_ref2 (rid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    t_id integer REFERENCES bench_t ON DELETE CASCADE);
INSERT INTO bench_ref1 (t_id) SELECT id FROM bench_t WHERE id % 37 = 0 ORDER BY id LIMIT 100000;
INSERT INTO bench_ref2 (t_id) SELECT id FROM bench_t WHERE id % 41 = 0 ORDER BY id LIMIT 100000;
CREATE INDEX ON bench_ref1 (t_id);
CREATE INDEX ON bench_ref2 (t_id);
CREATE VIEW bench_v AS SELECT id, a, b FROM bench_t WHERE b < 1000;
VACUUM ANALYZE bench_ref1, bench_ref2;
SQL
}

# bench_bloat DB ROWS : the same deterministic bloat every time.  A third of
# the rows updated (new versions, old ones dead), a tenth deleted and
# inserted again (same rows, new place), then a plain VACUUM (so the dead
# space is free space, as autovacuum leaves a bloated table) and ANALYZE.
bench_bloat()
{
	local db=$1
	q "$db" <<'SQL'
UPDATE bench_t SET a = a + 1, s = upper(s) WHERE id % 3 = 0;
WITH d AS (DELETE FROM bench_t WHERE id % 10 = 5 RETURNING *)
INSERT INTO bench_t SELECT * FROM d;
VACUUM ANALYZE bench_t;
SQL
}

table_sizes() # DB -> "heap total" in bytes
{
	qv "$1" "SELECT pg_relation_size('bench_t') || ' ' || pg_total_relation_size('bench_t')"
}

human_bytes()
{
	perl -e 'my $b = shift; my @u = ("B","kB","MB","GB","TB"); my $i = 0;
	         while ($b >= 1024 && $i < 4) { $b /= 1024; $i++ } printf("%.*f %s", ($b < 10 && $i) ? 1 : 0, $b, $u[$i])' "$1"
}

# The table's fingerprint for the ledger check: "count sum(a) sum(id)".
table_totals() { qv "$1" "SELECT count(*) || ' ' || coalesce(sum(a), 0) || ' ' || coalesce(sum(id), 0) FROM bench_t"; }
ledger_totals() { qv "$1" "SELECT count(*) || ' ' || coalesce(sum(dcount), 0) || ' ' || coalesce(sum(dsum_a), 0) || ' ' || coalesce(sum(dsum_id), 0) FROM bench_ledger"; }

# ---------------------------------------------------------------------------
# The application load: pgbench, 4 clients, insert + update + delete and a
# ledger row in each transaction.  Lock order by id: no deadlocks.
# ---------------------------------------------------------------------------

write_load_script() # FILE
{
	cat >"$1" <<'PGB'
\set u random(1, :nrows)
\set d random(1, :nrows)
\set av random(1, 1048575)
BEGIN;
INSERT INTO bench_t (id, a, b, ts, s, n) VALUES (nextval('bench_t_newid'), :av, :av % 131072, now(), md5(:av::text) || 'appinsrt', 'app') RETURNING id AS iid \gset
\if :u < :d
WITH x AS (UPDATE bench_t SET a = a + 1, ts = now() WHERE id = :u RETURNING 1) SELECT count(*) AS uc FROM x \gset
WITH x AS (DELETE FROM bench_t WHERE id = :d RETURNING id, a) SELECT count(*) AS dc, coalesce(sum(id), 0) AS did, coalesce(sum(a), 0) AS da FROM x \gset
\else
WITH x AS (DELETE FROM bench_t WHERE id = :d RETURNING id, a) SELECT count(*) AS dc, coalesce(sum(id), 0) AS did, coalesce(sum(a), 0) AS da FROM x \gset
WITH x AS (UPDATE bench_t SET a = a + 1, ts = now() WHERE id = :u RETURNING 1) SELECT count(*) AS uc FROM x \gset
\endif
INSERT INTO bench_ledger (dcount, dsum_a, dsum_id) VALUES (1 - :dc::bigint, :av::bigint + :uc::bigint - :da::bigint, :iid::bigint - :did::bigint);
END;
PGB
}

# load_start DB ROWS LOGPREFIX [extra pgbench args...] -> LOAD_PID
# pgbench's per-transaction log (-l) gives each transaction's end time and
# latency; it runs until load_stop.
load_start()
{
	local db=$1 rows=$2 prefix=$3
	shift 3
	[ -f "$BENCH_WORK/load.pgb" ] || write_load_script "$BENCH_WORK/load.pgb"
	"$PGBENCH" -n -c 4 -j 2 -M prepared -T 100000 -D nrows="$rows" -f "$BENCH_WORK/load.pgb" \
		-l --log-prefix="$prefix" "$@" "$db" >"$prefix.out" 2>&1 &
	LOAD_PID=$!
	bench_track "$LOAD_PID"
}

# Stops a background pgbench (load or sampler): SIGTERM (a background job of
# a script ignores SIGINT), then wait.
bg_stop()
{
	local pid=$1
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	bench_untrack "$pid"
}

# ---------------------------------------------------------------------------
# Lock sampler: a pgbench session in database benchctl writes, every ~5 ms,
# whether a session holds (or waits for) ACCESS EXCLUSIVE, or holds any lock
# that blocks writers, on the table's OID in the bench database.
# ---------------------------------------------------------------------------

sampler_setup()
{
	qv postgres "SELECT 1 FROM pg_database WHERE datname = 'benchctl'" | grep -q 1 || q postgres -c "CREATE DATABASE benchctl"
	q benchctl <<'SQL'
-- logged, so that a kept work directory still has them (an immediate stop empties unlogged tables)
CREATE TABLE IF NOT EXISTS lock_samples (
    run      int NOT NULL,
    t        float8 NOT NULL,     -- epoch seconds
    ae_held  bool NOT NULL,       -- ACCESS EXCLUSIVE granted on the table
    ae_wait  bool NOT NULL,       -- ACCESS EXCLUSIVE requested, not granted
    wb_held  bool NOT NULL        -- any granted lock that blocks INSERT/UPDATE/DELETE
);
CREATE INDEX IF NOT EXISTS lock_samples_run_t ON lock_samples (run, t);
SQL
	cat >"$BENCH_WORK/sampler.pgb" <<'PGB'
INSERT INTO lock_samples SELECT :run, extract(epoch FROM clock_timestamp()), coalesce(bool_or(granted AND mode = 'AccessExclusiveLock'), false), coalesce(bool_or(NOT granted AND mode = 'AccessExclusiveLock'), false), coalesce(bool_or(granted AND mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')), false) FROM pg_catalog.pg_locks WHERE locktype = 'relation' AND database = :dboid AND relation = :reloid;
\sleep 5 ms
PGB
}

# sampler_start RUN DB -> SAMPLER_PID (samples the OID bench_t has now)
sampler_start()
{
	local run=$1 db=$2 dboid reloid
	dboid=$(qv "$db" "SELECT oid FROM pg_database WHERE datname = current_database()")
	reloid=$(qv "$db" "SELECT 'bench_t'::regclass::oid")
	PGOPTIONS="-c synchronous_commit=off" "$PGBENCH" -n -c 1 -T 100000 -D run="$run" -D dboid="$dboid" -D reloid="$reloid" \
		-f "$BENCH_WORK/sampler.pgb" benchctl >"$BENCH_WORK/sampler.$run.out" 2>&1 &
	SAMPLER_PID=$!
	bench_track "$SAMPLER_PID"
}

# sampler_result RUN T0 T1 -> "ae_ms ae_wait_ms wb_ms interval_ms" (longest continuous spans)
sampler_result()
{
	qv benchctl "COPY (SELECT t, ae_held::int, ae_wait::int, wb_held::int FROM lock_samples WHERE run = $1 ORDER BY t) TO STDOUT" |
		perl "$BENCH_STATS" locks "$2" "$3"
}
