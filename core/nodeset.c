/*  A set of names numbered in insertion order (sluice/nodeset.h). */
#include <stdlib.h>
#include <string.h>

#include "sluice/common.h"
#include "sluice/nodeset.h"

typedef struct {
    uint64_t hash;
    uint32_t off; /* into the arena */
    uint32_t len;
} s_entry_t;

struct sl_nodeset {
    sl_buf_t arena;     /* names, each followed by NUL */
    s_entry_t *entries; /* in insertion order */
    size_t n, cap;
    /*  A slot: entry number + 1 in the low 32 bits (0 = empty), the high
        32 bits of the name's hash above: a probe compares those before
        it touches an entry and the arena (two cache misses saved for
        most slots that hold another name). */
    uint64_t *table;
    size_t slots; /* a power of two */
};

#define S_TAG(h) ((h)&0xffffffff00000000ull)

/*  Eight bytes per step (a multiply and a shift each), not FNV-1a's one:
    the walks hash every edge they follow, and names are ~60-120 bytes. The
    last, partial word is read with memcpy (no read past the end). */
static uint64_t s_hash(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    uint64_t w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

sl_nodeset_t *sl_nodeset_new(void)
{
    return calloc(1, sizeof(sl_nodeset_t));
}

void sl_nodeset_free(sl_nodeset_t **setp)
{
    if (!setp || !*setp) {
        return;
    }
    sl_buf_free(&(*setp)->arena);
    free((*setp)->entries);
    free((*setp)->table);
    free(*setp);
    *setp = NULL;
}

void sl_nodeset_clear(sl_nodeset_t *set)
{
    sl_buf_reset(&set->arena);
    set->n = 0;
    if (set->table) {
        memset(set->table, 0, set->slots * sizeof *set->table);
    }
}

static int64_t s_probe(const sl_nodeset_t *set, const char *name, size_t len, uint64_t h,
                       size_t *slot)
{
    size_t mask = set->slots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        uint64_t t = set->table[i];
        if (t == 0) {
            *slot = i;
            return -1;
        }
        if (S_TAG(t) != S_TAG(h)) {
            continue;
        }
        int64_t j = (int64_t)(uint32_t)t - 1;
        const s_entry_t *e = &set->entries[j];
        if (e->hash == h && e->len == len &&
            memcmp((const char *)set->arena.data + e->off, name, len) == 0) {
            *slot = i;
            return j;
        }
    }
}

static int s_grow(sl_nodeset_t *set)
{
    size_t slots = set->slots ? set->slots * 2 : 64;
    uint64_t *t = calloc(slots, sizeof *t);
    if (!t) {
        return SL_ENOMEM;
    }
    for (size_t j = 0; j < set->n; j++) {
        uint64_t h = set->entries[j].hash;
        size_t i = (size_t)h & (slots - 1);
        while (t[i]) {
            i = (i + 1) & (slots - 1);
        }
        t[i] = S_TAG(h) | (j + 1);
    }
    free(set->table);
    set->table = t;
    set->slots = slots;
    return SL_OK;
}

int64_t sl_nodeset_add(sl_nodeset_t *set, const char *name, size_t len, int *added)
{
    size_t slot;
    uint64_t h = s_hash(name, len);
    if (added) {
        *added = 0;
    }
    if (set->n >= INT32_MAX - 1 || set->arena.len + len + 1 > UINT32_MAX) {
        return -1;
    }
    if ((set->n + 1) * 2 > set->slots && s_grow(set) != SL_OK) {
        return -1;
    }
    int64_t found = s_probe(set, name, len, h, &slot);
    if (found >= 0) {
        return found;
    }
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        s_entry_t *e = realloc(set->entries, cap * sizeof *e);
        if (!e) {
            return -1;
        }
        set->entries = e;
        set->cap = cap;
    }
    size_t off = set->arena.len;
    if (sl_buf_append(&set->arena, name, len) != SL_OK ||
        sl_buf_append(&set->arena, "", 1) != SL_OK) {
        set->arena.len = off;
        return -1;
    }
    set->entries[set->n] = (s_entry_t){h, (uint32_t)off, (uint32_t)len};
    set->table[slot] = S_TAG(h) | (set->n + 1);
    if (added) {
        *added = 1;
    }
    return (int64_t)set->n++;
}

int64_t sl_nodeset_find(const sl_nodeset_t *set, const char *name, size_t len)
{
    size_t slot;
    if (!set->slots) {
        return -1;
    }
    return s_probe(set, name, len, s_hash(name, len), &slot);
}

const char *sl_nodeset_name(const sl_nodeset_t *set, int64_t i, size_t *len)
{
    if (i < 0 || (size_t)i >= set->n) {
        return NULL;
    }
    if (len) {
        *len = set->entries[i].len;
    }
    return (const char *)set->arena.data + set->entries[i].off;
}

size_t sl_nodeset_count(const sl_nodeset_t *set)
{
    return set->n;
}

size_t sl_nodeset_bytes(const sl_nodeset_t *set)
{
    return set->arena.cap + set->cap * sizeof(s_entry_t) + set->slots * sizeof(uint64_t);
}
