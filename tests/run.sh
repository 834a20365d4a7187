#!/usr/bin/env bash
# tests/run.sh BUILD_DIR QAC_BIN -- run every test, print one summary line.
#
# - Unit and integration tests: BUILD_DIR/tests/test_X for every tests/test_X.c
#   (cmocka; a stale binary without a source is not run, a missing one fails).
#   Each runs in its own process with a time limit; its cmocka summary is
#   parsed, and a binary that dies without one counts as one failure.
# - Script tests: every tests/it_*.sh, run with bash; exit 0 = pass, 77 = skip
#   (the whole script), anything else = fail. A script that runs but leaves a
#   part out (no ../shared, no nginx, ...) says so with one output line
#   "SKIP: <part>: <reason>" per part left out, at the start of a line, on
#   stdout or stderr: each such line counts one skipped in the summary, and the
#   exit code alone still decides pass or fail (so "passed, 2 skipped" is one
#   pass and two skips). Under exit 77 SKIP lines are not counted: the script
#   is one skip. A script must never skip a part silently.
# - A private redis-server is started on a free port in a temporary directory
#   for the whole run (QAC_TEST_REDIS_PORT), and stopped at the end.
# Environment given to tests: QAC_BIN (absolute), QAC_ROOT (repo), QAC_SHARED
# (../shared when it exists, else unset: the tests or parts that need it
# skip, as above), QAC_TMP.
# Each test's line ends with its wall time in seconds; before the final line,
# the run's total and its slowest tests (CI has 90 minutes for this suite
# twice, once under sanitizers, and the fuzz pass: keep an eye on them).
# Final line: "N passed, N failed, N skipped"; exit 1 on any failure.
set -u
build=${1:?usage: tests/run.sh BUILD_DIR QAC_BIN}
qac=${2:?usage: tests/run.sh BUILD_DIR QAC_BIN}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export QAC_ROOT=$root
export QAC_BIN=$root/$qac
[ -d "$root/../shared/data" ] && export QAC_SHARED=$(cd "$root/../shared" && pwd)
export QAC_TMP=$(mktemp -d /tmp/qac-test.XXXXXX)
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
passed=0 failed=0 skipped=0
failures=()
times=() # "SECONDS NAME", one a test
run_t0=$SECONDS

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

redis_pid=
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    rm -rf "$QAC_TMP"
}
trap cleanup EXIT
if command -v redis-server >/dev/null; then
    port=$(free_port)
    mkdir -p "$QAC_TMP/redis"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$QAC_TMP/redis" --save '' --appendonly no \
        --daemonize no --loglevel warning >"$QAC_TMP/redis/log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    export QAC_TEST_REDIS_PORT=$port
fi

# The test sources name the tests: a binary left in the build directory by a
# test since removed or renamed is not run; a source whose binary is missing
# (the build did not make it) is a failure, not a silent gap.
for src in tests/test_*.c; do
    [ -f "$src" ] || continue
    name=$(basename "$src" .c)
    t=$build/tests/$name
    t0=$SECONDS
    if [ -x "$t" ]; then
        out=$(CMOCKA_MESSAGE_OUTPUT=stdout timeout "$TEST_TIMEOUT" "$t" 2>&1)
        rc=$?
    else
        out="$t: not built (its source $src exists)" rc=1
    fi
    p=$(printf '%s\n' "$out" | sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    s=$(printf '%s\n' "$out" | sed -n 's/.*\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -1)
    p=${p:-0} f=${f:-0} s=${s:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed, timed out, or leaked
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    if [ "$f" -ne 0 ]; then
        failures+=("$name")
        printf '%s\n' "$out" | tail -40 | sed "s/^/  $name: /"
        [ "$rc" -eq 124 ] && echo "  $name: timed out after ${TEST_TIMEOUT}s"
    fi
    dt=$((SECONDS - t0))
    times+=("$dt $name")
    printf '%-34s %3d passed %3d failed %3d skipped %5d s\n' "$name" "$p" "$f" "$s" "$dt"
done

for t in tests/it_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    t0=$SECONDS
    out=$(timeout "$TEST_TIMEOUT" bash "$t" 2>&1)
    rc=$?
    dt=$((SECONDS - t0))
    times+=("$dt $name")
    parts=$(printf '%s\n' "$out" | grep -c '^SKIP: ')
    case $rc in
        0) passed=$((passed + 1)); r=passed ;;
        77) skipped=$((skipped + 1)); parts=0; r="skipped ($(printf '%s\n' "$out" | tail -1))" ;;
        *) failed=$((failed + 1)); failures+=("$name"); r=FAILED
           printf '%s\n' "$out" | tail -40 | sed "s/^/  $name: /"
           [ "$rc" -eq 124 ] && echo "  $name: timed out after ${TEST_TIMEOUT}s" ;;
    esac
    [ "$parts" -gt 0 ] && skipped=$((skipped + parts)) && r="$r, $parts skipped"
    printf '%-34s %s (%d s)\n' "$name" "$r" "$dt"
    [ "$parts" -gt 0 ] && printf '%s\n' "$out" | sed -n "s/^SKIP: /  $name: skipped: /p"
done

echo "wall time $((SECONDS - run_t0)) s; the slowest: $(printf '%s\n' "${times[@]}" | sort -rn | head -5 |
    awk '{printf "%s%s %d s", (NR > 1 ? ", " : ""), $2, $1}')"
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
