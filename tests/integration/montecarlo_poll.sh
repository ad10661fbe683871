#!/usr/bin/env bash
# montecarlo_poll and `sluice backfill montecarlo` against the mock Monte
# Carlo GraphQL API serving the fixture pages (tools/mock/mock_montecarlo):
# the 3 incidents of the 2 pages land in the store; a 429 is retried; a
# webhook update with a newer updated_at wins over the polled version and
# a later re-poll or back-fill of the older version does not undo it; the
# watermark persists across a restart and the second run changes nothing;
# 401 gives one clear log line and no more requests; the back-fill command applies the same incidents to a fresh
# store (identical records) and nothing twice.
source "$(dirname "$0")/lib.bash"

MOCK="${SL_BUILD_DIR:?}/mock_montecarlo"
[ -x "$MOCK" ] || fail "no mock at $MOCK"
FX="$SL_SOURCE_DIR/tests/adapters/graphql"
export MC_ID=mc-key-id-4b1e
printf 'mc-token-9a7c\n' >"$T/mc_token"
INC1=6c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e

# mock NAME ARGS...: start a mock server; sets MOCK_PORT and MOCK_PID.
MOCKS=()
mock() {
    local name=$1
    shift
    "$MOCK" serve --fixtures "$FX" "$@" >"$T/$name.out" 2>"$T/$name.log" &
    MOCK_PID=$!
    PIDS+=("$MOCK_PID")
    MOCKS+=("$MOCK_PID")
    wait_for 10 log_has "$T/$name.out" '^port [0-9]+' || fail "$name did not start"
    MOCK_PORT=$(awk '/^port/ {print $2}' "$T/$name.out")
}

# topo FILE STORE PORT INTERVAL [EXTRA YAML LINES]
topo() {
    cat >"$1" <<YAML
version: 1
name: montecarlo-poll
store: { path: $2 }
actors:
  mc:
    kind: montecarlo_poll
    url: http://127.0.0.1:$3/graphql
    api_id: "\${MC_ID}"
    api_token: file:$T/mc_token
    interval: $4
    page_size: 2
    lookback: 0s
    tenant: acme
    mapping: { prefix: "snowflake://acme-prod/", connection_type: snowflake }
  store: { kind: store, inputs: [${5:-mc}], fsync: false }
${6:-}
YAML
    "$SLUICE" check "$1" >/dev/null 2>"$T/check.log" || fail "topology $1 invalid: $(cat "$T/check.log")"
}

incidents() { # FILE: the incidents of tenant acme, one JSON document
    "$SLUICE" query "$1" incidents --tenant acme
}
count() { # FILE
    incidents "$1" | jq '.items | length'
}
last_seq() { # FILE
    "$SLUICE" query "$1" changes --tenant acme --limit 1000 | jq '.last_seq'
}
stop() { # PID
    kill -TERM "$1"
    wait_exit "$1" 30 || fail "no exit after SIGTERM"
    [ "$RC" = 0 ] || fail "exit status $RC after SIGTERM"
}

# --- 1. poll at start, a 429 retried, 2 pages -> 3 incidents -------------
mock mock1 --id "$MC_ID" --token mc-token-9a7c --fail 429:1
M1=$MOCK_PORT
IN=$(free_port) || fail "no free port"
topo "$T/a.yaml" "$T/store-a" "$M1" 1h mc,http \
    "  http: { kind: http_ingest, listen: 127.0.0.1:$IN, tenant: acme, montecarlo_token: tok-1, mapping: { prefix: \"snowflake://acme-prod/\", connection_type: snowflake } }"
start run1 run "$T/a.yaml"
PID=$LAST_PID
wait_for 30 log_has "$T/run1.log" 'poll: 2 pages, 3 incidents, 3 events' || fail "no completed poll"
log_has "$T/run1.log" 'answered 429; retry 1 in [0-9]+ ms' || fail "no retry line for the 429"
log_has "$T/mock1.log" 'request 1: 429' || fail "the mock did not inject the 429"
wait_for 10 test "$(count "$T/a.yaml")" = 3 || fail "expected 3 incidents: $(incidents "$T/a.yaml")"
incidents "$T/a.yaml" >"$T/polled.json"
grep -q '"qualified_names": *\["snowflake://acme-prod/analytics/orders/fct_orders"\]' "$T/polled.json" ||
    fail "incident not on fct_orders: $(cat "$T/polled.json")"
grep -q '"status": *"resolved"' "$T/polled.json" || fail "FIXED incident not resolved"
grep -q '"severity": *"SEV-1"' "$T/polled.json" || fail "SEV_1 not mapped to SEV-1"
grep -q '"type": *"SCHEMA_CHANGES"' "$T/polled.json" || fail "no incident type"
grep -q '"watermark": *"2026-11-25T09:30:00.000000Z"' "$T/store-a/mc.montecarlo_poll.json" ||
    fail "watermark not persisted: $(cat "$T/store-a/mc.montecarlo_poll.json")"
grep -q "$MC_ID\|mc-token-9a7c" "$T/run1.log" && fail "a secret is in the log"

# --- 2. a webhook update with a newer updated_at wins, one record -------
hook() { # UPDATED_AT FEEDBACK
    cat >"$T/hook.json" <<JSON
{"account":{"id":"3f9a2c1e-8b7d-4e21-9c55-0a6b7d8e9f10"},"action":"incident","type":"open_anomaly_incident","version":"v0.1",
 "payload":{"incident_id":"$INC1","alert_feedback":$2,"owner":"sam.ito@example.com","updated_at":"$1",
            "event_list":[{"event_details":"Has 42 rows vs. 101 expected","table_name":"analytics:orders.fct_orders"}]}}
JSON
    curl -s -m 5 -o "$T/hook.body" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @"$T/hook.json" "http://127.0.0.1:$IN/v1/webhooks/montecarlo/tok-1" || true
}
inc1() { # FIELD: a field of incident INC1 in store a
    incidents "$T/a.yaml" | jq -r --arg id "$INC1" ".items[] | select(.external_id == \$id) | .$1"
}
inc1_resolved() {
    [ "$(inc1 status)" = resolved ] && [ "$(inc1 owner)" = sam.ito@example.com ]
}
[ "$(inc1 status)" = acknowledged ] || fail "INVESTIGATING incident not acknowledged: $(inc1 status)"
code=$(hook 2026-11-25T10:00:00Z '"fixed"')
[ "$code" = 202 ] || fail "webhook: $code $(cat "$T/hook.body")"
wait_for 10 inc1_resolved || fail "newer webhook update did not win: $(incidents "$T/a.yaml")"
[ "$(incidents "$T/a.yaml" | jq '.items | length')" = 3 ] || fail "webhook and poll made two records"
stop "$PID"

# --- 3. restart: resumes from the persisted watermark, changes nothing ---
seq1=$(last_seq "$T/a.yaml")
start run2 run "$T/a.yaml"
PID=$LAST_PID
wait_for 10 log_has "$T/run2.log" 'watermark 2026-11-25T09:30:00.000000Z, first poll from' ||
    fail "the restart did not read the watermark"
wait_for 30 log_has "$T/run2.log" 'poll: [0-9]+ pages' || fail "no poll after restart"
stop "$PID"
[ "$(last_seq "$T/a.yaml")" = "$seq1" ] || fail "second run changed the store: $seq1 -> $(last_seq "$T/a.yaml")"
[ "$(count "$T/a.yaml")" = 3 ] || fail "second run: not 3 incidents"
inc1_resolved || fail "the re-polled older version overwrote the webhook's newer one"

# --- 4. 401: one clear line, no retry storm ------------------------------
mock mock401 --fail 401
topo "$T/b.yaml" "$T/store-b" "$MOCK_PORT" 1s
start run401 run "$T/b.yaml"
PID=$LAST_PID
wait_for 20 log_has "$T/run401.log" 'answered 401 Unauthorized: check api_id and api_token' ||
    fail "no clear 401 line"
# With interval 1s a retrying actor would have asked again within 1 s:
# keep looking for 3 s that it does not.
end=$((SECONDS + 3))
while [ "$SECONDS" -lt "$end" ]; do
    n=$(grep -c 'request [0-9]*: 401' "$T/mock401.log" || true)
    [ "$n" = 1 ] || fail "401 retried: $n requests"
    sleep 0.1
done
[ "$(grep -c 'answered 401' "$T/run401.log")" = 1 ] || fail "the 401 line repeats"
stop "$PID"

# --- 5. sluice backfill montecarlo: same incidents, nothing twice --------
mock mock2 --id "$MC_ID" --token mc-token-9a7c
topo "$T/c.yaml" "$T/store-c" "$MOCK_PORT" 1h
"$SLUICE" backfill montecarlo "$T/c.yaml" --since 2026-11-25T00:00:00Z >"$T/bf1.out" 2>"$T/bf1.log" ||
    fail "backfill failed: $(cat "$T/bf1.log")"
grep -q '3 incidents, 3 events: 3 changed, 0 unchanged, 0 duplicates, 0 dead letters' "$T/bf1.out" ||
    fail "backfill summary: $(cat "$T/bf1.out")"
incidents "$T/c.yaml" >"$T/backfilled.json"
cmp -s "$T/polled.json" "$T/backfilled.json" ||
    fail "back-filled incidents differ from polled ones: $(diff "$T/polled.json" "$T/backfilled.json")"
"$SLUICE" backfill montecarlo "$T/c.yaml" --since 2026-11-25T00:00:00Z >"$T/bf2.out" 2>"$T/bf2.log" ||
    fail "second backfill failed: $(cat "$T/bf2.log")"
grep -q '0 changed, 0 unchanged, 3 duplicates' "$T/bf2.out" || fail "second backfill: $(cat "$T/bf2.out")"
# into the store that has the newer webhook version: nothing changes
topo "$T/a2.yaml" "$T/store-a" "$MOCK_PORT" 1h
"$SLUICE" backfill montecarlo "$T/a2.yaml" --since 24h >"$T/bf3.out" 2>"$T/bf3.log" ||
    fail "backfill into a failed: $(cat "$T/bf3.log")"
grep -q ' 0 changed' "$T/bf3.out" || fail "backfill over newer data changed it: $(cat "$T/bf3.out")"
inc1_resolved || fail "backfill overwrote the newer webhook version"
# a usage error
rc=0
"$SLUICE" backfill montecarlo "$T/c.yaml" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "missing --since: exit $rc, expected 2"
for p in "${MOCKS[@]}"; do
    kill -TERM "$p"
    wait_exit "$p" 10 || fail "mock $p did not stop"
done
echo "ok"
