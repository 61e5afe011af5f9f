/* cli_sync.c - the `sync` command: compile, then run sync/run.c, then
 * print the summary. Stage: front door. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "cli/cli.h"
#include "sync/sync.h"

static const char sync_usage[] =
    "usage: sql2es sync -c FILE [--connector ID] [--table T] [--full|--incremental]\n"
    "                   [--dry-run] [-o FILE] [--limit N] [--state-file F]\n"
    "                   [--lock-wait SECONDS] [-q] [-v]\n"
    "       sql2es sync -c FILE [--connector ID] [--table T] --follow [--poll | --drop-slot]\n"
    "\n"
    "Read each connector's tables and index them. Tables with an incremental\n"
    "cursor are read incrementally (from the saved watermark, minus `lag`),\n"
    "the others fully; a full sync then deletes the documents it did not see.\n"
    "\n"
    "  -c, --config FILE     configuration (default: config.yml)\n"
    "      --connector ID    only this connector\n"
    "  -t, --table T         only this table\n"
    "      --full            force a full sync (re-read everything, delete unseen)\n"
    "      --incremental     force incremental reads (tables with a cursor)\n"
    "  -n, --dry-run         write the exact _bulk body instead of sending it\n"
    "  -o, --output FILE     dry-run output (default: stdout)\n"
    "      --limit N         at most N rows per table\n"
    "      --state-file F    incremental watermarks (default: .sql2es-state next to\n"
    "                        the config, or the connector's state_file)\n"
    "      --lock-wait S     wait at most S seconds for another run of the same\n"
    "                        connector and tables (default 60; 0: fail at once)\n"
    "  -q, --quiet           no progress (the summary is still printed)\n"
    "  -v, --verbose         itemise every value warning (default: the first few)\n"
    "  -f, --follow          keep the index current until stopped: PostgreSQL reads\n"
    "                        logical replication (slot `replication_slot`, default\n"
    "                        sql2es_<connector_id>; a new slot starts with a full\n"
    "                        sync from its snapshot); MySQL/MariaDB reads the\n"
    "                        row-based binlog (the position is saved in the\n"
    "                        follow state file); SQLite runs an incremental sync\n"
    "                        every `follow_interval` seconds\n"
    "      --poll            with --follow: run an incremental sync every\n"
    "                        `follow_interval` seconds instead of reading the\n"
    "                        database's change stream\n"
    "      --drop-slot       with --follow: drop the connector's replication slot (and\n"
    "                        the publication sql2es made) and forget its position;\n"
    "                        the next --follow starts over with a full sync\n"
    "SIGINT/SIGTERM stop reading, settle the requests in flight (at most 30 s;\n"
    "a second signal stops at once), save what was acknowledged, print the summary.\n"
    "exit: 0 done, 1 run-time failure, 2 invalid configuration or usage,\n"
    "      130 interrupted (SIGINT), 143 terminated (SIGTERM)\n";

/* Seconds an interrupted sync may take to settle its requests before it
 * exits without waiting for them. */
#define STOP_GRACE_S 30

static volatile sig_atomic_t stop_signal;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "sql2es: requests still unsettled after the grace period: stopping\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(128 + (stop_signal ? stop_signal : SIGALRM));
}

static void on_stop(int sig)
{
    stop_signal = sig;
    static const char msg[] = "\nsql2es: stopping: settling the requests in flight "
                              "(a second signal stops at once)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    alarm(STOP_GRACE_S);
}

/* SIGINT/SIGTERM ask the run to stop; the handler is reset after the first,
 * so a second one ends the process at once. A signal the caller ignores
 * (nohup, a background job of a script) stays ignored. */
static void catch_stop_signals(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sa.sa_handler = on_stop;
    static const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
}

int cli_sync(int argc, char **argv)
{
    enum { O_CONNECTOR = 256, O_FULL, O_INCR, O_LIMIT, O_STATE, O_LOCK_WAIT, O_DROP_SLOT, O_POLL };
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"connector", required_argument, 0, O_CONNECTOR},
                                         {"table", required_argument, 0, 't'},
                                         {"full", no_argument, 0, O_FULL},
                                         {"incremental", no_argument, 0, O_INCR},
                                         {"dry-run", no_argument, 0, 'n'},
                                         {"output", required_argument, 0, 'o'},
                                         {"limit", required_argument, 0, O_LIMIT},
                                         {"state-file", required_argument, 0, O_STATE},
                                         {"lock-wait", required_argument, 0, O_LOCK_WAIT},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"follow", no_argument, 0, 'f'},
                                         {"drop-slot", no_argument, 0, O_DROP_SLOT},
                                         {"poll", no_argument, 0, O_POLL},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *file = "config.yml", *output = NULL;
    eng_sync_opts o = {0};
    o.lock_wait = 60;
    int c, follow = 0, drop_slot = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:t:no:qvfh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': file = optarg; break;
        case O_CONNECTOR: o.connector = optarg; break;
        case 't': o.table = optarg; break;
        case O_FULL:
        case O_INCR:
            if (o.mode != ENG_MODE_AUTO) {
                fputs("sql2es sync: --full and --incremental exclude each other\n", stderr);
                return 2;
            }
            o.mode = c == O_FULL ? ENG_MODE_FULL : ENG_MODE_INCREMENTAL;
            break;
        case 'n': o.dry_run = 1; break;
        case 'o': output = optarg; break;
        case O_LIMIT: {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || end == optarg || optarg[0] == '-' || v == 0) {
                fprintf(stderr, "sql2es sync: --limit takes a positive integer, not '%s'\n", optarg);
                return 2;
            }
            o.limit = v;
            break;
        }
        case O_STATE: o.state_file = optarg; break;
        case O_LOCK_WAIT: {
            char *end;
            double v = strtod(optarg, &end);
            if (*end || end == optarg || !(v >= 0 && v <= 86400 * 7)) {
                fprintf(stderr, "sql2es sync: --lock-wait takes seconds (0 to 604800), not '%s'\n", optarg);
                return 2;
            }
            o.lock_wait = v;
            break;
        }
        case 'q': o.quiet = 1; break;
        case 'v': o.verbose = 1; break;
        case 'f': follow = 1; break;
        case O_DROP_SLOT: drop_slot = 1; break;
        case O_POLL: o.follow_poll = 1; break;
        case 'h': fputs(sync_usage, stdout); return 0;
        default: fputs(sync_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sql2es sync: unexpected argument '%s'\n%s", argv[optind], sync_usage);
        return 2;
    }
    if (drop_slot && !follow) {
        fputs("sql2es sync: --drop-slot goes with --follow\n", stderr);
        return 2;
    }
    if (o.follow_poll && (!follow || drop_slot)) {
        fputs("sql2es sync: --poll goes with --follow (not with --drop-slot)\n", stderr);
        return 2;
    }
    if (follow && (o.dry_run || o.limit || o.mode != ENG_MODE_AUTO)) {
        fputs("sql2es sync: --follow excludes --dry-run, --limit, --full and --incremental\n",
              stderr);
        return 2;
    }
    if (output && !o.dry_run) {
        fputs("sql2es sync: -o/--output goes with --dry-run\n", stderr);
        return 2;
    }
    int color = isatty(STDERR_FILENO) && !getenv("NO_COLOR");
    diag *d = diag_new();
    plan *p = dsl_compile_file(file, src_drivers, d);
    if (diag_count(d)) diag_print(d, stderr, color);
    if (!p) {
        diag_free(d);
        return 2;
    }
    diag_clear(d);
    if (cli_refuse_unset_sources(p, o.connector, d)) {
        diag_print(d, stderr, color);
        plan_free(p);
        diag_free(d);
        return 2;
    }
    FILE *out = NULL;
    if (o.dry_run) {
        out = output && strcmp(output, "-") ? fopen(output, "w") : stdout;
        if (!out) {
            fprintf(stderr, "sql2es sync: cannot open '%s' for writing\n", output);
            plan_free(p);
            diag_free(d);
            return 1;
        }
        static char obuf[1 << 16];
        setvbuf(out, obuf, _IOFBF, sizeof obuf);
        o.out = out;
    }
    o.tty = isatty(STDERR_FILENO);
    o.stop = &stop_signal;
    catch_stop_signals();
    eng_sync_stats st;
    memset(&st, 0, sizeof st);
    if (drop_slot) {
        int drc = eng_follow_drop(p, &o, d);
        if (diag_count(d)) diag_print(d, stderr, color);
        plan_free(p);
        diag_free(d);
        return drc;
    }
    int rc = follow ? eng_follow_run(p, &o, &st, d) : eng_sync_run(p, &o, &st, d);
    alarm(0);
    if (out && out != stdout) {
        if (fclose(out) != 0 && rc == 0) rc = 1;
    } else if (out) {
        fflush(out);
    }
    if (diag_count(d)) diag_print(d, stderr, color);
    /* every error reported, and every document the cluster refused (they
     * are in the dead-letter file, not in the messages) */
    uint64_t errors = st.errors;
    if ((uint64_t)diag_errors(d) > errors) errors = (uint64_t)diag_errors(d);
    errors += st.failed;
    int sig = stop_signal;
    if (sig) rc = 128 + sig;
    {
        fprintf(stderr,
                "sql2es: %s%s: %" PRIu64 " tables, %" PRIu64 " rows read, %" PRIu64
                " documents, %" PRIu64 " deletes, %" PRIu64 " filtered, %" PRIu64
                " warnings, %" PRIu64 " errors",
                o.dry_run ? "dry run" : follow ? "follow" : "sync",
                sig == SIGINT ? " INTERRUPTED" : sig ? " TERMINATED" : rc ? " FAILED" : " done",
                st.tables, st.rows, st.docs, st.deletes, st.filtered, st.warnings, errors);
        if (!o.dry_run)
            fprintf(stderr, "; acknowledged %" PRIu64 ", dead-lettered %" PRIu64 ", unseen deleted %" PRIu64,
                    st.indexed, st.failed, st.swept);
        if (st.retried) fprintf(stderr, "; %" PRIu64 " retried", st.retried);
        if (st.skipped_tables) fprintf(stderr, "; %" PRIu64 " tables skipped", st.skipped_tables);
        fprintf(stderr, " in %.2f s (%.0f rows/s)\n", st.seconds,
                st.seconds > 0 ? (double)st.rows / st.seconds : 0.0);
    }
    plan_free(p);
    diag_free(d);
    return rc;
}
