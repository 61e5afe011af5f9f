/* check.c - checks a loaded configuration tree against the language
 * description (schemas/language.yaml, see schema.h) and applies defaults.
 *
 * Stage: YAML tree -> (this) checked tree -> lowering (dsl/lower.c) -> plan.
 * The walk is driven by the description: types, ranges, enums, unknown keys
 * (with did-you-mean), required keys, aliases and defaults come from data;
 * the checks that data cannot express (service types, Kibana's sync-rule
 * validation, transforms, regexes, template references and cycles) are the
 * `check:` hooks below. Errors are reported at the node's location and the
 * walk goes on, so one run reports every error of the file.
 * It does not expand templates or globs, and does not parse `{{ }}`
 * expressions or SQL (the lowering does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/regex.h"
#include "dsl/dsl.h"
#include "dsl/schema.h"

typedef struct ctx {
    arena *a;
    diag *d;
    const dsl_schema *s;
    const char *service; /* canonical service_type of the connector being checked */
    int in_default;      /* walking a default: required keys are not asked for */
    dsl_node **ext;      /* `extends` lists seen (checked seqs), for the final pass */
    size_t next, capext;
} ctx;

static dsl_node *walk(ctx *c, const dsl_sdesc *site, const dsl_node *in, const char *name);

/* ---- small helpers ----------------------------------------------------- */

static int is_scalar(const dsl_node *n) { return n && n->kind == DSL_SCALAR; }

static int is_str(const dsl_sdesc *d)
{
    switch (d->type) {
    case DSL_T_STRING:
    case DSL_T_SECRET:
    case DSL_T_SQL:
    case DSL_T_TEMPLATE:
    case DSL_T_REGEX:
    case DSL_T_GLOB:
        return 1;
    default:
        return 0;
    }
}

/* Node kind a description accepts: 0 scalar, 1 list, 2 map, 3 anything. */
static int kind_of(const dsl_sdesc *d)
{
    d = dsl_sdesc_resolve(d);
    switch (d->type) {
    case DSL_T_MAP:
    case DSL_T_MAP_OF:
        return 2;
    case DSL_T_LIST_OF:
    case DSL_T_TUPLE:
        return 1;
    case DSL_T_ANY:
    case DSL_T_OR:
        return 3;
    default:
        return 0;
    }
}

static int accepts_kind(const dsl_sdesc *d, dsl_kind k)
{
    d = dsl_sdesc_resolve(d);
    if (d->type == DSL_T_OR) {
        for (size_t i = 0; i < d->nalts; i++)
            if (accepts_kind(d->alts[i], k)) return 1;
        return 0;
    }
    int want = kind_of(d);
    if (want == 3) return 1;
    if (k == DSL_SCALAR || k == DSL_NULL) return want == 0;
    return want == (k == DSL_SEQ ? 1 : 2);
}

static dsl_node *copy_scalar(ctx *c, const dsl_node *in)
{
    dsl_node *n = arena_alloc(c->a, sizeof *n);
    *n = *in;
    n->items = n->keys = NULL;
    n->n = 0;
    if (in->str) {
        char *s = arena_alloc(c->a, in->len + 1);
        memcpy(s, in->str, in->len);
        n->str = s;
    }
    return n;
}

static dsl_node *copy_tree(ctx *c, const dsl_node *in)
{
    if (in->kind == DSL_SCALAR || in->kind == DSL_NULL) return copy_scalar(c, in);
    dsl_node *n = in->kind == DSL_MAP ? dsl_new_map(c->a, in->loc) : dsl_new_seq(c->a, in->loc);
    for (size_t i = 0; i < in->n; i++) {
        if (in->kind == DSL_MAP)
            dsl_map_add(c->a, n, copy_scalar(c, in->keys[i]), copy_tree(c, in->items[i]));
        else
            dsl_seq_push(c->a, n, copy_tree(c, in->items[i]));
    }
    return n;
}

static void relocate(dsl_node *n, src_loc loc)
{
    n->loc = loc;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) relocate(n->keys[i], loc);
        relocate(n->items[i], loc);
    }
}

/* The same scalar without quotes (so that "5432" converts like 5432). */
static dsl_node plain(const dsl_node *in)
{
    dsl_node t = *in;
    t.quoted = 0;
    return t;
}

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0) return 1;
    return 0;
}

static const char *join(ctx *c, const char *const *list)
{
    char *out = arena_strdup(c->a, "");
    for (size_t i = 0; list && list[i]; i++) out = arena_printf(c->a, "%s%s%s", out, i ? ", " : "", list[i]);
    return out;
}

static const char *describe_expected(ctx *c, const dsl_sdesc *d)
{
    d = dsl_sdesc_resolve(d);
    switch (d->type) {
    case DSL_T_INT: return "an integer";
    case DSL_T_NUMBER: return "a number";
    case DSL_T_BOOL: return "true or false";
    case DSL_T_DURATION: return "a duration (\"250ms\", \"30s\", \"5m\", \"1h\" or seconds)";
    case DSL_T_ENUM: return arena_printf(c->a, "one of: %s", join(c, d->values));
    case DSL_T_NONE: return "no value";
    case DSL_T_MAP:
    case DSL_T_MAP_OF: return "a map";
    case DSL_T_LIST_OF:
    case DSL_T_TUPLE: return "a list";
    case DSL_T_ANY: return "a value";
    case DSL_T_OR: {
        const char *s = "";
        for (size_t i = 0; i < d->nalts; i++)
            s = arena_printf(c->a, "%s%s%s", s, i ? " or " : "", describe_expected(c, d->alts[i]));
        return s;
    }
    default: return "a string";
    }
}

static const char *describe_got(ctx *c, const dsl_node *n, int sensitive)
{
    if (n->kind == DSL_SEQ) return "a list";
    if (n->kind == DSL_MAP) return "a map";
    if (n->kind == DSL_NULL) return "an empty value";
    if (sensitive) return "a value (hidden)";
    const char *txt = n->str;
    if (n->len > 40) txt = arena_printf(c->a, "%.37s...", n->str);
    if (!n->quoted) {
        long long i;
        double v;
        int b;
        if (dsl_as_bool(n, &b) == 0) return arena_printf(c->a, "boolean %s", txt);
        if (dsl_as_int(n, &i) == 0) return arena_printf(c->a, "integer %s", txt);
        if (dsl_as_double(n, &v) == 0) return arena_printf(c->a, "number %s", txt);
    }
    return arena_printf(c->a, "string \"%s\"", txt);
}

static void type_error(ctx *c, const dsl_sdesc *site, const dsl_node *in, const char *name)
{
    const char *exp = describe_expected(c, site);
    const char *got = describe_got(c, in, site->sensitive);
    if (name)
        diag_error(c->d, in->loc, "%s: expected %s, got %s", name, exp, got);
    else
        diag_error(c->d, in->loc, "expected %s, got %s", exp, got);
}

/* Location of byte `off` of a scalar's text: exact for one-line plain and
 * quoted scalars (quoted text starts one column after the quote). */
static src_loc scalar_col(const dsl_node *n, size_t off)
{
    src_loc l = n->loc;
    if (memchr(n->str, '\n', n->len) == NULL) l.col += (int)off + (n->quoted ? 1 : 0);
    return l;
}

static const eng_regex *compile_re(ctx *c, const dsl_node *n, unsigned flags, const char *what)
{
    char err[256];
    size_t off = 0;
    eng_regex *re = eng_regex_compile(c->a, n->str, flags, &off, err, sizeof err);
    if (!re) diag_error(c->d, scalar_col(n, off), "invalid %s: %s", what, err);
    return re;
}

/* ---- ranges ------------------------------------------------------------ */

static int check_range(ctx *c, const dsl_sdesc *site, const dsl_sdesc *d, const dsl_node *in,
                       const char *name, double v)
{
    const dsl_sdesc *b = site->has_min || site->has_max || site->has_gt ? site : d;
    const char *nm = name ? name : "value";
    if (b->has_gt && !(v > b->gt)) {
        diag_error(c->d, in->loc, "%s must be > %g", nm, b->gt);
        return -1;
    }
    if (b->has_min && v < b->min) {
        diag_error(c->d, in->loc, "%s must be >= %g", nm, b->min);
        return -1;
    }
    if (b->has_max && v > b->max) {
        diag_error(c->d, in->loc, "%s must be <= %g", nm, b->max);
        return -1;
    }
    return 0;
}

static int check_count(ctx *c, const dsl_sdesc *site, const dsl_sdesc *d, const dsl_node *in,
                       const char *name)
{
    long mn = site->min_items >= 0 ? site->min_items : d->min_items;
    long mx = site->max_items >= 0 ? site->max_items : d->max_items;
    const char *nm = name ? name : "value";
    const char *unit = in->kind == DSL_MAP ? "entr" : "item";
    if (mn >= 0 && (long)in->n < mn) {
        if (mn == 1)
            diag_error(c->d, in->loc, "%s must not be empty", nm);
        else
            diag_error(c->d, in->loc, "%s needs at least %ld %s%s", nm, mn, unit,
                       in->kind == DSL_MAP ? "ies" : "s");
        return -1;
    }
    if (mx >= 0 && (long)in->n > mx) {
        diag_error(c->d, in->loc, "%s takes at most %ld %s%s, got %zu", nm, mx, unit,
                   in->kind == DSL_MAP ? (mx == 1 ? "y" : "ies") : (mx == 1 ? "" : "s"), in->n);
        return -1;
    }
    return 0;
}

/* ---- hooks (`check:` in language.yaml) --------------------------------- */

/* Whether transform name takes an argument: its key in the map form of the
 * language's `transform` type is not `none` (the names are listed there). */
static int transform_needs_arg(const ctx *c, const char *name)
{
    for (size_t i = 0; i < c->s->ntypes; i++) {
        if (strcmp(c->s->type_names[i], "transform") != 0) continue;
        const dsl_sdesc *t = dsl_sdesc_resolve(c->s->types[i]);
        for (size_t k = 0; t->type == DSL_T_OR && k < t->nalts; k++) {
            const dsl_sdesc *alt = dsl_sdesc_resolve(t->alts[k]);
            const dsl_skey *key = alt->type == DSL_T_MAP ? dsl_sdesc_key(alt, name) : NULL;
            if (key) return dsl_sdesc_resolve(key->desc)->type != DSL_T_NONE;
        }
    }
    return 0;
}

/* Before the structural walk; -1 = reported, stop. */
static int pre_check(ctx *c, const char *chk, const dsl_node *in)
{
    if (!chk) return 0;
    if (strcmp(chk, "transform") == 0 && is_scalar(in) && transform_needs_arg(c, in->str)) {
        diag_error(c->d, in->loc, "transform '%s' needs an argument", in->str);
        diag_hint(c->d, "write { %s: ... }", in->str);
        return -1;
    }
    return 0;
}

static int hook_service_type(ctx *c, const dsl_node *out)
{
    if (dsl_service_canonical(c->s, out->str)) return 0;
    if (strcmp(out->str, "mssql") == 0 || strcmp(out->str, "oracle") == 0) {
        diag_error(c->d, out->loc, "service_type '%s' is not built into sql2es", out->str);
        diag_hint(c->d, "built-in drivers: %s", c->s->service_list);
        return -1;
    }
    diag_error(c->d, out->loc, "unknown service_type '%s'", out->str);
    const char *s = diag_suggest(out->str, c->s->service_spellings);
    if (s)
        diag_hint(c->d, "did you mean '%s'? (built-in drivers: %s)", s, c->s->service_list);
    else
        diag_hint(c->d, "built-in drivers: %s", c->s->service_list);
    return -1;
}

static int hook_connectors(ctx *c, const dsl_node *out)
{
    int rc = 0;
    dsl_names *ids = dsl_names_new(c->a, out->n);
    for (size_t i = 0; i < out->n; i++) {
        const dsl_node *id = dsl_map_get(out->items[i], "connector_id");
        if (!is_scalar(id)) continue;
        size_t j = dsl_names_add(ids, id->str, id->len, i);
        if (j != i) {
            const dsl_node *o = dsl_map_get(out->items[j], "connector_id");
            diag_error(c->d, id->loc, "duplicate connector_id '%s' (first at line %d)", id->str,
                       o->loc.line);
            rc = -1;
        }
    }
    return rc;
}

static int hook_basic_rule(ctx *c, const dsl_node *in, const dsl_node *out)
{
    int rc = 0;
    const char *const must[] = {"field", "value"};
    for (int i = 0; i < 2; i++) {
        const dsl_node *n = dsl_map_get(in, must[i]);
        if (is_scalar(n) && n->len == 0) {
            diag_error(c->d, n->loc, "%s must not be empty", must[i]);
            rc = -1;
        }
    }
    if (rc) return rc;
    const dsl_node *rule = dsl_map_get(out, "rule");
    const dsl_node *value = dsl_map_get(in, "value");
    if (!is_scalar(rule) || !is_scalar(value) || strcmp(rule->str, "regex") != 0) return 0;
    return compile_re(c, value, ENG_RE_ANCHORED, "regex") ? 0 : -1;
}

static int hook_basic_rules(ctx *c, const dsl_node *out)
{
    int rc = 0;
    dsl_names *seen = dsl_names_new(c->a, out->n);
    for (size_t i = 0; i < out->n; i++) {
        const dsl_node *r = out->items[i];
        const dsl_node *f = dsl_map_get(r, "field"), *ru = dsl_map_get(r, "rule"),
                       *v = dsl_map_get(r, "value");
        if (!is_scalar(f) || !is_scalar(ru) || !is_scalar(v)) continue;
        if (strcmp(ru->str, "regex") == 0 && strcmp(f->str, "_") != 0 &&
            eng_regex_is_match_all(v->str)) {
            diag_error(c->d, v->loc, "regex '%s' matches every value", v->str);
            diag_hint(c->d, "only the default rule (field '_') may match everything; "
                            "remove the rule or narrow the pattern");
            rc = -1;
        }
        /* Kibana's duplicate check: same field, rule and value (hashed) */
        size_t klen = f->len + ru->len + v->len + 2;
        char *k = arena_alloc(c->a, klen + 1);
        memcpy(k, f->str, f->len);
        memcpy(k + f->len + 1, ru->str, ru->len);
        memcpy(k + f->len + ru->len + 2, v->str, v->len);
        size_t j = dsl_names_add(seen, k, klen, i);
        if (j != i) {
            /* rules from a connector document (the service) have no lines: their ids */
            const dsl_node *first = out->items[j], *fid = dsl_map_get(first, "id");
            char where[160];
            if (first->loc.line > 0)
                snprintf(where, sizeof where, "the rule at line %d", first->loc.line);
            else if (is_scalar(fid))
                snprintf(where, sizeof where, "rule '%.100s'", fid->str);
            else
                snprintf(where, sizeof where, "an earlier rule");
            diag_error(c->d, r->loc, "duplicate rule: same field, rule and value as %s", where);
            rc = -1;
        }
    }
    return rc;
}

static int hook_transform(ctx *c, const dsl_node *in, const dsl_node *out)
{
    if (out->kind != DSL_MAP || out->n != 1) return 0;
    const char *name = out->keys[0]->str;
    if (strcmp(name, "regex_extract") != 0) return 0;
    const dsl_node *arg = in->items[0];
    if (arg->kind != DSL_SEQ || arg->n != 2) return 0;
    const dsl_node *pat = arg->items[0], *grp = out->items[0]->items[1];
    long long g;
    if (!is_scalar(pat) || dsl_as_int(grp, &g) != 0) return 0;
    char err[256];
    size_t off;
    eng_regex *re = eng_regex_compile(c->a, pat->str, 0, &off, err, sizeof err);
    if (!re) return 0; /* reported by the regex type */
    int n = eng_regex_groups(re);
    if (g > n) {
        diag_error(c->d, arg->items[1]->loc, "capture group %lld does not exist: the pattern has %d group%s",
                   g, n, n == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

static int hook_field(ctx *c, const dsl_node *in, const dsl_node *out)
{
    int rc = 0;
    const dsl_node *from = dsl_map_get(in, "from"), *tpl = dsl_map_get(in, "template");
    if (from && tpl) {
        diag_error(c->d, tpl->loc, "a field takes either 'from' or 'template', not both");
        rc = -1;
    }
    const dsl_node *type = dsl_map_get(out, "type");
    const dsl_node *sf = dsl_map_get(in, "scaling_factor");
    int scaled = is_scalar(type) && strcmp(type->str, "scaled_float") == 0;
    if (scaled && !sf) {
        diag_error(c->d, type->loc, "type scaled_float needs scaling_factor");
        rc = -1;
    } else if (!scaled && sf && sf->kind != DSL_NULL) {
        diag_error(c->d, sf->loc, "scaling_factor is only used with type: scaled_float");
        rc = -1;
    }
    return rc;
}

static int hook_glob_keys(ctx *c, const dsl_node *in)
{
    int rc = 0;
    for (size_t i = 0; i < in->n; i++) {
        const dsl_node *k = in->keys[i];
        int open = -1;
        for (size_t j = 0; j < k->len; j++) {
            if (k->str[j] == '[' && open < 0) open = (int)j;
            else if (k->str[j] == ']' && open >= 0 && (int)j > open + 1) open = -1;
        }
        if (open >= 0) {
            diag_error(c->d, scalar_col(k, (size_t)open), "unclosed '[' in table glob '%s'", k->str);
            rc = -1;
        }
        if (k->len == 0) {
            diag_error(c->d, k->loc, "empty table name");
            rc = -1;
        }
    }
    return rc;
}

static void add_extends(ctx *c, dsl_node *seq)
{
    if (c->next == c->capext) {
        size_t nc = c->capext ? c->capext * 2 : 16;
        c->ext = arena_realloc(c->a, c->ext, c->capext * sizeof *c->ext, nc * sizeof *c->ext);
        c->capext = nc;
    }
    c->ext[c->next++] = seq;
}

/* The settings form of a field (the map alternative of type `field`). */
static const dsl_sdesc *field_settings(ctx *c)
{
    for (size_t i = 0; i < c->s->ntypes; i++) {
        if (strcmp(c->s->type_names[i], "field") != 0) continue;
        const dsl_sdesc *f = dsl_sdesc_resolve(c->s->types[i]);
        for (size_t j = 0; f->type == DSL_T_OR && j < f->nalts; j++) {
            const dsl_sdesc *alt = dsl_sdesc_resolve(f->alts[j]);
            if (alt->type == DSL_T_MAP) return alt;
        }
    }
    return NULL;
}

static int is_group(const dsl_sdesc *settings, const dsl_node *v)
{
    if (!settings || v->kind != DSL_MAP || v->n == 0) return 0;
    for (size_t i = 0; i < v->n; i++)
        if (dsl_sdesc_key(settings, v->keys[i]->str)) return 0;
    return 1;
}

static void flatten_into(ctx *c, const dsl_sdesc *settings, dsl_node *out, const char *prefix,
                         const dsl_node *in)
{
    for (size_t i = 0; i < in->n; i++) {
        const dsl_node *k = in->keys[i], *v = in->items[i];
        const char *name = prefix ? arena_printf(c->a, "%s.%s", prefix, k->str) : k->str;
        if (is_group(settings, v)) {
            flatten_into(c, settings, out, name, v);
            continue;
        }
        dsl_node *key = copy_scalar(c, k);
        key->str = arena_strdup(c->a, name);
        key->len = strlen(name);
        dsl_map_put(c->a, out, key, (dsl_node *)v);
    }
}

/* `fields`: the loader turns a dotted target (`address.city: city`) into
 * nested maps; a nested map none of whose keys is a field setting is such a
 * group and is written back as dotted names, the documented form. */
static const dsl_node *flatten_fields(ctx *c, const dsl_node *in)
{
    const dsl_sdesc *settings = field_settings(c);
    int any = 0;
    for (size_t i = 0; i < in->n; i++) any |= is_group(settings, in->items[i]);
    if (!any) return in;
    dsl_node *out = dsl_new_map(c->a, in->loc);
    flatten_into(c, settings, out, NULL, in);
    return out;
}

static int post_check(ctx *c, const char *chk, const dsl_node *in, dsl_node *out)
{
    if (!chk) return 0;
    if (!strcmp(chk, "service_type")) return hook_service_type(c, out);
    if (!strcmp(chk, "connectors")) return hook_connectors(c, out);
    if (!strcmp(chk, "basic_rule")) return hook_basic_rule(c, in, out);
    if (!strcmp(chk, "basic_rules")) return hook_basic_rules(c, out);
    if (!strcmp(chk, "transform")) return hook_transform(c, in, out);
    if (!strcmp(chk, "field")) return out->kind == DSL_MAP ? hook_field(c, in, out) : 0;
    if (!strcmp(chk, "glob_keys")) return hook_glob_keys(c, in);
    if (!strcmp(chk, "extends")) {
        if (out->kind == DSL_SEQ) add_extends(c, out);
        return 0;
    }
    return 0; /* connector, config: handled around the walk */
}

/* ---- the walk ---------------------------------------------------------- */

static dsl_node *walk_scalar(ctx *c, const dsl_sdesc *site, const dsl_sdesc *d,
                             const dsl_node *in, const char *name)
{
    if (in->kind != DSL_SCALAR) {
        type_error(c, site, in, name);
        return NULL;
    }
    dsl_node p = plain(in);
    char num[64];
    switch (d->type) {
    case DSL_T_INT: {
        long long v;
        if (dsl_as_int(&p, &v) != 0) break;
        if (check_range(c, site, d, in, name, (double)v)) return NULL;
        snprintf(num, sizeof num, "%lld", v);
        return dsl_new_scalar(c->a, num, 0, in->loc);
    }
    case DSL_T_NUMBER: {
        double v;
        if (dsl_as_double(&p, &v) != 0) break;
        if (check_range(c, site, d, in, name, v)) return NULL;
        dsl_node *o = copy_scalar(c, in);
        o->quoted = 0;
        return o;
    }
    case DSL_T_BOOL: {
        int v;
        if (dsl_as_bool(&p, &v) != 0) break;
        return dsl_new_scalar(c->a, v ? "true" : "false", 0, in->loc);
    }
    case DSL_T_DURATION: {
        double v;
        if (dsl_parse_duration(in->str, &v) != 0) break;
        if (check_range(c, site, d, in, name, v)) return NULL;
        snprintf(num, sizeof num, "%.15g", v);
        return dsl_new_scalar(c->a, num, 0, in->loc);
    }
    case DSL_T_ENUM:
        for (size_t i = 0; d->values[i]; i++) {
            int eq = d->ignore_case ? strcasecmp(d->values[i], in->str) == 0
                                    : strcmp(d->values[i], in->str) == 0;
            if (eq) return copy_scalar(c, in);
        }
        {
            const char *noun = site->noun ? site->noun : d->noun ? d->noun : name ? name : "value";
            diag_error(c->d, in->loc, "unknown %s '%s'", noun, in->str);
            const char *s = diag_suggest(in->str, d->values);
            if (s)
                diag_hint(c->d, "did you mean '%s'?", s);
            else
                diag_hint(c->d, "expected one of: %s", join(c, d->values));
        }
        return NULL;
    case DSL_T_REGEX:
        if (!compile_re(c, in, 0, "regex")) return NULL;
        return copy_scalar(c, in);
    default: /* string, secret, sql, template, glob: any scalar is text */
        if (is_str(d)) return copy_scalar(c, in);
        break;
    }
    type_error(c, site, in, name);
    return NULL;
}

/* "a connector" when key k belongs to the named map type `connector`, for
 * hints about keys written at the wrong level. */
static const char *key_owner(ctx *c, const char *k)
{
    for (size_t i = 0; i < c->s->ntypes; i++) {
        const dsl_sdesc *t = dsl_sdesc_resolve(c->s->types[i]);
        if (t->type == DSL_T_MAP && dsl_sdesc_key(t, k)) {
            const char *n = c->s->type_names[i];
            int vowel = strchr("aeiou", n[0]) != NULL;
            return arena_printf(c->a, "%s `%s`", vowel ? "an" : "a", n);
        }
    }
    return NULL;
}

/* Last source line of a value (over-estimated for multi-line scalars). */
static int last_line(const dsl_node *n)
{
    int last = n->loc.line;
    if (n->kind == DSL_SCALAR && n->str && memchr(n->str, '\n', n->len)) {
        for (size_t i = 0; i < n->len; i++) last += n->str[i] == '\n';
        last++; /* a block scalar starts on the line of its | or > */
    }
    for (size_t i = 0; i < n->n; i++) {
        int l = last_line(n->items[i]);
        if (l > last) last = l;
    }
    return last;
}

/* The value of a secret key is never shown in a message's source line:
 * sensitive keys of the language, keys named like a secret, and unknown
 * keys whose nearest known key is sensitive (`pasword: ...`). */
static void hide_value(ctx *c, const dsl_node *v)
{
    diag_hide_source(c->d, v->loc.file, v->loc.line, v->loc.col, last_line(v), 0);
}

static dsl_node *walk_map(ctx *c, const dsl_sdesc *d, const dsl_node *in)
{
    int failed = 0;
    dsl_node *out = dsl_new_map(c->a, in->loc);
    size_t *seen = arena_alloc(c->a, (d->nkeys + 1) * sizeof *seen); /* input index + 1 */
    const char *saved_service = c->service;
    if (d->check && strcmp(d->check, "connector") == 0) {
        const dsl_node *st = dsl_map_get(in, "service_type");
        c->service = is_scalar(st) ? dsl_service_canonical(c->s, st->str) : NULL;
    }
    for (size_t i = 0; i < in->n; i++) {
        const dsl_node *kn = in->keys[i];
        const char *k = kn->str;
        size_t j;
        int how = 0; /* 0 canonical, 1 alias (deprecated), 2 synonym */
        for (j = 0; j < d->nkeys; j++) {
            const dsl_sdesc *kd = d->keys[j].desc;
            if (!strcmp(d->keys[j].name, k)) break;
            if (in_list(kd->aliases, k)) { how = 1; break; }
            if (in_list(kd->synonyms, k)) { how = 2; break; }
        }
        if (j == d->nkeys) {
            diag_error(c->d, kn->loc, "unknown key '%s'", k);
            const char **cands = arena_alloc(c->a, (d->nkeys * 4 + 1) * sizeof *cands);
            size_t nc = 0;
            for (size_t m = 0; m < d->nkeys; m++) cands[nc++] = d->keys[m].name;
            const char *s = diag_suggest(k, cands);
            const dsl_skey *near = s ? dsl_sdesc_key(d, s) : NULL;
            if ((near && near->desc->sensitive) || diag_is_secret_name(k, kn->len))
                hide_value(c, in->items[i]);
            const char *owner = s ? NULL : key_owner(c, k);
            if (s) diag_hint(c->d, "did you mean '%s'?", s);
            else if (owner) diag_hint(c->d, "'%s' is a key of %s; known keys here: %s", k, owner, join(c, cands));
            else diag_hint(c->d, "known keys: %s", join(c, cands));
            failed = 1;
            continue;
        }
        const char *canon = d->keys[j].name;
        const dsl_sdesc *kd = d->keys[j].desc;
        if (kd->sensitive) hide_value(c, in->items[i]);
        if (how == 1) {
            diag_warning(c->d, kn->loc, "'%s' is deprecated, use '%s'", k, canon);
        }
        if (seen[j]) {
            diag_error(c->d, kn->loc, "'%s' repeats '%s' (the same setting)", k,
                       in->keys[seen[j] - 1]->str);
            failed = 1;
            continue;
        }
        if (kd->services && c->service && !in_list(kd->services, c->service)) {
            diag_error(c->d, kn->loc, "'%s' is not a setting of service_type '%s'", k, c->service);
            diag_hint(c->d, "'%s' applies to: %s", canon, join(c, kd->services));
            failed = 1;
            continue;
        }
        const dsl_node *v = in->items[i];
        const dsl_sdesc *kr = dsl_sdesc_resolve(kd);
        if (v->kind == DSL_NULL && kr->type != DSL_T_NONE && kr->type != DSL_T_ANY)
            continue; /* null counts as absent */
        seen[j] = i + 1;
        if (kd->unused && !c->in_default) /* accepted for compatibility, not executed */
            diag_warning(c->d, kn->loc, "'%s' is accepted and not used: %s", k, kd->unused);
        dsl_node *o = walk(c, kd, v, canon);
        if (!o) {
            failed = 1;
            continue;
        }
        dsl_map_add(c->a, out, dsl_new_scalar(c->a, canon, 0, kn->loc), o);
    }
    for (size_t j = 0; j < d->nkeys; j++) {
        if (seen[j]) continue;
        const dsl_sdesc *kd = d->keys[j].desc;
        int applies = !kd->services || !c->service || in_list(kd->services, c->service);
        if (kd->required && !c->in_default && applies && (!kd->services || c->service)) {
            diag_error(c->d, in->loc, "missing required key '%s'", d->keys[j].name);
            if (kd->services) /* a database setting: no default connects anywhere sensible */
                diag_hint(c->d, "service_type '%s' needs it: no default is assumed (not the "
                          "local socket, not the user root)", c->service);
            failed = 1;
            continue;
        }
        const dsl_node *def = kd->def;
        if (kd->def_by_service) def = c->service ? dsl_map_get(kd->def_by_service, c->service) : NULL;
        if (!def || !applies) continue;
        if (kd->services && !c->service) continue;
        int saved = c->in_default;
        c->in_default = 1;
        dsl_node *o = walk(c, kd, def, d->keys[j].name);
        c->in_default = saved;
        if (!o) {
            failed = 1;
            continue;
        }
        relocate(o, in->loc);
        dsl_map_add(c->a, out, dsl_new_scalar(c->a, d->keys[j].name, 0, in->loc), o);
    }
    c->service = saved_service;
    return failed ? NULL : out;
}

static dsl_node *walk(ctx *c, const dsl_sdesc *site, const dsl_node *in, const char *name)
{
    const dsl_sdesc *d = dsl_sdesc_resolve(site);
    const char *chk1 = site->check, *chk2 = d != site ? d->check : NULL;
    if (pre_check(c, chk1, in) || pre_check(c, chk2, in)) return NULL;
    if (chk1 && strcmp(chk1, "fields") == 0 && in->kind == DSL_MAP) in = flatten_fields(c, in);
    dsl_node *out = NULL;
    switch (d->type) {
    case DSL_T_ANY:
        out = copy_tree(c, in);
        break;
    case DSL_T_NONE:
        if (in->kind != DSL_NULL) {
            diag_error(c->d, in->loc, "'%s' takes no argument", name ? name : "value");
            return NULL;
        }
        out = copy_scalar(c, in);
        break;
    case DSL_T_MAP:
        if (in->kind != DSL_MAP) {
            type_error(c, site, in, name);
            return NULL;
        }
        if (check_count(c, site, d, in, name)) return NULL;
        out = walk_map(c, d, in);
        break;
    case DSL_T_MAP_OF:
    case DSL_T_LIST_OF: {
        int is_map = d->type == DSL_T_MAP_OF;
        if (in->kind != (is_map ? DSL_MAP : DSL_SEQ)) {
            type_error(c, site, in, name);
            return NULL;
        }
        if (check_count(c, site, d, in, name)) return NULL;
        int failed = 0;
        const dsl_sdesc *of = dsl_sdesc_resolve(d->of);
        out = is_map ? dsl_new_map(c->a, in->loc) : dsl_new_seq(c->a, in->loc);
        for (size_t i = 0; i < in->n; i++) {
            const dsl_node *v = in->items[i];
            dsl_node *o;
            if (is_map && v->kind == DSL_NULL && (is_str(of) || of->type == DSL_T_ANY))
                o = copy_scalar(c, v);
            else
                o = walk(c, d->of, v, name);
            if (!o) {
                failed = 1;
                continue;
            }
            if (is_map)
                dsl_map_add(c->a, out, copy_scalar(c, in->keys[i]), o);
            else
                dsl_seq_push(c->a, out, o);
        }
        if (failed) return NULL;
        break;
    }
    case DSL_T_TUPLE: {
        if (in->kind != DSL_SEQ || in->n != d->nalts) {
            if (in->kind == DSL_SEQ)
                diag_error(c->d, in->loc, "%s expects a list of %zu values%s%s, got %zu", name ? name : "value",
                           d->nalts, site->help ? ": " : "", site->help ? site->help : "", in->n);
            else
                type_error(c, site, in, name);
            return NULL;
        }
        int failed = 0;
        out = dsl_new_seq(c->a, in->loc);
        for (size_t i = 0; i < in->n; i++) {
            dsl_node *o = walk(c, d->alts[i], in->items[i], name);
            if (!o) failed = 1;
            else dsl_seq_push(c->a, out, o);
        }
        if (failed) return NULL;
        break;
    }
    case DSL_T_OR: {
        const dsl_sdesc *alt = NULL;
        for (size_t i = 0; i < d->nalts && !alt; i++)
            if (accepts_kind(d->alts[i], in->kind)) alt = d->alts[i];
        if (!alt) {
            type_error(c, site, in, name);
            return NULL;
        }
        out = walk(c, alt, in, name);
        if (!out) return NULL;
        if ((site->as_list || d->as_list) && out->kind != DSL_SEQ) {
            dsl_node *seq = dsl_new_seq(c->a, in->loc);
            dsl_seq_push(c->a, seq, out);
            out = seq;
        }
        break;
    }
    case DSL_T_REF:
        return NULL; /* unreachable: resolved */
    default:
        out = walk_scalar(c, site, d, in, name);
        if (!out) return NULL;
        break;
    }
    if (!out) return NULL;
    if (post_check(c, chk1, in, out) || post_check(c, chk2, in, out)) return NULL;
    return out;
}

/* ---- whole-file checks -------------------------------------------------- */

static const char *const *template_names(ctx *c, const dsl_node *templates)
{
    size_t n = templates ? templates->n : 0;
    const char **names = arena_alloc(c->a, (n + 1) * sizeof *names);
    for (size_t i = 0; i < n; i++) names[i] = templates->keys[i]->str;
    return names;
}

static void check_extends_names(ctx *c, const dsl_node *templates)
{
    const char *const *names = template_names(c, templates);
    for (size_t i = 0; i < c->next; i++) {
        const dsl_node *seq = c->ext[i];
        for (size_t j = 0; j < seq->n; j++) {
            const dsl_node *it = seq->items[j];
            if (!is_scalar(it) || dsl_map_get(templates, it->str)) continue;
            diag_error(c->d, it->loc, "unknown template '%s'", it->str);
            const char *s = diag_suggest(it->str, names);
            if (s) diag_hint(c->d, "did you mean '%s'?", s);
            else if (names[0]) diag_hint(c->d, "templates: %s", join(c, names));
            else diag_hint(c->d, "define it under the top-level `templates:` map");
        }
    }
}

/* Depth-first search over template `extends` (iterative: no C recursion
 * however long the chain), each template visited once. Reports each cycle
 * once with its chain ("a -> b -> a") at the reference that closes it, and
 * a chain longer than DSL_MAX_EXTENDS_DEPTH templates once, as a limit. */
typedef struct dfs_frame {
    size_t t, next; /* template, next `extends` item to follow */
} dfs_frame;

static const dsl_node *extends_of(const dsl_node *templates, size_t t)
{
    const dsl_node *ext = dsl_map_get(templates->items[t], "extends");
    return ext && ext->kind == DSL_SEQ ? ext : NULL;
}

static const char *chain_text(ctx *c, const dsl_node *templates, const dfs_frame *st, size_t from,
                              size_t to, const char *last)
{
    buf b = BUF_INIT;
    size_t shown = 0;
    for (size_t k = from; k < to; k++, shown++) {
        if (to - from > 12 && shown == 5) { /* a long chain: its ends */
            buf_printf(&b, "... (%zu more) -> ", to - from - 10);
            k = to - 5;
        }
        buf_printf(&b, "%s -> ", templates->keys[st[k].t]->str);
    }
    buf_puts(&b, last);
    const char *r = arena_strdup(c->a, b.data ? b.data : "");
    buf_free(&b);
    return r;
}

static void check_cycles(ctx *c, const dsl_node *templates)
{
    if (!templates || templates->kind != DSL_MAP || templates->n == 0) return;
    size_t n = templates->n;
    dsl_names *ix = dsl_names_of_map(c->a, templates);
    unsigned char *color = arena_alloc(c->a, n);
    size_t *height = arena_alloc(c->a, n * sizeof *height); /* templates in the longest chain */
    dfs_frame *st = arena_alloc(c->a, n * sizeof *st);
    int deep_reported = 0;
    for (size_t root = 0; root < n; root++) {
        if (color[root]) continue;
        size_t sp = 0;
        st[sp++] = (dfs_frame){root, 0};
        color[root] = 1;
        height[root] = 1;
        while (sp) {
            dfs_frame *f = &st[sp - 1];
            const dsl_node *ext = extends_of(templates, f->t);
            if (!ext || f->next >= ext->n) { /* done: its height is final */
                color[f->t] = 2;
                size_t h = height[f->t];
                sp--;
                if (sp && h + 1 > height[st[sp - 1].t]) height[st[sp - 1].t] = h + 1;
                continue;
            }
            const dsl_node *it = ext->items[f->next++];
            if (!is_scalar(it)) continue;
            size_t u = dsl_names_find(ix, it->str, it->len);
            if (u == DSL_NAMES_NONE) continue; /* reported by check_extends_names */
            if (color[u] == 1) {
                size_t from = 0;
                while (st[from].t != u) from++;
                diag_error(c->d, it->loc, "template cycle: %s",
                           chain_text(c, templates, st, from, sp, templates->keys[u]->str));
            } else if (color[u] == 2) {
                if (height[u] + 1 > height[f->t]) height[f->t] = height[u] + 1;
            } else {
                color[u] = 1;
                height[u] = 1;
                st[sp++] = (dfs_frame){u, 0};
            }
            /* the chain st[0..sp) plus what u extends */
            size_t deep = sp + (color[u] == 2 ? height[u] : 0);
            if (!deep_reported && deep > DSL_MAX_EXTENDS_DEPTH) {
                deep_reported = 1;
                diag_error(c->d, it->loc,
                           "templates extend each other more than %d levels deep: %s",
                           DSL_MAX_EXTENDS_DEPTH,
                           chain_text(c, templates, st, 0, sp - (color[u] == 1 && st[sp - 1].t == u),
                                      color[u] == 2 ? arena_printf(c->a, "%s -> ...", it->str)
                                                    : it->str));
                diag_hint(c->d, "a chain of `extends` may hold %d templates; merge some of them",
                          DSL_MAX_EXTENDS_DEPTH);
            }
        }
    }
}

static size_t map_index(const dsl_node *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i]->str, key) == 0) return i;
    return (size_t)-1;
}

/* The connectors' single-connector form: top-level connector_id and
 * service_type make a one-element `connectors` list when that is empty. */
static void single_connector(ctx *c, const dsl_sdesc *rootd, const dsl_node *in, dsl_node *out)
{
    const dsl_node *conns = dsl_map_get(out, "connectors");
    const dsl_node *id_in = dsl_map_get(in, "connector_id"), *st_in = dsl_map_get(in, "service_type");
    int has_top = (id_in && id_in->kind != DSL_NULL) || (st_in && st_in->kind != DSL_NULL);
    if (conns && conns->n > 0) {
        if (has_top)
            diag_warning(c->d, (id_in ? id_in : st_in)->loc,
                         "top-level connector_id/service_type are ignored: the connectors list is used");
        return;
    }
    const dsl_node *cin = dsl_map_get(in, "connectors");
    if (cin && cin->kind != DSL_NULL && !conns) return; /* connectors had errors */
    if (!has_top) {
        diag_error(c->d, in->loc, "no connector defined");
        diag_hint(c->d, "add a `connectors:` list, or the top-level connector_id and service_type");
        return;
    }
    const dsl_node *id = dsl_map_get(out, "connector_id"), *st = dsl_map_get(out, "service_type");
    if ((id_in && !id) || (st_in && !st)) return; /* already reported */
    const dsl_node *anchor = id_in ? id_in : st_in;
    dsl_node *m = dsl_new_map(c->a, anchor->loc);
    if (id) dsl_map_put(c->a, m, dsl_new_scalar(c->a, "connector_id", 0, id->loc), copy_scalar(c, id));
    if (st) dsl_map_put(c->a, m, dsl_new_scalar(c->a, "service_type", 0, st->loc), copy_scalar(c, st));
    const dsl_skey *ck = dsl_sdesc_key(rootd, "connectors");
    const dsl_sdesc *conn = dsl_sdesc_resolve(ck->desc)->of;
    /* service_type was checked at the top level: do not report it twice */
    if (!id) {
        diag_error(c->d, anchor->loc, "service_type needs connector_id (or a connectors list)");
        return;
    }
    if (!st) {
        diag_error(c->d, anchor->loc, "connector_id needs service_type (or a connectors list)");
        return;
    }
    dsl_node *cm = walk(c, conn, m, "connectors");
    if (!cm) return;
    dsl_node *seq = dsl_new_seq(c->a, anchor->loc);
    dsl_seq_push(c->a, seq, cm);
    size_t i = map_index(out, "connectors");
    if (i != (size_t)-1) out->items[i] = seq;
    else dsl_map_put(c->a, out, dsl_new_scalar(c->a, "connectors", 0, anchor->loc), seq);
}

dsl_node *dsl_check(arena *a, diag *d, const dsl_node *root)
{
    int errors0 = diag_errors(d);
    const dsl_schema *s = dsl_schema_get(d);
    if (!s) return NULL;
    if (!root) {
        diag_error(d, (src_loc){0}, "no configuration");
        return NULL;
    }
    ctx c = {.a = a, .d = d, .s = s};
    const dsl_sdesc *rootd = dsl_sdesc_resolve(s->root);
    dsl_node *out = NULL;
    if (root->kind != DSL_MAP) {
        diag_error(d, root->loc, "a configuration is a map of settings, got %s",
                   describe_got(&c, root, 0));
        return NULL;
    }
    out = walk_map(&c, rootd, root);
    /* extends names and cycles, also when something else failed: the
     * templates are then checked again quietly to get their checked form */
    const dsl_node *tin = dsl_map_get(root, "templates");
    const dsl_node *templates = out ? dsl_map_get(out, "templates") : NULL;
    if (!out && tin && tin->kind == DSL_MAP) {
        ctx c2 = {.a = a, .d = diag_new(), .s = s};
        const dsl_skey *tk = dsl_sdesc_key(rootd, "templates");
        if (tk && c2.d) templates = walk(&c2, tk->desc, tin, "templates");
        diag_free(c2.d);
    }
    int templates_ok = !(tin && tin->kind != DSL_NULL && !templates);
    if (templates_ok) {
        check_extends_names(&c, templates);
        check_cycles(&c, templates);
    }
    if (out) single_connector(&c, rootd, root, out);
    return diag_errors(d) > errors0 ? NULL : out;
}
