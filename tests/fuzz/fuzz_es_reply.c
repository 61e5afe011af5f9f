/* fuzz_es_reply.c - libFuzzer target for what the sink reads from the
 * cluster (sinks/es_reply.c): the _bulk reply parser, the action-line
 * parser, the GET / banner parser, scroll pages, error replies and the
 * mapping comparison.
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
    (void)es_version_parse(text, size, NULL, &v, d);
    (void)es_version_parse(text, size, "Elasticsearch", &v, d);
    es_op op;
    char id[ES_ID_MAX + 1];
    int has_id = 0;
    if (es_action_parse(text, size, &op, id, sizeof id, &has_id) == 0 && has_id == 1 &&
        strlen(id) >= sizeof id)
        abort();
    char why[300];
    es_error_reason(text, size, why, sizeof why);
    int64_t num = 0;
    (void)es_reply_number(text, size, "count", &num);
    es_page pg;
    memset(&pg, 0, sizeof pg);
    if (es_page_parse(text, size, &pg, d) == 0) {
        const char *pid;
        size_t plen;
        size_t k = 0;
        while (es_page_next(&pg, &pid, &plen)) {
            if (strlen(pid) != plen) abort();
            k++;
        }
        if (k != pg.n) abort();
    }
    es_page_free(&pg);

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
