#!/usr/bin/env bash
# deploy/cluster.sh -- several qac replicas on one machine (loopback), as a site runs them on several:
# a Redis primary and its replica watched by 3 Sentinels, N `qac serve` replicas that follow the
# primary the Sentinels name (--redis sentinel://...), and nginx in front of their HTTP ports.
#
#   deploy/cluster.sh start  --dir DIR [--replicas N] [--index FILE]   start everything, write DIR/cluster.env
#   deploy/cluster.sh run    --dir DIR [--replicas N] [--index FILE]   start, then stop it all on Ctrl-C
#   deploy/cluster.sh status --dir DIR                                  what runs, one line each; exit 1 if a part is down
#   deploy/cluster.sh stop   --dir DIR                                  stop everything DIR's start started
#
# options: --replicas N   qac replicas [3]; --index FILE   the index every replica loads [the demo index of
# `make run`, built into DIR when absent]; --qac BIN   the qac binary [bin/qac].
#
# DIR/cluster.env (shell-sourceable; space-separated port lists):
#   QAC_PORTS, QAC_HTTP_PORTS, NGINX_PORT, REDIS_PORTS (primary first), SENTINEL_PORTS
# Each part's pid, log and data live under DIR (qacN/ with its own copy of the index, its journal and
# snapshots; redis-primary/, redis-replica/, sentinelN/, nginx/); a start after a stop keeps them. Ports are free ones picked at start. Sentinel: down-after 1 s, failover-timeout 5 s, quorum 2,
# so a failover on loopback completes within a few seconds (tests/it_sentinel.sh measures ~2.6 s).
#
# What is shared: user history, sessions and embeddings live in Redis, so every replica ranks a user
# the same way; nginx passes a failed or timed-out GET to the next replica. Changes (ADD/INCR/DEL, an
# ACCEPT's count) go through the change log, the Redis Stream qac:changes: replica N runs with
# --changelog qac:changes --changelog-id qacN --changelog-wait-replicas 1 (an entry leaves a replica's
# outbox once the Redis replica has it; docs/SCALING.md "Replicas that agree").
# Exit: 0 ok, 1 runtime error, 2 usage.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
me=cluster.sh

usage_error() { echo "$me: $1; see 'deploy/cluster.sh --help'" >&2; exit 2; }
die() { echo "$me: $*" >&2; exit 1; }

cmd=${1:-}
case $cmd in
    -h|--help|help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    start|run|status|stop) shift ;;
    "") usage_error "missing command (start, run, status or stop)" ;;
    *) usage_error "unknown command '$cmd'" ;;
esac
dir= replicas=3 index= qac=$root/bin/qac
while [ $# -gt 0 ]; do
    case $1 in
        --dir) dir=${2:?}; shift 2 ;;
        --replicas) replicas=${2:?}; shift 2 ;;
        --index) index=${2:?}; shift 2 ;;
        --qac) qac=${2:?}; shift 2 ;;
        *) usage_error "unknown option '$1'" ;;
    esac
done
[ -n "$dir" ] || usage_error "--dir DIR is required"
case $replicas in ''|*[!0-9]*) usage_error "--replicas wants a number 1..16" ;; esac
[ "$replicas" -ge 1 ] && [ "$replicas" -le 16 ] || usage_error "--replicas wants a number 1..16"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
env_file=$dir/cluster.env

# free_port: a port nothing listens on, never one this start handed out before (the kernel may offer
# the same ephemeral port again once the probe socket closes, before the first taker binds it).
CLUSTER_START_WAIT=${CLUSTER_START_WAIT:-60}   # seconds a part may take to answer PING
given_ports=" "
# free_port VAR: sets VAR (not $(free_port): a subshell would forget the ports given).
free_port() {
    local p
    for _ in $(seq 50); do
        p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        case $given_ports in *" $p "*) continue ;; esac
        given_ports+="$p "
        printf -v "$1" %s "$p"
        return 0
    done
    die "no free port found in 50 tries"
}
answers() { redis-cli -p "$1" PING 2>/dev/null | grep -q PONG; }   # redis, Sentinel and qac all PONG
# wait_answers PORT [PIDFILE]: PING until it answers, for at most CLUSTER_START_WAIT s; gives up at once
# when the process of PIDFILE has exited (its log says why)
wait_answers() {
    local end=$((SECONDS + CLUSTER_START_WAIT))
    while [ $SECONDS -le $end ]; do
        answers "$1" && return 0
        [ -n "${2:-}" ] && ! alive "$2" && return 1
        sleep 0.1
    done
    return 1
}
# start_failed WHAT LOG: the failure and the last lines of the part's log (the log stays in DIR)
start_failed() {
    echo "$me: $1 did not start within ${CLUSTER_START_WAIT} s; last lines of $2:" >&2
    tail -n 20 "$2" >&2 2>/dev/null || true
    die "$1 did not start (see $2)"
}
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Every pid file under DIR, in the order start wrote them (stop goes backwards).
pidfiles() { [ -f "$dir/pids" ] && cat "$dir/pids" || true; }

do_status() {
    [ -f "$env_file" ] || { echo "$me: nothing started in $dir"; return 1; }
    local down=0 f
    while read -r f; do
        if alive "$f"; then echo "up    $(basename "$(dirname "$f")") (pid $(cat "$f"))"
        else echo "DOWN  $(basename "$(dirname "$f")")"; down=1; fi
    done < <(pidfiles)
    return $down
}

do_stop() {
    local f pid
    [ -f "$dir/nginx/nginx.pid" ] && "$here/nginx-run.sh" stop --dir "$dir/nginx" >/dev/null 2>&1 || true
    while read -r f; do
        alive "$f" || continue
        pid=$(cat "$f")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
    done < <(pidfiles | tac)
    rm -f "$dir/pids" "$env_file"
}

case $cmd in
    status) do_status; exit $? ;;
    stop) do_stop; echo "$me: stopped"; exit 0 ;;
esac

# --- start ------------------------------------------------------------------------------------------
[ -f "$env_file" ] && do_status >/dev/null 2>&1 && die "a cluster already runs in $dir (stop it first)"
rm -f "$dir/pids"
[ -x "$qac" ] || die "$qac is not built (make)"
for t in redis-server redis-cli python3; do command -v "$t" >/dev/null || die "$t is not installed (make deps)"; done
started=0
trap '[ "$started" = 1 ] || { echo "$me: start failed; stopping what it started" >&2; do_stop; }' EXIT

# background PIDFILE LOG CMD...: start CMD, record its pid
background() {
    local pf=$1 log=$2
    shift 2
    mkdir -p "$(dirname "$pf")"
    setsid "$@" >>"$log" 2>&1 </dev/null & # its own session: a closing terminal does not reach it
    echo $! >"$pf"
    echo "$pf" >>"$dir/pids"
}

if [ -z "$index" ]; then
    index=$dir/demo.qac
    [ -f "$index" ] || "$qac" build -o "$index" --quiet "$root"/data/demo/*.txt "$root"/data/demo/*.tsv ||
        die "cannot build the demo index"
fi
[ -f "$index" ] || die "no index $index"

free_port p_primary; free_port p_replica
for r in primary replica; do
    port_var=p_$r
    mkdir -p "$dir/redis-$r"
    args=(--port "${!port_var}" --bind 127.0.0.1 --dir "$dir/redis-$r" --save '' --appendonly yes
          --daemonize no --loglevel warning)
    [ "$r" = replica ] && args+=(--replicaof 127.0.0.1 "$p_primary")
    background "$dir/redis-$r/pid" "$dir/redis-$r/log" redis-server "${args[@]}"
    wait_answers "${!port_var}" "$dir/redis-$r/pid" || start_failed "redis $r" "$dir/redis-$r/log"
done
# the replica has synced before the Sentinels look (they learn of it from the primary)
for _ in $(seq 100); do
    redis-cli -p "$p_replica" INFO replication 2>/dev/null | grep -q '^master_link_status:up' && break
    sleep 0.1
done
redis-cli -p "$p_replica" INFO replication | grep -q '^master_link_status:up' ||
    die "the Redis replica did not sync with the primary in 10 s (see $dir/redis-replica/log)"

sent_ports=() sent_list=
for i in 1 2 3; do
    free_port sp
    mkdir -p "$dir/sentinel$i"
    cat >"$dir/sentinel$i/sentinel.conf" <<EOF
port $sp
bind 127.0.0.1
daemonize no
dir $dir/sentinel$i
sentinel monitor qac 127.0.0.1 $p_primary 2
sentinel down-after-milliseconds qac 1000
sentinel failover-timeout qac 5000
sentinel parallel-syncs qac 1
EOF
    background "$dir/sentinel$i/pid" "$dir/sentinel$i/log" redis-server "$dir/sentinel$i/sentinel.conf" --sentinel
    wait_answers "$sp" "$dir/sentinel$i/pid" || start_failed "sentinel $i" "$dir/sentinel$i/log"
    sent_ports+=("$sp")
    sent_list+="${sent_list:+,}127.0.0.1:$sp"
done

qac_ports=() http_ports=() upstreams=()
for i in $(seq "$replicas"); do
    free_port qp; free_port hp
    mkdir -p "$dir/qac$i"
    # each replica owns its snapshot (SAVE rewrites the index it started from) and its journal
    [ -f "$dir/qac$i/index.qac" ] || cp "$index" "$dir/qac$i/index.qac"
    background "$dir/qac$i/pid" "$dir/qac$i/log" "$qac" serve -i "$dir/qac$i/index.qac" --port "$qp" \
        --http-port "$hp" --journal "$dir/qac$i/journal" --redis "sentinel://$sent_list/qac" \
        --changelog qac:changes --changelog-id "qac$i" --changelog-wait-replicas 1
    wait_answers "$qp" "$dir/qac$i/pid" || start_failed "qac replica $i" "$dir/qac$i/log"
    qac_ports+=("$qp")
    http_ports+=("$hp")
    upstreams+=(--upstream "127.0.0.1:$hp")
done

free_port nginx_port
"$here/nginx-run.sh" start --dir "$dir/nginx" --port "$nginx_port" "${upstreams[@]}" >/dev/null ||
    die "nginx did not start (see $dir/nginx/logs/error.log)"
echo "$dir/nginx/nginx.pid" >>"$dir/pids"
started=1

cat >"$env_file" <<EOF
QAC_PORTS="${qac_ports[*]}"
QAC_HTTP_PORTS="${http_ports[*]}"
NGINX_PORT="$nginx_port"
REDIS_PORTS="$p_primary $p_replica"
SENTINEL_PORTS="${sent_ports[*]}"
EOF
echo "$me: $replicas qac replicas behind nginx at http://127.0.0.1:$nginx_port/ ; Redis $p_primary (replica $p_replica), Sentinels ${sent_ports[*]}; ports in $env_file"

if [ "$cmd" = run ]; then
    trap 'do_stop; echo "$me: stopped"; exit 0' INT TERM
    echo "$me: Ctrl-C stops everything"
    while sleep 1; do :; done
fi
