#!/usr/bin/env bash
# Isolated tenancy: one topology file, `sluice run FILE --node N --tenant T`
# runs tenant T's own copy: its own key pair on every link, its own store
# (<store path>/T) and journal, its own ports (moved by its port_offset).
# Two tenants, two nodes each (4 processes): zmq_ingest on a -> relay on b
# -> store on a. Each tenant's events land in its store only; a tenant's
# key is refused on the other tenant's ingest and links; the file cannot
# run without --tenant; all four drain and exit 0.
source "$(dirname "$0")/lib.bash"

PRODUCER=${SL_BUILD_DIR:?}/zmq_producer
BASE=$(free_ports 140) || fail "no free ports"
PA=$BASE PB=$((BASE + 10)) PZ=$((BASE + 20)) ADMIN_A=$((BASE + 30)) ADMIN_B=$((BASE + 31))
OFF=100 # globex's port_offset
keygen acme globex
cat >"$T/topo.yaml" <<YAML
version: 1
name: isolated
store: { path: $T/var }
tenancy: isolated
tenants:
  acme: { keys: keys/acme }
  globex: { keys: keys/globex, port_offset: $OFF }
nodes:
  a: { host: 127.0.0.1, port: $PA, admin: 127.0.0.1:$ADMIN_A }
  b: { host: 127.0.0.1, port: $PB, admin: 127.0.0.1:$ADMIN_B }
actors:
  zin: { kind: zmq_ingest, node: a, listen: 127.0.0.1:$PZ }
  hop: { kind: relay, node: b, inputs: [zin] }
  st:  { kind: store, node: a, inputs: [hop] }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected the file"
"$SLUICE" check "$T/topo.yaml" --tenant globex >/dev/null || fail "check --tenant globex rejected the file"
rc=0
"$SLUICE" check "$T/topo.yaml" --tenant initech 2>"$T/check.err" >/dev/null || rc=$?
[ "$rc" = 1 ] || fail "check --tenant initech: exit $rc"
grep -q "topo.yaml:[0-9]*:[0-9]*: --tenant initech: no such tenant in tenants (acme, globex)" "$T/check.err" ||
    fail "unclear error: $(cat "$T/check.err")"
rc=0
"$SLUICE" run "$T/topo.yaml" --node a 2>"$T/notenant.err" || rc=$?
[ "$rc" = 2 ] || fail "run of an isolated file without --tenant: exit $rc, expected 2"
grep -q "tenancy: isolated.*--tenant" "$T/notenant.err" || fail "unclear message: $(cat "$T/notenant.err")"

for t in acme globex; do
    start "$t-b" run "$T/topo.yaml" --node b --tenant "$t"
    eval "PID_${t}_b=\$LAST_PID"
    start "$t-a" run "$T/topo.yaml" --node a --tenant "$t"
    eval "PID_${t}_a=\$LAST_PID"
done
ready() { curl -fs -m 2 "http://127.0.0.1:$1/readyz" >/dev/null; }
for p in $ADMIN_A $ADMIN_B $((ADMIN_A + OFF)) $((ADMIN_B + OFF)); do
    wait_for 30 ready "$p" || fail "admin $p not ready"
done
log_has "$T/globex-a.log" "zmq_ingest on tcp://127.0.0.1:$((PZ + OFF)) \(globex\)" ||
    fail "globex's ingest is not on its own port"

upsert() { echo "{\"kind\":\"asset.upsert\",\"body\":{\"qualified_name\":\"iso://$1/t$2\",\"type\":\"table\",\"name\":\"t$2\"}}"; }
for i in $(seq 1 20); do upsert acme "$i"; done |
    "$PRODUCER" --endpoint "tcp://127.0.0.1:$PZ" --keys "$T/keys/acme" --tenant acme --batch 4 >/dev/null ||
    fail "acme's events refused by acme's ingest"
for i in $(seq 1 15); do upsert globex "$i"; done |
    "$PRODUCER" --endpoint "tcp://127.0.0.1:$((PZ + OFF))" --keys "$T/keys/globex" --tenant globex --batch 5 >/dev/null ||
    fail "globex's events refused by globex's ingest"

# acme's key on globex's ingest and on globex's link (hop binds PB + OFF)
rc=0
upsert acme 99 | "$PRODUCER" --endpoint "tcp://127.0.0.1:$((PZ + OFF))" --keys "$T/keys/acme" --tenant acme \
    --server-key "$(public_key globex)" --timeout 5000 >/dev/null 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "acme's key on globex's ingest: exit $rc, expected 3"
rc=0
echo '{"tenant":"acme","kind":"asset.upsert","body":{"qualified_name":"iso://acme/t98","type":"table"}}' |
    "$PRODUCER" --push --endpoint "tcp://127.0.0.1:$((PB + OFF))" --keys "$T/keys/acme" --tenant acme \
        --server-key "$(public_key globex)" --timeout 5000 >/dev/null 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "acme's key on globex's link: exit $rc, expected 3"
[ "$(metric "http://127.0.0.1:$((ADMIN_A + OFF))/metrics" sluice_curve_refused_total 'tenant="globex"')" = 1 ] ||
    fail "refusal not counted on globex's node a"
[ "$(metric "http://127.0.0.1:$((ADMIN_B + OFF))/metrics" sluice_curve_refused_total 'tenant="globex"')" = 1 ] ||
    fail "refusal not counted on globex's node b"

# each tenant's store holds its events only
for t in acme globex; do
    printf 'version: 1\nname: s\nstore: { path: %s }\nactors:\n  g: { kind: generate, count: 1 }\n  b: { kind: blackhole, inputs: [g] }\n' \
        "$T/var/$t" >"$T/store-$t.yaml"
done
assets() { # assets STORE_TENANT EVENT_TENANT
    "$SLUICE" store stats "$T/store-$1.yaml" 2>/dev/null | tr -d ' \n' |
        sed -n "s/.*\"$2\":{\"assets\":\([0-9]*\).*/\1/p"
}
wait_for 30 bash -c "[ \"\$(\"$SLUICE\" store stats \"$T/store-acme.yaml\" 2>/dev/null | tr -d ' \n' | sed -n 's/.*\"acme\":{\"assets\":\([0-9]*\).*/\1/p')\" = 20 ]" ||
    fail "acme's store: $(assets acme acme) assets, expected 20"
wait_for 30 bash -c "[ \"\$(\"$SLUICE\" store stats \"$T/store-globex.yaml\" 2>/dev/null | tr -d ' \n' | sed -n 's/.*\"globex\":{\"assets\":\([0-9]*\).*/\1/p')\" = 15 ]" ||
    fail "globex's store: $(assets globex globex) assets, expected 15"
[ -z "$(assets acme globex)" ] || fail "globex's events in acme's store"
[ -z "$(assets globex acme)" ] || fail "acme's events in globex's store"
[ -d "$T/var/acme/journal-zin" ] && [ -d "$T/var/globex/journal-zin" ] || fail "journals are not per tenant"
[ ! -e "$T/var/data.mdb" ] || fail "something used the shared store path"

for t in acme globex; do
    eval "pa=\$PID_${t}_a pb=\$PID_${t}_b"
    kill -TERM "$pa"
    wait_exit "$pa" 30 || fail "$t: node a did not drain"
    [ "$RC" = 0 ] || fail "$t: node a exit status $RC"
    wait_exit "$pb" 30 || { kill -TERM "$pb"; wait_exit "$pb" 30 || fail "$t: node b did not exit"; }
    [ "$RC" = 0 ] || fail "$t: node b exit status $RC"
done
echo "ok: two tenants isolated (own keys, ports and stores), cross-tenant keys refused"
