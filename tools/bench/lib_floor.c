/*  lib_floor: the floor the idle memory of sluice is measured against. A
    program that does nothing but load and start the Debian libraries every
    sluice process needs, the way sluice starts them: the CZMQ context with
    one actor thread (libzmq, CZMQ), one libmicrohttpd daemon with its own
    thread on a loopback port (MHD initialises GnuTLS as it loads), an LMDB
    environment handle, a libyaml parser, a jansson object, libsodium.

      lib_floor

    Prints "ready" once all is started, then idles until SIGTERM or SIGINT.
    Its VmRSS is what the same Debian libraries cost in any process; the
    idle edge topology minus this is what sluice itself adds
    (tools/bench/run.sh, docs/performance.md). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>
#include <jansson.h>
#include <lmdb.h>
#include <microhttpd.h>
#include <sodium.h>
#include <yaml.h>

static void s_actor(zsock_t *pipe, void *arg)
{
    (void)arg;
    zsock_signal(pipe, 0);
    for (;;) {
        char *cmd = zstr_recv(pipe);
        int term = !cmd || strcmp(cmd, "$TERM") == 0;
        free(cmd);
        if (term) {
            break;
        }
    }
}

static enum MHD_Result s_answer(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *data,
                                size_t *size, void **ctx)
{
    (void)cls, (void)c, (void)url, (void)method, (void)version, (void)data, (void)size, (void)ctx;
    return MHD_NO;
}

int main(void)
{
    sigset_t set;
    int sig;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts */
    zsys_handler_set(NULL);
    if (!zsys_init() || sodium_init() < 0) {
        fprintf(stderr, "lib_floor: zsys_init or sodium_init failed\n");
        return 1;
    }
    zactor_t *actor = zactor_new(s_actor, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, s_answer,
                         NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END); /* any free port */
    MDB_env *env = NULL;
    yaml_parser_t parser;
    json_t *obj = json_object();
    if (!actor || !d || mdb_env_create(&env) != 0 || !yaml_parser_initialize(&parser) || !obj) {
        fprintf(stderr, "lib_floor: a library did not start\n");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    sigwait(&set, &sig);
    json_decref(obj);
    yaml_parser_delete(&parser);
    mdb_env_close(env);
    MHD_stop_daemon(d);
    zactor_destroy(&actor);
    zsys_shutdown();
    return 0;
}
