/* cron.c - Quartz cron parsing and the next fire time in UTC; see cron.h.
 *
 * Stage: the service's scheduler. Fields become bit sets; day-of-month and
 * day-of-week specials (L, W, #) are resolved per month while searching. The
 * search moves field by field from the largest unit down, resetting the
 * smaller ones, so it costs a few hundred steps at most per year scanned.
 * It does not read the clock or know about connectors.
 */
#include "service/cron.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define YEAR_MIN 1970
#define YEAR_MAX 2099

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_YEAR, F_COUNT };

static const char *const field_name[F_COUNT] = {"seconds", "minutes", "hours", "day-of-month",
                                                "month", "day-of-week", "year"};
static const int field_lo[F_COUNT] = {0, 0, 0, 1, 1, 1, YEAR_MIN};
static const int field_hi[F_COUNT] = {59, 59, 23, 31, 12, 7, YEAR_MAX};

static const char *const month_names[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                            "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

typedef struct parser {
    const char *expr;
    char *err;
    size_t errlen;
    int field;
} parser;

static int fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *ps, const char *fmt, ...)
{
    if (ps->err && ps->errlen) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (ps->field >= 0)
            snprintf(ps->err, ps->errlen, "cron '%.100s': %s: %s", ps->expr, field_name[ps->field], msg);
        else
            snprintf(ps->err, ps->errlen, "cron '%.100s': %s", ps->expr, msg);
    }
    return -1;
}

/* ---- calendar ------------------------------------------------------------ */

/* Howard Hinnant's days_from_civil: days since 1970-01-01. */
int64_t svc_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void svc_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int64_t y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* 1 = Sunday .. 7 = Saturday (Quartz numbering). 1970-01-01 was a Thursday. */
static int weekday(int64_t y, int m, int d)
{
    int64_t days = svc_days_from_civil(y, m, d);
    int64_t w = (days + 4) % 7; /* 0 = Sunday */
    if (w < 0) w += 7;
    return (int)w + 1;
}

/* ---- parsing ------------------------------------------------------------- */

static void set_bit(svc_cron *c, int field, int v)
{
    switch (field) {
    case F_SEC: c->sec |= 1ULL << v; break;
    case F_MIN: c->min |= 1ULL << v; break;
    case F_HOUR: c->hour |= 1U << v; break;
    case F_DOM: c->dom |= 1ULL << v; break;
    case F_MONTH: c->month |= 1U << v; break;
    case F_DOW: c->dow |= (uint8_t)(1U << v); break;
    case F_YEAR: c->years[(v - YEAR_MIN) / 64] |= 1ULL << ((v - YEAR_MIN) % 64); break;
    default: break;
    }
}

/* A number or (month, day-of-week) a name at *p; advances *p. */
static int parse_value(parser *ps, const char **p, int *out)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        int digits = 0;
        while (isdigit((unsigned char)*s)) {
            if (++digits > 4) return fail(ps, "number too long");
            v = v * 10 + (*s - '0');
            s++;
        }
        *out = (int)v;
        *p = s;
        return 0;
    }
    if (isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
        isalpha((unsigned char)s[2])) {
        char name[4] = {(char)toupper((unsigned char)s[0]), (char)toupper((unsigned char)s[1]),
                        (char)toupper((unsigned char)s[2]), 0};
        if (ps->field == F_MONTH) {
            for (int i = 0; i < 12; i++)
                if (!strcmp(name, month_names[i])) {
                    *out = i + 1;
                    *p = s + 3;
                    return 0;
                }
            return fail(ps, "unknown month name '%.3s' (JAN..DEC)", s);
        }
        if (ps->field == F_DOW) {
            for (int i = 0; i < 7; i++)
                if (!strcmp(name, dow_names[i])) {
                    *out = i + 1;
                    *p = s + 3;
                    return 0;
                }
            return fail(ps, "unknown day name '%.3s' (SUN..SAT)", s);
        }
        return fail(ps, "names are only allowed for month and day-of-week, not '%.3s'", s);
    }
    if (!*s) return fail(ps, "a value is missing");
    return fail(ps, "unexpected '%c'", *s);
}

static int check_range(parser *ps, int v)
{
    int lo = field_lo[ps->field], hi = field_hi[ps->field];
    if (v < lo || v > hi) return fail(ps, "%d is out of range %d-%d", v, lo, hi);
    return 0;
}

/* One list item: *, *\/n, a, a-b, a/n, a-b/n. */
static int parse_item(parser *ps, svc_cron *c, const char *s, const char *end)
{
    int f = ps->field, lo = field_lo[f], hi = field_hi[f];
    int a, b, step = 1, star = 0;
    const char *p = s;
    if (*p == '*') {
        star = 1;
        a = lo;
        b = hi;
        p++;
    } else {
        if (parse_value(ps, &p, &a) || check_range(ps, a)) return -1;
        b = a;
        if (p < end && *p == '-') {
            p++;
            if (p >= end) return fail(ps, "range '%.*s' has no end", (int)(end - s), s);
            if (parse_value(ps, &p, &b) || check_range(ps, b)) return -1;
        }
    }
    if (p < end && *p == '/') {
        p++;
        if (p >= end || !isdigit((unsigned char)*p))
            return fail(ps, "'/' needs a number after it in '%.*s'", (int)(end - s), s);
        int n;
        if (parse_value(ps, &p, &n)) return -1;
        if (n <= 0 || n > hi - lo + 1)
            return fail(ps, "step %d is out of range 1-%d", n, hi - lo + 1);
        step = n;
        if (!star && b == a) b = hi; /* a/n: from a to the end */
    }
    if (p != end) return fail(ps, "unexpected '%.*s' in '%.*s'", (int)(end - p), p, (int)(end - s), s);
    /* Quartz ranges wrap (FRI-MON, 22-2, NOV-FEB) */
    int span = b >= a ? b - a : (hi - lo + 1) - (a - b);
    for (int k = 0; k <= span; k += step) {
        int v = a + k;
        if (v > hi) v -= hi - lo + 1;
        set_bit(c, f, v);
    }
    return 0;
}

/* Day-of-month and day-of-week forms that stand alone in their field.
 * Returns 1 when handled, 0 when not such a form, -1 on error. */
static int parse_special(parser *ps, svc_cron *c, const char *s)
{
    size_t n = strlen(s);
    int has_special = strchr(s, 'L') || strchr(s, 'l') || strchr(s, 'W') || strchr(s, 'w') ||
                      strchr(s, '#');
    if (ps->field == F_DOM) {
        if (!has_special) return 0;
        if (strchr(s, ',')) return fail(ps, "'%s': L and W cannot be combined with a list", s);
        if (!strcasecmp(s, "L")) {
            c->dom_last = 1;
            return 1;
        }
        if (!strcasecmp(s, "LW")) {
            c->dom_last_weekday = 1;
            return 1;
        }
        if ((s[0] == 'L' || s[0] == 'l') && s[1] == '-') {
            const char *p = s + 2;
            int off;
            if (!isdigit((unsigned char)*p) || parse_value(ps, &p, &off)) return -1;
            if (*p) return fail(ps, "unexpected '%s' after L-%d", p, off);
            if (off < 1 || off > 30) return fail(ps, "L-%d: the offset must be 1-30", off);
            c->dom_last = 1;
            c->dom_last_off = off;
            return 1;
        }
        if (n >= 2 && (s[n - 1] == 'W' || s[n - 1] == 'w')) {
            const char *p = s;
            int day;
            if (!isdigit((unsigned char)*p) || parse_value(ps, &p, &day)) return -1;
            if (p != s + n - 1) return fail(ps, "'%s': W takes a single day (15W)", s);
            if (check_range(ps, day)) return -1;
            c->dom_weekday = day;
            return 1;
        }
        if (strchr(s, '#')) return fail(ps, "'#' belongs in day-of-week, not '%s'", s);
        return fail(ps, "'%s' is not a day-of-month (L, L-n, LW, nW, or values)", s);
    }
    if (ps->field == F_DOW) {
        if (!has_special) return 0;
        if (strchr(s, ',')) return fail(ps, "'%s': L and # cannot be combined with a list", s);
        if (!strcasecmp(s, "L")) { /* Saturday */
            c->dow |= 1U << 7;
            return 1;
        }
        const char *p = s;
        int day;
        if (parse_value(ps, &p, &day) || check_range(ps, day)) return -1;
        if ((*p == 'L' || *p == 'l') && p[1] == '\0') {
            c->dow_last = day;
            return 1;
        }
        if (*p == '#') {
            p++;
            int k;
            if (!isdigit((unsigned char)*p) || parse_value(ps, &p, &k)) return fail(ps, "'%s': '#' needs a number after it", s);
            if (*p) return fail(ps, "unexpected '%s' in '%s'", p, s);
            if (k < 1 || k > 5) return fail(ps, "'%s': the week must be 1-5", s);
            c->dow_nth_day = day;
            c->dow_nth = k;
            return 1;
        }
        return fail(ps, "'%s' is not a day-of-week (nL, n#k, L, or values)", s);
    }
    return 0;
}

static int parse_field(parser *ps, svc_cron *c, const char *s)
{
    int f = ps->field;
    if (!strcmp(s, "?")) {
        if (f != F_DOM && f != F_DOW) return fail(ps, "'?' is only allowed in day-of-month or day-of-week");
        if (f == F_DOM) c->dom_any = 2;
        else c->dow_any = 2;
        return 0;
    }
    if (strchr(s, '?')) return fail(ps, "'?' must stand alone");
    if (!strcmp(s, "*")) {
        if (f == F_DOM) c->dom_any = 1;
        if (f == F_DOW) c->dow_any = 1;
    }
    int sp = parse_special(ps, c, s);
    if (sp) return sp < 0 ? -1 : 0;
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        if (end == p) return fail(ps, "empty item in list '%s'", s);
        if (parse_item(ps, c, p, end)) return -1;
        if (!*end) break;
        p = end + 1;
    }
    return 0;
}

int svc_cron_parse(const char *expr, svc_cron *out, char *err, size_t errlen)
{
    parser ps = {expr ? expr : "", err, errlen, -1};
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    char fields[F_COUNT][64];
    int n = 0;
    const char *p = ps.expr;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        const char *st = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (n == F_COUNT)
            return fail(&ps, "too many fields: expected 6 or 7 (seconds minutes hours "
                             "day-of-month month day-of-week [year])");
        if ((size_t)(p - st) >= sizeof fields[0]) return fail(&ps, "field %d is too long", n + 1);
        memcpy(fields[n], st, (size_t)(p - st));
        fields[n][p - st] = '\0';
        n++;
    }
    if (n < 6)
        return fail(&ps, "%d field%s: expected 6 or 7 (seconds minutes hours day-of-month month "
                         "day-of-week [year])", n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) {
        ps.field = i;
        if (parse_field(&ps, out, fields[i])) return -1;
    }
    ps.field = -1;
    if (n == 6) {
        for (int y = YEAR_MIN; y <= YEAR_MAX; y++) set_bit(out, F_YEAR, y);
    }
    if (out->dom_any == 2 && out->dow_any == 2)
        return fail(&ps, "day-of-month and day-of-week cannot both be '?'");
    /* day-of-week bits were set at 1..7; L alone set bit 7 too */
    return 0;
}

/* ---- next fire time ------------------------------------------------------ */

static int year_on(const svc_cron *c, int64_t y)
{
    if (y < YEAR_MIN || y > YEAR_MAX) return 0;
    int i = (int)(y - YEAR_MIN);
    return (int)((c->years[i / 64] >> (i % 64)) & 1);
}

static int dom_restricted(const svc_cron *c)
{
    return !c->dom_any;
}

static int dow_restricted(const svc_cron *c) { return !c->dow_any; }

static int dom_match(const svc_cron *c, int64_t y, int m, int d)
{
    int last = month_days(y, m);
    if (c->dom_last) return d == last - c->dom_last_off;
    if (c->dom_last_weekday) {
        int day = last;
        int w = weekday(y, m, day);
        if (w == 7) day -= 1;      /* Saturday -> Friday */
        else if (w == 1) day -= 2; /* Sunday -> Friday */
        return d == day;
    }
    if (c->dom_weekday) {
        int target = c->dom_weekday;
        if (target > last) return 0; /* Quartz: no such day this month */
        int w = weekday(y, m, target);
        int day = target;
        if (w == 7) day = target == 1 ? target + 2 : target - 1;          /* Sat */
        else if (w == 1) day = target == last ? target - 2 : target + 1; /* Sun */
        return d == day;
    }
    return (int)((c->dom >> d) & 1);
}

static int dow_match(const svc_cron *c, int64_t y, int m, int d)
{
    int w = weekday(y, m, d);
    if (c->dow_last) return w == c->dow_last && d + 7 > month_days(y, m);
    if (c->dow_nth) return w == c->dow_nth_day && (d - 1) / 7 + 1 == c->dow_nth;
    return (c->dow >> w) & 1;
}

static int day_match(const svc_cron *c, int64_t y, int m, int d)
{
    int rdom = dom_restricted(c), rdow = dow_restricted(c);
    if (rdom && rdow) return dom_match(c, y, m, d) || dow_match(c, y, m, d);
    if (rdom) return dom_match(c, y, m, d);
    if (rdow) return dow_match(c, y, m, d);
    return 1;
}

/* Smallest bit >= from in mask (width bits), or -1. */
static int next_bit(uint64_t mask, int from, int width)
{
    for (int i = from; i < width; i++)
        if ((mask >> i) & 1) return i;
    return -1;
}

/* A broken-down UTC time the search below walks forward. */
typedef struct tm6 {
    int64_t y;
    int m, d, hh, mm, ss;
} tm6;

enum { U_MIN, U_HOUR, U_DAY, U_MONTH, U_YEAR };

/* Move t to the start of the next unit (the next minute, hour, day, month or
 * year): the fields below it reset, an overflow carries upwards. */
static void carry(tm6 *t, int unit)
{
    t->ss = 0;
    if (unit == U_MIN && ++t->mm <= 59) return;
    t->mm = 0;
    if (unit <= U_HOUR && ++t->hh <= 23) return;
    t->hh = 0;
    if (unit <= U_DAY && ++t->d <= month_days(t->y, t->m)) return;
    t->d = 1;
    if (unit <= U_MONTH && ++t->m <= 12) return;
    t->m = 1;
    t->y++;
}

int64_t svc_cron_next(const svc_cron *c, int64_t after)
{
    int64_t t0 = after + 1;
    int64_t days = t0 >= 0 ? t0 / 86400 : -((-t0 + 86399) / 86400);
    int64_t sod = t0 - days * 86400;
    tm6 t;
    svc_civil_from_days(days, &t.y, &t.m, &t.d);
    t.hh = (int)(sod / 3600), t.mm = (int)(sod / 60 % 60), t.ss = (int)(sod % 60);
    if (t.y < YEAR_MIN) t = (tm6){YEAR_MIN, 1, 1, 0, 0, 0};
    /* Each step either finds the field's next value (resetting the smaller
     * fields when it moved) or carries into the larger unit. */
    for (int guard = 0; guard < 200000; guard++) {
        if (t.y > YEAR_MAX) return -1;
        if (!year_on(c, t.y)) {
            carry(&t, U_YEAR);
            continue;
        }
        int nm = next_bit(c->month, t.m, 13);
        if (nm < 0) {
            carry(&t, U_YEAR);
            continue;
        }
        if (nm != t.m) t = (tm6){t.y, nm, 1, 0, 0, 0};
        int last = month_days(t.y, t.m), nd = -1;
        for (int k = t.d; k <= last && nd < 0; k++)
            if (day_match(c, t.y, t.m, k)) nd = k;
        if (nd < 0) {
            carry(&t, U_MONTH);
            continue;
        }
        if (nd != t.d) t = (tm6){t.y, t.m, nd, 0, 0, 0};
        int nh = next_bit(c->hour, t.hh, 24);
        if (nh < 0) {
            carry(&t, U_DAY);
            continue;
        }
        if (nh != t.hh) t.hh = nh, t.mm = t.ss = 0;
        int nmin = next_bit(c->min, t.mm, 60);
        if (nmin < 0) {
            carry(&t, U_HOUR);
            continue;
        }
        if (nmin != t.mm) t.mm = nmin, t.ss = 0;
        int ns = next_bit(c->sec, t.ss, 60);
        if (ns < 0) {
            carry(&t, U_MIN);
            continue;
        }
        t.ss = ns;
        return svc_days_from_civil(t.y, t.m, t.d) * 86400 + t.hh * 3600 + t.mm * 60 + t.ss;
    }
    return -1;
}
