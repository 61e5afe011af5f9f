/* postgresql.c - the PostgreSQL source driver (libpq).
 *
 * Stage: rows. Connects with PQconnectdbParams, lists and describes tables
 * from the catalogs, and streams query results through server-side cursors
 * (DECLARE ... NO SCROLL CURSOR, FETCH FORWARD fetch_size) inside one
 * REPEATABLE READ transaction per connection; several scans can be open on
 * one connection at once. Commands go through libpq's pipeline mode: a scan
 * keeps up to PIPE_MAX FETCHes (about PIPE_BYTES of rows) on the wire, so a
 * distant server is not paid one round trip per batch; BEGIN, DECLARE and the
 * first FETCHes travel together; CLOSE and COMMIT are not waited for.
 * Stopping early cancels the FETCHes still running. Results are in text format; each value
 * is converted by its column type (domains resolved to their base type) into
 * the src_value contract of sources/source.h.
 *
 * Conversion choices: NaN/Infinity numbers and infinite dates become NULL
 * with a warning; BC dates keep ISO 8601 astronomical years ("0044-03-15 BC"
 * -> "-0043-03-15", 1 BC -> "0000"); timestamptz is printed in UTC with "Z";
 * money (lc_monetary=C) becomes a plain number; point becomes {"x":..,"y":..};
 * arrays become JSON arrays with elements converted like scalars; unknown
 * types are strings. It does not build SQL beyond the cursor wrapper, retry,
 * or reconnect: the engine does.
 */
#include <ctype.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "sources/source.h"

#define ROWBUF_KEEP (16u << 20) /* the row scratch buffer shrinks back above this */
/* FETCHes of one scan kept in flight (libpq pipeline mode): at most
 * PIPE_MAX commands and about PIPE_BYTES of results, the batch size measured
 * on the scan's first batch. */
#define PIPE_MAX 256
#define PIPE_BYTES (8u << 20)

/* A first-in first-out queue of pointers (a ring). */
typedef struct fifo {
    void **v;
    int head, len, cap;
} fifo;

/* How a column's text is turned into a src_value. */
typedef enum {
    CV_STRING, CV_INT, CV_NUMERIC, CV_FLOAT, CV_BOOL, CV_JSON, CV_BYTEA, CV_TIMESTAMPTZ,
    CV_TIMESTAMP, CV_DATE, CV_MONEY, CV_POINT, CV_ARRAY
} conv_kind;

/* A resolved type: conversion, and the scalar base type (after domains; the
 * element's for arrays) that decides the Elasticsearch type. */
typedef struct tinfo {
    Oid oid;
    conv_kind cv;
    conv_kind elem_cv; /* CV_ARRAY */
    char delim;        /* CV_ARRAY element delimiter */
    Oid base;
    int typmod;        /* a domain's typmod, -1 otherwise */
} tinfo;

/* Built-in types by OID (src/include/catalog/pg_type.dat). */
typedef struct builtin {
    Oid oid;
    conv_kind cv;
    Oid elem; /* for arrays: element OID; 0 for scalars */
} builtin;

enum {
    T_BOOL = 16, T_BYTEA = 17, T_CHAR = 18, T_NAME = 19, T_INT8 = 20, T_INT2 = 21, T_INT4 = 23,
    T_TEXT = 25, T_OID = 26, T_JSON = 114, T_XML = 142, T_POINT = 600, T_LSEG = 601,
    T_PATH = 602, T_BOX = 603, T_POLYGON = 604, T_LINE = 628, T_CIDR = 650, T_FLOAT4 = 700,
    T_FLOAT8 = 701, T_CIRCLE = 718, T_MACADDR8 = 774, T_MONEY = 790, T_MACADDR = 829,
    T_INET = 869, T_BPCHAR = 1042, T_VARCHAR = 1043, T_DATE = 1082, T_TIME = 1083,
    T_TIMESTAMP = 1114, T_TIMESTAMPTZ = 1184, T_INTERVAL = 1186, T_TIMETZ = 1266, T_BIT = 1560,
    T_VARBIT = 1562, T_NUMERIC = 1700, T_UUID = 2950, T_TSVECTOR = 3614, T_JSONB = 3802
};

static const builtin builtins[] = {
    {T_BOOL, CV_BOOL, 0}, {T_BYTEA, CV_BYTEA, 0}, {T_INT8, CV_INT, 0}, {T_INT2, CV_INT, 0},
    {T_INT4, CV_INT, 0}, {T_OID, CV_INT, 0}, {T_JSON, CV_JSON, 0}, {T_POINT, CV_POINT, 0},
    {T_FLOAT4, CV_FLOAT, 0}, {T_FLOAT8, CV_FLOAT, 0}, {T_MONEY, CV_MONEY, 0},
    {T_DATE, CV_DATE, 0}, {T_TIMESTAMP, CV_TIMESTAMP, 0}, {T_TIMESTAMPTZ, CV_TIMESTAMPTZ, 0},
    {T_NUMERIC, CV_NUMERIC, 0}, {T_JSONB, CV_JSON, 0},
    {T_TEXT, CV_STRING, 0}, {T_VARCHAR, CV_STRING, 0}, {T_BPCHAR, CV_STRING, 0},
    {T_NAME, CV_STRING, 0}, {T_CHAR, CV_STRING, 0}, {T_UUID, CV_STRING, 0},
    {T_INET, CV_STRING, 0}, {T_CIDR, CV_STRING, 0}, {T_TIME, CV_STRING, 0},
    {T_TIMETZ, CV_STRING, 0}, {T_INTERVAL, CV_STRING, 0}, {T_XML, CV_STRING, 0},
    /* arrays */
    {1000, CV_ARRAY, T_BOOL}, {1001, CV_ARRAY, T_BYTEA}, {1002, CV_ARRAY, T_CHAR},
    {1003, CV_ARRAY, T_NAME}, {1005, CV_ARRAY, T_INT2}, {1007, CV_ARRAY, T_INT4},
    {1009, CV_ARRAY, T_TEXT}, {1028, CV_ARRAY, T_OID}, {1014, CV_ARRAY, T_BPCHAR},
    {1015, CV_ARRAY, T_VARCHAR}, {1016, CV_ARRAY, T_INT8}, {1017, CV_ARRAY, T_POINT},
    {1018, CV_ARRAY, T_LSEG}, {1019, CV_ARRAY, T_PATH}, {1020, CV_ARRAY, T_BOX},
    {1021, CV_ARRAY, T_FLOAT4}, {1022, CV_ARRAY, T_FLOAT8}, {1027, CV_ARRAY, T_POLYGON},
    {629, CV_ARRAY, T_LINE}, {719, CV_ARRAY, T_CIRCLE}, {1040, CV_ARRAY, T_MACADDR},
    {775, CV_ARRAY, T_MACADDR8}, {1041, CV_ARRAY, T_INET}, {651, CV_ARRAY, T_CIDR},
    {1182, CV_ARRAY, T_DATE}, {1183, CV_ARRAY, T_TIME}, {1115, CV_ARRAY, T_TIMESTAMP},
    {1185, CV_ARRAY, T_TIMESTAMPTZ}, {1187, CV_ARRAY, T_INTERVAL}, {1231, CV_ARRAY, T_NUMERIC},
    {1270, CV_ARRAY, T_TIMETZ}, {1561, CV_ARRAY, T_BIT}, {1563, CV_ARRAY, T_VARBIT},
    {2951, CV_ARRAY, T_UUID}, {199, CV_ARRAY, T_JSON}, {3807, CV_ARRAY, T_JSONB},
    {791, CV_ARRAY, T_MONEY}, {143, CV_ARRAY, T_XML}, {3643, CV_ARRAY, T_TSVECTOR},
};

/* Scalar types whose text form is a string, known without a catalog query. */
static const Oid builtin_strings[] = {
    T_LSEG, T_PATH, T_BOX, T_POLYGON, T_LINE, T_CIRCLE, T_MACADDR, T_MACADDR8, T_BIT,
    T_VARBIT, T_TSVECTOR
};

typedef struct tname {
    Oid oid;
    int typmod;
    char *name;
} tname;

struct src_conn {
    PGconn *pg;
    char *label;         /* "host:port as user" (no secrets) */
    char *schema;        /* default schema */
    int fetch_size;
    int nscans;          /* open cursors; the transaction ends with the last */
    unsigned cursor_seq;
    tinfo *types;        /* resolved non-builtin types (catalog lookups) */
    int ntypes, captypes;
    tname *names;        /* format_type() of result column types */
    int nnames, capnames;
    /* Commands sent in pipeline mode, each followed by a sync, oldest first:
     * the scan whose result each one is, NULL when nobody needs it (CLOSE,
     * COMMIT, the rest of an ended scan). Pipeline mode is on while any is. */
    fifo wire;
    int broken;          /* the pipeline lost its place: the connection is unusable */
    char *hint_sql;      /* the latest scan's query and how many FETCHes it took: */
    int hint_fetches;    /* the same query sends that many at once next time */
    char *snapshot;      /* transactions import this exported snapshot (src_config) */
};

struct src_scan {
    src_conn *c;
    arena *a;
    char cursor[32];
    char *fetch_sql;
    char *sql_ctx;       /* the query, shortened, for messages */
    char *sql;           /* the query */
    PGresult *res;       /* the batch being read */
    fifo ready;          /* results received while another command was read */
    int nwire;           /* its commands on the wire (in c->wire) */
    int lost;            /* they were lost with the connection */
    int window;          /* FETCHes to keep in flight */
    int nfetched;        /* FETCH results taken */
    int nsent;           /* FETCHes sent */
    int expect;          /* FETCHes the same query took last time, plus a margin: no
                            more are sent before that many were read (0: no limit) */
    int nrows, row_i, done, failed;
    int fetch_size;
    int ncols;
    src_column *cols;
    tinfo *types;        /* per column */
    src_value *row;
    size_t *off;         /* per column: offset into rowbuf, or SIZE_MAX when borrowed */
    buf rowbuf;          /* converted values of the current row */
    buf tmp;             /* array element unescaping */
    buf tmp2;            /* array element conversion */
    src_scan_stats st;
};

static void quiet_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* ---------------------------------------------------------------- errors */

/* The first line of a libpq message, without "FATAL:  " or libpq's
 * "connection to server at ... failed: " prefix. */
static void first_line(const char *m, const char **p, int *n)
{
    if (!m) m = "";
    const char *f = NULL, *s;
    for (s = m; (s = strstr(s, "failed: ")) != NULL; s += 8) f = s + 8;
    if (f) m = f;
    if (strncmp(m, "FATAL:  ", 8) == 0) m += 8;
    if (strncmp(m, "ERROR:  ", 8) == 0) m += 8;
    size_t len = strcspn(m, "\n");
    *p = m;
    *n = len > 400 ? 400 : (int)len;
}

static int is_transient(PGconn *pg, const char *state)
{
    if (!pg || PQstatus(pg) == CONNECTION_BAD) return 1;
    if (!state) return 0;
    return strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
           strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0 ||
           strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
           strcmp(state, "53300") == 0;
}

/* Reports a failed command (r may be NULL) and returns DIAG_ETRANSIENT when
 * the connection is gone or the error is worth a retry, else DIAG_EIO. */
static int fail(src_conn *c, const PGresult *r, diag *d, const char *what, const char *ctx)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *prim = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *m;
    int mn;
    if (prim) {
        m = prim;
        mn = (int)strcspn(prim, "\n");
    } else {
        first_line(c && c->pg ? PQerrorMessage(c->pg) : "", &m, &mn);
    }
    if (mn == 0) {
        m = "no response from server";
        mn = (int)strlen(m);
    }
    int transient = (c && c->broken) || is_transient(c ? c->pg : NULL, state);
    if (d)
        diag_error(d, (src_loc){0}, "postgresql: %s%s%s: %s%s%s%.*s%s%s%s", what,
                   c && c->label ? " on " : "", c && c->label ? c->label : "",
                   transient ? "connection lost: " : "", state ? state : "", state ? " " : "",
                   mn, m, ctx ? " (query: " : "", ctx ? ctx : "", ctx ? ")" : "");
    return transient ? DIAG_ETRANSIENT : DIAG_EIO;
}

/* ------------------------------------------------------------ commands */

static int fifo_push(fifo *f, void *p)
{
    if (f->len == f->cap) {
        int cap = f->cap ? f->cap * 2 : 16;
        void **v = malloc((size_t)cap * sizeof *v);
        if (!v) return -1;
        for (int i = 0; i < f->len; i++) v[i] = f->v[(f->head + i) % f->cap];
        free(f->v);
        f->v = v;
        f->head = 0;
        f->cap = cap;
    }
    f->v[(f->head + f->len++) % f->cap] = p;
    return 0;
}

static void *fifo_pop(fifo *f)
{
    if (!f->len) return NULL;
    void *p = f->v[f->head];
    f->head = (f->head + 1) % f->cap;
    f->len--;
    return p;
}

/* Commands go through libpq's pipeline mode, each followed by a sync of its
 * own (an error aborts only its own command; inside the transaction the next
 * ones then fail too and are not read): a scan keeps several FETCHes on the
 * wire, CLOSE and COMMIT are sent without waiting, and BEGIN, DECLARE and
 * the first FETCHes of a scan travel together. A synchronous command (the
 * catalog queries) first reads what is on the wire, parking each result
 * with its scan. */

/* Sends sql (with its n text parameters) and a sync; owner gets the result
 * (NULL: read and dropped). 0, or -1 with the connection's error. */
static int send_cmd(src_conn *c, const char *sql, int n, const char *const *params,
                    src_scan *owner)
{
    if (!c->pg || c->broken || PQstatus(c->pg) != CONNECTION_OK) return -1;
    if (PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF && !PQenterPipelineMode(c->pg)) return -1;
    if (fifo_push(&c->wire, owner) < 0) return -1;
    c->wire.len--; /* reserved: pushed again below once sent */
    if (!PQsendQueryParams(c->pg, sql, n, NULL, params, NULL, NULL, 0) || !PQpipelineSync(c->pg))
        return -1;
    fifo_push(&c->wire, owner);
    if (owner) owner->nwire++;
    return 0;
}

/* The connection failed: what is on the wire will not come. */
static void lose_wire(src_conn *c)
{
    src_scan *o;
    c->broken = 1;
    while (c->wire.len) {
        o = fifo_pop(&c->wire);
        if (o) {
            o->nwire--;
            o->lost = 1;
        }
    }
}

/* Reads the oldest command's result (an error wins over other results) and
 * its sync; *owner gets whose it is. NULL when the connection failed. */
static PGresult *read_cmd(src_conn *c, src_scan **owner)
{
    *owner = fifo_pop(&c->wire);
    if (*owner) (*owner)->nwire--;
    PGresult *res = NULL, *r;
    int synced = 0;
    while ((r = PQgetResult(c->pg)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            synced = 1;
            PQclear(r);
            break;
        }
        if (!res || (st == PGRES_FATAL_ERROR && PQresultStatus(res) != PGRES_FATAL_ERROR)) {
            PQclear(res);
            res = r;
        } else {
            PQclear(r);
        }
    }
    if (!synced && PQstatus(c->pg) == CONNECTION_OK) {
        r = PQgetResult(c->pg);
        synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
    }
    if (!synced || PQstatus(c->pg) != CONNECTION_OK) lose_wire(c);
    return res;
}

/* Keeps a result for its scan (NULL owner or no memory: dropped; a scan
 * that lost a batch fails when it comes to it). */
static void park(src_scan *o, PGresult *r)
{
    if (!o) {
        PQclear(r);
        return;
    }
    if (fifo_push(&o->ready, r) < 0) {
        PQclear(r);
        o->lost = 1;
    }
}

/* Reads everything on the wire and leaves pipeline mode. */
static void settle(src_conn *c)
{
    while (c->wire.len) {
        src_scan *o;
        PGresult *r = read_cmd(c, &o);
        park(o, r);
    }
    if (c->pg && PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c->pg))
        c->broken = 1;
}

/* A synchronous command; NULL when the connection is broken (fail() then
 * reports it as lost). */
static PGresult *exec(src_conn *c, const char *sql)
{
    settle(c);
    return c->broken ? NULL : PQexec(c->pg, sql);
}

static PGresult *execp(src_conn *c, const char *sql, int n, const Oid *types,
                       const char *const *vals, const int *lens, const int *fmts, int rfmt)
{
    settle(c);
    return c->broken ? NULL : PQexecParams(c->pg, sql, n, types, vals, lens, fmts, rfmt);
}

/* ------------------------------------------------------------ connection */

static void pg_close(src_conn *c)
{
    if (!c) return;
    if (c->pg) PQfinish(c->pg);
    free(c->label);
    free(c->schema);
    free(c->snapshot);
    free(c->types);
    free(c->wire.v);
    free(c->hint_sql);
    for (int i = 0; i < c->nnames; i++) free(c->names[i].name);
    free(c->names);
    free(c);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Adds key=val to the connection parameters when val is set. */
static int kv(const char **keys, const char **vals, int k, const char *key, const char *val)
{
    if (!val || !*val) return k;
    keys[k] = key;
    vals[k] = val;
    return k + 1;
}

/* replication: NULL, or "database" for a logical replication connection. */
static int pg_connect(const src_config *cfg, const char *replication, src_conn **out, diag *d)
{
    int rc = DIAG_ENOMEM;
    *out = NULL;
    src_ca_file ca;
    memset(&ca, 0, sizeof ca);
    src_conn *c = calloc(1, sizeof *c);
    if (!c) goto fail;
    /* port, connect_timeout, schema and fetch_size are the plan's (defaults in
     * schemas/language.yaml): none is replaced here. Unset (0 / NULL, callers
     * without a plan) leaves them to libpq and the server (current_schema()). */
    if (cfg->fetch_size <= 0) {
        diag_error(d, (src_loc){0}, "postgresql: fetch_size must be > 0 (got %d)", cfg->fetch_size);
        rc = DIAG_EINVAL;
        goto fail_quiet;
    }
    char port[16], timeout[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    snprintf(timeout, sizeof timeout, "%d", cfg->connect_timeout);
    /* ssl_enabled: TLS required; with ssl_ca also the server's certificate
     * and name verified. Without it, libpq's default (TLS when offered). */
    const char *sslmode = "prefer";
    if (cfg->ssl_enabled) {
        rc = src_ca_file_open(&ca, cfg->ssl_ca, "postgresql", d);
        if (rc < 0) goto fail_quiet;
        rc = DIAG_ENOMEM;
        sslmode = ca.path[0] ? "verify-full" : "require";
    }
    const char *keys[16], *vals[16];
    int k = 0;
    k = kv(keys, vals, k, "host", cfg->host);
    k = kv(keys, vals, k, "port", cfg->port > 0 ? port : NULL);
    k = kv(keys, vals, k, "user", cfg->username);
    k = kv(keys, vals, k, "password", cfg->password);
    k = kv(keys, vals, k, "dbname", cfg->database);
    k = kv(keys, vals, k, "sslmode", sslmode);
    k = kv(keys, vals, k, "sslrootcert", ca.path);
    k = kv(keys, vals, k, "connect_timeout", cfg->connect_timeout > 0 ? timeout : NULL);
    k = kv(keys, vals, k, "fallback_application_name", "sql2es");
    k = kv(keys, vals, k, "client_encoding", "UTF8");
    k = kv(keys, vals, k, "keepalives", "1");
    k = kv(keys, vals, k, "keepalives_idle", "30");
    k = kv(keys, vals, k, "replication", replication);
    keys[k] = vals[k] = NULL;

    c->schema = cfg->schema && *cfg->schema ? dupstr(cfg->schema) : NULL;
    c->fetch_size = cfg->fetch_size;
    if (cfg->schema && *cfg->schema && !c->schema) goto fail;
    if (cfg->snapshot) {
        /* an exported snapshot's name: hex digits and dashes, pasted into SQL */
        if (strspn(cfg->snapshot, "0123456789ABCDEFabcdef-") != strlen(cfg->snapshot)) {
            diag_error(d, (src_loc){0}, "postgresql: invalid snapshot name");
            rc = DIAG_EINVAL;
            goto fail_quiet;
        }
        c->snapshot = dupstr(cfg->snapshot);
        if (!c->snapshot) goto fail;
    }
    c->pg = PQconnectdbParams(keys, vals, 0);
    src_ca_file_done(&ca); /* read during the handshake */
    if (!c->pg) goto fail;
    {
        const char *u = cfg->username && *cfg->username ? cfg->username : PQuser(c->pg);
        const char *h = cfg->host && *cfg->host ? cfg->host : PQhost(c->pg);
        char lab[512];
        const char *pt = cfg->port > 0 ? port : PQport(c->pg);
        snprintf(lab, sizeof lab, "%s:%s as %s", h ? h : "localhost", pt ? pt : "?", u ? u : "?");
        c->label = dupstr(lab);
        if (!c->label) goto fail;
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        const char *m;
        int mn;
        first_line(PQerrorMessage(c->pg), &m, &mn);
        diag_error(d, (src_loc){0}, "postgresql: cannot connect to %s: %.*s", c->label, mn, m);
        rc = DIAG_EIO;
        goto fail_quiet;
    }
    PQsetNoticeProcessor(c->pg, quiet_notices, NULL);
    PGresult *r = PQexec(c->pg, "SET DateStyle = ISO; SET TimeZone = 'UTC'; "
                                "SET IntervalStyle = iso_8601; SET extra_float_digits = 3; "
                                "SET lc_monetary = 'C'; SET bytea_output = hex; "
                                "SET client_encoding = 'UTF8'");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = fail(c, r, d, "cannot set up the session", NULL);
        PQclear(r);
        goto fail_quiet;
    }
    PQclear(r);
    *out = c;
    return 0;
fail:
    diag_error(d, (src_loc){0}, "postgresql: out of memory");
fail_quiet:
    src_ca_file_done(&ca);
    pg_close(c);
    return rc;
}

static int pg_open(const src_config *cfg, src_conn **out, diag *d)
{
    return pg_connect(cfg, NULL, out, d);
}

/* "SET TRANSACTION SNAPSHOT '...'" of c's exported snapshot, or NULL. */
static const char *snapshot_sql(src_conn *c, char *out, size_t n)
{
    if (!c->snapshot) return NULL;
    snprintf(out, n, "SET TRANSACTION SNAPSHOT '%s'", c->snapshot);
    return out;
}

static int pg_ping(src_conn *c, diag *d)
{
    PGresult *r = exec(c, "SELECT 1");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) rc = fail(c, r, d, "ping failed", NULL);
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- dialect */

static int pg_quote_ident(buf *out, const char *ident)
{
    int rc = buf_putc(out, '"');
    for (const char *p = ident; *p && !rc; p++) {
        if (*p == '"') rc = buf_putc(out, '"');
        if (!rc) rc = buf_putc(out, *p);
    }
    if (!rc) rc = buf_putc(out, '"');
    return rc;
}

static int pg_placeholder(buf *out, int n)
{
    char t[24];
    t[0] = '$';
    size_t k = json_fmt_i64(t + 1, n); /* relation queries write hundreds per chunk */
    return buf_append(out, t, k + 1);
}

/* Text columns (text, varchar; not char, whose padding the engine keeps)
 * compared in the C collation: byte for byte, as the engine compares. */
static int pg_text_match(buf *out, src_text_op op, const char *col, const char *param)
{
    if (op != SRC_TEXT_EQUALS && op != SRC_TEXT_STARTS_WITH && op != SRC_TEXT_CONTAINS &&
        op != SRC_TEXT_ENDS_WITH)
        return 0;
    if (!out) return 1;
    buf_printf(out, "%s IS NOT NULL AND pg_typeof(%s) IN ('text'::regtype, "
                    "'character varying'::regtype) AND ", col, col);
    switch (op) {
    case SRC_TEXT_EQUALS: buf_printf(out, "%s::text COLLATE \"C\" = %s", col, param); break;
    case SRC_TEXT_STARTS_WITH: buf_printf(out, "strpos(%s::text COLLATE \"C\", %s) = 1", col, param); break;
    case SRC_TEXT_CONTAINS: buf_printf(out, "strpos(%s::text COLLATE \"C\", %s) > 0", col, param); break;
    default:
        buf_printf(out, "strpos(reverse(%s::text) COLLATE \"C\", reverse(%s)) = 1", col, param);
        break;
    }
    return 1;
}

/* The Elastic PostgreSQL connector's documents. */
static const char *const pg_compat_fields[] = {"$database", "database", "$table", "table",
                                               "$schema", "schema", NULL};
static const src_compat_docs pg_compat = {
    .id = "{{ $database }}_{{ $schema }}_{{ $table }}_{{ $pk }}",
    .prefix = "{{ $schema }}_{{ $table }}_",
    .lower = 1,
    .fields = pg_compat_fields,
};

/* ------------------------------------------------------------------ types */

static const builtin *find_builtin(Oid oid)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (builtins[i].oid == oid) return &builtins[i];
    return NULL;
}

static int is_builtin_string(Oid oid)
{
    for (size_t i = 0; i < sizeof builtin_strings / sizeof builtin_strings[0]; i++)
        if (builtin_strings[i] == oid) return 1;
    return 0;
}

/* Resolves oid (domains to their base, arrays to their element), asking the
 * catalog once per connection for types that are not built in. */
static int resolve(src_conn *c, Oid oid, tinfo *t, int depth, diag *d)
{
    t->oid = oid;
    t->cv = CV_STRING;
    t->elem_cv = CV_STRING;
    t->delim = ',';
    t->base = oid;
    t->typmod = -1;
    const builtin *b = find_builtin(oid);
    if (b) {
        t->cv = b->cv;
        if (b->elem) {
            const builtin *e = find_builtin(b->elem);
            t->elem_cv = e ? e->cv : CV_STRING;
            t->base = b->elem;
            if (b->elem == T_BOX) t->delim = ';';
        }
        return 0;
    }
    if (is_builtin_string(oid)) return 0;
    for (int i = 0; i < c->ntypes; i++)
        if (c->types[i].oid == oid) {
            *t = c->types[i];
            return 0;
        }
    if (depth > 8) return 0;
    char oidtxt[16];
    snprintf(oidtxt, sizeof oidtxt, "%u", (unsigned)oid);
    const char *params[1] = {oidtxt};
    PGresult *r = execp(c,
                               "SELECT typtype, typbasetype, typelem, typdelim, typtypmod, "
                               "typcategory FROM pg_catalog.pg_type WHERE oid = $1::oid",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = fail(c, r, d, "type lookup failed", NULL);
        PQclear(r);
        return rc;
    }
    int rc = 0;
    if (PQntuples(r) == 1) {
        char typtype = PQgetvalue(r, 0, 0)[0];
        Oid basetype = (Oid)strtoul(PQgetvalue(r, 0, 1), NULL, 10);
        Oid elem = (Oid)strtoul(PQgetvalue(r, 0, 2), NULL, 10);
        char delim = PQgetvalue(r, 0, 3)[0];
        int typmod = (int)strtol(PQgetvalue(r, 0, 4), NULL, 10);
        char category = PQgetvalue(r, 0, 5)[0];
        PQclear(r);
        r = NULL;
        if (typtype == 'd' && basetype) {
            rc = resolve(c, basetype, t, depth + 1, d);
            if (t->typmod < 0) t->typmod = typmod;
            t->oid = oid;
        } else if (category == 'A' && elem) {
            tinfo e;
            rc = resolve(c, elem, &e, depth + 1, d);
            if (e.cv == CV_ARRAY) { /* array of a domain over an array: keep text */
                t->cv = CV_STRING;
            } else {
                t->cv = CV_ARRAY;
                t->elem_cv = e.cv;
                t->base = e.base;
                t->typmod = e.typmod;
                t->delim = delim ? delim : ',';
            }
        }
    }
    PQclear(r);
    if (rc) return rc;
    if (c->ntypes == c->captypes) {
        int cap = c->captypes ? c->captypes * 2 : 16;
        tinfo *nt = realloc(c->types, (size_t)cap * sizeof *nt);
        if (!nt) return 0; /* not cached; resolved again next time */
        c->types = nt;
        c->captypes = cap;
    }
    c->types[c->ntypes++] = *t;
    return 0;
}

/* Elasticsearch field type of a resolved column type. numeric: scale 0 ->
 * long (precision <= 18) or double; scale 1..6 -> scaled_float (the engine
 * takes scaling_factor = 10^scale from sql_type "numeric(p,s)"); larger scales
 * and unconstrained numeric -> double (the document keeps every digit, only
 * the index is approximate). json/jsonb and point -> object; arrays -> their
 * element's type; cidr -> ip_range (ES ip rejects a netmask). */
static const char *es_type_of(const tinfo *t)
{
    switch (t->base) {
    case T_INT2: return "short";
    case T_INT4: return "integer";
    case T_INT8: case T_OID: return "long";
    case T_FLOAT4: return "float";
    case T_FLOAT8: case T_MONEY: return "double";
    case T_NUMERIC: {
        if (t->typmod < 4) return "double";
        int prec = ((t->typmod - 4) >> 16) & 0xffff, scale = (t->typmod - 4) & 0xffff;
        if (scale == 0) return prec <= 18 ? "long" : "double";
        return scale <= 6 ? "scaled_float" : "double";
    }
    case T_BOOL: return "boolean";
    case T_TEXT: case T_VARCHAR: case T_XML: case T_TSVECTOR: return "text";
    case T_DATE: case T_TIMESTAMP: case T_TIMESTAMPTZ: return "date";
    case T_JSON: case T_JSONB: case T_POINT: return "object";
    case T_BYTEA: return "binary";
    case T_INET: return "ip";
    case T_CIDR: return "ip_range";
    default: return "keyword";
    }
}

/* ----------------------------------------------------------------- tables */

static int pg_list_tables(src_conn *c, const char *schema, arena *a, const char ***names, int *n,
                          diag *d)
{
    const char *params[1] = {schema && *schema ? schema : c->schema};
    PGresult *r = execp(
        c,
        "SELECT c.relname FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = COALESCE($1, current_schema()) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND NOT c.relispartition ORDER BY c.relname COLLATE \"C\"",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = fail(c, r, d, "cannot list tables", NULL);
        PQclear(r);
        return rc;
    }
    int nt = PQntuples(r);
    const char **v = arena_alloc(a, ((size_t)nt + 1) * sizeof *v);
    for (int i = 0; i < nt; i++) v[i] = arena_strdup(a, PQgetvalue(r, i, 0));
    PQclear(r);
    *names = v;
    *n = nt;
    return 0;
}

static int pg_describe(src_conn *c, const char *schema, const char *table, arena *a,
                       src_table *out, diag *d)
{
    const char *sch = schema && *schema ? schema : c->schema;
    const char *p1[2] = {sch, table};
    int rc = 0;
    PGresult *r = execp(
        c,
        "SELECT c.oid, c.relkind, c.reltuples::int8, n.nspname FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = COALESCE($1, current_schema()) AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
        2, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = fail(c, r, d, "cannot describe table", NULL);
        goto done;
    }
    if (PQntuples(r) != 1) {
        diag_error(d, (src_loc){0}, "postgresql: table \"%s\".\"%s\" not found",
                   sch ? sch : "(current schema)", table);
        rc = DIAG_ENOTFOUND;
        goto done;
    }
    char reloid[16];
    snprintf(reloid, sizeof reloid, "%s", PQgetvalue(r, 0, 0));
    char relkind = PQgetvalue(r, 0, 1)[0];
    int64_t est = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    char *nsp = arena_strdup(a, PQgetvalue(r, 0, 3));
    PQclear(r);
    const char *p2[1] = {reloid};
    r = execp(
        c,
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "a.atttypid, a.atttypmod, "
        "COALESCE(array_position(string_to_array(i.indkey::text, ' ')::int2[], a.attnum), 0) "
        "FROM pg_catalog.pg_attribute a "
        "LEFT JOIN pg_catalog.pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
        "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        1, NULL, p2, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = fail(c, r, d, "cannot describe table", NULL);
        goto done;
    }
    int nc = PQntuples(r);
    memset(out, 0, sizeof *out);
    out->schema = nsp;
    out->name = arena_strdup(a, table);
    out->is_view = relkind == 'v';
    out->row_estimate = relkind == 'v' || est < 0 ? -1 : est;
    out->ncols = nc;
    out->cols = arena_alloc(a, ((size_t)nc + 1) * sizeof *out->cols);
    out->pk = arena_alloc(a, ((size_t)nc + 1) * sizeof *out->pk);
    for (int i = 0; i < nc; i++) {
        src_column *col = &out->cols[i];
        tinfo t;
        rc = resolve(c, (Oid)strtoul(PQgetvalue(r, i, 3), NULL, 10), &t, 0, d);
        if (rc) goto done;
        if (t.typmod < 0) t.typmod = (int)strtol(PQgetvalue(r, i, 4), NULL, 10);
        col->name = arena_strdup(a, PQgetvalue(r, i, 0));
        col->sql_type = arena_strdup(a, PQgetvalue(r, i, 1));
        col->es_type = es_type_of(&t);
        col->nullable = PQgetvalue(r, i, 2)[0] != 't';
        col->pk_pos = (int)strtol(PQgetvalue(r, i, 5), NULL, 10);
    }
    for (int pos = 1; pos <= nc; pos++)
        for (int i = 0; i < nc; i++)
            if (out->cols[i].pk_pos == pos) out->pk[out->npk++] = i;
done:
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------ conversions */

static int is_nan_inf(const char *p, size_t n)
{
    if (n == 0) return 1;
    if (p[0] == '-' || p[0] == '+') p++;
    return *p == 'N' || *p == 'I' || *p == 'n' || *p == 'i';
}

/* Date/time text (DateStyle ISO) to ISO 8601 in out[0..cap). Returns the
 * length, -1 for +/-infinity, -2 when the text is not understood. */
static int conv_datetime(conv_kind cv, const char *s, size_t n, char *out, size_t cap)
{
    if (n && (s[0] == 'i' || (s[0] == '-' && n > 1 && s[1] == 'i'))) return -1;
    int bc = n > 3 && memcmp(s + n - 3, " BC", 3) == 0;
    if (bc) n -= 3;
    size_t i = 0;
    while (i < n && isdigit((unsigned char)s[i])) i++;
    if (i < 4 || i > 9 || i >= n || s[i] != '-') return -2;
    size_t o = 0;
    if (bc) {
        long y = strtol(s, NULL, 10);
        int w = y == 1 ? snprintf(out, cap, "0000") : snprintf(out, cap, "-%04ld", y - 1);
        if (w < 0 || (size_t)w >= cap) return -2;
        o = (size_t)w;
    } else {
        memcpy(out, s, i);
        o = i;
    }
    size_t rest = n - i;
    if (cv == CV_DATE) {
        if (o + rest >= cap) return -2;
        memcpy(out + o, s + i, rest);
        return (int)(o + rest);
    }
    /* "-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]" */
    if (rest < 15 || s[i + 6] != ' ') return -2;
    size_t tz = n;
    if (cv == CV_TIMESTAMPTZ) {
        for (size_t j = i + 7; j < n; j++)
            if (s[j] == '+' || s[j] == '-') {
                tz = j;
                break;
            }
        if (tz == n) return -2;
    }
    if (o + (tz - i) + 8 >= cap) return -2;
    memcpy(out + o, s + i, tz - i);
    out[o + 6] = 'T';
    o += tz - i;
    if (cv == CV_TIMESTAMPTZ) {
        size_t zl = n - tz;
        if (zl == 3 && s[tz + 1] == '0' && s[tz + 2] == '0') {
            out[o++] = 'Z';
        } else if (zl == 3) {
            memcpy(out + o, s + tz, 3);
            memcpy(out + o + 3, ":00", 3);
            o += 6;
        } else {
            if (zl > 6) zl = 6; /* seconds in an offset have no ISO form */
            memcpy(out + o, s + tz, zl);
            o += zl;
        }
    }
    return (int)o;
}

/* money text ("$1,234.56", "-$1,234.56", "($5.00)") to a JSON number. */
static int conv_money(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    int neg = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '-' || ch == '(') neg = 1;
        else if ((isdigit((unsigned char)ch) || ch == '.') && o + 2 < cap) out[1 + o++] = ch;
    }
    if (o == 0) return -2;
    if (neg) {
        out[0] = '-';
        o++;
    } else {
        memmove(out, out + 1, o);
    }
    return json_is_number(out, o) ? (int)o : -2;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* bytea text (hex "\x..." or the old escape format) to raw bytes in b. */
static int conv_bytea(const char *s, size_t n, buf *b)
{
    if (n >= 2 && s[0] == '\\' && s[1] == 'x') {
        int rc = buf_reserve(b, (n - 2) / 2);
        if (rc) return rc;
        for (size_t i = 2; i + 1 < n; i += 2) {
            int h = hexval(s[i]), l = hexval(s[i + 1]);
            if (h < 0 || l < 0) return DIAG_EINVAL;
            b->data[b->len++] = (char)(h << 4 | l);
        }
        b->data[b->len] = '\0';
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\\' && i + 1 < n && s[i + 1] == '\\') {
            i++;
        } else if (ch == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3') {
            ch = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 | (s[i + 3] - '0'));
            i += 3;
        }
        int rc = buf_putc(b, ch);
        if (rc) return rc;
    }
    return 0;
}

/* point "(x,y)" -> {"x":x,"y":y}; NaN/Infinity coordinates become null. */
static int conv_point(src_scan *s, const char *p, size_t n, buf *b)
{
    if (n < 5 || p[0] != '(' || p[n - 1] != ')') return buf_json_str(b, p, n, NULL);
    const char *comma = memchr(p, ',', n);
    if (!comma) return buf_json_str(b, p, n, NULL);
    const char *x = p + 1, *y = comma + 1;
    size_t xn = (size_t)(comma - x), yn = (size_t)(p + n - 1 - y);
    int rc = buf_puts(b, "{\"x\":");
    if (json_is_number(x, xn)) rc |= buf_append(b, x, xn);
    else { rc |= buf_puts(b, "null"); s->st.warnings++; }
    rc |= buf_puts(b, ",\"y\":");
    if (json_is_number(y, yn)) rc |= buf_append(b, y, yn);
    else { rc |= buf_puts(b, "null"); s->st.warnings++; }
    rc |= buf_putc(b, '}');
    return rc ? DIAG_ENOMEM : 0;
}

/* Appends the JSON form of one array element (text s[0..n), already
 * unescaped) converted like a scalar of kind cv. */
static int elem_json(src_scan *s, conv_kind cv, const char *p, size_t n, buf *b)
{
    char tmp[96];
    int w;
    switch (cv) {
    case CV_INT:
        if (json_is_number(p, n)) return buf_append(b, p, n);
        return buf_json_str(b, p, n, NULL);
    case CV_NUMERIC:
    case CV_FLOAT:
        if (!is_nan_inf(p, n) && json_is_number(p, n)) return buf_append(b, p, n);
        s->st.warnings++;
        return buf_puts(b, "null");
    case CV_BOOL: return buf_puts(b, n && p[0] == 't' ? "true" : "false");
    case CV_JSON: return buf_append(b, p, n);
    case CV_BYTEA: {
        buf_reset(&s->tmp2);
        int rc = conv_bytea(p, n, &s->tmp2);
        if (rc) return rc;
        return buf_json_base64(b, s->tmp2.data ? s->tmp2.data : "", s->tmp2.len);
    }
    case CV_DATE:
    case CV_TIMESTAMP:
    case CV_TIMESTAMPTZ:
        w = conv_datetime(cv, p, n, tmp, sizeof tmp);
        if (w == -1) {
            s->st.warnings++;
            return buf_puts(b, "null");
        }
        return w < 0 ? buf_json_str(b, p, n, NULL) : buf_json_str(b, tmp, (size_t)w, NULL);
    case CV_MONEY:
        w = conv_money(p, n, tmp, sizeof tmp);
        return w < 0 ? buf_json_str(b, p, n, NULL) : buf_append(b, tmp, (size_t)w);
    case CV_POINT: return conv_point(s, p, n, b);
    case CV_ARRAY:
    case CV_STRING:
    default: return buf_json_str(b, p, n, NULL);
    }
}

/* PostgreSQL array text ("[0:1]={{1,2},{NULL,\"a\\\"b\"}}") to a JSON array. */
static int conv_array(src_scan *s, const tinfo *t, const char *p, size_t n, buf *b)
{
    size_t i = 0;
    int depth = 0, rc = 0;
    char delim = t->delim;
    if (n && p[0] == '[') {
        const char *eq = memchr(p, '=', n);
        if (!eq) return buf_json_str(b, p, n, NULL);
        i = (size_t)(eq - p) + 1;
    }
    while (i < n && !rc) {
        char ch = p[i];
        if (ch == '{') {
            rc = buf_putc(b, '[');
            depth++;
            i++;
        } else if (ch == '}') {
            rc = buf_putc(b, ']');
            depth--;
            i++;
        } else if (ch == delim) {
            rc = buf_putc(b, ',');
            i++;
        } else if (isspace((unsigned char)ch)) {
            i++;
        } else if (ch == '"') {
            buf_reset(&s->tmp);
            for (i++; i < n && p[i] != '"' && !rc; i++) {
                if (p[i] == '\\' && i + 1 < n) i++;
                rc = buf_putc(&s->tmp, p[i]);
            }
            i++; /* closing quote */
            if (!rc)
                rc = elem_json(s, t->elem_cv, s->tmp.data ? s->tmp.data : "", s->tmp.len, b);
        } else {
            size_t st = i;
            while (i < n && p[i] != delim && p[i] != '}') i++;
            size_t en = i;
            while (en > st && isspace((unsigned char)p[en - 1])) en--;
            if (en - st == 4 && strncasecmp(p + st, "NULL", 4) == 0)
                rc = buf_puts(b, "null");
            else
                rc = elem_json(s, t->elem_cv, p + st, en - st, b);
        }
    }
    if (rc) return rc;
    return depth == 0 ? 0 : DIAG_EINVAL;
}

/* Converts column i of the current result row into s->row[i] (pointing into
 * the result, into a static literal, or at an offset of s->rowbuf). */
static int convert(src_scan *s, int i, const char *p, size_t n)
{
    src_value *v = &s->row[i];
    const tinfo *t = &s->types[i];
    char tmp[96];
    int w, rc = 0;
    size_t start = s->rowbuf.len;
    v->p = p;
    v->n = n;
    s->off[i] = SIZE_MAX;
    switch (t->cv) {
    case CV_INT:
        v->kind = SRC_NUMBER;
        return 0;
    case CV_NUMERIC:
    case CV_FLOAT:
        if (is_nan_inf(p, n)) goto null_warn;
        v->kind = SRC_NUMBER;
        return 0;
    case CV_BOOL:
        v->kind = SRC_BOOL;
        v->p = n && p[0] == 't' ? "true" : "false";
        v->n = v->p[0] == 't' ? 4 : 5;
        return 0;
    case CV_JSON:
        v->kind = SRC_JSON;
        return 0;
    case CV_BYTEA:
        v->kind = SRC_BINARY;
        rc = conv_bytea(p, n, &s->rowbuf);
        if (rc == DIAG_EINVAL) { /* not bytea text after all: hand the bytes over */
            s->rowbuf.len = start;
            return 0;
        }
        break;
    case CV_DATE:
    case CV_TIMESTAMP:
    case CV_TIMESTAMPTZ:
        v->kind = SRC_STRING;
        w = conv_datetime(t->cv, p, n, tmp, sizeof tmp);
        if (w == -1) goto null_warn;
        if (w < 0) return 0;
        rc = buf_append(&s->rowbuf, tmp, (size_t)w);
        break;
    case CV_MONEY:
        w = conv_money(p, n, tmp, sizeof tmp);
        if (w < 0) {
            v->kind = SRC_STRING;
            return 0;
        }
        v->kind = SRC_NUMBER;
        rc = buf_append(&s->rowbuf, tmp, (size_t)w);
        break;
    case CV_POINT:
        v->kind = SRC_JSON;
        rc = conv_point(s, p, n, &s->rowbuf);
        break;
    case CV_ARRAY:
        v->kind = SRC_JSON;
        rc = conv_array(s, t, p, n, &s->rowbuf);
        if (rc == DIAG_EINVAL) { /* malformed: keep the text */
            s->rowbuf.len = start;
            v->kind = SRC_STRING;
            return 0;
        }
        break;
    case CV_STRING:
    default:
        v->kind = SRC_STRING;
        return 0;
    }
    if (rc) return rc;
    s->off[i] = start;
    v->n = s->rowbuf.len - start;
    return 0;
null_warn:
    s->st.warnings++;
    v->kind = SRC_NULL;
    v->p = NULL;
    v->n = 0;
    return 0;
}

/* ------------------------------------------------------------------ scans */

/* The scan's next result in command order: parked, or read from the wire
 * (parking other scans' results on the way), or a FETCH sent now. NULL when
 * the connection failed. */
static PGresult *next_result(src_scan *s)
{
    src_conn *c = s->c;
    if (s->ready.len) return fifo_pop(&s->ready);
    if (s->lost) return NULL;
    if (!s->nwire) {
        if (send_cmd(c, s->fetch_sql, 0, NULL, s) < 0) return NULL;
        s->nsent++;
    }
    while (s->nwire > 0) {
        src_scan *o;
        PGresult *r = read_cmd(c, &o);
        if (o == s) return r;
        park(o, r);
    }
    return NULL;
}

/* Keeps s->window FETCHes of the scan on the wire (or parked). */
static void top_up(src_scan *s)
{
    while (!s->done && !s->lost && s->nwire + s->ready.len < s->window &&
           (!s->expect || s->nsent < s->expect)) {
        if (send_cmd(s->c, s->fetch_sql, 0, NULL, s) < 0) break;
        s->nsent++;
    }
}

/* Takes the next batch into s->res (the results of BEGIN and DECLARE on the
 * way are checked and skipped). */
static int fetch(src_scan *s, const char *what, diag *d)
{
    PQclear(s->res);
    for (;;) {
        s->res = next_result(s);
        if (PQresultStatus(s->res) != PGRES_COMMAND_OK) break;
        PQclear(s->res);
    }
    s->row_i = 0;
    s->nrows = 0;
    if (PQresultStatus(s->res) != PGRES_TUPLES_OK) {
        s->failed = 1;
        s->done = 1;
        return fail(s->c, s->res, d, what, s->sql_ctx);
    }
    s->nfetched++;
    if (s->expect && s->nfetched >= s->expect) s->expect = 0; /* larger this time */
    s->nrows = PQntuples(s->res);
    if (s->nrows < s->fetch_size) s->done = 1;
    top_up(s);
    return 0;
}

/* The window after the first batch: PIPE_BYTES of batches like it. */
static int window_for(const PGresult *r)
{
    size_t bytes = 64;
    int nr = PQntuples(r), nf = PQnfields(r);
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nf; j++) bytes += (size_t)PQgetlength(r, i, j) + 8;
    size_t w = PIPE_BYTES / bytes;
    return w < 2 ? 2 : w > PIPE_MAX ? PIPE_MAX : (int)w;
}

/* Gives the scan's commands on the wire to nobody (they are read and
 * dropped later) and drops its parked results. */
static void disown(src_scan *s)
{
    src_conn *c = s->c;
    for (int i = 0; s->nwire && i < c->wire.len; i++) {
        void **o = &c->wire.v[(c->wire.head + i) % c->wire.cap];
        if (*o == s) {
            *o = NULL;
            s->nwire--;
        }
    }
    while (s->ready.len) PQclear(fifo_pop(&s->ready));
    free(s->ready.v);
    s->ready.v = NULL;
    s->ready.cap = 0;
}

/* CLOSE the cursor, or COMMIT after the last one (ROLLBACK when asked);
 * sent without waiting (read and dropped by the next command). */
static void end_txn(src_conn *c, const char *cursor, int rollback)
{
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) return;
    char sql[64];
    if (c->nscans <= 0) snprintf(sql, sizeof sql, rollback ? "ROLLBACK" : "COMMIT");
    else snprintf(sql, sizeof sql, "CLOSE %s", cursor);
    if (send_cmd(c, sql, 0, NULL, NULL) < 0) settle(c);
}

/* A scan ended before its last batch: its FETCHes on the wire are
 * cancelled when no other scan shares the transaction (the cancel aborts
 * the running one, the rest fail at once; the COMMIT that follows rolls
 * back; a cancel reaching an idle backend is ignored by the server). */
static void stop_early(src_scan *s)
{
    src_conn *c = s->c;
    if (c->nscans != 1) return;
    PGcancel *cn = PQgetCancel(c->pg);
    char err[256];
    if (cn) {
        PQcancel(cn, err, (int)sizeof err);
        PQfreeCancel(cn);
    }
}

static void pg_end_scan(src_scan *s)
{
    if (!s) return;
    src_conn *c = s->c;
    if (!s->done && s->nwire && c->pg && PQstatus(c->pg) == CONNECTION_OK) stop_early(s);
    disown(s);
    if (s->done && !s->failed && s->sql) { /* how many FETCHes the query took */
        int n = s->nfetched < PIPE_MAX ? s->nfetched : PIPE_MAX;
        if (!c->hint_sql || strcmp(c->hint_sql, s->sql) != 0) {
            free(c->hint_sql);
            c->hint_sql = dupstr(s->sql);
        }
        c->hint_fetches = n < 1 ? 1 : n;
    }
    PQclear(s->res);
    s->c->nscans--;
    end_txn(s->c, s->cursor, 0);
    buf_free(&s->rowbuf);
    buf_free(&s->tmp);
    buf_free(&s->tmp2);
    arena_free(s->a);
    free(s);
}

static const char *cached_name(const src_conn *c, Oid oid, int typmod)
{
    for (int i = 0; i < c->nnames; i++)
        if (c->names[i].oid == oid && c->names[i].typmod == typmod) return c->names[i].name;
    return NULL;
}

/* Sets the sql_type of the scan's columns: format_type() asked once per
 * connection for each (type, typmod) not seen before. */
static int type_names(src_scan *s, diag *d)
{
    src_conn *c = s->c;
    buf sq = BUF_INIT;
    int nmiss = 0, rc = 0;
    PGresult *r = NULL;
    buf_puts(&sq, "SELECT ");
    for (int i = 0; i < s->ncols; i++) {
        Oid oid = PQftype(s->res, i);
        int mod = PQfmod(s->res, i);
        if (cached_name(c, oid, mod)) continue;
        buf_printf(&sq, "%s%u, %d, pg_catalog.format_type(%u, %d)", nmiss ? ", " : "",
                   (unsigned)oid, mod, (unsigned)oid, mod);
        nmiss++;
    }
    if (nmiss) {
        if (sq.failed) {
            rc = DIAG_ENOMEM;
            goto done;
        }
        r = exec(c, sq.data);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = fail(c, r, d, "type lookup failed", s->sql_ctx);
            goto done;
        }
        for (int j = 0; j < nmiss; j++) {
            Oid oid = (Oid)strtoul(PQgetvalue(r, 0, 3 * j), NULL, 10);
            int mod = (int)strtol(PQgetvalue(r, 0, 3 * j + 1), NULL, 10);
            if (cached_name(c, oid, mod)) continue;
            if (c->nnames == c->capnames) {
                int cap = c->capnames ? c->capnames * 2 : 16;
                tname *nn = realloc(c->names, (size_t)cap * sizeof *nn);
                if (!nn) {
                    rc = DIAG_ENOMEM;
                    goto done;
                }
                c->names = nn;
                c->capnames = cap;
            }
            char *name = dupstr(PQgetvalue(r, 0, 3 * j + 2));
            if (!name) {
                rc = DIAG_ENOMEM;
                goto done;
            }
            c->names[c->nnames++] = (tname){oid, mod, name};
        }
    }
    for (int i = 0; i < s->ncols; i++) {
        const char *nm = cached_name(c, PQftype(s->res, i), PQfmod(s->res, i));
        s->cols[i].sql_type = arena_strdup(s->a, nm ? nm : "unknown");
    }
done:
    if (rc == DIAG_ENOMEM) diag_error(d, (src_loc){0}, "postgresql: out of memory");
    PQclear(r);
    buf_free(&sq);
    return rc;
}

/* Length of sql without trailing blanks and semicolons (DECLARE wraps it). */
static size_t trimmed_len(const char *sql)
{
    size_t n = strlen(sql);
    while (n && (isspace((unsigned char)sql[n - 1]) || sql[n - 1] == ';')) n--;
    return n;
}

static int pg_begin_scan(src_conn *c, const src_query *q, src_scan **out, diag *d)
{
    int rc = DIAG_ENOMEM;
    *out = NULL;
    src_scan *s = calloc(1, sizeof *s);
    if (!s) goto fail_oom;
    s->a = arena_new();
    if (!s->a) goto fail_oom;
    s->c = c;
    buf_init(&s->rowbuf, 0);
    buf_init(&s->tmp, 0);
    buf_init(&s->tmp2, 0);
    size_t qn = trimmed_len(q->sql);
    s->sql_ctx = qn > 160 ? arena_printf(s->a, "%.157s...", q->sql)
                          : arena_strndup(s->a, q->sql, qn);
    s->sql = arena_strdup(s->a, q->sql);
    s->fetch_size = q->fetch_size > 0 ? q->fetch_size : c->fetch_size;
    snprintf(s->cursor, sizeof s->cursor, "sql2es_c%u", ++c->cursor_seq);
    s->fetch_sql = arena_printf(s->a, "FETCH FORWARD %d FROM %s", s->fetch_size, s->cursor);

    char *decl = arena_printf(s->a, "DECLARE %s NO SCROLL CURSOR FOR %.*s", s->cursor, (int)qn,
                              q->sql);
    /* BEGIN (the transaction's first scan), DECLARE and the first FETCH in
     * one round trip; as many FETCHes as the same query took last time */
    int first = 1;
    if (c->hint_sql && strcmp(c->hint_sql, q->sql) == 0) {
        first = c->hint_fetches + c->hint_fetches / 4 + 1;
        if (first > PIPE_MAX) first = PIPE_MAX;
        s->expect = first;
    }
    char snap[128];
    int sent = c->nscans > 0 ||
               (send_cmd(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL, s) == 0 &&
                (!snapshot_sql(c, snap, sizeof snap) || send_cmd(c, snap, 0, NULL, s) == 0));
    c->nscans++;
    sent = sent && send_cmd(c, decl, q->nparams, q->params, s) == 0;
    for (; sent && s->nsent < first; s->nsent++) sent = send_cmd(c, s->fetch_sql, 0, NULL, s) == 0;
    if (!sent) {
        rc = fail(c, NULL, d, "query failed", s->sql_ctx);
        goto fail_scan;
    }
    s->window = 0; /* no more FETCHes before the catalog lookups below */
    rc = fetch(s, "query failed", d);
    if (rc) goto fail_scan;
    s->ncols = PQnfields(s->res);
    s->cols = arena_alloc(s->a, ((size_t)s->ncols + 1) * sizeof *s->cols);
    s->types = arena_alloc(s->a, ((size_t)s->ncols + 1) * sizeof *s->types);
    s->row = arena_alloc(s->a, ((size_t)s->ncols + 1) * sizeof *s->row);
    s->off = arena_alloc(s->a, ((size_t)s->ncols + 1) * sizeof *s->off);
    for (int i = 0; i < s->ncols; i++) {
        tinfo *t = &s->types[i];
        rc = resolve(c, PQftype(s->res, i), t, 0, d);
        if (rc) goto fail_scan;
        if (t->typmod < 0) t->typmod = PQfmod(s->res, i);
        s->cols[i].name = arena_strdup(s->a, PQfname(s->res, i));
        s->cols[i].es_type = es_type_of(t);
        s->cols[i].nullable = 1;
    }
    rc = type_names(s, d);
    if (rc) goto fail_scan;
    /* the catalog lookups above come first: only then the whole window */
    s->window = window_for(s->res);
    if (s->window < first) s->window = first;
    top_up(s);
    *out = s;
    return 0;

fail_oom:
    diag_error(d, (src_loc){0}, "postgresql: out of memory");
    if (s) {
        arena_free(s->a);
        free(s);
    }
    return DIAG_ENOMEM;
fail_scan:
    c->nscans--;
    disown(s);
    end_txn(c, s->cursor, 1);
    PQclear(s->res);
    buf_free(&s->rowbuf);
    buf_free(&s->tmp);
    buf_free(&s->tmp2);
    arena_free(s->a);
    free(s);
    return rc;
}

static int pg_scan_columns(src_scan *s, const src_column **cols, int *n)
{
    *cols = s->cols;
    *n = s->ncols;
    return 0;
}

static int pg_next(src_scan *s, const src_value **row, diag *d)
{
    if (s->failed) return DIAG_EIO;
    if (s->row_i >= s->nrows) {
        if (s->done) return 0;
        int rc = fetch(s, "read failed", d);
        if (rc) return rc;
        if (s->nrows == 0) return 0;
    }
    if (s->rowbuf.cap > ROWBUF_KEEP) {
        buf_free(&s->rowbuf);
        buf_init(&s->rowbuf, 0);
    }
    buf_reset(&s->rowbuf);
    int ri = s->row_i++;
    size_t bytes = 0;
    for (int i = 0; i < s->ncols; i++) {
        if (PQgetisnull(s->res, ri, i)) {
            s->row[i] = (src_value){SRC_NULL, NULL, 0};
            s->off[i] = SIZE_MAX;
            continue;
        }
        size_t n = (size_t)PQgetlength(s->res, ri, i);
        bytes += n;
        uint64_t w = s->st.warnings;
        int rc = convert(s, i, PQgetvalue(s->res, ri, i), n);
        if (s->st.warnings != w) s->st.warn_column = i + 1;
        if (rc) {
            diag_error(d, (src_loc){0}, "postgresql: out of memory converting column \"%s\"",
                       s->cols[i].name);
            return rc;
        }
    }
    if (s->rowbuf.len)
        for (int i = 0; i < s->ncols; i++)
            if (s->off[i] != SIZE_MAX) s->row[i].p = s->rowbuf.data + s->off[i];
    for (int i = 0; i < s->ncols; i++)
        if (s->off[i] != SIZE_MAX && s->row[i].n == 0) s->row[i].p = "";
    s->st.rows++;
    s->st.bytes += bytes + (size_t)s->ncols;
    *row = s->row;
    return 1;
}

static const src_scan_stats *pg_stats(src_scan *s) { return &s->st; }

/* ---------------------------------------------------------- change stream
 *
 * Logical replication with the built-in pgoutput plugin (protocol 1) over a
 * `replication=database` connection: the publication of the followed tables
 * (created when sql2es owns it), a slot created with an exported snapshot,
 * START_REPLICATION, then XLogData messages decoded into src_change values
 * and standby status updates carrying the acknowledged position (the slot
 * keeps everything after it). Values are pgoutput's text forms (those a
 * query parameter takes); an old tuple also comes as a scan gives it
 * (old_scan, for the _id of a deleted row), converted by the columns' types
 * - a type that is not built in is looked up on a second, ordinary
 * connection, opened when first needed. */

typedef struct stream_rel {
    uint32_t oid;
    char *schema, *name;
    int ncols;
    char **names;
    Oid *types;        /* per column, as the Relation message gave them */
    tinfo *ti;         /* resolved when an old tuple first needs them, or NULL */
} stream_rel;

static void rel_clear(stream_rel *r)
{
    free(r->schema);
    free(r->name);
    for (int j = 0; r->names && j < r->ncols; j++) free(r->names[j]);
    free(r->names);
    free(r->types);
    free(r->ti);
}

struct src_stream {
    src_conn *c;
    char *slot, *pub;
    int started, in_txn;
    uint64_t received;     /* end of the WAL the server sent */
    uint64_t flushed;      /* acknowledged by the caller */
    uint64_t idle_sent;    /* the last IDLE position handed out */
    double last_status;    /* when the last standby status update went out */
    char *copybuf;         /* the message being decoded (PQfreemem) */
    stream_rel *rels;
    int nrels, caprels;
    src_value *row, *old;  /* decoded tuples (values point into copybuf) */
    src_value *old_scan;   /* old as a scan gives it (into copybuf or conv.rowbuf) */
    size_t *off;           /* conv.off */
    unsigned char *unchanged;
    int capvals;
    const src_config *cfg; /* the caller's, for the catalog connection */
    src_conn *tc;          /* type lookups (not built-in types), or NULL */
    int tc_failed;         /* it could not be opened: such types stay text */
    src_scan conv;         /* convert()'s state for old_scan */
    uint32_t *trunc;       /* relations of a TRUNCATE still to hand out */
    int ntrunc, itrunc;
    char pos[32];
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

static int parse_lsn(const char *t, uint64_t *out)
{
    unsigned hi, lo;
    if (!t || sscanf(t, "%X/%X", &hi, &lo) != 2) return -1;
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}

static void fmt_lsn(char *out, size_t n, uint64_t v)
{
    snprintf(out, n, "%X/%X", (unsigned)(v >> 32), (unsigned)v);
}

/* Slot and publication names are pasted into replication commands: the
 * characters PostgreSQL allows in a slot name, and no others. */
static int plain_name(const char *n)
{
    return n && *n && strlen(n) < 64 && strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(n);
}

/* A standby status update: written = received, flushed = applied = acknowledged. */
static int send_status(src_stream *s)
{
    unsigned char m[34];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* microseconds since 2000-01-01 */
    uint64_t now = (uint64_t)(ts.tv_sec - 946684800) * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    m[0] = 'r';
    put64(m + 1, s->received > s->flushed ? s->received : s->flushed);
    put64(m + 9, s->flushed);
    put64(m + 17, s->flushed);
    put64(m + 25, now);
    m[33] = 0;
    s->last_status = mono_now();
    if (PQputCopyData(s->c->pg, (const char *)m, sizeof m) != 1 || PQflush(s->c->pg) != 0) return -1;
    return 0;
}

/* Run sql (simple protocol: a walsender takes no other); the result or NULL
 * with the error reported. */
static PGresult *repl_exec(src_stream *s, const char *sql, ExecStatusType want, const char *what,
                           diag *d, int *rc)
{
    PGresult *r = PQexec(s->c->pg, sql);
    if (PQresultStatus(r) != want) {
        *rc = fail(s->c, r, d, what, NULL);
        PQclear(r);
        return NULL;
    }
    return r;
}

static char *lit(src_stream *s, const char *v)
{
    return PQescapeLiteral(s->c->pg, v, strlen(v));
}

static void stream_free(src_stream *s)
{
    if (!s) return;
    if (s->copybuf) PQfreemem(s->copybuf);
    if (s->c && s->c->pg && s->started) {
        send_status(s);
        PQputCopyEnd(s->c->pg, NULL);
    }
    pg_close(s->c);
    pg_close(s->tc);
    buf_free(&s->conv.rowbuf);
    buf_free(&s->conv.tmp);
    buf_free(&s->conv.tmp2);
    for (int i = 0; i < s->nrels; i++) rel_clear(&s->rels[i]);
    free(s->rels);
    free(s->row);
    free(s->old);
    free(s->old_scan);
    free(s->off);
    free(s->unchanged);
    free(s->trunc);
    free(s->slot);
    free(s->pub);
    free(s);
}

/* The qualified, quoted name of table t (schema: the configuration's, else
 * the search path's). */
static void table_name(buf *b, const src_config *cfg, const char *t)
{
    if (cfg->schema && *cfg->schema) {
        pg_quote_ident(b, cfg->schema);
        buf_putc(b, '.');
    }
    pg_quote_ident(b, t);
}

/* The publication: made for o->tables when missing and own, the tables it
 * lacks added when own; else it must exist. */
static int ensure_publication(src_stream *s, const src_config *cfg, const src_stream_opts *o,
                              diag *d)
{
    int rc = 0;
    char *pl = lit(s, s->pub);
    buf b = BUF_INIT;
    buf_printf(&b, "SELECT tablename FROM pg_publication_tables WHERE pubname = %s "
                   "UNION ALL SELECT NULL FROM pg_publication WHERE pubname = %s",
               pl, pl);
    PGresult *r = pl ? repl_exec(s, b.data, PGRES_TUPLES_OK, "cannot read the publications", d, &rc)
                     : NULL;
    if (!pl && !rc) rc = DIAG_ENOMEM;
    if (r && PQntuples(r) == 0) {
        if (!o->own_publication) {
            diag_error(d, (src_loc){0},
                       "postgresql: publication '%s' does not exist: create it (CREATE PUBLICATION "
                       "%s FOR TABLE ...) or leave `publication` out to let sql2es create one",
                       s->pub, s->pub);
            rc = DIAG_EINVAL;
        } else {
            buf_reset(&b);
            buf_printf(&b, "CREATE PUBLICATION %s FOR TABLE ", s->pub);
            for (int i = 0; i < o->ntables; i++) {
                if (i) buf_puts(&b, ", ");
                table_name(&b, cfg, o->tables[i]);
            }
            PGresult *x = repl_exec(s, b.data, PGRES_COMMAND_OK, "cannot create the publication", d, &rc);
            PQclear(x);
        }
    } else if (r) {
        for (int i = 0; i < o->ntables && rc == 0; i++) {
            int in = 0;
            for (int k = 0; k < PQntuples(r) && !in; k++)
                in = !PQgetisnull(r, k, 0) && !strcmp(PQgetvalue(r, k, 0), o->tables[i]);
            if (in) continue;
            if (!o->own_publication) {
                diag_warning(d, (src_loc){0},
                             "postgresql: publication '%s' does not publish table '%s': its changes "
                             "are not followed (ALTER PUBLICATION %s ADD TABLE ...)",
                             s->pub, o->tables[i], s->pub);
                continue;
            }
            buf_reset(&b);
            buf_printf(&b, "ALTER PUBLICATION %s ADD TABLE ", s->pub);
            table_name(&b, cfg, o->tables[i]);
            PGresult *x = repl_exec(s, b.data, PGRES_COMMAND_OK, "cannot add a table to the publication", d, &rc);
            PQclear(x);
        }
    }
    PQclear(r);
    PQfreemem(pl);
    buf_free(&b);
    return rc;
}

/* Warn about tables whose old rows the stream must send whole. */
static void check_identity(src_stream *s, const src_config *cfg, const src_stream_opts *o, diag *d)
{
    for (int i = 0; i < o->nfull; i++) {
        char *tl = lit(s, o->full_identity[i]);
        char *sl = cfg->schema && *cfg->schema ? lit(s, cfg->schema) : NULL;
        buf b = BUF_INIT;
        buf_printf(&b, "SELECT c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = "
                       "c.relnamespace WHERE c.relname = %s AND n.nspname = %s",
                   tl ? tl : "''", sl ? sl : "current_schema()");
        /* advisory: a replica identity that cannot be read is a warning (the
         * stream opens; a lost connection fails the next query) */
        PGresult *r = PQexec(s->c->pg, b.data);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            diag *why = diag_new();
            fail(s->c, r, why, "cannot read the replica identity", NULL);
            diag_warning(d, (src_loc){0}, "%s (table '%s': whether its old rows come whole is not "
                         "checked)", diag_last(why), o->full_identity[i]);
            diag_free(why);
            PQclear(r);
            r = NULL;
        }
        if (r && PQntuples(r) == 1 && PQnfields(r) >= 1 && strcmp(PQgetvalue(r, 0, 0), "f") != 0)
            diag_warning(d, (src_loc){0},
                         "postgresql: table '%s' is nested in documents and its REPLICA IDENTITY "
                         "is not FULL: a deleted row, or a row moved to another parent, leaves "
                         "the old parent's document stale until a full sync (ALTER TABLE %s "
                         "REPLICA IDENTITY FULL)",
                         o->full_identity[i], o->full_identity[i]);
        PQclear(r);
        PQfreemem(tl);
        PQfreemem(sl);
        buf_free(&b);
    }
}

static int pg_stream_open(const src_config *cfg, const src_stream_opts *o, src_stream **out,
                          char *snapshot, size_t snapn, diag *d)
{
    *out = NULL;
    snapshot[0] = 0;
    if (!plain_name(o->slot) || !plain_name(o->publication)) {
        diag_error(d, (src_loc){0},
                   "postgresql: slot and publication names take lower-case letters, digits and "
                   "'_' (at most 63): '%s', '%s'",
                   o->slot ? o->slot : "", o->publication ? o->publication : "");
        return DIAG_EINVAL;
    }
    src_stream *s = calloc(1, sizeof *s);
    if (!s) return DIAG_ENOMEM;
    s->slot = dupstr(o->slot);
    s->cfg = cfg;
    s->pub = dupstr(o->publication);
    src_config rc_cfg = *cfg;
    rc_cfg.snapshot = NULL;
    int rc = pg_connect(&rc_cfg, "database", &s->c, d);
    if (rc) goto done;
    PGresult *r = repl_exec(s, "SHOW wal_level", PGRES_TUPLES_OK, "cannot read wal_level", d, &rc);
    if (r && (PQntuples(r) != 1 || PQnfields(r) < 1)) {
        diag_error(d, (src_loc){0}, "postgresql: SHOW wal_level on %s answered %d rows of %d "
                   "columns, not one value", s->c->label, PQntuples(r), PQnfields(r));
        rc = DIAG_EIO;
    } else if (r && strcmp(PQgetvalue(r, 0, 0), "logical") != 0) {
        diag_error(d, (src_loc){0},
                   "postgresql: wal_level is '%s' on %s: following changes needs logical "
                   "decoding (wal_level = logical in postgresql.conf, then restart the server)",
                   PQgetvalue(r, 0, 0), s->c->label);
        rc = DIAG_EINVAL;
    }
    PQclear(r);
    if (rc) goto done;
    rc = ensure_publication(s, cfg, o, d);
    if (rc) goto done;
    check_identity(s, cfg, o, d);
    char *sl = lit(s, s->slot);
    buf b = BUF_INIT;
    buf_printf(&b, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, plugin, "
                   "active FROM pg_replication_slots WHERE slot_name = %s", sl ? sl : "''");
    r = repl_exec(s, b.data, PGRES_TUPLES_OK, "cannot read the replication slots", d, &rc);
    int exists = r && PQntuples(r) == 1;
    if (exists && PQnfields(r) < 3) {
        diag_error(d, (src_loc){0}, "postgresql: the replication slots query on %s answered %d "
                   "columns, not 3", s->c->label, PQnfields(r));
        rc = DIAG_EIO;
    } else if (exists && strcmp(PQgetvalue(r, 0, 1), "pgoutput") != 0) {
        diag_error(d, (src_loc){0}, "postgresql: slot '%s' exists with plugin '%s', not pgoutput: "
                   "drop it or name another slot", s->slot, PQgetvalue(r, 0, 1));
        rc = DIAG_EINVAL;
    } else if (exists && !o->fresh) {
        long long held = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (o->retained_warn && held > 0 && (uint64_t)held > o->retained_warn)
            diag_warning(d, (src_loc){0},
                         "postgresql: slot '%s' retains %lld MB of WAL on the server (it keeps "
                         "everything not yet acknowledged; a slot nobody follows fills the disk: "
                         "sql2es sync --follow --drop-slot removes it)",
                         s->slot, held >> 20);
    }
    PQclear(r);
    if (rc == 0 && exists && o->fresh) {
        buf_reset(&b);
        buf_printf(&b, "SELECT pg_drop_replication_slot(%s)", sl ? sl : "''");
        r = repl_exec(s, b.data, PGRES_TUPLES_OK, "cannot drop the old slot", d, &rc);
        PQclear(r);
        exists = 0;
    }
    if (rc == 0 && !exists) {
        buf_reset(&b);
        if (PQserverVersion(s->c->pg) >= 150000)
            buf_printf(&b, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT 'export')", s->slot);
        else
            buf_printf(&b, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput EXPORT_SNAPSHOT", s->slot);
        r = repl_exec(s, b.data, PGRES_TUPLES_OK, "cannot create the replication slot", d, &rc);
        if (r && PQnfields(r) >= 3 && PQntuples(r) == 1) {
            snprintf(snapshot, snapn, "%s", PQgetvalue(r, 0, 2));
            parse_lsn(PQgetvalue(r, 0, 1), &s->flushed);
        }
        PQclear(r);
    }
    PQfreemem(sl);
    buf_free(&b);
done:
    if (rc) {
        stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int pg_stream_start(src_stream *s, const char *from, diag *d)
{
    /* a start after the slot's confirmed position skips what committed
     * before it (the caller saved it, the slot may not have heard) */
    uint64_t start = 0;
    if (from && parse_lsn(from, &start) < 0) start = 0;
    if (start > s->flushed) s->flushed = start;
    char sql[256], lsn[32];
    fmt_lsn(lsn, sizeof lsn, start);
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', publication_names '\"%s\"')",
             s->slot, lsn, s->pub);
    int rc = 0;
    PGresult *r = repl_exec(s, sql, PGRES_COPY_BOTH, "cannot start replication", d, &rc);
    PQclear(r);
    if (rc) return rc;
    s->started = 1;
    s->last_status = mono_now();
    return 0;
}

static stream_rel *find_rel(src_stream *s, uint32_t oid)
{
    for (int i = 0; i < s->nrels; i++)
        if (s->rels[i].oid == oid) return &s->rels[i];
    return NULL;
}

/* A cursor over one message; every read checks the length. */
typedef struct rd {
    const unsigned char *p, *end;
    int bad;
} rd;

static uint32_t rd32(rd *r)
{
    if (r->end - r->p < 4) { r->bad = 1; return 0; }
    uint32_t v = be32(r->p);
    r->p += 4;
    return v;
}
static int rd8(rd *r)
{
    if (r->p >= r->end) { r->bad = 1; return 0; }
    return *r->p++;
}
static int rd16(rd *r)
{
    int hi = rd8(r);
    return hi << 8 | rd8(r);
}
static char *rdstr(rd *r)
{
    const unsigned char *z = memchr(r->p, 0, (size_t)(r->end - r->p));
    if (!z) { r->bad = 1; return NULL; }
    char *v = dupstr((const char *)r->p);
    r->p = z + 1;
    return v;
}

static int grow_vals(src_stream *s, int n)
{
    if (n <= s->capvals) return 0;
    src_value *a = realloc(s->row, (size_t)n * sizeof *a);
    if (a) s->row = a;
    src_value *b = realloc(s->old, (size_t)n * sizeof *b);
    if (b) s->old = b;
    src_value *sc = realloc(s->old_scan, (size_t)n * sizeof *sc);
    if (sc) s->old_scan = sc;
    size_t *of = realloc(s->off, (size_t)n * sizeof *of);
    if (of) s->off = of;
    if (!sc || !of) return -1;
    unsigned char *u = realloc(s->unchanged, (size_t)n);
    if (u) s->unchanged = u;
    if (!a || !b || !u) return -1;
    s->capvals = n;
    return 0;
}

/* TupleData into v[0..ncols); unchanged (may be NULL) marks 'u' columns. */
static void rd_tuple(rd *r, src_value *v, unsigned char *unchanged, int ncols)
{
    int n = rd16(r);
    for (int i = 0; i < ncols; i++) {
        v[i].kind = SRC_NULL;
        v[i].p = NULL;
        v[i].n = 0;
        if (unchanged) unchanged[i] = 0;
    }
    for (int i = 0; i < n && !r->bad; i++) {
        int k = rd8(r);
        if (k == 't' || k == 'b') {
            uint32_t len = rd32(r);
            if (r->bad || (size_t)(r->end - r->p) < len) { r->bad = 1; break; }
            if (i < ncols) {
                v[i].kind = SRC_STRING;
                v[i].p = (const char *)r->p;
                v[i].n = len;
            }
            r->p += len;
        } else if (k == 'u') {
            if (unchanged && i < ncols) unchanged[i] = 1;
        } else if (k != 'n') {
            r->bad = 1;
        }
    }
}

/* Keeps the relation a Relation message describes (replacing an older
 * description): 0, -1 when the message is malformed (r->bad), DIAG_ENOMEM.
 * A relation not kept whole is not kept at all: its changes are refused as
 * undescribed rather than read with columns it lacks. */
static int on_relation(src_stream *s, rd *r)
{
    stream_rel nr = {0};
    nr.oid = rd32(r);
    nr.schema = rdstr(r); /* in order: an initializer list's calls are not sequenced */
    nr.name = rdstr(r);
    int oom = !r->bad && (!nr.schema || !nr.name);
    rd8(r); /* replica identity setting */
    nr.ncols = rd16(r);
    if (!r->bad && !oom && nr.ncols > 0) {
        nr.names = calloc((size_t)nr.ncols, sizeof *nr.names);
        nr.types = calloc((size_t)nr.ncols, sizeof *nr.types);
        oom = !nr.names || !nr.types;
    }
    for (int i = 0; i < nr.ncols && !oom && !r->bad; i++) {
        rd8(r);
        nr.names[i] = rdstr(r);
        oom = !r->bad && !nr.names[i];
        nr.types[i] = rd32(r);
        rd32(r); /* typmod */
    }
    if (!r->bad && !oom && grow_vals(s, nr.ncols) < 0) oom = 1;
    stream_rel *old = find_rel(s, nr.oid);
    if (old) { /* the older description goes whatever comes of this one */
        rel_clear(old);
        *old = s->rels[--s->nrels];
    }
    if (!r->bad && !oom && s->nrels == s->caprels) {
        int cap = s->caprels ? 2 * s->caprels : 8;
        stream_rel *g = realloc(s->rels, (size_t)cap * sizeof *g);
        if (g) {
            s->rels = g;
            s->caprels = cap;
        } else {
            oom = 1;
        }
    }
    if (r->bad || oom) {
        rel_clear(&nr);
        return r->bad ? -1 : DIAG_ENOMEM;
    }
    s->rels[s->nrels++] = nr;
    return 0;
}

static void set_rel(src_change *out, const stream_rel *rel)
{
    out->schema = rel->schema;
    out->table = rel->name;
    out->names = (const char *const *)rel->names;
    out->ncols = rel->ncols;
}

/* The old tuple (s->old) as a scan of the table gives it, in s->old_scan:
 * the scan's convert() with the columns' types. NULL when a type cannot be
 * had (out of memory): the caller keeps the text forms. */
static const src_value *scan_form(src_stream *s, stream_rel *rel)
{
    if (!rel->ti && rel->ncols > 0) {
        rel->ti = calloc((size_t)rel->ncols, sizeof *rel->ti);
        if (!rel->ti) return NULL;
        for (int i = 0; i < rel->ncols; i++) {
            Oid oid = rel->types ? rel->types[i] : 0;
            tinfo *t = &rel->ti[i];
            *t = (tinfo){oid, CV_STRING, CV_STRING, ',', oid, -1};
            if (find_builtin(oid) || is_builtin_string(oid)) {
                resolve(NULL, oid, t, 0, NULL); /* no catalog lookup */
                continue;
            }
            if (s->tc_failed) continue;
            diag *qd = diag_new();
            if (!s->tc) {
                src_config plain = *s->cfg;
                plain.snapshot = NULL;
                if (pg_connect(&plain, NULL, &s->tc, qd) != 0) s->tc_failed = 1;
            }
            /* a type that cannot be looked up stays text (a string _id) */
            if (s->tc && resolve(s->tc, oid, t, 0, qd) != 0)
                *t = (tinfo){oid, CV_STRING, CV_STRING, ',', oid, -1};
            diag_free(qd);
        }
    }
    src_scan *cv = &s->conv;
    cv->types = rel->ti;
    cv->row = s->old_scan;
    cv->off = s->off;
    cv->ncols = rel->ncols;
    buf_reset(&cv->rowbuf);
    for (int i = 0; i < rel->ncols; i++) {
        s->off[i] = SIZE_MAX;
        if (s->old[i].kind == SRC_NULL) {
            s->old_scan[i] = s->old[i];
            continue;
        }
        if (convert(cv, i, s->old[i].p, s->old[i].n) != 0) return NULL;
    }
    for (int i = 0; i < rel->ncols; i++)
        if (s->off[i] != SIZE_MAX)
            s->old_scan[i].p = s->old_scan[i].n ? cv->rowbuf.data + s->off[i] : "";
    return s->old_scan;
}

/* Decode one pgoutput message: 1 = a change in *out, 0 = nothing to hand out. */
static int decode(src_stream *s, const unsigned char *p, size_t n, src_change *out, diag *d)
{
    rd r = {p + 1, p + n, 0};
    memset(out, 0, sizeof *out);
    stream_rel *rel = NULL;
    int kind = n ? p[0] : 0, got = 0;
    switch (kind) {
    case 'B': s->in_txn = 1; break;
    case 'C': {
        rd8(&r);
        /* the commit LSN, then the end LSN the next transaction starts after */
        if (r.end - r.p >= 16) {
            uint64_t end = be64(r.p + 8);
            fmt_lsn(s->pos, sizeof s->pos, end);
            out->kind = SRC_CHANGE_COMMIT;
            out->pos = s->pos;
            /* then the commit time: microseconds since 2000-01-01 */
            if (r.end - r.p >= 24)
                out->time = (double)(int64_t)be64(r.p + 16) / 1e6 + 946684800.0;
            got = 1;
        } else {
            r.bad = 1;
        }
        s->in_txn = 0;
        break;
    }
    case 'R': {
        int rr = on_relation(s, &r);
        if (rr == DIAG_ENOMEM) {
            diag_error(d, (src_loc){0}, "postgresql: out of memory");
            return DIAG_ENOMEM;
        }
        if (rr < 0) break;
        rel = find_rel(s, be32(p + 1));
        if (rel) {
            out->kind = SRC_CHANGE_RELATION;
            set_rel(out, rel);
            got = 1;
        }
        break;
    }
    case 'I':
    case 'U':
    case 'D': {
        rel = find_rel(s, rd32(&r));
        if (!rel) {
            diag_error(d, (src_loc){0}, "postgresql: a change of a relation the stream did not describe");
            return DIAG_EIO;
        }
        set_rel(out, rel);
        int k = rd8(&r);
        if (kind != 'I' && (k == 'K' || k == 'O')) {
            rd_tuple(&r, s->old, NULL, rel->ncols);
            out->old = s->old;
            if (!r.bad) out->old_scan = scan_form(s, rel);
            if (kind == 'U') k = rd8(&r);
        }
        if (kind != 'D') {
            if (k != 'N') r.bad = 1;
            rd_tuple(&r, s->row, s->unchanged, rel->ncols);
            out->row = s->row;
            out->unchanged = s->unchanged;
        }
        out->kind = kind == 'I' ? SRC_CHANGE_INSERT : kind == 'U' ? SRC_CHANGE_UPDATE : SRC_CHANGE_DELETE;
        got = 1;
        break;
    }
    case 'T': {
        int nr = (int)rd32(&r);
        rd8(&r);
        if (r.bad || nr < 0 || (size_t)(r.end - r.p) < (size_t)nr * 4) { r.bad = 1; break; }
        uint32_t *t = realloc(s->trunc, (size_t)(nr ? nr : 1) * sizeof *t);
        if (!t) {
            diag_error(d, (src_loc){0}, "postgresql: out of memory");
            return DIAG_ENOMEM;
        }
        s->trunc = t;
        for (int i = 0; i < nr; i++) t[i] = rd32(&r);
        s->ntrunc = nr;
        s->itrunc = 0;
        break;
    }
    default: break; /* Origin, Type, Message: nothing to apply */
    }
    if (r.bad) {
        diag_error(d, (src_loc){0}, "postgresql: a malformed replication message ('%c', %zu bytes)",
                   kind ? kind : '?', n);
        return DIAG_EIO;
    }
    return got;
}

static int pg_stream_next(src_stream *s, int timeout_ms, src_change *out, diag *d)
{
    double deadline = mono_now() + timeout_ms / 1000.0;
    for (;;) {
        if (s->copybuf) {
            PQfreemem(s->copybuf);
            s->copybuf = NULL;
        }
        while (s->itrunc < s->ntrunc) {
            stream_rel *rel = find_rel(s, s->trunc[s->itrunc++]);
            if (!rel) continue;
            memset(out, 0, sizeof *out);
            out->kind = SRC_CHANGE_TRUNCATE;
            set_rel(out, rel);
            return 1;
        }
        if (mono_now() - s->last_status > 10 && send_status(s) < 0)
            return fail(s->c, NULL, d, "replication", NULL);
        char *m = NULL;
        int n = PQgetCopyData(s->c->pg, &m, 1);
        if (n == 0) {
            double left = deadline - mono_now();
            if (left <= 0) return 0;
            struct pollfd pfd = {PQsocket(s->c->pg), POLLIN, 0};
            int wait = (int)(left * 1000) + 1;
            if (wait > 1000) wait = 1000;
            if (poll(&pfd, 1, wait) < 0) continue;
            if (!PQconsumeInput(s->c->pg)) return fail(s->c, NULL, d, "replication", NULL);
            continue;
        }
        if (n < 0) {
            PGresult *r = n == -1 ? PQgetResult(s->c->pg) : NULL;
            int rc = fail(s->c, r && PQresultStatus(r) == PGRES_FATAL_ERROR ? r : NULL, d,
                          "replication ended", NULL);
            PQclear(r);
            return rc == DIAG_EIO && n == -1 ? DIAG_ETRANSIENT : rc;
        }
        s->copybuf = m;
        const unsigned char *u = (const unsigned char *)m;
        if (u[0] == 'k' && n >= 18) {
            uint64_t end = be64(u + 1);
            if (end > s->received) s->received = end;
            if (u[17] && send_status(s) < 0) return fail(s->c, NULL, d, "replication", NULL);
            if (!s->in_txn && end > s->flushed && end > s->idle_sent) {
                s->idle_sent = end;
                memset(out, 0, sizeof *out);
                fmt_lsn(s->pos, sizeof s->pos, end);
                out->kind = SRC_CHANGE_IDLE;
                out->pos = s->pos;
                return 1;
            }
        } else if (u[0] == 'w' && n >= 25) {
            uint64_t end = be64(u + 9);
            if (end > s->received) s->received = end;
            int got = decode(s, u + 25, (size_t)n - 25, out, d);
            if (got != 0) return got;
        }
    }
}

static int pg_stream_ack(src_stream *s, const char *pos, diag *d)
{
    uint64_t v;
    if (parse_lsn(pos, &v) < 0) {
        diag_error(d, (src_loc){0}, "postgresql: '%s' is not a WAL position", pos ? pos : "");
        return DIAG_EINVAL;
    }
    if (v <= s->flushed) return 0;
    s->flushed = v;
    if (s->started && send_status(s) < 0) return fail(s->c, NULL, d, "replication", NULL);
    return 0;
}

static int pg_stream_drop(const src_config *cfg, const src_stream_opts *o, diag *d)
{
    if (!plain_name(o->slot) || !plain_name(o->publication)) {
        diag_error(d, (src_loc){0}, "postgresql: invalid slot or publication name");
        return DIAG_EINVAL;
    }
    src_stream *s = calloc(1, sizeof *s);
    if (!s) return DIAG_ENOMEM;
    int rc = pg_connect(cfg, "database", &s->c, d);
    char *sl = rc ? NULL : lit(s, o->slot);
    buf b = BUF_INIT;
    if (rc == 0) {
        buf_printf(&b, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                       "WHERE slot_name = %s", sl ? sl : "''");
        PGresult *r = repl_exec(s, b.data, PGRES_TUPLES_OK, "cannot drop the slot", d, &rc);
        if (r && PQntuples(r) == 0) rc = DIAG_ENOTFOUND; /* no such slot: nothing said */
        PQclear(r);
    }
    if ((rc == 0 || rc == DIAG_ENOTFOUND) && o->own_publication) {
        int had = rc;
        rc = 0;
        buf_reset(&b);
        buf_printf(&b, "DROP PUBLICATION IF EXISTS %s", o->publication);
        PGresult *r = repl_exec(s, b.data, PGRES_COMMAND_OK, "cannot drop the publication", d, &rc);
        PQclear(r);
        if (rc == 0) rc = had;
    }
    PQfreemem(sl);
    buf_free(&b);
    stream_free(s);
    return rc;
}

/* The driver (registered in sources/registry.c). Scans are server-side cursors
 * in one REPEATABLE READ transaction per connection, opened by the first scan
 * and committed when the last one ends; scans on one connection may
 * interleave. Values are borrowed until the next next()/end_scan(). */
const src_driver src_postgresql_driver = {
    .version = SRC_DRIVER_VERSION,
    .name = "postgresql",
    .caps = SRC_CAP_SCHEMA | SRC_CAP_NETWORK | SRC_CAP_SSL,
    .compat = &pg_compat,
    .quote_ident = pg_quote_ident,
    .placeholder = pg_placeholder,
    .text_match = pg_text_match,
    .open = pg_open,
    .close = pg_close,
    .ping = pg_ping,
    .list_tables = pg_list_tables,
    .describe = pg_describe,
    .begin_scan = pg_begin_scan,
    .scan_columns = pg_scan_columns,
    .next = pg_next,
    .stats = pg_stats,
    .end_scan = pg_end_scan,
    .stream_open = pg_stream_open,
    .stream_start = pg_stream_start,
    .stream_next = pg_stream_next,
    .stream_ack = pg_stream_ack,
    .stream_close = stream_free,
    .stream_drop = pg_stream_drop,
};
