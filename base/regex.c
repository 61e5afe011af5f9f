/* regex.c - PCRE2 wrapper; see regex.h. Match data is allocated per call
 * from PCRE2's own allocator; patterns use JIT when available. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "base/regex.h"

#include <pcre2.h>
#include <string.h>

#include "base/diag.h"

struct eng_regex {
    pcre2_code *code;
    pcre2_match_data *md; /* reused: the interpreter is single-threaded per plan use */
};

static void regex_cleanup(void *p)
{
    eng_regex *re = p;
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
}

eng_regex *eng_regex_compile(arena *a, const char *pattern, unsigned flags, size_t *erroffset,
                             char *err, size_t errlen)
{
    int ec = 0;
    PCRE2_SIZE off = 0;
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    if (flags & ENG_RE_ANCHORED) opts |= PCRE2_ANCHORED;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &off, NULL);
    if (!code) {
        if (erroffset) *erroffset = off;
        if (err && errlen) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            snprintf(err, errlen, "%s", (const char *)msg);
        }
        return NULL;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* best effort */
    eng_regex *re = arena_alloc(a, sizeof *re);
    re->code = code;
    re->md = pcre2_match_data_create_from_pattern(code, NULL);
    arena_on_free(a, regex_cleanup, re);
    return re;
}

int eng_regex_groups(const eng_regex *re)
{
    uint32_t n = 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &n);
    return (int)n;
}

int eng_regex_match(const eng_regex *re, const char *s, size_t n)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, re->md, NULL);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    return DIAG_EINVAL;
}

int eng_regex_extract(const eng_regex *re, const char *s, size_t n, int group, buf *out)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, re->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) return DIAG_EINVAL;
    if (group < 0 || (uint32_t)group >= pcre2_get_ovector_count(re->md)) return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    if (ov[2 * group] == PCRE2_UNSET) return 0;
    int r = buf_append(out, s + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
    return r ? r : 1;
}

int eng_regex_replace(const eng_regex *re, const char *s, size_t n, const char *repl, buf *out)
{
    PCRE2_SIZE outlen = n * 2 + strlen(repl) + 64;
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = buf_reserve(out, outlen);
        if (rc) return rc;
        PCRE2_SIZE len = outlen;
        rc = pcre2_substitute(re->code, (PCRE2_SPTR)s, n, 0,
                              PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, re->md,
                              NULL, (PCRE2_SPTR)repl, PCRE2_ZERO_TERMINATED,
                              (PCRE2_UCHAR *)(out->data + out->len), &len);
        if (rc >= 0) {
            out->len += len;
            out->data[out->len] = '\0';
            return 0;
        }
        if (rc != PCRE2_ERROR_NOMEMORY) return DIAG_EINVAL;
        outlen = len; /* required length */
    }
    return DIAG_ENOMEM;
}

int eng_regex_is_match_all(const char *p)
{
    static const char *const all[] = {".*", "^.*", ".*$", "^.*$", "(.*)", "^(.*)$", "[\\s\\S]*",
                                      "(?s).*", NULL};
    for (int i = 0; all[i]; i++)
        if (strcmp(p, all[i]) == 0) return 1;
    return 0;
}
