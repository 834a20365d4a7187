#!/usr/bin/env bash
# it_complete_fuzzy.sh -- `qac complete --fuzzy MODE [--infix]` answers as a
# server with default settings answers COMPLETE ... FUZZY MODE [INFIX]
# WITHEDITS (the same lines: display, score, edits), on the demo corpus:
# typed prefixes cut from its keys (and later words first, for --infix),
# with 0-2 seeded random edits, every mode (0, 1, 2, auto), k 3 and 10; then
# the edit column's meaning, AUTO's thresholds, the work and scan limits
# (said on stderr; a cut class's edits negated) and bad --fuzzy values (exit
# 2 with the message). Exit 0 pass, 1 fail, 77 skip (no QAC_BIN or python3).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need python3
make_tmp it_complete_fuzzy

demo=$root/data/demo
"$QAC_BIN" build -o "$tmp/idx" --quiet "$demo/trec05.txt" "$demo/excite97.tsv" || fail "qac build of the demo corpus"

# the typed texts: prefixes of keys, later words first for INFIX, seeded edits
python3 - "$tmp/idx" >"$tmp/texts" <<'EOF'
import random, subprocess, sys, os
rng = random.Random(20261207)
keys = []
for f in ("trec05.txt", "excite97.tsv"):
    for line in open(os.path.join(os.environ.get("QAC_ROOT", "."), "data/demo", f), encoding="utf-8", errors="replace"):
        q = line.split("\t")[0].strip().lower()
        if q and '"' not in q and "\\" not in q and q.isascii() and q.isprintable():
            keys.append(q)
alpha = "abcdefghijklmnopqrstuvwxyz"
def edit(s):
    if len(s) < 2:
        return s
    i = rng.randrange(1, len(s))  # never the first character (exact by default)
    op = rng.randrange(4)
    if op == 0: return s[:i] + rng.choice(alpha) + s[i + 1:]
    if op == 1: return s[:i] + s[i + 1:]
    if op == 2: return s[:i] + rng.choice(alpha) + s[i:]
    return s[:i - 1] + s[i] + s[i - 1] + s[i + 1:] if i >= 2 else s
seen = set()
while len(seen) < 150:
    k = rng.choice(keys)
    w = k.split()
    if len(w) >= 2 and rng.random() < 0.5:  # a later word first, as INFIX is typed
        w = w[1:] + w[:1]
    t = " ".join(w)[: rng.randint(1, max(1, len(k)))]
    for _ in range(rng.choice((0, 1, 1, 2))):
        t = edit(t)
    t = t.strip()
    if t and t not in seen:
        seen.add(t)
        print(t)
EOF
[ "$(wc -l <"$tmp/texts")" -eq 150 ] || fail "the typed texts were not made"

port=$(free_port)
fail_log=$tmp/log
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port 0 || fail "qac serve did not start"

# server SPEC...: for each text (one a line in $tmp/texts) and each SPEC
# "MODE INFIX(0/1) K", the server's answer as qac complete prints it
server() {
    python3 - "$port" "$tmp/texts" "$@" <<'EOF'
import socket, sys
port, texts, specs = int(sys.argv[1]), open(sys.argv[2], encoding="utf-8").read().splitlines(), sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
out = sys.stdout
for spec in specs:
    mode, infix, k = spec.split()
    for t in texts:
        q = t.replace("\\", "\\\\").replace('"', '\\"')
        s.sendall(('COMPLETE "%s" LIMIT %s FUZZY %s %sWITHEDITS\r\n' % (q, k, mode, "INFIX " if infix == "1" else "")).encode())
        head = f.readline().decode().rstrip("\r\n")
        if not head.startswith("OK "):
            out.write("ERROR %s: %s\n" % (t, head))
            continue
        for _ in range(int(head[3:])):
            out.write(f.readline().decode("utf-8").rstrip("\r\n") + "\n")
        out.write("\n")
EOF
}

for spec in "0 0 10" "1 0 10" "2 0 10" "auto 0 10" "auto 0 3" "0 1 10" "1 1 10" "2 1 10" "auto 1 10" "auto 1 3"; do
    read -r mode infix k <<<"$spec"
    opts=(-k "$k" --fuzzy "$mode")
    [ "$infix" = 1 ] && opts+=(--infix)
    mapfile -t texts <"$tmp/texts"
    "$QAC_BIN" complete -i "$tmp/idx" "${opts[@]}" "${texts[@]}" >"$tmp/cli" 2>"$tmp/cli.err" ||
        bad "qac complete ${opts[*]}: exit $? ($(head -3 "$tmp/cli.err"))"
    server "$spec" >"$tmp/srv"
    if cmp -s "$tmp/cli" "$tmp/srv"; then
        ok "qac complete ${opts[*]} = COMPLETE ... FUZZY $mode$([ "$infix" = 1 ] && echo ' INFIX') WITHEDITS (150 texts, $(grep -c . "$tmp/cli") lines)"
    else
        bad "qac complete ${opts[*]} differs from the server: $(diff "$tmp/cli" "$tmp/srv" | head -8 | tr '\n' '|')"
    fi
done
# the comparison can fail: the typo'd texts must have found typo matches
grep -q $'\t[12]$' "$tmp/cli" && ok "typo matches were compared" || bad "no line with edits: nothing compared"

# the edit column and AUTO's thresholds (1 edit from 4 characters, 2 from 8)
check "--fuzzy auto, 'wether'" "$("$QAC_BIN" complete -i "$tmp/idx" -k 1 --fuzzy auto wether)" "weather	55	1"
check "--fuzzy auto, 3 characters: exact only" "$("$QAC_BIN" complete -i "$tmp/idx" -k 1 --fuzzy auto wth | tr '\n' '|')" "|"
check "--fuzzy 1, exact first" "$("$QAC_BIN" complete -i "$tmp/idx" -k 1 --fuzzy 1 weath)" "weather	55	0"
check "no --fuzzy: two fields, exact" "$("$QAC_BIN" complete -i "$tmp/idx" -k 1 wether | tr '\n' '|')" "|"

# the limits, said on stderr, the lines still the best found: the typo
# search's work limit (a dense corpus: 200,000 random keys over 8 letters;
# the edits of the class it cut negated, as WITHEDITS sends them) and the
# word search's scan limit (two words of 25,000 keys each that meet once)
python3 -c '
import random
r = random.Random(1)
for i in range(200000):
    print("a" + "".join(r.choice("abcdefgh") for _ in range(10)) + "\t1")
for i in range(25000):
    print("k%05d alpha\t%d\nk%05d beta\t%d" % (i, 10 + i % 7, i, 10 + i % 7))
print("alpha beta\t1")' >"$tmp/dense.tsv"
"$QAC_BIN" build -o "$tmp/dense" --quiet "$tmp/dense.tsv" || fail "qac build of the dense corpus"
"$QAC_BIN" complete -i "$tmp/dense" -k 100 --fuzzy 2 abcdefghab >"$tmp/out" 2>"$tmp/e" || bad "work limit: exit $?"
grep -q "prefix 1: the typo search stopped at its work limit (20000 units) in its 2-edit class: the best found" \
    "$tmp/e" && ok "--fuzzy 2, work limit: said" || bad "work limit: stderr $(cat "$tmp/e")"
cut -f3 "$tmp/out" | grep -q . && ! cut -f3 "$tmp/out" | grep -qv '^-2$\|^$' &&
    ok "--fuzzy 2, work limit: the cut class's edits negated" || bad "work limit: $(cut -f3 "$tmp/out" | sort | uniq -c | tr '\n' ' ')"
"$QAC_BIN" complete -i "$tmp/dense" --infix --fuzzy 1 'beta alpha' >"$tmp/out" 2>"$tmp/e" || bad "scan limit: exit $?"
grep -q "prefix 1: the word search stopped at its limit (20000 units): the best found" "$tmp/e" &&
    ok "--infix, scan limit: said" || bad "scan limit: stderr $(cat "$tmp/e")"

# bad values: exit 2 with the message
for v in 3 -1 x 12 ""; do
    "$QAC_BIN" complete -i "$tmp/idx" --fuzzy "$v" weather >/dev/null 2>"$tmp/e"
    check "--fuzzy '$v': exit" "$?" "2"
    grep -q "bad --fuzzy '$v' (want 0, 1, 2 or auto)" "$tmp/e" && ok "--fuzzy '$v': message" || bad "message: $(cat "$tmp/e")"
done

[ "$fails" -eq 0 ]
