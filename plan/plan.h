/* plan.h - the one contract between the compiler (dsl/) and the interpreter
 * (engine/). A plan is built by dsl_compile() in its own arena, is immutable
 * once returned, and is released with plan_free().
 *
 * Things only the database knows (columns, primary key, the table list behind
 * a glob or "*", column types for the derived mapping) are resolved by the
 * engine when it binds a plan_table to a described table (engine/bind.c);
 * the plan refers to columns by name.
 *
 * A document is produced by a flat operation program (jq's bytecode, SQLite's
 * VDBE): loads set a register, transforms rewrite it, EMIT writes it as a
 * member of the current object, OBJ_BEGIN/OBJ_END open and close nested
 * objects (the compiler sorts dotted paths so each object is opened once).
 */
#ifndef SQL2ES_PLAN_H
#define SQL2ES_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "base/arena.h"
#include "base/diag.h"
#include "sources/source.h"

/* The operations, listed once: this list makes the enum, the names and the
 * plan printout (the golden format of compiler tests).
 * X(NAME, "printed name", "argument description") */
#define PLAN_OPS(X)                                                                        \
    X(LOAD_COL, "load_col", "s=column")                  /* register = column value */     \
    X(LOAD_TPL, "load_tpl", "tpl")                       /* register = rendered template */ \
    X(LOAD_CONST, "load_const", "s=JSON literal")                                          \
    X(LOAD_VAR, "load_var", "s=$table|$schema|$database|$connector|$id|$timestamp")        \
    X(TRIM, "trim", "")                                                                    \
    X(LOWER, "lower", "")                                                                  \
    X(UPPER, "upper", "")                                                                  \
    X(SPLIT, "split", "s=separator")             /* string -> array of strings */          \
    X(JOIN, "join", "s=separator")               /* array -> string */                     \
    X(REGEX_EXTRACT, "regex_extract", "re, n=group")                                       \
    X(REGEX_REPLACE, "regex_replace", "re, s=replacement")                                 \
    X(DEFAULT, "default", "s=JSON literal")      /* when register is null */               \
    X(TO_NUMBER, "to_number", "")                                                          \
    X(TO_STRING, "to_string", "")                                                          \
    X(TO_BOOL, "to_bool", "")                                                              \
    X(PARSE_JSON, "parse_json", "")                                                        \
    X(TRUNCATE, "truncate", "n=max characters")                                            \
    X(EMIT, "emit", "s=key")                     /* member s = register */                 \
    X(OBJ_BEGIN, "obj_begin", "s=key")                                                     \
    X(OBJ_END, "obj_end", "")                                                              \
    X(COPY_COLUMNS, "copy_columns", "names, n=mode, s=prefix") /* every selected column */ \
    X(RELATION, "relation", "n=relation index, s=key")

typedef enum {
#define PLAN_OP_ENUM(name, str, args) PLAN_OP_##name,
    PLAN_OPS(PLAN_OP_ENUM)
#undef PLAN_OP_ENUM
    PLAN_OP__COUNT
} plan_opcode;

extern const char *const plan_op_names[PLAN_OP__COUNT];

/* COPY_COLUMNS modes (op.n) and flags */
enum {
    PLAN_COPY_EXCLUDE = 0,   /* every column except names[] */
    PLAN_COPY_INCLUDE = 1,   /* only names[], in table order */
    PLAN_COPY_LOWER = 0x10   /* lower-case the emitted names (connectors style) */
};
/* COPY_COLUMNS prefix: when op.tpl is set it is the prefix as a template of
 * plan variables ("{{ $schema }}_{{ $table }}_" for the connectors'
 * PostgreSQL documents), rendered at bind time; op.s is then its source text.
 * Without tpl, op.s is a literal prefix (or NULL). */

typedef enum { PLAN_TPL_LIT, PLAN_TPL_COL, PLAN_TPL_VAR, PLAN_TPL_PK, PLAN_TPL_REL } plan_tpl_kind;

/* PLAN_TPL_REL: {{ album.title }}, a column of the object of a many-to-one
 * relation of the same document: text is the column, rel the relation's
 * index in the document (empty when the parent has no such row). */
typedef struct plan_tpl_part {
    plan_tpl_kind kind;
    const char *text;  /* literal text, column name, or variable name ("table") */
    int rel;           /* PLAN_TPL_REL: relation index */
} plan_tpl_part;

/* A compiled "{{ }}" template. PLAN_TPL_PK renders the primary-key values
 * joined with "_" (the connectors' id formula). */
typedef struct plan_tpl {
    plan_tpl_part *parts;
    int nparts;
    const char *source; /* the template as written */
} plan_tpl;

struct eng_regex; /* base/regex.h */

typedef struct plan_op {
    plan_opcode op;
    int n;                  /* group, length, mode, relation index */
    const char *s;          /* column, key, separator, replacement, JSON literal */
    const plan_tpl *tpl;    /* LOAD_TPL */
    struct eng_regex *re;   /* REGEX_*: compiled at compile time */
    const char *pattern;    /* REGEX_*: as written (for printing) */
    const char *const *names; /* COPY_COLUMNS */
    int nnames;
    src_loc loc;            /* where the config asked for it */
} plan_op;

typedef struct plan_relation plan_relation;

/* A document program: operations plus the relations they reference. */
typedef struct plan_doc {
    const plan_op *ops;
    int nops;
    const plan_relation *relations;
    int nrelations;
} plan_doc;

/* A relation nests the rows of `table` whose child_cols equal the parent
 * row's parent_cols. Many-to-many (`through:`): the rows of `table` are
 * reached through a link table; child_cols are then columns of the link
 * table (link column = parent column), and the link joins the child table on
 * join_child_cols = join_link_cols. */
struct plan_relation {
    const char *key;              /* member name in the parent document */
    const char *table;
    const char *schema;           /* NULL = the connector's */
    const char *const *child_cols;  /* on: child (or link) column = parent column */
    const char *const *parent_cols;
    int non;
    const char *through;          /* link table; NULL = the child table holds the key */
    const char *const *join_child_cols; /* child column = link column */
    const char *const *join_link_cols;
    int njoin;
    int one;                      /* many-to-one: an object (or null), else an array */
    const char *const *order_by;
    int norder_by;
    const char *where_sql;        /* optional predicate on the child table */
    int merge;                    /* read: 1 = one ordered scan of the child table merged
                                   * with the parent scan, when the bound key allows it
                                   * (engine/bind.c: a relation of the table itself, not
                                   * many-to-many, `on` = the leading key columns, integer
                                   * on both sides); else, and with `read: batch`, one
                                   * `IN (...)` query per chunk of parents */
    plan_doc doc;                 /* how a child row becomes an object */
    src_loc loc;
};

/* Basic sync rules (Kibana semantics, reference.md section 3). */
typedef enum { PLAN_RULE_EQUALS, PLAN_RULE_CONTAINS, PLAN_RULE_STARTS_WITH, PLAN_RULE_ENDS_WITH,
               PLAN_RULE_REGEX, PLAN_RULE_GT, PLAN_RULE_LT } plan_rule_kind;

typedef struct plan_rule {
    const char *id;
    const char *field;       /* document field (dotted path) */
    plan_rule_kind rule;
    const char *value;
    int include;             /* policy: 1 include, 0 exclude */
    int order;
    struct eng_regex *re;    /* PLAN_RULE_REGEX, anchored at the start */
    int pushed_down;         /* also evaluated in SQL, on column (engine/sql.c writes it) */
    const char *column;      /* pushed_down: the column the field is a plain copy of */
    src_loc loc;
} plan_rule;

typedef struct plan_mapping_field {
    const char *path;        /* dotted document path */
    const char *es_type;     /* explicit `type:` */
    const char *scaling_factor; /* scaled_float */
    src_loc loc;
} plan_mapping_field;

typedef struct plan_table {
    const char *name;        /* table name, or a glob when is_glob; "*" for the default entry */
    int is_glob;
    int is_default;          /* applies to selected tables that match no mapping */
    const char *schema;      /* NULL = connector's schema */
    const plan_tpl *index;   /* target index (plan variables only) */
    plan_doc doc;
    const plan_tpl *id;      /* document _id; > 512 bytes -> MD5 hex */
    const char *const *key_columns; /* keyset/resume order; NULL = primary key at bind */
    int nkeys;

    /* SQL is not written here (dialect-neutral): engine/sql.c renders
     * "SELECT cols FROM <table or (custom_query) AS q> [WHERE (<where>) AND
     * <pushed-down rules>] ..." in the driver's dialect, rule values as
     * bound parameters. */
    const char *custom_query;/* advanced rule query, verbatim; NULL otherwise */
    const char *const *source_tables; /* advanced rule: its `tables`; without id_columns their
                                         primary keys key the query (described at run time) */
    int nsource_tables;
    const char *where;       /* the user's `where` predicate, verbatim; NULL = none */

    const plan_rule *rules;  /* basic rules in evaluation order (sorted by `order`) */
    int nrules;

    const char *const *cursor; /* incremental watermark columns (tuple); NULL = full only */
    int ncursor;
    int64_t lag_ms;
    const char *deleted_when;  /* SQL predicate: rows matching become bulk deletes */

    const plan_mapping_field *fields; /* explicit types */
    int nfields;
    const char *index_mappings_json; /* user's index_mappings override (JSON), NULL = none */
    const char *index_settings_json; /* NULL = {"number_of_shards":1} defaults of the engine */
    int omit_nulls;
    int connectors_compat;   /* default documents: same _id/fields as the Elastic connector */
    src_loc loc;
} plan_table;

typedef struct plan_connector {
    const char *id;           /* connector_id */
    const char *service_type;
    const src_driver *driver;
    src_config source;        /* connection (password is secret) */
    const char *index_name;
    const char *pipeline;     /* ingest pipeline or NULL */
    const char *const *selection; /* `tables`: names and globs; NULL with all_tables */
    int nselection;
    int all_tables;           /* tables: "*" */
    int advanced;             /* advanced rules replace the table list */
    const plan_table *tables; /* exact names first, then globs in file order, then default */
    int ntables;
    const char *state_file;   /* incremental watermarks; NULL = engine default */
    int max_concurrent_tables; /* tables read at the same time (connections) */
    double follow_interval;   /* sync --follow by polling: seconds between reads */
    const char *slot;         /* sync --follow, PostgreSQL: replication slot */
    const char *publication;  /* ... and publication */
    int own_publication;      /* the publication is sql2es's (not named in the file) */
    int serve_follow;         /* serve follows the connector after a completed sync */
    src_loc loc;
    const char *api_key;      /* secret: this connector's API key (wins over es.api_key); NULL */
    int source_unset;         /* no database settings in the file (a connectors config.yml:
                                 they live in the connector document, read by `serve`);
                                 nothing may connect with this connector's source */
} plan_connector;

typedef struct plan_es {
    const char *host;
    const char *api_key;      /* secret */
    const char *username;
    const char *password;     /* secret */
    int ssl, verify_certs, retry_on_timeout, gzip;
    const char *ca_certs;
    double request_timeout, max_wait_duration, initial_backoff_duration, backoff_multiplier,
        retry_interval;
    int max_retries;
    const char *const *headers; /* "Name: value" lines */
    int nheaders;
    /* bulk */
    int queue_max_size;
    double queue_max_mem_size;   /* MiB */
    int display_every;
    int chunk_size;
    double chunk_max_mem_size;   /* MiB */
    int max_concurrency;
    int bulk_max_retries;
    const char *dead_letter_file; /* NULL = engine default */
    double bulk_retry_interval;  /* bulk.retry_interval: seconds before the first item retry */
} plan_es;

typedef struct plan_service {
    double idling, heartbeat, max_errors_span, job_cleanup_interval, preflight_idle;
    double job_takeover_after; /* seconds without a job's last_seen before another instance takes it */
    int max_errors, max_concurrent_content_syncs, max_concurrent_access_control_syncs,
        preflight_max_attempts;
    const char *log_level;
} plan_service;

typedef struct plan {
    arena *arena;             /* owns everything below */
    const char *file;
    plan_es es;
    plan_service service;
    const plan_connector *connectors;
    int nconnectors;
} plan;

/* Release a plan and everything it owns (compiled regexes included). NULL ok. */
void plan_free(plan *p);

typedef enum { PLAN_FMT_TEXT, PLAN_FMT_JSON } plan_format;

/* The SQL of a plan table as it will run, in its connector's dialect. */
typedef struct plan_sql_text {
    const char *statement;      /* the scan, as far as the plan knows it: "SELECT * FROM
                                   <from> [WHERE <where>] ORDER BY <keys>" (the columns and
                                   the primary key come from the database) */
    const char *from;           /* FROM target; NULL = each matching table (glob, default) */
    const char *where;          /* WHERE predicate; NULL = none */
    const char *pushdown;       /* the pushed-down rules alone; NULL = none */
    const char *const *params;  /* values of the placeholders 1..nparams */
    int nparams;
} plan_sql_text;

/* Renders a table's SQL (engine/sql.c's eng_sql_text: the printer writes no
 * SQL). Strings in a. Returns 0, or <0 when the connector has no dialect. */
typedef int (*plan_sql_fn)(const plan_connector *c, const plan_table *t, arena *a,
                           plan_sql_text *out);

/* Print the expanded plan (secrets redacted as "***"). table_filter: only
 * tables whose name equals it (NULL = all). sql renders the SQL lines; NULL
 * prints the user's `where` only. Returns 0. */
int plan_print(const plan *p, FILE *out, plan_format fmt, const char *table_filter,
               plan_sql_fn sql);

#endif
