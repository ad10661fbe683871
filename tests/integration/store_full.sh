#!/usr/bin/env bash
# A store whose LMDB map fills up: writes are refused, not crashed on. The
# process keeps running, /healthz answers 503 with the reason, refused
# events are counted as errors and logged (rate-limited), SIGTERM still
# drains to exit 0; restarted with a larger map_size it is healthy again
# and applies writes.
source "$(dirname "$0")/lib.bash"

ADMIN=$(free_port) || fail "no free port"
URL="http://127.0.0.1:$ADMIN"
topo() { # MAP_SIZE GENERATE-OPTIONS
    cat >"$T/topo.yaml" <<YAML
version: 1
name: store-full
store: { path: $T/store }
admin: 127.0.0.1:$ADMIN
actors:
  gen:   { kind: generate, tenant: acme, event_kind: asset.upsert, keys: 1000000, body_bytes: 2000, $2 }
  store: { kind: store, inputs: [gen], map_size: $1 }
YAML
}
scrape() { [ "$(curl -s -m 5 -o "$T/m.txt" -w '%{http_code}' "$URL/metrics")" = 200 ]; }
value() {
    awk -v n="$1" -v a="$2" 'index($0, n "{actor=\"" a "\"") == 1 { s += $NF; f = 1 }
        END { if (!f) exit 1; printf "%d\n", s }' "$T/m.txt"
}
status_is() { [ "$(http_get "$1")" = "$2" ]; }

topo 1MiB "rate: 5000"
start full run "$T/topo.yaml"
PID=$LAST_PID
wait_for 30 status_is "$URL/healthz" 503 || fail "/healthz never 503 with a 1 MiB map"
grep -q '"status": *"unhealthy"' "$T/http.body" || fail "/healthz body: $(cat "$T/http.body")"
grep -q '"reason": *"store: .*full' "$T/http.body" || fail "/healthz has no reason: $(cat "$T/http.body")"
status_is "$URL/readyz" 200 || fail "/readyz not 200 while full (the process still serves)"
log_has "$T/full.log" '"level":"error".*full' || fail "no error line about the full map"
log_has "$T/full.log" 'refused [0-9]+ events' || fail "no line counting refused events"
scrape || fail "/metrics not 200"
err1=$(value sluice_errors_total store) || fail "no errors_total for store"
in1=$(value sluice_events_in_total store)
[ "$err1" -gt 0 ] || fail "refused events not counted"
still_taking() {
    scrape && [ "$(value sluice_errors_total store)" -gt "$err1" ] &&
        [ "$(value sluice_events_in_total store)" -gt "$in1" ]
}
wait_for 20 still_taking || fail "the store stopped taking events while full"
kill -0 "$PID" || fail "the process died on a full map"
# one error line for the full map, not one per batch
n_err=$(grep -c '"level":"error".*full' "$T/full.log")
[ "$n_err" -le 2 ] || fail "$n_err error lines about the full map (expected one)"
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "did not exit within 30 s of SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC after SIGTERM on a full store"

# a larger map: healthy again, and the writes go in
topo 64MiB "count: 200, rate: 100"
start bigger run "$T/topo.yaml"
PID=$LAST_PID
wait_for 30 status_is "$URL/healthz" 200 || fail "/healthz not 200 after restart with a larger map"
wait_exit "$PID" 60 || fail "second run did not finish"
[ "$RC" = 0 ] || fail "second run exit status $RC"
log_has "$T/bigger.log" '"200 events in [0-9]+ commits' || fail "the 200 events were not applied"
echo "ok: full map refused writes (503, $err1+ refused counted), larger map applies them"
