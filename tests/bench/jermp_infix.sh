#!/usr/bin/env bash
# tests/bench/jermp_infix.sh -- words anywhere (INFIX) top-10 side by side:
# qac's word index (trie_words_topk, tests/bench/bench_words) and
# jermp/autocomplete's conjunctive top-k (Gog, Pibiri, Venturini, SIGIR 2020),
# the research anchor of issue 15's speed targets, on the SAME query strings
# over the SAME corpus, on this machine (docs/JERMP.md, "Conjunctive search").
#
#   JERMP_DIR=/path/to/autocomplete tests/bench/jermp_infix.sh [CORPUS.tsv]
#
# JERMP_DIR is a built jermp/autocomplete tree with JERMP_DIR/build/build and
# JERMP_DIR/build/conjunctive_topk_ns (the ns driver docs/JERMP.md describes,
# added beside its benchmark_conjunctive_topk). CORPUS defaults to
# build/bench-data/corpus-1000000.tsv (tests/bench/run.sh's cache), made with
# ../shared/tools/synth_queries.py when absent.
# Environment: JERMP_TYPE (default ef_type1: completion trie + inverted index
# + forward index; ef_type2 the same with a front-coded completion dictionary;
# ef_type3 a heap over the prefix's terms' lists instead of the forward index;
# ef_type4 Bast and Weber's blocked lists, JERMP_C, default 0.0001),
# ROUNDS (3), NQ (bench_words' query count, 20000), CHECK (brute-force sample,
# 300; 0 skips), ALONE (1: also time each typed-word count's queries alone, 0 skips), BENCH_WORDS (default build/rel/bench/bench_words),
# JERMP_KEEP=DIR keeps the converted files, both indexes and every output in
# DIR and reuses a conversion already there (DIR/convert.txt).
#
# Steps:
#   1. tests/bench/jermp_convert.py: the corpus to jermp's input; its filtered
#      copy (corpus.tsv: lines jermp can index) is what BOTH engines index;
#   2. jermp's build; bench_words builds qac's trie and word index from the
#      same corpus.tsv (kept), writes its NQ queries (bench_words' own: keys
#      drawn by count, 1-4 of their words, a later word first, shuffled, the
#      last cut to 1..its length bytes) and qac's answers;
#   3. jermp_infix.py filter: the queries jermp can take (q.kept);
#   4. ROUNDS rounds, alternating (never at once): jermp's driver and
#      bench_words (BENCH_WORDS_REUSE=1: loads the saved index) each time every
#      query alone, k = 10, 3 passes, each query's fastest kept (TIMES files);
#      the table (jermp_infix.py table) is per typed-word count over the kept
#      queries, the median of the rounds' figures;
#   5. with ALONE=1, ROUNDS more rounds timing each typed-word count's queries
#      in a run of their own (bench_words BENCH_WORDS_QUERIES_FROM), as
#      jermp's own benchmark does with its per-length query files: in the
#      mixed stream a 1-word query follows multi-word ones that walked long
#      lists and evicted the caches;
#   6. jermp_infix.py check: both engines' answers against a brute force of
#      their own semantics on CHECK queries, and how many of all the kept
#      queries get the same top-10 set from both.
# It is a benchmark, not a test: without JERMP_DIR it explains and exits 0.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
jd=${JERMP_DIR:-}
if [ -z "$jd" ] || [ ! -x "$jd/build/build" ] || [ ! -x "$jd/build/conjunctive_topk_ns" ]; then
    cat <<'EOF'
jermp_infix.sh: JERMP_DIR is not set or not built; nothing to compare.
  Get https://github.com/jermp/autocomplete (with submodules essentials and
  cmd_line_parser), add the conjunctive_topk_ns driver described in
  docs/JERMP.md, then: cmake -S DIR -B DIR/build -DCMAKE_BUILD_TYPE=Release
  -DUSE_INTRINSICS=On -DUSE_PDEP=On && make -C DIR/build build conjunctive_topk_ns
  and run: JERMP_DIR=DIR tests/bench/jermp_infix.sh [CORPUS.tsv]
EOF
    exit 0
fi
bw=${BENCH_WORDS:-$root/build/rel/bench/bench_words}
if [ ! -x "$bw" ]; then
    echo "jermp_infix.sh: $bw not built; run: make build/rel/bench/bench_words" >&2
    exit 1
fi
corpus=${1:-$root/build/bench-data/corpus-1000000.tsv}
shared=${QAC_SHARED:-$root/../shared}
if [ ! -s "$corpus" ] && [ $# -eq 0 ] && [ -f "$shared/tools/synth_queries.py" ]; then
    mkdir -p "$(dirname "$corpus")"
    python3 "$shared/tools/synth_queries.py" corpus 1000000 "$corpus"
fi
if [ ! -s "$corpus" ]; then
    echo "jermp_infix.sh: no corpus $corpus (make one: ../shared/tools/synth_queries.py corpus N FILE)" >&2
    exit 1
fi
type=${JERMP_TYPE:-ef_type1}
rounds=${ROUNDS:-3}
nq=${NQ:-20000}
check=${CHECK:-300}
alone=${ALONE:-1}
py=$root/tests/bench/jermp_infix.py
if [ -n "${JERMP_KEEP:-}" ]; then
    tmp=$JERMP_KEEP
    mkdir -p "$tmp"
else
    tmp=$(mktemp -d /tmp/qac-jermp-infix.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
fi
load() { cut -d' ' -f1-3 /proc/loadavg; }
val() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }

echo "== jermp_infix: corpus $corpus, $type, $nq queries, $rounds rounds (load $(load))"
if [ -s "$tmp/convert.txt" ] && [ -s "$tmp/corpus.tsv" ]; then
    echo "== reusing the conversion in $tmp"
else
    t0=$(date +%s.%N)
    python3 "$root/tests/bench/jermp_convert.py" "$corpus" "$tmp" >"$tmp/convert.txt"
    echo "convert $(echo "$(date +%s.%N) - $t0" | bc) s" >>"$tmp/convert.txt"
fi
cat "$tmp/convert.txt"

echo "== jermp build ($type)"
t0=$(date +%s.%N)
jargs=()
[ "$type" = ef_type4 ] && jargs=(-c "${JERMP_C:-0.0001}")  # Bast and Weber's block parameter (its README)
"$jd/build/build" "$type" "$tmp/c" -o "$tmp/jermp.idx" "${jargs[@]}" >"$tmp/jbuild.log" 2>&1
echo "jermp_build $(echo "$(date +%s.%N) - $t0" | bc) s, index_bytes $(stat -c %s "$tmp/jermp.idx") B"

echo "== qac bench_words: build + save the trie and word index (kept), the queries, qac's answers"
rm -f "$tmp/qac.snap" "$tmp/qac.snap.words"
BENCH_WORDS_KEEP=1 BENCH_WORDS_QUERIES="$tmp/q.txt" BENCH_WORDS_ANSWERS="$tmp/qac.answers" \
    "$bw" "$tmp/corpus.tsv" "$nq" "$tmp/qac.snap" >"$tmp/qbuild.txt"
grep -E '^(keys|words_build|words_bytes|rss_total_loaded|infix10_all_truncated) ' "$tmp/qbuild.txt" | sed 's/^/   /'
python3 "$py" filter "$tmp/q.txt" "$tmp/q.kept"
if ! cmp -s "$tmp/q.txt" "$tmp/q.kept"; then
    echo "   (the table and the check cover the kept queries only; qac still times all of them)"
fi
"$jd/build/conjunctive_topk_ns" "$type" "$tmp/jermp.idx" 10 "$tmp/jermp.answers" <"$tmp/q.kept" >"$tmp/jwarm.txt"
# qac's answers for the kept queries only, in q.kept's order
python3 - "$tmp/q.txt" "$tmp/qac.answers" "$tmp/q.kept" <<'PY'
import sys
qs = open(sys.argv[1], 'rb').read().split(b'\n')[:-1]
an = open(sys.argv[2], 'rb').read().split(b'\n')[:-1]
kept = set(open(sys.argv[3], 'rb').read().split(b'\n')[:-1])
assert len(qs) == len(an)
with open(sys.argv[2], 'wb') as f:
    for q, a in zip(qs, an):
        if q in kept:
            f.write(a + b'\n')
PY

for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) = 1 ]; then order="jermp qac"; else order="qac jermp"; fi
    for e in $order; do
        if [ "$e" = jermp ]; then
            "$jd/build/conjunctive_topk_ns" "$type" "$tmp/jermp.idx" 10 - "$tmp/jermp$r.times" \
                <"$tmp/q.kept" >"$tmp/jermp$r.txt"
        else
            BENCH_WORDS_REUSE=1 BENCH_WORDS_TIMES="$tmp/qac$r.times" \
                "$bw" "$tmp/corpus.tsv" "$nq" "$tmp/qac.snap" >"$tmp/qac$r.txt"
        fi
    done
    echo "round $r ($order; load $(load)): qac best median $(val infix10_best_all_median "$tmp/qac$r.txt") ns," \
        "jermp best median $(val conj10_best_all_median "$tmp/jermp$r.txt") ns," \
        "qac checksum $(val infix10_answers_checksum "$tmp/qac$r.txt")"
done
echo
python3 "$py" table "$tmp" "$rounds"
echo "(qac truncated by its scan limit: $(val infix10_all_truncated "$tmp/qac1.txt") of $nq; load $(load))"

if [ "$alone" = 1 ]; then
    # each typed-word count's queries ALONE (as jermp's benchmark_conjunctive_topk runs its
    # per-length query files): no query of another count between them to evict the caches
    for w in 1 2 3 4; do awk -v w="$w" 'NF == w' "$tmp/q.kept" >"$tmp/q$w.kept"; done
    for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) = 1 ]; then order="jermp qac"; else order="qac jermp"; fi
        for e in $order; do
            : >"$tmp/${e}A$r.times"
            for w in 1 2 3 4; do
                [ -s "$tmp/q$w.kept" ] || continue
                if [ "$e" = jermp ]; then
                    "$jd/build/conjunctive_topk_ns" "$type" "$tmp/jermp.idx" 10 - "$tmp/t.times" \
                        <"$tmp/q$w.kept" >/dev/null
                else
                    BENCH_WORDS_REUSE=1 BENCH_WORDS_QUERIES_FROM="$tmp/q$w.kept" BENCH_WORDS_TIMES="$tmp/t.times" \
                        "$bw" "$tmp/corpus.tsv" "$nq" "$tmp/qac.snap" >/dev/null
                fi
                cat "$tmp/t.times" >>"$tmp/${e}A$r.times"
            done
        done
        echo "round $r alone ($order; load $(load))"
    done
    echo
    echo "== each typed-word count's queries alone (a run per count; 'all' = those runs' times together)"
    python3 "$py" table "$tmp" "$rounds" A
    echo "(load at the end $(load))"
fi
if [ "$check" -gt 0 ]; then
    echo
    echo "== answers (jermp_infix.py check)"
    python3 "$py" check "$tmp" "$check"
fi
