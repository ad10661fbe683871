#!/usr/bin/env bash
# Compatibility at topology load: when a topology maps two versions of one
# schema (schema_check `map`, http_ingest and jsonl_out `schema_map`), and
# the newer is not compatible with the older, `sluice check` reports a
# topology error at FILE:LINE:COL of the newer version's entry, naming each
# offending field; whatever the order of `map` and `schemas` in the file.
# A schema the directory lacks is an error at its entry too; compatible
# versions pass.
source "$(dirname "$0")/lib.bash"

S=$SL_SOURCE_DIR/schemas
mkdir "$T/schemas"
cp "$S/tag.set.yaml" "$S/asset.upsert.yaml" "$T/schemas/"
# v2 adds a required field: not backward compatible with v1
sed -e 's/^version: 1/version: 2/' -e 's/^required: \[qualified_name, tag\]/required: [qualified_name, tag, reason]/' \
    -e 's/^properties:/properties:\n  reason: { type: string }/' "$S/tag.set.yaml" >"$T/schemas/tag.set.v2.yaml"
# v3 is v2 again (a new version, nothing changed): compatible with v2
sed -e 's/^version: 2/version: 3/' \
    "$T/schemas/tag.set.v2.yaml" >"$T/schemas/tag.set.v3.yaml"
"$SLUICE" schema check "$T/schemas/tag.set.v2.yaml" "$T/schemas/tag.set.v3.yaml" >/dev/null ||
    fail "fixture: v3 should be compatible with v2"

cat >"$T/bad.yaml" <<YAML
version: 1
name: compat-at-load
actors:
  events: { kind: jsonl_in, path: $T/events.jsonl }
  check:
    kind: schema_check
    inputs: [events]
    map:
      tag.set: tag.set@1
      tag.set.v2: tag.set@2
    schemas: "$T/schemas"
  out:
    kind: jsonl_out
    inputs: [check]
    path: $T/out.jsonl
    schemas: "$T/schemas"
    schema_map: { tag.set.v2: tag.set@2, tag.set.v3: tag.set@3, asset.upsert: asset.upsert@4 }
  http:
    kind: http_ingest
    listen: 127.0.0.1:1
    schemas: "$T/schemas"
    schema_map: { old: tag.set@1, new: tag.set@2 }
YAML
rc=0
"$SLUICE" check "$T/bad.yaml" >"$T/check.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "check: exit $rc, expected 1: $(cat "$T/check.out")"
has() { grep -q -F -- "$1" "$T/check.out" || fail "no '$1' in: $(cat "$T/check.out")"; }
# the newer version's entry, each offending field named
has "$T/bad.yaml:10:19: actor 'check', option 'map': tag.set@2 is not backward compatible with tag.set@1: backward: body.reason: required by new, optional in old; backward: body.reason: new constrains a property that old leaves open (additionalProperties)"
# v2 -> v3 is fine; the missing schema is the error, at its entry
has "$T/bad.yaml:17:79: actor 'out', option 'schema_map': kind 'asset.upsert': schema 'asset.upsert@4' is not in $T/schemas"
has "$T/bad.yaml:22:40: actor 'http', option 'schema_map': tag.set@2 is not backward compatible with tag.set@1"
[ "$(grep -c "$T/bad.yaml:" "$T/check.out")" = 3 ] || fail "expected 3 errors: $(cat "$T/check.out")"

# compatible versions: the topology is good
sed -e 's/tag.set.v2: tag.set@2$/tag.set.v3: tag.set@3/' -e 's/tag.set: tag.set@1$/tag.set.v2: tag.set@2/' \
    -e 's/, asset.upsert: asset.upsert@4//' -e 's/new: tag.set@2/new: tag.set@1/' "$T/bad.yaml" >"$T/good.yaml"
"$SLUICE" check "$T/good.yaml" >"$T/check.out" 2>&1 || fail "good topology: $(cat "$T/check.out")"
echo "ok"
