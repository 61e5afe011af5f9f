/* cli.h - command implementations behind cli/main.c. Each returns the
 * process exit code: 0 success, 1 run-time failure, 2 invalid config/usage. */
#ifndef SQL2ES_CLI_H
#define SQL2ES_CLI_H

int cli_validate(int argc, char **argv);
int cli_plan(int argc, char **argv);
int cli_schema(int argc, char **argv);
int cli_sync(int argc, char **argv);
/* cli_serve.c */
int cli_serve(int argc, char **argv);
int cli_connector(int argc, char **argv);
int cli_job(int argc, char **argv);

struct plan;
struct diag;
/* Errors (in d) for the connectors of p (all, or only the one named) that
 * have no database settings in the file (plan_connector.source_unset):
 * nothing may connect with them. Returns how many were reported. */
int cli_refuse_unset_sources(const struct plan *p, const char *connector, struct diag *d);

#endif
