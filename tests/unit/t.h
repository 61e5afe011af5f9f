/* t.h - minimal TAP-style assertions for unit tests. Each test binary prints
 * "ok - name" / "not ok - name" lines (counted by tests/run.sh) and exits
 * non-zero when anything failed. */
#ifndef SQL2ES_T_H
#define SQL2ES_T_H

#include <stdio.h>
#include <string.h>

static int t_failed, t_count;

#define T_CHECK(cond, name)                                                              \
    do {                                                                                 \
        t_count++;                                                                       \
        if (cond) {                                                                      \
            printf("ok - %s\n", name);                                                   \
        } else {                                                                         \
            t_failed++;                                                                  \
            printf("not ok - %s (%s:%d: %s)\n", name, __FILE__, __LINE__, #cond);        \
        }                                                                                \
    } while (0)

#define T_STREQ(got, want, name)                                                         \
    do {                                                                                 \
        const char *g_ = (got), *w_ = (want);                                            \
        t_count++;                                                                       \
        if (g_ && w_ && strcmp(g_, w_) == 0) {                                           \
            printf("ok - %s\n", name);                                                   \
        } else {                                                                         \
            t_failed++;                                                                  \
            printf("not ok - %s (%s:%d)\n#   got:  %s\n#   want: %s\n", name, __FILE__,  \
                   __LINE__, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                    \
        }                                                                                \
    } while (0)

#define T_DONE() (t_count == 0 ? (printf("not ok - no assertions\n"), 1) : (t_failed ? 1 : 0))

#endif
