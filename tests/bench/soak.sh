#!/usr/bin/env bash
# tests/bench/soak.sh [QAC_BIN] -- soak benchmark (issue 8): does resident
# memory stay flat under a long replay? A benchmark, not a test: it asserts
# nothing and prints figures.
#
# Index: the AOL history (`qac build --until 2006-05-18` of the dev log plus
# the train queries, read in place from ../shared, never copied) when
# ../shared exists, else the demo data (data/demo). Load: `qac replay` with
# ACCEPTs on (every replayed query's popularity goes up, new queries become
# keys), closed loop, SOAK_CONNECTIONS (4) x SOAK_PIPELINE (16), restarted
# over the same log until SOAK_SECONDS (600) have passed. The server's VmRSS
# (/proc/PID/status) is sampled every second into a CSV:
#   t_s,rss_kb,keys,replay_round
# Summary: RSS at 10 s, 60 s, the end, the max, and the least-squares slope
# over the last half of the run in KB/min (flat = a few KB/min or less).
# Output kept in SOAK_OUT (default /tmp/qac-soak.XXXXXX, printed at the end):
# rss.csv, replay-N.txt (each round's report), serve.log.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
qac=${1:-$root/bin/qac}
secs=${SOAK_SECONDS:-600}
conns=${SOAK_CONNECTIONS:-4}
pipe=${SOAK_PIPELINE:-16}
shared=${QAC_SHARED:-$root/../shared}
out=${SOAK_OUT:-$(mktemp -d /tmp/qac-soak.XXXXXX)}
mkdir -p "$out"
spid= mpid= rpid=
cleanup() {
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
    [ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
    [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    rm -f "$out/idx"
    true
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

dev=$shared/data/aol/aol-users-dev.tsv
if [ -r "$dev" ]; then
    log=$dev
    echo "index: AOL history (--until 2006-05-18 of $dev + aol-queries-train.txt)"
    "$qac" build -o "$out/idx" --quiet --until 2006-05-18 "$dev" "$shared/data/aol/aol-queries-train.txt"
else
    log=$root/data/demo/excite97.tsv
    echo "index: demo data (no $dev); replaying $log"
    "$qac" build -o "$out/idx" --quiet "$root/data/demo/trec05.txt" "$root/data/demo/excite97.tsv"
fi
port=$(free_port)
"$qac" serve -i "$out/idx" --port "$port" --http-port 0 --log-level warn >"$out/serve.log" 2>&1 &
spid=$!
for _ in $(seq 200); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2)' "$port" 2>/dev/null && break
    sleep 0.05
done
kill -0 "$spid" || { echo "qac serve did not start:"; cat "$out/serve.log"; exit 1; }

keys() { # the server's key count, from STATS over the text protocol
    python3 - "$port" <<'PY' 2>/dev/null || echo -1
import re, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
s.sendall(b"STATS\r\n")
b = b""
while not re.search(rb"\nkeys \d+\r\n", b):
    d = s.recv(65536)
    if not d: break
    b += d
print(re.search(rb"\nkeys (\d+)\r\n", b).group(1).decode())
PY
}

# sampler: one line per second until the server is gone or the flag file is removed
echo "t_s,rss_kb,keys,replay_round" >"$out/rss.csv"
touch "$out/running"
(
    t0=$(date +%s.%N)
    i=0
    while [ -e "$out/running" ] && [ -r "/proc/$spid/status" ]; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$spid/status")
        round=$(cat "$out/round" 2>/dev/null || echo 0)
        echo "$i,$rss,$(keys),$round" >>"$out/rss.csv"
        i=$((i + 1))
        now=$(date +%s.%N)
        sleep "$(awk -v a="$t0" -v b="$now" -v i="$i" 'BEGIN { d = a + i - b; print (d > 0 ? d : 0) }')"
    done
) &
mpid=$!

echo "soak: ${secs}s of qac replay (ACCEPTs on, $conns connections x $pipe in flight) against port $port; samples in $out/rss.csv"
start=$(date +%s)
round=0
while :; do
    left=$((start + secs - $(date +%s)))
    [ "$left" -gt 0 ] || break
    round=$((round + 1))
    echo "$round" >"$out/round"
    "$qac" replay --port "$port" --connections "$conns" --pipeline "$pipe" --duration "$left" \
        --json "$out/replay-$round.json" "$log" >"$out/replay-$round.txt" 2>&1 &
    rpid=$!
    rc=0
    wait "$rpid" || rc=$?
    rpid=
    req=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("requests", d.get("events", "?")))' \
        "$out/replay-$round.json" 2>/dev/null || echo '?')
    echo "  round $round: exit $rc, $(grep -m1 -i 'requests\|throughput' "$out/replay-$round.txt" | tr -s ' ' | head -c 150)"
    [ "$rc" -eq 0 ] || { echo "replay failed (round $round):"; tail -5 "$out/replay-$round.txt"; break; }
done
rm -f "$out/running"
wait "$mpid" 2>/dev/null || true
mpid=
kill -0 "$spid" 2>/dev/null || { echo "the server died during the soak:"; tail -20 "$out/serve.log"; exit 1; }

python3 - "$out/rss.csv" <<'PY'
import csv, sys
rows = [(int(r["t_s"]), int(r["rss_kb"]), int(r["keys"]), int(r["replay_round"])) for r in csv.DictReader(open(sys.argv[1]))]
if not rows:
    sys.exit("no samples")
def at(t):
    best = min(rows, key=lambda r: abs(r[0] - t))
    return "%d KB (keys %d)" % (best[1], best[2])
end = rows[-1][0]
half = [r for r in rows if r[0] >= end / 2.0]
n = len(half)
mx = sum(r[0] for r in half) / n; my = sum(r[1] for r in half) / n
sxx = sum((r[0] - mx) ** 2 for r in half)
slope = sum((r[0] - mx) * (r[1] - my) for r in half) / sxx * 60 if sxx else 0.0
ky = sum(r[2] for r in half) / n
kslope = sum((r[0] - mx) * (r[2] - ky) for r in half) / sxx * 60 if sxx else 0.0
print("RSS at 10 s: %s" % at(10))
print("RSS at 60 s: %s" % at(60))
print("RSS at end (%d s): %s" % (end, at(end)))
print("RSS max: %d KB at %d s" % max((r[1], r[0]) for r in rows))
print("slope over the last half (%d..%d s): %+.1f KB/min (keys %+.1f /min); replay rounds: %d"
      % (half[0][0], end, slope, kslope, rows[-1][3]))
PY
echo "output: $out"
