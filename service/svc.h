/* svc.h - shared by the service/ files only: the loaded configuration, the
 * cluster client, reading documents (base/json trees), time stamps, logs.
 *
 * common.c     loading config.yml (tree + compiled plan + client), JSON
 *              lookups, time, log lines
 * indices.c    the two -v1 indices with mappings, settings and aliases
 * connector.c  connector documents: configuration schema per service type,
 *              features, creation from config.yml, prepare, heartbeat
 * merge.c      one plan per job: connector document over config.yml, the
 *              active sync rules as the entry's sync_rules
 * filtering.c  draft sync rules: validated by the compiler, activated
 * serve.c      the service loop: job pickup, claim, child runs, stats,
 *              cancel, suspend
 * admin.c      the commands standing in for Kibana
 */
#ifndef SQL2ES_SVC_H
#define SQL2ES_SVC_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "base/json.h"
#include "dsl/node.h"
#include "plan/plan.h"
#include "service/cron.h"
#include "sinks/es.h"
#include "sinks/es_api.h"

#define SVC_CONNECTORS ".elastic-connectors"
#define SVC_CONNECTORS_INDEX ".elastic-connectors-v1"
#define SVC_JOBS ".elastic-connectors-sync-jobs"
#define SVC_JOBS_INDEX ".elastic-connectors-sync-jobs-v1"
#define SVC_PRODUCT_ORIGIN "X-elastic-product-origin"

typedef struct svc_ctx {
    const char *file;         /* config.yml */
    arena *tree_mem;          /* the loaded tree */
    dsl_node *root;           /* config.yml as loaded, with the product-origin header */
    plan *base;               /* config.yml compiled (service, elasticsearch, connectors) */
    es_client *es;
    diag *d;                  /* compile messages (sources registered for carets) */
    char hostname[256];
    int log_json;
    FILE *client_log; /* the client's start-up waits as log lines (common.c) */
    struct svc_loc_name *loc_names; /* merge.c: names of document locations */
} svc_ctx;

/* Load and compile config, make the client (no request yet). Returns 0, or
 * the exit code (2 invalid config, 1 client error) after printing why; with
 * log_json the configuration's messages are JSON log lines too. */
int svc_open(svc_ctx *s, const char *config, int log_json);
void svc_close(svc_ctx *s);

/* ---- reading documents --------------------------------------------------- */
const json *svc_get(const json *obj, const char *key);
/* a.b.c lookup through objects */
const json *svc_path(const json *obj, const char *dotted);
/* String value or NULL (not a string). */
const char *svc_str(const json *obj, const char *dotted);
int64_t svc_int(const json *obj, const char *dotted, int64_t dflt);
int svc_is_null(const json *v); /* absent or null */

/* A document reply of GET _doc or a search hit: its _source, _seq_no,
 * _primary_term and _id. */
typedef struct svc_doc {
    arena *mem;
    json *root;
    const json *src;
    const char *id;
    int64_t seq_no, primary_term;
} svc_doc;
/* Parse a GET _doc reply (or one hit, given as its JSON tree). */
int svc_doc_parse(svc_doc *doc, const char *body, size_t len, diag *d);
void svc_doc_from_hit(svc_doc *doc, const json *hit);
void svc_doc_free(svc_doc *doc);
/* GET a document: 1 found, 0 missing, <0 error. */
int svc_doc_get(svc_ctx *s, const char *index, const char *id, svc_doc *doc, diag *d);

/* ---- child processes ------------------------------------------------------- */
/* Set in a child started by svc_spawn when it gets SIGTERM: the run it
 * makes stops reading and settles (eng_sync_opts.stop). */
extern volatile sig_atomic_t svc_child_stop;

/* Fork a child whose stderr is a pipe to the parent. In the child (0 is
 * returned): it dies with the parent (Linux), SIGTERM sets svc_child_stop,
 * SIGINT is ignored, SIGPIPE default, stdin /dev/null; it must end with
 * _exit. In the parent: the child's pid, and the pipe's read end
 * (non-blocking, close-on-exec) in *fd. -1 when no pipe or no process could
 * be made (errno says why). */
pid_t svc_spawn(int *fd);
/* Read what a child wrote on the non-blocking *fd, line by line: each line
 * (without '\r' and '\n'; one longer than cap-1 bytes comes in pieces) goes
 * to fn. line/len hold the unfinished line between calls. At end of file or
 * on an error *fd is closed and set to -1. */
void svc_drain_lines(int *fd, char *line, size_t cap, size_t *len,
                     void (*fn)(void *arg, const char *line), void *arg);

/* ---- writing ---------------------------------------------------------------- */
/* "2026-11-29T16:00:00.123456+00:00" (the Python service's iso_utc form). */
void svc_iso_now(char *out, size_t cap);
void svc_iso_time(double t, char *out, size_t cap);
double svc_wall(void); /* seconds since the epoch, UTC */
/* "key": "string" / null when s is NULL (comma handling is the caller's). */
void svc_put_kv_str(buf *b, const char *key, const char *s);
/* Raw JSON text of a value (for copying a subtree). */
void svc_put_raw(buf *b, const json *v);

/* ---- logs --------------------------------------------------------------- */
/* One line on stderr: time, level, [connector=.. job=..], message. */
void svc_log(const svc_ctx *s, const char *level, const char *connector, const char *job,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- indices.c ---------------------------------------------------------- */
/* Create the two indices (mappings, settings, aliases) when missing; say so
 * when an alias is missing on an existing index. */
int svc_ensure_indices(svc_ctx *s, diag *d);

/* ---- connector.c ---------------------------------------------------------- */
/* The configuration schema of a service type as JSON text (the Python
 * connector's fields), NULL for an unknown type. */
const char *svc_schema_json(const char *service_type);
/* The features object sql2es offers. */
const char *svc_features_json(void);
/* Create the document of config connector pc unless it exists. Returns 0
 * created, 1 existed, <0 error. */
int svc_connector_create_doc(svc_ctx *s, const plan_connector *pc, const char *name,
                             const char *index_name, diag *d);
/* Fill service_type, the configuration schema (missing keys and properties)
 * and features; created -> needs_configuration when empty; creates the
 * document when missing. With heartbeat, also last_seen. OCC, 3 tries. */
int svc_connector_prepare(svc_ctx *s, const plan_connector *pc, int heartbeat, diag *d);

/* A pending job of connector_id (its document's _source in conn: the
 * snapshot), type full|incremental, trigger on_demand|scheduled, as the
 * Elasticsearch API makes it. The new id in id_out. Returns 0 or <0. */
int svc_job_create(svc_ctx *s, const char *connector_id, const json *conn, const char *type,
                   const char *trigger, char *id_out, size_t cap, diag *d);

/* ---- schedule.c --------------------------------------------------------------- */
/* One connector's schedules (full, incremental) as last read. */
typedef struct svc_sched_slot {
    int enabled;
    char interval[128];
    svc_cron cron;
    int64_t next; /* next slot (epoch seconds) to fire, -1 none */
} svc_sched_slot;
typedef struct svc_sched {
    svc_sched_slot type[2]; /* 0 full, 1 incremental */
} svc_sched;
/* Read the connector's `scheduling` and compute each enabled type's next
 * slot; a slot missed while no instance ran (after last_*_scheduled_at, at
 * or before now) is due at once, and only the latest one. */
void svc_schedule_load(svc_ctx *s, const char *id, svc_sched *st, int64_t now);
/* Fire what is due: take the slot with a conditional update of
 * last_*_scheduled_at (so across instances each slot makes one job), then
 * create the scheduled job. */
void svc_schedule_fire(svc_ctx *s, const char *id, svc_sched *st, int64_t now);
/* "2026-11-29T16:00:00.123+00:00" (or Z, or no zone = UTC) -> epoch seconds,
 * -1 when not such a time. */
int64_t svc_parse_iso(const char *s);

/* ---- follower.c ------------------------------------------------------------- */
/* The follow sessions of the serve_follow connectors (one
 * instance of the fleet each; state in the connector document's
 * sync_cursor.follow). NULL when no connector has serve_follow (the other
 * calls accept NULL). tend: every turn of the loop; stop: SIGTERM of serve
 * (children stopped, positions settled, claims released). */
typedef struct svc_follower svc_follower;
struct svc_ops;
svc_follower *svc_follow_new(svc_ctx *s, struct svc_ops *ops, double takeover_after,
                             double report_every);
void svc_follow_tend(svc_follower *f, double now);
void svc_follow_stop(svc_follower *f);
void svc_follow_free(svc_follower *f);

/* ---- merge.c ------------------------------------------------------------------ */
/* Compile config.yml with the connector document's values (configuration
 * values, index_name, pipeline) over connector id's entry; overlay wins,
 * empty values fall back to the file. conn: the connector document's
 * _source (or a job's connector snapshot; may be NULL); snap: the job's
 * connector snapshot (wins over conn; may be NULL). NULL + messages in d. */
plan *svc_merged_plan(svc_ctx *s, const char *id, const json *conn, const json *snap, diag *d);
/* config.yml's entry of connector id with filtering object f ({rules,
 * advanced_snippet, validation}) as its sync rules, nothing else of the
 * document (which names f in messages: "draft"), compiled. */
plan *svc_rules_plan(svc_ctx *s, const char *id, const json *f, const char *which, diag *d);
/* The rule id a message location of those sync rules names
 * ("advanced_snippet" for the advanced rules), NULL for any other place. */
const char *svc_rule_of(const svc_ctx *s, const char *file);
/* The DEFAULT domain's filtering object `which` ("active", "draft") of a
 * connector document, or NULL. */
const json *svc_filtering_of(const json *conn, const char *which);
/* Kibana's default rule (`_` regex `.*` include): it says nothing. */
int svc_rule_is_default(const json *rule);
/* advanced_snippet.value absent, null, {} or []. */
int svc_snippet_empty(const json *f);

/* ---- filtering.c ------------------------------------------------------------- */
/* When the DEFAULT domain's draft is `edited` (Kibana changed it): compile
 * it over config.yml's entry, write the result in the protocol's validation
 * form (state valid|invalid, errors [{ids, messages}]) and, when valid, copy
 * the draft to active (one conditional update of `filtering`, as the Python
 * service's direct path). Returns 1 validated, 0 nothing to do, <0 error. */
int svc_filtering_validate(svc_ctx *s, const char *id, diag *d);
/* svc_filtering_validate for every connector of config.yml (failures logged). */
void svc_filtering_pass(svc_ctx *s);

#endif
