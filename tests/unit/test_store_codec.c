/*  Store codec: the asset value round-trips json_equal for every tree with
    a valid id (the store's shapes, placeholders, unknown fields, odd tag
    entries, wrong-typed known fields, int64 extremes whose deltas
    overflow, and a few thousand random trees from a seeded generator);
    the typical asset packs to under 55% of the spelled-out msgpack; ids
    out of range are refused; truncated, extended and damaged values give
    NULL or a tree that packs again, never a crash; out of memory at any
    allocation of a decode gives NULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../json_same.h"

#include "sluice/common.h"
#include "sluice/event.h"
#include "sluice/mpjson.h"

#include "../../core/store_codec.h"

#define S_T0 ((json_int_t)1700000000000000) /* 2023-11-14, in microseconds */

/*  The tag entry the store writes (core/store.c, s_apply_tag_set). */
static json_t *s_own(const char *by, json_int_t at, int prop)
{
    json_t *e =
        json_pack("{s:{s:s,s:I,s:b}}", "own", "set_by", by, "set_at", at, "propagate", prop);
    assert_non_null(e);
    return e;
}

/*  The asset of store_bench --mode size: one asset.upsert, then 5 tag.set
    from the same source, each a few microseconds later. */
static json_t *s_bench_asset(json_int_t id, long long i)
{
    static const char *const tags[5] = {"pii", "tier1", "finance", "gdpr", "certified"};
    char name[32], team[32];
    snprintf(name, sizeof name, "tbl_%016llx", (unsigned long long)(i * 0x9e3779b97f4a7c15ull));
    snprintf(team, sizeof team, "team-%02u@acme.example", (unsigned)(i % 37));
    json_t *a = json_pack(
        "{s:I,s:I,s:I,s:I,s:s,s:s,s:s,s:[s,s],s:{s:I,s:s,s:i}}", "id", id, "version", (json_int_t)6,
        "created_at", S_T0, "updated_at", S_T0 + 17, "type", "table", "name", name, "description",
        "Daily snapshot of order facts, one row per order line, deduplicated (rev 0)", "owners",
        "data-platform@acme.example", team, "attributes", "rows",
        (json_int_t)(i * 7919 % 100000000), "format", "parquet", "retention_days", 400);
    assert_non_null(a);
    json_t *t = json_object();
    assert_non_null(t);
    for (int k = 0; k < 5; k++) {
        assert_int_equal(json_object_set_new(t, tags[k], s_own("store_bench", S_T0 + 3 + 3 * k, 1)),
                         0);
    }
    assert_int_equal(json_object_set_new(a, "tags", t), 0);
    return a;
}

/*  pack -> unpack is the same tree (s_same: json_equal), a second pack gives the same bytes, and
    the id is at its offset. Returns the packed size. */
static size_t s_round(json_t *a)
{
    sl_buf_t b = {0}, b2 = {0};
    uint64_t id = 0;
    int rc = sl_asset_pack(a, &b);
    if (rc != SL_OK) {
        fail_msg("pack: %s", sl_strerror(rc));
    }
    assert_int_equal(b.data[0], SL_ASSET_MARK);
    assert_int_equal(sl_asset_id(b.data, b.len, &id), SL_OK);
    assert_int_equal(id, (uint64_t)json_integer_value(json_object_get(a, "id")));
    json_t *back = sl_asset_unpack(b.data, b.len);
    if (!back || !s_same(a, back)) {
        char *x = json_dumps(a, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *y = back ? json_dumps(back, JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
        fail_msg("round trip:\n  in:  %s\n  out: %s", x, y ? y : "(NULL)");
    }
    assert_int_equal(sl_asset_pack(back, &b2), SL_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    size_t n = b.len;
    json_decref(back);
    sl_buf_free(&b);
    sl_buf_free(&b2);
    return n;
}

static void test_typical(void **state)
{
    json_t *a = s_bench_asset(123456, 42);
    sl_buf_t old = {0};
    size_t n = s_round(a);
    assert_int_equal(sl_jansson_to_msgpack(a, &old), SL_OK);
    size_t old_no_id = old.len - (1 + 2 + 5); /* "id": 0xce + 4 bytes */
    print_message("typical asset: %zu bytes packed, %zu spelled out (%zu without the id): %.0f%%\n",
                  n, old.len, old_no_id, 100.0 * (double)n / (double)old.len);
    assert_true(n * 100 <= old.len * 55);
    assert_true(n <= 300);
    /*  Tags from several sources, one not propagated: still compact. */
    json_t *t = json_object_get(a, "tags");
    json_object_set_new(t, "tier1", s_own("dbt", S_T0 + 40, 1));
    json_object_set_new(t, "gdpr", s_own("dbt", S_T0 - 40, 0));
    json_object_set_new(t, "finance", s_own("store_bench", S_T0 + 9, 0));
    size_t n2 = s_round(a);
    print_message("with 2 sources and 2 not propagated: %zu bytes\n", n2);
    assert_true(n2 <= n + 16);
    sl_buf_free(&old);
    json_decref(a);
}

static void test_placeholder(void **state)
{
    /*  As s_asset_ensure leaves it: created, touched once, a placeholder. */
    json_t *a = json_pack("{s:I,s:I,s:I,s:I,s:b}", "id", (json_int_t)1, "version", (json_int_t)1,
                          "created_at", S_T0, "updated_at", S_T0, "placeholder", 1);
    size_t n = s_round(a);
    print_message("placeholder: %zu bytes\n", n);
    assert_true(n <= 23);
    json_object_set_new(a, "placeholder", json_false()); /* not what the store writes */
    s_round(a);
    json_object_del(a, "placeholder");
    s_round(a);
    json_decref(a);
    /*  The id alone. */
    a = json_pack("{s:I}", "id", (json_int_t)SL_ASSET_ID_MAX);
    assert_int_equal(s_round(a), 7);
    json_decref(a);
}

static void test_unknown_fields(void **state)
{
    json_t *a = s_bench_asset(7, 1);
    json_object_set_new(a, "qualified_name", json_string("snowflake://acme/db/sch/tbl"));
    json_object_set_new(a, "", json_integer(-1));
    json_object_set_new(a, "nested", json_pack("{s:[i,f,n,b,{s:s}]}", "x", 1, 2.5, 0, "y", "z"));
    json_object_set_new(a, "versión", json_real(0.1));
    json_object_set_new(a, "Version", json_string("not the coded one"));
    json_object_set_new(a, "tag", json_object());
    assert_int_equal(json_object_setn_new(a, "type\0x", 6, json_string("NUL in a key")), 0);
    assert_int_equal(json_object_setn_new(a, "\0", 1, json_null()), 0);
    json_object_set_new(json_object_get(a, "attributes"), "a\xc3\xa9", json_real(-1e300));
    assert_int_equal(
        json_object_setn_new(json_object_get(a, "attributes"), "k\0k", 3, json_integer(3)), 0);
    s_round(a);
    json_decref(a);
}

static void test_odd_tags(void **state)
{
    json_t *a = s_bench_asset(99, 3);
    json_t *t = json_object_get(a, "tags");
    json_object_set_new(t, "empty", json_object());
    json_object_set_new(t, "extra",
                        json_pack("{s:{s:s,s:I,s:b},s:[s]}", "own", "set_by", "x", "set_at", S_T0,
                                  "propagate", 1, "sources", "y"));
    json_object_set_new(t, "two", json_pack("{s:{s:s,s:I}}", "own", "set_by", "x", "set_at", S_T0));
    json_object_set_new(t, "four",
                        json_pack("{s:{s:s,s:I,s:b,s:i}}", "own", "set_by", "x", "set_at", S_T0,
                                  "propagate", 1, "more", 1));
    json_object_set_new(
        t, "real_at",
        json_pack("{s:{s:s,s:f,s:b}}", "own", "set_by", "x", "set_at", 1.5, "propagate", 1));
    json_object_set_new(
        t, "null_prop",
        json_pack("{s:{s:s,s:I,s:n}}", "own", "set_by", "x", "set_at", S_T0, "propagate"));
    json_object_set_new(
        t, "int_by",
        json_pack("{s:{s:i,s:I,s:b}}", "own", "set_by", 5, "set_at", S_T0, "propagate", 0));
    json_object_set_new(t, "own_array", json_pack("{s:[]}", "own"));
    json_object_set_new(
        t, "renamed",
        json_pack("{s:{s:s,s:I,s:b}}", "mine", "set_by", "x", "set_at", S_T0, "propagate", 1));
    /*  Entries that are not objects, some of which look like compact ones. */
    json_object_set_new(t, "int", json_integer(5));
    json_object_set_new(t, "neg", json_integer(-5));
    json_object_set_new(t, "pair", json_pack("[i,i]", 0, 1));
    json_object_set_new(t, "triple", json_pack("[i,i,b]", 0, 1, 0));
    json_object_set_new(t, "one", json_pack("[i]", 0));
    json_object_set_new(t, "none", json_array());
    json_object_set_new(t, "str", json_string("x"));
    json_object_set_new(t, "null", json_null());
    json_object_set_new(t, "true", json_true());
    json_object_set_new(t, "real", json_real(2.0));
    /*  Known shapes with sources in odd places, NUL bytes, empty names. */
    json_object_set_new(t, "nul_by",
                        json_pack("{s:{s:s%,s:I,s:b}}", "own", "set_by", "a\0b", (size_t)3,
                                  "set_at", S_T0, "propagate", 1));
    json_object_set_new(t, "", s_own("", 0, 0));
    assert_int_equal(json_object_setn_new(t, "t\0g", 3, s_own("z", S_T0 + 1, 1)), 0);
    s_round(a);
    /*  tags that is not an object stays a plain field. */
    json_object_set_new(a, "tags", json_pack("[s,s]", "pii", "gdpr"));
    s_round(a);
    json_object_set_new(a, "tags", json_integer(5));
    s_round(a);
    json_object_set_new(a, "tags", json_object());
    s_round(a);
    json_decref(a);
}

static void test_wrong_types(void **state)
{
    json_t *a = s_bench_asset(5, 5);
    json_object_set_new(a, "owners", json_integer(5));
    json_object_set_new(a, "version", json_string("x"));
    json_object_set_new(a, "type", json_null());
    json_object_set_new(a, "name", json_pack("[i]", 1));
    json_object_set_new(a, "description", json_pack("{s:i}", "a", 1));
    json_object_set_new(a, "attributes", json_pack("[i,s]", 1, "x"));
    json_object_set_new(a, "placeholder", json_string("yes"));
    s_round(a);
    /*  updated_at without an integer created_at, or not an integer. */
    json_object_set_new(a, "created_at", json_real(1.5));
    s_round(a);
    json_object_del(a, "created_at");
    s_round(a);
    json_object_set_new(a, "created_at", json_integer(S_T0));
    json_object_set_new(a, "updated_at", json_string("2023-11-14T22:13:20Z"));
    s_round(a);
    json_object_del(a, "updated_at");
    s_round(a);
    json_decref(a);
}

static void test_extreme_ints(void **state)
{
    static const json_int_t v[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX};
    const size_t nv = sizeof v / sizeof *v;
    for (size_t i = 0; i < nv; i++) {
        for (size_t j = 0; j < nv; j++) {
            json_t *a = s_bench_asset(1 + (json_int_t)(i * nv + j), 0);
            json_t *t = json_object_get(a, "tags");
            json_object_set_new(a, "created_at", json_integer(v[i]));
            json_object_set_new(a, "updated_at", json_integer(v[j]));
            json_object_set_new(a, "version", json_integer(v[j]));
            /*  Each tag's delta is from the previous compact one: walk the
                extremes so some deltas overflow and some do not. */
            json_object_set_new(t, "pii", s_own("a", v[j], 1));
            json_object_set_new(t, "tier1", s_own("b", v[i], 0));
            json_object_set_new(t, "finance", s_own("a", v[j], 1));
            json_object_set_new(t, "gdpr", s_own("c", v[(i + j) % nv], 1));
            json_object_set_new(t, "certified", s_own("a", v[nv - 1 - i], 0));
            s_round(a);
            json_object_del(a, "created_at");
            s_round(a);
            json_decref(a);
        }
    }
}

static void test_id_bounds(void **state)
{
    sl_buf_t b = {0};
    uint64_t id;
    static const json_int_t bad[] = {0, -1, (json_int_t)1 << 40, INT64_MAX, INT64_MIN};
    json_t *a = s_bench_asset(1, 1);
    assert_int_equal(sl_buf_append(&b, "keep", 4), SL_OK);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_object_set_new(a, "id", json_integer(bad[i]));
        assert_int_equal(sl_asset_pack(a, &b), SL_EINVAL);
        assert_int_equal(b.len, 4); /* out is left as it was */
    }
    json_object_set_new(a, "id", json_real(1.0));
    assert_int_equal(sl_asset_pack(a, &b), SL_EINVAL);
    json_object_set_new(a, "id", json_string("1"));
    assert_int_equal(sl_asset_pack(a, &b), SL_EINVAL);
    json_object_del(a, "id");
    assert_int_equal(sl_asset_pack(a, &b), SL_EINVAL);
    json_t *arr = json_array();
    assert_int_equal(sl_asset_pack(arr, &b), SL_EINVAL);
    json_decref(arr);
    assert_int_equal(b.len, 4);
    /*  Both ends of the range; the value is appended after what out held. */
    json_object_set_new(a, "id", json_integer((json_int_t)SL_ASSET_ID_MAX));
    assert_int_equal(sl_asset_pack(a, &b), SL_OK);
    assert_memory_equal(b.data, "keep\xc1\xff\xff\xff\xff\xff", 10);
    assert_int_equal(sl_asset_id(b.data + 4, b.len - 4, &id), SL_OK);
    assert_int_equal(id, SL_ASSET_ID_MAX);
    s_round(a);
    json_object_set_new(a, "id", json_integer(1));
    s_round(a);
    json_object_set_new(a, "id", json_integer(0x0102030405));
    sl_buf_reset(&b);
    assert_int_equal(sl_asset_pack(a, &b), SL_OK);
    assert_memory_equal(b.data, "\xc1\x01\x02\x03\x04\x05", 6);
    sl_buf_free(&b);
    json_decref(a);
}

static void test_asset_id(void **state)
{
    uint64_t id = 77;
    assert_int_equal(sl_asset_id("\xc1\x00\x00\x00\x00\x01", 6, &id), SL_OK);
    assert_int_equal(id, 1);
    assert_int_equal(sl_asset_id("\xc1\x00\x00\x00\x01\x00\x80", 7, &id), SL_OK);
    assert_int_equal(id, 256);
    id = 77;
    assert_int_equal(sl_asset_id("\xc1\x00\x00\x00\x00", 5, &id), SL_EPROTO);
    assert_int_equal(sl_asset_id("", 0, &id), SL_EPROTO);
    assert_int_equal(sl_asset_id("\xc1\x00\x00\x00\x00\x00\x80", 7, &id), SL_EPROTO); /* 0 */
    assert_int_equal(sl_asset_id("\x87\x00\x00\x00\x00\x01\x80", 7, &id), SL_EPROTO);
    assert_int_equal(id, 77);
    /*  The old encoding (a msgpack map) is told apart by its first byte. */
    json_t *a = s_bench_asset(3, 3);
    sl_buf_t b = {0};
    assert_int_equal(sl_jansson_to_msgpack(a, &b), SL_OK);
    assert_int_equal(sl_asset_id(b.data, b.len, &id), SL_EPROTO);
    assert_null(sl_asset_unpack(b.data, b.len));
    sl_buf_free(&b);
    json_decref(a);
}

/*  Whatever the decoder makes of some bytes packs again and reads back
    the same (the fuzz target's property). */
static void s_any(const uint8_t *p, size_t n, int *trees)
{
    json_t *a = sl_asset_unpack(p, n);
    if (a) {
        (*trees)++;
        s_round(a);
        json_decref(a);
    }
}

static void test_truncation_and_damage(void **state)
{
    json_t *a = s_bench_asset(1000, 9);
    json_t *t = json_object_get(a, "tags");
    json_object_set_new(t, "odd", json_pack("[i,{s:f}]", 1, "x", 0.25));
    json_object_set_new(t, "by_two", s_own("other", S_T0 - 5, 0));
    json_object_set_new(a, "extra", json_pack("{s:[s,n,b]}", "k", "v", 0));
    sl_buf_t b = {0};
    assert_int_equal(sl_asset_pack(a, &b), SL_OK);
    int trees = 0;
    /*  Every strict prefix misses part of the map: never a tree. */
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
        assert_non_null(copy);
        memcpy(copy, b.data, n);
        assert_null(sl_asset_unpack(copy, n));
        free(copy);
    }
    /*  A byte more is not a value either. */
    assert_int_equal(sl_buf_append(&b, "\x00", 1), SL_OK);
    assert_null(sl_asset_unpack(b.data, b.len));
    b.len--;
    /*  Every byte changed to a few values: NULL or a tree that packs. */
    static const uint8_t subst[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0xa0, 0xc0, 0xc1, 0xc2,
                                    0xc3, 0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcf, 0xd0, 0xd3, 0xd4,
                                    0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};
    uint8_t *copy = malloc(b.len);
    assert_non_null(copy);
    for (size_t i = 0; i < b.len; i++) {
        for (size_t s = 0; s < sizeof subst; s++) {
            memcpy(copy, b.data, b.len);
            copy[i] = subst[s];
            s_any(copy, b.len, &trees);
        }
    }
    free(copy);
    print_message("damaged copies that still decode: %d of %zu\n", trees, b.len * sizeof subst);
    assert_true(trees > 0);
    sl_buf_free(&b);
    json_decref(a);
}

/*  Values the writer never makes: each is refused. */
static void test_malformed(void **state)
{
    static const struct {
        const char *what;
        const char *bytes;
        size_t n;
    } bad[] = {
#define S_BAD(w, b) {w, b, sizeof(b) - 1}
        S_BAD("no map", "\xc1\x00\x00\x00\x00\x01"),
        S_BAD("not a map", "\xc1\x00\x00\x00\x00\x01\x90"),
        S_BAD("id 0", "\xc1\x00\x00\x00\x00\x00\x80"),
        S_BAD("code 0", "\xc1\x00\x00\x00\x00\x01\x81\x00\x01"),
        S_BAD("code 13", "\xc1\x00\x00\x00\x00\x01\x81\x0d\x01"),
        S_BAD("a code twice", "\xc1\x00\x00\x00\x00\x01\x82\x01\x01\x01\x02"),
        S_BAD("updated_at twice", "\xc1\x00\x00\x00\x00\x01\x83\x02\x01\x03\x01\x04\x01"),
        S_BAD("\"id\" as a key", "\xc1\x00\x00\x00\x00\x01\x81\xa2id\x01"),
        S_BAD("a coded name spelled out", "\xc1\x00\x00\x00\x00\x01\x81\xa4name\xa1x"),
        S_BAD("a negative key", "\xc1\x00\x00\x00\x00\x01\x81\xff\x01"),
        S_BAD("a delta without created_at", "\xc1\x00\x00\x00\x00\x01\x81\x03\x01"),
        S_BAD("a delta that is a string", "\xc1\x00\x00\x00\x00\x01\x82\x02\x01\x03\xa1x"),
        S_BAD("a delta that overflows",
              "\xc1\x00\x00\x00\x00\x01\x82\x02\xcf\x7f\xff\xff\xff\xff\xff\xff\xff\x03\x01"),
        S_BAD("a compact tag without sources", "\xc1\x00\x00\x00\x00\x01\x81\x0c\x81\xa1t\x01"),
        S_BAD("a source index out of range",
              "\xc1\x00\x00\x00\x00\x01\x82\x0b\x91\xa1s\x0c\x81\xa1t\x92\x01\x01"),
        S_BAD("sources not strings", "\xc1\x00\x00\x00\x00\x01\x82\x0b\x91\x05\x0c\x81\xa1t\x01"),
        S_BAD("a tag array of 4", "\xc1\x00\x00\x00\x00\x01\x82\x0b\x91\xa1s\x0c\x81\xa1t\x94"
                                  "\x00\x00\xc2\x00"),
        S_BAD("a tag array of 0", "\xc1\x00\x00\x00\x00\x01\x81\x0c\x81\xa1t\x90"),
        S_BAD("a flag that is not a bool",
              "\xc1\x00\x00\x00\x00\x01\x82\x0b\x91\xa1s\x0c\x81\xa1t\x93\x00\x00\x00"),
        S_BAD("a tag name that is not a string", "\xc1\x00\x00\x00\x00\x01\x81\x0c\x81\x01\xc0"),
        S_BAD("tags not a map", "\xc1\x00\x00\x00\x00\x01\x81\x0c\x90"),
        S_BAD("tags twice", "\xc1\x00\x00\x00\x00\x01\x82\x0c\x80\xa4tags\x80"),
        S_BAD("a lone ext", "\xc1\x00\x00\x00\x00\x01\x81\x01\xd4\x01\x01"),
        S_BAD("the mark inside", "\xc1\x00\x00\x00\x00\x01\x81\x01\xc1"),
        S_BAD("a huge map count", "\xc1\x00\x00\x00\x00\x01\xdf\xff\xff\xff\xff\x01\x01"),
        S_BAD("a huge string", "\xc1\x00\x00\x00\x00\x01\x81\x06\xdb\xff\xff\xff\xff"),
        S_BAD("a huge nested array", "\xc1\x00\x00\x00\x00\x01\x81\x09\x91\xdd\xff\xff\xff\xff"),
        S_BAD("trailing bytes", "\xc1\x00\x00\x00\x00\x01\x80\x00"),
#undef S_BAD
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t *copy = malloc(bad[i].n);
        assert_non_null(copy);
        memcpy(copy, bad[i].bytes, bad[i].n);
        json_t *a = sl_asset_unpack(copy, bad[i].n);
        if (a) {
            fail_msg("accepted: %s", bad[i].what);
        }
        free(copy);
    }
    /*  And a few the writer does make, by hand. */
    json_t *a = sl_asset_unpack("\xc1\x00\x00\x00\x00\x01\x80", 7);
    json_t *want = json_pack("{s:i}", "id", 1);
    assert_non_null(a);
    assert_true(json_equal(a, want));
    json_decref(want);
    json_decref(a);
    a = sl_asset_unpack("\xc1\x00\x00\x00\x00\x02\x84\x02\x10\x03\xff\x0b\x91\xa1s\x0c\x82\xa1t\x02"
                        "\xa1u\x93\x00\xfe\xc2",
                        26);
    assert_non_null(a);
    want =
        json_pack("{s:i,s:i,s:i,s:{s:{s:{s:s,s:i,s:b}},s:{s:{s:s,s:i,s:b}}}}", "id", 2,
                  "created_at", 16, "updated_at", 15, "tags", "t", "own", "set_by", "s", "set_at",
                  18, "propagate", 1, "u", "own", "set_by", "s", "set_at", 16, "propagate", 0);
    assert_true(json_equal(a, want));
    json_decref(want);
    json_decref(a);
}

static void test_depth(void **state)
{
    /*  Each field is its own msgpack value: SL_EVENT_MAX_DEPTH containers
        inside attributes (or a tag entry) are fine, one more is refused,
        as the reader would refuse it. */
    json_t *a = json_pack("{s:i}", "id", 1);
    json_t *inner = json_array(), *deeper = json_array();
    sl_buf_t b = {0};
    for (int d = 1; d < SL_EVENT_MAX_DEPTH; d++) {
        json_t *outer = json_array();
        json_array_append_new(outer, inner);
        inner = outer;
    }
    json_array_append(deeper, inner);
    json_object_set(a, "attributes", inner);
    s_round(a);
    json_object_set(a, "attributes", deeper);
    assert_int_equal(sl_asset_pack(a, &b), SL_ERANGE);
    assert_int_equal(b.len, 0);
    json_object_del(a, "attributes");
    json_object_set_new(a, "tags", json_pack("{s:O}", "deep", inner));
    s_round(a);
    json_object_set_new(a, "tags", json_pack("{s:O}", "deep", deeper));
    assert_int_equal(sl_asset_pack(a, &b), SL_ERANGE);
    json_decref(inner);
    json_decref(deeper);
    json_decref(a);
    sl_buf_free(&b);
}

/*  Out of memory at each jansson allocation of a decode in turn: NULL or
    the whole tree, never a part of it, a leak or a double free (ASan). */
static long s_fail_at = -1, s_allocs;

static void *s_malloc(size_t n)
{
    if (s_fail_at >= 0 && s_allocs++ == s_fail_at) {
        return NULL;
    }
    return malloc(n);
}

static void test_alloc_failure(void **state)
{
    json_t *a = s_bench_asset(31, 4);
    json_t *t = json_object_get(a, "tags");
    json_object_set_new(t, "odd", json_pack("[i,{s:f}]", 1, "x", 0.25));
    json_object_set_new(t, "by_two", s_own("other", S_T0 - 5, 0));
    json_object_set_new(t, "plain", json_pack("{s:s}", "k", "v"));
    json_object_set_new(a, "extra", json_pack("{s:[s,n,b]}", "k", "v", 0));
    json_object_set_new(a, "updated_at", json_string("not a delta"));
    sl_buf_t b = {0};
    int nulls = 0;
    assert_int_equal(sl_asset_pack(a, &b), SL_OK);
    json_set_alloc_funcs(s_malloc, free);
    for (long k = 0;; k++) {
        s_allocs = 0;
        s_fail_at = k;
        json_t *back = sl_asset_unpack(b.data, b.len);
        s_fail_at = -1;
        if (!back) {
            nulls++;
            continue;
        }
        assert_true(s_same(a, back));
        json_decref(back);
        if (s_allocs <= k) {
            break; /* this decode made fewer than k + 1 allocations */
        }
    }
    json_set_alloc_funcs(malloc, free);
    print_message("out of memory at each of %d allocations: NULL\n", nulls);
    assert_true(nulls > 40);
    sl_buf_free(&b);
    json_decref(a);
}

/* ---- property test: random trees */

static uint64_t s_rng;

static uint64_t s_next(void)
{
    /*  splitmix64 */
    uint64_t z = (s_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned s_rand(unsigned n)
{
    return (unsigned)(s_next() % n);
}

static json_int_t s_rand_int(void)
{
    static const json_int_t edge[] = {
        INT64_MIN,     INT64_MIN + 1, -129, -128, -33,   -32,   -1,        0,
        127,           128,           255,  256,  65535, 65536, INT32_MAX, (json_int_t)1 << 32,
        INT64_MAX - 1, INT64_MAX};
    switch (s_rand(4)) {
    case 0:
        return edge[s_rand(sizeof edge / sizeof *edge)];
    case 1:
        return (json_int_t)s_rand(200) - 100;
    case 2:
        return S_T0 + (json_int_t)s_rand(1000000) - 500000;
    default:
        return (json_int_t)s_next();
    }
}

/*  Valid UTF-8 from pieces of 0 to 4 bytes, NUL included. */
static void s_rand_text(char *out, size_t *len, size_t max)
{
    static const struct {
        const char *s;
        size_t n;
    } piece[] = {{"a", 1},
                 {"b", 1},
                 {"z", 1},
                 {"_", 1},
                 {" ", 1},
                 {"\"", 1},
                 {"\\", 1},
                 {"\x01", 1},
                 {"\x7f", 1},
                 {"\0", 1},
                 {"\xc3\xa9", 2},
                 {"\xe2\x82\xac", 3},
                 {"\xf0\x9d\x84\x9e", 4},
                 {"", 0},
                 {"own", 3},
                 {"set_by", 6}};
    size_t n = 0, want = s_rand(4) == 0 ? s_rand(40) : s_rand(8);
    for (size_t i = 0; i < want; i++) {
        unsigned k = s_rand(sizeof piece / sizeof *piece);
        if (n + piece[k].n > max) {
            break;
        }
        memcpy(out + n, piece[k].s, piece[k].n);
        n += piece[k].n;
    }
    *len = n;
}

static json_t *s_rand_str(void)
{
    char text[200];
    size_t n;
    s_rand_text(text, &n, sizeof text);
    return json_stringn(text, n);
}

static json_t *s_rand_json(int depth)
{
    unsigned k = s_rand(depth > 3 ? 6 : 8);
    switch (k) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(s_rand(2));
    case 2:
        return json_integer(s_rand_int());
    case 3: {
        double d;
        if (s_rand(2)) {
            d = (double)s_rand_int() / 8.0;
        } else {
            uint64_t u = s_next();
            memcpy(&d, &u, 8);
            if (d != d || d - d != 0) {
                d = -0.0; /* NaN or infinity: jansson holds neither */
            }
        }
        return json_real(d);
    }
    case 4:
    case 5:
        return s_rand_str();
    case 6: {
        json_t *a = json_array();
        for (unsigned i = s_rand(5); i > 0; i--) {
            json_array_append_new(a, s_rand_json(depth + 1));
        }
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = s_rand(5); i > 0; i--) {
            char key[200];
            size_t n;
            s_rand_text(key, &n, sizeof key);
            json_object_setn_new(o, key, n, s_rand_json(depth + 1));
        }
        return o;
    }
    }
}

static json_t *s_rand_entry(void)
{
    static const char *const src[] = {"store_bench", "dbt", "", "airflow\xc3\xa9", "a\0b"};
    if (s_rand(5) == 0) {
        return s_rand_json(1); /* any shape */
    }
    unsigned si = s_rand(5);
    json_t *e = json_pack("{s:{s:s%,s:I,s:b}}", "own", "set_by", src[si],
                          si == 4 ? (size_t)3 : strlen(src[si]), "set_at", s_rand_int(),
                          "propagate", s_rand(4) != 0);
    if (s_rand(10) == 0) {
        /*  Near misses: an extra, a missing or a wrong-typed member. */
        json_t *own = json_object_get(e, "own");
        switch (s_rand(4)) {
        case 0:
            json_object_set_new(own, "x", json_integer(1));
            break;
        case 1:
            json_object_del(own, "set_at");
            break;
        case 2:
            json_object_set_new(own, "propagate", s_rand_json(2));
            break;
        default:
            json_object_set_new(e, "sources", s_rand_json(2));
            break;
        }
    }
    return e;
}

static json_t *s_rand_asset(void)
{
    static const char *const field[] = {"version",     "created_at", "updated_at",
                                        "placeholder", "type",       "name",
                                        "description", "owners",     "attributes"};
    json_t *a = json_object();
    json_object_set_new(a, "id", json_integer(1 + (json_int_t)(s_next() % SL_ASSET_ID_MAX)));
    for (size_t i = 0; i < sizeof field / sizeof *field; i++) {
        if (s_rand(5) == 0) {
            continue;
        }
        json_t *v;
        if (s_rand(8) == 0) {
            v = s_rand_json(1); /* any type */
        } else if (i <= 2) {
            v = json_integer(s_rand(3) ? S_T0 + (json_int_t)s_rand(100000) : s_rand_int());
        } else if (i == 3) {
            v = json_true();
        } else if (i <= 6) {
            v = s_rand_str();
        } else if (i == 7) {
            v = json_array();
            for (unsigned k = s_rand(4); k > 0; k--) {
                json_array_append_new(v, s_rand_str());
            }
        } else {
            v = json_object();
            for (unsigned k = s_rand(4); k > 0; k--) {
                char key[200];
                size_t n;
                s_rand_text(key, &n, sizeof key);
                json_object_setn_new(v, key, n, s_rand_json(2));
            }
        }
        json_object_set_new(a, field[i], v);
    }
    if (s_rand(4) != 0) {
        json_t *t = s_rand(10) == 0 ? s_rand_json(1) : json_object();
        for (unsigned k = json_is_object(t) ? s_rand(12) : 0; k > 0; k--) {
            char key[200];
            size_t n;
            s_rand_text(key, &n, sizeof key);
            json_object_setn_new(t, key, n, s_rand_entry());
        }
        json_object_set_new(a, "tags", t);
    }
    for (unsigned k = s_rand(3) == 0 ? s_rand(4) : 0; k > 0; k--) {
        char key[200] = "u:";
        size_t n;
        s_rand_text(key + 2, &n, sizeof key - 2);
        json_object_setn_new(a, key, n + 2, s_rand_json(1));
    }
    return a;
}

static void test_property(void **state)
{
    const int n = 5000;
    size_t bytes = 0;
    s_rng = 20240607;
    for (int i = 0; i < n; i++) {
        json_t *a = s_rand_asset();
        assert_non_null(a);
        bytes += s_round(a);
        json_decref(a);
    }
    print_message("%d random assets, %zu bytes packed\n", n, bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typical),
        cmocka_unit_test(test_placeholder),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_odd_tags),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_extreme_ints),
        cmocka_unit_test(test_id_bounds),
        cmocka_unit_test(test_asset_id),
        cmocka_unit_test(test_truncation_and_damage),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
