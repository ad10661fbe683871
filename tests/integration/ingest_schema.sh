#!/usr/bin/env bash
# http_ingest with `schemas`: every event of a request is validated before
# it is journaled. A request with one invalid event is a 400 naming its
# index, the field and the rule, and nothing of it is accepted; a kind no
# schema covers is refused; events the OpenLineage adapter makes are
# validated the same way (a stricter schema_map refuses them). Exact
# count of what came out after all of it.
source "$(dirname "$0")/lib.bash"

IN=$(free_port) || fail "no free port"
IN2=$(free_port) || fail "no free port"
[ "$IN" != "$IN2" ] || IN2=$((IN + 1))
FX="$SL_SOURCE_DIR/tests/adapters"

# a stricter lineage.edge: the edge type must be "control" (the adapter's
# are "data"); the adapter's asset upserts keep their built-in schema
mkdir "$T/schemas"
cp "$SL_SOURCE_DIR/schemas/asset.upsert.yaml" "$T/schemas/"
cat >"$T/schemas/strict.yaml" <<YAML
name: lineage.strict
version: 1
type: object
required: [from, to, type]
properties:
  type: { const: control }
YAML

cat >"$T/topo.yaml" <<YAML
version: 1
name: ingest-schema
store: { path: $T/store }
actors:
  http:   { kind: http_ingest, listen: 127.0.0.1:$IN, tenant: acme, schemas: "$SL_SOURCE_DIR/schemas" }
  strict: { kind: http_ingest, listen: 127.0.0.1:$IN2, tenant: acme, schemas: "$T/schemas",
            schema_map: { lineage.edge: lineage.strict@1, asset.upsert: asset.upsert@1 } }
  out:    { kind: jsonl_out, inputs: [http, strict], path: $T/out.jsonl }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "topology invalid"
start run run "$T/topo.yaml"
PID=$LAST_PID

post() { # URL CONTENT-TYPE FILE: CODE, body in $T/post.body
    CODE=$(curl -s -m 10 -o "$T/post.body" -w '%{http_code}' -H "Content-Type: $2" \
        --data-binary "@$3" "$1" 2>/dev/null) || CODE=000
}
pbody() { cat "$T/post.body"; }
up() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "$1/v1/events" 2>/dev/null)" = 415 ]; }
wait_for 30 up "http://127.0.0.1:$IN" || fail "ingest not listening"
wait_for 30 up "http://127.0.0.1:$IN2" || fail "strict ingest not listening"
URL="http://127.0.0.1:$IN/v1/events"

SF=snowflake://acme-prod/analytics
asset() { printf '{"kind":"asset.upsert","body":{"qualified_name":"%s","type":"table"}}' "$1"; }
inc() { printf '{"kind":"incident.upsert","body":{"source":"montecarlo","external_id":"%s","severity":"%s"}}' "$1" "$2"; }

# --- three valid events: accepted
printf '[%s,%s,%s]' "$(asset $SF/a)" "$(asset $SF/b)" "$(inc inc-1 SEV-2)" >"$T/ok.json"
post "$URL" application/json "$T/ok.json"
[ "$CODE" = 202 ] || fail "valid batch: $CODE $(pbody)"
grep -q '"accepted":3' "$T/post.body" || fail "valid batch reply: $(pbody)"

# --- the third is invalid: 400 naming index, field and rule; none accepted
printf '[%s,%s,%s]' "$(asset $SF/c)" "$(asset $SF/d)" "$(inc inc-2 SEV-5)" >"$T/bad.json"
post "$URL" application/json "$T/bad.json"
[ "$CODE" = 400 ] || fail "invalid batch: $CODE $(pbody)"
grep -q -F '"message":"events[2]: body.severity: must be one of SEV-1, SEV-2, SEV-3, SEV-4' "$T/post.body" ||
    fail "reason: $(pbody)"
grep -q -F '"index":2' "$T/post.body" || fail "no index: $(pbody)"
grep -q -F '"code":"schema"' "$T/post.body" || fail "no code: $(pbody)"

# --- NDJSON: the second lacks a required field
{
    asset $SF/e
    echo
    echo '{"kind":"asset.upsert","body":{"type":"table"}}'
} >"$T/bad.ndjson"
post "$URL" application/x-ndjson "$T/bad.ndjson"
[ "$CODE" = 400 ] || fail "invalid ndjson: $CODE $(pbody)"
grep -q -F 'events[1]: body.qualified_name: required' "$T/post.body" || fail "ndjson reason: $(pbody)"

# --- a kind no schema covers
echo '{"kind":"asset.explode","body":{"qualified_name":"x"}}' >"$T/unknown.json"
post "$URL" application/json "$T/unknown.json"
[ "$CODE" = 400 ] || fail "unknown kind: $CODE $(pbody)"
grep -q -F "events[0]: kind 'asset.explode': no schema for this kind" "$T/post.body" || fail "unknown reason: $(pbody)"

# --- adapters: OpenLineage edges are valid under the built-in schemas ...
post "http://127.0.0.1:$IN/api/v1/lineage" application/json "$FX/openlineage/run_complete.json"
[ "$CODE" = 202 ] || fail "openlineage: $CODE $(pbody)"
OL=$(grep -o '"accepted":[0-9]*' "$T/post.body" | grep -o '[0-9]*$')
[ "${OL:-0}" -ge 1 ] || fail "openlineage accepted nothing: $(pbody)"
# ... and refused, whole, where the map names a stricter schema
post "http://127.0.0.1:$IN2/api/v1/lineage" application/json "$FX/openlineage/run_complete.json"
[ "$CODE" = 400 ] || fail "strict openlineage: $CODE $(pbody)"
grep -q -E '"message":"events\[[0-9]+\]: body.type: ' "$T/post.body" || fail "strict reason: $(pbody)"

# exactly the accepted events come out: 3 + the OpenLineage ones
WANT=$((3 + OL))
wait_for 20 lines_at_least "$T/out.jsonl" "$WANT" || fail "out: $(lines "$T/out.jsonl") events, expected $WANT"
kill -TERM "$PID"
wait_exit "$PID" 20 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
[ "$(lines "$T/out.jsonl")" = "$WANT" ] || fail "out: $(lines "$T/out.jsonl") events, expected $WANT"
for qn in c d e; do
    ! grep -q "\"$SF/$qn\"" "$T/out.jsonl" || fail "an event of a refused request came out ($qn)"
done
! grep -q 'SEV-5' "$T/out.jsonl" || fail "the invalid incident came out"
echo "ok"
