#!/usr/bin/env bash
# deploy/cluster.sh -- several qac replicas on one machine (loopback), as a site runs them on several:
# a Redis primary and its replica watched by 3 Sentinels, N `qac serve` replicas that follow the
# primary the Sentinels name (--redis sentinel://...), and nginx in front of their HTTP ports.
#
#   deploy/cluster.sh start  --dir DIR [--replicas N] [--shards S] [--index FILE]   start everything, write
#                                                                                  DIR/cluster.env
#   deploy/cluster.sh run    --dir DIR [--replicas N] [--shards S] [--index FILE]   start, then stop it all on Ctrl-C
#   deploy/cluster.sh status --dir DIR                                  what runs, one line each; exit 1 if a part is down
#   deploy/cluster.sh stop   --dir DIR                                  stop everything DIR's start started
#
# options: --replicas N   qac replicas (per shard) [3]; --index FILE   the index every replica loads [the demo
# index of `make run`, built into DIR when absent]; --qac BIN   the qac binary [bin/qac]; --shards S   S
# shards x N replicas [1]: FILE is then what `qac build --shards S -o FILE` wrote (FILE.0 .. FILE.S-1 and the
# map FILE.shards; the demo is built so when absent); --nginx-rate N   nginx's per-client requests/s on
# /v1/ [50] (tests that send many from one address raise it).
#
# Shards (S > 1): shard s's replicas sSqacI share the change-log stream qac:changes:S (one per shard: a
# change applies to its shard's replicas only); one merger (merger/, `qac serve --upstreams` with every
# shard's replicas and the map) answers what no single shard can; nginx routes /v1/complete by q with a
# map generated from the shard map (DIR/nginx-routes.conf): a q whose first two bytes are ASCII letters or
# digits (or one such byte, or one followed by '+' or %20), without infix=1 or dict=, goes to the shard owning
# that letter (case-insensitively: qac's key forms fold ASCII case), everything else to the merger.
#
# DIR/cluster.env (shell-sourceable; space-separated port lists):
#   QAC_PORTS, QAC_HTTP_PORTS, NGINX_PORT, REDIS_PORTS (primary first), SENTINEL_PORTS
#   and, with --shards S: SHARDS=S, SHARD<s>_PORTS and SHARD<s>_HTTP_PORTS (shard s's replicas; QAC_PORTS lists
#   every shard's, shard 0 first), MERGER_PORT, MERGER_HTTP_PORT
# Each part's pid, log and data live under DIR (qacN/ with its own copy of the index, its journal and
# snapshots; redis-primary/, redis-replica/, sentinelN/, nginx/); a start after a stop keeps them. Ports are free ones picked at start. Sentinel: down-after 1 s, failover-timeout 5 s, quorum 2,
# so a failover on loopback completes within a few seconds (tests/it_sentinel.sh measures ~2.6 s).
#
# What is shared: user history, sessions and embeddings live in Redis, so every replica ranks a user
# the same way; nginx passes a failed or timed-out GET to the next replica. Changes (ADD/INCR/DEL, an
# ACCEPT's count) go through the change log, the Redis Stream qac:changes: replica N runs with
# --changelog qac:changes --changelog-id qacN --changelog-wait-replicas 1 (an entry leaves a replica's
# outbox once the Redis replica has it; docs/SCALING.md "Replicas that agree").
# Start waits up to CLUSTER_START_WAIT seconds (environment; default 60) for each part to answer PING, and
# stops waiting when the part has exited; a part that did not start has its log's last lines printed (the
# log stays in DIR). Ports are never handed out twice within one start.
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
dir= replicas=3 shards=1 index= qac=$root/bin/qac nginx_rate=50
while [ $# -gt 0 ]; do
    case $1 in
        --dir) dir=${2:?}; shift 2 ;;
        --replicas) replicas=${2:?}; shift 2 ;;
        --shards) shards=${2:?}; shift 2 ;;
        --nginx-rate) nginx_rate=${2:?}; shift 2 ;;
        --index) index=${2:?}; shift 2 ;;
        --qac) qac=${2:?}; shift 2 ;;
        *) usage_error "unknown option '$1'" ;;
    esac
done
[ -n "$dir" ] || usage_error "--dir DIR is required"
case $replicas in ''|*[!0-9]*) usage_error "--replicas wants a number 1..16" ;; esac
[ "$replicas" -ge 1 ] && [ "$replicas" -le 16 ] || usage_error "--replicas wants a number 1..16"
case $shards in ''|*[!0-9]*) usage_error "--shards wants a number 1..16" ;; esac
[ "$shards" -ge 1 ] && [ "$shards" -le 16 ] || usage_error "--shards wants a number 1..16"
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
    echo "$me: $1 exited or did not answer PING within ${CLUSTER_START_WAIT} s; last lines of $2:" >&2
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
    shard_opt=()
    [ "$shards" -gt 1 ] && index=$dir/demo-$shards.qac && shard_opt=(--shards "$shards")
    [ -f "$index" ] || [ -f "$index.shards" ] ||
        "$qac" build -o "$index" --quiet "${shard_opt[@]}" "$root"/data/demo/*.txt "$root"/data/demo/*.tsv ||
        die "cannot build the demo index"
fi
if [ "$shards" -gt 1 ]; then
    [ -f "$index.shards" ] || die "no shard map $index.shards (build the shards with: qac build --shards $shards -o $index ...)"
    grep -qx "shards $shards" "$index.shards" || die "$index.shards is not a map of $shards shards"
    for s in $(seq 0 $((shards - 1))); do [ -f "$index.$s" ] || die "no shard index $index.$s"; done
else
    [ -f "$index" ] || die "no index $index"
fi

p_primary='' p_replica='' sp='' qp='' hp='' mp='' mhp='' nginx_port=''   # set by free_port
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

qac_ports=() http_ports=() upstreams=() shard_env='' merger_spec=''
# start_replica NAME INDEX STREAM: one qac serve in DIR/NAME following the change-log stream STREAM; sets qp, hp
start_replica() {
    local name=$1 idx=$2 stream=$3
    free_port qp; free_port hp
    mkdir -p "$dir/$name"
    # each replica owns its snapshot (SAVE rewrites the index it started from) and its journal
    [ -f "$dir/$name/index.qac" ] || cp "$idx" "$dir/$name/index.qac"
    background "$dir/$name/pid" "$dir/$name/log" "$qac" serve -i "$dir/$name/index.qac" --port "$qp" \
        --http-port "$hp" --journal "$dir/$name/journal" --redis "sentinel://$sent_list/qac" \
        --changelog "$stream" --changelog-id "$name" --changelog-wait-replicas 1
}
# route_class S: the ASCII letters and digits whose code point the shard map gives to shard S
route_class() {
    local c cp lo hi own cls=
    for c in 0 1 2 3 4 5 6 7 8 9 a b c d e f g h i j k l m n o p q r s t u v w x y z; do
        cp=$(printf '%d' "'$c")
        while read -r _ lo hi own; do
            [ $((16#$lo)) -le "$cp" ] && [ "$cp" -le $((16#$hi)) ] && [ "$own" = "$1" ] && cls+=$c
        done < <(grep '^range ' "$index.shards")
    done
    echo "$cls"
}
if [ "$shards" -eq 1 ]; then
    for i in $(seq "$replicas"); do
        start_replica "qac$i" "$index" qac:changes
        wait_answers "$qp" "$dir/qac$i/pid" || start_failed "qac replica $i" "$dir/qac$i/log"
        qac_ports+=("$qp")
        http_ports+=("$hp")
        upstreams+=(--upstream "127.0.0.1:$hp")
    done
else
    routes=$dir/nginx-routes.conf
    echo "    # generated by deploy/cluster.sh from $index.shards" >"$routes"
    for s in $(seq 0 $((shards - 1))); do
        sp_list=() sh_list=() group=
        for i in $(seq "$replicas"); do
            start_replica "s${s}qac$i" "$index.$s" "qac:changes:$s"
            sp_list+=("$qp") sh_list+=("$hp")
            group+="${group:+,}127.0.0.1:$qp"
        done
        for i in $(seq "$replicas"); do
            wait_answers "${sp_list[$((i - 1))]}" "$dir/s${s}qac$i/pid" ||
                start_failed "qac shard $s replica $i" "$dir/s${s}qac$i/log"
        done
        qac_ports+=("${sp_list[@]}") http_ports+=("${sh_list[@]}")
        merger_spec+="${merger_spec:+;}$group"
        shard_env+="SHARD${s}_PORTS=\"${sp_list[*]}\""$'\n'"SHARD${s}_HTTP_PORTS=\"${sh_list[*]}\""$'\n'
        { echo "    upstream qac_shard$s {"
          for h in "${sh_list[@]}"; do echo "        server 127.0.0.1:$h max_fails=3 fail_timeout=5s;"; done
          echo "        keepalive 32;"
          echo "    }"; } >>"$routes"
    done
    # the merger reads the map from DIR, the shard files named as in the map
    cp "$index.shards" "$dir/shards.map"
    free_port mp; free_port mhp
    mkdir -p "$dir/merger"
    background "$dir/merger/pid" "$dir/merger/log" "$qac" serve --upstreams "$merger_spec" \
        --shard-map "$dir/shards.map" --port "$mp" --http-port "$mhp"
    wait_answers "$mp" "$dir/merger/pid" || start_failed "the merger" "$dir/merger/log"
    upstreams+=(--upstream "127.0.0.1:$mhp")
    # The map, on "infix|dict|q" -> the upstream. Only what nginx can decide as qac's normalization would:
    # an ASCII letter or digit first, then another, '+' (a space), %20 or the end, so that no combining
    # mark or other character can change the first character once normalized; the rest goes to the merger.
    { echo "    map \"\$arg_infix|\$arg_dict|\$arg_q\" \$qac_route {"
      echo "        default qac;"
      for s in $(seq 0 $((shards - 1))); do
          cls=$(route_class "$s")
          [ -z "$cls" ] || echo "        \"~*^0?\\|\\|[$cls]([a-z0-9+]|%20|\$)\" qac_shard$s;"
      done
      echo "    }"; } >>"$routes"
fi

free_port nginx_port
route_opt=()
[ "$shards" -gt 1 ] && route_opt=(--routes "$routes")
"$here/nginx-run.sh" start --dir "$dir/nginx" --port "$nginx_port" --rate "$nginx_rate" "${upstreams[@]}" \
    "${route_opt[@]}" >/dev/null ||
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
[ "$shards" -eq 1 ] ||
    printf 'SHARDS="%s"\n%sMERGER_PORT="%s"\nMERGER_HTTP_PORT="%s"\n' "$shards" "$shard_env" "$mp" "$mhp" >>"$env_file"
echo "$me: $shards shard(s) x $replicas qac replicas behind nginx at http://127.0.0.1:$nginx_port/ ; Redis $p_primary (replica $p_replica), Sentinels ${sent_ports[*]}; ports in $env_file"

if [ "$cmd" = run ]; then
    trap 'do_stop; echo "$me: stopped"; exit 0' INT TERM
    echo "$me: Ctrl-C stops everything"
    while sleep 1; do :; done
fi
