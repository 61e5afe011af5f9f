#!/usr/bin/env python3
"""kill_reader.py OUT BYTES CMD... - reads a dry run's output from stdin into OUT; once
BYTES bytes have arrived, stops reading (the writer blocks on the full pipe, mid-stream),
runs CMD (which kills the writer's database connection), waits a moment, then reads the
rest. Prints "killed: <CMD exit code>" on stderr. Standard library only."""
import subprocess
import sys
import time


def main():
    out_path, limit, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    got, killed = 0, False
    src = sys.stdin.buffer
    with open(out_path, "wb") as out:
        while True:
            chunk = src.read1(65536) if hasattr(src, "read1") else src.read(65536)
            if not chunk:
                break
            out.write(chunk)
            got += len(chunk)
            if not killed and got >= limit:
                killed = True
                time.sleep(0.3)  # let the writer block on the pipe
                rc = subprocess.call(cmd)
                sys.stderr.write("killed: %d\n" % rc)
                time.sleep(0.3)
    if not killed:
        sys.stderr.write("killed: never (only %d bytes)\n" % got)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
