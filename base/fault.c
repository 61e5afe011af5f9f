/* fault.c - fault injection; see fault.h. The switches are read from the
 * environment once, on the first check. */
#include "base/fault.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[FAULT_NKINDS] = {"alloc", "driver", "http"};
static _Atomic uint64_t counts[FAULT_NKINDS];
static uint64_t at[FAULT_NKINDS];
static int sticky[FAULT_NKINDS];
static atomic_int state; /* 0: environment not read, 1: off, 2: on */

static void report(void)
{
    fprintf(stderr, "sql2es: fault counts: alloc=%llu driver=%llu http=%llu\n",
            (unsigned long long)counts[FAULT_ALLOC], (unsigned long long)counts[FAULT_DRIVER],
            (unsigned long long)counts[FAULT_HTTP]);
}

static void read_env(void)
{
    const char *s = getenv("SQL2ES_FAULT");
    /* set at all: count (for fault_count and the walk tests) */
    int on = s && *s;
    while (s && *s) {
        if (strncmp(s, "count", 5) == 0) atexit(report);
        for (int k = 0; k < FAULT_NKINDS; k++) {
            size_t n = strlen(names[k]);
            if (strncmp(s, names[k], n) == 0 && s[n] == ':') {
                char *end;
                at[k] = strtoull(s + n + 1, &end, 10);
                sticky[k] = *end == '+';
            }
        }
        s = strchr(s, ',');
        if (s) s++;
    }
    atomic_store(&state, on ? 2 : 1);
}

int fault_hit(fault_kind k)
{
    int st = atomic_load_explicit(&state, memory_order_relaxed);
    if (st == 0) {
        read_env();
        st = atomic_load(&state);
    }
    if (st == 1) return 0;
    uint64_t n = atomic_fetch_add(&counts[k], 1) + 1;
    return at[k] && (n == at[k] || (sticky[k] && n > at[k]));
}

void fault_set(fault_kind k, uint64_t n, int is_sticky)
{
    if (atomic_load(&state) == 0) read_env();
    at[k] = n;
    sticky[k] = is_sticky;
    atomic_store(&counts[k], 0);
    atomic_store(&state, 2);
}

uint64_t fault_count(fault_kind k) { return atomic_load(&counts[k]); }
