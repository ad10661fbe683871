/*  Fuzz the schema compiler and the validator: arbitrary bytes as a schema
    file (YAML or JSON) must compile or fail with a reason, never crash;
    what compiles is run over fixed bodies and compared with a fixed
    schema. The same bytes as a msgpack body are validated against a fixed
    schema that uses every keyword: never a crash, never a read outside
    the input, and SL_OK / SL_EINVAL / SL_EPROTO only. */
#include <stdlib.h>
#include <string.h>

#include "sluice/schema.h"

static const char s_fixed_text[] =
    "name: fixed\nversion: 1\ntype: object\nrequired: [source, external_id]\n"
    "additionalProperties: {type: [string, number, boolean, array, object, 'null']}\n"
    "properties:\n"
    "  source: {type: string, minLength: 1, maxLength: 40, pattern: '^[a-z]+$'}\n"
    "  external_id: {type: string, format: uuid}\n"
    "  qualified_names: {type: array, minItems: 1, maxItems: 8, items: {$ref: '#/$defs/qn'}}\n"
    "  severity: {enum: [SEV-1, SEV-2, SEV-3, SEV-4, null]}\n"
    "  kind: {const: incident}\n"
    "  priority: {type: integer, minimum: 1, maximum: 5}\n"
    "  score: {type: number, minimum: -1.5, maximum: 1.5}\n"
    "  url: {type: string, format: uri}\n"
    "  owner: {type: string, format: email}\n"
    "  at: {type: [string, integer], format: date-time}\n"
    "  shape: {enum: [[1, 2], {a: 1}]}\n"
    "  tree: {$ref: '#/$defs/node'}\n"
    "  closed: {type: object, additionalProperties: false, properties: {a: true, b: false}}\n"
    "$defs:\n"
    "  qn: {type: string, minLength: 1, maxLength: 400}\n"
    "  node: {type: object, properties: {children: {type: array, items: {$ref: "
    "'#/$defs/node'}}}}\n";

/*  {"source": "montecarlo", "external_id": "0193b1c4-7e55-7a10-9c3b-5d2f8e6a4b21"} */
static const uint8_t s_body[] = {
    0x82, 0xa6, 's', 'o', 'u', 'r', 'c', 'e', 0xaa, 'm', 'o', 'n', 't', 'e',  'c', 'a', 'r', 'l',
    'o',  0xab, 'e', 'x', 't', 'e', 'r', 'n', 'a',  'l', '_', 'i', 'd', 0xd9, 36,  '0', '1', '9',
    '3',  'b',  '1', 'c', '4', '-', '7', 'e', '5',  '5', '-', '7', 'a', '1',  '0', '-', '9', 'c',
    '3',  'b',  '-', '5', 'd', '2', 'f', '8', 'e',  '6', 'a', '4', 'b', '2',  '1'};

static void s_ok_rc(int rc)
{
    if (rc != SL_OK && rc != SL_EINVAL && rc != SL_EPROTO) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sl_schema_t *fixed;
    char err[512];
    if (!fixed) {
        fixed = sl_schema_compile(s_fixed_text, sizeof s_fixed_text - 1, "fixed", err, sizeof err);
        if (!fixed) {
            abort();
        }
        if (sl_schema_validate(fixed, s_body, sizeof s_body, "body", err, sizeof err) != SL_OK) {
            abort();
        }
    }
    /*  The bytes as a msgpack body. */
    int rc = sl_schema_validate(fixed, data, size, "body", err, sizeof err);
    s_ok_rc(rc);
    if (rc != SL_OK && err[0] == '\0') {
        abort(); /* a failure always has a reason */
    }
    /*  The bytes as a schema file. */
    sl_schema_t *s = sl_schema_compile((const char *)data, size, "fuzz", err, sizeof err);
    if (!s) {
        if (err[0] == '\0') {
            abort();
        }
        return 0;
    }
    s_ok_rc(sl_schema_validate(s, s_body, sizeof s_body, "body", err, sizeof err));
    s_ok_rc(sl_schema_validate(s, NULL, 0, "body", err, sizeof err));
    s_ok_rc(sl_schema_validate(s, data, size, NULL, err, sizeof err));
    sl_buf_t report = {0};
    rc = sl_schema_compat(fixed, s, SL_COMPAT_FULL, &report);
    if (rc != SL_OK && rc != SL_EINVAL) {
        abort();
    }
    (void)sl_schema_compat(s, s, SL_COMPAT_FULL, &report);
    sl_buf_free(&report);
    sl_schema_destroy(&s);
    return 0;
}
