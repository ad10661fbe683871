#!/usr/bin/env bash
# generate -> 3 relays -> jsonl_out in one process: exact count, per-key
# order, and the process exits 0 by itself once the source is done.
source "$(dirname "$0")/lib.bash"

N=20000
cat >"$T/topo.yaml" <<YAML
version: 1
name: three-relays
actors:
  gen: { kind: generate, count: $N, keys: 64, body_bytes: 300 }
  r1:  { kind: relay, inputs: [gen] }
  r2:  { kind: relay, inputs: [r1], workers: 3 }
  r3:  { kind: relay, inputs: [r2] }
  out: { kind: jsonl_out, inputs: [r3], path: $T/out.jsonl }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected a valid file"
start run run "$T/topo.yaml"
wait_exit "$LAST_PID" 120 || fail "pipeline did not finish"
[ "$RC" = 0 ] || fail "exit status $RC"
got=$(lines "$T/out.jsonl")
[ "$got" = "$N" ] || fail "expected $N events, got $got"
checked=$(check_order "$T/out.jsonl") || fail "per-key order broken"
[ "$checked" = "$N" ] || fail "order check saw $checked events"
# every hop counted: generate -> r1 -> r2 -> r3 -> out is 4 hops
grep -q '"hops":4' "$T/out.jsonl" || fail "hop count not 4"
echo "ok: $N events, per-key order kept"
