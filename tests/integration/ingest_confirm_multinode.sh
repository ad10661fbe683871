#!/usr/bin/env bash
# Confirmation across nodes: http_ingest on node a, a relay and the store
# on node b. The links are CurveZMQ with two tenants' keys (acme, globex),
# so each link is two connections, and a mark counts at b only once it came
# through both; the events are acme's. The store's confirmations travel
# back to a as control messages over a CURVE connection to a's input, so
# a's journal is confirmed and trimmed. Then b's store stalls
# (another process holds its write lock), 100 more events are accepted
# and handed on over TCP, and node b is killed with SIGKILL: what it had
# received is gone with it. a keeps running; when no confirmation comes
# for `redeliver` (2 s here) it hands the unconfirmed events on again, the
# restarted b applies them, and every accepted event is in the store
# exactly once, confirmed and trimmed on a.
source "$(dirname "$0")/lib.bash"

HOLD="${SL_BUILD_DIR:?}/lmdb_hold"
[ -x "$HOLD" ] || fail "no helper at $HOLD"
BASE=$(free_ports 210) || fail "no free ports"
PA=$BASE
PB=$((BASE + 100))
ADMA=$((BASE + 200))
ADMB=$((BASE + 201))
IN=$((BASE + 202))
API=$((BASE + 203))
URL="http://127.0.0.1:$IN/v1/events"
Q="http://127.0.0.1:$API"

keygen acme globex
cat >"$T/topo.yaml" <<YAML
version: 1
name: confirm-multinode
tenants:
  acme: { keys: keys/acme }
  globex: { keys: keys/globex }
nodes:
  a: { host: 127.0.0.1, port: $PA, admin: 127.0.0.1:$ADMA }
  b: { host: 127.0.0.1, port: $PB, admin: 127.0.0.1:$ADMB }
actors:
  http:  { kind: http_ingest, node: a, listen: 127.0.0.1:$IN, tenant: acme, journal: $T/a/journal, redeliver: 2s }
  fwd:   { kind: relay, node: b, inputs: [http] }
  store: { kind: store, node: b, inputs: [fwd], path: $T/b/store }
  api:   { kind: http_api, node: b, listen: 127.0.0.1:$API, path: $T/b/store }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "topology invalid"

up_a() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "$URL" 2>/dev/null)" = 415 ]; }
up_b() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$Q/v1/changes" 2>/dev/null)" != 000 ]; }
gauge() { # NAME ADMIN_PORT ACTOR
    curl -s -m 5 "http://127.0.0.1:$2/metrics" 2>/dev/null | awk -v n="$1" -v a="$3" \
        'index($0, n "{actor=\"" a "\"") == 1 { s += $NF; f = 1 } END { if (!f) exit 1; printf "%d\n", s }'
}
journal_is() { # CONFIRMED ENTRIES
    [ "$(gauge sluice_journal_confirmed_seq "$ADMA" http)" = "$1" ] &&
        [ "$(gauge sluice_journal_entries "$ADMA" http)" = "$2" ]
}
journal_now() {
    echo "confirmed $(gauge sluice_journal_confirmed_seq "$ADMA" http), entries $(gauge sluice_journal_entries "$ADMA" http), last $(gauge sluice_journal_last_seq "$ADMA" http)"
}
last_seq() {
    curl -s -m 5 -H 'X-Tenant-ID: acme' "$Q/v1/changes?after=0&limit=1" | sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p'
}
log_reaches() { [ "$(last_seq)" = "$1" ]; }
b_received() { [ "$(gauge sluice_events_out_total "$ADMB" fwd)" -ge "$1" ]; }
post() { # FROM COUNT
    local from=$1 n=$2 code
    awk -v f="$from" -v n="$n" 'BEGIN { for (i = f; i < f + n; i++)
        printf "{\"id\":\"0190cccc-0000-7000-8000-%012x\",\"kind\":\"asset.upsert\",\"body\":{\"qualified_name\":\"snowflake://acme/multi/t%d\",\"type\":\"table\"}}\n", i, i }' >"$T/req.ndjson"
    code=$(curl -s -m 10 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
        --data-binary "@$T/req.ndjson" "$URL" 2>/dev/null) || code=000
    [ "$code" = 202 ] || fail "post $from+$n: $code $(cat "$T/post.body")"
    grep -o '"[0-9a-f-]\{36\}"' "$T/post.body" | tr -d '"' >>"$T/acked"
}

start b run "$T/topo.yaml" --node b
PID_B=$LAST_PID
start a run "$T/topo.yaml" --node a
PID_A=$LAST_PID
wait_for 30 up_a || fail "node a not listening"
wait_for 30 up_b || fail "node b not listening"
: >"$T/acked"
post 0 100
post 100 100
wait_for 30 journal_is 200 0 || fail "a's journal not confirmed over TCP and trimmed: $(journal_now)"
wait_for 10 log_reaches 200 || fail "b's log has $(last_seq) changes, expected 200"

# b's store stalls; 100 more reach b and wait there; b dies with them
"$HOLD" "$T/b/store" >"$T/hold.out" 2>"$T/hold.log" &
HPID=$!
PIDS+=("$HPID")
wait_for 10 log_has "$T/hold.out" '^held$' || fail "lmdb_hold did not take the lock: $(cat "$T/hold.log")"
post 200 100
wait_for 30 b_received 300 || fail "the events did not reach node b's store queue"
[ "$(last_seq)" = 200 ] || fail "b's store committed while stalled"
kill -KILL "$PID_B"
wait_exit "$PID_B" 10 || fail "b not dead after SIGKILL"
[ "$RC" = 137 ] || fail "b's exit status $RC after SIGKILL"
kill -TERM "$HPID"
wait_exit "$HPID" 10 || fail "lmdb_hold did not let go"
[ "$(gauge sluice_journal_confirmed_seq "$ADMA" http)" = 200 ] || fail "a confirmed what b never committed: $(journal_now)"

# b comes back empty-handed; a hands the 100 on again after `redeliver`
start b2 run "$T/topo.yaml" --node b
PID_B=$LAST_PID
wait_for 30 up_b || fail "node b not back"
wait_for 30 log_has "$T/a.log" 'handing them on again from sequence 201' || fail "a did not hand the unconfirmed events on again"
wait_for 30 log_reaches 300 || fail "b's log has $(last_seq) changes, expected 300"
change_ids "$Q" acme 300 "$T/logged"
[ "$(wc -l <"$T/logged")" = 300 ] || fail "$(wc -l <"$T/logged") changes logged, expected 300"
exactly_once "$T/acked" "$T/logged"
wait_for 30 journal_is 300 0 || fail "a's journal after the redelivery: $(journal_now)"

kill -TERM "$PID_A"
wait_exit "$PID_A" 30 || fail "node a did not stop"
[ "$RC" = 0 ] || fail "node a exit status $RC"
kill -TERM "$PID_B"
wait_exit "$PID_B" 30 || fail "node b did not stop"
[ "$RC" = 0 ] || fail "node b exit status $RC"
echo "ok: confirmations over TCP trim a's journal; events lost with a killed store node are handed on again and applied once"
