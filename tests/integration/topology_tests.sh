#!/usr/bin/env bash
# `sluice test TOPOLOGY TESTS.yaml`: passing and deliberately failing tests
# files against small topologies (exit codes and the report), invalid tests
# files (exit 2, FILE:LINE:COL), and the tests shipped with every topology
# of deploy/topologies.
source "$(dirname "$0")/lib.bash"

D="$SL_SOURCE_DIR/tests/topology/tests"

expect_rc() {
    local want=$1 name=$2 rc=0
    shift 2
    "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    [ "$rc" = "$want" ] || fail "$name: '$*' exited $rc, expected $want (stdout: $(head -c 1500 "$T/$name.out") stderr: $(head -c 600 "$T/$name.err"))"
}
has() { grep -qE -- "$2" "$T/$1" || fail "$1 lacks /$2/: $(head -c 1500 "$T/$1")"; }
hasnt() { ! grep -qE -- "$2" "$T/$1" || fail "$1 has /$2/: $(head -c 1500 "$T/$1")"; }

# --- usage ------------------------------------------------------------------
expect_rc 0 help "$SLUICE" test --help
has help.out "usage: sluice test TOPOLOGY TESTS"
expect_rc 2 noargs "$SLUICE" test
expect_rc 2 onearg "$SLUICE" test "$D/relay_chain.yaml"
expect_rc 2 extra "$SLUICE" test "$D/relay_chain.yaml" "$D/relay_chain.tests.yaml" x
expect_rc 2 badflag "$SLUICE" test --bogus "$D/relay_chain.yaml" "$D/relay_chain.tests.yaml"

# --- passing tests: relay chain ---------------------------------------------
expect_rc 0 pass "$SLUICE" test "$D/relay_chain.yaml" "$D/relay_chain.tests.yaml"
has pass.out "^pass  events pass the chain unchanged \("
has pass.out "^pass  a source is replaced by the test's events "
has pass.out "^5 passed, 0 failed$"
hasnt pass.out "FAIL"
# --test runs one test only
expect_rc 0 one "$SLUICE" test "$D/relay_chain.yaml" "$D/relay_chain.tests.yaml" --test "two inputs at the same actor"
has one.out "^1 passed, 0 failed$"
expect_rc 2 one_missing "$SLUICE" test "$D/relay_chain.yaml" "$D/relay_chain.tests.yaml" --test nosuch
has one_missing.err "no test named 'nosuch'"

# --- failing tests: exit 1 and a readable diff ------------------------------
F="$D/relay_chain.failing.tests.yaml"
expect_rc 1 failing "$SLUICE" test "$D/relay_chain.yaml" "$F"
has failing.out "^FAIL  wrong count and value \($F:4:5\)$"
has failing.out "^  output 'c' \($F:10:16\):$"
has failing.out "^    condition $F:12:13: count 2$"
has failing.out "^      expected: 2 events$"
has failing.out "^      got:      1 event$"
has failing.out "^    condition $F:13:13: body.tag equals \"pii\"$"
has failing.out "^      expected: \"pii\"$"
has failing.out "^      got:      \"public\" \(event 0 of 1\)$"
has failing.out "^    condition $F:14:13: body.tag absent$"
has failing.out "^    condition $F:15:13: body.owner exists$"
has failing.out "^      got:      \(absent\) \(event 0 of 1\)$"
has failing.out "^    condition $F:16:13: event 3: kind equals \"tag.set\"$"
has failing.out "^      expected: an event at that index$"
has failing.out "^    events from c:$"
has failing.out '^      \[0\] \{.*"body":\{"tag":"public"\}\}$'
has failing.out "^FAIL  something came out "
has failing.out "^  no_output 'c' \($F:25:17\):$"
has failing.out "^    expected: no events$"
has failing.out "^pass  this one passes "
has failing.out "^1 passed, 2 failed$"
# conditions that held are not reported
[ "$(grep -c '^    condition ' "$T/failing.out")" = 5 ] || fail "expected 5 failed conditions: $(cat "$T/failing.out")"

# --- invalid tests files: exit 2, every error located -----------------------
B="$D/relay_chain.invalid.tests.yaml"
expect_rc 2 invalid "$SLUICE" test "$D/relay_chain.yaml" "$B"
if grep -vE "^$B:[0-9]+:[0-9]+: .+" "$T/invalid.err"; then
    fail "error lines not FILE:LINE:COL: message"
fi
has invalid.err "^$B:5:9: input: expected a list of events$"
has invalid.err "^$B:6:16: no actor 'ghost' in topology 'relay-chain'$"
has invalid.err "^$B:7:18: event: .*kind"
has invalid.err "^$B:9:16: actor 'a' \(relay\) has no output 'nope'$"
has invalid.err "^$B:10:23: condition: unknown key 'equal'$"
has invalid.err "^$B:12:30: count: expected an integer >= 0$"
has invalid.err "^$B:12:35: condition: expected exactly one of equals, exists, absent, count$"
has invalid.err "^$B:13:17: actor 'out' \(jsonl_out\) is a sink: nothing comes out of it to assert on$"
has invalid.err "^$B:14:5: test: unknown key 'output'$"
has invalid.err "^$B:15:5: duplicate test name 'first'$"
sort -s -t: -k2,2n -k3,3n "$T/invalid.err" | cmp -s - "$T/invalid.err" || fail "errors not in file order: $(cat "$T/invalid.err")"
[ "$(wc -l <"$T/invalid.err")" = 10 ] || fail "expected 10 errors: $(cat "$T/invalid.err")"
printf 'tests:\n  - name: x\n    inputs: [\n' >"$T/broken.yaml"
expect_rc 2 broken "$SLUICE" test "$D/relay_chain.yaml" "$T/broken.yaml"
has broken.err "^$T/broken.yaml:[0-9]+:[0-9]+: invalid YAML"
expect_rc 2 missing "$SLUICE" test "$D/relay_chain.yaml" "$T/nosuch.yaml"
has missing.err "^$T/nosuch.yaml:0:0: cannot open"
# an invalid topology is reported as `sluice check` does
printf 'version: 1\nname: x\nactors:\n  a: { kind: nosuch }\n' >"$T/badtopo.yaml"
expect_rc 2 badtopo "$SLUICE" test "$T/badtopo.yaml" "$D/relay_chain.tests.yaml"
has badtopo.err "^$T/badtopo.yaml:4:14: unknown actor kind 'nosuch'"

# --- a test that cannot run: an output not downstream of its inputs ---------
cat >"$T/upstream.tests.yaml" <<'YAML'
tests:
  - name: asserts upstream
    inputs: [{actor: c, events: [{"tenant": "t", "kind": "tag.set", "body": {}}]}]
    outputs: [{actor: a, conditions: [{count: 0}]}]
YAML
expect_rc 1 upstream "$SLUICE" test "$D/relay_chain.yaml" "$T/upstream.tests.yaml"
has upstream.out "output 'a' is not downstream of any input of the test"

# --- every other example and every shipped topology passes ------------------
# from the source directory: topologies name schemas/ relative to it
cd "$SL_SOURCE_DIR"
# transform rules, schema rejections and the store, behind a replaced ingest
expect_rc 0 pipeline "$SLUICE" test "$D/pipeline.yaml" "$D/pipeline.tests.yaml"
has pipeline.out "^4 passed, 0 failed$"
for tf in "$D"/*.tests.yaml; do
    case "$tf" in *.failing.tests.yaml | *.invalid.tests.yaml) continue ;; esac
    topo="${tf%.tests.yaml}.yaml"
    expect_rc 0 example "$SLUICE" test "$topo" "$tf"
    has example.out " 0 failed$"
    hasnt example.out "^FAIL"
done
n=0
for topo in "$SL_SOURCE_DIR"/deploy/topologies/*.yaml; do
    case "$topo" in *.tests.yaml) continue ;; esac
    tf="${topo%.yaml}.tests.yaml"
    [ -f "$tf" ] || fail "$topo ships without tests ($tf)"
    expect_rc 0 deploy "$SLUICE" test "$topo" "$tf"
    has deploy.out " 0 failed$"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no topology in deploy/topologies"
echo "ok: sluice test: usage, passing, failing (diff), invalid (located), examples, $n shipped topologies"
