#!/usr/bin/env bash
# The store confirms what it applied to the ingest journal; replay and trim
# go by that confirmation (docs/ingest.md "Confirmation").
# The events pass a relay with 2 workers on the way: the store confirms a
# mark only once it came through both (each carries part of the events).
#  1. Running normally, every journaled event is confirmed and trimmed:
#     /metrics shows sluice_journal_confirmed_seq = last_seq and
#     sluice_journal_entries = 0.
#  2. The store stalls: another process holds its LMDB environment's write
#     lock (tests/helpers/lmdb_hold), so its next batch cannot begin, let
#     alone commit. Events are accepted (202) and handed on to it; the
#     process is killed with SIGKILL; after the restart every accepted
#     event is in the store exactly once and the journal is trimmed again.
#     replay_window is 0s: the cursor of the old design would have passed
#     these events as soon as they were handed on, and lost them.
source "$(dirname "$0")/lib.bash"

HOLD="${SL_BUILD_DIR:?}/lmdb_hold"
[ -x "$HOLD" ] || fail "no helper at $HOLD"
IN=$(free_port) || fail "no free port"
API=$(free_port) || fail "no free port"
ADMIN=$(free_port) || fail "no free port"
[ "$IN" != "$API" ] && [ "$IN" != "$ADMIN" ] && [ "$API" != "$ADMIN" ] || fail "port clash: rerun"
URL="http://127.0.0.1:$IN/v1/events"
Q="http://127.0.0.1:$API"
M="http://127.0.0.1:$ADMIN/metrics"

cat >"$T/topo.yaml" <<YAML
version: 1
name: ingest-confirm
store: { path: $T/store }
admin: 127.0.0.1:$ADMIN
actors:
  http:  { kind: http_ingest, listen: 127.0.0.1:$IN, tenant: acme, replay_window: 0s, redeliver: 0s }
  fwd:   { kind: relay, inputs: [http], workers: 2 }
  store: { kind: store, inputs: [fwd] }
  api:   { kind: http_api, listen: 127.0.0.1:$API }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "topology invalid"

up() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "$URL" 2>/dev/null)" = 415 ]; }
run_node() {
    start "run$1" run "$T/topo.yaml"
    PID=$LAST_PID
    wait_for 30 up || fail "ingest not listening (start $1)"
}
# gauge NAME [ACTOR]: the value of a series of actor http from /metrics
gauge() {
    curl -s -m 5 "$M" 2>/dev/null | awk -v n="$1" -v a="${2:-http}" \
        'index($0, n "{actor=\"" a "\"") == 1 { s += $NF; f = 1 } END { if (!f) exit 1; printf "%d\n", s }'
}
journal_is() { # CONFIRMED ENTRIES
    [ "$(gauge sluice_journal_confirmed_seq)" = "$1" ] && [ "$(gauge sluice_journal_entries)" = "$2" ]
}
handed_at_least() { [ "$(gauge sluice_events_out_total)" -ge "$1" ]; }
last_seq() {
    curl -s -m 5 -H 'X-Tenant-ID: acme' "$Q/v1/changes?after=0&limit=1" | sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p'
}
log_reaches() { [ "$(last_seq)" = "$1" ]; }

# post FROM COUNT: events FROM..FROM+COUNT-1 as one NDJSON request; their
# ids (from the 202) appended to $T/acked
post() {
    local from=$1 n=$2 code
    awk -v f="$from" -v n="$n" 'BEGIN { for (i = f; i < f + n; i++)
        printf "{\"id\":\"0190bbbb-0000-7000-8000-%012x\",\"kind\":\"asset.upsert\",\"body\":{\"qualified_name\":\"snowflake://acme/confirm/t%d\",\"type\":\"table\"}}\n", i, i }' >"$T/req.ndjson"
    code=$(curl -s -m 10 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
        --data-binary "@$T/req.ndjson" "$URL" 2>/dev/null) || code=000
    [ "$code" = 202 ] || fail "post $from+$n: $code $(cat "$T/post.body")"
    grep -o '"[0-9a-f-]\{36\}"' "$T/post.body" | tr -d '"' >>"$T/acked"
}

run_node 0
: >"$T/acked"
for b in 0 1 2 3 4; do post $((b * 100)) 100; done

# --- 1: confirmed and trimmed while running (trim runs once a second)
wait_for 30 journal_is 500 0 ||
    fail "journal not confirmed and trimmed: confirmed $(gauge sluice_journal_confirmed_seq), entries $(gauge sluice_journal_entries)"
[ "$(gauge sluice_journal_last_seq)" = 500 ] || fail "last_seq $(gauge sluice_journal_last_seq), expected 500"
wait_for 10 log_reaches 500 || fail "the store's log has $(last_seq) changes, expected 500"

# --- 2: the store stalls behind another writer; 300 events accepted and handed on
"$HOLD" "$T/store" >"$T/hold.out" 2>"$T/hold.log" &
HPID=$!
PIDS+=("$HPID")
wait_for 10 log_has "$T/hold.out" '^held$' || fail "lmdb_hold did not take the lock: $(cat "$T/hold.log")"
for b in 5 6 7; do post $((b * 100)) 100; done
wait_for 30 handed_at_least 800 || fail "ingest handed on $(gauge sluice_events_out_total) events, expected 800"
gauge_is() { [ "$(gauge "$1")" = "$2" ]; }
wait_for 10 gauge_is sluice_journal_last_seq 800 || fail "last_seq $(gauge sluice_journal_last_seq), expected 800"
# nothing of them is committed, so nothing of them is confirmed or trimmed
[ "$(last_seq)" = 500 ] || fail "the store committed while stalled: $(last_seq) changes"
[ "$(gauge sluice_journal_confirmed_seq)" = 500 ] || fail "confirmed $(gauge sluice_journal_confirmed_seq) while the store was stalled"
[ "$(gauge sluice_journal_entries)" = 300 ] || fail "journal holds $(gauge sluice_journal_entries) entries, expected the 300 unconfirmed"

kill -KILL "$PID"
wait_exit "$PID" 10 || fail "not dead after SIGKILL"
[ "$RC" = 137 ] || fail "exit status $RC after SIGKILL"
kill -TERM "$HPID"
wait_exit "$HPID" 10 || fail "lmdb_hold did not let go"
[ "$RC" = 0 ] || fail "lmdb_hold exit status $RC: $(cat "$T/hold.log")"

# --- the restart replays exactly the unconfirmed 300
run_node 1
grep -q 'replaying 300 journaled events after cursor 500 (the lowest confirmation' "$T/run1.log" ||
    fail "no replay of the 300 unconfirmed events: $(grep -o '"message":"replaying[^"]*"' "$T/run1.log")"
wait_for 30 log_reaches 800 || fail "the store's log has $(last_seq) changes after the restart, expected 800"
change_ids "$Q" acme 800 "$T/logged"
[ "$(wc -l <"$T/logged")" = 800 ] || fail "$(wc -l <"$T/logged") changes logged, expected 800"
[ "$(sort -u "$T/acked" | wc -l)" = 800 ] || fail "$(sort -u "$T/acked" | wc -l) distinct acked ids, expected 800"
exactly_once "$T/acked" "$T/logged"
wait_for 30 journal_is 800 0 ||
    fail "after the restart: confirmed $(gauge sluice_journal_confirmed_seq), entries $(gauge sluice_journal_entries); expected 800, 0"

# --- a clean stop says so; the next start replays nothing
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
grep -q 'journal at 800, confirmed up to 800, 0 entries held' "$T/run1.log" ||
    fail "stop line: $(grep -o '"message":"stopped:[^"]*"' "$T/run1.log")"
run_node 2
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
! grep -q '"message":"replaying' "$T/run2.log" || fail "a clean restart replayed: $(grep -o '"message":"replaying[^"]*"' "$T/run2.log")"
echo "ok: 500 confirmed and trimmed while running; 300 accepted behind a stalled store survive SIGKILL exactly once; trimmed after"
