#!/usr/bin/env bash
# HTTP ingest with the real binary: events posted with curl (one event, a
# JSON array, NDJSON) -> http_ingest (journal, fsync on) -> store, read back
# through http_api; 202 carries the ids; 400 (naming field and index, and
# nothing of a bad batch accepted), 413, 415, 429-free normal use; the same
# event id posted 3 times -> one asset and one change; a restart replays
# nothing twice.
source "$(dirname "$0")/lib.bash"

IN=$(free_port) || fail "no free port"
API=$(free_port) || fail "no free port"
[ "$IN" != "$API" ] || API=$((IN + 1))
URL="http://127.0.0.1:$IN/v1/events"
Q="http://127.0.0.1:$API"

cat >"$T/topo.yaml" <<YAML
version: 1
name: ingest-events
store: { path: $T/store }
actors:
  http:  { kind: http_ingest, listen: 127.0.0.1:$IN, max_body: 64KiB, tenant: globex }
  store: { kind: store, inputs: [http] }
  api:   { kind: http_api, listen: 127.0.0.1:$API }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "topology invalid"
start run run "$T/topo.yaml"
PID=$LAST_PID

# post CONTENT-TYPE FILE [HEADER]: status in CODE, body in $T/post.body
post() {
    local h=()
    [ -z "${3:-}" ] || h=(-H "$3")
    CODE=$(curl -s -m 10 -o "$T/post.body" -w '%{http_code}' -H "Content-Type: $1" "${h[@]}" \
        --data-binary "@$2" "$URL" 2>/dev/null) || CODE=000
}
pbody() { cat "$T/post.body"; }
get() { # TENANT PATH
    CODE=$(curl -s -m 5 -H "X-Tenant-ID: $1" -o "$T/http.body" -w '%{http_code}' "$Q$2" 2>/dev/null) || CODE=000
}
has() { grep -q -F -- "$1" "$T/http.body"; }
up() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "$URL" 2>/dev/null)" = 415 ]; }
wait_for 30 up || fail "ingest not listening"

ev() { # tenant-json-fragment kind qn [id]
    local id=""
    [ -z "${4:-}" ] || id="\"id\":\"$4\","
    printf '{%s%s"kind":"%s","time":"2026-11-25T08:00:00Z","body":{"qualified_name":"%s","type":"table"}}' \
        "$id" "$1" "$2" "$3"
}

# --- one event
ev '"tenant":"acme",' asset.upsert snowflake://acme/db/one >"$T/one.json"
post application/json "$T/one.json"
[ "$CODE" = 202 ] || fail "single: $CODE $(pbody)"
grep -q -E '^\{"accepted":1,"ids":\["[0-9a-f-]{36}"\]\}$' "$T/post.body" || fail "single reply: $(pbody)"

# --- a JSON array of three (tenant from the header)
{
    printf '[ '
    ev '' asset.upsert snowflake://acme/db/a1
    printf ',\n '
    ev '' asset.upsert snowflake://acme/db/a2
    printf ', '
    ev '' tag.set snowflake://acme/db/a1 | sed 's/"type":"table"/"tag":"pii"/'
    printf ' ]\n'
} >"$T/array.json"
post 'application/json; charset=utf-8' "$T/array.json" "X-Tenant-ID: acme"
[ "$CODE" = 202 ] || fail "array: $CODE $(pbody)"
grep -q '"accepted":3' "$T/post.body" || fail "array reply: $(pbody)"

# --- NDJSON of 100, with a blank line and CRLF; no tenant: the default (globex)
for i in $(seq 1 100); do
    ev '' asset.upsert "snowflake://globex/db/n$i"
    if [ "$i" = 50 ]; then printf '\r\n\n'; else printf '\n'; fi
done >"$T/batch.ndjson"
post application/x-ndjson "$T/batch.ndjson"
[ "$CODE" = 202 ] || fail "ndjson: $CODE $(pbody)"
grep -q '"accepted":100' "$T/post.body" || fail "ndjson reply: $(pbody)"
[ "$(grep -o '"[0-9a-f-]\{36\}"' "$T/post.body" | sort -u | wc -l)" = 100 ] || fail "100 distinct ids expected"

# --- read back through the query API
got() { get "$1" "$2" && [ "$CODE" = 200 ]; }
wait_for 20 got acme "/v1/assets/snowflake%3A%2F%2Facme%2Fdb%2Fone" || fail "single event not readable: $CODE"
wait_for 20 got acme "/v1/assets/snowflake%3A%2F%2Facme%2Fdb%2Fa1" || fail "array event not readable"
wait_for 20 bash -c "curl -s -H 'X-Tenant-ID: acme' '$Q/v1/assets/snowflake%3A%2F%2Facme%2Fdb%2Fa1' | grep -q pii" ||
    fail "tag from the array not applied"
wait_for 20 got globex "/v1/assets/snowflake%3A%2F%2Fglobex%2Fdb%2Fn100" || fail "ndjson not readable"
get globex "/v1/assets?limit=1000"
[ "$(grep -o '"qualified_name"' "$T/http.body" | wc -l)" = 100 ] || fail "globex: 100 assets expected: $(head -c 300 "$T/http.body")"
get acme "/v1/assets/snowflake%3A%2F%2Fglobex%2Fdb%2Fn1"
[ "$CODE" = 404 ] || fail "acme sees globex: $CODE"

# --- the same event id 3 times -> one asset, one change
ID=0190aaaa-bbbb-7ccc-8ddd-000000000042
ev '"tenant":"acme",' asset.upsert snowflake://acme/db/dup "$ID" >"$T/dup.json"
for k in 1 2 3; do
    post application/json "$T/dup.json"
    [ "$CODE" = 202 ] || fail "dup $k: $CODE $(pbody)"
    grep -q "\"ids\":\[\"$ID\"\]" "$T/post.body" || fail "dup $k reply: $(pbody)"
done
wait_for 20 got acme "/v1/assets/snowflake%3A%2F%2Facme%2Fdb%2Fdup" || fail "dup not readable"
changes_of() { # TENANT ID: count of change records of event ID
    get "$1" "/v1/changes?after=0&limit=1000"
    grep -o "\"event_id\":\"$2\"" "$T/http.body" | wc -l | tr -d ' '
}
# the three were journaled in order before the last 202: once the last
# posted event after them is readable, all three were handled
ev '"tenant":"acme",' asset.upsert snowflake://acme/db/marker >"$T/marker.json"
post application/json "$T/marker.json"
wait_for 20 got acme "/v1/assets/snowflake%3A%2F%2Facme%2Fdb%2Fmarker" || fail "marker not readable"
[ "$(changes_of acme "$ID")" = 1 ] || fail "dup: $(changes_of acme "$ID") changes, expected 1"

# --- errors: nothing of a bad request reaches the pipeline
get acme "/v1/changes?after=0&limit=1000"
before=$(grep -o '"seq":' "$T/http.body" | wc -l)

printf '{"tenant":"acme","kind":"asset.upsert","body":{"qualified_name":"x://bad","type":"t"}' >"$T/bad1.json"
post application/json "$T/bad1.json"
[ "$CODE" = 400 ] || fail "malformed: $CODE"
grep -q '"code":"bad_event"\|"code":"malformed_json"' "$T/post.body" || fail "malformed reply: $(pbody)"

# the third event of a batch lacks kind: 400 names field and index; the
# first two are not accepted either
{
    printf '['
    ev '"tenant":"acme",' asset.upsert snowflake://acme/db/bad-a
    printf ','
    ev '"tenant":"acme",' asset.upsert snowflake://acme/db/bad-b
    printf ',{"tenant":"acme","body":{"qualified_name":"snowflake://acme/db/bad-c"}}]'
} >"$T/bad2.json"
post application/json "$T/bad2.json"
[ "$CODE" = 400 ] || fail "missing kind: $CODE $(pbody)"
grep -q "field 'kind'" "$T/post.body" || fail "reason does not name the field: $(pbody)"
grep -q '"index":2' "$T/post.body" || fail "reason does not name the index: $(pbody)"

# NDJSON with a broken second line
printf '%s\n%s\n' "$(ev '"tenant":"acme",' asset.upsert snowflake://acme/db/bad-d)" '{"kind": 12}' >"$T/bad3.ndjson"
post application/x-ndjson "$T/bad3.ndjson"
[ "$CODE" = 400 ] || fail "bad ndjson: $CODE"
grep -q '"index":1' "$T/post.body" || fail "bad ndjson reply: $(pbody)"

# tenant disagreeing with the header
post application/json "$T/one.json" "X-Tenant-ID: globex"
[ "$CODE" = 400 ] || fail "tenant mismatch: $CODE"
grep -q tenant_mismatch "$T/post.body" || fail "tenant mismatch reply: $(pbody)"

# not an object, empty body, array not closed, garbage
for body in '42' '' '[{"kind":"asset.upsert"' '["x"]' '[{}' '{"a":"\' 'nul'; do
    printf '%s' "$body" >"$T/bad4.json"
    post application/json "$T/bad4.json"
    [ "$CODE" = 400 ] || fail "body '$body': $CODE $(pbody)"
    grep -q '"error"' "$T/post.body" || fail "body '$body': no JSON error"
done

# wrong or missing content type: 415
post text/plain "$T/one.json"
[ "$CODE" = 415 ] || fail "text/plain: $CODE"
grep -q unsupported_media_type "$T/post.body" || fail "415 reply: $(pbody)"
CODE=$(curl -s -m 5 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type:' --data-binary "@$T/one.json" "$URL") || CODE=000
[ "$CODE" = 415 ] || fail "no content type: $CODE"

# over max_body (64 KiB): 413
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
post application/json "$T/big.json"
[ "$CODE" = 413 ] || fail "big body: $CODE"
grep -q body_too_large "$T/post.body" || fail "413 reply: $(pbody)"

# wrong method, unknown path
CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL") || CODE=000
[ "$CODE" = 405 ] || fail "GET /v1/events: $CODE"
CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$IN/v1/nothing") || CODE=000
[ "$CODE" = 404 ] || fail "unknown path: $CODE"

# still alive and nothing of the bad requests applied
post application/json "$T/marker.json"
[ "$CODE" = 202 ] || fail "after errors: $CODE"
for qn in bad-a bad-b bad-c bad-d; do
    get acme "/v1/assets/snowflake%3A%2F%2Facme%2Fdb%2F$qn"
    [ "$CODE" = 404 ] || fail "$qn of a rejected request was applied"
done

# --- restart: the journal replays at most the replay window, the store
# drops what it has (ids), nothing is applied twice
kill -TERM "$PID"
wait_exit "$PID" 20 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
start run2 run "$T/topo.yaml"
PID=$LAST_PID
wait_for 30 up || fail "ingest not listening after restart"
ev '"tenant":"acme",' asset.upsert snowflake://acme/db/after >"$T/after.json"
post application/json "$T/after.json"
[ "$CODE" = 202 ] || fail "after restart: $CODE"
wait_for 20 got acme "/v1/assets/snowflake%3A%2F%2Facme%2Fdb%2Fafter" || fail "after restart: not readable"
get acme "/v1/changes?after=0&limit=1000"
dups=$(grep -o '"event_id":"[0-9a-f-]*"' "$T/http.body" | sort | uniq -d | wc -l)
[ "$dups" = 0 ] || fail "$dups events applied twice after the restart"
n=$(grep -o '"seq":' "$T/http.body" | wc -l)
# the errors added nothing, the second marker changed nothing, the
# restart replayed nothing new: one more change (after)
[ "$n" = $((before + 1)) ] || fail "acme: $n changes, expected $((before + 1))"
kill -TERM "$PID"
wait_exit "$PID" 20 || fail "no exit after SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
echo "ok: single, array, NDJSON in and readable; dup id -> one change; 400/413/415/405/404; restart clean"
