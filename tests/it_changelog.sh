#!/usr/bin/env bash
# it_changelog.sh -- the change log on a Redis Stream (issue 18) in deploy/cluster.sh's cluster on
# loopback: 3 qac replicas with --changelog, Redis primary + replica, 3 Sentinels.
#   1. a change (ADD, INCR, DEL) on replica 1 is answered by replicas 2 and 3;
#   2. 1,000 ADDs on replica 1: every one on replicas 2 and 3; the lag (origin's apply -> another
#      replica's apply, STATS changelog_lag_p50_us / _p99_us) reported;
#   3. garbage entries XADDed to the stream (a dictionary entry whose key is not its suggestion's among
#      them): logged, counted (changelog_bad_entries), skipped; a named dictionary's entry is applied; the next
#      good entry is applied; every replica still answers;
#   4. kill -9 of replica 2 while replica 1 takes changes; restarted, it resumes from its journal's
#      position (log changelog.resume from=journal) and has every change;
#   5. kill -9 of the Redis primary while replicas 1 and 3 take ADDs: after Sentinel's failover every
#      ADD acknowledged (before, during or after the kill) is on every replica;
#   6. a 4th replica started from a snapshot taken after step 1 (index + index.chgpos) catches up with
#      the others (resume from=snapshot), deletions included;
#   7. Redis away: changes wait in the outbox (changelog-outbox-max: over it, counted and logged) and go
#      when it returns, in order; changelog-maxlen caps the stream; a replica whose position was trimmed
#      says so (changelog_trimmed_past, log); a key that is not a stream: errors logged, counted, serving;
#   8. the usage errors of --changelog.
# Exit 0 pass, 1 fail, 77 skip (no QAC_BIN, redis-server or nginx).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-server redis-cli python3
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "skip: nginx is not installed"; exit 77; }
make_tmp it_changelog

printf 'weather\t100\nweather radar\t80\nwells fargo\t90\nnew york\t70\n' >"$tmp/c.tsv"
"$QAC_BIN" build -o "$tmp/idx" --format counts --quiet "$tmp/c.tsv" || fail "qac build"
c=$tmp/cluster
at_exit "'$root/deploy/cluster.sh' stop --dir '$c' >/dev/null 2>&1"
"$root/deploy/cluster.sh" start --dir "$c" --replicas 3 --index "$tmp/idx" --qac "$QAC_BIN" >"$tmp/start.out" 2>&1 ||
    { cat "$tmp/start.out"; fail "cluster.sh start"; }
# shellcheck disable=SC1091
. "$c/cluster.env" || fail "cluster.env does not source"
read -ra qp <<<"$QAC_PORTS"
read -ra rp <<<"$REDIS_PORTS"
read -ra sp <<<"$SENTINEL_PORTS"
sent_list=$(printf '127.0.0.1:%s,' "${sp[@]}")
sent_list=${sent_list%,}

stat() { redis-cli -p "$1" STATS 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
for p in "${qp[@]}"; do
    for _ in $(seq 100); do [ "$(stat "$p" changelog_up)" = 1 ] && break; sleep 0.1; done
    check "replica :$p: change log up" "$(stat "$p" changelog_up)" 1
done

# a tiny RESP client: many commands pipelined, replies parsed
cat >"$tmp/resp.py" <<'PY'
import socket
class R:
    def __init__(s, port):
        s.s = socket.create_connection(("127.0.0.1", port), timeout=10); s.b = b""
    def _line(s):
        while b"\r\n" not in s.b:
            d = s.s.recv(65536)
            if not d: raise EOFError
            s.b += d
        l, s.b = s.b.split(b"\r\n", 1); return l
    def _reply(s):
        l = s._line(); t, v = l[:1], l[1:]
        if t in (b"+", b"-", b":"): return (t + v).decode()
        if t == b"$":
            n = int(v)
            if n < 0: return None
            while len(s.b) < n + 2:
                d = s.s.recv(65536)
                if not d: raise EOFError
                s.b += d
            x, s.b = s.b[:n], s.b[n + 2:]; return x.decode()
        if t == b"*": return [s._reply() for _ in range(int(v))]
        raise ValueError(l)
    def many(s, cmds):
        out = b""
        for c in cmds:
            out += b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in c)
        s.s.sendall(out)
        return [s._reply() for _ in cmds]
PY
# has PORT KEY... : prints how many of the keys GET finds on PORT
has() {
    local port=$1
    shift
    python3 - "$tmp" "$port" "$@" <<'PY'
import sys; sys.path.insert(0, sys.argv[1]); from resp import R
r = R(int(sys.argv[2])); keys = sys.argv[3:]
print(sum(1 for x in r.many([["GET", k] for k in keys]) if x is not None and not str(x).startswith("-")))
PY
}
# wait_has SECONDS PORT WANT KEY...: waits until PORT has WANT of the keys; prints the count
wait_has() {
    local end=$((SECONDS + $1)) port=$2 want=$3 n
    shift 3
    while :; do
        n=$(has "$port" "$@")
        [ "$n" = "$want" ] || [ "$SECONDS" -ge "$end" ] && break
        sleep 0.1
    done
    echo "$n"
}
score() { redis-cli -p "$1" GET "$2" | tr -d '\r'; }

# --- 1. a change on replica 1 is answered by replicas 2 and 3 ---------------------------------------------
redis-cli -p "${qp[0]}" ADD "Changelog Test" 77 >/dev/null
redis-cli -p "${qp[0]}" INCR weather >/dev/null
redis-cli -p "${qp[0]}" DEL "new york" >/dev/null
for p in "${qp[1]}" "${qp[2]}"; do
    check "replica :$p has the ADD" "$(wait_has 5 "$p" 1 "changelog test")" 1
    check "replica :$p has the INCR" "$(score "$p" weather)" 101
    check "replica :$p has the DEL" "$(has "$p" "new york")" 0
done
redis-cli -p "${qp[0]}" SAVE >/dev/null || bad "SAVE on replica 1"
mkdir -p "$tmp/old"
cp "$c/qac1/index.qac" "$c/qac1/index.qac.chgpos" "$tmp/old/" 2>/dev/null && ok "snapshot + position of replica 1 kept" ||
    bad "no index.qac.chgpos beside replica 1's snapshot"

# --- 2. 1,000 changes: every one everywhere; the lag -------------------------------------------------------
lagkeys=$(seq -f 'lag%04g' 0 999)
python3 - "$tmp" "${qp[0]}" <<'PY'
import sys; sys.path.insert(0, sys.argv[1]); from resp import R
r = R(int(sys.argv[2]))
for i in range(1000): r.many([["ADD", "lag%04d" % i, str(i + 1)]])  # one at a time
PY
# shellcheck disable=SC2086
for p in "${qp[1]}" "${qp[2]}"; do check "replica :$p has the 1,000 changes" "$(wait_has 15 "$p" 1000 $lagkeys)" 1000; done
ok "change lag over 1,000 changes (origin apply -> replica apply): replica 2 p50 $(stat "${qp[1]}" changelog_lag_p50_us) us p99 $(stat "${qp[1]}" changelog_lag_p99_us) us; replica 3 p50 $(stat "${qp[2]}" changelog_lag_p50_us) us p99 $(stat "${qp[2]}" changelog_lag_p99_us) us"

# --- 3. garbage in the stream ------------------------------------------------------------------------------
R1="redis-cli -p ${rp[0]}"
$R1 XADD qac:changes '*' op frob key x origin z t 1 >/dev/null
$R1 XADD qac:changes '*' nothing here >/dev/null
$R1 XADD qac:changes '*' op set key 'Not Normal' disp x score 1 origin z t 1 >/dev/null
$R1 XADD qac:changes '*' op set key x disp x score nan origin z t 1 >/dev/null
$R1 XADD qac:changes '*' op set key fruit disp fruit score 5 origin z t 1 dict fruits >/dev/null # not F(s) 0xFF s
$R1 XADD qac:changes '*' op set key $'fruit\xffFruit' disp Fruit score 5 origin z t 1 dict fruits >/dev/null
$R1 XADD qac:changes '*' op set key 'garbage ok' disp 'Garbage OK' score 3 origin z t 1 >/dev/null
for p in "${qp[@]}"; do
    check "replica :$p applies the good entry after the garbage" "$(wait_has 5 "$p" 1 "garbage ok")" 1
    check "replica :$p: bad entries counted" "$(stat "$p" changelog_bad_entries)" 5
    check "replica :$p: a named dictionary's entry applied" "$(redis-cli -p "$p" FT.SUGGET fruits fr)" Fruit
done
check "bad entries logged with id and reason" "$(grep -c 'event=changelog.bad_entry id=[0-9]*-[0-9]* reason=' "$c/qac2/log")" 5

# --- 4. kill -9 of replica 2 while replica 1 takes changes; restart; it catches up --------------------
pid2=$(cat "$c/qac2/pid")
mapfile -d '' cmd2 <"/proc/$pid2/cmdline"
python3 - "$tmp" "${qp[0]}" <<'PY' &
import sys, time; sys.path.insert(0, sys.argv[1]); from resp import R
r = R(int(sys.argv[2]))
for i in range(300): r.many([["ADD", "kill%04d" % i, "1"]]); time.sleep(0.005)
PY
load=$!
sleep 0.5
kill -9 "$pid2"
wait "$load"
sleep 0.5
setsid "${cmd2[@]}" >>"$c/qac2/log" 2>&1 </dev/null & # the pid cluster.sh stop ends (paths are absolute)
echo $! >"$c/qac2/pid"
wait_ping "${qp[1]}" "$(cat "$c/qac2/pid")" 10 || fail "replica 2 did not restart"
killkeys=$(seq -f 'kill%04g' 0 299)
# shellcheck disable=SC2086
check "replica 2 after kill -9 and restart has the 300 changes" "$(wait_has 15 "${qp[1]}" 300 $killkeys)" 300
check "replica 2 resumed from its journal's position" "$(grep -c 'event=changelog.resume .*from=journal' "$c/qac2/log")" 1
check "replica 2 still has the 1,000 earlier ones" "$(has "${qp[1]}" $lagkeys)" 1000

# --- 5. kill -9 of the Redis primary under load -----------------------------------------------------------
python3 - "$tmp" "${qp[0]}" "${qp[2]}" "$tmp/acked" <<'PY' &
import sys, time; sys.path.insert(0, sys.argv[1]); from resp import R
rs = [R(int(sys.argv[2])), R(int(sys.argv[3]))]
acked = []; end = time.time() + 7; i = 0
while time.time() < end:
    k = "fo%05d" % i
    try:
        if rs[i % 2].many([["ADD", k, str(i + 1)]])[0] == "+OK": acked.append(k)
    except Exception: pass
    i += 1; time.sleep(0.004)
open(sys.argv[4], "w").write("\n".join(acked) + "\n")
PY
load=$!
sleep 1.5
kill -9 "$(cat "$c/redis-primary/pid")"
wait "$load"
t_end=$SECONDS
mapfile -t acked <"$tmp/acked"
n=${#acked[@]}
[ "$n" -gt 500 ] && ok "$n ADDs acknowledged by replicas 1 and 3 while the Redis primary was killed" ||
    bad "only $n ADDs acknowledged under load"
for i in 0 1 2; do
    got=$(wait_has 30 "${qp[$i]}" "$n" "${acked[@]}")
    check "replica $((i + 1)) has every acknowledged ADD after the failover" "$got" "$n"
done
ok "failover: every replica had every change within $((SECONDS - t_end)) s after the load stopped (checks included)"
check "the Sentinels name the promoted replica" \
    "$(redis-cli -p "${sp[0]}" SENTINEL get-master-addr-by-name qac | tr -d '\r' | tail -n 1)" "${rp[1]}"

# --- 6. a replica started from the old snapshot catches up --------------------------------------------------
p4=$(free_port)
mkdir -p "$tmp/q4"
cp "$tmp/old/index.qac" "$tmp/old/index.qac.chgpos" "$tmp/q4/"
qac_start "$p4" "$tmp/q4/log" -i "$tmp/q4/index.qac" --http-port 0 --journal "$tmp/q4/journal" \
    --redis "sentinel://$sent_list/qac" --changelog qac:changes --changelog-id qac4 ||
    fail "replica 4 did not start"
check "replica 4 resumed from its snapshot's position" "$(grep -c 'event=changelog.resume .*from=snapshot' "$tmp/q4/log")" 1
# shellcheck disable=SC2086
check "replica 4 caught up: the 1,000 + 300 changes" "$(wait_has 20 "$p4" 1300 $lagkeys $killkeys)" 1300
check "replica 4 caught up: the ADDs of the failover" "$(has "$p4" "${acked[@]}")" "$n"
check "replica 4: the deletion made before its snapshot stays" "$(has "$p4" "new york")" 0
redis-cli -p "${qp[2]}" DEL "weather radar" >/dev/null
check "replica 4 follows a new deletion" "$(for _ in $(seq 50); do [ "$(has "$p4" "weather radar")" = 0 ] && break; sleep 0.1; done; has "$p4" "weather radar")" 0
same=1
for k in weather lag0500 kill0100 "${acked[0]}" "${acked[$((n - 1))]}"; do
    s1=$(score "${qp[0]}" "$k")
    for p in "${qp[1]}" "${qp[2]}" "$p4"; do [ "$(score "$p" "$k")" = "$s1" ] || same=0; done
done
check "the 4 replicas agree on the scores" "$same" 1
for p in "${qp[@]}" "$p4"; do
    check "replica :$p: no outbox overflow, no errors" "$(stat "$p" changelog_outbox_overflow) $(stat "$p" changelog_trimmed_past)" "0 0"
done
qac_stop || bad "replica 4 did not stop cleanly"

# --- 7. Redis away: the outbox and its limit; MAXLEN; trimmed past ------------------------------------------
rport=$(free_port) p5=$(free_port)
qac_start "$p5" "$tmp/q5.log" -i "$tmp/idx" --http-port 0 --redis "127.0.0.1:$rport" --changelog s5 \
    --changelog-id q5 --changelog-outbox-max 5 --changelog-maxlen 1000 || fail "qac without its Redis did not start"
for i in 1 2 3 4 5 6 7 8; do redis-cli -p "$p5" ADD "away$i" "$i" >/dev/null; done
check "Redis away: 5 changes wait in the outbox, 3 over changelog-outbox-max" \
    "$(stat "$p5" changelog_outbox) $(stat "$p5" changelog_outbox_overflow)" "5 3"
check "... logged" "$(grep -c 'event=changelog.outbox_full' "$tmp/q5.log")" 1
check "... all 8 applied here" "$(has "$p5" away1 away2 away3 away4 away5 away6 away7 away8)" 8
redis_start "$rport" || fail "private redis"
for _ in $(seq 100); do [ "$(stat "$p5" changelog_outbox)" = 0 ] && break; sleep 0.1; done
check "Redis back: the outbox is sent, in order" \
    "$(redis-cli -p "$rport" XRANGE s5 - + | grep -A1 '^key$' | grep away | tr '\n' ' ')" "away1 away2 away3 away4 away5 "
qac_stop || bad "qac on the private redis did not stop cleanly"
p6=$(free_port) p7=$(free_port)
qac_start "$p6" "$tmp/q6.log" -i "$tmp/idx" --http-port 0 --redis "127.0.0.1:$rport" --changelog s5 \
    --changelog-id q6 --changelog-maxlen 1000 || fail "replica 6 did not start"
python3 - "$tmp" "$p6" <<'PY'
import sys; sys.path.insert(0, sys.argv[1]); from resp import R
r = R(int(sys.argv[2]))
for b in range(25): r.many([["ADD", "mx%05d" % (b * 100 + i), "1"] for i in range(100)])
PY
for _ in $(seq 100); do [ "$(stat "$p6" changelog_outbox)" = 0 ] && break; sleep 0.1; done
check "2,500 pipelined changes: none over the default outbox" "$(stat "$p6" changelog_outbox_overflow)" 0
xlen=$(redis-cli -p "$rport" XLEN s5)
[ "$xlen" -ge 1000 ] && [ "$xlen" -lt 1200 ] && ok "changelog-maxlen 1000: 2,505 entries added, $xlen kept" ||
    bad "changelog-maxlen 1000: $xlen entries kept"
qac_stop || bad "replica 6 did not stop cleanly"
qac_start "$p7" "$tmp/q7.log" -i "$tmp/idx" --http-port 0 --redis "127.0.0.1:$rport" --changelog s5 \
    --changelog-id q7 || fail "a new replica on the trimmed stream did not start"
for _ in $(seq 100); do [ "$(stat "$p7" changelog_trimmed_past)" = 1 ] && break; sleep 0.1; done
check "a new replica on a trimmed stream says it misses entries" "$(stat "$p7" changelog_trimmed_past)" 1
check "... in the log, with what to do" "$(grep -c 'event=changelog.trimmed_past .*Restart it from a copy' "$tmp/q7.log")" 1
qac_stop || bad "replica 7 did not stop cleanly"

redis-cli -p "$rport" SET notastream x >/dev/null
qac_start "$p7" "$tmp/q8.log" -i "$tmp/idx" --http-port 0 --redis "127.0.0.1:$rport" --changelog notastream \
    --changelog-id q8 || fail "a replica on a key that is not a stream did not start"
redis-cli -p "$p7" ADD wrongtype 1 >/dev/null
for _ in $(seq 50); do [ "$(stat "$p7" changelog_errors)" -ge 2 ] 2>/dev/null && break; sleep 0.1; done
check "a key that is not a stream: errors counted, both ways" \
    "$(grep -c 'event=changelog.read_failed key=notastream error=.WRONGTYPE' "$tmp/q8.log") $(grep -c 'event=changelog.send_failed key=notastream error=.WRONGTYPE' "$tmp/q8.log")" "1 1"
check "... the change stays here, waiting" "$(has "$p7" wrongtype) $(stat "$p7" changelog_outbox)" "1 1"
qac_stop || bad "replica 8 did not stop cleanly"

# --- 8. usage ---------------------------------------------------------------------------------------------------
"$QAC_BIN" serve -i "$tmp/idx" --changelog s >/dev/null 2>"$tmp/u1"
check "--changelog without --redis: usage error" "$?" 2
check "... says why" "$(grep -c 'changelog needs --redis' "$tmp/u1")" 1
"$QAC_BIN" serve -i "$tmp/idx" --redis 127.0.0.1:1 --changelog s --changelog-id 'a b' >/dev/null 2>&1
check "--changelog-id with a space: usage error" "$?" 2
"$QAC_BIN" serve -i "$tmp/idx" --redis 127.0.0.1:1 --changelog s --changelog-outbox-max 0 >/dev/null 2>&1
check "--changelog-outbox-max 0: usage error" "$?" 2
"$root/deploy/cluster.sh" stop --dir "$c" >/dev/null || bad "cluster.sh stop"
for f in "$c"/qac*/log "$tmp"/q*.log "$tmp/q4/log"; do
    [ -f "$f" ] && { no_sanitizer_report "$f" || bad "sanitizer report in $f"; }
done
ok "no sanitizer report in any replica's log"
[ "$fails" -eq 0 ]
