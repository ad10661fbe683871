/*  sluice run FILE [--node NAME] [--tenant T] [--log-level LEVEL] [--drain-timeout SECONDS]

    Signals are taken with a signalfd (blocked in every thread), so the main
    loop handles them in order with everything else: SIGTERM/SIGINT drain and
    exit 0, a second one stops at once; SIGHUP reloads the file. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "sluice/admin.h"
#include "sluice/engine.h"
#include "sluice/log.h"
#include "sluice/topology.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice run FILE [--node NAME] [--tenant T] [--log-level LEVEL]\n"
    "                       [--drain-timeout SECONDS]\n"
    "\n"
    "Runs a topology: every actor of every node in this process, or with\n"
    "--node only the actors of that node (other nodes are reached over TCP,\n"
    "CurveZMQ with the tenants' keys). The admin listener (/metrics, /healthz,\n"
    "/readyz) is the node's `admin`, or the top-level `admin`; it must be a\n"
    "loopback address unless `auth.admin` is token (docs/auth.md).\n"
    "\n"
    "  --node NAME            run only this node's actors\n"
    "  --tenant T             a 'tenancy: isolated' file: run tenant T's own copy\n"
    "                         (its keys only, store <store path>/T, every port\n"
    "                         moved by its port_offset); required for such files\n"
    "  --log-level LEVEL      debug, info (default), warn, error\n"
    "  --drain-timeout SECS   bound on draining after SIGTERM (default 30)\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop the sources and drain the pipeline, then exit 0\n"
    "(a second signal stops at once); SIGHUP re-reads FILE: if it is valid the\n"
    "difference is applied, otherwise the running topology stays and the errors\n"
    "are logged. The process also exits 0 once every actor has finished.\n";

static void s_log_errors(const sl_errors_t *errors)
{
    for (int i = 0; i < errors->count; i++) {
        sl_buf_t f = {0};
        sl_buf_append(&f, "\"error\":\"", 9);
        sl_json_escape(&f, errors->lines[i], strlen(errors->lines[i]));
        sl_buf_append(&f, "\"", 2);
        sl_log(SL_LOG_ERROR, NULL, (const char *)f.data, "%s", errors->lines[i]);
        sl_buf_free(&f);
    }
}

static const char *s_admin_addr(const sl_plan_t *plan, const char *node)
{
    if (node) {
        const sl_plan_node_t *n = sl_plan_node(plan, node);
        return n && n->admin ? n->admin : NULL;
    }
    if (plan->admin) {
        return plan->admin;
    }
    return plan->n_nodes > 0 ? plan->nodes[0].admin : NULL;
}

int sl_cmd_run(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    const char *file = NULL, *node = NULL, *tenant = NULL;
    double drain_timeout = 30;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
            node = argv[++i];
        } else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
            tenant = argv[++i];
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            sl_log_level_t level;
            if (sl_log_level_parse(argv[++i], &level) != SL_OK) {
                fprintf(stderr, "sluice run: unknown log level '%s' (debug, info, warn, error)\n",
                        argv[i]);
                return 2;
            }
            sl_log_set_level(level);
        } else if (strcmp(argv[i], "--drain-timeout") == 0 && i + 1 < argc) {
            char *end;
            drain_timeout = strtod(argv[++i], &end);
            if (*end || drain_timeout <= 0) {
                fprintf(stderr, "sluice run: --drain-timeout expects seconds > 0\n");
                return 2;
            }
        } else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "sluice run: unexpected argument '%s'\n\n%s", argv[i], s_help);
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        fputs(s_help, stderr);
        return 2;
    }

    /* Block the signals before any thread starts: every thread inherits
       the mask, and only the signalfd sees them. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        fprintf(stderr, "sluice run: signalfd: %s\n", strerror(errno));
        return 1;
    }

    int exit_code = 1;
    sl_metrics_t *metrics = NULL;
    sl_admin_t *admin = NULL;
    sl_engine_t *engine = NULL;
    sl_errors_t errors = {0};
    char *admin_auth = NULL; /* the admin listener keeps the auth it started with */
    sl_plan_t *plan = sl_topology_load_tenant(file, tenant, &errors);
    if (!plan) {
        for (int i = 0; i < errors.count; i++) {
            fprintf(stderr, "%s\n", errors.lines[i]);
        }
        goto done;
    }
    if (!tenant && plan->tenancy == SL_TENANCY_ISOLATED) {
        fprintf(stderr,
                "sluice run: %s is 'tenancy: isolated': run one tenant's copy with --tenant T "
                "(one process per tenant and node)\n",
                file);
        exit_code = 2;
        goto done;
    }
    if (node && !sl_plan_node(plan, node)) {
        fprintf(stderr, "sluice run: %s declares no node '%s'\n", file, node);
        exit_code = 2;
        goto done;
    }
    sl_log_set_node(node);
    metrics = sl_metrics_new();
    if (!metrics) {
        goto done;
    }
    const char *addr = s_admin_addr(plan, node);
    if (addr) {
        admin = sl_admin_new_auth(addr, metrics, plan->auth, plan->store_path);
        admin_auth = plan->auth ? strdup(plan->auth) : NULL;
        if (!admin) {
            sl_error(NULL, "cannot start the admin listener on %s", addr);
            goto done;
        }
        sl_info(NULL, "admin listener on %s", addr);
    }
    engine = sl_engine_new(node, metrics);
    if (!engine) {
        goto done;
    }
    char err[512] = "";
    if (sl_engine_start(engine, &plan, err, sizeof err) != SL_OK) {
        sl_error(NULL, "start failed: %s", err);
        fprintf(stderr, "sluice run: %s\n", err);
        goto done;
    }

    int64_t deadline = 0;
    int signals = 0;
    while (!sl_engine_finished(engine)) {
        if (deadline && sl_mono_us() > deadline) {
            sl_error(NULL, "drain did not finish in %.0f s: %d actor instances stopped as they are",
                     drain_timeout, sl_engine_running(engine));
            exit_code = 1;
            goto done;
        }
        if (!sl_engine_poll(engine, 200, sfd)) {
            continue;
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo == SIGHUP) {
                sl_errors_t rerr = {0};
                sl_plan_t *next = sl_topology_load_tenant(file, tenant, &rerr);
                if (!next) {
                    sl_error(NULL,
                             "reload refused: %s is invalid (%d errors); the running "
                             "topology stays",
                             file, rerr.count);
                    s_log_errors(&rerr);
                } else if (node && !sl_plan_node(next, node)) {
                    sl_error(NULL, "reload refused: %s no longer declares node '%s'", file, node);
                    sl_plan_destroy(&next);
                } else {
                    if (admin &&
                        !(admin_auth && next->auth && strcmp(admin_auth, next->auth) == 0) &&
                        (admin_auth || next->auth)) {
                        sl_warn(NULL, "reload: auth changed; the HTTP actors restart with it, the "
                                      "admin listener keeps the one it started with until a "
                                      "restart");
                    }
                    if (sl_engine_reload(engine, &next, err, sizeof err) != SL_OK) {
                        sl_error(NULL, "reload: %s", err);
                    }
                }
                sl_errors_free(&rerr);
                continue;
            }
            signals++;
            if (signals == 1) {
                sl_info(NULL, "signal %d: stopping sources and draining", (int)si.ssi_signo);
                sl_engine_drain(engine);
                deadline = sl_mono_us() + (int64_t)(drain_timeout * 1e6);
            } else {
                sl_warn(NULL, "second signal: stopping now");
                exit_code = 1;
                goto done;
            }
        }
    }
    sl_info(NULL, "every actor finished; exiting");
    exit_code = 0;
done:
    sl_admin_destroy(&admin);
    free(admin_auth);
    sl_engine_destroy(&engine);
    sl_metrics_destroy(&metrics);
    sl_plan_destroy(&plan);
    sl_errors_free(&errors);
    close(sfd);
    return exit_code;
}
