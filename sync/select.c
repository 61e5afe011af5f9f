/* select.c - which tables a connector reads: configuration.tables (names
 * and globs) against the database's table list, --table, and the mapping
 * entry of each table (exact name, then glob, then the default entry); and
 * the index name a table writes into, for the sweep's safety checks.
 *
 * Stage: plan -> sync. Reads the table list only. */
#include <fnmatch.h>
#include <string.h>
#include <strings.h>

#include "sync/internal.h"

int sync_selected(const plan_connector *pc, const char *name)
{
    if (pc->all_tables) return 1;
    for (int i = 0; i < pc->nselection; i++)
        if (fnmatch(pc->selection[i], name, 0) == 0) return 1;
    return 0;
}

const plan_table *sync_entry_for(const plan_connector *pc, const char *name)
{
    for (int i = 0; i < pc->ntables; i++)
        if (!pc->tables[i].is_glob && !pc->tables[i].is_default && !strcmp(pc->tables[i].name, name))
            return &pc->tables[i];
    for (int i = 0; i < pc->ntables; i++)
        if (pc->tables[i].is_glob && fnmatch(pc->tables[i].name, name, 0) == 0) return &pc->tables[i];
    for (int i = 0; i < pc->ntables; i++)
        if (pc->tables[i].is_default) return &pc->tables[i];
    return NULL;
}

static int has_glob(const char *s) { return strpbrk(s, "*?[") != NULL; }

int sync_resolve_tables(sync_conn *cc, arena *a, sync_job **out, int *nout)
{
    const plan_connector *pc = cc->pc;
    sync_run *r = cc->r;
    sync_job *jobs = NULL;
    int n = 0;
    if (pc->advanced) {
        jobs = arena_alloc(a, (size_t)(pc->ntables + 1) * sizeof *jobs);
        for (int i = 0; i < pc->ntables; i++) {
            if (!pc->tables[i].custom_query) continue;
            if (r->o->table && strcmp(r->o->table, pc->tables[i].name)) continue;
            jobs[n].pt = &pc->tables[i];
            jobs[n].name = pc->tables[i].name;
            n++;
        }
        *out = jobs;
        *nout = n;
        return 0;
    }
    const char **names = NULL;
    int nn = 0;
    int rc = sync_drv_list_tables(pc->driver, cc->c, pc->source.schema, a, &names, &nn, r->d);
    if (rc) return rc;
    for (int i = 0; i < pc->nselection; i++) {
        if (has_glob(pc->selection[i])) continue;
        int found = 0;
        for (int j = 0; j < nn && !found; j++) found = !strcmp(names[j], pc->selection[i]);
        if (!found) {
            diag_error(r->d, pc->loc, "%s: table '%s' listed in configuration.tables does not exist",
                       pc->id, pc->selection[i]);
            sync_hint_table(r->d, pc->selection[i], names, nn, a);
            return DIAG_ENOTFOUND;
        }
    }
    jobs = arena_alloc(a, (size_t)(nn + 1) * sizeof *jobs);
    for (int j = 0; j < nn; j++) {
        if (!sync_selected(pc, names[j])) continue;
        if (r->o->table && strcmp(r->o->table, names[j])) continue;
        const plan_table *pt = sync_entry_for(pc, names[j]);
        if (!pt) continue;
        jobs[n].pt = pt;
        jobs[n].name = names[j];
        n++;
    }
    *out = jobs;
    *nout = n;
    return 0;
}

char *sync_table_index(const plan_connector *pc, const plan_table *pt, const char *name, arena *a)
{
    if (!pt->index) {
        if (!pc->index_name) return NULL;
        char *ix = arena_strdup(a, pc->index_name);
        for (char *q = ix; *q; q++) if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
        return ix;
    }
    buf b = BUF_INIT;
    int known = 1;
    for (int i = 0; i < pt->index->nparts && known; i++) {
        const plan_tpl_part *part = &pt->index->parts[i];
        const char *v = NULL;
        if (part->kind == PLAN_TPL_LIT) v = part->text;
        else if (part->kind == PLAN_TPL_VAR && !strcmp(part->text, "table")) v = name;
        else if (part->kind == PLAN_TPL_VAR && !strcmp(part->text, "connector")) v = pc->id;
        else if (part->kind == PLAN_TPL_VAR && !strcmp(part->text, "database")) v = pc->source.database;
        else if (part->kind == PLAN_TPL_VAR && !strcmp(part->text, "schema"))
            v = pt->schema ? pt->schema : pc->source.schema;
        if (v) buf_puts(&b, v);
        else known = 0;
    }
    char *ix = known ? arena_strndup(a, b.data ? b.data : "", b.len) : NULL;
    buf_free(&b);
    for (char *q = ix; q && *q; q++) if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
    return ix;
}
