/* es_reply.c - reading what Elasticsearch/OpenSearch answers; see es.h.
 *
 * Stage: the sink side (documents -> cluster), the only file that reads JSON
 * with cJSON: _bulk item results, the GET / banner (product and version),
 * error replies, counts, mappings (and their comparison with the plan's),
 * scroll pages of _ids, and the action lines the bulk sink sends (to match
 * each reply item with what was sent). Pure functions on bytes: no HTTP
 * (es_client.c), no state; every reply either parses or is refused with a
 * message (the fuzz target tests/fuzz/fuzz_es_reply.c drives them).
 */
#include "sinks/es.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define NOLOC ((src_loc){NULL, 0, 0})

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static es_op op_of(const char *name)
{
    if (!name) return ES_OP_UNKNOWN;
    if (strcmp(name, "index") == 0) return ES_OP_INDEX;
    if (strcmp(name, "create") == 0) return ES_OP_CREATE;
    if (strcmp(name, "update") == 0) return ES_OP_UPDATE;
    if (strcmp(name, "delete") == 0) return ES_OP_DELETE;
    return ES_OP_UNKNOWN;
}

const char *es_op_name(es_op op)
{
    switch (op) {
    case ES_OP_INDEX: return "index";
    case ES_OP_CREATE: return "create";
    case ES_OP_UPDATE: return "update";
    case ES_OP_DELETE: return "delete";
    default: return "unknown";
    }
}

/* ---- _bulk ------------------------------------------------------------- */

int es_bulk_parse_reply(const char *body, size_t len, es_item_result *out, size_t cap,
                        int *errors, diag *d)
{
    int n = 0;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "errors");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(items)) {
        if (d)
            diag_error(d, NOLOC, "bulk: the reply is not a _bulk reply: %.*s",
                       (int)(len < 120 ? len : 120), len ? body : "");
        cJSON_Delete(root);
        return DIAG_EIO;
    }
    if (errors) *errors = cJSON_IsTrue(err);
    const cJSON *el;
    cJSON_ArrayForEach(el, items)
    {
        if ((size_t)n < cap) {
            es_item_result *r = &out[n];
            memset(r, 0, sizeof *r);
            const cJSON *op = cJSON_IsObject(el) ? el->child : NULL;
            r->op = op ? op_of(op->string) : ES_OP_UNKNOWN;
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(op, "_id");
            if (cJSON_IsString(id) && strlen(id->valuestring) < sizeof r->id) {
                copy_str(r->id, sizeof r->id, id->valuestring);
                r->has_id = 1;
            } else if (cJSON_IsString(id)) {
                r->has_id = -1; /* longer than any valid _id */
            }
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(op, "status");
            if (cJSON_IsNumber(st) && st->valuedouble >= 0 && st->valuedouble < 1000)
                r->status = (int)st->valuedouble;
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(op, "result");
            if (cJSON_IsString(res)) copy_str(r->result, sizeof r->result, res->valuestring);
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(op, "error");
            if (cJSON_IsObject(e)) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
                const cJSON *why = cJSON_GetObjectItemCaseSensitive(e, "reason");
                copy_str(r->err_type, sizeof r->err_type,
                         cJSON_IsString(t) ? t->valuestring : "error");
                copy_str(r->err_reason, sizeof r->err_reason,
                         cJSON_IsString(why) ? why->valuestring : "");
            } else if (cJSON_IsString(e)) {
                copy_str(r->err_type, sizeof r->err_type, "error");
                copy_str(r->err_reason, sizeof r->err_reason, e->valuestring);
            } else if (e && !cJSON_IsNull(e)) {
                copy_str(r->err_type, sizeof r->err_type, "error");
            }
        }
        if (n < 0x7fffffff) n++;
    }
    cJSON_Delete(root);
    return n;
}

int es_action_parse(const char *line, size_t len, es_op *op, char *id, size_t idcap, int *has_id)
{
    int rc = DIAG_EINVAL;
    *op = ES_OP_UNKNOWN;
    *has_id = 0;
    if (idcap) id[0] = '\0';
    const char *nl = memchr(line, '\n', len);
    cJSON *root = cJSON_ParseWithLength(line, nl ? (size_t)(nl - line) : len);
    const cJSON *a = cJSON_IsObject(root) ? root->child : NULL;
    if (!a || !cJSON_IsObject(a) || a->next) goto done;
    *op = op_of(a->string);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "_id");
    if (cJSON_IsString(v)) {
        if (strlen(v->valuestring) < idcap) {
            copy_str(id, idcap, v->valuestring);
            *has_id = 1;
        } else {
            *has_id = -1;
        }
    }
    rc = *op == ES_OP_UNKNOWN ? DIAG_EINVAL : 0;
done:
    cJSON_Delete(root);
    return rc;
}

/* ---- GET / ------------------------------------------------------------- */

static const char ES_TAGLINE[] = "You Know, for Search";

int es_version_parse(const char *json, size_t len, const char *product, es_version *out,
                     diag *d)
{
    es_version v;
    memset(&v, 0, sizeof v);
    int rc = DIAG_EINVAL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(ver, "number");
    const cJSON *dist = cJSON_GetObjectItemCaseSensitive(ver, "distribution");
    const cJSON *tag = cJSON_GetObjectItemCaseSensitive(root, "tagline");
    const char *tagline = cJSON_IsString(tag) ? tag->valuestring : "";
    const char *distribution = cJSON_IsString(dist) ? dist->valuestring : "";
    if (!cJSON_IsString(num)) {
        diag_error(d, NOLOC, "elasticsearch: the cluster's reply to GET / has no version.number");
        goto done;
    }
    snprintf(v.number, sizeof v.number, "%s", num->valuestring);
    v.opensearch = strcmp(distribution, "opensearch") == 0;
    const char *p = num->valuestring;
    char *end;
    long part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (*p < '0' || *p > '9') break;
        part[i] = strtol(p, &end, 10);
        p = end;
        if (*p != '.') break;
        p++;
    }
    v.major = (int)(part[0] > 1000 ? 1000 : part[0]);
    v.minor = (int)(part[1] > 100000 ? 100000 : part[1]);
    v.patch = (int)(part[2] > 100000 ? 100000 : part[2]);
    /* The product: OpenSearch says so in version.distribution; Elasticsearch
     * has no distribution (or "elasticsearch"), the tagline "You Know, for
     * Search" and, from 7.14 on, the header X-elastic-product: Elasticsearch
     * (the check the official clients make). Anything else only looks alike. */
    if (!v.opensearch) {
        int es_dist = !*distribution || strcmp(distribution, "elasticsearch") == 0;
        int es_tag = strcmp(tagline, ES_TAGLINE) == 0;
        int needs_header = v.major > 7 || (v.major == 7 && v.minor >= 14);
        int es_header = product && strcmp(product, "Elasticsearch") == 0;
        if (!es_dist || !es_tag || (needs_header && !es_header)) {
            diag_error(d, NOLOC, "elasticsearch: the cluster is neither Elasticsearch nor "
                       "OpenSearch (version %.32s, distribution '%.40s', tagline '%.60s', "
                       "X-elastic-product '%.40s')",
                       v.number, distribution, tagline, product ? product : "");
            goto done;
        }
    }
    const char *name = v.opensearch ? "OpenSearch" : "Elasticsearch";
    int okv = v.opensearch ? (v.major >= 1 && v.major <= 3) : (v.major >= 7 && v.major <= 9);
    if (!okv) {
        diag_error(d, NOLOC, "elasticsearch: unsupported %s version %s (supported: %s)", name,
                   v.number, v.opensearch ? "OpenSearch 1.x to 3.x" : "Elasticsearch 7.x to 9.x");
        goto done;
    }
    rc = 0;
done:
    if (out) *out = v;
    cJSON_Delete(root);
    return rc;
}

/* ---- small replies ----------------------------------------------------- */

void es_error_reason(const char *body, size_t len, char *out, size_t cap)
{
    cJSON *root = cJSON_ParseWithLength(body ? body : "", body ? len : 0);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "reason");
    if (cJSON_IsString(t))
        snprintf(out, cap, "%s: %s", t->valuestring, cJSON_IsString(r) ? r->valuestring : "");
    else if (cJSON_IsString(e))
        snprintf(out, cap, "%s", e->valuestring);
    else if (body && len)
        snprintf(out, cap, "%.*s", (int)(len < 200 ? len : 200), body);
    else
        snprintf(out, cap, "(empty reply)");
    cJSON_Delete(root);
}

int es_reply_number(const char *body, size_t len, const char *key, int64_t *out)
{
    cJSON *root = cJSON_ParseWithLength(body ? body : "", body ? len : 0);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, key);
    int ok = cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble < 9.2e18;
    if (ok && out) *out = (int64_t)n->valuedouble;
    cJSON_Delete(root);
    return ok ? 0 : DIAG_EIO;
}

/* ---- mappings ---------------------------------------------------------- */

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

static int diff_trees(const cJSON *have, const cJSON *want, char **additions, int *nadded,
                      diag *d)
{
    int rc = 0, n = 0;
    cJSON *add = cJSON_CreateObject();
    if (additions) *additions = NULL;
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
    return rc;
}

int es_mapping_diff(const char *existing_json, const char *wanted_json, char **additions,
                    int *nadded, diag *d)
{
    cJSON *have = cJSON_Parse(existing_json ? existing_json : "{}");
    cJSON *want = cJSON_Parse(wanted_json ? wanted_json : "{}");
    int rc = diff_trees(have, want, additions, nadded, d);
    cJSON_Delete(have);
    cJSON_Delete(want);
    return rc;
}

int es_json_is_object(const char *json)
{
    cJSON *m = cJSON_Parse(json ? json : "");
    int ok = cJSON_IsObject(m);
    cJSON_Delete(m);
    return ok;
}

int es_mapping_reply_diff(const char *reply, size_t len, const char *index,
                          const char *wanted_json, char **additions, int *nadded, diag *d)
{
    int rc = 0;
    *additions = NULL;
    *nadded = 0;
    cJSON *root = cJSON_ParseWithLength(reply ? reply : "", reply ? len : 0);
    cJSON *want = cJSON_Parse(wanted_json ? wanted_json : "{}");
    if (!cJSON_IsObject(root)) {
        diag_error(d, NOLOC, "index '%s': the mapping reply is not a JSON object", index);
        rc = DIAG_EIO;
        goto done;
    }
    const cJSON *idx;
    cJSON_ArrayForEach(idx, root)
    {
        /* one entry per index (an alias may name several) */
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(idx, "mappings");
        cJSON *empty = m ? NULL : cJSON_CreateObject();
        char *add = NULL;
        int n = 0, before = diag_errors(d);
        rc = diff_trees(m ? m : empty, want, &add, &n, d);
        cJSON_Delete(empty);
        if (rc) {
            int k = diag_errors(d) - before;
            diag_error(d, NOLOC, "index '%s': %d mapping conflict%s with the plan (the index is "
                       "left unchanged; reindex or drop it)",
                       idx->string ? idx->string : index, k, k == 1 ? "" : "s");
            free(add);
            free(*additions);
            *additions = NULL;
            *nadded = 0;
            goto done;
        }
        if (add && !*additions) {
            *additions = add;
            *nadded = n;
        } else {
            free(add);
        }
    }
done:
    cJSON_Delete(want);
    cJSON_Delete(root);
    return rc;
}

/* ---- scroll pages ------------------------------------------------------ */

void es_page_free(es_page *pg)
{
    if (!pg) return;
    free(pg->scroll_id);
    buf_free(&pg->ids);
    memset(pg, 0, sizeof *pg);
}

int es_page_parse(const char *body, size_t len, es_page *pg, diag *d)
{
    int rc = DIAG_EIO;
    buf_reset(&pg->ids);
    pg->n = 0;
    pg->pos = 0;
    cJSON *root = cJSON_ParseWithLength(body ? body : "", body ? len : 0);
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(root, "_scroll_id");
    const cJSON *outer = cJSON_GetObjectItemCaseSensitive(root, "hits");
    const cJSON *hits = cJSON_GetObjectItemCaseSensitive(outer, "hits");
    /* filter_path leaves `hits` out of a page without hits */
    if (!cJSON_IsString(sid) || (outer && !cJSON_IsArray(hits)) ||
        (!outer && cJSON_GetArraySize(root) != 1)) {
        diag_error(d, NOLOC, "elasticsearch: scroll reply without _scroll_id or hits");
        goto done;
    }
    if (!pg->scroll_id || strcmp(pg->scroll_id, sid->valuestring) != 0) {
        free(pg->scroll_id);
        size_t n = strlen(sid->valuestring) + 1;
        pg->scroll_id = malloc(n);
        if (!pg->scroll_id) {
            rc = DIAG_ENOMEM;
            goto done;
        }
        memcpy(pg->scroll_id, sid->valuestring, n);
    }
    const cJSON *h;
    cJSON_ArrayForEach(h, hits)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, "_id");
        if (!cJSON_IsString(v)) continue;
        /* each id: its length (size_t), its bytes, a NUL */
        size_t n = strlen(v->valuestring);
        if (buf_append(&pg->ids, &n, sizeof n) || buf_append(&pg->ids, v->valuestring, n + 1)) {
            rc = DIAG_ENOMEM;
            goto done;
        }
        pg->n++;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

int es_page_next(es_page *pg, const char **id, size_t *idlen)
{
    if (pg->pos >= pg->ids.len) return 0;
    size_t n;
    memcpy(&n, pg->ids.data + pg->pos, sizeof n);
    *id = pg->ids.data + pg->pos + sizeof n;
    if (idlen) *idlen = n;
    pg->pos += sizeof n + n + 1;
    return 1;
}
