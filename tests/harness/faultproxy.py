#!/usr/bin/env python3
"""faultproxy.py - a loopback HTTP/1.1 reverse proxy in front of the test
OpenSearch node that injects the faults a bulk sink must survive: 429 and 503
answers, connections reset without an answer, per-item 429 rejections inside
an otherwise successful `_bulk` reply, reply items that answer another
operation or another _id than the one sent, a scroll that never ends, the
GET / banner of another product, and a required authentication header (the
test node has no security plugin). It counts requests and the most it had in
flight at once.

Test infrastructure for the bulk sink stage (documents -> _bulk); it does not
parse or change request bodies (gzip bodies pass through unchanged) and it
is not a general-purpose proxy: loopback only, standard library only.

  faultproxy.py --upstream http://127.0.0.1:9200 [--listen-port 0]
                [--rate-429 F] [--fail-503 F] [--reset F] [--reset-after F]
                [--item-reject F] [--item-reject-limit N] [--swap-op F] [--swap-id F] [--endless-scroll]
                [--banner JSON] [--banner-header 'X-elastic-product: Elasticsearch']
                [--seed N] [--fault-paths REGEX]
                [--require-header 'Authorization: ApiKey xyz'] [--hold-file PATH]
                [--log FILE] [--max-seconds 600]
                [--tls-cert server.pem --tls-key server.key]

F is a fraction in [0, 1]. Faults apply to requests whose path (without the
query) matches --fault-paths (default: `_bulk` requests only); the decisions
come from one random generator seeded by --seed, so a single client sees the
same sequence on every run. --reset closes the client connection abruptly
(TCP RST) without forwarding; --reset-after forwards first (the documents are
indexed) and then resets. --item-reject rewrites that fraction of successful
items of a forwarded `_bulk` reply into status 429
es_rejected_execution_exception items and sets `errors: true` (re-sending an
index action is idempotent, so indexing upstream is fine); with
--item-reject-limit N no item (same _index and _id) is rejected more than N
times in a row, so a client retrying an item more than N times must succeed
(without it a seeded run can reject one item past any retry limit: a client
makes about the same number of draws each run, so its last retries, a few
items in small requests, fall on the same stretch of the seed's sequence every
time, and seed 7 has many low values there). --swap-op
rewrites that fraction of successful items into `{"delete":{"status":404,
"result":"not_found"}}` answers (another operation than the one sent);
--swap-id gives that fraction of successful items another `_id`.
--endless-scroll answers every POST /_search/scroll itself with a full page of
new ids (a scroll that never ends); --banner answers GET / itself with that
JSON (plus --banner-header when given), as a product that is not the node.
--hold-file makes faultable requests wait while the file exists: a cluster
paused at a chosen moment (the test removes the file to let them through).

With --tls-cert/--tls-key the proxy speaks HTTPS to its clients (the test
node itself has no TLS); a client that refuses the certificate only ends its
own connection. When ready it prints `PROXY http://127.0.0.1:PORT` (https
with TLS) on stdout. GET
/_faultproxy/stats is answered by the proxy itself with its counters (JSON):
requests, forwarded, per fault, `bulk_requests`, and `max_in_flight` (the
most faultable requests it was handling at once).
It exits by itself after --max-seconds, and on SIGTERM/SIGINT.
"""
import argparse
import gzip
import http.client
import http.server
import json
import os
import random
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect",
              "content-length", "host"}
LOGGED_HEADERS = ("content-type", "content-encoding", "accept-encoding", "authorization",
                  "user-agent", "x-opaque-id", "expect", "transfer-encoding")
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}


def fraction(text):
    v = float(text)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("a fraction must be between 0 and 1")
    return v


def mask(name, value):
    """Hides secrets: keeps an Authorization scheme, masks the credentials."""
    if name not in SECRET_HEADERS:
        return value
    if name in ("authorization", "proxy-authorization") and " " in value:
        return value.split(" ", 1)[0] + " ****"
    return "****"


class State:
    """Options, the seeded generator, the counters and the log, shared by threads."""

    def __init__(self, opts):
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "fault_requests": 0, "forwarded": 0, "429": 0,
                      "503": 0, "reset": 0, "reset_after": 0, "401": 0,
                      "items": 0, "rejected_items": 0, "upstream_errors": 0,
                      "swapped_ops": 0, "swapped_ids": 0, "scroll_pages": 0,
                      "banners": 0, "bulk_requests": 0, "in_flight": 0,
                      "max_in_flight": 0, "held": 0}
        self.scroll_seq = 0
        self.rejected_in_a_row = {}  # (_index, _id) -> rejections since its last success
        self.log = open(opts.log, "a", encoding="utf-8") if opts.log else None
        up = urllib.parse.urlsplit(opts.upstream)
        if up.scheme != "http" or not up.hostname:
            raise SystemExit("faultproxy: --upstream must be http://HOST:PORT")
        self.up_host = up.hostname
        self.up_port = up.port or 80
        self.up_prefix = up.path.rstrip("/")
        self.fault_re = re.compile(opts.fault_paths)
        self.req_name = self.req_value = None
        if opts.require_header:
            name, sep, value = opts.require_header.partition(":")
            if not sep or not name.strip():
                raise SystemExit("faultproxy: --require-header wants 'Name: value'")
            self.req_name, self.req_value = name.strip(), value.strip()

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def decide(self):
        """One draw per faultable request: 'reset', '503', '429', 'reset_after' or None."""
        o = self.opts
        with self.lock:
            u = self.rng.random()
        edge = 0.0
        for name, p in (("reset", o.reset), ("503", o.fail_503), ("429", o.rate_429),
                        ("reset_after", o.reset_after)):
            edge += p
            if u < edge:
                return name
        return None

    def reject_item(self, key):
        """One draw for a successful item; with --item-reject-limit N an item
        rejected N times in a row passes the next time (a sender retrying an
        item more than N times then never has to give up on it)."""
        with self.lock:
            limit = self.opts.item_reject_limit
            n = self.rejected_in_a_row.get(key, 0)
            if limit and n >= limit:
                self.rejected_in_a_row.pop(key, None)
                return False
            if self.rng.random() < self.opts.item_reject:
                self.rejected_in_a_row[key] = n + 1
                return True
            self.rejected_in_a_row.pop(key, None)
            return False

    def draw(self, p):
        if p <= 0:
            return False
        with self.lock:
            return self.rng.random() < p

    def enter(self):
        with self.lock:
            self.stats["in_flight"] += 1
            if self.stats["in_flight"] > self.stats["max_in_flight"]:
                self.stats["max_in_flight"] = self.stats["in_flight"]

    def leave(self):
        with self.lock:
            self.stats["in_flight"] -= 1

    def write_log(self, entry):
        if not self.log:
            return
        line = json.dumps(entry, separators=(",", ":"), sort_keys=True)
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()


def json_error(status, etype, reason):
    return json.dumps({"error": {"root_cause": [{"type": etype, "reason": reason}],
                                 "type": etype, "reason": reason},
                       "status": status}).encode()


def rewrite_items(state, body, encoding):
    """Turns a fraction of successful _bulk items into 429 rejections.
    Returns (new body, items, rejected); the body is unchanged when nothing was."""
    raw = gzip.decompress(body) if encoding == "gzip" else body
    try:
        doc = json.loads(raw)
    except ValueError:
        return body, 0, 0
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return body, 0, 0
    rejected = swapped_op = swapped_id = 0
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        action, res = next(iter(item.items()))
        if not isinstance(res, dict) or not 200 <= int(res.get("status", 0)) < 300:
            continue
        if state.draw(state.opts.swap_op):
            item.clear()
            item["delete"] = {k: res[k] for k in ("_index", "_id") if k in res}
            item["delete"].update({"status": 404, "result": "not_found"})
            swapped_op += 1
            continue
        if state.draw(state.opts.swap_id) and "_id" in res:
            res["_id"] = str(res["_id"]) + "-other"
            swapped_id += 1
            continue
        if not state.reject_item((res.get("_index"), res.get("_id"))):
            continue
        new = {k: res[k] for k in ("_index", "_id") if k in res}
        new["status"] = 429
        new["error"] = {"type": "es_rejected_execution_exception",
                        "reason": "rejected execution of coordinating operation "
                                  "[injected by faultproxy]"}
        item[action] = new
        rejected += 1
    state.count("swapped_ops", swapped_op)
    state.count("swapped_ids", swapped_id)
    if rejected + swapped_op + swapped_id == 0:
        return body, len(items), 0
    if rejected:
        doc["errors"] = True
    out = json.dumps(doc, separators=(",", ":")).encode()
    if encoding == "gzip":
        out = gzip.compress(out)
    return out, len(items), rejected


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultproxy"
    sys_version = ""

    def version_string(self):
        return "faultproxy"
    upstream = None  # per connection (one handler instance per client connection)

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("client closed inside a chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body, headers=(), reason=None):
        self.send_response(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def reset(self):
        """Closes the client connection with a TCP RST and no answer."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def forward(self, body):
        """Sends the request upstream; returns (status, reason, headers, body)."""
        st = self.server.state
        headers = {}
        for k, v in self.headers.items():
            if k.lower() not in HOP_BY_HOP:
                headers[k] = v
        headers["Host"] = "%s:%d" % (st.up_host, st.up_port)
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        for attempt in (0, 1):
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(st.up_host, st.up_port, timeout=300)
            try:
                self.upstream.request(self.command, st.up_prefix + self.path,
                                      body=body or None, headers=headers)
                resp = self.upstream.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.upstream.close()
                    self.upstream = None
                return resp.status, resp.reason, resp.getheaders(), data
            except (ConnectionError, http.client.HTTPException, OSError):
                if self.upstream is not None:
                    self.upstream.close()
                    self.upstream = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def handle_any(self):
        st = self.server.state
        st.count("requests")
        t0 = time.time()
        entry = {"t": round(t0, 3), "method": self.command, "path": self.path,
                 "headers": {h: mask(h, self.headers[h]) for h in LOGGED_HEADERS
                             if self.headers.get(h) is not None}}
        fault = None
        status = 0
        entered = False
        try:
            body = self.read_body()
        except (ConnectionError, ValueError, OSError):
            self.close_connection = True
            return
        entry["req_bytes"] = len(body)
        path_only = urllib.parse.urlsplit(self.path).path
        try:
            if self.command == "GET" and path_only == "/_faultproxy/stats":
                with st.lock:
                    data = json.dumps(st.stats).encode()
                status = 200
                self.send(200, data, [("Content-Type", "application/json")])
                return
            if (st.opts.banner is not None and self.command in ("GET", "HEAD")
                    and path_only == "/"):
                st.count("banners")
                status = 200
                extra = []
                if st.opts.banner_header:
                    name, _, value = st.opts.banner_header.partition(":")
                    extra.append((name.strip(), value.strip()))
                self.send(200, st.opts.banner.encode(),
                          [("Content-Type", "application/json")] + extra)
                return
            if st.opts.endless_scroll and path_only == "/_search/scroll":
                status = 200
                if self.command == "DELETE":
                    self.send(200, b'{"succeeded":true,"num_freed":1}',
                              [("Content-Type", "application/json")])
                    return
                with st.lock:
                    st.scroll_seq += 1
                    page = st.scroll_seq
                st.count("scroll_pages")
                hits = [{"_id": "endless-%d-%d" % (page, i)} for i in range(100)]
                self.send(200, json.dumps({"_scroll_id": "endless-scroll",
                                           "hits": {"hits": hits}}).encode(),
                          [("Content-Type", "application/json")])
                return
            if st.req_name is not None and self.headers.get(st.req_name) != st.req_value:
                fault, status = "401", 401
                st.count("401")
                self.send(401, json_error(401, "security_exception",
                                          "missing authentication credentials for REST request"),
                          [("Content-Type", "application/json"),
                           ("WWW-Authenticate", 'ApiKey realm="faultproxy"')])
                return
            faultable = bool(st.fault_re.search(path_only))
            if faultable and st.opts.hold_file and os.path.exists(st.opts.hold_file):
                # a paused cluster: the request waits until the file is removed
                st.count("held")
                while os.path.exists(st.opts.hold_file) and time.time() - t0 < st.opts.max_seconds:
                    time.sleep(0.05)
            if path_only.endswith("/_bulk"):
                st.count("bulk_requests")
            if faultable:
                st.count("fault_requests")
                st.enter()
                entered = True
                fault = st.decide()
            if fault == "reset":
                st.count("reset")
                self.reset()
                return
            if fault == "503":
                status = 503
                st.count("503")
                self.send(503, json_error(503, "unavailable_shards_exception",
                                          "injected by faultproxy"),
                          [("Content-Type", "application/json")])
                return
            if fault == "429":
                status = 429
                st.count("429")
                self.send(429, json_error(429, "es_rejected_execution_exception",
                                          "rejected execution [injected by faultproxy]"),
                          [("Content-Type", "application/json")])
                return
            try:
                status, reason, headers, data = self.forward(body)
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                st.count("upstream_errors")
                status = 502
                entry["error"] = str(e)
                self.send(502, json_error(502, "bad_gateway", "faultproxy: upstream: %s" % e),
                          [("Content-Type", "application/json")])
                return
            st.count("forwarded")
            if fault == "reset_after":
                st.count("reset_after")
                self.reset()
                return
            enc = ""
            for k, v in headers:
                if k.lower() == "content-encoding":
                    enc = v.strip().lower()
            item_faults = st.opts.item_reject + st.opts.swap_op + st.opts.swap_id
            if (faultable and item_faults > 0 and status == 200
                    and path_only.endswith("/_bulk") and enc in ("", "gzip")):
                data, n, rej = rewrite_items(st, data, enc)
                entry["items"], entry["rejected_items"] = n, rej
                st.count("items", n)
                st.count("rejected_items", rej)
                if rej:
                    fault = "items"
            out_headers = [(k, v) for k, v in headers
                           if k.lower() not in HOP_BY_HOP]
            if self.command == "HEAD":
                # keep upstream's Content-Length for HEAD (no body follows)
                self.send_response(status, reason)
                for k, v in headers:
                    if k.lower() not in HOP_BY_HOP or k.lower() == "content-length":
                        self.send_header(k, v)
                self.end_headers()
                self.wfile.flush()
            else:
                self.send(status, data, out_headers, reason)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if entered:
                st.leave()
            entry["status"] = status
            entry["fault"] = fault
            entry["ms"] = round((time.time() - t0) * 1000, 1)
            st.write_log(entry)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # client went away: nothing to report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--rate-429", type=fraction, default=0.0)
    ap.add_argument("--fail-503", type=fraction, default=0.0)
    ap.add_argument("--reset", type=fraction, default=0.0)
    ap.add_argument("--reset-after", type=fraction, default=0.0)
    ap.add_argument("--item-reject", type=fraction, default=0.0)
    ap.add_argument("--item-reject-limit", type=int, default=0,
                    help="reject one item at most this many times in a row (0: no limit)")
    ap.add_argument("--swap-op", type=fraction, default=0.0,
                    help="fraction of successful _bulk items answered as another operation")
    ap.add_argument("--swap-id", type=fraction, default=0.0,
                    help="fraction of successful _bulk items answered with another _id")
    ap.add_argument("--endless-scroll", action="store_true",
                    help="answer every scroll request with a full page of new ids")
    ap.add_argument("--banner", default=None, help="answer GET / with this JSON")
    ap.add_argument("--banner-header", default=None, help="... and this 'Name: value' header")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fault-paths", default=r"(^|/)_bulk$",
                    help="regex on the request path selecting faultable requests")
    ap.add_argument("--require-header", default=None)
    ap.add_argument("--hold-file", default=None,
                    help="while this file exists, faultable requests wait (counted as 'held')")
    ap.add_argument("--log", default=None)
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--tls-cert", default=None, help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", default=None, help="... and this private key (PEM)")
    opts = ap.parse_args()
    if bool(opts.tls_cert) != bool(opts.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if opts.rate_429 + opts.fail_503 + opts.reset + opts.reset_after > 1.0 + 1e-9:
        ap.error("--rate-429 + --fail-503 + --reset + --reset-after must not exceed 1")

    server = Server(("127.0.0.1", opts.listen_port), Handler)
    server.state = State(opts)
    scheme = "http"
    if opts.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if opts.max_seconds > 0:
        timer = threading.Timer(opts.max_seconds, stop)
        timer.daemon = True
        timer.start()
    sys.stdout.write("PROXY %s://127.0.0.1:%d\n" % (scheme, server.server_address[1]))
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if server.state.log:
            server.state.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
