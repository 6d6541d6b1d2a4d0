#!/usr/bin/env python3
"""Run the seed's section 6 with three implementations, check they agree, print a markdown table.

Implementations:
  ours        `customer-analysis run --json`, one new process per step, as a
              user runs it (Rust, this workspace; release binary): each step
              is timed as the whole process's wall time, from the outside
  ours-tour   `customer-analysis tour --json`: the same five steps in one
              process, each timed around `submit()` (the in-process number)
  taipy+dask  taipy_dask.py (the seed's stack: Taipy scenario management, Dask, pandas)
  polars      polars_pipeline.py (one plain Python polars script, lazy + streaming, no cache)

The Python implementations run as one process each; the driver times every
step inside the process (the submission only, as each reports it), the whole
process from the outside, and reads each process's peak RSS from os.wait4.
Results of every step (segment result and high-value summary) must agree
with ours within --rtol, or the driver exits with status 1 before printing
any timing.

Normally started by run.sh, which makes the venv and the CSV.
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = {
    "ours": "ours, new process per step",
    "ours-tour": "ours, in process (tour)",
    "taipy+dask": "Taipy + Dask",
    "polars": "polars script",
}
# The seed's section 6 as `run` arguments: one new process each, on one store.
PROCESS_STEPS = [
    ("full run", []),
    ("payment_threshold = 1600", ["--set", "payment_threshold=1600"]),
    ("metric = median", ["--set", "metric=median"]),
    ("summary_statistic_type = max", ["--set", "summary_statistic_type=max"]),
    ("unchanged re-submit", []),
]
SHORT = {"completed": "R", "recomputed": "R", "skipped": "S"}


def run_process(argv, stdout_path):
    """Runs argv to completion; returns (wall seconds, peak RSS in MiB)."""
    with open(stdout_path, "wb") as out, open(stdout_path + ".stderr", "wb") as err:
        clock = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - clock
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        with open(stdout_path + ".stderr", errors="replace") as err:
            tail = err.read()[-4000:]
        sys.exit(f"error: {' '.join(argv)} exited with {child.returncode}:\n{tail}")
    return wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def run_ours_per_process(args, work):
    """The five steps as five `run` processes on a fresh store: each step's
    seconds are its process's wall time, the RSS the largest of the five."""
    store = tempfile.mkdtemp(prefix="store-", dir=work)
    steps, total, peak = [], 0.0, 0.0
    for i, (label, extra) in enumerate(PROCESS_STEPS):
        out = os.path.join(work, f"ours-step{i + 1}.json")
        data = ["--data", args.csv] if i == 0 else []
        wall, rss = run_process([args.bin, "run", "--store", store, "--json", *data, *extra], out)
        with open(out) as f:
            report = json.load(f)
        steps.append(
            {
                "name": label,
                "seconds": wall,
                "jobs": report["jobs"],
                "segment_result": report["segment_result"],
                "high_value_summary": report["high_value_summary"],
                "rss": rss,
            }
        )
        total += wall
        peak = max(peak, rss)
    subprocess.run(["rm", "-rf", store], check=True)
    return {"report": {"steps": steps}, "wall": total, "rss": peak}


def run_one(name, args, work):
    out = os.path.join(work, f"{name}.json")
    if name == "ours":
        return run_ours_per_process(args, work)
    if name == "ours-tour":
        wall, rss = run_process([args.bin, "tour", "--json", "--data", args.csv], out)
    else:
        script = {"taipy+dask": "taipy_dask.py", "polars": "polars_pipeline.py"}[name]
        wall, rss = run_process(
            [sys.executable, os.path.join(HERE, script), "--data", args.csv, "--json", out],
            os.path.join(work, f"{name}.log"),
        )
    with open(out) as f:
        report = json.load(f)
    return {"report": report, "wall": wall, "rss": rss}


def close(a, b, rtol):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300) or a == b


def disagreements(ours, theirs, rtol):
    """Every difference between two reports' results, as readable lines."""
    problems = []
    if len(ours["steps"]) != len(theirs["steps"]):
        return [f"{len(ours['steps'])} steps vs {len(theirs['steps'])}"]
    for a, b in zip(ours["steps"], theirs["steps"]):
        step = a["name"]
        if a["name"] != b["name"]:
            problems.append(f"step names differ: {a['name']!r} vs {b['name']!r}")
        rows_a, rows_b = a["segment_result"], b["segment_result"]
        if [r["ValueSegment"] for r in rows_a] != [r["ValueSegment"] for r in rows_b]:
            problems.append(f"{step}: segments {rows_a} vs {rows_b}")
            continue
        for ra, rb in zip(rows_a, rows_b):
            if list(ra) != list(rb):
                problems.append(f"{step}: segment_result columns {list(ra)} vs {list(rb)}")
            for column in ra:
                if not close(ra[column], rb.get(column), rtol):
                    problems.append(
                        f"{step}: segment_result[{ra['ValueSegment']}].{column}: {ra[column]!r} vs {rb.get(column)!r}"
                    )
        sa, sb = a["high_value_summary"], b["high_value_summary"]
        if list(sa) != list(sb):
            problems.append(f"{step}: high_value_summary columns {list(sa)} vs {list(sb)}")
        for column in sa:
            if not close(sa[column], sb.get(column), rtol):
                problems.append(f"{step}: high_value_summary.{column}: {sa[column]!r} vs {sb.get(column)!r}")
    return problems


def merge(runs):
    """Several runs of one implementation: the fastest time of each step, the largest RSS."""
    first = runs[0]
    steps = []
    for i, step in enumerate(first["report"]["steps"]):
        steps.append(dict(step, seconds=min(r["report"]["steps"][i]["seconds"] for r in runs)))
    merged = {
        "report": dict(first["report"], steps=steps),
        "wall": min(r["wall"] for r in runs),
        "rss": max(r["rss"] for r in runs),
    }
    if "task1_seconds" in first["report"]:
        merged["report"]["task1_seconds"] = min(r["report"]["task1_seconds"] for r in runs)
    return merged


def ratio(theirs, ours):
    if ours <= 0:
        return "n/a"
    r = theirs / ours
    return f"{r:,.0f}×" if r >= 100 else f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def seconds(s):
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def table(results, names):
    others = [n for n in names if n != "ours"]
    header = ["step"] + [NAMES[n] for n in names] + [f"{NAMES[n]} / ours" for n in others]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    ours_steps = results["ours"]["report"]["steps"]
    for i, step in enumerate(ours_steps):
        cells = [f"{i + 1}. {step['name']}"]
        cells += [seconds(results[n]["report"]["steps"][i]["seconds"]) for n in names]
        cells += [ratio(results[n]["report"]["steps"][i]["seconds"], step["seconds"]) for n in others]
        lines.append("| " + " | ".join(cells) + " |")
    partial = {n: sum(s["seconds"] for s in results[n]["report"]["steps"][1:4]) for n in names}
    cells = ["steps 2-4 together"] + [seconds(partial[n]) for n in names]
    cells += [ratio(partial[n], partial["ours"]) for n in others]
    lines.append("| " + " | ".join(cells) + " |")
    totals = {n: sum(s["seconds"] for s in results[n]["report"]["steps"]) for n in names}
    cells = ["all five steps"] + [seconds(totals[n]) for n in names]
    cells += [ratio(totals[n], totals["ours"]) for n in others]
    lines.append("| " + " | ".join(cells) + " |")
    cells = ["whole process(es), wall (incl. start-up, imports)"] + [seconds(results[n]["wall"]) for n in names]
    cells += [ratio(results[n]["wall"], results["ours"]["wall"]) for n in others]
    lines.append("| " + " | ".join(cells) + " |")
    if "polars" in names:
        task1 = results["polars"]["report"]["task1_seconds"]
        cells = ["polars script, Task 1 alone"] + ["" for n in names if n != "polars"] + [seconds(task1)]
        cells += [ratio(task1, ours_steps[0]["seconds"]) if n == "polars" else "" for n in others]
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["peak RSS"] + [f"{results[n]['rss']:,.0f} MiB" for n in names]
    cells += [ratio(results[n]["rss"], results["ours"]["rss"]) for n in others]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def status_table(results, names):
    header = ["step"] + [NAMES[n] for n in names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, step in enumerate(results["ours"]["report"]["steps"]):
        cells = [f"{i + 1}. {step['name']}"]
        for n in names:
            jobs = results[n]["report"]["steps"][i]["jobs"]
            cells.append(" ".join(SHORT.get(j["status"], j["status"]) for j in jobs))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def warm_page_cache(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, help="the customer CSV")
    parser.add_argument("--bin", required=True, help="the release customer-analysis binary")
    parser.add_argument("--repeat", type=int, default=1, help="runs per implementation; fastest step times, largest RSS")
    parser.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance of the result check")
    parser.add_argument(
        "--only",
        action="append",
        choices=["ours-tour", "taipy+dask", "polars"],
        help="compare ours (new process per step) with this one only (repeatable)",
    )
    parser.add_argument("--keep", metavar="DIR", help="keep the reports and logs in DIR")
    parser.add_argument(
        "--ours-only", action="store_true", help="run ours (new process per step) alone, nothing to compare with"
    )
    args = parser.parse_args()
    args.csv = os.path.abspath(args.csv)
    names = ["ours"] + ([] if args.ours_only else (args.only or ["ours-tour", "taipy+dask", "polars"]))

    work = args.keep or tempfile.mkdtemp(prefix="compare-")
    os.makedirs(work, exist_ok=True)
    warm_page_cache(args.csv)
    results = {}
    for name in names:
        runs = []
        for k in range(args.repeat):
            print(f"running {NAMES[name]} ({k + 1}/{args.repeat}) ...", file=sys.stderr, flush=True)
            runs.append(run_one(name, args, work))
        results[name] = merge(runs)

    failed = False
    for name in names[1:]:
        problems = disagreements(results["ours"]["report"], results[name]["report"], args.rtol)
        if problems:
            failed = True
            print(f"RESULTS DISAGREE: ours vs {NAMES[name]} (rtol {args.rtol}):", file=sys.stderr)
            for line in problems[:50]:
                print("  " + line, file=sys.stderr)
    if failed:
        print(f"reports kept in {work}", file=sys.stderr)
        sys.exit(1)

    size = os.path.getsize(args.csv)
    with open(args.csv, "rb") as f:
        rows = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b"")) - 1
    versions = {}
    for name in names[1:]:
        versions.update(results[name]["report"].get("versions", {}))
    print(
        f"## customer-analysis, seed section 6: {rows:,} rows, {size / 1e6:,.1f} MB CSV\n\n"
        f"{platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; best of {args.repeat} run(s) per step; every step's results agree within rtol {args.rtol}.\n"
    )
    print(table(results, names))
    print("\nTasks per step (score, segment, analyse, summary; R = ran, S = skipped):\n")
    print(status_table(results, names))
    print(
        "\nOurs (first column): each step is a new `customer-analysis run` process on one store, timed as the"
        " whole process's wall time (start-up, store, submission, results read back and printed)."
        " The other columns time the submission only, inside one process (for ours in process and Taipy,"
        " scenario.submit(); for the polars script, building and collecting the query); their ratios are"
        " against our whole-process times. The polars script has no scenario manager:"
        " every step re-reads the CSV and recomputes all four tasks."
    )
    if "ours" in names:
        per_step = ", ".join(f"{s['rss']:,.0f}" for s in results["ours"]["report"]["steps"])
        print(f"\nPeak RSS of our five processes: {per_step} MiB.")
    if args.keep is None:
        for entry in os.listdir(work):
            os.remove(os.path.join(work, entry))
        os.rmdir(work)


if __name__ == "__main__":
    main()
