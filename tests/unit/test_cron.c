/* test_cron.c - Quartz cron: parsing (every form the connectors' schedules
 * use, and clear errors), next fire time in UTC with seconds, month ends,
 * leap years, L/W/#, year lists, wrap-around ranges, expressions that never
 * fire again. */
#include <stdio.h>
#include <string.h>

#include "service/cron.h"
#include "service/svc.h"
#include "t.h"

static long long at(int y, int mo, int d, int h, int mi, int s)
{
    return (long long)svc_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static const char *fmt(long long t, char *out, size_t n)
{
    if (t < 0) {
        snprintf(out, n, "never");
        return out;
    }
    long long days = t / 86400, sod = t % 86400;
    int64_t y;
    int m, d;
    svc_civil_from_days(days, &y, &m, &d);
    snprintf(out, n, "%04lld-%02d-%02dT%02lld:%02lld:%02lld", (long long)y, m, d, sod / 3600,
             sod / 60 % 60, sod % 60);
    return out;
}

/* next(expr, after) printed, compared with want ("never" for -1) */
static void next_is(const char *expr, long long after, const char *want)
{
    svc_cron c;
    char err[256], got[64], name[256], a[64];
    snprintf(name, sizeof name, "'%s' after %s is %s", expr, fmt(after, a, sizeof a), want);
    if (svc_cron_parse(expr, &c, err, sizeof err) != 0) {
        T_STREQ(err, "(parsed)", name);
        return;
    }
    T_STREQ(fmt(svc_cron_next(&c, after), got, sizeof got), want, name);
}

static void invalid(const char *expr, const char *needle)
{
    svc_cron c;
    char err[256] = "", name[256];
    int rc = svc_cron_parse(expr, &c, err, sizeof err);
    snprintf(name, sizeof name, "'%s' is refused: %s", expr, needle);
    T_CHECK(rc == -1 && strstr(err, needle) != NULL, name);
    if (rc != -1 || !strstr(err, needle)) printf("#   message: %s\n", err);
}

int main(void)
{
    T_PLAN(88);
    /* calendar helpers */
    T_CHECK(svc_days_from_civil(1970, 1, 1) == 0, "epoch is day 0");
    T_CHECK(svc_days_from_civil(2000, 3, 1) == 11017, "2000-03-01 is day 11017");
    int64_t y;
    int m, d;
    svc_civil_from_days(19782, &y, &m, &d);
    T_CHECK(y == 2024 && m == 2 && d == 29, "day 19782 is 2024-02-29");

    /* the connectors' own forms */
    next_is("0 0 0 * * ?", at(2024, 1, 1, 0, 0, 0), "2024-01-02T00:00:00");
    next_is("0 0 0 * * ?", at(2024, 1, 1, 23, 59, 59), "2024-01-02T00:00:00");
    next_is("1 * * * * ?", at(2024, 1, 1, 12, 0, 1), "2024-01-01T12:01:01");
    next_is("1 * * * * ?", at(2024, 1, 1, 12, 0, 0), "2024-01-01T12:00:01");
    /* seconds honoured (the Python service drops them) */
    next_is("0/5 * * * * ?", at(2024, 1, 1, 12, 0, 3), "2024-01-01T12:00:05");
    next_is("*/5 * * * * ?", at(2024, 1, 1, 12, 0, 55), "2024-01-01T12:01:00");
    next_is("3/20 * * * * ?", at(2024, 1, 1, 12, 0, 43), "2024-01-01T12:01:03");
    next_is("10-20/5 * * * * ?", at(2024, 1, 1, 12, 0, 16), "2024-01-01T12:00:20");
    next_is("* * * * * ?", at(2024, 1, 1, 12, 0, 16), "2024-01-01T12:00:17");
    next_is("* * * * * ?", -1, "1970-01-01T00:00:00");
    next_is("0 15,45 * * * ?", at(2024, 1, 1, 12, 15, 0), "2024-01-01T12:45:00");
    next_is("0 0 */6 * * ?", at(2024, 1, 1, 19, 0, 0), "2024-01-02T00:00:00");
    /* year, month and day rollovers */
    next_is("59 59 23 31 12 ?", at(2024, 12, 31, 23, 59, 59), "2025-12-31T23:59:59");
    next_is("59 59 23 31 12 ?", at(2024, 12, 31, 23, 59, 58), "2024-12-31T23:59:59");
    next_is("0 0 0 31 * ?", at(2024, 4, 1, 0, 0, 0), "2024-05-31T00:00:00");
    next_is("0 0 0 31 * ?", at(2024, 1, 31, 0, 0, 0), "2024-03-31T00:00:00");
    /* leap years */
    next_is("0 0 0 29 2 ?", at(2023, 3, 1, 0, 0, 0), "2024-02-29T00:00:00");
    next_is("0 0 0 29 2 ?", at(2024, 2, 29, 0, 0, 0), "2028-02-29T00:00:00");
    next_is("0 0 0 29 FEB ?", at(2096, 3, 1, 0, 0, 0), "never"); /* 2100 is not leap; 2104 > 2099 */
    next_is("0 0 0 29 2 ?", at(1999, 3, 1, 0, 0, 0), "2000-02-29T00:00:00");
    next_is("0 0 0 30 2 ?", at(2024, 1, 1, 0, 0, 0), "never");
    /* L, L-n, LW, nW */
    next_is("0 0 0 L * ?", at(2024, 2, 10, 0, 0, 0), "2024-02-29T00:00:00");
    next_is("0 0 0 L * ?", at(2023, 2, 10, 0, 0, 0), "2023-02-28T00:00:00");
    next_is("0 0 0 L * ?", at(2024, 4, 30, 0, 0, 0), "2024-05-31T00:00:00");
    next_is("0 0 0 L-2 * ?", at(2023, 2, 1, 0, 0, 0), "2023-02-26T00:00:00");
    next_is("0 0 0 LW * ?", at(2024, 8, 1, 0, 0, 0), "2024-08-30T00:00:00");  /* 31st a Saturday */
    next_is("0 0 0 15W * ?", at(2024, 6, 1, 0, 0, 0), "2024-06-14T00:00:00"); /* Sat -> Fri */
    next_is("0 0 0 15W * ?", at(2024, 9, 1, 0, 0, 0), "2024-09-16T00:00:00"); /* Sun -> Mon */
    next_is("0 0 0 1W * ?", at(2024, 5, 31, 0, 0, 0), "2024-06-03T00:00:00"); /* stays in June */
    next_is("0 0 0 31W * ?", at(2024, 4, 1, 0, 0, 0), "2024-05-31T00:00:00"); /* April has no 31st */
    /* day of week: 1 = Sunday, names, ranges, nL, n#k */
    next_is("0 0 12 ? * MON-FRI", at(2024, 3, 1, 13, 0, 0), "2024-03-04T12:00:00");
    next_is("0 0 12 ? * 2-6", at(2024, 3, 1, 13, 0, 0), "2024-03-04T12:00:00");
    next_is("0 0 0 ? * 1", at(2024, 3, 1, 0, 0, 0), "2024-03-03T00:00:00");
    next_is("0 0 0 ? * sun", at(2024, 3, 1, 0, 0, 0), "2024-03-03T00:00:00");
    next_is("0 0 0 ? * FRI-MON", at(2024, 3, 5, 0, 0, 0), "2024-03-08T00:00:00");
    next_is("0 0 0 ? * L", at(2024, 3, 1, 0, 0, 0), "2024-03-02T00:00:00");
    next_is("0 0 0 ? * 6L", at(2024, 5, 1, 0, 0, 0), "2024-05-31T00:00:00");
    next_is("0 0 0 ? * 6#3", at(2024, 3, 1, 0, 0, 0), "2024-03-15T00:00:00");
    next_is("0 0 0 ? * 2#5", at(2024, 1, 29, 0, 0, 0), "2024-04-29T00:00:00");
    /* both days restricted: either matches (cron rule) */
    next_is("0 0 0 13 * FRI", at(2024, 3, 2, 0, 0, 0), "2024-03-08T00:00:00");
    next_is("0 0 0 4 * FRI", at(2024, 3, 2, 0, 0, 0), "2024-03-04T00:00:00");
    next_is("0 0 0 * * *", at(2024, 3, 2, 0, 0, 0), "2024-03-03T00:00:00");
    /* months, wrap-around ranges, years */
    next_is("0 0 0 1 JAN,jul ?", at(2024, 1, 1, 0, 0, 0), "2024-07-01T00:00:00");
    next_is("0 0 0 1 NOV-FEB ?", at(2024, 3, 1, 0, 0, 0), "2024-11-01T00:00:00");
    next_is("0 0 22-2 * * ?", at(2024, 3, 1, 3, 0, 0), "2024-03-01T22:00:00");
    next_is("0 0 22-2 * * ?", at(2024, 3, 1, 23, 0, 0), "2024-03-02T00:00:00");
    next_is("0 0 0 1 1 ? 2025", at(2024, 6, 1, 0, 0, 0), "2025-01-01T00:00:00");
    next_is("0 0 0 1 1 ? 2025", at(2025, 1, 1, 0, 0, 0), "never");
    next_is("0 0 0 1 1 ? 2030-2040/5", at(2031, 1, 1, 0, 0, 0), "2035-01-01T00:00:00");
    next_is("0 0 0 1 1 ? *", at(2098, 6, 1, 0, 0, 0), "2099-01-01T00:00:00");
    next_is("0 0 0 1 1 ? *", at(2099, 6, 1, 0, 0, 0), "never");
    next_is("  0   0  0 1 1 ?  ", at(2024, 6, 1, 0, 0, 0), "2025-01-01T00:00:00");

    /* the times connector documents hold */
    T_CHECK(svc_parse_iso("2024-02-29T12:00:03.123456+00:00") == at(2024, 2, 29, 12, 0, 3), "ISO time with +00:00");
    T_CHECK(svc_parse_iso("2024-02-29T12:00:03Z") == at(2024, 2, 29, 12, 0, 3), "ISO time with Z");
    T_CHECK(svc_parse_iso("2024-02-29T14:00:03+02:00") == at(2024, 2, 29, 12, 0, 3), "ISO time with an offset");
    T_CHECK(svc_parse_iso("yesterday") == -1 && svc_parse_iso(NULL) == -1, "not a time");

    /* refused, with the field named */
    invalid("", "0 fields");
    invalid("* * * * *", "5 fields: expected 6 or 7");
    invalid("0 0 0 * * ? * *", "too many fields");
    invalid("60 * * * * ?", "seconds: 60 is out of range 0-59");
    invalid("0 60 * * * ?", "minutes: 60 is out of range");
    invalid("0 0 24 * * ?", "hours: 24 is out of range 0-23");
    invalid("0 0 0 32 * ?", "day-of-month: 32 is out of range 1-31");
    invalid("0 0 0 0 * ?", "day-of-month: 0 is out of range");
    invalid("0 0 0 * 13 ?", "month: 13 is out of range 1-12");
    invalid("0 0 0 ? * 8", "day-of-week: 8 is out of range 1-7");
    invalid("0 0 0 ? * 0", "day-of-week: 0 is out of range 1-7");
    invalid("0 0 0 * FOO ?", "month: unknown month name 'FOO'");
    invalid("0 0 0 ? * MOX", "day-of-week: unknown day name");
    invalid("0 0 0 * * ? 1969", "year: 1969 is out of range 1970-2099");
    invalid("*/0 * * * * ?", "seconds: step 0 is out of range");
    invalid("0/61 * * * * ?", "seconds: step 61");
    invalid("? * * * * *", "seconds: '?' is only allowed");
    invalid("0 0 0 ? * ?", "cannot both be '?'");
    invalid("0 0 0 L,3 * ?", "day-of-month: 'L,3'");
    invalid("0 0 0 ? * 6#6", "day-of-week: '6#6': the week must be 1-5");
    invalid("0 0 0 ? * 6#", "day-of-week");
    invalid("0 0 0 3#2 * ?", "day-of-month: '#' belongs in day-of-week");
    invalid("0 0 0 L-31 * ?", "the offset must be 1-30");
    invalid("a b c d e f", "seconds: unexpected 'a'");
    invalid("0 0 0 * * MONDAY", "day-of-week: unexpected");
    invalid("1- * * * * ?", "seconds: range '1-' has no end");
    invalid("1,,2 * * * * ?", "seconds: empty item");
    invalid("1-2x * * * * ?", "seconds: unexpected");
    invalid("0 0 0 * JAN ?/2", "'?' must stand alone");
    return T_DONE();
}
