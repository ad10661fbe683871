#!/usr/bin/env bash
# `sluice store migrate`: a store written by the sluice of 2026-11-25
# (format 1: names in the lineage tables, assets as named-field maps, blocks
# in the main database) becomes format 2 and reads exactly as it did.
#   tests/fixtures/store_v1/store-v1.tar.gz was written by that binary from
#   acme.ndjson and globex.ndjson (assets, own and propagated tags, owners,
#   edges of three types with and without jobs, a block, an incident, a
#   placeholder, a deleted asset, a second tenant, the walker's copies);
#   expected.txt holds what its `sluice query` printed then.
#   - before the migration every command refuses the store with the way out;
#   - after it, every read prints the same bytes as before;
#   - a second migration changes nothing; `store check` agrees;
#   - `sluice lineage recompute --dry-run` finds every propagated copy where
#     the migrated edges and blocks put it (nothing to change);
#   - the migrated store takes new edges, and the walker propagates on them;
#   - an isolated store (store_v1_isolated: one environment per tenant and
#     `.rejected`) is migrated environment by environment and reads the same.
source "$(dirname "$0")/lib.bash"

FX="$SL_SOURCE_DIR/tests/fixtures/store_v1"
tar -C "$T" -xzf "$FX/store-v1.tar.gz"
P=snowflake://acme-prod/analytics/orders
IN=$(free_port) || fail "no free port"
cat >"$T/t.yaml" <<YAML
version: 1
name: v1-fixture
store: { path: $T/store }
actors:
  http: { kind: http_ingest, listen: 127.0.0.1:$IN, tenant: acme }
  store: { kind: store, inputs: [http, walker], fsync: false }
  walker:
    kind: lineage_walker
    inputs: [store.changes]
    policy: { "*": { tags: all, incidents: true, owners: true } }
YAML

q() { "$SLUICE" query "$T/t.yaml" "$@" 2>&1 || true; echo; }
reads() {
    for a in raw_orders fct_orders mart_orders export gone; do q asset "$P/$a" --tenant acme; done
    q asset tableau://acme/sales/orders --tenant acme
    q lineage "$P/raw_orders" --direction both --depth 10 --tenant acme
    q lineage tableau://acme/sales/orders --direction up --depth 10 --tenant acme
    q assets --tenant acme
    q incidents --tenant acme
    q asset "$P/raw_orders" --tenant globex
    q lineage "$P/raw_orders" --tenant globex
    q changes --tenant acme --limit 1000
}

# --- 1. format 1 is refused, with the command that fixes it
out=$("$SLUICE" query "$T/t.yaml" asset "$P/raw_orders" --tenant acme 2>&1) && fail "format 1 store was read: $out"
grep -q "store format 1" <<<"$out" || fail "no format message: $out"
grep -q "sluice store migrate" <<<"$out" || fail "message does not name the fix: $out"
start run1 run "$T/t.yaml"
wait_exit "$LAST_PID" 30 || fail "sluice run kept running on a format 1 store"
[ "$RC" != 0 ] || fail "sluice run exited 0 on a format 1 store"
grep -q "sluice store migrate" "$T/run1.log" || fail "run did not say how to migrate: $(cat "$T/run1.log")"

# --- 2. migrate; the reads are the same bytes as the old binary printed
out=$("$SLUICE" store migrate "$T/t.yaml") || fail "migrate failed: $out"
grep -q "1 environment(s), 1 rewritten: 7 assets, 5 edges, 1 blocks moved, 0 edges skipped" <<<"$out" || fail "migrate said: $out"
reads >"$T/after.txt"
diff -u "$FX/expected.txt" "$T/after.txt" >"$T/diff.txt" || fail "reads differ after migration: $(head -40 "$T/diff.txt")"

# --- 3. again: nothing to do; check agrees; recompute finds nothing to change
out=$("$SLUICE" store migrate "$T/t.yaml") || fail "second migrate failed: $out"
grep -q "0 rewritten" <<<"$out" || fail "second migrate rewrote: $out"
"$SLUICE" store check "$T/t.yaml" >"$T/check.out" 2>&1 || fail "store check: $(cat "$T/check.out")"
grep -q "tenant acme: ok: .* 5 ids named, 4 edges stored both ways" "$T/check.out" || fail "check: $(cat "$T/check.out")"
grep -q "tenant globex: ok: .* 2 ids named, 1 edges stored both ways" "$T/check.out" || fail "check: $(cat "$T/check.out")"
out=$("$SLUICE" lineage recompute "$T/t.yaml" --dry-run --tenant acme 2>&1) ||
    fail "recompute would change the migrated copies (or failed): $out"
grep -q "tenant acme: [1-9][0-9]* values from their sources, [1-9][0-9]* assets reached, 0 difference(s)" <<<"$out" ||
    fail "recompute said: $out"

# --- 4. the migrated store runs: a new edge carries pii on through the walker
start run2 run "$T/t.yaml"
RUN=$LAST_PID
wait_for 30 bash -c "[ \"\$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:$IN/v1/events)\" = 415 ]" ||
    fail "ingest not listening"
printf '{"kind":"lineage.edge","body":{"from":"%s","to":"%s"}}\n' "$P/mart_orders" "$P/new_report" |
    curl -s -m 10 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
        -H 'X-Tenant-ID: acme' --data-binary @- "http://127.0.0.1:$IN/v1/events" >"$T/code" || true
[ "$(cat "$T/code")" = 202 ] || fail "POST: $(cat "$T/code") $(cat "$T/post.body")"
has_pii() { "$SLUICE" query "$T/t.yaml" asset "$P/new_report" --tenant acme 2>/dev/null | grep -q '"name":"pii","origin":"propagated"'; }
wait_for 30 has_pii || fail "pii did not reach the new edge's end: $(q asset "$P/new_report" --tenant acme)"
kill -TERM "$RUN"
wait_exit "$RUN" 30 || fail "no exit"

# --- 5. isolated tenancy: every tenant's environment (and .rejected)
FI="$SL_SOURCE_DIR/tests/fixtures/store_v1_isolated"
mkdir "$T/iso"
tar -C "$T/iso" -xzf "$FI/store-v1.tar.gz"
cat >"$T/iso.yaml" <<YAML
version: 1
name: v1-iso
tenancy: isolated
tenants:
  acme: {}
  globex: { port_offset: 10 }
store: { path: $T/iso/store }
actors:
  http: { kind: http_ingest, listen: 127.0.0.1:$IN }
  store: { kind: store, inputs: [http], fsync: false }
YAML
out=$("$SLUICE" query "$T/iso.yaml" asset "$P/a" --tenant acme 2>&1) && fail "isolated format 1 store was read: $out"
out=$("$SLUICE" store migrate "$T/iso.yaml") || fail "isolated migrate failed: $out"
grep -q "3 environment(s), 3 rewritten: 5 assets, 3 edges, 1 blocks moved, 0 edges skipped" <<<"$out" ||
    fail "isolated migrate said: $out"
for t in "acme a" "acme b" "globex g" "globex h" "globex i"; do
    set -- $t
    "$SLUICE" query "$T/iso.yaml" asset "$P/$2" --tenant "$1" 2>&1 || true
    echo
    "$SLUICE" query "$T/iso.yaml" lineage "$P/$2" --direction both --tenant "$1" 2>&1 || true
    echo
done >"$T/iso.txt"
diff -u "$FI/expected.txt" "$T/iso.txt" >"$T/iso.diff" || fail "isolated reads differ: $(head -40 "$T/iso.diff")"
"$SLUICE" store check "$T/iso.yaml" >"$T/isocheck.out" 2>&1 || fail "isolated check: $(cat "$T/isocheck.out")"
echo "ok"
