#!/usr/bin/env bash
# Lineage closures: sluice (sl_store_closure_count, a breadth-first walk of
# LMDB's `down` database) against PostgreSQL 15 (WITH RECURSIVE over an
# indexed edges table, as Marquez does), the same graph, in the same run.
# Section `closure` of tools/bench/run.sh (make bench); docs/performance.md
# ("Lineage closures") explains the method and holds the results.
#
#   BENCH_DIR=./build/release bash tools/bench/closure.sh
#
# Environment (defaults in brackets):
#   GRAPH_ASSETS [1000000]  assets of the layered graph (tools/bench/bench_graph.h)
#   GRAPH_SEED [42]
#   GRAPH_HUB [GRAPH_ASSETS * 11 / 100000: 110 at 1M]  sources fed by asset 0
#   TARGETS ["10 1000 GRAPH_ASSETS/10"]  descendant counts the roots are picked for
#   DEPTHS ["3 0"]         closure depths (0: unlimited)
#   ROUNDS [3]             sluice, then PostgreSQL, this many times in turn;
#                          every figure is the median over the rounds
#   SL_SECONDS [2]         sluice: timed calls per root and depth per round
#                          last this long (at least 20 calls)
#   PG_SECONDS [4]         PostgreSQL: the same, timed inside the server
#                          (at least PG_MIN_REPS [5], at most 5000)
#   PG_BIN [/usr/lib/postgresql/15/bin]
#   CLOSURE_TMP [$BENCH_OUT/closure-tmp]  the store and the CSV files
#   BENCH_OUT [$BENCH_DIR/bench]  closure.md, results.jsonl (appended)
#
# PostgreSQL: installed (postgresql-15, Debian 12) if PG_BIN has no initdb;
# a private cluster in a temporary directory (as the postgres user when run
# as root), Unix socket only (listen_addresses ''), stopped and removed at
# the end. Prints the markdown section (also in $BENCH_OUT/closure.md).
set -euo pipefail

: "${BENCH_DIR:?BENCH_DIR must hold the bench executables (store_bench, closure_bench)}"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GRAPH_ASSETS=${GRAPH_ASSETS:-1000000}
GRAPH_SEED=${GRAPH_SEED:-42}
GRAPH_HUB=${GRAPH_HUB:-$((GRAPH_ASSETS * 11 / 100000))}
TARGETS=${TARGETS:-"10 1000 $((GRAPH_ASSETS / 10))"}
DEPTHS=${DEPTHS:-"3 0"}
ROUNDS=${ROUNDS:-3}
SL_SECONDS=${SL_SECONDS:-2}
PG_SECONDS=${PG_SECONDS:-4}
PG_MIN_REPS=${PG_MIN_REPS:-5}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
OUT=${BENCH_OUT:-$BENCH_DIR/bench}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TMPD=${CLOSURE_TMP:-$OUT/closure-tmp}
mkdir -p "$TMPD"
TMPD=$(cd "$TMPD" && pwd)
JSONL=$OUT/results.jsonl
MD=$OUT/closure.md
SB=$BENCH_DIR/store_bench
CB=$BENCH_DIR/closure_bench

log() { echo "closure: $*" >&2; }
die() {
    echo "closure: FAIL: $*" >&2
    exit 1
}
[ -x "$SB" ] && [ -x "$CB" ] || die "$SB or $CB missing"
# jget KEY JSON: the first value of KEY in a one-line JSON object.
jget() { grep -o "\"$1\":[^,}]*" <<<"$2" | head -1 | sed 's/^[^:]*://; s/"//g'; }
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
calc() { awk "BEGIN { printf \"%.10g\", $1 }" </dev/null; }
# dur US: a duration in microseconds as "N us" or "N ms", 3 digits or more.
dur() {
    awk "BEGIN { v = $1; u = \"us\"; if (v >= 1000) { v /= 1000; u = \"ms\" }
        if (v >= 100) printf \"%.0f %s\", v, u; else if (v >= 10) printf \"%.1f %s\", v, u; else printf \"%.2f %s\", v, u }" </dev/null
}

# --- PostgreSQL: install if missing, private cluster ---------------------------

if [ ! -x "$PG_BIN/initdb" ]; then
    log "installing postgresql-15"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >&2
    [ -x "$PG_BIN/initdb" ] || die "no $PG_BIN/initdb after installing postgresql-15"
fi
# initdb refuses root: run the server as postgres (made by the package).
AS=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root and there is no postgres user"
    AS=(runuser -u postgres --)
fi
W=$(mktemp -d "$TMPD/run.XXXXXX")
PGD=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pg.XXXXXX") # short path: the socket lives here
PG_UP=0
cleanup() {
    if [ "$PG_UP" = 1 ]; then
        "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGD/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$W" "$PGD"
}
trap cleanup EXIT
chmod 755 "$PGD"
[ "${#AS[@]}" = 0 ] || chown postgres "$PGD"
PGPORT=5432 # only names the socket file in $PGD: no TCP listener
"${AS[@]}" "$PG_BIN/initdb" -D "$PGD/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$PGD/initdb.log" 2>&1 || die "initdb failed: $(tail -5 "$PGD/initdb.log")"
# Settings: tables and indexes fit in shared_buffers, sorts and hashes in
# work_mem; fsync off for the load (reads do not care). The rest is the
# default: the planner picks index nested loops, and the plans cost far
# less than jit_above_cost.
PG_OPTS="-p $PGPORT -k $PGD -c listen_addresses='' -c shared_buffers=2GB -c work_mem=64MB \
-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=8GB"
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 120 -o "$PG_OPTS" start >/dev/null ||
    die "pg_ctl start failed: $(tail -5 "$PGD/server.log" 2>/dev/null)"
PG_UP=1
PSQL=("$PG_BIN/psql" -h "$PGD" -p "$PGPORT" -U postgres -X -q -v ON_ERROR_STOP=1 -d postgres)
PG_VERSION=$("${PSQL[@]}" -Atc "SHOW server_version")
log "PostgreSQL $PG_VERSION in $PGD (socket only)"

# --- the graph: sluice store, roots, CSV, PostgreSQL tables --------------------

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "machine: $CPU, $(nproc) cores; load $LOAD0; graph $GRAPH_ASSETS assets, seed $GRAPH_SEED, hub $GRAPH_HUB"
STORE=$W/store
line=$("$SB" --mode graph --assets "$GRAPH_ASSETS" --seed "$GRAPH_SEED" --hub "$GRAPH_HUB" --batch 1000 \
    --nosync 1 --map-size $((64 << 30)) --dir "$STORE" | tail -1) || die "store_bench graph load failed"
echo "$line" >>"$JSONL"
[ "$(grep -o '"dead":[0-9]*' <<<"$line" | cut -d: -f2 | sort -u)" = 0 ] || die "graph: dead letters: $line"
SL_LOAD=$(jget load_s "$line")
EDGES=$(jget edges "$line")
log "sluice store loaded: $EDGES edges in $SL_LOAD s"

CBARGS=(--assets "$GRAPH_ASSETS" --seed "$GRAPH_SEED" --hub "$GRAPH_HUB" --targets "$TARGETS" --depths "$DEPTHS")
out=$("$CB" "${CBARGS[@]}" --csv "$W") || die "closure_bench (roots, CSV) failed"
echo "$out" >>"$JSONL"
[ "$(jget edges "$(grep '"mode":"graph"' <<<"$out")")" = "$EDGES" ] || die "the CSV graph and the store differ in edges"
ROOTS=$(grep '"mode":"root"' <<<"$out")
declare -A QN LAYER CNT
for t in $TARGETS; do
    r=$(grep "\"target\":$t," <<<"$ROOTS")
    QN[$t]=$(jget qn "$r")
    LAYER[$t]=$(jget layer "$r")
    for d in $DEPTHS; do
        CNT[$t,$d]=$(jget "count_d$d" "$r")
    done
    log "root for ~$t descendants: asset $(jget asset "$r") (${LAYER[$t]}), $(for d in $DEPTHS; do printf 'depth %s: %s; ' "$d" "${CNT[$t,$d]}"; done)"
done

t1=$(date +%s.%N)
"${PSQL[@]}" <<EOF || die "PostgreSQL load failed"
CREATE TABLE assets (id bigint PRIMARY KEY, qualified_name text NOT NULL, type text NOT NULL);
CREATE TABLE edges (src bigint NOT NULL, dst bigint NOT NULL);
\copy assets FROM '$W/assets.csv' WITH (FORMAT csv)
\copy edges FROM '$W/edges.csv' WITH (FORMAT csv)
CREATE UNIQUE INDEX assets_qualified_name ON assets (qualified_name);
CREATE INDEX edges_src ON edges (src);
CREATE INDEX edges_dst ON edges (dst);
VACUUM ANALYZE;
EOF
PG_LOAD=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t1 }" </dev/null)
PG_ROWS=$("${PSQL[@]}" -Atc "SELECT count(*) FROM edges")
[ "$PG_ROWS" = "$EDGES" ] || die "PostgreSQL holds $PG_ROWS edges, the store $EDGES"
PG_SIZE=$("${PSQL[@]}" -Atc "SELECT pg_database_size('postgres')")
log "PostgreSQL loaded in $PG_LOAD s ($((PG_SIZE >> 20)) MiB)"
rm -f "$W/assets.csv" "$W/edges.csv"

# The queries, and a function that times them inside the server: each
# call between two clock_timestamp() readings, the plan cached as for a
# prepared statement, no client round trip (PostgreSQL's engine time, as
# sluice's is a function call). pgbench's per-transaction log is not used:
# its lazily read clock logs 0 us for many of the fast queries.
Q_UNLIMITED='WITH RECURSIVE down(id) AS (
    SELECT id FROM assets WHERE qualified_name = @ROOT
  UNION
    SELECT e.dst FROM down d JOIN edges e ON e.src = d.id
)
SELECT count(*) - 1 FROM down'
Q_DEPTH='WITH RECURSIVE down(id, lvl) AS (
    SELECT id, 0 FROM assets WHERE qualified_name = @ROOT
  UNION
    SELECT e.dst, d.lvl + 1 FROM down d JOIN edges e ON e.src = d.id WHERE d.lvl < @DEPTH
)
SELECT count(DISTINCT id) - 1 FROM down'
# query D ROOT DEPTH: the SQL of depth D (0: unlimited) with ROOT and DEPTH.
query() {
    local q=$Q_DEPTH
    [ "$1" != 0 ] || q=$Q_UNLIMITED
    q=${q//@ROOT/$2}
    echo "${q//@DEPTH/$3}"
}
"${PSQL[@]}" <<EOF || die "cannot create closure_times()"
CREATE FUNCTION closure_times(p_root text, p_depth int, p_n int)
RETURNS SETOF double precision LANGUAGE plpgsql AS \$fn\$
DECLARE
    t0 timestamptz;
    c bigint;
BEGIN
    FOR i IN 1..p_n LOOP
        t0 := clock_timestamp();
        IF p_depth = 0 THEN
            $(query 0 p_root p_depth) INTO c;
        ELSE
            $(query 1 p_root p_depth) INTO c;
        END IF;
        RETURN NEXT extract(epoch FROM clock_timestamp() - t0) * 1e6;
    END LOOP;
END
\$fn\$;
EOF
# pg_times N ROOT DEPTH: N timed calls on one connection, in microseconds.
pg_times() {
    "${PSQL[@]}" -Atc "SELECT t FROM closure_times('$2', $3, $1) t" || die "closure_times('$2', $3, $1) failed"
}
# quantiles: "p50 p99 n" of numbers on stdin (exact ranks).
quantiles() {
    sort -g | awk '{ v[NR] = $1 } END {
        r50 = int(0.5 * NR + 0.999999); r99 = int(0.99 * NR + 0.999999)
        print v[r50 < 1 ? 1 : r50], v[r99 < 1 ? 1 : r99], NR }'
}

# Counts first: PostgreSQL must find what sluice found.
for t in $TARGETS; do
    for d in $DEPTHS; do
        c=$("${PSQL[@]}" -Atc "$(query "$d" "'${QN[$t]}'" "$d")")
        [ "$c" = "${CNT[$t,$d]}" ] || die "root ~$t depth $d: PostgreSQL counts $c, sluice ${CNT[$t,$d]}"
    done
done
log "PostgreSQL counts match"

# --- rounds: sluice, then PostgreSQL ---------------------------------------------

declare -A SLP50 SLP99 SLREPS PGP50 PGP99 PGREPS
for ((round = 1; round <= ROUNDS; round++)); do
    out=$("$CB" "${CBARGS[@]}" --dir "$STORE" --seconds "$SL_SECONDS") || die "closure_bench timing failed"
    grep '"engine":"sluice"' <<<"$out" >>"$JSONL"
    for t in $TARGETS; do
        for d in $DEPTHS; do
            r=$(grep "\"target\":$t,.*\"depth\":$d," <<<"$out")
            SLP50[$t,$d]+=" $(jget p50_us "$r")"
            SLP99[$t,$d]+=" $(jget p99_us "$r")"
            SLREPS[$t,$d]+=" $(jget reps "$r")"
        done
    done
    for t in $TARGETS; do
        for d in $DEPTHS; do
            # pilot (warms the cache and the plan), then a count for PG_SECONDS
            mean=$(pg_times 3 "${QN[$t]}" "$d" | awk '{ s += $1 } END { print s / NR }')
            n=$(calc "int($PG_SECONDS * 1e6 / $mean)")
            [ "$n" -ge "$PG_MIN_REPS" ] || n=$PG_MIN_REPS
            [ "$n" -le 5000 ] || n=5000
            read -r p50 p99 k < <(pg_times "$n" "${QN[$t]}" "$d" | quantiles)
            PGP50[$t,$d]+=" $p50"
            PGP99[$t,$d]+=" $p99"
            PGREPS[$t,$d]+=" $k"
            echo "{\"bench\":\"closure\",\"engine\":\"postgresql\",\"round\":$round,\"target\":$t,\"depth\":$d,\"count\":${CNT[$t,$d]},\"reps\":$k,\"p50_us\":$p50,\"p99_us\":$p99}" >>"$JSONL"
        done
    done
    log "round $round: $(for t in $TARGETS; do for d in $DEPTHS; do printf '~%s/d%s sluice %s us pg %s us; ' "$t" "$d" "${SLP50[$t,$d]##* }" "${PGP50[$t,$d]##* }"; done; done)"
done

# --- the section --------------------------------------------------------------------

{
    echo "### Lineage closures ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "- machine: $CPU, $(nproc) cores (nproc), $(uname -srm); $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
    echo "- sluice: $(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null || echo '?'); PostgreSQL $PG_VERSION"
    echo "- command: \`BENCH_DIR=$BENCH_DIR bash tools/bench/closure.sh\`"
    echo "  (GRAPH_ASSETS=$GRAPH_ASSETS GRAPH_SEED=$GRAPH_SEED GRAPH_HUB=$GRAPH_HUB TARGETS=\"$TARGETS\" DEPTHS=\"$DEPTHS\" ROUNDS=$ROUNDS SL_SECONDS=$SL_SECONDS PG_SECONDS=$PG_SECONDS PG_MIN_REPS=$PG_MIN_REPS)"
    echo "- graph: $GRAPH_ASSETS assets, $EDGES edges; sluice store loaded in $SL_LOAD s (fsync off), PostgreSQL in $PG_LOAD s (COPY, 3 indexes, VACUUM ANALYZE; $((PG_SIZE >> 20)) MiB)"
    echo "- load average at start: $LOAD0, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- every figure is the median over $ROUNDS rounds (sluice, then PostgreSQL, in turn) of each round's median (p99) over its calls"
    echo "- sluice: \`sl_store_closure_count\` called in-process (its read transaction included); PostgreSQL: the query inside the server (\`closure_times()\`: plpgsql, plan cached, \`clock_timestamp()\` around each execution; no client round trip)"
    echo
    echo "| root | descendants | depth | sluice p50 | sluice p99 | PostgreSQL p50 | PostgreSQL p99 | PostgreSQL / sluice (p50) | calls per round: sluice; PostgreSQL |"
    echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"
    for t in $TARGETS; do
        for d in $DEPTHS; do
            # shellcheck disable=SC2086
            s50=$(median ${SLP50[$t,$d]}) s99=$(median ${SLP99[$t,$d]}) p50=$(median ${PGP50[$t,$d]}) p99=$(median ${PGP99[$t,$d]})
            printf '| ~%s (%s) | %s | %s | %s | %s | %s | %s | %.1fx | %s; %s |\n' "$t" "${LAYER[$t]}" \
                "${CNT[$t,$d]}" "$([ "$d" = 0 ] && echo unlimited || echo "$d")" "$(dur "$s50")" "$(dur "$s99")" \
                "$(dur "$p50")" "$(dur "$p99")" "$(calc "$p50 / $s50")" \
                "$(echo ${SLREPS[$t,$d]} | sed 's/ / \/ /g')" "$(echo ${PGREPS[$t,$d]} | sed 's/ / \/ /g')"
        done
    done
    echo
} >"$MD"
cat "$MD"
log "results in $MD and $JSONL"
