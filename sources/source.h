/* source.h - the source driver interface (SQLite VFS, curl vtls, PostgreSQL FDW).
 *
 * One const src_driver per database in sources/, registered in the table of
 * sources/registry.c. The engine never includes a database client header; drivers
 * never include dsl/ headers. Row values are borrowed until the next call to
 * next() or end_scan(): copy to keep.
 *
 * Value contract (what a driver hands the interpreter, already in JSON terms):
 *   SRC_NULL    SQL NULL (p = NULL, n = 0)
 *   SRC_BOOL    p = "true" or "false"
 *   SRC_NUMBER  p[0..n) is a valid JSON number literal, every digit kept
 *               (NUMERIC/DECIMAL are not rounded through a double)
 *   SRC_STRING  raw bytes, any content; the writer escapes them and replaces
 *               invalid UTF-8 (timestamps, uuid, inet, interval... as text)
 *   SRC_JSON    p[0..n) is a valid JSON text (json/jsonb, SQL arrays
 *               converted to JSON arrays, geometric types as objects)
 *   SRC_BINARY  raw bytes; written as base64
 * NaN and +/-Infinity have no JSON form: drivers hand SRC_NULL and count one
 * warning in src_scan_stats.
 */
#ifndef SQL2ES_SOURCE_H
#define SQL2ES_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"

/* 2: dialect slots (aliases, text_match, compat), no default_port/fetch_size */
#define SRC_DRIVER_VERSION 2

typedef enum { SRC_NULL, SRC_BOOL, SRC_NUMBER, SRC_STRING, SRC_JSON, SRC_BINARY } src_vkind;

typedef struct src_value {
    src_vkind kind;
    const char *p;
    size_t n;
} src_value;

typedef struct src_column {
    const char *name;
    const char *sql_type; /* as the database spells it: "numeric(40,20)", "int(10) unsigned" */
    const char *es_type;  /* derived Elasticsearch field type: long, double, keyword, text,
                             date, boolean, binary, ip, object, scaled_float... */
    int pk_pos;           /* 1-based position in the primary key, 0 when not part of it */
    int nullable;
} src_column;

typedef struct src_table {
    const char *schema;   /* NULL for databases without schemas */
    const char *name;
    src_column *cols;
    int ncols;
    int *pk;              /* column indexes of the primary key, in key order */
    int npk;
    int64_t row_estimate; /* -1 when unknown */
    int is_view;
} src_table;

/* Connection settings, as the connectors name them (reference.md section 2). */
typedef struct src_config {
    const char *host;
    int port;             /* the plan's (schemas/language.yaml default_by_service) */
    const char *username;
    const char *password; /* secret: never logged */
    const char *database;
    const char *schema;   /* PostgreSQL; NULL = driver default */
    const char *path;     /* SQLite file */
    int ssl_enabled;
    const char *ssl_ca;
    int fetch_size;       /* rows per round trip; <= 0 = the client library's own batching */
    int retry_count;      /* transient-error retries of a read */
    int connect_timeout;  /* seconds; 0 = no limit of sql2es (the client library's) */
    const char *snapshot; /* scans read this exported snapshot (PostgreSQL; NULL: their own) */
} src_config;

typedef struct src_query {
    const char *sql;              /* complete statement, driver's placeholders */
    const char *const *params;    /* text values; NULL entry = SQL NULL */
    int nparams;
    int fetch_size;
} src_query;

typedef struct src_scan_stats {
    uint64_t rows;
    uint64_t warnings;            /* NaN/Infinity nulled, values coerced */
    int warn_column;              /* 1 + the column index of the latest warning; 0 unknown */
    uint64_t bytes;               /* approximate bytes received */
} src_scan_stats;

typedef struct src_conn src_conn;
typedef struct src_scan src_scan;
typedef struct src_stream src_stream;

/* --- change streams (sync --follow): optional slots of a driver ----------
 *
 * A stream delivers the committed changes of a set of tables in commit
 * order, each transaction as its row changes then one SRC_CHANGE_COMMIT
 * carrying the position to acknowledge once everything before it is safe
 * in the index. Positions are the driver's text ("16/B374D848" for a
 * PostgreSQL LSN). Values are the database's text forms (SRC_STRING, or
 * SRC_NULL), borrowed until the next stream_next. */
typedef enum {
    SRC_CHANGE_INSERT,
    SRC_CHANGE_UPDATE,
    SRC_CHANGE_DELETE,
    SRC_CHANGE_TRUNCATE,  /* every row of the table is gone */
    SRC_CHANGE_RELATION,  /* the table's columns as the stream now sends them (an
                           * ALTER TABLE shows here): names[0..ncols) */
    SRC_CHANGE_COMMIT,    /* end of a transaction: pos may be acknowledged */
    SRC_CHANGE_IDLE       /* nothing pending on the server's side up to pos */
} src_change_kind;

typedef struct src_change {
    src_change_kind kind;
    const char *schema, *table;
    const char *const *names;   /* the table's columns (ncols), as the stream knows them */
    int ncols;
    const src_value *row;       /* new row (INSERT, UPDATE), NULL otherwise */
    const src_value *old;       /* old row or old key (UPDATE, DELETE): the columns of
                                 * the table's replica identity, others SRC_NULL; NULL
                                 * when the database sent none (an UPDATE that kept the key) */
    const unsigned char *unchanged; /* row: 1 per column the database did not send
                                     * (a TOAST value the UPDATE left as it was), or NULL */
    const char *pos;            /* COMMIT, IDLE: the position */
    const src_value *old_scan;  /* old as a scan of the table gives the values (booleans
                                 * true/false, ISO 8601 dates, bytea as bytes...): the
                                 * _id of a deleted row is the one the scan wrote;
                                 * NULL when old is already in that form */
    double time;                /* COMMIT: when it committed (seconds since the epoch,
                                 * the database's clock), 0 unknown */
} src_change;

typedef struct src_stream_opts {
    const char *slot;            /* replication slot (PostgreSQL) */
    const char *publication;     /* publication of the tables (PostgreSQL) */
    int own_publication;         /* created by sql2es when missing */
    const char *const *tables;   /* the tables to follow (names, default schema) */
    int ntables;
    const char *const *full_identity; /* tables whose old rows must be whole: a warning
                                       * when their replica identity is not FULL */
    int nfull;
    int fresh;                   /* start over: a new slot and an exported snapshot */
    uint64_t retained_warn;      /* warn when the slot retains more WAL bytes than this */
} src_stream_opts;


enum {
    SRC_CAP_SCHEMA = 1,   /* has schemas (PostgreSQL) */
    SRC_CAP_NETWORK = 2,  /* host/port/user/password (not a file) */
    SRC_CAP_SSL = 4
};

/* Text comparisons of basic sync rules that a dialect may evaluate in SQL. */
typedef enum { SRC_TEXT_EQUALS, SRC_TEXT_STARTS_WITH, SRC_TEXT_CONTAINS, SRC_TEXT_ENDS_WITH }
    src_text_op;

/* How the Elastic connector of this database shapes its documents (the
 * `documents: connectors-compatible` program of tables without a mapping). */
typedef struct src_compat_docs {
    const char *id;           /* default _id template ("{{ $table }}_{{ $pk }}") */
    const char *prefix;       /* field-name prefix template; NULL = the column names as they are */
    int lower;                /* field names in lower case */
    const char *const *fields; /* pairs "$variable", "field", NULL-terminated: added after the
                                  columns ($id and $timestamp end every document) */
    int query_keys_sorted;    /* an advanced rule without id_columns is keyed by the primary
                                 keys of its tables sorted by name (MySQL); 0 = each table's
                                 key in the order of `tables` (PostgreSQL) */
} src_compat_docs;

/* Defaults (port, fetch_size, connect_timeout...) are not here: they live in
 * schemas/language.yaml and reach the driver through src_config. */
typedef struct src_driver {
    int version;          /* SRC_DRIVER_VERSION (lookups refuse another) */
    const char *name;     /* service_type */
    const char *const *aliases; /* other service_type spellings, NULL-terminated, or NULL */
    unsigned caps;
    const src_compat_docs *compat;

    /* --- dialect: pure functions and data, usable without a connection (the
     * compiler and the plan printer reach them through src_dialect_find) */
    int (*quote_ident)(buf *out, const char *ident);  /* appends the quoted identifier */
    int (*placeholder)(buf *out, int n);              /* appends the n-th (1-based) parameter marker */
    /* Push-down of a text rule: appends a predicate that is true exactly when
     * the column (quoted: col) holds text - not a number, date, boolean, JSON,
     * NULL - that compares with the parameter (param) byte for byte as the
     * engine does, and returns 1; returns 0 (appending nothing) when the
     * dialect cannot promise that (out may be NULL to ask only). NULL = never. */
    int (*text_match)(buf *out, src_text_op op, const char *col, const char *param);

    /* --- connection. All return 0 or a negative DIAG_E* code with a message
     * in d (DIAG_ETRANSIENT for errors worth a retry after reconnecting). */
    int (*open)(const src_config *cfg, src_conn **out, diag *d);
    void (*close)(src_conn *c); /* NULL and half-open connections accepted */
    int (*ping)(src_conn *c, diag *d);
    /* Base tables and views of schema (NULL = default), sorted by name. */
    int (*list_tables)(src_conn *c, const char *schema, arena *a, const char ***names, int *n,
                       diag *d);
    /* Columns, types, primary key, row estimate. DIAG_ENOTFOUND when missing. */
    int (*describe)(src_conn *c, const char *schema, const char *table, arena *a,
                    src_table *out, diag *d);

    /* --- scans: streaming in bounded memory (server-side cursor / unbuffered
     * result / stepping), never LIMIT/OFFSET paging. */
    int (*begin_scan)(src_conn *c, const src_query *q, src_scan **out, diag *d);
    /* Result columns (valid after begin_scan until end_scan). */
    int (*scan_columns)(src_scan *s, const src_column **cols, int *n);
    /* 1 = a row in *row (ncols values), 0 = end, <0 = error. */
    int (*next)(src_scan *s, const src_value **row, diag *d);
    const src_scan_stats *(*stats)(src_scan *s);
    void (*end_scan)(src_scan *s); /* NULL accepted */

    /* --- change stream (NULL: the database has none; `sync --follow` then
     * polls the incremental cursor). stream_open connects, makes the
     * publication and checks the slot; with o->fresh (or when the slot is
     * missing) it creates the slot, exporting a snapshot whose name goes to
     * snapshot (else snapshot[0] = 0): scans opened with src_config.snapshot
     * read exactly the state the stream starts after, until stream_start.
     * stream_next waits at most timeout_ms: 1 = a change in *out, 0 = none
     * yet, <0 = error (DIAG_ETRANSIENT: reconnect and start again from the
     * last acknowledged position). stream_ack confirms every change up to
     * pos (the slot may discard them). stream_drop removes the slot (and the
     * publication when own_publication) without streaming. */
    int (*stream_open)(const src_config *cfg, const src_stream_opts *o, src_stream **out,
                       char *snapshot, size_t snapn, diag *d);
    /* from: the last position the caller saved as acknowledged (NULL: the
     * slot's own): changes committed before it are not sent again. */
    int (*stream_start)(src_stream *s, const char *from, diag *d);
    int (*stream_next)(src_stream *s, int timeout_ms, src_change *out, diag *d);
    int (*stream_ack)(src_stream *s, const char *pos, diag *d);
    void (*stream_close)(src_stream *s); /* NULL accepted */
    int (*stream_drop)(const src_config *cfg, const src_stream_opts *o, diag *d);
} src_driver;

/* The built-in drivers, NULL-terminated (sources/registry.c). */
extern const src_driver *const src_drivers[];
/* Built-in driver for a service_type or one of its aliases, or NULL
 * (src_dialect_find over src_drivers). */
const src_driver *src_driver_find(const char *service_type);

/* --- helpers over a driver table (sources/dialect.c; no driver linked) ---- */

/* The driver of table (NULL-terminated) named service_type or having it
 * among its aliases; NULL when none, or when that driver's version is not
 * SRC_DRIVER_VERSION or it lacks a dialect slot (quote_ident, placeholder):
 * the registration check. The compiler gets the table from its caller. */
const src_driver *src_dialect_find(const src_driver *const *table, const char *service_type);
/* 0 when every driver of table has this version and its dialect slots;
 * else <0 with the first bad driver named in d. */
int src_drivers_check(const src_driver *const *table, diag *d);

/* --- helpers shared by the drivers' catalog queries ---------------------- */

/* Run sql through drv's own scan slots on c, calling fn for each row (a
 * non-zero return stops and is returned). */
int src_query_each(const src_driver *drv, src_conn *c, const char *sql,
                   const char *const *params, int np,
                   int (*fn)(void *ctx, const src_value *row), void *ctx, diag *d);
/* Copy of a value's bytes in a (NULL for SQL NULL). */
char *src_value_dup(arena *a, const src_value *v);

/* A growing list of names in an arena; src_name_list_add is a query_each
 * callback taking row[0]; src_name_list_sort sorts bytewise. */
typedef struct src_name_list {
    arena *a;
    const char **names;
    int n, cap;
} src_name_list;
int src_name_list_add(void *ctx, const src_value *row);
void src_name_list_sort(src_name_list *l);

/* TLS trust for the client libraries. The connectors' `ssl_ca` holds the CA
 * certificate itself (PEM text); a file name is accepted too. libpq and
 * libmariadb read a file: for PEM text src_ca_file writes it to a private
 * temporary file (mode 0600, under $TMPDIR) whose name it puts in path; the
 * caller connects, then calls src_ca_file_done. Returns 0, or <0 with an
 * error naming `who` (never the certificate text). */
typedef struct src_ca_file {
    char path[4096];
    int temporary;
} src_ca_file;
int src_ca_file_open(src_ca_file *f, const char *ssl_ca, const char *who, diag *d);
void src_ca_file_done(src_ca_file *f);

#endif
