/* bind.h - binding a plan_table to a described source table (engine stage
 * between the plan and the row loop).
 *
 * The plan names columns; binding resolves every name (ops, templates, rules,
 * key and cursor columns, relation `on` columns) to a column index of the
 * src_table the driver described, expands COPY_COLUMNS into concrete column
 * lists with pre-escaped member names, renders the index name and the plan
 * variables, and prepares the SQL pieces of scans (written by engine/sql.c). Everything lives in the arena
 * given to eng_bind_table(). Binding does not read rows, and it does not talk
 * to the database (relations' child tables are described by a callback).
 *
 * Also here: the Elasticsearch mapping derived from the bound program, and a
 * small strict JSON parser (validation, literal decoding, mapping merge).
 */
#ifndef SQL2ES_BIND_H
#define SQL2ES_BIND_H

#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "plan/plan.h"
#include "sources/source.h"
#include "base/json.h"

/* Plan variables (LOAD_VAR, template $names). */
enum { ENG_VAR_TABLE, ENG_VAR_SCHEMA, ENG_VAR_DATABASE, ENG_VAR_CONNECTOR, ENG_VAR_ID,
       ENG_VAR_TIMESTAMP, ENG_VAR__COUNT };

/* A template with its parts resolved. */
typedef struct eng_btpl {
    const plan_tpl *tpl;
    int *col;        /* per part: column index (PLAN_TPL_COL), else -1 */
    int *var;        /* per part: ENG_VAR_* (PLAN_TPL_VAR), else -1 */
} eng_btpl;

/* One plan op, bound. Only the members of the op's kind are set. */
typedef struct eng_bop {
    int col;                 /* LOAD_COL: column index */
    int var;                 /* LOAD_VAR: ENG_VAR_* */
    src_value lit;           /* LOAD_CONST, DEFAULT: the literal, decoded (strings unescaped) */
    eng_btpl tpl;            /* LOAD_TPL */
    const char *key;         /* EMIT, OBJ_BEGIN, RELATION: "\"key\":" pre-escaped */
    size_t keylen;
    int *ccols;              /* COPY_COLUMNS: column indexes in table order */
    const char **ckeys;      /* ... and their pre-escaped "\"name\":" */
    size_t *ckeylens;
    int nccols;
    int rslot;               /* EMIT: rule value slot of the field, -1 */
    int *crslot;             /* COPY_COLUMNS: per copied column, NULL when no rule uses them */
} eng_bop;

typedef struct eng_bound_relation eng_bound_relation;

/* A document program bound to a table. */
typedef struct eng_bound_doc {
    const plan_doc *doc;
    const src_table *st;
    eng_bop *ops;                 /* doc->nops */
    eng_bound_relation *rels;     /* doc->nrelations */
    const char *vars[ENG_VAR__COUNT]; /* resolved text; [ENG_VAR_ID] is per row (NULL) */
    int *keys;                    /* key columns (PLAN_TPL_PK, resume) */
    int nkeys;
} eng_bound_doc;

struct eng_bound_relation {
    const plan_relation *rel;
    const src_table *child;
    eng_bound_doc doc;            /* the child row's object program */
    int *child_on;                /* rel->non column indexes in the child table */
    int *parent_on;               /* ... and in the parent table */
    int slot;                     /* index among all relations of the bound table */
    const src_driver *driver;     /* dialect of the child query */
    int *sel;                     /* the child columns the query selects, in table order: */
    int nsel;                     /* those the program, the keys and nested relations use */
    const char *select_head;      /* "SELECT sel cols FROM child WHERE " (engine/sql.c) */
    const char *select_tail;      /* " [AND (where)] ORDER BY on..., order_by..." */
    /* many-to-many (rel->through): the query joins the link table, selects
     * the link's key columns after br->sel, and a stored child row carries
     * them after the child table's columns: child_on[i] = child->ncols + i. */
    const src_table *link;        /* NULL for a direct relation */
    int nextra;                   /* link key columns per stored row (rel->non, or 0) */
    /* read by merge (rel->merge, and parent_on are the parent table's leading
     * key columns, integer like child_on): one scan of the child table ordered
     * by child_on from a lower bound (engine/sql.c eng_sql_child_merge),
     * merged with the parent scan, which is ordered by its key */
    int merge;
    int *merge_pos;               /* the query's result column of each child_on */
    const char *merge_why;        /* rel->merge but read in batches: why (for sync -v) */
};

/* Child tables of relations are described by the caller. Return 0 with *out
 * set (the src_table must outlive the bound table) or <0 with a message. */
typedef int (*eng_describe_fn)(void *ctx, const plan_relation *rel, const src_table **out,
                               diag *d);

typedef struct eng_bind_opts {
    const src_driver *driver;  /* dialect (quote_ident, placeholder); NULL = conn->driver */
    const char *database;      /* $database; NULL = conn->source.database (or path) */
    const char *schema;        /* $schema; NULL = table's, plan table's, connector's */
    const char *timestamp;     /* $timestamp, ISO-8601 UTC; NULL = "" */
    eng_describe_fn describe;  /* needed when the table has relations */
    void *describe_ctx;
} eng_bind_opts;

typedef struct eng_bound_table {
    const plan_connector *conn;
    const plan_table *pt;
    const src_table *st;
    const src_driver *driver;
    arena *a;
    eng_bound_doc doc;
    eng_btpl id;                  /* document _id template (NULL tpl = key values joined) */
    const char *index;            /* rendered target index */
    const char *action_head;      /* {"index":{"_index":"X","_id": */
    const char *action_tail;      /* [,"pipeline":"P"]}}\n */
    const char *delete_head;      /* {"delete":{"_index":"X","_id": */
    size_t action_head_len, action_tail_len, delete_head_len;
    int *cursor;                  /* incremental watermark columns */
    int ncursor;
    int deleted_col;              /* result column of the deleted_when flag, -1 */
    int nrules;                   /* rules of the table, pt->rules */
    int *rule_slot;               /* per rule: value slot of its field, -1 = never emitted */
    int nslots;                   /* distinct rule fields emitted at top level */
    int nrel_slots;               /* all relations, nested ones included */
    eng_bound_relation **rel_by_slot;
    const char *select_list;      /* quoted columns [, deleted flag] */
} eng_bound_table;

/* Bind pt to st for connector conn. On success *out lives in arena a.
 * Errors (DIAG_EINVAL, with the config location of the reference): a column
 * that does not exist, a template variable that is unknown, a column in the
 * index template. A table with no key (no primary key and no key_columns)
 * gives DIAG_ENOTFOUND and "table has no primary key and no id columns": the
 * caller usually skips such a table with a warning. */
int eng_bind_table(arena *a, const plan_connector *conn, const plan_table *pt,
                   const src_table *st, const eng_bind_opts *opts, eng_bound_table **out,
                   diag *d);

/* The text form of the key values of row (for after_key / progress / errors),
 * copied into arena a: *vals gets bt->doc.nkeys strings (NULL for SQL NULL). */
int eng_key_values(const eng_bound_table *bt, const src_value *row, arena *a,
                   const char ***vals);

/* Write the index mapping ({"properties":{...}}) derived from the program:
 * column es_types (text columns get fields.keyword {keyword, ignore_above
 * 256}, like dynamic mapping), then the plan's explicit field types, then the
 * user's index_mappings_json merged over it (objects merge key by key; a
 * field definition of the user that has "type" replaces the derived one).
 * Values whose type cannot be known (parse_json, to_number, constants, JSON
 * columns) are left to dynamic mapping. Returns 0 or <0 (invalid user JSON). */
int eng_mapping_json(const eng_bound_table *bt, buf *out, diag *d);

#endif
