/*  Config maps: parse option text into an actor's state.

    Every failure reason has the shape "expected <what>, got '<text>'" so a
    caller that knows the text came from a secret (${ENV}, file:) can cut it
    at ", got '" and keep only the expectation. Values of SL_OPT_SECRET
    options are never echoed here at all. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/actor.h"

/*  Longest piece of a bad value quoted back in a reason: enough to spot a
    typo, short enough that a pasted blob does not flood the terminal. */
#define S_ECHO_MAX 60

static int s_fail(const sl_opt_t *opt, const char *expect, const char *text, char *err,
                  size_t errlen)
{
    if (!err || errlen == 0) {
        return SL_EINVAL;
    }
    if (opt->type == SL_OPT_SECRET || !text) {
        snprintf(err, errlen, "expected %s", expect);
    } else if (strlen(text) > S_ECHO_MAX) {
        snprintf(err, errlen, "expected %s, got '%.*s...'", expect, S_ECHO_MAX, text);
    } else {
        snprintf(err, errlen, "expected %s, got '%s'", expect, text);
    }
    return SL_EINVAL;
}

/*  strtoll accepts leading blanks and a bare sign; options do not. */
static int s_parse_int(const char *text, int64_t *out)
{
    const char *p = text;
    if (*p == '+' || *p == '-') {
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return SL_EINVAL;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (*end != '\0') {
        return SL_EINVAL;
    }
    if (errno == ERANGE) {
        return SL_ERANGE;
    }
    *out = (int64_t)v;
    return SL_OK;
}

/*  Leading unsigned digits of `text` into *out; returns the rest, or NULL
    on no digits or overflow. */
static const char *s_parse_digits(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = text;
    if (!isdigit((unsigned char)*p)) {
        return NULL;
    }
    for (; isdigit((unsigned char)*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return NULL;
        }
        v = v * 10 + d;
    }
    *out = v;
    return p;
}

static int s_scaled(uint64_t v, uint64_t mul, int64_t *out)
{
    if (mul != 0 && v > (uint64_t)INT64_MAX / mul) {
        return SL_ERANGE;
    }
    *out = (int64_t)(v * mul);
    return SL_OK;
}

static int s_parse_size(const char *text, int64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1024ull},
        {"kib", 1024ull},
        {"kb", 1000ull},
        {"m", 1024ull * 1024},
        {"mib", 1024ull * 1024},
        {"mb", 1000ull * 1000},
        {"g", 1024ull * 1024 * 1024},
        {"gib", 1024ull * 1024 * 1024},
        {"gb", 1000ull * 1000 * 1000},
        {"t", 1024ull * 1024 * 1024 * 1024},
        {"tib", 1024ull * 1024 * 1024 * 1024},
        {"tb", 1000ull * 1000 * 1000 * 1000},
    };
    uint64_t v;
    const char *p = s_parse_digits(text, &v);
    if (!p) {
        return SL_EINVAL;
    }
    while (*p == ' ') {
        p++;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(p, units[i].unit) == 0) {
            return s_scaled(v, units[i].mul, out);
        }
    }
    return SL_EINVAL;
}

static int s_parse_duration(const char *text, int64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {
        {"", 1000ull}, /* a bare number is milliseconds */
        {"us", 1ull},           {"ms", 1000ull},          {"s", 1000000ull},
        {"m", 60ull * 1000000}, {"h", 3600ull * 1000000},
    };
    uint64_t v;
    const char *p = s_parse_digits(text, &v);
    if (!p) {
        return SL_EINVAL;
    }
    while (*p == ' ') {
        p++;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(p, units[i].unit) == 0) {
            return s_scaled(v, units[i].mul, out);
        }
    }
    return SL_EINVAL;
}

static int s_parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return SL_OK;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

/*  strtod also takes "inf", "nan" and hex floats: none is a sane option. */
static int s_parse_double(const char *text, double *out)
{
    if (*text == '\0') {
        return SL_EINVAL;
    }
    for (const char *p = text; *p; p++) {
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p)) {
            return SL_EINVAL;
        }
    }
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (*end != '\0' || end == text || errno == ERANGE || !isfinite(v)) {
        return SL_EINVAL;
    }
    *out = v;
    return SL_OK;
}

static void s_list_clear(sl_strlist_t *l)
{
    for (int i = 0; i < l->count; i++) {
        free(l->items[i]);
    }
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static void s_str_clear(char **s, int wipe)
{
    if (*s && wipe) {
        explicit_bzero(*s, strlen(*s));
    }
    free(*s);
    *s = NULL;
}

/*  A STRLIST given as text (a default) is comma-separated, blanks trimmed. */
static int s_list_from_text(const char *text, sl_strlist_t *l)
{
    sl_strlist_t n = {0};
    const char *p = text;
    int cap = 1;
    for (const char *q = text; *q; q++) {
        cap += *q == ',';
    }
    if (*text == '\0') {
        *l = n;
        return SL_OK;
    }
    n.items = calloc((size_t)cap, sizeof *n.items);
    if (!n.items) {
        return SL_ENOMEM;
    }
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *s = p;
        while (len > 0 && isspace((unsigned char)*s)) {
            s++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)s[len - 1])) {
            len--;
        }
        n.items[n.count] = strndup(s, len);
        if (!n.items[n.count]) {
            s_list_clear(&n);
            return SL_ENOMEM;
        }
        n.count++;
        if (!e) {
            break;
        }
        p = e + 1;
    }
    *l = n;
    return SL_OK;
}

int sl_opt_parse(const sl_opt_t *opt, const char *text, void *dst, char *err, size_t errlen)
{
    if (!opt || !text || !dst) {
        return SL_EINVAL;
    }
    if (err && errlen) {
        err[0] = '\0';
    }
    int rc;
    switch (opt->type) {
    case SL_OPT_STR:
    case SL_OPT_SECRET: {
        char *s = strdup(text);
        if (!s) {
            return SL_ENOMEM;
        }
        s_str_clear((char **)dst, opt->type == SL_OPT_SECRET);
        *(char **)dst = s;
        return SL_OK;
    }
    case SL_OPT_INT: {
        int64_t v;
        rc = s_parse_int(text, &v);
        if (rc == SL_ERANGE) {
            return s_fail(opt, "an integer within 64 bits", text, err, errlen);
        }
        if (rc) {
            return s_fail(opt, "an integer", text, err, errlen);
        }
        *(int64_t *)dst = v;
        return SL_OK;
    }
    case SL_OPT_BOOL: {
        int v;
        if (s_parse_bool(text, &v)) {
            return s_fail(opt, "a boolean (true/false, yes/no, on/off)", text, err, errlen);
        }
        *(int *)dst = v;
        return SL_OK;
    }
    case SL_OPT_DOUBLE: {
        double v;
        if (s_parse_double(text, &v)) {
            return s_fail(opt, "a number", text, err, errlen);
        }
        *(double *)dst = v;
        return SL_OK;
    }
    case SL_OPT_SIZE: {
        int64_t v;
        if (s_parse_size(text, &v)) {
            return s_fail(opt, "a size such as 512, 64k, 64KiB, 10MB, 1GiB", text, err, errlen);
        }
        *(int64_t *)dst = v;
        return SL_OK;
    }
    case SL_OPT_DURATION: {
        int64_t v;
        if (s_parse_duration(text, &v)) {
            return s_fail(opt, "a duration such as 100us, 250ms, 5s, 2m, 1h", text, err, errlen);
        }
        *(int64_t *)dst = v;
        return SL_OK;
    }
    case SL_OPT_STRLIST: {
        sl_strlist_t l;
        rc = s_list_from_text(text, &l);
        if (rc) {
            return rc;
        }
        s_list_clear((sl_strlist_t *)dst);
        *(sl_strlist_t *)dst = l;
        return SL_OK;
    }
    case SL_OPT_JSON: {
        json_error_t jerr;
        json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
        if (!j) {
            return s_fail(opt, "JSON text", text, err, errlen);
        }
        json_decref(j);
        char *s = strdup(text);
        if (!s) {
            return SL_ENOMEM;
        }
        s_str_clear((char **)dst, 0);
        *(char **)dst = s;
        return SL_OK;
    }
    }
    return SL_EINVAL;
}

int sl_opt_check_fail(char *err, size_t errlen, char *where, size_t wherelen, const char *at,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) {
        vsnprintf(err, errlen, fmt, ap);
    }
    va_end(ap);
    if (where && wherelen) {
        snprintf(where, wherelen, "%s", at ? at : "");
    }
    return SL_EINVAL;
}

void sl_opt_json_pointer(char *out, size_t len, const char *base, const char *key)
{
    size_t n = (size_t)snprintf(out, len, "%s/", base);
    for (const char *k = key; *k && n + 3 < len; k++) {
        if (*k == '~' || *k == '/') {
            out[n++] = '~';
            out[n++] = *k == '~' ? '0' : '1';
        } else {
            out[n++] = *k;
        }
    }
    out[n < len ? n : len - 1] = '\0';
}

int sl_opt_parse_json(sl_opt_type_t type, const char *name, const struct json_t *value,
                      int64_t *out, char *err, size_t errlen)
{
    char num[32];
    const char *text = NULL;
    const json_t *v = (const json_t *)value;
    if (json_is_string(v)) {
        text = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        text = num;
    }
    if (!out || (type != SL_OPT_SIZE && type != SL_OPT_DURATION && type != SL_OPT_INT)) {
        return SL_EINVAL;
    }
    sl_opt_t o = {.name = name, .type = type};
    if (!text) {
        char e2[200];
        s_fail(&o,
               type == SL_OPT_SIZE       ? "a size such as 512, 64k, 64KiB, 10MB, 1GiB"
               : type == SL_OPT_DURATION ? "a duration such as 100us, 250ms, 5s, 2m, 1h"
                                         : "an integer",
               NULL, e2, sizeof e2);
        snprintf(err, errlen, "%s: %s", name, e2);
        return SL_EINVAL;
    }
    char e1[200] = "";
    int rc = sl_opt_parse(&o, text, out, e1, sizeof e1);
    if (rc == SL_EINVAL) {
        snprintf(err, errlen, "%s: %s", name, e1);
    }
    return rc;
}

int sl_opt_set_list(const sl_opt_t *opt, char *const *items, int count, void *dst)
{
    if (!opt || !dst || opt->type != SL_OPT_STRLIST || count < 0 || (count > 0 && !items)) {
        return SL_EINVAL;
    }
    sl_strlist_t n = {0};
    if (count > 0) {
        n.items = calloc((size_t)count, sizeof *n.items);
        if (!n.items) {
            return SL_ENOMEM;
        }
    }
    for (int i = 0; i < count; i++) {
        n.items[i] = strdup(items[i] ? items[i] : "");
        if (!n.items[i]) {
            s_list_clear(&n);
            return SL_ENOMEM;
        }
        n.count++;
    }
    s_list_clear((sl_strlist_t *)dst);
    *(sl_strlist_t *)dst = n;
    return SL_OK;
}

int sl_opt_apply_defaults(const sl_actor_kind_t *kind, void *state)
{
    if (!kind || (!state && kind->options && kind->options[0].name)) {
        return SL_EINVAL;
    }
    for (const sl_opt_t *o = kind->options; o && o->name; o++) {
        if (!o->def) {
            continue;
        }
        int rc = sl_opt_parse(o, o->def, (char *)state + o->offset, NULL, 0);
        if (rc) {
            return rc;
        }
    }
    return SL_OK;
}

void sl_opt_free(const sl_actor_kind_t *kind, void *state)
{
    if (!kind || !state) {
        return;
    }
    for (const sl_opt_t *o = kind->options; o && o->name; o++) {
        void *dst = (char *)state + o->offset;
        switch (o->type) {
        case SL_OPT_STR:
        case SL_OPT_JSON:
            s_str_clear((char **)dst, 0);
            break;
        case SL_OPT_SECRET:
            s_str_clear((char **)dst, 1);
            break;
        case SL_OPT_STRLIST:
            s_list_clear((sl_strlist_t *)dst);
            break;
        default:
            break;
        }
    }
}

const sl_opt_t *sl_opt_find(const sl_actor_kind_t *kind, const char *name)
{
    if (!kind || !name) {
        return NULL;
    }
    for (const sl_opt_t *o = kind->options; o && o->name; o++) {
        if (strcmp(o->name, name) == 0) {
            return o;
        }
    }
    return NULL;
}

const char *sl_opt_type_name(sl_opt_type_t type)
{
    switch (type) {
    case SL_OPT_STR:
        return "string";
    case SL_OPT_INT:
        return "integer";
    case SL_OPT_BOOL:
        return "boolean";
    case SL_OPT_DOUBLE:
        return "number";
    case SL_OPT_SIZE:
        return "size";
    case SL_OPT_DURATION:
        return "duration";
    case SL_OPT_STRLIST:
        return "list of strings";
    case SL_OPT_SECRET:
        return "secret";
    case SL_OPT_JSON:
        return "JSON";
    }
    return "unknown";
}

int sl_strlist_nullterm(const sl_strlist_t *l, const char ***out)
{
    *out = NULL;
    if (l->count <= 0) {
        return SL_OK;
    }
    const char **a = calloc((size_t)l->count + 1, sizeof *a);
    if (!a) {
        return SL_ENOMEM;
    }
    for (int i = 0; i < l->count; i++) {
        a[i] = l->items[i];
    }
    *out = a;
    return SL_OK;
}
