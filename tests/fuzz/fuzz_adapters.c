/*  Fuzz the adapters: Monte Carlo webhooks, the signature's canonical form
    and OpenLineage RunEvents over arbitrary bytes must never crash; what
    they accept must be a JSON array of events the JSON edge accepts, and
    a failure must come with a one-line reason and leave the output as it
    was. Seeds: the fixtures (tests/fuzz/corpus/fuzz_adapters). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sluice/adapters.h"
#include "sluice/event.h"

static void s_check(int rc, const sl_buf_t *out, const char *err)
{
    static sl_buf_t scratch;
    if (rc != SL_OK) {
        if (out->len != 0 || strlen(err) == 0 || strchr(err, '\n')) {
            abort();
        }
        return;
    }
    json_t *arr = json_loadb((const char *)out->data, out->len, 0, NULL);
    if (!json_is_array(arr)) {
        abort();
    }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char *text = json_dumps(e, JSON_COMPACT);
        sl_event_t ev;
        char why[128];
        if (!text ||
            sl_event_from_json(text, strlen(text), &ev, &scratch, why, sizeof why) != SL_OK) {
            abort();
        }
        free(text);
    }
    json_decref(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sl_name_map_t *map;
    static sl_buf_t out;
    char err[256], sig[129];
    if (!map) {
        const char *m = "{\"prefix\": \"snowflake://acme-prod/\", \"warehouses\": {\"w\": "
                        "{\"prefix\": \"bq://\", \"case\": \"upper\", \"separator\": \".\"}}}";
        map = sl_name_map_new(m, strlen(m), err, sizeof err);
        if (!map) {
            abort();
        }
    }
    const char *body = (const char *)data;
    sl_buf_reset(&out);
    s_check(sl_montecarlo_webhook(body, size, map, "acme", &out, err, sizeof err), &out, err);
    sl_buf_reset(&out);
    s_check(sl_openlineage_event(body, size, map, "acme", &out, err, sizeof err), &out, err);
    sl_buf_reset(&out);
    s_check(sl_openlineage_event(body, size, NULL, NULL, &out, err, sizeof err), &out, err);
    /*  A body signed either way verifies. */
    if (sl_montecarlo_sign("k", body, size, 0, sig) != SL_OK ||
        sl_montecarlo_verify("k", body, size, sig) != SL_OK) {
        abort();
    }
    if (sl_montecarlo_sign("k", body, size, 1, sig) == SL_OK &&
        sl_montecarlo_verify("k", body, size, sig) != SL_OK) {
        abort();
    }
    /*  The bytes as a mapping and as a name. */
    sl_name_map_t *m = sl_name_map_new(body, size, err, sizeof err);
    sl_name_map_destroy(&m);
    char *name = strndup(body, size < 512 ? size : 512);
    if (name) {
        char q[SL_QNAME_MAX];
        sl_name_map_montecarlo(map, name, "w", q, sizeof q, err, sizeof err);
        sl_name_map_openlineage(map, name, name, q, sizeof q, err, sizeof err);
        free(name);
    }
    return 0;
}
