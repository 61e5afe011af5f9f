#!/usr/bin/env python3
"""follow_latency.py - commit-to-acknowledged latency of `sql2es sync --follow`.

Run by bench/follow.sh while sql2es follows the table bench_follow. One psql
session commits single-row UPDATEs at RATE per second for SECONDS, noting
after each commit the time and pg_current_wal_insert_lsn() (at or past the
commit's end); another polls the slot's confirmed_flush_lsn every 2 ms. A
commit's latency is the time from its commit until the first poll that
shows the slot confirmed a position at or past it: sql2es confirms a
position only after the search node acknowledged every document before it.
Prints the achieved rate, p50, p99 and max in milliseconds.
Usage: follow_latency.py SLOT RATE SECONDS ROWS. Standard library only.
"""
import bisect
import random
import subprocess
import sys
import threading
import time


def lsn(t):
    hi, lo = t.strip().split("/")
    return int(hi, 16) << 32 | int(lo, 16)


def session():
    return subprocess.Popen(["psql", "-XAtq"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)


def main():
    slot, rate, seconds, rows = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    polls = []  # (time, confirmed lsn)
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

    th = threading.Thread(target=poller)
    th.start()
    w = session()
    rnd = random.Random(11)
    commits = []  # (time, lsn at or past the commit)
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < seconds:
        due = t0 + n / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        w.stdin.write(f"UPDATE bench_follow SET v = v + 1 WHERE id = {rnd.randint(1, rows)}; "
                      "SELECT pg_current_wal_insert_lsn();\n")
        w.stdin.flush()
        v = w.stdout.readline()
        commits.append((time.monotonic(), lsn(v)))
        n += 1
    elapsed = time.monotonic() - t0
    # wait until the last commit is confirmed (at most 60 s)
    end = time.monotonic() + 60
    while time.monotonic() < end and (not polls or polls[-1][1] < commits[-1][1]):
        time.sleep(0.05)
    done.set()
    th.join()
    w.stdin.close()
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
    if not lat:
        print("no commit was confirmed")
        sys.exit(1)
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print(f"commits {len(commits)} in {elapsed:.1f} s ({len(commits) / elapsed:.0f}/s), "
          f"confirmed {len(lat)}; latency ms: p50 {pct(0.50):.0f}, p99 {pct(0.99):.0f}, "
          f"max {lat[-1]:.0f}")


if __name__ == "__main__":
    main()
