#!/usr/bin/env bash
# it_fuzz_regress.sh -- replays the fuzz seeds and every saved crash through the
# libFuzzer harnesses (tests/fuzz/fuzz_<name>.c) with -runs=0: each file in
# tests/fuzz/corpus/<name>/ and tests/fuzz/regress/<name>/ is run once; the
# test fails if any input crashes or breaks a harness invariant.
# tests/fuzz/regress/<name>/ holds the inputs that once crashed (the bug
# report names the file); they stay as regression tests after the fix.
# Builds the harnesses with `make fuzz-build` (clang); skips (77) without clang.
set -u
root=${QAC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
command -v clang >/dev/null || { echo "it_fuzz_regress: clang not installed, skipping"; exit 77; }
if ! make -s fuzz-build >"${QAC_TMP:-/tmp}/fuzz-build.log" 2>&1; then
    echo "it_fuzz_regress: make fuzz-build failed:"; tail -20 "${QAC_TMP:-/tmp}/fuzz-build.log"; exit 1
fi
# the harnesses' scratch directories go under one of ours, removed at exit even
# when a replayed input crashed its harness (abort skips the harness's atexit)
QAC_FUZZ_TMP=$(mktemp -d /dev/shm/qac-fuzz-run.XXXXXX 2>/dev/null || mktemp -d /tmp/qac-fuzz-run.XXXXXX)
export QAC_FUZZ_TMP
trap 'rm -rf "$QAC_FUZZ_TMP"' EXIT
fail=0 ran=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c); name=${name#fuzz_}
    files=()
    for d in tests/fuzz/corpus/$name tests/fuzz/regress/$name; do
        [ -d "$d" ] && for f in "$d"/*; do [ -f "$f" ] && files+=("$f"); done
    done
    [ ${#files[@]} -eq 0 ] && continue
    for f in "${files[@]}"; do
        ran=$((ran + 1))
        # one input per process: a crash names its file, and the rest still run
        if ! out=$(timeout 60 build/fuzz/fuzz_"$name" -runs=0 -rss_limit_mb=2048 -malloc_limit_mb=1024 "$f" 2>&1); then
            fail=$((fail + 1))
            echo "FAIL fuzz_$name $f:"
            printf '%s\n' "$out" | grep -E 'fuzz invariant|ERROR|runtime error|SUMMARY' | head -4 | sed 's/^/  /'
        fi
    done
done
echo "it_fuzz_regress: $ran inputs replayed, $fail failed"
[ "$fail" -eq 0 ]
