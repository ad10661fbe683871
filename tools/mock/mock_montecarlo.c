/*  mock_montecarlo: a local stand-in for Monte Carlo, for tests.

    serve: a GraphQL endpoint (POST /graphql) answering getIncidents with
    the fixture pages (Relay: no `after` -> page 1, page 1's endCursor ->
    page 2, anything else -> an empty last page) and getTable(mcon) for
    the tables of this mock account: the getTable fixture's, and every
    table the incident pages name (tableMcons: fullTableId and warehouse
    from the MCON, connectionType from the incident's warehouse). Another
    MCON gets what GraphQL answers for a missing object: 200 with
    data.getTable null and an error naming the path (REFERENCE.md leaves
    open whether Monte Carlo adds the error; the client takes both). A
    getTable without $mcon is a 400 GraphQL validation error.
    x-mcd-id / x-mcd-token are checked when --id/--token are given (401
    otherwise). Failures are injected in order: --fail 429:N and --fail
    500:N answer the first N requests with that status (the 429s with
    Retry-After: 1, as a rate limit does), --fail 401 and --fail 403 answer
    every request so. --rate N answers more than N requests in one second
    429 with Retry-After: 1. Prints "port N" once listening, and a line per
    request on stderr ("request 3: getTable mcon=..."); stops on
    SIGINT/SIGTERM.

    send: POST a webhook body as Monte Carlo does, with x-mcd-signature
    (HMAC-SHA512 of the raw body, or of the canonical form with
    --canonical); --times N delivers it N times (redelivery). Prints the
    status of each delivery; exit 0 if all were 2xx.

      mock_montecarlo serve --fixtures DIR [--listen H:P] [--id ID --token T]
                            [--fail 429:N] [--fail 500:N] [--fail 401|403] [--rate N]
      mock_montecarlo send URL FILE [--secret S] [--canonical] [--times N] */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "sluice/adapters.h"
#include "sluice/common.h"
#include "sluice/http.h"

static volatile sig_atomic_t s_stop;

typedef struct {
    char *page1, *page2, *table, *cursor1;
    json_t *tables; /* MCON -> getTable answer object */
    const char *id, *token;
    int fail429, fail500, fail401, fail403, rate;
    int requests;
    pthread_mutex_t rate_mu;
    int64_t window; /* start of the current second (monotonic us) */
    int in_window;
} s_mock_t;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static char *s_slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mock_montecarlo: cannot read %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) {
        b[n] = '\0';
        if (len) {
            *len = (size_t)n;
        }
    }
    fclose(f);
    return b;
}

/*  The tables of the mock account: the getTable fixture, and every table
    an incident page names. */
static int s_add_tables(s_mock_t *m, const char *page)
{
    json_t *root = json_loads(page, 0, NULL);
    json_t *edges =
        json_object_get(json_object_get(json_object_get(root, "data"), "getIncidents"), "edges");
    size_t i, k;
    json_t *e, *mc;
    json_array_foreach(edges, i, e)
    {
        json_t *node = json_object_get(e, "node");
        json_t *wh = json_object_get(node, "warehouse");
        json_array_foreach(json_object_get(node, "tableMcons"), k, mc)
        {
            /*  MCON++account++warehouse++type++db:schema.table */
            const char *s = json_string_value(mc);
            const char *f[4] = {0};
            const char *p = s ? s + 6 : NULL;
            int n = 0;
            while (p && n < 4 && (f[n] = p) && (p = strstr(p, "++"))) {
                p += 2;
                n++;
            }
            if (!s || strncmp(s, "MCON++", 6) != 0 || n != 3 || json_object_get(m->tables, s)) {
                continue;
            }
            char whid[64];
            snprintf(whid, sizeof whid, "%.*s", (int)(f[2] - f[1] - 2), f[1]);
            json_t *t = json_pack("{s:s,s:s,s:{s:s,s:O?,s:O?}}", "mcon", s, "fullTableId", f[3],
                                  "warehouse", "uuid", whid, "name", json_object_get(wh, "name"),
                                  "connectionType", json_object_get(wh, "connectionType"));
            if (!t || json_object_set_new(m->tables, s, t) != 0) {
                json_decref(root);
                return -1;
            }
        }
    }
    json_decref(root);
    return 0;
}

/*  --rate N: more than N requests within one second are refused. */
static int s_over_rate(s_mock_t *m)
{
    if (m->rate <= 0) {
        return 0;
    }
    pthread_mutex_lock(&m->rate_mu);
    int64_t now = sl_mono_us();
    if (now - m->window >= 1000000) {
        m->window = now;
        m->in_window = 0;
    }
    int over = ++m->in_window > m->rate;
    pthread_mutex_unlock(&m->rate_mu);
    return over;
}

static int s_get_table(s_mock_t *m, int n, json_t *q, sl_http_resp_t *resp)
{
    const char *mcon = json_string_value(json_object_get(json_object_get(q, "variables"), "mcon"));
    fprintf(stderr, "mock_montecarlo: request %d: getTable mcon=%s\n", n, mcon ? mcon : "-");
    if (!mcon) {
        static const char bad[] = "{\"errors\":[{\"message\":\"Variable \\\"$mcon\\\" of type "
                                  "\\\"String\\\" was not provided.\"}]}";
        return sl_http_json(resp, 400, bad, strlen(bad));
    }
    json_t *t = json_object_get(m->tables, mcon);
    json_t *ans = t ? json_pack("{s:{s:O}}", "data", "getTable", t)
                    : json_pack("{s:{s:n},s:[{s:s,s:[s]}]}", "data", "getTable", "errors",
                                "message", "Object not found", "path", "getTable");
    char *text = ans ? json_dumps(ans, JSON_COMPACT) : NULL;
    json_decref(ans);
    int rc = text ? sl_http_json(resp, 200, text, strlen(text))
                  : sl_http_error(resp, 500, "internal", "out of memory");
    free(text);
    return rc;
}

static int s_graphql(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_mock_t *m = arg;
    static const char empty[] = "{\"data\":{\"getIncidents\":{\"pageInfo\":{\"hasNextPage\":false,"
                                "\"endCursor\":null},\"edges\":[]}}}";
    int n = __atomic_add_fetch(&m->requests, 1, __ATOMIC_SEQ_CST);
    const char *id = sl_http_header(req, "x-mcd-id"), *tok = sl_http_header(req, "x-mcd-token");
    if (m->fail401 || (m->id && (!id || strcmp(id, m->id) != 0)) ||
        (m->token && (!tok || !sl_token_equal(m->token, tok)))) {
        fprintf(stderr, "mock_montecarlo: request %d: 401\n", n);
        return sl_http_json(resp, 401, "{\"errors\":[{\"message\":\"Unauthorized\"}]}", 40);
    }
    if (m->fail403) {
        fprintf(stderr, "mock_montecarlo: request %d: 403\n", n);
        return sl_http_json(resp, 403, "{\"errors\":[{\"message\":\"Forbidden\"}]}", 37);
    }
    if (n <= m->fail429 || s_over_rate(m)) {
        fprintf(stderr, "mock_montecarlo: request %d: 429 (%s)\n", n,
                n <= m->fail429 ? "injected" : "rate");
        resp->retry_after_s = 1;
        return sl_http_json(resp, 429, "{\"errors\":[{\"message\":\"Too many requests\"}]}", 45);
    }
    if (n <= m->fail429 + m->fail500) {
        fprintf(stderr, "mock_montecarlo: request %d: 500 (injected)\n", n);
        return sl_http_json(resp, 500, "{\"errors\":[{\"message\":\"Internal error\"}]}", 42);
    }
    json_t *q = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    const char *query = json_string_value(json_object_get(q, "query"));
    const char *after =
        json_string_value(json_object_get(json_object_get(q, "variables"), "after"));
    const char *ans = NULL;
    int rc;
    if (!query) {
        json_decref(q);
        return sl_http_json(resp, 400,
                            "{\"errors\":[{\"message\":\"Must provide query string.\"}]}", 52);
    }
    if (strstr(query, "getTable")) {
        rc = s_get_table(m, n, q, resp);
        json_decref(q);
        return rc;
    } else if (strstr(query, "getIncidents")) {
        ans = !after ? m->page1 : strcmp(after, m->cursor1) == 0 ? m->page2 : empty;
    }
    fprintf(stderr, "mock_montecarlo: request %d: %s after=%s\n", n,
            strstr(query, "getTable") ? "getTable" : "getIncidents", after ? after : "-");
    rc = ans ? sl_http_json(resp, 200, ans, strlen(ans))
             : sl_http_json(resp, 400, "{\"errors\":[{\"message\":\"Unknown query\"}]}", 39);
    json_decref(q);
    return rc;
}

static int s_serve(int argc, char **argv)
{
    s_mock_t m = {0};
    const char *dir = NULL, *listen = "127.0.0.1:0";
    char err[256];
    for (int i = 0; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--fixtures") == 0 && v) {
            dir = v;
        } else if (strcmp(a, "--listen") == 0 && v) {
            listen = v;
        } else if (strcmp(a, "--id") == 0 && v) {
            m.id = v;
        } else if (strcmp(a, "--token") == 0 && v) {
            m.token = v;
        } else if (strcmp(a, "--fail") == 0 && v) {
            if (strncmp(v, "429:", 4) == 0) {
                m.fail429 = atoi(v + 4);
            } else if (strncmp(v, "500:", 4) == 0) {
                m.fail500 = atoi(v + 4);
            } else if (strcmp(v, "401") == 0) {
                m.fail401 = 1;
            } else if (strcmp(v, "403") == 0) {
                m.fail403 = 1;
            } else {
                fprintf(stderr, "mock_montecarlo: --fail 429:N, 500:N, 401 or 403\n");
                return 2;
            }
        } else if (strcmp(a, "--rate") == 0 && v) {
            m.rate = atoi(v);
        } else {
            fprintf(stderr, "mock_montecarlo serve: unknown argument '%s'\n", a);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "mock_montecarlo serve: --fixtures DIR is required\n");
        return 2;
    }
    m.page1 = s_slurp(dir, "graphql_getIncidents_page1.json", NULL);
    m.page2 = s_slurp(dir, "graphql_getIncidents_page2.json", NULL);
    m.table = s_slurp(dir, "graphql_getTable.json", NULL);
    json_t *p1 = m.page1 ? json_loads(m.page1, 0, NULL) : NULL;
    const char *c1 = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(p1, "data"), "getIncidents"), "pageInfo"),
        "endCursor"));
    if (!m.page1 || !m.page2 || !m.table || !c1) {
        fprintf(stderr, "mock_montecarlo: fixtures missing or without pageInfo.endCursor\n");
        return 1;
    }
    m.cursor1 = strdup(c1);
    json_decref(p1);
    json_t *ft = json_loads(m.table, 0, NULL);
    json_t *t0 = json_object_get(json_object_get(ft, "data"), "getTable");
    const char *mc0 = json_string_value(json_object_get(t0, "mcon"));
    m.tables = json_object();
    if (!m.tables || !mc0 || json_object_set(m.tables, mc0, t0) != 0 ||
        s_add_tables(&m, m.page1) != 0 || s_add_tables(&m, m.page2) != 0) {
        fprintf(stderr, "mock_montecarlo: the getTable fixture has no data.getTable.mcon\n");
        json_decref(ft);
        return 1;
    }
    json_decref(ft);
    pthread_mutex_init(&m.rate_mu, NULL);
    sl_http_opts_t o = {.listen = listen, .log_name = "mock_montecarlo"};
    sl_http_t *h = sl_http_new(&o, err, sizeof err);
    if (!h || sl_http_route(h, "POST", "/graphql", SL_HTTP_EXACT, s_graphql, &m) != SL_OK ||
        sl_http_start(h, err, sizeof err) != SL_OK) {
        fprintf(stderr, "mock_montecarlo: %s\n", err);
        sl_http_destroy(&h);
        return 1;
    }
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    printf("port %d\n", sl_http_port(h));
    fflush(stdout);
    while (!s_stop) {
        usleep(50 * 1000);
    }
    sl_http_destroy(&h);
    free(m.page1);
    free(m.page2);
    free(m.table);
    free(m.cursor1);
    json_decref(m.tables);
    return 0;
}

static size_t s_discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static int s_send(int argc, char **argv)
{
    const char *url = argc > 0 ? argv[0] : NULL, *file = argc > 1 ? argv[1] : NULL;
    const char *secret = NULL;
    int canonical = 0, times = 1, failed = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--secret") == 0 && i + 1 < argc) {
            secret = argv[++i];
        } else if (strcmp(argv[i], "--canonical") == 0) {
            canonical = 1;
        } else if (strcmp(argv[i], "--times") == 0 && i + 1 < argc) {
            times = atoi(argv[++i]);
        } else {
            fprintf(stderr, "mock_montecarlo send: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!url || !file) {
        fprintf(stderr, "usage: mock_montecarlo send URL FILE [--secret S] [--canonical] "
                        "[--times N]\n");
        return 2;
    }
    size_t len;
    char *body = s_slurp(NULL, file, &len);
    if (!body) {
        return 1;
    }
    char sig[129], hdr[160];
    struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/json");
    if (secret) {
        if (sl_montecarlo_sign(secret, body, len, canonical, sig) != SL_OK) {
            fprintf(stderr, "mock_montecarlo: cannot sign %s (not a JSON object?)\n", file);
            free(body);
            return 1;
        }
        snprintf(hdr, sizeof hdr, "x-mcd-signature: %s", sig);
        hs = curl_slist_append(hs, hdr);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    for (int i = 0; c && i < times; i++) {
        long status = 0;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_discard);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        CURLcode cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK) {
            printf("delivery %d: %s\n", i + 1, curl_easy_strerror(cc));
            failed = 1;
        } else {
            printf("delivery %d: %ld\n", i + 1, status);
            failed |= status < 200 || status > 299;
        }
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(hs);
    curl_global_cleanup();
    free(body);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        return s_serve(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "send") == 0) {
        return s_send(argc - 2, argv + 2);
    }
    fprintf(stderr,
            "usage: mock_montecarlo serve --fixtures DIR [--listen H:P] [--id ID --token T]"
            " [--fail 429:N|500:N|401|403] [--rate N]\n"
            "       mock_montecarlo send URL FILE [--secret S] [--canonical] [--times N]\n");
    return 2;
}
