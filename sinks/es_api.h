/* es_api.h - plain document and search APIs for the connector service:
 * GET/_create/_doc/_update (with if_seq_no/if_primary_term) and _search,
 * plus index creation with a body. Works the same on Elasticsearch 7-9 and
 * OpenSearch 1-3 (no _connector API). Replies are handed back raw; reading
 * them is the caller's business (base/json). Messages never carry request
 * bodies (documents may hold secrets). */
#ifndef SQL2ES_ES_API_H
#define SQL2ES_ES_API_H

#include <stddef.h>
#include <stdint.h>

#include "sinks/es.h"

/* Refresh policy of a write: ES_REFRESH_NONE, or "true" (visible to the next
 * search at once; for the small service indices). */
#define ES_REFRESH_NONE NULL
#define ES_REFRESH_NOW "true"

/* GET /index/_doc/id. Returns 1 found (the reply, with _seq_no and
 * _primary_term, in out), 0 missing (404), <0 error (message in d). */
int es_doc_get(es_client *c, const char *index, const char *id, es_response *out, diag *d);

/* PUT /index/_create/id: create only. Returns 0 created, 1 when the document
 * existed already (409), <0 error. */
int es_doc_create(es_client *c, const char *index, const char *id, const char *json,
                  const char *refresh, diag *d);

/* POST /index/_doc: a new document with a generated id, copied into id_out
 * (cap bytes; may be NULL). Returns 0 or <0. */
int es_doc_add(es_client *c, const char *index, const char *json, const char *refresh,
               char *id_out, size_t cap, diag *d);

/* POST /index/_update/id with {"doc": doc_json}. seq_no < 0: unconditional
 * (retry_on_conflict=5: concurrent writers of other fields do not make it
 * fail); otherwise only if the document is still at (seq_no, primary_term).
 * Returns 0 updated, 1 conflict (changed since it was read: 409),
 * DIAG_ENOTFOUND missing, other <0 errors. */
int es_doc_update(es_client *c, const char *index, const char *id, const char *doc_json,
                  int64_t seq_no, int64_t primary_term, const char *refresh, diag *d);

/* POST /index/_search?seq_no_primary_term=true&expand_wildcards=all with body
 * (a search request: query, sort, size, search_after). A missing index
 * answers 0 hits. Returns 0 with the reply in out, or <0. */
int es_search(es_client *c, const char *index, const char *body, es_response *out, diag *d);

/* PUT /index with body (settings, mappings, aliases). Returns 0 created, 1
 * when it existed already (another process may have won), <0 error. */
int es_index_create_with(es_client *c, const char *index, const char *body, diag *d);

/* GET /_alias/alias: 1 when the alias exists, 0 when not, <0 error. */
int es_alias_exists(es_client *c, const char *alias, diag *d);

/* "type: reason" of an error reply (or the start of its body) into out. */
void es_reply_reason(const es_response *r, char *out, size_t cap);

#endif
