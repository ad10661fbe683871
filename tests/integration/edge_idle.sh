#!/usr/bin/env bash
# The default topology (deploy/topologies/edge.yaml, what `make run`
# starts), on free ports: ready, one event posted and read back; and at
# idle it maps none of the libraries only connectors need (libcurl and its
# OpenSSL, LDAP, SSH ...: loaded on first use, docs/performance.md), so
# linking one of them again into sluice fails here. SIGTERM -> exit 0.
source "$(dirname "$0")/lib.bash"

ADMIN=$(free_port) || fail "no free port"
IN=$(free_port) || fail "no free port"
API=$(free_port) || fail "no free port"
sed -e "s/^admin: .*/admin: 127.0.0.1:$ADMIN/" -e "s/127\.0\.0\.1:8080/127.0.0.1:$IN/" \
    -e "s/127\.0\.0\.1:8081/127.0.0.1:$API/" \
    "$SL_SOURCE_DIR/deploy/topologies/edge.yaml" >"$T/edge.yaml"
grep -q "127.0.0.1:$IN" "$T/edge.yaml" && grep -q "127.0.0.1:$API" "$T/edge.yaml" ||
    fail "edge.yaml no longer listens on 8080 and 8081: update this test"
# the topology's relative paths (store, schemas) resolve from the cwd
mkdir -p "$T/cwd"
ln -s "$SL_SOURCE_DIR/schemas" "$T/cwd/schemas"
"$SLUICE" check "$T/edge.yaml" >/dev/null || fail "edge.yaml invalid"
(cd "$T/cwd" && exec "$SLUICE" run "$T/edge.yaml") 2>"$T/run.log" &
PID=$!
PIDS+=("$PID")

status_is() { [ "$(http_get "$1")" = "$2" ]; }
wait_for 30 status_is "http://127.0.0.1:$ADMIN/readyz" 200 || fail "/readyz not 200"

for lib in libcurl libssl libcrypto libldap libssh2 libnghttp2; do
    if grep -q "/$lib[.-]" "/proc/$PID/maps"; then
        fail "idle edge topology maps $lib: $(grep -m1 "/$lib[.-]" "/proc/$PID/maps")"
    fi
done

QN=snowflake://acme-prod/analytics/orders/fct_orders
code=$(curl -s -m 10 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "{\"kind\":\"tag.set\",\"body\":{\"qualified_name\":\"$QN\",\"tag\":\"pii\"}}" \
    "http://127.0.0.1:$IN/v1/events") || code=000
[ "$code" = 202 ] || fail "POST /v1/events gave $code: $(cat "$T/post.body")"
enc=$(printf '%s' "$QN" | sed 's|:|%3A|g; s|/|%2F|g')
tagged() {
    [ "$(curl -s -m 5 -H 'X-Tenant-ID: default' -o "$T/asset.json" -w '%{http_code}' \
        "http://127.0.0.1:$API/v1/assets/$enc")" = 200 ] && grep -q '"pii"' "$T/asset.json"
}
wait_for 20 tagged || fail "the tag never shows on the asset: $(cat "$T/asset.json" 2>/dev/null)"

kill -TERM "$PID"
wait_exit "$PID" 30 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC after SIGTERM"
echo "ok"
