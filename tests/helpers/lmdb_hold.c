/*  lmdb_hold DIR: hold the write lock of the LMDB environment in DIR until
    SIGTERM or SIGINT, as a second writer process would (LMDB has one
    writer per environment, across processes). Integration tests use it to
    stall the store actor's commits with real parts: its next write
    transaction waits for this one. Prints "held" once the lock is taken;
    exit 0 after releasing it, 1 if the environment cannot be opened. */
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

int main(int argc, char **argv)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: lmdb_hold DIR\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /*  The store's environment has named databases: allow enough of them
        to open it (the map size 0 keeps the file's). */
    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 64)) != 0 ||
        (rc = mdb_env_open(env, argv[1], MDB_NOTLS, 0644)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
        fprintf(stderr, "lmdb_hold: %s: %s\n", argv[1], mdb_strerror(rc));
        if (env) {
            mdb_env_close(env);
        }
        return 1;
    }
    printf("held\n");
    fflush(stdout);
    while (!s_stop) {
        pause();
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}
