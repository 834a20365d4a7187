#!/usr/bin/env bash
# tests/bench/jermp.sh -- side-by-side prefix top-10: qac's trie vs
# jermp/autocomplete (Gog, Pibiri, Venturini, "Efficient and Effective Query
# Auto-Completion", SIGIR 2020), a static, compressed research index.
#
#   JERMP_DIR=/path/to/autocomplete tests/bench/jermp.sh [CORPUS.tsv PREFIXES.txt]
#
# JERMP_DIR is a built jermp/autocomplete tree: JERMP_DIR/build/build and
# JERMP_DIR/build/prefix_topk_ns (a small ns wall-clock driver added beside
# its benchmark_prefix_topk, see docs/JERMP.md). BENCH_TRIE is qac's
# bench_trie binary (default build/rel/bench/bench_trie). ROUNDS (default 3)
# runs of each engine, alternating; the table shows medians of the rounds.
# Without CORPUS/PREFIXES: /tmp/c1m.tsv and /tmp/p1m.txt (made with
# ../shared/tools/synth_queries.py when absent). JERMP_KEEP=DIR keeps the
# converted files, both indexes and the per-round outputs in DIR.
#
# Conversion (tests/bench/jermp_convert.py; both engines then read the SAME
# filtered corpus):
#   - jermp indexes whitespace-separated terms; a query is kept only if it is
#     its terms joined by single spaces, has <= 64 terms and <= 120 bytes
#     (its MAX_NUM_CHARS_PER_QUERY is 128, MAX_NUM_TERMS_PER_QUERY 64);
#   - docIDs are ranks by count (0 = most popular; ties by bytes), which is
#     jermp's "ids sorted by score"; files written: BASE (docid terms..., in
#     term-id order), BASE.dict, BASE.mapped, BASE.mapped.stats,
#     BASE.inverted, BASE.forward -- the formats of its test_data/*.py;
#   - prefixes are passed verbatim (its prefix_topk treats every term but the
#     last as complete and the last one as a prefix, which is byte-prefix
#     search for single-spaced queries); prefixes with a double space or a
#     leading space are dropped for both engines.
# It is a benchmark, not a test: without JERMP_DIR it explains and exits 0.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
jd=${JERMP_DIR:-}
if [ -z "$jd" ] || [ ! -x "$jd/build/build" ] || [ ! -x "$jd/build/prefix_topk_ns" ]; then
    cat <<'EOF'
jermp.sh: JERMP_DIR is not set or not built; nothing to compare.
  Get https://github.com/jermp/autocomplete (with submodules essentials and
  cmd_line_parser), add the prefix_topk_ns driver described in docs/JERMP.md,
  then: cmake -S DIR -B DIR/build -DCMAKE_BUILD_TYPE=Release && make -C DIR/build
  and run: JERMP_DIR=DIR tests/bench/jermp.sh [CORPUS.tsv PREFIXES.txt]
EOF
    exit 0
fi
bench_trie=${BENCH_TRIE:-$root/build/rel/bench/bench_trie}
if [ ! -x "$bench_trie" ]; then
    echo "jermp.sh: $bench_trie not built; run: make build/rel/bench/bench_trie" >&2
    exit 1
fi
corpus=${1:-/tmp/c1m.tsv}
prefixes=${2:-/tmp/p1m.txt}
rounds=${ROUNDS:-3}
shared=${QAC_SHARED:-$root/../shared}
if [ ! -s "$corpus" ] && [ $# -eq 0 ]; then
    python3 "$shared/tools/synth_queries.py" corpus 1000000 "$corpus"
fi
if [ ! -s "$prefixes" ] && [ $# -eq 0 ]; then
    python3 "$shared/tools/synth_queries.py" prefixes "$corpus" 100000 "$prefixes"
fi
if [ -n "${JERMP_KEEP:-}" ]; then  # keep the converted files and indexes there
    tmp=$JERMP_KEEP
    mkdir -p "$tmp"
else
    tmp=$(mktemp -d /tmp/qac-jermp.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
fi

echo "== converting $corpus for jermp (filtered copy read by both engines)"
t0=$(date +%s.%N)
python3 "$root/tests/bench/jermp_convert.py" "$corpus" "$tmp" "$prefixes"
echo "convert $(echo "$(date +%s.%N) - $t0" | bc) s"

echo "== jermp build (ef_type1)"
t0=$(date +%s.%N)
"$jd/build/build" ef_type1 "$tmp/c" -o "$tmp/jermp.idx" > "$tmp/jbuild.log"
jbuild=$(echo "$(date +%s.%N) - $t0" | bc)
jbytes=$(stat -c %s "$tmp/jermp.idx")
echo "build $jbuild s"
echo "index_bytes $jbytes B"

echo "== qac bench_trie: build + save (once), then load-only rounds"
"$bench_trie" "$tmp/corpus.tsv" "$tmp/prefixes.txt" "$tmp/qac.snap" > "$tmp/qbuild.txt"
grep -E '^(keys|build|snapshot_bytes|bulk_sort|bulk_build) ' "$tmp/qbuild.txt"

val() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }
for r in $(seq 1 "$rounds"); do
    "$jd/build/prefix_topk_ns" "$tmp/jermp.idx" 10 < "$tmp/prefixes.txt" > "$tmp/j$r.txt"
    "$bench_trie" --load-only "$tmp/qac.snap" "$tmp/prefixes.txt" > "$tmp/q$r.txt"
    echo "round $r: jermp median $(val top10_median "$tmp/j$r.txt") ns," \
        "qac median $(val top10_median "$tmp/q$r.txt") ns"
done
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
med() { for r in $(seq 1 "$rounds"); do val "$1" "$2$r.txt"; done | median; }
qbuild=$(val build "$tmp/qbuild.txt")
qbytes=$(val snapshot_bytes "$tmp/qbuild.txt")
echo
printf '%-26s %14s %14s\n' "figure (median of $rounds)" jermp_type1 qac_trie
for f in top10_mean top10_median top10_p90 top10_p99 top10_max top10_results_avg; do
    printf '%-26s %14s %14s\n' "$f" "$(med $f "$tmp/j")" "$(med $f "$tmp/q")"
done
printf '%-26s %14s %14s\n' "index/snapshot bytes" "$jbytes" "$qbytes"
printf '%-26s %14s %14s\n' "build s" "$jbuild" "$qbuild"
