/* idset.c - external-sort id set; see idset.h. Records are a 4-byte length
 * followed by the bytes, in memory and in run files alike. */
#include "sync/idset.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

struct eng_idset {
    buf mem;          /* records */
    size_t *offs;     /* record offsets in mem */
    size_t noffs, capoffs;
    size_t limit;
    FILE **runs;
    size_t nruns;
    int failed;
};

typedef struct run_reader {
    FILE *f;          /* NULL for the in-memory run */
    buf cur;
    int have;
} run_reader;

struct eng_idset_iter {
    eng_idset *s;
    size_t mi;        /* in-memory position */
    run_reader *rr;
    size_t nrr;
    buf last;
    int started;
};

int eng_idset_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

eng_idset *eng_idset_new(size_t mem_limit)
{
    eng_idset *s = calloc(1, sizeof *s);
    if (!s) abort();
    buf_init(&s->mem, 0);
    s->limit = mem_limit ? mem_limit : 16u << 20;
    return s;
}

void eng_idset_free(eng_idset *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nruns; i++) fclose(s->runs[i]);
    free(s->runs);
    free(s->offs);
    buf_free(&s->mem);
    free(s);
}

size_t eng_idset_spills(const eng_idset *s) { return s->nruns; }

static const char *rec(const eng_idset *s, size_t off, size_t *n)
{
    uint32_t len;
    memcpy(&len, s->mem.data + off, 4);
    *n = len;
    return s->mem.data + off + 4;
}

static const eng_idset *sort_set; /* qsort has no context argument in C11 */

static int cmp_off(const void *a, const void *b)
{
    size_t an, bn;
    const char *ap = rec(sort_set, *(const size_t *)a, &an);
    const char *bp = rec(sort_set, *(const size_t *)b, &bn);
    return eng_idset_cmp(ap, an, bp, bn);
}

static void sort_mem(eng_idset *s)
{
    sort_set = s;
    qsort(s->offs, s->noffs, sizeof *s->offs, cmp_off);
    sort_set = NULL;
}

static int spill(eng_idset *s)
{
    sort_mem(s);
    FILE *f = tmpfile();
    if (!f) return DIAG_EIO;
    for (size_t i = 0; i < s->noffs; i++) {
        size_t n;
        rec(s, s->offs[i], &n);
        if (fwrite(s->mem.data + s->offs[i], 1, n + 4, f) != n + 4) {
            fclose(f);
            return DIAG_EIO;
        }
    }
    if (fflush(f) != 0) {
        fclose(f);
        return DIAG_EIO;
    }
    FILE **nr = realloc(s->runs, (s->nruns + 1) * sizeof *nr);
    if (!nr) abort();
    s->runs = nr;
    s->runs[s->nruns++] = f;
    s->noffs = 0;
    buf_reset(&s->mem);
    return 0;
}

int eng_idset_add(eng_idset *s, const char *id, size_t n)
{
    if (s->failed) return DIAG_EIO;
    if (n > UINT32_MAX) return DIAG_EINVAL;
    if (s->mem.len + n + 4 > s->limit && s->noffs && spill(s) != 0) {
        s->failed = 1;
        return DIAG_EIO;
    }
    if (s->noffs == s->capoffs) {
        s->capoffs = s->capoffs ? s->capoffs * 2 : 1024;
        s->offs = realloc(s->offs, s->capoffs * sizeof *s->offs);
        if (!s->offs) abort();
    }
    s->offs[s->noffs++] = s->mem.len;
    uint32_t len = (uint32_t)n;
    buf_append(&s->mem, &len, 4);
    buf_append(&s->mem, id, n);
    return 0;
}

static int reader_next(run_reader *r)
{
    uint32_t len;
    if (fread(&len, 1, 4, r->f) != 4) {
        r->have = 0;
        return ferror(r->f) ? DIAG_EIO : 0;
    }
    buf_reset(&r->cur);
    if (buf_reserve(&r->cur, len) != 0) return DIAG_ENOMEM;
    if (fread(r->cur.data, 1, len, r->f) != len) return DIAG_EIO;
    r->cur.len = len;
    r->have = 1;
    return 1;
}

eng_idset_iter *eng_idset_iter_new(eng_idset *s, diag *d)
{
    eng_idset_iter *it = calloc(1, sizeof *it);
    if (!it) abort();
    it->s = s;
    buf_init(&it->last, 0);
    if (!s) return it;
    if (s->failed) goto fail;
    sort_mem(s);
    if (s->nruns) {
        it->rr = calloc(s->nruns, sizeof *it->rr);
        if (!it->rr) abort();
        it->nrr = s->nruns;
        for (size_t i = 0; i < s->nruns; i++) {
            it->rr[i].f = s->runs[i];
            buf_init(&it->rr[i].cur, 0);
            rewind(s->runs[i]);
            if (reader_next(&it->rr[i]) < 0) goto fail;
        }
    }
    return it;
fail:
    diag_error(d, (src_loc){0}, "cannot read the temporary id file of the sweep");
    eng_idset_iter_free(it);
    return NULL;
}

int eng_idset_iter_next(eng_idset_iter *it, const char **id, size_t *n)
{
    eng_idset *s = it->s;
    if (!s) return 0;
    for (;;) {
        /* smallest head among the in-memory run and the file runs */
        const char *best = NULL;
        size_t bestn = 0;
        int src = -2; /* -1 memory, >= 0 file run */
        if (it->mi < s->noffs) {
            best = rec(s, s->offs[it->mi], &bestn);
            src = -1;
        }
        for (size_t i = 0; i < it->nrr; i++) {
            if (!it->rr[i].have) continue;
            if (!best || eng_idset_cmp(it->rr[i].cur.data, it->rr[i].cur.len, best, bestn) < 0) {
                best = it->rr[i].cur.data;
                bestn = it->rr[i].cur.len;
                src = (int)i;
            }
        }
        if (src == -2) return 0;
        int dup = it->started && eng_idset_cmp(best, bestn, it->last.data, it->last.len) == 0;
        if (!dup) {
            buf_reset(&it->last);
            buf_append(&it->last, best, bestn);
            it->started = 1;
        }
        if (src == -1) {
            it->mi++;
        } else if (reader_next(&it->rr[src]) < 0) {
            return DIAG_EIO;
        }
        if (!dup) {
            *id = it->last.data;
            *n = it->last.len;
            return 1;
        }
    }
}

void eng_idset_iter_free(eng_idset_iter *it)
{
    if (!it) return;
    for (size_t i = 0; i < it->nrr; i++) buf_free(&it->rr[i].cur);
    free(it->rr);
    buf_free(&it->last);
    free(it);
}
