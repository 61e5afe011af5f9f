/* cli_serve.c - the `serve`, `connector` and `job` commands: argument
 * parsing and help; the work is in service/. Stage: front door. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "service/service.h"

static const char serve_usage[] =
    "usage: sql2es serve -c FILE [--log-format text|json] [--listen HOST:PORT]\n"
    "\n"
    "Run the connector service: handle the connectors of FILE through the\n"
    "`.elastic-connectors` and `.elastic-connectors-sync-jobs` indices, as the\n"
    "Elastic connectors' Python service does (Kibana, or `sql2es connector` and\n"
    "`sql2es job`, write the documents). On start it waits for the cluster,\n"
    "creates the two indices when missing and creates a missing connector\n"
    "document from FILE. Pending jobs are picked up within a second, each runs\n"
    "the same engine as `sync` with the connector document's configuration\n"
    "merged over FILE. SIGTERM or SIGINT suspends the running jobs and exits.\n"
    "\n"
    "  -c, --config FILE      configuration (default: config.yml)\n"
    "      --log-format F     text (default) or json (one object per line)\n"
    "      --poll SECONDS     how often to look for pending jobs (default 0.5)\n"
    "      --listen HOST:PORT serve /metrics (Prometheus), /healthz and a status page\n"
    "                         on this address, e.g. 127.0.0.1:9187 (port 0: any free port,\n"
    "                         logged at start)\n"
    "exit: 0 stopped by a signal, 1 the cluster could not be used or the --listen port\n"
    "      cannot be bound (in use), 2 invalid configuration or a --listen value that is\n"
    "      not HOST:PORT\n";

int cli_serve(int argc, char **argv)
{
    enum { O_LOG = 256, O_POLL, O_LISTEN };
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"log-format", required_argument, 0, O_LOG},
                                         {"poll", required_argument, 0, O_POLL},
                                         {"listen", required_argument, 0, O_LISTEN},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    svc_serve_opts o = {"config.yml", 0, 0, NULL};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o.config = optarg; break;
        case O_LOG:
            if (!strcmp(optarg, "json")) o.log_json = 1;
            else if (strcmp(optarg, "text") != 0) {
                fprintf(stderr, "sql2es serve: --log-format is text or json, not '%s'\n", optarg);
                return 2;
            }
            break;
        case O_POLL: {
            char *end;
            double v = strtod(optarg, &end);
            if (*end || end == optarg || !(v >= 0.05 && v <= 3600)) {
                fprintf(stderr, "sql2es serve: --poll takes seconds between 0.05 and 3600, not '%s'\n", optarg);
                return 2;
            }
            o.poll = v;
            break;
        }
        case O_LISTEN: o.listen = optarg; break;
        case 'h': fputs(serve_usage, stdout); return 0;
        default: fputs(serve_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sql2es serve: unexpected argument '%s'\n%s", argv[optind], serve_usage);
        return 2;
    }
    return svc_serve(&o);
}

static const char connector_usage[] =
    "usage: sql2es connector list   -c FILE\n"
    "       sql2es connector create -c FILE [--id ID] [--name NAME] [--index-name INDEX]\n"
    "\n"
    "Connector documents in `.elastic-connectors`, for clusters without Kibana.\n"
    "list    every connector document: id, type, status, index, last sync, last seen\n"
    "create  the document of each connector of FILE (or only --id) that does not\n"
    "        exist yet: the configuration form of its service type, features,\n"
    "        default sync rules and schedules, as Kibana creates it; values left\n"
    "        empty in the document fall back to FILE when a job runs\n"
    "\n"
    "  -c, --config FILE      configuration (default: config.yml)\n"
    "      --id ID            only this connector of FILE\n"
    "      --name NAME        the document's name (default: the id)\n"
    "      --index-name INDEX content index (default: FILE's index_name)\n"
    "exit: 0 done, 1 cluster error, 2 usage\n";

int cli_connector(int argc, char **argv)
{
    enum { O_ID = 256, O_NAME, O_INDEX };
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"id", required_argument, 0, O_ID},
                                         {"name", required_argument, 0, O_NAME},
                                         {"index-name", required_argument, 0, O_INDEX},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(connector_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1], *file = "config.yml", *id = NULL, *name = NULL, *index = NULL;
    if (strcmp(verb, "list") != 0 && strcmp(verb, "create") != 0) {
        fprintf(stderr, "sql2es connector: unknown action '%s' (list or create)\n", verb);
        return 2;
    }
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': file = optarg; break;
        case O_ID: id = optarg; break;
        case O_NAME: name = optarg; break;
        case O_INDEX: index = optarg; break;
        case 'h': fputs(connector_usage, stdout); return 0;
        default: fputs(connector_usage, stderr); return 2;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "sql2es connector %s: unexpected argument '%s'\n", verb, argv[optind + 1]);
        return 2;
    }
    if (!strcmp(verb, "list")) {
        if (id || name || index) {
            fputs("sql2es connector list: --id, --name and --index-name go with create\n", stderr);
            return 2;
        }
        return svc_connector_list(file, stdout);
    }
    return svc_connector_create(file, id, name, index, stdout);
}

static const char job_usage[] =
    "usage: sql2es job start  -c FILE --connector ID --type full|incremental\n"
    "       sql2es job list   -c FILE [--connector ID]\n"
    "       sql2es job cancel -c FILE [--] JOB_ID   (-- when the id starts with -)\n"
    "\n"
    "Sync jobs in `.elastic-connectors-sync-jobs`, for clusters without Kibana.\n"
    "start   a pending on-demand job with a snapshot of the connector document\n"
    "        (what Kibana's Sync button makes); prints the job id. A running\n"
    "        `sql2es serve` picks it up.\n"
    "list    jobs, newest first: id, connector, type, status, counts, error\n"
    "cancel  a pending or suspended job becomes canceled; a running one\n"
    "        canceling, and the service stops it\n"
    "\n"
    "  -c, --config FILE      configuration (default: config.yml)\n"
    "      --connector ID     the connector\n"
    "      --type T           full or incremental\n"
    "exit: 0 done, 1 cluster error, 2 usage\n";

int cli_job(int argc, char **argv)
{
    enum { O_CONN = 256, O_TYPE };
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"connector", required_argument, 0, O_CONN},
                                         {"type", required_argument, 0, O_TYPE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(job_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1], *file = "config.yml", *conn = NULL, *type = NULL;
    if (strcmp(verb, "start") != 0 && strcmp(verb, "list") != 0 && strcmp(verb, "cancel") != 0) {
        fprintf(stderr, "sql2es job: unknown action '%s' (start, list or cancel)\n", verb);
        return 2;
    }
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': file = optarg; break;
        case O_CONN: conn = optarg; break;
        case O_TYPE: type = optarg; break;
        case 'h': fputs(job_usage, stdout); return 0;
        default: fputs(job_usage, stderr); return 2;
        }
    }
    int rest = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if (!strcmp(verb, "cancel")) {
        if (rest != 1 || conn || type) {
            fputs("sql2es job cancel: give exactly one JOB_ID (and no --connector/--type)\n", stderr);
            return 2;
        }
        return svc_job_cancel(file, args[0], stdout);
    }
    if (rest > 0) {
        fprintf(stderr, "sql2es job %s: unexpected argument '%s'\n", verb, args[0]);
        return 2;
    }
    if (!strcmp(verb, "list")) {
        if (type) {
            fputs("sql2es job list: --type goes with start\n", stderr);
            return 2;
        }
        return svc_job_list(file, conn, stdout);
    }
    if (!conn || !type) {
        fputs("sql2es job start: --connector ID and --type full|incremental are required\n", stderr);
        return 2;
    }
    return svc_job_start(file, conn, type, stdout);
}
