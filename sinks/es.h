/* es.h - the Elasticsearch/OpenSearch side: HTTP client, bulk sink, index
 * management. Last stage of the pipeline (documents -> _bulk).
 *
 * es_client.c  the HTTP client, the only file on libcurl: auth, TLS, gzip,
 *              retries of single requests, the start-up wait, and the
 *              transfers in flight (curl multi) the bulk sink drives.
 * es_reply.c   reading replies, the only file on cJSON: _bulk items, the
 *              GET / banner, errors, counts, mappings, scroll pages.
 * es_bulk.c    the bulk sink: chunking, concurrent requests, back-pressure,
 *              whole-request and item-level retries, splitting a request
 *              refused as a whole, the dead-letter file, the error monitor
 *              and acknowledgements.
 * es_index.c   index creation and mapping checks, refresh/count/delete by
 *              query, and an iterator over the _ids of an index.
 * Nothing here builds documents (the interpreter does) or reads SQL, and
 * nothing here has defaults of its own: every setting comes from the plan.
 */
#ifndef SQL2ES_ES_H
#define SQL2ES_ES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/diag.h"
#include "plan/plan.h"

/* ---- client (es_client.c: the only file on libcurl) -------------------- */

typedef struct es_client es_client;

typedef struct es_response {
    long status;   /* HTTP status; 0 when no response arrived */
    char *body;    /* NUL-terminated reply body (owned; may be NULL when empty) */
    size_t len;
    char product[48]; /* the X-elastic-product header, "" when absent */
} es_response;

typedef struct es_version {
    int major, minor, patch;
    int opensearch;     /* 1 for OpenSearch, 0 for Elasticsearch */
    char number[32];    /* as reported, e.g. "2.19.6" */
} es_version;

/* New client for cfg, used exactly as given (strings are copied; cfg may go
 * away): the compiler fills every field from schemas/language.yaml, the one
 * place defaults live, and nothing here replaces a value by one of its own
 * (max_retries 0 means no retry). A value no client can run with (a
 * request_timeout of 0, a chunk_size of 0, a negative retry count...) is
 * refused: NULL with an error in d. */
es_client *es_client_new(const plan_es *cfg, diag *d);
/* Release the client and its connections. NULL is a no-op. The caller must
 * have freed every sink made from it first. */
void es_client_free(es_client *c);
/* Where es_wait_ready reports each wait ("waiting for http://HOST:
 * connection refused, retry 3 in 8 s"): stderr unless set; NULL: nowhere.
 * Credentials never appear there. */
void es_client_set_log(es_client *c, FILE *log);

/* One HTTP request. path starts with '/' (query string included). body may
 * be NULL; content_type NULL means "application/json" when there is a body.
 * Connection errors, timeouts (when retry_on_timeout) and 429/502/503/504 are
 * retried up to max_retries times, waiting retry_interval x attempt seconds
 * (the connectors' linear back-off); any other status is returned as is.
 * Returns 0 when a response arrived (any status; out->status tells), else
 * DIAG_ETRANSIENT / DIAG_EIO with a message in d. out is always initialised;
 * free it with es_response_free. Thread-safe (a small pool of handles). */
int es_request(es_client *c, const char *method, const char *path, const char *body,
               size_t len, const char *content_type, es_response *out, diag *d);
/* Like es_request but a single attempt, no retries. */
int es_request_once(es_client *c, const char *method, const char *path, const char *body,
                    size_t len, const char *content_type, es_response *out, diag *d);
void es_response_free(es_response *r);

/* Wait until GET / answers 200: attempts at 0, b, b+bm, b+bm+bm^2... seconds
 * (b initial_backoff_duration, m backoff_multiplier), the last wait cut so
 * that the last attempt is made at max_wait_duration; each wait is reported
 * on the client's log. Then check the product and version: Elasticsearch 7-9
 * and OpenSearch 1-3 are accepted. out may be NULL. Returns 0,
 * DIAG_ETRANSIENT (cluster never answered: "not ready after N s (K
 * attempts)" with the time really waited), DIAG_EIO (an unexpected status
 * such as 401, a certificate error) or DIAG_EINVAL (another product, an
 * unsupported version). */
int es_wait_ready(es_client *c, es_version *out, diag *d);

/* The host with any user:password@ part removed (for messages). */
const char *es_client_host(const es_client *c);
/* The configuration the client runs with (exactly the one given). */
const plan_es *es_client_cfg(const es_client *c);

/* The bulk settings of cfg against the language's ranges (for plans not
 * made by the compiler): 0, or DIAG_EINVAL with a message naming the key. */
#define ES_MAX_CONCURRENCY 256  /* bulk.max_concurrency (max in language.yaml) */
#define ES_MAX_ITEM_RETRIES 30  /* bulk.max_retries (max in language.yaml) */
int es_check_bulk_settings(const plan_es *cfg, diag *d);

/* Waits, in seconds, as the client and the bulk sink apply them:
 * es_retry_wait   before retry n (1-based) of a request or a whole _bulk
 *                 request: retry_interval x n;
 * es_item_wait    before item retry n: bulk.retry_interval x 2^(n-1);
 * es_backoff      before start-up attempt n+1: initial_backoff_duration x
 *                 backoff_multiplier^(n-1). */
double es_retry_wait(const plan_es *cfg, int attempt);
double es_item_wait(const plan_es *cfg, int attempt);
double es_backoff(const plan_es *cfg, int attempt);
double es_now(void);          /* monotonic seconds */
void es_sleep(double seconds);
/* Append s percent-encoded for a URL query value. */
int es_url_escape(buf *b, const char *s);

/* Transfers in flight (curl multi), for the bulk sink: up to max_in_flight
 * requests at once on one connection pool. An es_xfer is one reusable
 * request slot; es_multi_start prepares and starts it (the body is
 * borrowed until it completes), es_multi_step drives the transfers and waits
 * up to wait_ms for progress when none completed, es_multi_done hands back
 * one completed transfer and its outcome (borrowed until the xfer is
 * started again). */
typedef struct es_multi es_multi;
typedef struct es_xfer es_xfer;
typedef struct es_done {
    int rc;             /* 0 a reply arrived; DIAG_ETRANSIENT connection error or
                         * timeout; DIAG_EIO otherwise */
    int timed_out;
    long status;
    const char *body;   /* "" when empty */
    size_t len;
    const char *error;  /* rc != 0: what went wrong */
} es_done;
es_multi *es_multi_new(es_client *c, int max_in_flight, diag *d);
void es_multi_free(es_multi *m); /* after every xfer made from it was freed */
es_xfer *es_xfer_new(es_multi *m, diag *d);
void es_xfer_free(es_xfer *x);   /* stops it when running; NULL is a no-op */
int es_multi_start(es_xfer *x, const char *method, const char *path, const char *body,
                   size_t len, const char *content_type, diag *d);
void es_multi_step(es_multi *m, int wait_ms);
es_xfer *es_multi_done(es_multi *m, es_done *out);

/* ---- replies (es_reply.c: the only file on cJSON) ----------------------- */

/* Parse the reply of GET / and check the product and version (a pure
 * function, unit tested). product is the X-elastic-product header (NULL or
 * "" when absent). OpenSearch names itself in version.distribution;
 * Elasticsearch has the tagline "You Know, for Search" and, from 7.14 on,
 * the header "X-elastic-product: Elasticsearch". Returns 0 when supported,
 * DIAG_EINVAL with a message naming what was found otherwise. */
int es_version_parse(const char *json, size_t len, const char *product, es_version *out,
                     diag *d);
/* "type: reason" of an error reply, else the start of the body. */
void es_error_reason(const char *body, size_t len, char *out, size_t cap);
/* The non-negative number under key of a reply ("count", "deleted"): 0 or DIAG_EIO. */
int es_reply_number(const char *body, size_t len, const char *key, int64_t *out);
/* 1 when json is a JSON object. */
int es_json_is_object(const char *json);
/* The reply of GET INDEX/_mapping against the plan's mapping (see
 * es_mapping_diff): conflicts are errors (DIAG_EINVAL); *additions gets the
 * fields to add or NULL. */
int es_mapping_reply_diff(const char *reply, size_t len, const char *index,
                          const char *wanted_json, char **additions, int *nadded, diag *d);

/* One scroll page of _ids (es_index.c's iterator). */
typedef struct es_page {
    char *scroll_id;    /* owned */
    buf ids;            /* packed: length, bytes, NUL */
    size_t n, pos;
} es_page;
int es_page_parse(const char *body, size_t len, es_page *pg, diag *d);
int es_page_next(es_page *pg, const char **id, size_t *idlen); /* 1 or 0 at the end */
void es_page_free(es_page *pg);

/* ---- bulk sink ------------------------------------------------------------- */

typedef struct es_bulk es_bulk;

/* What the caller attaches to each item. seq is assigned by the caller and
 * must increase with every es_bulk_add; context ("table > key") is copied and
 * only used in messages. */
typedef struct es_item_meta {
    uint64_t seq;
    const char *context;
} es_item_meta;

typedef struct es_bulk_stats {
    uint64_t indexed;       /* created (index/create/upsert that created) */
    uint64_t updated;       /* result updated or noop */
    uint64_t deleted;       /* delete: deleted or not_found */
    uint64_t failed;        /* dead-lettered items */
    uint64_t item_retries;  /* items sent again after a retryable item error */
    uint64_t requests;      /* _bulk requests that got a reply */
    uint64_t request_retries; /* whole requests sent again */
    uint64_t bytes;         /* request bytes sent (before gzip) */
    uint64_t request_splits;  /* requests refused as a whole (400, 413) sent again in halves */
    uint64_t mismatched;    /* reply items that did not answer the item sent (dead-lettered) */
} es_bulk_stats;

/* Called with upto: every item with seq <= upto is settled (acknowledged by
 * the cluster or written to the dead-letter file). Called from inside
 * es_bulk_add/push/flush/finish, at most once per _bulk reply, with increasing
 * values. */
typedef void (*es_ack_fn)(void *ctx, uint64_t upto);

/* New sink on client c. The bulk settings (queue_max_size,
 * queue_max_mem_size, chunk_size, chunk_max_mem_size, max_concurrency,
 * bulk_max_retries, bulk_retry_interval, dead_letter_file) come from cfg, or
 * from the client's configuration when cfg is NULL; the request settings
 * (max_retries, retry_interval, retry_on_timeout) are always the client's.
 * They are used as given (0 retries means none); unusable values are refused
 * (NULL with a message). Whole requests are retried up to max_retries times
 * after retry_interval x n seconds; items rejected with a retryable status up
 * to bulk_max_retries times after bulk_retry_interval x 2^(n-1) seconds.
 * The dead-letter file (cfg->dead_letter_file, or es_bulk_set_dead_letter)
 * is opened on the first failed item: created 0600, a torn last line left by
 * an earlier failed write is cut off, each record is one write (a short
 * write is undone and is an error). */
es_bulk *es_bulk_new(es_client *c, const plan_es *cfg, diag *d);
/* Release the sink; items still queued are dropped (call finish first). */
void es_bulk_free(es_bulk *s);

void es_bulk_set_ack_cb(es_bulk *s, es_ack_fn fn, void *ctx);
/* Send every request to the ingest pipeline name (NULL: none). */
void es_bulk_set_pipeline(es_bulk *s, const char *name);
/* Path of the dead-letter file when cfg->dead_letter_file is NULL (copied). */
void es_bulk_set_dead_letter(es_bulk *s, const char *path);
/* The error monitor (defaults of the connectors: 10 consecutive, 1000 total,
 * ratio 0.15 over a window of 100 operations). Zero disables a check. */
void es_bulk_set_error_limits(es_bulk *s, int max_consecutive, int max_total,
                              double max_ratio, int window);

/* Queue one complete NDJSON item: an action line and a source line, or a lone
 * delete line (the trailing newline may be missing). The bytes are copied.
 * Returns quickly unless the queue is full, in which case it drives the
 * requests in flight until there is room (back-pressure).
 * Returns 0, or a negative code once the sink has failed (error monitor
 * tripped, cluster unreachable after retries, request refused); the message
 * is in the diag given to es_bulk_new. */
int es_bulk_add(es_bulk *s, const char *item, size_t len, const es_item_meta *meta);
/* Send everything queued and wait until every item is settled. */
int es_bulk_flush(es_bulk *s);
/* Send everything queued so far without waiting: requests start as slots
 * are free (now, or in later calls), finished ones are collected (the
 * acknowledgement callback runs). Call it again to drive the requests in
 * flight. 0, or the sink's negative code once it failed. */
int es_bulk_push(es_bulk *s);
/* Flush, then copy the statistics to stats (may be NULL). Returns the sink's
 * state: 0 when every item was acknowledged or dead-lettered. */
int es_bulk_finish(es_bulk *s, es_bulk_stats *stats);
/* Statistics so far (cheap). */
void es_bulk_get_stats(const es_bulk *s, es_bulk_stats *stats);
/* The settings the sink runs with (for tests and messages). */
const plan_es *es_bulk_cfg(const es_bulk *s);

/* The bulk reply parser (exposed for the fuzzer and tests). */
typedef enum { ES_OP_INDEX, ES_OP_CREATE, ES_OP_UPDATE, ES_OP_DELETE, ES_OP_UNKNOWN } es_op;

#define ES_ID_MAX 512     /* bytes of an _id (UTF-8), the nodes' limit */

typedef struct es_item_result {
    es_op op;
    int status;           /* HTTP status of the item; 0 when missing */
    int has_id;           /* 1 id below holds the item's _id; 0 none; -1 too long */
    char id[ES_ID_MAX + 1];
    char result[16];      /* "created", "updated", "deleted", "noop", "not_found" */
    char err_type[96];    /* "" when no error */
    char err_reason[512];
} es_item_result;

/* Parse a _bulk reply. Fills out[0..n) for the first n <= cap items and sets
 * *errors to the reply's `errors` flag. Returns the number of items in the
 * reply (may exceed cap) or DIAG_EIO when the reply is not a bulk reply. */
int es_bulk_parse_reply(const char *body, size_t len, es_item_result *out, size_t cap,
                        int *errors, diag *d);
/* The operation and _id of an action line ({"index":{"_index":..,"_id":..}}).
 * *has_id: 1 id holds it, 0 no _id, -1 longer than idcap-1. Returns 0 or
 * DIAG_EINVAL when the line is not an action. */
int es_action_parse(const char *line, size_t len, es_op *op, char *id, size_t idcap,
                    int *has_id);
const char *es_op_name(es_op op);

/* ---- indices --------------------------------------------------------------- */

typedef struct es_index_report {
    int created;         /* the index did not exist and was created */
    int fields_added;    /* fields only in the plan added with PUT _mapping */
} es_index_report;

/* Make sure index exists with mapping_json ({"properties":{...}}, may be NULL)
 * and settings_json (index settings object, may be NULL = cluster defaults).
 * An existing index: a field in both mappings with a different type is a
 * conflict (DIAG_EINVAL, one message per field: "field 'price': index has
 * 'keyword', plan wants 'double'"); fields only in the plan are added
 * (reported in rep and as a note in d). rep may be NULL. */
int es_index_ensure(es_client *c, const char *index, const char *mapping_json,
                    const char *settings_json, es_index_report *rep, diag *d);
/* Compare two mappings without a cluster (the ensure logic). existing_json and
 * wanted_json are {"properties":...} objects. On success *additions (may be
 * NULL) receives a malloc'ed {"properties":...} of the fields only in wanted,
 * or NULL when nothing is missing. Returns 0 or DIAG_EINVAL on conflicts. */
int es_mapping_diff(const char *existing_json, const char *wanted_json, char **additions,
                    int *nadded, diag *d);

int es_index_exists(es_client *c, const char *index, diag *d); /* 1, 0 or <0 */
int es_index_delete(es_client *c, const char *index, diag *d); /* missing is ok */
int es_refresh(es_client *c, const char *index, diag *d);
/* query_json: a query clause ({"match_all":{}}) or NULL for all documents. */
int es_count(es_client *c, const char *index, const char *query_json, int64_t *count, diag *d);
int es_delete_by_query(es_client *c, const char *index, const char *query_json,
                       int64_t *deleted, diag *d);

/* Iterate the _ids of the documents matching query_json (NULL = all) in
 * bounded memory, batch ids per round trip (scroll, sorted by _doc: works on
 * Elasticsearch 7-9 and OpenSearch 1-3 without fielddata on _id). The
 * iteration is bounded by the index's _count taken when it opens, plus a
 * margin for documents written meanwhile (a tenth, and one batch): a scroll
 * that returns more is an error (DIAG_EIO from es_ids_next), never followed
 * forever. */
typedef struct es_ids es_ids;
int es_ids_open(es_client *c, const char *index, const char *query_json, int batch,
                es_ids **out, diag *d);
/* 1 with *id (valid until the next call), 0 at the end, <0 on error. */
int es_ids_next(es_ids *it, const char **id, size_t *idlen, diag *d);
void es_ids_close(es_ids *it); /* clears the scroll; NULL is a no-op */

#endif
