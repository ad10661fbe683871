/*  sluice token create|list|revoke FILE ...

    API tokens of the topology's store (docs/auth.md). A token is printed
    once, by create, on stdout alone (so TOKEN=$(sluice token create ...)
    works); the store keeps only its keyed hash. LMDB lets this run beside
    a `sluice run` of the same store: a revoked token is refused from its
    next request on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/actor.h"
#include "sluice/auth.h"
#include "sluice/event.h"
#include "sluice/store.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice token create FILE --tenant T --role R [--expires DURATION] [--name LABEL]\n"
    "       sluice token list FILE [--tenant T] [--json]\n"
    "       sluice token revoke FILE ID\n"
    "\n"
    "API tokens of the store of topology FILE (its `store: {path}`).\n"
    "\n"
    "  create   makes a token and prints it once on stdout (the store keeps only\n"
    "           a keyed hash: a lost token cannot be shown again, make another)\n"
    "    --tenant T        the tenant it acts for (not with platform-admin)\n"
    "    --role R          reader (queries), writer (events, webhooks), admin\n"
    "                      (tokens, dead letters, reload) or platform-admin (every\n"
    "                      tenant); each role includes the ones before it\n"
    "    --expires D       valid for this long: 90d, 12h, 30m, 45s (default: no end)\n"
    "    --name LABEL      a label shown by list (at most 64 bytes)\n"
    "  list     every token: id, tenant, role, status, created, expires, name\n"
    "    --tenant T        only this tenant's\n"
    "    --json            one JSON object per line\n"
    "  revoke   refuses the token ID from now on (it stays listed as revoked)\n"
    "\n"
    "Send a token as: Authorization: Bearer <token>\n"
    "Exit status: 0 done, 1 error (not found, no store), 2 usage.\n";

#define s_usage(...) sl_cli_usage("sluice token", s_help, __VA_ARGS__)

/*  The store of the topology (create: make it if it is not there yet). */
static sl_store_t *s_open(const char *file, int create)
{
    return sl_cli_store_open_new(file, "sluice token", NULL, create);
}

/*  "90d", "12h", "30m", "45s", "500ms": a duration with a unit. */
static int s_duration(const char *text, int64_t *us)
{
    size_t n = strlen(text);
    if (n >= 2 && text[n - 1] == 'd' && text[0] >= '0' && text[0] <= '9') {
        char *end = NULL;
        long long d = strtoll(text, &end, 10);
        if (end != text + n - 1 || d <= 0 || d > 36500) {
            return SL_EINVAL;
        }
        *us = (int64_t)d * 86400 * 1000000;
        return SL_OK;
    }
    if (n == 0 || (text[n - 1] >= '0' && text[n - 1] <= '9')) {
        return SL_EINVAL; /* a bare number would be milliseconds: ask for a unit */
    }
    sl_opt_t o = {.name = "--expires", .type = SL_OPT_DURATION};
    char err[128];
    int rc = sl_opt_parse(&o, text, us, err, sizeof err);
    return rc == SL_OK && *us > 0 ? SL_OK : SL_EINVAL;
}

static int s_create(const char *file, int argc, char **argv)
{
    const char *tenant = NULL, *role_s = NULL, *expires = NULL, *name = "";
    for (int i = 0; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--tenant") == 0) {
            tenant = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--role") == 0) {
            role_s = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--expires") == 0) {
            expires = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--name") == 0) {
            name = argv[++i];
        } else {
            return s_usage("create: unexpected argument '%s'", argv[i]);
        }
    }
    sl_role_t role;
    if (!role_s || sl_role_parse(role_s, &role) != SL_OK) {
        return s_usage("create: --role must be reader, writer, admin or platform-admin");
    }
    if (role == SL_ROLE_PLATFORM) {
        if (tenant && strcmp(tenant, SL_AUTH_PLATFORM) != 0) {
            return s_usage("create: a platform-admin token covers every tenant: no --tenant");
        }
        tenant = SL_AUTH_PLATFORM;
    } else if (!tenant || !sl_name_ok(tenant, SL_AUTH_TENANT_MAX)) {
        return s_usage("create: --tenant must be 1 to %d characters of A-Z a-z 0-9 _ -",
                       SL_AUTH_TENANT_MAX);
    }
    if (strlen(name) > SL_STORE_TOKEN_NAME_MAX) {
        return s_usage("create: --name is at most %d bytes", SL_STORE_TOKEN_NAME_MAX);
    }
    int64_t dur = 0;
    if (expires && s_duration(expires, &dur) != SL_OK) {
        return s_usage("create: --expires expects a duration with a unit (90d, 12h, 30m, 45s)");
    }
    sl_store_t *store = s_open(file, 1);
    if (!store) {
        return 1;
    }
    sl_token_info_t info = {.role = role, .created_us = sl_now_us()};
    info.expires_us = dur ? info.created_us + dur : 0;
    snprintf(info.tenant, sizeof info.tenant, "%s", tenant);
    snprintf(info.name, sizeof info.name, "%s", name);
    char token[SL_TOKEN_LEN + 1];
    int rc = SL_EEXIST;
    for (int attempt = 0; attempt < 3 && rc == SL_EEXIST; attempt++) {
        if ((rc = sl_token_generate(token, info.id)) == SL_OK) {
            rc = sl_store_token_add(store, token, &info);
        }
    }
    sl_store_close(&store);
    if (rc) {
        explicit_bzero(token, sizeof token);
        fprintf(stderr, "sluice token: cannot store the token: %s\n",
                rc == SL_ESTATE ? "API tokens need a shared-tenancy store (this one is isolated)"
                                : sl_strerror(rc));
        return 1;
    }
    char exp[32] = "never";
    if (info.expires_us) {
        sl_time_format(info.expires_us, exp);
    }
    printf("%s\n", token);
    fflush(stdout);
    explicit_bzero(token, sizeof token);
    fprintf(stderr, "token %s: tenant %s, role %s, expires %s. It is shown once: keep it now.\n",
            info.id, strcmp(info.tenant, "*") == 0 ? "(every)" : info.tenant,
            sl_role_name((sl_role_t)info.role), exp);
    return 0;
}

typedef struct {
    const char *tenant;
    int json;
    int64_t now;
    int shown;
} s_list_t;

/*  RFC 3339 to the second: the list is read by people. */
static void s_time(int64_t us, char out[32])
{
    sl_time_format(us - us % 1000000, out);
    char *dot = strchr(out, '.');
    if (dot) {
        dot[0] = 'Z';
        dot[1] = '\0';
    }
}

static int s_list_one(void *arg, const sl_token_info_t *t)
{
    s_list_t *l = arg;
    if (l->tenant && strcmp(l->tenant, t->tenant) != 0) {
        return 0;
    }
    char created[32], expires[32] = "never";
    s_time(t->created_us, created);
    if (t->expires_us) {
        s_time(t->expires_us, expires);
    }
    const char *status = t->revoked_us                              ? "revoked"
                         : t->expires_us && l->now >= t->expires_us ? "expired"
                                                                    : "active";
    if (l->json) {
        sl_buf_t b = {0};
        sl_json_escape(&b, t->name, strlen(t->name));
        printf("{\"id\":\"%s\",\"tenant\":\"%s\",\"role\":\"%s\",\"status\":\"%s\","
               "\"created\":\"%s\",\"expires\":%s%s%s,\"name\":\"%.*s\"}\n",
               t->id, t->tenant, sl_role_name((sl_role_t)t->role), status, created,
               t->expires_us ? "\"" : "", t->expires_us ? expires : "null",
               t->expires_us ? "\"" : "", (int)b.len, b.data ? (const char *)b.data : "");
        sl_buf_free(&b);
    } else {
        if (l->shown == 0) {
            printf("%-16s  %-16s  %-14s  %-7s  %-20s  %-20s  %s\n", "ID", "TENANT", "ROLE",
                   "STATUS", "CREATED", "EXPIRES", "NAME");
        }
        printf("%-16s  %-16s  %-14s  %-7s  %-20s  %-20s  %s\n", t->id, t->tenant,
               sl_role_name((sl_role_t)t->role), status, created, expires, t->name);
    }
    l->shown++;
    return 0;
}

static int s_list(const char *file, int argc, char **argv)
{
    s_list_t l = {.now = sl_now_us()};
    for (int i = 0; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--tenant") == 0) {
            l.tenant = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            l.json = 1;
        } else {
            return s_usage("list: unexpected argument '%s'", argv[i]);
        }
    }
    sl_store_t *store = s_open(file, 0);
    if (!store) {
        return 1;
    }
    int rc = sl_store_tokens_each(store, s_list_one, &l);
    sl_store_close(&store);
    if (rc < 0) {
        fprintf(stderr, "sluice token: cannot list: %s\n",
                rc == SL_ESTATE ? "API tokens need a shared-tenancy store (this one is isolated)"
                                : sl_strerror(rc));
        return 1;
    }
    if (!l.json && l.shown == 0) {
        printf("no tokens\n");
    }
    return 0;
}

static int s_revoke(const char *file, int argc, char **argv)
{
    if (argc != 1) {
        return s_usage("revoke: expected one token id");
    }
    const char *id = argv[0];
    char shape[SL_TOKEN_ID_LEN + 1];
    if (sl_token_shape(id, strlen(id), shape)) {
        id = shape; /* the whole token was given: revoke it by its id */
    }
    sl_store_t *store = s_open(file, 0);
    if (!store) {
        return 1;
    }
    int rc = sl_store_token_revoke(store, id, sl_now_us());
    sl_store_close(&store);
    if (rc == SL_ENOTFOUND) {
        fprintf(stderr, "sluice token: no token %s\n", id);
        return 1;
    }
    if (rc == SL_EEXIST) {
        fprintf(stderr, "sluice token: %s was already revoked\n", id);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "sluice token: cannot revoke %s: %s\n", id, sl_strerror(rc));
        return 1;
    }
    fprintf(stderr, "revoked %s\n", id);
    return 0;
}

int sl_cmd_token(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    if (argc < 3) {
        return s_usage("expected create, list or revoke, and a topology FILE");
    }
    const char *sub = argv[1], *file = argv[2];
    if (strcmp(sub, "create") == 0) {
        return s_create(file, argc - 3, argv + 3);
    }
    if (strcmp(sub, "list") == 0) {
        return s_list(file, argc - 3, argv + 3);
    }
    if (strcmp(sub, "revoke") == 0) {
        return s_revoke(file, argc - 3, argv + 3);
    }
    return s_usage("unknown subcommand '%s' (create, list, revoke)", sub);
}
