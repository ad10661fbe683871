/*  Shared by tests: json_equal with key lengths. */
#ifndef SLUICE_TESTS_JSON_SAME_H
#define SLUICE_TESTS_JSON_SAME_H

#include <jansson.h>

/*  json_equal with key lengths: jansson 2.14's json_equal looks each key
    of one object up in the other by strlen, so a key with a NUL byte
    compares unequal even to itself. Otherwise the same relation. */
static inline int s_same(json_t *a, json_t *b)
{
    const char *k;
    size_t klen, i;
    json_t *v;
    if (json_typeof(a) != json_typeof(b)) {
        return 0;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) {
            return 0;
        }
        json_object_keylen_foreach(a, k, klen, v)
        {
            json_t *w = json_object_getn(b, k, klen);
            if (!w || !s_same(v, w)) {
                return 0;
            }
        }
        return 1;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) {
            return 0;
        }
        json_array_foreach(a, i, v)
        {
            if (!s_same(v, json_array_get(b, i))) {
                return 0;
            }
        }
        return 1;
    }
    return json_equal(a, b);
}

#endif
