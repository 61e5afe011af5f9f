/* fuzz_es_reply.c - libFuzzer target for what the sink reads from the
 * cluster (engine/es_bulk.c, engine/es_client.c, engine/es_index.c): the
 * _bulk reply parser, the GET / version parser and the mapping comparison.
 *
 * Any reply must parse or be refused with a message: no crash, no leak, no
 * out-of-bounds write into the caller's result array (cap is kept small so
 * that replies with more items than sent are exercised).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "sinks/es.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    diag *d = diag_new();
    es_item_result r[3];
    int errors = 0;
    int n = es_bulk_parse_reply(text, size, r, 3, &errors, d);
    if (n > 0) {
        for (int i = 0; i < n && i < 3; i++) {
            /* every field is a terminated string */
            if (strlen(r[i].result) >= sizeof r[i].result ||
                strlen(r[i].err_type) >= sizeof r[i].err_type ||
                strlen(r[i].err_reason) >= sizeof r[i].err_reason)
                abort();
        }
    }
    es_version v;
    (void)es_version_parse(text, size, &v, d);

    /* mapping comparison: the input split at the first NUL into the index's
     * mapping and the plan's (both NUL-terminated copies). */
    const char *nul = memchr(text, '\0', size);
    if (nul) {
        size_t a = (size_t)(nul - text);
        char *have = malloc(a + 1), *want = malloc(size - a);
        memcpy(have, text, a);
        have[a] = '\0';
        memcpy(want, nul + 1, size - a - 1);
        want[size - a - 1] = '\0';
        char *add = NULL;
        int nadd = 0;
        (void)es_mapping_diff(have, want, &add, &nadd, d);
        free(add);
        free(have);
        free(want);
    }
    diag_free(d);
    return 0;
}
