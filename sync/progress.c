/* progress.c - progress reporting; see progress.h. */
#include "sync/progress.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct eng_progress {
    FILE *out;
    int tty, quiet;
    uint64_t every, next_line;
    char label[128];
    int64_t estimate;
    double start, last_draw;
    uint64_t rows, docs;
};

double eng_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

eng_progress *eng_progress_new(FILE *out, int tty, uint64_t every, int quiet)
{
    eng_progress *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->out = out;
    p->tty = tty;
    p->quiet = quiet;
    p->every = every ? every : 100;
    return p;
}

void eng_progress_free(eng_progress *p) { free(p); }

void eng_progress_begin(eng_progress *p, const char *label, int64_t estimate)
{
    snprintf(p->label, sizeof p->label, "%s", label);
    p->estimate = estimate;
    p->start = p->last_draw = eng_now();
    p->rows = p->docs = 0;
    p->next_line = p->every;
}

static void fmt_eta(char *out, size_t n, double secs)
{
    if (secs < 0 || secs > 360000) {
        snprintf(out, n, "--:--");
        return;
    }
    int s = (int)secs;
    if (s >= 3600)
        snprintf(out, n, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, n, "%02d:%02d", s / 60, s % 60);
}

static void draw(eng_progress *p, double now, int final)
{
    double el = now - p->start;
    double rate = el > 0 ? (double)p->rows / el : 0;
    if (p->tty) {
        char bar[31], eta[32];
        double frac = p->estimate > 0 ? (double)p->rows / (double)p->estimate : -1;
        if (frac > 1) frac = 1;
        int fill = frac >= 0 ? (int)(frac * 30) : 0;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : (frac < 0 ? '?' : '.');
        bar[30] = '\0';
        if (final)
            fmt_eta(eta, sizeof eta, el);
        else
            fmt_eta(eta, sizeof eta, frac > 0 && rate > 0 ? ((double)p->estimate - (double)p->rows) / rate : -1);
        fprintf(p->out, "\r\033[K%-24.24s [%s] %10llu rows %9.0f rows/s %s %s", p->label, bar,
                (unsigned long long)p->rows, rate, final ? "in" : "ETA", eta);
        if (final) fputc('\n', p->out);
    } else {
        fprintf(p->out, "%s: %llu rows, %llu documents, %.0f rows/s%s\n", p->label,
                (unsigned long long)p->rows, (unsigned long long)p->docs, rate,
                final ? " (done)" : "");
    }
    fflush(p->out);
}

void eng_progress_update(eng_progress *p, uint64_t rows, uint64_t docs)
{
    p->rows = rows;
    p->docs = docs;
    if (p->quiet) return;
    if (p->tty) {
        if ((rows & 1023) != 0) return;
        double now = eng_now();
        if (now - p->last_draw < 0.2) return;
        p->last_draw = now;
        draw(p, now, 0);
    } else if (rows >= p->next_line) {
        /* plain lines: every `every` rows, but at most one per second */
        double now = eng_now();
        p->next_line = rows + p->every;
        if (now - p->last_draw < 1.0) return;
        p->last_draw = now;
        draw(p, now, 0);
    }
}

void eng_progress_end(eng_progress *p, uint64_t rows, uint64_t docs)
{
    p->rows = rows;
    p->docs = docs;
    if (!p->quiet) draw(p, eng_now(), 1);
}
