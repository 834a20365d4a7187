#!/usr/bin/env bash
# it_run.sh -- `make run` (deploy/run.sh) serves the learned ranker.
#  1. First start, in a fresh run directory (QAC_RUN_DIR) on free ports: it
#     builds the index, trains embeddings and the model from data/demo/,
#     loads the embeddings into its redis-server; STATS shows
#     rank_model_loaded:1, a non-zero rank_embeddings_version and Redis up.
#  2. The model is safe on the small demo log: the anonymous top 5 for "yah"
#     holds only queries counted 10 times or more (a model trained on it
#     without the heuristic base ranked "yah/" and "yahh", counted once, second
#     and third), and for y, c, m, w and yah it shares at least 3 of 5 with
#     the index's popularity order (`qac complete`; at --alpha 0.02, "y" shared
#     1: yahoo, then four queries counted twice).
#  3. An ACCEPT through the page's route (POST /v1/accept with user, session,
#     prefix and rank) teaches the model: rank_online_updates goes to 1.
#  4. SIGTERM stops qac, nginx and redis-server (exit 0, ports free) and the
#     online weights are in demo-online.model.
#  5. A second start reuses the cached index, embeddings and model (nothing
#     is trained again) and serves the model again.
# Under the SAN build (QAC_BIN=build/san/qac) every qac step of both starts
# (build, embed, train, load, serve) must leave no sanitizer report.
set -u
qac=${QAC_BIN:?QAC_BIN not set}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need nginx redis-server redis-cli curl python3
make_tmp it_run

port=$(free_port) http=$(free_port) web=$(free_port) rport=$(free_port)
run_pid=
start() { # start OUT: deploy/run.sh in the background until it says it runs
    QAC_RUN_DIR=$tmp/run QAC_PORT=$port QAC_HTTP_PORT=$http QAC_WEB_PORT=$web QAC_REDIS_PORT=$rport \
        "$root/deploy/run.sh" "$qac" >"$1" 2>&1 &
    run_pid=$!
    track "$run_pid"
    fail_log=$1
    for _ in $(seq 1200); do
        grep -q "^qac is running" "$1" && return 0
        kill -0 "$run_pid" 2>/dev/null || fail "deploy/run.sh exited before serving"
        sleep 0.1
    done
    fail "deploy/run.sh did not start within 120 s"
}
stat() { redis-cli -p "$port" STATS | tr -d '\r' | sed -n "s/^$1://p"; }
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- 1. first start ----------------------------------------------------------------
start "$tmp/out1"
for what in "building the demo index" "training the demo embeddings" "training the demo ranking model" \
    "loading the embeddings"; do
    grep -q "== $what" "$tmp/out1" || fail "first start: no '$what' step"
done
check "rank_model_loaded" "$(stat rank_model_loaded)" 1
check "rank_redis_up" "$(stat rank_redis_up)" 1
v=$(stat rank_embeddings_version)
if [ -n "$v" ] && [ "$v" -gt 0 ]; then ok "rank_embeddings_version $v"; else bad "rank_embeddings_version '$v', want > 0"; fi

# --- 2. popular completions first ------------------------------------------------------
top=$(redis-cli -p "$port" COMPLETE yah LIMIT 5 WITHSCORES | tr -d '\r')
echo "$top" | paste - - | sed 's/^/  yah: /'
low=$(echo "$top" | paste - - | awk -F'\t' '$2 < 10' | wc -l)
if [ "$(echo "$top" | head -1)" = yahoo ] && [ "$low" = 0 ]; then ok "anonymous 'yah': popular completions first"
else bad "anonymous 'yah': $low of the top 5 counted under 10 times, or yahoo not first"; fi

for p in y c m w yah; do
    mine=$(redis-cli -p "$port" COMPLETE "$p" LIMIT 5 | tr -d '\r' | sort)
    pop=$("$qac" complete -i "$tmp/run/demo.qac" -k 5 "$p" | cut -f1 | sed '/^$/d' | sort)
    n=$(comm -12 <(echo "$mine") <(echo "$pop") | wc -l)
    if [ "$n" -ge 3 ]; then ok "anonymous '$p': $n of 5 in the popularity top 5"
    else bad "anonymous '$p': only $n of 5 in the popularity top 5: ${mine//$'\n'/, } / ${pop//$'\n'/, }"; fi
done

# --- 3. the page's ACCEPT teaches the model ----------------------------------------------
code=$(http_status -X POST --data 'q=yahoo+chat&user=itrun&session=s1&prefix=ya&rank=3' \
    "http://127.0.0.1:$http/v1/accept")
check "POST /v1/accept" "$code" 200
u=0
for _ in $(seq 50); do
    u=$(stat rank_online_updates)
    [ "$u" -ge 1 ] 2>/dev/null && break
    sleep 0.1
done
check "rank_online_updates after one ACCEPT" "$u" 1

# --- 4. stop -------------------------------------------------------------------------
kill -TERM "$run_pid"
wait "$run_pid"
check "deploy/run.sh exit status after SIGTERM" "$?" 0
for p in "$port" "$http" "$web" "$rport"; do
    in_use "$p" && bad "port $p still in use after the stop"
done
if [ -s "$tmp/run/demo-online.model" ]; then ok "online weights saved"; else bad "no $tmp/run/demo-online.model"; fi

# --- 5. second start: cached -----------------------------------------------------------
start "$tmp/out2"
if grep -q "== building\|== training" "$tmp/out2"; then bad "second start made again: $(grep '== ' "$tmp/out2")"
else ok "second start reuses index, embeddings and model"; fi
check "rank_model_loaded (second start)" "$(stat rank_model_loaded)" 1
kill -TERM "$run_pid"
wait "$run_pid"
check "second stop" "$?" 0
for o in "$tmp/out1" "$tmp/out2"; do no_sanitizer_report "$o" || bad "sanitizer report in $o"; done
fail_log=
[ "$fails" -eq 0 ] || exit 1
echo "it_run: ok"
