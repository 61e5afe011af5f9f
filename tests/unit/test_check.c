/* test_check.c - the checker (dsl/check.c) driven by schemas/language.yaml:
 * exact error texts and locations per error class, defaults, aliases, the
 * single-connector form, and the embedded description itself. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "dsl/dsl.h"
#include "dsl/schema.h"
#include "sources/source.h"
#include "base/json.h"
#include "t.h"

static arena *A;
static diag *D;
static char msg[1024];
static char tname[256];
#define NAMEF(...) (snprintf(tname, sizeof tname, __VA_ARGS__), tname)

/* Load and check text; returns the checked tree (NULL on errors). */
static dsl_node *run(const char *text)
{
    arena_reset(A);
    diag_clear(D);
    dsl_node *root = dsl_load_string(A, D, "c.yml", text, strlen(text), NULL);
    if (!root) return NULL;
    return dsl_check(A, D, root);
}

/* "line:col: text [hint]" of the i-th kept message (or "" when absent). */
static const char *msg_at(size_t i)
{
    const diag_msg *m = i < diag_count(D) ? diag_get(D, i) : NULL;
    if (!m) return "";
    snprintf(msg, sizeof msg, "%d:%d: %s%s%s%s", m->loc.line, m->loc.col,
             m->level == DIAG_WARNING ? "warning: " : "", m->text, m->hint ? " | " : "",
             m->hint ? m->hint : "");
    return msg;
}

/* The single error of a config, or a description of what happened. */
static const char *err1(const char *text)
{
    dsl_node *out = run(text);
    if (out) return "(no error)";
    if (diag_errors(D) != 1) {
        snprintf(msg, sizeof msg, "(%d errors; first %s)", diag_errors(D), msg_at(0));
        return msg;
    }
    for (size_t i = 0; i < diag_count(D); i++)
        if (diag_get(D, i)->level == DIAG_ERROR) return msg_at(i);
    return "";
}

static const dsl_node *path(const dsl_node *n, const char *p)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", p);
    for (char *save = NULL, *tok = strtok_r(tmp, "/", &save); n && tok; tok = strtok_r(NULL, "/", &save)) {
        if (n->kind == DSL_SEQ) {
            char *end;
            long i = strtol(tok, &end, 10);
            n = (*end == 0 && i >= 0 && (size_t)i < n->n) ? n->items[i] : NULL;
        } else {
            n = dsl_map_get(n, tok);
        }
    }
    return n;
}

static const char *val(const dsl_node *root, const char *p)
{
    const dsl_node *n = path(root, p);
    return n && n->kind == DSL_SCALAR ? n->str : n ? "(not a scalar)" : "(absent)";
}

#define PG "connectors:\n  - connector_id: c\n    service_type: postgresql\n"

/* The first error of templates t1 -> t2 -> ... -> tn (tn extends nothing),
 * then the templates in tail. */
static const char *chain_err(int n, const char *tail)
{
    buf y = BUF_INIT;
    buf_puts(&y, "templates:\n");
    for (int i = 1; i < n; i++) buf_printf(&y, "  t%d: { extends: t%d }\n", i, i + 1);
    buf_printf(&y, "  t%d: { omit_nulls: true }\n%s" PG, n, tail);
    const char *e = err1(y.data);
    buf_free(&y);
    return e;
}
#define MAPPING PG "    mappings:\n      t:\n"

/* The language's service types and aliases are the registry's drivers and
 * aliases, in the same order; every driver passes the registration check. */
static void test_service_types_agree(void)
{
    const dsl_schema *s = dsl_schema_get(NULL);
    T_CHECK(s && s->nservices > 0, "language lists service_types");
    if (!s) return;
    size_t nd = 0;
    while (src_drivers[nd]) nd++;
    T_CHECK(nd == s->nservices, "as many drivers as service types");
    for (size_t i = 0; i < s->nservices && i < nd; i++) {
        const src_driver *drv = src_drivers[i];
        T_STREQ(drv->name, s->services[i].name, "driver name = language service type");
        size_t na = 0;
        while (drv->aliases && drv->aliases[na]) na++;
        size_t nl = 0;
        while (s->services[i].aliases[nl]) nl++;
        T_CHECK(na == nl, "same number of aliases");
        for (size_t k = 0; k < na && k < nl; k++)
            T_STREQ(drv->aliases[k], s->services[i].aliases[k], "alias agrees");
        for (size_t k = 0; k < nl; k++)
            T_CHECK(src_driver_find(s->services[i].aliases[k]) == drv, "alias finds its driver");
        T_STREQ(dsl_service_canonical(s, drv->name), drv->name, "canonical name");
    }
    diag *d = diag_new();
    T_CHECK(src_drivers_check(src_drivers, d) == 0, "every built-in driver passes registration");
    /* a driver of another interface version is refused */
    src_driver old = *src_drivers[0];
    old.version = SRC_DRIVER_VERSION - 1;
    const src_driver *const table[] = {&old, NULL};
    T_CHECK(src_dialect_find(table, old.name) == NULL, "lookup refuses another version");
    T_CHECK(src_drivers_check(table, d) < 0 && strstr(diag_last(d), "interface version"),
            "registration check names the version");
    src_driver noq = *src_drivers[0];
    noq.quote_ident = NULL;
    const src_driver *const table2[] = {&noq, NULL};
    T_CHECK(src_dialect_find(table2, noq.name) == NULL, "lookup refuses a driver without dialect");
    diag_free(d);
}

/* The transforms the language accepts (the keys of the map form of its
 * `transform` type) are the plan's transform operations, by name; those
 * written alone (the enum form) are the keys that take no argument. */
static void test_transforms_agree(void)
{
    const dsl_schema *s = dsl_schema_get(NULL);
    const dsl_sdesc *map = NULL, *en = NULL;
    for (size_t i = 0; s && i < s->ntypes; i++) {
        if (strcmp(s->type_names[i], "transform") != 0) continue;
        const dsl_sdesc *t = dsl_sdesc_resolve(s->types[i]);
        for (size_t k = 0; k < t->nalts; k++) {
            const dsl_sdesc *alt = dsl_sdesc_resolve(t->alts[k]);
            if (alt->type == DSL_T_MAP) map = alt;
            if (alt->type == DSL_T_ENUM) en = alt;
        }
    }
    T_CHECK(map && en, "transform: a map form and a name form");
    if (!map || !en) return;
    T_CHECK(map->nkeys == (size_t)(PLAN_OP_TRUNCATE - PLAN_OP_TRIM + 1), "one key per transform op");
    for (int op = PLAN_OP_TRIM; op <= PLAN_OP_TRUNCATE; op++)
        T_CHECK(dsl_sdesc_key(map, plan_op_names[op]) != NULL, NAMEF("transform %s in the language", plan_op_names[op]));
    size_t nnone = 0;
    for (size_t k = 0; k < map->nkeys; k++) {
        int none = dsl_sdesc_resolve(map->keys[k].desc)->type == DSL_T_NONE;
        nnone += none;
        int listed = 0;
        for (size_t v = 0; en->values[v]; v++) listed |= !strcmp(en->values[v], map->keys[k].name);
        T_CHECK(listed == none, NAMEF("%s: written alone exactly when it takes no argument", map->keys[k].name));
    }
    size_t nv = 0;
    while (en->values[nv]) nv++;
    T_CHECK(nv == nnone, "no other name form");
}

int main(void)
{
    T_PLAN(163);
    A = arena_new();
    D = diag_new();

    /* the embedded description loads and is complete */
    const dsl_schema *s = dsl_schema_get(D);
    T_CHECK(s != NULL && s->root != NULL, "language.yaml loads");
    test_service_types_agree();
    test_transforms_agree();
    T_CHECK(s && dsl_sdesc_key(s->root, "elasticsearch") && dsl_sdesc_key(s->root, "templates"),
            "root keys described");

    /* per-service defaults agree with the driver table where a driver says so */
    {
        const dsl_node *out = run("connectors:\n  - {connector_id: a, service_type: postgresql}\n"
                                  "  - {connector_id: b, service_type: mysql}\n"
                                  "  - {connector_id: c, service_type: sqlite}\n");
        T_CHECK(out != NULL, "three connectors check");
        for (int i = 0; i < 3 && out; i++) {
            char p[64];
            snprintf(p, sizeof p, "connectors/%d/service_type", i);
            T_CHECK(src_driver_find(val(out, p)) != NULL, "a driver for each service type");
        }
        T_STREQ(val(out, "connectors/0/configuration/fetch_size"), "50", "postgresql fetch_size 50");
        T_STREQ(val(out, "connectors/1/configuration/fetch_size"), "5000", "mysql fetch_size 5000");
        T_STREQ(val(out, "connectors/0/configuration/port"), "5432", "postgresql port 5432");
        T_STREQ(val(out, "connectors/1/configuration/port"), "3306", "mysql port 3306");
        T_STREQ(val(out, "connectors/0/configuration/schema"), "public", "postgresql schema public");
        T_STREQ(val(out, "connectors/1/configuration/schema"), "(absent)", "mysql has no schema");
        T_STREQ(val(out, "connectors/2/configuration/port"), "(absent)", "sqlite has no port");
        T_STREQ(val(out, "connectors/0/configuration/tables"), "*", "tables default *");
        T_STREQ(val(out, "connectors/0/configuration/retry_count"), "3", "retry_count 3");
    }

    /* connectors' defaults (reference.md section 1) */
    {
        const dsl_node *out = run("connector_id: shop\nservice_type: postgresql\n");
        T_CHECK(out != NULL, "single connector form checks");
        T_STREQ(val(out, "elasticsearch/host"), "http://localhost:9200", "default host");
        T_STREQ(val(out, "elasticsearch/bulk/chunk_size"), "500", "default chunk_size 500");
        T_STREQ(val(out, "elasticsearch/bulk/chunk_max_mem_size"), "3", "default chunk_max_mem_size 3");
        T_STREQ(val(out, "elasticsearch/bulk/queue_max_size"), "1024", "default queue_max_size");
        T_STREQ(val(out, "elasticsearch/bulk/max_concurrency"), "5", "default max_concurrency");
        T_STREQ(val(out, "elasticsearch/request_timeout"), "240", "default request_timeout 240");
        T_STREQ(val(out, "elasticsearch/max_retries"), "5", "default max_retries");
        T_STREQ(val(out, "elasticsearch/ssl"), "true", "default ssl");
        T_STREQ(val(out, "service/idling"), "30", "default idling");
        T_STREQ(val(out, "service/max_concurrent_content_syncs"), "1", "default content syncs");
        T_STREQ(val(out, "connectors/0/connector_id"), "shop", "single connector: id");
        T_STREQ(val(out, "connectors/0/service_type"), "postgresql", "single connector: type");
        T_STREQ(val(out, "connectors/0/configuration/fetch_size"), "50", "single connector: defaults");
        const dsl_node *c = path(out, "connectors");
        T_CHECK(c && c->kind == DSL_SEQ && c->n == 1, "single connector: one element");
        T_CHECK(path(out, "elasticsearch/api_key") == NULL, "no api_key default");
    }

    /* user values win; dotted keys; interpolation-shaped values already replaced */
    {
        const dsl_node *out = run("elasticsearch.bulk.chunk_size: 250\n"
                                  "elasticsearch: { request_timeout: 5m, host: 'http://h:9200' }\n" PG);
        T_STREQ(val(out, "elasticsearch/bulk/chunk_size"), "250", "dotted key value kept");
        T_STREQ(val(out, "elasticsearch/bulk/max_concurrency"), "5", "sibling default filled");
        T_STREQ(val(out, "elasticsearch/request_timeout"), "300", "duration 5m -> 300 s");
        T_STREQ(val(out, "elasticsearch/host"), "http://h:9200", "user host kept");
    }

    /* aliases: deprecated spelling renamed with a warning; `user` silently */
    {
        const dsl_node *out = run("service:\n  max_concurrent_syncs: 3\n" PG);
        T_STREQ(val(out, "service/max_concurrent_content_syncs"), "3", "alias renamed");
        T_CHECK(path(out, "service/max_concurrent_syncs") == NULL, "old name gone");
        T_CHECK(diag_warnings(D) == 1, "a service setting serve runs does not warn 'not used'");
        T_STREQ(msg_at(0), "2:3: warning: 'max_concurrent_syncs' is deprecated, use 'max_concurrent_content_syncs'",
                "alias warning");
        out = run("connectors:\n  - connector_id: m\n    service_type: mysql\n"
                  "    configuration: { host: h, database: d, user: bob, port: '3307' }\n");
        T_STREQ(val(out, "connectors/0/configuration/username"), "bob", "mysql user -> username");
        T_CHECK(diag_warnings(D) == 0, "user is not deprecated");
        T_STREQ(val(out, "connectors/0/configuration/port"), "3307", "quoted int accepted");
        T_CHECK(path(out, "connectors/0/configuration/port")->quoted == 0, "int normalized unquoted");
    }

    /* normalizations for the lowering */
    {
        const dsl_node *out = run(MAPPING "        incremental: { cursor: updated_at, lag: 250ms }\n"
                                          "        extends: base\n"
                                          "        fields:\n          a.b: x\n"
                                          "          c: { from: y, transform: lower }\n"
                                  "templates:\n  base: { omit_nulls: true }\n");
        T_STREQ(val(out, "connectors/0/mappings/t/incremental/cursor/0"), "updated_at", "cursor string -> list");
        T_STREQ(val(out, "connectors/0/mappings/t/incremental/lag"), "0.25", "lag 250ms -> 0.25");
        T_STREQ(val(out, "connectors/0/mappings/t/extends/0"), "base", "extends string -> list");
        const dsl_node *f = path(out, "connectors/0/mappings/t/fields");
        T_CHECK(f && f->n == 2 && strcmp(f->keys[0]->str, "a.b") == 0, "dotted field name kept dotted");
        T_STREQ(val(out, "connectors/0/mappings/t/fields/c/transform/0"), "lower", "transform -> list");
        T_CHECK(path(out, "connectors/0/mappings/t/omit_nulls") == NULL, "no defaults inside mappings");
    }
    /* a single transform given as a map {name: argument} is a one-element
     * list too: as_list wraps whatever is not a list, not only scalars */
    {
        const dsl_node *out = run(MAPPING "        fields:\n          c: { from: y, transform: { join: \"/\" } }\n");
        const dsl_node *t = path(out, "connectors/0/mappings/t/fields/c/transform");
        T_CHECK(t && t->kind == DSL_SEQ && t->n == 1 && t->items[0]->kind == DSL_MAP &&
                    strcmp(val(out, "connectors/0/mappings/t/fields/c/transform/0/join"), "/") == 0,
                "transform {join: /} -> a list of one map");
    }

    /* a chain found too deep through a template already walked (t1 ... t100
     * is checked first and is 100 deep; top extends t1): the message says
     * where the walked part goes on */
    T_STREQ(chain_err(DSL_MAX_EXTENDS_DEPTH, "  top: { extends: t1 }\n"),
            "102:19: templates extend each other more than 100 levels deep: top -> t1 -> ... | "
            "a chain of `extends` may hold 100 templates; merge some of them",
            "extends too deep through a template already walked: top -> t1 -> ...");
    /* the height of a template learnt from a walked one (mid extends the
     * walked t1 ... t99, 99 deep: mid's chain is 100, allowed) counts for
     * what extends it later (top -> mid: 101) */
    T_STREQ(chain_err(DSL_MAX_EXTENDS_DEPTH - 1, "  mid: { extends: t1 }\n  top: { extends: mid }\n"),
            "102:19: templates extend each other more than 100 levels deep: top -> mid -> ... | "
            "a chain of `extends` may hold 100 templates; merge some of them",
            "extends too deep through a template whose height came from a walked one: top -> mid -> ...");

    /* ---- error classes: exact text and location ---- */
    T_STREQ(err1("elasticsearch:\n  bulk:\n    chunk_size: abc\n" PG),
            "3:17: chunk_size: expected an integer, got string \"abc\"", "wrong type int");
    T_STREQ(err1("elasticsearch:\n  ssl: maybe\n" PG),
            "2:8: ssl: expected true or false, got string \"maybe\"", "wrong type bool");
    T_STREQ(err1("elasticsearch:\n  bulk: [1]\n" PG), "2:9: bulk: expected a map, got a list",
            "wrong type map");
    T_STREQ(err1("elasticsearch.bulk.chunk_size: 0\n" PG), "1:32: chunk_size must be > 0", "range > 0");
    T_STREQ(err1(PG "    configuration: { port: 70000, host: h, username: u, database: d }\n"), "4:28: port must be <= 65535", "range max");
    T_STREQ(err1(PG "    configuration: { retry_count: -1, host: h, username: u, database: d }\n"), "4:35: retry_count must be >= 0",
            "range min");
    T_STREQ(err1("service:\n  idling: 5x\n" PG),
            "2:11: idling: expected a duration (\"250ms\", \"30s\", \"5m\", \"1h\" or seconds), got string \"5x\"",
            "bad duration");
    T_STREQ(err1("elasticsearch:\n  bulk:\n    chunk_sise: 5\n" PG),
            "3:5: unknown key 'chunk_sise' | did you mean 'chunk_size'?", "unknown key with suggestion");
    T_STREQ(err1("elasticsearch:\n  log_level: verbose\n" PG),
            "2:14: unknown log level 'verbose' | expected one of: debug, info, warning, error, critical",
            "enum without suggestion");
    T_STREQ(err1("service: { log_level: DEBUG }\n" PG) , "(no error)", "enum ignore case");
    T_STREQ(err1("connectors:\n  - connector_id: c\n"), "2:5: missing required key 'service_type'",
            "missing required key");
    T_STREQ(err1("connectors:\n  - connector_id: c\n    service_type: postgres\n"),
            "3:19: unknown service_type 'postgres' | did you mean 'postgresql'? (built-in drivers: postgresql, mysql, sqlite)",
            "unknown service_type");
    T_STREQ(err1("connectors:\n  - connector_id: c\n    service_type: oracle\n"),
            "3:19: service_type 'oracle' is not built into sql2es | built-in drivers: postgresql, mysql, sqlite",
            "oracle not built in");
    T_STREQ(err1("connector_id: c\nservice_type: mssql\n"),
            "2:15: service_type 'mssql' is not built into sql2es | built-in drivers: postgresql, mysql, sqlite",
            "mssql top-level not built in");
    T_STREQ(err1("service: {}\n"),
            "1:1: no connector defined | add a `connectors:` list, or the top-level connector_id and service_type",
            "no connector");
    T_STREQ(err1("connectors:\n  - connector_id: c\n    service_type: mysql\n    configuration: { schema: s, host: h, user: u, database: d }\n"),
            "4:22: 'schema' is not a setting of service_type 'mysql' | 'schema' applies to: postgresql",
            "per-service key");
    T_STREQ(err1("connectors:\n  - connector_id: c\n    service_type: sqlite\n    configuration: { tables: \"*\" }\n"),
            "4:20: missing required key 'path' | service_type 'sqlite' needs it: no default is assumed "
            "(not the local socket, not the user root)", "sqlite needs path");
    T_STREQ(err1("connectors:\n  - connector_id: c\n    service_type: postgresql\n"
                 "    configuration: { host: h, username: u }\n"),
            "4:20: missing required key 'database' | service_type 'postgresql' needs it: no default is "
            "assumed (not the local socket, not the user root)",
            "a written postgresql configuration needs host, username and database");
    T_STREQ(err1("connectors:\n  - connector_id: c\n    service_type: postgresql\n"),
            "(no error)", "a connector without configuration: the connectors' form (a lowering warning)");
    T_STREQ(err1("connectors:\n  - connector_id: c\n    service_type: mysql\n"
                 "    configuration: { user: a, username: b, host: h, database: d }\n"),
            "4:31: 'username' repeats 'user' (the same setting)", "alias and canonical both given");
    T_STREQ(err1(PG "  - connector_id: c\n    service_type: mysql\n"),
            "4:19: duplicate connector_id 'c' (first at line 2)", "duplicate connector id");

    T_STREQ(err1("mappings: {}\n" PG),
            "1:1: unknown key 'mappings' | 'mappings' is a key of a `connector`; known keys here: "
            "elasticsearch, service, connector_id, service_type, connectors, sources, "
            "native_service_types, extraction_service, templates",
            "key at the wrong level");

    /* basic sync rules */
#define RULES PG "    sync_rules:\n      basic:\n"
    T_STREQ(err1(RULES "        - { field: a, rule: equal, value: x, policy: include }\n"),
            "6:29: unknown rule 'equal' | did you mean 'equals'?", "unknown rule");
    T_STREQ(err1(RULES "        - { field: a, rule: equals, value: x, policy: inclde }\n"),
            "6:55: unknown policy 'inclde' | did you mean 'include'?", "unknown policy");
    T_STREQ(err1(RULES "        - { field: a, rule: equals, value: x }\n"),
            "6:11: missing required key 'policy'", "rule without policy");
    T_STREQ(err1(RULES "        - { field: a, rule: regex, value: 'ab(c', policy: include }\n"),
            "6:48: invalid regex: missing closing parenthesis", "bad regex column (quoted)");
    T_STREQ(err1(RULES "        - { field: a, rule: regex, value: a)b, policy: include }\n"),
            "6:44: invalid regex: unmatched closing parenthesis", "bad regex column (plain)");
    T_STREQ(err1(RULES "        - { field: a, rule: regex, value: '.*', policy: exclude }\n"),
            "6:43: regex '.*' matches every value | only the default rule (field '_') may match "
            "everything; remove the rule or narrow the pattern",
            "match-all regex");
    T_STREQ(err1(RULES "        - { field: a, rule: equals, value: '', policy: include }\n"),
            "6:44: value must not be empty", "empty rule value");
    T_STREQ(err1(RULES "        - { field: _, rule: regex, value: '.*', policy: include }\n"), "(no error)",
            "default rule allowed");
    T_STREQ(err1(RULES "        - { field: a, rule: equals, value: x, policy: include, order: 1 }\n"
                       "        - { field: a, rule: equals, value: x, policy: exclude, order: 2 }\n"),
            "7:11: duplicate rule: same field, rule and value as the rule at line 6", "duplicate rule");
    T_STREQ(err1(RULES "        - { field: a, rule: '>', value: 3, policy: include, order: first }\n"),
            "6:68: order: expected an integer, got string \"first\"", "order an int");

    /* advanced rules */
#define ADV PG "    sync_rules:\n      advanced:\n"
    T_STREQ(err1(ADV "        - { query: 'SELECT 1' }\n"), "6:11: missing required key 'tables'",
            "advanced without tables");
    T_STREQ(err1(ADV "        - { tables: [a], query: 'SELECT 1', filter: x }\n"),
            "6:45: unknown key 'filter' | known keys: tables, query, id_columns", "advanced extra key");
    T_STREQ(err1(ADV "        - { tables: a, query: 'SELECT 1' }\n"),
            "6:21: tables: expected a list, got string \"a\"", "advanced tables a list");

    /* templates */
    T_STREQ(err1(MAPPING "        extends: [audit]\ntemplates:\n  audited: {}\n"),
            "6:19: unknown template 'audit' | did you mean 'audited'?", "unknown template");
    run(PG "templates:\n  a: { extends: b }\n  b: { extends: [c] }\n  c: { extends: a }\n");
    T_STREQ(msg_at(0), "7:17: template cycle: a -> b -> c -> a", "template cycle chain");
    T_CHECK(diag_errors(D) == 1, "cycle reported once");
    T_STREQ(err1(PG "templates:\n  a: { extends: a }\n"), "5:17: template cycle: a -> a", "self cycle");

    /* transforms */
#define FIELD MAPPING "        fields:\n"
    T_STREQ(err1(FIELD "          a: { from: a, transform: [lowr] }\n"),
            "7:37: unknown transform 'lowr' | did you mean 'lower'?", "unknown transform");
    T_STREQ(err1(FIELD "          a: { from: a, transform: [split] }\n"),
            "7:37: transform 'split' needs an argument | write { split: ... }", "split needs argument");
    T_STREQ(err1(FIELD "          a: { from: a, transform: [{ trim: x }] }\n"),
            "7:45: 'trim' takes no argument", "trim takes none");
    T_STREQ(err1(FIELD "          a: { from: a, transform: [{ truncate: 0 }] }\n"),
            "7:49: truncate must be > 0", "truncate > 0");
    T_STREQ(err1(FIELD "          a: { from: a, transform: [{ regex_extract: ['(x)', 2] }] }\n"),
            "7:62: capture group 2 does not exist: the pattern has 1 group", "regex_extract group");
    T_STREQ(err1(FIELD "          a: { from: a, transform: [{ regex_extract: ['(x', 1] }] }\n"),
            "7:58: invalid regex: missing closing parenthesis", "regex_extract bad pattern column");
    T_STREQ(err1(FIELD "          a: { from: a, transform: [{ regex_replace: [x] }] }\n"),
            "7:54: regex_replace expects a list of 2 values: [PATTERN, REPLACEMENT], got 1",
            "regex_replace arity");
    T_STREQ(err1(FIELD "          a: { from: a, transform: [{ split: ',', join: ';' }] }\n"),
            "7:37: transform takes at most 1 entry, got 2", "transform one key");
    T_STREQ(err1(FIELD "          a: { from: a, transform: [{ default: [1] }] }\n"), "(no error)",
            "default takes any value");

    /* fields */
    T_STREQ(err1(FIELD "          a: { from: a, type: scaled_float }\n"),
            "7:31: type scaled_float needs scaling_factor", "scaled_float needs factor");
    T_STREQ(err1(FIELD "          a: { from: a, type: keywrd }\n"),
            "7:31: unknown field type 'keywrd' | did you mean 'keyword'?", "unknown field type");
    T_STREQ(err1(FIELD "          a: { form: a, transform: [trim] }\n"),
            "7:16: unknown key 'form' | did you mean 'from'?", "field settings typo");
    T_STREQ(err1(FIELD "          a: { from: a, template: '{{ b }}' }\n"),
            "7:35: a field takes either 'from' or 'template', not both", "from and template");

    /* relations and incremental */
    T_STREQ(err1(MAPPING "        relations:\n          o: { table: orders, on: {} }\n"),
            "7:35: on must not be empty", "relation on empty");
    T_STREQ(err1(MAPPING "        relations:\n          o: { table: orders }\n"),
            "7:14: missing required key 'on'", "relation on required");
    T_STREQ(err1(MAPPING "        relations:\n          o: { table: orders, on: { a: b }, one: sure }\n"),
            "7:50: one: expected true or false, got string \"sure\"", "one a bool");
    T_STREQ(err1(MAPPING "        incremental: { cursor: [] }\n"), "6:32: cursor must not be empty",
            "cursor not empty");
    T_STREQ(err1(MAPPING "        incremental: { lag: 30s }\n"), "6:22: missing required key 'cursor'",
            "cursor required");
    T_STREQ(err1(MAPPING "        incremental: { cursor: id, lag: soon }\n"),
            "6:41: lag: expected a duration (\"250ms\", \"30s\", \"5m\", \"1h\" or seconds), got string \"soon\"",
            "lag a duration");
    T_STREQ(err1(PG "    mappings:\n      \"inv[_*\": {}\n"),
            "5:11: unclosed '[' in table glob 'inv[_*'", "bad glob");

    /* all errors of a file in one run */
    T_CHECK(run("elasticsearch: { ssl: x, bulk: { chunk_size: -1 } }\nservice: { idlng: 3 }\n" PG) == NULL &&
                diag_errors(D) == 3,
            "three errors reported in one run");

    /* secrets never echoed */
    run(PG "    configuration: { password: [s3cret] }\n");
    T_CHECK(strstr(msg_at(0), "s3cret") == NULL && strstr(msg_at(0), "password") != NULL,
            "secret value not in message");

    /* loading the description is cheap (it happens once per process) */
    {
        arena *la = arena_new();
        extern const char sql2es_language_yaml[];
        extern const unsigned long sql2es_language_yaml_len;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        const dsl_schema *ls = dsl_schema_load(la, D, "language.yaml", sql2es_language_yaml,
                                               sql2es_language_yaml_len);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("# language.yaml loaded in %.3f ms\n", ms);
        T_CHECK(ls != NULL, "description loads again");
        arena_free(la);
    }

    /* the JSON Schema prints */
    {
        char *out = NULL;
        size_t outn = 0;
        FILE *f = open_memstream(&out, &outn);
        T_CHECK(f && dsl_print_json_schema(f) == 0, "json schema printed");
        if (f) fclose(f);
        T_CHECK(out && strstr(out, "\"$defs\"") && strstr(out, "\"chunk_size\""), "json schema content");
        T_CHECK(out && json_parse(NULL, out, strlen(out), NULL), "json schema is valid JSON");
        free(out);
    }

    diag_free(D);
    arena_free(A);
    return T_DONE();
}
