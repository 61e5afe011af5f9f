/* cron.h - Quartz cron expressions, as the connector documents' `scheduling`
 * intervals use them, evaluated in UTC with seconds honoured.
 *
 * Stage: the service's scheduler (above one sync run). A pure module: no
 * clock, no time zone, no allocation. Form:
 *
 *     seconds minutes hours day-of-month month day-of-week [year]
 *
 * Each field takes `*`, a value, a range `a-b` (wrapping, as Quartz: FRI-MON,
 * 22-2), a step `a/n`, `*\/n`, `a-b/n`, or a comma list of these. Months take
 * JAN..DEC, days of the week SUN..SAT or 1..7 (1 = Sunday, as Quartz). `?`
 * ("no specific value") is allowed in day-of-month and day-of-week. Alone in
 * their field: day-of-month `L` (last day), `L-n` (n days before it), `LW`
 * (last weekday), `nW` (weekday nearest day n, within the month);
 * day-of-week `L` (Saturday), `nL` (last such day of the month), `n#k` (k-th
 * such day). Year: 1970..2099.
 *
 * Quartz refuses a day-of-month and a day-of-week that are both given; the
 * connectors' Python service accepts them (it turns `?` into `*` and
 * evaluates with cron rules). sql2es accepts them with cron's rule: when
 * both are restricted (neither `*` nor `?`) a day matches either; when one
 * is `*` or `?` the other decides. Both `?` is an error.
 */
#ifndef SQL2ES_SERVICE_CRON_H
#define SQL2ES_SERVICE_CRON_H

#include <stddef.h>
#include <stdint.h>

typedef struct svc_cron {
    uint64_t sec, min;        /* bit n: value n */
    uint32_t hour;
    uint32_t month;           /* bits 1..12 */
    uint64_t dom;             /* bits 1..31 (plain values) */
    uint8_t dow;              /* bits 1..7 (1 = Sunday) */
    uint64_t years[3];        /* bit (y - 1970) */
    /* day-of-month specials */
    int dom_any;              /* `*` or `?`: no restriction from this field */
    int dom_last;             /* L / L-n: 1, offset in dom_last_off */
    int dom_last_off;
    int dom_last_weekday;     /* LW */
    int dom_weekday;          /* nW: n, else 0 */
    /* day-of-week specials */
    int dow_any;
    int dow_last;             /* nL: n (1..7), else 0 */
    int dow_nth_day, dow_nth; /* n#k: day n, k-th; else 0 */
} svc_cron;

/* Parse expr. Returns 0, or -1 with a one-line message in err (naming the
 * field and what is wrong; err may be NULL). */
int svc_cron_parse(const char *expr, svc_cron *out, char *err, size_t errlen);

/* The first fire time strictly after `after` (seconds since the epoch,
 * UTC), or -1 when the expression never fires again (a year list in the
 * past, February 30th, ...). */
int64_t svc_cron_next(const svc_cron *c, int64_t after);

/* UTC calendar helpers (proleptic Gregorian; exposed for tests). */
int64_t svc_days_from_civil(int64_t y, int m, int d);
void svc_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif
