/* es_index.c - index management for the sink; see es.h.
 *
 * Stage: before and after the bulk load. Creates a missing index with the
 * plan's mapping and settings, checks an existing index's mapping against the
 * plan (type conflicts are errors, never changed silently; fields only in the
 * plan are added), and the small helpers the sync engine needs: refresh,
 * count, delete by query, and a scroll over the _ids of an index (for the
 * deletes of a full sync). It does not send documents (es_bulk.c).
 */
#include "sinks/es.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NOLOC ((src_loc){NULL, 0, 0})

/* Index names go into URL paths: refuse what would change the path. */
static int check_index(const char *index, diag *d)
{
    if (!index || !*index || strlen(index) > 255) goto bad;
    for (const char *p = index; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ' || ch >= 0x7f || strchr("/\\?#\"<>|%&=", ch)) goto bad;
    }
    return 0;
bad:
    diag_error(d, NOLOC, "elasticsearch: invalid index name '%.100s'", index ? index : "");
    return DIAG_EINVAL;
}

static void note(diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, DIAG_NOTE, NOLOC, fmt, ap);
    va_end(ap);
}

static int status_error(es_client *c, const char *what, const char *index, const es_response *r,
                        diag *d)
{
    char why[400];
    es_error_reason(r->body, r->len, why, sizeof why);
    diag_error(d, NOLOC, "elasticsearch %s: %s '%s' answered %ld: %s", es_client_host(c), what,
               index, r->status, why);
    return DIAG_EIO;
}

/* ---- indices ----------------------------------------------------------- */

int es_index_exists(es_client *c, const char *index, diag *d)
{
    char path[300];
    es_response r;
    int rc = check_index(index, d);
    if (rc) return rc;
    snprintf(path, sizeof path, "/%s", index);
    if ((rc = es_request(c, "HEAD", path, NULL, 0, NULL, &r, d)) != 0) return rc;
    if (r.status == 200) rc = 1;
    else if (r.status == 404) rc = 0;
    else rc = status_error(c, "HEAD index", index, &r, d);
    es_response_free(&r);
    return rc;
}

int es_index_delete(es_client *c, const char *index, diag *d)
{
    char path[300];
    es_response r;
    int rc = check_index(index, d);
    if (rc) return rc;
    snprintf(path, sizeof path, "/%s", index);
    if ((rc = es_request(c, "DELETE", path, NULL, 0, NULL, &r, d)) != 0) return rc;
    if (r.status != 200 && r.status != 404) rc = status_error(c, "delete index", index, &r, d);
    es_response_free(&r);
    return rc;
}

static int create_index(es_client *c, const char *index, const char *mapping_json,
                        const char *settings_json, int *exists, diag *d)
{
    char path[300];
    es_response r;
    buf b = BUF_INIT;
    int rc;
    *exists = 0;
    snprintf(path, sizeof path, "/%s", index);
    buf_puts(&b, "{");
    if (settings_json) {
        buf_puts(&b, "\"settings\":");
        buf_puts(&b, settings_json);
    }
    if (mapping_json) {
        buf_puts(&b, settings_json ? ",\"mappings\":" : "\"mappings\":");
        buf_puts(&b, mapping_json);
    }
    buf_puts(&b, "}");
    rc = es_request(c, "PUT", path, b.data, b.len, NULL, &r, d);
    buf_free(&b);
    if (rc) return rc;
    if (r.status == 400 && r.body && strstr(r.body, "resource_already_exists_exception"))
        *exists = 1; /* created meanwhile, or our earlier attempt got through */
    else if (r.status != 200)
        rc = status_error(c, "create index", index, &r, d);
    es_response_free(&r);
    return rc;
}

int es_index_ensure(es_client *c, const char *index, const char *mapping_json,
                    const char *settings_json, es_index_report *rep, diag *d)
{
    char path[300];
    es_response r = {0, NULL, 0, ""};
    int rc, exists;
    char *additions = NULL;
    int nadded = 0;
    if (rep) memset(rep, 0, sizeof *rep);
    if ((rc = check_index(index, d)) != 0) return rc;
    if (mapping_json && !es_json_is_object(mapping_json)) {
        diag_error(d, NOLOC, "index '%s': the plan's mapping is not a JSON object", index);
        return DIAG_EINVAL;
    }
    if ((exists = es_index_exists(c, index, d)) < 0) return exists;
    if (!exists) {
        if ((rc = create_index(c, index, mapping_json, settings_json, &exists, d)) != 0) return rc;
        if (!exists) {
            if (rep) rep->created = 1;
            return 0;
        }
    }
    if (!mapping_json) return 0;
    snprintf(path, sizeof path, "/%s/_mapping", index);
    if ((rc = es_request(c, "GET", path, NULL, 0, NULL, &r, d)) != 0) return rc;
    if (r.status != 200) {
        rc = status_error(c, "get mapping of", index, &r, d);
        goto done;
    }
    rc = es_mapping_reply_diff(r.body, r.len, index, mapping_json, &additions, &nadded, d);
    if (rc) goto done;
    if (additions) {
        es_response_free(&r);
        if ((rc = es_request(c, "PUT", path, additions, strlen(additions), NULL, &r, d)) != 0)
            goto done;
        if (r.status != 200) {
            rc = status_error(c, "add fields to the mapping of", index, &r, d);
            goto done;
        }
        if (rep) rep->fields_added = nadded;
        note(d, "index '%s': added %d field%s only in the plan to its mapping", index, nadded,
             nadded == 1 ? "" : "s");
    }
done:
    free(additions);
    es_response_free(&r);
    return rc;
}

/* ---- refresh, count, delete by query ----------------------------------- */

/* {"query": q} or NULL when q is NULL */
static char *query_body(const char *q, const char *extra)
{
    buf b = BUF_INIT;
    buf_puts(&b, "{");
    if (extra) buf_puts(&b, extra);
    if (q) {
        if (extra) buf_puts(&b, ",");
        buf_puts(&b, "\"query\":");
        buf_puts(&b, q);
    }
    buf_puts(&b, "}");
    return buf_detach(&b, NULL);
}

static int number_in(const es_response *r, const char *key, int64_t *out)
{
    return es_reply_number(r->body, r->len, key, out);
}

int es_refresh(es_client *c, const char *index, diag *d)
{
    char path[300];
    es_response r;
    int rc = check_index(index, d);
    if (rc) return rc;
    snprintf(path, sizeof path, "/%s/_refresh", index);
    if ((rc = es_request(c, "POST", path, NULL, 0, NULL, &r, d)) != 0) return rc;
    if (r.status != 200) rc = status_error(c, "refresh", index, &r, d);
    es_response_free(&r);
    return rc;
}

int es_count(es_client *c, const char *index, const char *query_json, int64_t *count, diag *d)
{
    char path[300];
    es_response r;
    int rc = check_index(index, d);
    if (rc) return rc;
    snprintf(path, sizeof path, "/%s/_count", index);
    char *body = query_body(query_json, NULL);
    rc = es_request(c, "POST", path, body, strlen(body), NULL, &r, d);
    free(body);
    if (rc) return rc;
    if (r.status != 200)
        rc = status_error(c, "count", index, &r, d);
    else if (number_in(&r, "count", count) != 0)
        rc = status_error(c, "count (no count in reply)", index, &r, d);
    es_response_free(&r);
    return rc;
}

int es_delete_by_query(es_client *c, const char *index, const char *query_json, int64_t *deleted,
                       diag *d)
{
    char path[360];
    es_response r;
    int rc = check_index(index, d);
    if (rc) return rc;
    snprintf(path, sizeof path, "/%s/_delete_by_query?conflicts=proceed&refresh=true", index);
    char *body = query_body(query_json ? query_json : "{\"match_all\":{}}", NULL);
    rc = es_request(c, "POST", path, body, strlen(body), NULL, &r, d);
    free(body);
    if (rc) return rc;
    if (r.status != 200)
        rc = status_error(c, "delete by query on", index, &r, d);
    else if (number_in(&r, "deleted", deleted) != 0)
        rc = status_error(c, "delete by query (no count in reply)", index, &r, d);
    es_response_free(&r);
    return rc;
}

/* ---- the _ids of an index (scroll) ------------------------------------- */

struct es_ids {
    es_client *c;
    es_page page;          /* the current reply's ids and the scroll id */
    int done;
    char index[256];
    int64_t count;         /* _count when the iteration began */
    int64_t limit;         /* ids returned before it is an error */
    int64_t returned;
};

#define SCROLL_KEEP "2m"

/* Only the scroll id and the hits' _id come back (less to send and to parse). */
#define IDS_FILTER "filter_path=_scroll_id,hits.hits._id"

/* Take a search/scroll reply: keep its scroll id and hits. */
static int take_page(es_ids *it, es_response *r, diag *d)
{
    if (r->status != 200) return status_error(it->c, "scroll", it->index, r, d);
    int rc = es_page_parse(r->body, r->len, &it->page, d);
    if (rc == 0 && it->page.n == 0) it->done = 1;
    return rc;
}

int es_ids_open(es_client *c, const char *index, const char *query_json, int batch, es_ids **out,
                diag *d)
{
    char path[360], extra[96];
    es_response r;
    *out = NULL;
    int rc = check_index(index, d);
    if (rc) return rc;
    if (batch <= 0) batch = 1000;
    if (batch > 10000) batch = 10000;
    es_ids *it = calloc(1, sizeof *it);
    if (!it) return DIAG_ENOMEM;
    it->c = c;
    buf_init(&it->page.ids, 0);
    snprintf(it->index, sizeof it->index, "%s", index);
    /* the bound: what the index holds now, plus what may be written meanwhile */
    if ((rc = es_count(c, index, query_json, &it->count, d)) != 0) {
        es_ids_close(it);
        return rc;
    }
    it->limit = it->count + it->count / 10 + batch;
    snprintf(path, sizeof path, "/%s/_search?scroll=" SCROLL_KEEP "&" IDS_FILTER, index);
    snprintf(extra, sizeof extra, "\"size\":%d,\"sort\":[\"_doc\"],\"_source\":false", batch);
    char *body = query_body(query_json, extra);
    rc = es_request(c, "POST", path, body, strlen(body), NULL, &r, d);
    free(body);
    if (rc == 0) {
        if (r.status == 200) rc = take_page(it, &r, d);
        else rc = status_error(c, "search", index, &r, d);
        es_response_free(&r);
    }
    if (rc) {
        es_ids_close(it);
        return rc;
    }
    *out = it;
    return 0;
}

static char *scroll_body(const char *key, const char *scroll_id, int array)
{
    buf b = BUF_INIT;
    if (!array) buf_puts(&b, "{\"scroll\":\"" SCROLL_KEEP "\",");
    else buf_puts(&b, "{");
    buf_printf(&b, "\"%s\":%s", key, array ? "[" : "");
    buf_json_str(&b, scroll_id, strlen(scroll_id), NULL);
    buf_puts(&b, array ? "]}" : "}");
    return buf_detach(&b, NULL);
}

int es_ids_next(es_ids *it, const char **id, size_t *idlen, diag *d)
{
    for (;;) {
        if (es_page_next(&it->page, id, idlen)) {
            if (++it->returned > it->limit) {
                diag_error(d, NOLOC, "elasticsearch %s: the scroll over '%s' returned more than "
                           "%lld ids although the index counted %lld documents: stopping (a "
                           "scroll that does not end)", es_client_host(it->c), it->index,
                           (long long)it->limit, (long long)it->count);
                it->done = 1;
                return DIAG_EIO;
            }
            return 1;
        }
        if (it->done || !it->page.scroll_id) return 0;
        es_response r;
        char *body = scroll_body("scroll_id", it->page.scroll_id, 0);
        int rc = es_request(it->c, "POST", "/_search/scroll?" IDS_FILTER, body, strlen(body), NULL,
                            &r, d);
        free(body);
        if (rc) return rc;
        rc = take_page(it, &r, d);
        es_response_free(&r);
        if (rc) return rc;
    }
}

void es_ids_close(es_ids *it)
{
    if (!it) return;
    if (it->page.scroll_id) {
        char *body = scroll_body("scroll_id", it->page.scroll_id, 1);
        es_response r;
        diag *tmp = diag_new();
        if (es_request_once(it->c, "DELETE", "/_search/scroll", body, strlen(body), NULL, &r,
                            tmp) == 0)
            es_response_free(&r);
        diag_free(tmp);
        free(body);
    }
    es_page_free(&it->page);
    free(it);
}
