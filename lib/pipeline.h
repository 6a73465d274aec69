/*
 * pipeline.h: batches, several statements sent in one round trip (libpq
 * pipeline mode).
 *
 * Between conn_batch_begin and conn_batch_end, conn_command (one statement
 * per call), conn_command_params, conn_execf and conn_batch_query only send
 * their statement and return true (rows affected read as 0); the results
 * are read by conn_batch_end, all in one round trip, which returns false at
 * the first failure (error recorded in c) and gives the rows of the
 * conn_batch_query statement in *kept (may be NULL; caller PQclear()s).
 * conn_queryf fails inside a batch.  Without pipeline mode (libpq before
 * 14) everything runs as it comes.
 */
#ifndef PGR_PIPELINE_H
#define PGR_PIPELINE_H

#include <stdbool.h>

#include "conn.h"

bool conn_batch_begin(Conn *c) __attribute__((warn_unused_result));
bool conn_batch_query(Conn *c, const char *sql) __attribute__((warn_unused_result));
bool conn_batch_end(Conn *c, PGresult **kept) __attribute__((warn_unused_result));

#endif /* PGR_PIPELINE_H */
