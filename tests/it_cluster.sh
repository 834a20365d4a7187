#!/usr/bin/env bash
# it_cluster.sh -- deploy/cluster.sh on loopback (issue 18): 2 qac replicas behind nginx, Redis primary +
# replica, 3 Sentinels.
#   1. start writes cluster.env with every port list; status says all up; every replica reaches Redis
#      through the Sentinels; nginx answers /v1/complete;
#   2. kill -9 of one replica while a client sends personalized (uncached) completions through nginx:
#      no request fails (nginx passes it to the other replica); p50/p99 reported; status says DOWN;
#   3. stop ends every process start began and removes cluster.env; bad options are usage errors;
#   4. shards (--shards 2 --replicas 2, from `qac build --shards 2`): every 1-2 character prefix of a corpus
#      and 300 longer ones, FUZZY and INFIX too, answered through the merger and through nginx (its map
#      sends most straight to a shard) with the same top 10 as one server holding the whole corpus; a
#      change through the merger reaches its shard's replicas only; kill -9 of one replica of a shard
#      while clients ask through the merger and nginx: no failed request (p50/p99 reported).
# Exit 0 pass, 1 fail, 77 skip (no QAC_BIN, redis-server or nginx).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-server redis-cli python3 curl
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "skip: nginx is not installed"; exit 77; }
make_tmp it_cluster

printf 'weather\t100\nweather radar\t80\nwells fargo\t90\nnew york\t70\n' >"$tmp/c.tsv"
"$QAC_BIN" build -o "$tmp/idx" --format counts --quiet "$tmp/c.tsv" || fail "qac build"
c=$tmp/cluster
at_exit "'$root/deploy/cluster.sh' stop --dir '$c' >/dev/null 2>&1"
"$root/deploy/cluster.sh" start --dir "$c" --replicas 2 --index "$tmp/idx" --qac "$QAC_BIN" >"$tmp/start.out" 2>&1 ||
    { cat "$tmp/start.out"; fail "cluster.sh start"; }
# shellcheck disable=SC1091
. "$c/cluster.env" || fail "cluster.env does not source"
read -ra qp <<<"$QAC_PORTS"
read -ra rp <<<"$REDIS_PORTS"
read -ra sp <<<"$SENTINEL_PORTS"
check "cluster.env lists" "${#qp[@]} $(wc -w <<<"$QAC_HTTP_PORTS") ${#rp[@]} ${#sp[@]} ${NGINX_PORT:+1}" "2 2 2 3 1"
"$root/deploy/cluster.sh" status --dir "$c" >"$tmp/status" && ok "status: all up ($(wc -l <"$tmp/status") parts)" ||
    { bad "status"; cat "$tmp/status"; }
check "Redis replica linked" "$(redis-cli -p "${rp[1]}" INFO replication | tr -d '\r' | grep -c 'master_link_status:up')" 1
for p in "${qp[@]}"; do
    for _ in $(seq 100); do redis-cli -p "$p" STATS | tr -d '\r' | grep -q '^rank_redis_up:1' && break; sleep 0.1; done
    check "replica :$p reaches Redis through the Sentinels" "$(redis-cli -p "$p" STATS | tr -d '\r' | grep -c '^rank_redis_up:1')" 1
done
check "nginx answers" "$(curl -s "http://127.0.0.1:$NGINX_PORT/v1/suggest?q=wea")" '["wea",["weather","weather radar"],[],[]]'

# --- 2. kill -9 of a replica under load through nginx ----------------------------------------------
python3 - "$NGINX_PORT" "$tmp/load.out" <<'PY' &
import http.client, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
lat, fails = [], []
end = time.time() + 6
i = 0
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
while time.time() < end:
    i += 1
    t = time.perf_counter()
    try:
        conn.request("GET", "/v1/complete?q=we&user=u%d&session=s%d" % (i % 50, i % 50))
        r = conn.getresponse(); body = r.read()
        if r.status != 200 or b"weather" not in body: fails.append(r.status)
    except Exception as e:
        fails.append(repr(e)); conn.close(); conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    lat.append((time.perf_counter() - t) * 1000)
    time.sleep(0.025)  # under nginx's per-client rate (50/s)
lat.sort()
open(out, "w").write("%d %d %.2f %.2f %s\n" % (len(lat), len(fails), lat[len(lat) // 2], lat[int(len(lat) * 0.99)], fails[:3]))
PY
load=$!
sleep 2
kill -9 "$(cat "$c/qac1/pid")"
wait "$load"
read -r n nf p50 p99 rest <"$tmp/load.out"
[ "$nf" -eq 0 ] && [ "$n" -gt 150 ] && ok "kill -9 of a replica under load: $n requests through nginx, none failed (p50 $p50 ms, p99 $p99 ms)" ||
    bad "kill -9 of a replica: $n requests, $nf failed: $rest"
"$root/deploy/cluster.sh" status --dir "$c" >"$tmp/status2"
check "status exit after the kill" "$?" 1
check "status names the dead replica" "$(grep -c '^DOWN  qac1$' "$tmp/status2")" 1

# --- 3. stop; usage -------------------------------------------------------------------------------------
pids=$(for f in "$c"/*/pid "$c/nginx/nginx.pid"; do [ -f "$f" ] && cat "$f"; done)
"$root/deploy/cluster.sh" stop --dir "$c" >/dev/null || bad "cluster.sh stop"
left=0
for p in $pids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
check "stop: processes left" "$left" 0
[ ! -f "$c/cluster.env" ] && ok "stop removed cluster.env" || bad "cluster.env still there"
for args in "start --dir $c --replicas 0" "start --dir $c --replicas x" "start" "frob --dir $c"; do
    # shellcheck disable=SC2086
    "$root/deploy/cluster.sh" $args >/dev/null 2>&1
    check "usage: $args" "$?" 2
done

# --- 4. shards: 2 shards x 2 replicas, the merger and nginx answer as one server ------------------------
# A corpus with ASCII, accented, Cyrillic and CJK first characters and many score ties; one index and the
# same split in 2 shards. Every 1-2 character prefix of its keys (and of their displays, upper case
# included), 300 random longer ones, and FUZZY 1 and INFIX (with FUZZY 1) variants are asked of one server
# holding every key and of the cluster: through the merger (RESP) and through nginx (HTTP /v1/complete,
# which sends most of them straight to a shard by its map): the same top 10, scores included.
python3 - "$tmp/shards.tsv" <<'PY'
import random, sys
random.seed(18)
syl = ["ne", "w", "yo", "rk", "ba", "na", "zeb", "ra", "qu", "ix", "té", "lé", "éc", "ole", "жу", "к", "東", "京", "1", "9", "x"]
words = ["".join(random.choice(syl) for _ in range(random.randint(1, 3))) for _ in range(300)]
seen, out = set(), []
while len(out) < 3000:
    q = " ".join(random.choice(words) for _ in range(random.randint(1, 3)))
    if random.random() < 0.2: q = q.title()
    if q.lower() in seen: continue
    seen.add(q.lower())
    out.append("%s\t%d\n" % (q, random.randint(1, 40)))
open(sys.argv[1], "w").write("".join(out))
PY
"$QAC_BIN" build -o "$tmp/whole" --format counts --quiet "$tmp/shards.tsv" || fail "qac build (whole)"
"$QAC_BIN" build -o "$tmp/sh" --format counts --quiet --shards 2 "$tmp/shards.tsv" || fail "qac build --shards 2"
check "shard map written" "$(grep -c '^shard ' "$tmp/sh.shards") $(grep -c '^range ' "$tmp/sh.shards")" "2 2"
rport=$(free_port) rhttp=$(free_port)
qac_start "$rport" "$tmp/ref.log" -i "$tmp/whole" --http-port "$rhttp" || fail "reference server"
sc=$tmp/shardcluster
at_exit "'$root/deploy/cluster.sh' stop --dir '$sc' >/dev/null 2>&1"
"$root/deploy/cluster.sh" start --dir "$sc" --shards 2 --replicas 2 --index "$tmp/sh" --qac "$QAC_BIN" \
    --nginx-rate 100000 >"$tmp/sstart.out" 2>&1 || { cat "$tmp/sstart.out"; fail "cluster.sh start --shards 2"; }
# shellcheck disable=SC1091
. "$sc/cluster.env" || fail "cluster.env (shards) does not source"
check "cluster.env lists the shards" "$SHARDS $(wc -w <<<"$SHARD0_PORTS") $(wc -w <<<"$SHARD1_HTTP_PORTS") ${MERGER_PORT:+1} ${MERGER_HTTP_PORT:+1} $(wc -w <<<"$QAC_PORTS")" "2 2 2 1 1 4"
"$root/deploy/cluster.sh" status --dir "$sc" >"$tmp/sstatus" && ok "status (shards): all up ($(wc -l <"$tmp/sstatus") parts)" ||
    { bad "status (shards)"; cat "$tmp/sstatus"; }
timeout 300 python3 - "$rport" "$rhttp" "$MERGER_PORT" "$NGINX_PORT" "$tmp/shards.tsv" "$tmp/diff.out" "$MERGER_HTTP_PORT" <<'PY'
import http.client, json, random, socket, sys, urllib.parse
rport, rhttp, mport, nport = map(int, sys.argv[1:5])
mhttp = int(sys.argv[7])
random.seed(7)
queries = [l.split("\t")[0] for l in open(sys.argv[5], encoding="utf-8")]

class Resp:
    def __init__(s, port):
        s.sock = socket.create_connection(("127.0.0.1", port), timeout=10); s.f = s.sock.makefile("rb")
    def cmd(s, *args):
        b = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            b += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sock.sendall(b)
        return s.read()
    def read(s):
        line = s.f.readline().rstrip(b"\r\n")
        t, rest = line[:1], line[1:]
        if t == b"*": return [s.read() for _ in range(int(rest))]
        if t == b"$":
            n = int(rest)
            if n < 0: return None
            d = s.f.read(n + 2)[:-2]; return d.decode()
        if t == b":": return int(rest)
        if t == b"-": return "ERROR " + rest.decode()
        return rest.decode()

def http_get(conn, q, extra):
    conn.request("GET", "/v1/complete?q=" + urllib.parse.quote(q) + extra)
    r = conn.getresponse(); body = r.read()
    if r.status != 200: return "HTTP %d %s" % (r.status, body[:200])
    return [(s["text"], s["score"], s.get("edits"), s.get("match"), s.get("words")) for s in json.loads(body)["suggestions"]]

prefixes = set()
for q in queries:
    for form in (q, q.lower(), q.upper()):
        prefixes.add(form[:1]); prefixes.add(form[:2])
longer = [q[:random.randint(3, max(3, len(q)))] for q in random.sample(queries, 300)]
cases = [(p, ()) for p in sorted(prefixes)] + [(p, ()) for p in longer]
cases += [(p, ("FUZZY", "1")) for p in random.sample(longer, 100)]
cases += [(p, ("INFIX",)) for p in random.sample(sorted(prefixes), 60) + random.sample(longer, 60)]
cases += [(p, ("INFIX", "FUZZY", "1")) for p in random.sample(longer, 40)]
ref, mer = Resp(rport), Resp(mport)
rh = http.client.HTTPConnection("127.0.0.1", rhttp, timeout=10)
nh = http.client.HTTPConnection("127.0.0.1", nport, timeout=10)
mh = http.client.HTTPConnection("127.0.0.1", mhttp, timeout=10)
bad_m = bad_n = bad_h = 0
notes = []
for p, opts in cases:
    want = ref.cmd("COMPLETE", p, "LIMIT", "10", "WITHSCORES", "WITHEDITS", "WITHMATCH", *opts)
    got = mer.cmd("COMPLETE", p, "LIMIT", "10", "WITHSCORES", "WITHEDITS", "WITHMATCH", *opts)
    if got != want:
        bad_m += 1
        if len(notes) < 5: notes.append("merger %r %s: %r != %r" % (p, opts, got[:6], want[:6]))
    extra = "&k=10" + ("&fuzzy=1" if "FUZZY" in opts else "") + ("&infix=1" if "INFIX" in opts else "")
    hw, hg = http_get(rh, p, extra), http_get(nh, p, extra)
    if hw != hg:
        bad_n += 1
        if len(notes) < 5: notes.append("nginx %r %s: %r != %r" % (p, extra, hg[:3], hw[:3]))
    hm = http_get(mh, p, extra)  # the merger's own HTTP: match and words as one server's
    if hw != hm:
        bad_h += 1
        if len(notes) < 5: notes.append("merger http %r %s: %r != %r" % (p, extra, hm[:3], hw[:3]))
open(sys.argv[6], "w").write("%d %d %d %d %d\n%s\n" % (len(cases), len(prefixes), bad_m, bad_n, bad_h, "\n".join(notes)))
PY
read -r ncases npfx badm badn badh <"$tmp/diff.out"
[ "${badm:-1}" -eq 0 ] && ok "merger: $ncases requests ($npfx 1-2 character prefixes, 300 longer, FUZZY, INFIX) answer as one server" ||
    { bad "merger differs from one server on $badm of $ncases"; tail -n +2 "$tmp/diff.out"; }
[ "${badn:-1}" -eq 0 ] && ok "nginx (map to shards, else the merger): the same $ncases answer as one server (match, words included)" ||
    { bad "nginx differs from one server on $badn of $ncases"; tail -n +2 "$tmp/diff.out"; }
[ "${badh:-1}" -eq 0 ] && ok "the merger's HTTP /v1/complete: the same $ncases answers, match and words included" ||
    { bad "the merger's HTTP differs from one server on $badh of $ncases"; tail -n +2 "$tmp/diff.out"; }
routed=$(sleep 1.5; grep -c "ua=127.0.0.1:\($(tr ' ' '|' <<<"$QAC_HTTP_PORTS" | sed 's/|/\\|/g')\) " "$sc/nginx/logs/access.log")
merged=$(grep -c "ua=127.0.0.1:$MERGER_HTTP_PORT " "$sc/nginx/logs/access.log")
[ "$routed" -gt 0 ] && [ "$merged" -gt 0 ] && ok "nginx sent $routed straight to a shard, $merged to the merger" ||
    bad "nginx routing: $routed to shards, $merged to the merger"

# a change through the merger reaches its shard's replicas only
redis-cli -p "$MERGER_PORT" ADD "zebra zulu" 999 >/dev/null
read -ra s0 <<<"$SHARD0_PORTS"
read -ra s1 <<<"$SHARD1_PORTS"
zs=$(python3 -c "import sys; m=[l.split() for l in open(sys.argv[1]) if l.startswith('range ')]; print(next(s for _,lo,hi,s in m if int(lo,16) <= ord('z') <= int(hi,16)))" "$tmp/sh.shards")
if [ "$zs" = 0 ]; then own=("${s0[@]}") other=("${s1[@]}"); else own=("${s1[@]}") other=("${s0[@]}"); fi
for _ in $(seq 50); do [ "$(redis-cli -p "${own[1]}" COMPLETE "zebra z" LIMIT 1)" = "zebra zulu" ] && break; sleep 0.1; done
check "ADD through the merger: on both replicas of shard $zs, not on the other shard" \
    "$(redis-cli -p "${own[0]}" COMPLETE "zebra z" LIMIT 1) $(redis-cli -p "${own[1]}" COMPLETE "zebra z" LIMIT 1) $(redis-cli -p "${other[0]}" COMPLETE "zebra z" LIMIT 1 | wc -w)" \
    "zebra zulu zebra zulu 0"
check "merger: unknown command" "$(redis-cli -p "$MERGER_PORT" FROB 2>&1)" "ERR UNKNOWN the merger serves COMPLETE, ADD, INCR, DEL, ACCEPT, STATS, AUTH and PING, not 'FROB'"

# kill -9 of one replica of shard 0 while clients ask through the merger (RESP) and through nginx
python3 - "$MERGER_PORT" "$NGINX_PORT" "$tmp/skill.out" <<'PY' &
import http.client, socket, sys, threading, time
mport, nport, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
res = {}
def resp_client():
    lat, fails = [], []
    s = socket.create_connection(("127.0.0.1", mport), timeout=5); f = s.makefile("rb")
    end = time.time() + 6; i = 0
    while time.time() < end:
        i += 1
        p = "abcdefghijklmnopqrstuvwxyz"[i % 26]
        args = [b"COMPLETE", p.encode(), b"INFIX"] if i % 3 == 0 else [b"COMPLETE", p.encode()]
        t = time.perf_counter()
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        line = f.readline()
        if line.startswith(b"*"):
            for _ in range(int(line[1:])): f.readline(); f.readline()
        else: fails.append(line)
        lat.append((time.perf_counter() - t) * 1000); time.sleep(0.005)
    res["resp"] = (lat, fails)
def http_client():
    lat, fails = [], []
    c = http.client.HTTPConnection("127.0.0.1", nport, timeout=5)
    end = time.time() + 6; i = 0
    while time.time() < end:
        i += 1
        q = "abcdefghijklmnopqrstuvwxyz"[i % 26] + ("&infix=1" if i % 3 == 0 else "") + "&user=u%d" % i
        t = time.perf_counter()
        try:
            c.request("GET", "/v1/complete?q=" + q); r = c.getresponse(); r.read()
            if r.status != 200: fails.append(r.status)
        except Exception as e:
            fails.append(repr(e)); c.close(); c = http.client.HTTPConnection("127.0.0.1", nport, timeout=5)
        lat.append((time.perf_counter() - t) * 1000); time.sleep(0.005)
    res["http"] = (lat, fails)
ts = [threading.Thread(target=resp_client), threading.Thread(target=http_client)]
for t in ts: t.start()
for t in ts: t.join()
with open(out, "w") as o:
    for k in ("resp", "http"):
        lat, fails = res[k]; lat.sort()
        o.write("%s %d %d %.2f %.2f %s\n" % (k, len(lat), len(fails), lat[len(lat) // 2], lat[int(len(lat) * 0.99)], fails[:3]))
PY
load=$!
sleep 2
kill -9 "$(cat "$sc/s0qac1/pid")"
wait "$load"
while read -r kind n nf p50 p99 rest; do
    [ "$nf" -eq 0 ] && [ "$n" -gt 100 ] &&
        ok "kill -9 of a shard replica under load, $kind: $n requests, none failed (p50 $p50 ms, p99 $p99 ms)" ||
        bad "kill -9 of a shard replica, $kind: $n requests, $nf failed: $rest"
done <"$tmp/skill.out"
"$root/deploy/cluster.sh" stop --dir "$sc" >/dev/null || bad "cluster.sh stop (shards)"
for args in "start --dir $sc --shards 0" "start --dir $sc --shards x"; do
    # shellcheck disable=SC2086
    "$root/deploy/cluster.sh" $args >/dev/null 2>&1
    check "usage: $args" "$?" 2
done
"$root/deploy/cluster.sh" start --dir "$sc" --shards 3 --index "$tmp/sh" --qac "$QAC_BIN" >"$tmp/s3.out" 2>&1
check "--shards 3 with a 2-shard index refused" "$? $(grep -c 'not a map of 3 shards' "$tmp/s3.out")" "1 1"
[ "$fails" -eq 0 ]
