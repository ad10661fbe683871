/*  transform_bench: a transform of 5 rules over ~300-byte events on one
    core, and in the same run the ceiling: a plain msgpack decode of the
    same events.

      transform_bench [--seconds S] [--events N]

    N distinct events (~300-byte asset.upsert bodies: names vary) are
    encoded once, outside the clock. Each pass runs over all of them until
    it reaches S seconds (default 3):
      decode     sl_event_decode + sl_msgpack_check of the body (the ceiling)
      transform  sl_event_decode + sl_transform_run of the 5 rules below
      emit       transform + sl_event_encode of the result into a reused
                 buffer (the copy sl_emit makes)
    Passes alternate three times; the best of each is printed as one JSON
    object. The rules: a rename, a template set, a lower, a map with a
    default and a filter (regex), so every event's body is rewritten. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/event.h"
#include "sluice/transform.h"

static const char *const s_rules =
    "[{\"rename\": {\"from\": \"body.name\", \"to\": \"body.title\"}},"
    " {\"set\": {\"field\": \"body.qualified_name\","
    "   \"value\": \"{{body.database}}.{{body.schema}}.{{body.table}}\"}},"
    " {\"lower\": \"body.type\"},"
    " {\"map\": {\"field\": \"body.tier\", \"values\": {\"1\": \"gold\", \"2\": \"silver\"},"
    "   \"default\": \"bronze\"}},"
    " {\"filter\": {\"drop\": {\"field\": \"body.database\", \"regex\": \"^(tmp|scratch)_\"}}}]";

typedef struct {
    sl_buf_t wire;
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
                 "{\"tenant\":\"acme\",\"kind\":\"asset.upsert\",\"time\":"
                 "\"2026-11-25T08:05:00Z\",\"body\":{\"database\":\"analytics\","
                 "\"schema\":\"raw_%02d\",\"table\":\"orders_%05d\",\"type\":\"TABLE\","
                 "\"name\":\"orders_%05d\",\"tier\":%d,"
                 "\"description\":\"Orders as loaded from the shop database, one row per "
                 "order line, refreshed hourly by the loader\","
                 "\"owners\":[\"data-eng@acme.com\",\"orders-team@acme.com\"],"
                 "\"attributes\":{\"rows\":%d,\"bytes\":%d,\"format\":\"parquet\"}}}",
                 i % 50, i, i, 1 + i % 3, 1000 + i, 65536 + i);
        sl_event_t ev;
        if (sl_event_from_json(json, strlen(json), &ev, &scratch, err, sizeof err) != SL_OK) {
            fprintf(stderr, "transform_bench: %s\n", err);
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

static double s_pass(const s_events_t *e, sl_transform_t *t, int mode, double seconds,
                     uint64_t *count, uint64_t *kept)
{
    sl_buf_t out = {0};
    uint64_t c = 0, k = 0, bad = 0;
    int64_t start = sl_mono_us(), now = start;
    do {
        for (int i = 0; i < e->n; i++) {
            sl_event_t ev, res;
            size_t used;
            if (sl_event_decode(e->wire.data + e->off[i], e->len[i], &used, &ev) != SL_OK) {
                bad++;
                continue;
            }
            if (mode == 0) {
                bad += ev.body.len &&
                       sl_msgpack_check((const uint8_t *)ev.body.ptr, ev.body.len, &used) != 0;
                continue;
            }
            int output;
            if (sl_transform_run(t, &ev, &res, &output) != SL_OK) {
                bad++;
                continue;
            }
            k += output >= 0;
            if (mode == 2 && output >= 0) {
                sl_buf_reset(&out);
                bad += sl_event_encode(&res, &out) != SL_OK;
            }
        }
        c += (uint64_t)e->n;
        now = sl_mono_us();
    } while (now - start < (int64_t)(seconds * 1e6));
    sl_buf_free(&out);
    if (bad) {
        fprintf(stderr, "transform_bench: %llu events failed\n", (unsigned long long)bad);
        exit(1);
    }
    *count = c;
    *kept = k;
    return (double)c / ((double)(now - start) / 1e6);
}

int main(int argc, char **argv)
{
    double seconds = 3;
    int nevents = 10000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
            nevents = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: transform_bench [--seconds S] [--events N]\n");
            return 2;
        }
    }
    if (nevents < 1 || seconds <= 0) {
        fprintf(stderr, "transform_bench: --events >= 1 and --seconds > 0\n");
        return 2;
    }
    sl_transform_t *t = NULL;
    sl_transform_err_t err;
    if (sl_transform_new(&t, s_rules, NULL, NULL, &err) != SL_OK) {
        fprintf(stderr, "transform_bench: %s at %s\n", err.msg, err.where);
        return 1;
    }
    s_events_t e = {0};
    double body_avg, event_avg;
    if (s_make(&e, nevents, &body_avg, &event_avg) != SL_OK) {
        return 1;
    }
    double best[3] = {0, 0, 0};
    uint64_t count[3] = {0, 0, 0}, kept = 0;
    for (int rep = 0; rep < 3; rep++) {
        for (int mode = 0; mode < 3; mode++) {
            uint64_t c, k;
            double eps = s_pass(&e, t, mode, seconds, &c, &k);
            if (eps > best[mode]) {
                best[mode] = eps;
                count[mode] = c;
            }
            if (mode == 1) {
                kept = k;
            }
        }
    }
    double ns[3] = {1e9 / best[0], 1e9 / best[1], 1e9 / best[2]};
    printf("{\"bench\":\"transform\",\"rules\":5,\"events\":%d,\"body_bytes\":%.0f,"
           "\"event_bytes\":%.0f,\"decode_eps\":%.0f,\"transform_eps\":%.0f,\"emit_eps\":%.0f,"
           "\"decode_ns\":%.1f,\"transform_ns\":%.1f,\"emit_ns\":%.1f,\"rules_only_ns\":%.1f,"
           "\"transform_vs_ceiling\":%.2f,\"kept\":%llu,\"counted\":[%llu,%llu,%llu]}\n",
           nevents, body_avg, event_avg, best[0], best[1], best[2], ns[0], ns[1], ns[2],
           ns[1] - ns[0], best[1] / best[0], (unsigned long long)kept, (unsigned long long)count[0],
           (unsigned long long)count[1], (unsigned long long)count[2]);
    free(e.off);
    free(e.len);
    sl_buf_free(&e.wire);
    sl_transform_destroy(&t);
    return 0;
}
