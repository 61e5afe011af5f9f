/* follow.c - `sync --follow`: keep the index current after an initial read.
 *
 * With a change stream (a driver's stream_* slots: PostgreSQL logical
 * replication, the MySQL/MariaDB binlog), a session is: open the stream (a
 * new slot exports a snapshot, which the initial full sync reads: no gap, no
 * double apply),
 * then take changes in commit order and turn each into the lookups it
 * implies - the root rows whose key it names, or, for a table nested through
 * relations, the parent rows whose `on` columns match, climbed level by level
 * up to the root documents. When the stream is idle (or, while documents are
 * in flight, every LINGER_MS; or at APPLY_AT pending tuples) the lookups run, one query per batch of tuples per level, and the root rows
 * they find go through the scan's own row loop (scan.c: relation chunks,
 * the interpreter, rules, deleted_when; a row that stopped passing `where`
 * or a rule becomes a delete); root rows the stream says were deleted become
 * deletes. Rows are re-read, never rebuilt from the stream's images: a
 * document is always what a scan would write now (TOAST values the stream
 * did not send are read from the table), and applying a change twice is
 * harmless. The documents go out at once (sink_push) and the stream is read on
 * while they are in flight; a commit position is acknowledged to the stream
 * and written to the follow state file (the state file's name + "-follow")
 * once the sink reported every item written before it settled. A TRUNCATE or a changed column
 * list re-reads the tables concerned in full, then the session starts again
 * with the tables described anew. Errors end the session; the next one
 * resumes from the last acknowledged position (the slot holds the rest).
 *
 * Without a change stream (SQLite), or with --poll, follow is a loop of
 * incremental syncs every `follow_interval` seconds.
 *
 * Stage: sync. Reads through conn.c and scan.c, whole-table reads through
 * run.c (eng_sync_run); builds no SQL itself (engine/sql.c does). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "sync/internal.h"

#define BATCH 500             /* tuples per lookup query */
#define APPLY_AT 4000         /* pending tuples that start an apply at once (a backlog) */
#define LINGER_MS 100         /* a change waits at most this long to be applied */
#define DRIVE_MS 2            /* requests in flight are driven at least this often */
#define IN_FLIGHT 1000        /* documents sent, not settled, before re-reads wait */
#define SAVE_EVERY_S 1.0      /* the follow state file is written at most this often */
#define RETAINED_WARN (1ull << 30) /* a slot retaining more WAL bytes: a warning */
#define MAX_FAILED_SESSIONS 8 /* sessions in a row that fail without progress: give up */

/* A set of value tuples, deduplicated, kept in insertion order. */
typedef struct tuple_set {
    arena *a;
    const char ***vals;   /* per tuple: ncols values (NULL: SQL NULL) */
    const char **keys;    /* per tuple: the values joined, for the hash */
    int n, cap;
    int *slots;           /* open addressing: 1 + tuple index, 0 free */
    int nslots;
} tuple_set;

typedef struct follow_root follow_root;

/* Rows to find in one table: the root table (rel NULL: by the key columns
 * cols, or by a relation's parent columns), or a relation's parent table
 * that is itself nested (its rows lead one level up). */
typedef struct lookup {
    const eng_bound_relation *rel;    /* the relation whose change leads here; NULL: root keys */
    const eng_bound_relation *parent; /* rel's parent relation, NULL when it is the root */
    const int *cols;                  /* columns matched, in the parent table (or root) */
    int ncols;
    int depth;                        /* of rel (1: child of the root) */
    tuple_set ts;
} lookup;

struct follow_root {
    sync_table_run tr;
    const char *name;
    lookup bykey;                     /* root rows by key */
    tuple_set deleted;                /* keys of root rows deleted (bykey cols) */
    const src_value **delrow;         /* per deleted tuple: its key as a scan gives it
                                       * (in deleted's arena), or NULL: the text */
    int capdel;
    lookup *rels;                     /* per relation slot */
    lookup *far;                      /* per slot of a many-to-many relation: far-table rows
                                       * by the columns that join them to the link table */
    int **far_link, **link_out;       /* per such slot: the link's join columns, and its
                                       * columns equal to the parent's (rel->child_cols) */
    const eng_bound_relation **parent_of;
    int nrels;
    const char *select, *from;
    int flag;                         /* select has the `where` flag column */
    int resync;                       /* at the commit, read the table in full: 1 after a
                                       * TRUNCATE, 2 after new columns (then describe anew) */
};

/* The column list the stream last sent for a table (changes mid-stream). */
typedef struct seen_shape {
    char *table;
    char *cols;
} seen_shape;

/* A commit position, confirmable once every item up to seq is settled. */
typedef struct confirm {
    uint64_t seq;
    char pos[64];
    double time;                      /* its commit time (wall clock; 0: unknown) */
} confirm;

typedef struct follow {
    sync_run *r;
    sync_conn cc;
    arena *a;                         /* the session's */
    arena *scratch;                   /* one change's, one apply's (reset after each) */
    follow_root *roots;
    int nroots;
    int pending;                      /* tuples waiting */
    double first_pending;
    char commit[64];                  /* last commit position seen, not yet acknowledged */
    double commit_time;               /* its commit time (wall clock; 0: caught up, unknown) */
    double lag;                       /* commit to acknowledgement of the last one, seconds */
    char acked[64];
    confirm *confirms;                /* applied, sent, not yet settled: oldest first */
    int nconfirms, confirms_cap;
    uint64_t settled;                 /* every item with seq <= settled is settled */
    double last_save, last_ack, last_push;
    int progress;                     /* something was acknowledged this session */
    seen_shape *shapes;
    int nshapes;
} follow;

/* ------------------------------------------------------------ tuple sets */

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void ts_init(tuple_set *t) { memset(t, 0, sizeof *t); t->a = arena_new(); }

static void ts_reset(tuple_set *t)
{
    t->n = 0;
    t->cap = 0;
    t->vals = NULL;
    t->keys = NULL;
    t->slots = NULL;
    t->nslots = 0;
    arena_reset(t->a);
}

static void ts_free(tuple_set *t) { arena_free(t->a); memset(t, 0, sizeof *t); }

/* Add a tuple (values copied); 1 added, 0 already there. */
static int ts_add(tuple_set *t, const char *const *vals, int ncols)
{
    buf k = BUF_INIT;
    for (int i = 0; i < ncols; i++) {
        if (vals[i]) buf_puts(&k, vals[i]);
        buf_putc(&k, vals[i] ? '\x1f' : '\x1e');
    }
    const char *key = k.data ? k.data : "";
    if (2 * (t->n + 1) > t->nslots) {
        int ns = t->nslots ? 2 * t->nslots : 64;
        int *sl = arena_alloc(t->a, (size_t)ns * sizeof *sl);
        memset(sl, 0, (size_t)ns * sizeof *sl);
        for (int i = 0; i < t->n; i++) {
            unsigned h = hash_str(t->keys[i]) & (unsigned)(ns - 1);
            while (sl[h]) h = (h + 1) & (unsigned)(ns - 1);
            sl[h] = i + 1;
        }
        t->slots = sl;
        t->nslots = ns;
    }
    unsigned h = hash_str(key) & (unsigned)(t->nslots - 1);
    while (t->slots[h]) {
        if (!strcmp(t->keys[t->slots[h] - 1], key)) {
            buf_free(&k);
            return 0;
        }
        h = (h + 1) & (unsigned)(t->nslots - 1);
    }
    if (t->n == t->cap) {
        int nc = t->cap ? 2 * t->cap : 64;
        const char ***nv = arena_alloc(t->a, (size_t)nc * sizeof *nv);
        const char **nk = arena_alloc(t->a, (size_t)nc * sizeof *nk);
        if (t->n) {
            memcpy(nv, t->vals, (size_t)t->n * sizeof *nv);
            memcpy(nk, t->keys, (size_t)t->n * sizeof *nk);
        }
        t->vals = nv;
        t->keys = nk;
        t->cap = nc;
    }
    const char **v = arena_alloc(t->a, (size_t)(ncols + 1) * sizeof *v);
    for (int i = 0; i < ncols; i++) v[i] = vals[i] ? arena_strdup(t->a, vals[i]) : NULL;
    t->vals[t->n] = v;
    t->keys[t->n] = arena_strdup(t->a, key);
    t->slots[h] = ++t->n;
    buf_free(&k);
    return 1;
}

/* ---------------------------------------------------------------- binding */

static int same_table(const src_table *st, const src_change *c)
{
    return st && c->table && !strcmp(st->name, c->table) &&
           (!st->schema || !c->schema || !strcmp(st->schema, c->schema));
}

/* The text of column `name` in the change's row (which: 0 new, 1 old):
 * *out NULL for SQL NULL; returns 0 when the stream did not send it. */
static int change_value(const src_change *c, int which, const char *name, arena *a,
                        const char **out)
{
    const src_value *row = which ? c->old : c->row;
    if (!row) return 0;
    for (int i = 0; i < c->ncols; i++) {
        if (strcmp(c->names[i], name)) continue;
        if (!which && c->unchanged && c->unchanged[i]) return 0;
        *out = row[i].kind == SRC_NULL ? NULL : arena_strndup(a, row[i].p, row[i].n);
        return 1;
    }
    return 0;
}

/* The tuple of st's columns cols from the change (which row); 0 when a value
 * is missing or NULL (a NULL key matches no row). */
static int change_tuple(const src_change *c, int which, const src_table *st, const int *cols,
                        int n, arena *a, const char **out)
{
    for (int i = 0; i < n; i++) {
        if (cols[i] < 0 || cols[i] >= st->ncols) return 0;
        if (!change_value(c, which, st->cols[cols[i]].name, a, &out[i]) || !out[i]) return 0;
    }
    return 1;
}

static void lookup_add(follow *f, lookup *l, const char *const *vals)
{
    if (ts_add(&l->ts, vals, l->ncols)) {
        if (!f->pending) f->first_pending = eng_now();
        f->pending++;
    }
}

static int col_index(const src_table *st, const char *name)
{
    for (int i = 0; i < st->ncols; i++)
        if (!strcmp(st->cols[i].name, name)) return i;
    return -1;
}

/* Which relation holds each relation slot: parent_of[slot] (NULL = root). */
static void map_parents(follow_root *fr, const eng_bound_doc *doc,
                        const eng_bound_relation *parent, int depth)
{
    for (int i = 0; i < doc->doc->nrelations; i++) {
        const eng_bound_relation *br = &doc->rels[i];
        fr->parent_of[br->slot] = parent;
        lookup *l = &fr->rels[br->slot];
        l->rel = br;
        l->parent = parent;
        l->cols = br->parent_on;
        l->ncols = br->rel->non;
        l->depth = depth;
        ts_init(&l->ts);
        ts_init(&fr->far[br->slot].ts);
        if (br->link && br->rel->njoin <= 64 && br->rel->non <= 64) {
            const plan_relation *rel = br->rel;
            lookup *far = &fr->far[br->slot];
            int *fc = calloc((size_t)rel->njoin + 1, sizeof *fc);
            int *fl = calloc((size_t)rel->njoin + 1, sizeof *fl);
            int *lo = calloc((size_t)rel->non + 1, sizeof *lo);
            if (!fc || !fl || !lo) abort();
            int ok = 1;
            for (int m = 0; m < rel->njoin; m++) {
                fc[m] = col_index(br->child, rel->join_child_cols[m]);
                fl[m] = col_index(br->link, rel->join_link_cols[m]);
                ok &= fc[m] >= 0 && fl[m] >= 0;
            }
            for (int m = 0; m < rel->non; m++) {
                lo[m] = col_index(br->link, rel->child_cols[m]);
                ok &= lo[m] >= 0;
            }
            far->cols = fc;
            far->ncols = ok ? rel->njoin : 0;
            fr->far_link[br->slot] = fl;
            fr->link_out[br->slot] = lo;
        }
        map_parents(fr, &br->doc, br, depth + 1);
    }
}

static void root_free(follow_root *fr)
{
    sync_table_run *tr = &fr->tr;
    if (tr->sets)
        for (int i = 0; i < tr->bt->nrel_slots; i++) eng_child_set_free(tr->sets[i]);
    free(tr->sets);
    free(tr->rows_buf);
    arena_free(tr->chunk);
    if (tr->it) {
        const eng_interp_stats *is = eng_interp_stats_get(tr->it);
        tr->cc->r->st->warnings += is->warnings;
        tr->cc->r->st->errors += is->errors;
    }
    eng_interp_free(tr->it);
    buf_free(&tr->key.bytes);
    ts_free(&fr->bykey.ts);
    ts_free(&fr->deleted);
    free(fr->delrow);
    for (int i = 0; i < fr->nrels; i++) {
        ts_free(&fr->rels[i].ts);
        ts_free(&fr->far[i].ts);
        free((void *)fr->far[i].cols);
        free(fr->far_link[i]);
        free(fr->link_out[i]);
    }
    free(fr->rels);
    free(fr->far);
    free(fr->far_link);
    free(fr->link_out);
    free(fr->parent_of);
}

/* Describe and bind the connector's tables; the interpreter and the
 * relation buffers of each (as table.c does for a scan). */
static int bind_roots(follow *f)
{
    sync_run *r = f->r;
    sync_job *jobs = NULL;
    int njobs = 0;
    int rc = sync_resolve_tables(&f->cc, f->a, &jobs, &njobs);
    if (rc) return rc;
    f->roots = calloc((size_t)(njobs ? njobs : 1), sizeof *f->roots);
    if (!f->roots) abort();
    char ts[40];
    sync_iso_now(ts, sizeof ts);
    for (int j = 0; j < njobs && rc == 0; j++) {
        const plan_table *pt = jobs[j].pt;
        if (pt->custom_query) continue; /* refused at start (eng_follow_run) */
        src_table *st = arena_alloc(f->a, sizeof *st);
        rc = sync_describe(&f->cc, pt, jobs[j].name, f->a, st, r->d);
        if (rc) break;
        eng_bound_table *bt = NULL;
        diag *bd = diag_new();
        rc = sync_bind(&f->cc, pt, st, arena_strdup(f->a, ts), f->a, &bt, bd);
        if (rc == DIAG_ENOTFOUND) {
            diag_warning(r->d, pt->loc, "%s > %s: skipped: %s", f->cc.pc->id, jobs[j].name,
                         diag_last(bd));
            rc = 0;
            diag_free(bd);
            continue;
        }
        sync_forward_diag(r->d, bd);
        diag_free(bd);
        if (rc) break;
        follow_root *fr = &f->roots[f->nroots++];
        fr->name = jobs[j].name;
        sync_table_run *tr = &fr->tr;
        tr->cc = &f->cc;
        tr->bt = bt;
        tr->incremental = 1; /* a row that stops passing the rules is a delete */
        tr->it = eng_interp_new(bt, r->d);
        if (!tr->it) abort();
        eng_interp_set_detail(tr->it, r->o->verbose ? -1 : SYNC_DETAILED_WARNINGS);
        if (bt->doc.doc->nrelations > 0) {
            tr->chunk = arena_new();
            tr->rows_buf = calloc(SYNC_CHUNK_ROWS, sizeof *tr->rows_buf);
            tr->sets = calloc((size_t)bt->nrel_slots, sizeof *tr->sets);
            if (!tr->rows_buf || !tr->sets) abort();
            for (int i = 0; i < bt->nrel_slots; i++)
                tr->sets[i] = eng_child_set_new(bt->rel_by_slot[i]);
        }
        fr->bykey.cols = bt->doc.keys;
        fr->bykey.ncols = bt->doc.nkeys;
        ts_init(&fr->bykey.ts);
        ts_init(&fr->deleted);
        fr->nrels = bt->nrel_slots;
        fr->rels = calloc((size_t)(fr->nrels ? fr->nrels : 1), sizeof *fr->rels);
        fr->parent_of = calloc((size_t)(fr->nrels ? fr->nrels : 1), sizeof *fr->parent_of);
        fr->far = calloc((size_t)(fr->nrels ? fr->nrels : 1), sizeof *fr->far);
        fr->far_link = calloc((size_t)(fr->nrels ? fr->nrels : 1), sizeof *fr->far_link);
        fr->link_out = calloc((size_t)(fr->nrels ? fr->nrels : 1), sizeof *fr->link_out);
        if (!fr->rels || !fr->parent_of || !fr->far || !fr->far_link || !fr->link_out) abort();
        map_parents(fr, &bt->doc, NULL, 1);
        fr->select = eng_sql_lookup_select(bt, f->a, &fr->flag);
        fr->from = eng_sql_bound_from(bt, f->a);
        if (fr->flag) tr->where_flag = 0; /* set per query: the flag follows the columns */
    }
    return rc;
}

/* The tables the stream must carry, and those whose old rows must be whole. */
static void stream_tables(follow *f, src_stream_opts *so)
{
    int cap = 0;
    for (int i = 0; i < f->nroots; i++) cap += 1 + 2 * f->roots[i].nrels;
    const char **t = arena_alloc(f->a, (size_t)(cap + 1) * sizeof *t);
    const char **full = arena_alloc(f->a, (size_t)(cap + 1) * sizeof *full);
    int nt = 0, nf = 0;
#define ADD(list, n, name)                                                   \
    do {                                                                     \
        int dup_ = 0;                                                        \
        for (int k_ = 0; k_ < n; k_++) dup_ |= !strcmp(list[k_], name);      \
        if (!dup_) list[n++] = name;                                         \
    } while (0)
    for (int i = 0; i < f->nroots; i++) {
        follow_root *fr = &f->roots[i];
        ADD(t, nt, fr->tr.bt->st->name);
        for (int k = 0; k < fr->nrels; k++) {
            const eng_bound_relation *br = fr->rels[k].rel;
            ADD(t, nt, br->child->name);
            ADD(full, nf, br->child->name);
            if (br->link) {
                ADD(t, nt, br->link->name);
                ADD(full, nf, br->link->name);
            }
        }
    }
#undef ADD
    so->tables = t;
    so->ntables = nt;
    so->full_identity = full;
    so->nfull = nf;
}

/* ------------------------------------------------------------- changes */

/* Whether the stream's columns for a table differ from what was bound (a
 * column the table did not have) or from what it sent before (mid-stream). */
static int shape_changed(follow *f, const src_change *c, const src_table *st)
{
    buf b = BUF_INIT;
    int extra = 0;
    for (int i = 0; i < c->ncols; i++) {
        buf_puts(&b, c->names[i]);
        buf_putc(&b, ',');
        int found = 0;
        for (int k = 0; k < st->ncols && !found; k++) found = !strcmp(st->cols[k].name, c->names[i]);
        extra |= !found;
    }
    const char *cols = b.data ? b.data : "";
    seen_shape *sh = NULL;
    for (int i = 0; i < f->nshapes && !sh; i++)
        if (!strcmp(f->shapes[i].table, c->table)) sh = &f->shapes[i];
    int changed = extra || (sh && strcmp(sh->cols, cols));
    if (!sh) {
        f->shapes = realloc(f->shapes, (size_t)(f->nshapes + 1) * sizeof *f->shapes);
        if (!f->shapes) abort();
        sh = &f->shapes[f->nshapes++];
        sh->table = strdup(c->table);
        sh->cols = NULL;
    }
    free(sh->cols);
    sh->cols = strdup(cols);
    buf_free(&b);
    return changed;
}

/* A deleted root key (w: its text); kept with the values a scan gives for
 * it when the stream has them (old_scan): its document's _id is the one the
 * scan computed ('true', not 't'; ISO 8601 dates; bytea as bytes). */
static void keep_deleted(follow_root *fr, const src_change *c, const char *const *w)
{
    const eng_bound_table *bt = fr->tr.bt;
    int nk = bt->doc.nkeys;
    tuple_set *t = &fr->deleted;
    if (!ts_add(t, w, nk)) return;
    int i = t->n - 1;
    if (i >= fr->capdel) {
        int cap = t->cap > i ? t->cap : i + 1;
        const src_value **g = realloc(fr->delrow, (size_t)cap * sizeof *g);
        if (!g) abort();
        fr->delrow = g;
        fr->capdel = cap;
    }
    fr->delrow[i] = NULL;
    if (!c->old_scan) return;
    src_value *v = arena_alloc(t->a, (size_t)nk * sizeof *v);
    for (int k = 0; k < nk; k++) {
        const char *name = bt->st->cols[bt->doc.keys[k]].name;
        int j = 0;
        while (j < c->ncols && strcmp(c->names[j], name)) j++;
        if (j == c->ncols || c->old_scan[j].kind == SRC_NULL) return;
        const src_value *x = &c->old_scan[j];
        v[k] = (src_value){x->kind, arena_strndup(t->a, x->p, x->n), x->n};
    }
    fr->delrow[i] = v;
}

/* Turn one row change into lookups (and root deletes). */
static void take_change(follow *f, const src_change *c)
{
    arena *a = f->scratch;
    const char *v[64], *w[64];
    for (int i = 0; i < f->nroots; i++) {
        follow_root *fr = &f->roots[i];
        const eng_bound_table *bt = fr->tr.bt;
        if (c->kind == SRC_CHANGE_TRUNCATE || c->kind == SRC_CHANGE_RELATION) {
            /* a TRUNCATE (1), or new columns (2: the tables are described anew) */
            int trunc = c->kind == SRC_CHANGE_TRUNCATE ? 1 : 2;
            int hit = same_table(bt->st, c) && (trunc == 1 || shape_changed(f, c, bt->st));
            for (int k = 0; k < fr->nrels && !hit; k++) {
                const eng_bound_relation *br = fr->rels[k].rel;
                if (same_table(br->child, c))
                    hit = trunc == 1 || shape_changed(f, c, br->child);
                else if (br->link && same_table(br->link, c))
                    hit = trunc == 1 || shape_changed(f, c, br->link);
            }
            if (hit && fr->resync < trunc) fr->resync = trunc;
            continue;
        }
        int nk = bt->doc.nkeys;
        if (same_table(bt->st, c) && nk <= 64) {
            int hn = c->row && change_tuple(c, 0, bt->st, bt->doc.keys, nk, a, v);
            int ho = c->old && change_tuple(c, 1, bt->st, bt->doc.keys, nk, a, w);
            if (hn) lookup_add(f, &fr->bykey, v);
            if (ho) {
                int same = hn;
                for (int k = 0; k < nk && same; k++) same = !strcmp(v[k], w[k]);
                /* deleted, or its key changed: the old document goes (and a
                 * row back under that key is found by the re-read) */
                if (!same && (c->kind == SRC_CHANGE_DELETE || c->kind == SRC_CHANGE_UPDATE)) {
                    keep_deleted(fr, c, w);
                    lookup_add(f, &fr->bykey, w);
                }
            }
        }
        for (int k = 0; k < fr->nrels; k++) {
            lookup *l = &fr->rels[k];
            const eng_bound_relation *br = l->rel;
            const src_table *t = NULL;
            const int *cols = NULL;
            int ncols = br->rel->non;
            int tmp[16];
            if (ncols > 16) continue;
            if (br->link && same_table(br->child, c) && fr->far[k].ncols > 0) {
                /* many-to-many: a far-table row; its link rows lead on */
                lookup *far = &fr->far[k];
                if (c->row && change_tuple(c, 0, br->child, far->cols, far->ncols, a, v))
                    lookup_add(f, far, v);
                if (c->old && change_tuple(c, 1, br->child, far->cols, far->ncols, a, w))
                    lookup_add(f, far, w);
            }
            if (!br->link && same_table(br->child, c)) {
                t = br->child;
                cols = br->child_on;
            } else if (br->link && same_table(br->link, c)) {
                /* many-to-many: the link table's own columns lead to the parent */
                t = br->link;
                int ok = 1;
                for (int m = 0; m < ncols; m++) {
                    tmp[m] = -1;
                    for (int q = 0; q < t->ncols; q++)
                        if (!strcmp(t->cols[q].name, br->rel->child_cols[m])) tmp[m] = q;
                    ok &= tmp[m] >= 0;
                }
                if (ok) cols = tmp;
                else t = NULL;
            }
            if (!t) continue;
            if (c->row && change_tuple(c, 0, t, cols, ncols, a, v)) lookup_add(f, l, v);
            if (c->old && change_tuple(c, 1, t, cols, ncols, a, w)) lookup_add(f, l, w);
        }
    }
}

/* -------------------------------------------------------------- applying */

static int emit_item(sync_run *r, const eng_bound_table *bt, const eng_doc_result *res)
{
    if (r->item.len == 0) return 0;
    sink_meta meta = {++r->seq, NULL, bt->conn->id, bt->st->name, res->id, res->idlen};
    return sink_add(r->sink, r->item.data, r->item.len, &meta);
}

/* Deletes of the root rows the stream said are gone. */
static int apply_deletes(follow *f, follow_root *fr)
{
    sync_run *r = f->r;
    const eng_bound_table *bt = fr->tr.bt;
    int rc = 0;
    src_value *row = arena_alloc(f->scratch, ((size_t)bt->st->ncols + 2) * sizeof *row);
    for (int t = 0; t < fr->deleted.n && rc == 0; t++) {
        memset(row, 0, ((size_t)bt->st->ncols + 2) * sizeof *row);
        for (int k = 0; k < bt->doc.nkeys; k++) {
            const char *s = fr->deleted.vals[t][k];
            row[bt->doc.keys[k]] = fr->delrow[t] ? fr->delrow[t][k]
                                                 : (src_value){SRC_STRING, s, strlen(s)};
        }
        eng_doc_result res;
        buf_reset(&r->item);
        rc = eng_write_delete(fr->tr.it, row, &r->item, &res);
        if (rc == 0) {
            fr->tr.deletes++;
            rc = emit_item(r, bt, &res);
        }
    }
    ts_reset(&fr->deleted);
    return rc;
}

/* Run the lookup of tuples against the root table: its rows become documents. */
static int query_root(follow_root *fr, const int *cols, int ncols, const tuple_set *ts)
{
    const eng_bound_table *bt = fr->tr.bt;
    int rc = 0;
    for (int off = 0; off < ts->n && rc == 0; off += BATCH) {
        int n = ts->n - off < BATCH ? ts->n - off : BATCH;
        arena *qa = arena_new();
        const char *sql = eng_sql_in(qa, bt->driver, fr->select, fr->from, bt->st, cols, ncols, n);
        const char **params = arena_alloc(qa, ((size_t)n * (size_t)ncols + 1) * sizeof *params);
        for (int t = 0; t < n; t++)
            for (int k = 0; k < ncols; k++) params[t * ncols + k] = ts->vals[off + t][k];
        src_query q = {sql, params, n * ncols, bt->conn->source.fetch_size};
        /* the where flag follows the table's columns (and the deleted_when flag) */
        fr->tr.where_flag = fr->flag ? bt->st->ncols + (bt->deleted_col >= 0 ? 1 : 0) + 1 : 0;
        rc = sql ? sync_scan_query(&fr->tr, &q) : DIAG_ENOMEM;
        arena_free(qa);
    }
    return rc;
}

/* The rows of st whose columns match[] equal a tuple of ts: their columns
 * out[0..nout) become tuples of dest (one query per batch). */
static int lead(follow *f, const src_table *st, const int *match, int nmatch, const tuple_set *ts,
                const int *out, int nout, lookup *dest)
{
    sync_run *r = f->r;
    const src_driver *drv = f->cc.pc->driver;
    int rc = 0;
    if (nout > 64 || nmatch <= 0) return 0;
    arena *qa = arena_new();
    char *used = arena_alloc(qa, (size_t)st->ncols + 1);
    memset(used, 0, (size_t)st->ncols + 1);
    for (int k = 0; k < nout; k++) used[out[k]] = 1;
    int *sel = arena_alloc(qa, ((size_t)st->ncols + 1) * sizeof *sel);
    int nsel = 0;
    const char *cols = eng_sql_columns(qa, drv, st, used, sel, &nsel);
    int pos[64];
    for (int k = 0; k < nout; k++)
        for (int m = 0; m < nsel; m++)
            if (sel[m] == out[k]) pos[k] = m;
    const char *from = eng_sql_qualified(qa, drv, st->schema, st->name);
    for (int off = 0; off < ts->n && rc == 0; off += BATCH) {
        int n = ts->n - off < BATCH ? ts->n - off : BATCH;
        const char *sql = eng_sql_in(qa, drv, cols, from, st, match, nmatch, n);
        const char **params = arena_alloc(qa, ((size_t)n * (size_t)nmatch + 1) * sizeof *params);
        for (int t = 0; t < n; t++)
            for (int k = 0; k < nmatch; k++) params[t * nmatch + k] = ts->vals[off + t][k];
        src_query q = {sql, params, n * nmatch, f->cc.pc->source.fetch_size};
        src_scan *s = NULL;
        if (!f->cc.c) sync_open_source(f->cc.pc, &f->cc.c, r->d);
        rc = !sql ? DIAG_ENOMEM
             : f->cc.c ? sync_drv_begin_scan(drv, f->cc.c, &q, &s, r->d) : DIAG_ETRANSIENT;
        const src_value *row;
        while (rc == 0 && (rc = sync_drv_next(drv, s, &row, r->d)) == 1) {
            const char *v[64];
            int ok = 1;
            for (int k = 0; k < nout && ok; k++) {
                const src_value *x = &row[pos[k]];
                buf tb = BUF_INIT;
                if (x->kind == SRC_NULL) ok = 0;
                else eng_value_text(x, &tb);
                v[k] = ok ? arena_strndup(qa, tb.data ? tb.data : "", tb.len) : NULL;
                buf_free(&tb);
            }
            if (ok) lookup_add(f, dest, v);
            rc = 0;
        }
        if (s) drv->end_scan(s);
    }
    arena_free(qa);
    return rc;
}

/* A nested relation's parent rows (one level up): their own `on` values
 * become tuples of the parent relation's lookup - or, when the parent is a
 * many-to-many relation, of its far-table lookup (its link rows next). */
static int climb(follow *f, follow_root *fr, lookup *l)
{
    const eng_bound_relation *p = l->parent;
    if (!p->link)
        return lead(f, p->child, l->cols, l->ncols, &l->ts, p->child_on, p->rel->non,
                    &fr->rels[p->slot]);
    lookup *far = &fr->far[p->slot];
    return lead(f, p->child, l->cols, l->ncols, &l->ts, far->cols, far->ncols, far);
}

/* A many-to-many relation's far rows that changed: the link rows joined to
 * them lead to the parents (the relation's own lookup). */
static int through_link(follow *f, follow_root *fr, int slot)
{
    lookup *far = &fr->far[slot];
    const eng_bound_relation *br = fr->rels[slot].rel;
    return lead(f, br->link, fr->far_link[slot], far->ncols, &far->ts, fr->link_out[slot],
                br->rel->non, &fr->rels[slot]);
}

/* Everything pending, deepest level first, into the sink. */
static int apply(follow *f)
{
    int rc = 0;
    for (int i = 0; i < f->nroots && rc == 0; i++) {
        follow_root *fr = &f->roots[i];
        int maxd = 0;
        for (int k = 0; k < fr->nrels; k++) if (fr->rels[k].depth > maxd) maxd = fr->rels[k].depth;
        for (int d = maxd; d >= 1 && rc == 0; d--) {
            for (int k = 0; k < fr->nrels && rc == 0; k++) {
                if (fr->rels[k].depth != d || !fr->far[k].ts.n) continue;
                rc = through_link(f, fr, k);
                ts_reset(&fr->far[k].ts);
            }
            for (int k = 0; k < fr->nrels && rc == 0 && d >= 2; k++) {
                lookup *l = &fr->rels[k];
                if (l->depth != d || !l->ts.n) continue;
                rc = climb(f, fr, l);
                ts_reset(&l->ts);
            }
        }
        if (rc == 0) rc = apply_deletes(f, fr);
        if (rc == 0 && fr->bykey.ts.n)
            rc = query_root(fr, fr->bykey.cols, fr->bykey.ncols, &fr->bykey.ts);
        ts_reset(&fr->bykey.ts);
        for (int k = 0; k < fr->nrels && rc == 0; k++) {
            lookup *l = &fr->rels[k];
            if (l->depth != 1 || !l->ts.n) continue;
            rc = query_root(fr, l->cols, l->ncols, &l->ts);
            ts_reset(&l->ts);
        }
    }
    f->pending = 0;
    arena_reset(f->scratch);
    return rc;
}

/* ----------------------------------------------------------------- state */

static const char *FOLLOW_KEY = "$follow";

static int state_save(follow *f, eng_state *fs, const char *slot, int force)
{
    double now = eng_now();
    if (!force && now - f->last_save < SAVE_EVERY_S) return 0;
    f->last_save = now;
    const eng_sync_opts *o = f->r->o;
    if (o->on_position) {
        /* served: the position goes to the caller (the connector document) */
        buf b = BUF_INIT;
        buf_puts(&b, "{\"slot\":");
        buf_json_str(&b, slot, strlen(slot), NULL);
        buf_puts(&b, ",\"position\":");
        buf_json_str(&b, f->acked, strlen(f->acked), NULL);
        buf_printf(&b, ",\"lag_seconds\":%.3f}", f->lag);
        if (!b.failed) o->on_position(o->position_ctx, b.data);
        buf_free(&b);
        return 0;
    }
    const char *vals[2] = {slot, f->acked};
    eng_state_set(fs, f->cc.pc->id, FOLLOW_KEY, vals, 2);
    return eng_state_save(fs, f->r->d);
}

/* The sink's acknowledgement callback: every item up to upto is settled. */
static void on_settled(void *ctx, uint64_t upto)
{
    follow *f = ctx;
    if (upto > f->settled) f->settled = upto;
}

/* The last commit read, whose changes are all applied (their items are in
 * the sink): confirmable once the items sent so far are settled. */
static void hold_commit(follow *f)
{
    if (!f->commit[0]) return;
    uint64_t seq = f->r->seq;
    confirm *c = f->nconfirms ? &f->confirms[f->nconfirms - 1] : NULL;
    if (!c || c->seq != seq) {
        if (f->nconfirms == f->confirms_cap) {
            f->confirms_cap = f->confirms_cap ? 2 * f->confirms_cap : 64;
            f->confirms = realloc(f->confirms, (size_t)f->confirms_cap * sizeof *f->confirms);
            if (!f->confirms) abort();
        }
        c = &f->confirms[f->nconfirms++];
        c->seq = seq;
    }
    snprintf(c->pos, sizeof c->pos, "%s", f->commit);
    c->time = f->commit_time;
    f->commit[0] = 0;
}

/* Send what the sink holds without waiting for it (a sink that cannot:
 * flush), and collect what it acknowledged. */
static int send_items(follow *f)
{
    sink *k = f->r->sink;
    f->last_push = eng_now();
    if (sink_push(k) != 0) return DIAG_ETRANSIENT;
    if (!sink_can_push(k) || !sink_acknowledges(k)) f->settled = f->r->seq;
    return 0;
}

/* An apply that failed because the sink failed (the cluster unreachable:
 * its requests went out at once and failed, the next add reports it) ends
 * the session as a transient error: the next one waits for the cluster. */
static int sink_transient(follow *f, int rc)
{
    if (rc && rc != DIAG_ETRANSIENT && f->r->sink && sink_push(f->r->sink) != 0)
        return DIAG_ETRANSIENT;
    return rc;
}

/* Acknowledge the last held commit whose items are all settled (saved
 * first: a session cut short, a lost connection or a long full read that
 * outlived the server's timeout, starts after it anyway). */
static int confirm_settled(follow *f, const src_driver *drv, src_stream *s, eng_state *fs,
                           int force)
{
    int k = 0;
    while (k < f->nconfirms && f->confirms[k].seq <= f->settled) k++;
    if (k == 0) return force ? state_save(f, fs, f->cc.pc->slot, 1) : 0;
    snprintf(f->acked, sizeof f->acked, "%s", f->confirms[k - 1].pos);
    if (f->confirms[k - 1].time > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        f->lag = (double)ts.tv_sec + ts.tv_nsec / 1e9 - f->confirms[k - 1].time;
        if (f->lag < 0) f->lag = 0; /* the database's clock is ahead of this one */
    } else {
        f->lag = 0;
    }
    f->nconfirms -= k;
    memmove(f->confirms, f->confirms + k, (size_t)f->nconfirms * sizeof *f->confirms);
    f->progress = 1;
    f->last_ack = eng_now();
    int rc = state_save(f, fs, f->cc.pc->slot, force);
    if (rc == 0) rc = drv->stream_ack(s, f->acked, f->r->d);
    return rc;
}

/* Settle everything sent, then acknowledge the last commit before it. */
static int settle_ack(follow *f, const src_driver *drv, src_stream *s, eng_state *fs, int force)
{
    if (sink_flush(f->r->sink) != 0) return DIAG_ETRANSIENT;
    f->settled = f->r->seq;
    hold_commit(f);
    return confirm_settled(f, drv, s, fs, force);
}

/* The options of a full sync inside a follow: a served follow's position is
 * not a job's (and a served run keeps no state file: no watermark either). */
static void inner_opts(eng_sync_opts *o)
{
    if (!o->on_position) return;
    o->on_position = NULL;
    o->resume_json = NULL;
    o->cursor_json = "{}";
}

/* Read the tables a TRUNCATE or an ALTER concerned in full (a full sync of
 * each, with its sweep). */
static int resync(follow *f)
{
    sync_run *r = f->r;
    int rc = 0;
    for (int i = 0; i < f->nroots && rc == 0; i++) {
        if (!f->roots[i].resync) continue;
        eng_sync_opts o = *r->o;
        o.connector = f->cc.pc->id;
        o.table = f->roots[i].name;
        o.mode = ENG_MODE_FULL;
        o.quiet = 1;
        inner_opts(&o);
        eng_sync_stats st;
        diag_warning(r->d, f->cc.pc->loc, "%s > %s: truncated or altered: reading it in full",
                     f->cc.pc->id, f->roots[i].name);
        if (eng_sync_run(r->p, &o, &st, r->d) != 0) rc = DIAG_ETRANSIENT;
        r->st->rows += st.rows;
        r->st->docs += st.docs;
        r->st->deletes += st.deletes;
        r->st->swept += st.swept;
        f->roots[i].resync = 0;
    }
    return rc;
}

/* --------------------------------------------------------------- session */

static void session_free(follow *f)
{
    for (int i = 0; i < f->nroots; i++) {
        follow_root *fr = &f->roots[i];
        sync_run *r = f->r;
        r->st->rows += fr->tr.rows;
        r->st->docs += fr->tr.docs;
        r->st->deletes += fr->tr.deletes;
        r->st->filtered += fr->tr.filtered;
        root_free(fr);
    }
    free(f->roots);
    f->roots = NULL;
    f->nroots = 0;
    for (int i = 0; i < f->nshapes; i++) {
        free(f->shapes[i].table);
        free(f->shapes[i].cols);
    }
    free(f->shapes);
    f->shapes = NULL;
    f->nshapes = 0;
    f->cc.pc->driver->close(f->cc.c);
    f->cc.pc->driver->close(f->cc.c2);
    f->cc.c = f->cc.c2 = NULL;
    arena_free(f->a);
    arena_free(f->scratch);
    f->a = f->scratch = NULL;
    if (f->r->sink) sink_set_ack(f->r->sink, NULL, NULL);
}

/* The initial read of a new slot: a full sync of the connector from the
 * exported snapshot. */
static int snapshot_sync(follow *f, const char *snapshot)
{
    sync_run *r = f->r;
    const plan *p = r->p;
    plan copy = *p;
    plan_connector *pcs = malloc((size_t)p->nconnectors * sizeof *pcs);
    if (!pcs) abort();
    memcpy(pcs, p->connectors, (size_t)p->nconnectors * sizeof *pcs);
    for (int i = 0; i < p->nconnectors; i++)
        if (&p->connectors[i] == f->cc.pc) pcs[i].source.snapshot = snapshot;
    copy.connectors = pcs;
    eng_sync_opts o = *r->o;
    o.connector = f->cc.pc->id;
    o.mode = ENG_MODE_FULL;
    inner_opts(&o);
    eng_sync_stats st;
    int code = eng_sync_run(&copy, &o, &st, r->d);
    free(pcs);
    r->st->tables += st.tables;
    r->st->rows += st.rows;
    r->st->docs += st.docs;
    r->st->deletes += st.deletes;
    r->st->filtered += st.filtered;
    r->st->indexed += st.indexed;
    r->st->failed += st.failed;
    r->st->swept += st.swept;
    r->st->retried += st.retried;
    r->st->skipped_tables += st.skipped_tables;
    if (st.interrupted) return DIAG_ECANCEL;
    return code ? DIAG_EIO : 0;
}

/* One session of a streaming connector: 0 when stopped on request, else
 * the error that ended it (the caller starts another). */
static int session(follow *f, eng_state *fs, int *fresh)
{
    sync_run *r = f->r;
    const plan_connector *pc = f->cc.pc;
    const src_driver *drv = pc->driver;
    src_stream *s = NULL;
    f->a = arena_new();
    f->scratch = arena_new();
    f->commit[0] = 0;
    f->pending = 0;
    f->nconfirms = 0;
    f->settled = r->seq; /* what an earlier session sent is settled or lost */
    if (r->sink) sink_set_ack(r->sink, on_settled, f);
    int rc = sync_open_source(pc, &f->cc.c, r->d);
    if (rc == 0) rc = bind_roots(f);
    src_stream_opts so = {pc->slot, pc->publication, pc->own_publication, NULL, 0, NULL, 0,
                          *fresh, RETAINED_WARN};
    if (rc == 0) {
        stream_tables(f, &so);
        if (so.ntables == 0) {
            diag_error(r->d, pc->loc, "%s: no table to follow", pc->id);
            rc = DIAG_EINVAL;
        }
    }
    char snapshot[128];
    if (rc == 0) rc = drv->stream_open(&pc->source, &so, &s, snapshot, sizeof snapshot, r->d);
    if (rc == 0 && snapshot[0]) {
        /* a new slot: the initial read from its snapshot, then its position */
        rc = snapshot_sync(f, snapshot);
        if (rc == 0) {
            f->acked[0] = 0;
            rc = state_save(f, fs, pc->slot, 1);
        }
        if (rc == 0) *fresh = 0;
    }
    if (rc == 0) rc = drv->stream_start(s, f->acked[0] ? f->acked : NULL, r->d);
    if (rc == 0 && !r->o->quiet)
        fprintf(stderr, "sql2es: following %s (slot %s, publication %s)\n", pc->id, pc->slot,
                pc->publication);
    /* Changes are read on while the documents of earlier ones are in flight:
     * each apply's items go out at once (sink_push), and a commit position
     * is acknowledged when the sink reports every item before it settled. */
    while (rc == 0 && !sync_stopped(r)) {
        /* documents sent and not yet settled; over IN_FLIGHT the next
         * re-read waits (changes gather meanwhile, a row changed again is
         * read once, and what goes out is fresh) unless APPLY_AT pend */
        int busy = r->seq > f->settled;
        int held_back = busy && r->seq - f->settled >= IN_FLIGHT && f->pending < APPLY_AT;
        int wait = 1000;
        if (f->pending && !held_back) {
            double left = f->first_pending + LINGER_MS / 1000.0 - eng_now();
            wait = left > 0 ? (int)(left * 1000) + 1 : 0;
        }
        if ((busy || f->nconfirms) && wait > DRIVE_MS) wait = DRIVE_MS;
        src_change c;
        int got = drv->stream_next(s, wait, &c, r->d);
        if (got < 0) {
            rc = got;
            break;
        }
        int due = 0, whole = 0;
        if (got == 1) {
            switch (c.kind) {
            case SRC_CHANGE_COMMIT:
                snprintf(f->commit, sizeof f->commit, "%s", c.pos);
                f->commit_time = c.time;
                /* a TRUNCATE or an ALTER in this transaction: its tables are
                 * read in full, then this commit is acknowledged */
                for (int i = 0; i < f->nroots; i++)
                    if (f->roots[i].resync > whole) whole = f->roots[i].resync;
                /* nothing waits to be applied: confirmable with what was sent */
                if (!whole && !f->pending) hold_commit(f);
                break;
            case SRC_CHANGE_IDLE:
                if (!f->pending) {
                    snprintf(f->commit, sizeof f->commit, "%s", c.pos);
                    f->commit_time = 0; /* caught up */
                }
                due = 1;
                break;
            default:
                take_change(f, &c);
                arena_reset(f->scratch);
                break;
            }
        }
        if (whole) {
            rc = sink_transient(f, apply(f));
            if (rc == 0) rc = sink_flush(r->sink) ? DIAG_ETRANSIENT : resync(f);
            if (rc == 0) rc = settle_ack(f, drv, s, fs, 1);
            if (rc == 0 && whole == 2) {
                f->progress = 1;
                rc = DIAG_ETRANSIENT; /* a new session describes the tables anew */
            }
            continue;
        }
        double now = eng_now();
        /* an idle stream applies at once, unless documents are in flight:
         * then changes gather for up to LINGER_MS (fewer, larger re-reads),
         * and on while IN_FLIGHT documents are unsettled */
        if (f->pending && (f->pending >= APPLY_AT ||
                           (!held_back && ((due && !busy) ||
                                           now - f->first_pending >= LINGER_MS / 1000.0)))) {
            rc = sink_transient(f, apply(f));
            if (rc == 0) {
                hold_commit(f);
                rc = send_items(f);
            }
        } else if (!f->pending && f->commit[0]) {
            hold_commit(f);
        }
        /* drive the requests in flight, at most every DRIVE_MS while reading */
        if (rc == 0 && (busy || f->nconfirms) &&
            (got == 0 || now - f->last_push >= DRIVE_MS / 1000.0))
            rc = send_items(f);
        if (rc == 0 && f->nconfirms) rc = confirm_settled(f, drv, s, fs, 0);
    }
    if (rc == 0 && r->sink) {
        /* stopped: what was sent settles; what was read after it is read again */
        if (sink_flush(r->sink) == 0) {
            f->settled = r->seq;
            if (f->pending) f->commit[0] = 0;
            hold_commit(f);
            confirm_settled(f, drv, s, fs, 0);
        }
        state_save(f, fs, pc->slot, 1);
    }
    drv->stream_close(s);
    session_free(f);
    return rc;
}

/* A served follow's position ({"slot":S,"position":P}, as state_save
 * reported it) into vals[0..2); how many. */
static int served_position(const char *text, arena *a, const char **vals)
{
    json *root = NULL;
    if (!text || !json_parse(a, text, strlen(text), &root) || root->kind != JSON_OBJECT) return 0;
    int n = 0;
    vals[0] = vals[1] = NULL;
    for (const json *m = root->child; m; m = m->next) {
        if (m->kind != JSON_STRING) continue;
        if (!strcmp(m->key, "slot")) vals[0] = m->str;
        if (!strcmp(m->key, "position")) vals[1] = m->str;
    }
    if (vals[0]) n = vals[1] ? 2 : 1;
    return n;
}

static int follow_stream(sync_run *r, const plan_connector *pc, const char *state_path)
{
    eng_state *fs = NULL;
    const char *const *vals;
    const char *served[2];
    int n = 0;
    arena *pa = arena_new();
    if (r->o->on_position) {
        /* served: the position is the caller's (r->o->resume_json) */
        n = served_position(r->o->resume_json, pa, served);
        vals = served;
    } else {
        size_t fn = strlen(state_path) + 8;
        char *fpath = malloc(fn);
        if (!fpath) abort();
        snprintf(fpath, fn, "%s-follow", state_path);
        fs = eng_state_load(fpath, r->d);
        free(fpath);
        if (!fs) {
            arena_free(pa);
            return 1;
        }
        eng_state_get(fs, pc->id, FOLLOW_KEY, &vals, &n);
    }
    /* no state, or another slot: start over (a new slot, a new initial read) */
    int fresh = !(n >= 1 && vals[0] && !strcmp(vals[0], pc->slot));
    follow f;
    memset(&f, 0, sizeof f);
    f.r = r;
    f.cc.r = r;
    f.cc.pc = pc;
    if (!fresh && n >= 2 && vals[1]) snprintf(f.acked, sizeof f.acked, "%s", vals[1]);
    int code = 0, failures = 0;
    while (!sync_stopped(r)) {
        f.progress = 0;
        int rc = session(&f, fs, &fresh);
        if (rc == 0 || rc == DIAG_ECANCEL || sync_stopped(r)) break;
        if (rc != DIAG_ETRANSIENT && !f.progress) {
            code = 1;
            break;
        }
        failures = f.progress ? 1 : failures + 1;
        if (failures > MAX_FAILED_SESSIONS) {
            diag_error(r->d, pc->loc, "%s: giving up after %d sessions without progress", pc->id,
                       failures - 1);
            code = 1;
            break;
        }
        /* print what went wrong now: a follow runs for days */
        if (diag_count(r->d)) {
            diag_print(r->d, stderr, 0);
            diag_clear(r->d);
        }
        unsigned secs = failures > 1 ? 1u << (failures < 6 ? failures - 1 : 5) : 0;
        if (!r->o->quiet)
            fprintf(stderr, "sql2es: %s: starting again from the last acknowledged position%s\n",
                    pc->id, secs ? " after a pause" : "");
        for (unsigned i = 0; i < secs * 10 && !sync_stopped(r); i++) usleep(100000);
        /* a sink that failed is made anew (it waits for the cluster) */
        if (r->sink) {
            sink_stats ss;
            sink_get_stats(r->sink, &ss);
            r->st->indexed += ss.indexed;
            r->st->failed += ss.failed;
            r->st->retried += ss.retried;
            sink_free(r->sink);
            r->sink = NULL;
        }
        while (!r->sink && !sync_stopped(r)) {
            plan_es cfg = r->p->es;
            if (pc->api_key && *pc->api_key) cfg.api_key = pc->api_key;
            r->sink = r->o->sink_new ? r->o->sink_new(r->o->sink_ctx, pc, r->d)
                                     : sink_es_new(&cfg, pc->pipeline, r->d);
            if (!r->sink) {
                diag_print(r->d, stderr, 0);
                diag_clear(r->d);
                for (int i = 0; i < 50 && !sync_stopped(r); i++) usleep(100000);
            }
        }
    }
    free(f.confirms);
    eng_state_free(fs);
    arena_free(pa);
    return code;
}

/* Drivers without a change stream: incremental syncs every follow_interval. */
static int follow_poll(sync_run *r, const plan_connector *pc)
{
    int code = 0;
    uint64_t polls = 0;
    if (!r->o->quiet)
        fprintf(stderr, "sql2es: following %s by reading its incremental cursors every %g s\n",
                pc->id, pc->follow_interval);
    while (!sync_stopped(r)) {
        eng_sync_opts o = *r->o;
        o.connector = pc->id;
        o.mode = ENG_MODE_AUTO;
        if (polls++) o.quiet = 1;
        eng_sync_stats st;
        code = eng_sync_run(r->p, &o, &st, r->d);
        r->st->tables = st.tables;
        r->st->rows += st.rows;
        r->st->docs += st.docs;
        r->st->deletes += st.deletes;
        r->st->filtered += st.filtered;
        r->st->indexed += st.indexed;
        r->st->failed += st.failed;
        r->st->swept += st.swept;
        r->st->retried += st.retried;
        r->st->warnings += st.warnings;
        if (code == 2) break;
        if (diag_count(r->d) && !sync_stopped(r)) {
            diag_print(r->d, stderr, 0);
            diag_clear(r->d);
        }
        double until = eng_now() + pc->follow_interval;
        while (!sync_stopped(r) && eng_now() < until) usleep(20000);
    }
    return code == 2 ? 2 : 0;
}

/* The one connector --follow works on. */
static const plan_connector *follow_connector(const plan *p, const eng_sync_opts *o, diag *d)
{
    const plan_connector *pc = NULL;
    int n = 0;
    for (int i = 0; i < p->nconnectors; i++)
        if (!o->connector || !strcmp(o->connector, p->connectors[i].id)) {
            pc = &p->connectors[i];
            n++;
        }
    if (n == 0)
        diag_error(d, (src_loc){p->file, 0, 0}, "no connector '%s' in the configuration",
                   o->connector);
    else if (n > 1)
        diag_error(d, (src_loc){p->file, 0, 0},
                   "--follow follows one connector: name it with --connector (one process each)");
    return n == 1 ? pc : NULL;
}

int eng_follow_run(const plan *p, const eng_sync_opts *o, eng_sync_stats *stats, diag *d)
{
    sync_run r;
    memset(&r, 0, sizeof r);
    eng_sync_stats local;
    r.p = p;
    r.o = o;
    r.st = stats ? stats : &local;
    memset(r.st, 0, sizeof *r.st);
    r.d = d;
    double t0 = eng_now();
    const plan_connector *pc = follow_connector(p, o, d);
    if (!pc) return 2;
    int code;
    /* a change names a table and a row, not the rows of a query over it */
    for (int i = 0; pc->driver->stream_open && !o->follow_poll && i < pc->ntables; i++)
        if (pc->tables[i].custom_query) {
            diag_error(d, pc->tables[i].loc,
                       "%s > %s: an advanced rule's custom query cannot be followed (a change "
                       "names a table's row, not the query's): remove the rule, follow with "
                       "--poll (incremental syncs), or keep this connector on scheduled syncs",
                       pc->id, pc->tables[i].name);
            return 2;
        }
    if (!pc->driver->stream_open || o->follow_poll) {
        code = follow_poll(&r, pc);
    } else {
        const char *state_path = o->state_file ? o->state_file : pc->state_file;
        buf_init(&r.item, 0);
        r.prog = eng_progress_new(stderr, 0, 0, 1);
        plan_es cfg = p->es;
        if (pc->api_key && *pc->api_key) cfg.api_key = pc->api_key;
        r.sink = o->sink_new ? o->sink_new(o->sink_ctx, pc, d) : sink_es_new(&cfg, pc->pipeline, d);
        code = r.sink ? follow_stream(&r, pc, state_path) : 1;
        if (r.sink) {
            sink_stats ss;
            if (sink_finish(r.sink, &ss) != 0) code = 1;
            r.st->indexed += ss.indexed;
            r.st->failed += ss.failed;
            r.st->retried += ss.retried;
            sink_free(r.sink);
        }
        buf_free(&r.item);
        eng_progress_free(r.prog);
    }
    if (sync_stopped(&r)) r.st->interrupted = 1;
    r.st->seconds = eng_now() - t0;
    return code;
}

int eng_follow_drop(const plan *p, const eng_sync_opts *o, diag *d)
{
    const plan_connector *pc = follow_connector(p, o, d);
    if (!pc) return 2;
    if (!pc->driver->stream_drop) {
        diag_error(d, pc->loc, "%s: a %s connector follows by polling: it has no slot to drop",
                   pc->id, pc->service_type);
        return 2;
    }
    src_stream_opts so = {pc->slot, pc->publication, pc->own_publication, NULL, 0, NULL, 0, 0, 0};
    int rc = pc->driver->stream_drop(&pc->source, &so, d);
    if (rc && rc != DIAG_ENOTFOUND) return 1;
    fprintf(stderr, "sql2es: %s: slot %s %s%s\n", pc->id, pc->slot,
            rc ? "did not exist" : "dropped",
            pc->own_publication ? ", publication dropped" : "");
    /* the next --follow starts over with a new slot and an initial read */
    const char *state_path = o->state_file ? o->state_file : pc->state_file;
    size_t fn = strlen(state_path) + 8;
    char *fpath = malloc(fn);
    if (!fpath) abort();
    snprintf(fpath, fn, "%s-follow", state_path);
    eng_state *fs = eng_state_load(fpath, d);
    free(fpath);
    if (!fs) return 1;
    eng_state_set(fs, pc->id, FOLLOW_KEY, NULL, 0);
    int src = eng_state_save(fs, d);
    eng_state_free(fs);
    return src ? 1 : 0;
}
