#!/usr/bin/env bash
# Real-shaped events (assets, tags, owners, lineage, a Monte Carlo
# incident, and some that cannot be applied) through jsonl_in into the
# store actor: `sluice store stats` shows the counts, the dead letters are
# counted (stats, metrics log, store actor log) and never stop the actor,
# every change is emitted on store.changes in order after its commit, and
# the store and its log agree. Run again on the same store: every event id
# was applied already, so nothing changes and nothing is emitted.
source "$(dirname "$0")/lib.bash"

ID=0193b1c4-7e55-7a10-9c3b-5d2f8e6a4b
SF=snowflake://acme-prod/analytics
cat >"$T/events.jsonl" <<JSONL
{"id":"${ID}01","tenant":"acme","kind":"asset.upsert","time":"2026-11-25T08:00:00Z","body":{"qualified_name":"$SF/raw/orders","type":"table","name":"orders","description":"Raw orders from the shop","owners":["data-eng@acme.com"],"attributes":{"rows":1200000}}}
{"id":"${ID}02","tenant":"acme","kind":"asset.upsert","time":"2026-11-25T08:00:01Z","body":{"qualified_name":"$SF/orders/fct_orders","type":"table","name":"fct_orders","owners":["analytics@acme.com"]}}
{"id":"${ID}03","tenant":"acme","kind":"asset.upsert","time":"2026-11-25T08:00:02Z","body":{"qualified_name":"tableau://acme/sites/sales/revenue","type":"dashboard","name":"Revenue"}}
{"id":"${ID}04","tenant":"acme","kind":"lineage.edge","time":"2026-11-25T08:00:03Z","body":{"from":"$SF/raw/orders","to":"$SF/orders/fct_orders","job":"dbt://acme/fct_orders"}}
{"id":"${ID}05","tenant":"acme","kind":"lineage.edge","time":"2026-11-25T08:00:04Z","body":{"from":"$SF/orders/fct_orders","to":"tableau://acme/sites/sales/revenue","type":"data"}}
{"id":"${ID}06","tenant":"acme","kind":"tag.set","time":"2026-11-25T08:00:05Z","body":{"qualified_name":"$SF/raw/orders","tag":"pii"}}
{"id":"${ID}07","tenant":"acme","kind":"owner.set","time":"2026-11-25T08:00:06Z","body":{"qualified_name":"$SF/orders/fct_orders","owners":["analytics@acme.com","finance@acme.com"]}}
{"id":"${ID}08","tenant":"acme","kind":"incident.upsert","time":"2026-11-25T08:05:00Z","body":{"source":"montecarlo","external_id":"inc-7f3a","qualified_names":["$SF/raw/orders"],"type":"freshness_anomaly","sub_types":["freshness"],"title":"orders not updated for 6 hours","severity":"SEV-2","priority":"P2","status":"open","source_status":"no_status","owner":"data-eng@acme.com","url":"https://getmontecarlo.com/incidents/inc-7f3a","created_at":"2026-11-25T08:04:00Z","updated_at":"2026-11-25T08:04:30Z"}}
{"id":"${ID}09","tenant":"acme","kind":"asset.explode","time":"2026-11-25T08:06:00Z","body":{"qualified_name":"$SF/raw/orders"}}
{"id":"${ID}0a","tenant":"acme","kind":"tag.set","time":"2026-11-25T08:06:01Z","body":{"qualified_name":"$SF/raw/orders"}}
{"id":"${ID}0b","tenant":"acme","kind":"asset.upsert","time":"2026-11-25T08:06:02Z","body":{"type":"table","name":"nameless"}}
this line is not an event
{"id":"${ID}0c","tenant":"globex","kind":"asset.upsert","time":"2026-11-25T08:07:00Z","body":{"qualified_name":"bigquery://globex/sales/orders","type":"table","name":"orders"}}
{"id":"${ID}01","tenant":"acme","kind":"asset.upsert","time":"2026-11-25T08:00:00Z","body":{"qualified_name":"$SF/raw/orders","type":"table","name":"orders","description":"Raw orders from the shop","owners":["data-eng@acme.com"],"attributes":{"rows":1200000}}}
JSONL

cat >"$T/topo.yaml" <<YAML
version: 1
name: store-apply
store: { path: $T/store }
actors:
  events: { kind: jsonl_in, path: $T/events.jsonl }
  store:  { kind: store, inputs: [events], fsync: false }
  out:    { kind: jsonl_out, inputs: [store.changes], path: $T/changes.jsonl }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected the topology"
start run1 run "$T/topo.yaml"
wait_exit "$LAST_PID" 60 || fail "run did not finish"
[ "$RC" = 0 ] || fail "exit status $RC"

"$SLUICE" store stats "$T/topo.yaml" >"$T/stats.json" 2>"$T/stats.log" || fail "store stats failed: $(cat "$T/stats.log")"
stat() { # TENANT FIELD
    grep -o "\"$1\": *{[^}]*}" "$T/stats.json" | grep -o "\"$2\": *[0-9]*" | grep -o '[0-9]*$'
}
[ "$(stat acme assets)" = 3 ] || fail "acme assets: $(stat acme assets), expected 3: $(cat "$T/stats.json")"
[ "$(stat acme edges)" = 2 ] || fail "acme edges: $(stat acme edges), expected 2: $(cat "$T/stats.json")"
[ "$(stat acme incidents)" = 1 ] || fail "acme incidents: $(stat acme incidents), expected 1"
[ "$(stat acme dead_letters)" = 3 ] || fail "acme dead letters: $(stat acme dead_letters), expected 3"
[ "$(stat globex assets)" = 1 ] || fail "globex assets: $(stat globex assets), expected 1"
acme_changes=$(stat acme changes)
globex_changes=$(stat globex changes)
[ "$acme_changes" -ge 8 ] || fail "acme has $acme_changes changes, expected at least 8 (one per applied event)"
[ "$globex_changes" -ge 1 ] || fail "globex has no change"

# dead letters are counted and logged; the actor went on (globex came after)
log_has "$T/run1.log" '3 events dead-lettered' || fail "no dead-letter line in the store's log"
log_has "$T/run1.log" 'events.jsonl:12: ' || fail "jsonl_in did not report the bad line"

# every change was emitted once, per tenant in seq order 1..N
emitted() { # TENANT: the seq of each emitted change of TENANT, in file order
    grep "\"tenant\":\"$1\"" "$T/changes.jsonl" | grep -o '"body":{"seq":[0-9]*' | grep -o '[0-9]*$'
}
[ "$(emitted acme | tr '\n' ' ')" = "$(seq 1 "$acme_changes" | tr '\n' ' ')" ] ||
    fail "acme emitted $(emitted acme | tr '\n' ' '), expected 1..$acme_changes"
[ "$(emitted globex | tr '\n' ' ')" = "$(seq 1 "$globex_changes" | tr '\n' ' ')" ] ||
    fail "globex emitted $(emitted globex | tr '\n' ' ')"
grep -q '"entity":"incident"' "$T/changes.jsonl" || fail "no incident change emitted"
grep -q '"entity":"edge"' "$T/changes.jsonl" || fail "no edge change emitted"

"$SLUICE" store check "$T/topo.yaml" >"$T/check.out" 2>&1 || fail "store check: $(cat "$T/check.out")"
grep -q "tenant acme: ok: $acme_changes changes" "$T/check.out" || fail "check: $(cat "$T/check.out")"

# the same events again: all applied already, nothing changes or is emitted
mv "$T/changes.jsonl" "$T/changes1.jsonl"
start run2 run "$T/topo.yaml"
wait_exit "$LAST_PID" 60 || fail "second run did not finish"
[ "$RC" = 0 ] || fail "second run exit status $RC"
"$SLUICE" store stats "$T/topo.yaml" >"$T/stats.json" || fail "store stats failed"
[ "$(stat acme changes)" = "$acme_changes" ] || fail "replay changed acme: $(stat acme changes) changes, was $acme_changes"
[ "$(stat acme assets)" = 3 ] || fail "replay changed the asset count"
[ "$(lines "$T/changes.jsonl")" = 0 ] || fail "replay emitted $(lines "$T/changes.jsonl") changes"

# no store: a clear error, exit 1
sed "s#path: $T/store#path: $T/nosuch#" "$T/topo.yaml" >"$T/nostore.yaml"
if "$SLUICE" store stats "$T/nostore.yaml" >/dev/null 2>"$T/nostore.err"; then
    fail "stats of a missing store succeeded"
fi
grep -q "no store at $T/nosuch" "$T/nostore.err" || fail "missing store message: $(cat "$T/nostore.err")"
[ ! -e "$T/nosuch" ] || fail "stats created the missing store"
echo "ok: acme $acme_changes changes, 3 assets, 2 edges, 1 incident, 3 dead letters; replay is a no-op"
