/*  schema_bench: validation of incident.upsert events against the shipped
    schema (schemas/incident.upsert.yaml), on one core, and in the same run
    the ceiling: a plain msgpack decode of the same events.

      schema_bench [--schemas DIR] [--seconds S] [--events N]

    N distinct events (~300-byte bodies: ids, names and times vary) are
    encoded once, outside the clock. Each pass then runs over all of them
    until the pass reaches S seconds (default 3):
      decode    sl_event_decode + sl_msgpack_check of the body (the ceiling)
      validate  sl_event_decode + sl_schema_validate of the body against
                incident.upsert@1 (what the schema_check actor does per event,
                without the engine around it)
    Passes alternate decode/validate three times; the best of each is
    printed. Prints one JSON object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/event.h"
#include "sluice/schema.h"

typedef struct {
    sl_buf_t wire; /* every event, back to back */
    size_t *off;
    size_t *len;
    int n;
} s_events_t;

static int s_make(s_events_t *e, int n, double *body_avg, double *event_avg)
{
    sl_buf_t scratch = {0};
    char json[2048], err[256];
    double body_sum = 0;
    e->off = calloc((size_t)n, sizeof *e->off);
    e->len = calloc((size_t)n, sizeof *e->len);
    if (!e->off || !e->len) {
        return SL_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        snprintf(json, sizeof json,
                 "{\"tenant\":\"acme\",\"kind\":\"incident.upsert\",\"time\":"
                 "\"2026-11-25T08:05:00Z\",\"body\":{\"source\":\"montecarlo\","
                 "\"external_id\":\"inc-%06d\",\"qualified_names\":"
                 "[\"snowflake://acme-prod/analytics/raw/orders_%04d\"],"
                 "\"type\":\"freshness\",\"sub_types\":[\"freshness\"],"
                 "\"title\":\"orders_%04d is stale\",\"severity\":\"SEV-%d\","
                 "\"priority\":\"P2\",\"status\":\"open\",\"owner\":\"data-eng@acme.com\","
                 "\"url\":\"https://getmontecarlo.com/incidents/inc-%06d\","
                 "\"updated_at\":\"2026-11-25T08:%02d:30Z\"}}",
                 i, i % 10000, i % 10000, 1 + i % 4, i, i % 60);
        sl_event_t ev;
        if (sl_event_from_json(json, strlen(json), &ev, &scratch, err, sizeof err) != SL_OK) {
            fprintf(stderr, "schema_bench: %s\n", err);
            return SL_EINVAL;
        }
        e->off[i] = e->wire.len;
        if (sl_event_encode(&ev, &e->wire) != SL_OK) {
            return SL_ENOMEM;
        }
        e->len[i] = e->wire.len - e->off[i];
        body_sum += ev.body.len;
    }
    e->n = n;
    *body_avg = body_sum / n;
    *event_avg = (double)e->wire.len / n;
    sl_buf_free(&scratch);
    return SL_OK;
}

static double s_now(void)
{
    return (double)sl_mono_us() / 1e6;
}

/*  One pass of `mode` (0 decode, 1 validate); returns events per second. */
static double s_pass(const s_events_t *e, const sl_schema_t *sc, int mode, double seconds,
                     uint64_t *count)
{
    char err[256];
    uint64_t n = 0, bad = 0;
    double t0 = s_now(), t;
    do {
        for (int i = 0; i < e->n; i++) {
            sl_event_t ev;
            size_t used;
            const uint8_t *p = e->wire.data + e->off[i];
            if (sl_event_decode(p, e->len[i], &used, &ev) != SL_OK) {
                bad++;
                continue;
            }
            const uint8_t *b = (const uint8_t *)ev.body.ptr;
            if (mode == 0) {
                bad += sl_msgpack_check(b, ev.body.len, &used) != SL_OK;
            } else {
                bad += sl_schema_validate(sc, b, ev.body.len, "body", err, sizeof err) != SL_OK;
            }
        }
        n += (uint64_t)e->n;
        t = s_now() - t0;
    } while (t < seconds);
    if (bad) {
        fprintf(stderr, "schema_bench: %llu events failed (%s)\n", (unsigned long long)bad,
                mode ? err : "decode");
        exit(1);
    }
    *count = n;
    return (double)n / t;
}

int main(int argc, char **argv)
{
    const char *dir = "schemas";
    double seconds = 3;
    int nevents = 4096;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--schemas") == 0) {
            dir = argv[i + 1];
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--events") == 0) {
            nevents = atoi(argv[i + 1]);
        } else {
            fprintf(stderr, "usage: schema_bench [--schemas DIR] [--seconds S] [--events N]\n");
            return 2;
        }
    }
    if (nevents < 1 || seconds <= 0) {
        fprintf(stderr, "schema_bench: --events >= 1 and --seconds > 0\n");
        return 2;
    }
    char err[512];
    sl_schema_registry_t *reg = sl_schema_registry_load(dir, err, sizeof err);
    if (!reg) {
        fprintf(stderr, "schema_bench: %s\n", err);
        return 1;
    }
    const sl_schema_t *sc = sl_schema_registry_ref(reg, "incident.upsert@1");
    if (!sc) {
        fprintf(stderr, "schema_bench: no incident.upsert@1 in %s\n", dir);
        return 1;
    }
    s_events_t e = {0};
    double body_avg, event_avg;
    if (s_make(&e, nevents, &body_avg, &event_avg) != SL_OK) {
        return 1;
    }
    double best[2] = {0, 0};
    uint64_t count[2] = {0, 0};
    for (int rep = 0; rep < 3; rep++) {
        for (int mode = 0; mode < 2; mode++) {
            uint64_t c;
            double eps = s_pass(&e, sc, mode, seconds, &c);
            if (eps > best[mode]) {
                best[mode] = eps;
                count[mode] = c;
            }
        }
    }
    /*  Validation alone = validate pass minus decode pass, per event. */
    double ns_decode = 1e9 / best[0], ns_validate = 1e9 / best[1];
    printf("{\"bench\":\"schema\",\"schema\":\"incident.upsert@1\",\"events\":%d,"
           "\"body_bytes\":%.0f,\"event_bytes\":%.0f,\"decode_eps\":%.0f,"
           "\"validate_eps\":%.0f,\"decode_ns\":%.1f,\"validate_ns\":%.1f,"
           "\"schema_only_ns\":%.1f,\"validate_vs_ceiling\":%.2f,\"counted\":[%llu,%llu]}\n",
           nevents, body_avg, event_avg, best[0], best[1], ns_decode, ns_validate,
           ns_validate - ns_decode, best[1] / best[0], (unsigned long long)count[0],
           (unsigned long long)count[1]);
    free(e.off);
    free(e.len);
    sl_buf_free(&e.wire);
    sl_schema_registry_destroy(&reg);
    return 0;
}
