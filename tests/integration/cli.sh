#!/usr/bin/env bash
# The command line: exit codes, usage, error format, `actors` reference,
# and the ways `run` refuses to start.
source "$(dirname "$0")/lib.bash"

# expect_rc WANT NAME CMD...: run CMD, stdout/stderr in $T/NAME.out/.err
expect_rc() {
    local want=$1 name=$2 rc=0
    shift 2
    "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    [ "$rc" = "$want" ] || fail "$name: '$*' exited $rc, expected $want (stderr: $(head -c 400 "$T/$name.err"))"
}
has() { grep -qE -- "$2" "$T/$1" || fail "$1 lacks /$2/: $(head -c 400 "$T/$1")"; }

# --- check -----------------------------------------------------------------
cat >"$T/good.yaml" <<YAML
version: 1
name: cli-good
actors:
  gen: { kind: generate, count: 10 }
  out: { kind: jsonl_out, inputs: [gen], path: $T/out.jsonl }
YAML
cat >"$T/bad.yaml" <<'YAML'
version: 1
name: cli-bad
actors:
  gen: { kind: generate, count: ten }
  out: { kind: jsonl_out, inputs: [gen, ghost] }
YAML
expect_rc 0 check_ok "$SLUICE" check "$T/good.yaml"
has check_ok.out "ok: topology 'cli-good', 2 actors"
expect_rc 1 check_bad "$SLUICE" check "$T/bad.yaml"
[ -s "$T/check_bad.err" ] || fail "check printed no error"
# every error line is FILE:LINE:COL: message, and all errors are reported
if grep -vE "^$T/bad\.yaml:[0-9]+:[0-9]+: .+" "$T/check_bad.err"; then
    fail "error lines not FILE:LINE:COL: message"
fi
has check_bad.err "^$T/bad\.yaml:4:33: .*count.*'ten'"
has check_bad.err "^$T/bad\.yaml:5:41: .*ghost"
has check_bad.err "^$T/bad\.yaml:5:3: .*path"
[ "$(wc -l <"$T/check_bad.err")" = 3 ] || fail "expected 3 errors: $(cat "$T/check_bad.err")"
expect_rc 1 check_missing "$SLUICE" check "$T/nosuch.yaml"
has check_missing.err "^$T/nosuch\.yaml:[0-9]+:[0-9]+: "
expect_rc 2 check_noargs "$SLUICE" check
has check_noargs.err "usage: sluice check"
expect_rc 2 check_extra "$SLUICE" check "$T/good.yaml" "$T/good.yaml"
expect_rc 2 check_flag "$SLUICE" check --bogus
# the committed corpus of broken files: each exits 1 with located errors
for f in "$SL_SOURCE_DIR"/tests/topology/bad/*.yaml; do
    [ -f "$f" ] || continue
    expect_rc 1 corpus "$SLUICE" check "$f"
    [ -s "$T/corpus.err" ] || fail "$f: no error printed"
    if grep -vE '^[^:]+:[0-9]+:[0-9]+: .+' "$T/corpus.err"; then
        fail "$f: error lines not FILE:LINE:COL: message"
    fi
done

# --- help and usage -------------------------------------------------------
for cmd in check run actors version; do
    expect_rc 0 "help_$cmd" "$SLUICE" "$cmd" --help
    has "help_$cmd.out" "^usage: sluice $cmd"
    expect_rc 0 "h_$cmd" "$SLUICE" "$cmd" -h
    has "h_$cmd.out" "^usage: sluice $cmd"
done
expect_rc 0 help_top "$SLUICE" --help
for cmd in check run actors version; do
    has help_top.out "^  $cmd"
done
expect_rc 0 help_word "$SLUICE" help
has help_word.out "^usage: sluice COMMAND"
expect_rc 2 noargs "$SLUICE"
has noargs.err "^usage: sluice COMMAND"
expect_rc 2 unknown "$SLUICE" frobnicate
has unknown.err "unknown command 'frobnicate'"
expect_rc 2 run_noargs "$SLUICE" run
has run_noargs.err "usage: sluice run"
expect_rc 2 run_badflag "$SLUICE" run "$T/good.yaml" --bogus
has run_badflag.err "unexpected argument '--bogus'"
expect_rc 2 run_badlevel "$SLUICE" run "$T/good.yaml" --log-level loud
expect_rc 2 run_baddrain "$SLUICE" run "$T/good.yaml" --drain-timeout -1

# --- version --------------------------------------------------------------
expect_rc 0 version "$SLUICE" version
has version.out '^sluice [0-9]+\.[0-9]+\.[0-9]+'
expect_rc 0 dashversion "$SLUICE" --version
cmp -s "$T/version.out" "$T/dashversion.out" || fail "--version differs from version"
expect_rc 2 version_extra "$SLUICE" version extra

# --- actors ---------------------------------------------------------------
expect_rc 0 actors "$SLUICE" actors
# every actor folder is a registered kind, listed
for d in "$SL_SOURCE_DIR"/actors/*/; do
    k=$(basename "$d")
    has actors.out "^$k\$"
done
[ "$(grep -cE '^[a-z_]+$' "$T/actors.out")" = "$(find "$SL_SOURCE_DIR/actors" -mindepth 1 -maxdepth 1 -type d | wc -l)" ] ||
    fail "actors lists a kind that has no folder: $(grep -E '^[a-z_]+$' "$T/actors.out" | tr '\n' ' ')"
expect_rc 0 actors_gen "$SLUICE" actors generate
has actors_gen.out '^generate$'
has actors_gen.out 'none \(a source\)'
has actors_gen.out '^    count +integer +default 0 '
has actors_gen.out '^    rate +number +default 0 '
has actors_gen.out '^    tenant +string +default default '
has actors_gen.out '^    event_kind +string +default tag\.set '
has actors_gen.out '^    body_bytes +size +default 300 '
has actors_gen.out '^    keys +integer +default 16 '
expect_rc 0 actors_out "$SLUICE" actors jsonl_out
has actors_out.out '^    path +string +required '
has actors_out.out 'none \(a sink\)'
expect_rc 1 actors_unknown "$SLUICE" actors nosuch
has actors_unknown.err "unknown actor kind 'nosuch'"
has actors_unknown.err "generate"
expect_rc 2 actors_extra "$SLUICE" actors generate relay

# --- run refuses to start ---------------------------------------------------
cat >"$T/badinit.yaml" <<YAML
version: 1
name: bad-init
actors:
  src: { kind: jsonl_in, path: $T/missing/in.jsonl }
  out: { kind: jsonl_out, inputs: [src], path: $T/o.jsonl }
YAML
expect_rc 0 badinit_check "$SLUICE" check "$T/badinit.yaml" # valid: fails only at init
start badinit run "$T/badinit.yaml"
wait_exit "$LAST_PID" 20 || fail "run with a failing init did not exit"
[ "$RC" = 1 ] || fail "run with a failing init exited $RC, expected 1"
grep -qE "^sluice run: .*actor 'src' \(jsonl_in\).*fail" "$T/badinit.log" ||
    fail "no plain message naming the actor: $(cat "$T/badinit.log")"
grep -qF "$T/missing/in.jsonl" "$T/badinit.log" || fail "the reason (missing path) is not logged"

expect_rc 1 run_invalid "$SLUICE" run "$T/bad.yaml"
has run_invalid.err "^$T/bad\.yaml:4:33: "

cat >"$T/nodes.yaml" <<YAML
version: 1
name: with-nodes
nodes:
  a: { host: 127.0.0.1 }
actors:
  gen: { kind: generate, node: a, count: 1 }
  out: { kind: blackhole, node: a, inputs: [gen] }
YAML
start nosuch run "$T/nodes.yaml" --node nosuch
wait_exit "$LAST_PID" 20 || fail "run --node nosuch did not exit"
[ "$RC" != 0 ] || fail "run --node nosuch exited 0"
grep -qF "declares no node 'nosuch'" "$T/nosuch.log" || fail "no clear message for --node nosuch: $(cat "$T/nosuch.log")"
echo "ok: check/run/actors/version exit codes, usage, error format, actors reference"
