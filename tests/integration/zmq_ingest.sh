#!/usr/bin/env bash
# zmq_ingest: producers push events over CurveZMQ with their tenant's key
# (tools/zmq_producer), acknowledged only once journaled:
#   - JSON, NDJSON batches and msgpack batches, in a window of requests:
#     every ack names the ids; the events come out in the sink;
#   - ack after the durable commit: SIGKILL right after the last ack; the
#     restart (replay_window 1h: its cursor is still 0) replays the whole
#     journal into a new file, which holds every acknowledged id;
#   - an event naming another tenant than the key: the request refused
#     (tenant_mismatch), counted, nothing of it journaled;
#   - a key of no tenant, and acme's key on globex's endpoint: refused by
#     the ZAP handler (exit 3), counted per tenant, nothing journaled;
#   - malformed bodies: a clear error reply, the actor goes on.
source "$(dirname "$0")/lib.bash"

PRODUCER=${SL_BUILD_DIR:?}/zmq_producer
PORT=$(free_ports 2) || fail "no free ports"
ADMIN=$(free_port) || fail "no free port"
keygen acme globex
"$SLUICE" keygen --tenant acme --dir "$T/rogue" >/dev/null || fail "keygen rogue"
cat >"$T/topo.yaml" <<YAML
version: 1
name: zmq-ingest
store: { path: $T/var }
tenants:
  acme: { keys: keys/acme }
  globex: { keys: keys/globex }
admin: 127.0.0.1:$ADMIN
actors:
  zin: { kind: zmq_ingest, listen: 127.0.0.1:$PORT, replay_window: 1h }
  out: { kind: jsonl_out, inputs: [zin], path: $T/out.jsonl }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected a valid file"
M="http://127.0.0.1:$ADMIN/metrics"
start run1 run "$T/topo.yaml"
PID=$LAST_PID
wait_for 20 bash -c "curl -fs -m 2 http://127.0.0.1:$ADMIN/readyz >/dev/null" || fail "not ready"
wait_for 10 log_has "$T/run1.log" "zmq_ingest on tcp://127.0.0.1:$PORT \(acme\), tcp://127.0.0.1:$((PORT + 1)) \(globex\)" ||
    fail "endpoints not logged"

ev() { echo "{\"tenant\":\"$1\",\"kind\":\"tag.set\",\"body\":{\"qualified_name\":\"zq://$1/$2\",\"tag\":\"t$2\"}}"; }
produce() { # produce TENANT PORT ARGS... < lines
    local t=$1 p=$2
    shift 2
    "$PRODUCER" --endpoint "tcp://127.0.0.1:$p" --keys "$T/keys/$t" --tenant "$t" --timeout 10000 "$@"
}

# 1. acme: 40 single JSON events (tenant left out: the key says it),
#    30 in NDJSON batches of 7, 30 in msgpack batches of 10, window 4
for i in $(seq 1 40); do echo "{\"kind\":\"tag.set\",\"body\":{\"qualified_name\":\"zq://acme/$i\",\"tag\":\"t\"}}"; done >"$T/a1.ndjson"
for i in $(seq 41 70); do ev acme "$i"; done >"$T/a2.ndjson"
for i in $(seq 71 100); do ev acme "$i"; done >"$T/a3.ndjson"
produce acme "$PORT" --window 4 "$T/a1.ndjson" >"$T/acks1" || fail "JSON requests refused: $(head -3 "$T/acks1")"
produce acme "$PORT" --batch 7 --window 2 "$T/a2.ndjson" >"$T/acks2" || fail "NDJSON requests refused"
produce acme "$PORT" --batch 10 --msgpack "$T/a3.ndjson" >"$T/acks3" || fail "msgpack requests refused"
[ "$(lines "$T/acks1")" = 40 ] || fail "expected 40 acks, got $(lines "$T/acks1")"
[ "$(lines "$T/acks2")" = 5 ] || fail "expected 5 acks (batches of 7), got $(lines "$T/acks2")"
[ "$(lines "$T/acks3")" = 3 ] || fail "expected 3 acks, got $(lines "$T/acks3")"
grep -q '"accepted":7,' "$T/acks2" || fail "a batch of 7 not acknowledged as 7"
# globex on its own endpoint
for i in $(seq 1 10); do ev globex "$i"; done | produce globex $((PORT + 1)) --batch 5 >"$T/acks4" ||
    fail "globex refused on its endpoint"
ids() { grep -ho '[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}' "$@" | sort -u; }
ids "$T"/acks1 "$T"/acks2 "$T"/acks3 "$T"/acks4 >"$T/acked1"
[ "$(lines "$T/acked1")" = 110 ] || fail "expected 110 acknowledged ids, got $(lines "$T/acked1")"
wait_for 20 lines_at_least "$T/out.jsonl" 110 || fail "acknowledged events did not come out"

# 2. refused requests: nothing of them journaled
rc=0
{ ev acme 200; ev globex 201; } | produce acme "$PORT" --batch 2 >"$T/mm" || rc=$?
[ "$rc" = 1 ] || fail "a request naming another tenant: exit $rc, expected 1"
grep -q '"code":"tenant_mismatch","message":"field '"'"'tenant'"'"': '"'"'globex'"'"' is not '"'"'acme'"'"'' "$T/mm" ||
    fail "no tenant_mismatch reply: $(cat "$T/mm")"
grep -q '"index":1' "$T/mm" || fail "the reply does not name the event: $(cat "$T/mm")"
[ "$(metric "$M" sluice_link_tenant_mismatch_total 'actor="zin"')" = 1 ] || fail "mismatch not counted"
rc=0
ev acme 300 | "$PRODUCER" --endpoint "tcp://127.0.0.1:$PORT" --keys "$T/rogue" --tenant acme \
    --server-key "$(public_key acme)" --timeout 5000 >/dev/null 2>"$T/rogue.err" || rc=$?
[ "$rc" = 3 ] || fail "unknown key: exit $rc, expected 3: $(cat "$T/rogue.err")"
rc=0
ev globex 301 | "$PRODUCER" --endpoint "tcp://127.0.0.1:$((PORT + 1))" --keys "$T/keys/acme" --tenant acme \
    --server-key "$(public_key globex)" --timeout 5000 >/dev/null 2>"$T/cross.err" || rc=$?
[ "$rc" = 3 ] || fail "acme's key on globex's endpoint: exit $rc, expected 3: $(cat "$T/cross.err")"
[ "$(metric "$M" sluice_curve_refused_total 'tenant="acme"')" = 1 ] || fail "unknown key not counted"
[ "$(metric "$M" sluice_curve_refused_total 'tenant="globex"')" = 1 ] || fail "cross-tenant key not counted"
echo 'not json' | produce acme "$PORT" >"$T/bad1" && fail "a malformed body was accepted"
grep -q '"code":"malformed"' "$T/bad1" || fail "no malformed reply: $(cat "$T/bad1")"
echo '{"kind": 5}' | produce acme "$PORT" >"$T/bad2" && fail "a bad event was accepted"
grep -q '"code":"bad_event"' "$T/bad2" || fail "no bad_event reply: $(cat "$T/bad2")"
echo '{"kind":"propagation.set","body":{"target":"x","value":"tag:a","source":"y","depth":1,"via":"y"}}' |
    produce acme "$PORT" >"$T/bad3" && fail "an internal kind was accepted"
grep -q '"code":"internal_kind"' "$T/bad3" || fail "no internal_kind reply: $(cat "$T/bad3")"

# 3. durable before acknowledged: acks, then SIGKILL at once
for i in $(seq 400 499); do ev acme "$i"; done | produce acme "$PORT" --batch 5 --window 8 >"$T/acks5" ||
    fail "last requests refused"
kill -KILL "$PID"
wait_exit "$PID" 10 || fail "not killed"
ids "$T/acks5" >"$T/acked2"
[ "$(lines "$T/acked2")" = 100 ] || fail "expected 100 more acks"
sed -i "s|$T/out.jsonl|$T/replayed.jsonl|" "$T/topo.yaml"
start run2 run "$T/topo.yaml"
PID=$LAST_PID
wait_for 20 bash -c "curl -fs -m 2 http://127.0.0.1:$ADMIN/readyz >/dev/null" || fail "restart not ready"
have_all() { ids "$T/replayed.jsonl" >"$T/out.ids" && [ -z "$(comm -23 <(sort -u "$T/acked1" "$T/acked2") "$T/out.ids")" ]; }
wait_for 30 have_all || fail "$(comm -23 <(sort -u "$T/acked1" "$T/acked2") "$T/out.ids" | wc -l) acknowledged events not in the journal after SIGKILL"
[ "$(lines "$T/replayed.jsonl")" = 210 ] || fail "the journal holds $(lines "$T/replayed.jsonl") events, expected exactly the 210 acknowledged"
grep -q 'zq://acme/200\|zq://globex/201\|zq://acme/300\|zq://globex/301' "$T/out.jsonl" "$T/replayed.jsonl" &&
    fail "an event of a refused request came out"
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC after SIGTERM"
echo "ok: 210 events acknowledged after commit and none lost across SIGKILL; mismatched tenant, unknown and foreign keys refused"
