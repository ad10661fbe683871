#!/usr/bin/env bash
# The adapter routes of http_ingest with the real binary: Monte Carlo
# webhooks (x-mcd-signature over the raw body; the URL token), the same
# delivery 3 times -> one incident and one change, the update that
# acknowledges it, 401 for a bad signature or token, an unmappable table
# dead-lettered (never dropped), and an OpenLineage RunEvent at
# /api/v1/lineage -> lineage readable through the query API; 400 naming
# the missing field.
source "$(dirname "$0")/lib.bash"

IN=$(free_port) || fail "no free port"
IN2=$(free_port) || fail "no free port"
API=$(free_port) || fail "no free port"
FX="$SL_SOURCE_DIR/tests/adapters"
SECRET=mc-webhook-secret-7f3e
cat >"$T/topo.yaml" <<YAML
version: 1
name: ingest-adapters
store: { path: $T/store }
actors:
  http:
    kind: http_ingest
    listen: 127.0.0.1:$IN
    tenant: acme
    montecarlo_secret: $SECRET
    montecarlo_token: tok-3f9a
    mapping: { prefix: "snowflake://acme-prod/", connection_type: snowflake }
  nomap: { kind: http_ingest, listen: 127.0.0.1:$IN2, tenant: acme, montecarlo_token: tok-2 }
  store: { kind: store, inputs: [http, nomap] }
  api:   { kind: http_api, listen: 127.0.0.1:$API }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "topology invalid"
start run run "$T/topo.yaml"
PID=$LAST_PID
B="http://127.0.0.1:$IN"
Q="http://127.0.0.1:$API"

post() { # URL FILE [HEADER...]: CODE, body in $T/post.body
    local url=$1 file=$2
    shift 2
    local h=()
    for x in "$@"; do h+=(-H "$x"); done
    CODE=$(curl -s -m 10 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/json' \
        "${h[@]}" --data-binary "@$file" "$url" 2>/dev/null) || CODE=000
}
pbody() { cat "$T/post.body"; }
get() { CODE=$(curl -s -m 5 -H 'X-Tenant-ID: acme' -o "$T/http.body" -w '%{http_code}' "$Q$1" 2>/dev/null) || CODE=000; }
has() { grep -q -F -- "$1" "$T/http.body"; }
up() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "$1/v1/events" 2>/dev/null)" = 415 ]; }
wait_for 30 up "$B" || fail "ingest not listening"
wait_for 30 up "http://127.0.0.1:$IN2" || fail "second ingest not listening"

# the raw-body signature of the anomaly fixture (tests/adapters/signature)
SIG=$(grep -o '"raw_body_signature": "[0-9a-f]*"' "$FX/signature/signature_vectors.json" | head -1 | grep -o '[0-9a-f]\{128\}')
OPEN="$FX/signature/webhook_anomaly_open.json"
ACK="$FX/signature/webhook_update_ack.json"
INC=6c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e
FCT='snowflake%3A%2F%2Facme-prod%2Fanalytics%2Forders%2Ffct_orders'

# --- signature: missing, wrong, right
post "$B/v1/webhooks/montecarlo" "$OPEN"
[ "$CODE" = 401 ] || fail "no signature: $CODE $(pbody)"
post "$B/v1/webhooks/montecarlo" "$OPEN" "x-mcd-signature: ${SIG/0/1}"
[ "$CODE" = 401 ] || fail "bad signature: $CODE $(pbody)"
post "$B/v1/webhooks/montecarlo" "$OPEN" "x-mcd-signature: $SIG"
[ "$CODE" = 202 ] || fail "signed delivery: $CODE $(pbody)"
ID=$(grep -o '"ids":\["[0-9a-f-]*"' "$T/post.body" | grep -o '[0-9a-f-]\{36\}')
[ -n "$ID" ] || fail "no id in $(pbody)"
# delivered twice more: the same id (the store drops the copies)
for k in 2 3; do
    post "$B/v1/webhooks/montecarlo" "$OPEN" "x-mcd-signature: $SIG"
    [ "$CODE" = 202 ] || fail "delivery $k: $CODE"
    grep -q "\"$ID\"" "$T/post.body" || fail "delivery $k: another id: $(pbody)"
done
open_inc() { get "/v1/incidents?status=open" && [ "$CODE" = 200 ] && has "$INC"; }
wait_for 20 open_inc || fail "incident not open: $CODE $(cat "$T/http.body")"
has 'snowflake://acme-prod/analytics/orders/fct_orders' || fail "incident not on fct_orders: $(cat "$T/http.body")"

# --- the token route: wrong token, then the acknowledging update
post "$B/v1/webhooks/montecarlo/wrong" "$ACK"
[ "$CODE" = 401 ] || fail "bad token: $CODE"
post "$B/v1/webhooks/montecarlo/tok-3f9a" "$ACK"
[ "$CODE" = 202 ] || fail "token delivery: $CODE $(pbody)"
acked() { get "/v1/incidents?status=acknowledged" && has "$INC"; }
wait_for 20 acked || fail "incident not acknowledged: $(cat "$T/http.body")"
# one incident, and the three identical deliveries made one incident change
# (the first delivery also made the unknown table a placeholder asset)
get "/v1/changes?after=0&limit=1000"
[ "$(grep -o "\"event_id\":\"$ID\",\"entity\":\"incident\"" "$T/http.body" | wc -l)" = 1 ] ||
    fail "3 deliveries: not one incident change"
[ "$(grep -o "\"event_id\":\"$ID\"" "$T/http.body" | wc -l)" = 2 ] ||
    fail "3 deliveries: not one incident change plus one placeholder asset"
get "/v1/incidents?limit=100"
[ "$(grep -o "\"external_id\":\"$INC\"" "$T/http.body" | wc -l)" = 1 ] || fail "not one incident: $(cat "$T/http.body")"

# --- not JSON: 400 naming the problem; wrong content type: 415
printf 'not json' >"$T/bad.json"
post "$B/v1/webhooks/montecarlo/tok-3f9a" "$T/bad.json"
[ "$CODE" = 400 ] || fail "not json: $CODE"
CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' --data-binary "@$OPEN" "$B/v1/webhooks/montecarlo/tok-3f9a") || CODE=000
[ "$CODE" = 415 ] || fail "text/plain webhook: $CODE"

# --- no mapping rule for the table: dead-lettered, not dropped
post "http://127.0.0.1:$IN2/v1/webhooks/montecarlo/tok-2" "$OPEN"
[ "$CODE" = 202 ] || fail "unmappable: $CODE $(pbody)"
grep -q '"dead_letter":".*no mapping rule' "$T/post.body" || fail "unmappable reply: $(pbody)"
dead() {
    "$SLUICE" store stats "$T/topo.yaml" >"$T/stats" 2>/dev/null && grep -q '"dead_letters": *[1-9]' "$T/stats"
}
wait_for 20 dead || fail "no dead letter in the store: $(cat "$T/stats")"

# --- OpenLineage: a RunEvent -> job, datasets and edges; 400 names the field
post "$B/api/v1/lineage" "$FX/openlineage/run_complete.json"
[ "$CODE" = 202 ] || fail "openlineage: $CODE $(pbody)"
lineage() { get "/v1/assets/$FCT/lineage?direction=up" && [ "$CODE" = 200 ] && has "stg_orders"; }
wait_for 20 lineage || fail "lineage not readable: $CODE $(cat "$T/http.body")"
post "$B/api/v1/lineage" "$FX/openlineage/err_missing_producer.json"
[ "$CODE" = 400 ] || fail "missing producer: $CODE"
grep -q "field 'producer'" "$T/post.body" || fail "400 does not name the field: $(pbody)"

kill -TERM "$PID"
wait_exit "$PID" 20 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
echo "ok: Monte Carlo (signature, token, 3 deliveries -> 1 change, update, dead letter), OpenLineage"
