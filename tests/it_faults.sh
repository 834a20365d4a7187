#!/usr/bin/env bash
# it_faults.sh -- fault tests against the real `qac serve` (issue 8).
#
# What: bad clients against a server on the demo index, each check printing
# "ok"/"FAIL" with what it did. Every group ends by asserting that the server
# still serves others (PING and COMPLETE on a fresh text connection, /healthz
# on a fresh HTTP connection, GET of a known key unchanged) and that its RSS
# (/proc/PID/status VmRSS) stayed within a bound over the baseline.
#
# Groups: slowloris (trickling text/HTTP clients, stallers closed by
# --idle-timeout), 100 MB lines (text, HTTP URL, header and body), broken RESP
# framing, NUL and invalid UTF-8 in every field (text, RESP, HTTP query,
# form and JSON bodies), HTTP smuggling patterns, a client that never reads
# (HTTP), 10,000 connections plus RLIMIT_NOFILE handling, SIGTERM under load.
#
# Layout: bash checks prerequisites and builds the index; the checks are a
# python3 program inline below (one process, no threads: non-blocking
# sockets and select). The python side starts and stops its own servers and
# kills only those at exit.
# Under ASan (detected with nm: __asan_init in QAC_BIN) RSS bounds are scaled
# by FAULTS_ASAN_SCALE and latency bounds by 5.
# Exit 0 pass, 1 fail, 77 skip (no QAC_BIN or python3). A group that cannot run
# here (10,000 connections under a low hard RLIMIT_NOFILE) prints a "SKIP:"
# line, which tests/run.sh counts as one skipped.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need python3
make_tmp it_faults
"$QAC_BIN" build -o "$tmp/idx" --quiet "$root/data/demo/trec05.txt" "$root/data/demo/excite97.tsv" \
    2>"$tmp/build.log" || { echo "FAIL qac build of the demo index"; cat "$tmp/build.log"; exit 1; }
asan=0
nm "$QAC_BIN" 2>/dev/null | grep -q '__asan_init' && asan=1
[ -n "${FAULTS_ASAN:-}" ] && asan=$FAULTS_ASAN

python3 - "$QAC_BIN" "$tmp" "$asan" <<'PY'
import os, re, resource, select, signal, socket, subprocess, sys, time

QAC, TMP, ASAN = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
IDX = os.path.join(TMP, "idx")
RSS_SCALE = 4 if ASAN else 1      # ASan redzones and quarantine
LAT_SCALE = 5 if ASAN else 1
fails = 0
servers = []

def say(msg):
    print(msg, flush=True)

def check(name, cond, detail=""):
    global fails
    if cond:
        say("ok   " + name)
    else:
        fails += 1
        say("FAIL " + name + (": " + detail if detail else ""))
    return cond

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

class Server:
    def __init__(self, name, extra=(), nofile=None, wait=True):
        self.name, self.port, self.hport = name, free_port(), free_port()
        self.logpath = os.path.join(TMP, name + ".log")
        self.log = open(self.logpath, "wb")
        args = [QAC, "serve", "-i", IDX, "--port", str(self.port), "--http-port", str(self.hport),
                "--log-level", "warn"] + list(extra)
        def pre():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
        self.p = subprocess.Popen(args, stdout=self.log, stderr=self.log, preexec_fn=pre)
        servers.append(self)
        self.base_rss = None
        if wait:
            end = time.time() + 15
            while time.time() < end and self.p.poll() is None:
                try:
                    if text_cmd(self.port, b"PING\r\n", timeout=1) == b"OK PONG\r\n":
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            self.wait_settled()
            self.base_rss = self.rss_kb()

    def wait_settled(self, secs=60):
        """Waits until the background start-up work is done (the suffix index
        of generated completions is copied in slices and built on a worker after
        the first PONG), so the baseline RSS is the steady state's."""
        end = time.time() + secs
        while time.time() < end and self.p.poll() is None:
            try:
                if not stat(self.port, "rank_gen_building"):
                    return
            except OSError:
                pass
            time.sleep(0.1)

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.p.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return -1
        return -1

    def nofile_soft(self):
        with open("/proc/%d/limits" % self.p.pid) as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
        return -1

    def logtext(self):
        self.log.flush()
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill(); self.p.wait()
        return self.p.returncode

def dial(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def read_until(s, pred, timeout=5.0):
    """Reads until pred(buf) holds, EOF or timeout; returns (buf, closed)."""
    buf, end = b"", time.time() + timeout
    while not pred(buf):
        left = end - time.time()
        if left <= 0:
            return buf, False
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return buf, False
        except (ConnectionResetError, BrokenPipeError):
            return buf, True
        if not d:
            return buf, True
        buf += d
    return buf, False

def read_all(s, timeout=5.0):
    return read_until(s, lambda b: False, timeout)

def text_cmd(port, req, timeout=5.0, want_lines=1):
    s = dial(port, timeout)
    try:
        s.sendall(req)
        buf, _ = read_until(s, lambda b: b.count(b"\n") >= want_lines, timeout)
        return buf
    finally:
        s.close()

def http_req(port, raw, timeout=5.0):
    """Sends raw bytes on a fresh connection, reads until close; returns (status list, data)."""
    s = dial(port, timeout)
    try:
        s.sendall(raw)
        buf, closed = read_all(s, timeout)
    finally:
        s.close()
    return re.findall(rb"HTTP/1\.[01] (\d{3})", buf), buf, closed

def stat(port, name):
    def done(b):
        m = re.match(rb"OK (\d+)\r\n", b)
        return m is not None and b.count(b"\n") >= 1 + int(m.group(1))
    s = dial(port)
    try:
        s.sendall(b"STATS\r\n")
        buf, _ = read_until(s, done, 5)
    finally:
        s.close()
    m = re.search(rb"\n" + name.encode() + rb" (\S+)\r\n", buf)
    return int(m.group(1)) if m and m.group(1).isdigit() else None

def healthy(srv, what, rss_bound_mb=32):
    """The server still serves fresh clients, the index is intact, RSS bounded."""
    alive = srv.p.poll() is None
    ok = check(what + ": server alive", alive, "exit status %s; log: %s" % (srv.p.returncode, srv.logtext()[-2000:]))
    if not alive:
        return False
    try:
        t0 = time.time()
        pong = text_cmd(srv.port, b"PING\r\n")
        lat = time.time() - t0
        comp = text_cmd(srv.port, b"COMPLETE yah LIMIT 1\r\n", want_lines=2)
        get = text_cmd(srv.port, b"GET yahoo\r\n")
        hs, hbuf, _ = http_req(srv.hport, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    except OSError as e:
        return check(what + ": fresh clients answered", False, repr(e))
    ok &= check(what + ": fresh PING answered (%.1f ms)" % (lat * 1000),
                pong == b"OK PONG\r\n" and lat < 1.0 * LAT_SCALE, repr(pong))
    ok &= check(what + ": fresh COMPLETE answered", comp == b"OK 1\r\nyahoo\t233\r\n", repr(comp))
    ok &= check(what + ": index intact (GET yahoo = 233)", get == b"OK 233\r\n", repr(get))
    ok &= check(what + ": fresh HTTP /healthz answered", hs == [b"200"], repr(hbuf[:200]))
    rss = srv.rss_kb()
    grow = (rss - srv.base_rss) / 1024.0
    ok &= check(what + ": RSS %d KB, +%.1f MB over baseline (bound %d MB)" % (rss, grow, rss_bound_mb * RSS_SCALE),
                grow < rss_bound_mb * RSS_SCALE)
    return ok

# ---------------------------------------------------------------------------
def t_slowloris(srv):
    say("# slowloris: 100 text and 100 HTTP clients send one byte every 100 ms; 3 stallers; --idle-timeout 2")
    treq = b"COMPLETE yah LIMIT 1\r\n"
    hreq = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    trick = [(dial(srv.port), treq) for _ in range(100)] + [(dial(srv.hport), hreq) for _ in range(100)]
    stall = [dial(srv.port), dial(srv.hport), dial(srv.port)]
    stall[0].sendall(b"COMPL")
    stall[1].sendall(b"GET /healthz HT")   # stall[2] sends nothing at all
    t0 = time.time()
    stall_closed = [None] * len(stall)
    worst = 0.0
    got = [b""] * len(trick)
    n = max(len(r) for _, r in trick)
    for i in range(n):
        for s, r in trick:
            if i < len(r):
                s.sendall(r[i:i + 1])
        for k, s in enumerate(stall):
            if stall_closed[k] is None:
                r, _, _ = select.select([s], [], [], 0)
                if r:
                    try:
                        d = s.recv(4096)
                    except OSError:
                        d = b""
                    if not d:
                        stall_closed[k] = time.time() - t0
        if i % 5 == 0:   # meanwhile other clients get answers promptly
            a = time.time()
            pong = text_cmd(srv.port, b"PING\r\n")
            worst = max(worst, time.time() - a)
            if pong != b"OK PONG\r\n":
                worst = 99
        time.sleep(0.1)
    for k, (s, r) in enumerate(trick):
        buf, _ = read_until(s, (lambda b: b.count(b"\n") >= 2) if r is treq else (lambda b: b"\r\n\r\n" in b and b.endswith(b"}")), 3)
        got[k] = buf
        s.close()
    tok = sum(1 for k, (s, r) in enumerate(trick) if r is treq and got[k] == b"OK 1\r\nyahoo\t233\r\n")
    hok = sum(1 for k, (s, r) in enumerate(trick) if r is hreq and got[k].startswith(b"HTTP/1.1 200"))
    check("slowloris: 100 trickling text clients answered after %.1f s" % (time.time() - t0), tok == 100, "%d of 100" % tok)
    check("slowloris: 100 trickling HTTP clients answered", hok == 100, "%d of 100" % hok)
    check("slowloris: other clients answered promptly meanwhile (worst PING %.1f ms)" % (worst * 1000),
          worst < 0.25 * LAT_SCALE)
    end = t0 + 6
    for k, s in enumerate(stall):
        if stall_closed[k] is None:
            _, closed = read_all(s, max(0.1, end - time.time()))
            if closed:
                stall_closed[k] = time.time() - t0
        s.close()
    for k, what in enumerate(["text client stalled mid-line", "HTTP client stalled mid-head", "silent client"]):
        c = stall_closed[k]
        check("slowloris: %s closed by idle-timeout 2 s (at %s s)" % (what, "%.1f" % c if c else "never"),
              c is not None and 1.5 <= c <= 4.0)
    healthy(srv, "after slowloris")

# ---------------------------------------------------------------------------
def pump(s, chunks, srv, timeout=30.0):
    """Writes the chunks (a generator) while reading; stops at EOF/reset.
    Returns (received, sent, closed, peak RSS KB)."""
    s.setblocking(False)
    recv, sent, closed, peak = b"", 0, False, 0
    cur = b""
    end = time.time() + timeout
    last_rss = 0
    while time.time() < end:
        if not cur:
            cur = next(chunks, b"")
        r, w, _ = select.select([s], [s] if cur else [], [], 0.5)
        if r:
            try:
                d = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                closed = True; break
            except BlockingIOError:
                d = None
            if d == b"":
                closed = True; break
            if d:
                recv += d
        if w and cur:
            try:
                n = s.send(cur)
                sent += n
                cur = cur[n:]
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                closed = True; break
        if not cur and not r and not w:
            break
        if time.time() - last_rss > 0.05:
            peak = max(peak, srv.rss_kb()); last_rss = time.time()
    peak = max(peak, srv.rss_kb())
    s.setblocking(True)
    return recv, sent, closed, peak

def big(prefix, n, suffix=b"", fill=b"a"):
    yield prefix
    block = fill * (1 << 20)
    left = n
    while left > 0:
        k = min(left, len(block)); left -= k
        yield block[:k]
    if suffix:
        yield suffix

MB100 = 100 << 20

def chunked(head, n):
    yield head
    chunk = b"10000\r\n" + b"a" * 65536 + b"\r\n"
    for _ in range(n // 65536):
        yield chunk
    yield b"0\r\n\r\n"

def t_hundred_mb(srv):
    say("# 100 MB lines: text without and with a newline, HTTP URL, header and body")
    base = srv.rss_kb()
    bound = 20 * RSS_SCALE
    cases = [
        ("text line, no newline", srv.port, big(b"COMPLETE ", MB100), rb"^ERR TOOLONG .*\r\n$"),
        ("text line ending in a newline, then PING", srv.port, big(b"COMPLETE ", MB100, b"\r\nPING\r\n"), rb"^ERR TOOLONG .*\r\n$"),
        ("RESP bulk of 100 MB", srv.port, big(b"*2\r\n$8\r\nCOMPLETE\r\n$%d\r\n" % MB100, MB100, b"\r\n"), rb"^-ERR LIMIT .*\r\n$"),
        ("HTTP URL", srv.hport, big(b"GET /v1/complete?q=", MB100, b" HTTP/1.1\r\nHost: t\r\n\r\n"), rb"^HTTP/1.1 414 "),
        ("HTTP header", srv.hport, big(b"GET /healthz HTTP/1.1\r\nX-Big: ", MB100, b"\r\n\r\n"), rb"^HTTP/1.1 431 "),
        ("HTTP body (Content-Length)", srv.hport,
         big(b"POST /v1/accept HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\nq=" % MB100, MB100), rb"^HTTP/1.1 413 "),
        ("HTTP body (chunked)", srv.hport,
         chunked(b"POST /v1/accept HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", MB100), rb"^HTTP/1.1 413 "),
    ]
    for name, port, gen, want in cases:
        s = dial(port)
        t0 = time.time()
        recv, sent, closed, peak = pump(s, gen, srv)
        if not closed:
            more, closed = read_all(s, 3)
            recv += more
        s.close()
        grow = (peak - base) / 1024.0
        check("100 MB %s: %r after %.1f MB sent in %.1f s" % (name, recv[:60], sent / 1048576.0, time.time() - t0),
              re.search(want, recv, re.S) is not None and recv.count(b"\n") <= (1 if port == srv.port else 99), repr(recv[:300]))
        check("100 MB %s: connection closed" % name, closed)
        check("100 MB %s: peak RSS +%.1f MB over baseline (bound %d MB)" % (name, grow, bound), grow < bound)
    healthy(srv, "after 100 MB lines")

# ---------------------------------------------------------------------------
def t_resp(srv):
    say("# RESP framing errors: -ERR, connection closed, no resynchronization (a PING sent after is not answered)")
    cases = [
        ("*2147483647", b"*2147483647\r\n", b"LIMIT|SYNTAX"),
        ("*-1", b"*-1\r\n", b"SYNTAX|LIMIT"),
        ("*99999999999999999999", b"*99999999999999999999\r\n", b"SYNTAX|LIMIT"),
        ("*-99999999999999999999", b"*-99999999999999999999\r\n", b"SYNTAX|LIMIT"),
        ("*abc", b"*abc\r\n", b"SYNTAX"),
        ("* (empty count)", b"*\r\n", b"SYNTAX"),
        ("$-5", b"*1\r\n$-5\r\n", b"SYNTAX"),
        ("$-1 (null bulk)", b"*1\r\n$-1\r\n", b"SYNTAX"),
        ("$99999999999999999999", b"*1\r\n$99999999999999999999\r\n", b"SYNTAX|LIMIT"),
        ("bulk over max-bulk", b"*2\r\n$8\r\nCOMPLETE\r\n$4097\r\n", b"LIMIT"),
        ("more args than max-args", b"*33\r\n", b"LIMIT"),
        ("bulk with wrong CRLF", b"*1\r\n$4\r\nPINGxx", b"SYNTAX"),
        ("bulk with LF only", b"*1\r\n$4\r\nPING\n", b"SYNTAX"),
        ("count line with bare LF then garbage", b"*1\n$4\r\nPING\r\n", b"SYNTAX"),
        ("non-bulk element :1", b"*1\r\n:1\r\n", b"SYNTAX"),
        ("non-bulk element +PING", b"*1\r\n+PING\r\n", b"SYNTAX"),
        ("nested array", b"*1\r\n*1\r\n$4\r\nPING\r\n", b"SYNTAX"),
        ("NUL in a count", b"*1\x00\r\n", b"SYNTAX"),
    ]
    for name, req, codes in cases:
        s = dial(srv.port)
        s.sendall(req + b"PING\r\n*1\r\n$4\r\nPING\r\n")
        buf, closed = read_all(s, 3)
        s.close()
        good = re.fullmatch(rb"-ERR (" + codes + rb") [^\r\n]+\r\n", buf) is not None
        check("RESP %s: %r, closed" % (name, buf[:70]), good and closed, "closed=%s got %r" % (closed, buf[:200]))
    s = dial(srv.port)
    s.sendall(b"*0\r\n*1\r\n$4\r\nPING\r\n")
    buf, _ = read_until(s, lambda b: b"\r\n" in b, 3)
    s.close()
    check("RESP *0 is ignored (as Redis), the next request answered", buf == b"+PONG\r\n", repr(buf))
    healthy(srv, "after RESP framing errors")

# ---------------------------------------------------------------------------
BAD = [(b"\xff", "0xff"), (b"a\xc3", "truncated"), (b"\xc0\xaf", "overlong"), (b"\xed\xa0\x80", "surrogate"),
       (b"\xf4\x90\x80\x80", "over U+10FFFF"), (b"a\x00b", "NUL")]

# norm.h: a prefix's incomplete last character is dropped (a keystroke can
# split a character in transit), so a truncated prefix is valid input.
TRUNC = BAD[1][0]
PREFIX_FIELDS = ("COMPLETE prefix", "ACCEPT PREFIX")

def text_quote(b):
    out = b'"'
    for ch in b:
        out += b"\\x%02x" % ch if ch < 0x20 or ch >= 0x7f or ch in b'"\\' else bytes([ch])
    return out + b'"'

def cmd_templates(v):
    """(field, argv) with the bad value v in one field."""
    return [
        ("COMPLETE prefix", [b"COMPLETE", v]),
        ("COMPLETE LIMIT", [b"COMPLETE", b"yah", b"LIMIT", v]),
        ("COMPLETE USER", [b"COMPLETE", b"yah", b"USER", v]),
        ("COMPLETE SESSION", [b"COMPLETE", b"yah", b"SESSION", v]),
        ("ADD query", [b"ADD", v, b"5"]),
        ("ADD score", [b"ADD", b"zzbad add", v]),
        ("INCR query", [b"INCR", v]),
        ("INCR n", [b"INCR", b"zzbad incr", v]),
        ("DEL query", [b"DEL", v]),
        ("GET query", [b"GET", v]),
        ("ACCEPT query", [b"ACCEPT", v]),
        ("ACCEPT USER", [b"ACCEPT", b"zzbad acc", b"USER", v]),
        ("ACCEPT SESSION", [b"ACCEPT", b"zzbad acc", b"SESSION", v]),
        ("ACCEPT PREFIX", [b"ACCEPT", b"zztrunc acc" if v == TRUNC else b"zzbad acc", b"PREFIX", v]),
        ("ACCEPT RANK", [b"ACCEPT", b"zzbad acc", b"RANK", v]),
        ("PING message", None),  # PING echoes any bytes: not a field of the index
    ]

def t_bad_bytes(srv):
    say("# NUL and invalid UTF-8 in every field: text (raw and \\x-escaped), RESP, HTTP query, form, JSON")
    keys0 = stat(srv.port, "keys")
    okcodes = rb"(UTF8|SYNTAX|ARGS)"
    # text and RESP: one connection each, every bad request followed by a PING (connection stays usable)
    for proto in ("text raw", "text escaped", "RESP"):
        s = dial(srv.port)
        bad = []
        n = 0
        for v, vname in BAD:
            for field, argv in cmd_templates(v):
                if argv is None:
                    continue
                if proto == "RESP":
                    req = b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)
                    req += b"*1\r\n$4\r\nPING\r\n"
                    want = rb"-ERR " + okcodes + rb" [^\r\n]*\r\n\+PONG\r\n"
                else:
                    if proto == "text raw":
                        req = b" ".join(a if a is v or b" " not in a else b'"' + a + b'"' for a in argv) + b"\r\nPING\r\n"
                    else:
                        req = b" ".join(text_quote(a) if a is v or b" " in a else a for a in argv) + b"\r\nPING\r\n"
                    want = rb"ERR " + okcodes + rb" [^\r\n]*\r\nOK PONG\r\n"
                if v == TRUNC and field in PREFIX_FIELDS:
                    want = rb"(OK|\*|\$)[^\r\n]*\r\n.*" + (rb"\+PONG\r\n" if proto == "RESP" else rb"OK PONG\r\n")
                s.sendall(req)
                pong = b"+PONG\r\n" if proto == "RESP" else b"OK PONG\r\n"
                buf, closed = read_until(s, lambda b: b.endswith(pong), 3)
                n += 1
                if not re.fullmatch(want, buf, re.S):
                    bad.append("%s %s: %r" % (field, vname, buf[:120]))
                if closed:
                    s.close(); s = dial(srv.port)
        s.close()
        check("%s: %d requests with a bad field answered ERR UTF8/SYNTAX/ARGS, connection usable" % (proto, n),
              not bad, "; ".join(bad[:30]) + (" ... %d in all" % len(bad) if len(bad) > 30 else ""))
    # HTTP: query parameters (percent-encoded and raw), form and JSON bodies
    def pct(b):
        return b"".join(b"%%%02X" % c for c in b)
    def jesc(b):
        return b.replace(b"\x00", b"\\u0000")
    hfields = [("complete", b"q"), ("complete", b"k"), ("complete", b"user"), ("complete", b"session"),
               ("accept", b"q"), ("accept", b"user"), ("accept", b"session"), ("accept", b"prefix"), ("accept", b"rank")]
    bad = []
    n = 0
    for v, vname in BAD:
        for ep, f in hfields:
            base = {b"q": b"yah" if ep == "complete" else b"zzbad http"}
            params = dict(base); params[f] = v
            qs_pct = b"&".join(k + b"=" + pct(x) for k, x in params.items())
            reqs = [("GET %s %s pct" % (ep, f.decode()),
                     b"GET /v1/%s?%s HTTP/1.1\r\nHost: t\r\n\r\n" % (ep.encode(), qs_pct))]
            if b"\x00" not in v:
                qs_raw = b"&".join(k + b"=" + x for k, x in params.items())
                reqs.append(("GET %s %s raw" % (ep, f.decode()),
                             b"GET /v1/%s?%s HTTP/1.1\r\nHost: t\r\n\r\n" % (ep.encode(), qs_raw)))
            if ep == "accept":
                body = qs_pct
                reqs.append(("POST form %s" % f.decode(),
                             b"POST /v1/accept HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body)))
                if f == b"rank":
                    jb = b'{"q":"zzbad http","rank":"' + jesc(v) + b'"}'
                else:
                    jb = b"{" + b",".join(b'"' + k + b'":"' + jesc(x) + b'"' for k, x in params.items()) + b"}"
                reqs.append(("POST json %s" % f.decode(),
                             b"POST /v1/accept HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(jb), jb)))
            for rname, raw in reqs:
                st, buf, closed = http_req(srv.hport, raw + b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                n += 1
                if not st or st[0] != b"400":
                    bad.append("%s %s: %r" % (rname, vname, buf[:100]))
    check("HTTP: %d requests with a bad parameter (query, form, JSON) answered 400" % n, not bad,
          "; ".join(bad[:30]) + (" ... %d in all" % len(bad) if len(bad) > 30 else ""))
    zz = text_cmd(srv.port, b"DEL \"zztrunc acc\"\r\n")
    check("bad bytes: ACCEPT with a truncated PREFIX stored its query (norm.h: incomplete last char dropped)",
          zz == b"OK 1\r\n", repr(zz))
    keys1 = stat(srv.port, "keys")
    check("bad bytes: no key added (keys %s -> %s)" % (keys0, keys1), keys0 == keys1 and keys0 is not None)
    zz = text_cmd(srv.port, b"COMPLETE zzbad LIMIT 5\r\n")
    check("bad bytes: nothing stored under the valid parts (COMPLETE zzbad)", zz == b"OK 0\r\n", repr(zz))
    healthy(srv, "after bad bytes")

# ---------------------------------------------------------------------------
def t_smuggling(srv):
    say("# HTTP smuggling: each 400 and closed; a request sent right after on the same connection is not answered")
    nxt = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    acc = lambda hdrs, body: b"POST /v1/accept HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n" + hdrs + b"\r\n" + body
    cases = [
        ("two equal Content-Length", acc(b"Content-Length: 8\r\nContent-Length: 8\r\n", b"q=zzsm01")),
        ("two different Content-Length", acc(b"Content-Length: 8\r\nContent-Length: 4\r\n", b"q=zzsm02")),
        ("Content-Length list 8, 8", acc(b"Content-Length: 8, 8\r\n", b"q=zzsm03")),
        ("chunked plus Content-Length", acc(b"Transfer-Encoding: chunked\r\nContent-Length: 13\r\n", b"8\r\nq=zzsm04\r\n0\r\n\r\n")),
        ("Content-Length plus chunked", acc(b"Content-Length: 13\r\nTransfer-Encoding: chunked\r\n", b"8\r\nq=zzsm05\r\n0\r\n\r\n")),
        ("Transfer-Encoding: chunked, identity", acc(b"Transfer-Encoding: chunked, identity\r\n", b"8\r\nq=zzsm06\r\n0\r\n\r\n")),
        ("Transfer-Encoding: identity, chunked", acc(b"Transfer-Encoding: identity, chunked\r\n", b"8\r\nq=zzsm07\r\n0\r\n\r\n")),
        ("Transfer-Encoding twice", acc(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"8\r\nq=zzsm08\r\n0\r\n\r\n")),
        ("Transfer-Encoding: xchunked", acc(b"Transfer-Encoding: xchunked\r\n", b"8\r\nq=zzsm09\r\n0\r\n\r\n")),
        ("Transfer-Encoding with a space before the colon", acc(b"Transfer-Encoding : chunked\r\nContent-Length: 13\r\n", b"8\r\nq=zzsm10\r\n0\r\n\r\n")),
        ("obs-fold header", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"),
        ("obs-fold of Content-Length", acc(b"X-A: a\r\n Content-Length: 8\r\n", b"q=zzsm11")),
        ("Content-Length: -8", acc(b"Content-Length: -8\r\n", b"q=zzsm12")),
        ("Content-Length: +8", acc(b"Content-Length: +8\r\n", b"q=zzsm13")),
        ("Content-Length: 0x8", acc(b"Content-Length: 0x8\r\n", b"q=zzsm14")),
        ("Content-Length overflowing", acc(b"Content-Length: 99999999999999999999999\r\n", b"q=zzsm15")),
        ("chunk size overflowing", acc(b"Transfer-Encoding: chunked\r\n", b"fffffffffffffffffffff\r\nq=zzsm16\r\n0\r\n\r\n")),
        ("bare CR in a header", b"GET /healthz HTTP/1.1\r\nHost: t\rX-A: b\r\n\r\n"),
        ("NUL in a header value", b"GET /healthz HTTP/1.1\r\nHost: t\x00\r\n\r\n"),
        ("space in a header name", b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent Length: 5\r\n\r\n"),
        ("HTTP/2.0 request line", b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n"),
    ]
    for name, raw in cases:
        st, buf, closed = http_req(srv.hport, raw + nxt, timeout=3)
        check("smuggling %s: %s, %s" % (name, b",".join(st).decode() or "no reply", "closed" if closed else "open"),
              st in ([b"400"], [b"505"]) and closed, repr(buf[:200]))
    # A bare LF as line end: RFC 9112 2.2 lets a recipient accept it. Either it is
    # refused (400, closed) or framing stays consistent: both requests answered.
    for name, raw in [("request line with a bare LF", b"GET /healthz HTTP/1.1\nHost: t\r\n\r\n"),
                      ("every line with a bare LF", b"GET /healthz HTTP/1.1\nHost: t\n\n")]:
        st, buf, closed = http_req(srv.hport, raw + nxt.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"), timeout=3)
        check("smuggling %s: %s" % (name, "refused (400, closed)" if st == [b"400"] else
                                    "accepted as a line end (RFC 9112 2.2), both requests answered" if st == [b"200", b"200"]
                                    else "inconsistent"),
              (st == [b"400"] and closed) or st == [b"200", b"200"], repr(buf[:300]))
    keys = text_cmd(srv.port, b"COMPLETE zzsm LIMIT 5\r\n")
    check("smuggling: no smuggled ACCEPT reached the index (COMPLETE zzsm)", keys == b"OK 0\r\n", repr(keys))
    # HTTP/1.0: without keep-alive one answer then close; with keep-alive consistent framing
    st, buf, closed = http_req(srv.hport, b"GET /healthz HTTP/1.0\r\n\r\n" + nxt, timeout=3)
    check("HTTP/1.0 without keep-alive: one answer, closed", st == [b"200"] and closed, repr(buf[:300]))
    st, buf, closed = http_req(srv.hport, b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + nxt, timeout=3)
    ka = re.search(rb"(?i)\r\nconnection: *keep-alive\r\n", buf.split(b"\r\n\r\n")[0] + b"\r\n") is not None
    check("HTTP/1.0 keep-alive: %s" % ("kept alive, next answered" if ka else "one answer, closed"),
          (ka and st == [b"200", b"200"]) or (not ka and st == [b"200"] and closed), repr(buf[:400]))
    healthy(srv, "after smuggling")

# ---------------------------------------------------------------------------
def t_never_reads(srv):
    say("# a client that pipelines HTTP GETs and never reads (output-soft-limit 256k, output-hard-limit 1m)")
    before = stat(srv.port, "closed_output_limit")
    s = dial(srv.hport)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    req = b"GET /v1/complete?q=a&k=100 HTTP/1.1\r\nHost: t\r\n\r\n" * 200
    sent, closed, t0, peak, blocked_since = 0, False, time.time(), 0, None
    while time.time() - t0 < 8:
        try:
            sent += s.send(req)
            blocked_since = None
        except BlockingIOError:
            blocked_since = blocked_since or time.time()
            if time.time() - blocked_since > 1.5:
                break
            time.sleep(0.01)
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
        peak = max(peak, srv.rss_kb())
    after = stat(srv.port, "closed_output_limit")
    if not closed:   # stopped reading us (soft limit) or closed: a read tells
        s.setblocking(True)
        try:
            _, closed = read_until(s, lambda b: False, 0.2)
        except OSError:
            pass
    s.close()
    grow = (peak - srv.base_rss) / 1024.0
    say("     sent %.1f MB of requests in %.1f s; closed_output_limit %s -> %s" % (sent / 1048576.0, time.time() - t0, before, after))
    # PROTOCOL.md: at output-soft-limit the client is no longer read (its sends
    # block), over output-hard-limit it is closed; which comes first depends on
    # how many requests one read delivers.
    stalled = blocked_since is not None and not closed
    check("HTTP never-reader: %s" % ("closed at the output hard limit" if after == before + 1 else
                                     "no longer read (sends blocked 1.5 s) at the output soft limit" if stalled else "neither"),
          after == before + 1 or (stalled and after == before), "closed_output_limit %s -> %s, closed %s" % (before, after, closed))
    check("HTTP never-reader: peak RSS +%.1f MB (bound %d MB)" % (grow, 32 * RSS_SCALE), grow < 32 * RSS_SCALE)
    healthy(srv, "after the HTTP never-reader")

# ---------------------------------------------------------------------------
def t_many(n=10000):
    say("# %d connections: RLIMIT_NOFILE raised for client and server, --max-clients %d" % (n, n))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 200
    if hard != resource.RLIM_INFINITY and hard < need:
        say("SKIP: %d connections: hard RLIMIT_NOFILE %d < %d" % (n, hard, need))
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else hard, hard))
    srv = Server("many", ["--max-clients", str(n), "--idle-timeout", "0"], nofile=(need + 64, hard))
    conns = []
    t0 = time.time()
    try:
        for i in range(n):
            conns.append(dial(srv.port, timeout=10))
    except OSError as e:
        check("%d connections opened" % n, False, "after %d: %r" % (len(conns), e))
    else:
        say("     opened %d connections in %.1f s" % (n, time.time() - t0))
    for s in conns:
        s.setblocking(False)
        s.send(b"PING\r\n")
    pending = {s.fileno(): [s, b""] for s in conns}
    ep = select.epoll()
    for s in conns:
        ep.register(s.fileno(), select.EPOLLIN)
    ok, end = 0, time.time() + 30
    while pending and time.time() < end:
        for fd, _ in ep.poll(1.0):
            ent = pending.get(fd)
            if not ent:
                continue
            try:
                d = ent[0].recv(64)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            ent[1] += d
            if not d or ent[1].endswith(b"\r\n"):
                ok += ent[1] == b"OK PONG\r\n"
                ep.unregister(fd)
                del pending[fd]
    ep.close()
    check("%d connections: PING answered on all (%d) in %.1f s" % (n, ok, time.time() - t0), ok == n == len(conns))
    one = dial(srv.port)
    buf, closed = read_all(one, 3)
    one.close()
    check("connection %d over --max-clients: %r, closed" % (n + 1, buf), buf == b"-ERR LIMIT max-clients reached\r\n" and closed)
    st, hbuf, closed = http_req(srv.hport, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", timeout=3)
    check("HTTP connection over --max-clients: 503, closed", st == [b"503"] and closed, repr(hbuf[:200]))
    rss = srv.rss_kb()
    say("     RSS with %d clients: %d KB (%.1f KB per connection over baseline)" % (n, rss, (rss - srv.base_rss) / float(n)))
    for s in conns:
        s.close()
    time.sleep(0.5)
    check("%d connections: all closed again (connections_current %s)" % (n, stat(srv.port, "connections_current")),
          stat(srv.port, "connections_current") == 1)
    healthy(srv, "after %d connections" % n, rss_bound_mb=64)
    srv.stop()

def t_low_nofile():
    say("# RLIMIT_NOFILE below --max-clients: qac must raise its limit, or refuse with a clear message")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for lim, label in ((256, "soft 256, hard %d" % hard), (256, "soft = hard = 256")):
        nf = (lim, hard) if "hard %d" % hard in label else (lim, lim)
        srv = Server("nofile%d" % nf[1], ["--max-clients", "10000"], nofile=nf, wait=False)
        t0 = time.time()
        up = False
        while time.time() - t0 < 10 and srv.p.poll() is None:
            try:
                up = text_cmd(srv.port, b"PING\r\n", timeout=1) == b"OK PONG\r\n"
            except OSError:
                pass
            if up:
                break
            time.sleep(0.05)
        if not up:
            log = srv.logtext()
            check("%s: refused at start with a clear message" % label,
                  srv.p.poll() not in (None, 0) and re.search(r"(?i)(open files|RLIMIT_NOFILE|max-clients|file descriptors)", log),
                  "exit %s, log %r" % (srv.p.poll(), log[-300:]))
            srv.stop()
            continue
        got = srv.nofile_soft()
        if got >= 10000 + 32:
            check("%s: qac raised its RLIMIT_NOFILE to %d" % (label, got), True)
            srv.stop()
            continue
        # neither raised nor refused: do connections past the fd limit get a clear refusal?
        conns, answers = [], {"pong": 0, "limit": 0, "dropped": 0, "hang": 0}
        for i in range(400):
            try:
                conns.append(dial(srv.port, timeout=3))
            except OSError:
                answers["dropped"] += 1
        for s in conns:
            try:
                s.sendall(b"PING\r\n")
            except OSError:
                pass
        for s in conns:
            buf, closed = read_until(s, lambda b: b.endswith(b"\r\n"), 1)
            if buf == b"OK PONG\r\n":
                answers["pong"] += 1
            elif buf.startswith(b"-ERR LIMIT"):
                answers["limit"] += 1
            elif closed:
                answers["dropped"] += 1
            else:
                answers["hang"] += 1
            s.close()
        log = srv.logtext()
        check("%s: RLIMIT_NOFILE stays %d (not raised) and the server started; 400 clients: %s" % (label, got, answers),
              answers["dropped"] == 0 and answers["hang"] == 0,
              "connections past the fd limit are dropped or left hanging without a reply; log: %r" %
              (log.strip().splitlines()[-1:] if log.strip() else ""))
        srv.stop()

# ---------------------------------------------------------------------------
def t_sigterm():
    say("# SIGTERM under load: 20 clients with 200 pipelined COMPLETEs each (unread); all replies arrive, exit 0")
    srv = Server("term", ["--idle-timeout", "0"])
    conns = []
    for _ in range(20):   # a small receive buffer keeps the replies in the server's output queue
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", srv.port))
        conns.append(s)
    req = b"".join(b"COMPLETE %s LIMIT 100\r\n" % p for p in [b"a", b"b", b"s", b"t"] * 50)
    base = stat(srv.port, "commands_total") or 0
    for s in conns:
        s.sendall(req)
    end = time.time() + 10
    while time.time() < end and (stat(srv.port, "commands_total") or 0) < base + 4000:
        time.sleep(0.02)
    srv.p.send_signal(signal.SIGTERM)
    t0 = time.time()
    complete, got = 0, 0
    for s in conns:
        buf, closed = read_all(s, 8)
        got += len(buf)
        # count replies: each is "OK n" then n lines
        lines = buf.split(b"\r\n")
        i, nrep = 0, 0
        while i < len(lines):
            m = re.fullmatch(rb"OK (\d+)", lines[i])
            if not m:
                break
            i += 1 + int(m.group(1)); nrep += 1
        if nrep == 200 and closed and i == len(lines) - 1:
            complete += 1
        s.close()
    try:
        rc = srv.p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    check("SIGTERM: all 20 x 200 replies delivered before close (%d clients complete, %.1f s; %.1f MB of replies)"
          % (complete, time.time() - t0, got / 1048576.0),
          complete == 20)
    check("SIGTERM: exit status 0", rc == 0, "exit %s; log %r" % (rc, srv.logtext()[-500:]))
    try:
        dial(srv.port, timeout=1).close()
        refused = False
    except OSError:
        refused = True
    check("SIGTERM: port closed afterwards", refused)

# ---------------------------------------------------------------------------
t_start = time.time()
try:
    main = Server("main", ["--idle-timeout", "2", "--output-soft-limit", "256k", "--output-hard-limit", "1m"])
    if not check("server started on the demo index", main.p.poll() is None and main.base_rss > 0, main.logtext()[-500:]):
        sys.exit(1)
    say("     baseline RSS %d KB%s" % (main.base_rss, " (ASan build: RSS bounds x%d)" % RSS_SCALE if ASAN else ""))
    only = os.environ.get("FAULTS_ONLY", "")
    for name, fn in [("slowloris", lambda: t_slowloris(main)), ("hundred", lambda: t_hundred_mb(main)),
                     ("resp", lambda: t_resp(main)), ("bytes", lambda: t_bad_bytes(main)),
                     ("smuggling", lambda: t_smuggling(main)), ("reader", lambda: t_never_reads(main)),
                     ("many", t_many), ("nofile", t_low_nofile), ("sigterm", t_sigterm)]:
        if only and name not in only.split(","):
            continue
        t0 = time.time()
        fn()
        say("     (%s: %.1f s)" % (name, time.time() - t0))
    rc = main.stop()
    check("main server: SIGTERM exit status 0", rc == 0, "exit %s" % rc)
    for sv in servers:
        sv.stop()
        m = re.search(r"(runtime error|Sanitizer)[^\n]*", sv.logtext())
        check("server %s: no sanitizer report in its log" % sv.name, m is None, m.group(0) if m else "")
finally:
    for s in servers:
        if s.p.poll() is None:
            s.p.kill(); s.p.wait()
say("%d failed, %.0f s" % (fails, time.time() - t_start))
sys.exit(1 if fails else 0)
PY
