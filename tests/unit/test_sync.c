/* test_sync.c - one sync run in-process: the SQLite driver on temporary
 * database files and the in-memory sink, no server. Full runs, the sweep of
 * unseen documents (and none when a table failed), incremental runs and the
 * state file (the watermark saved only after acknowledgement), resuming
 * after a failed driver next(), and `lag` on a cursor value that is not a
 * timestamp (a heap overread before it was parsed strictly), and a served
 * run's position: watermarks from the caller, resuming a job from its
 * acknowledged position with an exact sweep.
 * Fixtures are written by the sqlite3 command-line tool. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/fault.h"
#include "dsl/dsl.h"
#include "sinks/sink.h"
#include "sources/source.h"
#include "sync/sync.h"
#include "t.h"

static char dir[256], db[300], state[300];
static buf msgs;

static int sql(const char *text)
{
    char in[400], cmd[1000];
    snprintf(in, sizeof in, "%s/in.sql", dir);
    FILE *f = fopen(in, "w");
    if (!f) return -1;
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "sqlite3 -batch '%s' <'%s'", db, in);
    return system(cmd);
}

static int retries; /* the configuration's retry_count */

static plan *compile(const char *tables, const char *mappings)
{
    buf y = BUF_INIT;
    buf_printf(&y,
               "elasticsearch: { host: \"http://127.0.0.1:1\" }\n"
               "connectors:\n"
               "  - connector_id: lite\n"
               "    service_type: sqlite\n"
               "    configuration: { path: \"%s\", retry_count: %d, tables: [%s] }\n"
               "    mappings:\n%s",
               db, retries, tables, mappings);
    diag *d = diag_new();
    plan *p = dsl_compile_string("test.yml", y.data, y.len, src_drivers, d);
    if (!p) fprintf(stderr, "compile: %s\n", diag_last(d));
    diag_free(d);
    buf_free(&y);
    return p;
}

static sink *mem_factory(void *ctx, const plan_connector *pc, diag *d)
{
    (void)pc;
    return sink_mem_new(ctx, d);
}

/* One run; messages of the run in msgs. Returns the exit code. */
/* A served run's options (NULL: a plain run); the last position reported. */
static const char *served_cursor, *served_resume;
static char last_pos[4096];
static volatile sig_atomic_t stop_req;
static const char *stop_when; /* stop once a position contains this */

static void on_pos(void *ctx, const char *json)
{
    (void)ctx;
    snprintf(last_pos, sizeof last_pos, "%s", json);
    if (stop_when && strstr(json, stop_when)) stop_req = 1;
}

static int run(const plan *p, sink_mem_store *store, eng_mode mode, const char *table,
               eng_sync_stats *st)
{
    eng_sync_opts o = {0};
    o.mode = mode;
    o.table = table;
    o.quiet = 1;
    o.state_file = state;
    o.sink_new = mem_factory;
    o.sink_ctx = store;
    if (served_cursor) {
        o.cursor_json = served_cursor;
        o.resume_json = served_resume;
        o.on_position = on_pos;
        o.stop = &stop_req;
        last_pos[0] = '\0';
        stop_req = 0;
    }
    diag *d = diag_new();
    int code = eng_sync_run(p, &o, st, d);
    buf_reset(&msgs);
    for (size_t i = 0; i < diag_count(d); i++) buf_printf(&msgs, "%s\n", diag_get(d, i)->text);
    diag_free(d);
    return code;
}

static char *slurp(const char *path)
{
    static char text[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = '\0';
    return text;
}

static const char *msg(void) { return msgs.data ? msgs.data : ""; }

static void test_full_and_sweep(void)
{
    sql("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n"
        "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');\n");
    plan *p = compile("items", "      items: { index: t-items, id: \"i-{{ id }}\" }\n");
    plan *p2 = compile("items, broken", "      items: { index: t-items, id: \"i-{{ id }}\" }\n"
                       "      broken: { index: t-items, id: \"b-{{ id }}\", fields: { x: nosuch } }\n");
    sql("CREATE TABLE broken (id INTEGER PRIMARY KEY, y TEXT);\n");
    sink_mem_store *store = sink_mem_store_new();
    eng_sync_stats st;

    int code = run(p, store, ENG_MODE_FULL, "items", &st);
    T_CHECK(code == 0, "full: exit 0");
    T_CHECK(sink_mem_has_index(store, "t-items"), "full: the index is created");
    T_CHECK(sink_mem_count(store, "t-items") == 3 && st.docs == 3 && st.rows == 3 && st.indexed == 3,
            "full: three rows, three documents acknowledged");
    const char *doc = sink_mem_get(store, "t-items", "i-2");
    T_CHECK(doc && strstr(doc, "\"name\":\"b\""), "full: the document's source");

    /* without --table: both tables write into t-items, one fails: no sweep */
    sql("DELETE FROM items WHERE id = 3;\n");
    code = run(p2, store, ENG_MODE_FULL, NULL, &st);
    T_CHECK(code == 1 && strstr(msg(), "nosuch"), "a table that does not bind fails the run");
    T_CHECK(sink_mem_get(store, "t-items", "i-3") != NULL && st.swept == 0,
            "sweep: nothing deleted when a table of the index failed");

    code = run(p, store, ENG_MODE_FULL, NULL, &st);
    T_CHECK(code == 0 && st.swept == 1, "sweep: one unseen document deleted");
    T_CHECK(sink_mem_get(store, "t-items", "i-3") == NULL && sink_mem_count(store, "t-items") == 2,
            "sweep: the deleted row's document is gone, the others stay");

    /* resume: the second next() of the scan fails (transient); the scan
     * reconnects and resumes after the last key written */
    sql("INSERT INTO items VALUES (3, 'c'), (4, 'd');\n");
    fault_set(FAULT_DRIVER, 0, 0);
    code = run(p, store, ENG_MODE_FULL, NULL, &st);
    uint64_t calls = fault_count(FAULT_DRIVER);
    /* open, list_tables, describe, begin_scan, next (row 1), next (row 2).
     * retry_count: 0 means no retry (the plan's 0 is not replaced by a default) */
    fault_set(FAULT_DRIVER, 6, 0);
    code = run(p, store, ENG_MODE_FULL, NULL, &st);
    T_CHECK(code == 1 && !strstr(msg(), "resuming") && st.swept == 0,
            "retry_count 0: a failed read fails the table, no resume, no sweep");
    retries = 1;
    plan *p3 = compile("items", "      items: { index: t-items, id: \"i-{{ id }}\" }\n");
    retries = 0;
    fault_set(FAULT_DRIVER, 6, 0);
    code = run(p3, store, ENG_MODE_FULL, NULL, &st);
    fault_set(FAULT_DRIVER, 0, 0);
    plan_free(p3);
    T_CHECK(calls > 6, "resume: the run makes more than six driver calls");
    T_CHECK(code == 0 && strstr(msg(), "resuming after 1 rows"), "resume: a warning, then resumed");
    T_CHECK(st.rows == 4 && st.docs == 4 && sink_mem_count(store, "t-items") == 4 && st.swept == 0,
            "resume: every row once, no duplicate, nothing swept");

    sink_mem_store_free(store);
    plan_free(p);
    plan_free(p2);
}

static void test_incremental(void)
{
    sql("CREATE TABLE events (id INTEGER PRIMARY KEY, v TEXT, updated TEXT);\n"
        "INSERT INTO events VALUES (1, 'x', '2024-01-01 00:00:00'), (2, 'y', '2024-01-02 00:00:00'),\n"
        "  (3, 'z', '2024-01-03 00:00:00');\n");
    plan *p = compile("events", "      events:\n"
                      "        index: t-events\n"
                      "        id: \"e-{{ id }}\"\n"
                      "        incremental: { cursor: [updated, id] }\n");
    sink_mem_store *store = sink_mem_store_new();
    eng_sync_stats st;
    unlink(state);

    int code = run(p, store, ENG_MODE_AUTO, "events", &st);
    T_CHECK(code == 0 && st.rows == 3 && sink_mem_count(store, "t-events") == 3,
            "incremental: the first run reads every row");
    T_CHECK(strstr(slurp(state), "lite\tevents\t2\t2024-01-03 00:00:00\t3\n") != NULL,
            "state file: the watermark of the first run");

    sql("INSERT INTO events VALUES (4, 'w', '2024-01-04 00:00:00');\n"
        "UPDATE events SET v = 'x2', updated = '2024-01-05 00:00:00' WHERE id = 1;\n");
    code = run(p, store, ENG_MODE_AUTO, "events", &st);
    T_CHECK(code == 0 && st.rows == 2, "incremental: the next run reads the two changed rows");
    const char *doc = sink_mem_get(store, "t-events", "e-1");
    T_CHECK(doc && strstr(doc, "x2"), "incremental: the changed row's document");
    T_CHECK(strstr(slurp(state), "lite\tevents\t2\t2024-01-05 00:00:00\t1\n") != NULL,
            "state file: the watermark moved");

    /* a rejected document: not acknowledged, the watermark stays */
    sql("INSERT INTO events VALUES (5, 'v', '2024-01-06 00:00:00');\n");
    sink_mem_reject(store, "e-5");
    code = run(p, store, ENG_MODE_AUTO, "events", &st);
    T_CHECK(code == 1 && st.failed == 1 && strstr(msg(), "watermark not saved"),
            "ack: a rejected document fails the run and keeps the watermark");
    T_CHECK(strstr(slurp(state), "2024-01-05 00:00:00\t1\n") != NULL, "ack: the state file unchanged");
    sink_mem_reject(store, NULL);
    code = run(p, store, ENG_MODE_AUTO, "events", &st);
    T_CHECK(code == 0 && st.rows == 1 && sink_mem_get(store, "t-events", "e-5") != NULL,
            "ack: the next run reads the rejected row again");
    T_CHECK(strstr(slurp(state), "lite\tevents\t2\t2024-01-06 00:00:00\t5\n") != NULL,
            "ack: then the watermark moves");

    /* the sink fails in the middle: nothing saved either */
    sql("INSERT INTO events VALUES (6, 'u', '2024-01-07 00:00:00'), (7, 't', '2024-01-08 00:00:00');\n");
    sink_mem_fail_add(store, 1);
    code = run(p, store, ENG_MODE_AUTO, "events", &st);
    sink_mem_fail_add(store, 0);
    T_CHECK(code == 1 && strstr(slurp(state), "2024-01-06 00:00:00\t5\n") != NULL,
            "a failing sink: exit 1, the watermark stays");

    sink_mem_store_free(store);
    plan_free(p);
}

static void test_lag(void)
{
    sql("CREATE TABLE lagged (id INTEGER PRIMARY KEY, ts TEXT);\n"
        "INSERT INTO lagged VALUES (1, '2024-01-06T01:02:00'), (2, '2024-01-06T01:02:03');\n"
        "CREATE TABLE loose (id INTEGER PRIMARY KEY, ts TEXT);\n"
        "INSERT INTO loose VALUES (1, '2024-01-06T1:2:3');\n");
    plan *p = compile("lagged, loose", "      lagged: { index: t-lag, incremental: { cursor: ts, lag: 30s } }\n"
                      "      loose: { index: t-loose, incremental: { cursor: ts, lag: 30s } }\n");
    sink_mem_store *store = sink_mem_store_new();
    eng_sync_stats st;
    unlink(state);

    int code = run(p, store, ENG_MODE_AUTO, "lagged", &st);
    T_CHECK(code == 0 && st.rows == 2, "lag: first run");
    sql("INSERT INTO lagged VALUES (3, '2024-01-06T01:05:00');\n");
    code = run(p, store, ENG_MODE_AUTO, "lagged", &st);
    /* from 01:01:33 (01:02:03 minus 30 s): rows 1 and 2 again, and row 3 */
    T_CHECK(code == 0 && st.rows == 3, "lag: the window re-reads the last 30 seconds");
    T_CHECK(strstr(slurp(state), "lite\tlagged\t1\t2024-01-06T01:05:00\n") != NULL,
            "lag: the watermark is the greatest cursor value");

    /* not zero-padded: refused with the table and the value, twice (the
     * second run used to read past the end of the saved value) */
    for (int i = 0; i < 2; i++) {
        code = run(p, store, ENG_MODE_AUTO, "loose", &st);
        T_CHECK(code == 1 && strstr(msg(), "loose") && strstr(msg(), "'2024-01-06T1:2:3'") &&
                    strstr(msg(), "not a date or timestamp"),
                "lag: a cursor value that is not a timestamp is an error naming table and value");
    }
    T_CHECK(strstr(slurp(state), "loose") == NULL, "lag: no watermark saved for it");

    /* a watermark saved by an older version, not zero-padded */
    FILE *f = fopen(state, "w");
    if (f) {
        fputs("lite\tloose\t1\t2024-01-06T1:2:3\n", f);
        fclose(f);
    }
    sql("UPDATE loose SET ts = '2024-01-06T01:02:03';\n");
    code = run(p, store, ENG_MODE_AUTO, "loose", &st);
    T_CHECK(code == 1 && strstr(msg(), "'2024-01-06T1:2:3'"),
            "lag: a saved watermark that is not a timestamp is an error too");

    sink_mem_store_free(store);
    plan_free(p);
}

/* A served job: positions, resume after a stop and from a key inside a
 * table, the sweep after a resume, watermarks from and to the caller. */
static void test_resume(void)
{
    sql("CREATE TABLE r_items (id INTEGER PRIMARY KEY, name TEXT);\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)\n"
        "  INSERT INTO r_items SELECT i, 'item ' || i FROM n;\n"
        "CREATE TABLE r_more (id INTEGER PRIMARY KEY, name TEXT);\n"
        "INSERT INTO r_more VALUES (1, 'a'), (2, 'b'), (3, 'c');\n"
        "CREATE TABLE r_ev (id INTEGER PRIMARY KEY, updated TEXT);\n"
        "INSERT INTO r_ev VALUES (1, '2024-01-01'), (2, '2024-01-02'), (3, '2024-01-03');\n");
    plan *p = compile("r_items, r_more", "      r_items: { index: t-res, id: \"i-{{ id }}\" }\n"
                      "      r_more: { index: t-res2, id: \"m-{{ id }}\" }\n");
    plan *pe = compile("r_ev", "      r_ev: { index: t-ev, incremental: { cursor: [updated, id] } }\n");
    sink_mem_store *store = sink_mem_store_new();
    eng_sync_stats st;
    unlink(state);
    served_cursor = "{}";

    /* stopped once the first table is acknowledged */
    stop_when = "\"done\":[\"r_items\"]";
    int code = run(p, store, ENG_MODE_FULL, NULL, &st);
    stop_when = NULL;
    T_CHECK(code == 1 && st.interrupted && sink_mem_count(store, "t-res") == 10 &&
                sink_mem_count(store, "t-res2") == 0,
            "served: stopped after the first table");
    T_CHECK(strstr(last_pos, "\"done\":[\"r_items\"],\"table\":null") && st.bytes > 0 &&
                strstr(last_pos, "\"bytes\":0") == NULL,
            "served: the position names the finished table and the acknowledged bytes");
    T_CHECK(access(state, F_OK) != 0, "served: no state file is written");

    /* resumed: the finished table is not sent again, its ids still count */
    char pos[4096];
    snprintf(pos, sizeof pos, "%s", last_pos);
    served_resume = pos;
    uint64_t acked0 = sink_mem_acked(store);
    code = run(p, store, ENG_MODE_FULL, NULL, &st);
    T_CHECK(code == 0 && st.docs == 3 && sink_mem_acked(store) - acked0 == 3 && st.swept == 0 &&
                sink_mem_count(store, "t-res") == 10 && sink_mem_count(store, "t-res2") == 3,
            "resume: only the unfinished table is sent, nothing swept");
    T_CHECK(strstr(last_pos, "\"done\":[\"r_items\",\"r_more\"]") != NULL,
            "resume: both tables done at the end");

    /* from a key inside a table: rows 2 (before it) and 7 (after it) were
     * deleted in the source meanwhile; the keys up to it are re-read for
     * the sweep, nothing before it is sent */
    sql("DELETE FROM r_items WHERE id IN (2, 7);\n");
    served_resume = "{\"v\":1,\"done\":[],\"table\":\"r_items\",\"key\":[\"4\"],\"upper\":null,"
                    "\"bytes\":1000,\"watermarks\":{}}";
    acked0 = sink_mem_acked(store);
    code = run(p, store, ENG_MODE_FULL, NULL, &st);
    T_CHECK(code == 0 && st.rows == 5 + 3 && st.docs == 5 + 3, "resume at a key: rows after it only");
    T_CHECK(st.swept == 2 && !sink_mem_get(store, "t-res", "i-2") && !sink_mem_get(store, "t-res", "i-7") &&
                sink_mem_get(store, "t-res", "i-1") && sink_mem_get(store, "t-res", "i-3") &&
                sink_mem_get(store, "t-res", "i-4") && sink_mem_count(store, "t-res") == 8,
            "resume at a key: the sweep deletes exactly the rows gone from the source");
    T_CHECK(sink_mem_acked(store) - acked0 == 5 + 3 + 2 && st.bytes > 1000,
            "resume at a key: sent 8 documents and 2 deletes; bytes counted on");

    /* watermarks: from the caller's cursor, reported back */
    served_resume = NULL;
    served_cursor = "{\"watermarks\":{\"r_ev\":[\"2024-01-01\",\"1\"]}}";
    code = run(pe, store, ENG_MODE_AUTO, NULL, &st);
    T_CHECK(code == 0 && st.rows == 2 && sink_mem_count(store, "t-ev") == 2,
            "served incremental: reads after the caller's watermark");
    T_CHECK(strstr(last_pos, "\"watermarks\":{\"r_ev\":[\"2024-01-03\",\"3\"]}") != NULL,
            "served incremental: the new watermark in the position");
    served_cursor = "{\"watermarks\":[1]}";
    code = run(pe, store, ENG_MODE_AUTO, NULL, &st);
    T_CHECK(code == 2 && strstr(msg(), "sync_cursor"), "a cursor that is not a watermark object is refused");
    served_cursor = NULL;

    sink_mem_store_free(store);
    plan_free(p);
    plan_free(pe);
}

int main(void)
{
    T_PLAN(40);
    snprintf(dir, sizeof dir, "%s/sql2es-test-sync.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(db, sizeof db, "%s/t.db", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    buf_init(&msgs, 0);
    test_full_and_sweep();
    test_incremental();
    test_lag();
    test_resume();
    buf_free(&msgs);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return T_DONE();
}
