#!/usr/bin/env bash
# jsonl_in -> transform -> jsonl_out in the real binary: shared and
# per-tenant rules, a filter, a route to a second output; exact counts and
# fields once the pipeline has drained. Then a bad rule: `sluice check`
# names FILE:LINE:COL and exits 1.
source "$(dirname "$0")/lib.bash"
command -v jq >/dev/null || fail "jq is needed"

N=3000
# per 3 events: one asset.upsert of acme, one incident of globex (SEV-1 every
# other one), one lineage.edge (filtered away)
for i in $(seq 1 $((N / 3))); do
    printf '{"tenant":"acme","kind":"asset.upsert","body":{"table_id":"Analytics:public.t%d","type":"TABLE","debug":1}}\n' "$i"
    printf '{"tenant":"globex","kind":"incident.upsert","body":{"external_id":"e%d","severity":%d,"qualified_names":["q%d"]}}\n' "$i" $((i % 2 + 1)) "$i"
    printf '{"tenant":"acme","kind":"lineage.edge","body":{"from":"a","to":"b"}}\n'
done >"$T/in.jsonl"

cat >"$T/topo.yaml" <<YAML
version: 1
name: transform
actors:
  src: { kind: jsonl_in, path: $T/in.jsonl }
  tf:
    kind: transform
    inputs: [src]
    workers: 2
    rules:
      - filter: {drop: {field: kind, equals: lineage.edge}}
      - drop: body.debug
      - map: {field: body.severity, values: {"1": SEV-1, "2": SEV-2}, default: SEV-4}
      - route: route1
        if: {field: body.severity, equals: SEV-1}
    tenants:
      acme:
        - split: {field: body.table_id, separators: ":.", into: [body.database, body.schema, body.name]}
        - lower: [body.database, body.type]
        - set: {field: body.qualified_name, value: "snowflake://{{body.database}}/{{body.schema}}/{{body.name}}"}
        - copy: {from: body.qualified_name, to: key}
  out: { kind: jsonl_out, inputs: [tf], path: $T/out.jsonl }
  urgent: { kind: jsonl_out, inputs: [tf.route1], path: $T/urgent.jsonl }
YAML
"$SLUICE" check "$T/topo.yaml" >/dev/null || fail "check rejected a valid file"
start run run "$T/topo.yaml"
wait_exit "$LAST_PID" 120 || fail "pipeline did not finish"
[ "$RC" = 0 ] || fail "exit status $RC"

third=$((N / 3))
half=$((third / 2))
got=$(lines "$T/out.jsonl")
[ "$got" = $((third + third - half)) ] || fail "out: expected $((third + third - half)) events, got $got"
got=$(lines "$T/urgent.jsonl")
[ "$got" = "$half" ] || fail "urgent: expected $half events, got $got"
grep -q lineage.edge "$T/out.jsonl" "$T/urgent.jsonl" && fail "a filtered event came out"
grep -q '"debug"' "$T/out.jsonl" && fail "body.debug not dropped"

# every acme asset rewritten, key included
n=$(jq -c 'select(.tenant == "acme") |
      select(.body.qualified_name == "snowflake://analytics/public/\(.body.name)" and
             .key == .body.qualified_name and .body.type == "table" and .body.schema == "public")' \
    "$T/out.jsonl" | wc -l)
[ "$n" = "$third" ] || fail "expected $third rewritten acme assets, got $n"
# globex severities mapped, split by route
n=$(jq -c 'select(.body.severity == "SEV-2")' "$T/out.jsonl" | wc -l)
[ "$n" = $((third - half)) ] || fail "expected $((third - half)) SEV-2 on out, got $n"
n=$(jq -c 'select(.body.severity == "SEV-1" and .tenant == "globex")' "$T/urgent.jsonl" | wc -l)
[ "$n" = "$half" ] || fail "expected $half SEV-1 on urgent, got $n"
# ids kept
n=$(jq -r '.id' "$T/out.jsonl" "$T/urgent.jsonl" | sort -u | wc -l)
[ "$n" = $((third * 2)) ] || fail "ids not unique/kept: $n"

# a bad rule is a topology error with its position
cat >"$T/bad.yaml" <<YAML
version: 1
name: bad
actors:
  src: { kind: jsonl_in, path: $T/in.jsonl }
  tf:
    kind: transform
    inputs: [src]
    rules:
      - drop: body.debug
      - filter: {keep: {field: body.qualified_name, regex: "snowflake://(acme"}}
  out: { kind: jsonl_out, inputs: [tf], path: $T/bad.jsonl }
YAML
rc=0
"$SLUICE" check "$T/bad.yaml" >"$T/check.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "check of a bad rule: exit $rc, expected 1"
grep -q "bad.yaml:10:60: actor 'tf', option 'rules': rule 2: regex 'snowflake://(acme'" "$T/check.out" ||
    fail "no FILE:LINE:COL for the bad regex: $(cat "$T/check.out")"
rc=0
"$SLUICE" run "$T/bad.yaml" >"$T/run.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "run started a topology with a bad rule"
[ ! -s "$T/bad.jsonl" ] || fail "a bad topology wrote events"
echo "ok: $N events in, $(lines "$T/out.jsonl") out, $(lines "$T/urgent.jsonl") routed, bad rule at its position"
