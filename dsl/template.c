/* template.c - parses "{{ }}" template strings into plan_tpl parts.
 *
 * Stage: lowering. Literal text is kept as is (a lone "{" or "}}" is
 * literal); "{{ expr }}" holds a column name or a $variable, with optional
 * whitespace inside the braces. Errors point at the column of the problem
 * inside the scalar. Rendering belongs to the interpreter.
 */
#include "dsl/template.h"

#include <string.h>

static const char *const tpl_vars[] = {"$table", "$schema", "$database", "$connector", "$pk",
                                       NULL};

int dsl_tpl_is_template(const char *s)
{
    return s && strstr(s, "{{") != NULL;
}

int dsl_tpl_has_columns(const plan_tpl *t)
{
    for (int i = 0; t && i < t->nparts; i++)
        if (t->parts[i].kind == PLAN_TPL_COL || t->parts[i].kind == PLAN_TPL_REL) return 1;
    return 0;
}

/* Location of byte offset off of s, when s sits on one line of the config. */
static src_loc at(src_loc loc, const char *s, size_t off, int quoted)
{
    if (memchr(s, '\n', off)) return loc;
    if (loc.col > 0) loc.col += (quoted ? 1 : 0) + (int)off;
    return loc;
}

static int ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int ident_char(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void add_part(arena *a, plan_tpl *t, int *cap, plan_tpl_kind kind, const char *text,
                     size_t n)
{
    if (t->nparts == *cap) {
        int ncap = *cap ? *cap * 2 : 4;
        t->parts = arena_realloc(a, t->parts, sizeof *t->parts * (size_t)*cap,
                                 sizeof *t->parts * (size_t)ncap);
        *cap = ncap;
    }
    t->parts[t->nparts].kind = kind;
    t->parts[t->nparts].text = text ? arena_strndup(a, text, n) : NULL;
    t->parts[t->nparts].rel = -1;
    t->nparts++;
}

const plan_tpl *dsl_tpl_parse(arena *a, diag *d, const char *s, src_loc loc, int quoted,
                              unsigned flags)
{
    plan_tpl *t = arena_alloc(a, sizeof *t);
    int cap = 0, errors = 0;
    size_t i = 0, lit = 0, n = strlen(s);
    t->source = arena_strdup(a, s);
    while (i < n) {
        if (!(s[i] == '{' && s[i + 1] == '{')) {
            i++;
            continue;
        }
        if (i > lit) add_part(a, t, &cap, PLAN_TPL_LIT, s + lit, i - lit);
        size_t open = i;
        const char *close = strstr(s + i + 2, "}}");
        if (!close) {
            diag_error(d, at(loc, s, open, quoted), "unclosed '{{' in template");
            diag_hint(d, "close the expression with '}}'");
            return NULL;
        }
        size_t b = i + 2, e = (size_t)(close - s);
        while (b < e && is_space(s[b])) b++;
        while (e > b && is_space(s[e - 1])) e--;
        i = (size_t)(close - s) + 2;
        lit = i;
        if (b == e) {
            diag_error(d, at(loc, s, open, quoted), "empty template expression '{{ }}'");
            diag_hint(d, "write a column name or one of $table, $schema, $database, $connector");
            errors++;
            continue;
        }
        int var = s[b] == '$';
        size_t k = b + (size_t)var, dot = 0;
        int ok = k < e && ident_start((unsigned char)s[k]);
        for (size_t j = k; ok && j < e; j++) {
            if (s[j] == '.' && !var && !dot && (flags & DSL_TPL_ALLOW_RELATIONS) && j + 1 < e &&
                ident_start((unsigned char)s[j + 1])) {
                dot = j; /* relation.column */
                continue;
            }
            if (!ident_char((unsigned char)s[j])) {
                ok = 0;
                k = j;
            }
        }
        if (!ok) {
            diag_error(d, at(loc, s, k < e ? k : b, quoted),
                       "bad template expression '%.*s': expected a column name or a $variable",
                       (int)(e - b), s + b);
            errors++;
            continue;
        }
        if (var) {
            char *name = arena_strndup(a, s + b, e - b);
            int known = 0;
            for (int v = 0; tpl_vars[v]; v++)
                if (strcmp(tpl_vars[v], name) == 0) known = 1;
            if (!known || (!strcmp(name, "$pk") && !(flags & DSL_TPL_ALLOW_PK))) {
                diag_error(d, at(loc, s, b, quoted), "unknown template variable '%s'", name);
                const char *sugg = diag_suggest(name, tpl_vars);
                if (sugg && (strcmp(sugg, "$pk") || (flags & DSL_TPL_ALLOW_PK)))
                    diag_hint(d, "did you mean '%s'?", sugg);
                else
                    diag_hint(d, "variables: $table, $schema, $database, $connector%s",
                              (flags & DSL_TPL_ALLOW_PK) ? ", $pk" : "");
                errors++;
                continue;
            }
            if (!strcmp(name, "$pk"))
                add_part(a, t, &cap, PLAN_TPL_PK, NULL, 0);
            else
                add_part(a, t, &cap, PLAN_TPL_VAR, name + 1, strlen(name + 1));
        } else {
            if (!(flags & DSL_TPL_ALLOW_COLUMNS)) {
                diag_error(d, at(loc, s, b, quoted),
                           "column reference '%.*s' is not allowed here", (int)(e - b), s + b);
                diag_hint(d, "only plan variables ($table, $schema, $database, $connector) "
                             "can be used: there is no row");
                errors++;
                continue;
            }
            add_part(a, t, &cap, dot ? PLAN_TPL_REL : PLAN_TPL_COL, s + b, e - b);
        }
    }
    if (n > lit) add_part(a, t, &cap, PLAN_TPL_LIT, s + lit, n - lit);
    return errors ? NULL : t;
}
