/* source.c - the registry of built-in source drivers. */
#include "source.h"

#include <stdlib.h>
#include <string.h>

extern const src_driver src_postgresql_driver;
extern const src_driver src_mysql_driver;
extern const src_driver src_sqlite_driver;

const src_driver *const src_drivers[] = {
    &src_postgresql_driver,
    &src_mysql_driver,
    &src_sqlite_driver,
    NULL,
};

const src_driver *src_driver_find(const char *service_type)
{
    if (!service_type) return NULL;
    if (strcmp(service_type, "mariadb") == 0) service_type = "mysql";
    for (int i = 0; src_drivers[i]; i++)
        if (strcmp(src_drivers[i]->name, service_type) == 0) return src_drivers[i];
    return NULL;
}

const char *src_driver_names(void) { return "postgresql, mysql, sqlite"; }

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
