/* fuzz_compile.c - libFuzzer target for the configuration compiler: any
 * bytes go through load -> check -> lower, and every path must release what
 * it allocated (ASan/LSan) and never read out of bounds. Built and run by
 * tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>

#include "dsl/dsl.h"
#include "plan/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    diag *d = diag_new();
    plan *p = dsl_compile_string("fuzz.yml", (const char *)data, size, d);
    if (p) {
        /* print to a null sink: exercises the printer on every plan */
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) {
            plan_print(p, devnull, PLAN_FMT_TEXT, NULL);
            plan_print(p, devnull, PLAN_FMT_JSON, NULL);
            fclose(devnull);
        }
    }
    plan_free(p);
    diag_free(d);
    return 0;
}
