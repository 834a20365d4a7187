#!/usr/bin/env bash
# deploy/run.sh QAC_BIN -- the demo behind `make run`.
#
# Makes the demo's index, embeddings and learned model from the data shipped
# in data/demo/ (once, in $QAC_RUN_DIR, default run/; each is made again
# when the data or the binary is newer than it), starts a private
# redis-server (embeddings, user and session history: what every qac replica
# shares), loads the embeddings into it (`qac load`), starts `qac serve` with
# the model and Redis, and nginx in front serving the typeahead page (web/);
# prints how to talk to them, and stops all three cleanly on Ctrl-C.
#
# Ranking is the learned ranker, as the product is meant to run:
#   qac build -o run/demo.qac data/demo/trec05.txt data/demo/excite97.tsv
#   qac embed -o run/demo.emb data/demo/excite97.tsv
#   qac train -i run/demo.qac --embeddings run/demo.emb -o run/demo.model \
#             --split 2100-01-01 --alpha 0.005 data/demo/excite97.tsv
# (a few seconds). The demo log is small (3,950 Excite events of one day), so
# the model learns on top of the hand-tuned heuristic (qac train --base
# heuristic, the default): with no weights it ranks as the heuristic does, and
# on this log it beats it on the log's later part (README "Ranking"). The
# learning rate is small (--alpha 0.005): the log's accepted queries are
# nearly all the user's own repeats, counted a few times, and at larger rates
# the model learns to put such rarely counted queries above popular ones for
# everybody (anonymous "y" gave yahoo, then four queries counted twice).
# The page's ACCEPTs teach it online; since one person at the page is the
# demo's only user, --accept-learn-users is 1 here (a shared server keeps the
# default, 3). Learned weights are written to run/demo-online.model at
# shutdown; each start serves the trained run/demo.model again.
#
# Ports can be changed:
#   make run QAC_PORT=7700 QAC_HTTP_PORT=7780 QAC_WEB_PORT=8080 QAC_REDIS_PORT=7781
set -euo pipefail
qac=${1:?usage: deploy/run.sh QAC_BIN}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
port=${QAC_PORT:-7700}
http_port=${QAC_HTTP_PORT:-7780}
web_port=${QAC_WEB_PORT:-8080}
redis_port=${QAC_REDIS_PORT:-7781}
rundir=${QAC_RUN_DIR:-$root/run}
mkdir -p "$rundir"
index=$rundir/demo.qac emb=$rundir/demo.emb model=$rundir/demo.model
demo=(data/demo/trec05.txt data/demo/excite97.tsv)
log=data/demo/excite97.tsv

# stale OUT INPUT...: OUT is missing or older than an input
stale() { local out=$1; shift; [ ! -f "$out" ] || [ -n "$(find "$@" -newer "$out" 2>/dev/null)" ]; }
if stale "$index" "${demo[@]}" "$qac"; then
    echo "== building the demo index from ${demo[*]}"
    "$qac" build -o "$index" "${demo[@]}"
fi
if stale "$emb" "$log" "$qac"; then
    echo "== training the demo embeddings on $log"
    "$qac" embed -o "$emb" "$log"
fi
if stale "$model" "$index" "$emb" "$log" "$qac"; then
    echo "== training the demo ranking model on $log"
    "$qac" train -i "$index" --embeddings "$emb" -o "$model" --split 2100-01-01 --alpha 0.005 "$log"
fi

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$port" "$http_port" "$web_port" "$redis_port"; do
    if in_use "$p"; then
        echo "run: port $p is already in use; pick others: make run QAC_PORT=N QAC_HTTP_PORT=M QAC_WEB_PORT=W QAC_REDIS_PORT=R" >&2
        exit 1
    fi
done

echo "== starting redis-server on 127.0.0.1:$redis_port (data in $rundir/redis)"
mkdir -p "$rundir/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$rundir/redis" --save "" --appendonly no \
    --daemonize no --loglevel warning >"$rundir/redis/log" 2>&1 &
redis_pid=$!
pid=
stopped=0
stop() {
    trap - INT TERM EXIT
    deploy/nginx-run.sh stop --dir "$rundir/nginx" >/dev/null 2>&1 || true
    [ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
    kill -TERM "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null
    echo; echo "== qac, nginx and redis-server stopped"
}
trap 'stopped=1' INT TERM
trap stop EXIT
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null 2>&1 || { echo "run: redis-server did not start (see $rundir/redis/log)" >&2; exit 1; }
echo "== loading the embeddings into redis-server"
"$qac" load --redis "127.0.0.1:$redis_port" "$emb" || { echo "run: qac load failed (see above)" >&2; exit 1; }

echo "== starting qac on 127.0.0.1:$port (text and RESP) and :$http_port (HTTP), learned ranker, Redis"
"$qac" serve -i "$index" --port "$port" --http-port "$http_port" --save "$rundir/demo-saved.qac" \
    --redis "127.0.0.1:$redis_port" --model "$model" --model-save "$rundir/demo-online.model" \
    --accept-learn-users 1 &
pid=$!
for _ in $(seq 100); do in_use "$port" && break; sleep 0.1; done
in_use "$port" || { echo "run: qac did not start (see the log above)" >&2; exit 1; }
echo "== starting nginx on 127.0.0.1:$web_port in front of qac's HTTP port"
deploy/nginx-run.sh start --dir "$rundir/nginx" --port "$web_port" --upstream "127.0.0.1:$http_port" >/dev/null

cat <<MSG

qac is running (pid $pid). Open the typeahead page:

  http://127.0.0.1:$web_port/

or talk to qac directly:

  telnet 127.0.0.1 $port                      then type:  COMPLETE new     (HELP lists commands)
  printf 'COMPLETE "new yo" LIMIT 5\\r\\n' | nc -q1 127.0.0.1 $port
  redis-cli -p $port COMPLETE new WITHSCORES
  curl 'http://127.0.0.1:$http_port/v1/complete?q=new+yo&k=5'
  printf 'COMPLETE ya USER u1 SESSION s1\\r\\n' | nc -q1 127.0.0.1 $port   (personal ranking: history in Redis)
  printf 'ACCEPT "yahoo chat" USER u1 SESSION s1 PREFIX ya\\r\\n' | nc -q1 127.0.0.1 $port   (teaches the model)
  redis-cli -p $port STATS | grep -E 'rank_model_loaded|rank_embeddings_version|online'
  curl http://127.0.0.1:$http_port/metrics

Press Ctrl-C to stop qac, nginx and redis-server.
MSG
set +e
wait "$pid"   # returns early when Ctrl-C (or TERM) arrives
rc=$?
if [ "$stopped" = 0 ]; then
    echo "run: qac exited by itself with status $rc (see its log above)" >&2
    exit 1
fi
exit 0
