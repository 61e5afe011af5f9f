/* itest_es.c - the Elasticsearch side against a real OpenSearch node:
 * client start-up and version check, index creation and mapping conflicts,
 * the bulk sink (chunking, concurrency, dead letters, error monitor,
 * acknowledgements, gzip) and, through tests/harness/faultproxy.py in front
 * of the node, 429s, item rejections, connection resets and an ApiKey check.
 *
 * Environment (set by tests/suites/40-es-sink.sh):
 *   ES_URL            the node
 *   PROXY_429         proxy answering 429 or 503 to 40% of _bulk requests
 *   PROXY_ITEMS       proxy rejecting items inside _bulk replies (429)
 *   PROXY_RESET       proxy resetting connections
 *   PROXY_AUTH        proxy requiring "Authorization: ApiKey $PROXY_AUTH_KEY"
 *   BLACKHOLE_URL     a listener that accepts connections and never answers
 *   PROXY_503ALL      proxy answering 503 to every request (counts them)
 *   PROXY_REJECTALL   proxy rejecting every item inside _bulk replies (429)
 *   PROXY_SWAPOP      proxy answering items with another operation
 *   PROXY_SWAPID      proxy answering items with another _id
 *   PROXY_SCROLL      proxy answering scroll requests with endless pages
 *   PROXY_IMPOSTOR    proxy answering GET / with an Elasticsearch 8 banner
 *                     but without the X-elastic-product header
 *   PROXY_COUNT       plain proxy (counts requests in flight)
 *   ITEST_TMP         directory for dead-letter files
 * A missing variable is a failure, never a skip.
 *   itest_es bench N  index N small documents and print docs/s (not a test).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "plan/plan.h"
#include "sinks/es.h"
#include "sinks/es_api.h"
#include "sinks/sink.h"
#include "tests/unit/loopback.h"
#include "tests/unit/t.h"

static const char *es_url, *tmpdir;

/* A configuration with nothing but one connector: every elasticsearch and
 * bulk setting is the language's default (schemas/language.yaml). */
static const char MIN_CONFIG[] = "connectors:\n"
                                 "  - connector_id: t\n"
                                 "    service_type: sqlite\n"
                                 "    configuration: { path: x.db }\n";
static plan *lang_plan;

static plan *compile(const char *yaml, diag *d)
{
    return dsl_compile_string("itest.yml", yaml, strlen(yaml), NULL, d);
}

/* The language's defaults, with short waits for the tests. */
static plan_es base_cfg(const char *host)
{
    plan_es c = lang_plan->es;
    c.host = host;
    c.username = c.password = NULL;
    c.retry_interval = 0.05;
    c.bulk_retry_interval = 0.05;
    c.request_timeout = 30;
    c.max_wait_duration = 30;
    c.initial_backoff_duration = 0.05;
    c.backoff_multiplier = 2;
    c.max_retries = 8;
    c.retry_on_timeout = 1;
    c.chunk_size = 500;
    c.max_concurrency = 4;
    c.bulk_max_retries = 8;
    return c;
}

static const char *MAPPING =
    "{\"properties\":{\"n\":{\"type\":\"long\"},\"name\":{\"type\":\"keyword\"},"
    "\"price\":{\"type\":\"double\"}}}";
static const char *SETTINGS = "{\"number_of_shards\":1,\"number_of_replicas\":0}";

/* A fresh index with MAPPING. */
static int fresh_index(es_client *c, const char *index, diag *d)
{
    if (es_index_delete(c, index, d) != 0) return -1;
    return es_index_ensure(c, index, MAPPING, SETTINGS, NULL, d);
}

static int64_t count_of(es_client *c, const char *index, diag *d)
{
    int64_t n = -1;
    if (es_refresh(c, index, d) != 0) return -1;
    if (es_count(c, index, NULL, &n, d) != 0) return -1;
    return n;
}

typedef struct acks {
    uint64_t last;
    int calls;
    int monotonic;
    /* optional: check at each ack that documents 0..upto are in the index */
    es_client *direct;
    const char *index;
    int checked, wrong;
} acks;

static void on_ack(void *ctx, uint64_t upto)
{
    acks *a = ctx;
    if (a->calls > 0 && upto <= a->last) a->monotonic = 0;
    a->last = upto;
    a->calls++;
    if (a->direct) {
        char q[96];
        int64_t n = -1;
        diag *d = diag_new();
        snprintf(q, sizeof q, "{\"range\":{\"n\":{\"lte\":%llu}}}", (unsigned long long)upto);
        if (es_refresh(a->direct, a->index, d) != 0 || es_count(a->direct, a->index, q, &n, d) != 0 ||
            n != (int64_t)upto + 1) {
            a->wrong++;
            printf("#   ack %llu but %lld documents with n <= it\n", (unsigned long long)upto,
                   (long long)n);
        }
        a->checked++;
        diag_free(d);
    }
}

static const char *item_op = "index"; /* or "create" */

static void doc_item(buf *b, const char *index, int i)
{
    buf_reset(b);
    buf_printf(b, "{\"%s\":{\"_index\":\"%s\",\"_id\":\"%d\"}}\n"
                  "{\"n\":%d,\"name\":\"doc %d\",\"price\":%d.5}\n",
               item_op, index, i, i, i, i);
}

/* Index n documents (ids 0..n-1) through a sink on cfg; returns the finish
 * code; stats and acks filled. */
static int load(const plan_es *cfg, const char *index, int n, es_bulk_stats *st, acks *a,
                diag *d)
{
    es_client *c = es_client_new(cfg, d);
    if (!c) return -100;
    es_bulk *s = es_bulk_new(c, cfg, d);
    if (!s) {
        es_client_free(c);
        return -101;
    }
    if (a) {
        a->last = 0;
        a->calls = a->checked = a->wrong = 0;
        a->monotonic = 1;
        es_bulk_set_ack_cb(s, on_ack, a);
    }
    buf b = BUF_INIT;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        doc_item(&b, index, i);
        es_item_meta m = {(uint64_t)i, NULL};
        rc = es_bulk_add(s, b.data, b.len, &m);
    }
    int frc = es_bulk_finish(s, st);
    if (rc == 0) rc = frc;
    buf_free(&b);
    es_bulk_free(s);
    es_client_free(c);
    return rc;
}

static int contains(const char *hay, const char *needle) { return hay && strstr(hay, needle); }

/* ---- without a server ---------------------------------------------------- */

static void test_pure(void)
{
    diag *d = diag_new();
    es_version v;
#define TAG ",\"tagline\":\"You Know, for Search\"}"
    const char *os = "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.19.6\"},"
                     "\"tagline\":\"The OpenSearch Project: https://opensearch.org/\"}";
    T_CHECK(es_version_parse(os, strlen(os), NULL, &v, d) == 0 && v.opensearch && v.major == 2 &&
                v.minor == 19 && v.patch == 6,
            "version: OpenSearch 2.19.6 accepted");
    const char *e8 = "{\"version\":{\"number\":\"8.15.1\",\"build_flavor\":\"default\"}" TAG;
    T_CHECK(es_version_parse(e8, strlen(e8), "Elasticsearch", &v, d) == 0 && !v.opensearch &&
                v.major == 8,
            "version: Elasticsearch 8.15.1 accepted");
    const char *e7 = "{\"version\":{\"number\":\"7.10.2\"}" TAG;
    const char *e9 = "{\"version\":{\"number\":\"9.0.0\"}" TAG;
    const char *o1 = "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"1.3.0\"}}";
    T_CHECK(es_version_parse(e7, strlen(e7), NULL, NULL, d) == 0 &&
                es_version_parse(e9, strlen(e9), "Elasticsearch", NULL, d) == 0 &&
                es_version_parse(o1, strlen(o1), NULL, NULL, d) == 0,
            "version: ES 7.10.2 (before the product header), ES 9.0.0, OpenSearch 1.3.0 accepted");
    T_CHECK(diag_errors(d) == 0, "version: no messages for accepted versions");
    const char *e6 = "{\"version\":{\"number\":\"6.8.23\"}" TAG;
    T_CHECK(es_version_parse(e6, strlen(e6), NULL, &v, d) == DIAG_EINVAL,
            "version: ES 6.8.23 refused");
    T_STREQ(diag_last(d), "elasticsearch: unsupported Elasticsearch version 6.8.23 (supported: "
                          "Elasticsearch 7.x to 9.x)", "version: message names the version");
    const char *o4 = "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"4.0.0\"}}";
    T_CHECK(es_version_parse(o4, strlen(o4), NULL, &v, d) == DIAG_EINVAL &&
                contains(diag_last(d), "OpenSearch version 4.0.0"),
            "version: OpenSearch 4.0.0 refused");
    /* issue 9.4: products that only look alike */
    T_CHECK(es_version_parse(e8, strlen(e8), NULL, &v, d) == DIAG_EINVAL &&
                contains(diag_last(d), "neither Elasticsearch nor OpenSearch"),
            "banner: Elasticsearch 8 banner without X-elastic-product refused");
    T_CHECK(es_version_parse(e8, strlen(e8), "Elasticsearch-ish", &v, d) == DIAG_EINVAL,
            "banner: another X-elastic-product refused");
    const char *zinc = "{\"version\":{\"number\":\"7.10.2\",\"distribution\":\"zincsearch\"}" TAG;
    T_CHECK(es_version_parse(zinc, strlen(zinc), NULL, &v, d) == DIAG_EINVAL &&
                contains(diag_last(d), "zincsearch"),
            "banner: another distribution refused");
    const char *notag = "{\"version\":{\"number\":\"7.10.2\"},\"tagline\":\"Search, compatible\"}";
    T_CHECK(es_version_parse(notag, strlen(notag), NULL, &v, d) == DIAG_EINVAL &&
                contains(diag_last(d), "Search, compatible"),
            "banner: another tagline refused");
    T_CHECK(es_version_parse("<html>", 6, NULL, &v, d) == DIAG_EINVAL &&
                contains(diag_last(d), "no version.number"),
            "version: garbage refused");

    diag_clear(d);
    char *add = NULL;
    int nadd = -1;
    const char *have = "{\"properties\":{\"price\":{\"type\":\"keyword\"},\"a\":{\"properties\":"
                       "{\"b\":{\"type\":\"long\"}}},\"t\":{\"type\":\"text\"}}}";
    const char *want = "{\"properties\":{\"price\":{\"type\":\"double\"},\"a\":{\"properties\":"
                       "{\"b\":{\"type\":\"keyword\"},\"c\":{\"type\":\"long\"}}},"
                       "\"t\":{\"type\":\"text\"}}}";
    T_CHECK(es_mapping_diff(have, want, &add, &nadd, d) == DIAG_EINVAL && add == NULL,
            "mapping diff: conflicts refused");
    T_CHECK(diag_errors(d) == 2, "mapping diff: one message per conflicting field");
    T_STREQ(diag_count(d) > 0 ? diag_get(d, 0)->text : NULL,
            "field 'price': index has 'keyword', plan wants 'double'", "mapping diff: message 1");
    T_STREQ(diag_count(d) > 1 ? diag_get(d, 1)->text : NULL,
            "field 'a.b': index has 'long', plan wants 'keyword'", "mapping diff: nested field");
    diag_clear(d);
    const char *want2 = "{\"properties\":{\"price\":{\"type\":\"keyword\"},\"a\":{\"properties\":"
                        "{\"c\":{\"type\":\"long\"}}},\"z\":{\"type\":\"date\"}}}";
    T_CHECK(es_mapping_diff(have, want2, &add, &nadd, d) == 0 && nadd == 2,
            "mapping diff: additions counted");
    T_STREQ(add, "{\"properties\":{\"a\":{\"properties\":{\"c\":{\"type\":\"long\"}}},"
                 "\"z\":{\"type\":\"date\"}}}", "mapping diff: only the new fields");
    free(add);

    es_item_result r[4];
    int errors = -1;
    const char *reply = "{\"took\":3,\"errors\":true,\"items\":["
                        "{\"index\":{\"_id\":\"1\",\"status\":201,\"result\":\"created\"}},"
                        "{\"index\":{\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\","
                        "\"reason\":\"failed to parse\"}}},"
                        "{\"delete\":{\"status\":404,\"result\":\"not_found\"}},"
                        "{\"update\":{\"status\":429,\"error\":\"old style\"}},"
                        "{\"create\":{\"status\":201}}]}";
    int n = es_bulk_parse_reply(reply, strlen(reply), r, 4, &errors, d);
    T_CHECK(n == 5 && errors == 1, "bulk reply: 5 items, errors flag");
    T_CHECK(r[0].op == ES_OP_INDEX && r[0].status == 201 && strcmp(r[0].result, "created") == 0 &&
                r[0].err_type[0] == 0,
            "bulk reply: created item");
    T_CHECK(r[1].status == 400 && strcmp(r[1].err_type, "mapper_parsing_exception") == 0 &&
                strcmp(r[1].err_reason, "failed to parse") == 0,
            "bulk reply: item error type and reason");
    T_CHECK(r[2].op == ES_OP_DELETE && r[2].status == 404 && r[3].op == ES_OP_UPDATE &&
                strcmp(r[3].err_reason, "old style") == 0,
            "bulk reply: delete not_found, string error");
    T_CHECK(es_bulk_parse_reply("{\"error\":{}}", 12, r, 4, &errors, d) == DIAG_EIO,
            "bulk reply: non-bulk reply refused");
    diag_free(d);
}

/* ---- against the node ---------------------------------------------------- */

static void test_ready(void)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(es_url);
    es_client *c = es_client_new(&cfg, d);
    es_version v;
    T_CHECK(c && es_wait_ready(c, &v, d) == 0 && v.opensearch && v.major == 2,
            "wait_ready: node answers, OpenSearch 2.x accepted");
    es_client_free(c);

    plan_es dead = base_cfg("http://127.0.0.1:1");
    dead.max_wait_duration = 0.6;
    dead.initial_backoff_duration = 0.1;
    c = es_client_new(&dead, d);
    double t0 = es_now();
    int rc = c ? es_wait_ready(c, NULL, d) : -99;
    double took = es_now() - t0;
    /* max_wait_duration 0.6 s; ignoring it would retry 8 times with backoff
     * (about 25 s). The bound leaves room for a loaded machine. */
    printf("# wait_ready on an unreachable host gave up after %.2f s\n", took);
    T_CHECK(rc == DIAG_ETRANSIENT && took < 15, "wait_ready: unreachable host gives up in time");
    T_CHECK(contains(diag_last(d), "not ready after"), "wait_ready: clear message");
    es_client_free(c);

    plan_es bad = base_cfg("ftp://127.0.0.1:1");
    T_CHECK(es_client_new(&bad, d) == NULL && contains(diag_last(d), "unsupported scheme"),
            "client: unsupported scheme refused");
    plan_es cred = base_cfg("http://user:hunter2@127.0.0.1:1");
    cred.max_wait_duration = 0.1;
    c = es_client_new(&cred, d);
    T_CHECK(c && strcmp(es_client_host(c), "http://127.0.0.1:1") == 0 &&
                es_wait_ready(c, NULL, d) != 0 && !contains(diag_last(d), "hunter2"),
            "client: credentials in host never shown");
    es_client_free(c);
    diag_free(d);
}

static void test_index(void)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(es_url);
    es_client *c = es_client_new(&cfg, d);
    es_index_report rep;
    es_index_delete(c, "it_index", d);
    T_CHECK(es_index_exists(c, "it_index", d) == 0, "index: absent before");
    T_CHECK(es_index_ensure(c, "it_index", MAPPING, SETTINGS, &rep, d) == 0 && rep.created == 1,
            "index: created with mapping and settings");
    T_CHECK(es_index_exists(c, "it_index", d) == 1, "index: exists after");
    T_CHECK(es_index_ensure(c, "it_index", MAPPING, SETTINGS, &rep, d) == 0 && rep.created == 0 &&
                rep.fields_added == 0,
            "index: ensure again changes nothing");
    const char *more = "{\"properties\":{\"n\":{\"type\":\"long\"},\"tags\":{\"type\":\"keyword\"},"
                       "\"geo\":{\"properties\":{\"city\":{\"type\":\"keyword\"}}}}}";
    T_CHECK(es_index_ensure(c, "it_index", more, SETTINGS, &rep, d) == 0 && rep.fields_added == 2,
            "index: fields only in the plan added");
    es_response r;
    T_CHECK(es_request(c, "GET", "/it_index/_mapping", NULL, 0, NULL, &r, d) == 0 &&
                r.status == 200 && contains(r.body, "\"tags\":{\"type\":\"keyword\"}") &&
                contains(r.body, "\"city\":{\"type\":\"keyword\"}") &&
                contains(r.body, "\"price\":{\"type\":\"double\"}"),
            "index: mapping has old and new fields");
    es_response_free(&r);
    diag_clear(d);
    const char *conflict = "{\"properties\":{\"price\":{\"type\":\"keyword\"},"
                           "\"name\":{\"type\":\"text\"},\"extra\":{\"type\":\"long\"}}}";
    T_CHECK(es_index_ensure(c, "it_index", conflict, SETTINGS, &rep, d) == DIAG_EINVAL,
            "index: type conflict refused");
    T_STREQ(diag_count(d) > 0 ? diag_get(d, 0)->text : NULL,
            "field 'price': index has 'double', plan wants 'keyword'", "index: conflict message 1");
    T_STREQ(diag_count(d) > 1 ? diag_get(d, 1)->text : NULL,
            "field 'name': index has 'keyword', plan wants 'text'", "index: conflict message 2");
    T_CHECK(es_request(c, "GET", "/it_index/_mapping", NULL, 0, NULL, &r, d) == 0 &&
                !contains(r.body, "\"extra\""),
            "index: nothing changed on conflict");
    es_response_free(&r);
    diag_clear(d);
    T_CHECK(es_index_ensure(c, "bad/name", MAPPING, NULL, NULL, d) == DIAG_EINVAL,
            "index: invalid name refused");
    es_index_delete(c, "it_index", d);
    /* through the sink interface (es_sink.c): the plan's settings reach the new index */
    sink *sk = sink_es_new(&cfg, NULL, d);
    es_index_delete(c, "it_sink_index", d);
    int erc = sk ? sk->ops->ensure_index(sk, "it_sink_index", MAPPING,
                                         "{\"number_of_shards\":1,\"number_of_replicas\":0,"
                                         "\"refresh_interval\":\"7s\"}")
                 : -1;
    T_CHECK(erc == 0 && es_request(c, "GET", "/it_sink_index/_settings", NULL, 0, NULL, &r, d) == 0 &&
                r.status == 200 && contains(r.body, "\"refresh_interval\":\"7s\""),
            "index through the sink: created with the plan's settings");
    es_response_free(&r);
    /* es_api.c (the connector service's documents): created once, then 1 for the 409 */
    T_CHECK(es_doc_create(c, "it_sink_index", "a/1", "{\"n\":1}", "true", d) == 0 &&
                es_doc_create(c, "it_sink_index", "a/1", "{\"n\":2}", "true", d) == 1 &&
                es_doc_get(c, "it_sink_index", "a/1", &r, d) == 1 && contains(r.body, "\"n\":1"),
            "document create: 0 the first time, 1 (409) the second, the first body kept");
    es_response_free(&r);
    /* an update without a sequence number (-1) is unconditional */
    T_CHECK(es_doc_update(c, "it_sink_index", "a/1", "{\"m\":3}", -1, 0, "true", d) == 0 &&
                es_doc_get(c, "it_sink_index", "a/1", &r, d) == 1 && contains(r.body, "\"m\":3"),
            "document update without a sequence number: applied");
    es_response_free(&r);
    es_index_delete(c, "it_sink_index", d);
    if (sk) sink_free(sk);
    es_client_free(c);
    diag_free(d);
}

static void test_bulk_10k(void)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(es_url);
    es_client *c = es_client_new(&cfg, d);
    fresh_index(c, "it_bulk", d);
    es_bulk_stats st;
    acks a = {0, 0, 1, NULL, NULL, 0, 0};
    double t0 = es_now();
    int rc = load(&cfg, "it_bulk", 10000, &st, &a, d);
    double took = es_now() - t0;
    T_CHECK(rc == 0, "bulk 10k: finished without error");
    if (rc) printf("#   %s\n", diag_last(d));
    T_CHECK(count_of(c, "it_bulk", d) == 10000, "bulk 10k: _count is 10000 exactly");
    T_CHECK(st.indexed == 10000 && st.failed == 0 && st.requests == 40,
            "bulk 10k: stats 10000 indexed in 40 requests of 500 lines");
    printf("# bulk 10k: %.2f s, %llu bytes, %llu requests\n", took,
           (unsigned long long)st.bytes, (unsigned long long)st.requests);
    T_CHECK(a.monotonic && a.last == 9999 && a.calls > 1, "bulk 10k: acks increase to 9999");

    /* the _ids of the index, in bounded pages */
    es_ids *it = NULL;
    char *seen = calloc(10000, 1);
    int nids = 0, dup = 0, bad = 0, r;
    const char *id;
    size_t idlen;
    if (es_ids_open(c, "it_bulk", NULL, 700, &it, d) == 0) {
        while ((r = es_ids_next(it, &id, &idlen, d)) == 1) {
            char *end;
            long v = strtol(id, &end, 10);
            if (*end || v < 0 || v >= 10000) { bad++; continue; }
            if (seen[v]) dup++;
            seen[v] = 1;
            nids++;
        }
        T_CHECK(r == 0, "ids: iteration ends cleanly");
    } else {
        T_CHECK(0, "ids: scroll opened");
    }
    es_ids_close(it);
    free(seen);
    T_CHECK(nids == 10000 && dup == 0 && bad == 0, "ids: every _id once");

    int64_t del = -1, left = -1;
    T_CHECK(es_delete_by_query(c, "it_bulk", "{\"range\":{\"n\":{\"gte\":9000}}}", &del, d) == 0 &&
                del == 1000,
            "delete_by_query: 1000 deleted");
    T_CHECK(es_count(c, "it_bulk", "{\"range\":{\"n\":{\"gte\":8000}}}", &left, d) == 0 &&
                left == 1000,
            "count with a query");

    /* bulk deletes, one of an id that does not exist */
    es_bulk *s = es_bulk_new(c, &cfg, d);
    buf b = BUF_INIT;
    for (int i = 0; i < 100; i++) {
        buf_reset(&b);
        buf_printf(&b, "{\"delete\":{\"_index\":\"it_bulk\",\"_id\":\"%d\"}}", i == 99 ? 99999 : i);
        es_bulk_add(s, b.data, b.len, NULL);
    }
    rc = es_bulk_finish(s, &st);
    T_CHECK(rc == 0 && st.deleted == 100 && st.failed == 0, "bulk deletes: 100 settled (one not_found)");
    T_CHECK(count_of(c, "it_bulk", d) == 10000 - 1000 - 99, "bulk deletes: documents gone");
    buf_free(&b);
    es_bulk_free(s);
    es_index_delete(c, "it_bulk", d);
    es_client_free(c);
    diag_free(d);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    buf b = BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(&b, tmp, n);
    fclose(f);
    if (!b.data) buf_puts(&b, "");
    return buf_detach(&b, NULL);
}

/* es_bulk_push sends fewer items than a chunk without a flush; called
 * again it collects the answers and reports the acknowledgement. */
static void test_push(void)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(es_url);
    es_client *c = es_client_new(&cfg, d);
    fresh_index(c, "it_push", d);
    es_bulk *s = es_bulk_new(c, &cfg, d);
    acks a = {0, 0, 1, NULL, NULL, 0, 0};
    es_bulk_set_ack_cb(s, on_ack, &a);
    buf b = BUF_INIT;
    int rc = 0;
    for (int i = 1; i <= 10 && rc == 0; i++) {
        doc_item(&b, "it_push", i);
        es_item_meta m = {(uint64_t)i, NULL};
        rc = es_bulk_add(s, b.data, b.len, &m);
    }
    T_CHECK(rc == 0 && a.calls == 0, "push: 10 items (less than a chunk) wait in the queue");
    double until = es_now() + 60;
    rc = es_bulk_push(s);
    while (rc == 0 && a.last < 10 && es_now() < until) {
        usleep(2000);
        rc = es_bulk_push(s);
    }
    T_CHECK(rc == 0 && a.last == 10, "push: the items go out and are acknowledged without a flush");
    T_CHECK(count_of(c, "it_push", d) == 10, "push: the 10 documents are in the index");
    buf_free(&b);
    es_bulk_free(s);
    es_client_free(c);
    diag_free(d);
}

static void test_dead_letters(void)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(es_url);
    char dl[512];
    snprintf(dl, sizeof dl, "%s/dead1.ndjson", tmpdir);
    /* left by an earlier run: one record, then one torn by a failed write */
    static const char kept[] = "{\"kept\":1}\n";
    FILE *f = fopen(dl, "w");
    if (f) {
        fputs(kept, f);
        fputs("{\"torn\":", f);
        fclose(f);
    }
    cfg.dead_letter_file = dl;
    es_client *c = es_client_new(&cfg, d);
    fresh_index(c, "it_dead", d);
    es_bulk *s = es_bulk_new(c, &cfg, d);
    acks a = {0, 0, 1, NULL, NULL, 0, 0};
    es_bulk_set_ack_cb(s, on_ack, &a);
    buf b = BUF_INIT;
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
        if (i == 10 || i == 50 || i == 90) {
            buf_reset(&b);
            buf_printf(&b, "{\"index\":{\"_index\":\"it_dead\",\"_id\":\"%d\"}}\n"
                           "{\"n\":%d,\"price\":\"not a number\"}\n", i, i);
        } else {
            doc_item(&b, "it_dead", i);
        }
        es_item_meta m = {(uint64_t)i + 1, "t > key"};
        rc = es_bulk_add(s, b.data, b.len, &m);
    }
    es_bulk_stats st;
    int frc = es_bulk_finish(s, &st);
    T_CHECK(rc == 0 && frc == 0, "dead letters: 3 bad documents do not stop the sync");
    T_CHECK(st.indexed == 97 && st.failed == 3, "dead letters: 97 indexed, 3 failed");
    T_CHECK(count_of(c, "it_dead", d) == 97, "dead letters: 97 in the index");
    T_CHECK(a.last == 100, "dead letters: acks reach the last item");
    char *text = slurp(dl);
    int cut = text && strncmp(text, kept, strlen(kept)) == 0 &&
              strncmp(text + strlen(kept), "{\"action\":", 10) == 0;
    int warned = 0;
    for (size_t i = 0; i < diag_count(d); i++)
        warned |= diag_get(d, i)->level == DIAG_WARNING &&
                   contains(diag_get(d, i)->text, "ended with a partial record (8 bytes");
    T_CHECK(cut && warned,
            "dead letters: a record torn by an earlier run is cut, the complete one kept, a warning says so");
    /* exact lines up to the server's reason text */
    int lines = 0, good = 0;
    for (char *p = cut ? text + strlen(kept) : text, *nl; p && *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl) break;
        *nl = 0;
        int id = lines == 0 ? 10 : lines == 1 ? 50 : 90;
        char want[300];
        snprintf(want, sizeof want,
                 "{\"action\":{\"index\":{\"_index\":\"it_dead\",\"_id\":\"%d\"}},\"document\":"
                 "{\"n\":%d,\"price\":\"not a number\"},\"status\":400,\"error\":{\"type\":"
                 "\"mapper_parsing_exception\",\"reason\":\"failed to parse field [price] of type "
                 "[double]",
                 id, id);
        if (strncmp(p, want, strlen(want)) == 0 && nl[-1] == '}' && nl[-2] == '}') good++;
        else printf("#   line %d: %s\n", lines + 1, p);
        lines++;
    }
    T_CHECK(lines == 3 && good == 3, "dead letters: file has the 3 items exactly");
    free(text);
    buf_free(&b);
    es_bulk_free(s);
    es_index_delete(c, "it_dead", d);
    es_client_free(c);
    diag_free(d);
}

static void test_monitor(void)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(es_url);
    char dl[512];
    snprintf(dl, sizeof dl, "%s/dead2.ndjson", tmpdir);
    cfg.dead_letter_file = dl;
    cfg.chunk_size = 40;
    es_client *c = es_client_new(&cfg, d);
    fresh_index(c, "it_mon", d);

    /* a flood of mapping errors: stops after 11 in a row */
    es_bulk *s = es_bulk_new(c, &cfg, d);
    buf b = BUF_INIT;
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) {
        buf_reset(&b);
        buf_printf(&b, "{\"index\":{\"_index\":\"it_mon\",\"_id\":\"%d\"}}\n{\"price\":\"x%d\"}\n", i, i);
        rc = es_bulk_add(s, b.data, b.len, NULL);
    }
    es_bulk_stats st;
    int frc = es_bulk_finish(s, &st);
    T_CHECK(frc != 0 && st.failed < 1000 && st.indexed == 0,
            "monitor: a flood of mapping errors stops the sync");
    printf("# monitor: stopped after %llu failed documents\n", (unsigned long long)st.failed);
    T_CHECK(contains(diag_last(d), "consecutive document errors") &&
                contains(diag_last(d), "mapper_parsing_exception"),
            "monitor: message says why");
    es_bulk_free(s);

    /* one bad document in five: over 15% of the last 100 */
    diag_clear(d);
    s = es_bulk_new(c, &cfg, d);
    rc = 0;
    for (int i = 0; i < 400 && rc == 0; i++) {
        if (i % 5 == 0) {
            buf_reset(&b);
            buf_printf(&b, "{\"index\":{\"_index\":\"it_mon\",\"_id\":\"%d\"}}\n{\"price\":\"x\"}\n", i);
        } else {
            doc_item(&b, "it_mon", i);
        }
        rc = es_bulk_add(s, b.data, b.len, NULL);
    }
    frc = es_bulk_finish(s, NULL);
    T_CHECK(frc != 0 && contains(diag_last(d), "errors in the last 100 operations"),
            "monitor: 20% errors trips the ratio check");
    es_bulk_free(s);

    /* one in ten: under the limits */
    diag_clear(d);
    s = es_bulk_new(c, &cfg, d);
    rc = 0;
    for (int i = 0; i < 400 && rc == 0; i++) {
        if (i % 10 == 0) {
            buf_reset(&b);
            buf_printf(&b, "{\"index\":{\"_index\":\"it_mon\",\"_id\":\"%d\"}}\n{\"price\":\"x\"}\n", i);
        } else {
            doc_item(&b, "it_mon", i);
        }
        rc = es_bulk_add(s, b.data, b.len, NULL);
    }
    frc = es_bulk_finish(s, &st);
    T_CHECK(rc == 0 && frc == 0 && st.failed == 40, "monitor: 10% errors is tolerated");
    es_bulk_free(s);
    buf_free(&b);
    unlink(dl);
    es_index_delete(c, "it_mon", d);
    es_client_free(c);
    diag_free(d);
}

static void test_gzip(void)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(es_url);
    cfg.gzip = 1;
    es_client *c = es_client_new(&cfg, d);
    T_CHECK(c && fresh_index(c, "it_gzip", d) == 0, "gzip: index created with a gzip body");
    es_bulk_stats st;
    int rc = load(&cfg, "it_gzip", 3000, &st, NULL, d);
    T_CHECK(rc == 0 && st.indexed == 3000, "gzip: bulk accepted");
    T_CHECK(count_of(c, "it_gzip", d) == 3000, "gzip: 3000 documents");
    es_index_delete(c, "it_gzip", d);
    es_client_free(c);
    diag_free(d);
}

/* ---- through the fault proxy --------------------------------------------- */

static const char *need_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        printf("not ok - environment variable %s is not set (run tests/suites/40-es-sink.sh)\n",
               name);
        t_failed++;
        t_count++;
        return NULL;
    }
    return v;
}

static void test_faults(const char *var, const char *what, const char *op, int n)
{
    item_op = op;
    const char *proxy = need_env(var);
    if (!proxy) return;
    diag *d = diag_new();
    plan_es direct = base_cfg(es_url);
    es_client *c = es_client_new(&direct, d);
    char index[64], name[160];
    snprintf(index, sizeof index, "it_fault_%s", what);
    fresh_index(c, index, d);
    plan_es cfg = base_cfg(proxy);
    cfg.max_retries = 12;
    cfg.bulk_max_retries = 10;
    cfg.initial_backoff_duration = 0.01;
    cfg.backoff_multiplier = 1.5;
    /* a document that failed for good is recorded here (read below when the
     * count is wrong), not in the default file of the working folder */
    char dl[512];
    snprintf(dl, sizeof dl, "%s/dead-faults-%s.ndjson", tmpdir, what);
    remove(dl);
    cfg.dead_letter_file = dl;
    es_bulk_stats st;
    acks a = {0, 0, 1, c, index, 0, 0};
    int rc = load(&cfg, index, n, &st, &a, d);
    snprintf(name, sizeof name, "%s: finished without error", what);
    T_CHECK(rc == 0, name);
    if (rc) printf("#   %s\n", diag_last(d));
    snprintf(name, sizeof name, "%s: all %d documents present exactly once", what, n);
    int64_t got = count_of(c, index, d);
    int all_once = got == n && st.indexed + st.updated == (uint64_t)n && st.failed == 0;
    T_CHECK(all_once, name);
    if (!all_once)
        printf("#   counted %lld (%s), indexed %llu, updated %llu, failed %llu, mismatched %llu\n",
               (long long)got, got < 0 ? diag_last(d) : "", (unsigned long long)st.indexed,
               (unsigned long long)st.updated, (unsigned long long)st.failed,
               (unsigned long long)st.mismatched);
    if (st.failed) {
        FILE *f = fopen(dl, "r");
        char line[600];
        if (f && fgets(line, sizeof line, f)) printf("#   first dead letter: %s", line);
        if (f) fclose(f);
    }
    printf("# %s: %llu requests, %llu request retries, %llu item retries\n", what,
           (unsigned long long)st.requests, (unsigned long long)st.request_retries,
           (unsigned long long)st.item_retries);
    /* resets: libcurl re-sends on a fresh connection by itself when a reused
     * one died, so the sink may see no failure at all */
    if (strcmp(what, "resets") != 0) {
        snprintf(name, sizeof name, "%s: retries happened", what);
        T_CHECK(st.request_retries + st.item_retries > 0, name);
    }
    snprintf(name, sizeof name, "%s: acks reach the last item in order", what);
    T_CHECK(a.monotonic && a.last == (uint64_t)n - 1, name);
    /* how many acks come depends on timing: retried requests hold back the
     * acks of the requests behind them, and one ack then covers them all
     * (a run of 429s on the first request gave 2); the final ack is checked
     * whatever the timing, and a.wrong counts every ack that ran ahead */
    snprintf(name, sizeof name, "%s: every acknowledged document is in the index (%d checks)",
             what, a.checked);
    T_CHECK(a.checked >= 1 && a.checked == a.calls && a.wrong == 0, name);
    item_op = "index";
    es_index_delete(c, index, d);
    es_client_free(c);
    diag_free(d);
}

static void test_auth(void)
{
    const char *proxy = need_env("PROXY_AUTH"), *key = need_env("PROXY_AUTH_KEY");
    if (!proxy || !key) return;
    diag *d = diag_new();
    plan_es direct = base_cfg(es_url);
    es_client *c = es_client_new(&direct, d);
    fresh_index(c, "it_auth", d);

    plan_es cfg = base_cfg(proxy);
    cfg.api_key = key;
    cfg.username = "elastic";
    cfg.password = "changeme";
    es_client *pc = es_client_new(&cfg, d);
    T_CHECK(pc && es_wait_ready(pc, NULL, d) == 0, "apikey: right key accepted");
    es_client_free(pc);
    es_bulk_stats st;
    T_CHECK(load(&cfg, "it_auth", 500, &st, NULL, d) == 0 && count_of(c, "it_auth", d) == 500,
            "apikey: bulk through the proxy");

    diag_clear(d);
    const char *wrong = "wrong-key-0451";
    cfg.api_key = wrong;
    pc = es_client_new(&cfg, d);
    int rc = pc ? es_wait_ready(pc, NULL, d) : -99;
    T_CHECK(rc == DIAG_EIO && contains(diag_last(d), "answered 401"), "apikey: wrong key gives 401");
    printf("# %s\n", diag_last(d));
    T_CHECK(!contains(diag_last(d), wrong) && !contains(diag_last(d), "changeme"),
            "apikey: the key is not in the message");
    es_client_free(pc);
    diag_clear(d);
    rc = load(&cfg, "it_auth", 10, &st, NULL, d);
    T_CHECK(rc != 0 && contains(diag_last(d), "401") && !contains(diag_last(d), wrong),
            "apikey: bulk with a wrong key fails clearly");
    printf("# %s\n", diag_last(d));
    es_index_delete(c, "it_auth", d);
    es_client_free(c);
    diag_free(d);
}

/* A server that never answers: requests time out, are retried, then fail. */
static void test_timeouts(void)
{
    const char *hole = need_env("BLACKHOLE_URL");
    if (!hole) return;
    diag *d = diag_new();
    plan_es cfg = base_cfg(hole);
    cfg.request_timeout = 0.3;
    cfg.max_retries = 2;
    cfg.initial_backoff_duration = 0.05;
    es_client *c = es_client_new(&cfg, d);
    es_response r;
    double t0 = es_now();
    int rc = es_request(c, "GET", "/", NULL, 0, NULL, &r, d);
    double took = es_now() - t0;
    /* 3 attempts of 0.3 s; a request_timeout not applied would wait the
     * listener's 900 s. The upper bound leaves room for a loaded machine. */
    printf("# 3 timed-out attempts took %.2f s\n", took);
    T_CHECK(rc == DIAG_ETRANSIENT && took >= 0.9 && took < 20,
            "timeout: request retried twice after timeouts, then fails");
    T_CHECK(contains(diag_last(d), "timed out"), "timeout: message says timed out");
    es_client_free(c);

    es_bulk_stats st;
    diag_clear(d);
    rc = load(&cfg, "it_hole", 10, &st, NULL, d);
    T_CHECK(rc != 0 && st.request_retries == 2 && contains(diag_last(d), "failed 3 times"),
            "timeout: bulk request retried then the sink fails");
    printf("# %s\n", diag_last(d));

    cfg.retry_on_timeout = 0;
    diag_clear(d);
    rc = load(&cfg, "it_hole", 10, &st, NULL, d);
    T_CHECK(rc != 0 && st.request_retries == 0, "timeout: retry_on_timeout false fails at once");
    diag_free(d);
}

/* ---- the plan runs as printed (issue 8.2) ---------------------------------- */

/* The effective value of a key printed by `sql2es plan` (section "" for the
 * elasticsearch line, "timeouts", "bulk"), as the client and the sink hold
 * it; 0 when the key is unknown here (a printed key nobody checks fails). */
static int effective(const es_client *c, const es_bulk *s, const char *section, const char *key,
                     char *out, size_t cap)
{
    const plan_es *k = es_client_cfg(c), *b = es_bulk_cfg(s);
#define NUM(name, v) if (strcmp(key, name) == 0) { snprintf(out, cap, "%g", (double)(v)); return 1; }
#define TF(name, v) if (strcmp(key, name) == 0) { snprintf(out, cap, "%s", (v) ? "true" : "false"); return 1; }
#define STR(name, v) if (strcmp(key, name) == 0) { snprintf(out, cap, "%s", (v) ? (v) : "-"); return 1; }
    if (!*section) {
        STR("host", k->host);
        STR("username", k->username);
        if (strcmp(key, "password") == 0 || strcmp(key, "api_key") == 0) {
            const char *v = strcmp(key, "password") == 0 ? k->password : k->api_key;
            snprintf(out, cap, "%s", v ? "***" : "-");
            return 1;
        }
        TF("ssl", k->ssl);
        TF("verify_certs", k->verify_certs);
        TF("gzip", k->gzip);
        STR("ca_certs", k->ca_certs);
    } else if (strcmp(section, "timeouts") == 0) {
        NUM("request_timeout", k->request_timeout);
        TF("retry_on_timeout", k->retry_on_timeout);
        NUM("max_wait_duration", k->max_wait_duration);
        NUM("initial_backoff_duration", k->initial_backoff_duration);
        NUM("backoff_multiplier", k->backoff_multiplier);
        NUM("max_retries", k->max_retries);
        NUM("retry_interval", k->retry_interval);
    } else if (strcmp(section, "bulk") == 0) {
        NUM("queue_max_size", b->queue_max_size);
        NUM("queue_max_mem_size", b->queue_max_mem_size);
        NUM("display_every", b->display_every);
        NUM("chunk_size", b->chunk_size);
        NUM("chunk_max_mem_size", b->chunk_max_mem_size);
        NUM("max_concurrency", b->max_concurrency);
        NUM("max_retries", b->bulk_max_retries);
        NUM("retry_interval", b->bulk_retry_interval);
        STR("dead_letter_file", b->dead_letter_file);
    }
#undef NUM
#undef TF
#undef STR
    return 0;
}

/* Every key=value of the elasticsearch, timeouts and bulk lines of the plan
 * text against the client's and the sink's settings. Returns the number of
 * keys compared; *bad counts mismatches (printed). */
static int compare_printed(const plan *p, const char *label, int *bad)
{
    char *text = NULL;
    size_t tl = 0;
    FILE *f = open_memstream(&text, &tl);
    plan_print(p, f, PLAN_FMT_TEXT, NULL, NULL);
    fclose(f);
    diag *d = diag_new();
    es_client *c = es_client_new(&p->es, d);
    es_bulk *s = c ? es_bulk_new(c, NULL, d) : NULL;
    int n = 0;
    *bad = 0;
    if (!s) {
        printf("#   %s: client or sink refused the plan: %s\n", label, diag_last(d));
        (*bad)++;
    }
    for (char *line = strtok(text, "\n"); line && s; line = strtok(NULL, "\n")) {
        const char *section;
        char *rest;
        if (strncmp(line, "elasticsearch ", 14) == 0) section = "", rest = line + 14;
        else if (strncmp(line, "  timeouts ", 11) == 0) section = "timeouts", rest = line + 11;
        else if (strncmp(line, "  bulk ", 7) == 0) section = "bulk", rest = line + 7;
        else continue;
        for (char *kv = rest; kv && *kv;) {
            char *sp = strchr(kv, ' ');
            if (sp) *sp = '\0';
            char *eq = strchr(kv, '=');
            if (eq) {
                *eq = '\0';
                char got[512];
                if (!effective(c, s, section, kv, got, sizeof got)) {
                    printf("#   %s: printed key %s%s%s is not held against the client\n", label,
                           section, *section ? "." : "", kv);
                    (*bad)++;
                } else if (strcmp(got, eq + 1) != 0) {
                    printf("#   %s: %s%s%s printed %s, runs with %s\n", label, section,
                           *section ? "." : "", kv, eq + 1, got);
                    (*bad)++;
                }
                n++;
            }
            kv = sp ? sp + 1 : NULL;
        }
    }
    es_bulk_free(s);
    es_client_free(c);
    diag_free(d);
    free(text);
    return n;
}

static void test_defaults(void)
{
    diag *d = diag_new();
    int bad = 0;
    int n = compare_printed(lang_plan, "defaults", &bad);
    char name[160];
    snprintf(name, sizeof name, "defaults: the %d elasticsearch/bulk values `plan` prints are the "
             "ones the client and the sink run with", n);
    T_CHECK(n == 22 && bad == 0, name);

    /* 0 means 0: nothing replaces a value of the plan */
    static const char zero[] = "elasticsearch:\n"
                               "  max_retries: 0\n"
                               "  retry_interval: 0\n"
                               "  max_wait_duration: 0\n"
                               "  bulk: { max_retries: 0, retry_interval: 0, chunk_size: 7,"
                               " chunk_max_mem_size: 0.5, max_concurrency: 1 }\n";
    char *yaml = malloc(sizeof zero + sizeof MIN_CONFIG);
    snprintf(yaml, sizeof zero + sizeof MIN_CONFIG, "%s%s", zero, MIN_CONFIG);
    plan *pz = compile(yaml, d);
    free(yaml);
    T_CHECK(pz != NULL, "defaults: zero retries compile");
    if (pz) {
        n = compare_printed(pz, "zeros", &bad);
        T_CHECK(n == 22 && bad == 0, "defaults: max_retries 0, bulk.max_retries 0, intervals 0 "
                "and max_wait_duration 0 run as printed (no substitution)");
        es_client *c = es_client_new(&pz->es, d);
        T_CHECK(c && es_client_cfg(c)->max_retries == 0 && es_client_cfg(c)->max_wait_duration == 0,
                "defaults: the client keeps max_retries 0 and max_wait_duration 0");
        es_client_free(c);
        plan_free(pz);
    }

    /* impossible values are refused by the language, not patched at run time */
    static const char *const refused[] = {
        "elasticsearch: { max_retries: -1 }\n", "elasticsearch: { request_timeout: 0 }\n",
        "elasticsearch: { initial_backoff_duration: 0 }\n",
        "elasticsearch: { backoff_multiplier: 0.5 }\n",
        "elasticsearch: { bulk: { chunk_size: 0 } }\n",
        "elasticsearch: { bulk: { max_concurrency: 0 } }\n",
        "elasticsearch: { bulk: { max_concurrency: 100000 } }\n",
        "elasticsearch: { bulk: { max_retries: 1000 } }\n",
        "elasticsearch: { bulk: { chunk_max_mem_size: 0 } }\n",
    };
    int nref = 0;
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        size_t len = strlen(refused[i]) + sizeof MIN_CONFIG;
        char *y = malloc(len);
        snprintf(y, len, "%s%s", refused[i], MIN_CONFIG);
        diag *dd = diag_new();
        plan *px = compile(y, dd);
        if (!px && diag_errors(dd) > 0) nref++;
        else printf("#   not refused: %s", refused[i]);
        plan_free(px);
        diag_free(dd);
        free(y);
    }
    T_CHECK(nref == (int)(sizeof refused / sizeof *refused),
            "defaults: impossible values are compile-time errors");
    /* ... and a hand-made plan with them is refused by the client, not patched */
    plan_es zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    zeroed.host = "http://127.0.0.1:1";
    diag_clear(d);
    T_CHECK(es_client_new(&zeroed, d) == NULL && contains(diag_last(d), "request_timeout"),
            "defaults: a zeroed configuration is refused, not filled in");

    /* the waits, from the plan's values */
    const plan_es *k = &lang_plan->es;
    T_CHECK(es_retry_wait(k, 1) == k->retry_interval && es_retry_wait(k, 3) == 3 * k->retry_interval &&
                es_item_wait(k, 1) == k->bulk_retry_interval &&
                es_item_wait(k, 3) == 4 * k->bulk_retry_interval &&
                es_backoff(k, 1) == k->initial_backoff_duration &&
                es_backoff(k, 3) == k->initial_backoff_duration * k->backoff_multiplier *
                                        k->backoff_multiplier,
            "defaults: request retries wait retry_interval x n, items bulk.retry_interval x 2^(n-1), "
            "start-up initial_backoff_duration x backoff_multiplier^(n-1)");
    diag_free(d);
}

/* A counter of a proxy ("503", "bulk_requests", "max_in_flight"...). */
static int64_t proxy_stat(const char *proxy, const char *key)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(proxy);
    es_client *c = es_client_new(&cfg, d);
    es_response r;
    int64_t v = -1;
    if (c && es_request_once(c, "GET", "/_faultproxy/stats", NULL, 0, NULL, &r, d) == 0) {
        if (es_reply_number(r.body, r.len, key, &v) != 0) v = -1;
        es_response_free(&r);
    }
    es_client_free(c);
    diag_free(d);
    return v;
}

/* Retries, counted by the proxies (issue 8: max_retries 0 sends one request). */
static void test_retry_counts(void)
{
    const char *p503 = need_env("PROXY_503ALL"), *prej = need_env("PROXY_REJECTALL");
    if (!p503 || !prej) return;
    diag *d = diag_new();
    plan_es cfg = base_cfg(p503);
    cfg.max_retries = 0;
    es_client *c = es_client_new(&cfg, d);
    es_response r;
    int64_t before = proxy_stat(p503, "503");
    int rc = es_request(c, "GET", "/", NULL, 0, NULL, &r, d);
    T_CHECK(rc == 0 && r.status == 503, "max_retries 0: the 503 is returned");
    es_response_free(&r);
    T_CHECK(proxy_stat(p503, "503") - before == 1,
            "max_retries 0 against a server answering 503: exactly one request");
    es_client_free(c);

    cfg.max_retries = 2;
    cfg.retry_interval = 0.2;
    c = es_client_new(&cfg, d);
    before = proxy_stat(p503, "503");
    double t0 = es_now();
    rc = es_request(c, "GET", "/", NULL, 0, NULL, &r, d);
    double took = es_now() - t0;
    es_response_free(&r);
    T_CHECK(proxy_stat(p503, "503") - before == 3 && took >= 0.6 - 0.01 && took < 10,
            "max_retries 2, retry_interval 0.2: three requests, 0.2 + 0.4 s apart");
    printf("# max_retries 2: %.2f s\n", took);
    es_client_free(c);

    /* the bulk sink: whole requests */
    es_bulk_stats st;
    cfg.max_retries = 0;
    before = proxy_stat(p503, "bulk_requests");
    diag_clear(d);
    rc = load(&cfg, "it_retry", 10, &st, NULL, d);
    T_CHECK(rc != 0 && proxy_stat(p503, "bulk_requests") - before == 1 && st.request_retries == 0 &&
                contains(diag_last(d), "failed 1 time:"),
            "bulk, max_retries 0 against 503: exactly one _bulk request, then the sink fails");
    printf("# %s\n", diag_last(d));
    cfg.max_retries = 2;
    cfg.retry_interval = 0.15;
    before = proxy_stat(p503, "bulk_requests");
    t0 = es_now();
    rc = load(&cfg, "it_retry", 10, &st, NULL, d);
    took = es_now() - t0;
    T_CHECK(rc != 0 && proxy_stat(p503, "bulk_requests") - before == 3 && st.request_retries == 2 &&
                took >= 0.45 - 0.01,
            "bulk, max_retries 2, retry_interval 0.15: three _bulk requests, 0.15 + 0.3 s apart");

    /* the bulk sink: items (every item rejected with 429) */
    diag *direct_d = diag_new();
    plan_es direct = base_cfg(es_url);
    es_client *dc = es_client_new(&direct, direct_d);
    fresh_index(dc, "it_items", direct_d);
    char dl[512];
    snprintf(dl, sizeof dl, "%s/dead-items.ndjson", tmpdir);
    unlink(dl);
    plan_es icfg = base_cfg(prej);
    icfg.dead_letter_file = dl;
    icfg.bulk_max_retries = 0;
    before = proxy_stat(prej, "bulk_requests");
    diag_clear(d);
    rc = load(&icfg, "it_items", 5, &st, NULL, d);
    T_CHECK(proxy_stat(prej, "bulk_requests") - before == 1 && st.item_retries == 0 &&
                st.failed == 5,
            "bulk.max_retries 0: rejected items are not retried (one request, 5 dead-lettered)");
    icfg.bulk_max_retries = 2;
    icfg.bulk_retry_interval = 0.1;
    before = proxy_stat(prej, "bulk_requests");
    t0 = es_now();
    rc = load(&icfg, "it_items", 5, &st, NULL, d);
    took = es_now() - t0;
    T_CHECK(proxy_stat(prej, "bulk_requests") - before == 3 && st.item_retries == 10 &&
                st.failed == 5 && took >= 0.3 - 0.01,
            "bulk.max_retries 2, bulk.retry_interval 0.1: each item sent 3 times, 0.1 + 0.2 s apart");
    printf("# item retries: %.2f s\n", took);
    unlink(dl);
    es_index_delete(dc, "it_items", direct_d);
    es_client_free(dc);
    diag_free(direct_d);
    diag_free(d);
}

/* bulk.max_concurrency: never more requests in flight (counted by a proxy). */
static void test_concurrency(void)
{
    const char *proxy = need_env("PROXY_COUNT");
    if (!proxy) return;
    diag *d = diag_new();
    plan_es direct = base_cfg(es_url);
    es_client *c = es_client_new(&direct, d);
    fresh_index(c, "it_conc", d);
    plan_es cfg = base_cfg(proxy);
    cfg.max_concurrency = 3;
    cfg.chunk_size = 20;
    es_bulk_stats st;
    int rc = load(&cfg, "it_conc", 3000, &st, NULL, d);
    int64_t most = proxy_stat(proxy, "max_in_flight");
    printf("# max_concurrency 3: at most %lld _bulk requests in flight, %llu requests\n",
           (long long)most, (unsigned long long)st.requests);
    T_CHECK(rc == 0 && st.requests == 300 && most >= 2 && most <= 3,
            "max_concurrency 3, chunk_size 20 (lines): 300 requests, never more than 3 in flight");
    es_index_delete(c, "it_conc", d);
    es_client_free(c);
    diag_free(d);
}

/* ---- issue 9 -------------------------------------------------------------- */

static int count_lines_with(const char *path, const char *needle)
{
    char *text = slurp(path);
    int n = 0;
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        if (strstr(p, needle)) n++;
        p = nl + 1;
    }
    free(text);
    return n;
}

/* 9.4: reply items answering another operation or another _id */
static void test_mismatch(const char *var, const char *what)
{
    const char *proxy = need_env(var);
    if (!proxy) return;
    diag *d = diag_new();
    plan_es direct = base_cfg(es_url);
    es_client *c = es_client_new(&direct, d);
    char index[64], dl[512], name[200];
    snprintf(index, sizeof index, "it_mis_%s", what);
    fresh_index(c, index, d);
    snprintf(dl, sizeof dl, "%s/dead-%s.ndjson", tmpdir, what);
    unlink(dl);
    plan_es cfg = base_cfg(proxy);
    cfg.dead_letter_file = dl;
    cfg.chunk_size = 50;
    es_bulk_stats st;
    acks a = {0, 0, 1, NULL, NULL, 0, 0};
    diag_clear(d);
    int rc = load(&cfg, index, 400, &st, &a, d);
    printf("# %s: %llu mismatched of 400, %llu indexed, %llu deleted\n", what,
           (unsigned long long)st.mismatched, (unsigned long long)st.indexed,
           (unsigned long long)st.deleted);
    snprintf(name, sizeof name, "%s: mismatched reply items are errors, never acknowledged", what);
    T_CHECK(st.mismatched > 0 && st.failed == st.mismatched && st.deleted == 0 &&
                st.indexed + st.failed == 400 && a.last == 399,
            name);
    snprintf(name, sizeof name, "%s: each one is dead-lettered saying what the reply said", what);
    T_CHECK(count_lines_with(dl, "\"reply_mismatch\"") == (int)st.mismatched, name);
    (void)rc;
    unlink(dl);
    es_index_delete(c, index, d);
    es_client_free(c);
    diag_free(d);
}

/* 9.4: a banner of another product */
static void test_impostor(void)
{
    const char *proxy = need_env("PROXY_IMPOSTOR");
    if (!proxy) return;
    diag *d = diag_new();
    plan_es cfg = base_cfg(proxy);
    es_client *c = es_client_new(&cfg, d);
    int rc = es_wait_ready(c, NULL, d);
    T_CHECK(rc == DIAG_EINVAL && contains(diag_last(d), "neither Elasticsearch nor OpenSearch"),
            "banner: an Elasticsearch 8 banner without X-elastic-product is refused");
    printf("# %s\n", diag_last(d));
    es_client_free(c);
    diag_free(d);
}

/* 9.5: a scroll that never ends */
static void test_endless_scroll(void)
{
    const char *proxy = need_env("PROXY_SCROLL");
    if (!proxy) return;
    diag *d = diag_new();
    plan_es direct = base_cfg(es_url);
    es_client *c = es_client_new(&direct, d);
    fresh_index(c, "it_scroll", d);
    es_bulk_stats st;
    load(&direct, "it_scroll", 50, &st, NULL, d);
    es_refresh(c, "it_scroll", d);
    plan_es cfg = base_cfg(proxy);
    es_client *pc = es_client_new(&cfg, d);
    es_ids *it = NULL;
    const char *id;
    size_t idlen;
    long n = 0;
    int r = 0;
    diag_clear(d);
    if (es_ids_open(pc, "it_scroll", NULL, 20, &it, d) == 0) {
        while (n < 200000 && (r = es_ids_next(it, &id, &idlen, d)) == 1) n++;
    }
    es_ids_close(it);
    printf("# endless scroll: %ld ids, then %d: %s\n", n, r, diag_last(d));
    T_CHECK(r < 0 && n < 1000 && contains(diag_last(d), "counted 50 documents"),
            "scroll: an endless scroll stops with an error, bounded by the index's count");
    es_client_free(pc);
    es_index_delete(c, "it_scroll", d);
    es_client_free(c);
    diag_free(d);
}

/* 9.7: one item refused by the node as a whole request (an _id over 512
 * bytes) does not sink its neighbours */
static void test_bad_item_alone(void)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(es_url);
    char dl[512];
    snprintf(dl, sizeof dl, "%s/dead-longid.ndjson", tmpdir);
    unlink(dl);
    cfg.dead_letter_file = dl;
    cfg.chunk_size = 200;
    es_client *c = es_client_new(&cfg, d);
    fresh_index(c, "it_longid", d);
    es_bulk *s = es_bulk_new(c, &cfg, d);
    buf b = BUF_INIT;
    int rc = 0;
    for (int i = 0; i < 300 && rc == 0; i++) {
        if (i == 37 || i == 250) {
            buf_reset(&b);
            buf_printf(&b, "{\"index\":{\"_index\":\"it_longid\",\"_id\":\"%d-", i);
            for (int k = 0; k < 600; k++) buf_putc(&b, 'x');
            buf_printf(&b, "\"}}\n{\"n\":%d}\n", i);
        } else {
            doc_item(&b, "it_longid", i);
        }
        es_item_meta m = {(uint64_t)i, "t > key"};
        rc = es_bulk_add(s, b.data, b.len, &m);
    }
    es_bulk_stats st;
    int frc = es_bulk_finish(s, &st);
    printf("# long ids: %llu indexed, %llu failed, %llu splits, %llu requests\n",
           (unsigned long long)st.indexed, (unsigned long long)st.failed,
           (unsigned long long)st.request_splits, (unsigned long long)st.requests);
    T_CHECK(rc == 0 && frc == 0 && st.indexed == 298 && st.failed == 2,
            "one _id over 512 bytes: its 298 neighbours are indexed, the 2 bad items dead-lettered");
    T_CHECK(count_of(c, "it_longid", d) == 298, "one _id over 512 bytes: 298 documents in the index");
    T_CHECK(count_lines_with(dl, "action_request_validation_exception") == 2,
            "one _id over 512 bytes: the dead-letter file says why, once per item");
    buf_free(&b);
    es_bulk_free(s);
    unlink(dl);
    es_index_delete(c, "it_longid", d);
    es_client_free(c);
    diag_free(d);
}

/* 9.12: the dead-letter file: 0600, a torn tail repaired, whole records */
static void test_dead_letter_file(void)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(es_url);
    char dl[512];
    snprintf(dl, sizeof dl, "%s/dead-torn.ndjson", tmpdir);
    unlink(dl);
    cfg.dead_letter_file = dl;
    es_client *c = es_client_new(&cfg, d);
    fresh_index(c, "it_torn", d);
    buf b = BUF_INIT;
    mode_t old = umask(022);
    /* one bad document: the file is created, 0600 */
    es_bulk *s = es_bulk_new(c, &cfg, d);
    buf_printf(&b, "{\"index\":{\"_index\":\"it_torn\",\"_id\":\"1\"}}\n{\"price\":\"bad\"}\n");
    es_bulk_add(s, b.data, b.len, NULL);
    es_bulk_finish(s, NULL);
    es_bulk_free(s);
    struct stat sb;
    T_CHECK(stat(dl, &sb) == 0 && (sb.st_mode & 0777) == 0600,
            "dead letters: the file is created 0600 (it holds whole documents)");
    umask(old);
    /* a torn last line (a full disk in an earlier run) */
    FILE *f = fopen(dl, "a");
    fputs("{\"action\":{\"index\":{\"_id\":\"torn", f);
    fclose(f);
    s = es_bulk_new(c, &cfg, d);
    es_bulk_add(s, b.data, b.len, NULL);
    es_bulk_finish(s, NULL);
    es_bulk_free(s);
    char *text = slurp(dl);
    int lines = 0, whole = 0;
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        lines++;
        if (strncmp(p, "{\"action\":{\"index\":{\"_index\":\"it_torn\"", 38) == 0 && nl[-1] == '}')
            whole++;
        p = nl + 1;
    }
    size_t tl = text ? strlen(text) : 0;
    free(text);
    text = slurp(dl);
    T_CHECK(lines == 2 && whole == 2 && text && text[strlen(text) - 1] == '\n',
            "dead letters: a torn last line is cut off, the next record starts on its own line");
    (void)tl;
    free(text);
    /* a full disk now: the record is not written at all, the sink says so */
    struct stat before;
    stat(dl, &before);
    struct rlimit rl, lim;
    getrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, SIG_IGN);
    lim = rl;
    lim.rlim_cur = (rlim_t)before.st_size + 40;
    diag_clear(d);
    s = es_bulk_new(c, &cfg, d);
    es_bulk_add(s, b.data, b.len, NULL);
    setrlimit(RLIMIT_FSIZE, &lim);
    int rc = es_bulk_finish(s, NULL);
    setrlimit(RLIMIT_FSIZE, &rl);
    es_bulk_free(s);
    struct stat after;
    stat(dl, &after);
    T_CHECK(rc != 0 && contains(diag_last(d), "cannot write the dead-letter file") &&
                after.st_size == before.st_size,
            "dead letters: a short write (file size limit) is undone and is an error");
    printf("# %s\n", diag_last(d));
    buf_free(&b);
    unlink(dl);
    es_index_delete(c, "it_torn", d);
    es_client_free(c);
    diag_free(d);
}

/* 9.14: the node down: every wait printed, the figures agree */
static void test_wait_messages(void)
{
    int port = closed_port();
    char host[64];
    snprintf(host, sizeof host, "http://user:hunter2@127.0.0.1:%d", port);
    diag *d = diag_new();
    plan_es cfg = base_cfg(host);
    cfg.max_wait_duration = 1.0;
    cfg.initial_backoff_duration = 0.1;
    cfg.backoff_multiplier = 2;
    es_client *c = es_client_new(&cfg, d);
    char *log = NULL;
    size_t loglen = 0;
    FILE *lf = open_memstream(&log, &loglen);
    es_client_set_log(c, lf);
    double t0 = es_now();
    int rc = es_wait_ready(c, NULL, d);
    double took = es_now() - t0;
    fclose(lf);
    printf("# waited %.2f s:\n%s# %s\n", took, log, diag_last(d));
    char want[200];
    snprintf(want, sizeof want, "sql2es: waiting for http://127.0.0.1:%d: connection refused, "
             "retry 1 in 0.1 s\n", port);
    T_CHECK(log && strncmp(log, want, strlen(want)) == 0,
            "wait: each wait is printed (host, reason, retry number, seconds)");
    int nlines = 0;
    for (char *p = log; p && (p = strchr(p, '\n')) != NULL; p++) nlines++;
    T_CHECK(nlines == 4 && contains(log, "retry 2 in 0.2 s") && contains(log, "retry 3 in 0.4 s") &&
                contains(log, "retry 4 in 0.") && !contains(log, "hunter2"),
            "wait: 0.1, 0.2, 0.4 s, then the rest of max_wait_duration; no credentials");
    T_CHECK(rc == DIAG_ETRANSIENT && contains(diag_last(d), "not ready after 1 s (5 attempts") &&
                took >= 1.0 - 0.01 && took < 4,
            "wait: 'not ready after 1 s (5 attempts)' after max_wait_duration 1 s really waited");
    free(log);
    es_client_free(c);
    diag_free(d);
}

static int bench(int n)
{
    diag *d = diag_new();
    plan_es cfg = base_cfg(es_url);
    cfg.chunk_size = 1000;
    cfg.max_concurrency = 4;
    es_client *c = es_client_new(&cfg, d);
    fresh_index(c, "it_bench", d);
    es_bulk_stats st;
    double t0 = es_now();
    int rc = load(&cfg, "it_bench", n, &st, NULL, d);
    double took = es_now() - t0;
    int64_t cnt = count_of(c, "it_bench", d);
    printf("bench: %d docs in %.2f s = %.0f docs/s (%llu bytes, %llu requests), count %lld, rc %d\n",
           n, took, n / took, (unsigned long long)st.bytes, (unsigned long long)st.requests,
           (long long)cnt, rc);
    es_index_delete(c, "it_bench", d);
    es_client_free(c);
    diag_free(d);
    return rc != 0;
}

int main(int argc, char **argv)
{
    T_PLAN(121);
    diag *ld = diag_new();
    lang_plan = compile(MIN_CONFIG, ld);
    if (!lang_plan) {
        diag_print(ld, stdout, 0);
        printf("not ok - the minimal configuration compiles\n");
        return 1;
    }
    diag_free(ld);
    test_pure();
    test_defaults();
    test_wait_messages();
    es_url = need_env("ES_URL");
    tmpdir = getenv("ITEST_TMP");
    if (!tmpdir || !*tmpdir) tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir) tmpdir = ".";
    if (!es_url) {
        plan_free(lang_plan);
        return T_DONE();
    }
    if (argc == 3 && strcmp(argv[1], "bench") == 0) {
        int brc = bench((int)strtol(argv[2], NULL, 10));
        plan_free(lang_plan);
        return brc;
    }
    test_ready();
    test_index();
    test_bulk_10k();
    test_push();
    test_dead_letters();
    test_monitor();
    test_gzip();
    test_faults("PROXY_429", "429-503", "index", 10000);
    test_faults("PROXY_ITEMS", "item-rejects", "index", 5000);
    test_faults("PROXY_RESET", "resets", "index", 5000);
    test_auth();
    test_timeouts();
    test_retry_counts();
    test_concurrency();
    test_mismatch("PROXY_SWAPOP", "swap-op");
    test_mismatch("PROXY_SWAPID", "swap-id");
    test_impostor();
    test_endless_scroll();
    test_bad_item_alone();
    test_dead_letter_file();
    int rc = T_DONE();
    plan_free(lang_plan);
    return rc;
}
