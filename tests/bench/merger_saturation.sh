#!/usr/bin/env bash
# merger_saturation.sh -- requests/s per core of the shard merger at saturation, A/B against one
# server (docs/SCALING.md "Shards"). redis-benchmark drives each side with pipelined RESP COMPLETEs
# (C clients, -c connections x -P deep); the cost is the CPU time the serving process (and, for the
# merger, its shards) used per request, read from /proc/PID/stat before and after each run: on a shared
# machine that is fairer than wall-clock throughput. Sides alternate, ROUNDS times; medians printed.
#   usage: merger_saturation.sh ONE_PORT ONE_PID MERGER_PORT MERGER_PID "SHARD_PIDS" [ROUNDS] [N]
# The servers are started as in docs/SCALING.md (one server on the whole index; two shards; the merger).
set -u
one_port=$1 one_pid=$2 m_port=$3 m_pid=$4 shard_pids=$5 rounds=${6:-5} n=${7:-100000}
hz=$(getconf CLK_TCK)
cpu() { local t=0 p f; for p in "$@"; do read -ra f <"/proc/$p/stat"; t=$((t + f[13] + f[14])); done; echo "$t"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
# one run: prints "requests/s(wall) requests/cpu-s(server) requests/cpu-s(shards, or -)"
run() { # PORT "PIDS_SERVER" "PIDS_SHARDS" ARGS...
    local port=$1 hp=$3 t0 t1 c0 h0=0 c1 h1=0
    local -a spa hpa
    read -ra spa <<<"$2"; read -ra hpa <<<"$3"; shift 3
    c0=$(cpu "${spa[@]}"); [ -n "$hp" ] && h0=$(cpu "${hpa[@]}")
    t0=$(date +%s%N)
    redis-benchmark -p "$port" -n "$n" -c 8 -P 16 -q "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    c1=$(cpu "${spa[@]}"); [ -n "$hp" ] && h1=$(cpu "${hpa[@]}")
    awk -v n="$n" -v w="$(((t1 - t0) / 1000))" -v c=$((c1 - c0)) -v h=$((h1 - h0)) -v hz="$hz" -v sh="$hp" \
        'BEGIN { printf "%d %d %s\n", n / (w / 1e6), c ? n / (c / hz) : 0, sh == "" ? "-" : (h ? int(n / (h / hz)) : 0) }'
}
for what in "plain:COMPLETE ne LIMIT 10" "infix:COMPLETE new INFIX LIMIT 10"; do
    name=${what%%:*} cmd=${what#*:}
    : >"/tmp/msat.$$.one" ; : >"/tmp/msat.$$.mer"
    for r in $(seq "$rounds"); do
        # shellcheck disable=SC2086
        if [ $((r % 2)) = 1 ]; then run "$one_port" "$one_pid" "" $cmd >>"/tmp/msat.$$.one"; run "$m_port" "$m_pid" "$shard_pids" $cmd >>"/tmp/msat.$$.mer"
        else run "$m_port" "$m_pid" "$shard_pids" $cmd >>"/tmp/msat.$$.mer"; run "$one_port" "$one_pid" "" $cmd >>"/tmp/msat.$$.one"; fi
    done
    for side in one mer; do
        out=/tmp/msat.$$.$side
        printf '%-6s %-6s wall %7s req/s  server %7s req/cpu-s  shards %7s req/cpu-s   (runs: %s)\n' "$name" "$side" \
            "$(cut -d' ' -f1 "$out" | median)" "$(cut -d' ' -f2 "$out" | median)" "$(cut -d' ' -f3 "$out" | median)" \
            "$(cut -d' ' -f2 "$out" | tr '\n' ' ')"
        rm -f "$out"
    done
done
