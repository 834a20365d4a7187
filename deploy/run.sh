#!/usr/bin/env bash
# deploy/run.sh QAC_BIN -- the demo behind `make run`.
#
# Builds the demo index from the data shipped in data/demo/ (once; rebuilt when
# the data or the binary is newer), starts `qac serve` on local ports, prints how
# to talk to it, and stops cleanly on Ctrl-C. Ports can be changed:
#   make run QAC_PORT=7700 QAC_HTTP_PORT=7780
set -euo pipefail
qac=${1:?usage: deploy/run.sh QAC_BIN}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
port=${QAC_PORT:-7700}
http_port=${QAC_HTTP_PORT:-7780}
rundir=$root/run
mkdir -p "$rundir"
index=$rundir/demo.qac
demo=(data/demo/trec05.txt data/demo/excite97.tsv)

if [ ! -f "$index" ] || [ -n "$(find "${demo[@]}" "$qac" -newer "$index" 2>/dev/null)" ]; then
    echo "== building the demo index from ${demo[*]}"
    "$qac" build -o "$index" "${demo[@]}"
fi

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$port" "$http_port"; do
    if in_use "$p"; then
        echo "run: port $p is already in use; pick others: make run QAC_PORT=N QAC_HTTP_PORT=M" >&2
        exit 1
    fi
done

echo "== starting qac on 127.0.0.1:$port (text and RESP) and :$http_port (HTTP)"
"$qac" serve -i "$index" --port "$port" --http-port "$http_port" --save "$rundir/demo-saved.qac" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; echo; echo "== qac stopped"' INT TERM EXIT
for _ in $(seq 100); do in_use "$port" && break; sleep 0.1; done
in_use "$port" || { echo "run: qac did not start (see the log above)" >&2; exit 1; }

cat <<MSG

qac is running (pid $pid). Talk to it:

  telnet 127.0.0.1 $port                      then type:  COMPLETE new     (HELP lists commands)
  printf 'COMPLETE "new yo" LIMIT 5\\r\\n' | nc -q1 127.0.0.1 $port
  redis-cli -p $port COMPLETE new WITHSCORES
  curl 'http://127.0.0.1:$http_port/v1/complete?q=new+yo&k=5'
  curl http://127.0.0.1:$http_port/metrics

Press Ctrl-C to stop.
MSG
wait $pid
