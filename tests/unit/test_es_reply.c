/* test_es_reply.c - the Elasticsearch replies read without a node
 * (sinks/es_reply.c): _bulk replies and action lines, the GET / banner,
 * error reasons, counts, mapping replies and scroll pages - the shapes the
 * test node never sends (other versions, old error forms, broken replies). */
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "sinks/es.h"
#include "base/buf.h"
#include "t.h"

static es_item_result r[3];

#define PARSE(s, cap, errs) es_bulk_parse_reply(s, strlen(s), r, cap, errs, d)

int main(void)
{
    T_PLAN(47);
    diag *d = diag_new();

    T_CHECK(!strcmp(es_op_name(ES_OP_INDEX), "index") && !strcmp(es_op_name(ES_OP_CREATE), "create") &&
                !strcmp(es_op_name(ES_OP_UPDATE), "update") && !strcmp(es_op_name(ES_OP_DELETE), "delete") &&
                !strcmp(es_op_name(ES_OP_UNKNOWN), "unknown"),
            "op names");

    /* ---- _bulk replies */
    char longid[700];
    memset(longid, 'x', sizeof longid);
    longid[sizeof longid - 1] = 0;
    char reply[1200];
    snprintf(reply, sizeof reply,
             "{\"errors\":false,\"items\":[{\"create\":{\"_id\":\"%s\",\"status\":1000}},"
             "{\"upsert\":{\"_id\":\"7\",\"status\":-1,\"error\":null}},"
             "{\"index\":{\"_id\":7,\"status\":500,\"error\":{\"reason\":\"boom\"}}},"
             "{\"index\":{\"status\":503,\"error\":[1]}}, 5]}",
             longid);
    int errs = -1;
    T_CHECK(PARSE(reply, 3, &errs) == 5 && errs == 0, "bulk: 5 items counted, 3 kept; errors false");
    T_CHECK(r[0].op == ES_OP_CREATE && r[0].has_id == -1 && r[0].id[0] == 0 && r[0].status == 0,
            "bulk: an _id longer than any valid one, a status out of range");
    T_CHECK(r[1].op == ES_OP_UNKNOWN && r[1].has_id == 1 && !strcmp(r[1].id, "7") && r[1].status == 0 &&
                r[1].err_type[0] == 0,
            "bulk: an unknown operation, a negative status, a null error");
    T_CHECK(r[2].op == ES_OP_INDEX && r[2].has_id == 0 && r[2].status == 500 &&
                !strcmp(r[2].err_type, "error") && !strcmp(r[2].err_reason, "boom"),
            "bulk: a numeric _id is no _id; an error without type is 'error'");
    /* _id escapes: a surrogate pair is one 4-byte character; a reply with
     * a lone high or low half, or a high half followed by another escape,
     * is refused */
    {
        const char *pair = "{\"errors\":false,\"items\":[{\"index\":{\"_id\":"
                           "\"a\\ud83d\\ude00b\\u00e9\",\"status\":201}}]}";
        T_CHECK(PARSE(pair, 3, &errs) == 1 && r[0].has_id == 1 &&
                    !strcmp(r[0].id, "a\xf0\x9f\x98\x80" "b\xc3\xa9"),
                "bulk: an _id with a surrogate pair is its UTF-8 character");
        const char *lone[] = {"\\ud83d\\u0041", "\\ude00", "\\ud83dx", "\\ud83d"};
        int refused = 0;
        for (int i = 0; i < 4; i++) {
            char bad[200];
            snprintf(bad, sizeof bad, "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"%s\",\"status\":201}}]}",
                     lone[i]);
            refused += PARSE(bad, 3, &errs) == DIAG_EIO;
        }
        T_CHECK(refused == 4, "bulk: lone or mismatched surrogate halves refuse the reply");
    }
    es_item_result one[1];
    T_CHECK(es_bulk_parse_reply(reply, strlen(reply), one, 0, NULL, d) == 5,
            "bulk: no room and no errors flag wanted: items still counted");
    const char *odd = "{\"items\":[{\"index\":{\"status\":503,\"error\":[1]}}, 5, {}]}";
    T_CHECK(PARSE(odd, 3, &errs) == 3 && errs == 0 && !strcmp(r[0].err_type, "error") &&
                r[0].err_reason[0] == 0 && r[1].op == ES_OP_UNKNOWN && r[2].op == ES_OP_UNKNOWN,
            "bulk: an error of another shape, items that are no objects, no errors key");
    int before = diag_errors(d);
    T_CHECK(es_bulk_parse_reply("[1]", 3, r, 3, &errs, NULL) == DIAG_EIO && diag_errors(d) == before,
            "bulk: an array is no _bulk reply (no diag: no message)");
    T_CHECK(es_bulk_parse_reply("", 0, r, 3, &errs, d) == DIAG_EIO &&
                !strcmp(diag_last(d), "bulk: the reply is not a _bulk reply: "),
            "bulk: an empty reply");
    char big[300];
    memset(big, 'y', sizeof big);
    memcpy(big, "{\"items\":3,\"pad\":\"", 18);
    memcpy(big + sizeof big - 2, "\"}", 2);
    T_CHECK(es_bulk_parse_reply(big, sizeof big, r, 3, &errs, d) == DIAG_EIO &&
                strlen(diag_last(d)) == strlen("bulk: the reply is not a _bulk reply: ") + 120,
            "bulk: a long wrong reply is cut at 120 bytes in the message");

    /* ---- action lines */
    es_op op;
    char id[8];
    int has = -2;
    const char *a1 = "{\"delete\":{\"_index\":\"i\",\"_id\":\"abc\"}}\n{\"ignored\":1}";
    T_CHECK(es_action_parse(a1, strlen(a1), &op, id, sizeof id, &has) == 0 && op == ES_OP_DELETE &&
                has == 1 && !strcmp(id, "abc"),
            "action: delete with its _id (up to the newline)");
    const char *a2 = "{\"update\":{\"_id\":\"12345678\"}}";
    T_CHECK(es_action_parse(a2, strlen(a2), &op, id, sizeof id, &has) == 0 && op == ES_OP_UPDATE &&
                has == -1 && id[0] == 0,
            "action: an _id longer than the room");
    const char *a3 = "{\"create\":{\"_index\":\"i\"}}";
    T_CHECK(es_action_parse(a3, strlen(a3), &op, id, sizeof id, &has) == 0 && op == ES_OP_CREATE && has == 0,
            "action: create without _id");
    const char *bad[] = {"{\"index\":{},\"delete\":{}}", "{\"index\":1}", "[{}]", "{}", "{\"upsert\":{}}", "{"};
    int all = 1;
    for (int i = 0; i < 6; i++) {
        has = -2;
        if (es_action_parse(bad[i], strlen(bad[i]), &op, id, sizeof id, &has) != DIAG_EINVAL || has != 0)
            all = 0;
    }
    T_CHECK(all, "action: two actions, a non-object action, an array, no action, an unknown one, broken JSON");
    T_CHECK(es_action_parse(a1, strlen(a1), &op, NULL, 0, &has) == 0 && has == -1,
            "action: no room at all");

    /* ---- GET / */
    es_version v;
#define TAG ",\"tagline\":\"You Know, for Search\"}"
    const char *e713 = "{\"version\":{\"number\":\"7.13.4\",\"distribution\":\"elasticsearch\"}" TAG;
    T_CHECK(es_version_parse(e713, strlen(e713), NULL, &v, d) == 0 && v.major == 7 && v.minor == 13 &&
                v.patch == 4 && !v.opensearch,
            "version: ES 7.13 needs no product header; distribution 'elasticsearch'");
    const char *e714 = "{\"version\":{\"number\":\"7.14.0\"}" TAG;
    T_CHECK(es_version_parse(e714, strlen(e714), NULL, &v, d) == DIAG_EINVAL &&
                strstr(diag_last(d), "neither Elasticsearch nor OpenSearch (version 7.14.0"),
            "version: ES 7.14 without the product header is refused");
    const char *e8 = "{\"version\":{\"number\":\"8\"}" TAG;
    T_CHECK(es_version_parse(e8, strlen(e8), "Elasticsearch", &v, d) == 0 && v.major == 8 && v.minor == 0,
            "version: '8' alone is 8.0.0");
    const char *huge = "{\"version\":{\"number\":\"99999.9999999.9999999-SNAPSHOT\"}" TAG;
    T_CHECK(es_version_parse(huge, strlen(huge), "Elasticsearch", &v, d) == DIAG_EINVAL && v.major == 1000 &&
                v.minor == 100000 && v.patch == 100000 &&
                strstr(diag_last(d), "unsupported Elasticsearch version 99999.9999999.9999999-SNAPSHOT"),
            "version: huge parts are capped and refused");
    const char *os0 = "{\"version\":{\"number\":\"0.9\",\"distribution\":\"opensearch\"}}";
    T_CHECK(es_version_parse(os0, strlen(os0), NULL, &v, d) == DIAG_EINVAL &&
                strstr(diag_last(d), "unsupported OpenSearch version 0.9 (supported: OpenSearch 1.x to 3.x)"),
            "version: OpenSearch 0.9 refused");
    const char *os3 = "{\"version\":{\"number\":\"3.1.0\",\"distribution\":\"opensearch\"}}";
    T_CHECK(es_version_parse(os3, strlen(os3), NULL, NULL, d) == 0, "version: OpenSearch 3.1 accepted");
    const char *nonum = "{\"version\":{\"number\":\"v8\"}" TAG;
    T_CHECK(es_version_parse(nonum, strlen(nonum), "Elasticsearch", &v, d) == DIAG_EINVAL && v.major == 0,
            "version: a number not starting with a digit is version 0");

    /* ---- error reasons and numbers */
    char why[64];
    const char *e1 = "{\"error\":{\"type\":\"index_not_found_exception\",\"reason\":\"no such index [x]\"}}";
    es_error_reason(e1, strlen(e1), why, sizeof why);
    T_STREQ(why, "index_not_found_exception: no such index [x]", "reason: type and reason");
    const char *e2 = "{\"error\":{\"type\":\"x_exception\"}}";
    es_error_reason(e2, strlen(e2), why, sizeof why);
    T_STREQ(why, "x_exception: ", "reason: a type without reason");
    const char *e3 = "{\"error\":\"Incorrect HTTP method\"}";
    es_error_reason(e3, strlen(e3), why, sizeof why);
    T_STREQ(why, "Incorrect HTTP method", "reason: an error string (old nodes, proxies)");
    es_error_reason("<html>Bad Gateway</html>", 24, why, sizeof why);
    T_STREQ(why, "<html>Bad Gateway</html>", "reason: a body that is not JSON, as it is");
    char wide[400], body[300];
    memset(body, 'z', sizeof body);
    es_error_reason(body, sizeof body, wide, sizeof wide);
    T_CHECK(strlen(wide) == 200, "reason: a long body is cut at 200 bytes");
    es_error_reason(NULL, 0, why, sizeof why);
    T_STREQ(why, "(empty reply)", "reason: no body");
    es_error_reason("", 0, why, sizeof why);
    T_STREQ(why, "(empty reply)", "reason: an empty body");

    int64_t n = -1;
    T_CHECK(es_reply_number("{\"count\":42}", 12, "count", &n) == 0 && n == 42, "number: count");
    T_CHECK(es_reply_number("{\"count\":42}", 12, "count", NULL) == 0, "number: without a place for it");
    n = -1;
    T_CHECK(es_reply_number("{\"count\":-1}", 12, "count", &n) == DIAG_EIO && n == -1 &&
                es_reply_number("{\"count\":\"4\"}", 13, "count", &n) == DIAG_EIO &&
                es_reply_number("{\"deleted\":1e19}", 16, "deleted", &n) == DIAG_EIO &&
                es_reply_number("{}", 2, "count", &n) == DIAG_EIO && es_reply_number(NULL, 0, "count", &n) == DIAG_EIO,
            "number: negative, text, too large, missing, no body refused");

    /* ---- mappings */
    T_CHECK(es_json_is_object("{}") && !es_json_is_object("[]") && !es_json_is_object("x") &&
                !es_json_is_object(NULL),
            "json_is_object");
    char *add = (char *)1;
    int nadd = -1;
    T_CHECK(es_mapping_diff("[]", "{}", &add, &nadd, d) == DIAG_EINVAL && add == NULL && nadd == 0 &&
                !strcmp(diag_last(d), "elasticsearch: the index's mapping is not a JSON object"),
            "mapping diff: the index's mapping not an object");
    T_CHECK(es_mapping_diff("{}", "3", &add, &nadd, d) == DIAG_EINVAL &&
                !strcmp(diag_last(d), "elasticsearch: the plan's mapping is not a JSON object"),
            "mapping diff: the plan's mapping not an object");
    T_CHECK(es_mapping_diff(NULL, NULL, &add, &nadd, d) == 0 && add == NULL && nadd == 0,
            "mapping diff: nothing on either side");
    const char *want = "{\"properties\":{\"a\":{\"type\":\"long\"}}}";
    T_CHECK(es_mapping_reply_diff("null", 4, "ix", want, &add, &nadd, d) == DIAG_EIO &&
                !strcmp(diag_last(d), "index 'ix': the mapping reply is not a JSON object"),
            "mapping reply: not an object");
    const char *two = "{\"ix-1\":{\"mappings\":{\"properties\":{\"a\":{\"type\":\"long\"}}}},\"ix-2\":{}}";
    T_CHECK(es_mapping_reply_diff(two, strlen(two), "ix", want, &add, &nadd, d) == 0 && nadd == 1 && add &&
                !strcmp(add, want),
            "mapping reply: an alias over two indices, one without mappings: the field to add");
    free(add);
    const char *conf = "{\"ix-1\":{\"mappings\":{\"properties\":{\"a\":{\"type\":\"keyword\"}}}}}";
    T_CHECK(es_mapping_reply_diff(conf, strlen(conf), "ix", want, &add, &nadd, d) == DIAG_EINVAL && !add &&
                nadd == 0 &&
                !strcmp(diag_last(d), "index 'ix-1': 1 mapping conflict with the plan (the index is left "
                                      "unchanged; reindex or drop it)"),
            "mapping reply: a conflict names the index");

    /* ---- scroll pages */
    es_page pg;
    memset(&pg, 0, sizeof pg);
    const char *p1 = "{\"_scroll_id\":\"S1\",\"hits\":{\"hits\":[{\"_id\":\"a\"},{\"_id\":5},{\"_id\":\"bc\"}]}}";
    const char *idp;
    size_t idl = 0;
    T_CHECK(es_page_parse(p1, strlen(p1), &pg, d) == 0 && pg.n == 2 && !strcmp(pg.scroll_id, "S1") &&
                es_page_next(&pg, &idp, &idl) == 1 && idl == 1 && !strcmp(idp, "a") &&
                es_page_next(&pg, &idp, NULL) == 1 && !strcmp(idp, "bc") && es_page_next(&pg, &idp, &idl) == 0,
            "page: string _ids in order, others skipped");
    char *sid = pg.scroll_id;
    const char *p2 = "{\"_scroll_id\":\"S1\"}";
    T_CHECK(es_page_parse(p2, strlen(p2), &pg, d) == 0 && pg.n == 0 && pg.scroll_id == sid,
            "page: a page without hits (filter_path), the same scroll id kept");
    const char *p3 = "{\"_scroll_id\":\"S2\",\"hits\":{\"hits\":[]}}";
    T_CHECK(es_page_parse(p3, strlen(p3), &pg, d) == 0 && !strcmp(pg.scroll_id, "S2"),
            "page: a new scroll id replaces the old");
    const char *badp[] = {"{\"hits\":{\"hits\":[]}}", "{\"_scroll_id\":\"S\",\"hits\":{}}",
                          "{\"_scroll_id\":\"S\",\"x\":1}", "", NULL};
    all = 1;
    for (int i = 0; badp[i]; i++)
        if (es_page_parse(badp[i], strlen(badp[i]), &pg, d) != DIAG_EIO ||
            strcmp(diag_last(d), "elasticsearch: scroll reply without _scroll_id or hits") != 0)
            all = 0;
    T_CHECK(all, "page: no scroll id, hits without hits, another key, empty: refused");
    /* nesting: each level counts the same whether the hit is a bare value
     * or an object: a hit that is an array nested 255 deep is read, 256
     * refused; an array nested 254 deep in a hit's member is read, 255
     * refused (the object is a level) */
    {
        int rcs[4];
        for (int k = 0; k < 4; k++) {
            int member = k >= 2, nest = (member ? 254 : 255) + (k & 1);
            buf b = BUF_INIT;
            buf_puts(&b, "{\"_scroll_id\":\"S3\",\"hits\":{\"hits\":[");
            if (member) buf_puts(&b, "{\"_id\":\"z\",\"o\":");
            for (int i = 0; i < nest; i++) buf_putc(&b, '[');
            for (int i = 0; i < nest; i++) buf_putc(&b, ']');
            if (member) buf_putc(&b, '}');
            buf_puts(&b, "]}}");
            rcs[k] = es_page_parse(b.data, b.len, &pg, d);
            buf_free(&b);
        }
        T_CHECK(rcs[0] == 0 && rcs[1] == DIAG_EIO && rcs[2] == 0 && rcs[3] == DIAG_EIO,
                "page: a hit nested 255 arrays deep is read, 256 refused; in a member 254 and 255");
    }
    es_page_free(&pg);
    es_page_free(NULL);
    T_CHECK(pg.scroll_id == NULL && pg.n == 0, "page: freed");

    diag_free(d);
    return T_DONE();
}
