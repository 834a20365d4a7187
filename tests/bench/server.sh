#!/usr/bin/env bash
# tests/bench/server.sh [QAC_BIN] -- qac serve vs redis-server under redis-benchmark.
#
# In one run: builds an index from a synthetic corpus (N distinct queries,
# default 1,000,000; QAC_BENCH_N overrides), starts qac on a free port and a
# redis-server on another, then runs redis-benchmark with 50 clients:
#   qac:   COMPLETE ne            (a 2-character prefix: the hard case)
#   redis: GET k                  (a plain key read: the loopback ceiling)
# each without and with -P 16, and prints both throughputs, the ratio and
# qac's p99 latency. Target: qac >= 0.8x Redis.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
qac=${1:-$root/bin/qac}
n=${QAC_BENCH_N:-1000000}
reqs=${QAC_BENCH_REQUESTS:-500000}
shared=${QAC_SHARED:-$root/../shared}
tmp=$(mktemp -d /tmp/qac-bench-server.XXXXXX)
qpid= rpid=
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "corpus: $n synthetic queries (synth_queries.py)"
python3 "$shared/tools/synth_queries.py" corpus "$n" "$tmp/corpus.tsv" >/dev/null
"$qac" build -o "$tmp/idx" --format counts --quiet "$tmp/corpus.tsv"
qport=$(free_port) rport=$(free_port)
"$qac" serve -i "$tmp/idx" --port "$qport" --http-port 0 --log-level warn &
qpid=$!
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" --loglevel warning >"$tmp/redis.log" 2>&1 &
rpid=$!
for _ in $(seq 200); do
    redis-cli -p "$qport" PING >/dev/null 2>&1 && redis-cli -p "$rport" PING >/dev/null 2>&1 && break
    sleep 0.1
done
redis-cli -p "$rport" SET k "new york times" >/dev/null
# Like for like: a Redis list holding the same ten strings COMPLETE ne returns.
redis-cli -p "$qport" COMPLETE ne | while IFS= read -r line; do redis-cli -p "$rport" RPUSH l "$line" >/dev/null; done
echo "qac COMPLETE ne -> $(redis-cli -p "$qport" COMPLETE ne | wc -l) suggestions"

# run PORT PIPELINE CMD... -> "rps p99_ms" from redis-benchmark --csv
run() {
    local port=$1 p=$2; shift 2
    redis-benchmark -p "$port" -c 50 -n "$reqs" -P "$p" --csv "$@" 2>/dev/null |
        awk -F, 'NR==2 { gsub(/"/, ""); print $2, $7 }'
}
# The machine is shared and noisy: qac and Redis run alternately, ROUNDS times
# (QAC_BENCH_ROUNDS, default 5), and the medians of each and of the per-round
# ratio are reported.
rounds=${QAC_BENCH_ROUNDS:-5}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-8s %12s %12s %10s %14s %10s %10s   (medians of %d alternating rounds)\n' pipeline "qac rps" "redis GET" ratio "redis LRANGE" ratio "qac p99ms" "$rounds"
for p in 1 16; do
    : >"$tmp/q" ; : >"$tmp/r"; : >"$tmp/ratio"; : >"$tmp/p99"; : >"$tmp/l"; : >"$tmp/lratio"
    for _ in $(seq "$rounds"); do
        read -r q_rps q_p99 < <(run "$qport" "$p" COMPLETE ne)
        read -r r_rps r_p99 < <(run "$rport" "$p" GET k)
        read -r l_rps l_p99 < <(run "$rport" "$p" LRANGE l 0 9)
        echo "$q_rps" >>"$tmp/q"; echo "$r_rps" >>"$tmp/r"; echo "$q_p99" >>"$tmp/p99"; echo "$l_rps" >>"$tmp/l"
        awk -v a="$q_rps" -v b="$r_rps" 'BEGIN { printf "%.3f\n", a / b }' >>"$tmp/ratio"
        awk -v a="$q_rps" -v b="$l_rps" 'BEGIN { printf "%.3f\n", a / b }' >>"$tmp/lratio"
    done
    printf '%-8s %12s %12s %10s %14s %10s %10s\n' "-P $p" "$(median <"$tmp/q")" "$(median <"$tmp/r")" \
        "$(median <"$tmp/ratio")x" "$(median <"$tmp/l")" "$(median <"$tmp/lratio")x" "$(median <"$tmp/p99")"
done
