/* lower.c - lowers a checked configuration tree to a plan (plan/plan.h).
 *
 * Stage: checked dsl_node tree (dsl/check.c: defaults merged, aliases renamed,
 * one `connectors` list) -> plan. Expands `extends` templates, orders mapping
 * entries (exact names, globs in file order, a default entry), compiles field
 * programs, transforms (regexes compiled once), relations, sync rules (sorted,
 * push-down where the connector's dialect says it is provably identical).
 * It does not check key names or types (the checker did), never talks to a
 * database (columns, primary keys and glob expansion are bound by the engine)
 * and writes no SQL: the plan keeps the user's `where` and the rules, and
 * engine/sql.c renders them in the driver's dialect. Dialect facts (push-down
 * operators, connectors' document shapes) come from the driver table the
 * caller hands in; without one (validate only) nothing is pushed down.
 * Every string of the plan is copied into the plan arena.
 */
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/regex.h"
#include "dsl/dsl.h"
#include "dsl/schema.h"
#include "dsl/template.h"

typedef struct lw {
    arena *pa;   /* plan arena: everything kept */
    arena *tmp;  /* scratch: merged template trees */
    diag *d;
    const char *file;
    const dsl_node *templates;
    dsl_names *tnames;        /* template name -> index */
    const dsl_node **texp;    /* expanded templates (expand_template) */
    unsigned char *tstate;    /* 0 not yet, 1 being expanded, 2 done */
    const src_driver *const *drivers; /* the caller's driver table, NULL = none */
    /* current connector */
    const src_driver *drv;    /* NULL without a driver table */
    const char *conn_id;
} lw;

/* A field path known to hold a plain copy of a column (push-down candidates). */
typedef struct plain_col {
    const char *path;
    const char *column;
} plain_col;

/* A document program under construction. */
typedef struct prog {
    plan_op *ops;
    int nops, cap;
    plan_relation *rels;
    int nrels, relcap;
    plain_col *plain;
    int nplain, plaincap;
    plan_mapping_field *types;
    int ntypes, typecap;
} prog;

static void *grow(arena *a, void *p, size_t elt, int n, int *cap)
{
    if (n < *cap) return p;
    int nc = *cap ? *cap * 2 : 8;
    p = arena_realloc(a, p, elt * (size_t)*cap, elt * (size_t)nc);
    *cap = nc;
    return p;
}
#define PUSH(a, arr, n, cap) ((arr) = grow((a), (arr), sizeof *(arr), (n), &(cap)), &(arr)[(n)++])

/* ---- tree access ---------------------------------------------------------- */

static const dsl_node *get(const dsl_node *map, const char *key)
{
    const dsl_node *n = dsl_map_get(map, key);
    return (n && n->kind == DSL_NULL) ? NULL : n;
}

static const char *str_of(const dsl_node *n)
{
    return (n && n->kind == DSL_SCALAR) ? n->str : NULL;
}

static const char *sget(lw *w, const dsl_node *map, const char *key)
{
    const char *s = str_of(get(map, key));
    return s ? arena_strdup(w->pa, s) : NULL;
}

static int bget(const dsl_node *map, const char *key, int dflt)
{
    int v;
    const dsl_node *n = get(map, key);
    return (n && dsl_as_bool(n, &v) == 0) ? v : dflt;
}

static long long iget(const dsl_node *map, const char *key, long long dflt)
{
    long long v;
    const dsl_node *n = get(map, key);
    return (n && dsl_as_int(n, &v) == 0) ? v : dflt;
}

/* Durations: a number of seconds (the checker normalizes), or "250ms", "30s",
 * "5m", "1h", "1d" when the tree was not checked. */
static int as_seconds(const dsl_node *n, double *out)
{
    if (!n || n->kind != DSL_SCALAR) return -1;
    if (dsl_as_double(n, out) == 0) return 0;
    char *end = NULL;
    double v = strtod(n->str, &end);
    if (end == n->str) return -1;
    double mul = 1;
    if (!strcmp(end, "ms")) mul = 0.001;
    else if (!strcmp(end, "s")) mul = 1;
    else if (!strcmp(end, "m")) mul = 60;
    else if (!strcmp(end, "h")) mul = 3600;
    else if (!strcmp(end, "d")) mul = 86400;
    else return -1;
    *out = v * mul;
    return 0;
}

static double dget(const dsl_node *map, const char *key, double dflt)
{
    double v;
    return as_seconds(get(map, key), &v) == 0 ? v : dflt;
}

/* Locations point at the plan's copy of the file name. */
static src_loc L(lw *w, src_loc loc)
{
    if (loc.file && w->file && strcmp(loc.file, w->file) == 0)
        loc.file = w->file;
    else if (loc.file)
        loc.file = arena_strdup(w->pa, loc.file);
    return loc;
}

/* Location of byte off inside a scalar (one-line scalars only). */
static src_loc loc_in(const dsl_node *n, size_t off)
{
    src_loc loc = n->loc;
    if (n->str && !memchr(n->str, '\n', off < n->len ? off : n->len) && loc.col > 0)
        loc.col += (n->quoted ? 1 : 0) + (int)off;
    return loc;
}

/* A list of strings: a scalar "a, b" (split on commas when split is set) or
 * a sequence of scalars. */
static const char *const *str_list(lw *w, const dsl_node *n, int split, int *count)
{
    const char **v = NULL;
    int nv = 0, cap = 0;
    *count = 0;
    if (!n) return NULL;
    if (n->kind == DSL_SCALAR) {
        const char *s = n->str;
        if (!split) {
            *PUSH(w->pa, v, nv, cap) = arena_strdup(w->pa, s);
        } else {
            while (*s) {
                const char *c = strchr(s, ',');
                size_t len = c ? (size_t)(c - s) : strlen(s);
                size_t b = 0, e = len;
                while (b < e && (s[b] == ' ' || s[b] == '\t')) b++;
                while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) e--;
                if (e > b) *PUSH(w->pa, v, nv, cap) = arena_strndup(w->pa, s + b, e - b);
                s += len + (c ? 1 : 0);
            }
        }
    } else if (n->kind == DSL_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            if (n->items[i]->kind == DSL_SCALAR)
                *PUSH(w->pa, v, nv, cap) = arena_strdup(w->pa, n->items[i]->str);
    }
    *count = nv;
    return v;
}

/* ---- YAML node -> JSON text ---------------------------------------------- */

static int plain_is(const dsl_node *n, const char *s)
{
    return !n->quoted && strcmp(n->str, s) == 0;
}

static void node_json(buf *b, const dsl_node *n, int depth)
{
    if (!n || n->kind == DSL_NULL || depth > 100) {
        buf_puts(b, "null");
        return;
    }
    if (n->kind == DSL_SCALAR) {
        long long iv;
        double dv;
        if (!n->quoted) {
            if (plain_is(n, "true") || plain_is(n, "false")) {
                buf_puts(b, n->str);
                return;
            }
            if (plain_is(n, "null") || plain_is(n, "~")) {
                buf_puts(b, "null");
                return;
            }
            if (json_is_number(n->str, n->len)) {
                buf_append(b, n->str, n->len);
                return;
            }
            if (dsl_as_int(n, &iv) == 0) {
                buf_printf(b, "%lld", iv);
                return;
            }
            if (dsl_as_double(n, &dv) == 0 && dv == dv && dv - dv == 0) {
                buf_printf(b, "%.17g", dv);
                return;
            }
        }
        buf_json_str(b, n->str, n->len, NULL);
        return;
    }
    int map = n->kind == DSL_MAP;
    buf_putc(b, map ? '{' : '[');
    for (size_t i = 0; i < n->n; i++) {
        if (i) buf_putc(b, ',');
        if (map) {
            buf_json_str(b, n->keys[i]->str, n->keys[i]->len, NULL);
            buf_putc(b, ':');
        }
        node_json(b, n->items[i], depth + 1);
    }
    buf_putc(b, map ? '}' : ']');
}

static const char *to_json(lw *w, const dsl_node *n)
{
    buf b = BUF_INIT;
    node_json(&b, n, 0);
    const char *s = arena_strndup(w->pa, b.data ? b.data : "null", b.data ? b.len : 4);
    buf_free(&b);
    return s;
}

/* ---- templates (`extends`) ------------------------------------------------- */

static dsl_node *without_key(arena *a, const dsl_node *map, const char *key)
{
    dsl_node *m = dsl_new_map(a, map->loc);
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->str, key) != 0) dsl_map_add(a, m, map->keys[i], map->items[i]);
    return m;
}

static const char *const *template_names(lw *w, int *n)
{
    const char **v = NULL;
    int nv = 0, cap = 0;
    for (size_t i = 0; w->templates && w->templates->kind == DSL_MAP && i < w->templates->n; i++)
        *PUSH(w->tmp, v, nv, cap) = w->templates->keys[i]->str;
    *PUSH(w->tmp, v, nv, cap) = NULL;
    *n = nv - 1;
    return v;
}

static const dsl_node *expand(lw *w, const dsl_node *entry, int depth);

/* Template i with its own `extends` applied, computed once: templates whose
 * `extends` form a DAG share their expansions instead of expanding every
 * path again (exponential). NULL after errors. */
static const dsl_node *expand_template(lw *w, size_t i, const dsl_node *ref, int depth)
{
    if (w->tstate[i] == 2) return w->texp[i];
    if (w->tstate[i] == 1) { /* the checker reports cycles; an unchecked tree ends here */
        diag_error(w->d, ref->loc, "template cycle through '%s'", w->templates->keys[i]->str);
        return NULL;
    }
    w->tstate[i] = 1;
    const dsl_node *x = expand(w, w->templates->items[i], depth + 1);
    if (x) x = without_key(w->tmp, x, "extends");
    w->texp[i] = x;
    w->tstate[i] = 2;
    return x;
}

/* Apply entry's `extends` (in order, recursively), then the entry's own keys.
 * Maps merge deep, lists and scalars are replaced. NULL after errors. */
static const dsl_node *expand(lw *w, const dsl_node *entry, int depth)
{
    if (!entry || entry->kind != DSL_MAP) return entry;
    const dsl_node *ext = get(entry, "extends");
    if (!ext) return entry;
    if (depth > DSL_MAX_EXTENDS_DEPTH) { /* the checker reports it first */
        diag_error(w->d, ext->loc, "templates extend each other more than %d levels deep",
                   DSL_MAX_EXTENDS_DEPTH);
        return NULL;
    }
    const dsl_node *acc = NULL;
    int bad = 0;
    size_t n = ext->kind == DSL_SEQ ? ext->n : 1;
    for (size_t i = 0; i < n; i++) {
        const dsl_node *it = ext->kind == DSL_SEQ ? ext->items[i] : ext;
        const char *name = str_of(it);
        size_t ti = name ? dsl_names_find(w->tnames, name, it->len) : DSL_NAMES_NONE;
        const dsl_node *t = ti != DSL_NAMES_NONE ? w->templates->items[ti] : NULL;
        if (!t || t->kind != DSL_MAP) {
            diag_error(w->d, it->loc, "unknown template '%s'", name ? name : "?");
            int nn;
            const char *s = name ? diag_suggest(name, template_names(w, &nn)) : NULL;
            if (s) diag_hint(w->d, "did you mean '%s'?", s);
            bad = 1;
            continue;
        }
        const dsl_node *x = expand_template(w, ti, it, depth);
        if (!x) {
            bad = 1;
            continue;
        }
        acc = acc ? dsl_merge(w->tmp, acc, x) : x;
    }
    if (bad) return NULL;
    const dsl_node *own = without_key(w->tmp, entry, "extends");
    return acc ? dsl_merge(w->tmp, acc, own) : own;
}

/* ---- document programs ----------------------------------------------------- */

static plan_op *op_add(lw *w, prog *p, plan_opcode op, src_loc loc)
{
    plan_op *o = PUSH(w->pa, p->ops, p->nops, p->cap);
    memset(o, 0, sizeof *o);
    o->op = op;
    o->loc = L(w, loc);
    return o;
}


static eng_regex *compile_re(lw *w, const dsl_node *pat, unsigned flags)
{
    size_t off = 0;
    char err[256] = "";
    eng_regex *re = eng_regex_compile(w->pa, pat->str, flags, &off, err, sizeof err);
    if (!re) {
        diag_error(w->d, loc_in(pat, off), "invalid regular expression: %s", err);
    }
    return re;
}

/* One transform (a name, or a one-key map {name: argument}). */
static int lower_transform(lw *w, prog *p, const dsl_node *t)
{
    const char *name = NULL;
    const dsl_node *arg = NULL;
    if (t->kind == DSL_SCALAR) {
        name = t->str;
    } else if (t->kind == DSL_MAP && t->n == 1) {
        name = t->keys[0]->str;
        arg = t->items[0];
        if (arg && arg->kind == DSL_NULL) arg = NULL;
    }
    if (!name) {
        diag_error(w->d, t->loc, "a transform is a name or a map {name: argument}");
        return -1;
    }
    /* a transform is the plan operation of the same name (plan.h lists
     * them once); those without an argument are one operation */
    static const plan_opcode simple[] = {PLAN_OP_TRIM,      PLAN_OP_LOWER,   PLAN_OP_UPPER,
                                         PLAN_OP_TO_NUMBER, PLAN_OP_TO_STRING, PLAN_OP_TO_BOOL,
                                         PLAN_OP_PARSE_JSON};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (!strcmp(name, plan_op_names[simple[i]])) {
            op_add(w, p, simple[i], t->loc);
            return 0;
        }
    src_loc aloc = arg ? arg->loc : t->loc;
    if (!strcmp(name, "split") || !strcmp(name, "join")) {
        const char *sep = str_of(arg);
        if (!sep) {
            diag_error(w->d, aloc, "'%s' needs a separator string", name);
            return -1;
        }
        plan_op *o = op_add(w, p, name[0] == 's' ? PLAN_OP_SPLIT : PLAN_OP_JOIN, t->loc);
        o->s = arena_strdup(w->pa, sep);
        return 0;
    }
    if (!strcmp(name, "regex_extract") || !strcmp(name, "regex_replace")) {
        int extract = name[6] == 'e';
        const dsl_node *pat = NULL, *second = NULL;
        if (arg && arg->kind == DSL_SEQ && arg->n >= 1) {
            pat = arg->items[0];
            second = arg->n > 1 ? arg->items[1] : NULL;
        } else if (arg && arg->kind == DSL_SCALAR) {
            pat = arg;
        }
        if (!pat || pat->kind != DSL_SCALAR || (!extract && !str_of(second))) {
            diag_error(w->d, aloc, "'%s' needs [PATTERN, %s]", name,
                       extract ? "GROUP" : "REPLACEMENT");
            return -1;
        }
        long long group = 1;
        if (extract && second && (dsl_as_int(second, &group) != 0 || group < 0)) {
            diag_error(w->d, second->loc, "regex_extract group must be a number >= 0");
            return -1;
        }
        eng_regex *re = compile_re(w, pat, 0);
        if (!re) return -1;
        if (extract && group > eng_regex_groups(re)) {
            diag_error(w->d, second ? second->loc : pat->loc,
                       "group %lld does not exist: the pattern has %d group%s", group,
                       eng_regex_groups(re), eng_regex_groups(re) == 1 ? "" : "s");
            return -1;
        }
        plan_op *o = op_add(w, p, extract ? PLAN_OP_REGEX_EXTRACT : PLAN_OP_REGEX_REPLACE, t->loc);
        o->re = re;
        o->pattern = arena_strdup(w->pa, pat->str);
        if (extract)
            o->n = (int)group;
        else
            o->s = arena_strdup(w->pa, second->str);
        return 0;
    }
    if (!strcmp(name, "default")) {
        plan_op *o = op_add(w, p, PLAN_OP_DEFAULT, t->loc);
        o->s = to_json(w, arg);
        return 0;
    }
    if (!strcmp(name, "truncate")) {
        long long n = 0;
        if (!arg || dsl_as_int(arg, &n) != 0 || n <= 0 || n > INT_MAX) {
            diag_error(w->d, aloc, "truncate needs a number of characters > 0");
            return -1;
        }
        plan_op *o = op_add(w, p, PLAN_OP_TRUNCATE, t->loc);
        o->n = (int)n;
        return 0;
    }
    diag_error(w->d, t->kind == DSL_MAP ? t->keys[0]->loc : t->loc, "unknown transform '%s'", name);
    const char *names[PLAN_OP__COUNT + 1];
    int nn = 0;
    for (int op = PLAN_OP_TRIM; op <= PLAN_OP_TRUNCATE; op++) names[nn++] = plan_op_names[op];
    names[nn] = NULL;
    const char *s = diag_suggest(name, names);
    if (s) diag_hint(w->d, "did you mean '%s'?", s);
    return -1;
}

/* The field trie: dotted paths grouped so that each nested object is opened once. */
typedef struct fnode fnode;
struct fnode {
    const char *key;
    const dsl_node *spec; /* leaf */
    const dsl_node *keynode;
    fnode **kids;
    int nkids, cap;
    int is_leaf;
};

static int is_field_spec(const dsl_node *v)
{
    static const char *const spec_keys[] = {"from", "template", "transform", "default",
                                            "scaling_factor", NULL};
    static const char *const es_types[] = {"keyword", "text", "long", "integer", "short", "byte",
                                           "double", "float", "scaled_float", "boolean", "date",
                                           "object", "nested", "ip", "geo_point", "binary", NULL};
    if (v->kind != DSL_MAP) return 1;
    for (int i = 0; spec_keys[i]; i++)
        if (dsl_map_get(v, spec_keys[i])) return 1;
    const char *t = str_of(dsl_map_get(v, "type"));
    if (t && v->n == 1)
        for (int i = 0; es_types[i]; i++)
            if (!strcmp(es_types[i], t)) return 1;
    return v->n == 0;
}

static fnode *fchild(lw *w, fnode *parent, const char *key, size_t len)
{
    for (int i = 0; i < parent->nkids; i++)
        if (strlen(parent->kids[i]->key) == len && !memcmp(parent->kids[i]->key, key, len))
            return parent->kids[i];
    fnode *f = arena_alloc(w->tmp, sizeof *f);
    f->key = arena_strndup(w->pa, key, len);
    *PUSH(w->tmp, parent->kids, parent->nkids, parent->cap) = f;
    return f;
}

static int finsert(lw *w, fnode *root, const char *prefix, const dsl_node *keynode,
                   const dsl_node *val)
{
    const char *key = keynode->str;
    char *path = prefix ? arena_printf(w->tmp, "%s.%s", prefix, key) : arena_strdup(w->tmp, key);
    if (!*key || key[0] == '.' || key[strlen(key) - 1] == '.' || strstr(key, "..")) {
        diag_error(w->d, keynode->loc, "bad field path '%s': empty name between dots", path);
        return -1;
    }
    if (val->kind == DSL_MAP && !is_field_spec(val)) {
        int rc = 0;
        for (size_t i = 0; i < val->n; i++)
            if (finsert(w, root, path, val->keys[i], val->items[i])) rc = -1;
        return rc;
    }
    fnode *f = root;
    const char *s = path;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        fnode *c = fchild(w, f, s, len);
        if (dot) {
            if (c->is_leaf) {
                diag_error(w->d, keynode->loc,
                           "field '%.*s' is both a value and an object (because of '%s')",
                           (int)(dot - path), path, path);
                if (c->keynode) diag_hint(w->d, "'%.*s' is set at line %d", (int)(dot - path),
                                          path, c->keynode->loc.line);
                return -1;
            }
            f = c;
            s = dot + 1;
            continue;
        }
        if (c->is_leaf || c->nkids) {
            if (c->is_leaf)
                diag_error(w->d, keynode->loc, "field '%s' is defined twice", path);
            else
                diag_error(w->d, keynode->loc,
                           "field '%s' is both a value and an object (it has nested fields)",
                           path);
            if (c->keynode) diag_hint(w->d, "first defined at line %d", c->keynode->loc.line);
            return -1;
        }
        c->is_leaf = 1;
        c->spec = val;
        c->keynode = keynode;
        return 0;
    }
}

static int lower_leaf(lw *w, prog *p, const char *path, const fnode *f)
{
    const dsl_node *v = f->spec;
    const dsl_node *src = v, *transforms = NULL, *dflt = NULL, *type = NULL, *sf = NULL;
    const char *col = NULL;
    int is_tpl = 0;
    if (v->kind == DSL_MAP) {
        const dsl_node *from = get(v, "from"), *tpl = get(v, "template");
        transforms = get(v, "transform");
        dflt = dsl_map_get(v, "default");
        type = get(v, "type");
        sf = get(v, "scaling_factor");
        if (from && tpl) {
            diag_error(w->d, tpl->loc, "field '%s' has both 'from' and 'template'", path);
            return -1;
        }
        src = from ? from : tpl;
        is_tpl = tpl != NULL; /* `template:` renders text even without {{ }} */
        if (!src) {
            /* the column named like the field */
            col = f->key;
        }
    } else if (v->kind == DSL_SEQ) {
        diag_error(w->d, v->loc, "field '%s': expected a column name, a template or a map", path);
        return -1;
    }
    src_loc at = f->keynode->loc;
    if (src && src->kind == DSL_SCALAR && (is_tpl || dsl_tpl_is_template(src->str))) {
        const plan_tpl *t = dsl_tpl_parse(w->pa, w->d, src->str, src->loc, src->quoted,
                                          DSL_TPL_ALLOW_COLUMNS | DSL_TPL_ALLOW_PK |
                                              DSL_TPL_ALLOW_RELATIONS);
        if (!t) return -1;
        int literal = 1;
        for (int i = 0; i < t->nparts; i++)
            if (t->parts[i].kind != PLAN_TPL_LIT) literal = 0;
        if (literal) { /* no expression: a constant string */
            buf jb = BUF_INIT;
            buf_json_str(&jb, src->str, strlen(src->str), NULL);
            plan_op *o = op_add(w, p, PLAN_OP_LOAD_CONST, src->loc);
            o->s = arena_strdup(w->pa, jb.data);
            buf_free(&jb);
        } else {
            plan_op *o = op_add(w, p, PLAN_OP_LOAD_TPL, src->loc);
            o->tpl = t;
        }
    } else {
        if (src) {
            if (src->kind != DSL_SCALAR || !src->len) {
                diag_error(w->d, src->loc, "field '%s': expected a column name", path);
                return -1;
            }
            col = src->str;
            at = src->loc;
        }
        plan_op *o = op_add(w, p, PLAN_OP_LOAD_COL, at);
        o->s = arena_strdup(w->pa, col);
    }
    int ntr = 0, rc = 0;
    if (transforms) {
        size_t n = transforms->kind == DSL_SEQ ? transforms->n : 1;
        for (size_t i = 0; i < n; i++) {
            const dsl_node *t = transforms->kind == DSL_SEQ ? transforms->items[i] : transforms;
            if (lower_transform(w, p, t)) rc = -1;
            ntr++;
        }
    }
    if (dflt) {
        plan_op *o = op_add(w, p, PLAN_OP_DEFAULT, dflt->loc);
        o->s = to_json(w, dflt);
        ntr++;
    }
    plan_op *e = op_add(w, p, PLAN_OP_EMIT, f->keynode->loc);
    e->s = f->key;
    if (!ntr && p->ops[p->nops - 2].op == PLAN_OP_LOAD_COL) {
        plain_col *pc = PUSH(w->tmp, p->plain, p->nplain, p->plaincap);
        pc->path = arena_strdup(w->tmp, path);
        pc->column = p->ops[p->nops - 2].s;
    }
    if (type || sf) {
        plan_mapping_field *mf = PUSH(w->pa, p->types, p->ntypes, p->typecap);
        mf->path = arena_strdup(w->pa, path);
        mf->es_type = type ? sget(w, v, "type") : NULL;
        mf->scaling_factor = sf ? arena_strdup(w->pa, str_of(sf) ? str_of(sf) : "") : NULL;
        mf->loc = L(w, (type ? type : sf)->loc);
        if (mf->es_type && !strcmp(mf->es_type, "scaled_float") && !sf) {
            diag_error(w->d, type->loc, "field '%s': scaled_float needs a scaling_factor", path);
            rc = -1;
        }
    }
    return rc;
}

static int lower_fnode(lw *w, prog *p, const char *prefix, const fnode *f)
{
    int rc = 0;
    for (int i = 0; i < f->nkids; i++) {
        const fnode *c = f->kids[i];
        const char *path = prefix ? arena_printf(w->tmp, "%s.%s", prefix, c->key) : c->key;
        if (c->is_leaf) {
            if (lower_leaf(w, p, path, c)) rc = -1;
            continue;
        }
        src_loc loc = c->nkids && c->kids[0]->keynode ? c->kids[0]->keynode->loc : (src_loc){0};
        plan_op *o = op_add(w, p, PLAN_OP_OBJ_BEGIN, loc);
        o->s = c->key;
        if (lower_fnode(w, p, path, c)) rc = -1;
        op_add(w, p, PLAN_OP_OBJ_END, loc);
    }
    return rc;
}

static int lower_doc(lw *w, const dsl_node *m, int is_relation, const char *path_prefix,
                     prog *p);

/* `on` maps: {this column: the other side's column} -> two lists. */
static int on_lists(lw *w, const dsl_node *on, const char *key, const char ***left,
                    const char ***right, int *n)
{
    int rc = 0;
    const char **l = arena_alloc(w->pa, sizeof *l * on->n);
    const char **r = arena_alloc(w->pa, sizeof *r * on->n);
    for (size_t j = 0; j < on->n; j++) {
        l[j] = arena_strdup(w->pa, on->keys[j]->str);
        const char *v = str_of(on->items[j]);
        if (!v) {
            diag_error(w->d, on->items[j]->loc, "relation '%s': 'on' values are column names", key);
            rc = -1;
            v = "";
        }
        r[j] = arena_strdup(w->pa, v);
    }
    *left = l;
    *right = r;
    *n = (int)on->n;
    return rc;
}

/* Many-to-many: `through: { table: link, on: {link column: parent column} }`
 * while the relation's own `on` joins the far table to the link table
 * ({child column: link column}). In the plan, child_cols/parent_cols hold
 * the link = parent condition (what rows are grouped by), join_* the other. */
static int lower_through(lw *w, plan_relation *rel, const dsl_node *th, const char *key)
{
    if (th->kind != DSL_MAP) return 0; /* the checker reported it */
    const dsl_node *ton = get(th, "on");
    rel->through = sget(w, th, "table");
    if (!rel->through || !ton || ton->kind != DSL_MAP || ton->n == 0) {
        diag_error(w->d, th->loc, "relation '%s': 'through' needs a table and 'on: {link column: parent column}'",
                   key);
        return -1;
    }
    if (!strcmp(rel->through, rel->table)) {
        diag_error(w->d, th->loc, "relation '%s': the link table '%s' is the relation's own table",
                   key, rel->table);
        diag_hint(w->d, "without a link table, leave `through` out and join with `on`");
        return -1;
    }
    /* what lower_relations read as child = parent is child = link */
    rel->join_child_cols = rel->child_cols;
    rel->join_link_cols = rel->parent_cols;
    rel->njoin = rel->non;
    const char **l = NULL, **r = NULL;
    int n = 0, rc = on_lists(w, ton, key, &l, &r, &n);
    rel->child_cols = l;
    rel->parent_cols = r;
    rel->non = n;
    return rc;
}

/* {{ album.title }} in the field templates of ops[from..]: resolve to the
 * many-to-one relation `album` of the same document (relations rels). */
static int resolve_rel_refs(lw *w, prog *p, int from)
{
    int rc = 0;
    for (int i = from; i < p->nops; i++) {
        if (p->ops[i].op != PLAN_OP_LOAD_TPL || !p->ops[i].tpl) continue;
        const plan_tpl *t = p->ops[i].tpl;
        for (int k = 0; k < t->nparts; k++) {
            plan_tpl_part *part = &t->parts[k];
            if (part->kind != PLAN_TPL_REL || part->rel >= 0) continue;
            const char *dot = strchr(part->text, '.');
            size_t kl = (size_t)(dot - part->text);
            int found = -1;
            for (int r = 0; r < p->nrels; r++)
                if (strlen(p->rels[r].key) == kl && !strncmp(p->rels[r].key, part->text, kl)) found = r;
            if (found < 0) {
                diag_error(w->d, p->ops[i].loc, "template '%s': '%.*s' is not a relation of this mapping",
                           t->source, (int)kl, part->text);
                diag_hint(w->d, "{{ name.column }} reads a column of a many-to-one relation (one: true) "
                                "declared under `relations`");
                rc = -1;
            } else if (!p->rels[found].one) {
                diag_error(w->d, p->ops[i].loc,
                           "template '%s': relation '%s' is one-to-many (an array); a template can "
                           "read many-to-one relations (one: true) only",
                           t->source, p->rels[found].key);
                rc = -1;
            } else {
                part->rel = found;
                part->text = dot + 1;
            }
        }
    }
    return rc;
}

static int lower_relations(lw *w, const dsl_node *rels, const char *path_prefix, prog *p)
{
    int rc = 0;
    for (size_t i = 0; rels && rels->kind == DSL_MAP && i < rels->n; i++) {
        const dsl_node *r = rels->items[i], *keyn = rels->keys[i];
        if (r->kind != DSL_MAP) {
            diag_error(w->d, r->loc, "relation '%s': expected a map", keyn->str);
            rc = -1;
            continue;
        }
        plan_relation *rel = PUSH(w->pa, p->rels, p->nrels, p->relcap);
        memset(rel, 0, sizeof *rel);
        rel->key = arena_strdup(w->pa, keyn->str);
        rel->table = sget(w, r, "table");
        if (!rel->table) rel->table = rel->key;
        rel->schema = sget(w, r, "schema");
        rel->one = bget(r, "one", 0);
        rel->where_sql = sget(w, r, "where");
        rel->loc = L(w, keyn->loc);
        const dsl_node *on = get(r, "on");
        if (!on || on->kind != DSL_MAP || on->n == 0) {
            diag_error(w->d, on ? on->loc : keyn->loc,
                       "relation '%s' needs 'on: {child column: parent column}'", keyn->str);
            rc = -1;
        } else {
            const char **cc = NULL, **pc = NULL;
            if (on_lists(w, on, keyn->str, &cc, &pc, &rel->non)) rc = -1;
            rel->child_cols = cc;
            rel->parent_cols = pc;
        }
        const dsl_node *th = get(r, "through");
        if (th && lower_through(w, rel, th, keyn->str)) rc = -1;
        rel->order_by = str_list(w, get(r, "order_by"), 0, &rel->norder_by);
        {
            const char *rd = sget(w, r, "read");
            /* a nested relation's parents are child rows, in no key order */
            rel->merge = !path_prefix && !rel->through && !(rd && !strcmp(rd, "batch"));
        }
        prog sub = {0};
        const char *path = path_prefix ? arena_printf(w->tmp, "%s.%s", path_prefix, rel->key)
                                       : rel->key;
        if (lower_doc(w, r, 1, path, &sub)) rc = -1;
        rel->doc.ops = sub.ops;
        rel->doc.nops = sub.nops;
        rel->doc.relations = sub.rels;
        rel->doc.nrelations = sub.nrels;
        for (int j = 0; j < sub.ntypes; j++)
            *PUSH(w->pa, p->types, p->ntypes, p->typecap) = sub.types[j];
        plan_op *o = op_add(w, p, PLAN_OP_RELATION, keyn->loc);
        o->n = p->nrels - 1;
        o->s = rel->key;
    }
    return rc;
}

/* Program of a mapped table or of a relation's child rows: copied columns,
 * then fields, then relations. A relation with `fields` and no `columns`
 * selects only its fields. */
static int lower_doc(lw *w, const dsl_node *m, int is_relation, const char *path_prefix,
                     prog *p)
{
    int rc = 0;
    const dsl_node *columns = get(m, "columns"), *fields = get(m, "fields"),
                   *rels = get(m, "relations");
    fnode root = {0};
    for (size_t i = 0; fields && fields->kind == DSL_MAP && i < fields->n; i++)
        if (finsert(w, &root, NULL, fields->keys[i], fields->items[i])) rc = -1;
    /* top-level keys produced by fields and relations */
    const char **taken = NULL;
    int ntaken = 0, tcap = 0;
    for (int i = 0; i < root.nkids; i++) *PUSH(w->tmp, taken, ntaken, tcap) = root.kids[i]->key;
    for (size_t i = 0; rels && rels->kind == DSL_MAP && i < rels->n; i++) {
        const char *k = rels->keys[i]->str;
        for (int j = 0; j < root.nkids; j++)
            if (!strcmp(root.kids[j]->key, k)) {
                diag_error(w->d, rels->keys[i]->loc, "relation '%s' has the name of a field", k);
                rc = -1;
            }
        *PUSH(w->tmp, taken, ntaken, tcap) = k;
    }

    int copy = !is_relation || columns || !fields;
    if (copy) {
        const dsl_node *inc = get(columns, "include"), *exc = get(columns, "exclude");
        int mode = inc ? PLAN_COPY_INCLUDE : PLAN_COPY_EXCLUDE;
        int nl = 0, nn = 0, ncap = 0;
        const char *const *lst = str_list(w, inc ? inc : exc, 0, &nl);
        const char **names = NULL;
        for (int i = 0; i < nl; i++) {
            int clash = 0;
            for (int j = 0; j < ntaken; j++)
                if (!strcmp(lst[i], taken[j])) clash = 1;
            if (!(inc && clash)) *PUSH(w->pa, names, nn, ncap) = lst[i];
        }
        if (!inc)
            for (int j = 0; j < ntaken; j++) {
                int dup = 0;
                for (int i = 0; i < nn; i++)
                    if (!strcmp(names[i], taken[j])) dup = 1;
                if (!dup) *PUSH(w->pa, names, nn, ncap) = arena_strdup(w->pa, taken[j]);
            }
        if (!(inc && nn == 0)) {
            plan_op *o = op_add(w, p, PLAN_OP_COPY_COLUMNS, columns ? columns->loc : m->loc);
            o->n = mode;
            o->names = names;
            o->nnames = nn;
        }
        if (inc)
            for (int i = 0; i < nn; i++)
                if (!strpbrk(names[i], "*?[")) {
                    plain_col *pc = PUSH(w->tmp, p->plain, p->nplain, p->plaincap);
                    pc->path = path_prefix ? arena_printf(w->tmp, "%s.%s", path_prefix, names[i])
                                           : names[i];
                    pc->column = names[i];
                }
    }
    int fields_from = p->nops;
    if (lower_fnode(w, p, path_prefix, &root)) rc = -1;
    if (lower_relations(w, rels, path_prefix, p)) rc = -1;
    if (resolve_rel_refs(w, p, fields_from)) rc = -1;
    return rc;
}

/* ---- the connectors' default documents (reference.md section 2.4) ---------- */

static const plan_tpl *tpl_of(lw *w, const char *source, const plan_tpl_part *parts, int n)
{
    plan_tpl *t = arena_alloc(w->pa, sizeof *t);
    t->parts = arena_alloc(w->pa, sizeof *t->parts * (size_t)n);
    memcpy(t->parts, parts, sizeof *t->parts * (size_t)n);
    t->nparts = n;
    t->source = source;
    return t;
}

/* A template of the driver's compat description (plan variables only). */
static const plan_tpl *compat_tpl(lw *w, const char *source, src_loc loc)
{
    return dsl_tpl_parse(w->pa, w->d, arena_strdup(w->pa, source), loc, 1, DSL_TPL_ALLOW_PK);
}

/* The connectors' _id of the driver ({{ $table }}_{{ $pk }} without one). */
static const plan_tpl *default_id(lw *w, src_loc loc)
{
    const src_compat_docs *cd = w->drv ? w->drv->compat : NULL;
    return compat_tpl(w, cd && cd->id ? cd->id : "{{ $table }}_{{ $pk }}", loc);
}

static void emit_var(lw *w, prog *p, const char *var, const char *key, src_loc loc)
{
    plan_op *o = op_add(w, p, PLAN_OP_LOAD_VAR, loc);
    o->s = var;
    o = op_add(w, p, PLAN_OP_EMIT, loc);
    o->s = key;
}

/* The document of the Elastic connector of the database (the driver's compat
 * description): every column, named with the prefix (lower-cased or not),
 * then the driver's extra fields, then id (= _id) and _timestamp. Raw names
 * (no prefix) leave out the columns the extra fields replace, as the
 * connectors' dict update does. */
static void compat_doc(lw *w, prog *p, src_loc loc)
{
    const src_compat_docs *cd = w->drv ? w->drv->compat : NULL;
    plan_op *o = op_add(w, p, PLAN_OP_COPY_COLUMNS, loc);
    o->n = PLAN_COPY_EXCLUDE | (cd && cd->lower ? PLAN_COPY_LOWER : 0);
    int nf = 0;
    while (cd && cd->fields && cd->fields[2 * nf]) nf++;
    if (cd && cd->prefix) {
        o->tpl = compat_tpl(w, cd->prefix, loc);
        o->s = o->tpl ? o->tpl->source : NULL;
    } else if (cd) {
        const char **names = arena_alloc(w->pa, sizeof *names * ((size_t)nf + 3));
        for (int i = 0; i < nf; i++) names[i] = cd->fields[2 * i + 1];
        names[nf] = "id";
        names[nf + 1] = "_timestamp";
        o->names = names;
        o->nnames = nf + 2;
    }
    for (int i = 0; i < nf; i++) emit_var(w, p, cd->fields[2 * i], cd->fields[2 * i + 1], loc);
    emit_var(w, p, "$id", "id", loc);
    emit_var(w, p, "$timestamp", "_timestamp", loc);
}

/* ---- sync rules ------------------------------------------------------------ */

typedef struct rules {
    plan_rule *v;
    const dsl_node **value_nodes;
    int n;
} rules;

static int lower_rules(lw *w, const dsl_node *basic, rules *out)
{
    int rc = 0, cap = 0, vcap = 0, nv = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; basic && basic->kind == DSL_SEQ && i < basic->n; i++) {
        const dsl_node *r = basic->items[i];
        const char *field = str_of(get(r, "field")), *kind = str_of(get(r, "rule")),
                   *value = str_of(get(r, "value")), *policy = str_of(get(r, "policy"));
        if (!field || !kind || !value || !policy) {
            diag_error(w->d, r->loc, "a basic rule needs field, rule, value and policy");
            rc = -1;
            continue;
        }
        static const struct {
            const char *name;
            plan_rule_kind k;
        } kinds[] = {{"equals", PLAN_RULE_EQUALS},   {"contains", PLAN_RULE_CONTAINS},
                     {"starts_with", PLAN_RULE_STARTS_WITH}, {"ends_with", PLAN_RULE_ENDS_WITH},
                     {"regex", PLAN_RULE_REGEX},     {">", PLAN_RULE_GT},
                     {"<", PLAN_RULE_LT}};
        int k = -1;
        for (size_t j = 0; j < sizeof kinds / sizeof kinds[0]; j++)
            if (!strcmp(kinds[j].name, kind)) k = (int)kinds[j].k;
        if (k < 0) {
            diag_error(w->d, get(r, "rule")->loc, "unknown rule '%s'", kind);
            rc = -1;
            continue;
        }
        /* Kibana's default rule {_, regex, .*} is ignored by the engine */
        if (k == PLAN_RULE_REGEX && !strcmp(field, "_") && eng_regex_is_match_all(value)) continue;
        plan_rule *pr = PUSH(w->pa, out->v, out->n, cap);
        memset(pr, 0, sizeof *pr);
        *PUSH(w->tmp, out->value_nodes, nv, vcap) = get(r, "value");
        pr->id = sget(w, r, "id");
        pr->field = arena_strdup(w->pa, field);
        pr->rule = (plan_rule_kind)k;
        pr->value = arena_strdup(w->pa, value);
        pr->include = !strcmp(policy, "include");
        pr->order = (int)iget(r, "order", 0);
        pr->loc = L(w, r->loc);
        if (k == PLAN_RULE_REGEX) {
            pr->re = compile_re(w, get(r, "value"), ENG_RE_ANCHORED);
            if (!pr->re) rc = -1;
        }
    }
    /* stable insertion sort by order */
    for (int i = 1; i < out->n; i++) {
        plan_rule t = out->v[i];
        int j = i - 1;
        while (j >= 0 && out->v[j].order > t.order) {
            out->v[j + 1] = out->v[j];
            j--;
        }
        out->v[j + 1] = t;
    }
    return rc;
}

/* Whether the connector's dialect evaluates rule kind k on a text column
 * exactly as the engine does (the driver's text_match slot; the SQL itself
 * is written by engine/sql.c). Numbers, timestamps, booleans, JSON never
 * match there and are left to the post-filter. */
static int pushable(lw *w, plan_rule_kind k)
{
    if (!w->drv || !w->drv->text_match) return 0;
    src_text_op op;
    switch (k) {
    case PLAN_RULE_EQUALS: op = SRC_TEXT_EQUALS; break;
    case PLAN_RULE_STARTS_WITH: op = SRC_TEXT_STARTS_WITH; break;
    case PLAN_RULE_CONTAINS: op = SRC_TEXT_CONTAINS; break;
    case PLAN_RULE_ENDS_WITH: op = SRC_TEXT_ENDS_WITH; break;
    default: return 0;
    }
    return w->drv->text_match(NULL, op, "", "") == 1;
}

/* ---- table entries --------------------------------------------------------- */

typedef struct entry_in {
    const char *name;
    int is_glob, is_default, compat;
    const dsl_node *m;        /* mapping (extends applied), NULL for defaults */
    src_loc loc;
    const char *query;        /* advanced rule */
    const dsl_node *id_columns;
    const char *const *tables; /* advanced rule's `tables` */
    int ntables;
    const char *index_name;   /* connector's */
    const char *schema;       /* connector's */
    const rules *rules;
} entry_in;

/* Elasticsearch index names are lower case: sql2es lower-cases the rendered
 * name; say so at the line when the name is known here to hold upper case
 * (its text, or $table of an exact table name, or $connector). */
static void warn_upper_index(lw *w, const entry_in *in, const plan_tpl *ix, src_loc loc)
{
    if (!ix) return;
    buf b = BUF_INIT;
    int known = 1;
    for (int i = 0; i < ix->nparts; i++) {
        const plan_tpl_part *pt = &ix->parts[i];
        if (pt->kind == PLAN_TPL_LIT) buf_puts(&b, pt->text);
        else if (pt->kind == PLAN_TPL_VAR && !strcmp(pt->text, "table") && !in->is_glob &&
                 !in->is_default && !in->query)
            buf_puts(&b, in->name);
        else if (pt->kind == PLAN_TPL_VAR && !strcmp(pt->text, "connector"))
            buf_puts(&b, w->conn_id);
        else
            known = 0; /* rendered at run time: the parts known here still count */
    }
    const char *s = b.data ? b.data : "";
    int upper = 0;
    for (const char *q = s; *q; q++) upper |= *q >= 'A' && *q <= 'Z';
    if (upper) {
        char *low = arena_strdup(w->tmp, s);
        for (char *q = low; *q; q++)
            if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
        if (known)
            diag_warning(w->d, loc, "index name '%s' is written as '%s': Elasticsearch index "
                         "names are lower case", s, low);
        else
            diag_warning(w->d, loc, "index name '%s' holds upper case: it is lower-cased when "
                         "written (Elasticsearch index names are lower case)", ix->source);
        diag_hint(w->d, "write it in lower case to name the index as it will be");
    }
    buf_free(&b);
}

static int lower_entry(lw *w, const entry_in *in, plan_table *t)
{
    int rc = 0;
    const dsl_node *m = in->m;
    memset(t, 0, sizeof *t);
    t->name = arena_strdup(w->pa, in->name);
    t->is_glob = in->is_glob;
    t->is_default = in->is_default;
    t->connectors_compat = in->compat;
    t->loc = L(w, in->loc);
    t->schema = m ? sget(w, m, "schema") : NULL;

    /* index: plan variables only */
    const dsl_node *idx = m ? get(m, "index") : NULL;
    if (idx && str_of(idx)) {
        t->index = dsl_tpl_parse(w->pa, w->d, idx->str, idx->loc, idx->quoted, 0);
        if (!t->index) rc = -1;
    } else if (in->index_name) {
        static const plan_tpl_part none[1];
        plan_tpl_part lit = {PLAN_TPL_LIT, in->index_name, -1};
        t->index = tpl_of(w, in->index_name, &lit, 1);
        (void)none;
    } else {
        diag_error(w->d, in->loc, "no target index for table '%s'", in->name);
        diag_hint(w->d, "set index_name on the connector or index: on the mapping");
        rc = -1;
    }

    if (idx) warn_upper_index(w, in, t->index, idx->loc);

    /* document program */
    prog p = {0};
    if (in->compat)
        compat_doc(w, &p, in->loc);
    else if (m) {
        if (lower_doc(w, m, 0, NULL, &p)) rc = -1;
    } else {
        plan_op *o = op_add(w, &p, PLAN_OP_COPY_COLUMNS, in->loc);
        o->n = PLAN_COPY_EXCLUDE;
    }
    t->doc.ops = p.ops;
    t->doc.nops = p.nops;
    t->doc.relations = p.rels;
    t->doc.nrelations = p.nrels;
    t->fields = p.types;
    t->nfields = p.ntypes;

    /* id */
    const dsl_node *id = m ? get(m, "id") : NULL;
    if (id && str_of(id)) {
        t->id = dsl_tpl_parse(w->pa, w->d, id->str, id->loc, id->quoted,
                              DSL_TPL_ALLOW_COLUMNS | DSL_TPL_ALLOW_PK);
        if (!t->id) rc = -1;
    } else {
        t->id = default_id(w, in->loc);
    }

    /* custom query (advanced rule) */
    if (in->query) {
        size_t n = strlen(in->query);
        while (n && (in->query[n - 1] == ';' || in->query[n - 1] == ' ' ||
                     in->query[n - 1] == '\n' || in->query[n - 1] == '\t'))
            n--;
        t->custom_query = arena_strndup(w->pa, in->query, n);
        t->key_columns = str_list(w, in->id_columns, 0, &t->nkeys);
        t->source_tables = in->tables;
        t->nsource_tables = in->ntables;
    }

    /* rules and push-down: the leading run of exclude rules, on fields that
     * are plain column copies, of kinds the dialect evaluates exactly */
    const rules *rs = in->rules;
    if (rs && rs->n) {
        plan_rule *v = arena_alloc(w->pa, sizeof *v * (size_t)rs->n);
        memcpy(v, rs->v, sizeof *v * (size_t)rs->n);
        int leading = 1;
        for (int i = 0; i < rs->n; i++) {
            if (v[i].include) leading = 0;
            if (!leading || in->compat || in->query) continue;
            const char *column = NULL;
            for (int j = 0; j < p.nplain; j++)
                if (!strcmp(p.plain[j].path, v[i].field)) column = p.plain[j].column;
            if (!column || !pushable(w, v[i].rule)) continue;
            v[i].column = arena_strdup(w->pa, column);
            v[i].pushed_down = 1;
        }
        t->rules = v;
        t->nrules = rs->n;
    }
    t->where = m ? sget(w, m, "where") : NULL;

    if (m) {
        const dsl_node *inc = get(m, "incremental");
        if (inc) {
            t->cursor = str_list(w, get(inc, "cursor"), 0, &t->ncursor);
            double lag = dget(inc, "lag", 0);
            t->lag_ms = (int64_t)(lag * 1000 + 0.5);
        }
        t->deleted_when = sget(w, m, "deleted_when");
        const dsl_node *im = get(m, "index_mappings");
        if (im) t->index_mappings_json = to_json(w, im);
        const dsl_node *is = get(m, "index_settings");
        if (is) t->index_settings_json = to_json(w, is);
        t->omit_nulls = bget(m, "omit_nulls", 0);
    }
    return rc;
}

static int has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* A relative file path is relative to the config file's folder, like the
 * state file next to it (absolute paths and SQLite's "file:" URIs and
 * ":memory:" are kept): a sync behaves the same from any working directory. */
static const char *beside_config(lw *w, const char *path)
{
    if (!path || !*path || path[0] == '/' || path[0] == ':' || !strncmp(path, "file:", 5))
        return path;
    const char *slash = w->file ? strrchr(w->file, '/') : NULL;
    if (!slash) return path; /* the config is in the working directory */
    while (path[0] == '.' && path[1] == '/') path += 2;
    return arena_printf(w->pa, "%.*s/%s", (int)(slash - w->file), w->file, path);
}

/* The database settings a driver cannot run without (host, username and
 * database for a server, path for a file) are required keys of a written
 * `configuration` (the checker). Without them no default connects anywhere
 * meaningful: libpq and MariaDB would fall back to the local socket and the
 * user `root`. A connector without `configuration` is the connectors' own
 * config.yml, whose settings live in the connector document: a warning, and
 * nothing may connect with it (pc->source_unset). */
static void check_source_settings(lw *w, const dsl_node *c, plan_connector *pc)
{
    const src_config *s = &pc->source;
    /* without a driver table (a compiler linked alone), a path means a file */
    int network = pc->driver ? (pc->driver->caps & SRC_CAP_NETWORK) != 0 : s->path == NULL;
    if (network ? s->host && s->username && s->database : s->path != NULL) return;
    pc->source_unset = 1;
    diag_warning(w->d, c->loc, "connector '%s' has no database settings in this file: `sync` "
                 "and `--check-source` refuse it", pc->id);
    diag_hint(w->d, "a connectors config.yml leaves them to the connector document (`serve`); "
              "to sync from this file, add configuration: { %s }",
              network ? "host, username, password, database" : "path");
}

/* The candidate closest to name (case differences count least), or NULL. */
static const char *suggest_name(lw *w, const char *name, const char *const *cands, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcasecmp(cands[i], name)) return cands[i];
    if (n > 1000) return NULL; /* a hint is not worth a quadratic compile */
    const char **v = arena_alloc(w->tmp, sizeof *v * ((size_t)n + 1));
    for (int i = 0; i < n; i++) v[i] = cands[i];
    return diag_suggest(name, v);
}

/* used[i] = 1 for each glob mapping i that is the mapping of at least one
 * table the selection names exactly (a table takes its exact mapping first,
 * then the first matching glob in file order). */
static void mark_used_globs(lw *w, const dsl_node *maps, const dsl_names *mapix,
                            const plan_connector *pc, unsigned char *used)
{
    size_t *g = arena_alloc(w->tmp, sizeof *g * (maps->n + 1)), ng = 0;
    for (size_t i = 0; i < maps->n; i++)
        if (has_glob(maps->keys[i]->str)) g[ng++] = i;
    for (int j = 0; ng && j < pc->nselection; j++) {
        const char *t = pc->selection[j];
        if (dsl_names_find(mapix, t, strlen(t)) != DSL_NAMES_NONE) continue;
        for (size_t k = 0; k < ng; k++)
            if (!fnmatch(maps->keys[g[k]]->str, t, 0)) {
                used[g[k]] = 1;
                break;
            }
    }
}

/* The mapping named name (hashed lookup in ix, the keys of maps), or NULL. */
static const dsl_node *mapping_of(const dsl_node *maps, const dsl_names *ix, const char *name)
{
    size_t i = dsl_names_find(ix, name, strlen(name));
    return i == DSL_NAMES_NONE || maps->items[i]->kind == DSL_NULL ? NULL : maps->items[i];
}

static int lower_connector(lw *w, const dsl_node *c, int idx, plan_connector *pc)
{
    int rc = 0;
    memset(pc, 0, sizeof *pc);
    pc->loc = L(w, c->loc);
    pc->id = sget(w, c, "connector_id");
    pc->service_type = sget(w, c, "service_type");
    if (!pc->id) pc->id = arena_printf(w->pa, "connector-%d", idx + 1);
    pc->driver = src_dialect_find(w->drivers, pc->service_type);
    if (!pc->driver && w->drivers) {
        const dsl_node *st = get(c, "service_type");
        diag_error(w->d, st ? st->loc : c->loc, "no source driver for service_type '%s'",
                   pc->service_type ? pc->service_type : "");
        diag_hint(w->d, "this build's drivers:");
        for (int i = 0; w->drivers[i]; i++) diag_hint(w->d, "  %s", w->drivers[i]->name);
        return -1;
    }
    w->drv = pc->driver;
    pc->index_name = sget(w, c, "index_name");
    w->conn_id = pc->id;
    if (pc->index_name) {
        const dsl_node *in = get(c, "index_name");
        entry_in none = {0};
        plan_tpl_part lit = {.kind = PLAN_TPL_LIT, .text = pc->index_name};
        plan_tpl t = {.parts = &lit, .nparts = 1, .source = pc->index_name};
        if (in) warn_upper_index(w, &none, &t, in->loc);
    }
    /* the connectors' own single-connector config.yml has no index_name (it
     * lives in Kibana): use the connectors' naming convention */
    if (!pc->index_name) pc->index_name = arena_printf(w->pa, "search-%s", pc->id);
    const dsl_node *pl = get(c, "pipeline");
    pc->pipeline = pl && pl->kind == DSL_MAP ? sget(w, pl, "name") : sget(w, c, "pipeline");
    pc->state_file = beside_config(w, sget(w, c, "state_file"));
    pc->max_concurrent_tables = (int)iget(c, "max_concurrent_tables", 1);
    pc->follow_interval = dget(c, "follow_interval", 0);
    pc->slot = sget(w, c, "replication_slot");
    pc->publication = sget(w, c, "publication");
    pc->own_publication = pc->publication == NULL;
    pc->serve_follow = bget(c, "serve_follow", 0);
    if (!pc->slot || !pc->publication) {
        /* sql2es_<connector_id> in the characters a slot name may hold */
        char *n = arena_printf(w->pa, "sql2es_%s", pc->id);
        for (char *q = n; *q; q++)
            *q = (*q >= 'A' && *q <= 'Z') ? (char)(*q - 'A' + 'a')
                 : ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9')) ? *q : '_';
        if (strlen(n) > 63) n[63] = 0;
        if (!pc->slot) pc->slot = n;
        if (!pc->publication) pc->publication = n;
    }
    pc->api_key = sget(w, c, "api_key");

    const dsl_node *cfg = get(c, "configuration");
    src_config *s = &pc->source;
    s->host = sget(w, cfg, "host");
    s->port = (int)iget(cfg, "port", 0);
    s->username = sget(w, cfg, "username");
    if (!s->username) s->username = sget(w, cfg, "user");
    s->password = sget(w, cfg, "password");
    s->database = sget(w, cfg, "database");
    s->schema = sget(w, cfg, "schema");
    s->path = sget(w, cfg, "path");
    s->path = beside_config(w, s->path);
    s->ssl_enabled = bget(cfg, "ssl_enabled", 0);
    s->ssl_ca = sget(w, cfg, "ssl_ca");
    s->fetch_size = (int)iget(cfg, "fetch_size", 0);
    s->retry_count = (int)iget(cfg, "retry_count", 0);
    s->connect_timeout = (int)dget(cfg, "connect_timeout", 0);

    check_source_settings(w, c, pc);

    const dsl_node *tables = get(cfg, "tables");
    if (!tables || (str_of(tables) && !strcmp(tables->str, "*"))) {
        pc->all_tables = 1;
    } else {
        pc->selection = str_list(w, tables, tables->kind == DSL_SCALAR, &pc->nselection);
        for (int i = 0; i < pc->nselection; i++)
            if (!strcmp(pc->selection[i], "*")) pc->all_tables = 1;
        if (pc->all_tables) {
            pc->selection = NULL;
            pc->nselection = 0;
        }
    }

    rules rs;
    const dsl_node *sr = get(c, "sync_rules");
    if (lower_rules(w, get(sr, "basic"), &rs)) rc = -1;

    const dsl_node *maps = get(c, "mappings");
    plan_table *tv = NULL;
    int nt = 0, tcap = 0;
    entry_in base = {0};
    base.index_name = pc->index_name;
    base.schema = s->schema;
    base.rules = &rs;

    dsl_names *mapix = dsl_names_of_map(w->tmp, maps); /* mapping name -> index */
    unsigned char *used = arena_alloc(w->tmp, maps && maps->kind == DSL_MAP ? maps->n + 1 : 1);
    const dsl_node *adv = get(sr, "advanced");
    if (adv && adv->kind == DSL_SEQ && adv->n) {
        pc->advanced = 1;
        for (size_t i = 0; i < adv->n; i++) {
            const dsl_node *a = adv->items[i];
            int ntab = 0;
            const char *const *tabs = str_list(w, get(a, "tables"), 0, &ntab);
            entry_in in = base;
            buf nm = BUF_INIT;
            for (int j = 0; j < ntab; j++) {
                if (j) buf_putc(&nm, '_');
                buf_puts(&nm, tabs[j]);
            }
            in.name = arena_strdup(w->pa, nm.data ? nm.data : "query");
            buf_free(&nm);
            in.loc = a->loc;
            in.query = str_of(get(a, "query"));
            in.id_columns = get(a, "id_columns");
            in.tables = tabs;
            in.ntables = ntab;
            in.compat = !maps;
            if (maps && ntab == 1) {
                const dsl_node *mm = mapping_of(maps, mapix, tabs[0]);
                if (mm) used[dsl_names_find(mapix, tabs[0], strlen(tabs[0]))] = 1;
                if (mm) {
                    in.m = expand(w, mm, 0);
                    if (!in.m) rc = -1;
                }
            }
            if (!in.query) {
                diag_error(w->d, a->loc, "an advanced rule needs a query");
                rc = -1;
                continue;
            }
            if (lower_entry(w, &in, PUSH(w->pa, tv, nt, tcap))) rc = -1;
        }
        for (size_t i = 0; maps && maps->kind == DSL_MAP && i < maps->n; i++) {
            if (used[i] || maps->items[i]->kind == DSL_NULL) continue;
            diag_warning(w->d, maps->keys[i]->loc, "mapping '%s' never applies: the advanced "
                         "rules replace the table list, and none reads %s alone",
                         maps->keys[i]->str, has_glob(maps->keys[i]->str) ? "one table"
                                                                       : "this table");
            diag_hint(w->d, "a mapping applies to an advanced rule whose `tables` lists just "
                      "that table (by its exact name)");
        }
    } else {
        int all_exact = !pc->all_tables;
        /* the selection: exact names hashed, globs tried one by one */
        dsl_names *exact = dsl_names_new(w->tmp, (size_t)pc->nselection);
        const char **globs = NULL;
        int nglobs = 0, gcap = 0;
        for (int j = 0; j < pc->nselection; j++) {
            if (has_glob(pc->selection[j]))
                *PUSH(w->tmp, globs, nglobs, gcap) = pc->selection[j];
            else
                dsl_names_add(exact, pc->selection[j], strlen(pc->selection[j]), (size_t)j);
        }
        if (maps && maps->kind == DSL_MAP && !pc->all_tables && !nglobs)
            mark_used_globs(w, maps, mapix, pc, used);
        for (int pass = 0; pass < 2 && maps && maps->kind == DSL_MAP; pass++) {
            for (size_t i = 0; i < maps->n; i++) {
                const char *name = maps->keys[i]->str;
                if (has_glob(name) != pass) continue;
                if (!pass && !pc->all_tables) {
                    int selected = dsl_names_find(exact, name, maps->keys[i]->len) != DSL_NAMES_NONE;
                    for (int j = 0; !selected && j < nglobs; j++)
                        if (!fnmatch(globs[j], name, 0)) selected = 1;
                    if (!selected) {
                        diag_warning(w->d, maps->keys[i]->loc,
                                     "mapping '%s' names a table that configuration.tables "
                                     "does not select", name);
                        const char *near = suggest_name(w, name, pc->selection, pc->nselection);
                        if (near)
                            diag_hint(w->d, "did you mean '%s'? (table names are compared "
                                      "with their case)", near);
                        else
                            diag_hint(w->d, "add it to tables, or remove the mapping");
                    }
                }
                if (pass && !pc->all_tables && !nglobs && !used[i]) {
                    diag_warning(w->d, maps->keys[i]->loc, "mapping '%s' never applies: no table "
                                 "that configuration.tables selects is left for it", name);
                    diag_hint(w->d, "a table takes its exact mapping first, then the first "
                              "matching glob in file order");
                }
                entry_in in = base;
                in.name = name;
                in.is_glob = pass;
                in.loc = maps->keys[i]->loc;
                in.m = expand(w, maps->items[i], 0);
                if (!in.m) {
                    rc = -1;
                    continue;
                }
                if (lower_entry(w, &in, PUSH(w->pa, tv, nt, tcap))) rc = -1;
            }
        }
        for (int i = 0; all_exact && i < pc->nselection; i++)
            if (has_glob(pc->selection[i]) || !mapping_of(maps, mapix, pc->selection[i]))
                all_exact = 0;
        if (!all_exact) {
            entry_in in = base;
            in.name = "*";
            in.is_default = 1;
            in.compat = !maps;
            in.loc = c->loc;
            if (lower_entry(w, &in, PUSH(w->pa, tv, nt, tcap))) rc = -1;
        }
    }
    pc->tables = tv;
    pc->ntables = nt;
    return rc;
}

/* ---- elasticsearch and service ----------------------------------------------- */

/* The value of key in map, else the default that schemas/language.yaml gives
 * key in the named map type: the one place defaults live. A checked tree has
 * every defaulted key already; this keeps plan_es complete whatever the tree
 * (no code below the compiler has defaults of its own). */
static const dsl_node *lang(const dsl_node *map, const char *type, const char *key)
{
    const dsl_node *n = get(map, key);
    if (n) return n;
    const dsl_schema *s = dsl_schema_get(NULL);
    for (size_t i = 0; s && i < s->ntypes; i++) {
        if (strcmp(s->type_names[i], type) != 0) continue;
        const dsl_skey *k = dsl_sdesc_key(dsl_sdesc_resolve(s->types[i]), key);
        return k && k->desc->def && k->desc->def->kind != DSL_NULL ? k->desc->def : NULL;
    }
    return NULL;
}

static const char *lstr(lw *w, const dsl_node *map, const char *type, const char *key)
{
    const char *v = str_of(lang(map, type, key));
    return v ? arena_strdup(w->pa, v) : NULL;
}

static double num_of(const dsl_node *n)
{
    double v = 0;
    return as_seconds(n, &v) == 0 ? v : 0;
}

static long long int_of(const dsl_node *n)
{
    long long v = 0;
    return (n && dsl_as_int(n, &v) == 0) ? v : 0;
}

static int bool_of(const dsl_node *n)
{
    int v = 0;
    return (n && dsl_as_bool(n, &v) == 0) ? v : 0;
}

#define ES_NUM(key) num_of(lang(es, "elasticsearch", key))
#define ES_INT(key) (int)int_of(lang(es, "elasticsearch", key))
#define ES_BOOL(key) bool_of(lang(es, "elasticsearch", key))
#define BULK_NUM(key) num_of(lang(b, "bulk", key))
#define BULK_INT(key) (int)int_of(lang(b, "bulk", key))

static void lower_es(lw *w, const dsl_node *es, plan_es *e)
{
    e->host = lstr(w, es, "elasticsearch", "host");
    e->api_key = sget(w, es, "api_key");
    e->username = lstr(w, es, "elasticsearch", "username");
    e->password = lstr(w, es, "elasticsearch", "password");
    e->ssl = ES_BOOL("ssl");
    e->verify_certs = ES_BOOL("verify_certs");
    e->retry_on_timeout = ES_BOOL("retry_on_timeout");
    e->gzip = ES_BOOL("gzip");
    e->ca_certs = sget(w, es, "ca_certs");
    e->request_timeout = ES_NUM("request_timeout");
    e->max_wait_duration = ES_NUM("max_wait_duration");
    e->initial_backoff_duration = ES_NUM("initial_backoff_duration");
    e->backoff_multiplier = ES_NUM("backoff_multiplier");
    e->retry_interval = ES_NUM("retry_interval");
    e->max_retries = ES_INT("max_retries");
    const dsl_node *h = get(es, "headers");
    if (h && h->kind == DSL_MAP) {
        const char **v = arena_alloc(w->pa, sizeof *v * (h->n + 1));
        for (size_t i = 0; i < h->n; i++)
            v[i] = arena_printf(w->pa, "%s: %s", h->keys[i]->str,
                                str_of(h->items[i]) ? h->items[i]->str : "");
        e->headers = v;
        e->nheaders = (int)h->n;
    } else if (h && h->kind == DSL_SEQ) {
        e->headers = str_list(w, h, 0, &e->nheaders);
    }
    const dsl_node *b = get(es, "bulk");
    e->queue_max_size = BULK_INT("queue_max_size");
    e->queue_max_mem_size = BULK_NUM("queue_max_mem_size");
    e->display_every = BULK_INT("display_every");
    e->chunk_size = BULK_INT("chunk_size");
    e->chunk_max_mem_size = BULK_NUM("chunk_max_mem_size");
    e->max_concurrency = BULK_INT("max_concurrency");
    e->bulk_max_retries = BULK_INT("max_retries");
    e->dead_letter_file = beside_config(w, sget(w, b, "dead_letter_file"));
    e->bulk_retry_interval = BULK_NUM("retry_interval");
}

static void lower_service(lw *w, const dsl_node *sv, plan_service *s)
{
    s->idling = dget(sv, "idling", 0);
    s->heartbeat = dget(sv, "heartbeat", 0);
    s->max_errors_span = dget(sv, "max_errors_span", 0);
    s->job_cleanup_interval = dget(sv, "job_cleanup_interval", 0);
    s->preflight_idle = dget(sv, "preflight_idle", 0);
    s->job_takeover_after = dget(sv, "job_takeover_after", 0);
    s->max_errors = (int)iget(sv, "max_errors", 0);
    s->max_concurrent_content_syncs = (int)iget(sv, "max_concurrent_content_syncs",
                                                iget(sv, "max_concurrent_syncs", 0));
    s->max_concurrent_access_control_syncs =
        (int)iget(sv, "max_concurrent_access_control_syncs", 0);
    s->preflight_max_attempts = (int)iget(sv, "preflight_max_attempts", 0);
    s->log_level = sget(w, sv, "log_level");
}

plan *dsl_lower(arena *pa, diag *d, const dsl_node *checked, const char *file,
                const src_driver *const *drivers)
{
    int errors_before = diag_errors(d);
    lw w = {0};
    w.drivers = drivers;
    w.pa = pa;
    w.d = d;
    w.tmp = arena_new();
    plan *p = arena_alloc(pa, sizeof *p);
    p->arena = pa;
    p->file = arena_strdup(pa, file ? file : "");
    w.file = p->file;
    w.templates = get(checked, "templates");
    if (w.templates && w.templates->kind != DSL_MAP) w.templates = NULL;
    size_t ntpl = w.templates ? w.templates->n : 0;
    w.tnames = dsl_names_of_map(w.tmp, w.templates);
    w.texp = arena_alloc(w.tmp, (ntpl + 1) * sizeof *w.texp);
    w.tstate = arena_alloc(w.tmp, ntpl + 1);
    lower_es(&w, get(checked, "elasticsearch"), &p->es);
    lower_service(&w, get(checked, "service"), &p->service);

    const dsl_node *cs = get(checked, "connectors");
    plan_connector *cv = NULL;
    int nc = 0, ccap = 0;
    if (cs && cs->kind == DSL_SEQ) {
        for (size_t i = 0; i < cs->n; i++)
            lower_connector(&w, cs->items[i], (int)i, PUSH(pa, cv, nc, ccap));
    } else if (get(checked, "service_type")) {
        /* an unchecked tree: the single-connector form */
        lower_connector(&w, checked, 0, PUSH(pa, cv, nc, ccap));
    }
    p->connectors = cv;
    p->nconnectors = nc;
    arena_free(w.tmp);
    if (diag_errors(d) > errors_before) return NULL;
    return p;
}
