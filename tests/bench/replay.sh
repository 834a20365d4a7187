#!/usr/bin/env bash
# tests/bench/replay.sh [QAC_BIN] -- is the replay client the bottleneck?
#
# Builds an index from the history part of the AOL dev log (read in place
# from ../shared, never copied), starts `qac serve` on a free port, and
# replays the dev log (all prefixes, with ACCEPTs; QAC_BENCH_EVENTS events,
# default 20000) closed loop with 4 connections x 16 users in flight, then
# open loop at QAC_BENCH_RATE req/s (default 50000). For each run it prints
# throughput, latency percentiles, and the CPU seconds (utime + stime from
# /proc/PID/stat) of the replay process next to the server's over that run.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
qac=${1:-$root/bin/qac}
shared=${QAC_SHARED:-$root/../shared}
dev=$shared/data/aol/aol-users-dev.tsv
events=${QAC_BENCH_EVENTS:-20000}
rate=${QAC_BENCH_RATE:-50000}
[ -r "$dev" ] || { echo "skip: $dev not readable"; exit 0; }
tmp=$(mktemp -d /tmp/qac-bench-replay.XXXXXX)
spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tck=$(getconf CLK_TCK)
cpu() { awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; } # utime + stime, seconds

"$qac" build -o "$tmp/idx" --until 2006-05-18 "$dev" >/dev/null 2>&1
port=$(free_port)
"$qac" serve -i "$tmp/idx" --port "$port" --http-port 0 >"$tmp/srv.log" 2>&1 &
spid=$!
for _ in $(seq 100); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2)' "$port" 2>/dev/null && break
    sleep 0.1
done

run() { # run LABEL ARGS...
    local label=$1; shift
    local s0; s0=$(cpu "$spid")
    "$qac" replay --port "$port" --limit "$events" --quiet --json "$tmp/r.json" "$@" "$dev" 2>/dev/null &
    local rpid=$!
    local rcpu=0
    while kill -0 "$rpid" 2>/dev/null; do
        rcpu=$(cpu "$rpid" 2>/dev/null || echo "$rcpu")
        sleep 0.05
    done
    wait "$rpid" || { echo "$label: replay failed"; return 1; }
    local s1; s1=$(cpu "$spid")
    python3 - "$tmp/r.json" "$label" "$rcpu" "$(echo "$s1 - $s0" | bc)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); l = r["latency_us"]
print("%-28s %8.0f req/s  p50 %5d p99 %6d p999 %6d max %7d us  %7d req in %5.2f s  cpu: replay %s s, server %s s"
      % (sys.argv[2], r["throughput_rps"], l["p50"], l["p99"], l["p999"], l["max"], r["requests"], r["seconds"],
         sys.argv[3], sys.argv[4]))
PY
}
echo "AOL dev log, first $events events, all prefixes + ACCEPT; server pid $spid"
run "closed loop 4x16" --connections 4 --pipeline 16
run "closed loop 1x1" --connections 1 --pipeline 1
run "open loop $rate req/s" --connections 4 --rate "$rate"
