#!/usr/bin/env bash
# Monte Carlo names through the GraphQL API (getTable) with the real binary
# and the mock Monte Carlo (tools/mock/mock_montecarlo). The mapping has a
# rule for the connection type snowflake only, so the rules alone cannot
# map an MCON (its warehouse uuid has no rule):
#  - http: a webhook naming an MCON is attached to the right asset through
#    getTable; its first request gets a 429 (retried); 3 deliveries and a
#    second incident on the same table cost exactly one getTable;
#  - an MCON Monte Carlo does not know: 202 with the dead letter's reason,
#    and the dead letter in the store;
#  - http401: the API refuses the credentials: one clear error line, both
#    deliveries dead-lettered with the reason, exactly one request;
#  - plain: no montecarlo_api option: the rules decide (a dead letter);
#  - mc: montecarlo_poll with resolve {lookup: always}: every MCON of the
#    incident pages looked up once, the incidents on the right assets.
source "$(dirname "$0")/lib.bash"

MOCK="${SL_BUILD_DIR:?}/mock_montecarlo"
[ -x "$MOCK" ] || fail "no mock at $MOCK"
FX="$SL_SOURCE_DIR/tests/adapters/graphql"
export MC_ID=mc-key-id-4b1e
printf 'mc-token-9a7c\n' >"$T/mc_token"
ACCT=3f9a2c1e-8b7d-4e21-9c55-0a6b7d8e9f10
WH=b7e1c2d3-0000-4000-8000-00000000abcd
MCON_A="MCON++$ACCT++$WH++table++analytics:orders.fct_orders"
MCON_X="MCON++$ACCT++$WH++table++analytics:orders.no_such_table"

mock() { # NAME ARGS...: sets MOCK_PORT
    local name=$1
    shift
    "$MOCK" serve --fixtures "$FX" "$@" >"$T/$name.out" 2>"$T/$name.log" &
    PIDS+=("$!")
    wait_for 10 log_has "$T/$name.out" '^port [0-9]+' || fail "$name did not start"
    MOCK_PORT=$(awk '/^port/ {print $2}' "$T/$name.out")
}
mock good --id "$MC_ID" --token mc-token-9a7c --fail 429:1
GOOD=$MOCK_PORT
mock refusing --id "$MC_ID" --token mc-token-9a7c --fail 401
REFUSING=$MOCK_PORT

IN=$(free_port) || fail "no free port"
IN2=$(free_port) || fail "no free port"
IN3=$(free_port) || fail "no free port"
API=$(free_port) || fail "no free port"
[ "$(printf '%s\n' "$IN" "$IN2" "$IN3" "$API" | sort -u | wc -l)" = 4 ] || fail "port clash: rerun"
MAP='{ warehouses: { snowflake: { prefix: "snowflake://acme-prod/" } } }'
api() { # PORT
    echo "{ url: \"http://127.0.0.1:$1/graphql\", api_id: \"\${MC_ID}\", api_token: \"file:$T/mc_token\", ttl: 1h, cache_size: 100, timeout: 5s }"
}
cat >"$T/topo.yaml" <<YAML
version: 1
name: montecarlo-resolve
store: { path: $T/store }
actors:
  http:    { kind: http_ingest, listen: 127.0.0.1:$IN, tenant: acme, montecarlo_token: tok-1, mapping: $MAP, montecarlo_api: $(api "$GOOD") }
  http401: { kind: http_ingest, listen: 127.0.0.1:$IN2, tenant: acme, montecarlo_token: tok-2, mapping: $MAP, montecarlo_api: $(api "$REFUSING") }
  plain:   { kind: http_ingest, listen: 127.0.0.1:$IN3, tenant: acme, montecarlo_token: tok-3, mapping: $MAP }
  mc:
    kind: montecarlo_poll
    url: http://127.0.0.1:$GOOD/graphql
    api_id: "\${MC_ID}"
    api_token: file:$T/mc_token
    interval: 1h
    lookback: 0s
    tenant: acme
    mapping: $MAP
    resolve: { lookup: always }
  store:   { kind: store, inputs: [http, http401, plain, mc], fsync: false }
  query:   { kind: http_api, listen: 127.0.0.1:$API }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null 2>"$T/check.log" || fail "topology invalid: $(cat "$T/check.log")"

# a bad option is a topology error at its key
sed 's/ttl: 1h, cache_size: 100/tll: 1h, cache_size: 100/' "$T/topo.yaml" >"$T/bad.yaml"
! "$SLUICE" check "$T/bad.yaml" >/dev/null 2>"$T/bad.log" || fail "check took an unknown key"
# (the option holds secrets, so the loader names the position, not the reason)
col=$(awk 'NR == 5 { print index($0, "tll: 1h") + 5 }' "$T/bad.yaml") # its value
grep -q "bad.yaml:5:$col: actor 'http', option 'montecarlo_api': invalid value" "$T/bad.log" ||
    fail "bad option not reported at its key (5:$col): $(cat "$T/bad.log")"

start run run "$T/topo.yaml"
PID=$LAST_PID
up() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API/v1/incidents" -H 'X-Tenant-ID: acme' 2>/dev/null)" = 200 ]; }
wait_for 30 up || fail "query API not up"

hook() { # FILE INCIDENT_ID MCON
    printf '{"account": {"id": "%s"}, "action": "incident", "type": "open_anomaly_incident", "version": "v0.1", "payload": {"incident_id": "%s", "url": "https://getmontecarlo.com/incidents/%s", "event_list": [{"event_details": "Has 42 rows vs. 101 expected", "mcon": "%s"}]}}\n' \
        "$ACCT" "$2" "$2" "$3" >"$1"
}
post() { # PORT TOKEN FILE: status in CODE, body in $T/post.body
    CODE=$(curl -s -m 20 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "@$3" "http://127.0.0.1:$1/v1/webhooks/montecarlo/$2" 2>/dev/null) || CODE=000
}
INC1=5a0e7c3b-1d2f-4e5a-8b6c-7d8e9f0a1b2c
INC2=6b1f8d4c-2e3a-4f6b-9c7d-8e9f0a1b2c3d
INC3=7c2a9e5d-3f4b-4a7c-8d8e-9f0a1b2c3d4e
hook "$T/h1.json" "$INC1" "$MCON_A"
hook "$T/h2.json" "$INC2" "$MCON_A"
hook "$T/hx.json" "$INC3" "$MCON_X"

# --- http: through getTable, the first request a 429 retried; 4 deliveries, one look-up
for f in h1 h1 h1 h2; do
    post "$IN" tok-1 "$T/$f.json"
    [ "$CODE" = 202 ] || fail "$f: $CODE $(cat "$T/post.body")"
    ! grep -q dead_letter "$T/post.body" || fail "$f dead-lettered: $(cat "$T/post.body")"
done
QN='snowflake%3A%2F%2Facme-prod%2Fanalytics%2Forders%2Ffct_orders'
asset_has() { # INCIDENT...
    curl -s -m 5 -H 'X-Tenant-ID: acme' "http://127.0.0.1:$API/v1/assets/$QN" >"$T/asset.json" || return 1
    for i in "$@"; do grep -q "$i" "$T/asset.json" || return 1; done
}
wait_for 20 asset_has "$INC1" "$INC2" || fail "incidents not on the asset: $(cat "$T/asset.json")"
gets() { grep -c "getTable mcon=$1\$" "$T/good.log" || true; }
[ "$(gets "$MCON_A")" -ge 1 ] || fail "no getTable for the MCON: $(cat "$T/good.log")"
log_has "$T/run.log" '"actor":"(http|mc)".*answered 429; retry 1 in [0-9]+ ms' || fail "no retry line for the 429"

# --- an MCON Monte Carlo does not know: a dead letter with the reason
post "$IN" tok-1 "$T/hx.json"
[ "$CODE" = 202 ] || fail "unknown MCON: $CODE $(cat "$T/post.body")"
grep -q '"dead_letter":".*no mapping rule maps it; getTable: Monte Carlo has no table with this MCON: Object not found' "$T/post.body" ||
    fail "unknown MCON reply: $(cat "$T/post.body")"
[ "$(gets "$MCON_X")" = 1 ] || fail "getTable for the unknown MCON: $(gets "$MCON_X") requests"
post "$IN" tok-1 "$T/hx.json" # the negative answer is cached
[ "$(gets "$MCON_X")" = 1 ] || fail "the unknown MCON was asked again: $(gets "$MCON_X") requests"

# --- 401: one clear line, dead letters with the reason, one request
for f in h1 h2; do
    post "$IN2" tok-2 "$T/$f.json"
    [ "$CODE" = 202 ] || fail "401 $f: $CODE $(cat "$T/post.body")"
    grep -q '"dead_letter":".*getTable: the API answered 401 Unauthorized: check api_id and api_token' "$T/post.body" ||
        grep -q '"dead_letter":".*getTable: the API refused the credentials earlier (401/403)' "$T/post.body" ||
        fail "401 reply: $(cat "$T/post.body")"
done
[ "$(grep -c 'request [0-9]*: 401' "$T/refusing.log")" = 1 ] || fail "requests after a 401: $(cat "$T/refusing.log")"
[ "$(grep -c '"actor":"http401".*answered 401 Unauthorized: check api_id and api_token (x-mcd-id / x-mcd-token); name look-ups stopped' "$T/run.log")" = 1 ] ||
    fail "no single 401 line: $(grep 401 "$T/run.log")"
grep -q "mc-token-9a7c\|$MC_ID" "$T/run.log" && fail "a secret is in the log"

# --- no montecarlo_api: the rules decide, no request
post "$IN3" tok-3 "$T/h1.json"
[ "$CODE" = 202 ] || fail "plain: $CODE"
grep -q '"dead_letter":".*no mapping rule gives a prefix' "$T/post.body" || fail "plain reply: $(cat "$T/post.body")"
dead_letters() {
    "$SLUICE" store stats "$T/topo.yaml" >"$T/stats" 2>/dev/null && grep -q '"dead_letters": *5' "$T/stats"
}
wait_for 20 dead_letters || fail "expected 5 dead letters (2 unknown, 2 refused, 1 plain): $(cat "$T/stats")"

# --- montecarlo_poll, lookup always: each MCON of the pages once
polled() { log_has "$T/run.log" 'poll: 2 pages, 3 incidents, 3 events, 0 older skipped, 0 dead letters'; }
wait_for 30 polled || fail "no complete poll: $(grep '"actor":"mc"' "$T/run.log" | tail -3)"
for m in analytics:payments.stg_payments raw:shop.customers; do
    [ "$(gets "MCON++$ACCT++$WH++table++$m")" = 1 ] || fail "getTable for $m: $(gets "MCON++$ACCT++$WH++table++$m") requests"
done
# A: once by http, once by the poll (each actor its own cache)
[ "$(gets "$MCON_A")" = 2 ] || fail "getTable for fct_orders: $(gets "$MCON_A") requests, expected 2 (one per actor)"
inc_on() { # INCIDENT QUALIFIED_NAME
    curl -s -m 5 -H 'X-Tenant-ID: acme' "http://127.0.0.1:$API/v1/incidents?limit=100" |
        jq -e --arg id "$1" --arg qn "$2" '.items[] | select(.external_id == $id) | .qualified_names == [$qn]' >/dev/null
}
wait_for 20 inc_on 11f0e9d8-c7b6-4a59-8483-72615f4e3d2c snowflake://acme-prod/raw/shop/customers ||
    fail "polled incident not on raw/shop/customers"
wait_for 20 inc_on a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d snowflake://acme-prod/analytics/payments/stg_payments ||
    fail "polled incident not on analytics/payments/stg_payments"

kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
echo "ok: MCONs through getTable (cached, 429 retried), unknown -> dead letter, 401 -> one line and one request, no option -> no request, montecarlo_poll lookup always"
