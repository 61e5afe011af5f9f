/* validate_only.c - `sql2es validate -c FILE` built from the compiler-only
 * archive (build/libsql2es_compiler.a: base, plan, dsl, the language, the
 * driver interface's helpers), linked with libyaml and PCRE2 alone - no
 * database client, no HTTP, no JSON library. It compiles without a driver
 * table (nothing pushed down), prints what `sql2es validate` prints and
 * exits the same way (0 valid, 2 invalid); suite 13-compiler compares the
 * two on every golden case and example. Built by `make compiler`. */
#include <stdio.h>

#include "dsl/dsl.h"
#include "plan/plan.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: validate_only FILE\n", stderr);
        return 2;
    }
    const char *file = argv[1];
    diag *d = diag_new();
    plan *p = dsl_compile_file(file, NULL, d);
    if (diag_count(d) || diag_errors(d)) diag_print(d, stderr, 0);
    int rc = 2;
    if (p) {
        int ntables = 0;
        for (int i = 0; i < p->nconnectors; i++) ntables += p->connectors[i].ntables;
        printf("%s: valid (%d connector%s, %d table entr%s)\n", file, p->nconnectors,
               p->nconnectors == 1 ? "" : "s", ntables, ntables == 1 ? "y" : "ies");
        /* the printer links too (without a dialect: no SQL lines rendered) */
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            plan_print(p, null, PLAN_FMT_TEXT, NULL, NULL);
            fclose(null);
        }
        rc = 0;
    }
    plan_free(p);
    diag_free(d);
    return rc;
}
