/* fault.h - fault injection for tests (SQLite's fault simulator, curl's
 * torture tests). The environment variable SQL2ES_FAULT makes the N-th call
 * of a kind fail:
 *
 *   SQL2ES_FAULT=alloc:N     the N-th allocation (arena blocks, buffer growth)
 *   SQL2ES_FAULT=driver:N    the N-th call into a source driver (sync's wrapper)
 *   SQL2ES_FAULT=http:N      the N-th HTTP request of the Elasticsearch client
 *
 * "kind:N+" fails the N-th call and every one after it; several switches
 * are separated by commas ("driver:3,http:1"); "count" prints the number of
 * calls of each kind at exit (to size a walk over N). Unset, each check is
 * one load and a branch. Foundation layer: knows nothing of what fails.
 */
#ifndef SQL2ES_FAULT_H
#define SQL2ES_FAULT_H

#include <stdint.h>

typedef enum { FAULT_ALLOC, FAULT_DRIVER, FAULT_HTTP, FAULT_NKINDS } fault_kind;

/* Count one call of kind k; 1 when it must fail. */
int fault_hit(fault_kind k);
/* Set a fault from a program (tests): fail the n-th call of k from now
 * (0: never), and every later one when sticky. Resets k's counter. */
void fault_set(fault_kind k, uint64_t n, int sticky);
/* Calls of kind k counted since the start (or the last fault_set). */
uint64_t fault_count(fault_kind k);

#endif
