#!/usr/bin/env python3
"""wireproxy.py - a loopback TCP proxy in front of the test PostgreSQL or
MariaDB server that understands the framing of their wire protocols and
injects the faults a driver must survive: the connection lost after the N-th
message of the server or of the client (counted over all connections of the
run, in arrival order), a message cut short, and a chosen message of a
replication stream corrupted (a pgoutput message inside XLogData, a binlog
event).

Test infrastructure for the drivers (sources/); standard library only,
loopback only, no TLS (the proxy answers a PostgreSQL SSLRequest or
GSSENCRequest with 'N' itself, and clears the SSL capability in a MariaDB
server's handshake so the client does not ask for TLS).

  wireproxy.py --proto pg|mysql --upstream HOST:PORT [--listen-port 0]
               [--cut-server N] [--cut-client N] [--partial] [--error-server N]
               [--corrupt K:trunc:BYTES | K:byte:OFFSET:VALUE]
               [--stats FILE] [--trace FILE] [--control FILE]
               [--max-seconds 300]

Framing: PostgreSQL - an untyped startup packet (4-byte length), then
messages of a 1-byte type and a 4-byte big-endian length that includes
itself; MariaDB - packets of a 3-byte little-endian length and a 1-byte
sequence number.

--cut-server N: when the N-th server message (over all connections) arrives,
the proxy closes both sides of that connection without forwarding it (with
--partial it first forwards the first half of it, so the client reads a
message cut short). --cut-client N: the same for the N-th client message.
After the cut every later connection is relayed unchanged (a driver that
reconnects gets through).

--error-server N (PostgreSQL): a statement that fails on a live connection:
the N-th server message is replaced by an ErrorResponse (SQLSTATE XX000,
"wireproxy: injected error") and the messages after it up to the next
ReadyForQuery are dropped, as the server does after an error until the
client's Sync; the connection stays usable.

--corrupt K:...: the K-th replication message of the run is changed before
it is forwarded; the framing stays valid. For PostgreSQL a replication
message is a CopyData ('d') holding XLogData ('w'); OFFSET counts from the
first byte of the pgoutput message (its type). For MariaDB it is a packet
the server sends after the client's COM_BINLOG_DUMP, whose payload is 0x00
then the binlog event; OFFSET counts from the event's first byte (so 4 is
the event type). `trunc:B` drops the last B bytes of the message (the
lengths are fixed up), `byte:OFFSET:VALUE` sets one byte.

With --control FILE, SIGHUP starts a new run without a new process: the
proxy reads the fault options (--cut-server, --cut-client, --partial,
--error-server, --corrupt; others absent) from FILE, sets every count to 0, adds 1 to
`generation` and writes --stats (a test waits for that generation). The
connections still open keep relaying.

When ready it prints `PROXY PORT` on stdout. On exit (SIGTERM, SIGINT,
--max-seconds) it writes its counts to --stats as `key=value` lines:
connections, server_messages, client_messages, replication_messages, cut,
corrupted, errors. --trace FILE gets one line per message: `server|client N KIND`
(PostgreSQL: the type byte; MariaDB: ok, err, eof, data or fe with the
packet's sequence number, 2 for any later one), from which a test picks the
messages where the conversation changes step.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time

PG_SSL_REQUEST = 80877103
PG_GSS_REQUEST = 80877104
MY_CLIENT_SSL = 0x0800
MY_COM_BINLOG_DUMP = 0x12
_fields = b"SERROR\0VERROR\0CXX000\0Mwireproxy: injected error\0\0"
PG_ERROR = b"E" + struct.pack("!I", 4 + len(_fields)) + _fields

lock = threading.Lock()
write_lock = threading.Lock()
counts = {"connections": 0, "server_messages": 0, "client_messages": 0,
          "replication_messages": 0, "cut": 0, "corrupted": 0, "errors": 0,
          "generation": 0}
args = None
trace = None


class Conn:
    def __init__(self, client):
        self.client = client
        self.server = socket.create_connection(args.upstream, timeout=None)
        self.dead = False
        self.in_dump = False  # MariaDB: the client sent COM_BINLOG_DUMP
        self.first_server = True
        self.answered = 0  # PostgreSQL: SSL/GSS requests the proxy answered
        self.fail_here = False  # the message counted last gets --error-server
        self.swallow = False  # dropping messages up to ReadyForQuery

    def kill(self):
        with lock:
            if self.dead:
                return
            self.dead = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    # the framed messages SOCK sends, one at a time, and None each time no
    # complete message is left before the next read (time to flush what was
    # gathered); read in large chunks: a run relays thousands of messages
    def messages(self, sock, proto_pg, typed_from):
        buf = b""
        n = 0  # messages so far (PostgreSQL: the first ones are untyped)
        while True:
            while True:
                if proto_pg:
                    typed = n >= typed_from()
                    h = 5 if typed else 4
                    if len(buf) < h:
                        break
                    size = struct.unpack("!I", buf[h - 4:h])[0] + (1 if typed else 0)
                    size = max(size, h)
                else:
                    if len(buf) < 4:
                        break
                    size = 4 + (buf[0] | buf[1] << 8 | buf[2] << 16)
                if len(buf) < size:
                    break
                msg, buf = buf[:size], buf[size:]
                n += 1
                yield msg
            yield None
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf += chunk

    def count(self, side, msg=b""):
        """the message's number over the run, and whether it is the cut one"""
        with lock:
            key = side + "_messages"
            counts[key] += 1
            k = counts[key]
            if trace is not None:
                trace.append("%s %d %s\n" % (side, k, kind_of(msg)))
            limit = args.cut_server if side == "server" else args.cut_client
            cut = limit is not None and k == limit
            if cut:
                counts["cut"] += 1
            if side == "server":
                self.fail_here = args.error_server == k
            return cut

    def cut(self, dst, msg):
        if args.partial and len(msg) > 1:
            try:
                dst.sendall(msg[:max(1, len(msg) // 2)])
            except OSError:
                pass
        self.kill()

    def corrupt(self, msg, start, fix_len):
        """MSG with the replication payload from START corrupted; FIX_LEN(msg, delta)"""
        with lock:
            counts["replication_messages"] += 1
            k = counts["replication_messages"]
        if args.corrupt is None or k != args.corrupt[0]:
            return msg
        kind = args.corrupt[1]
        with lock:
            counts["corrupted"] += 1
        if kind == "trunc":
            b = min(args.corrupt[2], len(msg) - start)
            return fix_len(msg[:len(msg) - b], -b)
        off, val = args.corrupt[2], args.corrupt[3]
        if start + off < len(msg):
            msg = msg[:start + off] + bytes([val]) + msg[start + off + 1:]
        return msg

    def pump_client(self):  # client -> server
        self.untyped = 1  # PostgreSQL: the startup packet(s) have no type
        out = []
        try:
            for msg in self.messages(self.client, args.proto == "pg", lambda: self.untyped):
                if msg is None:  # nothing more buffered: flush before reading
                    self.server.sendall(b"".join(out))
                    out = []
                    continue
                if args.proto == "pg" and self.untyped == 1 + self.answered and len(msg) == 8 \
                        and struct.unpack("!I", msg[4:8])[0] in (PG_SSL_REQUEST, PG_GSS_REQUEST):
                    self.answered += 1
                    self.untyped += 1  # the real startup packet follows
                    self.client.sendall(b"N")
                    continue
                if args.proto == "mysql" and len(msg) > 4 and msg[4] == MY_COM_BINLOG_DUMP \
                        and msg[3] == 0:
                    self.in_dump = True
                if self.count("client", msg):
                    self.server.sendall(b"".join(out))
                    return self.cut(self.server, msg)
                out.append(msg)
        except OSError:
            return
        finally:
            self.kill()

    def pump_server(self):  # server -> client
        out = []
        try:
            for msg in self.messages(self.server, args.proto == "pg", lambda: 0):
                if msg is None:  # nothing more buffered: flush before reading
                    self.client.sendall(b"".join(out))
                    out = []
                    continue
                if self.count("server", msg):
                    self.client.sendall(b"".join(out))
                    return self.cut(self.client, msg)
                if args.proto == "pg" and (self.fail_here or self.swallow):
                    # an injected statement error: ErrorResponse instead of
                    # this message, the rest up to ReadyForQuery dropped
                    if self.fail_here:
                        with lock:
                            counts["errors"] += 1
                        out.append(PG_ERROR)
                        self.swallow = True
                    if msg[0:1] != b"Z":
                        continue
                    self.swallow = False
                if args.proto == "pg":
                    if msg[0:1] == b"d" and len(msg) > 5 + 25 and msg[5:6] == b"w":
                        msg = self.corrupt(msg, 5 + 25, pg_fix_len)
                else:
                    if self.first_server and len(msg) > 5 and msg[4] == 10:
                        msg = my_clear_ssl(msg)
                    elif self.in_dump and len(msg) > 5 and msg[4] == 0:
                        msg = self.corrupt(msg, 5, my_fix_len)
                    self.first_server = False
                out.append(msg)
                if len(out) > 256:
                    self.client.sendall(b"".join(out))
                    out = []
        except OSError:
            return
        finally:
            if out and not self.dead:
                try:
                    self.client.sendall(b"".join(out))
                except OSError:
                    pass
            self.kill()


def kind_of(msg):
    """a message's kind for --trace: PostgreSQL its type byte; MariaDB the
    class of its first payload byte (OK, ERR, EOF, a row or column count)
    with the packet's sequence number (2 for any later one); a packet of
    sequence 0 (a client's command, the greeting) by that first byte, a
    binlog event (0x00 then an event whose size is the packet's) by its type"""
    if args.proto == "pg":
        return chr(msg[0]) if 32 < msg[0] < 127 and len(msg) >= 5 and msg[0] != 0 else "startup"
    if len(msg) < 5:
        return "empty"
    b = msg[4]
    if b == 0 and len(msg) >= 24 and msg[3] > 0 and len(msg) - 5 == struct.unpack("<I", msg[14:18])[0]:
        return "event%02x" % msg[9]  # a binlog event: its type
    if msg[3] == 0:  # a client's command, the server's greeting
        return "c%02x" % b
    cls = {0x00: "ok", 0xff: "err", 0xfe: "eof" if len(msg) < 13 else "fe"}.get(b, "data")
    return "%s%d" % (cls, min(msg[3], 2))


def pg_fix_len(msg, delta):
    (n,) = struct.unpack("!I", msg[1:5])
    return msg[0:1] + struct.pack("!I", n + delta) + msg[5:]


def my_fix_len(msg, delta):
    n = len(msg) - 4
    return bytes([n & 0xff, n >> 8 & 0xff, n >> 16 & 0xff]) + msg[3:]


def my_clear_ssl(msg):
    """the handshake packet without the server's CLIENT_SSL capability"""
    try:
        end = msg.index(b"\0", 5)
    except ValueError:
        return msg
    at = end + 1 + 4 + 8 + 1  # connection id, auth data part 1, filler
    if at + 2 > len(msg):
        return msg
    caps = struct.unpack("<H", msg[at:at + 2])[0] & ~MY_CLIENT_SSL
    return msg[:at] + struct.pack("<H", caps) + msg[at + 2:]


def write_stats():
    """the trace and the counts, each written whole (a file and rename) and
    one writer at a time: a connection ending while SIGTERM arrives"""
    with write_lock:
        with lock:
            text = "".join(trace) if trace is not None else None
            stats = "".join("%s=%d\n" % kv for kv in counts.items())
        for path, data in ((args.trace, text), (args.stats, stats)):
            if path and data is not None:
                with open(path + ".tmp", "w") as f:
                    f.write(data)
                os.replace(path + ".tmp", path)


def serve(client):
    try:
        c = Conn(client)
    except OSError:
        client.close()
        return
    with lock:
        counts["connections"] += 1
    t = threading.Thread(target=c.pump_server, daemon=True)
    t.start()
    c.pump_client()
    t.join()
    write_stats()


def corrupt_spec(text):
    p = text.split(":")
    try:
        if len(p) == 3 and p[1] == "trunc":
            return (int(p[0]), "trunc", int(p[2]))
        if len(p) == 4 and p[1] == "byte":
            return (int(p[0]), "byte", int(p[2]), int(p[3], 0) & 0xff)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError("--corrupt K:trunc:BYTES or K:byte:OFFSET:VALUE")


def main():
    global args
    faults = argparse.ArgumentParser(add_help=False)
    faults.add_argument("--cut-server", type=int)
    faults.add_argument("--cut-client", type=int)
    faults.add_argument("--partial", action="store_true")
    faults.add_argument("--error-server", type=int)
    faults.add_argument("--corrupt", type=corrupt_spec)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], parents=[faults])
    ap.add_argument("--proto", choices=("pg", "mysql"), required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--stats")
    ap.add_argument("--trace")
    ap.add_argument("--control")
    ap.add_argument("--max-seconds", type=float, default=300)
    args = ap.parse_args()
    global trace
    trace = [] if args.trace else None
    host, _, port = args.upstream.rpartition(":")
    args.upstream = (host or "127.0.0.1", int(port))

    def stop(*_):
        write_stats()
        sys.stdout.flush()
        os._exit(0)

    def reload(*_):
        """SIGHUP: a new run - the faults from --control, the counts reset"""
        with open(args.control) as f:
            new = faults.parse_args(f.read().split())
        with lock:
            for k in ("cut_server", "cut_client", "partial", "corrupt", "error_server"):
                setattr(args, k, getattr(new, k))
            for k in counts:
                counts[k] = 0
            counts["generation"] = gen[0] = gen[0] + 1
            if trace is not None:
                trace.clear()
        write_stats()

    gen = [0]
    if args.control:
        signal.signal(signal.SIGHUP, reload)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.listen_port))
    ls.listen(64)
    ls.settimeout(0.5)
    print("PROXY %d" % ls.getsockname()[1], flush=True)
    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline:
        try:
            client, _ = ls.accept()
        except socket.timeout:
            continue
        client.settimeout(None)
        threading.Thread(target=serve, args=(client,), daemon=True).start()
    stop()


if __name__ == "__main__":
    main()
