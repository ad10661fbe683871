#!/usr/bin/env bash
# Dead letters end to end: jsonl_in (three events the store cannot apply:
# a tag.set without a tag, an unknown kind, a tenant the store does not
# allow) into a store actor named `catalog`, beside a slow generator that
# keeps the pipeline running. /metrics counts the dead letters per actor
# and reason class; `sluice dlq list/show` find them by tenant, actor,
# reason and time; replay runs WHILE the pipeline runs: into a non-store
# actor it is refused (exit 2), into the store nothing is fixed yet (all
# stay, attempts 2), then with the tenant allowed the fixed event is
# applied and leaves; purge prints without --yes and deletes with it.
# Then replay into a schema_check (not a store): the actors from it
# downstream run in the dlq process on the real store.
source "$(dirname "$0")/lib.bash"

ADMIN=$(free_port) || fail "no free port"
URL="http://127.0.0.1:$ADMIN"
ID=0193b1c4-7e55-7a10-9c3b-5d2f8e6a4c
cat >"$T/events.jsonl" <<JSONL
{"id":"${ID}01","tenant":"acme","kind":"asset.upsert","time":"2026-11-25T08:00:00Z","body":{"qualified_name":"pg://acme/orders","type":"table"}}
{"id":"${ID}02","tenant":"acme","kind":"tag.set","time":"2026-11-25T08:00:01Z","body":{"qualified_name":"pg://acme/orders"}}
{"id":"${ID}03","tenant":"acme","kind":"asset.explode","time":"2026-11-25T08:00:02Z","body":{"qualified_name":"pg://acme/orders"}}
{"id":"${ID}04","tenant":"globex","kind":"asset.upsert","time":"2026-11-25T08:00:03Z","body":{"qualified_name":"bq://globex/sales","type":"table"}}
JSONL
topo() { # FILE TENANTS
    cat >"$1" <<YAML
version: 1
name: dlq
store: { path: $T/store }
admin: 127.0.0.1:$ADMIN
actors:
  events:  { kind: jsonl_in, path: $T/events.jsonl }
  gen:     { kind: generate, tenant: acme, event_kind: asset.upsert, rate: 5, keys: 4 }
  catalog: { kind: store, inputs: [events, gen], fsync: false, tenants: [$2] }
YAML
}
topo "$T/topo.yaml" acme
topo "$T/fixed.yaml" "acme, globex"
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected the topology"

start run run "$T/topo.yaml"
PID=$LAST_PID
dlq() { "$SLUICE" dlq "$@"; }
three() { [ "$(dlq list "$T/topo.yaml" 2>/dev/null | wc -l)" -eq 3 ]; }
wait_for 30 three || fail "never 3 dead letters: $(dlq list "$T/topo.yaml" 2>&1)"

# /metrics: per actor and reason class
scrape() { [ "$(curl -s -m 5 -o "$T/m.txt" -w '%{http_code}' "$URL/metrics")" = 200 ]; }
counted() {
    scrape && grep -q '^sluice_dead_letters_total{actor="catalog",reason="tag.set: body.tag"} 1$' "$T/m.txt" &&
        grep -q '^sluice_dead_letters_total{actor="catalog",reason="unknown kind"} 1$' "$T/m.txt" &&
        grep -q '^sluice_dead_letters_total{actor="catalog",reason="tenant"} 1$' "$T/m.txt"
}
wait_for 20 counted || fail "dead letters not counted in /metrics: $(grep dead_letters "$T/m.txt")"
grep -q '^# TYPE sluice_dead_letters_total counter$' "$T/m.txt" || fail "no TYPE line"

# list and its filters
dlq list "$T/topo.yaml" >"$T/all.jsonl" || fail "list failed"
grep -q '"id":"acme/1".*"actor":"catalog","attempts":1,"reason":"tag.set: body.tag: missing' "$T/all.jsonl" ||
    fail "list: $(cat "$T/all.jsonl")"
ids() { grep -o '^{"id":"[^"]*"' | cut -d'"' -f4 | tr '\n' ' '; }
[ "$(ids <"$T/all.jsonl")" = "acme/1 acme/2 globex/1 " ] || fail "ids: $(ids <"$T/all.jsonl")"
[ "$(dlq list "$T/topo.yaml" --tenant globex | ids)" = "globex/1 " ] || fail "--tenant"
[ "$(dlq list "$T/topo.yaml" --reason 'unknown kind' | ids)" = "acme/2 " ] || fail "--reason"
[ "$(dlq list "$T/topo.yaml" --actor schema_check | ids)" = "" ] || fail "--actor"
[ "$(dlq list "$T/topo.yaml" --actor catalog --since 10m | wc -l)" -eq 3 ] || fail "--since 10m"
[ "$(dlq list "$T/topo.yaml" --until 2020-01-01T00:00:00Z | wc -l)" -eq 0 ] || fail "--until"
[ "$(dlq list "$T/topo.yaml" --limit 2 2>"$T/page.err" | ids)" = "acme/1 acme/2 " ] || fail "--limit"
grep -q -- '--cursor acme/2' "$T/page.err" || fail "no next cursor: $(cat "$T/page.err")"
[ "$(dlq list "$T/topo.yaml" --cursor acme/2 | ids)" = "globex/1 " ] || fail "--cursor"
dlq list "$T/topo.yaml" --table >"$T/table.txt" || fail "--table"
grep -q '^ID  *TIME  *ACTOR  *ATTEMPTS  *KIND  *REASON$' "$T/table.txt" || fail "table: $(cat "$T/table.txt")"
grep -q '^acme/2  .*catalog  *1  asset.explode  *unknown kind' "$T/table.txt" || fail "table: $(cat "$T/table.txt")"

# show
dlq show "$T/topo.yaml" acme/2 >"$T/show.json" || fail "show failed"
grep -q '"event":{.*"kind":"asset.explode"' "$T/show.json" || fail "show: $(cat "$T/show.json")"
dlq show "$T/topo.yaml" 1 --tenant globex | grep -q '"reason":"tenant .globex. not allowed' || fail "show SEQ --tenant"
rc=0
dlq show "$T/topo.yaml" acme/99 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q 'no dead letter acme/99' "$T/err" || fail "show of a missing id: $rc $(cat "$T/err")"
rc=0
dlq list "$T/topo.yaml" --since yesterday 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "a bad --since is a usage error, got $rc"

# replay, while the pipeline runs
rc=0
dlq replay "$T/topo.yaml" --to events 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "actor 'events' is a jsonl_in" "$T/err" || fail "replay into jsonl_in: $rc $(cat "$T/err")"
rc=0
dlq replay "$T/topo.yaml" --to catalog >"$T/replay1.json" || rc=$?
[ "$rc" = 1 ] || fail "replay with nothing fixed: exit $rc"
grep -q '"selected":3,"applied":0,"duplicate":0,"still_dead":3' "$T/replay1.json" || fail "replay: $(cat "$T/replay1.json")"
[ "$(dlq list "$T/topo.yaml" | grep -c '"attempts":2')" = 3 ] || fail "attempts not 2: $(dlq list "$T/topo.yaml")"
# the operator allows globex: its event is applied and leaves the dead letters
dlq replay "$T/fixed.yaml" --to catalog --tenant globex >"$T/replay2.json" || fail "replay of the fixed event"
grep -q '"selected":1,"applied":1,"duplicate":0,"still_dead":0' "$T/replay2.json" || fail "replay: $(cat "$T/replay2.json")"
"$SLUICE" query "$T/fixed.yaml" asset bq://globex/sales --tenant globex | grep -q '"type":"table"' ||
    fail "the replayed asset is not in the store"
[ "$(dlq list "$T/fixed.yaml" | ids)" = "acme/1 acme/2 " ] || fail "after replay: $(dlq list "$T/fixed.yaml" | ids)"
kill -0 "$PID" || fail "the pipeline died during the replay"

# purge: a dry run prints, --yes deletes
dlq purge "$T/topo.yaml" --reason 'unknown kind' >"$T/dry.jsonl" 2>"$T/dry.err" || fail "dry purge"
[ "$(ids <"$T/dry.jsonl")" = "acme/2 " ] && grep -q 'would delete 1 dead letter' "$T/dry.err" || fail "dry purge: $(cat "$T/dry.err")"
[ "$(dlq list "$T/topo.yaml" | wc -l)" -eq 2 ] || fail "the dry run deleted"
dlq purge "$T/topo.yaml" --reason 'unknown kind' --yes | grep -q '"deleted":1' || fail "purge --yes"
[ "$(dlq list "$T/topo.yaml" | ids)" = "acme/1 " ] || fail "after purge: $(dlq list "$T/topo.yaml" | ids)"
"$SLUICE" store stats "$T/topo.yaml" | grep -q '"acme": *{[^}]*"dead_letters": *1' || fail "stats after purge"

kill -TERM "$PID"
wait_exit "$PID" 30 || fail "did not exit within 30 s of SIGTERM"
[ "$RC" = 0 ] || fail "exit status $RC"

# replay into a non-store actor: jsonl_in -> schema_check `check` -> store.
# check maps asset.upsert only, so the tag.set is rejected as an unknown
# kind (fixed by the operator: the default map names it); the asset
# without a qualified_name is invalid in itself and stays rejected.
cat >"$T/events2.jsonl" <<JSONL
{"id":"${ID}11","tenant":"acme","kind":"asset.upsert","time":"2026-11-25T09:00:00Z","body":{"qualified_name":"pg://acme/users","type":"table"}}
{"id":"${ID}12","tenant":"acme","kind":"asset.upsert","time":"2026-11-25T09:00:01Z","body":{"type":"table"}}
{"id":"${ID}13","tenant":"acme","kind":"tag.set","time":"2026-11-25T09:00:02Z","body":{"qualified_name":"pg://acme/users","tag":"pii"}}
JSONL
topo2() { # FILE EXTRA-OPTIONS
    cat >"$1" <<YAML
version: 1
name: dlq2
store: { path: $T/store2 }
actors:
  events: { kind: jsonl_in, path: $T/events2.jsonl }
  check:  { kind: schema_check, inputs: [events], schemas: "$SL_SOURCE_DIR/schemas"$2 }
  db:     { kind: store, inputs: [check], fsync: false }
YAML
}
topo2 "$T/check.yaml" ', map: { asset.upsert: asset.upsert@1 }'
topo2 "$T/check-fixed.yaml" ""
start run2 run "$T/check.yaml"
wait_exit "$LAST_PID" 60 || fail "run2 did not finish"
[ "$RC" = 0 ] || fail "run2: exit status $RC"
dlq list "$T/check.yaml" >"$T/c0.jsonl" || fail "list run2"
[ "$(ids <"$T/c0.jsonl")" = "acme/1 acme/2 " ] || fail "run2 dead letters: $(cat "$T/c0.jsonl")"
[ "$(grep -c '"actor":"check","attempts":1' "$T/c0.jsonl")" = 2 ] || fail "run2: $(cat "$T/c0.jsonl")"
rc=0
dlq replay "$T/check-fixed.yaml" --to check >"$T/replay3.json" 2>"$T/replay3.err" || rc=$?
[ "$rc" = 1 ] || fail "replay --to check: exit $rc $(cat "$T/replay3.err")"
grep -q '"selected":2,"replayed":2,"applied":1,"dead_again":1,"skipped":0' "$T/replay3.json" ||
    fail "replay --to check: $(cat "$T/replay3.json") $(cat "$T/replay3.err")"
# the tag reached the real store; the invalid asset is dead again, once
"$SLUICE" query "$T/check-fixed.yaml" asset pg://acme/users --tenant acme | grep -q '"name":"pii"' ||
    fail "the replayed tag is not in the store"
dlq list "$T/check.yaml" >"$T/c1.jsonl"
[ "$(wc -l <"$T/c1.jsonl")" -eq 1 ] || fail "after replay --to check: $(cat "$T/c1.jsonl")"
grep -q "\"id\":\"acme/3\".*\"actor\":\"check\",\"attempts\":1,\"reason\":\"[^\"]*qualified_name.*\"id\":\"${ID}12\"" "$T/c1.jsonl" ||
    fail "not dead again as a new record: $(cat "$T/c1.jsonl")"
echo "ok: 3 dead letters counted per reason; list/show/filters; replay refused for jsonl_in, 3 still dead, 1 fixed and applied while running; purge; replay --to a schema_check: 1 applied to the real store, 1 dead again as a new record"
