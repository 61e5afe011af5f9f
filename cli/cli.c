/* cli.c - the `validate`, `plan` and `schema` commands.
 * Stage: front door; compiles through dsl_compile_file and prints. The
 * `sync` command lives in cli_sync.c. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "engine/sql.h"
#include "sync/check_source.h"
#include "base/diag.h"
#include "plan/plan.h"
#include "service/service.h"

static int use_color(void)
{
    return isatty(STDERR_FILENO) && !getenv("NO_COLOR");
}

/* Compile or print diagnostics; NULL on errors. */
static plan *compile(const char *file, diag *d)
{
    plan *p = dsl_compile_file(file, src_drivers, d);
    if (diag_count(d) || diag_errors(d)) diag_print(d, stderr, use_color());
    return p;
}

int cli_refuse_unset_sources(const plan *p, const char *connector, diag *d)
{
    int n = 0;
    for (int i = 0; i < p->nconnectors; i++) {
        const plan_connector *c = &p->connectors[i];
        if (!c->source_unset || (connector && strcmp(connector, c->id) != 0)) continue;
        diag_error(d, c->loc, "connector '%s' has no database settings in this file", c->id);
        diag_hint(d, "add them under configuration: (%s); this command does not read the "
                  "connector document", c->driver && !(c->driver->caps & SRC_CAP_NETWORK)
                                            ? "path" : "host, username, password, database");
        n++;
    }
    return n;
}

static const char validate_usage[] =
    "usage: sql2es validate -c FILE [--check-source] [-q]\n"
    "\n"
    "Compile the configuration without touching any server and report every\n"
    "error with its file:line:column. With --check-source, also connect to each\n"
    "connector's database and check that tables, referenced columns, cursor\n"
    "columns and keys exist, expanding globs against the real table list.\n"
    "\n"
    "  -c, --config FILE   configuration (default: config.yml)\n"
    "      --check-source  also ask the databases\n"
    "  -q, --quiet         print nothing when valid\n"
    "exit: 0 valid, 1 a database could not be reached, 2 invalid\n";

int cli_validate(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"check-source", no_argument, 0, 'S'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *file = "config.yml";
    int check = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': file = optarg; break;
        case 'S': check = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(validate_usage, stdout); return 0;
        default: fputs(validate_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sql2es validate: unexpected argument '%s'\n%s", argv[optind], validate_usage);
        return 2;
    }
    diag *d = diag_new();
    plan *p = compile(file, d);
    int rc = 2;
    if (!p) goto done;
    if (check) {
        diag_clear(d);
        if (cli_refuse_unset_sources(p, NULL, d)) {
            diag_print(d, stderr, use_color());
            goto done;
        }
        rc = eng_check_source(p, d, quiet ? NULL : stdout);
        if (diag_count(d)) diag_print(d, stderr, use_color());
        if (rc) goto done;
    }
    if (!quiet) {
        int ntables = 0;
        for (int i = 0; i < p->nconnectors; i++) ntables += p->connectors[i].ntables;
        printf("%s: valid (%d connector%s, %d table entr%s)\n", file, p->nconnectors,
               p->nconnectors == 1 ? "" : "s", ntables, ntables == 1 ? "y" : "ies");
    }
    rc = 0;
done:
    plan_free(p);
    diag_free(d);
    return rc;
}

static const char plan_usage[] =
    "usage: sql2es plan -c FILE [--table T] [--format text|json] [--connector ID]\n"
    "\n"
    "Print the compiled plan: connectors, tables (globs and templates expanded),\n"
    "SQL, parameters, document operations, id, rules, incremental settings and\n"
    "mapping overrides. Secrets are shown as ***.\n"
    "\n"
    "  -c, --config FILE   configuration (default: config.yml)\n"
    "  -t, --table T       only table entries named T\n"
    "  -f, --format F      text (default) or json\n"
    "      --connector ID  the plan a served job of connector ID runs: its document\n"
    "                      in .elastic-connectors (Kibana's values) merged over FILE\n"
    "exit: 0 printed, 1 cluster error (--connector), 2 invalid\n";

int cli_plan(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"table", required_argument, 0, 't'},
                                         {"format", required_argument, 0, 'f'},
                                         {"connector", required_argument, 0, 'C'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *file = "config.yml", *table = NULL, *format = "text", *served = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:t:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': file = optarg; break;
        case 't': table = optarg; break;
        case 'f': format = optarg; break;
        case 'C': served = optarg; break;
        case 'h': fputs(plan_usage, stdout); return 0;
        default: fputs(plan_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sql2es plan: unexpected argument '%s'\n%s", argv[optind], plan_usage);
        return 2;
    }
    plan_format fmt;
    if (!strcmp(format, "text")) {
        fmt = PLAN_FMT_TEXT;
    } else if (!strcmp(format, "json")) {
        fmt = PLAN_FMT_JSON;
    } else {
        fprintf(stderr, "sql2es plan: unknown format '%s' (text or json)\n", format);
        return 2;
    }
    if (served) return svc_plan_served(file, served, stdout, fmt, table);
    diag *d = diag_new();
    plan *p = compile(file, d);
    int rc = 2;
    if (p) {
        plan_print(p, stdout, fmt, table, eng_sql_text);
        rc = fflush(stdout) == 0 ? 0 : 1;
    }
    plan_free(p);
    diag_free(d);
    return rc;
}

int cli_schema(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        puts("usage: sql2es schema\n\nPrint the JSON Schema of the configuration language "
             "(for editors; generated from the same description that drives the checker).");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "sql2es schema: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    return dsl_print_json_schema(stdout) == 0 && fflush(stdout) == 0 ? 0 : 1;
}
