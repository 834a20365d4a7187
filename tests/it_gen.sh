#!/usr/bin/env bash
# it_gen.sh -- generated completions (ranking/gen.h) in `qac serve`, `qac
# train` and `qac eval`.
#  1. the bounded settings: --gen-candidates over 32, --gen-suffixes 0 or
#     over 10,000,000, --gen-words over 100,000,000 exit 2 with a message
#     (serve, train, eval); so do
#     --gen-copy-slice 0 or over 16777216, --gen-copy-note-bytes under 4m or over 1t (serve).
#  2. a server with --gen-candidates 4 (no Redis, no model: the heuristic):
#     a ranked COMPLETE for a prefix whose completion is no key answers the
#     generated text on text and RESP (unmarked) and HTTP ("generated":true
#     on it, on no other suggestion); without USER/SESSION (the plain trie
#     path) nothing is generated; STATS counts the index and its known
#     words; a generated text that keeps a word no key has ("hotlse") ranks
#     after the typo matches of FUZZY 2.
#  3. ADD makes the text a key: no longer generated; the index is not live
#     (a new key's suffixes come at RELOAD, which rebuilds it off the loop:
#     rank_gen_builds; the script waits for rank_gen_building:0).
#  4. --gen-candidates 0: nothing generated, no index; the default (5) generates.
# Exit 0 pass, 1 fail, 77 skip.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-cli curl python3 nc timeout
qac=$QAC_BIN
make_tmp it_gen
fail_log=$tmp/log

printf 'cheap hotels in paris\t7\nhotels in rome\t3\nflights to rome\t2\ncheap flights to rio\t1\n' >"$tmp/c.tsv"
"$qac" build -o "$tmp/idx" --format counts --quiet "$tmp/c.tsv" || fail "build"

# gen_ready PORT N: waits (5 s at most) until the index is built off the loop
# (engine/rank/ranker_gen.c) N times and no build runs
gen_ready() {
    local i st
    for i in $(seq 1 100); do
        st=$(redis-cli -p "$1" STATS)
        grep -q "^rank_gen_building:0" <<<"$st" && grep -q "^rank_gen_builds:$2" <<<"$st" && return 0
        sleep 0.05
    done
    fail "the suffix index was not built $2 time(s): $st"
}

# --- 1. bounded settings ---------------------------------------------------------
for bad in "--gen-candidates 33" "--gen-suffixes 0" "--gen-suffixes 10000001" "--gen-candidates x" \
           "--gen-words 100000001" "--gen-words x"; do
    # shellcheck disable=SC2086
    "$qac" serve -i "$tmp/idx" $bad 2>"$tmp/err"
    [ $? = 2 ] || fail "serve $bad should exit 2"
    grep -q "gen-" "$tmp/err" || fail "serve $bad message: $(cat "$tmp/err")"
    for cmd in train eval; do
        # shellcheck disable=SC2086
        "$qac" $cmd -i "$tmp/idx" $bad "$tmp/c.tsv" 2>"$tmp/err"
        [ $? = 2 ] || fail "$cmd $bad should exit 2"
        grep -q "gen-" "$tmp/err" || fail "$cmd $bad message: $(cat "$tmp/err")"
    done
done
for bad in "--gen-copy-slice 0" "--gen-copy-slice 16777217" "--gen-copy-slice x" \
           "--gen-copy-note-bytes 4194303" "--gen-copy-note-bytes 2t" "--gen-copy-note-bytes x"; do # serve only
    # shellcheck disable=SC2086
    "$qac" serve -i "$tmp/idx" $bad 2>"$tmp/err"
    [ $? = 2 ] || fail "serve $bad should exit 2"
    name=${bad%% *}
    grep -q "${name#--}" "$tmp/err" || fail "serve $bad message: $(cat "$tmp/err")"
done
ok "bounded settings refused (serve, train, eval)"

# --- 2. a server that generates ---------------------------------------------------
port=$(free_port) hport=$(free_port)
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port "$hport" --gen-candidates 4 --gen-suffixes 100 \
    --gen-copy-slice 1 || fail "server did not start"
gen_ready "$port" 1
grep -q "event=gen.built .*suffixes=.*copy_ms=.*slices=[1-9].*build_ms=" "$tmp/log" || fail "no gen.built log line"
got=$(redis-cli -p "$port" COMPLETE "hotels in p" USER u1)
check "RESP: generated text" "$got" "hotels in paris"
got=$(printf 'COMPLETE "hotels in p" USER u1\r\n' | timeout 5 nc -q 1 127.0.0.1 "$port" | tr -d '\r')
check "text: generated text, unmarked (score 0: no key)" "$got" "$(printf 'OK 1\nhotels in paris\t0')"
got=$(redis-cli -p "$port" COMPLETE "hotels in p")
check "plain trie path: nothing generated" "$got" ""
curl -s "http://127.0.0.1:$hport/v1/complete?q=hotels+in+r&user=u1" >"$tmp/h1"
python3 - "$tmp/h1" <<'PY' || fail "HTTP generated flag: $(cat "$tmp/h1")"
import json, sys
s = json.load(open(sys.argv[1]))["suggestions"]
by = {x["text"]: x for x in s}
assert "hotels in rome" in by and "generated" not in by["hotels in rome"], s  # a key: not generated
gen = [x for x in s if x.get("generated") is True]
assert [x["text"] for x in gen] == ["hotels in rio"], s
assert all(x["score"] == 0 for x in gen), s  # no key: no popularity
PY
ok "HTTP: generated:true on generated suggestions only"
stats=$(redis-cli -p "$port" STATS)
grep -q "^rank_gen_suffixes:[1-9]" <<<"$stats" || fail "STATS rank_gen_suffixes: $stats"
grep -q "^rank_gen_words:8" <<<"$stats" || fail "STATS rank_gen_words (8 words in the keys): $stats"
grep -q "event=gen.built .*words=8 words_distinct=8 words_pruned=0" "$tmp/log" || fail "gen.built words"
got=$(redis-cli -p "$port" COMPLETE "hotles in r" USER u1 FUZZY 2)
check "an unknown word: the typo match first, the generated texts after it" "$(head -1 <<<"$got")" "hotels in rome"
grep -q "^hotles in r" <<<"$(tail -n +2 <<<"$got")" || fail "no generated text after the typo match: $got"
grep -q "^rank_gen_builds:1" <<<"$stats" || fail "STATS rank_gen_builds"
for f in rank_gen_building:0 rank_gen_build_ms: rank_gen_copy_ms: rank_gen_copy_bytes:[1-9] rank_gen_unready: \
    rank_gen_requeued:0 rank_gen_failures:0; do
    grep -q "^$f" <<<"$stats" || fail "STATS $f: $stats"
done

# --- 3. live changes and RELOAD ------------------------------------------------------
redis-cli -p "$port" ADD "hotels in paris" 1 >/dev/null
curl -s "http://127.0.0.1:$hport/v1/complete?q=hotels+in+p&user=u1" >"$tmp/h2"
grep -q '"text":"hotels in paris","score":1,"match":\[0,11\]}' "$tmp/h2" || fail "a key is not generated: $(cat "$tmp/h2")"
redis-cli -p "$port" ADD "weather in lisbon" 50 >/dev/null
got=$(redis-cli -p "$port" COMPLETE "hotels in l" USER u1)
check "index not live: a new key's suffix is not used yet" "$got" ""
redis-cli -p "$port" RELOAD >/dev/null
gen_ready "$port" 2
got=$(redis-cli -p "$port" COMPLETE "hotels in l" USER u1)
check "RELOAD rebuilds the index" "$got" "hotels in lisbon"
redis-cli -p "$port" STATS | grep -q "^rank_gen_builds:2" || fail "STATS rank_gen_builds after RELOAD"
qac_stop

# --- 4. off, and the default ------------------------------------------------------
: >"$tmp/log"
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port 0 --gen-candidates 0 || fail "server did not start"
got=$(redis-cli -p "$port" COMPLETE "hotels in p" USER u1)
check "--gen-candidates 0: nothing generated" "$got" ""
redis-cli -p "$port" STATS | grep -q "^rank_gen_suffixes:0" || fail "STATS rank_gen_suffixes off"
grep -q "event=gen.built" "$tmp/log" && fail "index built while off"
qac_stop
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port 0 || fail "server did not start"
gen_ready "$port" 1
got=$(redis-cli -p "$port" COMPLETE "hotels in p" USER u1)
check "default: generated" "$got" "hotels in paris"
qac_stop
[ "$fails" = 0 ] || exit 1
echo "it_gen: all passed"
