/* filtering.c - draft sync rules edited in Kibana (protocol.md 1.6).
 *
 * Stage: the service's filtering pass, run every `service.idling` seconds
 * for each handled connector. Kibana writes the rules a user edits into the
 * DEFAULT domain's `draft` with `validation.state: edited`. Here that draft
 * is laid over config.yml's entry of the connector as its `sync_rules` and
 * compiled by the compiler of `sync` (merge.c), so the checks are those of
 * sync rules written in config.yml: a field and value that are not empty,
 * a rule kind and policy Kibana knows, a regex that compiles and does not
 * match everything (but for the default rule), no duplicate rule, advanced
 * rules with tables and a query. The result is written in the protocol's
 * form, `{state: valid|invalid, errors: [{ids: [rule ids], messages: [...]}]}`
 * (the id of the advanced rules is `advanced_snippet`, as the Python
 * connectors'), into the draft; a valid draft is copied to `active` in the
 * same conditional update of `filtering` (the Python service's direct path:
 * reload, validate, rewrite the array with if_seq_no/if_primary_term, so two
 * instances never both write). Jobs run the active rules (their snapshot).
 */
#include "service/svc.h"

#include <string.h>

#define NOLOC ((src_loc){NULL, 0, 0})
#define MAX_ERRORS 64

typedef struct verr {
    const char *ids; /* JSON array text of the ids */
    char *text;
} verr;

/* The ids of every rule of draft f but the default rule, as a JSON array
 * (the place of a message the compiler gave outside the draft: the mapping
 * an advanced rule reaches, say). */
static void all_ids(buf *b, const json *f)
{
    const json *rules = svc_get(f, "rules");
    int n = 0;
    buf_putc(b, '[');
    if (!svc_snippet_empty(f)) {
        buf_puts(b, "\"advanced_snippet\"");
        n++;
    }
    for (const json *r = rules && rules->kind == JSON_ARRAY ? rules->child : NULL; r; r = r->next) {
        const char *id = svc_str(r, "id");
        if (svc_rule_is_default(r) || !id) continue;
        if (n++) buf_putc(b, ',');
        buf_json_str(b, id, strlen(id), NULL);
    }
    buf_putc(b, ']');
}

/* The validation object of draft f after compiling it (messages in cd). */
static void validation(svc_ctx *s, const json *f, const diag *cd, int compiled, buf *out)
{
    verr errs[MAX_ERRORS];
    int n = 0;
    buf others = BUF_INIT;
    all_ids(&others, f);
    arena *a = arena_new();
    for (size_t i = 0; a && i < diag_count(cd) && n < MAX_ERRORS; i++) {
        const diag_msg *m = diag_get(cd, i);
        if (m->level != DIAG_ERROR) continue;
        const char *rule = svc_rule_of(s, m->loc.file);
        buf id = BUF_INIT;
        if (rule) {
            buf_putc(&id, '[');
            buf_json_str(&id, rule, strlen(rule), NULL);
            buf_putc(&id, ']');
        }
        errs[n].ids = rule ? (id.data ? arena_strndup(a, id.data, id.len) : NULL)
                           : (others.data ? others.data : "[]");
        buf_free(&id);
        /* a message outside the draft names its place in config.yml */
        const char *where = !rule && m->loc.file ? arena_printf(a, "%s:%d: ", m->loc.file, m->loc.line) : "";
        errs[n].text = m->hint ? arena_printf(a, "%s%s (hint: %s)", where, m->text, m->hint)
                               : arena_printf(a, "%s%s", where, m->text);
        if (!errs[n].ids || !errs[n].text) continue; /* out of memory: the state still says invalid */
        n++;
    }
    int invalid = n > 0 || !compiled;
    buf_printf(out, "{\"state\":\"%s\",\"errors\":[", invalid ? "invalid" : "valid");
    int groups = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = !strcmp(errs[j].ids, errs[i].ids);
        if (seen) continue;
        buf_puts(out, groups++ ? ",{\"ids\":" : "{\"ids\":");
        buf_puts(out, errs[i].ids ? errs[i].ids : "[]");
        buf_puts(out, ",\"messages\":[");
        int k = 0;
        for (int j = i; j < n; j++) {
            if (strcmp(errs[j].ids, errs[i].ids) != 0) continue;
            if (k++) buf_putc(out, ',');
            buf_json_str(out, errs[j].text, strlen(errs[j].text), NULL);
        }
        buf_puts(out, "]}");
    }
    if (!n && !compiled) {
        const char *msg = "the sync rules could not be compiled";
        buf_puts(out, "{\"ids\":");
        buf_puts(out, others.data ? others.data : "[]");
        buf_puts(out, ",\"messages\":[");
        buf_json_str(out, msg, strlen(msg), NULL);
        buf_puts(out, "]}");
    }
    buf_puts(out, "]}");
    buf_free(&others);
    arena_free(a);
}

/* An object with member `key` replaced by raw JSON text v (added when absent). */
static void put_replaced(buf *b, const json *obj, const char *key, const char *v)
{
    int n = 0, done = 0;
    buf_putc(b, '{');
    for (const json *m = obj && obj->kind == JSON_OBJECT ? obj->child : NULL; m; m = m->next) {
        if (n++) buf_putc(b, ',');
        buf_json_str(b, m->key, strlen(m->key), NULL);
        buf_putc(b, ':');
        if (!strcmp(m->key, key)) {
            buf_puts(b, v);
            done = 1;
        } else {
            svc_put_raw(b, m);
        }
    }
    if (!done) {
        if (n) buf_putc(b, ',');
        buf_json_str(b, key, strlen(key), NULL);
        buf_putc(b, ':');
        buf_puts(b, v);
    }
    buf_putc(b, '}');
}

/* The whole `filtering` array with the DEFAULT domain's draft validated and,
 * when valid, active = draft. */
static void new_filtering(buf *b, const json *filtering, const char *val, int valid)
{
    buf draft = BUF_INIT;
    buf_puts(b, "{\"filtering\":[");
    int n = 0, done = 0;
    for (const json *e = filtering->child; e; e = e->next) {
        if (n++) buf_putc(b, ',');
        const char *dom = svc_str(e, "domain");
        if (done || (dom && strcmp(dom, "DEFAULT") != 0) || e->kind != JSON_OBJECT) {
            svc_put_raw(b, e);
            continue;
        }
        done = 1;
        buf_reset(&draft);
        put_replaced(&draft, svc_get(e, "draft"), "validation", val);
        int k = 0, has_active = 0;
        buf_putc(b, '{');
        for (const json *m = e->child; m; m = m->next) {
            if (k++) buf_putc(b, ',');
            buf_json_str(b, m->key, strlen(m->key), NULL);
            buf_putc(b, ':');
            if (!strcmp(m->key, "draft")) {
                buf_append(b, draft.data, draft.len);
            } else if (!strcmp(m->key, "active") && valid) {
                buf_append(b, draft.data, draft.len);
                has_active = 1;
            } else {
                svc_put_raw(b, m);
            }
        }
        if (valid && !has_active) {
            buf_puts(b, k ? ",\"active\":" : "\"active\":");
            buf_append(b, draft.data, draft.len);
        }
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
    buf_free(&draft);
}

int svc_filtering_validate(svc_ctx *s, const char *id, diag *d)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        svc_doc doc;
        int rc = svc_doc_get(s, SVC_CONNECTORS, id, &doc, d);
        if (rc <= 0) return rc;
        const json *draft = svc_filtering_of(doc.src, "draft");
        const char *state = svc_str(draft, "validation.state");
        const json *filtering = svc_get(doc.src, "filtering");
        if (!state || strcmp(state, "edited") != 0 || !filtering || filtering->kind != JSON_ARRAY) {
            svc_doc_free(&doc);
            return 0;
        }
        diag *cd = diag_new();
        if (!cd) {
            svc_doc_free(&doc);
            return DIAG_ENOMEM;
        }
        plan *p = svc_rules_plan(s, id, draft, "draft", cd);
        buf val = BUF_INIT, body = BUF_INIT;
        validation(s, draft, cd, p != NULL, &val);
        int valid = p && diag_errors(cd) == 0;
        plan_free(p);
        diag_free(cd);
        new_filtering(&body, filtering, val.data ? val.data : "{}", valid);
        rc = body.failed || val.failed
                 ? DIAG_ENOMEM
                 : es_doc_update(s->es, SVC_CONNECTORS, id, body.data, doc.seq_no, doc.primary_term,
                                 ES_REFRESH_NOW, d);
        if (rc == 0)
            svc_log(s, valid ? "INFO" : "WARN", id, NULL, "draft sync rules %s: %s", valid ? "valid" : "invalid",
                    valid ? "activated" : val.data);
        buf_free(&val);
        buf_free(&body);
        svc_doc_free(&doc);
        if (rc != 1) return rc == 0 ? 1 : rc; /* done, or an error */
    }
    diag_error(d, NOLOC, "connector %s: the document kept changing while its sync rules were validated", id);
    return DIAG_EIO;
}

void svc_filtering_pass(svc_ctx *s)
{
    for (int i = 0; i < s->base->nconnectors; i++) {
        const char *id = s->base->connectors[i].id;
        diag *d = diag_new();
        if (d && svc_filtering_validate(s, id, d) < 0)
            svc_log(s, "WARN", id, NULL, "validating the draft sync rules: %s", diag_last(d));
        diag_free(d);
    }
}
