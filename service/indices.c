/* indices.c - the two indices of the connector protocol (protocol.md 1.1):
 * `.elastic-connectors-v1` and `.elastic-connectors-sync-jobs-v1`, created
 * when missing with their mappings (dynamic: false; configuration, cursors
 * and advanced snippets stored, not indexed), settings (hidden, one shard,
 * auto_expand_replicas 0-1) and aliases (`.elastic-connectors`,
 * `.elastic-connectors-sync-jobs`). Works on Elasticsearch and OpenSearch
 * (no template needed). Stage: service start-up; it writes no document.
 */
#include "service/svc.h"

#include <string.h>

#define RULES                                                                               \
    "\"rules\":{\"properties\":{\"id\":{\"type\":\"keyword\"},\"policy\":{\"type\":\"keyword\"}," \
    "\"field\":{\"type\":\"keyword\"},\"rule\":{\"type\":\"keyword\"},\"value\":{\"type\":"    \
    "\"keyword\"},\"order\":{\"type\":\"short\"},\"created_at\":{\"type\":\"date\"},"           \
    "\"updated_at\":{\"type\":\"date\"}}},"                                                    \
    "\"advanced_snippet\":{\"properties\":{\"value\":{\"type\":\"object\",\"enabled\":false},"  \
    "\"created_at\":{\"type\":\"date\"},\"updated_at\":{\"type\":\"date\"}}}"
#define VALIDATION                                                                          \
    "\"validation\":{\"properties\":{\"state\":{\"type\":\"keyword\"},\"errors\":{"           \
    "\"properties\":{\"ids\":{\"type\":\"keyword\"},\"messages\":{\"type\":\"text\"}}}}}"
#define PIPELINE                                                                            \
    "\"pipeline\":{\"properties\":{\"extract_binary_content\":{\"type\":\"boolean\"},"          \
    "\"name\":{\"type\":\"keyword\"},\"reduce_whitespace\":{\"type\":\"boolean\"},"            \
    "\"run_ml_inference\":{\"type\":\"boolean\"}}}"
#define ENABLED "{\"properties\":{\"enabled\":{\"type\":\"boolean\"}}}"
#define SCHED "{\"properties\":{\"enabled\":{\"type\":\"boolean\"},\"interval\":{\"type\":\"text\"}}}"
#define SETTINGS \
    "\"settings\":{\"index\":{\"hidden\":true,\"number_of_shards\":1,\"auto_expand_replicas\":\"0-1\"}}"

static const char connectors_body[] =
    "{" SETTINGS ",\"aliases\":{\"" SVC_CONNECTORS "\":{\"is_hidden\":true}},"
    "\"mappings\":{\"_meta\":{\"version\":\"1\",\"pipeline\":{\"default_name\":"
    "\"search-default-ingestion\",\"default_extract_binary_content\":true,"
    "\"default_reduce_whitespace\":true,\"default_run_ml_inference\":true}},"
    "\"dynamic\":false,\"properties\":{"
    "\"api_key_id\":{\"type\":\"keyword\"},\"api_key_secret_id\":{\"type\":\"keyword\"},"
    "\"configuration\":{\"type\":\"object\",\"enabled\":false},"
    "\"custom_scheduling\":{\"type\":\"object\",\"enabled\":false},"
    "\"deleted\":{\"type\":\"boolean\"},"
    "\"description\":{\"type\":\"text\"},\"error\":{\"type\":\"keyword\"},"
    "\"features\":{\"properties\":{\"filtering_advanced_config\":{\"type\":\"boolean\"},"
    "\"filtering_rules\":{\"type\":\"boolean\"},\"incremental_sync\":" ENABLED ","
    "\"document_level_security\":" ENABLED ",\"native_connector_api_keys\":" ENABLED ","
    "\"sync_rules\":{\"properties\":{\"basic\":" ENABLED ",\"advanced\":" ENABLED "}}}},"
    "\"filtering\":{\"properties\":{\"domain\":{\"type\":\"keyword\"},"
    "\"active\":{\"properties\":{" RULES "," VALIDATION "}},"
    "\"draft\":{\"properties\":{" RULES "," VALIDATION "}}}},"
    "\"index_name\":{\"type\":\"keyword\"},\"is_native\":{\"type\":\"boolean\"},"
    "\"language\":{\"type\":\"keyword\"},"
    "\"last_access_control_sync_error\":{\"type\":\"keyword\"},"
    "\"last_access_control_sync_scheduled_at\":{\"type\":\"date\"},"
    "\"last_access_control_sync_status\":{\"type\":\"keyword\"},"
    "\"last_deleted_document_count\":{\"type\":\"long\"},"
    "\"last_incremental_sync_scheduled_at\":{\"type\":\"date\"},"
    "\"last_indexed_document_count\":{\"type\":\"long\"},\"last_seen\":{\"type\":\"date\"},"
    "\"last_sync_error\":{\"type\":\"keyword\"},\"last_sync_scheduled_at\":{\"type\":\"date\"},"
    "\"last_sync_status\":{\"type\":\"keyword\"},\"last_synced\":{\"type\":\"date\"},"
    "\"name\":{\"type\":\"keyword\"}," PIPELINE ","
    "\"scheduling\":{\"properties\":{\"access_control\":" SCHED ",\"incremental\":" SCHED
    ",\"full\":" SCHED "}},"
    "\"service_type\":{\"type\":\"keyword\"},\"status\":{\"type\":\"keyword\"},"
    "\"sync_cursor\":{\"type\":\"object\",\"enabled\":false},\"sync_now\":{\"type\":\"boolean\"}"
    "}}}";

static const char jobs_body[] =
    "{" SETTINGS ",\"aliases\":{\"" SVC_JOBS "\":{\"is_hidden\":true}},"
    "\"mappings\":{\"_meta\":{\"version\":\"1\"},\"dynamic\":false,\"properties\":{"
    "\"cancelation_requested_at\":{\"type\":\"date\"},\"canceled_at\":{\"type\":\"date\"},"
    "\"completed_at\":{\"type\":\"date\"},"
    "\"connector\":{\"properties\":{"
    "\"configuration\":{\"type\":\"object\",\"enabled\":false},"
    "\"filtering\":{\"properties\":{\"domain\":{\"type\":\"keyword\"}," RULES ","
    "\"warnings\":{\"properties\":{\"ids\":{\"type\":\"keyword\"},\"messages\":{\"type\":\"text\"}}}}},"
    "\"id\":{\"type\":\"keyword\"},\"index_name\":{\"type\":\"keyword\"},"
    "\"language\":{\"type\":\"keyword\"}," PIPELINE ","
    "\"service_type\":{\"type\":\"keyword\"},\"sync_cursor\":{\"type\":\"object\",\"enabled\":false}}},"
    "\"created_at\":{\"type\":\"date\"},\"deleted_document_count\":{\"type\":\"integer\"},"
    "\"error\":{\"type\":\"keyword\"},\"indexed_document_count\":{\"type\":\"integer\"},"
    "\"indexed_document_volume\":{\"type\":\"integer\"},\"job_type\":{\"type\":\"keyword\"},"
    "\"last_seen\":{\"type\":\"date\"},\"metadata\":{\"type\":\"object\",\"enabled\":false},"
    "\"started_at\":{\"type\":\"date\"},\"status\":{\"type\":\"keyword\"},"
    "\"total_document_count\":{\"type\":\"integer\"},\"trigger_method\":{\"type\":\"keyword\"},"
    "\"worker_hostname\":{\"type\":\"keyword\"}"
    "}}}";

static int ensure_one(svc_ctx *s, const char *index, const char *alias, const char *body, diag *d)
{
    int rc = es_index_exists(s->es, index, d);
    if (rc < 0) return rc;
    if (rc == 0) {
        rc = es_index_create_with(s->es, index, body, d);
        if (rc < 0) return rc;
        if (rc == 0) svc_log(s, "INFO", NULL, NULL, "created index %s (alias %s)", index, alias);
    }
    rc = es_alias_exists(s->es, alias, d);
    if (rc < 0) return rc;
    if (rc == 0) {
        diag_error(d, (src_loc){NULL, 0, 0},
                   "index %s exists but has no alias %s: searches of the alias find nothing "
                   "(add it: POST /_aliases {\"actions\":[{\"add\":{\"index\":\"%s\",\"alias\":\"%s\","
                   "\"is_hidden\":true}}]})",
                   index, alias, index, alias);
        return DIAG_EINVAL;
    }
    return 0;
}

int svc_ensure_indices(svc_ctx *s, diag *d)
{
    int rc = ensure_one(s, SVC_CONNECTORS_INDEX, SVC_CONNECTORS, connectors_body, d);
    if (rc) return rc;
    return ensure_one(s, SVC_JOBS_INDEX, SVC_JOBS, jobs_body, d);
}
