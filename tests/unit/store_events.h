/*  Shared by the store's unit tests (include after cmocka.h): an event
    from JSON text, tenant and kind given, source "test", a fixed time and
    a fresh id. The caller zeroes an s_ev_t once and frees its scratch;
    one s_ev_t may be filled again (the scratch is reused). */
#ifndef SLUICE_TESTS_STORE_EVENTS_H
#define SLUICE_TESTS_STORE_EVENTS_H

#include <stdio.h>
#include <string.h>

#include "sluice/event.h"

typedef struct {
    sl_event_t ev;
    sl_buf_t scratch;
} s_ev_t;

static inline void s_ev(s_ev_t *e, const char *tenant, const char *kind, const char *body)
{
    char json[4096], err[256];
    snprintf(json, sizeof json,
             "{\"tenant\":\"%s\",\"kind\":\"%s\",\"source\":\"test\",\"time\":"
             "\"2026-11-25T08:00:00Z\",\"body\":%s}",
             tenant, kind, body);
    int rc = sl_event_from_json(json, strlen(json), &e->ev, &e->scratch, err, sizeof err);
    if (rc != SL_OK) {
        fprintf(stderr, "event: %s\n", err);
    }
    assert_int_equal(rc, SL_OK);
}

#endif
