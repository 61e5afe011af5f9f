/* lock.h - advisory locks that keep overlapping sync runs apart: POSIX
 * record locks (fcntl) on small files beside the state file, one per state
 * file (held while it is re-read and rewritten), per connector, and per
 * connector and table (held for a run's whole use of that table). A lock is
 * released when its holder exits, however it exits. Stage: one sync run; it
 * knows nothing of documents or SQL. Locks only coordinate processes that use
 * the same state file. */
#ifndef SQL2ES_LOCK_H
#define SQL2ES_LOCK_H

#include <signal.h>
#include <stdio.h>

#include "base/diag.h"

typedef struct eng_lock eng_lock;

/* The lock file for connector (NULL: the state file itself) and table (NULL:
 * the connector) of state_path: "<state>.lock", "<state>.lock.<connector>",
 * "<state>.lock.<connector>.<table>", names percent-encoded. Owned (free). */
char *eng_lock_path(const char *state_path, const char *connector, const char *table);

/* Take the lock of path (the file is created 0600 when missing), exclusive or
 * shared. what names the locked object in messages ("table 'pg' > 'orders'").
 * holder describes this run ("sync --full", pid and start time are added);
 * it is written into the file while held exclusively. When another process
 * holds it, the lock is retried for at most wait_s seconds (0: once); the
 * first wait is announced on note (NULL: silent) with the holder's pid. The
 * wait ends early when stop (may be NULL) becomes non-zero.
 * Returns 0 with *out (release with eng_lock_release), DIAG_ETRANSIENT when
 * the wait ran out (message names the other run's pid), DIAG_ECANCEL when
 * stopped, DIAG_EIO when the file cannot be opened or locked. */
int eng_lock_take(const char *path, int exclusive, double wait_s, const char *what,
                  const char *holder, FILE *note, const volatile sig_atomic_t *stop,
                  eng_lock **out, diag *d);
/* Release and close; NULL is a no-op. */
void eng_lock_release(eng_lock *l);

#endif
