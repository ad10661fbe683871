/*  Nodeset: numbers in insertion order, every name found again after the
    table has grown many times, names that differ only in their length, in
    their last byte or in a byte past a word boundary are distinct, and a
    cleared set is empty and reusable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/nodeset.h"

static void s_name(char *out, size_t cap, int i)
{
    snprintf(out, cap, "snowflake://acme-prod/staging/sch%02d/tbl_%08x", i % 50,
             (unsigned)(i * 2654435761u));
}

static void test_numbers_and_growth(void **state)
{
    sl_nodeset_t *set = sl_nodeset_new();
    char name[128];
    int added = -1;
    const int n = 100000;
    assert_non_null(set);
    for (int i = 0; i < n; i++) {
        s_name(name, sizeof name, i);
        assert_int_equal(sl_nodeset_add(set, name, strlen(name), &added), i);
        assert_int_equal(added, 1);
    }
    assert_int_equal(sl_nodeset_count(set), n);
    for (int i = 0; i < n; i += 7) {
        size_t len;
        s_name(name, sizeof name, i);
        assert_int_equal(sl_nodeset_add(set, name, strlen(name), &added), i);
        assert_int_equal(added, 0);
        assert_int_equal(sl_nodeset_find(set, name, strlen(name)), i);
        assert_string_equal(sl_nodeset_name(set, i, &len), name);
        assert_int_equal(len, strlen(name));
    }
    assert_int_equal(sl_nodeset_count(set), n);
    assert_null(sl_nodeset_name(set, n, NULL));
    assert_null(sl_nodeset_name(set, -1, NULL));
    assert_true(sl_nodeset_bytes(set) > (size_t)n * 40);
    sl_nodeset_free(&set);
    assert_null(set);
    sl_nodeset_free(&set);
}

static void test_near_names(void **state)
{
    sl_nodeset_t *set = sl_nodeset_new();
    char buf[40];
    /*  Every prefix of one string (lengths 0..32: the tails of the 8-byte
        steps), then the same lengths with the last byte changed. */
    memset(buf, 'a', sizeof buf);
    for (int len = 0; len <= 32; len++) {
        assert_int_equal(sl_nodeset_add(set, buf, (size_t)len, NULL), len);
    }
    for (int len = 1; len <= 32; len++) {
        buf[len - 1] = 'b';
        assert_int_equal(sl_nodeset_add(set, buf, (size_t)len, NULL), 32 + len);
        buf[len - 1] = 'a';
    }
    /*  A byte changed in the first word only, and a zero byte inside. */
    buf[3] = 'z';
    assert_int_equal(sl_nodeset_add(set, buf, 20, NULL), 65);
    buf[3] = 0;
    assert_int_equal(sl_nodeset_add(set, buf, 20, NULL), 66);
    assert_int_equal(sl_nodeset_find(set, buf, 20), 66);
    buf[3] = 'a';
    assert_int_equal(sl_nodeset_find(set, buf, 20), 20);
    assert_int_equal(sl_nodeset_find(set, buf, 33), -1);
    assert_int_equal(sl_nodeset_count(set), 67);
    sl_nodeset_free(&set);
}

static void test_clear(void **state)
{
    sl_nodeset_t *set = sl_nodeset_new();
    assert_int_equal(sl_nodeset_find(set, "a", 1), -1);
    assert_int_equal(sl_nodeset_add(set, "a", 1, NULL), 0);
    assert_int_equal(sl_nodeset_add(set, "b", 1, NULL), 1);
    sl_nodeset_clear(set);
    assert_int_equal(sl_nodeset_count(set), 0);
    assert_int_equal(sl_nodeset_find(set, "a", 1), -1);
    assert_int_equal(sl_nodeset_add(set, "b", 1, NULL), 0);
    assert_int_equal(sl_nodeset_add(set, "a", 1, NULL), 1);
    assert_string_equal(sl_nodeset_name(set, 0, NULL), "b");
    sl_nodeset_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_and_growth),
        cmocka_unit_test(test_near_names),
        cmocka_unit_test(test_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
