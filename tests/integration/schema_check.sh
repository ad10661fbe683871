#!/usr/bin/env bash
# The real binary: jsonl_in with good and bad events -> schema_check ->
# jsonl_out (valid) and jsonl_out (rejected). Exact counts on both sides,
# each rejection's reason in the log and in the dead-letter store; an
# unknown kind passes with on_unknown_kind: pass; two mapped versions of
# one schema that are not compatible stop the start with the offending
# field named.
source "$(dirname "$0")/lib.bash"

ID=0193b1c4-7e55-7a10-9c3b-5d2f8e6a4c
SF=snowflake://acme-prod/analytics
cat >"$T/events.jsonl" <<JSONL
{"id":"${ID}01","tenant":"acme","kind":"asset.upsert","time":"2026-11-25T08:00:00Z","body":{"qualified_name":"$SF/raw/orders","type":"table","name":"orders","description":"Raw orders","owners":["data-eng@acme.com"],"attributes":{"rows":1200000}}}
{"id":"${ID}02","tenant":"acme","kind":"asset.delete","time":"2026-11-25T08:00:01Z","body":{"qualified_name":"$SF/raw/old"}}
{"id":"${ID}03","tenant":"acme","kind":"tag.set","time":"2026-11-25T08:00:02Z","body":{"qualified_name":"$SF/raw/orders","tag":"pii"}}
{"id":"${ID}04","tenant":"acme","kind":"tag.unset","time":"2026-11-25T08:00:03Z","body":{"qualified_name":"$SF/raw/orders","tag":"pii","propagate":false}}
{"id":"${ID}05","tenant":"acme","kind":"owner.set","time":"2026-11-25T08:00:04Z","body":{"qualified_name":"$SF/raw/orders","owners":["a@acme.com","b@acme.com"]}}
{"id":"${ID}06","tenant":"acme","kind":"lineage.edge","time":"2026-11-25T08:00:05Z","body":{"from":"$SF/raw/orders","to":"$SF/orders/fct_orders","job":"dbt://acme/fct_orders"}}
{"id":"${ID}07","tenant":"acme","kind":"lineage.edge.delete","time":"2026-11-25T08:00:06Z","body":{"from":"$SF/raw/orders","to":"$SF/orders/fct_orders","type":"data"}}
{"id":"${ID}08","tenant":"acme","kind":"incident.upsert","time":"2026-11-25T08:05:00Z","body":{"source":"montecarlo","external_id":"inc-7f3a","qualified_names":["$SF/raw/orders"],"type":"freshness_anomaly","sub_types":["freshness"],"title":"orders not updated for 6 hours","severity":"SEV-2","priority":"P2","status":"open","source_status":"no_status","owner":"data-eng@acme.com","url":"https://getmontecarlo.com/incidents/inc-7f3a","created_at":"2026-11-25T08:04:00Z","updated_at":"2026-11-25T08:04:30Z"}}
{"id":"${ID}09","tenant":"acme","kind":"incident.upsert","time":"2026-11-25T08:06:00Z","body":{"source":"montecarlo","external_id":"inc-7f3b","severity":"SEV-5"}}
{"id":"${ID}0a","tenant":"acme","kind":"asset.upsert","time":"2026-11-25T08:06:01Z","body":{"type":"table","name":"nameless"}}
{"id":"${ID}0b","tenant":"acme","kind":"owner.set","time":"2026-11-25T08:06:02Z","body":{"qualified_name":"$SF/raw/orders","owners":["a@acme.com","b@acme.com",7]}}
{"id":"${ID}0c","tenant":"globex","kind":"incident.upsert","time":"2026-11-25T08:06:03Z","body":{"source":"montecarlo","external_id":"inc-1","updated_at":"yesterday"}}
{"id":"${ID}0d","tenant":"acme","kind":"asset.explode","time":"2026-11-25T08:06:04Z","body":{"qualified_name":"$SF/raw/orders"}}
{"id":"${ID}0e","tenant":"globex","kind":"tag.set","time":"2026-11-25T08:06:05Z","body":{"qualified_name":"bigquery://globex/sales/orders","tag":"gold"}}
JSONL

topo() { # FILE EXTRA-OPTIONS
    cat >"$1" <<YAML
version: 1
name: schema-check
store: { path: $T/store }
actors:
  events: { kind: jsonl_in, path: $T/events.jsonl }
  check:  { kind: schema_check, inputs: [events], schemas: "$SL_SOURCE_DIR/schemas"$2 }
  good:   { kind: jsonl_out, inputs: [check], path: $T/good.jsonl }
  bad:    { kind: jsonl_out, inputs: [check.rejected], path: $T/bad.jsonl }
YAML
}
topo "$T/topo.yaml" ""
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected the topology"
start run1 run "$T/topo.yaml"
wait_exit "$LAST_PID" 60 || fail "run did not finish"
[ "$RC" = 0 ] || fail "exit status $RC"

[ "$(lines "$T/good.jsonl")" = 9 ] || fail "good: $(lines "$T/good.jsonl") events, expected 9"
[ "$(lines "$T/bad.jsonl")" = 5 ] || fail "rejected: $(lines "$T/bad.jsonl") events, expected 5"
for n in 01 02 03 04 05 06 07 08 0e; do
    grep -q "\"id\":\"${ID}$n\"" "$T/good.jsonl" || fail "event $n not passed"
done
for n in 09 0a 0b 0c 0d; do
    grep -q "\"id\":\"${ID}$n\"" "$T/bad.jsonl" || fail "event $n not rejected"
done
# rejected events are kept as they were: the body is unchanged
grep -q '"severity":"SEV-5"' "$T/bad.jsonl" || fail "rejected event changed"

# each reason in the log, naming the field and the rule
log_has "$T/run1.log" 'body.severity: must be one of SEV-1, SEV-2, SEV-3, SEV-4' || fail "no severity reason"
log_has "$T/run1.log" 'body.qualified_name: required' || fail "no required reason"
log_has "$T/run1.log" 'body.owners\[2\]: expected a string' || fail "no owners[2] reason"
log_has "$T/run1.log" 'body.updated_at: must be a valid date-time' || fail "no date-time reason"
log_has "$T/run1.log" "kind 'asset.explode': no schema for this kind" || fail "no unknown-kind reason"
log_has "$T/run1.log" '9 valid, 5 rejected \(5 dead letters written, 0 failed\)' || fail "no summary"

# and in the dead-letter store, per tenant
"$SLUICE" store stats "$T/topo.yaml" >"$T/stats.json" 2>"$T/stats.log" || fail "store stats: $(cat "$T/stats.log")"
stat() { # TENANT FIELD
    grep -o "\"$1\": *{[^}]*}" "$T/stats.json" | grep -o "\"$2\": *[0-9]*" | grep -o '[0-9]*$'
}
[ "$(stat acme dead_letters)" = 4 ] || fail "acme dead letters: $(stat acme dead_letters), expected 4: $(cat "$T/stats.json")"
[ "$(stat globex dead_letters)" = 1 ] || fail "globex dead letters: $(stat globex dead_letters), expected 1"

# on_unknown_kind: pass, and an explicit map that leaves owner.set unchecked
rm -f "$T/good.jsonl" "$T/bad.jsonl"
topo "$T/topo2.yaml" ', on_unknown_kind: pass, map: { incident.upsert: "incident.upsert@1", asset.upsert: asset.upsert }'
sed -i "s#path: $T/store#path: $T/store2#" "$T/topo2.yaml"
start run2 run "$T/topo2.yaml"
wait_exit "$LAST_PID" 60 || fail "run2 did not finish"
[ "$RC" = 0 ] || fail "run2 exit status $RC"
# rejected: 09 (severity), 0a (asset without name), 0c (date-time); the rest pass
[ "$(lines "$T/bad.jsonl")" = 3 ] || fail "run2 rejected $(lines "$T/bad.jsonl"), expected 3"
[ "$(lines "$T/good.jsonl")" = 11 ] || fail "run2 passed $(lines "$T/good.jsonl"), expected 11"

# two versions of one schema in the map must be compatible
mkdir "$T/schemas"
cp "$SL_SOURCE_DIR/schemas/tag.set.yaml" "$T/schemas/"
sed -e 's/^version: 1/version: 2/' -e 's/^required: \[qualified_name, tag\]/required: [qualified_name, tag, reason]/' \
    -e 's/^properties:/properties:\n  reason: { type: string }/' "$SL_SOURCE_DIR/schemas/tag.set.yaml" >"$T/schemas/tag.set.v2.yaml"
cat >"$T/topo3.yaml" <<YAML
version: 1
name: schema-versions
actors:
  events: { kind: jsonl_in, path: $T/events.jsonl }
  check:  { kind: schema_check, inputs: [events], schemas: "$T/schemas", map: { tag.set: tag.set@1, tag.set.v2: tag.set@2 } }
  good:   { kind: jsonl_out, inputs: [check], path: $T/good3.jsonl }
YAML
start run3 run "$T/topo3.yaml"
wait_exit "$LAST_PID" 60 || fail "run3 did not finish"
[ "$RC" != 0 ] || fail "run3 started with incompatible versions"
log_has "$T/run3.log" 'tag.set@2 is not backward compatible with tag.set@1' || fail "no compatibility error"
log_has "$T/run3.log" 'body.reason: required by new, optional in old' || fail "offending field not named"
# sluice schema check: exit 0 compatible, 1 not (each offending field on
# stdout), 2 usage
S=$SL_SOURCE_DIR/schemas
"$SLUICE" schema check "$S/tag.set.yaml" "$S/tag.set.yaml" >"$T/sc.out" || fail "same schema: not compatible"
grep -q 'backward compatible' "$T/sc.out" || fail "sc.out: $(cat "$T/sc.out")"
"$SLUICE" schema check "$S/tag.set.yaml" "$T/schemas/tag.set.v2.yaml" >"$T/sc.out" 2>"$T/sc.err" && fail "v2 with a new required field passed"
[ $? = 1 ] || fail "expected exit 1"
[ "$(cat "$T/sc.out")" = "backward: body.reason: required by new, optional in old
backward: body.reason: new constrains a property that old leaves open (additionalProperties)" ] || fail "report: $(cat "$T/sc.out")"
"$SLUICE" schema check --mode forward "$S/tag.set.yaml" "$T/schemas/tag.set.v2.yaml" >/dev/null || fail "forward should pass"
"$SLUICE" schema check --mode none "$S/tag.set.yaml" "$T/schemas/tag.set.v2.yaml" >/dev/null || fail "none should pass"
rc=0; "$SLUICE" schema check --mode full "$S/tag.set.yaml" "$T/schemas/tag.set.v2.yaml" >"$T/sc.out" 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "full: exit $rc"
rc=0; "$SLUICE" schema check --mode sideways "$S/tag.set.yaml" "$S/tag.set.yaml" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "bad mode: exit $rc"
rc=0; "$SLUICE" schema check "$S/tag.set.yaml" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "one file: exit $rc"
rc=0; "$SLUICE" schema check "$S/tag.set.yaml" "$T/nope.yaml" 2>"$T/sc.err" || rc=$?
[ "$rc" = 2 ] && grep -q 'nope.yaml' "$T/sc.err" || fail "missing file: exit $rc $(cat "$T/sc.err")"
"$SLUICE" schema --help | grep -q 'usage: sluice schema check' || fail "no help"
echo "ok"
