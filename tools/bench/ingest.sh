#!/usr/bin/env bash
# HTTP ingest benchmarks (docs/performance.md "## Ingest"): `sluice run` of
# http_ingest (journal, fsync on) -> store (fsync on) + http_api, loaded by
# tools/bench/ingest_bench on the same machine.
#
#   BENCH_DIR=./build/rel bash tools/bench/ingest.sh
#
# Environment (defaults in brackets):
#   SECONDS_EACH [5]        seconds per throughput point
#   CONNS ["8 32"]          connections of the throughput points
#   BATCHES ["100 1"]       events per request of the throughput points
#   LAT_RATES ["1000 10000"] events/s of the latency points (single events)
#   LAT_CONNS [16]          connections of the latency points
#   INGEST_TMP [$BENCH_OUT/ingest-tmp]  store + journal directories
#   BENCH_OUT [$BENCH_DIR/bench]  results: ingest.md, results.jsonl (appended)
set -euo pipefail

: "${BENCH_DIR:?BENCH_DIR must hold sluice and ingest_bench}"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${SECONDS_EACH:-5}
CONNS=${CONNS:-"8 32"}
BATCHES=${BATCHES:-"100 1"}
LAT_RATES=${LAT_RATES:-"1000 10000"}
LAT_CONNS=${LAT_CONNS:-16}
OUT=${BENCH_OUT:-$BENCH_DIR/bench}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TMPD=${INGEST_TMP:-$OUT/ingest-tmp}
mkdir -p "$TMPD"
W=$(mktemp -d "$TMPD/run.XXXXXX")
PID=
trap '[ -z "$PID" ] || kill -KILL "$PID" 2>/dev/null || true; rm -rf "$W"' EXIT
JSONL=$OUT/results.jsonl
MD=$OUT/ingest.md
IB=$BENCH_DIR/ingest_bench
SL=$BENCH_DIR/sluice
log() { echo "ingest: $*" >&2; }
die() {
    echo "ingest: FAIL: $*" >&2
    exit 1
}
jget() { grep -o "\"$1\":[^,}]*" <<<"$2" | head -1 | sed 's/^[^:]*://; s/"//g'; }

port() { echo $((20000 + RANDOM % 30000)); }
IN=$(port)
API=$((IN + 1))
start_node() { # fresh store and journal each time
    local d="$W/s$1"
    cat >"$W/topo.yaml" <<YAML
version: 1
name: ingest-bench
store: { path: $d }
actors:
  http:  { kind: http_ingest, listen: 127.0.0.1:$IN, max_connections: 512, max_lag: 1000000 }
  store: { kind: store, inputs: [http] }
  api:   { kind: http_api, listen: 127.0.0.1:$API, max_connections: 64 }
YAML
    "$SL" run "$W/topo.yaml" 2>"$W/run$1.log" &
    PID=$!
    for _ in $(seq 1 200); do
        [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$IN/v1/events" 2>/dev/null)" = 415 ] && return 0
        sleep 0.05
    done
    die "sluice did not start: $(tail -5 "$W/run$1.log")"
}
stop_node() {
    kill -TERM "$PID"
    wait "$PID" || true
    PID=
}

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
FS=$(df -T "$TMPD" | awk 'NR == 2 { print $2 " on " $1 }')
{
    echo "### Ingest ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "- machine: $CPU, $(nproc) cores; journal and store on $FS; load generator on the same machine"
    echo "- sluice: $(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null || echo '?'); command: \`BENCH_DIR=$BENCH_DIR bash tools/bench/ingest.sh\`"
    echo "- topology: http_ingest (fsync on) -> store (fsync on, batch 1000 / 1 ms) + http_api; fresh directories per point"
    echo
    echo "| point | conns | events/s | requests/s | request p50 / p99 ms | end-to-end p50 / p99 ms | 429s | load (1 min) |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$MD"

n=0
for b in $BATCHES; do
    for c in $CONNS; do
        n=$((n + 1))
        start_node "$n"
        line=$("$IB" --mode throughput --url "127.0.0.1:$IN" --conns "$c" --batch "$b" --seconds "$SECONDS_EACH" | tail -1)
        stop_node
        echo "$line" >>"$JSONL"
        log "batch $b, $c conns: $line"
        echo "| batch $b | $c | $(jget events_per_s "$line") | $(jget requests_per_s "$line") | $(jget req_p50_ms "$line") / $(jget req_p99_ms "$line") | | $(jget saturated "$line") | $(grep -o '"load":\[[0-9.]*' <<<"$line" | grep -o '[0-9.]*$') |" >>"$MD"
    done
done
for r in $LAT_RATES; do
    n=$((n + 1))
    start_node "$n"
    line=$("$IB" --mode latency --url "127.0.0.1:$IN" --api "127.0.0.1:$API" --conns "$LAT_CONNS" --rate "$r" --seconds "$SECONDS_EACH" | tail -1)
    stop_node
    echo "$line" >>"$JSONL"
    log "latency at $r/s: $line"
    echo "| single at $r/s | $LAT_CONNS | $(jget events_per_s "$line") | $(jget requests_per_s "$line") | $(jget req_p50_ms "$line") / $(jget req_p99_ms "$line") | $(jget e2e_p50_ms "$line") / $(jget e2e_p99_ms "$line") | $(jget saturated "$line") | $(grep -o '"load":\[[0-9.]*' <<<"$line" | grep -o '[0-9.]*$') |" >>"$MD"
done
cat "$MD"
