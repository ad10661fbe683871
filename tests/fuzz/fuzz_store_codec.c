/*  Fuzz the asset value codec (core/store_codec.c). Bytes that start with
    the mark are a stored value: sl_asset_unpack must never crash or read
    out of bounds, and a tree it returns must pack, read back the same and
    pack to the same bytes again. Any other input is tried as JSON text: an
    object (given an id) must survive pack -> unpack unchanged, which
    fuzzes the writer's choice between compact and plain forms. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../core/store_codec.h"
#include "../json_same.h"

/*  t packs (a tree read from a value always does; one from JSON may nest
    too deeply); the value reads back as t and packs to the same bytes. */
static void s_check(json_t *t, int decoded)
{
    static sl_buf_t a, b;
    uint64_t id;
    sl_buf_reset(&a);
    sl_buf_reset(&b);
    int rc = sl_asset_pack(t, &a);
    if (rc == SL_ERANGE && !decoded) {
        return; /* nested deeper than the bound: refused, never written */
    }
    if (rc != SL_OK || sl_asset_id(a.data, a.len, &id) != SL_OK ||
        id != (uint64_t)json_integer_value(json_object_get(t, "id"))) {
        abort();
    }
    json_t *back = sl_asset_unpack(a.data, a.len);
    if (!back || !s_same(t, back) || sl_asset_pack(back, &b) != SL_OK || b.len != a.len ||
        memcmp(a.data, b.data, a.len) != 0) {
        abort();
    }
    json_decref(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *t;
    if (size > 0 && data[0] == SL_ASSET_MARK) {
        uint64_t id;
        if (!(t = sl_asset_unpack(data, size))) {
            return 0;
        }
        if (sl_asset_id(data, size, &id) != SL_OK ||
            id != (uint64_t)json_integer_value(json_object_get(t, "id"))) {
            abort();
        }
        s_check(t, 1);
        json_decref(t);
        return 0;
    }
    if (!(t = json_loadb((const char *)data, size, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL))) {
        return 0;
    }
    if (json_is_object(t)) {
        json_t *id = json_object_get(t, "id");
        if (!json_is_integer(id) || json_integer_value(id) < 1 ||
            (uint64_t)json_integer_value(id) > SL_ASSET_ID_MAX) {
            json_object_set_new(t, "id", json_integer((json_int_t)(size + 1)));
        }
        s_check(t, 0);
    }
    json_decref(t);
    return 0;
}
