#!/usr/bin/env bash
# Links between nodes in shared tenancy: CurveZMQ with one key pair per
# tenant. Node b's relay (2 workers) binds one endpoint per worker and
# tenant with keys (acme, globex). Before node a starts, knocks on b's
# doors from outside with tools/zmq_producer --push:
#   - acme's key on globex's endpoint (globex's server key): refused by the
#     ZAP handler, counted for globex, nothing delivered;
#   - a key no tenant has: refused, counted;
#   - acme's key on acme's endpoint, one event stamped globex and one
#     stamped acme: the globex one is dropped and counted, the acme one
#     goes through.
# Then node a runs: acme's and globex's generators reach a's sink through
# b over their own keys (exact counts); a third tenant without keys cannot
# cross (counted, warned, none arrives); both nodes exit 0.
source "$(dirname "$0")/lib.bash"

PRODUCER=${SL_BUILD_DIR:?}/zmq_producer
NA=2000
NG=1500
PA=$(free_ports 8) || fail "no free ports for node a"
PB=$(free_ports 4) || fail "no free ports for node b"
[ $((PA + 8)) -le "$PB" ] || [ $((PB + 4)) -le "$PA" ] || fail "port ranges overlap ($PA, $PB): rerun"
ADMIN_A=$(free_port) || fail "no free port"
ADMIN_B=$(free_port) || fail "no free port"
[ "$ADMIN_A" != "$ADMIN_B" ] || fail "admin ports collide: rerun"
keygen acme globex
"$SLUICE" keygen --tenant acme --dir "$T/rogue" >/dev/null || fail "keygen rogue"
cat >"$T/topo.yaml" <<YAML
version: 1
name: curve-links
tenants:
  acme: { keys: keys/acme }
  globex: { keys: keys/globex }
  nokeys:
nodes:
  a: { host: 127.0.0.1, port: $PA, admin: 127.0.0.1:$ADMIN_A }
  b: { host: 127.0.0.1, port: $PB, admin: 127.0.0.1:$ADMIN_B }
actors:
  ga:  { kind: generate, node: a, count: $NA, keys: 16, tenant: acme }
  gg:  { kind: generate, node: a, count: $NG, keys: 16, tenant: globex }
  gn:  { kind: generate, node: a, count: 50, keys: 4, tenant: nokeys }
  hop: { kind: relay, node: b, inputs: [ga, gg, gn], workers: 2 }
  out: { kind: jsonl_out, node: a, inputs: [hop], path: $T/out.jsonl }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected a valid file"
"$SLUICE" check "$T/topo.yaml" | grep -q "Z85\|secret" && fail "check prints key material"

# hop/0 binds PB (acme) and PB+1 (globex); hop/1 PB+2 and PB+3
start b run "$T/topo.yaml" --node b
PID_B=$LAST_PID
MB="http://127.0.0.1:$ADMIN_B/metrics"
wait_for 20 bash -c "curl -fs -m 2 http://127.0.0.1:$ADMIN_B/readyz >/dev/null" || fail "node b not ready"

ev() { echo "{\"tenant\":\"$1\",\"kind\":\"tag.set\",\"body\":{\"qualified_name\":\"spoof://$1/$2\",\"tag\":\"x\",\"seq\":$3}}"; }

# A's key on B's link: refused (exit 3), counted for globex, nothing delivered
rc=0
ev acme door 900001 | "$PRODUCER" --push --endpoint "tcp://127.0.0.1:$((PB + 1))" --keys "$T/keys/acme" \
    --tenant acme --server-key "$(public_key globex)" --timeout 5000 >"$T/p1.out" 2>"$T/p1.err" || rc=$?
[ "$rc" = 3 ] || fail "acme's key on globex's endpoint: exit $rc, expected 3 (refused): $(cat "$T/p1.err")"
grep -q "denied by the server's ZAP handler" "$T/p1.err" || fail "no ZAP refusal reported: $(cat "$T/p1.err")"
[ "$(metric "$MB" sluice_curve_refused_total 'tenant="globex"')" = 1 ] || fail "refusal not counted for globex"
wait_for 5 log_has "$T/b.log" "refused on tenant 'globex' endpoints" || fail "refusal not logged"

# a key of no tenant: refused
rc=0
ev acme rogue 900002 | "$PRODUCER" --push --endpoint "tcp://127.0.0.1:$PB" --keys "$T/rogue" \
    --tenant acme --server-key "$(public_key acme)" --timeout 5000 >/dev/null 2>"$T/p2.err" || rc=$?
[ "$rc" = 3 ] || fail "unknown key: exit $rc, expected 3: $(cat "$T/p2.err")"
[ "$(metric "$MB" sluice_curve_refused_total 'tenant="acme"')" = 1 ] || fail "unknown key not counted"

# an event stamped globex on acme's link: dropped and counted; acme's passes
{ ev globex spoof 900003; ev acme ok 900004; } | "$PRODUCER" --push --endpoint "tcp://127.0.0.1:$PB" \
    --keys "$T/keys/acme" --tenant acme --timeout 5000 >"$T/p3.out" 2>"$T/p3.err" ||
    fail "acme's key on acme's endpoint was refused: $(cat "$T/p3.err")"
mismatch() { [ "$(metric "$MB" sluice_link_tenant_mismatch_total 'actor="hop",kind="relay",worker="0"')" = "$1" ]; }
wait_for 10 mismatch 1 || fail "the spoofed event was not counted (mismatch $(metric "$MB" sluice_link_tenant_mismatch_total 'actor="hop",kind="relay",worker="0"'))"
wait_for 5 log_has "$T/b.log" "dropped an event of tenant 'globex' that came over tenant 'acme''s CURVE link" ||
    fail "spoof not logged"
passed() { [ "$(metric "$MB" sluice_events_out_total 'actor="hop",kind="relay",worker="0"')" = 1 ]; }
wait_for 5 passed || fail "acme's event was not passed on"
[ "$(metric "$MB" sluice_events_dropped_total 'actor="hop",kind="relay",worker="0"')" = 1 ] || fail "dropped not 1"

# now node a: the generators cross over their own keys
start a run "$T/topo.yaml" --node a
PID_A=$LAST_PID
# (a finishes by itself, too soon to scrape: its log and output say what
# happened to the tenant without keys; test_engine counts it exactly)
wait_exit "$PID_A" 60 || fail "node a did not finish"
[ "$RC" = 0 ] || fail "node a exit status $RC"
wait_exit "$PID_B" 60 || fail "node b did not finish"
[ "$RC" = 0 ] || fail "node b exit status $RC"

got_a=$(grep -c '"tenant":"acme"' "$T/out.jsonl" || true)
got_g=$(grep -c '"tenant":"globex"' "$T/out.jsonl" || true)
got_n=$(grep -c '"tenant":"nokeys"' "$T/out.jsonl" || true)
[ "$got_a" = $((NA + 1)) ] || fail "acme: expected $((NA + 1)) events (generated + the one pushed), got $got_a"
[ "$got_g" = "$NG" ] || fail "globex: expected $NG events, got $got_g"
[ "$got_n" = 0 ] || fail "tenant without keys crossed a CURVE link ($got_n events)"
grep -q 'spoof://globex' "$T/out.jsonl" && fail "the spoofed event arrived"
grep -q '"qualified_name":"spoof://acme/ok"' "$T/out.jsonl" || fail "the pushed acme event is missing"
grep -q '"qualified_name":"spoof://acme/door"\|"qualified_name":"spoof://acme/rogue"' "$T/out.jsonl" &&
    fail "an event of a refused connection arrived"
log_has "$T/a.log" "an event of tenant 'nokeys' not sent to hop/[01]: the tenant has no key" ||
    fail "no warning for the tenant without keys"
grep -hq "secret-key\|cert_secret" "$T/a.log" "$T/b.log" && fail "a log names secret key material"
echo "ok: ZAP refused a foreign and an unknown key, a spoofed event was dropped and counted, $got_a + $got_g events crossed over their tenants' keys"
