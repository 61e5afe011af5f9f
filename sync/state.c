/* state.c - incremental watermarks on disk; see state.h.
 *
 * Several runs may share one state file (each with its own tables): a save
 * takes the state file's lock, re-reads the file, applies only the entries
 * this run changed, and replaces the file through a temp file of its own. */
#include "sync/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "sync/lock.h"

/* How long a save waits for another run's save (each holds the lock for the
 * time of one small rewrite). */
#define STATE_LOCK_WAIT_S 60.0

typedef struct entry {
    char *connector, *table;
    char **values;
    int n;
    int dirty;  /* set by this run, not yet saved */
} entry;

struct eng_state {
    char *path;
    entry *e;
    int n, cap;
};

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) abort();
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void entry_clear(entry *e)
{
    for (int i = 0; i < e->n; i++) free(e->values[i]);
    free(e->values);
    e->values = NULL;
    e->n = 0;
}

void eng_state_free(eng_state *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        entry_clear(&s->e[i]);
        free(s->e[i].connector);
        free(s->e[i].table);
    }
    free(s->e);
    free(s->path);
    free(s);
}

/* Unescape field [p, end) into a new string; NULL for "\N". */
static char *unescape(const char *p, const char *end, int *isnull)
{
    *isnull = (end - p == 2 && p[0] == '\\' && p[1] == 'N');
    if (*isnull) return NULL;
    char *o = malloc((size_t)(end - p) + 1), *q = o;
    if (!o) abort();
    for (; p < end; p++) {
        if (*p == '\\' && p + 1 < end) {
            p++;
            *q++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p;
        } else {
            *q++ = *p;
        }
    }
    *q = '\0';
    return o;
}

static entry *find(const eng_state *s, const char *c, const char *t)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->e[i].connector, c) && !strcmp(s->e[i].table, t)) return &s->e[i];
    return NULL;
}

static entry *add(eng_state *s, const char *c, const char *t)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->e = realloc(s->e, (size_t)s->cap * sizeof *s->e);
        if (!s->e) abort();
    }
    entry *e = &s->e[s->n++];
    memset(e, 0, sizeof *e);
    e->connector = xstrndup(c, strlen(c));
    e->table = xstrndup(t, strlen(t));
    return e;
}

/* Read path into s (entries replace those of the same name). A missing file
 * reads as empty. 0, or DIAG_EIO / DIAG_EINVAL with a message in d. */
static int parse_file(eng_state *s, const char *path, diag *d)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        diag_error(d, (src_loc){path, 0, 0}, "cannot read state file: %s", strerror(errno));
        return DIAG_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] == '\n') line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        /* split on unescaped tabs */
        char *fields[64];
        char *ends[64];
        int nf = 0;
        char *st = line;
        for (char *p = line;; p++) {
            if (*p == '\\' && p[1]) {
                p++;
                continue;
            }
            if (*p == '\t' || *p == '\0') {
                if (nf < 64) {
                    fields[nf] = st;
                    ends[nf] = p;
                    nf++;
                }
                if (!*p) break;
                st = p + 1;
            }
        }
        int isnull;
        long n = nf >= 3 ? strtol(fields[2], NULL, 10) : -1;
        if (nf < 3 || n < 0 || n != nf - 3) {
            diag_error(d, (src_loc){path, lineno, 1}, "corrupt state line (expected connector, table, count, values)");
            free(line);
            fclose(f);
            return DIAG_EINVAL;
        }
        char *c = unescape(fields[0], ends[0], &isnull);
        char *t = unescape(fields[1], ends[1], &isnull);
        entry *e = find(s, c, t);
        if (e) entry_clear(e); else e = add(s, c, t);
        free(c);
        free(t);
        e->n = (int)n;
        e->values = calloc((size_t)n + 1, sizeof *e->values);
        if (!e->values) abort();
        for (int i = 0; i < n; i++) e->values[i] = unescape(fields[3 + i], ends[3 + i], &isnull);
    }
    free(line);
    fclose(f);
    return 0;
}

static eng_state *state_new(const char *path)
{
    eng_state *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->path = path ? xstrndup(path, strlen(path)) : NULL;
    return s;
}

eng_state *eng_state_new_mem(void) { return state_new(NULL); }

eng_state *eng_state_load(const char *path, diag *d)
{
    eng_state *s = state_new(path);
    if (parse_file(s, path, d) != 0) {
        eng_state_free(s);
        return NULL;
    }
    return s;
}

/* Take over the entries of disk, except those this run changed. */
static void merge_from(eng_state *s, eng_state *disk)
{
    for (int i = 0; i < s->n; i++) {
        entry *e = &s->e[i];
        if (!e->dirty) continue;
        entry *o = find(disk, e->connector, e->table);
        if (!o) o = add(disk, e->connector, e->table);
        entry_clear(o);
        o->values = e->values;
        o->n = e->n;
        o->dirty = 1;
        e->values = NULL;
        e->n = 0;
    }
    entry *tmp = s->e;
    int tn = s->n, tc = s->cap;
    s->e = disk->e;
    s->n = disk->n;
    s->cap = disk->cap;
    disk->e = tmp;
    disk->n = tn;
    disk->cap = tc;
}

int eng_state_reload(eng_state *s, diag *d)
{
    if (!s->path) return 0; /* in memory only */
    eng_state *disk = state_new(s->path);
    int rc = parse_file(disk, s->path, d);
    if (rc == 0) merge_from(s, disk);
    eng_state_free(disk);
    return rc;
}

int eng_state_get(const eng_state *s, const char *connector, const char *table,
                  const char *const **values, int *n)
{
    entry *e = find(s, connector, table);
    *values = e ? (const char *const *)e->values : NULL;
    *n = e ? e->n : 0;
    return 0;
}

void eng_state_set(eng_state *s, const char *connector, const char *table,
                   const char *const *values, int n)
{
    entry *e = find(s, connector, table);
    if (!e) e = add(s, connector, table);
    entry_clear(e);
    e->dirty = 1;
    e->n = n;
    e->values = calloc((size_t)n + 1, sizeof *e->values);
    if (!e->values) abort();
    for (int i = 0; i < n; i++)
        e->values[i] = values[i] ? xstrndup(values[i], strlen(values[i])) : NULL;
}

static void put_escaped(buf *b, const char *v)
{
    if (!v) {
        buf_puts(b, "\\N");
        return;
    }
    for (; *v; v++) {
        if (*v == '\t') buf_puts(b, "\\t");
        else if (*v == '\n') buf_puts(b, "\\n");
        else if (*v == '\\') buf_puts(b, "\\\\");
        else buf_putc(b, *v);
    }
}

/* fsync the directory of path, so that a rename into it survives a crash. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrndup(".", 1);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int eng_state_save(eng_state *s, diag *d)
{
    if (!s->path) { /* in memory only: the caller keeps the watermarks */
        for (int i = 0; i < s->n; i++) s->e[i].dirty = 0;
        return 0;
    }
    char *lpath = eng_lock_path(s->path, NULL, NULL);
    eng_lock *lk = NULL;
    int rc = eng_lock_take(lpath, 1, STATE_LOCK_WAIT_S, "the state file", "saving watermarks",
                           NULL, NULL, &lk, d);
    free(lpath);
    if (rc) return rc;
    /* another run may have saved its tables since this one read the file */
    rc = eng_state_reload(s, d);
    if (rc) {
        eng_lock_release(lk);
        return rc;
    }
    buf b = BUF_INIT;
    buf_puts(&b, "# sql2es incremental state: connector, table, count, cursor values\n");
    for (int i = 0; i < s->n; i++) {
        entry *e = &s->e[i];
        if (e->n == 0) continue;
        put_escaped(&b, e->connector);
        buf_putc(&b, '\t');
        put_escaped(&b, e->table);
        buf_printf(&b, "\t%d", e->n);
        for (int j = 0; j < e->n; j++) {
            buf_putc(&b, '\t');
            put_escaped(&b, e->values[j]);
        }
        buf_putc(&b, '\n');
    }
    /* a temp name of this process: runs sharing the file never share it */
    size_t tl = strlen(s->path) + 32;
    char *tmp = malloc(tl);
    if (!tmp) abort();
    snprintf(tmp, tl, "%s.tmp.%ld", s->path, (long)getpid());
    rc = DIAG_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) goto fail;
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        close(fd);
        goto fail;
    }
    if (close(fd) != 0) goto fail;
    if (rename(tmp, s->path) != 0) goto fail;
    if (sync_dir(s->path) != 0) goto fail_synced;
    for (int i = 0; i < s->n; i++) s->e[i].dirty = 0;
    rc = 0;
    goto out;
fail:
    diag_error(d, (src_loc){s->path, 0, 0}, "cannot write state file: %s", strerror(errno));
    unlink(tmp);
    goto out;
fail_synced:
    diag_error(d, (src_loc){s->path, 0, 0}, "cannot sync the state file's directory: %s",
               strerror(errno));
out:
    free(tmp);
    buf_free(&b);
    eng_lock_release(lk);
    return rc;
}
