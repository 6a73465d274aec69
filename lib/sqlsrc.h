/*
 * sqlsrc.h: the SQL files of triggers/, embedded into the binary at build
 * time (lib/sqlsrc.c is generated from them by the build), so pg_rebuild
 * needs no install path at run time.
 */
#ifndef PGR_SQLSRC_H
#define PGR_SQLSRC_H

/* triggers/pgrebuild.sql: a role's state schema: its tables and functions. */
extern const char sql_pgrebuild[];

/*
 * The format version that sql_pgrebuild installs (its meta.version).
 * Version 1 was the shared schema "pgrebuild" of earlier releases (state.h).
 */
#define PGR_SCHEMA_VERSION 3

#endif							/* PGR_SQLSRC_H */
