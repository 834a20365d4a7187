#!/usr/bin/env bash
# tests/bench/ranking_server.sh [QAC_BIN] -- latency of COMPLETE through the
# learned ranker with Redis on the same machine. Target: p99 < 1 ms.
#
# Data: the AOL dev log of ../shared when readable (read in place, never
# copied), else the Excite demo log (data/demo/excite97.tsv). Builds index,
# embeddings and model from the part before 2006-05-18 (AOL) / the whole log
# (demo), starts a private redis-server and `qac load`s the embeddings, then
# replays QAC_BENCH_EVENTS events (default 20000; every prefix with USER and
# SESSION, then an ACCEPT with PREFIX and RANK) against three servers:
#   plain      no model, no Redis, and the log's queries as a plain list (no
#              USER/SESSION): the trie path, which the ranker must not slow
#   local      --model --embeddings, no Redis (in-process history)
#   redis      --redis --model (vectors and history in Redis, deadline 2 ms)
# Each server gets two loads: closed loop 1 connection x 1 in flight (pure
# latency) and open loop at QAC_BENCH_RATE req/s (default 5000, 4
# connections; latency from the due time) for QAC_BENCH_SECONDS (default 5).
# A closed loop with many in flight measures queueing behind the server's
# throughput instead (64 in flight x ~20 us of ranking = over 1 ms).
# For each: throughput, p50/p99/p999 (qac replay's, per request, client side)
# and the ranker's degraded / deadline-miss counters from STATS.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
qac=${1:-$root/bin/qac}
shared=${QAC_SHARED:-$root/../shared}
events=${QAC_BENCH_EVENTS:-3000}
rate=${QAC_BENCH_RATE:-5000}
secs=${QAC_BENCH_SECONDS:-5}
dev=$shared/data/aol/aol-users-dev.tsv
tmp=$(mktemp -d /tmp/qac-bench-rserver.XXXXXX)
spid= rpid=
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
command -v redis-server >/dev/null || { echo "skip: redis-server missing"; exit 0; }

if [ -r "$dev" ]; then
    log=$dev
    until=(--until 2006-05-18)
    echo "data: AOL dev log (history before 2006-05-18 for index, embeddings, model)"
else
    log=$root/data/demo/excite97.tsv
    until=()
    echo "data: Excite demo log (no ../shared)"
fi
"$qac" build -o "$tmp/idx" "${until[@]}" "$log" >/dev/null 2>&1
"$qac" embed -o "$tmp/emb" "${until[@]}" "$log" 2>/dev/null
"$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" -o "$tmp/model" "$log" 2>/dev/null
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" --loglevel warning \
    >"$tmp/redis.log" 2>&1 &
rpid=$!
for _ in $(seq 100); do redis-cli -p "$rport" PING >/dev/null 2>&1 && break; sleep 0.05; done
"$qac" load --redis "127.0.0.1:$rport" --namespace bench "$tmp/emb" 2>/dev/null

tail -n +2 "$log" | cut -f2 >"$tmp/queries.txt" # a query list: replay sends no USER/SESSION
run() { # run LABEL LOG LOAD SERVE-ARGS...
    local label=$1 rlog=$2 load=$3; shift 3
    local port; port=$(free_port)
    "$qac" serve -i "$tmp/idx" --port "$port" --http-port 0 --log-level warn "$@" 2>"$tmp/srv.log" &
    spid=$!
    for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.05; done
    sleep 1.2 # the ranker reads NS:current once a second
    # shellcheck disable=SC2086
    "$qac" replay --port "$port" $load --quiet --json "$tmp/r.json" "$rlog" 2>/dev/null \
        || { echo "$label: replay failed"; }
    local st; st=$(redis-cli -p "$port" STATS | tr -d '\r')
    kill "$spid"; wait "$spid" 2>/dev/null || true; spid=
    python3 - "$tmp/r.json" "$label" "$st" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); l = r["latency_us"]
st = dict(x.split(":", 1) for x in sys.argv[3].split("\n") if ":" in x)
print("%-14s %8.0f req/s  p50 %5d  p99 %5d  p999 %6d us  (%d req)  ranked %s, degraded %s, deadline misses %s, "
      "cache hits %s misses %s, online updates %s"
      % (sys.argv[2], r["throughput_rps"], l["p50"], l["p99"], l["p999"], r["requests"], st.get("rank_requests"),
         st.get("rank_degraded"), st.get("rank_deadline_misses"), st.get("rank_cache_hits"),
         st.get("rank_cache_misses"), st.get("rank_online_updates")))
PY
}
echo "replay: COMPLETE per prefix with USER+SESSION (plain: none), then ACCEPT with PREFIX and RANK"
echo "1x1 = closed loop, 1 in flight, first $events events; open = $rate req/s for $secs s, 4 connections"
c11="--limit $events --connections 1 --pipeline 1"
open="--rate $rate --duration $secs --connections 4"
for l in "1x1:$c11" "open:$open"; do
    n=${l%%:*} a=${l#*:}
    run "plain $n" "$tmp/queries.txt" "$a"
    run "local $n" "$log" "$a" --model "$tmp/model" --embeddings "$tmp/emb"
    run "redis $n" "$log" "$a" --redis "127.0.0.1:$rport" --namespace bench --model "$tmp/model"
done
