/* progress.h - progress on stderr during a sync: a live bar with rows/s and
 * ETA (from the database's row estimate) on a TTY, a plain line every
 * `display_every` rows otherwise. Cheap to call per row. */
#ifndef SQL2ES_PROGRESS_H
#define SQL2ES_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct eng_progress eng_progress;

/* out: usually stderr; tty: draw a live bar; every: rows between plain lines
 * (0 = 100). quiet: print nothing. */
eng_progress *eng_progress_new(FILE *out, int tty, uint64_t every, int quiet);
void eng_progress_free(eng_progress *p);
/* Start a table; estimate < 0 when unknown. */
void eng_progress_begin(eng_progress *p, const char *label, int64_t estimate);
/* Totals so far for the current table. */
void eng_progress_update(eng_progress *p, uint64_t rows, uint64_t docs);
/* Finish the current table with its final totals (prints a final line). */
void eng_progress_end(eng_progress *p, uint64_t rows, uint64_t docs);
/* Monotonic seconds. */
double eng_now(void);

#endif
