/* node.h - the configuration tree produced by the YAML loader (dsl/yaml.c).
 *
 * Stage: YAML text -> dsl_node tree (this) -> checked config -> plan.
 * Every node keeps its file, line and column. Scalars keep their text after
 * environment interpolation and whether they were quoted (a plain `true` is a
 * boolean, a quoted "true" a string). Anchors/aliases are expanded (bounded),
 * merge keys (<<) applied, dotted keys (`a.b.c: 1`) turned into nested maps,
 * duplicate keys reported. All memory belongs to the arena passed in.
 */
#ifndef SQL2ES_DSL_NODE_H
#define SQL2ES_DSL_NODE_H

#include <stddef.h>

#include "base/arena.h"
#include "base/diag.h"

typedef enum { DSL_NULL, DSL_SCALAR, DSL_SEQ, DSL_MAP } dsl_kind;

typedef struct dsl_node dsl_node;

struct dsl_node {
    dsl_kind kind;
    src_loc loc;          /* start of the node (for maps: of the first key) */
    /* DSL_SCALAR (DSL_NULL for `~`, `null`, empty plain values) */
    const char *str;      /* NUL-terminated, no NUL inside (the loader refuses "\0") */
    size_t len;
    int quoted;           /* 1 for '...', "..." , | and > scalars */
    /* DSL_SEQ: items[0..n); DSL_MAP: keys[i] (scalars) -> items[i], in file order */
    dsl_node **items;
    dsl_node **keys;
    size_t n;
};

/* Loader limits (bounded work on hostile input). */
typedef struct dsl_limits {
    size_t max_depth;        /* nesting depth; default 64 */
    size_t max_nodes;        /* nodes after alias expansion; default 1,000,000 */
    size_t max_file_size;    /* bytes; default 16 MiB */
} dsl_limits;

/* Parse a YAML file. Errors go to d as file:line:col messages; the source text
 * is registered with d for carets. Returns the document root (a map for a
 * valid config) or NULL when any error was reported. An empty document gives
 * an empty map. limits may be NULL for the defaults. */
dsl_node *dsl_load_file(arena *a, diag *d, const char *path, const dsl_limits *limits);
/* Same from memory; name is used in locations. */
dsl_node *dsl_load_string(arena *a, diag *d, const char *name, const char *text, size_t len,
                          const dsl_limits *limits);

/* Map lookup (last wins is impossible: duplicates are errors). NULL if absent
 * or if map is not a DSL_MAP. */
dsl_node *dsl_map_get(const dsl_node *map, const char *key);

/* Append key: value to a map without looking for an equal key: the caller
 * knows the key is absent (keys copied from a map, which has none twice). */
void dsl_map_add(arena *a, dsl_node *map, dsl_node *key, dsl_node *value);

/* A hashed set of names, each with a value (an index), built in an arena:
 * lookups among many names (a config may hold 100,000 tables) stay O(1).
 * Names are borrowed: they must outlive the set. */
typedef struct dsl_names dsl_names;
#define DSL_NAMES_NONE ((size_t)-1)
dsl_names *dsl_names_new(arena *a, size_t expected);
/* Add name -> value; when the name is already present nothing changes and
 * the existing value is returned, else value. */
size_t dsl_names_add(dsl_names *t, const char *name, size_t len, size_t value);
/* The value of name, or DSL_NAMES_NONE (also for a NULL set or name). */
size_t dsl_names_find(const dsl_names *t, const char *name, size_t len);
/* The keys of a map -> their index (an empty set when map is not a map). */
dsl_names *dsl_names_of_map(arena *a, const dsl_node *map);

/* Deep merge: maps merge key by key (overlay wins), anything else is replaced
 * by the overlay. Returns a new tree in a; inputs are not modified. */
dsl_node *dsl_merge(arena *a, const dsl_node *base, const dsl_node *overlay);

/* Build nodes (for defaults and tests). */
dsl_node *dsl_new_scalar(arena *a, const char *s, int quoted, src_loc loc);
dsl_node *dsl_new_map(arena *a, src_loc loc);
dsl_node *dsl_new_seq(arena *a, src_loc loc);
void dsl_map_put(arena *a, dsl_node *map, dsl_node *key, dsl_node *value);
void dsl_seq_push(arena *a, dsl_node *seq, dsl_node *item);

/* Scalar conversions: 0 on success, DIAG_EINVAL when the text is not of the
 * type (YAML 1.2 core schema: true/false, ints incl. 0x, floats, .inf no). */
int dsl_as_bool(const dsl_node *n, int *out);
int dsl_as_int(const dsl_node *n, long long *out);
int dsl_as_double(const dsl_node *n, double *out);

#endif
