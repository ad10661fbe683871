#!/usr/bin/env bash
# The admin listener of a running topology: /healthz, /readyz, /metrics
# (events_in of every actor, growing; e2e latency histogram at the sink
# only), 404 and 405; then SIGTERM -> exit 0 and the port is released.
source "$(dirname "$0")/lib.bash"

ADMIN=$(free_port) || fail "no free port"
URL="http://127.0.0.1:$ADMIN"
cat >"$T/topo.yaml" <<YAML
version: 1
name: admin
admin: 127.0.0.1:$ADMIN
actors:
  gen: { kind: generate, rate: 2000, keys: 8, body_bytes: 100 }
  mid: { kind: relay, inputs: [gen], workers: 2 }
  out: { kind: jsonl_out, inputs: [mid], path: $T/out.jsonl }
YAML
start run run "$T/topo.yaml"
PID=$LAST_PID

status_is() { [ "$(http_get "$1")" = "$2" ]; }
wait_for 20 status_is "$URL/healthz" 200 || fail "/healthz not 200"
grep -q '"status": *"ok"' "$T/http.body" || fail "/healthz body: $(cat "$T/http.body")"
wait_for 20 status_is "$URL/readyz" 200 || fail "/readyz not 200 once started"
grep -q '"status": *"ready"' "$T/http.body" || fail "/readyz body: $(cat "$T/http.body")"
[ "$(http_get "$URL/nosuch")" = 404 ] || fail "unknown path not 404"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "$URL/metrics") || true
[ "$code" = 405 ] || fail "POST /metrics gave $code, expected 405"

# scrape: the metrics text in $T/m.txt; value SERIES ACTOR sums over workers
scrape() { [ "$(curl -s -m 5 -o "$T/m.txt" -w '%{http_code}' "$URL/metrics")" = 200 ]; }
value() {
    awk -v n="$1" -v a="$2" 'index($0, n "{actor=\"" a "\"") == 1 { s += $NF; f = 1 }
        END { if (!f) exit 1; printf "%d\n", s }' "$T/m.txt"
}
wait_for 20 lines_at_least "$T/out.jsonl" 300 || fail "no events reach the sink"
scrape || fail "/metrics not 200"
grep -q '^# TYPE sluice_events_in_total counter' "$T/m.txt" || fail "no TYPE line for events_in"
for a in gen mid out; do
    value sluice_events_in_total "$a" >/dev/null || fail "no sluice_events_in_total for $a"
done
for w in 0 1; do
    grep -q "^sluice_events_in_total{actor=\"mid\",kind=\"relay\",worker=\"$w\"} " "$T/m.txt" ||
        fail "no events_in for mid worker $w"
done
mid1=$(value sluice_events_in_total mid)
out1=$(value sluice_events_in_total out)
gen1=$(value sluice_events_out_total gen)
[ "$out1" -gt 0 ] || fail "sink events_in is 0 while its file has events"
grows() {
    scrape && [ "$(value sluice_events_in_total mid)" -gt "$mid1" ] &&
        [ "$(value sluice_events_in_total out)" -gt "$out1" ] &&
        [ "$(value sluice_events_out_total gen)" -gt "$gen1" ]
}
wait_for 20 grows || fail "counts do not grow"
# e2e latency histogram at the sink, and only there
grep -q '^# TYPE sluice_e2e_latency_seconds histogram' "$T/m.txt" || fail "no e2e histogram TYPE line"
grep -qE '^sluice_e2e_latency_seconds_bucket\{actor="out",kind="jsonl_out",worker="0",le="\+Inf"\} [1-9]' "$T/m.txt" ||
    fail "no e2e +Inf bucket with observations at the sink"
e2e_count=$(awk '/^sluice_e2e_latency_seconds_count\{actor="out"/ { print $NF }' "$T/m.txt")
[ "${e2e_count:-0}" -gt 0 ] || fail "e2e count at the sink is 0"
if grep -qE '^sluice_e2e_latency_seconds[_a-z]*\{actor="(gen|mid)"' "$T/m.txt"; then
    fail "e2e latency reported for a non-sink"
fi
grep -qE '^sluice_ready 1' "$T/m.txt" || fail "sluice_ready is not 1"

kill -TERM "$PID"
wait_exit "$PID" 30 || fail "did not exit within 30 s of SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
[ "$(http_get "$URL/healthz")" = 000 ] || fail "admin port still answers after exit"
echo "ok: healthz/readyz 200, metrics grow (mid $mid1 -> $(value sluice_events_in_total mid)), e2e at the sink"
