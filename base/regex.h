/* regex.h - the project's only door to PCRE2. The compiler compiles patterns
 * once (errors point at the offending column); the interpreter matches. */
#ifndef SQL2ES_REGEX_H
#define SQL2ES_REGEX_H

#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"

typedef struct eng_regex eng_regex;

enum { ENG_RE_ANCHORED = 1 };

/* Compile pattern (UTF-8). On error returns NULL, sets *erroffset (0-based
 * byte offset in pattern) and writes a message into err. The result is
 * released when arena a is freed (arena_on_free). */
eng_regex *eng_regex_compile(arena *a, const char *pattern, unsigned flags, size_t *erroffset,
                             char *err, size_t errlen);
/* Number of capture groups. */
int eng_regex_groups(const eng_regex *re);
/* 1 match, 0 no match, <0 error. */
int eng_regex_match(const eng_regex *re, const char *s, size_t n);
/* Append capture `group` of the first match to out: 1 appended, 0 no match
 * (or group unset), <0 error. */
int eng_regex_extract(const eng_regex *re, const char *s, size_t n, int group, buf *out);
/* Append s with every match replaced by repl ($1, ${name} substitutions). */
int eng_regex_replace(const eng_regex *re, const char *s, size_t n, const char *repl, buf *out);
/* 1 when s is a pattern that matches everything (".*", "^.*$", "(.*)"...). */
int eng_regex_is_match_all(const char *pattern);

#endif
