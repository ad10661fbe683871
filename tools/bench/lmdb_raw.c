/*  lmdb_raw: the ceiling the store is measured against, and a read-only
    look at an LMDB environment's pages.

      lmdb_raw --mode put --dir DIR [--batch N] [--seconds S] [--count N]
               [--value-size BYTES] [--flags LIST] [--map-size BYTES]
      lmdb_raw --mode inspect --dir DIR

    put: plain mdb_put of `value-size`-byte values under keys shaped like the
         store's asset keys ("acme\0snowflake://.../tbl_<hash>", in hashed,
         not sorted, order) into one database of a fresh environment in DIR,
         `batch` puts per write transaction, one mdb_txn_commit per batch
         (fsync unless --flags has nosync). Only the time from
         mdb_txn_begin to the end of mdb_txn_commit is counted: keys and
         values are made before each batch, outside the clock. Runs batches
         until the counted time reaches --seconds (or --count puts are done).
         --flags: comma-separated mdb_env_open flags (notls, nordahead,
         writemap, nometasync, nosync, mapasync, nosubdir), to match the
         store's environment.
    inspect: opens DIR read-only and reports the page size, the last page
         used, the free pages (from the free list) and per database entries
         and pages, so "used bytes" = (last page + 1 - free pages) * page
         size; and the bytes of all keys and values of each database. Run it
         only when no writer is in the middle of a batch (after
         the store closed).

    Prints one JSON object per line (one result per run). This is a bench
    tool: it includes lmdb.h itself (the sluice code outside core/store*.c
    never does). */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t s_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void s_die(const char *what, int rc)
{
    fprintf(stderr, "lmdb_raw: %s: %s\n", what, mdb_strerror(rc));
    exit(1);
}

static unsigned s_parse_flags(const char *list)
{
    static const struct {
        const char *name;
        unsigned flag;
    } names[] = {{"notls", MDB_NOTLS},         {"nordahead", MDB_NORDAHEAD},
                 {"writemap", MDB_WRITEMAP},   {"nometasync", MDB_NOMETASYNC},
                 {"nosync", MDB_NOSYNC},       {"mapasync", MDB_MAPASYNC},
                 {"nosubdir", MDB_NOSUBDIR},   {"nolock", MDB_NOLOCK},
                 {"nomeminit", MDB_NOMEMINIT}, {"none", 0}};
    unsigned flags = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t i;
        for (i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (strlen(names[i].name) == n && strncmp(names[i].name, p, n) == 0) {
                flags |= names[i].flag;
                break;
            }
        }
        if (i == sizeof names / sizeof names[0]) {
            fprintf(stderr, "lmdb_raw: unknown flag %.*s\n", (int)n, p);
            exit(2);
        }
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    return flags;
}

static int s_put(const char *dir, int batch, double seconds, long long count, size_t vsize,
                 unsigned flags, size_t map_size)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "lmdb_raw: mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc) {
        s_die("mdb_env_create", rc);
    }
    mdb_env_set_mapsize(env, map_size);
    mdb_env_set_maxdbs(env, 4);
    if ((rc = mdb_env_open(env, dir, flags, 0644)) != 0) {
        s_die("mdb_env_open", rc);
    }
    MDB_txn *txn;
    MDB_dbi dbi;
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "raw", MDB_CREATE, &dbi)) != 0 || (rc = mdb_txn_commit(txn)) != 0) {
        s_die("open database", rc);
    }
    /* One key buffer per put of a batch, made before the batch starts. */
    enum { KEY_MAX = 96 };
    char *keys = malloc((size_t)batch * KEY_MAX);
    size_t *klen = malloc((size_t)batch * sizeof *klen);
    uint8_t *vals = malloc((size_t)batch * vsize);
    if (!keys || !klen || !vals) {
        fprintf(stderr, "lmdb_raw: out of memory\n");
        return 1;
    }
    int64_t spent = 0, limit = (int64_t)(seconds * 1e9);
    long long done = 0;
    long long batches = 0;
    while ((count > 0 && done < count) || (count <= 0 && spent < limit)) {
        int n = batch;
        if (count > 0 && count - done < n) {
            n = (int)(count - done);
        }
        for (int i = 0; i < n; i++) {
            uint64_t h = s_mix((uint64_t)(done + i));
            klen[i] = (size_t)snprintf(keys + (size_t)i * KEY_MAX, KEY_MAX,
                                       "acme%csnowflake://acme-prod/analytics/sch%02u/tbl_%016llx",
                                       0, (unsigned)(h % 50), (unsigned long long)h);
            uint8_t *v = vals + (size_t)i * vsize;
            for (size_t j = 0; j < vsize; j += 8) {
                uint64_t r = s_mix(h + j);
                memcpy(v + j, &r, vsize - j < 8 ? vsize - j : 8);
            }
        }
        int64_t t0 = s_now_ns();
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
            s_die("mdb_txn_begin", rc);
        }
        for (int i = 0; i < n; i++) {
            MDB_val k = {klen[i], keys + (size_t)i * KEY_MAX};
            MDB_val v = {vsize, vals + (size_t)i * vsize};
            if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
                s_die("mdb_put", rc);
            }
        }
        if ((rc = mdb_txn_commit(txn)) != 0) {
            s_die("mdb_txn_commit", rc);
        }
        spent += s_now_ns() - t0;
        done += n;
        batches++;
    }
    double secs = (double)spent / 1e9;
    printf("{\"bench\":\"lmdb_raw\",\"mode\":\"put\",\"batch\":%d,\"value_bytes\":%zu,"
           "\"sync\":%d,\"events\":%lld,\"batches\":%lld,\"seconds\":%.4f,"
           "\"events_per_s\":%.1f}\n",
           batch, vsize, (flags & MDB_NOSYNC) ? 0 : 1, done, batches, secs, (double)done / secs);
    free(keys);
    free(klen);
    free(vals);
    mdb_env_close(env);
    return 0;
}

static void s_stat_json(const char *name, const MDB_stat *st, size_t kbytes, size_t vbytes,
                        int first)
{
    printf("%s\"%s\":{\"entries\":%zu,\"depth\":%u,\"branch\":%zu,\"leaf\":%zu,"
           "\"overflow\":%zu,\"key_bytes\":%zu,\"value_bytes\":%zu}",
           first ? "" : ",", name, st->ms_entries, st->ms_depth, st->ms_branch_pages,
           st->ms_leaf_pages, st->ms_overflow_pages, kbytes, vbytes);
}

/*  Bytes of every key and value of a database (every duplicate counted). */
static void s_walk(MDB_txn *txn, MDB_dbi dbi, size_t *kbytes, size_t *vbytes)
{
    MDB_cursor *cur;
    MDB_val k, v;
    *kbytes = *vbytes = 0;
    if (mdb_cursor_open(txn, dbi, &cur) != 0) {
        return;
    }
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
        *kbytes += k.mv_size;
        *vbytes += v.mv_size;
    }
    mdb_cursor_close(cur);
}

static int s_inspect(const char *dir)
{
    char path[4096];
    struct stat sb;
    unsigned flags = MDB_RDONLY;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &sb) != 0) {
        if (stat(dir, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            fprintf(stderr, "lmdb_raw: no data.mdb in %s\n", dir);
            return 1;
        }
        flags |= MDB_NOSUBDIR;
    }
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc) {
        s_die("mdb_env_create", rc);
    }
    mdb_env_set_maxdbs(env, 256);
    if ((rc = mdb_env_open(env, dir, flags, 0644)) != 0) {
        s_die("mdb_env_open", rc);
    }
    MDB_envinfo info;
    MDB_stat est;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &est);
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
        s_die("mdb_txn_begin", rc);
    }
    /* Free pages: the free list (database 0) maps a txn id to an array of
       page numbers whose first element is its length (as mdb_stat -f). */
    size_t free_pages = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    if ((rc = mdb_cursor_open(txn, 0, &cur)) != 0) {
        s_die("free list cursor", rc);
    }
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        size_t first;
        memcpy(&first, v.mv_data, sizeof first);
        free_pages += first;
    }
    mdb_cursor_close(cur);
    size_t used = info.me_last_pgno + 1 - free_pages;
    printf("{\"bench\":\"lmdb_inspect\",\"dir\":\"%s\",\"page_size\":%u,\"last_pgno\":%zu,"
           "\"free_pages\":%zu,\"used_pages\":%zu,\"used_bytes\":%zu,\"map_size\":%zu,"
           "\"file_bytes\":%lld,\"file_alloc_bytes\":%lld,\"dbs\":{",
           dir, est.ms_psize, info.me_last_pgno, free_pages, used, used * est.ms_psize,
           info.me_mapsize, (long long)sb.st_size, (long long)sb.st_blocks * 512);
    s_stat_json("(main)", &est, 0, 0, 1);
    /* Named databases are the keys of the main database. */
    MDB_dbi main;
    if (mdb_dbi_open(txn, NULL, 0, &main) == 0 && mdb_cursor_open(txn, main, &cur) == 0) {
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
            char name[256];
            if (k.mv_size == 0 || k.mv_size >= sizeof name || memchr(k.mv_data, 0, k.mv_size)) {
                continue;
            }
            memcpy(name, k.mv_data, k.mv_size);
            name[k.mv_size] = 0;
            MDB_dbi dbi;
            MDB_stat st;
            if (mdb_dbi_open(txn, name, 0, &dbi) == 0 && mdb_stat(txn, dbi, &st) == 0) {
                size_t kb, vb;
                s_walk(txn, dbi, &kb, &vb);
                s_stat_json(name, &st, kb, vb, 0);
            }
        }
        mdb_cursor_close(cur);
    }
    printf("}}\n");
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = "put", *dir = NULL, *flag_list = "";
    int batch = 100;
    double seconds = 3;
    long long count = 0;
    size_t vsize = 300, map_size = (size_t)1 << 30;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "lmdb_raw: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--mode") == 0) {
            mode = v;
        } else if (strcmp(argv[i], "--dir") == 0) {
            dir = v;
        } else if (strcmp(argv[i], "--batch") == 0) {
            batch = atoi(v);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = strtod(v, NULL);
        } else if (strcmp(argv[i], "--count") == 0) {
            count = strtoll(v, NULL, 10);
        } else if (strcmp(argv[i], "--value-size") == 0) {
            vsize = (size_t)strtoull(v, NULL, 10);
        } else if (strcmp(argv[i], "--flags") == 0) {
            flag_list = v;
        } else if (strcmp(argv[i], "--map-size") == 0) {
            map_size = (size_t)strtoull(v, NULL, 10);
        } else {
            fprintf(stderr, "lmdb_raw: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "lmdb_raw: --dir is required\n");
        return 2;
    }
    if (strcmp(mode, "put") == 0) {
        if (batch < 1 || vsize < 1 || seconds <= 0) {
            fprintf(stderr, "lmdb_raw: batch and value-size >= 1, seconds > 0\n");
            return 2;
        }
        return s_put(dir, batch, seconds, count, vsize, s_parse_flags(flag_list), map_size);
    }
    if (strcmp(mode, "inspect") == 0) {
        return s_inspect(dir);
    }
    fprintf(stderr, "lmdb_raw: mode is put or inspect\n");
    return 2;
}
