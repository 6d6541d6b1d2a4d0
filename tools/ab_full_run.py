#!/usr/bin/env python3
"""Full runs of the demo, each on a new store after `sync` and a second's rest,
the builds given shuffled in each round; prints each run, then per build the
median and least wall time and Task 1's.

    CSV=data.csv python3 tools/ab_full_run.py ROUNDS BIN [BIN...]

CSV defaults to ~/.cache/compare-data/customers_messy_10000000.csv. A BIN may
be a script that adds arguments (`exec customer-analysis "$@" --frame-memory 0`).
"""
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def full_run(binary, csv):
    """Wall milliseconds of one full run on a new store, and its jobs' milliseconds."""
    store = tempfile.mkdtemp(prefix="ab-store-")
    try:
        subprocess.run(["sync"], check=True)
        time.sleep(1)
        start = time.perf_counter()
        out = subprocess.run(
            [binary, "run", "--store", store, "--data", csv, "--json"],
            capture_output=True, text=True, check=True,
        ).stdout
        wall = (time.perf_counter() - start) * 1000
    finally:
        shutil.rmtree(store)
    return wall, [round(job["seconds"] * 1000) for job in json.loads(out)["jobs"]]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds, binaries = int(sys.argv[1]), sys.argv[2:]
    default = "~/.cache/compare-data/customers_messy_10000000.csv"
    csv = os.path.expanduser(os.environ.get("CSV", default))
    runs = {binary: [] for binary in binaries}
    for _ in range(rounds):
        for binary in random.sample(binaries, len(binaries)):
            wall, jobs = full_run(binary, csv)
            runs[binary].append((wall, jobs))
            print(f"{os.path.basename(binary):20s} {wall:6.0f} ms {jobs}", flush=True)
    for binary, results in runs.items():
        walls = [wall for wall, _ in results]
        task1 = [jobs[0] for _, jobs in results]
        print(f"{binary:30s} wall median {statistics.median(walls):6.0f} min {min(walls):6.0f}"
              f"   task 1 median {statistics.median(task1):5.0f} min {min(task1)}")


if __name__ == "__main__":
    main()
