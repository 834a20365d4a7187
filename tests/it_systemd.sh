#!/usr/bin/env bash
# it_systemd.sh -- what qac.service relies on, without systemd:
#   1. readiness: with NOTIFY_SOCKET naming a unix datagram socket (a python
#      listener standing in for systemd), `qac serve` sends READY=1 once it
#      answers (the index loaded, the ports listening), and STOPPING=1 on SIGTERM;
#   2. SIGHUP does what RELOAD does: STATS reloads_ok goes 0 -> 1, the log says
#      so, the server keeps serving; RELOAD counts in the same place (-> 2);
#   3. SIGTERM still drains and exits 0;
#   4. the log is what journald and grep read: every line key=value (ts, level,
#      event first), values with spaces, quotes and newlines quoted and escaped
#      (a journal path holding them comes back intact from its log line).
# (The unit files themselves are checked in it_install.sh.)
# Exit 0 pass, 1 fail, 77 skip (no QAC_BIN or python3).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need python3
make_tmp it_systemd

printf 'new york\t100\nnetflix\t90\n' >"$tmp/c.tsv"
"$QAC_BIN" build -o "$tmp/idx" --format counts --quiet "$tmp/c.tsv" || fail "qac build"

# the stand-in for systemd: every datagram on $tmp/notify, one per line (newlines as '|'), in $tmp/notified
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", "|") + "\n")
' "$tmp/notify" "$tmp/notified" &
track $!
for _ in $(seq 100); do [ -S "$tmp/notify" ] && break; sleep 0.05; done
[ -S "$tmp/notify" ] || fail "the notify listener did not start"
: >"$tmp/notified"

stat() { # stat PORT NAME: the value of NAME in STATS
    python3 - "$@" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"STATS\r\nQUIT\r\n")
buf = b""
while True:
    d = s.recv(65536)
    if not d: break
    buf += d
for line in buf.decode().splitlines():
    w = line.split()
    if len(w) == 2 and w[0] == sys.argv[2]: print(w[1])
PY
}

port=$(free_port)
fail_log=$tmp/log
NOTIFY_SOCKET=$tmp/notify qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port 0 || fail "server did not start"
# --- 1. readiness -----------------------------------------------------------------
for _ in $(seq 100); do grep -q 'READY=1' "$tmp/notified" && break; sleep 0.05; done
check "READY=1 sent" "$(grep -c '^READY=1|STATUS=serving 2 keys$' "$tmp/notified")" 1

# --- 2. SIGHUP = RELOAD -------------------------------------------------------------
check "reloads_ok before SIGHUP" "$(stat "$port" reloads_ok)" 0
kill -HUP "$qac_pid"
for _ in $(seq 100); do [ "$(stat "$port" reloads_ok)" = 1 ] && break; sleep 0.05; done
check "reloads_ok after SIGHUP" "$(stat "$port" reloads_ok)" 1
check "reloads_failed after SIGHUP" "$(stat "$port" reloads_failed)" 0
check "log: SIGHUP reload line" "$(grep -c 'event=server.reload signal=1 ' "$tmp/log")" 1
wait_ping "$port" "$qac_pid" 5 && ok "serving after SIGHUP" || bad "no PONG after SIGHUP"
python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"RELOAD\r\nQUIT\r\n"); s.recv(100)' "$port"
check "RELOAD counts in the same place" "$(stat "$port" reloads_ok)" 2
check "STATUS=reloaded sent" "$(grep -c '^STATUS=reloaded$' "$tmp/notified")" 1

# --- 3. SIGTERM drains as before --------------------------------------------------
qac_stop
check "exit status after SIGTERM" "$?" 0
for _ in $(seq 40); do grep -q 'STOPPING=1' "$tmp/notified" && break; sleep 0.05; done
check "STOPPING=1 sent" "$(grep -c '^STOPPING=1$' "$tmp/notified")" 1
check "log: shut down cleanly" "$(grep -c 'event=server.stopped ' "$tmp/log")" 1

# --- 4. key=value lines -------------------------------------------------------------
odd="$tmp/a dir/jour\"nal
x"
mkdir -p "$tmp/a dir"
port=$(free_port)
qac_start "$port" "$tmp/log4" -i "$tmp/idx" --http-port 0 --journal "$odd" || fail "server with an odd journal path"
qac_stop
python3 - "$tmp/log" "$tmp/log4" "$odd" <<'PY' && ok "log: every line key=value, values escaped" || bad "log: format"
import re, sys
pair = re.compile(r'([a-z_][a-z0-9_]*)=("(?:[^"\\\x00-\x1f\x7f]|\\["\\nrt]|\\x[0-9a-f]{2})*"|[^\s"=\\]+)(?: |$)')
esc = {'"': '"', '\\': '\\', 'n': '\n', 'r': '\r', 't': '\t'}
def unq(v):
    if not v.startswith('"'): return v
    v, out, i = v[1:-1], b"", 0
    while i < len(v):
        if v[i] != '\\': out += v[i].encode(); i += 1
        elif v[i + 1] == 'x': out += bytes([int(v[i + 2:i + 4], 16)]); i += 4
        else: out += esc[v[i + 1]].encode(); i += 2
    return out.decode()
paths, n = [], 0
for f in sys.argv[1:3]:
    for line in open(f, encoding="utf-8"):
        line, pos, kv = line.rstrip("\n"), 0, []
        while pos < len(line):
            m = pair.match(line, pos)
            if not m: sys.exit("not key=value at %d: %r" % (pos, line))
            kv.append((m.group(1), unq(m.group(2)))); pos = m.end()
        keys = [k for k, _ in kv]
        if keys[:3] != ["ts", "level", "event"] or not re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", kv[2][1]):
            sys.exit("bad head: %r" % line)
        if kv[2][1] == "journal.replayed": paths.append(dict(kv)["path"])
        n += 1
if paths != [sys.argv[3]]: sys.exit("journal path not intact: %r" % paths)
print("  %d log lines parsed" % n)
PY
[ "$fails" -eq 0 ]
