#!/usr/bin/env bash
# SIGHUP with a broken file keeps the running topology: events keep
# reaching the output after the attempt, and every error is logged as a
# JSON log line carrying FILE:LINE:COL (the same lines `sluice check`
# prints). A later SIGHUP with a fixed file applies (adds a consumer).
source "$(dirname "$0")/lib.bash"

F="$T/topo.yaml"
put() { # put SOURCE: replace the topology file atomically
    cp "$1" "$F.new" && mv "$F.new" "$F"
}
grows() { [ "$(lines "$1")" -gt "$MARK" ]; }

cat >"$T/good.yaml" <<YAML
version: 1
name: reload-invalid
actors:
  gen:  { kind: generate, rate: 2000, keys: 8, body_bytes: 100 }
  outa: { kind: jsonl_out, inputs: [gen], path: $T/a.jsonl }
YAML
# three errors at known places: 6:17, 7:37 and line 7 (after the path)
cat >"$T/bad.yaml" <<YAML
version: 1
name: reload-invalid
actors:
  gen:  { kind: generate, rate: 2000, keys: 8, body_bytes: 100 }
  outa: { kind: jsonl_out, inputs: [gen], path: $T/a.jsonl }
  outb: { kind: jsonl_outt, inputs: [gen], path: $T/b.jsonl }
  outc: { kind: jsonl_out, inputs: [nosuch], path: $T/c.jsonl, bogus: 1 }
YAML
cat >"$T/fixed.yaml" <<YAML
version: 1
name: reload-invalid
actors:
  gen:  { kind: generate, rate: 2000, keys: 8, body_bytes: 100 }
  outa: { kind: jsonl_out, inputs: [gen], path: $T/a.jsonl }
  outb: { kind: jsonl_out, inputs: [gen], path: $T/b.jsonl }
YAML

put "$T/good.yaml"
start run run "$F"
PID=$LAST_PID
wait_for 20 lines_at_least "$T/a.jsonl" 200 || fail "no events in A"

# 1. broken file: refused, errors logged with FILE:LINE:COL, old topology runs
put "$T/bad.yaml"
if "$SLUICE" check "$F" 2>"$T/check.err"; then fail "check accepted the broken file"; fi
[ "$(wc -l <"$T/check.err")" = 3 ] || fail "check: expected 3 errors, got: $(cat "$T/check.err")"
kill -HUP "$PID"
wait_for 10 log_has "$T/run.log" 'reload refused' || fail "no 'reload refused' log line"
wait_for 10 log_has "$T/run.log" "$F:7:[0-9]+: unknown option 'bogus'" || fail "errors not logged"
while IFS= read -r e; do
    # each line `sluice check` prints appears as one JSON error log line
    grep -F '"level":"error"' "$T/run.log" | grep -qF "\"error\":\"$e\"" ||
        fail "error not logged as a JSON field: $e"
done <"$T/check.err"
grep -F "$F:6:17: unknown actor kind 'jsonl_outt'" "$T/run.log" >/dev/null || fail "6:17 not logged"
grep -F "$F:7:37: input 'nosuch'" "$T/run.log" >/dev/null || fail "7:37 not logged"
if grep -q 'reloaded topology' "$T/run.log"; then fail "a broken file was applied"; fi
kill -0 "$PID" 2>/dev/null || fail "process died on a broken reload"
MARK=$(($(lines "$T/a.jsonl") + 200))
wait_for 20 grows "$T/a.jsonl" || fail "events stopped after the refused reload"
[ ! -e "$T/b.jsonl" ] && [ ! -e "$T/c.jsonl" ] || fail "actors of the broken file were started"

# 2. fixed file: applied
put "$T/fixed.yaml"
kill -HUP "$PID"
wait_for 10 log_has "$T/run.log" "reloaded topology 'reload-invalid': 1 added, 0 changed, 0 removed, 2 unchanged" ||
    fail "the fixed file was not applied"
wait_for 20 lines_at_least "$T/b.jsonl" 200 || fail "the added consumer got no events"

kill -TERM "$PID"
wait_exit "$PID" 30 || fail "did not exit within 30 s of SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
got=$(lines "$T/a.jsonl")
m=$(seq_contiguous "$T/a.jsonl") || fail "A: seq has a gap or a duplicate"
[ "$m" = "$got" ] || fail "A: seq check saw $m of $got"
echo "ok: broken reload refused with 3 located errors; A kept all $got events; fixed reload applied"
