/* es_api.c - document and search APIs for the connector service; see
 * es_api.h.
 *
 * Stage: the cluster side of `sql2es serve` (the two connector indices).
 * Built on es_request (retries, auth, extra headers such as
 * X-elastic-product-origin come from the client). Reads only what it must
 * from replies (_id, error reasons) with the strict JSON reader; never puts a
 * request body into a message.
 */
#include "sinks/es_api.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/json.h"

#define NOLOC ((src_loc){NULL, 0, 0})

static const json *member(const json *obj, const char *key)
{
    if (!obj || obj->kind != JSON_OBJECT) return NULL;
    for (const json *m = obj->child; m; m = m->next)
        if (m->key && !strcmp(m->key, key)) return m;
    return NULL;
}

void es_reply_reason(const es_response *r, char *out, size_t cap)
{
    arena *a = arena_new();
    json *root = NULL;
    const char *body = r->body ? r->body : "";
    if (a && json_parse(a, body, r->len, &root)) {
        const json *e = member(root, "error");
        const json *t = member(e, "type"), *why = member(e, "reason");
        if (t && t->kind == JSON_STRING) {
            snprintf(out, cap, "%s: %s", t->str, why && why->kind == JSON_STRING ? why->str : "");
            arena_free(a);
            return;
        }
        if (e && e->kind == JSON_STRING) {
            snprintf(out, cap, "%s", e->str);
            arena_free(a);
            return;
        }
    }
    snprintf(out, cap, "%.200s", r->len ? body : "(empty reply)");
    arena_free(a);
}

/* Names and ids go into URL paths: percent-encode everything but unreserved
 * characters. Returns 0, or DIAG_EINVAL when empty or too long. */
static int enc(const char *s, char *out, size_t cap, const char *what, diag *d)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (!s || !*s) {
        diag_error(d, NOLOC, "elasticsearch: empty %s", what);
        return DIAG_EINVAL;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (o + 4 >= cap) {
            diag_error(d, NOLOC, "elasticsearch: %s too long", what);
            return DIAG_EINVAL;
        }
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

static int fail_status(es_client *c, const char *method, const char *path, const es_response *r,
                       diag *d)
{
    char why[400];
    es_reply_reason(r, why, sizeof why);
    diag_error(d, NOLOC, "elasticsearch %s: %s %s answered %ld: %s", es_client_host(c), method,
               path, r->status, why);
    return DIAG_EIO;
}

int es_doc_get(es_client *c, const char *index, const char *id, es_response *out, diag *d)
{
    char ix[768], eid[1600], path[2500];
    memset(out, 0, sizeof *out);
    if (enc(index, ix, sizeof ix, "index name", d) || enc(id, eid, sizeof eid, "document id", d))
        return DIAG_EINVAL;
    snprintf(path, sizeof path, "/%s/_doc/%s", ix, eid);
    int rc = es_request(c, "GET", path, NULL, 0, NULL, out, d);
    if (rc) return rc;
    if (out->status == 200) return 1;
    if (out->status == 404) {
        es_response_free(out);
        return 0;
    }
    rc = fail_status(c, "GET", path, out, d);
    es_response_free(out);
    return rc;
}

static void refresh_arg(char *q, size_t cap, const char *refresh, int first)
{
    if (refresh)
        snprintf(q, cap, "%srefresh=%s", first ? "?" : "&", refresh);
    else
        q[0] = '\0';
}

int es_doc_create(es_client *c, const char *index, const char *id, const char *json_text,
                  const char *refresh, diag *d)
{
    char ix[768], eid[1600], path[2600], q[32];
    if (enc(index, ix, sizeof ix, "index name", d) || enc(id, eid, sizeof eid, "document id", d))
        return DIAG_EINVAL;
    refresh_arg(q, sizeof q, refresh, 1);
    snprintf(path, sizeof path, "/%s/_create/%s%s", ix, eid, q);
    es_response r;
    int rc = es_request(c, "PUT", path, json_text, strlen(json_text), NULL, &r, d);
    if (rc) return rc;
    if (r.status == 200 || r.status == 201) rc = 0;
    else if (r.status == 409) rc = 1;
    else rc = fail_status(c, "PUT", path, &r, d);
    es_response_free(&r);
    return rc;
}

int es_doc_add(es_client *c, const char *index, const char *json_text, const char *refresh,
               char *id_out, size_t cap, diag *d)
{
    char ix[768], path[900], q[32];
    if (enc(index, ix, sizeof ix, "index name", d)) return DIAG_EINVAL;
    refresh_arg(q, sizeof q, refresh, 1);
    snprintf(path, sizeof path, "/%s/_doc%s", ix, q);
    es_response r;
    int rc = es_request(c, "POST", path, json_text, strlen(json_text), NULL, &r, d);
    if (rc) return rc;
    if (r.status != 200 && r.status != 201) {
        rc = fail_status(c, "POST", path, &r, d);
        es_response_free(&r);
        return rc;
    }
    if (id_out && cap) {
        id_out[0] = '\0';
        arena *a = arena_new();
        json *root = NULL;
        if (a && json_parse(a, r.body ? r.body : "", r.len, &root)) {
            const json *id = member(root, "_id");
            if (id && id->kind == JSON_STRING) snprintf(id_out, cap, "%s", id->str);
        }
        arena_free(a);
        if (!id_out[0]) {
            diag_error(d, NOLOC, "elasticsearch %s: POST %s: the reply has no _id", es_client_host(c), path);
            rc = DIAG_EIO;
        }
    }
    es_response_free(&r);
    return rc;
}

int es_doc_update(es_client *c, const char *index, const char *id, const char *doc_json,
                  int64_t seq_no, int64_t primary_term, const char *refresh, diag *d)
{
    char ix[768], eid[1600], path[2700], q[96], rq[32];
    if (enc(index, ix, sizeof ix, "index name", d) || enc(id, eid, sizeof eid, "document id", d))
        return DIAG_EINVAL;
    if (seq_no >= 0) {
        snprintf(q, sizeof q, "?if_seq_no=%" PRId64 "&if_primary_term=%" PRId64, seq_no, primary_term);
        refresh_arg(rq, sizeof rq, refresh, 0);
    } else {
        /* unconditional: another writer's concurrent update is retried by the cluster */
        snprintf(q, sizeof q, "?retry_on_conflict=5");
        refresh_arg(rq, sizeof rq, refresh, 0);
    }
    snprintf(path, sizeof path, "/%s/_update/%s%s%s", ix, eid, q, rq);
    buf body = BUF_INIT;
    buf_puts(&body, "{\"doc\":");
    buf_puts(&body, doc_json);
    buf_putc(&body, '}');
    if (body.failed) {
        buf_free(&body);
        return DIAG_ENOMEM;
    }
    es_response r;
    int rc = es_request(c, "POST", path, body.data, body.len, NULL, &r, d);
    buf_free(&body);
    if (rc) return rc;
    if (r.status == 200 || r.status == 201) rc = 0;
    else if (r.status == 409) rc = 1;
    else if (r.status == 404) rc = DIAG_ENOTFOUND;
    else rc = fail_status(c, "POST", path, &r, d);
    if (rc == DIAG_ENOTFOUND)
        diag_error(d, NOLOC, "elasticsearch %s: document '%s' of '%s' not found", es_client_host(c),
                   id, index);
    es_response_free(&r);
    return rc;
}

int es_search(es_client *c, const char *index, const char *body, es_response *out, diag *d)
{
    char ix[768], path[900];
    memset(out, 0, sizeof *out);
    if (enc(index, ix, sizeof ix, "index name", d)) return DIAG_EINVAL;
    snprintf(path, sizeof path,
             "/%s/_search?seq_no_primary_term=true&expand_wildcards=all&ignore_unavailable=true", ix);
    int rc = es_request(c, "POST", path, body, strlen(body), NULL, out, d);
    if (rc) return rc;
    if (out->status == 200) return 0;
    rc = fail_status(c, "POST", path, out, d);
    es_response_free(out);
    return rc;
}

int es_index_create_with(es_client *c, const char *index, const char *body, diag *d)
{
    char ix[768], path[800];
    if (enc(index, ix, sizeof ix, "index name", d)) return DIAG_EINVAL;
    snprintf(path, sizeof path, "/%s", ix);
    es_response r;
    int rc = es_request(c, "PUT", path, body, strlen(body), NULL, &r, d);
    if (rc) return rc;
    if (r.status == 200 || r.status == 201) {
        rc = 0;
    } else if (r.status == 400 && r.body && strstr(r.body, "resource_already_exists_exception")) {
        rc = 1;
    } else {
        rc = fail_status(c, "PUT", path, &r, d);
    }
    es_response_free(&r);
    return rc;
}

int es_alias_exists(es_client *c, const char *alias, diag *d)
{
    char al[768], path[800];
    if (enc(alias, al, sizeof al, "alias", d)) return DIAG_EINVAL;
    snprintf(path, sizeof path, "/_alias/%s?expand_wildcards=all", al);
    es_response r;
    int rc = es_request(c, "GET", path, NULL, 0, NULL, &r, d);
    if (rc) return rc;
    if (r.status == 200) rc = 1;
    else if (r.status == 404) rc = 0;
    else rc = fail_status(c, "GET", path, &r, d);
    es_response_free(&r);
    return rc;
}
