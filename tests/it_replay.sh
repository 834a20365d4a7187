#!/usr/bin/env bash
# it_replay.sh -- `qac replay` against a real `qac serve` on a private port.
#  1. Usage errors exit 2 with one line; no server -> exit 1, clear message.
#  2. Index from data/demo; replay excite97 (all prefixes, ACCEPTs): the JSON
#     has every field the issue names and sane values.
#  3. On a fresh server, --no-accept --prefixes eval gives exactly the MRR and
#     SR of `qac eval -i IDX --systems mpc` on the same index and log (the
#     server ranks by MPC when it has no history and generates no completions:
#     --gen-candidates 0, as in part 5); open loop --rate gives the same numbers.
#  4. The server is killed mid-run: exit 1 within seconds, partial JSON.
#  4b. --typos on a small generated log (queries of two to four words): the
#     summary lines, JSON fields and HTML section exist; every typo'd prefix
#     is scored and sent twice (plain, FUZZY AUTO); FUZZY AUTO recall on them
#     is >= plain recall (and well above it); the same seed gives the same
#     figures on another load shape; --typos 0 gives no typo'd prefixes and
#     the run of section 2's shape (requests = COMPLETEs + ACCEPTs).
#  5. With QAC_SHARED: the AOL dev log (read in place), --measure-from
#     the split, against `qac eval --systems mpc` on the same log: same number
#     of scored prefixes, figures within 1e-4. Not exact: eval's MPC compares
#     trie keys (norm_key, accents stripped) with the target, replay compares
#     norm_eval(display) as EVALUATION.md says, and a few history rows have
#     accented display forms (measured gap: 3e-5 on rand). Without it (or
#     without the dev log) this part is left out with a "SKIP:" line, which
#     tests/run.sh counts as one skipped.
set -u
qac=${QAC_BIN:?QAC_BIN not set}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
make_tmp it_replay
srv=
stop_srv() { qac_stop "$srv" 2>/dev/null; srv=; }
start_srv() { # start_srv INDEX [SERVE ARGS...] -> $port, $srv
    port=$(free_port)
    : >"$tmp/srv.log"
    local idx=$1
    shift
    qac_start "$port" "$tmp/srv.log" -i "$idx" --http-port 0 "$@" || { cat "$tmp/srv.log"; fail "server did not start on $port"; }
    srv=$qac_pid
}
# same_quality A.json B.json [TOL]: replay's mrr/sr equal eval's mpc (to 1e-9)
same_quality() {
    python3 - "$1" "$2" "${3:-1e-9}" <<'PY' || fail "replay quality differs from qac eval ($1 vs $2)"
import json, sys
r = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))["systems"]["mpc"]; tol = float(sys.argv[3])
bad = [t for t in ("len1","len2","len3","len4","len5","rand") if abs(r["mrr"][t] - e["mrr"][t]) > tol]
bad += ["sr" + k for k in ("1","3","10") if abs(r["sr"][k] - e["sr"][k]) > tol]
if r["prefixes"]["rand"] != e["n"]: bad.append("n %s != %s" % (r["prefixes"]["rand"], e["n"]))
if bad: print("differs:", bad, r["mrr"], e["mrr"]); sys.exit(1)
PY
}

excite=$root/data/demo/excite97.tsv
# --- 1. usage and runtime errors ---------------------------------------------
"$qac" replay >/dev/null 2>"$tmp/e"; [ $? = 2 ] || fail "no LOG: want exit 2"
[ "$(wc -l <"$tmp/e")" = 1 ] || fail "usage error is not one line"
"$qac" replay --rate 5 --speed 2 "$excite" >/dev/null 2>&1; [ $? = 2 ] || fail "--rate with --speed: want 2"
"$qac" replay --connections 0 "$excite" >/dev/null 2>&1; [ $? = 2 ] || fail "--connections 0: want 2"
"$qac" replay --prefixes some "$excite" >/dev/null 2>&1; [ $? = 2 ] || fail "--prefixes some: want 2"
"$qac" replay --bogus "$excite" >/dev/null 2>&1; [ $? = 2 ] || fail "unknown option: want 2"
"$qac" replay --speed 10 "$root/data/demo/trec05.txt" >/dev/null 2>&1; [ $? = 2 ] || fail "--speed on a list: want 2"
for v in -0.1 1.5 x ""; do
    "$qac" replay --typos "$v" "$excite" >/dev/null 2>"$tmp/e"; rc=$?
    [ $rc = 2 ] || fail "--typos '$v': exit $rc, want 2"
    [ "$(wc -l <"$tmp/e")" = 1 ] && grep -q -- "--typos" "$tmp/e" || fail "--typos '$v': not a one-line message"
done
"$qac" replay --seed x "$excite" >/dev/null 2>&1; [ $? = 2 ] || fail "--seed x: want 2"
for v in 3 -1 x "" "auto2"; do
    "$qac" replay --fuzzy "$v" "$excite" >/dev/null 2>"$tmp/e"; rc=$?
    [ $rc = 2 ] || fail "--fuzzy '$v': exit $rc, want 2"
    [ "$(wc -l <"$tmp/e")" = 1 ] && grep -q -- "--fuzzy wants 0, 1, 2 or auto" "$tmp/e" || fail "--fuzzy '$v': not a one-line message"
done
"$qac" replay --help | grep -q -- "--fuzzy MODE" || fail "--help does not describe --fuzzy"
"$qac" replay --help | grep -q -- "--typos RATE" || fail "--help does not describe --typos"
dead=$(free_port)
timeout 10 "$qac" replay --port "$dead" "$excite" >/dev/null 2>"$tmp/e"; rc=$?
[ $rc = 1 ] || fail "no server: exit $rc, want 1"
grep -q "cannot connect" "$tmp/e" || fail "no server: message missing"
echo "usage: ok"

# --- 2. a replay with ACCEPTs --------------------------------------------------
"$qac" build -o "$tmp/demo.idx" "$root/data/demo/trec05.txt" "$excite" >/dev/null 2>&1 || fail "build demo index"
start_srv "$tmp/demo.idx"
timeout 60 "$qac" replay --port "$port" --connections 3 --json "$tmp/a.json" --html "$tmp/a.html" "$excite" \
    >"$tmp/a.out" 2>"$tmp/a.err" || { cat "$tmp/a.err"; fail "replay failed"; }
python3 - "$tmp/a.json" <<'PY' || fail "JSON fields"
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("p50","p90","p99","p999","max"): assert r["latency_us"][k] >= 0, k
assert r["latency_us"]["p50"] <= r["latency_us"]["p99"] <= r["latency_us"]["max"]
assert r["throughput_rps"] > 0
assert r["errors"]["timeout"] == 0 and r["errors"]["disconnect"] == 0
for t in ("len1","len2","len3","len4","len5","rand"): assert 0 < r["mrr"][t] <= 1, t
for k in ("1","3","10"): assert 0 < r["sr"][k] <= 1, k
assert r["sr"]["1"] <= r["sr"]["3"] <= r["sr"]["10"]
assert 0 < r["keystrokes_saved"] < 1
assert r["events"] == 3950, r["events"]            # 4501 rows - 533 empty - 18 merged
assert r["requests"] == r["keystrokes"]["typed"] + r["events"]  # one COMPLETE per code point + ACCEPT
assert r["complete"] is True and r["error"] is None
PY
grep -q "empty 533" "$tmp/a.err" || fail "bad lines not reported by reason"
grep -q '^MRR@10' "$tmp/a.out" || fail "no summary on stdout"
grep -q '<svg' "$tmp/a.html" && ! grep -qi 'src="http\|href="http' "$tmp/a.html" || fail "html report"
stop_srv
echo "replay with accepts: ok"

# --- 3. quality equals qac eval (MPC) --------------------------------------------
"$qac" eval -i "$tmp/demo.idx" --systems mpc --split 1970-01-01 --json "$tmp/e.json" "$excite" >/dev/null 2>&1 \
    || fail "qac eval"
start_srv "$tmp/demo.idx" --gen-candidates 0 # MPC alone: no generated completions (see the top)
timeout 60 "$qac" replay --port "$port" --no-accept --prefixes eval --connections 4 --quiet \
    --json "$tmp/b.json" "$excite" 2>/dev/null || fail "replay --no-accept --prefixes eval"
same_quality "$tmp/b.json" "$tmp/e.json"
timeout 60 "$qac" replay --port "$port" --no-accept --rate 20000 --quiet --json "$tmp/c.json" "$excite" 2>/dev/null \
    || fail "open-loop replay"
same_quality "$tmp/c.json" "$tmp/e.json"
[ "$(jget "$tmp/c.json" shape rate)" = 20000 ] || fail "shape not recorded"
echo "quality equals qac eval (closed and open loop): ok"

# --- 4. server killed mid-run ------------------------------------------------------
( sleep 1; kill "$srv" ) &
killer=$!
t0=$(date +%s)
timeout 30 "$qac" replay --port "$port" --rate 2000 --quiet --json "$tmp/d.json" "$root/data/demo/trec05.txt" \
    >/dev/null 2>"$tmp/d.err"; rc=$?
t1=$(date +%s)
wait "$killer" 2>/dev/null; stop_srv
[ $rc = 1 ] || fail "killed server: exit $rc, want 1"
[ $((t1 - t0)) -le 8 ] || fail "killed server: took $((t1 - t0)) s"
grep -q "closed connection" "$tmp/d.err" || fail "killed server: no clear message"
[ "$(jget "$tmp/d.json" complete)" = False ] || fail "partial report not marked"
[ "$(jget "$tmp/d.json" errors disconnect)" = 1 ] || fail "disconnect not counted"
echo "server killed mid-run: ok (exit 1 after $((t1 - t0)) s)"

# --- 4b. --typos on a small generated log -------------------------------------------
python3 - "$tmp/typos.txt" <<'PY'
import random, sys
random.seed(14)
w = ("weather forecast national park restaurant downtown university library museum history "
     "football basketball recipe chocolate cookies garden flowers insurance mortgage calculator "
     "vacation rental beach hotel airport flight schedule").split()
with open(sys.argv[1], "w") as f:
    for _ in range(400): f.write(" ".join(random.sample(w, random.randint(2, 4))) + "\n")
PY
"$qac" build -o "$tmp/typos.idx" "$tmp/typos.txt" >/dev/null 2>&1 || fail "build typos index"
start_srv "$tmp/typos.idx"
timeout 60 "$qac" replay --port "$port" --no-accept --typos 0.5 --seed 3 --json "$tmp/t.json" --html "$tmp/t.html" \
    "$tmp/typos.txt" >"$tmp/t.out" 2>"$tmp/t.err" || { cat "$tmp/t.err"; fail "replay --typos 0.5"; }
grep -q "^typos      rate 0.5, seed 3: " "$tmp/t.out" && grep -q "^typo'd     MRR@10 plain .* FUZZY AUTO .*recall@10 plain" "$tmp/t.out" \
    && grep -q "^typo'd us  FUZZY AUTO p50" "$tmp/t.out" || { cat "$tmp/t.out"; fail "--typos summary lines"; }
grep -q "Typo'd prefixes" "$tmp/t.html" || fail "--typos html section"
timeout 60 "$qac" replay --port "$port" --no-accept --typos 0.5 --seed 3 --connections 3 --rate 20000 --quiet \
    --json "$tmp/t3.json" "$tmp/typos.txt" 2>/dev/null || fail "replay --typos 0.5, open loop"
timeout 60 "$qac" replay --port "$port" --no-accept --typos 0 --quiet --json "$tmp/t0.json" "$tmp/typos.txt" 2>/dev/null \
    || fail "replay --typos 0"
python3 - "$tmp/t.json" "$tmp/t3.json" "$tmp/t0.json" <<'PY' || fail "--typos JSON"
import json, sys
r, r3, r0 = (json.load(open(p)) for p in sys.argv[1:])
t = r["typos"]
assert t["rate"] == 0.5 and t["seed"] == 3, t
assert t["typod"] > 500 and t["prefixes"] == t["typod"] and t["unscored"] == 0, t
assert sum(t["edits"].values()) == t["typod"] and min(t["edits"].values()) > 0, t["edits"]
p, z = t["plain"], t["fuzzy_auto"]
for s in (p, z):
    for k in ("mrr", "recall10", "hits10", "requests", "latency_us"): assert k in s, k
    assert s["requests"] == t["typod"] and 0 <= s["mrr"] <= s["recall10"] <= 1, s
    assert s["latency_us"]["p50"] <= s["latency_us"]["max"]
assert z["recall10"] >= p["recall10"] and z["mrr"] >= p["mrr"], (p, z)
assert z["recall10"] >= 0.5 and z["recall10"] > p["recall10"] + 0.3, (p, z)   # the gain shows
c = t["typed_right"]                                                           # the same prefixes typed right
assert c["recall10"] >= z["recall10"] and 0 < c["mrr"] <= c["recall10"] <= 1, (c, z)
assert r["requests"] == r["measured_requests"] + 2 * t["typod"], r             # no ACCEPT: COMPLETEs + pairs
assert r["keystrokes"]["typed"] == r["measured_requests"]                      # the keystrokes are unchanged
t3 = r3["typos"]                                                               # same seed, other load shape
assert (t3["typod"], t3["edits"], t3["plain"]["mrr"], t3["fuzzy_auto"]["mrr"]) == \
       (t["typod"], t["edits"], p["mrr"], z["mrr"]), (t3, t)
assert r0["typos"]["typod"] == 0 and r0["typos"]["prefixes"] == 0, r0["typos"]
assert r0["requests"] == r0["measured_requests"] and r0["mrr"] == r["mrr"], r0
PY
# --fuzzy / --infix: every keystroke's COMPLETE carries them (the server's
# counters say so), the report names them, and typo tolerance only adds
stat() { redis-cli -p "$port" STATS | tr -d '\r' | sed -n "s/^$1://p"; }
f0=$(stat complete_fuzzy); i0=$(stat complete_infix)
timeout 60 "$qac" replay --port "$port" --no-accept --fuzzy 2 --quiet --json "$tmp/f2.json" "$tmp/typos.txt" 2>/dev/null \
    || fail "replay --fuzzy 2"
f1=$(stat complete_fuzzy); i1=$(stat complete_infix)
[ $((f1 - f0)) = "$(jget "$tmp/f2.json" measured_requests)" ] && [ "$i1" = "$i0" ] \
    || fail "--fuzzy 2: complete_fuzzy +$((f1 - f0)), complete_infix +$((i1 - i0)) for $(jget "$tmp/f2.json" measured_requests) COMPLETEs"
timeout 60 "$qac" replay --port "$port" --no-accept --fuzzy auto --infix --json "$tmp/fi.json" "$tmp/typos.txt" \
    >"$tmp/fi.out" 2>/dev/null || fail "replay --fuzzy auto --infix"
i2=$(stat complete_infix)
[ $((i2 - i1)) = "$(jget "$tmp/fi.json" measured_requests)" ] || fail "--infix: complete_infix +$((i2 - i1))"
grep -q "COMPLETE with FUZZY AUTO INFIX" "$tmp/fi.out" || { cat "$tmp/fi.out"; fail "--fuzzy/--infix not in the summary"; }
python3 - "$tmp/f2.json" "$tmp/fi.json" "$tmp/t0.json" <<'PY' || fail "--fuzzy/--infix JSON"
import json, sys
f2, fi, r0 = (json.load(open(p)) for p in sys.argv[1:])
assert (f2["shape"]["fuzzy"], f2["shape"]["infix"]) == ("2", False), f2["shape"]
assert (fi["shape"]["fuzzy"], fi["shape"]["infix"]) == ("AUTO", True), fi["shape"]
assert (r0["shape"]["fuzzy"], r0["shape"]["infix"]) == (None, False), r0["shape"]
assert f2["measured_requests"] == r0["measured_requests"] and f2["errors"]["protocol"] == 0
for t in r0["mrr"]:   # exact completions stay first: a typo match can only add a target
    assert f2["mrr"][t] >= r0["mrr"][t] - 1e-12, (t, f2["mrr"], r0["mrr"])
PY
stop_srv
echo "--typos: ok ($(jget "$tmp/t.json" typos typod) typo'd prefixes; recall@10 plain $(jget "$tmp/t.json" typos plain recall10), FUZZY AUTO $(jget "$tmp/t.json" typos fuzzy_auto recall10))"

# --- 5. the AOL dev log (needs QAC_SHARED) ----------------------------------------------
dev=${QAC_SHARED:-}/data/aol/aol-users-dev.tsv
if [ -z "${QAC_SHARED:-}" ]; then
    echo "SKIP: part 5 (AOL dev log): QAC_SHARED unset"
    exit 0
elif [ ! -r "$dev" ]; then
    echo "SKIP: part 5 (AOL dev log): cannot read $dev"
    exit 0
fi
"$qac" build -o "$tmp/aol.idx" --until 2006-05-18 "$dev" >/dev/null 2>&1 || fail "build AOL dev log"
"$qac" eval -i "$tmp/aol.idx" --systems mpc --json "$tmp/ae.json" "$dev" >/dev/null 2>&1 || fail "eval AOL dev log"
start_srv "$tmp/aol.idx" --gen-candidates 0
timeout 120 "$qac" replay --port "$port" --no-accept --prefixes eval --measure-from 2006-05-18 --connections 8 \
    --quiet --json "$tmp/ar.json" "$dev" 2>/dev/null || fail "replay AOL dev log"
same_quality "$tmp/ar.json" "$tmp/ae.json" 1e-4
stop_srv
echo "AOL dev log ($(jget "$tmp/ae.json" systems mpc n) scored events): quality equals qac eval: ok"
