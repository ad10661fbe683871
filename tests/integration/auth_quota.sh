#!/usr/bin/env bash
# Per-tenant quotas in shared tenancy, with the real binary: acme's events
# per second (a token bucket) answered 429 with Retry-After once spent, a
# batch larger than the burst 429 at once; beta's store size measured from
# the store and, once over, writes answered 429 with the reason while
# deletes still pass; the other tenant unaffected; refusals counted.
source "$(dirname "$0")/lib.bash"

P=$(free_ports 2) || fail "no free ports"
IN=$P ADMIN=$((P + 1))
B="http://127.0.0.1:$IN"
cat >"$T/topo.yaml" <<YAML
version: 1
name: auth-quota
store: { path: $T/store }
admin: 127.0.0.1:$ADMIN
auth: { tokens: true }
actors:
  http:
    kind: http_ingest
    listen: 127.0.0.1:$IN
    quotas:
      size_interval: 100ms
      tenants:
        acme: { events_per_second: 0.01, burst: 3 }
        beta: { store_size: 1KiB }
  store: { kind: store, inputs: [http] }
YAML
"$SLUICE" check "$T/topo.yaml" >"$T/check.out" 2>&1 || fail "topology invalid: $(cat "$T/check.out")"
sed 's/burst: 3/burst: 0/' "$T/topo.yaml" >"$T/bad.yaml"
"$SLUICE" check "$T/bad.yaml" >"$T/bad.out" 2>&1 && fail "burst 0 accepted"
grep -q 'burst' "$T/bad.out" || fail "bad quota: $(cat "$T/bad.out")"
A=$("$SLUICE" token create "$T/topo.yaml" --tenant acme --role writer 2>/dev/null) || fail "token"
BT=$("$SLUICE" token create "$T/topo.yaml" --tenant beta --role writer 2>/dev/null) || fail "token"
start run run "$T/topo.yaml"
PID=$LAST_PID

post() { # TOKEN FILE: CODE, body in $T/p.body, headers in $T/p.head
    CODE=$(curl -s -m 10 -o "$T/p.body" -D "$T/p.head" -w '%{http_code}' -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' --data-binary "@$2" "$B/v1/events" 2>/dev/null) || CODE=000
}
pbody() { cat "$T/p.body"; }
evs() { # FILE N PREFIX [KIND]
    local i
    printf '[' >"$1"
    for i in $(seq 1 "$2"); do
        [ "$i" = 1 ] || printf ',' >>"$1"
        printf '{"kind":"%s","body":{"qualified_name":"%s%d","type":"table","description":"%0200d"}}' \
            "${4:-asset.upsert}" "$3" "$i" 0 >>"$1"
    done
    printf ']' >>"$1"
}
up() { post "" /dev/null && [ "$CODE" = 401 ]; }
wait_for 30 up || fail "ingest not up ($CODE)"

# --- acme: a batch over the burst, the burst, then one more
evs "$T/a4.json" 4 db://acme/a
post "$A" "$T/a4.json"
[ "$CODE" = 429 ] || fail "4 events over a burst of 3: $CODE $(pbody)"
grep -q 'exceed its burst' "$T/p.body" || fail "429 reason: $(pbody)"
evs "$T/a3.json" 3 db://acme/b
post "$A" "$T/a3.json"
[ "$CODE" = 202 ] || fail "3 events within the burst: $CODE $(pbody)"
evs "$T/a1.json" 1 db://acme/c
post "$A" "$T/a1.json"
[ "$CODE" = 429 ] || fail "over the rate: $CODE $(pbody)"
grep -qi '^Retry-After: [1-9][0-9]*' "$T/p.head" || fail "429 without Retry-After: $(cat "$T/p.head")"
grep -q '"code":"rate_quota"' "$T/p.body" || fail "429 body: $(pbody)"

# --- beta: under its size at first, then over it (1 KiB): 429; deletes pass
evs "$T/b1.json" 3 db://beta/x
post "$BT" "$T/b1.json"
[ "$CODE" = 202 ] || fail "beta's first write: $CODE $(pbody)"
n=0
over() {
    n=$((n + 1))
    evs "$T/bn.json" 1 "db://beta/more$n-"
    post "$BT" "$T/bn.json"
    [ "$CODE" = 429 ]
}
wait_for 30 over || fail "beta never over its store size: $CODE $(pbody)"
grep -q '"code":"store_quota"' "$T/p.body" || fail "429 body: $(pbody)"
grep -q "tenant 'beta' uses [0-9]* bytes of the store, at or over its quota of 1024" "$T/p.body" ||
    fail "429 reason: $(pbody)"
evs "$T/bdel.json" 1 db://beta/x asset.delete
post "$BT" "$T/bdel.json"
[ "$CODE" = 202 ] || fail "a delete while over the size: $CODE $(pbody)"
# acme is not affected by beta's size, nor beta by acme's rate
"$SLUICE" token create "$T/topo.yaml" --tenant gamma --role writer >"$T/g.tok" 2>/dev/null || fail "token"
evs "$T/g.json" 50 db://gamma/g
post "$(cat "$T/g.tok")" "$T/g.json"
[ "$CODE" = 202 ] || fail "a tenant without quotas: $CODE $(pbody)"

curl -s -m 5 "http://127.0.0.1:$ADMIN/metrics" >"$T/metrics.txt" || fail "no /metrics"
grep -q '^sluice_quota_refused_total{listener="http",tenant="acme",quota="events_per_second"} 2$' "$T/metrics.txt" ||
    fail "rate refusals not counted: $(grep quota "$T/metrics.txt")"
grep -q '^sluice_quota_refused_total{listener="http",tenant="beta",quota="store_size"} [1-9]' "$T/metrics.txt" ||
    fail "size refusals not counted"
grep -q 'tenant beta is at or over its store quota' "$T/run.log" || fail "size crossing not logged"
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
echo "auth_quota: ok"
