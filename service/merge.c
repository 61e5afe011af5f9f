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
 *
 * Sync rules (Kibana's `filtering`, protocol.md 1.6): the active rules of
 * the DEFAULT domain (the job's snapshot of them when it has one) become the
 * entry's `sync_rules`: basic rules replace the file's `sync_rules.basic`
 * unless they are only Kibana's default rule (`_` regex `.*`, which says
 * nothing), a non-empty advanced snippet replaces `sync_rules.advanced`.
 * Each rule's nodes carry a location naming the rule ("connector document
 * 'pg' filtering.draft rule 'r1'"), so a compiler message points at it and
 * svc_rule_of() maps it back to the rule id (draft validation).
 */
#include "service/svc.h"

#include <stdarg.h>
#include <stdio.h>
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

/* ---- locations of the document's parts ------------------------------------ */

/* Location names live as long as the configuration tree (messages and plans
 * keep pointers to them); each text is kept once, with the rule it names. */
typedef struct svc_loc_name {
    const char *text, *rule;
    struct svc_loc_name *next;
} svc_loc_name;

static const char *loc_name(svc_ctx *s, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *loc_name(svc_ctx *s, const char *rule, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    for (const svc_loc_name *n = s->loc_names; n; n = n->next)
        if (!strcmp(n->text, text) && (rule ? n->rule && !strcmp(n->rule, rule) : !n->rule))
            return n->text;
    svc_loc_name *n = arena_alloc(s->tree_mem, sizeof *n);
    if (!n) return "connector document";
    n->text = arena_strdup(s->tree_mem, text);
    n->rule = rule ? arena_strdup(s->tree_mem, rule) : NULL;
    n->next = s->loc_names;
    s->loc_names = n;
    return n->text;
}

const char *svc_rule_of(const svc_ctx *s, const char *file)
{
    for (const svc_loc_name *n = s->loc_names; file && n; n = n->next)
        if (!strcmp(n->text, file)) return n->rule; /* the checker copies locations */
    return NULL;
}

/* ---- sync rules ------------------------------------------------------------- */

const json *svc_filtering_of(const json *conn, const char *which)
{
    const json *f = svc_get(conn, "filtering");
    if (!f || f->kind != JSON_ARRAY) return NULL;
    for (const json *e = f->child; e; e = e->next) {
        const char *dom = svc_str(e, "domain");
        if (!dom || !strcmp(dom, "DEFAULT")) return svc_get(e, which);
    }
    return NULL;
}

int svc_rule_is_default(const json *r)
{
    const char *field = svc_str(r, "field"), *rule = svc_str(r, "rule"), *value = svc_str(r, "value");
    const char *pol = svc_str(r, "policy");
    return field && rule && value && !strcmp(field, "_") && !strcmp(rule, "regex") &&
           !strcmp(value, ".*") && (!pol || !strcmp(pol, "include"));
}

int svc_snippet_empty(const json *f)
{
    const json *v = svc_path(f, "advanced_snippet.value");
    return svc_is_null(v) || ((v->kind == JSON_ARRAY || v->kind == JSON_OBJECT) && !v->child) ||
           (v->kind == JSON_STRING && v->len == 0);
}

/* Any JSON value as a node (the advanced snippet: Kibana's JSON editor). */
static dsl_node *json_node(arena *a, const json *v, src_loc loc)
{
    if (v->kind == JSON_ARRAY) {
        dsl_node *seq = dsl_new_seq(a, loc);
        for (const json *e = v->child; e; e = e->next) dsl_seq_push(a, seq, json_node(a, e, loc));
        return seq;
    }
    if (v->kind == JSON_OBJECT) {
        dsl_node *m = dsl_new_map(a, loc);
        for (const json *e = v->child; e; e = e->next)
            dsl_map_put(a, m, key(a, e->key, loc), json_node(a, e, loc));
        return m;
    }
    if (v->kind == JSON_NULL) return dsl_new_scalar(a, NULL, 0, loc);
    return scalar(a, v, loc);
}

/* The sync_rules map of filtering object f ({rules, advanced_snippet}), or
 * NULL when it says nothing (only the default rule, no snippet). */
static dsl_node *rules_overlay(svc_ctx *s, arena *a, const char *id, const json *f, const char *which)
{
    if (!f || f->kind != JSON_OBJECT) return NULL;
    src_loc top = {loc_name(s, NULL, "connector document '%s' filtering.%s", id, which), 0, 0};
    dsl_node *sr = dsl_new_map(a, top);
    const json *rules = svc_get(f, "rules");
    int said = 0;
    for (const json *r = rules && rules->kind == JSON_ARRAY ? rules->child : NULL; r; r = r->next)
        if (!svc_rule_is_default(r)) said = 1;
    if (said) {
        dsl_node *seq = dsl_new_seq(a, top);
        int i = 0;
        for (const json *r = rules->child; r; r = r->next, i++) {
            char pos[32];
            snprintf(pos, sizeof pos, "#%d", i + 1);
            const char *rid = svc_str(r, "id");
            if (!rid || !*rid) rid = pos;
            src_loc loc = {loc_name(s, rid, "connector document '%s' filtering.%s rule '%s'", id, which, rid),
                           0, 0};
            if (r->kind != JSON_OBJECT) {
                dsl_seq_push(a, seq, json_node(a, r, loc));
                continue;
            }
            dsl_node *m = dsl_new_map(a, loc);
            static const char *const keys[] = {"id", "field", "rule", "value", "policy", "order"};
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
                const json *v = svc_get(r, keys[k]);
                if (svc_is_null(v)) continue;
                dsl_node *n = v->kind == JSON_NUMBER && strcmp(keys[k], "order") != 0
                                  ? dsl_new_scalar(a, arena_strndup(a, v->raw, v->rawlen), 1, loc)
                                  : json_node(a, v, loc);
                dsl_map_put(a, m, key(a, keys[k], loc), n);
            }
            dsl_seq_push(a, seq, m);
        }
        dsl_map_put(a, sr, key(a, "basic", top), seq);
    }
    if (!svc_snippet_empty(f)) {
        src_loc loc = {loc_name(s, "advanced_snippet", "connector document '%s' filtering.%s advanced_snippet",
                                id, which),
                       0, 0};
        dsl_map_put(a, sr, key(a, "advanced", loc), json_node(a, svc_path(f, "advanced_snippet.value"), loc));
    }
    return sr->n ? sr : NULL;
}

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

/* The entry of connector id with the documents laid over it, and the sync
 * rules of filtering object f (which: "active" or "draft"), compiled. */
static plan *merged(svc_ctx *s, const char *id, const json *conn, const json *snap, const json *f,
                    const char *which, diag *d)
{
    arena *a = arena_new();
    if (!a) return NULL;
    /* locations outlive this arena (diagnostics, the plan): the name is kept
     * with the configuration tree */
    src_loc loc = {loc_name(s, NULL, "connector document '%s'", id), 0, 0};
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
    dsl_node *sr = rules_overlay(s, a, id, f, which);
    if (sr) {
        dsl_node *ov = dsl_new_map(a, loc);
        dsl_map_put(a, ov, key(a, "sync_rules", loc), sr);
        entry = dsl_merge(a, entry, ov);
    }
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

plan *svc_merged_plan(svc_ctx *s, const char *id, const json *conn, const json *snap, diag *d)
{
    /* the job's snapshot of the active rules, else the document's */
    const json *f = svc_get(snap, "filtering");
    if (!f || f->kind != JSON_OBJECT) f = svc_filtering_of(conn, "active");
    return merged(s, id, conn, snap, f, "active", d);
}

plan *svc_rules_plan(svc_ctx *s, const char *id, const json *f, const char *which, diag *d)
{
    return merged(s, id, NULL, NULL, f, which, d);
}
