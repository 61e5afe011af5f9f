/* diag.h - one error model for every stage (jq, libgit2).
 *
 * Functions return 0 or a negative DIAG_E* code; the human message lives in a
 * diag object. Config errors carry a source location and are printed as
 *   config.yml:14:9: error: unknown key 'mapings'
 *     hint: did you mean 'mappings'?
 *      14 |   mapings:
 *         |   ^
 * Run-time errors carry a context string (connector > table > row key > item).
 * A diag keeps the first DIAG_MAX_KEPT messages and counts the rest.
 */
#ifndef SQL2ES_DIAG_H
#define SQL2ES_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Error codes (negative returns). */
enum {
    DIAG_OK = 0,
    DIAG_EINVAL = -1,   /* invalid configuration or usage (exit 2) */
    DIAG_EIO = -2,      /* I/O, network, server error (exit 1) */
    DIAG_ENOMEM = -3,
    DIAG_ELIMIT = -4,   /* a bound was exceeded (depth, size, aliases) */
    DIAG_ENOTFOUND = -5,
    DIAG_ETRANSIENT = -6, /* retryable (connection lost, 429, 5xx) */
    DIAG_ECANCEL = -7
};

#define DIAG_MAX_KEPT 20

typedef struct src_loc {
    const char *file; /* borrowed; NULL when unknown */
    int line, col;    /* 1-based; 0 when unknown */
} src_loc;

typedef enum { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } diag_level;

typedef struct diag_msg {
    diag_level level;
    src_loc loc;
    char *text;
    char *hint; /* may be NULL */
} diag_msg;

typedef struct diag diag;

diag *diag_new(void);
void diag_free(diag *d);

/* Register a source text (copied) so that messages for `file` get the line
 * and a caret. */
void diag_add_source(diag *d, const char *file, const char *text, size_t len);

void diag_error(diag *d, src_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_warning(diag *d, src_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(diag *d, src_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_verror(diag *d, diag_level lv, src_loc loc, const char *fmt, va_list ap);
/* Attach a hint to the last message added (no-op when it was not kept). */
void diag_hint(diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int diag_errors(const diag *d);   /* errors counted, kept or not */
int diag_warnings(const diag *d);
size_t diag_count(const diag *d); /* messages kept */
const diag_msg *diag_get(const diag *d, size_t i);
/* The last error's text, or "" (for run-time errors shown in one line). */
const char *diag_last(const diag *d);
void diag_clear(diag *d);

/* Print kept messages with source lines and carets, then a summary line
 * ("3 errors", "... and 12 more errors not shown") when there were errors.
 * color: 0 never, 1 always. */
void diag_print(const diag *d, FILE *out, int color);

/* ---- secrets ------------------------------------------------------------
 * Secrets (passwords, API keys) never appear in messages, source lines or
 * printed plans. */

/* The userinfo of a URL's authority ("user:pw@" in "http://user:pw@host"):
 * offset of its first byte, and its length including the '@' in *len; 0 and
 * *len = 0 when there is none. It ends at the LAST '@' of the URL, so that a
 * password holding '/', '?', '#' or '@' counts whole (a URL whose path holds
 * an '@' is then hidden too far: never too little). */
size_t diag_url_userinfo(const char *url, size_t *len);
/* url with the password of its userinfo replaced by "***" (user "u" and
 * password "pw" show as u:*** before the '@'; a userinfo without ':' may be
 * a token and shows as *** whole), into out (n bytes, NUL-terminated,
 * truncated to fit). Returns out. */
const char *diag_redact_url(char *out, size_t n, const char *url);

/* 1 when a key name says its value is a secret: it contains (any case)
 * password, passwd, pwd, secret, token, api_key, apikey, authorization,
 * credential or private_key, is pass / pw, or is at most two edits from
 * password or api_key (misspelt: `pasword`). */
int diag_is_secret_name(const char *name, size_t len);

/* Mark source text as secret: when a message's source line is printed, the
 * text of `file` from line:col up to end_col of last_line (exclusive; 0: the
 * end of that line) shows as "***". A span starting where an earlier one
 * starts is ignored (the loader's exact span of a value wins over the
 * checker's estimate). */
void diag_hide_source(diag *d, const char *file, int line, int col, int last_line, int end_col);

/* Levenshtein-based suggestion: the candidate closest to `word` within a
 * small distance, or NULL. candidates is NULL-terminated. */
const char *diag_suggest(const char *word, const char *const *candidates);

#endif
