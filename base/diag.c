/* diag.c - diagnostics collection and printing; see diag.h. */
#include "base/diag.h"

#include <stdlib.h>
#include <string.h>

typedef struct source {
    char *file;
    char *text;
    size_t len;
} source;

struct diag {
    diag_msg msgs[DIAG_MAX_KEPT];
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

static void print_caret(const source *s, src_loc loc, FILE *out)
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
    fprintf(out, " %5d | %.*s\n       | ", loc.line, (int)n, p);
    for (int c = 1; c < loc.col && (size_t)(c - 1) < n; c++) fputc(p[c - 1] == '\t' ? '\t' : ' ', out);
    fputs("^\n", out);
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
        print_caret(find_source(d, m->loc.file), m->loc, out);
        if (m->hint) fprintf(out, "  hint: %s\n", m->hint);
    }
    if (d->dropped_errors)
        fprintf(out, "... and %d more error%s not shown\n", d->dropped_errors,
                d->dropped_errors == 1 ? "" : "s");
    if (d->nerrors)
        fprintf(out, "%d error%s\n", d->nerrors, d->nerrors == 1 ? "" : "s");
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
