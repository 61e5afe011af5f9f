#!/usr/bin/env python3
"""latency_proxy.py - a loopback TCP proxy that adds a round-trip time.

The machine's kernel has no netem, so the benchmarks build the latency of a
real network here: every byte is held for half the round trip in each
direction, in order (a timestamped queue per direction, read and written by
their own threads: a burst in one direction never waits for the other, and
many requests can be on the wire at once, as on a real link).

  latency_proxy.py --upstream HOST:PORT [--rtt-ms 20] [--listen-port 0]
                   [--stats FILE] [--reset-after-bytes N] [--max-seconds 3600]

When ready it prints `PROXY 127.0.0.1:PORT` on stdout. --stats FILE gets a JSON
object after every closed connection and at exit: connections, bytes each way,
and `bursts`: how many times data started flowing from the client after the
server had spoken (a request sent after an answer was read; with one request
in flight at a time that is the number of round trips; pipelined requests
sent while answers stream back count once each), and `max_open`: the most
connections open at once (a connection closes once both directions drained). --reset-after-bytes N resets
(TCP RST) the first connection once N bytes went from the server to the
client: a connection lost in the middle of a result, for tests.

Benchmark and test infrastructure, standard library only, loopback only.
"""
import argparse
import collections
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

CHUNK = 262144


class Stats:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.d = {"connections": 0, "closed": 0, "bytes_up": 0, "bytes_down": 0, "bursts": 0,
                  "max_open": 0}

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                self.d[k] += v
            self.d["max_open"] = max(self.d["max_open"], self.d["connections"] - self.d["closed"])

    def write(self):
        if not self.path:
            return
        with self.lock:
            text = json.dumps(self.d)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, self.path)


class Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy, client, upstream, reset_after):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.last = None          # direction of the latest data: "up" or "down"
        self.lock = threading.Lock()
        self.reset_after = reset_after
        self.down_bytes = 0
        self.closed = False
        self.pending = 2

    def close(self, reset=False):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.upstream):
            try:
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                # wakes the thread blocked reading it (close alone would not
                # end the connection while a recv holds the socket)
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def pump(self, src, dst, direction):
        """Reader: timestamps chunks into a queue; writer thread delivers them."""
        q = collections.deque()
        cv = threading.Condition()
        done = [False]
        delay = self.proxy.delay

        def writer():
            while True:
                with cv:
                    while not q and not done[0]:
                        cv.wait()
                    if not q:
                        break
                    due, data = q.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if data is None:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    break
                try:
                    dst.sendall(data)
                except OSError:
                    break
                if direction == "down" and self.reset_after is not None:
                    self.down_bytes += len(data)
                    if self.down_bytes >= self.reset_after:
                        self.proxy.resets += 1
                        self.close(reset=True)
                        break
            self.finish()

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        stats = self.proxy.stats
        while True:
            try:
                data = src.recv(CHUNK)
            except OSError:
                data = b""
            now = time.monotonic()
            if data:
                with self.lock:
                    burst = direction == "up" and self.last != "up"
                    self.last = direction
                if direction == "up":
                    stats.add(bytes_up=len(data), bursts=1 if burst else 0)
                else:
                    stats.add(bytes_down=len(data))
            with cv:
                q.append((now + delay, data if data else None))
                cv.notify()
            if not data:
                break
        with cv:
            done[0] = True
            cv.notify()

    def finish(self):
        with self.lock:
            self.pending -= 1
            last = self.pending == 0
        if last:
            self.close()
            self.proxy.stats.add(closed=1)
            self.proxy.stats.write()


class Proxy:
    def __init__(self, args):
        self.delay = args.rtt_ms / 2000.0
        host, port = args.upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.stats = Stats(args.stats)
        self.reset_after = args.reset_after_bytes
        self.resets = 0

    def serve(self, port):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(256)
        print("PROXY 127.0.0.1:%d" % ls.getsockname()[1], flush=True)
        while True:
            client, _ = ls.accept()
            threading.Thread(target=self.accept, args=(client,), daemon=True).start()

    def accept(self, client):
        try:
            up = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        for s in (client, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stats.add(connections=1)
        reset = None
        if self.reset_after is not None and self.stats.d["connections"] == 1:
            reset = self.reset_after
        link = Link(self, client, up, reset)
        threading.Thread(target=link.pump, args=(up, client, "down"), daemon=True).start()
        link.pump(client, up, "up")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--rtt-ms", type=float, default=20.0)
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--stats")
    ap.add_argument("--reset-after-bytes", type=int)
    ap.add_argument("--max-seconds", type=float, default=3600)
    args = ap.parse_args()
    proxy = Proxy(args)

    def stop(*_):
        try:
            proxy.stats.write()
        except OSError:
            pass  # the stats file's directory is gone: exit all the same
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(args.max_seconds, stop)
    timer.daemon = True
    timer.start()
    proxy.stats.write()
    proxy.serve(args.listen_port)


if __name__ == "__main__":
    sys.exit(main())
