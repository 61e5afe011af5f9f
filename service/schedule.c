/* schedule.c - scheduled jobs (protocol.md 2.3 step 5), with the Quartz
 * cron of service/cron.c in UTC and seconds honoured.
 *
 * Stage: the service's scheduler. For each connector and job type the next
 * slot is kept in memory (re-read every service.idling seconds); when it is
 * due, the slot is taken with a conditional update of
 * last_sync_scheduled_at / last_incremental_sync_scheduled_at (another
 * instance that took it first has moved the field to that slot or later),
 * then a pending `scheduled` job is created. A slot missed while no instance
 * ran fires once at start (connectors#2709); slots are never skipped because
 * the search starts from the last slot taken, not from the time of the pass
 * (connectors#2917). It runs no job.
 */
#include "service/svc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_name[2] = {"full", "incremental"};
static const char *const field_name[2] = {"last_sync_scheduled_at", "last_incremental_sync_scheduled_at"};

int64_t svc_parse_iso(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6) return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
    int64_t t = svc_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    const char *p = s + 19;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++) {
        }
    if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1])) {
        int oh = 0, om = 0;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) < 1) return -1;
        int off = oh * 3600 + om * 60;
        t += *p == '+' ? -off : off;
    }
    return t;
}

/* The latest slot after `from` that is at or before now, or -1. */
static int64_t latest_due(const svc_cron *c, int64_t from, int64_t now)
{
    int64_t s = svc_cron_next(c, from), last = -1;
    for (int i = 0; s >= 0 && s <= now && i < 10000000; i++) {
        last = s;
        s = svc_cron_next(c, s);
    }
    return last;
}

void svc_schedule_load(svc_ctx *s, const char *id, svc_sched *st, int64_t now)
{
    diag *d = diag_new();
    svc_doc doc;
    if (svc_doc_get(s, SVC_CONNECTORS, id, &doc, d) != 1) {
        diag_free(d);
        return;
    }
    const char *status = svc_str(doc.src, "status");
    int usable = status && strcmp(status, "created") != 0 && strcmp(status, "needs_configuration") != 0;
    for (int k = 0; k < 2; k++) {
        svc_sched_slot *sl = &st->type[k];
        char path[64];
        snprintf(path, sizeof path, "scheduling.%s.enabled", type_name[k]);
        const json *en = svc_path(doc.src, path);
        int enabled = usable && en && en->kind == JSON_BOOL && en->raw[0] == 't';
        if (k == 1) {
            const json *inc = svc_path(doc.src, "features.incremental_sync.enabled");
            if (!inc || inc->kind != JSON_BOOL || inc->raw[0] != 't') enabled = 0;
        }
        snprintf(path, sizeof path, "scheduling.%s.interval", type_name[k]);
        const char *iv = svc_str(doc.src, path);
        if (!enabled || !iv) {
            sl->enabled = 0;
            sl->next = -1;
            continue;
        }
        if (sl->enabled && !strcmp(sl->interval, iv)) continue; /* unchanged: keep the next slot */
        sl->enabled = 1;
        snprintf(sl->interval, sizeof sl->interval, "%s", iv);
        char err[256];
        if (svc_cron_parse(iv, &sl->cron, err, sizeof err) != 0) {
            svc_log(s, "WARN", id, NULL, "scheduling.%s.interval: %s", type_name[k], err);
            sl->next = -1;
            continue;
        }
        int64_t last = svc_parse_iso(svc_str(doc.src, field_name[k]));
        int64_t due = last >= 0 ? latest_due(&sl->cron, last, now) : -1;
        sl->next = due >= 0 ? due : svc_cron_next(&sl->cron, last > now ? last : now);
        svc_log(s, "INFO", id, NULL, "%s schedule '%s'%s", type_name[k], iv,
                due >= 0 ? ": a slot was missed while no service ran, it fires now" : "");
    }
    svc_doc_free(&doc);
    diag_free(d);
}

/* Take slot for type k: 1 taken (job to create), 0 someone else has it. */
static int take(svc_ctx *s, const char *id, int k, int64_t slot, svc_doc *doc, diag *d)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        if (svc_doc_get(s, SVC_CONNECTORS, id, doc, d) != 1) return 0;
        int64_t last = svc_parse_iso(svc_str(doc->src, field_name[k]));
        if (last >= slot) {
            svc_doc_free(doc);
            return 0;
        }
        char when[64], body[160];
        svc_iso_time((double)slot, when, sizeof when);
        snprintf(body, sizeof body, "{\"%s\":\"%s\"}", field_name[k], when);
        int rc = es_doc_update(s->es, SVC_CONNECTORS, id, body, doc->seq_no, doc->primary_term,
                               ES_REFRESH_NONE, d);
        if (rc == 0) return 1;
        svc_doc_free(doc);
        if (rc < 0) return 0;
    }
    return 0;
}

void svc_schedule_fire(svc_ctx *s, const char *id, svc_sched *st, int64_t now)
{
    for (int k = 0; k < 2; k++) {
        svc_sched_slot *sl = &st->type[k];
        if (!sl->enabled || sl->next < 0 || now < sl->next) continue;
        int64_t slot = sl->next;
        diag *d = diag_new();
        svc_doc doc;
        if (take(s, id, k, slot, &doc, d)) {
            char jid[128];
            if (svc_job_create(s, id, doc.src, type_name[k], "scheduled", jid, sizeof jid, d) == 0)
                svc_log(s, "INFO", id, jid, "scheduled %s job created (slot %+.0f s ago)", type_name[k],
                        (double)(now - slot));
            else
                svc_log(s, "WARN", id, NULL, "scheduled %s job: %s", type_name[k], diag_last(d));
            svc_doc_free(&doc);
        }
        diag_free(d);
        /* the next slot; when late by more than one, only the latest is due */
        int64_t due = latest_due(&sl->cron, slot, now);
        sl->next = due >= 0 ? due : svc_cron_next(&sl->cron, slot);
    }
}
