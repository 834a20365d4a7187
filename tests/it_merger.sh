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
#      text), /v1/stats and /metrics (per shard asks, fail-overs, deadline misses); HTTP methods (405 with
#      Allow), OPTIONS and HEAD answered byte for byte as a shard's own HTTP port answers them;
#   5. shards with requirepass: without the merger's --upstream-pass-file a change says what is missing, with
#      a wrong one every request fails at once naming it (logged, never the password); the merger's own
#      requirepass over text, RESP and HTTP (401s, tokens, auth-max-failures) and cors-origin, compared
#      with a shard's answers to the same bytes; --requirepass hidden from ps; bad password files;
#   6. req-cache: a request reused after one that failed at the deadline (with a shard's answer merged in)
#      answers only its own; 2,000 COMPLETEs after warm-up (one at a time, then 16 pipelined at a time) take
#      no new request and no qmalloc (STATS merger_req_allocs, merger_alloc_calls); req-cache 0 allocates each.
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
# HTTP as one server: methods (405 with Allow), OPTIONS, HEAD -- the whole answer compared with shard 0's own
# HTTP port (same settings: no requirepass, no cors-origin)
raw() { # raw PORT METHOD PATH [CURL ARGS...]: the whole HTTP answer, status line to body
    local port=$1 m=$2 path=$3
    shift 3
    if [ "$m" = HEAD ]; then curl -s -i --head "$@" "http://127.0.0.1:$port$path"; else curl -s -i -X "$m" "$@" "http://127.0.0.1:$port$path"; fi | tr -d '\r'
}
for mp_ in "DELETE /v1/complete?q=a" "PUT /v1/accept?q=a" "POST /v1/stats" "OPTIONS /v1/complete" "OPTIONS /v1/accept" \
    "HEAD /v1/accept" "HEAD /v1/accept?q=apple&rank=x"; do
    check "HTTP $mp_ as one server" "$(raw "$mh2" $mp_)" "$(raw "$sh0" $mp_)"
done
check "HTTP HEAD /v1/complete: 200, the length, no body" \
    "$(raw "$mh2" HEAD '/v1/complete?q=a' | grep -cE '^(HTTP/1.1 200 OK|Content-Length: [1-9][0-9]*)$') $(curl -s --head "http://127.0.0.1:$mh2/v1/complete?q=a" | sed '1,/^\r$/d' | wc -c)" "2 0"
qac_stop # the merger: a sanitizer build reports leaks at exit

# --- 5. passwords: shards with requirepass, the merger's own, CORS -----------------------------------------
pw=sh4rd-pw
printf '%s\n' "$pw" >"$tmp/pw" && chmod 600 "$tmp/pw"
p0=$(free_port) p1=$(free_port) ph0=$(free_port)
QAC_REQUIREPASS=$pw qac_start "$p0" "$tmp/p0.log" -i "$tmp/idx.0" --http-port "$ph0" --cors-origin https://example.test || fail "shard 0 with requirepass"
QAC_REQUIREPASS=$pw qac_start "$p1" "$tmp/p1.log" -i "$tmp/idx.1" --http-port 0 || fail "shard 1 with requirepass"
spec="127.0.0.1:$p0;127.0.0.1:$p1"
# no password for the shards: COMPLETE (public on a shard) works, a change says what is missing
mp=$(free_port)
qac_start "$mp" "$tmp/merger3.log" --upstreams "$spec" --shard-map "$tmp/idx.shards" || fail "merger without the shards' password"
check "no shard password: COMPLETE still answers" "$(redis-cli -p "$mp" COMPLETE a)" "apple"
check "no shard password: a change says why" "$(redis-cli -p "$mp" ADD kiwi 1)" \
    "ERR IO shard 0 (127.0.0.1:$p0): the shard needs a password: give the merger --upstream-pass-file FILE or \$QAC_UPSTREAM_PASS"
qac_stop
# a wrong password ($QAC_UPSTREAM_PASS): an error per request, in time, and a log line
mp=$(free_port) mh3=$(free_port)
QAC_UPSTREAM_PASS=nope qac_start "$mp" "$tmp/merger4.log" --upstreams "$spec" --shard-map "$tmp/idx.shards" --http-port "$mh3" ||
    fail "merger with a wrong shard password"
t0=$(date +%s%N)
for i in 1 2; do
    check "wrong shard password: request $i fails, naming it" "$(redis-cli -p "$mp" ADD kiwi 1)" \
        "ERR IO shard 0 (127.0.0.1:$p0): the shard refused the merger's password (WRONGPASS invalid username-password pair or user is disabled.)"
done
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 900 ] && ok "wrong shard password: no hang ($ms ms for 2 requests)" || bad "wrong shard password: $ms ms"
check "wrong shard password: HTTP 502 upstream_auth" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mh3/v1/accept?q=kiwi")" 502
check "wrong shard password: logged (never the password)" \
    "$(grep -c "upstream.auth_failed host=127.0.0.1 port=$p0" "$tmp/merger4.log") $(grep -c nope "$tmp/merger4.log")" "1 0"
qac_stop
# the right password (--upstream-pass-file) and the merger's own (--requirepass-file, the same as the shards'
# so that its answers can be compared with a shard's byte for byte), CORS as one server's
mp=$(free_port) mh4=$(free_port)
qac_start "$mp" "$tmp/merger5.log" --upstreams "$spec" --shard-map "$tmp/idx.shards" --upstream-pass-file "$tmp/pw" \
    --requirepass-file "$tmp/pw" --http-port "$mh4" --cors-origin https://example.test || fail "merger with passwords"
talk() { # talk PORT TEXT: every reply to TEXT (sent at once) until the server closes or is quiet
    python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(sys.argv[2].encode().replace(b"\\r\\n", b"\r\n"))
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d: out += b"<closed>"; break
        out += d
except socket.timeout: pass
print(out.decode(errors="replace"))
PY
}
text="ADD kiwi 3\r\nSTATS\r\nINCR kiwi 1\r\nAUTH nope\r\nAUTH default $pw\r\nINCR kiwi 1\r\nDEL kiwi\r\n"
resp="*3\r\n\$3\r\nADD\r\n\$4\r\nkiwi\r\n\$1\r\n3\r\n*1\r\n\$4\r\nINFO\r\n*2\r\n\$4\r\nAUTH\r\n\$4\r\nnope\r\n*2\r\n\$4\r\nAUTH\r\n\$${#pw}\r\n$pw\r\n*3\r\n\$3\r\nADD\r\n\$4\r\nkiwi\r\n\$1\r\n3\r\n*2\r\n\$3\r\nDEL\r\n\$4\r\nkiwi\r\n"
got=$(talk "$mp" "$text") want=$(talk "$p0" "$text")
check "requirepass over text: NOAUTH, WRONGPASS, AUTH as one server" "$got" "$want"
[[ $got == *"NOAUTH Authentication required."*"WRONGPASS"*"OK"* ]] && ok "text: the answers are the refusals" || bad "text: $got"
got=$(talk "$mp" "$resp") want=$(talk "$p0" "$resp")
check "requirepass over RESP as one server" "$got" "$want"
[[ $got == *"-NOAUTH Authentication required."*"-WRONGPASS"*"+OK"*":1"* ]] && ok "RESP: the answers are the refusals" || bad "RESP: $got"
many=""
for i in $(seq 10); do many+="AUTH nope$i\r\n"; done
check "auth-max-failures: the 10th wrong AUTH closes, as one server" "$(talk "$mp" "${many}PING\r\n")" "$(talk "$p0" "${many}PING\r\n")"
seq_="AUTH $pw\r\nADD zebra 50\r\nCOMPLETE z LIMIT 1\r\nDEL zebra\r\nCOMPLETE z LIMIT 1\r\nADD zebra 7\r\nCOMPLETE z WITHSCORES\r\n"
check "pipelined reads after changes see them, as one server" "$(talk "$mp" "$seq_")" "$(talk "$p1" "$seq_")"
check "AUTH then a change through to the shard" "$(redis-cli -p "$mp" -a "$pw" --no-auth-warning ADD kiwi 5) $(redis-cli -p "$p0" COMPLETE ki)" "OK kiwi"
check "COMPLETE needs no AUTH" "$(redis-cli -p "$mp" COMPLETE k)" "kiwi"
# HTTP: 401 without / with a wrong token, 200 with the right one; CORS headers and preflight as one server
for args in "GET /v1/stats" "GET /metrics" "GET /v1/accept?q=kiwi" "POST /v1/accept?q=kiwi" "HEAD /v1/stats" \
    "GET /v1/stats -H Authorization:Bearer_nope" "GET /v1/stats -H X-Qac-Token:nope" "GET /v1/stats -H Authorization:Basic_eDp5" \
    "OPTIONS /v1/accept -H Origin:https://a.test" "OPTIONS /v1/complete" "DELETE /v1/stats" "GET /v1/complete" \
    "GET /v1/complete?q=a&k=0" "GET /v1/suggest?q=a&fuzzy=x" "GET /v1/complete?q=a&infix=2"; do
    set -- $args
    check "HTTP ${args//_/ } with requirepass and cors-origin as one server" \
        "$(raw "$mh4" "$1" "$2" ${3:+"$3"} ${4:+"${4//_/ }"})" "$(raw "$ph0" "$1" "$2" ${3:+"$3"} ${4:+"${4//_/ }"})"
done
check "HTTP /v1/accept with the token" \
    "$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $pw" "http://127.0.0.1:$mh4/v1/accept?q=kiwi")" '{"query":"kiwi","score":6} 200'
check "HTTP /v1/stats with X-Qac-Token" "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Qac-Token: $pw" "http://127.0.0.1:$mh4/v1/stats")" 200
check "HTTP /v1/complete: CORS header, no token needed" \
    "$(curl -s -i "http://127.0.0.1:$mh4/v1/complete?q=ki" | tr -d '\r' | grep -cE '^(HTTP/1.1 200 OK|Access-Control-Allow-Origin: https://example.test)$')" 2
check "STATS: the merger's auth counters" \
    "$(redis-cli -p "$mp" -a "$pw" --no-auth-warning STATS | tr -d '\r' | grep -E '^auth_(required|refused):' | tr '\n' ' ')" \
    "auth_required:1 auth_refused:10 "
qac_stop
# --requirepass on the command line: hidden from ps, warned about; a bad password file: exit 2
mp=$(free_port)
qac_start "$mp" "$tmp/merger6.log" --upstreams "$spec" --requirepass "s3cr3t-flag" || fail "merger --requirepass"
check "--requirepass hidden from ps, warned" "$(grep -c s3cr3t-flag "/proc/$qac_pid/cmdline") $(grep -c auth.requirepass_flag "$tmp/merger6.log")" "0 1"
check "--requirepass works" "$(redis-cli -p "$mp" AUTH s3cr3t-flag)" "OK"
qac_stop
printf 'has space\n' >"$tmp/badpw"
expect_exit "a password with a space" 2 "--upstream-pass-file: spaces and control characters are not allowed" \
    --upstreams "h:1" --upstream-pass-file "$tmp/badpw"
expect_exit "a missing password file" 2 "--requirepass-file: cannot read" --upstreams "h:1" --requirepass-file "$tmp/none"
# --- 6. requests reused (req-cache): a reused one starts clean; the steady state allocates nothing -------------
expect_exit "req-cache out of range" 2 "bad --req-cache '65537'" --upstreams "h:1" --req-cache 65537
# shard 0 (a-l) answers, shard 1 (m-) is silent; req-cache 1: every request on one connection reuses one object
mp=$(free_port)
qac_start "$mp" "$tmp/merger7.log" --upstreams "127.0.0.1:$s0;127.0.0.1:$silent" --shard-map "$tmp/idx.shards" \
    --deadline-ms 200 --req-cache 1 || fail "merger --req-cache 1"
reuse() { # reuse PORT N: the answers and counters of one connection (text protocol)
    python3 - "$@" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
def ask(cmd):
    s.sendall(cmd.encode() + b"\r\n")
    head = f.readline().decode().rstrip("\r\n")
    if not head.startswith("OK ") or not head[3:].isdigit(): return [head]
    return [f.readline().decode().rstrip("\r\n") for _ in range(int(head[3:]))]
def stats():
    return {k: int(v) for k, v in (l.split(" ", 1) for l in ask("STATS") if " " in l and l.split(" ", 1)[1].isdigit())}
# a request failed at the deadline after shard 0's answer was merged in: the next one (the same object) is clean
print("failed:", ask("COMPLETE \"\"")[0])
print("after it:", ask("COMPLETE b"))
for _ in range(300): ask("COMPLETE a")  # warm-up (STATS too: its answer is the largest)
stats()
a = stats()
for _ in range(int(sys.argv[2])): ask("COMPLETE a")
b = stats()
print("allocs:", b["merger_req_allocs"] - a["merger_req_allocs"], "reuses:", b["merger_req_reuses"] - a["merger_req_reuses"],
      "alloc_calls:", b["merger_alloc_calls"] - a["merger_alloc_calls"])
if len(sys.argv) < 4: sys.exit(0)
want = ask("COMPLETE a")
def burst(n):  # n rounds of 16 pipelined COMPLETEs: several answers (writes) in flight at once
    bad = 0
    for _ in range(n):
        s.sendall(b"COMPLETE a\r\n" * 16)
        for _ in range(16): bad += f.readline() != b"OK 1\r\n" or f.readline().decode().rstrip("\r\n") != want[0]
    return bad
bad = burst(50); stats(); a = stats(); bad += burst(200); b = stats()
print("pipelined: wrong", bad, "allocs:", b["merger_req_allocs"] - a["merger_req_allocs"],
      "alloc_calls:", b["merger_alloc_calls"] - a["merger_alloc_calls"])
PY
}
got=$(reuse "$mp" 2000)
check "req-cache: a request failed at the deadline" "$(sed -n 1p <<<"$got")" "failed: ERR IO shard 1 (127.0.0.1:$silent): no replica answered within 200 ms (deadline-ms)"
check "req-cache: the request reused after it starts clean (no stale replies)" "$(sed -n 2p <<<"$got")" "after it: ['banana\t3']"
check "req-cache: 2,000 COMPLETEs after warm-up reuse, allocate nothing" "$(sed -n 3p <<<"$got")" \
    "allocs: 0 reuses: 2001 alloc_calls: 0"
qac_stop
mp=$(free_port) # the default req-cache (256): pipelined requests (16 at a time) and their writes reuse too
qac_start "$mp" "$tmp/merger9.log" --upstreams "127.0.0.1:$s0;127.0.0.1:$silent" --shard-map "$tmp/idx.shards" \
    --deadline-ms 200 || fail "merger, default req-cache"
check "req-cache: 3,200 pipelined COMPLETEs after warm-up allocate nothing" "$(reuse "$mp" 100 pipelined | sed -n 4p)" \
    "pipelined: wrong 0 allocs: 0 alloc_calls: 0"
qac_stop
mp=$(free_port)
qac_start "$mp" "$tmp/merger8.log" --upstreams "127.0.0.1:$s0;127.0.0.1:$silent" --shard-map "$tmp/idx.shards" \
    --deadline-ms 200 --req-cache 0 || fail "merger --req-cache 0"
got=$(reuse "$mp" 500)
check "req-cache 0: the same answers" "$(sed -n 2p <<<"$got")" "after it: ['banana\t3']"
[[ $(sed -n 3p <<<"$got") == "allocs: 501 reuses: 0 alloc_calls: "[1-9]* ]] && ok "req-cache 0: every request allocated" ||
    bad "req-cache 0: $(sed -n 3p <<<"$got")"
qac_stop

for f in "$tmp"/merger*.log; do no_sanitizer_report "$f" && ok "no sanitizer report in $(basename "$f")" || bad "sanitizer: $f"; done
[ "$fails" -eq 0 ]
