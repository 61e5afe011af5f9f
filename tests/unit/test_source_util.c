/* test_source_util.c - the helpers the source drivers share (sources/util.c)
 * and the driver-table lookups (sources/dialect.c), without a database: a
 * scripted driver for src_query_each, name lists, and the CA file that
 * libpq/libmariadb read for `ssl_ca` (PEM text written to a private
 * temporary file, or a file name checked for readability).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "sources/source.h"
#include "t.h"

/* ---------------------------------------------------------------- a scripted driver */

static int q_ident(buf *o, const char *s) { return buf_puts(o, s); }
static int q_ph(buf *o, int n) { return buf_printf(o, "?%d", n); }

struct src_scan {
    int next_row, nrows, fail_at;
    src_value v[1];
};
static int begin_rc, ended;
static const char *seen_sql;
static int seen_np;
static char names[40][16];

static int s_begin(src_conn *c, const src_query *q, src_scan **out, diag *d)
{
    (void)c;
    seen_sql = q->sql;
    seen_np = q->nparams;
    if (begin_rc) {
        diag_error(d, (src_loc){0}, "begin failed");
        return begin_rc;
    }
    static src_scan s;
    memset(&s, 0, sizeof s);
    s.nrows = 40;
    s.fail_at = -1;
    *out = &s;
    return 0;
}

static int fail_at = -1;
static int s_next(src_scan *s, const src_value **row, diag *d)
{
    if (s->next_row == fail_at) {
        diag_error(d, (src_loc){0}, "read failed");
        return DIAG_EIO;
    }
    if (s->next_row >= s->nrows) return 0;
    int i = s->next_row++;
    snprintf(names[i], sizeof names[i], "n%02d", (39 - i) & 63); /* descending: sort has work */
    s->v[0] = i == 7 ? (src_value){SRC_NULL, NULL, 0}
                     : (src_value){SRC_STRING, names[i], strlen(names[i])};
    *row = s->v;
    return 1;
}

static void s_end(src_scan *s)
{
    (void)s;
    ended++;
}

static const src_driver sdrv = {.version = SRC_DRIVER_VERSION, .name = "scripted",
                                .quote_ident = q_ident, .placeholder = q_ph,
                                .begin_scan = s_begin, .next = s_next, .end_scan = s_end};

static int stop_after;
static int stop_cb(void *ctx, const src_value *row)
{
    (void)row;
    int *n = ctx;
    return ++*n == stop_after ? 42 : 0;
}

/* ---------------------------------------------------------------- helpers */

static const char *last(diag *d) { return diag_last(d) ? diag_last(d) : ""; }

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char text[512];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    return text;
}

static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";

int main(void)
{
    T_PLAN(28);
    arena *a = arena_new();
    diag *d = diag_new();

    /* ---- src_query_each + src_name_list_add/sort + src_value_dup */
    src_name_list l = {a, NULL, 0, 0};
    const char *params[] = {"x", NULL};
    int rc = src_query_each(&sdrv, NULL, "SELECT name", params, 2, src_name_list_add, &l, d);
    T_CHECK(rc == 0 && l.n == 40 && ended == 1 && seen_np == 2 && strcmp(seen_sql, "SELECT name") == 0,
            "query_each: 40 rows through the callback, the list grows past 32, the scan ended");
    T_CHECK(l.names[7] == NULL && strcmp(l.names[0], "n39") == 0 && strcmp(l.names[39], "n00") == 0,
            "value_dup: a NULL value is a NULL name, strings are copied");
    l.names[7] = "n32"; /* the NULL row stood for it */
    src_name_list_sort(&l);
    int sorted = 1;
    for (int i = 0; i < 40; i++) {
        char want[16];
        snprintf(want, sizeof want, "n%02d", i);
        if (strcmp(l.names[i], want) != 0) sorted = 0;
    }
    T_CHECK(sorted, "name_list_sort: bytewise ascending");
    src_name_list one = {a, NULL, 0, 0};
    src_value v = {SRC_STRING, "only", 4};
    src_name_list_add(&one, &v);
    src_name_list_sort(&one);
    T_CHECK(one.n == 1 && one.cap == 32 && strcmp(one.names[0], "only") == 0,
            "name_list: one name, first capacity 32");

    int count = 0;
    stop_after = 5;
    rc = src_query_each(&sdrv, NULL, "SELECT 1", NULL, 0, stop_cb, &count, d);
    T_CHECK(rc == 42 && count == 5 && ended == 2, "query_each: a callback's non-zero stops the scan, "
                                                   "is returned, and the scan is ended");
    begin_rc = DIAG_ETRANSIENT;
    count = 0;
    rc = src_query_each(&sdrv, NULL, "SELECT 2", NULL, 0, stop_cb, &count, d);
    T_CHECK(rc == DIAG_ETRANSIENT && count == 0 && ended == 2 && strcmp(last(d), "begin failed") == 0,
            "query_each: begin_scan's error is returned, no end_scan of a scan never begun");
    begin_rc = 0;
    fail_at = 3;
    count = 0;
    stop_after = 100;
    rc = src_query_each(&sdrv, NULL, "SELECT 3", NULL, 0, stop_cb, &count, d);
    T_CHECK(rc == DIAG_EIO && count == 3 && ended == 3 && strcmp(last(d), "read failed") == 0,
            "query_each: a read error after 3 rows is returned, the scan ended");
    fail_at = -1;

    /* ---- src_dialect_find / src_drivers_check */
    static const char *const al[] = {"scr", "scripted2", NULL};
    src_driver aliased = sdrv;
    aliased.aliases = al;
    src_driver old = sdrv;
    old.name = "old";
    old.version = SRC_DRIVER_VERSION - 1;
    src_driver bare = sdrv;
    bare.name = "bare";
    bare.placeholder = NULL;
    src_driver noname = bare;
    noname.name = NULL;
    const src_driver *const table[] = {&aliased, &old, &bare, NULL};
    T_CHECK(src_dialect_find(table, "scripted") == &aliased && src_dialect_find(table, "scripted2") == &aliased &&
                src_dialect_find(table, "scr") == &aliased,
            "dialect_find: by name and by each alias");
    T_CHECK(src_dialect_find(table, "old") == NULL && src_dialect_find(table, "bare") == NULL,
            "dialect_find: another interface version or a missing dialect slot is not found");
    T_CHECK(src_dialect_find(table, "nope") == NULL && src_dialect_find(NULL, "scripted") == NULL &&
                src_dialect_find(table, NULL) == NULL,
            "dialect_find: unknown name, no table, no name");
    T_CHECK(src_drivers_check(table + 0, d) == DIAG_EINVAL &&
                strstr(last(d), "source driver 'old' has interface version 1, sql2es 2"),
            "drivers_check: the first driver of another version is named");
    const src_driver *const t2[] = {&aliased, &bare, NULL};
    T_CHECK(src_drivers_check(t2, d) == DIAG_EINVAL &&
                strcmp(last(d), "source driver 'bare' lacks its dialect (quote_ident, placeholder)") == 0,
            "drivers_check: a driver without placeholder is named");
    const src_driver *const t3[] = {&noname, NULL};
    T_CHECK(src_drivers_check(t3, d) == DIAG_EINVAL && strstr(last(d), "source driver '?' lacks"),
            "drivers_check: a driver without a name is '?'");
    const src_driver *const t4[] = {&aliased, NULL};
    T_CHECK(src_drivers_check(t4, d) == 0 && src_drivers_check(NULL, d) == 0,
            "drivers_check: good table, no table");
    T_CHECK(src_driver_find("postgresql") != NULL && src_driver_find("sqlite") != NULL &&
                src_driver_find("nosuchdb") == NULL,
            "driver_find: the built-in table");

    /* ---- src_ca_file_open / done */
    char dir[] = "/tmp/sql2es-ca-test.XXXXXX";
    T_CHECK(mkdtemp(dir) != NULL, "temporary directory");
    setenv("TMPDIR", dir, 1);
    src_ca_file f;
    T_CHECK(src_ca_file_open(&f, NULL, "pg", d) == 0 && f.path[0] == 0 && !f.temporary &&
                src_ca_file_open(&f, "", "pg", d) == 0 && f.path[0] == 0,
            "ca_file: no ssl_ca, no file");

    char pemfile[300];
    snprintf(pemfile, sizeof pemfile, "%s/ca.pem", dir);
    FILE *pf = fopen(pemfile, "w");
    fputs(pem, pf);
    fclose(pf);
    T_CHECK(src_ca_file_open(&f, pemfile, "pg", d) == 0 && strcmp(f.path, pemfile) == 0 && !f.temporary,
            "ca_file: a readable file name is used as it is");
    src_ca_file_done(&f);
    T_CHECK(access(pemfile, R_OK) == 0 && f.path[0] == 0, "ca_file: done leaves a given file in place");

    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.pem", dir);
    int errs = diag_errors(d);
    T_CHECK(src_ca_file_open(&f, missing, "mysql 'db1'", d) == DIAG_EINVAL && diag_errors(d) == errs + 1 &&
                strstr(last(d), "mysql 'db1': ssl_ca: cannot read '") &&
                strstr(last(d), "none.pem': No such file or directory (give the CA certificate as PEM "
                                "text or as a readable file)"),
            "ca_file: an unreadable file name is an error naming the connector and the file");
    char *longname = malloc(5000);
    memset(longname, 'a', 4999);
    longname[4999] = 0;
    T_CHECK(src_ca_file_open(&f, longname, "pg", d) == DIAG_EINVAL &&
                strcmp(last(d), "pg: ssl_ca: the file name is too long") == 0,
            "ca_file: a file name longer than a path is refused");
    free(longname);

    /* PEM text (after blank space) goes to a private temporary file under $TMPDIR */
    char text[200];
    snprintf(text, sizeof text, " \t\r\n%s", pem);
    T_CHECK(src_ca_file_open(&f, text, "pg", d) == 0 && f.temporary &&
                strncmp(f.path, dir, strlen(dir)) == 0 && strstr(f.path, "/sql2es-ca."),
            "ca_file: PEM text is written to a temporary file in $TMPDIR");
    struct stat st;
    char want[220];
    snprintf(want, sizeof want, "%s\n", text);
    char *got = slurp(f.path);
    T_CHECK(stat(f.path, &st) == 0 && (st.st_mode & 0777) == 0600 && got && strcmp(got, want) == 0,
            "ca_file: mode 0600, the text and a final newline");
    char tmpname[4096];
    snprintf(tmpname, sizeof tmpname, "%s", f.path);
    src_ca_file_done(&f);
    T_CHECK(access(tmpname, F_OK) != 0 && f.path[0] == 0 && !f.temporary,
            "ca_file: done removes the temporary file");
    snprintf(text, sizeof text, "%s\n", pem);
    got = NULL;
    if (src_ca_file_open(&f, text, "pg", d) == 0) got = slurp(f.path);
    T_CHECK(got && strcmp(got, text) == 0, "ca_file: PEM text ending in a newline gets no second one");
    src_ca_file_done(&f);

    snprintf(missing, sizeof missing, "%s/no-such-dir", dir);
    setenv("TMPDIR", missing, 1);
    T_CHECK(src_ca_file_open(&f, pem, "pg", d) == DIAG_EIO && f.path[0] == 0 && !f.temporary &&
                strstr(last(d), "pg: ssl_ca: cannot create a temporary file in ") &&
                strstr(last(d), "no-such-dir: No such file or directory") && !strstr(last(d), "MIIB"),
            "ca_file: an unusable $TMPDIR is an error, never the certificate text");
    setenv("TMPDIR", "", 1);
    T_CHECK(src_ca_file_open(&f, pem, "pg", d) == 0 && strncmp(f.path, "/tmp/sql2es-ca.", 15) == 0,
            "ca_file: an empty $TMPDIR means /tmp");
    src_ca_file_done(&f);
    src_ca_file_done(&f); /* twice: nothing left to remove */
    T_CHECK(f.path[0] == 0, "ca_file: done twice");

    unlink(pemfile);
    rmdir(dir);
    diag_free(d);
    arena_free(a);
    return T_DONE();
}
