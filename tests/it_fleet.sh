#!/usr/bin/env bash
# it_fleet.sh -- fleet-shared online learning (issue 18): 3 qac replicas with --model and --changelog on
# one Redis (loopback; started here, not by deploy/cluster.sh, whose replicas have no model). A ranked
# answer is the same on every replica when none is degraded (a degraded one lacks the user's history):
# --redis-deadline-ms 500 keeps a loaded machine from missing the deadline.
#   1. N ACCEPTs with PREFIX spread over the 3 replicas (round robin): every replica ends with the same
#      weights (STATS rank_model_checksum) and the same ranked answers for the same USER/prefix; the
#      time from the last ACCEPT's reply until all three agree is reported, and the staleness of one
#      ACCEPT (its reply on one replica -> the other two hold its update) over 20 ACCEPTs, p50/max;
#   2. garbage model entries XADDed to the stream: logged, counted (changelog_model_bad), nothing
#      changes; an update of another model version is ignored and counted (changelog_model_foreign);
#   3. kill -9 of replica 2 while the others learn; restarted, it resumes its weights from its
#      checkpoint (log changelog.model from=checkpoint) plus the stream and agrees again;
#   4. a replica started from another model file (another version) ignores the fleet's updates;
#   5. the outbox on disk: a replica whose Redis is unreachable acknowledges ADDs and DELs (they pile
#      up in its outbox), is killed -9, restarted with Redis reachable: it sends them (log
#      changelog.outbox_recovered) and the other replicas hold every acknowledged change (a named
#      dictionary's included);
#   6. named dictionaries on the log: FT.SUGADD (PAYLOAD, INCR), FT.SUGDEL and DEL of a dictionary on
#      different replicas: every replica answers FT.SUGGET ... WITHSCORES WITHPAYLOADS alike.
# Env: IT_FLEET_REDIS_PORT (default: a free port), IT_FLEET_ACCEPTS (default 300).
# Exit 0 pass, 1 fail, 77 skip.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-server redis-cli python3
make_tmp it_fleet
qac=$QAC_BIN
nacc=${IT_FLEET_ACCEPTS:-300}

# --- a tiny log, index, embeddings, two models of different versions -------------------------------
python3 - "$tmp" <<'PY'
import sys, random
d = sys.argv[1]
rnd = random.Random(7)
topics = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
with open(d + "/log.tsv", "w") as f:
    f.write("AnonID\tQuery\tQueryTime\tItemRank\tClickURL\n")
    for day in range(1, 15):
        for u in range(1, 61):
            t = rnd.choice(topics)
            h, m = rnd.randrange(0, 23), rnd.randrange(0, 50)
            f.write("%d\t%s news\t2006-05-%02d %02d:%02d:00\t\t\n" % (u, t, day, h, m))
            f.write("%d\tweather %s\t2006-05-%02d %02d:%02d:00\t\t\n" % (u, t, day, h, m + 5))
PY
"$qac" build -o "$tmp/idx" --quiet "$tmp/log.tsv" || fail "build"
"$qac" embed -o "$tmp/emb" --buckets 4096 --epochs 1 "$tmp/log.tsv" 2>"$tmp/err" || { cat "$tmp/err"; fail "embed"; }
"$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" -o "$tmp/model" "$tmp/log.tsv" 2>"$tmp/err" ||
    { cat "$tmp/err"; fail "train"; }
"$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" --alpha 0.05 -o "$tmp/model2" "$tmp/log.tsv" 2>"$tmp/err" ||
    { cat "$tmp/err"; fail "train 2"; }

rport=${IT_FLEET_REDIS_PORT:-$(free_port)}
redis_start "$rport" || fail "redis-server did not start"
ports=() pids=()
start_replica() { # start_replica I [MODEL [REDIS_PORT]]: replica I on ports[I] (a port picked the first time)
    local i=$1 model=${2:-$tmp/model} rp=${3:-$rport}
    [ -n "${ports[$i]:-}" ] || ports[$i]=$(free_port)
    mkdir -p "$tmp/r$i"
    [ -f "$tmp/r$i/idx" ] || cp "$tmp/idx" "$tmp/r$i/idx"
    qac_start "${ports[$i]}" "$tmp/r$i/log" -i "$tmp/r$i/idx" --journal "$tmp/r$i/journal" --redis "127.0.0.1:$rp" \
        --namespace itf --changelog itf:changes --changelog-id "r$i" --model "$model" --candidates 20 --http-port 0 \
        --redis-deadline-ms 500 --idle-timeout 0 || { tail -5 "$tmp/r$i/log"; fail "replica $i did not start"; }
    pids[$i]=$qac_pid
}
for i in 1 2 3; do start_replica $i; done
stat() { redis-cli -p "$1" STATS 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
for i in 1 2 3; do
    for _ in $(seq 100); do [ "$(stat "${ports[$i]}" changelog_up)" = 1 ] && break; sleep 0.1; done
    check "replica $i: change log up, model version $(stat "${ports[$i]}" changelog_model_version)" \
        "$(stat "${ports[$i]}" changelog_up)" 1
done
v1=$(stat "${ports[1]}" changelog_model_version)
[ "$v1" != 0 ] && [ "$v1" = "$(stat "${ports[2]}" changelog_model_version)" ] || fail "model versions differ or 0"

cat >"$tmp/fleet.py" <<'PY'
import socket, sys, time, json, subprocess
class R:
    def __init__(s, port):
        s.s = socket.create_connection(("127.0.0.1", port), timeout=20); s.b = b""
    def _line(s):
        while b"\r\n" not in s.b:
            d = s.s.recv(65536)
            if not d: raise EOFError
            s.b += d
        l, s.b = s.b.split(b"\r\n", 1); return l
    def read(s):
        l = s._line(); t, r = l[:1], l[1:]
        if t in (b"+", b"-"): return (t + r).decode()
        if t == b":": return int(r)
        if t == b"$":
            n = int(r)
            if n < 0: return None
            while len(s.b) < n + 2:
                s.b += s.s.recv(65536)
            v, s.b = s.b[:n], s.b[n + 2:]; return v.decode()
        if t == b"*": return [s.read() for _ in range(int(r))]
        raise ValueError(l)
    def send(s, *cmds):
        out = b""
        for c in cmds:
            out += b"*%d\r\n" % len(c)
            for a in c:
                a = a.encode(); out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.s.sendall(out)
    def cmd(s, *a):
        s.send(a); return s.read()
    def stats(s):
        return dict(l.split(":", 1) for l in s.cmd("STATS").split("\r\n") if ":" in l)
def die(m): print("FAIL:", m); sys.exit(1)
def agree(cs, secs=30):
    """Waits until every replica holds the same weights; returns the seconds it took."""
    t0 = time.time()
    while time.time() < t0 + secs:
        st = [c.stats() for c in cs]
        if len({s["rank_model_checksum"] for s in st}) == 1 and len({s["rank_model_updates"] for s in st}) == 1:
            return time.time() - t0, st
        time.sleep(0.005)
    die("replicas did not agree within %d s: %s" % (secs, [(s["rank_model_checksum"], s["rank_model_updates"],
        s["changelog_model_applied"], s["rank_online_updates"]) for s in st]))
def answers(cs, users, prefixes):
    for u in users:
        for p in prefixes:
            a = [c.cmd("COMPLETE", p, "USER", u) for c in cs]
            if not a[0] or any(x != a[0] for x in a): die("USER %s prefix %r: replicas answer %r" % (u, p, a))
PY

# --- 1. N ACCEPTs over 3 replicas: same weights, same answers; the time to agree --------------------
python3 - "$tmp" "$nacc" "${ports[1]}" "${ports[2]}" "${ports[3]}" <<'PY' || fail "fleet learning (above)"
import sys, time
sys.path.insert(0, sys.argv[1]); from fleet import *
n = int(sys.argv[2]); cs = [R(int(p)) for p in sys.argv[3:6]]
st0 = [c.stats() for c in cs]
base = st0[0]["rank_model_checksum"]
topics = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
# n users take the same completion (the guard learns from an (actor, query)'s first ACCEPT only, once
# accept-learn-users distinct actors took it on that replica)
sent = 0
for i in range(n):
    c = cs[i % 3]
    r = c.cmd("ACCEPT", "weather hotel", "USER", "u%d" % i, "PREFIX", "wea", "RANK", "3")
    if isinstance(r, str) and r.startswith("-"): die("ACCEPT %d: %s" % (i, r))
    sent += 1
t_last = time.time()
secs, st = agree(cs)
learned = sum(int(s["rank_online_updates"]) - int(s0["rank_online_updates"]) for s, s0 in zip(st, st0))
applied = int(st[0]["changelog_model_applied"])
if learned < n * 8 // 10: die("only %d of %d ACCEPTs learned" % (learned, n))
# every replica applied every update, its own included: wait until they all are in
t1 = time.time()
while int(cs[0].stats()["changelog_model_applied"]) < learned and time.time() < t1 + 30: time.sleep(0.005)
secs2, st = agree(cs)
if int(st[0]["changelog_model_applied"]) != learned: die("applied %s, learned %d" % (st[0]["changelog_model_applied"], learned))
if st[0]["rank_model_checksum"] == base: die("the weights did not move")
total = time.time() - t_last
print("ok   %d ACCEPTs over 3 replicas, %d learned: identical weights (checksum %s) %.1f ms after the last reply"
      % (n, learned, st[0]["rank_model_checksum"], total * 1000))
print("     change lag (STATS, origin's apply -> this replica's, last 1024 entries): " +
      ", ".join("r%d p50 %s us p99 %s us" % (k + 1, s["changelog_lag_p50_us"], s["changelog_lag_p99_us"]) for k, s in enumerate(st)))
answers(cs, ["u%d" % u for u in range(0, 300, 30)] + ["nobody"], ["w", "wea", "weather", "weather h", "a"])
print("ok   identical ranked answers for 11 users x 5 prefixes on the 3 replicas")
# staleness of one ACCEPT: its reply on replica k -> the other two hold its update
lat = []
for i in range(20):
    o = cs[i % 3]
    before = int(o.stats()["changelog_model_applied"])
    r = o.cmd("ACCEPT", "weather hotel", "USER", "s%d" % i, "PREFIX", "weather", "RANK", "2")
    t0 = time.time()
    while time.time() < t0 + 10:
        if all(int(c.stats()["changelog_model_applied"]) > before for c in cs): break
        time.sleep(0.001)
    lat.append((time.time() - t0) * 1000)
    agree(cs)
lat.sort()
print("ok   staleness of one ACCEPT (reply -> all 3 replicas hold its update), 20 ACCEPTs: p50 %.1f ms, max %.1f ms"
      % (lat[len(lat) // 2], lat[-1]))
PY

# --- 2. garbage model entries; another version's update ----------------------------------------------
p1=${ports[1]}
declare -A mbad0 bad0
for i in 1 2 3; do
    mbad0[$i]=$(stat "${ports[$i]}" changelog_model_bad) bad0[$i]=$(stat "${ports[$i]}" changelog_bad_entries)
done
sum0=$(stat "$p1" rank_model_checksum)
ver=$(redis-cli -p "$rport" --raw XREVRANGE itf:changes + - COUNT 200 | grep -a -A1 "^mv$" | sed -n 2p)
[ ${#ver} = 16 ] || fail "no model entry with mv in the stream: [$ver]"
now=$(date +%s%6N)
redis-cli -p "$rport" XADD itf:changes '*' op model mv "$ver" upd garbage origin x t "$now" >/dev/null
redis-cli -p "$rport" XADD itf:changes '*' op model mv "$ver" origin x t "$now" >/dev/null          # no upd
redis-cli -p "$rport" XADD itf:changes '*' op model mv nothex upd x origin x t "$now" >/dev/null     # bad mv
printf '\001\001\001\000\377\377\377\377\000\000\000\000\000\000\360\077' >"$tmp/idx-past-table" # index 2^32-1
redis-cli -p "$rport" -x XADD itf:changes '*' op model mv "$ver" origin x t "$now" upd <"$tmp/idx-past-table" >/dev/null
fake=0123456789abcdef
[ "$ver" != "$fake" ] || fake=fedcba9876543210
redis-cli -p "$rport" -x XADD itf:changes '*' op model mv "$fake" origin x t "$now" upd <"$tmp/idx-past-table" >/dev/null
redis-cli -p "$rport" XADD itf:changes '*' op set key zzfleet disp zzfleet score 7 origin x t "$now" >/dev/null
for _ in $(seq 100); do [ "$(redis-cli -p "$p1" COMPLETE zzf)" = zzfleet ] && break; sleep 0.05; done
check "an ADD after the garbage is applied" "$(redis-cli -p "$p1" COMPLETE zzf)" zzfleet
for i in 1 2 3; do
    p=${ports[$i]}
    # two fail the record's checks (no upd, mv not hex), two the update's (not a delta, index past the table)
    check "replica $i: 4 bad entries counted" "$(( $(stat "$p" changelog_bad_entries) - ${bad0[$i]} ))" 4
    check "replica $i: 2 of them bad model updates" "$(( $(stat "$p" changelog_model_bad) - ${mbad0[$i]} ))" 2
    check "replica $i: weights unchanged by them" "$(stat "$p" rank_model_checksum)" "$sum0"
    [ "$(stat "$p" changelog_model_foreign)" -ge 1 ] || bad "replica $i: another version's update not counted"
done
grep -q 'event=changelog.bad_entry.*model update: index past' "$tmp/r1/log" || bad "bad model entry not logged"
grep -q 'event=changelog.model_other_version' "$tmp/r1/log" || bad "another version's update not logged"

# --- 3. kill -9 of replica 2 while the others learn; it resumes from its checkpoint + the stream -------
for _ in $(seq 150); do [ -f "$tmp/r2/idx.model" ] && break; sleep 0.1; done # checkpointed every 10 s
[ -f "$tmp/r2/idx.model" ] || fail "replica 2 wrote no model checkpoint (idx.model)"
kill -9 "${pids[2]}"
wait "${pids[2]}" 2>/dev/null
python3 - "$tmp" "${ports[1]}" "${ports[3]}" <<'PY' || fail "learning with replica 2 down"
import sys
sys.path.insert(0, sys.argv[1]); from fleet import *
cs = [R(int(p)) for p in sys.argv[2:4]]
for i in range(60):
    r = cs[i % 2].cmd("ACCEPT", "weather golf", "USER", "k%d" % i, "PREFIX", "weather g", "RANK", "2")
    if isinstance(r, str) and r.startswith("-"): die("ACCEPT: " + r)
agree(cs)
PY
start_replica 2
grep -q 'event=changelog.model .*from=checkpoint' "$tmp/r2/log" || bad "replica 2 did not resume from its checkpoint"
python3 - "$tmp" "${ports[1]}" "${ports[2]}" "${ports[3]}" <<'PY' || fail "replica 2 after its restart"
import sys
sys.path.insert(0, sys.argv[1]); from fleet import *
cs = [R(int(p)) for p in sys.argv[2:5]]
secs, st = agree(cs)
answers(cs, ["k1", "k2", "u3", "nobody"], ["w", "weather", "weather g"])
print("ok   replica 2 (kill -9, restarted): the others' weights in %.2f s, identical answers" % secs)
PY

# --- 4. a replica of another model version ignores the fleet's updates ------------------------------
start_replica 4 "$tmp/model2"
p4=${ports[4]}
for _ in $(seq 100); do [ "$(stat "$p4" changelog_up)" = 1 ] && break; sleep 0.1; done
v4=$(stat "$p4" changelog_model_version)
[ "$v4" != "$v1" ] || fail "model2 has the same version"
for _ in $(seq 100); do [ "$(stat "$p4" changelog_model_foreign)" -ge 100 ] && break; sleep 0.1; done
s4=$(stat "$p4" rank_model_checksum)
redis-cli -p "${ports[1]}" ACCEPT "weather hotel" USER v1 PREFIX weather RANK 3 >/dev/null
sleep 0.5
check "replica 4 (model2): its weights unchanged" "$(stat "$p4" rank_model_checksum)" "$s4"
check "replica 4: applied none of the fleet's updates" "$(stat "$p4" changelog_model_applied)" 0
[ "$(stat "$p4" changelog_model_foreign)" -ge 100 ] || bad "replica 4: other version's updates not counted"

# --- 5. acknowledged, never sent, killed -9: sent after the restart ------------------------------
dead=$(free_port) # nothing listens there
start_replica 5 "$tmp/model" "$dead"
p5=${ports[5]}
python3 - "$tmp" "$p5" <<'PY' || fail "changes on the replica without Redis"
import sys
sys.path.insert(0, sys.argv[1]); from fleet import *
c = R(int(sys.argv[2]))
c.send(*[("ADD", "outbox key %03d" % i, str(i + 1)) for i in range(200)])
for i in range(200):
    r = c.read()
    if r != "+OK": die("ADD %d: %r" % (i, r))
c.send(*[("DEL", "outbox key %03d" % i) for i in range(0, 200, 10)])
for i in range(20):
    r = c.read()
    if isinstance(r, str) and r.startswith("-"): die("DEL: %r" % r)
for a in [("FT.SUGADD", "offline", "apple pie", "3", "PAYLOAD", "p1"), ("FT.SUGADD", "offline", "apricot", "2")]:
    r = c.cmd(*a)
    if not isinstance(r, int): die("%r: %r" % (a, r))
st = c.stats()
if st["changelog_up"] != "0" or int(st["changelog_outbox"]) != 222: die("outbox %s, up %s" % (st["changelog_outbox"], st["changelog_up"]))
PY
sleep 0.3 # a confirmation round of the cron (nothing confirmed: nothing changes)
kill -9 "${pids[5]}"
wait "${pids[5]}" 2>/dev/null
start_replica 5 "$tmp/model"
grep -q 'event=changelog.outbox_recovered .*changes=222' "$tmp/r5/log" || bad "replica 5: no outbox_recovered changes=222 in its log"
python3 - "$tmp" "${ports[2]}" "${ports[3]}" "$p5" <<'PY' || bad "the changes replica 5 acknowledged without Redis"
import sys, time
sys.path.insert(0, sys.argv[1]); from fleet import *
for port in sys.argv[2:4]:
    c = R(int(port)); t0 = time.time()
    while True:
        c.send(*[("GET", "outbox key %03d" % i) for i in range(200)])
        got = [c.read() for i in range(200)]
        want = [("-" if i % 10 == 0 else str(i + 1)) for i in range(200)]
        got = [("-" if isinstance(g, str) and g.startswith("-") else str(g)) for g in got]
        if got == want: break
        if time.time() > t0 + 10:
            die("replica :%s: %d of 200 keys wrong" % (port, sum(g != w for g, w in zip(got, want))))
        time.sleep(0.1)
    while c.cmd("FT.SUGGET", "offline", "ap", "WITHSCORES", "WITHPAYLOADS") != R(int(sys.argv[4])).cmd("FT.SUGGET", "offline", "ap", "WITHSCORES", "WITHPAYLOADS"):
        if time.time() > t0 + 10: die("replica :%s: dictionary offline: %r" % (port, c.cmd("FT.SUGGET", "offline", "ap", "WITHSCORES", "WITHPAYLOADS")))
        time.sleep(0.1)
    print("ok   replica :%s holds the 180 ADDs, 20 DELs and 2 FT.SUGADDs replica 5 acknowledged without Redis" % port)
PY
check "replica 5: outbox empty" "$(stat "$p5" changelog_outbox)" 0
sleep 0.3
check "replica 5: outbox file emptied" "$(wc -c <"$tmp/r5/journal.outbox")" 0

# --- 6. named dictionaries on the log ------------------------------------------------------------------
python3 - "$tmp" "${ports[1]}" "${ports[2]}" "${ports[3]}" <<'PY' || bad "named dictionaries across replicas"
import sys, time
sys.path.insert(0, sys.argv[1]); from fleet import *
cs = [R(int(p)) for p in sys.argv[2:5]]
ops = [(0, "FT.SUGADD", "cities", "New York", "10", "PAYLOAD", "ny"), (1, "FT.SUGADD", "cities", "Newark", "4"),
       (2, "FT.SUGADD", "cities", "New York", "5", "INCR"), (0, "FT.SUGADD", "cities", "Nice", "1", "PAYLOAD", "n"),
       (1, "FT.SUGDEL", "cities", "Nice"), (2, "FT.SUGADD", "tmp", "gone", "1"), (0, "DEL", "tmp"),
       (1, "FT.SUGADD", "cities", "Newark", "7", "PAYLOAD", "nk")]
for k, *a in ops:
    r = cs[k].cmd(*a)
    if isinstance(r, str) and r.startswith("-"): die("%r: %r" % (a, r))
    time.sleep(0.05) # one origin's change and the next's in their order on every replica
# FT.SUGGET's scores are RediSearch's (normalized by length): compared across replicas, and with a
# dictionary holding New York 15 and Newark 7 alone
ref = R(int(sys.argv[2]))
for a in [("FT.SUGADD", "ref", "New York", "15", "PAYLOAD", "ny"), ("FT.SUGADD", "ref", "Newark", "7", "PAYLOAD", "nk")]:
    ref.cmd(*a)
want = ref.cmd("FT.SUGGET", "ref", "n", "WITHSCORES", "WITHPAYLOADS", "MAX", "10")
if [want[0], want[2], want[3], want[5]] != ["New York", "ny", "Newark", "nk"]: die("ref: %r" % want)
t0 = time.time()
for c in cs:
    while True:
        got = c.cmd("FT.SUGGET", "cities", "n", "WITHSCORES", "WITHPAYLOADS", "MAX", "10")
        if got == want and c.cmd("EXISTS", "tmp") == 0 and c.cmd("FT.SUGLEN", "cities") == 2: break
        if time.time() > t0 + 10: die("FT.SUGGET cities: %r, want %r; EXISTS tmp %r" % (got, want, c.cmd("EXISTS", "tmp")))
        time.sleep(0.05)
print("ok   named dictionaries: 8 FT.SUGADD/SUGDEL/DEL on 3 replicas, every replica answers alike")
PY

for i in 1 2 3 4 5; do kill -TERM "${pids[$i]}" 2>/dev/null; done
for i in 1 2 3 4 5; do wait "${pids[$i]}" 2>/dev/null; no_sanitizer_report "$tmp/r$i/log" || bad "sanitizer report r$i"; done
[ -f "$tmp/r1/idx.model.0" ] || [ -f "$tmp/r1/idx.model.1" ] || bad "no checkpoint table at exit"
[ "$fails" -eq 0 ]
