/* merge.c - one plan per job: what Kibana holds over what config.yml holds.
 *
 * Stage: between the connector document and the compiler. The connector's
 * entry of config.yml (its mappings, templates, relations, incremental
 * cursors, sync rules) is the base; the document's `configuration` values,
 * `index_name` and `pipeline.name` are laid over it (a value the document
 * leaves empty or null keeps the file's), and the result is checked and
 * lowered by the compiler of `sync`, so a bad value fails with the same
 * message (secrets are never printed by the compiler). Precedence, from
 * weakest: config.yml, the connector document, the job's snapshot of it.
 */
#include "service/svc.h"

#include <string.h>

#include "dsl/dsl.h"

static dsl_node *scalar(arena *a, const json *v, src_loc loc)
{
    switch (v->kind) {
    case JSON_STRING: return dsl_new_scalar(a, v->str, 1, loc);
    case JSON_NUMBER:
    case JSON_BOOL: {
        char *t = arena_strndup(a, v->raw, v->rawlen);
        return dsl_new_scalar(a, t, 0, loc);
    }
    default: return NULL;
    }
}

/* A configuration value as a node; NULL when empty (keep the file's). */
static dsl_node *value_node(arena *a, const json *v, src_loc loc)
{
    if (svc_is_null(v)) return NULL;
    if (v->kind == JSON_STRING && v->len == 0) return NULL;
    if (v->kind == JSON_ARRAY) {
        dsl_node *seq = dsl_new_seq(a, loc);
        for (const json *e = v->child; e; e = e->next) {
            dsl_node *n = scalar(a, e, loc);
            if (n) dsl_seq_push(a, seq, n);
        }
        return seq->n ? seq : NULL;
    }
    return scalar(a, v, loc);
}

static dsl_node *key(arena *a, const char *k, src_loc loc) { return dsl_new_scalar(a, k, 0, loc); }

/* Lay the values of one connector object (document or snapshot) over entry. */
static dsl_node *overlay(arena *a, dsl_node *entry, const json *c, src_loc loc)
{
    if (!c || c->kind != JSON_OBJECT) return entry;
    dsl_node *ov = dsl_new_map(a, loc);
    const json *conf = svc_get(c, "configuration");
    if (conf && conf->kind == JSON_OBJECT) {
        dsl_node *cm = dsl_new_map(a, loc);
        for (const json *f = conf->child; f; f = f->next) {
            /* {key: {value: ...}} (the schema form) or {key: value} (ES's values form) */
            const json *v = f->kind == JSON_OBJECT ? svc_get(f, "value") : f;
            dsl_node *n = v ? value_node(a, v, loc) : NULL;
            if (n) dsl_map_put(a, cm, key(a, f->key, loc), n);
        }
        if (cm->n) dsl_map_put(a, ov, key(a, "configuration", loc), cm);
    }
    const char *ix = svc_str(c, "index_name");
    if (ix && *ix) dsl_map_put(a, ov, key(a, "index_name", loc), dsl_new_scalar(a, ix, 1, loc));
    const char *pipe = svc_str(c, "pipeline.name");
    if (pipe && *pipe)
        dsl_map_put(a, ov, key(a, "pipeline", loc), dsl_new_scalar(a, pipe, 1, loc));
    return ov->n ? dsl_merge(a, entry, ov) : entry;
}

static int is_id(const dsl_node *n, const char *id)
{
    return n && n->kind == DSL_SCALAR && n->str && !strcmp(n->str, id);
}

plan *svc_merged_plan(svc_ctx *s, const char *id, const json *conn, const json *snap, diag *d)
{
    arena *a = arena_new();
    if (!a) return NULL;
    /* locations outlive this arena (diagnostics, the plan): the name is kept
     * with the configuration tree */
    src_loc loc = {arena_printf(s->tree_mem, "connector document '%s'", id), 0, 0};
    const dsl_node *root = s->root;
    /* the entry: from the connectors list, or the single top-level form */
    dsl_node *entry = NULL;
    const dsl_node *list = dsl_map_get(root, "connectors");
    if (list && list->kind == DSL_SEQ)
        for (size_t i = 0; i < list->n; i++)
            if (is_id(dsl_map_get(list->items[i], "connector_id"), id)) entry = list->items[i];
    if (!entry && is_id(dsl_map_get(root, "connector_id"), id)) {
        entry = dsl_new_map(a, root->loc);
        dsl_map_put(a, entry, key(a, "connector_id", loc), dsl_map_get(root, "connector_id"));
        const dsl_node *st = dsl_map_get(root, "service_type");
        if (st) dsl_map_put(a, entry, key(a, "service_type", loc), (dsl_node *)st);
    }
    if (!entry) {
        diag_error(d, loc, "connector '%s' is not in %s", id, s->file);
        goto out;
    }
    entry = overlay(a, entry, conn, loc);
    entry = overlay(a, entry, snap, loc);
    /* a root with this one connector */
    dsl_node *nroot = dsl_new_map(a, root->loc);
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->str;
        if (!strcmp(k, "connectors") || !strcmp(k, "connector_id") || !strcmp(k, "service_type"))
            continue;
        dsl_map_put(a, nroot, root->keys[i], root->items[i]);
    }
    dsl_node *seq = dsl_new_seq(a, root->loc);
    dsl_seq_push(a, seq, entry);
    dsl_map_put(a, nroot, key(a, "connectors", loc), seq);
    /* the tree lives in a, which the compiler frees */
    return dsl_compile_tree(a, d, nroot, s->file, src_drivers);
out:
    arena_free(a);
    return NULL;
}
