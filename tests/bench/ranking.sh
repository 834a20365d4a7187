#!/usr/bin/env bash
# tests/bench/ranking.sh QAC_BIN -- cost of the learned rerank.
# Builds index, embeddings and model from the dev log of ../shared (history
# part), then `qac eval --systems learned` times every rerank call in-process
# (features + model + top 10 over the ~50 candidates of each prefix; gathering
# and vector lookups excluded) and prints mean and p99. Target: <= 20 us per
# 50 candidates. Also prints the wall time of each offline step.
set -euo pipefail
qac=${1:?usage: tests/bench/ranking.sh QAC_BIN}
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${QAC_SHARED:-$root/../shared}
D=$shared/data/aol
[ -f "$D/aol-users-dev.tsv" ] || { echo "bench ranking: needs $D/aol-users-dev.tsv" >&2; exit 1; }
tmp=$(mktemp -d /tmp/qac-bench-rank.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
t() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(basename "$1") ${2}: $(python3 -c "print(round($(date +%s.%N) - $s, 1))") s"; }
t "$qac" build --keys eval -o "$tmp/idx" --until 2006-05-18 "$D/aol-users-dev.tsv" "$D/aol-queries-train.txt"
t "$qac" embed -o "$tmp/emb" --until 2006-05-18 "$D/aol-users-dev.tsv"
t "$qac" train -i "$tmp/idx" --embeddings "$tmp/emb" -o "$tmp/model" "$D/aol-users-dev.tsv"
echo "sizes: EMB $(stat -c %s "$tmp/emb") bytes, MODEL $(stat -c %s "$tmp/model") bytes"
"$qac" eval -i "$tmp/idx" --embeddings "$tmp/emb" --model "$tmp/model" --systems learned "$D/aol-users-dev.tsv" \
    2>/dev/null | grep "learned rerank:"
