-- pg_rebuild: the objects it keeps in its own schema (format version 2).
--
-- pg_rebuild embeds this file and runs it once per database, in one
-- transaction, after creating the schema; @schema@ stands for the schema's
-- quoted name (default "pgrebuild").  To read or run it by hand in psql:
--   sed 's/@schema@/pgrebuild/g' triggers/pgrebuild.sql | psql -d DB
-- Every statement can run again without harm.  Nothing here is granted to
-- PUBLIC: only the role that runs pg_rebuild uses these objects.

CREATE TABLE IF NOT EXISTS @schema@.meta (
    version integer NOT NULL
);

-- One row per run, from install until the run's objects are gone.  A run is
-- alive while some session holds the advisory lock lock_key (see run_alive);
-- a row whose lock nobody holds belongs to a dead run, and pg_rebuild
-- --cleanup removes what it recorded.
CREATE TABLE IF NOT EXISTS @schema@.runs (
    run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relid       oid NOT NULL,
    schema_name text NOT NULL,
    table_name  text NOT NULL,
    lock_key    bigint NOT NULL,
    phase       text NOT NULL,
    pid         integer NOT NULL DEFAULT pg_catalog.pg_backend_pid(),
    client      text,
    started     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated     timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Every object a run creates, recorded in the same transaction that creates
-- it, so a killed run leaves nothing unrecorded.  kind is one of: trigger
-- (on table_schema.table_name), function, log, shadow, old, validate (a
-- foreign key named object_name on table_schema.table_name, re-added NOT
-- VALID by the swap, still to be validated), and check (a CHECK (c IS NOT
-- NULL) constraint named object_name on table_schema.table_name, added by
-- --method=in-place, to be dropped).
CREATE TABLE IF NOT EXISTS @schema@.run_objects (
    run_id       bigint NOT NULL REFERENCES @schema@.runs ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('trigger', 'check', 'function', 'log', 'shadow', 'old', 'validate')),
    schema_name  text NOT NULL,
    object_name  text NOT NULL,
    table_schema text,
    table_name   text,
    PRIMARY KEY (run_id, kind, schema_name, object_name)
);

-- True while the run holding advisory lock lock_key is connected.
CREATE OR REPLACE FUNCTION @schema@.run_alive(lock_key bigint)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_catalog.pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                            WHERE d.datname = pg_catalog.current_database())
          AND l.classid = (lock_key >> 32)::oid
          AND l.objid = (lock_key & 4294967295)::oid)
$$;

-- BEFORE TRUNCATE guard on a table being rebuilt.  TRUNCATE fires no row
-- trigger, so the rebuilt table would silently keep the truncated rows: while
-- the run is alive the TRUNCATE is refused.  When the run is dead (a leftover
-- trigger) it lets the TRUNCATE through: a leftover must never break the
-- application.  TG_ARGV[0] is the run's lock key.
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
REVOKE ALL ON FUNCTION @schema@.run_alive(bigint) FROM PUBLIC;
-- truncate_guard runs as a trigger, with the rights of whoever truncates:
-- it reads only pg_locks and pg_database, which everyone may read.

INSERT INTO @schema@.meta (version)
SELECT 2 WHERE NOT EXISTS (SELECT 1 FROM @schema@.meta);
