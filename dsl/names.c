/* names.c - a hashed name -> index lookup (see node.h, dsl_names).
 *
 * Stage: used by the checker and the lowering wherever a name is looked up
 * among many (mapping keys, templates, selected tables, connector ids): a
 * configuration may hold 100,000 tables, and a linear search per name would
 * make compiling quadratic in the file. Open addressing, FNV-1a, memory in
 * the caller's arena. Names are borrowed and must outlive the set.
 */
#include <stdint.h>
#include <string.h>

#include "dsl/node.h"

typedef struct slot {
    const char *name; /* NULL: empty */
    size_t len;
    size_t value;
} slot;

struct dsl_names {
    arena *a;
    slot *s;
    size_t cap, n;
};

static size_t hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    return (size_t)h;
}

static slot *probe(slot *s, size_t cap, const char *name, size_t len)
{
    for (size_t i = hash(name, len) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!s[i].name || (s[i].len == len && memcmp(s[i].name, name, len) == 0)) return &s[i];
}

dsl_names *dsl_names_new(arena *a, size_t expected)
{
    dsl_names *t = arena_alloc(a, sizeof *t);
    t->a = a;
    t->cap = 16;
    while (t->cap < expected * 2) t->cap *= 2;
    t->s = arena_alloc(a, t->cap * sizeof *t->s);
    return t;
}

size_t dsl_names_add(dsl_names *t, const char *name, size_t len, size_t value)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t nc = t->cap * 2;
        slot *ns = arena_alloc(t->a, nc * sizeof *ns);
        for (size_t i = 0; i < t->cap; i++)
            if (t->s[i].name) *probe(ns, nc, t->s[i].name, t->s[i].len) = t->s[i];
        t->s = ns;
        t->cap = nc;
    }
    slot *s = probe(t->s, t->cap, name, len);
    if (s->name) return s->value;
    s->name = name;
    s->len = len;
    s->value = value;
    t->n++;
    return value;
}

size_t dsl_names_find(const dsl_names *t, const char *name, size_t len)
{
    if (!t || !name) return DSL_NAMES_NONE;
    const slot *s = probe(t->s, t->cap, name, len);
    return s->name ? s->value : DSL_NAMES_NONE;
}

dsl_names *dsl_names_of_map(arena *a, const dsl_node *map)
{
    size_t n = map && map->kind == DSL_MAP ? map->n : 0;
    dsl_names *t = dsl_names_new(a, n);
    for (size_t i = 0; i < n; i++) dsl_names_add(t, map->keys[i]->str, map->keys[i]->len, i);
    return t;
}
