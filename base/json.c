/* json.c - a small strict JSON reader; see json.h.
 * Foundation layer. Not here: the JSON writer (buf.c).
 */
#include "base/json.h"

#include <string.h>

#include "base/diag.h"

/* ------------------------------------------------------------------ JSON */

#define JSON_MAX_DEPTH 256

typedef struct jp {
    const char *s;
    size_t n, i;
    arena *a; /* NULL = validate only */
    int depth;
} jp;

static void jws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[k]);
        if (h < 0) return 0;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Scan (and decode into dst when not NULL; dst needs the literal's length)
 * the string literal at s[*i] (the opening quote). Returns 1 ok, 0 invalid. */
static int jstring(const char *s, size_t n, size_t *pi, char *dst, size_t *dlen)
{
    size_t i = *pi, o = 0;
    if (i >= n || s[i] != '"') return 0;
    i++;
    for (;;) {
        if (i >= n) return 0;
        unsigned char c = (unsigned char)s[i];
        if (c == '"') break;
        if (c < 0x20) return 0;
        if (c == '\\') {
            if (i + 1 >= n) return 0;
            char e = s[i + 1];
            char r = 0;
            switch (e) {
            case '"': r = '"'; break;
            case '\\': r = '\\'; break;
            case '/': r = '/'; break;
            case 'b': r = '\b'; break;
            case 'f': r = '\f'; break;
            case 'n': r = '\n'; break;
            case 'r': r = '\r'; break;
            case 't': r = '\t'; break;
            case 'u': {
                unsigned cp;
                if (i + 6 > n || !hex4(s + i + 2, &cp)) return 0;
                i += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' || !hex4(s + i + 2, &lo) ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return 0;
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return 0;
                }
                if (dst) o += put_utf8(dst + o, cp);
                continue;
            }
            default: return 0;
            }
            if (dst) dst[o++] = r;
            i += 2;
            continue;
        }
        if (c < 0x80) {
            if (dst) dst[o++] = (char)c;
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && (unsigned char)s[j] >= 0x80) j++;
        if (!utf8_valid(s + i, j - i)) return 0;
        if (dst) {
            memcpy(dst + o, s + i, j - i);
            o += j - i;
        }
        i = j;
    }
    *pi = i + 1;
    if (dlen) *dlen = o;
    return 1;
}

static int jvalue(jp *p, json **out);

static json *jnew(jp *p, json_kind k, size_t start)
{
    if (!p->a) return NULL;
    json *j = arena_alloc(p->a, sizeof *j);
    j->kind = k;
    j->raw = p->s + start;
    return j;
}

static int jvalue(jp *p, json **out)
{
    jws(p);
    if (p->i >= p->n) return 0;
    size_t start = p->i;
    char c = p->s[p->i];
    json *j = NULL;
    if (c == '{' || c == '[') {
        if (++p->depth > JSON_MAX_DEPTH) return 0;
        char close = c == '{' ? '}' : ']';
        j = jnew(p, c == '{' ? JSON_OBJECT : JSON_ARRAY, start);
        json **tail = j ? &j->child : NULL;
        p->i++;
        jws(p);
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
        } else {
            for (;;) {
                char *key = NULL;
                if (c == '{') {
                    jws(p);
                    size_t ks = p->i, klen = 0;
                    if (p->a) {
                        key = arena_alloc(p->a, p->n - p->i + 1);
                        if (!jstring(p->s, p->n, &p->i, key, &klen)) return 0;
                        key[klen] = '\0';
                    } else if (!jstring(p->s, p->n, &p->i, NULL, NULL)) {
                        return 0;
                    }
                    (void)ks;
                    jws(p);
                    if (p->i >= p->n || p->s[p->i] != ':') return 0;
                    p->i++;
                }
                json *e = NULL;
                if (!jvalue(p, &e)) return 0;
                if (e) {
                    e->key = key;
                    *tail = e;
                    tail = &e->next;
                }
                jws(p);
                if (p->i >= p->n) return 0;
                if (p->s[p->i] == ',') {
                    p->i++;
                    continue;
                }
                if (p->s[p->i] != close) return 0;
                p->i++;
                break;
            }
        }
        p->depth--;
    } else if (c == '"') {
        if (p->a) {
            char *dst = arena_alloc(p->a, p->n - p->i + 1);
            size_t dl = 0;
            if (!jstring(p->s, p->n, &p->i, dst, &dl)) return 0;
            dst[dl] = '\0';
            j = jnew(p, JSON_STRING, start);
            j->str = dst;
            j->len = dl;
        } else if (!jstring(p->s, p->n, &p->i, NULL, NULL)) {
            return 0;
        }
    } else if (c == 't' || c == 'f' || c == 'n') {
        const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t wl = strlen(w);
        if (p->n - p->i < wl || memcmp(p->s + p->i, w, wl) != 0) return 0;
        p->i += wl;
        j = jnew(p, c == 'n' ? JSON_NULL : JSON_BOOL, start);
    } else {
        size_t e = p->i;
        while (e < p->n && (strchr("-+.eE", p->s[e]) || (p->s[e] >= '0' && p->s[e] <= '9'))) e++;
        if (e == p->i || !json_is_number(p->s + p->i, e - p->i)) return 0;
        p->i = e;
        j = jnew(p, JSON_NUMBER, start);
    }
    if (j) j->rawlen = p->i - start;
    *out = j;
    return 1;
}

int json_parse(arena *a, const char *s, size_t n, json **out)
{
    jp p = {s, n, 0, a, 0};
    json *j = NULL;
    if (!jvalue(&p, &j)) return 0;
    jws(&p);
    if (p.i != n) return 0;
    if (a && out) *out = j;
    return 1;
}

size_t json_skip(const char *s, size_t n)
{
    jp p = {s, n, 0, NULL, 0};
    json *j = NULL;
    if (n == 0 || s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r') return 0;
    if (!jvalue(&p, &j)) return 0;
    return p.i;
}

int json_unescape(const char *s, size_t n, buf *out)
{
    size_t i = 0, dl = 0;
    int rc = buf_reserve(out, n);
    if (rc) return rc;
    if (!jstring(s, n, &i, out->data + out->len, &dl) || i != n) return DIAG_EINVAL;
    out->len += dl;
    out->data[out->len] = '\0';
    return 0;
}

