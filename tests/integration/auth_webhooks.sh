#!/usr/bin/env bash
# Security suite, webhooks: Monte Carlo secrets per tenant (issue 4) with
# the real binary. A delivery signed with acme's secret lands in acme
# only, one signed with beta's in beta only (the secret says the tenant,
# not a header); a URL token likewise. Refused, leaving no trace: a bad
# signature, a missing one, an unknown URL token, acme's signature with
# X-Tenant-ID: beta. One secret given to two tenants is a topology error.
# The secrets appear nowhere: log, metrics, error bodies, `sluice check`.
source "$(dirname "$0")/lib.bash"

P=$(free_ports 3) || fail "no free ports"
IN=$P API=$((P + 1)) ADMIN=$((P + 2))
B="http://127.0.0.1:$IN"
Q="http://127.0.0.1:$API"
FX="$SL_SOURCE_DIR/tests/adapters/signature"
MOCK="${SL_BUILD_DIR:?}/mock_montecarlo"
[ -x "$MOCK" ] || fail "no mock at $MOCK"
export MC_ACME=acme-mc-secret-5d1f7a
export MC_BETA=beta-mc-secret-93c2e0
printf 'beta-url-token-6e0b4a\n' >"$T/beta_token"
cat >"$T/topo.yaml" <<YAML
version: 1
name: auth-webhooks
store: { path: $T/store }
admin: 127.0.0.1:$ADMIN
auth: { tokens: true }
actors:
  http:
    kind: http_ingest
    listen: 127.0.0.1:$IN
    mapping: { prefix: "snowflake://prod/" }
    montecarlo:
      acme: { secret: "\${MC_ACME}" }
      beta: { secret: "\${MC_BETA}", token: "file:beta_token" }
  store: { kind: store, inputs: [http] }
  api:   { kind: http_api, listen: 127.0.0.1:$API }
YAML
"$SLUICE" check "$T/topo.yaml" >"$T/check.out" 2>&1 || fail "topology invalid: $(cat "$T/check.out")"

# --- one secret, two tenants: refused at load, the secret not shown
sed 's/\${MC_BETA}/\${MC_ACME}/' "$T/topo.yaml" >"$T/dup.yaml"
"$SLUICE" check "$T/dup.yaml" >"$T/dup.out" 2>&1 && fail "a secret shared by two tenants accepted"
grep -q "each authenticates one tenant\|invalid value (secret)" "$T/dup.out" || fail "dup: $(cat "$T/dup.out")"
grep -q ':[0-9]*:[0-9]*:' "$T/dup.out" || fail "dup: no position: $(cat "$T/dup.out")"
cat "$T/check.out" "$T/dup.out" | grep -q -e "$MC_ACME" -e "$MC_BETA" -e beta-url-token && fail "a secret in sluice check's output"

A_R=$("$SLUICE" token create "$T/topo.yaml" --tenant acme --role reader 2>/dev/null) || fail "token"
B_R=$("$SLUICE" token create "$T/topo.yaml" --tenant beta --role reader 2>/dev/null) || fail "token"
start run run "$T/topo.yaml"
PID=$LAST_PID

post() { # URL FILE [HEADER...]: CODE, body in $T/p.body
    local url=$1 file=$2
    shift 2
    local h=()
    for x in "$@"; do h+=(-H "$x"); done
    CODE=$(curl -s -m 10 -o "$T/p.body" -w '%{http_code}' -H 'Content-Type: application/json' \
        "${h[@]}" --data-binary "@$file" "$url" 2>/dev/null) || CODE=000
}
pbody() { cat "$T/p.body"; }
sig() { # SECRET FILE: x-mcd-signature of the raw body, made with OpenSSL
    openssl dgst -sha512 -hmac "$1" -hex <"$2" | awk '{print $NF}'
}
incidents() { # TOKEN: the tenant's incidents in $T/i.body
    curl -s -m 5 -H "Authorization: Bearer $1" -o "$T/i.body" "$Q/v1/incidents?limit=100" 2>/dev/null
}
up() { post "$B/v1/webhooks/montecarlo" "$FX/webhook_anomaly_open.json" && [ "$CODE" = 401 ]; }
wait_for 30 up || fail "ingest not up ($CODE)"
grep -q 'x-mcd-signature header missing' "$T/p.body" || fail "no signature: $(pbody)"

OPEN="$FX/webhook_anomaly_open.json"
ACK="$FX/webhook_update_ack.json"
INC=6c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e

# --- refused first, so any trace would show below
post "$B/v1/webhooks/montecarlo" "$OPEN" "x-mcd-signature: $(sig wrong-secret "$OPEN")"
[ "$CODE" = 401 ] || fail "bad signature: $CODE $(pbody)"
post "$B/v1/webhooks/montecarlo" "$OPEN" "x-mcd-signature: $(sig "$MC_ACME" "$OPEN")" "X-Tenant-ID: beta"
[ "$CODE" = 403 ] || fail "acme's signature with X-Tenant-ID: beta: $CODE $(pbody)"
post "$B/v1/webhooks/montecarlo" "$OPEN" "x-mcd-signature: $(sig "$MC_ACME" "$ACK")"
[ "$CODE" = 401 ] || fail "signature of another body: $CODE $(pbody)"
post "$B/v1/webhooks/montecarlo/not-a-token" "$OPEN"
[ "$CODE" = 401 ] || fail "unknown URL token: $CODE $(pbody)"
post "$B/v1/webhooks/montecarlo/$MC_BETA" "$OPEN"
[ "$CODE" = 401 ] || fail "a secret used as URL token: $CODE $(pbody)"
# an API token does not open the webhook route
post "$B/v1/webhooks/montecarlo" "$OPEN" "Authorization: Bearer $A_R"
[ "$CODE" = 401 ] || fail "API token on the webhook: $CODE $(pbody)"

# --- acme's secret -> acme (through the signing mock, as Monte Carlo sends)
"$MOCK" send "$B/v1/webhooks/montecarlo" "$OPEN" --secret "$MC_ACME" >"$T/send.out" ||
    fail "acme delivery: $(cat "$T/send.out")"
acme_has() { incidents "$A_R" && grep -q "$INC" "$T/i.body"; }
wait_for 20 acme_has || fail "acme's incident not there: $(cat "$T/i.body")"
# --- beta's URL token -> beta, with the acknowledging update
post "$B/v1/webhooks/montecarlo/beta-url-token-6e0b4a" "$ACK"
[ "$CODE" = 202 ] || fail "beta URL token: $CODE $(pbody)"
beta_has() { incidents "$B_R" && grep -q "$INC" "$T/i.body" && grep -q '"acknowledged"' "$T/i.body"; }
wait_for 20 beta_has || fail "beta's incident not there: $(cat "$T/i.body")"
# acme's stays open: beta's update did not touch it
incidents "$A_R"
grep -q '"status":"open"' "$T/i.body" || fail "acme's incident changed by beta's update: $(cat "$T/i.body")"
[ "$(grep -o "\"external_id\":\"$INC\"" "$T/i.body" | wc -l)" = 1 ] || fail "acme: not one incident"
# --- beta's secret, canonical form, with an agreeing header
"$MOCK" send "$B/v1/webhooks/montecarlo" "$OPEN" --secret "$MC_BETA" --canonical >"$T/send2.out" ||
    fail "beta canonical delivery: $(cat "$T/send2.out")"
post "$B/v1/webhooks/montecarlo" "$OPEN" "x-mcd-signature: $(sig "$MC_BETA" "$OPEN")" "X-Tenant-ID: beta"
[ "$CODE" = 202 ] || fail "beta signature with X-Tenant-ID: beta: $CODE $(pbody)"

# --- counted, logged, never a secret
curl -s -m 5 "http://127.0.0.1:$ADMIN/metrics" >"$T/metrics.txt" || fail "no /metrics"
grep -q '^sluice_auth_failures_total{listener="http",status="401",reason="bad_signature"} 2$' "$T/metrics.txt" ||
    fail "bad signatures not counted: $(grep auth_failures "$T/metrics.txt")"
grep -q '^sluice_auth_failures_total{listener="http",status="403",reason="forbidden_tenant"} 1$' "$T/metrics.txt" ||
    fail "tenant mismatch not counted"
grep -q -e "$MC_ACME" -e "$MC_BETA" -e beta-url-token "$T/metrics.txt" && fail "a secret in /metrics"
grep -q '"reason":"bad_signature"' "$T/run.log" || fail "bad signature not logged"
grep -q '"reason":"forbidden_tenant"' "$T/run.log" || fail "tenant mismatch not logged"
for s in "$MC_ACME" "$MC_BETA" beta-url-token-6e0b4a; do
    grep -q -F -- "$s" "$T/run.log" && fail "a webhook secret is in the log"
done
kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
echo "auth_webhooks: ok"
