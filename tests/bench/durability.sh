#!/usr/bin/env bash
# tests/bench/durability.sh [QAC_BIN] -- change throughput per --fsync policy
# (redis-benchmark, 50 clients, -P 16 pipelined INCRs on random keys) and the
# p99 COMPLETE latency during a background SAVE of a large index
# (QAC_BENCH_N keys, default 1,000,000; /tmp/c10m.tsv is used when N=10000000).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
qac=${1:-$root/bin/qac}
n=${QAC_BENCH_N:-1000000}
shared=${QAC_SHARED:-$root/../shared}
tmp=$(mktemp -d /tmp/qac-bench-dur.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
up() { for _ in $(seq 600); do redis-cli -p "$port" PING >/dev/null 2>&1 && return; sleep 0.1; done; }
printf 'seed\t1\n' >"$tmp/s.tsv"
"$qac" build -o "$tmp/small" --format counts --quiet "$tmp/s.tsv"
for pol in no everysec always; do
    rm -f "$tmp"/j.*
    "$qac" serve -i "$tmp/small" --port "$port" --http-port 0 --journal "$tmp/j" --fsync "$pol" --log-level warn &
    pid=$!; up
    r=$(redis-benchmark -p "$port" -c 50 -n 200000 -P 16 -r 100000 -q INCR key:__rand_int__ 2>/dev/null | grep -o '[0-9.]* requests per second' | tail -1)
    echo "fsync $pol: INCR $r"
    kill "$pid"; wait "$pid" 2>/dev/null; pid=
done
if [ "$n" = 10000000 ] && [ -f /tmp/c10m.tsv ]; then corpus=/tmp/c10m.tsv
else corpus=$tmp/big.tsv; python3 "$shared/tools/synth_queries.py" corpus "$n" "$corpus" >/dev/null; fi
"$qac" build -o "$tmp/big" --format counts --quiet "$corpus"
"$qac" serve -i "$tmp/big" --port "$port" --http-port 0 --journal "$tmp/jb" --fsync everysec 2>"$tmp/log" &
pid=$!; up
# COMPLETE latency seen by clients (redis-benchmark --csv: rps, p50, p99, max in ms),
# first with nothing else running, then while a background SAVE of the whole
# index runs (the loop pauses once, for fork(); the child writes the snapshot).
lat() { redis-benchmark -p "$port" -c 10 -n "${QAC_BENCH_SAVE_REQUESTS:-300000}" --csv COMPLETE ne 2>/dev/null |
        awk -F, 'NR==2 { gsub(/"/, ""); printf "%s rps, p50 %s ms, p99 %s ms, max %s ms\n", $2, $5, $7, $8 }'; }
echo "COMPLETE ne, no save:     $(lat)"
redis-cli -p "$port" SAVE >"$tmp/save.out" &
spid=$!
echo "COMPLETE ne, during SAVE: $(lat)"
wait "$spid"
echo "SAVE replied: $(cat "$tmp/save.out")"
redis-cli -p "$port" STATS | grep -E 'keys|last_save_duration_ms|last_fork_us|last_save_status' | tr -d '\r' | paste -sd' '
kill "$pid"; wait "$pid" 2>/dev/null; pid=
