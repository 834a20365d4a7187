#!/usr/bin/env bash
# it_auth.sh -- access control of `qac serve` (requirepass): text protocol, RESP through redis-cli
# (-a, --user default -a, AUTH), raw RESP bytes as hiredis sends them, HTTP with and without the token
# (Bearer and X-Qac-Token), wrong passwords (counted; the connection is closed at auth-max-failures),
# no password set, the setting's limits, the secret kept out of CONFIG GET and ps, commands that try
# to name a file path, and nginx with --token-file (the page's accept works, the browser never sees
# the token). Exit 0 pass, 1 fail, 77 skip (no QAC_BIN, redis-cli, curl or python3); without nginx the
# nginx part is left out with a "SKIP:" line (tests/run.sh counts it as one skipped).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-cli curl python3
make_tmp it_auth
ngdir=
# shellcheck disable=SC2016 # expanded at exit
at_exit '[ -n "$ngdir" ] && "$root/deploy/nginx-run.sh" stop --dir "$ngdir" >/dev/null 2>&1'
# text NAME PORT BYTES: send BYTES, print what comes back within 0.5 s (CRs removed, lines joined by |)
raw() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.settimeout(0.5)
out = b""
end = time.time() + 1.0
while time.time() < end:
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    if not d:
        out += b"<closed>"
        break
    out += d
print(out.decode("utf-8", "replace").replace("\r", "").rstrip("\n").replace("\n", "|"))
EOF
}

pw='s3cret-Pa55.word'
printf 'new york\t100\nnew york times\t80\nnetflix\t90\n' >"$tmp/c.tsv"
"$QAC_BIN" build -o "$tmp/idx" --format counts --quiet "$tmp/c.tsv" || { echo "FAIL qac build"; exit 1; }
cp "$tmp/idx" "$tmp/idx.orig"

# --- the setting's limits (usage errors, exit 2) ---
"$QAC_BIN" serve -i "$tmp/idx" --requirepass "$(head -c 513 /dev/zero | tr '\0' a)" 2>"$tmp/e"
check "requirepass over 512 bytes: exit" "$?" "2"
check "requirepass over 512 bytes: message" "$(cat "$tmp/e")" \
    "qac serve: requirepass: over 512 bytes; see 'qac serve --help'"
"$QAC_BIN" serve -i "$tmp/idx" --requirepass 'two words' 2>"$tmp/e"
check "requirepass with a space: exit" "$?" "2"
QAC_REQUIREPASS=$'bad\x01' "$QAC_BIN" serve -i "$tmp/idx" 2>"$tmp/e"
check "env requirepass with a control char: exit" "$?" "2"
grep -q 'QAC_REQUIREPASS' "$tmp/e" && ok "env error names the variable" || bad "env error: $(cat "$tmp/e")"
"$QAC_BIN" serve -i "$tmp/idx" --auth-max-failures 0 2>/dev/null
check "auth-max-failures 0: exit" "$?" "2"

# --- server 1: password from the config file (mode 600), the secure way ---
port=$(free_port) hport=$(free_port)
printf 'requirepass %s\nauth-max-failures 3\n' "$pw" >"$tmp/qac.conf"
chmod 600 "$tmp/qac.conf"
qac_start "$port" "$tmp/log1" -i "$tmp/idx" --config "$tmp/qac.conf" --http-port "$hport" --log-level info ||
    { echo "FAIL server 1 did not start"; cat "$tmp/log1"; exit 1; }

# text protocol: public commands work, the others answer NOAUTH
check "text public + NOAUTH" \
    "$(raw "$port" 'PING\nCOMPLETE new LIMIT 1\nGET netflix\nHELP AUTH\nADD x 1\nINCR netflix\nDEL netflix\nACCEPT netflix\nSAVE\nRELOAD\nSTATS\nINFO\nCONFIG GET *\n')" \
    "OK PONG|OK 1|new york	100|OK 90|OK 2|AUTH [default] <password>|authenticate this connection (requirepass): needed for changes, SAVE, RELOAD, STATS, CONFIG|ERR NOAUTH Authentication required.|ERR NOAUTH Authentication required.|ERR NOAUTH Authentication required.|ERR NOAUTH Authentication required.|ERR NOAUTH Authentication required.|ERR NOAUTH Authentication required.|ERR NOAUTH Authentication required.|ERR NOAUTH Authentication required.|ERR NOAUTH Authentication required."
check "text wrong then right AUTH" "$(raw "$port" "AUTH nope\nAUTH $pw\nINCR netflix\nDEL x\n")" \
    "ERR WRONGPASS invalid username-password pair or user is disabled.|OK|OK 91|OK 0"
check "text AUTH other user" "$(raw "$port" "AUTH admin $pw\nINCR netflix\nAUTH default $pw\nINCR netflix\n")" \
    "ERR WRONGPASS invalid username-password pair or user is disabled.|ERR NOAUTH Authentication required.|OK|OK 92"
check "text AUTH is per connection" "$(raw "$port" 'INCR netflix\n')" "ERR NOAUTH Authentication required."
check "text AUTH wrong arity" "$(raw "$port" 'AUTH\n')" "ERR ARGS wrong number of arguments; see HELP"
check "auth-max-failures closes the connection" "$(raw "$port" 'AUTH a\nAUTH b\nAUTH c\nPING\n')" \
    "ERR WRONGPASS invalid username-password pair or user is disabled.|ERR WRONGPASS invalid username-password pair or user is disabled.|ERR WRONGPASS invalid username-password pair or user is disabled; too many failures, closing the connection|<closed>"
# a prefix of the password, the password plus one byte, and a different byte at the end all fail
check "near misses fail" "$(raw "$port" "AUTH ${pw%?}\nAUTH ${pw}x\n")" \
    "ERR WRONGPASS invalid username-password pair or user is disabled.|ERR WRONGPASS invalid username-password pair or user is disabled."

# RESP via redis-cli
check "redis-cli NOAUTH" "$(redis-cli -p "$port" ADD y 1)" "NOAUTH Authentication required."
check "redis-cli public COMPLETE" "$(redis-cli -p "$port" COMPLETE netf)" "netflix"
check "redis-cli -a" "$(REDISCLI_AUTH= redis-cli -p "$port" -a "$pw" --no-auth-warning ADD y 5)" "OK"
check "redis-cli REDISCLI_AUTH" "$(REDISCLI_AUTH="$pw" redis-cli -p "$port" INCR y)" "6"
check "redis-cli --user default -a" "$(redis-cli -p "$port" --user default -a "$pw" --no-auth-warning GET y)" "6"
check "redis-cli -a wrong" "$(redis-cli -p "$port" -a wrong --no-auth-warning ADD y 1 2>&1 | grep -v '^$' | tr '\n' '|')" \
    "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.|NOAUTH Authentication required.|"
check "redis-cli STATS after -a" "$(redis-cli -p "$port" -a "$pw" --no-auth-warning STATS | grep -c '^auth_required:1')" "1"
# raw RESP, as hiredis encodes it (redisCommand(c, "AUTH %s", pw))
check "raw RESP NOAUTH/AUTH" \
    "$(raw "$port" "*3\r\n\$3\r\nADD\r\n\$1\r\nz\r\n\$1\r\n1\r\n*2\r\n\$4\r\nAUTH\r\n\$5\r\nwrong\r\n*2\r\n\$4\r\nAUTH\r\n\$${#pw}\r\n$pw\r\n*3\r\n\$3\r\nADD\r\n\$1\r\nz\r\n\$1\r\n1\r\n")" \
    "-NOAUTH Authentication required.|-WRONGPASS invalid username-password pair or user is disabled.|+OK|+OK"

# no client request can name a file path: extra arguments are refused, nothing is written or read
rm -f /tmp/qac-auth-x.$$
check "SAVE PATH refused" "$(raw "$port" "AUTH $pw\nSAVE /tmp/qac-auth-x.$$\nRELOAD /etc/passwd\nCONFIG SET save /tmp/qac-auth-x.$$\nCONFIG GET requirepass\nCONFIG GET *pass*\n")" \
    "OK|ERR ARGS wrong number of arguments; see HELP|ERR ARGS wrong number of arguments; see HELP|ERR ARGS wrong number of arguments; see HELP|OK 0|OK 0"
check "SAVE PATH wrote nothing" "$(ls /tmp/qac-auth-x.$$ 2>/dev/null | wc -l)" "0"
check "index unchanged by refused SAVE" "$(cmp -s "$tmp/idx" "$tmp/idx.orig" && echo same)" "same"
check "RESP SAVE PATH refused" "$(redis-cli -p "$port" -a "$pw" --no-auth-warning SAVE /tmp/qac-auth-x.$$)" \
    "ERR ARGS wrong number of arguments; see HELP"
check "the secret is not in CONFIG GET *" "$(redis-cli -p "$port" -a "$pw" --no-auth-warning CONFIG GET '*' | grep -c -- "$pw")" "0"

# HTTP
h="http://127.0.0.1:$hport"
check "http complete public" "$(http_status "$h/v1/complete?q=new")" "200"
check "http healthz public" "$(http_status "$h/healthz")" "200"
check "http accept no token" "$(curl -s -d 'q=zebra' "$h/v1/accept")" \
    '{"error":{"code":"unauthorized","message":"this endpoint needs Authorization: Bearer <requirepass> (or X-Qac-Token)"}}'
check "http 401 WWW-Authenticate" "$(curl -s -D - -o /dev/null "$h/v1/stats" | tr -d '\r' | grep -i '^www-authenticate:')" \
    'WWW-Authenticate: Bearer realm="qac"'
check "http stats no token" "$(http_status "$h/v1/stats")" "401"
check "http metrics no token" "$(http_status "$h/metrics")" "401"
check "http GET accept no token" "$(http_status "$h/v1/accept?q=zebra")" "401"
# distinct users: a user's repeated ACCEPTs of a query count once (engine/guard.h)
check "http accept Bearer" "$(curl -s -H "Authorization: Bearer $pw" -d 'q=zebra&user=a1' "$h/v1/accept")" '{"query":"zebra","score":1}'
check "http accept X-Qac-Token" "$(curl -s -H "X-Qac-Token: $pw" "$h/v1/accept?q=zebra&user=a2")" '{"query":"zebra","score":2}'
check "http stats Bearer" "$(http_status -H "Authorization: bearer $pw" "$h/v1/stats")" "200"
check "http metrics Bearer" "$(http_status -H "Authorization: Bearer $pw" "$h/metrics")" "200"
check "http wrong token" "$(curl -s -D - -H 'Authorization: Bearer nope' "$h/v1/stats" | tr -d '\r' | grep -iE '^(HTTP|www-auth)' | tr '\n' '|')" \
    'HTTP/1.1 401 Unauthorized|WWW-Authenticate: Bearer realm="qac", error="invalid_token"|'
check "http Basic is not a token" "$(http_status -u "x:$pw" "$h/v1/stats")" "401"
check "http preflight public" "$(http_status -X OPTIONS "$h/v1/accept")" "204"
# unknown routes that look like files stay 404
check "http path-like route" "$(http_status -H "Authorization: Bearer $pw" "$h/v1/save?file=/tmp/x")" "404"
# counters
stats=$(curl -s -H "Authorization: Bearer $pw" "$h/v1/stats")
val() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$stats" "$1"; }
check "stats auth_required" "$(val auth_required)" "1"
# wrong: nope, admin/pw, a, b, c, near misses x2, -a wrong, RESP wrong, Bearer nope, Basic = 11
check "stats auth_failures" "$(val auth_failures)" "11"
check "stats err_WRONGPASS" "$(val err_WRONGPASS)" "11"
# NOAUTH: 9 + 5 on text/RESP connections, 5 HTTP requests without a token
check "stats auth_refused" "$(val auth_refused)" "19"
grep -q 'access control on' "$tmp/log1" && ok "log says access control is on" || bad "log"
grep -q "$pw" "$tmp/log1" && bad "the password is in the log" || ok "the password is not in the log"

# --- server 2: password as a flag (warned, hidden from ps) ---
port2=$(free_port)
qac_start "$port2" "$tmp/log2" -i "$tmp/idx" --http-port 0 --requirepass "$pw" ||
    { echo "FAIL server 2 did not start"; exit 1; }
grep -q 'requirepass given as a flag' "$tmp/log2" && ok "flag warning" || bad "no flag warning"
tr '\0' ' ' <"/proc/$qac_pid/cmdline" | grep -q -- "$pw" && bad "password visible in /proc/PID/cmdline" || ok "password hidden from ps"
check "flag password works" "$(redis-cli -p "$port2" -a "$pw" --no-auth-warning INCR netflix)" "91"

# --- server 3: password from the environment; HTTP off ---
port3=$(free_port)
QAC_REQUIREPASS="$pw" qac_start "$port3" "$tmp/log3" -i "$tmp/idx" --http-port 0 ||
    { echo "FAIL server 3 did not start"; exit 1; }
check "env password: NOAUTH" "$(redis-cli -p "$port3" DEL netflix)" "NOAUTH Authentication required."
check "env password: AUTH" "$(redis-cli -p "$port3" -a "$pw" --no-auth-warning GET netflix)" "90"
grep -q 'requirepass given as a flag' "$tmp/log3" && bad "env warned as a flag" || ok "env: no flag warning"

# --- server 4: no password (the default): everything open, AUTH is an error ---
port4=$(free_port) hport4=$(free_port)
QAC_REQUIREPASS= qac_start "$port4" "$tmp/log4" -i "$tmp/idx" --http-port "$hport4" ||
    { echo "FAIL server 4 did not start"; exit 1; }
check "no password: AUTH" "$(raw "$port4" 'AUTH x\nINCR netflix\n')" \
    "ERR ARGS AUTH <password> called without any password configured (requirepass is not set)|OK 91"
check "no password: redis-cli -a" "$(redis-cli -p "$port4" -a x --no-auth-warning ADD q 1 2>&1 | tail -1)" "OK"
check "no password: http stats" "$(http_status "http://127.0.0.1:$hport4/v1/stats")" "200"
check "no password: http accept" "$(http_status -d q=zz "http://127.0.0.1:$hport4/v1/accept")" "200"

# --- nginx in front, with --token-file: the page's accept works, the browser never sees the token ---
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
    ngdir=$tmp/ng
    ngport=$(free_port)
    printf '%s\n' "$pw" >"$tmp/token"
    chmod 600 "$tmp/token"
    if "$root/deploy/nginx-run.sh" start --dir "$ngdir" --port "$ngport" --upstream "127.0.0.1:$hport" \
        --token-file "$tmp/token" >/dev/null 2>"$tmp/ngerr"; then
        n="http://127.0.0.1:$ngport"
        check "nginx accept from the page" "$(curl -s -d 'q=zebra&user=u1&rank=1' "$n/v1/accept")" '{"query":"zebra","score":3}'
        check "nginx accept with a wrong browser token" "$(curl -s -H 'Authorization: Bearer nope' -H 'X-Qac-Token: nope' -d 'q=zebra&user=u4' "$n/v1/accept")" \
            '{"query":"zebra","score":4}'
        check "nginx complete" "$(http_status "$n/v1/complete?q=zeb")" "200"
        check "nginx stats (local)" "$(http_status "$n/v1/stats")" "200"
        all=$(curl -s -D - "$n/" "$n/app.js" "$n/v1/complete?q=ze" -d q=zebra "$n/v1/accept" 2>/dev/null)
        grep -q -- "$pw" <<<"$all" && bad "the token reached the browser" || ok "the token never reaches the browser"
        check "generated nginx.conf is private" "$(stat -c %a "$ngdir/nginx.conf")" "600"
    else
        bad "nginx-run.sh start: $(cat "$tmp/ngerr")"
    fi
    "$root/deploy/nginx-run.sh" config --dir "$tmp/ng2" --token-file "$tmp/nonexistent" >/dev/null 2>&1
    check "nginx-run.sh missing token file" "$?" "1"
    printf 'bad token"; evil\n' >"$tmp/badtok"
    "$root/deploy/nginx-run.sh" config --dir "$tmp/ng3" --token-file "$tmp/badtok" >/dev/null 2>&1
    check "nginx-run.sh token with bad characters" "$?" "1"
else
    echo "SKIP: nginx part (--token-file behind nginx): nginx not installed"
fi

[ $fails -eq 0 ] || { echo "$fails failures"; exit 1; }
echo "all passed"
