#!/usr/bin/env bash
# it_infix.sh -- COMPLETE ... INFIX through a running `qac serve` (issue 15):
# the text protocol, RESP through redis-cli, HTTP infix=1 with each matched
# word's range ("words", byte ranges of the display) and bad infix= values
# (400 bad_infix), and with fuzzy=1 the last word's edits (its range, its
# edits); `qac build` writes the word index beside the snapshot
# (--infix-index no: not) and a start loads it; the word index kept current by ADD / INCR / DEL / ACCEPT
# and, with no saved index, built at start after the journal replay (changes
# made before a crash are found after it); SAVE writes it beside the
# snapshot (idx.words) and a restart loads it and replays the later changes
# into it (STATS infix_index_loaded 1), while a damaged one or another
# snapshot's is logged and built instead, with the same answers; STATS counters; --infix-index=no (INFIX refused
# with a reason, the index's memory not spent); `qac complete --infix`. Exit 0 pass, 1 fail, 77 skip
# (no QAC_BIN, redis-cli, curl or python3).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-cli curl python3
make_tmp it_infix

# txt PORT LINE...: the text protocol's answer to each line (CRs removed, lines joined by |)
txt() {
    local port=$1
    shift
    python3 - "$port" "$@" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall("".join(l + "\r\n" for l in sys.argv[2:]).encode())
s.settimeout(0.5)
out = b""
end = time.time() + 2.0
while time.time() < end:
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    out += d
print(out.decode("utf-8", "replace").replace("\r", "").rstrip("\n").replace("\n", "|"))
EOF
}

printf 'new york\t100\nnew york times\t80\nyork pa\t50\nnewark airport\t40\nNew York Yankees\t20\n' >"$tmp/c.tsv"
"$QAC_BIN" build -o "$tmp/idx" --quiet "$tmp/c.tsv" || { echo "FAIL qac build"; exit 1; }
# qac build writes the word index beside the snapshot (--infix-index no: not)
[ -s "$tmp/idx.words" ] && ok "qac build wrote idx.words" || bad "qac build: no idx.words"
"$QAC_BIN" build -o "$tmp/noidx" --quiet --infix-index no "$tmp/c.tsv" || bad "qac build --infix-index no"
[ -e "$tmp/noidx" ] && [ ! -e "$tmp/noidx.words" ] && ok "qac build --infix-index no: no word index" ||
    bad "qac build --infix-index no: $(ls "$tmp")"
"$QAC_BIN" build -o "$tmp/noidx" --quiet --infix-index maybe "$tmp/c.tsv" 2>"$tmp/e"
check "qac build --infix-index maybe: exit" "$?" "2"
grep -q "bad --infix-index 'maybe' (yes, no)" "$tmp/e" && ok "qac build --infix-index maybe: message" ||
    bad "message: $(cat "$tmp/e")"
# each shard gets its own, loaded offline without a rebuild (nothing on stderr)
"$QAC_BIN" build -o "$tmp/sh" --quiet --shards 2 "$tmp/c.tsv" || bad "qac build --shards 2"
[ -s "$tmp/sh.0.words" ] && [ -s "$tmp/sh.1.words" ] && ok "qac build --shards: a word index beside each shard" ||
    bad "qac build --shards: $(ls "$tmp")"
"$QAC_BIN" complete -i "$tmp/sh.1" --infix 'york' >/dev/null 2>"$tmp/e" && [ ! -s "$tmp/e" ] &&
    ok "a shard's word index loads" || bad "shard word index: $(cat "$tmp/e")"
# a word index that cannot be written: the snapshot stands, the build says so and fails
mkdir "$tmp/bad.words"
"$QAC_BIN" build -o "$tmp/bad" --quiet "$tmp/c.tsv" 2>"$tmp/e"
check "qac build, word index not writable: exit" "$?" "1"
grep -q "bad written, but not its word index: cannot remove the old .*bad.words" "$tmp/e" && [ -s "$tmp/bad" ] &&
    ok "qac build, word index not writable: said, snapshot kept" || bad "message: $(cat "$tmp/e")"

# offline: qac complete --infix answers as COMPLETE ... INFIX
check "qac complete --infix" "$("$QAC_BIN" complete -i "$tmp/idx" -k 3 --infix york 'yankees ne' | tr '\n' '|')" \
    "york pa	50|new york	100|new york times	80||New York Yankees	20||"
"$QAC_BIN" complete -i "$tmp/idx" --infix 'a b c d e f g h i j k l m n o p q' >/dev/null 2>"$tmp/e"
check "qac complete --infix, 17 words: exit" "$?" "1"
grep -q 'too many words' "$tmp/e" && ok "qac complete --infix, 17 words: message" || bad "message: $(cat "$tmp/e")"

port=$(free_port) hport=$(free_port)
fail_log=$tmp/log1
qac_start "$port" "$tmp/log1" -i "$tmp/idx" --http-port "$hport" --journal "$tmp/j" --fsync always ||
    fail "qac serve did not start"
grep -q 'event=infix.loaded ' "$tmp/log1" && ! grep -q 'event=infix.built ' "$tmp/log1" &&
    ok "start loads the word index qac build wrote" || bad "log1: $(grep infix "$tmp/log1")"

check "text INFIX" "$(txt "$port" 'COMPLETE "yankees ne" INFIX WITHSCORES')" "OK 1|New York Yankees	20"
check "text INFIX order" "$(txt "$port" 'COMPLETE york INFIX LIMIT 3')" "OK 3|york pa	50|new york	100|new york times	80"
check "RESP INFIX" "$(redis-cli -p "$port" COMPLETE 'times y' INFIX | tr '\n' '|')" "new york times|"
check "RESP too many words" "$(redis-cli -p "$port" COMPLETE 'a b c d e f g h i j k l m n o p q' INFIX)" \
    "ERR ARGS INFIX takes at most 16 words (TRIE_WORDS_MAX_TYPED)"
check "RESP INFIX twice" "$(redis-cli -p "$port" COMPLETE york INFIX INFIX)" "ERR ARGS INFIX given twice"

# live changes: the index follows ADD / INCR / DEL / ACCEPT
check "ADD" "$(txt "$port" 'ADD "Big Apple York" 500')" "OK"
check "found after ADD" "$(txt "$port" 'COMPLETE "apple" INFIX LIMIT 1')" "OK 1|Big Apple York	500"
check "INCR" "$(txt "$port" 'INCR "york pa" 1000')" "OK 1050"
check "raised by INCR" "$(txt "$port" 'COMPLETE "pa" INFIX LIMIT 1')" "OK 1|york pa	1050"
check "ACCEPT new" "$(txt "$port" 'ACCEPT "apple crumble york"')" "OK 1"
check "found after ACCEPT" "$(txt "$port" 'COMPLETE "crumble ap" INFIX')" "OK 1|apple crumble york	1"
check "DEL" "$(txt "$port" 'DEL "big apple york"')" "OK 1"
check "gone after DEL" "$(txt "$port" 'COMPLETE "york big" INFIX')" "OK 0"

# HTTP: infix=1, each matched word's range in the display; bad values
curl -s "http://127.0.0.1:$hport/v1/complete?q=york%20ne&infix=1&k=1" >"$tmp/r.json"
check "HTTP infix text" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["suggestions"][0]["text"])' "$tmp/r.json")" "new york"
check "HTTP infix words" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["suggestions"][0]["words"])' "$tmp/r.json")" \
    "[[4, 8], [0, 2]]"
curl -s "http://127.0.0.1:$hport/v1/complete?q=crumble%20app&infix=1&fuzzy=0" >"$tmp/r.json"
check "HTTP infix words, later words" "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["suggestions"][0]; print(s["text"], s["words"], s["match"])' "$tmp/r.json")" \
    "apple crumble york [[6, 13], [0, 3]] [0, 0]"
curl -s "http://127.0.0.1:$hport/v1/complete?q=Yankees%20%20NE&infix=1" >"$tmp/r.json"
check "HTTP infix words, display case" "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["suggestions"][0]; print(s["text"], s["words"])' "$tmp/r.json")" \
    "New York Yankees [[9, 16], [0, 2]]"
# the last word with edits (FUZZY): its range is the part of the key's word it stands for, no match
curl -s "http://127.0.0.1:$hport/v1/complete?q=yankees%20nwe&infix=1&fuzzy=1" >"$tmp/r.json"
check "HTTP infix, last word with edits" "$(python3 -c 'import json,sys; print([(s["text"], s["words"], s["match"], s.get("edits")) for s in json.load(open(sys.argv[1]))["suggestions"]])' "$tmp/r.json")" \
    "[('New York Yankees', [[9, 16], [0, 2]], [0, 0], 1)]"
check "text INFIX FUZZY, last word with edits" "$(txt "$port" 'COMPLETE "yankees nwe " INFIX FUZZY 1 WITHEDITS WITHMATCH')" \
    "OK 1|New York Yankees	20	1	0 9-16 0-3"
curl -s "http://127.0.0.1:$hport/v1/complete?q=york&k=2" >"$tmp/r.json"
python3 -c 'import json,sys; sys.exit("words" in json.load(open(sys.argv[1]))["suggestions"][0])' "$tmp/r.json" &&
    ok "no words without infix" || bad "words without infix"
for v in 2 yes -1 '' 11 true; do
    check "HTTP infix=$v" "$(http_status "http://127.0.0.1:$hport/v1/complete?q=york&infix=$v")" "400"
done
curl -s "http://127.0.0.1:$hport/v1/complete?q=york&infix=x" >"$tmp/r.json"
check "HTTP bad infix code" "$(jget "$tmp/r.json" error code)" "bad_infix"
check "HTTP infix=0" "$(http_status "http://127.0.0.1:$hport/v1/complete?q=york&infix=0")" "200"

# STATS
txt "$port" STATS >"$tmp/stats"
grep -q '|complete_infix 1[0-9]|' "$tmp/stats" && ok "STATS complete_infix" || bad "STATS complete_infix: $(tr '|' '\n' <"$tmp/stats" | grep infix)"
grep -q '|infix_index 1|' "$tmp/stats" && ok "STATS infix_index" || bad "STATS infix_index"
grep -q '|infix_index_errors 0|' "$tmp/stats" && ok "STATS infix_index_errors" || bad "STATS infix_index_errors"

# ranked (USER): word matches after the completions, typo matches with their edits over HTTP
check "ranked INFIX" "$(txt "$port" 'COMPLETE york INFIX USER u1 LIMIT 3')" "OK 3|york pa	1050|new york	100|new york times	80"
curl -s "http://127.0.0.1:$hport/v1/complete?q=nwe&fuzzy=1&user=u1&k=3" >"$tmp/r.json"
check "HTTP ranked typo matches carry edits" \
    "$(python3 -c 'import json,sys; print([(s["text"], s.get("edits")) for s in json.load(open(sys.argv[1]))["suggestions"]])' "$tmp/r.json")" \
    "[('new york', 1), ('new york times', 1), ('newark airport', 1)]"
# the ranker keeps only keys: its HTTP highlights are found again, and equal the unranked answer's
hl() { python3 -c 'import json,sys; print([(s["text"], s["match"], s.get("words"), s.get("edits")) for s in json.load(open(sys.argv[1]))["suggestions"]])' "$1"; }
for qs in "q=nwe&fuzzy=1&k=3" "q=york%20ne&infix=1&k=1" "q=new%20yo&infix=1&k=2" "q=crumble%20app&infix=1&fuzzy=1&k=1" "q=yrok%20ne&infix=1&fuzzy=1&k=2" "q=yankees%20nwe&infix=1&fuzzy=1&k=3" "q=nwe&infix=1&fuzzy=1&k=5"; do
    curl -s "http://127.0.0.1:$hport/v1/complete?$qs" >"$tmp/u.json"
    curl -s "http://127.0.0.1:$hport/v1/complete?$qs&user=u9" >"$tmp/r.json"
    check "HTTP ranked highlights = unranked ($qs)" "$(hl "$tmp/r.json")" "$(hl "$tmp/u.json")"
done
check "HTTP ranked infix highlights (york ne)" "$(curl -s "http://127.0.0.1:$hport/v1/complete?q=york%20ne&infix=1&user=u9&k=1" >"$tmp/r.json"; hl "$tmp/r.json")" \
    "[('new york', [0, 0], [[4, 8], [0, 2]], None)]"
check "ranked WITHMATCH: the matched words" "$(txt "$port" 'COMPLETE "york ne" INFIX USER u1 LIMIT 1 WITHMATCH')" \
    "OK 1|new york	100	0 4-8 0-2"

# a crash, then the journal replay: the rebuilt index holds the changes
# (without the file qac build wrote, as for a snapshot made before it did)
qac_kill9
rm -f "$tmp/idx.words"
fail_log=$tmp/log2
qac_start "$port" "$tmp/log2" -i "$tmp/idx" --journal "$tmp/j" --http-port 0 || fail "restart after a crash"
check "after replay: ACCEPTed key" "$(txt "$port" 'COMPLETE "crumble" INFIX')" "OK 1|apple crumble york	1"
check "after replay: DELeted key" "$(txt "$port" 'COMPLETE "york big" INFIX')" "OK 0"
check "after replay: INCRed score" "$(txt "$port" 'COMPLETE "pa" INFIX LIMIT 1')" "OK 1|york pa	1050"
grep -q 'event=infix.not_saved ' "$tmp/log2" && grep -q 'event=infix.built ' "$tmp/log2" &&
    ok "no saved word index yet: built" || bad "log2: no infix.not_saved / infix.built"
txt "$port" STATS | grep -q '|infix_index_loaded 0|' && ok "STATS infix_index_loaded 0 (built)" || bad "STATS loaded 0"

# SAVE writes the word index beside the snapshot; a restart loads it and
# replays the later changes into it
check "SAVE" "$(txt "$port" SAVE)" "OK"
[ -s "$tmp/idx.words" ] && ok "SAVE wrote idx.words" || bad "no idx.words after SAVE"
cp "$tmp/idx.words" "$tmp/old.words"
txt "$port" 'ADD "yorkshire pudding york" 7' 'DEL "newark airport"' 'INCR "new york times" 1000' >/dev/null
qac_kill9
fail_log=$tmp/log4
qac_start "$port" "$tmp/log4" -i "$tmp/idx" --journal "$tmp/j" --http-port 0 || fail "restart with a saved word index"
grep -q 'event=infix.loaded ' "$tmp/log4" && ! grep -q 'event=infix.built ' "$tmp/log4" &&
    ok "restart loads the word index (not built)" || bad "log4: $(grep infix "$tmp/log4")"
txt "$port" STATS | grep -q '|infix_index_loaded 1|' && ok "STATS infix_index_loaded 1" || bad "STATS loaded 1"
after_save() {
    check "$1: added after SAVE" "$(txt "$port" 'COMPLETE "pudding" INFIX')" "OK 1|yorkshire pudding york	7"
    check "$1: deleted after SAVE" "$(txt "$port" 'COMPLETE "airport" INFIX')" "OK 0"
    check "$1: INCRed after SAVE" "$(txt "$port" 'COMPLETE "times" INFIX WITHSCORES')" "OK 1|new york times	1080"
    check "$1: york" "$(txt "$port" 'COMPLETE "york" INFIX LIMIT 4')" \
        "OK 4|york pa	1050|yorkshire pudding york	7|new york times	1080|new york	100"
}
after_save "loaded + replay"
qac_stop || bad "clean stop"

# a damaged word index, or one from another snapshot: logged, built, same answers
printf '\xff' | dd of="$tmp/idx.words" bs=1 seek=300 conv=notrunc 2>/dev/null
fail_log=$tmp/log5
qac_start "$port" "$tmp/log5" -i "$tmp/idx" --journal "$tmp/j" --http-port 0 || fail "restart with a damaged word index"
grep -q 'event=infix.load_failed .*checksum mismatch' "$tmp/log5" && grep -q 'event=infix.built ' "$tmp/log5" &&
    ok "damaged word index: logged, built" || bad "log5: $(grep infix "$tmp/log5")"
after_save "damaged, built"
check "SAVE again" "$(txt "$port" SAVE)" "OK"
qac_stop || bad "clean stop"
# offline, the saved index is loaded when it is this snapshot's (nothing on stderr) ...
check "qac complete --infix, saved index" \
    "$("$QAC_BIN" complete -i "$tmp/idx" --infix pudding 2>"$tmp/e" | tr '\n' '|')$(cat "$tmp/e")" \
    "yorkshire pudding york	7||"
cp "$tmp/idx.words" "$tmp/good.words"
printf '\xff' | dd of="$tmp/idx.words" bs=1 seek=300 conv=notrunc 2>/dev/null
check "qac complete --infix, damaged index" \
    "$("$QAC_BIN" complete -i "$tmp/idx" --infix pudding 2>"$tmp/e" | tr '\n' '|')" "yorkshire pudding york	7||"
grep -q 'saved word index is not used (.*checksum mismatch.*): built instead' "$tmp/e" &&
    ok "qac complete --infix, damaged index: said" || bad "stderr: $(cat "$tmp/e")"
cp "$tmp/old.words" "$tmp/idx.words"
# ... and another snapshot's is named on stderr, and the index built: same answer
check "qac complete --infix, another snapshot's index" \
    "$("$QAC_BIN" complete -i "$tmp/idx" --infix pudding 2>"$tmp/e" | tr '\n' '|')" "yorkshire pudding york	7||"
grep -q 'saved word index is not used (.*written for another snapshot.*): built instead' "$tmp/e" &&
    ok "qac complete --infix, another snapshot's index: said" || bad "stderr: $(cat "$tmp/e")"
fail_log=$tmp/log6
qac_start "$port" "$tmp/log6" -i "$tmp/idx" --journal "$tmp/j" --http-port 0 || fail "restart with another snapshot's word index"
grep -q 'event=infix.load_failed .*written for another snapshot' "$tmp/log6" && grep -q 'event=infix.built ' "$tmp/log6" &&
    ok "another snapshot's word index: logged, built" || bad "log6: $(grep infix "$tmp/log6")"
after_save "mismatched, built"
qac_stop || bad "clean stop"

# a word index of version 5 (2-byte signatures; 4 had 1-byte ones, 3 varint
# gaps, 2 the forward index): refused by its version, logged, built
printf '\x05' | dd of="$tmp/idx.words" bs=1 seek=8 conv=notrunc 2>/dev/null
fail_log=$tmp/log7
qac_start "$port" "$tmp/log7" -i "$tmp/idx" --journal "$tmp/j" --http-port 0 || fail "restart with a version-5 word index"
grep -q 'event=infix.load_failed .*unsupported word index version 5 (this build reads 6)' "$tmp/log7" &&
    grep -q 'event=infix.built ' "$tmp/log7" && ok "version-5 word index: logged, built" || bad "log7: $(grep infix "$tmp/log7")"
after_save "version 5, built"
qac_stop || bad "clean stop"

# --infix-index=no: refused with the reason; no index memory
fail_log=$tmp/log3
qac_start "$port" "$tmp/log3" -i "$tmp/idx" --http-port "$hport" --infix-index=no || fail "start with --infix-index=no"
check "infix-index no: text" "$(txt "$port" 'COMPLETE york INFIX')" \
    "ERR ARGS INFIX needs the word index: this server runs with infix-index no"
check "infix-index no: HTTP" "$(http_status "http://127.0.0.1:$hport/v1/complete?q=york&infix=1")" "400"
check "infix-index no: plain COMPLETE" "$(txt "$port" 'COMPLETE york')" "OK 2|york pa	1050|yorkshire pudding york	7"
txt "$port" STATS >"$tmp/stats"
grep -q '|infix_index 0|infix_index_bytes 0|' "$tmp/stats" && ok "STATS without the index" || bad "STATS without the index"
check "CONFIG GET infix-index" "$(redis-cli -p "$port" CONFIG GET infix-index | tr '\n' ' ')" "infix-index no "
qac_stop || bad "clean stop"
"$QAC_BIN" serve -i "$tmp/idx" --infix-index=maybe 2>"$tmp/e"
check "infix-index=maybe: exit" "$?" "2"
grep -q "infix-index: 'maybe' is not yes or no" "$tmp/e" && ok "infix-index=maybe: message" || bad "message: $(cat "$tmp/e")"
[ "$fails" -eq 0 ]
