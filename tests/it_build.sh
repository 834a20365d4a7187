#!/usr/bin/env bash
# it_build.sh -- end-to-end checks of `qac build` and `qac complete`.
#
# Part 1 (always): builds the demo data in data/demo and checks the reported
# bad-line counts, completions and exit codes against an independent model
# written in Python (tests/it_build_model.py is not used: the model is inline
# below so the test is one file).
# Part 2 (needs QAC_SHARED): small slices of each format in ../shared/data
# (AOL log, AOL query list, ISO-8859-1 TREC 2006 topics, a counts file made
# here), with bad-line counts, --strict, --since/--until, --half-life,
# --min-count and completions checked against the same model. Without
# QAC_SHARED part 2 is left out with a "SKIP:" line (tests/run.sh counts it).
# Exit 0 pass, 1 fail, 77 skip (no python3).
set -u
: "${QAC_BIN:?QAC_BIN must name the qac binary}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need python3
make_tmp it_build

say() { echo "check: $*"; }

cat >"$tmp/model.py" <<'EOF'
# Independent model of qlog + build + complete (see data/qlog.h, data/build.h).
import math, re, sys, unicodedata, json
MAX_LINE, MAX_Q = 65536, 512
WS = ' \t\n\v\f\r'
def is_ctrl(c):
    o = ord(c)
    return (o < 0x20 and c not in WS) or o == 0x7f or (0x80 <= o <= 0x9f and o != 0x85)
TIME = re.compile(r'^(\d{4})-(\d{2})-(\d{2})( (\d{2}):(\d{2}):(\d{2}))?$')
def ptime(s):
    import calendar, datetime
    m = TIME.match(s)
    if not m: return None
    try:
        d = datetime.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[5] or 0), int(m[6] or 0), int(m[7] or 0))
    except ValueError:
        return None
    return calendar.timegm(d.timetuple())
def detect(data):
    if data.startswith(b'AnonID\tQuery\tQueryTime'): return 'aol'
    lines = [l.rstrip(b'\r') for l in data.split(b'\n')[:100]]
    lines = [l for l in lines if l]
    if not lines: return 'lines'
    for l in lines:
        if not re.fullmatch(rb'.*\t\d+(\.\d+)?', l, re.S): return 'lines'
    return 'counts'
def accent(c):
    o = ord(c)
    return (0x300 <= o <= 0x36f or 0x1ab0 <= o <= 0x1aff or 0x1dc0 <= o <= 0x1dff or 0x20d0 <= o <= 0x20ff
            or 0xfe20 <= o <= 0xfe2f or (0x591 <= o <= 0x5c7 and o not in (0x5be, 0x5c0, 0x5c3, 0x5c6))
            or 0x64b <= o <= 0x65f or o == 0x670)
def key(s):
    s = unicodedata.normalize('NFKD', s.casefold())
    s = ''.join(c for c in s if not accent(c) and c not in '\u00ad\u200b\u2060\ufeff')
    return ' '.join(unicodedata.normalize('NFKC', s).split())
def read(path, fmt=None):
    data = open(path, 'rb').read()
    fmt = fmt or detect(data)
    lines = data.split(b'\n')
    if lines and lines[-1] == b'': lines.pop()
    st = {'lines': 0, 'records': 0, 'merged': 0, 'bad': {}}
    recs, last = [], {}
    def bad(r): st['bad'][r] = st['bad'].get(r, 0) + 1
    for n, l in enumerate(lines, 1):
        st['lines'] += 1
        if len(l) > MAX_LINE: bad('line_too_long'); continue
        if l.endswith(b'\r'): l = l[:-1]
        if fmt == 'aol' and l.startswith(b'AnonID\tQuery\tQueryTime'): continue
        if not l: bad('empty'); continue
        try: s = l.decode('utf-8')
        except UnicodeDecodeError: bad('invalid_utf8'); continue
        user, t, cnt = '', None, 1
        if fmt == 'aol':
            f = s.split('\t')
            if len(f) < 3 or len(f) > 5 or f[0] == '': bad('missing_field'); continue
            t = ptime(f[2])
            if t is None: bad('bad_time'); continue
            if any(map(is_ctrl, f[0])): bad('control_char'); continue
            user, q = f[0], f[1]
        elif fmt == 'counts':
            q, tab, c = s.rpartition('\t')
            if not tab: bad('missing_field'); continue
            try:
                cnt = float(c)
                if not (cnt >= 0 and math.isfinite(cnt)) or not re.fullmatch(r'[0-9.eE+-]+', c): raise ValueError
            except ValueError: bad('bad_count'); continue
        else:
            q = s
        if any(map(is_ctrl, q)): bad('control_char'); continue
        if q.strip(WS) in ('', '-'): bad('empty'); continue
        if len(q.encode()) > MAX_Q: bad('too_long'); continue
        if fmt == 'aol':
            e = (' '.join(q.casefold().split()), t)
            if last.get(user) == e: st['merged'] += 1; continue
            last[user] = e
        k = key(q)
        if not k: bad('empty'); continue
        if len(k.encode()) > 512: bad('too_long'); continue
        st['records'] += 1
        recs.append((k, ' '.join(q.split()), t, cnt, n))
    return fmt, st, recs
def build(paths, since=None, until=None, hl=None, minc=0):
    allrecs = []
    for p in paths: allrecs += read(p)[2]
    kept = [r for r in allrecs if r[2] is None or ((since is None or r[2] >= since) and (until is None or r[2] < until))]
    newest = max((r[2] for r in kept if r[2] is not None), default=None)
    score, spell, order = {}, {}, {}
    for k, d, t, c, _ in kept:
        w = c if (t is None or not hl) else c * 0.5 ** ((newest - t) / (hl * 86400))
        score[k] = score.get(k, 0) + w
        sp = spell.setdefault(k, {})
        if d not in sp: order[(k, d)] = len(order)
        sp[d] = sp.get(d, 0) + c
    disp = {k: min(sp, key=lambda d: (-sp[d], order[(k, d)])) for k, sp in spell.items()}
    return {k: (s, disp[k]) for k, s in score.items() if s >= minc}
def prefix_key(p):
    k = key(p)
    return k + ' ' if p and p[-1] in WS and k else k
def topk(idx, p, k):
    pk = prefix_key(p).encode()
    m = [(-s, kk.encode(), d, s) for kk, (s, d) in idx.items() if kk.encode().startswith(pk)]
    m.sort()
    return [(d, s) for _, _, d, s in m[:k]]
if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'stats':   # stats FILE [FMT]: the per-file report line
        fmt, st, _ = read(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
        nbad = sum(st['bad'].values())
        rs = ', '.join('%s %d' % (r, st['bad'][r]) for r in ['line_too_long', 'invalid_utf8', 'missing_field',
             'bad_time', 'bad_count', 'control_char', 'empty', 'too_long'] if r in st['bad'])
        print('%s (%s): %d lines, %d records, %d merged, %d bad%s' % (sys.argv[2], fmt, st['lines'], st['records'],
              st['merged'], nbad, ' (%s)' % rs if rs else ''))
    elif cmd == 'first_bad':  # line number of the first bad line
        data = open(sys.argv[2], 'rb').read().split(b'\n')
        fmt, st, recs = read(sys.argv[2])
        good = {r[4] for r in recs}
        print(next(i for i in range(1, len(data) + 1) if i not in good and not (fmt == 'aol' and i == 1)))
    else:                # complete JSON_OPTS K FILES... -- PREFIX...  (prints like qac complete)
        o = json.loads(sys.argv[2]); k = int(sys.argv[3]); rest = sys.argv[4:]
        cut = rest.index('--')
        idx = build(rest[:cut], o.get('since'), o.get('until'), o.get('hl'), o.get('min', 0))
        if o.get('count'): print(len(idx)); sys.exit(0)
        for p in rest[cut + 1:]:
            for d, s in topk(idx, p, k): print('%s\t%r' % (d, s))
            print()
EOF
model() { python3 "$tmp/model.py" "$@"; }

# The per-file report line of a build log, without the "qac build: " lead.
report_line() { grep -F "qac build: $2 (" "$1" | sed 's/^qac build: //'; }

# Compares `qac complete` output to the model's, scores within 1e-9 relative.
same_completions() {
    python3 - "$1" "$2" <<'EOF' || return 1
import sys
a = open(sys.argv[1]).read().split('\n'); b = open(sys.argv[2]).read().split('\n')
if len(a) != len(b): sys.exit('line counts differ: %d vs %d' % (len(a), len(b)))
for x, y in zip(a, b):
    if x == y: continue
    xd, _, xs = x.rpartition('\t'); yd, _, ys = y.rpartition('\t')
    if xd != yd or abs(float(xs) - float(ys)) > 1e-9 * max(1.0, abs(float(ys))):
        sys.exit('differ: %r vs %r' % (x, y))
EOF
}

# check_build NAME FILE [OPTS...]: builds FILE, compares its report line to the model.
check_build() {
    local name=$1 file=$2; shift 2
    "$QAC_BIN" build -o "$tmp/$name.qidx" "$@" "$file" 2>"$tmp/$name.log" || { cat "$tmp/$name.log"; fail "$name: build exited $?"; }
    local got want
    got=$(report_line "$tmp/$name.log" "$file")
    want=$(model stats "$file")
    echo "  qac:   $got"
    echo "  model: $want"
    [ "$got" = "$want" ] || fail "$name: report differs from the model"
}

# check_complete NAME INDEX K JSON_OPTS FILES... -- PREFIX...
check_complete() {
    local name=$1 index=$2 k=$3 opts=$4; shift 4
    local prefixes=() files=() seen=0
    for a in "$@"; do
        if [ "$a" = -- ]; then seen=1; elif [ $seen = 1 ]; then prefixes+=("$a"); else files+=("$a"); fi
    done
    "$QAC_BIN" complete -i "$index" -k "$k" "${prefixes[@]}" >"$tmp/$name.got" || fail "$name: complete exited $?"
    model complete "$opts" "$k" "${files[@]}" -- "${prefixes[@]}" >"$tmp/$name.want"
    same_completions "$tmp/$name.got" "$tmp/$name.want" || {
        diff "$tmp/$name.got" "$tmp/$name.want" | head -20; fail "$name: completions differ from the model"; }
    [ -s "$tmp/$name.got" ] || fail "$name: no output"
}

# ---- part 1: demo data, no shared data needed ------------------------------
demo=$root/data/demo
say "demo: build trec05.txt (lines) and excite97.tsv (aol); bad-line counts as the model computes them"
check_build demo_trec "$demo/trec05.txt"
check_build demo_excite "$demo/excite97.tsv"
grep -q 'control_char 1' "$tmp/demo_trec.log" || fail "demo: the DEL line of trec05 is not counted as control_char"
grep -q 'empty 533' "$tmp/demo_excite.log" || fail "demo: the 533 empty Excite queries are not counted"

say "demo: both files in one index; complete -k 3 'new yo', 'yahoo', 'weather ', 'caf' match the model"
"$QAC_BIN" build -o "$tmp/demo.qidx" "$demo/trec05.txt" "$demo/excite97.tsv" 2>"$tmp/demo.log" || fail "demo build"
grep -q '2 files, 54502 lines read' "$tmp/demo.log" || { cat "$tmp/demo.log"; fail "demo: total line count"; }
check_complete demo "$tmp/demo.qidx" 3 '{}' "$demo/trec05.txt" "$demo/excite97.tsv" -- "new yo" "yahoo" "weather " "caf" "NEW  YO"
head -4 "$tmp/demo.got" | sed 's/^/  /'
grep -q $'^new york' "$tmp/demo.got" || fail "demo: 'new yo' does not complete to new york..."

say "demo: --half-life 1 on the Excite sample matches the model's decayed scores"
"$QAC_BIN" build -o "$tmp/hl.qidx" --half-life 1 --quiet "$demo/excite97.tsv" || fail "half-life build"
check_complete hl "$tmp/hl.qidx" 10 '{"hl": 1}' "$demo/excite97.tsv" -- "a" "s" "yahoo"

say "demo: --min-count 3 keeps exactly the keys whose score is >= 3"
"$QAC_BIN" build -o "$tmp/min.qidx" --min-count 3 "$demo/excite97.tsv" 2>"$tmp/min.log" || fail "min-count build"
want=$(model complete '{"min": 3, "count": 1}' 1 "$demo/excite97.tsv" --)
grep -q " $want distinct keys" "$tmp/min.log" || { cat "$tmp/min.log"; fail "min-count: want $want keys"; }
[ "$want" -gt 0 ] || fail "min-count: the model keeps no key, the check is void"

say "usage errors exit 2, runtime errors exit 1, with a message"
expect() {
    local want=$1; shift
    "$@" >/dev/null 2>"$tmp/err"; local rc=$?
    [ $rc -eq "$want" ] || { cat "$tmp/err"; fail "'$*' exited $rc, want $want"; }
    [ -s "$tmp/err" ] || fail "'$*': no message on stderr"
    echo "  exit $rc: $(head -1 "$tmp/err")"
}
expect 2 "$QAC_BIN" build "$demo/trec05.txt"
expect 2 "$QAC_BIN" build -o "$tmp/x.qidx"
expect 2 "$QAC_BIN" build -o "$tmp/x.qidx" --format csv "$demo/trec05.txt"
expect 2 "$QAC_BIN" build -o "$tmp/x.qidx" --since 2006-02-30 "$demo/trec05.txt"
expect 2 "$QAC_BIN" build -o "$tmp/x.qidx" --half-life 0 "$demo/trec05.txt"
expect 2 "$QAC_BIN" build -o "$tmp/x.qidx" --bogus "$demo/trec05.txt"
expect 1 "$QAC_BIN" build -o "$tmp/x.qidx" "$tmp/no-such-file"
grep -q "no-such-file" "$tmp/err" || fail "missing file: message does not name the path"
expect 1 "$QAC_BIN" build -o "$tmp/no-such-dir/x.qidx" "$demo/excite97.tsv"
grep -q "no-such-dir" "$tmp/err" || fail "unwritable output: message does not name the path"
expect 2 "$QAC_BIN" complete -i "$tmp/demo.qidx" -k 0 new
expect 2 "$QAC_BIN" complete -i "$tmp/demo.qidx" -k 101 new
expect 2 "$QAC_BIN" complete new
expect 1 "$QAC_BIN" complete -i "$tmp/no-such-index" new
expect 1 "$QAC_BIN" complete -i "$demo/trec05.txt" new
expect 1 "$QAC_BIN" complete -i "$tmp/demo.qidx" $'caf\xe9s'
say "--strict stops at the first bad line with FILE:LINE: reason"
expect 1 "$QAC_BIN" build --strict -o "$tmp/x.qidx" "$demo/excite97.tsv"
line=$(model first_bad "$demo/excite97.tsv")
grep -q "excite97.tsv:$line: empty" "$tmp/err" || fail "strict: want line $line in the message"

if [ -z "${QAC_SHARED:-}" ]; then
    echo "SKIP: part 2 (slices of ../shared/data): QAC_SHARED unset"
    echo "part 1 checks passed"
    exit 0
fi

# ---- part 2: slices of the shared data -------------------------------------
d=$QAC_SHARED/data
head -n 4000 "$d/aol/aol-users-dev.tsv" >"$tmp/aol.tsv"
# Dirty rows appended by hand, one per reason the AOL format can hit.
printf '1\tcaf\xe9\t2006-03-01 00:00:01\t\t\n1\ttwo fields\n1\tq\t2006-02-30 00:00:00\t\t\n' >>"$tmp/aol.tsv"
printf '1\tx\x02y\t2006-03-01 00:00:01\t\t\n1\t-\t2006-03-01 00:00:01\t\t\n\r\n' >>"$tmp/aol.tsv"
head -n 5000 "$d/aol/aol-queries-train.txt" >"$tmp/train.txt"
head -n 5000 "$d/trec/06.efficiency_topics.all" >"$tmp/trec06.txt"
python3 - "$d/aol/aol-queries-train.txt" >"$tmp/counts.tsv" <<'EOF'
import collections, sys
c = collections.Counter(l.rstrip('\n') for l in list(open(sys.argv[1], encoding='utf-8'))[:3000])
for q, n in sorted(c.items()): print('%s\t%d' % (q, n))
print('bad count\t-3'); print('bad count 2\tmany'); print('fraction\t2.5')
EOF

say "aol slice (4000 rows + 6 dirty rows): lines, events, merged rows and bad lines by reason"
check_build aol "$tmp/aol.tsv"
say "AOL query list slice (lines)"
check_build train "$tmp/train.txt"
say "TREC 2006 ISO-8859-1 slice: non-UTF-8 lines skipped as invalid_utf8, nothing stops"
check_build trec06 "$tmp/trec06.txt"
grep -q 'invalid_utf8 [1-9]' "$tmp/trec06.log" || fail "trec06: no invalid_utf8 line found, the check is void"
say "counts file (made here from the AOL query list, with bad counts)"
check_build counts "$tmp/counts.tsv"
grep -q '(counts)' "$tmp/counts.log" || fail "counts: format not detected"

say "--strict on the TREC 2006 slice exits 1 at its first non-UTF-8 line"
expect 1 "$QAC_BIN" build --strict -o "$tmp/x.qidx" "$tmp/trec06.txt"
line=$(model first_bad "$tmp/trec06.txt")
grep -q "trec06.txt:$line: invalid_utf8" "$tmp/err" || fail "strict: want line $line in the message"

say "--since/--until split the AOL slice; key counts match the model"
t=$(python3 -c 'import calendar,time; print(calendar.timegm(time.strptime("2006-03-01 12:00:00","%Y-%m-%d %H:%M:%S")))')
"$QAC_BIN" build -o "$tmp/all.qidx" "$tmp/aol.tsv" 2>"$tmp/all.log" || fail "aol build"
"$QAC_BIN" build -o "$tmp/until.qidx" --until "2006-03-01 12:00:00" "$tmp/aol.tsv" 2>"$tmp/until.log" || fail "until"
"$QAC_BIN" build -o "$tmp/since.qidx" --since "2006-03-01 12:00:00" "$tmp/aol.tsv" 2>"$tmp/since.log" || fail "since"
keys() { sed -n 's/.* \([0-9]*\) distinct keys.*/\1/p' "$1"; }
ka=$(keys "$tmp/all.log") ku=$(keys "$tmp/until.log") ks=$(keys "$tmp/since.log")
wa=$(model complete '{"count": 1}' 1 "$tmp/aol.tsv" --)
wu=$(model complete "{\"until\": $t, \"count\": 1}" 1 "$tmp/aol.tsv" --)
ws=$(model complete "{\"since\": $t, \"count\": 1}" 1 "$tmp/aol.tsv" --)
echo "  keys all/until/since: qac $ka/$ku/$ks, model $wa/$wu/$ws"
[ "$ka" = "$wa" ] && [ "$ku" = "$wu" ] && [ "$ks" = "$ws" ] || fail "key counts differ"
[ "$ku" -lt "$ka" ] && [ "$ks" -lt "$ka" ] && [ "$ku" -gt 0 ] && [ "$ks" -gt 0 ] || fail "the split point does not split"

say "complete on the AOL slice + query list + counts: top 10 for several prefixes match the model"
"$QAC_BIN" build -o "$tmp/mix.qidx" --quiet "$tmp/aol.tsv" "$tmp/train.txt" "$tmp/counts.tsv" || fail "mix build"
check_complete mix "$tmp/mix.qidx" 10 '{}' "$tmp/aol.tsv" "$tmp/train.txt" "$tmp/counts.tsv" -- \
    "a" "b" "ww" "the " "new y" "google" "http" "zzzzzz" ""
check_complete mix_until "$tmp/until.qidx" 5 "{\"until\": $t}" "$tmp/aol.tsv" -- "a" "m" "c"
echo "all checks passed"
