#!/usr/bin/env bash
# deploy/run.sh QAC_BIN -- the demo behind `make run`.
#
# Builds the demo index from the data shipped in data/demo/ (once; rebuilt
# when the data or the binary is newer), starts a private redis-server (user
# and session history, shared by every qac replica), `qac serve` using it,
# and nginx in front serving the typeahead page (web/); prints how to talk to
# them, and stops all three cleanly on Ctrl-C.
#
# Ranking: the demo ranks with the hand-tuned heuristic over popularity, the
# user's history and the session. The demo log (3,950 Excite events of one
# day) is far too small to train the learned ranker on -- a model trained on
# it ranks rare completions above popular ones; README "Ranking" shows how to
# train and serve one from real logs (qac embed / train / load, --model).
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
rundir=$root/run
mkdir -p "$rundir"
index=$rundir/demo.qac
demo=(data/demo/trec05.txt data/demo/excite97.tsv)

if [ ! -f "$index" ] || [ -n "$(find "${demo[@]}" "$qac" -newer "$index" 2>/dev/null)" ]; then
    echo "== building the demo index from ${demo[*]}"
    "$qac" build -o "$index" "${demo[@]}"
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

echo "== starting qac on 127.0.0.1:$port (text and RESP) and :$http_port (HTTP), history in Redis"
"$qac" serve -i "$index" --port "$port" --http-port "$http_port" --save "$rundir/demo-saved.qac" \
    --redis "127.0.0.1:$redis_port" &
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
