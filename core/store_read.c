/*  Reads of the store: JSON documents in the shapes of sluice/store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store_internal.h"
#include "sluice/log.h"
#include "sluice/mpjson.h"

static int s_not_yet(const char *what)
{
    sl_error("store", "%s: not implemented yet", what);
    return SL_EINVAL;
}

int sl_store_asset_json(sl_store_t *s, const char *tenant, const char *qn, sl_buf_t *out)
{
    return s_not_yet("asset read");
}

int sl_store_assets_json(sl_store_t *s, const char *tenant, const char *prefix, int limit,
                         const char *cursor, sl_buf_t *out)
{
    return s_not_yet("asset listing");
}

int sl_store_lineage_json(sl_store_t *s, const char *tenant, const char *qn, sl_direction_t dir,
                          int depth, int limit, sl_buf_t *out)
{
    return s_not_yet("lineage read");
}

int sl_store_incidents_json(sl_store_t *s, const char *tenant, const char *status,
                            const char *asset, const char *source, int limit, const char *cursor,
                            sl_buf_t *out)
{
    return s_not_yet("incidents read");
}

int sl_store_changes_json(sl_store_t *s, const char *tenant, uint64_t after, int limit,
                          sl_buf_t *out)
{
    return s_not_yet("changes read");
}

int sl_store_stats_json(sl_store_t *s, sl_buf_t *out)
{
    return s_not_yet("stats");
}

int sl_store_dead_letters_json(sl_store_t *s, const char *tenant, int limit, sl_buf_t *out)
{
    return s_not_yet("dead letters read");
}
