/* es_reply.c - reading what Elasticsearch/OpenSearch answers; see es.h.
 *
 * Stage: the sink side (documents -> cluster), the only file that reads JSON
 * with cJSON: the GET / banner (product and version), error replies, counts,
 * mappings (and their comparison with the plan's). What is read once per
 * document - _bulk item results, the action lines the bulk sink sends (to
 * match each reply item with what was sent) and scroll pages of _ids - is
 * walked in place instead, without a tree. Pure functions on bytes: no HTTP
 * (es_client.c), no state; every reply either parses or is refused with a
 * message (the fuzz target tests/fuzz/fuzz_es_reply.c drives them).
 */
#include "sinks/es.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define NOLOC ((src_loc){NULL, 0, 0})

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static es_op op_of(const char *name)
{
    if (!name) return ES_OP_UNKNOWN;
    if (strcmp(name, "index") == 0) return ES_OP_INDEX;
    if (strcmp(name, "create") == 0) return ES_OP_CREATE;
    if (strcmp(name, "update") == 0) return ES_OP_UPDATE;
    if (strcmp(name, "delete") == 0) return ES_OP_DELETE;
    return ES_OP_UNKNOWN;
}

const char *es_op_name(es_op op)
{
    switch (op) {
    case ES_OP_INDEX: return "index";
    case ES_OP_CREATE: return "create";
    case ES_OP_UPDATE: return "update";
    case ES_OP_DELETE: return "delete";
    default: return "unknown";
    }
}

/* ---- a targeted reader for the replies read once per item -------------- */

/* The _bulk reply and the action lines are read once per document: walked in
 * place for the few members wanted (strings decoded into the caller's fixed
 * fields), every other value skipped - no tree, no allocation. The grammar
 * is JSON's (RFC 8259); a reply that breaks it is refused like one that is
 * not a _bulk reply. */
typedef struct rd {
    const char *p, *end;
    int bad;
} rd;

#define RD_DEPTH 256

static void rd_ws(rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* The next byte after whitespace, or 0 at the end. */
static char rd_peek(rd *r)
{
    rd_ws(r);
    return r->p < r->end ? *r->p : 0;
}

static int rd_eat(rd *r, char c)
{
    if (rd_peek(r) != c) return 0;
    r->p++;
    return 1;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* Read a string literal (at its opening quote). Its decoded bytes go to
 * out[0..cap-1) (cut there, NUL-terminated; out may be NULL); *full gets the
 * decoded length uncut. Returns 0, or sets r->bad. */
static int rd_str(rd *r, char *out, size_t cap, size_t *full)
{
    size_t n = 0;
    if (!rd_eat(r, '"')) goto bad;
    const char *p = r->p, *end = r->end;
    for (;;) {
        /* runs of plain bytes */
        const char *q = p;
        while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
        if (out && n + 1 < cap) {
            size_t k = (size_t)(q - p);
            if (k > cap - 1 - n) k = cap - 1 - n;
            memcpy(out + n, p, k);
        }
        n += (size_t)(q - p);
        p = q;
        if (p >= end || (unsigned char)*p < 0x20) goto bad;
        if (*p == '"') break;
        /* an escape */
        if (p + 1 >= end) goto bad;
        char e = p[1], c[4];
        size_t k = 1;
        p += 2;
        switch (e) {
        case '"': c[0] = '"'; break;
        case '\\': c[0] = '\\'; break;
        case '/': c[0] = '/'; break;
        case 'b': c[0] = '\b'; break;
        case 'f': c[0] = '\f'; break;
        case 'n': c[0] = '\n'; break;
        case 'r': c[0] = '\r'; break;
        case 't': c[0] = '\t'; break;
        case 'u': {
            unsigned u, lo;
            if (end - p < 4 || !hex4(p, &u)) goto bad;
            p += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    goto bad;
                p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                goto bad;
            }
            if (u < 0x80) {
                c[0] = (char)u;
            } else if (u < 0x800) {
                c[0] = (char)(0xC0 | (u >> 6));
                c[1] = (char)(0x80 | (u & 0x3F));
                k = 2;
            } else if (u < 0x10000) {
                c[0] = (char)(0xE0 | (u >> 12));
                c[1] = (char)(0x80 | ((u >> 6) & 0x3F));
                c[2] = (char)(0x80 | (u & 0x3F));
                k = 3;
            } else {
                c[0] = (char)(0xF0 | (u >> 18));
                c[1] = (char)(0x80 | ((u >> 12) & 0x3F));
                c[2] = (char)(0x80 | ((u >> 6) & 0x3F));
                c[3] = (char)(0x80 | (u & 0x3F));
                k = 4;
            }
            break;
        }
        default: goto bad;
        }
        if (out && n + k < cap) memcpy(out + n, c, k);
        else if (out && n + 1 < cap) cap = n + 1; /* never cut a character in two */
        n += k;
    }
    r->p = p + 1;
    if (out && cap) out[n < cap ? n : cap - 1] = '\0';
    if (full) *full = n;
    return 0;
bad:
    r->bad = 1;
    if (out && cap) out[0] = '\0';
    return DIAG_EIO;
}

static int rd_lit(rd *r, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0) {
        r->bad = 1;
        return DIAG_EIO;
    }
    r->p += n;
    return 0;
}

/* A number (RFC 8259 grammar); *v its value when v is not NULL. */
static int rd_num(rd *r, double *v)
{
    const char *s = r->p, *p = s, *end = r->end;
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0') p++;
    else if (p < end && *p >= '1' && *p <= '9') while (p < end && *p >= '0' && *p <= '9') p++;
    else goto bad;
    if (p < end && *p == '.') {
        if (++p >= end || *p < '0' || *p > '9') goto bad;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') goto bad;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    r->p = p;
    if (v) {
        char tmp[64];
        size_t n = (size_t)(p - s);
        if (n >= sizeof tmp) { /* far beyond any status: its sign says enough */
            *v = *s == '-' ? -1e300 : 1e300;
        } else {
            memcpy(tmp, s, n);
            tmp[n] = '\0';
            *v = strtod(tmp, NULL);
        }
    }
    return 0;
bad:
    r->bad = 1;
    return DIAG_EIO;
}

static int rd_skip(rd *r, int depth);

/* Walk an object (at its '{'): fn(ctx, r, key) is called at each member's
 * value and must read or skip it. */
typedef int (*rd_member_fn)(void *ctx, rd *r, const char *key);

static int rd_object(rd *r, int depth, rd_member_fn fn, void *ctx)
{
    if (depth > RD_DEPTH || !rd_eat(r, '{')) goto bad;
    if (rd_eat(r, '}')) return 0;
    for (;;) {
        char key[32];
        size_t klen;
        if (rd_peek(r) != '"' || rd_str(r, key, sizeof key, &klen) || !rd_eat(r, ':')) goto bad;
        if (klen >= sizeof key) key[0] = '\0'; /* no key of interest is that long */
        rd_ws(r);
        if ((fn ? fn(ctx, r, key) : rd_skip(r, depth + 1)) || r->bad) goto bad;
        if (rd_eat(r, ',')) continue;
        if (rd_eat(r, '}')) return 0;
        goto bad;
    }
bad:
    r->bad = 1;
    return DIAG_EIO;
}

static int rd_skip(rd *r, int depth)
{
    if (depth > RD_DEPTH) goto bad;
    switch (rd_peek(r)) {
    case '{': return rd_object(r, depth, NULL, NULL);
    case '[':
        r->p++;
        if (rd_eat(r, ']')) return 0;
        for (;;) {
            if (rd_skip(r, depth + 1)) goto bad;
            if (rd_eat(r, ',')) continue;
            if (rd_eat(r, ']')) return 0;
            goto bad;
        }
    case '"': return rd_str(r, NULL, 0, NULL);
    case 't': return rd_lit(r, "true");
    case 'f': return rd_lit(r, "false");
    case 'n': return rd_lit(r, "null");
    default: return rd_num(r, NULL);
    }
bad:
    r->bad = 1;
    return DIAG_EIO;
}
/* ---- _bulk ------------------------------------------------------------- */

typedef struct item_rd {
    es_item_result *r;   /* NULL: counted only */
    unsigned seen;       /* members already read (the first of each counts) */
} item_rd;

enum { SEEN_ID = 1, SEEN_STATUS = 2, SEEN_RESULT = 4, SEEN_ERROR = 8, SEEN_TYPE = 16,
       SEEN_REASON = 32, SEEN_TYPE_STR = 64, SEEN_OP = 128 };

static int once(unsigned *seen, unsigned bit)
{
    if (*seen & bit) return 0;
    *seen |= bit;
    return 1;
}

static int error_member(void *ctx, rd *r, const char *key)
{
    item_rd *x = ctx;
    es_item_result *o = x->r;
    int str = rd_peek(r) == '"';
    if (!strcmp(key, "type") && once(&x->seen, SEEN_TYPE) && str) {
        x->seen |= SEEN_TYPE_STR;
        return rd_str(r, o->err_type, sizeof o->err_type, NULL);
    }
    if (!strcmp(key, "reason") && once(&x->seen, SEEN_REASON) && str)
        return rd_str(r, o->err_reason, sizeof o->err_reason, NULL);
    return rd_skip(r, 2);
}

static int op_member(void *ctx, rd *r, const char *key)
{
    item_rd *x = ctx;
    es_item_result *o = x->r;
    char c = rd_peek(r);
    if (!strcmp(key, "_id") && once(&x->seen, SEEN_ID)) {
        if (c != '"') return rd_skip(r, 1);
        size_t full;
        if (rd_str(r, o->id, sizeof o->id, &full)) return DIAG_EIO;
        o->has_id = full < sizeof o->id ? 1 : -1;
        if (o->has_id < 0) o->id[0] = '\0';
        return 0;
    }
    if (!strcmp(key, "status") && once(&x->seen, SEEN_STATUS)) {
        if (c != '-' && (c < '0' || c > '9')) return rd_skip(r, 1);
        double v;
        if (rd_num(r, &v)) return DIAG_EIO;
        if (v >= 0 && v < 1000) o->status = (int)v;
        return 0;
    }
    if (!strcmp(key, "result") && once(&x->seen, SEEN_RESULT)) {
        if (c != '"') return rd_skip(r, 1);
        return rd_str(r, o->result, sizeof o->result, NULL);
    }
    if (!strcmp(key, "error") && once(&x->seen, SEEN_ERROR)) {
        if (c == '{') {
            if (rd_object(r, 1, error_member, x)) return DIAG_EIO;
            if (!(x->seen & SEEN_TYPE_STR)) copy_str(o->err_type, sizeof o->err_type, "error");
            return 0;
        }
        if (c == '"') {
            copy_str(o->err_type, sizeof o->err_type, "error");
            return rd_str(r, o->err_reason, sizeof o->err_reason, NULL);
        }
        if (c == 'n') return rd_lit(r, "null");
        if (rd_skip(r, 1)) return DIAG_EIO;
        copy_str(o->err_type, sizeof o->err_type, "error");
        return 0;
    }
    return rd_skip(r, 1);
}

/* One element of "items": {"<op>": {...}}; only the first member counts. */
static int item_member(void *ctx, rd *r, const char *key)
{
    item_rd *x = ctx;
    if (!x->r || (x->seen & SEEN_OP)) return rd_skip(r, 1);
    x->seen |= SEEN_OP;
    x->r->op = op_of(key);
    if (rd_peek(r) != '{') return rd_skip(r, 1);
    return rd_object(r, 1, op_member, x);
}

typedef struct bulk_rd {
    es_item_result *out;
    size_t cap;
    int n;
    int errors, seen_errors, seen_items, items_ok;
} bulk_rd;

static int bulk_member(void *ctx, rd *r, const char *key)
{
    bulk_rd *b = ctx;
    char c = rd_peek(r);
    if (!strcmp(key, "errors") && !b->seen_errors) {
        b->seen_errors = 1;
        if (c == 't') {
            b->errors = 1;
            return rd_lit(r, "true");
        }
        return rd_skip(r, 1);
    }
    if (strcmp(key, "items") != 0 || b->seen_items) return rd_skip(r, 1);
    b->seen_items = 1;
    if (c != '[') return rd_skip(r, 1);
    b->items_ok = 1;
    r->p++;
    if (rd_eat(r, ']')) return 0;
    for (;;) {
        item_rd x = {NULL, 0};
        if ((size_t)b->n < b->cap) {
            x.r = &b->out[b->n];
            memset(x.r, 0, sizeof *x.r);
        }
        if (rd_peek(r) == '{') {
            if (rd_object(r, 1, item_member, &x)) return DIAG_EIO;
            if (x.r && !(x.seen & SEEN_OP)) x.r->op = ES_OP_UNKNOWN;
        } else {
            if (x.r) x.r->op = ES_OP_UNKNOWN;
            if (rd_skip(r, 1)) return DIAG_EIO;
        }
        if (b->n < 0x7fffffff) b->n++;
        if (rd_eat(r, ',')) continue;
        if (rd_eat(r, ']')) return 0;
        r->bad = 1;
        return DIAG_EIO;
    }
}

int es_bulk_parse_reply(const char *body, size_t len, es_item_result *out, size_t cap,
                        int *errors, diag *d)
{
    rd r = {body ? body : "", (body ? body : "") + (body ? len : 0), 0};
    bulk_rd b = {out, out ? cap : 0, 0, 0, 0, 0, 0};
    if (rd_peek(&r) != '{' || rd_object(&r, 0, bulk_member, &b) || !b.items_ok) {
        if (d)
            diag_error(d, NOLOC, "bulk: the reply is not a _bulk reply: %.*s",
                       (int)(len < 120 ? len : 120), len ? body : "");
        return DIAG_EIO;
    }
    if (errors) *errors = b.errors;
    return b.n;
}

typedef struct action_rd {
    int members;
    es_op op;
    int obj;
    char *id;
    size_t idcap;
    int has_id, seen_id;
} action_rd;

static int action_field(void *ctx, rd *r, const char *key)
{
    action_rd *a = ctx;
    if (strcmp(key, "_id") != 0 || a->seen_id) return rd_skip(r, 2);
    a->seen_id = 1;
    if (rd_peek(r) != '"') return rd_skip(r, 2);
    size_t full;
    if (rd_str(r, a->id, a->idcap, &full)) return DIAG_EIO;
    a->has_id = full < a->idcap ? 1 : -1;
    if (a->has_id < 0 && a->idcap) a->id[0] = '\0';
    return 0;
}

static int action_member(void *ctx, rd *r, const char *key)
{
    action_rd *a = ctx;
    if (a->members++) return rd_skip(r, 1);
    a->op = op_of(key);
    if (rd_peek(r) != '{') return rd_skip(r, 1);
    a->obj = 1;
    return rd_object(r, 1, action_field, a);
}

int es_action_parse(const char *line, size_t len, es_op *op, char *id, size_t idcap, int *has_id)
{
    *op = ES_OP_UNKNOWN;
    *has_id = 0;
    if (idcap) id[0] = '\0';
    const char *nl = memchr(line, '\n', len);
    rd r = {line, nl ? nl : line + len, 0};
    action_rd a = {0, ES_OP_UNKNOWN, 0, id, idcap, 0, 0};
    if (rd_peek(&r) != '{' || rd_object(&r, 0, action_member, &a) || a.members != 1 || !a.obj ||
        a.op == ES_OP_UNKNOWN) {
        if (idcap) id[0] = '\0';
        return DIAG_EINVAL;
    }
    *op = a.op;
    *has_id = a.has_id;
    if (a.has_id != 1 && idcap) id[0] = '\0';
    return 0;
}

/* ---- GET / ------------------------------------------------------------- */

static const char ES_TAGLINE[] = "You Know, for Search";

int es_version_parse(const char *json, size_t len, const char *product, es_version *out,
                     diag *d)
{
    es_version v;
    memset(&v, 0, sizeof v);
    int rc = DIAG_EINVAL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(ver, "number");
    const cJSON *dist = cJSON_GetObjectItemCaseSensitive(ver, "distribution");
    const cJSON *tag = cJSON_GetObjectItemCaseSensitive(root, "tagline");
    const char *tagline = cJSON_IsString(tag) ? tag->valuestring : "";
    const char *distribution = cJSON_IsString(dist) ? dist->valuestring : "";
    if (!cJSON_IsString(num)) {
        diag_error(d, NOLOC, "elasticsearch: the cluster's reply to GET / has no version.number");
        goto done;
    }
    snprintf(v.number, sizeof v.number, "%s", num->valuestring);
    v.opensearch = strcmp(distribution, "opensearch") == 0;
    const char *p = num->valuestring;
    char *end;
    long part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (*p < '0' || *p > '9') break;
        part[i] = strtol(p, &end, 10);
        p = end;
        if (*p != '.') break;
        p++;
    }
    v.major = (int)(part[0] > 1000 ? 1000 : part[0]);
    v.minor = (int)(part[1] > 100000 ? 100000 : part[1]);
    v.patch = (int)(part[2] > 100000 ? 100000 : part[2]);
    /* The product: OpenSearch says so in version.distribution; Elasticsearch
     * has no distribution (or "elasticsearch"), the tagline "You Know, for
     * Search" and, from 7.14 on, the header X-elastic-product: Elasticsearch
     * (the check the official clients make). Anything else only looks alike. */
    if (!v.opensearch) {
        int es_dist = !*distribution || strcmp(distribution, "elasticsearch") == 0;
        int es_tag = strcmp(tagline, ES_TAGLINE) == 0;
        int needs_header = v.major > 7 || (v.major == 7 && v.minor >= 14);
        int es_header = product && strcmp(product, "Elasticsearch") == 0;
        if (!es_dist || !es_tag || (needs_header && !es_header)) {
            diag_error(d, NOLOC, "elasticsearch: the cluster is neither Elasticsearch nor "
                       "OpenSearch (version %.32s, distribution '%.40s', tagline '%.60s', "
                       "X-elastic-product '%.40s')",
                       v.number, distribution, tagline, product ? product : "");
            goto done;
        }
    }
    const char *name = v.opensearch ? "OpenSearch" : "Elasticsearch";
    int okv = v.opensearch ? (v.major >= 1 && v.major <= 3) : (v.major >= 7 && v.major <= 9);
    if (!okv) {
        diag_error(d, NOLOC, "elasticsearch: unsupported %s version %s (supported: %s)", name,
                   v.number, v.opensearch ? "OpenSearch 1.x to 3.x" : "Elasticsearch 7.x to 9.x");
        goto done;
    }
    rc = 0;
done:
    if (out) *out = v;
    cJSON_Delete(root);
    return rc;
}

/* ---- small replies ----------------------------------------------------- */

void es_error_reason(const char *body, size_t len, char *out, size_t cap)
{
    cJSON *root = cJSON_ParseWithLength(body ? body : "", body ? len : 0);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "reason");
    if (cJSON_IsString(t))
        snprintf(out, cap, "%s: %s", t->valuestring, cJSON_IsString(r) ? r->valuestring : "");
    else if (cJSON_IsString(e))
        snprintf(out, cap, "%s", e->valuestring);
    else if (body && len)
        snprintf(out, cap, "%.*s", (int)(len < 200 ? len : 200), body);
    else
        snprintf(out, cap, "(empty reply)");
    cJSON_Delete(root);
}

int es_reply_number(const char *body, size_t len, const char *key, int64_t *out)
{
    cJSON *root = cJSON_ParseWithLength(body ? body : "", body ? len : 0);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, key);
    int ok = cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble < 9.2e18;
    if (ok && out) *out = (int64_t)n->valuedouble;
    cJSON_Delete(root);
    return ok ? 0 : DIAG_EIO;
}

/* ---- mappings ---------------------------------------------------------- */

/* The type of a mapping entry: "type", else "object" (properties or none). */
static const char *type_of(const cJSON *f)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(f, "type");
    return cJSON_IsString(t) ? t->valuestring : "object";
}

static const cJSON *props_of(const cJSON *mapping)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(mapping, "properties");
    return cJSON_IsObject(p) ? p : NULL;
}

static int diff_props(const cJSON *have, const cJSON *want, const char *prefix, cJSON *add,
                      int *nadded, diag *d)
{
    int conflicts = 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, want)
    {
        if (!w->string) continue;
        char path[512];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", w->string);
        const cJSON *h = have ? cJSON_GetObjectItemCaseSensitive(have, w->string) : NULL;
        if (!h) {
            cJSON_AddItemToObject(add, w->string, cJSON_Duplicate(w, 1));
            (*nadded)++;
            continue;
        }
        const char *ht = type_of(h), *wt = type_of(w);
        if (strcmp(ht, wt) != 0) {
            diag_error(d, NOLOC, "field '%s': index has '%s', plan wants '%s'", path, ht, wt);
            conflicts++;
            continue;
        }
        const cJSON *wp = props_of(w);
        if (!wp) continue;
        cJSON *sub = cJSON_CreateObject();
        conflicts += diff_props(props_of(h), wp, path, sub, nadded, d);
        if (sub->child) {
            cJSON *entry = cJSON_CreateObject();
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(w, "type");
            if (cJSON_IsString(t)) cJSON_AddStringToObject(entry, "type", t->valuestring);
            cJSON_AddItemToObject(entry, "properties", sub);
            cJSON_AddItemToObject(add, w->string, entry);
        } else {
            cJSON_Delete(sub);
        }
    }
    return conflicts;
}

static int diff_trees(const cJSON *have, const cJSON *want, char **additions, int *nadded,
                      diag *d)
{
    int rc = 0, n = 0;
    cJSON *add = cJSON_CreateObject();
    if (additions) *additions = NULL;
    if (!cJSON_IsObject(have) || !cJSON_IsObject(want)) {
        diag_error(d, NOLOC, "elasticsearch: %s mapping is not a JSON object",
                   cJSON_IsObject(have) ? "the plan's" : "the index's");
        rc = DIAG_EINVAL;
        goto done;
    }
    if (diff_props(props_of(have), props_of(want), "", add, &n, d) > 0) {
        rc = DIAG_EINVAL;
        goto done;
    }
    if (n > 0 && additions) {
        cJSON *wrap = cJSON_CreateObject();
        cJSON_AddItemToObject(wrap, "properties", add);
        add = NULL;
        *additions = cJSON_PrintUnformatted(wrap);
        cJSON_Delete(wrap);
    }
done:
    if (nadded) *nadded = rc ? 0 : n;
    cJSON_Delete(add);
    return rc;
}

int es_mapping_diff(const char *existing_json, const char *wanted_json, char **additions,
                    int *nadded, diag *d)
{
    cJSON *have = cJSON_Parse(existing_json ? existing_json : "{}");
    cJSON *want = cJSON_Parse(wanted_json ? wanted_json : "{}");
    int rc = diff_trees(have, want, additions, nadded, d);
    cJSON_Delete(have);
    cJSON_Delete(want);
    return rc;
}

int es_json_is_object(const char *json)
{
    cJSON *m = cJSON_Parse(json ? json : "");
    int ok = cJSON_IsObject(m);
    cJSON_Delete(m);
    return ok;
}

int es_mapping_reply_diff(const char *reply, size_t len, const char *index,
                          const char *wanted_json, char **additions, int *nadded, diag *d)
{
    int rc = 0;
    *additions = NULL;
    *nadded = 0;
    cJSON *root = cJSON_ParseWithLength(reply ? reply : "", reply ? len : 0);
    cJSON *want = cJSON_Parse(wanted_json ? wanted_json : "{}");
    if (!cJSON_IsObject(root)) {
        diag_error(d, NOLOC, "index '%s': the mapping reply is not a JSON object", index);
        rc = DIAG_EIO;
        goto done;
    }
    const cJSON *idx;
    cJSON_ArrayForEach(idx, root)
    {
        /* one entry per index (an alias may name several) */
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(idx, "mappings");
        cJSON *empty = m ? NULL : cJSON_CreateObject();
        char *add = NULL;
        int n = 0, before = diag_errors(d);
        rc = diff_trees(m ? m : empty, want, &add, &n, d);
        cJSON_Delete(empty);
        if (rc) {
            int k = diag_errors(d) - before;
            diag_error(d, NOLOC, "index '%s': %d mapping conflict%s with the plan (the index is "
                       "left unchanged; reindex or drop it)",
                       idx->string ? idx->string : index, k, k == 1 ? "" : "s");
            free(add);
            free(*additions);
            *additions = NULL;
            *nadded = 0;
            goto done;
        }
        if (add && !*additions) {
            *additions = add;
            *nadded = n;
        } else {
            free(add);
        }
    }
done:
    cJSON_Delete(want);
    cJSON_Delete(root);
    return rc;
}

/* ---- scroll pages ------------------------------------------------------ */

void es_page_free(es_page *pg)
{
    if (!pg) return;
    free(pg->scroll_id);
    buf_free(&pg->ids);
    memset(pg, 0, sizeof *pg);
}

typedef struct page_rd {
    es_page *pg;
    int rc;
    int members, seen_sid, seen_hits, seen_inner, hits_obj, hits_arr, sid_ok;
} page_rd;

static int hit_member(void *ctx, rd *r, const char *key)
{
    page_rd *x = ctx;
    if (strcmp(key, "_id") != 0 || x->seen_inner++ || rd_peek(r) != '"') return rd_skip(r, 3);
    /* each id: its length (size_t), its bytes, a NUL */
    rd probe = *r;
    size_t n;
    if (rd_str(&probe, NULL, 0, &n)) return DIAG_EIO;
    buf *ids = &x->pg->ids;
    size_t at = ids->len;
    if (buf_append(ids, &n, sizeof n) || buf_reserve(ids, n + 1)) {
        x->rc = DIAG_ENOMEM;
        return DIAG_EIO;
    }
    if (rd_str(r, ids->data + ids->len, n + 1, NULL)) return DIAG_EIO;
    if (strlen(ids->data + ids->len) != n) { /* a \u0000: C strings end there */
        n = strlen(ids->data + ids->len);
        memcpy(ids->data + at, &n, sizeof n);
    }
    ids->len += n + 1;
    x->pg->n++;
    return 0;
}

static int outer_member(void *ctx, rd *r, const char *key)
{
    page_rd *x = ctx;
    if (strcmp(key, "hits") != 0 || x->hits_arr) return rd_skip(r, 2);
    x->hits_arr = 1;
    if (rd_peek(r) != '[') {
        x->hits_arr = -1;
        return rd_skip(r, 2);
    }
    r->p++;
    if (rd_eat(r, ']')) return 0;
    for (;;) {
        x->seen_inner = 0;
        if (rd_peek(r) == '{' ? rd_object(r, 2, hit_member, x) : rd_skip(r, 2)) return DIAG_EIO;
        if (rd_eat(r, ',')) continue;
        if (rd_eat(r, ']')) return 0;
        r->bad = 1;
        return DIAG_EIO;
    }
}

static int page_member(void *ctx, rd *r, const char *key)
{
    page_rd *x = ctx;
    x->members++;
    if (!strcmp(key, "_scroll_id") && !x->seen_sid++) {
        if (rd_peek(r) != '"') return rd_skip(r, 1);
        rd probe = *r;
        size_t n;
        if (rd_str(&probe, NULL, 0, &n)) return DIAG_EIO;
        char *sid = malloc(n + 1);
        if (!sid) {
            x->rc = DIAG_ENOMEM;
            return DIAG_EIO;
        }
        rd_str(r, sid, n + 1, NULL);
        x->sid_ok = 1;
        es_page *pg = x->pg;
        if (pg->scroll_id && strcmp(pg->scroll_id, sid) == 0) {
            free(sid);
        } else {
            free(pg->scroll_id);
            pg->scroll_id = sid;
        }
        return 0;
    }
    if (!strcmp(key, "hits") && !x->seen_hits++) {
        x->hits_obj = 1;
        if (rd_peek(r) != '{') return rd_skip(r, 1);
        return rd_object(r, 1, outer_member, x);
    }
    return rd_skip(r, 1);
}

int es_page_parse(const char *body, size_t len, es_page *pg, diag *d)
{
    buf_reset(&pg->ids);
    pg->n = 0;
    pg->pos = 0;
    rd r = {body ? body : "", (body ? body : "") + (body ? len : 0), 0};
    page_rd x = {pg, 0, 0, 0, 0, 0, 0, 0, 0};
    int bad = rd_peek(&r) != '{' || rd_object(&r, 0, page_member, &x);
    if (x.rc) {
        buf_reset(&pg->ids);
        pg->n = 0;
        return x.rc;
    }
    /* filter_path leaves `hits` out of a page without hits */
    if (bad || !x.sid_ok || (x.hits_obj && x.hits_arr != 1) || (!x.hits_obj && x.members != 1)) {
        buf_reset(&pg->ids);
        pg->n = 0;
        diag_error(d, NOLOC, "elasticsearch: scroll reply without _scroll_id or hits");
        return DIAG_EIO;
    }
    return 0;
}

int es_page_next(es_page *pg, const char **id, size_t *idlen)
{
    if (pg->pos >= pg->ids.len) return 0;
    size_t n;
    memcpy(&n, pg->ids.data + pg->pos, sizeof n);
    *id = pg->ids.data + pg->pos + sizeof n;
    if (idlen) *idlen = n;
    pg->pos += sizeof n + n + 1;
    return 1;
}
