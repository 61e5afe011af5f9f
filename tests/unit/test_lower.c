/* test_lower.c - plan structure produced by the compiler (dsl/lower.c):
 * op sequences, nested objects, templates, params and push-down decisions,
 * connectors-compatible defaults, and errors without partial plans. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"

#include "dsl/dsl.h"
#include "dsl/node.h"
#include "dsl/template.h"
#include "engine/sql.h"
#include "plan/plan.h"
#include "engine/interp.h"
#include "t.h"

static plan *compile(const char *text, diag *d)
{
    return dsl_compile_string("t.yml", text, strlen(text), src_drivers, d);
}

/* "op arg|op arg|..." of a program, for compact assertions */
static const char *ops_str(const plan_doc *doc, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < doc->nops && len < n; i++) {
        const plan_op *o = &doc->ops[i];
        int w = snprintf(out + len, n - len, "%s%s%s%s", i ? "|" : "", plan_op_names[o->op],
                         o->s ? " " : "", o->s ? o->s : "");
        if (w < 0) break;
        len += (size_t)w;
    }
    return out;
}

static const plan_table *table(const plan *p, int c, const char *name)
{
    for (int i = 0; p && i < p->connectors[c].ntables; i++)
        if (!strcmp(p->connectors[c].tables[i].name, name)) return &p->connectors[c].tables[i];
    return NULL;
}

static void test_mapped(void)
{
    const char *cfg =
        "connectors:\n"
        "  - connector_id: shop\n"
        "    service_type: postgresql\n"
        "    index_name: search-shop\n"
        "    configuration: { host: h, database: shop, username: u, password: secret }\n"
        "    sync_rules:\n"
        "      basic:\n"
        "        - { field: country, rule: equals, value: FR, policy: exclude, order: 2 }\n"
        "        - { field: name, rule: starts_with, value: x, policy: exclude, order: 1 }\n"
        "        - { field: email, rule: contains, value: '@', policy: include, order: 3 }\n"
        "        - { field: country, rule: equals, value: DE, policy: exclude, order: 4 }\n"
        "    mappings:\n"
        "      customers:\n"
        "        columns: { exclude: [password_hash] }\n"
        "        where: active\n"
        "        fields:\n"
        "          name: \"{{ first_name }} {{ last_name }}\"\n"
        "          country: country_code\n"
        "          email: { from: email, transform: [trim, lower] }\n"
        "          \"address.city\": city\n"
        "          \"address.zip\": zip\n"
        "        relations:\n"
        "          orders:\n"
        "            table: orders\n"
        "            on: { customer_id: id }\n"
        "            fields: { total: total }\n"
        "            order_by: [ordered_at]\n";
    diag *d = diag_new();
    plan *p = compile(cfg, d);
    T_CHECK(p != NULL, "mapped config compiles");
    if (!p) {
        diag_print(d, stdout, 0);
        diag_free(d);
        return;
    }
    T_CHECK(p->nconnectors == 1 && p->connectors[0].ntables == 2, "one mapping + default entry");
    const plan_table *t = table(p, 0, "customers");
    T_CHECK(t != NULL && !t->is_default && !t->connectors_compat, "customers entry");
    T_CHECK(p->connectors[0].tables[1].is_default, "default entry last");
    char s[1024];
    T_STREQ(ops_str(&t->doc, s, sizeof s),
            "copy_columns|load_tpl|emit name|load_col country_code|emit country|load_col email|"
            "trim|lower|emit email|obj_begin address|load_col city|emit city|load_col zip|"
            "emit zip|obj_end|relation orders",
            "op sequence with one nested object");
    T_CHECK(t->doc.ops[0].n == PLAN_COPY_EXCLUDE && t->doc.ops[0].nnames == 6,
            "copy_columns excludes password_hash and the field/relation keys");
    /* the plan is dialect-neutral; engine/sql.c renders it */
    T_STREQ(t->where, "active", "the user's where, verbatim");
    arena *sa = arena_new();
    plan_sql_text x;
    T_CHECK(eng_sql_text(&p->connectors[0], t, sa, &x) == 0, "SQL rendered");
    T_STREQ(x.from, "\"public\".\"customers\"", "quoted schema.table");
    T_CHECK(t->nrules == 4 && !strcmp(t->rules[0].field, "name") && t->rules[3].order == 4,
            "rules sorted by order");
    T_CHECK(t->rules[0].pushed_down == 0, "name is a template: not pushed");
    T_CHECK(t->rules[1].pushed_down == 1, "plain column copy before any include: pushed");
    T_CHECK(t->rules[3].pushed_down == 0, "after an include rule: not pushed");
    T_STREQ(t->rules[1].column, "country_code", "pushed rule names its column");
    T_CHECK(x.nparams == 1 && !strcmp(x.params[0], "FR"), "value is a parameter");
    T_CHECK(x.where && !strncmp(x.where, "(active) AND NOT (", 18) &&
                strstr(x.where, "\"country_code\"") && strstr(x.where, "$1") &&
                !strstr(x.where, "FR"),
            "where: user predicate AND push-down, value never pasted");
    arena_free(sa);
    T_CHECK(t->doc.nrelations == 1 && !t->doc.relations[0].one &&
                t->doc.relations[0].non == 1 &&
                !strcmp(t->doc.relations[0].child_cols[0], "customer_id") &&
                !strcmp(t->doc.relations[0].parent_cols[0], "id"),
            "relation on pairs child=parent");
    T_STREQ(ops_str(&t->doc.relations[0].doc, s, sizeof s), "load_col total|emit total",
            "relation with fields only selects them");
    T_CHECK(t->id && t->id->nparts == 7 && t->id->parts[6].kind == PLAN_TPL_PK,
            "default id: database_schema_table_pk");
    T_STREQ(p->connectors[0].source.password, "secret", "password kept in the plan");
    plan_free(p);
    diag_free(d);
}

static void test_compat(void)
{
    const char *cfg = "connectors:\n"
                      "  - { connector_id: m, service_type: mysql, index_name: i,\n"
                      "      configuration: { host: h, database: db, user: u, tables: \"a, b\" } }\n";
    diag *d = diag_new();
    plan *p = compile(cfg, d);
    T_CHECK(p != NULL, "mysql connector compiles");
    if (p) {
        const plan_connector *c = &p->connectors[0];
        T_CHECK(c->nselection == 2 && !strcmp(c->selection[1], "b"), "tables \"a, b\" split");
        T_CHECK(c->ntables == 1 && c->tables[0].is_default && c->tables[0].connectors_compat,
                "no mappings: only the compat default entry");
        char s[512];
        T_STREQ(ops_str(&c->tables[0].doc, s, sizeof s),
                "copy_columns|load_var $table|emit Table|load_var $id|emit id|"
                "load_var $timestamp|emit _timestamp",
                "mysql compat program");
        T_STREQ(c->tables[0].id->source, "{{ $table }}_{{ $pk }}", "mysql id formula");
        T_STREQ(c->source.username, "u", "user normalized to username");
        plan_free(p);
    } else {
        diag_print(d, stdout, 0);
    }
    diag_free(d);
}

static void test_errors(void)
{
    const char *cfg = "connectors:\n"
                      "  - connector_id: s\n"
                      "    service_type: sqlite\n"
                      "    index_name: i\n"
                      "    configuration: { path: x.db }\n"
                      "    mappings:\n"
                      "      t:\n"
                      "        index: \"idx-{{ col }}\"\n"
                      "        fields:\n"
                      "          a: x\n"
                      "          \"a.b\": y\n";
    diag *d = diag_new();
    plan *p = compile(cfg, d);
    T_CHECK(p == NULL && diag_errors(d) >= 2, "errors: no plan");
    int col_err = 0, both = 0;
    for (size_t i = 0; i < diag_count(d); i++) {
        const diag_msg *m = diag_get(d, i);
        if (strstr(m->text, "column reference 'col'") && m->loc.line == 8 && m->loc.col == 24)
            col_err = 1;
        if (strstr(m->text, "both a value and an object")) both = 1;
    }
    T_CHECK(col_err, "column in index template: error at the column of the expression");
    T_CHECK(both, "leaf and parent field: error");
    plan_free(p);
    diag_free(d);

    arena *a = arena_new();
    d = diag_new();
    T_CHECK(dsl_tpl_parse(a, d, "x {{ $tabel }}", (src_loc){"f", 1, 5}, 1, 0) == NULL &&
                diag_count(d) == 1 && diag_get(d, 0)->loc.col == 11 && diag_get(d, 0)->hint &&
                strstr(diag_get(d, 0)->hint, "$table"),
            "unknown variable: column and suggestion");
    diag_clear(d);
    T_CHECK(dsl_tpl_parse(a, d, "{{ a }}{{", (src_loc){"f", 1, 1}, 0, 1) == NULL &&
                diag_get(d, 0)->loc.col == 8,
            "unclosed braces at their column");
    diag_clear(d);
    const plan_tpl *t = dsl_tpl_parse(a, d, "a}}{ {{ $schema}}-{{c_1 }}", (src_loc){0}, 0, 1);
    T_CHECK(t && t->nparts == 4 && t->parts[0].kind == PLAN_TPL_LIT &&
                !strcmp(t->parts[0].text, "a}}{ ") && t->parts[1].kind == PLAN_TPL_VAR &&
                !strcmp(t->parts[1].text, "schema") && t->parts[3].kind == PLAN_TPL_COL &&
                !strcmp(t->parts[3].text, "c_1"),
            "template parts");
    T_CHECK(dsl_tpl_parse(a, d, "{{ }}", (src_loc){0}, 0, 1) == NULL, "empty expression");
    T_CHECK(dsl_tpl_parse(a, d, "{{ a-b }}", (src_loc){0}, 0, 1) == NULL, "bad identifier");
    diag_free(d);
    arena_free(a);
}

/* a SQLite connector whose basic sync rules follow */
#define SQLITE_RULES                                                                     \
    "connectors:\n  - connector_id: s\n    service_type: sqlite\n    index_name: i\n" \
    "    configuration: { path: x.db }\n    sync_rules:\n      basic:\n"

static void test_sqlite_pushdown(void)
{
    const char *cfg = SQLITE_RULES
                      "        - { field: name, rule: ends_with, value: z, policy: exclude, order: 1 }\n"
                      "        - { field: name, rule: equals, value: y, policy: exclude, order: 2 }\n"
                      "        - { field: _, rule: regex, value: '.*', policy: include, order: 9 }\n"
                      "    mappings:\n"
                      "      t: { columns: { include: [id, name] } }\n";
    diag *d = diag_new();
    plan *p = compile(cfg, d);
    T_CHECK(p != NULL, "sqlite config compiles");
    const plan_table *t = table(p, 0, "t");
    T_CHECK(t && t->nrules == 2, "default rule dropped");
    T_CHECK(t && !t->rules[0].pushed_down && t->rules[1].pushed_down,
            "sqlite: ends_with not pushed, equals on an included column pushed");
    arena *sa = arena_new();
    plan_sql_text x = {0};
    if (t) eng_sql_text(&p->connectors[0], t, sa, &x);
    T_CHECK(x.where && strstr(x.where, "typeof(\"name\") = 'text'") && strstr(x.where, "?1"),
            "sqlite push-down guarded by typeof");
    arena_free(sa);
    T_CHECK(p && p->connectors[0].ntables == 2, "tables '*': a default entry after the mapping");
    plan_free(p);

    /* a regex rule gets its compiled pattern, anchored at the start; the
     * other kinds get none */
    const char *rx = SQLITE_RULES
                     "        - { field: name, rule: regex, value: 'b+o', policy: include, order: 1 }\n"
                     "        - { field: n, rule: '>', value: '5', policy: include, order: 2 }\n"
                     "        - { field: n, rule: '<', value: '9', policy: include, order: 3 }\n"
                     "    mappings:\n"
                     "      t: {}\n";
    p = compile(rx, d);
    t = p ? table(p, 0, "t") : NULL;
    src_value bob = {SRC_STRING, "bbob", 4}, ab = {SRC_STRING, "abbo", 4};
    T_CHECK(t && t->nrules == 3 && t->rules[0].rule == PLAN_RULE_REGEX && t->rules[0].re &&
                eng_rule_match(&t->rules[0], &bob) && !eng_rule_match(&t->rules[0], &ab) &&
                !t->rules[1].re && !t->rules[2].re,
            "a regex rule is compiled (anchored: bbob matches, abbo does not); > and < have no pattern");
    if (p) plan_free(p);
    diag_free(d);
}

/* Templates whose `extends` form a DAG (each level extends the two templates
 * of the next level: 2^100 paths) and 100,000 table entries compile, and
 * compile right. The time is measured by `bench/run.sh compile`; here an
 * alarm only turns a hang (the old exponential expansion) into a failure. */
static void test_scale(void)
{
    alarm(120);
    buf b = BUF_INIT;
    buf_puts(&b, "templates:\n");
    for (int l = 0; l < 100; l++)
        for (int k = 0; k < 2; k++) {
            buf_printf(&b, "  l%d%c:\n    where: w%d%c\n    fields: { f%d%c: c%d%c }\n", l, "ab"[k],
                       l, "ab"[k], l, "ab"[k], l, "ab"[k]);
            if (l < 99) buf_printf(&b, "    extends: [l%da, l%db]\n", l + 1, l + 1);
        }
    buf_puts(&b, "connectors:\n  - connector_id: s\n    service_type: sqlite\n"
                 "    index_name: i\n    configuration: { path: x.db }\n"
                 "    mappings:\n      t: { extends: [l0a, l0b] }\n");
    diag *d = diag_new();
    plan *p = dsl_compile_string("dag.yml", b.data, b.len, src_drivers, d);
    const plan_table *t = table(p, 0, "t");
    int emits = 0, f99b = 0;
    for (int i = 0; t && i < t->doc.nops; i++) {
        if (t->doc.ops[i].op != PLAN_OP_EMIT) continue;
        emits++;
        f99b |= !strcmp(t->doc.ops[i].s, "f99b");
    }
    T_CHECK(p != NULL && diag_errors(d) == 0, "a DAG of 200 templates compiles");
    T_CHECK(emits == 200 && f99b, "the DAG's mapping has the fields of all 200 templates");
    T_STREQ(t ? t->where : NULL, "w0b",
            "extends apply in order: the last template's where wins");
    plan_free(p);
    diag_free(d);

    /* a chain of 100 templates is fine, 101 is a depth limit (not a cycle) */
    for (int n = 100; n <= 101; n++) {
        buf_reset(&b);
        buf_puts(&b, "templates:\n");
        for (int i = 0; i < n; i++)
            if (i + 1 < n) buf_printf(&b, "  c%d: { extends: [c%d] }\n", i, i + 1);
            else buf_printf(&b, "  c%d: { where: deepest }\n", i);
        buf_puts(&b, "connectors:\n  - connector_id: s\n    service_type: sqlite\n"
                     "    index_name: i\n    configuration: { path: x.db }\n"
                     "    mappings:\n      t: { extends: c0 }\n");
        d = diag_new();
        p = dsl_compile_string("chain.yml", b.data, b.len, src_drivers, d);
        if (n == 100) {
            t = table(p, 0, "t");
            T_STREQ(t ? t->where : NULL, "deepest",
                    "a chain of 100 templates compiles through to the last");
        } else {
            const diag_msg *m = diag_count(d) ? diag_get(d, 0) : NULL;
            T_CHECK(p == NULL && diag_errors(d) == 1 && m && m->loc.line == 101 &&
                        strstr(m->text, "more than 100 levels deep") && !strstr(m->text, "cycle"),
                    "a chain of 101 templates: a depth limit error, not a cycle");
        }
        plan_free(p);
        diag_free(d);
    }

    /* 100,000 table entries, each selected by name */
    buf_reset(&b);
    buf_puts(&b, "connectors:\n  - connector_id: s\n    service_type: sqlite\n"
                 "    index_name: i\n    configuration:\n      path: x.db\n      tables:\n");
    for (int i = 0; i < 100000; i++) buf_printf(&b, "        - t%d\n", i);
    buf_puts(&b, "    mappings:\n");
    for (int i = 0; i < 100000; i++) buf_printf(&b, "      t%d: { index: ix%d }\n", i, i);
    d = diag_new();
    p = dsl_compile_string("big.yml", b.data, b.len, src_drivers, d);
    T_CHECK(p && p->connectors[0].ntables == 100000 && diag_count(d) == 0,
            "100,000 selected table entries compile, no default entry, no warning");
    const plan_table *last = p ? &p->connectors[0].tables[99999] : NULL;
    T_CHECK(last && !strcmp(last->name, "t99999") && last->index && last->index->nparts == 1 &&
                !strcmp(last->index->parts[0].text, "ix99999"),
            "the 100,000th entry is the last mapping");
    plan_free(p);
    diag_free(d);
    buf_free(&b);
    alarm(0);
}

/* SQLite's path is relative to the config file's folder (like the state
 * file beside it), not to the working directory; absolute paths are kept. */
static void test_paths(void)
{
    static const char *const cases[][3] = {
        {"conf/dir/c.yml", "./shop.db", "conf/dir/shop.db"},
        {"conf/dir/c.yml", "data/shop.db", "conf/dir/data/shop.db"},
        {"/etc/sql2es/c.yml", "shop.db", "/etc/sql2es/shop.db"},
        {"conf/c.yml", "/var/lib/shop.db", "/var/lib/shop.db"},
        {"c.yml", "./shop.db", "./shop.db"},
        {"conf/c.yml", "file:shop.db?mode=ro", "file:shop.db?mode=ro"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cfg[256];
        snprintf(cfg, sizeof cfg,
                 "connectors:\n  - { connector_id: s, service_type: sqlite, index_name: i, "
                 "configuration: { path: \"%s\" } }\n", cases[i][1]);
        diag *d = diag_new();
        plan *p = dsl_compile_string(cases[i][0], cfg, strlen(cfg), src_drivers, d);
        char name[300];
        snprintf(name, sizeof name, "path %s in %s -> %s", cases[i][1], cases[i][0], cases[i][2]);
        T_STREQ(p ? p->connectors[0].source.path : NULL, cases[i][2], name);
        plan_free(p);
        diag_free(d);
    }
}

/* The printer of hand-made plans: a table without index or _id template (the
 * compiler always sets both) prints them as JSON null; a table filter. */
static void test_print_null_templates(void)
{
    const char *cfg = "connectors:\n"
                      "  - { connector_id: s, service_type: sqlite, index_name: i,\n"
                      "      configuration: { path: x.db, tables: [a] },\n"
                      "      mappings: { a: { id: \"{{ k }}\" } } }\n";
    diag *d = diag_new();
    plan *p = compile(cfg, d);
    T_CHECK(p != NULL && table(p, 0, "a") != NULL, "sqlite connector compiles");
    if (!p || !table(p, 0, "a")) {
        diag_free(d);
        return;
    }
    plan_table *t = (plan_table *)table(p, 0, "a");
    const plan_tpl *index = t->index, *id = t->id;
    t->index = NULL;
    t->id = NULL;
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    plan_print(p, f, PLAN_FMT_JSON, "a", NULL);
    fclose(f);
    T_CHECK(out && strstr(out, "\"name\":\"a\"") && strstr(out, "\"index\":null,\"id\":null,\"key_columns\"") &&
                !strstr(out, "\"name\":\"*\""),
            "plan JSON: missing index and id templates are null; the filter keeps table a only");
    free(out);
    /* a constant and a default without a value (hand-made) print as null */
    const plan_doc saved = t->doc;
    static const plan_op nulls[] = {{.op = PLAN_OP_LOAD_CONST}, {.op = PLAN_OP_DEFAULT},
                                    {.op = PLAN_OP_EMIT, .s = "v"}};
    t->doc.ops = nulls;
    t->doc.nops = 3;
    f = open_memstream(&out, &n);
    plan_print(p, f, PLAN_FMT_JSON, "a", NULL);
    fclose(f);
    T_CHECK(out && strstr(out, "{\"op\":\"load_const\",\"args\":\"null\",\"loc\":\"\"},"
                              "{\"op\":\"default\",\"args\":\"null\",\"loc\":\"\"}"),
            "plan JSON: a constant and a default without a value print null");
    free(out);
    t->doc = saved;
    t->index = index;
    t->id = id;
    plan_free(p);
    diag_free(d);
}

/* dsl_lower on a tree the checker has not seen (dsl_check normally rejects
 * these first): the lowering's own checks still refuse each bad value with
 * its message and location, and never build a partial plan; durations in
 * their text form are converted. */
static char *lower_unchecked(const char *text, const src_driver *const *drivers, plan **out)
{
    arena *a = arena_new(), *pa = arena_new();
    diag *d = diag_new();
    dsl_node *root = dsl_load_string(a, d, "u.yml", text, strlen(text), NULL);
    plan *p = root ? dsl_lower(pa, d, root, "u.yml", drivers) : NULL;
    char *msgs = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&msgs, &n);
    diag_print(d, f, 0);
    fclose(f);
    diag_free(d);
    arena_free(a);
    if (out) *out = p;
    else if (p) plan_free(p);
    if (!p) arena_free(pa);
    return msgs;
}

static void test_unchecked(void)
{
    const char *bad1 =
        "connectors:\n"
        "  - connector_id: shop\n"
        "    service_type: sqlite\n"
        "    index_name: i\n"
        "    configuration: { path: x.db }\n"
        "    mappings:\n"
        "      a: { extends: [cyc1] }\n"
        "      b: { extends: audite }\n"
        "      c:\n"
        "        fields:\n"
        "          x: { from: x, template: \"{{ y }}\" }\n"
        "          y: [1, 2]\n"
        "          z: { from: \"\" }\n"
        "          w: { from: w, transform: [{ split: null }, { regex_replace: x }, { regex_extract: [\"(a)\", -1] },\n"
        "               { regex_extract: [\"(a)\", 3] }, { truncate: 0 }, { uper: null }, { a: 1, b: 2 },\n"
        "               { regex_replace: [\"(\", x] }] }\n"
        "          v: { from: v, type: scaled_float }\n"
        "        relations:\n"
        "          r1: [1]\n"
        "          r2: { table: t }\n"
        "          r3: { table: t, on: { a: [1] } }\n"
        "templates:\n"
        "  audited: {}\n"
        "  cyc1: { extends: cyc2 }\n"
        "  cyc2: { extends: cyc1 }\n";
    plan *p = (plan *)1;
    char *m = lower_unchecked(bad1, src_drivers, &p);
    static const char *const want1[] = {
        "u.yml:25:20: error: template cycle through 'cyc1'",
        "u.yml:8:21: error: unknown template 'audite'\n",
        "  hint: did you mean 'audited'?",
        "u.yml:11:35: error: field 'x' has both 'from' and 'template'",
        "u.yml:12:14: error: field 'y': expected a column name, a template or a map",
        "u.yml:13:22: error: field 'z': expected a column name",
        "u.yml:14:37: error: 'split' needs a separator string",
        "u.yml:14:71: error: 'regex_replace' needs [PATTERN, REPLACEMENT]",
        "u.yml:14:101: error: regex_extract group must be a number >= 0",
        "u.yml:15:41: error: group 3 does not exist: the pattern has 1 group\n",
        "u.yml:15:59: error: truncate needs a number of characters > 0",
        "u.yml:15:66: error: unknown transform 'uper'",
        "  hint: did you mean 'upper'?",
        "u.yml:15:80: error: a transform is a name or a map {name: argument}",
        "u.yml:16:36: error: invalid regular expression: missing closing parenthesis",
        "u.yml:17:31: error: field 'v': scaled_float needs a scaling_factor",
        "u.yml:19:15: error: relation 'r1': expected a map",
        "u.yml:20:11: error: relation 'r2' needs 'on: {child column: parent column}'",
        "u.yml:21:36: error: relation 'r3': 'on' values are column names",
        "\n17 errors\n", NULL};
    int ok = p == NULL && m != NULL;
    for (int i = 0; ok && want1[i]; i++)
        if (!strstr(m, want1[i])) {
            printf("# missing: %s\n", want1[i]);
            ok = 0;
        }
    if (!ok) printf("# got:\n%s", m ? m : "(null)");
    T_CHECK(ok, "unchecked tree: the lowering's own checks on templates, fields, transforms, relations");
    free(m);

    /* more levels of extends than allowed, a driver that does not exist,
     * rules without their keys, a field both value and object */
    buf b = BUF_INIT;
    buf_puts(&b, "connectors:\n"
                 "  - { connector_id: one, service_type: nosuchdb, index_name: i }\n"
                 "  - connector_id: two\n"
                 "    service_type: sqlite\n"
                 "    index_name: i\n"
                 "    sync_rules:\n"
                 "      basic:\n"
                 "        - { field: a, rule: equals }\n"
                 "        - { field: a, rule: nope, value: 1, policy: include }\n"
                 "    mappings:\n"
                 "      a:\n"
                 "        fields:\n"
                 "          \"p.q\": x\n"
                 "          p: { q: y }\n"
                 "          r: s\n"
                 "          \"r.t\": u\n"
                 "          \"k.m\": x\n"
                 "          k: z\n"
                 "        relations:\n"
                 "          r5: { table: t, on: { a: b }, through: { table: l } }\n"
                 "          r6: { table: t, on: { a: b }, through: [1] }\n"
                 "      c: { extends: t0 }\n"
                 "  - connector_id: three\n"
                 "    service_type: sqlite\n"
                 "    sync_rules: { advanced: [{ tables: [a] }] }\n"
                 "templates:\n");
    for (int i = 0; i < 102; i++) buf_printf(&b, "  t%d: { extends: t%d }\n", i, i + 1);
    buf_puts(&b, "  t102: {}\n");
    m = lower_unchecked(b.data, src_drivers, &p);
    buf_free(&b);
    static const char *const want2[] = {
        "u.yml:2:40: error: no source driver for service_type 'nosuchdb'",
        "u.yml:8:11: error: a basic rule needs field, rule, value and policy",
        "u.yml:9:29: error: unknown rule 'nope'",
        "u.yml:25:30: error: an advanced rule needs a query",
        "u.yml:14:16: error: field 'p.q' is defined twice\n",
        "  hint: first defined at line 13",
        "u.yml:16:11: error: field 'r' is both a value and an object (because of 'r.t')\n",
        "  hint: 'r' is set at line 15",
        "u.yml:18:11: error: field 'k' is both a value and an object (it has nested fields)",
        "u.yml:20:50: error: relation 'r5': 'through' needs a table and 'on: {link column: parent column}'",
        "error: templates extend each other more than 100 levels deep", NULL};
    ok = p == NULL && m != NULL;
    for (int i = 0; ok && want2[i]; i++)
        if (!strstr(m, want2[i])) {
            printf("# missing: %s\n", want2[i]);
            ok = 0;
        }
    if (!ok) printf("# got:\n%s", m ? m : "(null)");
    T_CHECK(ok, "unchecked tree: extends too deep, unknown driver, incomplete rules, a field value and object");
    free(m);

    /* durations as text: ms, s, m, h, d; anything else is the default */
    const char *durs =
        "service: { idling: 2m, heartbeat: 1h, max_errors_span: 1d, job_cleanup_interval: 250ms,\n"
        "           preflight_idle: 3s }\n"
        "connectors:\n"
        "  - connector_id: shop\n"
        "    service_type: sqlite\n"
        "    index_name: i\n"
        "    configuration: { path: x.db, connect_timeout: 7s }\n"
        "    mappings:\n"
        "      a: { incremental: { cursor: u, lag: 250ms } }\n"
        "      b: { incremental: { cursor: u, lag: 2m } }\n"
        "      c: { incremental: { cursor: u, lag: 5x } }\n"
        "      d: { incremental: { cursor: u, lag: s } }\n"
        "      e: { incremental: { cursor: u, lag: 1.5 } }\n";
    m = lower_unchecked(durs, NULL, &p);
    T_CHECK(p && table(p, 0, "a") && table(p, 0, "a")->lag_ms == 250 && table(p, 0, "b")->lag_ms == 120000 &&
                table(p, 0, "c")->lag_ms == 0 && table(p, 0, "d")->lag_ms == 0 &&
                table(p, 0, "e")->lag_ms == 1500 && p->service.idling == 120 &&
                p->service.heartbeat == 3600 && p->service.max_errors_span == 86400 &&
                p->service.job_cleanup_interval == 0.25 && p->service.preflight_idle == 3 &&
                p->connectors[0].source.connect_timeout == 7,
            "unchecked tree: durations 250ms 2m 1h 1d 3s 7s as seconds; 5x and s are the default");
    free(m);
    if (p) plan_free(p);

    /* no elasticsearch section at all: every setting is the default of
     * schemas/language.yaml (the lowering's own fallback, not the checker's) */
    const char *bare =
        "connectors:\n"
        "  - connector_id: shop\n"
        "    service_type: sqlite\n"
        "    index_name: i\n"
        "    configuration: { path: x.db }\n";
    m = lower_unchecked(bare, NULL, &p);
    T_CHECK(p && p->es.host && !strcmp(p->es.host, "http://localhost:9200") &&
                p->es.request_timeout == 240 && p->es.chunk_size == 500 && p->es.verify_certs == 1,
            "unchecked tree without elasticsearch: host, request_timeout, chunk_size, verify_certs "
            "are the language's defaults");
    free(m);
    if (p) plan_free(p);
}

int main(void)
{
    T_PLAN(60);
    test_mapped();
    test_compat();
    test_errors();
    test_sqlite_pushdown();
    test_scale();
    test_paths();
    test_print_null_templates();
    test_unchecked();
    return T_DONE();
}
