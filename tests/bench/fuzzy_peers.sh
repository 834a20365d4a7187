#!/usr/bin/env bash
# tests/bench/fuzzy_peers.sh [QAC_BIN] -- typo-tolerant completion side by side, in one run
# (issue 14, "Speed and quality"): qac FUZZY 1 / 2 / AUTO, Lucene's FuzzySuggester (maxEdits 1 and 2)
# and RediSearch FT.SUGGET ... FUZZY, on the synthetic 1M corpus and typo'd prefixes.
#
# Corpus and prefixes: ../shared/tools/synth_queries.py corpus 1000000 / prefixes ... 100000 (cached in
# build/bench-data/, as tests/bench/run.sh does). Typo set: the Lucene harness's own (one seeded edit --
# substitution, deletion, insertion or transposition -- at position >= 1 in each ASCII prefix of 4+
# characters, java.util.Random(42)), reproduced here so every engine gets the SAME typo'd strings; the
# script checks that its set equals the one the harness prints. Typo recall (as the harness counts it):
# the clean prefix's exact top-1 completion (any with the top count) is in the typo'd prefix's top 10.
#
# What is timed (each call alone; median and p99 by nearest rank over one pass):
#   qac        tests/bench/bench_fuzzy_peers: trie_fuzzy_topk in-process, a warm-up + 3 timed passes
#              (1 on the set of all prefixes);
#   Lucene     FuzzySuggester.lookup in-process (../shared/tools/peers/lucene, jars from Debian's
#              liblucene8-java via apt-get download, javac from the JDK), 1 warm-up + 3 passes;
#   RediSearch FT.SUGGET sug PREFIX FUZZY MAX 10 on a private redis-server with Debian's
#              redis-redisearch module, server-side time from SLOWLOG (threshold 0: every call's
#              duration; includes parsing the command and writing the reply), after a warm-up pass.
# The slow peers get the first FUZZY_PEERS_N prefixes (default 20000) and Lucene's 2-edit suggester the
# first FUZZY_PEERS_N2 (default 5000); qac runs on all and on those same subsets, so every peer row has
# a qac row on the same strings. Peers that are absent are skipped with a "SKIP: why" line, never
# installed (apt-get download of the Lucene jars into build/bench-data is the one fetch).
# Environment: QAC_SHARED, FUZZY_PEERS_N, FUZZY_PEERS_N2, BENCH_FUZZY_PEERS (the driver binary),
# REDISEARCH_SO (default /usr/lib/redis/modules/redisearch.so), FUZZY_PEERS_KEEP=1 keeps the scratch.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
qac=${1:-$root/bin/qac}
shared=${QAC_SHARED:-$root/../shared}
n1=${FUZZY_PEERS_N:-20000}
n2=${FUZZY_PEERS_N2:-5000}
driver=${BENCH_FUZZY_PEERS:-$root/build/rel/bench/bench_fuzzy_peers}
rs_so=${REDISEARCH_SO:-/usr/lib/redis/modules/redisearch.so}
data=$root/build/bench-data

if [ ! -f "$shared/tools/synth_queries.py" ]; then
    echo "SKIP: fuzzy_peers: ../shared/tools/synth_queries.py not found (QAC_SHARED=$shared)"
    exit 0
fi
if [ ! -x "$qac" ]; then echo "SKIP: fuzzy_peers: $qac is not built (make)"; exit 0; fi
if [ ! -x "$driver" ]; then
    make -C "$root" --no-print-directory build/rel/bench/bench_fuzzy_peers >/dev/null ||
        { echo "SKIP: fuzzy_peers: cannot build $driver"; exit 0; }
fi

tmp=$(mktemp -d /tmp/qac-fuzzy-peers.XXXXXX)
rpid=
cleanup() {
    if [ -n "$rpid" ]; then kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null || true; fi
    if [ "${FUZZY_PEERS_KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$data"
corpus=$data/corpus-1000000.tsv prefixes=$data/prefixes-1000000.txt
if [ ! -s "$corpus" ]; then
    echo "== making the 1M corpus (once; cached in $data)"
    python3 "$shared/tools/synth_queries.py" corpus 1000000 "$corpus.tmp" && mv "$corpus.tmp" "$corpus"
fi
[ -s "$prefixes" ] || python3 "$shared/tools/synth_queries.py" prefixes "$corpus" 100000 "$prefixes"
echo "== fuzzy_peers: corpus $corpus ($(wc -l <"$corpus") queries), prefixes $prefixes ($(wc -l <"$prefixes"))"
echo "   caps: Lucene fuzzy and RediSearch on the first $n1 prefixes, Lucene fuzzy2 on the first $n2;" \
     "qac on all and on both subsets"

# --- the typo set: the Lucene harness's typo(), java.util.Random(42) reproduced --------------------
python3 - "$prefixes" "$tmp" "$n1" "$n2" <<'PY'
import sys
pf, out, n1, n2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
M48 = (1 << 48) - 1
class JRandom:                      # java.util.Random, bit for bit
    def __init__(s, seed): s.seed = (seed ^ 0x5DEECE66D) & M48
    def next(s, bits):
        s.seed = (s.seed * 0x5DEECE66D + 0xB) & M48
        return s.seed >> (48 - bits)
    def nextInt(s, bound):
        r = s.next(31); m = bound - 1
        if bound & m == 0: return (bound * r) >> 31
        u = r
        while True:
            r = u % bound
            if ((u - r + m) & 0xFFFFFFFF) < 0x80000000: return r   # no int overflow
            u = s.next(31)
ALPHA = 'abcdefghijklmnopqrstuvwxyz'
def typo(p, rnd, ops):
    n = len(p)
    for _ in range(20):
        op = rnd.nextInt(4)
        if op == 0:
            pos = 1 + rnd.nextInt(n - 1)
            while True:
                c = ALPHA[rnd.nextInt(26)]
                if c != p[pos]: break
            t = p[:pos] + c + p[pos + 1:]
        elif op == 1:
            pos = 1 + rnd.nextInt(n - 1); t = p[:pos] + p[pos + 1:]
        elif op == 2:
            pos = 1 + rnd.nextInt(n); t = p[:pos] + ALPHA[rnd.nextInt(26)] + p[pos:]
        else:
            pos = 1 + rnd.nextInt(n - 2); c = list(p); c[pos], c[pos + 1] = c[pos + 1], c[pos]; t = ''.join(c)
        if t != p:
            ops[op] += 1; return t
    return None
pre = [l.rstrip('\n') for l in open(pf, encoding='utf-8', errors='surrogateescape')]
pre = [p for p in pre if p]
rnd = JRandom(42)
sets = {'all': ([], [], [0] * 4), 'n1': ([], [], [0] * 4), 'n2': ([], [], [0] * 4)}
for i, p in enumerate(pre):
    if len(p) < 4 or not p.isascii(): continue
    ops = [0] * 4
    t = typo(p, rnd, ops)
    if t is None: continue
    for name, cap in (('all', len(pre)), ('n1', n1), ('n2', n2)):
        if i < cap:
            sets[name][0].append(p); sets[name][1].append(t)
            sets[name][2][:] = [a + b for a, b in zip(sets[name][2], ops)]
for name, (c, t, ops) in sets.items():
    with open(f'{out}/clean-{name}.txt', 'w', encoding='utf-8', errors='surrogateescape') as f:
        f.write(''.join(x + '\n' for x in c))
    with open(f'{out}/typo-{name}.txt', 'w', encoding='utf-8', errors='surrogateescape') as f:
        f.write(''.join(x + '\n' for x in t))
    # the harness's own line, to compare with what it prints
    with open(f'{out}/typo-{name}.line', 'w') as f:
        f.write("%d prefixes (sub=%d del=%d ins=%d transp=%d), e.g. '%s' -> '%s'\n"
                % (len(t), *ops, c[0] if c else '', t[0] if t else ''))
    print(f"   typo set {name}: " + open(f'{out}/typo-{name}.line').read().strip())
PY

# --- qac -------------------------------------------------------------------------------------------
echo "== qac: build the index, then bench_fuzzy_peers (trie_fuzzy_topk in-process)"
"$qac" build --quiet --format counts -o "$tmp/idx.qac" "$corpus"
: >"$tmp/results.txt"
for s in all n1 n2; do
    passes=3; [ "$s" = all ] && passes=1   # all: ~87k typo'd prefixes, one timed pass keeps the run short
    "$driver" "$tmp/idx.qac" "$tmp/clean-$s.txt" "$tmp/typo-$s.txt" "$passes" | tee "$tmp/qac-$s.txt" |
        grep '^RESULT' | sed "s/^RESULT engine=qac/RESULT engine=qac set=$s/" >>"$tmp/results.txt"
done

# --- Lucene ----------------------------------------------------------------------------------------
. "$root/tests/bench/lucene_peer.bash"
lucene_ok=1
lucene_setup "$shared" "$data" "$tmp" || lucene_ok=0
if [ "$lucene_ok" = 1 ]; then
    for sug in fuzzy fuzzy2; do
        if [ "$sug" = fuzzy ]; then cap=$n1 set=n1; else cap=$n2 set=n2; fi
        echo "== Lucene FuzzySuggester ($sug), first $cap prefixes' typo set"
        LUCENE_OPTS=(-Dsets=typo -Dsanity=0 -DmaxPrefixes="$cap" -Dwork="$tmp/lucene")
        lucene_run "$corpus" "$prefixes" "$sug" 10 \
            >"$tmp/lucene-$sug.txt" 2>"$tmp/lucene-$sug.err" ||
            { echo "SKIP: Lucene $sug failed: $(tail -3 "$tmp/lucene-$sug.err")"; continue; }
        grep -E '^(BUILD|RESULT|# typo set)' "$tmp/lucene-$sug.txt" | sed 's/^/   /'
        want=$(cat "$tmp/typo-$set.line")
        got=$(sed -n 's/^# typo set: //p' "$tmp/lucene-$sug.txt")
        if [ "$got" != "$want" ]; then
            echo "   WARNING: the harness's typo set differs from this script's: '$got' vs '$want'"
        fi
        grep '^RESULT' "$tmp/lucene-$sug.txt" |
            sed "s/^RESULT suggester=\([a-z0-9]*\) corpus=[^ ]* set=typo/RESULT engine=lucene mode=\1 set=$set/" \
            >>"$tmp/results.txt"
    done
fi

# --- RediSearch ------------------------------------------------------------------------------------
if [ ! -f "$rs_so" ]; then
    echo "SKIP: RediSearch: $rs_so not found (Debian: apt-get install redis-redisearch)"
elif ! command -v redis-server >/dev/null; then
    echo "SKIP: RediSearch: no redis-server"
else
    rport=$(free_port)
    echo "== RediSearch: private redis-server on :$rport with $rs_so"
    redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" \
        --loglevel warning --loadmodule "$rs_so" >"$tmp/redis.log" 2>&1 &
    rpid=$!
    python3 - "$rport" "$corpus" "$tmp/clean-n1.txt" "$tmp/typo-n1.txt" >"$tmp/rs.txt" <<'PY' ||
import socket, sys, time, bisect
port, corpus, cleanf, typof = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class Resp:                       # a minimal RESP2 client: no dependency beyond python3
    def __init__(s, port):
        for _ in range(100):
            try: s.sock = socket.create_connection(('127.0.0.1', port)); break
            except OSError: time.sleep(0.1)
        else: raise SystemExit('redis-server does not answer')
        s.f = s.sock.makefile('rb')
    def send(s, cmds):
        out = []
        for c in cmds:
            a = [x if isinstance(x, bytes) else str(x).encode('utf-8', 'surrogateescape') for x in c]
            out.append(b'*%d\r\n' % len(a) + b''.join(b'$%d\r\n%s\r\n' % (len(x), x) for x in a))
        s.sock.sendall(b''.join(out))
        return [s.read() for _ in cmds]
    def read(s):
        l = s.f.readline(); t, v = l[:1], l[1:-2]
        if t == b'+': return v.decode()
        if t == b'-': raise RuntimeError(v.decode())
        if t == b':': return int(v)
        if t == b'$':
            n = int(v)
            if n < 0: return None
            d = s.f.read(n + 2); return d[:-2]
        if t == b'*':
            n = int(v)
            return None if n < 0 else [s.read() for _ in range(n)]
        raise RuntimeError('bad reply %r' % l)
    def cmd(s, *a): return s.send([a])[0]
r = Resp(port)
mods = r.cmd('MODULE', 'LIST')
print('# modules:', [m[1].decode() if isinstance(m[1], bytes) else m[1] for m in mods])
t = time.time(); count = {}; batch = []
for line in open(corpus, 'rb'):
    q, _, c = line.rstrip(b'\n').rpartition(b'\t')
    if not q: continue
    count[q] = int(c); batch.append(('FT.SUGADD', 'sug', q, c))
    if len(batch) == 5000: r.send(batch); batch = []
if batch: r.send(batch)
mem = dict(l.split(':', 1) for l in r.cmd('INFO', 'memory').decode().split('\r\n') if ':' in l)
print('# loaded %d into RediSearch in %.1f s; FT.SUGLEN %d; used_memory_rss %.1f MB' % (
    len(count), time.time() - t, r.cmd('FT.SUGLEN', 'sug'), int(mem.get('used_memory_rss', 0)) / 1e6))
clean = [l.rstrip(b'\n') for l in open(cleanf, 'rb')]
typo = [l.rstrip(b'\n') for l in open(typof, 'rb')]
keys = sorted(count)
def top1(p):                       # the clean prefix's exact top-1 count (-1: none)
    i, m = bisect.bisect_left(keys, p), -1
    while i < len(keys) and keys[i].startswith(p):
        m = max(m, count[keys[i]]); i += 1
    return m
want = [top1(p) for p in clean]
def sugget(p): return ('FT.SUGGET', 'sug', p, 'FUZZY', 'MAX', 10)
for i in range(0, len(typo), 256): r.send([sugget(p) for p in typo[i:i + 256]])   # warm-up
n = len(typo)
r.cmd('CONFIG', 'SET', 'slowlog-max-len', str(n + 1000))
r.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '0')
r.cmd('SLOWLOG', 'RESET'); r.cmd('CONFIG', 'RESETSTAT')
res = []
for p in typo: res.append(r.cmd(*sugget(p)))      # one at a time, as the other engines are timed
r.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '10000')
log = r.cmd('SLOWLOG', 'GET', str(n + 1000))
us = sorted(e[2] for e in log if e[3] and e[3][0].upper() == b'FT.SUGGET')
stats = r.cmd('INFO', 'commandstats').decode()
upc = [l for l in stats.split('\r\n') if l.lower().startswith('cmdstat_ft.sugget:')]
upc = upc[0].split('usec_per_call=')[1].split(',')[0] if upc else '?'
def pct(v, q):
    import math
    return v[max(0, min(len(v) - 1, math.ceil(q * len(v)) - 1))]
tot = sum(len(x or []) for x in res); zero = sum(1 for x in res if not x)
den = hit = 0
for p, w, x in zip(clean, want, res):
    if w < 0: continue
    den += 1
    if any(k.startswith(p) and count.get(k) == w for k in (x or [])): hit += 1
print('# SLOWLOG entries %d of %d calls; INFO commandstats usec_per_call=%s' % (len(us), n, upc))
print('RESULT engine=redisearch mode=sugget_fuzzy set=n1 n=%d median_us=%.2f p90_us=%.2f p99_us=%.2f '
      'mean_us=%.2f max_us=%.1f results_per_prefix=%.3f zero_result_frac=%.4f top1_recall_at_k=%.4f (%d/%d)' % (
      n, pct(us, .5), pct(us, .9), pct(us, .99), sum(us) / max(1, len(us)), us[-1] if us else 0,
      tot / n, zero / n, hit / max(1, den), hit, den))
PY
        echo "SKIP: RediSearch run failed: $(tail -3 "$tmp/rs.txt") $(tail -3 "$tmp/redis.log")"
    sed 's/^/   /' "$tmp/rs.txt"
    grep '^RESULT' "$tmp/rs.txt" >>"$tmp/results.txt" || true
    kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null || true
    rpid=
fi

# --- the table -------------------------------------------------------------------------------------
echo
echo "== typo'd prefixes, top 10: latency per call (µs, one pass, nearest rank) and typo recall"
printf '%-12s %-14s %-5s %7s %10s %10s %10s %9s %10s\n' engine mode set n median_us p99_us mean_us res/pfx recall
awk '{
    delete f
    for (i = 2; i <= NF; i++) if (split($i, kv, "=") == 2) f[kv[1]] = kv[2]
    printf "%-12s %-14s %-5s %7s %10s %10s %10s %9s %10s\n", f["engine"], f["mode"], f["set"], f["n"],
        f["median_us"], f["p99_us"], f["mean_us"], f["results_per_prefix"], f["top1_recall_at_k"]
}' "$tmp/results.txt"
echo "(sets: all = every typo'd prefix of the 100k; n1 = those of the first $n1 prefixes; n2 = of the first $n2."
echo " qac and Lucene: in-process lookup; RediSearch: server-side SLOWLOG time, command parse and reply included."
echo " qac: first character exact, FUZZY AUTO = 0 edits under 4 characters, 1 from 4, 2 from 8;"
echo " Lucene: FuzzySuggester maxEdits 1 (fuzzy) / 2 (fuzzy2), transpositions, nonFuzzyPrefix 1, minFuzzyLength 3;"
echo " RediSearch 1.2: FT.SUGGET FUZZY = 1 edit."
echo " Recall: qac lists a typo'd prefix's own exact completions first (docs/PROTOCOL.md, Typos); when the typo'd"
echo " prefix is itself a prefix of 10+ queries ('mary' -> 'mar', ~3% of this set) those fill the 10, which is most"
echo " of qac's misses and why FUZZY 2 does not raise it; Lucene here ranks by weight only (exactFirst=false).)"
