/* service.h - the connector service (`sql2es serve`) and the commands that
 * stand in for Kibana (`connector list|create`, `job start|list|cancel`).
 *
 * Stage: above one sync run. The service speaks the Elastic connector
 * protocol over plain index APIs (docs/protocol.md: the direct path, which
 * works on Elasticsearch and OpenSearch): it keeps `.elastic-connectors` and
 * `.elastic-connectors-sync-jobs`, claims jobs and runs each one through
 * eng_sync_run (sync/sync.h) in a child process, with the configuration of
 * the connector document merged over config.yml and compiled by the same
 * compiler as `sync`. Each function returns the process exit code:
 * 0 success, 1 run-time failure, 2 invalid configuration or usage.
 */
#ifndef SQL2ES_SERVICE_H
#define SQL2ES_SERVICE_H

#include <stdio.h>

#include "plan/plan.h"

typedef struct svc_serve_opts {
    const char *config;     /* config.yml */
    double poll;            /* seconds between pending-job polls (0: 0.5) */
    int log_json;           /* one JSON object per log line */
    const char *listen;     /* HOST:PORT of /metrics, /healthz and the status page; NULL: none */
} svc_serve_opts;

/* Run until SIGTERM/SIGINT (the running jobs are then suspended). */
int svc_serve(const svc_serve_opts *o);

/* Commands that write the documents Kibana would write. out: the listing. */
int svc_connector_list(const char *config, FILE *out);
/* Create the connector document of config.yml's connector id (all of them
 * when id is NULL) unless it exists; name/index_name override when not NULL. */
int svc_connector_create(const char *config, const char *id, const char *name,
                         const char *index_name, FILE *out);
/* A pending on-demand job of type "full" or "incremental"; prints its id. */
int svc_job_start(const char *config, const char *connector_id, const char *type, FILE *out);
int svc_job_list(const char *config, const char *connector_id, FILE *out);
/* Cancel as the Elasticsearch _cancel API does: pending/suspended jobs
 * become canceled, running ones canceling (the service stops them). */
int svc_job_cancel(const char *config, const char *job_id, FILE *out);

/* `plan --connector ID`: the plan a job of connector ID would run now (its
 * document, read from the cluster, merged over config.yml). Printed as
 * plan_print does (secrets as ***); compile errors go to stderr (exit 2). */
int svc_plan_served(const char *config, const char *connector_id, FILE *out, plan_format fmt,
                    const char *table);

#endif
