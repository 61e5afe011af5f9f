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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errmsg.h>
#include <mysql.h>

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

static int open_conn(const src_config *cfg, src_conn **out, diag *d)
{
    *out = NULL;
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
};
