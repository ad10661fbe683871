#!/usr/bin/env bash
# Security suite, API tokens, with the real binary over HTTP (tenants acme
# and beta in one shared store): every cross-tenant attempt is refused and
# leaves no trace in the other tenant -- A's token reading B, a spoofed
# X-Tenant-ID (reads and writes), A's token posting events that name B, a
# reader writing; a revoked token (its open change stream ends too) and an
# expired one; no or a malformed
# credential (401 with WWW-Authenticate); a platform admin choosing the
# tenant; a tenant admin managing its own tenant's tokens over HTTP and
# no other's; the admin listener with auth.admin: token; failures in /metrics
# and in the log, never a secret; listeners that would serve a network
# without auth refuse to start.
source "$(dirname "$0")/lib.bash"

P=$(free_ports 3) || fail "no free ports"
IN=$P API=$((P + 1)) ADMIN=$((P + 2))
B="http://127.0.0.1:$IN"
Q="http://127.0.0.1:$API"
M="http://127.0.0.1:$ADMIN"

cat >"$T/topo.yaml" <<YAML
version: 1
name: auth-tokens
store: { path: $T/store }
admin: 127.0.0.1:$ADMIN
auth: { tokens: true, admin: token }
actors:
  http:  { kind: http_ingest, listen: 127.0.0.1:$IN }
  store: { kind: store, inputs: [http] }
  api:   { kind: http_api, listen: 127.0.0.1:$API }
YAML
"$SLUICE" check "$T/topo.yaml" >"$T/check.out" 2>&1 || fail "topology invalid: $(cat "$T/check.out")"

tok() { "$SLUICE" token create "$T/topo.yaml" "$@" 2>>"$T/token.log"; }
A_W=$(tok --tenant acme --role writer --name acme-ingest) || fail "token create"
A_R=$(tok --tenant acme --role reader) || fail "token create"
B_W=$(tok --tenant beta --role writer) || fail "token create"
B_R=$(tok --tenant beta --role reader) || fail "token create"
A_ADM=$(tok --tenant acme --role admin) || fail "token create"
PA=$(tok --role platform-admin --name ops) || fail "token create"
SHORT=$(tok --tenant acme --role reader --expires 2s) || fail "token create"
REV=$(tok --tenant acme --role reader) || fail "token create"
[[ "$A_W" =~ ^slt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$ ]] || fail "token shape: $A_W"
"$SLUICE" token create "$T/topo.yaml" --tenant acme --role root >/dev/null 2>&1 && fail "role root accepted"
"$SLUICE" token create "$T/topo.yaml" --tenant acme --role platform-admin >/dev/null 2>&1 &&
    fail "a platform-admin token with a tenant accepted"
"$SLUICE" token list "$T/topo.yaml" >"$T/list.out" || fail "token list"
[ "$(grep -c ' active ' "$T/list.out")" = 8 ] || fail "token list: $(cat "$T/list.out")"
grep -q 'platform-admin' "$T/list.out" || fail "token list lacks the platform admin"

start run run "$T/topo.yaml"
PID=$LAST_PID

req() { http_req "$@"; }
body() { cat "$T/r.body"; }
ev() { # FILE QN [TENANT-FRAGMENT]
    printf '{%s"kind":"asset.upsert","body":{"qualified_name":"%s","type":"table"}}' "${3:-}" "$2" >"$1"
}
up() { req GET "$Q/v1/assets" "" && [ "$CODE" = 401 ]; }
wait_for 30 up || fail "api not answering 401 without a token ($CODE)"
inup() { req POST "$B/v1/events" "" && [ "$CODE" = 401 ]; }
wait_for 30 inup || fail "ingest not answering 401 without a token ($CODE)"
grep -qi '^WWW-Authenticate: Bearer' "$T/r.head" || fail "401 without WWW-Authenticate"
grep -q '"code":"missing"' "$T/r.body" || fail "401 body: $(body)"

# --- each writer writes its own tenant
ev "$T/a1.json" db://acme/one
req POST "$B/v1/events" "$A_W" -- "$T/a1.json"
[ "$CODE" = 202 ] || fail "acme writer: $CODE $(body)"
ev "$T/b1.json" db://beta/one
req POST "$B/v1/events" "$B_W" -- "$T/b1.json"
[ "$CODE" = 202 ] || fail "beta writer: $CODE $(body)"
readable() { req GET "$Q/v1/assets/$2" "$1" && [ "$CODE" = 200 ]; }
wait_for 20 readable "$A_R" db%3A%2F%2Facme%2Fone || fail "acme asset not readable: $CODE $(body)"
wait_for 20 readable "$B_R" db%3A%2F%2Fbeta%2Fone || fail "beta asset not readable: $CODE $(body)"

beta_state() { # the beta tenant as the store has it: assets and change log
    "$SLUICE" query "$T/topo.yaml" assets --tenant beta --limit 1000 2>/dev/null
    "$SLUICE" query "$T/topo.yaml" changes --tenant beta --limit 1000 2>/dev/null
}
beta_state >"$T/beta.before"
grep -q 'db://beta/one' "$T/beta.before" || fail "beta state: $(cat "$T/beta.before")"

# --- A's token reading B: no header -> its own tenant only; B's name -> 404
req GET "$Q/v1/assets/db%3A%2F%2Fbeta%2Fone" "$A_R"
[ "$CODE" = 404 ] || fail "acme reads beta's asset: $CODE $(body)"
req GET "$Q/v1/assets?limit=100" "$A_R"
grep -q 'db://beta' "$T/r.body" && fail "acme's list shows beta: $(body)"
# a spoofed X-Tenant-ID
req GET "$Q/v1/assets/db%3A%2F%2Fbeta%2Fone" "$A_R" "X-Tenant-ID: beta"
[ "$CODE" = 403 ] || fail "spoofed X-Tenant-ID read: $CODE $(body)"
grep -q '"code":"forbidden_tenant"' "$T/r.body" || fail "403 body: $(body)"
for p in /v1/incidents /v1/changes "/v1/changes/stream"; do
    req GET "$Q$p" "$A_R" "X-Tenant-ID: beta"
    [ "$CODE" = 403 ] || fail "spoofed X-Tenant-ID on $p: $CODE"
done

# --- A's writer: a spoofed header, an event naming B, a batch with one
ev "$T/spoof.json" db://beta/spoofed
req POST "$B/v1/events" "$A_W" "X-Tenant-ID: beta" -- "$T/spoof.json"
[ "$CODE" = 403 ] || fail "ingest with a spoofed X-Tenant-ID: $CODE $(body)"
ev "$T/nameb.json" db://beta/named '"tenant":"beta",'
req POST "$B/v1/events" "$A_W" -- "$T/nameb.json"
[ "$CODE" = 403 ] || fail "acme's token posting an event of beta: $CODE $(body)"
grep -q '"code":"forbidden_tenant"' "$T/r.body" || fail "403 body: $(body)"
printf '[{"kind":"asset.upsert","body":{"qualified_name":"db://acme/mixed","type":"table"}},{"tenant":"beta","kind":"asset.upsert","body":{"qualified_name":"db://beta/mixed","type":"table"}}]' >"$T/mixed.json"
req POST "$B/v1/events" "$A_W" -- "$T/mixed.json"
[ "$CODE" = 403 ] || fail "a batch with one event of beta: $CODE $(body)"
# the same through OpenLineage's route
req POST "$B/api/v1/lineage" "$A_W" "X-Tenant-ID: beta" -- "$SL_SOURCE_DIR/tests/adapters/openlineage/run_complete.json"
[ "$CODE" = 403 ] || fail "lineage with a spoofed X-Tenant-ID: $CODE $(body)"
# a reader cannot write, a writer cannot be a platform admin
req POST "$B/v1/events" "$A_R" -- "$T/a1.json"
[ "$CODE" = 403 ] || fail "reader posting events: $CODE $(body)"
grep -q '"code":"forbidden_role"' "$T/r.body" || fail "403 body: $(body)"
req GET "$M/metrics" "$A_ADM"
[ "$CODE" = 403 ] || fail "a tenant admin on the admin listener: $CODE $(body)"

# --- a marker event of acme after the refused ones: once it is readable,
# everything accepted before it has been applied too
ev "$T/a2.json" db://acme/two
req POST "$B/v1/events" "$A_W" -- "$T/a2.json"
[ "$CODE" = 202 ] || fail "acme marker: $CODE $(body)"
wait_for 20 readable "$A_R" db%3A%2F%2Facme%2Ftwo || fail "acme marker not readable"
req GET "$Q/v1/assets/db%3A%2F%2Facme%2Fmixed" "$A_R"
[ "$CODE" = 404 ] || fail "half of a refused batch was applied: $CODE"
beta_state >"$T/beta.after"
cmp -s "$T/beta.before" "$T/beta.after" || fail "beta changed: $(diff "$T/beta.before" "$T/beta.after")"

# --- bad credentials
for bad in "Bearer" "Basic YWNtZTpwYXNz" "Bearer slt_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "Bearer ${A_R%?}x"; do
    CODE=$(curl -s -m 5 -o "$T/r.body" -w '%{http_code}' -H "Authorization: $bad" "$Q/v1/assets") || CODE=000
    [ "$CODE" = 401 ] || fail "credential '$bad': $CODE $(body)"
done

# --- revoked while running (an open change stream ends too); expired
req GET "$Q/v1/assets" "$REV"
[ "$CODE" = 200 ] || fail "token before revoke: $CODE"
curl -s -N -m 60 -H "Authorization: Bearer $REV" "$Q/v1/changes/stream" >"$T/stream.out" 2>/dev/null &
SPID=$!
PIDS+=("$SPID")
wait_for 10 log_has "$T/stream.out" '^: changes of acme' || fail "stream did not open"
"$SLUICE" token revoke "$T/topo.yaml" "$(echo "$REV" | cut -c5-20)" 2>>"$T/token.log" || fail "revoke"
req GET "$Q/v1/assets" "$REV"
[ "$CODE" = 401 ] || fail "revoked token: $CODE $(body)"
wait_exit "$SPID" 20 || fail "the stream of a revoked token still runs"
grep -q 'db://acme/one' "$T/stream.out" || fail "the stream served nothing before: $(cat "$T/stream.out")"
grep -q '"code":"revoked"' "$T/r.body" || fail "revoked body: $(body)"
req POST "$B/v1/events" "$REV" -- "$T/a1.json"
[ "$CODE" = 401 ] || fail "revoked token on ingest: $CODE"
"$SLUICE" token list "$T/topo.yaml" | grep -q ' revoked ' || fail "list does not show the revoked token"
expired() { req GET "$Q/v1/assets" "$SHORT" && [ "$CODE" = 401 ] && grep -q '"code":"expired"' "$T/r.body"; }
wait_for 20 expired || fail "expired token: $CODE $(body)"

# --- a platform admin chooses the tenant
req GET "$Q/v1/assets/db%3A%2F%2Fbeta%2Fone" "$PA" "X-Tenant-ID: beta"
[ "$CODE" = 200 ] || fail "platform admin reading beta: $CODE $(body)"
req GET "$Q/v1/assets" "$PA"
[ "$CODE" = 400 ] || fail "platform admin without X-Tenant-ID: $CODE $(body)"

# --- a tenant admin manages its own tenant's tokens over HTTP, nothing more
printf '{"role":"reader","name":"made-over-http","expires_in":3600}' >"$T/newtok.json"
req POST "$Q/v1/tokens" "$A_ADM" -- "$T/newtok.json"
[ "$CODE" = 201 ] || fail "tenant admin making a token: $CODE $(body)"
NEW=$(grep -o '"token":"slt_[^"]*"' "$T/r.body" | cut -d'"' -f4)
NEWID=$(grep -o '"id":"[0-9a-f]*"' "$T/r.body" | cut -d'"' -f4)
[ -n "$NEW" ] && [ -n "$NEWID" ] || fail "201 body: $(body)"
grep -q '"tenant":"acme"' "$T/r.body" || fail "the token is not acme's: $(body)"
req GET "$Q/v1/assets/db%3A%2F%2Facme%2Fone" "$NEW"
[ "$CODE" = 200 ] || fail "the token made over HTTP: $CODE"
req GET "$Q/v1/tokens" "$A_ADM"
[ "$CODE" = 200 ] || fail "tenant admin listing tokens: $CODE $(body)"
grep -q "\"$NEWID\"" "$T/r.body" || fail "list lacks the new token"
grep -q '"tenant":"beta"\|"tenant":"\*"' "$T/r.body" && fail "acme's admin sees other tenants' tokens: $(body)"
grep -q 'slt_' "$T/r.body" && fail "the list shows a token"
printf '{"role":"platform-admin"}' >"$T/patok.json"
req POST "$Q/v1/tokens" "$A_ADM" -- "$T/patok.json"
[ "$CODE" = 400 ] || fail "tenant admin making a platform-admin token: $CODE $(body)"
req POST "$Q/v1/tokens" "$A_ADM" "X-Tenant-ID: beta" -- "$T/newtok.json"
[ "$CODE" = 403 ] || fail "acme's admin making a token of beta: $CODE $(body)"
req POST "$Q/v1/tokens" "$A_W" -- "$T/newtok.json"
[ "$CODE" = 403 ] || fail "a writer making a token: $CODE $(body)"
req GET "$Q/v1/tokens" "$A_R"
[ "$CODE" = 403 ] || fail "a reader listing tokens: $CODE $(body)"
BRID=$(echo "$B_R" | cut -c5-20)
req DELETE "$Q/v1/tokens/$BRID" "$A_ADM"
[ "$CODE" = 404 ] || fail "acme's admin revoking beta's token: $CODE $(body)"
req GET "$Q/v1/assets" "$B_R"
[ "$CODE" = 200 ] || fail "beta's reader after acme's attempt: $CODE"
req DELETE "$Q/v1/tokens/$NEWID" "$A_ADM"
[ "$CODE" = 204 ] || fail "tenant admin revoking its token: $CODE $(body)"
req GET "$Q/v1/assets" "$NEW"
[ "$CODE" = 401 ] || fail "a token revoked over HTTP: $CODE"
req GET "$Q/v1/tokens" "$PA"
grep -q '"tenant":"beta"' "$T/r.body" || fail "the platform admin does not see every token: $(body)"
grep -q '"status":"revoked"' "$T/r.body" || fail "revoked tokens not listed as such"

# --- the admin listener asks for a platform admin
req GET "$M/metrics" ""
[ "$CODE" = 401 ] || fail "/metrics without a token: $CODE"
req GET "$M/healthz" "$A_R"
[ "$CODE" = 403 ] || fail "/healthz with a tenant reader: $CODE"
req GET "$M/metrics" "$PA"
[ "$CODE" = 200 ] || fail "/metrics with the platform admin: $CODE"
count() { # reason status listener
    awk -v r="$1" -v s="$2" -v l="$3" 'index($0, "sluice_auth_failures_total{listener=\"" l "\",status=\"" s "\",reason=\"" r "\"}") == 1 { print $NF; f = 1 } END { if (!f) print 0 }' "$T/r.body"
}
[ "$(count missing 401 api)" -ge 1 ] || fail "no 401 missing counted: $(grep auth_ "$T/r.body")"
[ "$(count forbidden_tenant 403 api)" -ge 4 ] || fail "forbidden_tenant on api not counted"
[ "$(count forbidden_tenant 403 http)" -ge 2 ] || fail "forbidden_tenant on ingest not counted: $(grep auth_ "$T/r.body")"
[ "$(count revoked 401 api)" -ge 1 ] || fail "revoked not counted"
[ "$(count forbidden_role 403 admin)" -ge 1 ] || fail "admin refusals not counted"
grep -q '^sluice_auth_ok_total{listener="api",method="token"} [1-9]' "$T/r.body" || fail "no accepted tokens counted"

# --- no secret anywhere: log, metrics, check output
for t in "$A_W" "$A_R" "$B_W" "$B_R" "$A_ADM" "$PA" "$SHORT" "$REV"; do
    secret=${t:21}
    grep -q -F -- "$secret" "$T/run.log" && fail "a token's secret is in the log"
    grep -q -F -- "$secret" "$T/r.body" && fail "a token's secret is in /metrics"
    grep -q -F -- "$secret" "$T/token.log" && fail "a token's secret is in the CLI's stderr"
done
grep -q '"reason":"forbidden_tenant"' "$T/run.log" || fail "refusals not logged"

kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"

# --- listeners that would serve a network without auth refuse to start
cat >"$T/open.yaml" <<YAML
version: 1
name: open
store: { path: $T/store2 }
actors:
  api: { kind: http_api, listen: 0.0.0.0:$API }
YAML
start open run "$T/open.yaml"
wait_exit "$LAST_PID" 30 || fail "an unauthenticated 0.0.0.0 listener still runs"
[ "$RC" != 0 ] || fail "an unauthenticated 0.0.0.0 listener started"
grep -q 'without `auth`' "$T/open.log" || fail "no reason given: $(tail -3 "$T/open.log")"
cat >"$T/openadmin.yaml" <<YAML
version: 1
name: openadmin
admin: 0.0.0.0:$ADMIN
auth: { tokens: true }
actors:
  gen: { kind: generate, count: 1 }
  out: { kind: blackhole, inputs: [gen] }
YAML
start openadmin run "$T/openadmin.yaml"
wait_exit "$LAST_PID" 30 || fail "a local admin listener on 0.0.0.0 still runs"
[ "$RC" != 0 ] || fail "a local admin listener on 0.0.0.0 started"
grep -q 'loopback' "$T/openadmin.log" || fail "no reason given: $(tail -3 "$T/openadmin.log")"
echo "auth_tokens: ok"
