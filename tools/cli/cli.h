/*  The sluice command line: one function per subcommand. Each returns the
    process exit code: 0 success, 1 failure, 2 usage. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

int sl_cmd_check(int argc, char **argv);
int sl_cmd_run(int argc, char **argv);
int sl_cmd_actors(int argc, char **argv);
int sl_cmd_store(int argc, char **argv);
int sl_cmd_query(int argc, char **argv);
int sl_cmd_schema(int argc, char **argv);
int sl_cmd_dlq(int argc, char **argv);
int sl_cmd_test(int argc, char **argv);
int sl_cmd_backfill(int argc, char **argv);
int sl_cmd_lineage(int argc, char **argv);
int sl_cmd_keygen(int argc, char **argv);
int sl_cmd_token(int argc, char **argv);

struct sl_plan;
struct sl_store;
/*  Open the store the topology `file` names (its tenancy and tenants).
    NULL, with a message prefixed by `prog` on stderr, if the file is
    invalid, names no store, or there is no store there yet. With planp,
    *planp gets the plan (the caller destroys it). */
struct sl_store *sl_cli_store_open(const char *file, const char *prog, struct sl_plan **planp);
/*  The same; with create, a store not there yet is made (for what can
    precede the first run, such as its API tokens). */
struct sl_store *sl_cli_store_open_new(const char *file, const char *prog, struct sl_plan **planp,
                                       int create);

/*  "PROG: message", a blank line and the help on stderr; returns 2 (the
    exit code of a usage error). */
int sl_cli_usage(const char *prog, const char *help, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*  1 if argv has -h or --help. */
int sl_cli_wants_help(int argc, char **argv);

#endif
