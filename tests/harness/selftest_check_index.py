#!/usr/bin/env python3
"""selftest_check_index.py - tests of tests/e2e-sync/check_index.py against a
stub search server (loopback, standard library): numbers are compared by
their text, an empty comparison fails, a missing or an extra document fails,
and a faithful index passes. Prints TAP lines (plan first)."""
import http.server
import json
import os
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "..", "e2e-sync", "check_index.py")
DOCS = []  # (id, source text) served by the stub


class Stub(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, body):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "/_search/scroll" in self.path:
            self.reply('{"hits":{"hits":[]}}')
        elif "/_search" in self.path:
            hits = ",".join('{"_id":%s,"_source":%s}' % (json.dumps(i), s) for i, s in DOCS)
            self.reply('{"_scroll_id":"s1","hits":{"hits":[%s]}}' % hits)
        else:
            self.reply("{}")

    def do_GET(self):
        self.reply('{"count":%d}' % len(DOCS))

    def do_DELETE(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply("{}")


def run(rows, docs, name, extra=()):
    DOCS[:] = docs
    cmd = "printf '%s'" % "".join(r + "\\n" for r in rows)
    out = subprocess.run([sys.executable, CHECK, "--es", URL, "--index", "ix", "--rows-cmd", cmd,
                          "--id", "{id}", "--name", name, *extra], capture_output=True,
                         text=True).stdout
    return out


CASES = [
    # rows (JSON lines), documents (id, _source), the checker must say ok?, options
    ("same numbers, same text", ['{"id":1,"p":12.50}'], [("1", '{"id":1,"p":12.50}')], True),
    ("12.50 and 12.5 differ", ['{"id":1,"p":12.50}'], [("1", '{"id":1,"p":12.5}')], False),
    ("1 and 1.0 differ", ['{"id":1,"p":1}'], [("1", '{"id":1,"p":1.0}')], False),
    ("a number and its string differ", ['{"id":1,"p":5}'], [("1", '{"id":1,"p":"5"}')], False),
    ("0 rows and 0 documents fail", [], [], False),
    ("rows but no document fail", ['{"id":1}'], [], False),
    ("no row but documents fail", [], [("1", '{"id":1}')], False),
    ("an extra document fails", ['{"id":1}'], [("1", '{"id":1}'), ("2", '{"id":2}')], False),
    ("a timestamp compared as an instant", ['{"id":1,"t":"2024-01-02T03:04:05+00:00"}'],
     [("1", '{"id":1,"t":"2024-01-02T03:04:05Z"}')], True),
    ("--float: 34 and 34.0 are one double", ['{"id":1,"r":34}'], [("1", '{"id":1,"r":34.0}')],
     True, ["--float", "r"]),
    ("--float: 0.1 and 0.10000001 differ", ['{"id":1,"r":0.1}'], [("1", '{"id":1,"r":0.10000001}')],
     False, ["--float", "r"]),
]

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
URL = "http://127.0.0.1:%d" % srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()
print("1..%d" % len(CASES))
for name, rows, docs, want_ok, *extra in CASES:
    out = run(rows, docs, name, extra[0] if extra else ())
    said_ok = out.startswith("ok - ")
    if said_ok == want_ok and (out.startswith("ok - ") or out.startswith("not ok - ")):
        print("ok - check_index: %s" % name)
    else:
        print("not ok - check_index: %s (want %s)" % (name, "ok" if want_ok else "not ok"))
        print("".join("#   " + l + "\n" for l in out.splitlines()), end="")
srv.shutdown()
