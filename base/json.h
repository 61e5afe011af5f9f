/* json.h - a small strict JSON reader (RFC 8259, UTF-8 checked, depth <= 256).
 *
 * Foundation layer: validates JSON text (parse_json transform, SQLite JSON
 * columns), decodes literals and builds a tree in an arena (mapping merge).
 * Not here: writing JSON (buf.h), reading Elasticsearch replies (cJSON, in
 * the Elasticsearch sink).
 */
#ifndef SQL2ES_JSON_H
#define SQL2ES_JSON_H

#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"

/* --- a small strict JSON parser (RFC 8259, UTF-8 checked, depth <= 256) */
typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY,
               JSON_OBJECT } json_kind;

typedef struct json json;
struct json {
    json_kind kind;
    const char *raw;     /* source text of the value */
    size_t rawlen;
    char *str;           /* STRING: decoded bytes (NUL-terminated); object member: key */
    size_t len;
    char *key;           /* member key (decoded) when inside an object */
    json *child;     /* ARRAY/OBJECT: first element */
    json *next;      /* next sibling */
};

/* Parse s[0..n) (surrounding whitespace allowed). With a == NULL only
 * validates (no allocation; *out untouched). Returns 1 valid, 0 invalid. */
int json_parse(arena *a, const char *s, size_t n, json **out);
/* Append the decoded contents of the JSON string literal s[0..n) (with its
 * quotes) to out. Returns 0, or DIAG_EINVAL when it is not a valid literal. */
int json_unescape(const char *s, size_t n, buf *out);
/* Length of the JSON value starting at s[0] (after optional whitespace is
 * NOT skipped), or 0 when invalid. Used to walk array elements. */
size_t json_skip(const char *s, size_t n);

#endif
