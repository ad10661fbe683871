#!/usr/bin/env bash
# generate -> 3 relays -> jsonl_out split over two processes (nodes a and
# b), so the stream crosses TCP three times (a->b, b->a, a->b), one link
# partitioned over 3 workers, every link CurveZMQ with the tenant's key:
# exact count, per-key order, and both processes exit 0 by themselves
# once the source is done.
source "$(dirname "$0")/lib.bash"

N=20000
PA=$(free_ports 3) || fail "no free ports for node a"
PB=$(free_ports 4) || fail "no free ports for node b"
[ $((PA + 3)) -le "$PB" ] || [ $((PB + 4)) -le "$PA" ] || fail "port ranges overlap ($PA, $PB): rerun"
keygen acme
cat >"$T/topo.yaml" <<YAML
version: 1
name: two-process
tenants:
  acme: { keys: keys/acme }
nodes:
  a: { host: 127.0.0.1, port: $PA }
  b: { host: 127.0.0.1, port: $PB }
actors:
  gen: { kind: generate, node: a, count: $N, keys: 64, body_bytes: 300, tenant: acme }
  r1:  { kind: relay, node: a, inputs: [gen] }
  r2:  { kind: relay, node: b, inputs: [r1], workers: 3 }
  r3:  { kind: relay, node: a, inputs: [r2] }
  out: { kind: jsonl_out, node: b, inputs: [r3], path: $T/out.jsonl }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected a valid file"
t0=$SECONDS
# a starts first: its connects to b retry until b binds.
start a run "$T/topo.yaml" --node a
PID_A=$LAST_PID
start b run "$T/topo.yaml" --node b
PID_B=$LAST_PID
wait_exit "$PID_A" 120 || fail "node a did not finish"
RC_A=$RC
wait_exit "$PID_B" 120 || fail "node b did not finish"
RC_B=$RC
[ "$RC_A" = 0 ] || fail "node a exit status $RC_A"
[ "$RC_B" = 0 ] || fail "node b exit status $RC_B"
got=$(lines "$T/out.jsonl")
[ "$got" = "$N" ] || fail "expected $N events, got $got"
checked=$(check_order "$T/out.jsonl") || fail "per-key order broken"
[ "$checked" = "$N" ] || fail "order check saw $checked events"
m=$(seq_contiguous "$T/out.jsonl") || fail "seq not contiguous"
[ "$m" = "$N" ] || fail "seq check saw $m events"
grep -q '"hops":4' "$T/out.jsonl" || fail "hop count not 4"
grep -q '"node":"a"' "$T/a.log" || fail "node a log lines do not name the node"
grep -q '"level":"warn"' "$T/a.log" "$T/b.log" && fail "warnings: $(grep -h '"level":"warn"' "$T/a.log" "$T/b.log" | head -3)"
echo "ok: $N events over 3 CURVE hops in $((SECONDS - t0)) s, per-key order kept"
