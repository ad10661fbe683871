/*  Rejected events: counted, logged rate-limited, dead-lettered
    (sluice/reject.h). */
#include <string.h>

#include "sluice/common.h"
#include "sluice/log.h"
#include "sluice/reject.h"

void sl_reject_init(sl_reject_t *r, const char *actor, const char *store_path, const char *what)
{
    memset(r, 0, sizeof *r);
    r->actor = actor;
    r->store_path = store_path;
    r->what = what ? what : "rejected";
    r->log_per_sec = SL_REJECT_LOG_PER_SEC;
}

static void s_summarise(sl_reject_t *r)
{
    if (r->log_suppressed) {
        sl_warn(r->actor, "%llu more events %s (not logged one by one)",
                (unsigned long long)r->log_suppressed, r->what);
        r->log_suppressed = 0;
    }
}

/*  A flood of bad events cannot flood the log: past log_per_sec in one
    second they are only counted, and summarised in one line. */
static void s_log(sl_reject_t *r, const sl_event_t *ev, const char *reason)
{
    int64_t sec = sl_mono_us() / 1000000;
    if (sec != r->log_second) {
        s_summarise(r);
        r->log_second = sec;
        r->log_count = 0;
    }
    if (r->log_count >= r->log_per_sec) {
        r->log_suppressed++;
        return;
    }
    r->log_count++;
    char id[37];
    sl_uuid_format(ev->id, id);
    sl_buf_t f = {0};
    static const char k1[] = "\"event_id\":\"", k2[] = "\",\"tenant\":\"", k3[] = "\",\"kind\":\"",
                      k4[] = "\",\"reason\":\"";
    int ok = sl_buf_append(&f, k1, sizeof k1 - 1) == SL_OK && sl_buf_append(&f, id, 36) == SL_OK &&
             sl_buf_append(&f, k2, sizeof k2 - 1) == SL_OK &&
             sl_json_escape(&f, ev->tenant.ptr, ev->tenant.len) == SL_OK &&
             sl_buf_append(&f, k3, sizeof k3 - 1) == SL_OK &&
             sl_json_escape(&f, ev->kind.ptr, ev->kind.len) == SL_OK &&
             sl_buf_append(&f, k4, sizeof k4 - 1) == SL_OK &&
             sl_json_escape(&f, reason, strlen(reason)) == SL_OK &&
             sl_buf_append(&f, "\"", 2) == SL_OK;
    sl_log(SL_LOG_WARN, r->actor, ok ? (char *)f.data : NULL, "%s %s (%.*s): %s", r->what, id,
           (int)(ev->kind.len > 200 ? 200 : ev->kind.len), ev->kind.ptr ? ev->kind.ptr : "",
           reason);
    sl_buf_free(&f);
}

int sl_reject_event(sl_reject_t *r, const sl_event_t *ev, const char *reason)
{
    r->rejected++;
    s_log(r, ev, reason);
    if (r->store_path && !r->store && !r->store_failed) {
        /*  Here, not at init: the store actor should open the shared
            handle first, with its options (sluice/reject.h). */
        char err[256] = "";
        sl_store_opts_t o = {.path = r->store_path};
        r->store = sl_store_open(&o, err, sizeof err);
        if (!r->store) {
            r->store_failed = 1;
            sl_error(r->actor, "cannot open store %s for dead letters: %s", r->store_path, err);
        }
    }
    if (!r->store) {
        return SL_OK;
    }
    int rc = sl_store_dead_letter_from(r->store, ev, r->actor, reason);
    if (rc == SL_OK) {
        r->dead_letters++;
        return SL_OK;
    }
    r->dead_letter_errors++;
    sl_error(r->actor, "dead letter not written: %s", sl_strerror(rc));
    return rc;
}

void sl_reject_close(sl_reject_t *r)
{
    s_summarise(r);
    sl_store_close(&r->store);
}
