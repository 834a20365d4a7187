#!/usr/bin/env bash
# tests/it_web_e2e.sh -- the typeahead page end to end: real qac, real nginx, headless Chromium.
#
# 1. Builds an index from data/demo (*.txt, *.tsv; a small query file written here if there is none).
# 2. Starts `$QAC_BIN serve` on free ports and nginx in front of it (deploy/nginx-run.sh, default limits).
# 3. tests/e2e/typeahead.js: types a prefix key by key in Chromium, compares each list with
#    `qac complete`, picks with the keyboard and the mouse, checks ACCEPT in GET /v1/stats, types a word
#    with a typo ("wether") and sees the intended suggestion ("weather", highlighted from the server's
#    match range: the page asks with fuzzy=auto), types a later word of a query ("york") and sees that
#    query with the word highlighted in the middle (infix=1), late answers, ARIA, 360 px, screenshots into
#    tests/artifacts/.
# 4. tests/e2e/proxy.js: nginx's cache, gzip, keepalive, JSON 404/413/429/503, /healthz, /metrics.
# 5. tests/e2e/latency.js: p50/p99 direct vs through nginx (a second nginx, same config but a rate
#    limit that cannot interfere), printed and kept in tests/artifacts/web-latency.txt.
# Everything started is stopped on exit, pass or fail. Exit 0 pass, 1 fail, 77 skip (no node/npm
# packages/chromium/nginx and no way to install them).
# Environment: QAC_BIN, QAC_ROOT, QAC_TMP as given by tests/run.sh (defaults for a manual run: bin/qac,
# this repository, a new temp dir). QAC_E2E_KEEP=1 keeps the temp dir (logs) after a run.
set -u
root=${QAC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
qac=${QAC_BIN:-$root/bin/qac}
e2e=$root/tests/e2e
artifacts=$root/tests/artifacts

skip() { echo "skip: $*"; exit 77; }
say() { echo "== $*"; }

# --- prerequisites --------------------------------------------------------------------------------
apt_install() {   # apt_install PACKAGE...: only as root, only when apt-get exists
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
    say "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; }
}
have_node() { command -v node >/dev/null && command -v npm >/dev/null; }
have_nginx() { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }
have_node || { apt_install nodejs npm && have_node; } ||
    skip "node and npm are not installed (apt-get install nodejs npm)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    skip "node $(node --version) is too old for playwright-core (need 18+)"
[ -x /usr/bin/chromium ] || { apt_install chromium && [ -x /usr/bin/chromium ]; } ||
    skip "chromium is not installed (apt-get install chromium)"
have_nginx || { apt_install nginx-light && have_nginx; } || skip "nginx is not installed (apt-get install nginx-light)"
if [ ! -f "$e2e/node_modules/playwright-core/package.json" ] ||
   [ "$e2e/package-lock.json" -nt "$e2e/node_modules/.package-lock.json" ]; then
    say "npm ci in tests/e2e"
    (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) ||
        skip "npm ci in tests/e2e failed (no access to the npm registry?)"
fi
[ -x "$qac" ] || { echo "FAIL: $qac is not built (run make)"; exit 1; }

# --- scratch, ports, cleanup ------------------------------------------------------------------------
tmp=$(mktemp -d "${QAC_TMP:-/tmp}/web-e2e.XXXXXX")
qac_pid=
nginx_dirs=()
cleanup() {
    local rc=$?
    for d in "${nginx_dirs[@]}"; do "$root/deploy/nginx-run.sh" stop --dir "$d" >/dev/null 2>&1; done
    if [ -n "$qac_pid" ]; then
        kill -TERM "$qac_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$qac_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$qac_pid" 2>/dev/null
        wait "$qac_pid" 2>/dev/null
    fi
    if [ "$rc" -ne 0 ]; then
        echo "-- qac log (last 20 lines):"; tail -20 "$tmp/qac.log" 2>/dev/null
        for d in "${nginx_dirs[@]}"; do echo "-- $d/logs/error.log:"; tail -10 "$d/logs/error.log" 2>/dev/null; done
    fi
    [ "${QAC_E2E_KEEP:-0}" = 1 ] && echo "kept $tmp" || rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port) http_port=$(free_port) nginx_port=$(free_port) dead_port=$(free_port) dead_nginx=$(free_port)
bench_nginx=$(free_port)

# --- index ----------------------------------------------------------------------------------------
shopt -s nullglob
demo=("$root"/data/demo/*.txt "$root"/data/demo/*.tsv)
shopt -u nullglob
if [ ${#demo[@]} -eq 0 ]; then
    say "no data/demo files; writing a small query file"
    for q in "new york times" "new york" "new york city" "new year" "news" "new jersey" "newport" \
             "how to tie a tie" "how to cook rice" "weather" "web mail" "café paris" "naïve bayes"; do
        echo "$q"; echo "$q"
    done >"$tmp/queries.txt"
    echo "new york times" >>"$tmp/queries.txt"
    demo=("$tmp/queries.txt")
fi
index=$tmp/demo.qac
say "qac build -o demo.qac ${demo[*]##*/}"
"$qac" build -o "$index" "${demo[@]}" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "qac build failed"; }

# --- qac and nginx --------------------------------------------------------------------------------
say "qac serve on :$port, HTTP :$http_port"
"$qac" serve -i "$index" --port "$port" --http-port "$http_port" >"$tmp/qac.log" 2>&1 &
qac_pid=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$http_port/healthz" 2>/dev/null && break
    kill -0 "$qac_pid" 2>/dev/null || fail "qac serve exited: $(tail -3 "$tmp/qac.log")"
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$http_port/healthz" || fail "qac's /healthz does not answer on :$http_port"

start_nginx() {   # start_nginx DIR PORT UPSTREAM [options...]
    local d=$1 p=$2 u=$3
    shift 3
    nginx_dirs+=("$d")
    "$root/deploy/nginx-run.sh" start --dir "$d" --port "$p" --upstream "$u" "$@" >"$d.pid" 2>"$d.err" ||
        { cat "$d.err"; fail "nginx did not start on :$p"; }
}
say "nginx on :$nginx_port -> :$http_port (default limits); on :$bench_nginx -> :$http_port (rate limit" \
    "too high to matter, for keepalive counting and latency); on :$dead_nginx -> closed port :$dead_port"
start_nginx "$tmp/nginx" "$nginx_port" "127.0.0.1:$http_port"
start_nginx "$tmp/nginx-bench" "$bench_nginx" "127.0.0.1:$http_port" --rate 1000000 --burst 1000000
start_nginx "$tmp/nginx-dead" "$dead_nginx" "127.0.0.1:$dead_port"

export QAC_BIN=$qac QAC_E2E_INDEX=$index
export QAC_E2E_URL=http://127.0.0.1:$nginx_port/ QAC_E2E_DIRECT=http://127.0.0.1:$http_port
export QAC_E2E_DEAD_URL=http://127.0.0.1:$dead_nginx/ QAC_E2E_FAST_URL=http://127.0.0.1:$bench_nginx/
export QAC_E2E_PROFILE=$tmp/chromium-profile QAC_E2E_ARTIFACTS=$artifacts
export QAC_E2E_PREFIX=${QAC_E2E_PREFIX:-new y|how to|new|ne|n}

say "browser: tests/e2e/typeahead.js"
timeout 180 node "$e2e/typeahead.js" || fail "typeahead checks"
say "proxy: tests/e2e/proxy.js"
timeout 120 node "$e2e/proxy.js" || fail "proxy checks"

say "latency: direct vs nginx on :$bench_nginx (same config, rate limit that cannot interfere)"
mkdir -p "$artifacts"
QAC_E2E_URL=http://127.0.0.1:$bench_nginx/ timeout 300 node "$e2e/latency.js" | tee "$tmp/latency.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "latency run"
grep '^#' "$tmp/latency.txt" >"$artifacts/web-latency.txt"

say "stopping qac with SIGTERM: it must exit 0 with no sanitizer report"
kill -TERM "$qac_pid"
for _ in $(seq 100); do kill -0 "$qac_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$qac_pid" 2>/dev/null && fail "qac serve still runs 10 s after SIGTERM"
wait "$qac_pid"
qac_rc=$?
qac_pid=
[ "$qac_rc" -eq 0 ] || fail "qac serve exited $qac_rc after SIGTERM"
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/qac.log"; then fail "sanitizer report in qac's log"; fi
echo "ok - screenshots in $artifacts"
exit 0
