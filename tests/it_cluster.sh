#!/usr/bin/env bash
# it_cluster.sh -- deploy/cluster.sh on loopback (issue 18): 2 qac replicas behind nginx, Redis primary +
# replica, 3 Sentinels.
#   1. start writes cluster.env with every port list; status says all up; every replica reaches Redis
#      through the Sentinels; nginx answers /v1/complete;
#   2. kill -9 of one replica while a client sends personalized (uncached) completions through nginx:
#      no request fails (nginx passes it to the other replica); p50/p99 reported; status says DOWN;
#   3. stop ends every process start began and removes cluster.env; bad options are usage errors.
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
[ "$fails" -eq 0 ]
