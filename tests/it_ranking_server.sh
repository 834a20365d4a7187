#!/usr/bin/env bash
# it_ranking_server.sh -- the learned ranker inside `qac serve`, against a
# private redis-server (started here with --enable-debug-command so that
# DEBUG SLEEP works, and stopped / restarted at will).
#  1. usage: bad --redis / --namespace / --model-save alone exit 2; a missing
#     model exits 1; without --redis the log says so and USER still ranks.
#  2. tiny model + embeddings (qac embed / train on a log written here),
#     `qac load` into Redis, server with --redis --model --model-save.
#  3. healthy Redis: ranked answers, not degraded; HTTP and /metrics too.
#  4. version switch: `qac load` again while a client streams COMPLETEs:
#     every answer arrives, the server moves to the new version.
#  5. slow Redis (DEBUG SLEEP): pipelined ranked and plain requests all get
#     their replies, in order; degraded and deadline misses are counted.
#  6. connections closed while their request waits on the sleeping Redis:
#     the server survives (the SAN build catches any use after free).
#  7. Redis killed mid-stream: answers keep coming, degraded; restarted
#     (same data): reconnects and answers are full again.
#  8. online learning: ACCEPTs with PREFIX and RANK move the candidate up
#     for another user (its popularity is reset, so only the model moved it).
#  9. SAVE writes the model; RELOAD reads it back; SIGTERM saves it.
# Exit 0 pass, 1 fail, 77 skip. Assertions are on counters and order, never
# on timings.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-server redis-cli python3
qac=$QAC_BIN
make_tmp it_rserver
fail_log=$tmp/log
# the Redis that part 7 restarts from Python
# shellcheck disable=SC2016 # expanded at exit
at_exit '[ -f "$tmp/redis2.pid" ] && kill -9 "$(cat "$tmp/redis2.pid")" 2>/dev/null'

# --- 1. usage ------------------------------------------------------------------
printf 'weather alpha\t10\n' >"$tmp/c.tsv"
"$qac" build -o "$tmp/small" --format counts --quiet "$tmp/c.tsv" || fail "build small"
for bad in "--redis nohostport" "--namespace a:b" "--model-save $tmp/x" "--candidates 0" "--redis-deadline-ms 0" \
    "--cache-bytes 10"; do
    # shellcheck disable=SC2086
    "$qac" serve -i "$tmp/small" $bad 2>"$tmp/err"
    [ $? = 2 ] || fail "serve $bad should exit 2"
    grep -q "see 'qac serve --help'" "$tmp/err" || fail "serve $bad message: $(cat "$tmp/err")"
done
"$qac" serve -i "$tmp/small" --port 0 --http-port 0 --model "$tmp/nope" 2>"$tmp/err"
[ $? = 1 ] || fail "a missing model should exit 1"
port=$(free_port)
qac_start "$port" "$tmp/log" -i "$tmp/small" --http-port 0 || fail "server without Redis did not start"
grep -q "running without Redis" "$tmp/log" || fail "no 'running without Redis' at start"
[ "$(redis-cli -p "$port" COMPLETE weather USER u1)" = "weather alpha" ] || fail "USER without Redis"
qac_stop

# --- 2. model, embeddings, Redis, server ----------------------------------------
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
with open(d + "/bg.txt", "w") as f:
    for i in range(900): f.write("weather forecast\n")
PY
"$qac" build -o "$tmp/idx" "$tmp/log.tsv" "$tmp/bg.txt" >/dev/null 2>&1 || fail "build"
"$qac" embed -o "$tmp/emb" --buckets 16384 --epochs 2 "$tmp/log.tsv" 2>"$tmp/err" || { cat "$tmp/err"; fail "embed"; }
"$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" -o "$tmp/model" "$tmp/log.tsv" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "train"; }
rport=$(free_port)
redis_start "$rport" --dbfilename dump.rdb --enable-debug-command yes || fail "redis-server did not start"
disown "$redis_pid" # killed with SIGKILL later on purpose: no job message
"$qac" load --redis "127.0.0.1:$rport" --namespace itrs "$tmp/emb" 2>"$tmp/err" || { cat "$tmp/err"; fail "qac load"; }
v1=$(redis-cli -p "$rport" GET itrs:current)
port=$(free_port) hport=$(free_port)
: >"$tmp/log"
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port "$hport" --redis "127.0.0.1:$rport" --namespace itrs \
    --model "$tmp/model" --model-save "$tmp/model.saved" --redis-deadline-ms 25 --candidates 20 \
    --idle-timeout 0 || fail "server did not start"

# The rest talks RESP from Python: pipelining, order, counters.
python3 - "$port" "$hport" "$rport" "$tmp" "$qac" "$v1" "$qac_pid" <<'PY' || fail "server checks (above)"
import os, socket, subprocess, sys, threading, time, json, urllib.request, signal
port, hport, rport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
tmp, qac, v1, spid = sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7])

def die(msg):
    print("FAIL:", msg); sys.exit(1)

class Conn:
    def __init__(self, p=port):
        self.s = socket.create_connection(("127.0.0.1", p), timeout=20)
        self.buf = b""
    def send(self, *cmds):
        out = b""
        for c in cmds:
            out += b"*%d\r\n" % len(c)
            for a in c:
                a = a.encode() if isinstance(a, str) else a
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d: raise EOFError("server closed")
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l
    def read(self):
        l = self.line(); t, r = l[:1], l[1:]
        if t in (b"+", b"-"): return (t + r).decode()
        if t == b":": return int(r)
        if t == b"$":
            n = int(r)
            if n < 0: return None
            while len(self.buf) < n + 2:
                d = self.s.recv(65536)
                if not d: raise EOFError("server closed")
                self.buf += d
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v.decode()
        if t == b"*": return [self.read() for _ in range(int(r))]
        raise ValueError(l)
    def cmd(self, *a):
        self.send(a); return self.read()
    def close(self): self.s.close()

c = Conn()
def stats():
    s = {}
    for l in c.cmd("STATS").split("\r\n"):
        if ":" in l: k, v = l.split(":", 1); s[k] = v
    return s
def stat(name): return float(stats()[name])
def wait_for(pred, what, secs=20):
    end = time.time() + secs
    while time.time() < end:
        if pred(): return
        time.sleep(0.1)
    die("timed out waiting for " + what + "; stats: " + json.dumps({k: v for k, v in stats().items() if k.startswith("rank_")}))
def alive():
    try: os.kill(spid, 0)
    except OSError: die("the server died")
def R(*a):
    return subprocess.run(["redis-cli", "-p", str(rport)] + list(a), capture_output=True, text=True).stdout.strip()

# --- 3. healthy -------------------------------------------------------------------
wait_for(lambda: stat("rank_redis_up") == 1 and stat("rank_embeddings_version") == v1, "Redis up, version %d" % v1)
if stat("rank_model_loaded") != 1: die("model not loaded")
for i in range(3):  # first round trips fill the cache
    r = c.cmd("COMPLETE", "weather", "USER", "7", "SESSION", "s7")
    if not r or not all(x.startswith("weather") for x in r): die("ranked COMPLETE: %r" % r)
d0 = stat("rank_degraded")
for i in range(20):
    c.cmd("COMPLETE", "weather", "USER", "7", "SESSION", "s7")
if stat("rank_degraded") != d0: die("degraded answers with a healthy Redis (deadline 25 ms)")
if stat("rank_cache_hits") < 1: die("no cache hits")
if stat("rank_requests") < 23: die("COMPLETE with USER did not go through the ranker")
body = json.load(urllib.request.urlopen("http://127.0.0.1:%d/v1/complete?q=weather&user=7&session=s7" % hport))
if not body["suggestions"] or not body["suggestions"][0]["text"].startswith("weather"): die("HTTP ranked: %r" % body)
if body["suggestions"][0]["match"] != [0, 7]: die("HTTP match %r" % body["suggestions"][0])
texts = [x["text"] for x in body["suggestions"]]
# every suggestion its own text (a ranked answer once pointed all of them at one reused hit)
if len(texts) < 2 or len(set(texts)) != len(texts) or sorted(texts) != sorted(r):
    die("HTTP ranked answer %r, COMPLETE answered %r" % (texts, r))
sg = urllib.request.urlopen("http://127.0.0.1:%d/v1/suggest?q=weather&user=7&session=s7" % hport)
if sg.headers["Content-Type"] != "application/x-suggestions+json; charset=utf-8": die("suggest type %r" % sg.headers)
sg = json.load(sg)
if len(sg) != 4 or sg[0] != "weather" or sorted(sg[1]) != sorted(texts) or sg[2:] != [[], []]:
    die("ranked /v1/suggest %r, /v1/complete %r" % (sg, texts))
st = json.load(urllib.request.urlopen("http://127.0.0.1:%d/v1/stats" % hport))
if "rank_degraded" not in st or "rank_cache_bytes" not in st: die("/v1/stats lacks the ranker")
prom = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hport).read().decode()
if "qac_rank_degraded_total" not in prom or 'qac_rank_cache_lookups_total{result="hit"}' not in prom:
    die("/metrics lacks the ranker")
print("ok   healthy: ranked, not degraded, HTTP and metrics")

# --- 4. version switch under load -----------------------------------------------------
stop = threading.Event(); errs = []; counts = [0]
def streamer():
    s = Conn()
    try:
        while not stop.is_set():
            s.send(*[("COMPLETE", "weather " + "abcdefgh"[i], "USER", str(i), "SESSION", "x%d" % i) for i in range(8)])
            for i in range(8):
                r = s.read()
                if not isinstance(r, list): errs.append(r)
                counts[0] += 1
    except Exception as e: errs.append(repr(e))
    s.close()
th = threading.Thread(target=streamer); th.start()
time.sleep(0.3)
misses0 = stat("rank_cache_misses")
p = subprocess.run([qac, "load", "--redis", "127.0.0.1:%d" % rport, "--namespace", "itrs", os.path.join(tmp, "emb")],
                   capture_output=True, text=True)
if p.returncode: die("second qac load: " + p.stderr)
v2 = int(R("GET", "itrs:current"))
if v2 <= v1: die("version did not move: %d -> %d" % (v1, v2))
wait_for(lambda: stat("rank_embeddings_version") == v2, "the server to switch to version %d" % v2)
time.sleep(0.3)
stop.set(); th.join()
if errs: die("answers during the switch: %r" % errs[:3])
if counts[0] < 16: die("only %d answers while streaming" % counts[0])
if stat("rank_cache_misses") <= misses0: die("no fetches from the new version after the switch")
r = c.cmd("COMPLETE", "weather", "USER", "7")
if not r: die("no answer after the switch")
print("ok   version %d -> %d under load, %d answers, none lost" % (v1, v2, counts[0]))

# --- 5. slow Redis: DEBUG SLEEP -----------------------------------------------------------
d0, m0 = stat("rank_degraded"), stat("rank_deadline_misses")
sl = subprocess.Popen(["redis-cli", "-p", str(rport), "DEBUG", "SLEEP", "1.5"], stdout=subprocess.DEVNULL)
time.sleep(0.2)
reqs = []
for i in range(30):
    if i % 3 == 0: reqs.append(("PING", "p%d" % i))
    elif i % 3 == 1: reqs.append(("COMPLETE", "weather " + "abcdefgh"[i % 8], "USER", "u%d" % i, "SESSION", "z%d" % i))
    else: reqs.append(("COMPLETE", "weather " + "abcdefgh"[i % 8]))  # plain trie path, behind a waiting one
c.send(*reqs)
for i, q in enumerate(reqs):
    r = c.read()
    if q[0] == "PING":
        if r != q[1]: die("reply %d out of order: %r for %r" % (i, r, q))
    elif not isinstance(r, list) or any(not x.startswith(q[1]) for x in r):
        die("reply %d out of order or wrong: %r for %r" % (i, r, q))
still = sl.poll() is None  # informational: the replies came while Redis slept
if stat("rank_degraded") < d0 + 1 or stat("rank_deadline_misses") < m0 + 1:
    die("slow Redis: degraded %s -> %s, misses %s -> %s" % (d0, stat("rank_degraded"), m0, stat("rank_deadline_misses")))
print("ok   slow Redis: 30 pipelined replies in order, degraded counted (Redis still asleep at the end: %s)" % still)

# --- 6. closing while waiting ---------------------------------------------------------------
for i in range(20):
    x = Conn()
    x.send(("COMPLETE", "weather " + "abcdefgh"[i % 8], "USER", "c%d" % i, "SESSION", "c%d" % i))
    if i % 2: x.s.shutdown(socket.SHUT_RDWR)
    x.close()
sl.wait()
time.sleep(0.2)
alive()
if c.cmd("PING") != "+PONG": die("PING after closed waiters")
wait_for(lambda: stat("rank_redis_up") == 1, "Redis up again after the sleep")
print("ok   connections closed while their requests waited: server fine")

# --- 7. Redis killed, restarted -------------------------------------------------------------
if R("SAVE") != "OK": die("redis SAVE")
errs.clear(); counts[0] = 0; stop.clear()
th = threading.Thread(target=streamer); th.start()
time.sleep(0.2)
rpid = int(R("INFO", "server").split("process_id:")[1].split()[0])
os.kill(rpid, signal.SIGKILL)
wait_for(lambda: stat("rank_redis_up") == 0, "the server to see Redis down")
d0, n0 = stat("rank_degraded"), counts[0]
time.sleep(0.5)
if counts[0] <= n0: die("answers stopped while Redis is down")
if stat("rank_degraded") <= d0: die("answers while Redis is down are not counted degraded")
print("ok   Redis down: %d answers kept coming, degraded counted" % (counts[0] - n0))
rs = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", tmp, "--dbfilename",
                       "dump.rdb", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open(os.path.join(tmp, "redis2.pid"), "w").write(str(rs.pid))
wait_for(lambda: stat("rank_redis_up") == 1, "reconnect", 30)
if stat("rank_redis_reconnects") < 1: die("reconnect not counted")
time.sleep(0.3)
stop.set(); th.join()
if errs: die("answers across the restart: %r" % errs[:3])
d0 = stat("rank_degraded")
for i in range(3): c.cmd("COMPLETE", "weather", "USER", "7", "SESSION", "s7")
d0 = stat("rank_degraded")
for i in range(20): c.cmd("COMPLETE", "weather", "USER", "7", "SESSION", "s7")
if stat("rank_degraded") != d0: die("still degraded after Redis came back")
print("ok   Redis restarted: reconnected, full ranking again")

# --- 8. online learning -----------------------------------------------------------------------
def order(user):
    return c.cmd("COMPLETE", "weather", "USER", user, "LIMIT", "10")
base = order("fresh1")
if len(base) < 5: die("too few candidates: %r" % base)
target = base[-2]
pos0 = base.index(target)
score0 = c.cmd("GET", target)
u0 = stat("rank_online_updates")
for i in range(60):  # 60 distinct users: the accept guard lets each teach once (engine/guard.h)
    c.send(("ACCEPT", target, "USER", "learner%d" % i, "SESSION", "L%d" % i, "PREFIX", "weather",
            "RANK", str(pos0 + 1)))
for i in range(60): c.read()
c.cmd("ADD", target, score0)  # popularity back: only the model may move it
wait_for(lambda: stat("rank_online_updates") >= u0 + 30, "online updates (ACCEPT with PREFIX)")
after = order("fresh2")
pos1 = after.index(target) if target in after else 99
if pos1 >= pos0: die("online learning did not move %r up: %d -> %d (%r -> %r)" % (target, pos0, pos1, base, after))
print("ok   online: %r moved %d -> %d after %d updates" % (target, pos0 + 1, pos1 + 1, stat("rank_online_updates") - u0))

# --- 9. SAVE, RELOAD -----------------------------------------------------------------------------
if c.cmd("SAVE") != "+OK": die("SAVE")
if not os.path.exists(os.path.join(tmp, "model.saved")): die("SAVE did not write --model-save")
if c.cmd("RELOAD") != "+OK": die("RELOAD")
if c.cmd("HELP", "RELOAD")[0] != "RELOAD": die("HELP RELOAD")
u0 = stat("rank_online_updates")
for i in range(5): c.cmd("ACCEPT", target, "USER", "after%d" % i, "PREFIX", "weather", "RANK", "1")
wait_for(lambda: stat("rank_online_updates") > u0, "an update after RELOAD")
os.utime(os.path.join(tmp, "model.saved"), (1, 1))
c.close()
print("ok   SAVE wrote the model, RELOAD read it")
PY
# shutdown saves what was learned since (mtime was set to 1 above)
qac_stop
rc=$?
[ $rc = 0 ] || fail "server exit status $rc after SIGTERM"
[ "$(stat -c %Y "$tmp/model.saved")" -gt 1 ] || fail "shutdown did not save the learned model"
grep -q "event=server.stopped " "$tmp/log" || fail "no clean shutdown"
no_sanitizer_report "$tmp/log" || fail "sanitizer report"
echo "ok   SIGTERM saved the model; clean shutdown"
echo "it_ranking_server: ok"
