/*  Fuzz the transform rule parser and the program it makes: any bytes must
    compile into a program or give a reason with a JSON Pointer, never a
    crash, a leak or undefined behaviour; a program that compiles must run
    over any body.

    Input: RULES_JSON [ "\n---\n" BODY ], RULES_JSON also tried as the
    tenants option; BODY is run both as raw msgpack and, if it is JSON, as
    the msgpack of that JSON. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/mpjson.h"
#include "sluice/transform.h"

static const char *const s_outputs[] = {"out", "route1", "route2", NULL};

static void s_run(sl_transform_t *t, const uint8_t *body, size_t len)
{
    sl_event_t in = {.version = 1}, out;
    in.tenant = SL_SLICE("acme");
    in.kind = SL_SLICE("tag.set");
    in.key = SL_SLICE("k");
    in.body = (sl_slice_t){(const char *)body, (uint32_t)len};
    int output;
    if (sl_transform_run(t, &in, &out, &output) == 0 && output >= 0) {
        size_t used;
        /* a body a rule rewrote is well-formed (an untouched one passes
           through as it came) */
        if (out.body.ptr != in.body.ptr &&
            sl_msgpack_check((const uint8_t *)out.body.ptr, out.body.len, &used)) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    char *body = strstr(text, "\n---\n");
    if (body) {
        *body = '\0';
        body += 5;
    }
    sl_transform_err_t err;
    sl_transform_t *t = NULL;
    int rc = sl_transform_new(&t, text, NULL, s_outputs, &err);
    if (rc == SL_EINVAL && err.msg[0] == '\0') {
        abort(); /* a rejected rule must say why */
    }
    if (t) {
        static const uint8_t fixed[] = {0x83, 0xa1, 'a',  0xa3, 'A', ':',  'b',  0xa1, 'n',
                                        0xcd, 0x01, 0x00, 0xa1, 'm', 0x81, 0xa1, 'x',  0xc3};
        s_run(t, fixed, sizeof fixed);
        s_run(t, NULL, 0);
        if (body) {
            size_t blen = strlen(body);
            s_run(t, (const uint8_t *)body, blen);
            json_t *j = json_loads(body, 0, NULL);
            sl_buf_t b = {0};
            if (j && sl_jansson_to_msgpack(j, &b) == 0) {
                s_run(t, b.data, b.len);
                s_run(t, b.data, b.len); /* reused tables */
            }
            sl_buf_free(&b);
            json_decref(j);
        }
        sl_transform_destroy(&t);
    }
    sl_transform_check("tenants", text, s_outputs, &err);
    free(text);
    return 0;
}
