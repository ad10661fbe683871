#!/usr/bin/env bash
# Security suite, Okta access tokens, with the real binary over HTTP: keys
# made here with OpenSSL, served by a local stand-in of Okta's key
# endpoint (tools/mock/mock_okta, answering as /oauth2/default/v1/keys
# does), tokens signed here with OpenSSL. A good token reads and writes
# its tenant; each of these is refused (401, or 403 where the token is
# valid but may not) and leaves no trace: expired, not yet valid, issued
# in the future, wrongly signed, wrong audience, wrong issuer, alg none,
# a kid nobody published, a token mapping to no role, A's token reading
# or writing B. Many tokens with made-up kids fetch the keys at most once
# per jwks_min_interval; a rotated key is picked up on its first token.
source "$(dirname "$0")/lib.bash"

MOCK="${SL_BUILD_DIR:?}/mock_okta"
[ -x "$MOCK" ] || fail "no mock at $MOCK"
mkdir -p "$T/keys" "$T/other"
rsa_key k1 "$T/keys" || fail "openssl genpkey"
rsa_key evil "$T/other" || fail "openssl genpkey"
rsa_key k2 "$T/other" || fail "openssl genpkey" # published later (rotation)

"$MOCK" serve --keys "$T/keys" >"$T/okta.out" 2>"$T/okta.log" &
PIDS+=("$!")
wait_for 10 log_has "$T/okta.out" '^port [0-9]+' || fail "mock_okta did not start"
OKTA=$(awk '/^port/ {print $2}' "$T/okta.out")
ISS="http://127.0.0.1:$OKTA/oauth2/default"

P=$(free_ports 2) || fail "no free ports"
IN=$P API=$((P + 1))
B="http://127.0.0.1:$IN"
Q="http://127.0.0.1:$API"
cat >"$T/topo.yaml" <<YAML
version: 1
name: auth-okta
store: { path: $T/store }
auth:
  tokens: false
  okta:
    issuer: $ISS
    audience: api://sluice
    roles_claim: groups
    role_map:
      sluice-acme-readers: acme:reader
      sluice-acme-writers: [acme:writer]
      sluice-beta-writers: beta:writer
    clock_skew: 30s
    jwks_min_interval: 1h
actors:
  http:
    kind: http_ingest
    listen: 127.0.0.1:$IN
    # the same Okta, refetching at once on an unknown kid (rotation)
    auth:
      okta:
        issuer: $ISS
        audience: api://sluice
        role_map: { sluice-acme-writers: acme:writer, sluice-beta-writers: beta:writer }
        jwks_min_interval: 0s
  store: { kind: store, inputs: [http] }
  api:   { kind: http_api, listen: 127.0.0.1:$API }
YAML
"$SLUICE" check "$T/topo.yaml" >"$T/check.out" 2>&1 || fail "topology invalid: $(cat "$T/check.out")"
start run run "$T/topo.yaml"
PID=$LAST_PID

key_requests() { curl -s -m 5 "http://127.0.0.1:$OKTA/stats" | grep -o '[0-9]*'; }
[ "$(key_requests)" = 0 ] || fail "keys fetched before any token"

NOW=$(date +%s)
claims() { # GROUPS [EXTRA] [ISS] [AUD] [EXP] [IAT]
    printf '{"iss":"%s","aud":"%s","sub":"00u1","cid":"0oa1","exp":%s,"iat":%s,"groups":%s%s}' \
        "${3:-$ISS}" "${4:-api://sluice}" "${5:-$((NOW + 600))}" "${6:-$((NOW - 5))}" "$1" "${2:-}"
}
HDR='{"kid":"k1","alg":"RS256"}'
ACME_R=$(jwt "$T/k1.pem" "$HDR" "$(claims '["sluice-acme-readers"]')")
ACME_W=$(jwt "$T/k1.pem" "$HDR" "$(claims '["Everyone","sluice-acme-writers"]')")
BETA_W=$(jwt "$T/k1.pem" "$HDR" "$(claims '["sluice-beta-writers"]')")

req() { http_req "$@"; }
body() { cat "$T/r.body"; }
up() { req GET "$Q/v1/assets" "" && [ "$CODE" = 401 ]; }
wait_for 30 up || fail "api not up ($CODE)"
inup() { req POST "$B/v1/events" "" && [ "$CODE" = 401 ]; }
wait_for 30 inup || fail "ingest not up ($CODE)"

# --- good tokens
printf '{"kind":"asset.upsert","body":{"qualified_name":"db://acme/t","type":"table"}}' >"$T/a.json"
printf '{"kind":"asset.upsert","body":{"qualified_name":"db://beta/t","type":"table"}}' >"$T/b.json"
req POST "$B/v1/events" "$ACME_W" -- "$T/a.json"
[ "$CODE" = 202 ] || fail "acme writer JWT: $CODE $(body)"
req POST "$B/v1/events" "$BETA_W" -- "$T/b.json"
[ "$CODE" = 202 ] || fail "beta writer JWT: $CODE $(body)"
readable() { req GET "$Q/v1/assets/db%3A%2F%2Facme%2Ft" "$ACME_R" && [ "$CODE" = 200 ]; }
wait_for 20 readable || fail "acme reader JWT: $CODE $(body)"

"$SLUICE" query "$T/topo.yaml" assets --tenant beta --limit 1000 >"$T/beta.before" 2>/dev/null
grep -q 'db://beta/t' "$T/beta.before" || fail "beta asset missing: $(cat "$T/beta.before")"

# refused TOKEN STATUS CODE WHAT: on both listeners (the read on the API,
# a write of beta's name on ingest)
refused() {
    req GET "$Q/v1/assets" "$1"
    [ "$CODE" = "$2" ] || fail "$4 (read): $CODE $(body)"
    grep -q "\"code\":\"$3\"" "$T/r.body" || fail "$4 (read): $(body)"
    printf '{"tenant":"beta","kind":"asset.upsert","body":{"qualified_name":"db://beta/%s","type":"table"}}' "$3" >"$T/x.json"
    req POST "$B/v1/events" "$1" -- "$T/x.json"
    [ "$CODE" = 401 ] || [ "$CODE" = 403 ] || fail "$4 (write): $CODE $(body)"
}
refused "$(jwt "$T/k1.pem" "$HDR" "$(claims '["sluice-acme-readers"]' '' '' '' $((NOW - 120)) $((NOW - 900)))")" 401 expired "expired"
refused "$(jwt "$T/k1.pem" "$HDR" "$(claims '["sluice-acme-readers"]' ",\"nbf\":$((NOW + 300))")")" 401 not_yet_valid "not yet valid (nbf)"
refused "$(jwt "$T/k1.pem" "$HDR" "$(claims '["sluice-acme-readers"]' '' '' '' $((NOW + 900)) $((NOW + 300)))")" 401 not_yet_valid "issued in the future"
refused "$(jwt "$T/evil.pem" "$HDR" "$(claims '["sluice-acme-readers"]')")" 401 bad_signature "signed by another key"
refused "$(jwt "$T/k1.pem" "$HDR" "$(claims '["sluice-acme-readers"]' '' '' 'api://default')")" 401 wrong_audience "wrong audience"
refused "$(jwt "$T/k1.pem" "$HDR" "$(claims '["sluice-acme-readers"]' '' 'https://evil.okta.com/oauth2/default')")" 401 wrong_issuer "wrong issuer"
NONE="$(printf '{"kid":"k1","alg":"none"}' | b64url).$(claims '["sluice-acme-readers"]' | b64url)."
refused "$NONE" 401 malformed "alg none (empty signature)"
refused "$(printf '{"kid":"k1","alg":"none"}' | b64url).$(claims '["sluice-acme-readers"]' | b64url).AAAA" 401 bad_alg "alg none"
refused "$(jwt "$T/k1.pem" "$HDR" "$(claims '["Everyone"]')")" 403 no_role "no mapped group"
# a payload changed after signing
T1=$(jwt "$T/k1.pem" "$HDR" "$(claims '["sluice-acme-readers"]')")
FORGED="${T1%%.*}.$(claims '["sluice-beta-writers"]' | b64url).${T1##*.}"
refused "$FORGED" 401 bad_signature "a changed payload"

# --- A's token against B
req GET "$Q/v1/assets/db%3A%2F%2Fbeta%2Ft" "$ACME_R" "X-Tenant-ID: beta"
[ "$CODE" = 403 ] || fail "acme JWT reading beta: $CODE $(body)"
req POST "$B/v1/events" "$ACME_W" -- "$T/x.json"
[ "$CODE" = 403 ] || fail "acme JWT writing beta: $CODE $(body)"

# --- made-up kids: no refetch within jwks_min_interval (1h) on the API
[ "$(key_requests)" = 2 ] || fail "expected one key fetch per listener so far, got $(key_requests)"
for i in $(seq 1 20); do
    req GET "$Q/v1/assets" "$(jwt "$T/k1.pem" "{\"kid\":\"made-up-$i\",\"alg\":\"RS256\"}" "$(claims '["sluice-acme-readers"]')")"
    [ "$CODE" = 401 ] || fail "unknown kid $i: $CODE"
done
grep -q '"code":"unknown_key"' "$T/r.body" || fail "unknown kid body: $(body)"
[ "$(key_requests)" = 2 ] || fail "made-up kids fetched the keys again: $(key_requests)"

# --- rotation: a new key is published; the ingest (interval 0) picks it up
cp "$T/other/k2.pub.pem" "$T/keys/"
printf '{"kind":"asset.upsert","body":{"qualified_name":"db://acme/rotated","type":"table"}}' >"$T/r2.json"
req POST "$B/v1/events" "$(jwt "$T/k2.pem" '{"kid":"k2","alg":"RS256"}' "$(claims '["sluice-acme-writers"]')")" -- "$T/r2.json"
[ "$CODE" = 202 ] || fail "token of the rotated key: $CODE $(body)"
[ "$(key_requests)" = 3 ] || fail "rotation: expected one more fetch, got $(key_requests)"

# --- nothing refused reached beta; nothing of a token in the log
wait_for 20 bash -c "curl -s -m 5 -H 'Authorization: Bearer $ACME_R' '$Q/v1/assets/db%3A%2F%2Facme%2Frotated' -o /dev/null -w '%{http_code}' | grep -q 200" ||
    fail "rotated-key event not applied"
"$SLUICE" query "$T/topo.yaml" assets --tenant beta --limit 1000 >"$T/beta.after" 2>/dev/null
cmp -s "$T/beta.before" "$T/beta.after" || fail "beta changed: $(diff "$T/beta.before" "$T/beta.after")"
for t in "$ACME_R" "$ACME_W" "$BETA_W"; do
    grep -q -F -- "${t##*.}" "$T/run.log" && fail "a JWT signature is in the log"
done
grep -q '"reason":"expired"' "$T/run.log" || fail "refusals not logged"
grep -q '"subject":"okta:00u1"' "$T/run.log" || fail "refusals do not name the subject"

kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
echo "auth_okta: ok"
