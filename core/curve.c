/*  Tenant key pairs: CZMQ certificate files in, libzmq socket options out.
    The only module that reads or writes certificates (zcert). */
#include <czmq.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/curve.h"

int sl_curve_paths(const char *dir, const char *tenant, char *pub_path, char *sec_path, size_t len)
{
    int n = snprintf(pub_path, len, "%s/%s.cert", dir, tenant);
    int m = snprintf(sec_path, len, "%s/%s.cert_secret", dir, tenant);
    if (n < 0 || m < 0 || (size_t)n >= len || (size_t)m >= len) {
        return SL_ERANGE;
    }
    return SL_OK;
}

/*  Check the arguments and make both paths (4096 bytes each). */
static int s_paths(const char *dir, const char *tenant, char *pub, char *sec, char *err,
                   size_t errlen)
{
    if (!dir || !*dir || !sl_name_ok(tenant, SL_CURVE_TENANT_MAX)) {
        snprintf(err, errlen,
                 "keys need a directory and a tenant name of 1 to %d characters of A-Z a-z 0-9 "
                 "_ -",
                 SL_CURVE_TENANT_MAX);
        return SL_EINVAL;
    }
    if (sl_curve_paths(dir, tenant, pub, sec, 4096) != SL_OK) {
        snprintf(err, errlen, "key directory path is too long");
        return SL_ERANGE;
    }
    return SL_OK;
}

void sl_curve_key_wipe(sl_curve_key_t *k)
{
    if (k) {
        sodium_memzero(k, sizeof *k);
    }
}

void sl_curve_public_txt(const uint8_t pub[32], char out[41])
{
    if (!zmq_z85_encode(out, pub, 32)) {
        out[0] = '\0';
    }
}

int sl_curve_keygen(const char *dir, const char *tenant, int force, char pub_txt[41], char *err,
                    size_t errlen)
{
    char pub[4096], sec[4096];
    int rc = s_paths(dir, tenant, pub, sec, err, errlen);
    if (rc) {
        return rc;
    }
    if (!force && (access(pub, F_OK) == 0 || access(sec, F_OK) == 0)) {
        snprintf(err, errlen, "%s already holds keys of tenant '%s' (--force replaces them)", dir,
                 tenant);
        return SL_EEXIST;
    }
    if (sl_mkdirs(dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        snprintf(err, errlen, "cannot make a key pair");
        return SL_ENOMEM;
    }
    zcert_set_meta(cert, "tenant", "%s", tenant);
    zcert_set_meta(cert, "created-by", "sluice keygen");
    /*  The secret file first, private from its creation (zcert writes with
        the process umask): no moment where it is readable by others. */
    mode_t old = umask(077);
    rc = zcert_save_secret(cert, sec);
    umask(old);
    if (rc == 0) {
        rc = chmod(sec, 0600);
    }
    if (rc == 0) {
        rc = zcert_save_public(cert, pub);
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot write the keys to %s: %s", dir,
                 errno ? strerror(errno) : "write failed");
        zcert_destroy(&cert);
        return SL_EIO;
    }
    snprintf(pub_txt, 41, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return SL_OK;
}

int sl_curve_key_load(const char *dir, const char *tenant, sl_curve_key_t *out, char *err,
                      size_t errlen)
{
    char pub[4096], sec[4096];
    struct stat st;
    zconfig_t *pc = NULL, *sc = NULL;
    uint8_t p1[32], p2[32], s1[32] = {0}, derived[32];
    int rc = s_paths(dir, tenant, pub, sec, err, errlen);
    if (rc) {
        return rc;
    }
    rc = SL_EPROTO;
    int have_pub = stat(pub, &st) == 0;
    if (!have_pub || stat(sec, &st) != 0) {
        snprintf(err, errlen,
                 "no key pair of tenant '%s': %s is missing (make one with: sluice keygen "
                 "--tenant %s --dir %s)",
                 tenant, have_pub ? sec : pub, tenant, dir);
        return SL_ENOTFOUND;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        snprintf(err, errlen, "%s must be a file readable by its owner only (chmod 600 %s)", sec,
                 sec);
        return SL_EINVAL;
    }
    /*  Each file read on its own (zcert_load would quietly prefer the
        secret file for the public one), so a broken one is named. */
    pc = zconfig_load(pub);
    sc = zconfig_load(sec);
    const char *pub_txt = pc ? zconfig_get(pc, "/curve/public-key", NULL) : NULL;
    const char *spub_txt = sc ? zconfig_get(sc, "/curve/public-key", NULL) : NULL;
    const char *sec_txt = sc ? zconfig_get(sc, "/curve/secret-key", NULL) : NULL;
    if (!pub_txt || strlen(pub_txt) != 40 || !zmq_z85_decode(p1, pub_txt)) {
        snprintf(err, errlen, "%s is not a CURVE certificate (no public-key)", pub);
        goto done;
    }
    if (!spub_txt || !sec_txt || strlen(spub_txt) != 40 || strlen(sec_txt) != 40 ||
        !zmq_z85_decode(p2, spub_txt) || !zmq_z85_decode(s1, sec_txt)) {
        snprintf(err, errlen, "%s is not a secret CURVE certificate", sec);
        goto done;
    }
    const char *owner = zconfig_get(sc, "/metadata/tenant", NULL);
    if (owner && strcmp(owner, tenant) != 0) {
        snprintf(err, errlen, "%s holds the keys of tenant '%s', not '%s'", sec, owner, tenant);
        rc = SL_EINVAL;
        goto done;
    }
    if (sodium_is_zero(s1, 32) || crypto_scalarmult_base(derived, s1) != 0 ||
        memcmp(derived, p1, 32) != 0 || memcmp(derived, p2, 32) != 0) {
        snprintf(err, errlen, "%s and %s do not hold one key pair", pub, sec);
        goto done;
    }
    if (out) {
        memset(out, 0, sizeof *out);
        snprintf(out->tenant, sizeof out->tenant, "%s", tenant);
        memcpy(out->pub, derived, 32);
        memcpy(out->sec, s1, 32);
    }
    rc = SL_OK;
done:
    sodium_memzero(s1, sizeof s1);
    /*  zconfig frees the secret text without wiping it: do it first. */
    zconfig_t *item = sc ? zconfig_locate(sc, "/curve/secret-key") : NULL;
    char *text = item ? zconfig_value(item) : NULL;
    if (text) {
        sodium_memzero(text, strlen(text));
    }
    zconfig_destroy(&pc);
    zconfig_destroy(&sc);
    return rc;
}

int sl_curve_server(void *sock, const sl_curve_key_t *k)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->sec, 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, k->tenant, strlen(k->tenant)) != 0) {
        return SL_EIO;
    }
    return SL_OK;
}

int sl_curve_client(void *sock, const sl_curve_key_t *k)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, k->pub, 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k->pub, 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->sec, 32) != 0) {
        return SL_EIO;
    }
    return SL_OK;
}
