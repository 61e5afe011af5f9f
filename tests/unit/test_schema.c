/* test_schema.c - the loader of the language description (dsl/schema.c).
 * The description is embedded at build time, so a mistake in it is a build
 * bug: the loader names each one with its place in the description. Here
 * small descriptions with one mistake each (and a valid one) are loaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/diag.h"
#include "dsl/schema.h"
#include "t.h"

static const char *load(const char *text, const dsl_schema **out)
{
    static char msgs[2048];
    arena *a = arena_new();
    diag *d = diag_new();
    const dsl_schema *s = dsl_schema_load(a, d, "lang.yaml", text, strlen(text));
    size_t n = 0;
    msgs[0] = 0;
    for (size_t i = 0; i < diag_count(d); i++) {
        const diag_msg *m = diag_get(d, i);
        n += (size_t)snprintf(msgs + n, sizeof msgs - n, "%s%d:%d: %s", i ? "|" : "", m->loc.line,
                              m->loc.col, m->text);
        if (n >= sizeof msgs) break;
    }
    if (out) *out = s;
    diag_free(d);
    arena_free(a);
    return msgs;
}

#define ST "service_types: { pg: [postgres], sqlite: [] }\n"

int main(void)
{
    T_PLAN(19);
    const dsl_schema *s = NULL;
    load("root: top\ntypes:\n  top: { type: map, keys: { a: string, b: { type: int, min: 1 } } }\n" ST, &s);
    T_CHECK(s != NULL, "a valid description loads");
    T_STREQ(load("types: {}\n" ST, &s),
            "1:1: language description: needs `root:` and a `types:` map", "no root");
    T_CHECK(s == NULL, "... and gives no description");
    T_STREQ(load("root: top\ntypes: [a]\n" ST, NULL),
            "1:1: language description: needs `root:` and a `types:` map", "types is not a map");
    T_STREQ(load("root: nope\ntypes: { top: string }\n" ST, NULL),
            "1:1: language description: unknown root type 'nope'", "unknown root type");
    T_STREQ(load("root: top\ntypes: { top: string }\n", NULL),
            "1:1: language description: needs a `service_types:` map", "no service types");
    T_STREQ(load("root: top\ntypes: { top: string }\nservice_types: {}\n", NULL),
            "1:1: language description: needs a `service_types:` map", "empty service types");
    T_STREQ(load("root: top\ntypes:\n  top: { help: x }\n" ST, NULL),
            "3:8: language description: a type needs `type:`", "a type without type");
    T_STREQ(load("root: top\ntypes:\n  top: { type: strng }\n" ST, NULL),
            "3:16: language description: unknown type 'strng'", "unknown type");
    T_STREQ(load("root: top\ntypes:\n  top: { type: string, hlp: x }\n" ST, NULL),
            "3:24: language description: unknown meta key 'hlp'", "unknown meta key");
    T_STREQ(load("root: top\ntypes:\n  top: { type: enum, values: [a, [b]] }\n" ST, NULL),
            "3:34: language description: expected a list of names|"
            "3:8: language description: an enum needs `values`",
            "enum values must be names");
    T_STREQ(load("root: top\ntypes:\n  top: { type: int, min: low }\n" ST, NULL),
            "3:26: language description: expected a number", "min must be a number");
    T_STREQ(load("root: top\ntypes:\n  top: { type: string, required: maybe }\n" ST, NULL),
            "3:34: language description: expected true or false", "required must be a boolean");
    T_STREQ(load("root: top\ntypes:\n  top: { type: map, keys: [a] }\n" ST, NULL),
            "3:27: language description: `keys` must be a map|"
            "3:8: language description: a map type needs `keys`",
            "keys must be a map");
    T_STREQ(load("root: top\ntypes:\n  top: { type: or, alts: string }\n" ST, NULL),
            "3:26: language description: `alts`/`items` must be a list|"
            "3:8: language description: or/tuple need `alts`/`items`",
            "alts must be a list");
    T_STREQ(load("root: top\ntypes:\n  top: { type: list_of }\n" ST, NULL),
            "3:8: language description: map_of/list_of need `of`", "list_of needs of");
    T_STREQ(load("root: top\ntypes:\n  top: { type: tuple, items: [string, { type: nope }] }\n" ST, NULL),
            "3:47: language description: unknown type 'nope'", "an unknown type inside items");
    T_STREQ(load("root: top\ntypes:\n  top: sub\n  sub: { type: map_of, of: int }\n" ST, &s),
            "", "a named type used by name");
    T_CHECK(!strcmp(dsl_stype_name(DSL_T_STRING), "string") && !strcmp(dsl_stype_name(DSL_T_OR), "or") &&
                !strcmp(dsl_stype_name(DSL_T_REF), "ref") && !strcmp(dsl_stype_name((dsl_stype)99), "?"),
            "type names, and ? for a value out of range");
    return T_DONE();
}
