/* schema.h - the configuration language as data (schemas/language.yaml).
 *
 * Stage: used by the checker (dsl/check.c) and the JSON Schema printer. The
 * description is embedded in the binary, loaded with the normal YAML loader at
 * first use and kept for the process (freed at exit). It describes keys,
 * types, defaults, ranges, enums, aliases and help texts; semantic checks
 * that data cannot say are named by `check:` and implemented in check.c.
 * This module does not check configurations itself.
 */
#ifndef SQL2ES_DSL_SCHEMA_H
#define SQL2ES_DSL_SCHEMA_H

#include <stddef.h>

#include "base/diag.h"
#include "dsl/node.h"

typedef enum {
    DSL_T_STRING,
    DSL_T_INT,
    DSL_T_NUMBER,
    DSL_T_BOOL,
    DSL_T_ENUM,
    DSL_T_DURATION,
    DSL_T_SECRET,
    DSL_T_SQL,
    DSL_T_TEMPLATE,
    DSL_T_REGEX,
    DSL_T_GLOB,
    DSL_T_ANY,
    DSL_T_NONE,
    DSL_T_MAP,
    DSL_T_MAP_OF,
    DSL_T_LIST_OF,
    DSL_T_TUPLE,
    DSL_T_OR,
    DSL_T_REF /* a named type of `types:` (see ref) */
} dsl_stype;

typedef struct dsl_sdesc dsl_sdesc;

typedef struct dsl_skey {
    const char *name;
    const dsl_sdesc *desc;
} dsl_skey;

/* One TYPE of the meta-language (see the comment at the top of language.yaml).
 * Site properties (help, default, required, aliases...) live on the desc of
 * a key; structure lives on the desc reached through dsl_sdesc_resolve(). */
struct dsl_sdesc {
    dsl_stype type;
    const char *type_name;      /* DSL_T_REF: the name; else the built-in type name */
    const dsl_sdesc *ref;       /* DSL_T_REF: the named type */
    const char *help;           /* NULL when none */
    const char *noun;           /* enum: name of the thing in messages */
    const char *check;          /* extra semantic check name, or NULL */
    const char *unused;         /* accepted, not executed: why (warned when written), or NULL */
    const dsl_node *def;        /* default (a tree in the schema arena), or NULL */
    const dsl_node *def_by_service; /* map service_type -> default, or NULL */
    const char *const *services;    /* NULL-terminated, or NULL = every service */
    const char *const *values;      /* enum, NULL-terminated */
    const char *const *aliases;     /* deprecated old spellings, NULL-terminated or NULL */
    const char *const *synonyms;    /* silent other spellings, NULL-terminated or NULL */
    int has_min, has_max, has_gt;
    double min, max, gt;
    long min_items, max_items;  /* -1 when unset */
    int required, sensitive, ignore_case, as_list;
    const dsl_skey *keys;       /* DSL_T_MAP */
    size_t nkeys;
    const dsl_sdesc *of;        /* DSL_T_MAP_OF, DSL_T_LIST_OF */
    const dsl_sdesc *const *alts; /* DSL_T_OR alternatives, DSL_T_TUPLE items */
    size_t nalts;
};

/* A service_type of `service_types:` and its other spellings. */
typedef struct dsl_service {
    const char *name;
    const char *const *aliases;   /* NULL-terminated */
} dsl_service;

typedef struct dsl_schema {
    const dsl_sdesc *root;
    const dsl_service *services;   /* `service_types:`, in file order */
    size_t nservices;
    const char *const *service_spellings; /* names and aliases, NULL-terminated */
    const char *service_list;      /* "postgresql, mysql, sqlite" (messages) */
    const char *const *type_names; /* named types, in file order, NULL-terminated */
    const dsl_sdesc *const *types;
    size_t ntypes;
} dsl_schema;

/* The language description, loaded once per process (freed by an atexit
 * handler). Returns NULL after reporting to d (may be NULL) when the embedded
 * description is invalid - a build bug. */
const dsl_schema *dsl_schema_get(diag *d);

/* Load a description from YAML text (tests, tools). The result lives in a. */
const dsl_schema *dsl_schema_load(arena *a, diag *d, const char *name, const char *text,
                                  size_t len);

/* The service_type that name spells (itself or an alias), or NULL. */
const char *dsl_service_canonical(const dsl_schema *s, const char *name);

/* Follow DSL_T_REF links to the structural description. */
const dsl_sdesc *dsl_sdesc_resolve(const dsl_sdesc *s);

/* Key description of a DSL_T_MAP (already resolved), or NULL. */
const dsl_skey *dsl_sdesc_key(const dsl_sdesc *map, const char *name);

/* Parse a duration: "250ms", "30s", "5m", "1h", "1d" or a plain number of
 * seconds ("1.5"). 0 and *seconds set on success, DIAG_EINVAL otherwise. */
int dsl_parse_duration(const char *s, double *seconds);

/* Name of a built-in type (DSL_T_STRING -> "string"). */
const char *dsl_stype_name(dsl_stype t);

#endif
