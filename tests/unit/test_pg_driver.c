/* test_pg_driver.c - the PostgreSQL driver where no server is needed to
 * reach it: the text-match SQL, which SQLSTATEs are worth a retry, the
 * messages of a failed command, connections refused (a closed loopback
 * port, a socket directory that does not exist, bad options) and what their
 * messages name, the stream's slot and publication names, the conversions'
 * remaining forms, and every allocation of the pgoutput decoder failing in
 * turn (a relation that cannot be kept whole is not kept). The driver file
 * is compiled into this test (its functions are static), with malloc,
 * calloc and realloc routed through a counter that fails the one asked. */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sources/source.h"

/* -1: no failure; n >= 0: the allocation after n more succeed fails. */
static int fail_in = -1;
static int should_fail(void)
{
    if (fail_in < 0) return 0;
    if (fail_in-- == 0) {
        fail_in = -1;
        return 1;
    }
    return 0;
}
static void *t_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
static void *t_calloc(size_t k, size_t n) { return should_fail() ? NULL : calloc(k, n); }
static void *t_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }
#define malloc(n) t_malloc(n)
#define calloc(k, n) t_calloc(k, n)
#define realloc(p, n) t_realloc(p, n)

#include "sources/postgresql.c"

#undef malloc
#undef calloc
#undef realloc

#include "t.h"
#include "tests/unit/loopback.h"
#include "tests/unit/pg_helpers.h"

/* A loopback listener that never answers; *port gets its port. */
static int silent_listener(int *port) { return loopback_socket(8, port); }



static char want[512];

/* ---- text match */
static const char *match(int op, int with_buf)
{
    static buf b;
    buf_free(&b);
    buf_init(&b, 0);
    int r = pg_text_match(with_buf ? &b : NULL, (src_text_op)op, "c", "$1");
    if (!r) return "(not offered)";
    if (!with_buf) return "(offered)";
    static char sql[256];
    snprintf(sql, sizeof sql, "%s", b.data ? b.data : "");
    buf_free(&b);
    return sql;
}

static void test_text_match(void)
{
    const char *pre = "c IS NOT NULL AND pg_typeof(c) IN ('text'::regtype, 'character varying'::regtype) AND ";
    snprintf(want, sizeof want, "%sc::text COLLATE \"C\" = $1", pre);
    T_STREQ(match(SRC_TEXT_EQUALS, 1), want, "text_match: equals in the C collation");
    snprintf(want, sizeof want, "%sstrpos(c::text COLLATE \"C\", $1) = 1", pre);
    T_STREQ(match(SRC_TEXT_STARTS_WITH, 1), want, "text_match: starts_with");
    snprintf(want, sizeof want, "%sstrpos(c::text COLLATE \"C\", $1) > 0", pre);
    T_STREQ(match(SRC_TEXT_CONTAINS, 1), want, "text_match: contains");
    snprintf(want, sizeof want, "%sstrpos(reverse(c::text) COLLATE \"C\", reverse($1)) = 1", pre);
    T_STREQ(match(SRC_TEXT_ENDS_WITH, 1), want, "text_match: ends_with compares the reversed texts");
    T_STREQ(match(SRC_TEXT_ENDS_WITH, 0), "(offered)", "text_match: without a buffer, only whether it is offered");
    T_STREQ(match(SRC_TEXT_ENDS_WITH + 1, 1), "(not offered)", "text_match: another operator is not offered");
}

/* ---- errors */
static void test_errors(void)
{
    int port;
    int lfd = silent_listener(&port);
    char conninfo[128];
    snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d sslmode=disable gssencmode=disable", port);
    PGconn *pending = PQconnectStart(conninfo); /* connecting: not CONNECTION_BAD */
    T_CHECK(pending && PQstatus(pending) != CONNECTION_BAD, "a connection still being made is not bad");
    static const char *const retry[] = {"08006", "08001", "57P01", "57P02", "57P03", "40001", "40P01", "53300"};
    int wrong = 0;
    for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++)
        if (is_transient(pending, retry[i]) != 1) { printf("# %s not transient\n", retry[i]); wrong++; }
    static const char *const final[] = {"23505", "42P01", "57014", "40002", "53200", "0A000"};
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
        if (is_transient(pending, final[i]) != 0) { printf("# %s transient\n", final[i]); wrong++; }
    T_CHECK(wrong == 0 && is_transient(pending, NULL) == 0,
            "is_transient: connection errors, shutdowns, serialization failures, deadlocks and too "
            "many connections are retried; a unique violation, a missing table, a cancel are not");
    T_CHECK(is_transient(NULL, "23505") == 1, "is_transient: no connection at all is transient, whatever the state");

    diag *d = diag_new();
    T_CHECK(fail(NULL, NULL, d, "ping failed", NULL) == DIAG_ETRANSIENT &&
                !strcmp(diag_last(d), "postgresql: ping failed: connection lost: no response from server"),
            "fail: no connection: lost, no response");
    src_conn *c = calloc(1, sizeof *c);
    c->pg = pending;
    c->label = dupstr("db.example:5432 as app");
    T_CHECK(fail(c, NULL, d, "query failed", "SELECT 1") == DIAG_EIO &&
                !strcmp(diag_last(d), "postgresql: query failed on db.example:5432 as app: no response "
                                      "from server (query: SELECT 1)"),
            "fail: a live connection without a message: the label and the query named, not transient");
    c->broken = 1;
    T_CHECK(fail(c, NULL, d, "read failed", NULL) == DIAG_ETRANSIENT &&
                !strcmp(diag_last(d), "postgresql: read failed on db.example:5432 as app: connection "
                                      "lost: no response from server"),
            "fail: a connection whose pipeline lost its place: lost, retried");
    size_t nd = diag_count(d);
    T_CHECK(fail(c, NULL, NULL, "x", NULL) == DIAG_ETRANSIENT && diag_count(d) == nd,
            "fail: without a diag only the code");
    pg_close(c); /* PQfinish of the pending connection */
    close(lfd);

    /* a refused connection's message: libpq's prefix and its hint lines dropped */
    snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d sslmode=disable gssencmode=disable",
             closed_port());
    c = calloc(1, sizeof *c);
    c->pg = PQconnectdb(conninfo);
    T_CHECK(fail(c, NULL, d, "cannot list tables", NULL) == DIAG_ETRANSIENT &&
                !strcmp(diag_last(d), "postgresql: cannot list tables: connection lost: Connection refused"),
            "fail: a refused connection: libpq's 'connection to server ... failed: ' and its hint dropped");
    pg_close(c);
    const char *m;
    int ml;
    first_line(NULL, &m, &ml);
    T_CHECK(ml == 0, "first_line: no message is empty");
    first_line("FATAL:  password authentication failed for user \"x\"\nDETAIL: y", &m, &ml);
    T_CHECK(ml == 43 && !strncmp(m, "password authentication failed for user \"x\"", (size_t)ml),
            "first_line: 'FATAL:  ' and the lines after the first dropped");
    first_line("ERROR:  relation \"t\" does not exist", &m, &ml);
    T_CHECK(ml == 27 && !strncmp(m, "relation \"t\" does not exist", (size_t)ml), "first_line: 'ERROR:  ' dropped");
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    first_line(big, &m, &ml);
    T_CHECK(ml == 400, "first_line: a line is cut at 400 bytes");
    diag_free(d);
}

/* ---- connecting */
static int connect_with(src_config *cfg, diag *d)
{
    src_conn *c = (src_conn *)1;
    diag_clear(d);
    int rc = pg_connect(cfg, NULL, &c, d);
    if (rc == 0) pg_close(c);
    else if (c) return 99; /* *out must be NULL on failure */
    return rc;
}

static void test_connect(void)
{
    diag *d = diag_new();
    int port = closed_port();
    src_config cfg = {0};
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.username = "bob";
    cfg.password = "s3cret-pw";
    cfg.database = "shop";
    cfg.fetch_size = 100;
    cfg.connect_timeout = 5;
    cfg.schema = "sales";
    snprintf(want, sizeof want, "postgresql: cannot connect to 127.0.0.1:%d as bob: Connection refused", port);
    int rc = connect_with(&cfg, d);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want) && !strstr(diag_last(d), "s3cret"),
            "connect: a closed port: host, port and user named, libpq's reason, no password");
    cfg.ssl_enabled = 1;
    rc = connect_with(&cfg, d);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want), "connect: TLS required (no CA): the same refusal");
    char ca[] = "/tmp/sql2es-test-ca.XXXXXX";
    int fd = mkstemp(ca);
    T_CHECK(fd >= 0 && write(fd, "x\n", 2) == 2, "a readable CA file");
    close(fd);
    cfg.ssl_ca = ca;
    rc = connect_with(&cfg, d);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want), "connect: TLS with a CA file (verify-full): the same refusal");
    unlink(ca);
    rc = connect_with(&cfg, d);
    snprintf(want, sizeof want, "postgresql: ssl_ca: cannot read '%s': No such file or directory (give the "
             "CA certificate as PEM text or as a readable file)", ca);
    T_CHECK(rc == DIAG_EINVAL && !strcmp(diag_last(d), want), "connect: a CA file that is not there: named, refused");
    cfg.ssl_enabled = 0;
    cfg.ssl_ca = NULL;

    cfg.fetch_size = 0;
    rc = connect_with(&cfg, d);
    T_CHECK(rc == DIAG_EINVAL && !strcmp(diag_last(d), "postgresql: fetch_size must be > 0 (got 0)"),
            "connect: fetch_size 0 refused");
    cfg.fetch_size = 100;
    cfg.snapshot = "00000003-0000001B-1'; DROP TABLE t; --";
    rc = connect_with(&cfg, d);
    T_CHECK(rc == DIAG_EINVAL && !strcmp(diag_last(d), "postgresql: invalid snapshot name"),
            "connect: a snapshot name that is not hex and dashes refused (it is pasted into SQL)");
    cfg.snapshot = "00000003-0000001B-1";
    snprintf(want, sizeof want, "postgresql: cannot connect to 127.0.0.1:%d as bob: Connection refused", port);
    rc = connect_with(&cfg, d);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want), "connect: a valid snapshot name gets as far as the server");

    /* out of memory at each of the driver's own allocations */
    int bad = 0;
    for (int k = 0; k < 4; k++) {
        fail_in = k;
        rc = connect_with(&cfg, d);
        if (rc != DIAG_ENOMEM || strcmp(diag_last(d), "postgresql: out of memory")) {
            printf("# allocation %d: %d %s\n", k, rc, diag_last(d));
            bad++;
        }
    }
    fail_in = -1;
    T_CHECK(bad == 0, "connect: the connection, its schema, its snapshot, its label out of memory: refused, said");
    cfg.snapshot = NULL;

    /* no host, port or user given: libpq's (from the environment) named */
    setenv("PGHOST", "/nonexistent-sql2es-socket-dir", 1);
    char pt[16];
    snprintf(pt, sizeof pt, "%d", port);
    setenv("PGPORT", pt, 1);
    setenv("PGUSER", "envuser", 1);
    cfg.host = NULL;
    cfg.port = 0;
    cfg.username = NULL;
    cfg.connect_timeout = 0;
    cfg.schema = NULL;
    snprintf(want, sizeof want, "postgresql: cannot connect to /nonexistent-sql2es-socket-dir:%d as envuser: "
             "No such file or directory", port);
    rc = connect_with(&cfg, d);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want),
            "connect: host, port and user left to libpq: the ones it used are named");
    unsetenv("PGHOST");
    unsetenv("PGPORT");
    unsetenv("PGUSER");
    diag_free(d);
}

/* ---- stream open and drop without a server */
static void test_stream_names(void)
{
    diag *d = diag_new();
    int port = closed_port();
    src_config cfg = {0};
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.username = "bob";
    cfg.password = "s3cret-pw";
    cfg.fetch_size = 10;
    src_stream_opts o = {0};
    src_stream *s = (src_stream *)1;
    char snap[64] = "x";
    o.slot = "Slot";
    o.publication = "pub";
    int rc = pg_stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    T_CHECK(rc == DIAG_EINVAL && !s && !snap[0] &&
                !strcmp(diag_last(d), "postgresql: slot and publication names take lower-case letters, "
                                      "digits and '_' (at most 63): 'Slot', 'pub'"),
            "stream_open: an upper-case slot name refused, both names shown");
    o.slot = NULL;
    o.publication = "sql2es_pub";
    rc = pg_stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    T_CHECK(rc == DIAG_EINVAL && strstr(diag_last(d), "(at most 63): '', 'sql2es_pub'"),
            "stream_open: no slot name refused");
    char longname[65];
    memset(longname, 'a', 64);
    longname[64] = 0;
    o.slot = "sql2es_slot";
    o.publication = longname;
    T_CHECK(!plain_name(longname) && plain_name(longname + 1) && !plain_name("") && !plain_name(NULL) &&
                !plain_name("a-b") && pg_stream_open(&cfg, &o, &s, snap, sizeof snap, d) == DIAG_EINVAL,
            "plain_name: 64 characters, empty, missing and '-' refused; 63 taken");
    o.publication = "sql2es_pub";
    fail_in = 0;
    rc = pg_stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    T_CHECK(rc == DIAG_ENOMEM && !s, "stream_open: no memory for the stream");
    fail_in = -1;
    snprintf(want, sizeof want, "postgresql: cannot connect to 127.0.0.1:%d as bob: Connection refused", port);
    rc = pg_stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    T_CHECK(rc == DIAG_EIO && !s && !strcmp(diag_last(d), want),
            "stream_open: a closed port: refused, host and port named, no password");

    o.slot = "bad slot";
    T_CHECK(pg_stream_drop(&cfg, &o, d) == DIAG_EINVAL &&
                !strcmp(diag_last(d), "postgresql: invalid slot or publication name"),
            "stream_drop: a slot name with a space refused");
    o.slot = "sql2es_slot";
    o.publication = NULL;
    T_CHECK(pg_stream_drop(&cfg, &o, d) == DIAG_EINVAL, "stream_drop: no publication name refused");
    o.publication = "sql2es_pub";
    fail_in = 0;
    T_CHECK(pg_stream_drop(&cfg, &o, d) == DIAG_ENOMEM, "stream_drop: no memory for the stream");
    fail_in = -1;
    o.own_publication = 1;
    T_CHECK(pg_stream_drop(&cfg, &o, d) == DIAG_EIO && !strcmp(diag_last(d), want),
            "stream_drop: a closed port: refused before the publication is touched");
    diag_free(d);
}

/* ---- conversions */
static src_scan S;
static buf B;


static const char *array(conv_kind elem, const char *s)
{
    tinfo t = {0};
    t.cv = CV_ARRAY;
    t.elem_cv = elem;
    t.delim = ',';
    buf_reset(&B);
    int rc = conv_array(&S, &t, s, strlen(s), &B);
    return rc == DIAG_EINVAL ? "(malformed)" : rc ? "(failed)" : B.data ? B.data : "";
}

/* One value through convert() as a scan column of kind cv: "kind:text",
 * "null", or "(failed)". */
static const char *conv1(conv_kind cv, const char *p)
{
    static tinfo t;
    static src_value v;
    static size_t off;
    static char res[160];
    t = (tinfo){0, cv, CV_INT, ',', 0, -1};
    S.types = &t;
    S.row = &v;
    S.off = &off;
    S.ncols = 1;
    buf_reset(&S.rowbuf);
    if (convert(&S, 0, p, strlen(p)) != 0) return "(failed)";
    if (v.kind == SRC_NULL) return "null";
    const char *vp = off == SIZE_MAX ? v.p : S.rowbuf.data + off;
    static const char *const kinds[] = {"null", "bool", "number", "string", "json", "binary"};
    snprintf(res, sizeof res, "%s:%.*s", kinds[v.kind], (int)v.n, vp);
    return res;
}

static void test_conversions(void)
{
    /* is_nan_inf */
    T_CHECK(is_nan_inf("", 0) && is_nan_inf("NaN", 3) && is_nan_inf("-Infinity", 9) &&
                is_nan_inf("+Infinity", 9) && is_nan_inf("nan", 3) && is_nan_inf("inf", 3) &&
                !is_nan_inf("-1.5", 4) && !is_nan_inf("+2", 2) && !is_nan_inf("1e5", 3),
            "is_nan_inf: empty, NaN, +/-Infinity in either case; not numbers");
    /* dates */
    T_STREQ(dt(CV_DATE, "-", sizeof out), "(not understood)", "date: a lone '-'");
    T_STREQ(dt(CV_DATE, "-5", sizeof out), "(not understood)", "date: '-5' is no infinity");
    T_STREQ(dt(CV_DATE, "BC", sizeof out), "(not understood)", "date: 'BC' alone");
    T_STREQ(dt(CV_DATE, "1234567890-01-01", sizeof out), "(not understood)", "date: a ten-digit year");
    T_STREQ(dt(CV_DATE, "20240229", sizeof out), "(not understood)", "date: digits without dashes");
    T_STREQ(dt(CV_DATE, "0044-03-15 BC", 4), "(not understood)", "date BC: no room for the year");
    T_STREQ(dt(CV_DATE, "0001-03-15 BC", 4), "(not understood)", "date 1 BC: no room for the year");
    T_STREQ(dt(CV_TIMESTAMPTZ, "2024-02-29 13:14:15+01", sizeof out), "2024-02-29T13:14:15+01:00",
            "timestamptz +01: '+0' then not '0'");
    T_STREQ(dt(CV_TIMESTAMPTZ, "2024-02-29 13:14:15-10", sizeof out), "2024-02-29T13:14:15-10:00",
            "timestamptz -10");
    /* money's digits beyond the room are dropped, and then not a number? */
    /* bytea */
    buf_reset(&B);
    T_CHECK(conv_bytea("\\x4", 3, &B) == 0 && B.len == 0, "bytea hex: an odd last digit is ignored");
    buf_reset(&B);
    T_CHECK(conv_bytea("\\xG1", 4, &B) == DIAG_EINVAL && (buf_reset(&B), conv_bytea("\\x1g", 4, &B)) == DIAG_EINVAL &&
                (buf_reset(&B), conv_bytea("\\x:0", 4, &B)) == DIAG_EINVAL,
            "bytea hex: a bad high digit, a bad low digit, a digit past '9' refused");
    buf_reset(&B);
    T_CHECK(conv_bytea("\\xfF09", 6, &B) == 0 && B.len == 2 && !memcmp(B.data, "\xff\x09", 2) &&
                (buf_reset(&B), conv_bytea("x\\", 2, &B)) == 0 && B.len == 2 &&
                (buf_reset(&B), conv_bytea("\\4xy", 4, &B)) == 0 && B.len == 4 &&
                (buf_reset(&B), conv_bytea("\\", 1, &B)) == 0 && B.len == 1 && B.data[0] == '\\',
            "bytea: mixed-case hex; escape format: a trailing '\\', '\\4' (no octal), a lone '\\' kept");
    buf tiny;
    buf_init(&tiny, 2);
    T_CHECK(conv_bytea("\\x41424344", 10, &tiny) == DIAG_ELIMIT, "bytea hex: the buffer's limit reached");
    buf_reset(&tiny);
    T_CHECK(conv_bytea("abcd", 4, &tiny) == DIAG_ELIMIT, "bytea escape format: the buffer's limit reached");
    buf_reset(&tiny);
    T_CHECK(conv_point(&S, "(1,2)", 5, &tiny) == DIAG_ENOMEM, "point: the buffer's limit reached");
    buf_free(&tiny);
    buf_reset(&B);
    T_CHECK(conv_point(&S, "(1,2", 4, &B) == 0 && !strcmp(B.data, "\"(1,2\""), "point: a short text kept as a string");
    buf_reset(&B);
    T_CHECK(conv_point(&S, "[1,2)", 5, &B) == 0 && !strcmp(B.data, "\"[1,2)\""), "point: no '(' kept as a string");

    /* arrays: each element kind */
    T_STREQ(array(CV_INT, "{1,x2}"), "[1,\"x2\"]", "int array: a non-number element is a string");
    T_STREQ(array(CV_BOOL, "{t,\"\",f}"), "[true,false,false]", "bool array: an empty element is false");
    T_STREQ(array(CV_JSON, "{\"{\\\"a\\\": 1}\",null}"), "[{\"a\": 1},null]", "json array: the element's JSON as is");
    T_STREQ(array(CV_BYTEA, "{\"\\\\x4142\"}"), "[\"QUI=\"]", "bytea array: base64 of the bytes");
    T_STREQ(array(CV_BYTEA, "{\"\\\\xZZ\"}"), "(malformed)", "bytea array: bad hex refused");
    T_STREQ(array(CV_DATE, "{2024-01-02,infinity,\"x\"}"), "[\"2024-01-02\",null,\"x\"]",
            "date array: a date, infinity null, a non-date kept as text");
    T_STREQ(array(CV_TIMESTAMPTZ, "{\"2024-01-02 03:04:05+00\"}"), "[\"2024-01-02T03:04:05Z\"]",
            "timestamptz array");
    T_STREQ(array(CV_MONEY, "{\"$1,000.50\",free}"), "[1000.50,\"free\"]", "money array: a number, a non-amount kept");
    T_STREQ(array(CV_POINT, "{\"(1,2)\"}"), "[{\"x\":1,\"y\":2}]", "point array");
    T_STREQ(array(CV_STRING, "{a  ,\"b\\\\\"}"), "[\"a\",\"b\\\\\"]",
            "text array: trailing spaces dropped, an escaped backslash");
    T_STREQ(array(CV_STRING, "{\"c\\"), "(malformed)", "text array: a backslash at the very end");
    T_STREQ(array(CV_STRING, "{\"unterminated"), "(malformed)", "text array: a quote never closed");
    T_STREQ(array(CV_STRING, "{\"\"}"), "[\"\"]", "text array: an empty quoted element");
    T_STREQ(array(CV_STRING, "{nulls,NULL}"), "[\"nulls\",null]", "text array: 'nulls' is text, NULL is null");
    T_STREQ(array(CV_INT, ""), "", "an empty text: nothing");
    buf lim;
    buf_init(&lim, 3);
    tinfo ta = {0, CV_ARRAY, CV_INT, ',', 0, -1};
    T_CHECK(conv_array(&S, &ta, "{1,2,3}", 7, &lim) == DIAG_ELIMIT, "array: the buffer's limit reached");
    buf_free(&lim);

    /* convert(): each kind as a scan column */
    T_STREQ(conv1(CV_NUMERIC, "12.50"), "number:12.50", "convert: numeric text as a number");
    unsigned long long w = S.st.warnings;
    T_STREQ(conv1(CV_FLOAT, "-Infinity"), "null", "convert: -Infinity is null");
    T_CHECK(S.st.warnings == w + 1, "convert: and a warning");
    T_STREQ(conv1(CV_BOOL, "t"), "bool:true", "convert: bool t");
    T_STREQ(conv1(CV_BOOL, ""), "bool:false", "convert: bool of an empty text is false");
    T_STREQ(conv1(CV_JSON, "{\"a\":1}"), "json:{\"a\":1}", "convert: json as is");
    T_STREQ(conv1(CV_BYTEA, "\\x4142"), "binary:AB", "convert: bytea hex to its bytes");
    T_STREQ(conv1(CV_BYTEA, "\\xZZ"), "binary:\\xZZ", "convert: bytea that is no hex: its bytes as given");
    T_STREQ(conv1(CV_DATE, "infinity"), "null", "convert: an infinite date is null");
    T_STREQ(conv1(CV_TIMESTAMP, "yesterday"), "string:yesterday", "convert: a timestamp not understood: its text");
    T_STREQ(conv1(CV_TIMESTAMP, "2024-01-02 03:04:05"), "string:2024-01-02T03:04:05", "convert: a timestamp in ISO form");
    T_STREQ(conv1(CV_MONEY, "$1,234.50"), "number:1234.50", "convert: money as a number");
    T_STREQ(conv1(CV_MONEY, "n/a"), "string:n/a", "convert: money without digits: its text");
    T_STREQ(conv1(CV_POINT, "(3,4)"), "json:{\"x\":3,\"y\":4}", "convert: point as an object");
    T_STREQ(conv1(CV_ARRAY, "{1,2}"), "json:[1,2]", "convert: an int array");
    T_STREQ(conv1(CV_ARRAY, "{{1,2}"), "string:{{1,2}", "convert: a malformed array: its text");
    T_STREQ(conv1(CV_STRING, "abc"), "string:abc", "convert: a string borrowed");
    buf_free(&S.rowbuf);
    buf_init(&S.rowbuf, 1);
    T_STREQ(conv1(CV_BYTEA, "\\x414243"), "(failed)", "convert: bytea beyond the row buffer's limit fails");
    T_STREQ(conv1(CV_DATE, "2024-01-02"), "(failed)", "convert: a date beyond the row buffer's limit fails");
    buf_free(&S.rowbuf);
    buf_init(&S.rowbuf, 0);
}

/* ---- pgoutput decoder, allocations failing */
/* Relation oid: columns id int4, name text, and a third of type t3. */
static void relation_msg(uint32_t oid, uint32_t t3)
{
    mn = 0;
    m8('R'); m32(oid); mstr("public"); mstr("t"); m8('f'); m16(3);
    m8(1); mstr("id"); m32(23); m32(0xffffffff);
    m8(0); mstr("name"); m32(25); m32(0xffffffff);
    m8(0); mstr("extra"); m32(t3); m32(0xffffffff);
}
static void insert_msg(uint32_t oid)
{
    mn = 0; m8('I'); m32(oid); m8('N'); m16(3); mval("1"); mval("a"); mval(NULL);
}

static src_stream *new_stream(void)
{
    src_stream *s = calloc(1, sizeof *s);
    s->tc_failed = 1;
    return s;
}

static void test_decode_oom(void)
{
    diag *d = diag_new();
    src_change c;
    /* a Relation takes 13 allocations: schema, name, the names and types
     * arrays, three column names, five value arrays, the relation table */
    int bad = 0, k;
    for (k = 0; k < 13; k++) {
        src_stream *s = new_stream();
        relation_msg(16384, 25);
        fail_in = k;
        int r = decode(s, M, mn, &c, d);
        int left = fail_in;
        fail_in = -1;
        if (left >= 0) { printf("# allocation %d not made\n", k); bad++; }
        else if (r != DIAG_ENOMEM || strcmp(diag_last(d), "postgresql: out of memory") || s->nrels != 0) {
            printf("# allocation %d: decode %d, %d relations, %s\n", k, r, s->nrels, diag_last(d));
            bad++;
        } else {
            insert_msg(16384);
            r = decode(s, M, mn, &c, d);
            if (r != DIAG_EIO || strcmp(diag_last(d), "postgresql: a change of a relation the stream did not describe")) {
                printf("# allocation %d: the insert after: %d %s\n", k, r, diag_last(d));
                bad++;
            }
        }
        stream_free(s);
    }
    T_CHECK(bad == 0, "decode: a Relation whose allocation fails (each of 13): out of memory, the relation "
                      "not kept, its changes refused as undescribed");
    src_stream *s = new_stream();
    relation_msg(16384, 25);
    fail_in = 13;
    int r = decode(s, M, mn, &c, d);
    int left = fail_in;
    fail_in = -1;
    T_CHECK(r == 1 && left >= 0 && s->nrels == 1 && s->capvals == 3, "decode: a Relation takes no 14th allocation");
    /* described again, out of memory: the older description goes too */
    relation_msg(16384, 25);
    fail_in = 0;
    r = decode(s, M, mn, &c, d);
    fail_in = -1;
    T_CHECK(r == DIAG_ENOMEM && s->nrels == 0, "decode: a Relation described again, out of memory: neither kept");
    relation_msg(16384, 25);
    T_CHECK(decode(s, M, mn, &c, d) == 1 && s->nrels == 1, "decode: then described once more: kept");
    /* a second relation with no columns: no arrays allocated */
    mn = 0; m8('R'); m32(16390); mstr("public"); mstr("empty"); m8('d'); m16(0);
    r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && s->nrels == 2 && c.ncols == 0 && !strcmp(c.table, "empty"), "decode: a relation without columns");
    /* a name cut short: malformed, not out of memory */
    mn = 0; m8('R'); m32(16391); mstr("public"); m8('x');
    T_CHECK(decode(s, M, mn, &c, d) == DIAG_EIO && s->nrels == 2 &&
                !strcmp(diag_last(d), "postgresql: a malformed replication message ('R', 13 bytes)"),
            "decode: a Relation whose name is not terminated: malformed");
    /* a Delete whose old row cannot be had as a scan gives it (no memory
     * for the column types): the text forms kept */
    mn = 0; m8('D'); m32(16384); m8('K'); m16(3); mval("7"); mval(NULL); mval(NULL);
    fail_in = 0;
    r = decode(s, M, mn, &c, d);
    fail_in = -1;
    T_CHECK(r == 1 && c.kind == SRC_CHANGE_DELETE && !c.old_scan && c.old && c.old[0].n == 1 && c.old[0].p[0] == '7',
            "decode: a Delete without memory for the column types: the old key as text, no scan form");
    r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && c.old_scan && c.old_scan[0].kind == SRC_NUMBER, "decode: the next Delete has its scan form");
    /* Truncate: no memory for its list */
    mn = 0; m8('T'); m32(1); m8(0); m32(16384);
    fail_in = 0;
    r = decode(s, M, mn, &c, d);
    fail_in = -1;
    T_CHECK(r == DIAG_ENOMEM && !strcmp(diag_last(d), "postgresql: out of memory"), "decode: a Truncate out of memory: said so");
    mn = 0; m8('T'); m32(0xffffffffu); m8(0);
    T_CHECK(decode(s, M, mn, &c, d) == DIAG_EIO, "decode: a Truncate of -1 relations: malformed");
    mn = 0; m8('T'); m32(0); m8(0);
    T_CHECK(decode(s, M, mn, &c, d) == 0 && s->ntrunc == 0, "decode: a Truncate of no relation: nothing");
    /* Commit without its time */
    mn = 0; m8('C'); m8(0); m64(1); m64(0x10);
    r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && c.kind == SRC_CHANGE_COMMIT && c.time == 0 && !strcmp(c.pos, "0/10"),
            "decode: a Commit without its time: the position, time 0");
    /* Insert with 'K' (only for updates and deletes), an update without the old row */
    mn = 0; m8('I'); m32(16384); m8('K'); m16(1); mval("1");
    T_CHECK(decode(s, M, mn, &c, d) == DIAG_EIO, "decode: an Insert with a key tuple: malformed");
    mn = 0; m8('U'); m32(16384); m8('N'); m16(4); mval("1"); m8('b'); m32(1); m8('z'); mval(NULL); mval("extra");
    r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && c.kind == SRC_CHANGE_UPDATE && !c.old && c.row[1].kind == SRC_STRING && c.row[1].n == 1 &&
                c.row[2].kind == SRC_NULL,
            "decode: an Update without the old row, a binary value, a column more than described ignored");
    mn = 0; m8('U'); m32(16384); m8('K'); m16(1); mval("1"); m8('X');
    T_CHECK(decode(s, M, mn, &c, d) == DIAG_EIO, "decode: an Update whose new tuple has another marker: malformed");
    stream_free(s);

    /* a column type that is not built in, the catalog connection refused:
     * kept as text, and not tried again */
    int port = closed_port();
    src_config cfg = {0};
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.fetch_size = 10;
    cfg.connect_timeout = 2;
    s = calloc(1, sizeof *s);
    s->cfg = &cfg;
    relation_msg(16384, 99999);
    decode(s, M, mn, &c, d);
    relation_msg(16385, 99998);
    decode(s, M, mn, &c, d);
    mn = 0; m8('D'); m32(16384); m8('O'); m16(3); mval("7"); mval("x"); mval("(1,2)");
    r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && c.old_scan && s->tc_failed && !s->tc && c.old_scan[2].kind == SRC_STRING &&
                c.old_scan[2].n == 5 && !memcmp(c.old_scan[2].p, "(1,2)", 5),
            "decode: a type not built in, no catalog connection: its text");
    mn = 0; m8('D'); m32(16385); m8('O'); m16(3); mval("8"); mval(""); mval("q");
    r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && c.old_scan && c.old_scan[2].kind == SRC_STRING &&
                c.old_scan[2].n == 1 && c.old_scan[1].kind == SRC_STRING && c.old_scan[1].n == 0,
            "decode: the next relation's unknown type is not looked up again: its text");
    stream_free(s);

    /* grow_vals: each of its five arrays out of memory */
    bad = 0;
    for (k = 0; k < 5; k++) {
        s = new_stream();
        fail_in = k;
        int g = grow_vals(s, 4);
        fail_in = -1;
        if (g != -1 || s->capvals != 0) { printf("# grow_vals %d: %d %d\n", k, g, s->capvals); bad++; }
        if (grow_vals(s, 4) != 0 || s->capvals != 4 || grow_vals(s, 2) != 0 || s->capvals != 4) bad++;
        stream_free(s);
    }
    T_CHECK(bad == 0, "grow_vals: any of its arrays out of memory fails and keeps the old size; then it grows");
    diag_free(d);
}

int main(void)
{
    T_PLAN(108);
    test_text_match();
    test_errors();
    test_connect();
    test_stream_names();
    buf_init(&S.rowbuf, 0);
    test_conversions();
    test_decode_oom();
    buf_free(&B);
    buf_free(&S.rowbuf);
    buf_free(&S.tmp);
    buf_free(&S.tmp2);
    return T_DONE();
}
