/* main.c - the sql2es command line: dispatches to the commands in cli.c.
 * Stage: front door. It parses no configuration itself. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: sql2es <command> [options]\n"
    "\n"
    "Moves SQL tables (PostgreSQL, MySQL/MariaDB, SQLite) into Elasticsearch/OpenSearch,\n"
    "driven by an Elastic connectors config.yml plus a declarative mapping extension.\n"
    "\n"
    "commands:\n"
    "  validate -c FILE [--check-source]      compile the config; report every error\n"
    "  plan     -c FILE [--table T] [--format text|json]\n"
    "                                         print the compiled plan (secrets redacted)\n"
    "  sync     -c FILE [--connector ID] [--table T] [--full|--incremental]\n"
    "           [--dry-run] [-o FILE] [--limit N]\n"
    "                                         run a sync, or write the _bulk body it would send\n"
    "  schema                                 print the JSON Schema of the config language\n"
    "  serve    -c FILE [--listen HOST:PORT] [--log-format text|json]\n"
    "                                         run the connector service (jobs from Kibana or\n"
    "                                         `sql2es job`); --listen: /metrics, /healthz, status page\n"
    "  connector list|create -c FILE [--id ID]\n"
    "                                         connector documents, without Kibana\n"
    "  job      start|list|cancel -c FILE [--connector ID] [--type full|incremental] [JOB_ID]\n"
    "                                         sync jobs, without Kibana\n"
    "\n"
    "options:\n"
    "  -h, --help       help (also: sql2es COMMAND --help)\n"
    "  -V, --version    print the version\n"
    "\n"
    "exit codes: 0 success, 1 run-time failure, 2 invalid configuration or usage\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("sql2es %s\n", SQL2ES_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "validate")) return cli_validate(argc - 1, argv + 1);
    if (!strcmp(cmd, "plan")) return cli_plan(argc - 1, argv + 1);
    if (!strcmp(cmd, "sync")) return cli_sync(argc - 1, argv + 1);
    if (!strcmp(cmd, "schema")) return cli_schema(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return cli_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "connector")) return cli_connector(argc - 1, argv + 1);
    if (!strcmp(cmd, "job")) return cli_job(argc - 1, argv + 1);
    fprintf(stderr, "sql2es: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
