/* fuzz_compile.c - libFuzzer target for the configuration compiler: any
 * bytes go through load -> check -> lower, and every path must release what
 * it allocated (ASan/LSan) and never read out of bounds. Built and run by
 * tests/fuzz/run.sh against the compiler-only sources (no database client):
 * the driver table handed to the compiler is a stand-in dialect under every
 * service_type of the language, so push-down and the connectors' document
 * shapes are exercised too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dsl/dsl.h"
#include "dsl/schema.h"
#include "plan/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int quote(buf *o, const char *s)
{
    buf_putc(o, '"');
    for (; *s; s++) {
        if (*s == '"') buf_putc(o, '"');
        buf_putc(o, *s);
    }
    return buf_putc(o, '"');
}

static int ph(buf *o, int n) { return buf_printf(o, "$%d", n); }

static int match(buf *o, src_text_op op, const char *col, const char *param)
{
    if (op == SRC_TEXT_ENDS_WITH) return 0;
    if (o) buf_printf(o, "%s = %s", col, param);
    return 1;
}

static const char *const fields[] = {"$table", "Table", NULL};
static const src_compat_docs raw = {.id = "{{ $table }}_{{ $pk }}", .fields = fields};
static const src_compat_docs prefixed = {.id = "{{ $database }}_{{ $table }}_{{ $pk }}",
                                         .prefix = "{{ $schema }}_{{ $table }}_", .lower = 1};

static src_driver dialects[16];
static const src_driver *table[17];

static void init_table(void)
{
    const dsl_schema *s = dsl_schema_get(NULL);
    for (size_t i = 0; s && i < s->nservices && i < 16; i++) {
        src_driver *d = &dialects[i];
        d->version = SRC_DRIVER_VERSION;
        d->name = s->services[i].name;
        d->aliases = s->services[i].aliases;
        d->caps = i % 2 ? 0 : SRC_CAP_SCHEMA;
        d->compat = i % 2 ? &raw : &prefixed;
        d->quote_ident = quote;
        d->placeholder = ph;
        d->text_match = i % 3 == 1 ? NULL : match;
        table[i] = d;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!table[0]) init_table();
    diag *d = diag_new();
    plan *p = dsl_compile_string("fuzz.yml", (const char *)data, size, table, d);
    if (p) {
        /* print to a null sink: exercises the printer on every plan */
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) {
            plan_print(p, devnull, PLAN_FMT_TEXT, NULL, NULL);
            plan_print(p, devnull, PLAN_FMT_JSON, NULL, NULL);
            fclose(devnull);
        }
    }
    plan_free(p);
    diag_free(d);
    return 0;
}
