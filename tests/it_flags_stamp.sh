#!/usr/bin/env bash
# it_flags_stamp.sh -- the Makefile's FLAGS STAMP: a tree built with one set
# of flags is rebuilt, not mixed, when the flags change (make OPT=...,
# EXTRA_CFLAGS=..., CC=...), and left alone when they do not.
#
# One small object (common/md5.c) is built into a scratch BUILD directory
# (BUILD= on the command line overrides the Makefile's), then `make -q`
# (exit 0 = up to date, 1 = would remake) is asked after each change:
#   1. built, then up to date with the same flags; the stamp names them;
#   2. other EXTRA_CFLAGS: out of date, and the stamp names the new flag;
#   3. rebuilt with them: up to date again, the object newer than before;
#   4. the first flags again: out of date (the stamp went back, and is newer
#      than the object), rebuilt, up to date.
# Exit 0 = pass, 1 = fail.
set -u
: "${QAC_BIN:?QAC_BIN must name the qac binary}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
make_tmp it_flags_stamp

root="${QAC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}"
b="$tmp/b"
obj="$b/common/md5.o"
flag=-DQAC_FLAGS_STAMP_TEST=1
fail=0
m() { make --no-print-directory -C "$root" BUILD="$b" "$@" "$obj" >>"$tmp/make.log" 2>&1; }
expect() { # expect WHAT CODE -- make -q ARGS...
    local what=$1 want=$2 got; shift 3
    m -q "$@"; got=$?
    if [ "$got" = "$want" ]; then echo "ok: $what (make -q exit $got)"
    else echo "FAIL: $what: make -q exit $got, want $want"; fail=1; fi
}

m || { echo "FAIL: the first build of $obj failed:"; tail -20 "$tmp/make.log"; exit 1; }
[ -f "$b/.flags" ] || { echo "FAIL: no stamp $b/.flags after a build"; exit 1; }
grep -q -- '-std=c11' "$b/.flags" || { echo "FAIL: the stamp does not name the flags:"; cat "$b/.flags"; fail=1; }
expect "same flags: up to date" 0 --
expect "other EXTRA_CFLAGS: out of date" 1 -- EXTRA_CFLAGS="$flag"
grep -q -- "$flag" "$b/.flags" || { echo "FAIL: the stamp does not name $flag"; fail=1; }
before=$(stat -c %Y "$obj")
sleep 1
m EXTRA_CFLAGS="$flag" || { echo "FAIL: the rebuild with $flag failed"; tail -20 "$tmp/make.log"; exit 1; }
after=$(stat -c %Y "$obj")
if [ "$before" -lt "$after" ]; then echo "ok: the object was rebuilt"
else echo "FAIL: the object was not rebuilt ($before -> $after)"; fail=1; fi
expect "rebuilt with the new flags: up to date" 0 -- EXTRA_CFLAGS="$flag"
expect "the first flags again: out of date" 1 --
m || { echo "FAIL: the rebuild with the first flags failed"; exit 1; }
expect "rebuilt with the first flags: up to date" 0 --
grep -q -- "$flag" "$b/.flags" && { echo "FAIL: the stamp still names $flag"; fail=1; }
exit $fail
