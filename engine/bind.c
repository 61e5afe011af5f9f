/* bind.c - binding a plan_table to a described table; see bind.h.
 *
 * Engine stage between the plan and the row loop: names -> column indexes,
 * pre-escaped member keys, rendered index and action lines, scan SQL, the
 * derived index mapping (merged with the user's through base/json.h).
 * Not here: executing programs (interp.c), reading rows, HTTP.
 */
#include "engine/bind.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/interp.h"
#include "engine/sql.h"

/* -------------------------------------------------------------- binding */

typedef struct bctx {
    arena *a;
    const plan_connector *conn;
    const plan_table *pt;
    const eng_bind_opts *opts;
    const src_driver *drv;
    eng_bound_table *bt;
    diag *d;
    int errors;
    int nrel;
    buf tmp;
} bctx;

static src_loc loc_or(src_loc l, src_loc fallback) { return l.line ? l : fallback; }

static const char *conn_id(const bctx *c) { return c->conn && c->conn->id ? c->conn->id : "?"; }

static int find_col(const src_table *st, const char *name)
{
    for (int i = 0; i < st->ncols; i++)
        if (strcmp(st->cols[i].name, name) == 0) return i;
    int found = -1;
    for (int i = 0; i < st->ncols; i++)
        if (strcasecmp(st->cols[i].name, name) == 0) {
            if (found >= 0) return -1; /* ambiguous */
            found = i;
        }
    return found;
}

static int need_col(bctx *c, const src_table *st, const char *name, src_loc loc)
{
    int i = name ? find_col(st, name) : -1;
    if (i >= 0) return i;
    c->errors++;
    diag_error(c->d, loc, "connector '%s': table '%s' has no column '%s'", conn_id(c), st->name,
               name ? name : "(null)");
    const char **cands = arena_alloc(c->a, sizeof *cands * ((size_t)st->ncols + 1));
    for (int k = 0; k < st->ncols; k++) cands[k] = st->cols[k].name;
    const char *s = name ? diag_suggest(name, cands) : NULL;
    if (s) diag_hint(c->d, "did you mean '%s'?", s);
    return -1;
}

static int var_code(const char *name)
{
    static const char *const names[ENG_VAR__COUNT] = {"table", "schema", "database",
                                                      "connector", "id", "timestamp"};
    if (!name) return -1;
    if (name[0] == '$') name++;
    for (int i = 0; i < ENG_VAR__COUNT; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

static int bind_tpl(bctx *c, const src_table *st, const plan_tpl *t, eng_btpl *out, src_loc loc,
                    int vars_only)
{
    out->tpl = t;
    if (!t) return 0;
    out->col = arena_alloc(c->a, sizeof(int) * ((size_t)t->nparts + 1));
    out->var = arena_alloc(c->a, sizeof(int) * ((size_t)t->nparts + 1));
    for (int i = 0; i < t->nparts; i++) {
        const plan_tpl_part *p = &t->parts[i];
        out->col[i] = out->var[i] = -1;
        if (p->kind == PLAN_TPL_COL) {
            if (vars_only) {
                c->errors++;
                diag_error(c->d, loc, "the index name can only use plan variables, not column '%s'",
                           p->text);
                continue;
            }
            out->col[i] = need_col(c, st, p->text, loc);
        } else if (p->kind == PLAN_TPL_VAR) {
            out->var[i] = var_code(p->text);
            if (out->var[i] < 0 || (vars_only && out->var[i] == ENG_VAR_ID)) {
                c->errors++;
                diag_error(c->d, loc, "unknown template variable '%s'", p->text);
            }
        } else if (p->kind == PLAN_TPL_REL && vars_only) {
            c->errors++;
            diag_error(c->d, loc, "the index name can only use plan variables, not '%s'", p->text);
        } else if (p->kind == PLAN_TPL_PK && vars_only) {
            c->errors++;
            diag_error(c->d, loc, "the index name cannot use the primary key");
        }
    }
    return 0;
}

/* Render a template of plan variables only (index, prefix). */
static char *render_vars(bctx *c, const eng_btpl *bt, const char *const *vars)
{
    buf b = BUF_INIT;
    for (int i = 0; i < bt->tpl->nparts; i++) {
        const plan_tpl_part *p = &bt->tpl->parts[i];
        if (p->kind == PLAN_TPL_LIT) buf_puts(&b, p->text);
        else if (p->kind == PLAN_TPL_VAR && bt->var[i] >= 0 && vars[bt->var[i]])
            buf_puts(&b, vars[bt->var[i]]);
    }
    char *s = arena_strndup(c->a, b.data ? b.data : "", b.len);
    buf_free(&b);
    return s;
}

/* Expand "{{ $var }}" in a plain string (COPY_COLUMNS prefix). */
static char *expand_vars(bctx *c, const char *s, const char *const *vars, src_loc loc)
{
    if (!s) return arena_strdup(c->a, "");
    if (!strstr(s, "{{")) return (char *)s;
    buf b = BUF_INIT;
    while (*s) {
        const char *o = strstr(s, "{{");
        if (!o) {
            buf_puts(&b, s);
            break;
        }
        buf_append(&b, s, (size_t)(o - s));
        const char *e = strstr(o, "}}");
        if (!e) {
            buf_puts(&b, o);
            break;
        }
        const char *n = o + 2;
        while (n < e && *n == ' ') n++;
        const char *ne = e;
        while (ne > n && ne[-1] == ' ') ne--;
        char *name = arena_strndup(c->a, n, (size_t)(ne - n));
        int v = var_code(name);
        if (v < 0 || v == ENG_VAR_ID) {
            c->errors++;
            diag_error(c->d, loc, "unknown variable '%s' in column prefix", name);
        } else if (vars[v]) {
            buf_puts(&b, vars[v]);
        }
        s = e + 2;
    }
    char *r = arena_strndup(c->a, b.data ? b.data : "", b.len);
    buf_free(&b);
    return r;
}

/* A copy of b's text in the arena; an error of the binding when b could
 * not grow (an allocation failed: the text is incomplete). */
static char *keep_text(bctx *c, const buf *b)
{
    if (b->failed) {
        c->errors++;
        diag_error(c->d, c->pt->loc, "out of memory binding table '%s'", c->pt->name);
    }
    return arena_strndup(c->a, b->data ? b->data : "", b->len);
}

/* "\"key\":" */
static const char *esc_key(bctx *c, const char *key, size_t *len)
{
    buf_reset(&c->tmp);
    buf_json_str(&c->tmp, key ? key : "", key ? strlen(key) : 0, NULL);
    buf_putc(&c->tmp, ':');
    *len = c->tmp.len;
    return keep_text(c, &c->tmp);
}

static src_value decode_literal(bctx *c, const char *s)
{
    src_value v = {SRC_NULL, NULL, 0};
    if (!s) return v;
    json *j = NULL;
    if (!json_parse(c->a, s, strlen(s), &j)) {
        v.kind = SRC_STRING; /* not JSON: the text itself */
        v.p = s;
        v.n = strlen(s);
        return v;
    }
    switch (j->kind) {
    case JSON_NULL: break;
    case JSON_BOOL:
        v.kind = SRC_BOOL;
        v.p = j->raw[0] == 't' ? "true" : "false";
        v.n = strlen(v.p);
        break;
    case JSON_NUMBER: v.kind = SRC_NUMBER; v.p = j->raw; v.n = j->rawlen; break;
    case JSON_STRING: v.kind = SRC_STRING; v.p = j->str; v.n = j->len; break;
    default: v.kind = SRC_JSON; v.p = j->raw; v.n = j->rawlen; break;
    }
    return v;
}

static void ascii_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

static int bind_doc(bctx *c, eng_bound_doc *bd, const plan_doc *doc, const src_table *st);

static int is_glob(const char *s) { return strpbrk(s, "*?[") != NULL; }

/* Mark the columns a name (or a glob: fnmatch, case-insensitive) selects.
 * Returns how many matched. */
static int mark_cols(const src_table *st, const char *name, char *sel, char v)
{
    if (!is_glob(name)) {
        int k = find_col(st, name);
        if (k >= 0) sel[k] = v;
        return k >= 0;
    }
    int n = 0;
    for (int i = 0; i < st->ncols; i++)
        if (fnmatch(name, st->cols[i].name, FNM_CASEFOLD) == 0) {
            sel[i] = v;
            n++;
        }
    return n;
}

static void bind_copy(bctx *c, eng_bop *b, const plan_op *op, const src_table *st,
                      const char *const *vars)
{
    int mode = op->n & 0xF, lower = (op->n & PLAN_COPY_LOWER) != 0;
    src_loc loc = loc_or(op->loc, c->pt->loc);
    char *sel = arena_alloc(c->a, (size_t)st->ncols + 1);
    if (mode == PLAN_COPY_INCLUDE) {
        /* a listed name must exist; a glob may match nothing */
        for (int i = 0; i < op->nnames; i++)
            if (!mark_cols(st, op->names[i], sel, 1) && !is_glob(op->names[i]))
                need_col(c, st, op->names[i], loc);
    } else {
        memset(sel, 1, (size_t)st->ncols);
        for (int i = 0; i < op->nnames; i++) /* excluding a missing column is fine */
            mark_cols(st, op->names[i], sel, 0);
    }
    const char *prefix = "";
    if (op->tpl) {
        eng_btpl pt = {0};
        bind_tpl(c, st, op->tpl, &pt, loc, 1);
        if (!c->errors) prefix = render_vars(c, &pt, vars);
    } else if (op->s) {
        prefix = expand_vars(c, op->s, vars, loc);
    }
    int n = 0;
    for (int i = 0; i < st->ncols; i++) n += sel[i];
    b->ccols = arena_alloc(c->a, sizeof(int) * ((size_t)n + 1));
    b->ckeys = arena_alloc(c->a, sizeof(char *) * ((size_t)n + 1));
    b->ckeylens = arena_alloc(c->a, sizeof(size_t) * ((size_t)n + 1));
    b->nccols = 0;
    for (int i = 0; i < st->ncols; i++) {
        if (!sel[i]) continue;
        char *name = arena_printf(c->a, "%s%s", prefix, st->cols[i].name);
        if (lower) ascii_lower(name);
        b->ccols[b->nccols] = i;
        b->ckeys[b->nccols] = esc_key(c, name, &b->ckeylens[b->nccols]);
        /* two columns that become one field (names differing only by case,
         * lower-cased as the connectors do): every document would repeat the
         * key, and Elasticsearch rejects a duplicate field */
        for (int k = 0; lower && k < b->nccols; k++) {
            if (b->ckeylens[k] != b->ckeylens[b->nccols] ||
                memcmp(b->ckeys[k], b->ckeys[b->nccols], b->ckeylens[k]) != 0)
                continue;
            c->errors++;
            diag_error(c->d, loc,
                       "connector '%s': table '%s': columns '%s' and '%s' both become field '%s' "
                       "(field names are lower-cased, as the connectors do)",
                       conn_id(c), st->name, st->cols[b->ccols[k]].name, st->cols[i].name, name);
            diag_hint(c->d, "leave one out with `columns: { exclude: [...] }` in the table's mapping");
            break;
        }
        b->nccols++;
    }
}

/* Mark the child columns a bound program reads: loaded columns, template
 * columns (the whole key for a {{ $pk }} part), copied columns, and the `on`
 * columns of its nested relations. The child query selects only these. */
static void mark_tpl_cols(const eng_btpl *t, const eng_bound_doc *bd, char *used)
{
    if (!t->tpl) return;
    for (int i = 0; i < t->tpl->nparts; i++) {
        if (t->tpl->parts[i].kind == PLAN_TPL_REL) continue; /* a column of the relation's table */
        if (t->col && t->col[i] >= 0) used[t->col[i]] = 1;
        if (t->tpl->parts[i].kind == PLAN_TPL_PK)
            for (int k = 0; k < bd->nkeys; k++) used[bd->keys[k]] = 1;
    }
}

static void mark_used_cols(const eng_bound_doc *bd, char *used)
{
    for (int i = 0; i < bd->doc->nops; i++) {
        const eng_bop *b = &bd->ops[i];
        switch (bd->doc->ops[i].op) {
        case PLAN_OP_LOAD_COL:
            if (b->col >= 0) used[b->col] = 1;
            break;
        case PLAN_OP_LOAD_TPL: mark_tpl_cols(&b->tpl, bd, used); break;
        case PLAN_OP_COPY_COLUMNS:
            for (int k = 0; k < b->nccols; k++) used[b->ccols[k]] = 1;
            break;
        default: break;
        }
    }
    for (int r = 0; r < bd->doc->nrelations; r++) {
        const eng_bound_relation *nr = &bd->rels[r];
        if (!nr->parent_on) continue;
        for (int k = 0; k < nr->rel->non; k++)
            if (nr->parent_on[k] >= 0) used[nr->parent_on[k]] = 1;
    }
}

/* Many-to-many: describe the link table and check both joins' columns. */
static int bind_link(bctx *c, eng_bound_relation *br, const plan_relation *rel)
{
    plan_relation lr = {0};
    lr.key = rel->key;
    lr.table = rel->through;
    lr.schema = rel->schema;
    lr.loc = rel->loc;
    const src_table *link = NULL;
    int rc = c->opts->describe(c->opts->describe_ctx, &lr, &link, c->d);
    if (rc < 0 || !link) {
        c->errors++;
        return rc < 0 ? rc : DIAG_ENOTFOUND;
    }
    br->link = link;
    br->nextra = rel->non;
    for (int i = 0; i < rel->non; i++) {
        need_col(c, link, rel->child_cols[i], rel->loc);
        br->child_on[i] = br->child->ncols + i;
    }
    for (int j = 0; j < rel->njoin; j++) {
        need_col(c, br->child, rel->join_child_cols[j], rel->loc);
        need_col(c, link, rel->join_link_cols[j], rel->loc);
    }
    return c->errors ? DIAG_EINVAL : 0;
}

/* The columns of the child table that templates of the parent document
 * read through this relation ({{ rel.column }}). */
static void mark_rel_refs(const eng_bound_doc *parent, int ri, const src_table *child, char *used)
{
    const plan_doc *doc = parent->doc;
    for (int i = 0; i < doc->nops; i++) {
        const plan_tpl *t = doc->ops[i].op == PLAN_OP_LOAD_TPL ? doc->ops[i].tpl : NULL;
        for (int k = 0; t && k < t->nparts; k++) {
            if (t->parts[k].kind != PLAN_TPL_REL || t->parts[k].rel != ri) continue;
            int col = find_col(child, t->parts[k].text);
            if (col >= 0) used[col] = 1;
        }
    }
}

/* Integer columns order the same way in every database and in
 * eng_child_set_cmp: the only ones a merge compares. */
static int integer_col(const src_column *col)
{
    static const char *const ints[] = {"long", "integer", "short", "byte", "unsigned_long"};
    for (size_t i = 0; col->es_type && i < sizeof ints / sizeof ints[0]; i++)
        if (!strcmp(col->es_type, ints[i])) return 1;
    return 0;
}

/* Whether br can be read by merge (see eng_bound_relation.merge). */
static void bind_merge(bctx *c, eng_bound_relation *br, const eng_bound_doc *parent)
{
    const plan_relation *rel = br->rel;
    if (!rel->merge || br->link) return;
    if (rel->non > parent->nkeys) {
        br->merge_why = "its parent columns are not the table's leading key columns";
        return;
    }
    for (int i = 0; i < rel->non; i++) {
        if (br->parent_on[i] < 0 || br->child_on[i] < 0) return;
        if (br->parent_on[i] != parent->keys[i]) {
            br->merge_why = "its parent columns are not the table's leading key columns";
            return;
        }
        if (!integer_col(&parent->st->cols[br->parent_on[i]]) ||
            !integer_col(&br->child->cols[br->child_on[i]])) {
            br->merge_why = "its `on` columns are not integer columns on both sides";
            return;
        }
    }
    br->merge_pos = arena_alloc(c->a, sizeof(int) * ((size_t)rel->non + 1));
    for (int i = 0; i < rel->non; i++) {
        br->merge_pos[i] = -1;
        for (int j = 0; j < br->nsel; j++)
            if (br->sel[j] == br->child_on[i]) br->merge_pos[i] = j;
        if (br->merge_pos[i] < 0) return; /* always selected: not reached */
    }
    br->merge = 1;
}

static int bind_relation(bctx *c, eng_bound_relation *br, const plan_relation *rel,
                         const eng_bound_doc *parent)
{
    br->rel = rel;
    br->slot = c->nrel++;
    br->driver = c->drv;
    if (!c->opts || !c->opts->describe) {
        c->errors++;
        diag_error(c->d, rel->loc, "connector '%s': relation '%s' needs the child table '%s' described",
                   conn_id(c), rel->key, rel->table);
        return DIAG_EINVAL;
    }
    const src_table *child = NULL;
    int rc = c->opts->describe(c->opts->describe_ctx, rel, &child, c->d);
    if (rc < 0 || !child) {
        c->errors++;
        return rc < 0 ? rc : DIAG_ENOTFOUND;
    }
    br->child = child;
    br->child_on = arena_alloc(c->a, sizeof(int) * ((size_t)rel->non + 1));
    br->parent_on = arena_alloc(c->a, sizeof(int) * ((size_t)rel->non + 1));
    for (int i = 0; i < rel->non; i++) {
        const char *cc = rel->child_cols[i], *pcol = rel->parent_cols[i];
        if (!rel->through && (find_col(child, cc) < 0 || find_col(parent->st, pcol) < 0) &&
            find_col(parent->st, cc) >= 0 && find_col(child, pcol) >= 0) {
            /* { parent column: child column }: a side is missing where it is
             * written, and both exist the other way round */
            c->errors++;
            br->child_on[i] = br->parent_on[i] = -1;
            diag_error(c->d, rel->loc, "connector '%s': relation '%s': the sides of 'on' are swapped: "
                       "'%s' is a column of the parent table '%s', '%s' of the child table '%s'",
                       conn_id(c), rel->key, cc, parent->st->name, pcol, child->name);
            diag_hint(c->d, "write on: { %s: %s } (child column: parent column)", pcol, cc);
            continue;
        }
        if (!rel->through) br->child_on[i] = need_col(c, child, cc, rel->loc);
        br->parent_on[i] = need_col(c, parent->st, pcol, rel->loc);
    }
    if (rel->through && bind_link(c, br, rel) < 0) return DIAG_EINVAL;
    /* the child program's variables: its own table, the parent's others */
    for (int v = 0; v < ENG_VAR__COUNT; v++) br->doc.vars[v] = parent->vars[v];
    br->doc.vars[ENG_VAR_TABLE] = child->name;
    if (child->schema) br->doc.vars[ENG_VAR_SCHEMA] = child->schema;
    else if (rel->schema) br->doc.vars[ENG_VAR_SCHEMA] = rel->schema;
    br->doc.keys = child->pk;
    br->doc.nkeys = child->npk;
    if (bind_doc(c, &br->doc, &rel->doc, child) < 0) return DIAG_EINVAL;

    /* SQL pieces (engine/sql.c): only the columns the child program, the
     * parent's templates and the grouping use */
    char *used = arena_alloc(c->a, (size_t)child->ncols + 1);
    mark_used_cols(&br->doc, used);
    mark_rel_refs(parent, (int)(br - parent->rels), child, used);
    for (int i = 0; i < rel->non && !rel->through; i++)
        if (br->child_on[i] >= 0) used[br->child_on[i]] = 1;
    br->sel = arena_alloc(c->a, sizeof(int) * ((size_t)child->ncols + 1));
    const char *cols = eng_sql_columns(c->a, c->drv, child, used, br->sel, &br->nsel);
    const char *schema =
        child->schema ? child->schema : rel->schema ? rel->schema : parent->vars[ENG_VAR_SCHEMA];
    const char *from = eng_sql_qualified(c->a, c->drv, schema, child->name);
    const char **ocols = arena_alloc(c->a, sizeof(char *) * ((size_t)rel->norder_by + 1));
    const char **odirs = arena_alloc(c->a, sizeof(char *) * ((size_t)rel->norder_by + 1));
    char *olink = arena_alloc(c->a, (size_t)rel->norder_by + 1);
    int nord = 0;
    for (int i = 0; i < rel->norder_by; i++) {
        const char *ob = rel->order_by[i];
        const char *sp = strchr(ob, ' ');
        char *name = arena_strndup(c->a, ob, sp ? (size_t)(sp - ob) : strlen(ob));
        int col = find_col(child, name);
        if (col >= 0) {
            ocols[nord] = child->cols[col].name;
            odirs[nord++] = sp;
        } else if (br->link && (col = find_col(br->link, name)) >= 0) { /* a position... */
            ocols[nord] = br->link->cols[col].name;
            olink[nord] = 1;
            odirs[nord++] = sp;
        } else {
            c->errors++;
            diag_error(c->d, rel->loc, "connector '%s': relation '%s': table '%s' has no column '%s' (order_by)",
                       conn_id(c), rel->key, child->name, name);
        }
    }
    if (br->link)
        eng_sql_relation_through(c->a, c->drv, rel, child, br->sel, br->nsel, from, br->link,
                                 eng_sql_qualified(c->a, c->drv,
                                                   br->link->schema ? br->link->schema : schema,
                                                   br->link->name),
                                 ocols, odirs, olink, nord, &br->select_head, &br->select_tail);
    else
        eng_sql_relation(c->a, c->drv, rel, cols, from, ocols, odirs, nord, &br->select_head,
                         &br->select_tail);
    bind_merge(c, br, parent);
    return 0;
}

static int bind_doc(bctx *c, eng_bound_doc *bd, const plan_doc *doc, const src_table *st)
{
    bd->doc = doc;
    bd->st = st;
    bd->ops = arena_alloc(c->a, sizeof(eng_bop) * ((size_t)doc->nops + 1));
    for (int i = 0; i < doc->nops; i++) {
        const plan_op *op = &doc->ops[i];
        eng_bop *b = &bd->ops[i];
        src_loc loc = loc_or(op->loc, c->pt->loc);
        b->col = b->var = b->rslot = -1;
        switch (op->op) {
        case PLAN_OP_LOAD_COL: b->col = need_col(c, st, op->s, loc); break;
        case PLAN_OP_LOAD_TPL: bind_tpl(c, st, op->tpl, &b->tpl, loc, 0); break;
        case PLAN_OP_LOAD_CONST:
        case PLAN_OP_DEFAULT: b->lit = decode_literal(c, op->s); break;
        case PLAN_OP_LOAD_VAR:
            b->var = var_code(op->s);
            if (b->var < 0) {
                c->errors++;
                diag_error(c->d, loc, "unknown variable '%s'", op->s ? op->s : "");
            }
            break;
        case PLAN_OP_REGEX_EXTRACT:
        case PLAN_OP_REGEX_REPLACE:
            if (!op->re) {
                c->errors++;
                diag_error(c->d, loc, "regex '%s' was not compiled", op->pattern ? op->pattern : "");
            }
            break;
        case PLAN_OP_EMIT:
        case PLAN_OP_OBJ_BEGIN: b->key = esc_key(c, op->s, &b->keylen); break;
        case PLAN_OP_RELATION:
            b->key = esc_key(c, op->s, &b->keylen);
            if (op->n < 0 || op->n >= doc->nrelations) {
                c->errors++;
                diag_error(c->d, loc, "relation index %d out of range", op->n);
            }
            break;
        case PLAN_OP_COPY_COLUMNS: bind_copy(c, b, op, st, bd->vars); break;
        default: break;
        }
    }
    bd->rels = arena_alloc(c->a, sizeof(eng_bound_relation) * ((size_t)doc->nrelations + 1));
    for (int i = 0; i < doc->nrelations; i++) bind_relation(c, &bd->rels[i], &doc->relations[i], bd);
    /* {{ rel.column }}: a column of the relation's table, known now */
    for (int i = 0; i < doc->nops; i++) {
        const plan_tpl *t = doc->ops[i].op == PLAN_OP_LOAD_TPL ? doc->ops[i].tpl : NULL;
        for (int k = 0; t && k < t->nparts; k++) {
            const plan_tpl_part *p = &t->parts[k];
            if (p->kind != PLAN_TPL_REL) continue;
            src_loc loc = loc_or(doc->ops[i].loc, c->pt->loc);
            if (p->rel < 0 || p->rel >= doc->nrelations || !doc->relations[p->rel].one) {
                c->errors++;
                diag_error(c->d, loc, "template '%s': no many-to-one relation for '%s'", t->source, p->text);
            } else if (bd->rels[p->rel].child) {
                bd->ops[i].tpl.col[k] = need_col(c, bd->rels[p->rel].child, p->text, loc);
            }
        }
    }
    return c->errors ? DIAG_EINVAL : 0;
}

static void collect_rel_slots(eng_bound_doc *bd, eng_bound_relation **by)
{
    for (int i = 0; i < bd->doc->nrelations; i++) {
        by[bd->rels[i].slot] = &bd->rels[i];
        collect_rel_slots(&bd->rels[i].doc, by);
    }
}

/* Rules name document fields by dotted path; find which EMIT (or copied
 * column) writes each at top level, and give each distinct field a slot. */
static void bind_rules(bctx *c, eng_bound_table *bt)
{
    const plan_table *pt = c->pt;
    bt->nrules = pt->nrules;
    bt->rule_slot = arena_alloc(c->a, sizeof(int) * ((size_t)pt->nrules + 1));
    for (int r = 0; r < pt->nrules; r++) bt->rule_slot[r] = -1;
    if (!pt->nrules) return;
    const plan_doc *doc = bt->doc.doc;
    const char *stack[64];
    int depth = 0;
    buf path = BUF_INIT;
    for (int i = 0; i < doc->nops; i++) {
        const plan_op *op = &doc->ops[i];
        eng_bop *b = &bt->doc.ops[i];
        if (op->op == PLAN_OP_OBJ_BEGIN) {
            if (depth < 64) stack[depth] = op->s;
            depth++;
            continue;
        }
        if (op->op == PLAN_OP_OBJ_END) {
            if (depth) depth--;
            continue;
        }
        if (op->op != PLAN_OP_EMIT && op->op != PLAN_OP_COPY_COLUMNS) continue;
        int nnames = op->op == PLAN_OP_EMIT ? 1 : b->nccols;
        for (int k = 0; k < nnames; k++) {
            buf_reset(&path);
            for (int s = 0; s < depth && s < 64; s++) {
                buf_puts(&path, stack[s]);
                buf_putc(&path, '.');
            }
            if (op->op == PLAN_OP_EMIT) {
                buf_puts(&path, op->s);
            } else {
                /* the copied name: unescape the pre-escaped key */
                json_unescape(b->ckeys[k], b->ckeylens[k] - 1, &path);
            }
            for (int r = 0; r < pt->nrules; r++) {
                if (!pt->rules[r].field || strcmp(pt->rules[r].field, path.data) != 0) continue;
                int slot = -1;
                for (int q = 0; q < r; q++)
                    if (bt->rule_slot[q] >= 0 && strcmp(pt->rules[q].field, pt->rules[r].field) == 0)
                        slot = bt->rule_slot[q];
                if (slot < 0) slot = bt->nslots++;
                bt->rule_slot[r] = slot;
                if (op->op == PLAN_OP_EMIT) {
                    b->rslot = slot;
                } else {
                    if (!b->crslot) {
                        b->crslot = arena_alloc(c->a, sizeof(int) * ((size_t)b->nccols + 1));
                        for (int q = 0; q < b->nccols; q++) b->crslot[q] = -1;
                    }
                    b->crslot[k] = slot;
                }
            }
        }
    }
    /* rules see the row's own fields: a rule on a relation's field never matches */
    for (int r = 0; r < pt->nrules; r++) {
        const char *f = pt->rules[r].field;
        if (bt->rule_slot[r] >= 0 || !f) continue;
        for (int k = 0; k < doc->nrelations; k++) {
            const char *key = doc->relations[k].key;
            size_t kl = key ? strlen(key) : 0;
            if (kl && strncmp(f, key, kl) == 0 && (f[kl] == '.' || f[kl] == 0)) {
                diag_warning(c->d, pt->rules[r].loc,
                             "connector '%s': table '%s': the rule on field '%s' never matches: "
                             "'%s' is a relation, and rules see only the table's own fields",
                             conn_id(c), bt->doc.st && bt->doc.st->name ? bt->doc.st->name : "?", f, key);
                break;
            }
        }
    }
    buf_free(&path);
}

int eng_bind_table(arena *a, const plan_connector *conn, const plan_table *pt,
                   const src_table *st, const eng_bind_opts *opts, eng_bound_table **out,
                   diag *d)
{
    bctx c = {0};
    c.a = a;
    c.conn = conn;
    c.pt = pt;
    c.opts = opts;
    c.d = d;
    c.drv = opts && opts->driver ? opts->driver : conn ? conn->driver : NULL;
    buf_init(&c.tmp, 0);
    if (!c.drv || !c.drv->quote_ident || !c.drv->placeholder) {
        diag_error(d, pt->loc, "connector '%s': no SQL dialect to bind table '%s'", conn_id(&c),
                   st->name);
        buf_free(&c.tmp);
        return DIAG_EINVAL;
    }
    eng_bound_table *bt = arena_alloc(a, sizeof *bt);
    c.bt = bt;
    bt->conn = conn;
    bt->pt = pt;
    bt->st = st;
    bt->driver = c.drv;
    bt->a = a;
    bt->deleted_col = -1;

    const char **vars = bt->doc.vars;
    vars[ENG_VAR_TABLE] = st->name;
    vars[ENG_VAR_SCHEMA] = opts && opts->schema ? opts->schema
                           : st->schema         ? st->schema
                           : pt->schema         ? pt->schema
                           : conn && conn->source.schema ? conn->source.schema
                                                         : "";
    vars[ENG_VAR_DATABASE] = opts && opts->database ? opts->database
                             : conn && conn->source.database ? conn->source.database
                             : conn && conn->source.path     ? conn->source.path
                                                             : "";
    vars[ENG_VAR_CONNECTOR] = conn && conn->id ? conn->id : "";
    vars[ENG_VAR_TIMESTAMP] = opts && opts->timestamp ? opts->timestamp : "";

    /* keys */
    if (pt->key_columns && pt->nkeys > 0) {
        bt->doc.keys = arena_alloc(a, sizeof(int) * (size_t)pt->nkeys);
        bt->doc.nkeys = pt->nkeys;
        for (int i = 0; i < pt->nkeys; i++)
            bt->doc.keys[i] = need_col(&c, st, pt->key_columns[i], pt->loc);
    } else {
        bt->doc.keys = st->pk;
        bt->doc.nkeys = st->npk;
    }
    bind_doc(&c, &bt->doc, &pt->doc, st);
    bind_tpl(&c, st, pt->id, &bt->id, pt->loc, 0);
    if (pt->id)
        for (int i = 0; i < pt->id->nparts; i++)
            if (bt->id.var[i] == ENG_VAR_ID) {
                c.errors++;
                diag_error(d, pt->loc, "the document id cannot use $id");
            }
    for (int r = 0; r < pt->nrules; r++)
        if (pt->rules[r].rule == PLAN_RULE_REGEX && !pt->rules[r].re) {
            c.errors++;
            diag_error(d, loc_or(pt->rules[r].loc, pt->loc), "rule regex was not compiled");
        }
    bt->ncursor = pt->cursor ? pt->ncursor : 0;
    bt->cursor = arena_alloc(a, sizeof(int) * ((size_t)bt->ncursor + 1));
    for (int i = 0; i < bt->ncursor; i++) bt->cursor[i] = need_col(&c, st, pt->cursor[i], pt->loc);

    /* index and action lines */
    if (pt->index) {
        eng_btpl it = {0};
        bind_tpl(&c, st, pt->index, &it, pt->loc, 1);
        if (!c.errors) bt->index = render_vars(&c, &it, vars);
    } else if (conn && conn->index_name) {
        bt->index = conn->index_name;
    }
    if (!c.errors && (!bt->index || !*bt->index)) {
        c.errors++;
        diag_error(d, pt->loc, "connector '%s': table '%s' has no target index", conn_id(&c),
                   st->name);
    }
    if (c.errors) goto fail;
    {
        char *ix = arena_strdup(a, bt->index);
        ascii_lower(ix); /* Elasticsearch index names are lower case */
        bt->index = ix;
        buf_reset(&c.tmp);
        buf_puts(&c.tmp, "{\"index\":{\"_index\":");
        buf_json_str(&c.tmp, ix, strlen(ix), NULL);
        buf_puts(&c.tmp, ",\"_id\":");
        bt->action_head = keep_text(&c, &c.tmp);
        buf_reset(&c.tmp);
        buf_puts(&c.tmp, "{\"delete\":{\"_index\":");
        buf_json_str(&c.tmp, ix, strlen(ix), NULL);
        buf_puts(&c.tmp, ",\"_id\":");
        bt->delete_head = keep_text(&c, &c.tmp);
        buf_reset(&c.tmp);
        if (conn && conn->pipeline && *conn->pipeline) {
            buf_puts(&c.tmp, ",\"pipeline\":");
            buf_json_str(&c.tmp, conn->pipeline, strlen(conn->pipeline), NULL);
        }
        buf_puts(&c.tmp, "}}\n");
        bt->action_tail = keep_text(&c, &c.tmp);
        bt->action_head_len = strlen(bt->action_head);
        bt->action_tail_len = strlen(bt->action_tail);
        bt->delete_head_len = strlen(bt->delete_head);
    }

    /* select list */
    bt->select_list = eng_sql_select_list(a, c.drv, st, pt->deleted_when);
    if (pt->deleted_when && *pt->deleted_when) bt->deleted_col = st->ncols;
    bt->nrel_slots = c.nrel;
    bt->rel_by_slot = arena_alloc(a, sizeof(eng_bound_relation *) * ((size_t)c.nrel + 1));
    collect_rel_slots(&bt->doc, bt->rel_by_slot);
    bind_rules(&c, bt);

    if (bt->doc.nkeys == 0) {
        diag_error(d, pt->loc, "connector '%s': table '%s' has no primary key and no id columns",
                   conn_id(&c), st->name);
        buf_free(&c.tmp);
        return DIAG_ENOTFOUND;
    }
    if (c.errors) goto fail; /* an allocation failed after the checks above */
    buf_free(&c.tmp);
    *out = bt;
    return 0;
fail:
    buf_free(&c.tmp);
    return DIAG_EINVAL;
}

int eng_key_values(const eng_bound_table *bt, const src_value *row, arena *a,
                   const char ***vals)
{
    const char **v = arena_alloc(a, sizeof(char *) * ((size_t)bt->doc.nkeys + 1));
    buf b = BUF_INIT;
    for (int i = 0; i < bt->doc.nkeys; i++) {
        const src_value *x = &row[bt->doc.keys[i]];
        if (x->kind == SRC_NULL) continue;
        buf_reset(&b);
        int rc = eng_value_text(x, &b);
        if (rc) {
            buf_free(&b);
            return rc;
        }
        v[i] = arena_strndup(a, b.data ? b.data : "", b.len);
    }
    buf_free(&b);
    *vals = v;
    return 0;
}

/* -------------------------------------------------------------- mapping */

static json *jmk(arena *a, json_kind k, const char *raw)
{
    json *j = arena_alloc(a, sizeof *j);
    j->kind = k;
    j->raw = raw;
    j->rawlen = raw ? strlen(raw) : 0;
    return j;
}

static json *jget(json *obj, const char *key)
{
    if (!obj || obj->kind != JSON_OBJECT) return NULL;
    for (json *m = obj->child; m; m = m->next)
        if (m->key && strcmp(m->key, key) == 0) return m;
    return NULL;
}

/* Set member key of obj to v (replacing in place). */
static void jset(arena *a, json *obj, const char *key, json *v)
{
    json **pp = &obj->child;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->key && strcmp((*pp)->key, key) == 0) {
            v->next = (*pp)->next;
            v->key = (*pp)->key;
            *pp = v;
            return;
        }
    v->key = arena_strdup(a, key);
    v->next = NULL;
    *pp = v;
}

/* obj[key] as an object, created when missing or not an object. */
static json *jobj_at(arena *a, json *obj, const char *key)
{
    json *m = jget(obj, key);
    if (m && m->kind == JSON_OBJECT) return m;
    m = jmk(a, JSON_OBJECT, NULL);
    jset(a, obj, key, m);
    return m;
}

/* The scaling factor of a scaled_float derived from a SQL type with a
 * scale ("numeric(10,4)" -> 10000), so no digit of the column is lost in
 * the index; 100 when the type carries no scale. */
static const char *scaling_for(arena *a, const char *sql_type)
{
    const char *p = sql_type ? strchr(sql_type, ',') : NULL;
    if (p) {
        char *end;
        long scale = strtol(p + 1, &end, 10);
        if (end != p + 1 && *end == ')' && scale >= 0 && scale <= 18) {
            buf f = BUF_INIT;
            buf_putc(&f, '1');
            for (long i = 0; i < scale; i++) buf_putc(&f, '0');
            char *r = arena_strdup(a, f.data);
            buf_free(&f);
            return r;
        }
    }
    return "100";
}

static json *type_def(arena *a, const char *es_type, const char *sql_type)
{
    if (!es_type || !*es_type || strcmp(es_type, "object") == 0) return NULL;
    json *t = jmk(a, JSON_OBJECT, NULL);
    jset(a, t, "type", jmk(a, JSON_STRING, arena_printf(a, "\"%s\"", es_type)));
    if (strcmp(es_type, "text") == 0) {
        json *kw = jobj_at(a, jobj_at(a, t, "fields"), "keyword");
        jset(a, kw, "type", jmk(a, JSON_STRING, "\"keyword\""));
        jset(a, kw, "ignore_above", jmk(a, JSON_NUMBER, "256"));
    } else if (strcmp(es_type, "scaled_float") == 0) {
        jset(a, t, "scaling_factor", jmk(a, JSON_NUMBER, scaling_for(a, sql_type)));
    }
    return t;
}

static int is_string_type(const char *t)
{
    return t && (strcmp(t, "text") == 0 || strcmp(t, "keyword") == 0);
}

static int is_number_type(const char *t)
{
    static const char *const nums[] = {"long", "integer", "short", "byte", "double", "float",
                                       "half_float", "scaled_float", "unsigned_long", NULL};
    for (int i = 0; t && nums[i]; i++)
        if (strcmp(t, nums[i]) == 0) return 1;
    return 0;
}

static void derive_doc(arena *a, const eng_bound_doc *bd, json *props)
{
    json *stack[64];
    int depth = 0;
    const char *reg = NULL, *reg_sql = NULL;
    const plan_doc *doc = bd->doc;
    for (int i = 0; i < doc->nops; i++) {
        const plan_op *op = &doc->ops[i];
        const eng_bop *b = &bd->ops[i];
        switch (op->op) {
        case PLAN_OP_LOAD_COL:
            reg = b->col >= 0 ? bd->st->cols[b->col].es_type : NULL;
            reg_sql = b->col >= 0 ? bd->st->cols[b->col].sql_type : NULL;
            break;
        case PLAN_OP_LOAD_TPL: reg = "text"; break;
        case PLAN_OP_LOAD_CONST: reg = NULL; break;
        case PLAN_OP_LOAD_VAR: reg = b->var == ENG_VAR_TIMESTAMP ? "date" : "keyword"; break;
        case PLAN_OP_TRIM:
        case PLAN_OP_LOWER:
        case PLAN_OP_UPPER:
        case PLAN_OP_REGEX_EXTRACT:
        case PLAN_OP_REGEX_REPLACE:
        case PLAN_OP_TRUNCATE:
            if (!is_string_type(reg)) reg = NULL;
            break;
        case PLAN_OP_SPLIT:
        case PLAN_OP_JOIN:
        case PLAN_OP_TO_STRING:
            if (!is_string_type(reg)) reg = "text";
            break;
        case PLAN_OP_TO_NUMBER:
            if (!is_number_type(reg)) reg = NULL;
            break;
        case PLAN_OP_TO_BOOL: reg = "boolean"; break;
        case PLAN_OP_PARSE_JSON: reg = NULL; break;
        case PLAN_OP_DEFAULT: break;
        case PLAN_OP_EMIT: {
            json *t = type_def(a, reg, reg_sql);
            if (t) jset(a, props, op->s, t);
            break;
        }
        case PLAN_OP_OBJ_BEGIN:
            if (depth < 64) stack[depth++] = props;
            props = jobj_at(a, jobj_at(a, props, op->s), "properties");
            break;
        case PLAN_OP_OBJ_END:
            if (depth) props = stack[--depth];
            break;
        case PLAN_OP_COPY_COLUMNS:
            for (int k = 0; k < b->nccols; k++) {
                const src_column *col = &bd->st->cols[b->ccols[k]];
                json *t = type_def(a, col->es_type, col->sql_type);
                if (!t) continue;
                buf nm = BUF_INIT;
                json_unescape(b->ckeys[k], b->ckeylens[k] - 1, &nm);
                jset(a, props, nm.data, t);
                buf_free(&nm);
            }
            break;
        case PLAN_OP_RELATION:
            if (op->n >= 0 && op->n < doc->nrelations) {
                json *sub = jobj_at(a, jobj_at(a, props, op->s), "properties");
                derive_doc(a, &bd->rels[op->n].doc, sub);
            }
            break;
        default: break;
        }
    }
}

static void merge(arena *a, json *dst, const json *src, int in_properties)
{
    for (json *m = src->child; m; m = m->next) {
        json *cur = jget(dst, m->key);
        json *copy = arena_alloc(a, sizeof *copy);
        *copy = *m;
        if (cur && cur->kind == JSON_OBJECT && m->kind == JSON_OBJECT &&
            !(in_properties && jget((json *)m, "type"))) {
            merge(a, cur, m, strcmp(m->key, "properties") == 0 && !in_properties);
        } else {
            jset(a, dst, m->key, copy);
        }
    }
}

static void jwrite(buf *out, const json *j)
{
    if (j->kind != JSON_OBJECT) {
        buf_append(out, j->raw, j->rawlen);
        return;
    }
    buf_putc(out, '{');
    for (const json *m = j->child; m; m = m->next) {
        if (m != j->child) buf_putc(out, ',');
        buf_json_str(out, m->key, strlen(m->key), NULL);
        buf_putc(out, ':');
        jwrite(out, m);
    }
    buf_putc(out, '}');
}

int eng_mapping_json(const eng_bound_table *bt, buf *out, diag *d)
{
    arena *a = arena_new();
    if (!a) return DIAG_ENOMEM;
    int rc = 0;
    json *root = jmk(a, JSON_OBJECT, NULL);
    json *props = jobj_at(a, root, "properties");
    derive_doc(a, &bt->doc, props);
    const plan_table *pt = bt->pt;
    for (int i = 0; i < pt->nfields; i++) {
        const plan_mapping_field *f = &pt->fields[i];
        if (!f->path || !f->es_type) continue;
        json *p = props;
        const char *s = f->path;
        for (;;) {
            const char *dot = strchr(s, '.');
            char *seg = arena_strndup(a, s, dot ? (size_t)(dot - s) : strlen(s));
            if (!dot) {
                json *cur = jget(p, seg);
                if (cur && cur->kind == JSON_OBJECT &&
                    (strcmp(f->es_type, "object") == 0 || strcmp(f->es_type, "nested") == 0)) {
                    jset(a, cur, "type", jmk(a, JSON_STRING, arena_printf(a, "\"%s\"", f->es_type)));
                } else {
                    json *t = jmk(a, JSON_OBJECT, NULL);
                    buf tb = BUF_INIT;
                    buf_json_str(&tb, f->es_type, strlen(f->es_type), NULL);
                    jset(a, t, "type", jmk(a, JSON_STRING, arena_strndup(a, tb.data, tb.len)));
                    buf_reset(&tb);
                    if (f->scaling_factor) {
                        const char *sf = f->scaling_factor;
                        if (json_is_number(sf, strlen(sf))) {
                            jset(a, t, "scaling_factor", jmk(a, JSON_NUMBER, sf));
                        } else {
                            buf_json_str(&tb, sf, strlen(sf), NULL);
                            jset(a, t, "scaling_factor",
                                 jmk(a, JSON_STRING, arena_strndup(a, tb.data, tb.len)));
                        }
                    } else if (strcmp(f->es_type, "scaled_float") == 0) {
                        jset(a, t, "scaling_factor", jmk(a, JSON_NUMBER, "100"));
                    }
                    buf_free(&tb);
                    jset(a, p, seg, t);
                }
                break;
            }
            p = jobj_at(a, jobj_at(a, p, seg), "properties");
            s = dot + 1;
        }
    }
    if (pt->index_mappings_json && *pt->index_mappings_json) {
        json *u = NULL;
        const char *s = pt->index_mappings_json;
        if (!json_parse(a, s, strlen(s), &u) || u->kind != JSON_OBJECT) {
            diag_error(d, pt->loc, "index_mappings of table '%s' is not a JSON object", bt->st->name);
            rc = DIAG_EINVAL;
            goto done;
        }
        json *mp = jget(u, "mappings");
        if (mp && mp->kind == JSON_OBJECT) u = mp;
        merge(a, root, u, 0);
    }
    jwrite(out, root);
    if (out->failed) rc = DIAG_ENOMEM;
done:
    arena_free(a);
    return rc;
}
