/* test_es_bulk_reply.c - the _bulk replies, action lines and scroll pages of
 * a real node (OpenSearch 2.19, captured with curl), read by the sink's
 * in-place reader (sinks/es_reply.c): full replies and the filtered ones the
 * bulk sink asks for (filter_path=errors,items.*._id,items.*.status,
 * items.*.error.type,items.*.error.reason), all ok, mixed, all failed, the
 * 429 items the fault proxy writes, and every cut-short reply refused. */
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "sinks/es.h"
#include "t.h"

/* The requests: mixed (index 1, create 1 again, index q"2 with a bad field,
 * delete 9 missing, update 1 unchanged, index 1 again), ok (index 5, create
 * 6, delete 5), errors (index 7 and create 5, both with a bad field). */
static const char MIXED_FULL[] =
    "{\"took\":882,\"errors\":true,\"items\":[{\"index\":{\"_index\":\"t1\",\"_id\":\"1\",\"_"
    "version\":1,\"result\":\"created\",\"_shards\":{\"total\":1,\"successful\":1,\"failed\":"
    "0},\"_seq_no\":0,\"_primary_term\":1,\"status\":201}},{\"create\":{\"_index\":\"t1\",\"_"
    "id\":\"1\",\"status\":409,\"error\":{\"type\":\"version_conflict_engine_exception\",\"re"
    "ason\":\"[1]: version conflict, document already exists (current version [1])\",\"index\""
    ":\"t1\",\"shard\":\"0\",\"index_uuid\":\"zzc1Unn-STyAgmKjNTiJ-A\"}}},{\"index\":{\"_inde"
    "x\":\"t1\",\"_id\":\"q\\\"2\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_except"
    "ion\",\"reason\":\"failed to parse field [a] of type [long] in document with id 'q\\\"2'"
    ". Preview of field's value: 'x'\",\"caused_by\":{\"type\":\"illegal_argument_exception\""
    ",\"reason\":\"For input string: \\\"x\\\"\"}}}},{\"delete\":{\"_index\":\"t1\",\"_id\":\""
    "9\",\"_version\":1,\"result\":\"not_found\",\"_shards\":{\"total\":1,\"successful\":1,\""
    "failed\":0},\"_seq_no\":1,\"_primary_term\":1,\"status\":404}},{\"update\":{\"_index\":\""
    "t1\",\"_id\":\"1\",\"_version\":1,\"result\":\"noop\",\"_shards\":{\"total\":1,\"success"
    "ful\":1,\"failed\":0},\"_seq_no\":0,\"_primary_term\":1,\"status\":200}},{\"index\":{\"_"
    "index\":\"t1\",\"_id\":\"1\",\"_version\":2,\"result\":\"updated\",\"_shards\":{\"total\""
    ":1,\"successful\":1,\"failed\":0},\"_seq_no\":2,\"_primary_term\":1,\"status\":200}}]}";

static const char MIXED_FILTERED[] =
    "{\"errors\":true,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201}},{\"create\":{\"_i"
    "d\":\"1\",\"status\":409,\"error\":{\"type\":\"version_conflict_engine_exception\",\"rea"
    "son\":\"[1]: version conflict, document already exists (current version [4])\"}}},{\"ind"
    "ex\":{\"_id\":\"q\\\"2\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\""
    ",\"reason\":\"failed to parse field [a] of type [long] in document with id 'q\\\"2'. Pre"
    "view of field's value: 'x'\"}}},{\"delete\":{\"_id\":\"9\",\"status\":404}},{\"update\":"
    "{\"_id\":\"1\",\"status\":200}},{\"index\":{\"_id\":\"1\",\"status\":200}}]}";

static const char OK_FULL[] =
    "{\"took\":1371,\"errors\":false,\"items\":[{\"index\":{\"_index\":\"t1\",\"_id\":\"5\",\""
    "_version\":1,\"result\":\"created\",\"_shards\":{\"total\":1,\"successful\":1,\"failed\""
    ":0},\"_seq_no\":7,\"_primary_term\":1,\"status\":201}},{\"create\":{\"_index\":\"t1\",\""
    "_id\":\"6\",\"_version\":1,\"result\":\"created\",\"_shards\":{\"total\":1,\"successful\""
    ":1,\"failed\":0},\"_seq_no\":8,\"_primary_term\":1,\"status\":201}},{\"delete\":{\"_inde"
    "x\":\"t1\",\"_id\":\"5\",\"_version\":2,\"result\":\"deleted\",\"_shards\":{\"total\":1,"
    "\"successful\":1,\"failed\":0},\"_seq_no\":9,\"_primary_term\":1,\"status\":200}}]}";

static const char OK_FILTERED[] =
    "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"5\",\"status\":201}},{\"create\":{\"_"
    "id\":\"6\",\"status\":201}},{\"delete\":{\"_id\":\"5\",\"status\":200}}]}";

static const char ERR_FILTERED[] =
    "{\"errors\":true,\"items\":[{\"index\":{\"_id\":\"7\",\"status\":400,\"error\":{\"type\""
    ":\"mapper_parsing_exception\",\"reason\":\"failed to parse field [a] of type [long] in d"
    "ocument with id '7'. Preview of field's value: 'y'\"}}},{\"create\":{\"_id\":\"5\",\"sta"
    "tus\":400,\"error\":{\"type\":\"mapper_parsing_exception\",\"reason\":\"failed to parse "
    "field [a] of type [long] in document with id '5'. Preview of field's value: 'z'\"}}}]}";

static const char PAGE1[] =
    "{\"_scroll_id\":\"FGluY2x1ZGVfY29udGV4dF91dWlkDXF1ZXJ5QW5kRmV0Y2gBFlZYYkw5UFR3VDZ5LWt5QU"
    "V2V2I1M2cAAAAAAAAABRZCN1V5Sno4VlNUcUZkZkhadWJiTl9R\",\"hits\":{\"hits\":[{\"_id\":\"1\"}"
    ",{\"_id\":\"6\"}]}}";

static const char PAGE2[] =
    "{\"_scroll_id\":\"FGluY2x1ZGVfY29udGV4dF91dWlkDXF1ZXJ5QW5kRmV0Y2gBFlZYYkw5UFR3VDZ5LWt5QU"
    "V2V2I1M2cAAAAAAAAABRZCN1V5Sno4VlNUcUZkZkhadWJiTl9R\"}";

/* As tests/harness/faultproxy.py rewrites a filtered reply (--item-reject) */
static const char REJECTED[] =
    "{\"errors\":true,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201}},{\"index\":{\"_id\":\"2\","
    "\"status\":429,\"error\":{\"type\":\"es_rejected_execution_exception\",\"reason\":\"rejected "
    "execution of coordinating operation [injected by faultproxy]\"}}}]}";

static es_item_result r[8];

static int parse(const char *s, int *errs) { return es_bulk_parse_reply(s, strlen(s), r, 8, errs, NULL); }

static int item_is(int i, es_op op, const char *id, int status, const char *result, const char *type)
{
    return r[i].op == op && r[i].has_id == 1 && !strcmp(r[i].id, id) && r[i].status == status &&
           !strcmp(r[i].result, result) && !strcmp(r[i].err_type, type);
}

int main(void)
{
    T_PLAN(17);
    diag *d = diag_new();
    int errs = -1;

    T_CHECK(parse(MIXED_FULL, &errs) == 6 && errs == 1 &&
                item_is(0, ES_OP_INDEX, "1", 201, "created", "") &&
                item_is(1, ES_OP_CREATE, "1", 409, "", "version_conflict_engine_exception") &&
                !strcmp(r[1].err_reason, "[1]: version conflict, document already exists (current version [1])") &&
                item_is(2, ES_OP_INDEX, "q\"2", 400, "", "mapper_parsing_exception") &&
                !strncmp(r[2].err_reason, "failed to parse field [a] of type [long] in document with id 'q\"2'", 66) &&
                item_is(3, ES_OP_DELETE, "9", 404, "not_found", "") &&
                item_is(4, ES_OP_UPDATE, "1", 200, "noop", "") &&
                item_is(5, ES_OP_INDEX, "1", 200, "updated", ""),
            "full mixed reply: every item in request order; the escaped _id decoded; caused_by "
            "does not replace the error's own type and reason");
    es_item_result full[6];
    memcpy(full, r, sizeof full);
    T_CHECK(parse(MIXED_FILTERED, &errs) == 6 && errs == 1 &&
                item_is(0, ES_OP_INDEX, "1", 201, "", "") &&
                item_is(1, ES_OP_CREATE, "1", 409, "", "version_conflict_engine_exception") &&
                item_is(2, ES_OP_INDEX, "q\"2", 400, "", "mapper_parsing_exception") &&
                item_is(3, ES_OP_DELETE, "9", 404, "", "") && item_is(4, ES_OP_UPDATE, "1", 200, "", "") &&
                item_is(5, ES_OP_INDEX, "1", 200, "", ""),
            "filtered mixed reply: the same operations, _ids, statuses and error types, no result");
    int same = 1;
    for (int i = 0; i < 6; i++)
        same &= r[i].op == full[i].op && !strcmp(r[i].id, full[i].id) && r[i].status == full[i].status &&
                !strcmp(r[i].err_type, full[i].err_type) && (i == 1 || !strcmp(r[i].err_reason, full[i].err_reason));
    T_CHECK(same, "filtered and full replies to the same request agree item by item");

    T_CHECK(parse(OK_FULL, &errs) == 3 && errs == 0 && item_is(0, ES_OP_INDEX, "5", 201, "created", "") &&
                item_is(1, ES_OP_CREATE, "6", 201, "created", "") &&
                item_is(2, ES_OP_DELETE, "5", 200, "deleted", ""),
            "full reply, all ok");
    T_CHECK(parse(OK_FILTERED, &errs) == 3 && errs == 0 && item_is(0, ES_OP_INDEX, "5", 201, "", "") &&
                item_is(1, ES_OP_CREATE, "6", 201, "", "") && item_is(2, ES_OP_DELETE, "5", 200, "", ""),
            "filtered reply, all ok (errors:false): every item still there with its status");
    T_CHECK(parse(ERR_FILTERED, &errs) == 2 && errs == 1 &&
                item_is(0, ES_OP_INDEX, "7", 400, "", "mapper_parsing_exception") &&
                item_is(1, ES_OP_CREATE, "5", 400, "", "mapper_parsing_exception") &&
                strstr(r[1].err_reason, "with id '5'"),
            "filtered reply, every item failed");
    T_CHECK(parse(REJECTED, &errs) == 2 && errs == 1 && item_is(0, ES_OP_INDEX, "1", 201, "", "") &&
                item_is(1, ES_OP_INDEX, "2", 429, "", "es_rejected_execution_exception") &&
                strstr(r[1].err_reason, "[injected by faultproxy]"),
            "a 429 item as the fault proxy writes it");
    T_CHECK(es_bulk_parse_reply(MIXED_FULL, strlen(MIXED_FULL), r, 2, &errs, d) == 6 &&
                item_is(1, ES_OP_CREATE, "1", 409, "", "version_conflict_engine_exception"),
            "more items than room: all counted, the first ones kept");

    /* every reply cut short is refused, never read as fewer items */
    const char *all[] = {MIXED_FULL, MIXED_FILTERED, OK_FULL, OK_FILTERED, ERR_FILTERED, REJECTED};
    int refused = 1;
    for (int k = 0; k < 6; k++)
        for (size_t n = 0; n < strlen(all[k]); n++)
            if (es_bulk_parse_reply(all[k], n, r, 8, &errs, NULL) != DIAG_EIO) refused = 0;
    T_CHECK(refused, "every reply cut short at any byte is refused");
    /* a reply whose bytes are not JSON half-way */
    char broken[sizeof OK_FILTERED];
    memcpy(broken, OK_FILTERED, sizeof broken);
    broken[40] = '\x01';
    T_CHECK(es_bulk_parse_reply(broken, strlen(broken), r, 8, &errs, d) == DIAG_EIO &&
                strstr(diag_last(d), "not a _bulk reply"),
            "a control byte inside a string is refused with a message");

    /* action lines of the requests above */
    const char *lines =
        "{\"index\":{\"_index\":\"t1\",\"_id\":\"q\\\"2\"}}\n{\"a\":\"x\"}\n";
    es_op op;
    char id[ES_ID_MAX + 1];
    int has = 0;
    T_CHECK(es_action_parse(lines, strlen(lines), &op, id, sizeof id, &has) == 0 && op == ES_OP_INDEX &&
                has == 1 && !strcmp(id, "q\"2"),
            "action: an escaped _id is decoded as the node decodes it");
    const char *uni = "{\"update\":{\"_id\":\"\\u00e9\\ud83d\\ude00\",\"_index\":\"t1\"}}";
    T_CHECK(es_action_parse(uni, strlen(uni), &op, id, sizeof id, &has) == 0 && op == ES_OP_UPDATE &&
                has == 1 && !strcmp(id, "\xc3\xa9\xf0\x9f\x98\x80"),
            "action: \\u escapes and a surrogate pair become UTF-8");
    const char *lone = "{\"index\":{\"_id\":\"\\ud83d\"}}";
    T_CHECK(es_action_parse(lone, strlen(lone), &op, id, sizeof id, &has) == DIAG_EINVAL,
            "action: a lone surrogate is no JSON string");

    /* scroll pages of ids (filter_path=_scroll_id,hits.hits._id, _source:false) */
    es_page pg;
    memset(&pg, 0, sizeof pg);
    const char *pid;
    size_t plen;
    T_CHECK(es_page_parse(PAGE1, strlen(PAGE1), &pg, d) == 0 && pg.n == 2 &&
                !strncmp(pg.scroll_id, "FGluY2x1ZGVf", 12) && es_page_next(&pg, &pid, &plen) &&
                !strcmp(pid, "1") && plen == 1 && es_page_next(&pg, &pid, &plen) && !strcmp(pid, "6") &&
                !es_page_next(&pg, &pid, &plen),
            "page: the ids of a real page, in order");
    char *kept = pg.scroll_id;
    T_CHECK(es_page_parse(PAGE2, strlen(PAGE2), &pg, d) == 0 && pg.n == 0 && pg.scroll_id == kept,
            "page: the last page (no hits key) ends the scroll, the same scroll id kept");
    int prefix_refused = 1;
    for (size_t n = 0; n < strlen(PAGE1); n++)
        if (es_page_parse(PAGE1, n, &pg, d) != DIAG_EIO || pg.n != 0) prefix_refused = 0;
    T_CHECK(prefix_refused, "page: every page cut short is refused and holds no ids");
    const char *dup = "{\"_scroll_id\":\"s\",\"hits\":{\"hits\":[{\"_id\":\"a\",\"_id\":\"b\"},{\"_id\":3},{}]}}";
    T_CHECK(es_page_parse(dup, strlen(dup), &pg, d) == 0 && pg.n == 1 && es_page_next(&pg, &pid, &plen) &&
                !strcmp(pid, "a") && !strcmp(pg.scroll_id, "s"),
            "page: the first _id of a hit counts; hits without a string _id are skipped");
    es_page_free(&pg);
    diag_free(d);
    return T_DONE();
}
