#!/usr/bin/env python3
"""Times writing a new file of 320 MiB (the 10M-row demo's scored frame) in
calls of several sizes, each size several times, alternating, and prints the
median and range per size. Shows whether this machine's page cache takes
large writes much more slowly than small ones (see `pipeline-core`'s
`write_pieces` and BENCHMARKS.md).

    python3 tools/write_sizes.py [--rounds 5] [--dir /tmp]
"""
import argparse
import os
import statistics
import tempfile
import time

SIZES = [64 << 10, 256 << 10, 1 << 20, 2 << 20, 4 << 20]
TOTAL = 320 << 20


def write_once(directory, size):
    data = os.urandom(size)
    fd, path = tempfile.mkstemp(dir=directory)
    try:
        start = time.perf_counter()
        for _ in range(TOTAL // size):
            os.write(fd, data)
        return (time.perf_counter() - start) * 1000
    finally:
        os.close(fd)
        os.unlink(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    times = {size: [] for size in SIZES}
    for _ in range(args.rounds):
        for size in SIZES:
            times[size].append(write_once(args.dir, size))
            time.sleep(0.5)
    for size in SIZES:
        t = times[size]
        print(f"{size >> 10:5d} KiB calls: median {statistics.median(t):6.0f} ms, "
              f"{min(t):.0f}-{max(t):.0f} ms over {len(t)}")


if __name__ == "__main__":
    main()
