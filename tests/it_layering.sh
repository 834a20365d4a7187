#!/usr/bin/env bash
# it_layering.sh -- module dependencies point one way.
#
# ALLOWED below is the one table of which module may include which. Every
# #include "dir/..." in a module's *.c and *.h must name the module itself or
# one the table allows; engine/main.c, the composition root, may include any
# module. An include without a directory ("x.h") is the file's own directory;
# one that climbs out ("../x/y.h") is refused. A module is a directory and
# its own files only: engine/ is the loop and the commands, engine/proto/,
# engine/store/ and engine/rank/ are modules of their own, and an include
# belongs to the directory it names ("engine/rank/ranker.h" -> engine/rank).
# Checked here:
#   1. the checker reports a deliberately bad tree (scratch directory: bad
#      includes reported with file:line, the allowed ones and engine/main.c
#      not), so this test cannot pass by checking nothing;
#   2. every include of the real tree obeys the table (file:line and the rule
#      on failure);
#   3. the table agrees with the Makefile (MODULES, and DEPS_<module> minus the
#      module itself, as sets: what links is what may be included) and with
#      the dependency sentence in README.md, which must contain the table's
#      sentence (printed on failure) word for word.
# Exit 0 = pass, 1 = fail.
set -u

# --- the table: module -> the modules its files may include (besides itself),
# in link order. README.md's "Dependencies point one way" sentence is made
# from it (rules_sentence below).
MODULES="common text trie ranking data engine/proto engine/store engine/rank engine"
declare -A ALLOWED=(
    [common]=""
    [text]="common"
    [trie]="common"
    [ranking]="trie common"
    [data]="ranking trie text common"
    [engine/proto]="common"
    [engine/store]="trie common"
    [engine/rank]="ranking trie common"
    [engine]="engine/rank engine/store engine/proto ranking trie text common"
)
ROOT_FILES="engine/main.c" # the composition root: may include every module
# -----------------------------------------------------------------------------

root=${QAC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 1
tmp=$(mktemp -d "${QAC_TMP:-/tmp}/it_layering.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# "a → b, c" for one module ("nothing" when it may include no other module)
rule_of() {
    local deps=${ALLOWED[$1]}
    [ -n "$deps" ] || deps=nothing
    printf '%s → %s' "$1" "${deps// /, }"
}
rules_sentence() {
    local m out=
    for m in $MODULES; do out+="${out:+; }$(rule_of "$m")"; done
    printf '%s' "$out"
}

# check_tree DIR: checks every module file under DIR against the table; prints
# one line per bad include ("file:line: #include "x": rule ...") and returns 1
# when there is any. Sets CHECKED_FILES and CHECKED_INCLUDES.
CHECKED_FILES=0 CHECKED_INCLUDES=0
check_tree() {
    local dir=$1 bad=0 m f rel line inc target ok
    CHECKED_FILES=0 CHECKED_INCLUDES=0
    for m in $MODULES; do
        for f in "$dir/$m"/*.c "$dir/$m"/*.h; do
            [ -f "$f" ] || continue
            rel=${f#"$dir"/}
            CHECKED_FILES=$((CHECKED_FILES + 1))
            while IFS=: read -r line inc; do
                [ -n "$line" ] || continue
                CHECKED_INCLUDES=$((CHECKED_INCLUDES + 1))
                case " $ROOT_FILES " in *" $rel "*) continue ;; esac
                case "/$inc/" in
                */../* | */./* | //*)
                    echo "$rel:$line: #include \"$inc\": a relative path; name the module (\"dir/file.h\"), rule: $(rule_of "$m")"
                    bad=1
                    continue
                    ;;
                esac
                [[ $inc == */* ]] || continue # the file's own directory
                target=${inc%/*}
                ok=0
                [ "$target" = "$m" ] && ok=1
                case " ${ALLOWED[$m]} " in *" $target "*) ok=1 ;; esac
                if [ "$ok" = 0 ]; then
                    echo "$rel:$line: #include \"$inc\": $m may not include $target/, rule: $(rule_of "$m")"
                    bad=1
                fi
            done < <(grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
                sed -E 's/^([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)".*/\1:\2/')
        done
    done
    return $bad
}

# --- 1. the checker can fail ----------------------------------------------------
s=$tmp/tree
mkdir -p "$s"/{common,text,trie,ranking,data,engine/proto,engine/rank}
printf '#include "common/util.h"\n#include "trie/trie.h"\n' >"$s/ranking/ok.c"
printf '#include "x.h"\n' >"$s/common/ok2.c"
printf '/* bad */\n#include "common/log.h"\n#include "data/build.h"\n' >"$s/engine/bad.c"
printf '#ifndef X\n  #  include "text/norm.h"\n#endif\n' >"$s/trie/bad.h"
printf '#include "ranking/x.h"\n' >"$s/text/bad.c"
printf '#include "../trie/trie.h"\n' >"$s/common/bad.c"
printf '#include "data/build.h"\n#include "engine/cmd.h"\n' >"$s/engine/main.c"
printf '#include "engine/rank/ranker.h"\n#include "ranking/features.h"\n' >"$s/engine/rank/ok3.c"
printf '#include "engine/rank/ranker.h"\n#include "engine/proto.h"\n' >"$s/engine/proto/bad.c"
want=$(printf '%s\n' common/bad.c:1 engine/bad.c:3 engine/proto/bad.c:1 engine/proto/bad.c:2 text/bad.c:1 trie/bad.h:2)
if out=$(check_tree "$s"); then
    fail "checker passed a tree with bad includes:"$'\n'"$out"
else
    got=$(printf '%s\n' "$out" | cut -d: -f1,2 | sort)
    [ "$got" = "$want" ] || fail "checker on the bad tree: wanted exactly"$'\n'"$want"$'\n'"got"$'\n'"$out"
    printf '%s\n' "$out" | grep -q '^engine/bad.c:3: #include "data/build.h": engine may not include data/, rule: engine → engine/rank, engine/store, engine/proto, ranking, trie, text, common$' ||
        fail "checker does not name the rule: $out"
fi
check_tree "$s" >/dev/null
[ "$CHECKED_FILES" = 9 ] && [ "$CHECKED_INCLUDES" = 14 ] ||
    fail "checker read $CHECKED_FILES files / $CHECKED_INCLUDES includes of the bad tree, wanted 9 / 14"

# --- 2. the real tree -----------------------------------------------------------
if ! out=$(check_tree "$root"); then
    fail "includes against the module direction:"$'\n'"$out"
fi
check_tree "$root" >/dev/null
[ "$CHECKED_FILES" -ge 50 ] && [ "$CHECKED_INCLUDES" -ge 100 ] ||
    fail "read only $CHECKED_FILES files / $CHECKED_INCLUDES includes of the tree: wrong root ($root)?"

# --- 3. the table agrees with the Makefile and README.md ------------------------
sorted() { printf '%s\n' $* | sort | tr '\n' ' '; }
mk_var() { sed -n -E "s|^$1[[:space:]]*:=[[:space:]]*(.*)$|\\1|p" Makefile | head -1; }
[ "$(sorted "$(mk_var MODULES)")" = "$(sorted "$MODULES")" ] ||
    fail "Makefile MODULES ($(mk_var MODULES)) is not the table's ($MODULES)"
for m in $MODULES; do
    deps=$(mk_var "DEPS_$m")
    deps=$(printf '%s\n' $deps | grep -vx "$m" | paste -sd' ')
    [ "$(sorted "$deps")" = "$(sorted "${ALLOWED[$m]}")" ] ||
        fail "Makefile DEPS_$m (without $m: $deps) is not the table's ($(rule_of "$m"))"
done
sentence=$(rules_sentence)
tr -s '[:space:]' ' ' <README.md | grep -qF "$sentence" ||
    fail "README.md does not state the table; its dependency sentence must contain: $sentence"

[ "$failed" = 0 ] && echo "it_layering: $CHECKED_INCLUDES includes in $CHECKED_FILES files follow: $sentence"
exit "$failed"
