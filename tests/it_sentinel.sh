#!/usr/bin/env bash
# it_sentinel.sh -- qac follows a Redis failover that Sentinel makes (issue 18):
#   a Redis primary and a replica, 3 Sentinels (quorum 2, down-after 1 s), and
#   `qac serve --redis sentinel://S1,S2,S3/qacm`;
#   1. qac asks a Sentinel, connects to the primary, ranks with it (ACCEPTs with
#      USER land in the primary's history);
#   2. kill -9 of the primary while a client keeps sending ranked COMPLETEs:
#      none fails (answered degraded while Redis is away), qac follows the
#      promotion (STATS rank_redis_master_switches 1, rank_redis_up 1) within
#      the failover time, and new ACCEPTs land on the new primary; the time
#      from the kill to qac up again is reported;
#   3. a master name no Sentinel knows: qac serves (degraded), stays down, and
#      the log says why; a malformed sentinel:// address is a usage error.
# Exit 0 pass, 1 fail, 77 skip (no QAC_BIN, redis-server or redis-cli).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-server redis-cli python3
make_tmp it_sentinel

printf 'weather\t100\nweather radar\t80\nweather today\t60\nwells fargo\t90\n' >"$tmp/c.tsv"
"$QAC_BIN" build -o "$tmp/idx" --format counts --quiet "$tmp/c.tsv" || fail "qac build"

p1=$(free_port) p2=$(free_port)
redis_start "$p1" || fail "primary did not start"
primary_pid=$redis_pid
redis_start "$p2" --replicaof 127.0.0.1 "$p1" || fail "replica did not start"
for _ in $(seq 100); do
    redis-cli -p "$p2" INFO replication | grep -q 'master_link_status:up' && break
    sleep 0.1
done
sents=() sent_addrs=""
for i in 1 2 3; do
    sp=$(free_port)
    cat >"$tmp/sentinel$i.conf" <<EOF
port $sp
bind 127.0.0.1
daemonize no
dir $tmp
sentinel monitor qacm 127.0.0.1 $p1 2
sentinel down-after-milliseconds qacm 1000
sentinel failover-timeout qacm 5000
sentinel parallel-syncs qacm 1
EOF
    redis-server "$tmp/sentinel$i.conf" --sentinel >>"$tmp/sentinel$i.log" 2>&1 &
    track $!
    wait_ping "$sp" $! || fail "sentinel $i did not start"
    sents+=("$sp")
    sent_addrs+="${sent_addrs:+,}127.0.0.1:$sp"
done

stat() { # stat NAME: its value in STATS
    redis-cli -p "$port" STATS | tr -d '\r' | awk -F: -v k="$1" '$1 == k {print $2}'
}

# --- 1. through the primary the Sentinels name -------------------------------------------
port=$(free_port)
fail_log=$tmp/log
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port 0 --redis "sentinel://$sent_addrs/qacm" \
    --redis-deadline-ms 25 || fail "qac did not start"
for _ in $(seq 100); do [ "$(stat rank_redis_up)" = 1 ] && break; sleep 0.1; done
check "up through a Sentinel" "$(stat rank_redis_up)" 1
check "ranked COMPLETE" "$(redis-cli -p "$port" COMPLETE wea USER u1 SESSION s1 | head -1)" "weather"
check "ACCEPT" "$(redis-cli -p "$port" ACCEPT 'weather radar' USER u1 SESSION s1 PREFIX wea RANK 2)" "81"
keys1=$(redis-cli -p "$p1" --scan --pattern 'qac:*' | wc -l)
[ "$keys1" -ge 1 ] && ok "history written to the primary ($keys1 keys)" || bad "no history on the primary"

# --- 2. kill -9 of the primary under load ---------------------------------------------------
python3 - "$port" "$tmp/load.out" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
n = errs = 0
end = time.time() + 14
while time.time() < end:
    s.sendall(b"COMPLETE we USER u2 SESSION s2\r\n")
    head = f.readline()
    if not head.startswith(b"OK "): errs += 1; continue
    for _ in range(int(head.split()[1])): f.readline()
    n += 1
    time.sleep(0.005)
open(sys.argv[2], "w").write("%d %d\n" % (n, errs))
PY
load_pid=$!
sleep 1
t0=$(date +%s%N)
kill -9 "$primary_pid"
{ wait "$primary_pid"; } 2>/dev/null
up_ms=
for _ in $(seq 300); do
    if [ "$(stat rank_redis_master_switches)" = 1 ] && [ "$(stat rank_redis_up)" = 1 ]; then
        up_ms=$(( ($(date +%s%N) - t0) / 1000000 )); break
    fi
    sleep 0.05
done
[ -n "$up_ms" ] && ok "followed the failover: up on the new primary ${up_ms} ms after kill -9" ||
    bad "not up on a new primary 15 s after the kill (switches $(stat rank_redis_master_switches), up $(stat rank_redis_up))"
grep -q "event=redis.master_switched master=qacm from=127.0.0.1:$p1 to=127.0.0.1:$p2" "$tmp/log" &&
    ok "log: redis.master_switched names both" || bad "log: no redis.master_switched line"
wait "$load_pid"
read -r n errs <"$tmp/load.out"
[ "$errs" -eq 0 ] && [ "$n" -gt 100 ] && ok "ranked COMPLETEs during the failover: $n answered, none failed" ||
    bad "during the failover: $n answered, $errs failed"
check "ACCEPT after the failover" "$(redis-cli -p "$port" ACCEPT 'weather today' USER u3 PREFIX wea RANK 3)" "61"
for _ in $(seq 50); do redis-cli -p "$p2" --scan --pattern 'qac:*u3*' | grep -q . && break; sleep 0.1; done
redis-cli -p "$p2" --scan --pattern 'qac:*u3*' | grep -q . && ok "new history lands on the promoted replica" ||
    bad "no history of u3 on the promoted replica"
qac_stop

# --- 3. a name no Sentinel knows; a malformed address ---------------------------------------
port=$(free_port)
qac_start "$port" "$tmp/log3" -i "$tmp/idx" --http-port 0 --redis "sentinel://$sent_addrs/nosuch" ||
    fail "qac (unknown master) did not start"
sleep 1
check "unknown master: down" "$(stat rank_redis_up)" 0
check "unknown master: still answers" "$(redis-cli -p "$port" COMPLETE wea USER u1 | head -1)" "weather"
grep -q "event=redis.connect_failed .*does not know the master's name" "$tmp/log3" &&
    ok "log: the Sentinel does not know the name" || bad "log: no reason for the unknown master"
qac_stop
for bad_addr in "sentinel://127.0.0.1:1/" "sentinel:///m" "sentinel://a,b/m" \
    "sentinel://$(for i in $(seq 9); do printf '127.0.0.1:%d\n' "$i"; done | paste -sd,)/m"; do
    "$QAC_BIN" serve -i "$tmp/idx" --port 0 --http-port 0 --redis "$bad_addr" >"$tmp/o" 2>&1
    rc=$?
    [ "$rc" -eq 2 ] && grep -q "wants HOST:PORT or sentinel://" "$tmp/o" && ok "usage error: $bad_addr" ||
        bad "'$bad_addr': exit $rc, $(head -c 200 "$tmp/o")"
done
[ "$fails" -eq 0 ]
