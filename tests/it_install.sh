#!/usr/bin/env bash
# it_install.sh -- `make install` into a DESTDIR, the installed binary at work,
# the man page, the example config in step with `qac serve --help`, and
# `make uninstall` leaving nothing but empty directories.
#   1. make install DESTDIR=$tmp/root INSTALL_BIN=$QAC_BIN: every file in place
#      (binary, man page, docs, web page, nginx site with the page's path
#      filled in, etc/qac/qac.conf);
#   2. the INSTALLED binary builds an index from a tiny tsv, serves it (with
#      the installed config, its index and journal lines overridden by flags)
#      on free ports and answers COMPLETE over the text protocol;
#      the systemd units with their paths filled in, LimitNOFILE = max-clients'
#      default + 64, and `systemd-analyze verify` clean (SKIP line without it);
#   3. man -l (else groff) renders man/qac.1 without a warning (SKIP line when
#      neither is installed); the page names every subcommand `qac --help` lists;
#   4. the settings named in etc/qac/qac.conf (`name value` lines, active or
#      commented out as `#name value`) are exactly those `qac serve --help` lists;
#   5. make uninstall DESTDIR=...: no file is left.
# Exit 0 pass, 1 fail, 77 skip (no QAC_BIN, make or python3).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need make python3
make_tmp it_install

dest=$tmp/root
prefix=/usr/local
# --- 1. install -------------------------------------------------------------------
make -s -C "$root" --no-print-directory install DESTDIR="$dest" PREFIX="$prefix" INSTALL_BIN="$QAC_BIN" \
    >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "make install"; }
for f in bin/qac share/man/man1/qac.1 share/doc/qac/README.md share/doc/qac/PROTOCOL.md share/doc/qac/WEB.md \
    share/qac/web/index.html share/qac/web/app.js share/qac/web/style.css share/qac/nginx/qac-site.conf \
    etc/qac/qac.conf lib/systemd/system/qac.service lib/systemd/system/qac@.service; do
    [ -f "$dest$prefix/$f" ] || bad "installed $f: missing"
done
[ -x "$dest$prefix/bin/qac" ] || bad "installed bin/qac is not executable"
check "nginx site root" "$(grep -c "root $prefix/share/qac/web;" "$dest$prefix/share/qac/nginx/qac-site.conf")" 1
for u in qac.service qac@.service; do
    check "$u: placeholders filled" "$(grep -c '@[A-Z_]*@' "$dest$prefix/lib/systemd/system/$u")" 0
    check "$u: ExecStart" "$(grep -c "^ExecStart=$prefix/bin/qac serve --config $prefix/etc/qac/" \
        "$dest$prefix/lib/systemd/system/$u")" 1
    # LimitNOFILE = max-clients' default + the 64 descriptors serve keeps (SRV_RESERVED_FDS)
    mc=$("$QAC_BIN" serve --help | sed -n 's/.*--max-clients N.*(default \([0-9]*\)).*/\1/p')
    check "$u: LimitNOFILE = max-clients default + 64" "$(sed -n 's/^LimitNOFILE=//p' \
        "$dest$prefix/lib/systemd/system/$u")" "$((mc + 64))"
done
if command -v systemd-analyze >/dev/null; then
    # verify wants ExecStart to exist and the Documentation= man page to be found:
    # copies pointing at the DESTDIR tree, MANPATH at its man pages
    mkdir -p "$tmp/units"
    for u in qac.service qac@.service; do
        sed "s|^ExecStart=$prefix/bin/qac|ExecStart=$dest$prefix/bin/qac|" "$dest$prefix/lib/systemd/system/$u" \
            >"$tmp/units/$u"
    done
    cp "$tmp/units/qac@.service" "$tmp/units/qac@one.service" # a template is verified through an instance
    if out=$(cd "$tmp/units" && MANPATH=$dest$prefix/share/man systemd-analyze verify ./qac.service \
        ./qac@one.service 2>&1); then ok "systemd-analyze verify qac.service qac@one.service"
    else bad "systemd-analyze verify: $out"; fi
else
    echo "SKIP: systemd-analyze verify: systemd-analyze missing"
fi
check "nginx site has no placeholder left" "$(grep -c '@[A-Z_]*@' "$dest$prefix/share/qac/nginx/qac-site.conf")" 0
if command -v nginx >/dev/null; then # the snippet is valid in an http block
    mkdir -p "$tmp/ngx/logs"
    printf 'pid %s/ngx/pid;\nerror_log %s/ngx/err.log;\nevents {}\nhttp {\ninclude %s;\n}\n' "$tmp" "$tmp" \
        "$dest$prefix/share/qac/nginx/qac-site.conf" >"$tmp/ngx/nginx.conf"
    if out=$(nginx -t -p "$tmp/ngx" -c "$tmp/ngx/nginx.conf" 2>&1); then ok "nginx -t on the site snippet"
    else bad "nginx -t: $out"; fi
else
    echo "SKIP: nginx -t on the site snippet: nginx missing"
fi
cmp -s "$QAC_BIN" "$dest$prefix/bin/qac" && ok "installed binary is QAC_BIN" || bad "installed binary differs"

# --- 2. the installed binary at work ------------------------------------------------
qac=$dest$prefix/bin/qac
printf 'new york\t100\nnew york times\t80\nnetflix\t90\nnewark\t20\n' >"$tmp/c.tsv"
"$qac" build -o "$tmp/idx" --format counts --quiet "$tmp/c.tsv" || fail "installed qac build"
port=$(free_port) hport=$(free_port)
fail_log=$tmp/serve.log
QAC_BIN=$qac qac_start "$port" "$tmp/serve.log" --config "$dest$prefix/etc/qac/qac.conf" -i "$tmp/idx" \
    --journal "$tmp/journal" --http-port "$hport" || fail "installed qac serve did not start"
txt() { # txt PORT LINE: the reply to LINE on the text protocol, then QUIT
    python3 - "$@" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode() + b"\r\nQUIT\r\n")
buf = b""
while True:
    d = s.recv(65536)
    if not d: break
    buf += d
sys.stdout.write(buf.decode().replace("\r", ""))
PY
}
got=$(txt "$port" 'COMPLETE new LIMIT 2' | head -3 | tr '\n\t' '|,')
check "installed serve: COMPLETE" "$got" "OK 2|new york,100|new york times,80|"
check "installed serve: journal from the config's line overridden" "$(ls "$tmp" | grep -c '^journal')" 1
qac_stop || bad "installed qac serve: exit status $? after SIGTERM"
fail_log=

# --- 3. the man page ----------------------------------------------------------------
page=$dest$prefix/share/man/man1/qac.1
if command -v man >/dev/null; then
    warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$tmp/man.txt")
    check "man -l qac.1: no warnings" "$warn" ""
elif command -v groff >/dev/null; then
    warn=$(groff -man -ww -Tutf8 "$page" 2>&1 >"$tmp/man.txt")
    check "groff qac.1: no warnings" "$warn" ""
else
    echo "SKIP: man page rendering: neither man nor groff installed"
fi
for c in $("$QAC_BIN" --help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p'); do
    grep -q "^\.B qac $c" "$page" || bad "man page: no entry for 'qac $c'"
done
grep -q 'PROTOCOL.md' "$page" || bad "man page: does not point to docs/PROTOCOL.md"

# --- 4. the example config names exactly the settings of --help ------------------------
"$QAC_BIN" serve --help | awk '/^  --/{print $1}' | sed 's/^--//' | grep -vx config | sort >"$tmp/help.names"
sed -nE 's/^#?([a-z][a-z0-9-]*)[ \t].*/\1/p' "$root/etc/qac/qac.conf" | sort >"$tmp/conf.names"
if d=$(diff "$tmp/help.names" "$tmp/conf.names"); then ok "qac.conf names every setting of serve --help"
else bad "qac.conf and serve --help differ (< help only, > conf only): $d"; fi
check "qac.conf names each setting once" "$(uniq -d "$tmp/conf.names")" ""
# every commented-out line is a valid setting with a valid value
sed -nE 's/^#([a-z][a-z0-9-]*[ \t].*)/\1/p' "$root/etc/qac/qac.conf" | grep -v '^requirepass' >"$tmp/all.conf"
if out=$("$QAC_BIN" serve --config "$tmp/all.conf" --help 2>&1 >/dev/null); then ok "commented settings parse"
else bad "commented settings do not parse: $out"; fi

# --- 5. uninstall ---------------------------------------------------------------------
make -s -C "$root" --no-print-directory uninstall DESTDIR="$dest" PREFIX="$prefix" >"$tmp/uninstall.log" 2>&1 ||
    { cat "$tmp/uninstall.log"; bad "make uninstall"; }
check "make uninstall leaves no file" "$(find "$dest" ! -type d | sed "s|^$dest||")" ""

[ "$fails" -eq 0 ]
