#!/usr/bin/env bash
# The change stream of the query API with the real binary: a rated
# generate writes asset upserts through the store while an http_api on the
# same store streams them as Server-Sent Events (the log first, then live
# changes, ids 1..N in order, one tenant only); request errors answered
# before the store is read; SIGTERM with a stream client connected exits 0
# at once and closes the stream.
source "$(dirname "$0")/lib.bash"

API=$(free_port) || fail "no free port"
URL="http://127.0.0.1:$API"
cat >"$T/topo.yaml" <<YAML
version: 1
name: api-stream
store: { path: $T/store }
actors:
  gen:   { kind: generate, tenant: live, event_kind: asset.upsert, rate: 40, keys: 1000000, body_bytes: 100 }
  other: { kind: generate, tenant: other, event_kind: asset.upsert, rate: 40, keys: 1000000, body_bytes: 100 }
  store: { kind: store, inputs: [gen, other], fsync: false }
  api:   { kind: http_api, listen: 127.0.0.1:$API, max_connections: 8, timeout: 5s }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "topology invalid"
start run run "$T/topo.yaml"
PID=$LAST_PID

# expect TENANT PATH CODE [FIXED-STRING...]: body in $T/http.body
expect() {
    local t=$1 p=$2 c=$3 code
    shift 3
    local h=()
    [ -n "$t" ] && h=(-H "X-Tenant-ID: $t")
    code=$(curl -s -m 5 "${h[@]}" -o "$T/http.body" -w '%{http_code}' "$URL$p" 2>/dev/null) || code=000
    [ "$code" = "$c" ] || fail "GET $p (tenant '$t'): $code, expected $c: $(cat "$T/http.body")"
    for s in "$@"; do
        grep -q -F -- "$s" "$T/http.body" || fail "GET $p: no '$s' in $(cat "$T/http.body")"
    done
}
listening() { [ "$(http_get "$URL/v1/nosuch")" = 404 ]; }
wait_for 20 listening || fail "the API does not answer"

# errors that never reach the store
expect "" "/v1/changes/stream" 400 '"code":"missing_tenant"'
expect "" "/v1/assets" 400 '"code":"missing_tenant"'
expect "a b" "/v1/changes/stream" 400 '"code":"bad_tenant"'
expect live "/v1/changes/stream?after=x" 400 '"code":"bad_parameter"' "'after'"
expect live "/v1/changes?after=-1" 400 "'after'"
expect live "/v1/changes?limit=0" 400 "'limit'"
expect live "/v1/assets?limit=1001" 400 "'limit'"
expect live "/v1/assets?prefix=%G1" 400 "'prefix'"
expect live "/v1/assets/x%G1y" 400 '"code":"bad_path"'
expect live "/v1/assets/x/lineage?direction=sideways" 400 "'direction'"
expect live "/v1/assets/x/lineage?depth=11" 400 "'depth'"
expect live "/v1/incidents?status=closed" 400 "'status'"
expect live "/v1/nosuch" 404 '"code":"not_found"'
expect live "/v1/changes/stream/more" 404
code=$(curl -s -m 5 -o "$T/http.body" -w '%{http_code}' -X POST -d '{}' "$URL/v1/changes/stream") || true
[ "$code" = 405 ] || fail "POST /v1/changes/stream gave $code, expected 405"
grep -q '"method_not_allowed"' "$T/http.body" || fail "405 body: $(cat "$T/http.body")"

# the stream: the log from seq 1, then live changes
curl -s -N -m 60 -H 'X-Tenant-ID: live' -D "$T/sse.headers" "$URL/v1/changes/stream?after=0" >"$T/sse.out" 2>/dev/null &
SSE=$!
PIDS+=("$SSE")
ids() { grep -c '^id: ' "$T/sse.out" 2>/dev/null || true; }
at_least_ids() { [ "$(ids)" -ge "$1" ]; }
wait_for 20 at_least_ids 3 || fail "no change events on the stream: $(head -c 500 "$T/sse.out")"
grep -qi '^content-type: text/event-stream' "$T/sse.headers" || fail "content type: $(cat "$T/sse.headers")"
n1=$(ids)
wait_for 20 at_least_ids $((n1 + 5)) || fail "stream stopped at $n1 events while generate writes"
grep -q '^event: change' "$T/sse.out" || fail "no 'event: change' lines"
# ids are exactly 1, 2, 3, ...: every change, in order, none twice
awk '/^id: / { n++; if ($2 != n) { print "id " $2 " at position " n > "/dev/stderr"; exit 1 } }' "$T/sse.out" ||
    fail "stream ids are not 1..N in order"
# each data line is the change record of its id, of this tenant only
awk '/^id: / { id = $2 }
     /^data: / { if (!match($0, /"seq":[0-9]+/)) exit 1; s = substr($0, RSTART + 6, RLENGTH - 6); if (s != id) exit 1
                 if (index($0, "\"tenant\":\"live\"") == 0) exit 1 }' "$T/sse.out" ||
    fail "a data line is not the record of its id for tenant live: $(grep -m3 '^data' "$T/sse.out")"
grep -q 'gen://other/' "$T/sse.out" && fail "tenant live's stream shows tenant other"
# resuming: after=N starts at N+1; Last-Event-ID wins over after
curl -s -N -m 2 -H 'X-Tenant-ID: live' "$URL/v1/changes/stream?after=2" >"$T/sse2.out" 2>/dev/null || true
first=$(grep -m1 '^id: ' "$T/sse2.out" | cut -d' ' -f2)
[ "$first" = 3 ] || fail "stream after=2 began at id '$first'"
curl -s -N -m 2 -H 'X-Tenant-ID: live' -H 'Last-Event-ID: 4' "$URL/v1/changes/stream?after=1" >"$T/sse3.out" 2>/dev/null || true
first=$(grep -m1 '^id: ' "$T/sse3.out" | cut -d' ' -f2)
[ "$first" = 5 ] || fail "stream with Last-Event-ID 4 began at id '$first'"

# stop with the client connected: exit 0 promptly, the stream is closed
kill -0 "$SSE" 2>/dev/null || fail "stream client ended early"
kill -TERM "$PID"
wait_exit "$PID" 20 || fail "did not exit within 20 s of SIGTERM with a stream client connected"
[ "$RC" = 0 ] || fail "exit status $RC"
wait_exit "$SSE" 10 || fail "stream client not released after the server stopped"
[ "$(http_get "$URL/v1/assets")" = 000 ] || fail "API port still answers after exit"
echo "ok: SSE ($(ids) changes, ids 1..N in order, one tenant), Last-Event-ID, errors, clean stop"
