/* dsl.h - the configuration compiler's entry points.
 *
 * Pipeline: dsl/yaml.c (YAML -> dsl_node tree with positions)
 *        -> dsl/check.c (the language in schemas/language.yaml: keys, types,
 *           ranges, enums, defaults; sync rules; templates)
 *        -> dsl/lower.c (extends/globs/templates expanded, SQL, programs) -> plan.
 * Never returns a partial plan: any error means NULL and messages in d.
 */
#ifndef SQL2ES_DSL_H
#define SQL2ES_DSL_H

#include <stdio.h>

#include "base/diag.h"
#include "plan/plan.h"
#include "dsl/node.h"

/* Longest chain of templates extending each other (a -> b -> c is 3): past
 * it, a compile error naming the limit (a cycle is reported as a cycle). */
#define DSL_MAX_EXTENDS_DEPTH 100

/* Compile a config file. Returns a plan (free with plan_free) or NULL with
 * errors in d. Warnings (deprecated aliases...) may be present either way.
 * drivers: the source drivers (src_drivers of sources/registry.c, handed in
 * by the caller so that the compiler links without any of them): each
 * connector's driver and dialect facts (push-down operators, connectors'
 * document shapes) come from there. NULL = validate only: the plan has no
 * drivers (plan_connector.driver NULL) and pushes nothing down. */
plan *dsl_compile_file(const char *path, const src_driver *const *drivers, diag *d);
/* Same from memory; name is the file name used in messages. */
plan *dsl_compile_string(const char *name, const char *text, size_t len,
                         const src_driver *const *drivers, diag *d);
/* Same from a loaded tree (root NULL: NULL): check, then lower. scratch
 * holds the checked tree and is freed before returning (root may live in
 * it); errors already in d before the call do not count. */
plan *dsl_compile_tree(arena *scratch, diag *d, const dsl_node *root, const char *file,
                       const src_driver *const *drivers);

/* Check a loaded tree against the language and apply defaults. Returns the
 * tree with defaults merged (allocated in a) or NULL when errors were found. */
dsl_node *dsl_check(arena *a, diag *d, const dsl_node *root);
/* Lower a checked tree to a plan built in plan arena pa. NULL on errors. */
plan *dsl_lower(arena *pa, diag *d, const dsl_node *checked, const char *file,
                const src_driver *const *drivers);

/* Print the JSON Schema of the configuration language (from schemas/language.yaml). */
int dsl_print_json_schema(FILE *out);

#endif
