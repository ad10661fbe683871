#!/usr/bin/env bash
# The lineage walker with the real binary, over HTTP: events in through
# http_ingest -> store <-> lineage_walker (a cycle through store.changes),
# reads through the query API.
#   - a tag set on a source reaches every asset downstream (path lengths,
#     provenance path), a block stops it, tag.unset retracts it;
#   - the Monte Carlo path end to end: a webhook opens an incident on a
#     source table -> every downstream asset lists it under
#     incidents.upstream; the resolved delivery clears it;
#   - changes made while no walker runs are caught up from the log by
#     cursor when it starts;
#   - `sluice lineage recompute --dry-run` then finds nothing to change,
#     and finds (and repairs) a copy removed behind the walker's back.
source "$(dirname "$0")/lib.bash"

IN=$(free_port) || fail "no free port"
API=$(free_port) || fail "no free port"
ADM=$(free_port) || fail "no free port"
FX="$SL_SOURCE_DIR/tests/adapters/signature"
P=snowflake://acme-prod/analytics/orders
FCT="$P/fct_orders"
MART="$P/mart_orders"
DASH=tableau://acme/sales/orders
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
FCT_E=$(enc "$FCT")
MART_E=$(enc "$MART")
DASH_E=$(enc "$DASH")

topo() { # FILE WITH_WALKER
    {
        cat <<YAML
version: 1
name: lineage-walker
store: { path: $T/store }
admin: 127.0.0.1:$ADM
actors:
  http:
    kind: http_ingest
    listen: 127.0.0.1:$IN
    tenant: acme
    montecarlo_token: tok-9
    mapping: { prefix: "snowflake://acme-prod/", connection_type: snowflake }
  api: { kind: http_api, listen: 127.0.0.1:$API }
YAML
        if [ "$2" = 1 ]; then
            cat <<YAML
  store: { kind: store, inputs: [http, walker], fsync: false }
  walker:
    kind: lineage_walker
    inputs: [store.changes]
    policy: { "*": { tags: all, incidents: true, owners: true } }
    round_ops: 2      # every closure here is handed out over several rounds
    workers: 2        # pairs split by source between two walkers
YAML
        else
            echo "  store: { kind: store, inputs: [http], fsync: false }"
        fi
    } >"$1"
}
topo "$T/walk.yaml" 1
topo "$T/nowalk.yaml" 0
"$SLUICE" check "$T/walk.yaml" >/dev/null || fail "topology invalid"

B="http://127.0.0.1:$IN"
Q="http://127.0.0.1:$API"
up() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "$B/v1/events" 2>/dev/null)" = 415 ]; }
send() { # NDJSON lines on stdin
    local code
    code=$(curl -s -m 10 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
        --data-binary @- "$B/v1/events" 2>/dev/null) || code=000
    [ "$code" = 202 ] || fail "POST /v1/events: $code $(cat "$T/post.body")"
}
ev() { printf '{"tenant":"acme","kind":"%s","body":%s}\n' "$1" "$2"; }
asset() { curl -s -m 5 -H 'X-Tenant-ID: acme' "$Q/v1/assets/$1" 2>/dev/null; }
# jq-free checks with python: has_tag ENC TAG SOURCE DEPTH (DEPTH 0 = absent)
has_tag() {
    asset "$1" | python3 -c '
import json, sys
tag, src, depth = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    a = json.load(sys.stdin)
except Exception:
    sys.exit(1)
got = 0
for t in a.get("tags", []):
    if t["name"] == tag:
        for s in t.get("sources", []):
            if s["qualified_name"] == src:
                got = s["path_length"]
sys.exit(0 if got == depth else 1)' "$2" "$3" "$4"
}
upstream() { # ENC INCIDENT_ID COUNT
    asset "$1" | python3 -c '
import json, sys
inc, n = sys.argv[1], int(sys.argv[2])
try:
    a = json.load(sys.stdin)
except Exception:
    sys.exit(1)
ups = [u for u in a["incidents"]["upstream"] if u["external_id"] == inc]
sys.exit(0 if len(ups) == n else 1)' "$2" "$3"
}

# --- 1. without a walker: lineage and a tag land, nothing propagates
start nowalk run "$T/nowalk.yaml"
PID=$LAST_PID
wait_for 30 up || fail "ingest not listening"
{
    ev lineage.edge "{\"from\":\"$FCT\",\"to\":\"$MART\"}"
    ev lineage.edge "{\"from\":\"$MART\",\"to\":\"$DASH\"}"
    ev tag.set "{\"qualified_name\":\"$FCT\",\"tag\":\"pii\"}"
} | send
wait_for 30 bash -c "curl -s -m 2 -H 'X-Tenant-ID: acme' '$Q/v1/assets/$FCT_E' | grep -q '\"pii\"'" ||
    fail "tag not stored"
has_tag "$DASH_E" pii "$FCT" 2 && fail "propagated without a walker"
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit"

# --- 2. the walker starts and catches up from the log
start walk run "$T/walk.yaml"
PID=$LAST_PID
wait_for 30 up || fail "ingest not listening (walker run)"
wait_for 30 has_tag "$DASH_E" pii "$FCT" 2 || fail "catch-up did not propagate pii to the dashboard: $(asset "$DASH_E")"
has_tag "$MART_E" pii "$FCT" 1 || fail "mart: $(asset "$MART_E")"

# the walker's own kinds are refused from outside (a forged copy or fence)
CODE=$(curl -s -m 5 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data '{"kind":"propagation.fence","body":{"consumer":"walker/0","token":1}}' "$B/v1/events") || CODE=000
[ "$CODE" = 400 ] || fail "internal kind accepted: $CODE $(cat "$T/post.body")"
grep -q '"code":"internal_kind"' "$T/post.body" || fail "internal kind reply: $(cat "$T/post.body")"

# provenance: the path fct -> mart -> dash
curl -s -m 5 -H 'X-Tenant-ID: acme' "$Q/v1/assets/$DASH_E/provenance?tag=pii" >"$T/prov.json"
python3 - "$T/prov.json" "$FCT" "$MART" "$DASH" <<'PY' || fail "provenance: $(cat "$T/prov.json")"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["own"] is False
assert [x["path"] for x in p["paths"]] == [[sys.argv[2], sys.argv[3], sys.argv[4]]], p
PY
CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'X-Tenant-ID: acme' "$Q/v1/assets/$DASH_E/provenance")
[ "$CODE" = 400 ] || fail "provenance without tag: $CODE"

# --- 3. live: a new edge carries the tag further; a block stops it; unset retracts
{
    ev lineage.edge "{\"from\":\"$DASH\",\"to\":\"$P/export\"}"
    ev owner.set "{\"qualified_name\":\"$FCT\",\"owners\":[\"data-eng\"]}"
} | send
wait_for 30 has_tag "$(enc "$P/export")" pii "$FCT" 3 || fail "new edge did not carry pii"
ev block.set "{\"qualified_name\":\"$MART\",\"tag\":\"pii\"}" | send
wait_for 30 has_tag "$DASH_E" pii "$FCT" 0 || fail "block did not stop pii: $(asset "$DASH_E")"
has_tag "$MART_E" pii "$FCT" 0 || fail "blocked asset still has pii"
asset "$DASH_E" | grep -q '"owner":"data-eng"' || fail "owner not propagated: $(asset "$DASH_E")"
ev block.unset "{\"qualified_name\":\"$MART\",\"tag\":\"pii\"}" | send
wait_for 30 has_tag "$DASH_E" pii "$FCT" 2 || fail "unblock did not restore pii"

# --- 4. Monte Carlo: webhook opens an incident on fct_orders -> upstream downstream
INC=6c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e
CODE=$(curl -s -m 10 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$FX/webhook_anomaly_open.json" "$B/v1/webhooks/montecarlo/tok-9") || CODE=000
[ "$CODE" = 202 ] || fail "webhook: $CODE $(cat "$T/post.body")"
wait_for 30 upstream "$DASH_E" "$INC" 1 || fail "incident not upstream of the dashboard: $(asset "$DASH_E")"
upstream "$MART_E" "$INC" 1 || fail "incident not upstream of the mart"
asset "$FCT_E" | grep -q "\"open\":\[{" || fail "incident not open on its own table"
# resolved (same incident, a later delivery)
python3 - "$FX/webhook_anomaly_open.json" >"$T/resolved.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["payload"]["alert_feedback"] = "fixed"
print(json.dumps(d))
PY
CODE=$(curl -s -m 10 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$T/resolved.json" "$B/v1/webhooks/montecarlo/tok-9") || CODE=000
[ "$CODE" = 202 ] || fail "resolve webhook: $CODE $(cat "$T/post.body")"
wait_for 30 upstream "$DASH_E" "$INC" 0 || fail "resolved incident still upstream: $(asset "$DASH_E")"

# --- metrics: the walker's rounds and copies are counted
curl -s -m 5 "http://127.0.0.1:$ADM/metrics" >"$T/metrics.txt" || fail "no /metrics"
grep -Eq '^sluice_propagation_copies_total\{actor="walker",op="set"\} [1-9]' "$T/metrics.txt" ||
    fail "copies not counted: $(grep propagation "$T/metrics.txt")"
grep -Eq '^sluice_propagation_rounds_total\{actor="walker"\} [1-9]' "$T/metrics.txt" ||
    fail "rounds not counted"

# --- 5. unset retracts everywhere
ev tag.unset "{\"qualified_name\":\"$FCT\",\"tag\":\"pii\"}" | send
wait_for 30 has_tag "$DASH_E" pii "$FCT" 0 || fail "unset did not retract"
has_tag "$(enc "$P/export")" pii "$FCT" 0 || fail "unset left a copy further down"
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit"
[ "$RC" = 0 ] || fail "exit status $RC"

# cursors: the two walkers' and their marks; a removed follower can be dropped
"$SLUICE" store cursors "$T/walk.yaml" >"$T/cursors.out" || fail "store cursors"
grep -q '^acme walker/0 [0-9]' "$T/cursors.out" || fail "cursors: $(cat "$T/cursors.out")"
grep -q '^acme walker/1 [0-9]' "$T/cursors.out" || fail "cursors: $(cat "$T/cursors.out")"
grep -q '^acme \.fence/walker/0 [0-9]* mark$' "$T/cursors.out" || fail "marks: $(cat "$T/cursors.out")"
"$SLUICE" store cursors "$T/walk.yaml" --drop walker/1 | grep -q '^acme walker/1 dropped$' ||
    fail "drop"
"$SLUICE" store cursors "$T/walk.yaml" | grep -q '^acme walker/1 ' && fail "walker/1 still listed"

# --- 6. recompute: consistent; then a copy removed behind its back is found and repaired
"$SLUICE" lineage recompute "$T/walk.yaml" --dry-run >"$T/rc.out" 2>"$T/rc.err" ||
    fail "dry run found differences: $(cat "$T/rc.out" "$T/rc.err")"
grep -q "0 difference" "$T/rc.err" || fail "dry run summary: $(cat "$T/rc.err")"
ev tag.set "{\"qualified_name\":\"$FCT\",\"tag\":\"gold\"}" >"$T/late.jsonl"
cat >"$T/late.yaml" <<YAML
version: 1
name: late
store: { path: $T/store }
actors:
  in: { kind: jsonl_in, path: $T/late.jsonl }
  store: { kind: store, inputs: [in], fsync: false }
  walker:
    kind: lineage_walker
    inputs: [store.changes]
    policy: { "*": { tags: all, incidents: true, owners: true } }
YAML
set +e
"$SLUICE" lineage recompute "$T/late.yaml" --dry-run >"$T/rc.out" 2>"$T/rc.err"
RC=$?
set -e
[ "$RC" = 0 ] || fail "before the late tag: $RC $(cat "$T/rc.out")"
# apply the tag without any walker: the copies are now missing
start late run "$T/nowalk.yaml"
PID=$LAST_PID
wait_for 30 up || fail "ingest not listening (late)"
ev tag.set "{\"qualified_name\":\"$FCT\",\"tag\":\"gold\"}" | send
wait_for 30 bash -c "curl -s -m 2 -H 'X-Tenant-ID: acme' '$Q/v1/assets/$FCT_E' | grep -q '\"gold\"'" ||
    fail "gold not stored"
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit (late)"
set +e
"$SLUICE" lineage recompute "$T/late.yaml" --dry-run >"$T/rc.out" 2>"$T/rc.err"
RC=$?
set -e
[ "$RC" = 1 ] || fail "dry run did not report the missing copies: $RC"
grep -q "^set   acme $DASH tag:gold from $FCT (path 2 via $MART)" "$T/rc.out" ||
    fail "difference line: $(cat "$T/rc.out")"
"$SLUICE" lineage recompute "$T/late.yaml" >"$T/rc.out" 2>"$T/rc.err" || fail "repair failed"
"$SLUICE" lineage recompute "$T/late.yaml" --dry-run >/dev/null 2>&1 || fail "still different after the repair"
echo "ok"
