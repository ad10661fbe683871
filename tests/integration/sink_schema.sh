#!/usr/bin/env bash
# A sink that declares the schema its payloads must satisfy, with the real
# binary: jsonl_in -> two jsonl_out sinks, one with each built-in kind's
# schema (the default map), one with `schema: tag.set@1` for every event.
# Exact counts written and rejected; each rejection in the log with its
# field and rule, and in the dead-letter store under the sink's name; a
# sink schema that is not in the directory stops the start.
source "$(dirname "$0")/lib.bash"

ID=0193b1c4-7e55-7a10-9c3b-5d2f8e6a4d
SF=snowflake://acme-prod/analytics
cat >"$T/events.jsonl" <<JSONL
{"id":"${ID}01","tenant":"acme","kind":"asset.upsert","body":{"qualified_name":"$SF/raw/orders","type":"table"}}
{"id":"${ID}02","tenant":"acme","kind":"tag.set","body":{"qualified_name":"$SF/raw/orders","tag":"pii"}}
{"id":"${ID}03","tenant":"acme","kind":"incident.upsert","body":{"source":"montecarlo","external_id":"inc-1","severity":"SEV-5"}}
{"id":"${ID}04","tenant":"acme","kind":"asset.upsert","body":{"type":"table"}}
{"id":"${ID}05","tenant":"acme","kind":"asset.explode","body":{"qualified_name":"$SF/raw/orders"}}
{"id":"${ID}06","tenant":"globex","kind":"tag.set","body":{"qualified_name":"bigquery://globex/s/t","tag":"gold"}}
JSONL

cat >"$T/topo.yaml" <<YAML
version: 1
name: sink-schema
store: { path: $T/store }
actors:
  events: { kind: jsonl_in, path: $T/events.jsonl }
  all:    { kind: jsonl_out, inputs: [events], path: $T/all.jsonl, schemas: "$SL_SOURCE_DIR/schemas" }
  tags:   { kind: jsonl_out, inputs: [events], path: $T/tags.jsonl, schemas: "$SL_SOURCE_DIR/schemas",
            schema: tag.set@1 }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected the topology"
start run run "$T/topo.yaml"
wait_exit "$LAST_PID" 60 || fail "run did not finish"
[ "$RC" = 0 ] || fail "exit status $RC"

[ "$(lines "$T/all.jsonl")" = 3 ] || fail "all: $(lines "$T/all.jsonl") written, expected 3"
for n in 01 02 06; do
    grep -q "\"id\":\"${ID}$n\"" "$T/all.jsonl" || fail "all: event $n not written"
done
[ "$(lines "$T/tags.jsonl")" = 2 ] || fail "tags: $(lines "$T/tags.jsonl") written, expected 2"
for n in 02 06; do
    grep -q "\"id\":\"${ID}$n\"" "$T/tags.jsonl" || fail "tags: event $n not written"
done

log_has "$T/run.log" 'body.severity: must be one of SEV-1, SEV-2, SEV-3, SEV-4' || fail "no severity reason"
log_has "$T/run.log" 'body.qualified_name: required' || fail "no required reason"
log_has "$T/run.log" "kind 'asset.explode': no schema for this kind" || fail "no unknown-kind reason"
log_has "$T/run.log" 'body.tag: required' || fail "no tag reason"
log_has "$T/run.log" '"actor":"all".*3 written, 3 rejected by the schema \(3 dead letters written, 0 failed\)' ||
    fail "no summary for all"
log_has "$T/run.log" '"actor":"tags".*2 written, 4 rejected by the schema \(4 dead letters written, 0 failed\)' ||
    fail "no summary for tags"

# in the dead-letter store, under each sink's name
"$SLUICE" dlq list "$T/topo.yaml" --actor all >"$T/dl_all" 2>"$T/dl.err" || fail "dlq list: $(cat "$T/dl.err")"
"$SLUICE" dlq list "$T/topo.yaml" --actor tags >"$T/dl_tags" 2>"$T/dl.err" || fail "dlq list: $(cat "$T/dl.err")"
[ "$(lines "$T/dl_all")" = 3 ] || fail "dead letters of all: $(cat "$T/dl_all")"
[ "$(lines "$T/dl_tags")" = 4 ] || fail "dead letters of tags: $(cat "$T/dl_tags")"
grep -q 'body.severity: must be one of' "$T/dl_all" || fail "dead letter reason: $(cat "$T/dl_all")"

# a schema not in the directory: the start fails, naming it
sed -e "s#schema: tag.set@1#schema: tag.set@7#" -e "s#path: $T/store#path: $T/store2#" "$T/topo.yaml" >"$T/topo2.yaml"
start run2 run "$T/topo2.yaml"
wait_exit "$LAST_PID" 60 || fail "run2 did not finish"
[ "$RC" != 0 ] || fail "run2 started with a missing schema"
log_has "$T/run2.log" "schema 'tag.set@7' is not in" || fail "missing schema not named"
echo "ok"
