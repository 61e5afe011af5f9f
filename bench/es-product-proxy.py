#!/usr/bin/env python3
"""es-product-proxy.py - lets Elastic's Python connector service (elasticsearch-py 8.x)
talk to an OpenSearch node, for benchmarks only: loopback, standard library.

  es-product-proxy.py --upstream http://127.0.0.1:9200 --port 0

elasticsearch-py refuses an answer without `X-Elastic-Product: Elasticsearch` and
sends `application/vnd.elasticsearch+json; compatible-with=8` media types, which
OpenSearch answers with 406. The proxy rewrites those media types to plain JSON /
NDJSON on the way in, adds the product header on the way out, and answers GET /
with the node's banner where version.number reads 8.18.0 (the service still needs
ALLOW_ES_VERSION_MISMATCH=true for its own version check). Prints `PROXY URL`.
"""
import argparse, http.client, http.server, json, socketserver, sys, urllib.parse


def fix_type(v):
    if v and "vnd.elasticsearch+" in v:
        return "application/x-ndjson" if "x-ndjson" in v else "application/json"
    return v


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        hdrs = {k: fix_type(v) if k.lower() in ("accept", "content-type") else v
                for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c = http.client.HTTPConnection(self.server.up.hostname, self.server.up.port, timeout=300)
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        if self.command == "GET" and self.path.split("?")[0] == "/" and r.status == 200:
            j = json.loads(data)
            j.setdefault("version", {})["number"] = "8.18.0"
            j["version"].pop("distribution", None)
            j["version"]["build_flavor"] = "default"
            j["tagline"] = "You Know, for Search"
            data = json.dumps(j).encode()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            self.send_header(k, v)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        c.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    s = S(("127.0.0.1", a.port), H)
    s.up = urllib.parse.urlparse(a.upstream)
    print(f"PROXY http://127.0.0.1:{s.server_address[1]}", flush=True)
    s.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
