/* arena.h - region allocator with cleanup callbacks (PostgreSQL memory contexts).
 *
 * Used by every stage: the plan arena lives until the plan is freed, the run
 * arena for one sync, the batch arena is reset after each bulk request.
 * Allocations are zeroed. Cleanup callbacks run in reverse order of
 * registration on arena_reset() and arena_free(). With -DARENA_DEBUG every
 * allocation is its own malloc so that ASan/valgrind see overruns.
 */
#ifndef SQL2ES_ARENA_H
#define SQL2ES_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena;

/* New empty arena; NULL on out-of-memory. */
arena *arena_new(void);
/* Run cleanups (reverse order), release all memory. NULL is a no-op. */
void arena_free(arena *a);
/* Run cleanups and forget all allocations, keeping one block for reuse. */
void arena_reset(arena *a);

/* Zeroed, 16-byte aligned memory owned by the arena. Aborts on OOM
 * (an allocation failure of a few KB is not recoverable for a CLI tool). */
void *arena_alloc(arena *a, size_t n);
/* Grow a previous arena_alloc'ed block (copies; old block stays until reset). */
void *arena_realloc(arena *a, void *old, size_t oldn, size_t newn);
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap);

/* Register fn(arg) to run when the arena is reset or freed. Returns 0. */
int arena_on_free(arena *a, void (*fn)(void *), void *arg);

/* Bytes handed out since creation or last reset (for benchmarks and limits). */
size_t arena_used(const arena *a);

#endif
