#!/usr/bin/env bash
# tests/bench/run.sh BUILD_DIR QAC_BIN -- `make bench`.
#
# 1. The trie in-process (bench_trie): for each size in QAC_BENCH_SIZES
#    (default "1000000 10000000" distinct queries), a deterministic synthetic
#    corpus and 100,000 benchmark prefixes from ../shared/tools/synth_queries.py
#    (cached in build/bench-data/, made once: the 10M corpus takes minutes),
#    then build, save, and load + top-10 latency in a fresh process.
#    Also `qac build` wall time on the same corpus (hash, sort, trie, save),
#    and bench_words: the word index (trie_words.h) build time, memory and
#    infix top-10 latency on the same corpus.
#    Then bench_rerank: the learned rerank of 50 candidates (synthetic, fixed).
# 2. The server (tests/bench/server.sh): redis-benchmark against qac and against
#    a redis-server in the same run.
# 3. Other benchmark scripts present in tests/bench/ (replay.sh, ...; fuzzy_peers.sh: qac FUZZY 1/2/AUTO
#    beside Lucene's FuzzySuggester and RediSearch FT.SUGGET FUZZY on typo'd prefixes, SKIP lines for
#    peers that are absent).
# Figures are medians of what each tool measured; the machine is shared and
# noisy, so compare ratios within one run.
set -euo pipefail
build=${1:?usage: tests/bench/run.sh BUILD_DIR QAC_BIN}
qac=${2:?usage: tests/bench/run.sh BUILD_DIR QAC_BIN}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
shared=${QAC_SHARED:-$root/../shared}
if [ ! -f "$shared/tools/synth_queries.py" ]; then
    echo "bench: needs ../shared/tools/synth_queries.py (not found at $shared)" >&2
    exit 1
fi
sizes=${QAC_BENCH_SIZES:-1000000 10000000}
data=$root/build/bench-data
mkdir -p "$data"
tmp=$(mktemp -d /tmp/qac-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

for n in $sizes; do
    corpus=$data/corpus-$n.tsv prefixes=$data/prefixes-$n.txt
    if [ ! -s "$corpus" ]; then
        echo "== making a corpus of $n queries (once; cached in $data)"
        python3 "$shared/tools/synth_queries.py" corpus "$n" "$corpus.tmp" && mv "$corpus.tmp" "$corpus"
    fi
    [ -s "$prefixes" ] || python3 "$shared/tools/synth_queries.py" prefixes "$corpus" 100000 "$prefixes"
    echo "== trie, $n keys (corpus file $(du -m "$corpus" | cut -f1) MB)"
    "$build/bench/bench_trie" "$corpus" "$prefixes" "$tmp/snap"
    echo "-- fresh process: load + top-10"
    "$build/bench/bench_trie" --load-only "$tmp/snap" "$prefixes"
    echo "-- word index (infix top-10: later word first / reordered, 1-4 words)"
    "$build/bench/bench_words" "$corpus" 100000 "$tmp/wsnap"
    echo "-- qac build (counts file -> index), wall time"
    /usr/bin/time -f "qac_build_seconds %e\nqac_build_max_rss_kb %M" "$qac" build --quiet -o "$tmp/idx" "$corpus"
    rm -f "$tmp/snap" "$tmp/idx"
done

echo "== learned rerank of 50 candidates (bench_rerank: features + model + top 10; budget p99 <= 20 us)"
"$build/bench/bench_rerank"

for b in tests/bench/*.sh; do
    case $(basename "$b") in run.sh) continue ;; esac
    echo "== $(basename "$b")"
    bash "$b" "$root/$qac"
done
