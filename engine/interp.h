/* interp.h - the row-to-document interpreter (engine stage: rows -> _bulk).
 *
 * An eng_interp executes the bound op program of one table for each source
 * row, straight into the output buffer: the bulk action line and the document
 * source line. No tree per row, no malloc per row once the scratch buffers
 * have grown. Basic sync rules (rules.c) are evaluated on the emitted
 * document fields; a filtered row leaves the output buffer untouched.
 *
 * Relations: the caller (extraction loop) gathers, per chunk of parent rows,
 * the child rows of each relation with one query (eng_child_set), and hands
 * them to the interpreter before writing the parents of that chunk.
 *
 * Not here: reading rows, sending bulk requests, deciding which rows are
 * deletes (deleted_when is evaluated by the scan's SQL).
 */
#ifndef SQL2ES_INTERP_H
#define SQL2ES_INTERP_H

#include <stdint.h>

#include "engine/bind.h"
#include "base/buf.h"
#include "base/diag.h"
#include "plan/plan.h"
#include "sources/source.h"

typedef struct eng_interp eng_interp;
typedef struct eng_child_set eng_child_set;

typedef struct eng_doc_result {
    int filtered;          /* 1: excluded by a basic rule, nothing written */
    int unjudged;          /* 1: a rule or a transform could not be evaluated (a
                            * regex hit its match limit): nothing written, the
                            * row is an error (counted in errors, itemised in d:
                            * table, key, rule or field). It is neither indexed
                            * nor filtered: a full sync must not delete its
                            * document (the caller marks the id as seen). */
    int deleted;           /* 1: a delete action was written */
    const plan_rule *rule; /* the rule that decided, NULL when none matched */
    const char *id;        /* the _id written (valid until the next call) */
    size_t idlen;
    uint64_t warnings;     /* warnings raised by this row */
} eng_doc_result;

typedef struct eng_interp_stats {
    uint64_t docs;          /* index actions written */
    uint64_t deletes;       /* delete actions written */
    uint64_t filtered;      /* rows excluded by rules */
    uint64_t warnings;      /* all warnings below */
    uint64_t utf8_replaced; /* invalid UTF-8 sequences replaced by U+FFFD */
    uint64_t coercions;     /* to_number/to_bool/parse_json failures (value nulled) */
    uint64_t unjudged;      /* rows with a rule/transform that could not be evaluated */
    uint64_t errors;        /* row errors (unjudged included) */
} eng_interp_stats;

/* New interpreter for bt (borrowed; must outlive it). Warnings (first few
 * with details, then only counted; see eng_interp_set_detail) and errors go
 * to d. NULL on OOM. */
eng_interp *eng_interp_new(const eng_bound_table *bt, diag *d);
void eng_interp_free(eng_interp *it);
const eng_interp_stats *eng_interp_stats_get(const eng_interp *it);
/* How many value warnings are itemised (connector > table > row > column:
 * what) before the rest are only counted: 10 unless set; -1 = all. */
void eng_interp_set_detail(eng_interp *it, int max);

/* Write the bulk lines of one row (bt->st->ncols values; plus the deleted
 * flag column when bt->deleted_col >= 0, which turns the row into a delete)
 * into out: the action line and the document line, or nothing when a rule
 * filters the row out or the row cannot be judged (res->unjudged: returns 0,
 * the error is in d). Returns 0, or <0 (buffer cap reached, out of memory)
 * with an error message naming connector > table > row key in d; on error
 * out is rolled back to its length at the call. */
int eng_write_doc(eng_interp *it, const src_value *row, buf *out, eng_doc_result *res);
/* Write {"delete":{"_index":..,"_id":..}}\n for row (its _id computed as for
 * eng_write_doc). */
int eng_write_delete(eng_interp *it, const src_value *row, buf *out, eng_doc_result *res);

/* Append the text form of v (templates, ids, keys): strings, numbers, bools
 * and JSON as their bytes, binary as base64, NULL as nothing. 0 or <0. */
int eng_value_text(const src_value *v, buf *out);

/* --- relations */

/* A chunk of child rows of one bound relation, grouped by their `on` key.
 * Rows are copied into the set's own arena (source values are borrowed). */
eng_child_set *eng_child_set_new(const eng_bound_relation *br);
void eng_child_set_free(eng_child_set *cs);
/* Forget parents and children (next chunk); keeps memory. */
void eng_child_set_reset(eng_child_set *cs);
/* Register a parent row (parent table's values): its key joins the IN list
 * (deduplicated; rows whose key has a NULL are skipped). */
int eng_child_set_add_parent(eng_child_set *cs, const src_value *parent_row);
/* Number of distinct parent keys registered. */
int eng_child_set_nparents(const eng_child_set *cs);
/* The child query for the registered parents (valid until reset/free):
 *   SELECT <child cols> FROM <child> WHERE (c1, c2) IN ((?, ?), ...)
 *     [AND (where)] ORDER BY c1, c2, order_by...
 * or, many-to-many, with the link table's key columns:
 *   SELECT <child cols>, link.k FROM <child> JOIN <link> ON child.j = link.j
 *     WHERE link.k IN (?, ...) [AND (where)] ORDER BY link.k, order_by...
 * Rows come back grouped by key and in order_by order within a key. */
int eng_child_set_query(eng_child_set *cs, src_query *q, diag *d);
/* Add one row of the child query (its columns are br->sel of the child
 * table, then br->nextra key columns of a many-to-many link), in the query's
 * order. *stored (may be NULL) receives the copy the
 * set keeps, laid out as the child table (unselected columns NULL), or NULL
 * when the row's key is NULL. */
int eng_child_set_add_child(eng_child_set *cs, const src_value *result_row,
                            const src_value **stored);
/* Merge reads (br->merge): with on, add_child drops the rows whose key is
 * no registered parent's (children of parents of other chunks, of parents
 * that `where` or the rules left out, or of no parent at all). */
void eng_child_set_only_parents(eng_child_set *cs, int on);
/* The key values (text, rel->non) of the i-th registered parent, NULL when
 * there is none. */
const char *const *eng_child_set_parent_key(const eng_child_set *cs, int i);
/* Compare the key of a row of the merge query (result columns
 * br->merge_pos) with the key of registered parent `parent` (-1: the last
 * one, the greatest in the scan's order) in an integer column's order:
 * <0, 0, >0. A row without a parent to compare with is greater. */
int eng_child_set_cmp(const eng_child_set *cs, const src_value *result_row, int parent);
/* Use cs for relation br (any depth) in the next eng_write_doc calls. cs is
 * borrowed; NULL = no children known (one-to-many writes [], one null). */
void eng_interp_set_children(eng_interp *it, const eng_bound_relation *br,
                             const eng_child_set *cs);

/* --- basic rules (rules.c) */

/* 1 when rule r matches a document field whose value is v (kinds as
 * src_value; arrays and objects are SRC_JSON text). Values compare as text:
 * strings unescaped, numbers as written, bools "true"/"false". equals, > and
 * < compare numerically when both sides are numbers, else as strings
 * (bytewise); regex is anchored at the start; contains/starts_with/
 * ends_with are bytewise. A NULL value never matches. <0 when the rule
 * cannot be evaluated (regex match error, eng_regex_error() says why). */
int eng_rule_match(const plan_rule *r, const src_value *v);
/* Decide for a row: vals[i] is the value of rules[i]'s field, or NULL when the
 * document has no such field. Returns 1 keep, 0 drop; *decider = the first
 * matching rule or NULL. <0 when a rule met before any match cannot be
 * evaluated: *decider = that rule, and the row is neither kept nor dropped. */
int eng_rules_decide(const plan_rule *rules, int nrules, const src_value *const *vals,
                     const plan_rule **decider);

#endif
