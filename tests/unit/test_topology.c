/*  Topology loader: the bad corpus (every expected error, at its exact
    position, and nothing else), good files into plans, secrets, cycles via
    fake kinds, fingerprints, and robustness on mangled input. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "sluice/curve.h"
#include "sluice/topology.h"
#include "../../topology/internal.h"

#define S_BAD SL_SOURCE_DIR "/tests/topology/bad"
#define S_GOOD SL_SOURCE_DIR "/tests/topology/good"
#define S_SECRET "hunter2-s3cret"

static char *s_read(const char *path, size_t *len)
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
    if (len) {
        *len = (size_t)n;
    }
    return buf;
}

static void s_setenv(void)
{
    setenv("SL_TEST_SECRET_TEXT", S_SECRET, 1);
    setenv("SL_TEST_TENANT", "t0p-s3cret", 1);
    setenv("SL_TEST_OUT_DIR", "/tmp/sl-out", 1);
    unsetenv("SL_TEST_SURELY_UNSET");
}

static int s_has_error(const sl_errors_t *e, const char *needle)
{
    for (int i = 0; i < e->count; i++) {
        if (strstr(e->lines[i], needle)) {
            return 1;
        }
    }
    return 0;
}

static void s_dump(const sl_errors_t *e)
{
    for (int i = 0; i < e->count; i++) {
        fprintf(stderr, "    %s\n", e->lines[i]);
    }
}

/* --- the bad corpus ----------------------------------------------------- */

static int s_check_bad(const char *path)
{
    char *text = s_read(path, NULL);
    sl_errors_t e = {0};
    sl_plan_t *plan = sl_topology_load(path, &e);
    int failures = 0, expects = 0;
    if (plan) {
        fprintf(stderr, "%s: loaded, but should fail\n", path);
        failures++;
        sl_plan_destroy(&plan);
    }
    /* each "# expect: L:C: text" must match one error's exact prefix */
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        if (strncmp(line, "# expect: ", 10) == 0) {
            const char *spec = line + 10;
            const char *msg = strstr(spec, ": ");
            expects++;
            if (!msg) {
                fprintf(stderr, "%s: malformed expect line '%s'\n", path, line);
                failures++;
            } else {
                char *prefix = NULL;
                assert_true(asprintf(&prefix, "%s:%.*s: ", path, (int)(msg - spec), spec) > 0);
                int found = 0;
                for (int i = 0; i < e.count && !found; i++) {
                    found = strncmp(e.lines[i], prefix, strlen(prefix)) == 0 &&
                            strstr(e.lines[i] + strlen(prefix), msg + 2) != NULL;
                }
                free(prefix);
                if (!found) {
                    fprintf(stderr, "%s: missing expected error '%s'\n", path, spec);
                    failures++;
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    if (expects == 0) {
        fprintf(stderr, "%s: no '# expect:' line\n", path);
        failures++;
    }
    if (e.count != expects) {
        fprintf(stderr, "%s: %d errors, %d expected\n", path, e.count, expects);
        failures++;
    }
    if (s_has_error(&e, S_SECRET)) {
        fprintf(stderr, "%s: a secret leaked into an error\n", path);
        failures++;
    }
    if (failures) {
        s_dump(&e);
    }
    sl_errors_free(&e);
    free(text);
    return failures;
}

static void test_bad_corpus(void **state)
{
    s_setenv();
    DIR *d = opendir(S_BAD);
    assert_non_null(d);
    struct dirent *ent;
    int files = 0, failures = 0;
    while ((ent = readdir(d)) != NULL) {
        size_t n = strlen(ent->d_name);
        if (n < 5 || strcmp(ent->d_name + n - 5, ".yaml") != 0) {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", S_BAD, ent->d_name);
        failures += s_check_bad(path);
        files++;
    }
    closedir(d);
    assert_true(files >= 30);
    assert_int_equal(failures, 0);
}

/* --- good files ---------------------------------------------------------- */

static sl_plan_t *s_load_good(const char *name)
{
    char path[4096];
    sl_errors_t e = {0};
    snprintf(path, sizeof path, "%s/%s", S_GOOD, name);
    s_setenv();
    sl_plan_t *plan = sl_topology_load(path, &e);
    if (!plan) {
        s_dump(&e);
    }
    assert_int_equal(e.count, 0);
    assert_non_null(plan);
    sl_errors_free(&e);
    return plan;
}

static void test_good_corpus(void **state)
{
    DIR *d = opendir(S_GOOD);
    assert_non_null(d);
    struct dirent *ent;
    int files = 0;
    while ((ent = readdir(d)) != NULL) {
        size_t n = strlen(ent->d_name);
        if (n < 5 || strcmp(ent->d_name + n - 5, ".yaml") != 0) {
            continue;
        }
        sl_plan_t *plan = s_load_good(ent->d_name);
        for (int i = 0; i < plan->n_actors; i++) {
            assert_non_null(plan->actors[i].fingerprint);
            assert_non_null(plan->actors[i].kind);
            for (int j = 0; j < plan->actors[i].n_inputs; j++) {
                assert_true(plan->actors[i].inputs[j].output_index >= 0);
                assert_non_null(plan->actors[i].inputs[j].output);
            }
        }
        sl_plan_destroy(&plan);
        assert_null(plan);
        sl_plan_destroy(&plan);
        files++;
    }
    closedir(d);
    assert_true(files >= 5);
}

/*  Read an option of a filled state through the config map. */
static void *s_field(const sl_actor_kind_t *kind, void *st, const char *name)
{
    const sl_opt_t *o = sl_opt_find(kind, name);
    assert_non_null(o);
    return (char *)st + o->offset;
}

static void test_single_node(void **state)
{
    sl_plan_t *plan = s_load_good("single_node.yaml");
    assert_string_equal(plan->name, "edge-default");
    assert_int_equal(plan->version, 1);
    assert_string_equal(plan->store_path, "var/sluice");
    assert_int_equal(plan->tenancy, SL_TENANCY_SHARED);
    assert_int_equal(plan->n_tenants, 2);
    assert_string_equal(plan->tenants[0].name, "acme");
    /* relative to the topology file, like file: secrets */
    assert_string_equal(plan->tenants[0].keys, S_GOOD "/keys/acme");
    assert_null(plan->tenants[1].keys);
    assert_string_equal(plan->admin, "127.0.0.1:9464");
    assert_int_equal(plan->n_nodes, 0);
    assert_int_equal(plan->n_actors, 3);
    assert_string_equal(plan->actors[0].name, "gen");
    assert_string_equal(plan->actors[1].name, "mid");
    assert_string_equal(plan->actors[2].name, "out");

    const sl_plan_actor_t *gen = sl_plan_actor(plan, "gen");
    assert_non_null(gen);
    assert_string_equal(gen->kind->name, "generate");
    assert_null(gen->node);
    assert_int_equal(gen->workers, 1);
    assert_int_equal(gen->n_inputs, 0);
    assert_int_equal(gen->pos.line, 11);
    assert_int_equal(gen->pos.col, 3);

    void *st = calloc(1, gen->kind->state_size);
    assert_non_null(st);
    assert_int_equal(sl_plan_actor_fill(gen, st), SL_OK);
    assert_int_equal(*(int64_t *)s_field(gen->kind, st, "count"), 1000);
    assert_true(*(double *)s_field(gen->kind, st, "rate") == 2.5);
    assert_string_equal(*(char **)s_field(gen->kind, st, "tenant"), "acme");
    assert_string_equal(*(char **)s_field(gen->kind, st, "event_kind"), "tag.set");
    assert_int_equal(*(int64_t *)s_field(gen->kind, st, "body_bytes"), 1024);
    assert_int_equal(*(int64_t *)s_field(gen->kind, st, "keys"), 8);
    sl_opt_free(gen->kind, st);
    free(st);

    const sl_plan_actor_t *mid = sl_plan_actor(plan, "mid");
    assert_int_equal(mid->n_inputs, 1);
    assert_string_equal(mid->inputs[0].actor, "gen");
    assert_string_equal(mid->inputs[0].output, "out");
    assert_int_equal(mid->inputs[0].output_index, 0);
    const sl_plan_actor_t *out = sl_plan_actor(plan, "out");
    assert_string_equal(out->inputs[0].actor, "mid");
    assert_string_equal(out->inputs[0].output, "out");
    assert_int_equal(out->n_opts, 1);
    assert_string_equal(out->opts[0].key, "path");
    assert_string_equal(out->opts[0].text, "out/events.jsonl");
    assert_int_equal(out->opts[0].secret, 0);
    assert_null(sl_plan_actor(plan, "nope"));
    assert_null(sl_plan_actor(NULL, "gen"));
    sl_plan_destroy(&plan);
}

static void test_defaults_fill(void **state)
{
    const char *y = "version: 1\nname: d\nactors:\n  gen: { kind: generate }\n";
    sl_errors_t e = {0};
    sl_plan_t *plan = sl_topology_load_string("d.yaml", NULL, y, strlen(y), &e);
    assert_non_null(plan);
    const sl_plan_actor_t *gen = sl_plan_actor(plan, "gen");
    void *st = calloc(1, gen->kind->state_size);
    assert_int_equal(sl_plan_actor_fill(gen, st), SL_OK);
    assert_int_equal(*(int64_t *)s_field(gen->kind, st, "count"), 0);
    assert_string_equal(*(char **)s_field(gen->kind, st, "tenant"), "default");
    assert_int_equal(*(int64_t *)s_field(gen->kind, st, "body_bytes"), 300);
    assert_int_equal(*(int64_t *)s_field(gen->kind, st, "keys"), 16);
    sl_opt_free(gen->kind, st);
    free(st);
    sl_plan_destroy(&plan);
    sl_errors_free(&e);
}

static void test_two_nodes(void **state)
{
    sl_plan_t *plan = s_load_good("two_nodes.yaml");
    assert_int_equal(plan->tenancy, SL_TENANCY_ISOLATED);
    assert_null(plan->store_path);
    assert_int_equal(plan->n_nodes, 2);
    const sl_plan_node_t *a = sl_plan_node(plan, "a"), *b = sl_plan_node(plan, "b");
    assert_non_null(a);
    assert_non_null(b);
    assert_null(sl_plan_node(plan, "c"));
    assert_string_equal(a->host, "127.0.0.1");
    assert_int_equal(a->port, 7600);
    assert_string_equal(a->admin, "127.0.0.1:9464");
    assert_string_equal(b->host, "10.0.0.2");
    assert_int_equal(b->port, 7700);
    assert_string_equal(b->admin, "[::1]:9465");
    const sl_plan_actor_t *sink = sl_plan_actor(plan, "sink");
    assert_string_equal(sink->node, "b");
    assert_int_equal(sink->n_inputs, 2);
    assert_string_equal(sink->inputs[0].actor, "hop");
    assert_string_equal(sink->inputs[1].actor, "src");
    assert_string_equal(sink->inputs[1].output, "out");
    assert_int_equal(sink->inputs[1].output_index, 0);
    assert_string_equal(sl_plan_actor(plan, "src")->node, "a");
    sl_plan_destroy(&plan);
}

static void test_workers(void **state)
{
    sl_plan_t *plan = s_load_good("workers.yaml");
    assert_int_equal(sl_plan_actor(plan, "gen")->workers, 4);
    assert_int_equal(sl_plan_actor(plan, "relay")->workers, 3);
    assert_int_equal(sl_plan_actor(plan, "bh")->workers, 1);
    assert_int_equal(sl_plan_node(plan, "a")->port, 8000);
    sl_plan_destroy(&plan);
}

/* --- secrets --------------------------------------------------------------- */

static void test_secrets_env(void **state)
{
    sl_plan_t *plan = s_load_good("secrets_env.yaml");
    const sl_plan_actor_t *gen = sl_plan_actor(plan, "gen");
    const sl_plan_actor_t *out = sl_plan_actor(plan, "out");
    void *st = calloc(1, gen->kind->state_size);
    assert_int_equal(sl_plan_actor_fill(gen, st), SL_OK);
    assert_string_equal(*(char **)s_field(gen->kind, st, "tenant"), "t0p-s3cret");
    sl_opt_free(gen->kind, st);
    free(st);
    assert_string_equal(out->opts[0].text, "/tmp/sl-out/out-t0p-s3cret.jsonl");
    assert_int_equal(out->opts[0].secret, 1);
    for (int i = 0; i < plan->n_actors; i++) {
        assert_null(strstr(plan->actors[i].fingerprint, "t0p-s3cret"));
        assert_null(strstr(plan->actors[i].fingerprint, "sl-out"));
    }
    assert_non_null(strstr(gen->fingerprint, "opt.tenant=secret:"));
    sl_plan_destroy(&plan);

    /* a changed secret changes the fingerprint (so reload restarts it) */
    plan = s_load_good("secrets_env.yaml");
    char *fp1 = strdup(sl_plan_actor(plan, "gen")->fingerprint);
    sl_plan_destroy(&plan);
    setenv("SL_TEST_TENANT", "other-s3cret", 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/secrets_env.yaml", S_GOOD);
    sl_errors_t e = {0};
    plan = sl_topology_load(path, &e);
    assert_non_null(plan);
    assert_string_not_equal(fp1, sl_plan_actor(plan, "gen")->fingerprint);
    free(fp1);
    sl_plan_destroy(&plan);
    sl_errors_free(&e);
}

static void test_secret_file(void **state)
{
    sl_plan_t *plan = s_load_good("secret_file.yaml");
    const sl_plan_actor_t *gen = sl_plan_actor(plan, "gen");
    assert_int_equal(gen->n_opts, 1);
    assert_string_equal(gen->opts[0].text, "file-s3cret-tenant");
    assert_int_equal(gen->opts[0].secret, 1);
    assert_null(strstr(gen->fingerprint, "file-s3cret"));
    sl_plan_destroy(&plan);
}

/*  Secrets in values that fail validation: the error names the problem,
    never the value. */
static void test_secrets_not_in_errors(void **state)
{
    setenv("SL_TEST_SECRET_TEXT", S_SECRET, 1);
    const char *y = "version: 1\nname: s\n"
                    "nodes:\n  a: { host: h, port: \"${SL_TEST_SECRET_TEXT}\", admin: "
                    "\"${SL_TEST_SECRET_TEXT}\" }\n"
                    "tenancy: \"${SL_TEST_SECRET_TEXT}\"\n"
                    "actors:\n"
                    "  gen: { kind: generate, node: \"${SL_TEST_SECRET_TEXT}\", count: "
                    "\"${SL_TEST_SECRET_TEXT}\", body_bytes: \"${SL_TEST_SECRET_TEXT}\" }\n"
                    "  r: { kind: \"${SL_TEST_SECRET_TEXT}\", node: a, inputs: [gen] }\n"
                    "  r2: { kind: relay, node: a, inputs: [\"${SL_TEST_SECRET_TEXT}\"],"
                    " workers: \"${SL_TEST_SECRET_TEXT}\" }\n";
    sl_errors_t e = {0};
    sl_plan_t *plan = sl_topology_load_string("s.yaml", NULL, y, strlen(y), &e);
    assert_null(plan);
    assert_int_equal(e.count, 9);
    assert_false(s_has_error(&e, S_SECRET));
    assert_true(s_has_error(&e, "s.yaml:7:65: actor 'gen', option 'count': expected an integer"));
    sl_errors_free(&e);
}

/* --- cycles through fake kinds -------------------------------------------- */

typedef struct {
    char *path;
    sl_strlist_t topics;
    char *rules;
    char *token;
    int flag;
    int64_t wait;
} s_fake_t;

static const sl_opt_t s_fake_opts[] = {
    {"path", SL_OPT_STR, NULL, offsetof(s_fake_t, path), 0, "a path"},
    {"topics", SL_OPT_STRLIST, "a, b", offsetof(s_fake_t, topics), 0, "topics"},
    {"rules", SL_OPT_JSON, NULL, offsetof(s_fake_t, rules), 0, "rules"},
    {"token", SL_OPT_SECRET, NULL, offsetof(s_fake_t, token), 0, "token"},
    {"flag", SL_OPT_BOOL, "off", offsetof(s_fake_t, flag), 0, "flag"},
    {"wait", SL_OPT_DURATION, "250ms", offsetof(s_fake_t, wait), 0, "wait"},
    {0},
};
static const sl_output_t s_one_out[] = {{.name = "out"}, {0}};
static const sl_output_t s_store_outs[] = {
    {.name = "out"},
    {.name = "changes", .flags = SL_OUTPUT_DURABLE},
    {0},
};
static const sl_actor_kind_t s_fake_src = {
    .name = "src", .flags = SL_KIND_SOURCE, .outputs = s_one_out};
static const sl_actor_kind_t s_fake_store = {.name = "store",
                                             .state_size = sizeof(s_fake_t),
                                             .options = s_fake_opts,
                                             .outputs = s_store_outs};
static const sl_actor_kind_t s_fake_walker = {.name = "walker", .outputs = s_one_out};
static const sl_actor_kind_t s_fake_sink = {.name = "sink"};
static const sl_actor_kind_t *const s_fake_kinds[] = {&s_fake_sink, &s_fake_src, &s_fake_store,
                                                      &s_fake_walker, NULL};

static const sl_actor_kind_t *s_fake_find(const char *name)
{
    for (int i = 0; s_fake_kinds[i]; i++) {
        if (strcmp(s_fake_kinds[i]->name, name) == 0) {
            return s_fake_kinds[i];
        }
    }
    return NULL;
}

static const sl_actor_kind_t *const *s_fake_list(void)
{
    return s_fake_kinds;
}

static sl_plan_t *s_fake_load(const char *y, sl_errors_t *e)
{
    sl_topology_set_kinds(s_fake_find, s_fake_list);
    sl_plan_t *plan = sl_topology_load_string("f.yaml", NULL, y, strlen(y), e);
    sl_topology_set_kinds(NULL, NULL);
    return plan;
}

static void test_cycle_durable_legal(void **state)
{
    const char *y = "version: 1\nname: c\nactors:\n"
                    "  in: { kind: src }\n"
                    "  store: { kind: store, inputs: [in, walker] }\n"
                    "  walker: { kind: walker, inputs: [store.changes] }\n"
                    "  slack: { kind: sink, inputs: [store.changes] }\n";
    sl_errors_t e = {0};
    sl_plan_t *plan = s_fake_load(y, &e);
    s_dump(&e);
    assert_non_null(plan);
    const sl_plan_actor_t *w = sl_plan_actor(plan, "walker");
    assert_string_equal(w->inputs[0].output, "changes");
    assert_int_equal(w->inputs[0].output_index, 1);
    sl_plan_destroy(&plan);
    sl_errors_free(&e);
}

static void test_cycle_illegal(void **state)
{
    const char *y = "version: 1\nname: c\nactors:\n"
                    "  in: { kind: src }\n"
                    "  store: { kind: store, inputs: [in, walker] }\n"
                    "  walker: { kind: walker, inputs: [store] }\n";
    sl_errors_t e = {0};
    sl_plan_t *plan = s_fake_load(y, &e);
    assert_null(plan);
    assert_int_equal(e.count, 1);
    assert_string_equal(e.lines[0],
                        "f.yaml:5:3: cycle without a durable change-log output: store -> walker "
                        "-> store");
    sl_errors_free(&e);

    /* two separate loops: one error each; a loop through a durable edge
       elsewhere does not excuse them */
    const char *y2 = "version: 1\nname: c\nactors:\n"
                     "  in: { kind: src }\n"
                     "  a: { kind: walker, inputs: [in, c] }\n"
                     "  b: { kind: walker, inputs: [a] }\n"
                     "  c: { kind: walker, inputs: [b] }\n"
                     "  s: { kind: store, inputs: [in, w] }\n"
                     "  w: { kind: walker, inputs: [s.changes, x] }\n"
                     "  x: { kind: walker, inputs: [w] }\n";
    plan = s_fake_load(y2, &e);
    assert_null(plan);
    s_dump(&e);
    assert_int_equal(e.count, 2);
    assert_string_equal(e.lines[0],
                        "f.yaml:5:3: cycle without a durable change-log output: a -> b -> c -> a");
    assert_string_equal(e.lines[1],
                        "f.yaml:9:3: cycle without a durable change-log output: w -> x -> w");
    sl_errors_free(&e);
}

static void test_fake_options(void **state)
{
    setenv("SL_TEST_TOKEN", "tok-s3cret", 1);
    const char *y = "version: 1\nname: c\nactors:\n"
                    "  in: { kind: src }\n"
                    "  st:\n"
                    "    kind: store\n"
                    "    inputs: [in]\n"
                    "    topics: [x, \"y z\"]\n"
                    "    rules: { drop: [a, 1, true, null], \"n\": 1.5e3, s: \"2\" }\n"
                    "    token: \"Bearer ${SL_TEST_TOKEN}\"\n"
                    "    flag: yes\n"
                    "    wait: 2m\n";
    sl_errors_t e = {0};
    sl_plan_t *plan = s_fake_load(y, &e);
    s_dump(&e);
    assert_non_null(plan);
    const sl_plan_actor_t *st = sl_plan_actor(plan, "st");
    s_fake_t f = {0};
    assert_int_equal(sl_plan_actor_fill(st, &f), SL_OK);
    assert_int_equal(f.topics.count, 2);
    assert_string_equal(f.topics.items[1], "y z");
    assert_string_equal(f.rules, "{\"drop\":[\"a\",1,true,null],\"n\":1.5e3,\"s\":\"2\"}");
    assert_string_equal(f.token, "Bearer tok-s3cret");
    assert_int_equal(f.flag, 1);
    assert_int_equal(f.wait, 120000000);
    assert_null(strstr(st->fingerprint, "tok-s3cret"));
    assert_non_null(strstr(st->fingerprint, "opt.topics=\"[\\\"x\\\",\\\"y z\\\"]\""));
    sl_opt_free(&s_fake_store, &f);
    assert_null(f.token);
    assert_null(f.topics.items);
    sl_plan_destroy(&plan);

    /* defaults of a list and a duration */
    const char *y2 = "version: 1\nname: c\nactors:\n  in: { kind: src }\n"
                     "  st: { kind: store, inputs: [in], topics: solo }\n";
    plan = s_fake_load(y2, &e);
    assert_non_null(plan);
    memset(&f, 0, sizeof f);
    assert_int_equal(sl_plan_actor_fill(sl_plan_actor(plan, "st"), &f), SL_OK);
    assert_int_equal(f.topics.count, 1);
    assert_string_equal(f.topics.items[0], "solo");
    assert_int_equal(f.wait, 250000);
    sl_opt_free(&s_fake_store, &f);
    sl_plan_destroy(&plan);

    const char *y3 = "version: 1\nname: c\nactors:\n  in: { kind: src }\n"
                     "  st: { kind: store, inputs: [in], topics: { a: 1 }, flag: maybe, "
                     "wait: soon, token: [a] }\n";
    plan = s_fake_load(y3, &e);
    assert_null(plan);
    assert_int_equal(e.count, 4);
    assert_true(s_has_error(&e, "option 'topics': expected a list of strings, got a map"));
    assert_true(s_has_error(&e, "option 'flag': expected a boolean"));
    assert_true(s_has_error(&e, "option 'wait': expected a duration"));
    assert_true(s_has_error(&e, "option 'token': expected a secret, got a list"));
    assert_true(s_has_error(&e, "unknown actor kind") == 0);
    sl_errors_free(&e);

    const char *y4 = "version: 1\nname: c\nactors:\n  in: { kind: relay }\n";
    plan = s_fake_load(y4, &e);
    assert_null(plan);
    assert_true(s_has_error(&e, "unknown actor kind 'relay' (`sluice actors` lists every kind)"));
    sl_errors_free(&e);

    /*  A typo gets a suggestion. */
    const char *y5 = "version: 1\nname: c\nactors:\n  in: { kind: sinc, inputs: [x] }\n";
    plan = s_fake_load(y5, &e);
    assert_null(plan);
    assert_true(s_has_error(&e, "unknown actor kind 'sinc' (did you mean 'sink'?"));
    sl_errors_free(&e);
}

/* --- fingerprints ------------------------------------------------------------ */

static char *s_fp(const char *y, const char *actor)
{
    sl_errors_t e = {0};
    sl_plan_t *plan = sl_topology_load_string("fp.yaml", NULL, y, strlen(y), &e);
    if (!plan) {
        s_dump(&e);
    }
    assert_non_null(plan);
    char *fp = strdup(sl_plan_actor(plan, actor)->fingerprint);
    sl_plan_destroy(&plan);
    sl_errors_free(&e);
    return fp;
}

static void test_fingerprints(void **state)
{
    const char *base =
        "version: 1\nname: f\ninsecure_links: true\nnodes:\n  a: { host: h }\n  b: { host: h }\n"
        "actors:\n"
        "  g1: { kind: generate, node: a, count: 5, keys: 2 }\n"
        "  g2: { kind: generate, node: a }\n"
        "  r: { kind: relay, node: b, inputs: [g1, g2] }\n";
    const char *same[] = {
        /* option order, input order, other name, other actor changed on another node */
        "version: 1\nname: other\ninsecure_links: true\nnodes:\n  a: { host: h }\n  b: { host: h "
        "}\n"
        "actors:\n"
        "  g1: { kind: generate, keys: 2, node: a, count: 5 }\n"
        "  g2: { kind: generate, node: a }\n"
        "  r: { node: b, kind: relay, inputs: [g2.out, g1] }\n",
    };
    const char *differ_g1[] = {
        /* option value */
        "version: 1\nname: f\ninsecure_links: true\nnodes:\n  a: { host: h }\n  b: { host: h "
        "}\nactors:\n"
        "  g1: { kind: generate, node: a, count: 6, keys: 2 }\n"
        "  g2: { kind: generate, node: a }\n  r: { kind: relay, node: b, inputs: [g1, g2] }\n",
        /* an added option */
        "version: 1\nname: f\ninsecure_links: true\nnodes:\n  a: { host: h }\n  b: { host: h "
        "}\nactors:\n"
        "  g1: { kind: generate, node: a, count: 5, keys: 2, rate: 1 }\n"
        "  g2: { kind: generate, node: a }\n  r: { kind: relay, node: b, inputs: [g1, g2] }\n",
        /* workers */
        "version: 1\nname: f\ninsecure_links: true\nnodes:\n  a: { host: h }\n  b: { host: h "
        "}\nactors:\n"
        "  g1: { kind: generate, node: a, count: 5, keys: 2, workers: 2 }\n"
        "  g2: { kind: generate, node: a }\n  r: { kind: relay, node: b, inputs: [g1, g2] }\n",
        /* node */
        "version: 1\nname: f\ninsecure_links: true\nnodes:\n  a: { host: h }\n  b: { host: h "
        "}\nactors:\n"
        "  g1: { kind: generate, node: b, count: 5, keys: 2 }\n"
        "  g2: { kind: generate, node: a }\n  r: { kind: relay, node: b, inputs: [g1, g2] }\n",
        /* the node's port */
        "version: 1\nname: f\ninsecure_links: true\nnodes:\n  a: { host: h, port: 9000 }\n  b: { "
        "host: h }\nactors:\n"
        "  g1: { kind: generate, node: a, count: 5, keys: 2 }\n"
        "  g2: { kind: generate, node: a }\n  r: { kind: relay, node: b, inputs: [g1, g2] }\n",
    };
    char *fp_g1 = s_fp(base, "g1"), *fp_r = s_fp(base, "r"), *fp_g2 = s_fp(base, "g2");
    assert_string_not_equal(fp_g1, fp_g2);
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        char *a = s_fp(same[i], "g1"), *r = s_fp(same[i], "r");
        assert_string_equal(a, fp_g1);
        assert_string_equal(r, fp_r);
        free(a);
        free(r);
    }
    for (size_t i = 0; i < sizeof differ_g1 / sizeof differ_g1[0]; i++) {
        char *a = s_fp(differ_g1[i], "g1");
        assert_string_not_equal(a, fp_g1);
        free(a);
    }
    /* inputs and kind */
    const char *in2 = "version: 1\nname: f\ninsecure_links: true\nnodes:\n  a: { host: h }\n  b: { "
                      "host: h }\nactors:\n"
                      "  g1: { kind: generate, node: a, count: 5, keys: 2 }\n"
                      "  g2: { kind: generate, node: a }\n  r: { kind: relay, node: b, inputs: "
                      "[g1] }\n  g3: { kind: blackhole, node: b, inputs: [g2] }\n";
    char *r2 = s_fp(in2, "r");
    assert_string_not_equal(r2, fp_r);
    free(r2);
    const char *kind2 =
        "version: 1\nname: f\ninsecure_links: true\nnodes:\n  a: { host: h }\n  b: { host: h }\n"
        "actors:\n"
        "  g1: { kind: generate, node: a, count: 5, keys: 2 }\n"
        "  g2: { kind: generate, node: a }\n"
        "  r: { kind: blackhole, node: b, inputs: [g1, g2] }\n";
    r2 = s_fp(kind2, "r");
    assert_string_not_equal(r2, fp_r);
    free(r2);
    free(fp_g1);
    free(fp_g2);
    free(fp_r);
}

/* --- odds and ends ------------------------------------------------------------ */

static void test_misc(void **state)
{
    sl_errors_t e = {0};
    sl_plan_t *plan = sl_topology_load(SL_SOURCE_DIR "/tests/topology/nonexistent.yaml", &e);
    assert_null(plan);
    assert_int_equal(e.count, 1);
    assert_non_null(strstr(e.lines[0], "cannot open topology file"));
    sl_errors_free(&e);
    sl_errors_free(&e);
    sl_plan_destroy(NULL);
    sl_plan_destroy(&plan);
    assert_null(sl_topology_load_string(NULL, NULL, NULL, 0, &e));
    assert_int_equal(e.count, 1);
    assert_string_equal(e.lines[0], "<string>:1:1: empty topology file (expected a map with "
                                    "version, name and actors)");
    sl_errors_free(&e);
    /* errors are added to what the caller's list already holds */
    sl_errors_add(&e, "x", (sl_pos_t){2, 3}, "first %d", 1);
    assert_null(sl_topology_load_string("y", NULL, "[", 1, &e));
    assert_int_equal(e.count, 2);
    assert_string_equal(e.lines[0], "x:2:3: first 1");
    sl_errors_free(&e);
    /* NULL errors: still no crash */
    assert_null(sl_topology_load_string("y", NULL, "a: [", 4, NULL));
    assert_int_equal(sl_plan_actor_fill(NULL, NULL), SL_EINVAL);
    /* an alias bomb in a JSON-free file is harmless; aliases to a
       self-including node must not recurse forever */
    const char *y = "version: 1\nname: &n x\nactors: &a\n  gen: { kind: generate, tenant: *n }\n"
                    "  r: { kind: relay, inputs: [gen], x: &s [*s] }\n";
    assert_null(sl_topology_load_string("a.yaml", NULL, y, strlen(y), &e));
    assert_true(s_has_error(&e, "unknown option 'x' for kind 'relay'"));
    sl_errors_free(&e);
}

/*  Mangled good and bad files: never a crash, and a NULL plan always comes
    with at least one error. ASan/UBSan watch the rest. */
static void test_mangled(void **state)
{
    const char *files[] = {S_GOOD "/single_node.yaml", S_GOOD "/two_nodes.yaml",
                           S_BAD "/many_errors.yaml", S_BAD "/cycle.yaml"};
    uint32_t seed = 12345;
    s_setenv();
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        char *orig = s_read(files[f], &len);
        char *buf = malloc(len + 1);
        for (int round = 0; round < 400; round++) {
            memcpy(buf, orig, len + 1);
            size_t n = len;
            for (int k = 0; k < 1 + round % 4; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % (n ? n : 1);
                static const char junk[] = "{}[]:,-#&*!|>'\"%@`\t\n .${}file:x9";
                switch ((seed >> 4) % 3) {
                case 0:
                    buf[at] = junk[(seed >> 16) % (sizeof junk - 1)];
                    break;
                case 1:
                    n = at;
                    break;
                default:
                    buf[at] = (char)(seed >> 20);
                    break;
                }
            }
            sl_errors_t e = {0};
            sl_plan_t *plan = sl_topology_load_string("m.yaml", S_GOOD, buf, n, &e);
            if (!plan) {
                assert_true(e.count > 0);
            }
            sl_plan_destroy(&plan);
            sl_errors_free(&e);
        }
        free(buf);
        free(orig);
    }
}

/* --- tenant keys and isolated tenancy ---------------------------------------- */

static void s_rm_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static char *s_write_file(const char *dir, const char *name, const char *text)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/*  The secret key's Z85 text from a secret certificate file. */
static void s_secret_txt(const char *path, char out[41])
{
    char *text = s_read(path, NULL);
    char *p = strstr(text, "secret-key = \"");
    assert_non_null(p);
    memcpy(out, p + 14, 40);
    out[40] = 0;
    free(text);
}

static void test_tenant_keys(void **state)
{
    char dir[] = "/tmp/sl-topo-keys.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char pub[41], err[512], sub[600], sec[700], sec_txt[41];
    snprintf(sub, sizeof sub, "%s/keys/acme", dir);
    assert_int_equal(sl_curve_keygen(sub, "acme", 0, pub, err, sizeof err), SL_OK);
    assert_int_equal(sl_curve_keygen(sub, "acme", 0, pub, err, sizeof err), SL_EEXIST);
    snprintf(sec, sizeof sec, "%s/acme.cert_secret", sub);
    s_secret_txt(sec, sec_txt);
    const char *y = "version: 1\nname: k\ntenants:\n  acme: { keys: keys/acme }\n"
                    "nodes:\n  a: { host: 127.0.0.1, port: 9000 }\n  b: { host: 127.0.0.1 }\n"
                    "actors:\n  g: { kind: generate, node: a, tenant: acme }\n"
                    "  o: { kind: blackhole, node: b, inputs: [g] }\n";
    sl_errors_t e = {0};
    sl_plan_t *plan = sl_topology_load_string("k.yaml", dir, y, strlen(y), &e);
    if (!plan) {
        s_dump(&e);
    }
    assert_non_null(plan);
    assert_int_equal(sl_plan_curve_links(plan), 1);
    assert_int_equal(sl_plan_uses_keys(plan), 1);
    assert_int_equal(sl_plan_link_slots(plan), 1);
    assert_non_null(strstr(plan->actors[0].fingerprint, "link=acme"));
    sl_plan_destroy(&plan);

    /* the secret readable by others */
    assert_int_equal(chmod(sec, 0644), 0);
    assert_null(sl_topology_load_string("k.yaml", dir, y, strlen(y), &e));
    assert_true(s_has_error(&e, "k.yaml:4:17: tenant 'acme': keys: "));
    assert_true(s_has_error(&e, "readable by its owner only"));
    sl_errors_free(&e);
    assert_int_equal(chmod(sec, 0600), 0);

    /* acme's pair under globex's name */
    char gsub[600], cmd[4096];
    snprintf(gsub, sizeof gsub, "%s/keys/globex", dir);
    snprintf(
        cmd, sizeof cmd,
        "mkdir -p '%s' && cp '%s/acme.cert' '%s/globex.cert' && cp -p '%s' '%s/globex.cert_secret'",
        gsub, sub, gsub, sec, gsub);
    assert_int_equal(system(cmd), 0);
    const char *yg = "version: 1\nname: k\ntenants:\n  globex: { keys: keys/globex }\n"
                     "actors:\n  z: { kind: zmq_ingest, listen: 127.0.0.1:5555 }\n"
                     "  o: { kind: blackhole, inputs: [z] }\n";
    assert_null(sl_topology_load_string("g.yaml", dir, yg, strlen(yg), &e));
    assert_true(s_has_error(&e, "g.yaml:4:19: tenant 'globex': keys: "));
    assert_true(s_has_error(&e, "holds the keys of tenant 'acme', not 'globex'"));
    sl_errors_free(&e);

    /* two halves of two pairs */
    snprintf(cmd, sizeof cmd, "rm -f '%s'/*", sub);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sl_curve_keygen(sub, "acme", 0, pub, err, sizeof err), SL_OK);
    snprintf(cmd, sizeof cmd, "cp '%s/acme.cert' '%s/acme.cert.keep'", sub, sub);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sl_curve_keygen(sub, "acme", 1, pub, err, sizeof err), SL_OK);
    s_secret_txt(sec, sec_txt);
    snprintf(cmd, sizeof cmd, "mv '%s/acme.cert.keep' '%s/acme.cert'", sub, sub);
    assert_int_equal(system(cmd), 0);
    assert_null(sl_topology_load_string("k.yaml", dir, y, strlen(y), &e));
    assert_true(s_has_error(&e, "do not hold one key pair"));
    assert_false(s_has_error(&e, sec_txt)); /* never key material */
    sl_errors_free(&e);

    /* not used (no links between nodes, no kind that needs them): not
       checked, so a file can name keys made later */
    const char *unused = "version: 1\nname: k\ntenants:\n  acme: { keys: nowhere }\n"
                         "actors:\n  g: { kind: generate }\n";
    plan = sl_topology_load_string("u.yaml", dir, unused, strlen(unused), &e);
    assert_non_null(plan);
    assert_int_equal(sl_plan_uses_keys(plan), 0);
    sl_plan_destroy(&plan);
    s_rm_tree(dir);
}

static void test_isolated_tenant(void **state)
{
    char dir[] = "/tmp/sl-topo-iso.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char pub[41], err[512], sub[600];
    const char *tenants[] = {"acme", "globex"};
    for (int i = 0; i < 2; i++) {
        snprintf(sub, sizeof sub, "%s/keys/%s", dir, tenants[i]);
        assert_int_equal(sl_curve_keygen(sub, tenants[i], 0, pub, err, sizeof err), SL_OK);
    }
    char *path =
        s_write_file(dir, "iso.yaml",
                     "version: 1\nname: iso\nstore: { path: var/s }\ntenancy: isolated\n"
                     "tenants:\n  acme: { keys: keys/acme }\n"
                     "  globex: { keys: keys/globex, port_offset: 100 }\n"
                     "nodes:\n  a: { host: 127.0.0.1, port: 9000, admin: 127.0.0.1:9464 }\n"
                     "  b: { host: 127.0.0.1, port: 9100 }\n"
                     "actors:\n  z: { kind: zmq_ingest, node: a, listen: 127.0.0.1:5555 }\n"
                     "  o: { kind: blackhole, node: b, inputs: [z] }\n");
    sl_errors_t e = {0};
    /* the template: both tenants, nothing moved */
    sl_plan_t *plan = sl_topology_load_tenant(path, NULL, &e);
    assert_non_null(plan);
    assert_int_equal(plan->n_tenants, 2);
    assert_null(plan->tenant);
    assert_int_equal(sl_plan_link_slots(plan), 2);
    sl_plan_destroy(&plan);
    plan = sl_topology_load_tenant(path, "globex", &e);
    if (!plan) {
        s_dump(&e);
    }
    assert_non_null(plan);
    assert_string_equal(plan->tenant, "globex");
    assert_int_equal(plan->n_tenants, 1);
    assert_string_equal(plan->tenants[0].name, "globex");
    assert_string_equal(plan->store_path, "var/s/globex");
    assert_int_equal(sl_plan_node(plan, "a")->port, 9100);
    assert_int_equal(sl_plan_node(plan, "b")->port, 9200);
    assert_string_equal(sl_plan_node(plan, "a")->admin, "127.0.0.1:9564");
    assert_string_equal(sl_plan_actor(plan, "z")->opts[0].text, "127.0.0.1:5655");
    assert_int_equal(sl_plan_link_slots(plan), 1);
    char *fp_globex = strdup(sl_plan_actor(plan, "o")->fingerprint);
    sl_plan_destroy(&plan);
    plan = sl_topology_load_tenant(path, "acme", &e);
    assert_non_null(plan);
    assert_string_equal(plan->store_path, "var/s/acme");
    assert_int_equal(sl_plan_node(plan, "b")->port, 9100);
    assert_string_not_equal(sl_plan_actor(plan, "o")->fingerprint, fp_globex);
    free(fp_globex);
    sl_plan_destroy(&plan);

    assert_null(sl_topology_load_tenant(path, "initech", &e));
    assert_true(
        s_has_error(&e, ":5:1: --tenant initech: no such tenant in tenants (acme, globex)"));
    sl_errors_free(&e);
    /* a shared file has no tenant copies; a port moved past 65535 */
    free(path);
    path =
        s_write_file(dir, "shared.yaml",
                     "version: 1\nname: s\ntenants:\n  acme:\nactors:\n  g: { kind: generate }\n");
    assert_null(sl_topology_load_tenant(path, "acme", &e));
    assert_true(s_has_error(&e, ":1:1: --tenant acme: the file's tenancy is shared"));
    sl_errors_free(&e);
    free(path);
    path = s_write_file(dir, "far.yaml",
                        "version: 1\nname: f\ntenancy: isolated\ntenants:\n"
                        "  acme: { keys: keys/acme, port_offset: 60000 }\n"
                        "actors:\n  z: { kind: zmq_ingest, listen: 127.0.0.1:5555 }\n"
                        "  o: { kind: blackhole, inputs: [z] }\n");
    assert_null(sl_topology_load_tenant(path, "acme", &e));
    assert_true(s_has_error(
        &e, ":7:34: actor 'z', option 'listen': port 5555 + port_offset 60000 runs past 65535"));
    sl_errors_free(&e);
    free(path);
    s_rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_corpus),
        cmocka_unit_test(test_tenant_keys),
        cmocka_unit_test(test_isolated_tenant),
        cmocka_unit_test(test_good_corpus),
        cmocka_unit_test(test_single_node),
        cmocka_unit_test(test_defaults_fill),
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_secrets_env),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_secrets_not_in_errors),
        cmocka_unit_test(test_cycle_durable_legal),
        cmocka_unit_test(test_cycle_illegal),
        cmocka_unit_test(test_fake_options),
        cmocka_unit_test(test_fingerprints),
        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_mangled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
