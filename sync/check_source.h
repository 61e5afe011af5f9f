/* check_source.h - `validate --check-source`: connect to every connector's
 * database and bind each table entry to the real tables (globs expanded
 * against the table list; referenced columns, cursor columns and keys
 * checked). Stage: between compile and sync; reads nothing but catalogs. */
#ifndef SQL2ES_CHECK_SOURCE_H
#define SQL2ES_CHECK_SOURCE_H

#include <stdio.h>

#include "base/diag.h"
#include "plan/plan.h"

/* Returns the exit code: 0 all good, 1 a database could not be reached,
 * 2 the configuration does not fit the database. report (may be NULL) gets
 * one line per bound table. */
int eng_check_source(const plan *p, diag *d, FILE *report);

#endif
