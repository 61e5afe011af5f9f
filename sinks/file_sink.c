/* file_sink.c - the `--dry-run` sink (sink.h): each item's bytes go to a
 * stream as they come, so the output is the exact _bulk body a real run
 * would send. It acknowledges nothing (no watermark moves), creates no
 * index and cannot list ids (no sweep).
 *
 * Stage: documents -> file. */
#include <stdlib.h>

#include "sinks/sink.h"

typedef struct file_sink {
    sink base;
    FILE *out;
    uint64_t last_seq, items;
    sink_ack_fn ack;
    void *ack_ctx;
} file_sink;

static int write_error(sink *s)
{
    diag_error(s->d, (src_loc){0}, "cannot write the dry-run output");
    return DIAG_EIO;
}

static int file_add(sink *s, const char *item, size_t len, const sink_meta *m)
{
    file_sink *f = (file_sink *)s;
    f->last_seq = m->seq;
    f->items++;
    return fwrite(item, 1, len, f->out) == len ? 0 : write_error(s);
}

static int file_flush(sink *s)
{
    file_sink *f = (file_sink *)s;
    int rc = fflush(f->out) == 0 ? 0 : write_error(s);
    if (rc == 0 && f->ack) f->ack(f->ack_ctx, f->last_seq);
    return rc;
}

static void file_stats(const sink *s, sink_stats *st)
{
    (void)s;
    st->indexed = st->deleted = st->failed = st->retried = 0;
}

static int file_finish(sink *s, sink_stats *st)
{
    if (st) file_stats(s, st);
    return file_flush(s);
}

static void file_set_ack(sink *s, sink_ack_fn fn, void *ctx)
{
    ((file_sink *)s)->ack = fn;
    ((file_sink *)s)->ack_ctx = ctx;
}

static void file_free(sink *s) { free(s); }

static const sink_ops file_ops = {
    SINK_VERSION, "file", 0, file_add, file_flush, file_finish, file_stats, file_set_ack,
    file_free, NULL, NULL, NULL,
};

sink *sink_file_new(FILE *out, diag *d)
{
    file_sink *f = calloc(1, sizeof *f);
    if (!f) abort();
    f->base.ops = &file_ops;
    f->base.d = d;
    f->out = out;
    return &f->base;
}
