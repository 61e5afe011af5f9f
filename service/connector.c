/* connector.c - connector documents (protocol.md 1.2, 1.5, 1.8, 2.3 step 1).
 *
 * Stage: the service's view of `.elastic-connectors`. It knows the
 * configuration schema each service type shows in Kibana (the same fields,
 * order, labels, types, defaults, `sensitive` flags and `depends_on` as the
 * Elastic connectors' Python sources, every field completed with the
 * protocol's per-field defaults), the features sql2es offers, how a
 * document is created from config.yml (for clusters without Kibana), and
 * `prepare`: fill service_type, missing schema keys and properties, and
 * features, with optimistic concurrency. It runs no sync.
 */
#include "service/svc.h"

#include <stdlib.h>
#include <string.h>

#define NOLOC ((src_loc){NULL, 0, 0})

typedef struct field {
    const char *key, *label;
    int order;
    const char *type;          /* str, int, list, bool */
    const char *display;       /* NULL: "text" */
    int sensitive, optional, advanced;
    const char *default_value; /* raw JSON, NULL: null */
    const char *value;         /* raw JSON, NULL: "" */
    const char *tooltip;
    const char *depends_on;    /* raw JSON, NULL: [] */
    int options;               /* writes "options": [] explicitly (same either way) */
} field;

#define TABLES_TIP "This configurable field is ignored when Advanced Sync Rules are used."
#define SSL_DEP "[{\"field\":\"ssl_enabled\",\"value\":true}]"

static const field postgresql_fields[] = {
    {"host", "Host", 1, "str", NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"port", "Port", 2, "int", "numeric", 0, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"username", "Username", 3, "str", NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"password", "Password", 4, "str", NULL, 1, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"database", "Database", 5, "str", NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"schema", "Schema", 6, "str", NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"tables", "Comma-separated list of tables", 7, "list", "textarea", 0, 0, 0, NULL, "\"*\"",
     TABLES_TIP, NULL, 1},
    {"fetch_size", "Rows fetched per request", 8, "int", "numeric", 0, 1, 1, "50", NULL, NULL, NULL, 0},
    {"retry_count", "Retries per request", 9, "int", "numeric", 0, 1, 1, "3", NULL, NULL, NULL, 0},
    {"ssl_enabled", "Enable SSL verification", 10, "bool", "toggle", 0, 0, 0, NULL, "false", NULL, NULL, 0},
    {"ssl_ca", "SSL certificate", 11, "str", NULL, 0, 0, 0, NULL, NULL, NULL, SSL_DEP, 0},
    {NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0}};

static const field mysql_fields[] = {
    {"host", "Host", 1, "str", NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"port", "Port", 2, "int", "numeric", 0, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"user", "Username", 3, "str", NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"password", "Password", 4, "str", NULL, 1, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"database", "Database", 5, "str", NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"tables", "Comma-separated list of tables", 6, "list", "textarea", 0, 0, 0, NULL, "\"*\"", NULL, NULL, 0},
    {"ssl_enabled", "Enable SSL", 7, "bool", "toggle", 0, 0, 0, NULL, "false", NULL, NULL, 0},
    {"ssl_ca", "SSL certificate", 8, "str", NULL, 0, 0, 0, NULL, NULL, NULL, SSL_DEP, 0},
    {"fetch_size", "Rows fetched per request", 9, "int", "numeric", 0, 1, 1, "5000", NULL, NULL, NULL, 0},
    {"retry_count", "Retries per request", 10, "int", "numeric", 0, 1, 1, "3", NULL, NULL, NULL, 0},
    {NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0}};

/* sql2es's own: the Python service has no SQLite source */
static const field sqlite_fields[] = {
    {"path", "Database file", 1, "str", NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0},
    {"tables", "Comma-separated list of tables", 2, "list", "textarea", 0, 0, 0, NULL, "\"*\"",
     TABLES_TIP, NULL, 1},
    {"fetch_size", "Rows fetched per request", 3, "int", "numeric", 0, 1, 1, "1000", NULL, NULL, NULL, 0},
    {"retry_count", "Retries per request", 4, "int", "numeric", 0, 1, 1, "3", NULL, NULL, NULL, 0},
    {NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0}};

static const field *fields_of(const char *service_type)
{
    if (!service_type) return NULL;
    if (!strcmp(service_type, "postgresql")) return postgresql_fields;
    if (!strcmp(service_type, "mysql") || !strcmp(service_type, "mariadb")) return mysql_fields;
    if (!strcmp(service_type, "sqlite")) return sqlite_fields;
    return NULL;
}

/* One field in the key order of the protocol's per-field defaults; blank:
 * every value null (a document made from config.yml: the file's values
 * stay in force, the merge falls back to them). */
static void put_field(buf *b, const field *f, int blank)
{
    buf_json_str(b, f->key, strlen(f->key), NULL);
    buf_puts(b, ":{\"default_value\":");
    buf_puts(b, f->default_value ? f->default_value : "null");
    buf_puts(b, ",\"depends_on\":");
    buf_puts(b, f->depends_on ? f->depends_on : "[]");
    buf_puts(b, ",");
    svc_put_kv_str(b, "display", f->display ? f->display : "text");
    buf_puts(b, ",");
    svc_put_kv_str(b, "label", f->label);
    buf_printf(b, ",\"options\":[],\"order\":%d,\"required\":%s,\"sensitive\":%s,", f->order,
               f->optional ? "false" : "true", f->sensitive ? "true" : "false");
    svc_put_kv_str(b, "tooltip", f->tooltip);
    buf_puts(b, ",");
    svc_put_kv_str(b, "type", f->type);
    buf_printf(b, ",\"ui_restrictions\":%s,\"validations\":[],\"value\":%s}",
               f->advanced ? "[\"advanced\"]" : "[]", blank ? "null" : f->value ? f->value : "\"\"");
}

static char schemas[2][3][4096]; /* [blank][postgresql, mysql, sqlite] */

static const char *build(char *out, size_t cap, const field *fs, int blank)
{
    if (out[0]) return out;
    buf b = BUF_INIT;
    buf_putc(&b, '{');
    for (const field *f = fs; f->key; f++) {
        if (f != fs) buf_putc(&b, ',');
        put_field(&b, f, blank);
    }
    buf_putc(&b, '}');
    if (!b.failed && b.len < cap) memcpy(out, b.data, b.len + 1);
    buf_free(&b);
    return out[0] ? out : NULL;
}

static const char *schema_of(const char *service_type, int blank)
{
    const field *fs = fields_of(service_type);
    int k = fs == postgresql_fields ? 0 : fs == mysql_fields ? 1 : fs == sqlite_fields ? 2 : -1;
    return k < 0 ? NULL : build(schemas[blank][k], sizeof schemas[blank][k], fs, blank);
}

const char *svc_schema_json(const char *service_type) { return schema_of(service_type, 0); }

/* Basic and advanced sync rules as the SQL sources; incremental syncs where a
 * table has a cursor (sql2es; the Python SQL sources have none). */
const char *svc_features_json(void)
{
    return "{\"sync_rules\":{\"basic\":{\"enabled\":true},\"advanced\":{\"enabled\":true}},"
           "\"document_level_security\":{\"enabled\":false},"
           "\"incremental_sync\":{\"enabled\":true},"
           "\"native_connector_api_keys\":{\"enabled\":false}}";
}

/* ---- creation ------------------------------------------------------------ */

static void put_filtering(buf *b, const char *now)
{
    buf_puts(b, "[{\"domain\":\"DEFAULT\"");
    for (int k = 0; k < 2; k++) {
        buf_puts(b, k ? ",\"draft\":" : ",\"active\":");
        buf_printf(b, "{\"advanced_snippet\":{\"value\":{},\"created_at\":\"%s\",\"updated_at\":\"%s\"},"
                      "\"rules\":[{\"id\":\"DEFAULT\",\"policy\":\"include\",\"field\":\"_\","
                      "\"rule\":\"regex\",\"value\":\".*\",\"order\":0,\"created_at\":\"%s\","
                      "\"updated_at\":\"%s\"}],\"validation\":{\"state\":\"valid\",\"errors\":[]}}",
                   now, now, now, now);
    }
    buf_puts(b, "}]");
}

int svc_connector_create_doc(svc_ctx *s, const plan_connector *pc, const char *name,
                             const char *index_name, diag *d)
{
    char now[64];
    svc_iso_now(now, sizeof now);
    const char *schema = schema_of(pc->service_type, 1);
    buf b = BUF_INIT;
    buf_putc(&b, '{');
    buf_puts(&b, "\"api_key_id\":null,\"api_key_secret_id\":null,");
    buf_puts(&b, "\"configuration\":");
    buf_puts(&b, schema ? schema : "{}");
    buf_puts(&b, ",\"custom_scheduling\":{},\"description\":null,\"error\":null,\"features\":");
    buf_puts(&b, svc_features_json());
    buf_puts(&b, ",\"filtering\":");
    put_filtering(&b, now);
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "index_name", index_name ? index_name : pc->index_name);
    buf_puts(&b, ",\"is_native\":false,\"language\":null,"
                 "\"last_access_control_sync_error\":null,\"last_access_control_sync_scheduled_at\":null,"
                 "\"last_access_control_sync_status\":null,\"last_deleted_document_count\":0,"
                 "\"last_incremental_sync_scheduled_at\":null,\"last_indexed_document_count\":0,"
                 "\"last_seen\":null,\"last_sync_error\":null,\"last_sync_scheduled_at\":null,"
                 "\"last_sync_status\":null,\"last_synced\":null,");
    svc_put_kv_str(&b, "name", name ? name : pc->id);
    buf_puts(&b, ",\"pipeline\":");
    if (pc->pipeline) {
        buf_putc(&b, '{');
        svc_put_kv_str(&b, "name", pc->pipeline);
        buf_puts(&b, ",\"extract_binary_content\":true,\"reduce_whitespace\":true,"
                     "\"run_ml_inference\":true}");
    } else {
        buf_puts(&b, "null");
    }
    buf_puts(&b, ",\"scheduling\":{\"access_control\":{\"enabled\":false,\"interval\":\"0 0 0 * * ?\"},"
                 "\"full\":{\"enabled\":false,\"interval\":\"0 0 0 * * ?\"},"
                 "\"incremental\":{\"enabled\":false,\"interval\":\"0 0 0 * * ?\"}},");
    svc_put_kv_str(&b, "service_type", pc->service_type);
    /* the values may come from config.yml (the merge falls back to it);
     * without database settings there, the form waits for Kibana's */
    buf_puts(&b, pc->source_unset ? ",\"status\":\"needs_configuration\",\"sync_cursor\":null}"
                                  : ",\"status\":\"configured\",\"sync_cursor\":null}");
    int rc = b.failed ? DIAG_ENOMEM : es_doc_create(s->es, SVC_CONNECTORS, pc->id, b.data, ES_REFRESH_NOW, d);
    buf_free(&b);
    if (rc == 0) svc_log(s, "INFO", pc->id, NULL, "created the connector document from %s", s->file);
    return rc;
}

/* ---- prepare ------------------------------------------------------------- */

/* The configuration update: missing keys with their whole schema entry,
 * missing properties of existing keys. Empty buf when nothing is missing.
 * A document without any configuration gets the whole schema. */
static void config_additions(buf *out, const json *conf, const char *service_type, int *whole)
{
    const char *schema = svc_schema_json(service_type);
    *whole = 0;
    if (!schema) return;
    int empty = !conf || conf->kind != JSON_OBJECT || !conf->child;
    if (empty) {
        buf_puts(out, schema);
        *whole = 1;
        return;
    }
    arena *a = arena_new();
    json *want = NULL;
    if (!a || !json_parse(a, schema, strlen(schema), &want)) {
        arena_free(a);
        return;
    }
    int n = 0;
    for (const json *f = want->child; f; f = f->next) {
        const json *have = svc_get(conf, f->key);
        if (!have || have->kind != JSON_OBJECT) {
            buf_puts(out, n++ ? "," : "{");
            buf_json_str(out, f->key, strlen(f->key), NULL);
            buf_putc(out, ':');
            svc_put_raw(out, f);
            continue;
        }
        int m = 0;
        for (const json *p = f->child; p; p = p->next) {
            if (svc_get(have, p->key)) continue;
            if (!m++) {
                buf_puts(out, n++ ? "," : "{");
                buf_json_str(out, f->key, strlen(f->key), NULL);
                buf_puts(out, ":{");
            } else {
                buf_putc(out, ',');
            }
            buf_json_str(out, p->key, strlen(p->key), NULL);
            buf_putc(out, ':');
            svc_put_raw(out, p);
        }
        if (m) buf_putc(out, '}');
    }
    if (n) buf_putc(out, '}');
    arena_free(a);
}

/* Structural equality of two JSON values (objects: same keys, any order). */
static int json_equal(const json *a, const json *b)
{
    if (!a || !b) return a == b;
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case JSON_NULL: return 1;
    case JSON_BOOL:
    case JSON_NUMBER: return a->rawlen == b->rawlen && !memcmp(a->raw, b->raw, a->rawlen);
    case JSON_STRING: return a->len == b->len && !memcmp(a->str, b->str, a->len);
    case JSON_ARRAY: {
        const json *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if (!json_equal(x, y)) return 0;
        return !x && !y;
    }
    case JSON_OBJECT: {
        int na = 0, nb = 0;
        for (const json *x = a->child; x; x = x->next, na++)
            if (!json_equal(x, svc_get(b, x->key))) return 0;
        for (const json *y = b->child; y; y = y->next) nb++;
        return na == nb;
    }
    }
    return 0;
}

static int features_differ(const json *have)
{
    const char *want_text = svc_features_json();
    arena *a = arena_new();
    json *want = NULL;
    int differ = 1;
    if (a && json_parse(a, want_text, strlen(want_text), &want)) {
        /* only the keys sql2es sets: Kibana may add legacy flags */
        differ = 0;
        for (const json *f = want->child; f && !differ; f = f->next)
            if (!json_equal(f, svc_get(have, f->key))) differ = 1;
    }
    arena_free(a);
    return differ;
}

int svc_connector_prepare(svc_ctx *s, const plan_connector *pc, int heartbeat, diag *d)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        svc_doc doc;
        int rc = svc_doc_get(s, SVC_CONNECTORS, pc->id, &doc, d);
        if (rc < 0) return rc;
        if (rc == 0) {
            rc = svc_connector_create_doc(s, pc, NULL, NULL, d);
            if (rc < 0) return rc;
            continue; /* read it back (another instance may have won) */
        }
        buf up = BUF_INIT;
        int n = 0;
        const char *stype = svc_str(doc.src, "service_type");
        if (!stype) {
            stype = pc->service_type;
            svc_put_kv_str(&up, "service_type", stype);
            n++;
        }
        buf add = BUF_INIT;
        int whole = 0;
        config_additions(&add, svc_get(doc.src, "configuration"), stype, &whole);
        if (add.len) {
            buf_puts(&up, n++ ? ",\"configuration\":" : "\"configuration\":");
            buf_append(&up, add.data, add.len);
            const char *st = svc_str(doc.src, "status");
            if (whole && (!st || !strcmp(st, "created"))) {
                buf_puts(&up, ",\"status\":\"needs_configuration\"");
            }
        }
        buf_free(&add);
        if (features_differ(svc_get(doc.src, "features"))) {
            buf_puts(&up, n++ ? ",\"features\":" : "\"features\":");
            buf_puts(&up, svc_features_json());
        }
        if (heartbeat) {
            char now[64];
            svc_iso_now(now, sizeof now);
            if (n++) buf_putc(&up, ',');
            svc_put_kv_str(&up, "last_seen", now);
        }
        if (!n) {
            buf_free(&up);
            svc_doc_free(&doc);
            return 0;
        }
        buf body = BUF_INIT;
        buf_putc(&body, '{');
        buf_append(&body, up.data, up.len);
        buf_putc(&body, '}');
        buf_free(&up);
        rc = body.failed ? DIAG_ENOMEM
                         : es_doc_update(s->es, SVC_CONNECTORS, pc->id, body.data, doc.seq_no,
                                         doc.primary_term, ES_REFRESH_NONE, d);
        buf_free(&body);
        svc_doc_free(&doc);
        if (rc != 1) return rc; /* done, or an error */
    }
    diag_error(d, NOLOC, "connector %s: the document kept changing while being prepared", pc->id);
    return DIAG_EIO;
}

/* ---- jobs ------------------------------------------------------------------ */

int svc_job_create(svc_ctx *s, const char *connector_id, const json *conn, const char *type,
                   const char *trigger, char *id_out, size_t cap, diag *d)
{
    char now[64];
    svc_iso_now(now, sizeof now);
    buf b = BUF_INIT;
    buf_puts(&b, "{\"connector\":{");
    svc_put_kv_str(&b, "id", connector_id);
    buf_puts(&b, ",\"configuration\":");
    svc_put_raw(&b, svc_get(conn, "configuration"));
    buf_puts(&b, ",\"filtering\":");
    svc_put_raw(&b, svc_filtering_of(conn, "active"));
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "index_name", svc_str(conn, "index_name"));
    buf_puts(&b, ",\"language\":");
    svc_put_raw(&b, svc_get(conn, "language"));
    buf_puts(&b, ",\"pipeline\":");
    svc_put_raw(&b, svc_get(conn, "pipeline"));
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "service_type", svc_str(conn, "service_type"));
    buf_puts(&b, ",\"sync_cursor\":");
    svc_put_raw(&b, svc_get(conn, "sync_cursor"));
    buf_puts(&b, "},");
    svc_put_kv_str(&b, "trigger_method", trigger);
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "job_type", type);
    buf_puts(&b, ",\"status\":\"pending\",\"indexed_document_count\":0,\"indexed_document_volume\":0,"
                 "\"deleted_document_count\":0,\"total_document_count\":0,");
    svc_put_kv_str(&b, "created_at", now);
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "last_seen", now);
    buf_puts(&b, ",\"error\":null}");
    int rc = b.failed ? DIAG_ENOMEM : es_doc_add(s->es, SVC_JOBS, b.data, ES_REFRESH_NOW, id_out, cap, d);
    buf_free(&b);
    return rc;
}
