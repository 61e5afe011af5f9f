/* t.h - minimal TAP-style assertions for unit tests. Each test binary prints
 * "ok - name" / "not ok - name" lines (counted by tests/run.sh) and exits
 * non-zero when anything failed. main() starts with T_PLAN(N), the number of
 * checks it runs: it prints the TAP plan line "1..N", which tests/run.sh
 * compares with the checks that ran (a crash mid-binary fails the suite), and
 * T_DONE() fails when a different number ran. */
#ifndef SQL2ES_T_H
#define SQL2ES_T_H

#include <stdio.h>
#include <string.h>

static int t_failed, t_count, t_planned = -1;

/* T_PLAN(n): this binary runs n checks; call once, first thing in main(). */
#define T_PLAN(n) (t_planned = (n), printf("1..%d\n", t_planned), fflush(stdout))

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

static inline int t_done(void)
{
    if (t_count == 0) {
        printf("not ok - no assertions\n");
        return 1;
    }
    if (t_planned < 0) {
        printf("not ok - no plan: main() must start with T_PLAN(%d)\n", t_count);
        return 1;
    }
    if (t_count != t_planned) {
        printf("not ok - planned %d checks, ran %d (update T_PLAN when adding checks)\n",
               t_planned, t_count);
        return 1;
    }
    return t_failed ? 1 : 0;
}
#define T_DONE() t_done()

#endif
