#!/usr/bin/env python3
"""follow_latency.py - commit-to-acknowledged latency of a change follower.

Run by bench/follow.sh while a follower (sql2es sync --follow, or PGSync in
its daemon mode) follows the table bench_follow (rows 1..ROWS, plus row 0
for the probe). WRITERS psql sessions (synchronous_commit on) together
commit RATE changes per second for SECONDS, each transaction updating PER
distinct random rows, and note after each commit the time and
pg_current_wal_insert_lsn() (at or past the commit's end).

Two measures:
- acknowledged (SLOT given, not "-"): another session polls the slot's
  confirmed_flush_lsn every 2 ms; a commit's latency is the time from its
  commit until the first poll showing the slot confirmed a position at or
  past it. sql2es confirms a position only after the search node
  acknowledged every document before it. PGSync's slot does not say that,
  so it is measured with the probe only.
- visible (PROBE_URL and PROBE_FIELD in the environment): every 100 ms a
  separate session commits `UPDATE bench_follow SET v = k WHERE id = 0`
  (k = 1, 2, ...) and a poller GETs that document (a realtime GET: it sees
  what the node acknowledged, with no refresh) every 5 ms; a probe's latency
  is the time from its commit until the first GET showing v >= k.
Prints the achieved rate, p50, p99 and max in milliseconds.
Usage: follow_latency.py SLOT RATE SECONDS ROWS [PER [WRITERS]].
Standard library only.
"""
import bisect
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request


def lsn(t):
    hi, lo = t.strip().split("/")
    return int(hi, 16) << 32 | int(lo, 16)


def session():
    return subprocess.Popen(["psql", "-XAtq"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)


def pct(lat, q):
    return lat[min(len(lat) - 1, int(q * len(lat)))]


def main():
    slot, rate, seconds, rows = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    per = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    nwriters = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    probe_url, probe_field = os.environ.get("PROBE_URL"), os.environ.get("PROBE_FIELD")
    polls = []  # (time, confirmed lsn)
    seen = []   # (time, probe value)
    done = threading.Event()

    def poller():
        p = session()
        q = f"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{slot}';\n"
        while not done.is_set():
            p.stdin.write(q)
            p.stdin.flush()
            v = p.stdout.readline()
            polls.append((time.monotonic(), lsn(v)))
            time.sleep(0.002)
        p.stdin.close()

    def prober():
        while not done.is_set():
            v = 0
            try:
                with urllib.request.urlopen(probe_url, timeout=10) as r:
                    v = int(json.load(r).get("_source", {}).get(probe_field) or 0)
            except Exception:
                pass
            seen.append((time.monotonic(), v))
            time.sleep(0.005)

    readers = []
    if slot != "-":
        readers.append(threading.Thread(target=poller))
    if probe_url:
        readers.append(threading.Thread(target=prober))
    for t in readers:
        t.start()
    commits = []  # (time, lsn at or past the commit), all writers
    probes = []   # (time, k)
    lock = threading.Lock()
    t0 = time.monotonic()

    def writer(k):
        w = session()
        w.stdin.write("SET synchronous_commit = on;\n")
        rnd = random.Random(11 + k)
        tx_rate = rate / per / nwriters  # this writer's transactions per second
        mine = []
        n = 0
        while time.monotonic() - t0 < seconds:
            due = t0 + (n + k / nwriters) / tx_rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            ids = ",".join(str(i) for i in rnd.sample(range(1, rows + 1), per))
            w.stdin.write(f"UPDATE bench_follow SET v = v + 1 WHERE id IN ({ids}); "
                          "SELECT pg_current_wal_insert_lsn();\n")
            w.stdin.flush()
            v = w.stdout.readline()
            mine.append((time.monotonic(), lsn(v)))
            n += 1
        w.stdin.close()
        with lock:
            commits.extend(mine)

    def probe_writer():
        w = session()
        w.stdin.write("SET synchronous_commit = on; SELECT v FROM bench_follow WHERE id = 0;\n")
        w.stdin.flush()
        k = int(w.stdout.readline())  # probes set v above what the row holds
        while time.monotonic() - t0 < seconds:
            k += 1
            w.stdin.write(f"UPDATE bench_follow SET v = {k} WHERE id = 0; SELECT 1;\n")
            w.stdin.flush()
            w.stdout.readline()
            probes.append((time.monotonic(), k))
            time.sleep(0.1)
        w.stdin.close()

    ws = [threading.Thread(target=writer, args=(k,)) for k in range(nwriters)]
    if probe_url:
        ws.append(threading.Thread(target=probe_writer))
    for t in ws:
        t.start()
    for t in ws:
        t.join()
    elapsed = time.monotonic() - t0
    commits.sort()
    last = max(c[1] for c in commits)
    # wait until the last commit is confirmed / the last probe seen (at most 120 s)
    end = time.monotonic() + 120
    while time.monotonic() < end and (
            (slot != "-" and (not polls or polls[-1][1] < last)) or
            (probe_url and probes and (not seen or seen[-1][1] < probes[-1][1]))):
        time.sleep(0.05)
    drained = time.monotonic() - t0 - elapsed
    done.set()
    for t in readers:
        t.join()
    out = [f"{len(commits) * per / elapsed:.0f} changes/s achieved ({len(commits) * per} in "
           f"{elapsed:.1f} s), caught up {drained:.1f} s after the writers stopped"]
    if slot != "-":
        # first poll at or after the commit time showing confirmed >= its lsn
        lat = []
        ptimes = [p[0] for p in polls]
        for ct, cl in commits:
            i = bisect.bisect_left(ptimes, ct)
            while i < len(polls) and polls[i][1] < cl:
                i += 1
            if i < len(polls):
                lat.append((polls[i][0] - ct) * 1000)
        lat.sort()
        if lat:
            out.append(f"acknowledged p50 {pct(lat, 0.5):.0f} ms, p99 {pct(lat, 0.99):.0f} ms, "
                       f"max {lat[-1]:.0f} ms ({len(lat)} of {len(commits)} commits)")
        else:
            out.append("no commit was acknowledged")
    if probe_url:
        lat = []
        stimes = [s[0] for s in seen]
        for pt, k in probes:
            i = bisect.bisect_left(stimes, pt)
            while i < len(seen) and seen[i][1] < k:
                i += 1
            if i < len(seen):
                lat.append((seen[i][0] - pt) * 1000)
        lat.sort()
        if lat:
            out.append(f"visible p50 {pct(lat, 0.5):.0f} ms, p99 {pct(lat, 0.99):.0f} ms, "
                       f"max {lat[-1]:.0f} ms ({len(lat)} of {len(probes)} probes)")
        else:
            out.append("no probe became visible")
    print("; ".join(out))


if __name__ == "__main__":
    main()
