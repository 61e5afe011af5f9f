/* admin.c - the commands that stand in for Kibana on clusters without it
 * (OpenSearch): list and create connector documents, create on-demand jobs,
 * list jobs, cancel a job. They write the documents Kibana (through the
 * Elasticsearch connector APIs) would write: a job carries the snapshot of
 * its connector (protocol.md 1.3, 2.3 "Direct"), a cancel follows the _cancel
 * API's state machine. Stage: service layer, one request or a few each.
 */
#include "service/service.h"
#include "service/svc.h"

#include <inttypes.h>
#include <string.h>

#include "engine/sql.h"

#define NOLOC ((src_loc){NULL, 0, 0})

static int open_ready(svc_ctx *s, const char *config)
{
    int rc = svc_open(s, config, 0);
    if (rc) return rc;
    diag *d = diag_new();
    rc = es_wait_ready(s->es, NULL, d);
    if (rc == 0) rc = svc_ensure_indices(s, d);
    if (rc) fprintf(stderr, "sql2es: %s\n", diag_last(d));
    diag_free(d);
    if (rc) svc_close(s);
    return rc ? 1 : 0;
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

int svc_connector_list(const char *config, FILE *out)
{
    svc_ctx s;
    int rc = open_ready(&s, config);
    if (rc) return rc;
    diag *d = diag_new();
    es_response r;
    rc = es_search(s.es, SVC_CONNECTORS,
                   "{\"size\":1000,\"sort\":[{\"name\":{\"order\":\"asc\"}}],\"query\":{\"bool\":"
                   "{\"must_not\":[{\"term\":{\"deleted\":true}}]}}}",
                   &r, d);
    if (rc) {
        fprintf(stderr, "sql2es connector list: %s\n", diag_last(d));
        goto done;
    }
    svc_doc res;
    if (svc_doc_parse(&res, r.body, r.len, d) == 0) {
        fprintf(out, "%-24s %-12s %-20s %-24s %-12s %-32s %s\n", "ID", "TYPE", "STATUS", "INDEX",
                "LAST SYNC", "LAST SYNCED", "LAST SEEN");
        const json *hh = svc_path(res.root, "hits.hits");
        for (const json *h = hh ? hh->child : NULL; h; h = h->next) {
            const json *src = svc_get(h, "_source");
            fprintf(out, "%-24s %-12s %-20s %-24s %-12s %-32s %s\n", or_dash(svc_str(h, "_id")),
                    or_dash(svc_str(src, "service_type")), or_dash(svc_str(src, "status")),
                    or_dash(svc_str(src, "index_name")), or_dash(svc_str(src, "last_sync_status")),
                    or_dash(svc_str(src, "last_synced")), or_dash(svc_str(src, "last_seen")));
            const char *err = svc_str(src, "error");
            if (err) fprintf(out, "  error: %s\n", err);
        }
    }
    svc_doc_free(&res);
    es_response_free(&r);
done:
    diag_free(d);
    svc_close(&s);
    return rc ? 1 : 0;
}

int svc_connector_create(const char *config, const char *id, const char *name,
                         const char *index_name, FILE *out)
{
    svc_ctx s;
    int rc = open_ready(&s, config);
    if (rc) return rc;
    int found = 0, failed = 0;
    diag *d = diag_new();
    for (int i = 0; i < s.base->nconnectors; i++) {
        const plan_connector *pc = &s.base->connectors[i];
        if (id && strcmp(id, pc->id) != 0) continue;
        found++;
        diag_clear(d);
        rc = svc_connector_create_doc(&s, pc, name, index_name, d);
        if (rc < 0) {
            fprintf(stderr, "sql2es connector create: %s: %s\n", pc->id, diag_last(d));
            failed++;
        } else {
            fprintf(out, "%s: %s\n", pc->id, rc == 0 ? "created" : "exists already");
        }
    }
    diag_free(d);
    svc_close(&s);
    if (id && !found) {
        fprintf(stderr, "sql2es connector create: no connector '%s' in %s\n", id, config);
        return 2;
    }
    return failed ? 1 : 0;
}

int svc_job_start(const char *config, const char *connector_id, const char *type, FILE *out)
{
    if (strcmp(type, "full") != 0 && strcmp(type, "incremental") != 0) {
        fprintf(stderr, "sql2es job start: --type is full or incremental, not '%s'\n", type);
        return 2;
    }
    svc_ctx s;
    int rc = open_ready(&s, config);
    if (rc) return rc;
    diag *d = diag_new();
    svc_doc conn;
    rc = svc_doc_get(&s, SVC_CONNECTORS, connector_id, &conn, d);
    if (rc <= 0) {
        fprintf(stderr, "sql2es job start: %s\n",
                rc == 0 ? "no such connector document (sql2es connector create, or serve, makes it)"
                        : diag_last(d));
        diag_free(d);
        svc_close(&s);
        return rc == 0 ? 2 : 1;
    }
    const char *ix = svc_str(conn.src, "index_name");
    if (!ix || !*ix) {
        fprintf(stderr, "sql2es job start: connector '%s' has no index_name\n", connector_id);
        svc_doc_free(&conn);
        diag_free(d);
        svc_close(&s);
        return 2;
    }
    char id[128];
    rc = svc_job_create(&s, connector_id, conn.src, type, "on_demand", id, sizeof id, d);
    if (rc)
        fprintf(stderr, "sql2es job start: %s\n", diag_last(d));
    else
        fprintf(out, "%s\n", id);
    svc_doc_free(&conn);
    diag_free(d);
    svc_close(&s);
    return rc ? 1 : 0;
}

int svc_job_list(const char *config, const char *connector_id, FILE *out)
{
    svc_ctx s;
    int rc = open_ready(&s, config);
    if (rc) return rc;
    diag *d = diag_new();
    buf q = BUF_INIT;
    buf_puts(&q, "{\"size\":1000,\"sort\":[{\"created_at\":{\"order\":\"desc\"}}],\"query\":");
    if (connector_id) {
        buf_puts(&q, "{\"term\":{\"connector.id\":");
        buf_json_str(&q, connector_id, strlen(connector_id), NULL);
        buf_puts(&q, "}}}");
    } else {
        buf_puts(&q, "{\"match_all\":{}}}");
    }
    es_response r;
    rc = es_search(s.es, SVC_JOBS, q.data, &r, d);
    buf_free(&q);
    if (rc) {
        fprintf(stderr, "sql2es job list: %s\n", diag_last(d));
        goto done;
    }
    svc_doc res;
    if (svc_doc_parse(&res, r.body, r.len, d) == 0) {
        fprintf(out, "%-22s %-20s %-12s %-10s %-12s %9s %9s %9s  %s\n", "ID", "CONNECTOR", "TYPE",
                "TRIGGER", "STATUS", "INDEXED", "DELETED", "TOTAL", "CREATED");
        const json *hh = svc_path(res.root, "hits.hits");
        for (const json *h = hh ? hh->child : NULL; h; h = h->next) {
            const json *src = svc_get(h, "_source");
            fprintf(out, "%-22s %-20s %-12s %-10s %-12s %9" PRId64 " %9" PRId64 " %9" PRId64 "  %s\n",
                    or_dash(svc_str(h, "_id")), or_dash(svc_str(src, "connector.id")),
                    or_dash(svc_str(src, "job_type")), or_dash(svc_str(src, "trigger_method")),
                    or_dash(svc_str(src, "status")), svc_int(src, "indexed_document_count", 0),
                    svc_int(src, "deleted_document_count", 0), svc_int(src, "total_document_count", 0),
                    or_dash(svc_str(src, "created_at")));
            const char *err = svc_str(src, "error");
            if (err) fprintf(out, "  error: %s\n", err);
        }
    }
    svc_doc_free(&res);
    es_response_free(&r);
done:
    diag_free(d);
    svc_close(&s);
    return rc ? 1 : 0;
}

int svc_job_cancel(const char *config, const char *job_id, FILE *out)
{
    svc_ctx s;
    int rc = open_ready(&s, config);
    if (rc) return rc;
    diag *d = diag_new();
    int code = 1;
    for (int attempt = 0; attempt < 3; attempt++) {
        svc_doc job;
        rc = svc_doc_get(&s, SVC_JOBS, job_id, &job, d);
        if (rc <= 0) {
            fprintf(stderr, "sql2es job cancel: %s\n", rc == 0 ? "no such job" : diag_last(d));
            code = rc == 0 ? 2 : 1;
            break;
        }
        const char *st = svc_str(job.src, "status");
        char now[64], body[512];
        svc_iso_now(now, sizeof now);
        const char *to;
        if (st && (!strcmp(st, "pending") || !strcmp(st, "suspended"))) {
            to = "canceled";
            snprintf(body, sizeof body,
                     "{\"status\":\"canceled\",\"cancelation_requested_at\":\"%s\",\"canceled_at\":\"%s\","
                     "\"completed_at\":\"%s\",\"last_seen\":\"%s\"}",
                     now, now, now, now);
        } else if (st && !strcmp(st, "in_progress")) {
            to = "canceling";
            snprintf(body, sizeof body, "{\"status\":\"canceling\",\"cancelation_requested_at\":\"%s\"}", now);
        } else {
            fprintf(stderr, "sql2es job cancel: job %s is %s: nothing to cancel\n", job_id, st ? st : "?");
            svc_doc_free(&job);
            code = 2;
            break;
        }
        rc = es_doc_update(s.es, SVC_JOBS, job_id, body, job.seq_no, job.primary_term, ES_REFRESH_NOW, d);
        svc_doc_free(&job);
        if (rc == 1) continue; /* changed meanwhile: read again */
        if (rc < 0) {
            fprintf(stderr, "sql2es job cancel: %s\n", diag_last(d));
            break;
        }
        fprintf(out, "%s: %s\n", job_id, to);
        code = 0;
        break;
    }
    diag_free(d);
    svc_close(&s);
    return code;
}

int svc_plan_served(const char *config, const char *connector_id, FILE *out, plan_format fmt,
                    const char *table)
{
    svc_ctx s;
    int rc = open_ready(&s, config);
    if (rc) return rc;
    diag *d = diag_new();
    svc_doc conn;
    rc = svc_doc_get(&s, SVC_CONNECTORS, connector_id, &conn, d);
    if (rc < 0) {
        fprintf(stderr, "sql2es plan: %s\n", diag_last(d));
        rc = 1;
        goto done;
    }
    if (rc == 0) fprintf(stderr, "sql2es plan: no document for connector '%s': config.yml alone\n", connector_id);
    diag_clear(d);
    plan *p = svc_merged_plan(&s, connector_id, rc == 1 ? conn.src : NULL, NULL, d);
    if (diag_count(d)) diag_print(d, stderr, 0);
    if (p) {
        plan_print(p, out, fmt, table, eng_sql_text);
        rc = fflush(out) == 0 ? 0 : 1;
    } else {
        rc = 2;
    }
    plan_free(p);
    svc_doc_free(&conn);
done:
    diag_free(d);
    svc_close(&s);
    return rc;
}
