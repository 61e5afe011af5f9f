/* sql.h - every piece of SQL text sql2es writes, in one module.
 *
 * Engine stage, between the bound table (engine/bind.h) and the driver: the
 * plan is dialect-neutral (the user's `where`, the rules, the cursor and key
 * columns); here they become statements in the driver's dialect (its
 * quote_ident, placeholder and text_match slots). Run-time values - rule
 * values, the incremental window, the resume key - are always bound
 * parameters: a scan statement is built once per table with parameter slots
 * and only the values change between queries.
 *
 * Not here: catalog queries private to a driver (in sources/), the user's
 * own SQL text (`where`, `deleted_when`, advanced-rule queries), which is
 * pasted verbatim where the plan says.
 */
#ifndef SQL2ES_ENGINE_SQL_H
#define SQL2ES_ENGINE_SQL_H

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "engine/bind.h"
#include "plan/plan.h"
#include "sources/source.h"

/* The SQL of plan table t of connector c for `sql2es plan` (a plan_sql_fn):
 * the FROM target of an exact table or custom query (NULL for globs and the
 * default entry, which are each matching table), the WHERE predicate (the
 * user's `where`, then the pushed-down rules, placeholders numbered from 1)
 * and its parameter values - the same text as the scans use - and the
 * statement line `plan` prints around them. Strings in a.
 * Returns 0, or DIAG_EINVAL when the connector has no driver. */
int eng_sql_text(const plan_connector *c, const plan_table *t, arena *a, plan_sql_text *out);

/* "schema"."name" (the schema only when the dialect has schemas and schema
 * is not empty), in a. */
const char *eng_sql_qualified(arena *a, const src_driver *drv, const char *schema,
                              const char *name);

/* The quoted column list of st: every column, or with used only the marked
 * ones, whose indexes then go to sel[*nsel] (sel may be NULL). In a. */
const char *eng_sql_columns(arena *a, const src_driver *drv, const src_table *st,
                            const char *used, int *sel, int *nsel);

/* The select list of a table scan: every column of st, then
 * `CASE WHEN (deleted_when) THEN 1 ELSE 0 END` when deleted_when is set. */
const char *eng_sql_select_list(arena *a, const src_driver *drv, const src_table *st,
                                const char *deleted_when);

/* The fixed parts of a relation's child query:
 *   head  "SELECT <cols> FROM <child> WHERE "
 *   tail  " [AND (<where>)] ORDER BY <on columns>[, <order_by>...]"
 * cols are the quoted child columns already chosen (eng_sql_columns);
 * order_cols/order_dirs (norder) the child's order_by columns, resolved, and
 * what followed the name (" DESC", or ""). */
void eng_sql_relation(arena *a, const src_driver *drv, const plan_relation *rel, const char *cols,
                      const char *from, const char *const *order_cols,
                      const char *const *order_dirs, int norder, const char **head,
                      const char **tail);

/* The same for a many-to-many relation (rel->through): the child table
 * joined to the link table, the link's key columns selected after the
 * child's (sel, nsel: the child columns, in table order), grouped by them:
 *   head  "SELECT <child>.<cols>, <link>.<key>... FROM <child> JOIN <link>
 *          ON <child>.<c> = <link>.<l> [AND ...] WHERE "
 *   tail  " [AND (<where>)] ORDER BY <link>.<key>...[, <order_by>...]"
 * order_link[i] says order_cols[i] is a column of the link table. */
void eng_sql_relation_through(arena *a, const src_driver *drv, const plan_relation *rel,
                              const src_table *child, const int *sel, int nsel, const char *from,
                              const src_table *link, const char *link_from,
                              const char *const *order_cols, const char *const *order_dirs,
                              const char *order_link, int norder, const char **head,
                              const char **tail);

/* One batch of a relation's child query into b (reset first): head, then
 * "(on cols) IN ((?, ?), ...)" with nparents * rel->non placeholders (the
 * link table's columns, qualified, for a many-to-many relation), then tail. Returns 0 or DIAG_ENOMEM. */
int eng_sql_child_batch(const eng_bound_relation *br, int nparents, buf *b);

/* A relation read by merge (br->merge) into b (reset first): head, then
 * "[c1 IS NOT NULL AND ...] (on cols) >= (?, ...)" - the first parent key
 * of the read, rel->non placeholders - then tail: every child row from that
 * key on, ordered by the `on` columns. Returns 0 or DIAG_ENOMEM. */
int eng_sql_child_merge(const eng_bound_relation *br, buf *b);

/* Which rows an incremental read sees (cursor: the table's cursor columns). */
typedef enum {
    ENG_WINDOW_NONE,   /* every row (full read, and the first incremental one) */
    ENG_WINDOW_AFTER,  /* cursor > lo AND cursor <= hi */
    ENG_WINDOW_LAGGED  /* cursor[0] >= lo[0] AND cursor <= hi (lag: lo is one value) */
} eng_window;

/* A table scan built once:
 *   SELECT <select list> FROM <table> [WHERE (<where>)] [AND (<window>)]
 *     [AND (keys) > (<resume key>)] ORDER BY keys
 * sql reads from the start, resume_sql after a key, upto_sql the rows up to
 * a key (keys <= it: what a resumed run read before). Parameters, in order:
 * the rule values (fixed), nlo + nhi window slots, then (resume_sql and
 * upto_sql only) nkeys key slots; eng_sql_scan_query fills the slots. */
typedef struct eng_scan_stmt {
    const char *sql;
    const char *resume_sql;
    const char *upto_sql;
    const char *const *fixed;  /* nfixed rule values */
    int nfixed, nlo, nhi, nkeys;
    int fetch_size;            /* the plan's */
} eng_scan_stmt;

/* Build the scan of bound table bt for window w. leavers: instead the rows
 * of the window that do NOT pass the table's predicate (`where` and the
 * pushed-down rules), for the deletes of an incremental read; 0 rows
 * when the table has none (*out->sql is then NULL). In a. Returns 0 or <0. */
int eng_sql_scan(const eng_bound_table *bt, eng_window w, int leavers, arena *a,
                 eng_scan_stmt *out, diag *d);

/* A query of s with its slots filled: lo (s->nlo values), hi (s->nhi),
 * after (NULL = from the start, else s->nkeys key values as text, NULL
 * entries for SQL NULL). Strings in a. */
void eng_sql_scan_query(const eng_scan_stmt *s, const char *const *lo, const char *const *hi,
                        const char *const *after, arena *a, src_query *q);
/* The same with upto_sql: the rows whose keys are <= upto (s->nkeys values). */
void eng_sql_scan_upto_query(const eng_scan_stmt *s, const char *const *lo, const char *const *hi,
                             const char *const *upto, arena *a, src_query *q);

/* The greatest cursor tuple of the table (the incremental watermark bound):
 * "SELECT cursor FROM <table> WHERE cursor IS NOT NULL ORDER BY cursor DESC
 * LIMIT 1", without `where` (rows that stopped passing it are in the window
 * too). NULL when bt has no cursor. In a. */
const char *eng_sql_cursor_max(const eng_bound_table *bt, arena *a);

/* The statement that describes a custom query's result columns without
 * reading a row: "SELECT * FROM (query) AS q WHERE 1=0". In a. */
const char *eng_sql_probe(arena *a, const char *custom_query);

/* --- sync --follow: re-reading the rows a change touched */

/* The select list of a re-read of bt's rows: the scan's (columns, then the
 * deleted_when flag), then "CASE WHEN (<where>) THEN 1 ELSE 0 END" when the
 * table has a `where` (*flag = 1): a row that stopped passing it is read
 * too, and becomes a delete. In a. */
const char *eng_sql_lookup_select(const eng_bound_table *bt, arena *a, int *flag);
/* The FROM target of bt's scans (its table, or the custom query). In a. */
const char *eng_sql_bound_from(const eng_bound_table *bt, arena *a);
/* "SELECT <select> FROM <from> WHERE (c1, c2) IN ((?, ?), ...)": the rows
 * whose columns cols[0..ncols) of st equal one of ntuples value tuples,
 * placeholders numbered from 1 tuple after tuple. In a; NULL on OOM. */
const char *eng_sql_in(arena *a, const src_driver *drv, const char *select, const char *from,
                       const src_table *st, const int *cols, int ncols, int ntuples);

#endif
