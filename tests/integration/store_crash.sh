#!/usr/bin/env bash
# SIGKILL `sluice run` in the middle of a stream of store batches (fsync
# on), restart on the same store, and prove that the store, its change log
# and what was emitted agree: the log runs 1..N without a gap, every asset
# the log names is in the store and the store holds no other (sluice store
# check), nothing was emitted that the log does not hold (emission follows
# the commit), and after the restart the log and the emitted changes go on
# from where the log ended. (Follower cursors across a SIGKILL are proven by
# tests/unit/test_follower.c, test_sigkill_mid_stream.)
source "$(dirname "$0")/lib.bash"

topo() { # SOURCE CHANGES-FILE
    cat >"$T/topo.yaml" <<YAML
version: 1
name: store-crash
store: { path: $T/store }
actors:
  src:   $1
  store: { kind: store, inputs: [src], batch_events: 100 }
  out:   { kind: jsonl_out, inputs: [store.changes], path: $2 }
YAML
}
# emitted FILE: the seq of each emitted change, in file order
emitted() {
    grep -o '"body":{"seq":[0-9]*' "$1" | grep -o '[0-9]*$' || true
}
# log_end: the last seq of acme's log, from `sluice store check`
log_end() {
    "$SLUICE" store check "$T/topo.yaml" >"$T/check.out" 2>&1 || fail "store check: $(cat "$T/check.out")"
    sed -n 's/^tenant acme: ok: \([0-9]*\) changes (seq 1\.\.\([0-9]*\)).*/\2/p' "$T/check.out"
}

topo "{ kind: generate, tenant: acme, event_kind: asset.upsert, keys: 100000000, body_bytes: 200, rate: 20000 }" \
    "$T/changes1.jsonl"
start run1 run "$T/topo.yaml"
PID=$LAST_PID
wait_for 60 lines_at_least "$T/changes1.jsonl" 3000 || fail "no stream of changes"
kill -KILL "$PID"
wait_exit "$PID" 10 || fail "not dead after SIGKILL"
[ "$RC" = 137 ] || fail "exit status $RC after SIGKILL"

end1=$(log_end)
[ -n "$end1" ] && [ "$end1" -ge 3000 ] || fail "log end after the kill: '$end1' ($(cat "$T/check.out"))"
emitted "$T/changes1.jsonl" >"$T/seq1"
n1=$(lines "$T/seq1")
# emitted in order, each once, and never beyond what the log kept
awk -v end="$end1" '{ if ($1 != NR) { print "emitted seq " $1 " at line " NR; exit 1 }
    if ($1 > end) { print "emitted seq " $1 " beyond the log end " end; exit 1 } }' "$T/seq1" >"$T/bad" ||
    fail "run 1: $(cat "$T/bad")"

# restart on the same store with 2000 new assets: the log and the emitted
# changes go on (generate would start over at key-0, which exists already)
for i in $(seq 1 2000); do
    echo "{\"tenant\":\"acme\",\"kind\":\"asset.upsert\",\"body\":{\"qualified_name\":\"snowflake://acme/db/t$i\",\"type\":\"table\"}}"
done >"$T/more.jsonl"
topo "{ kind: jsonl_in, path: $T/more.jsonl }" "$T/changes2.jsonl"
start run2 run "$T/topo.yaml"
wait_exit "$LAST_PID" 60 || fail "second run did not finish"
[ "$RC" = 0 ] || fail "second run exit status $RC"
end2=$(log_end)
[ "$end2" = $((end1 + 2000)) ] || fail "log after the restart: $end1 -> '$end2', expected +2000"
emitted "$T/changes2.jsonl" >"$T/seq2"
# the restarted store emits only what it committed itself: end1+1.., in order
awk -v from="$end1" -v end="$end2" '{ if ($1 != from + NR) { print "emitted seq " $1 " at line " NR " (log end before " from ")"; exit 1 }
    if ($1 > end) { print "emitted seq " $1 " beyond " end; exit 1 } }' "$T/seq2" >"$T/bad" ||
    fail "run 2: $(cat "$T/bad")"
echo "ok: killed with $end1 changes in the log ($n1 emitted), store and log agree; restart went on to $end2"
