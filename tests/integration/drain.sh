#!/usr/bin/env bash
# SIGTERM (then, in a second run, SIGINT) on a busy endless pipeline: an
# unrated single-worker generate -> relay (2 workers) -> relay (2 workers)
# -> jsonl_out. The process must exit 0 within the bound, and the output
# must hold every event the generator made: seq 0..M-1, each once, where M
# is the generator's events_out read from /metrics once the drain began
# (after the "stopping sources" log line the generator makes no more).
source "$(dirname "$0")/lib.bash"

BOUND=30

# metric NAME ACTOR: value of NAME for ACTOR (summed over workers) from
# the last scrape in $T/metrics.txt.
metric() {
    awk -v n="$1" -v a="$2" '
        index($0, n "{actor=\"" a "\"") == 1 { s += $NF; f = 1 }
        END { if (!f) exit 1; printf "%d\n", s }' "$T/metrics.txt"
}

scrape() {
    [ "$(curl -s -m 5 -o "$T/metrics.txt" -w '%{http_code}' "http://127.0.0.1:$ADMIN/metrics")" = 200 ]
}

run_drain() {
    local sig=$1 tag=$2
    ADMIN=$(free_port) || fail "no free port"
    rm -f "$T/out-$tag.jsonl"
    cat >"$T/drain-$tag.yaml" <<YAML
version: 1
name: drain-$tag
admin: 127.0.0.1:$ADMIN
actors:
  gen: { kind: generate, keys: 32, body_bytes: 200 }
  r1:  { kind: relay, inputs: [gen], workers: 2 }
  r2:  { kind: relay, inputs: [r1], workers: 2 }
  out: { kind: jsonl_out, inputs: [r2], path: $T/out-$tag.jsonl }
YAML
    start "$tag" run "$T/drain-$tag.yaml"
    local pid=$LAST_PID
    # busy: events reached the file and the queues are filling
    wait_for 30 lines_at_least "$T/out-$tag.jsonl" 20000 || fail "$tag: no events flowing"
    kill -"$sig" "$pid"
    local t0=$SECONDS
    wait_for 10 log_has "$T/$tag.log" 'stopping sources and draining' || fail "$tag: no drain log line"
    scrape || fail "$tag: /metrics not readable right after the drain began"
    local made
    made=$(metric sluice_events_out_total gen) || fail "$tag: no events_out for gen"
    wait_exit "$pid" "$BOUND" || fail "$tag: did not exit within $BOUND s of SIG$sig"
    [ "$RC" = 0 ] || fail "$tag: exit status $RC after SIG$sig"
    local got m
    got=$(lines "$T/out-$tag.jsonl")
    m=$(seq_contiguous "$T/out-$tag.jsonl") || fail "$tag: output seq not contiguous"
    [ "$m" = "$got" ] || fail "$tag: seq check saw $m of $got lines"
    [ "$got" = "$made" ] || fail "$tag: generator made $made events, output holds $got"
    check_order "$T/out-$tag.jsonl" >/dev/null || fail "$tag: per-key order broken"
    grep -q 'every actor finished' "$T/$tag.log" || fail "$tag: no final log line"
    echo "ok: SIG$sig drained $got events in $((SECONDS - t0)) s"
}

run_drain TERM term
run_drain INT int
