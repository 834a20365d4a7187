#!/usr/bin/env bash
# it_deb.sh -- `make deb` (dpkg-buildpackage -us -uc -b with debian/, debhelper)
# builds build/deb/qac_VERSION_ARCH.deb, and the package holds what it must:
# the binary, the man page, the units, the example config as a conffile, the
# web page and nginx site; Depends comes from what the binary links
# (shlibs: libuv1, libsystemd0, ...); lintian reports no error (SKIP line
# without lintian). Builds in build/deb only (the developer's build/rel is
# untouched); dpkg-buildpackage writes into the repository's parent, and
# make deb moves the results back. About 30 s.
# Exit 0 pass, 1 fail, 77 skip (no dpkg-buildpackage, dh or dpkg-deb).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need dpkg-buildpackage dh dpkg-deb make
make_tmp it_deb

version=$(sed -n 's/^VERSION := //p' "$root/Makefile")
make -C "$root" --no-print-directory deb >"$tmp/deb.log" 2>&1 || { tail -30 "$tmp/deb.log"; fail "make deb"; }
deb=$(ls "$root"/build/deb/qac_"$version"_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no build/deb/qac_${version}_*.deb after make deb"
ok "make deb: $(basename "$deb")"
dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/contents"
for f in /usr/bin/qac /usr/share/man/man1/qac.1.gz /lib/systemd/system/qac.service /lib/systemd/system/qac@.service \
    /etc/qac/qac.conf /usr/share/qac/web/index.html /usr/share/qac/web/app.js /usr/share/qac/web/style.css \
    /usr/share/qac/nginx/qac-site.conf /usr/share/doc/qac/copyright; do
    grep -qx "$f" "$tmp/contents" && ok "in the package: $f" || bad "not in the package: $f"
done
check "conffiles" "$(dpkg-deb --ctrl-tarfile "$deb" | tar xO ./conffiles)" "/etc/qac/qac.conf"
dep=$(dpkg-deb -f "$deb" Depends)
for lib in libuv1 libsystemd0 libhiredis libjemalloc2 libc6; do
    case $dep in *"$lib"*) ok "Depends names $lib" ;; *) bad "Depends lacks $lib: $dep" ;; esac
done
dpkg-deb --fsys-tarfile "$deb" | tar xO ./lib/systemd/system/qac.service | grep -qx 'ExecStart=/usr/bin/qac serve --config /etc/qac/qac.conf' &&
    ok "unit: ExecStart in /usr/bin, config in /etc" || bad "unit: ExecStart paths"
if command -v lintian >/dev/null; then
    lintian "$deb" >"$tmp/lintian.log" 2>&1
    check "lintian: no errors" "$(grep '^E:' "$tmp/lintian.log")" ""
else
    echo "SKIP: lintian: lintian missing"
fi
[ "$fails" -eq 0 ]
