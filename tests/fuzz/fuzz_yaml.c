/* fuzz_yaml.c - libFuzzer target for the YAML loader (dsl/yaml.c).
 *
 * Any input must load or fail with messages: no crash, no leak, no unbounded
 * time or memory (aliases, nesting and size are bounded by dsl_limits; the
 * limits are lowered here so that the fuzzer explores them quickly).
 * Also exercises dsl_merge and the scalar conversions on the result.
 */
#include <stddef.h>
#include <stdint.h>

#include "dsl/node.h"
#include "base/arena.h"
#include "base/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(arena *a, const dsl_node *n, int depth)
{
    if (!n || depth > 200) return;
    if (n->kind == DSL_SCALAR) {
        int b;
        long long i;
        double d;
        (void)dsl_as_bool(n, &b);
        (void)dsl_as_int(n, &i);
        (void)dsl_as_double(n, &d);
        return;
    }
    for (size_t k = 0; k < n->n && k < 64; k++) {
        if (n->kind == DSL_MAP) (void)dsl_map_get(n, n->keys[k]->str);
        walk(a, n->items[k], depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena *a = arena_new();
    diag *d = diag_new();
    dsl_limits lim = {64, 100000, 1 << 20};
    dsl_node *root = dsl_load_string(a, d, "fuzz.yml", (const char *)data, size, &lim);
    if (root) {
        walk(a, root, 0);
        (void)dsl_merge(a, root, root);
    }
    diag_free(d);
    arena_free(a);
    return 0;
}
