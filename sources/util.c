/* util.c - helpers the source drivers share: running a catalog query through
 * a driver's own scan slots, name lists, value copies, CA files for TLS.
 *
 * Sources layer, below the drivers (which call it); it never names a driver.
 */
#include "sources/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int src_query_each(const src_driver *drv, src_conn *c, const char *sql,
                   const char *const *params, int np,
                   int (*fn)(void *ctx, const src_value *row), void *ctx, diag *d)
{
    src_scan *s = NULL;
    src_query q = {sql, params, np, 0};
    int rc = drv->begin_scan(c, &q, &s, d);
    if (rc) return rc;
    const src_value *row;
    while ((rc = drv->next(s, &row, d)) == 1) {
        rc = fn(ctx, row);
        if (rc) break;
    }
    drv->end_scan(s);
    return rc;
}

char *src_value_dup(arena *a, const src_value *v)
{
    return v->kind == SRC_NULL ? NULL : arena_strndup(a, v->p, v->n);
}

int src_name_list_add(void *ctx, const src_value *row)
{
    src_name_list *l = ctx;
    if (l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 32;
        l->names = arena_realloc(l->a, l->names, (size_t)l->cap * sizeof *l->names,
                                 (size_t)ncap * sizeof *l->names);
        l->cap = ncap;
    }
    l->names[l->n++] = src_value_dup(l->a, &row[0]);
    return 0;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

void src_name_list_sort(src_name_list *l)
{
    if (l->n > 1) qsort(l->names, (size_t)l->n, sizeof *l->names, cmp_str);
}

int src_ca_file_open(src_ca_file *f, const char *ssl_ca, const char *who, diag *d)
{
    memset(f, 0, sizeof *f);
    if (!ssl_ca || !*ssl_ca) return 0;
    const char *p = ssl_ca;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (strncmp(p, "-----BEGIN", 10) != 0) {
        /* a file name */
        if (strlen(ssl_ca) >= sizeof f->path) {
            diag_error(d, (src_loc){0}, "%s: ssl_ca: the file name is too long", who);
            return DIAG_EINVAL;
        }
        if (access(ssl_ca, R_OK) != 0) {
            diag_error(d, (src_loc){0}, "%s: ssl_ca: cannot read '%s': %s (give the CA certificate "
                       "as PEM text or as a readable file)", who, ssl_ca, strerror(errno));
            return DIAG_EINVAL;
        }
        snprintf(f->path, sizeof f->path, "%s", ssl_ca);
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(f->path, sizeof f->path, "%s/sql2es-ca.XXXXXX", tmp);
    mode_t old = umask(077);
    int fd = mkstemp(f->path);
    umask(old);
    if (fd < 0) {
        diag_error(d, (src_loc){0}, "%s: ssl_ca: cannot create a temporary file in %s: %s", who, tmp,
                   strerror(errno));
        f->path[0] = 0;
        return DIAG_EIO;
    }
    f->temporary = 1;
    size_t n = strlen(ssl_ca), done = 0;
    while (done < n) {
        ssize_t w = write(fd, ssl_ca + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    int bad = done < n || (ssl_ca[n - 1] != '\n' && write(fd, "\n", 1) != 1);
    if (close(fd) != 0) bad = 1;
    if (bad) {
        diag_error(d, (src_loc){0}, "%s: ssl_ca: cannot write a temporary file in %s", who, tmp);
        src_ca_file_done(f);
        return DIAG_EIO;
    }
    return 0;
}

void src_ca_file_done(src_ca_file *f)
{
    if (f->temporary && f->path[0]) unlink(f->path);
    f->temporary = 0;
    f->path[0] = 0;
}
