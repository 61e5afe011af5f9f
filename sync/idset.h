/* idset.h - a set of document ids in bounded memory, for the full-sync
 * sweep (delete what was not seen). Ids are buffered up to a memory limit,
 * then sorted and spilled to anonymous temporary files; iteration merges
 * the runs and yields every distinct id once, in byte order. Exact: no
 * hashing, no false positives. */
#ifndef SQL2ES_IDSET_H
#define SQL2ES_IDSET_H

#include <stddef.h>

#include "base/diag.h"

typedef struct eng_idset eng_idset;
typedef struct eng_idset_iter eng_idset_iter;

/* mem_limit: bytes of ids kept in memory before spilling (0 = 16 MiB). */
eng_idset *eng_idset_new(size_t mem_limit);
void eng_idset_free(eng_idset *s); /* NULL ok */
int eng_idset_add(eng_idset *s, const char *id, size_t n);
size_t eng_idset_spills(const eng_idset *s); /* runs written to disk */

/* Sorted, distinct iteration. The set must not be added to afterwards.
 * NULL (message in d) when a spill file cannot be read. NULL set = empty. */
eng_idset_iter *eng_idset_iter_new(eng_idset *s, diag *d);
/* 1 with the id (valid until the next call), 0 at the end, <0 on error. */
int eng_idset_iter_next(eng_idset_iter *it, const char **id, size_t *n);
void eng_idset_iter_free(eng_idset_iter *it);
/* Byte order used by the iteration. */
int eng_idset_cmp(const char *a, size_t an, const char *b, size_t bn);

#endif
