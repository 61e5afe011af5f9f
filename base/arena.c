/* arena.c - region allocator; see arena.h. Blocks are chained; large
 * requests get a block of their own. */
#include "base/arena.h"

#include "base/fault.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (64 * 1024)
#define ALIGN 16

typedef struct block {
    struct block *next;
    size_t cap, used;
    /* payload follows, aligned */
} block;

typedef struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *arg;
} cleanup;

struct arena {
    block *head;
    cleanup *cleanups;
    size_t total;
};

static size_t hdr_size(void) { return (sizeof(block) + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

/* Out of memory: a run-time failure with a message (exit 1), not a crash. */
static void oom(void)
{
    fputs("sql2es: out of memory\n", stderr);
    exit(1);
}

/* malloc, or NULL when SQL2ES_FAULT=alloc:N says this one fails. */
static void *block_malloc(size_t n) { return fault_hit(FAULT_ALLOC) ? NULL : malloc(n); }

arena *arena_new(void)
{
    arena *a = calloc(1, sizeof *a);
    return a;
}

static void run_cleanups(arena *a)
{
    while (a->cleanups) {
        cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->arg);
        free(c);
    }
}

void arena_free(arena *a)
{
    if (!a) return;
    run_cleanups(a);
    for (block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void arena_reset(arena *a)
{
    run_cleanups(a);
    block *keep = NULL;
    for (block *b = a->head, *n; b; b = n) {
        n = b->next;
        if (!keep && b->cap == BLOCK_SIZE) {
            keep = b;
            keep->used = 0;
            keep->next = NULL;
        } else {
            free(b);
        }
    }
    a->head = keep;
    a->total = 0;
}

void *arena_alloc(arena *a, size_t n)
{
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < n) oom();
    a->total += need;
#ifdef ARENA_DEBUG
    {
        block *b = block_malloc(hdr_size() + (need ? need : ALIGN));
        if (!b) oom();
        b->cap = b->used = need;
        b->next = a->head;
        a->head = b;
        void *p = (char *)b + hdr_size();
        memset(p, 0, need ? need : ALIGN);
        return p;
    }
#else
    block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > BLOCK_SIZE / 4 ? need : BLOCK_SIZE;
        block *nb = block_malloc(hdr_size() + cap);
        if (!nb) oom();
        nb->cap = cap;
        nb->used = 0;
        if (cap == BLOCK_SIZE || !b) {
            nb->next = b;
            a->head = nb;
        } else {
            /* dedicated big block: keep the current block as the bump target */
            nb->next = b->next;
            b->next = nb;
        }
        b = nb;
    }
    void *p = (char *)b + hdr_size() + b->used;
    b->used += need;
    memset(p, 0, need);
    return p;
#endif
}

void *arena_realloc(arena *a, void *old, size_t oldn, size_t newn)
{
    void *p = arena_alloc(a, newn);
    if (old && oldn) memcpy(p, old, oldn < newn ? oldn : newn);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_vprintf(arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

int arena_on_free(arena *a, void (*fn)(void *), void *arg)
{
    cleanup *c = malloc(sizeof *c);
    if (!c) oom();
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}

size_t arena_used(const arena *a) { return a->total; }
