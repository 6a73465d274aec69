-- pg_rebuild: the objects it keeps in a role's own state schema (format version 3).
--
-- Each role that runs pg_rebuild (a run always acts as the table's owner)
-- keeps its runs in its own schema, pgrebuild_<role OID>, owned by that role
-- and granted to nobody: no other role can write what a run of this role
-- reads back, and a run never uses another role's objects.
--
-- pg_rebuild embeds this file and runs it once per schema, in one
-- transaction, after creating the schema; @schema@ stands for the schema's
-- quoted name.  To read or run it by hand in psql (as the role itself):
--   sed 's/@schema@/pgrebuild_16384/g' triggers/pgrebuild.sql | psql -d DB
-- Every statement can run again without harm.
--
-- pg_rebuild checks these objects before it trusts them (lib/state.c): the
-- tables must be ordinary tables owned by the schema's owner, granted to
-- nobody else, with no rule, no user trigger, no row level security, no
-- inheritance, and nothing in them may use a function, operator or type
-- outside pg_catalog.  Keep it so when a later format adds a table: plain
-- columns of built-in types, defaults from pg_catalog only.
--
-- Upgrades: a later format adds its statements below, each guarded so that
-- it runs once, and raises meta.version; state_install runs this file on a
-- schema of an older version of the same line (v2 and later).

CREATE TABLE IF NOT EXISTS @schema@.meta (
    version integer NOT NULL
);

-- One row per run, from install until the run's objects are gone.  A run is
-- alive while some session holds the advisory lock of its table
-- (0x70677262 << 32 | relid); a row whose lock nobody holds belongs to a dead
-- run, and pg_rebuild --cleanup removes what it recorded.  backend_pid is the
-- run's main server session (updated when it reconnects); client_pid and
-- client_host say which pg_rebuild process, on which machine, ran it.
CREATE TABLE IF NOT EXISTS @schema@.runs (
    run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relid       oid NOT NULL,
    schema_name text NOT NULL,
    table_name  text NOT NULL,
    phase       text NOT NULL,
    backend_pid integer NOT NULL DEFAULT pg_catalog.pg_backend_pid(),
    client_pid  integer,
    client_host text,
    client_addr text,
    started     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated     timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Format 3: what is asked of a live run from outside (pg_rebuild --pause,
-- --resume, --postpone-swap, --release-swap, as the table's owner).  The run
-- reads them between copy chunks and replay batches, and before its swap.
ALTER TABLE @schema@.runs ADD COLUMN IF NOT EXISTS paused boolean NOT NULL DEFAULT false;
ALTER TABLE @schema@.runs ADD COLUMN IF NOT EXISTS swap_postponed boolean NOT NULL DEFAULT false;

-- Every object a run creates, recorded by OID in the same transaction that
-- creates it, so a killed run leaves nothing unrecorded and --cleanup finds
-- each object again even after a rename.  kind is one of: trigger
-- (object_oid in pg_trigger, on the table table_oid), function (pg_proc),
-- log, shadow, old (pg_class), and validate (a foreign key in
-- pg_constraint, on table_oid, re-added NOT VALID by the swap and still to
-- be validated), and check (a CHECK (c IS NOT NULL) constraint in
-- pg_constraint, on table_oid, added by --method=in-place, to be dropped).  The names are what the object was called when recorded,
-- for messages; cleanup reads the current names from the catalog.
CREATE TABLE IF NOT EXISTS @schema@.run_objects (
    run_id       bigint NOT NULL REFERENCES @schema@.runs ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('trigger', 'check', 'function', 'log', 'shadow', 'old', 'validate')),
    object_oid   oid NOT NULL,
    schema_name  text NOT NULL,
    object_name  text NOT NULL,
    table_oid    oid,
    table_schema text,
    table_name   text,
    PRIMARY KEY (run_id, kind, object_oid)
);

-- BEFORE TRUNCATE guard on a table being rebuilt.  TRUNCATE fires no row
-- trigger, so the rebuilt table would silently keep the truncated rows: while
-- the run is alive the TRUNCATE is refused.  When the run is dead (a leftover
-- trigger) it lets the TRUNCATE through: a leftover must never break the
-- application.  TG_ARGV[0] is the run's lock key.  pg_rebuild itself never
-- calls a function of this schema.
CREATE OR REPLACE FUNCTION @schema@.truncate_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_catalog.pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                            WHERE d.datname = pg_catalog.current_database())
          AND l.classid = ((TG_ARGV[0])::bigint >> 32)::oid
          AND l.objid = ((TG_ARGV[0])::bigint & 4294967295)::oid)
    THEN
        RAISE EXCEPTION 'TRUNCATE of table %.% is not allowed while pg_rebuild rebuilds it',
            pg_catalog.quote_ident(TG_TABLE_SCHEMA), pg_catalog.quote_ident(TG_TABLE_NAME)
            USING ERRCODE = 'object_in_use',
                  DETAIL = 'A TRUNCATE fires no row trigger, so the rebuilt table would keep the rows. Nothing was truncated.',
                  HINT = 'Truncate after the rebuild ends, or stop the rebuild first (it cleans up after itself).';
    END IF;
    RETURN NULL;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA @schema@ FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @schema@ FROM PUBLIC;
-- truncate_guard runs as a trigger, with the rights of whoever truncates:
-- it reads only pg_locks and pg_database, which everyone may read.

INSERT INTO @schema@.meta (version)
SELECT 3 WHERE NOT EXISTS (SELECT 1 FROM @schema@.meta);
