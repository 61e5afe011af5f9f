/* regex.h - the project's only door to PCRE2. The compiler compiles patterns
 * once (errors point at the offending column); the interpreter matches. */
#ifndef SQL2ES_REGEX_H
#define SQL2ES_REGEX_H

#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"

typedef struct eng_regex eng_regex;

enum { ENG_RE_ANCHORED = 1 };

/* Matching is bounded, deliberately, so that one hostile value (a pattern
 * that backtracks exponentially on it) costs a bounded time per row:
 *   match limit  ENG_RE_MATCH_LIMIT  calls of PCRE2's internal match()
 *                (backtracking steps; JIT and interpreter alike),
 *   depth limit  ENG_RE_DEPTH_LIMIT  nested backtracking points (interpreter;
 *                the JIT has its own stack, also bounded).
 * A match that hits a limit is an error (ENG_RE_ELIMIT), never "no match":
 * the caller makes it an error of the row. */
#define ENG_RE_MATCH_LIMIT 1000000u
#define ENG_RE_DEPTH_LIMIT 100000u

/* Compile pattern (UTF-8). On error returns NULL, sets *erroffset (0-based
 * byte offset in pattern) and writes a message into err. The result is
 * released when arena a is freed (arena_on_free). */
eng_regex *eng_regex_compile(arena *a, const char *pattern, unsigned flags, size_t *erroffset,
                             char *err, size_t errlen);
/* Number of capture groups. */
int eng_regex_groups(const eng_regex *re);
/* 1 match, 0 no match, <0 error: DIAG_ELIMIT when a limit above was hit,
 * DIAG_EINVAL for another match error; eng_regex_error() says which. */
int eng_regex_match(eng_regex *re, const char *s, size_t n);
/* Append capture `group` of the first match to out: 1 appended, 0 no match
 * (or group unset), <0 error as eng_regex_match (out unchanged). */
int eng_regex_extract(eng_regex *re, const char *s, size_t n, int group, buf *out);
/* Append s with every match replaced by repl ($1, ${name} substitutions).
 * 0, or <0 error as eng_regex_match (out unchanged). */
int eng_regex_replace(eng_regex *re, const char *s, size_t n, const char *repl, buf *out);
/* The message of the calling thread's last match error ("match limit
 * exceeded"...), "" when its last call succeeded. Valid until its next call.
 * Patterns may be matched by several threads at once. */
const char *eng_regex_error(const eng_regex *re);
/* 1 when s is a pattern that matches everything (".*", "^.*$", "(.*)"...). */
int eng_regex_is_match_all(const char *pattern);

#endif
