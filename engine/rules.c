/* rules.c - basic sync rules with Kibana's semantics (reference.md section
 * 3); see interp.h. Engine stage: after a document was written, decide
 * whether it is kept. Rules come sorted by `order` from the compiler; the
 * first matching rule decides; no match keeps the document; a rule on a field
 * the document does not have never matches. A rule that cannot be evaluated
 * (a regex hitting its match limit) decides nothing: the row is an error. Not here: push-down into SQL
 * (the compiler), validation of rules (the compiler).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/interp.h"
#include "base/regex.h"

static int as_number(const char *p, size_t n, double *out)
{
    while (n && (*p == ' ' || *p == '\t')) p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    if (!n || !json_is_number(p, n)) return 0;
    char tmp[64];
    if (n >= sizeof tmp) {
        char *t = malloc(n + 1);
        if (!t) return 0;
        memcpy(t, p, n);
        t[n] = '\0';
        *out = strtod(t, NULL);
        free(t);
        return 1;
    }
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
    return 1;
}

/* bytewise comparison of a[0..an) and b[0..bn): <0, 0, >0 */
static int bytecmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

static int contains(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0) return 1;
    if (nn > hn) return 0;
    for (size_t i = 0; i + nn <= hn; i++)
        if (h[i] == nd[0] && memcmp(h + i, nd, nn) == 0) return 1;
    return 0;
}

int eng_rule_match(const plan_rule *r, const src_value *v)
{
    if (!v || v->kind == SRC_NULL) return 0;
    const char *val = r->value ? r->value : "";
    size_t vn = strlen(val);
    const char *p = v->p ? v->p : "";
    size_t n = v->n;
    double a, b;
    switch (r->rule) {
    case PLAN_RULE_EQUALS:
        if (v->kind == SRC_BOOL) return strcasecmp(val, p[0] == 't' ? "true" : "false") == 0;
        if (as_number(p, n, &a) && as_number(val, vn, &b)) return a == b;
        return bytecmp(p, n, val, vn) == 0;
    case PLAN_RULE_CONTAINS: return contains(p, n, val, vn);
    case PLAN_RULE_STARTS_WITH: return n >= vn && memcmp(p, val, vn) == 0;
    case PLAN_RULE_ENDS_WITH: return n >= vn && memcmp(p + n - vn, val, vn) == 0;
    case PLAN_RULE_REGEX: return r->re ? eng_regex_match(r->re, p, n) : 0; /* 1, 0 or <0 */
    case PLAN_RULE_GT:
        if (as_number(p, n, &a) && as_number(val, vn, &b)) return a > b;
        return bytecmp(p, n, val, vn) > 0;
    case PLAN_RULE_LT:
        if (as_number(p, n, &a) && as_number(val, vn, &b)) return a < b;
        return bytecmp(p, n, val, vn) < 0;
    }
    return 0;
}

int eng_rules_decide(const plan_rule *rules, int nrules, const src_value *const *vals,
                     const plan_rule **decider)
{
    if (decider) *decider = NULL;
    for (int i = 0; i < nrules; i++) {
        if (!vals[i]) continue; /* field absent: never matches */
        int m = eng_rule_match(&rules[i], vals[i]);
        if (m < 0) { /* cannot tell: neither keep nor drop */
            if (decider) *decider = &rules[i];
            return m;
        }
        if (!m) continue;
        if (decider) *decider = &rules[i];
        return rules[i].include ? 1 : 0;
    }
    return 1;
}
