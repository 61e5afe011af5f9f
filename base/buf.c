/* buf.c - growable buffer and JSON primitives; see buf.h. */
#include "base/buf.h"
#include "base/diag.h"
#include "base/fault.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->failed = 0;
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void buf_reset(buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data) b->data[0] = '\0';
}

enum { FAILED_LIMIT = 1, FAILED_NOMEM = 2 }; /* buf.failed */

int buf_error(const buf *b)
{
    return !b->failed ? 0 : b->failed == FAILED_NOMEM ? DIAG_ENOMEM : DIAG_ELIMIT;
}

int buf_reserve(buf *b, size_t extra)
{
    if (b->failed) return buf_error(b);
    size_t need = b->len + extra + 1;
    if (need < b->len) goto limit;
    if (b->max && need > b->max + 1) goto limit;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) goto limit;
        cap *= 2;
    }
    if (b->max && cap > b->max + 1) cap = b->max + 1;
    char *p = fault_hit(FAULT_ALLOC) ? NULL : realloc(b->data, cap);
    if (!p) {
        b->failed = FAILED_NOMEM;
        return DIAG_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
limit:
    b->failed = FAILED_LIMIT;
    return DIAG_ELIMIT;
}

int buf_append(buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_putc(buf *b, char c)
{
    if (b->len + 2 <= b->cap && !b->failed) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append(b, &c, 1);
}

int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return DIAG_EINVAL;
    int rc = buf_reserve(b, (size_t)n);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *buf_detach(buf *b, size_t *len)
{
    char *p = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

/* Length of the valid UTF-8 sequence at s (1..4) or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
        return 2;
    }
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        if (*p < 0x80) { p++; continue; }
        size_t k = utf8_seq(p, (size_t)(end - p));
        if (!k) return 0;
        p += k;
    }
    return 1;
}

int buf_json_str(buf *b, const char *s, size_t n, size_t *replaced)
{
    static const char hex[] = "0123456789abcdef";
    /* worst case: every byte becomes \u00XX (6) or U+FFFD (3 bytes) */
    int rc = buf_reserve(b, n * 6 + 2);
    if (rc) return rc;
    char *o = b->data + b->len;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    *o++ = '"';
    while (p < end) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            p++;
        } else if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            default:
                *o++ = 'u'; *o++ = '0'; *o++ = '0';
                *o++ = hex[c >> 4]; *o++ = hex[c & 15];
            }
            p++;
        } else {
            size_t k = utf8_seq(p, (size_t)(end - p));
            if (k) {
                memcpy(o, p, k);
                o += k;
                p += k;
            } else {
                *o++ = (char)0xEF; *o++ = (char)0xBF; *o++ = (char)0xBD;
                if (replaced) (*replaced)++;
                p++;
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int buf_json_base64(buf *b, const void *data, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = buf_reserve(b, (n + 2) / 3 * 4 + 2);
    if (rc) return rc;
    const unsigned char *p = data;
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tbl[v >> 18]; *o++ = tbl[(v >> 12) & 63];
        *o++ = tbl[(v >> 6) & 63]; *o++ = tbl[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = tbl[v >> 18]; *o++ = tbl[(v >> 12) & 63]; *o++ = '='; *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = tbl[v >> 18]; *o++ = tbl[(v >> 12) & 63]; *o++ = tbl[(v >> 6) & 63]; *o++ = '=';
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int buf_json_i64(buf *b, int64_t v) { return buf_printf(b, "%" PRId64, v); }
int buf_json_u64(buf *b, uint64_t v) { return buf_printf(b, "%" PRIu64, v); }

static size_t fmt_g(char *out, double v, int single);

/* Decimal digits of v (NUL-terminated), two digits per division. */
size_t json_fmt_u64(char *out, uint64_t v)
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                   "25262728293031323334353637383940414243444546474849"
                                   "50515253545556575859606162636465666768697071727374"
                                   "75767778798081828384858687888990919293949596979899";
    char tmp[24];
    char *p = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, pairs + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(out, p, n);
    out[n] = 0;
    return n;
}

size_t json_fmt_i64(char *out, int64_t v)
{
    if (v < 0) {
        out[0] = '-';
        return 1 + json_fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
    }
    return json_fmt_u64(out, (uint64_t)v);
}

/* Shortest decimal text of a finite double that reads back to the same value,
 * always with a '.' or an exponent. Fast path: v = n / 10^k exactly (IEEE
 * division of two exact operands is correctly rounded, like strtod), k <= 15,
 * |n| < 2^53: printed as fixed-point digits. Otherwise %.15g..%.17g. out has
 * 40 bytes. */
static size_t fmt_double_exact(char *out, double v)
{
    static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
                                 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    double a = fabs(v);
    if (a < 1e15 && (a >= 1e-5 || a == 0)) {
        for (int k = 0; k <= 15; k++) {
            double r = v * p10[k];
            if (fabs(r) >= 9007199254740992.0) break;
            double n = nearbyint(r);
            if (n / p10[k] != v) continue;
            if (n == 0 && signbit(v)) {
                memcpy(out, "-0.0", 5);
                return 4;
            }
            char digits[24];
            size_t nd = json_fmt_u64(digits, (uint64_t)fabs(n)), o = 0;
            if (v < 0) out[o++] = '-';
            if (k == 0) {
                memcpy(out + o, digits, nd);
                o += nd;
                memcpy(out + o, ".0", 3);
                return o + 2;
            }
            if (nd <= (size_t)k) { /* 0.000ddd */
                out[o++] = '0';
                out[o++] = '.';
                for (size_t z = nd; z < (size_t)k; z++) out[o++] = '0';
                memcpy(out + o, digits, nd);
                o += nd;
            } else {
                memcpy(out + o, digits, nd - (size_t)k);
                o += nd - (size_t)k;
                out[o++] = '.';
                memcpy(out + o, digits + nd - (size_t)k, (size_t)k);
                o += (size_t)k;
            }
            out[o] = 0;
            return o;
        }
    }
    return fmt_g(out, v, 0);
}

/* %g with the fewest digits that read back to v (as a float when single). */
static size_t fmt_g(char *out, double v, int single)
{
    int n = 0;
    for (int p = single ? 6 : 15; p <= (single ? 9 : 17); p++) {
        n = snprintf(out, 40, "%.*g", p, v);
        if (single ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v) break;
    }
    if (n > 0 && n < 37 && !memchr(out, '.', (size_t)n) && !memchr(out, 'e', (size_t)n)) {
        out[n++] = '.';
        out[n++] = '0';
        out[n] = 0;
    }
    return (size_t)n;
}

size_t json_fmt_double(char *out, double v, int single)
{
    return single ? fmt_g(out, v, 1) : fmt_double_exact(out, v);
}

int json_is_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        i++;
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == st) return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == st) return 0;
    }
    return i == n;
}
