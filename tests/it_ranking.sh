#!/usr/bin/env bash
# it_ranking.sh -- the learned ranker's offline half, end to end.
#  1. Synthetic log with a known signal: every session is "<topic> news"
#     then "weather <topic>" five minutes later; the background list makes
#     "weather forecast" far more popular than any "weather <topic>". Only the
#     session (word overlap, trigrams, embeddings) tells which "weather ..."
#     the user wants, so embed -> train (history part) -> eval (test part)
#     must give learned a clearly higher rand MRR than personal. Its rand
#     targets by candidate source add up to the whole.
#     User folds: train --fold F/2 over both folds sees every training event
#     once; data/folds.sh (2 folds) puts learned clearly above personal too.
#  2. Usage and runtime errors (exit 2 / 1), corrupt EMB refused.
#  3. With QAC_TEST_REDIS_PORT: qac load twice into the test redis; the
#     pointer NS:current switches to the second version, whose keys are all
#     there, and the first version's keys are gone. A dead port exits 1.
#  4. With QAC_SHARED: the dev split of EVALUATION.md, full pipeline; learned
#     rand MRR > personal's, mpc/personal unchanged.
# Parts 3 and 4 print a "SKIP:" line when they cannot run (tests/run.sh counts
# each as one skipped).
set -u
qac=${QAC_BIN:?QAC_BIN not set}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
make_tmp it_ranking
gt() { python3 -c 'import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if a>b else 1)' "$@"; }

# --- 1. synthetic ------------------------------------------------------------
python3 - "$tmp" <<'PY'
import sys, random
d = sys.argv[1]
rnd = random.Random(5)
topics = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
          "kilo", "lima", "mike", "november", "oscar", "papa"]
with open(d + "/log.tsv", "w") as f:
    f.write("AnonID\tQuery\tQueryTime\tItemRank\tClickURL\n")
    for day in range(1, 29):
        for u in range(1, 121):
            t = rnd.choice(topics)
            h, m = rnd.randrange(0, 23), rnd.randrange(0, 50)
            f.write("%d\t%s news\t2006-05-%02d %02d:%02d:00\t\t\n" % (u, t, day, h, m))
            f.write("%d\tweather %s\t2006-05-%02d %02d:%02d:00\t\t\n" % (u, t, day, h, m + 5))
with open(d + "/bg.txt", "w") as f:
    for i in range(3000): f.write("weather forecast\n")
    for i in range(1500): f.write("weather radar\n")
PY
split=2006-05-22
"$qac" build --keys eval -o "$tmp/idx" --until $split "$tmp/log.tsv" "$tmp/bg.txt" >/dev/null 2>&1 || fail "build"
"$qac" embed -o "$tmp/emb" --until $split --buckets 65536 --epochs 3 "$tmp/log.tsv" 2>"$tmp/err" || { cat "$tmp/err"; fail "embed"; }
"$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" -o "$tmp/model" --split $split "$tmp/log.tsv" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "train"; }
"$qac" eval -i "$tmp/idx" --embeddings "$tmp/emb" --model "$tmp/model" --split $split --json "$tmp/e.json" \
    "$tmp/log.tsv" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "eval"; }
l=$(jget "$tmp/e.json" systems learned mrr rand)
p=$(jget "$tmp/e.json" systems personal mrr rand)
echo "synthetic: learned rand $l, personal rand $p"
gt "$l" "$(python3 -c "print($p + 0.1)")" || { cat "$tmp/out"; fail "learned ($l) does not beat personal ($p) by 0.1 on the synthetic log"; }
grep -q "learned rerank:" "$tmp/out" || fail "eval does not report the rerank cost"
# rand targets by source: the shares add up to 1 and the parts' MRR to learned's rand MRR
python3 - "$tmp/e.json" <<'PY' || fail "learned_rand_by_source does not add up"
import json, sys
j = json.load(open(sys.argv[1])); s = j["learned_rand_by_source"]
n = j["events"]["prefixes"]["rand"]
assert sum(s["prefixes"].values()) == n, (s, n)
assert abs(sum(s["share"].values()) - 1) < 1e-6, s
part = sum(s["mrr"][k] * s["prefixes"][k] for k in s["mrr"]) / n
assert abs(part - j["systems"]["learned"]["mrr"]["rand"]) < 1e-6, (part, j["systems"]["learned"]["mrr"]["rand"])
assert s["prefixes"]["trie_and_history"] > 0 and s["mrr"]["not_a_candidate"] == 0, s
PY
# same seed, same EMB bytes
"$qac" embed -o "$tmp/emb2" --until $split --buckets 65536 --epochs 3 "$tmp/log.tsv" 2>/dev/null || fail "embed 2"
cmp -s "$tmp/emb" "$tmp/emb2" || fail "embed is not deterministic for a seed"
# user folds: --fold F/2 leaves out the fold's users, so the two folds' training events add up
# to the whole log's; data/folds.sh runs both folds and reports learned above personal
ev() { sed -n 's/.*event=train.done events=\([0-9]*\) .*/\1/p' "$1"; }
"$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" -o "$tmp/m" --split $split "$tmp/log.tsv" 2>"$tmp/tall" || fail "train"
nf=0
for f in 0 1; do
    "$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" -o "$tmp/m$f" --split $split --fold $f/2 "$tmp/log.tsv" \
        2>"$tmp/t$f" || { cat "$tmp/t$f"; fail "train --fold $f/2"; }
    nf=$((nf + $(ev "$tmp/t$f")))
done
[ "$nf" = "$(ev "$tmp/tall")" ] || fail "train --fold: $nf events over both folds, $(ev "$tmp/tall") without folds"
[ "$(ev "$tmp/t0")" -gt 0 ] && [ "$(ev "$tmp/t1")" -gt 0 ] || fail "train --fold: an empty fold"
"$root/data/folds.sh" --folds 2 --qac "$qac" --dir "$tmp/folds" --split $split "$tmp/idx" "$tmp/emb" "$tmp/log.tsv" \
    >"$tmp/folds.out" 2>"$tmp/err" || { cat "$tmp/err"; fail "data/folds.sh"; }
fl=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["systems"]["learned"]["rand"]["mean"])' "$tmp/folds/folds.json")
fp=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["systems"]["personal"]["rand"]["mean"])' "$tmp/folds/folds.json")
gt "$fl" "$(python3 -c "print($fp + 0.1)")" || { cat "$tmp/folds.out"; fail "folds: learned $fl vs personal $fp"; }
grep -q "learned - heuristic, per fold" "$tmp/folds.out" || fail "folds.sh: no per-fold differences"
"$root/data/folds.sh" --folds 1 "$tmp/idx" "$tmp/emb" "$tmp/log.tsv" 2>/dev/null; [ $? = 2 ] || fail "folds.sh --folds 1: want 2"
echo "folds: learned rand $fl, personal $fp (user-disjoint, 2 folds)"
# holdout: learns before May 15, scores [May 15, split) for learned, personal
# and heuristic, with the seen / unseen split of rand; the session signal
# puts learned above personal there too
"$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" -o "$tmp/hmodel" --split $split --holdout 2006-05-15 \
    "$tmp/log.tsv" >"$tmp/hold" 2>"$tmp/err" || { cat "$tmp/err"; fail "train --holdout"; }
for s in learned personal heuristic; do grep -q "^$s " "$tmp/hold" || fail "holdout table lacks $s"; done
grep -q "target never issued by the user: [0-9]* prefixes, among the candidates" "$tmp/hold" || fail "holdout seen/unseen"
hl=$(awk '$1 == "learned" {print $7}' "$tmp/hold"); hp=$(awk '$1 == "personal" {print $7}' "$tmp/hold")
gt "$hl" "$(python3 -c "print($hp + 0.1)")" || { cat "$tmp/hold"; fail "holdout: learned $hl vs personal $hp"; }
"$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" -o "$tmp/m" --causal nope "$tmp/log.tsv" 2>"$tmp/err"
[ $? = 2 ] || fail "--causal nope should exit 2"
grep -q "causal wants all or user" "$tmp/err" || fail "--causal message"

# --- 2. errors ---------------------------------------------------------------
"$qac" embed "$tmp/log.tsv" 2>"$tmp/err"; [ $? = 2 ] || fail "embed without -o should exit 2"
grep -q "missing -o" "$tmp/err" || fail "embed usage message"
"$qac" embed -o "$tmp/x" --dims 65 "$tmp/log.tsv" 2>/dev/null; [ $? = 2 ] || fail "--dims 65 should exit 2"
"$qac" train -i "$tmp/idx" -o "$tmp/m" "$tmp/log.tsv" 2>"$tmp/err"; [ $? = 2 ] || fail "train without --embeddings"
"$qac" eval -i "$tmp/idx" --model "$tmp/model" "$tmp/log.tsv" 2>/dev/null; [ $? = 2 ] || fail "eval --model alone"
head -c 1000 "$tmp/emb" >"$tmp/bad.emb"
"$qac" train -i "$tmp/idx" --embeddings "$tmp/bad.emb" -o "$tmp/m" "$tmp/log.tsv" 2>"$tmp/err"
[ $? = 1 ] || fail "truncated EMB should exit 1"
grep -q "truncated\|checksum" "$tmp/err" || fail "truncated EMB reason: $(cat "$tmp/err")"
"$qac" eval -i "$tmp/idx" --embeddings "$tmp/emb" --model "$tmp/emb" "$tmp/log.tsv" 2>"$tmp/err" >/dev/null
[ $? = 1 ] || fail "an EMB as MODEL should exit 1"
"$qac" load --redis 127.0.0.1:1 "$tmp/emb" 2>"$tmp/err"; [ $? = 1 ] || fail "load to a dead redis should exit 1"
grep -q "cannot connect" "$tmp/err" || fail "dead redis message: $(cat "$tmp/err")"
"$qac" load --redis nohostport "$tmp/emb" 2>/dev/null; [ $? = 2 ] || fail "load --redis without port"

# --- 3. redis ----------------------------------------------------------------
if [ -n "${QAC_TEST_REDIS_PORT:-}" ] && command -v redis-cli >/dev/null; then
    R="redis-cli -p $QAC_TEST_REDIS_PORT"
    ns=itrank$$
    "$qac" load --redis 127.0.0.1:$QAC_TEST_REDIS_PORT --namespace $ns --batch 100 "$tmp/emb" 2>"$tmp/err" \
        || { cat "$tmp/err"; fail "load 1"; }
    v1=$($R get $ns:current)
    n1=$($R --scan --pattern "$ns:v$v1:*" | wc -l)
    [ "$n1" -gt 100 ] || fail "load 1 wrote only $n1 keys"
    [ "$($R hget $ns:v$v1:meta dims)" = 32 ] || fail "meta dims"
    [ "$($R strlen "$ns:v$v1:q:weather alpha")" = 36 ] || fail "query vector row (4 + 32 bytes)"
    "$qac" load --redis 127.0.0.1:$QAC_TEST_REDIS_PORT --namespace $ns "$tmp/emb" 2>"$tmp/err" || fail "load 2"
    v2=$($R get $ns:current)
    [ "$v2" -gt "$v1" ] || fail "pointer did not switch ($v1 -> $v2)"
    n2=$($R --scan --pattern "$ns:v$v2:*" | wc -l)
    [ "$n2" = "$n1" ] || fail "version 2 has $n2 keys, version 1 had $n1"
    old=$($R --scan --pattern "$ns:v$v1:*" | wc -l)
    [ "$old" = 0 ] || fail "$old keys of version $v1 left after the switch"
    $R --scan --pattern "$ns:*" | xargs -r $R unlink >/dev/null
    echo "redis: versions $v1 -> $v2, $n2 keys, old version deleted"
else
    echo "SKIP: part 3 (qac load into redis): no QAC_TEST_REDIS_PORT or no redis-cli"
fi

# --- 4. dev split ------------------------------------------------------------
if [ -n "${QAC_SHARED:-}" ] && [ -f "$QAC_SHARED/data/aol/aol-users-dev.tsv" ]; then
    D=$QAC_SHARED/data/aol
    "$qac" build --keys eval -o "$tmp/dev.idx" --until 2006-05-18 "$D/aol-users-dev.tsv" "$D/aol-queries-train.txt" \
        >/dev/null 2>&1 || fail "dev build"
    "$qac" embed -o "$tmp/dev.emb" --until 2006-05-18 "$D/aol-users-dev.tsv" 2>/dev/null || fail "dev embed"
    "$qac" train -i "$tmp/dev.idx" --embeddings "$tmp/dev.emb" -o "$tmp/dev.model" "$D/aol-users-dev.tsv" \
        2>/dev/null || fail "dev train"
    "$qac" eval -i "$tmp/dev.idx" --embeddings "$tmp/dev.emb" --model "$tmp/dev.model" --json "$tmp/dev.json" \
        "$D/aol-users-dev.tsv" >"$tmp/dev.out" 2>/dev/null || fail "dev eval"
    cat "$tmp/dev.out"
    [ "$(printf %.4f "$(jget "$tmp/dev.json" systems personal mrr rand)")" = 0.4929 ] || fail "personal moved"
    l=$(jget "$tmp/dev.json" systems learned mrr rand)
    p=$(jget "$tmp/dev.json" systems personal mrr rand)
    gt "$l" "$p" || fail "dev: learned rand $l <= personal $p"
else
    echo "SKIP: part 4 (dev split of EVALUATION.md): QAC_SHARED unset or no data/aol/aol-users-dev.tsv in it"
fi
echo "it_ranking: ok"
