/* compile.c - the compiler's entry points: load -> check -> lower.
 *
 * Stage: whole compiler front door (dsl.h). The loaded and checked trees
 * live in a scratch arena freed before returning; the plan owns its own
 * arena. Any error means NULL and messages in d: never a partial plan.
 * Printing diagnostics is the caller's business.
 */
#include "dsl/dsl.h"

plan *dsl_compile_tree(arena *scratch, diag *d, const dsl_node *root, const char *file,
                       const src_driver *const *drivers)
{
    plan *p = NULL;
    arena *pa = NULL;
    int before = diag_errors(d);
    if (!root || diag_errors(d) > before) goto out;
    const dsl_node *checked = dsl_check(scratch, d, root);
    if (!checked || diag_errors(d) > before) goto out;
    pa = arena_new();
    if (!pa) goto out;
    p = dsl_lower(pa, d, checked, file, drivers);
    if (!p || diag_errors(d) > before) {
        p = NULL;
        arena_free(pa);
    }
out:
    arena_free(scratch);
    return p;
}

plan *dsl_compile_file(const char *path, const src_driver *const *drivers, diag *d)
{
    arena *scratch = arena_new();
    if (!scratch) return NULL;
    int before = diag_errors(d);
    dsl_node *root = dsl_load_file(scratch, d, path, NULL);
    if (diag_errors(d) > before) root = NULL;
    return dsl_compile_tree(scratch, d, root, path, drivers);
}

plan *dsl_compile_string(const char *name, const char *text, size_t len,
                         const src_driver *const *drivers, diag *d)
{
    arena *scratch = arena_new();
    if (!scratch) return NULL;
    int before = diag_errors(d);
    dsl_node *root = dsl_load_string(scratch, d, name, text, len, NULL);
    if (diag_errors(d) > before) root = NULL;
    return dsl_compile_tree(scratch, d, root, name, drivers);
}
