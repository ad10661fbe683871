#!/usr/bin/env bash
# The query API with the real binary: events of two tenants in through
# jsonl_in -> store, reads over real HTTP from an http_api on the same
# store (every route, tenant separation, pagination, 404/400/405), and
# `sluice query` for each read. The change stream: api_stream.sh.
source "$(dirname "$0")/lib.bash"

API=$(free_port) || fail "no free port"
URL="http://127.0.0.1:$API"
QN='snowflake://acme-prod/analytics/orders/fct_orders'
QN_ENC='snowflake%3A%2F%2Facme-prod%2Fanalytics%2Forders%2Ffct_orders'
SRC='snowflake://acme-prod/raw/orders/orders'
SRC_ENC='snowflake%3A%2F%2Facme-prod%2Fraw%2Forders%2Forders'
DASH='tableau://acme/sales/orders_dashboard'
DASH_ENC='tableau%3A%2F%2Facme%2Fsales%2Forders_dashboard'
GQN='bigquery://globex/sales/leads'

ev() { # tenant kind body
    printf '{"tenant":"%s","kind":"%s","time":"2026-11-25T08:00:00Z","body":%s}\n' "$1" "$2" "$3"
}
{
    ev acme asset.upsert "{\"qualified_name\":\"$SRC\",\"type\":\"table\",\"name\":\"orders\",\"owners\":[\"data-eng\"]}"
    ev acme asset.upsert "{\"qualified_name\":\"$QN\",\"type\":\"table\",\"name\":\"fct_orders\",\"description\":\"orders fact\",\"owners\":[\"analytics\"]}"
    ev acme asset.upsert "{\"qualified_name\":\"$DASH\",\"type\":\"dashboard\",\"name\":\"Orders\"}"
    ev acme tag.set "{\"qualified_name\":\"$QN\",\"tag\":\"pii\"}"
    ev acme lineage.edge "{\"from\":\"$SRC\",\"to\":\"$QN\",\"job\":\"dbt.fct_orders\"}"
    ev acme lineage.edge "{\"from\":\"$QN\",\"to\":\"$DASH\"}"
    ev acme incident.upsert "{\"source\":\"montecarlo\",\"external_id\":\"inc-1\",\"qualified_names\":[\"$SRC\"],\"type\":\"freshness\",\"title\":\"orders late\",\"severity\":\"SEV-2\",\"status\":\"open\",\"created_at\":\"2026-11-25T08:00:00Z\",\"updated_at\":\"2026-11-25T08:00:00Z\"}"
    ev acme incident.upsert "{\"source\":\"montecarlo\",\"external_id\":\"inc-2\",\"qualified_names\":[\"$DASH\"],\"type\":\"volume\",\"title\":\"old one\",\"status\":\"resolved\",\"created_at\":\"2026-11-24T08:00:00Z\",\"updated_at\":\"2026-11-24T09:00:00Z\"}"
    ev globex asset.upsert "{\"qualified_name\":\"$GQN\",\"type\":\"table\",\"name\":\"leads\"}"
    ev globex tag.set "{\"qualified_name\":\"$GQN\",\"tag\":\"sales\"}"
} >"$T/events.jsonl"

cat >"$T/topo.yaml" <<YAML
version: 1
name: api-reads
store: { path: $T/store }
actors:
  in:    { kind: jsonl_in, path: $T/events.jsonl }
  store: { kind: store, inputs: [in], fsync: false }
  api:   { kind: http_api, listen: 127.0.0.1:$API, max_connections: 16, timeout: 10s }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "topology invalid"
start run run "$T/topo.yaml"
PID=$LAST_PID

# get TENANT PATH: status into $CODE, body in $T/http.body
get() {
    if [ -n "$1" ]; then
        CODE=$(curl -s -m 5 --path-as-is -H "X-Tenant-ID: $1" -o "$T/http.body" -w '%{http_code}' "$URL$2" 2>/dev/null) || CODE=000
    else
        CODE=$(curl -s -m 5 --path-as-is -o "$T/http.body" -w '%{http_code}' "$URL$2" 2>/dev/null) || CODE=000
    fi
}
body() { cat "$T/http.body"; }
has() { grep -q -F -- "$1" "$T/http.body"; }
expect() { # TENANT PATH CODE [FIXED-STRING...]
    local t=$1 p=$2 c=$3
    shift 3
    get "$t" "$p"
    [ "$CODE" = "$c" ] || fail "GET $p (tenant '$t'): $CODE, expected $c: $(body)"
    for s in "$@"; do
        has "$s" || fail "GET $p (tenant '$t'): no '$s' in $(body)"
    done
}
# the last event of the file is applied once globex's tag shows
applied() { get globex "/v1/assets/bigquery%3A%2F%2Fglobex%2Fsales%2Fleads" && [ "$CODE" = 200 ] && has '"sales"'; }
wait_for 30 applied || fail "events not readable over the API (last: $CODE $(body))"

# --- one asset: tags, owners, incidents
expect acme "/v1/assets/$QN_ENC" 200 "\"qualified_name\":\"$QN\"" '"type":"table"' '"pii"' '"analytics"' '"incidents"'
# a plain (unencoded) slash decodes to the same name
expect acme "/v1/assets/snowflake:%2F%2Facme-prod/analytics/orders/fct_orders" 200 "\"qualified_name\":\"$QN\""
expect acme "/v1/assets/$SRC_ENC" 200 '"open"' 'inc-1'
expect acme "/v1/assets/nosuch%3A%2F%2Fx" 404 '"code":"not_found"'
expect acme "/v1/assets/bad%G1name" 400 '"code":"bad_path"'

# --- tenant separation: globex never sees acme, in any read
expect globex "/v1/assets/$QN_ENC" 404 '"not_found"'
expect globex "/v1/assets/$QN_ENC/lineage?direction=both" 404
expect globex "/v1/assets?limit=1000" 200 "$GQN"
has "acme-prod" && fail "globex lists acme's assets: $(body)"
expect globex "/v1/assets?prefix=snowflake" 200
has "acme-prod" && fail "globex prefix listing shows acme: $(body)"
expect globex "/v1/incidents" 200
has "inc-1" && fail "globex sees acme's incidents: $(body)"
expect globex "/v1/changes?limit=1000" 200 "$GQN"
has "acme-prod" && fail "globex sees acme's changes: $(body)"
expect acme "/v1/assets?limit=1000" 200 "$QN" "$SRC" "$DASH"
has "$GQN" && fail "acme lists globex's asset: $(body)"

# --- listing with a prefix and cursor pagination
expect acme "/v1/assets?prefix=snowflake%3A%2F%2Facme-prod%2F&limit=1" 200 '"items"' '"next_cursor"'
n=$(grep -o '"qualified_name"' "$T/http.body" | wc -l)
[ "$n" = 1 ] || fail "limit=1 gave $n items: $(body)"
cursor=$(grep -o '"next_cursor":"[^"]*"' "$T/http.body" | sed 's/^"next_cursor":"//; s/"$//')
[ -n "$cursor" ] || fail "no next_cursor with more to come: $(body)"
first=$(grep -o '"qualified_name":"[^"]*"' "$T/http.body" | head -1)
cursor_enc=$(printf '%s' "$cursor" | sed 's/%/%25/g; s/+/%2B/g; s/&/%26/g; s/=/%3D/g; s/\//%2F/g; s/:/%3A/g')
expect acme "/v1/assets?prefix=snowflake%3A%2F%2Facme-prod%2F&limit=1&cursor=$cursor_enc" 200
second=$(grep -o '"qualified_name":"[^"]*"' "$T/http.body" | head -1)
[ -n "$second" ] && [ "$second" != "$first" ] || fail "cursor did not advance: $first then $(body)"
expect acme "/v1/assets?prefix=tableau" 200 "$DASH"
has "$QN" && fail "prefix=tableau lists $QN"

# --- lineage: the qn is encoded and holds '/', the route ends in /lineage
expect acme "/v1/assets/$QN_ENC/lineage" 200 "\"root\":\"$QN\"" "$DASH" '"edges"'
expect acme "/v1/assets/$QN_ENC/lineage?direction=up&depth=1" 200 "$SRC" 'dbt.fct_orders'
has "$DASH" && fail "direction=up shows the downstream dashboard: $(body)"
expect acme "/v1/assets/$QN_ENC/lineage?direction=both&depth=2&limit=10" 200 "$SRC" "$DASH"
expect acme "/v1/assets/$QN_ENC/lineage?direction=sideways" 400 "'direction'"
expect acme "/v1/assets/$QN_ENC/lineage?depth=0" 400 "'depth'"
expect acme "/v1/assets/$QN_ENC/lineage?depth=11" 400 "'depth'"
expect acme "/v1/assets/nosuch/lineage" 404

# --- incidents
expect acme "/v1/incidents" 200 'inc-1' 'inc-2'
expect acme "/v1/incidents?status=open" 200 'inc-1'
has 'inc-2' && fail "status=open lists the resolved incident: $(body)"
expect acme "/v1/incidents?status=resolved&source=montecarlo" 200 'inc-2'
expect acme "/v1/incidents?asset=$SRC_ENC" 200 'inc-1'
has 'inc-2' && fail "asset filter lists another asset's incident: $(body)"
expect acme "/v1/incidents?source=nosuch" 200
has 'inc-1' && fail "source filter ignored: $(body)"
expect acme "/v1/incidents?status=closed" 400 "'status'"

# --- changes
expect acme "/v1/changes?after=0&limit=3" 200 '"items"' '"seq":1' '"last_seq"'
has '"seq":4' && fail "limit=3 returned a 4th change: $(body)"
expect acme "/v1/changes?after=2&limit=1" 200 '"seq":3'
has '"seq":2' && fail "after=2 returned seq 2: $(body)"

# --- errors: tenant, parameters, routes, methods
expect "" "/v1/assets" 400 '"code":"missing_tenant"'
expect "" "/v1/changes" 400 '"code":"missing_tenant"'
expect "acme corp" "/v1/assets" 400 '"code":"bad_tenant"'
expect acme "/v1/assets?limit=0" 400 '"code":"bad_parameter"' "'limit'"
expect acme "/v1/assets?limit=1001" 400 "'limit'"
expect acme "/v1/assets?limit=ten" 400 "'limit'"
expect acme "/v1/changes?after=-1" 400 "'after'"
expect acme "/v1/changes?limit=5000" 400 "'limit'"
expect acme "/v1/assets?prefix=%G1" 400 "'prefix'"
expect acme "/v1/nosuch" 404 '"code":"not_found"'
expect acme "/v1/changes/nosuch" 404
expect acme "/" 404
code=$(curl -s -m 5 -o "$T/http.body" -w '%{http_code}' -X POST -H 'X-Tenant-ID: acme' -d '{}' "$URL/v1/assets") || true
[ "$code" = 405 ] || fail "POST /v1/assets gave $code, expected 405"
has '"method_not_allowed"' || fail "405 body: $(body)"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X DELETE -H 'X-Tenant-ID: acme' "$URL/v1/assets/$QN_ENC") || true
[ "$code" = 405 ] || fail "DELETE gave $code, expected 405"

# --- `sluice query`, the same reads from the command line
q() { "$SLUICE" query "$T/topo.yaml" "$@" >"$T/q.out" 2>"$T/q.err"; }
q asset "$QN" --tenant acme || fail "query asset: $(cat "$T/q.err")"
grep -q -F "\"qualified_name\":\"$QN\"" "$T/q.out" || fail "query asset printed $(cat "$T/q.out")"
grep -q -F '"pii"' "$T/q.out" || fail "query asset: no tag"
if q asset "$QN" --tenant globex; then fail "query asset found acme's asset for globex"; fi
q lineage "$QN" --direction up --depth 2 --tenant acme || fail "query lineage: $(cat "$T/q.err")"
grep -q -F "$SRC" "$T/q.out" || fail "query lineage printed $(cat "$T/q.out")"
q incidents --status open --tenant acme || fail "query incidents: $(cat "$T/q.err")"
grep -q 'inc-1' "$T/q.out" && ! grep -q 'inc-2' "$T/q.out" || fail "query incidents printed $(cat "$T/q.out")"
q incidents --asset "$SRC" --source montecarlo --tenant acme || fail "query incidents --asset"
grep -q 'inc-1' "$T/q.out" || fail "query incidents --asset printed $(cat "$T/q.out")"
q changes --after 1 --limit 2 --tenant acme || fail "query changes: $(cat "$T/q.err")"
grep -q '"seq":2' "$T/q.out" && ! grep -q '"seq":1,' "$T/q.out" || fail "query changes printed $(cat "$T/q.out")"
q assets --prefix tableau --tenant acme || fail "query assets"
grep -q -F "$DASH" "$T/q.out" || fail "query assets printed $(cat "$T/q.out")"
rc=0
"$SLUICE" query "$T/topo.yaml" asset "$QN" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "query without --tenant: exit $rc, expected 2"
rc=0
"$SLUICE" query "$T/topo.yaml" lineage "$QN" --direction sideways --tenant acme >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "query --direction sideways: exit $rc, expected 2"

# --- stop
kill -TERM "$PID"
wait_exit "$PID" 20 || fail "did not exit within 20 s of SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"
echo "ok: every read route, tenant separation, pagination, errors, sluice query"
