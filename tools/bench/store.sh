#!/usr/bin/env bash
# sluice store benchmarks (the "store" section of tools/bench/run.sh, or
# alone). See docs/performance.md "## Store" for what each number means.
#
#   BENCH_DIR=./build/release bash tools/bench/store.sh
#
# Environment (defaults in brackets):
#   REPS [3]            runs per point; the median is reported
#   APPLY_REPS [REPS]   runs per apply point (fsync timings are noisy)
#   STORE_SECONDS [3]   counted store time of each apply run
#   BATCHES ["1 10 100 1000"]  events per batch (write transaction)
#   READ_ASSETS [100000], READ_SECONDS [10]  read-latency graph and window
#   READ_IDLE_SECONDS [3]  the same reads first with no writer (comparison)
#   SIZE_ASSETS [100000]  assets of the bytes-per-asset load
#   GRAPH_ASSETS [1000000] assets of the layered graph load (0: skip)
#   GRAPH_SEED [42], GRAPH_NOSYNC [1]  the graph load's seed and fsync (1: off)
#   RAW_FLAGS [notls]   mdb_env_open flags of the raw ceiling (core/store.c uses
#                       MDB_NOTLS, plus MDB_NOSYNC when nosync)
#   STORE_TMP [$BENCH_OUT/store-tmp]  fresh store directories are made here
#   BENCH_OUT [$BENCH_DIR/bench]  results: store.md, results.jsonl (appended)
#   STORE_ONLY ["apply read size graph"]  parts to run
#
# Prints the markdown section (also in $BENCH_OUT/store.md).
set -euo pipefail

: "${BENCH_DIR:?BENCH_DIR must hold the bench executables (store_bench, lmdb_raw)}"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
REPS=${REPS:-3}
APPLY_REPS=${APPLY_REPS:-$REPS}
STORE_SECONDS=${STORE_SECONDS:-3}
BATCHES=${BATCHES:-"1 10 100 1000"}
READ_ASSETS=${READ_ASSETS:-100000}
READ_SECONDS=${READ_SECONDS:-10}
READ_IDLE_SECONDS=${READ_IDLE_SECONDS:-3}
SIZE_ASSETS=${SIZE_ASSETS:-100000}
GRAPH_ASSETS=${GRAPH_ASSETS:-1000000}
GRAPH_SEED=${GRAPH_SEED:-42}
GRAPH_NOSYNC=${GRAPH_NOSYNC:-1}
RAW_FLAGS=${RAW_FLAGS:-notls}
STORE_ONLY=${STORE_ONLY:-"apply read size graph"}
OUT=${BENCH_OUT:-$BENCH_DIR/bench}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TMPD=${STORE_TMP:-$OUT/store-tmp}
mkdir -p "$TMPD"
TMPD=$(cd "$TMPD" && pwd)
JSONL=$OUT/results.jsonl
MD=$OUT/store.md
SB=$BENCH_DIR/store_bench
RAW=$BENCH_DIR/lmdb_raw
[ -x "$SB" ] && [ -x "$RAW" ] || {
    echo "store: FAIL: $SB or $RAW missing" >&2
    exit 1
}
W=$(mktemp -d "$TMPD/run.XXXXXX")
trap 'rm -rf "$W"' EXIT

log() { echo "store: $*" >&2; }
die() {
    echo "store: FAIL: $*" >&2
    exit 1
}
part() { [[ " $STORE_ONLY " == *" $1 "* ]]; }
# jget KEY JSON: the first value of KEY in a one-line JSON object.
jget() { grep -o "\"$1\":[^,}]*" <<<"$2" | head -1 | sed 's/^[^:]*://; s/"//g'; }
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
calc() { awk "BEGIN { printf \"%.10g\", $1 }" </dev/null; }
fmt() { awk "BEGIN { printf \"$1\", $2 }" </dev/null; }
k_runs() { printf '%s\n' "$@" | awk '{ printf "%s%.0f", (NR > 1 ? " / " : ""), $1 }'; }
verdict() { awk "BEGIN { exit !($1) }" </dev/null && echo PASS || echo FAIL; }
# fresh: a new, not yet existing store directory on the same filesystem.
N_DIR=0
fresh() {
    N_DIR=$((N_DIR + 1))
    echo "$W/s$N_DIR"
}
# run1 ARGS...: run a bench program, keep its one JSON line, echo it.
run1() {
    local line
    line=$("$@" | tail -1) || die "$* failed"
    echo "$line" >>"$JSONL"
    echo "$line"
}
# inspect DIR: lmdb_raw inspect of the environment under DIR.
inspect() {
    local d
    d=$(dirname "$(find "$1" -name data.mdb | head -1)")
    [ -n "$d" ] && [ "$d" != . ] || die "no data.mdb under $1"
    run1 "$RAW" --mode inspect --dir "$d"
}

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
FS=$(df -T "$TMPD" | awk 'NR == 2 { print $2 " on " $1 }')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "machine: $CPU, $(nproc) cores; store directories under $TMPD ($FS); load $LOAD0"
{
    echo "### Store ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "- machine: $CPU, $(nproc) cores (nproc), $(uname -srm); $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
    echo "- sluice: $(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- command: \`BENCH_DIR=$BENCH_DIR bash tools/bench/store.sh\`"
    echo "  (REPS=$REPS APPLY_REPS=$APPLY_REPS STORE_SECONDS=$STORE_SECONDS BATCHES=\"$BATCHES\" READ_ASSETS=$READ_ASSETS READ_SECONDS=$READ_SECONDS READ_IDLE_SECONDS=$READ_IDLE_SECONDS SIZE_ASSETS=$SIZE_ASSETS GRAPH_ASSETS=$GRAPH_ASSETS GRAPH_SEED=$GRAPH_SEED GRAPH_NOSYNC=$GRAPH_NOSYNC RAW_FLAGS=\"$RAW_FLAGS\")"
    echo "- store directories: fresh per run under $TMPD ($FS)"
    echo "- every number is the median of $REPS runs ($APPLY_REPS for the apply rates); ratios are of medians from this run"
    echo "- load average at start: $LOAD0"
    echo
} >"$MD"

declare -A R

# --- 1. apply rate vs raw LMDB, fsync on ------------------------------------

if part apply; then
    # The raw values are as large as the asset values the store writes (its
    # "assets" database after 1000 asset.upsert events; else the body size).
    d=$(fresh)
    line=$(run1 "$SB" --mode apply --kind asset --batch 100 --count 1000 --nosync 1 --dir "$d")
    VSIZE=$(fmt "%.0f" "$(jget avg_body_bytes "$line")")
    BODY=$VSIZE
    a=$(grep -o '"assets":{[^}]*}' <<<"$(inspect "$d")" || true)
    if [ -n "$a" ] && [ "$(jget entries "$a")" -gt 0 ]; then
        VSIZE=$(fmt "%.0f" "$(jget value_bytes "$a") / $(jget entries "$a")")
    fi
    log "raw value size: $VSIZE bytes (stored asset value; the asset.upsert body is $BODY bytes)"
    declare -A RUNS
    for ((rep = 1; rep <= APPLY_REPS; rep++)); do
        for b in $BATCHES; do
            line=$(run1 "$RAW" --mode put --batch "$b" --seconds "$STORE_SECONDS" --value-size "$VSIZE" \
                ${RAW_FLAGS:+--flags "$RAW_FLAGS"} --dir "$(fresh)")
            RUNS[raw_$b]+=" $(jget events_per_s "$line")"
            for k in asset edge; do
                line=$(run1 "$SB" --mode apply --kind "$k" --batch "$b" --seconds "$STORE_SECONDS" --dir "$(fresh)")
                [ "$(jget dead "$line")" = 0 ] || die "$k batch $b: dead letters: $line"
                RUNS[${k}_$b]+=" $(jget events_per_s "$line")"
            done
            log "rep $rep batch $b: raw ${RUNS[raw_$b]##* } asset ${RUNS[asset_$b]##* } edge ${RUNS[edge_$b]##* } events/s"
            rm -rf "${W:?}"/s*
        done
    done
    {
        echo "#### 1. Apply rate, fsync on (one write transaction and one commit per batch)"
        echo
        echo "| batch | raw LMDB put/s ($VSIZE B values) | asset.upsert/s | vs raw | lineage.edge/s | vs raw | runs: raw / asset / edge |"
        echo "| ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        for b in $BATCHES; do
            # shellcheck disable=SC2086
            raw=$(median ${RUNS[raw_$b]})
            # shellcheck disable=SC2086
            as=$(median ${RUNS[asset_$b]})
            # shellcheck disable=SC2086
            ed=$(median ${RUNS[edge_$b]})
            R[raw_$b]=$raw R[asset_$b]=$as R[edge_$b]=$ed
            # shellcheck disable=SC2086
            printf '| %s | %.0f | %.0f | %.1f%% | %.0f | %.1f%% | %s; %s; %s |\n' "$b" "$raw" "$as" \
                "$(calc "100 * $as / $raw")" "$ed" "$(calc "100 * $ed / $raw")" \
                "$(k_runs ${RUNS[raw_$b]})" "$(k_runs ${RUNS[asset_$b]})" "$(k_runs ${RUNS[edge_$b]})"
        done
        echo
    } >>"$MD"
fi

# --- 2. read latency while a writer applies batches of 100 ------------------

if part read; then
    declare -A RD
    keys="busy_asset_p50_us busy_asset_p99_us busy_asset_mean_us busy_lineage_p50_us busy_lineage_p99_us
          busy_lineage_mean_us busy_lineage_avg_nodes busy_reads idle_asset_p50_us idle_asset_p99_us
          idle_asset_mean_us idle_lineage_p50_us idle_lineage_p99_us idle_lineage_mean_us idle_reads
          writer_events_per_s"
    loads=()
    for ((rep = 1; rep <= REPS; rep++)); do
        d=$(fresh)
        out=$("$SB" --mode read --assets "$READ_ASSETS" --seed "$GRAPH_SEED" --seconds "$READ_SECONDS" \
            --idle-seconds "$READ_IDLE_SECONDS" --dir "$d") || die "read run failed"
        echo "$out" >>"$JSONL"
        loads+=("$(jget load_s "$(head -1 <<<"$out")")")
        line=$(tail -1 <<<"$out")
        for key in $keys; do
            RD[$key]+=" $(jget "$key" "$line")"
        done
        log "read rep $rep: $line"
        rm -rf "$d"
    done
    # rd KEY: median over the runs; rdr KEY: every run.
    # shellcheck disable=SC2086
    rd() { median ${RD[$1]}; }
    # shellcheck disable=SC2086
    rdr() { echo ${RD[$1]} | sed 's/ / \/ /g'; }
    R[ap50]=$(rd busy_asset_p50_us) R[ap99]=$(rd busy_asset_p99_us)
    R[lp50]=$(rd busy_lineage_p50_us) R[lp99]=$(rd busy_lineage_p99_us)
    {
        echo "#### 2. Read latency while writes run (graph of $READ_ASSETS assets, seed $GRAPH_SEED; writer thread: batches of 100 asset.upsert, fsync on)"
        echo
        echo "| read | while writing: p50 | p99 | mean | runs p50 / p99 (us) | no writer: p50 | p99 | mean |"
        echo "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
        printf '| sl_store_asset_json (random asset) | %s us | %s us | %s us | %s; %s | %s us | %s us | %s us |\n' \
            "${R[ap50]}" "${R[ap99]}" "$(rd busy_asset_mean_us)" "$(rdr busy_asset_p50_us)" "$(rdr busy_asset_p99_us)" \
            "$(rd idle_asset_p50_us)" "$(rd idle_asset_p99_us)" "$(rd idle_asset_mean_us)"
        printf '| sl_store_lineage_json down, depth 3 (random asset with downstream; %s nodes on average) | %s us | %s us | %s us | %s; %s | %s us | %s us | %s us |\n' \
            "$(rd busy_lineage_avg_nodes)" "${R[lp50]}" "${R[lp99]}" "$(rd busy_lineage_mean_us)" \
            "$(rdr busy_lineage_p50_us)" "$(rdr busy_lineage_p99_us)" \
            "$(rd idle_lineage_p50_us)" "$(rd idle_lineage_p99_us)" "$(rd idle_lineage_mean_us)"
        echo
        echo "One thread reads (one of each per iteration, back to back): $(rdr busy_reads) iterations in ${READ_SECONDS} s while the"
        # shellcheck disable=SC2086
        echo "writer applied $(k_runs ${RD[writer_events_per_s]}) events/s; $(rdr idle_reads) in ${READ_IDLE_SECONDS} s with no writer."
        echo "Graph load before (fsync on, batches of 1000): $(echo "${loads[@]}" | sed 's/ / \/ /g') s."
        echo
    } >>"$MD"
fi

# --- 3. bytes on disk per asset (5 tags, 3 edges) ---------------------------

# dbtable INSPECT_JSON: pages and bytes per asset of each database (dup
# keys are counted once per dup in key_bytes, as a cursor walk sees them).
dbtable() {
    echo "| database | entries | pages (branch + leaf + overflow) | page bytes per asset | key + value bytes per asset |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    grep -o '"[^"]*":{"entries":[0-9]*,"depth":[0-9]*,"branch":[0-9]*,"leaf":[0-9]*,"overflow":[0-9]*,"key_bytes":[0-9]*,"value_bytes":[0-9]*}' <<<"$1" |
        sed 's/^"\([^"]*\)":{"entries":\([0-9]*\),"depth":[0-9]*,"branch":\([0-9]*\),"leaf":\([0-9]*\),"overflow":\([0-9]*\),"key_bytes":\([0-9]*\),"value_bytes":\([0-9]*\)}/\1 \2 \3 \4 \5 \6 \7/' |
        awk -v n="$SIZE_ASSETS" -v ps="$psize" '$2 > 0 { p = $3 + $4 + $5; printf "| %s | %d | %d | %.0f | %.0f |\n", $1, $2, p, p * ps / n, ($6 + $7) / n }'
}

if part size; then
    d0=$(fresh)
    run1 "$SB" --mode size --assets 0 --nosync 1 --dir "$d0" >/dev/null
    e0=$(inspect "$d0")
    du0=$(du -sb "$d0" | cut -f1)
    d=$(fresh)
    line=$(run1 "$SB" --mode size --assets "$SIZE_ASSETS" --nosync 1 --dir "$d")
    [ "$(grep -o '"dead":[0-9]*' <<<"$line" | cut -d: -f2 | sort -u)" = 0 ] || die "size: dead letters: $line"
    e1=$(inspect "$d")
    du1=$(du -sb "$d" | cut -f1)
    used=$(calc "($(jget used_bytes "$e1") - $(jget used_bytes "$e0")) / $SIZE_ASSETS")
    file=$(calc "($(jget file_bytes "$e1") - $(jget file_bytes "$e0")) / $SIZE_ASSETS")
    dub=$(calc "($du1 - $du0) / $SIZE_ASSETS")
    R[bytes]=$used
    psize=$(jget page_size "$e1")
    # the steady state of a store whose followers keep up: applied ids
    # expired, change records read by every follower trimmed (--trim 1)
    dt=$(fresh)
    tline=$(run1 "$SB" --mode size --assets "$SIZE_ASSETS" --nosync 1 --trim 1 --dir "$dt")
    et=$(inspect "$dt")
    R[bytes_trim]=$(calc "($(jget used_bytes "$et") - $(jget used_bytes "$e0")) / $SIZE_ASSETS")
    rm -rf "$dt"
    {
        echo "#### 3. Bytes on disk per asset (asset.upsert + 5 tag.set + 3 lineage.edge each, $SIZE_ASSETS assets)"
        echo
        echo "| measure | bytes per asset |"
        echo "| --- | ---: |"
        printf '| LMDB used pages x page size (last page + 1 - free pages; minus an empty store) | %.0f |\n' "$used"
        printf '| data.mdb file size (minus an empty store) | %.0f |\n' "$file"
        printf '| du -sb of the directory (minus an empty store) | %.0f |\n' "$dub"
        printf '| LMDB used pages x page size, change log trimmed and applied ids expired (--trim 1: %s passes) | %.0f |\n' \
            "$(jget trim_passes "$tline")" "${R[bytes_trim]}"
        echo
        echo "Load: $(jget load_s "$line") s, fsync off (the layout does not depend on it). Pages per database (x $psize B), per asset:"
        echo
        dbtable "$e1"
        echo
        echo "The same, steady state (--trim 1: change log trimmed, applied ids expired):"
        echo
        dbtable "$et"
        echo
    } >>"$MD"
    rm -rf "$d0" "$d"
fi

# --- targets -------------------------------------------------------------------

{
    echo "#### Targets"
    echo
    echo "| target | measured | verdict |"
    echo "| --- | ---: | --- |"
    for b in 100 1000; do
        [ -n "${R[raw_$b]:-}" ] || continue
        for k in asset edge; do
            r=$(calc "100 * ${R[${k}_$b]} / ${R[raw_$b]}")
            printf '| %s apply at batch %s >= 50%% of raw LMDB | %.0f / %.0f = %.1f%% | %s |\n' \
                "$([ $k = asset ] && echo asset.upsert || echo lineage.edge)" "$b" "${R[${k}_$b]}" "${R[raw_$b]}" "$r" "$(verdict "$r >= 50")"
        done
    done
    if [ -n "${R[bytes]:-}" ]; then
        # The target is the asset's: its record, tags, edges and name, with
        # the change log at its steady state (trimmed once read, by
        # retention) and applied ids expired. The whole log is history,
        # bounded by changes_retention: shown, not judged.
        printf '| bytes on disk per asset (5 tags, 3 edges), steady state: log trimmed, applied ids expired < 1 KiB | %.0f B | %s |\n' "${R[bytes_trim]}" "$(verdict "${R[bytes_trim]} < 1024")"
        printf '| the same with the whole change log and every applied id still kept (9 changes per asset; for information) | %.0f B | - |\n' "${R[bytes]}"
    fi
    echo
} >>"$MD"

# --- 4. the layered graph (seeded), loaded in batches of 1000 --------------------

if part graph && [ "$GRAPH_ASSETS" -gt 0 ]; then
    d=$(fresh)
    log "graph: $GRAPH_ASSETS assets, seed $GRAPH_SEED, nosync $GRAPH_NOSYNC (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    line=$(run1 "$SB" --mode graph --assets "$GRAPH_ASSETS" --seed "$GRAPH_SEED" --batch 1000 \
        --nosync "$GRAPH_NOSYNC" --map-size $((64 << 30)) --dir "$d")
    [ "$(grep -o '"dead":[0-9]*' <<<"$line" | cut -d: -f2 | sort -u)" = 0 ] || die "graph: dead letters: $line"
    e=$(inspect "$d")
    {
        echo "#### 4. Layered lineage graph, seed $GRAPH_SEED, loaded in batches of 1000 (fsync $([ "$GRAPH_NOSYNC" = 1 ] && echo off || echo on))"
        echo
        echo "| assets | edges | load (wall) | events/s | asset phase | edge phase | used bytes (pages) | data.mdb | bytes per asset |"
        echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        ub=$(jget used_bytes "$e")
        printf '| %s | %s | %.1f s | %.0f | %s s | %s s | %.0f MiB | %.0f MiB | %.0f |\n' "$GRAPH_ASSETS" "$(jget edges "$line")" \
            "$(jget load_s "$line")" "$(jget events_per_s "$line")" \
            "$(grep -o '"asset_phase":{[^}]*}' <<<"$line" | grep -o '"store_s":[0-9.]*' | cut -d: -f2)" \
            "$(grep -o '"edge_phase":{[^}]*}' <<<"$line" | grep -o '"store_s":[0-9.]*' | cut -d: -f2)" \
            "$(calc "$ub / 1048576")" "$(calc "$(jget file_bytes "$e") / 1048576")" "$(calc "$ub / $GRAPH_ASSETS")"
        echo
        echo "Load average after the graph load: $(cut -d' ' -f1-3 /proc/loadavg). Phases: store time (begin .. commit) only."
        echo
    } >>"$MD"
    rm -rf "$d"
fi

echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)." >>"$MD"
echo >>"$MD"
cat "$MD"
log "results in $MD and $JSONL"
