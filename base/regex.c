/* regex.c - PCRE2 wrapper; see regex.h. Match data is allocated per call
 * from PCRE2's own allocator; patterns use JIT when available. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "base/regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "base/diag.h"

struct eng_regex {
    pcre2_code *code;
    pcre2_match_data *md; /* reused: the interpreter is single-threaded per plan use */
    pcre2_match_context *mc; /* the limits (regex.h) */
    int last_rc;             /* PCRE2 code of the last match error, 0 after success */
    char msg[128];
};

static void regex_cleanup(void *p)
{
    eng_regex *re = p;
    pcre2_match_context_free(re->mc);
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
}

/* Map a PCRE2 match error to a diag code and remember its message. */
static int match_error(eng_regex *re, int rc)
{
    re->last_rc = rc;
    PCRE2_UCHAR msg[sizeof re->msg];
    if (pcre2_get_error_message(rc, msg, sizeof msg) < 0) snprintf((char *)msg, sizeof msg, "error %d", rc);
    snprintf(re->msg, sizeof re->msg, "%s", (const char *)msg);
    switch (rc) {
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT: return DIAG_ELIMIT;
    case PCRE2_ERROR_NOMEMORY: return DIAG_ENOMEM;
    default: return DIAG_EINVAL;
    }
}

static void match_ok(eng_regex *re)
{
    re->last_rc = 0;
    re->msg[0] = '\0';
}

const char *eng_regex_error(const eng_regex *re) { return re->msg; }

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
    re->mc = pcre2_match_context_create(NULL);
    if (re->mc) {
        pcre2_set_match_limit(re->mc, ENG_RE_MATCH_LIMIT);
        pcre2_set_depth_limit(re->mc, ENG_RE_DEPTH_LIMIT);
    }
    re->last_rc = 0;
    re->msg[0] = '\0';
    arena_on_free(a, regex_cleanup, re);
    if (!re->md || !re->mc) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        if (erroffset) *erroffset = 0;
        return NULL;
    }
    return re;
}

int eng_regex_groups(const eng_regex *re)
{
    uint32_t n = 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &n);
    return (int)n;
}

int eng_regex_match(eng_regex *re, const char *s, size_t n)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, re->md, re->mc);
    if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) {
        match_ok(re);
        return rc >= 0;
    }
    return match_error(re, rc);
}

int eng_regex_extract(eng_regex *re, const char *s, size_t n, int group, buf *out)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, re->md, re->mc);
    if (rc == PCRE2_ERROR_NOMATCH) {
        match_ok(re);
        return 0;
    }
    if (rc < 0) return match_error(re, rc);
    match_ok(re);
    if (group < 0 || (uint32_t)group >= pcre2_get_ovector_count(re->md)) return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    if (ov[2 * group] == PCRE2_UNSET) return 0;
    int r = buf_append(out, s + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
    return r ? r : 1;
}

int eng_regex_replace(eng_regex *re, const char *s, size_t n, const char *repl, buf *out)
{
    PCRE2_SIZE outlen = n * 2 + strlen(repl) + 64;
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = buf_reserve(out, outlen);
        if (rc) return rc;
        PCRE2_SIZE len = outlen;
        rc = pcre2_substitute(re->code, (PCRE2_SPTR)s, n, 0,
                              PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, re->md,
                              re->mc, (PCRE2_SPTR)repl, PCRE2_ZERO_TERMINATED,
                              (PCRE2_UCHAR *)(out->data + out->len), &len);
        if (rc >= 0) {
            out->len += len;
            out->data[out->len] = '\0';
            match_ok(re);
            return 0;
        }
        if (rc != PCRE2_ERROR_NOMEMORY) {
            if (out->data) out->data[out->len] = '\0';
            return match_error(re, rc);
        }
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
