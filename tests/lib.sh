# tests/lib.sh -- helpers shared by the script tests (tests/it_*.sh).
#
# Sourced right after `set -u`:   . "$(dirname "$0")/lib.sh"
# Conventions are tests/run.sh's: exit 0 pass, 1 fail, 77 skip (the whole
# script); a part left out prints one "SKIP: <part>: <reason>" line.
#
# Sourcing sets
#   root                the repository ($QAC_ROOT, else this file's parent)
#   fails=0             the count ok/bad/check keep
#   an EXIT trap        runs the at_exit commands (last registered first),
#                       stops every server qac_start/redis_start started and
#                       is still running, and removes $tmp. A script adds to
#                       it with at_exit; it does not set its own trap.
#
# Prerequisites (each prints "skip: <why>" and exits 77)
#   need_qac            $QAC_BIN is set and executable
#   need TOOL...        every TOOL is on PATH
# Scratch
#   make_tmp NAME       tmp=<a new directory $QAC_TMP/NAME.XXXXXX> (/tmp
#                       without QAC_TMP), removed at exit
#   at_exit 'CMD'       CMD (a string, evaluated at exit) runs before the
#                       servers are stopped
# Outcomes
#   fail MSG...         prints "FAIL: MSG", then the last 20 lines of the file
#                       $fail_log names (when set: a server's log); exit 1
#   ok MSG              prints "ok   MSG"
#   bad MSG             prints "FAIL MSG"; fails += 1 (for scripts that go on
#                       after a failed check and end on [ "$fails" -eq 0 ])
#   check NAME GOT WANT ok NAME when GOT == WANT, else bad with both
# Ports and servers
#   free_port           prints a free TCP port on 127.0.0.1
#   wait_ping PORT [PID] [SECONDS]
#                       returns 0 once PORT answers PING (qac's text protocol
#                       and redis both do), 1 after SECONDS (15) or as soon as
#                       PID (when given) has exited
#   qac_start PORT LOG ARGS...
#                       `$QAC_BIN serve --port PORT ARGS...` in the
#                       background, stdout and stderr appended to LOG;
#                       qac_pid=its pid; returns 0 once it answers PING, else
#                       kills it and returns 1 (the caller says what failed:
#                       name the server, show LOG). Pass --http-port yourself
#                       (0: off).
#   track PID           a process started otherwise (e.g. under ulimit) is
#                       stopped at exit like qac_start's
#   qac_stop [PID]      SIGTERM to PID ($qac_pid by default), waits; returns
#                       its exit status
#   qac_kill9 [PID]     SIGKILL to PID ($qac_pid by default), waits (a crash)
#   no_sanitizer_report LOG
#                       returns 1, printing the report, when LOG holds an
#                       AddressSanitizer, LeakSanitizer or UBSan report
#   redis_start PORT [ARGS...]
#                       a private redis-server on 127.0.0.1:PORT (no
#                       persistence, dir $tmp, log $tmp/redis.log, ARGS
#                       appended); redis_pid=its pid; 0 once it answers PING
#                       (else killed, 1)
#   redis_stop [PID]    SIGKILL to PID ($redis_pid by default), waits
# HTTP and JSON
#   http_status CURL_ARGS...   prints the HTTP status code of one request
#   jget FILE KEY...    prints the value at that path of a JSON file
# free_port and jget run python3;
# http_status runs curl: `need` them where they may be missing.

# shellcheck disable=SC2034 # used by the scripts
root=${QAC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
fails=0
tmp=
qac_pid=
redis_pid=
fail_log=

_lib_at_exit=()
_lib_pids=()  # stopped with SIGTERM at exit
_lib_pids9=() # stopped with SIGKILL at exit

_lib_cleanup() {
    local i p
    for ((i = ${#_lib_at_exit[@]} - 1; i >= 0; i--)); do eval "${_lib_at_exit[i]}"; done
    for p in "${_lib_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    for p in "${_lib_pids9[@]}"; do kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -n "$tmp" ] && rm -rf "$tmp"
}
trap _lib_cleanup EXIT

# _lib_forget PID: no longer stopped at exit (it was waited for: the pid may be reused)
_lib_forget() {
    local p keep=() keep9=()
    for p in "${_lib_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    for p in "${_lib_pids9[@]}"; do [ "$p" = "$1" ] || keep9+=("$p"); done
    _lib_pids=("${keep[@]}") _lib_pids9=("${keep9[@]}")
}

need_qac() {
    [ -n "${QAC_BIN:-}" ] && [ -x "$QAC_BIN" ] || { echo "skip: QAC_BIN unset or not executable"; exit 77; }
}

need() {
    local t
    for t; do command -v "$t" >/dev/null || { echo "skip: $t missing"; exit 77; }; done
}

make_tmp() {
    tmp=$(mktemp -d "${QAC_TMP:-/tmp}/$1.XXXXXX") || { echo "FAIL: mktemp in ${QAC_TMP:-/tmp}"; exit 1; }
}

at_exit() { _lib_at_exit+=("$1"); }

fail() {
    echo "FAIL: $*"
    [ -n "$fail_log" ] && [ -f "$fail_log" ] && tail -20 "$fail_log"
    exit 1
}

ok() { echo "ok   $*"; }

bad() {
    echo "FAIL $*"
    fails=$((fails + 1))
}

check() { # check NAME GOT WANT
    if [ "$2" == "$3" ]; then ok "$1"; else bad "$1: got [$2] want [$3]"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ping() { # wait_ping PORT [PID [SECONDS]]: 0 once PORT answers PING with PONG; 1 when PID is gone or time is up
    local port=$1 pid=${2:-0} end=$((SECONDS + ${3:-15})) line st
    while [ "$SECONDS" -le "$end" ]; do
        # bash's /dev/tcp: no interpreter to start (python can take a second on a busy machine)
        if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
            printf 'PING\r\n' >&3
            line=
            IFS= read -r -t 1 line <&3
            exec 3<&- 3>&-
            case $line in *PONG*) return 0 ;; esac
        fi
        if [ "$pid" != 0 ]; then
            st=$(cut -d')' -f2 "/proc/$pid/stat" 2>/dev/null | awk '{print $1}')
            case $st in '' | Z | X) return 1 ;; esac
        fi
        sleep 0.05
    done
    return 1
}

qac_start() { # qac_start PORT LOG ARGS...: waits QAC_START_SECS (15) for PING
    local port=$1 log=$2
    shift 2
    "$QAC_BIN" serve --port "$port" "$@" >>"$log" 2>&1 &
    qac_pid=$!
    _lib_pids+=("$qac_pid")
    wait_ping "$port" "$qac_pid" "${QAC_START_SECS:-15}" && return 0
    qac_kill9
    return 1
}

track() { _lib_pids+=("$1"); }

# _lib_stop SIGNAL VAR [PID]: sends SIGNAL to PID (default: the pid in the
# variable VAR, which is then cleared), waits, forgets it; returns its exit status
_lib_stop() {
    local p=${3:-${!2}} rc
    [ -n "$p" ] || return 0
    [ "$p" = "${!2}" ] && printf -v "$2" '%s' ''
    kill -"$1" "$p" 2>/dev/null
    wait "$p"
    rc=$?
    _lib_forget "$p"
    return $rc
}

# shellcheck disable=SC2120 # the PID argument is optional
qac_stop() { _lib_stop TERM qac_pid "$@"; }

# shellcheck disable=SC2120 # the PID argument is optional
qac_kill9() {
    _lib_stop KILL qac_pid "$@" 2>/dev/null
    return 0
}

no_sanitizer_report() {
    if grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" "$1"; then
        grep -A30 "Sanitizer\|runtime error" "$1" | head -60
        return 1
    fi
    return 0
}

redis_start() { # redis_start PORT [ARGS...]
    local port=$1
    shift
    redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp" --save '' --appendonly no --daemonize no \
        --loglevel warning "$@" >>"$tmp/redis.log" 2>&1 &
    redis_pid=$!
    _lib_pids9+=("$redis_pid")
    wait_ping "$port" "$redis_pid" && return 0
    redis_stop
    return 1
}

# shellcheck disable=SC2120 # the PID argument is optional
redis_stop() {
    _lib_stop KILL redis_pid "$@" 2>/dev/null
    return 0
}

http_status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

jget() { # jget FILE KEY...
    python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v[k]
print(v)' "$@"
}
