/* test_yaml.c - the YAML loader (dsl/yaml.c): positions, scalars, nulls,
 * environment interpolation, dotted keys, duplicates, anchors/aliases/merge
 * keys, hostile-input bounds, syntax errors, dsl_merge and conversions. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsl/node.h"
#include "base/arena.h"
#include "base/diag.h"
#include "t.h"

static arena *A;
static diag *D;

static dsl_node *load(const char *text)
{
    diag_clear(D);
    return dsl_load_string(A, D, "c.yml", text, strlen(text), NULL);
}

static const char *first_error(void)
{
    for (size_t i = 0; i < diag_count(D); i++)
        if (diag_get(D, i)->level == DIAG_ERROR) return diag_get(D, i)->text;
    return "";
}

static const diag_msg *first_msg(void)
{
    static const diag_msg none = {DIAG_NOTE, {NULL, 0, 0}, NULL, NULL};
    return diag_count(D) ? diag_get(D, 0) : &none;
}

/* Value at a dotted path of plain map keys (test helper only). */
static dsl_node *at(dsl_node *n, const char *path)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = strtok(tmp, "/"); p && n; p = strtok(NULL, "/")) n = dsl_map_get(n, p);
    return n;
}

static const char *str_at(dsl_node *root, const char *path)
{
    dsl_node *n = at(root, path);
    return n && n->kind == DSL_SCALAR ? n->str : NULL;
}

/* CPU time: the test machine may be shared, wall time is noisy. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_positions(void)
{
    dsl_node *r = load("# comment\n"
                       "elasticsearch:\n"
                       "  host: http://x:9200\n"
                       "  tags:\n"
                       "    - a\n"
                       "    - 'b'\n"
                       "  flow: {k: v, n: [1, 2]}\n");
    T_CHECK(r && r->kind == DSL_MAP && r->n == 1, "root map");
    T_CHECK(r && r->keys[0]->loc.line == 2 && r->keys[0]->loc.col == 1, "key position 2:1");
    T_STREQ(r ? r->loc.file : NULL, "c.yml", "file name in location");
    dsl_node *es = at(r, "elasticsearch");
    T_CHECK(es && es->loc.line == 3 && es->loc.col == 3, "map loc at first key 3:3");
    T_CHECK(es && es->keys[0]->loc.line == 3 && es->keys[0]->loc.col == 3, "nested key 3:3");
    dsl_node *h = at(r, "elasticsearch/host");
    T_CHECK(h && h->loc.line == 3 && h->loc.col == 9 && !h->quoted, "value position 3:9, plain");
    dsl_node *tags = at(r, "elasticsearch/tags");
    T_CHECK(tags && tags->kind == DSL_SEQ && tags->n == 2, "sequence of 2");
    T_CHECK(tags && tags->items[0]->loc.line == 5 && tags->items[0]->loc.col == 7, "item position 5:7");
    T_CHECK(tags && tags->items[1]->quoted && !tags->items[0]->quoted, "quoted item flag");
    dsl_node *n = at(r, "elasticsearch/flow/n");
    T_CHECK(n && n->kind == DSL_SEQ && n->n == 2 && n->items[1]->loc.line == 7 &&
                n->items[1]->loc.col == 23,
            "flow item position 7:23");
}

static void test_scalars(void)
{
    dsl_node *r = load("a: ~\nb: null\nc: NULL\nd:\ne: 'null'\nf: \"~\"\ng: |\n  lit\nh: >\n  fold\n"
                       "i: Null\nj: nulls\nk: !!str 12\nl: NULx\nm: nulL\nn: Nul\no: nuLL\np: ~~\n");
    T_CHECK(r != NULL, "scalars load");
    const char *nulls[] = {"a", "b", "c", "d", "i"};
    for (size_t i = 0; i < 5; i++) {
        dsl_node *v = dsl_map_get(r, nulls[i]);
        T_CHECK(v && v->kind == DSL_NULL, "plain null forms are DSL_NULL");
    }
    dsl_node *d = dsl_map_get(r, "d");
    T_CHECK(d && d->loc.line == 4 && d->loc.line > 0, "empty value null has a location");
    T_CHECK(dsl_map_get(r, "e")->kind == DSL_SCALAR && dsl_map_get(r, "e")->quoted, "'null' is a string");
    T_CHECK(dsl_map_get(r, "f")->kind == DSL_SCALAR, "\"~\" is a string");
    {
        /* only null, Null, NULL and ~ are null: a word that differs in one
         * byte or its length is a string */
        const char *words[] = {"j", "l", "m", "n", "o", "p"};
        int strings = 0;
        for (size_t i = 0; i < 6; i++) {
            dsl_node *v = dsl_map_get(r, words[i]);
            strings += v && v->kind == DSL_SCALAR;
        }
        T_CHECK(strings == 6, "nulls, NULx, nulL, Nul, nuLL, ~~ are strings");
    }
    T_CHECK(dsl_map_get(r, "g")->quoted && strcmp(dsl_map_get(r, "g")->str, "lit\n") == 0, "literal quoted");
    T_CHECK(dsl_map_get(r, "h")->quoted && strcmp(dsl_map_get(r, "h")->str, "fold\n") == 0, "folded quoted");
    T_CHECK(dsl_map_get(r, "j")->kind == DSL_SCALAR, "'nulls' is a string");
    T_CHECK(dsl_map_get(r, "k")->quoted, "!!str counts as quoted");

    r = load("");
    T_CHECK(r && r->kind == DSL_MAP && r->n == 0, "empty file gives empty map");
    r = load("# only comments\n");
    T_CHECK(r && r->kind == DSL_MAP && r->n == 0, "comment-only file gives empty map");
    r = load("- a\n- b\n");
    T_CHECK(r && r->kind == DSL_SEQ, "non-map root returned for the checker");
}

static void test_interpolation(void)
{
    setenv("T_HOST", "db.local", 1);
    setenv("T_EMPTY", "", 1);
    unsetenv("T_UNSET");
    unsetenv("PGPASSWORD");
    dsl_node *r = load("a: ${T_HOST}\n"
                       "b: \"${T_UNSET:-dflt}\"\n"
                       "c: ${T_EMPTY:-fallback}\n"
                       "d: $T_HOST\n"
                       "e: $T_UNSET|local:9200\n"
                       "f: pre-${T_HOST}-post\n"
                       "g: cost $$5\n"
                       "h: \"search-{{ $table }}\"\n"
                       "i: $lower and $Mixed\n"
                       "j: a$ and ^x$\n"
                       "k: ${T_EMPTY}\n"
                       "l: \"{{ $table }}-$T_HOST\"\n"
                       "m: ${T_UNSET|pipe}\n"
                       "$T_HOST: key\n");
    T_CHECK(r != NULL, "interpolation loads");
    if (diag_count(D)) printf("# %s\n", first_error());
    T_STREQ(str_at(r, "a"), "db.local", "${VAR}");
    T_STREQ(str_at(r, "b"), "dflt", "${VAR:-default} unset, quoted");
    T_STREQ(str_at(r, "c"), "fallback", "${VAR:-default} empty");
    T_STREQ(str_at(r, "d"), "db.local", "$VAR");
    T_STREQ(str_at(r, "e"), "local:9200", "$VAR|default");
    T_STREQ(str_at(r, "f"), "pre-db.local-post", "embedded ${VAR}");
    T_STREQ(str_at(r, "g"), "cost $5", "$$ is a literal $");
    T_STREQ(str_at(r, "h"), "search-{{ $table }}", "{{ $table }} untouched");
    T_STREQ(str_at(r, "i"), "$lower and $Mixed", "$lower untouched");
    T_STREQ(str_at(r, "j"), "a$ and ^x$", "lone $ untouched");
    dsl_node *k = dsl_map_get(r, "k");
    T_CHECK(k && k->kind == DSL_NULL, "plain value interpolated to empty is null");
    T_STREQ(str_at(r, "l"), "{{ $table }}-db.local", "$VAR after a template");
    T_STREQ(str_at(r, "m"), "pipe", "${VAR|default}");
    T_STREQ(str_at(r, "$T_HOST"), "key", "keys are not interpolated");

    setenv("T_SECRET", "hunter2", 1);
    r = load("es:\n  user: x\n  password: ${PGPASSWORD}\n  other: \"$T_SECRET ${T_UNSET}\"\n");
    T_CHECK(r == NULL, "undefined variable fails");
    T_STREQ(first_error(), "undefined environment variable 'PGPASSWORD'", "undefined variable message");
    T_CHECK(first_msg()->loc.line == 3 && first_msg()->loc.col == 13, "undefined variable location 3:13");
    T_STREQ(first_msg()->hint, "set it, or give a default: ${PGPASSWORD:-value}", "undefined variable hint");
    T_CHECK(diag_errors(D) == 2, "both undefined variables reported");
    int leaked = 0;
    for (size_t i = 0; i < diag_count(D); i++) {
        const diag_msg *m = diag_get(D, i);
        if (strstr(m->text, "hunter2") || (m->hint && strstr(m->hint, "hunter2"))) leaked = 1;
    }
    T_CHECK(!leaked, "secret values not echoed in errors");

    r = load("a: ${T_HOST\n");
    T_CHECK(r == NULL && strstr(first_error(), "unterminated"), "unterminated ${");
    r = load("a: ${bad name}\n");
    T_CHECK(r == NULL && strstr(first_error(), "invalid environment reference"), "invalid ${...}");
    r = load("a: $UNDEFINED_T_VAR\n");
    T_CHECK(r == NULL && strstr(first_error(), "'UNDEFINED_T_VAR'"), "undefined bare $VAR fails");
}

static void test_dotted(void)
{
    dsl_node *r = load("elasticsearch:\n"
                       "  host: x\n"
                       "elasticsearch.bulk.chunk_size: 250\n"
                       "elasticsearch.bulk.max_retries: 3\n"
                       "\"sales.orders\": {a: 1}\n"
                       "mappings:\n"
                       "  'invoice_*.v2': q\n");
    T_CHECK(r != NULL, "dotted keys load");
    T_STREQ(str_at(r, "elasticsearch/host"), "x", "explicit key kept");
    T_STREQ(str_at(r, "elasticsearch/bulk/chunk_size"), "250", "dotted key nested");
    T_STREQ(str_at(r, "elasticsearch/bulk/max_retries"), "3", "second dotted key merged");
    T_CHECK(r && r->n == 3, "three top-level keys");
    T_CHECK(dsl_map_get(r, "sales.orders") != NULL && dsl_map_get(r, "sales") == NULL,
            "quoted dotted key kept whole");
    T_STREQ(str_at(r, "mappings/invoice_*.v2"), "q", "quoted glob key kept");
    dsl_node *cs = at(r, "elasticsearch/bulk");
    T_CHECK(cs && cs->keys[0]->loc.line == 3 && cs->keys[0]->loc.col == 20, "dotted segment column");

    r = load("a.b.c: 1\na:\n  b: {d: 2}\n  e: 3\n");
    T_CHECK(r != NULL, "dotted first, explicit map after");
    T_STREQ(str_at(r, "a/b/c"), "1", "dotted value kept");
    T_STREQ(str_at(r, "a/b/d"), "2", "explicit nested merged");
    T_STREQ(str_at(r, "a/e"), "3", "explicit sibling merged");

    r = load("a: 1\na.b: 2\n");
    T_CHECK(r == NULL && strstr(first_error(), "not a map"), "dotted path through a scalar");
    T_CHECK(first_msg()->loc.line == 2, "conflict at the dotted key");
    r = load("a.b: 1\na.b.c: 2\n");
    T_CHECK(r == NULL && strstr(first_error(), "not a map"), "dotted through dotted scalar");
    r = load("a..b: 1\n");
    T_CHECK(r == NULL && strstr(first_error(), "empty part"), "empty dotted segment");
}

static void test_duplicates(void)
{
    dsl_node *r = load("a: 1\nb:\n  host: x\n  port: 1\n  host: y\n");
    T_CHECK(r == NULL, "duplicate fails");
    T_STREQ(first_error(), "duplicate key 'host' (first defined at line 3)", "duplicate message");
    T_CHECK(first_msg()->loc.line == 5 && first_msg()->loc.col == 3, "points at second occurrence");
    r = load("es:\n  bulk: {size: 1}\nes.bulk.size: 2\n");
    T_CHECK(r == NULL, "duplicate via dotted key fails");
    T_STREQ(first_error(), "duplicate key 'es.bulk.size' (first defined at line 2)", "dotted duplicate message");
    T_CHECK(first_msg()->loc.line == 3, "dotted duplicate location");
    r = load("x.y: 1\nx.y: 2\n");
    T_CHECK(r == NULL && strstr(first_error(), "duplicate key 'x.y' (first defined at line 1)"),
            "two dotted duplicates");
    r = load("a: {b: 1}\na: {c: 2}\n");
    T_CHECK(r == NULL && strstr(first_error(), "duplicate key 'a'"), "explicit maps do not merge");
    r = load("a.b: 1\na: 5\n");
    T_CHECK(r == NULL && strstr(first_error(), "duplicate key 'a'"), "scalar after dotted map");
    r = load("k: 1\n'k': 2\n");
    T_CHECK(r == NULL, "quoted and plain same key duplicate");
}

/* A NUL in a scalar would end the C string early (a rule value "a\0zzz"
 * compared as "a"): refused where it is written, in values and keys. */
static void test_nul(void)
{
    dsl_node *r = load("rules:\n  - { value: \"a\\0zzz\", x: 1 }\n");
    T_CHECK(r == NULL && strstr(first_error(), "a value holds a NUL character"), "NUL in a value: error");
    T_CHECK(first_msg()->loc.line == 2 && first_msg()->loc.col == 16, "NUL in a value: at the escape");
    r = load("m:\n  \"t\\x00x\": 1\n");
    T_CHECK(r == NULL && strstr(first_error(), "a key holds a NUL character"), "NUL in a key: error");
    T_CHECK(first_msg()->loc.line == 2 && first_msg()->loc.col == 5, "NUL in a key: at the escape");
    r = load("a: \"x\\u0000\"\nb: \"\\\\0\"\n");
    T_CHECK(r == NULL && diag_errors(D) == 1 && first_msg()->loc.line == 1,
            "\\u0000 refused; an escaped backslash before 0 is no NUL");
    r = load("a: |\n  line\n");
    T_CHECK(r != NULL, "no NUL: loads");
}

static void test_anchors(void)
{
    dsl_node *r = load("base: &base\n  host: h\n  port: 1\n  nested: {x: 1}\n"
                       "other: &o {port: 9, extra: e}\n"
                       "c1:\n  <<: *base\n  port: 2\n"
                       "c2:\n  port: 3\n  <<: [*o, *base]\n"
                       "c3: *base\n"
                       "c3.nested.y: 2\n"
                       "list: [*base, *base]\n"
                       "s: &s scalar\nt: *s\n"
                       "c4:\n  <<: *base\n  nested.z: 3\n"
                       "\"<<\": literal\n");
    T_CHECK(r != NULL, "anchors load");
    if (!r) printf("# %s\n", first_error());
    T_STREQ(str_at(r, "c1/host"), "h", "merge key brings keys");
    T_STREQ(str_at(r, "c1/port"), "2", "explicit key overrides merged (after)");
    T_STREQ(str_at(r, "c2/port"), "3", "explicit key overrides merged (before)");
    T_STREQ(str_at(r, "c2/extra"), "e", "merge list first source");
    T_STREQ(str_at(r, "c2/host"), "h", "merge list second source");
    dsl_node *c2 = at(r, "c2");
    T_CHECK(c2 && c2->n == 4, "merged map has 4 keys");
    T_STREQ(str_at(r, "c3/host"), "h", "alias expanded");
    T_STREQ(str_at(r, "c3/nested/y"), "2", "dotted key into alias copies");
    T_CHECK(at(r, "base/nested/y") == NULL, "anchored original unchanged");
    T_CHECK(at(r, "c1/nested/y") == NULL && at(r, "list") && at(r, "list")->items[0] == at(r, "base"),
            "other uses unchanged and shared");
    T_STREQ(str_at(r, "t"), "scalar", "scalar alias");
    T_STREQ(str_at(r, "c4/nested/z"), "3", "dotted key beside merge");
    T_CHECK(at(r, "c4/nested/x") == NULL, "explicit nested wins over merged (shallow merge)");
    T_STREQ(str_at(r, "<<"), "literal", "quoted << is a plain key");
    T_CHECK(r && r->quoted == 0 && at(r, "base")->quoted == 0 && at(r, "c3")->quoted == 0,
            "load-time flags cleared");

    r = load("a: 1\nb: *nope\n");
    T_CHECK(r == NULL && strstr(first_error(), "undefined alias '*nope'"), "undefined alias");
    T_CHECK(first_msg()->loc.line == 2 && first_msg()->loc.col == 4, "undefined alias location");
    r = load("a: &a [*a]\n");
    T_CHECK(r == NULL && strstr(first_error(), "undefined alias"), "self-reference refused");
    r = load("a: &x 1\nb:\n  <<: *x\n");
    T_CHECK(r == NULL && strstr(first_error(), "merge key"), "merge of a scalar refused");
}

static void test_bounds(void)
{
    const char *lol = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                      "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                      "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                      "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                      "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    size_t used0 = arena_used(A);
    double t0 = now();
    dsl_node *r = load(lol);
    double dt = now() - t0;
    T_CHECK(r == NULL, "billion laughs refused");
    T_STREQ(first_error(), "alias expansion exceeds 1000000 nodes (billion laughs?)", "billion laughs message");
    T_CHECK(dt < 0.5 && arena_used(A) - used0 < (1u << 20), "billion laughs fast and small");

    dsl_limits lim = {0, 50, 0};
    diag_clear(D);
    r = dsl_load_string(A, D, "c.yml", "a: &a [1,2,3,4,5,6,7,8,9]\nb: [*a,*a,*a,*a,*a]\n", 46, &lim);
    T_CHECK(r == NULL && strstr(first_error(), "exceeds 50 nodes"), "max_nodes limit counts aliases");
    /* the limit is inclusive: a document of exactly max_nodes nodes loads.
     * "a: [1, 2, 3]\nb: {c: d}" has 10 (2 maps, 1 list, 7 scalars) */
    static const char ten[] = "a: [1, 2, 3]\nb: {c: d}\n";
    lim.max_nodes = 10;
    diag_clear(D);
    T_CHECK(dsl_load_string(A, D, "c.yml", ten, sizeof ten - 1, &lim) != NULL,
            "max_nodes: exactly 10 nodes load with a limit of 10");
    lim.max_nodes = 9;
    diag_clear(D);
    r = dsl_load_string(A, D, "c.yml", ten, sizeof ten - 1, &lim);
    T_CHECK(r == NULL && strstr(first_error(), "document has more than 9 nodes"),
            "max_nodes: 10 nodes refused with a limit of 9");
    /* with an alias: map, a, [1, 2], b and the 3 nodes of the expansion */
    static const char nine[] = "a: &x [1, 2]\nb: *x\n";
    lim.max_nodes = 9;
    diag_clear(D);
    T_CHECK(dsl_load_string(A, D, "c.yml", nine, sizeof nine - 1, &lim) != NULL,
            "max_nodes: 9 nodes after alias expansion load with a limit of 9");
    lim.max_nodes = 8;
    diag_clear(D);
    r = dsl_load_string(A, D, "c.yml", nine, sizeof nine - 1, &lim);
    T_CHECK(r == NULL && strstr(first_error(), "alias expansion exceeds 8 nodes"),
            "max_nodes: 9 nodes after alias expansion refused with a limit of 8");

    size_t n = 100000;
    char *deep = malloc(n + 1);
    memset(deep, '[', n);
    deep[n] = '\0';
    t0 = now();
    r = load(deep);
    dt = now() - t0;
    T_CHECK(r == NULL && strstr(first_error(), "nesting deeper than 64 levels"), "100k nesting refused");
    T_CHECK(first_msg()->loc.line == 1 && first_msg()->loc.col == 65, "depth error at level 65");
    T_CHECK(dt < 0.5, "deep nesting fails fast");
    free(deep);

    char nest[129];
    memset(nest, '[', 64);
    memset(nest + 64, ']', 64);
    nest[128] = '\0';
    r = load(nest);
    T_CHECK(r != NULL, "64 levels accepted");

    /* Depth also counts aliases and dotted keys. */
    char al[256];
    snprintf(al, sizeof al, "a: &a %.60s%.60s\nb: [[[[[[[[[[*a]]]]]]]]]]\n", nest, nest + 64);
    r = load(al);
    T_CHECK(r == NULL && strstr(first_error(), "nesting deeper"), "alias depth counted");

    lim = (dsl_limits){0, 0, 10};
    diag_clear(D);
    r = dsl_load_string(A, D, "c.yml", "a: 1234567890\n", 14, &lim);
    T_CHECK(r == NULL && strstr(first_error(), "larger than 10 bytes"), "max_file_size");
}

static void test_syntax(void)
{
    dsl_node *r = load("a: 1\nb: [1, 2\nc: 3\n");
    T_CHECK(r == NULL && diag_errors(D) == 1, "syntax error fails");
    T_CHECK(first_msg()->loc.line >= 2 && first_msg()->loc.col > 0, "syntax error has location");
    T_CHECK(strchr(first_error(), '(') != NULL, "syntax error has libyaml context");

    r = load("a:\n\tb: 1\n");
    T_CHECK(r == NULL && first_msg()->loc.line == 2, "tab indentation refused");
    T_CHECK(first_msg()->hint && strstr(first_msg()->hint, "tabs"), "tab hint");

    r = load("a: 1\n---\nb: 2\n");
    T_CHECK(r == NULL && strstr(first_error(), "only one YAML document"), "multiple documents refused");
    T_CHECK(first_msg()->loc.line == 2 && first_msg()->loc.col == 1, "second document location");

    r = load("a: \"caf\xe9\"\n");
    T_CHECK(r == NULL && strstr(first_error(), "UTF-8"), "invalid UTF-8 refused");
    T_CHECK(first_msg()->loc.line == 1 && first_msg()->loc.col == 8, "invalid UTF-8 location");
    r = load("a: 1\nb: \"caf\xff\"\n");
    T_CHECK(r == NULL && strstr(first_error(), "UTF-8") && first_msg()->loc.line == 2 &&
                first_msg()->loc.col == 8,
            "invalid leading byte location");

    r = load("? [a]\n: 1\n");
    T_CHECK(r == NULL && strstr(first_error(), "keys must be scalars"), "complex key refused");

    diag_clear(D);
    r = dsl_load_file(A, D, "no/such/file.yml", NULL);
    T_CHECK(r == NULL && strstr(first_error(), "cannot open"), "missing file");
}

static void test_file(void)
{
    char path[] = "/tmp/sql2es-yaml-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        T_CHECK(0, "mkstemp");
        return;
    }
    FILE *f = fdopen(fd, "w");
    fputs("x: 1\ny: [a]\n", f);
    fclose(f);
    diag_clear(D);
    dsl_node *r = dsl_load_file(A, D, path, NULL);
    T_STREQ(str_at(r, "x"), "1", "load file");
    T_STREQ(r ? r->loc.file : NULL, path, "file name in location");
    dsl_limits lim = {0, 0, 5};
    diag_clear(D);
    r = dsl_load_file(A, D, path, &lim);
    T_CHECK(r == NULL && strstr(first_error(), "file is larger than 5 bytes"), "file size limit");
    remove(path);
    diag_clear(D);
    r = dsl_load_file(A, D, path, NULL);
    T_CHECK(r == NULL && strstr(first_error(), "cannot open: No such file"), "missing file: cannot open");
    diag_clear(D);
    r = dsl_load_file(A, D, "/", NULL);
    T_CHECK(r == NULL && strstr(first_error(), "read error"), "a directory: read error");
    diag_clear(D);
    r = dsl_load_string(A, D, "c.yml", "x: 1\ny: [a]\n", 12, &lim);
    T_CHECK(r == NULL && strstr(first_error(), "file is larger than 5 bytes"), "text size limit");
}

static void test_merge_fn(void)
{
    dsl_node *base = load("a: 1\nm: {x: 1, y: 2}\nl: [1, 2]\nkeep: k\n");
    dsl_node *ov = load("\n\nm: {y: 3, z: 4}\nl: [9]\na: ~\nnew: n\n");
    dsl_node *r = dsl_merge(A, base, ov);
    T_CHECK(r && r->kind == DSL_MAP && r->n == 5, "merged keys");
    T_STREQ(str_at(r, "m/x"), "1", "base nested kept");
    T_STREQ(str_at(r, "m/y"), "3", "overlay nested wins");
    T_STREQ(str_at(r, "m/z"), "4", "overlay nested added");
    T_CHECK(at(r, "l")->n == 1, "sequence replaced");
    T_CHECK(at(r, "a")->kind == DSL_NULL, "scalar replaced by null");
    T_STREQ(str_at(r, "keep"), "k", "base only key kept");
    T_STREQ(str_at(r, "new"), "n", "overlay only key added");
    T_CHECK(at(r, "m/y")->loc.line == 3 && at(r, "m")->loc.line == 3, "overlay locations kept");
    T_CHECK(at(base, "m/z") == NULL && at(base, "m")->n == 2 && at(r, "m") != at(base, "m"),
            "inputs unchanged, new nodes");

    src_loc L = {"d", 1, 1};
    dsl_node *m = dsl_new_map(A, L);
    for (int i = 0; i < 40; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        dsl_map_put(A, m, dsl_new_scalar(A, k, 0, L), dsl_new_scalar(A, k, 1, L));
    }
    dsl_map_put(A, m, dsl_new_scalar(A, "k7", 0, L), dsl_new_scalar(A, "seven", 0, L));
    T_CHECK(m->n == 40, "builder map size");
    T_STREQ(str_at(m, "k39"), "k39", "builder lookup");
    T_STREQ(str_at(m, "k7"), "seven", "dsl_map_put replaces");
    dsl_node *s = dsl_new_seq(A, L);
    for (int i = 0; i < 100; i++) dsl_seq_push(A, s, dsl_new_scalar(A, NULL, 0, L));
    T_CHECK(s->n == 100 && s->items[99]->kind == DSL_NULL, "builder seq");
    T_CHECK(dsl_map_get(s, "x") == NULL && dsl_map_get(NULL, "x") == NULL, "map_get on non-map");
}

static void test_conversions(void)
{
    src_loc L = {"d", 1, 1};
#define SC(s) dsl_new_scalar(A, s, 0, L)
    int b = -1;
    T_CHECK(dsl_as_bool(SC("true"), &b) == 0 && b == 1, "bool true");
    T_CHECK(dsl_as_bool(SC("FALSE"), &b) == 0 && b == 0, "bool FALSE");
    T_CHECK(dsl_as_bool(SC("yes"), &b) == 0 && b == 1, "bool yes (YAML 1.1)");
    T_CHECK(dsl_as_bool(SC("Off"), &b) == 0 && b == 0, "bool Off (YAML 1.1)");
    T_CHECK(dsl_as_bool(SC("tru"), &b) == DIAG_EINVAL, "bool rejects tru");
    T_CHECK(dsl_as_bool(SC("1"), &b) == DIAG_EINVAL, "bool rejects 1");
    T_CHECK(dsl_as_bool(dsl_new_scalar(A, NULL, 0, L), &b) == DIAG_EINVAL, "bool rejects null");
    long long v = 0;
    T_CHECK(dsl_as_int(SC("250"), &v) == 0 && v == 250, "int decimal");
    T_CHECK(dsl_as_int(SC("-42"), &v) == 0 && v == -42, "int negative");
    T_CHECK(dsl_as_int(SC("+7"), &v) == 0 && v == 7, "int plus");
    T_CHECK(dsl_as_int(SC("0x1F"), &v) == 0 && v == 31, "int hex");
    T_CHECK(dsl_as_int(SC("0o17"), &v) == 0 && v == 15, "int octal");
    T_CHECK(dsl_as_int(SC("9223372036854775807"), &v) == 0 && v == 9223372036854775807LL, "int max");
    T_CHECK(dsl_as_int(SC("-9223372036854775808"), &v) == 0 && v == (-9223372036854775807LL - 1), "int min");
    T_CHECK(dsl_as_int(SC("9223372036854775808"), &v) == DIAG_EINVAL, "int overflow");
    T_CHECK(dsl_as_int(SC("1.5"), &v) == DIAG_EINVAL, "int rejects float");
    T_CHECK(dsl_as_int(SC("1e3"), &v) == DIAG_EINVAL, "int rejects exponent");
    T_CHECK(dsl_as_int(SC("1_000"), &v) == DIAG_EINVAL, "int rejects underscores");
    T_CHECK(dsl_as_int(SC("12abc"), &v) == DIAG_EINVAL, "int rejects junk");
    T_CHECK(dsl_as_int(SC("0x"), &v) == DIAG_EINVAL && dsl_as_int(SC(""), &v) == DIAG_EINVAL &&
                dsl_as_int(SC("-"), &v) == DIAG_EINVAL && dsl_as_int(SC("0o8"), &v) == DIAG_EINVAL,
            "int rejects empty forms");
    double d = 0;
    T_CHECK(dsl_as_double(SC("1.5"), &d) == 0 && d == 1.5, "double");
    T_CHECK(dsl_as_double(SC("-2e3"), &d) == 0 && d == -2000.0, "double exponent");
    T_CHECK(dsl_as_double(SC(".5"), &d) == 0 && d == 0.5, "double .5");
    T_CHECK(dsl_as_double(SC("3"), &d) == 0 && d == 3.0, "double from int");
    T_CHECK(dsl_as_double(SC(".inf"), &d) == DIAG_EINVAL, "double rejects .inf");
    T_CHECK(dsl_as_double(SC(".nan"), &d) == DIAG_EINVAL, "double rejects .nan");
    T_CHECK(dsl_as_double(SC("1e999"), &d) == DIAG_EINVAL, "double rejects overflow");
    T_CHECK(dsl_as_double(SC("1.2.3"), &d) == DIAG_EINVAL && dsl_as_double(SC("e5"), &d) == DIAG_EINVAL &&
                dsl_as_double(SC("1e"), &d) == DIAG_EINVAL,
            "double rejects junk");
#undef SC
}

static void test_perf(void)
{
    /* ~30k lines: 1,000 tables with 28 lines each. */
    size_t cap = 4u << 20, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t + len, cap - len,
                            "elasticsearch:\n  host: http://localhost:9200\n"
                            "connectors:\n  - connector_id: shop\n    service_type: postgresql\n"
                            "    mappings:\n");
    for (int i = 0; i < 1000; i++) {
        len += (size_t)snprintf(
            t + len, cap - len,
            "      table_%d:\n        index: \"search-{{ $table }}\"\n        id: \"{{ id }}\"\n"
            "        columns: { exclude: [password_hash, secret] }\n"
            "        fields:\n          name: \"{{ first_name }} {{ last_name }}\"\n"
            "          email: { from: email, transform: [trim, lower], type: keyword }\n"
            "          address.city: city\n          address.zip: zip\n"
            "          phone: { from: phone, transform: [{ regex_replace: [\"[^0-9+]\", \"\"] }] }\n"
            "        relations:\n          orders:\n            table: orders\n"
            "            on: { customer_id: customer_id }\n"
            "            fields: { id: order_id, total: total, at: ordered_at }\n"
            "            order_by: ordered_at\n"
            "        where: \"active\"\n        incremental:\n          cursor: [updated_at, id]\n"
            "          lag: 30s\n        deleted_when: \"deleted_at IS NOT NULL\"\n"
            "        index_mappings:\n          properties:\n            name: { type: text }\n"
            "            email: { type: keyword }\n        omit_nulls: true\n        batch: 500\n"
            "        note: plain text value number %d\n",
            i, i);
    }
    diag_clear(D);
    double best = 1e9;
    dsl_node *r = NULL;
    for (int k = 0; k < 5; k++) {
        arena *pa = arena_new();
        double t0 = now();
        r = dsl_load_string(pa, D, "big.yml", t, len, NULL);
        double dt = now() - t0;
        if (dt < best) best = dt;
        T_CHECK(r != NULL && at(r, "connectors")->items[0]->n == 3, "1,000-table config loads");
        arena_free(pa);
    }
    printf("# 1,000-table config (%zu bytes): %.1f ms\n", len, best * 1e3);
    /* The time is information only: speed is asserted by `make bench`
     * (bench/run.sh compile), never by a timed test. */
    free(t);
}

int main(void)
{
    T_PLAN(183);
    A = arena_new();
    D = diag_new();
    test_positions();
    test_scalars();
    test_interpolation();
    test_dotted();
    test_duplicates();
    test_nul();
    test_anchors();
    test_bounds();
    test_syntax();
    test_file();
    test_merge_fn();
    test_conversions();
    test_perf();
    diag_free(D);
    arena_free(A);
    return T_DONE();
}
