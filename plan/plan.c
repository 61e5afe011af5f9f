/* plan.c - the plan's operation names, its release, and its printout.
 *
 * Stage: between the compiler (dsl/ builds plans) and the interpreter. The
 * text printout (`sql2es plan`) is also the golden format of the compiler
 * tests: stable order, one element per line, the config location of every
 * table and operation. The JSON form carries the same content. Secrets
 * (passwords, API keys) are printed as "***". Building plans is dsl/lower.c.
 */
#include "plan/plan.h"

#include <inttypes.h>
#include <string.h>

#include "base/buf.h"

const char *const plan_op_names[PLAN_OP__COUNT] = {
#define PLAN_OP_NAME(name, str, args) str,
    PLAN_OPS(PLAN_OP_NAME)
#undef PLAN_OP_NAME
};

void plan_free(plan *p)
{
    if (p) arena_free(p->arena); /* the plan itself lives in its arena */
}

static const char *const rule_names[] = {"equals", "contains", "starts_with", "ends_with",
                                         "regex", ">", "<"};

static const char *tf(int v)
{
    return v ? "true" : "false";
}

static const char *secret(const char *s)
{
    return s ? "***" : NULL;
}

/* A host or URL without the password of its userinfo ("http://u:***@h"). */
static const char *url(char tmp[4096], const char *s)
{
    return s ? diag_redact_url(tmp, 4096, s) : NULL;
}

/* ---- text ------------------------------------------------------------------ */

/* A JSON-quoted string (readable, unambiguous) into b. */
static void q(buf *b, const char *s)
{
    if (!s) {
        buf_puts(b, "null");
        return;
    }
    buf_json_str(b, s, strlen(s), NULL);
}

static void loc_text(buf *b, src_loc loc)
{
    if (!loc.line) return;
    buf_printf(b, "%s:%d:%d", loc.file ? loc.file : "", loc.line, loc.col);
}

static void indent(buf *b, int n)
{
    for (int i = 0; i < n; i++) buf_putc(b, ' ');
}

static void op_args(buf *b, const plan_op *o)
{
    switch (o->op) {
    case PLAN_OP_LOAD_COL:
    case PLAN_OP_EMIT:
    case PLAN_OP_OBJ_BEGIN:
    case PLAN_OP_LOAD_VAR:
        buf_printf(b, " %s", o->s ? o->s : "");
        break;
    case PLAN_OP_LOAD_TPL:
        buf_putc(b, ' ');
        q(b, o->tpl ? o->tpl->source : o->s);
        break;
    case PLAN_OP_LOAD_CONST:
    case PLAN_OP_DEFAULT:
        buf_printf(b, " %s", o->s ? o->s : "null");
        break;
    case PLAN_OP_SPLIT:
    case PLAN_OP_JOIN:
        buf_putc(b, ' ');
        q(b, o->s);
        break;
    case PLAN_OP_REGEX_EXTRACT:
        buf_putc(b, ' ');
        q(b, o->pattern);
        buf_printf(b, " group %d", o->n);
        break;
    case PLAN_OP_REGEX_REPLACE:
        buf_putc(b, ' ');
        q(b, o->pattern);
        buf_puts(b, " -> ");
        q(b, o->s);
        break;
    case PLAN_OP_TRUNCATE:
        buf_printf(b, " %d", o->n);
        break;
    case PLAN_OP_COPY_COLUMNS:
        buf_puts(b, (o->n & 0xf) == PLAN_COPY_INCLUDE ? " include [" : " exclude [");
        for (int i = 0; i < o->nnames; i++) buf_printf(b, "%s%s", i ? ", " : "", o->names[i]);
        buf_putc(b, ']');
        if (o->n & PLAN_COPY_LOWER) buf_puts(b, " lower");
        if (o->s) {
            buf_puts(b, " prefix ");
            q(b, o->s);
        }
        break;
    case PLAN_OP_RELATION:
        buf_printf(b, " %d %s", o->n, o->s ? o->s : "");
        break;
    default:
        break;
    }
}

static void doc_text(buf *b, const plan_doc *doc, int ind);

static void relation_text(buf *b, const plan_relation *r, int i, int ind)
{
    indent(b, ind);
    buf_printf(b, "relation %d %s: %s %s", i, r->key, r->one ? "one" : "many", r->table);
    if (r->schema) buf_printf(b, " (schema %s)", r->schema);
    if (r->through) {
        buf_printf(b, " through %s", r->through);
        buf_puts(b, " on");
        for (int j = 0; j < r->njoin; j++)
            buf_printf(b, "%s child.%s = link.%s", j ? " and" : "", r->join_child_cols[j],
                       r->join_link_cols[j]);
        buf_puts(b, ", on");
    } else {
        buf_puts(b, " on");
    }
    for (int j = 0; j < r->non; j++)
        buf_printf(b, "%s %s.%s = parent.%s", j ? " and" : "", r->through ? "link" : "child",
                   r->child_cols[j], r->parent_cols[j]);
    if (r->norder_by) {
        buf_puts(b, " order by ");
        for (int j = 0; j < r->norder_by; j++) buf_printf(b, "%s%s", j ? ", " : "", r->order_by[j]);
    }
    if (r->where_sql) buf_printf(b, " where (%s)", r->where_sql);
    /* merge: when the described key allows it (engine/bind.c), else batches */
    buf_puts(b, r->merge ? ", read by merge on the parent key (else IN batches)"
                         : ", read in IN batches");
    buf_puts(b, "  ");
    loc_text(b, r->loc);
    buf_putc(b, '\n');
    doc_text(b, &r->doc, ind + 2);
}

static void doc_text(buf *b, const plan_doc *doc, int ind)
{
    for (int i = 0; i < doc->nops; i++) {
        const plan_op *o = &doc->ops[i];
        size_t start = b->len;
        indent(b, ind);
        buf_printf(b, "%04d %s", i, plan_op_names[o->op]);
        op_args(b, o);
        size_t w = b->len - start;
        if (o->loc.line) {
            indent(b, w < (size_t)ind + 44 ? (int)((size_t)ind + 44 - w) : 1);
            buf_puts(b, " ");
            loc_text(b, o->loc);
        }
        buf_putc(b, '\n');
    }
    for (int i = 0; i < doc->nrelations; i++) relation_text(b, &doc->relations[i], i, ind);
}

static void list_text(buf *b, const char *const *v, int n)
{
    for (int i = 0; i < n; i++) buf_printf(b, "%s%s", i ? ", " : "", v[i]);
}

/* The table's SQL through the renderer (engine/sql.c), or the user's
 * `where` alone without one. Strings in a. */
static plan_sql_text sql_of(const plan_connector *c, const plan_table *t, plan_sql_fn sql,
                            arena *a)
{
    plan_sql_text x = {0};
    if (!sql || sql(c, t, a, &x) < 0) {
        memset(&x, 0, sizeof x);
        x.where = t->where;
    }
    return x;
}

static void table_text(buf *b, const plan_connector *c, const plan_table *t, plan_sql_fn sql)
{
    arena *a = arena_new();
    plan_sql_text x = sql_of(c, t, sql, a);
    buf_printf(b, "  table %s", t->name);
    if (t->is_glob) buf_puts(b, " (glob)");
    if (t->is_default) buf_puts(b, " (default: tables without a mapping)");
    buf_puts(b, "  ");
    loc_text(b, t->loc);
    buf_putc(b, '\n');
    if (t->schema) buf_printf(b, "    schema: %s\n", t->schema);
    if (t->connectors_compat) buf_puts(b, "    documents: connectors-compatible\n");
    buf_printf(b, "    index: %s\n", t->index ? t->index->source : "-");
    buf_printf(b, "    id: %s\n", t->id ? t->id->source : "-");
    if (x.statement) buf_printf(b, "    sql: %s\n", x.statement);
    else if (x.where) buf_printf(b, "    where: %s\n", x.where);
    for (int i = 0; i < x.nparams; i++) {
        buf_printf(b, "    param %d: ", i + 1);
        q(b, x.params[i]);
        buf_putc(b, '\n');
    }
    if (x.pushdown) buf_printf(b, "    pushed down: %s\n", x.pushdown);
    arena_free(a);
    buf_puts(b, "    ops:\n");
    doc_text(b, &t->doc, 6);
    for (int i = 0; i < t->nrules; i++) {
        const plan_rule *r = &t->rules[i];
        buf_printf(b, "    rule order=%d %s %s %s ", r->order, r->include ? "include" : "exclude",
                   r->field, rule_names[r->rule]);
        q(b, r->value);
        if (r->id) buf_printf(b, " id=%s", r->id);
        if (r->pushed_down) buf_puts(b, " [pushed down]");
        buf_puts(b, "  ");
        loc_text(b, r->loc);
        buf_putc(b, '\n');
    }
    if (t->ncursor) {
        buf_puts(b, "    incremental: cursor (");
        list_text(b, t->cursor, t->ncursor);
        buf_printf(b, ") lag %" PRId64 " ms\n", t->lag_ms);
    }
    if (t->deleted_when) buf_printf(b, "    deleted_when: %s\n", t->deleted_when);
    if (t->omit_nulls) buf_puts(b, "    omit_nulls: true\n");
    for (int i = 0; i < t->nfields; i++) {
        const plan_mapping_field *f = &t->fields[i];
        buf_printf(b, "    field type %s: %s", f->path, f->es_type ? f->es_type : "-");
        if (f->scaling_factor) buf_printf(b, " scaling_factor %s", f->scaling_factor);
        buf_puts(b, "  ");
        loc_text(b, f->loc);
        buf_putc(b, '\n');
    }
    if (t->index_mappings_json) buf_printf(b, "    index_mappings: %s\n", t->index_mappings_json);
    if (t->index_settings_json) buf_printf(b, "    index_settings: %s\n", t->index_settings_json);
}

static void opt(buf *b, const char *name, const char *v)
{
    if (v) buf_printf(b, " %s=%s", name, v);
}

static void plan_text(const plan *p, buf *b, const char *filter, plan_sql_fn sql)
{
    const plan_es *e = &p->es;
    buf_printf(b, "plan %s\n", p->file ? p->file : "");
    char tmp[4096];
    buf_printf(b, "elasticsearch host=%s", e->host ? url(tmp, e->host) : "-");
    opt(b, "api_key", secret(e->api_key));
    opt(b, "username", e->username);
    opt(b, "password", secret(e->password));
    buf_printf(b, " ssl=%s verify_certs=%s", tf(e->ssl), tf(e->verify_certs));
    opt(b, "ca_certs", e->ca_certs);
    buf_printf(b, " gzip=%s\n", tf(e->gzip));
    buf_printf(b, "  timeouts request_timeout=%g retry_on_timeout=%s max_wait_duration=%g "
                  "initial_backoff_duration=%g backoff_multiplier=%g max_retries=%d "
                  "retry_interval=%g\n",
               e->request_timeout, tf(e->retry_on_timeout), e->max_wait_duration,
               e->initial_backoff_duration, e->backoff_multiplier, e->max_retries,
               e->retry_interval);
    buf_printf(b, "  bulk queue_max_size=%d queue_max_mem_size=%g display_every=%d chunk_size=%d "
                  "chunk_max_mem_size=%g max_concurrency=%d max_retries=%d retry_interval=%g",
               e->queue_max_size, e->queue_max_mem_size, e->display_every, e->chunk_size,
               e->chunk_max_mem_size, e->max_concurrency, e->bulk_max_retries,
               e->bulk_retry_interval);
    opt(b, "dead_letter_file", e->dead_letter_file);
    buf_putc(b, '\n');
    for (int i = 0; i < e->nheaders; i++) {
        /* header values may carry credentials: show names only */
        const char *c = strchr(e->headers[i], ':');
        buf_printf(b, "  header %.*s: ***\n", c ? (int)(c - e->headers[i]) : 0, e->headers[i]);
    }
    const plan_service *s = &p->service;
    buf_printf(b, "service idling=%g heartbeat=%g max_errors=%d max_errors_span=%g "
                  "max_concurrent_content_syncs=%d max_concurrent_access_control_syncs=%d "
                  "job_cleanup_interval=%g preflight_max_attempts=%d preflight_idle=%g "
                  "log_level=%s job_takeover_after=%g\n",
               s->idling, s->heartbeat, s->max_errors, s->max_errors_span,
               s->max_concurrent_content_syncs, s->max_concurrent_access_control_syncs,
               s->job_cleanup_interval, s->preflight_max_attempts, s->preflight_idle,
               s->log_level ? s->log_level : "-", s->job_takeover_after);
    for (int i = 0; i < p->nconnectors; i++) {
        const plan_connector *c = &p->connectors[i];
        buf_printf(b, "\nconnector %s (%s)  ", c->id ? c->id : "-",
                   c->service_type ? c->service_type : "-");
        loc_text(b, c->loc);
        buf_putc(b, '\n');
        buf_printf(b, "  index_name: %s\n", c->index_name ? c->index_name : "-");
        if (c->pipeline) buf_printf(b, "  pipeline: %s\n", c->pipeline);
        if (c->api_key) buf_puts(b, "  api_key: ***\n");
        if (c->state_file) buf_printf(b, "  state_file: %s\n", c->state_file);
        buf_printf(b, "  max_concurrent_tables: %d\n", c->max_concurrent_tables);
        buf_printf(b, "  follow: interval=%g replication_slot=%s publication=%s%s%s\n",
                   c->follow_interval, c->slot ? c->slot : "-",
                   c->publication ? c->publication : "-", c->own_publication ? " (sql2es's)" : "",
                   c->serve_follow ? " serve_follow" : "");
        const src_config *sc = &c->source;
        buf_puts(b, "  source:");
        opt(b, "host", url(tmp, sc->host));
        if (sc->port) buf_printf(b, " port=%d", sc->port);
        opt(b, "username", sc->username);
        opt(b, "password", secret(sc->password));
        opt(b, "database", sc->database);
        opt(b, "schema", sc->schema);
        opt(b, "path", sc->path);
        buf_printf(b, " fetch_size=%d retry_count=%d", sc->fetch_size, sc->retry_count);
        if (sc->connect_timeout) buf_printf(b, " connect_timeout=%d", sc->connect_timeout);
        buf_printf(b, " ssl_enabled=%s", tf(sc->ssl_enabled));
        opt(b, "ssl_ca", sc->ssl_ca ? "(set)" : NULL);
        if (c->source_unset) buf_puts(b, " (no database settings in the file: sync refuses)");
        buf_putc(b, '\n');
        if (c->advanced)
            buf_puts(b, "  tables: advanced rules (queries replace the table list)\n");
        else if (c->all_tables)
            buf_puts(b, "  tables: * (all)\n");
        else {
            buf_puts(b, "  tables: ");
            list_text(b, c->selection, c->nselection);
            buf_putc(b, '\n');
        }
        for (int j = 0; j < c->ntables; j++)
            if (!filter || !strcmp(filter, c->tables[j].name)) table_text(b, c, &c->tables[j], sql);
    }
}

/* ---- JSON -------------------------------------------------------------------- */

static void jkey(buf *b, int *first, const char *k)
{
    if (!*first) buf_putc(b, ',');
    *first = 0;
    q(b, k);
    buf_putc(b, ':');
}

static void jstr(buf *b, int *first, const char *k, const char *v)
{
    jkey(b, first, k);
    q(b, v);
}

static void jint(buf *b, int *first, const char *k, int64_t v)
{
    jkey(b, first, k);
    buf_json_i64(b, v);
}

static void jnum(buf *b, int *first, const char *k, double v)
{
    jkey(b, first, k);
    if (v == v && v - v == 0)
        buf_printf(b, "%.17g", v);
    else
        buf_puts(b, "null");
}

static void jbool(buf *b, int *first, const char *k, int v)
{
    jkey(b, first, k);
    buf_puts(b, v ? "true" : "false");
}

static void jloc(buf *b, int *first, src_loc loc)
{
    buf lb = BUF_INIT;
    loc_text(&lb, loc);
    jstr(b, first, "loc", lb.data ? lb.data : "");
    buf_free(&lb);
}

static void jlist(buf *b, int *first, const char *k, const char *const *v, int n)
{
    jkey(b, first, k);
    if (!v && !n) {
        buf_puts(b, "null");
        return;
    }
    buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        q(b, v[i]);
    }
    buf_putc(b, ']');
}

/* raw JSON text (already valid) */
static void jraw(buf *b, int *first, const char *k, const char *json)
{
    jkey(b, first, k);
    buf_puts(b, json ? json : "null");
}

static void jtpl(buf *b, int *first, const char *k, const plan_tpl *t)
{
    static const char *const kinds[] = {
        [PLAN_TPL_LIT] = "lit", [PLAN_TPL_COL] = "col", [PLAN_TPL_VAR] = "var",
        [PLAN_TPL_PK] = "pk", [PLAN_TPL_REL] = "rel"};
    _Static_assert(sizeof kinds / sizeof *kinds == PLAN_TPL_REL + 1, "a name per template part kind");
    jkey(b, first, k);
    if (!t) {
        buf_puts(b, "null");
        return;
    }
    int f = 1;
    buf_putc(b, '{');
    jstr(b, &f, "source", t->source);
    jkey(b, &f, "parts");
    buf_putc(b, '[');
    for (int i = 0; i < t->nparts; i++) {
        int g = 1;
        buf_puts(b, i ? ",{" : "{");
        jstr(b, &g, "kind", kinds[t->parts[i].kind]);
        if (t->parts[i].text) jstr(b, &g, "text", t->parts[i].text);
        if (t->parts[i].kind == PLAN_TPL_REL) jint(b, &g, "relation", t->parts[i].rel);
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
}

static void doc_json(buf *b, const plan_doc *doc);

static void doc_json(buf *b, const plan_doc *doc)
{
    int f = 1;
    buf_putc(b, '{');
    jkey(b, &f, "ops");
    buf_putc(b, '[');
    for (int i = 0; i < doc->nops; i++) {
        const plan_op *o = &doc->ops[i];
        int g = 1;
        buf_puts(b, i ? ",{" : "{");
        jstr(b, &g, "op", plan_op_names[o->op]);
        buf lb = BUF_INIT;
        op_args(&lb, o);
        jstr(b, &g, "args", lb.data ? lb.data + (lb.data[0] == ' ') : "");
        buf_free(&lb);
        if (o->s && o->op != PLAN_OP_COPY_COLUMNS) jstr(b, &g, "s", o->s);
        if (o->op == PLAN_OP_COPY_COLUMNS || o->op == PLAN_OP_REGEX_EXTRACT ||
            o->op == PLAN_OP_TRUNCATE || o->op == PLAN_OP_RELATION)
            jint(b, &g, "n", o->n);
        if (o->tpl) jtpl(b, &g, "tpl", o->tpl);
        if (o->pattern) jstr(b, &g, "pattern", o->pattern);
        if (o->op == PLAN_OP_COPY_COLUMNS) {
            jlist(b, &g, "names", o->names, o->nnames);
            if (o->s) jstr(b, &g, "prefix", o->s);
        }
        jloc(b, &g, o->loc);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
    jkey(b, &f, "relations");
    buf_putc(b, '[');
    for (int i = 0; i < doc->nrelations; i++) {
        const plan_relation *r = &doc->relations[i];
        int g = 1;
        buf_puts(b, i ? ",{" : "{");
        jstr(b, &g, "key", r->key);
        jstr(b, &g, "table", r->table);
        jstr(b, &g, "schema", r->schema);
        jlist(b, &g, "child_cols", r->child_cols, r->non);
        jlist(b, &g, "parent_cols", r->parent_cols, r->non);
        if (r->through) {
            jstr(b, &g, "through", r->through);
            jlist(b, &g, "join_child_cols", r->join_child_cols, r->njoin);
            jlist(b, &g, "join_link_cols", r->join_link_cols, r->njoin);
        }
        jbool(b, &g, "one", r->one);
        jlist(b, &g, "order_by", r->order_by, r->norder_by);
        jstr(b, &g, "where", r->where_sql);
        jstr(b, &g, "read", r->merge ? "merge" : "batch");
        jkey(b, &g, "doc");
        doc_json(b, &r->doc);
        jloc(b, &g, r->loc);
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
}

static void table_json(buf *b, const plan_connector *c, const plan_table *t, plan_sql_fn sql)
{
    int f = 1;
    arena *a = arena_new();
    plan_sql_text x = sql_of(c, t, sql, a);
    buf_putc(b, '{');
    jstr(b, &f, "name", t->name);
    jbool(b, &f, "glob", t->is_glob);
    jbool(b, &f, "default", t->is_default);
    jbool(b, &f, "connectors_compat", t->connectors_compat);
    jstr(b, &f, "schema", t->schema);
    jtpl(b, &f, "index", t->index);
    jtpl(b, &f, "id", t->id);
    jlist(b, &f, "key_columns", t->key_columns, t->nkeys);
    jstr(b, &f, "sql_from", x.from);
    jstr(b, &f, "custom_query", t->custom_query);
    jstr(b, &f, "where", x.where);
    jlist(b, &f, "params", x.params, x.nparams);
    jstr(b, &f, "pushdown", x.pushdown);
    arena_free(a);
    jkey(b, &f, "doc");
    doc_json(b, &t->doc);
    jkey(b, &f, "rules");
    buf_putc(b, '[');
    for (int i = 0; i < t->nrules; i++) {
        const plan_rule *r = &t->rules[i];
        int g = 1;
        buf_puts(b, i ? ",{" : "{");
        jstr(b, &g, "id", r->id);
        jstr(b, &g, "field", r->field);
        jstr(b, &g, "rule", rule_names[r->rule]);
        jstr(b, &g, "value", r->value);
        jstr(b, &g, "policy", r->include ? "include" : "exclude");
        jint(b, &g, "order", r->order);
        jbool(b, &g, "pushed_down", r->pushed_down);
        jloc(b, &g, r->loc);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
    jlist(b, &f, "cursor", t->cursor, t->ncursor);
    jint(b, &f, "lag_ms", t->lag_ms);
    jstr(b, &f, "deleted_when", t->deleted_when);
    jkey(b, &f, "fields");
    buf_putc(b, '[');
    for (int i = 0; i < t->nfields; i++) {
        int g = 1;
        buf_puts(b, i ? ",{" : "{");
        jstr(b, &g, "path", t->fields[i].path);
        jstr(b, &g, "type", t->fields[i].es_type);
        jstr(b, &g, "scaling_factor", t->fields[i].scaling_factor);
        jloc(b, &g, t->fields[i].loc);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
    jraw(b, &f, "index_mappings", t->index_mappings_json);
    jraw(b, &f, "index_settings", t->index_settings_json);
    jbool(b, &f, "omit_nulls", t->omit_nulls);
    jloc(b, &f, t->loc);
    buf_putc(b, '}');
}

static void plan_json(const plan *p, buf *b, const char *filter, plan_sql_fn sql)
{
    const plan_es *e = &p->es;
    const plan_service *s = &p->service;
    int f = 1, g = 1;
    buf_putc(b, '{');
    jstr(b, &f, "file", p->file);
    jkey(b, &f, "elasticsearch");
    buf_putc(b, '{');
    char tmp[4096];
    jstr(b, &g, "host", url(tmp, e->host));
    jstr(b, &g, "api_key", secret(e->api_key));
    jstr(b, &g, "username", e->username);
    jstr(b, &g, "password", secret(e->password));
    jbool(b, &g, "ssl", e->ssl);
    jbool(b, &g, "verify_certs", e->verify_certs);
    jstr(b, &g, "ca_certs", e->ca_certs);
    jbool(b, &g, "gzip", e->gzip);
    jbool(b, &g, "retry_on_timeout", e->retry_on_timeout);
    jnum(b, &g, "request_timeout", e->request_timeout);
    jnum(b, &g, "max_wait_duration", e->max_wait_duration);
    jnum(b, &g, "initial_backoff_duration", e->initial_backoff_duration);
    jnum(b, &g, "backoff_multiplier", e->backoff_multiplier);
    jint(b, &g, "max_retries", e->max_retries);
    jnum(b, &g, "retry_interval", e->retry_interval);
    jkey(b, &g, "headers");
    buf_putc(b, '[');
    for (int i = 0; i < e->nheaders; i++) {
        const char *c = strchr(e->headers[i], ':');
        if (i) buf_putc(b, ',');
        buf_json_str(b, e->headers[i], c ? (size_t)(c - e->headers[i]) : 0, NULL);
    }
    buf_putc(b, ']');
    jkey(b, &g, "bulk");
    int h = 1;
    buf_putc(b, '{');
    jint(b, &h, "queue_max_size", e->queue_max_size);
    jnum(b, &h, "queue_max_mem_size", e->queue_max_mem_size);
    jint(b, &h, "display_every", e->display_every);
    jint(b, &h, "chunk_size", e->chunk_size);
    jnum(b, &h, "chunk_max_mem_size", e->chunk_max_mem_size);
    jint(b, &h, "max_concurrency", e->max_concurrency);
    jint(b, &h, "max_retries", e->bulk_max_retries);
    jnum(b, &h, "retry_interval", e->bulk_retry_interval);
    jstr(b, &h, "dead_letter_file", e->dead_letter_file);
    buf_puts(b, "}}");
    jkey(b, &f, "service");
    g = 1;
    buf_putc(b, '{');
    jnum(b, &g, "idling", s->idling);
    jnum(b, &g, "heartbeat", s->heartbeat);
    jint(b, &g, "max_errors", s->max_errors);
    jnum(b, &g, "max_errors_span", s->max_errors_span);
    jint(b, &g, "max_concurrent_content_syncs", s->max_concurrent_content_syncs);
    jint(b, &g, "max_concurrent_access_control_syncs", s->max_concurrent_access_control_syncs);
    jnum(b, &g, "job_cleanup_interval", s->job_cleanup_interval);
    jint(b, &g, "preflight_max_attempts", s->preflight_max_attempts);
    jnum(b, &g, "preflight_idle", s->preflight_idle);
    jstr(b, &g, "log_level", s->log_level);
    jnum(b, &g, "job_takeover_after", s->job_takeover_after);
    buf_putc(b, '}');
    jkey(b, &f, "connectors");
    buf_putc(b, '[');
    for (int i = 0; i < p->nconnectors; i++) {
        const plan_connector *c = &p->connectors[i];
        const src_config *sc = &c->source;
        g = 1;
        buf_puts(b, i ? ",{" : "{");
        jstr(b, &g, "connector_id", c->id);
        jstr(b, &g, "service_type", c->service_type);
        jstr(b, &g, "index_name", c->index_name);
        jstr(b, &g, "pipeline", c->pipeline);
        jstr(b, &g, "api_key", secret(c->api_key));
        jstr(b, &g, "state_file", c->state_file);
        jint(b, &g, "max_concurrent_tables", c->max_concurrent_tables);
        jkey(b, &g, "follow");
        h = 1;
        buf_putc(b, '{');
        jnum(b, &h, "interval", c->follow_interval);
        jstr(b, &h, "replication_slot", c->slot);
        jstr(b, &h, "publication", c->publication);
        jbool(b, &h, "own_publication", c->own_publication);
        if (c->serve_follow) jbool(b, &h, "serve", 1);
        buf_putc(b, '}');
        jkey(b, &g, "source");
        h = 1;
        buf_putc(b, '{');
        jstr(b, &h, "host", url(tmp, sc->host));
        jint(b, &h, "port", sc->port);
        jstr(b, &h, "username", sc->username);
        jstr(b, &h, "password", secret(sc->password));
        jstr(b, &h, "database", sc->database);
        jstr(b, &h, "schema", sc->schema);
        jstr(b, &h, "path", sc->path);
        jint(b, &h, "fetch_size", sc->fetch_size);
        jint(b, &h, "retry_count", sc->retry_count);
        jint(b, &h, "connect_timeout", sc->connect_timeout);
        jbool(b, &h, "ssl_enabled", sc->ssl_enabled);
        jbool(b, &h, "ssl_ca", sc->ssl_ca != NULL);
        jbool(b, &h, "unset", c->source_unset);
        buf_putc(b, '}');
        jbool(b, &g, "all_tables", c->all_tables);
        jbool(b, &g, "advanced", c->advanced);
        jlist(b, &g, "tables_selected", c->selection, c->nselection);
        jkey(b, &g, "tables");
        buf_putc(b, '[');
        int n = 0;
        for (int j = 0; j < c->ntables; j++) {
            if (filter && strcmp(filter, c->tables[j].name)) continue;
            if (n++) buf_putc(b, ',');
            table_json(b, c, &c->tables[j], sql);
        }
        buf_putc(b, ']');
        jloc(b, &g, c->loc);
        buf_putc(b, '}');
    }
    buf_puts(b, "]}\n");
}

int plan_print(const plan *p, FILE *out, plan_format fmt, const char *table_filter,
               plan_sql_fn sql)
{
    if (!p) return 0;
    buf b = BUF_INIT;
    if (fmt == PLAN_FMT_JSON)
        plan_json(p, &b, table_filter, sql);
    else
        plan_text(p, &b, table_filter, sql);
    if (b.data) fwrite(b.data, 1, b.len, out);
    buf_free(&b);
    return 0;
}
