# reload_stall.py PORT SECONDS (issue 16): PING every 10 ms on one connection, RELOAD at 1 s from another;
# prints max / p99 / p50 PING latency (ms) and the RELOAD reply time.
import socket, sys, time, threading
port, secs = int(sys.argv[1]), float(sys.argv[2])
def conn():
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); return s
def cmd(s, *a):
    s.sendall(("*%d\r\n" % len(a) + "".join("$%d\r\n%s\r\n" % (len(x), x) for x in a)).encode())
    buf = b""
    while not buf.endswith(b"\r\n"): buf += s.recv(65536)
    return buf
rel = {}
def reload():
    time.sleep(1.0); s = conn(); t = time.time(); r = cmd(s, "RELOAD"); rel["ms"] = (time.time() - t) * 1e3; rel["r"] = r
th = threading.Thread(target=reload); th.start()
s = conn(); lat = []; end = time.time() + secs
while time.time() < end:
    t = time.time(); cmd(s, "PING"); lat.append((time.time() - t) * 1e3); time.sleep(0.01)
th.join(); lat.sort()
print("pings=%d max_ms=%.1f p99_ms=%.1f p50_ms=%.2f reload_reply_ms=%.1f %r" % (len(lat), lat[-1], lat[int(len(lat) * .99)], lat[len(lat) // 2], rel["ms"], rel["r"][:20]))
