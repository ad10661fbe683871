#!/usr/bin/env bash
# No loss through HTTP ingest (issue 4's test, scaled to CI time): 20,000
# events in NDJSON batches of 50 from 8 concurrent curl loops, while the
# process (http_ingest -> store, both fsync on) is killed with SIGKILL at 4
# random moments and restarted on the same journal and store. Clients retry
# a batch (same ids) until it gets a 2xx. At the end every event that got a
# 2xx is in the store exactly once: the change log holds each event id
# once (one asset.upsert = one change), and no other.
#   NOLOSS_CLIENTS, NOLOSS_BATCHES (per client), NOLOSS_BATCH, NOLOSS_KILLS
#   scale it (100,000 = 8 x 250 x 50).
source "$(dirname "$0")/lib.bash"

CLIENTS=${NOLOSS_CLIENTS:-8}
BATCHES=${NOLOSS_BATCHES:-50}
BATCH=${NOLOSS_BATCH:-50}
KILLS=${NOLOSS_KILLS:-4}
TOTAL=$((CLIENTS * BATCHES * BATCH))

IN=$(free_port) || fail "no free port"
API=$(free_port) || fail "no free port"
[ "$IN" != "$API" ] || API=$((IN + 1))
URL="http://127.0.0.1:$IN/v1/events"
Q="http://127.0.0.1:$API"

cat >"$T/topo.yaml" <<YAML
version: 1
name: ingest-noloss
store: { path: $T/store }
actors:
  http:  { kind: http_ingest, listen: 127.0.0.1:$IN, tenant: acme }
  store: { kind: store, inputs: [http] }
  api:   { kind: http_api, listen: 127.0.0.1:$API }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "topology invalid"

# every batch file up front: client c, batch b, event e has id
# 0190aaaa-00cc-7bbb-8eee-000000000000 (hex) and its own asset
mkdir -p "$T/b"
awk -v C="$CLIENTS" -v B="$BATCHES" -v E="$BATCH" -v dir="$T/b" 'BEGIN {
    for (c = 0; c < C; c++) for (b = 0; b < B; b++) {
        f = sprintf("%s/%d_%d.ndjson", dir, c, b)
        for (e = 0; e < E; e++) {
            printf "{\"id\":\"0190aaaa-%04x-7%03x-8%03x-000000000000\",\"kind\":\"asset.upsert\",\"time\":\"2026-11-25T08:00:00Z\",\"body\":{\"qualified_name\":\"snowflake://acme/noloss/c%d/b%d/e%d\",\"type\":\"table\"}}\n", c, b, e, c, b, e > f
        }
        close(f)
    }
}'

up() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "$URL" 2>/dev/null)" = 415 ]; }
run_node() {
    start "run$1" run "$T/topo.yaml"
    PID=$LAST_PID
    wait_for 30 up || fail "ingest not listening (start $1)"
}

# client C: post each batch until a 2xx (bounded), record the acked ids
client() {
    local c=$1 b code tries
    for b in $(seq 0 $((BATCHES - 1))); do
        tries=0
        while :; do
            code=$(curl -s -m 10 -o "$T/c$c.body" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
                --data-binary "@$T/b/${c}_$b.ndjson" "$URL" 2>/dev/null) || code=000
            case $code in
            2*)
                grep -o '"[0-9a-f-]\{36\}"' "$T/c$c.body" | tr -d '"' >>"$T/acked.$c"
                break
                ;;
            000 | 429 | 503) ;;
            *)
                echo "client $c batch $b: HTTP $code $(cat "$T/c$c.body")" >"$T/client$c.err"
                return 1
                ;;
            esac
            tries=$((tries + 1))
            if [ "$tries" -ge 1200 ]; then
                echo "client $c batch $b: no 2xx after $tries tries" >"$T/client$c.err"
                return 1
            fi
            sleep 0.05
        done
    done
    touch "$T/client$c.done"
}
acked() { cat "$T"/acked.* 2>/dev/null | wc -l | tr -d ' '; }
acked_at_least() { [ "$(acked)" -ge "$1" ]; }

run_node 0
CPIDS=()
for c in $(seq 0 $((CLIENTS - 1))); do
    client "$c" &
    CPIDS+=($!)
    PIDS+=($!)
done

# kill moments: random points of progress, in order, between 5% and 90%
mapfile -t AT < <(for _ in $(seq 1 "$KILLS"); do echo $((TOTAL * 5 / 100 + (RANDOM * 32768 + RANDOM) % (TOTAL * 85 / 100))); done | sort -n)
k=0
for at in "${AT[@]}"; do
    k=$((k + 1))
    wait_for 120 acked_at_least "$at" || fail "no progress to $at acked events (at $(acked))"
    kill -KILL "$PID"
    wait_exit "$PID" 10 || fail "not dead after SIGKILL"
    [ "$RC" = 137 ] || fail "exit status $RC after SIGKILL"
    echo "kill $k at $(acked) acked events"
    run_node "$k"
done

all_done() { [ "$(ls "$T"/client*.done 2>/dev/null | wc -l)" = "$CLIENTS" ]; }
wait_for 240 all_done || fail "clients did not finish: $(cat "$T"/client*.err 2>/dev/null)"
for p in "${CPIDS[@]}"; do wait "$p" || fail "a client failed: $(cat "$T"/client*.err 2>/dev/null)"; done

sort "$T"/acked.* >"$T/acked"
[ "$(sort -u "$T/acked" | wc -l)" = "$TOTAL" ] || fail "acked ids: $(sort -u "$T/acked" | wc -l) distinct, expected $TOTAL"

# the store gets them all: acme's log reaches TOTAL changes
last_seq() {
    curl -s -m 5 -H 'X-Tenant-ID: acme' "$Q/v1/changes?after=0&limit=1" | sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p'
}
reached() { [ "$(last_seq)" = "$TOTAL" ]; }
wait_for 120 reached || fail "the store's log has $(last_seq) changes, expected $TOTAL"

# every change, page by page: each acked id exactly once, no other
change_ids "$Q" acme "$TOTAL" "$T/logged"
[ "$(wc -l <"$T/logged")" = "$TOTAL" ] || fail "$(wc -l <"$T/logged") changes logged, expected $TOTAL"
exactly_once "$T/acked" "$T/logged"

# the content too: a sample of assets read back
for e in "c0/b0/e0" "c$((CLIENTS - 1))/b$((BATCHES - 1))/e$((BATCH - 1))"; do
    qn="snowflake%3A%2F%2Facme%2Fnoloss%2F${e//\//%2F}"
    code=$(curl -s -m 5 -H 'X-Tenant-ID: acme' -o "$T/asset" -w '%{http_code}' "$Q/v1/assets/$qn") || code=000
    [ "$code" = 200 ] && grep -q '"type":"table"' "$T/asset" || fail "asset $e: $code $(cat "$T/asset")"
done
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
echo "ok: $TOTAL events from $CLIENTS clients, $KILLS SIGKILLs: every acknowledged event in the store exactly once"
