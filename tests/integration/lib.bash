# Shared helpers for integration tests (sourced; ctest runs only *.sh).
# Every wait is a bounded poll, never a fixed sleep.
set -euo pipefail

: "${SLUICE:?SLUICE must point at the sluice binary}"
: "${SL_SOURCE_DIR:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-it.XXXXXX")
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.log; do
        [ -f "$f" ] || continue
        echo "--- $f (last 30 lines)" >&2
        tail -n 30 "$f" >&2
    done
    exit 1
}

# wait_for SECONDS COMMAND...: poll COMMAND every 50 ms until it succeeds.
wait_for() {
    local limit=$1
    shift
    local end=$((SECONDS + limit))
    until "$@"; do
        if [ "$SECONDS" -ge "$end" ]; then
            return 1
        fi
        sleep 0.05
    done
}

# free_port: a TCP port nobody listens on now (base for a node's ports).
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((10000 + RANDOM % 22000)) # below the ephemeral range (32768+)
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# start NAME ARGS...: run sluice in the background, logs in $T/NAME.log;
# sets LAST_PID.
start() {
    local name=$1
    shift
    "$SLUICE" "$@" 2>"$T/$name.log" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# wait_exit PID SECONDS: wait for PID to exit within SECONDS; sets RC to
# its exit status. Fails if it is still running. (Not in a subshell: only
# the parent shell can collect the status.)
wait_exit() {
    local pid=$1 limit=$2
    local end=$((SECONDS + limit))
    while kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" | cut -c1)" != Z ]; do
        if [ "$SECONDS" -ge "$end" ]; then
            return 1
        fi
        sleep 0.05
    done
    RC=0
    wait "$pid" || RC=$?
}

# lines FILE: number of lines (0 if missing).
lines() {
    if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# check_order FILE: every key's seq values are strictly increasing and no
# seq appears twice. Prints the number of events checked.
check_order() {
    awk '
    {
        if (!match($0, /"qualified_name": *"[^"]*"/)) { print "no qualified_name: " $0 > "/dev/stderr"; bad = 1; exit 1 }
        qn = substr($0, RSTART, RLENGTH)
        if (!match($0, /"seq": *[0-9]+/)) { print "no seq: " $0 > "/dev/stderr"; bad = 1; exit 1 }
        s = substr($0, RSTART, RLENGTH); sub(/"seq": */, "", s); s += 0
        if ((qn in last) && s <= last[qn]) { print "out of order for " qn ": " s " after " last[qn] > "/dev/stderr"; bad = 1; exit 1 }
        if (s in seen) { print "duplicate seq " s > "/dev/stderr"; bad = 1; exit 1 }
        last[qn] = s; seen[s] = 1; n++
    }
    END { if (!bad) print n + 0 }' "$1"
}

# free_ports N: the first of N consecutive TCP ports nobody listens on now
# (a node binds base+k for its k-th actor instance).
free_ports() {
    local n=$1 p k ok
    for _ in $(seq 1 200); do
        p=$((10000 + RANDOM % 22000)) # below the ephemeral range (32768+)
        ok=1
        for k in $(seq 0 $((n - 1))); do
            if (exec 3<>/dev/tcp/127.0.0.1/$((p + k))) 2>/dev/null; then
                ok=0
                break
            fi
        done
        if [ "$ok" = 1 ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# seq_contiguous FILE: the seq values in FILE are exactly 0..M-1, each
# once (any order). Prints M; fails (with the first problem on stderr)
# otherwise.
seq_contiguous() {
    awk '
    {
        if (!match($0, /"seq": *[0-9]+/)) { print "no seq: " $0 > "/dev/stderr"; bad = 1; exit 1 }
        s = substr($0, RSTART, RLENGTH); sub(/"seq": */, "", s); s += 0
        if (s in seen) { print "duplicate seq " s > "/dev/stderr"; bad = 1; exit 1 }
        seen[s] = 1; n++; if (s > max) max = s
    }
    END {
        if (bad) exit 1
        if (n == 0) { print 0; exit 0 }
        for (i = 0; i <= max; i++) if (!(i in seen)) { print "gap: seq " i " missing (max " max ", " n " events)" > "/dev/stderr"; exit 1 }
        print n
    }' "$1"
}

# log_has FILE PATTERN: grep -q -E, for wait_for.
log_has() {
    grep -q -E -- "$2" "$1" 2>/dev/null
}

# lines_at_least FILE N: FILE has N lines or more, for wait_for.
lines_at_least() {
    [ "$(lines "$1")" -ge "$2" ]
}

# http_get URL: prints the HTTP status (000 if no connection); the body
# is left in $T/http.body.
http_get() {
    curl -s -m 5 -o "$T/http.body" -w '%{http_code}' "$1" 2>/dev/null || true
}

# keygen TENANT...: each tenant's CURVE key pair in $T/keys/TENANT, which a
# topology in $T names as tenants: { TENANT: { keys: keys/TENANT } }.
keygen() {
    local t
    for t in "$@"; do
        "$SLUICE" keygen --tenant "$t" --dir "$T/keys/$t" >/dev/null || fail "keygen $t"
    done
}

# public_key TENANT: the Z85 public key from $T/keys/TENANT.
public_key() {
    sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$T/keys/$1/$1.cert"
}

# metric URL NAME LABELS: the value of one series in a /metrics scrape
# (0 if absent), LABELS as written inside the braces (a substring match).
metric() {
    curl -s -m 5 "$1" | awk -v n="$2" -v l="$3" 'index($0, n "{") == 1 && index($0, l) { v = $NF } END { print v + 0 }'
}

# --- credentials (tests/integration/auth_*.sh) --------------------------

# b64url: stdin as base64url without padding (RFC 7515).
b64url() {
    openssl base64 -A | tr '+/' '-_' | tr -d '='
}

# rsa_key NAME DIR: an RSA-2048 key pair made with OpenSSL: $T/NAME.pem
# (private) and DIR/NAME.pub.pem (public, for a key endpoint).
rsa_key() {
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/$1.pem" 2>/dev/null &&
        openssl pkey -in "$T/$1.pem" -pubout -out "$2/$1.pub.pem" 2>/dev/null
}

# jwt KEYFILE HEADER-JSON PAYLOAD-JSON: a compact JWS signed RS256 with
# OpenSSL (independent of the code under test).
jwt() {
    local h p s
    h=$(printf '%s' "$2" | b64url)
    p=$(printf '%s' "$3" | b64url)
    s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$1" -binary | b64url)
    printf '%s.%s.%s' "$h" "$p" "$s"
}

# http_req METHOD URL TOKEN [HEADER...] [-- FILE]: one request with an
# optional bearer TOKEN ("" for none), headers, and FILE as a JSON body;
# sets CODE (000 if no connection), body in $T/r.body, headers in $T/r.head.
http_req() {
    local method=$1 url=$2 token=$3
    shift 3
    local a=(-s -m 10 -X "$method" -o "$T/r.body" -D "$T/r.head" -w '%{http_code}')
    [ -z "$token" ] || a+=(-H "Authorization: Bearer $token")
    while [ $# -gt 0 ]; do
        if [ "$1" = -- ]; then
            a+=(-H 'Content-Type: application/json' --data-binary "@$2")
            shift 2
        else
            a+=(-H "$1")
            shift
        fi
    done
    CODE=$(curl "${a[@]}" "$url" 2>/dev/null) || CODE=000
}

# change_ids QUERY_URL TENANT TOTAL OUT: every change of TENANT's log
# (through http_api's /v1/changes, page by page) up to seq TOTAL; the
# event id of each, one per line, into OUT.
change_ids() {
    local q=$1 tenant=$2 total=$3 out=$4 after=0 n
    : >"$out"
    while [ "$after" -lt "$total" ]; do
        curl -s -m 10 -H "X-Tenant-ID: $tenant" "$q/v1/changes?after=$after&limit=1000" >"$T/page" ||
            fail "changes page after $after"
        grep -o '"event_id":"[0-9a-f-]*"' "$T/page" | cut -d'"' -f4 >>"$out"
        n=$(grep -o '"seq":[0-9]*' "$T/page" | tail -1 | cut -d: -f2)
        [ -n "$n" ] && [ "$n" -gt "$after" ] || fail "changes page after $after: no progress"
        after=$n
    done
}

# exactly_once ACKED LOGGED: every id of file ACKED is in file LOGGED
# exactly once and LOGGED holds no other; fails naming the first few.
exactly_once() {
    sort "$2" >"$T/logged.sorted"
    sort -u "$1" >"$T/acked.sorted"
    local dups missing extra
    dups=$(uniq -d "$T/logged.sorted" | wc -l)
    [ "$dups" = 0 ] || fail "$dups events applied twice: $(uniq -d "$T/logged.sorted" | head -3)"
    missing=$(comm -23 "$T/acked.sorted" "$T/logged.sorted" | wc -l)
    [ "$missing" = 0 ] || fail "$missing acknowledged events lost: $(comm -23 "$T/acked.sorted" "$T/logged.sorted" | head -3)"
    extra=$(comm -13 "$T/acked.sorted" "$T/logged.sorted" | wc -l)
    [ "$extra" = 0 ] || fail "$extra events in the store that no client sent"
}
