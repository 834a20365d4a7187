#!/usr/bin/env bash
# it_accept_guard.sh -- what one client's ACCEPTs may change, against a real
# `qac serve` with a learned model and embeddings (engine/guard.h).
#  1. Heavy histories (the crash of a ranked COMPLETE over a user with more
#     matching history than the candidate buffers): one user ACCEPTs 1,200
#     distinct queries under one prefix, then COMPLETE prefix USER; one
#     session of 5,000 ACCEPTs; without Redis and with a private Redis. The
#     rate limits are lifted for this part (--accept-user-rate 0
#     --accept-conn-rate 0): the buffers must hold whatever a store holds.
#  2. Bad settings exit 2 naming the setting.
#  3. Defaults: a flood of 20,000 `ACCEPT "spam casino bonus" USER attacker
#     PREFIX sp RANK 0` on one connection is refused past the burst
#     (ERR RATE), adds 1 to the query's popularity, and leaves another
#     user's top 3 for "sp" unchanged; many fake USER ids on one connection
#     hit the connection's limit; anonymous ACCEPTs are limited by address;
#     HTTP answers 429 with Retry-After.
#  4. A real trend: 50 distinct users ACCEPT a new query; it rises into
#     everyone's top 3, its popularity is 50, the model learned 50 times.
#  5. Repeats: the same user's repeated ACCEPTs count once.
# Exit 0 pass, 1 fail, 77 skip. Assertions on counts and order, not time.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-server redis-cli python3 curl
qac=$QAC_BIN
make_tmp it_guard
fail_log=$tmp/log

# --- data: a log with "sp" queries, a model and embeddings -------------------------
python3 - "$tmp" <<'PY'
import sys, random
d = sys.argv[1]
rnd = random.Random(11)
qs = ["sports news", "spotify", "spanish dictionary", "spain travel", "speed test", "weather alpha",
      "weather bravo", "news today"]
with open(d + "/log.tsv", "w") as f:
    f.write("AnonID\tQuery\tQueryTime\tItemRank\tClickURL\n")
    for day in range(1, 15):
        for u in range(1, 61):
            for _ in range(2):
                q = qs[min(int(rnd.expovariate(0.6)), len(qs) - 1)]
                f.write("%d\t%s\t2006-05-%02d %02d:%02d:00\t\t\n" % (u, q, day, rnd.randrange(23), rnd.randrange(59)))
PY
"$qac" build -o "$tmp/idx" "$tmp/log.tsv" >/dev/null 2>&1 || fail "build"
"$qac" embed -o "$tmp/emb" --buckets 16384 --epochs 2 "$tmp/log.tsv" 2>"$tmp/err" || { cat "$tmp/err"; fail "embed"; }
"$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" -o "$tmp/model" "$tmp/log.tsv" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "train"; }

start() { # start PORT HTTP_PORT ARGS...: serve the index with the model
    local port=$1 hport=$2; shift 2
    cp "$tmp/idx" "$tmp/idx.run"
    : >"$tmp/log"
    qac_start "$port" "$tmp/log" -i "$tmp/idx.run" --http-port "$hport" --model "$tmp/model" \
        --model-save "$tmp/model.saved" --embeddings "$tmp/emb" "$@" || fail "server did not start"
}
stop() {
    qac_stop; local rc=$?
    [ $rc = 0 ] || fail "server exit status $rc (crashed?)"
    no_sanitizer_report "$tmp/log" || fail "sanitizer report"
}

# --- 1. heavy histories ---------------------------------------------------------------
heavy() { # heavy PORT: the two sequences of the crash report
    python3 - "$1" <<'PY' || exit 1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
def pipeline(lines):
    s.sendall("".join(l + "\r\n" for l in lines).encode())
    out = [f.readline() for _ in lines]
    bad = [o for o in out if not o.startswith(b"OK")]
    if bad: print("FAIL: %d of %d ACCEPTs refused: %r" % (len(bad), len(lines), bad[0])); sys.exit(1)
def complete(p, user=None, sess=None):
    line = 'COMPLETE "%s"' % p + (" USER %s" % user if user else "") + (" SESSION %s" % sess if sess else "")
    s.sendall(line.encode() + b"\r\n")
    head = f.readline()
    if not head.startswith(b"OK "): print("FAIL: %s -> %r" % (line, head)); sys.exit(1)
    return [f.readline().split(b"\t")[0].decode() for _ in range(int(head.split()[1]))]
pipeline(['ACCEPT "zzq hist %05d" USER u1' % i for i in range(1200)])
got = complete("zzq", "u1")
if len(got) != 10 or not all(g.startswith("zzq hist ") for g in got): print("FAIL: heavy user: %r" % got); sys.exit(1)
pipeline(['ACCEPT "zzs sess %05d" USER u2 SESSION s2' % i for i in range(5000)])
got = complete("zzs", "u2", "s2")
if len(got) != 10: print("FAIL: heavy session: %r" % got); sys.exit(1)
if complete("zzq", "u3") != complete("zzq"): print("FAIL: another user sees other answers"); sys.exit(1)
print("ok   heavy history: 1,200 and 5,000 accepts, ranked answers of 10")
PY
}
port=$(free_port)
start "$port" 0 --accept-user-rate 0 --accept-conn-rate 0
heavy "$port" || fail "heavy history without Redis"
stop
rport=$(free_port)
redis_start "$rport" || fail "redis-server did not start"
start "$port" 0 --accept-user-rate 0 --accept-conn-rate 0 --redis "127.0.0.1:$rport" --redis-deadline-ms 1000
heavy "$port" || fail "heavy history with Redis"
[ "$(redis-cli -p "$port" STATS | tr -d '\r' | sed -n "s/^rank_degraded://p")" = 0 ] || fail "degraded answers"
stop
redis_stop
echo "ok   heavy history with Redis"

# --- 2. bad settings --------------------------------------------------------------------
for bad in "--accept-window 0" "--accept-user-burst 0" "--accept-pairs 0" "--accept-actors 0" \
    "--accept-conn-burst 0" "--accept-learn-max x"; do
    # shellcheck disable=SC2086
    "$qac" serve -i "$tmp/idx" $bad 2>"$tmp/err"
    [ $? = 2 ] || fail "serve $bad should exit 2"
    name=${bad%% *}
    grep -q -- "${name#--}" "$tmp/err" || fail "serve $bad: message does not name the setting: $(cat "$tmp/err")"
done
echo "ok   bad accept-* settings exit 2"

# --- 3..5. defaults -------------------------------------------------------------------
hport=$(free_port)
start "$port" "$hport"
python3 - "$port" "$hport" <<'PY' || fail "guard"
import socket, sys, http.client, time
port, hport = int(sys.argv[1]), int(sys.argv[2])
def die(m): print("FAIL: " + m); sys.exit(1)
class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port)); self.f = self.s.makefile("rb")
    def pipeline(self, lines):
        self.s.sendall("".join(l + "\r\n" for l in lines).encode())
        return [self.f.readline().decode().rstrip("\r\n") for _ in lines]
    def cmd(self, line): return self.pipeline([line])[0]
    def complete(self, p, user):
        self.s.sendall(('COMPLETE "%s" USER %s LIMIT 10\r\n' % (p, user)).encode())
        head = self.f.readline()
        if not head.startswith(b"OK "): die("COMPLETE -> %r" % head)
        return [self.f.readline().decode().split("\t")[0] for _ in range(int(head.split()[1]))]
def stat(c, name):
    c.s.sendall(b"STATS\r\n")
    head = c.f.readline().decode()
    n = int(head.split()[1]) if head.startswith("OK ") else 0
    vals = dict(c.f.readline().decode().rstrip("\r\n").split(" ", 1) for _ in range(n))
    return int(vals[name])
c = Conn()
before = c.complete("sp", "other")[:3]
if len(before) < 3: die("too few sp completions: %r" % before)
# 3. the flood
t0 = time.monotonic()
out = c.pipeline(['ACCEPT "spam casino bonus" USER attacker PREFIX sp RANK 0'] * 20000)
elapsed = time.monotonic() - t0
ok = [o for o in out if o.startswith("OK")]
rate = [o for o in out if o.startswith("ERR RATE")]
if len(ok) + len(rate) != 20000: die("unexpected replies: %r" % [o for o in out if not o.startswith(("OK", "ERR RATE"))][:3])
if len(ok) > 20 + 2 * elapsed + 1:  # accept-user-burst + accept-user-rate x time
    die("%d of 20,000 flood ACCEPTs accepted in %.1f s" % (len(ok), elapsed))
if "accept-user-rate" not in rate[0]: die("rate error does not name the setting: %r" % rate[0])
if c.cmd('GET "spam casino bonus"') != "OK 1": die("the flood raised popularity beyond 1")
if stat(c, "rank_online_updates") != 0: die("one user's flood taught the shared model")
after = c.complete("sp", "other")[:3]
if after != before: die("the flood changed another user's top 3: %r -> %r" % (before, after))
print("ok   flood: %d accepted, %d refused (ERR RATE), popularity 1, other users' top 3 unchanged" % (len(ok), len(rate)))
# many fake users on one connection: the connection's bucket
t0 = time.monotonic()
out = c.pipeline(['ACCEPT "spam casino bonus" USER fake%d' % i for i in range(3000)])
elapsed = time.monotonic() - t0  # bounds the server's refill window from above
conn_limited = [o for o in out if o.startswith("ERR RATE this connection")]
if not conn_limited: die("3,000 fake users on one connection were not limited")
if "accept-conn-rate" not in conn_limited[0]: die("connection error does not name the setting")
credited = int(c.cmd('GET "spam casino bonus"').split()[1])
bound = 1 + 2000 + 500 * elapsed + 1  # the flood's 1, accept-conn-burst, accept-conn-rate x time
if credited > bound: die("fake users raised popularity to %d (bound %.0f)" % (credited, bound))
print("ok   3,000 fake USER ids on one connection: %d refused by accept-conn-rate" % len(conn_limited))
# anonymous: limited by address
c2 = Conn()
out = c2.pipeline(['ACCEPT "anon query %d"' % i for i in range(30)])
if not any(o.startswith("ERR RATE this client address") for o in out): die("anonymous ACCEPTs not limited: %r" % out[-1])
# HTTP: 429 + Retry-After once the user is over
h = http.client.HTTPConnection("127.0.0.1", hport)
codes = []
for i in range(40):  # 20 burst + 2/s: a 429 unless these 40 take over 10 s
    h.request("POST", "/v1/accept", body="q=web+query+%d&user=webuser" % i,
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = h.getresponse(); r.read(); codes.append(r.status)
    if r.status == 429 and r.getheader("Retry-After") != "1": die("429 without Retry-After")
if 429 not in codes or codes[0] != 200: die("HTTP codes %r" % codes)
print("ok   anonymous ACCEPTs limited by address; HTTP 429 with Retry-After")
# 4. a real trend: 50 distinct users, one connection each as browsers would
u0 = stat(c, "rank_online_updates")
for i in range(50):
    ci = Conn()
    if not ci.cmd('ACCEPT "spring trend" USER trend%d PREFIX sp RANK 0' % i).startswith("OK"): die("trend ACCEPT refused")
    ci.s.close()
if c.cmd('GET "spring trend"') != "OK 50": die("50 users: popularity %s" % c.cmd('GET "spring trend"'))
learned = stat(c, "rank_online_updates") - u0
top = c.complete("sp", "fresh")[:3]
if "spring trend" not in top: die("a trend of 50 users did not reach the top 3: %r" % top)
print("ok   trend: 50 users -> popularity 50, %d model updates, in a new user's top 3: %r" % (learned, top))
# 5. repeats
out = c2.pipeline(['ACCEPT "repeat me" USER rep'] * 5)
if c.cmd('GET "repeat me"') != "OK 1": die("repeats counted: %s" % c.cmd('GET "repeat me"'))
if stat(c, "accept_repeats") < 4: die("repeats not counted in STATS")
print("ok   repeats of one user count once")
PY
stop
echo "it_accept_guard: ok"
