/* buf.h - growable byte buffer with an optional cap (curl's dynbuf) and the
 * JSON writing primitives of the hot path: strings escaped as strict UTF-8
 * JSON (invalid bytes replaced by U+FFFD and counted), base64, numbers.
 * Documents are written straight into a buf; no tree per row.
 */
#ifndef SQL2ES_BUF_H
#define SQL2ES_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max;   /* 0 = unbounded; appends beyond max fail */
    int failed;   /* sticky: 1 an append hit max, 2 out of memory; later appends
                   * fail with the same code */
} buf;

#define BUF_INIT {NULL, 0, 0, 0, 0}

void buf_init(buf *b, size_t max);
void buf_free(buf *b);          /* releases memory; b can be reused after buf_init */
void buf_reset(buf *b);         /* len = 0, keeps memory, clears failed */
int buf_reserve(buf *b, size_t extra); /* 0 or DIAG_ENOMEM/DIAG_ELIMIT (the first failure's) */
int buf_error(const buf *b);    /* 0, or the code of its first failure: DIAG_ELIMIT, DIAG_ENOMEM */
int buf_append(buf *b, const void *p, size_t n);
int buf_puts(buf *b, const char *s);
int buf_putc(buf *b, char c);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take ownership of the data (caller frees); b is left empty. */
char *buf_detach(buf *b, size_t *len);

/* Append s[0..n) as a quoted JSON string. Invalid UTF-8 sequences (and
 * surrogates, overlongs, code points > U+10FFFF) become U+FFFD; their count is
 * added to *replaced when replaced is not NULL. NUL bytes become \u0000. */
int buf_json_str(buf *b, const char *s, size_t n, size_t *replaced);
/* Append base64 (RFC 4648, padded) of p[0..n) inside quotes. */
int buf_json_base64(buf *b, const void *p, size_t n);
int buf_json_i64(buf *b, int64_t v);
int buf_json_u64(buf *b, uint64_t v);

/* Number text for drivers (out: at least 40 bytes, NUL-terminated; returns
 * the length). json_fmt_double writes the shortest text that reads back to
 * the same value (single: as a float), always with a '.' or an exponent so
 * that dynamic mappings see a floating type; NaN/Inf are the caller's
 * business (JSON has neither). */
size_t json_fmt_u64(char *out, uint64_t v);
size_t json_fmt_i64(char *out, int64_t v);
size_t json_fmt_double(char *out, double v, int single);

/* 1 when s[0..n) is a valid JSON number literal (strict grammar). */
int json_is_number(const char *s, size_t n);
/* 1 when s[0..n) is valid UTF-8. */
int utf8_valid(const char *s, size_t n);

#endif
