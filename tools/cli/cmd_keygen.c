/*  sluice keygen --tenant T [--dir DIR] [--force] */
#include <stdio.h>
#include <string.h>

#include "sluice/curve.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice keygen --tenant T [--dir DIR] [--force]\n"
    "\n"
    "Makes tenant T's CURVE key pair, the one its traffic uses on every link\n"
    "between nodes and towards zmq_ingest, as two certificate files:\n"
    "  DIR/T.cert          the public key (give it to whoever must know it)\n"
    "  DIR/T.cert_secret   the secret key, mode 0600 (keep it on the tenant's\n"
    "                      nodes and producers only)\n"
    "DIR defaults to keys/T, which a topology next to it names as\n"
    "  tenants: { T: { keys: keys/T } }\n"
    "Prints the public key; never the secret one.\n"
    "\n"
    "  --tenant T   the tenant (letters, digits, '_' and '-'; at most 64)\n"
    "  --dir DIR    where to write (created, mode 0700, if missing)\n"
    "  --force      replace an existing pair (its holders lose access)\n"
    "\n"
    "Exit status: 0 written, 1 failed (such as a pair already there), 2 usage.\n";

int sl_cmd_keygen(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    const char *tenant = NULL, *dir = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
            tenant = argv[++i];
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        } else {
            fprintf(stderr, "sluice keygen: unexpected argument '%s'\n\n%s", argv[i], s_help);
            return 2;
        }
    }
    if (!tenant) {
        fprintf(stderr, "sluice keygen: --tenant is required\n\n%s", s_help);
        return 2;
    }
    if (!sl_name_ok(tenant, SL_CURVE_TENANT_MAX)) {
        fprintf(stderr,
                "sluice keygen: tenant must be 1 to %d characters of A-Z a-z 0-9 _ - (got '%s')\n",
                SL_CURVE_TENANT_MAX, tenant);
        return 2;
    }
    char def[128];
    if (!dir) {
        snprintf(def, sizeof def, "keys/%s", tenant);
        dir = def;
    }
    char pub[41], err[1024], pub_path[4096], sec_path[4096];
    int rc = sl_curve_keygen(dir, tenant, force, pub, err, sizeof err);
    if (rc != SL_OK) {
        fprintf(stderr, "sluice keygen: %s\n", err);
        return 1;
    }
    sl_curve_paths(dir, tenant, pub_path, sec_path, sizeof pub_path);
    printf("tenant %s: public key %s\n  %s (public)\n  %s (secret, mode 0600)\n", tenant, pub,
           pub_path, sec_path);
    return 0;
}
