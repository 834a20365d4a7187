#!/usr/bin/env python3
# shard_merge_ab.py -- A/B latency of shards (docs/SCALING.md "Shards"): one server holding every key vs
# the merger over the shards (RESP), and through nginx (HTTP: nginx -> one server, vs nginx -> the shard
# map -> a shard or the merger). Sequential requests on one connection, sides alternated in blocks of 500,
# the same 4,000 random prefixes on both sides, plain and INFIX.
#   usage: shard_merge_ab.py PREFIXES ONE_RESP MERGER_RESP NGINX_ONE NGINX_SHARDS
# (nginx started with --cache-secs 0 and a high --rate; the setup is in docs/SCALING.md).
import http.client, random, socket, sys, time
random.seed(1)
pre = [l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8")]
one, merger, nport2, nport = map(int, sys.argv[2:6])
pre = random.sample(pre, 4000)
def resp_conn(port):
    s = socket.create_connection(("127.0.0.1", port)); return s, s.makefile("rb")
def resp_ask(c, p, infix):
    s, f = c
    args = [b"COMPLETE", p.encode(), b"LIMIT", b"10"] + ([b"INFIX"] if infix else [])
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    line = f.readline()
    if line.startswith(b"*"):
        for _ in range(int(line[1:])): f.readline(); f.readline()
def http_ask(c, p, infix):
    import urllib.parse
    c.request("GET", "/v1/complete?k=10&q=" + urllib.parse.quote(p) + ("&infix=1" if infix else ""))
    r = c.getresponse(); r.read()
def run(sides, ask, infix):
    lat = {k: [] for k in sides}
    for b in range(0, len(pre), 500):
        for name, c in (sides.items() if (b // 500) % 2 == 0 else reversed(list(sides.items()))):
            for p in pre[b:b + 500]:
                t = time.perf_counter(); ask(c, p, infix); lat[name].append((time.perf_counter() - t) * 1e6)
    out = {}
    for k, v in lat.items():
        v.sort(); out[k] = (v[len(v) // 2], v[int(len(v) * 0.99)])
    return out
for infix in (0, 1):
    r = run({"one server": resp_conn(one), "merger": resp_conn(merger)}, resp_ask, infix)
    print("RESP infix=%d" % infix, {k: "p50 %.0f us p99 %.0f us" % v for k, v in r.items()},
          "ratio p50 %.2f p99 %.2f" % (r["merger"][0] / r["one server"][0], r["merger"][1] / r["one server"][1]))
    r = run({"nginx->one server": http.client.HTTPConnection("127.0.0.1", nport2),
             "nginx->map->shard/merger": http.client.HTTPConnection("127.0.0.1", nport)}, http_ask, infix)
    a, b = r["nginx->one server"], r["nginx->map->shard/merger"]
    print("HTTP infix=%d" % infix, {k: "p50 %.0f us p99 %.0f us" % v for k, v in r.items()},
          "ratio p50 %.2f p99 %.2f" % (b[0] / a[0], b[1] / a[1]))
