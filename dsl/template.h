/* template.h - the "{{ }}" template expressions of the configuration language.
 *
 * Stage: lowering (dsl/lower.c) parses template strings into plan_tpl parts.
 * `{{ name }}` reads a column, `{{ $table }}`, `{{ $schema }}`, `{{ $database }}`,
 * `{{ $connector }}` are plan variables; `{{ $pk }}` (the primary-key values
 * joined with "_", the connectors' id formula) is accepted where a row exists;
 * `{{ album.title }}` reads a column of a many-to-one relation (field templates).
 * This module does not render templates (the interpreter does).
 */
#ifndef SQL2ES_DSL_TEMPLATE_H
#define SQL2ES_DSL_TEMPLATE_H

#include "base/arena.h"
#include "base/diag.h"
#include "plan/plan.h"

enum {
    DSL_TPL_ALLOW_COLUMNS = 1, /* {{ column }} allowed (not in `index`) */
    DSL_TPL_ALLOW_PK = 2,      /* {{ $pk }} allowed (document ids) */
    DSL_TPL_ALLOW_RELATIONS = 4 /* {{ relation.column }} allowed (field templates): a
                                 * PLAN_TPL_REL part whose text is "relation.column" and
                                 * rel -1, resolved by the lowering */
};

/* Parse template text s (NUL-terminated). loc is where the scalar starts in
 * the config and quoted says whether the text starts one column after it
 * (quoted scalars): error columns point into the template when the scalar is
 * on one line. Returns the template (in a; source = s copied) or NULL after
 * reporting every error of s in d. */
const plan_tpl *dsl_tpl_parse(arena *a, diag *d, const char *s, src_loc loc, int quoted,
                              unsigned flags);

/* 1 when s contains "{{" (a template rather than a column name). */
int dsl_tpl_is_template(const char *s);

/* 1 when t reads at least one column. */
int dsl_tpl_has_columns(const plan_tpl *t);

#endif
