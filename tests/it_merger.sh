#!/usr/bin/env bash
# it_merger.sh -- the shard merger's limits and errors (`qac serve --upstreams`, engine/upstream.h), on
# loopback with no Redis:
#   1. settings: a bad SPEC, more replicas than max-upstreams, a value out of range: exit 2 with the
#      message; a garbage shard map, a map of another shard count: exit 1, logged;
#   2. a shard whose only replica refuses connections: ERR IO naming the shard (HTTP 504 upstream);
#      a shard that accepts but never answers: the request fails at deadline-ms, in time, and that
#      replica is dropped as hung;
#   3. max-inflight 1: while one request waits on the silent shard, a second is refused with ERR LIMIT;
#   4. a real shard behind a dead replica: answers (fail-over); an empty prefix is merged from both shards;
#      ADD goes to the owning shard; INCR's reply comes back; 3,000 pipelined requests answered in order;
#      HTTP /v1/suggest and /healthz; HTTP /v1/accept forwarded to the owning shard, its errors as one
#      server's (compared with a shard's own HTTP answers); the merger's counters over STATS (RESP and
#      text), /v1/stats and /metrics (per shard asks, fail-overs, deadline misses).
# Exit 0 pass, 1 fail, 77 skip.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need python3 redis-cli curl
make_tmp it_merger

# --- 1. settings ----------------------------------------------------------------------------------------
expect_exit() { # NAME WANT_STATUS WANT_TEXT ARGS...
    local name=$1 want=$2 text=$3
    shift 3
    timeout 10 "$QAC_BIN" serve "$@" >"$tmp/out" 2>&1
    local st=$?
    [ "$st" = "$want" ] && grep -qF -- "$text" "$tmp/out" && ok "$name" || { bad "$name: exit $st"; cat "$tmp/out"; }
}
expect_exit "bad SPEC" 2 "'127.0.0.1' is not HOST:PORT (shard 0)" --upstreams "127.0.0.1"
expect_exit "port 0 in SPEC" 2 "is not HOST:PORT" --upstreams "127.0.0.1:0"
expect_exit "over max-upstreams" 2 "more than max-upstreams (2) replicas" --upstreams "h:1,h:2;h:3" --max-upstreams 2
expect_exit "max-upstreams out of range" 2 "bad --max-upstreams '0'" --upstreams "h:1" --max-upstreams 0
expect_exit "max-inflight out of range" 2 "bad --max-inflight '0'" --upstreams "h:1" --max-inflight 0
expect_exit "deadline-ms out of range" 2 "bad --deadline-ms '60001'" --upstreams "h:1" --deadline-ms 60001
expect_exit "unknown setting" 2 "unknown option" --upstreams "h:1" --frob 1
printf 'qac-shardmap 1\nkeys match\nshards 2\nshard 0 a 1\nshard 1 b 1\nrange 0 6c 0\n' >"$tmp/bad.shards"
expect_exit "garbage shard map" 1 "the ranges end at 6c" --upstreams "h:1;h:2" --shard-map "$tmp/bad.shards" --port "$(free_port)"
printf 'qac-shardmap 1\nkeys match\nshards 2\nshard 0 a 1\nshard 1 b 1\nrange 0 6c 0\nrange 6d 10ffff 1\n' >"$tmp/m.shards"
expect_exit "map of 2 shards, SPEC of 1" 1 "shardmap.mismatch" --upstreams "h:1" --shard-map "$tmp/m.shards" --port "$(free_port)"

# --- 2-3. a refusing shard, a silent shard -----------------------------------------------------------------
dead=$(free_port) silent=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # accepts, never answers
' "$silent" &
track $!
mp=$(free_port) mh=$(free_port)
# shard 0 (a-l) refuses, shard 1 (m-) is silent
qac_start "$mp" "$tmp/merger.log" --upstreams "127.0.0.1:$dead;127.0.0.1:$silent" --shard-map "$tmp/m.shards" \
    --http-port "$mh" --deadline-ms 300 --max-inflight 1 || fail "merger start"
check "refusing shard" "$(redis-cli -p "$mp" COMPLETE abc)" "ERR IO shard 0 (127.0.0.1:$dead): no replica answered"
check "refusing shard, HTTP" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mh/v1/complete?q=abc")" 504
t0=$(date +%s%N)
got=$(redis-cli -p "$mp" COMPLETE xyz)
ms=$((($(date +%s%N) - t0) / 1000000))
check "silent shard: the deadline" "$got" "ERR IO shard 1 (127.0.0.1:$silent): no replica answered within 300 ms (deadline-ms)"
[ "$ms" -ge 250 ] && [ "$ms" -lt 3000 ] && ok "answered at the deadline ($ms ms)" || bad "deadline answer after $ms ms"
check "STATS: the deadline miss counted on its shard" \
    "$(redis-cli -p "$mp" STATS | grep -E '^(shard[01]_deadline_misses|merger_deadline_errors):' | tr -d '\r' | tr '\n' ' ')" \
    "merger_deadline_errors:1 shard0_deadline_misses:0 shard1_deadline_misses:1 "
check "the hung replica dropped (reconnected later)" "$(grep -c "upstream.replica_dropped.*port=$silent" "$tmp/merger.log")" 1
redis-cli -p "$mp" COMPLETE xyz >"$tmp/first" &
sleep 0.1
check "max-inflight 1: a second request waits for none" "$(redis-cli -p "$mp" COMPLETE abc)" \
    "ERR LIMIT max-inflight (1) requests are waiting on the shards; retry"
wait $!
check "INFIX asks every shard (the first failure answers)" "$(redis-cli -p "$mp" COMPLETE abc INFIX | grep -c 'ERR IO shard')" 1
check "DICT refused" "$(redis-cli -p "$mp" COMPLETE abc DICT d)" "ERR ARGS DICT is not served through the merger"
check "LIMIT over max-k" "$(redis-cli -p "$mp" COMPLETE abc LIMIT 101)" "ERR ARGS LIMIT wants 1..100 (max-k)"
qac_stop

# --- 4. fail-over to a live replica; changes to the owner ----------------------------------------------------
printf 'apple\t5\nbanana\t3\nmango\t7\nmelon\t2\n' >"$tmp/c.tsv"
"$QAC_BIN" build -o "$tmp/idx" --format counts --quiet --shards 2 "$tmp/c.tsv" || fail "build --shards"
s0=$(free_port) s1=$(free_port)
sh0=$(free_port)
qac_start "$s0" "$tmp/s0.log" -i "$tmp/idx.0" --http-port "$sh0" || fail "shard 0"
qac_start "$s1" "$tmp/s1.log" -i "$tmp/idx.1" --http-port 0 || fail "shard 1"
mp=$(free_port) mh2=$(free_port)
qac_start "$mp" "$tmp/merger2.log" --upstreams "127.0.0.1:$dead,127.0.0.1:$s0;127.0.0.1:$s1" \
    --shard-map "$tmp/idx.shards" --http-port "$mh2" || fail "merger start"
check "a dead first replica: the next answers" "$(redis-cli -p "$mp" COMPLETE a)" "apple"
check "an empty prefix asks both shards, merged" "$(redis-cli -p "$mp" COMPLETE "" LIMIT 4 | tr '\n' ' ')" "mango apple banana melon "
check "ADD through the merger" "$(redis-cli -p "$mp" ADD "Maple" 9)" "OK"
check "on the owning shard only" "$(redis-cli -p "$s1" COMPLETE ma LIMIT 1) $(redis-cli -p "$s0" COMPLETE ma | wc -w)" "Maple 0"
check "INCR's reply passed back" "$(redis-cli -p "$mp" INCR maple 2)" "11"
check "PING" "$(redis-cli -p "$mp" PING)" "PONG"
got=$(python3 - "$mp" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
# 3,000 pipelined requests in one write: answers known at once (PING) between ones that wait on shards
s.sendall(b"".join(b"COMPLETE a LIMIT 1\r\n" if i % 3 == 0 else b"PING\r\n" for i in range(3000)))
f = s.makefile("rb"); ok = 0
for i in range(3000):
    if i % 3 == 0: ok += f.readline() == b"OK 1\r\n" and f.readline() == b"apple\t5\r\n"
    else: ok += f.readline() == b"OK PONG\r\n"
print(ok)
PY
)
check "3,000 pipelined requests answered in order" "$got" 3000
check "HTTP /v1/suggest (OpenSearch)" "$(curl -s "http://127.0.0.1:$mh2/v1/suggest?q=m")" '["m",["Maple","mango","melon"],[],[]]'
check "HTTP /healthz" "$(curl -s "http://127.0.0.1:$mh2/healthz")" '{"status":"ok","mode":"merger"}'
check "HTTP elsewhere: 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mh2/v1/frob")" 404
# /v1/accept: to the shard owning q; errors as one server's (shard 0's own HTTP port answers as one server)
check "HTTP POST /v1/accept" "$(curl -s -d 'q=Maple&user=u1&prefix=ma&rank=0' "http://127.0.0.1:$mh2/v1/accept")" \
    '{"query":"Maple","score":12}'
check "the ACCEPT reached the owning shard" "$(redis-cli -p "$s1" COMPLETE ma LIMIT 1 WITHSCORES | tr '\n' ' ')" "Maple 12 "
check "HTTP GET /v1/accept" "$(curl -s "http://127.0.0.1:$mh2/v1/accept?q=apple")" '{"query":"apple","score":6}'
for qs in "" "q=apple&rank=x" "q=%20%20" "q=$(printf 'x%.0s' $(seq 600))"; do
    check "HTTP /v1/accept?${qs:0:20} as one server" \
        "$(curl -s -w ' %{http_code}' "http://127.0.0.1:$mh2/v1/accept?$qs")" \
        "$(curl -s -w ' %{http_code}' "http://127.0.0.1:$sh0/v1/accept?$qs")"
done
# the merger's own counters
stats=$(curl -s "http://127.0.0.1:$mh2/v1/stats")
python3 -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(not (d["merger_shards"] == 2 and d["merger_requests"] > 3000 and d["shard0_failovers"] >= 1 and d["shard1_asks"] >= 3 and d["shard0_replicas_up"] == 1 and "merger_inflight" in d))' "$stats" &&
    ok "HTTP /v1/stats: the merger's counters" || bad "HTTP /v1/stats: $stats"
curl -s "http://127.0.0.1:$mh2/metrics" >"$tmp/metrics"
check "HTTP /metrics (Prometheus)" "$(grep -c '^# TYPE qac_merger_shard_asks_total counter$' "$tmp/metrics") $(grep -cE '^qac_merger_shard_asks_total\{shard="[01]"\} [1-9]' "$tmp/metrics") $(grep -c '^qac_merger_requests_total [1-9]' "$tmp/metrics")" "1 2 1"
check "STATS over text" "$(printf 'STATS\r\n' | timeout 5 python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); print(s.recv(65536).decode().split("\r\n")[0])' "$mp")" "OK $(redis-cli -p "$mp" STATS | grep -c :)"
qac_stop # the merger: a sanitizer build reports leaks at exit
for f in "$tmp"/merger*.log; do no_sanitizer_report "$f" && ok "no sanitizer report in $(basename "$f")" || bad "sanitizer: $f"; done
[ "$fails" -eq 0 ]
