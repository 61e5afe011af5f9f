/* mysql.c - the MySQL/MariaDB source driver (libmariadb).
 *
 * Pipeline stage: sources (rows in). Connects over TCP (or the local socket
 * for host "localhost"), lists and describes tables from information_schema and
 * streams query results through server-side prepared statements in the binary
 * protocol without mysql_stmt_store_result(): rows arrive one at a time, memory
 * stays bounded, parameters are always bound, never pasted into SQL.
 *
 * Values (sources/source.h): integers of every width, signed or UNSIGNED, YEAR
 * and BIT(n) are NUMBER; DECIMAL is NUMBER with every digit; FLOAT/DOUBLE are
 * NUMBER in the shortest text that reads back to the same value, with ".0"
 * added to integral values (3.0) so that a dynamic mapping sees a float;
 * TINYINT(1) stays a NUMBER (MySQL has no boolean type; BOOLEAN is TINYINT(1)
 * and may hold 2 or -1). DATE "2024-01-02", DATETIME "2024-01-02T03:04:05.123456"
 * (no zone; fraction digits as declared), TIMESTAMP the same plus "Z" (the
 * session time zone is UTC); zero or partial-zero dates become NULL with a
 * warning. TIME is a STRING as MySQL prints it ("-838:59:59.000000"). JSON
 * (MySQL's type, MariaDB's json_valid() LONGTEXT) is JSON; SET is a JSON array
 * of strings; ENUM/CHAR/VARCHAR/TEXT are STRING; BINARY/VARBINARY/BLOB (binary
 * charset 63) are BINARY; GEOMETRY is BINARY WKB (the 4-byte SRID prefix of the
 * internal format is dropped).
 *
 * A scan is prepared and executed in one round trip (execute_direct).
 *
 * Connections: a src_conn holds a small pool of server connections so that a
 * scan can be open while the engine describes a table or runs a child query.
 * end_scan() of an unfinished scan closes that server connection instead of
 * draining the rest of the result (which could take minutes); the pool opens a
 * new one when needed; a connection idle for more than 30 s is pinged before
 * reuse and replaced when the server closed it. The session runs with time_zone '+00:00' and long
 * net_write_timeout so that a slow consumer does not get cut off.
 *
 * It does not page with LIMIT/OFFSET, does not cache statements across scans and
 * does not read option files (my.cnf).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <errmsg.h>
#include <mysql.h>
#include <mariadb_rpl.h>
#include <zlib.h>

#include "sources/source.h"

extern const src_driver src_mysql_driver;

#define POOL_MAX 8
#define IDLE_PING_S 30 /* seconds idle after which a pooled connection is checked */
#define DRAIN_ROWS 64 /* rows end_scan reads before it closes the connection instead */
#define ER_CONNECTION_KILLED_ 1927
#define ER_SERVER_SHUTDOWN_ 1053
#define ER_LOCK_WAIT_TIMEOUT_ 1205
#define ER_LOCK_DEADLOCK_ 1213
#define ER_QUERY_INTERRUPTED_ 1317

struct src_conn {
    char *host, *user, *password, *database, *ssl_ca;
    int port, ssl, timeout;
    int snapshot;          /* each server connection reads in a consistent snapshot
                            * (the initial read of sync --follow) */
    MYSQL *pool[POOL_MAX];
    int busy[POOL_MAX];
    time_t used[POOL_MAX]; /* last release: an idle connection is pinged before use */
};

typedef enum {
    K_NULL, K_INT, K_FLOAT, K_DOUBLE, K_DECIMAL, K_DATE, K_DATETIME, K_TIMESTAMP, K_TIME,
    K_BIT, K_STRING, K_BINARY, K_JSON, K_SET, K_GEOMETRY
} col_kind;

typedef struct col_state {
    col_kind kind;
    int is_unsigned;
    int width;            /* K_INT: bytes of the native value */
    unsigned decimals;    /* temporal fraction digits */
    char *var;            /* variable-length buffer (malloc) */
    unsigned long varcap;
    buf set;              /* K_SET: the JSON array */
    union {
        int64_t i;
        double f;
        float f4;
        MYSQL_TIME t;
        char small[96];  /* DECIMAL text, BIT bytes */
    } u;
    char text[64];        /* formatted number or date */
} col_state;

struct src_scan {
    src_conn *c;
    int slot;
    MYSQL *my;
    MYSQL_STMT *st;
    MYSQL_RES *meta;
    int ncols;
    MYSQL_BIND *bind;
    unsigned long *len;
    my_bool *isnull, *err;
    col_state *cs;
    src_value *row;
    src_column *cols;
    arena *a;
    src_scan_stats stats;
    int done;   /* result fully read: the statement can be closed cheaply */
    int dead;   /* the server connection is lost: drop it */
};

/* ---------------------------------------------------------------- helpers */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int is_conn_error(unsigned e)
{
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_SERVER_LOST_EXTENDED ||
           e == ER_CONNECTION_KILLED_ || e == ER_SERVER_SHUTDOWN_ ||
           e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR;
}

/* DIAG_ETRANSIENT for a lost connection, a deadlock or a lock wait timeout. */
static int map_errno(unsigned e)
{
    if (is_conn_error(e) || e == ER_LOCK_DEADLOCK_ || e == ER_LOCK_WAIT_TIMEOUT_ ||
        e == ER_QUERY_INTERRUPTED_)
        return DIAG_ETRANSIENT;
    return DIAG_EIO;
}

static const char *host_name(const src_conn *c) { return c->host ? c->host : "localhost"; }

static MYSQL *connect_one(src_conn *c, int *rc, diag *d)
{
    MYSQL *my = mysql_init(NULL);
    if (!my) {
        diag_error(d, (src_loc){0}, "mysql: out of memory");
        *rc = DIAG_ENOMEM;
        return NULL;
    }
    /* port and connect_timeout are the plan's (schemas/language.yaml);
     * unset (0) leaves them to libmariadb */
    unsigned timeout = (unsigned)(c->timeout > 0 ? c->timeout : 0);
    my_bool on = 1;
    if (timeout) mysql_optionsv(my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_optionsv(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_optionsv(my, MYSQL_REPORT_DATA_TRUNCATION, &on);
    mysql_optionsv(my, MYSQL_INIT_COMMAND,
                   "SET time_zone = '+00:00', net_write_timeout = 3600, net_read_timeout = 3600");
    /* ssl_enabled: TLS required; with ssl_ca also the server's certificate verified */
    src_ca_file ca;
    memset(&ca, 0, sizeof ca);
    if (c->ssl) {
        mysql_optionsv(my, MYSQL_OPT_SSL_ENFORCE, &on);
        if (src_ca_file_open(&ca, c->ssl_ca, "mysql", d) < 0) {
            *rc = DIAG_EINVAL;
            mysql_close(my);
            return NULL;
        }
        if (ca.path[0]) {
            mysql_optionsv(my, MYSQL_OPT_SSL_CA, ca.path);
            mysql_optionsv(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
        }
    }
    unsigned port = (unsigned)(c->port > 0 ? c->port : 0);
    MYSQL *ok = mysql_real_connect(my, c->host, c->user, c->password, c->database, port, NULL, 0);
    src_ca_file_done(&ca); /* read during the handshake */
    if (!ok) {
        diag_error(d, (src_loc){0}, "mysql: cannot connect to %s:%u as %s: %s", host_name(c),
                   port, c->user ? c->user : "(current user)", mysql_error(my));
        *rc = map_errno(mysql_errno(my));
        mysql_close(my);
        return NULL;
    }
    /* the initial read of sync --follow: everything this connection reads is
     * the state of one moment, at or after the binlog position the stream
     * starts from (see stream_open) */
    if (c->snapshot && (mysql_query(my, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ") ||
                        mysql_query(my, "START TRANSACTION WITH CONSISTENT SNAPSHOT"))) {
        diag_error(d, (src_loc){0}, "mysql: cannot start a consistent snapshot on %s: %s",
                   host_name(c), mysql_error(my));
        *rc = map_errno(mysql_errno(my));
        mysql_close(my);
        return NULL;
    }
    return my;
}

/* A free server connection of the pool (opened when needed); its slot in *slot. */
static MYSQL *acquire(src_conn *c, int *slot, int *rc, diag *d)
{
    int empty = -1;
    for (int i = 0; i < POOL_MAX; i++) {
        if (c->busy[i]) continue;
        if (c->pool[i] && time(NULL) - c->used[i] > IDLE_PING_S && mysql_ping(c->pool[i])) {
            /* closed by the server while idle (wait_timeout, restart): replace it */
            mysql_close(c->pool[i]);
            c->pool[i] = NULL;
        }
        if (c->pool[i]) {
            c->busy[i] = 1;
            *slot = i;
            return c->pool[i];
        }
        if (empty < 0) empty = i;
    }
    if (empty < 0) {
        diag_error(d, (src_loc){0}, "mysql: more than %d scans open at once on one connection",
                   POOL_MAX);
        *rc = DIAG_ELIMIT;
        return NULL;
    }
    c->pool[empty] = connect_one(c, rc, d);
    if (!c->pool[empty]) {
        /* a lost server seen while reconnecting is worth a retry */
        return NULL;
    }
    c->busy[empty] = 1;
    c->used[empty] = time(NULL);
    *slot = empty;
    return c->pool[empty];
}

static void release(src_conn *c, int slot, int drop)
{
    if (slot < 0) return;
    if (drop && c->pool[slot]) {
        mysql_close(c->pool[slot]);
        c->pool[slot] = NULL;
    }
    c->busy[slot] = 0;
    c->used[slot] = time(NULL);
}

/* ---------------------------------------------------------------- dialect */

static int quote_ident(buf *out, const char *ident)
{
    int rc = buf_putc(out, '`');
    for (const char *p = ident; *p && rc == 0; p++) {
        if (*p == '`') rc = buf_putc(out, '`');
        if (rc == 0) rc = buf_putc(out, *p);
    }
    if (rc == 0) rc = buf_putc(out, '`');
    return rc;
}

static int placeholder(buf *out, int n)
{
    (void)n;
    return buf_putc(out, '?');
}

/* No text rule is pushed down: MySQL/MariaDB collations are usually
 * case-insensitive and pad-insensitive, the engine compares bytes. */

/* The Elastic MySQL connector's documents: raw column names; the extra
 * fields replace columns of the same name, as its dict update does. */
static const char *const compat_fields[] = {"$table", "Table", NULL};
static const src_compat_docs compat = {
    .id = "{{ $table }}_{{ $pk }}",
    .prefix = NULL,
    .lower = 0,
    .fields = compat_fields,
    .query_keys_sorted = 1,
};

/* ---------------------------------------------------------------- types */

/* The type as a database would spell it (for scan columns). */
static const char *field_sql_type(const MYSQL_FIELD *f, int is_json)
{
    int bin = f->charsetnr == 63, uns = (f->flags & UNSIGNED_FLAG) != 0;
    if (is_json) return "json";
    switch (f->type) {
    case MYSQL_TYPE_TINY: return f->length == 1 ? "tinyint(1)" : uns ? "tinyint unsigned" : "tinyint";
    case MYSQL_TYPE_SHORT: return uns ? "smallint unsigned" : "smallint";
    case MYSQL_TYPE_INT24: return uns ? "mediumint unsigned" : "mediumint";
    case MYSQL_TYPE_LONG: return uns ? "int unsigned" : "int";
    case MYSQL_TYPE_LONGLONG: return uns ? "bigint unsigned" : "bigint";
    case MYSQL_TYPE_FLOAT: return "float";
    case MYSQL_TYPE_DOUBLE: return "double";
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL: return "decimal";
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE: return "date";
    case MYSQL_TYPE_DATETIME: return "datetime";
    case MYSQL_TYPE_TIMESTAMP: return "timestamp";
    case MYSQL_TYPE_TIME: return "time";
    case MYSQL_TYPE_YEAR: return "year";
    case MYSQL_TYPE_BIT: return "bit";
    case MYSQL_TYPE_JSON: return "json";
    case MYSQL_TYPE_GEOMETRY: return "geometry";
    case MYSQL_TYPE_NULL: return "null";
    case MYSQL_TYPE_ENUM: return "enum";
    case MYSQL_TYPE_SET: return "set";
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_VARCHAR:
        if (f->flags & ENUM_FLAG) return "enum";
        if (f->flags & SET_FLAG) return "set";
        return bin ? "varbinary" : "varchar";
    case MYSQL_TYPE_STRING:
        if (f->flags & ENUM_FLAG) return "enum";
        if (f->flags & SET_FLAG) return "set";
        return bin ? "binary" : "char";
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB: return bin ? "blob" : "text";
    default: return "unknown";
    }
}

/* Elasticsearch field type for a MySQL data type (information_schema DATA_TYPE
 * spelling, lower case). DECIMAL(p,0) with p <= 18 is long, other DECIMALs
 * double (a scaled_float needs a scaling factor the mapping must choose);
 * CHAR/ENUM/SET/TIME are keyword, VARCHAR/TEXT text; TINYINT(1) stays byte. */
static const char *es_type_for(const char *dt, int uns, long prec, long scale)
{
    static const struct { const char *dt, *es, *es_uns; } map[] = {
        {"tinyint", "byte", "short"},     {"smallint", "short", "integer"},
        {"mediumint", "integer", "integer"}, {"int", "integer", "long"},
        {"integer", "integer", "long"},   {"bigint", "long", "unsigned_long"},
        {"float", "float", "float"},      {"double", "double", "double"},
        {"real", "double", "double"},     {"year", "short", "short"},
        {"date", "date", "date"},         {"datetime", "date", "date"},
        {"timestamp", "date", "date"},    {"time", "keyword", "keyword"},
        {"char", "keyword", "keyword"},   {"enum", "keyword", "keyword"},
        {"set", "keyword", "keyword"},    {"varchar", "text", "text"},
        {"tinytext", "text", "text"},     {"text", "text", "text"},
        {"mediumtext", "text", "text"},   {"longtext", "text", "text"},
        {"binary", "binary", "binary"},   {"varbinary", "binary", "binary"},
        {"tinyblob", "binary", "binary"}, {"blob", "binary", "binary"},
        {"mediumblob", "binary", "binary"}, {"longblob", "binary", "binary"},
        {"json", "object", "object"},     {"geometry", "binary", "binary"},
        {"point", "binary", "binary"},    {"linestring", "binary", "binary"},
        {"polygon", "binary", "binary"},  {"multipoint", "binary", "binary"},
        {"multilinestring", "binary", "binary"}, {"multipolygon", "binary", "binary"},
        {"geometrycollection", "binary", "binary"}, {"uuid", "keyword", "keyword"},
        {"inet4", "ip", "ip"},            {"inet6", "ip", "ip"},
    };
    if (strcmp(dt, "decimal") == 0 || strcmp(dt, "numeric") == 0)
        return scale == 0 && prec > 0 && prec <= 18 ? "long" : "double";
    if (strcmp(dt, "bit") == 0) {
        if (prec == 1) return "boolean";
        return prec >= 64 ? "unsigned_long" : "long";
    }
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].dt, dt) == 0) return uns ? map[i].es_uns : map[i].es;
    return "keyword";
}

/* ---------------------------------------------------------------- formatting */

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

/* ".123456" truncated to `decimals` digits (0 = none; > 6 means unknown:
 * six digits when there is a fraction). */
static size_t fmt_frac(char *p, unsigned long us, unsigned decimals)
{
    if (decimals > 6) decimals = us ? 6 : 0;
    if (!decimals) return 0;
    char d6[6];
    for (int i = 5; i >= 0; i--) {
        d6[i] = (char)('0' + us % 10);
        us /= 10;
    }
    p[0] = '.';
    memcpy(p + 1, d6, decimals);
    return decimals + 1;
}

static size_t fmt_date(char *p, const MYSQL_TIME *t)
{
    put2(p, t->year / 100);
    put2(p + 2, t->year % 100);
    p[4] = '-';
    put2(p + 5, t->month);
    p[7] = '-';
    put2(p + 8, t->day);
    return 10;
}

static size_t fmt_clock(char *p, unsigned h, const MYSQL_TIME *t)
{
    size_t n = 0;
    if (h >= 100) {
        char tmp[16];
        size_t k = json_fmt_u64(tmp, h);
        memcpy(p, tmp, k);
        n = k;
    } else {
        put2(p, h);
        n = 2;
    }
    p[n] = ':';
    put2(p + n + 1, t->minute);
    p[n + 3] = ':';
    put2(p + n + 4, t->second);
    return n + 6;
}

/* ---------------------------------------------------------------- scans */

static int is_json_field(const MYSQL_FIELD *f)
{
    if (f->type == MYSQL_TYPE_JSON) return 1;
    MARIADB_CONST_STRING attr = {0};
    if (mariadb_field_attr(&attr, f, MARIADB_FIELD_ATTR_FORMAT_NAME) == 0 && attr.length == 4 &&
        memcmp(attr.str, "json", 4) == 0)
        return 1;
    return 0;
}

static int stmt_fail(src_scan *s, const char *what, diag *d)
{
    unsigned e = mysql_stmt_errno(s->st);
    const char *msg = mysql_stmt_error(s->st);
    if (e == 0 && s->my) { /* some network errors are only set on the connection */
        e = mysql_errno(s->my);
        msg = mysql_error(s->my);
    }
    if (e == 0) { /* no error recorded at all: the stream broke */
        e = CR_SERVER_LOST;
        msg = "lost connection to server during query";
    }
    int rc = map_errno(e);
    if (is_conn_error(e)) s->dead = 1;
    diag_error(d, (src_loc){0}, "mysql: %s: %s (error %u)", what, msg, e);
    return rc;
}

static void setup_column(src_scan *s, int i, const MYSQL_FIELD *f)
{
    col_state *cs = &s->cs[i];
    MYSQL_BIND *b = &s->bind[i];
    int json = is_json_field(f);
    b->length = &s->len[i];
    b->is_null = &s->isnull[i];
    b->error = &s->err[i];
    cs->is_unsigned = (f->flags & UNSIGNED_FLAG) != 0;
    b->is_unsigned = (my_bool)cs->is_unsigned;
    cs->decimals = f->decimals;
    int var = 0;
    switch (f->type) {
    case MYSQL_TYPE_NULL: cs->kind = K_NULL; b->buffer_type = MYSQL_TYPE_NULL; break;
    case MYSQL_TYPE_TINY: cs->kind = K_INT; cs->width = 1; break;
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_YEAR: cs->kind = K_INT; cs->width = 2; break;
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG: cs->kind = K_INT; cs->width = 4; break;
    case MYSQL_TYPE_LONGLONG: cs->kind = K_INT; cs->width = 8; break;
    case MYSQL_TYPE_FLOAT:
        cs->kind = K_FLOAT;
        b->buffer_type = MYSQL_TYPE_FLOAT;
        b->buffer = &cs->u.f4;
        break;
    case MYSQL_TYPE_DOUBLE:
        cs->kind = K_DOUBLE;
        b->buffer_type = MYSQL_TYPE_DOUBLE;
        b->buffer = &cs->u.f;
        break;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        cs->kind = K_DECIMAL;
        var = 1;
        break;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE: cs->kind = K_DATE; break;
    case MYSQL_TYPE_DATETIME: cs->kind = K_DATETIME; break;
    case MYSQL_TYPE_TIMESTAMP: cs->kind = K_TIMESTAMP; break;
    case MYSQL_TYPE_TIME: cs->kind = K_TIME; break;
    case MYSQL_TYPE_BIT: cs->kind = K_BIT; var = 1; break;
    case MYSQL_TYPE_GEOMETRY: cs->kind = K_GEOMETRY; var = 1; break;
    default:
        var = 1;
        if (json) cs->kind = K_JSON;
        else if (f->flags & SET_FLAG) cs->kind = K_SET;
        else if (f->flags & ENUM_FLAG) cs->kind = K_STRING;
        else cs->kind = f->charsetnr == 63 ? K_BINARY : K_STRING;
        break;
    }
    if (cs->kind == K_INT) {
        static const enum enum_field_types t[9] = {
            [1] = MYSQL_TYPE_TINY, [2] = MYSQL_TYPE_SHORT, [4] = MYSQL_TYPE_LONG,
            [8] = MYSQL_TYPE_LONGLONG};
        b->buffer_type = t[cs->width];
        b->buffer = &cs->u.i;
    } else if (cs->kind >= K_DATE && cs->kind <= K_TIME) {
        b->buffer_type = f->type == MYSQL_TYPE_NEWDATE ? MYSQL_TYPE_DATE : f->type;
        b->buffer = &cs->u.t;
        b->buffer_length = sizeof cs->u.t;
    } else if (var) {
        unsigned long want = f->length < 16 ? 16 : f->length > 4096 ? 4096 : f->length;
        if (cs->kind == K_DECIMAL || cs->kind == K_BIT) {
            b->buffer = cs->u.small;
            b->buffer_length = sizeof cs->u.small;
        } else {
            cs->var = malloc(want + 1);
            cs->varcap = cs->var ? want : 0;
            b->buffer = cs->var;
            b->buffer_length = cs->varcap;
        }
        b->buffer_type = MYSQL_TYPE_BLOB;
        if (cs->kind == K_SET) buf_init(&cs->set, 0);
    }

    src_column *col = &s->cols[i];
    col->name = arena_strndup(s->a, f->name, f->name_length);
    col->sql_type = field_sql_type(f, json);
    long prec = (long)f->length;
    long scale = (long)f->decimals;
    if (cs->kind == K_DECIMAL) { /* length counts sign and point */
        prec = (long)f->length - (scale > 0 ? 1 : 0) - (cs->is_unsigned ? 0 : 1);
    }
    const char *dt = col->sql_type;
    char base[32];
    size_t k = strcspn(dt, " (");
    if (k >= sizeof base) k = sizeof base - 1;
    memcpy(base, dt, k);
    base[k] = 0;
    if (strcmp(dt, "tinyint(1)") == 0) {
        col->es_type = "byte";
    } else {
        col->es_type = es_type_for(base, cs->is_unsigned, prec, scale);
    }
    col->nullable = !(f->flags & NOT_NULL_FLAG);
}

static void end_scan_impl(src_scan *s)
{
    if (!s) return;
    /* a short rest (typically the end marker of a one-row result) is read so
     * that the server connection can be reused; a long one is abandoned */
    for (int i = 0; !s->done && !s->dead && s->st && i < DRAIN_ROWS; i++) {
        int r = mysql_stmt_fetch(s->st);
        if (r == MYSQL_NO_DATA) s->done = 1;
        else if (r == 1) s->dead = 1;
    }
    int drop = s->dead || !s->done;
    if (s->meta) mysql_free_result(s->meta);
    if (drop && s->my) {
        /* closing the server connection first makes mysql_stmt_close() free the
         * statement without reading the rest of an unfinished result */
        release(s->c, s->slot, 1);
        s->my = NULL;
        s->slot = -1;
    }
    if (s->st) mysql_stmt_close(s->st);
    if (s->slot >= 0) release(s->c, s->slot, 0);
    for (int i = 0; i < s->ncols; i++) {
        free(s->cs[i].var);
        if (s->cs[i].kind == K_SET) buf_free(&s->cs[i].set);
    }
    arena_free(s->a);
}

static int begin_scan(src_conn *c, const src_query *q, src_scan **out, diag *d)
{
    *out = NULL;
    arena *a = arena_new();
    if (!a) return DIAG_ENOMEM;
    src_scan *s = arena_alloc(a, sizeof *s);
    s->a = a;
    s->c = c;
    s->slot = -1;
    s->done = 1; /* nothing to drain yet */
    int rc = 0;
    s->my = acquire(c, &s->slot, &rc, d);
    if (!s->my) goto fail;
    s->st = mysql_stmt_init(s->my);
    if (!s->st) {
        rc = map_errno(mysql_errno(s->my));
        if (is_conn_error(mysql_errno(s->my))) s->dead = 1;
        diag_error(d, (src_loc){0}, "mysql: %s", mysql_error(s->my));
        goto fail;
    }
    /* prepare and execute in one round trip (MariaDB 10.2+; libmariadb
     * prepares and executes in turn for other servers): the parameters are
     * bound first, their count announced */
    unsigned np = q->nparams > 0 ? (unsigned)q->nparams : 0;
    if (np) {
        MYSQL_BIND *pb = arena_alloc(a, np * sizeof *pb);
        unsigned long *pl = arena_alloc(a, np * sizeof *pl);
        my_bool *pn = arena_alloc(a, np * sizeof *pn);
        for (unsigned i = 0; i < np; i++) {
            const char *v = q->params[i];
            pb[i].buffer_type = MYSQL_TYPE_STRING;
            pn[i] = v == NULL;
            pl[i] = v ? (unsigned long)strlen(v) : 0;
            pb[i].buffer = (void *)(uintptr_t)v;
            pb[i].buffer_length = pl[i];
            pb[i].length = &pl[i];
            pb[i].is_null = &pn[i];
        }
        if (mysql_stmt_attr_set(s->st, STMT_ATTR_PREBIND_PARAMS, &np) ||
            mysql_stmt_bind_param(s->st, pb)) {
            rc = stmt_fail(s, "bind parameters", d);
            goto fail;
        }
    }
    int failed = mariadb_stmt_execute_direct(s->st, q->sql, strlen(q->sql)) != 0;
    if (failed && (mysql_stmt_param_count(s->st) == np || is_conn_error(mysql_stmt_errno(s->st)))) {
        rc = stmt_fail(s, "query", d);
        goto fail;
    }
    if (mysql_stmt_param_count(s->st) != np) {
        diag_error(d, (src_loc){0}, "mysql: the query has %lu parameter markers, %u values given",
                   mysql_stmt_param_count(s->st), np);
        rc = DIAG_EINVAL;
        goto fail;
    }
    s->meta = mysql_stmt_result_metadata(s->st);
    if (!s->meta) {
        diag_error(d, (src_loc){0}, "mysql: the statement returned no result set");
        rc = DIAG_EINVAL;
        goto fail;
    }
    s->done = 0;
    s->ncols = (int)mysql_num_fields(s->meta);
    const MYSQL_FIELD *fields = mysql_fetch_fields(s->meta);
    size_t n = (size_t)s->ncols ? (size_t)s->ncols : 1;
    s->bind = arena_alloc(a, n * sizeof *s->bind);
    s->len = arena_alloc(a, n * sizeof *s->len);
    s->isnull = arena_alloc(a, n * sizeof *s->isnull);
    s->err = arena_alloc(a, n * sizeof *s->err);
    s->cs = arena_alloc(a, n * sizeof *s->cs);
    s->row = arena_alloc(a, n * sizeof *s->row);
    s->cols = arena_alloc(a, n * sizeof *s->cols);
    for (int i = 0; i < s->ncols; i++) {
        setup_column(s, i, &fields[i]);
        if (s->cs[i].kind >= K_STRING && !s->cs[i].var) {
            rc = DIAG_ENOMEM;
            diag_error(d, (src_loc){0}, "mysql: out of memory");
            goto fail;
        }
    }
    if (mysql_stmt_bind_result(s->st, s->bind)) {
        rc = stmt_fail(s, "bind result", d);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    end_scan_impl(s);
    return rc ? rc : DIAG_EIO;
}

static int scan_columns(src_scan *s, const src_column **cols, int *n)
{
    *cols = s->cols;
    *n = s->ncols;
    return 0;
}

/* Fetch a value longer than its buffer: grow the buffer, fetch the column again. */
static int refetch(src_scan *s, int i, diag *d)
{
    col_state *cs = &s->cs[i];
    unsigned long need = s->len[i];
    unsigned long cap = cs->varcap ? cs->varcap : 16;
    while (cap < need) cap = cap > (1UL << 30) ? need : cap * 2;
    char *nv = realloc(cs->var, cap + 1);
    if (!nv) {
        diag_error(d, (src_loc){0}, "mysql: out of memory for a %lu-byte value", need);
        return DIAG_ENOMEM;
    }
    cs->var = nv;
    cs->varcap = cap;
    s->bind[i].buffer = nv;
    s->bind[i].buffer_length = cap;
    if (mysql_stmt_fetch_column(s->st, &s->bind[i], (unsigned)i, 0))
        return stmt_fail(s, "fetch a long value", d);
    return 0;
}

static void set_json_array(col_state *cs, src_value *v, const char *p, unsigned long n)
{
    buf_reset(&cs->set);
    buf_putc(&cs->set, '[');
    unsigned long i = 0, start = 0;
    if (n) {
        for (;; i++) {
            if (i == n || p[i] == ',') {
                if (start) buf_putc(&cs->set, ',');
                buf_json_str(&cs->set, p + start, i - start, NULL);
                start = i + 1;
                if (i == n) break;
            }
        }
    }
    buf_putc(&cs->set, ']');
    v->kind = SRC_JSON;
    v->p = cs->set.data;
    v->n = cs->set.len;
}

static int convert(src_scan *s, int i, src_value *v)
{
    col_state *cs = &s->cs[i];
    const MYSQL_TIME *t = &cs->u.t;
    unsigned long n = s->len[i];
    v->kind = SRC_NUMBER;
    v->p = cs->text;
    switch (cs->kind) {
    case K_NULL:
        v->kind = SRC_NULL;
        v->p = NULL;
        v->n = 0;
        break;
    case K_INT: {
        int64_t x;
        uint64_t u = 0;
        const void *p = &cs->u.i;
        switch (cs->width) {
        case 1: x = cs->is_unsigned ? *(const uint8_t *)p : *(const int8_t *)p; break;
        case 2: x = cs->is_unsigned ? *(const uint16_t *)p : *(const int16_t *)p; break;
        case 4: x = cs->is_unsigned ? (int64_t)*(const uint32_t *)p : *(const int32_t *)p; break;
        default:
            x = *(const int64_t *)p;
            if (cs->is_unsigned) u = *(const uint64_t *)p;
            break;
        }
        v->n = cs->width == 8 && cs->is_unsigned ? json_fmt_u64(cs->text, u) : json_fmt_i64(cs->text, x);
        break;
    }
    case K_FLOAT:
    case K_DOUBLE: {
        double x = cs->kind == K_FLOAT ? (double)cs->u.f4 : cs->u.f;
        if (x != x || x - x != 0) { /* NaN or infinity */
            v->kind = SRC_NULL;
            v->p = NULL;
            v->n = 0;
            s->stats.warnings++;
            break;
        }
        v->n = json_fmt_double(cs->text, x, cs->kind == K_FLOAT);
        break;
    }
    case K_DECIMAL:
        v->p = cs->u.small;
        v->n = n < sizeof cs->u.small ? n : sizeof cs->u.small;
        break;
    case K_BIT: {
        uint64_t x = 0;
        for (unsigned long k = 0; k < n && k < 8; k++) x = x << 8 | (unsigned char)cs->u.small[k];
        v->n = json_fmt_u64(cs->text, x);
        break;
    }
    case K_DATE:
    case K_DATETIME:
    case K_TIMESTAMP: {
        if (t->month == 0 || t->day == 0) { /* zero date (or a partial one) */
            v->kind = SRC_NULL;
            v->p = NULL;
            v->n = 0;
            s->stats.warnings++;
            break;
        }
        char *p = cs->text;
        size_t k = fmt_date(p, t);
        if (cs->kind != K_DATE) {
            p[k++] = 'T';
            k += fmt_clock(p + k, t->hour, t);
            k += fmt_frac(p + k, t->second_part, cs->decimals);
            if (cs->kind == K_TIMESTAMP) p[k++] = 'Z';
        }
        p[k] = 0;
        v->kind = SRC_STRING;
        v->n = k;
        break;
    }
    case K_TIME: {
        char *p = cs->text;
        size_t k = 0;
        if (t->neg) p[k++] = '-';
        k += fmt_clock(p + k, t->day * 24 + t->hour, t);
        k += fmt_frac(p + k, t->second_part, cs->decimals);
        p[k] = 0;
        v->kind = SRC_STRING;
        v->n = k;
        break;
    }
    case K_SET: set_json_array(cs, v, cs->var, n); break;
    case K_GEOMETRY:
        v->kind = SRC_BINARY;
        v->p = n >= 4 ? cs->var + 4 : cs->var;
        v->n = n >= 4 ? n - 4 : n;
        break;
    default:
        v->kind = cs->kind == K_BINARY ? SRC_BINARY : cs->kind == K_JSON ? SRC_JSON : SRC_STRING;
        v->p = cs->var;
        v->n = n;
        break;
    }
    return 0;
}

static int next_row(src_scan *s, const src_value **row, diag *d)
{
    if (s->done) return 0;
    if (s->dead) {
        diag_error(d, (src_loc){0}, "mysql: the connection of this scan was lost");
        return DIAG_ETRANSIENT;
    }
    int r = mysql_stmt_fetch(s->st);
    if (r == MYSQL_NO_DATA) {
        s->done = 1;
        return 0;
    }
    if (r == 1) return stmt_fail(s, "reading rows", d);
    if (r == MYSQL_DATA_TRUNCATED) {
        /* values longer than their buffers: grow, fetch them again, then rebind
         * once (rebinding resets the row pointers of the other columns) */
        for (int i = 0; i < s->ncols; i++) {
            if (s->isnull[i] || !s->cs[i].var || s->len[i] <= s->cs[i].varcap) continue;
            int rc = refetch(s, i, d);
            if (rc) return rc;
        }
        if (mysql_stmt_bind_result(s->st, s->bind)) return stmt_fail(s, "bind result", d);
    }
    for (int i = 0; i < s->ncols; i++) {
        src_value *v = &s->row[i];
        if (s->isnull[i]) {
            v->kind = SRC_NULL;
            v->p = NULL;
            v->n = 0;
            continue;
        }
        uint64_t w = s->stats.warnings;
        convert(s, i, v);
        if (s->stats.warnings != w) s->stats.warn_column = i + 1;
        s->stats.bytes += s->len[i];
    }
    s->stats.rows++;
    *row = s->row;
    return 1;
}

static const src_scan_stats *scan_stats(src_scan *s) { return &s->stats; }

static void end_scan(src_scan *s) { end_scan_impl(s); }

/* ---------------------------------------------------------------- connection */

static void close_conn(src_conn *c)
{
    if (!c) return;
    for (int i = 0; i < POOL_MAX; i++)
        if (c->pool[i]) mysql_close(c->pool[i]);
    free(c->host);
    free(c->user);
    if (c->password) {
        volatile char *p = c->password;
        while (*p) *p++ = 0;
    }
    free(c->password);
    free(c->database);
    free(c->ssl_ca);
    free(c);
}

/* The initial read's first connection, in the snapshot the stream starts
 * after: open() hands it to the first caller naming that snapshot. */
static struct {
    char token[300];
    src_conn *c;
} handoff;

static int take_handoff(const char *token, src_conn **out)
{
    if (!handoff.c || strcmp(handoff.token, token)) return 0;
    *out = handoff.c;
    handoff.c = NULL;
    return 1;
}

static int open_conn(const src_config *cfg, src_conn **out, diag *d)
{
    *out = NULL;
    if (cfg->snapshot && take_handoff(cfg->snapshot, out)) return 0;
    src_conn *c = calloc(1, sizeof *c);
    if (!c) return DIAG_ENOMEM;
    c->host = dup_or_null(cfg->host);
    c->user = dup_or_null(cfg->username);
    c->password = dup_or_null(cfg->password);
    c->database = dup_or_null(cfg->database);
    c->ssl_ca = dup_or_null(cfg->ssl_ca);
    c->port = cfg->port;
    c->ssl = cfg->ssl_enabled;
    c->timeout = cfg->connect_timeout;
    c->snapshot = cfg->snapshot != NULL;
    if ((cfg->host && !c->host) || (cfg->username && !c->user) ||
        (cfg->password && !c->password) || (cfg->database && !c->database) ||
        (cfg->ssl_ca && !c->ssl_ca)) {
        close_conn(c);
        return DIAG_ENOMEM;
    }
    int rc = 0;
    c->pool[0] = connect_one(c, &rc, d);
    c->used[0] = time(NULL);
    if (!c->pool[0]) {
        close_conn(c);
        return rc == DIAG_ENOMEM ? rc : DIAG_EIO;
    }
    *out = c;
    return 0;
}

static int ping_conn(src_conn *c, diag *d)
{
    int slot = -1, rc = 0;
    MYSQL *my = acquire(c, &slot, &rc, d);
    if (!my) return rc == DIAG_EIO ? DIAG_ETRANSIENT : rc;
    if (mysql_ping(my)) {
        unsigned e = mysql_errno(my);
        diag_error(d, (src_loc){0}, "mysql: ping %s: %s (error %u)", host_name(c), mysql_error(my),
                   e);
        release(c, slot, 1);
        return DIAG_ETRANSIENT;
    }
    release(c, slot, 0);
    return 0;
}


static int list_tables(src_conn *c, const char *schema, arena *a, const char ***names,
                             int *n, diag *d)
{
    const char *params[1] = {schema ? schema : c->database};
    src_name_list l = {a, NULL, 0, 0};
    int rc = src_query_each(&src_mysql_driver, c,
                        "SELECT TABLE_NAME FROM information_schema.TABLES"
                        " WHERE TABLE_SCHEMA = COALESCE(?, DATABASE())"
                        " AND TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED')",
                        params, 1, src_name_list_add, &l, d);
    if (rc) return rc;
    src_name_list_sort(&l);
    *names = l.names;
    *n = l.n;
    return 0;
}

typedef struct desc_ctx {
    arena *a;
    src_table *t;
    int found, cap;
    const char *table;
} desc_ctx;

static int on_table(void *ctx, const src_value *row)
{
    desc_ctx *x = ctx;
    x->found = 1;
    x->t->is_view = row[0].n == 4 && memcmp(row[0].p, "VIEW", 4) == 0;
    x->t->row_estimate = -1;
    if (row[1].kind == SRC_NUMBER) {
        char tmp[32];
        size_t k = row[1].n < sizeof tmp - 1 ? row[1].n : sizeof tmp - 1;
        memcpy(tmp, row[1].p, k);
        tmp[k] = 0;
        x->t->row_estimate = strtoll(tmp, NULL, 10);
    }
    return 0;
}

static long num_or(const src_value *v, long dflt)
{
    if (v->kind != SRC_NUMBER) return dflt;
    char tmp[32];
    size_t k = v->n < sizeof tmp - 1 ? v->n : sizeof tmp - 1;
    memcpy(tmp, v->p, k);
    tmp[k] = 0;
    return strtol(tmp, NULL, 10);
}

static int on_column(void *ctx, const src_value *row)
{
    desc_ctx *x = ctx;
    src_table *t = x->t;
    if (t->ncols == x->cap) {
        int ncap = x->cap ? x->cap * 2 : 16;
        t->cols = arena_realloc(x->a, t->cols, (size_t)x->cap * sizeof *t->cols,
                                (size_t)ncap * sizeof *t->cols);
        x->cap = ncap;
    }
    src_column *col = &t->cols[t->ncols++];
    col->name = src_value_dup(x->a, &row[0]);
    col->sql_type = src_value_dup(x->a, &row[1]);
    const char *dt = src_value_dup(x->a, &row[2]);
    col->nullable = row[3].n == 3 && memcmp(row[3].p, "YES", 3) == 0;
    long prec = num_or(&row[4], 0), scale = num_or(&row[5], 0);
    const char *ct = col->sql_type ? col->sql_type : "";
    if (strncmp(ct, "tinyint(1)", 10) == 0 && !strstr(ct, "unsigned"))
        col->es_type = "byte";
    else
        col->es_type = es_type_for(dt ? dt : "", strstr(ct, "unsigned") != NULL, prec, scale);
    return 0;
}

static int on_pk(void *ctx, const src_value *row)
{
    desc_ctx *x = ctx;
    src_table *t = x->t;
    for (int i = 0; i < t->ncols; i++) {
        if (strlen(t->cols[i].name) == row[0].n && memcmp(t->cols[i].name, row[0].p, row[0].n) == 0) {
            t->pk[t->npk++] = i;
            t->cols[i].pk_pos = t->npk;
            break;
        }
    }
    return 0;
}

/* MariaDB stores JSON as LONGTEXT with CHECK (json_valid(`col`)). */
static int on_check(void *ctx, const src_value *row)
{
    desc_ctx *x = ctx;
    src_table *t = x->t;
    if (row[0].kind == SRC_NULL) return 0;
    for (int i = 0; i < t->ncols; i++) {
        buf want = BUF_INIT;
        buf_puts(&want, "json_valid(");
        quote_ident(&want, t->cols[i].name);
        buf_putc(&want, ')');
        if (!want.failed && want.len == row[0].n && memcmp(want.data, row[0].p, want.len) == 0) {
            t->cols[i].sql_type = "json";
            t->cols[i].es_type = "object";
        }
        buf_free(&want);
    }
    return 0;
}

static int describe(src_conn *c, const char *schema, const char *table, arena *a,
                          src_table *out, diag *d)
{
    memset(out, 0, sizeof *out);
    const char *db = schema ? schema : c->database;
    const char *params[2] = {db, table};
    desc_ctx x = {a, out, 0, 0, table};
    out->name = arena_strdup(a, table);
    out->schema = NULL;
    out->row_estimate = -1;
    int rc = src_query_each(&src_mysql_driver, c,
                        "SELECT TABLE_TYPE, TABLE_ROWS FROM information_schema.TABLES"
                        " WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
                        params, 2, on_table, &x, d);
    if (rc) return rc;
    if (!x.found) {
        diag_error(d, (src_loc){0}, "mysql: table '%s' not found in database '%s'", table,
                   db ? db : "(default)");
        return DIAG_ENOTFOUND;
    }
    rc = src_query_each(&src_mysql_driver, c,
                    "SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, NUMERIC_PRECISION,"
                    " NUMERIC_SCALE FROM information_schema.COLUMNS"
                    " WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?"
                    " ORDER BY ORDINAL_POSITION",
                    params, 2, on_column, &x, d);
    if (rc) return rc;
    out->pk = arena_alloc(a, (size_t)(out->ncols ? out->ncols : 1) * sizeof *out->pk);
    rc = src_query_each(&src_mysql_driver, c,
                    "SELECT COLUMN_NAME FROM information_schema.STATISTICS"
                    " WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?"
                    " AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
                    params, 2, on_pk, &x, d);
    if (rc) return rc;
    /* best effort: MySQL has a real JSON type and no TABLE_NAME in this view */
    diag *quiet = diag_new();
    if (quiet) {
        src_query_each(&src_mysql_driver, c,
                   "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
                   " WHERE CONSTRAINT_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
                   params, 2, on_check, &x, quiet);
        diag_free(quiet);
    }
    return 0;
}

/* ---------------------------------------------------------------- binlog
 *
 * sync --follow reads the server's row-based binary log through Connector/C's
 * replication API (mariadb_rpl.h: COM_BINLOG_DUMP), as a replica would. A
 * position is "file:offset" of the end of a transaction ("binlog.000003:1234").
 *
 * stream_open checks log_bin, binlog_format=ROW and binlog_row_image (a
 * warning when not FULL), describes the followed tables and, for a new start
 * (o->fresh), opens a connection in a consistent snapshot whose binlog
 * position (MariaDB's binlog_snapshot_file/_position) is where the stream
 * starts: that connection is handed to the first open() naming the snapshot
 * (the initial read), so the initial read and the stream meet without a gap.
 * Further connections of the initial read take their own snapshot, later:
 * the changes in between come again from the stream, whose rows the follow
 * loop re-reads by key (harmless). MySQL has no binlog_snapshot_* status:
 * the position read just before the snapshot is used (same reasoning).
 *
 * stream_next decodes TABLE_MAP and WRITE/UPDATE/DELETE_ROWS events (v1, v2
 * and MariaDB's compressed v1) into the same values a scan of the row yields;
 * XID, COMMIT and standalone statements (DDL) end a transaction. A statement
 * naming a followed table: TRUNCATE becomes SRC_CHANGE_TRUNCATE, an ALTER a
 * SRC_CHANGE_RELATION with the columns described anew; a TABLE_MAP whose
 * column count differs from the table's description (a position from before
 * an ALTER) becomes a TRUNCATE too: the table is read in full. The server
 * sends a heartbeat every 0.1 s when idle: stream_next returns 0 then (or an
 * IDLE change outside a transaction). There is no server-side slot: the
 * position lives in the follow state file; stream_ack has nothing to do and
 * stream_drop nothing to drop. */

#define RPL_HEARTBEAT_NS "100000000" /* an idle stream hears from the server every 0.1 s */
#define RPL_READ_TIMEOUT_S 30u       /* no heartbeat for that long: the connection is lost */
#define ER_MASTER_FATAL_READING_BINLOG_ 1236
#define ER_SPECIFIC_ACCESS_DENIED_ 1227
#define ER_ACCESS_DENIED_ 1045

typedef struct rpl_table {
    char *name;
    arena *a;                 /* the description (replaced after a DDL) */
    src_table t;
    const char **names;
    unsigned char *sem;       /* per column: S_* */
    const char ***labels;     /* ENUM and SET members */
    int *nlabels;
    int stale;                /* column count of table maps not decodable with the
                               * description, for which a full read was asked: the
                               * read covers their later rows too (0: none) */
} rpl_table;

enum { S_TEXT, S_BINARY, S_JSON, S_UNSIGNED, S_ENUM, S_SET, S_GEOMETRY, S_SKIP };

typedef struct rpl_map {
    uint64_t id;
    rpl_table *t;             /* NULL: a table not followed */
    int ncols;
    unsigned char *types;
    unsigned char (*meta)[2];
    int bad;                  /* not decodable with the description: read in full */
} rpl_map;

typedef struct rpl_q {
    src_change_kind kind;
    rpl_table *t;
    char pos[300];
} rpl_q;

struct src_stream {
    src_conn *conn;           /* queries: settings, descriptions, positions */
    src_conn *snap;           /* a fresh start: the snapshot's connection (handed off) */
    MYSQL *my;                /* the replication connection */
    MARIADB_RPL *rpl;
    MARIADB_RPL_EVENT *ev;
    src_config cfg;
    rpl_table *tables;
    int ntables;
    rpl_map *maps;
    int nmaps;
    char file[256];
    unsigned long long pos;   /* end of the last event read */
    char start[300];          /* a fresh start: the snapshot's position */
    uint32_t server_id;
    int crc;                  /* events end with a CRC32 (binlog_checksum) */
    int in_trx;
    rpl_q *q;
    int nq, qhead, qcap;
    /* the rows event being walked */
    int walking, rows_type;
    rpl_map *rmap;
    const unsigned char *rp, *rend, *bm1, *bm2;
    arena *ca;                /* one change's values */
    src_value *row, *old;
    unsigned char *absent;
    int rowcap;
};


static int lenenc(const unsigned char **pp, const unsigned char *end, uint64_t *out)
{
    const unsigned char *p = *pp;
    if (p >= end) return -1;
    unsigned n = *p < 251 ? 0 : *p == 252 ? 2 : *p == 253 ? 3 : *p == 254 ? 8 : 99;
    if (n == 99 || p + 1 + n > end) return -1;
    uint64_t v = n ? 0 : *p;
    for (unsigned i = 0; i < n; i++) v |= (uint64_t)p[1 + i] << (8 * i);
    *pp = p + 1 + n;
    *out = v;
    return 0;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Run sql on the stream's query connection, each row to fn (text values). */
static int rpl_query(src_stream *s, const char *sql, int (*fn)(void *, const src_value *),
                     void *ctx, diag *d)
{
    return src_query_each(&src_mysql_driver, s->conn, sql, NULL, 0, fn, ctx, d);
}

/* A plain statement on a server connection (no result). */
static int plain(MYSQL *my, const char *sql, diag *d)
{
    if (mysql_query(my, sql) == 0) {
        MYSQL_RES *r = mysql_store_result(my);
        if (r) mysql_free_result(r);
        return 0;
    }
    diag_error(d, (src_loc){0}, "mysql: %s: %s (error %u)", sql, mysql_error(my), mysql_errno(my));
    return map_errno(mysql_errno(my));
}

/* The first two columns of the rows of a SHOW statement on my: name=value
 * pairs into fn. */
static int show_rows(MYSQL *my, const char *sql, void (*fn)(void *, char **, int), void *ctx)
{
    if (mysql_query(my, sql)) return -1;
    MYSQL_RES *r = mysql_store_result(my);
    if (!r) return -1;
    MYSQL_ROW row;
    int nf = (int)mysql_num_fields(r);
    while ((row = mysql_fetch_row(r))) fn(ctx, row, nf);
    mysql_free_result(r);
    return 0;
}

typedef struct posbuf {
    char file[256];
    unsigned long long pos;
    int have_file, have_pos;
} posbuf;

static void on_master_status(void *ctx, char **row, int nf)
{
    posbuf *p = ctx;
    if (nf >= 2 && row[0] && row[1]) {
        snprintf(p->file, sizeof p->file, "%s", row[0]);
        p->pos = strtoull(row[1], NULL, 10);
        p->have_file = p->have_pos = 1;
    }
}

static void on_snapshot_status(void *ctx, char **row, int nf)
{
    posbuf *p = ctx;
    if (nf < 2 || !row[0] || !row[1]) return;
    if (!strcasecmp(row[0], "binlog_snapshot_file") && row[1][0]) {
        snprintf(p->file, sizeof p->file, "%s", row[1]);
        p->have_file = 1;
    } else if (!strcasecmp(row[0], "binlog_snapshot_position")) {
        p->pos = strtoull(row[1], NULL, 10);
        p->have_pos = 1;
    }
}

/* The binlog's current end (SHOW MASTER STATUS; SHOW BINARY LOG STATUS on
 * MySQL 8.4). */
static int master_position(MYSQL *my, posbuf *p, diag *d)
{
    memset(p, 0, sizeof *p);
    if (show_rows(my, "SHOW MASTER STATUS", on_master_status, p) != 0)
        show_rows(my, "SHOW BINARY LOG STATUS", on_master_status, p);
    if (p->have_file) return 0;
    diag_error(d, (src_loc){0},
               "mysql: cannot read the binlog position (SHOW MASTER STATUS%s%s): the user needs "
               "the BINLOG MONITOR privilege (REPLICATION CLIENT before MariaDB 10.5 and on MySQL)",
               mysql_errno(my) ? ": " : "", mysql_errno(my) ? mysql_error(my) : "");
    return mysql_errno(my) && is_conn_error(mysql_errno(my)) ? DIAG_ETRANSIENT : DIAG_EINVAL;
}

static int parse_position(const char *text, char *file, size_t fn, unsigned long long *pos)
{
    const char *colon = text ? strrchr(text, ':') : NULL;
    if (!colon || colon == text || (size_t)(colon - text) >= fn || !colon[1]) return -1;
    char *end = NULL;
    unsigned long long v = strtoull(colon + 1, &end, 10);
    if (!end || *end || v < 4) return -1;
    memcpy(file, text, (size_t)(colon - text));
    file[colon - text] = 0;
    *pos = v;
    return 0;
}

/* ---- the followed tables */

/* The members of "enum('a','b')" / "set('a','b')" ('' inside quotes is one quote). */
static int parse_labels(arena *a, const char *type, const char ***out)
{
    const char *p = strchr(type, '(');
    int n = 0, cap = 8;
    const char **l = arena_alloc(a, (size_t)cap * sizeof *l);
    if (!p) return 0;
    for (p++; *p == '\'';) {
        buf b = BUF_INIT;
        for (p++; *p; p++) {
            if (*p == '\'' && p[1] == '\'') {
                buf_putc(&b, '\'');
                p++;
            } else if (*p == '\'') {
                p++;
                break;
            } else if (*p == '\\' && p[1]) {
                buf_putc(&b, *++p);
            } else {
                buf_putc(&b, *p);
            }
        }
        if (n == cap) {
            l = arena_realloc(a, l, (size_t)cap * sizeof *l, (size_t)cap * 2 * sizeof *l);
            cap *= 2;
        }
        l[n++] = arena_strndup(a, b.data ? b.data : "", b.len);
        buf_free(&b);
        if (*p == ',') p++;
    }
    *out = l;
    return n;
}

static int starts(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

/* Describe t anew: names and how each column's bytes become a value. */
static int describe_table(src_stream *s, rpl_table *t, diag *d)
{
    arena *a = arena_new();
    if (!a) return DIAG_ENOMEM;
    src_table st;
    int rc = describe(s->conn, NULL, t->name, a, &st, d);
    if (rc) {
        arena_free(a);
        return rc;
    }
    arena_free(t->a);
    t->a = a;
    t->t = st;
    int n = st.ncols ? st.ncols : 1;
    t->names = arena_alloc(a, (size_t)n * sizeof *t->names);
    t->sem = arena_alloc(a, (size_t)n);
    t->labels = arena_alloc(a, (size_t)n * sizeof *t->labels);
    t->nlabels = arena_alloc(a, (size_t)n * sizeof *t->nlabels);
    for (int i = 0; i < st.ncols; i++) {
        const char *ty = st.cols[i].sql_type ? st.cols[i].sql_type : "";
        t->names[i] = st.cols[i].name;
        t->labels[i] = NULL;
        t->nlabels[i] = 0;
        unsigned char sem = S_TEXT;
        if (!strcmp(ty, "json")) sem = S_JSON;
        else if (starts(ty, "enum(")) sem = S_ENUM;
        else if (starts(ty, "set(")) sem = S_SET;
        else if (strstr(ty, "unsigned")) sem = S_UNSIGNED;
        else if (starts(ty, "binary") || starts(ty, "varbinary") || strstr(ty, "blob"))
            sem = S_BINARY;
        else if (!strcmp(st.cols[i].es_type, "binary")) sem = S_GEOMETRY; /* spatial types */
        else if (starts(ty, "uuid") || starts(ty, "inet")) sem = S_SKIP; /* stored in binary */
        if (sem == S_ENUM || sem == S_SET) t->nlabels[i] = parse_labels(a, ty, &t->labels[i]);
        t->sem[i] = sem;
    }
    return 0;
}

static rpl_table *find_table(src_stream *s, const char *db, size_t dbn, const char *name,
                             size_t n)
{
    const char *want = s->cfg.database ? s->cfg.database : "";
    if (dbn != strlen(want) || memcmp(db, want, dbn)) return NULL;
    for (int i = 0; i < s->ntables; i++)
        if (strlen(s->tables[i].name) == n && !memcmp(s->tables[i].name, name, n))
            return &s->tables[i];
    return NULL;
}

static void queue(src_stream *s, src_change_kind kind, rpl_table *t, const char *pos)
{
    if (s->qhead == s->nq) s->qhead = s->nq = 0;
    if (s->nq == s->qcap) {
        s->qcap = s->qcap ? 2 * s->qcap : 16;
        s->q = realloc(s->q, (size_t)s->qcap * sizeof *s->q);
        if (!s->q) abort();
    }
    rpl_q *e = &s->q[s->nq++];
    e->kind = kind;
    e->t = t;
    snprintf(e->pos, sizeof e->pos, "%s", pos ? pos : "");
}

static void position_text(src_stream *s, char *out, size_t n)
{
    snprintf(out, n, "%s:%llu", s->file, s->pos);
}

/* ---- values */

static const unsigned char dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

static int decimal_size(int prec, int scale)
{
    int intg = prec - scale;
    return intg / 9 * 4 + dig2bytes[intg % 9] + scale / 9 * 4 + dig2bytes[scale % 9];
}

/* MySQL's binary DECIMAL as the server prints it ("-12.50", "0.00"). */
static void decimal_text(buf *out, const unsigned char *p, int prec, int scale)
{
    int intg = prec - scale, size = decimal_size(prec, scale);
    unsigned char b[64];
    if (size > (int)sizeof b) return;
    memcpy(b, p, (size_t)size);
    int neg = !(b[0] & 0x80);
    b[0] ^= 0x80;
    if (neg)
        for (int i = 0; i < size; i++) b[i] ^= 0xff;
    buf ip = BUF_INIT, fp = BUF_INIT;
    const unsigned char *q = b;
    char tmp[16];
    int lead = dig2bytes[intg % 9];
    if (lead) {
        snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)be(q, lead));
        buf_puts(&ip, tmp);
        q += lead;
    }
    for (int g = 0; g < intg / 9; g++, q += 4) {
        snprintf(tmp, sizeof tmp, "%09llu", (unsigned long long)be(q, 4));
        buf_puts(&ip, tmp);
    }
    for (int g = 0; g < scale / 9; g++, q += 4) {
        snprintf(tmp, sizeof tmp, "%09llu", (unsigned long long)be(q, 4));
        buf_puts(&fp, tmp);
    }
    if (scale % 9) {
        snprintf(tmp, sizeof tmp, "%0*llu", scale % 9,
                 (unsigned long long)be(q, dig2bytes[scale % 9]));
        buf_puts(&fp, tmp);
    }
    const char *is = ip.data ? ip.data : "";
    while (*is == '0') is++;
    int zero = !*is;
    for (size_t i = 0; i < fp.len && zero; i++) zero = fp.data[i] == '0';
    if (neg && !zero) buf_putc(out, '-');
    buf_puts(out, *is ? is : "0");
    if (scale) {
        buf_putc(out, '.');
        buf_append(out, fp.data, fp.len);
    }
    buf_free(&ip);
    buf_free(&fp);
}

/* The size of a value of column i of map m at p (by the table map's type). */
static long value_size(const rpl_map *m, int i, const unsigned char *p, const unsigned char *end)
{
    unsigned t = m->types[i];
    const unsigned char *mt = m->meta[i];
    long avail = end - p;
    int lb;
    switch (t) {
    case MYSQL_TYPE_TINY: case MYSQL_TYPE_YEAR: return 1;
    case MYSQL_TYPE_SHORT: return 2;
    case MYSQL_TYPE_INT24: case MYSQL_TYPE_DATE: case MYSQL_TYPE_NEWDATE: case MYSQL_TYPE_TIME:
        return 3;
    case MYSQL_TYPE_LONG: case MYSQL_TYPE_TIMESTAMP: return 4;
    case MYSQL_TYPE_LONGLONG: case MYSQL_TYPE_DATETIME: return 8;
    case MYSQL_TYPE_FLOAT: return 4;
    case MYSQL_TYPE_DOUBLE: return 8;
    case MYSQL_TYPE_NULL: return 0;
    case MYSQL_TYPE_TIMESTAMP2: return 4 + (mt[0] + 1) / 2;
    case MYSQL_TYPE_DATETIME2: return 5 + (mt[0] + 1) / 2;
    case MYSQL_TYPE_TIME2: return 3 + (mt[0] + 1) / 2;
    case MYSQL_TYPE_NEWDECIMAL: return mt[0] >= mt[1] && mt[0] <= 65 ? decimal_size(mt[0], mt[1]) : -1;
    case MYSQL_TYPE_BIT: return mt[1] + (mt[0] ? 1 : 0);
    case MYSQL_TYPE_VARCHAR: case MYSQL_TYPE_VAR_STRING: {
        unsigned max = mt[0] | (unsigned)mt[1] << 8;
        lb = max > 255 ? 2 : 1;
        return avail < lb ? -1 : lb + (long)le(p, lb);
    }
    case MYSQL_TYPE_STRING: case MYSQL_TYPE_ENUM: case MYSQL_TYPE_SET: {
        unsigned real = mt[0], len = mt[1];
        if (t != MYSQL_TYPE_STRING) real = t;
        else if ((real & 0x30) != 0x30) {
            len |= ((real & 0x30) ^ 0x30) << 4;
            real |= 0x30;
        }
        if (real == MYSQL_TYPE_ENUM || real == MYSQL_TYPE_SET) return len;
        lb = len > 255 ? 2 : 1;
        return avail < lb ? -1 : lb + (long)le(p, lb);
    }
    case MYSQL_TYPE_BLOB: case MYSQL_TYPE_TINY_BLOB: case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB: case MYSQL_TYPE_GEOMETRY: case MYSQL_TYPE_JSON:
        lb = mt[0];
        if (lb < 1 || lb > 4) return -1;
        return avail < lb ? -1 : lb + (long)le(p, lb);
    default: return -1;
    }
}

/* Fraction digits of a temporal value: fsp bytes big-endian, as microseconds. */
static unsigned long frac_us(const unsigned char *p, unsigned fsp)
{
    switch ((fsp + 1) / 2) {
    case 1: return (unsigned long)p[0] * 10000;
    case 2: return (unsigned long)be(p, 2) * 100;
    case 3: return (unsigned long)be(p, 3);
    default: return 0;
    }
}

static void set_text(arena *a, src_value *v, src_vkind k, const char *p, size_t n)
{
    v->kind = k;
    v->p = arena_strndup(a, p, n);
    v->n = n;
}

/* One value (sz bytes at p) of column i as a scan of the row yields it;
 * 1 when the column's bytes have no text here (absent), 0 done. */
static int value_of(src_stream *s, const rpl_map *m, int i, const unsigned char *p, long sz,
                    src_value *v)
{
    const rpl_table *t = m->t;
    unsigned ty = m->types[i];
    const unsigned char *mt = m->meta[i];
    unsigned sem = t->sem[i];
    int uns = sem == S_UNSIGNED;
    char text[96];
    size_t k = 0;
    MYSQL_TIME tm;
    memset(&tm, 0, sizeof tm);
    unsigned decimals = 0;
    col_kind kind = K_NULL;
    if (sem == S_SKIP) return 1;
    switch (ty) {
    case MYSQL_TYPE_TINY: case MYSQL_TYPE_SHORT: case MYSQL_TYPE_INT24: case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG: {
        uint64_t u = le(p, (int)sz);
        if (uns) {
            k = json_fmt_u64(text, u);
        } else {
            int shift = 64 - 8 * (int)sz;
            int64_t x = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
            k = json_fmt_i64(text, x);
        }
        set_text(s->ca, v, SRC_NUMBER, text, k);
        return 0;
    }
    case MYSQL_TYPE_YEAR:
        k = json_fmt_i64(text, p[0] ? 1900 + p[0] : 0);
        set_text(s->ca, v, SRC_NUMBER, text, k);
        return 0;
    case MYSQL_TYPE_FLOAT: case MYSQL_TYPE_DOUBLE: {
        double x;
        if (ty == MYSQL_TYPE_FLOAT) {
            uint32_t bits = (uint32_t)le(p, 4);
            float f;
            memcpy(&f, &bits, 4);
            x = f;
        } else {
            uint64_t bits = le(p, 8);
            memcpy(&x, &bits, 8);
        }
        if (x != x || x - x != 0) {
            v->kind = SRC_NULL;
            return 0;
        }
        k = json_fmt_double(text, x, ty == MYSQL_TYPE_FLOAT);
        set_text(s->ca, v, SRC_NUMBER, text, k);
        return 0;
    }
    case MYSQL_TYPE_NEWDECIMAL: {
        buf b = BUF_INIT;
        decimal_text(&b, p, mt[0], mt[1]);
        set_text(s->ca, v, SRC_NUMBER, b.data ? b.data : "0", b.len);
        buf_free(&b);
        return 0;
    }
    case MYSQL_TYPE_BIT: {
        uint64_t x = be(p, sz > 8 ? 8 : (int)sz);
        k = json_fmt_u64(text, x);
        set_text(s->ca, v, SRC_NUMBER, text, k);
        return 0;
    }
    case MYSQL_TYPE_DATE: case MYSQL_TYPE_NEWDATE: {
        uint32_t x = (uint32_t)le(p, 3);
        tm.day = x & 31;
        tm.month = (x >> 5) & 15;
        tm.year = x >> 9;
        kind = K_DATE;
        break;
    }
    case MYSQL_TYPE_DATETIME: {
        uint64_t x = le(p, 8);
        uint64_t dpart = x / 1000000, tpart = x % 1000000;
        tm.year = (unsigned)(dpart / 10000);
        tm.month = (unsigned)(dpart / 100 % 100);
        tm.day = (unsigned)(dpart % 100);
        tm.hour = (unsigned)(tpart / 10000);
        tm.minute = (unsigned)(tpart / 100 % 100);
        tm.second = (unsigned)(tpart % 100);
        kind = K_DATETIME;
        break;
    }
    case MYSQL_TYPE_DATETIME2: {
        int64_t packed = (int64_t)be(p, 5) - 0x8000000000LL;
        int64_t ymd = packed >> 17, ym = ymd >> 5, hms = packed % (1 << 17);
        tm.day = (unsigned)(ymd % (1 << 5));
        tm.month = (unsigned)(ym % 13);
        tm.year = (unsigned)(ym / 13);
        tm.second = (unsigned)(hms % (1 << 6));
        tm.minute = (unsigned)((hms >> 6) % (1 << 6));
        tm.hour = (unsigned)(hms >> 12);
        tm.second_part = frac_us(p + 5, mt[0]);
        decimals = mt[0];
        kind = K_DATETIME;
        break;
    }
    case MYSQL_TYPE_TIMESTAMP: case MYSQL_TYPE_TIMESTAMP2: {
        time_t secs = (time_t)(ty == MYSQL_TYPE_TIMESTAMP ? le(p, 4) : be(p, 4));
        if (secs == 0) { /* the zero timestamp */
            v->kind = SRC_NULL;
            return 0;
        }
        struct tm g;
        gmtime_r(&secs, &g);
        tm.year = (unsigned)g.tm_year + 1900;
        tm.month = (unsigned)g.tm_mon + 1;
        tm.day = (unsigned)g.tm_mday;
        tm.hour = (unsigned)g.tm_hour;
        tm.minute = (unsigned)g.tm_min;
        tm.second = (unsigned)g.tm_sec;
        if (ty == MYSQL_TYPE_TIMESTAMP2) {
            tm.second_part = frac_us(p + 4, mt[0]);
            decimals = mt[0];
        }
        kind = K_TIMESTAMP;
        break;
    }
    case MYSQL_TYPE_TIME: {
        uint32_t x = (uint32_t)le(p, 3);
        int32_t sx = (int32_t)(x << 8) >> 8;
        if (sx < 0) {
            tm.neg = 1;
            sx = -sx;
        }
        tm.hour = (unsigned)(sx / 10000);
        tm.minute = (unsigned)(sx / 100 % 100);
        tm.second = (unsigned)(sx % 100);
        kind = K_TIME;
        break;
    }
    case MYSQL_TYPE_TIME2: {
        unsigned fsp = mt[0];
        int64_t intpart, frac = 0, packed;
        switch ((fsp + 1) / 2) {
        case 0: packed = ((int64_t)be(p, 3) - 0x800000LL) * (1LL << 24); break;
        case 1:
            intpart = (int64_t)be(p, 3) - 0x800000LL;
            frac = p[3];
            if (intpart < 0 && frac) {
                intpart++;
                frac -= 0x100;
            }
            packed = intpart * (1LL << 24) + frac * 10000;
            break;
        case 2:
            intpart = (int64_t)be(p, 3) - 0x800000LL;
            frac = (int64_t)be(p + 3, 2);
            if (intpart < 0 && frac) {
                intpart++;
                frac -= 0x10000;
            }
            packed = intpart * (1LL << 24) + frac * 100;
            break;
        default: packed = (int64_t)be(p, 6) - 0x800000000000LL; break;
        }
        if (packed < 0) {
            tm.neg = 1;
            packed = -packed;
        }
        int64_t hms = packed >> 24;
        tm.second_part = (unsigned long)(packed % (1LL << 24));
        tm.hour = (unsigned)((hms >> 12) % (1 << 10));
        tm.minute = (unsigned)((hms >> 6) % (1 << 6));
        tm.second = (unsigned)(hms % (1 << 6));
        decimals = fsp;
        kind = K_TIME;
        break;
    }
    default: {
        /* strings, ENUM, SET, BLOB/TEXT, JSON, GEOMETRY */
        unsigned real = ty;
        if (ty == MYSQL_TYPE_STRING && (mt[0] == MYSQL_TYPE_ENUM || mt[0] == MYSQL_TYPE_SET))
            real = mt[0];
        if (ty == MYSQL_TYPE_JSON) return 1; /* MySQL's binary JSON: read from the table */
        if (real == MYSQL_TYPE_ENUM) {
            uint64_t x = le(p, sz > 8 ? 8 : (int)sz); /* a malformed map may claim more */
            const char *l = x >= 1 && (int)x <= t->nlabels[i] ? t->labels[i][x - 1] : "";
            set_text(s->ca, v, SRC_STRING, l, strlen(l));
            return 0;
        }
        if (real == MYSQL_TYPE_SET) {
            uint64_t x = le(p, sz > 8 ? 8 : (int)sz);
            buf b = BUF_INIT;
            buf_putc(&b, '[');
            int first = 1;
            for (int j = 0; j < t->nlabels[i] && j < 64; j++) {
                if (!(x >> j & 1)) continue;
                if (!first) buf_putc(&b, ',');
                first = 0;
                buf_json_str(&b, t->labels[i][j], strlen(t->labels[i][j]), NULL);
            }
            buf_putc(&b, ']');
            set_text(s->ca, v, SRC_JSON, b.data, b.len);
            buf_free(&b);
            return 0;
        }
        int lb;
        long n;
        /* the length prefix: what value_size counted before the bytes */
        if (ty == MYSQL_TYPE_BLOB || ty == MYSQL_TYPE_TINY_BLOB || ty == MYSQL_TYPE_MEDIUM_BLOB ||
            ty == MYSQL_TYPE_LONG_BLOB || ty == MYSQL_TYPE_GEOMETRY)
            lb = mt[0];
        else if (ty == MYSQL_TYPE_STRING) {
            unsigned len = mt[1], r2 = mt[0];
            if ((r2 & 0x30) != 0x30) len |= ((r2 & 0x30) ^ 0x30) << 4;
            lb = len > 255 ? 2 : 1;
        } else {
            unsigned max = mt[0] | (unsigned)mt[1] << 8;
            lb = max > 255 ? 2 : 1;
        }
        n = sz - lb;
        const char *data = (const char *)p + lb;
        if (sem == S_GEOMETRY) {
            if (n >= 4) {
                data += 4;
                n -= 4;
            }
            set_text(s->ca, v, SRC_BINARY, data, (size_t)n);
            return 0;
        }
        set_text(s->ca, v, sem == S_BINARY ? SRC_BINARY : sem == S_JSON ? SRC_JSON : SRC_STRING,
                 data, (size_t)n);
        return 0;
    }
    }
    /* temporal values, as convert() formats a scan's */
    if (kind != K_TIME && (tm.month == 0 || tm.day == 0)) {
        v->kind = SRC_NULL;
        return 0;
    }
    if (kind == K_TIME) {
        if (tm.neg) text[k++] = '-';
        k += fmt_clock(text + k, tm.day * 24 + tm.hour, &tm);
        k += fmt_frac(text + k, tm.second_part, decimals);
    } else {
        k = fmt_date(text, &tm);
        if (kind != K_DATE) {
            text[k++] = 'T';
            k += fmt_clock(text + k, tm.hour, &tm);
            k += fmt_frac(text + k, tm.second_part, decimals);
            if (kind == K_TIMESTAMP) text[k++] = 'Z';
        }
    }
    set_text(s->ca, v, SRC_STRING, text, k);
    return 0;
}

static int bit(const unsigned char *bm, int i) { return bm[i / 8] >> (i % 8) & 1; }

/* One row image at s->rp: the columns of bitmap present, into out (absent:
 * 1 per column not in the image or without a text here). */
static int decode_image(src_stream *s, const unsigned char *present, src_value *out,
                        unsigned char *absent, diag *d)
{
    rpl_map *m = s->rmap;
    int npresent = 0;
    for (int i = 0; i < m->ncols; i++) npresent += bit(present, i);
    const unsigned char *p = s->rp, *nulls = p;
    p += (npresent + 7) / 8;
    if (p > s->rend) goto bad;
    int k = 0;
    for (int i = 0; i < m->ncols; i++) {
        out[i].kind = SRC_NULL;
        out[i].p = NULL;
        out[i].n = 0;
        if (absent) absent[i] = 1;
        if (!bit(present, i)) continue;
        int isnull = bit(nulls, k++);
        if (absent) absent[i] = 0;
        if (isnull) continue;
        long sz = value_size(m, i, p, s->rend);
        if (sz < 0 || p + sz > s->rend) goto bad;
        if (value_of(s, m, i, p, sz, &out[i]) == 1) {
            out[i].kind = SRC_NULL;
            if (absent) absent[i] = 1;
        }
        p += sz;
    }
    s->rp = p;
    return 0;
bad:
    diag_error(d, (src_loc){0}, "mysql: binlog %s:%llu: a row of %s could not be decoded", s->file,
               s->pos, m->t->name);
    return DIAG_EIO;
}

/* The next row of the rows event being walked: 1 a change, 0 the event is done. */
static int next_change(src_stream *s, src_change *out, diag *d)
{
    if (!s->walking || s->rp >= s->rend) {
        s->walking = 0;
        return 0;
    }
    rpl_map *m = s->rmap;
    if (m->ncols > s->rowcap) {
        free(s->row);
        free(s->old);
        free(s->absent);
        s->rowcap = m->ncols;
        s->row = calloc((size_t)s->rowcap, sizeof *s->row);
        s->old = calloc((size_t)s->rowcap, sizeof *s->old);
        s->absent = calloc((size_t)s->rowcap, 1);
        if (!s->row || !s->old || !s->absent) abort();
    }
    memset(out, 0, sizeof *out);
    out->table = m->t->name;
    out->names = m->t->names;
    out->ncols = m->ncols;
    int rc = 0;
    switch (s->rows_type) {
    case WRITE_ROWS:
        out->kind = SRC_CHANGE_INSERT;
        rc = decode_image(s, s->bm1, s->row, s->absent, d);
        out->row = s->row;
        out->unchanged = s->absent;
        break;
    case DELETE_ROWS:
        out->kind = SRC_CHANGE_DELETE;
        rc = decode_image(s, s->bm1, s->old, NULL, d);
        out->old = s->old;
        break;
    default:
        out->kind = SRC_CHANGE_UPDATE;
        rc = decode_image(s, s->bm1, s->old, NULL, d);
        if (rc == 0) rc = decode_image(s, s->bm2, s->row, s->absent, d);
        out->old = s->old;
        out->row = s->row;
        out->unchanged = s->absent;
        break;
    }
    if (rc) {
        s->walking = 0;
        return rc;
    }
    return 1;
}

/* ---- events */

/* An event's body (after the common header) and its end (before the checksum).
 * Parsed here where the library's parse is unreliable (3.3: a ROTATE after
 * the format description event reads its position 8 bytes too far). */
static const unsigned char *event_body(const src_stream *s, const MARIADB_RPL_EVENT *e)
{
    return e->raw_data + e->raw_data_ofs + (s->rpl->fd_header_len ? s->rpl->fd_header_len : 19);
}

static const unsigned char *event_end(const src_stream *s, const MARIADB_RPL_EVENT *e)
{
    return e->raw_data + e->raw_data_size - (s->crc ? 4 : 0);
}

/* ROTATE: position (8), then the next file's name. */
static int on_rotate(src_stream *s, const MARIADB_RPL_EVENT *e, diag *d)
{
    const unsigned char *b = event_body(s, e), *end = event_end(s, e);
    if (end - b < 9 || end - b - 8 >= (long)sizeof s->file) {
        diag_error(d, (src_loc){0}, "mysql: binlog %s:%llu: a malformed ROTATE event", s->file,
                   s->pos);
        return DIAG_EIO;
    }
    memcpy(s->file, b + 8, (size_t)(end - b - 8));
    s->file[end - b - 8] = 0;
    s->pos = le(b, 8);
    return 0;
}

static rpl_map *map_for(src_stream *s, uint64_t id)
{
    for (int i = 0; i < s->nmaps; i++)
        if (s->maps[i].id == id) return &s->maps[i];
    return NULL;
}

static int on_table_map(src_stream *s, MARIADB_RPL_EVENT *e, diag *d)
{
    struct st_mariadb_rpl_table_map_event *tm = &e->event.table_map;
    rpl_map *m = map_for(s, tm->table_id);
    if (!m) {
        s->maps = realloc(s->maps, (size_t)(s->nmaps + 1) * sizeof *s->maps);
        if (!s->maps) abort();
        m = &s->maps[s->nmaps++];
        memset(m, 0, sizeof *m);
        m->id = tm->table_id;
    }
    free(m->types);
    free(m->meta);
    m->types = NULL;
    m->meta = NULL;
    m->t = find_table(s, tm->database.str, tm->database.length, tm->table.str, tm->table.length);
    m->bad = 0;
    m->ncols = (int)tm->column_count;
    if (!m->t) return 0;
    m->types = calloc((size_t)m->ncols + 1, 1);
    m->meta = calloc((size_t)m->ncols + 1, sizeof *m->meta);
    if (!m->types || !m->meta) abort();
    /* a types string shorter than the column count is a damaged event: the
     * table is then read in full, as for metadata cut short */
    size_t ntypes = tm->column_types.length < (size_t)m->ncols ? tm->column_types.length
                                                                : (size_t)m->ncols;
    if (ntypes) memcpy(m->types, tm->column_types.str, ntypes);
    if (ntypes < (size_t)m->ncols) m->bad = 1;
    const unsigned char *mp = (const unsigned char *)tm->metadata.str;
    const unsigned char *mend = mp + tm->metadata.length;
    for (int i = 0; i < m->ncols && !m->bad; i++) {
        int n = 0;
        switch (m->types[i]) {
        case MYSQL_TYPE_FLOAT: case MYSQL_TYPE_DOUBLE: case MYSQL_TYPE_BLOB:
        case MYSQL_TYPE_TINY_BLOB: case MYSQL_TYPE_MEDIUM_BLOB: case MYSQL_TYPE_LONG_BLOB:
        case MYSQL_TYPE_GEOMETRY: case MYSQL_TYPE_JSON: case MYSQL_TYPE_TIMESTAMP2:
        case MYSQL_TYPE_DATETIME2: case MYSQL_TYPE_TIME2:
            n = 1;
            break;
        case MYSQL_TYPE_VARCHAR: case MYSQL_TYPE_VAR_STRING: case MYSQL_TYPE_BIT:
        case MYSQL_TYPE_NEWDECIMAL: case MYSQL_TYPE_STRING: case MYSQL_TYPE_ENUM:
        case MYSQL_TYPE_SET:
            n = 2;
            break;
        default: break;
        }
        if (mp + n > mend) {
            m->bad = 1;
            break;
        }
        for (int k = 0; k < n; k++) m->meta[i][k] = mp[k];
        mp += n;
    }
    if (!m->bad && m->ncols != m->t->t.ncols) {
        /* the table changed since: describe it again */
        int rc = describe_table(s, m->t, d);
        if (rc && rc != DIAG_ENOTFOUND) return rc;
        if (rc) diag_clear(d);
        queue(s, SRC_CHANGE_RELATION, m->t, NULL);
        if (rc || m->ncols != m->t->t.ncols) m->bad = 1;
    }
    if (!m->bad) {
        m->t->stale = 0;
    } else if (m->t->stale != m->ncols) {
        /* not decodable with what the table is now (rows from before an
         * ALTER): it is read in full at this commit, which covers the rows
         * of the same shape that follow */
        m->t->stale = m->ncols;
        queue(s, SRC_CHANGE_TRUNCATE, m->t, NULL);
    }
    return 0;
}

static int on_rows(src_stream *s, MARIADB_RPL_EVENT *e, diag *d)
{
    unsigned ty = e->event_type;
    uint64_t id;
    uint64_t ncols = 0;
    const unsigned char *p, *end, *bm1 = NULL, *bm2 = NULL;
    int compressed = ty >= WRITE_ROWS_COMPRESSED_EVENT_V1 && ty <= DELETE_ROWS_COMPRESSED_EVENT;
    if (compressed) {
        if (ty >= WRITE_ROWS_COMPRESSED_EVENT || !e->event.rows.row_data) {
            diag_error(d, (src_loc){0}, "mysql: binlog %s:%llu: compressed rows event %u is not "
                       "supported by this client library", s->file, s->pos, ty);
            return DIAG_EIO;
        }
        id = e->event.rows.table_id;
        ncols = e->event.rows.column_count;
        bm1 = e->event.rows.column_bitmap;
        bm2 = e->event.rows.column_update_bitmap;
        p = e->event.rows.row_data;
        end = p + e->event.rows.row_data_size;
        s->rows_type = (int)(ty - WRITE_ROWS_COMPRESSED_EVENT_V1);
    } else {
        /* parsed here: the library's v2 parse misses the second bitmap */
        int v2 = ty >= WRITE_ROWS_EVENT && ty <= DELETE_ROWS_EVENT;
        s->rows_type = (int)(ty - (v2 ? WRITE_ROWS_EVENT : WRITE_ROWS_EVENT_V1));
        p = event_body(s, e);
        end = event_end(s, e);
        if (end - p < 8) goto bad;
        id = le(p, 6);
        p += 8;
        if (v2) {
            if (end - p < 2) goto bad;
            unsigned extra = (unsigned)le(p, 2);
            if (extra < 2 || end - p < (long)extra) goto bad;
            p += extra;
        }
        if (lenenc(&p, end, &ncols) || ncols > 4096) goto bad;
        long bl = (long)(ncols + 7) / 8;
        if (end - p < bl) goto bad;
        bm1 = p;
        p += bl;
        if (s->rows_type == UPDATE_ROWS) {
            if (end - p < bl) goto bad;
            bm2 = p;
            p += bl;
        }
    }
    rpl_map *m = map_for(s, id);
    if (!m || !m->t || m->bad) return 0; /* not followed, or read in full */
    if ((int)ncols != m->ncols || (s->rows_type == UPDATE_ROWS && !bm2)) goto bad;
    s->rmap = m;
    s->bm1 = bm1;
    s->bm2 = bm2;
    s->rp = p;
    s->rend = end;
    s->walking = 1;
    return 0;
bad:
    diag_error(d, (src_loc){0}, "mysql: binlog %s:%llu: a malformed rows event", s->file, s->pos);
    return DIAG_EIO;
}

/* Whether stmt names table (a whole word, any case). */
static int mentions(const char *stmt, size_t n, const char *table)
{
    size_t tl = strlen(table);
    for (size_t i = 0; i + tl <= n; i++) {
        if (strncasecmp(stmt + i, table, tl)) continue;
        char b = i ? stmt[i - 1] : ' ', a = i + tl < n ? stmt[i + tl] : ' ';
        int wb = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                 b == '_' || b == '$' || (unsigned char)b >= 0x80;
        int wa = (a >= '0' && a <= '9') || (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') ||
                 a == '_' || a == '$' || (unsigned char)a >= 0x80;
        if (!wb && !wa) return 1;
    }
    return 0;
}

static int word_is(const char *stmt, size_t n, const char *w)
{
    size_t k = strlen(w);
    while (n && (*stmt == ' ' || *stmt == '\n' || *stmt == '\t')) stmt++, n--;
    return n >= k && !strncasecmp(stmt, w, k) && (n == k || !((stmt[k] | 0x20) >= 'a' && (stmt[k] | 0x20) <= 'z'));
}

/* A statement in the binlog: transaction control, or DDL (and statement-
 * logged changes, which the stream cannot see row by row). */
static int on_query(src_stream *s, MARIADB_RPL_EVENT *e, int *commit, diag *d)
{
    const char *q = e->event.query.statement.str;
    size_t n = e->event.query.statement.length;
    if (!q) return 0;
    if (word_is(q, n, "BEGIN") || (word_is(q, n, "XA") && !mentions(q, n, "COMMIT"))) {
        s->in_trx = 1;
        return 0;
    }
    if (word_is(q, n, "COMMIT") || (word_is(q, n, "ROLLBACK") && !mentions(q, n, "TO")) ||
        word_is(q, n, "XA")) {
        *commit = 1;
        return 0;
    }
    if (word_is(q, n, "SAVEPOINT") || word_is(q, n, "ROLLBACK")) return 0;
    /* the database a statement's unqualified names refer to */
    const char *want = s->cfg.database ? s->cfg.database : "";
    int here = e->event.query.database.length == strlen(want) &&
               !memcmp(e->event.query.database.str, want, e->event.query.database.length);
    int dml = word_is(q, n, "INSERT") || word_is(q, n, "UPDATE") || word_is(q, n, "DELETE") ||
              word_is(q, n, "REPLACE") || word_is(q, n, "LOAD");
    for (int i = 0; i < s->ntables; i++) {
        rpl_table *t = &s->tables[i];
        if (!mentions(q, n, t->name) || (!here && !mentions(q, n, want))) continue;
        if (word_is(q, n, "TRUNCATE") || dml) {
            queue(s, SRC_CHANGE_TRUNCATE, t, NULL);
            continue;
        }
        int rc = describe_table(s, t, d);
        if (rc == DIAG_ENOTFOUND) { /* dropped (or renamed): the stream goes on without it */
            diag_clear(d);
            continue;
        }
        if (rc) return rc;
        queue(s, SRC_CHANGE_RELATION, t, NULL);
    }
    if (!s->in_trx) *commit = 1; /* a standalone statement is its own transaction */
    return 0;
}

static int rpl_fail(src_stream *s, const char *what, diag *d)
{
    unsigned e = mysql_errno(s->my);
    const char *msg = mysql_error(s->my);
    if (!e && s->rpl && mariadb_rpl_errno(s->rpl)) {
        e = mariadb_rpl_errno(s->rpl);
        msg = mariadb_rpl_error(s->rpl);
    }
    if (e == ER_MASTER_FATAL_READING_BINLOG_) {
        diag_error(d, (src_loc){0},
                   "mysql: %s at %s:%llu: %s (error %u). If the binlog file was purged "
                   "(expire_logs_days, binlog_expire_logs_seconds, PURGE BINARY LOGS) the changes "
                   "since are lost to the stream: start over with sync --follow --drop-slot (a new "
                   "initial read)", what, s->file, s->pos, msg, e);
        return DIAG_EIO;
    }
    if (e == ER_SPECIFIC_ACCESS_DENIED_ || e == ER_ACCESS_DENIED_) {
        diag_error(d, (src_loc){0},
                   "mysql: %s: %s (error %u): reading the binlog needs the REPLICATION SLAVE "
                   "privilege (GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO the user)",
                   what, msg, e);
        return DIAG_EINVAL;
    }
    diag_error(d, (src_loc){0}, "mysql: %s: %s (error %u)", what, e ? msg : "connection lost", e);
    return DIAG_ETRANSIENT;
}

/* ---- the stream slots */

static void table_free(rpl_table *t)
{
    free(t->name);
    arena_free(t->a);
}

static void stream_free(src_stream *s)
{
    if (!s) return;
    if (s->snap && handoff.c == s->snap) { /* not taken by an initial read */
        handoff.c = NULL;
        close_conn(s->snap);
    }
    if (s->ev) mariadb_free_rpl_event(s->ev);
    if (s->rpl) mariadb_rpl_close(s->rpl);
    if (s->my) mysql_close(s->my);
    close_conn(s->conn);
    for (int i = 0; i < s->ntables; i++) table_free(&s->tables[i]);
    free(s->tables);
    for (int i = 0; i < s->nmaps; i++) {
        free(s->maps[i].types);
        free(s->maps[i].meta);
    }
    free(s->maps);
    free(s->q);
    free(s->row);
    free(s->old);
    free(s->absent);
    arena_free(s->ca);
    free(s);
}

typedef struct settings {
    int log_bin;
    char format[32], image[32], checksum[32];
    unsigned long server_id;
} settings;

static int on_settings(void *ctx, const src_value *row)
{
    settings *x = ctx;
    x->log_bin = row[0].n == 1 && row[0].p[0] == '1';
    snprintf(x->format, sizeof x->format, "%.*s", (int)row[1].n, row[1].p ? row[1].p : "");
    snprintf(x->image, sizeof x->image, "%.*s", (int)row[2].n, row[2].p ? row[2].p : "");
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.*s", (int)row[3].n, row[3].p ? row[3].p : "0");
    x->server_id = strtoul(tmp, NULL, 10);
    snprintf(x->checksum, sizeof x->checksum, "%.*s", (int)row[4].n, row[4].p ? row[4].p : "");
    return 0;
}

static int my_stream_open(const src_config *cfg, const src_stream_opts *o, src_stream **out,
                          char *snapshot, size_t snapn, diag *d)
{
    *out = NULL;
    snapshot[0] = 0;
    src_stream *s = calloc(1, sizeof *s);
    if (!s) return DIAG_ENOMEM;
    s->cfg = *cfg;
    s->cfg.snapshot = NULL;
    s->ca = arena_new();
    int rc = open_conn(&s->cfg, &s->conn, d);
    settings st = {0};
    if (rc == 0)
        rc = rpl_query(s, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id, "
                       "@@global.binlog_checksum",
                       on_settings, &st, d);
    if (rc == 0 && !st.log_bin) {
        diag_error(d, (src_loc){0},
                   "mysql: the binary log is off on %s (log_bin): sync --follow reads the changed "
                   "rows from it; start the server with log_bin, binlog_format=ROW and "
                   "binlog_row_image=FULL (or follow by reading the incremental cursors: "
                   "sync --follow --poll)", host_name(s->conn));
        rc = DIAG_EINVAL;
    }
    if (rc == 0 && strcasecmp(st.format, "ROW")) {
        diag_error(d, (src_loc){0},
                   "mysql: binlog_format is %s on %s: sync --follow needs ROW (the binlog must "
                   "carry the changed rows, not the statements that changed them): SET GLOBAL "
                   "binlog_format = 'ROW' and binlog_format=ROW in the server's configuration "
                   "(or follow by reading the incremental cursors: sync --follow --poll)",
                   st.format, host_name(s->conn));
        rc = DIAG_EINVAL;
    }
    if (rc == 0 && strcasecmp(st.image, "FULL") && o->nfull > 0)
        diag_warning(d, (src_loc){0},
                     "mysql: binlog_row_image is %s on %s: the binlog omits the old values of "
                     "unchanged columns, so a child row (%s) moved to another parent leaves the "
                     "old parent's document stale until a full sync (SET GLOBAL binlog_row_image "
                     "= 'FULL')", st.image, host_name(s->conn), o->full_identity[0]);
    /* a replica's id of its own: from the slot's name, never the server's */
    uint32_t h = 2166136261u;
    for (const char *p = o->slot ? o->slot : ""; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    s->server_id = 0x40000000u | (h & 0x3fffffffu);
    if (s->server_id == st.server_id) s->server_id++;
    s->crc = st.checksum[0] && strcasecmp(st.checksum, "NONE");
    if (rc == 0) {
        s->tables = calloc((size_t)(o->ntables ? o->ntables : 1), sizeof *s->tables);
        if (!s->tables) abort();
        for (int i = 0; i < o->ntables && rc == 0; i++) {
            s->tables[i].name = strdup(o->tables[i]);
            if (!s->tables[i].name) abort();
            s->ntables++;
            rc = describe_table(s, &s->tables[i], d);
        }
    }
    if (rc == 0 && o->fresh) {
        /* the initial read's snapshot and the position it is consistent with */
        posbuf before, at;
        src_conn *snap = NULL;
        rc = master_position(s->conn->pool[0], &before, d);
        if (rc == 0) rc = open_conn(&s->cfg, &snap, d);
        if (rc == 0) {
            s->snap = snap;
            snap->snapshot = 1; /* its further server connections take a snapshot too */
            rc = plain(snap->pool[0], "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", d);
        }
        if (rc == 0) rc = plain(snap->pool[0], "START TRANSACTION WITH CONSISTENT SNAPSHOT", d);
        memset(&at, 0, sizeof at);
        if (rc == 0)
            show_rows(snap->pool[0], "SHOW STATUS LIKE 'binlog_snapshot_%'", on_snapshot_status, &at);
        if (rc == 0) {
            posbuf *use = at.have_file && at.have_pos ? &at : &before;
            snprintf(s->start, sizeof s->start, "%s:%llu", use->file, use->pos);
            snprintf(handoff.token, sizeof handoff.token, "%s", s->start);
            if (handoff.c && handoff.c != snap) close_conn(handoff.c);
            handoff.c = snap;
            snprintf(snapshot, snapn, "%s", s->start);
        }
    }
    if (rc) {
        stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int my_stream_start(src_stream *s, const char *from, diag *d)
{
    /* the snapshot's connection was taken by the initial read, or is not needed */
    if (s->snap) {
        if (handoff.c == s->snap) {
            handoff.c = NULL;
            close_conn(s->snap);
        }
        s->snap = NULL;
    }
    const char *start = from && *from ? from : s->start[0] ? s->start : NULL;
    int rc = 0;
    if (!start) {
        /* no saved position (the initial read ended, nothing was acknowledged
         * before a crash): from the binlog's end, every table read in full */
        posbuf now;
        rc = master_position(s->conn->pool[0], &now, d);
        if (rc) return rc;
        snprintf(s->start, sizeof s->start, "%s:%llu", now.file, now.pos);
        start = s->start;
        for (int i = 0; i < s->ntables; i++) queue(s, SRC_CHANGE_TRUNCATE, &s->tables[i], NULL);
        queue(s, SRC_CHANGE_COMMIT, NULL, start);
    }
    if (parse_position(start, s->file, sizeof s->file, &s->pos) < 0) {
        diag_error(d, (src_loc){0}, "mysql: '%s' is not a binlog position (file:offset)", start);
        return DIAG_EINVAL;
    }
    /* the stream knows each table's columns (a later ALTER shows against them) */
    for (int i = 0; i < s->ntables; i++) queue(s, SRC_CHANGE_RELATION, &s->tables[i], NULL);
    rc = 0;
    s->my = connect_one(s->conn, &rc, d);
    if (!s->my) return rc ? rc : DIAG_ETRANSIENT;
    unsigned rt = RPL_READ_TIMEOUT_S;
    mysql_optionsv(s->my, MYSQL_OPT_READ_TIMEOUT, &rt);
    /* checksums as the server writes them; MariaDB's GTID events; a
     * heartbeat when idle */
    if ((rc = plain(s->my, "SET @master_binlog_checksum = @@global.binlog_checksum", d)) ||
        (rc = plain(s->my, "SET @mariadb_slave_capability = 4", d)) ||
        (rc = plain(s->my, "SET @master_heartbeat_period = " RPL_HEARTBEAT_NS, d)))
        return rc;
    s->rpl = mariadb_rpl_init(s->my);
    if (!s->rpl) return rpl_fail(s, "cannot start the replication API", d);
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_FILENAME, s->file, strlen(s->file));
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_START, (unsigned long)s->pos);
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_SERVER_ID, s->server_id);
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_FLAGS, 0);
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_UNCOMPRESS, 1);
    if (mariadb_rpl_open(s->rpl)) return rpl_fail(s, "cannot start reading the binlog", d);
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int my_stream_next(src_stream *s, int timeout_ms, src_change *out, diag *d)
{
    arena_reset(s->ca);
    double until = mono_s() + (timeout_ms > 0 ? timeout_ms : 0) / 1000.0;
    for (;;) {
        if (s->qhead < s->nq) {
            rpl_q *e = &s->q[s->qhead++];
            memset(out, 0, sizeof *out);
            out->kind = e->kind;
            if (e->t) {
                out->table = e->t->name;
                out->names = e->t->names;
                out->ncols = e->t->t.ncols;
            }
            out->pos = arena_strdup(s->ca, e->pos);
            return 1;
        }
        if (s->walking) {
            int r = next_change(s, out, d);
            if (r) return r;
        }
        if (!s->my || !s->rpl) {
            diag_error(d, (src_loc){0}, "mysql: the binlog stream is not started");
            return DIAG_EINVAL;
        }
        MARIADB_RPL_EVENT *e = mariadb_rpl_fetch(s->rpl, s->ev);
        if (!e) {
            s->ev = NULL; /* freed by the library */
            return rpl_fail(s, "reading the binlog", d);
        }
        s->ev = e;
        /* the event's CRC32 (binlog_checksum): a damaged event is named, never
         * decoded nor counted in the position */
        if (s->crc && e->raw_data_size >= e->raw_data_ofs + 19 + 4) {
            const unsigned char *ev = e->raw_data + e->raw_data_ofs, *end = e->raw_data + e->raw_data_size - 4;
            if (crc32(0L, ev, (uInt)(end - ev)) != le(end, 4)) {
                diag_error(d, (src_loc){0},
                           "mysql: the binlog event after %s:%llu (type %d, %zu bytes) fails its "
                           "checksum: it was damaged on the way or on disk, and is not applied "
                           "(the saved position stays before it)",
                           s->file, s->pos, (int)e->event_type, e->raw_data_size - e->raw_data_ofs);
                return DIAG_EIO;
            }
        }
        int commit = 0, rc = 0, idle = 0;
        switch (e->event_type) {
        case ROTATE_EVENT:
            rc = on_rotate(s, e, d);
            if (rc) return rc;
            continue;
        case HEARTBEAT_LOG_EVENT: idle = 1; break;
        case GTID_EVENT: {
            /* sequence number (8), domain (4), flags (1) */
            const unsigned char *b = event_body(s, e);
            if (event_end(s, e) - b >= 13) s->in_trx = !(b[12] & FL_STANDALONE);
            break;
        }
        case QUERY_EVENT:
        case QUERY_COMPRESSED_EVENT: rc = on_query(s, e, &commit, d); break;
        case XID_EVENT: commit = 1; break;
        case TABLE_MAP_EVENT: rc = on_table_map(s, e, d); break;
        case WRITE_ROWS_EVENT_V1: case UPDATE_ROWS_EVENT_V1: case DELETE_ROWS_EVENT_V1:
        case WRITE_ROWS_EVENT: case UPDATE_ROWS_EVENT: case DELETE_ROWS_EVENT:
        case WRITE_ROWS_COMPRESSED_EVENT_V1: case UPDATE_ROWS_COMPRESSED_EVENT_V1:
        case DELETE_ROWS_COMPRESSED_EVENT_V1: case WRITE_ROWS_COMPRESSED_EVENT:
        case UPDATE_ROWS_COMPRESSED_EVENT: case DELETE_ROWS_COMPRESSED_EVENT:
            rc = on_rows(s, e, d);
            break;
        default: break;
        }
        if (rc) return rc;
        if (e->next_event_pos && !(e->flags & LOG_EVENT_ARTIFICIAL_F) && !idle)
            s->pos = e->next_event_pos;
        if (commit) {
            char pos[300];
            position_text(s, pos, sizeof pos);
            s->in_trx = 0;
            /* each transaction maps its tables anew: the maps stay few */
            for (int i = 0; i < s->nmaps; i++) {
                free(s->maps[i].types);
                free(s->maps[i].meta);
            }
            s->nmaps = 0;
            queue(s, SRC_CHANGE_COMMIT, NULL, pos);
            continue;
        }
        if (idle && !s->in_trx && s->qhead == s->nq && !s->walking) {
            memset(out, 0, sizeof *out);
            out->kind = SRC_CHANGE_IDLE;
            char pos[300];
            position_text(s, pos, sizeof pos);
            out->pos = arena_strdup(s->ca, pos);
            return 1;
        }
        if (idle || mono_s() >= until) {
            if (s->qhead < s->nq || s->walking) continue;
            return 0;
        }
    }
}

/* The server keeps no slot for a binlog reader: the position is the
 * caller's (the follow state file). */
static int my_stream_ack(src_stream *s, const char *pos, diag *d)
{
    (void)s;
    (void)pos;
    (void)d;
    return 0;
}

static void my_stream_close(src_stream *s) { stream_free(s); }

static int my_stream_drop(const src_config *cfg, const src_stream_opts *o, diag *d)
{
    (void)cfg;
    (void)o;
    (void)d;
    return 0; /* nothing on the server: the caller forgets the position */
}

static const char *const aliases[] = {"mariadb", NULL};

const src_driver src_mysql_driver = {
    .version = SRC_DRIVER_VERSION,
    .name = "mysql",
    .aliases = aliases,
    .caps = SRC_CAP_NETWORK | SRC_CAP_SSL,
    .compat = &compat,
    .quote_ident = quote_ident,
    .placeholder = placeholder,
    .open = open_conn,
    .close = close_conn,
    .ping = ping_conn,
    .list_tables = list_tables,
    .describe = describe,
    .begin_scan = begin_scan,
    .scan_columns = scan_columns,
    .next = next_row,
    .stats = scan_stats,
    .end_scan = end_scan,
    .stream_open = my_stream_open,
    .stream_start = my_stream_start,
    .stream_next = my_stream_next,
    .stream_ack = my_stream_ack,
    .stream_close = my_stream_close,
    .stream_drop = my_stream_drop,
};
