#!/usr/bin/env bash
# deploy/nginx-run.sh -- run nginx in front of qac as the current user, everything under one directory.
#
#   deploy/nginx-run.sh run   --dir DIR [options]   foreground: exec nginx; SIGINT/SIGTERM stop it
#                                                   at once, SIGQUIT lets requests in progress finish
#   deploy/nginx-run.sh start --dir DIR [options]   daemon: start, wait until the port answers,
#                                                   print the master's pid on stdout
#   deploy/nginx-run.sh stop  --dir DIR             stop the daemon started on DIR (QUIT, then TERM
#                                                   after 5 s); no-op when it is not running
#   deploy/nginx-run.sh config --dir DIR [options]  only write DIR/nginx.conf and check it (nginx -t)
#
# options (defaults in brackets):
#   --port N          listen port [8080]
#   --bind ADDR       listen address [127.0.0.1]
#   --upstream H:P    a qac HTTP address; repeat it for several instances [127.0.0.1:7780]
#   --web DIR         the page's directory [web/ of this repository]
#   --rate N          per-client requests per second on /v1/ [50]
#   --burst N         per-client burst above the rate, answered at once [100]
#   --cache-secs N    life of a cached anonymous /v1/complete answer; 0 disables [1]
#   --workers N       nginx worker processes [1]
#   --token-file FILE qac's requirepass (first line of FILE): nginx sends it as "Authorization: Bearer ..."
#                     on /v1/accept, /v1/stats and /metrics, so the page's accept works while the browser
#                     never holds it. Characters allowed: A-Z a-z 0-9 . _ ~ + / = - (e.g. openssl rand -hex 32)
#   --routes FILE     shards (deploy/cluster.sh --shards writes it): nginx config lines put in the http
#                     block that define one upstream per shard and a map setting $qac_route to the upstream
#                     a /v1/complete request goes to; --upstream then names the merger(s) (`qac serve
#                     --upstreams`), which get every request the map does not send to a shard
#
# DIR gets: nginx.conf (generated from deploy/nginx.conf), nginx.pid, logs/{error,access}.log, tmp/,
# cache/. Nothing outside DIR is written. Exit status: 0 ok, 1 runtime error, 2 usage error.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true   # bash 5.2: '&' in ${x//pat/rep} is literal again

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
me=nginx-run.sh

usage_error() { echo "$me: $1; see 'deploy/nginx-run.sh --help'" >&2; exit 2; }

cmd=${1:-}
case $cmd in
    -h|--help|help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    run|start|stop|config) shift ;;
    "") usage_error "missing command (run, start, stop or config)" ;;
    *) usage_error "unknown command '$cmd'" ;;
esac

dir= port=8080 bind=127.0.0.1 web=$root/web rate=50 burst=100 cache_secs=1 workers=1 token_file= routes=
upstreams=()
need_arg() { [ $# -ge 2 ] || usage_error "$1 needs a value"; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ ${#1} -le 9 ]; }
while [ $# -gt 0 ]; do
    case $1 in
        --dir) need_arg "$@"; dir=$2; shift 2 ;;
        --port) need_arg "$@"; port=$2; shift 2 ;;
        --bind) need_arg "$@"; bind=$2; shift 2 ;;
        --upstream) need_arg "$@"; upstreams+=("$2"); shift 2 ;;
        --web) need_arg "$@"; web=$2; shift 2 ;;
        --rate) need_arg "$@"; rate=$2; shift 2 ;;
        --burst) need_arg "$@"; burst=$2; shift 2 ;;
        --cache-secs) need_arg "$@"; cache_secs=$2; shift 2 ;;
        --workers) need_arg "$@"; workers=$2; shift 2 ;;
        --token-file) need_arg "$@"; token_file=$2; shift 2 ;;
        --routes) need_arg "$@"; routes=$2; shift 2 ;;
        *) usage_error "unknown option '$1'" ;;
    esac
done
[ -n "$dir" ] || usage_error "missing --dir DIR"
[ ${#upstreams[@]} -gt 0 ] || upstreams=(127.0.0.1:7780)
is_uint "$port" && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || usage_error "--port must be 1..65535, not '$port'"
is_uint "$rate" && [ "$rate" -ge 1 ] || usage_error "--rate must be a positive integer, not '$rate'"
is_uint "$burst" || usage_error "--burst must be an integer >= 0, not '$burst'"
is_uint "$cache_secs" || usage_error "--cache-secs must be an integer >= 0, not '$cache_secs'"
is_uint "$workers" && [ "$workers" -ge 1 ] || usage_error "--workers must be a positive integer, not '$workers'"
[[ $bind =~ ^[0-9A-Za-z.:_-]+$ ]] || usage_error "--bind '$bind' is not an address"
for u in "${upstreams[@]}"; do
    [[ $u =~ ^[0-9A-Za-z._-]+:[0-9]{1,5}$ || $u =~ ^\[[0-9A-Fa-f:]+\]:[0-9]{1,5}$ ]] ||
        usage_error "--upstream '$u' is not HOST:PORT"
done

auth_lines="            # no --token-file: requests go to qac as the client sent them"
if [ -n "$token_file" ]; then
    [ -r "$token_file" ] || { echo "$me: cannot read --token-file $token_file" >&2; exit 1; }
    token=$(head -n 1 -- "$token_file" | tr -d '\r')
    # token68 (RFC 6750) and what qac's requirepass accepts; nothing nginx would read as syntax
    if ! [[ $token =~ ^[A-Za-z0-9._~+/=-]{1,512}$ ]]; then
        echo "$me: --token-file $token_file: the first line must be 1..512 characters of A-Z a-z 0-9 . _ ~ + / = -" >&2
        exit 1
    fi
    auth_lines="            proxy_set_header Authorization \"Bearer $token\";"$'\n'
    auth_lines+="            proxy_set_header X-Qac-Token \"\";"
    unset token
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pidfile=$dir/nginx.pid

# The pid in DIR/nginx.pid when that process is alive and is an nginx master; empty otherwise.
running_pid() {
    local pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2>/dev/null) || return 0
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    grep -q 'nginx' "/proc/$pid/cmdline" 2>/dev/null || return 0
    echo "$pid"
}

if [ "$cmd" = stop ]; then
    pid=$(running_pid)
    [ -n "$pid" ] || { echo "$me: no nginx running for $dir"; exit 0; }
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    if kill -0 "$pid" 2>/dev/null; then echo "$me: nginx $pid did not stop" >&2; exit 1; fi
    echo "$me: nginx $pid stopped"
    exit 0
fi

nginx_bin=$(command -v nginx || true)
[ -n "$nginx_bin" ] || [ ! -x /usr/sbin/nginx ] || nginx_bin=/usr/sbin/nginx
if [ -z "$nginx_bin" ]; then
    echo "$me: nginx is not installed; install it with 'apt-get install nginx-light' (or run 'sudo make deps')" >&2
    exit 1
fi
[ -f "$web/index.html" ] || { echo "$me: $web/index.html not found (--web DIR)" >&2; exit 1; }
web=$(cd "$web" && pwd)
template=$here/nginx.conf
[ -f "$template" ] || { echo "$me: template $template not found" >&2; exit 1; }

# --- generate DIR/nginx.conf --------------------------------------------------------------------
mkdir -p "$dir/logs" "$dir/tmp" "$dir/cache"
ups=
for u in "${upstreams[@]}"; do
    ups+="        server $u max_fails=3 fail_timeout=5s;"$'\n'
done
routes_conf="    # no --routes: every request goes to upstream qac"
complete_pass=qac
if [ -n "$routes" ]; then
    [ -r "$routes" ] || { echo "$me: cannot read --routes $routes" >&2; exit 1; }
    routes_conf=$(cat -- "$routes")
    # shellcheck disable=SC2016 # nginx's variable, written as is
    complete_pass='$qac_route'
fi
user_line=
if [ "$(id -u)" = 0 ]; then
    # A root master would switch its workers to 'nobody', who cannot reach a private DIR: keep the
    # invoking user, like every other process started by the demo and the tests.
    user_line="user $(id -un) $(id -gn);"
fi
# The template's header comment (which names the placeholders) is replaced by a one-line note.
conf="# generated by deploy/nginx-run.sh from $template; edit that, not this"$'\n'
conf+=$(sed '1,/^[^#]/{/^#/d}' "$template")
conf=${conf//@RUN_DIR@/$dir}
conf=${conf//@WEB_ROOT@/$web}
conf=${conf//@LISTEN@/$bind:$port}
conf=${conf//@UPSTREAMS@/${ups%$'\n'}}
conf=${conf//@WORKERS@/$workers}
conf=${conf//@USER_LINE@/$user_line}
conf=${conf//@RATE@/$rate}
conf=${conf//@BURST@/$burst}
conf=${conf//@CACHE_SECS@/$cache_secs}
conf=${conf//@QAC_AUTH@/$auth_lines}
conf=${conf//@ROUTES@/$routes_conf}
conf=${conf//@COMPLETE_PASS@/$complete_pass}
if grep -qE '@[A-Z_]+@' <<<"$conf"; then
    echo "$me: template has an unknown placeholder: $(grep -oE '@[A-Z_]+@' <<<"$conf" | head -1)" >&2
    exit 1
fi
(umask 077; printf '%s\n' "$conf" >"$dir/nginx.conf.new")   # may hold the token: owner only
mv "$dir/nginx.conf.new" "$dir/nginx.conf"

# -e: the error log before the configuration is read (nginx >= 1.19.5); the default is /var/log/nginx.
nginx_args=(-p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log")
if ! out=$("$nginx_bin" -t -q "${nginx_args[@]}" 2>&1); then
    echo "$me: nginx rejects the generated $dir/nginx.conf:" >&2
    printf '%s\n' "$out" >&2
    exit 1
fi
[ "$cmd" = config ] && { echo "$dir/nginx.conf"; exit 0; }

pid=$(running_pid)
[ -z "$pid" ] || { echo "$me: nginx $pid already runs for $dir; stop it first: deploy/nginx-run.sh stop --dir $dir" >&2; exit 1; }
in_use() { (exec 3<>"/dev/tcp/$bind/$1") 2>/dev/null; }
if in_use "$port"; then
    echo "$me: port $port on $bind is already in use; pick another with --port N" >&2
    exit 1
fi

if [ "$cmd" = run ]; then
    echo "$me: nginx on http://$bind:$port/ -> qac ${upstreams[*]} (logs in $dir/logs)" >&2
    exec "$nginx_bin" "${nginx_args[@]}" -g 'daemon off;'
fi

# start: nginx daemonizes itself once its listeners are bound; wait for the pid file and the port.
if ! out=$("$nginx_bin" "${nginx_args[@]}" 2>&1); then
    echo "$me: nginx failed to start:" >&2
    printf '%s\n' "$out" >&2
    tail -5 "$dir/logs/error.log" >&2 2>/dev/null || true
    exit 1
fi
for _ in $(seq 100); do
    pid=$(running_pid)
    [ -n "$pid" ] && in_use "$port" && break
    sleep 0.05
done
if [ -z "$pid" ] || ! in_use "$port"; then
    echo "$me: nginx did not come up on $bind:$port; see $dir/logs/error.log" >&2
    tail -5 "$dir/logs/error.log" >&2 2>/dev/null || true
    exit 1
fi
echo "$pid"
