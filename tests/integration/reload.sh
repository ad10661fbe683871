#!/usr/bin/env bash
# SIGHUP adds, then removes, a second consumer while events flow:
#   rated endless generate -> relay -> jsonl_out A
#   reload 1: + jsonl_out B on the relay    reload 2: - B
# then SIGTERM. A must hold seq 0..M-1 with no gap and no duplicate
# (nothing lost on the actors that stay), M at least what the generator
# made before SIGTERM; B got a contiguous run of events starting after the
# add and stopped growing once removed; the log has both reload summary
# lines.
source "$(dirname "$0")/lib.bash"

ADMIN=$(free_port) || fail "no free port"
RATE=4000

write_topo() { # write_topo WITH_B
    {
        cat <<YAML
version: 1
name: reload
admin: 127.0.0.1:$ADMIN
actors:
  gen:  { kind: generate, rate: $RATE, keys: 16, body_bytes: 120 }
  mid:  { kind: relay, inputs: [gen] }
  outa: { kind: jsonl_out, inputs: [mid], path: $T/a.jsonl }
YAML
        if [ "$1" = 1 ]; then
            echo "  outb: { kind: jsonl_out, inputs: [mid], path: $T/b.jsonl }"
        fi
    } >"$T/topo.yaml.new"
    mv "$T/topo.yaml.new" "$T/topo.yaml" # atomic: a reload never sees half a file
}

metric() { # metric NAME ACTOR from a fresh scrape
    curl -s -m 5 "http://127.0.0.1:$ADMIN/metrics" | awk -v n="$1" -v a="$2" '
        index($0, n "{actor=\"" a "\"") == 1 { s += $NF; f = 1 }
        END { if (!f) exit 1; printf "%d\n", s }'
}

grows() { # grows FILE: more lines than $MARK
    [ "$(lines "$1")" -gt "$MARK" ]
}

write_topo 0
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected the first file"
start run run "$T/topo.yaml"
PID=$LAST_PID
wait_for 20 lines_at_least "$T/a.jsonl" 500 || fail "no events in A"

# reload 1: add B
write_topo 1
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected the second file"
kill -HUP "$PID"
wait_for 10 log_has "$T/run.log" "reloaded topology 'reload': 1 added, 0 changed, 0 removed, 3 unchanged" ||
    fail "no summary line for the add"
wait_for 20 lines_at_least "$T/b.jsonl" 1000 || fail "B got no events after the add"
MARK=$(lines "$T/a.jsonl")
wait_for 20 grows "$T/a.jsonl" || fail "A stopped growing after the add"

# reload 2: remove B
write_topo 0
kill -HUP "$PID"
wait_for 10 log_has "$T/run.log" "reloaded topology 'reload': 0 added, 0 changed, 1 removed, 3 unchanged" ||
    fail "no summary line for the removal"
# B flushed on stop and is final; A goes on
B_AFTER=$(lines "$T/b.jsonl")
MARK=$(lines "$T/a.jsonl")
wait_for 20 grows "$T/a.jsonl" || fail "A stopped growing after the removal"
MARK=$(($(lines "$T/a.jsonl") + 1000))
wait_for 20 grows "$T/a.jsonl" || fail "A stopped growing after the removal"
[ "$(lines "$T/b.jsonl")" = "$B_AFTER" ] || fail "B still grows after its removal"

# A rated pipeline drains in about a millisecond, too fast to scrape
# after the signal: what the generator made before it is a lower bound.
MADE=$(metric sluice_events_out_total gen) || fail "cannot read gen's events_out"
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "did not exit within 30 s of SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"

got=$(lines "$T/a.jsonl")
m=$(seq_contiguous "$T/a.jsonl") || fail "A: seq has a gap or a duplicate"
[ "$m" = "$got" ] || fail "A: seq check saw $m of $got"
[ "$got" -ge "$MADE" ] || fail "A: generator made $MADE events before SIGTERM, A holds only $got"
check_order "$T/a.jsonl" >/dev/null || fail "A: per-key order broken"

# B: a contiguous run that starts after the add (not at seq 0)
b_first=$(head -n1 "$T/b.jsonl" | grep -o '"seq": *[0-9]*' | grep -o '[0-9]*$')
[ "$b_first" -gt 0 ] || fail "B's first event has seq $b_first: not after the add"
b_n=$(lines "$T/b.jsonl")
awk -v first="$b_first" '{ match($0, /"seq": *[0-9]+/); s = substr($0, RSTART, RLENGTH); sub(/"seq": */, "", s)
    if (s + 0 != first + NR - 1) { print "B: seq " s " at line " NR > "/dev/stderr"; exit 1 } }' "$T/b.jsonl" ||
    fail "B's events are not one contiguous run"
echo "ok: A holds all $got events (0..$((got - 1))); B got $b_n events from seq $b_first"
