/* regex.c - PCRE2 wrapper; see regex.h. Patterns use JIT when available.
 * A compiled pattern may be matched by several threads at once (the tables
 * of a connector read at the same time share the plan): each match takes
 * the pattern's match data, or makes its own when another thread holds it,
 * and the last error's message is the calling thread's. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "base/regex.h"

#include <pcre2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/diag.h"

struct eng_regex {
    pcre2_code *code;
    _Atomic(pcre2_match_data *) md; /* reused; NULL while a match holds it */
    pcre2_match_context *mc;        /* the limits (regex.h) */
};

static _Thread_local char last_msg[128]; /* this thread's last match error */

static pcre2_match_data *md_take(eng_regex *re)
{
    pcre2_match_data *md = atomic_exchange(&re->md, NULL);
    return md ? md : pcre2_match_data_create_from_pattern(re->code, NULL);
}

static void md_give(eng_regex *re, pcre2_match_data *md)
{
    pcre2_match_data *none = NULL;
    if (!atomic_compare_exchange_strong(&re->md, &none, md)) pcre2_match_data_free(md);
}

static void regex_cleanup(void *p)
{
    eng_regex *re = p;
    pcre2_match_context_free(re->mc);
    pcre2_match_data_free(atomic_load(&re->md));
    pcre2_code_free(re->code);
}

/* Map a PCRE2 match error to a diag code and remember its message. */
static int match_error(int rc)
{
    PCRE2_UCHAR msg[sizeof last_msg];
    if (pcre2_get_error_message(rc, msg, sizeof msg) < 0) snprintf((char *)msg, sizeof msg, "error %d", rc);
    snprintf(last_msg, sizeof last_msg, "%s", (const char *)msg);
    switch (rc) {
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT: return DIAG_ELIMIT;
    case PCRE2_ERROR_NOMEMORY: return DIAG_ENOMEM;
    default: return DIAG_EINVAL;
    }
}

static void match_ok(void) { last_msg[0] = '\0'; }

const char *eng_regex_error(const eng_regex *re)
{
    (void)re;
    return last_msg;
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
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    atomic_init(&re->md, md);
    re->mc = pcre2_match_context_create(NULL);
    if (re->mc) {
        pcre2_set_match_limit(re->mc, ENG_RE_MATCH_LIMIT);
        pcre2_set_depth_limit(re->mc, ENG_RE_DEPTH_LIMIT);
    }
    arena_on_free(a, regex_cleanup, re);
    if (!md || !re->mc) {
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
    pcre2_match_data *md = md_take(re);
    if (!md) return DIAG_ENOMEM;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, md, re->mc);
    md_give(re, md);
    if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) {
        match_ok();
        return rc >= 0;
    }
    return match_error(rc);
}

int eng_regex_extract(eng_regex *re, const char *s, size_t n, int group, buf *out)
{
    pcre2_match_data *md = md_take(re);
    if (!md) return DIAG_ENOMEM;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, md, re->mc), r = 0;
    if (rc == PCRE2_ERROR_NOMATCH) {
        match_ok();
    } else if (rc < 0) {
        r = match_error(rc);
    } else {
        match_ok();
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (group >= 0 && (uint32_t)group < pcre2_get_ovector_count(md) && ov[2 * group] != PCRE2_UNSET) {
            r = buf_append(out, s + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
            if (r == 0) r = 1;
        }
    }
    md_give(re, md);
    return r;
}

int eng_regex_replace(eng_regex *re, const char *s, size_t n, const char *repl, buf *out)
{
    PCRE2_SIZE outlen = n * 2 + strlen(repl) + 64;
    pcre2_match_data *md = md_take(re);
    if (!md) return DIAG_ENOMEM;
    int r = DIAG_ENOMEM;
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = buf_reserve(out, outlen);
        if (rc) {
            r = rc;
            break;
        }
        PCRE2_SIZE len = outlen;
        rc = pcre2_substitute(re->code, (PCRE2_SPTR)s, n, 0,
                              PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, md,
                              re->mc, (PCRE2_SPTR)repl, PCRE2_ZERO_TERMINATED,
                              (PCRE2_UCHAR *)(out->data + out->len), &len);
        if (rc >= 0) {
            out->len += len;
            out->data[out->len] = '\0';
            match_ok();
            r = 0;
            break;
        }
        if (rc != PCRE2_ERROR_NOMEMORY) {
            if (out->data) out->data[out->len] = '\0';
            r = match_error(rc);
            break;
        }
        outlen = len; /* required length */
    }
    md_give(re, md);
    return r;
}

int eng_regex_is_match_all(const char *p)
{
    static const char *const all[] = {".*", "^.*", ".*$", "^.*$", "(.*)", "^(.*)$", "[\\s\\S]*",
                                      "(?s).*", NULL};
    for (int i = 0; all[i]; i++)
        if (strcmp(p, all[i]) == 0) return 1;
    return 0;
}
