/* state.h - the incremental-sync state file: per connector and table, the
 * watermark (the cursor tuple of the newest row whose documents Elasticsearch
 * acknowledged). Saved atomically (write to a temp file of this process,
 * fsync, rename, fsync the directory) and only after acknowledgement. Runs
 * may share the file: a save holds its lock ("<file>.lock", see lock.h),
 * re-reads it and rewrites only the entries this run set, so concurrent runs
 * of different tables keep each other's watermarks. Format: one line per table,
 *   connector<TAB>table<TAB>n<TAB>v1<TAB>v2...
 * with backslash escapes for TAB, newline and backslash; "\N" is SQL NULL. */
#ifndef SQL2ES_STATE_H
#define SQL2ES_STATE_H

#include "base/arena.h"
#include "base/diag.h"

typedef struct eng_state eng_state;

/* Load path (a missing file is an empty state). NULL + diag on a corrupt file. */
eng_state *eng_state_load(const char *path, diag *d);
/* An empty state kept in memory only (a served job keeps its watermarks in
 * the cluster): reload and save do nothing. */
eng_state *eng_state_new_mem(void);
void eng_state_free(eng_state *s);
/* Watermark of connector/table: values[0..n) (NULL entries = SQL NULL), or
 * n = 0 when none. Borrowed until the next set/reload/save/free. */
int eng_state_get(const eng_state *s, const char *connector, const char *table,
                  const char *const **values, int *n);
/* Replace (n = 0 removes) a watermark in memory; the next save writes it. */
void eng_state_set(eng_state *s, const char *connector, const char *table,
                   const char *const *values, int n);
/* Re-read the file: entries other runs saved replace ours, except those set
 * since the last save. 0, or <0 with a message (the state is unchanged). */
int eng_state_reload(eng_state *s, diag *d);
/* Under the state file's lock (waiting up to a minute for another run's
 * save): reload, then write the whole state atomically. 0 or <0 + message. */
int eng_state_save(eng_state *s, diag *d);

#endif
