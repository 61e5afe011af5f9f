/* my_query.h - for the unit tests that compile sources/mysql.c into
 * themselves: hand one QUERY event (statement stmt, default database db) to
 * the binlog reader's on_query; *commit says whether it ended a transaction. */
#ifndef SQL2ES_TEST_MY_QUERY_H
#define SQL2ES_TEST_MY_QUERY_H

static int query(src_stream *s, const char *db, const char *stmt, int *commit)
{
    MARIADB_RPL_EVENT e;
    memset(&e, 0, sizeof e);
    e.event.query.statement.str = (char *)stmt;
    e.event.query.statement.length = strlen(stmt);
    e.event.query.database.str = (char *)db;
    e.event.query.database.length = strlen(db);
    *commit = 0;
    diag *d = diag_new();
    int rc = on_query(s, &e, commit, d);
    diag_free(d);
    return rc;
}

#endif
