/*  Unit tests for the event envelope: msgpack codec, batches, UUIDv7,
    RFC 3339, JSON form, golden vectors (tests/unit/vectors/events/).

    SL_UPDATE_VECTORS=1 rewrites the .hex files from the .json files instead
    of checking them; check the diff by hand before committing it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/event.h"

#define VECTOR_DIR SL_SOURCE_DIR "/tests/unit/vectors/events"

/* ------------------------------------------------------------------------ */
/*  helpers */

static sl_slice_t s_sl(const char *s)
{
    return (sl_slice_t){s, (uint32_t)strlen(s)};
}

static void s_app(sl_buf_t *b, const char *s)
{
    assert_int_equal(sl_buf_append(b, s, strlen(s)), 0);
}

static int s_slice_same(sl_slice_t a, sl_slice_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void s_assert_same(const sl_event_t *a, const sl_event_t *b)
{
    assert_memory_equal(a->id, b->id, 16);
    assert_memory_equal(a->trace, b->trace, 16);
    assert_true(s_slice_same(a->tenant, b->tenant));
    assert_true(s_slice_same(a->kind, b->kind));
    assert_true(s_slice_same(a->schema, b->schema));
    assert_true(s_slice_same(a->source, b->source));
    assert_true(s_slice_same(a->key, b->key));
    assert_true(s_slice_same(a->body, b->body));
    assert_int_equal(a->schema_version, b->schema_version);
    assert_int_equal(a->time_us, b->time_us);
    assert_int_equal(a->ingest_us, b->ingest_us);
    assert_int_equal(a->hops, b->hops);
}

static char *s_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/*  Hex text (whitespace ignored) to bytes. */
static void s_unhex(const char *t, size_t n, sl_buf_t *out)
{
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            continue;
        }
        assert_true(v >= 0);
        if (hi < 0) {
            hi = v;
        } else {
            uint8_t b = (uint8_t)(hi << 4 | v);
            assert_int_equal(sl_buf_append(out, &b, 1), 0);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
}

/*  An event with every field set to something distinctive. */
static void s_full_event(sl_event_t *ev, sl_buf_t *body)
{
    /* {"qualified_name": "db://x/y", "n": [1, -1, 2.5, true, nil]} */
    static const uint8_t b[] = {0x82, 0xae, 'q', 'u',  'a', 'l',  'i',  'f',  'i',  'e',  'd',
                                '_',  'n',  'a', 'm',  'e', 0xa8, 'd',  'b',  ':',  '/',  '/',
                                'x',  '/',  'y', 0xa1, 'n', 0x95, 0x01, 0xff, 0xcb, 0x40, 0x04,
                                0,    0,    0,   0,    0,   0,    0xc3, 0xc0};
    sl_buf_reset(body);
    assert_int_equal(sl_buf_append(body, b, sizeof b), 0);
    memset(ev, 0, sizeof *ev);
    ev->version = SL_EVENT_VERSION;
    sl_event_id_new(ev->id);
    for (int i = 0; i < 16; i++) {
        ev->trace[i] = (uint8_t)(0xa0 + i);
    }
    ev->tenant = s_sl("acme");
    ev->kind = s_sl("asset.upsert");
    ev->schema = s_sl("asset.upsert.with.a.schema.name.longer.than.thirty.two");
    ev->schema_version = 70000;
    ev->source = s_sl("");
    ev->key = s_sl("db://x/y");
    ev->time_us = 1795593600123456;
    ev->ingest_us = -5;
    ev->hops = UINT32_MAX;
    ev->body = (sl_slice_t){(const char *)body->data, (uint32_t)body->len};
}

/* ------------------------------------------------------------------------ */
/*  UUIDv7 */

static void test_uuid_v7_bits_and_order(void **state)
{
    uint8_t prev[16], id[16];
    int64_t now_ms = sl_now_us() / 1000;
    sl_event_id_new(prev);
    for (int i = 0; i < 100000; i++) {
        sl_event_id_new(id);
        assert_int_equal(id[6] >> 4, 7);       /* version */
        assert_int_equal(id[8] >> 6, 2);       /* variant 10 */
        assert_true(memcmp(prev, id, 16) < 0); /* strictly increasing */
        memcpy(prev, id, 16);
    }
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++) {
        ms = ms << 8 | id[i];
    }
    /*  The millisecond field tracks the wall clock (a burst may borrow a
        little from the future, never much). */
    assert_true((int64_t)ms >= now_ms && (int64_t)ms <= sl_now_us() / 1000 + 1000);
}

#define S_THREADS 4
#define S_PER_THREAD 20000

static void *s_id_thread(void *arg)
{
    uint8_t *ids = arg;
    for (int i = 0; i < S_PER_THREAD; i++) {
        sl_event_id_new(ids + 16 * i);
    }
    return NULL;
}

static int s_cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void test_uuid_v7_threads(void **state)
{
    uint8_t *ids = malloc((size_t)S_THREADS * S_PER_THREAD * 16);
    pthread_t t[S_THREADS];
    assert_non_null(ids);
    for (int i = 0; i < S_THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, s_id_thread, ids + i * S_PER_THREAD * 16), 0);
    }
    for (int i = 0; i < S_THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    /*  Each thread saw increasing ids, and no id was handed out twice. */
    for (int i = 0; i < S_THREADS; i++) {
        for (int k = 1; k < S_PER_THREAD; k++) {
            const uint8_t *a = ids + (i * S_PER_THREAD + k - 1) * 16;
            assert_true(memcmp(a, a + 16, 16) < 0);
        }
    }
    qsort(ids, (size_t)S_THREADS * S_PER_THREAD, 16, s_cmp16);
    for (size_t k = 1; k < (size_t)S_THREADS * S_PER_THREAD; k++) {
        assert_true(memcmp(ids + (k - 1) * 16, ids + k * 16, 16) != 0);
    }
    free(ids);
}

static void test_uuid_text(void **state)
{
    uint8_t id[16], back[16];
    char text[37];
    sl_event_id_new(id);
    sl_uuid_format(id, text);
    assert_int_equal(strlen(text), 36);
    assert_int_equal(sl_uuid_parse(text, 36, back), 0);
    assert_memory_equal(id, back, 16);

    const char *canon = "0193b1c4-7e55-7a10-9c3b-5d2f8e6a4b21";
    assert_int_equal(sl_uuid_parse("0193B1C4-7E55-7A10-9C3B-5D2F8E6A4B21", 36, back), 0);
    sl_uuid_format(back, text);
    assert_string_equal(text, canon);
    assert_int_equal(back[0], 0x01);
    assert_int_equal(back[15], 0x21);

    const char *bad[] = {
        "0193b1c4-7e55-7a10-9c3b-5d2f8e6a4b2",   /* short */
        "0193b1c4-7e55-7a10-9c3b-5d2f8e6a4b211", /* long */
        "0193b1c47e557a109c3b5d2f8e6a4b21",      /* no hyphens */
        "0193b1c4-7e55-7a10-9c3b_5d2f8e6a4b21",  /* wrong separator */
        "0193b1c4-7e55-7a10-9c3b-5d2f8e6a4bzz",  /* not hex */
        "0193b1c-47e55-7a10-9c3b-5d2f8e6a4b21",  /* misplaced hyphen */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sl_uuid_parse(bad[i], strlen(bad[i]), back), SL_EPROTO);
    }
    assert_int_equal(sl_uuid_parse(NULL, 36, back), SL_EPROTO);
}

/* ------------------------------------------------------------------------ */
/*  msgpack codec */

static void test_roundtrip_every_field(void **state)
{
    sl_buf_t body = {0}, out = {0};
    sl_event_t ev, back;
    size_t used = 0;
    s_full_event(&ev, &body);
    assert_int_equal(sl_event_encode(&ev, &out), 0);
    assert_int_equal(sl_event_decode(out.data, out.len, &used, &back), 0);
    assert_int_equal(used, out.len);
    assert_int_equal(back.version, SL_EVENT_VERSION);
    s_assert_same(&ev, &back);
    /*  Zero-copy: slices point into the input. */
    assert_true(back.kind.ptr > (const char *)out.data &&
                back.kind.ptr < (const char *)out.data + out.len);
    assert_true(back.body.ptr > (const char *)out.data &&
                back.body.ptr < (const char *)out.data + out.len);

    /*  Every string length class (fixstr, str8, str16) and the bounds. */
    static char big[SL_EVENT_MAX_STR + 1];
    memset(big, 'k', sizeof big);
    const uint32_t lens[] = {0, 1, 31, 32, 255, 256, 65535 > SL_EVENT_MAX_STR ? 4096 : 0};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        ev.key = (sl_slice_t){big, lens[i]};
        ev.tenant = (sl_slice_t){big, lens[i]};
        sl_buf_reset(&out);
        assert_int_equal(sl_event_encode(&ev, &out), 0);
        assert_int_equal(sl_event_decode(out.data, out.len, &used, &back), 0);
        assert_int_equal(used, out.len);
        s_assert_same(&ev, &back);
    }
    /*  Every integer width for the time fields. */
    const int64_t times[] = {
        0,         1,        127,   128,    -1,    -32,       -33,
        -128,      -129,     32767, -32769, 65536, INT32_MIN, (int64_t)UINT32_MAX + 1,
        INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        ev.time_us = times[i];
        ev.ingest_us = -(times[i] / 2); /* -(INT64_MIN) would overflow */
        ev.hops = (uint32_t)i * 1000;
        sl_buf_reset(&out);
        assert_int_equal(sl_event_encode(&ev, &out), 0);
        assert_int_equal(sl_event_decode(out.data, out.len, &used, &back), 0);
        s_assert_same(&ev, &back);
    }
    /*  Empty body encodes as an empty map and decodes as len 0. */
    ev.body = (sl_slice_t){"", 0};
    sl_buf_reset(&out);
    assert_int_equal(sl_event_encode(&ev, &out), 0);
    assert_int_equal(out.data[out.len - 1], 0x80);
    assert_int_equal(sl_event_decode(out.data, out.len, &used, &back), 0);
    assert_int_equal(back.body.len, 0);

    /*  Encoding appends: a second event lands after the first. */
    s_full_event(&ev, &body);
    sl_buf_reset(&out);
    assert_int_equal(sl_event_encode(&ev, &out), 0);
    size_t one = out.len;
    assert_int_equal(sl_event_encode(&ev, &out), 0);
    assert_int_equal(out.len, 2 * one);
    assert_memory_equal(out.data, out.data + one, one);
    sl_buf_free(&out);
    sl_buf_free(&body);
}

static void test_encode_bounds(void **state)
{
    sl_buf_t body = {0}, out = {0};
    sl_event_t ev;
    static char big[SL_EVENT_MAX_STR + 1];
    s_full_event(&ev, &body);
    ev.source = (sl_slice_t){big, SL_EVENT_MAX_STR + 1};
    assert_int_equal(sl_event_encode(&ev, &out), SL_ERANGE);
    assert_int_equal(out.len, 0);
    s_full_event(&ev, &body);
    ev.body = s_sl("\x91\x01"); /* an array */
    assert_int_equal(sl_event_encode(&ev, &out), SL_EINVAL);
    ev.body = (sl_slice_t){(const char *)body.data, SL_EVENT_MAX_BODY + 1};
    assert_int_equal(sl_event_encode(&ev, &out), SL_ERANGE);
    assert_int_equal(out.len, 0);
    sl_buf_free(&body);
}

/*  Every prefix of a valid encoding is an error, never a crash or success.
    Each prefix is copied to an exact-size allocation so ASan sees any read
    past the end. */
static void s_check_truncations(const uint8_t *p, size_t len)
{
    sl_event_t ev;
    size_t used;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, p, n);
        int rc = sl_event_decode(copy, n, &used, &ev);
        assert_true(rc < 0);
        sl_batch_reader_t r;
        if (sl_batch_reader_init(&r, copy, n) == 0) {
            int k;
            while ((k = sl_batch_reader_next(&r, &ev)) == 1) {
            }
            assert_true(k < 0);
        }
        free(copy);
    }
}

static void test_truncations(void **state)
{
    sl_buf_t body = {0}, out = {0};
    sl_event_t ev;
    s_full_event(&ev, &body);
    assert_int_equal(sl_event_encode(&ev, &out), 0);
    s_check_truncations(out.data, out.len);

    /*  And every truncation of a batch of three. */
    sl_buf_reset(&out);
    assert_int_equal(sl_batch_begin(&out), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sl_event_encode(&ev, &out), 0);
    }
    sl_batch_end(&out, 3);
    for (size_t n = 0; n < out.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, out.data, n);
        sl_batch_reader_t r;
        int got = 0, k = -100;
        if (sl_batch_reader_init(&r, copy, n) == 0) {
            while ((k = sl_batch_reader_next(&r, &ev)) == 1) {
                got++;
            }
            assert_true(k < 0);
        }
        assert_true(got < 3);
        free(copy);
    }
    sl_buf_free(&out);
    sl_buf_free(&body);
}

/*  Build a map by hand: pairs of already-encoded key and value bytes. */
static size_t s_map(uint8_t *o, int n, ...)
{
    va_list ap;
    size_t len = 0;
    o[len++] = (uint8_t)(0x80 | n);
    va_start(ap, n);
    for (int i = 0; i < 2 * n; i++) {
        const char *part = va_arg(ap, const char *);
        size_t plen = va_arg(ap, size_t);
        memcpy(o + len, part, plen);
        len += plen;
    }
    va_end(ap);
    return len;
}

#define P(lit) lit, sizeof(lit) - 1
#define K_V P("\xa1v")
#define K_ID P("\xa2id")
#define V_ID P("\xc4\x10\x01\x93\xb1\xc4\x7e\x55\x7a\x10\x9c\x3b\x5d\x2f\x8e\x6a\x4b\x21")

static int s_decode(const uint8_t *p, size_t len, sl_event_t *ev)
{
    size_t used = 0;
    /*  Copy to an exact-size block so ASan catches any overread. */
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, p, len);
    int rc = sl_event_decode(copy, len, &used, ev);
    if (rc == 0) {
        assert_int_equal(used, len);
    }
    free(copy);
    return rc;
}

static void test_decode_minimal_and_nil(void **state)
{
    uint8_t m[256];
    sl_event_t ev;
    size_t n = s_map(m, 2, K_V, P("\x01"), K_ID, V_ID);
    assert_int_equal(s_decode(m, n, &ev), 0);
    assert_int_equal(ev.version, 1);
    assert_int_equal(ev.id[0], 0x01);
    assert_int_equal(ev.kind.len, 0);
    assert_int_equal(ev.body.len, 0);
    assert_int_equal(ev.time_us, 0);

    /*  nil optional fields read as empty, unknown keys (even nested) are
        skipped, the id may be text, str8 key forms are fine. */
    n = s_map(m, 7, K_V, P("\x01"), K_ID,
              P("\xd9\x24"
                "0193b1c4-7e55-7a10-9c3b-5d2f8e6a4b21"),
              P("\xa4kind"), P("\xc0"),
              P("\xa4"
                "body"),
              P("\xc0"), P("\xa5trace"), P("\xc0"),
              P("\xa6"
                "future"),
              P("\x92\x81\xa1x\x91\xc0\xd4\x01\x02"), P("\xd9\x04hops"), P("\xcd\x01\x00"));
    assert_int_equal(s_decode(m, n, &ev), 0);
    assert_int_equal(ev.id[15], 0x21);
    assert_int_equal(ev.hops, 256);
    assert_int_equal(ev.body.len, 0);

    /*  An empty body map, in its longest encoding, reads as len 0. */
    n = s_map(m, 3, K_V, P("\x01"), K_ID, V_ID,
              P("\xa4"
                "body"),
              P("\xdf\x00\x00\x00\x00"));
    assert_int_equal(s_decode(m, n, &ev), 0);
    assert_int_equal(ev.body.len, 0);
}

static void test_decode_rejects(void **state)
{
    uint8_t m[512];
    sl_event_t ev;
    int nc = 0;
    size_t n;

#define CASE(why, want, ...)                                                                       \
    do {                                                                                           \
        n = s_map(m, __VA_ARGS__);                                                                 \
        int got = s_decode(m, n, &ev);                                                             \
        if (got != (want)) {                                                                       \
            print_error("case '%s': got %d, want %d\n", (why), got, (want));                       \
            fail();                                                                                \
        }                                                                                          \
        nc++;                                                                                      \
    } while (0)

    CASE("v missing", SL_EPROTO, 1, K_ID, V_ID);
    CASE("id missing", SL_EPROTO, 1, K_V, P("\x01"));
    CASE("v newer", SL_EPROTO, 2, K_V, P("\x02"), K_ID, V_ID);
    CASE("v zero", SL_EPROTO, 2, K_V, P("\x00"), K_ID, V_ID);
    CASE("v nil", SL_EPROTO, 2, K_V, P("\xc0"), K_ID, V_ID);
    CASE("v string", SL_EPROTO, 2, K_V, P("\xa1\x31"), K_ID, V_ID);
    CASE("v huge", SL_ERANGE, 2, K_V, P("\xcd\x01\x00"), K_ID, V_ID);
    CASE("id bin 15", SL_EPROTO, 2, K_V, P("\x01"), K_ID,
         P("\xc4\x0f"
           "123456789012345"));
    CASE("id int", SL_EPROTO, 2, K_V, P("\x01"), K_ID, P("\x07"));
    CASE("id bad text", SL_EPROTO, 2, K_V, P("\x01"), K_ID,
         P("\xa3"
           "abc"));
    CASE("kind int", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa4kind"), P("\x05"));
    CASE("kind bin", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa4kind"), P("\xc4\x01x"));
    CASE("body array", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID,
         P("\xa4"
           "body"),
         P("\x91\x01"));
    CASE("body string", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID,
         P("\xa4"
           "body"),
         P("\xa1x"));
    CASE("time string", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa4time"), P("\xa1x"));
    CASE("time float", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa4time"),
         P("\xcb\x00\x00\x00\x00\x00\x00\x00\x00"));
    CASE("time > int64", SL_ERANGE, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa4time"),
         P("\xcf\x80\x00\x00\x00\x00\x00\x00\x00"));
    CASE("hops negative", SL_ERANGE, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa4hops"), P("\xff"));
    CASE("hops > u32", SL_ERANGE, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa4hops"),
         P("\xcf\x00\x00\x00\x01\x00\x00\x00\x00"));
    CASE("trace bin 8", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa5trace"),
         P("\xc4\x08"
           "12345678"));
    CASE("key not a string", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID, P("\x01"), P("\x01"));
    CASE("duplicate key", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID, K_V, P("\x01"));
    CASE("0xc1 in body", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID,
         P("\xa4"
           "body"),
         P("\x81\xa1x\xc1"));
    CASE("0xc1 in unknown", SL_EPROTO, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa1z"), P("\xc1"));
    CASE("string runs past end", SL_ERANGE, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa6tenant"),
         P("\xda\xff\xff"
           "ab"));
    CASE("map count too big", SL_ERANGE, 3, K_V, P("\x01"), K_ID, V_ID,
         P("\xa4"
           "body"),
         P("\xdf\xff\xff\xff\xff"));
    CASE("ext runs past end", SL_ERANGE, 3, K_V, P("\x01"), K_ID, V_ID, P("\xa1z"),
         P("\xc9\x7f\xff\xff\xff\x01"));
#undef CASE
    assert_true(nc >= 25);

    /*  Not a map at all. */
    assert_int_equal(s_decode((const uint8_t *)"\x91\x80", 2, &ev), SL_EPROTO);
    assert_int_equal(s_decode((const uint8_t *)"\xc1", 1, &ev), SL_EPROTO);
    assert_int_equal(s_decode((const uint8_t *)"", 0, &ev), SL_ERANGE);
}

static void test_decode_oversize(void **state)
{
    sl_event_t ev;
    sl_buf_t m = {0};
    /*  A tenant of SL_EVENT_MAX_STR + 1 bytes: str16. */
    size_t s = SL_EVENT_MAX_STR + 1;
    assert_int_equal(sl_buf_append(&m, "\x83\xa1v\x01\xa2id", 7), 0);
    assert_int_equal(sl_buf_append(&m, V_ID), 0);
    uint8_t hdr[3] = {0xda, (uint8_t)(s >> 8), (uint8_t)s};
    assert_int_equal(sl_buf_append(&m, "\xa6tenant", 7), 0);
    assert_int_equal(sl_buf_append(&m, hdr, 3), 0);
    size_t at = m.len;
    assert_int_equal(sl_buf_reserve(&m, s), 0);
    memset(m.data + at, 't', s);
    m.len += s;
    assert_int_equal(s_decode(m.data, m.len, &ev), SL_ERANGE);
    /*  At exactly the bound it is fine. */
    m.data[at - 1] = (uint8_t)(s - 1);
    m.len--;
    assert_int_equal(s_decode(m.data, m.len, &ev), 0);
    assert_int_equal(ev.tenant.len, SL_EVENT_MAX_STR);

    /*  A body just over SL_EVENT_MAX_BODY: one bin32 value. */
    sl_buf_reset(&m);
    assert_int_equal(sl_buf_append(&m, "\x83\xa1v\x01\xa2id", 7), 0);
    assert_int_equal(sl_buf_append(&m, V_ID), 0);
    assert_int_equal(sl_buf_append(&m,
                                   "\xa4"
                                   "body\x81\xa1"
                                   "b\xc6",
                                   9),
                     0);
    uint32_t blen = SL_EVENT_MAX_BODY - 8 + 1; /* header bytes + blen = MAX + 1 */
    uint8_t be[4] = {(uint8_t)(blen >> 24), (uint8_t)(blen >> 16), (uint8_t)(blen >> 8),
                     (uint8_t)blen};
    assert_int_equal(sl_buf_append(&m, be, 4), 0);
    at = m.len;
    assert_int_equal(sl_buf_reserve(&m, blen), 0);
    memset(m.data + at, 0, blen);
    m.len += blen;
    assert_int_equal(s_decode(m.data, m.len, &ev), SL_ERANGE);
    /*  One byte less is exactly SL_EVENT_MAX_BODY. */
    blen--;
    m.data[at - 1] = (uint8_t)blen;
    m.len--;
    assert_int_equal(s_decode(m.data, m.len, &ev), 0);
    assert_int_equal(ev.body.len, SL_EVENT_MAX_BODY);
    sl_buf_free(&m);
}

/*  A body of `levels` nested maps {"a": {"a": ... {}}}. */
static void s_nested_body(sl_buf_t *b, int levels)
{
    sl_buf_reset(b);
    for (int i = 0; i < levels - 1; i++) {
        assert_int_equal(sl_buf_append(b,
                                       "\x81\xa1"
                                       "a",
                                       3),
                         0);
    }
    assert_int_equal(sl_buf_append(b, "\x80", 1), 0);
}

static void test_depth(void **state)
{
    sl_buf_t body = {0}, out = {0};
    sl_event_t ev, back;
    size_t used;
    s_full_event(&ev, &body);
    s_nested_body(&body, SL_EVENT_MAX_DEPTH);
    ev.body = (sl_slice_t){(const char *)body.data, (uint32_t)body.len};
    assert_int_equal(sl_msgpack_check(body.data, body.len, &used), 0);
    assert_int_equal(sl_event_encode(&ev, &out), 0);
    assert_int_equal(sl_event_decode(out.data, out.len, &used, &back), 0);
    s_assert_same(&ev, &back);

    s_nested_body(&body, SL_EVENT_MAX_DEPTH + 1);
    ev.body = (sl_slice_t){(const char *)body.data, (uint32_t)body.len};
    assert_int_equal(sl_msgpack_check(body.data, body.len, &used), SL_ERANGE);
    sl_buf_reset(&out);
    assert_int_equal(sl_event_encode(&ev, &out), 0); /* encode trusts its body */
    assert_int_equal(sl_event_decode(out.data, out.len, &used, &back), SL_ERANGE);

    /*  A depth bomb: a million nested arrays under an unknown key. */
    sl_buf_reset(&out);
    assert_int_equal(sl_buf_append(&out, "\x83\xa1v\x01\xa2id", 7), 0);
    assert_int_equal(sl_buf_append(&out, V_ID), 0);
    assert_int_equal(sl_buf_append(&out,
                                   "\xa4"
                                   "bomb",
                                   5),
                     0);
    assert_int_equal(sl_buf_reserve(&out, 1000000), 0);
    memset(out.data + out.len, 0x91, 1000000);
    out.len += 1000000;
    assert_int_equal(sl_event_decode(out.data, out.len, &used, &back), SL_ERANGE);
    sl_buf_free(&out);
    sl_buf_free(&body);
}

static void test_msgpack_check(void **state)
{
    size_t used = 99;
    assert_int_equal(sl_msgpack_check((const uint8_t *)"\x01", 1, &used), 0);
    assert_int_equal(used, 1);
    assert_int_equal(sl_msgpack_check((const uint8_t *)"\x82\xa1"
                                                       "a\x01\xa1"
                                                       "b\x90",
                                      7, &used),
                     0);
    assert_int_equal(sl_msgpack_check((const uint8_t *)"\x01\x02", 2, &used), SL_EPROTO);
    assert_int_equal(sl_msgpack_check((const uint8_t *)"\x92\x01", 2, &used), SL_ERANGE);
    assert_int_equal(sl_msgpack_check((const uint8_t *)"\xc1", 1, &used), SL_EPROTO);
    assert_int_equal(sl_msgpack_check((const uint8_t *)"", 0, &used), SL_ERANGE);
    /*  Every fixext and ext form. */
    assert_int_equal(sl_msgpack_check((const uint8_t *)"\xd4\x01\x00", 3, &used), 0);
    assert_int_equal(sl_msgpack_check((const uint8_t *)"\xd8\x01"
                                                       "0123456789abcdef",
                                      18, &used),
                     0);
    assert_int_equal(sl_msgpack_check((const uint8_t *)"\xc7\x02\x01"
                                                       "ab",
                                      5, &used),
                     0);
    assert_int_equal(sl_msgpack_check((const uint8_t *)"\xc7\x02\x01"
                                                       "a",
                                      4, &used),
                     SL_ERANGE);
}

/* ------------------------------------------------------------------------ */
/*  Batches */

static void test_batch_single_map(void **state)
{
    sl_buf_t body = {0}, out = {0};
    sl_event_t ev, back;
    sl_batch_reader_t r;
    s_full_event(&ev, &body);
    assert_int_equal(sl_event_encode(&ev, &out), 0);
    assert_int_equal(sl_batch_reader_init(&r, out.data, out.len), 0);
    assert_int_equal(sl_batch_reader_next(&r, &back), 1);
    s_assert_same(&ev, &back);
    assert_int_equal(sl_batch_reader_next(&r, &back), 0);
    assert_int_equal(sl_batch_reader_next(&r, &back), 0);

    /*  A batch of one. */
    sl_buf_reset(&out);
    assert_int_equal(sl_batch_begin(&out), 0);
    assert_int_equal(out.len, 5);
    assert_int_equal(sl_event_encode(&ev, &out), 0);
    sl_batch_end(&out, 1);
    assert_memory_equal(out.data, "\xdd\x00\x00\x00\x01", 5);
    assert_int_equal(sl_batch_reader_init(&r, out.data, out.len), 0);
    assert_int_equal(sl_batch_reader_next(&r, &back), 1);
    s_assert_same(&ev, &back);
    assert_int_equal(sl_batch_reader_next(&r, &back), 0);

    /*  Bytes after the single map are an error. */
    sl_buf_reset(&out);
    assert_int_equal(sl_event_encode(&ev, &out), 0);
    assert_int_equal(sl_buf_append(&out, "\x00", 1), 0);
    assert_int_equal(sl_batch_reader_init(&r, out.data, out.len), 0);
    assert_int_equal(sl_batch_reader_next(&r, &back), 1);
    assert_int_equal(sl_batch_reader_next(&r, &back), SL_EPROTO);
    assert_true(sl_batch_reader_next(&r, &back) < 0); /* stays failed */
    sl_buf_free(&out);
    sl_buf_free(&body);
}

static void test_batch_many(void **state)
{
    sl_buf_t body = {0}, out = {0};
    sl_event_t ev, back;
    sl_batch_reader_t r;
    char kind[32];
    const uint32_t n = 1000;
    s_full_event(&ev, &body);
    assert_int_equal(sl_batch_begin(&out), 0);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(kind, sizeof kind, "kind.%u", i);
        ev.kind = s_sl(kind);
        ev.hops = i;
        ev.body =
            i % 2 ? (sl_slice_t){"", 0} : (sl_slice_t){(const char *)body.data, (uint32_t)body.len};
        assert_int_equal(sl_event_encode(&ev, &out), 0);
    }
    sl_batch_end(&out, n);
    assert_int_equal(sl_batch_reader_init(&r, out.data, out.len), 0);
    assert_int_equal(r.remaining, n);
    uint32_t got = 0;
    int rc;
    while ((rc = sl_batch_reader_next(&r, &back)) == 1) {
        snprintf(kind, sizeof kind, "kind.%u", got);
        assert_true(sl_slice_eq(back.kind, kind));
        assert_int_equal(back.hops, got);
        assert_int_equal(back.body.len, got % 2 ? 0 : body.len);
        got++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(got, n);

    /*  A count larger than the events present is a truncation. */
    sl_batch_end(&out, n + 1);
    assert_int_equal(sl_batch_reader_init(&r, out.data, out.len), 0);
    got = 0;
    while ((rc = sl_batch_reader_next(&r, &back)) == 1) {
        got++;
    }
    assert_int_equal(got, n);
    assert_int_equal(rc, SL_ERANGE);

    /*  An empty batch, in both array forms. */
    assert_int_equal(sl_batch_reader_init(&r, "\x90", 1), 0);
    assert_int_equal(sl_batch_reader_next(&r, &back), 0);
    assert_int_equal(sl_batch_reader_init(&r, "\xdd\x00\x00\x00\x00", 5), 0);
    assert_int_equal(sl_batch_reader_next(&r, &back), 0);
    /*  An array of something else. */
    assert_int_equal(sl_batch_reader_init(&r, "\x91\x01", 2), 0);
    assert_int_equal(sl_batch_reader_next(&r, &back), SL_EPROTO);
    sl_buf_free(&out);
    sl_buf_free(&body);
}

static void test_batch_not_events(void **state)
{
    sl_batch_reader_t r;
    sl_event_t ev;
    /*  A control message (first byte 0xc1) is never an event. */
    assert_int_equal(sl_batch_reader_init(&r, "\xc1$TERM", 6), SL_EPROTO);
    assert_int_equal(sl_batch_reader_next(&r, &ev), SL_ESTATE);
    assert_int_equal(sl_batch_reader_init(&r, "\x01", 1), SL_EPROTO);
    assert_int_equal(sl_batch_reader_init(&r, "\xa1x", 2), SL_EPROTO);
    assert_int_equal(sl_batch_reader_init(&r, "", 0), SL_EPROTO);
    assert_int_equal(sl_batch_reader_init(&r, "\xdd\x00\x00", 3), SL_ERANGE);
}

/* ------------------------------------------------------------------------ */
/*  Time */

static void test_time(void **state)
{
    int64_t us;
    char out[32];
    struct {
        const char *text;
        int64_t us;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-25T08:00:00Z", 1795593600000000},
        {"2026-11-25T08:00:00.5Z", 1795593600500000},
        {"2026-11-25T08:00:00.123456789Z", 1795593600123456},
        {"2026-11-25T09:00:00+01:00", 1795593600000000},
        {"2026-11-25t02:30:00-05:30", 1795593600000000},
        {"2026-11-25 08:00:00z", 1795593600000000},
        {"2024-02-29T00:00:00Z", 1709164800000000},
        {"1969-12-31T23:59:59.999999Z", -1},
        {"0000-01-01T00:00:00Z", -62167219200000000},
        {"9999-12-31T23:59:59.999999Z", 253402300799999999},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(sl_time_parse(ok[i].text, strlen(ok[i].text), &us), 0);
        assert_int_equal(us, ok[i].us);
    }
    const char *bad[] = {
        "2026-11-25T08:00:00",
        "2026-11-25T08:00Z",
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T08:60:00Z",
        "2026-11-25T08:00:00.Z",
        "2026-11-25T08:00:00+0100",
        "2026-11-25T08:00:00+24:00",
        "2026-11-25T08:00:00Zjunk",
        "26-11-25T08:00:00Z",
        "2026/11/25T08:00:00Z",
        "2026-11-25X08:00:00Z",
        "yesterday",
        "",
        "+2026-11-25T08:00:00Z",
        "2026-11-25T08:00:00.1x2Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sl_time_parse(bad[i], strlen(bad[i]), &us) != SL_EPROTO) {
            print_error("accepted '%s'\n", bad[i]);
            fail();
        }
    }
    /*  Offsets that leave years 0000..9999. */
    assert_int_equal(sl_time_parse("0000-01-01T00:00:00+00:01", 25, &us), SL_ERANGE);
    assert_int_equal(sl_time_parse("9999-12-31T23:59:59-00:01", 25, &us), SL_ERANGE);

    sl_time_format(1795593600000000, out);
    assert_string_equal(out, "2026-11-25T08:00:00.000000Z");
    sl_time_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
    sl_time_format(INT64_MIN, out);
    assert_string_equal(out, "0000-01-01T00:00:00.000000Z");
    sl_time_format(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999999Z");
    /*  Format then parse is the identity over the whole range. */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t t =
            (int64_t)(x % (uint64_t)(253402300799999999 + 62167219200000000)) - 62167219200000000;
        sl_time_format(t, out);
        assert_int_equal(sl_time_parse(out, strlen(out), &us), 0);
        assert_int_equal(us, t);
    }
}

/* ------------------------------------------------------------------------ */
/*  JSON */

static int s_from_json(const char *json, sl_event_t *ev, sl_buf_t *scratch, char *err)
{
    return sl_event_from_json(json, strlen(json), ev, scratch, err, 200);
}

static void test_json_roundtrip(void **state)
{
    sl_buf_t body = {0}, out = {0}, scratch = {0}, again = {0};
    sl_event_t ev, back;
    char err[200];
    s_full_event(&ev, &body);
    ev.ingest_us = 1795593600250000;
    assert_int_equal(sl_event_to_json(&ev, &out), 0);
    assert_int_equal(
        sl_event_from_json((const char *)out.data, out.len, &back, &scratch, err, sizeof err), 0);
    s_assert_same(&ev, &back);
    /*  And the exact text. */
    sl_buf_reset(&out);
    memset(ev.id, 0x11, 16);
    ev.time_us = 1795593600000001;
    ev.hops = 2;
    assert_int_equal(sl_event_to_json(&ev, &out), 0);
    assert_int_equal(sl_buf_append(&out, "", 1), 0);
    assert_string_equal(
        (const char *)out.data,
        "{\"v\":1,\"id\":\"11111111-1111-1111-1111-111111111111\",\"tenant\":\"acme\","
        "\"kind\":\"asset.upsert\",\"schema\":\"asset.upsert.with.a.schema.name.longer.than."
        "thirty.two\",\"schema_version\":70000,\"source\":\"\",\"key\":\"db://x/y\","
        "\"time\":\"2026-11-25T08:00:00.000001Z\",\"received\":\"2026-11-25T08:00:00.250000Z\","
        "\"trace_id\":\"a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf\",\"hops\":2,"
        "\"body\":{\"qualified_name\":\"db://x/y\",\"n\":[1,-1,2.5,true,null]}}");

    /*  Body conversion: nested, int/uint/negative/double kinds stay apart,
        bin as base64, ext dropped (in a map and an array), invalid UTF-8
        replaced, non-string keys as text, received null when 0. */
    static const uint8_t mb[] = {
        0x88, 0xa1, 'b',  0xc4, 0x04, 0xde, 0xad, 0xbe, 0xef, /* "b": bin */
        0xa1, 'e',  0xd4, 0x01, 0x00,                         /* "e": ext, dropped */
        0xa1, 'a',  0x94, 0xd5, 0x02, 0x00, 0x00, 0xcf, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xd3, 0x80, 0,    0,    0,    0,
        0,    0,    0,    0xca, 0x3f, 0xc0, 0,    0, /* [ext, u64max, i64min, 1.5f] */
        0xa1, 's',  0xa3, 'x',  0xff, '"',           /* invalid UTF-8, quote */
        0x07, 0xc2,                                  /* 7: false */
        0xa1, 'd',  0xcb, 0x3f, 0xf0, 0,    0,    0,    0,    0,    0, /* "d": 1.0 */
        0x91, 0x01, 0x01,                                              /* [1]: 1 dropped */
        0xa1, 'm',  0x81, 0xa1, 'n',  0x90,                            /* "m": {"n": []} */
    };
    memset(&ev, 0, sizeof ev);
    ev.kind = s_sl("k");
    ev.body = (sl_slice_t){(const char *)mb, sizeof mb};
    sl_buf_reset(&out);
    assert_int_equal(sl_event_to_json(&ev, &out), 0);
    assert_int_equal(sl_buf_append(&out, "", 1), 0);
    const char *json = (const char *)out.data;
    assert_non_null(strstr(json, "\"received\":null"));
    assert_non_null(strstr(
        json, "\"body\":{\"b\":\"3q2+7w==\",\"a\":[18446744073709551615,-9223372036854775808,"
              "1.5],\"s\":\"x\\ufffd\\\"\",\"7\":false,\"d\":1.0,\"m\":{\"n\":[]}}}"));
    /*  A body that is not a map, or not msgpack, is refused and nothing is
        left in out. */
    sl_buf_reset(&out);
    ev.body = s_sl("\x91\x01");
    assert_int_equal(sl_event_to_json(&ev, &out), SL_EPROTO);
    ev.body = s_sl("\x81\xa1");
    assert_int_equal(sl_event_to_json(&ev, &out), SL_EPROTO);
    assert_int_equal(out.len, 0);

    /*  JSON -> event -> JSON -> event is stable, and the msgpack is equal. */
    const char *in = "{\"kind\":\"x\",\"tenant\":\"t\",\"body\":{\"i\":-5,\"u\":5,\"f\":0.1,"
                     "\"z\":-0.0,\"big\":1e300,\"t\":true,\"n\":null,\"a\":[[],{},[1,[2]]],"
                     "\"s\":\"\\u00e9\\u2028\\ud83d\\ude00\"}}";
    assert_int_equal(s_from_json(in, &ev, &scratch, err), 0);
    sl_buf_reset(&out);
    assert_int_equal(sl_event_encode(&ev, &out), 0);
    sl_buf_reset(&again);
    assert_int_equal(sl_event_to_json(&ev, &again), 0);
    sl_buf_t scratch2 = {0};
    assert_int_equal(
        sl_event_from_json((const char *)again.data, again.len, &back, &scratch2, err, sizeof err),
        0);
    s_assert_same(&ev, &back);
    sl_buf_reset(&again);
    assert_int_equal(sl_event_encode(&back, &again), 0);
    assert_int_equal(out.len, again.len);
    assert_memory_equal(out.data, again.data, out.len);
    sl_buf_free(&scratch2);
    sl_buf_free(&again);
    sl_buf_free(&scratch);
    sl_buf_free(&out);
    sl_buf_free(&body);
}

static void test_json_defaults_and_key(void **state)
{
    sl_buf_t scratch = {0};
    sl_event_t ev;
    char err[200];
    int64_t before = sl_now_us();
    assert_int_equal(s_from_json("{\"kind\":\"asset.delete\"}", &ev, &scratch, err), 0);
    assert_int_equal(ev.id[6] >> 4, 7); /* a new UUIDv7 */
    assert_true(ev.time_us >= before && ev.time_us <= sl_now_us());
    assert_int_equal(ev.ingest_us, 0);
    assert_int_equal(ev.tenant.len, 0);
    assert_int_equal(ev.key.len, 0);
    assert_int_equal(ev.body.len, 0);
    assert_int_equal(ev.version, SL_EVENT_VERSION);

    struct {
        const char *json;
        const char *key;
    } keys[] = {
        {"{\"kind\":\"k\",\"body\":{\"qualified_name\":\"q\",\"from\":\"f\",\"external_id\":\"e\"}"
         "}",
         "q"},
        {"{\"kind\":\"k\",\"body\":{\"external_id\":\"e\",\"from\":\"f\"}}", "f"},
        {"{\"kind\":\"k\",\"body\":{\"external_id\":\"e\"}}", "e"},
        {"{\"kind\":\"k\",\"body\":{\"qualified_name\":7,\"external_id\":\"e\"}}", "e"},
        {"{\"kind\":\"k\",\"key\":\"given\",\"body\":{\"qualified_name\":\"q\"}}", "given"},
        {"{\"kind\":\"k\",\"key\":null,\"body\":{\"qualified_name\":\"q\"}}", "q"},
        {"{\"kind\":\"k\",\"body\":{\"other\":\"o\"}}", ""},
        {"{\"kind\":\"k\",\"body\":{}}", ""},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_int_equal(s_from_json(keys[i].json, &ev, &scratch, err), 0);
        if (!sl_slice_eq(ev.key, keys[i].key)) {
            print_error("%s: key '%.*s', want '%s'\n", keys[i].json, (int)ev.key.len, ev.key.ptr,
                        keys[i].key);
            fail();
        }
    }

    /*  Every optional field. */
    assert_int_equal(
        s_from_json("{\"v\":1,\"kind\":\"k\",\"schema\":\"s\",\"schema_version\":4294967295,"
                    "\"source\":\"src\",\"received\":\"1970-01-01T00:00:01Z\",\"hops\":7,"
                    "\"trace_id\":\"4BF92F3577B34DA6A3CE929D0E0E4736\",\"unknown\":[1,2]}",
                    &ev, &scratch, err),
        0);
    assert_true(sl_slice_eq(ev.schema, "s"));
    assert_int_equal(ev.schema_version, UINT32_MAX);
    assert_true(sl_slice_eq(ev.source, "src"));
    assert_int_equal(ev.ingest_us, 1000000);
    assert_int_equal(ev.hops, 7);
    assert_int_equal(ev.trace[0], 0x4b);
    assert_int_equal(ev.trace[15], 0x36);

    /*  A body big enough that scratch moves while it grows: slices must
        still be right (ASan checks the reads). */
    sl_buf_free(&scratch);
    sl_buf_t big = {0};
    s_app(&big, "{\"kind\":\"k\",\"tenant\":\"t\",\"body\":{\"qualified_name\":\"qn\",\"x\":\"");
    assert_int_equal(sl_buf_reserve(&big, 100000), 0);
    memset(big.data + big.len, 'y', 100000);
    big.len += 100000;
    assert_int_equal(sl_buf_append(&big, "\"}}", 3), 0);
    assert_int_equal(
        sl_event_from_json((const char *)big.data, big.len, &ev, &scratch, err, sizeof err), 0);
    assert_true(sl_slice_eq(ev.kind, "k"));
    assert_true(sl_slice_eq(ev.tenant, "t"));
    assert_true(sl_slice_eq(ev.key, "qn"));
    assert_true(ev.body.len > 100000);
    assert_int_equal(sl_msgpack_check((const uint8_t *)ev.body.ptr, ev.body.len, NULL), 0);
    sl_buf_free(&big);
    sl_buf_free(&scratch);
}

static void test_json_errors(void **state)
{
    sl_buf_t scratch = {0};
    sl_event_t ev;
    char err[200];
    struct {
        const char *json;
        const char *reason;
    } cases[] = {
        {"[1]", "expected a JSON object"},
        {"\"x\"", "expected a JSON object"},
        {"{\"kind\":", "invalid JSON at line 1"},
        {"", "invalid JSON"},
        {"{\"kind\":\"k\"} junk", "invalid JSON"},
        {"{\"kind\":\"\\u00\n\"}", "invalid JSON"}, /* jansson quotes the newline */
        {"{\"kind\":\"k\",\"kind\":\"k\"}", "invalid JSON"},
        {"{}", "field 'kind': expected a non-empty string"},
        {"{\"kind\":\"\"}", "field 'kind': expected a non-empty string"},
        {"{\"kind\":5}", "field 'kind': expected a non-empty string"},
        {"{\"kind\":\"k\",\"body\":[]}", "field 'body': expected an object"},
        {"{\"kind\":\"k\",\"body\":\"x\"}", "field 'body': expected an object"},
        {"{\"kind\":\"k\",\"time\":\"2026-13-01T00:00:00Z\"}",
         "field 'time': expected an RFC 3339"},
        {"{\"kind\":\"k\",\"time\":1795593600}", "field 'time': expected an RFC 3339"},
        {"{\"kind\":\"k\",\"received\":\"now\"}", "field 'received': expected an RFC 3339"},
        {"{\"kind\":\"k\",\"id\":\"not-a-uuid\"}", "field 'id': expected a UUID"},
        {"{\"kind\":\"k\",\"id\":42}", "field 'id': expected a UUID"},
        {"{\"kind\":\"k\",\"trace_id\":\"abc\"}", "field 'trace_id': expected a UUID or 32 hex"},
        {"{\"kind\":\"k\",\"hops\":-1}", "field 'hops': expected an integer"},
        {"{\"kind\":\"k\",\"hops\":1.0}", "field 'hops': expected an integer"},
        {"{\"kind\":\"k\",\"schema_version\":4294967296}", "field 'schema_version': expected"},
        {"{\"kind\":\"k\",\"tenant\":[]}", "field 'tenant': expected a string"},
        {"{\"kind\":\"k\",\"v\":2}", "field 'v': unsupported envelope version"},
        {"{\"kind\":\"k\",\"key\":1}", "field 'key': expected a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = s_from_json(cases[i].json, &ev, &scratch, err);
        if (rc != SL_EPROTO || strstr(err, cases[i].reason) != err) {
            print_error("%s: rc %d, reason '%s', want '%s'\n", cases[i].json, rc, err,
                        cases[i].reason);
            fail();
        }
        assert_null(strchr(err, '\n'));
    }

    /*  Bounds: long tenant, long derived key, deep body. */
    sl_buf_t j = {0};
    s_app(&j, "{\"kind\":\"k\",\"tenant\":\"");
    assert_int_equal(sl_buf_reserve(&j, SL_EVENT_MAX_STR + 1), 0);
    memset(j.data + j.len, 'x', SL_EVENT_MAX_STR + 1);
    j.len += SL_EVENT_MAX_STR + 1;
    assert_int_equal(sl_buf_append(&j, "\"}", 2), 0);
    assert_int_equal(
        sl_event_from_json((const char *)j.data, j.len, &ev, &scratch, err, sizeof err), SL_EPROTO);
    assert_non_null(strstr(err, "field 'tenant': longer than 4096"));

    sl_buf_reset(&j);
    s_app(&j, "{\"kind\":\"k\",\"body\":{\"from\":\"");
    assert_int_equal(sl_buf_reserve(&j, SL_EVENT_MAX_STR + 1), 0);
    memset(j.data + j.len, 'x', SL_EVENT_MAX_STR + 1);
    j.len += SL_EVENT_MAX_STR + 1;
    assert_int_equal(sl_buf_append(&j, "\"}}", 3), 0);
    assert_int_equal(
        sl_event_from_json((const char *)j.data, j.len, &ev, &scratch, err, sizeof err), SL_EPROTO);
    assert_non_null(strstr(err, "field 'key': body.from is longer"));

    for (int levels = SL_EVENT_MAX_DEPTH; levels <= SL_EVENT_MAX_DEPTH + 1; levels++) {
        sl_buf_reset(&j);
        s_app(&j, "{\"kind\":\"k\",\"body\":");
        for (int i = 0; i < levels - 1; i++) {
            assert_int_equal(sl_buf_append(&j, i % 2 ? "[" : "{\"a\":", i % 2 ? 1 : 5), 0);
        }
        assert_int_equal(sl_buf_append(&j, levels % 2 ? "{}" : "[]", 2), 0);
        for (int i = levels - 2; i >= 0; i--) {
            assert_int_equal(sl_buf_append(&j, i % 2 ? "]" : "}", 1), 0);
        }
        assert_int_equal(sl_buf_append(&j, "}", 1), 0);
        int rc = sl_event_from_json((const char *)j.data, j.len, &ev, &scratch, err, sizeof err);
        if (levels <= SL_EVENT_MAX_DEPTH) {
            assert_int_equal(rc, 0);
            assert_int_equal(sl_msgpack_check((const uint8_t *)ev.body.ptr, ev.body.len, NULL), 0);
        } else {
            assert_int_equal(rc, SL_EPROTO);
            assert_non_null(strstr(err, "field 'body': nested too deeply"));
        }
    }
    /*  A tiny err buffer is still NUL-terminated. */
    char tiny[8];
    assert_int_equal(sl_event_from_json("{}", 2, &ev, &scratch, tiny, sizeof tiny), SL_EPROTO);
    assert_int_equal(strlen(tiny), 7);
    sl_buf_free(&j);
    sl_buf_free(&scratch);
}

/* ------------------------------------------------------------------------ */
/*  Golden vectors: NAME.json read with sl_event_from_json and encoded must
    give exactly NAME.hex; NAME.hex decodes, goes to JSON and back to the
    same bytes. docs/events.md shows the same files. */

/*  Copy without whitespace, so hex blocks compare whatever their wrapping. */
static char *s_squeeze(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t' && s[i] != '\r') {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static void test_golden_vectors(void **state)
{
    size_t dlen;
    char *doc = s_read_file(SL_SOURCE_DIR "/docs/events.md", &dlen);
    char *doc_hex = s_squeeze(doc, dlen);
    DIR *d = opendir(VECTOR_DIR);
    struct dirent *e;
    int count = 0;
    int update = getenv("SL_UPDATE_VECTORS") != NULL;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0) {
            continue;
        }
        char path[1024], hexpath[1024], err[200];
        snprintf(path, sizeof path, "%s/%s", VECTOR_DIR, e->d_name);
        snprintf(hexpath, sizeof hexpath, "%s/%.*s.hex", VECTOR_DIR, (int)(n - 5), e->d_name);
        size_t jlen, hlen;
        char *json = s_read_file(path, &jlen);
        sl_buf_t scratch = {0}, enc = {0}, want = {0}, text = {0}, scratch2 = {0}, enc2 = {0};
        sl_event_t ev, dec, back;
        size_t used;
        if (sl_event_from_json(json, jlen, &ev, &scratch, err, sizeof err) != 0) {
            print_error("%s: %s\n", e->d_name, err);
            fail();
        }
        assert_int_equal(sl_event_encode(&ev, &enc), 0);
        if (update) {
            FILE *f = fopen(hexpath, "w");
            assert_non_null(f);
            for (size_t i = 0; i < enc.len; i++) {
                fprintf(f, "%02x%s", enc.data[i], i % 32 == 31 || i + 1 == enc.len ? "\n" : "");
            }
            fclose(f);
        }
        char *hex = s_read_file(hexpath, &hlen);
        s_unhex(hex, hlen, &want);
        if (enc.len != want.len || memcmp(enc.data, want.data, enc.len) != 0) {
            print_error("%s: encoding differs from %s\n", e->d_name, hexpath);
            fail();
        }
        assert_int_equal(sl_event_decode(want.data, want.len, &used, &dec), 0);
        assert_int_equal(used, want.len);
        s_assert_same(&ev, &dec);
        assert_int_equal(sl_event_to_json(&dec, &text), 0);
        assert_int_equal(sl_event_from_json((const char *)text.data, text.len, &back, &scratch2,
                                            err, sizeof err),
                         0);
        assert_int_equal(sl_event_encode(&back, &enc2), 0);
        assert_int_equal(enc2.len, want.len);
        assert_memory_equal(enc2.data, want.data, want.len);
        s_check_truncations(want.data, want.len);
        char *squeezed = s_squeeze(hex, hlen);
        if (!strstr(doc_hex, squeezed)) {
            print_error("docs/events.md does not show %s\n", hexpath);
            fail();
        }
        free(squeezed);
        free(json);
        free(hex);
        sl_buf_free(&scratch);
        sl_buf_free(&scratch2);
        sl_buf_free(&enc);
        sl_buf_free(&enc2);
        sl_buf_free(&want);
        sl_buf_free(&text);
        count++;
    }
    closedir(d);
    free(doc);
    free(doc_hex);
    assert_true(count >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_v7_bits_and_order),
        cmocka_unit_test(test_uuid_v7_threads),
        cmocka_unit_test(test_uuid_text),
        cmocka_unit_test(test_roundtrip_every_field),
        cmocka_unit_test(test_encode_bounds),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_decode_minimal_and_nil),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_decode_oversize),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_msgpack_check),
        cmocka_unit_test(test_batch_single_map),
        cmocka_unit_test(test_batch_many),
        cmocka_unit_test(test_batch_not_events),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_json_defaults_and_key),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_golden_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
