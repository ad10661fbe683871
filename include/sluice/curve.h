/*  sluice/curve.h: a tenant's CURVE key pair, on disk and on a socket.

    One key pair per tenant (DESIGN.md). `sluice keygen` writes it as two
    CZMQ certificate files in the tenant's key directory (the topology's
    `tenants: {T: {keys: DIR}}`):
      DIR/T.cert          public key (Z85) and metadata tenant = T
      DIR/T.cert_secret   the same plus the secret key; mode 0600
    The same pair serves both ends of a CurveZMQ connection that carries
    tenant T's traffic: the listener authenticates as T (its server key is
    T's), and the connecting side presents T's key as client key, which the
    ZAP handler (sluice/zap.h) accepts only on T's endpoints. So a process
    that does not hold T's secret can neither send nor receive as T.

    core/curve.c is the only module that reads certificate files (zcert).
    Secret keys are wiped (sl_curve_key_wipe) when no longer needed, and
    never logged, printed or put in an error message. */
#ifndef SLUICE_CURVE_H
#define SLUICE_CURVE_H

#include <stdint.h>

#include "sluice/common.h"

/*  Longest tenant name that can hold keys (also the ZAP domain). */
#define SL_CURVE_TENANT_MAX 64

typedef struct {
    char tenant[SL_CURVE_TENANT_MAX + 1];
    uint8_t pub[32];
    uint8_t sec[32]; /* secret: wipe when done */
} sl_curve_key_t;

/*  The certificate paths of `tenant` in `dir`: "DIR/T.cert" into pub_path
    and "DIR/T.cert_secret" into sec_path (each `len` bytes). SL_ERANGE if
    they do not fit. */
int sl_curve_paths(const char *dir, const char *tenant, char *pub_path, char *sec_path, size_t len);

/*  Make a new key pair for `tenant` and write it to `dir` (created with
    its parents, mode 0700, if missing). The public key's Z85 text goes to
    pub_txt (41 bytes). Refuses to replace existing files unless `force`
    (SL_EEXIST). SL_EINVAL (bad tenant name), SL_EIO (with the reason in
    err), SL_ENOMEM. */
int sl_curve_keygen(const char *dir, const char *tenant, int force, char pub_txt[41], char *err,
                    size_t errlen);

/*  Load and check `tenant`'s pair from `dir`: both files readable, the
    secret file not readable by group or others, the certificate made for
    this tenant (metadata), and the secret key matching the public one.
    SL_ENOTFOUND (a file is missing), SL_EPROTO (a file is not a
    certificate or the keys disagree), SL_EINVAL (permissions, other
    tenant); the reason in err names files, never key material. `out` may
    be NULL to only check. */
int sl_curve_key_load(const char *dir, const char *tenant, sl_curve_key_t *out, char *err,
                      size_t errlen);

/*  Zero the secret (and the rest) of a key. Safe on NULL. */
void sl_curve_key_wipe(sl_curve_key_t *k);

/*  Make `sock` (a libzmq socket) a CURVE server as tenant k for the
    endpoints bound after this call: server secret = k's, ZAP domain = k's
    tenant. Options are taken per bind, so one socket may bind one
    endpoint per tenant, each with its own key. SL_EIO if libzmq refuses. */
int sl_curve_server(void *sock, const sl_curve_key_t *k);

/*  Make `sock` a CURVE client as tenant k towards a server of tenant k
    (server key = k's public key), before it connects. SL_EIO. */
int sl_curve_client(void *sock, const sl_curve_key_t *k);

/*  Z85 text of a public key (41 bytes with the NUL). */
void sl_curve_public_txt(const uint8_t pub[32], char out[41]);

#endif
