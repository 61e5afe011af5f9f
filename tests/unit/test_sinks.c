/* test_sinks.c - the two sinks that need no cluster (sinks/file_sink.c, the
 * --dry-run output; sinks/mem_sink.c, the in-memory cluster of the tests):
 * acknowledgements, write errors, items that are not bulk items. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "sinks/sink.h"
#include "t.h"

static uint64_t acked_upto;
static int acks;
static void on_ack(void *ctx, uint64_t upto)
{
    (void)ctx;
    acked_upto = upto;
    acks++;
}

static const char item1[] = "{\"index\":{\"_index\":\"ix\",\"_id\":\"1\"}}\n{\"a\":1}\n";
static const char item2[] = "{\"delete\":{\"_index\":\"ix\",\"_id\":\"1\"}}\n";

int main(void)
{
    T_PLAN(14);
    diag *d = diag_new();

    /* ---- file sink */
    char *out = NULL;
    size_t outn = 0;
    FILE *f = open_memstream(&out, &outn);
    sink *s = sink_file_new(f, d);
    s->ops->set_ack(s, on_ack, NULL);
    sink_meta m = {.seq = 1};
    sink_add(s, item1, strlen(item1), &m);
    m.seq = 2;
    sink_add(s, item2, strlen(item2), &m);
    T_CHECK(sink_flush(s) == 0 && acks == 1 && acked_upto == 2 && outn == strlen(item1) + strlen(item2) &&
                !memcmp(out, item1, strlen(item1)),
            "file: the bytes as added; flush reports every item settled");
    sink_stats st = {1, 1, 1, 1};
    T_CHECK(sink_finish(s, &st) == 0 && st.indexed == 0 && st.deleted == 0 && st.failed == 0 &&
                st.retried == 0 && acks == 2,
            "file: finish flushes, counts nothing (nothing acknowledged by a cluster)");
    T_CHECK(!sink_acknowledges(s) && !sink_has_indices(s) && !sink_can_list(s),
            "file: no acknowledgements, no indices, no listing");
    sink_free(s);
    fclose(f);
    free(out);

    FILE *full = fopen("/dev/full", "w");
    T_CHECK(full != NULL, "/dev/full opens");
    if (full) {
        setvbuf(full, NULL, _IONBF, 0);
        s = sink_file_new(full, d);
        s->ops->set_ack(s, on_ack, NULL);
        acks = 0;
        m.seq = 3;
        T_CHECK(sink_add(s, item1, strlen(item1), &m) == DIAG_EIO &&
                    !strcmp(diag_last(d), "cannot write the dry-run output"),
                "file: a write error is an error");
        sink_free(s);
        fclose(full);
        full = fopen("/dev/full", "w"); /* buffered: the bytes fail at flush */
        s = sink_file_new(full, d);
        s->ops->set_ack(s, on_ack, NULL);
        T_CHECK(sink_add(s, item1, strlen(item1), &m) == 0 && sink_flush(s) == DIAG_EIO && acks == 0,
                "file: a failed flush acknowledges nothing");
        sink_add(s, item1, strlen(item1), &m);
        T_CHECK(sink_finish(s, NULL) == DIAG_EIO, "file: finish without stats, failing");
        sink_free(s);
        fclose(full);
    } else {
        T_CHECK(0, "file: a write error is an error");
        T_CHECK(0, "file: a failed flush acknowledges nothing");
        T_CHECK(0, "file: finish without stats, failing");
    }

    /* ---- memory sink */
    sink_mem_store *ms = sink_mem_store_new();
    s = sink_mem_new(ms, d);
    s->ops->set_ack(s, on_ack, NULL);
    acks = 0;
    m.seq = 10;
    sink_add(s, item1, strlen(item1), &m);
    T_CHECK(sink_flush(s) == 0 && acks == 1 && acked_upto == 10 && sink_mem_acked(ms) == 1 &&
                sink_mem_count(ms, "ix") == 1 && !strcmp(sink_mem_get(ms, "ix", "1"), "{\"a\":1}"),
            "memory: an item applied and acknowledged at flush");
    T_CHECK(sink_flush(s) == 0 && acks == 1, "memory: an empty flush acknowledges nothing");
    const char *noid = "{\"index\":{\"_index\":\"ix\"}}\n{}\n";
    m.seq = 11;
    sink_add(s, noid, strlen(noid), &m);
    T_CHECK(sink_flush(s) == DIAG_EINVAL && !strcmp(diag_last(d), "memory sink: action without _index or _id") &&
                acks == 1,
            "memory: an action without _id is refused");
    m.seq = 14;
    T_CHECK(sink_add(s, item1, strlen(item1), &m) == DIAG_EINVAL, "memory: a failed sink stays failed");
    sink_free(s);
    s = sink_mem_new(ms, d);
    const char *notact = "[1]\n{}\n";
    m.seq = 12;
    sink_add(s, notact, strlen(notact), &m);
    T_CHECK(sink_flush(s) == DIAG_EINVAL && !strcmp(diag_last(d), "memory sink: not a bulk action: [1]"),
            "memory: a line that is not an action is refused");
    sink_free(s);
    s = sink_mem_new(ms, d);
    const char *onlyline = "{\"delete\":{\"_index\":\"ix\",\"_id\":\"1\"}}";
    m.seq = 13;
    sink_add(s, onlyline, strlen(onlyline), &m);
    T_CHECK(sink_flush(s) == 0 && sink_mem_count(ms, "ix") == 0 && sink_mem_get(ms, "ix", "1") == NULL,
            "memory: a delete line without a newline");
    T_CHECK(!sink_mem_has_index(ms, "nope") && sink_mem_count(ms, "nope") == 0, "memory: an unknown index");
    sink_free(s);
    sink_mem_store_free(ms);
    sink_mem_store_free(NULL);
    diag_free(d);
    return T_DONE();
}
