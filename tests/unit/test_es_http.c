/* test_es_http.c - the cluster calls of the sinks against a scripted HTTP
 * server (tests/unit/http_script.h): the answers the OpenSearch test node
 * never gives, or gives only by chance - error statuses of HEAD, create,
 * mapping, refresh, count, delete by query, scroll and the connector-index
 * calls (sinks/es_index.c, sinks/es_api.c); replies without the number or
 * the _id a call needs; the client's retries, start-up waits, product check,
 * authentication and gzip headers (sinks/es_client.c); the bulk sink's
 * answers to whole-request statuses (retry, split, fail), to reply items
 * (mismatched, rejected and retried, a create found after a lost reply), its
 * dead-letter records and error monitor (sinks/es_bulk.c), and the sink
 * interface over it (sinks/es_sink.c). Each case checks the return code, the
 * message, and the requests the client sent. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/diag.h"
#include "sinks/es.h"
#include "sinks/es_api.h"
#include "sinks/sink.h"
#include "http_script.h"
#include "t.h"

static diag *D;
static char host[64];

static plan_es cfg(void)
{
    plan_es k = {0};
    k.host = host;
    k.request_timeout = 10;
    k.max_wait_duration = 0;
    k.initial_backoff_duration = 0.01;
    k.backoff_multiplier = 1;
    k.max_retries = 0;
    k.retry_interval = 0;
    k.queue_max_size = 10;
    k.queue_max_mem_size = 1;
    k.chunk_size = 10;
    k.chunk_max_mem_size = 1;
    k.max_concurrency = 1;
    k.bulk_max_retries = 0;
    k.bulk_retry_interval = 0;
    return k;
}

/* the last message, with the server's address replaced by HOST */
static const char *msg(void)
{
    static char out[1200];
    const char *m = diag_last(D);
    const char *p = m ? strstr(m, host) : NULL;
    if (!m) return "(no message)";
    if (p)
        snprintf(out, sizeof out, "%.*sHOST%s", (int)(p - m), m, p + strlen(host));
    else
        snprintf(out, sizeof out, "%s", m);
    return out;
}

/* the text of the last message kept, whatever its level (notes too) */
static const char *last_kept(void)
{
    size_t n = diag_count(D);
    const diag_msg *m = n ? diag_get(D, n - 1) : NULL;
    return m && m->text ? m->text : "(none)";
}

#define SCRIPT(...)                                                    \
    do {                                                               \
        static const hs_reply s_[] = {__VA_ARGS__};                    \
        hs_script(s_, (int)(sizeof s_ / sizeof s_[0]));                \
        diag_clear(D);                                                 \
    } while (0)

static const char ERR500[] =
    "{\"error\":{\"type\":\"illegal_state_exception\",\"reason\":\"broken\"},\"status\":500}";

/* ---- es_index.c ------------------------------------------------------- */

static void index_calls(es_client *c)
{
    /* names that would change the URL path are refused before any request */
    SCRIPT({200, "{}", NULL});
    T_CHECK(es_index_exists(c, "a/b", D) == DIAG_EINVAL && hs_count() == 0,
            "index name with '/': refused, nothing sent");
    T_STREQ(msg(), "elasticsearch: invalid index name 'a/b'", "index name with '/': message");
    T_CHECK(es_refresh(c, "", D) == DIAG_EINVAL && es_count(c, NULL, NULL, NULL, D) == DIAG_EINVAL &&
                es_index_delete(c, "a b", D) == DIAG_EINVAL &&
                es_delete_by_query(c, "x\x7f", NULL, NULL, D) == DIAG_EINVAL && hs_count() == 0,
            "empty, missing, space and DEL in index names: refused, nothing sent");
    char long_name[300];
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    es_ids *it = NULL;
    T_CHECK(es_ids_open(c, long_name, NULL, 10, &it, D) == DIAG_EINVAL && !it && hs_count() == 0,
            "index name of 256 bytes: refused");

    /* HEAD */
    SCRIPT({200, NULL, NULL}, {404, NULL, NULL}, {500, ERR500, NULL});
    T_CHECK(es_index_exists(c, "ix", D) == 1, "HEAD 200: exists");
    T_CHECK(es_index_exists(c, "ix", D) == 0, "HEAD 404: does not exist");
    T_CHECK(es_index_exists(c, "ix", D) == DIAG_EIO, "HEAD 500: an error");
    T_STREQ(msg(), "elasticsearch HOST: HEAD index 'ix' answered 500: (empty reply)",
            "HEAD 500: message (HEAD has no body)");
    T_STREQ(hs_line(0), "HEAD /ix", "HEAD: the path");

    /* DELETE: a missing index is fine, other statuses are errors */
    SCRIPT({404, NULL, NULL}, {200, "{}", NULL}, {403, ERR500, NULL});
    T_CHECK(es_index_delete(c, "ix", D) == 0 && es_index_delete(c, "ix", D) == 0,
            "delete index: 404 and 200 are success");
    T_CHECK(es_index_delete(c, "ix", D) == DIAG_EIO, "delete index: 403 is an error");
    T_STREQ(msg(), "elasticsearch HOST: delete index 'ix' answered 403: illegal_state_exception: broken",
            "delete index 403: message with the reply's type and reason");

    /* ensure: the plan's mapping must be an object */
    SCRIPT({200, NULL, NULL});
    es_index_report rep;
    T_CHECK(es_index_ensure(c, "ix", "[1]", NULL, &rep, D) == DIAG_EINVAL && hs_count() == 0,
            "ensure: a mapping that is not an object is refused before any request");
    T_STREQ(msg(), "index 'ix': the plan's mapping is not a JSON object", "ensure: mapping message");

    /* ensure: missing -> created, with settings and mappings in the body */
    SCRIPT({404, NULL, NULL}, {200, "{\"acknowledged\":true}", NULL});
    T_CHECK(es_index_ensure(c, "ix", "{\"properties\":{}}", "{\"number_of_shards\":1}", &rep, D) == 0 &&
                rep.created == 1 && rep.fields_added == 0 && hs_count() == 2,
            "ensure: a missing index is created (2 requests)");
    T_STREQ(hs_req(1)->body, "{\"settings\":{\"number_of_shards\":1},\"mappings\":{\"properties\":{}}}",
            "ensure: the create body holds settings then mappings");
    SCRIPT({404, NULL, NULL}, {200, "{}", NULL});
    T_CHECK(es_index_ensure(c, "ix", NULL, "{\"a\":1}", &rep, D) == 0 && rep.created == 1,
            "ensure: created with settings only");
    T_STREQ(hs_req(1)->body, "{\"settings\":{\"a\":1}}", "ensure: settings only body");
    SCRIPT({404, NULL, NULL}, {200, "{}", NULL});
    T_CHECK(es_index_ensure(c, "ix", "{\"properties\":{}}", NULL, NULL, D) == 0,
            "ensure: created with a mapping only (no report asked)");
    T_STREQ(hs_req(1)->body, "{\"mappings\":{\"properties\":{}}}", "ensure: mappings only body");

    /* ensure: the create fails */
    SCRIPT({404, NULL, NULL}, {400, "{\"error\":{\"type\":\"mapper_parsing_exception\",\"reason\":\"no\"}}", NULL});
    T_CHECK(es_index_ensure(c, "ix", "{\"properties\":{}}", NULL, &rep, D) == DIAG_EIO && !rep.created,
            "ensure: a refused create is an error");
    T_STREQ(msg(), "elasticsearch HOST: create index 'ix' answered 400: mapper_parsing_exception: no",
            "ensure: refused create message");

    /* ensure: created meanwhile by another writer -> the mapping is compared */
    SCRIPT({404, NULL, NULL},
           {400, "{\"error\":{\"type\":\"resource_already_exists_exception\",\"reason\":\"x\"}}", NULL},
           {200, "{\"ix\":{\"mappings\":{\"properties\":{\"a\":{\"type\":\"long\"}}}}}", NULL});
    T_CHECK(es_index_ensure(c, "ix", "{\"properties\":{\"a\":{\"type\":\"long\"}}}", NULL, &rep, D) == 0 &&
                !rep.created && rep.fields_added == 0 && hs_count() == 3,
            "ensure: an index created meanwhile is compared, not created");
    T_STREQ(hs_line(2), "GET /ix/_mapping", "ensure: then its mapping is read");

    /* ensure: existing, without a mapping to compare: one request */
    SCRIPT({200, NULL, NULL});
    T_CHECK(es_index_ensure(c, "ix", NULL, NULL, &rep, D) == 0 && hs_count() == 1 && !rep.created,
            "ensure: an existing index and no mapping: only HEAD");

    /* ensure: the mapping cannot be read */
    SCRIPT({200, NULL, NULL}, {500, ERR500, NULL});
    T_CHECK(es_index_ensure(c, "ix", "{\"properties\":{}}", NULL, &rep, D) == DIAG_EIO,
            "ensure: GET _mapping 500 is an error");
    T_STREQ(msg(), "elasticsearch HOST: get mapping of 'ix' answered 500: illegal_state_exception: broken",
            "ensure: GET _mapping message");

    /* ensure: a type conflict is an error and nothing is changed */
    SCRIPT({200, NULL, NULL}, {200, "{\"ix\":{\"mappings\":{\"properties\":{\"a\":{\"type\":\"text\"}}}}}", NULL});
    T_CHECK(es_index_ensure(c, "ix", "{\"properties\":{\"a\":{\"type\":\"long\"}}}", NULL, &rep, D) ==
                    DIAG_EINVAL &&
                hs_count() == 2,
            "ensure: a type conflict: error, no PUT _mapping");

    /* ensure: fields only in the plan are added; the PUT can fail */
    SCRIPT({200, NULL, NULL}, {200, "{\"ix\":{\"mappings\":{\"properties\":{\"a\":{\"type\":\"long\"}}}}}", NULL},
           {200, "{\"acknowledged\":true}", NULL});
    const char *two = "{\"properties\":{\"a\":{\"type\":\"long\"},\"b\":{\"type\":\"keyword\"}}}";
    T_CHECK(es_index_ensure(c, "ix", two, NULL, &rep, D) == 0 && rep.fields_added == 1 && hs_count() == 3,
            "ensure: one field only in the plan is added");
    T_STREQ(hs_line(2), "PUT /ix/_mapping", "ensure: added with PUT _mapping");
    T_STREQ(hs_req(2)->body, "{\"properties\":{\"b\":{\"type\":\"keyword\"}}}", "ensure: the PUT holds only the new field");
    T_STREQ(last_kept(), "index 'ix': added 1 field only in the plan to its mapping", "ensure: the note");
    SCRIPT({200, NULL, NULL}, {200, "{\"ix\":{\"mappings\":{}}}", NULL},
           {400, "{\"error\":{\"type\":\"illegal_argument_exception\",\"reason\":\"limit\"}}", NULL});
    T_CHECK(es_index_ensure(c, "ix", two, NULL, &rep, D) == DIAG_EIO && rep.fields_added == 0,
            "ensure: a refused PUT _mapping is an error");
    T_STREQ(msg(), "elasticsearch HOST: add fields to the mapping of 'ix' answered 400: "
                   "illegal_argument_exception: limit",
            "ensure: refused PUT _mapping message");
    SCRIPT({200, NULL, NULL}, {200, "{\"ix\":{}}", NULL}, {200, "{}", NULL});
    T_CHECK(es_index_ensure(c, "ix", two, NULL, &rep, D) == 0 && rep.fields_added == 2,
            "ensure: an index without mappings gets both fields");
    T_STREQ(last_kept(), "index 'ix': added 2 fields only in the plan to its mapping", "ensure: plural note");

    /* refresh, count, delete by query */
    SCRIPT({200, "{}", NULL}, {503, ERR500, NULL});
    T_CHECK(es_refresh(c, "ix", D) == 0, "refresh 200");
    T_CHECK(es_refresh(c, "ix", D) == DIAG_EIO, "refresh 503 (no retries configured): error");
    T_STREQ(msg(), "elasticsearch HOST: refresh 'ix' answered 503: illegal_state_exception: broken",
            "refresh 503 message");
    int64_t n = -1;
    SCRIPT({200, "{\"count\":42}", NULL}, {200, "{\"count\":\"x\"}", NULL}, {200, "{\"count\":-1}", NULL},
           {404, "{\"error\":{\"type\":\"index_not_found_exception\",\"reason\":\"no such index [ix]\"}}", NULL});
    T_CHECK(es_count(c, "ix", "{\"term\":{\"a\":1}}", &n, D) == 0 && n == 42, "count: 42");
    T_STREQ(hs_req(0)->body, "{\"query\":{\"term\":{\"a\":1}}}", "count: the query body");
    T_CHECK(es_count(c, "ix", NULL, &n, D) == DIAG_EIO, "count: a count that is not a number is an error");
    T_STREQ(msg(), "elasticsearch HOST: count (no count in reply) 'ix' answered 200: {\"count\":\"x\"}",
            "count: not a number message");
    T_STREQ(hs_req(1)->body, "{}", "count without a query: {}");
    T_CHECK(es_count(c, "ix", NULL, &n, D) == DIAG_EIO, "count: a negative count is an error");
    T_CHECK(es_count(c, "ix", NULL, &n, D) == DIAG_EIO, "count: 404 is an error");
    T_STREQ(msg(), "elasticsearch HOST: count 'ix' answered 404: index_not_found_exception: no such index [ix]",
            "count 404 message");
    SCRIPT({200, "{\"deleted\":3}", NULL}, {200, "{\"took\":1}", NULL}, {409, "conflict", NULL});
    T_CHECK(es_delete_by_query(c, "ix", NULL, &n, D) == 0 && n == 3, "delete by query: 3 deleted");
    T_STREQ(hs_line(0), "POST /ix/_delete_by_query?conflicts=proceed&refresh=true",
            "delete by query: the path");
    T_STREQ(hs_req(0)->body, "{\"query\":{\"match_all\":{}}}", "delete by query without a query: match_all");
    T_CHECK(es_delete_by_query(c, "ix", "{\"term\":{\"a\":1}}", &n, D) == DIAG_EIO,
            "delete by query: no deleted count is an error");
    T_STREQ(msg(), "elasticsearch HOST: delete by query (no count in reply) 'ix' answered 200: {\"took\":1}",
            "delete by query: no count message");
    T_CHECK(es_delete_by_query(c, "ix", NULL, &n, D) == DIAG_EIO, "delete by query 409: error");
    T_STREQ(msg(), "elasticsearch HOST: delete by query on 'ix' answered 409: conflict",
            "delete by query 409: message with the body's start");
}

/* ---- es_index.c: the scroll over _ids ---------------------------------- */

static int drain(es_ids *it, char *out, size_t cap)
{
    const char *id;
    size_t len;
    int rc, n = 0;
    out[0] = '\0';
    while ((rc = es_ids_next(it, &id, &len, D)) == 1) {
        size_t o = strlen(out);
        snprintf(out + o, cap - o, "%s%.*s", n++ ? "," : "", (int)len, id);
    }
    return rc;
}

static void scroll_calls(es_client *c)
{
    es_ids *it = NULL;
    char ids[256];
    /* two pages, an empty third one, then the scroll is cleared */
    SCRIPT({200, "{\"count\":3}", NULL},
           {200, "{\"_scroll_id\":\"S1\",\"hits\":{\"hits\":[{\"_id\":\"a\"},{\"_id\":\"b\"}]}}", NULL},
           {200, "{\"_scroll_id\":\"S2\",\"hits\":{\"hits\":[{\"_id\":\"c\"},{\"x\":1}]}}", NULL},
           {200, "{\"_scroll_id\":\"S2\"}", NULL}, {200, "{}", NULL});
    T_CHECK(es_ids_open(c, "ix", NULL, 0, &it, D) == 0 && it, "ids: open");
    T_STREQ(hs_line(1), "POST /ix/_search?scroll=2m&filter_path=_scroll_id,hits.hits._id", "ids: the search path");
    T_STREQ(hs_req(1)->body, "{\"size\":1000,\"sort\":[\"_doc\"],\"_source\":false}",
            "ids: batch 0 is 1000, no query");
    T_CHECK(drain(it, ids, sizeof ids) == 0, "ids: the end");
    T_STREQ(ids, "a,b,c", "ids: the ids of both pages (a hit without _id skipped)");
    T_STREQ(hs_req(2)->body, "{\"scroll\":\"2m\",\"scroll_id\":\"S1\"}", "ids: the scroll body");
    es_ids_close(it);
    T_CHECK(hs_count() == 5, "ids: close clears the scroll");
    T_STREQ(hs_req(4)->body, "{\"scroll_id\":[\"S2\"]}", "ids: the clear body names the last scroll id");
    T_STREQ(hs_req(4)->method, "DELETE", "ids: cleared with DELETE");

    /* batch bounds */
    SCRIPT({200, "{\"count\":0}", NULL}, {200, "{\"_scroll_id\":\"S\",\"hits\":{\"hits\":[]}}", NULL},
           {200, "{}", NULL});
    T_CHECK(es_ids_open(c, "ix", "{\"match_all\":{}}", 50000, &it, D) == 0, "ids: open with a huge batch");
    T_STREQ(hs_req(1)->body, "{\"size\":10000,\"sort\":[\"_doc\"],\"_source\":false,\"query\":{\"match_all\":{}}}",
            "ids: batch capped at 10000, the query after it");
    T_CHECK(drain(it, ids, sizeof ids) == 0 && !ids[0] && hs_count() == 2,
            "ids: an empty first page ends without a scroll request");
    es_ids_close(it);

    /* failures: the count, the search, a scroll page, a reply without a scroll id */
    SCRIPT({500, ERR500, NULL});
    T_CHECK(es_ids_open(c, "ix", NULL, 10, &it, D) == DIAG_EIO && !it, "ids: a failed count fails the open");
    SCRIPT({200, "{\"count\":1}", NULL}, {400, ERR500, NULL});
    T_CHECK(es_ids_open(c, "ix", NULL, 10, &it, D) == DIAG_EIO && !it, "ids: a failed search fails the open");
    T_STREQ(msg(), "elasticsearch HOST: search 'ix' answered 400: illegal_state_exception: broken",
            "ids: failed search message");
    SCRIPT({200, "{\"count\":1}", NULL}, {200, "{\"hits\":{\"hits\":[]}}", NULL});
    T_CHECK(es_ids_open(c, "ix", NULL, 10, &it, D) == DIAG_EIO && !it && hs_count() == 2,
            "ids: a reply without a scroll id fails (nothing to clear)");
    T_STREQ(msg(), "elasticsearch: scroll reply without _scroll_id or hits", "ids: no scroll id message");
    SCRIPT({200, "{\"count\":1}", NULL}, {200, "{\"_scroll_id\":\"S\",\"hits\":{\"hits\":[{\"_id\":\"a\"}]}}", NULL},
           {404, "{\"error\":{\"type\":\"search_context_missing_exception\",\"reason\":\"gone\"}}", NULL},
           {200, "{}", NULL});
    T_CHECK(es_ids_open(c, "ix", NULL, 10, &it, D) == 0, "ids: open (scroll to expire)");
    T_CHECK(drain(it, ids, sizeof ids) == DIAG_EIO && !strcmp(ids, "a"), "ids: an expired scroll is an error after the first page");
    T_STREQ(msg(), "elasticsearch HOST: scroll 'ix' answered 404: search_context_missing_exception: gone",
            "ids: expired scroll message");
    es_ids_close(it);
    T_CHECK(hs_count() == 4, "ids: the scroll is still cleared after a failure");

    /* a scroll that never ends is stopped at count + count/10 + batch ids */
    SCRIPT({200, "{\"count\":0}", NULL},
           {200, "{\"_scroll_id\":\"S\",\"hits\":{\"hits\":[{\"_id\":\"a\"},{\"_id\":\"b\"}]}}", NULL},
           {200, "{\"_scroll_id\":\"S\",\"hits\":{\"hits\":[{\"_id\":\"c\"},{\"_id\":\"d\"}]}}", NULL},
           {200, "{}", NULL});
    T_CHECK(es_ids_open(c, "ix", NULL, 2, &it, D) == 0, "ids: open (endless scroll)");
    T_CHECK(drain(it, ids, sizeof ids) == DIAG_EIO && !strcmp(ids, "a,b"), "ids: stopped after 2 ids (count 0, batch 2)");
    T_STREQ(msg(), "elasticsearch HOST: the scroll over 'ix' returned more than 2 ids although the index "
                   "counted 0 documents: stopping (a scroll that does not end)",
            "ids: endless scroll message");
    es_ids_close(it);
    es_ids_close(NULL);
}

/* ---- es_api.c --------------------------------------------------------- */

static void api_calls(es_client *c)
{
    es_response r;
    char reason[200];
    /* es_reply_reason */
    es_response x = {500, (char *)ERR500, strlen(ERR500), ""};
    es_reply_reason(&x, reason, sizeof reason);
    T_STREQ(reason, "illegal_state_exception: broken", "reply reason: type and reason");
    x.body = (char *)"{\"error\":{\"type\":\"t\"}}";
    x.len = strlen(x.body);
    es_reply_reason(&x, reason, sizeof reason);
    T_STREQ(reason, "t: ", "reply reason: type without reason");
    x.body = (char *)"{\"error\":\"plain words\"}";
    x.len = strlen(x.body);
    es_reply_reason(&x, reason, sizeof reason);
    T_STREQ(reason, "plain words", "reply reason: error as a string");
    x.body = (char *)"<html>bad gateway</html>";
    x.len = strlen(x.body);
    es_reply_reason(&x, reason, sizeof reason);
    T_STREQ(reason, "<html>bad gateway</html>", "reply reason: not JSON");
    x.body = NULL;
    x.len = 0;
    es_reply_reason(&x, reason, sizeof reason);
    T_STREQ(reason, "(empty reply)", "reply reason: empty");

    /* names and ids are percent-encoded; empty or too long ones are refused */
    SCRIPT({200, "{\"_id\":\"a/b c\",\"found\":true}", NULL}, {404, "{\"found\":false}", NULL},
           {500, ERR500, NULL});
    T_CHECK(es_doc_get(c, ".connectors", "a/b c", &r, D) == 1 && r.body && strstr(r.body, "found"),
            "doc get 200: 1 with the body");
    es_response_free(&r);
    T_STREQ(hs_line(0), "GET /.connectors/_doc/a%2Fb%20c", "doc get: the id is percent-encoded");
    T_CHECK(es_doc_get(c, ".connectors", "x", &r, D) == 0 && !r.body, "doc get 404: 0, no body kept");
    T_CHECK(es_doc_get(c, ".connectors", "x", &r, D) == DIAG_EIO && !r.body, "doc get 500: an error");
    T_STREQ(msg(), "elasticsearch HOST: GET /.connectors/_doc/x answered 500: illegal_state_exception: broken",
            "doc get 500: message");
    SCRIPT({200, "{}", NULL});
    T_CHECK(es_doc_get(c, "", "x", &r, D) == DIAG_EINVAL && hs_count() == 0, "doc get: empty index refused");
    T_STREQ(msg(), "elasticsearch: empty index name", "doc get: empty index message");
    char big[800];
    memset(big, 'i', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    T_CHECK(es_doc_get(c, big, "x", &r, D) == DIAG_EINVAL && hs_count() == 0, "doc get: long index refused");
    T_STREQ(msg(), "elasticsearch: index name too long", "doc get: long index message");
    T_CHECK(es_doc_create(c, "ix", NULL, "{}", NULL, D) == DIAG_EINVAL, "doc create: no id refused");
    T_STREQ(msg(), "elasticsearch: empty document id", "doc create: no id message");

    /* create: 201 created (200 too: an older node or a proxy), 409 exists,
     * other statuses errors */
    SCRIPT({200, "{}", NULL});
    T_CHECK(es_doc_create(c, "ix", "j0", "{}", NULL, D) == 0, "doc create 200: 0");
    SCRIPT({201, "{}", NULL}, {409, "{}", NULL}, {400, ERR500, NULL});
    T_CHECK(es_doc_create(c, "ix", "j1", "{\"a\":1}", "wait_for", D) == 0, "doc create 201: 0");
    T_STREQ(hs_line(0), "PUT /ix/_create/j1?refresh=wait_for", "doc create: path with refresh");
    T_STREQ(hs_req(0)->body, "{\"a\":1}", "doc create: the body");
    T_CHECK(es_doc_create(c, "ix", "j1", "{}", NULL, D) == 1, "doc create 409: 1 (exists)");
    T_STREQ(hs_line(1), "PUT /ix/_create/j1", "doc create: no refresh, no query");
    T_CHECK(es_doc_create(c, "ix", "j1", "{}", NULL, D) == DIAG_EIO, "doc create 400: error");
    T_STREQ(msg(), "elasticsearch HOST: PUT /ix/_create/j1 answered 400: illegal_state_exception: broken",
            "doc create 400: message");

    /* add: the new _id comes back */
    char id[64];
    SCRIPT({201, "{\"_id\":\"new-1\",\"result\":\"created\"}", NULL}, {201, "{\"result\":\"created\"}", NULL},
           {200, "{\"_id\":\"n2\"}", NULL}, {429, ERR500, NULL});
    T_CHECK(es_doc_add(c, "ix", "{}", "true", id, sizeof id, D) == 0 && !strcmp(id, "new-1"),
            "doc add 201: the _id of the reply");
    T_STREQ(hs_line(0), "POST /ix/_doc?refresh=true", "doc add: the path");
    T_CHECK(es_doc_add(c, "ix", "{}", NULL, id, sizeof id, D) == DIAG_EIO && !id[0], "doc add: a reply without _id is an error");
    T_STREQ(msg(), "elasticsearch HOST: POST /ix/_doc: the reply has no _id", "doc add: no _id message");
    T_CHECK(es_doc_add(c, "ix", "{}", NULL, NULL, 0, D) == 0, "doc add: the id not asked for");
    T_CHECK(es_doc_add(c, "ix", "{}", NULL, id, sizeof id, D) == DIAG_EIO, "doc add 429 (no retries): error");
    T_STREQ(msg(), "elasticsearch HOST: POST /ix/_doc answered 429: illegal_state_exception: broken",
            "doc add 429: message");
    T_CHECK(es_doc_add(c, "", "{}", NULL, id, sizeof id, D) == DIAG_EINVAL, "doc add: empty index refused");

    /* update: optimistic concurrency or retry_on_conflict; 409, 404, errors */
    SCRIPT({200, "{}", NULL}, {409, "{}", NULL}, {404, "{}", NULL}, {201, "{}", NULL}, {500, ERR500, NULL});
    T_CHECK(es_doc_update(c, "ix", "j1", "{\"s\":1}", 7, 2, "true", D) == 0, "doc update 200: 0");
    T_STREQ(hs_line(0), "POST /ix/_update/j1?if_seq_no=7&if_primary_term=2&refresh=true",
            "doc update: seq_no and primary_term, then refresh");
    T_STREQ(hs_req(0)->body, "{\"doc\":{\"s\":1}}", "doc update: the partial document");
    T_CHECK(es_doc_update(c, "ix", "j1", "{}", 7, 2, NULL, D) == 1, "doc update 409: 1 (changed meanwhile)");
    T_STREQ(hs_line(1), "POST /ix/_update/j1?if_seq_no=7&if_primary_term=2", "doc update: no refresh");
    T_CHECK(es_doc_update(c, "ix", "j1", "{}", -1, 0, NULL, D) == DIAG_ENOTFOUND, "doc update 404: not found");
    T_STREQ(msg(), "elasticsearch HOST: document 'j1' of 'ix' not found", "doc update 404: message");
    T_STREQ(hs_line(2), "POST /ix/_update/j1?retry_on_conflict=5", "doc update unconditional: retry_on_conflict");
    T_CHECK(es_doc_update(c, "ix", "j1", "{}", -1, 0, "wait_for", D) == 0, "doc update 201: 0");
    T_STREQ(hs_line(3), "POST /ix/_update/j1?retry_on_conflict=5&refresh=wait_for",
            "doc update unconditional with refresh");
    T_CHECK(es_doc_update(c, "ix", "j1", "{}", 1, 1, NULL, D) == DIAG_EIO, "doc update 500: error");
    T_STREQ(msg(), "elasticsearch HOST: POST /ix/_update/j1?if_seq_no=1&if_primary_term=1 answered 500: "
                   "illegal_state_exception: broken",
            "doc update 500: message");
    T_CHECK(es_doc_update(c, "ix", "", "{}", 1, 1, NULL, D) == DIAG_EINVAL, "doc update: empty id refused");

    /* search, index create, alias */
    SCRIPT({200, "{\"hits\":{}}", NULL}, {400, ERR500, NULL});
    T_CHECK(es_search(c, "ix*", "{}", &r, D) == 0 && r.status == 200 && r.body, "search 200: the reply");
    es_response_free(&r);
    T_STREQ(hs_line(0), "POST /ix%2A/_search?seq_no_primary_term=true&expand_wildcards=all&ignore_unavailable=true",
            "search: the path");
    T_CHECK(es_search(c, "ix", "{}", &r, D) == DIAG_EIO && !r.body, "search 400: error");
    T_CHECK(es_search(c, "", "{}", &r, D) == DIAG_EINVAL, "search: empty index refused");
    SCRIPT({200, "{}", NULL}, {400, "{\"error\":{\"type\":\"resource_already_exists_exception\"}}", NULL},
           {400, "{\"error\":{\"type\":\"invalid_index_name_exception\",\"reason\":\"bad\"}}", NULL},
           {201, "{}", NULL});
    T_CHECK(es_index_create_with(c, ".connectors-v1", "{}", D) == 0, "index create 200: 0");
    T_CHECK(es_index_create_with(c, ".connectors-v1", "{}", D) == 1, "index create: already exists is 1");
    T_CHECK(es_index_create_with(c, ".connectors-v1", "{}", D) == DIAG_EIO, "index create: other 400 is an error");
    T_STREQ(msg(), "elasticsearch HOST: PUT /.connectors-v1 answered 400: invalid_index_name_exception: bad",
            "index create 400: message");
    T_CHECK(es_index_create_with(c, ".connectors-v1", "{}", D) == 0, "index create 201: 0");
    T_CHECK(es_index_create_with(c, "", "{}", D) == DIAG_EINVAL, "index create: empty name refused");
    SCRIPT({200, "{}", NULL}, {404, "{}", NULL}, {500, ERR500, NULL});
    T_CHECK(es_alias_exists(c, ".connectors", D) == 1, "alias 200: 1");
    T_STREQ(hs_line(0), "GET /_alias/.connectors?expand_wildcards=all", "alias: the path");
    T_CHECK(es_alias_exists(c, ".connectors", D) == 0, "alias 404: 0");
    T_CHECK(es_alias_exists(c, ".connectors", D) == DIAG_EIO, "alias 500: error");
    T_CHECK(es_alias_exists(c, "", D) == DIAG_EINVAL, "alias: empty refused");
}

/* ---- es_client.c ------------------------------------------------------ */

static const char OS_BANNER[] =
    "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.19.1\"},\"tagline\":\"The OpenSearch Project\"}";

static void client_calls(void)
{
    es_response r;
    plan_es k = cfg();
    /* retries: a 503 then a 200 is one successful call of two requests */
    k.max_retries = 2;
    es_client *c = es_client_new(&k, D);
    SCRIPT({503, "{}", NULL}, {502, "{}", NULL}, {200, "{\"ok\":1}", NULL});
    T_CHECK(es_request(c, "GET", "/x", NULL, 0, NULL, &r, D) == 0 && r.status == 200 && hs_count() == 3,
            "request: 503 and 502 retried, then 200");
    es_response_free(&r);
    SCRIPT({429, "{}", NULL}, {504, "{}", NULL}, {504, "{\"last\":1}", NULL});
    T_CHECK(es_request(c, "GET", "/x", NULL, 0, NULL, &r, D) == 0 && r.status == 504 && hs_count() == 3 &&
                r.body && !strcmp(r.body, "{\"last\":1}"),
            "request: after max_retries the last reply is returned");
    es_response_free(&r);
    SCRIPT({0, NULL, NULL}, {200, "{}", NULL});
    T_CHECK(es_request(c, "GET", "/x", NULL, 0, NULL, &r, D) == 0 && r.status == 200 && hs_count() == 2,
            "request: a connection closed without a reply is retried");
    es_response_free(&r);
    SCRIPT({400, "{}", NULL});
    T_CHECK(es_request(c, "GET", "/x", NULL, 0, NULL, &r, D) == 0 && r.status == 400 && hs_count() == 1,
            "request: 400 is not retried");
    es_response_free(&r);
    SCRIPT({0, NULL, NULL}, {0, NULL, NULL}, {0, NULL, NULL});
    T_CHECK(es_request(c, "GET", "/x", NULL, 0, NULL, &r, D) == DIAG_ETRANSIENT && hs_count() == 3,
            "request: three closed connections: a transient error");
    T_STREQ(msg(), "elasticsearch HOST: GET /x: Empty reply from server", "request: the last attempt's message");
    es_client_free(c);

    /* headers: ApiKey wins over basic auth; extra headers; content type; gzip */
    static const char *const hdrs[] = {"X-elastic-product-origin: connectors", "X-Opaque-Id: t1"};
    k = cfg();
    k.api_key = "a2V5";
    k.username = "elastic";
    k.password = "pw";
    k.headers = hdrs;
    k.nheaders = 2;
    k.gzip = 1;
    c = es_client_new(&k, D);
    SCRIPT({200, "{}", NULL});
    const char body[] = "{\"index\":{}}\n{\"a\":1}\n";
    T_CHECK(es_request(c, "POST", "/_bulk", body, strlen(body), "application/x-ndjson", &r, D) == 0, "gzip: POST");
    es_response_free(&r);
    T_CHECK(hs_has_header(0, "Authorization: ApiKey a2V5") && !hs_has_header(0, "Basic"),
            "headers: ApiKey sent, no basic auth");
    T_CHECK(hs_has_header(0, "X-elastic-product-origin: connectors") && hs_has_header(0, "X-Opaque-Id: t1"),
            "headers: the extra headers sent");
    T_CHECK(hs_has_header(0, "Content-Type: application/x-ndjson") && hs_has_header(0, "Content-Encoding: gzip") &&
                hs_has_header(0, "Accept-Encoding:"),
            "headers: content type, gzip body, gzip replies accepted");
    {
        char plain[256];
        uLongf pl = sizeof plain;
        z_stream z;
        memset(&z, 0, sizeof z);
        const hs_request *q = hs_req(0);
        int ok = inflateInit2(&z, 15 + 16) == Z_OK;
        z.next_in = (Bytef *)q->body;
        z.avail_in = (uInt)q->len;
        z.next_out = (Bytef *)plain;
        z.avail_out = (uInt)pl;
        ok = ok && inflate(&z, Z_FINISH) == Z_STREAM_END;
        plain[z.total_out < sizeof plain ? z.total_out : 0] = '\0';
        inflateEnd(&z);
        T_CHECK(ok && !strcmp(plain, body), "gzip: the body inflates to what was sent");
    }
    SCRIPT({200, "{}", NULL});
    T_CHECK(es_request(c, "PUT", "/ix", NULL, 0, NULL, &r, D) == 0 && hs_req(0)->len == 0 &&
                hs_has_header(0, "Content-Type: application/json") && !hs_has_header(0, "Content-Encoding"),
            "PUT without a body: empty, JSON content type, not gzip'ed");
    es_response_free(&r);
    SCRIPT({200, "{}", NULL});
    T_CHECK(es_request(c, "DELETE", "/ix", NULL, 0, NULL, &r, D) == 0 && !strcmp(hs_req(0)->method, "DELETE") &&
                !hs_has_header(0, "Content-Type"),
            "DELETE without a body: no content type");
    es_response_free(&r);
    SCRIPT({200, "{}", NULL});
    T_CHECK(es_request(c, "DELETE", "/_search/scroll", "{}", 2, NULL, &r, D) == 0 &&
                !strcmp(hs_req(0)->method, "DELETE") && hs_req(0)->len > 2,
            "DELETE with a body: sent gzip'ed");
    es_response_free(&r);
    es_client_free(c);

    k = cfg();
    k.username = "elastic";
    k.password = "pw";
    c = es_client_new(&k, D);
    SCRIPT({200, "{}", NULL});
    T_CHECK(es_request(c, "GET", "/", NULL, 0, NULL, &r, D) == 0 && hs_has_header(0, "Authorization: Basic ZWxhc3RpYzpwdw=="),
            "basic auth: username and password");
    es_response_free(&r);
    es_client_free(c);

    /* start-up: 401 is final; 503 then a banner; the product header is read */
    k = cfg();
    k.max_wait_duration = 5;
    c = es_client_new(&k, D);
    char *logtext = NULL;
    size_t loglen = 0;
    FILE *log = open_memstream(&logtext, &loglen);
    es_client_set_log(c, log);
    es_version v;
    SCRIPT({401, "{}", NULL});
    T_CHECK(es_wait_ready(c, &v, D) == DIAG_EIO && hs_count() == 1, "wait: 401 is final (no wait)");
    T_STREQ(msg(), "elasticsearch HOST: GET / answered 401: check api_key or username/password", "wait: 401 message");
    SCRIPT({503, "{}", NULL}, {0, NULL, NULL}, {200, OS_BANNER, NULL});
    T_CHECK(es_wait_ready(c, &v, D) == 0 && v.opensearch && v.major == 2 && v.minor == 19 && hs_count() == 3,
            "wait: 503, a closed connection, then OpenSearch 2.19");
    fflush(log);
    T_CHECK(logtext && strstr(logtext, "GET / answered 503, retry 1") &&
                strstr(logtext, "connection closed without a reply, retry 2"),
            "wait: each wait is logged with its reason");
    SCRIPT({200,
            "{\"version\":{\"number\":\"8.13.0\",\"build_flavor\":\"default\"},\"tagline\":\"You Know, for Search\"}",
            "X-elastic-product: Elasticsearch\r\n"});
    T_CHECK(es_wait_ready(c, &v, D) == 0 && !v.opensearch && v.major == 8, "wait: Elasticsearch 8 with its product header");
    SCRIPT({200, "{\"version\":{\"number\":\"8.13.0\"},\"tagline\":\"You Know, for Search\"}", NULL});
    T_CHECK(es_wait_ready(c, &v, D) == DIAG_EINVAL, "wait: Elasticsearch 8 without the product header is refused");
    es_client_free(c);
    fclose(log);
    free(logtext);

    k = cfg();
    k.max_wait_duration = 0.05;
    c = es_client_new(&k, D);
    es_client_set_log(c, NULL);
    SCRIPT({503, "{}", NULL}, {503, "{}", NULL}, {503, "{}", NULL}, {503, "{}", NULL}, {503, "{}", NULL},
           {503, "{}", NULL}, {503, "{}", NULL}, {503, "{}", NULL}, {503, "{}", NULL}, {503, "{}", NULL});
    T_CHECK(es_wait_ready(c, &v, D) == DIAG_ETRANSIENT && hs_count() >= 2, "wait: still 503 after max_wait_duration");
    T_CHECK(strstr(msg(), "not ready after") && strstr(msg(), "max_wait_duration 0.05 s): GET / answered 503"),
            "wait: the give-up message names the last answer");
    es_client_free(c);
}

static int list_cb(void *ctx, const char *id, size_t len)
{
    char *out = ctx;
    size_t o = strlen(out);
    snprintf(out + o, 64 - o, "%.*s,", (int)len, id);
    return 0;
}

/* ---- es_bulk.c and es_sink.c ------------------------------------------- */

static const char IX1[] = "{\"index\":{\"_index\":\"ix\",\"_id\":\"1\"}}\n{\"a\":1}\n";
static const char IX2[] = "{\"index\":{\"_index\":\"ix\",\"_id\":\"2\"}}\n{\"a\":2}\n";
static const char CR1[] = "{\"create\":{\"_index\":\"ix\",\"_id\":\"1\"}}\n{\"a\":1}\n";
static const char OK1[] = "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201,\"result\":\"created\"}}]}";
static const char BAD2[] =
    "{\"errors\":true,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\",\"reason\":\"bad\"}}},"
    "{\"index\":{\"_id\":\"2\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\",\"reason\":\"bad\"}}}]}";

static char dead_path[300];

static es_bulk *bulk_new(es_client *c, plan_es *k)
{
    es_bulk *b = es_bulk_new(c, k, D);
    es_bulk_set_dead_letter(b, dead_path);
    remove(dead_path);
    return b;
}

static int add(es_bulk *b, const char *item, const char *ctx)
{
    es_item_meta m = {0, ctx};
    return es_bulk_add(b, item, strlen(item), &m);
}

static char *slurp(const char *path)
{
    static char text[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    if (f) fclose(f);
    return text;
}

static void bulk_calls(void)
{
    plan_es k = cfg();
    k.max_retries = 1;
    k.bulk_max_retries = 1;
    es_client *c = es_client_new(&k, D);
    es_bulk_stats st;

    /* one request: index created, delete of a missing document, update noop; pipeline */
    es_bulk *b = bulk_new(c, &k);
    es_bulk_set_pipeline(b, "my pipe");
    SCRIPT({200, "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201,\"result\":\"created\"}},"
                 "{\"delete\":{\"_id\":\"2\",\"status\":404,\"result\":\"not_found\"}},"
                 "{\"update\":{\"_id\":\"3\",\"status\":200,\"result\":\"noop\"}}]}", NULL});
    add(b, IX1, NULL);
    add(b, "{\"delete\":{\"_index\":\"ix\",\"_id\":\"2\"}}", NULL);
    add(b, "{\"update\":{\"_index\":\"ix\",\"_id\":\"3\"}}\n{\"doc\":{\"a\":3}}\n", NULL);
    T_CHECK(es_bulk_finish(b, &st) == 0 && st.indexed == 1 && st.deleted == 1 && st.updated == 1 &&
                st.failed == 0 && st.requests == 1 && hs_count() == 1,
            "bulk: created, delete not_found and noop settle in one request");
    {
        const char *line = hs_line(0), *tail = "&pipeline=my%20pipe";
        size_t n = strlen(line), tn = strlen(tail);
        T_CHECK(!strncmp(line, "POST /_bulk?filter_path=", 24) && n > tn && !strcmp(line + n - tn, tail),
                "bulk: POST /_bulk, the pipeline percent-encoded last");
    }
    T_CHECK(hs_has_header(0, "Content-Type: application/x-ndjson") &&
                strstr(hs_req(0)->body, "{\"delete\":{\"_index\":\"ix\",\"_id\":\"2\"}}\n{\"update\""),
            "bulk: NDJSON body, a lone delete line gets its newline");
    es_bulk_free(b);

    /* 413: split in halves; the item refused alone is dead-lettered */
    b = bulk_new(c, &k);
    SCRIPT({413, "{\"error\":{\"type\":\"too_long\",\"reason\":\"big\"}}", NULL}, {200, OK1, NULL},
           {400, "{\"error\":{\"type\":\"mapper_parsing_exception\",\"reason\":\"bad\"}}", NULL});
    add(b, IX1, NULL);
    add(b, IX2, "c > t > 2");
    T_CHECK(es_bulk_finish(b, &st) == 0 && st.request_splits == 1 && st.indexed == 1 && st.failed == 1 &&
                hs_count() == 3,
            "bulk 413: split, one indexed, one dead-lettered");
    T_STREQ(slurp(dead_path),
            "{\"action\":{\"index\":{\"_index\":\"ix\",\"_id\":\"2\"}},\"document\":{\"a\":2},\"status\":400,"
            "\"error\":{\"type\":\"request_refused\",\"reason\":\"mapper_parsing_exception: bad\"}}\n",
            "bulk 413: the dead-letter record");
    es_bulk_free(b);

    /* freed without finish (a sync stopped by a failed table): the queued
     * items are dropped unsent and freed (the sanitizer run checks leaks) */
    b = bulk_new(c, &k);
    SCRIPT({200, OK1, NULL});
    T_CHECK(add(b, IX1, NULL) == 0 && add(b, IX2, NULL) == 0, "bulk: two items queued");
    es_bulk_free(b);
    T_CHECK(hs_count() == 0, "bulk freed without finish: nothing sent");

    /* 500 then 200: the request is sent again */
    b = bulk_new(c, &k);
    SCRIPT({500, ERR500, NULL}, {200, OK1, NULL});
    add(b, IX1, NULL);
    T_CHECK(es_bulk_finish(b, &st) == 0 && st.request_retries == 1 && st.indexed == 1 && hs_count() == 2,
            "bulk 500: retried once, then indexed");
    es_bulk_free(b);

    /* 503 twice with max_retries 1: the sink fails */
    b = bulk_new(c, &k);
    SCRIPT({503, ERR500, NULL}, {503, ERR500, NULL});
    add(b, IX1, NULL);
    T_CHECK(es_bulk_finish(b, &st) == DIAG_EIO && st.indexed == 0, "bulk 503 twice: fails");
    T_STREQ(msg(), "bulk: a _bulk request of 1 documents failed 2 times: HTTP 503 illegal_state_exception: broken",
            "bulk 503 twice: message");
    T_CHECK(add(b, IX2, NULL) == DIAG_EIO && hs_count() == 2, "bulk: a failed sink refuses more items");
    es_bulk_free(b);

    /* 401: not retried */
    b = bulk_new(c, &k);
    SCRIPT({401, "{\"error\":{\"type\":\"security_exception\",\"reason\":\"missing authentication\"}}", NULL});
    add(b, IX1, NULL);
    T_CHECK(es_bulk_finish(b, &st) == DIAG_EIO && hs_count() == 1, "bulk 401: fails at once");
    T_STREQ(msg(), "bulk: elasticsearch HOST answered 401 to _bulk: security_exception: missing authentication",
            "bulk 401: message");
    es_bulk_free(b);

    /* a reply with fewer items than sent: retried as a whole, then a failure */
    b = bulk_new(c, &k);
    SCRIPT({200, OK1, NULL}, {200, OK1, NULL});
    add(b, IX1, NULL);
    add(b, IX2, NULL);
    T_CHECK(es_bulk_finish(b, &st) == DIAG_EIO && st.request_retries == 1 && hs_count() == 2,
            "bulk: 1 reply item for 2 sent: retried, then fails");
    T_STREQ(msg(), "bulk: a _bulk request of 2 documents failed 2 times: the reply has 1 items for 2 sent",
            "bulk: item count mismatch message");
    es_bulk_free(b);

    /* a reply item for another _id: dead-lettered as a mismatch, never acknowledged */
    b = bulk_new(c, &k);
    SCRIPT({200, "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"9\",\"status\":201,\"result\":\"created\"}}]}", NULL});
    add(b, IX1, NULL);
    T_CHECK(es_bulk_finish(b, &st) == 0 && st.mismatched == 1 && st.failed == 1 && st.indexed == 0,
            "bulk: a reply item for another _id is a mismatch");
    T_CHECK(strstr(slurp(dead_path), "\"type\":\"reply_mismatch\",\"reason\":\"sent _id '1', the reply item is for _id '9'\"") != NULL,
            "bulk: the mismatch in the dead-letter record");
    es_bulk_free(b);

    /* an item rejected with 429 inside a 200 reply is sent again alone */
    b = bulk_new(c, &k);
    SCRIPT({200, "{\"errors\":true,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":429,\"error\":{\"type\":\"es_rejected_execution_exception\",\"reason\":\"queue\"}}}]}", NULL},
           {200, OK1, NULL});
    add(b, IX1, NULL);
    T_CHECK(es_bulk_finish(b, &st) == 0 && st.item_retries == 1 && st.indexed == 1 && st.failed == 0 &&
                hs_count() == 2,
            "bulk: an item rejected with 429 is retried and indexed");
    es_bulk_free(b);

    /* a connection closed without a reply: sent again; a create answered 409 then is done */
    b = bulk_new(c, &k);
    SCRIPT({0, NULL, NULL},
           {200, "{\"errors\":true,\"items\":[{\"create\":{\"_id\":\"1\",\"status\":409,\"error\":{\"type\":\"version_conflict_engine_exception\",\"reason\":\"exists\"}}}]}", NULL});
    add(b, CR1, NULL);
    T_CHECK(es_bulk_finish(b, &st) == 0 && st.request_retries == 1 && st.indexed == 1 && st.failed == 0,
            "bulk: a create sent again after a lost reply and answered 409 is done");
    es_bulk_free(b);
    b = bulk_new(c, &k);
    SCRIPT({200, "{\"errors\":true,\"items\":[{\"create\":{\"_id\":\"1\",\"status\":409,\"error\":{\"type\":\"version_conflict_engine_exception\",\"reason\":\"exists\"}}}]}", NULL});
    add(b, CR1, NULL);
    T_CHECK(es_bulk_finish(b, &st) == 0 && st.failed == 1 && st.indexed == 0,
            "bulk: a create answered 409 on its first sending is a failure");
    es_bulk_free(b);

    /* closed connections until max_retries: the sink fails with curl's reason */
    b = bulk_new(c, &k);
    SCRIPT({0, NULL, NULL}, {0, NULL, NULL});
    add(b, IX1, NULL);
    T_CHECK(es_bulk_finish(b, &st) == DIAG_EIO, "bulk: two closed connections: fails");
    T_STREQ(msg(), "bulk: a _bulk request of 1 documents failed 2 times: Empty reply from server",
            "bulk: closed connection message");
    es_bulk_free(b);

    /* the error monitor: consecutive, total, ratio over a window */
    b = bulk_new(c, &k);
    es_bulk_set_error_limits(b, 1, 0, 0, 0);
    SCRIPT({200, BAD2, NULL});
    add(b, IX1, NULL);
    add(b, IX2, "conn > tab > 2");
    T_CHECK(es_bulk_finish(b, &st) == DIAG_EIO && st.failed == 2, "bulk: 2 consecutive errors over a limit of 1");
    T_STREQ(msg(), "bulk: stopping: 2 consecutive document errors (last conn > tab > 2: 400 "
                   "mapper_parsing_exception: bad)",
            "bulk: consecutive errors message names the last item");
    es_bulk_free(b);
    b = bulk_new(c, &k);
    es_bulk_set_error_limits(b, 0, 1, 0, 0);
    SCRIPT({200, BAD2, NULL});
    add(b, IX1, NULL);
    add(b, IX2, NULL);
    T_CHECK(es_bulk_finish(b, &st) == DIAG_EIO, "bulk: 2 errors over a total of 1");
    T_STREQ(msg(), "bulk: stopping: 2 document errors in total (last: 400 mapper_parsing_exception: bad)",
            "bulk: total errors message");
    es_bulk_free(b);
    b = bulk_new(c, &k);
    es_bulk_set_error_limits(b, 0, 0, 0.5, 2);
    SCRIPT({200, "{\"errors\":true,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201,\"result\":\"created\"}},"
                 "{\"index\":{\"_id\":\"2\",\"status\":400,\"error\":{\"type\":\"x\",\"reason\":\"y\"}}},"
                 "{\"index\":{\"_id\":\"3\",\"status\":400,\"error\":{\"type\":\"x\",\"reason\":\"y\"}}}]}", NULL});
    add(b, IX1, NULL);
    add(b, IX2, NULL);
    add(b, "{\"index\":{\"_index\":\"ix\",\"_id\":\"3\"}}\n{}\n", NULL);
    T_CHECK(es_bulk_finish(b, &st) == DIAG_EIO && st.indexed == 1 && st.failed == 2,
            "bulk: ok, error, error over a ratio of 0.5 in a window of 2");
    T_STREQ(msg(), "bulk: stopping: 2 errors in the last 2 operations (last: 400 x: y)", "bulk: ratio message");
    es_bulk_free(b);

    /* no dead-letter file: a failed document stops the sink */
    b = es_bulk_new(c, &k, D);
    SCRIPT({200, BAD2, NULL});
    add(b, IX1, NULL);
    add(b, IX2, NULL);
    T_CHECK(es_bulk_finish(b, &st) == DIAG_EINVAL, "bulk: a failed document without a dead-letter file");
    T_STREQ(msg(), "bulk: a document failed (400 mapper_parsing_exception: bad) and no dead-letter file is set",
            "bulk: no dead-letter file message");
    es_bulk_free(b);

    /* a line that is no action */
    b = bulk_new(c, &k);
    SCRIPT({200, OK1, NULL});
    T_CHECK(add(b, "{\"a\":1}\n", NULL) == DIAG_EINVAL && hs_count() == 0, "bulk: not an action line refused");
    T_STREQ(msg(), "bulk: not an action line: {\"a\":1}\n", "bulk: not an action line message");
    es_bulk_free(b);
    es_client_free(c);

    /* the sink interface over it: start-up check, context of an item, ids, index */
    k = cfg();
    k.max_wait_duration = 1;
    k.dead_letter_file = dead_path;
    remove(dead_path);
    SCRIPT({200, OS_BANNER, NULL});
    sink *s = sink_es_new(&k, "p", D);
    T_CHECK(s && hs_count() == 1 && sink_acknowledges(s) && sink_has_indices(s) && sink_can_list(s),
            "es sink: made after GET /; acknowledges, manages indices, lists ids");
    if (!s) return;
    sink_meta m = {.seq = 1, .connector = "conn", .table = "tab", .id = "2", .idlen = 1};
    SCRIPT({200, "{\"errors\":true,\"items\":[{\"index\":{\"_id\":\"2\",\"status\":400,\"error\":{\"type\":\"x\",\"reason\":\"y\"}}}]}", NULL});
    sink_add(s, IX2, strlen(IX2), &m);
    sink_stats ss;
    T_CHECK(sink_finish(s, &ss) == 0 && ss.failed == 1 && ss.indexed == 0, "es sink: the item's failure is counted");
    T_CHECK(strstr(hs_line(0), "&pipeline=p") != NULL, "es sink: the pipeline is used");
    SCRIPT({200, "{}", NULL}, {200, "{\"count\":2}", NULL},
           {200, "{\"_scroll_id\":\"S\",\"hits\":{\"hits\":[{\"_id\":\"a\"},{\"_id\":\"b\"}]}}", NULL},
           {200, "{\"_scroll_id\":\"S\",\"hits\":{\"hits\":[]}}", NULL}, {200, "{}", NULL});
    char ids[64] = "";
    int rc = s->ops->list_ids(s, "ix", list_cb, ids);
    T_CHECK(rc == 0 && !strcmp(ids, "a,b,") && hs_count() == 5, "es sink: list refreshes, then scrolls the ids");
    T_STREQ(hs_line(0), "POST /ix/_refresh", "es sink: list refreshes first");
    SCRIPT({500, ERR500, NULL});
    T_CHECK(s->ops->list_ids(s, "ix", list_cb, ids) == DIAG_EIO && hs_count() == 1,
            "es sink: a failed refresh fails the list");
    SCRIPT({200, NULL, NULL}, {200, "{\"ix\":{\"mappings\":{}}}", NULL}, {200, "{}", NULL});
    T_CHECK(s->ops->ensure_index(s, "ix", "{\"properties\":{\"a\":{\"type\":\"long\"}}}", NULL) == 0 &&
                hs_count() == 3,
            "es sink: ensure adds the plan's field");
    sink_free(s);
    SCRIPT({401, "{}", NULL});
    T_CHECK(sink_es_new(&k, NULL, D) == NULL && hs_count() == 1, "es sink: not made when GET / is refused");
}

int main(void)
{
    T_PLAN(203);
    D = diag_new();
    int port = hs_start();
    T_CHECK(port > 0, "scripted server started");
    snprintf(host, sizeof host, "http://127.0.0.1:%d", port);
    plan_es k = cfg();
    es_client *c = es_client_new(&k, D);
    T_CHECK(c != NULL, "client");
    if (!port || !c) return T_DONE();
    index_calls(c);
    scroll_calls(c);
    api_calls(c);
    es_client_free(c);
    client_calls();
    snprintf(dead_path, sizeof dead_path, "%s/test_es_http.%d.dead", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    bulk_calls();
    remove(dead_path);
    diag_free(D);
    return T_DONE();
}
