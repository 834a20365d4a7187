#!/usr/bin/env bash
# data/folds.sh -- the user-disjoint split of ../shared/EVALUATION.md's data:
# K folds of users (a user's fold is MD5(AnonID) mod K, data/evalproto.h);
# for each fold F, `qac train --fold F/K` learns from the users outside it and
# `qac eval --fold F/K` scores the users in it (the same time split inside:
# their events before --split are history, the later ones are scored), so the
# model never saw a scored user. Prints MRR@10 per prefix tag and rand by
# group, mean and standard deviation over the folds, for every system, and
# learned minus heuristic per fold; writes DIR/folds.json.
#
# usage: data/folds.sh [--folds K] [--qac BIN] [--dir DIR] [--split TIME]
#                      [--eval-opt OPTION]... INDEX EMB LOG... [-- TRAIN_OPTION...]
#   --folds K      folds (default 5; 2..100)
#   --qac BIN      the qac binary (default bin/qac of this repository)
#   --dir DIR      where the models, the per-fold JSON and folds.json go
#                  (default: a new directory under ${TMPDIR:-/tmp}, printed)
#   --split TIME   passed to qac train and qac eval (default theirs, 2006-05-18)
#   --eval-opt O   one more argument for qac eval only (repeatable), e.g.
#                  --eval-opt --gen-candidates --eval-opt 32
#   INDEX          qac build --until SPLIT of the logs (global popularity)
#   EMB            qac embed --until SPLIT of the logs
#   TRAIN_OPTION   more options for qac train (--alpha 0.05, --base none, ...)
# Time: K trainings and K evaluations (on the AOL dev log, 5 folds take a few
# minutes on a quiet 2-core machine). Exit status 0, 1 on a failed run, 2 on
# a usage error.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
k=5 qac=$here/bin/qac dir='' split=() eopts=()
usage() { sed -n 's/^# \{0,1\}//; /^usage:/,/^Time:/p' "$0" | sed '$d' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --folds) k=${2:?}; shift 2 ;;
    --qac) qac=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    --split) split=(--split "${2:?}"); shift 2 ;;
    --eval-opt) eopts+=("${2:?}"); shift 2 ;;
    -h|--help) usage ;;
    -*) echo "folds.sh: unknown option $1" >&2; usage ;;
    *) break ;;
    esac
done
[ $# -ge 3 ] || { echo "folds.sh: want INDEX EMB LOG..." >&2; usage; }
case $k in ''|*[!0-9]*) echo "folds.sh: --folds wants 2..100, not '$k'" >&2; exit 2 ;; esac
if [ "$k" -lt 2 ] || [ "$k" -gt 100 ]; then echo "folds.sh: --folds wants 2..100, not '$k'" >&2; exit 2; fi
index=$1 emb=$2
shift 2
logs=() topts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do logs+=("$1"); shift; done
[ $# -gt 0 ] && { shift; topts=("$@"); }
[ ${#logs[@]} -gt 0 ] || { echo "folds.sh: no LOG given" >&2; exit 2; }
[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/qac-folds.XXXXXX")
mkdir -p "$dir"
echo "folds.sh: $k folds in $dir" >&2

for ((f = 0; f < k; f++)); do
    echo "folds.sh: fold $f/$k: train" >&2
    "$qac" train -i "$index" --embeddings "$emb" -o "$dir/fold$f.model" --fold "$f/$k" "${split[@]}" \
        "${topts[@]}" "${logs[@]}" 2>"$dir/fold$f.train.log" || { cat "$dir/fold$f.train.log" >&2; exit 1; }
    echo "folds.sh: fold $f/$k: eval" >&2
    "$qac" eval -i "$index" --embeddings "$emb" --model "$dir/fold$f.model" --fold "$f/$k" "${split[@]}" \
        "${eopts[@]}" --json "$dir/fold$f.json" "${logs[@]}" >"$dir/fold$f.out" 2>"$dir/fold$f.eval.log" ||
        { cat "$dir/fold$f.eval.log" >&2; exit 1; }
done

python3 - "$dir" "$k" <<'PY'
import json, statistics, sys
d, k = sys.argv[1], int(sys.argv[2])
runs = [json.load(open("%s/fold%d.json" % (d, f))) for f in range(k)]
tags = ["len1", "len2", "len3", "len4", "len5", "rand"]
groups = list(runs[0]["systems"]["heuristic"]["mrr_rand_by_group"])
systems = list(runs[0]["systems"])
def ms(v):
    return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)
out = {"folds": k, "scored": [r["events"]["scored"] for r in runs], "systems": {}}
print("user-disjoint split, %d folds of users; MRR@10, mean +- sd over the folds (scored events per fold: %s)"
      % (k, ", ".join(str(n) for n in out["scored"])))
print("%-10s" % "system" + "".join(" %15s" % t for t in tags + groups))
for s in systems:
    row, js = [], {}
    for t in tags:
        row.append(ms([r["systems"][s]["mrr"][t] for r in runs])); js[t] = row[-1]
    for g in groups:
        row.append(ms([r["systems"][s]["mrr_rand_by_group"][g] for r in runs])); js[g] = row[-1]
    out["systems"][s] = {key: {"mean": m, "sd": sd} for key, (m, sd) in js.items()}
    print("%-10s" % s + "".join(" %8.4f+-%.4f" % (m, sd) for m, sd in row))
if "learned" in systems:
    print("learned - heuristic, per fold:")
    out["learned_minus_heuristic"] = {}
    for t in tags + groups:
        if t in tags:
            v = [r["systems"]["learned"]["mrr"][t] - r["systems"]["heuristic"]["mrr"][t] for r in runs]
        else:
            v = [r["systems"]["learned"]["mrr_rand_by_group"][t] - r["systems"]["heuristic"]["mrr_rand_by_group"][t]
                 for r in runs]
        m, sd = ms(v)
        out["learned_minus_heuristic"][t] = {"mean": m, "sd": sd, "folds": v}
        print("  %-16s mean %+.4f sd %.4f  [%s]" % (t, m, sd, " ".join("%+.4f" % x for x in v)))
json.dump(out, open(d + "/folds.json", "w"), indent=1)
PY
