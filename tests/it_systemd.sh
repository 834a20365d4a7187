#!/usr/bin/env bash
# it_systemd.sh -- what qac.service relies on, without systemd:
#   1. readiness: with NOTIFY_SOCKET naming a unix datagram socket (a python
#      listener standing in for systemd), `qac serve` sends READY=1 once it
#      answers (the index loaded, the ports listening), and STOPPING=1 on SIGTERM;
#   2. SIGHUP does what RELOAD does: STATS reloads_ok goes 0 -> 1, the log says
#      so, the server keeps serving; RELOAD counts in the same place (-> 2);
#   3. SIGTERM still drains and exits 0.
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
check "log: SIGHUP reload line" "$(grep -c 'signal 1: reloading (as RELOAD)' "$tmp/log")" 1
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
check "log: shut down cleanly" "$(grep -c 'shut down cleanly' "$tmp/log")" 1
[ "$fails" -eq 0 ]
