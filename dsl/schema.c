/* schema.c - loads the language description (schemas/language.yaml, embedded
 * in the binary) into dsl_sdesc structures, and prints it as a JSON Schema.
 *
 * Stage: used by the checker (dsl/check.c) and by `sql2es schema`. The
 * description is parsed with the normal YAML loader; errors in it are build
 * bugs reported with their location in language.yaml. This file checks no
 * user configuration.
 */
#include "dsl/schema.h"

#include "base/buf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"

extern const char sql2es_language_yaml[];
extern const unsigned long sql2es_language_yaml_len;

static const char *const type_names[] = {
    "string", "int", "number", "bool", "enum", "duration", "secret", "sql", "template",
    "regex", "glob", "any", "none", "map", "map_of", "list_of", "tuple", "or", "ref", NULL,
};

const char *dsl_stype_name(dsl_stype t)
{
    return (size_t)t < sizeof type_names / sizeof type_names[0] - 1 ? type_names[t] : "?";
}

const dsl_sdesc *dsl_sdesc_resolve(const dsl_sdesc *s)
{
    for (int guard = 0; s && s->type == DSL_T_REF && guard < 32; guard++) s = s->ref;
    return s;
}

const dsl_skey *dsl_sdesc_key(const dsl_sdesc *map, const char *name)
{
    map = dsl_sdesc_resolve(map);
    if (!map || map->type != DSL_T_MAP) return NULL;
    for (size_t i = 0; i < map->nkeys; i++)
        if (strcmp(map->keys[i].name, name) == 0) return &map->keys[i];
    return NULL;
}

int dsl_parse_duration(const char *s, double *seconds)
{
    if (!s || !((*s >= '0' && *s <= '9') || *s == '.')) return DIAG_EINVAL;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v)) return DIAG_EINVAL;
    double mult;
    if (*end == 0 || strcmp(end, "s") == 0) mult = 1;
    else if (strcmp(end, "ms") == 0) mult = 0.001;
    else if (strcmp(end, "m") == 0) mult = 60;
    else if (strcmp(end, "h") == 0) mult = 3600;
    else if (strcmp(end, "d") == 0) mult = 86400;
    else return DIAG_EINVAL;
    *seconds = v * mult;
    return 0;
}

/* ---- loading ---------------------------------------------------------- */

typedef struct loader {
    arena *a;
    diag *d;
    const dsl_node *types; /* the `types:` map */
    dsl_sdesc **named;     /* parallel to types->keys */
    int errors;
} loader;

static void lerr(loader *l, const dsl_node *n, const char *msg, const char *arg)
{
    l->errors++;
    if (l->d) diag_error(l->d, n ? n->loc : (src_loc){0}, "language description: %s%s%s%s", msg,
                         arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
}

static const char *sstr(const dsl_node *n)
{
    return n && n->kind == DSL_SCALAR ? n->str : NULL;
}

static int builtin_type(const char *name)
{
    for (int i = 0; i < DSL_T_REF; i++)
        if (strcmp(type_names[i], name) == 0) return i;
    return -1;
}

static const dsl_sdesc *named_type(loader *l, const char *name)
{
    for (size_t i = 0; l->types && i < l->types->n; i++)
        if (strcmp(l->types->keys[i]->str, name) == 0) return l->named[i];
    return NULL;
}

static const char *const *str_list(loader *l, const dsl_node *n)
{
    if (!n) return NULL;
    size_t cnt = n->kind == DSL_SEQ ? n->n : 1;
    const char **out = arena_alloc(l->a, (cnt + 1) * sizeof *out);
    for (size_t i = 0; i < cnt; i++) {
        const dsl_node *it = n->kind == DSL_SEQ ? n->items[i] : n;
        if (!sstr(it)) {
            lerr(l, it, "expected a list of names", NULL);
            return NULL;
        }
        out[i] = it->str;
    }
    return out;
}

static int num(loader *l, const dsl_node *n, double *out)
{
    if (!n) return 0;
    if (dsl_as_double(n, out) != 0) {
        lerr(l, n, "expected a number", NULL);
        return 0;
    }
    return 1;
}

static void parse_into(loader *l, const dsl_node *n, dsl_sdesc *s);

static const dsl_sdesc *parse_type(loader *l, const dsl_node *n)
{
    dsl_sdesc *s = arena_alloc(l->a, sizeof *s);
    parse_into(l, n, s);
    return s;
}

static const char *const meta_keys[] = {
    "type", "help", "keys", "of", "items", "alts", "as_list", "values", "ignore_case", "noun",
    "default", "default_by_service", "services", "min", "max", "gt", "min_items", "max_items",
    "required", "aliases", "synonyms", "sensitive", "check", "unused", NULL,
};

static void parse_into(loader *l, const dsl_node *n, dsl_sdesc *s)
{
    s->min_items = s->max_items = -1;
    const dsl_node *tn = n;
    if (n->kind == DSL_MAP) tn = dsl_map_get(n, "type");
    const char *tname = sstr(tn);
    if (!tname) {
        lerr(l, n, "a type needs `type:`", NULL);
        s->type = DSL_T_ANY;
        return;
    }
    int bt = builtin_type(tname);
    if (bt >= 0) {
        s->type = (dsl_stype)bt;
        s->type_name = type_names[bt];
    } else if ((s->ref = named_type(l, tname)) != NULL) {
        s->type = DSL_T_REF;
        s->type_name = tname;
    } else {
        lerr(l, tn, "unknown type", tname);
        s->type = DSL_T_ANY;
        return;
    }
    if (n->kind != DSL_MAP) goto validate;

    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->str;
        int known = 0;
        for (int j = 0; meta_keys[j]; j++) known |= strcmp(meta_keys[j], k) == 0;
        if (!known) lerr(l, n->keys[i], "unknown meta key", k);
    }
    s->help = sstr(dsl_map_get(n, "help"));
    s->noun = sstr(dsl_map_get(n, "noun"));
    s->check = sstr(dsl_map_get(n, "check"));
    s->unused = sstr(dsl_map_get(n, "unused"));
    s->def = dsl_map_get(n, "default");
    s->def_by_service = dsl_map_get(n, "default_by_service");
    s->services = str_list(l, dsl_map_get(n, "services"));
    s->values = str_list(l, dsl_map_get(n, "values"));
    s->aliases = str_list(l, dsl_map_get(n, "aliases"));
    s->synonyms = str_list(l, dsl_map_get(n, "synonyms"));
    s->has_min = num(l, dsl_map_get(n, "min"), &s->min);
    s->has_max = num(l, dsl_map_get(n, "max"), &s->max);
    s->has_gt = num(l, dsl_map_get(n, "gt"), &s->gt);
    double v;
    if (num(l, dsl_map_get(n, "min_items"), &v)) s->min_items = (long)v;
    if (num(l, dsl_map_get(n, "max_items"), &v)) s->max_items = (long)v;
    const char *const flags[] = {"required", "sensitive", "ignore_case", "as_list"};
    int *dst[] = {&s->required, &s->sensitive, &s->ignore_case, &s->as_list};
    for (int i = 0; i < 4; i++) {
        const dsl_node *f = dsl_map_get(n, flags[i]);
        if (f && dsl_as_bool(f, dst[i]) != 0) lerr(l, f, "expected true or false", NULL);
    }
    const dsl_node *keys = dsl_map_get(n, "keys");
    if (keys) {
        if (keys->kind != DSL_MAP) {
            lerr(l, keys, "`keys` must be a map", NULL);
        } else {
            dsl_skey *ks = arena_alloc(l->a, (keys->n + 1) * sizeof *ks);
            for (size_t i = 0; i < keys->n; i++) {
                ks[i].name = keys->keys[i]->str;
                ks[i].desc = parse_type(l, keys->items[i]);
            }
            s->keys = ks;
            s->nkeys = keys->n;
        }
    }
    const dsl_node *of = dsl_map_get(n, "of");
    if (of) s->of = parse_type(l, of);
    const dsl_node *alts = dsl_map_get(n, "alts");
    if (!alts) alts = dsl_map_get(n, "items");
    if (alts) {
        if (alts->kind != DSL_SEQ) {
            lerr(l, alts, "`alts`/`items` must be a list", NULL);
        } else {
            const dsl_sdesc **as = arena_alloc(l->a, (alts->n + 1) * sizeof *as);
            for (size_t i = 0; i < alts->n; i++) as[i] = parse_type(l, alts->items[i]);
            s->alts = as;
            s->nalts = alts->n;
        }
    }
validate:
    switch (s->type) {
    case DSL_T_MAP:
        if (!s->keys) lerr(l, n, "a map type needs `keys`", NULL);
        break;
    case DSL_T_MAP_OF:
    case DSL_T_LIST_OF:
        if (!s->of) lerr(l, n, "map_of/list_of need `of`", NULL);
        break;
    case DSL_T_OR:
    case DSL_T_TUPLE:
        if (!s->alts) lerr(l, n, "or/tuple need `alts`/`items`", NULL);
        break;
    case DSL_T_ENUM:
        if (!s->values) lerr(l, n, "an enum needs `values`", NULL);
        break;
    default:
        break;
    }
}

const dsl_schema *dsl_schema_load(arena *a, diag *d, const char *name, const char *text,
                                  size_t len)
{
    dsl_node *root = dsl_load_string(a, d, name, text, len, NULL);
    if (!root) return NULL;
    loader l = {.a = a, .d = d};
    const char *rootname = sstr(dsl_map_get(root, "root"));
    l.types = dsl_map_get(root, "types");
    if (!rootname || !l.types || l.types->kind != DSL_MAP) {
        lerr(&l, root, "needs `root:` and a `types:` map", NULL);
        return NULL;
    }
    l.named = arena_alloc(a, (l.types->n + 1) * sizeof *l.named);
    for (size_t i = 0; i < l.types->n; i++) l.named[i] = arena_alloc(a, sizeof *l.named[i]);
    for (size_t i = 0; i < l.types->n; i++) parse_into(&l, l.types->items[i], l.named[i]);
    dsl_schema *s = arena_alloc(a, sizeof *s);
    s->root = named_type(&l, rootname);
    if (!s->root) lerr(&l, root, "unknown root type", rootname);
    const char **names = arena_alloc(a, (l.types->n + 1) * sizeof *names);
    for (size_t i = 0; i < l.types->n; i++) names[i] = l.types->keys[i]->str;
    s->type_names = names;
    s->types = (const dsl_sdesc *const *)l.named;
    s->ntypes = l.types->n;
    const dsl_node *st = dsl_map_get(root, "service_types");
    if (!st || st->kind != DSL_MAP || st->n == 0) {
        lerr(&l, root, "needs a `service_types:` map", NULL);
        return NULL;
    }
    dsl_service *sv = arena_alloc(a, st->n * sizeof *sv);
    const char **spell = arena_alloc(a, (st->n * 4 + 1) * sizeof *spell);
    size_t ns = 0;
    buf list = BUF_INIT;
    for (size_t i = 0; i < st->n; i++) {
        sv[i].name = st->keys[i]->str;
        const dsl_node *al = st->items[i];
        static const char *const none[] = {NULL};
        sv[i].aliases = al && al->kind == DSL_SEQ && al->n == 0 ? none : str_list(&l, al);
        if (!sv[i].aliases) sv[i].aliases = none;
        buf_printf(&list, "%s%s", i ? ", " : "", sv[i].name);
    }
    for (size_t i = 0; i < st->n; i++) spell[ns++] = sv[i].name;
    for (size_t i = 0; i < st->n; i++)
        for (size_t k = 0; sv[i].aliases[k] && ns < st->n * 4; k++) spell[ns++] = sv[i].aliases[k];
    s->services = sv;
    s->nservices = st->n;
    s->service_spellings = spell;
    s->service_list = arena_strndup(a, list.data ? list.data : "", list.len);
    buf_free(&list);
    return l.errors ? NULL : s;
}

const char *dsl_service_canonical(const dsl_schema *s, const char *name)
{
    for (size_t i = 0; s && name && i < s->nservices; i++) {
        if (strcmp(s->services[i].name, name) == 0) return s->services[i].name;
        for (size_t k = 0; s->services[i].aliases[k]; k++)
            if (strcmp(s->services[i].aliases[k], name) == 0) return s->services[i].name;
    }
    return NULL;
}

static arena *cache_arena;
static const dsl_schema *cache;

static void cache_free(void)
{
    arena_free(cache_arena);
    cache_arena = NULL;
    cache = NULL;
}

const dsl_schema *dsl_schema_get(diag *d)
{
    if (cache) return cache;
    if (!cache_arena) {
        cache_arena = arena_new();
        if (!cache_arena) return NULL;
        atexit(cache_free);
    }
    diag *own = d ? NULL : diag_new();
    cache = dsl_schema_load(cache_arena, d ? d : own, "language.yaml", sql2es_language_yaml,
                            sql2es_language_yaml_len);
    if (own) {
        if (!cache) diag_print(own, stderr, 0);
        diag_free(own);
    }
    if (!cache) arena_reset(cache_arena);
    return cache;
}

/* ---- JSON Schema ------------------------------------------------------- */

/* Raw YAML values that the loader replaces from the environment
 * (`${VAR}`, `${VAR:-default}`, `$VAR`, `$VAR|default`) are accepted wherever
 * a non-string type is expected. */
#define INTERP_PATTERN "\\\\$\\\\{?[A-Za-z_][A-Za-z0-9_]*"

typedef struct jout {
    FILE *f;
    const dsl_schema *s;
} jout;

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void indent(FILE *f, int lvl)
{
    fputc('\n', f);
    for (int i = 0; i < lvl; i++) fputs("  ", f);
}

static void jnum(FILE *f, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) fprintf(f, "%.0f", v);
    else fprintf(f, "%.17g", v);
}

/* A YAML scalar as the JSON value YAML would give it (core schema). */
static void jscalar(FILE *f, const dsl_node *n)
{
    long long i;
    double dv;
    int b;
    if (n->kind == DSL_NULL) fputs("null", f);
    else if (!n->quoted && dsl_as_bool(n, &b) == 0) fputs(b ? "true" : "false", f);
    else if (!n->quoted && dsl_as_int(n, &i) == 0) fprintf(f, "%lld", i);
    else if (!n->quoted && dsl_as_double(n, &dv) == 0) jnum(f, dv);
    else jstr(f, n->str);
}

static void jvalue(FILE *f, const dsl_node *n, int lvl)
{
    if (n->kind == DSL_MAP) {
        fputc('{', f);
        for (size_t i = 0; i < n->n; i++) {
            if (i) fputc(',', f);
            indent(f, lvl + 1);
            jstr(f, n->keys[i]->str);
            fputs(": ", f);
            jvalue(f, n->items[i], lvl + 1);
        }
        if (n->n) indent(f, lvl);
        fputc('}', f);
    } else if (n->kind == DSL_SEQ) {
        fputc('[', f);
        for (size_t i = 0; i < n->n; i++) {
            if (i) fputs(", ", f);
            jvalue(f, n->items[i], lvl + 1);
        }
        fputc(']', f);
    } else {
        jscalar(f, n);
    }
}

static void jdesc(jout *o, const dsl_sdesc *d, int lvl);

/* `"key": ` on a new line; first tells whether a comma is needed. */
static void jkey(FILE *f, int *first, int lvl, const char *k)
{
    if (!*first) fputc(',', f);
    *first = 0;
    indent(f, lvl);
    jstr(f, k);
    fputs(": ", f);
}

static void jbounds(FILE *f, const dsl_sdesc *site, const dsl_sdesc *d, int *first, int lvl)
{
    const dsl_sdesc *b = site->has_min || site->has_max || site->has_gt ? site : d;
    if (b->has_min) { jkey(f, first, lvl, "minimum"); jnum(f, b->min); }
    if (b->has_gt) { jkey(f, first, lvl, "exclusiveMinimum"); jnum(f, b->gt); }
    if (b->has_max) { jkey(f, first, lvl, "maximum"); jnum(f, b->max); }
}

static void jinterp(FILE *f, int lvl)
{
    indent(f, lvl);
    fputs("{ \"type\": \"string\", \"pattern\": \"" INTERP_PATTERN "\" }", f);
}

static void jenum_values(FILE *f, const char *const *v, int ignore_case)
{
    fputc('[', f);
    for (size_t i = 0; v[i]; i++) {
        if (i) fputs(", ", f);
        jstr(f, v[i]);
        if (ignore_case) {
            char up[64];
            size_t k = 0;
            for (; v[i][k] && k + 1 < sizeof up; k++)
                up[k] = (char)(v[i][k] >= 'a' && v[i][k] <= 'z' ? v[i][k] - 32 : v[i][k]);
            up[k] = 0;
            if (strcmp(up, v[i]) != 0) {
                fputs(", ", f);
                jstr(f, up);
            }
        }
    }
    fputc(']', f);
}

static int in_names(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0) return 1;
    return 0;
}

/* Per-service settings of a connector (keys with `services:`): for each
 * built-in driver, the keys it does not use are refused and the keys it
 * requires are required, when service_type names that driver. */
static void jservices(FILE *f, const dsl_schema *o_schema, const dsl_sdesc *conn, int *first,
                      int lvl)
{
    int opened = 0;
    for (size_t k = 0; k < conn->nkeys; k++) {
        const dsl_sdesc *sub = dsl_sdesc_resolve(conn->keys[k].desc);
        if (sub->type != DSL_T_MAP) continue;
        int has = 0;
        for (size_t j = 0; j < sub->nkeys; j++) has |= sub->keys[j].desc->services != NULL;
        if (!has) continue;
        for (size_t i = 0; i < o_schema->nservices; i++) {
            const dsl_service *sv = &o_schema->services[i];
            const char *drv = sv->name;
            if (!opened) {
                jkey(f, first, lvl, "allOf");
                fputc('[', f);
                opened = 1;
            } else {
                fputc(',', f);
            }
            indent(f, lvl + 1);
            fprintf(f, "{ \"if\": { \"properties\": { \"service_type\": { \"enum\": [\"%s\"", drv);
            for (size_t x = 0; sv->aliases[x]; x++) fprintf(f, ", \"%s\"", sv->aliases[x]);
            fputs("] } }, \"required\": [\"service_type\"] },", f);
            indent(f, lvl + 2);
            fprintf(f, "\"then\": { \"properties\": { \"%s\": { \"properties\": {", conn->keys[k].name);
            int w = 0;
            for (size_t j = 0; j < sub->nkeys; j++) {
                const dsl_sdesc *kd = sub->keys[j].desc;
                if (!kd->services || in_names(kd->services, drv)) continue;
                fprintf(f, "%s \"%s\": false", w++ ? "," : "", sub->keys[j].name);
                for (int pass = 0; pass < 2; pass++)
                    for (size_t m = 0; (pass ? kd->synonyms : kd->aliases) && (pass ? kd->synonyms : kd->aliases)[m]; m++)
                        fprintf(f, ", \"%s\": false", (pass ? kd->synonyms : kd->aliases)[m]);
            }
            fputs(" }, \"required\": [", f);
            w = 0;
            int other_names = 0; /* a required key that may be written another way */
            for (size_t j = 0; j < sub->nkeys; j++) {
                const dsl_sdesc *kd = sub->keys[j].desc;
                if (!kd->required || !kd->services || !in_names(kd->services, drv)) continue;
                if (kd->synonyms || kd->aliases) {
                    other_names = 1;
                    continue;
                }
                fprintf(f, "%s\"%s\"", w++ ? ", " : "", sub->keys[j].name);
            }
            fputs("]", f);
            if (other_names) { /* username or user: one of the spellings */
                fputs(", \"allOf\": [", f);
                w = 0;
                for (size_t j = 0; j < sub->nkeys; j++) {
                    const dsl_sdesc *kd = sub->keys[j].desc;
                    if (!kd->required || !kd->services || !in_names(kd->services, drv) ||
                        !(kd->synonyms || kd->aliases))
                        continue;
                    fprintf(f, "%s{ \"anyOf\": [{ \"required\": [\"%s\"] }", w++ ? ", " : "",
                            sub->keys[j].name);
                    for (int pass = 0; pass < 2; pass++)
                        for (size_t m = 0; (pass ? kd->synonyms : kd->aliases) && (pass ? kd->synonyms : kd->aliases)[m]; m++)
                            fprintf(f, ", { \"required\": [\"%s\"] }", (pass ? kd->synonyms : kd->aliases)[m]);
                    fputs("] }", f);
                }
                fputs("]", f);
            }
            fputs(" } } } }", f);
        }
    }
    if (opened) {
        indent(f, lvl);
        fputc(']', f);
    }
}

/* The body of one schema object (without braces) for site description `site`. */
static void jbody(jout *o, const dsl_sdesc *site, int lvl, int *first)
{
    FILE *f = o->f;
    const dsl_sdesc *d = site;
    if (site->help) { jkey(f, first, lvl, "description"); jstr(f, site->help); }
    if (site->def) { jkey(f, first, lvl, "default"); jvalue(f, site->def, lvl); }
    if (site->sensitive) { jkey(f, first, lvl, "writeOnly"); fputs("true", f); }
    if (site->type == DSL_T_REF) {
        jkey(f, first, lvl, "$ref");
        fprintf(f, "\"#/$defs/%s\"", site->type_name);
        return;
    }
    switch (d->type) {
    case DSL_T_STRING:
    case DSL_T_SECRET:
    case DSL_T_SQL:
    case DSL_T_TEMPLATE:
    case DSL_T_REGEX:
    case DSL_T_GLOB:
        if (d->check && strcmp(d->check, "service_type") == 0) {
            /* the built-in drivers, from the driver table */
            jkey(f, first, lvl, "anyOf");
            fputc('[', f);
            indent(f, lvl + 1);
            fputs("{ \"enum\": [", f);
            for (size_t i = 0; o->s->service_spellings[i]; i++)
                fprintf(f, "%s\"%s\"", i ? ", " : "", o->s->service_spellings[i]);
            fputs("] },", f);
            jinterp(f, lvl + 1);
            indent(f, lvl);
            fputc(']', f);
        } else {
            /* any scalar: a plain 42 or true is text too */
            jkey(f, first, lvl, "type");
            fputs("[\"string\", \"number\", \"boolean\", \"null\"]", f);
        }
        break;
    case DSL_T_INT:
    case DSL_T_NUMBER:
    case DSL_T_DURATION:
        jkey(f, first, lvl, "anyOf");
        fputc('[', f);
        indent(f, lvl + 1);
        fprintf(f, "{ \"type\": \"%s\"", d->type == DSL_T_INT ? "integer" : "number");
        {
            int f2 = 0;
            jbounds(f, site, d, &f2, lvl + 2);
        }
        fputs(" },", f);
        if (d->type == DSL_T_DURATION) {
            indent(f, lvl + 1);
            fputs("{ \"type\": \"string\", \"pattern\": \"^([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)(ms|s|m|h|d)?$\" },", f);
        } else if (d->type == DSL_T_INT) {
            indent(f, lvl + 1);
            fputs("{ \"type\": \"string\", \"pattern\": \"^[-+]?[0-9]+$\" },", f);
        } else {
            indent(f, lvl + 1);
            fputs("{ \"type\": \"string\", \"pattern\": \"^[-+]?([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)([eE][-+]?[0-9]+)?$\" },", f);
        }
        jinterp(f, lvl + 1);
        fputs(",", f);
        indent(f, lvl + 1);
        fputs("{ \"type\": \"null\" }", f);
        indent(f, lvl);
        fputc(']', f);
        break;
    case DSL_T_BOOL:
        jkey(f, first, lvl, "anyOf");
        fputs("[{ \"type\": [\"boolean\", \"null\"] }, { \"enum\": [\"true\", \"false\"] },", f);
        jinterp(f, lvl + 1);
        fputc(']', f);
        break;
    case DSL_T_ENUM:
        jkey(f, first, lvl, "anyOf");
        fputs("[{ \"enum\": ", f);
        jenum_values(f, d->values, d->ignore_case);
        fputs(" },", f);
        jinterp(f, lvl + 1);
        fputs(", { \"type\": \"null\" }]", f);
        break;
    case DSL_T_ANY:
        break;
    case DSL_T_NONE:
        jkey(f, first, lvl, "type");
        fputs("\"null\"", f);
        break;
    case DSL_T_MAP: {
        jkey(f, first, lvl, "type");
        fputs("\"object\"", f);
        jkey(f, first, lvl, "properties");
        fputc('{', f);
        int pf = 1;
        for (size_t i = 0; i < d->nkeys; i++) {
            const dsl_sdesc *k = d->keys[i].desc;
            jkey(f, &pf, lvl + 1, d->keys[i].name);
            jdesc(o, k, lvl + 1);
            for (int pass = 0; pass < 2; pass++) {
                const char *const *names = pass ? k->synonyms : k->aliases;
                for (size_t j = 0; names && names[j]; j++) {
                    jkey(f, &pf, lvl + 1, names[j]);
                    fputc('{', f);
                    int af = 1;
                    jkey(f, &af, lvl + 2, "allOf");
                    fputc('[', f);
                    jdesc(o, k, lvl + 2);
                    fputc(']', f);
                    if (!pass) { jkey(f, &af, lvl + 2, "deprecated"); fputs("true", f); }
                    indent(f, lvl + 1);
                    fputc('}', f);
                }
            }
        }
        indent(f, lvl);
        fputc('}', f);
        /* dotted keys (`elasticsearch.bulk.chunk_size: 250`) under map-valued keys */
        int any_dotted = 0;
        for (size_t i = 0; i < d->nkeys; i++) {
            const dsl_sdesc *k = dsl_sdesc_resolve(d->keys[i].desc);
            if (k->type != DSL_T_MAP && k->type != DSL_T_MAP_OF) continue;
            if (!any_dotted) {
                jkey(f, first, lvl, "patternProperties");
                fputc('{', f);
            }
            fputs(any_dotted ? "," : "", f);
            indent(f, lvl + 1);
            fprintf(f, "\"^%s\\\\..+$\": {}", d->keys[i].name);
            any_dotted = 1;
        }
        if (any_dotted) {
            indent(f, lvl);
            fputc('}', f);
        }
        jkey(f, first, lvl, "additionalProperties");
        fputs("false", f);
        size_t nreq = 0;
        for (size_t i = 0; i < d->nkeys; i++) nreq += d->keys[i].desc->required && !d->keys[i].desc->services;
        if (nreq) {
            jkey(f, first, lvl, "required");
            fputc('[', f);
            size_t w = 0;
            for (size_t i = 0; i < d->nkeys; i++) {
                if (!d->keys[i].desc->required || d->keys[i].desc->services) continue;
                fputs(w++ ? ", " : "", f);
                jstr(f, d->keys[i].name);
            }
            fputc(']', f);
        }
        if (d->min_items >= 0) { jkey(f, first, lvl, "minProperties"); fprintf(f, "%ld", d->min_items); }
        if (d->max_items >= 0) { jkey(f, first, lvl, "maxProperties"); fprintf(f, "%ld", d->max_items); }
        if (d->check && strcmp(d->check, "connector") == 0) jservices(f, o->s, d, first, lvl);
        break;
    }
    case DSL_T_MAP_OF:
        jkey(f, first, lvl, "type");
        fputs("\"object\"", f);
        jkey(f, first, lvl, "additionalProperties");
        jdesc(o, d->of, lvl);
        if (site->min_items >= 0) { jkey(f, first, lvl, "minProperties"); fprintf(f, "%ld", site->min_items); }
        break;
    case DSL_T_LIST_OF:
        jkey(f, first, lvl, "type");
        fputs("\"array\"", f);
        jkey(f, first, lvl, "items");
        jdesc(o, d->of, lvl);
        if (site->min_items >= 0) { jkey(f, first, lvl, "minItems"); fprintf(f, "%ld", site->min_items); }
        if (site->max_items >= 0) { jkey(f, first, lvl, "maxItems"); fprintf(f, "%ld", site->max_items); }
        break;
    case DSL_T_TUPLE:
        jkey(f, first, lvl, "type");
        fputs("\"array\"", f);
        jkey(f, first, lvl, "prefixItems");
        fputc('[', f);
        for (size_t i = 0; i < d->nalts; i++) {
            if (i) fputc(',', f);
            indent(f, lvl + 1);
            jdesc(o, d->alts[i], lvl + 1);
        }
        fputc(']', f);
        jkey(f, first, lvl, "items");
        fputs("false", f);
        jkey(f, first, lvl, "minItems");
        fprintf(f, "%zu", d->nalts);
        break;
    case DSL_T_OR: {
        /* a map_of alternative next to a map one takes the maps that use
         * none of the map's keys (how the checker picks, see check.c) */
        const dsl_sdesc *mapalt = NULL;
        for (size_t i = 0; i < d->nalts; i++)
            if (dsl_sdesc_resolve(d->alts[i])->type == DSL_T_MAP) mapalt = dsl_sdesc_resolve(d->alts[i]);
        jkey(f, first, lvl, "anyOf");
        fputc('[', f);
        for (size_t i = 0; i < d->nalts; i++) {
            if (i) fputc(',', f);
            indent(f, lvl + 1);
            if (mapalt && dsl_sdesc_resolve(d->alts[i])->type == DSL_T_MAP_OF) {
                fputs("{ \"propertyNames\": { \"not\": { \"enum\": [", f);
                for (size_t k = 0; k < mapalt->nkeys; k++) {
                    if (k) fputs(", ", f);
                    jstr(f, mapalt->keys[k].name);
                }
                fputs("] } }, \"allOf\": [", f);
                jdesc(o, d->alts[i], lvl + 2);
                fputs("] }", f);
            } else {
                jdesc(o, d->alts[i], lvl + 1);
            }
        }
        fputc(']', f);
        break;
    }
    case DSL_T_REF:
        break;
    }
}

static void jdesc(jout *o, const dsl_sdesc *d, int lvl)
{
    fputc('{', o->f);
    int first = 1;
    jbody(o, d, lvl + 1, &first);
    if (!first) indent(o->f, lvl);
    fputc('}', o->f);
}

int dsl_print_json_schema(FILE *out)
{
    const dsl_schema *s = dsl_schema_get(NULL);
    if (!s) return DIAG_EINVAL;
    jout o = {.f = out, .s = s};
    fputs("{", out);
    int first = 1;
    jkey(out, &first, 1, "$schema");
    fputs("\"https://json-schema.org/draft/2020-12/schema\"", out);
    jkey(out, &first, 1, "$id");
    fputs("\"https://sql2es.dev/schemas/config.schema.json\"", out);
    jkey(out, &first, 1, "title");
    fputs("\"sql2es configuration\"", out);
    jkey(out, &first, 1, "$ref");
    for (size_t i = 0; i < s->ntypes; i++)
        if (s->types[i] == s->root) fprintf(out, "\"#/$defs/%s\"", s->type_names[i]);
    jkey(out, &first, 1, "$defs");
    fputc('{', out);
    int df = 1;
    for (size_t i = 0; i < s->ntypes; i++) {
        jkey(out, &df, 2, s->type_names[i]);
        jdesc(&o, s->types[i], 2);
    }
    indent(out, 1);
    fputs("}\n}\n", out);
    return ferror(out) ? DIAG_EIO : 0;
}
