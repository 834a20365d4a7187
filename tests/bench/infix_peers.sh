#!/usr/bin/env bash
# tests/bench/infix_peers.sh [QAC_BIN] -- words anywhere (INFIX) side by side, in one run (issue 15,
# "Speed"): qac's word index (trie_words_topk, tests/bench/bench_words) and Lucene's
# AnalyzingInfixSuggester on the SAME typed strings over the same synthetic corpus.
#
# Corpus: ../shared/tools/synth_queries.py corpus N (N = INFIX_PEERS_KEYS, default 1000000; cached in
# build/bench-data/ as tests/bench/run.sh makes it). Queries: bench_words' own (INFIX_PEERS_N, default
# 20000, fixed seed): keys drawn by count, 1-4 of their words, a later word first, shuffled, the last cut
# to 1..its length bytes; bench_words writes them (BENCH_WORDS_QUERIES) and Lucene reads that file.
#
# What is timed (each call alone, in process, the last of the timed passes; median and p99 by rank):
#   qac     trie_words_topk, k = 10, on the index bench_words builds (3 passes, the last reported);
#   Lucene  AnalyzingInfixSuggester.lookup(q, 10, allTermsRequired, highlight) with StandardAnalyzer
#           (../shared/tools/peers/lucene: 1 warm-up + 3 passes), with highlighting (qac's answers
#           carry the matched words' ranges too) and without; per typed-word count on the queries of
#           that count (INFIX_PEERS_CLASSES=0 skips those runs: each builds the index again, ~15 s at 1M).
# Both require every typed word, the last as a prefix. qac also requires each typed word to match a
# different word of the key and lists the keys the whole text is a prefix of first (then by score);
# Lucene ranks by weight only, so their lists may differ on a tie or a repeated word: this is about
# speed, not answers (the answers are tested against brute force in tests/test_trie_words.c).
# Peers that are absent are skipped with a "SKIP: why" line, never installed.
# Environment: QAC_SHARED, INFIX_PEERS_KEYS, INFIX_PEERS_N, INFIX_PEERS_CLASSES, BENCH_WORDS (the
# driver), INFIX_PEERS_KEEP=1 keeps the scratch.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${QAC_SHARED:-$root/../shared}
keys=${INFIX_PEERS_KEYS:-1000000}
nq=${INFIX_PEERS_N:-20000}
classes=${INFIX_PEERS_CLASSES:-1}
driver=${BENCH_WORDS:-$root/build/rel/bench/bench_words}
data=$root/build/bench-data

if [ ! -f "$shared/tools/synth_queries.py" ]; then
    echo "SKIP: infix_peers: ../shared/tools/synth_queries.py not found (QAC_SHARED=$shared)"
    exit 0
fi
if [ ! -x "$driver" ]; then
    make -C "$root" --no-print-directory build/rel/bench/bench_words >/dev/null ||
        { echo "SKIP: infix_peers: cannot build $driver"; exit 0; }
fi
tmp=$(mktemp -d /tmp/qac-infix-peers.XXXXXX)
cleanup() { if [ "${INFIX_PEERS_KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT

mkdir -p "$data"
corpus=$data/corpus-$keys.tsv
if [ ! -s "$corpus" ]; then
    echo "== making a corpus of $keys queries (once; cached in $data)"
    python3 "$shared/tools/synth_queries.py" corpus "$keys" "$corpus.tmp" && mv "$corpus.tmp" "$corpus"
fi
echo "== infix_peers: corpus $corpus ($(wc -l <"$corpus") queries), $nq queries of 1-4 words (load $(cut -d' ' -f1-3 /proc/loadavg))"

# --- qac -------------------------------------------------------------------------------------------
BENCH_WORDS_QUERIES=$tmp/q.txt "$driver" "$corpus" "$nq" "$tmp/bw.snap" >"$tmp/qac.txt"
if [ "$(wc -l <"$tmp/q.txt")" -ne "$nq" ]; then
    echo "FAIL: infix_peers: bench_words wrote $(wc -l <"$tmp/q.txt") queries, not $nq" >&2
    exit 1
fi
grep -E '^(keys|words_bytes|rss_total_loaded|infix10_all_(median|p99))' "$tmp/qac.txt" | sed 's/^/   /'
# per class (all, 1w..4w): queries, median, p99, mean (ns), results per query
qac_row() {
    awk -v c="$1" '$1 == "infix10_" c "_queries" {n = $2} $1 == "infix10_" c "_median" {m = $2}
        $1 == "infix10_" c "_p99" {p = $2} $1 == "infix10_" c "_mean" {a = $2}
        $1 == "infix10_" c "_results_avg" {r = $2}
        END {if (n) printf "%-10s %-20s %-5s %6d %10.2f %10.2f %10.2f %9.3f\n", "qac", "trie_words_topk", c, n, m / 1e3, p / 1e3, a / 1e3, r}' \
        "$tmp/qac.txt"
}
for c in all 1w 2w 3w 4w; do qac_row "$c" >>"$tmp/table.txt"; done
for w in 1 2 3 4; do awk -v w="$w" 'NF == w' "$tmp/q.txt" >"$tmp/q-${w}w.txt"; done

# --- Lucene ----------------------------------------------------------------------------------------
. "$root/tests/bench/lucene_peer.bash"
if lucene_setup "$shared" "$data" "$tmp"; then
    runs="all"
    [ "$classes" = 1 ] && runs="all 1w 2w 3w 4w"
    for c in $runs; do
        qf=$tmp/q.txt
        [ "$c" = all ] || qf=$tmp/q-$c.txt
        echo "== Lucene AnalyzingInfixSuggester, queries: $c ($(wc -l <"$qf"))"
        LUCENE_OPTS=(-Dsets=main -Dsanity=0 -Dwork="$tmp/lucene")
        if ! lucene_run "$corpus" "$qf" infix 10 >"$tmp/lucene-$c.txt" 2>"$tmp/lucene-$c.err"; then
            echo "SKIP: Lucene infix ($c) failed: $(tail -3 "$tmp/lucene-$c.err")"
            continue
        fi
        grep -E '^(BUILD|RESULT)' "$tmp/lucene-$c.txt" | sed 's/^/   /'
        awk -v c="$c" '$1 == "RESULT" {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
            mode = f["set"] == "main" ? "infix+highlight" : "infix"
            printf "%-10s %-20s %-5s %6d %10.2f %10.2f %10.2f %9.3f\n", "lucene", mode, c, f["n"],
                f["median_us"], f["p99_us"], f["mean_us"], f["results_per_prefix"] }' \
            "$tmp/lucene-$c.txt" >>"$tmp/table.txt"
    done
fi

echo
echo "== typed words anywhere, top 10: latency per call (µs, the last timed pass, nearest rank)"
printf "%-10s %-20s %-5s %6s %10s %10s %10s %9s\n" engine mode words n median_us p99_us mean_us res/q
for c in all 1w 2w 3w 4w; do awk -v c="$c" '$3 == c' "$tmp/table.txt"; done
echo "(qac: the word index built in process over the trie of the corpus; Lucene: its index in a temporary folder,"
echo " StandardAnalyzer, minPrefixChars 4, ranked by weight only. Compare within this run.)"
