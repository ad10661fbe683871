/*  sluice/zap.h: the ZAP handler (ZeroMQ RFC 27) that authenticates every
    CURVE connection of the process, by tenant.

    Every CURVE endpoint of sluice belongs to one tenant: it is bound with
    that tenant's key as server key and the tenant's name as ZAP domain
    (sl_curve_server). For a connection to domain T, the handler accepts
    exactly the public key of T's key pair and answers with user id T, which
    libzmq attaches to every message of the connection as the property
    "User-Id": a receiver checks each event's tenant against it. Any other
    key, an unknown domain, another mechanism or a malformed request is
    refused (400), counted (sluice_curve_refused_total{tenant}) and logged
    (rate-limited, with the peer address and the refused public key: public
    keys are not secrets).

    CZMQ's zauth cannot do this: it keeps one set of allowed keys for the
    whole context and ignores the domain, so any known tenant key would be
    accepted on every tenant's endpoint.

    libzmq lets a CURVE handshake through unauthenticated when no handler
    is bound, so sl_zap_start must succeed before the first CURVE endpoint
    is bound, and sl_zap_stop only come after the last is closed. The
    handler serves CZMQ's shared context (zsys_init), where the engine and
    the actors make their sockets. Thread-safe. */
#ifndef SLUICE_ZAP_H
#define SLUICE_ZAP_H

#include "sluice/curve.h"

/*  Start the handler, or count one more user of the running one.
    SL_EIO with a reason in err if the ZAP endpoint cannot be bound (another
    handler, such as zauth, holds it), SL_ENOMEM. */
int sl_zap_start(char *err, size_t errlen);

/*  One user fewer; the last one stops the handler. */
void sl_zap_stop(void);

/*  Replace what is accepted: for each of the n keys, domain key->tenant
    accepts key->pub as user id key->tenant. Only public keys are kept.
    Takes effect for the next handshake. SL_ENOMEM. */
int sl_zap_allow(const sl_curve_key_t *keys, int n);

/*  The context the handler serves (CZMQ's shared one): CURVE sockets must
    be made in it. */
void *sl_zap_context(void);

/*  1 while the handler runs. */
int sl_zap_running(void);

#endif
