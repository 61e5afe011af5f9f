/* diag.c - diagnostics collection and printing; see diag.h. */
#include "base/diag.h"

#include <stdlib.h>
#include <string.h>

typedef struct source {
    char *file;
    char *text;
    size_t len;
} source;

typedef struct hidden {
    char *file;
    int line, col, last_line, end_col; /* end_col: first shown column of last_line; 0: none */
} hidden;

struct diag {
    diag_msg msgs[DIAG_MAX_KEPT];
    hidden *hid;
    size_t nhid, caphid;
    size_t nmsgs;
    int nerrors, nwarnings, dropped_errors;
    int last_kept; /* 1 when the last message was kept */
    source *srcs;
    size_t nsrcs;
    char last[512];
};

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p) abort();
    memcpy(p, s, n);
    return p;
}

diag *diag_new(void)
{
    diag *d = calloc(1, sizeof *d);
    if (!d) abort();
    return d;
}

void diag_clear(diag *d)
{
    for (size_t i = 0; i < d->nmsgs; i++) {
        free(d->msgs[i].text);
        free(d->msgs[i].hint);
    }
    d->nmsgs = 0;
    d->nerrors = d->nwarnings = d->dropped_errors = 0;
    d->last_kept = 0;
    d->last[0] = '\0';
}

void diag_free(diag *d)
{
    if (!d) return;
    diag_clear(d);
    for (size_t i = 0; i < d->nsrcs; i++) {
        free(d->srcs[i].file);
        free(d->srcs[i].text);
    }
    free(d->srcs);
    for (size_t i = 0; i < d->nhid; i++) free(d->hid[i].file);
    free(d->hid);
    free(d);
}

void diag_add_source(diag *d, const char *file, const char *text, size_t len)
{
    source *n = realloc(d->srcs, (d->nsrcs + 1) * sizeof *n);
    if (!n) abort();
    d->srcs = n;
    n[d->nsrcs].file = xstrdup(file);
    n[d->nsrcs].text = malloc(len + 1);
    if (!n[d->nsrcs].text) abort();
    memcpy(n[d->nsrcs].text, text, len);
    n[d->nsrcs].text[len] = '\0';
    n[d->nsrcs].len = len;
    d->nsrcs++;
}

/* Kept messages outlive the caller's arenas: point their file name at a copy
 * owned by d (a registered source's name, or a new empty source). */
static const char *own_file(diag *d, const char *file)
{
    if (!file) return NULL;
    for (size_t i = 0; i < d->nsrcs; i++)
        if (strcmp(d->srcs[i].file, file) == 0) return d->srcs[i].file;
    diag_add_source(d, file, "", 0);
    return d->srcs[d->nsrcs - 1].file;
}

void diag_verror(diag *d, diag_level lv, src_loc loc, const char *fmt, va_list ap)
{
    char tmp[1024];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (lv == DIAG_ERROR) {
        d->nerrors++;
        size_t tl = strlen(tmp);
        if (tl >= sizeof d->last) tl = sizeof d->last - 1;
        memcpy(d->last, tmp, tl);
        d->last[tl] = '\0';
    } else if (lv == DIAG_WARNING) {
        d->nwarnings++;
    }
    if (d->nmsgs >= DIAG_MAX_KEPT) {
        if (lv == DIAG_ERROR) d->dropped_errors++;
        d->last_kept = 0;
        return;
    }
    diag_msg *m = &d->msgs[d->nmsgs++];
    m->level = lv;
    m->loc = loc;
    m->loc.file = own_file(d, loc.file);
    m->text = xstrdup(tmp);
    m->hint = NULL;
    d->last_kept = 1;
}

void diag_error(diag *d, src_loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, DIAG_ERROR, loc, fmt, ap);
    va_end(ap);
}

void diag_warning(diag *d, src_loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, DIAG_WARNING, loc, fmt, ap);
    va_end(ap);
}

void diag_note(diag *d, src_loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, DIAG_NOTE, loc, fmt, ap);
    va_end(ap);
}

void diag_hint(diag *d, const char *fmt, ...)
{
    if (!d->last_kept || d->nmsgs == 0) return;
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    diag_msg *m = &d->msgs[d->nmsgs - 1];
    free(m->hint);
    m->hint = xstrdup(tmp);
}

int diag_errors(const diag *d) { return d->nerrors; }
int diag_warnings(const diag *d) { return d->nwarnings; }
size_t diag_count(const diag *d) { return d->nmsgs; }
const diag_msg *diag_get(const diag *d, size_t i) { return i < d->nmsgs ? &d->msgs[i] : NULL; }
const char *diag_last(const diag *d) { return d->last; }

static const source *find_source(const diag *d, const char *file)
{
    if (!file) return NULL;
    for (size_t i = 0; i < d->nsrcs; i++)
        if (strcmp(d->srcs[i].file, file) == 0) return &d->srcs[i];
    return NULL;
}

void diag_hide_source(diag *d, const char *file, int line, int col, int last_line, int end_col)
{
    if (!file || line <= 0) return;
    if (col <= 0) col = 1;
    for (size_t i = 0; i < d->nhid; i++) /* the first (exact) span of a value wins */
        if (d->hid[i].line == line && d->hid[i].col == col && !strcmp(d->hid[i].file, file)) return;
    if (d->nhid == d->caphid) {
        size_t nc = d->caphid ? d->caphid * 2 : 8;
        hidden *nh = realloc(d->hid, nc * sizeof *nh);
        if (!nh) abort();
        d->hid = nh;
        d->caphid = nc;
    }
    if (last_line < line) last_line = line;
    d->hid[d->nhid++] = (hidden){xstrdup(file), line, col, last_line, end_col};
}

/* 1 when column col of line `line` of file is inside a hidden span. */
static int is_hidden(const diag *d, const char *file, int line, int col)
{
    for (size_t i = 0; i < d->nhid; i++) {
        const hidden *h = &d->hid[i];
        if (line < h->line || line > h->last_line || (line == h->line && col < h->col)) continue;
        if (line == h->last_line && h->end_col > 0 && col >= h->end_col) continue;
        if (!strcmp(h->file, file)) return 1;
    }
    return 0;
}

/* The source line of loc with a caret under its column; hidden text shows
 * as one "***" per run, and the caret moves with the text. */
static void print_caret(const diag *d, const source *s, src_loc loc, FILE *out)
{
    if (!s || loc.line <= 0) return;
    const char *p = s->text, *end = s->text + s->len;
    for (int l = 1; l < loc.line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return;
        p = nl + 1;
    }
    if (p >= end) return;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
    if (n && p[n - 1] == '\r') n--;
    if (n > 200) n = 200;
    char shown[256], pad[256];
    size_t sn = 0, pn = 0;
    int in_hidden = 0, caret_set = 0;
    for (size_t i = 0, col = 1; i < n; col++) {
        size_t clen = 1; /* one character: a UTF-8 sequence */
        while (i + clen < n && ((unsigned char)p[i + clen] & 0xC0) == 0x80) clen++;
        if ((int)col >= loc.col) caret_set = 1;
        if (is_hidden(d, s->file, loc.line, (int)col)) {
            if (!in_hidden) {
                memcpy(shown + sn, "***", 3);
                sn += 3;
                if (!caret_set) {
                    memcpy(pad + pn, "   ", 3);
                    pn += 3;
                }
            }
            in_hidden = 1;
        } else {
            in_hidden = 0;
            memcpy(shown + sn, p + i, clen);
            sn += clen;
            if (!caret_set) pad[pn++] = p[i] == '\t' ? '\t' : ' ';
        }
        i += clen;
    }
    fprintf(out, " %5d | %.*s\n       | %.*s^\n", loc.line, (int)sn, shown, (int)pn, pad);
}

static size_t lev(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

int diag_is_secret_name(const char *name, size_t len)
{
    static const char *const parts[] = {"password", "passwd", "pwd", "secret", "token",
                                        "api_key", "apikey", "authorization", "credential",
                                        "private_key", NULL};
    char low[128];
    if (!name || len == 0 || len >= sizeof low) return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        low[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch == '-' ? '_' : ch;
    }
    low[len] = '\0';
    if (!strcmp(low, "pass") || !strcmp(low, "pw")) return 1;
    for (size_t i = 0; parts[i]; i++)
        if (strstr(low, parts[i])) return 1;
    /* a misspelt one: `pasword`, `passowrd`, `api_kye` */
    static const char *const near[] = {"password", "api_key", NULL};
    for (size_t i = 0; near[i]; i++)
        if (lev(low, near[i]) <= 2) return 1;
    return 0;
}

size_t diag_url_userinfo(const char *url, size_t *len)
{
    *len = 0;
    if (!url) return 0;
    const char *p = strstr(url, "://");
    const char *auth = p ? p + 3 : url;
    const char *at = strrchr(auth, '@');
    if (!at) return 0;
    *len = (size_t)(at - auth) + 1;
    return (size_t)(auth - url);
}

const char *diag_redact_url(char *out, size_t n, const char *url)
{
    if (!n) return out;
    size_t ulen, off = diag_url_userinfo(url, &ulen);
    if (!url) {
        out[0] = '\0';
        return out;
    }
    if (!ulen) {
        snprintf(out, n, "%s", url);
        return out;
    }
    const char *colon = memchr(url + off, ':', ulen);
    size_t keep = colon ? (size_t)(colon - url) + 1 : off; /* through "user:" */
    snprintf(out, n, "%.*s***%s", (int)keep, url, url + off + ulen - 1);
    return out;
}

void diag_print(const diag *d, FILE *out, int color)
{
    static const char *names[] = {"error", "warning", "note"};
    static const char *colors[] = {"\033[1;31m", "\033[1;35m", "\033[1;36m"};
    for (size_t i = 0; i < d->nmsgs; i++) {
        const diag_msg *m = &d->msgs[i];
        if (m->loc.file) {
            if (m->loc.line > 0)
                fprintf(out, "%s:%d:%d: ", m->loc.file, m->loc.line, m->loc.col);
            else
                fprintf(out, "%s: ", m->loc.file);
        }
        fprintf(out, "%s%s:%s %s\n", color ? colors[m->level] : "", names[m->level],
                color ? "\033[0m" : "", m->text);
        print_caret(d, find_source(d, m->loc.file), m->loc, out);
        if (m->hint) fprintf(out, "  hint: %s\n", m->hint);
    }
    if (d->dropped_errors)
        fprintf(out, "... and %d more error%s not shown\n", d->dropped_errors,
                d->dropped_errors == 1 ? "" : "s");
    if (d->nerrors)
        fprintf(out, "%d error%s\n", d->nerrors, d->nerrors == 1 ? "" : "s");
}

const char *diag_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t bestd = 99, wl = strlen(word);
    size_t limit = wl <= 3 ? 1 : wl <= 6 ? 2 : 3;
    for (size_t i = 0; candidates && candidates[i]; i++) {
        size_t dd = lev(word, candidates[i]);
        if (dd < bestd) {
            bestd = dd;
            best = candidates[i];
        }
    }
    return bestd <= limit ? best : NULL;
}
