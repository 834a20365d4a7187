#!/usr/bin/env python3
"""tests/e2e/mock_qac.py -- a stand-in for qac's HTTP API, for working on the page without the server.

    python3 tests/e2e/mock_qac.py PORT QUERIES.tsv     (lines: display<TAB>score, as `qac complete` prints)

Not used by tests/it_web_e2e.sh, which always runs the real qac. Implements the subset the page uses:
GET /v1/complete?q=&k=&user=&session= (case-insensitive prefix match over the file, best score first,
match = UTF-8 byte range), POST|GET /v1/accept (counted), GET /v1/stats ({"commands":{...}}), /healthz.
MOCK_SLOW_MS=N delays each completion by N ms per character *missing* from a 10-character prefix, so
short (older) prefixes answer after long (newer) ones: the page must not let them overwrite the list.
"""
import json
import os
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

QUERIES = []
COUNTS = {"complete": 0, "accept": 0}
SLOW_MS = int(os.environ.get("MOCK_SLOW_MS", "0"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        body = (json.dumps(obj, ensure_ascii=False) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def params(self):
        u = urllib.parse.urlsplit(self.path)
        p = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        if self.command == "POST":
            n = int(self.headers.get("Content-Length") or 0)
            p.update(urllib.parse.parse_qsl(self.rfile.read(n).decode(), keep_blank_values=True))
        return u.path, p

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def route(self):
        path, p = self.params()
        if path == "/v1/complete":
            t0 = time.perf_counter()
            COUNTS["complete"] += 1
            q = p.get("q", "")
            k = int(p.get("k", "10") or 10)
            pl = q.casefold()
            out = []
            for text, score in QUERIES:
                if text.casefold().startswith(pl):
                    end = len(text[: len(q)].encode())
                    out.append({"text": text, "score": score, "match": [0, end]})
                    if len(out) == k:
                        break
            if SLOW_MS:
                time.sleep(max(0, 10 - len(q)) * SLOW_MS / 1000)
            took = int((time.perf_counter() - t0) * 1e6)
            self.reply(200, {"prefix": q, "suggestions": out, "took_us": took})
        elif path == "/v1/accept":
            if not p.get("q"):
                return self.reply(400, {"error": {"code": "args", "message": "missing q"}})
            COUNTS["accept"] += 1
            self.reply(200, {"ok": True})
        elif path == "/v1/stats":
            self.reply(200, {"commands": dict(COUNTS)})
        elif path == "/healthz":
            self.reply(200, {"status": "ok"})
        else:
            self.reply(404, {"error": {"code": "not_found", "message": "no such path"}})


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    with open(path, encoding="utf-8") as f:
        for line in f:
            text, _, score = line.rstrip("\n").partition("\t")
            if text:
                QUERIES.append((text, float(score or 1)))
    QUERIES.sort(key=lambda x: -x[1])
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
