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

#include <cjson/cJSON.h>

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

/* "type: reason" of an error reply, or the start of the body. */
static void reply_reason(const es_response *r, char *out, size_t cap)
{
    cJSON *root = cJSON_ParseWithLength(r->body ? r->body : "", r->len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(e, "reason");
    if (cJSON_IsString(t))
        snprintf(out, cap, "%s: %s", t->valuestring, cJSON_IsString(why) ? why->valuestring : "");
    else
        snprintf(out, cap, "%.200s", r->body ? r->body : "(empty reply)");
    cJSON_Delete(root);
}

static int status_error(es_client *c, const char *what, const char *index, const es_response *r,
                        diag *d)
{
    char why[400];
    reply_reason(r, why, sizeof why);
    diag_error(d, NOLOC, "elasticsearch %s: %s '%s' answered %ld: %s", es_client_host(c), what,
               index, r->status, why);
    return DIAG_EIO;
}

/* ---- mapping comparison ------------------------------------------------ */

/* The type of a mapping entry: "type", else "object" (properties or none). */
static const char *type_of(const cJSON *f)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(f, "type");
    return cJSON_IsString(t) ? t->valuestring : "object";
}

static const cJSON *props_of(const cJSON *mapping)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(mapping, "properties");
    return cJSON_IsObject(p) ? p : NULL;
}

static int diff_props(const cJSON *have, const cJSON *want, const char *prefix, cJSON *add,
                      int *nadded, diag *d)
{
    int conflicts = 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, want)
    {
        if (!w->string) continue;
        char path[512];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", w->string);
        const cJSON *h = have ? cJSON_GetObjectItemCaseSensitive(have, w->string) : NULL;
        if (!h) {
            cJSON_AddItemToObject(add, w->string, cJSON_Duplicate(w, 1));
            (*nadded)++;
            continue;
        }
        const char *ht = type_of(h), *wt = type_of(w);
        if (strcmp(ht, wt) != 0) {
            diag_error(d, NOLOC, "field '%s': index has '%s', plan wants '%s'", path, ht, wt);
            conflicts++;
            continue;
        }
        const cJSON *wp = props_of(w);
        if (!wp) continue;
        cJSON *sub = cJSON_CreateObject();
        conflicts += diff_props(props_of(h), wp, path, sub, nadded, d);
        if (sub->child) {
            cJSON *entry = cJSON_CreateObject();
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(w, "type");
            if (cJSON_IsString(t)) cJSON_AddStringToObject(entry, "type", t->valuestring);
            cJSON_AddItemToObject(entry, "properties", sub);
            cJSON_AddItemToObject(add, w->string, entry);
        } else {
            cJSON_Delete(sub);
        }
    }
    return conflicts;
}

int es_mapping_diff(const char *existing_json, const char *wanted_json, char **additions,
                    int *nadded, diag *d)
{
    int rc = 0, n = 0;
    if (additions) *additions = NULL;
    cJSON *have = cJSON_Parse(existing_json ? existing_json : "{}");
    cJSON *want = cJSON_Parse(wanted_json ? wanted_json : "{}");
    cJSON *add = cJSON_CreateObject();
    if (!cJSON_IsObject(have) || !cJSON_IsObject(want)) {
        diag_error(d, NOLOC, "elasticsearch: %s mapping is not a JSON object",
                   cJSON_IsObject(have) ? "the plan's" : "the index's");
        rc = DIAG_EINVAL;
        goto done;
    }
    if (diff_props(props_of(have), props_of(want), "", add, &n, d) > 0) {
        rc = DIAG_EINVAL;
        goto done;
    }
    if (n > 0 && additions) {
        cJSON *wrap = cJSON_CreateObject();
        cJSON_AddItemToObject(wrap, "properties", add);
        add = NULL;
        *additions = cJSON_PrintUnformatted(wrap);
        cJSON_Delete(wrap);
    }
done:
    if (nadded) *nadded = rc ? 0 : n;
    cJSON_Delete(add);
    cJSON_Delete(have);
    cJSON_Delete(want);
    return rc;
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
    es_response r = {0, NULL, 0};
    int rc, exists;
    char *additions = NULL;
    cJSON *root = NULL;
    if (rep) memset(rep, 0, sizeof *rep);
    if ((rc = check_index(index, d)) != 0) return rc;
    if (mapping_json) {
        cJSON *m = cJSON_Parse(mapping_json);
        int okm = cJSON_IsObject(m);
        cJSON_Delete(m);
        if (!okm) {
            diag_error(d, NOLOC, "index '%s': the plan's mapping is not a JSON object", index);
            return DIAG_EINVAL;
        }
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
    root = cJSON_ParseWithLength(r.body ? r.body : "", r.len);
    const cJSON *idx;
    int nadded = 0, total_added = 0;
    cJSON_ArrayForEach(idx, root)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(idx, "mappings");
        char *have = m ? cJSON_PrintUnformatted(m) : NULL;
        char *add = NULL;
        int nconf_before = diag_errors(d);
        rc = es_mapping_diff(have ? have : "{}", mapping_json, &add, &nadded, d);
        free(have);
        if (rc) {
            diag_error(d, NOLOC, "index '%s': %d mapping conflict%s with the plan (the index is "
                       "left unchanged; reindex or drop it)",
                       idx->string ? idx->string : index, diag_errors(d) - nconf_before,
                       diag_errors(d) - nconf_before == 1 ? "" : "s");
            free(add);
            goto done;
        }
        if (add && !additions) {
            additions = add;
            total_added = nadded;
        } else {
            free(add);
        }
    }
    if (additions) {
        es_response_free(&r);
        if ((rc = es_request(c, "PUT", path, additions, strlen(additions), NULL, &r, d)) != 0)
            goto done;
        if (r.status != 200) {
            rc = status_error(c, "add fields to the mapping of", index, &r, d);
            goto done;
        }
        if (rep) rep->fields_added = total_added;
        note(d, "index '%s': added %d field%s only in the plan to its mapping", index,
             total_added, total_added == 1 ? "" : "s");
    }
done:
    cJSON_Delete(root);
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
    cJSON *root = cJSON_ParseWithLength(r->body ? r->body : "", r->len);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, key);
    int ok = cJSON_IsNumber(n);
    if (ok && out) *out = (int64_t)n->valuedouble;
    cJSON_Delete(root);
    return ok ? 0 : DIAG_EIO;
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
    char *scroll_id;
    cJSON *page;           /* the current reply */
    const cJSON *hit;      /* next hit to return */
    int done;
};

#define SCROLL_KEEP "2m"

/* Only the scroll id and the hits' _id come back (less to send and to parse). */
#define IDS_FILTER "filter_path=_scroll_id,hits.hits._id"

/* Take a search/scroll reply: keep its scroll id and hits. */
static int take_page(es_ids *it, es_response *r, diag *d)
{
    cJSON_Delete(it->page);
    it->page = NULL;
    it->hit = NULL;
    if (r->status != 200) return status_error(it->c, "scroll", "_ids", r, d);
    it->page = cJSON_ParseWithLength(r->body ? r->body : "", r->len);
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(it->page, "_scroll_id");
    const cJSON *outer = cJSON_GetObjectItemCaseSensitive(it->page, "hits");
    const cJSON *hits = cJSON_GetObjectItemCaseSensitive(outer, "hits");
    /* filter_path leaves `hits` out of a page without hits */
    if (!cJSON_IsString(sid) || (outer && !cJSON_IsArray(hits)) ||
        (!outer && cJSON_GetArraySize(it->page) != 1)) {
        diag_error(d, NOLOC, "elasticsearch: scroll reply without _scroll_id or hits");
        return DIAG_EIO;
    }
    if (!it->scroll_id || strcmp(it->scroll_id, sid->valuestring) != 0) {
        free(it->scroll_id);
        size_t n = strlen(sid->valuestring) + 1;
        it->scroll_id = malloc(n);
        if (!it->scroll_id) return DIAG_ENOMEM;
        memcpy(it->scroll_id, sid->valuestring, n);
    }
    it->hit = hits ? hits->child : NULL;
    if (!it->hit) it->done = 1;
    return 0;
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

int es_ids_next(es_ids *it, const char **id, size_t *idlen, diag *d)
{
    for (;;) {
        if (it->hit) {
            const cJSON *h = it->hit;
            it->hit = h->next;
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, "_id");
            if (!cJSON_IsString(v)) continue;
            *id = v->valuestring;
            if (idlen) *idlen = strlen(v->valuestring);
            return 1;
        }
        if (it->done) return 0;
        es_response r;
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "scroll", SCROLL_KEEP);
        cJSON_AddStringToObject(req, "scroll_id", it->scroll_id);
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
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
    if (it->scroll_id) {
        cJSON *req = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(req, "scroll_id");
        cJSON_AddItemToArray(arr, cJSON_CreateString(it->scroll_id));
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        es_response r;
        diag *tmp = diag_new();
        if (es_request_once(it->c, "DELETE", "/_search/scroll", body, strlen(body), NULL, &r,
                            tmp) == 0)
            es_response_free(&r);
        diag_free(tmp);
        free(body);
        free(it->scroll_id);
    }
    cJSON_Delete(it->page);
    free(it);
}
